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
	uint64_t *refcnt;
	uint32_t *flags;
	uint64_t *edge_start;  /* n + 1 entries: edges of v are [edge_start[v], edge_start[v+1]) */
	uint32_t *edge_target;
	uint32_t *edge_label;
	uint8_t *edge_kind;

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
	 * rev_start[v+1]), in increasing order, once per edge.
	 */
	uint32_t *rev_start;   /* n + 1 entries */
	uint32_t *rev_source;
	uint64_t m_strong;     /* strong edges */
};

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
