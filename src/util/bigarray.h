/*
 * bigarray.h - allocation of large arrays: the graph engine's per-node and
 * per-edge arrays, and the arena's blocks. On Linux they are advised to use
 * transparent huge pages, for two reasons. Access patterns are random (a
 * DFS touches the array of every edge's target): with 4 KiB pages a
 * 10-million-node graph misses the TLB on nearly every step. And every page
 * a command writes is a fresh page from the kernel, faulted in once: in a
 * virtual machine a 4 KiB fault costs microseconds, and loading a
 * 1.8M-object snapshot spent 40% of its time in 50,000 of them (one fault
 * per 2 MiB instead: 0.87 s -> 0.42 s). Freed with free().
 */
#ifndef ASNAP_UTIL_BIGARRAY_H
#define ASNAP_UTIL_BIGARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#include <unistd.h>
#endif

#define ASNAP_HUGE_PAGE ((size_t)2 << 20)

/* Blocks this big and more are placed on huge-page boundaries, their size
 * rounded up to whole huge pages: the last one may be half empty, but a
 * 4 MiB array (a 1M-object graph's column) costs one fault per 2 MiB
 * instead of a thousand. */
#define ASNAP_BIG_MIN ASNAP_HUGE_PAGE

/*
 * Advise the pages of block p (bytes long, from malloc) to be huge. Only a
 * hint, and only where the kernel can use it: a huge page is used for each
 * whole 2 MiB of the block that starts on a 2 MiB boundary, which is why
 * asnap_big_alloc places big blocks there. The advice covers every page
 * the block touches out to the end of what malloc gave, so that a block
 * mapped on its own stays one mapping (one split in three cannot be
 * moved by mremap, and realloc would copy it).
 */
static inline void asnap_big_advise(void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE) && defined(__GLIBC__)
	if (!p || bytes < ASNAP_BIG_MIN)
		return;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	size_t usable = malloc_usable_size(p);
	if (!page || (page & (page - 1)) || usable < bytes)
		return;
	uintptr_t a = (uintptr_t)p & ~(page - 1);
	uintptr_t b = ((uintptr_t)p + usable + page - 1) & ~(page - 1);
	(void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* count * size bytes, NULL on overflow or out of memory. From
 * ASNAP_BIG_MIN bytes on, the block starts on a huge-page boundary and
 * ends on one (what is past count * size is never touched, so never
 * resident). */
static inline void *asnap_big_alloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	size_t bytes = count * size;
	if (bytes < ASNAP_BIG_MIN)
		return malloc(bytes ? bytes : 1);
	if (bytes > SIZE_MAX - ASNAP_HUGE_PAGE)
		return NULL;
	bytes = (bytes + ASNAP_HUGE_PAGE - 1) & ~(ASNAP_HUGE_PAGE - 1);
	void *p = aligned_alloc(ASNAP_HUGE_PAGE, bytes);
	asnap_big_advise(p, bytes);
	return p;
}

/* Zeroed, advised in place: calloc knows when fresh pages need no
 * clearing, and a sparse table then costs only the pages written. */
static inline void *asnap_big_zalloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = calloc(count ? count : 1, size ? size : 1);
	asnap_big_advise(p, count * size);
	return p;
}

/*
 * realloc for a block from malloc or asnap_big_alloc (NULL: a new one),
 * freed with free like them. A block that becomes big moves
 * to a block of asnap_big_alloc (copying the little it holds); a big one
 * is grown by realloc, which moves it with mremap, without copying and
 * without holding both: it may lose its huge-page alignment, so the
 * graph reserves what a file needs up front and grows only when that
 * falls short.
 */
static inline void *asnap_big_realloc(void *old, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	size_t bytes = count * size;
#ifdef __GLIBC__
	size_t have = old ? malloc_usable_size(old) : 0;
	if (bytes >= ASNAP_BIG_MIN && have < ASNAP_BIG_MIN) {
		void *p = asnap_big_alloc(1, bytes);
		if (p && old) {
			memcpy(p, old, have);
			free(old);
		}
		return p;
	}
#endif
	void *p = realloc(old, bytes ? bytes : 1);
	if (p)
		asnap_big_advise(p, bytes);
	return p;
}

#endif
