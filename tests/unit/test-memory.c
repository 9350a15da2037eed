/*
 * test-memory.c - how the analyzer allocates (HACKING.md "Memory"): the
 * big arrays of util/bigarray.h, the arena, and the records a load sorts
 * in place. Whether the kernel then uses huge pages depends on the
 * machine (bench/README.md measures it); what is tested here is what the
 * code promises whatever the machine: alignment, contents kept across
 * growing and shrinking, zeroed memory, refusals, and the records' order.
 */
#include <check.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "heap.h"
#include "util/arena.h"
#include "util/bigarray.h"
#include "util/grow.h"

#define MiB ((size_t)1 << 20)

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 12));
}

static void assert_filled(const uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)(seed + i * 7 + (i >> 12)))
			ck_abort_msg("byte %zu of %zu changed", i, n);
}

START_TEST(big_blocks_start_on_huge_page_boundaries)
{
	for (size_t bytes = ASNAP_BIG_MIN; bytes <= 9 * MiB; bytes += 3 * MiB + 12345) {
		uint8_t *p = asnap_big_alloc(bytes, 1);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % ASNAP_HUGE_PAGE, 0);
		fill(p, bytes, 1); /* all of it is writable */
		assert_filled(p, bytes, 1);
		free(p);
	}
	/* small blocks are plain malloc, aligned as malloc aligns */
	void *small = asnap_big_alloc(100, 8);
	ck_assert_ptr_nonnull(small);
	ck_assert_uint_eq((uintptr_t)small % alignof(max_align_t), 0);
	free(small);
	void *none = asnap_big_alloc(0, 4);
	ck_assert_ptr_nonnull(none);
	free(none);
}
END_TEST

START_TEST(big_allocations_refuse_sizes_that_overflow)
{
	ck_assert_ptr_null(asnap_big_alloc(SIZE_MAX / 2, 4));
	ck_assert_ptr_null(asnap_big_alloc(SIZE_MAX, 1)); /* no room to round up */
	ck_assert_ptr_null(asnap_big_zalloc(SIZE_MAX / 8, 16));
	ck_assert_ptr_null(asnap_big_realloc(NULL, SIZE_MAX / 2, 4));
}
END_TEST

START_TEST(big_zalloc_is_zeroed)
{
	uint8_t *p = asnap_big_zalloc(5 * MiB + 3, 1);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < 5 * MiB + 3; i += 997)
		ck_assert_uint_eq(p[i], 0);
	ck_assert_uint_eq(p[5 * MiB + 2], 0);
	free(p);
}
END_TEST

START_TEST(big_realloc_keeps_contents_growing_and_shrinking)
{
	/* small, then small to big (moved to an aligned block), big to
	 * bigger (remapped), then smaller: what was written stays */
	size_t n = 300000;
	uint8_t *p = asnap_big_realloc(NULL, n, 1);
	ck_assert_ptr_nonnull(p);
	fill(p, n, 3);
	p = asnap_big_realloc(p, 5 * MiB, 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % ASNAP_HUGE_PAGE, 0);
	assert_filled(p, n, 3);
	fill(p, 5 * MiB, 4);
	p = asnap_big_realloc(p, 3, 7 * MiB);
	ck_assert_ptr_nonnull(p);
	assert_filled(p, 5 * MiB, 4);
	fill(p, 21 * MiB, 5);
	p = asnap_big_realloc(p, MiB, 2);
	ck_assert_ptr_nonnull(p);
	assert_filled(p, 2 * MiB, 5);
	p = asnap_big_realloc(p, 1000, 1);
	ck_assert_ptr_nonnull(p);
	assert_filled(p, 1000, 5);
	free(p);
}
END_TEST

START_TEST(grow_doubles_keeps_contents_and_refuses_overflow)
{
	uint32_t *v = NULL, cap = 0;
	for (uint32_t n = 0; n < 1000; n++) {
		uint32_t had = cap;
		uint32_t *more = asnap_grow(v, n, &cap, sizeof(*v), 16);
		ck_assert_ptr_nonnull(more);
		ck_assert_uint_gt(cap, n);
		if (n < had)
			ck_assert_ptr_eq(more, v); /* room already: untouched */
		else
			ck_assert_uint_eq(cap, had ? had * 2 : 16);
		v = more;
		v[n] = n * 7;
	}
	ck_assert_uint_eq(cap, 1024);
	for (uint32_t n = 0; n < 1000; n++)
		ck_assert_uint_eq(v[n], n * 7);
	/* room for an element far past the end: doubled until it fits */
	uint32_t *far = asnap_grow(v, 5000, &cap, sizeof(*v), 16);
	ck_assert_ptr_nonnull(far);
	ck_assert_uint_eq(cap, 8192);
	ck_assert_uint_eq(far[999], 999 * 7);
	free(far);

	/* refusals leave the block and its count as they were */
	uint32_t full = UINT32_MAX, big = UINT32_MAX / 2 + 1;
	char *one = malloc(1);
	ck_assert_ptr_nonnull(one);
	ck_assert_ptr_null(asnap_grow(one, UINT32_MAX, &full, 1, 16));
	ck_assert_uint_eq(full, UINT32_MAX);
	ck_assert_ptr_null(asnap_grow(one, big, &big, SIZE_MAX / 2, 16));
	ck_assert_uint_eq(big, UINT32_MAX / 2 + 1);
	free(one);
}
END_TEST

START_TEST(arena_keeps_every_allocation_apart_across_its_blocks)
{
	/* enough to double the blocks up to their largest, and one request
	 * larger than any block */
	enum { N = 40000 };
	struct asnap_arena a = {0};
	static uint8_t *ptr[N];
	static size_t len[N];
	for (size_t i = 0; i < N; i++) {
		len[i] = 1 + (i * 37) % 1500;
		if (i == N / 2)
			len[i] = 40 * MiB;
		ptr[i] = asnap_arena_alloc(&a, len[i]);
		ck_loop_ptr_nonnull(ptr[i]);
		ck_loop_uint_eq((uintptr_t)ptr[i] % alignof(max_align_t), 0);
		fill(ptr[i], len[i], (uint8_t)i);
	}
	for (size_t i = 0; i < N; i++)
		assert_filled(ptr[i], len[i], (uint8_t)i);
	ck_assert_ptr_null(asnap_arena_alloc(&a, SIZE_MAX - 4));
	asnap_arena_release(&a);
	ck_assert_ptr_null(a.head);
	/* empty and reusable */
	ck_assert_ptr_nonnull(asnap_arena_alloc(&a, 10));
	asnap_arena_release(&a);
}
END_TEST

/*
 * A load sorts the records by node, then kind. The agent writes them in
 * node order with a node's few in any order (sorted in place), but any
 * order must come out sorted: a node with many records (sorted by qsort),
 * nodes out of order (the whole table by qsort). Each record carries its
 * own number as a property, which must stay with it.
 */
static void assert_records_sorted(const char *path, uint32_t nrec_written)
{
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	ck_assert_msg(g != NULL, "%s", err.message);
	ck_assert_uint_eq(g->nrecords, nrec_written);
	uint32_t key = asnap_graph_find_string(g, "n");
	ck_assert_uint_ne(key, 0);
	for (uint64_t i = 0; i < g->nrecords; i++) {
		const struct asnap_record *r = &g->records[i];
		if (i) {
			const struct asnap_record *q = &g->records[i - 1];
			ck_assert_msg(q->node < r->node || (q->node == r->node && q->kind <= r->kind),
				      "records %llu and %llu out of order", (unsigned long long)i - 1,
				      (unsigned long long)i);
		}
		/* the property written with it: node * 100 + the kind's number */
		ck_assert_uint_eq(r->nprops, 1);
		ck_assert_uint_eq(r->props[0].key, key);
		const char *kind = asnap_graph_string(g, r->kind);
		ck_assert_int_eq(r->props[0].value.u.i, (int64_t)r->node * 100 + atoi(kind + 1));
	}
	uint64_t per_node = 0;
	ck_assert_ptr_nonnull(asnap_graph_records(g, 3, &per_node));
	ck_assert_uint_eq(per_node, 3);
	asnap_graph_destroy(g);
}

static void rec(struct heap *h, uint32_t node, unsigned kind)
{
	char name[8];
	snprintf(name, sizeof(name), "k%02u", kind);
	/* heap.h keeps the kind's pointer until written */
	static char names[64][8];
	memcpy(names[kind], name, sizeof(name));
	heap_rec(h, node, names[kind]);
	heap_int(h, "n", (int64_t)node * 100 + kind);
}

static uint32_t records_heap(struct heap *h)
{
	heap_init(h);
	for (uint32_t v = 0; v < 8; v++)
		heap_node(h, "builtins.object", 0x1000 + 16 * v, 16);
	heap_root(h, 0, "sys.modules");
	/* the kinds' string ids in the order k00, k01, ... k39 */
	for (unsigned k = 0; k < 40; k++)
		rec(h, 0, k);
	return 40;
}

START_TEST(records_of_a_node_written_in_any_order_are_sorted)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "few.snap");
	static struct heap h;
	uint32_t n = records_heap(&h);
	rec(&h, 3, 7), rec(&h, 3, 2), rec(&h, 3, 5); /* node order, kinds not */
	rec(&h, 5, 9), rec(&h, 5, 1);
	n += 5;
	heap_write(&h, path, 1);
	assert_records_sorted(path, n);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(a_node_with_many_records_and_nodes_out_of_order_are_sorted)
{
	struct tmpdir d = tmpdir_create();
	char *many = tmpdir_path(&d, "many.snap"), *shuffled = tmpdir_path(&d, "shuffled.snap");
	static struct heap h;
	uint32_t n = records_heap(&h);
	rec(&h, 3, 1), rec(&h, 3, 0), rec(&h, 3, 2);
	for (unsigned k = 39; k >= 10; k--) /* 30 records of node 6, kinds descending */
		rec(&h, 6, k);
	n += 33;
	heap_write(&h, many, 1);
	assert_records_sorted(many, n);

	n = records_heap(&h);
	rec(&h, 7, 4), rec(&h, 3, 9), rec(&h, 2, 1), rec(&h, 3, 3), rec(&h, 3, 6), rec(&h, 1, 8);
	n += 6;
	heap_write(&h, shuffled, 1);
	assert_records_sorted(shuffled, n);
	free(many);
	free(shuffled);
	tmpdir_destroy(&d);
}
END_TEST

static Suite *memory_suite(void)
{
	Suite *s = suite_create("memory");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, big_blocks_start_on_huge_page_boundaries);
	tcase_add_test(tc, big_allocations_refuse_sizes_that_overflow);
	tcase_add_test(tc, big_zalloc_is_zeroed);
	tcase_add_test(tc, big_realloc_keeps_contents_growing_and_shrinking);
	tcase_add_test(tc, grow_doubles_keeps_contents_and_refuses_overflow);
	tcase_add_test(tc, arena_keeps_every_allocation_apart_across_its_blocks);
	tcase_add_test(tc, records_of_a_node_written_in_any_order_are_sorted);
	tcase_add_test(tc, a_node_with_many_records_and_nodes_out_of_order_are_sorted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(memory_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
