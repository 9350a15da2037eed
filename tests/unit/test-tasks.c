/*
 * test-tasks.c - the task view behind `asyncsnap tasks` (analysis/tasks.c)
 * and the tables of `asyncsnap diff` (analysis/diff.c), on snapshots drawn
 * with heap.h: which tasks are orphaned, who holds each and through what,
 * the order they are shown in, and what grows between snapshots.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/diff.h"
#include "analysis/tasks.h"
#include "heap.h"

/*
 * A service holding n tasks twice, in a list (by index) and in a set, as
 * programs do. Each task runs coroutine `watch`, suspended on a future of
 * its own; the futures of the even tasks are also in a registry that can
 * resolve them, the odd ones in nothing else (orphaned awaits). Addresses
 * depend on the task's index only, so that the same task has the same
 * address (and name) in every snapshot.
 */
static void service(const char *path, uint32_t n)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mod = heap_node(&h, "builtins.dict", 0x1000, 1000);
	uint32_t svc = heap_node(&h, "__main__.Service", 0x2000, 56);
	uint32_t list = heap_node(&h, "builtins.list", 0x3000, 64 + 8 * (uint64_t)n);
	uint32_t set = heap_node(&h, "builtins.set", 0x4000, 64 + 16 * (uint64_t)n);
	uint32_t reg = heap_node(&h, "builtins.list", 0x5000, 64 + 8 * (uint64_t)n);
	heap_edge(&h, mod, svc, "service");
	heap_edge(&h, svc, list, "tasks");
	heap_edge(&h, svc, set, "watchers");
	heap_edge(&h, mod, reg, "registry");
	heap_root(&h, mod, "sys.modules");
	static char names[1024][16], index[1024][16];
	ck_assert_uint_le(n, 1024);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t base = 0x100000 + (uint64_t)i * 0x1000;
		uint32_t t = heap_node(&h, "_asyncio.Task", base, 200);
		uint32_t c = heap_node(&h, "builtins.coroutine", base + 0x200, 160);
		uint32_t f = heap_node(&h, "_asyncio.Future", base + 0x400, 120);
		snprintf(index[i], sizeof(index[i]), "[%u]", i);
		snprintf(names[i], sizeof(names[i]), "Task-%u", i + 1);
		heap_edge(&h, list, t, index[i]);
		heap_edge(&h, set, t, NULL);
		heap_edge(&h, t, c, "_coro");
		heap_edge(&h, t, f, "_fut_waiter");
		heap_edge(&h, c, f, "cr_await");
		if (i % 2 == 0)
			heap_edge(&h, reg, f, NULL);
		heap_rec(&h, t, "task");
		heap_str(&h, "state", "pending");
		heap_str(&h, "name", names[i]);
		heap_ref(&h, "coro", c);
		heap_ref(&h, "waiting_on", f);
		heap_rec(&h, c, "coroutine");
		heap_str(&h, "state", "suspended");
		heap_str(&h, "qualname", "Service.watch");
		heap_ref(&h, "awaiting", f);
		heap_rec(&h, f, "future");
		heap_str(&h, "state", "pending");
	}
	heap_write(&h, path, 7);
}

static struct asnap_snap *load(const char *path)
{
	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
	ck_assert_msg(s, "%s", err.message);
	return s;
}

START_TEST(orphaned_tasks_first_each_with_its_holders)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	/* 1000 references from one list and one set: more referrers and
	 * chains than the view's pools first hold, so they grow while tasks
	 * are filled */
	service(path, 1000);
	struct asnap_snap *s = load(path);
	struct asnap_error err = {0};
	struct asnap_task_view *v;
	uint32_t n;
	ck_assert_msg(asnap_tasks_view(s, true, &v, &n, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(n, 1000);
	uint32_t orphaned = 0;
	for (uint32_t i = 0; i < n; i++) {
		const char *name = asnap_graph_string(s->g, v[i].name);
		unsigned k = (unsigned)strtoul(name + 5, NULL, 10) - 1; /* Task-(k+1) */
		ck_assert_int_eq(v[i].orphaned, k % 2 == 1);
		ck_assert(v[i].blocked);
		ck_assert(!v[i].main);
		orphaned += v[i].orphaned;
		/* the orphaned come first: more suspicious */
		if (i > 0 && v[i].orphaned)
			ck_assert(v[i - 1].orphaned);
		/* held by the list at its index and by the set, both under the
		 * service's attributes */
		ck_assert_uint_eq(v[i].nrefs, 2);
		bool in_list = false, in_set = false;
		for (uint32_t r = 0; r < v[i].nrefs; r++) {
			const struct asnap_task_ref *ref = &v[i].refs[r];
			const char *type = asnap_graph_string(s->g, s->g->type[ref->node]);
			ck_assert_uint_ne(ref->holder, ASNAP_NO_NODE);
			const char *holder = asnap_graph_string(s->g, ref->holder_label);
			if (!strcmp(type, "builtins.set")) {
				in_set = true;
				ck_assert_uint_eq(ref->label, 0);
				ck_assert_str_eq(holder, "watchers");
			} else {
				char want[16];
				snprintf(want, sizeof(want), "[%u]", k);
				in_list = true;
				ck_assert_str_eq(asnap_graph_string(s->g, ref->label), want);
				ck_assert_str_eq(holder, "tasks");
			}
		}
		ck_assert(in_list && in_set);
		/* its own chain: its coroutine, then the future it waits on */
		ck_assert_uint_eq(v[i].chain_len, 2);
		ck_assert_uint_eq(v[i].chain[0], v[i].coro);
		ck_assert_uint_eq(v[i].chain[1], v[i].waiting_on);
		ck_assert_str_eq(asnap_graph_string(s->g, s->g->type[v[i].chain[1]]),
				 "_asyncio.Future");
	}
	ck_assert_uint_eq(orphaned, 500);
	asnap_tasks_free(v, n);
	asnap_snap_destroy(s);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(diff_tables_follow_what_grew)
{
	struct tmpdir d = tmpdir_create();
	const uint32_t sizes[3] = {10, 100, 300};
	struct asnap_snap *snaps[3];
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%d.snap", i);
		char *path = tmpdir_path(&d, name);
		service(path, sizes[i]);
		snaps[i] = load(path);
		free(path);
	}
	struct asnap_diff diff;
	struct asnap_error err = {0};
	ck_assert_msg(asnap_diff_compute(snaps, 3, &diff, &err) == 0, "%s", err.message);
	ck_assert(diff.same_process);
	const struct asnap_diff_row *task = NULL;
	for (uint32_t i = 0; i < diff.types.count; i++)
		if (!strcmp(diff.types.rows[i].key, "_asyncio.Task"))
			task = &diff.types.rows[i];
	ck_assert_ptr_nonnull(task);
	ck_assert_uint_eq(task->count[0], 10);
	ck_assert_uint_eq(task->count[2], 300);
	ck_assert_int_eq(task->dcount, 290);
	ck_assert_int_eq(task->dbytes, 290 * 200);
	/* by coroutine: Service.watch, pending in every snapshot for the ten
	 * tasks that were there from the first (same name, same address) */
	ck_assert_uint_ge(diff.pending.count, 1);
	ck_assert_str_eq(diff.pending.rows[0].key, "Service.watch");
	ck_assert_uint_eq(diff.pending.rows[0].count[2], 300);
	ck_assert_uint_eq(diff.pending.rows[0].persistent, 10);
	/* born after the first snapshot and kept: the 90 tasks of the second
	 * (with their coroutines and futures), under the list and the set */
	ck_assert(diff.has_born);
	ck_assert_uint_eq(diff.born_objects, 90 * 3);
	asnap_diff_release(&diff);
	for (int i = 0; i < 3; i++)
		asnap_snap_destroy(snaps[i]);
	tmpdir_destroy(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tasks");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, orphaned_tasks_first_each_with_its_holders);
	tcase_add_test(tc, diff_tables_follow_what_grew);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
