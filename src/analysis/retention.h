/*
 * retention.h - what keeps memory alive: the whole retention pipeline over
 * a loaded graph (roots, components, dominator tree, retained sizes) and
 * the reference cycles that pass through coroutines, generators, frames and
 * tracebacks, as `dominators`, `cycles` and `path` show them.
 */
#ifndef ASNAP_ANALYSIS_RETENTION_H
#define ASNAP_ANALYSIS_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/dominators.h"
#include "graph/graph.h"
#include "graph/roots.h"
#include "graph/scc.h"

struct asnap_retention {
	const struct asnap_graph *g; /* borrowed */
	struct asnap_rootset roots;  /* real roots, then UNREACHABLE ones */
	struct asnap_scc scc;
	struct asnap_domtree dom;
	uint32_t *root_of;           /* node -> index in roots.items, or ASNAP_NO_NODE */
};

/*
 * Run the pipeline on g: roots, then components, dominators and retained
 * sizes in one go (asnap_dom_compute). None of it needs the reverse index.
 * 0, or -1 with *err.
 */
int asnap_retention_compute(struct asnap_graph *g, struct asnap_retention *r,
			    struct asnap_error *err);
void asnap_retention_release(struct asnap_retention *r);

struct asnap_cycle {
	uint32_t comp;      /* component id */
	uint32_t objects;   /* nodes in the component */
	uint64_t bytes;     /* their shallow sizes */
	uint64_t retained;  /* bytes the component keeps alive (see below) */
	bool garbage;       /* no root reaches it: awaits the cycle collector */
	uint32_t *nodes;    /* one cycle, nodes[0] first; the last refers back to it */
	uint32_t len;
};

/*
 * Every strongly connected component with a cycle (two or more objects, or
 * one referring to itself) that holds a coroutine, generator, async
 * generator, frame or traceback, with one shortest cycle through such an
 * object (a task of the component first, if it holds one). `retained` is
 * the sum of the retained sizes of the component's objects that no other
 * object of it dominates: everything that goes when the whole component
 * goes, at least. Largest retained first. *out (free with
 * asnap_cycles_free) and *count. 0, or -1 with *err.
 */
int asnap_cycles_find(const struct asnap_retention *r, struct asnap_cycle **out,
		      uint32_t *count, struct asnap_error *err);
void asnap_cycles_free(struct asnap_cycle *c, uint32_t count);

/* Type names compared as strings: "builtins.coroutine", ... */
bool asnap_type_is_task(const char *type);

#endif
