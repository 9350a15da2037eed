/*
 * report.h - `asyncsnap report`: one self-contained HTML page with the
 * findings of the leak checks, the task table, a zoomable picture of the
 * top of the dominator tree and every cycle drawn as a small graph
 * (docs/REPORT.md).
 *
 * The page is a fixed shell (src/render/report/: HTML, CSS and script,
 * embedded at build time) around one JSON object, the page's data, which
 * is the only part that depends on the snapshots. Snapshot strings are
 * untrusted: they only ever appear inside that JSON, with every '<'
 * written as \u003c so that nothing in it can end the script element, and
 * the script puts them into the page as text, never as markup.
 */
#ifndef ASNAP_RENDER_REPORT_H
#define ASNAP_RENDER_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis/checks.h"
#include "analysis/retention.h"
#include "analysis/tasks.h"

/* What the page carries at most, so that a heap of millions of objects
 * still makes a page of a few hundred kilobytes. */
struct asnap_report_limits {
	uint32_t nodes;      /* dominator-tree nodes, the largest retainers */
	uint32_t tasks;      /* tasks, the most suspicious first */
	uint32_t cycles;     /* cycles, the largest first */
	uint32_t objects;    /* objects listed per finding, worst first */
	uint32_t cycle_len;  /* objects drawn per cycle */
};

#define ASNAP_REPORT_NODES 3000
#define ASNAP_REPORT_TASKS 500
#define ASNAP_REPORT_CYCLES 50
#define ASNAP_REPORT_OBJECTS 100
#define ASNAP_REPORT_CYCLE_LEN 64

struct asnap_report_view {
	struct asnap_snap **snaps;            /* oldest first; the last has its retention */
	uint32_t nsnap;
	const struct asnap_findings *findings; /* over all of snaps */
	const struct asnap_task_view *tasks;   /* of the last snapshot, most suspicious first */
	uint32_t ntasks;
	const struct asnap_cycle *cycles;      /* of the last snapshot, largest first */
	uint32_t ncycles;
	const struct asnap_cycles_stats *cycle_stats; /* or NULL */
	struct asnap_report_limits limits;
};

/*
 * The page's data as one JSON object (docs/REPORT.md): "snapshots",
 * "checks", "leaks" (as `leaks --json`), "tasks" (as `tasks --json`),
 * "cycles" (as `cycles --json`) and "tree", the top of the dominator tree.
 * Caller frees with cJSON_Delete. NULL with *err when out of memory.
 */
cJSON *asnap_report_data(const struct asnap_report_view *v, struct asnap_error *err);

/* The whole page to out. 0, or -1 with *err (out of memory). */
int asnap_render_report(FILE *out, const struct asnap_report_view *v, struct asnap_error *err);

#endif
