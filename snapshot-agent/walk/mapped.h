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
#include <string.h>
#include <sys/mman.h>

/* Tables of this size or more get huge pages. */
#define MAPPED_HUGE ((size_t)4 << 20)

/* Huge pages for a table of MAPPED_HUGE or more (only a hint). */
static inline void mapped_advise(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	if (bytes >= MAPPED_HUGE)
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

/*
 * A small table kept from one walk for the next. Below MAPPED_HUGE a
 * table is faulted in 4 KiB at a time, and every fault of a fresh page
 * costs microseconds in a virtual machine: ~600 a take at 25k objects, a
 * third of its pause. Zeroing a kept one again costs a tenth of that.
 * Tables of MAPPED_HUGE or more (huge pages: few faults) are given back,
 * so what stays mapped between walks is under MAPPED_HUGE a table.
 */
struct mapped_spare {
	void *p;
	size_t bytes;
};

/* At least *bytes (on return, how many: the spare's when it is big enough,
 * never more than four times the asked), zeroed when zero is set; NULL when
 * out of memory. */
static inline void *mapped_reuse(struct mapped_spare *s, size_t *bytes, int zero)
{
	if (s->p && s->bytes >= *bytes && s->bytes / 4 <= *bytes) {
		void *p = s->p;
		*bytes = s->bytes;
		s->p = NULL;
		if (zero)
			memset(p, 0, *bytes);
		return p;
	}
	return mapped_alloc(*bytes);
}

/* Done with p (bytes): kept in s if small (the spare before freed), given
 * back otherwise. */
static inline void mapped_keep(struct mapped_spare *s, void *p, size_t bytes)
{
	if (!p)
		return;
	if (bytes >= MAPPED_HUGE) {
		mapped_free(p, bytes);
		return;
	}
	mapped_free(s->p, s->bytes);
	s->p = p;
	s->bytes = bytes;
}

#endif
