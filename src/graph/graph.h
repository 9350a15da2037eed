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
};

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

#endif
