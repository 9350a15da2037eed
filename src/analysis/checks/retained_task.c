/*
 * retained_task.c - the retained-task check: finished (or cancelled) tasks
 * that application containers keep alive, with their coroutines, results
 * and exceptions. From one snapshot: at least RETAINED_MIN finished tasks
 * in one set, list, dict or deque that is not a local of a running frame
 * (a batch just gathered is fine), unless several snapshots show that
 * pile not growing (a bounded cache of tasks). Across snapshots: finished tasks of a coroutine that grow in
 * number and persist. Garbage is not counted.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/checks/internal.h"
#include "util/order.h"

#define RETAINED_MIN 100


static bool done(const struct asnap_aio_task *t)
{
	return t->state == ASNAP_FUT_FINISHED || t->state == ASNAP_FUT_CANCELLED;
}

/* certain[i] for the tasks of the last snapshot piled up in one container */
static int piled_up(const struct check_ctx *ctx, uint8_t *certain)
{
	const struct asnap_snap *s = ctx->last;
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	const uint32_t *idom = s->ret.dom.idom;
	struct asnap_pair *h = malloc(((size_t)a->ntasks + 1) * sizeof(*h));
	uint8_t *outside = held_from_outside(s);
	if (!h || !outside) {
		free(h);
		free(outside);
		return -1;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->ntasks; i++) {
		uint32_t v = a->tasks[i].node, d = idom[v];
		if (!done(&a->tasks[i]) || asnap_dom_is_garbage(&s->ret.dom, v) || d == g->n ||
		    !is_container_type(node_type(s, d)))
			continue;
		uint32_t up = idom[d];
		if ((up != g->n && (a->kind[up] == ASNAP_AIO_FRAME || a->kind[up] == ASNAP_AIO_CORO)) ||
		    outside[d])
			continue; /* a local of a running frame (or of another thread's,
				   * held from outside): a batch being gathered */
		h[n++] = (struct asnap_pair){d, i}; /* holder, task index */
	}
	if (n > 1)
		qsort(h, n, sizeof(*h), asnap_pair_cmp);
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i;
		while (j < n && h[j].key == h[i].key)
			j++;
		if (j - i >= RETAINED_MIN)
			for (uint32_t k = i; k < j; k++)
				certain[h[k].val] = 1;
		i = j;
	}
	free(h);
	free(outside);
	return 0;
}

int retained_task_scan(struct grouping *gr, uint32_t snap, void *state)
{
	const uint8_t *certain = state;
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	bool last = snap + 1 == ctx->nsnap;
	char site[512];
	for (uint32_t i = 0; i < a->ntasks; i++) {
		const struct asnap_aio_task *t = &a->tasks[i];
		if (!done(t) || (last && asnap_dom_is_garbage(&s->ret.dom, t->node)))
			continue;
		const struct asnap_aio_coro *c = asnap_aio_coro(a, t->coro);
		const char *key = c && c->qualname ? asnap_graph_string(s->g, c->qualname)
						   : "<task without a coroutine>";
		site[0] = 0;
		if (c && c->file)
			snprintf(site, sizeof(site), "%s:%lld", asnap_graph_string(s->g, c->file),
				 (long long)c->first_line);
		if (!group_add(gr, snap, key, t->node, last && certain[i], site))
			return nomem(ctx);
	}
	return 0;
}

void retained_task_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
			   uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	if (grew)
		snprintf(buf, len,
			 "finished tasks of %s() are kept alive and pile up: %s across the snapshots",
			 key, growth_text(ctx, g, growth, sizeof(growth)));
	else
		snprintf(buf, len,
			 "%u finished tasks of %s() kept alive by a container, with their results and "
			 "exceptions",
			 count, key);
}

/* state: per task of the last snapshot, whether it is certain (piled_up) */
int retained_task_prepare(struct check_ctx *ctx, void **state)
{
	uint8_t *certain = calloc((size_t)ctx->last->aio.ntasks + 1, 1);
	if (!certain || piled_up(ctx, certain) < 0) {
		free(certain);
		return nomem(ctx);
	}
	*state = certain;
	return 0;
}
