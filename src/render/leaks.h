/*
 * leaks.h - output of `leaks`, `tasks` and `diff`, as text and as JSON
 * (fields in docs/CHECKS.md and docs/ANALYZE.md).
 */
#ifndef ASNAP_RENDER_LEAKS_H
#define ASNAP_RENDER_LEAKS_H

#include <stdio.h>

#include "analysis/checks.h"
#include "analysis/diff.h"
#include "analysis/tasks.h"

struct asnap_leaks_view {
	struct asnap_snap **snaps;
	uint32_t nsnap;
	const struct asnap_findings *findings;
	unsigned show;        /* objects listed per finding in the text form */
};

struct asnap_tasks_render {
	const struct asnap_snap *s;
	const struct asnap_task_view *tasks;
	uint32_t count;
	bool each; /* text: one block per task, even for tasks alike */
};

struct asnap_diff_view {
	struct asnap_snap **snaps;
	uint32_t nsnap;
	const struct asnap_diff *d;
	unsigned top;         /* rows per table */
};

/* Each returns 0, or -1 when out of memory. */
int asnap_render_leaks_text(FILE *out, const struct asnap_leaks_view *v);
int asnap_render_leaks_json(FILE *out, const struct asnap_leaks_view *v);
int asnap_render_tasks_text(FILE *out, const struct asnap_tasks_render *v);
int asnap_render_tasks_json(FILE *out, const struct asnap_tasks_render *v);
int asnap_render_diff_text(FILE *out, const struct asnap_diff_view *v);
int asnap_render_diff_json(FILE *out, const struct asnap_diff_view *v);

#endif
