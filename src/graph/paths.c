/*
 * paths.c - shortest chains of references (see paths.h).
 */
#include <stdlib.h>
#include <string.h>

#include "graph/paths.h"
#include "util/bigarray.h"
#include "util/freeall.h"

int asnap_path_ws_init(struct asnap_path_ws *ws, uint32_t n, struct asnap_error *err)
{
	ws->n = n;
	ws->pred = asnap_big_alloc((size_t)n + 1, sizeof(*ws->pred));
	ws->queue = asnap_big_alloc((size_t)n + 1, sizeof(*ws->queue));
	if (!ws->pred || !ws->queue) {
		asnap_path_ws_finish(ws);
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory finding paths");
	}
	memset(ws->pred, 0xff, ((size_t)n + 1) * sizeof(*ws->pred));
	return 0;
}

void asnap_path_ws_finish(struct asnap_path_ws *ws)
{
	if (!ws)
		return;
	asnap_free_all(ws->pred, ws->queue);
	*ws = (struct asnap_path_ws){0};
}

/* Forget the visited nodes: they are exactly the queued ones. */
static void reset(struct asnap_path_ws *ws, uint32_t queued)
{
	for (uint32_t i = 0; i < queued; i++)
		ws->pred[ws->queue[i]] = ASNAP_NO_NODE;
}

/* The chain ending at `last`, back to the node that is its own predecessor
 * (where the search started). */
static int unwind(struct asnap_path_ws *ws, uint32_t last, uint32_t **nodes, uint32_t *len,
		  struct asnap_error *err)
{
	uint32_t count = 1;
	for (uint32_t v = last; ws->pred[v] != v; v = ws->pred[v])
		count++;
	uint32_t *out = malloc((size_t)count * sizeof(*out));
	if (!out)
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory finding paths");
	uint32_t i = count, v = last;
	for (;;) {
		out[--i] = v;
		if (ws->pred[v] == v)
			break;
		v = ws->pred[v];
	}
	*nodes = out;
	*len = count;
	return 0;
}

int asnap_path_from_roots(const struct asnap_graph *g, const struct asnap_rootset *rs,
			  uint32_t target, struct asnap_path_ws *ws, uint32_t **nodes,
			  uint32_t *len, struct asnap_error *err)
{
	*nodes = NULL;
	*len = 0;
	uint32_t head = 0, tail = 0;
	bool found = false;
	/* Real roots first; the UNREACHABLE ones only for what they cannot
	 * reach, since garbage may well refer to live objects. */
	for (int pass = 0; pass < 2 && !found; pass++) {
		uint32_t first = pass ? rs->nreal : 0, last = pass ? rs->count : rs->nreal;
		for (uint32_t r = first; r < last; r++) {
			uint32_t v = rs->items[r].node;
			if (ws->pred[v] != ASNAP_NO_NODE)
				continue;
			ws->pred[v] = v;
			ws->queue[tail++] = v;
		}
		found = ws->pred[target] != ASNAP_NO_NODE;
		while (!found && head < tail) {
			uint32_t v = ws->queue[head++];
			for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v);
			     e < end; e++) {
				uint32_t w = g->edge_target[e];
				if (asnap_graph_edge_is_weak(g, e) ||
				    ws->pred[w] != ASNAP_NO_NODE)
					continue;
				ws->pred[w] = v;
				ws->queue[tail++] = w;
				if (w == target) {
					found = true;
					break;
				}
			}
		}
	}
	int rc = found ? unwind(ws, target, nodes, len, err) : 0;
	reset(ws, tail);
	return rc;
}

int asnap_path_cycle(const struct asnap_graph *g, const struct asnap_scc *scc, uint32_t start,
		     struct asnap_path_ws *ws, uint32_t **nodes, uint32_t *len,
		     struct asnap_error *err)
{
	*nodes = NULL;
	*len = 0;
	uint32_t comp = scc->comp[start];
	uint32_t head = 0, tail = 0, last = ASNAP_NO_NODE;
	ws->pred[start] = start;
	ws->queue[tail++] = start;
	while (last == ASNAP_NO_NODE && head < tail) {
		uint32_t v = ws->queue[head++];
		for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v);
		     e < end; e++) {
			uint32_t w = g->edge_target[e];
			if (asnap_graph_edge_is_weak(g, e) || scc->comp[w] != comp)
				continue;
			if (w == start) {
				last = v;
				break;
			}
			if (ws->pred[w] != ASNAP_NO_NODE)
				continue;
			ws->pred[w] = v;
			ws->queue[tail++] = w;
		}
	}
	int rc = last != ASNAP_NO_NODE ? unwind(ws, last, nodes, len, err) : 0;
	reset(ws, tail);
	return rc;
}

uint32_t asnap_path_short_cycle(const struct asnap_graph *g, const struct asnap_scc *scc,
				uint32_t start, const uint8_t *avoid, uint32_t max_len,
				uint32_t max_visit, struct asnap_path_ws *ws, uint32_t *cyc,
				uint64_t *visited)
{
	uint32_t comp = scc->comp[start];
	uint32_t head = 0, tail = 0, last = ASNAP_NO_NODE;
	/* level_end: where the nodes `depth` references from start end */
	uint32_t depth = 0, level_end = 1;
	ws->pred[start] = start;
	ws->queue[tail++] = start;
	while (last == ASNAP_NO_NODE && head < tail) {
		if (head == level_end) {
			depth++;
			level_end = tail;
		}
		uint32_t v = ws->queue[head++];
		/* v is depth references away: a node found from it closes a
		 * cycle of depth + 2 at best */
		bool deeper = depth + 2 <= max_len && tail < max_visit;
		for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v);
		     e < end; e++) {
			uint32_t w = g->edge_target[e];
			if (asnap_graph_edge_is_weak(g, e))
				continue;
			if (w == start) {
				last = v;
				break;
			}
			if (!deeper || ws->pred[w] != ASNAP_NO_NODE || scc->comp[w] != comp ||
			    (avoid && (avoid[w >> 3] >> (w & 7)) & 1))
				continue;
			ws->pred[w] = v;
			ws->queue[tail++] = w;
		}
	}
	uint32_t len = 0;
	if (last != ASNAP_NO_NODE && depth + 1 <= max_len) {
		len = depth + 1;
		uint32_t v = last;
		for (uint32_t i = len; i-- > 0; v = ws->pred[v])
			cyc[i] = v;
	}
	if (visited)
		*visited += tail;
	reset(ws, tail);
	return len;
}
