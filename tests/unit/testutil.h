/*
 * testutil.h - helpers for the C unit tests: temporary directories, whole
 * files in memory, and snapshots built byte by byte.
 */
#ifndef ASNAP_TESTUTIL_H
#define ASNAP_TESTUTIL_H

#include <check.h>

#include "ckloop.h"
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "asyncsnap/format.h"

struct tmpdir {
	char path[64];
};

static inline struct tmpdir tmpdir_create(void)
{
	struct tmpdir d;
	snprintf(d.path, sizeof(d.path), "/tmp/asnap-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d.path));
	return d;
}

static inline char *tmpdir_path(const struct tmpdir *d, const char *name)
{
	size_t n = strlen(d->path) + strlen(name) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", d->path, name);
	return p;
}

/* Entries in the directory, hidden ones included. */
static inline int tmpdir_count(const struct tmpdir *d)
{
	DIR *dir = opendir(d->path);
	ck_assert_ptr_nonnull(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dir);
	return n;
}

static inline void tmpdir_destroy(struct tmpdir *d)
{
	DIR *dir = opendir(d->path);
	if (dir) {
		struct dirent *e;
		while ((e = readdir(dir))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *p = tmpdir_path(d, e->d_name);
			unlink(p);
			free(p);
		}
		closedir(dir);
	}
	rmdir(d->path);
}

struct blob {
	uint8_t *data;
	size_t len;
};

static inline struct blob blob_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	struct blob b = {0};
	size_t cap = 0;
	for (;;) {
		if (b.len == cap) {
			cap = cap ? cap * 2 : 4096;
			b.data = realloc(b.data, cap);
		}
		size_t k = fread(b.data + b.len, 1, cap - b.len, f);
		if (k == 0)
			break;
		b.len += k;
	}
	fclose(f);
	return b;
}

static inline void blob_release(struct blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static inline void blob_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

static inline void blob_append(const char *path, const void *a, size_t alen, const void *b,
			       size_t blen)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fwrite(a, 1, alen, f);
	fwrite(b, 1, blen, f);
	fclose(f);
}

#define TEST_PREAMBLE_SIZE 24

/* The decompressed body of a snapshot file (after the 24-byte preamble). */
static inline struct blob decompress_body(const struct blob *file)
{
	ck_assert_uint_gt(file->len, TEST_PREAMBLE_SIZE);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	struct blob out = {0};
	size_t cap = 1 << 16;
	out.data = malloc(cap);
	ZSTD_inBuffer in = {file->data + TEST_PREAMBLE_SIZE, file->len - TEST_PREAMBLE_SIZE, 0};
	for (;;) {
		if (out.len == cap) {
			cap *= 2;
			out.data = realloc(out.data, cap);
		}
		ZSTD_outBuffer o = {out.data, cap, out.len};
		size_t ret = ZSTD_decompressStream(dctx, &o, &in);
		out.len = o.pos;
		if (ZSTD_isError(ret) || ret == 0)
			break;
		if (in.pos == in.size && o.pos < o.size)
			break;
	}
	ZSTD_freeDCtx(dctx);
	return out;
}

/* A file with the preamble of `file` and body[0..len) as a valid frame. */
static inline void write_snapshot_with_body(const char *path, const struct blob *file,
					    const uint8_t *body, size_t len)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	size_t cap = ZSTD_compressBound(len) + TEST_PREAMBLE_SIZE;
	uint8_t *out = malloc(cap);
	memcpy(out, file->data, TEST_PREAMBLE_SIZE);
	size_t n = ZSTD_compress2(c, out + TEST_PREAMBLE_SIZE, cap - TEST_PREAMBLE_SIZE, body, len);
	ck_assert(!ZSTD_isError(n));
	blob_write(path, out, TEST_PREAMBLE_SIZE + n);
	free(out);
	ZSTD_freeCCtx(c);
}

/* A snapshot file of format version/needs whose decompressed body is
 * exactly body[0..len). */
static inline void write_crafted_as(const char *path, const uint8_t *body, size_t len,
				    uint8_t version, uint8_t needs)
{
	uint8_t pre[TEST_PREAMBLE_SIZE] = {
		0x5A, 0x2A, 0x4D, 0x18, 16, 0, 0, 0, 'A', 'S', 'Y', 'N', 'C', 'S', 'N', 'P',
		version, 0, 0, 0, needs, 0, 0, 0,
	};
	struct blob file = {pre, sizeof(pre)};
	write_snapshot_with_body(path, &file, body, len);
}

/* A format 1 snapshot file whose decompressed body is exactly body[0..len). */
static inline void write_crafted(const char *path, const uint8_t *body, size_t len)
{
	write_crafted_as(path, body, len, 1, 1);
}

/* A small but complete snapshot: a few nodes, edges, a record, a root. */
/* A writer for path (no fsync) with the header json written. */
static inline struct asnap_writer *test_writer(const char *path, const char *json)
{
	struct asnap_error err = {0};
	struct asnap_writer_options opts = {.no_fsync = true};
	struct asnap_writer *w = asnap_writer_create(path, &opts, &err);
	ck_assert_msg(w, "%s", err.message);
	ck_assert_int_eq(asnap_writer_header(w, json, strlen(json)), 0);
	return w;
}

/* Commit (with an empty trailer) and destroy w. */
static inline void test_commit(struct asnap_writer *w)
{
	struct asnap_error err = {0};
	ck_assert_msg(asnap_writer_commit(w, NULL, 0, NULL, &err) == 0, "%s", err.message);
	asnap_writer_destroy(w);
}

static inline void write_small(const char *path)
{
	struct asnap_error err = {0};
	struct asnap_writer_options opts = {.no_fsync = true};
	struct asnap_writer *w = asnap_writer_create(path, &opts, &err);
	ck_assert_msg(w, "%s", err.message);
	asnap_writer_header(w, "{\"pid\":1}", 9);
	uint32_t t = asnap_writer_intern_cstr(w, "mod.Conn");
	uint32_t l = asnap_writer_intern_cstr(w, "bar_conn");
	uint32_t k = asnap_writer_intern_cstr(w, "coroutine");
	for (uint32_t i = 0; i < 4; i++) {
		struct asnap_edge e[2] = {{(i + 1) % 4, l, ASNAP_EDGE_STRONG}, {i, 0, ASNAP_EDGE_WEAK}};
		struct asnap_node n = {.id = i, .type = t, .addr = 0x1000 + 32 * i, .size = 48,
				       .refcnt = 1, .flags = ASNAP_NODE_GC_TRACKED, .nedges = 2, .edges = e};
		asnap_writer_node(w, &n);
	}
	struct asnap_prop p = {l, {.type = ASNAP_VAL_INT, .u.i = 7}};
	struct asnap_record rec = {.node = 2, .kind = k, .nprops = 1, .props = &p};
	asnap_writer_record(w, &rec);
	struct asnap_root root = {.node = 0, .kind = k, .label = l};
	asnap_writer_root(w, &root);
	ck_assert_int_eq(asnap_writer_commit(w, "{}", 2, NULL, &err), 0);
	asnap_writer_destroy(w);
}

#endif
