/*
 * heapsnapshot.c - a snapshot as a Chrome/V8 .heapsnapshot, the format
 * Chrome DevTools' Memory panel and memlab read.
 *
 * Layout (V8's HeapSnapshotJSONSerializer): a "snapshot" object with the
 * meta description of the flat arrays, then "nodes" (7 numbers a node:
 * type, name, id, self_size, edge_count, trace_node_id, detachedness),
 * "edges" (3 a reference: type, name_or_index, to_node as an index into
 * "nodes"), a node's edges following its predecessors' in order, and
 * "strings". Node 0 is a synthetic root whose edges lead to the snapshot's
 * roots (src/graph/roots.c), named by their kind. The snapshot's own string
 * ids are kept as string indices; the few strings the export adds come
 * after them.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "graph/roots.h"
#include "render/heapsnapshot.h"
#include "render/json.h"
#include "util/bigarray.h"

#define NODE_FIELDS 7

/* V8 node and edge type indices (meta node_types[0], edge_types[0]). */
enum { N_HIDDEN, N_ARRAY, N_STRING, N_OBJECT, N_CODE, N_CLOSURE, N_REGEXP, N_NUMBER,
       N_NATIVE, N_SYNTHETIC };
enum { E_CONTEXT, E_ELEMENT, E_PROPERTY, E_INTERNAL, E_HIDDEN, E_SHORTCUT, E_WEAK };

static const char meta[] =
	"{\"snapshot\":{\"meta\":{"
	"\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\","
	"\"trace_node_id\",\"detachedness\"],"
	"\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\",\"code\",\"closure\","
	"\"regexp\",\"number\",\"native\",\"synthetic\",\"concatenated string\","
	"\"sliced string\",\"symbol\",\"bigint\",\"object shape\"],"
	"\"string\",\"number\",\"number\",\"number\",\"number\",\"number\"],"
	"\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
	"\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\","
	"\"shortcut\",\"weak\"],\"string_or_number\",\"node\"],"
	"\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\","
	"\"script_id\",\"line\",\"column\"],"
	"\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],"
	"\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],"
	"\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]},";

/* The V8 node type closest to a Python type. */
static int node_type(const char *type, uint8_t flags)
{
	static const struct {
		const char *name;
		int type;
	} map[] = {
		{"builtins.str", N_STRING},          {"builtins.bytes", N_STRING},
		{"builtins.int", N_NUMBER},          {"builtins.float", N_NUMBER},
		{"builtins.bool", N_NUMBER},         {"builtins.complex", N_NUMBER},
		{"builtins.function", N_CLOSURE},    {"builtins.method", N_CLOSURE},
		{"builtins.builtin_function_or_method", N_CLOSURE},
		{"builtins.code", N_CODE},           {"re.Pattern", N_REGEXP},
		{"builtins.list", N_ARRAY},          {"builtins.tuple", N_ARRAY},
		{"builtins.dict", N_ARRAY},          {"builtins.set", N_ARRAY},
		{"builtins.frozenset", N_ARRAY},
	};
	if (flags & ASNAP_NODE_SYNTHETIC)
		return N_SYNTHETIC;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(type, map[i].name) == 0)
			return map[i].type;
	return N_OBJECT;
}

/* "[12]" -> 12; -1 if the label is not an index. */
static int64_t label_index(const char *s)
{
	if (s[0] != '[' || s[1] == ']')
		return -1;
	int64_t v = 0;
	const char *p = s + 1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > (int64_t)1 << 40)
			return -1;
	}
	return p[0] == ']' && p[1] == '\0' && p > s + 1 ? v : -1;
}

static int put_string(FILE *out, const char *s, size_t len, bool comma)
{
	cJSON *j = asnap_json_string(s, len);
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!text)
		return -1;
	fprintf(out, "%s%s", comma ? ",\n" : "\n", text);
	cJSON_free(text);
	return 0;
}

int asnap_render_heapsnapshot(FILE *out, const struct asnap_graph *g, struct asnap_error *err)
{
	struct asnap_rootset rs = {0};
	int *types = NULL;
	int rc = -1;
	if (asnap_roots_find(g, &rs, err) < 0)
		return -1;
	uint32_t nstrings = (uint32_t)asnap_reader_string_count(g->strings);
	/* added strings: the root's name, then each root kind name as needed */
	uint32_t s_root = nstrings + 1;
	uint32_t s_kind[4];
	for (uint32_t k = 0; k < 4; k++)
		s_kind[k] = nstrings + 2 + k;

	/* V8 node type per distinct type string, computed once */
	types = asnap_big_alloc((size_t)nstrings + 1, sizeof(*types));
	if (!types) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i <= nstrings; i++)
		types[i] = -1;

	fputs(meta, out);
	fprintf(out, "\"node_count\":%" PRIu64 ",\"edge_count\":%" PRIu64
		     ",\"trace_function_count\":0},\n\"nodes\":[",
		(uint64_t)g->n + 1, g->m + rs.nreal);
	/* the synthetic root, then every object (node v is at index v + 1) */
	fprintf(out, "%d,%u,1,0,%u,0,0", N_SYNTHETIC, s_root, rs.nreal);
	for (uint32_t v = 0; v < g->n; v++) {
		uint32_t t = g->type[v];
		if (t <= nstrings && types[t] < 0)
			types[t] = node_type(asnap_graph_string(g, t), 0);
		int nt = (g->flags[v] & ASNAP_NODE_SYNTHETIC) ? N_SYNTHETIC
							       : (t <= nstrings ? types[t] : N_OBJECT);
		uint64_t edges = asnap_graph_edge_end(g, v) - asnap_graph_edge_begin(g, v);
		/* ids: odd (as V8's objects), unique, and 32 bits wide, as
		 * DevTools and memlab read them: 2v + 3, v the object's number in
		 * `asyncsnap dump` (the root is 1) */
		fprintf(out, ",\n%d,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",0,0", nt, t,
			2 * (uint64_t)v + 3, asnap_graph_size(g, v), edges);
	}
	fputs("],\n\"edges\":[", out);
	bool first = true;
	for (uint32_t i = 0; i < rs.nreal; i++) {
		const struct asnap_root_ref *r = &rs.items[i];
		uint32_t name = r->kind != ASNAP_ROOT_AGENT ? s_kind[r->kind & 3]
				: r->label ? r->label : r->name ? r->name : s_kind[0];
		fprintf(out, "%s%d,%u,%" PRIu64, first ? "" : ",\n", E_SHORTCUT, name,
			((uint64_t)r->node + 1) * NODE_FIELDS);
		first = false;
	}
	for (uint32_t v = 0; v < g->n; v++) {
		uint64_t end = asnap_graph_edge_end(g, v);
		uint64_t pos = 0;
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < end; e++, pos++) {
			uint32_t label = g->edge_label[e];
			uint64_t to = ((uint64_t)g->edge_target[e] + 1) * NODE_FIELDS;
			int type;
			int64_t name;
			int64_t index = label ? label_index(asnap_graph_string(g, label)) : -1;
			if (asnap_graph_edge_is_weak(g, e)) {
				type = E_WEAK;
				name = label;
			} else if (index >= 0) {
				type = E_ELEMENT;
				name = index;
			} else if (label) {
				type = E_PROPERTY;
				name = label;
			} else {
				type = E_HIDDEN; /* unnamed: its position */
				name = (int64_t)pos;
			}
			fprintf(out, "%s%d,%" PRId64 ",%" PRIu64, first ? "" : ",\n", type, name, to);
			first = false;
		}
	}
	fputs("],\n\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],\"locations\":[],"
	      "\n\"strings\":[", out);
	static const char *added[] = {"(asyncsnap roots)", "agent root", "module", "held from outside",
				      "unreachable"};
	for (uint32_t i = 0; i <= nstrings; i++) {
		size_t len = 0;
		const char *s = i ? asnap_graph_string_len(g, i, &len) : "";
		if (put_string(out, s, len, i > 0) < 0)
			goto nomem;
	}
	for (size_t i = 0; i < sizeof(added) / sizeof(added[0]); i++)
		if (put_string(out, added[i], strlen(added[i]), true) < 0)
			goto nomem;
	fputs("]}\n", out);
	rc = 0;
	goto out;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
out:
	free(types);
	asnap_rootset_release(&rs);
	return rc;
}
