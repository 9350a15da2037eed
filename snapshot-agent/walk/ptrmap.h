/*
 * ptrmap.h - an open-addressing hash map from object address to a 32-bit
 * value, for the heap walk. Plain malloc, never the Python allocator: the
 * walk must not change the heap it is looking at.
 */
#ifndef ASNAP_AGENT_PTRMAP_H
#define ASNAP_AGENT_PTRMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

struct ptrmap {
	uintptr_t *keys; /* 0 marks an empty slot */
	uint32_t *vals;
	size_t mask;     /* capacity - 1, capacity a power of two */
	size_t count;
};

static inline size_t ptrmap_slot(const struct ptrmap *m, uintptr_t key)
{
	uint64_t h = (uint64_t)(key >> 4) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 32 ^ h) & m->mask;
}

static inline bool ptrmap_init(struct ptrmap *m, size_t expect)
{
	size_t cap = 1024;
	while (cap < expect * 2)
		cap *= 2;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->vals = malloc(cap * sizeof(*m->vals));
	m->mask = cap - 1;
	m->count = 0;
	return m->keys && m->vals;
}

static inline void ptrmap_release(struct ptrmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->mask = 0;
	m->count = 0;
}

/* The value for key, or UINT32_MAX when absent. */
static inline uint32_t ptrmap_get(const struct ptrmap *m, uintptr_t key)
{
	for (size_t i = ptrmap_slot(m, key);; i = (i + 1) & m->mask) {
		uintptr_t k = m->keys[i];
		if (k == key)
			return m->vals[i];
		if (k == 0)
			return UINT32_MAX;
	}
}

static inline bool ptrmap_grow(struct ptrmap *m)
{
	struct ptrmap bigger;
	if (!ptrmap_init(&bigger, (m->mask + 1)))
		return false;
	for (size_t i = 0; i <= m->mask; i++) {
		if (!m->keys[i])
			continue;
		size_t j = ptrmap_slot(&bigger, m->keys[i]);
		while (bigger.keys[j])
			j = (j + 1) & bigger.mask;
		bigger.keys[j] = m->keys[i];
		bigger.vals[j] = m->vals[i];
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
	if ((m->count + 1) * 2 > m->mask + 1 && !ptrmap_grow(m))
		return -1;
	for (size_t i = ptrmap_slot(m, key);; i = (i + 1) & m->mask) {
		uintptr_t k = m->keys[i];
		if (k == key) {
			if (old)
				*old = m->vals[i];
			return 0;
		}
		if (k == 0) {
			m->keys[i] = key;
			m->vals[i] = val;
			m->count++;
			return 1;
		}
	}
}

#endif
