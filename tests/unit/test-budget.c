/*
 * test-budget.c - the memory budget (docs/ANALYZE.md "Memory budget"): what
 * is charged and estimated, refusals before allocating, and every charge
 * given back when what was loaded is freed.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "asyncsnap/format.h"
#include "graph/graph.h"
#include "testutil.h"

#define MiB ((uint64_t)1 << 20)

START_TEST(budget_format_prints_binary_units)
{
	char buf[32];
	ck_assert_str_eq(asnap_budget_format(0, buf, sizeof(buf)), "0 bytes");
	ck_assert_str_eq(asnap_budget_format(1023, buf, sizeof(buf)), "1023 bytes");
	ck_assert_str_eq(asnap_budget_format(1024, buf, sizeof(buf)), "1.0 KiB");
	ck_assert_str_eq(asnap_budget_format(512 * MiB, buf, sizeof(buf)), "512.0 MiB");
	ck_assert_str_eq(asnap_budget_format(3 * 512 * MiB, buf, sizeof(buf)), "1.5 GiB");
	ck_assert_str_eq(asnap_budget_format((4u << 30) - 1, buf, sizeof(buf)), "4.0 GiB");
	ck_assert_str_eq(asnap_budget_format(UINT64_MAX, buf, sizeof(buf)), "16.0 EiB");
}
END_TEST

START_TEST(budget_refuses_beyond_its_limit_and_charges_nothing_then)
{
	struct asnap_budget b = {.limit = 100 * MiB};
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_budget_charge(&b, 60 * MiB, &err), 0);
	ck_assert_int_eq(asnap_budget_charge(&b, 40 * MiB, &err), 0); /* exactly the limit */
	ck_assert_uint_eq(b.used, 100 * MiB);
	ck_assert_int_eq(asnap_budget_charge(&b, 1, &err), -1);
	ck_assert_int_eq(err.status, ASNAP_ERR_BUDGET);
	ck_assert_uint_eq(b.used, 100 * MiB);
	asnap_budget_credit(&b, 50 * MiB);
	ck_assert_uint_eq(b.used, 50 * MiB);
	asnap_budget_credit(&b, 80 * MiB); /* never below zero */
	ck_assert_uint_eq(b.used, 0);
	/* no limit, or no budget: anything goes */
	struct asnap_budget none = {0};
	ck_assert_int_eq(asnap_budget_charge(&none, UINT64_MAX / 2, NULL), 0);
	ck_assert_int_eq(asnap_budget_charge(NULL, UINT64_MAX, NULL), 0);
}
END_TEST

START_TEST(budget_estimate_extrapolates_what_grows_with_the_file)
{
	/* a tenth of the file read, 8 MiB of buffers and 92 MiB of data
	 * charged, 2 MiB more asked: the whole file would need the buffers
	 * and ten times the 93 MiB of data */
	struct asnap_budget b = {.limit = 100 * MiB, .file_size = 1000, .file_read = 100};
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_budget_charge_buffer(&b, 8 * MiB, &err), 0);
	ck_assert_int_eq(asnap_budget_charge(&b, 91 * MiB, &err), 0);
	ck_assert_int_eq(asnap_budget_charge(&b, 2 * MiB, &err), -1);
	ck_assert_str_eq(err.message,
			 "it needs about 938.0 MiB, more than the memory budget of 100.0 MiB");
	asnap_budget_credit_buffer(&b, 8 * MiB);
	ck_assert_uint_eq(b.buffers, 0);
	ck_assert_uint_eq(b.used, 91 * MiB);
	/* a count known in advance is not extrapolated */
	asnap_error_clear(&err);
	ck_assert_int_eq(asnap_budget_check(&b, 100 * MiB, &err), 0);
	ck_assert_int_eq(asnap_budget_check(&b, (uint64_t)9 << 30, &err), -1);
	ck_assert_str_eq(err.message, "it needs about 9.0 GiB, more than the memory budget of 100.0 MiB");
}
END_TEST

/* A snapshot of n nodes with `fanout` edges each and `big` strings of 64
 * KiB (distinct), optionally declaring its size in the header. */
static void write_graph(const char *path, uint32_t n, uint32_t fanout, uint32_t big,
			const char *header)
{
	struct asnap_error err = {0};
	struct asnap_writer_options opts = {.no_fsync = true};
	struct asnap_writer *w = asnap_writer_create(path, &opts, &err);
	ck_assert_msg(w, "%s", err.message);
	const char *h = header ? header : "{\"producer\":\"test-budget\"}";
	ck_assert_int_eq(asnap_writer_header(w, h, strlen(h)), 0);
	uint32_t type = asnap_writer_intern_cstr(w, "builtins.object");
	uint32_t label = asnap_writer_intern_cstr(w, "attr");
	char *s = malloc(64 << 10);
	for (uint32_t i = 0; i < big; i++) {
		memset(s, 'a' + (int)(i % 26), 64 << 10);
		snprintf(s, 16, "%u", i);
		asnap_writer_intern(w, s, 64 << 10);
	}
	free(s);
	struct asnap_edge *e = calloc(fanout ? fanout : 1, sizeof(*e));
	uint32_t x = 12345; /* random-looking targets and sizes: a file that
			      * does not compress to nothing */
	for (uint32_t v = 0; v < n; v++) {
		for (uint32_t k = 0; k < fanout; k++) {
			x = x * 1103515245u + 12345u;
			e[k] = (struct asnap_edge){(x >> 8) % n, label, ASNAP_EDGE_STRONG};
		}
		x = x * 1103515245u + 12345u;
		struct asnap_node node = {.id = v, .type = type, .addr = 0x1000 + 16 * (uint64_t)v,
					  .size = 16 + (x >> 24), .refcnt = 1,
					  .flags = ASNAP_NODE_GC_TRACKED,
					  .nedges = fanout, .edges = e};
		ck_loop_int_eq(asnap_writer_node(w, &node), 0);
	}
	free(e);
	struct asnap_root root = {0, type, 0};
	ck_assert_int_eq(asnap_writer_root(w, &root), 0);
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), 0);
	asnap_writer_destroy(w);
}

static void reset_budget(uint64_t limit, uint32_t node_work, uint32_t edge_work)
{
	asnap_graph_budget = (struct asnap_graph_budget){
		.meter = {.limit = limit}, .node_work = node_work, .edge_work = edge_work};
}

START_TEST(reader_charges_its_string_table_and_gives_it_back)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "strings.snap");
	write_graph(path, 10, 1, 256, NULL); /* 16 MiB of strings */
	struct asnap_error err = {0};

	struct asnap_budget small = {.limit = 8 * MiB};
	struct asnap_reader *r = asnap_reader_open(path, &err);
	ck_assert_ptr_nonnull(r);
	asnap_reader_set_budget(r, &small);
	struct asnap_item it;
	int rc;
	while ((rc = asnap_reader_next(r, &it, &err)) == 1)
		;
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(err.status, ASNAP_ERR_BUDGET);
	ck_assert_msg(strstr(err.message, "more than the memory budget of 8.0 MiB"), "%s",
		      err.message);
	ck_assert_uint_le(small.used, small.limit);
	asnap_reader_destroy(r);
	ck_assert_uint_eq(small.used, 0);
	ck_assert_uint_eq(small.buffers, 0);

	struct asnap_budget ample = {.limit = 64 * MiB};
	asnap_error_clear(&err);
	r = asnap_reader_open(path, &err);
	asnap_reader_set_budget(r, &ample);
	while ((rc = asnap_reader_next(r, &it, &err)) == 1)
		;
	ck_assert_msg(rc == 0, "%s", err.message);
	ck_assert_uint_ge(ample.used, 16 * MiB);
	ck_assert_uint_le(ample.used, 24 * MiB);
	ck_assert_uint_gt(ample.buffers, 0);
	/* trimmed: the decoding buffers are given back, the strings stay
	 * charged and readable, and the reader stays at its end */
	uint32_t nstrings = asnap_reader_string_count(r);
	size_t len0 = 0;
	const char *s0 = asnap_reader_string(r, nstrings, &len0);
	ck_assert_ptr_nonnull(s0);
	char *copy = strdup(s0);
	uint64_t before = ample.used, buffers = ample.buffers;
	asnap_reader_trim(r);
	ck_assert_uint_eq(ample.buffers, 0);
	ck_assert_uint_eq(ample.used, before - buffers);
	ck_assert_uint_ge(ample.used, 16 * MiB);
	size_t len1 = 0;
	ck_assert_str_eq(asnap_reader_string(r, nstrings, &len1), copy);
	ck_assert_uint_eq(len1, len0);
	ck_assert_int_eq(asnap_reader_next(r, &it, &err), 0);
	asnap_reader_trim(r); /* twice: nothing more to give back */
	ck_assert_uint_eq(ample.used, before - buffers);
	struct asnap_reader *again = asnap_reader_reopen(r, &err);
	ck_assert_msg(again, "%s", err.message);
	asnap_reader_destroy(again);
	free(copy);
	asnap_reader_destroy(r);
	ck_assert_uint_eq(ample.used, 0);

	/* before its end, trimming does nothing: the reader reads on */
	asnap_error_clear(&err);
	r = asnap_reader_open(path, &err);
	ck_assert_int_eq(asnap_reader_next(r, &it, &err), 1);
	asnap_reader_trim(r);
	while ((rc = asnap_reader_next(r, &it, &err)) == 1)
		;
	ck_assert_msg(rc == 0, "%s", err.message);
	asnap_reader_destroy(r);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(graph_estimate_counts_columns_and_work)
{
	reset_budget(0, 0, 0);
	/* edge offset 4, addr 8, type 4, size 4, refcnt 4, flags 1 a node;
	 * target 4, label 4 and a weak bit an edge */
	ck_assert_uint_eq(asnap_graph_estimate(1000, 8000, ASNAP_COL_ALL),
			  1000 * 25 + 8000 * 8 + 1000 + 1);
	ck_assert_uint_eq(asnap_graph_estimate(1000, 8000, ASNAP_COL_SIZE),
			  1000 * 8 + 8000 * 4 + 1000 + 1);
	reset_budget(0, ASNAP_WORK_RETENTION_NODE, ASNAP_WORK_RETENTION_EDGE);
	ck_assert_uint_eq(asnap_graph_estimate(1000, 8000, ASNAP_COL_ALL),
			  1000 * (25 + ASNAP_WORK_RETENTION_NODE) +
				  8000 * (8 + ASNAP_WORK_RETENTION_EDGE) + 1000 + 1);
	reset_budget(0, 0, 0);
}
END_TEST

START_TEST(graph_load_charges_about_its_estimate_and_refuses_beyond_the_budget)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "graph.snap");
	const uint32_t n = 200000, fanout = 4;
	write_graph(path, n, fanout, 0, NULL);
	uint64_t need = asnap_graph_estimate(n, (uint64_t)n * fanout, ASNAP_COL_ALL);
	struct asnap_error err = {0};

	/* ample: loads, charges the estimate plus the reader's buffers and
	 * strings, and gives all of it back */
	reset_budget(1u << 30, 0, 0);
	struct asnap_graph *g = asnap_graph_load(path, &err);
	ck_assert_msg(g, "%s", err.message);
	uint64_t used = asnap_graph_budget.meter.used;
	ck_assert_uint_ge(used, need);
	ck_assert_uint_le(used, need + 8 * MiB);
	asnap_graph_destroy(g);
	ck_assert_uint_eq(asnap_graph_budget.meter.used, 0);
	ck_assert_uint_eq(asnap_graph_budget.meter.buffers, 0);

	/* three quarters of it: refused, with about what it needs */
	reset_budget(need * 3 / 4, 0, 0);
	g = asnap_graph_load(path, &err);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(err.status, ASNAP_ERR_BUDGET);
	ck_assert_msg(strstr(err.message, "it needs about "), "%s", err.message);
	ck_assert_uint_eq(asnap_graph_budget.meter.used, 0);

	/* the analyses' work counts too */
	reset_budget(need + 8 * MiB, ASNAP_WORK_RETENTION_NODE, ASNAP_WORK_RETENTION_EDGE);
	asnap_error_clear(&err);
	g = asnap_graph_load(path, &err);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(err.status, ASNAP_ERR_BUDGET);

	/* two passes: the second charges its columns, release gives them back */
	reset_budget(1u << 30, 0, 0);
	asnap_error_clear(&err);
	g = asnap_graph_load_columns(path, ASNAP_COL_SIZE, &err);
	ck_assert_msg(g, "%s", err.message);
	uint64_t first = asnap_graph_budget.meter.used;
	ck_assert_int_eq(asnap_graph_load_more(g, ASNAP_COL_ALL, &err), 0);
	ck_assert_uint_ge(asnap_graph_budget.meter.used, first + (uint64_t)n * 13 + (uint64_t)n * fanout * 4);
	asnap_graph_release_columns(g, ASNAP_COL_LABEL | ASNAP_COL_ADDR);
	asnap_graph_destroy(g);
	ck_assert_uint_eq(asnap_graph_budget.meter.used, 0);
	reset_budget(0, 0, 0);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(graph_load_refuses_a_declared_size_over_the_budget_before_reading_it)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "declared.snap");
	/* a header that declares 20 objects a byte of file: still plausible
	 * (under 64), and far more than the file holds or the budget allows */
	write_graph(path, 200000, 2, 0, NULL);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	uint64_t objects = 20 * (uint64_t)st.st_size;
	char header[96];
	snprintf(header, sizeof(header), "{\"objects\":%llu}", (unsigned long long)objects);
	write_graph(path, 200000, 2, 0, header);
	uint64_t need = asnap_graph_estimate(objects, objects * 4, ASNAP_COL_ALL);
	ck_assert_uint_gt(need, 16 * MiB);

	struct asnap_error err = {0};
	reset_budget(16 * MiB, 0, 0);
	struct asnap_graph *g = asnap_graph_load(path, &err);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(err.status, ASNAP_ERR_BUDGET);
	/* the estimate of what the header declares (four edges an object),
	 * plus the little charged before: the header and the reader's buffers */
	double got;
	char unit[8];
	ck_assert_int_eq(sscanf(err.message, "it needs about %lf %3s", &got, unit), 2);
	double scale = strcmp(unit, "GiB") == 0 ? 1024.0 * MiB : (double)MiB;
	ck_assert_msg(got * scale >= (double)need - 0.1 * scale &&
			      got * scale <= (double)need + 2.0 * MiB,
		      "%s (estimate %llu)", err.message, (unsigned long long)need);
	ck_assert_msg(strstr(err.message, ", more than the memory budget of 16.0 MiB"), "%s",
		      err.message);
	ck_assert_uint_eq(asnap_graph_budget.meter.used, 0);

	/* the file itself fits: under a budget the claim fits too, it loads */
	reset_budget(need + 64 * MiB, 0, 0);
	asnap_error_clear(&err);
	g = asnap_graph_load(path, &err);
	ck_assert_msg(g, "%s", err.message);
	ck_assert_uint_eq(g->n, 200000);
	asnap_graph_destroy(g);
	reset_budget(0, 0, 0);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

/* A list of n items (node 0 -> nodes 1..n, format 2 index labels) and an
 * attribute edge (node 1 -> node 0, "attr"). */
static void write_list(const char *path, uint32_t n)
{
	struct asnap_writer *w = test_writer(path, "{}");
	uint32_t t = asnap_writer_intern_cstr(w, "builtins.list");
	struct asnap_edge *e = malloc(n * sizeof(*e));
	for (uint32_t i = 0; i < n; i++)
		e[i] = (struct asnap_edge){1 + i, i, ASNAP_EDGE_STRONG | ASNAP_EDGE_INDEX};
	struct asnap_node node = {.id = 0, .type = t, .nedges = n, .edges = e};
	ck_assert_int_eq(asnap_writer_node(w, &node), 0);
	struct asnap_edge back = {0, asnap_writer_intern_cstr(w, "attr"), ASNAP_EDGE_WEAK};
	for (uint32_t i = 1; i <= n; i++) {
		node = (struct asnap_node){.id = i, .type = t, .nedges = i == 1, .edges = &back};
		ck_loop_int_eq(asnap_writer_node(w, &node), 0);
	}
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), 0);
	asnap_writer_destroy(w);
	free(e);
}

static void check_list_labels(const struct asnap_graph *g, uint32_t n)
{
	ck_assert_uint_eq(asnap_graph_edge_end(g, 0) - asnap_graph_edge_begin(g, 0), n);
	char want[16];
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = asnap_graph_edge_begin(g, 0) + i;
		snprintf(want, sizeof(want), "[%u]", i);
		ck_loop_str_eq(asnap_graph_string(g, g->edge_label[e]), want);
		ck_loop(!asnap_graph_edge_is_weak(g, e));
	}
	uint64_t e = asnap_graph_edge_begin(g, 1);
	ck_assert_str_eq(asnap_graph_string(g, g->edge_label[e]), "attr");
	ck_assert(asnap_graph_edge_is_weak(g, e));
	ck_assert_uint_eq(asnap_graph_find_string(g, "[12345]"), g->edge_label[12345]);
	/* searches for names pass over the index strings, defined last */
	ck_assert_uint_eq(asnap_graph_named_strings(g), g->edge_label[0] - 1);
	ck_assert_uint_eq(asnap_graph_find_string(g, "attr"), g->edge_label[e]);
}

/* Format 2 index labels become the strings "[i]" whether the labels are
 * loaded with the graph or after it; their strings are charged, and given
 * back. */
START_TEST(graph_names_index_labels_and_charges_their_strings)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "list.snap");
	enum { N = 200000 };
	write_list(path, N);
	struct asnap_error err = {0};
	struct asnap_budget *meter = &asnap_graph_budget.meter;
	uint64_t before = meter->used;

	struct asnap_graph *g = asnap_graph_load(path, &err);
	ck_assert_msg(g, "%s", err.message);
	check_list_labels(g, N);
	/* the strings "[0]".."[199999]": 1.4 MB of text, 1.6 MB of offsets */
	ck_assert_uint_ge(meter->used - before, 3 * MiB);
	asnap_graph_destroy(g);
	ck_assert_uint_eq(meter->used, before);

	g = asnap_graph_load_columns(path, ASNAP_COL_ALL & ~ASNAP_COL_LABEL, &err);
	ck_assert_msg(g, "%s", err.message);
	ck_assert_ptr_null(g->edge_label);
	ck_assert_int_eq(asnap_graph_load_more(g, ASNAP_COL_LABEL, &err), 0);
	check_list_labels(g, N);
	asnap_graph_destroy(g);
	ck_assert_uint_eq(meter->used, before);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

static Suite *budget_suite(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("budget");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, budget_format_prints_binary_units);
	tcase_add_test(tc, budget_refuses_beyond_its_limit_and_charges_nothing_then);
	tcase_add_test(tc, budget_estimate_extrapolates_what_grows_with_the_file);
	tcase_add_test(tc, reader_charges_its_string_table_and_gives_it_back);
	tcase_add_test(tc, graph_estimate_counts_columns_and_work);
	tcase_add_test(tc, graph_load_charges_about_its_estimate_and_refuses_beyond_the_budget);
	tcase_add_test(tc, graph_load_refuses_a_declared_size_over_the_budget_before_reading_it);
	tcase_add_test(tc, graph_names_index_labels_and_charges_their_strings);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(budget_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
