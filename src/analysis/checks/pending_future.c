/*
 * pending_future.c - the pending-future check: futures (not tasks) never
 * resolved that persist across snapshots and grow in number, grouped by
 * the coroutine that awaits them (or as not awaited at all). From one
 * snapshot alone nothing is certain about a future, so this check needs
 * two or more; a task stuck on an unresolvable future is reported by
 * pending-task from one. A future that is part of a connection idle in a
 * library's pool (its protocol's "closed" future) lives as long as the
 * pool keeps it: unclosed-resource judges the pool, so it is not counted
 * here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"

#define NOT_AWAITED "<not awaited>"

int pending_future_scan(struct grouping *gr, uint32_t snap, void *state)
{
	(void)state;
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	/* per future: the coroutine that awaits it */
	uint32_t *awaiter = malloc(((size_t)a->nfutures + 1) * sizeof(*awaiter));
	if (!awaiter)
		return nomem(ctx);
	memset(awaiter, 0xff, ((size_t)a->nfutures + 1) * sizeof(*awaiter));
	for (uint32_t i = 0; i < a->ncoros; i++) {
		uint32_t f = a->coros[i].awaiting;
		if (f < s->g->n && a->kind[f] == ASNAP_AIO_FUTURE)
			awaiter[asnap_aio_index(a, f)] = a->coros[i].node;
	}
	for (uint32_t i = 0; i < a->ntasks; i++) {
		uint32_t f = a->tasks[i].waiting_on;
		if (f < s->g->n && a->kind[f] == ASNAP_AIO_FUTURE &&
		    awaiter[asnap_aio_index(a, f)] == ASNAP_NO_NODE)
			awaiter[asnap_aio_index(a, f)] = asnap_aio_leaf_coro(a, a->tasks[i].coro, 64);
	}
	uint8_t *part;
	if (pooled_parts(ctx, snap, &part) < 0) {
		free(awaiter);
		return -1;
	}
	char site[512];
	int rc = 0;
	for (uint32_t i = 0; i < a->nfutures; i++) {
		if (a->futures[i].state != ASNAP_FUT_PENDING || (part[a->futures[i].node] & 1))
			continue;
		/* (awaited by a pooled connection's own task: as that task) */
		uint32_t by = s->future_task[i];
		if (by != ASNAP_NO_NODE && (part[by] & 2))
			continue;
		/* named and placed by the awaiting task's innermost coroutine in
		 * the program's own code (not asyncio's Event.wait) */
		uint32_t task = s->future_task[i];
		uint32_t at = task != ASNAP_NO_NODE ? asnap_snap_site_node(s, task) : awaiter[i];
		const struct asnap_aio_coro *c = asnap_aio_coro(a, at);
		if (!c)
			c = asnap_aio_coro(a, awaiter[i]);
		const char *key = c && c->qualname ? asnap_graph_string(s->g, c->qualname) : NOT_AWAITED;
		site[0] = 0;
		if (c)
			asnap_snap_own_site(s, c->node, site, sizeof(site));
		if (!group_add(gr, snap, key, a->futures[i].node, false, site)) {
			rc = nomem(ctx);
			break;
		}
	}
	free(awaiter);
	return rc;
}

void pending_future_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
			    uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	growth_text(ctx, g, growth, sizeof(growth));
	if (!strcmp(key, NOT_AWAITED))
		snprintf(buf, len,
			 "futures that nothing awaits are never resolved and pile up: %s across the "
			 "snapshots",
			 growth);
	else
		snprintf(buf, len,
			 "futures awaited by %s() are never resolved and pile up: %s across the "
			 "snapshots%s%s",
			 key, growth, g->site ? ", at " : "", g->site ? g->site : "");
	(void)count;
	(void)grew;
}
