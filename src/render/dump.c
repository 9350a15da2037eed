/*
 * dump.c - `asyncsnap dump`: every object on a line of its own, the
 * debugging view of a snapshot (docs/DUMP.md).
 */
#include <stdlib.h>

#include "render/json.h"
#include "render/render.h"
#include "util/bigarray.h"
#include "util/order.h"

/* Roots ordered by node, so that each object finds its own. */
struct root_index {
	uint64_t *order; /* indices into g->roots */
};

static int cmp_root(const void *a, const void *b, void *graph)
{
	const struct asnap_root *r = ((const struct asnap_graph *)graph)->roots;
	uint64_t i = *(const uint64_t *)a, j = *(const uint64_t *)b;
	int c = asnap_asc_u64(r[i].node, r[j].node);
	return c ? c : asnap_asc_u64(i, j);
}

static int root_index_init(struct root_index *ri, const struct asnap_graph *g)
{
	ri->order = asnap_big_alloc(g->nroots ? g->nroots : 1, sizeof(*ri->order));
	if (!ri->order)
		return -1;
	for (uint64_t i = 0; i < g->nroots; i++)
		ri->order[i] = i;
	if (g->nroots > 1)
		qsort_r(ri->order, g->nroots, sizeof(*ri->order), cmp_root, (void *)g);
	return 0;
}

/*
 * idx[0..nroots) index the roots of v in g->roots. Written as it goes, not
 * built as a cJSON tree: an object with millions of edges costs no memory
 * beyond the graph. The text is what cJSON_PrintUnformatted printed for the
 * object this used to build (tests/e2e checks it).
 */
static int render_json_node(FILE *out, const struct asnap_graph *g, uint32_t v,
			    const uint64_t *idx, uint64_t nroots)
{
	fprintf(out, "{\"id\":");
	if (asnap_json_write_number(out, v) < 0)
		return -1;
	fprintf(out, ",\"addr\":\"0x%llx\",\"type\":", (unsigned long long)g->addr[v]);
	asnap_json_write_gstring(out, g, g->type[v]);
	fputs(",\"size\":", out);
	if (asnap_json_write_number(out, (double)asnap_graph_size(g, v)) < 0)
		return -1;
	fputs(",\"refcnt\":", out);
	if (asnap_json_write_number(out, (double)g->refcnt[v]) < 0)
		return -1;
	fputs((g->flags[v] & ASNAP_NODE_GC_TRACKED) ? ",\"gc\":true" : ",\"gc\":false", out);
	if (g->flags[v] & ASNAP_NODE_SYNTHETIC)
		fputs(",\"synthetic\":true", out);
	if (g->flags[v] & ASNAP_NODE_IMMORTAL)
		fputs(",\"immortal\":true", out);
	fputs(",\"edges\":[", out);
	for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v),
		      first = e;
	     e < end; e++) {
		fprintf(out, "%s{\"to\":\"0x%llx\",\"label\":", e == first ? "" : ",",
			(unsigned long long)g->addr[g->edge_target[e]]);
		if (g->edge_label[e])
			asnap_json_write_gstring(out, g, g->edge_label[e]);
		else
			fputs("null", out);
		fputs(asnap_graph_edge_is_weak(g, e) ? ",\"weak\":true}" : "}", out);
	}
	fputc(']', out);
	if (nroots) {
		fputs(",\"roots\":[", out);
		for (uint64_t i = 0; i < nroots; i++) {
			const struct asnap_root *root = &g->roots[idx[i]];
			fputs(i ? ",{\"kind\":" : "{\"kind\":", out);
			asnap_json_write_gstring(out, g, root->kind);
			if (root->label) {
				fputs(",\"label\":", out);
				asnap_json_write_gstring(out, g, root->label);
			}
			fputc('}', out);
		}
		fputc(']', out);
	}
	/* records are small, whatever the snapshot: cJSON prints them */
	uint64_t nrec;
	const struct asnap_record *rec = asnap_graph_records(g, v, &nrec);
	for (uint64_t i = 0; i < nrec; i++) {
		cJSON *o = asnap_json_record(g, &rec[i]);
		char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
		cJSON_Delete(o);
		if (!txt)
			return -1;
		fputc(',', out);
		asnap_json_write_key(out, asnap_graph_string(g, rec[i].kind));
		fputc(':', out);
		fputs(txt, out);
		cJSON_free(txt);
	}
	fputs("}\n", out);
	return 0;
}

static void print_value(FILE *out, const struct asnap_graph *g, const struct asnap_value *val)
{
	switch (val->type) {
	case ASNAP_VAL_NONE: fputs("None", out); break;
	case ASNAP_VAL_BOOL: fputs(val->u.b ? "True" : "False", out); break;
	case ASNAP_VAL_INT: fprintf(out, "%lld", (long long)val->u.i); break;
	case ASNAP_VAL_FLOAT: fprintf(out, "%.17g", val->u.f); break;
	case ASNAP_VAL_STR: {
		cJSON *s = asnap_json_gstring(g, val->u.str);
		char *txt = s ? cJSON_PrintUnformatted(s) : NULL;
		fputs(txt ? txt : "?", out);
		cJSON_free(txt);
		cJSON_Delete(s);
		break;
	}
	case ASNAP_VAL_NODE:
		fprintf(out, "0x%llx",
			(unsigned long long)(val->u.node < g->n ? g->addr[val->u.node] : 0));
		break;
	case ASNAP_VAL_LIST:
		fputc('[', out);
		for (uint32_t i = 0; i < val->u.list.count; i++) {
			if (i)
				fputs(", ", out);
			print_value(out, g, &val->u.list.items[i]);
		}
		fputc(']', out);
		break;
	}
}

static void render_text_node(FILE *out, const struct asnap_graph *g, uint32_t v,
			     const uint64_t *idx, uint64_t nroots)
{
	fprintf(out, "0x%llx %s size=%llu refcnt=%llu", (unsigned long long)g->addr[v],
		asnap_graph_string(g, g->type[v]), (unsigned long long)asnap_graph_size(g, v),
		(unsigned long long)g->refcnt[v]);
	if (g->flags[v] & ASNAP_NODE_GC_TRACKED)
		fputs(" gc", out);
	if (g->flags[v] & ASNAP_NODE_SYNTHETIC)
		fputs(" synthetic", out);
	if (g->flags[v] & ASNAP_NODE_IMMORTAL)
		fputs(" immortal", out);
	for (uint64_t i = 0; i < nroots; i++) {
		const struct asnap_root *root = &g->roots[idx[i]];
		fprintf(out, " root=%s", asnap_graph_string(g, root->kind));
		if (root->label)
			fprintf(out, ":%s", asnap_graph_string(g, root->label));
	}
	uint64_t nrec;
	const struct asnap_record *rec = asnap_graph_records(g, v, &nrec);
	for (uint64_t i = 0; i < nrec; i++) {
		fprintf(out, " %s{", asnap_graph_string(g, rec[i].kind));
		for (uint32_t k = 0; k < rec[i].nprops; k++) {
			fprintf(out, "%s%s=", k ? " " : "", asnap_graph_string(g, rec[i].props[k].key));
			print_value(out, g, &rec[i].props[k].value);
		}
		fputc('}', out);
	}
	uint64_t first = asnap_graph_edge_begin(g, v), last = asnap_graph_edge_end(g, v);
	if (first < last)
		fputs(" ->", out);
	for (uint64_t e = first; e < last; e++) {
		fputc(' ', out);
		if (asnap_graph_edge_is_weak(g, e))
			fputs("weak:", out);
		if (g->edge_label[e])
			fprintf(out, "%s=", asnap_graph_string(g, g->edge_label[e]));
		fprintf(out, "0x%llx", (unsigned long long)g->addr[g->edge_target[e]]);
	}
	fputc('\n', out);
}

static int render(FILE *out, const struct asnap_graph *g, bool json)
{
	struct root_index ri;
	if (root_index_init(&ri, g) < 0)
		return -1;
	uint64_t r = 0;
	int rc = 0;
	for (uint32_t v = 0; v < g->n && rc == 0; v++) {
		/* the roots of v are contiguous in ri.order */
		while (r < g->nroots && g->roots[ri.order[r]].node < v)
			r++;
		uint64_t first = r;
		while (r < g->nroots && g->roots[ri.order[r]].node == v)
			r++;
		if (json)
			rc = render_json_node(out, g, v, ri.order + first, r - first);
		else
			render_text_node(out, g, v, ri.order + first, r - first);
	}
	free(ri.order);
	return rc;
}

int asnap_render_dump_text(FILE *out, const struct asnap_graph *g)
{
	return render(out, g, false);
}

int asnap_render_dump_json(FILE *out, const struct asnap_graph *g)
{
	return render(out, g, true);
}
