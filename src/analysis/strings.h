/*
 * strings.h - string helpers the analyses share: resolving many names to
 * a snapshot's string ids in one pass, and a map from strings to dense
 * indexes, for grouping objects by name across snapshots (whose string
 * ids differ).
 */
#ifndef ASNAP_ANALYSIS_STRINGS_H
#define ASNAP_ANALYSIS_STRINGS_H

#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"

/* ids[i] = the string id of names[i] in g, or 0 when g does not have it. */
void asnap_strings_resolve(const struct asnap_graph *g, const char *const *names, uint32_t *ids,
			   size_t n);

/* Is string id s of g equal to the C string t? */
int asnap_string_eq(const struct asnap_graph *g, uint32_t s, const char *t);

/* A map from strings (copied in) to 0, 1, 2, ... in order of insertion. */
struct asnap_strmap {
	char **keys;        /* keys[i]: the i-th string, NUL-terminated */
	uint32_t count;
	uint32_t cap;
	uint32_t *slots;    /* open addressing: index + 1, 0 empty */
	uint32_t nslots;    /* power of two */
};

void asnap_strmap_init(struct asnap_strmap *m);
void asnap_strmap_finish(struct asnap_strmap *m);
/* The index of s (len bytes), added if new. UINT32_MAX when out of memory. */
uint32_t asnap_strmap_intern(struct asnap_strmap *m, const char *s, size_t len);
/* The index of s, or UINT32_MAX if absent. */
uint32_t asnap_strmap_find(const struct asnap_strmap *m, const char *s, size_t len);

#endif
