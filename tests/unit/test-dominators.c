/*
 * test-dominators.c - roots, the dominator tree, retained sizes and paths:
 * checked against igraph_dominator_tree and brute force on random graphs
 * of many seeds, on million-node chains, and on snapshots written to disk.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/dominators.h"
#include "graph/graph.h"
#include "graph/paths.h"
#include "graph/roots.h"
#include "graph/scc.h"
#include "graphutil.h"
#include "testutil.h"

#define SEEDS RANDOM_GRAPHS(400u)

struct analysed {
	struct asnap_graph *g;
	struct asnap_rootset rs;
	struct asnap_scc scc;
	struct asnap_domtree dom;
};

static void analyse(struct analysed *a, const struct edge_list *l, const uint32_t *roots,
		    uint32_t nroots)
{
	struct asnap_error err = {0};
	a->g = el_graph(l);
	ck_assert_int_eq(asnap_graph_index_reverse(a->g, &err), 0);
	a->rs = (struct asnap_rootset){0};
	a->rs.items = calloc(nroots + 1, sizeof(*a->rs.items));
	a->rs.cap = nroots + 1;
	for (uint32_t r = 0; r < nroots; r++)
		a->rs.items[a->rs.count++] = (struct asnap_root_ref){roots[r], ASNAP_ROOT_AGENT, 0, 0};
	a->rs.nreal = a->rs.count;
	ck_assert_int_eq(asnap_scc_compute(a->g, &a->scc, &err), 0);
	ck_assert_msg(asnap_dom_compute(a->g, &a->rs, &a->scc, &a->dom, &err) == 0, "%s",
		      err.message);
}

static void analysed_release(struct analysed *a)
{
	asnap_dom_release(&a->dom);
	asnap_scc_release(&a->scc);
	asnap_rootset_release(&a->rs);
	asnap_graph_destroy(a->g);
}

START_TEST(dominators_match_igraph_on_random_graphs)
{
	igraph_quiet();
	for (uint64_t seed = 0; seed < SEEDS; seed++) {
		struct edge_list l;
		el_random(&l, seed);
		uint64_t s = seed + 12345;
		uint32_t nroots = seed % 7 == 0 ? 0 : 1 + rnd_below(&s, 4);
		uint32_t roots[8];
		for (uint32_t r = 0; r < nroots; r++)
			roots[r] = rnd_below(&s, l.n);
		struct analysed a;
		analyse(&a, &l, roots, nroots);
		const struct asnap_graph *g = a.g;
		uint32_t n = g->n;

		/* every node is in the tree: real roots first, then garbage groups */
		uint32_t *all = malloc((a.rs.count + 1) * sizeof(*all));
		for (uint32_t r = 0; r < a.rs.count; r++)
			all[r] = a.rs.items[r].node;
		igraph_t ig;
		igraph_from(&ig, g, all, a.rs.count);
		igraph_vector_int_t dom;
		igraph_vector_int_init(&dom, 0);
		ck_assert_int_eq(igraph_dominator_tree(&ig, n, &dom, NULL, NULL, IGRAPH_OUT),
				 IGRAPH_SUCCESS);
		for (uint32_t v = 0; v < n; v++)
			ck_loop_msg(VECTOR(dom)[v] == (igraph_integer_t)a.dom.idom[v],
				      "seed %llu node %u: igraph %lld, ours %u", (unsigned long long)seed,
				      v, (long long)VECTOR(dom)[v], a.dom.idom[v]);

		/* retained = own size + sizes of everything dominated, by brute force */
		uint64_t *ret = calloc(n + 1, sizeof(*ret));
		for (uint32_t u = 0; u < n; u++)
			for (uint32_t d = u;; d = a.dom.idom[d]) {
				ret[d] += asnap_graph_size(g, u);
				if (d == n)
					break;
			}
		for (uint32_t v = 0; v <= n; v++)
			ck_loop_uint_eq(asnap_dom_retained(&a.dom, v), ret[v]);

		/* garbage = not reachable from the real roots */
		igraph_t real;
		igraph_from(&real, g, roots, nroots);
		igraph_vector_int_t reach;
		igraph_vector_int_init(&reach, 0);
		ck_assert_int_eq(igraph_subcomponent(&real, &reach, n, IGRAPH_OUT), IGRAPH_SUCCESS);
		uint8_t *reached = calloc(n + 1, 1);
		for (igraph_integer_t i = 0; i < igraph_vector_int_size(&reach); i++)
			reached[VECTOR(reach)[i]] = 1;
		uint32_t nreached = 0;
		for (uint32_t v = 0; v < n; v++) {
			ck_loop_int_eq(asnap_dom_is_garbage(&a.dom, v), !reached[v]);
			nreached += reached[v];
		}
		ck_assert_uint_eq(a.dom.nreached, nreached);
		/* garbage roots head garbage only, one per source component */
		for (uint32_t r = a.rs.nreal; r < a.rs.count; r++) {
			ck_loop(!reached[a.rs.items[r].node]);
			ck_loop_uint_eq(a.rs.items[r].kind, ASNAP_ROOT_UNREACHABLE);
			ck_loop_uint_eq(asnap_graph_in_degree(g, a.rs.items[r].node) == 0 ||
						  a.scc.comp[a.rs.items[r].node] <= a.scc.ncomp,
					  1);
		}

		free(reached);
		igraph_vector_int_destroy(&reach);
		igraph_destroy(&real);
		free(ret);
		igraph_vector_int_destroy(&dom);
		igraph_destroy(&ig);
		free(all);
		analysed_release(&a);
		el_release(&l);
	}
}
END_TEST

/* Components found in the dominators' own DFS: the same partition as
 * asnap_scc_compute, in reverse topological order too, and the same tree. */
START_TEST(dominators_find_the_components_on_the_way)
{
	for (uint64_t seed = 0; seed < SEEDS; seed++) {
		struct edge_list l;
		el_random(&l, seed);
		uint64_t s = seed + 777;
		uint32_t nroots = seed % 5 == 0 ? 0 : 1 + rnd_below(&s, 4);
		uint32_t roots[8];
		for (uint32_t r = 0; r < nroots; r++)
			roots[r] = rnd_below(&s, l.n);
		struct analysed a;
		analyse(&a, &l, roots, nroots);
		const struct asnap_graph *g = a.g;
		struct asnap_rootset rs = {0};
		struct asnap_error err = {0};
		rs.items = calloc(nroots + 1, sizeof(*rs.items));
		rs.cap = nroots + 1;
		for (uint32_t r = 0; r < nroots; r++)
			rs.items[rs.count++] = (struct asnap_root_ref){roots[r], ASNAP_ROOT_AGENT, 0, 0};
		rs.nreal = rs.count;
		struct asnap_scc scc = {0};
		struct asnap_domtree dom;
		ck_assert_msg(asnap_dom_compute(g, &rs, &scc, &dom, &err) == 0, "%s", err.message);
		ck_assert_uint_eq(scc.n, g->n);
		ck_assert_uint_eq(scc.ncomp, a.scc.ncomp);
		uint32_t *map = malloc((scc.ncomp + 1) * sizeof(*map));
		for (uint32_t c = 0; c <= scc.ncomp; c++)
			map[c] = UINT32_MAX;
		for (uint32_t v = 0; v < g->n; v++) {
			uint32_t c = scc.comp[v];
			ck_loop_uint_lt(c, scc.ncomp);
			if (map[c] == UINT32_MAX)
				map[c] = a.scc.comp[v];
			ck_loop_msg(map[c] == a.scc.comp[v], "seed %llu: node %u split differently",
				      (unsigned long long)seed, v);
			for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++)
				if (asnap_graph_edge_is_strong(g, e))
					ck_loop_uint_ge(scc.comp[v], scc.comp[g->edge_target[e]]);
		}
		ck_assert_uint_eq(rs.count, a.rs.count);
		for (uint32_t r = 0; r < rs.count; r++)
			ck_loop_uint_eq(rs.items[r].node, a.rs.items[r].node);
		ck_assert_uint_eq(dom.nreached, a.dom.nreached);
		for (uint32_t v = 0; v <= g->n; v++) {
			ck_loop_uint_eq(dom.idom[v], a.dom.idom[v]);
			ck_loop_uint_eq(asnap_dom_retained(&dom, v), asnap_dom_retained(&a.dom, v));
			ck_loop_int_eq(asnap_dom_is_garbage(&dom, v), asnap_dom_is_garbage(&a.dom, v));
		}
		free(map);
		asnap_dom_release(&dom);
		asnap_scc_release(&scc);
		asnap_rootset_release(&rs);
		analysed_release(&a);
		el_release(&l);
	}
}
END_TEST

/* The children of a few nodes, found in one pass, are those of the whole
 * tree's children lists (asnap_dom_children), in the same order. */
START_TEST(dom_kids_of_some_nodes_are_the_whole_trees)
{
	for (uint64_t seed = 0; seed < SEEDS; seed++) {
		struct edge_list l;
		el_random(&l, seed);
		uint64_t s = seed + 4242;
		uint32_t roots[4];
		uint32_t nroots = 1 + rnd_below(&s, 3);
		for (uint32_t r = 0; r < nroots; r++)
			roots[r] = rnd_below(&s, l.n);
		struct analysed a;
		analyse(&a, &l, roots, nroots);
		uint32_t n = a.g->n, *start, *child;
		struct asnap_error err = {0};
		ck_assert_int_eq(asnap_dom_children(&a.dom, &start, &child, &err), 0);
		/* the super-root, a few nodes, repeats, in no order */
		uint32_t ask[12], nask = 0;
		ask[nask++] = n;
		while (nask < 12)
			ask[nask++] = rnd_below(&s, n + 1);
		ask[nask - 1] = ask[1];
		struct asnap_dom_kids k;
		ck_assert_int_eq(asnap_dom_kids_find(&a.dom, ask, nask, &k, &err), 0);
		for (uint32_t i = 0; i < nask; i++) {
			uint32_t count;
			const uint32_t *kids = asnap_dom_kids_of(&k, ask[i], &count);
			ck_assert_uint_eq(count, start[ask[i] + 1] - start[ask[i]]);
			for (uint32_t j = 0; j < count; j++)
				ck_loop_uint_eq(kids[j], child[start[ask[i]] + j]);
		}
		uint32_t count;
		for (uint32_t v = 0; v <= n; v++) {
			bool asked = false;
			for (uint32_t i = 0; i < nask; i++)
				asked |= ask[i] == v;
			if (!asked)
				ck_loop_ptr_null(asnap_dom_kids_of(&k, v, &count));
		}
		asnap_dom_kids_release(&k);
		free(start);
		free(child);
		analysed_release(&a);
		el_release(&l);
	}
}
END_TEST

START_TEST(dominators_of_a_million_long_chain)
{
	/* 0 -> 1 -> ... -> n-1, and a ring n .. 2n-1 that nothing reaches */
	const uint32_t n = 1000000;
	struct edge_list l = {.n = 2 * n};
	el_chain_and_ring(&l, n);
	uint32_t root = 0;
	struct analysed a;
	analyse(&a, &l, &root, 1);
	ck_assert_uint_eq(a.dom.idom[0], 2 * n);
	uint64_t chain = 0;
	for (uint32_t v = n; v-- > 0;) {
		chain += v + 1;
		if (v > 0)
			ck_loop_uint_eq(a.dom.idom[v], v - 1);
		ck_loop_uint_eq(asnap_dom_retained(&a.dom, v), chain);
		ck_loop(!asnap_dom_is_garbage(&a.dom, v));
	}
	/* the ring: one garbage group, headed by one node */
	ck_assert_uint_eq(a.rs.count, 2);
	uint32_t head = a.rs.items[1].node;
	ck_assert_uint_ge(head, n);
	ck_assert_uint_eq(a.dom.idom[head], 2 * n);
	for (uint32_t v = n; v < 2 * n; v++)
		ck_loop(asnap_dom_is_garbage(&a.dom, v));
	uint64_t ring = 0;
	for (uint32_t v = n; v < 2 * n; v++)
		ring += v + 1;
	ck_assert_uint_eq(asnap_dom_retained(&a.dom, head), ring);
	ck_assert_uint_eq(a.dom.nreached, n);

	/* the same with the components found on the way: no recursion either */
	struct asnap_rootset rs = {0};
	struct asnap_error err0 = {0};
	rs.items = calloc(1, sizeof(*rs.items));
	rs.cap = 1;
	rs.items[rs.count++] = (struct asnap_root_ref){0, ASNAP_ROOT_AGENT, 0, 0};
	rs.nreal = 1;
	struct asnap_scc scc = {0};
	struct asnap_domtree dom;
	ck_assert_int_eq(asnap_dom_compute(a.g, &rs, &scc, &dom, &err0), 0);
	ck_assert_uint_eq(scc.ncomp, n + 1);
	for (uint32_t v = 0; v <= 2 * n; v++)
		ck_loop_uint_eq(dom.idom[v], a.dom.idom[v]);
	asnap_dom_release(&dom);
	asnap_scc_release(&scc);
	asnap_rootset_release(&rs);

	/* the path to the end of the chain is the whole chain */
	struct asnap_path_ws ws;
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_path_ws_init(&ws, a.g->n, &err), 0);
	uint32_t *path, len;
	ck_assert_int_eq(asnap_path_from_roots(a.g, &a.rs, n - 1, &ws, &path, &len, &err), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_uint_eq(path[0], 0);
	ck_assert_uint_eq(path[n - 1], n - 1);
	free(path);
	/* and the cycle through a ring node is the whole ring */
	ck_assert_int_eq(asnap_path_cycle(a.g, &a.scc, n + 5, &ws, &path, &len, &err), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_uint_eq(path[0], n + 5);
	free(path);
	asnap_path_ws_finish(&ws);
	analysed_release(&a);
	el_release(&l);
}
END_TEST

/* More than 2^32 edges: the 32-bit offsets and the nodes where they wrap
 * give back the 64-bit ones (no edges behind them: only offsets). */
START_TEST(edge_offsets_beyond_32_bits)
{
	const uint64_t G = (uint64_t)1 << 32;
	const uint64_t start[] = {0, 3, G - 1, G + 1, G + 1, 2 * G + 5, 3 * G, 3 * G, 5 * G + 2};
	const uint32_t n = sizeof(start) / sizeof(start[0]) - 1;
	struct asnap_graph g = {.n = n};
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_graph_set_edge_offsets(&g, start, &err), 0);
	ck_assert_uint_eq(g.nedge_hi, 5); /* 3 and 5 once, 6 once, 8 twice */
	for (uint32_t v = 0; v < n; v++) {
		ck_assert_uint_eq(asnap_graph_edge_begin(&g, v), start[v]);
		ck_assert_uint_eq(asnap_graph_edge_end(&g, v), start[v + 1]);
	}
	/* under 2^32 edges: the plain 32-bit offsets, nothing else */
	const uint64_t small[] = {0, 0, 7, UINT32_MAX - 1};
	g.n = 3;
	ck_assert_int_eq(asnap_graph_set_edge_offsets(&g, small, &err), 0);
	ck_assert_uint_eq(g.nedge_hi, 0);
	for (uint32_t v = 0; v < 3; v++)
		ck_assert_uint_eq(asnap_graph_edge_begin(&g, v), small[v]);
	free(g.edge_off);
	free(g.edge_hi);
}
END_TEST

START_TEST(weak_edges_never_retain)
{
	/* root 0 -> 1 strongly and -> 2 only weakly; 1 -> 2 weakly too */
	struct edge_list l = {.n = 3};
	el_add(&l, 0, 1, ASNAP_EDGE_STRONG);
	el_add(&l, 0, 2, ASNAP_EDGE_WEAK);
	el_add(&l, 1, 2, ASNAP_EDGE_WEAK);
	uint32_t root = 0;
	struct analysed a;
	analyse(&a, &l, &root, 1);
	ck_assert(asnap_dom_is_garbage(&a.dom, 2));
	ck_assert_uint_eq(asnap_dom_retained(&a.dom, 0), 1 + 2);
	ck_assert_uint_eq(a.dom.idom[2], 3);
	analysed_release(&a);
	el_release(&l);
}
END_TEST

START_TEST(paths_are_shortest_and_cycles_close)
{
	for (uint64_t seed = 0; seed < SEEDS; seed += 3) {
		struct edge_list l;
		el_random(&l, seed);
		uint32_t root = 0;
		struct analysed a;
		analyse(&a, &l, &root, 1);
		struct asnap_path_ws ws;
		struct asnap_error err = {0};
		ck_assert_int_eq(asnap_path_ws_init(&ws, a.g->n, &err), 0);
		igraph_t ig;
		igraph_from(&ig, a.g, &root, 1);
		igraph_matrix_t dist;
		igraph_matrix_init(&dist, 0, 0);
#if IGRAPH_VERSION_MAJOR >= 1 /* igraph 1.0 takes the weights first */
		ck_assert_int_eq(igraph_distances(&ig, NULL, &dist, igraph_vss_1(a.g->n),
						  igraph_vss_all(), IGRAPH_OUT),
				 IGRAPH_SUCCESS);
#else
		ck_assert_int_eq(igraph_distances(&ig, &dist, igraph_vss_1(a.g->n), igraph_vss_all(),
						  IGRAPH_OUT),
				 IGRAPH_SUCCESS);
#endif
		for (uint32_t t = 0; t < a.g->n; t++) {
			uint32_t *p, len;
			ck_loop_int_eq(asnap_path_from_roots(a.g, &a.rs, t, &ws, &p, &len, &err), 0);
			ck_loop_uint_gt(len, 0); /* garbage has roots of its own */
			ck_loop_uint_eq(p[len - 1], t);
			for (uint32_t i = 0; i + 1 < len; i++) {
				uint64_t e = asnap_graph_edge_between(a.g, p[i], p[i + 1]);
				ck_loop(e != UINT64_MAX && asnap_graph_edge_is_strong(a.g, e));
			}
			if (!asnap_dom_is_garbage(&a.dom, t))
				ck_loop_uint_eq(len, (uint32_t)MATRIX(dist, 0, t));
			free(p);
			ck_loop_int_eq(asnap_path_cycle(a.g, &a.scc, t, &ws, &p, &len, &err), 0);
			bool self = asnap_graph_edge_between(a.g, t, t) != UINT64_MAX &&
				    asnap_graph_edge_is_strong(a.g, asnap_graph_edge_between(a.g, t, t));
			if (len) {
				ck_assert_uint_eq(p[0], t);
				for (uint32_t i = 0; i < len; i++) {
					uint32_t next = p[(i + 1) % len];
					ck_loop_uint_eq(a.scc.comp[p[i]], a.scc.comp[t]);
					uint64_t e = asnap_graph_edge_between(a.g, p[i], next);
					ck_loop(e != UINT64_MAX &&
						  asnap_graph_edge_is_strong(a.g, e));
				}
			} else {
				ck_loop(!self);
			}
			/* the bounded search: the same length when the limits
			 * allow it, a closed cycle within them, none through an
			 * avoided node (here every third one but t) */
			uint32_t cyc[6], cap = 6, got;
			got = asnap_path_short_cycle(a.g, &a.scc, t, NULL, cap, UINT32_MAX, &ws, cyc,
						     NULL);
			ck_loop_uint_eq(got, len <= cap ? len : 0);
			free(p);
			uint8_t *avoid = calloc(a.g->n / 8 + 1, 1);
			ck_loop_ptr_nonnull(avoid);
			for (uint32_t v = 0; v < a.g->n; v += 3)
				if (v != t)
					avoid[v >> 3] |= (uint8_t)(1u << (v & 7));
			uint64_t visited = 0;
			got = asnap_path_short_cycle(a.g, &a.scc, t, avoid, cap, UINT32_MAX, &ws, cyc,
						     &visited);
			ck_loop_uint_le(got, cap);
			ck_loop_uint_ge(visited, 1);
			for (uint32_t i = 0; i < got; i++) {
				ck_assert(i == 0 || !((avoid[cyc[i] >> 3] >> (cyc[i] & 7)) & 1));
				ck_assert_uint_eq(a.scc.comp[cyc[i]], a.scc.comp[t]);
				uint64_t e = asnap_graph_edge_between(a.g, cyc[i], cyc[(i + 1) % got]);
				ck_assert(e != UINT64_MAX && asnap_graph_edge_is_strong(a.g, e));
			}
			ck_loop(!got || cyc[0] == t);
			free(avoid);
		}
		igraph_matrix_destroy(&dist);
		igraph_destroy(&ig);
		asnap_path_ws_finish(&ws);
		analysed_release(&a);
		el_release(&l);
	}
}
END_TEST

/* A snapshot for the two-pass tests: n nodes in a ring with chords, some
 * sizes of 2^32 - 1 and more, labels, records and roots; `salt` changes
 * the edges. */
static void write_two_pass(const char *path, uint32_t n, uint32_t salt)
{
	struct asnap_writer *w = test_writer(path, "{}");
	uint32_t t_obj = asnap_writer_intern_cstr(w, "builtins.object");
	uint32_t lab = asnap_writer_intern_cstr(w, "attr");
	uint32_t kind = asnap_writer_intern_cstr(w, "coroutine");
	uint32_t rk = asnap_writer_intern_cstr(w, "sys.modules");
	for (uint32_t v = 0; v < n; v++) {
		struct asnap_edge e[2] = {
			{(v + 1) % n, v % 3 ? lab : 0, ASNAP_EDGE_STRONG},
			{(v * 7 + salt) % n, 0, v % 5 ? ASNAP_EDGE_STRONG : ASNAP_EDGE_WEAK},
		};
		uint64_t size = v == 9 ? (uint64_t)1 << 33 : v == 10 ? UINT32_MAX : 16 + v % 100;
		struct asnap_node node = {v, t_obj, 0x1000 + (uint64_t)v * 32, size, 1 + v % 4,
					  v % 2 ? ASNAP_NODE_GC_TRACKED : 0, 2, e};
		ck_assert_int_eq(asnap_writer_node(w, &node), 0);
	}
	for (uint32_t v = 0; v < n; v += 97) {
		struct asnap_record rec = {v, kind, 0, NULL};
		ck_assert_int_eq(asnap_writer_record(w, &rec), 0);
	}
	struct asnap_root root = {0, rk, 0};
	ck_assert_int_eq(asnap_writer_root(w, &root), 0);
	test_commit(w);
}

static void assert_same_graph(const struct asnap_graph *a, const struct asnap_graph *b)
{
	ck_assert_uint_eq(a->n, b->n);
	ck_assert_uint_eq(a->m, b->m);
	ck_assert_uint_eq(a->columns, b->columns);
	ck_assert_int_eq(memcmp(a->addr, b->addr, a->n * sizeof(*a->addr)), 0);
	ck_assert_int_eq(memcmp(a->type, b->type, a->n * sizeof(*a->type)), 0);
	ck_assert_int_eq(memcmp(a->refcnt, b->refcnt, a->n * sizeof(*a->refcnt)), 0);
	ck_assert_int_eq(memcmp(a->flags, b->flags, a->n), 0);
	ck_assert_int_eq(memcmp(a->edge_label, b->edge_label, a->m * sizeof(*a->edge_label)), 0);
	for (uint32_t v = 0; v < a->n; v++)
		ck_assert_uint_eq(asnap_graph_size(a, v), asnap_graph_size(b, v));
	ck_assert_uint_eq(a->nrecords, b->nrecords);
	for (uint64_t i = 0; i < a->nrecords; i++)
		ck_assert_uint_eq(a->records[i].node, b->records[i].node);
}

/* Some columns first, the rest in a second pass: the same graph as one
 * whole load; sizes past 32 bits exact; a file replaced by rename does not
 * matter, one changed in place is an error, never a wrong graph. */
START_TEST(graph_loads_in_two_passes)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap"), *other = tmpdir_path(&d, "b.snap");
	const uint32_t n = 3000;
	write_two_pass(path, n, 1);
	write_two_pass(other, n, 2);
	struct asnap_error err = {0};
	struct asnap_graph *whole = asnap_graph_load(path, &err);
	ck_assert_msg(whole, "%s", err.message);
	ck_assert_uint_eq(whole->columns, ASNAP_COL_ALL);
	ck_assert_uint_eq(asnap_graph_size(whole, 9), (uint64_t)1 << 33);
	ck_assert_uint_eq(asnap_graph_size(whole, 10), UINT32_MAX);
	ck_assert_uint_eq(asnap_graph_size(whole, 11), 16 + 11);

	struct asnap_graph *g = asnap_graph_load_columns(path, ASNAP_COL_SIZE, &err);
	ck_assert_msg(g, "%s", err.message);
	ck_assert_uint_eq(g->columns, ASNAP_COL_SIZE);
	ck_assert_ptr_null(g->addr);
	ck_assert_ptr_null(g->edge_label);
	ck_assert_uint_eq(g->nrecords, 0);
	ck_assert_uint_eq(g->nroots, 1);
	ck_assert_uint_eq(asnap_graph_size(g, 9), (uint64_t)1 << 33);
	/* replaced by rename: the second pass reads what the first did */
	ck_assert_int_eq(rename(other, path), 0);
	ck_assert_int_eq(asnap_graph_load_more(g, ASNAP_COL_ALL, &err), 0);
	assert_same_graph(g, whole);
	/* a column again */
	asnap_graph_release_columns(g, ASNAP_COL_LABEL | ASNAP_COL_SIZE);
	ck_assert_ptr_null(g->edge_label);
	ck_assert_int_eq(asnap_graph_load_more(g, ASNAP_COL_LABEL | ASNAP_COL_SIZE, &err), 0);
	assert_same_graph(g, whole);
	asnap_graph_destroy(g);

	/* changed in place, modification time and all */
	g = asnap_graph_load_columns(path, ASNAP_COL_SIZE, &err);
	ck_assert_msg(g, "%s", err.message);
	FILE *f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long len = ftell(f);
	ck_assert_int_eq(fseek(f, len / 2, SEEK_SET), 0);
	int c = fgetc(f);
	ck_assert_int_eq(fseek(f, len / 2, SEEK_SET), 0);
	fputc(c ^ 0x55, f);
	fclose(f);
	ck_assert_int_eq(asnap_graph_load_more(g, ASNAP_COL_ALL, &err), -1);
	ck_assert_ptr_null(g->addr);
	ck_assert_uint_eq(g->columns, ASNAP_COL_SIZE);
	asnap_graph_destroy(g);
	asnap_graph_destroy(whole);
	free(path);
	free(other);
	tmpdir_destroy(&d);
}
END_TEST

/* A header that undercounts (or has no edge count) only costs growth; the
 * weak bits, saturated counts and narrow flags come through. */
START_TEST(graph_loads_past_its_header_hints)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "hints.snap");
	struct asnap_error err = {0};
	struct asnap_writer *w = test_writer(path, "{\"objects\": 3}");
	uint32_t t_obj = asnap_writer_intern_cstr(w, "builtins.object");
	uint32_t lab = asnap_writer_intern_cstr(w, "attr");
	const uint32_t n = 5000;
	struct asnap_edge e[7];
	for (uint32_t v = 0; v < n; v++) {
		uint32_t k = v % 8 == 0 ? 0 : v % 7 + 1;
		for (uint32_t j = 0; j < k; j++)
			e[j] = (struct asnap_edge){(v * 31 + j * 17) % n, j % 2 ? lab : 0,
						   (v + j) % 3 == 0 ? ASNAP_EDGE_WEAK : ASNAP_EDGE_STRONG};
		struct asnap_node node = {v, t_obj, 0x1000 + (uint64_t)v * 32, 32,
					  v == 7 ? (uint64_t)1 << 40 : v == 8 ? UINT32_MAX : v,
					  v % 2 ? ASNAP_NODE_GC_TRACKED | ASNAP_NODE_IMMORTAL : 0, k, e};
		ck_assert_int_eq(asnap_writer_node(w, &node), 0);
	}
	test_commit(w);

	struct asnap_graph *g = asnap_graph_load(path, &err);
	ck_assert_msg(g, "%s", err.message);
	ck_assert_uint_eq(g->n, n);
	ck_assert_uint_eq(g->nedge_hi, 0);
	uint64_t m = 0;
	for (uint32_t v = 0; v < n; v++) {
		uint32_t k = v % 8 == 0 ? 0 : v % 7 + 1;
		ck_assert_uint_eq(asnap_graph_edge_begin(g, v), m);
		ck_assert_uint_eq(asnap_graph_edge_end(g, v), m + k);
		for (uint32_t j = 0; j < k; j++, m++) {
			ck_assert_uint_eq(g->edge_target[m], (v * 31 + j * 17) % n);
			ck_assert_uint_eq(g->edge_label[m], j % 2 ? lab : 0);
			ck_assert_uint_eq(asnap_graph_edge_kind(g, m),
					  (v + j) % 3 == 0 ? ASNAP_EDGE_WEAK : ASNAP_EDGE_STRONG);
			ck_assert_int_eq(asnap_graph_edge_is_strong(g, m), (v + j) % 3 != 0);
		}
		ck_assert_uint_eq(g->addr[v], 0x1000 + (uint64_t)v * 32);
		ck_assert_uint_eq(g->refcnt[v], v == 7 || v == 8 ? UINT32_MAX : v);
		ck_assert_uint_eq(g->flags[v], v % 2 ? ASNAP_NODE_GC_TRACKED | ASNAP_NODE_IMMORTAL : 0);
	}
	ck_assert_uint_eq(g->m, m);
	asnap_graph_destroy(g);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(roots_come_from_agent_modules_and_refcounts)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "roots.snap");
	struct asnap_error err = {0};
	struct asnap_writer *w = test_writer(path, "{}");
	uint32_t t_mod = asnap_writer_intern_cstr(w, "builtins.module");
	uint32_t t_dict = asnap_writer_intern_cstr(w, "builtins.dict");
	uint32_t t_obj = asnap_writer_intern_cstr(w, "builtins.object");
	uint32_t k_thread = asnap_writer_intern_cstr(w, "thread");
	/* 0 module -> 1 dict -> 2 obj; 3 obj held twice but referenced once
	 * (external); 4 <-> 5 a garbage cycle; 6 an agent root */
	struct asnap_edge e01 = {1, 0, 0}, e12 = {2, 0, 0}, e23 = {3, 0, 0}, e45 = {5, 0, 0},
			  e54 = {4, 0, 0};
	struct asnap_node nodes[] = {
		{0, t_mod, 0x10, 72, 1, 1, 1, &e01}, {1, t_dict, 0x20, 100, 1, 1, 1, &e12},
		{2, t_obj, 0x30, 16, 1, 1, 1, &e23}, {3, t_obj, 0x40, 16, 2, 1, 0, NULL},
		{4, t_obj, 0x50, 16, 1, 1, 1, &e45}, {5, t_obj, 0x60, 16, 1, 1, 1, &e54},
		{6, t_obj, 0x70, 16, 0, 1, 0, NULL},
	};
	for (unsigned i = 0; i < 7; i++)
		ck_assert_int_eq(asnap_writer_node(w, &nodes[i]), 0);
	struct asnap_root root = {6, k_thread, 0};
	ck_assert_int_eq(asnap_writer_root(w, &root), 0);
	test_commit(w);

	struct asnap_graph *g = asnap_graph_load(path, &err);
	ck_assert_msg(g, "%s", err.message);
	ck_assert_int_eq(asnap_graph_index_reverse(g, &err), 0);
	struct asnap_rootset rs;
	ck_assert_int_eq(asnap_roots_find(g, &rs, &err), 0);
	ck_assert_uint_eq(rs.nreal, 4); /* 6 agent, 1 module dict, 0 and 3 external */
	ck_assert_uint_eq(rs.items[0].node, 6);
	ck_assert_uint_eq(rs.items[0].kind, ASNAP_ROOT_AGENT);
	ck_assert_str_eq(asnap_graph_string(g, rs.items[0].name), "thread");
	ck_assert_uint_eq(rs.items[1].node, 1);
	ck_assert_uint_eq(rs.items[1].kind, ASNAP_ROOT_MODULE);
	ck_assert_uint_eq(rs.items[1].name, 0);
	ck_assert_uint_eq(rs.items[2].node, 0); /* nothing refers to the module */
	ck_assert_uint_eq(rs.items[2].kind, ASNAP_ROOT_EXTERNAL);
	ck_assert_uint_eq(rs.items[3].node, 3);
	ck_assert_uint_eq(rs.items[3].kind, ASNAP_ROOT_EXTERNAL);
	struct asnap_scc scc;
	struct asnap_domtree dom;
	ck_assert_int_eq(asnap_scc_compute(g, &scc, &err), 0);
	ck_assert_int_eq(asnap_dom_compute(g, &rs, &scc, &dom, &err), 0);
	ck_assert_uint_eq(rs.count, 5);
	ck_assert_uint_eq(rs.items[4].kind, ASNAP_ROOT_UNREACHABLE);
	ck_assert(asnap_dom_is_garbage(&dom, 4) && asnap_dom_is_garbage(&dom, 5));
	ck_assert(!asnap_dom_is_garbage(&dom, 3));
	ck_assert_uint_eq(asnap_dom_retained(&dom, rs.items[4].node), 32);
	ck_assert_uint_eq(dom.idom[3], 7); /* held from outside and by 2: the super-root */
	ck_assert_uint_eq(asnap_dom_retained(&dom, 1), 100 + 16);
	ck_assert_uint_eq(asnap_graph_find_addr(g, 0x60), 5);
	ck_assert_uint_eq(asnap_graph_find_addr(g, 0x61), ASNAP_NO_NODE);
	asnap_dom_release(&dom);
	asnap_dom_release(NULL);
	asnap_scc_release(&scc);
	asnap_rootset_release(&rs);
	asnap_graph_destroy(g);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

/* The edge finder gives asnap_graph_edge_between's answer for every pair,
 * on nodes of high degree with duplicate, weak and labelled edges (the
 * finder's table) and of low degree (its scan). */
START_TEST(edge_finder_agrees_with_edge_between)
{
	struct edge_list l = {.n = 400};
	uint64_t seed = 7;
	for (uint32_t v = 0; v < 400; v++) {
		uint32_t degree = v % 5 == 0 ? 200 + rnd_below(&seed, 300) : rnd_below(&seed, 40);
		for (uint32_t k = 0; k < degree; k++)
			el_add(&l, v, rnd_below(&seed, 400),
			       rnd_below(&seed, 4) == 0 ? ASNAP_EDGE_WEAK : ASNAP_EDGE_STRONG);
	}
	struct asnap_graph *g = el_graph(&l);
	for (uint64_t e = 0; e < g->m; e++)
		g->edge_label[e] = rnd_below(&seed, 3) == 0 ? 0 : 1 + (uint32_t)(e % 7);
	struct asnap_edge_finder f = {0};
	for (int round = 0; round < 2; round++) /* built, then from the table */
		for (uint32_t v = 0; v < 400; v++)
			for (uint32_t w = 0; w < 400; w++)
				ck_loop_uint_eq(asnap_edge_finder_find(&f, g, v, w),
						  asnap_graph_edge_between(g, v, w));
	ck_assert_uint_gt(f.ntables, 70);
	asnap_edge_finder_release(&f);
	asnap_graph_destroy(g);
	el_release(&l);
}
END_TEST

static Suite *dominators_suite(void)
{
	Suite *s = suite_create("dominators");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, dominators_match_igraph_on_random_graphs);
	tcase_add_test(tc, dominators_find_the_components_on_the_way);
	tcase_add_test(tc, dom_kids_of_some_nodes_are_the_whole_trees);
	tcase_add_test(tc, dominators_of_a_million_long_chain);
	tcase_add_test(tc, edge_offsets_beyond_32_bits);
	tcase_add_test(tc, weak_edges_never_retain);
	tcase_add_test(tc, paths_are_shortest_and_cycles_close);
	tcase_add_test(tc, graph_loads_past_its_header_hints);
	tcase_add_test(tc, graph_loads_in_two_passes);
	tcase_add_test(tc, roots_come_from_agent_modules_and_refcounts);
	tcase_add_test(tc, edge_finder_agrees_with_edge_between);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dominators_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
