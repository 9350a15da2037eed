/*
 * dominators.c - dominator tree and retained sizes (see dominators.h).
 *
 * Semi-NCA as in L. Georgiadis' thesis and LLVM's SemiNCAInfo, with every
 * working array indexed by DFS preorder number, 32 bits wide:
 *
 * 1. A DFS from the super-root numbers the nodes in preorder, and finds
 *    the strongly connected components on the way when asked to (Pearce's
 *    algorithm, as in scc.c); the nodes no root reaches get their
 *    components, then their UNREACHABLE roots, then their own DFS.
 * 2. Two linear passes over the forward edges settle every tree and
 *    forward edge at once and gather only the back and cross edges, by
 *    target, into a reverse CSR of preorder numbers, so that the
 *    semidominator loop reads it in order. No node-id reverse index is
 *    needed.
 * 3. Semidominators in reverse preorder: path-compressed evaluation over the
 *    linked part of the DFS tree. Eval's answer is only ever used for its
 *    semidominator, so lab[] keeps that number itself, beside the ancestor
 *    link in one 8-byte cell: one cache miss per step, not three. The
 *    compression reverses the links on the way up instead of stacking them.
 * 4. Each immediate dominator is the nearest ancestor of the node's DFS
 *    parent at or above its semidominator, found by walking up the
 *    partially built tree.
 * 5. Retained sizes in reverse preorder (every node before its dominator),
 *    summed by node id, and the immediate dominators back to node ids.
 *
 * Every loop is iterative: a chain of millions of objects needs no C stack.
 * On a large heap nearly every step is a cache miss, so each loop asks for
 * what it will need a few steps ahead (__builtin_prefetch); steps 2 and 3
 * are kept out of line so that profiles name them.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "graph/dominators.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/order.h"

/*
 * Fresh pages cost (the kernel clears them), so blocks are reused as they
 * fall free: `block` holds pre and next, then the links of step 3, then
 * the retained sizes handed out; semi becomes the idom array handed out.
 */
struct work {
	void *block;      /* 8 bytes a node */
	uint32_t *pre;    /* node -> preorder number, ASNAP_NO_NODE if unreached */
	uint32_t *vert;   /* preorder number -> node */
	uint32_t *parent; /* DFS parent (moved into block, then rstart[]) */
	uint32_t *parent_mem; /* its own allocation, until then */
	uint32_t *next;   /* DFS: the next edge of each node on the DFS path */
	uint32_t *semi;   /* semidominator (a candidate until step 3 is done) */
	uint32_t *rstart; /* back and cross edges into each node: a count, then
			   * the slice rsrc[rstart[i] .. rstart[i+1]); then
			   * rstart[i + 1] is the parent, then the idom of i */
	uint32_t *rsrc;
	uint32_t count;   /* numbered so far, the super-root included */
};

/* Misses in flight at once: look this many edges ahead. */
#define AHEAD 16

/* Ask for the cells of a node's first targets in a, b (if not NULL) and
 * the edge offsets (where the DFS goes next), so that their misses overlap
 * instead of queueing. */
static inline void prefetch_targets(const uint32_t *a, const uint32_t *b, const uint32_t *es,
				    const uint32_t *et, uint32_t e, uint32_t end)
{
	if (end - e > AHEAD)
		end = e + AHEAD;
	for (; e < end; e++) {
		uint32_t t = et[e];
		__builtin_prefetch(&a[t]);
		if (b)
			__builtin_prefetch(&b[t]);
		__builtin_prefetch(&es[t]);
	}
}

struct link {
	uint32_t anc; /* ancestor in the linked forest (path-compressed) */
	uint32_t lab; /* smallest semidominator on the path up to anc */
};

/*
 * Pearce's bookkeeping for the components (exactly as in scc.c, which
 * explains it), when they are found in the same DFS as the preorder.
 */
struct pearce {
	uint32_t *low;     /* scc.c's rindex: 0 while unvisited */
	uint32_t *stack;   /* nodes of unfinished components */
	uint8_t *notroot;  /* a bit per node */
	uint32_t index, c, sp;
};

static inline void pearce_lower(struct pearce *pc, uint32_t v, uint32_t t)
{
	if (pc->low[t] < pc->low[v]) {
		pc->low[v] = pc->low[t];
		pc->notroot[v >> 3] |= (uint8_t)(1u << (v & 7));
	}
}

static inline void pearce_finish(struct pearce *pc, uint32_t v)
{
	uint32_t *low = pc->low;
	if (pc->notroot[v >> 3] & (1u << (v & 7))) {
		pc->stack[pc->sp++] = v;
		return;
	}
	pc->index--;
	while (pc->sp && low[v] <= low[pc->stack[pc->sp - 1]]) {
		low[pc->stack[--pc->sp]] = pc->c;
		pc->index--;
	}
	low[v] = pc->c--;
}

/*
 * Depth-first from root over the strong edges, without recursion: the path
 * from the root is a chain of frames linked by parent[], each with its node
 * in vert[] and its next edge in next[]. With `number`, the nodes found are
 * numbered in preorder (pre, vert, parent, semi: the frame is the number);
 * without, nothing is numbered and the frames are scratch cells from
 * w->count on (components only). With pc, the components too. A node
 * already found (numbered; or, without `number`, visited by pc) is not
 * entered again.
 */
static void dfs(const struct asnap_graph *g, struct work *w, struct pearce *pc, bool number,
		uint32_t root)
{
	const uint32_t *es = g->edge_off, *et = g->edge_target;
	const uint8_t *weak = g->edge_weak;
	uint32_t *pre = w->pre, *vert = w->vert, *parent = w->parent, *next = w->next;
	uint32_t *semi = w->semi, *low = pc ? pc->low : NULL;
	const uint32_t *seen = number ? pre : low;
	const uint32_t unseen = number ? ASNAP_NO_NODE : 0;
	if (seen[root] != unseen)
		return;
	uint32_t top = w->count, cur = top, v = root;
	if (number) {
		w->count++;
		pre[root] = top;
		semi[top] = 0;
	}
	vert[top] = root;
	parent[top] = 0;
	if (pc)
		low[root] = pc->index++;
	const uint32_t *low2 = pc && number ? low : NULL; /* a second array to prefetch */
	uint32_t e = es[root], end = es[root + 1];
	prefetch_targets(seen, low2, es, et, e, end);
	for (;;) {
		while (e < end) {
			if (!((weak[e >> 3] >> (e & 7)) & 1)) {
				uint32_t t = et[e];
				if (seen[t] == unseen)
					break;
				if (pc)
					pearce_lower(pc, v, t);
			}
			e++;
		}
		if (e < end) {
			next[cur] = e + 1;
			/* Siblings to come: warm their edge lists for the return. */
			for (uint32_t k = e + 1; k < end && k - e < 5; k++) {
				uint32_t t2 = et[k];
				if (seen[t2] == unseen) {
					__builtin_prefetch(&et[es[t2]]);
					__builtin_prefetch(&weak[es[t2] >> 3]);
				}
			}
			uint32_t t = et[e], j = number ? w->count++ : cur + 1;
			if (number) {
				pre[t] = j;
				semi[j] = cur;
			}
			vert[j] = t;
			parent[j] = cur;
			if (pc)
				low[t] = pc->index++;
			cur = j;
			v = t;
			e = es[t];
			end = es[t + 1];
			prefetch_targets(seen, low2, es, et, e, end);
			continue;
		}
		if (pc)
			pearce_finish(pc, v);
		if (cur == top)
			break;
		uint32_t done = v;
		cur = parent[cur];
		v = vert[cur];
		if (pc)
			pearce_lower(pc, v, done);
		e = next[cur];
		end = es[v + 1];
	}
}

/*
 * Every strong edge u -> t by the preorder numbers of its ends: t after u
 * (a tree or forward edge) makes u a semidominator candidate of t at once,
 * since a node not yet linked evaluates to itself; t before u (a back or
 * cross edge) is kept for the semidominator loop, in a reverse CSR by t.
 * Two linear passes over the edges (count, fill), which prefetching makes
 * cheap, unlike work inside the DFS, whose misses come one at a time.
 */
__attribute__((noinline)) static int gather_back_edges(const struct asnap_graph *g,
							struct work *w)
{
	const uint32_t *es = g->edge_off, *et = g->edge_target, *pre = w->pre;
	const uint8_t *weak = g->edge_weak;
	uint32_t m = (uint32_t)g->m, N = w->count, *start = w->rstart, *semi = w->semi;
	for (uint32_t v = 0; v < g->n; v++) {
		uint32_t pu = pre[v];
		for (uint32_t e = es[v], end = es[v + 1]; e < end; e++) {
			if (e + 2 * AHEAD < m)
				__builtin_prefetch(&pre[et[e + 2 * AHEAD]]);
			if (e + AHEAD < m) {
				uint32_t p = pre[et[e + AHEAD]];
				__builtin_prefetch(&start[p]);
				__builtin_prefetch(&semi[p]);
			}
			if ((weak[e >> 3] >> (e & 7)) & 1)
				continue;
			uint32_t pt = pre[et[e]];
			if (pt < pu)
				start[pt]++;
			else if (pu < semi[pt]) /* a descendant; a self loop changes nothing */
				semi[pt] = pu;
		}
	}
	uint32_t sum = 0;
	for (uint32_t i = 0; i < N; i++) {
		sum += start[i];
		start[i] = sum;
	}
	start[N] = sum;
	w->rsrc = asnap_big_alloc(sum ? sum : 1, sizeof(*w->rsrc));
	if (!w->rsrc)
		return -1;
	for (uint32_t v = 0; v < g->n; v++) {
		uint32_t pu = pre[v];
		for (uint32_t e = es[v], end = es[v + 1]; e < end; e++) {
			if (e + 2 * AHEAD < m)
				__builtin_prefetch(&pre[et[e + 2 * AHEAD]]);
			if (e + AHEAD < m)
				__builtin_prefetch(&start[pre[et[e + AHEAD]]]);
			if ((weak[e >> 3] >> (e & 7)) & 1)
				continue;
			uint32_t pt = pre[et[e]];
			if (pt < pu)
				w->rsrc[--start[pt]] = pu;
		}
	}
	return 0;
}

/* The smallest semidominator on the path from v up through the linked
 * nodes (numbers >= last), compressing the path. */
static inline uint32_t eval(struct link *l, uint32_t v, uint32_t last)
{
	if (l[v].anc < last)
		return l[v].lab;
	/* Up: point each link back down the path. */
	uint32_t prev = ASNAP_NO_NODE, x = v;
	while (l[x].anc >= last) {
		uint32_t up = l[x].anc;
		l[x].anc = prev;
		prev = x;
		x = up;
	}
	/* Down: link everything to the top's ancestor, carrying the minimum. */
	uint32_t top = l[x].anc, best = l[x].lab;
	while (prev != ASNAP_NO_NODE) {
		uint32_t down = l[prev].anc;
		l[prev].anc = top;
		if (best < l[prev].lab)
			l[prev].lab = best;
		else
			best = l[prev].lab;
		prev = down;
	}
	return l[v].lab;
}

__attribute__((noinline)) static void semi_nca(struct work *w)
{
	uint32_t N = w->count;
	uint32_t *semi = w->semi, *parent = w->parent, *start = w->rstart, *src = w->rsrc;
	/* The parents are in the upper half of the block (see below); the
	 * links take the whole block, in place: l[i] overwrites only parents
	 * of i and below, which are read by then. */
	struct link *l = w->block;
	for (uint32_t i = 0; i < N; i++) {
		uint32_t p = parent[i];
		l[i].anc = p; /* lab is set when i is linked */
	}
	w->parent = NULL;
	/* Each node's parent waits in a slot of start[] that falls free as the
	 * loop goes down (l[i].anc is the parent until i is linked). */
	for (uint32_t i = N - 1; i >= 1; i--) {
		uint32_t s = semi[i];
		if (s) { /* 0: a root, a child of the super-root */
			/* k only ever goes down: fetch the sources' cells ahead */
			for (uint32_t k = start[i + 1]; k-- > start[i];) {
				/* and their ancestors' as those arrive (a hint:
				 * a compression in between only wastes it) */
				if (k >= 3 * AHEAD / 2)
					__builtin_prefetch(&l[src[k - 3 * AHEAD / 2]]);
				if (k >= AHEAD)
					__builtin_prefetch(&l[l[src[k - AHEAD]].anc]);
				if (k >= AHEAD / 2) {
					uint32_t a = l[l[src[k - AHEAD / 2]].anc].anc;
					if (a < N)
						__builtin_prefetch(&l[a]);
				}
				uint32_t su = eval(l, src[k], i + 1);
				if (su < s)
					s = su;
			}
			semi[i] = s;
		}
		l[i].lab = s;
		start[i + 1] = l[i].anc;
	}
	uint32_t *idom = start + 1; /* the parents, then the immediate dominators */
	idom[0] = 0;
	for (uint32_t i = 1; i < N; i++) {
		uint32_t d = idom[i];
		while (d > semi[i])
			d = idom[d];
		idom[i] = d;
	}
}

static void work_free(struct work *w)
{
	asnap_free_all(w->block, w->vert, w->parent_mem, w->semi, w->rstart, w->rsrc);
}

/*
 * The retained sizes of block (n + 1 of 8 bytes) kept in 4 bytes each, in
 * place (each 4-byte value lands where values already read lay), the block
 * then shrunk to them: the sizes of 4 GiB or more (the super-root's, a few
 * near it) aside, exact, in d->ret_big. 0, or -1 with the block
 * untouched (the caller frees it).
 */
static int keep_retained(struct asnap_domtree *d, void *block, uint32_t n)
{
	unsigned char *b = block;
	uint32_t nbig = 0;
	for (uint64_t v = 0; v <= n; v++) {
		uint64_t x;
		memcpy(&x, b + 8 * v, sizeof(x));
		nbig += x >= UINT32_MAX;
	}
	d->ret_big = malloc(((size_t)nbig + 1) * sizeof(*d->ret_big));
	if (!d->ret_big)
		return -1;
	d->nret_big = nbig;
	nbig = 0;
	for (uint64_t v = 0; v <= n; v++) {
		uint64_t x;
		memcpy(&x, b + 8 * v, sizeof(x));
		uint32_t y = x < UINT32_MAX ? (uint32_t)x : UINT32_MAX;
		if (y == UINT32_MAX)
			d->ret_big[nbig++] = (struct asnap_big_size){(uint32_t)v, x};
		memcpy(b + 4 * v, &y, sizeof(y)); /* char access: the 8-byte reads stay before */
	}
	uint32_t *r32 = asnap_big_realloc(block, (size_t)n + 1, sizeof(uint32_t));
	d->retained32 = r32 ? r32 : block; /* a shrink that fails leaves it as it was */
	return 0;
}

uint64_t asnap_dom_big_retained(const struct asnap_domtree *d, uint32_t v)
{
	uint64_t i = asnap_lower_bound(d->ret_big, d->nret_big, sizeof(*d->ret_big),
				       offsetof(struct asnap_big_size, node), v);
	return i < d->nret_big && d->ret_big[i].node == v ? d->ret_big[i].size : UINT32_MAX;
}

int asnap_dom_compute(const struct asnap_graph *g, struct asnap_rootset *rs,
		      struct asnap_scc *scc, struct asnap_domtree *out, struct asnap_error *err)
{
	*out = (struct asnap_domtree){.n = g->n};
	uint32_t n = g->n;
	if (g->m >= UINT32_MAX)
		return asnap_error_set(err, ASNAP_ERR_LIMIT,
				       "more than %u references: too many to analyze", UINT32_MAX - 1);
	size_t cells = (size_t)n + 1;
	struct work w = {0};
	struct pearce pcs = {0}, *pc = NULL;
	bool own_scc = !scc->comp;
	int rc = -1;
	w.block = asnap_big_alloc(cells, 2 * sizeof(uint32_t));
	w.pre = w.block;
	w.next = w.pre + cells;
	w.vert = asnap_big_alloc(cells, sizeof(*w.vert));
	w.parent = w.parent_mem = asnap_big_alloc(cells, sizeof(*w.parent));
	w.semi = asnap_big_alloc(cells, sizeof(*w.semi));
	w.rstart = asnap_big_zalloc(cells + 1, sizeof(*w.rstart));
	out->garbage = calloc(cells / 8 + 1, 1);
	if (!w.block || !w.vert || !w.parent || !w.semi || !w.rstart || !out->garbage)
		goto nomem;
	if (own_scc) {
		pc = &pcs;
		pc->low = asnap_big_zalloc(cells, sizeof(*pc->low));
		pc->stack = asnap_big_alloc(cells, sizeof(*pc->stack));
		pc->notroot = asnap_big_zalloc(cells / 8 + 1, 1);
		if (!pc->low || !pc->stack || !pc->notroot)
			goto nomem;
		pc->index = 1;
		pc->c = n;
	}
	memset(w.pre, 0xff, cells * sizeof(*w.pre));
	w.pre[n] = 0;
	w.vert[0] = n;
	w.parent[0] = 0;
	w.semi[0] = 0;
	w.count = 1;
	/* From the real roots: preorder, and the components on the way. */
	for (uint32_t r = 0; r < rs->nreal; r++)
		dfs(g, &w, pc, true, rs->items[r].node);
	out->nreached = w.count - 1;
	if (own_scc) {
		/* The components of the rest, unnumbered. */
		for (uint32_t v = 0; v < n; v++)
			if (!pc->low[v])
				dfs(g, &w, pc, false, v);
		/* From 0 in completion order: sinks first (as scc.c). */
		for (uint32_t v = 0; v < n; v++)
			pc->low[v] = n - pc->low[v];
		*scc = (struct asnap_scc){.n = n, .ncomp = n - pc->c, .comp = pc->low};
		pc->low = NULL;
	}
	if (w.count < cells) {
		if (asnap_roots_add_unreachable(g, rs, scc, w.pre, err) < 0)
			goto cleanup;
		for (uint32_t r = rs->nreal; r < rs->count; r++)
			dfs(g, &w, NULL, true, rs->items[r].node);
		for (uint32_t i = out->nreached + 1; i < w.count; i++)
			out->garbage[w.vert[i] >> 3] |= (uint8_t)(1u << (w.vert[i] & 7));
	}
	if (w.count != cells) {
		/* cannot happen: every unreached node has an UNREACHABLE root */
		asnap_error_set(err, ASNAP_ERR_USAGE, "dominators: %u nodes not reached",
				(unsigned)(cells - w.count));
		goto cleanup;
	}
	free(pcs.stack);
	free(pcs.notroot);
	/* next is done with: the parents move into its half of the block. */
	memcpy(w.next, w.parent, cells * sizeof(*w.parent));
	free(w.parent_mem);
	w.parent_mem = NULL;
	w.parent = w.next;
	w.next = NULL;
	pcs.stack = NULL;
	pcs.notroot = NULL;
	/* Roots hang under the super-root, whatever else refers to them. */
	for (uint32_t r = 0; r < rs->count; r++)
		w.semi[w.pre[rs->items[r].node]] = 0;
	if (gather_back_edges(g, &w) < 0)
		goto nomem;
	w.pre = NULL;
	semi_nca(&w);

	/*
	 * The back edges are done with. Retained sizes by node id, in the
	 * block (the links are done with too, and its pages are warm): every
	 * node comes after its dominator in preorder, so adding each to its
	 * dominator from the last up leaves the sums. No second 8-byte array
	 * in preorder: this is the pipeline's peak of memory.
	 */
	free(w.rsrc);
	w.rsrc = NULL;
	const uint32_t *vert = w.vert, *idomp = w.rstart + 1;
	uint64_t *ret = w.block;
	for (uint32_t v = 0; v < n; v++)
		ret[v] = asnap_graph_size(g, v);
	ret[n] = 0;
	for (uint32_t i = w.count - 1; i >= 1; i--) {
		if (i >= AHEAD) {
			__builtin_prefetch(&ret[vert[i - AHEAD]]);
			__builtin_prefetch(&vert[idomp[i - AHEAD]]);
		}
		ret[vert[idomp[i]]] += ret[vert[i]];
	}
	if (keep_retained(out, w.block, n) < 0)
		goto nomem;
	w.block = NULL;
	/* Immediate dominators back to node ids. */
	out->idom = w.semi;
	w.semi = NULL;
	for (uint32_t i = 0; i < w.count; i++)
		out->idom[vert[i]] = vert[idomp[i]];
	rc = 0;
	goto cleanup;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory computing dominators");
cleanup:
	work_free(&w);
	asnap_free_all(pcs.low, pcs.stack, pcs.notroot);
	if (rc) {
		asnap_dom_release(out);
		if (own_scc)
			asnap_scc_release(scc);
	}
	return rc;
}

void asnap_dom_release(struct asnap_domtree *d)
{
	if (!d)
		return;
	asnap_free_all(d->idom, d->retained32, d->ret_big, d->garbage);
	*d = (struct asnap_domtree){0};
}

static int by_retained(const void *a, const void *b, void *ctx)
{
	const struct asnap_domtree *d = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = asnap_desc_u64(asnap_dom_retained(d, x), asnap_dom_retained(d, y));
	return c ? c : asnap_asc_u64(x, y);
}

int asnap_dom_children(const struct asnap_domtree *d, uint32_t **startp, uint32_t **childp,
		       struct asnap_error *err)
{
	uint32_t n = d->n;
	uint32_t *start = asnap_big_zalloc((size_t)n + 2, sizeof(*start));
	uint32_t *child = asnap_big_alloc((size_t)n + 1, sizeof(*child));
	if (!start || !child) {
		free(start);
		free(child);
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory building the tree");
	}
	for (uint32_t v = 0; v < n; v++)
		start[d->idom[v] + 1]++;
	for (uint32_t v = 0; v <= n; v++)
		start[v + 1] += start[v];
	/* start[p] runs ahead while filling, and is restored below. */
	for (uint32_t v = 0; v < n; v++)
		child[start[d->idom[v]]++] = v;
	for (uint32_t v = n + 1; v > 0; v--)
		start[v] = start[v - 1];
	start[0] = 0;
	for (uint32_t v = 0; v <= n; v++)
		if (start[v + 1] - start[v] > 1)
			qsort_r(child + start[v], start[v + 1] - start[v], sizeof(*child), by_retained,
				(void *)d);
	*startp = start;
	*childp = child;
	return 0;
}

static int by_node(const void *a, const void *b)
{
	return asnap_asc_u64(*(const uint32_t *)a, *(const uint32_t *)b);
}

/* Index of p in k->parents, or np. */
static uint32_t kids_slot(const struct asnap_dom_kids *k, uint32_t p)
{
	uint32_t lo = (uint32_t)asnap_lower_bound(k->parents, k->np, sizeof(*k->parents), 0, p);
	return lo < k->np && k->parents[lo] == p ? lo : k->np;
}

int asnap_dom_kids_find(const struct asnap_domtree *d, const uint32_t *parents, uint32_t np,
			struct asnap_dom_kids *out, struct asnap_error *err)
{
	uint32_t n = d->n;
	*out = (struct asnap_dom_kids){0};
	uint8_t *asked = asnap_big_zalloc((size_t)n / 8 + 1, 1);
	out->parents = asnap_big_alloc((size_t)np + 1, sizeof(*out->parents));
	out->start = asnap_big_zalloc((size_t)np + 2, sizeof(*out->start));
	if (!asked || !out->parents || !out->start)
		goto nomem;
	memcpy(out->parents, parents, (size_t)np * sizeof(*parents));
	qsort(out->parents, np, sizeof(*out->parents), by_node);
	for (uint32_t i = 0; i < np; i++)
		if (!out->np || out->parents[out->np - 1] != out->parents[i])
			out->parents[out->np++] = out->parents[i];
	for (uint32_t i = 0; i < out->np; i++)
		asked[out->parents[i] >> 3] |= (uint8_t)(1u << (out->parents[i] & 7));
	/* count, place (start[i + 1] runs ahead while filling), sort */
	for (uint32_t v = 0; v < n; v++) {
		uint32_t p = d->idom[v];
		if (asked[p >> 3] & (1u << (p & 7)))
			out->start[kids_slot(out, p) + 2]++;
	}
	for (uint32_t i = 0; i < out->np; i++)
		out->start[i + 2] += out->start[i + 1];
	out->child = malloc(((size_t)out->start[out->np + 1] + 1) * sizeof(*out->child));
	if (!out->child)
		goto nomem;
	for (uint32_t v = 0; v < n; v++) {
		uint32_t p = d->idom[v];
		if (asked[p >> 3] & (1u << (p & 7)))
			out->child[out->start[kids_slot(out, p) + 1]++] = v;
	}
	for (uint32_t i = 0; i < out->np; i++)
		if (out->start[i + 1] - out->start[i] > 1)
			qsort_r(out->child + out->start[i], out->start[i + 1] - out->start[i],
				sizeof(*out->child), by_retained, (void *)d);
	free(asked);
	return 0;
nomem:
	free(asked);
	asnap_dom_kids_release(out);
	return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory building the tree");
}

const uint32_t *asnap_dom_kids_of(const struct asnap_dom_kids *k, uint32_t p, uint32_t *count)
{
	uint32_t i = kids_slot(k, p);
	*count = i < k->np ? k->start[i + 1] - k->start[i] : 0;
	return i < k->np ? k->child + k->start[i] : NULL;
}

void asnap_dom_kids_release(struct asnap_dom_kids *k)
{
	if (!k)
		return;
	asnap_free_all(k->parents, k->start, k->child);
	*k = (struct asnap_dom_kids){0};
}
