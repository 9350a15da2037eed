#!/usr/bin/env bash
# Benchmark: the analyzer's commands on real snapshots of about OBJECTS
# objects (default 10,000,000), three taken by the agent from an asyncio
# program that leaks between them (bench/leaks_heap.py --snapshots 3):
# `info`, `dominators` and `tasks` on the last, `leaks` and `report` on all
# three. Each command runs RUNS times (default 3), interleaved with the same
# command of a baseline build when one is given; prints the median wall time
# and peak RSS, and the peak in bytes per object of one snapshot.
#
#   bash bench/analyzer.sh BUILDDIR [BASELINE_BUILDDIR] [OBJECTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: bench/analyzer.sh BUILDDIR [BASELINE_BUILDDIR] [OBJECTS] [RUNS]}
baseline=${2:-}
objects=${3:-10000000}
runs=${4:-3}
for b in $build $baseline; do
    [ -x "$b/src/cli/asyncsnap" ] || { echo "bench/analyzer.sh: build first: $b/src/cli/asyncsnap is missing" >&2; exit 2; }
done
[ -d "$build/snapshot-agent/asyncsnap" ] || { echo "bench/analyzer.sh: the agent is not built in $build" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mapfile -t snaps < <(PYTHONPATH="$build/snapshot-agent" python3 bench/leaks_heap.py "$dir" \
                     --objects "$objects" --snapshots 3)
last=${snaps[2]}
n=$("$build/src/cli/asyncsnap" info --json "$last" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["objects"], d["edges"])')
read -r nobj nedge <<< "$n"
echo "snapshots: 3 of about $nobj objects, $nedge references (the last: $(stat -c %s "$last") bytes)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
run() {  # build label args... -> "seconds kib"
    local b=$1; shift
    set +e
    /usr/bin/time -o "$dir/time.txt" -f "%e %M" "$b/src/cli/asyncsnap" "$@" > /dev/null 2> "$dir/err.txt"
    local status=$?
    set -e
    if [ "$status" -gt 1 ]; then
        echo "bench/analyzer.sh: $b: asyncsnap $* exited $status" >&2
        cat "$dir/err.txt" >&2
        exit 1
    fi
    tail -1 "$dir/time.txt"
}
median() {  # "s kib" lines -> "s kib" of the median time
    sort -n | awk -v n="$1" '{ t[NR] = $1; m[NR] = $2 } END { i = int((n + 1) / 2); print t[i], m[i] }'
}
printf '%-24s %-28s %s\n' command "$build" "${baseline:-}"
for cmd in info dominators tasks leaks report; do
    case $cmd in
        leaks) args=(leaks "${snaps[@]}") ;;
        report) args=(report -o "$dir/page.html" "${snaps[@]}") ;;
        *) args=("$cmd" "$last") ;;
    esac
    : > "$dir/new.txt"; : > "$dir/base.txt"
    for _ in $(seq "$runs"); do
        [ -n "$baseline" ] && run "$baseline" "${args[@]}" >> "$dir/base.txt"
        run "$build" "${args[@]}" >> "$dir/new.txt"
    done
    line=""
    for f in new base; do
        [ "$f" = base ] && [ -z "$baseline" ] && continue
        read -r secs kib < <(median "$runs" < "$dir/$f.txt")
        line="$line$(printf '%6.2f s %6d MiB %4d B/obj    ' "$secs" $((kib / 1024)) $((kib * 1024 / nobj)))"
    done
    label=$cmd; [ "$cmd" = leaks ] || [ "$cmd" = report ] && label="$cmd (3 snapshots)"
    printf '%-24s %s\n' "$label" "$line"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
