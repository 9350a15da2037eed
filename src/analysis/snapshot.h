/*
 * snapshot.h - one snapshot as the multi-snapshot commands (`leaks`,
 * `diff`, `tasks`) use it: the graph, its asyncio facts, optionally its
 * retention (roots, dominators, retained sizes), the header facts that
 * tell which process it is from, and an index by address that matches its
 * objects to those of another snapshot of the same process.
 */
#ifndef ASNAP_ANALYSIS_SNAPSHOT_H
#define ASNAP_ANALYSIS_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/aio.h"
#include "analysis/retention.h"
#include "graph/graph.h"

struct asnap_snap {
	const char *path;           /* borrowed from the caller */
	struct asnap_graph *g;
	struct asnap_aio aio;
	struct asnap_retention ret;
	bool has_ret;
	int64_t pid;                /* -1 when the header has none */
	double process_start;       /* 0 when the header has none */
	int64_t seq;
	double time;
	uint32_t *addr_slots;       /* open addressing, node + 1; 0 empty */
	uint64_t addr_mask;
};

/*
 * Load path (kept, borrowed), read its asyncio facts and index it by
 * address. NULL with *err on failure.
 */
struct asnap_snap *asnap_snap_load(const char *path, struct asnap_error *err);
/* Compute the retention (roots, dominators, retained sizes) once. 0 or -1. */
int asnap_snap_retention(struct asnap_snap *s, struct asnap_error *err);
/* NULL is a no-op. */
void asnap_snap_destroy(struct asnap_snap *s);

/* The node at addr, or ASNAP_NO_NODE. */
uint32_t asnap_snap_find_addr(const struct asnap_snap *s, uint64_t addr);

/* Both from one process: the same pid and process start time. */
bool asnap_snap_same_process(const struct asnap_snap *a, const struct asnap_snap *b);

/*
 * The object of `in` that is object v of `from`: at the same address, of
 * the same type, with the same stable key (a task's name and coroutine, a
 * coroutine's or frame's qualified name, a handle's callback), so that an
 * address reused by another object is not taken for a survivor. Only
 * meaningful for snapshots of one process. ASNAP_NO_NODE if none.
 */
uint32_t asnap_snap_match(const struct asnap_snap *from, uint32_t v, const struct asnap_snap *in);

#endif
