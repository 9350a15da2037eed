/*
 * bigarray.h - allocation of the large per-node and per-edge arrays of the
 * graph engine. Their access patterns are random (a DFS touches the array
 * of every edge's target), so on Linux they are advised to use transparent
 * huge pages: with 4 KiB pages a 10-million-node graph misses the TLB on
 * nearly every step. Freed with free().
 */
#ifndef ASNAP_GRAPH_BIGARRAY_H
#define ASNAP_GRAPH_BIGARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#define ASNAP_HUGE_PAGE ((uintptr_t)2 << 20)

/* Advise the whole huge pages inside [p, p + bytes). Only a hint. */
static inline void asnap_big_advise(void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
	if (!p || bytes < 2 * ASNAP_HUGE_PAGE)
		return;
	uintptr_t a = ((uintptr_t)p + ASNAP_HUGE_PAGE - 1) & ~(ASNAP_HUGE_PAGE - 1);
	uintptr_t b = ((uintptr_t)p + bytes) & ~(ASNAP_HUGE_PAGE - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* count * size bytes, NULL on overflow or out of memory. */
static inline void *asnap_big_alloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	size_t bytes = count * size;
	void *p = malloc(bytes ? bytes : 1);
	asnap_big_advise(p, bytes);
	return p;
}

static inline void *asnap_big_zalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	asnap_big_advise(p, count * size);
	return p;
}

/* realloc, advising the new block. */
static inline void *asnap_big_realloc(void *old, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	size_t bytes = count * size;
	void *p = realloc(old, bytes ? bytes : 1);
	if (p)
		asnap_big_advise(p, bytes);
	return p;
}

#endif
