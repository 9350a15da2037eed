/*
 * stats.h - whole-snapshot summaries: objects and bytes per type, and the
 * totals `asyncsnap info` shows.
 */
#ifndef ASNAP_ANALYSIS_STATS_H
#define ASNAP_ANALYSIS_STATS_H

#include <stdint.h>

#include "graph/graph.h"

struct asnap_type_stat {
	uint32_t type; /* string id */
	uint64_t count;
	uint64_t bytes;
};

struct asnap_kind_count {
	uint32_t kind; /* string id of a record kind */
	uint64_t count;
};

struct asnap_stats {
	uint64_t objects;
	uint64_t tracked;     /* ASNAP_NODE_GC_TRACKED */
	uint64_t synthetic;   /* ASNAP_NODE_SYNTHETIC */
	uint64_t edges;
	uint64_t weak_edges;
	uint64_t bytes;       /* sum of shallow sizes */
	struct asnap_type_stat *types; /* by bytes, then count, descending */
	uint32_t ntypes;
	struct asnap_kind_count *kinds; /* record kinds, by count */
	uint32_t nkinds;
};

/* Fill *s from g; 0, or -1 when out of memory. */
int asnap_stats_compute(const struct asnap_graph *g, struct asnap_stats *s);
void asnap_stats_release(struct asnap_stats *s);

/* Sort s->types by count (descending, then by bytes). */
void asnap_stats_sort_by_count(struct asnap_stats *s);
void asnap_stats_sort_by_bytes(struct asnap_stats *s);

#endif
