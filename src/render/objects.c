/*
 * objects.c - see objects.h.
 */
#include <inttypes.h>
#include <string.h>

#include "analysis/retention.h"
#include "analysis/strings.h"
#include "render/json.h"
#include "render/objects.h"

static const char *short_type(const struct asnap_snap *s, uint32_t v)
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
	uint32_t name = asnap_aio_name(&s->aio, v);
	const char *type = short_type(s, v);
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

const char *asnap_obj_root_kind(const struct asnap_snap *s, uint32_t v)
{
	if (!s->has_ret)
		return NULL;
	uint32_t idx = s->ret.root_of[v];
	if (idx == ASNAP_NO_NODE)
		return NULL;
	const struct asnap_root_ref *r = &s->ret.roots.items[idx];
	if (r->kind == ASNAP_ROOT_AGENT)
		return asnap_graph_string(s->g, r->name);
	return asnap_root_kind_name(r->kind);
}

static void add_str(cJSON *o, const char *key, const struct asnap_snap *s, uint32_t id)
{
	if (id)
		cJSON_AddItemToObject(o, key, asnap_json_gstring(s->g, id));
}

cJSON *asnap_obj_json(const struct asnap_snap *s, uint32_t v)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddItemToObject(o, "addr", asnap_json_addr(g->addr[v]));
	cJSON_AddItemToObject(o, "type", asnap_json_gstring(g, g->type[v]));
	cJSON_AddNumberToObject(o, "size", (double)asnap_graph_size(g, v));
	if (s->has_ret) {
		cJSON_AddNumberToObject(o, "retained", (double)s->ret.dom.retained[v]);
		if (asnap_dom_is_garbage(&s->ret.dom, v))
			cJSON_AddTrueToObject(o, "garbage");
	}
	const struct asnap_aio_task *t = asnap_aio_task(a, v);
	const struct asnap_aio_coro *c = asnap_aio_coro(a, v);
	const struct asnap_aio_frame *f = asnap_aio_frame(a, v);
	const struct asnap_aio_handle *h = asnap_aio_handle(a, v);
	const struct asnap_aio_future *fu = asnap_aio_future(a, v);
	char site[600];
	if (t) {
		add_str(o, "name", s, t->name);
		cJSON_AddStringToObject(o, "state", asnap_fut_state_name(t->state));
		c = asnap_aio_coro(a, asnap_aio_leaf_coro(a, t->coro, 64));
		const struct asnap_aio_coro *top = asnap_aio_coro(a, t->coro);
		if (top)
			add_str(o, "qualname", s, top->qualname);
	} else if (c) {
		add_str(o, "qualname", s, c->qualname);
		cJSON_AddStringToObject(o, "state", asnap_gen_state_name(c->state));
	} else if (f) {
		add_str(o, "qualname", s, f->qualname);
	} else if (h) {
		add_str(o, "callback", s, h->callback_name);
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
