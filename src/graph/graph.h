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

struct cJSON;

/*
 * The columns a graph may hold besides what it always holds (the edges'
 * offsets, targets and kinds, the roots, the strings and the header). A
 * column not loaded is NULL. See asnap_graph_load_columns.
 */
enum asnap_graph_column {
	ASNAP_COL_ADDR = 1u << 0,
	ASNAP_COL_TYPE = 1u << 1,
	ASNAP_COL_SIZE = 1u << 2,
	ASNAP_COL_REFCNT = 1u << 3,
	ASNAP_COL_FLAGS = 1u << 4,
	ASNAP_COL_LABEL = 1u << 5,   /* edge_label */
	ASNAP_COL_RECORDS = 1u << 6, /* records, nrecords */
	ASNAP_COL_ALL = (1u << 7) - 1,
};

struct asnap_big_size {
	uint32_t node;
	uint64_t size;
};

struct asnap_graph {
	uint32_t n;            /* nodes */
	uint64_t m;            /* edges */
	uint64_t *addr;
	uint32_t *type;        /* string id */
	/* Shallow sizes: use asnap_graph_size. Four bytes a node; the rare
	 * size of 2^32 - 1 or more is UINT32_MAX here and, exact, in size_big
	 * (by node, increasing). */
	uint32_t *size32;
	struct asnap_big_size *size_big;
	uint32_t nsize_big;
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

	/* Parsed once, at load: the header (always a JSON object: a file whose
	 * header is not one is refused) and the end record's trailer (NULL
	 * when absent or not an object). Read them; never parse the file's
	 * text again. */
	struct cJSON *header;
	struct cJSON *trailer;
	uint64_t file_size;
	uint32_t version;
	uint32_t columns;      /* enum asnap_graph_column: those loaded */

	struct asnap_reader *strings; /* owns the string table */
	struct asnap_arena arena;
	uint64_t charged;      /* bytes charged to asnap_graph_budget.meter */

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

/*
 * The memory budget of the graphs of this process (a command sets it once,
 * from --max-memory, before loading anything): every load charges to
 * `meter` what the file makes it hold (the reader's string table and
 * buffers, the columns, the edges, records and roots), plus the working
 * memory the analyses to come will need, node_work bytes per node and
 * edge_work per edge, as each node and edge is read; a load that would
 * take more than meter.limit fails with ASNAP_ERR_BUDGET before allocating
 * it. So does one whose header declares (objects, edges) more than that.
 * A graph gives its charge back when destroyed. The default: no limit,
 * no work.
 */
struct asnap_graph_budget {
	struct asnap_budget meter;
	uint32_t node_work;
	uint32_t edge_work;
};
extern struct asnap_graph_budget asnap_graph_budget;

/* Working memory of the retention pipeline (roots, components, dominators,
 * retained sizes) and the reverse index, per node and per edge: what
 * dominators, cycles, path, leaks, tasks, report and diff run. */
#define ASNAP_WORK_RETENTION_NODE 48u
#define ASNAP_WORK_RETENTION_EDGE 4u

/*
 * Bytes a graph of n nodes and m edges needs with `columns` loaded
 * (ASNAP_COL_*, records not counted), plus the work per node and edge of
 * asnap_graph_budget.
 */
uint64_t asnap_graph_estimate(uint64_t n, uint64_t m, uint32_t columns);

/* A size of UINT32_MAX or more (in g->size_big). */
uint64_t asnap_graph_big_size(const struct asnap_graph *g, uint32_t v);

/* The shallow size of v, in bytes. */
static inline uint64_t asnap_graph_size(const struct asnap_graph *g, uint32_t v)
{
	uint32_t s = g->size32[v];
	return s != UINT32_MAX ? s : asnap_graph_big_size(g, v);
}

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

/*
 * Load a snapshot with only some of its columns (ASNAP_COL_*; the edges,
 * roots, strings and header always), to need less memory while the others
 * are not needed. NULL and *err on failure.
 */
struct asnap_graph *asnap_graph_load_columns(const char *path, uint32_t columns,
					     struct asnap_error *err);

/*
 * Load the columns of `columns` that g does not hold, by reading its file
 * again (through the descriptor opened by the first load, so a file renamed
 * over it since does not matter). The file must still hold the same graph:
 * one changed in place since is an error. 0, or -1 with *err (g unchanged,
 * save for columns partly filled being released).
 */
int asnap_graph_load_more(struct asnap_graph *g, uint32_t columns, struct asnap_error *err);

/* Free these columns (they become NULL) until loaded again. */
void asnap_graph_release_columns(struct asnap_graph *g, uint32_t columns);

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
/*
 * The ids a search for a string named like an identifier (not "[i]") needs
 * to look at: 1 .. this. The strings "[0]" ... a format 2 file's reader
 * defines after the file's own (asnap_reader_index_base) are left out: a
 * list of 5M items has 5M of them.
 */
uint32_t asnap_graph_named_strings(const struct asnap_graph *g);

/* The node at address addr, or ASNAP_NO_NODE. Linear: for one-off lookups. */
uint32_t asnap_graph_find_addr(const struct asnap_graph *g, uint64_t addr);

/*
 * The edge from v to w to show in a chain: the first strong one with a
 * label, else the first strong one, else the first. UINT64_MAX if none.
 */
uint64_t asnap_graph_edge_between(const struct asnap_graph *g, uint32_t v, uint32_t w);

/*
 * asnap_graph_edge_between for many pairs: a node with many references (a
 * set of 100k tasks) is scanned once into a table of its targets, kept for
 * the finder's life, so that n lookups into it cost O(n), not O(n * its
 * degree). Same answers as asnap_graph_edge_between. Zero-initialize;
 * release with asnap_edge_finder_release. Out of memory: it scans.
 */
struct asnap_edge_finder {
	const struct asnap_graph *g;
	struct asnap_edge_table *tables; /* per source of high degree */
	uint32_t ntables, cap;
	uint32_t *index;                 /* open addressing: table number + 1, 0 empty */
	uint32_t index_mask;
	uint64_t entries;                /* all tables' slots, against a cap */
};
uint64_t asnap_edge_finder_find(struct asnap_edge_finder *f, const struct asnap_graph *g,
				uint32_t v, uint32_t w);
void asnap_edge_finder_release(struct asnap_edge_finder *f);

#endif
