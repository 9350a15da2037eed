/*
 * objects.c - see objects.h.
 */
#include <inttypes.h>
#include <string.h>

#include "analysis/retention.h"
#include "analysis/strings.h"
#include "render/json.h"
#include "render/objects.h"

const char *asnap_obj_type_name(const struct asnap_snap *s, uint32_t v)
{
	const char *t = asnap_graph_string(s->g, s->g->type[v]);
	return strncmp(t, "builtins.", 9) == 0 ? t + 9 : t;
}

const char *asnap_obj_module_name(const struct asnap_snap *s, uint32_t dict)
{
	return asnap_snap_module_name(s, dict);
}

const char *asnap_obj_describe(const struct asnap_snap *s, uint32_t v, char *buf, size_t len)
{
	if (!s->has_aio) {
		const char *rec = asnap_obj_record_name(s->g, v);
		if (rec)
			snprintf(buf, len, "%s %s", asnap_obj_type_name(s, v), rec);
		else
			snprintf(buf, len, "%s", asnap_obj_type_name(s, v));
		return buf;
	}
	uint32_t name = asnap_aio_name(&s->aio, v);
	const char *type = asnap_obj_type_name(s, v);
	const char *module = asnap_obj_module_name(s, v);
	if (module)
		snprintf(buf, len, "module %s", module);
	else if (!name)
		snprintf(buf, len, "%s", type);
	else if (s->aio.kind[v] == ASNAP_AIO_TASK)
		snprintf(buf, len, "%s '%s'", type, asnap_graph_string(s->g, name));
	else if (s->aio.kind[v] == ASNAP_AIO_HANDLE)
		snprintf(buf, len, "%s of %s", type, asnap_graph_string(s->g, name));
	else
		snprintf(buf, len, "%s %s", type, asnap_graph_string(s->g, name));
	return buf;
}

const char *asnap_obj_root_of(const struct asnap_retention *r, uint32_t v)
{
	uint32_t idx = asnap_retention_root_of(r, v);
	if (idx == ASNAP_NO_NODE)
		return NULL;
	const struct asnap_root_ref *root = &r->roots.items[idx];
	if (root->kind == ASNAP_ROOT_AGENT)
		return asnap_graph_string(r->g, root->name);
	return asnap_root_kind_name(root->kind);
}

const char *asnap_obj_root_kind(const struct asnap_snap *s, uint32_t v)
{
	return s->has_ret ? asnap_obj_root_of(&s->ret, v) : NULL;
}

const char *asnap_obj_record_name(const struct asnap_graph *g, uint32_t v)
{
	uint64_t count;
	const struct asnap_record *rec = asnap_graph_records(g, v, &count);
	for (uint64_t i = 0; i < count; i++) {
		for (uint32_t p = 0; p < rec[i].nprops; p++) {
			const char *key = asnap_graph_string(g, rec[i].props[p].key);
			const struct asnap_value *val = &rec[i].props[p].value;
			if (val->type == ASNAP_VAL_STR && val->u.str &&
			    (!strcmp(key, "name") || !strcmp(key, "qualname")))
				return asnap_graph_string(g, val->u.str);
		}
	}
	return NULL;
}

cJSON *asnap_obj_json_core(const struct asnap_graph *g, const struct asnap_retention *r,
			   uint32_t v)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddItemToObject(o, "addr", asnap_json_addr(g->addr[v]));
	cJSON_AddItemToObject(o, "type", asnap_json_gstring(g, g->type[v]));
	cJSON_AddNumberToObject(o, "size", (double)asnap_graph_size(g, v));
	const char *name = asnap_obj_record_name(g, v);
	if (name)
		cJSON_AddItemToObject(o, "name", asnap_json_string(name, strlen(name)));
	if (!r)
		return o;
	cJSON_AddNumberToObject(o, "retained", (double)asnap_dom_retained(&r->dom, v));
	cJSON_AddBoolToObject(o, "garbage", asnap_dom_is_garbage(&r->dom, v));
	const char *root = asnap_obj_root_of(r, v);
	if (root)
		cJSON_AddItemToObject(o, "root", asnap_json_string(root, strlen(root)));
	else
		cJSON_AddNullToObject(o, "root");
	uint32_t d = r->dom.idom[v];
	if (d == g->n)
		cJSON_AddNullToObject(o, "idom");
	else
		cJSON_AddItemToObject(o, "idom", asnap_json_addr(g->addr[d]));
	return o;
}

/* key = a string of the snapshot's, replacing what the core put there. */
static void set_str(cJSON *o, const char *key, const struct asnap_snap *s, uint32_t id)
{
	if (!id)
		return;
	cJSON *item = asnap_json_gstring(s->g, id);
	if (!item)
		return;
	if (cJSON_GetObjectItemCaseSensitive(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, item);
	else
		cJSON_AddItemToObject(o, key, item);
}

cJSON *asnap_obj_json(const struct asnap_snap *s, uint32_t v)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	cJSON *o = asnap_obj_json_core(g, s->has_ret ? &s->ret : NULL, v);
	if (!o || !s->has_aio)
		return o;
	const struct asnap_aio_task *t = asnap_aio_task(a, v);
	const struct asnap_aio_coro *c = asnap_aio_coro(a, v);
	const struct asnap_aio_frame *f = asnap_aio_frame(a, v);
	const struct asnap_aio_handle *h = asnap_aio_handle(a, v);
	const struct asnap_aio_future *fu = asnap_aio_future(a, v);
	char site[600];
	if (t) {
		set_str(o, "name", s, t->name);
		cJSON_AddStringToObject(o, "state", asnap_fut_state_name(t->state));
		c = asnap_aio_coro(a, asnap_aio_leaf_coro(a, t->coro, 64));
		const struct asnap_aio_coro *top = asnap_aio_coro(a, t->coro);
		if (top)
			set_str(o, "qualname", s, top->qualname);
	} else if (c) {
		set_str(o, "qualname", s, c->qualname);
		cJSON_AddStringToObject(o, "state", asnap_gen_state_name(c->state));
	} else if (f) {
		set_str(o, "qualname", s, f->qualname);
	} else if (h) {
		set_str(o, "callback", s, h->callback_name);
		cJSON_AddBoolToObject(o, "cancelled", h->cancelled);
		if (h->timer)
			cJSON_AddNumberToObject(o, "when", h->when);
	} else if (fu) {
		cJSON_AddStringToObject(o, "state", asnap_fut_state_name(fu->state));
	}
	uint32_t file = c ? c->file : f ? f->file : 0;
	if (file) {
		snprintf(site, sizeof(site), "%s:%" PRId64, asnap_graph_string(g, file),
			 c ? c->line : f->line);
		cJSON_AddStringToObject(o, "site", site);
	}
	return o;
}

static void label_of(const struct asnap_graph *g, uint32_t from, uint32_t to, char *buf, size_t len)
{
	uint64_t e = asnap_graph_edge_between(g, from, to);
	if (e != UINT64_MAX && g->edge_label[e])
		snprintf(buf, len, " -[%s]-> ", asnap_graph_string(g, g->edge_label[e]));
	else
		snprintf(buf, len, " -> ");
}

void asnap_obj_chain_text(FILE *out, const struct asnap_snap *s, const uint32_t *nodes,
			  uint32_t len, bool closed, const char *indent)
{
	char what[300], lab[300];
	fputs(indent, out);
	for (uint32_t i = 0; i < len; i++) {
		fputs(asnap_obj_describe(s, nodes[i], what, sizeof(what)), out);
		if (i + 1 < len || closed) {
			label_of(s->g, nodes[i], nodes[(i + 1) % len], lab, sizeof(lab));
			fputs(lab, out);
		}
	}
	if (closed && len)
		fputs(asnap_obj_describe(s, nodes[0], what, sizeof(what)), out);
	fputc('\n', out);
}

cJSON *asnap_obj_chain_json(const struct asnap_snap *s, const uint32_t *nodes, uint32_t len,
			    bool closed)
{
	const struct asnap_graph *g = s->g;
	cJSON *arr = cJSON_CreateArray();
	for (uint32_t i = 0; arr && i < len; i++) {
		cJSON *o = asnap_obj_json(s, nodes[i]);
		if (!o)
			break;
		uint32_t prev = i ? nodes[i - 1] : closed ? nodes[len - 1] : ASNAP_NO_NODE;
		uint64_t e = prev == ASNAP_NO_NODE ? UINT64_MAX : asnap_graph_edge_between(g, prev, nodes[i]);
		if (e != UINT64_MAX && g->edge_label[e])
			cJSON_AddItemToObject(o, "label", asnap_json_gstring(g, g->edge_label[e]));
		else
			cJSON_AddNullToObject(o, "label");
		if (i == 0 && !closed) {
			const char *root = asnap_obj_root_kind(s, nodes[i]);
			if (root)
				cJSON_AddStringToObject(o, "root", root);
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}
