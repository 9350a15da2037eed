/*
 * scc.c - strongly connected components (see scc.h).
 *
 * D. J. Pearce, "A space-efficient algorithm for finding strongly connected
 * components" (IPL 116, 2016), PEA_FIND_SCC2, with the recursion replaced
 * by an explicit stack of (node, next edge) frames so that a chain of
 * millions of objects needs no C stack. rindex[v] is 0 while v is
 * unvisited, its DFS index (counting from 1) or the smallest index it
 * reaches while v is on the stack, and its component number counted down
 * from n once its component is complete: completed numbers are always above
 * the indexes in use, so they never lower anyone's rindex, and never 0.
 */
#include <stdlib.h>

#include "graph/scc.h"
#include "util/bigarray.h"
#include "util/freeall.h"

/* Ask for the rindex[] cells of the first edges of a node about to be
 * scanned, so that their misses overlap instead of queueing. */
static inline void prefetch_targets(const uint32_t *rindex, const uint32_t *et, uint32_t e,
				    uint32_t end)
{
	if (end - e > 16)
		end = e + 16;
	for (; e < end; e++)
		__builtin_prefetch(&rindex[et[e]]);
}

int asnap_scc_compute(const struct asnap_graph *g, struct asnap_scc *out, struct asnap_error *err)
{
	*out = (struct asnap_scc){.n = g->n};
	uint32_t n = g->n;
	if (g->m >= UINT32_MAX)
		return asnap_error_set(err, ASNAP_ERR_LIMIT,
				       "more than %u references: too many to analyze", UINT32_MAX - 1);
	size_t cells = n ? n : 1;
	uint32_t *rindex = asnap_big_zalloc(cells, sizeof(*rindex));
	uint32_t *stack = asnap_big_alloc(cells, sizeof(*stack)); /* nodes of unfinished components */
	uint32_t *fnode = asnap_big_alloc(cells, sizeof(*fnode)); /* DFS frames: node ... */
	uint32_t *fedge = asnap_big_alloc(cells, sizeof(*fedge)); /* ... and its next edge */
	uint8_t *notroot = asnap_big_zalloc(cells / 8 + 1, 1);   /* a bit per node */
	int rc = -1;
	if (!rindex || !stack || !fnode || !fedge || !notroot) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory finding cycles");
		goto cleanup;
	}
	const uint32_t *es = g->edge_off; /* m < 2^32: the low words are the offsets */
	const uint32_t *et = g->edge_target;
	const uint8_t *weak = g->edge_weak;
	uint32_t index = 1, c = n, sp = 0, ssp = 0;
	for (uint32_t s = 0; s < n; s++) {
		if (rindex[s])
			continue;
		rindex[s] = index++;
		fnode[0] = s;
		fedge[0] = es[s];
		prefetch_targets(rindex, et, es[s], es[s + 1]);
		sp = 1;
		while (sp) {
			uint32_t v = fnode[sp - 1];
			uint32_t e = fedge[sp - 1], end = es[v + 1];
			bool descended = false;
			for (; e < end; e++) {
				if ((weak[e >> 3] >> (e & 7)) & 1)
					continue;
				uint32_t w = et[e];
				if (!rindex[w]) {
					/* stay on this edge: it is looked at again on return */
					fedge[sp - 1] = e;
					rindex[w] = index++;
					fnode[sp] = w;
					fedge[sp] = es[w];
					prefetch_targets(rindex, et, es[w], es[w + 1]);
					sp++;
					descended = true;
					break;
				}
				if (rindex[w] < rindex[v]) {
					rindex[v] = rindex[w];
					notroot[v >> 3] |= (uint8_t)(1u << (v & 7));
				}
			}
			if (descended)
				continue;
			sp--;
			if (!(notroot[v >> 3] & (1u << (v & 7)))) {
				index--;
				while (ssp && rindex[v] <= rindex[stack[ssp - 1]]) {
					rindex[stack[--ssp]] = c;
					index--;
				}
				rindex[v] = c--;
			} else {
				stack[ssp++] = v;
			}
			if (sp) {
				uint32_t p = fnode[sp - 1];
				if (rindex[v] < rindex[p]) {
					rindex[p] = rindex[v];
					notroot[p >> 3] |= (uint8_t)(1u << (p & 7));
				}
				fedge[sp - 1]++;
			}
		}
	}
	/* Renumber from 0 in completion order: sinks first. */
	for (uint32_t v = 0; v < n; v++)
		rindex[v] = n - rindex[v];
	out->comp = rindex;
	out->ncomp = n - c;
	rindex = NULL;
	rc = 0;
cleanup:
	asnap_free_all(rindex, stack, fnode, fedge, notroot);
	return rc;
}

void asnap_scc_release(struct asnap_scc *s)
{
	if (!s)
		return;
	free(s->comp);
	*s = (struct asnap_scc){0};
}
