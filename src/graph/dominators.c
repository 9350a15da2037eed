/*
 * dominators.c - dominator tree and retained sizes (see dominators.h).
 *
 * Semi-NCA as in L. Georgiadis' thesis and LLVM's SemiNCAInfo: a DFS from
 * the super-root numbers the nodes in preorder; semidominators are computed
 * in reverse preorder with path-compressed evaluation over the already
 * linked part of the DFS tree; each immediate dominator is then the nearest
 * common ancestor of the node's DFS parent and its semidominator, found by
 * walking up the partially built dominator tree. Every loop uses explicit
 * stacks: a chain of millions of objects needs no C stack. All working
 * arrays are indexed by preorder number, 32 bits wide.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/dominators.h"

struct work {
	uint32_t *pre;    /* node -> preorder number, ASNAP_NO_NODE if unreached */
	uint32_t *vert;   /* preorder number -> node */
	uint32_t *parent; /* DFS parent; becomes the path-compressed ancestor */
	uint32_t *idom;   /* DFS parent, then the immediate dominator */
	uint32_t *semi;
	uint32_t *label;
	uint32_t *stack;  /* DFS nodes, then eval's path */
	uint32_t *edge;   /* DFS: next edge of each stacked node */
	uint8_t *isroot;  /* a bit per node: a child of the super-root */
	uint32_t count;   /* numbered so far, the super-root included */
};

static void dfs_from(const struct asnap_graph *g, struct work *w, uint32_t root)
{
	if (w->pre[root] != ASNAP_NO_NODE)
		return;
	const uint64_t *es = g->edge_start;
	const uint32_t *et = g->edge_target;
	const uint8_t *ek = g->edge_kind;
	uint32_t sp = 0;
	w->pre[root] = w->count;
	w->vert[w->count] = root;
	w->parent[w->count] = 0;
	w->count++;
	w->stack[sp] = root;
	w->edge[sp++] = (uint32_t)es[root];
	while (sp) {
		uint32_t v = w->stack[sp - 1];
		uint32_t e = w->edge[sp - 1], end = (uint32_t)es[v + 1];
		while (e < end && (ek[e] != ASNAP_EDGE_STRONG || w->pre[et[e]] != ASNAP_NO_NODE))
			e++;
		if (e == end) {
			sp--;
			continue;
		}
		w->edge[sp - 1] = e + 1;
		uint32_t t = et[e];
		w->pre[t] = w->count;
		w->vert[w->count] = t;
		w->parent[w->count] = w->pre[v];
		w->count++;
		w->stack[sp] = t;
		w->edge[sp++] = (uint32_t)es[t];
	}
}

/* The node of minimum semidominator on the compressed path from v up to
 * the linked forest's root (numbers >= last are linked). */
static uint32_t eval(struct work *w, uint32_t v, uint32_t last)
{
	uint32_t *parent = w->parent, *label = w->label, *semi = w->semi;
	if (parent[v] < last)
		return label[v];
	uint32_t sp = 0, x = v;
	do {
		w->stack[sp++] = x;
		x = parent[x];
	} while (parent[x] >= last);
	uint32_t p = x, plabel = label[x];
	do {
		x = w->stack[--sp];
		parent[x] = parent[p];
		if (semi[plabel] < semi[label[x]])
			label[x] = plabel;
		else
			plabel = label[x];
		p = x;
	} while (sp);
	return label[v];
}

static void semi_nca(const struct asnap_graph *g, struct work *w)
{
	uint32_t N = w->count;
	for (uint32_t i = 0; i < N; i++) {
		w->semi[i] = i;
		w->label[i] = i;
		w->idom[i] = w->parent[i];
	}
	for (uint32_t i = N - 1; i >= 1; i--) {
		uint32_t v = w->vert[i];
		uint32_t s = w->parent[i];
		if (w->isroot[v >> 3] & (1u << (v & 7))) {
			s = 0; /* the super-root is a predecessor */
		} else {
			for (uint32_t e = g->rev_start[v]; e < g->rev_start[v + 1]; e++) {
				uint32_t u = w->pre[g->rev_source[e]];
				uint32_t su = w->semi[eval(w, u, i + 1)];
				if (su < s)
					s = su;
			}
		}
		w->semi[i] = s;
	}
	for (uint32_t i = 1; i < N; i++) {
		uint32_t d = w->idom[i];
		while (d > w->semi[i])
			d = w->idom[d];
		w->idom[i] = d;
	}
}

static void work_free(struct work *w)
{
	free(w->pre);
	free(w->vert);
	free(w->parent);
	free(w->idom);
	free(w->semi);
	free(w->label);
	free(w->stack);
	free(w->edge);
	free(w->isroot);
}

int asnap_dom_compute(const struct asnap_graph *g, struct asnap_rootset *rs,
		      const struct asnap_scc *scc, struct asnap_domtree *out,
		      struct asnap_error *err)
{
	*out = (struct asnap_domtree){.n = g->n};
	uint32_t n = g->n;
	if (!g->rev_start)
		return asnap_error_set(err, ASNAP_ERR_USAGE, "dominators need the reverse index");
	size_t cells = (size_t)n + 1;
	struct work w = {0};
	int rc = -1;
	w.pre = malloc(cells * sizeof(*w.pre));
	w.vert = malloc(cells * sizeof(*w.vert));
	w.parent = malloc(cells * sizeof(*w.parent));
	w.stack = malloc(cells * sizeof(*w.stack));
	w.edge = malloc(cells * sizeof(*w.edge));
	w.isroot = calloc(cells / 8 + 1, 1);
	out->garbage = calloc(cells / 8 + 1, 1);
	if (!w.pre || !w.vert || !w.parent || !w.stack || !w.edge || !w.isroot || !out->garbage)
		goto nomem;
	memset(w.pre, 0xff, cells * sizeof(*w.pre));
	w.pre[n] = 0;
	w.vert[0] = n;
	w.parent[0] = 0;
	w.count = 1;
	for (uint32_t r = 0; r < rs->nreal; r++)
		dfs_from(g, &w, rs->items[r].node);
	out->nreached = w.count - 1;
	if (w.count < cells) {
		if (asnap_roots_add_unreachable(g, rs, scc, w.pre, err) < 0)
			goto cleanup;
		for (uint32_t r = rs->nreal; r < rs->count; r++)
			dfs_from(g, &w, rs->items[r].node);
		for (uint32_t i = out->nreached + 1; i < w.count; i++)
			out->garbage[w.vert[i] >> 3] |= (uint8_t)(1u << (w.vert[i] & 7));
	}
	if (w.count != cells) {
		/* cannot happen: every unreached node has an UNREACHABLE root */
		asnap_error_set(err, ASNAP_ERR_USAGE, "dominators: %u nodes not reached",
				(unsigned)(cells - w.count));
		goto cleanup;
	}
	for (uint32_t r = 0; r < rs->count; r++) {
		uint32_t v = rs->items[r].node;
		w.isroot[v >> 3] |= (uint8_t)(1u << (v & 7));
	}
	free(w.edge);
	w.edge = NULL;
	w.idom = malloc(cells * sizeof(*w.idom));
	w.semi = malloc(cells * sizeof(*w.semi));
	w.label = malloc(cells * sizeof(*w.label));
	if (!w.idom || !w.semi || !w.label)
		goto nomem;
	semi_nca(g, &w);
	free(w.semi);
	free(w.label);
	free(w.parent);
	w.semi = w.label = w.parent = NULL;

	/* Back to node ids; pre is not needed any more and becomes idom. */
	uint32_t *idom = w.pre;
	for (uint32_t i = 1; i < w.count; i++)
		idom[w.vert[i]] = w.vert[w.idom[i]];
	idom[n] = n;
	w.pre = NULL;
	out->idom = idom;

	/* Reverse preorder visits every node before its dominator. */
	uint64_t *ret = malloc(cells * sizeof(*ret));
	if (!ret)
		goto nomem;
	for (uint32_t v = 0; v < n; v++)
		ret[v] = g->size[v];
	ret[n] = 0;
	for (uint32_t i = w.count - 1; i >= 1; i--) {
		uint32_t v = w.vert[i];
		ret[idom[v]] += ret[v];
	}
	out->retained = ret;
	rc = 0;
	goto cleanup;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory computing dominators");
cleanup:
	work_free(&w);
	if (rc)
		asnap_dom_release(out);
	return rc;
}

void asnap_dom_release(struct asnap_domtree *d)
{
	if (!d)
		return;
	free(d->idom);
	free(d->retained);
	free(d->garbage);
	*d = (struct asnap_domtree){0};
}

static int by_retained(const void *a, const void *b, void *ctx)
{
	const struct asnap_domtree *d = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint64_t rx = d->retained[x], ry = d->retained[y];
	if (rx != ry)
		return rx > ry ? -1 : 1;
	return x < y ? -1 : x > y;
}

int asnap_dom_children(const struct asnap_domtree *d, uint32_t **startp, uint32_t **childp,
		       struct asnap_error *err)
{
	uint32_t n = d->n;
	uint32_t *start = calloc((size_t)n + 2, sizeof(*start));
	uint32_t *child = malloc(((size_t)n + 1) * sizeof(*child));
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
