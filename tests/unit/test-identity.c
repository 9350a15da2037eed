/*
 * test-identity.c - telling objects apart across snapshots: an address
 * reused by a new object is not a survivor, and growth means survivors
 * that were born and kept, not a count that wobbles.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis/checks.h"
#include "heap.h"

/*
 * Snapshot k of a service: `count` requests in flight, each a task
 * awaiting a future held in a registry (the loop would resolve them). Slot
 * i sits at the same addresses in every snapshot; the first `keep` slots
 * hold the same requests throughout (task Task-<1+i>), the others a new
 * request each time (task Task-<fresh+i>).
 */
static int service_pid = 7;

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
	heap_write(&h, path, service_pid);
}

static const uint32_t FUTURES = 1u << ASNAP_CHECK_PENDING_FUTURE | 1u << ASNAP_CHECK_PENDING_TASK;

/* Loading in turns, as `asyncsnap leaks` does (asnap_checks_input): each
 * snapshot replaces its peeked header facts just before its turn, the last
 * first; never more than two are loaded at once. */
struct turns {
	struct asnap_snap **s;
	char *const *p;
	unsigned earlier, last;
	uint32_t loads;
};

static int load_turn(void *arg, uint32_t i, struct asnap_error *err)
{
	struct turns *t = arg;
	ck_assert_uint_eq(i, t->loads == 0 ? 2 : t->loads - 1); /* the last first, then in order */
	t->loads++;
	unsigned layers = ASNAP_SNAP_MATCH | (i < 2 ? t->earlier : t->last);
	struct asnap_snap *s = asnap_snap_load(t->p[i], layers, err);
	if (!s)
		return -1;
	ck_assert_int_eq(t->s[i]->pid, s->pid); /* the peek read the same header */
	ck_assert_ptr_null(t->s[i]->g);
	asnap_snap_destroy(t->s[i]);
	t->s[i] = s;
	int loaded = 0;
	for (int k = 0; k < 3; k++)
		loaded += t->s[k]->g != NULL;
	ck_assert_int_le(loaded, 2);
	return 0;
}

/* The findings of the checks in `mask`, with the rules `json`, on the
 * snapshots at p[0..2] loaded with these layers (the earlier ones with
 * `earlier` besides, the last with `last`): all at first, or (turns) each
 * in its turn, the earlier ones shed after theirs. */
static struct asnap_findings run_three(char *const p[3], uint32_t mask, const char *json,
				       unsigned earlier, unsigned last, bool turns)
{
	struct asnap_error err = {0};
	struct asnap_snap *s[3];
	for (int i = 0; i < 3; i++) {
		unsigned layers = ASNAP_SNAP_MATCH | (i < 2 ? earlier : last);
		s[i] = turns ? asnap_snap_peek(p[i], &err) : asnap_snap_load(p[i], layers, &err);
		ck_assert_msg(s[i], "%s", err.message);
	}
	struct asnap_rules rules;
	asnap_rules_init(&rules);
	ck_assert_msg(asnap_rules_add_json(&rules, json, &err) == 0, "%s", err.message);
	struct asnap_checks_options opt = {.mask = mask, .rules = &rules, .shed_earlier = turns};
	struct asnap_findings f;
	struct turns t = {s, p, earlier, last, 0};
	struct asnap_checks_input in = {s, 3, turns ? load_turn : NULL, &t};
	ck_assert_msg(asnap_checks_run_input(&in, &opt, &f, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(t.loads, turns ? 3 : 0);
	for (int i = 0; i < 2 && turns; i++)
		ck_assert_ptr_null(s[i]->g);
	for (int i = 0; i < 3; i++)
		asnap_snap_destroy(s[i]);
	asnap_rules_release(&rules);
	return f;
}

/* Three snapshots, snapshot k written by write(path, k, arg), and the
 * findings of the checks in `mask` on them, with the rules `json`, loaded
 * as `asyncsnap leaks` loads them: each in its turn, the earlier ones
 * without sizes (and shed after their turns), the last without an address
 * index. The same findings as from snapshots loaded whole and all at
 * once, or the test fails. */
static struct asnap_findings three_findings(void (*write)(const char *, int, const void *),
					    const void *arg, uint32_t mask, const char *json)
{
	struct tmpdir d = tmpdir_create();
	char *p[3] = {tmpdir_path(&d, "a"), tmpdir_path(&d, "b"), tmpdir_path(&d, "c")};
	for (int i = 0; i < 3; i++)
		write(p[i], i, arg);
	struct asnap_findings f =
		run_three(p, mask, json, ASNAP_SNAP_NO_SIZES, ASNAP_SNAP_NO_ADDRESSES, true);
	struct asnap_findings whole = run_three(p, mask, json, 0, 0, false);
	ck_assert_uint_eq(f.count, whole.count);
	for (uint32_t i = 0; i < f.count; i++) {
		ck_assert_str_eq(f.items[i].summary, whole.items[i].summary);
		ck_assert_uint_eq(f.items[i].count, whole.items[i].count);
		ck_assert_uint_eq(f.items[i].retained, whole.items[i].retained);
		ck_assert_uint_eq(f.items[i].persistent, whole.items[i].persistent);
		ck_assert_uint_eq(f.items[i].nobjects, whole.items[i].nobjects);
		for (uint32_t k = 0; k < f.items[i].nobjects; k++) {
			const struct asnap_finding_object *a = &f.items[i].objects[k];
			const struct asnap_finding_object *b = &whole.items[i].objects[k];
			ck_assert_uint_eq(a->node, b->node);
			ck_assert_uint_eq(a->persistent, b->persistent);
			ck_assert_uint_eq(a->born_kept, b->born_kept);
		}
	}
	asnap_findings_release(&whole);
	for (int i = 0; i < 3; i++)
		free(p[i]);
	tmpdir_destroy(&d);
	return f;
}

struct service_args {
	const uint32_t *count, *fresh;
	uint32_t keep;
};

static void write_service_k(const char *path, int k, const void *arg)
{
	const struct service_args *a = arg;
	write_service(path, a->count[k], a->keep, a->fresh[k]);
}

/* Three snapshots of the service - count[i] requests, the first `keep` the
 * same throughout, the others new (task names from fresh[i]) - and the
 * findings of the pending-task and pending-future checks on them. */
static struct asnap_findings service_findings(const uint32_t count[3], uint32_t keep,
					      const uint32_t fresh[3])
{
	struct service_args a = {count, fresh, keep};
	return three_findings(write_service_k, &a, FUTURES, asnap_builtin_rules);
}

static void assert_none(struct asnap_findings *f)
{
	ck_assert_msg(f->count == 0, "%u findings, first: %s", f->count,
		      f->count ? f->items[0].summary : "");
	asnap_findings_release(f);
}

/* Growing, the same tasks and futures kept: the leak is found. */
/* The earlier snapshots of a leaks run are loaded without sizes and
 * reference counts, the last without an address index; a snapshot loaded
 * without sizes reads them when its retention is asked after all. */
START_TEST(snapshots_load_only_what_their_role_needs)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "s");
	write_service(path, 40, 40, 0);
	struct asnap_error err = {0};
	struct asnap_snap *lean = asnap_snap_load(path, ASNAP_SNAP_MATCH | ASNAP_SNAP_NO_SIZES, &err);
	struct asnap_snap *last = asnap_snap_load(path, ASNAP_SNAP_MATCH | ASNAP_SNAP_NO_ADDRESSES, &err);
	struct asnap_snap *whole = asnap_snap_load(path, ASNAP_SNAP_MATCH | ASNAP_SNAP_RETENTION, &err);
	ck_assert_msg(lean && last && whole, "%s", err.message);
	ck_assert_ptr_null(lean->g->size32);
	ck_assert_ptr_null(lean->g->refcnt);
	ck_assert_ptr_nonnull(lean->addr_slots);
	ck_assert_ptr_null(last->addr_slots);
	ck_assert_ptr_nonnull(last->g->size32);
	ck_assert_ptr_nonnull(last->future_task);
	/* what the last is matched by: found in the earlier one all the same */
	uint32_t found = 0;
	for (uint32_t v = 0; v < last->g->n; v++)
		found += asnap_snap_match(last, v, lean) == v;
	ck_assert_uint_eq(found, last->g->n);
	ck_assert_int_eq(asnap_snap_retention(lean, &err), 0);
	ck_assert_ptr_nonnull(lean->g->size32);
	ck_assert_uint_eq(asnap_dom_retained(&lean->ret.dom, lean->g->n),
			  asnap_dom_retained(&whole->ret.dom, whole->g->n));
	for (uint32_t v = 0; v < lean->g->n; v++)
		ck_assert_uint_eq(asnap_dom_retained(&lean->ret.dom, v), asnap_dom_retained(&whole->ret.dom, v));
	/* shed, each keeps its header facts, header and totals: what a page
	 * shows of an earlier snapshot (report), sizes summed where loaded */
	struct asnap_snap *peek = asnap_snap_peek(path, &err);
	struct asnap_snap *bare = asnap_snap_load(path, ASNAP_SNAP_NO_SIZES, &err);
	ck_assert_msg(peek && bare, "%s", err.message);
	uint64_t bytes = asnap_snap_bytes(whole), edges = whole->g->m;
	ck_assert_uint_gt(bytes, 0);
	ck_assert_uint_eq(asnap_snap_bytes(bare), 0);
	asnap_snap_shed(bare);
	asnap_snap_shed(whole);
	for (int i = 0; i < 3; i++) {
		const struct asnap_snap *s = i == 0 ? bare : i == 1 ? whole : peek;
		ck_assert_ptr_null(s->g);
		ck_assert_int_eq(s->pid, 7);
		ck_assert_uint_eq(s->objects, i < 2 ? last->g->n : 0);
		ck_assert_uint_eq(s->edges, i < 2 ? edges : 0);
		const cJSON *h = asnap_snap_header(s);
		ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(h, "producer")), "test");
	}
	ck_assert_uint_eq(asnap_snap_bytes(whole), bytes);
	ck_assert_uint_eq(asnap_snap_bytes(bare), 0);
	asnap_snap_destroy(bare);
	asnap_snap_destroy(peek);
	asnap_snap_destroy(lean);
	asnap_snap_destroy(last);
	asnap_snap_destroy(whole);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

/* Snapshot k of the growing service by process 7 + k. */
static void write_service_of_k(const char *path, int k, const void *arg)
{
	service_pid = 7 + k;
	write_service_k(path, k, arg);
	service_pid = 7;
}

/* The same growth, but each snapshot from another process: nothing is
 * matched (in turns as when loaded whole: no lifetimes to look up), what
 * the last shows alone is all there is, and the user is told why. */
START_TEST(snapshots_of_several_processes_are_not_matched)
{
	struct service_args a = {(uint32_t[]){10, 20, 30}, (uint32_t[]){0, 0, 0}, 30};
	struct asnap_findings f =
		three_findings(write_service_of_k, &a, FUTURES, asnap_builtin_rules);
	ck_assert_ptr_nonnull(f.warning);
	ck_assert_ptr_nonnull(strstr(f.warning, "not all of one process"));
	for (uint32_t i = 0; i < f.count; i++)
		ck_assert_uint_eq(f.items[i].persistent, 0);
	assert_none(&f);
}
END_TEST

/* No snapshot: a caller's mistake, said, not a crash. */
START_TEST(no_snapshot_is_a_usage_error)
{
	struct asnap_error err = {0};
	struct asnap_findings f;
	struct asnap_checks_options opt = {.mask = ASNAP_CHECKS_ALL};
	struct asnap_checks_input in = {NULL, 0, NULL, NULL};
	ck_assert_int_eq(asnap_checks_run_input(&in, &opt, &f, &err), -1);
	ck_assert_int_eq(err.status, ASNAP_ERR_USAGE);
	ck_assert_uint_eq(f.count, 0);
}
END_TEST

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

/*
 * Snapshot of a callback-style client: `count` pending futures in a
 * registry that nothing awaits (each resolved when its reply comes), slot
 * i at the same address in every snapshot: what the allocator does with
 * freed futures of one size. Nothing tells a new future from an old one.
 */
static void write_registry(const char *path, uint32_t count)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t reg = heap_node(&h, "builtins.dict", 0x10100, 64);
	heap_edge(&h, mods, reg, "pending");
	heap_root(&h, mods, "sys.modules");
	for (uint32_t i = 0; i < count; i++) {
		uint32_t f = heap_node(&h, "_asyncio.Future", 0x7f0000000000ull + i * 0x100, 100);
		heap_edge(&h, reg, f, "value");
		heap_rec(&h, f, "future");
		heap_str(&h, "state", "pending");
	}
	heap_write(&h, path, 7);
}

static void write_registry_k(const char *path, int k, const void *arg)
{
	write_registry(path, ((const uint32_t *)arg)[k]);
}

static struct asnap_findings registry_findings(const uint32_t count[3])
{
	return three_findings(write_registry_k, count, FUTURES, asnap_builtin_rules);
}

/* 10 -> 12 -> 12 in flight at reused addresses: the two "born and kept"
 * are the allocator's doing. A count that does not rise at every snapshot
 * is no growth. */
START_TEST(wobble_at_reused_addresses_is_not_growth)
{
	struct asnap_findings f = registry_findings((uint32_t[]){10, 12, 12});
	assert_none(&f);
	f = registry_findings((uint32_t[]){10, 10, 12});
	assert_none(&f);
}
END_TEST

/* Rising at every snapshot: growth (the same slots, so nothing can tell it
 * from a new population there). */
START_TEST(rising_at_every_snapshot_is_growth)
{
	struct asnap_findings f = registry_findings((uint32_t[]){10, 20, 30});
	ck_assert_uint_eq(f.count, 1);
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_PENDING_FUTURE);
	ck_assert_uint_eq(f.items[0].count, 30);
	asnap_findings_release(&f);
}
END_TEST

/* A finished frame (kept by a traceback) at 0x7f..100 referring to a local
 * at `local`; a coroutine not yet started at 0x7f..200 with its argument
 * at `arg`. */
static struct asnap_snap *write_settled(const char *path, uint64_t local, uint64_t arg)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t errs = heap_node(&h, "builtins.list", 0x10100, 64);
	uint32_t fr = heap_node(&h, "builtins.frame", 0x7f0000000100ull, 400);
	uint32_t lo = heap_node(&h, "builtins.bytes", local, 1000);
	uint32_t co = heap_node(&h, "builtins.coroutine", 0x7f0000000200ull, 200);
	uint32_t ar = heap_node(&h, "builtins.bytes", arg, 1000);
	heap_edge(&h, mods, errs, "errors");
	heap_edge(&h, errs, fr, NULL);
	heap_edge(&h, errs, co, NULL);
	heap_edge(&h, fr, lo, "payload");
	heap_edge(&h, co, ar, "payload");
	heap_root(&h, mods, "sys.modules");
	heap_rec(&h, fr, "frame");
	heap_str(&h, "qualname", "handle");
	heap_int(&h, "first_line", 10);
	heap_int(&h, "line", 12);
	heap_bool(&h, "executing", false);
	heap_rec(&h, co, "coroutine");
	heap_str(&h, "state", "created");
	heap_str(&h, "qualname", "job");
	/* 3.9 and 3.10: the argument sits in the coroutine's frame object */
	uint32_t co9 = heap_node(&h, "builtins.coroutine", 0x7f0000000300ull, 200);
	uint32_t fr9 = heap_node(&h, "builtins.frame", 0x7f0000000400ull, 400);
	uint32_t ar9 = heap_node(&h, "builtins.bytes", arg + 0x1000, 1000);
	heap_edge(&h, errs, co9, NULL);
	heap_edge(&h, co9, fr9, "cr_frame");
	heap_edge(&h, fr9, ar9, "payload");
	heap_rec(&h, co9, "coroutine");
	heap_str(&h, "state", "created");
	heap_str(&h, "qualname", "job");
	heap_ref(&h, "frame", fr9);
	heap_rec(&h, fr9, "frame");
	heap_str(&h, "qualname", "job");
	heap_int(&h, "first_line", 20);
	heap_int(&h, "line", 20);
	heap_bool(&h, "executing", false);
	heap_ref(&h, "generator", co9);
	heap_write(&h, path, 7);
	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
	ck_assert_msg(s, "%s", err.message);
	return s;
}

/* A frame that no longer runs and a coroutine not yet started are the same
 * objects in two snapshots only when they refer to the same objects: the
 * next frame of a function, or the next job(), at a freed one's address
 * refers to others. */
START_TEST(settled_frames_and_coroutines_keep_their_references)
{
	struct tmpdir d = tmpdir_create();
	char *pa = tmpdir_path(&d, "a"), *pb = tmpdir_path(&d, "b"), *pc = tmpdir_path(&d, "c");
	struct asnap_snap *a = write_settled(pa, 0x7f0000010000ull, 0x7f0000020000ull);
	struct asnap_snap *same = write_settled(pb, 0x7f0000010000ull, 0x7f0000020000ull);
	struct asnap_snap *other = write_settled(pc, 0x7f0000030000ull, 0x7f0000040000ull);
	uint32_t fr = asnap_snap_find_addr(a, 0x7f0000000100ull);
	uint32_t co = asnap_snap_find_addr(a, 0x7f0000000200ull);
	ck_assert_uint_ne(fr, ASNAP_NO_NODE);
	ck_assert_uint_ne(co, ASNAP_NO_NODE);
	ck_assert_uint_eq(asnap_snap_match(a, fr, same), asnap_snap_find_addr(same, 0x7f0000000100ull));
	ck_assert_uint_eq(asnap_snap_match(a, co, same), asnap_snap_find_addr(same, 0x7f0000000200ull));
	ck_assert_uint_eq(asnap_snap_match(a, fr, other), ASNAP_NO_NODE);
	ck_assert_uint_eq(asnap_snap_match(a, co, other), ASNAP_NO_NODE);
	uint32_t co9 = asnap_snap_find_addr(a, 0x7f0000000300ull);
	ck_assert_uint_eq(asnap_snap_match(a, co9, same), asnap_snap_find_addr(same, 0x7f0000000300ull));
	ck_assert_uint_eq(asnap_snap_match(a, co9, other), ASNAP_NO_NODE);
	asnap_snap_destroy(a);
	asnap_snap_destroy(same);
	asnap_snap_destroy(other);
	free(pa);
	free(pb);
	free(pc);
	tmpdir_destroy(&d);
}
END_TEST

/*
 * Snapshot k of a client of a connection pool: `pools` pools (held in a
 * list of the program's), each with `idle` open connections in its idle
 * list `_idle`; each connection's stream (library objects) holds a pending
 * "closed" future, as asyncio's StreamReaderProtocol does. Pool i and
 * connection j of it sit at the same addresses in every snapshot: what a
 * later snapshot has more of was born and kept. `deep`: the pool keeps
 * them as aiohttp's connector does, in `_conns`, a dict of lists of
 * (protocol, time) tuples, each protocol holding its connection.
 */
static void write_pools(const char *path, uint32_t pools, uint32_t idle, bool deep,
			bool pool_open)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t held = heap_node(&h, "builtins.list", 0x10100, 64);
	heap_edge(&h, mods, held, "clients");
	heap_root(&h, mods, "sys.modules");
	for (uint32_t i = 0; i < pools; i++) {
		uint64_t base = 0x7f0000000000ull + i * 0x100000;
		uint32_t p = heap_node(&h, "mylib.Pool", base, 100);
		uint32_t l = heap_node(&h, "builtins.list", base + 0x100, 64);
		heap_edge(&h, held, p, NULL);
		heap_rec(&h, p, "attrs");
		heap_bool(&h, "_closed", !pool_open);
		if (deep) {
			uint32_t d = heap_node(&h, "builtins.dict", base + 0x200, 64);
			heap_edge(&h, p, d, "_conns");
			heap_edge(&h, d, l, NULL);
		} else {
			heap_edge(&h, p, l, "_idle");
		}
		for (uint32_t j = 0; j < idle; j++) {
			uint32_t c = heap_node(&h, "mylib.Conn", base + 0x1000 + j * 0x100, 200);
			uint32_t wr = heap_node(&h, "asyncio.streams.StreamWriter", base + 0x8000 + j * 0x100, 50);
			uint32_t pr = heap_node(&h, "asyncio.streams.StreamReaderProtocol",
						base + 0x10000 + j * 0x100, 50);
			uint32_t fu = heap_node(&h, "_asyncio.Future", base + 0x18000 + j * 0x100, 100);
			if (deep) {
				uint32_t t = heap_node(&h, "builtins.tuple", base + 0x20000 + j * 0x100, 56);
				uint32_t proto = heap_node(&h, "mylib.Proto", base + 0x28000 + j * 0x100, 56);
				heap_edge(&h, l, t, NULL);
				heap_edge(&h, t, proto, NULL);
				heap_edge(&h, proto, c, "transport");
			} else {
				heap_edge(&h, l, c, NULL);
			}
			heap_edge(&h, c, wr, "_writer");
			heap_edge(&h, wr, pr, "_protocol");
			heap_edge(&h, pr, fu, "_closed");
			heap_rec(&h, c, "attrs");
			heap_bool(&h, "_closed", false);
			heap_rec(&h, fu, "future");
			heap_str(&h, "state", "pending");
		}
	}
	heap_write_header(&h, path,
			  "{\"producer\":\"test\",\"pid\":7,\"process_start\":1.5,\"code\":"
			  "{\"stdlib\":\"/usr/lib/python3.14\",\"library_modules\":"
			  "[\"builtins\",\"asyncio\",\"_asyncio\",\"mylib\"]}}");
}

/* unclosed-resource's and pending-future's findings on three snapshots of
 * write_pools. */
static const char conn_rule[] =
	"{\"rules\": [{\"type\": \"mylib.Conn\", \"open_when\": {\"attr\": \"_closed\", "
	"\"equals\": false}}]}";
static const char conn_idle_in_rule[] =
	"{\"rules\": [{\"type\": \"mylib.Conn\", \"open_when\": {\"attr\": \"_closed\", "
	"\"equals\": false}, \"idle_in\": {\"type\": \"mylib.Pool\", \"attr\": \"_idle\"}}]}";
static const char conn_pool_rule[] =
	"{\"rules\": [{\"type\": \"mylib.Conn\", \"open_when\": {\"attr\": \"_closed\", "
	"\"equals\": false}}], \"pools\": [{\"type\": \"mylib.Pool\", \"holds\": [\"_conns\"]}]}";

struct pool_args {
	const uint32_t *pools, *idle;
	bool deep, pool_open;
};

static void write_pools_k(const char *path, int k, const void *arg)
{
	const struct pool_args *a = arg;
	write_pools(path, a->pools[k], a->idle[k], a->deep, a->pool_open);
}

static struct asnap_findings pool_findings(const uint32_t pools[3], const uint32_t idle[3],
					   const char *json, bool deep)
{
	struct pool_args a = {pools, idle, deep, false};
	return three_findings(write_pools_k, &a,
			      1u << ASNAP_CHECK_UNCLOSED_RESOURCE | 1u << ASNAP_CHECK_PENDING_FUTURE,
			      json);
}

/* One pool that keeps more idle connections as the peak load rises
 * (redis-py's ConnectionPool under 20 concurrent requests): not a leak
 * when the rule says where the pool keeps them, and neither are their
 * "closed" futures (parts of pooled connections); without "idle_in" it
 * reads as growth, of the connections (their futures folded in). */
START_TEST(idle_connections_of_one_pool_are_not_growth)
{
	struct asnap_findings f =
		pool_findings((uint32_t[]){1, 1, 1}, (uint32_t[]){2, 4, 6}, conn_idle_in_rule, false);
	assert_none(&f);
	f = pool_findings((uint32_t[]){1, 1, 1}, (uint32_t[]){2, 4, 6}, conn_rule, false);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCLOSED_RESOURCE);
	asnap_findings_release(&f);
}
END_TEST

/* The same with the connections deep in the pool, as aiohttp's connector
 * keeps them (dict -> list -> tuple -> protocol -> connection): a "pools"
 * entry naming where the pool keeps them makes them the pool's. */
START_TEST(connections_deep_in_a_pool_are_not_growth)
{
	struct asnap_findings f =
		pool_findings((uint32_t[]){1, 1, 1}, (uint32_t[]){2, 4, 6}, conn_pool_rule, true);
	assert_none(&f);
	f = pool_findings((uint32_t[]){1, 1, 1}, (uint32_t[]){2, 4, 6}, conn_rule, true);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCLOSED_RESOURCE);
	asnap_findings_release(&f);
	/* an idle_in rule reaches only into one container: not this deep */
	f = pool_findings((uint32_t[]){1, 1, 1}, (uint32_t[]){2, 4, 6}, conn_idle_in_rule, true);
	ck_assert_uint_eq(f.count, 1);
	asnap_findings_release(&f);
	/* such pools that pile up still grow, one connection each */
	f = pool_findings((uint32_t[]){2, 4, 6}, (uint32_t[]){3, 3, 3}, conn_pool_rule, true);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCLOSED_RESOURCE);
	ck_assert_ptr_nonnull(strstr(f.items[0].summary, "2 -> 4 -> 6"));
	asnap_findings_release(&f);
}
END_TEST

/* Pools that pile up (a client per request, never closed), each with its
 * idle connection: still a leak. */
START_TEST(pools_that_pile_up_are_growth)
{
	struct asnap_findings f =
		pool_findings((uint32_t[]){2, 4, 6}, (uint32_t[]){1, 1, 1}, conn_idle_in_rule, false);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCLOSED_RESOURCE);
	ck_assert_ptr_nonnull(strstr(f.items[0].summary, "2 -> 4 -> 6"));
	asnap_findings_release(&f);
	f = pool_findings((uint32_t[]){2, 4, 6}, (uint32_t[]){3, 3, 3}, conn_idle_in_rule, false);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCLOSED_RESOURCE);
	asnap_findings_release(&f);
}
END_TEST

/* Pools that are open resources themselves (aiohttp's TCPConnector,
 * asyncpg's Pool) and pile up: the pools are the finding; their idle
 * connections are their parts, not a finding beside them, folded or not. */
START_TEST(pools_that_are_resources_count_their_connections_as_parts)
{
	static const char rules[] =
		"{\"rules\": [{\"type\": \"mylib.Conn\", \"open_when\": {\"attr\": \"_closed\", "
		"\"equals\": false}}, {\"type\": \"mylib.Pool\", \"open_when\": {\"attr\": "
		"\"_closed\", \"equals\": false}}], \"pools\": [{\"type\": \"mylib.Pool\", "
		"\"holds\": [\"_conns\"]}]}";
	struct pool_args a = {(uint32_t[]){2, 4, 6}, (uint32_t[]){3, 3, 3}, true, true};
	struct asnap_findings f = three_findings(
		write_pools_k, &a, 1u << ASNAP_CHECK_UNCLOSED_RESOURCE | 1u << ASNAP_CHECK_PENDING_FUTURE,
		rules);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_msg(strstr(f.items[0].summary, "mylib.Pool") &&
			      strstr(f.items[0].summary, "2 -> 4 -> 6"),
		      "%s", f.items[0].summary);
	for (uint32_t i = 0; i < f.items[0].nalso; i++)
		ck_assert_msg(!strstr(f.items[0].also[i].summary, "mylib.Conn"), "%s",
			      f.items[0].also[i].summary);
	asnap_findings_release(&f);
	/* one such pool, its idle connections rising with the load: nothing */
	struct pool_args one = {(uint32_t[]){1, 1, 1}, (uint32_t[]){2, 4, 6}, true, true};
	f = three_findings(write_pools_k, &one,
			   1u << ASNAP_CHECK_UNCLOSED_RESOURCE | 1u << ASNAP_CHECK_PENDING_FUTURE, rules);
	assert_none(&f);
}
END_TEST

/*
 * Snapshot k of a program whose sessions each run a heartbeat: a timer due
 * in 50 ms whose callback is the session's bound method beat (a new handle
 * and method each beat). Session i sits at the same address in every
 * snapshot unless `fresh` (new sessions each time); `held`: the program
 * keeps its sessions in a list too (open sessions, not dropped ones).
 */
struct beats_args {
	const uint32_t *count;
	bool fresh, held, shared;
	bool once; /* timers set once, due at 1300 s (not re-armed) */
};

static void write_beats(const char *path, int k, const void *arg)
{
	const struct beats_args *a = arg;
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t loop = heap_node(&h, "asyncio.unix_events._UnixSelectorEventLoop", 0x10100, 64);
	uint32_t sched = heap_node(&h, "builtins.list", 0x10200, 64);
	uint32_t held = heap_node(&h, "builtins.list", 0x10300, 64);
	uint32_t func = heap_node(&h, "builtins.function", 0x10400, 136);
	uint32_t service = heap_node(&h, "app.Service", 0x10500, 48);
	heap_edge(&h, mods, loop, "loop");
	heap_edge(&h, mods, held, "sessions");
	heap_edge(&h, mods, func, "beat");
	heap_edge(&h, mods, service, "service");
	heap_edge(&h, loop, sched, "_scheduled");
	heap_root(&h, mods, "sys.modules");
	heap_rec(&h, loop, "loop");
	heap_ref(&h, "scheduled", sched);
	for (uint32_t i = 0; i < a->count[k]; i++) {
		uint64_t base = 0x7f0000000000ull + (a->fresh ? (uint64_t)k << 24 : 0) + i * 0x1000;
		uint64_t beat = 0x7e0000000000ull + ((uint64_t)k << 24) + i * 0x1000;
		uint32_t sess = heap_node(&h, "app.Session", base, 48);
		uint32_t t = heap_node(&h, "asyncio.events.TimerHandle", beat, 96);
		uint32_t m = heap_node(&h, "builtins.method", beat + 0x200, 48);
		heap_edge(&h, sched, t, NULL);
		heap_edge(&h, t, m, "_callback");
		heap_edge(&h, m, a->shared ? service : sess, "__self__");
		heap_edge(&h, m, func, "__func__");
		uint32_t args = 0;
		if (a->shared) { /* the session rides as the argument instead */
			args = heap_node(&h, "builtins.tuple", beat + 0x400, 48);
			heap_edge(&h, t, args, "_args");
			heap_edge(&h, args, sess, NULL);
			heap_edge(&h, args, func, NULL); /* a second argument all share */
		}
		if (a->held)
			heap_edge(&h, held, sess, NULL);
		heap_rec(&h, t, "handle");
		heap_ref(&h, "callback", m);
		heap_str(&h, "callback_name", "Session.beat");
		heap_bool(&h, "cancelled", false);
		heap_flt(&h, "when", a->once ? 1300.0 : 1000.05 + 10.0 * k);
		heap_bool(&h, "scheduled", true);
		if (a->shared)
			heap_ref(&h, "args", args);
	}
	char header[128];
	snprintf(header, sizeof(header),
		 "{\"producer\":\"test\",\"pid\":7,\"process_start\":1.5,\"monotonic\":%.1f}",
		 1000.0 + 10.0 * k); /* ten seconds apart */
	heap_write_header(&h, path, header);
}

static struct asnap_findings beats_findings(const uint32_t count[3], bool fresh, bool held,
					    bool shared)
{
	struct beats_args a = {count, fresh, held, shared, false};
	return three_findings(write_beats, &a, 1u << ASNAP_CHECK_UNCANCELLED_HANDLE,
			      asnap_builtin_rules);
}

/* Heartbeats started per session and never stopped: the sessions, let go
 * of by the program, live on in the chains, which multiply. Found, named
 * by the callback, the sessions' timers its objects. */
START_TEST(timer_chains_that_multiply_are_found)
{
	for (int shared = 0; shared <= 1; shared++) {
		struct asnap_findings f =
			beats_findings((uint32_t[]){20, 60, 100}, false, false, shared);
		ck_assert_uint_eq(f.count, 1);
		ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCANCELLED_HANDLE);
		ck_assert_uint_eq(f.items[0].count, 100);
		ck_assert_msg(strstr(f.items[0].summary, "100 timer chains of Session.beat") &&
				      strstr(f.items[0].summary, "20 -> 60 -> 100") &&
				      strstr(f.items[0].summary, "Session alive"),
			      "%s", f.items[0].summary);
		asnap_findings_release(&f);
	}
	/* ten that ended between the second and the last: what is counted is
	 * the chains still running at the end, as each snapshot saw them */
	struct asnap_findings f = beats_findings((uint32_t[]){20, 70, 60}, false, false, false);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_msg(strstr(f.items[0].summary, "60 timer chains of Session.beat") &&
			      strstr(f.items[0].summary, "20 -> 60 -> 60"),
		      "%s", f.items[0].summary);
	asnap_findings_release(&f);
}
END_TEST

/* What a program with heartbeats does right, or a rising load: sessions
 * that end while new ones start (fresh), open sessions the program holds
 * (held), as many chains throughout (a count that wobbles over the same
 * ones), too few more, none before the last; and timers that do not
 * re-arm: no finding. */
START_TEST(timer_chains_replaced_held_or_bounded_are_not_leaks)
{
	struct asnap_findings f = beats_findings((uint32_t[]){20, 60, 100}, true, false, false);
	assert_none(&f);
	f = beats_findings((uint32_t[]){20, 60, 100}, false, true, false);
	assert_none(&f);
	f = beats_findings((uint32_t[]){100, 100, 100}, false, false, false);
	assert_none(&f);
	f = beats_findings((uint32_t[]){20, 25, 29}, false, false, false);
	assert_none(&f);
	f = beats_findings((uint32_t[]){0, 0, 100}, false, false, false);
	assert_none(&f);
	f = beats_findings((uint32_t[]){60, 70, 60}, false, false, false);
	assert_none(&f);
	/* timers set once that keep what they carry until they fire (asyncpg's
	 * inactivity timers after pool.close()): the same timers throughout */
	struct beats_args once = {(uint32_t[]){20, 60, 100}, false, false, false, true};
	f = three_findings(write_beats, &once, 1u << ASNAP_CHECK_UNCANCELLED_HANDLE,
			   asnap_builtin_rules);
	assert_none(&f);
}
END_TEST

/*
 * Snapshot k of a client of websockets' legacy protocol: count[k]
 * connections the program keeps in a list, never closed (at the same
 * addresses in every snapshot). Each connection is an asyncio protocol: it
 * and its transport hold each other, its transport is held from C too
 * (uvloop's, while it reads: an external root), and its reader task, a
 * pending task of the connection's own, is its attribute, the coroutine's
 * self. A lone connection has sent its close frame (close() called).
 */
struct ws_args {
	const uint32_t *count;
	bool server;        /* the program serves the other ends too */
	bool server_closed; /* ... and its side is closed (but for three), its
			     * tasks left pending */
};

/* The records of pending task t, its suspended coroutine co (qualname),
 * both waiting on w. */
static void task_recs(struct heap *h, uint32_t t, uint32_t co, uint32_t w, const char *qualname)
{
	heap_rec(h, t, "task");
	heap_str(h, "state", "pending");
	heap_ref(h, "coro", co);
	heap_ref(h, "waiting_on", w);
	heap_rec(h, co, "coroutine");
	heap_str(h, "state", "suspended");
	heap_str(h, "qualname", qualname);
	heap_ref(h, "awaiting", w);
}

/* A pending task (coroutine qualname) holder keeps under label, its
 * coroutine's self `self`, waiting on a future resolver keeps, at base. */
static uint32_t ws_task(struct heap *h, uint32_t self, uint32_t holder, const char *label,
			uint32_t resolver, const char *qualname, uint64_t base)
{
	uint32_t t = heap_node(h, "_asyncio.Task", base, 200);
	uint32_t co = heap_node(h, "builtins.coroutine", base + 0x200, 150);
	uint32_t fu = heap_node(h, "_asyncio.Future", base + 0x400, 100);
	heap_edge(h, holder, t, label);
	heap_edge(h, t, co, "_coro");
	heap_edge(h, co, self, "self");
	heap_edge(h, t, fu, "_fut_waiter");
	heap_edge(h, co, fu, "cr_await");
	heap_edge(h, resolver, fu, "_waiter");
	task_recs(h, t, co, fu, qualname);
	heap_rec(h, fu, "future");
	heap_str(h, "state", "pending");
	return co;
}

static const char TRANSFER[] = "WebSocketCommonProtocol.transfer_data";

static void write_wsconns(const char *path, int k, const void *arg)
{
	const struct ws_args *a = arg;
	const uint32_t *count = a->count;
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t feed = heap_node(&h, "__main__.Feed", 0x10100, 48);
	uint32_t conns = heap_node(&h, "builtins.list", 0x10200, 64);
	uint32_t close = heap_node(&h, "websockets.frames.Close", 0x10300, 48);
	heap_edge(&h, mods, feed, "feed");
	heap_edge(&h, feed, conns, "conns");
	heap_root(&h, mods, "sys.modules");
	uint32_t srv = 0, served = 0, handlers = 0;
	if (a->server) {
		/* the server (a pool of its connections), and three futures of
		 * its own that nothing awaits: there from the start */
		srv = heap_node(&h, "websockets.legacy.server.WebSocketServer", 0x10400, 48);
		served = heap_node(&h, "builtins.set", 0x10600, 64);
		handlers = heap_node(&h, "builtins.set", 0x10700, 64);
		heap_edge(&h, feed, srv, "server");
		heap_edge(&h, srv, served, "websockets");
		heap_edge(&h, srv, handlers, "handler_tasks");
		for (uint32_t j = 0; j < 3; j++) {
			uint32_t waiter = heap_node(&h, "_asyncio.Future", 0x10800 + j * 0x100, 100);
			heap_edge(&h, srv, waiter, j ? "listener_waiter" : "closed_waiter");
			heap_rec(&h, waiter, "future");
			heap_str(&h, "state", "pending");
		}
	}
	for (uint32_t i = 0; i < count[k]; i++) {
		uint64_t base = 0x7f0000000000ull + i * 0x4000;
		uint32_t c = heap_node(&h, "websockets.legacy.client.WebSocketClientProtocol", base, 56);
		uint32_t tr = heap_node(&h, "asyncio.selector_events._SelectorSocketTransport",
					base + 0x200, 64);
		uint32_t lost = heap_node(&h, "_asyncio.Future", base + 0xa00, 100);
		heap_edge(&h, conns, c, NULL);
		heap_edge(&h, c, tr, "transport");
		heap_edge(&h, tr, c, "_protocol");
		ws_task(&h, c, c, "transfer_data_task", c, TRANSFER, base + 0x400);
		/* a future of the connection's own that nothing awaits */
		heap_edge(&h, c, lost, "connection_lost_waiter");
		heap_rec(&h, lost, "future");
		heap_str(&h, "state", "pending");
		h.extra_refs[tr] = 1;
		if (a->server) {
			/* the other end: the server's connection (which refers
			 * to its server), its transport, its own reader task
			 * (one group with the client's) waiting on its stream
			 * reader, and its handler task as websockets 14+ keeps
			 * it: in the server's set, the coroutine the server's
			 * method, the connection its argument */
			uint32_t sc = heap_node(&h, "websockets.legacy.server.WebSocketServerProtocol",
						base + 0x2000, 56);
			uint32_t str = heap_node(&h, "asyncio.selector_events._SelectorSocketTransport",
						 base + 0x2200, 64);
			uint32_t d = heap_node(&h, "builtins.dict", base + 0x2400, 64);
			uint32_t rd = heap_node(&h, "asyncio.streams.StreamReader", base + 0x2500, 64);
			heap_edge(&h, served, sc, NULL);
			heap_edge(&h, sc, str, "transport");
			heap_edge(&h, str, sc, "_protocol");
			heap_edge(&h, sc, d, "__dict__");
			heap_edge(&h, d, srv, "ws_server");
			heap_edge(&h, d, rd, "reader");
			ws_task(&h, sc, d, "transfer_data_task", rd, TRANSFER, base + 0x2600);
			uint32_t co = ws_task(&h, srv, handlers, NULL, rd, "Server.handler",
					      base + 0x3000);
			heap_edge(&h, co, sc, "connection");
			/* and, as aiohttp's server runs a request, a task the
			 * connection's task awaits, held by nothing else, whose
			 * coroutine keeps a library object with a future that is
			 * pending while it waits (WebSocketResponse._waiting) */
			uint32_t ht = heap_node(&h, "_asyncio.Task", base + 0x3600, 200);
			uint32_t hco = heap_node(&h, "builtins.coroutine", base + 0x3700, 150);
			uint32_t it = heap_node(&h, "_asyncio.Task", base + 0x3800, 200);
			uint32_t ico = heap_node(&h, "builtins.coroutine", base + 0x3900, 150);
			uint32_t lib = heap_node(&h, "websockets.Receiver", base + 0x3a00, 64);
			uint32_t wfu = heap_node(&h, "_asyncio.Future", base + 0x3b00, 100);
			uint32_t rfu = heap_node(&h, "_asyncio.Future", base + 0x3c00, 100);
			heap_edge(&h, d, ht, "handler_task");
			heap_edge(&h, ht, hco, "_coro");
			heap_edge(&h, hco, sc, "self");
			heap_edge(&h, ht, it, "_fut_waiter");
			heap_edge(&h, hco, it, "cr_await");
			heap_edge(&h, it, ico, "_coro");
			heap_edge(&h, ico, sc, "ws");
			heap_edge(&h, ico, lib, "receiver");
			heap_edge(&h, lib, wfu, "_waiting");
			heap_edge(&h, it, rfu, "_fut_waiter");
			heap_edge(&h, ico, rfu, "cr_await");
			heap_edge(&h, rd, rfu, "_next");
			task_recs(&h, ht, hco, it, "WebSocketServerProtocol.handler");
			task_recs(&h, it, ico, rfu, "Server.ws_handler");
			heap_rec(&h, wfu, "future");
			heap_str(&h, "state", "pending");
			heap_rec(&h, rfu, "future");
			heap_str(&h, "state", "pending");
			/* its keep-alive timer, due in an hour (aiohttp 3.14's
			 * server connections have one while their client keeps
			 * them open), held by the connection and the loop */
			uint32_t ka = heap_node(&h, "asyncio.events.TimerHandle", base + 0x3d00, 96);
			uint32_t kam = heap_node(&h, "builtins.method", base + 0x3e00, 48);
			heap_edge(&h, d, ka, "_keepalive_handle");
			heap_edge(&h, ka, kam, "_callback");
			heap_edge(&h, kam, sc, "__self__");
			h.extra_refs[ka] = 1;
			heap_rec(&h, ka, "handle");
			heap_ref(&h, "callback", kam);
			heap_str(&h, "callback_name", "RequestHandler._process_keepalive");
			heap_bool(&h, "cancelled", false);
			heap_flt(&h, "when", 5000.0);
			heap_bool(&h, "scheduled", true);
			h.extra_refs[str] = 1;
			heap_rec(&h, str, "attrs");
			heap_bool(&h, "_closing", a->server_closed && i >= 3);
		}
		heap_rec(&h, c, "attrs");
		heap_none(&h, "close_rcvd");
		if (count[k] == 1) /* closed: sent its close frame */
			heap_ref(&h, "close_sent", close);
		else
			heap_none(&h, "close_sent");
		heap_rec(&h, tr, "attrs");
		heap_bool(&h, "_closing", false);
	}
	heap_write_header(&h, path,
			  "{\"producer\":\"test\",\"pid\":7,\"process_start\":1.5,\"code\":"
			  "{\"stdlib\":\"/usr/lib/python3.11\",\"library_modules\":"
			  "[\"builtins\",\"asyncio\",\"_asyncio\",\"websockets\"]}}");
}

/* Connections never closed that pile up: the finding is the connections,
 * not the reader tasks they run (those pend because the connections are
 * open: folded into it), nor their transports (each inside its
 * connection); and it says who in the program holds them, not the C
 * code that holds their transports. */
START_TEST(connections_not_their_tasks_are_the_leak)
{
	struct ws_args rising = {(uint32_t[]){5, 15, 25}, false, false};
	struct asnap_findings f = three_findings(write_wsconns, &rising, UINT32_MAX,
						 asnap_builtin_rules);
	ck_assert_msg(f.count == 1, "%u findings, first: %s", f.count,
		      f.count ? f.items[0].summary : "");
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCLOSED_RESOURCE);
	ck_assert_msg(strstr(f.items[0].summary, "websockets.legacy.client.WebSocketClientProtocol") &&
			      strstr(f.items[0].summary, "5 -> 15 -> 25") &&
			      strstr(f.items[0].summary, "held by __main__.Feed.conns"),
		      "%s", f.items[0].summary);
	ck_assert_uint_eq(f.items[0].count, 25);
	bool tasks = false;
	for (uint32_t i = 0; i < f.items[0].nalso; i++)
		tasks |= f.items[0].also[i].check == ASNAP_CHECK_PENDING_TASK;
	ck_assert_msg(tasks, "the reader tasks are not folded into the connections");
	asnap_findings_release(&f);
	/* as many open throughout (the program's connections), or one closed:
	 * nothing */
	struct ws_args steady = {(uint32_t[]){5, 5, 5}, false, false};
	f = three_findings(write_wsconns, &steady, UINT32_MAX, asnap_builtin_rules);
	assert_none(&f);
	struct ws_args closed = {(uint32_t[]){1, 1, 1}, false, false};
	f = three_findings(write_wsconns, &closed, UINT32_MAX, asnap_builtin_rules);
	assert_none(&f);
}
END_TEST

/*
 * The same clients, served in the same process (a test suite's server):
 * the server's side of each connection is open as long as the client
 * keeps it, in the server's pool, with its own reader task, one group with
 * the clients' tasks, and its keep-alive timer. Still one finding, the
 * clients' connections: the server's tasks and timers are its pool's (and
 * its pool counts as one), the clients'
 * fold into their connections, and so do the clients' futures that nothing
 * awaits, though the server's three such futures are among them from the
 * start. With the server's side closed and its tasks left pending (a
 * handler that never returns), those tasks are findings of their own,
 * though the server's three open connections still refer to the server.
 */
START_TEST(a_servers_side_of_leaked_clients_is_the_clients_leak)
{
	struct ws_args both = {(uint32_t[]){5, 15, 25}, true, false};
	struct asnap_findings f = three_findings(write_wsconns, &both, UINT32_MAX,
						 asnap_builtin_rules);
	ck_assert_msg(f.count == 1, "%u findings, first: %s, second: %s", f.count,
		      f.count ? f.items[0].summary : "", f.count > 1 ? f.items[1].summary : "");
	ck_assert_int_eq(f.items[0].check, ASNAP_CHECK_UNCLOSED_RESOURCE);
	ck_assert_msg(strstr(f.items[0].summary, "websockets.legacy.client.WebSocketClientProtocol") &&
			      strstr(f.items[0].summary, "5 -> 15 -> 25"),
		      "%s", f.items[0].summary);
	bool tasks = false, futures = false;
	for (uint32_t i = 0; i < f.items[0].nalso; i++) {
		const struct asnap_finding_also *x = &f.items[0].also[i];
		if (x->check == ASNAP_CHECK_PENDING_TASK) {
			tasks = true;
			ck_assert_msg(x->count == 25, "%u tasks: the server's are counted", x->count);
		}
		futures |= x->check == ASNAP_CHECK_PENDING_FUTURE && strstr(x->summary, "28");
	}
	ck_assert_msg(tasks && futures, "the clients' tasks and futures are not folded in");
	asnap_findings_release(&f);
	struct ws_args hung = {(uint32_t[]){5, 15, 25}, true, true};
	f = three_findings(write_wsconns, &hung, UINT32_MAX, asnap_builtin_rules);
	bool readers = false, handlers = false;
	for (uint32_t i = 0; i < f.count; i++) {
		if (f.items[i].check != ASNAP_CHECK_PENDING_TASK)
			continue;
		readers |= strstr(f.items[i].summary, TRANSFER) != NULL;
		handlers |= strstr(f.items[i].summary, "Server.handler") != NULL;
	}
	ck_assert_msg(readers && handlers, "the tasks of the server's closed side are not reported");
	asnap_findings_release(&f);
	/* the clients' connections held, as many throughout: nothing */
	struct ws_args steady = {(uint32_t[]){5, 5, 5}, true, false};
	f = three_findings(write_wsconns, &steady, UINT32_MAX, asnap_builtin_rules);
	assert_none(&f);
}
END_TEST

/*
 * A library's response (mylib.Response, open while its connection is
 * acquired) whose attributes are in a __dict__ object of their own (3.9,
 * 3.10, and instances with many attributes on 3.14): response ->
 * __dict__ -> dict -> _protocol -> handler -> transport is two attribute
 * steps. Responses kept in a list pile up: one finding, the responses;
 * their transports are theirs, neither a finding nor a consequence.
 */
static void write_responses(const char *path, int k, const void *arg)
{
	const uint32_t *count = arg;
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t feed = heap_node(&h, "__main__.Feed", 0x10100, 48);
	uint32_t kept = heap_node(&h, "builtins.list", 0x10200, 64);
	heap_edge(&h, mods, feed, "feed");
	heap_edge(&h, feed, kept, "kept");
	heap_root(&h, mods, "sys.modules");
	for (uint32_t i = 0; i < count[k]; i++) {
		uint64_t base = 0x7f0000000000ull + i * 0x1000;
		uint32_t r = heap_node(&h, "mylib.Response", base, 56);
		uint32_t d = heap_node(&h, "builtins.dict", base + 0x100, 200);
		uint32_t hd = heap_node(&h, "mylib.Handler", base + 0x200, 56);
		uint32_t tr = heap_node(&h, "asyncio.selector_events._SelectorSocketTransport",
					base + 0x300, 64);
		heap_edge(&h, kept, r, NULL);
		heap_edge(&h, r, d, "__dict__");
		heap_edge(&h, d, hd, "_protocol");
		heap_edge(&h, hd, tr, "transport");
		heap_edge(&h, tr, hd, "_protocol");
		h.extra_refs[tr] = 1; /* the selector's */
		heap_rec(&h, r, "attrs");
		heap_bool(&h, "_released", false);
		heap_rec(&h, tr, "attrs");
		heap_bool(&h, "_closing", false);
	}
	heap_write_header(&h, path,
			  "{\"producer\":\"test\",\"pid\":7,\"process_start\":1.5,\"code\":"
			  "{\"stdlib\":\"/usr/lib/python3.10\",\"library_modules\":"
			  "[\"builtins\",\"asyncio\",\"_asyncio\",\"mylib\"]}}");
}

START_TEST(resources_inside_others_through_their_dict_are_parts)
{
	static const char rules[] =
		"{\"rules\": [{\"type\": \"mylib.Response\", \"open_when\": {\"attr\": "
		"\"_released\", \"equals\": false}}, {\"type\": "
		"\"asyncio.selector_events._SelectorSocketTransport\", \"open_when\": {\"attr\": "
		"\"_closing\", \"equals\": false}}]}";
	struct asnap_findings f = three_findings(write_responses, (uint32_t[]){5, 15, 25},
						 UINT32_MAX, rules);
	ck_assert_msg(f.count == 1, "%u findings, first: %s, second: %s", f.count,
		      f.count ? f.items[0].summary : "", f.count > 1 ? f.items[1].summary : "");
	ck_assert_msg(strstr(f.items[0].summary, "mylib.Response") &&
			      strstr(f.items[0].summary, "held by __main__.Feed.kept"),
		      "%s", f.items[0].summary);
	ck_assert_uint_eq(f.items[0].count, 25);
	ck_assert_uint_eq(f.items[0].nalso, 0);
	asnap_findings_release(&f);
}
END_TEST

/*
 * Tasks that pile up waiting in acquire() on one asyncio.Semaphore (a slot
 * acquired and never released on an error path), kept in the program's
 * set: the finding says what they wait to acquire and gives the fix for a
 * slot never released; also where the semaphore's attributes are in a
 * __dict__ object (3.9, 3.10). Tasks piling up on a Queue's getters get
 * the plain words.
 */
struct waiting_args {
	const char *type;  /* of the object with the waiters */
	const char *label; /* _waiters, _getters */
	bool dict;
};

static void write_waiting(const char *path, int k, const void *arg)
{
	const struct waiting_args *a = arg;
	static const uint32_t count[3] = {1, 31, 61};
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t svc = heap_node(&h, "__main__.Service", 0x10100, 48);
	uint32_t tasks = heap_node(&h, "builtins.set", 0x10200, 64);
	uint32_t sem = heap_node(&h, a->type, 0x10300, 48);
	uint32_t dq = heap_node(&h, "collections.deque", 0x10400, 64);
	heap_edge(&h, mods, svc, "service");
	heap_edge(&h, svc, tasks, "tasks");
	heap_edge(&h, svc, sem, "sem");
	if (a->dict) {
		uint32_t d = heap_node(&h, "builtins.dict", 0x10500, 64);
		heap_edge(&h, sem, d, "__dict__");
		heap_edge(&h, d, dq, a->label);
	} else {
		heap_edge(&h, sem, dq, a->label);
	}
	heap_root(&h, mods, "sys.modules");
	for (uint32_t i = 0; i < count[k]; i++) {
		uint64_t base = 0x7f0000000000ull + i * 0x1000;
		uint32_t t = heap_node(&h, "_asyncio.Task", base, 200);
		uint32_t co = heap_node(&h, "builtins.coroutine", base + 0x200, 150);
		uint32_t fu = heap_node(&h, "_asyncio.Future", base + 0x400, 100);
		heap_edge(&h, tasks, t, NULL);
		heap_edge(&h, t, co, "_coro");
		heap_edge(&h, t, fu, "_fut_waiter");
		heap_edge(&h, co, fu, "cr_await");
		heap_edge(&h, dq, fu, NULL);
		heap_edge(&h, co, sem, "sem");
		task_recs(&h, t, co, fu, "handle");
		heap_rec(&h, fu, "future");
		heap_str(&h, "state", "pending");
	}
	heap_write_header(&h, path,
			  "{\"producer\":\"test\",\"pid\":7,\"process_start\":1.5,\"code\":"
			  "{\"stdlib\":\"/usr/lib/python3.11\",\"library_modules\":"
			  "[\"builtins\",\"asyncio\",\"_asyncio\",\"collections\"]}}");
}

START_TEST(tasks_waiting_to_acquire_say_so)
{
	static const struct waiting_args cases[] = {
		{"asyncio.locks.Semaphore", "_waiters", false},
		{"asyncio.locks.Semaphore", "_waiters", true},
		{"asyncio.locks.Lock", "_waiters", false},
		{"asyncio.queues.Queue", "_getters", false},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct asnap_findings f = three_findings(write_waiting, &cases[c],
							 1u << ASNAP_CHECK_PENDING_TASK,
							 asnap_builtin_rules);
		ck_assert_msg(f.count == 1, "case %zu: %u findings", c, f.count);
		const char *sum = f.items[0].summary;
		ck_assert_msg(strstr(sum, "tasks of handle() stay pending") && strstr(sum, "1 -> 31 -> 61"),
			      "%s", sum);
		bool lock = strcmp(cases[c].type, "asyncio.queues.Queue") != 0;
		char want[96];
		snprintf(want, sizeof(want), "waiting to acquire an %s", cases[c].type);
		ck_assert_msg(lock == (strstr(sum, want) != NULL), "case %zu: %s", c, sum);
		ck_assert_msg(lock == !strncmp(f.items[0].fix, "release what is acquired", 24),
			      "case %zu: %s", c, f.items[0].fix);
		asnap_findings_release(&f);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");
	tcase_add_test(tc, snapshots_load_only_what_their_role_needs);
	tcase_add_test(tc, survivors_that_grow_are_a_leak);
	tcase_add_test(tc, snapshots_of_several_processes_are_not_matched);
	tcase_add_test(tc, no_snapshot_is_a_usage_error);
	tcase_add_test(tc, reused_addresses_are_not_survivors);
	tcase_add_test(tc, steady_population_is_not_growth);
	tcase_add_test(tc, wobble_at_reused_addresses_is_not_growth);
	tcase_add_test(tc, rising_at_every_snapshot_is_growth);
	tcase_add_test(tc, settled_frames_and_coroutines_keep_their_references);
	tcase_add_test(tc, idle_connections_of_one_pool_are_not_growth);
	tcase_add_test(tc, connections_deep_in_a_pool_are_not_growth);
	tcase_add_test(tc, pools_that_pile_up_are_growth);
	tcase_add_test(tc, pools_that_are_resources_count_their_connections_as_parts);
	tcase_add_test(tc, timer_chains_that_multiply_are_found);
	tcase_add_test(tc, timer_chains_replaced_held_or_bounded_are_not_leaks);
	tcase_add_test(tc, connections_not_their_tasks_are_the_leak);
	tcase_add_test(tc, a_servers_side_of_leaked_clients_is_the_clients_leak);
	tcase_add_test(tc, resources_inside_others_through_their_dict_are_parts);
	tcase_add_test(tc, tasks_waiting_to_acquire_say_so);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
