/*
 * order.h - three-way comparisons (-1, 0, 1) for qsort comparators, so that
 * a sort by several keys reads as its keys, most significant first:
 *
 *	int c;
 *	if ((c = asnap_desc_u64(x->bytes, y->bytes)) || (c = asnap_desc_u64(x->count, y->count)))
 *		return c;
 *	return asnap_asc_u64(x->type, y->type);
 *
 * asc: smaller first; desc: larger first. Unsigned values of up to 64 bits
 * go through the u64 pair, signed ones through i64.
 */
#ifndef ASNAP_UTIL_ORDER_H
#define ASNAP_UTIL_ORDER_H

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

#endif
