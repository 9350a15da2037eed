/*
 * unclosed_resource.c - the unclosed-resource check: open sockets,
 * transports and instances of the resource rules (rules.h) that nothing
 * but garbage or a task that can never wake keeps alive (certain from one
 * snapshot: they are left to the destructor), or whose number grows across
 * snapshots while some persist. A resource inside another open one (the
 * socket of a transport: within two references of it, an instance's
 * __dict__ no step of its own) is neither counted nor reported: its owner
 * is. The idle instances of a library's pool (a
 * rule's "idle_in") count as one: a pool keeps as many as were ever in use
 * at once, which grows with the peak load and then stays, while pools
 * that pile up still grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "util/bigarray.h"
#include "util/freeall.h"

#define MAX_UP 100000

/* state: the rules in force (the caller's, or the built-in ones) */
static bool idle_for(const struct asnap_rules_bound *b, const struct asnap_rule *r,
		     uint32_t pool_type, uint32_t label)
{
	return r && r->has_idle && b->name_ids[r->idle_type] == pool_type &&
	       b->name_ids[r->idle_attr] == label;
}

/* How far a pool's connections reach their resources: aiohttp's _conns
 * dict -> deque -> (protocol, time) tuple -> protocol -> transport is 5;
 * httpcore's list -> connection -> HTTP/1.1 connection -> stream -> anyio
 * stream -> transport 6. */
#define POOL_DEPTH 8
/* Objects one pool's search may visit. */
#define POOL_BUDGET 100000

/* The references of an object's attributes: its own, then its __dict__'s
 * when the snapshot has one (3.9, 3.10, and instances whose dict 3.11+ has
 * made real). for (attrs_init(&it, s, p); attrs_next(&it, &e);) ... */
struct attrs {
	const struct asnap_graph *g;
	uint32_t dict;
	uint64_t e, end;
};

static void attrs_init(struct attrs *it, const struct asnap_snap *s, uint32_t p)
{
	const struct asnap_graph *g = s->g;
	*it = (struct attrs){.g = g, .dict = ASNAP_NO_NODE, .e = asnap_graph_edge_begin(g, p),
			     .end = asnap_graph_edge_end(g, p)};
	for (uint64_t e = it->e; e < it->end; e++)
		if (s->aio.dict_label && g->edge_label[e] == s->aio.dict_label)
			it->dict = g->edge_target[e];
}

static bool attrs_next(struct attrs *it, uint64_t *edge)
{
	if (it->e == it->end && it->dict != ASNAP_NO_NODE) {
		it->e = asnap_graph_edge_begin(it->g, it->dict);
		it->end = asnap_graph_edge_end(it->g, it->dict);
		it->dict = ASNAP_NO_NODE;
	}
	if (it->e == it->end)
		return false;
	*edge = it->e++;
	return true;
}

/* The pools' searches, one after another (each its own stamp). */
struct pool_walk {
	uint32_t stop_types[6]; /* string ids of the types pool_passes stops at */
	uint32_t *seen;   /* n + 1: the stamp of the pool search that saw v */
	uint32_t *queue;  /* n + 1 */
	uint8_t *depth;   /* n + 1 */
};

/* What a pool's search does not go through: what runs or schedules
 * (tasks, coroutines, frames, handles, futures, loops), the program's own
 * objects, and what leads everywhere (functions, methods, types, code,
 * modules). */
static bool pool_passes(const struct pool_walk *w, const struct asnap_snap *s, uint32_t v)
{
	uint8_t k = s->aio.kind[v];
	if (k == ASNAP_AIO_TASK || k == ASNAP_AIO_CORO || k == ASNAP_AIO_FRAME ||
	    k == ASNAP_AIO_HANDLE || k == ASNAP_AIO_FUTURE || k == ASNAP_AIO_LOOP)
		return false;
	for (size_t i = 0; i < sizeof(w->stop_types) / sizeof(w->stop_types[0]); i++)
		if (w->stop_types[i] && s->g->type[v] == w->stop_types[i])
			return false;
	return !asnap_snap_is_user(s, v);
}

/* Mark the open resources pool p holds under its "holds" attributes
 * (docs/CHECKS.md "Resource rules"): bit 8 for each, bit 4 for all but
 * the first, or for all of them when the pool is an open resource itself
 * (aiohttp's TCPConnector, asyncpg's Pool): then it is what is counted,
 * and they are its parts. A resource inside another (bit 2) is the
 * other's. */
static void pool_holds(struct pool_walk *w, const struct asnap_rules_bound *b,
		       const struct asnap_snap *s, const struct asnap_pool_rule *pr, uint32_t p,
		       uint32_t stamp, uint8_t *open)
{
	const struct asnap_graph *g = s->g;
	uint32_t head = 0, tail = 0, budget = POOL_BUDGET;
	bool kept = (open[p] & 1) != 0;
	w->seen[p] = stamp;
	struct attrs it;
	uint64_t e;
	for (attrs_init(&it, s, p); attrs_next(&it, &e);) {
		uint32_t x = g->edge_target[e], label = g->edge_label[e];
		bool held = false;
		for (uint32_t i = 0; i < pr->nholds && !held; i++)
			held = label && b->name_ids[pr->holds[i]] == label;
		if (!held || !asnap_graph_edge_is_strong(g, e) || w->seen[x] == stamp)
			continue;
		w->seen[x] = stamp;
		w->depth[x] = 1;
		w->queue[tail++] = x;
	}
	while (head < tail && budget--) {
		uint32_t v = w->queue[head++];
		if (open[v] & 1) {
			if (!(open[v] & 2)) {
				open[v] |= kept ? 12 : 8;
				kept = true;
			}
			continue; /* its parts are its own */
		}
		if (w->depth[v] >= POOL_DEPTH || !pool_passes(w, s, v))
			continue;
		for (uint64_t f = asnap_graph_edge_begin(g, v); f < asnap_graph_edge_end(g, v); f++) {
			uint32_t x = g->edge_target[f];
			if (!asnap_graph_edge_is_strong(g, f) || w->seen[x] == stamp)
				continue;
			w->seen[x] = stamp;
			w->depth[x] = (uint8_t)(w->depth[v] + 1);
			w->queue[tail++] = x;
		}
	}
}

/* The connections of the pools of the rules' "pools" (see pool_holds). 0,
 * or -1 out of memory. */
static int pools_hold(const struct asnap_rules_bound *b, const struct asnap_snap *s, uint8_t *open)
{
	const struct asnap_graph *g = s->g;
	bool any = false;
	for (uint32_t i = 0; i < b->rules->npools && !any; i++)
		any = b->name_ids[b->rules->pools[i].type] != 0;
	if (!any)
		return 0;
	struct pool_walk w = {0};
	static const char *const stop[] = {"builtins.type", "builtins.module", "builtins.function",
					   "builtins.method", "builtins.code",
					   "builtins.builtin_function_or_method"};
	asnap_strings_resolve(g, stop, w.stop_types, sizeof(stop) / sizeof(stop[0]));
	uint32_t stamp = 0;
	int rc = 0;
	for (uint32_t p = 0; p < g->n; p++) {
		const struct asnap_pool_rule *pr = asnap_rules_pool_for(b, g, p);
		if (!pr)
			continue;
		if (!w.seen) {
			w.seen = asnap_big_zalloc((size_t)g->n + 1, sizeof(*w.seen));
			w.queue = asnap_big_alloc((size_t)g->n + 1, sizeof(*w.queue));
			w.depth = asnap_big_alloc((size_t)g->n + 1, 1);
			if (!w.seen || !w.queue || !w.depth) {
				rc = -1;
				break;
			}
		}
		pool_holds(&w, b, s, pr, p, ++stamp, open);
	}
	asnap_free_all(w.seen, w.queue, w.depth);
	return rc;
}

/* Mark (bit 8) every open resource idle in a pool - one that an object of
 * its rule's "idle_in" type holds under that attribute, or that is in the
 * container it holds there, or that a pool of the rules' "pools" holds -
 * and (bit 4) all but one per pool, or all of a pool that is an open
 * resource itself. 0, or -1 out of memory. */
static int one_per_pool(const struct asnap_rules_bound *b, const struct asnap_snap *s,
			uint8_t *open)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_rules *rules = b->rules;
	if (pools_hold(b, s, open) < 0)
		return -1;
	bool any = false;
	for (uint32_t i = 0; i < rules->count && !any; i++)
		any = rules->items[i].has_idle && b->name_ids[rules->items[i].idle_type] &&
		      b->name_ids[rules->items[i].idle_attr];
	if (!any)
		return 0;
	for (uint32_t p = 0; p < g->n; p++) {
		bool pool = false;
		for (uint32_t i = 0; i < rules->count && !pool; i++)
			pool = rules->items[i].has_idle &&
			       b->name_ids[rules->items[i].idle_type] == g->type[p];
		if (!pool)
			continue;
		bool kept = (open[p] & 1) != 0; /* (as in pool_holds) */
		struct attrs it;
		uint64_t e;
		for (attrs_init(&it, s, p); attrs_next(&it, &e);) {
			uint32_t w = g->edge_target[e], label = g->edge_label[e];
			if (!label || !asnap_graph_edge_is_strong(g, e))
				continue;
			if ((open[w] & 1) && idle_for(b, asnap_rules_for(b, g, w), g->type[p], label)) {
				open[w] |= kept ? 12 : 8;
				kept = true;
				continue;
			}
			if (!is_container_type(node_type(s, w)))
				continue;
			for (uint64_t f = asnap_graph_edge_begin(g, w); f < asnap_graph_edge_end(g, w);
			     f++) {
				uint32_t x = g->edge_target[f];
				if (!(open[x] & 1) || (open[x] & 8) || !asnap_graph_edge_is_strong(g, f) ||
				    !idle_for(b, asnap_rules_for(b, g, x), g->type[p], label))
					continue;
				open[x] |= kept ? 12 : 8;
				kept = true;
			}
		}
	}
	return 0;
}

/* A socket or a transport (asyncio's, uvloop's): what a library's
 * connection is made of. */
static bool is_low_level(const struct asnap_graph *g, uint32_t v)
{
	const char *t = asnap_graph_string(g, g->type[v]);
	return !strncmp(t, "socket.", 7) || !strncmp(t, "asyncio.", 8) || !strncmp(t, "uvloop.", 7);
}

/* Does open resource v, of a library (not low level), hold u within two
 * strong references (an instance's __dict__ no step of its own)? */
static bool owns(const struct asnap_snap *s, const uint8_t *open, uint32_t v, uint32_t u)
{
	const struct asnap_graph *g = s->g;
	if (!(open[v] & 1) || is_low_level(g, v))
		return false;
	struct attrs it, it2;
	uint64_t e, f;
	for (attrs_init(&it, s, v); attrs_next(&it, &e);) {
		if (!asnap_graph_edge_is_strong(g, e))
			continue;
		uint32_t w = g->edge_target[e];
		if (w == u)
			return true;
		for (attrs_init(&it2, s, w); attrs_next(&it2, &f);)
			if (g->edge_target[f] == u && asnap_graph_edge_is_strong(g, f))
				return true;
	}
	return false;
}

/* Is open resource w the owner of low-level resource v, which reaches it
 * (see the caller)? */
static bool owner_of(const struct asnap_rules_bound *b, const struct asnap_snap *s,
		     const uint8_t *open, uint32_t w, uint32_t v)
{
	const struct asnap_graph *g = s->g;
	if (owns(s, open, w, v) || asnap_rules_pool_for(b, g, w))
		return true;
	for (uint64_t e = asnap_graph_edge_begin(g, w); e < asnap_graph_edge_end(g, w); e++)
		if (g->edge_target[e] == v && asnap_graph_edge_is_strong(g, e))
			return true;
	return false;
}

int unclosed_resource_scan(struct grouping *gr, uint32_t snap, void *state)
{
	(void)state;
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_rules *rules = ctx->rules;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_graph *g = s->g;
	bool last = snap + 1 == ctx->nsnap;
	struct asnap_rules_bound b;
	if (asnap_rules_bind(rules, g, &b, ctx->err) < 0)
		return -1;
	uint8_t *open = asnap_big_zalloc((size_t)g->n + 1, 1);
	uint8_t *orphan_task = last ? asnap_big_zalloc((size_t)g->n + 1, 1) : NULL;
	int rc = 0;
	if (!open || (last && !orphan_task)) {
		rc = nomem(ctx);
		goto out;
	}
	for (uint32_t v = 0; v < g->n; v++) {
		const struct asnap_rule *r = asnap_rules_for(&b, g, v);
		if (r && asnap_rules_open(&b, r, &s->aio, v))
			open[v] = 1;
	}
	/* resources inside other open ones; of two that hold each other (an
	 * asyncio protocol that is a library's connection, and its transport)
	 * the library's object is the one counted. A transport's or socket's
	 * way back to its owner (a child process's pipe, through the pipe's
	 * protocol, to the process) makes the owner no part of it: an owner
	 * that holds it directly, or an open pool, which counts what it holds
	 * as its own (pool_holds). */
	for (uint32_t v = 0; v < g->n; v++) {
		if (!(open[v] & 1))
			continue;
		bool low = is_low_level(g, v);
		struct attrs it, it2;
		uint64_t e, f;
		for (attrs_init(&it, s, v); attrs_next(&it, &e);) {
			uint32_t w = g->edge_target[e];
			if (!asnap_graph_edge_is_strong(g, e))
				continue;
			if (open[w] && w != v && !(low && owner_of(&b, s, open, w, v)))
				open[w] |= 2;
			for (attrs_init(&it2, s, w); attrs_next(&it2, &f);) {
				uint32_t x = g->edge_target[f];
				if (asnap_graph_edge_is_strong(g, f) && open[x] && x != v &&
				    !(low && owner_of(&b, s, open, x, v)))
					open[x] |= 2;
			}
		}
	}
	/* the event loop's own self-pipe (_ssock, _csock) lives as long as the
	 * loop: never an application's resource */
	uint32_t self_pipe[2] = {asnap_graph_find_string(g, "_ssock"),
				 asnap_graph_find_string(g, "_csock")};
	if (self_pipe[0] || self_pipe[1])
		for (uint32_t v = 0; v < g->n; v++)
			for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v);
			     e++) {
				uint32_t l = g->edge_label[e];
				if (l && (l == self_pipe[0] || l == self_pipe[1]) && open[g->edge_target[e]])
					open[g->edge_target[e]] |= 2;
			}
	if (one_per_pool(&b, s, open) < 0) {
		rc = nomem(ctx);
		goto out;
	}
	/* count each pool's idle instances once */
	for (uint32_t v = 0; v < g->n; v++)
		open[v] &= (uint8_t)~8;
	if (last)
		for (uint32_t i = 0; i < s->aio.ntasks; i++)
			if (ctx->orphaned[i])
				orphan_task[s->aio.tasks[i].node] = 1;
	for (uint32_t v = 0; v < g->n; v++) {
		if (open[v] != 1)
			continue;
		const struct asnap_rule *r = asnap_rules_for(&b, g, v);
		const char *key = node_type(s, v);
		bool certain = false;
		if (last) {
			const struct asnap_domtree *d = &s->ret.dom;
			certain = asnap_dom_is_garbage(d, v);
			unsigned steps = 0;
			for (uint32_t u = d->idom[v]; u != g->n && steps < MAX_UP && !certain;
			     u = d->idom[u], steps++)
				certain = orphan_task[u];
		}
		struct group *grp = group_add(gr, snap, key, v, certain, NULL);
		if (!grp) {
			rc = nomem(ctx);
			goto out;
		}
		if (r->fix)
			grp->fix = r->fix;
	}
out:
	free(open);
	free(orphan_task);
	asnap_rules_unbind(&b);
	return rc;
}

/* ---- the parts of pooled resources (for pending-future) -------------------- */

/* The parts of a resource: this close to it. */
#define PART_DEPTH 3

/* The types of pools this snapshot has (of the rules' "pools", or a
 * rule's "idle_in"): their string ids, at most MAX_POOL_TYPES. */
#define MAX_POOL_TYPES 32
struct pool_types {
	uint32_t id[MAX_POOL_TYPES];
	uint32_t n;
};

static void pool_types_add(struct pool_types *pt, uint32_t id)
{
	for (uint32_t i = 0; i < pt->n; i++)
		if (pt->id[i] == id)
			return;
	if (id && pt->n < MAX_POOL_TYPES)
		pt->id[pt->n++] = id;
}

static void pool_types_of(const struct asnap_rules_bound *b, struct pool_types *pt)
{
	pt->n = 0;
	for (uint32_t i = 0; i < b->rules->npools; i++)
		pool_types_add(pt, b->name_ids[b->rules->pools[i].type]);
	for (uint32_t i = 0; i < b->rules->count; i++)
		if (b->rules->items[i].has_idle)
			pool_types_add(pt, b->name_ids[b->rules->items[i].idle_type]);
}

static bool is_pool(const struct pool_types *pt, const struct asnap_graph *g, uint32_t v)
{
	for (uint32_t i = 0; i < pt->n; i++)
		if (g->type[v] == pt->id[i])
			return true;
	return false;
}

/* Does task x's coroutine hold a part (bit 1) directly? */
static bool coro_holds_part(const struct asnap_snap *s, uint32_t x, const uint8_t *part)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio_task *t = asnap_aio_task(&s->aio, x);
	if (!t || t->coro >= g->n)
		return false;
	for (uint64_t f = asnap_graph_edge_begin(g, t->coro); f < asnap_graph_edge_end(g, t->coro); f++)
		if (asnap_graph_edge_is_strong(g, f) && g->edge_target[f] < g->n &&
		    (part[g->edge_target[f]] & 1))
			return true;
	return false;
}

/*
 * Mark (bit 2) the tasks of the connections a pool holds open: a task
 * held by a part of such a connection (bit 1: aiohttp's
 * RequestHandler._task_handler, a websockets 10-13 server connection's
 * transfer_data_task) or by its pool (bit 4: a pool and the containers it
 * holds, as websockets 14+'s Server.handler_tasks) or awaited by such a
 * task (aiohttp's RequestHandler._handle_request, which start() awaits),
 * whose coroutine holds a part too (its self, its connection argument). A
 * server keeps a connection, and its tasks, for as long as its client keeps
 * it open; the pool's connections count as one resource (docs/CHECKS.md
 * "Pools"), and their tasks are not the program's to finish.
 */
static void pool_tasks(const struct pool_types *pt, const struct asnap_snap *s, uint8_t *part)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	for (uint32_t v = 0; pt->n && v < g->n; v++) {
		if (!is_pool(pt, g, v))
			continue;
		part[v] |= 4;
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t x = g->edge_target[e];
			if (asnap_graph_edge_is_strong(g, e) && x < g->n &&
			    is_container_type(node_type(s, x)))
				part[x] |= 4;
		}
	}
	for (uint32_t v = 0; v < g->n; v++) {
		if (!(part[v] & 5))
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t x = g->edge_target[e];
			if (x >= g->n || !asnap_graph_edge_is_strong(g, e) || a->kind[x] != ASNAP_AIO_TASK)
				continue;
			if (coro_holds_part(s, x, part))
				part[x] |= 2;
		}
	}
	/* what those tasks await, in turn (a few levels: a chain ends) */
	for (int level = 0, more = 1; more && level < 8; level++) {
		more = 0;
		for (uint32_t i = 0; i < a->ntasks; i++) {
			uint32_t w = a->tasks[i].waiting_on;
			if (!(part[a->tasks[i].node] & 2) || w >= g->n || a->kind[w] != ASNAP_AIO_TASK ||
			    (part[w] & 2) || !coro_holds_part(s, w, part))
				continue;
			part[w] |= 2;
			more = 1;
		}
	}
}

/* Mark (bit 1) the futures object x keeps as attributes (in its
 * __dict__ too: its label's string id, 0 when the snapshot has none), not
 * in containers. */
static void own_futures(const struct asnap_snap *s, uint32_t x, uint32_t dict_label, uint8_t *part,
			int level)
{
	const struct asnap_graph *g = s->g;
	for (uint64_t e = asnap_graph_edge_begin(g, x); e < asnap_graph_edge_end(g, x); e++) {
		uint32_t y = g->edge_target[e];
		if (!asnap_graph_edge_is_strong(g, e) || y >= g->n)
			continue;
		if (s->aio.kind[y] == ASNAP_AIO_FUTURE)
			part[y] |= 1;
		else if (level == 0 && dict_label && g->edge_label[e] == dict_label)
			own_futures(s, y, dict_label, part, 1);
	}
}

/*
 * Mark (bit 1) the futures the library objects in a pooled connection's
 * tasks keep (bit 2 tasks, each coroutine of their await chain, what it
 * holds directly that is a library's object, neither a container nor the
 * pool): aiohttp's server WebSocketResponse._waiting, pending while its
 * handler waits in receive(). They are the connection's, as its tasks are.
 */
static void pool_task_futures(const struct pool_types *pt, const struct asnap_snap *s,
			      uint8_t *part)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	uint32_t dict_label = asnap_graph_find_string(g, "__dict__");
	for (uint32_t i = 0; i < a->ntasks; i++) {
		if (!(part[a->tasks[i].node] & 2))
			continue;
		uint32_t c = a->tasks[i].coro;
		for (int depth = 0; depth < 16 && c < g->n; depth++) {
			const struct asnap_aio_coro *co = asnap_aio_coro(a, c);
			if (!co)
				break;
			for (uint64_t e = asnap_graph_edge_begin(g, c); e < asnap_graph_edge_end(g, c); e++) {
				uint32_t x = g->edge_target[e];
				if (asnap_graph_edge_is_strong(g, e) && x < g->n &&
				    a->kind[x] == ASNAP_AIO_NONE && !asnap_snap_is_user(s, x) &&
				    !is_container_type(node_type(s, x)) && !is_pool(pt, g, x))
					own_futures(s, x, dict_label, part, 0);
			}
			c = co->awaiting;
		}
	}
}

int pooled_parts(struct check_ctx *ctx, uint32_t snap, uint8_t **out)
{
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	if (ctx->pooled && ctx->pooled_snap == snap) {
		*out = ctx->pooled;
		return 0;
	}
	free(ctx->pooled);
	ctx->pooled = NULL;
	*out = NULL;
	struct asnap_rules_bound b;
	if (asnap_rules_bind(ctx->rules, g, &b, ctx->err) < 0)
		return -1;
	uint8_t *part = asnap_big_zalloc((size_t)g->n + 1, 1);
	uint8_t *depth = asnap_big_zalloc((size_t)g->n + 1, 1);
	uint32_t *queue = asnap_big_alloc((size_t)g->n + 1, sizeof(*queue));
	int rc = 0;
	if (!part || !depth || !queue) {
		free(part);
		rc = nomem(ctx);
		goto out;
	}
	/* breadth-first from every open resource idle in a pool, through
	 * library objects that are neither the loop nor what runs (tasks,
	 * coroutines, frames, handles) nor a pool (a connection's parts are
	 * not its pool's, nor through it the other connections'), not through
	 * futures: what the resource's library objects hold, as a transport's
	 * protocol holds its "closed" future */
	for (uint32_t v = 0; v < g->n; v++) {
		const struct asnap_rule *r = asnap_rules_for(&b, g, v);
		if (r && asnap_rules_open(&b, r, a, v))
			part[v] = 1;
	}
	if (one_per_pool(&b, s, part) < 0) {
		free(part);
		rc = nomem(ctx);
		goto out;
	}
	struct pool_types pt;
	pool_types_of(&b, &pt);
	uint32_t head = 0, tail = 0;
	for (uint32_t v = 0; v < g->n; v++) {
		if (part[v] & 8)
			queue[tail++] = v;
		part[v] = part[v] & 8 ? 1 : 0;
	}
	while (head < tail) {
		uint32_t v = queue[head++];
		if (depth[v] >= PART_DEPTH)
			continue;
		if (depth[v] > 0 && a->kind[v] == ASNAP_AIO_FUTURE)
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t x = g->edge_target[e];
			if (part[x] || !asnap_graph_edge_is_strong(g, e) || asnap_snap_is_user(s, x))
				continue;
			uint8_t k = a->kind[x];
			if (k == ASNAP_AIO_HANDLE) /* its timer: a part, not gone through */
				part[x] = 1;
			if (k == ASNAP_AIO_TASK || k == ASNAP_AIO_CORO || k == ASNAP_AIO_FRAME ||
			    k == ASNAP_AIO_HANDLE || k == ASNAP_AIO_LOOP || is_pool(&pt, g, x))
				continue;
			part[x] = 1;
			depth[x] = (uint8_t)(depth[v] + 1);
			queue[tail++] = x;
		}
	}
	pool_tasks(&pt, s, part);
	pool_task_futures(&pt, s, part);
	ctx->pooled = part;
	ctx->pooled_snap = snap;
	*out = part;
out:
	free(depth);
	free(queue);
	asnap_rules_unbind(&b);
	return rc;
}

void unclosed_resource_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
			       uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	if (grew)
		snprintf(buf, len, "open %s objects are never closed and pile up: %s across the snapshots",
			 key, growth_text(ctx, g, growth, sizeof(growth)));
	else
		snprintf(buf, len,
			 "%u open %s object%s no longer reachable except through garbage or tasks that "
			 "never finish: left to the destructor to close",
			 g->ncertain, key, g->ncertain == 1 ? "" : "s");
	(void)count;
}
