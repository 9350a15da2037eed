/*
 * graph.c - load a snapshot into a struct asnap_graph (see graph.h).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "graph/graph.h"

/* The most nodes a header's size hint may make us reserve per file byte. */
#define HINT_PER_FILE_BYTE 64u

struct builder {
	struct asnap_graph *g;
	uint32_t cap_n;
	uint64_t cap_m;
	uint64_t cap_records;
	uint64_t cap_roots;
};

static bool grow(void **p, size_t elem, uint64_t old_cap, uint64_t new_cap)
{
	(void)old_cap;
	if (new_cap > SIZE_MAX / elem)
		return false;
	void *q = realloc(*p, (size_t)new_cap * elem);
	if (!q)
		return false;
	*p = q;
	return true;
}

static bool reserve_nodes(struct builder *b, uint64_t want)
{
	struct asnap_graph *g = b->g;
	if (want <= b->cap_n)
		return true;
	uint64_t cap = b->cap_n ? b->cap_n : 1024;
	while (cap < want)
		cap *= 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if (!grow((void **)&g->addr, sizeof(*g->addr), b->cap_n, cap) ||
	    !grow((void **)&g->type, sizeof(*g->type), b->cap_n, cap) ||
	    !grow((void **)&g->size, sizeof(*g->size), b->cap_n, cap) ||
	    !grow((void **)&g->refcnt, sizeof(*g->refcnt), b->cap_n, cap) ||
	    !grow((void **)&g->flags, sizeof(*g->flags), b->cap_n, cap) ||
	    !grow((void **)&g->edge_start, sizeof(*g->edge_start), b->cap_n + 1, cap + 1))
		return false;
	b->cap_n = (uint32_t)cap;
	return true;
}

static bool reserve_edges(struct builder *b, uint64_t want)
{
	struct asnap_graph *g = b->g;
	if (want <= b->cap_m)
		return true;
	uint64_t cap = b->cap_m ? b->cap_m : 4096;
	while (cap < want)
		cap *= 2;
	if (!grow((void **)&g->edge_target, sizeof(*g->edge_target), b->cap_m, cap) ||
	    !grow((void **)&g->edge_label, sizeof(*g->edge_label), b->cap_m, cap) ||
	    !grow((void **)&g->edge_kind, sizeof(*g->edge_kind), b->cap_m, cap))
		return false;
	b->cap_m = cap;
	return true;
}

static bool add_edges(struct builder *b, const struct asnap_edge *e, uint32_t n)
{
	struct asnap_graph *g = b->g;
	if (!reserve_edges(b, g->m + n))
		return false;
	for (uint32_t i = 0; i < n; i++) {
		g->edge_target[g->m + i] = e[i].target;
		g->edge_label[g->m + i] = e[i].label;
		g->edge_kind[g->m + i] = e[i].kind;
	}
	g->m += n;
	g->edge_start[g->n] = g->m;
	return true;
}

static bool add_node(struct builder *b, const struct asnap_node *node)
{
	struct asnap_graph *g = b->g;
	if (!reserve_nodes(b, (uint64_t)g->n + 1))
		return false;
	uint32_t v = g->n;
	g->addr[v] = node->addr;
	g->type[v] = node->type;
	g->size[v] = node->size;
	g->refcnt[v] = node->refcnt;
	g->flags[v] = node->flags;
	g->edge_start[v] = g->m;
	g->n++;
	g->edge_start[g->n] = g->m;
	return add_edges(b, node->edges, node->nedges);
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

static bool add_record(struct builder *b, const struct asnap_record *rec)
{
	struct asnap_graph *g = b->g;
	if (g->nrecords == b->cap_records) {
		uint64_t cap = b->cap_records ? b->cap_records * 2 : 256;
		if (!grow((void **)&g->records, sizeof(*g->records), b->cap_records, cap))
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
	if (g->nroots == b->cap_roots) {
		uint64_t cap = b->cap_roots ? b->cap_roots * 2 : 64;
		if (!grow((void **)&g->roots, sizeof(*g->roots), b->cap_roots, cap))
			return false;
		b->cap_roots = cap;
	}
	g->roots[g->nroots++] = *root;
	return true;
}

/* Reserve what the header says the file holds, within reason. */
static void reserve_from_hints(struct builder *b, const char *json)
{
	cJSON *h = cJSON_Parse(json);
	if (!h)
		return;
	uint64_t limit = b->g->file_size * HINT_PER_FILE_BYTE;
	const cJSON *objects = cJSON_GetObjectItemCaseSensitive(h, "objects");
	const cJSON *edges = cJSON_GetObjectItemCaseSensitive(h, "edges");
	if (cJSON_IsNumber(objects) && objects->valuedouble > 0 && objects->valuedouble < (double)limit)
		reserve_nodes(b, (uint64_t)objects->valuedouble);
	if (cJSON_IsNumber(edges) && edges->valuedouble > 0 && edges->valuedouble < (double)limit)
		reserve_edges(b, (uint64_t)edges->valuedouble);
	cJSON_Delete(h);
}

static int cmp_record(const void *a, const void *b)
{
	const struct asnap_record *x = a, *y = b;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

struct asnap_graph *asnap_graph_load(const char *path, struct asnap_error *err)
{
	struct asnap_graph *g = calloc(1, sizeof(*g));
	if (!g) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	struct builder b = {.g = g};
	g->strings = asnap_reader_open(path, err);
	if (!g->strings)
		goto error;
	g->file_size = asnap_reader_file_size(g->strings);
	g->version = asnap_reader_version(g->strings);
	if (!reserve_nodes(&b, 1))
		goto nomem;
	g->edge_start[0] = 0;

	struct asnap_item it;
	int rc;
	while ((rc = asnap_reader_next(g->strings, &it, err)) == 1) {
		bool ok = true;
		switch (it.kind) {
		case ASNAP_ITEM_HEADER:
			g->header_json = strdup(it.u.header.json);
			ok = g->header_json != NULL;
			if (ok)
				reserve_from_hints(&b, g->header_json);
			break;
		case ASNAP_ITEM_NODE:
			ok = add_node(&b, &it.u.node);
			break;
		case ASNAP_ITEM_EDGES:
			ok = add_edges(&b, it.u.edges.edges, it.u.edges.nedges);
			break;
		case ASNAP_ITEM_RECORD:
			ok = add_record(&b, &it.u.record);
			break;
		case ASNAP_ITEM_ROOT:
			ok = add_root(&b, &it.u.root);
			break;
		case ASNAP_ITEM_END:
			if (it.u.end.trailer) {
				g->trailer_json = strdup(it.u.end.trailer);
				ok = g->trailer_json != NULL;
			}
			break;
		}
		if (!ok)
			goto nomem;
	}
	if (rc < 0)
		goto error;
	if (g->nrecords > 1)
		qsort(g->records, g->nrecords, sizeof(*g->records), cmp_record);
	return g;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory loading the snapshot");
error:
	asnap_graph_destroy(g);
	return NULL;
}

void asnap_graph_destroy(struct asnap_graph *g)
{
	if (!g)
		return;
	free(g->addr);
	free(g->type);
	free(g->size);
	free(g->refcnt);
	free(g->flags);
	free(g->edge_start);
	free(g->edge_target);
	free(g->edge_label);
	free(g->edge_kind);
	free(g->records);
	free(g->roots);
	free(g->header_json);
	free(g->trailer_json);
	asnap_graph_drop_reverse(g);
	asnap_reader_destroy(g->strings);
	asnap_arena_release(&g->arena);
	free(g);
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
	uint64_t lo = 0, hi = g->nrecords;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (g->records[mid].node < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t end = lo;
	while (end < g->nrecords && g->records[end].node == v)
		end++;
	*count = end - lo;
	return g->records + lo;
}

int asnap_graph_index_reverse(struct asnap_graph *g, struct asnap_error *err)
{
	if (g->rev_start)
		return 0;
	if (g->m >= UINT32_MAX)
		return asnap_error_set(err, ASNAP_ERR_LIMIT,
				       "more than %u references: too many to analyze", UINT32_MAX - 1);
	uint32_t *start = calloc((size_t)g->n + 1, sizeof(*start));
	if (!start)
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory indexing references");
	uint64_t strong = 0;
	for (uint64_t e = 0; e < g->m; e++) {
		if (g->edge_kind[e] != ASNAP_EDGE_STRONG)
			continue;
		start[g->edge_target[e]]++;
		strong++;
	}
	uint32_t *source = malloc((strong ? strong : 1) * sizeof(*source));
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
	for (uint32_t v = g->n; v-- > 0;)
		for (uint64_t e = g->edge_start[v + 1]; e-- > g->edge_start[v];)
			if (g->edge_kind[e] == ASNAP_EDGE_STRONG)
				source[--start[g->edge_target[e]]] = v;
	g->rev_start = start;
	g->rev_source = source;
	g->m_strong = strong;
	return 0;
}

void asnap_graph_drop_reverse(struct asnap_graph *g)
{
	free(g->rev_start);
	free(g->rev_source);
	g->rev_start = NULL;
	g->rev_source = NULL;
}

uint32_t asnap_graph_find_string(const struct asnap_graph *g, const char *s)
{
	size_t want = strlen(s);
	uint32_t count = asnap_reader_string_count(g->strings);
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
	for (uint64_t e = g->edge_start[v]; e < g->edge_start[v + 1]; e++) {
		if (g->edge_target[e] != w)
			continue;
		if (g->edge_kind[e] == ASNAP_EDGE_STRONG) {
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
