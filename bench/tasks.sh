#!/usr/bin/env bash
# Benchmark: `asyncsnap tasks` on snapshots of a program holding N pending
# tasks (bench/tasks_heap.py), for N in SIZES: the time should grow
# linearly with N, and stay within twice `leaks` on the same snapshot. Two
# shapes: N tasks in one list and N in one set ("list+set", 2N tasks), and
# N tasks in one list alone ("list"). With a second build directory, the
# same snapshots through both, interleaved (the baseline first). Each time
# is the median of RUNS runs.
#
#   bash bench/tasks.sh [BUILDDIR] [BASELINE_BUILDDIR] [SIZES] [RUNS]
#                       (default build, none, "25000 50000 100000 200000", 3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
baseline=${2:-}
sizes=${3:-25000 50000 100000 200000}
runs=${4:-3}
cli="$build/src/cli/asyncsnap"
[ -x "$cli" ] || { echo "bench/tasks.sh: build first: $cli is missing" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; median of $runs runs"
median() {  # build command snapshot -> "seconds MiB" (the median run's time, the largest peak)
    local b=$1 cmd=$2 snap=$3
    : > "$dir/times.txt"
    for _ in $(seq "$runs"); do
        /usr/bin/time -a -o "$dir/times.txt" -f "%e %M" "$b/src/cli/asyncsnap" "$cmd" "$snap" \
            > /dev/null
    done
    local secs kib
    secs=$(cut -d' ' -f1 "$dir/times.txt" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    kib=$(cut -d' ' -f2 "$dir/times.txt" | sort -n | tail -1)
    echo "$secs $((kib / 1024))"
}
for shape in list+set list; do
    for n in $sizes; do
        flag=; held=$((2 * n))
        if [ "$shape" = list ]; then flag=--list-only; held=$n; fi
        snap=$(PYTHONPATH="$build/snapshot-agent" python3 bench/tasks_heap.py "$dir" "$n" $flag)
        line="$shape, tasks held: $held"
        for b in $baseline $build; do
            read -r secs mib <<< "$(median "$b" tasks "$snap")"
            line="$line  $b: tasks $secs s, $mib MiB"
        done
        read -r lsecs lmib <<< "$(median "$build" leaks "$snap")"
        ratio=$(python3 -c "print('%.2f' % ($secs / max($lsecs, 0.01)))")
        echo "$line; leaks $lsecs s, $lmib MiB; tasks/leaks ${ratio}x"
        rm -f "$snap"
    done
done
