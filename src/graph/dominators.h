/*
 * dominators.h - the dominator tree of the strong references, rooted at a
 * virtual super-root (node id g->n) whose children are the roots, and the
 * retained size of every object: the bytes that would be freed if it went,
 * i.e. its own size plus that of everything it dominates.
 */
#ifndef ASNAP_GRAPH_DOMINATORS_H
#define ASNAP_GRAPH_DOMINATORS_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"
#include "graph/roots.h"
#include "graph/scc.h"

struct asnap_domtree {
	uint32_t n;          /* nodes of the graph; node n is the super-root */
	uint32_t *idom;      /* n + 1 entries: immediate dominator; idom[n] == n */
	/* Retained sizes, n + 1 of them (that of n, the super-root, is the sum
	 * of all sizes): use asnap_dom_retained. Four bytes a node; the few of
	 * 2^32 - 1 or more are UINT32_MAX here and, exact, in ret_big (by
	 * node, increasing). */
	uint32_t *retained32;
	struct asnap_big_size *ret_big;
	uint32_t nret_big;
	uint8_t *garbage;    /* a bit per node: reached only from UNREACHABLE roots */
	uint32_t nreached;   /* nodes reached from the real roots */
};

/* A retained size of UINT32_MAX or more (in d->ret_big). */
uint64_t asnap_dom_big_retained(const struct asnap_domtree *d, uint32_t v);

/* The retained size of v (0..n), in bytes. */
static inline uint64_t asnap_dom_retained(const struct asnap_domtree *d, uint32_t v)
{
	uint32_t r = d->retained32[v];
	return r != UINT32_MAX ? r : asnap_dom_big_retained(d, v);
}

/*
 * Compute the dominator tree and retained sizes of g from the real roots in
 * *rs, to which the UNREACHABLE roots of the rest are appended (see
 * asnap_roots_add_unreachable), so every node ends up in the tree.
 *
 * *scc: the components of g, or, if scc->comp is NULL, computed here and
 * stored in *scc (release with asnap_scc_release) - in the same DFS as the
 * dominators' own, which costs much less than asnap_scc_compute first.
 * Either way the results are the same (component numbers may differ, but
 * are in reverse topological order too).
 *
 * Semi-NCA (Georgiadis, Tarjan, Werneck 2006): iterative, near-linear;
 * about 36 bytes per node of working memory at its peak, plus 4 per back or
 * cross edge; no reverse index. 0, or -1 with *err (out of memory; 2^32 - 1
 * edges or more); on failure, components computed here are released.
 */
int asnap_dom_compute(const struct asnap_graph *g, struct asnap_rootset *rs,
		      struct asnap_scc *scc, struct asnap_domtree *out, struct asnap_error *err);

void asnap_dom_release(struct asnap_domtree *d);

static inline bool asnap_dom_is_garbage(const struct asnap_domtree *d, uint32_t v)
{
	return v < d->n && (d->garbage[v >> 3] & (1u << (v & 7)));
}

/*
 * Children lists of the tree (caller frees both): the children of v are
 * child[start[v] .. start[v+1]), for v in 0..n (n = super-root), by
 * retained size, largest first. 0, or -1 with *err.
 */
int asnap_dom_children(const struct asnap_domtree *d, uint32_t **start, uint32_t **child,
		       struct asnap_error *err);

/*
 * The children of some nodes only: parents[0..np) (node ids, or n for the
 * super-root; any order, repeats allowed) get their children as
 * asnap_dom_children orders them, found in one pass over the tree. For
 * showing a few levels of a big tree without the children lists of all of
 * it (8 bytes an object).
 */
struct asnap_dom_kids {
	uint32_t *parents;  /* sorted, without repeats */
	uint32_t np;
	uint32_t *start;    /* np + 1: the children of parents[i] are */
	uint32_t *child;    /* child[start[i] .. start[i + 1]) */
};
int asnap_dom_kids_find(const struct asnap_domtree *d, const uint32_t *parents, uint32_t np,
			struct asnap_dom_kids *out, struct asnap_error *err);
/* The children of p, *count of them; NULL (and 0) if p was not asked. */
const uint32_t *asnap_dom_kids_of(const struct asnap_dom_kids *k, uint32_t p, uint32_t *count);
/* NULL is a no-op. */
void asnap_dom_kids_release(struct asnap_dom_kids *k);

#endif
