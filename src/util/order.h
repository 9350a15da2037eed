/*
 * order.h - three-way comparisons (-1, 0, 1) for qsort comparators, so that
 * a sort by several keys reads as its keys, most significant first:
 *
 *	return asnap_order(asnap_desc_u64(x->bytes, y->bytes), asnap_desc_u64(x->count, y->count),
 *			   asnap_asc_u64(x->type, y->type));
 *
 * asc: smaller first; desc: larger first. Unsigned values of up to 64 bits
 * go through the u64 pair, signed ones through i64. asnap_order evaluates
 * every comparison: one that is only safe after another is 0 (a memcmp of
 * a length the first compared) is written out with ||.
 */
#ifndef ASNAP_UTIL_ORDER_H
#define ASNAP_UTIL_ORDER_H

#include <stddef.h>
#include <stdint.h>

static inline int asnap_asc_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

static inline int asnap_desc_u64(uint64_t a, uint64_t b)
{
	return (a < b) - (a > b);
}

static inline int asnap_asc_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static inline int asnap_desc_i64(int64_t a, int64_t b)
{
	return (a < b) - (a > b);
}

static inline int asnap_desc_f64(double a, double b)
{
	return (a < b) - (a > b);
}

/* A pair of numbers, sorted by key then val with asnap_pair_cmp: who holds
 * which task, what a task waits on. */
struct asnap_pair {
	uint32_t key;
	uint32_t val;
};

static inline int asnap_pair_cmp(const void *x, const void *y)
{
	const struct asnap_pair *a = x, *b = y;
	return a->key != b->key ? asnap_asc_u64(a->key, b->key) : asnap_asc_u64(a->val, b->val);
}

/* The first of several comparisons, most significant first, that is not 0. */
static inline int asnap_order_of(const int *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return c[i];
	return 0;
}

#define asnap_order(...)                                                                       \
	asnap_order_of((const int[]){__VA_ARGS__}, sizeof((int[]){__VA_ARGS__}) / sizeof(int))

#endif
