/*
 * graph.h - a snapshot loaded into memory: nodes in flat arrays indexed by
 * node id, outgoing edges in compressed sparse rows (CSR), records and
 * roots, and the snapshot's string table. Built by one streaming pass over
 * the file; read-only afterwards. Every later stage (analyses, renderers)
 * works on this and never on the file.
 */
#ifndef ASNAP_GRAPH_H
#define ASNAP_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "asyncsnap/format.h"
#include "util/arena.h"

struct asnap_graph {
	uint32_t n;            /* nodes */
	uint64_t m;            /* edges */
	uint64_t *addr;
	uint32_t *type;        /* string id */
	uint64_t *size;
	/* Reference counts of 2^32 - 1 and more are all stored as UINT32_MAX
	 * (saturated): a count that large already says "held from outside" to
	 * the roots rule, and no other use needs it exact. */
	uint32_t *refcnt;
	uint8_t *flags;        /* ASNAP_NODE_*; format v1 defines bits 0-2 only */

	/*
	 * Outgoing edges in CSR: the edges of v are [asnap_graph_edge_begin(g, v),
	 * asnap_graph_edge_end(g, v)). The offsets are 32 bits wide; a snapshot
	 * with more than 2^32 edges lists in edge_hi the nodes where the offsets
	 * pass each multiple of 2^32 (nedge_hi entries, non-decreasing, usually
	 * none), and the accessors add it back. Use the accessors.
	 */
	uint32_t *edge_off;    /* n + 1 entries: low 32 bits of the offsets */
	uint32_t *edge_hi;
	uint32_t nedge_hi;
	uint32_t *edge_target;
	uint32_t *edge_label;  /* string id, 0 for none */
	/* A bit per edge, set for weak ones (the only other kind in format v1;
	 * use asnap_graph_edge_kind/asnap_graph_edge_is_strong). */
	uint8_t *edge_weak;

	struct asnap_record *records; /* sorted by node id; props live in `arena` */
	uint64_t nrecords;
	struct asnap_root *roots;
	uint64_t nroots;

	char *header_json;     /* the header object, NUL-terminated */
	char *trailer_json;    /* the end record's trailer, or NULL */
	uint64_t file_size;
	uint32_t version;

	struct asnap_reader *strings; /* owns the string table */
	struct asnap_arena arena;

	/*
	 * Reverse adjacency of the strong edges only (weak ones never keep
	 * anything alive), NULL until asnap_graph_index_reverse: the sources of
	 * v's incoming strong edges are rev_source[rev_start[v] ..
	 * rev_start[v+1]), in increasing order, once per edge. The retention
	 * pipeline does not need it.
	 */
	uint32_t *rev_start;   /* n + 1 entries */
	uint32_t *rev_source;
	uint64_t m_strong;     /* strong edges */
};

/* The first edge of v. */
static inline uint64_t asnap_graph_edge_begin(const struct asnap_graph *g, uint32_t v)
{
	uint64_t e = g->edge_off[v];
	for (uint32_t k = 0; k < g->nedge_hi && g->edge_hi[k] <= v; k++)
		e += (uint64_t)1 << 32;
	return e;
}

/* One past the last edge of v. */
static inline uint64_t asnap_graph_edge_end(const struct asnap_graph *g, uint32_t v)
{
	return asnap_graph_edge_begin(g, v + 1);
}

static inline bool asnap_graph_edge_is_weak(const struct asnap_graph *g, uint64_t e)
{
	return (g->edge_weak[e >> 3] >> (e & 7)) & 1;
}

static inline bool asnap_graph_edge_is_strong(const struct asnap_graph *g, uint64_t e)
{
	return !asnap_graph_edge_is_weak(g, e);
}

/* enum asnap_edge_kind of edge e. */
static inline uint8_t asnap_graph_edge_kind(const struct asnap_graph *g, uint64_t e)
{
	return asnap_graph_edge_is_weak(g, e) ? ASNAP_EDGE_WEAK : ASNAP_EDGE_STRONG;
}

/* "No node": larger than any node id (ids stop at 0xFFFFFFFD). */
#define ASNAP_NO_NODE UINT32_MAX

/* Load a whole snapshot. NULL and *err on failure. */
struct asnap_graph *asnap_graph_load(const char *path, struct asnap_error *err);

/* NULL is a no-op. */
void asnap_graph_destroy(struct asnap_graph *g);

/* A string by id; borrowed for the life of the graph. "" for id 0. */
const char *asnap_graph_string(const struct asnap_graph *g, uint32_t id);
const char *asnap_graph_string_len(const struct asnap_graph *g, uint32_t id, size_t *len);

/* The records of node v: *count of them starting at the returned pointer. */
const struct asnap_record *asnap_graph_records(const struct asnap_graph *g, uint32_t v,
					       uint64_t *count);

/*
 * Build the reverse adjacency (rev_start, rev_source) if not built yet.
 * 0, or -1 with *err (out of memory; more than 2^32 - 2 edges).
 */
int asnap_graph_index_reverse(struct asnap_graph *g, struct asnap_error *err);
/* Free the reverse adjacency (e.g. once dominators are computed). */
void asnap_graph_drop_reverse(struct asnap_graph *g);

/*
 * Set the edge offsets of an n-node graph from 64-bit ones (start[v] for
 * v in 0..n, non-decreasing): fills edge_off, edge_hi and nedge_hi. For
 * graphs built in memory. 0, or -1 with *err (out of memory).
 */
int asnap_graph_set_edge_offsets(struct asnap_graph *g, const uint64_t *start,
				 struct asnap_error *err);

/* Strong edges into v; needs the reverse adjacency. */
static inline uint32_t asnap_graph_in_degree(const struct asnap_graph *g, uint32_t v)
{
	return g->rev_start[v + 1] - g->rev_start[v];
}

/* The id of string s in the snapshot's table, 0 if it is not there. */
uint32_t asnap_graph_find_string(const struct asnap_graph *g, const char *s);

/* The node at address addr, or ASNAP_NO_NODE. Linear: for one-off lookups. */
uint32_t asnap_graph_find_addr(const struct asnap_graph *g, uint64_t addr);

/*
 * The edge from v to w to show in a chain: the first strong one with a
 * label, else the first strong one, else the first. UINT64_MAX if none.
 */
uint64_t asnap_graph_edge_between(const struct asnap_graph *g, uint32_t v, uint32_t w);

#endif
