/*
 * pending_task.c - the pending-task check: tasks that wait on a future
 * nothing live can resolve (orphaned awaits, certain from one snapshot;
 * see tasks.h), and tasks of a coroutine that stay pending and grow in
 * number across snapshots. The program's main task is never reported, nor
 * the tasks of the connections a server's pool keeps open. Tasks that
 * wait to acquire an asyncio lock or semaphore say so, with the fix for
 * one acquired and never released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"

static const char ACQUIRE_FIX[] =
	"release what is acquired on every path: async with lock: (or acquire() then "
	"try/finally: release()); a lock or semaphore slot never released leaves every "
	"later acquire() waiting";

/* The type of the asyncio lock or semaphore whose waiters (its _waiters
 * deque, in its __dict__ on 3.9 and 3.10) hold future f, or NULL. */
static const char *acquiring(const struct asnap_snap *s, uint32_t f, uint32_t waiters,
			     uint32_t dict)
{
	const struct asnap_graph *g = s->g;
	if (!g->rev_start || f >= g->n || !waiters)
		return NULL;
	for (uint32_t k = g->rev_start[f]; k < g->rev_start[f + 1]; k++) {
		uint32_t d = g->rev_source[k];
		if (!asnap_string_eq(g, g->type[d], "collections.deque"))
			continue;
		for (uint32_t j = g->rev_start[d]; j < g->rev_start[d + 1]; j++) {
			uint32_t p = g->rev_source[j];
			uint64_t e = asnap_graph_edge_between(g, p, d);
			if (e == UINT64_MAX || g->edge_label[e] != waiters)
				continue;
			/* the instance whose __dict__ p is */
			for (uint32_t i = g->rev_start[p]; dict && i < g->rev_start[p + 1]; i++) {
				uint64_t x = asnap_graph_edge_between(g, g->rev_source[i], p);
				if (x != UINT64_MAX && g->edge_label[x] == dict)
					p = g->rev_source[i];
			}
			const char *t = node_type(s, p);
			if (!strcmp(t, "asyncio.locks.Semaphore") ||
			    !strcmp(t, "asyncio.locks.BoundedSemaphore") ||
			    !strcmp(t, "asyncio.locks.Lock"))
				return t;
		}
	}
	return NULL;
}

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
	uint32_t waiters = last ? asnap_graph_find_string(s->g, "_waiters") : 0;
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
		struct group *g = group_add(gr, snap, key, t->node, last && ctx->orphaned[i], site);
		if (!g) {
			free(main);
			return nomem(ctx);
		}
		const char *lock = waiters && !g->detail
					   ? acquiring(s, t->waiting_on, waiters, s->aio.dict_label)
					   : NULL;
		if (lock) {
			g->detail = lock;
			g->fix = ACQUIRE_FIX;
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
		snprintf(buf, len,
			 "tasks of %s() stay pending and pile up: %s across the snapshots%s%s%s%s",
			 key, growth_text(ctx, g, growth, sizeof(growth)),
			 g->detail ? ", waiting to acquire an " : "", g->detail ? g->detail : "",
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
