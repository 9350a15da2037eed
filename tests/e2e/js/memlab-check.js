// memlab reads an asyncsnap export: node and edge counts, the first
// __main__.Session node's retained size and its dominator chain, as JSON.
// Run by tests/e2e/test_export.py (MemlabTest) with NODE_PATH set.
const {getFullHeapFromFile} = require('@memlab/heap-analysis');
(async () => {
  const t0 = Date.now();
  const heap = await getFullHeapFromFile(process.argv[2]);
  const t1 = Date.now();
  let n = 0, e = 0, session = null;
  heap.nodes.forEach(node => { n++; e += node.edge_count; if (!session && node.name === '__main__.Session') session = node; });
  const chain = [];
  let cur = session;
  // walk dominators up to the root
  while (cur && chain.length < 20) { chain.push(cur.name); cur = cur.dominatorNode; if (cur && cur.id === session.id) break; }
  console.log(JSON.stringify({nodes: n, edges: e, ms: t1 - t0, session_retained: session && session.retainedSize, dominators: chain}));
})().catch(err => { console.error(err); process.exit(1); });
