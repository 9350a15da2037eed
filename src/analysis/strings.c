/*
 * strings.c - see strings.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/strings.h"
#include "util/freeall.h"
#include "util/grow.h"

void asnap_strings_resolve(const struct asnap_graph *g, const char *const *names, uint32_t *ids,
			   size_t n)
{
	size_t maxlen = 0, lens[64];
	bool index = false; /* a name like "[3]": the reader's index strings too */
	for (size_t i = 0; i < n; i++) {
		ids[i] = 0;
		size_t l = strlen(names[i]);
		if (i < 64)
			lens[i] = l;
		if (l > maxlen)
			maxlen = l;
		index |= names[i][0] == '[';
	}
	uint32_t count = index ? asnap_reader_string_count(g->strings) : asnap_graph_named_strings(g);
	size_t left = n;
	for (uint32_t id = 1; id <= count && left; id++) {
		size_t len;
		const char *s = asnap_reader_string(g->strings, id, &len);
		if (!s || len > maxlen)
			continue;
		for (size_t i = 0; i < n; i++) {
			/* s may hold a NUL: compare lengths, then bytes */
			if (!ids[i] && (i < 64 ? lens[i] : strlen(names[i])) == len &&
			    memcmp(names[i], s, len) == 0) {
				ids[i] = id;
				left--;
			}
		}
	}
}

int asnap_string_eq(const struct asnap_graph *g, uint32_t s, const char *t)
{
	size_t len;
	const char *x = asnap_graph_string_len(g, s, &len);
	return strlen(t) == len && memcmp(x, t, len) == 0;
}

static uint64_t hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

void asnap_strmap_init(struct asnap_strmap *m)
{
	*m = (struct asnap_strmap){0};
}

void asnap_strmap_finish(struct asnap_strmap *m)
{
	for (uint32_t i = 0; i < m->count; i++)
		free(m->keys[i]);
	asnap_free_all(m->keys, m->slots);
	*m = (struct asnap_strmap){0};
}

static uint32_t *slot_of(const struct asnap_strmap *m, const char *s, size_t len)
{
	uint32_t mask = m->nslots - 1;
	for (uint64_t i = hash(s, len) & mask;; i = (i + 1) & mask) {
		uint32_t x = m->slots[i];
		if (!x)
			return &m->slots[i];
		const char *k = m->keys[x - 1];
		/* k ends at its first NUL, s may hold one: never read past k */
		if (strnlen(k, len + 1) == len && memcmp(k, s, len) == 0)
			return &m->slots[i];
	}
}

uint32_t asnap_strmap_find(const struct asnap_strmap *m, const char *s, size_t len)
{
	if (!m->nslots)
		return UINT32_MAX;
	uint32_t x = *slot_of(m, s, len);
	return x ? x - 1 : UINT32_MAX;
}

static int rehash(struct asnap_strmap *m, uint32_t nslots)
{
	uint32_t *old = m->slots, oldn = m->nslots;
	m->slots = calloc(nslots, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -1;
	}
	m->nslots = nslots;
	for (uint32_t i = 0; i < oldn; i++) {
		if (!old[i])
			continue;
		const char *k = m->keys[old[i] - 1];
		*slot_of(m, k, strlen(k)) = old[i];
	}
	free(old);
	return 0;
}

uint32_t asnap_strmap_intern(struct asnap_strmap *m, const char *s, size_t len)
{
	if ((uint64_t)(m->count + 1) * 2 > m->nslots &&
	    rehash(m, m->nslots ? m->nslots * 2 : 64) < 0)
		return UINT32_MAX;
	uint32_t *slot = slot_of(m, s, len);
	if (*slot)
		return *slot - 1;
	char **k = asnap_grow(m->keys, m->count, &m->cap, sizeof(*k), 32);
	if (!k)
		return UINT32_MAX;
	m->keys = k;
	char *copy = malloc(len + 1);
	if (!copy)
		return UINT32_MAX;
	memcpy(copy, s, len);
	copy[len] = 0;
	m->keys[m->count++] = copy;
	*slot = m->count;
	return m->count - 1;
}
