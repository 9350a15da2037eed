/*
 * arena.c - see arena.h.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"

#define BLOCK_MIN (64u << 10)

struct asnap_arena_block {
	struct asnap_arena_block *next;
	size_t used;
	size_t cap;
	alignas(max_align_t) unsigned char data[];
};

void *asnap_arena_alloc(struct asnap_arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	if (n > SIZE_MAX - align)
		return NULL;
	n = (n + align - 1) & ~(align - 1);
	struct asnap_arena_block *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

void asnap_arena_release(struct asnap_arena *a)
{
	while (a->head) {
		struct asnap_arena_block *next = a->head->next;
		free(a->head);
		a->head = next;
	}
}
