/*
 * scc.h - strongly connected components of the strong references, without
 * recursion (Pearce's space-efficient variant of Tarjan's algorithm: one
 * word per node besides the stacks).
 */
#ifndef ASNAP_GRAPH_SCC_H
#define ASNAP_GRAPH_SCC_H

#include <stdint.h>

#include "graph/graph.h"

struct asnap_scc {
	uint32_t n;
	uint32_t ncomp;
	/* comp[v] in 0..ncomp-1. Components are numbered in reverse
	 * topological order: every strong edge v -> w has comp[v] >= comp[w]. */
	uint32_t *comp;
};

/* 0, or -1 with *err (out of memory). Weak edges are ignored. */
int asnap_scc_compute(const struct asnap_graph *g, struct asnap_scc *out, struct asnap_error *err);

void asnap_scc_release(struct asnap_scc *s);

#endif
