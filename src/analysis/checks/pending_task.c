/*
 * pending_task.c - the pending-task check: tasks that wait on a future
 * nothing live can resolve (orphaned awaits, certain from one snapshot;
 * see tasks.h), and tasks of a coroutine that stay pending and grow in
 * number across snapshots. The program's main task is never reported, nor
 * the tasks of the connections a server's pool keeps open.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/checks/internal.h"

int pending_task_scan(struct grouping *gr, uint32_t snap, void *state)
{
	(void)state;
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	bool last = snap + 1 == ctx->nsnap;
	uint8_t *main = calloc((size_t)a->ntasks + 1, 1);
	if (!main)
		return nomem(ctx);
	uint8_t *part;
	if (pooled_parts(ctx, snap, &part) < 0) {
		free(main);
		return -1;
	}
	asnap_tasks_mark_main(s, main);
	char site[512];
	for (uint32_t i = 0; i < a->ntasks; i++) {
		const struct asnap_aio_task *t = &a->tasks[i];
		if (t->state != ASNAP_FUT_PENDING || main[i])
			continue;
		/* (one that can never finish is reported all the same) */
		if ((part[t->node] & 2) && !(last && ctx->orphaned[i]))
			continue;
		const struct asnap_aio_coro *c = asnap_aio_coro(a, t->coro);
		const char *key = c && c->qualname ? asnap_graph_string(s->g, c->qualname)
						   : "<task without a coroutine>";
		site_of(s, t->node, site, sizeof(site)); /* in the program's own code */
		if (!group_add(gr, snap, key, t->node, last && ctx->orphaned[i], site)) {
			free(main);
			return nomem(ctx);
		}
	}
	free(main);
	return 0;
}

void pending_task_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
			  uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	if (grew)
		snprintf(buf, len, "tasks of %s() stay pending and pile up: %s across the snapshots%s%s",
			 key, growth_text(ctx, g, growth, sizeof(growth)),
			 g->site ? ", suspended at " : "", g->site ? g->site : "");
	else
		snprintf(buf, len,
			 "%u task%s of %s() can never finish: %s on a future that nothing live can "
			 "resolve (orphaned await)%s%s",
			 g->ncertain, g->ncertain == 1 ? "" : "s", key,
			 g->ncertain == 1 ? "it waits" : "each waits", g->site ? ", at " : "",
			 g->site ? g->site : "");
	(void)count;
}
