/*
 * grow.h - room for one more element in an array that grows by doubling
 * (git's ALLOC_GROW), for the small arrays of the analyses and renderers:
 * findings, groups, piles, table rows. Per-object arrays come from
 * bigarray.h instead.
 */
#ifndef ASNAP_UTIL_GROW_H
#define ASNAP_UTIL_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * The block v (from malloc, or NULL) holds *cap elements of size bytes, n
 * of them used. Returns a block with room for element n: v itself when
 * n < *cap, else v grown with realloc to twice *cap (first elements the
 * first time, more while n does not fit, at most UINT32_MAX) and *cap
 * updated. NULL, with v and *cap as they were, when there is no memory or
 * n is UINT32_MAX; the caller keeps v either way:
 *
 *	struct pile *more = asnap_grow(ps->p, ps->n, &ps->cap, sizeof(*more), 16);
 *	if (!more)
 *		return NULL;
 *	ps->p = more;
 */
static inline void *asnap_grow(void *v, uint32_t n, uint32_t *cap, size_t size, uint32_t first)
{
	if (n < *cap)
		return v;
	uint64_t c = *cap ? (uint64_t)*cap * 2 : first ? first : 1;
	while (c <= n)
		c *= 2;
	if (c > UINT32_MAX)
		c = UINT32_MAX;
	if (c <= n || (size && c > SIZE_MAX / size))
		return NULL;
	void *more = realloc(v, (size_t)c * size);
	if (!more)
		return NULL;
	*cap = (uint32_t)c;
	return more;
}

#endif
