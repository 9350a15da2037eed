/*
 * codec.c - out-of-line parts of codec.h.
 */
#include <stdlib.h>

#include "codec.h"
#include "util/bigarray.h"

bool bytebuf_reserve(struct bytebuf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (b->cap - b->len >= extra)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	uint8_t *p = asnap_big_realloc(b->data, cap, 1);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void bytebuf_release(struct bytebuf *b)
{
	free(b->data);
	*b = (struct bytebuf){0};
}

const char *chunk_section_name(unsigned type)
{
	switch (type) {
	case CHUNK_HEADER: return "header";
	case CHUNK_STRINGS: return "string";
	case CHUNK_NODES: return "node";
	case CHUNK_RECORDS: return "record";
	case CHUNK_ROOTS: return "root";
	case CHUNK_EDGES: return "edge";
	case CHUNK_END: return "end";
	}
	return "unknown";
}
