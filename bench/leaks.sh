#!/usr/bin/env bash
# Benchmark: `asyncsnap leaks` on two snapshots of about OBJECTS objects
# each (default 1,000,000), taken for real by the agent from an asyncio
# program that leaks between them (bench/leaks_heap.py). Prints the size of
# the snapshots, then the wall time and peak memory of `leaks` (median of
# RUNS runs, default 3).
#
#   bash bench/leaks.sh [BUILDDIR] [OBJECTS] [RUNS]     (default build, 1000000, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
objects=${2:-1000000}
runs=${3:-3}
cli="$build/src/cli/asyncsnap"
[ -x "$cli" ] || { echo "bench/leaks.sh: build first: $cli is missing" >&2; exit 2; }
[ -d "$build/snapshot-agent/asyncsnap" ] || { echo "bench/leaks.sh: the agent is not built in $build" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mapfile -t snaps < <(PYTHONPATH="$build/snapshot-agent" python3 bench/leaks_heap.py "$dir" --objects "$objects")
for s in "${snaps[@]}"; do
    n=$("$cli" info --json "$s" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["objects"], d["edges"])')
    echo "snapshot $(basename "$s"): objects/edges $n, $(stat -c %s "$s") bytes"
done
times=()
for _ in $(seq "$runs"); do
    set +e
    /usr/bin/time -o "$dir/time.txt" -f "%e %M" "$cli" leaks "${snaps[@]}" > "$dir/out.txt"
    status=$?
    out=$(tail -1 "$dir/time.txt")
    set -e
    [ "$status" -eq 1 ] || { echo "bench/leaks.sh: leaks exited $status (expected 1: findings)" >&2; cat "$dir/out.txt" >&2; exit 1; }
    times+=("$out")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$runs" '
    { t[NR] = $1; m[NR] = $2 }
    END { i = int((n + 1) / 2); printf "asyncsnap leaks on 2 snapshots: %.2f s wall (median of %d), peak RSS %.0f MiB\n", t[i], n, m[i] / 1024 }'
grep '^\[' "$dir/out.txt" | cut -c1-110
