/*
 * test-piled.c - the pending-future check's piles (checks/piled_callbacks.c):
 * done-callbacks that pile up on one pending future, and waiters that pile
 * up in an Event's deque, on small snapshots drawn node by node; and what
 * must not count - task wakeups, callbacks still in progress, callbacks
 * replaced rather than kept.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks.h"
#include "heap.h"

enum cb_kind {
	CB_PARTIAL,     /* partial(Conn.on_close, state): the leak */
	CB_WAKEUP,      /* the wakeup of a pending task awaiting the future */
	CB_IN_PROGRESS, /* a closure over a pending future a task awaits (asyncio.wait) */
};

struct shape {
	uint32_t n;         /* callbacks */
	enum cb_kind kind;
	uint64_t base;      /* address of the first callback's objects */
	bool named;         /* the future record names its newest callback */
	uint32_t waiters;   /* pending futures nothing awaits in Conn.ev._waiters */
};

/*
 *   0 dict (sys.modules) -conn-> 1 Conn -_closed-> 2 Future -_callbacks-> 3 list
 *   4 function on_close -__code__-> 5 code; 6 Context; 7 code of the closure
 *   1 -tasks-> 8 set (the tasks, when there are some)
 *   1 -ev-> 9 asyncio.locks.Event -_waiters-> 10 deque
 */
static void write_conn(const char *path, const struct shape *sh)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x1000, 64);
	uint32_t conn = heap_node(&h, "__main__.Conn", 0x1100, 56);
	uint32_t fut = heap_node(&h, "_asyncio.Future", 0x1200, 144);
	uint32_t list = heap_node(&h, "builtins.list", 0x1300, 64);
	uint32_t fn = heap_node(&h, "builtins.function", 0x1400, 152);
	uint32_t code = heap_node(&h, "builtins.code", 0x1500, 200);
	uint32_t ctxv = heap_node(&h, "_contextvars.Context", 0x1600, 48);
	uint32_t code2 = heap_node(&h, "builtins.code", 0x1700, 200);
	uint32_t tasks = heap_node(&h, "builtins.set", 0x1800, 200);
	uint32_t ev = heap_node(&h, "asyncio.locks.Event", 0x1900, 56);
	uint32_t dq = heap_node(&h, "collections.deque", 0x1a00, 600);
	heap_root(&h, mods, "sys.modules");
	heap_edge(&h, mods, conn, "conn");
	heap_edge(&h, conn, fut, "_closed");
	heap_edge(&h, fut, list, "_callbacks");
	heap_edge(&h, fn, code, "__code__");
	heap_edge(&h, conn, tasks, "tasks");
	heap_edge(&h, conn, ev, "ev");
	heap_edge(&h, ev, dq, "_waiters");
	uint32_t newest = ASNAP_NO_NODE;
	for (uint32_t i = 0; i < sh->n; i++) {
		uint64_t a = sh->base + i * 0x1000;
		uint32_t item = heap_node(&h, "builtins.tuple", a, 56);
		heap_edge(&h, list, item, "[i]");
		uint32_t cb;
		if (sh->kind == CB_PARTIAL) {
			cb = heap_node(&h, "functools.partial", a + 0x100, 80);
			uint32_t m = heap_node(&h, "builtins.method", a + 0x200, 48);
			uint32_t args = heap_node(&h, "builtins.tuple", a + 0x300, 48);
			uint32_t buf = heap_node(&h, "builtins.bytearray", a + 0x400, 16384);
			heap_edge(&h, cb, m, "func");
			heap_edge(&h, m, fn, "__func__");
			heap_edge(&h, m, conn, "__self__");
			heap_edge(&h, cb, args, "args");
			heap_edge(&h, args, buf, "[0]");
		} else if (sh->kind == CB_WAKEUP) {
			cb = heap_node(&h, "builtins.builtin_function_or_method", a + 0x100, 72);
			uint32_t t = heap_node(&h, "_asyncio.Task", a + 0x200, 200);
			uint32_t c = heap_node(&h, "builtins.coroutine", a + 0x300, 200);
			heap_edge(&h, cb, t, NULL);
			heap_edge(&h, tasks, t, NULL);
			heap_edge(&h, t, c, "_coro");
			heap_edge(&h, t, fut, "_fut_waiter");
			heap_edge(&h, c, fut, "cr_await");
			heap_rec(&h, t, "task");
			heap_str(&h, "state", "pending");
			heap_str(&h, "name", "watch");
			heap_ref(&h, "coro", c);
			heap_ref(&h, "waiting_on", fut);
			heap_rec(&h, c, "coroutine");
			heap_str(&h, "state", "suspended");
			heap_str(&h, "qualname", "watch");
			heap_ref(&h, "awaiting", fut);
		} else {
			/* asyncio.wait's _on_completion: a closure over its waiter,
			 * which a pending task awaits */
			cb = heap_node(&h, "builtins.function", a + 0x100, 152);
			uint32_t cl = heap_node(&h, "builtins.tuple", a + 0x200, 48);
			uint32_t cell = heap_node(&h, "builtins.cell", a + 0x300, 40);
			uint32_t w = heap_node(&h, "_asyncio.Future", a + 0x400, 144);
			uint32_t t = heap_node(&h, "_asyncio.Task", a + 0x500, 200);
			uint32_t c = heap_node(&h, "builtins.coroutine", a + 0x600, 200);
			heap_edge(&h, cb, code2, "__code__");
			heap_edge(&h, cb, cl, "__closure__");
			heap_edge(&h, cl, cell, "[0]");
			heap_edge(&h, cell, w, "cell_contents");
			heap_edge(&h, tasks, t, NULL);
			heap_edge(&h, t, c, "_coro");
			heap_edge(&h, t, w, "_fut_waiter");
			heap_edge(&h, c, w, "waiter");
			heap_rec(&h, w, "future");
			heap_str(&h, "state", "pending");
			heap_int(&h, "callbacks", 1);
			heap_rec(&h, t, "task");
			heap_str(&h, "state", "pending");
			heap_str(&h, "name", "race");
			heap_ref(&h, "coro", c);
			heap_ref(&h, "waiting_on", w);
			heap_rec(&h, c, "coroutine");
			heap_str(&h, "state", "suspended");
			heap_str(&h, "qualname", "race");
		}
		heap_edge(&h, item, cb, "[0]");
		heap_edge(&h, item, ctxv, "[1]");
		newest = cb;
	}
	for (uint32_t i = 0; i < sh->waiters; i++) {
		uint32_t w = heap_node(&h, "_asyncio.Future", 0x900000 + i * 0x100, 144);
		heap_edge(&h, dq, w, NULL);
		heap_rec(&h, w, "future");
		heap_str(&h, "state", "pending");
		heap_int(&h, "callbacks", 0);
	}
	heap_rec(&h, fut, "future");
	heap_str(&h, "state", "pending");
	heap_int(&h, "callbacks", sh->n);
	if (sh->named && sh->kind == CB_PARTIAL && newest != ASNAP_NO_NODE) {
		heap_ref(&h, "callback", newest);
		heap_str(&h, "callback_name", "Conn.on_close");
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

/* Run every check on paths[0..n); the pending-future findings into out. */
static void run(char **paths, uint32_t n, struct asnap_findings *out)
{
	struct asnap_snap *s[4];
	for (uint32_t i = 0; i < n; i++)
		s[i] = load(paths[i]);
	struct asnap_error err = {0};
	struct asnap_checks_options opt = {.mask = 1u << ASNAP_CHECK_PENDING_FUTURE};
	ck_assert_msg(asnap_checks_run(s, n, &opt, out, &err) == 0, "%s", err.message);
	for (uint32_t i = 0; i < n; i++)
		asnap_snap_destroy(s[i]);
}

static const struct asnap_finding *find(const struct asnap_findings *f, const char *group)
{
	for (uint32_t i = 0; i < f->count; i++)
		if (!strcmp(f->items[i].group, group))
			return &f->items[i];
	return NULL;
}

static uint32_t one(const struct shape *sh, struct asnap_findings *f)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	write_conn(path, sh);
	run(&path, 1, f);
	free(path);
	tmpdir_destroy(&d);
	return f->count;
}

START_TEST(hundred_partials_on_one_future_are_found)
{
	struct shape sh = {.n = 120, .kind = CB_PARTIAL, .base = 0x100000, .named = true};
	struct asnap_findings f;
	one(&sh, &f);
	const struct asnap_finding *x = find(&f, "Conn.on_close on Conn._closed");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->check, ASNAP_CHECK_PENDING_FUTURE);
	ck_assert_uint_eq(x->count, 120);
	ck_assert_uint_eq(x->certain, 120);
	/* each partial keeps its own buffer */
	ck_assert_uint_ge(x->retained, 120 * 16384);
	ck_assert_ptr_nonnull(strstr(x->summary, "120 done-callbacks of Conn.on_close()"));
	ck_assert_ptr_nonnull(strstr(x->summary, "held by Conn._closed"));
	ck_assert_ptr_nonnull(strstr(x->fix, "remove_done_callback"));
	ck_assert_uint_gt(x->path_len, 3);
	asnap_findings_release(&f);
}
END_TEST

START_TEST(fewer_than_a_hundred_in_one_snapshot_are_not)
{
	struct shape sh = {.n = 99, .kind = CB_PARTIAL, .base = 0x100000, .named = true};
	struct asnap_findings f;
	ck_assert_uint_eq(one(&sh, &f), 0);
	asnap_findings_release(&f);
}
END_TEST

START_TEST(unnamed_callbacks_are_named_by_their_bound_type)
{
	struct shape sh = {.n = 100, .kind = CB_PARTIAL, .base = 0x100000, .named = false};
	struct asnap_findings f;
	one(&sh, &f);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_str_eq(f.items[0].group, "<a method of Conn> on Conn._closed");
	asnap_findings_release(&f);
}
END_TEST

START_TEST(wakeups_of_tasks_awaiting_the_future_do_not_count)
{
	struct shape sh = {.n = 150, .kind = CB_WAKEUP, .base = 0x100000};
	struct asnap_findings f;
	ck_assert_uint_eq(one(&sh, &f), 0);
	asnap_findings_release(&f);
}
END_TEST

START_TEST(callbacks_in_progress_do_not_count)
{
	struct shape sh = {.n = 150, .kind = CB_IN_PROGRESS, .base = 0x100000};
	struct asnap_findings f;
	ck_assert_uint_eq(one(&sh, &f), 0);
	asnap_findings_release(&f);
}
END_TEST

/* Two snapshots of one process: 20 callbacks, then 40. */
static void two(uint64_t second_base, struct asnap_findings *f)
{
	struct tmpdir d = tmpdir_create();
	char *paths[2] = {tmpdir_path(&d, "1.snap"), tmpdir_path(&d, "2.snap")};
	struct shape a = {.n = 20, .kind = CB_PARTIAL, .base = 0x100000, .named = true};
	struct shape b = {.n = 40, .kind = CB_PARTIAL, .base = second_base, .named = true};
	write_conn(paths[0], &a);
	write_conn(paths[1], &b);
	run(paths, 2, f);
	free(paths[0]);
	free(paths[1]);
	tmpdir_destroy(&d);
}

START_TEST(a_growing_pile_is_found_across_snapshots)
{
	struct asnap_findings f;
	two(0x100000, &f); /* the first 20 are still there */
	const struct asnap_finding *x = find(&f, "Conn.on_close on Conn._closed");
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->count, 40);
	ck_assert_uint_eq(x->growth[0], 20);
	ck_assert_uint_eq(x->growth[1], 40);
	ck_assert_ptr_nonnull(strstr(x->summary, "20 -> 40 across the snapshots"));
	asnap_findings_release(&f);
}
END_TEST

START_TEST(a_pile_whose_callbacks_are_replaced_is_not)
{
	struct asnap_findings f;
	two(0x4000000, &f); /* 40 new ones: the first 20 are gone */
	ck_assert_uint_eq(f.count, 0);
	asnap_findings_release(&f);
}
END_TEST

START_TEST(waiters_nothing_awaits_are_found)
{
	struct shape sh = {.waiters = 100};
	struct asnap_findings f;
	one(&sh, &f);
	const struct asnap_finding *x = find(&f, "Event._waiters of Conn.ev");
	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq(x->count, 100);
	ck_assert_ptr_nonnull(strstr(x->summary, "100 waiters nobody will consume"));
	asnap_findings_release(&f);
	sh.waiters = 99;
	ck_assert_uint_eq(one(&sh, &f), 0);
	asnap_findings_release(&f);
}
END_TEST

/*
 * A library's registry: 0 dict (sys.modules) -svc-> 1 Service -listener->
 * 2 asyncpg Connection -_listeners-> 3 dict -events-> 4 set -> n
 * _Callback tuples, each -[0]-> its closure; the dict's key, a str, too.
 */
static void write_pg(const char *path, uint32_t n, uint64_t base)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x1000, 64);
	uint32_t svc = heap_node(&h, "__main__.Service", 0x1100, 56);
	uint32_t conn = heap_node(&h, "asyncpg.connection.Connection", 0x1200, 400);
	uint32_t dict = heap_node(&h, "builtins.dict", 0x1300, 200);
	uint32_t chan = heap_node(&h, "builtins.str", 0x1400, 55);
	uint32_t set = heap_node(&h, "builtins.set", 0x1500, 2000);
	uint32_t code = heap_node(&h, "builtins.code", 0x1600, 200);
	heap_root(&h, mods, "sys.modules");
	heap_edge(&h, mods, svc, "svc");
	heap_edge(&h, svc, conn, "listener");
	heap_edge(&h, conn, dict, "_listeners");
	heap_edge(&h, dict, chan, "key");
	heap_edge(&h, dict, set, "events");
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = base + i * 0x1000;
		uint32_t cb = heap_node(&h, "asyncpg.connection._Callback", a, 56);
		uint32_t fn = heap_node(&h, "builtins.function", a + 0x100, 152);
		uint32_t fut = heap_node(&h, "builtins.bytearray", a + 0x200, 4096);
		heap_edge(&h, set, cb, NULL);
		heap_edge(&h, cb, fn, "[0]");
		heap_edge(&h, fn, code, "__code__");
		heap_edge(&h, fn, fut, "__closure__");
	}
	heap_write(&h, path, 7);
}

/* Snapshots of one process with counts[i] callbacks; from `kept` on, the
 * earlier ones are still there (else each snapshot's are new). */
static void registry_run(const uint32_t *counts, uint32_t n, bool kept, struct asnap_findings *f)
{
	struct tmpdir d = tmpdir_create();
	char *paths[4];
	for (uint32_t i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%u.snap", i);
		paths[i] = tmpdir_path(&d, name);
		write_pg(paths[i], counts[i], kept ? 0x100000 : 0x100000 + i * 0x10000000ull);
	}
	run(paths, n, f);
	for (uint32_t i = 0; i < n; i++)
		free(paths[i]);
	tmpdir_destroy(&d);
}

START_TEST(listeners_piling_in_a_librarys_registry_are_found)
{
	static const uint32_t counts[] = {20, 60, 100};
	struct asnap_findings f;
	registry_run(counts, 3, true, &f);
	const struct asnap_finding *x = find(&f, "Connection._listeners of Service.listener");
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->check, ASNAP_CHECK_PENDING_FUTURE);
	ck_assert_uint_eq(x->count, 100); /* the callbacks, not the channel's name */
	ck_assert_uint_eq(x->growth[0], 20);
	ck_assert_uint_eq(x->growth[2], 100);
	ck_assert_ptr_nonnull(strstr(x->summary, "100 LISTEN callbacks registered and never removed"));
	ck_assert_ptr_nonnull(strstr(x->summary, "20 -> 60 -> 100 across the snapshots"));
	ck_assert_ptr_nonnull(strstr(x->fix, "remove_listener"));
	ck_assert_uint_ge(x->retained, 100 * 4096);
	asnap_findings_release(&f);
}
END_TEST

START_TEST(listeners_replaced_or_few_are_not)
{
	static const uint32_t counts[] = {20, 60, 99};
	struct asnap_findings f;
	registry_run(counts, 3, false, &f); /* a steady set, each time new ones */
	ck_assert_uint_eq(f.count, 0);
	asnap_findings_release(&f);
	registry_run(counts + 2, 1, true, &f); /* one snapshot: 99 */
	ck_assert_uint_eq(f.count, 0);
	asnap_findings_release(&f);
	static const uint32_t hundred[] = {100};
	registry_run(hundred, 1, true, &f);
	ck_assert_uint_eq(f.count, 1);
	asnap_findings_release(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("piled");
	TCase *tc = tcase_create("piled");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hundred_partials_on_one_future_are_found);
	tcase_add_test(tc, fewer_than_a_hundred_in_one_snapshot_are_not);
	tcase_add_test(tc, unnamed_callbacks_are_named_by_their_bound_type);
	tcase_add_test(tc, wakeups_of_tasks_awaiting_the_future_do_not_count);
	tcase_add_test(tc, callbacks_in_progress_do_not_count);
	tcase_add_test(tc, a_growing_pile_is_found_across_snapshots);
	tcase_add_test(tc, a_pile_whose_callbacks_are_replaced_is_not);
	tcase_add_test(tc, waiters_nothing_awaits_are_found);
	tcase_add_test(tc, listeners_piling_in_a_librarys_registry_are_found);
	tcase_add_test(tc, listeners_replaced_or_few_are_not);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
