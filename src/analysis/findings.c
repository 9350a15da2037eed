/*
 * findings.c - what is done with the checks' findings before they are
 * shown (see checks.h):
 *
 *  - a finding's retained size is that of the SET of its objects: the bytes
 *    that freeing all of them together would free, counted once, never
 *    more than the heap (summing the objects' own retained sizes counts
 *    twice what they share, and misses what only the set keeps);
 *  - one bug, one finding: a finding whose objects are kept alive by
 *    another finding's objects, or reached from them without passing
 *    through the event loop, is folded into it as a consequence;
 *  - the chain shown leads from a root to the object through the program's
 *    objects rather than through the event loop's selector, ready queue
 *    and timer heap whenever such a chain exists;
 *  - findings in the program's own code come first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "analysis/strings.h"
#include "graph/paths.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/order.h"

/* A consequence covers at least this share of a finding's objects. */
#define COVER_NUM 9
#define COVER_DEN 10
/* Reaching another finding's objects: at most this many references away,
 * looking at no more than this many objects. */
#define REACH_DEPTH 8
#define REACH_BUDGET 200000u
/* The parts of a library object: this close to it. */
#define NEAR_DEPTH 3

static inline bool bit(const uint8_t *set, uint32_t v)
{
	return set && (set[v >> 3] >> (v & 7)) & 1;
}

static inline void set_bit(uint8_t *set, uint32_t v)
{
	set[v >> 3] |= (uint8_t)(1u << (v & 7));
}

/* ---- the event loop's own objects ---------------------------------------- */

/*
 * The objects through which the loop holds everything it serves: the loop
 * itself, its ready queue and timer heap, its selector and the selector's
 * maps (whose keys hold each transport's reader and writer handles). A
 * chain through them says "the loop holds it", which is true of every
 * socket and timer and tells the user nothing. A bitset, or NULL.
 */
static uint8_t *loop_internals(const struct asnap_snap *s)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	uint8_t *set = asnap_big_zalloc((size_t)g->n / 8 + 1, 1);
	if (!set)
		return NULL;
	static const char *const names[] = {"_selector", "_fd_to_key", "_map", "_ready",
					    "_scheduled"};
	uint32_t lab[5];
	asnap_strings_resolve(g, names, lab, 5);
	for (uint32_t i = 0; i < a->nloops; i++) {
		uint32_t loop = a->loops[i].node;
		if (loop >= g->n)
			continue;
		set_bit(set, loop);
		if (a->loops[i].ready < g->n)
			set_bit(set, a->loops[i].ready);
		if (a->loops[i].scheduled < g->n)
			set_bit(set, a->loops[i].scheduled);
		for (uint64_t e = asnap_graph_edge_begin(g, loop); e < asnap_graph_edge_end(g, loop); e++) {
			uint32_t l = g->edge_label[e], sel = g->edge_target[e];
			if (!l || (l != lab[0] && l != lab[3] && l != lab[4]))
				continue;
			set_bit(set, sel);
			if (l != lab[0])
				continue;
			for (uint64_t f = asnap_graph_edge_begin(g, sel); f < asnap_graph_edge_end(g, sel);
			     f++) {
				uint32_t m = g->edge_label[f];
				if (m && (m == lab[1] || m == lab[2]))
					set_bit(set, g->edge_target[f]);
			}
		}
	}
	return set;
}

static bool node_is_user(const struct asnap_snap *s, uint32_t v);

/* ---- chains ------------------------------------------------------------- */

/*
 * The chain to target, breadth-first from the real roots (then, when they
 * do not reach it, from the garbage's too), never through the loop's
 * internals (unless the target is one); with skip_external, only from the
 * real roots not held from outside (C code). 1 found, 0 not, -1 out of
 * memory.
 */
static int bfs_path(struct check_ctx *ctx, uint32_t target, bool skip_external, uint32_t **nodes,
		    uint32_t *len)
{
	const struct asnap_snap *s = ctx->last;
	const struct asnap_graph *g = s->g;
	const struct asnap_rootset *rs = &s->ret.roots;
	struct asnap_path_ws ws;
	if (asnap_path_ws_init(&ws, g->n, ctx->err) < 0)
		return -1;
	uint32_t head = 0, tail = 0;
	bool found = false;
	/* (skipping C's roots, garbage's are not tried: a chain from a real
	 * root held from C says more than one from garbage) */
	uint32_t end = skip_external ? rs->nreal : rs->count;
	for (uint32_t from = 0, upto = rs->nreal; !found && from < end;
	     from = upto, upto = rs->count) {
		for (uint32_t i = from; i < upto && !found; i++) {
			uint32_t r = rs->items[i].node;
			if (r >= g->n || ws.pred[r] != ASNAP_NO_NODE ||
			    (bit(ctx->loop_internals, r) && r != target))
				continue;
			/* held from C as well (uvloop holds a transport while it reads):
			 * what in the program holds it says more than "external" */
			if (rs->items[i].kind == ASNAP_ROOT_EXTERNAL && (r == target || skip_external))
				continue;
			ws.pred[r] = r;
			ws.queue[tail++] = r;
			found = r == target;
		}
		while (head < tail && !found) {
			uint32_t v = ws.queue[head++];
			for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
				uint32_t w = g->edge_target[e];
				if (!asnap_graph_edge_is_strong(g, e) || ws.pred[w] != ASNAP_NO_NODE ||
				    (bit(ctx->loop_internals, w) && w != target))
					continue;
				ws.pred[w] = v;
				ws.queue[tail++] = w;
				if (w == target) {
					found = true;
					break;
				}
			}
		}
	}
	int rc = 0;
	if (found) {
		uint32_t n = 1;
		for (uint32_t v = target; ws.pred[v] != v; v = ws.pred[v])
			n++;
		uint32_t *p = malloc(n * sizeof(*p));
		if (!p) {
			rc = nomem(ctx);
		} else {
			uint32_t i = n;
			for (uint32_t v = target;; v = ws.pred[v]) {
				p[--i] = v;
				if (ws.pred[v] == v)
					break;
			}
			*nodes = p;
			*len = n;
			rc = 1;
		}
	}
	/* asnap_path_ws_finish frees; the pred marks need no reset */
	asnap_path_ws_finish(&ws);
	return rc;
}

/*
 * The chain through one of the program's own objects to the first of
 * want[0..nwant) (in that order) that such a chain reaches: breadth-first
 * from the real roots not held from C, never through the loop's
 * internals, over pairs (object, whether the chain to it passed one of
 * the program's objects). A resource the program keeps in a list beside
 * others of its type that only the loop holds (the server's ends of the
 * connections it leaves open) is shown where the program keeps it.
 * *which: the index of the object reached. 1 found, 0 not, -1 out of
 * memory.
 */
static int user_path(struct check_ctx *ctx, const struct asnap_finding_object *want,
		     uint32_t nwant, uint32_t **nodes, uint32_t *len, uint32_t *which)
{
	const struct asnap_snap *s = ctx->last;
	const struct asnap_graph *g = s->g;
	const struct asnap_rootset *rs = &s->ret.roots;
	if (!s->code.known || !nwant)
		return 0;
	/* pred[u][v]: the object before v on the first chain to (v, u); from1:
	 * that object's own pair was (pred, 1). The queue holds each pair at
	 * most once: a node id and its u in qbit. */
	uint32_t *pred = asnap_big_alloc(2 * (size_t)g->n, sizeof(*pred));
	uint8_t *from1 = asnap_big_zalloc((size_t)g->n / 8 + 1, 1);
	uint32_t *queue = asnap_big_alloc(2 * (size_t)g->n, sizeof(*queue));
	uint8_t *qbit = asnap_big_alloc(2 * (size_t)g->n, 1);
	uint8_t *user = asnap_big_zalloc((size_t)g->n, 1); /* 0 not asked, 1 no, 2 yes */
	int rc = 0;
	if (!pred || !from1 || !queue || !qbit || !user) {
		rc = nomem(ctx);
		goto out;
	}
	memset(pred, 0xff, 2 * (size_t)g->n * sizeof(*pred)); /* ASNAP_NO_NODE: unseen */
	uint32_t *p1 = pred + g->n;
	size_t head = 0, tail = 0;
	for (uint32_t i = 0; i < rs->nreal; i++) {
		uint32_t r = rs->items[i].node;
		if (r >= g->n || rs->items[i].kind == ASNAP_ROOT_EXTERNAL || bit(ctx->loop_internals, r))
			continue;
		uint8_t u = node_is_user(s, r);
		if (pred[(size_t)u * g->n + r] != ASNAP_NO_NODE)
			continue;
		pred[(size_t)u * g->n + r] = r;
		queue[tail] = r;
		qbit[tail++] = u;
	}
	while (head < tail && p1[want[0].node] == ASNAP_NO_NODE) {
		uint32_t v = queue[head];
		uint8_t u = qbit[head++];
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t w = g->edge_target[e];
			if (!asnap_graph_edge_is_strong(g, e) || bit(ctx->loop_internals, w) ||
			    p1[w] != ASNAP_NO_NODE)
				continue;
			if (!u && !user[w])
				user[w] = node_is_user(s, w) ? 2 : 1;
			uint8_t uw = u || user[w] == 2;
			if (!uw && pred[w] != ASNAP_NO_NODE)
				continue;
			pred[(size_t)uw * g->n + w] = v;
			if (uw && u)
				set_bit(from1, w);
			queue[tail] = w;
			qbit[tail++] = uw;
		}
	}
	uint32_t k = 0;
	while (k < nwant && p1[want[k].node] == ASNAP_NO_NODE)
		k++;
	if (k == nwant)
		goto out;
	/* back from (want[k], 1) to its root */
	uint32_t n = 1;
	for (uint32_t v = want[k].node, u = 1; pred[(size_t)u * g->n + v] != v; n++) {
		uint32_t prev = pred[(size_t)u * g->n + v];
		u = u && bit(from1, v);
		v = prev;
	}
	uint32_t *chain = malloc(n * sizeof(*chain));
	if (!chain) {
		rc = nomem(ctx);
		goto out;
	}
	uint32_t i = n;
	for (uint32_t v = want[k].node, u = 1;;) {
		chain[--i] = v;
		uint32_t prev = pred[(size_t)u * g->n + v];
		if (prev == v)
			break;
		u = u && bit(from1, v);
		v = prev;
	}
	*nodes = chain;
	*len = n;
	*which = k;
	rc = 1;
out:
	asnap_free_all(pred, from1, queue, qbit, user);
	return rc;
}

int finding_path(struct check_ctx *ctx, const struct asnap_finding_object *objects,
		 uint32_t nobjects, bool program_first, uint32_t **nodes, uint32_t *len)
{
	const struct asnap_snap *s = ctx->last;
	uint32_t target = objects[0].node;
	*nodes = NULL;
	*len = 0;
	if (!ctx->loop_internals && !(ctx->loop_internals = loop_internals(s)))
		return nomem(ctx);
	uint32_t which = 0;
	int rc = program_first ? user_path(ctx, objects, nobjects, nodes, len, &which) : 0;
	if (rc == 0 && program_first)
		rc = bfs_path(ctx, target, true, nodes, len);
	if (rc == 0)
		rc = bfs_path(ctx, target, false, nodes, len);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	/* only through the loop: the plain shortest chain */
	struct asnap_path_ws ws;
	if (asnap_path_ws_init(&ws, s->g->n, ctx->err) < 0)
		return -1;
	rc = asnap_path_from_roots(s->g, &s->ret.roots, target, &ws, nodes, len, ctx->err);
	asnap_path_ws_finish(&ws);
	return rc;
}

/* ---- the dominator tree in preorder ------------------------------------- */

struct tree {
	uint32_t n;
	uint32_t *tin;   /* n + 1: preorder number */
	uint32_t *last;  /* n + 1: the largest preorder number in v's subtree */
	uint32_t *order; /* n + 1: node at each preorder number */
};

static int tree_build(const struct asnap_domtree *d, struct tree *t)
{
	uint32_t n = d->n;
	*t = (struct tree){.n = n};
	uint32_t *start = asnap_big_zalloc((size_t)n + 2, sizeof(*start));
	uint32_t *child = asnap_big_alloc((size_t)n + 1, sizeof(*child));
	uint32_t *stack = asnap_big_alloc((size_t)n + 1, sizeof(*stack));
	uint32_t *next = asnap_big_alloc((size_t)n + 1, sizeof(*next));
	t->tin = asnap_big_alloc((size_t)n + 1, sizeof(*t->tin));
	t->last = asnap_big_alloc((size_t)n + 1, sizeof(*t->last));
	t->order = asnap_big_alloc((size_t)n + 1, sizeof(*t->order));
	int rc = -1;
	if (!start || !child || !stack || !next || !t->tin || !t->last || !t->order)
		goto out;
	for (uint32_t v = 0; v < n; v++)
		start[d->idom[v] + 1]++;
	for (uint32_t v = 0; v <= n; v++)
		start[v + 1] += start[v];
	memcpy(next, start, ((size_t)n + 1) * sizeof(*next));
	for (uint32_t v = 0; v < n; v++)
		child[next[d->idom[v]]++] = v;
	memcpy(next, start, ((size_t)n + 1) * sizeof(*next));
	uint32_t sp = 0, clock = 0;
	stack[sp++] = n;
	t->tin[n] = clock;
	t->order[clock++] = n;
	while (sp) {
		uint32_t v = stack[sp - 1];
		if (next[v] < start[v + 1]) {
			uint32_t c = child[next[v]++];
			t->tin[c] = clock;
			t->order[clock++] = c;
			stack[sp++] = c;
		} else {
			t->last[v] = clock - 1;
			sp--;
		}
	}
	rc = 0;
out:
	asnap_free_all(start, child, stack, next);
	if (rc < 0) {
		asnap_free_all(t->tin, t->last, t->order);
		*t = (struct tree){0};
	}
	return rc;
}

static void tree_release(struct tree *t)
{
	asnap_free_all(t->tin, t->last, t->order);
}

static inline bool in_subtree(const struct tree *t, uint32_t top, uint32_t v)
{
	return t->tin[v] >= t->tin[top] && t->tin[v] <= t->last[top];
}

/* ---- what a set of objects retains -------------------------------------- */

struct work {
	const struct asnap_snap *s;
	struct tree tree;
	uint32_t *mark;  /* n: the stamp of the search that last saw v */
	uint32_t *held;  /* n: the stamp of the search from the roots that saw v */
	uint32_t stamp;
	uint32_t *queue; /* n + 1 */
	uint8_t *depth;  /* n: for the bounded searches (at most REACH_DEPTH) */
	uint8_t *member; /* n: in the set being looked at */
};

/*
 * The objects that freeing f's objects would free, into freed (a bitset of
 * g->n bits, cleared here), and their bytes. Only the subtree of the
 * set's lowest common dominator can lose objects: everything else has a
 * path from a root that avoids that dominator and so the whole set. A
 * breadth-first search from the dominator (or from the roots, when it is
 * the super-root) that does not enter the set finds what stays.
 */
static uint64_t set_retained(struct work *w, const struct asnap_finding *f, uint8_t *freed)
{
	const struct asnap_graph *g = w->s->g;
	const struct asnap_domtree *d = &w->s->ret.dom;
	const struct tree *t = &w->tree;
	uint64_t bytes = 0;
	memset(freed, 0, (size_t)g->n / 8 + 1);
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t i = 0; i < f->nobjects; i++) {
		uint32_t v = f->objects[i].node;
		w->member[v] = 1;
		if (t->tin[v] < lo)
			lo = t->tin[v];
		if (t->tin[v] > hi)
			hi = t->tin[v];
	}
	uint32_t top = f->nobjects ? f->objects[0].node : g->n;
	while (top != g->n && !(t->tin[top] <= lo && t->last[top] >= hi))
		top = d->idom[top];
	uint32_t stamp = ++w->stamp;
	if (top == g->n || !w->member[top]) {
		uint32_t head = 0, tail = 0;
		if (top == g->n) {
			const struct asnap_rootset *rs = &w->s->ret.roots;
			for (uint32_t i = 0; i < rs->count; i++) {
				uint32_t r = rs->items[i].node;
				if (r < g->n && !w->member[r] && w->mark[r] != stamp) {
					w->mark[r] = stamp;
					w->queue[tail++] = r;
				}
			}
		} else {
			w->mark[top] = stamp;
			w->queue[tail++] = top;
		}
		while (head < tail) {
			uint32_t v = w->queue[head++];
			for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v);
			     e++) {
				uint32_t x = g->edge_target[e];
				if (!asnap_graph_edge_is_strong(g, e) || w->member[x] ||
				    w->mark[x] == stamp || !in_subtree(t, top, x))
					continue;
				w->mark[x] = stamp;
				w->queue[tail++] = x;
			}
		}
	}
	/* the subtree of top, less what the search reached (none of it when
	 * top is itself in the set) */
	for (uint32_t k = t->tin[top]; k <= t->last[top]; k++) {
		uint32_t v = t->order[k];
		if (v == g->n || w->mark[v] == stamp)
			continue;
		set_bit(freed, v);
		bytes += asnap_graph_size(g, v);
	}
	for (uint32_t i = 0; i < f->nobjects; i++)
		w->member[f->objects[i].node] = 0;
	return bytes;
}

/*
 * Mark (with a new stamp, in w->held) what the roots reach through neither
 * f's objects nor the loop's internals: what something other than f and
 * the loop holds.
 */
static uint32_t held_elsewhere(struct work *w, const struct asnap_finding *f, const uint8_t *avoid)
{
	const struct asnap_graph *g = w->s->g;
	const struct asnap_rootset *rs = &w->s->ret.roots;
	uint32_t stamp = ++w->stamp, head = 0, tail = 0;
	for (uint32_t i = 0; i < f->nobjects; i++)
		w->member[f->objects[i].node] = 1;
	for (uint32_t i = 0; i < rs->nreal; i++) {
		uint32_t r = rs->items[i].node;
		/* uvloop holds its transports and handles from C while they are
		 * open: that is the loop holding them, like asyncio's selector */
		if (rs->items[i].kind == ASNAP_ROOT_EXTERNAL && r < g->n &&
		    !strncmp(node_type(w->s, r), "uvloop.loop.", 12))
			continue;
		if (r < g->n && !w->member[r] && !bit(avoid, r) && w->held[r] != stamp) {
			w->held[r] = stamp;
			w->queue[tail++] = r;
		}
	}
	while (head < tail) {
		uint32_t v = w->queue[head++];
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t x = g->edge_target[e];
			if (!asnap_graph_edge_is_strong(g, e) || w->member[x] || w->held[x] == stamp ||
			    bit(avoid, x))
				continue;
			w->held[x] = stamp;
			w->queue[tail++] = x;
		}
	}
	for (uint32_t i = 0; i < f->nobjects; i++)
		w->member[f->objects[i].node] = 0;
	return stamp;
}

/*
 * Mark (with a new stamp, in w->mark) what f's objects reach within
 * max_depth strong references, through neither the loop's internals nor
 * modules. With `parts`, only what they reach through library objects,
 * from their library objects: the parts of a library object (a
 * transport's protocol and its "closed" future) exist because of it; the
 * program's own objects own much, and what they own is nobody's part. An
 * instance's __dict__ (3.9, 3.10) is part of the instance: no step.
 */
static uint32_t reach(struct work *w, const struct asnap_finding *f, const uint8_t *avoid,
		      const uint8_t *modules, unsigned max_depth, bool parts)
{
	const struct asnap_graph *g = w->s->g;
	uint32_t stamp = ++w->stamp, head = 0, tail = 0, budget = REACH_BUDGET;
	for (uint32_t i = 0; i < f->nobjects; i++) {
		uint32_t v = f->objects[i].node;
		if (w->mark[v] != stamp && !(parts && node_is_user(w->s, v))) {
			w->mark[v] = stamp;
			w->depth[v] = 0;
			w->queue[tail++] = v;
		}
	}
	while (head < tail && budget) {
		uint32_t v = w->queue[head++];
		if (w->depth[v] >= max_depth)
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v) && budget;
		     e++) {
			uint32_t x = g->edge_target[e];
			if (!asnap_graph_edge_is_strong(g, e) || w->mark[x] == stamp ||
			    bit(avoid, x) || bit(modules, x) || (parts && node_is_user(w->s, x)))
				continue;
			w->mark[x] = stamp;
			budget--;
			bool dict = parts && w->s->aio.dict_label && g->edge_label[e] == w->s->aio.dict_label;
			w->depth[x] = w->depth[v] + !dict;
			w->queue[tail++] = x;
		}
	}
	return stamp;
}

/* ---- folding ------------------------------------------------------------ */

/* Which finding stands for a bug when two cover each other: the cause
 * before its symptoms (a task stuck forever before the future it awaits,
 * the resource before the handles it registered). */
static int precedence(int check)
{
	switch (check) {
	case ASNAP_CHECK_PENDING_TASK: return 0;
	case ASNAP_CHECK_UNAWAITED_COROUTINE: return 1;
	case ASNAP_CHECK_UNCLOSED_RESOURCE: return 2;
	case ASNAP_CHECK_RETAINED_TASK: return 3;
	case ASNAP_CHECK_PENDING_FUTURE: return 4;
	case ASNAP_CHECK_UNCANCELLED_HANDLE: return 5;
	default: return 6;
	}
}

static bool covers(uint32_t hits, uint32_t of)
{
	return of && (uint64_t)hits * COVER_DEN >= (uint64_t)of * COVER_NUM;
}

/* How finding i's objects are covered by finding j's (measure_coverage):
 * NCOV counts at cov[(i * nf + j) * NCOV], the first three over all of i's
 * objects, the next three over its growth (of_growth) alone. */
enum { COV_FREED, COV_REACHED, COV_NEAR, NCOV = 6 };

/* Object k of f is of its growth: f is a finding of growth alone (no
 * object certain), and k was not there at the first snapshot. */
static bool of_growth(const struct asnap_finding *f, uint32_t k)
{
	const struct asnap_finding_object *o = &f->objects[k];
	return !f->certain && f->nsnap >= 2 && !(o->persistent && !o->born_kept);
}

static uint32_t growth_of(const struct asnap_finding *f)
{
	uint32_t n = 0;
	for (uint32_t k = 0; k < f->nobjects; k++)
		n += of_growth(f, k);
	return n;
}

/*
 * Is f covered by measure k of c (COV_*)? All its objects, or, when most
 * of them are its growth (not there at the first snapshot), that growth:
 * a constant few of another origin (a server's waiters beside its
 * clients' connection waiters that pile up) keep no growth from being
 * another finding's consequence. growth: growth_of(f).
 */
static bool covered(const struct asnap_finding *f, uint32_t growth, const uint32_t *c, int k)
{
	return covers(c[k], f->nobjects) ||
	       ((uint64_t)growth * 2 >= f->nobjects && covers(c[3 + k], growth));
}

static bool better(const struct asnap_finding *a, const struct asnap_finding *b)
{
	if (precedence(a->check) != precedence(b->check))
		return precedence(a->check) < precedence(b->check);
	if (a->in_user_code != b->in_user_code) /* the program's frame, not the library's */
		return a->in_user_code;
	return a->retained > b->retained;
}

/* Append x to the consequences of f (x's summary and group are moved). */
static int add_also(struct asnap_finding *f, struct asnap_finding *x)
{
	struct asnap_finding_also *more = realloc(f->also, (f->nalso + 1 + x->nalso) * sizeof(*more));
	if (!more)
		return -1;
	f->also = more;
	f->also[f->nalso++] = (struct asnap_finding_also){
		.check = x->check, .summary = x->summary, .group = x->group, .count = x->count,
		.retained = x->retained};
	x->summary = NULL;
	x->group = NULL;
	for (uint32_t i = 0; i < x->nalso; i++)
		f->also[f->nalso++] = x->also[i];
	free(x->also);
	x->also = NULL;
	x->nalso = 0;
	return 0;
}

/* ---- the program's own code --------------------------------------------- */

static bool node_is_user(const struct asnap_snap *s, uint32_t v)
{
	return asnap_snap_is_user(s, v);
}

/* The finding's site, or its chain, or its objects' type is the program's. */
static bool in_user_code(const struct asnap_snap *s, const struct asnap_finding *f)
{
	if (f->site && f->site[0]) {
		char file[512];
		size_t n = strlen(f->site);
		const char *colon = strrchr(f->site, ':');
		if (colon)
			n = (size_t)(colon - f->site);
		if (n >= sizeof(file))
			n = sizeof(file) - 1;
		memcpy(file, f->site, n);
		file[n] = 0;
		if (!asnap_usercode_library_file(&s->code, file))
			return true;
	}
	for (uint32_t i = 0; i < f->path_len; i++)
		if (node_is_user(s, f->path[i]))
			return true;
	return f->nobjects && node_is_user(s, f->objects[0].node);
}

/*
 * For a resource, or a future nothing awaits: who in the program holds it,
 * and through which library
 * object ("; held by __main__.Service.cache through
 * redis.asyncio.client.Redis"): the last object of the program's own on
 * its chain, and the one after it. Appended to the summary.
 */
static int name_owner(const struct asnap_snap *s, struct asnap_finding *f)
{
	bool loose_futures = f->check == ASNAP_CHECK_PENDING_FUTURE && !strcmp(f->group, "<not awaited>");
	if ((f->check != ASNAP_CHECK_UNCLOSED_RESOURCE && !loose_futures) || f->path_is_cycle ||
	    f->path_len < 2 ||
	    !s->code.known)
		return 0;
	const struct asnap_graph *g = s->g;
	uint32_t k = f->path_len - 1;
	while (k > 0 && !node_is_user(s, f->path[k - 1]))
		k--;
	if (!k)
		return 0;
	uint32_t user = f->path[k - 1], via = f->path[k];
	char who[300];
	uint32_t name = asnap_aio_name(&s->aio, user);
	if (name && (asnap_aio_coro(&s->aio, user) || asnap_aio_frame(&s->aio, user)))
		snprintf(who, sizeof(who), "%s()", asnap_graph_string(g, name));
	else
		snprintf(who, sizeof(who), "%s", node_type(s, user));
	uint64_t e = asnap_graph_edge_between(g, user, via);
	/* an instance's __dict__ (3.9, 3.10): the attribute is the dict's key */
	if (e != UINT64_MAX && s->aio.dict_label && g->edge_label[e] == s->aio.dict_label &&
	    k + 1 < f->path_len)
		e = asnap_graph_edge_between(g, via, f->path[k + 1]);
	const char *label = e != UINT64_MAX && g->edge_label[e] ? asnap_graph_string(g, g->edge_label[e])
								: NULL;
	char more[800];
	int n = snprintf(more, sizeof(more), "%s; held by %s%s%s", f->summary, who,
			 label && label[0] != '[' ? "." : "", label ? label : "");
	/* the first library object on the way that is not a plain container:
	 * the client the program made (redis.asyncio.client.Redis) */
	uint32_t lib = k;
	while (lib + 1 < f->path_len && !strncmp(node_type(s, f->path[lib]), "builtins.", 9))
		lib++;
	if (lib + 1 < f->path_len && n > 0 && (size_t)n < sizeof(more))
		snprintf(more + n, sizeof(more) - (size_t)n, " through %s",
			 node_type(s, f->path[lib]));
	char *copy = strdup(more);
	if (!copy)
		return -1;
	free(f->summary);
	f->summary = copy;
	return 0;
}

static int by_rank(const void *x, const void *y)
{
	const struct asnap_finding *a = x, *b = y;
	return asnap_order(asnap_desc_u64(a->in_user_code, b->in_user_code),
			   asnap_asc_i64(a->check, b->check),
			   asnap_desc_u64(a->retained, b->retained), strcmp(a->group, b->group));
}

/* ---- all of it ---------------------------------------------------------- */

/*
 * Each finding's retained bytes (what freeing all its objects together
 * frees), and cov[(i * nf + j) * NCOV + 0..2]: how many of finding i's
 * objects freeing j's objects would free, j's objects reach (held by
 * nothing else but the loop), and j's objects hold near them; + 3..5: the
 * same over i's growth alone. freed: a bitset of g->n
 * bits, for one finding at a time.
 */
static void measure_coverage(struct work *w, struct check_ctx *ctx, uint8_t *freed,
			     const uint8_t *modules, uint32_t *cov)
{
	struct asnap_findings *out = ctx->out;
	uint32_t nf = out->count;
	for (uint32_t j = 0; j < nf; j++) {
		out->items[j].retained = set_retained(w, &out->items[j], freed);
		/* i's objects are j's consequences when freeing j's would free
		 * them, or when j's objects reach them and nothing but j's
		 * objects and the event loop holds them (an unclosed client's
		 * transport: the loop's selector holds it too) */
		uint32_t held = held_elsewhere(w, &out->items[j], ctx->loop_internals);
		uint32_t stamp = reach(w, &out->items[j], ctx->loop_internals, modules,
				       REACH_DEPTH, false);
		for (uint32_t i = 0; i < nf; i++) {
			const struct asnap_finding *f = &out->items[i];
			if (i == j)
				continue;
			uint32_t *c = &cov[((size_t)i * nf + j) * NCOV];
			for (uint32_t k = 0; k < f->nobjects; k++) {
				uint32_t v = f->objects[k].node;
				bool fr = bit(freed, v);
				bool re = fr || (w->mark[v] == stamp && w->held[v] != held);
				c[COV_FREED] += fr;
				c[COV_REACHED] += re;
				if (of_growth(f, k)) {
					c[3 + COV_FREED] += fr;
					c[3 + COV_REACHED] += re;
				}
			}
		}
		stamp = reach(w, &out->items[j], ctx->loop_internals, modules, NEAR_DEPTH, true);
		for (uint32_t i = 0; i < nf; i++) {
			const struct asnap_finding *f = &out->items[i];
			uint32_t *c = &cov[((size_t)i * nf + j) * NCOV];
			for (uint32_t k = 0; i != j && k < f->nobjects; k++) {
				bool near = w->mark[f->objects[k].node] == stamp;
				c[COV_NEAR] += near;
				c[3 + COV_NEAR] += near && of_growth(f, k);
			}
		}
	}
	if (getenv("ASNAP_DEBUG_FOLD")) /* a developer aid: why a finding was (not) folded */
		for (uint32_t i = 0; i < nf; i++)
			for (uint32_t j = 0; j < nf; j++)
				if (i != j)
					fprintf(stderr, "fold: %s/%s (%u) by %s/%s: freed %u reached %u near %u\n",
						asnap_check_name(out->items[i].check), out->items[i].group,
						out->items[i].nobjects, asnap_check_name(out->items[j].check),
						out->items[j].group, cov[((size_t)i * nf + j) * NCOV],
						cov[((size_t)i * nf + j) * NCOV + 1],
						cov[((size_t)i * nf + j) * NCOV + 2]);
}

/*
 * Are the pending tasks of t parts of the open resources of r (each
 * reaches the other, and t's tasks are within a few references of r's
 * objects through library objects: a websockets connection's reader and
 * keepalive tasks, its attributes, whose coroutines' self it is)? Then
 * the resource is the cause: its tasks pend because it is open.
 * tr: the coverage of t's objects by r's.
 */
static bool own_tasks(const struct asnap_finding *r, const struct asnap_finding *t,
		      uint32_t tgrowth, const uint32_t *tr)
{
	return r->check == ASNAP_CHECK_UNCLOSED_RESOURCE && t->check == ASNAP_CHECK_PENDING_TASK &&
	       covered(t, tgrowth, tr, COV_NEAR);
}

/* parent[i]: the finding i is a consequence of, or i itself. growth[i]:
 * growth_of(finding i). */
static void pick_parents(const struct asnap_findings *out, const uint32_t *cov,
			 const uint32_t *growth, uint32_t *parent)
{
	uint32_t nf = out->count;
	for (uint32_t i = 0; i < nf; i++) {
		const struct asnap_finding *f = &out->items[i];
		uint32_t best = i;
		int best_strength = 0;
		for (uint32_t j = 0; j < nf; j++) {
			if (j == i)
				continue;
			const struct asnap_finding *o = &out->items[j];
			const uint32_t *ij = &cov[((size_t)i * nf + j) * NCOV];
			const uint32_t *ji = &cov[((size_t)j * nf + i) * NCOV];
			uint32_t gf = growth[i], go = growth[j];
			int strength = 0;
			if (covered(f, gf, ij, COV_FREED) && !covered(o, go, ji, COV_FREED))
				strength = 3; /* kept alive by o's objects */
			else if (covered(f, gf, ij, COV_REACHED) && !covered(o, go, ji, COV_REACHED))
				strength = 2; /* reached from o's objects only */
			else if (covered(f, gf, ij, COV_NEAR) && !covered(o, go, ji, COV_NEAR))
				strength = 2; /* parts of o's objects */
			else if ((covered(f, gf, ij, COV_REACHED) || covered(f, gf, ij, COV_NEAR)) &&
				 (own_tasks(o, f, gf, ij) ||
				  (better(o, f) && !own_tasks(f, o, go, ji))))
				strength = 1; /* each reaches the other: the cause wins */
			if (strength > best_strength ||
			    (strength && strength == best_strength && better(o, &out->items[best]))) {
				best = j;
				best_strength = strength;
			}
		}
		parent[i] = best;
	}
}

/* Follow each finding's parents to the top; a ring of consequences is
 * headed by its best member. */
static void break_rings(const struct asnap_findings *out, uint32_t *parent)
{
	uint32_t nf = out->count;
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t top = i, steps = 0;
		while (parent[top] != top && steps++ <= nf)
			top = parent[top];
		if (parent[top] != top) { /* a ring: its best member heads it */
			uint32_t head = top, v = parent[top];
			for (uint32_t k = 0; k < nf && v != top; k++, v = parent[v])
				if (better(&out->items[v], &out->items[head]))
					head = v;
			parent[head] = head;
			i = (uint32_t)-1; /* start over with the ring broken */
		}
	}
}

int findings_settle(struct check_ctx *ctx)
{
	struct asnap_findings *out = ctx->out;
	const struct asnap_snap *s = ctx->last;
	const struct asnap_graph *g = s->g;
	uint32_t nf = out->count;
	for (uint32_t i = 0; i < nf; i++)
		out->items[i].in_user_code = in_user_code(s, &out->items[i]);
	if (!nf)
		return 0;
	struct work w = {.s = s};
	/* the tree first: its building needs as much again, freed at once */
	int rc = tree_build(&s->ret.dom, &w.tree);
	uint8_t *freed = asnap_big_alloc((size_t)g->n / 8 + 1, 1);
	uint32_t *parent = malloc(nf * sizeof(*parent));
	uint32_t *cov = asnap_big_zalloc((size_t)nf * nf * NCOV, sizeof(*cov)); /* [f][g]: COV_* */
	uint32_t *growth = malloc(nf * sizeof(*growth));
	uint8_t *modules = asnap_retention_module_set(&s->ret);
	w.mark = asnap_big_zalloc((size_t)g->n + 1, sizeof(*w.mark));
	w.held = asnap_big_zalloc((size_t)g->n + 1, sizeof(*w.held));
	w.depth = asnap_big_alloc((size_t)g->n + 1, sizeof(*w.depth));
	w.queue = asnap_big_alloc((size_t)g->n + 1, sizeof(*w.queue));
	w.member = asnap_big_zalloc((size_t)g->n + 1, 1);
	if (rc < 0 || !freed || !parent || !cov || !growth || !modules || !w.mark || !w.held ||
	    !w.depth || !w.queue || !w.member)
		goto nomem;
	rc = -1;
	if (!ctx->loop_internals && !(ctx->loop_internals = loop_internals(s)))
		goto nomem;
	measure_coverage(&w, ctx, freed, modules, cov);
	for (uint32_t i = 0; i < nf; i++)
		growth[i] = growth_of(&out->items[i]);
	pick_parents(out, cov, growth, parent);
	break_rings(out, parent);
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t top = i;
		while (parent[top] != top)
			top = parent[top];
		if (top != i && add_also(&out->items[top], &out->items[i]) < 0)
			goto nomem;
	}
	/* drop the folded ones, keep the order */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < nf; i++) {
		if (parent[i] != i) {
			asnap_finding_release(&out->items[i]);
			continue;
		}
		out->items[kept++] = out->items[i];
	}
	out->count = kept;
	for (uint32_t i = 0; i < kept; i++)
		if (name_owner(s, &out->items[i]) < 0)
			goto nomem;
	if (kept > 1)
		qsort(out->items, kept, sizeof(*out->items), by_rank);
	rc = 0;
	goto out;
nomem:
	rc = nomem(ctx);
out:
	asnap_free_all(freed, parent, cov, growth, modules, w.mark, w.held, w.depth, w.queue, w.member);
	tree_release(&w.tree);
	return rc;
}
