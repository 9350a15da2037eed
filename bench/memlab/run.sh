#!/usr/bin/env bash
# Benchmark: the same ~1M-object heap analyzed by asyncsnap and by memlab.
#
#   bash bench/memlab/run.sh [--synthetic] [BUILDDIR] [OBJECTS] [RUNS]
#                                       (default build, 1000000, 3)
#
# Takes a real snapshot of bench/walk.py's asyncio heap of about OBJECTS
# objects with the agent (bench/memlab/heap.py), exports it with
# `asyncsnap export --format heapsnapshot` (timed apart, counted in
# neither), then RUNS times, each in a fresh process:
#   asyncsnap: `asyncsnap dominators SNAP` - load, roots, strongly connected
#              components, dominator tree, retained sizes, the report;
#   memlab:    getFullHeapFromFile(EXPORT) (bench/memlab/analyze.js) - parse,
#              indexes, shortest paths from the roots, dominators, retained
#              sizes; what every memlab heap analysis starts with.
# Prints the median wall and CPU seconds, nodes per second and peak RSS of
# each, the ratio of nodes per second (target: asyncsnap >= 10x memlab), and
# the retained sizes both give the roots and asyncsnap's largest retainer.
# --synthetic also runs the same on bench-graph's synthesized snapshot of
# OBJECTS objects and 4 x OBJECTS references (BUILDDIR/bench/bench-graph).
#
# Needs node and npm (not installed for you: `apt-get install nodejs npm` on
# Debian/Ubuntu). memlab, pinned by bench/memlab/package.json, is installed
# on first use into ${ASYNCSNAP_BENCH_CACHE:-~/.cache/asyncsnap-bench}/memlab
# (npm registry; PUPPETEER_SKIP_DOWNLOAD=1 and --ignore-scripts: no browser
# is downloaded, none is needed). node runs with
# --max-old-space-size=${ASYNCSNAP_BENCH_NODE_HEAP_MIB:-16384}.
# Exit status 0; 1 if the two disagree on a retained size; 2 if something
# needed is missing.
set -euo pipefail
synthetic=0
if [ "${1:-}" = "--synthetic" ]; then
    synthetic=1
    shift
fi
cd "$(dirname "$0")/../.."
build=${1:-build}
objects=${2:-1000000}
runs=${3:-3}
node_heap_mib=${ASYNCSNAP_BENCH_NODE_HEAP_MIB:-16384}
cache=${ASYNCSNAP_BENCH_CACHE:-$HOME/.cache/asyncsnap-bench}
here=bench/memlab
cli="$build/src/cli/asyncsnap"
die() { echo "bench/memlab/run.sh: $*" >&2; exit 2; }

[ -x "$cli" ] || die "build first: $cli is missing (meson setup $build --buildtype=release && ninja -C $build)"
[ -d "$build/snapshot-agent/asyncsnap" ] || die "the agent is not built in $build"
[ "$synthetic" = 0 ] || [ -x "$build/bench/bench-graph" ] || die "--synthetic: $build/bench/bench-graph is not built"
command -v python3 >/dev/null || die "python3 is missing"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian/Ubuntu: apt-get install time)"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 is needed (EPOCHREALTIME)"
node_version=$(node --version 2>/dev/null) ||
    die "node is missing: memlab needs Node.js (>= 16) and npm; on Debian/Ubuntu: apt-get install nodejs npm"
npm_version=$(npm --version 2>/dev/null) ||
    die "npm is missing (node $node_version is there); on Debian/Ubuntu: apt-get install npm"

# memlab, installed once per version of package.json
mod="$cache/memlab"
if ! cmp -s "$here/package.json" "$mod/.installed" ||
        [ ! -f "$mod/node_modules/@memlab/heap-analysis/package.json" ]; then
    echo "installing memlab (bench/memlab/package.json) into $mod ..." >&2
    mkdir -p "$mod"
    rm -f "$mod/.installed"
    cp "$here/package.json" "$mod/package.json"
    (cd "$mod" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --ignore-scripts \
        --loglevel=error >&2) ||
        die "npm install failed in $mod (is the npm registry reachable?)"
    cp "$here/package.json" "$mod/.installed"
fi
memlab_version=$(node -p "require('$mod/node_modules/memlab/package.json').version")

dir=$(mktemp -d "${TMPDIR:-/tmp}/asnap-memlab-XXXXXX")
trap 'rm -rf "$dir"' EXIT

echo "asyncsnap bench/memlab: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
    "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "versions: $("$cli" --version), Python $(python3 -c 'import sys; print(sys.version.split()[0])')," \
    "node $node_version (--max-old-space-size=$node_heap_mib), npm $npm_version, memlab $memlab_version"
echo "load before: $(uptime | sed 's/.*load average/load average/')"

# bench_one LABEL SNAP DESCRIPTION
bench_one() {
    local label=$1 snap=$2 what=$3 export="$dir/$1.heapsnapshot" t0 t1 r
    t0=$EPOCHREALTIME
    /usr/bin/time -o "$dir/$label.export.time" -f "%e %U %S %M" \
        "$cli" export --format heapsnapshot -o "$export" "$snap"
    t1=$EPOCHREALTIME
    echo "$t0 $t1" > "$dir/$label.export.wall"
    "$cli" info --json "$snap" > "$dir/$label.info.json"
    # the cross-check's reference, not timed
    "$cli" dominators --json --top 1 --depth 0 "$snap" > "$dir/$label.dom.json"
    local top top_id
    top=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["top"][0]["addr"])' \
        "$dir/$label.dom.json")
    # its node id in the export: 2v + 3, v its number in `dump` (heapsnapshot.c)
    top_id=$("$cli" dump --json "$snap" | python3 -c '
import json, sys
found = None
for line in sys.stdin:  # to the end: dump is not cut short (pipefail)
    if found is None:
        o = json.loads(line)
        if o.get("addr") == sys.argv[1]:
            found = 2 * o["id"] + 3
print(found)' "$top")
    echo "$top_id" > "$dir/$label.top_id"
    for r in $(seq "$runs"); do
        t0=$EPOCHREALTIME
        /usr/bin/time -o "$dir/$label.asnap.$r.time" -f "%e %U %S %M" \
            "$cli" dominators "$snap" > "$dir/$label.asnap.out"
        t1=$EPOCHREALTIME
        echo "$t0 $t1" > "$dir/$label.asnap.$r.wall"
        t0=$EPOCHREALTIME
        NODE_PATH="$mod/node_modules" /usr/bin/time -o "$dir/$label.memlab.$r.time" -f "%e %U %S %M" \
            node --max-old-space-size="$node_heap_mib" "$here/analyze.js" "$export" "$top_id" \
            > "$dir/$label.memlab.$r.json" ||
            { echo "bench/memlab/run.sh: memlab failed on $export" >&2; exit 1; }
        t1=$EPOCHREALTIME
        echo "$t0 $t1" > "$dir/$label.memlab.$r.wall"
    done
    python3 - "$dir" "$label" "$runs" "$snap" "$export" "$what" <<'EOF'
import json, os, statistics, sys

d, label, runs, snap, export, what = sys.argv[1:7]
runs = int(runs)
p = lambda name: os.path.join(d, "%s.%s" % (label, name))


def timed(name):
    """wall (monotonic around the process), cpu (user+sys), peak RSS in MiB"""
    t0, t1 = map(float, open(p(name + ".wall")).read().split())
    e, u, s, m = open(p(name + ".time")).read().split()[-4:]
    return t1 - t0, float(u) + float(s), int(m) / 1024


info = json.load(open(p("info.json")))
dom = json.load(open(p("dom.json")))
objects, edges = info["objects"], info["edges"]
ex_wall, ex_cpu, ex_rss = timed("export")
print("\n%s: %s objects, %s references, %.1f MiB (%s)" % (
    label, format(objects, ","), format(edges, ","), os.path.getsize(snap) / 2**20, what))
print("  export --format heapsnapshot (counted in neither): %.2f s, peak RSS %.0f MiB, %.1f MiB of JSON"
      % (ex_wall, ex_rss, os.path.getsize(export) / 2**20))

asn = [timed("asnap.%d" % r) for r in range(1, runs + 1)]
mlp = [timed("memlab.%d" % r) for r in range(1, runs + 1)]
ml = [json.load(open(p("memlab.%d.json" % r))) for r in range(1, runs + 1)]
med = lambda xs: statistics.median(xs)
a_wall, a_cpu, a_rss = (med(x[i] for x in asn) for i in range(3))
m_wall, m_cpu, m_rss = (med(x[i] for x in mlp) for i in range(3))
m_in = med(x["seconds"] for x in ml)
m_parse = med(x["parse_seconds"] for x in ml)
rate = lambda s: objects / s
print("  %d run(s) each, medians; nodes/s = snapshot objects / wall seconds" % runs)
print("  %-44s %8s %8s %12s %10s" % ("", "wall s", "CPU s", "nodes/s", "peak RSS"))
print("  %-44s %8.3f %8.2f %12s %6.0f MiB" % ("asyncsnap dominators (whole process)", a_wall, a_cpu,
                                               format(round(rate(a_wall)), ","), a_rss))
print("  %-44s %8.3f %8s %12s %10s" % ("memlab getFullHeapFromFile (in node)", m_in, "",
                                        format(round(rate(m_in)), ","), ""))
print("  %-44s %8.3f %8s %12s %10s" % ("  of which parse (getSnapshotFromFile)", m_parse, "", "", ""))
print("  %-44s %8.3f %8.2f %12s %6.0f MiB" % ("memlab (whole node process)", m_wall, m_cpu,
                                               format(round(rate(m_wall)), ","), m_rss))
ratio = rate(a_wall) / rate(m_in)
print("  ratio asyncsnap / memlab, nodes/s: %.1fx (memlab timed in node: conservative), "
      "%.1fx (whole processes); target >= 10x: %s" % (ratio, rate(a_wall) / rate(m_wall),
                                                      "met" if ratio >= 10 else "NOT met"))
print("  per run, wall s: asyncsnap %s; memlab in node %s, process %s" % (
    " ".join("%.3f" % x[0] for x in asn), " ".join("%.3f" % x["seconds"] for x in ml),
    " ".join("%.3f" % x[0] for x in mlp)))

# cross-check: retained sizes of the same nodes
m = ml[0]
top = dom["top"][0]
mt = m["asked"].get(open(p("top_id")).read().strip())
rows = [("all roots: super-root / %s" % m["root"]["name"], dom["bytes"], m["root"]["retained"]),
        ("largest retainer %s %s" % (top["type"], top["addr"]), top["retained"],
         mt["retained"] if mt else None)]
bad = False
print("  retained bytes, same node: %-46s %12s %12s" % ("", "asyncsnap", "memlab"))
for name, a, b in rows:
    ok = a == b
    bad |= not ok
    print("    %-70s %12s %12s  %s" % (name, a, b, "equal" if ok else "DIFFER"))
same_top = mt is not None and m["top"]["id"] == mt["id"]
print("    memlab's own largest retainer: %s (id %s, %s B): %s" % (
    m["top"]["name"], m["top"]["id"], m["top"]["retained"],
    "the same node" if same_top else "a different node"))
print("    memlab: %s nodes (objects + its root), %s edges (references + root edges), "
      "%s distinct ids" % (format(m["nodes"], ","), format(m["edges"], ","),
                           format(m["distinct_ids"], ",")))
if m["distinct_ids"] < m["nodes"]:
    print("    (memlab reads node ids as 32-bit: %d of the export's ids collide in their low 32 bits)"
          % (m["nodes"] - m["distinct_ids"]))
bad |= m["nodes"] != objects + 1 or not same_top
if bad:
    open(p("bad"), "w").close()
EOF
}

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$build/snapshot-agent" python3 "$here/heap.py" "$dir/real.snap" --objects "$objects"
bench_one real "$dir/real.snap" \
    "real: Python $(python3 -c 'import sys; print(sys.version.split()[0])') heap of bench/walk.py, --objects $objects"
if [ "$synthetic" = 1 ]; then
    "$build/bench/bench-graph" --keep "$dir" --ours "$objects" > "$dir/bench-graph.out"
    synth=("$dir"/bench-"$objects"-r*.snap) # bench-graph names it by its size and references
    bench_one synthetic "${synth[0]}" "synthetic: bench-graph --keep DIR $objects"
fi
echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
if ls "$dir"/*.bad > /dev/null 2>&1; then
    echo "bench/memlab/run.sh: asyncsnap and memlab disagree (above)" >&2
    exit 1
fi
