/*
 * stats.c - see stats.h.
 */
#include <stdlib.h>

#include "analysis/stats.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/order.h"

static int cmp_bytes(const void *a, const void *b)
{
	const struct asnap_type_stat *x = a, *y = b;
	return asnap_order(asnap_desc_u64(x->bytes, y->bytes), asnap_desc_u64(x->count, y->count),
			   asnap_asc_u64(x->type, y->type));
}

static int cmp_count(const void *a, const void *b)
{
	const struct asnap_type_stat *x = a, *y = b;
	return asnap_order(asnap_desc_u64(x->count, y->count), asnap_desc_u64(x->bytes, y->bytes),
			   asnap_asc_u64(x->type, y->type));
}

static int cmp_kind(const void *a, const void *b)
{
	const struct asnap_kind_count *x = a, *y = b;
	int c = asnap_desc_u64(x->count, y->count);
	return c ? c : asnap_asc_u64(x->kind, y->kind);
}

void asnap_stats_sort_by_count(struct asnap_stats *s)
{
	if (s->ntypes > 1)
		qsort(s->types, s->ntypes, sizeof(*s->types), cmp_count);
}

void asnap_stats_sort_by_bytes(struct asnap_stats *s)
{
	if (s->ntypes > 1)
		qsort(s->types, s->ntypes, sizeof(*s->types), cmp_bytes);
}

int asnap_stats_compute(const struct asnap_graph *g, struct asnap_stats *s)
{
	*s = (struct asnap_stats){0};
	/* String ids are dense, so a table indexed by type id is the histogram. */
	uint32_t nstr = asnap_reader_string_count(g->strings) + 1;
	struct asnap_type_stat *by_id = asnap_big_zalloc(nstr, sizeof(*by_id));
	uint64_t *kinds = asnap_big_zalloc(nstr, sizeof(*kinds));
	if (!by_id || !kinds)
		goto nomem;
	for (uint32_t v = 0; v < g->n; v++) {
		struct asnap_type_stat *t = &by_id[g->type[v]];
		t->count++;
		t->bytes += asnap_graph_size(g, v);
		s->bytes += asnap_graph_size(g, v);
		if (g->flags[v] & ASNAP_NODE_GC_TRACKED)
			s->tracked++;
		if (g->flags[v] & ASNAP_NODE_SYNTHETIC)
			s->synthetic++;
	}
	for (uint64_t e = 0; e < g->m; e++)
		if (asnap_graph_edge_is_weak(g, e))
			s->weak_edges++;
	for (uint64_t i = 0; i < g->nrecords; i++)
		kinds[g->records[i].kind]++;
	s->objects = g->n;
	s->edges = g->m;
	for (uint32_t id = 0; id < nstr; id++) {
		if (by_id[id].count)
			s->ntypes++;
		if (kinds[id])
			s->nkinds++;
	}
	s->types = malloc((s->ntypes ? s->ntypes : 1) * sizeof(*s->types));
	s->kinds = malloc((s->nkinds ? s->nkinds : 1) * sizeof(*s->kinds));
	if (!s->types || !s->kinds)
		goto nomem;
	uint32_t t = 0, k = 0;
	for (uint32_t id = 0; id < nstr; id++) {
		if (by_id[id].count) {
			by_id[id].type = id;
			s->types[t++] = by_id[id];
		}
		if (kinds[id])
			s->kinds[k++] = (struct asnap_kind_count){id, kinds[id]};
	}
	asnap_stats_sort_by_bytes(s);
	if (s->nkinds > 1)
		qsort(s->kinds, s->nkinds, sizeof(*s->kinds), cmp_kind);
	free(by_id);
	free(kinds);
	return 0;
nomem:
	free(by_id);
	free(kinds);
	asnap_stats_release(s);
	return -1;
}

void asnap_stats_release(struct asnap_stats *s)
{
	asnap_free_all(s->types, s->kinds);
	*s = (struct asnap_stats){0};
}
