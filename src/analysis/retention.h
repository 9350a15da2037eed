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
#include "util/order.h"

struct asnap_retention {
	const struct asnap_graph *g; /* borrowed */
	struct asnap_rootset roots;  /* real roots, then UNREACHABLE ones */
	struct asnap_scc scc;
	struct asnap_domtree dom;
	/* (node, index in roots.items) of each root, sorted: a few pairs, not
	 * 4 bytes for every object. Use asnap_retention_root_of. */
	struct asnap_pair *root_index;
	uint32_t nroot_index;
};

/*
 * Run the pipeline on g: roots, then components, dominators and retained
 * sizes in one go (asnap_dom_compute). None of it needs the reverse index.
 * 0, or -1 with *err.
 */
int asnap_retention_compute(struct asnap_graph *g, struct asnap_retention *r,
			    struct asnap_error *err);
/* The index in r->roots.items of the first root that is node v, or
 * ASNAP_NO_NODE when v is none. */
uint32_t asnap_retention_root_of(const struct asnap_retention *r, uint32_t v);
void asnap_retention_release(struct asnap_retention *r);

/* How asnap_retention_load reads the file. */
enum asnap_load_mode {
	ASNAP_LOAD_AUTO = 0, /* twice for files of ASNAP_LOAD_TWICE_BYTES or more */
	ASNAP_LOAD_ONCE,
	ASNAP_LOAD_TWICE,
};

/* From this file size on (about 4 million objects), AUTO reads twice. */
#define ASNAP_LOAD_TWICE_BYTES (32u << 20)

/*
 * Load the snapshot at path and run the retention pipeline on it: *gp gets
 * the graph (free with asnap_graph_destroy) with at least the columns
 * (ASNAP_COL_*) asked for, *r its retention.
 *
 * Read once, the dominator computation's working memory comes on top of
 * the whole graph. Read twice, the first pass loads only what the pipeline
 * needs (edges, sizes; types, reference counts and flags only until the
 * roots are found), and the second, after it, the rest (addresses, labels,
 * records, ...): the peak is about 40 bytes an object lower, for the time
 * of a second decompression. The environment variable ASYNCSNAP_LOAD
 * (once, twice, auto) overrides AUTO. 0, or -1 with *err.
 */
int asnap_retention_load(const char *path, enum asnap_load_mode mode, uint32_t columns,
			 struct asnap_graph **gp, struct asnap_retention *r, struct asnap_error *err);

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
