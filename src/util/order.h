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
#include <string.h>

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

/*
 * Binary search in n elements of `size` bytes from base, sorted by the
 * uint32_t at `offset` in each: the index of the first whose key is not
 * below key (n when none is).
 *
 *	uint64_t i = asnap_lower_bound(g->records, g->nrecords, sizeof(*g->records),
 *				       offsetof(struct asnap_record, node), v);
 */
static inline uint64_t asnap_lower_bound(const void *base, uint64_t n, size_t size, size_t offset,
					 uint32_t key)
{
	const unsigned char *b = base;
	uint64_t lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		uint32_t k;
		memcpy(&k, b + mid * size + offset, sizeof(k));
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
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
