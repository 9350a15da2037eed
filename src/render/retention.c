/*
 * retention.c - render `dominators`, `cycles` and `path` (see retention.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render/json.h"
#include "render/objects.h"
#include "render/retention.h"
#include "render/text.h"
#include "util/bigarray.h"

bool asnap_type_matches(const char *full, const char *type)
{
	if (strcmp(full, type) == 0)
		return true;
	const char *dot = strrchr(full, '.');
	return dot && strcmp(dot + 1, type) == 0;
}

/* A type as people say it: builtins are known by their bare name. */
static const char *short_type(const struct asnap_graph *g, uint32_t v)
{
	const char *t = asnap_graph_string(g, g->type[v]);
	return strncmp(t, "builtins.", 9) == 0 ? t + 9 : t;
}

/* "coroutine fetch", "Task 'watch-3'", "list" */
static void describe(const struct asnap_graph *g, uint32_t v, char *buf, size_t len)
{
	const char *name = asnap_obj_record_name(g, v);
	const char *type = short_type(g, v);
	if (!name)
		snprintf(buf, len, "%s", type);
	else if (asnap_type_is_task(asnap_graph_string(g, g->type[v])))
		snprintf(buf, len, "%s '%s'", type, name);
	else
		snprintf(buf, len, "%s %s", type, name);
}

static void describe_root(const struct asnap_retention *r, uint32_t idx, char *buf, size_t len)
{
	const struct asnap_graph *g = r->g;
	const struct asnap_root_ref *root = &r->roots.items[idx];
	switch (root->kind) {
	case ASNAP_ROOT_AGENT:
		snprintf(buf, len, "%s%s%s", asnap_graph_string(g, root->name), root->label ? " " : "",
			 asnap_graph_string(g, root->label));
		break;
	case ASNAP_ROOT_MODULE:
		snprintf(buf, len, "dict of module 0x%" PRIx64, g->addr[root->name]);
		break;
	case ASNAP_ROOT_EXTERNAL:
		snprintf(buf, len, "held from outside the snapshot (refcount %" PRIu64 ")",
			 (uint64_t)g->refcnt[root->node]);
		break;
	default:
		snprintf(buf, len, "unreachable: garbage awaiting the cycle collector");
		break;
	}
}

/* The one object shape (render/objects.h): what the asyncio layer knows
 * of it too, when the snapshot has that layer. */
static cJSON *json_object_of(const struct asnap_snap *s, uint32_t v)
{
	return asnap_obj_json(s, v);
}

static cJSON *json_label(const struct asnap_graph *g, uint64_t e)
{
	if (e == UINT64_MAX || !g->edge_label[e])
		return cJSON_CreateNull();
	return asnap_json_gstring(g, g->edge_label[e]);
}

/* ---- dominators -------------------------------------------------------- */

/* The `want` nodes of largest retained size (of a type, if given), largest
 * first. Returns how many were found. */
static uint32_t top_retainers(const struct asnap_dominators_view *v, uint32_t *best, uint32_t want)
{
	const struct asnap_graph *g = v->s->g;
	const struct asnap_domtree *d = &v->s->ret.dom;
	uint8_t *match = NULL;
	if (v->type) {
		uint32_t nstr = asnap_reader_string_count(g->strings) + 1;
		match = calloc(nstr, 1);
		if (!match)
			return 0;
		for (uint32_t id = 1; id < nstr; id++)
			match[id] = asnap_type_matches(asnap_graph_string(g, id), v->type);
	}
	uint32_t have = 0;
	for (uint32_t x = 0; x < g->n; x++) {
		if (match && !match[g->type[x]])
			continue;
		if (have == want && asnap_dom_retained(d, x) <= asnap_dom_retained(d, best[have - 1]))
			continue;
		uint32_t i = have < want ? have++ : have - 1;
		while (i > 0 && asnap_dom_retained(d, best[i - 1]) < asnap_dom_retained(d, x)) {
			best[i] = best[i - 1];
			i--;
		}
		best[i] = x;
	}
	free(match);
	return have;
}

/*
 * The part of the dominator tree shown: kids[L] holds the children of the
 * nodes shown at level L (kids[0] those of the super-root when the tree
 * starts there), each level found in one pass over the tree.
 */
#define TREE_LEVELS 65 /* --depth is at most 64; one more under the super-root */

struct tree {
	const struct asnap_dominators_view *v;
	struct asnap_dom_kids kids[TREE_LEVELS];
	unsigned nlevels;
	unsigned first;       /* the level of the first nodes shown: 0, or 1 under the super-root */
};

static void tree_release(struct tree *t)
{
	for (unsigned i = 0; i < t->nlevels; i++)
		asnap_dom_kids_release(&t->kids[i]);
	t->nlevels = 0;
}

/* The children shown of x (at most top), *count of them, *all in all. */
static const uint32_t *tree_kids(const struct tree *t, unsigned level, uint32_t x, uint32_t *shown,
				 uint32_t *all)
{
	const uint32_t *k = level < t->nlevels ? asnap_dom_kids_of(&t->kids[level], x, all) : NULL;
	if (!k)
		*all = 0;
	*shown = *all < t->v->top ? *all : t->v->top;
	return k;
}

/*
 * The levels shown from nodes[0..n) (the super-root alone when from_root):
 * their children, then those of the children shown, down to the depth.
 */
static int tree_build(struct tree *t, const uint32_t *nodes, uint32_t n, bool from_root)
{
	const struct asnap_domtree *d = &t->v->s->ret.dom;
	struct asnap_error err = {0};
	unsigned levels = t->v->depth - 1 + (from_root ? 1 : 0); /* levels that have children shown */
	t->first = from_root ? 1 : 0;
	uint32_t *cur = asnap_big_alloc((size_t)n + 1, sizeof(*cur));
	if (!cur)
		return -1;
	memcpy(cur, nodes, (size_t)n * sizeof(*nodes));
	for (unsigned l = 0; l < levels && l < TREE_LEVELS && n; l++) {
		if (asnap_dom_kids_find(d, cur, n, &t->kids[l], &err) < 0) {
			free(cur);
			return -1;
		}
		t->nlevels = l + 1;
		uint64_t next = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t shown, all;
			tree_kids(t, l, cur[i], &shown, &all);
			next += shown;
		}
		uint32_t *more = malloc((size_t)(next + 1) * sizeof(*more));
		if (!more) {
			free(cur);
			return -1;
		}
		uint32_t m = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t shown, all;
			const uint32_t *k = tree_kids(t, l, cur[i], &shown, &all);
			for (uint32_t j = 0; j < shown; j++)
				more[m++] = k[j];
		}
		free(cur);
		cur = more;
		n = m;
	}
	free(cur);
	return 0;
}

static void text_tree(FILE *out, const struct tree *t, uint32_t x, unsigned level)
{
	const struct asnap_retention *r = &t->v->s->ret;
	const struct asnap_graph *g = r->g;
	char a[32], b[32], what[160], root[200] = "";
	describe(g, x, what, sizeof(what));
	if (r->dom.idom[x] == g->n && asnap_retention_root_of(r, x) != ASNAP_NO_NODE) {
		char why[160];
		describe_root(r, asnap_retention_root_of(r, x), why, sizeof(why));
		snprintf(root, sizeof(root), "  [root: %s]", why);
	}
	fprintf(out, "%*s%s  %s 0x%" PRIx64 " (%s)%s\n", 2 + 2 * (int)level, "",
		asnap_fmt_bytes(a, asnap_dom_retained(&r->dom, x)), what, g->addr[x],
		asnap_fmt_bytes(b, asnap_graph_size(g, x)), root);
	if (level + 1 >= t->v->depth)
		return;
	uint32_t shown, all;
	const uint32_t *k = tree_kids(t, t->first + level, x, &shown, &all);
	for (uint32_t i = 0; i < shown; i++)
		text_tree(out, t, k[i], level + 1);
	if (all > shown) {
		uint64_t rest = 0;
		for (uint32_t i = shown; i < all; i++)
			rest += asnap_dom_retained(&r->dom, k[i]);
		fprintf(out, "%*s... %u more, %s\n", 4 + 2 * (int)level, "", all - shown,
			asnap_fmt_bytes(a, rest));
	}
}

static cJSON *json_tree(const struct tree *t, uint32_t x, unsigned level)
{
	const struct asnap_retention *r = &t->v->s->ret;
	cJSON *o = json_object_of(t->v->s, x);
	if (!o || level + 1 >= t->v->depth)
		return o;
	uint32_t shown, all;
	const uint32_t *k = tree_kids(t, t->first + level, x, &shown, &all);
	cJSON *kids = cJSON_AddArrayToObject(o, "children");
	for (uint32_t i = 0; kids && i < shown; i++)
		cJSON_AddItemToArray(kids, json_tree(t, k[i], level + 1));
	uint64_t rest = 0;
	for (uint32_t i = shown; i < all; i++)
		rest += asnap_dom_retained(&r->dom, k[i]);
	cJSON *more = cJSON_AddObjectToObject(o, "more");
	if (more) {
		cJSON_AddNumberToObject(more, "objects", all - shown);
		cJSON_AddNumberToObject(more, "retained", (double)rest);
	}
	return o;
}

struct summary {
	uint32_t by_kind[4];
	uint32_t groups;
	uint64_t garbage_objects, garbage_bytes;
};

static void summarize(const struct asnap_retention *r, struct summary *s)
{
	*s = (struct summary){0};
	for (uint32_t i = 0; i < r->roots.count; i++)
		s->by_kind[r->roots.items[i].kind]++;
	s->groups = r->roots.count - r->roots.nreal;
	for (uint32_t i = r->roots.nreal; i < r->roots.count; i++)
		s->garbage_bytes += asnap_dom_retained(&r->dom, r->roots.items[i].node);
	s->garbage_objects = r->g->n - r->dom.nreached;
}

int asnap_render_dominators_text(FILE *out, const struct asnap_dominators_view *v)
{
	const struct asnap_retention *r = &v->s->ret;
	const struct asnap_graph *g = r->g;
	struct summary s;
	summarize(r, &s);
	char a[32], b[32], c[32], d[32];
	uint64_t live = asnap_dom_retained(&r->dom, g->n) - s.garbage_bytes;
	fprintf(out, "objects      %s, %s (%s reachable from the roots)\n", asnap_fmt_count(a, g->n),
		asnap_fmt_bytes(b, asnap_dom_retained(&r->dom, g->n)), asnap_fmt_bytes(c, live));
	fprintf(out, "roots        %s: %s from the agent, %s module dicts, %s held from outside\n",
		asnap_fmt_count(a, r->roots.nreal), asnap_fmt_count(b, s.by_kind[ASNAP_ROOT_AGENT]),
		asnap_fmt_count(c, s.by_kind[ASNAP_ROOT_MODULE]),
		asnap_fmt_count(d, s.by_kind[ASNAP_ROOT_EXTERNAL]));
	fprintf(out, "unreachable  %s object%s, %s in %s group%s (garbage awaiting the cycle collector)\n",
		asnap_fmt_count(a, s.garbage_objects), s.garbage_objects == 1 ? "" : "s",
		asnap_fmt_bytes(b, s.garbage_bytes), asnap_fmt_count(c, s.groups),
		s.groups == 1 ? "" : "s");

	uint32_t *best = malloc((size_t)v->top * sizeof(*best));
	struct tree t = {.v = v};
	int rc = -1;
	if (!best)
		goto out;
	uint32_t have = top_retainers(v, best, v->top);
	uint32_t super = g->n;
	if (v->depth > 0 && (v->type ? tree_build(&t, best, have, false) : tree_build(&t, &super, 1, true)) < 0)
		goto out;
	fprintf(out, "\ntop retainers%s%s\n", v->type ? " of type " : "", v->type ? v->type : "");
	struct asnap_table *tab = asnap_table_create(5, "rrllr");
	if (!tab)
		goto out;
	asnap_table_header(tab, "retained", "size", "type", "address", "dominated by");
	for (uint32_t i = 0; i < have; i++) {
		uint32_t x = best[i], dom = r->dom.idom[x];
		char what[160], addr[32], by[200];
		describe(g, x, what, sizeof(what));
		snprintf(addr, sizeof(addr), "0x%" PRIx64, g->addr[x]);
		if (dom == g->n) {
			const char *k = asnap_obj_root_of(r, x);
			snprintf(by, sizeof(by), "root (%s)", k ? k : "?");
		} else {
			snprintf(by, sizeof(by), "%s 0x%" PRIx64, short_type(g, dom), g->addr[dom]);
		}
		asnap_table_row(tab, asnap_fmt_bytes(a, asnap_dom_retained(&r->dom, x)),
				asnap_fmt_bytes(b, asnap_graph_size(g, x)), what, addr, by);
	}
	rc = asnap_table_print(tab, out, "  ");
	asnap_table_destroy(tab);
	if (rc < 0)
		goto out;
	if (v->depth > 0) {
		fprintf(out, "\ndominator tree (%u levels, %u children each)\n", v->depth, v->top);
		if (v->type) {
			for (uint32_t i = 0; i < have; i++)
				text_tree(out, &t, best[i], 0);
		} else {
			uint32_t shown, all;
			const uint32_t *k = tree_kids(&t, 0, g->n, &shown, &all);
			for (uint32_t i = 0; i < shown; i++)
				text_tree(out, &t, k[i], 0);
			if (all > shown)
				fprintf(out, "  ... %u more directly under the roots\n", all - shown);
		}
	}
	rc = 0;
out:
	free(best);
	tree_release(&t);
	return rc;
}

int asnap_render_dominators_json(FILE *out, const struct asnap_dominators_view *v)
{
	const struct asnap_retention *r = &v->s->ret;
	const struct asnap_graph *g = r->g;
	struct summary s;
	summarize(r, &s);
	uint32_t *best = malloc((size_t)v->top * sizeof(*best));
	struct tree t = {.v = v};
	cJSON *o = cJSON_CreateObject();
	int rc = -1;
	if (!o || !best)
		goto out;
	cJSON_AddNumberToObject(o, "objects", g->n);
	cJSON_AddNumberToObject(o, "bytes", (double)asnap_dom_retained(&r->dom, g->n));
	cJSON *roots = cJSON_AddObjectToObject(o, "roots");
	if (roots) {
		cJSON_AddNumberToObject(roots, "count", r->roots.nreal);
		cJSON_AddNumberToObject(roots, "agent", s.by_kind[ASNAP_ROOT_AGENT]);
		cJSON_AddNumberToObject(roots, "module", s.by_kind[ASNAP_ROOT_MODULE]);
		cJSON_AddNumberToObject(roots, "external", s.by_kind[ASNAP_ROOT_EXTERNAL]);
	}
	cJSON *un = cJSON_AddObjectToObject(o, "unreachable");
	if (un) {
		cJSON_AddNumberToObject(un, "groups", s.groups);
		cJSON_AddNumberToObject(un, "objects", (double)s.garbage_objects);
		cJSON_AddNumberToObject(un, "bytes", (double)s.garbage_bytes);
	}
	if (v->type)
		cJSON_AddStringToObject(o, "type", v->type);
	uint32_t have = top_retainers(v, best, v->top);
	uint32_t super = g->n;
	if (v->depth > 0 && (v->type ? tree_build(&t, best, have, false) : tree_build(&t, &super, 1, true)) < 0)
		goto out;
	cJSON *top = cJSON_AddArrayToObject(o, "top");
	for (uint32_t i = 0; top && i < have; i++)
		cJSON_AddItemToArray(top, json_object_of(v->s, best[i]));
	cJSON *tree = cJSON_AddArrayToObject(o, "tree");
	if (tree && v->depth > 0) {
		if (v->type) {
			for (uint32_t i = 0; i < have; i++)
				cJSON_AddItemToArray(tree, json_tree(&t, best[i], 0));
		} else {
			uint32_t shown, all;
			const uint32_t *k = tree_kids(&t, 0, g->n, &shown, &all);
			for (uint32_t i = 0; i < shown; i++)
				cJSON_AddItemToArray(tree, json_tree(&t, k[i], 0));
		}
	}
	rc = asnap_json_print(out, o);
out:
	cJSON_Delete(o);
	free(best);
	tree_release(&t);
	return rc;
}

/* ---- cycles ------------------------------------------------------------ */

/* "A -[label]-> B -> C -[label]-> A" */
static void text_chain(FILE *out, const struct asnap_graph *g, const uint32_t *nodes, uint32_t len,
		       bool closed)
{
	char what[160];
	for (uint32_t i = 0; i < len; i++) {
		describe(g, nodes[i], what, sizeof(what));
		fputs(what, out);
		if (i + 1 == len && !closed)
			break;
		uint32_t next = nodes[(i + 1) % len];
		uint64_t e = asnap_graph_edge_between(g, nodes[i], next);
		if (e != UINT64_MAX && g->edge_label[e])
			fprintf(out, " -[%s]-> ", asnap_graph_string(g, g->edge_label[e]));
		else
			fputs(" -> ", out);
	}
	if (closed) {
		describe(g, nodes[0], what, sizeof(what));
		fputs(what, out);
	}
	fputc('\n', out);
}

int asnap_render_cycles_text(FILE *out, const struct asnap_cycles_view *v)
{
	const struct asnap_graph *g = v->s->g;
	char a[32], b[32];
	uint64_t total = 0;
	for (uint32_t i = 0; i < v->count; i++)
		total += v->cycles[i].count;
	if (!v->count)
		fputs("no reference cycles through coroutines, generators, frames or tracebacks\n", out);
	else
		fprintf(out,
			"%" PRIu64 " reference cycle%s through coroutines, generators, frames or "
			"tracebacks, of %u shape%s\n",
			total, total == 1 ? "" : "s", v->count, v->count == 1 ? "" : "s");
	for (uint32_t i = 0; i < v->count; i++) {
		const struct asnap_cycle *c = &v->cycles[i];
		fprintf(out, "\ncycle %u: ", i + 1);
		if (c->whole && c->count == 1)
			fprintf(out, "%u objects, %s retained (%s shallow)", c->objects,
				asnap_fmt_bytes(a, c->retained), asnap_fmt_bytes(b, c->bytes));
		else if (c->whole)
			fprintf(out, "%u cycles of this shape, in %u components of %u objects in all, "
				"%s retained (%s shallow)", c->count, c->components, c->objects,
				asnap_fmt_bytes(a, c->retained), asnap_fmt_bytes(b, c->bytes));
		else
			fprintf(out, "%u cycle%s of this shape, in a component of %u objects; %s "
				"retained by their objects", c->count, c->count == 1 ? "" : "s",
				c->objects, asnap_fmt_bytes(a, c->retained));
		fputs(c->garbage ? ", unreachable: garbage awaiting the cycle collector\n" : "\n", out);
		fputs("  ", out);
		text_chain(out, g, c->nodes, c->len, true);
		fputs("  at", out);
		for (uint32_t k = 0; k < c->len; k++)
			fprintf(out, " 0x%" PRIx64, g->addr[c->nodes[k]]);
		fputc('\n', out);
	}
	if (v->stats && v->stats->unexamined)
		fprintf(out, "\n(search budget spent: %u objects of large components not examined)\n",
			v->stats->unexamined);
	return 0;
}

int asnap_render_cycles_json(FILE *out, const struct asnap_cycles_view *v)
{
	const struct asnap_graph *g = v->s->g;
	cJSON *list, *o = asnap_json_with_list("cycles", &list);
	if (!o)
		return -1;
	for (uint32_t i = 0; i < v->count; i++) {
		const struct asnap_cycle *c = &v->cycles[i];
		cJSON *cy = cJSON_CreateObject();
		if (!cy)
			break;
		cJSON_AddItemToArray(list, cy);
		cJSON *nodes = cJSON_AddArrayToObject(cy, "nodes");
		cJSON *labels = cJSON_AddArrayToObject(cy, "labels");
		for (uint32_t k = 0; nodes && labels && k < c->len; k++) {
			uint32_t next = c->nodes[(k + 1) % c->len];
			cJSON_AddItemToArray(nodes, json_object_of(v->s, c->nodes[k]));
			cJSON_AddItemToArray(labels, json_label(g, asnap_graph_edge_between(
									   g, c->nodes[k], next)));
		}
		cJSON_AddNumberToObject(cy, "count", c->count);
		cJSON_AddNumberToObject(cy, "components", c->components);
		cJSON_AddBoolToObject(cy, "whole", c->whole);
		cJSON_AddNumberToObject(cy, "size", c->objects);
		cJSON_AddNumberToObject(cy, "bytes", (double)c->bytes);
		cJSON_AddNumberToObject(cy, "retained", (double)c->retained);
		cJSON_AddBoolToObject(cy, "garbage", c->garbage);
	}
	if (v->stats)
		cJSON_AddNumberToObject(o, "unexamined", v->stats->unexamined);
	int rc = asnap_json_print(out, o);
	cJSON_Delete(o);
	return rc;
}

/* ---- path -------------------------------------------------------------- */

int asnap_render_path_text(FILE *out, const struct asnap_path_view *v)
{
	const struct asnap_retention *r = &v->s->ret;
	const struct asnap_graph *g = r->g;
	char a[32], b[32], what[160], why[200];
	uint32_t t = v->target;
	describe(g, t, what, sizeof(what));
	fprintf(out, "%s 0x%" PRIx64 " (%s, retains %s)\n", what, g->addr[t],
		asnap_fmt_bytes(a, asnap_graph_size(g, t)),
		asnap_fmt_bytes(b, asnap_dom_retained(&r->dom, t)));
	if (!v->len) {
		fputs("no root reaches it\n", out);
		return 0;
	}
	describe_root(r, asnap_retention_root_of(r, v->nodes[0]), why, sizeof(why));
	if (asnap_dom_is_garbage(&r->dom, t))
		fputs("unreachable from every root: garbage awaiting the cycle collector; "
		      "the chain from the head of its group:\n", out);
	else
		fprintf(out, "reached from a root by %u reference%s:\n", v->len - 1,
			v->len == 2 ? "" : "s");
	fprintf(out, "  root: %s\n", why);
	for (uint32_t i = 0; i < v->len; i++) {
		uint32_t x = v->nodes[i];
		describe(g, x, what, sizeof(what));
		if (i == 0) {
			fprintf(out, "  %s 0x%" PRIx64 "\n", what, g->addr[x]);
			continue;
		}
		uint64_t e = asnap_graph_edge_between(g, v->nodes[i - 1], x);
		if (e != UINT64_MAX && g->edge_label[e])
			fprintf(out, "    -[%s]-> %s 0x%" PRIx64 "\n",
				asnap_graph_string(g, g->edge_label[e]), what, g->addr[x]);
		else
			fprintf(out, "    -> %s 0x%" PRIx64 "\n", what, g->addr[x]);
	}
	return 0;
}

int asnap_render_path_json(FILE *out, const struct asnap_path_view *v)
{
	const struct asnap_retention *r = &v->s->ret;
	const struct asnap_graph *g = r->g;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -1;
	cJSON_AddItemToObject(o, "target", json_object_of(v->s, v->target));
	cJSON_AddBoolToObject(o, "garbage", asnap_dom_is_garbage(&r->dom, v->target));
	if (v->len) {
		uint32_t idx = asnap_retention_root_of(r, v->nodes[0]);
		char why[200];
		describe_root(r, idx, why, sizeof(why));
		cJSON *root = cJSON_AddObjectToObject(o, "root");
		if (root) {
			const char *k = asnap_obj_root_of(r, v->nodes[0]);
			cJSON_AddStringToObject(root, "kind", k ? k : "?");
			cJSON_AddItemToObject(root, "description", asnap_json_string(why, strlen(why)));
			cJSON_AddItemToObject(root, "addr", asnap_json_addr(g->addr[v->nodes[0]]));
		}
	} else {
		cJSON_AddNullToObject(o, "root");
	}
	cJSON *steps = cJSON_AddArrayToObject(o, "path");
	for (uint32_t i = 0; steps && i < v->len; i++) {
		cJSON *s = json_object_of(v->s, v->nodes[i]);
		if (!s)
			break;
		if (i == 0)
			cJSON_AddNullToObject(s, "label");
		else
			cJSON_AddItemToObject(s, "label",
					      json_label(g, asnap_graph_edge_between(g, v->nodes[i - 1],
										     v->nodes[i])));
		cJSON_AddItemToArray(steps, s);
	}
	int rc = asnap_json_print(out, o);
	cJSON_Delete(o);
	return rc;
}

/* ---- shared with the other renderers of retention (dot.c, collapsed.c) -- */

const char *asnap_render_node_name(const struct asnap_graph *g, uint32_t v)
{
	return asnap_obj_record_name(g, v);
}

void asnap_render_node_describe(const struct asnap_graph *g, uint32_t v, char *buf, size_t len)
{
	describe(g, v, buf, len);
}

void asnap_render_root_describe(const struct asnap_retention *r, uint32_t idx, char *buf,
				size_t len)
{
	describe_root(r, idx, buf, len);
}

const char *asnap_render_root_kind(const struct asnap_retention *r, uint32_t v)
{
	return asnap_obj_root_of(r, v);
}
