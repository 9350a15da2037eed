/*
 * test-format.c - the snapshot format: what is written is read back, and
 * every damaged file is refused with the right error.
 */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <sys/resource.h>

#include <zstd.h>

#include "asyncsnap/format.h"
#include "testutil.h"

/* ---- a reference snapshot covering every feature of the format ---------- */

#define REF_NODES 70000u /* more than one node chunk */
#define BIG_EDGES 140001u /* one node whose edges need EDGES chunks */

struct ref_ids {
	uint32_t type_obj, type_list, label_attr, label_weird, kind_coro, key_state, key_line,
		key_await, key_due, key_tb, key_name, root_kind, root_label, str_val;
};

static uint64_t ref_addr(uint32_t i)
{
	/* decreasing, increasing, and extreme addresses */
	if (i == 0)
		return 0;
	if (i == 1)
		return UINT64_MAX;
	return 0x7f0000000000ull + (uint64_t)((i * 2654435761u) % 1000003u) * 16;
}

static void write_reference(const char *path, struct ref_ids *ids)
{
	struct asnap_error err = {0};
	struct asnap_writer_options opts = {.no_fsync = true};
	struct asnap_writer *w = asnap_writer_create(path, &opts, &err);
	ck_assert_msg(w, "%s", err.message);
	const char *hdr = "{\"producer\":\"test\",\"objects\":70000}";
	ck_assert_int_eq(asnap_writer_header(w, hdr, strlen(hdr)), 0);
	ids->type_obj = asnap_writer_intern_cstr(w, "builtins.object");
	ids->type_list = asnap_writer_intern_cstr(w, "builtins.list");
	ids->label_attr = asnap_writer_intern_cstr(w, "bar_conn");
	ids->label_weird = asnap_writer_intern(w, "a\0b\xff", 4);
	ids->kind_coro = asnap_writer_intern_cstr(w, "coroutine");
	ids->key_state = asnap_writer_intern_cstr(w, "state");
	ids->key_line = asnap_writer_intern_cstr(w, "line");
	ids->key_await = asnap_writer_intern_cstr(w, "awaits");
	ids->key_due = asnap_writer_intern_cstr(w, "due");
	ids->key_tb = asnap_writer_intern_cstr(w, "traceback");
	ids->key_name = asnap_writer_intern_cstr(w, "name");
	ids->root_kind = asnap_writer_intern_cstr(w, "sys.modules");
	ids->root_label = asnap_writer_intern_cstr(w, "__main__");
	ids->str_val = asnap_writer_intern_cstr(w, "suspended");
	ck_assert_uint_eq(asnap_writer_intern_cstr(w, "bar_conn"), ids->label_attr);
	ck_assert_uint_eq(asnap_writer_intern(w, "", 0), 0);

	struct asnap_edge *edges = malloc(BIG_EDGES * sizeof(*edges));
	for (uint32_t i = 0; i < REF_NODES; i++) {
		uint32_t n = i == 5 ? BIG_EDGES : i % 4;
		for (uint32_t k = 0; k < n; k++) {
			edges[k].target = (i * 7 + k * 13) % REF_NODES;
			edges[k].label = k == 0 ? ids->label_attr : k == 1 ? ids->label_weird : 0;
			edges[k].kind = k == 2 ? ASNAP_EDGE_WEAK : ASNAP_EDGE_STRONG;
		}
		struct asnap_node node = {
			.id = i, .type = i % 3 ? ids->type_obj : ids->type_list, .addr = ref_addr(i),
			.size = (uint64_t)i * 8 + (i == 9 ? (1ull << 40) : 0),
			.refcnt = i == 3 ? 4294967295ull : i % 5, .flags = i % 2 ? ASNAP_NODE_GC_TRACKED : 0,
			.nedges = n, .edges = edges,
		};
		ck_loop_int_eq(asnap_writer_node(w, &node), 0);
	}
	free(edges);

	struct asnap_value tb_items[2] = {
		{.type = ASNAP_VAL_STR, .u.str = ids->label_attr},
		{.type = ASNAP_VAL_INT, .u.i = -42},
	};
	struct asnap_value tb = {.type = ASNAP_VAL_LIST, .u.list = {2, tb_items}};
	struct asnap_prop props[] = {
		{ids->key_state, {.type = ASNAP_VAL_STR, .u.str = ids->str_val}},
		{ids->key_line, {.type = ASNAP_VAL_INT, .u.i = 1234567890123ll}},
		{ids->key_await, {.type = ASNAP_VAL_NODE, .u.node = REF_NODES - 1}},
		{ids->key_due, {.type = ASNAP_VAL_FLOAT, .u.f = 12.5}},
		{ids->key_tb, tb},
		{ids->key_name, {.type = ASNAP_VAL_NONE}},
		{ids->key_name, {.type = ASNAP_VAL_BOOL, .u.b = true}},
	};
	for (uint32_t i = 0; i < 3; i++) {
		struct asnap_record rec = {.node = i * 1000, .kind = ids->kind_coro, .nprops = 7,
					   .props = props};
		ck_assert_int_eq(asnap_writer_record(w, &rec), 0);
	}
	struct asnap_root root = {.node = 17, .kind = ids->root_kind, .label = ids->root_label};
	ck_assert_int_eq(asnap_writer_root(w, &root), 0);
	root = (struct asnap_root){.node = 18, .kind = ids->root_kind, .label = 0};
	ck_assert_int_eq(asnap_writer_root(w, &root), 0);
	const char *trailer = "{\"pause_ms\":1.5}";
	ck_assert_int_eq(asnap_writer_commit(w, trailer, strlen(trailer), NULL, &err), 0);
	asnap_writer_destroy(w);
}

static const char *str(struct asnap_reader *r, uint32_t id)
{
	const char *s = asnap_reader_string(r, id, NULL);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Read the reference file back and check every item. */
static void check_reference(const char *path, const struct ref_ids *ids)
{
	struct asnap_error err = {0};
	struct asnap_reader *r = asnap_reader_open(path, &err);
	ck_assert_msg(r, "%s", err.message);
	struct asnap_item it;
	uint32_t nodes = 0, records = 0, roots = 0;
	uint64_t edges_of_5 = 0;
	bool header = false, end = false;
	int rc;
	while ((rc = asnap_reader_next(r, &it, &err)) == 1) {
		switch (it.kind) {
		case ASNAP_ITEM_HEADER:
			ck_assert(!header && nodes == 0);
			header = true;
			ck_assert_str_eq(it.u.header.json, "{\"producer\":\"test\",\"objects\":70000}");
			break;
		case ASNAP_ITEM_NODE: {
			const struct asnap_node *n = &it.u.node;
			uint32_t i = nodes++;
			ck_loop_uint_eq(n->id, i);
			ck_loop_uint_eq(n->addr, ref_addr(i));
			ck_loop_str_eq(str(r, n->type), i % 3 ? "builtins.object" : "builtins.list");
			ck_loop_uint_eq(n->size, (uint64_t)i * 8 + (i == 9 ? (1ull << 40) : 0));
			ck_loop_uint_eq(n->refcnt, i == 3 ? 4294967295ull : i % 5);
			ck_loop_uint_eq(n->flags, i % 2 ? ASNAP_NODE_GC_TRACKED : 0);
			uint32_t want = i == 5 ? 65536 : i % 4;
			ck_loop_uint_eq(n->nedges, want);
			for (uint32_t k = 0; k < n->nedges; k++) {
				ck_loop_uint_eq(n->edges[k].target, (i * 7 + k * 13) % REF_NODES);
				ck_loop_uint_eq(n->edges[k].label,
						  k == 0 ? ids->label_attr : k == 1 ? ids->label_weird : 0);
				ck_loop_uint_eq(n->edges[k].kind, k == 2 ? ASNAP_EDGE_WEAK : ASNAP_EDGE_STRONG);
			}
			if (i == 5)
				edges_of_5 = n->nedges;
			break;
		}
		case ASNAP_ITEM_EDGES:
			ck_assert_uint_eq(it.u.edges.node, 5);
			ck_assert_uint_eq(nodes, 6);
			for (uint32_t k = 0; k < it.u.edges.nedges; k++) {
				uint64_t idx = edges_of_5 + k;
				ck_loop_uint_eq(it.u.edges.edges[k].target, (5 * 7 + idx * 13) % REF_NODES);
			}
			edges_of_5 += it.u.edges.nedges;
			break;
		case ASNAP_ITEM_RECORD: {
			const struct asnap_record *rec = &it.u.record;
			ck_assert_uint_eq(rec->node, records++ * 1000);
			ck_assert_str_eq(str(r, rec->kind), "coroutine");
			ck_assert_uint_eq(rec->nprops, 7);
			ck_assert_str_eq(str(r, rec->props[0].key), "state");
			ck_assert_str_eq(str(r, rec->props[0].value.u.str), "suspended");
			ck_assert_int_eq(rec->props[1].value.type, ASNAP_VAL_INT);
			ck_assert_int_eq(rec->props[1].value.u.i, 1234567890123ll);
			ck_assert_int_eq(rec->props[2].value.type, ASNAP_VAL_NODE);
			ck_assert_uint_eq(rec->props[2].value.u.node, REF_NODES - 1);
			ck_assert_int_eq(rec->props[3].value.type, ASNAP_VAL_FLOAT);
			ck_assert(rec->props[3].value.u.f == 12.5);
			ck_assert_int_eq(rec->props[4].value.type, ASNAP_VAL_LIST);
			ck_assert_uint_eq(rec->props[4].value.u.list.count, 2);
			ck_assert_str_eq(str(r, rec->props[4].value.u.list.items[0].u.str), "bar_conn");
			ck_assert_int_eq(rec->props[4].value.u.list.items[1].u.i, -42);
			ck_assert_int_eq(rec->props[5].value.type, ASNAP_VAL_NONE);
			ck_assert_int_eq(rec->props[6].value.type, ASNAP_VAL_BOOL);
			ck_assert(rec->props[6].value.u.b);
			break;
		}
		case ASNAP_ITEM_ROOT:
			ck_assert_uint_eq(it.u.root.node, 17 + roots);
			ck_assert_str_eq(str(r, it.u.root.kind), "sys.modules");
			ck_assert_uint_eq(it.u.root.label, roots == 0 ? ids->root_label : 0);
			roots++;
			break;
		case ASNAP_ITEM_END:
			end = true;
			ck_assert_uint_eq(it.u.end.totals.nodes, REF_NODES);
			ck_assert_uint_eq(it.u.end.totals.records, 3);
			ck_assert_uint_eq(it.u.end.totals.roots, 2);
			ck_assert_str_eq(it.u.end.trailer, "{\"pause_ms\":1.5}");
			break;
		}
	}
	ck_assert_msg(rc == 0, "%s", err.message);
	ck_assert(header && end);
	ck_assert_uint_eq(nodes, REF_NODES);
	ck_assert_uint_eq(edges_of_5, BIG_EDGES);
	ck_assert_uint_eq(records, 3);
	ck_assert_uint_eq(roots, 2);
	size_t len;
	const char *weird = asnap_reader_string(r, ids->label_weird, &len);
	ck_assert_uint_eq(len, 4);
	ck_assert(memcmp(weird, "a\0b\xff", 4) == 0);
	ck_assert_ptr_null(asnap_reader_string(r, asnap_reader_string_count(r) + 1, NULL));
	/* after the end, next keeps returning 0 */
	ck_assert_int_eq(asnap_reader_next(r, &it, &err), 0);
	asnap_reader_destroy(r);
}

START_TEST(round_trip_keeps_nodes_edges_strings_records_roots)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "ref.snap");
	struct ref_ids ids;
	write_reference(path, &ids);
	check_reference(path, &ids);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

/* Format 2: an edge labelled with an index carries the number, and reads
 * back as "[i]" once the file is read; the preamble says it needs format 2
 * only when such an edge was written. */
START_TEST(index_labels_round_trip_and_need_format_2)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "i.snap");
	struct asnap_writer *w = test_writer(path, "{}");
	uint32_t t = asnap_writer_intern_cstr(w, "builtins.list");
	uint32_t attr = asnap_writer_intern_cstr(w, "attr");
	enum { ITEMS = 1003 };
	static struct asnap_edge e[ITEMS + 2];
	for (uint32_t i = 0; i < ITEMS; i++)
		e[i] = (struct asnap_edge){1, i, ASNAP_EDGE_STRONG | ASNAP_EDGE_INDEX};
	e[ITEMS] = (struct asnap_edge){1, attr, ASNAP_EDGE_STRONG};
	e[ITEMS + 1] = (struct asnap_edge){1, 7, ASNAP_EDGE_WEAK | ASNAP_EDGE_INDEX};
	struct asnap_node n0 = {.id = 0, .type = t, .nedges = ITEMS + 2, .edges = e};
	struct asnap_node n1 = {.id = 1, .type = t};
	ck_assert_int_eq(asnap_writer_node(w, &n0), 0);
	ck_assert_int_eq(asnap_writer_node(w, &n1), 0);
	/* a string defined after the index edges: the indexes' strings come
	 * after it all the same */
	uint32_t late = asnap_writer_intern_cstr(w, "late");
	struct asnap_error err = {0};
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), 0);
	asnap_writer_destroy(w);

	struct blob f = blob_read(path);
	ck_assert_uint_eq(f.data[16], 2); /* version */
	ck_assert_uint_eq(f.data[20], 2); /* needs */
	blob_release(&f);

	struct asnap_reader *r = asnap_reader_open(path, &err);
	ck_assert_msg(r, "%s", err.message);
	struct asnap_item it;
	int rc;
	uint32_t nodes = 0;
	while ((rc = asnap_reader_next(r, &it, &err)) == 1) {
		if (it.kind == ASNAP_ITEM_NODE && nodes++ == 0) {
			ck_assert_uint_eq(it.u.node.nedges, ITEMS + 2);
			for (uint32_t i = 0; i < ITEMS + 2; i++) {
				ck_assert_uint_eq(it.u.node.edges[i].kind, e[i].kind);
				ck_assert_uint_eq(it.u.node.edges[i].label, e[i].label);
			}
			ck_assert_uint_eq(asnap_reader_index_base(r), 0); /* not yet */
		}
	}
	ck_assert_msg(rc == 0, "%s", err.message);
	uint32_t base = asnap_reader_index_base(r);
	ck_assert_uint_eq(base, late + 1);
	ck_assert_uint_eq(asnap_reader_string_count(r), base + ITEMS - 1);
	ck_assert_str_eq(str(r, base), "[0]");
	ck_assert_str_eq(str(r, base + 7), "[7]");
	ck_assert_str_eq(str(r, base + 9), "[9]");
	ck_assert_str_eq(str(r, base + 10), "[10]");
	ck_assert_str_eq(str(r, base + 99), "[99]");
	ck_assert_str_eq(str(r, base + 100), "[100]");
	size_t len;
	ck_assert_str_eq(asnap_reader_string(r, base + ITEMS - 1, &len), "[1002]");
	ck_assert_uint_eq(len, 6);
	ck_assert_str_eq(str(r, late), "late");
	asnap_reader_destroy(r);

	/* without an index label: still what a format 1 reader reads */
	write_small(path);
	f = blob_read(path);
	ck_assert_uint_eq(f.data[16], 2);
	ck_assert_uint_eq(f.data[20], 1);
	blob_release(&f);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(writer_refuses_bad_index_labels)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "i.snap");
	struct asnap_error err = {0};
	/* an index over ASNAP_INDEX_MAX, an unknown kind bit */
	static const struct asnap_edge bad[] = {
		{0, ASNAP_INDEX_MAX + 1, ASNAP_EDGE_INDEX},
		{0, 0, 4},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct asnap_writer *w = test_writer(path, "{}");
		struct asnap_node n = {.id = 0, .nedges = 1, .edges = &bad[i]};
		ck_assert_int_eq(asnap_writer_node(w, &n), -1);
		ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), -1);
		ck_assert_int_eq(err.status, ASNAP_ERR_USAGE);
		asnap_writer_destroy(w);
	}
	/* an index no reader would take: beyond the file's edges + 65536 */
	struct asnap_writer *w = test_writer(path, "{}");
	struct asnap_edge far = {0, 70000, ASNAP_EDGE_INDEX};
	err = (struct asnap_error){0};
	struct asnap_node n = {.id = 0, .nedges = 1, .edges = &far};
	ck_assert_int_eq(asnap_writer_node(w, &n), 0);
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), -1);
	ck_assert_int_eq(err.status, ASNAP_ERR_USAGE);
	ck_assert_msg(strstr(err.message, "index label 70000"), "%s", err.message);
	asnap_writer_destroy(w);
	ck_assert_int_eq(tmpdir_count(&d), 0);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(snapshot_is_a_plain_zstd_stream_after_the_preamble)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "ref.snap");
	struct ref_ids ids;
	write_reference(path, &ids);
	struct blob file = blob_read(path);
	struct blob body = decompress_body(&file);
	/* the decompressed body starts with the header chunk */
	ck_assert_uint_gt(body.len, 10);
	ck_assert_uint_eq(body.data[0], 0x01);
	blob_release(&body);
	blob_release(&file);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(writer_creates_0600_and_leaves_no_temporary_file)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	umask(0);
	struct ref_ids ids;
	write_reference(path, &ids);
	umask(022);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(tmpdir_count(&d), 1);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(abandoned_writer_leaves_nothing)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	struct asnap_error err = {0};
	struct asnap_writer *w = asnap_writer_create(path, NULL, &err);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(tmpdir_count(&d), 1); /* the temporary file */
	ck_assert_int_eq(asnap_writer_header(w, "{}", 2), 0);
	asnap_writer_destroy(w);
	ck_assert_int_eq(tmpdir_count(&d), 0);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(writer_rejects_dangling_references_and_leaves_nothing)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	struct asnap_error err = {0};
	struct asnap_writer *w = asnap_writer_create(path, NULL, &err);
	ck_assert_int_eq(asnap_writer_header(w, "{}", 2), 0);
	struct asnap_edge e = {.target = 7};
	struct asnap_node n = {.id = 0, .nedges = 1, .edges = &e};
	ck_assert_int_eq(asnap_writer_node(w, &n), 0);
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), -1);
	ck_assert_int_eq(err.status, ASNAP_ERR_USAGE);
	ck_assert_ptr_nonnull(strstr(err.message, "node 7"));
	asnap_writer_destroy(w);
	ck_assert_int_eq(tmpdir_count(&d), 0);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(writer_rejects_out_of_order_nodes_and_undefined_strings)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	struct asnap_error err = {0};
	struct asnap_writer *w = asnap_writer_create(path, NULL, &err);
	struct asnap_node n = {.id = 0};
	ck_assert_int_eq(asnap_writer_node(w, &n), -1); /* before the header */
	asnap_writer_destroy(w);

	w = asnap_writer_create(path, NULL, &err);
	asnap_writer_header(w, "{}", 2);
	n.id = 1;
	ck_assert_int_eq(asnap_writer_node(w, &n), -1);
	ck_assert(asnap_writer_failed(w));
	asnap_writer_destroy(w);

	w = asnap_writer_create(path, NULL, &err);
	asnap_writer_header(w, "{}", 2);
	n = (struct asnap_node){.id = 0, .type = 99};
	ck_assert_int_eq(asnap_writer_node(w, &n), -1);
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "undefined string"));
	asnap_writer_destroy(w);

	/* an edge label never defined, after good ones */
	err = (struct asnap_error){0};
	w = asnap_writer_create(path, NULL, &err);
	asnap_writer_header(w, "{}", 2);
	uint32_t a = asnap_writer_intern_cstr(w, "a");
	struct asnap_edge e[] = {{0, a, 0}, {0, 5, ASNAP_EDGE_INDEX}, {0, a + 7, 0}, {0, a, 0}};
	n = (struct asnap_node){.id = 0, .type = a, .nedges = 4, .edges = e};
	ck_assert_int_eq(asnap_writer_node(w, &n), -1);
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), -1);
	ck_assert_msg(strstr(err.message, "an edge label refers to undefined string"), "%s",
		      err.message);
	asnap_writer_destroy(w);
	ck_assert_int_eq(tmpdir_count(&d), 0);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(writer_reports_unwritable_directory)
{
	struct asnap_error err = {0};
	struct asnap_writer *w = asnap_writer_create("/nonexistent-dir/a.snap", NULL, &err);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(err.status, ASNAP_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err.message, "No such file"));
}
END_TEST

START_TEST(writer_reports_full_disk_and_leaves_nothing)
{
	/* A file size limit makes write() fail as on a full disk (EFBIG
	 * instead of ENOSPC); Check runs each test in its own process. */
	struct rlimit lim = {8192, 8192};
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "a.snap");
	struct asnap_error err = {0};
	struct asnap_writer *w = asnap_writer_create(path, NULL, &err);
	ck_assert_ptr_nonnull(w);
	asnap_writer_header(w, "{}", 2);
	uint32_t t = asnap_writer_intern_cstr(w, "builtins.bytes");
	int rc = 0;
	for (uint32_t i = 0; i < 200000 && rc == 0; i++) {
		struct asnap_node n = {.id = i, .type = t, .addr = (uint64_t)rand() << 20 | (uint64_t)rand(),
				       .size = (uint64_t)rand()};
		rc = asnap_writer_node(w, &n);
	}
	ck_assert_int_eq(asnap_writer_commit(w, NULL, 0, NULL, &err), -1);
	ck_assert_int_eq(err.status, ASNAP_ERR_IO);
	ck_assert_ptr_nonnull(strstr(err.message, "cannot write"));
	asnap_writer_destroy(w);
	ck_assert_int_eq(tmpdir_count(&d), 0);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

/* ---- damaged files ------------------------------------------------------ */

/* Read a whole file; returns 0 on success or the failing status. */
static enum asnap_status read_all(const char *path, char *msg, size_t msglen)
{
	struct asnap_error err = {0};
	struct asnap_reader *r = asnap_reader_open(path, &err);
	if (r) {
		struct asnap_item it;
		int rc;
		while ((rc = asnap_reader_next(r, &it, &err)) == 1)
			;
		asnap_reader_destroy(r);
		if (rc == 0)
			return ASNAP_OK;
	}
	if (msg)
		snprintf(msg, msglen, "%s", err.message);
	ck_assert_int_ne(err.status, ASNAP_OK);
	ck_assert_msg(err.message[0] != '\0', "an error without a message");
	return err.status;
}

START_TEST(reader_rejects_body_cut_at_every_chunk_boundary)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "ref.snap");
	char *cut = tmpdir_path(&d, "cut.snap");
	struct ref_ids ids;
	write_reference(path, &ids);
	struct blob file = blob_read(path);
	struct blob body = decompress_body(&file);
	/* walk the chunks as docs/FORMAT.md describes them */
	size_t pos = 0, boundaries = 0;
	unsigned seen_types = 0;
	while (pos < body.len) {
		unsigned type = body.data[pos];
		size_t p = pos + 1;
		uint64_t len = 0;
		for (int shift = 0;; shift += 7) {
			uint8_t b = body.data[p++];
			len |= (uint64_t)(b & 0x7F) << shift;
			if (!(b & 0x80))
				break;
		}
		size_t next = p + len;
		/* cut right before this chunk, and in the middle of it */
		size_t cuts[2] = {pos, p + len / 2};
		for (int c = 0; c < 2; c++) {
			write_snapshot_with_body(cut, &file, body.data, cuts[c]);
			char msg[256];
			enum asnap_status st = read_all(cut, msg, sizeof(msg));
			ck_assert_msg(st == ASNAP_ERR_TRUNCATED,
				      "cut at %zu (chunk 0x%02x): status %d: %s", cuts[c], type, st, msg);
			ck_assert_ptr_nonnull(strstr(msg, "truncated"));
			ck_assert_msg(strstr(msg, "section") || strstr(msg, "preamble"), "%s", msg);
		}
		seen_types |= 1u << (type & 0x1F);
		boundaries++;
		pos = next;
	}
	/* header, strings, nodes, edges, records, roots and end were all cut */
	ck_assert_uint_eq(seen_types & 0x7E, 0x7E);
	ck_assert_uint_gt(boundaries, 7);
	blob_release(&body);
	blob_release(&file);
	free(cut);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(reader_rejects_file_cut_at_any_byte)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "small.snap");
	char *cut = tmpdir_path(&d, "cut.snap");
	write_small(path);
	struct blob file = blob_read(path);
	ck_assert_int_eq(read_all(path, NULL, 0), ASNAP_OK);
	for (size_t n = 1; n < file.len; n++) {
		blob_write(cut, file.data, n);
		char msg[256];
		enum asnap_status st = read_all(cut, msg, sizeof(msg));
		ck_assert_msg(st == ASNAP_ERR_TRUNCATED || (n < 8 && st == ASNAP_ERR_NOT_SNAPSHOT),
			      "cut at %zu of %zu: status %d: %s", n, file.len, st, msg);
	}
	blob_release(&file);
	free(cut);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(reader_detects_flipped_bytes)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "small.snap");
	char *bad = tmpdir_path(&d, "bad.snap");
	write_small(path);
	struct blob file = blob_read(path);
	struct blob body = decompress_body(&file);
	size_t harmless = 0;
	for (size_t i = 0; i < file.len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			file.data[i] ^= (uint8_t)(1u << bit);
			blob_write(bad, file.data, file.len);
			enum asnap_status st = read_all(bad, NULL, 0);
			if (st == ASNAP_OK) {
				/* accepted only if what it says is unchanged */
				struct blob f2 = blob_read(bad);
				struct blob b2 = decompress_body(&f2);
				ck_assert_msg(b2.len == body.len && memcmp(b2.data, body.data, body.len) == 0,
					      "flip at byte %zu bit %d went unnoticed", i, bit);
				blob_release(&b2);
				blob_release(&f2);
				/* magic, size and required version always matter */
				ck_assert_msg(i >= 16 && (i < 20 || i >= 24),
					      "flip at preamble byte %zu went unnoticed", i);
				harmless++;
			}
			file.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* some bits never change the content: the writer's version number, the
	 * zstd window size, unused bits of block headers */
	ck_assert_uint_lt(harmless, file.len * 3 / 10);
	blob_release(&body);
	blob_release(&file);
	free(bad);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(reader_rejects_wrong_magic_and_foreign_files)
{
	struct tmpdir d = tmpdir_create();
	char *p = tmpdir_path(&d, "x");
	char msg[256];

	blob_write(p, "", 0);
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_NOT_SNAPSHOT);
	ck_assert_ptr_nonnull(strstr(msg, "empty"));

	blob_write(p, "hello, world, this is text\n", 27);
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_NOT_SNAPSHOT);

	/* a plain zstd stream */
	char z[64];
	size_t zn = ZSTD_compress(z, sizeof(z), "abc", 3, 1);
	blob_write(p, z, zn);
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_NOT_SNAPSHOT);
	ck_assert_ptr_nonnull(strstr(msg, "zstd"));

	/* our skippable frame with another program's magic */
	write_small(p);
	struct blob f = blob_read(p);
	f.data[8] = 'X';
	blob_write(p, f.data, f.len);
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_NOT_SNAPSHOT);
	blob_release(&f);

	/* a directory */
	ck_assert_int_eq(read_all(d.path, msg, sizeof(msg)), ASNAP_ERR_IO);
	/* a missing file */
	free(p);
	p = tmpdir_path(&d, "missing.snap");
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_IO);
	ck_assert_ptr_nonnull(strstr(msg, "No such file"));
	free(p);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(reader_refuses_newer_version_and_reads_compatible_one)
{
	struct tmpdir d = tmpdir_create();
	char *p = tmpdir_path(&d, "v.snap");
	char msg[256];
	write_small(p);
	struct blob f = blob_read(p);
	/* a file that needs format 3 to be read */
	f.data[16] = 3;
	f.data[20] = 3;
	blob_write(p, f.data, f.len);
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_VERSION);
	ck_assert_ptr_nonnull(strstr(msg, "newer asyncsnap"));
	ck_assert_ptr_nonnull(strstr(msg, "reads format version 2"));
	/* written by format 3 but readable by 2 (or 1): accepted */
	f.data[20] = 1;
	blob_write(p, f.data, f.len);
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_OK);
	blob_release(&f);
	free(p);
	tmpdir_destroy(&d);
}
END_TEST

/* Hand-made bodies: each is a valid zstd frame holding a bad snapshot. */
struct crafted {
	const char *name;
	const uint8_t *body;
	size_t len;
	enum asnap_status want;
	const char *words;
};

#define HDR 0x01, 0x02, '{', '}'
#define STR1 0x02, 0x03, 0x01, 0x01, 'T'
/* one node: first 0, count 1, columns addr type size refcnt flags nedges target kind label */
#define NODE1(target) 0x03, 0x14, 0x00, 0x01, 1, 0x20, 1, 0x01, 1, 0x10, 1, 0x01, 1, 0x00, 1, 0x01, 1, \
		(target), 1, 0x00, 1, 0x00
#define END(s, n, e) 0x7F, 0x06, (s), (n), (e), 0x00, 0x00, 0x00

static const uint8_t good[] = {HDR, STR1, NODE1(0), END(1, 1, 1)};
static const uint8_t dangling_edge[] = {HDR, STR1, NODE1(0x04), END(1, 1, 1)};
static const uint8_t no_header[] = {STR1, END(1, 0, 0)};
static const uint8_t two_headers[] = {HDR, HDR, END(0, 0, 0)};
static const uint8_t bad_totals[] = {HDR, STR1, NODE1(0), END(1, 2, 1)};
static const uint8_t after_end[] = {HDR, END(0, 0, 0), 0x00};
static const uint8_t undefined_type[] = {HDR, NODE1(0), END(0, 1, 1)};
static const uint8_t unknown_chunk[] = {HDR, 0x33, 0x00, END(0, 0, 0)};
static const uint8_t optional_chunk[] = {HDR, 0xB3, 0x02, 'h', 'i', END(0, 0, 0)};
static const uint8_t huge_chunk[] = {HDR, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
static const uint8_t overlong_varint[] = {HDR, 0x02, 0x0B, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
static const uint8_t header_not_json[] = {0x01, 0x02, 'h', 'i', END(0, 0, 0)};
static const uint8_t edges_without_node[] = {HDR, 0x06, 0x08, 0x00, 0x01, 1, 0x00, 1, 0x00, 1, 0x00,
					     END(0, 0, 0)};
/* one node whose one edge has kind byte `kind` and label varint `label...` */
#define NODE1_EDGE(kind, ...) 0x03, 0x13 + VA_NARGS(__VA_ARGS__), 0x00, 0x01, 1, 0x20, 1, 0x01, \
		1, 0x10, 1, 0x01, 1, 0x00, 1, 0x01, 1, 0x00, 1, (kind), VA_NARGS(__VA_ARGS__), __VA_ARGS__
#define VA_NARGS(...) (sizeof((uint8_t[]){__VA_ARGS__}))
static const uint8_t index_edge[] = {HDR, STR1, NODE1_EDGE(0x02, 0x03), END(1, 1, 1)};
static const uint8_t weak_index_edge[] = {HDR, STR1, NODE1_EDGE(0x03, 0x00), END(1, 1, 1)};
static const uint8_t unknown_kind[] = {HDR, STR1, NODE1_EDGE(0x04, 0x00), END(1, 1, 1)};
/* index 65537: past 1 edge + the slack */
static const uint8_t index_past_edges[] = {HDR, STR1, NODE1_EDGE(0x02, 0x81, 0x80, 0x04),
					   END(1, 1, 1)};
/* index 2^31: over ASNAP_INDEX_MAX */
static const uint8_t index_too_large[] = {HDR, STR1, NODE1_EDGE(0x02, 0x80, 0x80, 0x80, 0x80, 0x08),
					  END(1, 1, 1)};
static const uint8_t deep_list[] = {HDR, STR1, NODE1(0), 0x04, 0x17, 0x01, 0x00, 0x01, 0x01, 0x01,
				    6, 1, 6, 1, 6, 1, 6, 1, 6, 1, 6, 1, 6, 1, 6, 1, 6, 1, END(1, 1, 1)};

START_TEST(reader_rejects_inconsistent_snapshots)
{
	static const struct crafted cases[] = {
		{"good", good, sizeof(good), ASNAP_OK, NULL},
		{"optional chunk", optional_chunk, sizeof(optional_chunk), ASNAP_OK, NULL},
		{"dangling edge", dangling_edge, sizeof(dangling_edge), ASNAP_ERR_CORRUPT, "node 2"},
		{"no header", no_header, sizeof(no_header), ASNAP_ERR_CORRUPT, "header is missing"},
		{"two headers", two_headers, sizeof(two_headers), ASNAP_ERR_CORRUPT, "second header"},
		{"bad totals", bad_totals, sizeof(bad_totals), ASNAP_ERR_CORRUPT, "totals"},
		{"data after end", after_end, sizeof(after_end), ASNAP_ERR_CORRUPT, "after the end"},
		{"undefined type", undefined_type, sizeof(undefined_type), ASNAP_ERR_CORRUPT, "undefined string"},
		{"unknown chunk", unknown_chunk, sizeof(unknown_chunk), ASNAP_ERR_CORRUPT, "unknown chunk"},
		{"huge chunk", huge_chunk, sizeof(huge_chunk), ASNAP_ERR_CORRUPT, "more than the format allows"},
		{"overlong varint", overlong_varint, sizeof(overlong_varint), ASNAP_ERR_CORRUPT, "string"},
		{"header not json", header_not_json, sizeof(header_not_json), ASNAP_ERR_CORRUPT, "header"},
		{"edges without node", edges_without_node, sizeof(edges_without_node), ASNAP_ERR_CORRUPT, "follow no node"},
		{"deep list", deep_list, sizeof(deep_list), ASNAP_ERR_CORRUPT, "nested"},
	};
	struct tmpdir d = tmpdir_create();
	char *p = tmpdir_path(&d, "c.snap");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_crafted(p, cases[i].body, cases[i].len);
		char msg[256] = "";
		enum asnap_status st = read_all(p, msg, sizeof(msg));
		ck_assert_msg(st == cases[i].want, "%s: status %d (%s)", cases[i].name, st, msg);
		if (cases[i].words)
			ck_assert_msg(strstr(msg, cases[i].words), "%s: message '%s' lacks '%s'",
				      cases[i].name, msg, cases[i].words);
	}
	/* format 2: index labels, only in a file that says it needs format 2 */
	static const struct crafted v2[] = {
		{"good", good, sizeof(good), ASNAP_OK, NULL},
		{"index edge", index_edge, sizeof(index_edge), ASNAP_OK, NULL},
		{"weak index edge", weak_index_edge, sizeof(weak_index_edge), ASNAP_OK, NULL},
		{"unknown kind", unknown_kind, sizeof(unknown_kind), ASNAP_ERR_CORRUPT, "edge kind"},
		{"index past edges", index_past_edges, sizeof(index_past_edges), ASNAP_ERR_CORRUPT,
		 "index label 65537, but the file has 1 edges"},
		{"index too large", index_too_large, sizeof(index_too_large), ASNAP_ERR_CORRUPT,
		 "index label too large"},
	};
	for (size_t i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
		write_crafted_as(p, v2[i].body, v2[i].len, 2, 2);
		char msg[256] = "";
		enum asnap_status st = read_all(p, msg, sizeof(msg));
		ck_assert_msg(st == v2[i].want, "v2 %s: status %d (%s)", v2[i].name, st, msg);
		if (v2[i].words)
			ck_assert_msg(strstr(msg, v2[i].words), "v2 %s: message '%s' lacks '%s'",
				      v2[i].name, msg, v2[i].words);
	}
	/* the same index edge in a file a format 1 reader would read */
	char msg[256] = "";
	write_crafted_as(p, index_edge, sizeof(index_edge), 2, 1);
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_CORRUPT);
	ck_assert_ptr_nonnull(strstr(msg, "unknown edge kind"));
	write_crafted(p, index_edge, sizeof(index_edge));
	ck_assert_int_eq(read_all(p, msg, sizeof(msg)), ASNAP_ERR_CORRUPT);

	/* trailing bytes after the body frame */
	write_small(p);
	struct blob f = blob_read(p);
	blob_append(p, f.data, f.len, "junk", 4);
	ck_assert_int_eq(read_all(p, NULL, 0), ASNAP_ERR_CORRUPT);
	blob_release(&f);
	free(p);
	tmpdir_destroy(&d);
}
END_TEST

START_TEST(reader_survives_random_damage)
{
	struct tmpdir d = tmpdir_create();
	char *path = tmpdir_path(&d, "small.snap");
	char *bad = tmpdir_path(&d, "bad.snap");
	write_small(path);
	struct blob file = blob_read(path);
	struct blob body = decompress_body(&file);
	srand(12345);
	/* damage the decompressed body and re-wrap it in a valid frame, so that
	 * the parser (not the checksum) has to notice */
	for (int iter = 0; iter < 3000; iter++) {
		uint8_t *copy = malloc(body.len);
		memcpy(copy, body.data, body.len);
		int flips = 1 + rand() % 4;
		for (int k = 0; k < flips; k++)
			copy[rand() % body.len] = (uint8_t)rand();
		size_t len = body.len - (size_t)(rand() % 3 == 0 ? rand() % body.len : 0);
		write_crafted(bad, copy, len);
		read_all(bad, NULL, 0); /* any answer but a crash */
		free(copy);
	}
	blob_release(&body);
	blob_release(&file);
	free(bad);
	free(path);
	tmpdir_destroy(&d);
}
END_TEST

static Suite *format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("round trip");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip_keeps_nodes_edges_strings_records_roots);
	tcase_add_test(tc, snapshot_is_a_plain_zstd_stream_after_the_preamble);
	tcase_add_test(tc, index_labels_round_trip_and_need_format_2);
	tcase_add_test(tc, writer_refuses_bad_index_labels);
	tcase_add_test(tc, writer_creates_0600_and_leaves_no_temporary_file);
	tcase_add_test(tc, abandoned_writer_leaves_nothing);
	tcase_add_test(tc, writer_rejects_dangling_references_and_leaves_nothing);
	tcase_add_test(tc, writer_rejects_out_of_order_nodes_and_undefined_strings);
	tcase_add_test(tc, writer_reports_unwritable_directory);
	tcase_add_test(tc, writer_reports_full_disk_and_leaves_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("damage");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, reader_rejects_body_cut_at_every_chunk_boundary);
	tcase_add_test(tc, reader_rejects_file_cut_at_any_byte);
	tcase_add_test(tc, reader_detects_flipped_bytes);
	tcase_add_test(tc, reader_rejects_wrong_magic_and_foreign_files);
	tcase_add_test(tc, reader_refuses_newer_version_and_reads_compatible_one);
	tcase_add_test(tc, reader_rejects_inconsistent_snapshots);
	tcase_add_test(tc, reader_survives_random_damage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(format_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
