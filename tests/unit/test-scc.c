/*
 * test-scc.c - strongly connected components: the same partition as
 * igraph_connected_components(IGRAPH_STRONG) on random graphs of many
 * seeds, numbered in reverse topological order, and no recursion on
 * million-node chains and rings.
 */
#include <check.h>
#include <stdlib.h>

#include "graph/scc.h"
#include "graphutil.h"

#define SEEDS RANDOM_GRAPHS(500u)

START_TEST(scc_matches_igraph_on_random_graphs)
{
	igraph_quiet();
	for (uint64_t seed = 0; seed < SEEDS; seed++) {
		struct edge_list l;
		el_random(&l, seed);
		struct asnap_graph *g = el_graph(&l);
		struct asnap_scc scc;
		struct asnap_error err = {0};
		ck_assert_int_eq(asnap_scc_compute(g, &scc, &err), 0);
		igraph_t ig;
		igraph_from(&ig, g, NULL, 0);
		igraph_vector_int_t memb, csize;
		igraph_integer_t no;
		igraph_vector_int_init(&memb, 0);
		igraph_vector_int_init(&csize, 0);
		ck_assert_int_eq(igraph_connected_components(&ig, &memb, &csize, &no, IGRAPH_STRONG),
				 IGRAPH_SUCCESS);
		/* node n is igraph's lone super-root */
		ck_assert_uint_eq(scc.ncomp, (uint32_t)no - 1);
		uint32_t *ours_to_theirs = malloc(scc.ncomp * sizeof(*ours_to_theirs));
		igraph_integer_t *theirs_to_ours = malloc(no * sizeof(*theirs_to_ours));
		for (uint32_t c = 0; c < scc.ncomp; c++)
			ours_to_theirs[c] = UINT32_MAX;
		for (igraph_integer_t c = 0; c < no; c++)
			theirs_to_ours[c] = -1;
		for (uint32_t v = 0; v < g->n; v++) {
			uint32_t c = scc.comp[v];
			igraph_integer_t t = VECTOR(memb)[v];
			ck_loop_uint_lt(c, scc.ncomp);
			if (ours_to_theirs[c] == UINT32_MAX)
				ours_to_theirs[c] = (uint32_t)t;
			if (theirs_to_ours[t] == -1)
				theirs_to_ours[t] = c;
			ck_loop_msg(ours_to_theirs[c] == t && theirs_to_ours[t] == c,
				      "seed %llu: node %u split differently", (unsigned long long)seed, v);
		}
		for (uint32_t v = 0; v < g->n; v++)
			for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++)
				if (asnap_graph_edge_is_strong(g, e))
					ck_loop_uint_ge(scc.comp[v], scc.comp[g->edge_target[e]]);
		free(ours_to_theirs);
		free(theirs_to_ours);
		igraph_vector_int_destroy(&memb);
		igraph_vector_int_destroy(&csize);
		igraph_destroy(&ig);
		asnap_scc_release(&scc);
		asnap_graph_destroy(g);
		el_release(&l);
	}
}
END_TEST

START_TEST(scc_of_million_long_chain_and_ring)
{
	const uint32_t n = 1000000;
	struct edge_list l = {.n = 2 * n};
	el_chain_and_ring(&l, n);
	el_add(&l, n - 1, n, ASNAP_EDGE_STRONG); /* the chain leads into the ring */
	struct asnap_graph *g = el_graph(&l);
	struct asnap_scc scc;
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_scc_compute(g, &scc, &err), 0);
	ck_assert_uint_eq(scc.ncomp, n + 1);
	for (uint32_t v = n; v < 2 * n; v++)
		ck_loop_uint_eq(scc.comp[v], 0); /* the sink comes first */
	for (uint32_t v = 0; v + 1 < n; v++)
		ck_loop_uint_eq(scc.comp[v], scc.comp[v + 1] + 1);
	asnap_scc_release(&scc);
	asnap_scc_release(NULL);
	asnap_graph_destroy(g);
	el_release(&l);
}
END_TEST

START_TEST(scc_self_loops_weak_edges_and_empty_graph)
{
	struct edge_list l = {.n = 4};
	el_add(&l, 0, 0, ASNAP_EDGE_STRONG);
	el_add(&l, 1, 2, ASNAP_EDGE_STRONG);
	el_add(&l, 2, 1, ASNAP_EDGE_WEAK); /* weak: no cycle */
	el_add(&l, 3, 3, ASNAP_EDGE_WEAK);
	struct asnap_graph *g = el_graph(&l);
	struct asnap_scc scc;
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_scc_compute(g, &scc, &err), 0);
	ck_assert_uint_eq(scc.ncomp, 4);
	ck_assert_uint_ne(scc.comp[1], scc.comp[2]);
	asnap_scc_release(&scc);
	asnap_graph_destroy(g);
	el_release(&l);

	struct edge_list empty = {.n = 0};
	g = el_graph(&empty);
	ck_assert_int_eq(asnap_scc_compute(g, &scc, &err), 0);
	ck_assert_uint_eq(scc.ncomp, 0);
	asnap_scc_release(&scc);
	asnap_graph_destroy(g);
}
END_TEST

static Suite *scc_suite(void)
{
	Suite *s = suite_create("scc");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, scc_matches_igraph_on_random_graphs);
	tcase_add_test(tc, scc_of_million_long_chain_and_ring);
	tcase_add_test(tc, scc_self_loops_weak_edges_and_empty_graph);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
