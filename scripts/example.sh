#!/usr/bin/env bash
# The main job on the bundled example: build asyncsnap, run a leaky asyncio
# service (fixtures/programs/leaky_service.py) that takes three snapshots of
# itself, and analyze them: `info` on each, then `leaks` (the five checks)
# and `diff` (what grew, what was born and stayed) on all three.
#
#   bash scripts/example.sh [OUTDIR]      (default: example-out/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-example-out}

bash scripts/setup.sh
if [ -f build/build.ninja ]; then :; else meson setup build >/dev/null; fi
ninja -C build >/dev/null

if [ ! -d build/snapshot-agent/asyncsnap ]; then
    echo "example.sh: the agent was not built (is python3 a CPython 3.9-3.15 with headers?)" >&2
    exit 1
fi

mkdir -p "$out"
rm -f "$out"/leaky-*.snap
echo "== running fixtures/programs/leaky_service.py (snapshots in $out/)"
mapfile -t snaps < <(PYTHONPATH="$PWD/build/snapshot-agent" python3 fixtures/programs/leaky_service.py --dir "$out")

for s in "${snaps[@]}"; do
    echo
    echo "== asyncsnap info $s"
    build/src/cli/asyncsnap info --top 8 "$s"
done

echo
echo "== asyncsnap leaks ${snaps[*]}"
# leaks exits 1 when it reports findings, which is the expected outcome here
set +e
build/src/cli/asyncsnap leaks "${snaps[@]}"
status=$?
set -e
if [ "$status" -ne 1 ]; then
    echo "example.sh: expected asyncsnap leaks to report the example's leaks (exit 1), got exit $status" >&2
    exit 1
fi

echo
echo "== asyncsnap diff ${snaps[*]}"
build/src/cli/asyncsnap diff --top 10 "${snaps[@]}"
