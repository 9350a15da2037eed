/*
 * test-checks.c - the leak checks and their building blocks on small
 * snapshots written with the format library: orphaned awaits, unawaited
 * coroutines, resource rules, and the string map.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks.h"
#include "analysis/rules.h"
#include "analysis/strings.h"
#include "analysis/tasks.h"
#include "testutil.h"

/* A tiny heap:
 *   0 dict (root sys.modules) -svc-> 1 Service -watchers-> 2 set -> 3 Task
 *   3 Task -_coro-> 4 coroutine watch, -_fut_waiter-> 5 Future
 *   4 -done-> 5, -cr_await-> 5;   5 Future -_callback0-> 6 method -> 3
 *   1 -backlog-> 7 list -[0]-> 8 coroutine audit (created)
 *   with `resolver`: 0 -registry-> 9 Registry -pending-> 5
 *   1 -conn-> 10 Conn (attrs _closed=false) -_size-> 11 int (no value:
 *   the snapshot was taken without values=True) */
enum { NODES = 12 };

struct edge_spec {
	uint32_t from, to;
	const char *label;
};

static void write_heap(const char *path, bool resolver)
{
	struct asnap_writer *w = test_writer(path, "{\"producer\":\"test\",\"pid\":7,\"process_start\":1.5}");
	static const char *const types[NODES] = {
		"builtins.dict", "__main__.Service", "builtins.set", "_asyncio.Task",
		"builtins.coroutine", "_asyncio.Future", "builtins.builtin_function_or_method",
		"builtins.list", "builtins.coroutine", "__main__.Registry", "__main__.Conn",
		"builtins.int",
	};
	struct edge_spec edges[] = {
		{0, 1, "svc"}, {1, 2, "watchers"}, {2, 3, NULL}, {3, 4, "_coro"},
		{3, 5, "_fut_waiter"}, {4, 5, "done"}, {4, 5, "cr_await"}, {5, 6, "_callback0"},
		{6, 3, NULL}, {1, 7, "backlog"}, {7, 8, "[0]"}, {1, 10, "conn"},
		{10, 11, "_size"}, {0, 9, "registry"}, {9, 5, "pending"},
	};
	size_t nedges = sizeof(edges) / sizeof(edges[0]) - (resolver ? 0 : 2);
	uint32_t indeg[NODES] = {0};
	for (size_t i = 0; i < nedges; i++)
		indeg[edges[i].to]++;
	for (uint32_t v = 0; v < NODES; v++) {
		struct asnap_edge out[8];
		uint32_t n = 0;
		for (size_t i = 0; i < nedges; i++)
			if (edges[i].from == v)
				out[n++] = (struct asnap_edge){edges[i].to,
							       edges[i].label ? asnap_writer_intern_cstr(
										w, edges[i].label)
									      : 0,
							       ASNAP_EDGE_STRONG};
		struct asnap_node node = {
			.id = v, .type = asnap_writer_intern_cstr(w, types[v]),
			.addr = 0x7f0000001000ull + v * 0x100, .size = 100 + v,
			.refcnt = v == 0 ? 1 : indeg[v], .flags = ASNAP_NODE_GC_TRACKED,
			.nedges = n, .edges = out,
		};
		ck_assert_int_eq(asnap_writer_node(w, &node), 0);
	}
	uint32_t k_state = asnap_writer_intern_cstr(w, "state");
	uint32_t pending = asnap_writer_intern_cstr(w, "pending");
	struct asnap_prop task[] = {
		{k_state, {.type = ASNAP_VAL_STR, .u.str = pending}},
		{asnap_writer_intern_cstr(w, "name"),
		 {.type = ASNAP_VAL_STR, .u.str = asnap_writer_intern_cstr(w, "watch-1")}},
		{asnap_writer_intern_cstr(w, "coro"), {.type = ASNAP_VAL_NODE, .u.node = 4}},
		{asnap_writer_intern_cstr(w, "waiting_on"), {.type = ASNAP_VAL_NODE, .u.node = 5}},
	};
	struct asnap_prop coro[] = {
		{k_state, {.type = ASNAP_VAL_STR, .u.str = asnap_writer_intern_cstr(w, "suspended")}},
		{asnap_writer_intern_cstr(w, "qualname"),
		 {.type = ASNAP_VAL_STR, .u.str = asnap_writer_intern_cstr(w, "watch")}},
		{asnap_writer_intern_cstr(w, "awaiting"), {.type = ASNAP_VAL_NODE, .u.node = 5}},
	};
	struct asnap_prop audit[] = {
		{k_state, {.type = ASNAP_VAL_STR, .u.str = asnap_writer_intern_cstr(w, "created")}},
		{asnap_writer_intern_cstr(w, "qualname"),
		 {.type = ASNAP_VAL_STR, .u.str = asnap_writer_intern_cstr(w, "audit")}},
	};
	struct asnap_prop fut[] = {{k_state, {.type = ASNAP_VAL_STR, .u.str = pending}}};
	struct asnap_prop attrs[] = {
		{asnap_writer_intern_cstr(w, "_closed"), {.type = ASNAP_VAL_BOOL, .u.b = false}},
	};
	struct asnap_record recs[] = {
		{3, asnap_writer_intern_cstr(w, "task"), 4, task},
		{4, asnap_writer_intern_cstr(w, "coroutine"), 3, coro},
		{8, asnap_writer_intern_cstr(w, "coroutine"), 2, audit},
		{5, asnap_writer_intern_cstr(w, "future"), 1, fut},
		{10, asnap_writer_intern_cstr(w, "attrs"), 1, attrs},
	};
	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
		ck_assert_int_eq(asnap_writer_record(w, &recs[i]), 0);
	struct asnap_root root = {0, asnap_writer_intern_cstr(w, "sys.modules"), 0};
	ck_assert_int_eq(asnap_writer_root(w, &root), 0);
	test_commit(w);
}

static const struct asnap_finding *find(const struct asnap_findings *f, int check)
{
	for (uint32_t i = 0; i < f->count; i++)
		if (f->items[i].check == check)
			return &f->items[i];
	return NULL;
}

static void run_checks(const char *path, const struct asnap_rules *rules,
		       struct asnap_findings *out)
{
	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
	ck_assert_msg(s, "%s", err.message);
	struct asnap_checks_options opt = {.mask = ASNAP_CHECKS_ALL, .rules = rules};
	ck_assert_msg(asnap_checks_run(&s, 1, &opt, out, &err) == 0, "%s", err.message);
	/* findings borrow nothing from the snapshot but node ids */
	asnap_snap_destroy(s);
}

START_TEST(pending_task_reported_when_future_unreachable)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	write_heap(path, false);
	struct asnap_findings f;
	run_checks(path, NULL, &f);
	const struct asnap_finding *x = find(&f, ASNAP_CHECK_PENDING_TASK);
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->group, "watch");
	ck_assert_uint_eq(x->count, 1);
	ck_assert_uint_eq(x->certain, 1);
	ck_assert_uint_eq(x->objects[0].node, 3);
	ck_assert_uint_gt(x->path_len, 1);
	ck_assert_uint_eq(x->path[0], 0);
	ck_assert_uint_eq(x->path[x->path_len - 1], 3);
	asnap_findings_release(&f);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(pending_task_not_reported_when_something_holds_the_future)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "b.snap");
	write_heap(path, true);
	struct asnap_findings f;
	run_checks(path, NULL, &f);
	ck_assert_ptr_null(find(&f, ASNAP_CHECK_PENDING_TASK));
	/* one snapshot: no growth, so nothing about the future either */
	ck_assert_ptr_null(find(&f, ASNAP_CHECK_PENDING_FUTURE));
	asnap_findings_release(&f);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(unawaited_coroutine_in_a_list_is_reported)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "c.snap");
	write_heap(path, true);
	struct asnap_findings f;
	run_checks(path, NULL, &f);
	const struct asnap_finding *x = find(&f, ASNAP_CHECK_UNAWAITED_COROUTINE);
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(x->group, "audit");
	ck_assert_uint_eq(x->objects[0].node, 8);
	asnap_findings_release(&f);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(rules_file_errors_name_the_rule)
{
	struct asnap_rules r;
	struct asnap_error err = {0};
	asnap_rules_init(&r);
	ck_assert_int_eq(asnap_rules_add_json(&r, asnap_builtin_rules, &err), 0);
	ck_assert_uint_ge(r.count, 5);
	static const char *const bad[] = {
		"nope", "[]", "{\"rules\": 3}", "{\"rules\": [{\"open_when\": {}}]}",
		"{\"rules\": [{\"type\": \"x\"}]}",
		"{\"rules\": [{\"type\": \"x\", \"open_when\": {\"attr\": \"a\"}}]}",
		"{\"rules\": [{\"type\": \"x\", \"open_when\": {\"attr\": \"a\", \"equals\": \"s\"}}]}",
		"{\"rules\": [{\"type\": \"x\", \"open_when\": {\"all\": []}}]}",
		"{\"rules\": [{\"type\": \"x\", \"open_when\": {\"attr\": \"a\", \"not\": null}, "
		"\"idle_in\": {\"type\": \"P\"}}]}",
		"{\"rules\": [{\"type\": \"x\", \"open_when\": {\"attr\": \"a\", \"not\": null}, "
		"\"idle_in\": \"P._idle\"}]}",
		"{}", "{\"pools\": 3}", "{\"pools\": [{\"holds\": [\"_c\"]}]}",
		"{\"pools\": [{\"type\": \"P\"}]}", "{\"pools\": [{\"type\": \"P\", \"holds\": []}]}",
		"{\"pools\": [{\"type\": \"P\", \"holds\": [\"\"]}]}",
		"{\"pools\": [{\"type\": \"P\", \"holds\": \"_c\"}]}",
		"{\"registries\": {}}", "{\"registries\": [{\"holds\": \"_h\"}]}",
		"{\"registries\": [{\"type\": \"E\"}]}",
		"{\"registries\": [{\"type\": \"E\", \"holds\": [\"_h\"]}]}",
		"{\"registries\": [{\"type\": \"E\", \"holds\": \"\"}]}",
		"{\"registries\": [{\"type\": \"E\", \"holds\": \"_h\", \"what\": 3}]}",
		"{\"registries\": [{\"type\": \"E\", \"holds\": \"_h\", \"fix\": null}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = (struct asnap_error){0};
		ck_assert_msg(asnap_rules_add_json(&r, bad[i], &err) < 0, "%s", bad[i]);
		ck_assert_msg(err.message[0], "no message for %s", bad[i]);
	}
	err = (struct asnap_error){0};
	asnap_rules_add_json(&r, "{\"rules\": [{\"type\": \"x\", \"open_when\": {\"attr\": \"a\", "
				 "\"not\": \"s\"}}]}", &err);
	ck_assert_ptr_nonnull(strstr(err.message, "rule 1"));
	err = (struct asnap_error){0};
	asnap_rules_add_json(&r, "{\"pools\": [{\"type\": \"P\", \"holds\": [\"a\"]}, "
				 "{\"type\": \"Q\", \"holds\": [3]}]}", &err);
	ck_assert_str_eq(err.message, "pool 2 (Q): \"holds\" must be a list of attribute names");
	/* pools alone are a rules file; one for a type already there replaces it */
	uint32_t npools = r.npools;
	ck_assert_int_eq(asnap_rules_add_json(&r, "{\"pools\": [{\"type\": \"mylib.Pool\", "
						  "\"holds\": [\"_a\", \"_b\"]}]}", &err), 0);
	ck_assert_int_eq(asnap_rules_add_json(&r, "{\"pools\": [{\"type\": \"mylib.Pool\", "
						  "\"holds\": [\"_c\"]}]}", &err), 0);
	ck_assert_uint_eq(r.npools, npools + 1);
	ck_assert_uint_eq(r.pools[r.npools - 1].nholds, 1);
	ck_assert_str_eq(r.names[r.pools[r.npools - 1].holds[0]], "_c");
	/* registries alone too; one for a type and attribute already there
	 * replaces it, another attribute of that type is one more */
	err = (struct asnap_error){0};
	asnap_rules_add_json(&r, "{\"registries\": [{\"type\": \"E\", \"holds\": \"_a\"}, "
				 "{\"type\": \"F\"}]}", &err);
	ck_assert_str_eq(err.message, "registry 2 (F): \"holds\" must be an attribute name");
	uint32_t nreg = r.nregistries;
	ck_assert_int_eq(asnap_rules_add_json(&r, "{\"registries\": [{\"type\": \"mylib.Bus\", "
						  "\"holds\": \"_on\", \"what\": \"handlers\"}]}", &err), 0);
	ck_assert_int_eq(asnap_rules_add_json(&r, "{\"registries\": [{\"type\": \"mylib.Bus\", "
						  "\"holds\": \"_on\", \"fix\": \"bus.off(h)\"}, "
						  "{\"type\": \"mylib.Bus\", \"holds\": \"_once\"}]}", &err), 0);
	ck_assert_uint_eq(r.nregistries, nreg + 2);
	const struct asnap_registry_rule *reg = &r.registries[nreg];
	ck_assert_str_eq(r.names[reg->type], "mylib.Bus");
	ck_assert_str_eq(r.names[reg->holds], "_on");
	ck_assert_ptr_null(reg->what);
	ck_assert_str_eq(reg->fix, "bus.off(h)");
	asnap_rules_release(&r);
	asnap_rules_release(NULL);
}
END_TEST

START_TEST(rules_file_resource_is_found_from_attrs)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "d.snap");
	write_heap(path, true);
	struct asnap_rules r;
	struct asnap_error err = {0};
	asnap_rules_init(&r);
	ck_assert_int_eq(asnap_rules_add_json(&r, "{\"rules\": [{\"type\": \"__main__.Conn\", "
						  "\"open_when\": {\"any\": [{\"attr\": \"_closed\", "
						  "\"equals\": false}, {\"attr\": \"missing\", "
						  "\"not\": null}]}, \"fix\": \"conn.close()\"}]}",
						  &err), 0);
	struct asnap_snap *s = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
	ck_assert_msg(s, "%s", err.message);
	struct asnap_rules_bound b;
	ck_assert_int_eq(asnap_rules_bind(&r, s->g, &b, &err), 0);
	const struct asnap_rule *rule = asnap_rules_for(&b, s->g, 10);
	ck_assert_ptr_nonnull(rule);
	ck_assert(asnap_rules_open(&b, rule, &s->aio, 10));
	ck_assert_ptr_null(asnap_rules_for(&b, s->g, 9));
	asnap_rules_unbind(&b);
	asnap_snap_destroy(s);
	asnap_rules_release(&r);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

/* Whether Conn (node 10) is open under a rule with condition `cond`. */
static bool conn_open_when(const char *path, const char *cond)
{
	char json[512];
	snprintf(json, sizeof(json),
		 "{\"rules\": [{\"type\": \"__main__.Conn\", \"open_when\": %s}]}", cond);
	struct asnap_rules r;
	struct asnap_error err = {0};
	asnap_rules_init(&r);
	ck_assert_msg(asnap_rules_add_json(&r, json, &err) == 0, "%s", err.message);
	struct asnap_snap *s = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
	ck_assert_msg(s, "%s", err.message);
	struct asnap_rules_bound b;
	ck_assert_int_eq(asnap_rules_bind(&r, s->g, &b, &err), 0);
	bool open = asnap_rules_open(&b, asnap_rules_for(&b, s->g, 10), &s->aio, 10);
	asnap_rules_unbind(&b);
	asnap_snap_destroy(s);
	asnap_rules_release(&r);
	return open;
}

START_TEST(rules_number_without_value_matches_no_number)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "d.snap");
	write_heap(path, true);
	/* _size is an int whose value the snapshot left out: compared with
	 * a number the condition is unknown, so false either way */
	ck_assert(!conn_open_when(path, "{\"attr\": \"_size\", \"equals\": 0}"));
	ck_assert(!conn_open_when(path, "{\"attr\": \"_size\", \"not\": 0}"));
	ck_assert(!conn_open_when(path, "{\"attr\": \"_size\", \"not\": 2.5}"));
	/* but it is known to be neither None nor a boolean */
	ck_assert(conn_open_when(path, "{\"attr\": \"_size\", \"not\": null}"));
	ck_assert(!conn_open_when(path, "{\"attr\": \"_size\", \"equals\": null}"));
	ck_assert(!conn_open_when(path, "{\"attr\": \"_size\", \"equals\": false}"));
	ck_assert(conn_open_when(path, "{\"attr\": \"_closed\", \"equals\": false}"));
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(strmap_interns_and_finds)
{
	struct asnap_strmap m;
	asnap_strmap_init(&m);
	char buf[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "key-%d", i);
		ck_assert_uint_eq(asnap_strmap_intern(&m, buf, strlen(buf)), (uint32_t)i);
	}
	ck_assert_uint_eq(asnap_strmap_intern(&m, "key-7", 5), 7);
	ck_assert_uint_eq(asnap_strmap_find(&m, "key-999", 7), 999);
	ck_assert_uint_eq(asnap_strmap_find(&m, "key-1000", 8), UINT32_MAX);
	ck_assert_uint_eq(asnap_strmap_find(&m, "key-1", 3), UINT32_MAX);
	asnap_strmap_finish(&m);
}
END_TEST

START_TEST(check_names_round_trip)
{
	/* every entry of the table is set, and says what it finds and how
	 * to fix it */
	for (int c = 0; c < ASNAP_NCHECKS; c++) {
		const char *n = asnap_check_name(c);
		ck_assert_str_ne(n, "?");
		ck_assert_int_eq(asnap_check_by_name(n, strlen(n)), c);
		ck_assert_int_gt((int)strlen(asnap_check_what(c)), 10);
		ck_assert_int_gt((int)strlen(asnap_check_advice(c)), 20);
	}
	ck_assert_str_eq(asnap_check_name(ASNAP_CHECK_FRAME_CYCLE), "frame-cycle");
	ck_assert_str_eq(asnap_check_name(ASNAP_CHECK_UNAWAITED_COROUTINE), "unawaited-coroutine");
	ck_assert_int_eq(asnap_check_by_name("pending", 7), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checks");
	TCase *tc = tcase_create("checks");
	tcase_add_test(tc, pending_task_reported_when_future_unreachable);
	tcase_add_test(tc, pending_task_not_reported_when_something_holds_the_future);
	tcase_add_test(tc, unawaited_coroutine_in_a_list_is_reported);
	tcase_add_test(tc, rules_file_errors_name_the_rule);
	tcase_add_test(tc, rules_file_resource_is_found_from_attrs);
	tcase_add_test(tc, rules_number_without_value_matches_no_number);
	tcase_add_test(tc, strmap_interns_and_finds);
	tcase_add_test(tc, check_names_round_trip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
