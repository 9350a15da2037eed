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

/* Holders looked at, per object, on the way from a future to the lock
 * or semaphore whose waiters hold it: a waiters deque is held by its
 * owner or its owner's __dict__, a future by its deque and its task; an
 * Event that 200k coroutines hold is not looked through. */
#define HOLDERS_MAX 8

/* acquiring()'s labels, and its answer for the last deque it looked at
 * (the tasks waiting on one lock share it) */
struct acquiring {
	uint32_t waiters, dict;
	uint32_t deque;
	const char *type;
};

/* The type of the asyncio lock or semaphore whose waiters (its _waiters
 * deque, in its __dict__ on 3.9 and 3.10) hold future f, or NULL. */
static const char *acquiring(const struct asnap_snap *s, uint32_t f, struct acquiring *m)
{
	const struct asnap_graph *g = s->g;
	if (!g->rev_start || f >= g->n || !m->waiters)
		return NULL;
	for (uint32_t k = g->rev_start[f], kn = 0; k < g->rev_start[f + 1] && kn < HOLDERS_MAX;
	     k++, kn++) {
		uint32_t d = g->rev_source[k];
		if (!asnap_string_eq(g, g->type[d], "collections.deque"))
			continue;
		if (d == m->deque)
			return m->type;
		m->deque = d;
		m->type = NULL;
		for (uint32_t j = g->rev_start[d], jn = 0;
		     j < g->rev_start[d + 1] && jn < HOLDERS_MAX && !m->type; j++, jn++) {
			uint32_t p = g->rev_source[j];
			uint64_t e = asnap_graph_edge_between(g, p, d);
			if (e == UINT64_MAX || g->edge_label[e] != m->waiters)
				continue;
			/* the instance whose __dict__ p is */
			if (m->dict && asnap_string_eq(g, g->type[p], "builtins.dict"))
				for (uint32_t i = g->rev_start[p], in = 0;
				     i < g->rev_start[p + 1] && in < HOLDERS_MAX; i++, in++) {
					uint64_t x = asnap_graph_edge_between(g, g->rev_source[i], p);
					if (x != UINT64_MAX && g->edge_label[x] == m->dict) {
						p = g->rev_source[i];
						break;
					}
				}
			const char *t = node_type(s, p);
			if (!strcmp(t, "asyncio.locks.Semaphore") ||
			    !strcmp(t, "asyncio.locks.BoundedSemaphore") ||
			    !strcmp(t, "asyncio.locks.Lock"))
				m->type = t;
		}
		return m->type;
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
	struct acquiring acq = {.waiters = last ? asnap_graph_find_string(s->g, "_waiters") : 0,
				.dict = s->aio.dict_label, .deque = ASNAP_NO_NODE};
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
		const char *lock = !g->detail ? acquiring(s, t->waiting_on, &acq) : NULL;
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
