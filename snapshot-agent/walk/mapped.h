/*
 * mapped.h - the walk's big tables (the address map, the object table) as
 * mappings of their own: advised to use huge pages (random lookups over
 * tens of MiB; and a fault per 2 MiB instead of per 4 KiB, which costs
 * microseconds in a virtual machine), zeroed by the kernel, grown with
 * mremap (no copy, the advice kept) and given back whole when the walk
 * ends. Plain mmap, never the Python allocator: the walk must not change
 * the heap it is looking at.
 */
#ifndef ASNAP_AGENT_MAPPED_H
#define ASNAP_AGENT_MAPPED_H

/* mremap needs _GNU_SOURCE, which Python.h (pyconfig.h) defines: include
 * this after it */
#include <stddef.h>
#include <sys/mman.h>

/* Huge pages for a table of 4 MiB or more (only a hint). */
static inline void mapped_advise(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	if (bytes >= (4u << 20))
		madvise(p, bytes, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* bytes (a multiple of the page size, or rounded up by the kernel) of
 * zeroes, or NULL. */
static inline void *mapped_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	mapped_advise(p, bytes);
	return p;
}

/* p (old bytes) grown to bytes, maybe moved; NULL (p untouched) when it
 * cannot be. */
static inline void *mapped_grow(void *p, size_t old, size_t bytes)
{
	void *q = mremap(p, old, bytes, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return NULL;
	mapped_advise(q, bytes);
	return q;
}

static inline void mapped_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

#endif
