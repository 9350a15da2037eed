/*
 * reader.c - read a snapshot file (docs/FORMAT.md) as a stream of items.
 *
 * Everything read is checked before it is handed out: ids against what is
 * defined, lengths against what is left, counts against the end record,
 * and the whole body against zstd's checksum. Memory grows only with data
 * actually decompressed, never with a count the file merely claims; with a
 * budget set (asnap_reader_set_budget), every growth is charged to it
 * first, so that a small file that inflates to much data is refused once
 * it has claimed the budget, not once the machine is out of memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "asyncsnap/format.h"
#include "codec.h"
#include "util/bigarray.h"
#include "util/freeall.h"

/* Payload bytes read per step, so that a forged length costs nothing. */
#define READ_STEP (1u << 20)

/* A block of list values; blocks never move, so pointers stay valid. */
struct vblock {
	struct vblock *next;
	size_t len;
	size_t cap;
	struct asnap_value v[];
};

struct column {
	const uint8_t *p;
	const uint8_t *end;
};

struct asnap_reader {
	int fd;
	uint64_t pos;      /* where the next read starts (pread: the fd's own offset is not ours) */
	bool pipe;         /* the fd cannot pread: read in turn, never reopened */
	struct stat st;    /* as opened */
	uint64_t file_size;
	uint32_t version;
	uint8_t edge_kinds;  /* the edge kind bits the file may use */
	bool eof;          /* no more file input */
	bool frame_done;   /* zstd reported the end of the body frame */
	bool finished;     /* the end item was handed out */
	bool failed;
	struct asnap_error err;

	ZSTD_DCtx *dctx;
	uint8_t *ibuf;
	size_t ibuf_cap;
	ZSTD_inBuffer in;

	/* the chunk being consumed */
	unsigned chunk;         /* 0 before the first chunk */
	unsigned last_chunk;    /* type of the last chunk completely read */
	struct bytebuf payload;
	const uint8_t *cur;
	const uint8_t *end;
	uint32_t remaining;     /* items left in the chunk */
	bool edges_may_follow;  /* an EDGES chunk may continue the last node */

	/* string table: ids 1..nstrings */
	struct bytebuf blob;
	uint64_t *str_off;
	uint32_t nstrings;
	uint32_t str_cap;

	/* nodes */
	struct column col[NODE_COLUMNS];
	uint64_t prev_addr;
	uint32_t node_id;       /* id of the next node in the chunk */
	struct asnap_edge *edges;
	uint32_t edges_cap;

	/* records: list values of one record live here until the next call */
	struct asnap_prop *props;
	uint32_t props_cap;
	struct vblock *values;

	struct asnap_budget *budget; /* borrowed, or NULL */
	uint64_t charged;        /* bytes charged to it */
	uint64_t charged_buffers; /* of which buffers (asnap_budget_charge_buffer) */
	size_t dctx_charged;     /* of which the decompressor's */

	bool header_seen;
	struct asnap_totals seen;
	uint64_t max_ref;       /* highest referenced node id + 1 */
	uint64_t index_count;   /* highest index label + 1 (format 2), 0 if none */
	uint32_t index_base;    /* string id of "[0]", once defined at the end */
};

static int rfail(struct asnap_reader *r, enum asnap_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rfail(struct asnap_reader *r, enum asnap_status st, const char *fmt, ...)
{
	if (!r->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
		va_end(ap);
		r->err.status = st;
		r->failed = true;
	}
	return -1;
}

/* Charge bytes about to be allocated to the budget, if any: a buffer
 * (chunk, edges, decompressor), or what grows with the file. */
static int charge_as(struct asnap_reader *r, uint64_t bytes, bool buffer)
{
	if (!r->budget || !bytes)
		return 0;
	struct asnap_error e = {0};
	r->budget->file_size = r->file_size;
	r->budget->file_read = r->pos - (r->in.size - r->in.pos); /* consumed */
	if ((buffer ? asnap_budget_charge_buffer : asnap_budget_charge)(r->budget, bytes, &e) < 0)
		return rfail(r, e.status, "%s", e.message);
	r->charged += bytes;
	if (buffer)
		r->charged_buffers += bytes;
	return 0;
}

static int charge(struct asnap_reader *r, uint64_t bytes)
{
	return charge_as(r, bytes, false);
}

static int charge_buffer(struct asnap_reader *r, uint64_t bytes)
{
	return charge_as(r, bytes, true);
}

/* bytebuf_reserve, the growth charged first. */
static bool reserve_charged(struct asnap_reader *r, struct bytebuf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (charge_buffer(r, cap - b->cap) < 0)
		return false;
	if (!bytebuf_reserve(b, extra)) {
		rfail(r, ASNAP_ERR_NOMEM, "out of memory");
		return false;
	}
	return true;
}

static int corrupt(struct asnap_reader *r, const char *what)
{
	return rfail(r, ASNAP_ERR_CORRUPT, "corrupt %s section: %s",
		     chunk_section_name(r->chunk), what);
}

/* ---- raw input and decompression ------------------------------------- */

/* read(2) at the reader's own position, so that two readers may share a
 * descriptor; plain read(2) where pread(2) cannot be (a pipe). */
static ssize_t rread(struct asnap_reader *r, void *buf, size_t n)
{
	ssize_t k = 0;
	if (!r->pipe) {
		k = pread(r->fd, buf, n, (off_t)r->pos);
		if (k < 0 && errno == ESPIPE)
			r->pipe = true;
	}
	if (r->pipe)
		k = read(r->fd, buf, n);
	if (k > 0)
		r->pos += (uint64_t)k;
	return k;
}

static int refill(struct asnap_reader *r)
{
	if (r->in.pos < r->in.size || r->eof)
		return 0;
	for (;;) {
		ssize_t k = rread(r, r->ibuf, r->ibuf_cap);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return rfail(r, ASNAP_ERR_IO, "read failed: %s", strerror(errno));
		r->in.src = r->ibuf;
		r->in.size = (size_t)k;
		r->in.pos = 0;
		if (k == 0)
			r->eof = true;
		return 0;
	}
}

/* Decompress up to n bytes into dst; *got says how many came. */
static int pull(struct asnap_reader *r, void *dst, size_t n, size_t *got)
{
	ZSTD_outBuffer out = {dst, n, 0};
	*got = 0;
	while (out.pos < out.size && !r->frame_done) {
		if (refill(r) < 0)
			return -1;
		size_t in_before = r->in.pos, out_before = out.pos;
		size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->in);
		if (r->budget) {
			size_t now = ZSTD_sizeof_DCtx(r->dctx);
			if (now > r->dctx_charged) {
				/* after the fact, but bounded by the window limit */
				if (charge_buffer(r, now - r->dctx_charged) < 0)
					return -1;
				r->dctx_charged = now;
			}
		}
		if (ZSTD_isError(ret)) {
			if (ZSTD_getErrorCode(ret) == ZSTD_error_checksum_wrong)
				return rfail(r, ASNAP_ERR_CORRUPT,
					     "corrupt file: checksum mismatch (the bytes were altered)");
			if (ZSTD_getErrorCode(ret) == ZSTD_error_frameParameter_windowTooLarge &&
			    r->budget && r->budget->limit) {
				char l[32];
				return rfail(r, ASNAP_ERR_BUDGET,
					     "its compression window needs more than half the memory budget of %s",
					     asnap_budget_format(r->budget->limit, l, sizeof(l)));
			}
			return rfail(r, ASNAP_ERR_CORRUPT, "corrupt file: %s",
				     ZSTD_getErrorName(ret));
		}
		if (ret == 0) {
			r->frame_done = true;
			break;
		}
		if (r->eof && r->in.pos == in_before && out.pos == out_before)
			break; /* the file ends inside the frame */
	}
	*got = out.pos;
	return 0;
}

/* Exactly n bytes or a truncation error naming where. */
static int pull_exact(struct asnap_reader *r, void *dst, size_t n)
{
	size_t got;
	if (pull(r, dst, n, &got) < 0)
		return -1;
	if (got < n)
		return rfail(r, ASNAP_ERR_TRUNCATED, "truncated in the %s section",
			     chunk_section_name(r->chunk));
	return 0;
}

/* ---- chunks ---------------------------------------------------------- */

/* Read the next chunk header and payload. Returns 0, or -1. */
static int read_chunk(struct asnap_reader *r)
{
	uint8_t type;
	size_t got;
	if (pull(r, &type, 1, &got) < 0)
		return -1;
	if (got == 0) {
		const char *after = r->last_chunk ? chunk_section_name(r->last_chunk) : NULL;
		if (!after)
			return rfail(r, ASNAP_ERR_TRUNCATED, "truncated after the preamble");
		return rfail(r, ASNAP_ERR_TRUNCATED,
			     "truncated after the %s section (no end record)", after);
	}
	r->chunk = type;
	uint64_t len = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t b;
		if (pull_exact(r, &b, 1) < 0)
			return -1;
		if (shift == 63 && b > 1)
			return corrupt(r, "bad chunk length");
		len |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80))
			break;
		if (shift >= 63)
			return corrupt(r, "bad chunk length");
	}
	if (len > CHUNK_MAX)
		return rfail(r, ASNAP_ERR_CORRUPT,
			     "corrupt file: a chunk of type 0x%02x claims %llu bytes, more than the format allows",
			     type, (unsigned long long)len);
	r->payload.len = 0;
	/* an empty payload still needs a buffer: NULL + 0 is undefined */
	if (!r->payload.data && !reserve_charged(r, &r->payload, 1))
		return -1;
	while (r->payload.len < len) {
		size_t step = len - r->payload.len;
		if (step > READ_STEP)
			step = READ_STEP;
		if (!reserve_charged(r, &r->payload, step))
			return -1;
		if (pull_exact(r, r->payload.data + r->payload.len, step) < 0)
			return -1;
		r->payload.len += step;
	}
	r->cur = r->payload.data;
	r->end = r->payload.data + r->payload.len;
	if (r->budget) /* for the estimate of what charges the items */
		r->budget->file_read = r->pos - (r->in.size - r->in.pos);
	return 0;
}

static bool get_varint(struct asnap_reader *r, const uint8_t **p, const uint8_t *end,
		       uint64_t *v)
{
	if (varint_get(p, end, v))
		return true;
	corrupt(r, "bad or overlong number");
	return false;
}

static bool get_u32(struct asnap_reader *r, const uint8_t **p, const uint8_t *end,
		    uint32_t *v)
{
	uint64_t x;
	if (!get_varint(r, p, end, &x))
		return false;
	if (x > UINT32_MAX - 1) {
		corrupt(r, "number out of range");
		return false;
	}
	*v = (uint32_t)x;
	return true;
}

static bool string_ok(struct asnap_reader *r, uint32_t id)
{
	if (id <= r->nstrings)
		return true;
	corrupt(r, "reference to an undefined string");
	return false;
}

static bool node_ref(struct asnap_reader *r, uint32_t id)
{
	if ((uint64_t)id + 1 > r->max_ref)
		r->max_ref = (uint64_t)id + 1;
	return true;
}

/* Room in the string table for count more strings. */
static int reserve_strings(struct asnap_reader *r, uint64_t count)
{
	if ((uint64_t)r->nstrings + count >= UINT32_MAX)
		return rfail(r, ASNAP_ERR_LIMIT, "more than 2^32 strings");
	if (r->nstrings + count + 1 > r->str_cap) {
		uint64_t cap = r->str_cap ? r->str_cap : 1024;
		while (cap < r->nstrings + count + 1)
			cap *= 2;
		if (charge(r, (cap - r->str_cap) * sizeof(*r->str_off)) < 0)
			return -1;
		uint64_t *off = asnap_big_realloc(r->str_off, cap, sizeof(*off));
		if (!off)
			return rfail(r, ASNAP_ERR_NOMEM, "out of memory");
		r->str_off = off;
		r->str_cap = (uint32_t)(cap > UINT32_MAX ? UINT32_MAX : cap);
	}
	return 0;
}

static int parse_strings(struct asnap_reader *r)
{
	uint64_t count;
	if (!get_varint(r, &r->cur, r->end, &count))
		return -1;
	if (count == 0 || count > (uint64_t)(r->end - r->cur))
		return corrupt(r, "bad string count");
	if (reserve_strings(r, count) < 0)
		return -1;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t len;
		if (!get_varint(r, &r->cur, r->end, &len))
			return -1;
		if (len == 0 || len > (uint64_t)(r->end - r->cur) || len > ASNAP_STRING_MAX)
			return corrupt(r, "bad string length");
		/* the string table is charged as it fills: its doubling is address
		 * space, resident only as it is written */
		if (charge(r, len + 1) < 0)
			return -1;
		r->str_off[++r->nstrings] = r->blob.len;
		bytebuf_put(&r->blob, r->cur, len);
		bytebuf_byte(&r->blob, 0);
		if (r->blob.failed)
			return rfail(r, ASNAP_ERR_NOMEM, "out of memory");
		r->cur += len;
	}
	if (r->cur != r->end)
		return corrupt(r, "bytes left over");
	r->seen.strings += count;
	return 0;
}

static int open_columns(struct asnap_reader *r, int first, int last)
{
	for (int c = first; c <= last; c++) {
		uint64_t len;
		if (!get_varint(r, &r->cur, r->end, &len))
			return -1;
		if (len > (uint64_t)(r->end - r->cur))
			return corrupt(r, "column runs past the chunk");
		r->col[c].p = r->cur;
		r->col[c].end = r->cur + len;
		r->cur += len;
	}
	if (r->cur != r->end)
		return corrupt(r, "bytes left over");
	return 0;
}

static int parse_nodes_head(struct asnap_reader *r)
{
	uint64_t first, count;
	if (!get_varint(r, &r->cur, r->end, &first) || !get_varint(r, &r->cur, r->end, &count))
		return -1;
	if (first != r->seen.nodes)
		return corrupt(r, "nodes out of sequence");
	if (count == 0 || count > NODES_PER_CHUNK_MAX)
		return corrupt(r, "bad node count");
	if (r->seen.nodes + count >= UINT32_MAX)
		return rfail(r, ASNAP_ERR_LIMIT, "more than 2^32 nodes");
	r->node_id = (uint32_t)first;
	r->remaining = (uint32_t)count;
	return open_columns(r, 0, NODE_COLUMNS - 1);
}

static bool ensure_edges(struct asnap_reader *r, uint64_t n)
{
	if (n <= r->edges_cap)
		return true;
	uint64_t cap = r->edges_cap ? r->edges_cap : 64;
	while (cap < n)
		cap *= 2;
	if (charge_buffer(r, (cap - r->edges_cap) * sizeof(*r->edges)) < 0)
		return false;
	struct asnap_edge *e = realloc(r->edges, cap * sizeof(*e));
	if (!e) {
		rfail(r, ASNAP_ERR_NOMEM, "out of memory");
		return false;
	}
	r->edges = e;
	r->edges_cap = (uint32_t)cap;
	return true;
}

static int read_edges(struct asnap_reader *r, uint32_t source, uint64_t n)
{
	struct column *t = &r->col[6], *k = &r->col[7], *l = &r->col[8];
	/* every edge takes at least one byte of each column */
	if (n > (uint64_t)(t->end - t->p) || n > (uint64_t)(k->end - k->p) ||
	    n > (uint64_t)(l->end - l->p))
		return corrupt(r, "edge count runs past the edge columns");
	if (!ensure_edges(r, n))
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t zt, label;
		if (!get_varint(r, &t->p, t->end, &zt) || !get_varint(r, &l->p, l->end, &label))
			return -1;
		/* in unsigned arithmetic: a hostile delta must not overflow */
		uint64_t target = (uint64_t)source + (uint64_t)zigzag_decode(zt);
		if (target >= (uint64_t)UINT32_MAX - 1)
			return corrupt(r, "edge to an impossible node id");
		uint8_t kind = *k->p++;
		if (kind & ~r->edge_kinds)
			return corrupt(r, "unknown edge kind");
		if (kind & ASNAP_EDGE_INDEX) {
			if (label > ASNAP_INDEX_MAX)
				return corrupt(r, "edge index label too large");
			if (label + 1 > r->index_count)
				r->index_count = label + 1;
		} else if (label > r->nstrings) {
			return corrupt(r, "edge label is an undefined string");
		}
		r->edges[i] = (struct asnap_edge){(uint32_t)target, (uint32_t)label, kind};
		node_ref(r, (uint32_t)target);
	}
	r->seen.edges += n;
	return 0;
}

static int next_node(struct asnap_reader *r, struct asnap_node *n)
{
	struct column *c = r->col;
	uint64_t za, type, size, refcnt, flags, nedges;
	/* a count larger than the columns hold: say so, not "bad number" */
	for (int i = 0; i < 6; i++)
		if (c[i].p == c[i].end)
			return corrupt(r, "columns disagree on the node count");
	if (!get_varint(r, &c[0].p, c[0].end, &za) || !get_varint(r, &c[1].p, c[1].end, &type) ||
	    !get_varint(r, &c[2].p, c[2].end, &size) ||
	    !get_varint(r, &c[3].p, c[3].end, &refcnt) ||
	    !get_varint(r, &c[4].p, c[4].end, &flags) ||
	    !get_varint(r, &c[5].p, c[5].end, &nedges))
		return -1;
	if (type > r->nstrings)
		return corrupt(r, "node type is an undefined string");
	if (flags > UINT32_MAX)
		return corrupt(r, "bad node flags");
	uint32_t id = r->node_id++;
	if (read_edges(r, id, nedges) < 0)
		return -1;
	r->prev_addr += (uint64_t)zigzag_decode(za);
	*n = (struct asnap_node){
		.id = id, .type = (uint32_t)type, .addr = r->prev_addr, .size = size,
		.refcnt = refcnt, .flags = (uint32_t)flags, .nedges = (uint32_t)nedges,
		.edges = r->edges,
	};
	r->seen.nodes++;
	if (--r->remaining == 0) {
		for (int i = 0; i < NODE_COLUMNS; i++)
			if (c[i].p != c[i].end)
				return corrupt(r, "columns disagree on the node count");
	}
	return 0;
}

static int parse_edges_chunk(struct asnap_reader *r, struct asnap_item *item)
{
	uint32_t node;
	uint64_t count;
	if (!r->edges_may_follow)
		return corrupt(r, "edges that follow no node");
	if (!get_u32(r, &r->cur, r->end, &node) || !get_varint(r, &r->cur, r->end, &count))
		return -1;
	if ((uint64_t)node + 1 != r->seen.nodes)
		return corrupt(r, "edges of a node other than the last one");
	if (count == 0)
		return corrupt(r, "empty edge chunk");
	if (open_columns(r, 6, 8) < 0 || read_edges(r, node, count) < 0)
		return -1;
	for (int i = 6; i <= 8; i++)
		if (r->col[i].p != r->col[i].end)
			return corrupt(r, "columns disagree on the edge count");
	item->kind = ASNAP_ITEM_EDGES;
	item->u.edges.node = node;
	item->u.edges.nedges = (uint32_t)count;
	item->u.edges.edges = r->edges;
	return 0;
}

/* n values for one list; n is bounded by the bytes left in the chunk. */
static struct asnap_value *alloc_values(struct asnap_reader *r, uint64_t n)
{
	struct vblock *b = r->values;
	for (; b; b = b->next)
		if (b->cap - b->len >= n)
			break;
	if (!b) {
		size_t cap = r->values ? r->values->cap * 2 : 64;
		if (cap < n)
			cap = (size_t)n;
		if (charge_buffer(r, sizeof(*b) + cap * sizeof(b->v[0])) < 0)
			return NULL;
		b = malloc(sizeof(*b) + cap * sizeof(b->v[0]));
		if (!b) {
			rfail(r, ASNAP_ERR_NOMEM, "out of memory");
			return NULL;
		}
		b->len = 0;
		b->cap = cap;
		b->next = r->values;
		r->values = b;
	}
	struct asnap_value *v = b->v + b->len;
	b->len += (size_t)n;
	return v;
}

static int parse_value(struct asnap_reader *r, struct asnap_value *v, int depth)
{
	if (r->cur >= r->end)
		return corrupt(r, "value runs past the chunk");
	uint8_t type = *r->cur++;
	uint64_t x;
	switch (type) {
	case ASNAP_VAL_NONE:
		v->type = ASNAP_VAL_NONE;
		return 0;
	case ASNAP_VAL_BOOL:
		if (r->cur >= r->end || *r->cur > 1)
			return corrupt(r, "bad boolean");
		v->type = ASNAP_VAL_BOOL;
		v->u.b = *r->cur++ != 0;
		return 0;
	case ASNAP_VAL_INT:
		if (!get_varint(r, &r->cur, r->end, &x))
			return -1;
		v->type = ASNAP_VAL_INT;
		v->u.i = zigzag_decode(x);
		return 0;
	case ASNAP_VAL_FLOAT: {
		if (r->end - r->cur < 8)
			return corrupt(r, "value runs past the chunk");
		uint64_t bits = 0;
		for (int i = 0; i < 8; i++)
			bits |= (uint64_t)r->cur[i] << (8 * i);
		r->cur += 8;
		v->type = ASNAP_VAL_FLOAT;
		memcpy(&v->u.f, &bits, sizeof(bits));
		return 0;
	}
	case ASNAP_VAL_STR:
		if (!get_u32(r, &r->cur, r->end, &v->u.str) || !string_ok(r, v->u.str))
			return -1;
		v->type = ASNAP_VAL_STR;
		return 0;
	case ASNAP_VAL_NODE:
		if (!get_u32(r, &r->cur, r->end, &v->u.node))
			return -1;
		node_ref(r, v->u.node);
		v->type = ASNAP_VAL_NODE;
		return 0;
	case ASNAP_VAL_LIST: {
		if (depth >= ASNAP_VALUE_MAX_DEPTH)
			return corrupt(r, "lists nested too deep");
		if (!get_varint(r, &r->cur, r->end, &x))
			return -1;
		if (x > (uint64_t)(r->end - r->cur))
			return corrupt(r, "list runs past the chunk");
		struct asnap_value *items = alloc_values(r, x);
		if (!items)
			return -1;
		for (uint64_t i = 0; i < x; i++)
			if (parse_value(r, &items[i], depth + 1) < 0)
				return -1;
		v->type = ASNAP_VAL_LIST;
		v->u.list.count = (uint32_t)x;
		v->u.list.items = items;
		return 0;
	}
	}
	return corrupt(r, "unknown value type");
}

static int next_record(struct asnap_reader *r, struct asnap_record *rec)
{
	uint32_t node, kind;
	uint64_t nprops;
	if (!get_u32(r, &r->cur, r->end, &node) || !get_u32(r, &r->cur, r->end, &kind) ||
	    !get_varint(r, &r->cur, r->end, &nprops))
		return -1;
	if (!string_ok(r, kind))
		return -1;
	if (nprops > (uint64_t)(r->end - r->cur) / 2)
		return corrupt(r, "bad property count");
	if (nprops > r->props_cap) {
		if (charge_buffer(r, (nprops - r->props_cap) * sizeof(*r->props)) < 0)
			return -1;
		struct asnap_prop *p = realloc(r->props, nprops * sizeof(*p));
		if (!p)
			return rfail(r, ASNAP_ERR_NOMEM, "out of memory");
		r->props = p;
		r->props_cap = (uint32_t)nprops;
	}
	for (struct vblock *b = r->values; b; b = b->next)
		b->len = 0;
	for (uint64_t i = 0; i < nprops; i++) {
		if (!get_u32(r, &r->cur, r->end, &r->props[i].key) || !string_ok(r, r->props[i].key))
			return -1;
		if (parse_value(r, &r->props[i].value, 0) < 0)
			return -1;
	}
	node_ref(r, node);
	*rec = (struct asnap_record){node, kind, (uint32_t)nprops, r->props};
	r->seen.records++;
	r->remaining--;
	if (r->remaining == 0 && r->cur != r->end)
		return corrupt(r, "bytes left over");
	return 0;
}

static int next_root(struct asnap_reader *r, struct asnap_root *root)
{
	uint32_t node, kind, label;
	if (!get_u32(r, &r->cur, r->end, &node) || !get_u32(r, &r->cur, r->end, &kind) ||
	    !get_u32(r, &r->cur, r->end, &label))
		return -1;
	if (!string_ok(r, kind) || !string_ok(r, label))
		return -1;
	node_ref(r, node);
	*root = (struct asnap_root){node, kind, label};
	r->seen.roots++;
	r->remaining--;
	if (r->remaining == 0 && r->cur != r->end)
		return corrupt(r, "bytes left over");
	return 0;
}

static int parse_counted(struct asnap_reader *r)
{
	uint64_t count;
	if (!get_varint(r, &r->cur, r->end, &count))
		return -1;
	if (count == 0 || count > (uint64_t)(r->end - r->cur))
		return corrupt(r, "bad item count");
	r->remaining = (uint32_t)count;
	return 0;
}

/* The strings "[0]" ... "[index_count - 1]", after the file's own. */
static int define_index_strings(struct asnap_reader *r)
{
	uint64_t n = r->index_count, bytes = 0;
	/* "[", the digits, "]" and the NUL of the indexes with d digits */
	for (uint64_t lo = 0, hi = 10, d = 1; lo < n; lo = hi, hi *= 10, d++)
		bytes += ((hi < n ? hi : n) - lo) * (d + 3);
	if (reserve_strings(r, n) < 0 || charge(r, bytes) < 0)
		return -1;
	if (!bytebuf_reserve(&r->blob, bytes))
		return rfail(r, ASNAP_ERR_NOMEM, "out of memory");
	r->index_base = r->nstrings + 1;
	/* "[i]\0" in s, i counted up in decimal in place: s + 1 .. s + 1 + nd */
	char s[24] = "[0]";
	size_t nd = 1;
	for (uint64_t i = 0; i < n; i++) {
		r->str_off[++r->nstrings] = r->blob.len;
		bytebuf_put(&r->blob, s, nd + 3);
		size_t j = nd;
		while (j > 0 && s[j] == '9')
			s[j--] = '0';
		if (j > 0) {
			s[j]++;
		} else {
			memmove(s + 2, s + 1, nd);
			s[1] = '1';
			s[++nd + 1] = ']';
			s[nd + 2] = '\0';
		}
	}
	if (r->blob.failed)
		return rfail(r, ASNAP_ERR_NOMEM, "out of memory");
	return 0;
}

static int parse_end(struct asnap_reader *r, struct asnap_item *item)
{
	struct asnap_totals t;
	uint64_t tlen;
	if (!get_varint(r, &r->cur, r->end, &t.strings) || !get_varint(r, &r->cur, r->end, &t.nodes) ||
	    !get_varint(r, &r->cur, r->end, &t.edges) || !get_varint(r, &r->cur, r->end, &t.records) ||
	    !get_varint(r, &r->cur, r->end, &t.roots) || !get_varint(r, &r->cur, r->end, &tlen))
		return -1;
	if (tlen != (uint64_t)(r->end - r->cur))
		return corrupt(r, "bad trailer length");
	if (t.strings != r->seen.strings || t.nodes != r->seen.nodes || t.edges != r->seen.edges ||
	    t.records != r->seen.records || t.roots != r->seen.roots)
		return corrupt(r, "the totals disagree with the file's content");
	if (r->max_ref > r->seen.nodes)
		return rfail(r, ASNAP_ERR_CORRUPT,
			     "corrupt file: a reference to node %llu, but the file has %llu nodes",
			     (unsigned long long)(r->max_ref - 1), (unsigned long long)r->seen.nodes);
	if (r->index_count > r->seen.edges + INDEX_SLACK)
		return rfail(r, ASNAP_ERR_CORRUPT,
			     "corrupt file: an index label %llu, but the file has %llu edges",
			     (unsigned long long)(r->index_count - 1),
			     (unsigned long long)r->seen.edges);
	const uint8_t *trailer = r->cur;
	/* The body frame must end here, checksum verified, with nothing after. */
	uint8_t extra;
	size_t got;
	if (pull(r, &extra, 1, &got) < 0)
		return -1;
	if (got)
		return rfail(r, ASNAP_ERR_CORRUPT, "corrupt file: data after the end record");
	if (!r->frame_done)
		return rfail(r, ASNAP_ERR_TRUNCATED, "truncated in the end section (checksum missing)");
	if (r->in.pos < r->in.size)
		return rfail(r, ASNAP_ERR_CORRUPT, "corrupt file: trailing bytes after the snapshot");
	if (refill(r) < 0)
		return -1;
	if (r->in.size > r->in.pos)
		return rfail(r, ASNAP_ERR_CORRUPT, "corrupt file: trailing bytes after the snapshot");
	if (r->index_count && define_index_strings(r) < 0)
		return -1;
	item->kind = ASNAP_ITEM_END;
	item->u.end.totals = t;
	/* The trailer stays valid in the payload buffer; NUL-terminate a copy. */
	if (tlen) {
		size_t off = (size_t)(trailer - r->payload.data);
		bytebuf_byte(&r->payload, 0);
		if (r->payload.failed)
			return rfail(r, ASNAP_ERR_NOMEM, "out of memory");
		item->u.end.trailer = (const char *)r->payload.data + off;
		item->u.end.trailer_len = tlen;
	} else {
		item->u.end.trailer = NULL;
		item->u.end.trailer_len = 0;
	}
	return 0;
}

static int parse_header(struct asnap_reader *r, struct asnap_item *item)
{
	size_t len = (size_t)(r->end - r->cur);
	if (len < 2 || r->cur[0] != '{' || memchr(r->cur, 0, len))
		return corrupt(r, "not a JSON object");
	bytebuf_byte(&r->payload, 0);
	if (r->payload.failed)
		return rfail(r, ASNAP_ERR_NOMEM, "out of memory");
	item->kind = ASNAP_ITEM_HEADER;
	item->u.header.json = (const char *)r->payload.data;
	item->u.header.len = len;
	r->cur = r->end;
	return 0;
}

int asnap_reader_next(struct asnap_reader *r, struct asnap_item *item, struct asnap_error *err)
{
	if (r->failed)
		goto error;
	if (r->finished)
		return 0;
	for (;;) {
		if (r->remaining > 0) {
			int rc = -1;
			switch (r->chunk) {
			case CHUNK_NODES:
				item->kind = ASNAP_ITEM_NODE;
				rc = next_node(r, &item->u.node);
				break;
			case CHUNK_RECORDS:
				item->kind = ASNAP_ITEM_RECORD;
				rc = next_record(r, &item->u.record);
				break;
			case CHUNK_ROOTS:
				item->kind = ASNAP_ITEM_ROOT;
				rc = next_root(r, &item->u.root);
				break;
			}
			if (rc < 0)
				goto error;
			return 1;
		}
		if (r->chunk)
			r->last_chunk = r->chunk;
		if (r->chunk == CHUNK_END) {
			r->finished = true;
			return 0;
		}
		if (read_chunk(r) < 0)
			goto error;
		unsigned type = r->chunk;
		if (!r->header_seen && type != CHUNK_HEADER) {
			rfail(r, ASNAP_ERR_CORRUPT, "corrupt file: the header is missing");
			goto error;
		}
		int rc = 0;
		bool edges_may_follow = false;
		switch (type) {
		case CHUNK_HEADER:
			if (r->header_seen) {
				corrupt(r, "a second header");
				goto error;
			}
			r->header_seen = true;
			if (parse_header(r, item) < 0)
				goto error;
			return 1;
		case CHUNK_STRINGS:
			rc = parse_strings(r);
			edges_may_follow = r->edges_may_follow;
			break;
		case CHUNK_NODES:
			rc = parse_nodes_head(r);
			edges_may_follow = true;
			break;
		case CHUNK_EDGES:
			if (parse_edges_chunk(r, item) < 0)
				goto error;
			r->edges_may_follow = true;
			return 1;
		case CHUNK_RECORDS:
		case CHUNK_ROOTS:
			rc = parse_counted(r);
			break;
		case CHUNK_END:
			if (parse_end(r, item) < 0)
				goto error;
			r->edges_may_follow = false;
			return 1;
		default:
			if (!(type & CHUNK_OPTIONAL)) {
				rfail(r, ASNAP_ERR_CORRUPT, "corrupt file: unknown chunk type 0x%02x", type);
				goto error;
			}
			edges_may_follow = r->edges_may_follow;
			break; /* an optional chunk this reader does not know: skipped */
		}
		if (rc < 0)
			goto error;
		r->edges_may_follow = edges_may_follow;
	}
error:
	if (err && err->status == ASNAP_OK)
		*err = r->err;
	return -1;
}

/* ---- open, accessors ------------------------------------------------- */

static int check_preamble(struct asnap_reader *r, struct asnap_error *err)
{
	uint8_t pre[PREAMBLE_SIZE];
	size_t have = 0;
	while (have < sizeof(pre)) {
		ssize_t k = rread(r, pre + have, sizeof(pre) - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return asnap_error_set(err, ASNAP_ERR_IO, "read failed: %s", strerror(errno));
		if (k == 0)
			break;
		have += (size_t)k;
	}
	if (have == 0)
		return asnap_error_set(err, ASNAP_ERR_NOT_SNAPSHOT, "not a snapshot: the file is empty");
	if (have >= 4 && get_le32(pre) == ZSTD_FRAME_MAGIC)
		return asnap_error_set(err, ASNAP_ERR_NOT_SNAPSHOT,
				       "not a snapshot: a zstd stream without the asyncsnap preamble");
	if (have < 4 || get_le32(pre) != PREAMBLE_FRAME_MAGIC)
		return asnap_error_set(err, ASNAP_ERR_NOT_SNAPSHOT,
				       "not a snapshot: unknown magic number");
	if (have < sizeof(pre))
		return asnap_error_set(err, ASNAP_ERR_TRUNCATED, "truncated in the preamble");
	uint32_t size = get_le32(pre + 4);
	if (memcmp(pre + 8, PREAMBLE_MAGIC, 8) != 0)
		return asnap_error_set(err, ASNAP_ERR_NOT_SNAPSHOT,
				       "not a snapshot: a zstd skippable frame of another program");
	if (size < PREAMBLE_CONTENT_SIZE || size > 4096)
		return asnap_error_set(err, ASNAP_ERR_CORRUPT, "corrupt preamble: bad length %u", size);
	uint32_t version = get_le32(pre + 16), needs = get_le32(pre + 20);
	if (version == 0 || needs == 0 || needs > version)
		return asnap_error_set(err, ASNAP_ERR_CORRUPT, "corrupt preamble: bad version %u/%u",
				       version, needs);
	if (needs > ASNAP_FORMAT_VERSION)
		return asnap_error_set(err, ASNAP_ERR_VERSION,
				       "written by a newer asyncsnap (format version %u); "
				       "this asyncsnap reads format version %u",
				       version, ASNAP_FORMAT_VERSION);
	r->version = version;
	r->edge_kinds = ASNAP_EDGE_WEAK | (needs >= 2 ? ASNAP_EDGE_INDEX : 0);
	/* skip any preamble bytes a later version added */
	if (size > PREAMBLE_CONTENT_SIZE) {
		if (r->pipe) {
			uint8_t skip[4096];
			size_t left = size - PREAMBLE_CONTENT_SIZE;
			while (left) {
				ssize_t k = rread(r, skip, left < sizeof(skip) ? left : sizeof(skip));
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					return asnap_error_set(err, ASNAP_ERR_TRUNCATED,
							       "truncated in the preamble");
				left -= (size_t)k;
			}
		} else {
			r->pos += size - PREAMBLE_CONTENT_SIZE;
		}
	}

	/* The body must be one zstd frame that carries a content checksum. */
	uint8_t fh[5];
	ssize_t k;
	do
		k = rread(r, fh, sizeof(fh));
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return asnap_error_set(err, ASNAP_ERR_IO, "read failed: %s", strerror(errno));
	if (k < (ssize_t)sizeof(fh))
		return asnap_error_set(err, ASNAP_ERR_TRUNCATED,
				       k == 0 ? "truncated after the preamble" : "truncated in the frame header");
	if (get_le32(fh) != ZSTD_FRAME_MAGIC)
		return asnap_error_set(err, ASNAP_ERR_CORRUPT, "corrupt file: the body is not a zstd frame");
	if (!(fh[4] & 0x04))
		return asnap_error_set(err, ASNAP_ERR_CORRUPT,
				       "corrupt file: the body frame has no checksum");
	memcpy(r->ibuf, fh, sizeof(fh));
	r->in = (ZSTD_inBuffer){r->ibuf, sizeof(fh), 0};
	return 0;
}

/* A reader on descriptor fd (taken over), from its start. */
static struct asnap_reader *reader_on(int fd, struct asnap_error *err)
{
	struct asnap_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	r->fd = fd;
	if (fstat(r->fd, &r->st) < 0) {
		asnap_error_set(err, ASNAP_ERR_IO, "cannot stat: %s", strerror(errno));
		goto error;
	}
	if (S_ISDIR(r->st.st_mode)) {
		asnap_error_set(err, ASNAP_ERR_IO, "is a directory");
		goto error;
	}
	r->file_size = (uint64_t)r->st.st_size;
	r->dctx = ZSTD_createDCtx();
	r->ibuf_cap = ZSTD_DStreamInSize();
	r->ibuf = malloc(r->ibuf_cap);
	if (!r->dctx || !r->ibuf) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		goto error;
	}
	if (check_preamble(r, err) < 0)
		goto error;
	return r;
error:
	asnap_reader_destroy(r);
	return NULL;
}

struct asnap_reader *asnap_reader_open(const char *path, struct asnap_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		asnap_error_set(err, ASNAP_ERR_IO, "cannot open: %s", strerror(errno));
		return NULL;
	}
	return reader_on(fd, err);
}

struct asnap_reader *asnap_reader_reopen(const struct asnap_reader *r, struct asnap_error *err)
{
	if (r->pipe || !S_ISREG(r->st.st_mode)) {
		asnap_error_set(err, ASNAP_ERR_USAGE, "cannot read it twice: not a regular file");
		return NULL;
	}
	struct stat now;
	if (fstat(r->fd, &now) < 0) {
		asnap_error_set(err, ASNAP_ERR_IO, "cannot stat: %s", strerror(errno));
		return NULL;
	}
	if (now.st_size != r->st.st_size || now.st_mtim.tv_sec != r->st.st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != r->st.st_mtim.tv_nsec) {
		asnap_error_set(err, ASNAP_ERR_CORRUPT, "the file changed while it was being read");
		return NULL;
	}
	int fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		asnap_error_set(err, ASNAP_ERR_IO, "cannot reopen: %s", strerror(errno));
		return NULL;
	}
	struct asnap_reader *again = reader_on(fd, err);
	if (again && again->version != r->version) {
		asnap_reader_destroy(again);
		asnap_error_set(err, ASNAP_ERR_CORRUPT, "the file changed while it was being read");
		return NULL;
	}
	return again;
}

const char *asnap_reader_string(const struct asnap_reader *r, uint32_t id, size_t *len)
{
	if (id == 0) {
		if (len)
			*len = 0;
		return "";
	}
	if (id > r->nstrings)
		return NULL;
	uint64_t off = r->str_off[id];
	uint64_t next = id < r->nstrings ? r->str_off[id + 1] : r->blob.len;
	if (len)
		*len = (size_t)(next - off - 1);
	return (const char *)r->blob.data + off;
}

uint32_t asnap_reader_string_count(const struct asnap_reader *r)
{
	return r->nstrings;
}

uint32_t asnap_reader_index_base(const struct asnap_reader *r)
{
	return r->index_base;
}

void asnap_reader_set_budget(struct asnap_reader *r, struct asnap_budget *b)
{
	asnap_budget_credit(r->budget, r->charged - r->charged_buffers);
	asnap_budget_credit_buffer(r->budget, r->charged_buffers);
	r->budget = b;
	if (!b)
		return;
	b->file_size = r->file_size;
	b->file_read = r->pos;
	b->used += r->charged; /* what it holds already */
	b->buffers += r->charged_buffers;
	if (b->limit) {
		/* the window is allocated whole when the frame starts: at most
		 * half the budget (the writer's levels need 8 MiB at most) */
		int wlog = 10;
		while (wlog < 27 && ((uint64_t)2 << wlog) <= b->limit / 2)
			wlog++;
		if (r->dctx)
			ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, wlog);
	}
}

void asnap_reader_trim(struct asnap_reader *r)
{
	if (!r->finished || r->failed)
		return;
	ZSTD_freeDCtx(r->dctx);
	r->dctx = NULL;
	free(r->ibuf);
	r->ibuf = NULL;
	r->ibuf_cap = 0;
	r->in = (ZSTD_inBuffer){0};
	bytebuf_release(&r->payload);
	r->cur = r->end = NULL;
	free(r->edges);
	r->edges = NULL;
	r->edges_cap = 0;
	free(r->props);
	r->props = NULL;
	r->props_cap = 0;
	while (r->values) {
		struct vblock *next = r->values->next;
		free(r->values);
		r->values = next;
	}
	/* all that is charged as buffers is freed above; the string table is not */
	asnap_budget_credit_buffer(r->budget, r->charged_buffers);
	r->charged -= r->charged_buffers;
	r->charged_buffers = 0;
	r->dctx_charged = 0;
}

uint64_t asnap_reader_file_size(const struct asnap_reader *r)
{
	return r->file_size;
}

uint32_t asnap_reader_version(const struct asnap_reader *r)
{
	return r->version;
}

void asnap_reader_destroy(struct asnap_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	asnap_budget_credit(r->budget, r->charged - r->charged_buffers);
	asnap_budget_credit_buffer(r->budget, r->charged_buffers);
	ZSTD_freeDCtx(r->dctx);
	free(r->ibuf);
	bytebuf_release(&r->payload);
	bytebuf_release(&r->blob);
	asnap_free_all(r->str_off, r->edges, r->props);
	while (r->values) {
		struct vblock *next = r->values->next;
		free(r->values);
		r->values = next;
	}
	free(r);
}
