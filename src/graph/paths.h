/*
 * paths.h - concrete chains of references: the shortest strong path from a
 * root to an object, and the shortest cycle through an object inside its
 * strongly connected component. Breadth-first, iterative.
 */
#ifndef ASNAP_GRAPH_PATHS_H
#define ASNAP_GRAPH_PATHS_H

#include <stdint.h>

#include "graph/graph.h"
#include "graph/roots.h"
#include "graph/scc.h"

/* Scratch space reused across searches, so that each costs only what it
 * visits. */
struct asnap_path_ws {
	uint32_t n;
	uint32_t *pred;  /* ASNAP_NO_NODE when not visited */
	uint32_t *queue;
};

int asnap_path_ws_init(struct asnap_path_ws *ws, uint32_t n, struct asnap_error *err);
void asnap_path_ws_finish(struct asnap_path_ws *ws);

/*
 * The shortest chain of strong references from any root of rs to target:
 * *nodes (caller frees) gets *len nodes, the root first and target last.
 * Roots are tried in rs order, level by level, so real roots win over
 * UNREACHABLE ones. *len is 0 if no root reaches target. 0, or -1 with *err.
 */
int asnap_path_from_roots(const struct asnap_graph *g, const struct asnap_rootset *rs,
			  uint32_t target, struct asnap_path_ws *ws, uint32_t **nodes,
			  uint32_t *len, struct asnap_error *err);

/*
 * The shortest cycle of strong references through start within its
 * component: *nodes (caller frees) gets *len nodes, start first; the last
 * one refers back to start. *len is 0 if start is on no cycle. 0, or -1.
 */
int asnap_path_cycle(const struct asnap_graph *g, const struct asnap_scc *scc, uint32_t start,
		     struct asnap_path_ws *ws, uint32_t **nodes, uint32_t *len,
		     struct asnap_error *err);

/*
 * A short cycle through start, for components too large for
 * asnap_path_cycle to be meaningful (a live heap's modules, functions and
 * globals make one): the shortest cycle of at most max_len strong
 * references through start that stays in its component and enters no node
 * whose bit is set in `avoid` (a bitset, or NULL), giving up after
 * max_visit nodes. Its nodes go into cyc (room for max_len), start first;
 * returns how many, 0 if none was found. *visited (if not NULL) is
 * increased by the nodes looked at. No allocation.
 */
uint32_t asnap_path_short_cycle(const struct asnap_graph *g, const struct asnap_scc *scc,
				uint32_t start, const uint8_t *avoid, uint32_t max_len,
				uint32_t max_visit, struct asnap_path_ws *ws, uint32_t *cyc,
				uint64_t *visited);

#endif
