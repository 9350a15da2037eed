/*
 * uncancelled_handle.c - the uncancelled-handle check: handles and timer
 * handles (call_soon, call_later, call_at) never cancelled, grouped by
 * their callback, that persist and grow in number across snapshots, or
 * that number UNCANCELLED_PILE_MIN or more for one callback in a single
 * snapshot.
 *
 * The reader and writer handles a selector event loop registers for each
 * open transport (held by the selector's keys; uvloop's add_reader handles
 * by its UVPoll objects) are not scheduled callbacks
 * at all: they live exactly as long as the transport is open, which is
 * unclosed-resource's business, so they are never counted here; nor are
 * the handles in a loop's ready queue, which run at its next iteration.
 * A timer that will fire by itself says when ("firing in 290-300 s").
 * Several snapshots of a pile that does not grow (one cancellable idle
 * timer per live session) are no finding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "util/bigarray.h"

#define SELF_FIRING 600.0

/* Mark the handles the selector's keys hold: SelectorKey -> data (a
 * (reader, writer) tuple) -> handle. */
static uint8_t *selector_handles(const struct asnap_snap *s)
{
	const struct asnap_graph *g = s->g;
	uint8_t *mark = asnap_big_zalloc((size_t)g->n + 1, 1);
	if (!mark)
		return NULL;
	/* asyncio's selector keys, and uvloop's pollers of add_reader() fds */
	uint32_t key_type = asnap_graph_find_string(g, "selectors.SelectorKey");
	uint32_t poll_type = asnap_graph_find_string(g, "uvloop.loop.UVPoll");
	if (!key_type && !poll_type)
		return mark;
	for (uint32_t v = 0; v < g->n; v++) {
		if (!g->type[v] || (g->type[v] != key_type && g->type[v] != poll_type))
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t w = g->edge_target[e];
			if (asnap_aio_handle(&s->aio, w))
				mark[w] = 1;
			for (uint64_t f = asnap_graph_edge_begin(g, w); f < asnap_graph_edge_end(g, w); f++)
				if (asnap_aio_handle(&s->aio, g->edge_target[f]))
					mark[g->edge_target[f]] = 1;
		}
	}
	return mark;
}

/* Mark the handles waiting in a loop's ready queue: they run at its next
 * iteration (a burst of call_soon_threadsafe from a thread), so they
 * cannot pile up however many there are. */
static void ready_handles(const struct asnap_snap *s, uint8_t *mark)
{
	const struct asnap_graph *g = s->g;
	for (uint32_t i = 0; i < s->aio.nloops; i++) {
		uint32_t q = s->aio.loops[i].ready;
		if (q >= g->n)
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, q); e < asnap_graph_edge_end(g, q); e++)
			if (asnap_aio_handle(&s->aio, g->edge_target[e]))
				mark[g->edge_target[e]] = 1;
	}
}

/* When a timer fires, in loop time; 0 if unknown (no `when`, or a whole
 * number only the "_when" attribute has: call_at(ceil(...))). */
static double timer_when(const struct asnap_snap *s, const struct asnap_aio_handle *h,
			 uint32_t when_id)
{
	if (!h->timer || h->when)
		return h->when;
	struct asnap_attr at = asnap_aio_attr(&s->aio, h->node, when_id);
	return at.kind == ASNAP_ATTR_INT ? (double)at.i : at.kind == ASNAP_ATTR_FLOAT ? at.f : 0;
}

/*
 * A timer due within SELF_FIRING seconds bounds itself: however many a
 * program arms, each is gone when it fires (asyncpg's inactivity timer of
 * 300 s, still armed after pool.close(); aiohttp's keep-alive timers). Only
 * timers set further out - an hour's expiry per request - pile up.
 */
static bool fires_soon(const struct asnap_snap *s, const struct asnap_aio_handle *h,
		       uint32_t when_id)
{
	double when = s->monotonic ? timer_when(s, h, when_id) : 0;
	return when && when - s->monotonic < SELF_FIRING;
}

int uncancelled_handle_scan(struct grouping *gr, uint32_t snap, void *state)
{
	(void)state;
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	char key[512];
	uint32_t when_id = asnap_graph_find_string(s->g, "_when");
	uint8_t *skip = selector_handles(s); /* registered for a transport, or ready */
	if (!skip)
		return nomem(ctx);
	ready_handles(s, skip);
	for (uint32_t i = 0; i < a->nhandles; i++) {
		const struct asnap_aio_handle *h = &a->handles[i];
		/* a timer that already fired (no longer in the loop's heap) is
		 * done, whoever still refers to its handle */
		if (h->cancelled || skip[h->node] || (h->timer && !h->scheduled) ||
		    fires_soon(s, h, when_id))
			continue;
		if (h->callback_name)
			snprintf(key, sizeof(key), "%s", asnap_graph_string(s->g, h->callback_name));
		else if (h->callback < s->g->n)
			snprintf(key, sizeof(key), "<%s>", node_type(s, h->callback));
		else
			snprintf(key, sizeof(key), "<no callback>");
		if (!group_add(gr, snap, key, h->node, true, NULL)) {
			free(skip);
			return nomem(ctx);
		}
	}
	free(skip);
	return 0;
}

/* " (timers firing in 290-300 s)" when the group's members are timers and
 * the snapshot says what time it was; else "". */
static void firing(const struct check_ctx *ctx, const struct group *g, char *buf, size_t len)
{
	const struct asnap_snap *s = ctx->last;
	double lo = 0, hi = 0;
	uint32_t timers = 0;
	buf[0] = 0;
	if (!s->monotonic)
		return;
	uint32_t when_id = asnap_graph_find_string(s->g, "_when");
	for (uint32_t i = 0; i < g->nmembers; i++) {
		const struct asnap_aio_handle *h = asnap_aio_handle(&s->aio, g->members[i].node);
		if (!h || !h->timer)
			continue;
		double when = timer_when(s, h, when_id);
		if (!when)
			continue;
		double in = when - s->monotonic;
		if (!timers++ || in < lo)
			lo = in;
		if (timers == 1 || in > hi)
			hi = in;
	}
	if (!timers)
		return;
	if (lo < 0)
		lo = 0;
	if (hi - lo < 1)
		snprintf(buf, len, "; the timers fire in %.0f s", hi);
	else
		snprintf(buf, len, "; the timers fire in %.0f-%.0f s", lo, hi);
}

void uncancelled_handle_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
				uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160], when[96];
	firing(ctx, g, when, sizeof(when));
	if (grew)
		snprintf(buf, len,
			 "handles of %s scheduled with call_soon/call_later and never cancelled pile "
			 "up: %s across the snapshots, each keeping its callback's closure alive%s",
			 key, growth_text(ctx, g, growth, sizeof(growth)), when);
	else
		snprintf(buf, len, "%u handles of %s scheduled and never cancelled%s", count, key,
			 when);
}
