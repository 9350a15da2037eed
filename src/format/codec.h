/*
 * codec.h - the byte-level vocabulary of the snapshot format shared by the
 * reader and the writer: constants of docs/FORMAT.md, LEB128 varints,
 * zigzag, and a growable byte buffer. Private to src/format.
 */
#ifndef ASNAP_FORMAT_CODEC_H
#define ASNAP_FORMAT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Preamble: a zstd skippable frame carrying our magic and version. */
#define PREAMBLE_FRAME_MAGIC 0x184D2A5Au /* one of zstd's skippable magics */
#define PREAMBLE_CONTENT_SIZE 16u
#define PREAMBLE_SIZE (8u + PREAMBLE_CONTENT_SIZE)
#define PREAMBLE_MAGIC "ASYNCSNP"
#define PREAMBLE_NEEDS_AT 20u /* file offset of needs-version */

/* An index label (format 2) is below the file's edge count + this. */
#define INDEX_SLACK 65536u
#define ZSTD_FRAME_MAGIC 0xFD2FB528u

/* Chunk types; bit 0x80 marks a chunk an older reader may skip. */
enum chunk_type {
	CHUNK_HEADER = 0x01,
	CHUNK_STRINGS = 0x02,
	CHUNK_NODES = 0x03,
	CHUNK_RECORDS = 0x04,
	CHUNK_ROOTS = 0x05,
	CHUNK_EDGES = 0x06,
	CHUNK_END = 0x7F,
};
#define CHUNK_OPTIONAL 0x80u

/* No chunk's payload may exceed this; readers refuse larger ones. */
#define CHUNK_MAX (64u << 20)
/* Writers close a chunk once its payload reaches about this size. */
#define CHUNK_TARGET (256u << 10)
/* Nodes per NODES chunk at most. */
#define NODES_PER_CHUNK_MAX 65536u
#define NODE_COLUMNS 9

static inline uint64_t zigzag_encode(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t zigzag_decode(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Write v at p (room for 10 bytes needed); returns bytes written. */
static inline size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/*
 * Read a varint from [*p, end). Returns false on a varint running past end
 * or longer than 10 bytes or overflowing 64 bits; *p is advanced on
 * success.
 */
static inline bool varint_get(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	const uint8_t *q = *p;
	if (q < end && *q < 0x80) { /* the common one-byte case */
		*out = *q;
		*p = q + 1;
		return true;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (q >= end)
			return false;
		uint8_t b = *q++;
		if (shift == 63 && b > 1)
			return false;
		v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80)) {
			*out = v;
			*p = q;
			return true;
		}
	}
	return false;
}

/* A growable byte buffer. Allocation failure is sticky in `failed`. */
struct bytebuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed;
};

bool bytebuf_reserve(struct bytebuf *b, size_t extra);
void bytebuf_release(struct bytebuf *b);

static inline void bytebuf_put(struct bytebuf *b, const void *src, size_t n)
{
	if (n == 0) /* src may be NULL then; memcpy must not see it */
		return;
	if (b->cap - b->len < n && !bytebuf_reserve(b, n))
		return;
	memcpy(b->data + b->len, src, n);
	b->len += n;
}

static inline void bytebuf_varint(struct bytebuf *b, uint64_t v)
{
	if (b->cap - b->len < 10 && !bytebuf_reserve(b, 10))
		return;
	b->len += varint_put(b->data + b->len, v);
}

static inline void bytebuf_byte(struct bytebuf *b, uint8_t v)
{
	if (b->cap == b->len && !bytebuf_reserve(b, 1))
		return;
	b->data[b->len++] = v;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The name of a chunk type as used in messages ("node section"). */
const char *chunk_section_name(unsigned type);

#endif
