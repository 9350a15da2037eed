#!/usr/bin/env bash
# Build and run the libFuzzer targets (tests/fuzz/fuzz-snapshot.c) with
# clang -fsanitize=fuzzer,address,undefined, straight from the sources.
#
#   tests/fuzz/run.sh build            build both targets into $FUZZ_DIR
#   tests/fuzz/run.sh smoke [SECONDS]  each target for SECONDS (default 30) from
#                                      the seed corpus; fails on any crash, leak,
#                                      timeout or oversized allocation
#   tests/fuzz/run.sh long [RUNS] [SECONDS]
#                                      long run: RUNS executions per target
#                                      (default 5000000; -1 for no limit), at
#                                      most SECONDS each if given, inputs up
#                                      to 1 MiB, corpus kept in
#                                      $FUZZ_DIR/corpus-*, one job, crash files
#                                      in $FUZZ_DIR/crash-*
#   tests/fuzz/run.sh repro FILE...    run crash inputs through both targets
#
# FUZZ_DIR defaults to build-fuzz/; FUZZ_TARGETS (default: both) picks the
# targets smoke and long run. Seeds (tests/corrupt/make-corpus.py):
# fixtures/fuzz-seeds/file (small valid and corrupt snapshots, for
# fuzz-reader), fixtures/fuzz-seeds/body (their chunk streams, for
# fuzz-analyze) and fixtures/fuzz-seeds/regress (inputs that once crashed).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${FUZZ_DIR:-$root/build-fuzz}
CLANG=${CLANG:-clang}
mkdir -p "$out"
targets=${FUZZ_TARGETS:-fuzz-reader fuzz-analyze}

# libFuzzer flags shared by every run: inputs up to 64 KiB (long runs: 1
# MiB), 10 s per input is a hang. The targets run under a memory budget
# (FUZZ_BUDGET_MB in fuzz-snapshot.c: 64 MiB for fuzz-reader, 8 MiB for
# fuzz-analyze), and a 64 KiB input can claim
# gigabytes (zstd RLE blocks inflate 32768:1, and counts cost nothing), so
# memory is watched just above the budget: no single allocation above 128
# MiB (arrays that double may reserve up to twice what is charged), and no
# more than 512 MiB resident (the budget, ASan's shadow, a 32 MiB
# quarantine and the fuzzer's own corpus). An input that gets past either
# allocated beyond its budget: a bug.
common=(-max_len=65536 -timeout=10 -malloc_limit_mb=128 -rss_limit_mb=512
        -print_final_stats=1)

build() {
    local srcs flags
    # the report page's assets, generated as the meson build does
    python3 src/render/report/embed.py src/render/report/report.html \
        src/render/report/report.css src/render/report/report.js "$out/report-assets.c"
    srcs=$(ls src/format/*.c src/util/*.c src/graph/*.c src/analysis/*.c \
              src/analysis/checks/*.c src/render/*.c "$out/report-assets.c")
    flags=(-std=c11 -g -O1 -D_GNU_SOURCE -DASNAP_VERSION_STRING='"fuzz"'
           -Iinclude -Isrc -Wall -Wextra -Wno-unused-parameter
           -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
           $(pkg-config --cflags libzstd libcjson))
    local libs
    libs=$(pkg-config --libs libzstd libcjson)
    "$CLANG" "${flags[@]}" -o "$out/fuzz-reader" tests/fuzz/fuzz-snapshot.c $srcs $libs -lm
    # fuzz-analyze's inputs are chunk streams, which must be large to claim
    # much (six bytes an object): a budget of 8 MiB, which a 1 MiB input can
    # pass, so that the long run reaches its refusals too
    "$CLANG" "${flags[@]}" -DFUZZ_BODY -DFUZZ_BUDGET_MB=8 -o "$out/fuzz-analyze" \
        tests/fuzz/fuzz-snapshot.c $srcs $libs -lm
}

seeds() {  # seeds TARGET: the seed directories of a target
    if [ "$1" = fuzz-analyze ]; then
        echo fixtures/fuzz-seeds/body fixtures/fuzz-seeds/regress
    else
        echo fixtures/fuzz-seeds/file
    fi
}

run() {  # run TARGET CORPUS-DIR [libFuzzer flags...]
    local t=$1 corpus=$2; shift 2
    mkdir -p "$corpus"
    (cd "$out" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=32 \
        "./$t" "${common[@]}" -artifact_prefix="$out/crash-$t-" "$@" \
        "$corpus" $(for d in $(seeds "$t"); do echo "$root/$d"; done))
}

case ${1:-smoke} in
build)
    build ;;
smoke)
    secs=${2:-30}
    build
    for t in $targets; do
        echo "== $t: ${secs}s"
        c=$(mktemp -d)
        run "$t" "$c" -max_total_time="$secs" -jobs=1 -workers=1 2>"$out/$t-smoke.log" ||
            { tail -50 "$out/$t-smoke.log"; rm -rf "$c"; exit 1; }
        grep -h 'stat::number_of_executed_units' "$out/$t-smoke.log" || true
        rm -rf "$c"
    done ;;
long)
    runs=${2:-5000000}
    limit=()
    [ -n "${3:-}" ] && limit=(-max_total_time="$3")
    build
    for t in $targets; do
        echo "== $t: $runs runs${3:+, at most ${3}s} (log $out/$t-long.log)"
        run "$t" "$out/corpus-$t" -runs="$runs" "${limit[@]}" -max_len=1048576 \
            2>"$out/$t-long.log" ||
            { tail -50 "$out/$t-long.log"; exit 1; }
        grep -h 'stat::number_of_executed_units' "$out/$t-long.log" || true
    done ;;
repro)
    shift
    build
    for t in fuzz-reader fuzz-analyze; do (cd "$out" && "./$t" "${common[@]}" "$@"); done ;;
*)
    echo "usage: tests/fuzz/run.sh build|smoke [SECONDS]|long [RUNS]|repro FILE..." >&2
    exit 2 ;;
esac
