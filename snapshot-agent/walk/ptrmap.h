/*
 * ptrmap.h - an open-addressing hash map from object address to a 32-bit
 * value, for the heap walk (its slots in a mapping of their own: mapped.h).
 */
#ifndef ASNAP_AGENT_PTRMAP_H
#define ASNAP_AGENT_PTRMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "mapped.h"

/* Key and value side by side: a lookup touches one cache line. */
struct ptrmap_slot {
	uintptr_t key; /* 0 marks an empty slot */
	uint32_t val;
};

struct ptrmap {
	struct ptrmap_slot *slots; /* mapped.h: zeroed by the kernel, huge pages */
	size_t mask;     /* capacity - 1, capacity a power of two */
	size_t count;
	unsigned window; /* log2 of the slots a page's keys share (below) */
};

/*
 * In the map of every object (ptrmap_init), objects of one 4 KiB page land
 * in one window of 256 slots (the page number is hashed, the offset in the
 * page kept): the walk meets objects roughly in allocation order, so this
 * keeps its lookups on few cache lines and TLB entries instead of one
 * random miss each. A small map of keys met in no such order
 * (ptrmap_init_scattered: labels, types) hashes the whole address instead:
 * with few windows, the keys of many pages would share one, at the same
 * offsets, and pile into runs of hundreds of slots every lookup walks.
 */
static inline size_t ptrmap_slot(const struct ptrmap *m, uintptr_t key)
{
	uint64_t h = (uint64_t)(key >> (4 + m->window)) * 0x9E3779B97F4A7C15ull;
	size_t offset = (size_t)(key >> 4) & (((size_t)1 << m->window) - 1);
	return (size_t)((h >> 24) << m->window ^ offset) & m->mask;
}

/*
 * Filled to at most three quarters: the probes stay within a line or two,
 * and the slots are half of what filling to a half needed - pages the
 * kernel zeroes for every take (at 5M objects 128 MiB, not 256).
 */
static inline size_t ptrmap_cap(size_t expect)
{
	size_t cap = 1024;
	while (cap / 4 * 3 < expect)
		cap *= 2;
	return cap;
}

/* A map for about `expect` keys on slots kept from an earlier map when s
 * has them (mapped_reuse; NULL: always fresh ones). Its slots go back with
 * ptrmap_keep (or ptrmap_release). */
static inline bool ptrmap_init_spare(struct ptrmap *m, size_t expect, unsigned window,
				     struct mapped_spare *s)
{
	size_t cap = ptrmap_cap(expect);
	size_t bytes = cap * sizeof(*m->slots);
	m->slots = s ? mapped_reuse(s, &bytes, 1) : mapped_alloc(bytes);
	/* (a spare's size is a map's: a power of two of slots) */
	m->mask = bytes / sizeof(*m->slots) - 1;
	m->count = 0;
	m->window = window;
	return m->slots != NULL;
}

static inline bool ptrmap_init_window(struct ptrmap *m, size_t expect, unsigned window)
{
	return ptrmap_init_spare(m, expect, window, NULL);
}

/* A map for about `expect` keys met roughly in address order. */
#define PTRMAP_WINDOW 8 /* log2 of the slots of a 4 KiB page's keys */

static inline bool ptrmap_init(struct ptrmap *m, size_t expect)
{
	return ptrmap_init_window(m, expect, PTRMAP_WINDOW);
}

/* A map for about `expect` keys met in any order. */
static inline bool ptrmap_init_scattered(struct ptrmap *m, size_t expect)
{
	return ptrmap_init_window(m, expect, 0);
}

static inline void ptrmap_release(struct ptrmap *m)
{
	mapped_free(m->slots, (m->mask + 1) * sizeof(*m->slots));
	m->slots = NULL;
	m->mask = 0;
	m->count = 0;
}

/* Release, the slots kept in s for a later map if small (mapped_keep). */
static inline void ptrmap_keep(struct ptrmap *m, struct mapped_spare *s)
{
	mapped_keep(s, m->slots, m->slots ? (m->mask + 1) * sizeof(*m->slots) : 0);
	m->slots = NULL;
	m->mask = 0;
	m->count = 0;
}

/* Bring the line a lookup of key starts at into the cache. */
static inline void ptrmap_prefetch(const struct ptrmap *m, uintptr_t key)
{
	__builtin_prefetch(&m->slots[ptrmap_slot(m, key)], 1);
}

/* The value for key, or UINT32_MAX when absent. */
static inline uint32_t ptrmap_get(const struct ptrmap *m, uintptr_t key)
{
	for (size_t i = ptrmap_slot(m, key);; i = (i + 1) & m->mask) {
		uintptr_t k = m->slots[i].key;
		if (k == key)
			return m->slots[i].val;
		if (k == 0)
			return UINT32_MAX;
	}
}

static inline bool ptrmap_grow(struct ptrmap *m)
{
	struct ptrmap bigger;
	if (!ptrmap_init_window(&bigger, m->mask + 1, m->window))
		return false;
	for (size_t i = 0; i <= m->mask; i++) {
		if (!m->slots[i].key)
			continue;
		size_t j = ptrmap_slot(&bigger, m->slots[i].key);
		while (bigger.slots[j].key)
			j = (j + 1) & bigger.mask;
		bigger.slots[j] = m->slots[i];
	}
	bigger.count = m->count;
	ptrmap_release(m);
	*m = bigger;
	return true;
}

/*
 * Insert key with val unless present. Returns 1 if inserted, 0 if it was
 * already there (*old gets its value when old is not NULL), -1 when out of
 * memory.
 */
static inline int ptrmap_put(struct ptrmap *m, uintptr_t key, uint32_t val, uint32_t *old)
{
	if (m->count + 1 > (m->mask + 1) / 4 * 3 && !ptrmap_grow(m))
		return -1;
	for (size_t i = ptrmap_slot(m, key);; i = (i + 1) & m->mask) {
		uintptr_t k = m->slots[i].key;
		if (k == key) {
			if (old)
				*old = m->slots[i].val;
			return 0;
		}
		if (k == 0) {
			m->slots[i].key = key;
			m->slots[i].val = val;
			m->count++;
			return 1;
		}
	}
}

#endif
