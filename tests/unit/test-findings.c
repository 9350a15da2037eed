/*
 * test-findings.c - what is done with findings after the checks: the
 * retained size of a finding is that of the set of its objects (what
 * freeing them all frees, counted once), never more than the heap; the
 * chain shown is of an object that makes the growth, and goes through the
 * program's own objects where one does.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks.h"
#include "heap.h"

#define N 50
#define SHARED 1000000u

/*
 * A list the program keeps holds N coroutines never awaited; all of them
 * hold one large shared buffer (nothing else does), and each its own
 * small argument. With `with_coros` false, the same heap without them.
 */
static void write_shared(const char *path, bool with_coros)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t backlog = heap_node(&h, "builtins.list", 0x10100, 64);
	uint32_t buf = heap_node(&h, "builtins.bytearray", 0x10200, SHARED);
	heap_edge(&h, mods, backlog, "backlog");
	heap_root(&h, mods, "sys.modules");
	for (uint32_t i = 0; with_coros && i < N; i++) {
		uint32_t c = heap_node(&h, "builtins.coroutine", 0x20000 + i * 0x100, 200);
		uint32_t arg = heap_node(&h, "builtins.dict", 0x80000 + i * 0x100, 300);
		heap_edge(&h, backlog, c, "[i]");
		heap_edge(&h, c, buf, "payload");
		heap_edge(&h, c, arg, "request");
		heap_rec(&h, c, "coroutine");
		heap_str(&h, "state", "created");
		heap_str(&h, "qualname", "Service.audit");
	}
	heap_write(&h, path, 7);
}

static uint64_t reachable_bytes(const char *path, uint64_t *all)
{
	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
	ck_assert_msg(s, "%s", err.message);
	ck_assert_int_eq(asnap_snap_retention(s, &err), 0);
	uint64_t sum = 0;
	*all = 0;
	for (uint32_t v = 0; v < s->g->n; v++) {
		*all += asnap_graph_size(s->g, v);
		if (!asnap_dom_is_garbage(&s->ret.dom, v))
			sum += asnap_graph_size(s->g, v);
	}
	asnap_snap_destroy(s);
	return sum;
}

START_TEST(retained_is_that_of_the_set)
{
	struct tmpdir d = tmpdir_create();
	char *with = tmpdir_path(&d, "with"), *without = tmpdir_path(&d, "without");
	write_shared(with, true);
	write_shared(without, false);
	uint64_t all, all2;
	uint64_t freed = reachable_bytes(with, &all) - reachable_bytes(without, &all2);
	ck_assert_uint_eq(freed, N * (200 + 300) + SHARED);

	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(with, ASNAP_SNAP_MATCH, &err);
	ck_assert_msg(s, "%s", err.message);
	struct asnap_rules rules;
	asnap_rules_init(&rules);
	struct asnap_checks_options opt = {.mask = 1u << ASNAP_CHECK_UNAWAITED_COROUTINE, .rules = &rules};
	struct asnap_findings f;
	ck_assert_msg(asnap_checks_run(&s, 1, &opt, &f, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_uint_eq(f.items[0].count, N);
	/* not N times the shared buffer, and not without it either */
	ck_assert_uint_eq(f.items[0].retained, freed);
	ck_assert_uint_le(f.items[0].retained, all);
	/* each object alone frees only its own part */
	for (uint32_t i = 0; i < f.items[0].nobjects; i++)
		ck_assert_uint_eq(f.items[0].objects[i].retained, 200 + 300);
	asnap_findings_release(&f);
	asnap_snap_destroy(s);
	free(with);
	free(without);
	tmpdir_destroy(&d);
}
END_TEST

/*
 * A registry that gains futures nothing awaits (3, 5, 7 across three
 * snapshots) and, in the same group, one constant bystander: a
 * connection protocol's _closed future, drawn first (the lowest node id)
 * and as large. The chain shown and the owner named are those of a future
 * that makes the growth, not of the bystander.
 */
static void write_replies(const char *path, uint32_t n)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t proto = heap_node(&h, "asyncio.streams.StreamReaderProtocol", 0x10100, 56);
	uint32_t closed = heap_node(&h, "_asyncio.Future", 0x10200, 144);
	uint32_t rpc = heap_node(&h, "__main__.Rpc", 0x10300, 56);
	uint32_t waiting = heap_node(&h, "builtins.dict", 0x10400, 64);
	heap_edge(&h, mods, proto, "protocol");
	heap_edge(&h, proto, closed, "_closed");
	heap_edge(&h, mods, rpc, "rpc");
	heap_edge(&h, rpc, waiting, "waiting");
	heap_root(&h, mods, "sys.modules");
	heap_rec(&h, closed, "future");
	heap_str(&h, "state", "pending");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t f = heap_node(&h, "_asyncio.Future", 0x20000 + i * 0x100, 144);
		heap_edge(&h, waiting, f, "value");
		heap_rec(&h, f, "future");
		heap_str(&h, "state", "pending");
	}
	heap_write(&h, path, 7);
}

/* Three snapshots in d, snapshot k written by write(path, k, arg), loaded. */
static void load_three(const struct tmpdir *d, void (*write)(const char *, uint32_t, int),
		       int arg, struct asnap_snap *snaps[3])
{
	struct asnap_error err = {0};
	for (uint32_t k = 0; k < 3; k++) {
		char name[8];
		snprintf(name, sizeof(name), "%u", k);
		char *path = tmpdir_path(d, name);
		write(path, k, arg);
		snaps[k] = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
		ck_assert_msg(snaps[k], "%s", err.message);
		free(path);
	}
}

static void write_replies_k(const char *path, uint32_t k, int arg)
{
	(void)arg;
	write_replies(path, 2 + 2 * k); /* with the bystander: 3, 5, 7 */
}

START_TEST(chain_is_of_an_object_that_makes_the_growth)
{
	struct tmpdir d = tmpdir_create();
	struct asnap_snap *snaps[3];
	struct asnap_error err = {0};
	load_three(&d, write_replies_k, 0, snaps);
	struct asnap_rules rules;
	asnap_rules_init(&rules);
	struct asnap_checks_options opt = {.mask = 1u << ASNAP_CHECK_PENDING_FUTURE, .rules = &rules};
	struct asnap_findings f;
	ck_assert_msg(asnap_checks_run(snaps, 3, &opt, &f, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(f.count, 1);
	const struct asnap_finding *x = &f.items[0];
	ck_assert_uint_eq(x->count, 7);
	ck_assert(x->objects[0].born_kept);
	ck_assert_uint_ne(snaps[2]->g->addr[x->objects[0].node], 0x10200);
	/* the two born after the first snapshot and kept come first; the
	 * bystander, the futures of the first snapshot and the newest after */
	for (uint32_t i = 0; i < 7; i++)
		ck_assert_int_eq(x->objects[i].born_kept, i < 2);
	ck_assert_uint_ge(x->path_len, 3);
	ck_assert_str_eq(asnap_graph_string(snaps[2]->g, snaps[2]->g->type[x->path[1]]),
			 "__main__.Rpc");
	ck_assert_uint_eq(x->path[x->path_len - 1], x->objects[0].node);
	asnap_findings_release(&f);
	asnap_rules_release(&rules);
	for (uint32_t k = 0; k < 3; k++)
		asnap_snap_destroy(snaps[k]);
	tmpdir_destroy(&d);
}
END_TEST

/*
 * Open connections of which the program keeps one end (the client's, in
 * App.kept) and the loop's selector alone the other (the server's, each
 * holding a larger buffer: the worst objects). The chain shown goes
 * through the program's list to a client end, and names the program's
 * holder (by its attribute, also where the instance's __dict__ is an
 * object of its own: 3.9, 3.10); without the program's code known (an
 * older agent), the worst object's chain through the loop.
 */
static void write_ends(const char *path, uint32_t n, bool code, bool dict)
{
	static struct heap h;
	heap_init(&h);
	uint32_t mods = heap_node(&h, "builtins.dict", 0x10000, 64);
	uint32_t loop = heap_node(&h, "asyncio.unix_events._UnixSelectorEventLoop", 0x10100, 64);
	uint32_t sel = heap_node(&h, "selectors.EpollSelector", 0x10200, 48);
	uint32_t map = heap_node(&h, "builtins.dict", 0x10300, 64);
	uint32_t app = heap_node(&h, "__main__.App", 0x10400, 48);
	uint32_t kept = heap_node(&h, "builtins.list", 0x10500, 64);
	heap_edge(&h, mods, loop, "loop");
	heap_edge(&h, mods, app, "app");
	heap_edge(&h, loop, sel, "_selector");
	heap_edge(&h, sel, map, "_fd_to_key");
	if (dict) {
		uint32_t attrs = heap_node(&h, "builtins.dict", 0x10600, 64);
		heap_edge(&h, app, attrs, "__dict__");
		heap_edge(&h, attrs, kept, "kept");
	} else {
		heap_edge(&h, app, kept, "kept");
	}
	heap_root(&h, mods, "sys.modules");
	heap_rec(&h, loop, "loop");
	const char *transport = "asyncio.selector_events._SelectorSocketTransport";
	for (uint32_t i = 0; i < n; i++) {
		uint64_t base = 0x7f0000000000ull + i * 0x1000;
		uint32_t server = heap_node(&h, transport, base, 200);
		uint32_t buf = heap_node(&h, "builtins.bytearray", base + 0x200, 4096);
		uint32_t client = heap_node(&h, transport, base + 0x400, 200);
		uint32_t writer = heap_node(&h, "asyncio.streams.StreamWriter", base + 0x600, 48);
		heap_edge(&h, map, server, "value");
		heap_edge(&h, map, client, "value");
		heap_edge(&h, server, buf, "_buffer");
		heap_edge(&h, kept, writer, NULL);
		heap_edge(&h, writer, client, "_transport");
		uint32_t ends[2] = {server, client};
		for (int k = 0; k < 2; k++) {
			heap_rec(&h, ends[k], "attrs");
			heap_bool(&h, "_closing", false);
		}
	}
	if (code)
		heap_write_header(&h, path,
				  "{\"producer\":\"test\",\"pid\":7,\"process_start\":1.5,\"code\":"
				  "{\"stdlib\":\"/usr/lib/python3.11\",\"library_modules\":"
				  "[\"builtins\",\"asyncio\",\"_asyncio\",\"selectors\"]}}");
	else
		heap_write(&h, path, 7);
}

static void write_ends_k(const char *path, uint32_t k, int code)
{
	write_ends(path, 2 + 4 * k, code > 0, code == 1);
}

START_TEST(chain_goes_through_the_program_where_it_can)
{
	/* 2: the program's code known, 1: also with __dict__ objects, 0: not known */
	for (int code = 2; code >= 0; code--) {
		struct tmpdir d = tmpdir_create();
		struct asnap_snap *snaps[3];
		struct asnap_error err = {0};
		load_three(&d, write_ends_k, code, snaps);
		struct asnap_rules rules;
		asnap_rules_init(&rules);
		ck_assert_int_eq(asnap_rules_add_json(&rules, asnap_builtin_rules, &err), 0);
		struct asnap_checks_options opt = {.mask = 1u << ASNAP_CHECK_UNCLOSED_RESOURCE,
						   .rules = &rules};
		struct asnap_findings f;
		ck_assert_msg(asnap_checks_run(snaps, 3, &opt, &f, &err) == 0, "%s", err.message);
		ck_assert_uint_eq(f.count, 1);
		const struct asnap_finding *x = &f.items[0];
		const struct asnap_graph *g = snaps[2]->g;
		ck_assert_uint_eq(x->count, 20);
		/* the worst is a server's end */
		ck_assert_uint_eq(g->addr[x->objects[0].node] & 0xfff, 0);
		ck_assert_uint_ge(x->path_len, 2);
		uint32_t last = x->path[x->path_len - 1];
		ck_assert_str_eq(asnap_graph_string(g, g->type[last]),
				 "asyncio.selector_events._SelectorSocketTransport");
		if (code) {
			/* a client's end, where the program keeps it */
			ck_assert_uint_eq(g->addr[last] & 0xfff, 0x400);
			ck_assert_str_eq(asnap_graph_string(g, g->type[x->path[1]]), "__main__.App");
			ck_assert_ptr_nonnull(strstr(x->summary, "held by __main__.App.kept"));
			ck_assert(x->in_user_code);
		} else {
			ck_assert_uint_eq(last, x->objects[0].node);
		}
		asnap_findings_release(&f);
		asnap_rules_release(&rules);
		for (uint32_t k = 0; k < 3; k++)
			asnap_snap_destroy(snaps[k]);
		tmpdir_destroy(&d);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("findings");
	TCase *tc = tcase_create("findings");
	tcase_add_test(tc, retained_is_that_of_the_set);
	tcase_add_test(tc, chain_is_of_an_object_that_makes_the_growth);
	tcase_add_test(tc, chain_goes_through_the_program_where_it_can);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
