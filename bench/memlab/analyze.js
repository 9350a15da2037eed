// bench/memlab/analyze.js - memlab analyzing a .heapsnapshot, timed.
//
//     node --max-old-space-size=MiB analyze.js FILE.heapsnapshot [ID ...]
//
// Run by bench/memlab/run.sh with NODE_PATH at the memlab it installed.
// Times getFullHeapFromFile (@memlab/heap-analysis): what every memlab heap
// analysis starts with - parse the file into typed arrays, build the
// reference/referrer indexes and the node id index, then shortest paths
// from the GC roots, dominators and retained sizes of every node. The parse
// part is timed apart by wrapping core.utils.getSnapshotFromFile, which
// getFullHeapFromFile calls. Prints one JSON line on stdout: versions,
// counts, seconds, peak RSS, the retained size memlab gives the synthetic
// root, its own largest retainer, and every node ID asked for (the export's
// node id of an object is 2v + 3, v its number in `asyncsnap dump`).
'use strict';
const core = require('@memlab/core');
const {getFullHeapFromFile} = require('@memlab/heap-analysis');

const file = process.argv[2];
if (!file) {
  console.error('usage: analyze.js FILE.heapsnapshot [0xADDR ...]');
  process.exit(2);
}
core.config.muteConsole = true; // no progress lines on stdout

const now = () => Number(process.hrtime.bigint()) / 1e9;
let parseSeconds = null;
const parse = core.utils.getSnapshotFromFile;
core.utils.getSnapshotFromFile = async (...args) => {
  const t = now();
  const snapshot = await parse(...args);
  parseSeconds = now() - t;
  return snapshot;
};

(async () => {
  const t0 = now();
  const heap = await getFullHeapFromFile(file);
  const seconds = now() - t0;
  const rssKiB = process.resourceUsage().maxRSS; // peak so far, KiB

  // not timed: the cross-check
  const describe = node => node && {
    id: node.id, name: node.name, self_size: node.self_size,
    retained: node.retainedSize,
    dominator: node.dominatorNode ? node.dominatorNode.id : null,
  };
  let edges = 0, top = null, topRetained = -1;
  const ids = new Set();
  heap.nodes.forEach((node, i) => {
    edges += node.edge_count;
    ids.add(node.id);
    if (i > 0 && node.retainedSize > topRetained) {
      topRetained = node.retainedSize;
      top = node;
    }
  });
  const asked = {};
  for (const id of process.argv.slice(3))
    asked[id] = describe(heap.getNodeById(Number(id)));
  const pkg = name => require(name + '/package.json').version;
  console.log(JSON.stringify({
    node: process.version,
    memlab: pkg('memlab'),
    heap_analysis: pkg('@memlab/heap-analysis'),
    nodes: heap.nodes.length,
    edges,
    distinct_ids: ids.size,
    seconds,
    parse_seconds: parseSeconds,
    analysis_seconds: parseSeconds == null ? null : seconds - parseSeconds,
    peak_rss_kib: rssKiB,
    root: describe(heap.nodes.get(0)),
    top: describe(top),
    asked,
  }));
})().catch(err => {
  console.error('analyze.js:', err && err.stack || err);
  process.exit(1);
});
