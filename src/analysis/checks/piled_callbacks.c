/*
 * piled_callbacks.c - part of the pending-future check: callbacks and
 * waiters that pile up on one long-lived object.
 *
 *  - done-callbacks of a pending future (or task) that are added per use
 *    and never removed: the "connection closed" future raced against each
 *    request, whose callback is removed on the success path only (the
 *    shape of CPython bpo-36613). Read from the snapshot: `_callback0` and
 *    the `(callback, context)` tuples of `_callbacks`. Not counted: the
 *    wakeup of a pending task waiting on that very future (many tasks may
 *    await one future), and callbacks still in progress - those that
 *    capture (in their closure cells, partial arguments or bound C method)
 *    a pending task, or a pending future that a live task or coroutine
 *    awaits, directly or through that future's own callbacks:
 *    asyncio.wait, gather, shield, wait_for and as_completed while they
 *    run (3.14's shield() adds a callback that captures only the task).
 *  - waiters in the `_waiters`, `_getters` or `_putters` deque or list of
 *    an object (asyncio.Event, Condition, Lock, Semaphore, Queue, or a
 *    library's own) that nobody will consume: done but never removed,
 *    pending with nothing awaiting them, or awaited by a task that was
 *    created just to wait (its own coroutine awaits the waiter) and that
 *    nothing but the waiter itself holds - the task left behind by
 *    asyncio.wait(..., FIRST_COMPLETED) or as_completed() over
 *    event.wait() when the rest is never cancelled.
 *  - callbacks in a library's own registry (the rules' "registries",
 *    rules.h: asyncpg's LISTEN, log and termination listeners and query
 *    loggers of a connection, built in; a --rules file adds others)
 *    registered per use and never removed.
 *
 * One snapshot: PILED_MIN or more on one object. Across snapshots of one
 * process: the same object (address, type, the owner that holds it) in
 * every snapshot, its pile never shrinking and ending larger, and the
 * items themselves staying (at least half of each earlier pile is still
 * there at the end: a steady in-flight population is replaced, a leak
 * keeps what it adds).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"
#include "util/order.h"

#define PILED_MIN 100        /* one snapshot: this many on one object */
#define PILED_GROWTH_MIN 10  /* across snapshots: at least this many at the end */
#define SCAN_BUDGET 64       /* objects looked at per callback (in progress?) */
#define OBJECT_HOPS 2        /* ... of which ordinary objects, from the callback */
#define AWAIT_LEVELS 2       /* a future's own callbacks followed this deep */

enum {
	L_CALLBACK0, L_CALLBACKS, L_FUNC, L_ARGS, L_KEYWORDS, L_FUNC_, L_SELF, L_CLOSURE,
	L_CELL, L_CODE, L_DICT, L_CLASS, L_GLOBALS, L_BUILTINS, L_KEY, L_WAITERS, L_GETTERS,
	L_PUTTERS,
	T_PARTIAL, T_METHOD, T_FUNCTION, T_TUPLE, T_CELL, T_DICT, T_LIST, T_DEQUE, T_TYPE,
	T_MODULE, T_SET,
	K_FUTURE, K_TASK, P_CALLBACK, P_CALLBACK_NAME,
	NIDS
};

static const char *const id_names[NIDS] = {
	"_callback0", "_callbacks", "func", "args", "keywords", "__func__", "__self__",
	"__closure__", "cell_contents", "__code__", "__dict__", "__class__", "__globals__",
	"__builtins__", "key", "_waiters", "_getters", "_putters",
	"functools.partial", "builtins.method", "builtins.function", "builtins.tuple",
	"builtins.cell", "builtins.dict", "builtins.list", "collections.deque", "builtins.type",
	"builtins.module", "builtins.set",
	"future", "task", "callback", "callback_name",
};

struct vec {
	uint32_t *v;
	uint32_t n, cap;
	bool failed;
};

static void vec_push(struct vec *a, uint32_t x)
{
	if (a->failed)
		return;
	uint32_t *more = asnap_grow(a->v, a->n, &a->cap, sizeof(*more), 16);
	if (!more) {
		a->failed = true;
		return;
	}
	a->v = more;
	a->v[a->n++] = x;
}

/* What one snapshot needs looked up. */
struct snapinfo {
	const struct asnap_snap *s;
	const struct asnap_graph *g;
	uint32_t id[NIDS];
	const struct asnap_rules *rules;
	uint32_t *reg;     /* per rules registry k: [2k] its type's string id, [2k + 1] its attribute's */
	uint8_t *awaited;  /* bitset: awaited by a pending task or a suspended coroutine */
	/* (dict, its holder) of each __dict__ reference, by dict: holder_of */
	struct asnap_pair *holders;
	uint32_t nholders;
};

static inline bool bit(const uint8_t *set, uint32_t v)
{
	return (set[v >> 3] >> (v & 7)) & 1;
}

static inline void set_bit(uint8_t *set, uint32_t v)
{
	set[v >> 3] |= (uint8_t)(1u << (v & 7));
}

static uint32_t type_of(const struct snapinfo *si, uint32_t v)
{
	return si->g->type[v];
}

static bool is_type(const struct snapinfo *si, uint32_t v, int t)
{
	return si->id[t] && type_of(si, v) == si->id[t];
}

static const struct asnap_aio_task *task_of(const struct snapinfo *si, uint32_t v)
{
	return asnap_aio_task(&si->s->aio, v);
}

static uint8_t fut_state(const struct snapinfo *si, uint32_t v)
{
	const struct asnap_aio_task *t = task_of(si, v);
	const struct asnap_aio_future *f = asnap_aio_future(&si->s->aio, v);
	return t ? t->state : f ? f->state : ASNAP_FUT_UNKNOWN;
}

/* The target of v's edge labelled l, a string id (through its __dict__
 * too). */
static uint32_t attr_of(const struct snapinfo *si, uint32_t v, uint32_t l)
{
	const struct asnap_graph *g = si->g;
	uint32_t dict = ASNAP_NO_NODE;
	if (!l)
		return ASNAP_NO_NODE;
	for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
		if (!asnap_graph_edge_is_strong(g, e))
			continue;
		if (g->edge_label[e] == l)
			return g->edge_target[e];
		if (si->id[L_DICT] && g->edge_label[e] == si->id[L_DICT])
			dict = g->edge_target[e];
	}
	if (dict == ASNAP_NO_NODE || !is_type(si, dict, T_DICT))
		return ASNAP_NO_NODE;
	for (uint64_t e = asnap_graph_edge_begin(g, dict); e < asnap_graph_edge_end(g, dict); e++)
		if (g->edge_label[e] == l && asnap_graph_edge_is_strong(g, e))
			return g->edge_target[e];
	return ASNAP_NO_NODE;
}

/* The target of v's edge labelled `label` (an id_names index). */
static uint32_t attr(const struct snapinfo *si, uint32_t v, int label)
{
	return attr_of(si, v, si->id[label]);
}

/*
 * The holder of each dict that is an object's __dict__, sorted by dict (one
 * pair per such reference, not 4 bytes for every object of the snapshot);
 * a dict that is the __dict__ of two keeps the last in node order.
 */
static int index_holders(struct snapinfo *si)
{
	const struct asnap_graph *g = si->g;
	uint32_t n = 0, cap = 0;
	for (uint32_t v = 0; v < g->n && si->id[L_DICT]; v++)
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			if (g->edge_label[e] != si->id[L_DICT])
				continue;
			struct asnap_pair *more = asnap_grow(si->holders, n, &cap, sizeof(*more), 1024);
			if (!more)
				return -1;
			si->holders = more;
			si->holders[n++] = (struct asnap_pair){g->edge_target[e], v};
		}
	if (n > 1)
		qsort(si->holders, n, sizeof(*si->holders), asnap_pair_cmp);
	/* one pair per dict: the last holder (pairs of a dict sorted by holder) */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (kept && si->holders[kept - 1].key == si->holders[i].key)
			kept--;
		si->holders[kept++] = si->holders[i];
	}
	si->nholders = kept;
	return 0;
}

static int snapinfo_init(struct snapinfo *si, const struct asnap_snap *s,
			 const struct asnap_rules *rules)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	*si = (struct snapinfo){.s = s, .g = g, .rules = rules};
	asnap_strings_resolve(g, id_names, si->id, NIDS);
	si->awaited = asnap_big_zalloc((size_t)g->n / 8 + 1, 1);
	si->reg = calloc(2 * (size_t)rules->nregistries + 1, sizeof(*si->reg));
	if (!si->awaited || !si->reg)
		return -1;
	for (uint32_t k = 0; k < rules->nregistries; k++) {
		const struct asnap_registry_rule *r = &rules->registries[k];
		si->reg[2 * k] = asnap_graph_find_string(g, rules->names[r->type]);
		si->reg[2 * k + 1] = asnap_graph_find_string(g, rules->names[r->holds]);
	}
	for (uint32_t i = 0; i < a->ntasks; i++)
		if (a->tasks[i].state == ASNAP_FUT_PENDING && a->tasks[i].waiting_on < g->n)
			set_bit(si->awaited, a->tasks[i].waiting_on);
	for (uint32_t i = 0; i < a->ncoros; i++) {
		uint32_t x = a->coros[i].awaiting;
		if (a->coros[i].state != ASNAP_GEN_SUSPENDED || x >= g->n)
			continue;
		set_bit(si->awaited, x);
		if (a->kind[x] == ASNAP_AIO_NONE) /* a future's iterator (FutureIter) */
			for (uint64_t e = asnap_graph_edge_begin(g, x); e < asnap_graph_edge_end(g, x);
			     e++)
				if (a->kind[g->edge_target[e]] == ASNAP_AIO_FUTURE ||
				    a->kind[g->edge_target[e]] == ASNAP_AIO_TASK)
					set_bit(si->awaited, g->edge_target[e]);
	}
	return index_holders(si);
}

static void snapinfo_finish(struct snapinfo *si)
{
	asnap_free_all(si->awaited, si->holders, si->reg);
}

/* Whose __dict__ v is, or ASNAP_NO_NODE. */
static uint32_t holder_of(const struct snapinfo *si, uint32_t v)
{
	uint64_t i = asnap_lower_bound(si->holders, si->nholders, sizeof(*si->holders),
				       offsetof(struct asnap_pair, key), v);
	return i < si->nholders && si->holders[i].key == v ? si->holders[i].val : ASNAP_NO_NODE;
}

/* ---- done-callbacks -------------------------------------------------------- */

/* The callbacks of future f, into out. */
static void callbacks_of(const struct snapinfo *si, uint32_t f, struct vec *out)
{
	const struct asnap_graph *g = si->g;
	uint32_t cb0 = attr(si, f, L_CALLBACK0), list = attr(si, f, L_CALLBACKS);
	if (cb0 != ASNAP_NO_NODE)
		vec_push(out, cb0);
	if (list == ASNAP_NO_NODE || !is_type(si, list, T_LIST))
		return;
	for (uint64_t e = asnap_graph_edge_begin(g, list); e < asnap_graph_edge_end(g, list); e++) {
		uint32_t item = g->edge_target[e];
		if (!asnap_graph_edge_is_strong(g, e))
			continue;
		if (is_type(si, item, T_TUPLE)) {
			uint64_t b = asnap_graph_edge_begin(g, item);
			if (b < asnap_graph_edge_end(g, item))
				vec_push(out, g->edge_target[b]); /* (callback, context) */
		} else {
			vec_push(out, item);
		}
	}
}

/* The wakeup of a pending task that waits on f: Task.__wakeup / task_wakeup
 * (a C method or TaskWakeupMethWrapper holding the task, or a bound method
 * of the pure-Python Task). */
static bool is_wakeup(const struct snapinfo *si, uint32_t cb, uint32_t f)
{
	const struct asnap_graph *g = si->g;
	if (is_type(si, cb, T_PARTIAL) || is_type(si, cb, T_FUNCTION) || is_type(si, cb, T_TUPLE) ||
	    is_type(si, cb, T_CELL))
		return false;
	bool method = is_type(si, cb, T_METHOD);
	for (uint64_t e = asnap_graph_edge_begin(g, cb); e < asnap_graph_edge_end(g, cb); e++) {
		if (method && g->edge_label[e] != si->id[L_SELF])
			continue;
		const struct asnap_aio_task *t = task_of(si, g->edge_target[e]);
		if (t)
			return t->state == ASNAP_FUT_PENDING && t->waiting_on == f;
	}
	return false;
}

static bool in_progress(const struct snapinfo *si, uint32_t cb, uint32_t f, int level);

/* w is a pending future a live task or coroutine awaits, or one whose own
 * callbacks are in progress (wait_for's shield: the task awaits another
 * future the callback resolves). */
static bool awaited(const struct snapinfo *si, uint32_t w, int level)
{
	if (fut_state(si, w) != ASNAP_FUT_PENDING)
		return false;
	/* awaited, or a pending task: work under way (shield()'s callback
	 * that forgets which task awaits, 3.14+; a task left pending forever
	 * is pending-task's finding) */
	if (bit(si->awaited, w) || task_of(si, w))
		return true;
	if (level <= 0)
		return false;
	struct vec cbs = {0};
	callbacks_of(si, w, &cbs);
	bool yes = false;
	for (uint32_t i = 0; i < cbs.n && i < 8 && !yes; i++)
		yes = !is_wakeup(si, cbs.v[i], w) && in_progress(si, cbs.v[i], w, level - 1);
	free(cbs.v);
	return yes;
}

/* A node the search never enters: it names code or a class, not state. */
static bool opaque(const struct snapinfo *si, uint32_t v)
{
	const struct asnap_aio *a = &si->s->aio;
	return is_type(si, v, T_TYPE) || is_type(si, v, T_MODULE) || a->kind[v] == ASNAP_AIO_LOOP ||
	       a->kind[v] == ASNAP_AIO_CORO || a->kind[v] == ASNAP_AIO_FRAME ||
	       a->kind[v] == ASNAP_AIO_HANDLE;
}

/* A node that only structures a callback (no hop counted through it). */
static bool structural(const struct snapinfo *si, uint32_t v)
{
	return is_type(si, v, T_PARTIAL) || is_type(si, v, T_METHOD) ||
	       is_type(si, v, T_FUNCTION) || is_type(si, v, T_TUPLE) || is_type(si, v, T_CELL) ||
	       is_type(si, v, T_DICT) || is_type(si, v, T_LIST) || is_type(si, v, T_DEQUE) ||
	       is_type(si, v, T_SET);
}

/* Does an edge of v lead to what a callback captures? */
static bool follow(const struct snapinfo *si, uint32_t v, uint32_t label)
{
	if (!label)
		return true;
	if (label == si->id[L_CLASS] || label == si->id[L_GLOBALS] || label == si->id[L_BUILTINS] ||
	    label == si->id[L_CODE])
		return false;
	if (is_type(si, v, T_METHOD))
		return label == si->id[L_FUNC_]; /* not the bound object's state */
	if (is_type(si, v, T_FUNCTION))
		return label == si->id[L_CLOSURE];
	return true;
}

/*
 * Is callback cb of future f still in progress: does it capture, within
 * OBJECT_HOPS ordinary objects, a pending future (not f) that something
 * live awaits? Breadth-first, at most SCAN_BUDGET objects.
 */
static bool in_progress(const struct snapinfo *si, uint32_t cb, uint32_t f, int level)
{
	const struct asnap_graph *g = si->g;
	uint32_t node[SCAN_BUDGET];
	uint8_t hops[SCAN_BUDGET];
	uint32_t head = 0, tail = 0, futures = 0;
	node[tail] = cb;
	hops[tail++] = 0;
	while (head < tail) {
		uint32_t v = node[head];
		uint8_t h = hops[head++];
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t w = g->edge_target[e];
			if (!asnap_graph_edge_is_strong(g, e) || w == f || w >= g->n ||
			    !follow(si, v, g->edge_label[e]) || opaque(si, w))
				continue;
			uint8_t k = si->s->aio.kind[w];
			uint8_t hw = (uint8_t)(h + (structural(si, w) ? 0 : 1));
			if (hw > OBJECT_HOPS)
				continue;
			if (k == ASNAP_AIO_FUTURE || k == ASNAP_AIO_TASK) {
				if (awaited(si, w, level))
					return true;
				if (++futures == 4)
					return false;
				continue; /* not into another future's state */
			}
			bool seen = false;
			for (uint32_t i = 0; i < tail && !seen; i++)
				seen = node[i] == w;
			if (seen)
				continue;
			if (tail == SCAN_BUDGET)
				return false;
			node[tail] = w;
			hops[tail++] = hw;
		}
	}
	return false;
}

/* The function a callback runs (through partials and bound methods), and
 * the object a bound method is bound to (*self). */
static uint32_t unwrap(const struct snapinfo *si, uint32_t cb, uint32_t *self)
{
	*self = ASNAP_NO_NODE;
	for (int i = 0; i < 6; i++) {
		uint32_t next = ASNAP_NO_NODE;
		if (is_type(si, cb, T_PARTIAL))
			next = attr(si, cb, L_FUNC);
		else if (is_type(si, cb, T_METHOD)) {
			*self = attr(si, cb, L_SELF);
			next = attr(si, cb, L_FUNC_);
		}
		if (next == ASNAP_NO_NODE)
			break;
		cb = next;
	}
	return cb;
}

/* What callbacks are grouped by: the code a function runs (closures made
 * per call share it), else the callable's type. Stable across snapshots of
 * one process. */
static void callback_key(const struct snapinfo *si, uint32_t cb, char *buf, size_t len)
{
	uint32_t self, fn = unwrap(si, cb, &self);
	uint32_t code = is_type(si, fn, T_FUNCTION) ? attr(si, fn, L_CODE) : ASNAP_NO_NODE;
	if (code != ASNAP_NO_NODE)
		snprintf(buf, len, "code:%" PRIx64, si->g->addr[code]);
	else if (is_type(si, fn, T_FUNCTION))
		snprintf(buf, len, "function:%" PRIx64, si->g->addr[fn]);
	else
		snprintf(buf, len, "type:%s", asnap_graph_string(si->g, type_of(si, fn)));
}

/* A name for callbacks the agent did not name. */
static void fallback_name(const struct snapinfo *si, uint32_t cb, char *buf, size_t len)
{
	uint32_t self, fn = unwrap(si, cb, &self);
	const char *t = asnap_graph_string(si->g, type_of(si, fn));
	if (self != ASNAP_NO_NODE && is_type(si, fn, T_FUNCTION))
		snprintf(buf, len, "<a method of %s>",
			 short_type(asnap_graph_string(si->g, type_of(si, self))));
	else if (is_type(si, fn, T_FUNCTION))
		snprintf(buf, len, "<a function>");
	else
		snprintf(buf, len, "<%s>", t);
}

/* ---- owners ------------------------------------------------------------- */

/* "Conn._closed": the holder's type and the reference to v. */
static void owner_text(const struct snapinfo *si, uint32_t src, uint32_t label, char *buf,
		       size_t len)
{
	const struct asnap_graph *g = si->g;
	uint32_t h = holder_of(si, src);
	if (h == ASNAP_NO_NODE)
		h = src;
	const struct asnap_aio_coro *c = asnap_aio_coro(&si->s->aio, h);
	const struct asnap_aio_frame *fr = asnap_aio_frame(&si->s->aio, h);
	uint32_t q = c ? c->qualname : fr ? fr->qualname : 0;
	if (q)
		snprintf(buf, len, "%s() local %s", asnap_graph_string(g, q),
			 asnap_graph_string(g, label));
	else
		snprintf(buf, len, "%s.%s", short_type(asnap_graph_string(g, type_of(si, h))),
			 asnap_graph_string(g, label));
}

/*
 * The owner of each of targets[0..n) (its best named referrer) into
 * owners[i] (malloc'd; "<unknown>" when none): an object's attribute first,
 * then a coroutine's or frame's local; never the callbacks, tasks and
 * futures that refer to it. 0 or -1.
 */
static int find_owners(const struct snapinfo *si, const uint32_t *targets, uint32_t n,
		       char **owners)
{
	const struct asnap_graph *g = si->g;
	uint8_t *want = asnap_big_zalloc((size_t)g->n / 8 + 1, 1);
	uint32_t *best = asnap_big_alloc(((size_t)n + 1) * 2, sizeof(*best)); /* (src, label) */
	int *rank = asnap_big_zalloc((size_t)n + 1, sizeof(*rank));
	if (!want || !best || !rank) {
		asnap_free_all(want, best, rank);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		set_bit(want, targets[i]);
	const struct asnap_aio *a = &si->s->aio;
	for (uint32_t v = 0; v < g->n; v++) {
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t w = g->edge_target[e], l = g->edge_label[e];
			if (!bit(want, w) || !l || l == si->id[L_KEY] || !asnap_graph_edge_is_strong(g, e))
				continue;
			const char *ls = asnap_graph_string(g, l);
			bool dict = is_type(si, v, T_DICT);
			if (ls[0] == '[' || a->kind[v] == ASNAP_AIO_TASK || a->kind[v] == ASNAP_AIO_FUTURE ||
			    a->kind[v] == ASNAP_AIO_HANDLE || (structural(si, v) && !dict))
				continue; /* callbacks, containers, asyncio's own references */
			if (is_type(si, v, T_DICT) && holder_of(si, v) == ASNAP_NO_NODE)
				continue; /* a plain dict's key: no name for its holder here */
			int r = a->kind[v] == ASNAP_AIO_CORO || a->kind[v] == ASNAP_AIO_FRAME ? 1 : 2;
			for (uint32_t i = 0; i < n; i++)
				if (targets[i] == w && r > rank[i]) {
					rank[i] = r;
					best[2 * i] = v;
					best[2 * i + 1] = l;
				}
		}
	}
	int rc = 0;
	char buf[256];
	for (uint32_t i = 0; i < n; i++) {
		if (rank[i])
			owner_text(si, best[2 * i], best[2 * i + 1], buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "<unknown>");
		if (!(owners[i] = strdup(buf)))
			rc = -1;
	}
	asnap_free_all(want, best, rank);
	return rc;
}

/* ---- libraries' registries of callbacks ------------------------------------ */

/*
 * Where a library keeps the callbacks a program registers with it, until
 * the program removes them: the rules' "registries" (rules.h), an
 * attribute of the holder's type, a set or list of them, or a dict of such
 * (asyncpg's listeners by channel).
 */
static const char *const REGISTRY_FIX =
	"remove each callback when what it was added for ends (the library's remove call, in a "
	"finally), or register one for the object's life and dispatch from it";

/* The items of a set or list c into out. */
static void members(const struct snapinfo *si, uint32_t c, struct vec *out)
{
	const struct asnap_graph *g = si->g;
	for (uint64_t e = asnap_graph_edge_begin(g, c); e < asnap_graph_edge_end(g, c); e++)
		if (asnap_graph_edge_is_strong(g, e) && g->edge_target[e] < g->n)
			vec_push(out, g->edge_target[e]);
}

/* The callbacks registered in v's registry k (of si->rules), into out. */
static void registered(const struct snapinfo *si, uint32_t v, uint32_t k, struct vec *out)
{
	const struct asnap_graph *g = si->g;
	uint32_t c = attr_of(si, v, si->reg[2 * k + 1]);
	if (c == ASNAP_NO_NODE)
		return;
	if (is_type(si, c, T_SET) || is_type(si, c, T_LIST)) {
		members(si, c, out);
		return;
	}
	if (!is_type(si, c, T_DICT))
		return;
	for (uint64_t e = asnap_graph_edge_begin(g, c); e < asnap_graph_edge_end(g, c); e++) {
		uint32_t x = g->edge_target[e];
		if (!asnap_graph_edge_is_strong(g, e) || x >= g->n ||
		    (si->id[L_KEY] && g->edge_label[e] == si->id[L_KEY]))
			continue; /* (a key: the channel's name) */
		if (is_type(si, x, T_SET) || is_type(si, x, T_LIST))
			members(si, x, out);
		else
			vec_push(out, x);
	}
}

/* ---- piles ---------------------------------------------------------------- */

enum pile_kind { PILE_CALLBACKS, PILE_WAITERS, PILE_REGISTRY };

struct pile {
	enum pile_kind kind;
	uint32_t holder;      /* the future, or the object with the waiters (last snapshot) */
	char key[96];         /* callbacks: callback_key(); waiters: the label */
	struct vec items;     /* in the last snapshot */
	uint32_t total;       /* callbacks: piled on the future, every key */
	uint32_t *counts;     /* per snapshot */
	bool fire;
	bool grew;
	char *owner;
	char name[256];       /* the callback's function; waiters: the container's label */
	char what[160];       /* waiters: what the waiting tasks run, or "" */
	uint32_t nholders;    /* futures (objects) in its finding */
	uint32_t reg;         /* registry: its index in the rules' registries */
	const struct asnap_registry_rule *rule; /* registry: its rule */
};

struct piles {
	struct pile *p;
	uint32_t n, cap;
};

/* The pile of (kind, holder, key), searched from index `from` on. */
static struct pile *pile_get(struct piles *ps, uint32_t from, enum pile_kind kind,
			     uint32_t holder, const char *key)
{
	for (uint32_t i = from; i < ps->n; i++)
		if (ps->p[i].holder == holder && ps->p[i].kind == kind && !strcmp(ps->p[i].key, key))
			return &ps->p[i];
	struct pile *more = asnap_grow(ps->p, ps->n, &ps->cap, sizeof(*more), 16);
	if (!more)
		return NULL;
	ps->p = more;
	struct pile *p = &ps->p[ps->n++];
	*p = (struct pile){.kind = kind, .holder = holder};
	snprintf(p->key, sizeof(p->key), "%s", key);
	return p;
}

/* The piled callbacks of future f: every one that is neither a wakeup of a
 * task waiting on f nor in progress. With key: only those of that key. */
static void piled_callbacks(const struct snapinfo *si, uint32_t f, const char *key,
			    struct vec *out, struct piles *ps)
{
	uint32_t from = ps ? ps->n : 0;
	struct vec cbs = {0};
	callbacks_of(si, f, &cbs);
	char k[96];
	for (uint32_t i = 0; i < cbs.n; i++) {
		uint32_t cb = cbs.v[i];
		if (is_wakeup(si, cb, f) || in_progress(si, cb, f, AWAIT_LEVELS))
			continue;
		callback_key(si, cb, k, sizeof(k));
		if (key && strcmp(k, key))
			continue;
		if (out)
			vec_push(out, cb);
		if (ps) {
			struct pile *p = pile_get(ps, from, PILE_CALLBACKS, f, k);
			if (!p) {
				if (out)
					out->failed = true;
				break;
			}
			vec_push(&p->items, cb);
		}
	}
	if (cbs.failed && out)
		out->failed = true;
	free(cbs.v);
}

/*
 * Strong references to each pending task, not counting the callables that
 * wake it (its wakeup method: held by the future it waits on, or by a
 * handle in the ready queue) nor its own weak entries. Per task, by its
 * index in aio.tasks (asnap_aio_index), or NULL.
 */
static uint32_t *task_referrers(const struct snapinfo *si)
{
	const struct asnap_graph *g = si->g;
	const struct asnap_aio *a = &si->s->aio;
	uint32_t *nref = asnap_big_zalloc((size_t)a->ntasks + 1, sizeof(*nref));
	if (!nref)
		return NULL;
	for (uint32_t v = 0; v < g->n; v++) {
		if (structural(si, v) == false && a->kind[v] == ASNAP_AIO_NONE &&
		    !is_type(si, v, T_TYPE) && !is_type(si, v, T_MODULE)) {
			/* a wakeup callable: a C method / wrapper whose edge is the task */
			uint64_t b = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v);
			if (end - b <= 2) {
				bool wake = false;
				for (uint64_t e = b; e < end && !wake; e++)
					wake = a->kind[g->edge_target[e]] == ASNAP_AIO_TASK &&
					       !g->edge_label[e];
				if (wake)
					continue;
			}
		}
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t w = g->edge_target[e];
			if (w >= g->n || a->kind[w] != ASNAP_AIO_TASK || !asnap_graph_edge_is_strong(g, e))
				continue;
			if (is_type(si, v, T_METHOD) && g->edge_label[e] == si->id[L_SELF])
				continue; /* the pure-Python Task's __wakeup */
			if (w == v || asnap_aio_awaited_by_edge(a, v, e))
				continue; /* (3.14+: who awaits a future, bookkeeping) */
			nref[asnap_aio_index(a, w)]++;
		}
	}
	return nref;
}

/* The container of waiters of v under label, or ASNAP_NO_NODE. */
static uint32_t waiters_of(const struct snapinfo *si, uint32_t v, int label)
{
	uint32_t c = attr(si, v, label);
	if (c == ASNAP_NO_NODE || !(is_type(si, c, T_DEQUE) || is_type(si, c, T_LIST)))
		return ASNAP_NO_NODE;
	return c;
}

/*
 * The waiters of container c nobody will consume: done ones no task is
 * still being woken by, pending ones nothing awaits, and pending ones
 * awaited only by an abandoned task (its own coroutine awaits the waiter
 * and nothing holds the task). *what: the qualified name of such a task's
 * coroutine (string id), if any.
 */
static void stale_waiters(const struct snapinfo *si, uint32_t c, const uint32_t *nref,
			  struct vec *out, uint32_t *what)
{
	const struct asnap_graph *g = si->g;
	const struct asnap_aio *a = &si->s->aio;
	for (uint64_t e = asnap_graph_edge_begin(g, c); e < asnap_graph_edge_end(g, c); e++) {
		uint32_t w = g->edge_target[e];
		if (!asnap_graph_edge_is_strong(g, e) || w >= g->n || a->kind[w] != ASNAP_AIO_FUTURE)
			continue;
		uint8_t st = fut_state(si, w);
		/* the tasks this waiter wakes */
		uint32_t waker = ASNAP_NO_NODE;
		struct vec cbs = {0};
		callbacks_of(si, w, &cbs);
		for (uint32_t i = 0; i < cbs.n && waker == ASNAP_NO_NODE; i++) {
			uint32_t cb = cbs.v[i];
			for (uint64_t f = asnap_graph_edge_begin(g, cb); f < asnap_graph_edge_end(g, cb);
			     f++)
				if (a->kind[g->edge_target[f]] == ASNAP_AIO_TASK)
					waker = g->edge_target[f];
		}
		free(cbs.v);
		bool stale;
		if (st != ASNAP_FUT_PENDING || !bit(si->awaited, w)) {
			/* done but not removed (fine while the task it wakes is about
			 * to run and remove it), or pending with nothing awaiting it */
			stale = !bit(si->awaited, w);
		} else {
			/* a task whose own coroutine awaits the waiter (made of
			 * event.wait() itself), held by nothing else */
			const struct asnap_aio_task *t = task_of(si, waker);
			const struct asnap_aio_coro *co = t ? asnap_aio_coro(a, t->coro) : NULL;
			stale = t && t->state == ASNAP_FUT_PENDING && t->waiting_on == w && co &&
				asnap_aio_leaf_coro(a, t->coro, 64) == t->coro &&
				nref[asnap_aio_index(a, waker)] == 0;
			if (stale && co->qualname && what)
				*what = co->qualname;
		}
		if (stale)
			vec_push(out, w);
	}
}

/* ---- the check ------------------------------------------------------------ */

static int by_addr(const void *x, const void *y)
{
	return asnap_asc_u64(*(const uint64_t *)x, *(const uint64_t *)y);
}

/* Items of the last snapshot's pile also in an earlier one (address and
 * type), out of those in the earlier one. */
static uint32_t kept(const struct snapinfo *last, const struct vec *now,
		     const struct snapinfo *then, const struct vec *before)
{
	uint64_t *addrs = asnap_big_alloc((size_t)before->n + 1, sizeof(*addrs));
	if (!addrs)
		return 0;
	for (uint32_t i = 0; i < before->n; i++)
		addrs[i] = then->g->addr[before->v[i]];
	qsort(addrs, before->n, sizeof(*addrs), by_addr);
	uint32_t n = 0;
	for (uint32_t i = 0; i < now->n; i++) {
		uint64_t x = last->g->addr[now->v[i]];
		uint64_t *hit = bsearch(&x, addrs, before->n, sizeof(*addrs), by_addr);
		if (!hit)
			continue;
		uint32_t w = asnap_snap_find_addr(then->s, x);
		if (w != ASNAP_NO_NODE &&
		    !strcmp(asnap_graph_string(then->g, type_of(then, w)),
			    asnap_graph_string(last->g, type_of(last, now->v[i]))))
			n++;
	}
	free(addrs);
	return n;
}

static const char *bytes_text(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double x = (double)n;
	int u = 0;
	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", n);
	else
		snprintf(buf, len, "%.1f %s", x, unit[u]);
	return buf;
}

/* The finding's summary, by group key (set while emitting). */
static const struct piles *emitting;

static const struct pile *pile_of_group(const char *key)
{
	for (uint32_t i = 0; emitting && i < emitting->n; i++) {
		const struct pile *p = &emitting->p[i];
		char k[512];
		if (!p->fire)
			continue;
		if (p->kind == PILE_CALLBACKS)
			snprintf(k, sizeof(k), "%s on %s", p->name, p->owner);
		else
			snprintf(k, sizeof(k), "%s of %s", p->name, p->owner);
		if (!strcmp(k, key))
			return p;
	}
	return NULL;
}

static void summary(const struct check_ctx *ctx, const char *key, const struct group *g,
		    uint32_t count, bool grew, char *buf, size_t len)
{
	const struct pile *p = pile_of_group(key);
	uint64_t retained = 0;
	for (uint32_t i = 0; i < g->nmembers; i++)
		retained += asnap_dom_retained(&ctx->last->ret.dom, g->members[i].node);
	char bytes[32], growth[160], holders[64];
	bytes_text(retained, bytes, sizeof(bytes));
	bool growing = p && p->grew;
	growth_text(ctx, g, growth, sizeof(growth));
	uint32_t nh = p ? p->nholders : 1;
	if (!p) {
		snprintf(buf, len, "%u callbacks or waiters pile up on one object (%s)", count, key);
	} else if (p->kind == PILE_CALLBACKS) {
		if (nh == 1)
			snprintf(holders, sizeof(holders), "one pending future");
		else
			snprintf(holders, sizeof(holders), "%u pending futures", nh);
		snprintf(buf, len,
			 "%u done-callbacks of %s() pile up on %s held by %s (added per use, never "
			 "removed)%s%s%s, retaining %s",
			 count, p->name, holders, p->owner, growing ? ": " : "",
			 growing ? growth : "", growing ? " across the snapshots" : "", bytes);
	} else if (p->kind == PILE_REGISTRY) {
		const char *what = p->rule && p->rule->what ? p->rule->what : "callbacks";
		snprintf(buf, len, "%u %s registered and never removed pile up in %s of %s%s%s%s, "
			 "retaining %s",
			 count, what, p->name, p->owner, growing ? ": " : "",
			 growing ? growth : "", growing ? " across the snapshots" : "", bytes);
	} else {
		char what[224] = "";
		if (p->what[0])
			snprintf(what, sizeof(what), " (tasks left waiting in %.160s() that nothing holds)",
				 p->what);
		snprintf(buf, len, "%u waiters nobody will consume pile up in %s of %s%s%s%s%s, "
			 "retaining %s",
			 count, p->name, p->owner, what, growing ? ": " : "", growing ? growth : "",
			 growing ? " across the snapshots" : "", bytes);
	}
	(void)grew;
}

static const char *const CALLBACK_FIX =
	"remove the callback on every path (fut.remove_done_callback(cb) in a finally), or race "
	"with asyncio.wait()/as_completed() and cancel what is left; do not let callbacks capture "
	"request state";
static const char *const WAITER_FIX =
	"cancel (and await) what asyncio.wait(..., FIRST_COMPLETED) or as_completed() leaves "
	"pending, e.g. the task made of event.wait(); remove waiters in a finally";

/* Build the piles of the last snapshot. */
static int last_piles(struct check_ctx *ctx, struct snapinfo *si, const uint32_t *nref,
		      struct piles *ps)
{
	const struct asnap_aio *a = &si->s->aio;
	const struct asnap_graph *g = si->g;
	const struct asnap_domtree *dom = &ctx->last->ret.dom;
	/* futures and tasks with at least two callbacks */
	for (uint32_t pass = 0; pass < 2; pass++) {
		uint32_t n = pass ? a->ntasks : a->nfutures;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t f = pass ? a->tasks[i].node : a->futures[i].node;
			uint8_t st = pass ? a->tasks[i].state : a->futures[i].state;
			int64_t ncb = pass ? a->tasks[i].callbacks : a->futures[i].callbacks;
			if (st != ASNAP_FUT_PENDING || ncb < 2 || f >= g->n || asnap_dom_is_garbage(dom, f))
				continue;
			uint32_t before = ps->n;
			struct vec dummy = {0};
			piled_callbacks(si, f, NULL, &dummy, ps);
			free(dummy.v);
			if (dummy.failed)
				return -1;
			uint32_t total = 0;
			for (uint32_t j = before; j < ps->n; j++)
				total += ps->p[j].items.n;
			for (uint32_t j = before; j < ps->n; j++)
				ps->p[j].total = total;
		}
	}
	/* objects with waiters */
	static const int labels[] = {L_WAITERS, L_GETTERS, L_PUTTERS};
	for (uint32_t v = 0; v < g->n; v++) {
		if (a->kind[v] != ASNAP_AIO_NONE || structural(si, v) || asnap_dom_is_garbage(dom, v))
			continue;
		for (int k = 0; k < 3; k++) {
			uint32_t c = si->id[labels[k]] ? waiters_of(si, v, labels[k]) : ASNAP_NO_NODE;
			if (c == ASNAP_NO_NODE)
				continue;
			struct vec st = {0};
			uint32_t what = 0;
			stale_waiters(si, c, nref, &st, &what);
			if (st.failed) {
				free(st.v);
				return -1;
			}
			if (!st.n) {
				free(st.v);
				continue;
			}
			struct pile *p = pile_get(ps, ps->n, PILE_WAITERS, v, id_names[labels[k]]);
			if (!p) {
				free(st.v);
				return -1;
			}
			p->items = st;
			p->total = st.n;
			if (what)
				snprintf(p->what, sizeof(p->what), "%s", asnap_graph_string(g, what));
		}
	}
	/* libraries' registries, when a snapshot has one of their types */
	const struct asnap_rules *rules = si->rules;
	bool any = false;
	for (uint32_t k = 0; k < rules->nregistries; k++)
		any = any || (si->reg[2 * k] && si->reg[2 * k + 1]);
	for (uint32_t v = 0; any && v < g->n; v++) {
		for (uint32_t k = 0; k < rules->nregistries; k++) {
			if (!si->reg[2 * k] || type_of(si, v) != si->reg[2 * k] ||
			    asnap_dom_is_garbage(dom, v))
				continue;
			struct vec items = {0};
			registered(si, v, k, &items);
			if (items.failed) {
				free(items.v);
				return -1;
			}
			if (!items.n) {
				free(items.v);
				continue;
			}
			const struct asnap_registry_rule *r = &rules->registries[k];
			struct pile *p = pile_get(ps, ps->n, PILE_REGISTRY, v, rules->names[r->holds]);
			if (!p) {
				free(items.v);
				return -1;
			}
			p->items = items;
			p->total = items.n;
			p->reg = k;
			p->rule = r;
		}
	}
	for (uint32_t i = 0; i < ps->n; i++)
		if (ps->p[i].items.failed)
			return -1;
	return 0;
}

/* The node of an earlier snapshot at the holder's address, of its type. */
static uint32_t same_holder(const struct snapinfo *last, const struct snapinfo *si, uint32_t v)
{
	uint32_t w = asnap_snap_find_addr(si->s, last->g->addr[v]);
	if (w == ASNAP_NO_NODE || strcmp(asnap_graph_string(si->g, type_of(si, w)),
					 asnap_graph_string(last->g, type_of(last, v))))
		return ASNAP_NO_NODE;
	return w;
}

/* The pile of `p` in an earlier snapshot, on w (its holder there, held by
 * `owner`), or false when w is not provably the same object: the same
 * address, type and owner (a future awaited by many tasks has no one task
 * to be known by). */
static bool earlier_pile(struct snapinfo *si, const uint32_t *nref, const struct pile *p,
			 uint32_t w, const char *owner, struct vec *out)
{
	if (w == ASNAP_NO_NODE || !owner || strcmp(owner, p->owner))
		return false;
	if (p->kind == PILE_CALLBACKS) {
		if (fut_state(si, w) != ASNAP_FUT_PENDING)
			return false;
		piled_callbacks(si, w, p->key, out, NULL);
	} else if (p->kind == PILE_REGISTRY) {
		if (si->reg[2 * p->reg] && type_of(si, w) == si->reg[2 * p->reg])
			registered(si, w, p->reg, out);
	} else {
		int label = !strcmp(p->key, "_getters") ? L_GETTERS
			    : !strcmp(p->key, "_putters") ? L_PUTTERS : L_WAITERS;
		uint32_t c = waiters_of(si, w, label);
		if (c != ASNAP_NO_NODE)
			stale_waiters(si, c, nref, out, NULL);
	}
	return !out->failed;
}

/* What the piles need across the snapshots: the last one's infos from
 * begin to end, an earlier one's during its turn (piled_earlier). */
struct piled {
	const struct asnap_rules *rules; /* their registries */
	struct snapinfo *infos;  /* per snapshot */
	uint32_t **nrefs;        /* per snapshot: task referrers */
	struct piles ps;
	uint32_t *cand, *targets, nc; /* the piles that may fire; scratch */
	char **owners;           /* scratch, nc + 1 */
	uint8_t *same, *grows;   /* per candidate: the same object so far, growing so far */
	uint32_t *w;             /* per candidate: its holder in the earlier snapshot */
	uint8_t *named_last;     /* per pile: named from the last snapshot */
	uint32_t nsnap;
	bool across;             /* piles followed across the snapshots */
	bool none;               /* the last snapshot has no labels or types */
};

/* May candidate c still fire: by size, or by growth so far? */
static bool may_fire(const struct piled *pd, uint32_t c)
{
	return pd->ps.p[pd->cand[c]].fire || (pd->across && pd->same[c] && pd->grows[c]);
}

/*
 * Names of callback keys: what the agent recorded (`callback_name` of a
 * future record) in snapshot si, for the candidates that may fire and
 * have none from the last snapshot: the first record of each key, in one
 * pass over the records. Called for the last snapshot, then the earlier
 * ones oldest first, so that the latest snapshot that has a name gives it.
 */
static int name_piles(struct piled *pd, struct snapinfo *si, bool last)
{
	if (!si->id[P_CALLBACK] || !si->id[P_CALLBACK_NAME])
		return 0;
	struct asnap_strmap keys;
	asnap_strmap_init(&keys);
	uint32_t *name = NULL, nkeys = 0;
	int rc = -1;
	for (uint32_t c = 0; c < pd->nc; c++) {
		const struct pile *p = &pd->ps.p[pd->cand[c]];
		if (p->kind == PILE_CALLBACKS && !pd->named_last[pd->cand[c]] && may_fire(pd, c)) {
			if (asnap_strmap_intern(&keys, p->key, strlen(p->key)) == UINT32_MAX)
				goto out;
			nkeys = keys.count;
		}
	}
	if (!nkeys || !(name = calloc(nkeys, sizeof(*name)))) {
		rc = nkeys ? -1 : 0;
		goto out;
	}
	const struct asnap_graph *g = si->g;
	char k[96];
	for (uint64_t r = 0; r < g->nrecords; r++) {
		const struct asnap_record *rec = &g->records[r];
		if (rec->kind != si->id[K_FUTURE] && rec->kind != si->id[K_TASK])
			continue;
		uint32_t cb = ASNAP_NO_NODE, nm = 0;
		for (uint32_t q = 0; q < rec->nprops; q++) {
			const struct asnap_prop *pr = &rec->props[q];
			if (pr->key == si->id[P_CALLBACK] && pr->value.type == ASNAP_VAL_NODE)
				cb = pr->value.u.node;
			else if (pr->key == si->id[P_CALLBACK_NAME] &&
				 pr->value.type == ASNAP_VAL_STR)
				nm = pr->value.u.str;
		}
		if (cb >= g->n || !nm)
			continue;
		callback_key(si, cb, k, sizeof(k));
		uint32_t i = asnap_strmap_find(&keys, k, strlen(k));
		if (i != UINT32_MAX && !name[i])
			name[i] = nm;
	}
	for (uint32_t c = 0; c < pd->nc; c++) {
		struct pile *p = &pd->ps.p[pd->cand[c]];
		if (p->kind != PILE_CALLBACKS || pd->named_last[pd->cand[c]] || !may_fire(pd, c))
			continue;
		uint32_t i = asnap_strmap_find(&keys, p->key, strlen(p->key));
		if (i == UINT32_MAX || !name[i])
			continue;
		snprintf(p->name, sizeof(p->name), "%s", asnap_graph_string(g, name[i]));
		pd->named_last[pd->cand[c]] = last;
	}
	rc = 0;
out:
	free(name);
	asnap_strmap_finish(&keys);
	return rc;
}

/* The piles that may fire, by their size in the last snapshot or (across
 * snapshots) by growth: their indexes in cand, their holders in targets. */
static int pick_candidates(struct check_ctx *ctx, struct piles *ps, bool across, uint32_t *cand,
			   uint32_t *targets, uint32_t *nc)
{
	*nc = 0;
	for (uint32_t i = 0; i < ps->n; i++) {
		struct pile *p = &ps->p[i];
		uint32_t n = p->items.n;
		p->fire = p->kind == PILE_CALLBACKS
				  ? p->total >= PILED_MIN && n >= 2 && n * 10 >= p->total
				  : n >= PILED_MIN;
		if (!p->fire && !(across && n >= PILED_GROWTH_MIN))
			continue;
		if (!(p->counts = calloc(ctx->nsnap, sizeof(*p->counts))))
			return -1;
		p->counts[ctx->nsnap - 1] = n;
		targets[*nc] = p->holder;
		cand[(*nc)++] = i;
	}
	return 0;
}

/* Each candidate's holder followed back into earlier snapshot j (its
 * turn, oldest first): a pile of the same object in every one, growing
 * and kept, fires as grown (piled_end). */
static int follow_growth(struct check_ctx *ctx, struct piled *pd, uint32_t j)
{
	uint32_t L = ctx->nsnap - 1;
	struct snapinfo *last = &pd->infos[L];
	struct piles *ps = &pd->ps;
	uint32_t nt = 0;
	for (uint32_t c = 0; c < pd->nc; c++) {
		pd->w[c] = pd->same[c] ? same_holder(last, &pd->infos[j], ps->p[pd->cand[c]].holder)
				       : ASNAP_NO_NODE;
		if (pd->w[c] != ASNAP_NO_NODE)
			pd->targets[nt++] = pd->w[c];
	}
	if (find_owners(&pd->infos[j], pd->targets, nt, pd->owners) < 0)
		return -1;
	for (uint32_t c = 0, t = 0; c < pd->nc; c++) {
		struct pile *p = &ps->p[pd->cand[c]];
		const char *owner = pd->w[c] != ASNAP_NO_NODE ? pd->owners[t++] : NULL;
		struct vec before = {0};
		if (!earlier_pile(&pd->infos[j], pd->nrefs[j], p, pd->w[c], owner, &before)) {
			pd->same[c] = pd->grows[c] = 0;
			free(before.v);
			continue;
		}
		p->counts[j] = before.n;
		if (j > 0 && before.n < p->counts[j - 1])
			pd->grows[c] = 0;
		bool check = ctx->nsnap == 2 || j >= 1;
		uint32_t k = check ? kept(last, &p->items, &pd->infos[j], &before) : 0;
		if (check && (k * 2 < before.n || (j == L - 1 && k < 2)))
			pd->grows[c] = 0;
		free(before.v);
	}
	for (uint32_t t = 0; t < nt; t++) {
		free(pd->owners[t]);
		pd->owners[t] = NULL;
	}
	return 0;
}

static int group_piles(struct check_ctx *ctx, struct piles *ps)
{
	uint32_t L = ctx->nsnap - 1;
	struct grouping gr;
	grouping_init(&gr, ctx);
	gr.pile = true; /* one snapshot: PILED_MIN on one object */
	char key[512];
	for (uint32_t i = 0; i < ps->n && !gr.failed; i++) {
		struct pile *p = &ps->p[i];
		if (!p->fire)
			continue;
		if (p->kind != PILE_CALLBACKS) {
			char holder[160];
			snprintf(holder, sizeof(holder), "%.150s", p->name);
			snprintf(p->name, sizeof(p->name), "%s.%.90s", holder, p->key);
		}
		if (p->kind == PILE_CALLBACKS)
			snprintf(key, sizeof(key), "%s on %s", p->name, p->owner);
		else
			snprintf(key, sizeof(key), "%s of %s", p->name, p->owner);
		for (uint32_t j = 0; j < L; j++)
			for (uint32_t c = 0; c < p->counts[j]; c++)
				group_add(&gr, j, key, ASNAP_NO_NODE, false, NULL);
		struct group *g = NULL;
		for (uint32_t c = 0; c < p->items.n; c++)
			g = group_add(&gr, L, key, p->items.v[c], true, NULL);
		if (g)
			g->fix = p->kind == PILE_CALLBACKS   ? CALLBACK_FIX
				 : p->kind == PILE_WAITERS ? WAITER_FIX
				 : p->rule && p->rule->fix ? p->rule->fix
							   : REGISTRY_FIX;
	}
	for (uint32_t i = 0; i < ps->n; i++) {
		if (!ps->p[i].fire)
			continue;
		uint32_t nh = 0;
		bool grew = true;
		for (uint32_t j = 0; j < ps->n; j++)
			if (ps->p[j].fire && ps->p[j].kind == ps->p[i].kind &&
			    !strcmp(ps->p[j].name, ps->p[i].name) &&
			    !strcmp(ps->p[j].owner, ps->p[i].owner)) {
				nh++;
				grew = grew && ps->p[j].grew;
			}
		ps->p[i].nholders = nh;
		ps->p[i].grew = grew;
	}
	emitting = ps;
	int rc = grouping_emit(&gr, ASNAP_CHECK_PENDING_FUTURE, summary);
	emitting = NULL;
	grouping_finish(&gr);
	return rc;
}


static void piled_free(struct piled *pd)
{
	if (!pd)
		return;
	for (uint32_t c = 0; pd->owners && c <= pd->ps.n; c++)
		free(pd->owners[c]);
	asnap_free_all(pd->cand, pd->targets, pd->owners, pd->same, pd->grows, pd->w,
		       pd->named_last);
	for (uint32_t i = 0; i < pd->ps.n; i++)
		asnap_free_all(pd->ps.p[i].items.v, pd->ps.p[i].counts, pd->ps.p[i].owner);
	free(pd->ps.p);
	for (uint32_t j = 0; pd->infos && pd->nrefs && j < pd->nsnap; j++) {
		snapinfo_finish(&pd->infos[j]);
		free(pd->nrefs[j]);
	}
	asnap_free_all(pd->infos, pd->nrefs, pd);
}

/* The piles of the last snapshot, their owners and names there. */
static int piled_begin(struct check_ctx *ctx, void **state)
{
	struct piled *pd = calloc(1, sizeof(*pd));
	*state = pd;
	if (!pd)
		return nomem(ctx);
	pd->nsnap = ctx->nsnap;
	pd->rules = ctx->rules;
	if (!ctx->last->g->edge_label || !ctx->last->g->type) {
		pd->none = true;
		return 0;
	}
	uint32_t L = ctx->nsnap - 1;
	pd->across = ctx->nsnap >= 2 && ctx->same_process;
	pd->infos = calloc(ctx->nsnap, sizeof(*pd->infos));
	pd->nrefs = calloc(ctx->nsnap, sizeof(*pd->nrefs));
	if (!pd->infos || !pd->nrefs || snapinfo_init(&pd->infos[L], ctx->last, pd->rules) < 0 ||
	    !(pd->nrefs[L] = task_referrers(&pd->infos[L])))
		return nomem(ctx);
	struct snapinfo *last = &pd->infos[L];
	if (last_piles(ctx, last, pd->nrefs[L], &pd->ps) < 0)
		return nomem(ctx);
	/* the piles that may fire, and the owners of their holders: one pass
	 * over each snapshot's references for all of them */
	size_t n = (size_t)pd->ps.n + 1;
	pd->cand = asnap_big_alloc(n, sizeof(*pd->cand));
	pd->targets = asnap_big_alloc(n, sizeof(*pd->targets));
	pd->owners = asnap_big_zalloc(n, sizeof(*pd->owners));
	pd->w = asnap_big_alloc(n, sizeof(*pd->w));
	pd->same = malloc(n);
	pd->grows = malloc(n);
	pd->named_last = calloc(n, 1);
	if (!pd->cand || !pd->targets || !pd->owners || !pd->w || !pd->same || !pd->grows ||
	    !pd->named_last ||
	    pick_candidates(ctx, &pd->ps, pd->across, pd->cand, pd->targets, &pd->nc) < 0 ||
	    find_owners(last, pd->targets, pd->nc, pd->owners) < 0)
		return nomem(ctx);
	memset(pd->same, 1, n);
	memset(pd->grows, 1, n);
	for (uint32_t c = 0; c < pd->nc; c++) {
		pd->ps.p[pd->cand[c]].owner = pd->owners[c];
		pd->owners[c] = NULL;
	}
	return name_piles(pd, last, true) < 0 ? nomem(ctx) : 0;
}

/* Earlier snapshot j, in its turn: the piles followed into it, and the
 * names it has for them. A snapshot without labels or types ends the
 * following across (none of the earlier counts is kept). */
static int piled_earlier(struct check_ctx *ctx, void *state, uint32_t j)
{
	struct piled *pd = state;
	if (pd->none || !pd->across)
		return 0;
	const struct asnap_snap *s = ctx->snaps[j];
	if (!s->g->edge_label || !s->g->type) {
		pd->across = false;
		return 0;
	}
	bool ok = snapinfo_init(&pd->infos[j], s, pd->rules) == 0 &&
		  (pd->nrefs[j] = task_referrers(&pd->infos[j])) && follow_growth(ctx, pd, j) == 0 &&
		  name_piles(pd, &pd->infos[j], false) == 0;
	snapinfo_finish(&pd->infos[j]);
	pd->infos[j] = (struct snapinfo){0};
	free(pd->nrefs[j]);
	pd->nrefs[j] = NULL;
	return ok ? 0 : nomem(ctx);
}

/* The last snapshot's objects whose lifetime the findings may ask: the
 * items of every pile that may still fire. */
static void piled_mark(const struct check_ctx *ctx, void *state, uint8_t *need)
{
	(void)ctx;
	const struct piled *pd = state;
	for (uint32_t c = 0; !pd->none && c < pd->nc; c++) {
		if (!may_fire(pd, c))
			continue;
		const struct vec *items = &pd->ps.p[pd->cand[c]].items;
		for (uint32_t i = 0; i < items->n; i++)
			need[items->v[i]] |= 1;
	}
}

/* The piles that fire, named, as findings. */
static int piled_end(struct check_ctx *ctx, void *state)
{
	struct piled *pd = state;
	if (pd->none)
		return 0;
	uint32_t L = ctx->nsnap - 1;
	struct piles *ps = &pd->ps;
	for (uint32_t c = 0; c < pd->nc; c++) {
		struct pile *p = &ps->p[pd->cand[c]];
		uint32_t n = p->items.n;
		if (!pd->across) /* followed part of the way: not evidence */
			memset(p->counts, 0, L * sizeof(*p->counts));
		else if (pd->same[c] && pd->grows[c] && p->counts[L - 1] <= n && n > p->counts[0] &&
			 n >= PILED_GROWTH_MIN)
			p->grew = p->fire = true;
	}
	struct snapinfo *last = &pd->infos[L];
	for (uint32_t i = 0; i < ps->n; i++) {
		struct pile *p = &ps->p[i];
		if (p->fire && p->kind == PILE_CALLBACKS && !p->name[0])
			fallback_name(last, p->items.v[0], p->name, sizeof(p->name));
		if (p->kind != PILE_CALLBACKS && p->fire)
			snprintf(p->name, sizeof(p->name), "%s",
				 short_type(asnap_graph_string(last->g, type_of(last, p->holder))));
	}
	return group_piles(ctx, ps);
}

static void piled_release(void *state)
{
	piled_free(state);
}

const struct check_extra check_piled_callbacks = {
	.begin = piled_begin,
	.earlier = piled_earlier,
	.mark = piled_mark,
	.end = piled_end,
	.release = piled_release,
};
