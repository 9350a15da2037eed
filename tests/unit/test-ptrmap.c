/*
 * test-ptrmap.c - the agent's address map (snapshot-agent/walk/ptrmap.h):
 * what is put is found, through growth; and a small map of keys laid out
 * the way interned label strings are (a few dozen to a page, at the same
 * offsets in every page) keeps its lookups short. Hashed by page window as
 * the map of every object is, the label map of a 1M-object take had runs
 * of 300 to 1,200 filled slots in some processes (the addresses of its
 * strings decide), and their take() was 1.4-2.8x slower. And the small
 * tables one walk keeps for the next (mapped_keep) come back empty, and
 * big ones are given back.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap, as Python.h gives the agent */
#endif
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "ckloop.h"
#include "ptrmap.h"

/* A deterministic sequence (xorshift64). */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The slots a lookup of key visits before it finds it. */
static size_t probes(const struct ptrmap *m, uintptr_t key)
{
	size_t n = 1;
	for (size_t i = ptrmap_slot(m, key); m->slots[i].key != key; i = (i + 1) & m->mask)
		n++;
	return n;
}

static void put_get(struct ptrmap *m, size_t n)
{
	uint64_t s = 42;
	uintptr_t *keys = malloc(n * sizeof(*keys));
	ck_assert_ptr_nonnull(keys);
	for (size_t i = 0; i < n; i++) {
		/* 16-byte aligned, somewhere in 64 GiB; the odd duplicate is
		 * found, not put twice */
		keys[i] = (uintptr_t)(0x7f0000000000ull + (next_rand(&s) % (1ull << 36) & ~15ull));
		uint32_t old = UINT32_MAX;
		int r = ptrmap_put(m, keys[i], (uint32_t)i, &old);
		ck_loop(r >= 0);
		if (r == 0)
			keys[i] = 0;
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i])
			ck_loop_msg(ptrmap_get(m, keys[i]) == i, "key %zu: %u", i,
				    ptrmap_get(m, keys[i]));
	ck_assert_uint_eq(ptrmap_get(m, 0x10), UINT32_MAX);
	uint32_t old = UINT32_MAX;
	ck_assert_int_eq(ptrmap_put(m, keys[n / 2] ? keys[n / 2] : keys[n / 2 + 1], 7, &old), 0);
	ck_assert_uint_lt(old, n);
	free(keys);
}

START_TEST(what_is_put_is_found_through_growth)
{
	struct ptrmap m;
	/* sized for far fewer: the map grows, several times, and keeps its
	 * hashing */
	ck_assert(ptrmap_init(&m, 1000));
	put_get(&m, 200000);
	ck_assert_uint_eq(m.window, 8);
	ck_assert_uint_gt(m.mask + 1, 200000);
	ptrmap_release(&m);
	ck_assert(ptrmap_init_scattered(&m, 1000));
	put_get(&m, 200000);
	ck_assert_uint_eq(m.window, 0);
	ptrmap_release(&m);
}
END_TEST

/*
 * 10,850 labels (what a 1M-object take names by str): small strs of 80
 * bytes, 51 to a 4 KiB page, in runs of 64 consecutive pages (an arena)
 * at scattered addresses.
 */
static double label_probes(struct ptrmap *m, size_t *worst)
{
	uint64_t s = 7;
	size_t total = 0, n = 0;
	*worst = 0;
	uintptr_t arena = 0;
	for (size_t page = 0; n < 10850; page++) {
		if (page % 64 == 0)
			arena = (uintptr_t)(0x7f0000000000ull + (next_rand(&s) % (1ull << 30) << 18));
		for (size_t k = 0; k < 4080 / 80 && n < 10850; k++, n++)
			ck_loop(ptrmap_put(m, arena + page % 64 * 4096 + 16 + k * 80, (uint32_t)n,
					   NULL) == 1);
	}
	n = 0;
	for (size_t i = 0; i <= m->mask; i++) {
		if (!m->slots[i].key)
			continue;
		size_t p = probes(m, m->slots[i].key);
		total += p;
		n++;
		if (p > *worst)
			*worst = p;
	}
	return (double)total / (double)n;
}

START_TEST(labels_met_in_any_order_are_found_in_a_few_probes)
{
	struct ptrmap m;
	ck_assert(ptrmap_init_scattered(&m, 4096));
	size_t worst;
	double mean = label_probes(&m, &worst);
	/* 1.2 on average and 9 at worst here; hashed by page window, as the
	 * map of every object is, 5.0 on average */
	ck_assert_msg(mean < 2.0, "%.1f probes on average", mean);
	ck_assert_msg(worst < 50, "%zu probes at worst", worst);
	ptrmap_release(&m);
}
END_TEST

START_TEST(small_tables_are_kept_for_the_next_walk_and_come_back_empty)
{
	struct mapped_spare spare = {0};
	struct ptrmap m;
	ck_assert(ptrmap_init_spare(&m, 10000, PTRMAP_WINDOW, &spare));
	for (uintptr_t k = 1; k <= 10000; k++)
		ck_assert_int_eq(ptrmap_put(&m, k * 48, (uint32_t)k, NULL), 1);
	struct ptrmap_slot *slots = m.slots;
	size_t cap = m.mask + 1;
	ptrmap_keep(&m, &spare);
	ck_assert_ptr_null(m.slots);
	ck_assert_ptr_eq(spare.p, slots);

	/* the next map of about that size gets them, with no key left */
	ck_assert(ptrmap_init_spare(&m, 9000, PTRMAP_WINDOW, &spare));
	ck_assert_ptr_eq(m.slots, slots);
	ck_assert_uint_eq(m.mask + 1, cap);
	ck_assert_ptr_null(spare.p);
	for (uintptr_t k = 1; k <= 10000; k++)
		ck_assert_uint_eq(ptrmap_get(&m, k * 48), UINT32_MAX);
	ck_assert_int_eq(ptrmap_put(&m, 480, 7, NULL), 1);
	ptrmap_keep(&m, &spare);

	/* a map for far fewer keys does not take slots 4x its size: they
	 * stay, until the smaller map's are kept in their place */
	ck_assert(ptrmap_init_spare(&m, 100, PTRMAP_WINDOW, &spare));
	ck_assert_ptr_ne(m.slots, slots);
	ck_assert_ptr_eq(spare.p, slots);
	struct ptrmap_slot *small = m.slots;
	ptrmap_keep(&m, &spare);
	ck_assert_ptr_eq(spare.p, small);

	/* a map that grew is kept at its grown size */
	ck_assert(ptrmap_init_spare(&m, 1000, PTRMAP_WINDOW, &spare));
	for (uintptr_t k = 1; k <= 5000; k++)
		ck_assert_int_eq(ptrmap_put(&m, k * 64, (uint32_t)k, NULL), 1);
	size_t grown = (m.mask + 1) * sizeof(*m.slots);
	ck_assert_uint_gt(grown, 1024 * sizeof(*m.slots));
	ptrmap_keep(&m, &spare);
	ck_assert_uint_eq(spare.bytes, grown);

	/* a big map (huge pages) is given back, the spare left as it was */
	ck_assert(ptrmap_init_spare(&m, 300000, PTRMAP_WINDOW, &spare));
	ck_assert_uint_ge((m.mask + 1) * sizeof(*m.slots), MAPPED_HUGE);
	void *kept = spare.p;
	ptrmap_keep(&m, &spare);
	ck_assert_ptr_eq(spare.p, kept);
	mapped_keep(&spare, NULL, 0);
	ck_assert_ptr_eq(spare.p, kept);

	/* a table not zeroed again (the object table) keeps its size */
	size_t bytes = 100000;
	void *t = mapped_reuse(&spare, &bytes, 0);
	ck_assert_ptr_eq(t, kept);
	ck_assert_uint_eq(bytes, grown);
	mapped_free(t, bytes);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ptrmap");
	TCase *tc = tcase_create("ptrmap");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, what_is_put_is_found_through_growth);
	tcase_add_test(tc, labels_met_in_any_order_are_found_in_a_few_probes);
	tcase_add_test(tc, small_tables_are_kept_for_the_next_walk_and_come_back_empty);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
