/*
 * retention.h - output of `dominators`, `cycles` and `path`, as text and as
 * JSON (fields in docs/ANALYZE.md).
 */
#ifndef ASNAP_RENDER_RETENTION_H
#define ASNAP_RENDER_RETENTION_H

#include <stdio.h>

#include "analysis/retention.h"
#include "analysis/snapshot.h"

struct asnap_dominators_view {
	const struct asnap_snap *s;   /* with its retention layer */
	unsigned top;         /* rows of the top retainers; children per tree node */
	unsigned depth;       /* levels of the tree */
	const char *type;     /* only objects of this type, or NULL */
};

struct asnap_cycles_view {
	const struct asnap_snap *s;   /* with its retention layer */
	const struct asnap_cycle *cycles;
	uint32_t count;
	const struct asnap_cycles_stats *stats; /* or NULL */
};

struct asnap_path_view {
	const struct asnap_snap *s;   /* with its retention layer */
	uint32_t target;
	const uint32_t *nodes; /* root first, target last */
	uint32_t len;
};

/* Each returns 0, or -1 when out of memory. */
int asnap_render_dominators_text(FILE *out, const struct asnap_dominators_view *v);
int asnap_render_dominators_json(FILE *out, const struct asnap_dominators_view *v);
int asnap_render_cycles_text(FILE *out, const struct asnap_cycles_view *v);
int asnap_render_cycles_json(FILE *out, const struct asnap_cycles_view *v);
int asnap_render_path_text(FILE *out, const struct asnap_path_view *v);
int asnap_render_path_json(FILE *out, const struct asnap_path_view *v);

/*
 * How these renderers name things, for the other renderers of retention
 * (DOT, collapsed stacks). Strings are borrowed from the graph, or written
 * to buf (cut to len); they are the snapshot's bytes, unescaped.
 */
/* A task's name or a code object's qualified name from v's records, or NULL. */
const char *asnap_render_node_name(const struct asnap_graph *g, uint32_t v);
/* "coroutine fetch", "_asyncio.Task 'watch-3'", "list" (builtins bare). */
void asnap_render_node_describe(const struct asnap_graph *g, uint32_t v, char *buf, size_t len);
/* Why root r->roots.items[idx] is one: "thread thread 1234 frame 0",
 * "dict of module 0x7f...", "held from outside the snapshot (refcount 3)". */
void asnap_render_root_describe(const struct asnap_retention *r, uint32_t idx, char *buf,
				size_t len);
/* The root kind of v ("thread", "module", "external", "unreachable"), or
 * NULL if v is no root. */
const char *asnap_render_root_kind(const struct asnap_retention *r, uint32_t v);

/* Whether a node's type is `type`: the full name, or the part after the
 * last '.' ("list" for "builtins.list"). */
bool asnap_type_matches(const char *full, const char *type);

#endif
