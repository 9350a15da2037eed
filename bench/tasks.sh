#!/usr/bin/env bash
# Benchmark: `asyncsnap tasks` on snapshots of a program holding N pending
# tasks in one list and N in one set (bench/tasks_heap.py), for N in SIZES:
# the time should grow linearly with N. With a second build directory, the
# same snapshots through both, interleaved (the baseline first).
#
#   bash bench/tasks.sh [BUILDDIR] [BASELINE_BUILDDIR] [SIZES]
#                       (default build, none, "25000 50000 100000 200000")
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
baseline=${2:-}
sizes=${3:-25000 50000 100000 200000}
cli="$build/src/cli/asyncsnap"
[ -x "$cli" ] || { echo "bench/tasks.sh: build first: $cli is missing" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
    snap=$(PYTHONPATH="$build/snapshot-agent" python3 bench/tasks_heap.py "$dir" "$n")
    line="tasks held: $((2 * n))"
    for b in $baseline $build; do
        /usr/bin/time -o "$dir/time.txt" -f "%e %M" "$b/src/cli/asyncsnap" tasks "$snap" \
            > /dev/null
        read -r secs kib < "$dir/time.txt"
        line="$line  $b: $secs s, $((kib / 1024)) MiB"
    done
    echo "$line"
    rm -f "$snap"
done
