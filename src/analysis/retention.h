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
	uint32_t comp;       /* component of the example */
	uint32_t count;      /* cycles of this shape; the example is one of them */
	uint32_t components; /* distinct components they lie in */
	uint32_t objects;    /* nodes in those components */
	uint64_t bytes;      /* their shallow sizes */
	uint64_t retained;   /* bytes the cycles keep alive (see below) */
	bool garbage;        /* no root reaches them: they await the cycle collector */
	bool whole;          /* the component is small: the cycle stands for all of it */
	uint32_t *nodes;     /* the example, nodes[0] first; the last refers back to it */
	uint32_t len;
};

/* Components larger than this are searched for short cycles through each
 * object; smaller ones give one cycle that stands for the component. */
#define ASNAP_CYCLES_LARGE_COMPONENT 1000u
/* The longest cycle looked for in a large component, in references. */
#define ASNAP_CYCLES_MAX_LEN 12u

struct asnap_cycles_stats {
	uint32_t starts;      /* objects a short cycle was looked for through */
	uint32_t unexamined;  /* objects left out when the search budget ran out */
};

/*
 * The reference cycles through coroutines, generators, async generators,
 * frames and tracebacks, grouped by shape.
 *
 * A strongly connected component with a cycle (two or more objects, or one
 * referring to itself) that holds such an object gives:
 *  - if it has at most ASNAP_CYCLES_LARGE_COMPONENT objects, one shortest
 *    cycle through such an object (a task of the component first, if it
 *    holds one), standing for the whole component: its retained size is
 *    the sum of the retained sizes of the component's objects that no other
 *    object of it dominates (everything that goes when it goes, at least);
 *  - if larger (in a live heap: the component of modules, functions and
 *    their globals), every shortest cycle of at most ASNAP_CYCLES_MAX_LEN
 *    references through a task, coroutine, async generator, generator,
 *    frame or traceback of it (in that order; an object already on a
 *    reported cycle starts none) that avoids modules and their dicts, each
 *    retaining what its objects keep alive that no other object of the
 *    cycle dominates. The search is bounded; *stats says what it left out.
 * Cycles of the same shape (the types and labels along them, indices
 * ignored) that are all garbage or all live form one entry, with the one
 * retaining most as the example; entries come largest retained first.
 * *out (free with asnap_cycles_free) and *count; stats may be NULL.
 * 0, or -1 with *err.
 */
int asnap_cycles_search(const struct asnap_retention *r, struct asnap_cycle **out,
			uint32_t *count, struct asnap_cycles_stats *stats,
			struct asnap_error *err);
/* asnap_cycles_search without the statistics. */
int asnap_cycles_find(const struct asnap_retention *r, struct asnap_cycle **out,
		      uint32_t *count, struct asnap_error *err);
void asnap_cycles_free(struct asnap_cycle *c, uint32_t count);

/*
 * A bitset (a bit per node, caller frees) of the module objects and the
 * dicts held as module roots: the hubs through which everything in a live
 * heap reaches everything else. NULL when out of memory.
 */
uint8_t *asnap_retention_module_set(const struct asnap_retention *r);

/* Type names compared as strings: "builtins.coroutine", ... */
bool asnap_type_is_task(const char *type);

#endif
