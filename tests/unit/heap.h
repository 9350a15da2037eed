/*
 * heap.h - a small heap described node by node, then written as a
 * snapshot with the format library: for the tests of the checks, where
 * each test draws the graph and the asyncio records it needs.
 *
 *   struct heap h;
 *   heap_init(&h);
 *   uint32_t d = heap_node(&h, "builtins.dict", 0x1000, 64);
 *   uint32_t t = heap_node(&h, "_asyncio.Task", 0x2000, 200);
 *   heap_edge(&h, d, t, "task");
 *   heap_rec(&h, t, "task");  heap_str(&h, "state", "pending");  heap_ref(&h, "coro", c);
 *   heap_root(&h, d, "sys.modules");
 *   heap_write(&h, path, 7);                 (the pid in the header)
 */
#ifndef ASNAP_TEST_HEAP_H
#define ASNAP_TEST_HEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "testutil.h"

#define HEAP_MAX 4096

struct heap_edge {
	uint32_t from, to;
	const char *label;
};

struct heap_prop {
	uint32_t rec;
	const char *key;
	int kind; /* 0 string, 1 node, 2 bool, 3 int, 4 float, 5 None */
	const char *s;
	uint32_t node;
	int64_t i;
	double f;
};

struct heap {
	const char *type[HEAP_MAX];
	uint64_t addr[HEAP_MAX], size[HEAP_MAX];
	uint32_t n;
	struct heap_edge edges[HEAP_MAX * 4];
	uint32_t nedges;
	uint32_t rec_node[HEAP_MAX];
	const char *rec_kind[HEAP_MAX];
	uint32_t nrecs;
	struct heap_prop props[HEAP_MAX * 4];
	uint32_t nprops;
	uint32_t root_node[16];
	const char *root_kind[16];
	uint32_t nroots;
	uint32_t extra_refs[HEAP_MAX]; /* refcount above the strong references */
};

static inline void heap_init(struct heap *h)
{
	memset(h, 0, sizeof(*h));
}

static inline uint32_t heap_node(struct heap *h, const char *type, uint64_t addr, uint64_t size)
{
	ck_assert_uint_lt(h->n, HEAP_MAX);
	h->type[h->n] = type;
	h->addr[h->n] = addr;
	h->size[h->n] = size;
	return h->n++;
}

static inline void heap_edge(struct heap *h, uint32_t from, uint32_t to, const char *label)
{
	ck_assert_uint_lt(h->nedges, HEAP_MAX * 4);
	h->edges[h->nedges++] = (struct heap_edge){from, to, label};
}

/* Start a record of `kind` about node v; heap_str/ref/bool/int/flt add to it. */
static inline void heap_rec(struct heap *h, uint32_t v, const char *kind)
{
	ck_assert_uint_lt(h->nrecs, HEAP_MAX);
	h->rec_node[h->nrecs] = v;
	h->rec_kind[h->nrecs++] = kind;
}

static inline struct heap_prop *heap_prop(struct heap *h, const char *key, int kind)
{
	ck_assert_uint_gt(h->nrecs, 0);
	ck_assert_uint_lt(h->nprops, HEAP_MAX * 4);
	struct heap_prop *p = &h->props[h->nprops++];
	*p = (struct heap_prop){.rec = h->nrecs - 1, .key = key, .kind = kind};
	return p;
}

static inline void heap_str(struct heap *h, const char *key, const char *s)
{
	heap_prop(h, key, 0)->s = s;
}

static inline void heap_ref(struct heap *h, const char *key, uint32_t node)
{
	heap_prop(h, key, 1)->node = node;
}

static inline void heap_bool(struct heap *h, const char *key, bool b)
{
	heap_prop(h, key, 2)->i = b;
}

static inline void heap_int(struct heap *h, const char *key, int64_t i)
{
	heap_prop(h, key, 3)->i = i;
}

static inline void heap_flt(struct heap *h, const char *key, double f)
{
	heap_prop(h, key, 4)->f = f;
}

static inline void heap_none(struct heap *h, const char *key)
{
	heap_prop(h, key, 5);
}

static inline void heap_root(struct heap *h, uint32_t v, const char *kind)
{
	ck_assert_uint_lt(h->nroots, 16);
	h->root_node[h->nroots] = v;
	h->root_kind[h->nroots++] = kind;
}

static inline void heap_write_header(const struct heap *h, const char *path, const char *header);

static inline void heap_write(const struct heap *h, const char *path, int pid)
{
	char header[128];
	snprintf(header, sizeof(header), "{\"producer\":\"test\",\"pid\":%d,\"process_start\":1.5}",
		 pid);
	heap_write_header(h, path, header);
}

/* heap_write with a header of the caller's (JSON: pid, process_start, code) */
static inline void heap_write_header(const struct heap *h, const char *path, const char *header)
{
	struct asnap_writer *w = test_writer(path, header);
	static uint32_t indeg[HEAP_MAX];
	static struct asnap_edge out[HEAP_MAX * 4];
	memset(indeg, 0, sizeof(indeg));
	for (uint32_t i = 0; i < h->nedges; i++)
		indeg[h->edges[i].to]++;
	for (uint32_t v = 0; v < h->n; v++) {
		uint32_t n = 0;
		for (uint32_t i = 0; i < h->nedges; i++)
			if (h->edges[i].from == v)
				out[n++] = (struct asnap_edge){
					h->edges[i].to,
					h->edges[i].label ? asnap_writer_intern_cstr(w, h->edges[i].label)
							  : 0,
					ASNAP_EDGE_STRONG};
		bool root = false;
		for (uint32_t r = 0; r < h->nroots; r++)
			root |= h->root_node[r] == v;
		struct asnap_node node = {
			.id = v, .type = asnap_writer_intern_cstr(w, h->type[v]), .addr = h->addr[v],
			.size = h->size[v], .refcnt = indeg[v] + h->extra_refs[v] + (root && !indeg[v]),
			.flags = ASNAP_NODE_GC_TRACKED, .nedges = n, .edges = out,
		};
		ck_assert_int_eq(asnap_writer_node(w, &node), 0);
	}
	static struct asnap_prop props[HEAP_MAX * 4];
	for (uint32_t r = 0; r < h->nrecs; r++) {
		uint32_t n = 0;
		for (uint32_t i = 0; i < h->nprops; i++) {
			const struct heap_prop *p = &h->props[i];
			if (p->rec != r)
				continue;
			struct asnap_prop *q = &props[n++];
			q->key = asnap_writer_intern_cstr(w, p->key);
			switch (p->kind) {
			case 0:
				q->value = (struct asnap_value){.type = ASNAP_VAL_STR,
								.u.str = asnap_writer_intern_cstr(w, p->s)};
				break;
			case 1:
				q->value = (struct asnap_value){.type = ASNAP_VAL_NODE, .u.node = p->node};
				break;
			case 2:
				q->value = (struct asnap_value){.type = ASNAP_VAL_BOOL, .u.b = p->i != 0};
				break;
			case 3:
				q->value = (struct asnap_value){.type = ASNAP_VAL_INT, .u.i = p->i};
				break;
			case 4:
				q->value = (struct asnap_value){.type = ASNAP_VAL_FLOAT, .u.f = p->f};
				break;
			default:
				q->value = (struct asnap_value){.type = ASNAP_VAL_NONE};
				break;
			}
		}
		struct asnap_record rec = {h->rec_node[r], asnap_writer_intern_cstr(w, h->rec_kind[r]),
					   n, props};
		ck_assert_int_eq(asnap_writer_record(w, &rec), 0);
	}
	for (uint32_t r = 0; r < h->nroots; r++) {
		struct asnap_root root = {h->root_node[r], asnap_writer_intern_cstr(w, h->root_kind[r]),
					  0};
		ck_assert_int_eq(asnap_writer_root(w, &root), 0);
	}
	test_commit(w);
}

#endif
