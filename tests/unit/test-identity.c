/*
 * test-identity.c - telling objects apart across snapshots: an address
 * reused by a new object is not a survivor, and growth means survivors
 * that were born and kept, not a count that wobbles.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis/checks.h"
#include "heap.h"

/*
 * Snapshot k of a service: `count` requests in flight, each a task
 * awaiting a future held in a registry (the loop would resolve them). Slot
 * i sits at the same addresses in every snapshot; the first `keep` slots
 * hold the same requests throughout (task Task-<1+i>), the others a new
 * request each time (task Task-<fresh+i>).
 */
static void write_service(const char *path, uint32_t count, uint32_t keep, uint32_t fresh)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t reg = heap_node(&h, "builtins.list", 0x10100, 64);
	uint32_t tasks = heap_node(&h, "builtins.set", 0x10200, 64);
	heap_edge(&h, mods, reg, "registry");
	heap_edge(&h, mods, tasks, "tasks");
	heap_root(&h, mods, "sys.modules");
	static char names[64][32];
	for (uint32_t i = 0; i < count; i++) {
		uint64_t base = 0x7f0000000000ull + i * 0x1000;
		uint32_t t = heap_node(&h, "_asyncio.Task", base, 200);
		uint32_t c = heap_node(&h, "builtins.coroutine", base + 0x200, 150);
		uint32_t f = heap_node(&h, "_asyncio.Future", base + 0x400, 100);
		heap_edge(&h, tasks, t, NULL);
		heap_edge(&h, reg, f, NULL);
		heap_edge(&h, t, c, "_coro");
		heap_edge(&h, t, f, "_fut_waiter");
		heap_edge(&h, c, f, "cr_await");
		snprintf(names[i], sizeof(names[i]), "Task-%u", (i < keep ? 1 : fresh) + i);
		heap_rec(&h, t, "task");
		heap_str(&h, "state", "pending");
		heap_str(&h, "name", names[i]);
		heap_ref(&h, "coro", c);
		heap_ref(&h, "waiting_on", f);
		heap_rec(&h, c, "coroutine");
		heap_str(&h, "state", "suspended");
		heap_str(&h, "qualname", "Handler.wait");
		heap_ref(&h, "awaiting", f);
		heap_rec(&h, f, "future");
		heap_str(&h, "state", "pending");
	}
	heap_write(&h, path, 7);
}

static const uint32_t FUTURES = 1u << ASNAP_CHECK_PENDING_FUTURE | 1u << ASNAP_CHECK_PENDING_TASK;

/* Three snapshots of the service - count[i] requests, the first `keep` the
 * same throughout, the others new (task names from fresh[i]) - and the
 * findings of the pending-task and pending-future checks on them. */
static struct asnap_findings service_findings(const uint32_t count[3], uint32_t keep,
					      const uint32_t fresh[3])
{
	struct tmpdir d = tmpdir_create();
	char *p[3] = {tmpdir_path(&d, "a"), tmpdir_path(&d, "b"), tmpdir_path(&d, "c")};
	struct asnap_error err = {0};
	struct asnap_snap *s[3];
	for (int i = 0; i < 3; i++) {
		write_service(p[i], count[i], keep, fresh[i]);
		ck_assert_msg((s[i] = asnap_snap_load(p[i], &err)), "%s", err.message);
	}
	struct asnap_rules rules;
	asnap_rules_init(&rules);
	ck_assert_int_eq(asnap_rules_add_json(&rules, asnap_builtin_rules, &err), 0);
	struct asnap_checks_options opt = {FUTURES, &rules};
	struct asnap_findings f;
	ck_assert_msg(asnap_checks_run(s, 3, &opt, &f, &err) == 0, "%s", err.message);
	for (int i = 0; i < 3; i++) {
		asnap_snap_destroy(s[i]);
		free(p[i]);
	}
	asnap_rules_release(&rules);
	tmpdir_destroy(&d);
	return f;
}

static void assert_none(struct asnap_findings *f)
{
	ck_assert_msg(f->count == 0, "%u findings, first: %s", f->count,
		      f->count ? f->items[0].summary : "");
	asnap_findings_release(f);
}

/* Growing, the same tasks and futures kept: the leak is found. */
START_TEST(survivors_that_grow_are_a_leak)
{
	struct asnap_findings f = service_findings((uint32_t[]){10, 20, 30}, 30, (uint32_t[]){0, 0, 0});
	/* the stuck tasks, and the futures they await folded into them */
	ck_assert_uint_eq(f.count, 1);
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_PENDING_TASK);
	ck_assert_uint_eq(f.items[0].count, 30);
	ck_assert_uint_eq(f.items[0].persistent, 20);
	ck_assert_uint_eq(f.items[0].nalso, 1);
	ck_assert_int_eq(f.items[0].also[0].check, ASNAP_CHECK_PENDING_FUTURE);
	ck_assert_uint_eq(f.items[0].also[0].count, 30);
	asnap_findings_release(&f);
}
END_TEST

/* The same counts and addresses, but every request is a new one (new task
 * names): the allocator reused the slots. No survivor, no finding. */
START_TEST(reused_addresses_are_not_survivors)
{
	struct asnap_findings f =
		service_findings((uint32_t[]){10, 20, 30}, 0, (uint32_t[]){100, 200, 300});
	assert_none(&f);
}
END_TEST

/* A steady in-flight population: 13 -> 15 -> 15 where 11 long-lived ones
 * stay, the rest are replaced: nothing born after the first snapshot is
 * kept, so the wobble is not growth. */
START_TEST(steady_population_is_not_growth)
{
	struct asnap_findings f =
		service_findings((uint32_t[]){13, 15, 15}, 11, (uint32_t[]){100, 200, 300});
	assert_none(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");
	tcase_add_test(tc, survivors_that_grow_are_a_leak);
	tcase_add_test(tc, reused_addresses_are_not_survivors);
	tcase_add_test(tc, steady_population_is_not_growth);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
