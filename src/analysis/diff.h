/*
 * diff.h - what grew between snapshots (`asyncsnap diff`): objects and
 * bytes by type, coroutines by qualified name, suspended coroutines by
 * suspension site, tasks pending in every snapshot, and - with three or
 * more snapshots of one process - the objects born between the first two
 * and still alive in every later one, clustered by the shape of the chain
 * of references that keeps them (memlab's method): one cluster per chain
 * of (type, label) steps from a root to the topmost born object, with one
 * representative chain each.
 */
#ifndef ASNAP_ANALYSIS_DIFF_H
#define ASNAP_ANALYSIS_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/snapshot.h"

struct asnap_diff_row {
	char *key;        /* type name, qualified name, or "qualname (file:line)" */
	uint64_t *count;  /* per snapshot */
	uint64_t *bytes;  /* per snapshot (shallow) */
	int64_t dcount;   /* last - first */
	int64_t dbytes;
	uint64_t persistent; /* pending_tasks only: of count[last], pending in every snapshot */
};

struct asnap_diff_table {
	struct asnap_diff_row *rows; /* by byte growth, then count growth, descending */
	uint32_t count;
};

struct asnap_diff_cluster {
	uint32_t tops;      /* born objects whose referrer on the chain is older */
	uint64_t objects;   /* born objects under them on the chains */
	uint64_t bytes;     /* their shallow sizes */
	uint64_t retained;  /* retained sizes of the tops */
	uint32_t rep;       /* the representative top (most retained), last snapshot */
	uint32_t *path;     /* root to rep */
	uint32_t path_len;
};

struct asnap_diff {
	uint32_t nsnap;
	bool same_process;
	struct asnap_diff_table types, coros, sites;
	struct asnap_diff_table pending; /* pending tasks per coroutine, with persistent */
	bool has_born;                   /* three or more snapshots of one process */
	uint64_t born_objects, born_bytes;
	struct asnap_diff_cluster *clusters; /* by bytes, descending */
	uint32_t nclusters;
};

/* Compare snaps[0..n) (n >= 2, oldest first). 0, or -1 with *err. */
int asnap_diff_compute(struct asnap_snap **snaps, uint32_t n, struct asnap_diff *d,
		       struct asnap_error *err);
void asnap_diff_release(struct asnap_diff *d);

#endif
