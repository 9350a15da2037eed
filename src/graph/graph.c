/*
 * graph.c - load a snapshot into a struct asnap_graph (see graph.h).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "graph/graph.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"
#include "util/order.h"

/* The most nodes a header's size hint may make us reserve per file byte. */
#define HINT_PER_FILE_BYTE 64u

struct asnap_graph_budget asnap_graph_budget;

/* Bytes per node of the node columns in cols (the edge offset always). */
static uint64_t node_bytes(uint32_t cols)
{
	return sizeof(uint32_t) + (cols & ASNAP_COL_ADDR ? sizeof(uint64_t) : 0) +
	       (cols & ASNAP_COL_TYPE ? sizeof(uint32_t) : 0) +
	       (cols & ASNAP_COL_SIZE ? sizeof(uint32_t) : 0) +
	       (cols & ASNAP_COL_REFCNT ? sizeof(uint32_t) : 0) +
	       (cols & ASNAP_COL_FLAGS ? sizeof(uint8_t) : 0);
}

/* Bytes per edge (the weak bit rounded up to a byte per 8). */
static uint64_t edge_bytes(uint32_t cols)
{
	return sizeof(uint32_t) + (cols & ASNAP_COL_LABEL ? sizeof(uint32_t) : 0);
}

uint64_t asnap_graph_estimate(uint64_t n, uint64_t m, uint32_t columns)
{
	const struct asnap_graph_budget *b = &asnap_graph_budget;
	/* no overflow: n < 2^32 and m < 2^40 for any file that can be read */
	return n * (node_bytes(columns) + b->node_work) + m * (edge_bytes(columns) + b->edge_work) +
	       m / 8 + 1;
}

struct builder {
	struct asnap_graph *g;
	struct asnap_error *err; /* for a refusal of the budget */
	uint32_t want;     /* ASNAP_COL_* to fill */
	/* a second pass (asnap_graph_load_more): the node and edge being
	 * filled, checked against what the first pass loaded */
	bool again;
	uint32_t v;
	uint64_t e;
	uint32_t cap_n;
	uint64_t cap_m;
	uint64_t cap_records;
	uint64_t cap_roots;
	uint32_t cap_hi;
	uint32_t cap_big;
	bool bad_header;   /* not a JSON object: refused once the file is read */
};

/* Charge bytes to the budget before allocating them; false (with b->err)
 * if refused. */
static bool charge(struct builder *b, uint64_t bytes)
{
	if (asnap_budget_charge(&asnap_graph_budget.meter, bytes, b->err) < 0)
		return false;
	b->g->charged += bytes;
	return true;
}

static bool grow(void **p, size_t elem, uint64_t new_cap)
{
	if (new_cap > SIZE_MAX / elem)
		return false;
	void *q = asnap_big_realloc(*p, (size_t)new_cap, elem);
	if (!q)
		return false;
	*p = q;
	return true;
}

/* The node columns wanted, and the edge offsets, to cap entries. */
static bool grow_columns(struct builder *b, uint64_t cap)
{
	struct asnap_graph *g = b->g;
	uint32_t w = b->want;
	return (!(w & ASNAP_COL_ADDR) || grow((void **)&g->addr, sizeof(*g->addr), cap)) &&
	       (!(w & ASNAP_COL_TYPE) || grow((void **)&g->type, sizeof(*g->type), cap)) &&
	       (!(w & ASNAP_COL_SIZE) || grow((void **)&g->size32, sizeof(*g->size32), cap)) &&
	       (!(w & ASNAP_COL_REFCNT) || grow((void **)&g->refcnt, sizeof(*g->refcnt), cap)) &&
	       (!(w & ASNAP_COL_FLAGS) || grow((void **)&g->flags, sizeof(*g->flags), cap)) &&
	       (b->again || grow((void **)&g->edge_off, sizeof(*g->edge_off), cap + 1));
}

static bool reserve_nodes(struct builder *b, uint64_t want)
{
	if (want <= b->cap_n)
		return true;
	uint64_t cap = b->cap_n ? b->cap_n : 1024;
	while (cap < want)
		cap *= 2;
	if (cap > UINT32_MAX - 1)
		cap = UINT32_MAX - 1;
	if (!grow_columns(b, cap))
		return false;
	b->cap_n = (uint32_t)cap;
	return true;
}

/* The edge columns to cap entries. */
static bool grow_edges(struct builder *b, uint64_t cap)
{
	struct asnap_graph *g = b->g;
	if (!grow((void **)&g->edge_target, sizeof(*g->edge_target), cap) ||
	    ((b->want & ASNAP_COL_LABEL) &&
	     !grow((void **)&g->edge_label, sizeof(*g->edge_label), cap)) ||
	    !grow((void **)&g->edge_weak, 1, cap / 8 + 1))
		return false;
	b->cap_m = cap;
	return true;
}

/* Growth doubles; large blocks are remapped by realloc, not copied, and
 * pages never written are never resident. */
static bool reserve_edges(struct builder *b, uint64_t want)
{
	if (want <= b->cap_m)
		return true;
	uint64_t cap = b->cap_m ? b->cap_m : 4096;
	while (cap < want)
		cap *= 2;
	return grow_edges(b, cap);
}

/* Edge offset of node v (v <= g->n) is m. */
static bool set_start(struct builder *b, uint32_t v, uint64_t m)
{
	struct asnap_graph *g = b->g;
	g->edge_off[v] = (uint32_t)m;
	while (((uint64_t)g->nedge_hi + 1) << 32 <= m) {
		uint32_t *hi = asnap_grow(g->edge_hi, g->nedge_hi, &b->cap_hi, sizeof(*hi), 4);
		if (!hi)
			return false;
		g->edge_hi = hi;
		g->edge_hi[g->nedge_hi++] = v;
	}
	return true;
}

/*
 * The label column as loaded: a string id, or for an index label i (format
 * 2) UINT32_MAX - 1 - i, which no string id of the file reaches (the reader
 * keeps the file's strings and the indexes within 2^32 - 1 ids together);
 * index_labels() turns it into the string id of "[i]" once the file is read.
 */
static inline uint32_t edge_label(const struct asnap_edge *e)
{
	return e->kind & ASNAP_EDGE_INDEX ? UINT32_MAX - 1 - e->label : e->label;
}

static void index_labels(struct asnap_graph *g, const struct asnap_reader *rd)
{
	uint32_t base = asnap_reader_index_base(rd);
	if (!base || !g->edge_label)
		return;
	uint32_t *label = g->edge_label;
	for (uint64_t e = 0; e < g->m; e++)
		if (label[e] >= base)
			label[e] = base + (UINT32_MAX - 1 - label[e]);
}

static bool add_edges(struct builder *b, const struct asnap_edge *e, uint32_t n)
{
	struct asnap_graph *g = b->g;
	uint64_t weak_bytes = (g->m + n + 7) / 8 - (g->m + 7) / 8;
	if (!charge(b, n * (edge_bytes(b->want) + asnap_graph_budget.edge_work) + weak_bytes))
		return false;
	if (!reserve_edges(b, g->m + n))
		return false;
	uint32_t *target = g->edge_target + g->m;
	uint32_t *label = g->edge_label ? g->edge_label + g->m : NULL;
	uint8_t *weak = g->edge_weak;
	uint64_t m = g->m;
	for (uint32_t i = 0; i < n; i++, m++) {
		target[i] = e[i].target;
		if (label)
			label[i] = edge_label(&e[i]);
		/* every byte is assigned when its first bit is */
		uint8_t bit = (uint8_t)((e[i].kind & ASNAP_EDGE_WEAK) << (m & 7));
		if (m & 7)
			weak[m >> 3] |= bit;
		else
			weak[m >> 3] = bit;
	}
	g->m = m;
	return set_start(b, g->n, g->m);
}

/* A size too large for size32, of node v (after those of smaller ids). */
static bool add_big_size(struct builder *b, uint32_t v, uint64_t size)
{
	struct asnap_graph *g = b->g;
	struct asnap_big_size *more = asnap_grow(g->size_big, g->nsize_big, &b->cap_big, sizeof(*more), 16);
	if (!more)
		return false;
	g->size_big = more;
	g->size_big[g->nsize_big++] = (struct asnap_big_size){v, size};
	return true;
}

/* The wanted columns of node v. */
static bool set_node(struct builder *b, uint32_t v, const struct asnap_node *node)
{
	struct asnap_graph *g = b->g;
	if (b->want & ASNAP_COL_SIZE) {
		if (node->size >= UINT32_MAX) {
			g->size32[v] = UINT32_MAX;
			if (!add_big_size(b, v, node->size))
				return false;
		} else {
			g->size32[v] = (uint32_t)node->size;
		}
	}
	if (b->want & ASNAP_COL_ADDR)
		g->addr[v] = node->addr;
	if (b->want & ASNAP_COL_TYPE)
		g->type[v] = node->type;
	if (b->want & ASNAP_COL_REFCNT)
		g->refcnt[v] = node->refcnt > UINT32_MAX ? UINT32_MAX : (uint32_t)node->refcnt;
	if (b->want & ASNAP_COL_FLAGS)
		g->flags[v] = (uint8_t)node->flags;
	return true;
}

/* Second pass: the labels of edges that must be the ones loaded first. */
static bool refill_edges(struct builder *b, const struct asnap_edge *e, uint32_t n)
{
	struct asnap_graph *g = b->g;
	if (n > g->m - b->e)
		return false;
	for (uint32_t i = 0; i < n; i++, b->e++) {
		if (g->edge_target[b->e] != e[i].target ||
		    asnap_graph_edge_is_weak(g, b->e) != (bool)(e[i].kind & ASNAP_EDGE_WEAK))
			return false;
		if (b->want & ASNAP_COL_LABEL)
			g->edge_label[b->e] = edge_label(&e[i]);
	}
	return true;
}

/* 1, 0 out of memory, or -2: not the node the first pass loaded. */
static int refill_node(struct builder *b, const struct asnap_node *node)
{
	struct asnap_graph *g = b->g;
	if (b->v >= g->n || asnap_graph_edge_begin(g, b->v) != b->e ||
	    asnap_graph_edge_end(g, b->v) - b->e < node->nedges)
		return -2;
	if (!set_node(b, b->v++, node))
		return 0;
	return refill_edges(b, node->edges, node->nedges) ? 1 : -2;
}

static bool add_node(struct builder *b, const struct asnap_node *node)
{
	struct asnap_graph *g = b->g;
	if (!charge(b, node_bytes(b->want) + asnap_graph_budget.node_work))
		return false;
	if (!reserve_nodes(b, (uint64_t)g->n + 1))
		return false;
	uint32_t v = g->n;
	if (!set_node(b, v, node))
		return false;
	g->n++;
	if (node->nedges)
		return add_edges(b, node->edges, node->nedges);
	return set_start(b, g->n, g->m);
}

static bool copy_value(struct asnap_arena *a, struct asnap_value *dst,
		       const struct asnap_value *src)
{
	*dst = *src;
	if (src->type != ASNAP_VAL_LIST || src->u.list.count == 0)
		return true;
	struct asnap_value *items = asnap_arena_alloc(a, src->u.list.count * sizeof(*items));
	if (!items)
		return false;
	for (uint32_t i = 0; i < src->u.list.count; i++)
		if (!copy_value(a, &items[i], &src->u.list.items[i]))
			return false;
	dst->u.list.items = items;
	return true;
}

/* Bytes of a value's list items in the arena, nested lists included. */
static uint64_t value_bytes(const struct asnap_value *v)
{
	if (v->type != ASNAP_VAL_LIST)
		return 0;
	uint64_t n = (uint64_t)v->u.list.count * sizeof(*v);
	for (uint32_t i = 0; i < v->u.list.count; i++)
		n += value_bytes(&v->u.list.items[i]);
	return n;
}

static bool add_record(struct builder *b, const struct asnap_record *rec)
{
	struct asnap_graph *g = b->g;
	uint64_t bytes = sizeof(*rec) + (uint64_t)rec->nprops * sizeof(*rec->props);
	for (uint32_t i = 0; i < rec->nprops; i++)
		bytes += value_bytes(&rec->props[i].value);
	if (!charge(b, bytes))
		return false;
	if (g->nrecords == b->cap_records) {
		/* first, what the file could hold (agents' files hold a
		 * record per 20 to 100 bytes): address space, never written
		 * beyond what is used, and no growing after */
		uint64_t cap = b->cap_records ? b->cap_records * 2 : g->file_size / 16;
		if (cap < 256)
			cap = 256;
		if (!grow((void **)&g->records, sizeof(*g->records), cap))
			return false;
		b->cap_records = cap;
	}
	struct asnap_prop *props = NULL;
	if (rec->nprops) {
		props = asnap_arena_alloc(&g->arena, rec->nprops * sizeof(*props));
		if (!props)
			return false;
		for (uint32_t i = 0; i < rec->nprops; i++) {
			props[i].key = rec->props[i].key;
			if (!copy_value(&g->arena, &props[i].value, &rec->props[i].value))
				return false;
		}
	}
	g->records[g->nrecords++] = (struct asnap_record){rec->node, rec->kind, rec->nprops, props};
	return true;
}

static bool add_root(struct builder *b, const struct asnap_root *root)
{
	struct asnap_graph *g = b->g;
	if (!charge(b, sizeof(*root)))
		return false;
	if (g->nroots == b->cap_roots) {
		uint64_t cap = b->cap_roots ? b->cap_roots * 2 : 64;
		if (!grow((void **)&g->roots, sizeof(*g->roots), cap))
			return false;
		b->cap_roots = cap;
	}
	g->roots[g->nroots++] = *root;
	return true;
}

/*
 * Without hints, reserve what the file's size suggests: an object per 4
 * bytes of file and 2 references per byte (agents' snapshots hold 5 to 14
 * bytes an object, 2 to 4 bytes a reference). Growing from small copies
 * every column again and again: a quarter to three quarters of a load's
 * time. The reservation is address space (a block this big is mapped, and
 * pages never written are never resident), so an overestimate costs next
 * to nothing, and one that falls short grows by remapping. At most half
 * of what is left of the memory budget.
 */
static void reserve_from_file_size(struct builder *b, const struct asnap_budget *meter)
{
	uint64_t nodes = b->g->file_size / 4, nedges = b->g->file_size / 2;
	if (nodes < 1024)
		return;
	uint64_t need = asnap_graph_estimate(nodes, nedges, b->want);
	if (meter->limit && meter->used + 2 * need > meter->limit) {
		uint64_t left = meter->limit > meter->used ? meter->limit - meter->used : 0;
		double part = (double)left / 2 / (double)need;
		nodes = (uint64_t)((double)nodes * part);
		nedges = (uint64_t)((double)nedges * part);
	}
	if (nodes > UINT32_MAX / 2)
		nodes = UINT32_MAX / 2;
	/* failing to reserve is no error: the doubling takes over */
	if (reserve_nodes(b, nodes))
		reserve_edges(b, nedges);
}

/* Reserve what the header says the file holds, within reason; without an
 * edge count, four per object (what Python heaps have, give or take):
 * reserved pages cost nothing until written. A file that declares more
 * than the budget allows is refused now (false, b->err), before anything
 * is reserved; implausible counts (more than 64 per byte of file) are
 * ignored, and the budget then catches what the file really holds. */
static bool reserve_from_hints(struct builder *b, const cJSON *h)
{
	uint64_t limit = b->g->file_size * HINT_PER_FILE_BYTE;
	const cJSON *objects = cJSON_GetObjectItemCaseSensitive(h, "objects");
	const cJSON *edges = cJSON_GetObjectItemCaseSensitive(h, "edges");
	uint64_t nodes = 0, nedges = 0;
	if (cJSON_IsNumber(objects) && objects->valuedouble > 0 && objects->valuedouble < (double)limit)
		nodes = (uint64_t)objects->valuedouble;
	if (cJSON_IsNumber(edges) && edges->valuedouble > 0 && edges->valuedouble < (double)limit)
		nedges = (uint64_t)edges->valuedouble;
	const struct asnap_budget *meter = &asnap_graph_budget.meter;
	if (!nodes && !nedges) {
		reserve_from_file_size(b, meter);
		return true;
	}
	uint64_t need = asnap_graph_estimate(nodes, nedges ? nedges : nodes * 4, b->want);
	if (asnap_budget_check(meter, meter->used + need, b->err) < 0)
		return false;
	if (nodes)
		reserve_nodes(b, nodes);
	if (nedges)
		reserve_edges(b, nedges);
	else if (nodes)
		reserve_edges(b, nodes * 4);
	return true;
}

static bool reserve_nodes_exact(struct builder *b)
{
	struct asnap_graph *g = b->g;
	uint64_t cap = (uint64_t)g->n + 1;
	if (!grow_columns(b, cap))
		return false;
	b->cap_n = (uint32_t)cap;
	return true;
}

static bool reserve_edges_exact(struct builder *b)
{
	return grow_edges(b, b->g->m + 1);
}

static int cmp_record(const void *a, const void *b)
{
	const struct asnap_record *x = a, *y = b;
	int c = asnap_asc_u64(x->node, y->node);
	return c ? c : asnap_asc_u64(x->kind, y->kind);
}

/*
 * Records sorted by node, then kind. The agent writes them in the order of
 * their nodes, a node's few in any order: then only each node's run needs
 * sorting, in place (qsort would copy all of them through a buffer of
 * fresh pages). Any other order, and long runs, go to qsort.
 */
static void sort_records(struct asnap_graph *g)
{
	struct asnap_record *r = g->records;
	uint64_t n = g->nrecords;
	for (uint64_t i = 1; i < n; i++) {
		if (r[i - 1].node > r[i].node) {
			qsort(r, n, sizeof(*r), cmp_record);
			return;
		}
	}
	for (uint64_t lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && r[hi].node == r[lo].node; hi++)
			;
		if (hi - lo > 16) {
			qsort(r + lo, hi - lo, sizeof(*r), cmp_record);
			continue;
		}
		for (uint64_t i = lo + 1; i < hi; i++) {
			struct asnap_record x = r[i];
			uint64_t j = i;
			for (; j > lo && cmp_record(&r[j - 1], &x) > 0; j--)
				r[j] = r[j - 1];
			r[j] = x;
		}
	}
}

/* Every item of rd into the graph: 1 done, 0 out of memory, -1 *err (the
 * reader's), -2 the file no longer holds the graph of the first pass. */
static int load_items(struct builder *b, struct asnap_reader *rd, struct asnap_error *err)
{
	struct asnap_graph *g = b->g;
	struct asnap_item it;
	int rc;
	while ((rc = asnap_reader_next(rd, &it, err)) == 1) {
		bool ok = true;
		switch (it.kind) {
		case ASNAP_ITEM_HEADER:
			if (b->again)
				break;
			ok = charge(b, it.u.header.len + 1);
			if (!ok)
				return -1;
			g->header = cJSON_ParseWithLength(it.u.header.json, it.u.header.len);
			/* a damaged header fails its checksum later: that is the
			 * better message, so a refusal waits for the whole file */
			b->bad_header = !cJSON_IsObject(g->header);
			if (!b->bad_header && !reserve_from_hints(b, g->header))
				return -1;
			break;
		case ASNAP_ITEM_NODE:
			if (b->again) {
				int got = refill_node(b, &it.u.node);
				if (got < 0)
					return got;
				ok = got == 1;
			} else {
				ok = add_node(b, &it.u.node);
			}
			break;
		case ASNAP_ITEM_EDGES:
			if (b->again && !refill_edges(b, it.u.edges.edges, it.u.edges.nedges))
				return -2;
			if (!b->again)
				ok = add_edges(b, it.u.edges.edges, it.u.edges.nedges);
			break;
		case ASNAP_ITEM_RECORD:
			if (b->want & ASNAP_COL_RECORDS)
				ok = add_record(b, &it.u.record);
			break;
		case ASNAP_ITEM_ROOT:
			if (!b->again)
				ok = add_root(b, &it.u.root);
			break;
		case ASNAP_ITEM_END:
			if (!b->again && it.u.end.trailer) {
				if (!charge(b, it.u.end.trailer_len + 1))
					return -1;
				g->trailer = cJSON_ParseWithLength(it.u.end.trailer,
								   it.u.end.trailer_len);
				if (!cJSON_IsObject(g->trailer)) {
					cJSON_Delete(g->trailer);
					g->trailer = NULL;
				}
			}
			break;
		}
		if (!ok)
			return b->err && b->err->status == ASNAP_ERR_BUDGET ? -1 : 0;
	}
	if (rc < 0)
		return -1;
	if (b->bad_header) {
		asnap_error_set(err, ASNAP_ERR_CORRUPT, "corrupt header section: invalid JSON");
		return -1;
	}
	if (b->again && (b->v != g->n || b->e != g->m))
		return -2;
	if (b->want & ASNAP_COL_RECORDS)
		sort_records(g);
	return 1;
}

struct asnap_graph *asnap_graph_load_columns(const char *path, uint32_t columns,
					     struct asnap_error *err)
{
	struct asnap_graph *g = calloc(1, sizeof(*g));
	if (!g) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	struct builder b = {.g = g, .err = err, .want = columns & ASNAP_COL_ALL};
	g->strings = asnap_reader_open(path, err);
	if (!g->strings)
		goto error;
	asnap_reader_set_budget(g->strings, &asnap_graph_budget.meter);
	g->file_size = asnap_reader_file_size(g->strings);
	g->version = asnap_reader_version(g->strings);
	if (!reserve_nodes(&b, 1))
		goto nomem;
	g->edge_off[0] = 0;
	int rc = load_items(&b, g->strings, err);
	if (rc == 0)
		goto nomem;
	if (rc < 0)
		goto error;
	index_labels(g, g->strings);
	asnap_reader_trim(g->strings); /* the strings stay; the decoding buffers go */
	/* Give back what the hints or the doubling reserved beyond the end. */
	if (b.cap_n > g->n + 1u && !reserve_nodes_exact(&b))
		goto nomem;
	if (b.cap_m > g->m + 1u && !reserve_edges_exact(&b))
		goto nomem;
	g->columns = b.want;
	return g;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory loading the snapshot");
error:
	asnap_graph_destroy(g);
	return NULL;
}

struct asnap_graph *asnap_graph_load(const char *path, struct asnap_error *err)
{
	return asnap_graph_load_columns(path, ASNAP_COL_ALL, err);
}

int asnap_graph_load_more(struct asnap_graph *g, uint32_t columns, struct asnap_error *err)
{
	uint32_t want = columns & ASNAP_COL_ALL & ~g->columns;
	if (!want)
		return 0;
	struct builder b = {.g = g, .err = err, .want = want, .again = true};
	struct asnap_reader *rd = asnap_reader_reopen(g->strings, err);
	if (!rd)
		return -1;
	asnap_reader_set_budget(rd, &asnap_graph_budget.meter);
	int rc = -1;
	/* the counts are known: the new columns are charged whole, up front */
	uint64_t more = (uint64_t)(g->n + 1) * (node_bytes(want) - sizeof(uint32_t)) +
			(want & ASNAP_COL_LABEL ? (g->m + 1) * sizeof(uint32_t) : 0);
	if (!charge(&b, more)) {
		more = 0;
		goto out;
	}
	if (!grow_columns(&b, (uint64_t)g->n + 1) ||
	    ((want & ASNAP_COL_LABEL) &&
	     !grow((void **)&g->edge_label, sizeof(*g->edge_label), g->m + 1))) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory loading the snapshot");
		goto out;
	}
	int got = load_items(&b, rd, err);
	if (got == 0)
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory loading the snapshot");
	else if (got == -2 || (got == 1 && asnap_reader_string_count(rd) !=
						   asnap_reader_string_count(g->strings)))
		asnap_error_set(err, ASNAP_ERR_CORRUPT, "the file changed while it was being read");
	else if (got == 1) {
		index_labels(g, rd);
		rc = 0;
	}
out:
	asnap_reader_destroy(rd);
	if (rc == 0) {
		g->columns |= want;
	} else {
		asnap_graph_release_columns(g, want);
		asnap_budget_credit(&asnap_graph_budget.meter, more);
		g->charged -= more;
	}
	return rc;
}

/* free(*p), and *p = NULL (p: the address of a pointer). */
static void drop(void *p)
{
	void **pp = p;
	free(*pp);
	*pp = NULL;
}

void asnap_graph_release_columns(struct asnap_graph *g, uint32_t columns)
{
	columns &= ASNAP_COL_ALL;
	uint32_t held = columns & g->columns;
	uint64_t bytes = (uint64_t)g->n * (node_bytes(held) - sizeof(uint32_t)) +
			 (held & ASNAP_COL_LABEL ? g->m * sizeof(uint32_t) : 0);
	if (bytes > g->charged)
		bytes = g->charged;
	asnap_budget_credit(&asnap_graph_budget.meter, bytes);
	g->charged -= bytes;
	if (columns & ASNAP_COL_ADDR)
		drop(&g->addr);
	if (columns & ASNAP_COL_TYPE)
		drop(&g->type);
	if (columns & ASNAP_COL_SIZE) {
		drop(&g->size32);
		drop(&g->size_big);
		g->nsize_big = 0;
	}
	if (columns & ASNAP_COL_REFCNT)
		drop(&g->refcnt);
	if (columns & ASNAP_COL_FLAGS)
		drop(&g->flags);
	if (columns & ASNAP_COL_LABEL)
		drop(&g->edge_label);
	if (columns & ASNAP_COL_RECORDS) {
		/* their properties stay in the arena until the graph goes */
		drop(&g->records);
		g->nrecords = 0;
	}
	g->columns &= ~columns;
}

void asnap_graph_destroy(struct asnap_graph *g)
{
	if (!g)
		return;
	asnap_graph_release_columns(g, ASNAP_COL_ALL);
	asnap_free_all(g->edge_off, g->edge_hi, g->edge_target, g->edge_weak, g->roots);
	cJSON_Delete(g->header);
	cJSON_Delete(g->trailer);
	asnap_graph_drop_reverse(g);
	asnap_reader_destroy(g->strings);
	asnap_arena_release(&g->arena);
	asnap_budget_credit(&asnap_graph_budget.meter, g->charged);
	free(g);
}

uint64_t asnap_graph_big_size(const struct asnap_graph *g, uint32_t v)
{
	uint32_t lo = (uint32_t)asnap_lower_bound(g->size_big, g->nsize_big, sizeof(*g->size_big),
						  offsetof(struct asnap_big_size, node), v);
	return lo < g->nsize_big && g->size_big[lo].node == v ? g->size_big[lo].size : UINT32_MAX;
}

const char *asnap_graph_string_len(const struct asnap_graph *g, uint32_t id, size_t *len)
{
	const char *s = asnap_reader_string(g->strings, id, len);
	if (!s) {
		if (len)
			*len = 0;
		return "";
	}
	return s;
}

const char *asnap_graph_string(const struct asnap_graph *g, uint32_t id)
{
	return asnap_graph_string_len(g, id, NULL);
}

const struct asnap_record *asnap_graph_records(const struct asnap_graph *g, uint32_t v,
					       uint64_t *count)
{
	uint64_t lo = asnap_lower_bound(g->records, g->nrecords, sizeof(*g->records),
					offsetof(struct asnap_record, node), v);
	uint64_t end = lo;
	while (end < g->nrecords && g->records[end].node == v)
		end++;
	*count = end - lo;
	return g->records ? g->records + lo : NULL; /* NULL + 0 is undefined */
}

int asnap_graph_index_reverse(struct asnap_graph *g, struct asnap_error *err)
{
	if (g->rev_start)
		return 0;
	if (g->m >= UINT32_MAX)
		return asnap_error_set(err, ASNAP_ERR_LIMIT,
				       "more than %u references: too many to analyze", UINT32_MAX - 1);
	uint32_t *start = asnap_big_zalloc((size_t)g->n + 1, sizeof(*start));
	if (!start)
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory indexing references");
	const uint32_t *et = g->edge_target;
	uint64_t strong = 0;
	for (uint64_t e = 0; e < g->m; e++) {
		if (asnap_graph_edge_is_weak(g, e))
			continue;
		start[et[e]]++;
		strong++;
	}
	uint32_t *source = asnap_big_alloc(strong ? strong : 1, sizeof(*source));
	if (!source) {
		free(start);
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory indexing references");
	}
	/* start[v] becomes the end of v's slice; filling from the back moves it
	 * to the beginning, and leaves the sources in increasing order. */
	uint32_t sum = 0;
	for (uint32_t v = 0; v < g->n; v++) {
		sum += start[v];
		start[v] = sum;
	}
	start[g->n] = sum;
	const uint32_t *off = g->edge_off; /* m < 2^32: the low words are the offsets */
	for (uint32_t v = g->n; v-- > 0;)
		for (uint32_t e = off[v + 1]; e-- > off[v];)
			if (asnap_graph_edge_is_strong(g, e))
				source[--start[et[e]]] = v;
	g->rev_start = start;
	g->rev_source = source;
	g->m_strong = strong;
	return 0;
}

int asnap_graph_set_edge_offsets(struct asnap_graph *g, const uint64_t *start,
				 struct asnap_error *err)
{
	struct builder b = {.g = g};
	free(g->edge_off);
	free(g->edge_hi);
	g->edge_hi = NULL;
	g->nedge_hi = 0;
	g->edge_off = asnap_big_alloc((size_t)g->n + 1, sizeof(*g->edge_off));
	if (!g->edge_off)
		goto nomem;
	for (uint32_t v = 0; v <= g->n; v++)
		if (!set_start(&b, v, start[v]))
			goto nomem;
	return 0;
nomem:
	return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
}

void asnap_graph_drop_reverse(struct asnap_graph *g)
{
	free(g->rev_start);
	free(g->rev_source);
	g->rev_start = NULL;
	g->rev_source = NULL;
}

uint32_t asnap_graph_named_strings(const struct asnap_graph *g)
{
	uint32_t base = asnap_reader_index_base(g->strings);
	return base ? base - 1 : asnap_reader_string_count(g->strings);
}

uint32_t asnap_graph_find_string(const struct asnap_graph *g, const char *s)
{
	size_t want = strlen(s);
	uint32_t count = s[0] == '[' ? asnap_reader_string_count(g->strings)
				     : asnap_graph_named_strings(g);
	for (uint32_t id = 1; id <= count; id++) {
		size_t len;
		const char *t = asnap_reader_string(g->strings, id, &len);
		if (t && len == want && memcmp(t, s, len) == 0)
			return id;
	}
	return 0;
}

uint32_t asnap_graph_find_addr(const struct asnap_graph *g, uint64_t addr)
{
	for (uint32_t v = 0; v < g->n; v++)
		if (g->addr[v] == addr)
			return v;
	return ASNAP_NO_NODE;
}

uint64_t asnap_graph_edge_between(const struct asnap_graph *g, uint32_t v, uint32_t w)
{
	uint64_t strong = UINT64_MAX, any = UINT64_MAX;
	for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v); e < end;
	     e++) {
		if (g->edge_target[e] != w)
			continue;
		if (asnap_graph_edge_is_strong(g, e)) {
			if (g->edge_label[e])
				return e;
			if (strong == UINT64_MAX)
				strong = e;
		}
		if (any == UINT64_MAX)
			any = e;
	}
	return strong != UINT64_MAX ? strong : any;
}

/* ---- many edge_between lookups ---------------------------------------- */

#define FINDER_MIN_DEGREE 32          /* below this a scan is as cheap */
#define FINDER_MAX_ENTRIES (1ull << 27) /* 2 GiB of slots at most, then scan */

struct asnap_edge_table {
	uint32_t source;
	uint32_t mask;     /* slots - 1 */
	uint32_t *target;  /* UINT32_MAX: empty */
	uint64_t *edge;
};

static uint32_t finder_hash(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	return x ^ (x >> 16);
}

/* The rank of an edge in edge_between's order of preference. */
static int edge_rank(const struct asnap_graph *g, uint64_t e)
{
	if (!asnap_graph_edge_is_strong(g, e))
		return 0;
	return g->edge_label && g->edge_label[e] ? 2 : 1;
}

/* The slot of source v in the finder's index (its table, or an empty
 * slot). The index has room: it is kept at most half full. */
static uint32_t *finder_slot(struct asnap_edge_finder *f, uint32_t v)
{
	for (uint32_t i = finder_hash(v) & f->index_mask;; i = (i + 1) & f->index_mask)
		if (!f->index[i] || f->tables[f->index[i] - 1].source == v)
			return &f->index[i];
}

static bool finder_grow_index(struct asnap_edge_finder *f)
{
	uint32_t slots = f->index ? (f->index_mask + 1) * 2 : 64;
	uint32_t *old = f->index;
	f->index = calloc(slots, sizeof(*f->index));
	if (!f->index) {
		f->index = old;
		return false;
	}
	f->index_mask = slots - 1;
	for (uint32_t k = 0; k < f->ntables; k++)
		*finder_slot(f, f->tables[k].source) = k + 1;
	free(old);
	return true;
}

static struct asnap_edge_table *finder_build(struct asnap_edge_finder *f, uint32_t v,
					     uint64_t degree)
{
	const struct asnap_graph *g = f->g;
	uint64_t slots = 64;
	while (slots < 2 * degree)
		slots *= 2;
	if (slots > UINT32_MAX || f->entries + slots > FINDER_MAX_ENTRIES)
		return NULL;
	if ((!f->index || (uint64_t)(f->ntables + 1) * 2 > (uint64_t)f->index_mask + 1) &&
	    !finder_grow_index(f))
		return NULL;
	struct asnap_edge_table *more = asnap_grow(f->tables, f->ntables, &f->cap, sizeof(*more), 8);
	if (!more)
		return NULL;
	f->tables = more;
	struct asnap_edge_table t = {.source = v, .mask = (uint32_t)(slots - 1)};
	t.target = malloc(slots * sizeof(*t.target));
	t.edge = malloc(slots * sizeof(*t.edge));
	if (!t.target || !t.edge) {
		free(t.target);
		free(t.edge);
		return NULL;
	}
	memset(t.target, 0xff, slots * sizeof(*t.target));
	for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v); e < end;
	     e++) {
		uint32_t w = g->edge_target[e];
		uint32_t i = finder_hash(w) & t.mask;
		while (t.target[i] != UINT32_MAX && t.target[i] != w)
			i = (i + 1) & t.mask;
		if (t.target[i] == UINT32_MAX) {
			t.target[i] = w;
			t.edge[i] = e;
		} else if (edge_rank(g, e) > edge_rank(g, t.edge[i])) {
			t.edge[i] = e; /* the first of a better rank */
		}
	}
	f->entries += slots;
	f->tables[f->ntables] = t;
	*finder_slot(f, v) = f->ntables + 1;
	return &f->tables[f->ntables++];
}

uint64_t asnap_edge_finder_find(struct asnap_edge_finder *f, const struct asnap_graph *g,
				uint32_t v, uint32_t w)
{
	uint64_t degree = asnap_graph_edge_end(g, v) - asnap_graph_edge_begin(g, v);
	if (degree < FINDER_MIN_DEGREE)
		return asnap_graph_edge_between(g, v, w);
	if (f->g != g) {
		asnap_edge_finder_release(f);
		f->g = g;
	}
	struct asnap_edge_table *t = NULL;
	if (f->index) {
		uint32_t k = *finder_slot(f, v);
		t = k ? &f->tables[k - 1] : NULL;
	}
	if (!t && !(t = finder_build(f, v, degree)))
		return asnap_graph_edge_between(g, v, w);
	for (uint32_t i = finder_hash(w) & t->mask;; i = (i + 1) & t->mask) {
		if (t->target[i] == w)
			return t->edge[i];
		if (t->target[i] == UINT32_MAX)
			return UINT64_MAX;
	}
}

void asnap_edge_finder_release(struct asnap_edge_finder *f)
{
	for (uint32_t i = 0; i < f->ntables; i++) {
		free(f->tables[i].target);
		free(f->tables[i].edge);
	}
	asnap_free_all(f->tables, f->index);
	*f = (struct asnap_edge_finder){0};
}
