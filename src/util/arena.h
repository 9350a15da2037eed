/*
 * arena.h - a bump allocator for many small allocations freed together.
 */
#ifndef ASNAP_UTIL_ARENA_H
#define ASNAP_UTIL_ARENA_H

#include <stddef.h>

struct asnap_arena_block;

struct asnap_arena {
	struct asnap_arena_block *head;
};

/* Aligned to max_align_t; NULL when out of memory. */
void *asnap_arena_alloc(struct asnap_arena *a, size_t n);
/* Frees every allocation; the arena is empty and reusable. */
void asnap_arena_release(struct asnap_arena *a);

#endif
