/*
 * arena.c - see arena.h.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "bigarray.h"

/* Blocks double from BLOCK_MIN to BLOCK_MAX: a small arena stays small,
 * and a large one (a snapshot's record properties: tens of MiB) is made of
 * blocks big enough for huge pages (bigarray.h). */
#define BLOCK_MIN (64u << 10)
#define BLOCK_MAX (16u << 20)

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
		/* the block's whole size doubles, header included, so that
		 * the big ones are whole huge pages */
		size_t size = b ? (sizeof(*b) + b->cap) * 2 : BLOCK_MIN;
		if (size > BLOCK_MAX)
			size = BLOCK_MAX;
		if (n > SIZE_MAX - sizeof(*b))
			return NULL;
		if (size < sizeof(*b) + n)
			size = sizeof(*b) + n;
		b = asnap_big_alloc(1, size);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = size - sizeof(*b);
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
