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
 * timer per live session) are no finding, nor are the timers of the
 * connections a pool keeps open (pooled_parts). Timers that re-arm themselves,
 * started per session and never stopped, are the check's extra pass
 * ("timer chains", below).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"
#include "util/order.h"

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

/* A handle's group: its callback's name, or "<type>" of the callback. */
static void handle_key(const struct asnap_snap *s, const struct asnap_aio_handle *h, char *key,
		       size_t len)
{
	if (h->callback_name)
		snprintf(key, len, "%s", asnap_graph_string(s->g, h->callback_name));
	else if (h->callback < s->g->n)
		snprintf(key, len, "<%s>", node_type(s, h->callback));
	else
		snprintf(key, len, "<no callback>");
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
	uint8_t *part;
	if (pooled_parts(ctx, snap, &part) < 0) {
		free(skip);
		return -1;
	}
	for (uint32_t i = 0; i < a->nhandles; i++) {
		const struct asnap_aio_handle *h = &a->handles[i];
		/* a timer that already fired (no longer in the loop's heap) is
		 * done, whoever still refers to its handle; the timers of the
		 * connections a pool keeps open (a server's keep-alive timer per
		 * connection its clients hold) are the pool's */
		if (h->cancelled || skip[h->node] || (h->timer && !h->scheduled) ||
		    fires_soon(s, h, when_id) || (part[h->node] & 1))
			continue;
		handle_key(s, h, key, sizeof(key));
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

/* ---- timer chains -------------------------------------------------------- */

/*
 * A callback that re-arms itself - a heartbeat, `def beat(self):
 * self.loop.call_later(1, self.beat)` - started per session and never
 * stopped. Each beat is a new timer due soon, so no handle outlives a beat
 * and the groups above skip them (a timer due within SELF_FIRING bounds
 * itself); what outlives every beat is what the chain carries: the
 * callback's bound object and its arguments. So, across the snapshots of
 * one process, for the pending timers of one callback due soon:
 *  - a timer's anchor is the first object among its callback's __self__ and
 *    its arguments that no other pending timer of that callback carries (a
 *    shared service or flag is no one chain's own) and, in the last
 *    snapshot, that the timer alone keeps alive (it dominates it, within
 *    CHAIN_HOPS references): the session the program has let go of;
 *  - a chain of an earlier snapshot is kept when its anchor (address and
 *    type) is one still in the last, its timer re-armed in between (due at
 *    another time): a timer set once that still waits to fire - asyncpg's
 *    300 s inactivity timer, left armed after pool.close(), keeping its
 *    connection holder until then - bounds itself, and is no chain;
 *  - the chains of a callback fire when at least half of every earlier
 *    snapshot's chains are kept (sessions that end and start replace their
 *    anchors, a leak keeps them), and the kept ones, counted in each
 *    snapshot, never shrink and end CHAIN_GROWTH_MIN or more above the
 *    first snapshot's: the chains still running at the end, as each
 *    snapshot saw them (an earlier snapshot cannot tell the chains of
 *    sessions the program still held then, which a correct program's
 *    rising load adds to, from the ones it had let go of).
 */

#define CHAIN_GROWTH_MIN 10
#define CHAIN_CARRIED 8  /* a timer's objects looked at: __self__, arguments */
#define CHAIN_HOPS 4

/* An object a pending timer carries. */
struct carried {
	uint32_t key;    /* the callback's index */
	uint32_t node;
};

/* A chain of the last snapshot. */
struct anchor {
	uint64_t addr; /* the anchor's */
	uint32_t node, timer;
	double when;   /* when its timer fires */
};

struct chain_key {
	uint32_t *counts;       /* kept chains per snapshot (the last's: all) */
	struct anchor *anchors; /* the last snapshot's chains, by address once all are in */
	uint32_t n, cap;
	bool kept;              /* every earlier snapshot's chains mostly kept */
};

struct chains {
	bool none;
	struct asnap_strmap keys;
	struct chain_key *k;
	uint32_t nkeys;
};

/* The timers of snapshot s a chain may be made of: pending, due soon. */
static bool chain_timer(const struct asnap_snap *s, const struct asnap_aio_handle *h,
			uint32_t when_id)
{
	return h->timer && h->scheduled && !h->cancelled && fires_soon(s, h, when_id);
}

/* What h carries, at most CHAIN_CARRIED: its callback's __self__, then its
 * arguments, each by a strong reference. */
static uint32_t carried_by(const struct asnap_snap *s, const struct asnap_aio_handle *h,
			   uint32_t self_id, uint32_t *out)
{
	const struct asnap_graph *g = s->g;
	uint32_t n = 0;
	if (h->callback < g->n && self_id && g->edge_label)
		for (uint64_t e = asnap_graph_edge_begin(g, h->callback);
		     e < asnap_graph_edge_end(g, h->callback); e++)
			if (g->edge_label[e] == self_id && asnap_graph_edge_is_strong(g, e)) {
				out[n++] = g->edge_target[e];
				break;
			}
	if (h->args < g->n)
		for (uint64_t e = asnap_graph_edge_begin(g, h->args);
		     e < asnap_graph_edge_end(g, h->args) && n < CHAIN_CARRIED; e++)
			if (asnap_graph_edge_is_strong(g, e))
				out[n++] = g->edge_target[e];
	return n;
}

static int by_key_node(const void *x, const void *y)
{
	const struct carried *a = x, *b = y;
	int c = asnap_asc_u64(a->key, b->key);
	return c ? c : asnap_asc_u64(a->node, b->node);
}

/* How many timers of callback `key` carry v (sorted: the carried objects
 * of one snapshot). */
static uint32_t carriers(const struct carried *sorted, uint32_t n, uint32_t key, uint32_t v)
{
	struct carried x = {key, v};
	const struct carried *hit = bsearch(&x, sorted, n, sizeof(x), by_key_node);
	if (!hit)
		return 0;
	const struct carried *lo = hit, *hi = hit;
	while (lo > sorted && !by_key_node(lo - 1, &x))
		lo--;
	while (hi + 1 < sorted + n && !by_key_node(hi + 1, &x))
		hi++;
	return (uint32_t)(hi - lo + 1);
}

/* Does timer t keep v alive on its own: t among v's dominators, near? */
static bool dominates(const struct asnap_snap *s, uint32_t t, uint32_t v)
{
	const uint32_t *idom = s->ret.dom.idom;
	for (int i = 0; i < CHAIN_HOPS && v < s->g->n; i++) {
		v = idom[v];
		if (v == t)
			return true;
	}
	return false;
}

/*
 * Snapshot `snap`'s chains: each pending timer due soon of a known
 * callback (in the last snapshot every callback becomes known) with an
 * anchor, passed to `chain` with it. 0, or -1 out of memory.
 */
typedef int chain_fn(struct chains *c, uint32_t key, uint32_t timer, double when,
		     uint32_t anchor, void *arg);

static int each_chain(struct check_ctx *ctx, struct chains *c, uint32_t snap, chain_fn *chain,
		      void *arg)
{
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	bool last = snap == ctx->nsnap - 1;
	uint32_t when_id = asnap_graph_find_string(s->g, "_when");
	uint32_t self_id = asnap_graph_find_string(s->g, "__self__");
	uint32_t *key_of = asnap_big_alloc((size_t)a->nhandles + 1, sizeof(*key_of));
	struct carried *all = asnap_big_alloc((size_t)a->nhandles * CHAIN_CARRIED + 1, sizeof(*all));
	uint32_t n = 0, got[CHAIN_CARRIED];
	int rc = -1;
	if (!key_of || !all)
		goto out;
	char key[512];
	for (uint32_t i = 0; i < a->nhandles; i++) {
		const struct asnap_aio_handle *h = &a->handles[i];
		key_of[i] = UINT32_MAX;
		if (!chain_timer(s, h, when_id))
			continue;
		handle_key(s, h, key, sizeof(key));
		key_of[i] = last ? asnap_strmap_intern(&c->keys, key, strlen(key))
				 : asnap_strmap_find(&c->keys, key, strlen(key));
		if (key_of[i] == UINT32_MAX) {
			if (last)
				goto out;
			continue;
		}
		uint32_t k = carried_by(s, h, self_id, got);
		for (uint32_t j = 0; j < k; j++)
			all[n++] = (struct carried){key_of[i], got[j]};
	}
	qsort(all, n, sizeof(*all), by_key_node);
	for (uint32_t i = 0; i < a->nhandles; i++) {
		const struct asnap_aio_handle *h = &a->handles[i];
		if (key_of[i] == UINT32_MAX)
			continue;
		uint32_t k = carried_by(s, h, self_id, got);
		for (uint32_t j = 0; j < k; j++) {
			if (carriers(all, n, key_of[i], got[j]) != 1 ||
			    (last && !dominates(s, h->node, got[j])))
				continue;
			if (chain(c, key_of[i], h->node, timer_when(s, h, when_id), got[j], arg) < 0)
				goto out;
			break;
		}
	}
	rc = 0;
out:
	asnap_free_all(key_of, all);
	return rc;
}

static int add_last_chain(struct chains *c, uint32_t key, uint32_t timer, double when,
			  uint32_t anchor, void *arg)
{
	const struct asnap_snap *s = arg;
	if (key >= c->nkeys) {
		uint32_t n = c->keys.count;
		struct chain_key *more = realloc(c->k, (size_t)n * sizeof(*more));
		if (!more)
			return -1;
		memset(more + c->nkeys, 0, (size_t)(n - c->nkeys) * sizeof(*more));
		c->k = more;
		c->nkeys = n;
	}
	struct chain_key *k = &c->k[key];
	struct anchor *more = asnap_grow(k->anchors, k->n, &k->cap, sizeof(*more), 16);
	if (!more)
		return -1;
	k->anchors = more;
	k->anchors[k->n++] = (struct anchor){s->g->addr[anchor], anchor, timer, when};
	return 0;
}

static int by_anchor_addr(const void *x, const void *y)
{
	return asnap_asc_u64(((const struct anchor *)x)->addr, ((const struct anchor *)y)->addr);
}

/* An earlier snapshot's chains: counted, and those whose anchor is one
 * still (the same address and type), its timer re-armed since, counted
 * apart as kept. */
struct earlier_turn {
	const struct asnap_snap *s, *last;
	uint32_t snap;
	uint32_t *all; /* chains per key */
};

static int add_earlier_chain(struct chains *c, uint32_t key, uint32_t timer, double when,
			     uint32_t anchor, void *arg)
{
	(void)timer;
	struct earlier_turn *t = arg;
	if (key >= c->nkeys || !c->k[key].n) /* no chain of it in the last snapshot */
		return 0;
	struct chain_key *k = &c->k[key];
	t->all[key]++;
	struct anchor x = {.addr = t->s->g->addr[anchor]};
	const struct anchor *hit = bsearch(&x, k->anchors, k->n, sizeof(x), by_anchor_addr);
	if (hit && when != hit->when &&
	    !strcmp(node_type(t->s, anchor), node_type(t->last, hit->node)))
		k->counts[t->snap]++;
	return 0;
}

static void chains_free(struct chains *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->nkeys; i++)
		asnap_free_all(c->k[i].counts, c->k[i].anchors);
	free(c->k);
	asnap_strmap_finish(&c->keys);
	free(c);
}

/* The last snapshot's chains, by callback. Only across snapshots of one
 * process: one snapshot cannot tell a chain left running from a session
 * still open. */
static int chains_begin(struct check_ctx *ctx, void **state)
{
	struct chains *c = calloc(1, sizeof(*c));
	*state = c;
	if (!c)
		return nomem(ctx);
	asnap_strmap_init(&c->keys);
	uint32_t L = ctx->nsnap - 1;
	if (ctx->nsnap < 2 || !ctx->same_process || !ctx->last->g->edge_label) {
		c->none = true;
		return 0;
	}
	if (each_chain(ctx, c, L, add_last_chain, ctx->last) < 0)
		return nomem(ctx);
	for (uint32_t i = 0; i < c->nkeys; i++) {
		struct chain_key *k = &c->k[i];
		if (!(k->counts = calloc(ctx->nsnap, sizeof(*k->counts))))
			return nomem(ctx);
		k->counts[L] = k->n;
		k->kept = true;
		qsort(k->anchors, k->n, sizeof(*k->anchors), by_anchor_addr);
	}
	return 0;
}

static int chains_earlier(struct check_ctx *ctx, void *state, uint32_t j)
{
	struct chains *c = state;
	if (c->none || !c->nkeys)
		return 0;
	const struct asnap_snap *s = ctx->snaps[j];
	if (!s->g->edge_label) { /* no labels, no __self__: the counts would lie */
		c->none = true;
		return 0;
	}
	struct earlier_turn t = {s, ctx->last, j, calloc(c->nkeys, sizeof(uint32_t))};
	if (!t.all || each_chain(ctx, c, j, add_earlier_chain, &t) < 0) {
		free(t.all);
		return nomem(ctx);
	}
	for (uint32_t i = 0; i < c->nkeys; i++)
		if (c->k[i].counts[j] * 2 < t.all[i])
			c->k[i].kept = false;
	free(t.all);
	return 0;
}

static void chains_mark(const struct check_ctx *ctx, void *state, uint8_t *need)
{
	(void)ctx;
	const struct chains *c = state;
	for (uint32_t i = 0; !c->none && i < c->nkeys; i++)
		for (uint32_t a = 0; a < c->k[i].n; a++)
			need[c->k[i].anchors[a].timer] |= 1;
}

/* Do a callback's chains fire: mostly kept, the kept never fewer,
 * CHAIN_GROWTH_MIN more at the end than at first, some of them earlier? */
static bool chains_fire(const struct check_ctx *ctx, const struct chain_key *k)
{
	uint32_t L = ctx->nsnap - 1;
	bool earlier = false;
	for (uint32_t j = 0; j < L; j++) {
		if (k->counts[j] > k->counts[j + 1])
			return false;
		earlier = earlier || k->counts[j];
	}
	return earlier && k->kept && k->n >= k->counts[0] + CHAIN_GROWTH_MIN;
}

/* The chains being emitted (for their summaries). */
static const struct chains *emitting;

static void chains_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
			   uint32_t count, bool grew, char *buf, size_t len)
{
	(void)grew;
	char growth[160], kept[96] = "";
	growth_text(ctx, g, growth, sizeof(growth));
	/* what the chains keep alive: the type of the first one's anchor */
	const struct chains *c = emitting;
	uint32_t i = c ? asnap_strmap_find(&c->keys, key, strlen(key)) : UINT32_MAX;
	if (c && i < c->nkeys && c->k[i].n)
		snprintf(kept, sizeof(kept), ", each keeping a %s alive that nothing else holds",
			 short_type(node_type(ctx->last, c->k[i].anchors[0].node)));
	snprintf(buf, len,
		 "%u timer chains of %s re-arm themselves and are never stopped: %s across the "
		 "snapshots%s",
		 count, key, growth, kept);
}

static const char *const CHAIN_FIX =
	"keep the handle each beat's call_later() returns and cancel() it when the session ends "
	"(in its close(), or a finally); or run the heartbeat as a task (a loop around "
	"asyncio.sleep()) and cancel that task";

static int chains_end(struct check_ctx *ctx, void *state)
{
	struct chains *c = state;
	if (c->none)
		return 0;
	uint32_t L = ctx->nsnap - 1;
	struct grouping gr;
	grouping_init(&gr, ctx);
	for (uint32_t i = 0; i < c->nkeys && !gr.failed; i++) {
		const struct chain_key *k = &c->k[i];
		if (!k->n || !chains_fire(ctx, k))
			continue;
		const char *key = c->keys.keys[i];
		for (uint32_t j = 0; j < L; j++)
			for (uint32_t n = 0; n < k->counts[j]; n++)
				group_add(&gr, j, key, ASNAP_NO_NODE, false, NULL);
		struct group *g = NULL;
		for (uint32_t a = 0; a < k->n; a++)
			g = group_add(&gr, L, key, k->anchors[a].timer, true, NULL);
		if (g)
			g->fix = CHAIN_FIX;
	}
	emitting = c;
	int rc = grouping_emit(&gr, ASNAP_CHECK_UNCANCELLED_HANDLE, chains_summary);
	emitting = NULL;
	grouping_finish(&gr);
	return rc;
}

static void chains_release(void *state)
{
	chains_free(state);
}

const struct check_extra check_timer_chains = {
	.begin = chains_begin,
	.earlier = chains_earlier,
	.mark = chains_mark,
	.end = chains_end,
	.release = chains_release,
};
