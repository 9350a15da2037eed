/*
 * writer.c - write a snapshot file (docs/FORMAT.md).
 *
 * The writer buffers at most one chunk of each type, compresses through a
 * zstd stream straight into a temporary file beside the target, and renames
 * it into place on commit. It allocates nothing proportional to the heap
 * being written except the string table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "asyncsnap/format.h"
#include "codec.h"
#include "util/freeall.h"

/* Edges of one node per chunk; more go to EDGES chunks (docs/FORMAT.md). */
#define EDGES_PER_CHUNK 65536u

enum node_column {
	COL_ADDR, COL_TYPE, COL_SIZE, COL_REFCNT, COL_FLAGS, COL_NEDGES,
	COL_TARGET, COL_KIND, COL_LABEL,
};

struct strtab {
	struct bytebuf blob;    /* all strings, each followed by a NUL */
	uint64_t *offset;       /* by id; offset[0] unused */
	uint32_t *len;
	uint64_t *hash;
	uint32_t count;         /* ids 1..count are defined */
	uint32_t cap;
	uint32_t *slots;        /* open addressing: 0 empty, else id */
	uint32_t nslots;        /* power of two */
};

struct asnap_writer {
	struct asnap_error err;
	int fd;
	char *path;
	char *tmp_path;         /* NULL when the target is written in place */
	bool stream;            /* the target is a device or a pipe: in place */
	bool committed;
	bool header_written;
	bool no_fsync;
	uint64_t file_dev, file_ino; /* of the committed file */

	ZSTD_CCtx *cctx;
	uint8_t *obuf;
	size_t obuf_cap;
	uint64_t bytes_out;

	struct strtab strings;
	struct bytebuf pending_strings;
	uint32_t pending_string_count;

	struct bytebuf col[NODE_COLUMNS];
	uint32_t chunk_nodes;
	uint32_t chunk_first;
	uint64_t prev_addr;

	struct bytebuf records;
	uint32_t chunk_records;
	struct bytebuf roots;
	uint32_t chunk_roots;

	struct asnap_totals totals;
	uint64_t max_ref;       /* highest node id referenced, +1; 0 if none */
	uint64_t index_count;   /* highest index label + 1; 0 if none (format 1) */
};

static int fail(struct asnap_writer *w, enum asnap_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct asnap_writer *w, enum asnap_status st, const char *fmt, ...)
{
	if (w->err.status == ASNAP_OK) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->err.message, sizeof(w->err.message), fmt, ap);
		va_end(ap);
		w->err.status = st;
	}
	return -1;
}

static int fail_nomem(struct asnap_writer *w)
{
	return fail(w, ASNAP_ERR_NOMEM, "out of memory while writing the snapshot");
}

/* ---- output ---------------------------------------------------------- */

/* The file being written: the temporary one, or a stream's path. */
static const char *target(const struct asnap_writer *w)
{
	return w->tmp_path ? w->tmp_path : w->path;
}

static int write_all(struct asnap_writer *w, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return fail(w, ASNAP_ERR_IO, "cannot write '%s': %s",
				    target(w), strerror(errno));
		}
		p += k;
		n -= (size_t)k;
		w->bytes_out += (uint64_t)k;
	}
	return 0;
}

static int compress(struct asnap_writer *w, const void *src, size_t n,
		    ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {src, n, 0};
	for (;;) {
		ZSTD_outBuffer out = {w->obuf, w->obuf_cap, 0};
		size_t ret = ZSTD_compressStream2(w->cctx, &out, &in, mode);
		if (ZSTD_isError(ret))
			return fail(w, ASNAP_ERR_IO, "compression failed: %s",
				    ZSTD_getErrorName(ret));
		if (out.pos && write_all(w, w->obuf, out.pos) < 0)
			return -1;
		if (mode == ZSTD_e_continue ? in.pos == in.size : ret == 0)
			return 0;
	}
}

/* A piece of a chunk's payload. */
struct part {
	const void *data;
	size_t len;
};

/* A chunk whose payload is the parts one after the other, compressed
 * from where they are: no copy into one buffer (a chunk is about
 * CHUNK_TARGET bytes, which malloc would map and unmap every time). */
static int emit_parts(struct asnap_writer *w, unsigned type, const struct part *parts,
		      size_t nparts)
{
	size_t len = 0;
	for (size_t i = 0; i < nparts; i++)
		len += parts[i].len;
	uint8_t head[11];
	size_t n = 0;
	if (len > CHUNK_MAX)
		return fail(w, ASNAP_ERR_LIMIT, "a %s chunk of %zu bytes exceeds the format's limit",
			    chunk_section_name(type), len);
	head[n++] = (uint8_t)type;
	n += varint_put(head + n, len);
	if (compress(w, head, n, ZSTD_e_continue) < 0)
		return -1;
	for (size_t i = 0; i < nparts; i++)
		if (parts[i].len && compress(w, parts[i].data, parts[i].len, ZSTD_e_continue) < 0)
			return -1;
	return 0;
}

static int emit_chunk(struct asnap_writer *w, unsigned type, const void *payload,
		      size_t len)
{
	return emit_parts(w, type, &(struct part){payload, len}, 1);
}

/* A chunk of a count and the bytes of its items (strings, records, roots). */
static void emit_counted(struct asnap_writer *w, unsigned type, uint64_t count,
			 const struct bytebuf *items)
{
	uint8_t head[10];
	struct part parts[] = {{head, varint_put(head, count)}, {items->data, items->len}};
	emit_parts(w, type, parts, 2);
}

/*
 * A chunk of columns: the varints in head (nhead bytes of it used), then
 * each column as its length and its bytes.
 */
static void emit_columns(struct asnap_writer *w, unsigned type, const uint8_t *head,
			 size_t nhead, int first_col, int last_col)
{
	uint8_t lens[NODE_COLUMNS][10];
	struct part parts[1 + 2 * NODE_COLUMNS];
	size_t np = 0;
	parts[np++] = (struct part){head, nhead};
	for (int c = first_col; c <= last_col; c++) {
		parts[np++] = (struct part){lens[c], varint_put(lens[c], w->col[c].len)};
		parts[np++] = (struct part){w->col[c].data, w->col[c].len};
	}
	emit_parts(w, type, parts, np);
}

/* ---- strings --------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t len)
{
	/* FNV-1a, then a final mix so that short keys spread over the slots. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static bool strtab_grow_slots(struct strtab *t)
{
	uint32_t n = t->nslots ? t->nslots * 2 : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return false;
	for (uint32_t id = 1; id <= t->count; id++) {
		uint32_t i = (uint32_t)t->hash[id] & (n - 1);
		while (slots[i])
			i = (i + 1) & (n - 1);
		slots[i] = id;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	return true;
}

static bool strtab_grow_ids(struct strtab *t)
{
	uint32_t cap = t->cap ? t->cap * 2 : 1024;
	uint64_t *off = realloc(t->offset, (size_t)cap * sizeof(*off));
	if (!off)
		return false;
	t->offset = off;
	uint32_t *len = realloc(t->len, (size_t)cap * sizeof(*len));
	if (!len)
		return false;
	t->len = len;
	uint64_t *hash = realloc(t->hash, (size_t)cap * sizeof(*hash));
	if (!hash)
		return false;
	t->hash = hash;
	t->cap = cap;
	return true;
}

static void flush_strings(struct asnap_writer *w);

uint32_t asnap_writer_intern(struct asnap_writer *w, const char *s, size_t len)
{
	struct strtab *t = &w->strings;
	if (w->err.status != ASNAP_OK || len == 0)
		return 0;
	if (len > ASNAP_STRING_MAX) {
		fail(w, ASNAP_ERR_USAGE, "a string of %zu bytes exceeds the format's limit", len);
		return 0;
	}
	uint64_t h = hash_bytes(s, len);
	if (t->nslots) {
		uint32_t i = (uint32_t)h & (t->nslots - 1);
		for (uint32_t id; (id = t->slots[i]) != 0; i = (i + 1) & (t->nslots - 1)) {
			if (t->hash[id] == h && t->len[id] == len &&
			    memcmp(t->blob.data + t->offset[id], s, len) == 0)
				return id;
		}
	}
	if (t->count == UINT32_MAX - 1) {
		fail(w, ASNAP_ERR_LIMIT, "more than 2^32 distinct strings");
		return 0;
	}
	if ((uint64_t)(t->count + 1) * 2 > t->nslots && !strtab_grow_slots(t)) {
		fail_nomem(w);
		return 0;
	}
	if (t->count + 1 >= t->cap && !strtab_grow_ids(t)) {
		fail_nomem(w);
		return 0;
	}
	uint32_t id = ++t->count;
	t->offset[id] = t->blob.len;
	t->len[id] = (uint32_t)len;
	t->hash[id] = h;
	bytebuf_put(&t->blob, s, len);
	bytebuf_byte(&t->blob, 0);
	uint32_t i = (uint32_t)h & (t->nslots - 1);
	while (t->slots[i])
		i = (i + 1) & (t->nslots - 1);
	t->slots[i] = id;

	bytebuf_varint(&w->pending_strings, len);
	bytebuf_put(&w->pending_strings, s, len);
	w->pending_string_count++;
	if (t->blob.failed || w->pending_strings.failed) {
		fail_nomem(w);
		return 0;
	}
	/* strings interned before the header wait for it: HEADER comes first */
	if (w->pending_strings.len >= CHUNK_TARGET && w->header_written)
		flush_strings(w);
	return id;
}

uint32_t asnap_writer_intern_cstr(struct asnap_writer *w, const char *s)
{
	return asnap_writer_intern(w, s, s ? strlen(s) : 0);
}

static void flush_strings(struct asnap_writer *w)
{
	if (!w->pending_string_count || w->err.status != ASNAP_OK)
		return;
	emit_counted(w, CHUNK_STRINGS, w->pending_string_count, &w->pending_strings);
	w->totals.strings += w->pending_string_count;
	w->pending_string_count = 0;
	w->pending_strings.len = 0;
}

static bool string_ok(struct asnap_writer *w, uint32_t id, const char *what)
{
	if (id <= w->strings.count)
		return true;
	fail(w, ASNAP_ERR_USAGE, "%s refers to undefined string %u", what, id);
	return false;
}

/* ---- nodes ----------------------------------------------------------- */

static void flush_nodes(struct asnap_writer *w)
{
	if (!w->chunk_nodes || w->err.status != ASNAP_OK)
		return;
	flush_strings(w);
	uint8_t head[20];
	size_t n = varint_put(head, w->chunk_first);
	n += varint_put(head + n, w->chunk_nodes);
	emit_columns(w, CHUNK_NODES, head, n, 0, NODE_COLUMNS - 1);
	for (int c = 0; c < NODE_COLUMNS; c++)
		w->col[c].len = 0;
	w->chunk_nodes = 0;
}

static void put_edges(struct asnap_writer *w, uint32_t source,
		      const struct asnap_edge *e, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].kind & ~(ASNAP_EDGE_WEAK | ASNAP_EDGE_INDEX)) {
			fail(w, ASNAP_ERR_USAGE, "edge of node %u has unknown kind %u",
			     source, e[i].kind);
			return;
		}
		if (e[i].kind & ASNAP_EDGE_INDEX) {
			if (e[i].label > ASNAP_INDEX_MAX) {
				fail(w, ASNAP_ERR_USAGE, "edge of node %u has index %u, over %u",
				     source, e[i].label, ASNAP_INDEX_MAX);
				return;
			}
			if ((uint64_t)e[i].label + 1 > w->index_count)
				w->index_count = (uint64_t)e[i].label + 1;
		} else if (!string_ok(w, e[i].label, "an edge label")) {
			return;
		}
		if ((uint64_t)e[i].target + 1 > w->max_ref)
			w->max_ref = (uint64_t)e[i].target + 1;
		bytebuf_varint(&w->col[COL_TARGET],
			       zigzag_encode((int64_t)e[i].target - (int64_t)source));
		bytebuf_byte(&w->col[COL_KIND], e[i].kind);
		bytebuf_varint(&w->col[COL_LABEL], e[i].label);
	}
}

static bool columns_failed(const struct asnap_writer *w)
{
	for (int c = 0; c < NODE_COLUMNS; c++)
		if (w->col[c].failed)
			return true;
	return false;
}

static size_t columns_len(const struct asnap_writer *w)
{
	size_t n = 0;
	for (int c = 0; c < NODE_COLUMNS; c++)
		n += w->col[c].len;
	return n;
}

/* Extra edges of the node just written, as EDGES chunks. */
static void emit_edge_chunks(struct asnap_writer *w, uint32_t source,
			     const struct asnap_edge *e, uint32_t n)
{
	while (n > 0 && w->err.status == ASNAP_OK) {
		uint32_t k = n < EDGES_PER_CHUNK ? n : EDGES_PER_CHUNK;
		for (int c = COL_TARGET; c <= COL_LABEL; c++)
			w->col[c].len = 0;
		put_edges(w, source, e, k);
		if (columns_failed(w)) {
			fail_nomem(w);
			return;
		}
		flush_strings(w);
		uint8_t head[20];
		size_t hn = varint_put(head, source);
		hn += varint_put(head + hn, k);
		emit_columns(w, CHUNK_EDGES, head, hn, COL_TARGET, COL_LABEL);
		e += k;
		n -= k;
	}
	for (int c = COL_TARGET; c <= COL_LABEL; c++)
		w->col[c].len = 0;
}

int asnap_writer_node(struct asnap_writer *w, const struct asnap_node *node)
{
	if (w->err.status != ASNAP_OK)
		return -1;
	if (!w->header_written)
		return fail(w, ASNAP_ERR_USAGE, "node written before the header");
	if (node->id != w->totals.nodes)
		return fail(w, ASNAP_ERR_USAGE, "node id %u out of order (expected %llu)",
			    node->id, (unsigned long long)w->totals.nodes);
	if (w->totals.nodes >= UINT32_MAX - 1)
		return fail(w, ASNAP_ERR_LIMIT, "more than 2^32 nodes");
	if (!string_ok(w, node->type, "a node type"))
		return -1;

	uint32_t first = node->nedges;
	bool split = node->nedges > EDGES_PER_CHUNK;
	if (split) {
		/* The node starts a chunk of its own, followed by EDGES chunks. */
		flush_nodes(w);
		first = EDGES_PER_CHUNK;
	}
	if (w->chunk_nodes == 0)
		w->chunk_first = node->id;
	bytebuf_varint(&w->col[COL_ADDR], zigzag_encode((int64_t)(node->addr - w->prev_addr)));
	w->prev_addr = node->addr;
	bytebuf_varint(&w->col[COL_TYPE], node->type);
	bytebuf_varint(&w->col[COL_SIZE], node->size);
	bytebuf_varint(&w->col[COL_REFCNT], node->refcnt);
	bytebuf_varint(&w->col[COL_FLAGS], node->flags);
	bytebuf_varint(&w->col[COL_NEDGES], first);
	put_edges(w, node->id, node->edges, first);
	if (w->err.status != ASNAP_OK)
		return -1;
	if (columns_failed(w))
		return fail_nomem(w);
	w->chunk_nodes++;
	w->totals.nodes++;
	w->totals.edges += node->nedges;
	if (split) {
		flush_nodes(w);
		emit_edge_chunks(w, node->id, node->edges + first, node->nedges - first);
	} else if (w->chunk_nodes >= NODES_PER_CHUNK_MAX || columns_len(w) >= CHUNK_TARGET) {
		flush_nodes(w);
	}
	return w->err.status == ASNAP_OK ? 0 : -1;
}

uint32_t asnap_writer_node_count(const struct asnap_writer *w)
{
	return (uint32_t)w->totals.nodes;
}

/* ---- records and roots ----------------------------------------------- */

static int put_value(struct asnap_writer *w, struct bytebuf *b,
		     const struct asnap_value *v, int depth)
{
	bytebuf_byte(b, (uint8_t)v->type);
	switch (v->type) {
	case ASNAP_VAL_NONE:
		return 0;
	case ASNAP_VAL_BOOL:
		bytebuf_byte(b, v->u.b ? 1 : 0);
		return 0;
	case ASNAP_VAL_INT:
		bytebuf_varint(b, zigzag_encode(v->u.i));
		return 0;
	case ASNAP_VAL_FLOAT: {
		uint64_t bits;
		uint8_t le[8];
		memcpy(&bits, &v->u.f, sizeof(bits));
		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)(bits >> (8 * i));
		bytebuf_put(b, le, 8);
		return 0;
	}
	case ASNAP_VAL_STR:
		if (!string_ok(w, v->u.str, "a property"))
			return -1;
		bytebuf_varint(b, v->u.str);
		return 0;
	case ASNAP_VAL_NODE:
		if ((uint64_t)v->u.node + 1 > w->max_ref)
			w->max_ref = (uint64_t)v->u.node + 1;
		bytebuf_varint(b, v->u.node);
		return 0;
	case ASNAP_VAL_LIST:
		if (depth >= ASNAP_VALUE_MAX_DEPTH)
			return fail(w, ASNAP_ERR_USAGE, "property lists nested deeper than %d",
				    ASNAP_VALUE_MAX_DEPTH);
		bytebuf_varint(b, v->u.list.count);
		for (uint32_t i = 0; i < v->u.list.count; i++)
			if (put_value(w, b, &v->u.list.items[i], depth + 1) < 0)
				return -1;
		return 0;
	}
	return fail(w, ASNAP_ERR_USAGE, "unknown property type %d", (int)v->type);
}

static void flush_records(struct asnap_writer *w)
{
	if (!w->chunk_records || w->err.status != ASNAP_OK)
		return;
	flush_strings(w);
	emit_counted(w, CHUNK_RECORDS, w->chunk_records, &w->records);
	w->records.len = 0;
	w->chunk_records = 0;
}

int asnap_writer_record(struct asnap_writer *w, const struct asnap_record *rec)
{
	if (w->err.status != ASNAP_OK)
		return -1;
	if (!w->header_written)
		return fail(w, ASNAP_ERR_USAGE, "record written before the header");
	if (!string_ok(w, rec->kind, "a record kind"))
		return -1;
	size_t start = w->records.len;
	bytebuf_varint(&w->records, rec->node);
	bytebuf_varint(&w->records, rec->kind);
	bytebuf_varint(&w->records, rec->nprops);
	for (uint32_t i = 0; i < rec->nprops; i++) {
		if (!string_ok(w, rec->props[i].key, "a property key"))
			return -1;
		bytebuf_varint(&w->records, rec->props[i].key);
		if (put_value(w, &w->records, &rec->props[i].value, 0) < 0)
			return -1;
	}
	if (w->records.failed)
		return fail_nomem(w);
	if (w->records.len - start > CHUNK_MAX / 2)
		return fail(w, ASNAP_ERR_LIMIT, "a record of %zu bytes exceeds the format's limit",
			    w->records.len - start);
	if ((uint64_t)rec->node + 1 > w->max_ref)
		w->max_ref = (uint64_t)rec->node + 1;
	w->chunk_records++;
	w->totals.records++;
	if (w->records.len >= CHUNK_TARGET)
		flush_records(w);
	return w->err.status == ASNAP_OK ? 0 : -1;
}

static void flush_roots(struct asnap_writer *w)
{
	if (!w->chunk_roots || w->err.status != ASNAP_OK)
		return;
	flush_strings(w);
	emit_counted(w, CHUNK_ROOTS, w->chunk_roots, &w->roots);
	w->roots.len = 0;
	w->chunk_roots = 0;
}

int asnap_writer_root(struct asnap_writer *w, const struct asnap_root *root)
{
	if (w->err.status != ASNAP_OK)
		return -1;
	if (!w->header_written)
		return fail(w, ASNAP_ERR_USAGE, "root written before the header");
	if (!string_ok(w, root->kind, "a root kind") || !string_ok(w, root->label, "a root label"))
		return -1;
	bytebuf_varint(&w->roots, root->node);
	bytebuf_varint(&w->roots, root->kind);
	bytebuf_varint(&w->roots, root->label);
	if (w->roots.failed)
		return fail_nomem(w);
	if ((uint64_t)root->node + 1 > w->max_ref)
		w->max_ref = (uint64_t)root->node + 1;
	w->chunk_roots++;
	w->totals.roots++;
	if (w->roots.len >= CHUNK_TARGET)
		flush_roots(w);
	return w->err.status == ASNAP_OK ? 0 : -1;
}

/* ---- lifecycle ------------------------------------------------------- */

/* .asyncsnap[-tag]-XXXXXX.tmp beside path: nothing in the name tells
 * which file it will become (in a directory others can read, a name that
 * did would tell them what to plant). */
static char *make_tmp_template(const char *path, const char *tag)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	size_t n = dirlen + 64;
	char *t = malloc(n);
	if (t)
		snprintf(t, n, "%.*s.asyncsnap%s%s-XXXXXX.tmp", (int)dirlen, path, tag ? "-" : "",
			 tag ? tag : "");
	return t;
}

char *asnap_output_dest(const char *path, bool *in_place)
{
	struct stat st;
	*in_place = false;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		*in_place = true; /* a device, a pipe, a directory (which fails) */
		return NULL;
	}
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		char *real = realpath(path, NULL);
		*in_place = !real && errno != ENOMEM; /* a link to nothing */
		return real;
	}
	return strdup(path);
}

static bool valid_tag(const char *tag)
{
	size_t n = strlen(tag);
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((tag[i] >= '0' && tag[i] <= '9') || (tag[i] >= 'a' && tag[i] <= 'z') ||
		      (tag[i] >= 'A' && tag[i] <= 'Z')))
			return false;
	return true;
}

struct asnap_writer *asnap_writer_create(const char *path,
					 const struct asnap_writer_options *opts,
					 struct asnap_error *err)
{
	struct asnap_writer *w = calloc(1, sizeof(*w));
	if (!w) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	w->fd = -1;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (*base == '\0') {
		asnap_error_set(err, ASNAP_ERR_USAGE, "'%s' names a directory, not a file", path);
		goto error;
	}
	const char *tag = opts ? opts->tmp_tag : NULL;
	if (tag && !valid_tag(tag)) {
		asnap_error_set(err, ASNAP_ERR_USAGE, "a temporary file tag is 1 to 32 letters and "
			       "digits");
		goto error;
	}
	bool in_place;
	char *dest = asnap_output_dest(path, &in_place);
	w->stream = in_place;
	w->path = in_place ? strdup(path) : dest;
	if (w->stream) {
		w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (w->fd < 0) {
			asnap_error_set(err, ASNAP_ERR_IO, "cannot write '%s': %s", path,
					strerror(errno));
			goto error;
		}
	}
	w->tmp_path = w->stream || !w->path ? NULL : make_tmp_template(w->path, tag);
	if (!w->path || (!w->stream && !w->tmp_path)) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		goto error;
	}
	/* mkostemps creates the file O_EXCL with mode 0600. */
	if (!w->stream)
		w->fd = mkostemps(w->tmp_path, 4, O_CLOEXEC);
	if (w->fd < 0) {
		asnap_error_set(err, ASNAP_ERR_IO, "cannot create a file in the directory of '%s': %s",
				path, strerror(errno));
		free(w->tmp_path);
		w->tmp_path = NULL;
		goto error;
	}
	w->no_fsync = opts && opts->no_fsync;
	w->cctx = ZSTD_createCCtx();
	w->obuf_cap = ZSTD_CStreamOutSize();
	w->obuf = malloc(w->obuf_cap);
	if (!w->cctx || !w->obuf) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		goto error;
	}
	int level = opts && opts->level ? opts->level : 3;
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	if (opts && opts->workers > 0) {
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, opts->workers); /* ignored if unsupported */
		/* jobs of 1 MiB, not level 3's 8: the context (made per
		 * snapshot, inside the pause) is then 7.4 MiB, not 42, fewer
		 * pages for the first takes of a process to fault in; files
		 * about 0.5% bigger (bench/README.md) */
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_jobSize, 1 << 20);
	}

	uint8_t pre[PREAMBLE_SIZE];
	put_le32(pre, PREAMBLE_FRAME_MAGIC);
	put_le32(pre + 4, PREAMBLE_CONTENT_SIZE);
	memcpy(pre + 8, PREAMBLE_MAGIC, 8);
	put_le32(pre + 16, ASNAP_FORMAT_VERSION);
	/* the oldest reader able to read it: 2 once an index label is written
	 * (set at commit); a stream cannot be rewritten: 2 from the start */
	put_le32(pre + PREAMBLE_NEEDS_AT, w->stream ? 2 : 1);
	if (write_all(w, pre, sizeof(pre)) < 0) {
		asnap_error_set(err, w->err.status, "%s", w->err.message);
		goto error;
	}
	return w;
error:
	asnap_writer_destroy(w);
	return NULL;
}

int asnap_writer_header(struct asnap_writer *w, const char *json, size_t len)
{
	if (w->err.status != ASNAP_OK)
		return -1;
	if (w->header_written)
		return fail(w, ASNAP_ERR_USAGE, "header written twice");
	/* what every reader requires (docs/FORMAT.md): a JSON object, no NUL */
	if (len < 2 || json[0] != '{' || memchr(json, '\0', len))
		return fail(w, ASNAP_ERR_USAGE, "the header must be a JSON object without NUL bytes");
	w->header_written = true;
	return emit_chunk(w, CHUNK_HEADER, json, len);
}

bool asnap_writer_failed(const struct asnap_writer *w)
{
	return w->err.status != ASNAP_OK;
}

int asnap_writer_commit(struct asnap_writer *w, const char *trailer, size_t trailer_len,
			uint64_t *out_bytes, struct asnap_error *err)
{
	if (w->committed)
		fail(w, ASNAP_ERR_USAGE, "snapshot committed twice");
	if (!w->header_written)
		fail(w, ASNAP_ERR_USAGE, "snapshot has no header");
	flush_strings(w);
	flush_nodes(w);
	flush_records(w);
	flush_roots(w);
	if (w->max_ref > w->totals.nodes)
		fail(w, ASNAP_ERR_USAGE, "node %llu is referenced but was never written",
		     (unsigned long long)(w->max_ref - 1));
	/* what readers require of index labels (docs/FORMAT.md "Edges") */
	if (w->index_count > w->totals.edges + INDEX_SLACK)
		fail(w, ASNAP_ERR_USAGE, "index label %llu in a file of %llu edges",
		     (unsigned long long)(w->index_count - 1),
		     (unsigned long long)w->totals.edges);
	/* a file with index labels needs a format 2 reader: say so in the
	 * preamble (written at create, when that was not known yet) */
	if (w->err.status == ASNAP_OK && w->index_count && !w->stream) {
		uint8_t needs[4];
		put_le32(needs, 2);
		if (pwrite(w->fd, needs, sizeof(needs), PREAMBLE_NEEDS_AT) != sizeof(needs))
			fail(w, ASNAP_ERR_IO, "cannot write '%s': %s", w->tmp_path,
			     strerror(errno));
	}
	if (w->err.status == ASNAP_OK) {
		struct bytebuf end = {0};
		bytebuf_varint(&end, w->totals.strings);
		bytebuf_varint(&end, w->totals.nodes);
		bytebuf_varint(&end, w->totals.edges);
		bytebuf_varint(&end, w->totals.records);
		bytebuf_varint(&end, w->totals.roots);
		bytebuf_varint(&end, trailer ? trailer_len : 0);
		if (trailer)
			bytebuf_put(&end, trailer, trailer_len);
		if (end.failed)
			fail_nomem(w);
		else if (emit_chunk(w, CHUNK_END, end.data, end.len) == 0)
			compress(w, NULL, 0, ZSTD_e_end);
		bytebuf_release(&end);
	}
	if (w->err.status == ASNAP_OK && !w->no_fsync && !w->stream && fsync(w->fd) < 0)
		fail(w, ASNAP_ERR_IO, "cannot write '%s': %s", w->tmp_path, strerror(errno));
	struct stat st = {0};
	if (w->err.status == ASNAP_OK && fstat(w->fd, &st) < 0)
		fail(w, ASNAP_ERR_IO, "cannot write '%s': %s", target(w), strerror(errno));
	if (w->fd >= 0 && close(w->fd) < 0)
		fail(w, ASNAP_ERR_IO, "cannot write '%s': %s", target(w), strerror(errno));
	w->fd = -1;
	if (w->err.status == ASNAP_OK && !w->stream && rename(w->tmp_path, w->path) < 0)
		fail(w, ASNAP_ERR_IO, "cannot rename '%s' to '%s': %s", w->tmp_path, w->path,
		     strerror(errno));
	if (w->err.status != ASNAP_OK) {
		if (w->tmp_path)
			unlink(w->tmp_path);
		w->committed = true; /* nothing left to clean up */
		asnap_error_set(err, w->err.status, "%s", w->err.message);
		return -1;
	}
	w->committed = true;
	w->file_dev = (uint64_t)st.st_dev;
	w->file_ino = (uint64_t)st.st_ino;
	if (out_bytes)
		*out_bytes = w->bytes_out;
	return 0;
}

void asnap_writer_file_id(const struct asnap_writer *w, uint64_t *dev, uint64_t *ino)
{
	*dev = w->committed ? w->file_dev : 0;
	*ino = w->committed ? w->file_ino : 0;
}

void asnap_writer_destroy(struct asnap_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (!w->committed && w->tmp_path)
		unlink(w->tmp_path);
	ZSTD_freeCCtx(w->cctx);
	asnap_free_all(w->obuf, w->path, w->tmp_path);
	bytebuf_release(&w->strings.blob);
	asnap_free_all(w->strings.offset, w->strings.len, w->strings.hash, w->strings.slots);
	bytebuf_release(&w->pending_strings);
	for (int c = 0; c < NODE_COLUMNS; c++)
		bytebuf_release(&w->col[c]);
	bytebuf_release(&w->records);
	bytebuf_release(&w->roots);
	free(w);
}
