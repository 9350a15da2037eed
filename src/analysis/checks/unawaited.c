/*
 * unawaited.c - the unawaited-coroutine check: coroutines in state
 * "created" that no task, handle or future will ever run.
 *
 * A created coroutine is owned when it is a task's coroutine or a scheduled
 * handle leads to it within three references (call_soon_threadsafe,
 * run_coroutine_threadsafe, a functools.partial, a lambda's closure): those
 * will run. One held directly by a frame or a live coroutine, or in a
 * list, tuple, dict or set that code which runs again holds in a local,
 * may be awaited in a moment, and
 * one in an asyncio queue waits for the consumer that gets it (a job queue
 * of coroutines), so those are only reported when their group grows
 * across snapshots; anything else (kept in a list, an attribute, a
 * closure) is reported from one snapshot.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/checks/internal.h"
#include "util/bigarray.h"

enum { OWNED = 1, NEAR_FRAME = 2 };

/* What a scheduled handle leads to, within `depth` strong references; a
 * function's closure (its __closure__ tuple, then a cell) counts as one,
 * like an attribute: call_later(d, lambda: ensure_future(coro)) runs coro.
 * `cells` bounds the closures followed through (a closure may hold its own
 * function). */
static void own_from(const struct asnap_snap *s, uint8_t *mark, uint32_t v, unsigned depth,
		     const uint32_t *ids, unsigned cells)
{
	const struct asnap_graph *g = s->g;
	for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
		if (!asnap_graph_edge_is_strong(g, e))
			continue;
		uint32_t w = g->edge_target[e];
		if (s->aio.kind[w] == ASNAP_AIO_CORO)
			mark[w] |= OWNED;
		else if (ids[0] && g->edge_label[e] == ids[0] && cells)
			own_from(s, mark, w, depth + 1, ids, cells - 1); /* the tuple: free */
		else if (ids[1] && g->type[w] == ids[1] && cells)
			own_from(s, mark, w, depth, ids, cells - 1);     /* a cell: free */
		else if (depth > 1)
			own_from(s, mark, w, depth - 1, ids, cells);
	}
}

/* The coroutines an asyncio queue holds for its consumers: in its _queue
 * (a deque, or the list of a PriorityQueue or LifoQueue), as items or in
 * (priority, coroutine) tuples; its attributes may sit in its __dict__. */
static void queued(const struct asnap_snap *s, uint8_t *mark, uint32_t v, unsigned depth)
{
	const struct asnap_graph *g = s->g;
	for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
		uint32_t w = g->edge_target[e];
		uint8_t k = s->aio.kind[w];
		if (!asnap_graph_edge_is_strong(g, e))
			continue;
		if (k == ASNAP_AIO_CORO)
			mark[w] |= NEAR_FRAME;
		else if (depth > 1 && k == ASNAP_AIO_NONE)
			queued(s, mark, w, depth - 1);
	}
}

/* The coroutines in container v, a local of code that runs again. */
static void in_local(const struct asnap_snap *s, uint8_t *mark, uint32_t v)
{
	const struct asnap_graph *g = s->g;
	for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++)
		if (asnap_graph_edge_is_strong(g, e) && s->aio.kind[g->edge_target[e]] == ASNAP_AIO_CORO)
			mark[g->edge_target[e]] |= NEAR_FRAME;
}

int unawaited_scan(struct grouping *gr, uint32_t snap, void *state)
{
	(void)state;
	const struct asnap_snap *s = gr->ctx->snaps[snap];
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	uint8_t *mark = asnap_big_zalloc((size_t)g->n + 1, 1);
	if (!mark)
		return nomem(gr->ctx);
	for (uint32_t i = 0; i < a->ntasks; i++)
		if (a->tasks[i].coro < g->n)
			mark[a->tasks[i].coro] |= OWNED;
	static const char *const closure_names[] = {"__closure__", "builtins.cell"};
	uint32_t closure[2];
	asnap_strings_resolve(g, closure_names, closure, 2);
	if (!g->edge_label)
		closure[0] = 0;
	for (uint32_t i = 0; i < a->nhandles; i++)
		if (!a->handles[i].cancelled)
			own_from(s, mark, a->handles[i].node, 3, closure, 4);
	static const char *const queue_types[] = {"asyncio.queues.Queue", "asyncio.queues.PriorityQueue",
						  "asyncio.queues.LifoQueue"};
	uint32_t qt[3];
	asnap_strings_resolve(g, queue_types, qt, 3);
	for (uint32_t v = 0; v < g->n && (qt[0] || qt[1] || qt[2]); v++)
		if (g->type[v] && (g->type[v] == qt[0] || g->type[v] == qt[1] || g->type[v] == qt[2]))
			queued(s, mark, v, 4);
	/* held only from outside the snapshot (another thread's frame, in a
	 * fork-mode snapshot): as near a frame as it gets */
	if (snap + 1 == gr->ctx->nsnap) {
		uint8_t *outside = held_from_outside(s);
		if (!outside) {
			free(mark);
			return nomem(gr->ctx);
		}
		for (uint32_t v = 0; v < g->n; v++)
			if (outside[v] && a->kind[v] == ASNAP_AIO_CORO)
				mark[v] |= NEAR_FRAME;
		free(outside);
	}
	/* held directly by a frame or a live coroutine, or in a list, tuple,
	 * dict or set that code which runs again holds in a local (a request
	 * gathers its batch once a semaphore lets it) */
	for (uint32_t v = 0; v < g->n; v++) {
		uint8_t k = a->kind[v];
		if (k == ASNAP_AIO_CORO) {
			uint8_t st = a->coros[asnap_aio_index(a, v)].state;
			if (st == ASNAP_GEN_CLOSED || st == ASNAP_GEN_CREATED)
				continue;
		} else if (k != ASNAP_AIO_FRAME) {
			continue;
		}
		/* a frame's own generator (3.9, 3.10) does not count */
		uint32_t own = k == ASNAP_AIO_FRAME ? a->frames[asnap_aio_index(a, v)].generator : ASNAP_NO_NODE;
		bool live = asnap_aio_runs_again(a, v);
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t w = g->edge_target[e];
			if (w != own && a->kind[w] == ASNAP_AIO_CORO)
				mark[w] |= NEAR_FRAME;
			else if (live && a->kind[w] == ASNAP_AIO_NONE && asnap_graph_edge_is_strong(g, e) &&
				 is_container_type(node_type(s, w)))
				in_local(s, mark, w);
		}
	}
	char site[512];
	for (uint32_t i = 0; i < a->ncoros; i++) {
		const struct asnap_aio_coro *c = &a->coros[i];
		if (c->kind != ASNAP_GEN_COROUTINE || c->state != ASNAP_GEN_CREATED ||
		    (mark[c->node] & OWNED))
			continue;
		const char *key = c->qualname ? asnap_graph_string(g, c->qualname) : "<coroutine>";
		if (!group_add(gr, snap, key, c->node, !(mark[c->node] & NEAR_FRAME),
			       site_of(s, c->node, site, sizeof(site)))) {
			free(mark);
			return nomem(gr->ctx);
		}
	}
	free(mark);
	return 0;
}

void unawaited_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
		       uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	if (grew)
		snprintf(buf, len,
			 "coroutines %s() created and never awaited pile up: %s across the snapshots",
			 key, growth_text(ctx, g, growth, sizeof(growth)));
	else
		snprintf(buf, len,
			 "%u coroutine%s %s() created and never awaited: no task, handle or future will "
			 "run %s",
			 count, count == 1 ? "" : "s", key, count == 1 ? "it" : "them");
}
