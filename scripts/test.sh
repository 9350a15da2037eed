#!/usr/bin/env bash
# The whole test suite: C unit tests, analyzer end-to-end tests, the
# install tests (meson install, pip install; once, in build/), and the
# agent tests under every CPython 3.9-3.13 that pyenv provides and under
# Debian sid's 3.14 and 3.15 (in a debootstrap root, scripts/sid-root.sh).
#
#   bash scripts/test.sh
#
# Installs the Debian packages it needs, builds into build/ (and
# build-py/X.Y/ for the other interpreters), and exits non-zero if
# anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# The sid root's packages (CPython 3.14 and 3.15, at the end) downloaded
# while the other suites run, when the root is still to be made (a new
# machine: ~50 s of its ~2.5 min); nothing when it is there.
bash scripts/sid-root.sh fetch &
sid_fetch=$!

configure() {  # configure DIR [meson options...]
    local dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

status=0
elapsed() { printf '%dm%02ds' $((SECONDS / 60)) $((SECONDS % 60)); }

# memlab (npm), for the end-to-end test that loads the heapsnapshot export
# with it: installed once into a cache outside the tree when node and npm
# are there; without them (or the registry) that one test is skipped.
memlab_cache="${ASYNCSNAP_TEST_CACHE:-$HOME/.cache/asyncsnap-test}/memlab"
if [ -z "${ASYNCSNAP_MEMLAB_MODULES:-}" ] && command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d "$memlab_cache/node_modules/@memlab/heap-analysis" ]; then
        echo "== [$(elapsed)] installing @memlab/heap-analysis into $memlab_cache"
        mkdir -p "$memlab_cache"
        (cd "$memlab_cache" && PUPPETEER_SKIP_DOWNLOAD=1 timeout 300 npm install --no-audit \
            --no-fund --ignore-scripts @memlab/heap-analysis@2.0.5 >/dev/null 2>&1) ||
            echo "== [$(elapsed)] memlab could not be installed: its test will be skipped"
    fi
    if [ -d "$memlab_cache/node_modules/@memlab/heap-analysis" ]; then
        export ASYNCSNAP_MEMLAB_MODULES="$memlab_cache/node_modules"
    fi
fi

echo "== [$(elapsed)] build/ (default python3: $(python3 -c 'import sys; print(sys.version.split()[0])'))"
configure build -Dtests=true
ninja -C build >/dev/null
meson test -C build --print-errorlogs || status=1

# The real-library corpus: leaky programs on aiohttp, redis.asyncio,
# asyncpg, httpx, FastAPI/uvicorn, websockets and uvloop (Debian's packages,
# built for Debian's /usr/bin/python3, so the agent is built for it here)
# against a redis-server and a PostgreSQL cluster the suite starts and stops.
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import aiohttp, redis, asyncpg, httpx, fastapi, uvicorn, websockets, uvloop' 2>/dev/null; then
    echo "== [$(elapsed)] build-sys/ (Debian's /usr/bin/python3 $(/usr/bin/python3 -c 'import sys; print(sys.version.split()[0])'): the real-library corpus, the pytest plugin)"
    configure build-sys -Dpython=/usr/bin/python3 -Dagent=enabled -Dtests=true
    ninja -C build-sys >/dev/null
    meson test -C build-sys --suite reallib --print-errorlogs || status=1
    # the pytest plugin on its sample suite (pytest, pytest-asyncio, aiohttp)
    meson test -C build-sys --suite pytest-plugin --print-errorlogs || status=1
else
    echo "== [$(elapsed)] real-library corpus skipped: /usr/bin/python3 lacks Debian's python3-aiohttp, -redis, -asyncpg, -httpx, -fastapi, -uvicorn, -websockets or -uvloop"
fi

# Everything again under AddressSanitizer and UndefinedBehaviorSanitizer:
# any report fails the run. The unit tests run with leak detection; the
# Python-driven suites preload the sanitizer runtimes into the interpreter
# (which itself leaks at exit by design, so leak detection is off there).
echo "== [$(elapsed)] build-asan/ (-fsanitize=address,undefined)"
configure build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dtests=true
ninja -C build-asan >/dev/null
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C build-asan --suite unit --print-errorlogs || status=1
asan_preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# (not the install suite: it installs and builds with pip, once, in build/ above)
LD_PRELOAD="$asan_preload" ASAN_OPTIONS=detect_leaks=0 ASYNCSNAP_SANITIZED=1 \
    meson test -C build-asan --no-suite unit --no-suite install --print-errorlogs || status=1
unset UBSAN_OPTIONS

# A short fuzz run of the reader and the analyses (tests/fuzz/run.sh; long
# runs: `tests/fuzz/run.sh long`): 15 s per target from the seed corpus.
echo "== [$(elapsed)] fuzz smoke (clang -fsanitize=fuzzer,address,undefined)"
FUZZ_DIR="$PWD/build-fuzz" bash tests/fuzz/run.sh smoke 15 || status=1

# The agent under every supported interpreter pyenv has.
pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
main_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
for minor in 3.9 3.10 3.11 3.12 3.13; do
    interp=
    for d in $(ls -d "$pyenv_root"/versions/"$minor".* 2>/dev/null | sort -V -r); do
        if [ -x "$d/bin/python3" ]; then interp=$d/bin/python3; break; fi
    done
    if [ -z "$interp" ]; then
        echo "== [$(elapsed)] CPython $minor: not installed (pyenv versions), agent tests skipped"
        continue
    fi
    if [ "$minor" = "$main_version" ]; then
        echo "== [$(elapsed)] CPython $minor: tested in build/ above"
        continue
    fi
    echo "== [$(elapsed)] CPython $minor ($interp)"
    configure "build-py/$minor" -Dpython="$interp" -Dagent=enabled -Dtests=true
    ninja -C "build-py/$minor" >/dev/null
    # the agent suite, and the end-to-end suite: the checks on snapshots of
    # real programs run under this Python (false alarms differ by version)
    # (the steady-load false-alarm test: 20 runs in build/, 3 here)
    # (the e2e files about the command itself, suite `once`: in build/ only)
    ASYNCSNAP_STEADY_RUNS=3 meson test -C "build-py/$minor" --suite agent --suite e2e \
        --no-suite once --print-errorlogs || status=1
done

# CPython 3.14 and 3.15: Debian sid's interpreters, in a root made with
# debootstrap and kept between runs (scripts/sid-root.sh); the build and
# the suites run inside it, this checkout mounted at the same path.
wait "$sid_fetch" || true
if sid_why=$(bash scripts/sid-root.sh ensure); then
    sid_root=${ASYNCSNAP_SID_ROOT:-/var/cache/asyncsnap/sid-root}
    for minor in 3.14 3.15; do
        echo "== [$(elapsed)] CPython $minor (Debian sid, in $sid_root)"
        # (the steady-load false-alarm test: 20 runs in build/, 3 here)
        ASYNCSNAP_STEADY_RUNS=3 bash scripts/sid-root.sh run "$sid_root" sh -c "
            set -e
            if [ -f build-py/$minor/build.ninja ]; then meson configure build-py/$minor -Dpython=python$minor >/dev/null
            else meson setup build-py/$minor -Dpython=python$minor -Dagent=enabled -Dtests=true >/dev/null; fi
            ninja -C build-py/$minor >/dev/null
            meson test -C build-py/$minor --suite agent --suite e2e --no-suite once --print-errorlogs" || status=1
    done
    # the real-library corpus under sid's /usr/bin/python3 (3.14: sid's
    # python3-aiohttp, -redis, ... are built for it; about 1 min): the
    # build-py/3.14 build above has the suite when they import (decided at
    # configure time: reconfigured once if the root got them later)
    echo "== [$(elapsed)] real-library corpus on CPython 3.14 (Debian sid, in $sid_root)"
    bash scripts/sid-root.sh run "$sid_root" sh -c "
        has() { meson test -C build-py/3.14 --list 2>/dev/null | grep -q reallib; }
        has || meson setup --reconfigure build-py/3.14 >/dev/null
        if has; then
            meson test -C build-py/3.14 --suite reallib --print-errorlogs
        else
            echo '== real-library corpus on 3.14 SKIPPED: python3.14 in the sid root lacks the libraries'
        fi" || status=1
else
    echo "== [$(elapsed)] CPython 3.14 and 3.15: agent tests SKIPPED: $sid_why"
fi

if [ $status -ne 0 ]; then
    echo "test.sh: FAILED" >&2
else
    echo "test.sh: all tests passed"
fi
exit $status
