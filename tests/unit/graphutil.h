/*
 * graphutil.h - helpers for the graph unit tests: graphs built in memory
 * from edge lists, random graphs from a seed, and the same graph as an
 * igraph_t (plus a super-root) to compare against.
 */
#ifndef ASNAP_GRAPHUTIL_H
#define ASNAP_GRAPHUTIL_H

#include <check.h>

#include "ckloop.h"
#include <igraph/igraph.h>
#include <stdint.h>
#include <stdlib.h>

#include "graph/graph.h"

/*
 * How many random graphs a test checks: under AddressSanitizer (the
 * sanitizer pass of scripts/test.sh, ~4x slower) a quarter. What ASan
 * catches shows on the first shapes; the plain build checks them all
 * against igraph.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RANDOM_GRAPHS(n) ((n) / 4)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RANDOM_GRAPHS(n) ((n) / 4)
#endif
#endif
#ifndef RANDOM_GRAPHS
#define RANDOM_GRAPHS(n) (n)
#endif

struct edge_list {
	uint32_t n;
	uint64_t m, cap;
	uint32_t *src, *dst;
	uint8_t *kind;
};

static inline void el_add(struct edge_list *l, uint32_t s, uint32_t d, uint8_t kind)
{
	if (l->m == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->src = realloc(l->src, l->cap * sizeof(*l->src));
		l->dst = realloc(l->dst, l->cap * sizeof(*l->dst));
		l->kind = realloc(l->kind, l->cap * sizeof(*l->kind));
	}
	l->src[l->m] = s;
	l->dst[l->m] = d;
	l->kind[l->m] = kind;
	l->m++;
}

static inline void el_release(struct edge_list *l)
{
	free(l->src);
	free(l->dst);
	free(l->kind);
	*l = (struct edge_list){0};
}

/* Nodes 0..n-1 in a chain, and n..2n-1 in a ring (2n nodes in all). */
static inline void el_chain_and_ring(struct edge_list *l, uint32_t n)
{
	for (uint32_t v = 0; v + 1 < n; v++)
		el_add(l, v, v + 1, ASNAP_EDGE_STRONG);
	for (uint32_t v = n; v < 2 * n; v++)
		el_add(l, v, v + 1 < 2 * n ? v + 1 : n, ASNAP_EDGE_STRONG);
}

/* A graph with node v of size v + 1 and refcnt 0, edges in CSR by source
 * (stable: the list order within a source). */
static inline struct asnap_graph *el_graph(const struct edge_list *l)
{
	struct asnap_graph *g = calloc(1, sizeof(*g));
	uint32_t n = l->n;
	g->n = n;
	g->m = l->m;
	g->addr = calloc(n + 1, sizeof(*g->addr));
	g->type = calloc(n + 1, sizeof(*g->type));
	g->size32 = calloc(n + 1, sizeof(*g->size32));
	g->refcnt = calloc(n + 1, sizeof(*g->refcnt));
	g->flags = calloc(n + 1, sizeof(*g->flags));
	uint64_t *start = calloc(n + 2, sizeof(*start));
	g->edge_target = malloc((l->m + 1) * sizeof(*g->edge_target));
	g->edge_label = calloc(l->m + 1, sizeof(*g->edge_label));
	g->edge_weak = calloc(l->m / 8 + 1, 1);
	for (uint32_t v = 0; v < n; v++) {
		g->addr[v] = 0x1000 + (uint64_t)v * 16;
		g->size32[v] = v + 1;
	}
	for (uint64_t e = 0; e < l->m; e++)
		start[l->src[e] + 1]++;
	for (uint32_t v = 0; v < n; v++)
		start[v + 1] += start[v];
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_graph_set_edge_offsets(g, start, &err), 0);
	uint64_t *pos = malloc((n + 1) * sizeof(*pos));
	for (uint32_t v = 0; v < n; v++)
		pos[v] = start[v];
	free(start);
	for (uint64_t e = 0; e < l->m; e++) {
		uint64_t k = pos[l->src[e]]++;
		g->edge_target[k] = l->dst[e];
		if (l->kind[e] == ASNAP_EDGE_WEAK)
			g->edge_weak[k >> 3] |= (uint8_t)(1u << (k & 7));
	}
	free(pos);
	return g;
}

static inline uint64_t rnd_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint32_t rnd_below(uint64_t *s, uint32_t k)
{
	return k ? (uint32_t)(rnd_next(s) % k) : 0;
}

/*
 * A random graph for seed: a few hundred nodes; random edges with repeats,
 * self loops and some weak ones; sometimes long chains and rings, sometimes
 * a part no root reaches.
 */
static inline void el_random(struct edge_list *l, uint64_t seed)
{
	uint64_t s = seed * 7919 + 1;
	*l = (struct edge_list){0};
	uint32_t n = 1 + rnd_below(&s, seed % 5 == 0 ? 2000 : 300);
	l->n = n;
	uint32_t shape = rnd_below(&s, 4);
	uint64_t m = (uint64_t)n * rnd_below(&s, shape == 0 ? 2 : 5) + rnd_below(&s, 5);
	for (uint64_t i = 0; i < m; i++) {
		uint32_t a = rnd_below(&s, n), b = rnd_below(&s, n);
		if (shape == 1 && rnd_below(&s, 3)) { /* mostly forward: deep, few cycles */
			uint32_t step = 1 + rnd_below(&s, 3);
			if (a + step < n)
				b = a + step;
		}
		el_add(l, a, b, rnd_below(&s, 10) == 0 ? ASNAP_EDGE_WEAK : ASNAP_EDGE_STRONG);
	}
	if (shape == 2) /* a chain through everything */
		for (uint32_t v = 0; v + 1 < n; v++)
			el_add(l, v, v + 1, ASNAP_EDGE_STRONG);
	for (uint32_t i = rnd_below(&s, 4); i > 0; i--) { /* self loops */
		uint32_t v = rnd_below(&s, n);
		el_add(l, v, v, ASNAP_EDGE_STRONG);
	}
}

/* g's strong edges plus node n (the super-root) pointing at roots[]. */
static inline void igraph_from(igraph_t *ig, const struct asnap_graph *g, const uint32_t *roots,
			       uint32_t nroots)
{
	igraph_vector_int_t edges;
	ck_assert_int_eq(igraph_vector_int_init(&edges, 0), IGRAPH_SUCCESS);
	for (uint32_t v = 0; v < g->n; v++) {
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			if (!asnap_graph_edge_is_strong(g, e))
				continue;
			ck_assert_int_eq(igraph_vector_int_push_back(&edges, v), IGRAPH_SUCCESS);
			ck_assert_int_eq(igraph_vector_int_push_back(&edges, g->edge_target[e]),
					 IGRAPH_SUCCESS);
		}
	}
	for (uint32_t r = 0; r < nroots; r++) {
		ck_assert_int_eq(igraph_vector_int_push_back(&edges, g->n), IGRAPH_SUCCESS);
		ck_assert_int_eq(igraph_vector_int_push_back(&edges, roots[r]), IGRAPH_SUCCESS);
	}
	ck_assert_int_eq(igraph_create(ig, &edges, (igraph_integer_t)g->n + 1, IGRAPH_DIRECTED),
			 IGRAPH_SUCCESS);
	igraph_vector_int_destroy(&edges);
}

/* igraph must report errors, never abort the test process. */
static inline void igraph_quiet(void)
{
	igraph_set_error_handler(igraph_error_handler_printignore);
	igraph_set_warning_handler(igraph_warning_handler_ignore);
}

#endif
