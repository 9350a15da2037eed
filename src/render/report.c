/*
 * report.c - the data of `asyncsnap report` and the page around it (see
 * report.h and docs/REPORT.md).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "render/json.h"
#include "render/leaks.h"
#include "render/objects.h"
#include "render/report.h"
#include "render/report/assets.h"
#include "render/retention.h"
#include "util/bigarray.h"
#include "util/freeall.h"

/* ---- sections other commands already print as JSON ------------------- */

/*
 * The findings, the tasks and the cycles come from the --json renderers of
 * `leaks`, `tasks` and `cycles`, so that the page shows exactly what those
 * document: the renderer writes into memory and the text is parsed back.
 */
struct capture {
	char *buf;
	size_t len;
	FILE *fp;
};

static FILE *capture_open(struct capture *c)
{
	*c = (struct capture){0};
	c->fp = open_memstream(&c->buf, &c->len);
	return c->fp;
}

/* rc: what the renderer returned. The parsed JSON, or NULL. */
static cJSON *capture_close(struct capture *c, int rc)
{
	cJSON *j = NULL;
	if (fclose(c->fp) == 0 && rc == 0 && c->buf)
		j = cJSON_ParseWithLength(c->buf, c->len);
	free(c->buf);
	return j;
}

/* Keep the first `keep` items of arr. */
static void trim_array(cJSON *arr, uint32_t keep)
{
	if (!cJSON_IsArray(arr) || keep > INT32_MAX)
		return;
	cJSON *it = cJSON_GetArrayItem(arr, (int)keep);
	while (it) {
		cJSON *next = it->next;
		cJSON_Delete(cJSON_DetachItemViaPointer(arr, it));
		it = next;
	}
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static cJSON *leaks_json(const struct asnap_report_view *v)
{
	struct capture c;
	if (!capture_open(&c))
		return NULL;
	struct asnap_leaks_view view = {.snaps = v->snaps, .nsnap = v->nsnap, .findings = v->findings};
	cJSON *j = capture_close(&c, asnap_render_leaks_json(c.fp, &view));
	cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "findings");
	cJSON *f;
	cJSON_ArrayForEach(f, list)
		trim_array(cJSON_GetObjectItemCaseSensitive(f, "objects"), v->limits.objects);
	return j;
}

static cJSON *tasks_json(const struct asnap_report_view *v)
{
	const struct asnap_snap *last = v->snaps[v->nsnap - 1];
	struct capture c;
	if (!capture_open(&c))
		return NULL;
	struct asnap_tasks_render view = {
		.s = last,
		.tasks = v->tasks,
		.count = min_u32(v->ntasks, v->limits.tasks),
	};
	cJSON *j = capture_close(&c, asnap_render_tasks_json(c.fp, &view));
	if (!j)
		return NULL;
	/* the counts are of every task, not only of those listed */
	uint32_t pending = 0, orphaned = 0;
	for (uint32_t i = 0; i < v->ntasks; i++) {
		pending += v->tasks[i].state == ASNAP_FUT_PENDING;
		orphaned += v->tasks[i].orphaned;
	}
	cJSON_AddNumberToObject(j, "total", v->ntasks);
	cJSON_AddNumberToObject(j, "pending", pending);
	cJSON_AddNumberToObject(j, "orphaned", orphaned);
	cJSON_AddNumberToObject(j, "done", v->ntasks - pending);
	return j;
}

static cJSON *cycles_json(const struct asnap_report_view *v)
{
	const struct asnap_snap *last = v->snaps[v->nsnap - 1];
	struct capture c;
	if (!capture_open(&c))
		return NULL;
	struct asnap_cycles_view view = {
		.s = last,
		.cycles = v->cycles,
		.count = min_u32(v->ncycles, v->limits.cycles),
		.stats = v->cycle_stats,
	};
	cJSON *j = capture_close(&c, asnap_render_cycles_json(c.fp, &view));
	if (!j)
		return NULL;
	cJSON *cy;
	uint32_t i = 0;
	double total = 0;
	for (uint32_t k = 0; k < v->ncycles; k++)
		total += v->cycles[k].count;
	cJSON_ArrayForEach(cy, cJSON_GetObjectItemCaseSensitive(j, "cycles")) {
		cJSON_AddNumberToObject(cy, "len", v->cycles[i].len);
		trim_array(cJSON_GetObjectItemCaseSensitive(cy, "nodes"), v->limits.cycle_len);
		trim_array(cJSON_GetObjectItemCaseSensitive(cy, "labels"), v->limits.cycle_len);
		i++;
	}
	cJSON_AddNumberToObject(j, "shapes", v->ncycles);
	cJSON_AddNumberToObject(j, "total", total);
	return j;
}

/* ---- the top of the dominator tree ----------------------------------- */

/* uint32 -> uint32, open addressing; keys are stored + 1 (0: empty). */
struct u32map {
	uint32_t *key, *val;
	uint32_t mask;
};

static int map_init(struct u32map *m, uint32_t entries)
{
	uint32_t cap = 16;
	while (cap < 2 * (uint64_t)entries)
		cap *= 2;
	m->key = calloc(cap, sizeof(*m->key));
	m->val = malloc(cap * sizeof(*m->val));
	m->mask = cap - 1;
	return m->key && m->val ? 0 : -1;
}

static void map_release(struct u32map *m)
{
	asnap_free_all(m->key, m->val);
}

static uint32_t *map_slot(const struct u32map *m, uint32_t key)
{
	uint32_t h = (key * 2654435761u) & m->mask;
	while (m->key[h] && m->key[h] != key + 1)
		h = (h + 1) & m->mask;
	return &m->key[h];
}

static void map_put(struct u32map *m, uint32_t key, uint32_t val)
{
	uint32_t *slot = map_slot(m, key);
	*slot = key + 1;
	m->val[slot - m->key] = val;
}

static uint32_t map_get(const struct u32map *m, uint32_t key)
{
	uint32_t *slot = map_slot(m, key);
	return *slot ? m->val[slot - m->key] : UINT32_MAX;
}

/* A candidate: child[pos] of the tree node at index `parent` of the picked. */
struct cand {
	uint64_t retained;
	uint32_t node, parent, pos;
};

static bool cand_before(const struct cand *a, const struct cand *b)
{
	return a->retained != b->retained ? a->retained > b->retained : a->pos < b->pos;
}

static void heap_push(struct cand *h, uint32_t *n, struct cand c)
{
	uint32_t i = (*n)++;
	while (i && cand_before(&c, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = c;
}

static struct cand heap_pop(struct cand *h, uint32_t *n)
{
	struct cand top = h[0], last = h[--*n];
	uint32_t i = 0;
	for (;;) {
		uint32_t k = 2 * i + 1;
		if (k >= *n)
			break;
		if (k + 1 < *n && cand_before(&h[k + 1], &h[k]))
			k++;
		if (!cand_before(&h[k], &last))
			break;
		h[i] = h[k];
		i = k;
	}
	if (*n)
		h[i] = last;
	return top;
}

/* The picked part of the tree, in the order picked (a parent before its
 * children), then one "others" entry per node whose children are not all
 * picked. */
struct tree {
	uint32_t *node;            /* graph node; n: the super-root; ASNAP_NO_NODE: others */
	uint32_t *parent;          /* index; UINT32_MAX for the super-root */
	uint64_t *retained;
	uint32_t *objects;         /* objects in its subtree (others: in theirs) */
	uint32_t *others;          /* others: how many children they stand for */
	uint32_t *label;           /* string id of the reference from the parent, 0 if none */
	uint32_t *shown;           /* children picked */
	uint64_t *shown_retained;
	uint32_t *shown_objects;
	uint32_t len;
};

static void tree_release(struct tree *t)
{
	asnap_free_all(t->node, t->parent, t->retained, t->objects, t->others, t->label, t->shown,
		       t->shown_retained, t->shown_objects);
}

static int tree_alloc(struct tree *t, uint32_t cap)
{
	*t = (struct tree){0};
	t->node = malloc(cap * sizeof(*t->node));
	t->parent = malloc(cap * sizeof(*t->parent));
	t->retained = malloc(cap * sizeof(*t->retained));
	t->objects = malloc(cap * sizeof(*t->objects));
	t->others = calloc(cap, sizeof(*t->others));
	t->label = calloc(cap, sizeof(*t->label));
	t->shown = calloc(cap, sizeof(*t->shown));
	t->shown_retained = calloc(cap, sizeof(*t->shown_retained));
	t->shown_objects = calloc(cap, sizeof(*t->shown_objects));
	return t->node && t->parent && t->retained && t->objects && t->others && t->label &&
			       t->shown && t->shown_retained && t->shown_objects
		       ? 0
		       : -1;
}

/*
 * Pick the `budget` objects of largest retained size whose dominators are
 * all picked (a lazy merge of the children lists, largest first, from the
 * super-root), and sum up the rest of each picked node's children.
 */
static int tree_pick(const struct asnap_snap *s, uint32_t budget, struct tree *t,
		     struct asnap_error *err)
{
	const struct asnap_domtree *d = &s->ret.dom;
	const struct asnap_graph *g = s->g;
	uint32_t n = g->n;
	uint32_t *start = NULL, *child = NULL, *count = NULL;
	struct cand *heap = NULL;
	struct u32map map = {0};
	int rc = -1;
	if (budget > n)
		budget = n;
	if (asnap_dom_children(d, &start, &child, err) < 0)
		return -1;
	count = asnap_big_alloc((size_t)n + 1, sizeof(*count));
	uint32_t *order = asnap_big_alloc((size_t)n + 1, sizeof(*order));
	heap = malloc(((size_t)budget + 2) * sizeof(*heap));
	if (!count || !order || !heap || tree_alloc(t, 2 * budget + 2) < 0 ||
	    map_init(&map, budget + 1) < 0) {
		free(order);
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory building the report");
		goto out;
	}

	/* objects per subtree: breadth first from the super-root puts every
	 * parent before its children; sum them up in reverse */
	uint32_t len = 0;
	order[len++] = n;
	for (uint32_t i = 0; i < len; i++)
		for (uint32_t k = start[order[i]]; k < start[order[i] + 1]; k++)
			order[len++] = child[k];
	for (uint32_t i = 0; i <= n; i++)
		count[i] = 1;
	for (uint32_t i = len; i-- > 1;)
		count[d->idom[order[i]]] += count[order[i]];
	free(order);

	t->node[0] = n;
	t->parent[0] = UINT32_MAX;
	t->retained[0] = asnap_dom_retained(d, n);
	t->objects[0] = count[n] - 1; /* the super-root is no object */
	t->len = 1;
	uint32_t nheap = 0;
	if (start[n] < start[n + 1])
		heap_push(heap, &nheap, (struct cand){asnap_dom_retained(d, child[start[n]]),
						      child[start[n]], 0, start[n]});
	while (nheap && t->len < budget + 1) {
		struct cand c = heap_pop(heap, &nheap);
		uint32_t i = t->len++;
		t->node[i] = c.node;
		t->parent[i] = c.parent;
		t->retained[i] = asnap_dom_retained(d, c.node);
		t->objects[i] = count[c.node];
		t->shown[c.parent]++;
		t->shown_retained[c.parent] += asnap_dom_retained(d, c.node);
		t->shown_objects[c.parent] += count[c.node];
		map_put(&map, c.node, i);
		uint32_t pnode = t->node[c.parent];
		if (c.pos + 1 < start[pnode + 1])
			heap_push(heap, &nheap, (struct cand){asnap_dom_retained(d, child[c.pos + 1]),
							      child[c.pos + 1], c.parent, c.pos + 1});
		if (start[c.node] < start[c.node + 1])
			heap_push(heap, &nheap, (struct cand){asnap_dom_retained(d, child[start[c.node]]),
							      child[start[c.node]], i, start[c.node]});
	}

	/* the reference from each picked parent to its picked children, when
	 * it refers to them directly: one pass over the parents' edges */
	for (uint32_t i = 1; i < t->len; i++) {
		if (!t->shown[i])
			continue;
		uint32_t v = t->node[i];
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t j = map_get(&map, g->edge_target[e]);
			if (j != UINT32_MAX && t->parent[j] == i && !t->label[j] && g->edge_label[e] &&
			    asnap_graph_edge_is_strong(g, e))
				t->label[j] = g->edge_label[e];
		}
	}

	/* the children not picked, summed up */
	uint32_t picked = t->len;
	for (uint32_t i = 0; i < picked; i++) {
		uint32_t v = t->node[i];
		uint32_t nchild = start[v + 1] - start[v];
		if (nchild <= t->shown[i])
			continue;
		uint64_t own = v == n ? 0 : asnap_graph_size(g, v);
		uint64_t used = own + t->shown_retained[i];
		uint32_t k = t->len++;
		t->node[k] = ASNAP_NO_NODE;
		t->parent[k] = i;
		t->retained[k] = asnap_dom_retained(d, v) > used ? asnap_dom_retained(d, v) - used : 0;
		t->objects[k] = count[v] - 1 - t->shown_objects[i];
		t->others[k] = nchild - t->shown[i];
	}
	rc = 0;
out:
	map_release(&map);
	asnap_free_all(heap, count, start, child);
	return rc;
}

static cJSON *tree_json(const struct asnap_snap *s, const struct tree *t, uint32_t budget)
{
	const struct asnap_graph *g = s->g;
	uint32_t n = g->n;
	cJSON *o = cJSON_CreateObject();
	struct u32map types = {0};
	if (!o || map_init(&types, t->len) < 0) {
		cJSON_Delete(o);
		map_release(&types);
		return NULL;
	}
	cJSON_AddNumberToObject(o, "objects", n);
	cJSON_AddNumberToObject(o, "bytes", (double)asnap_dom_retained(&s->ret.dom, n));
	cJSON_AddNumberToObject(o, "limit", budget);
	cJSON *type_names = cJSON_AddArrayToObject(o, "types");
	cJSON *parent = cJSON_AddArrayToObject(o, "parent");
	cJSON *retained = cJSON_AddArrayToObject(o, "retained");
	cJSON *size = cJSON_AddArrayToObject(o, "size");
	cJSON *objects = cJSON_AddArrayToObject(o, "objects_under");
	cJSON *type = cJSON_AddArrayToObject(o, "type");
	cJSON *name = cJSON_AddArrayToObject(o, "name");
	cJSON *addr = cJSON_AddArrayToObject(o, "addr");
	cJSON *label = cJSON_AddArrayToObject(o, "label");
	cJSON *root = cJSON_AddArrayToObject(o, "root");
	cJSON *garbage = cJSON_AddArrayToObject(o, "garbage");
	cJSON *others = cJSON_AddArrayToObject(o, "others");
	if (!type_names || !parent || !retained || !size || !objects || !type || !name || !addr ||
	    !label || !root || !garbage || !others) {
		cJSON_Delete(o);
		map_release(&types);
		return NULL;
	}
	uint32_t ntypes = 0;
	char what[300];
	for (uint32_t i = 0; i < t->len; i++) {
		uint32_t v = t->node[i];
		bool real = v < n;
		cJSON_AddItemToArray(parent, cJSON_CreateNumber(i ? (double)t->parent[i] : -1));
		cJSON_AddItemToArray(retained, cJSON_CreateNumber((double)t->retained[i]));
		cJSON_AddItemToArray(size, cJSON_CreateNumber(real ? (double)asnap_graph_size(g, v) : 0));
		cJSON_AddItemToArray(objects, cJSON_CreateNumber(t->objects[i]));
		cJSON_AddItemToArray(others, cJSON_CreateNumber(t->others[i]));
		if (!real) {
			cJSON_AddItemToArray(type, cJSON_CreateNumber(-1));
			cJSON_AddItemToArray(name, cJSON_CreateNull());
			cJSON_AddItemToArray(addr, cJSON_CreateNull());
			cJSON_AddItemToArray(label, cJSON_CreateNull());
			cJSON_AddItemToArray(root, cJSON_CreateNull());
			cJSON_AddItemToArray(garbage, cJSON_CreateNumber(0));
			continue;
		}
		uint32_t ti = map_get(&types, g->type[v]);
		if (ti == UINT32_MAX) {
			ti = ntypes++;
			map_put(&types, g->type[v], ti);
			cJSON_AddItemToArray(type_names, asnap_json_gstring(g, g->type[v]));
		}
		cJSON_AddItemToArray(type, cJSON_CreateNumber(ti));
		asnap_obj_describe(s, v, what, sizeof(what));
		cJSON_AddItemToArray(name, asnap_json_string(what, strlen(what)));
		cJSON_AddItemToArray(addr, asnap_json_addr(g->addr[v]));
		cJSON_AddItemToArray(label, t->label[i] ? asnap_json_gstring(g, t->label[i])
							: cJSON_CreateNull());
		const char *kind = t->parent[i] == 0 ? asnap_obj_root_kind(s, v) : NULL;
		cJSON_AddItemToArray(root, kind ? asnap_json_string(kind, strlen(kind))
						: cJSON_CreateNull());
		cJSON_AddItemToArray(garbage,
				     cJSON_CreateNumber(asnap_dom_is_garbage(&s->ret.dom, v) ? 1 : 0));
	}
	map_release(&types);
	return o;
}

/* ---- the rest of the data -------------------------------------------- */

static void copy_string(cJSON *to, const char *key, const cJSON *str)
{
	if (cJSON_IsString(str) && str->valuestring)
		cJSON_AddItemToObject(to, key, asnap_json_string(str->valuestring,
								 strlen(str->valuestring)));
}

static cJSON *snapshot_json(const struct asnap_snap *s)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddItemToObject(o, "path", asnap_json_string(s->path, strlen(s->path)));
	cJSON_AddNumberToObject(o, "objects", s->objects);
	cJSON_AddNumberToObject(o, "edges", (double)s->edges);
	cJSON_AddNumberToObject(o, "bytes", (double)asnap_snap_bytes(s));
	if (s->pid >= 0)
		cJSON_AddNumberToObject(o, "pid", (double)s->pid);
	cJSON_AddNumberToObject(o, "seq", (double)s->seq);
	if (s->time > 0)
		cJSON_AddNumberToObject(o, "time", s->time);
	const cJSON *h = asnap_snap_header(s);
	if (h) {
		copy_string(o, "program", cJSON_GetObjectItemCaseSensitive(h, "program"));
		copy_string(o, "producer", cJSON_GetObjectItemCaseSensitive(h, "producer"));
		const cJSON *py = cJSON_GetObjectItemCaseSensitive(h, "python");
		copy_string(o, "python", cJSON_GetObjectItemCaseSensitive(py, "version"));
		const cJSON *rss = cJSON_GetObjectItemCaseSensitive(h, "rss");
		if (cJSON_IsNumber(rss))
			cJSON_AddNumberToObject(o, "rss", rss->valuedouble);
	}
	return o;
}

/* Add item under key, or fail: NULL items (out of memory) are errors. */
static bool add(cJSON *o, const char *key, cJSON *item)
{
	if (!item)
		return false;
	cJSON_AddItemToObject(o, key, item);
	return true;
}

cJSON *asnap_report_data(const struct asnap_report_view *v, struct asnap_error *err)
{
	const struct asnap_snap *last = v->snaps[v->nsnap - 1];
	struct tree t = {0};
	cJSON *o = cJSON_CreateObject();
	if (!o)
		goto nomem;
	cJSON_AddNumberToObject(o, "version", 1);
	cJSON_AddStringToObject(o, "generator", "asyncsnap " ASNAP_VERSION_STRING);
	cJSON *snaps = cJSON_AddArrayToObject(o, "snapshots");
	for (uint32_t i = 0; snaps && i < v->nsnap; i++) {
		cJSON *s = snapshot_json(v->snaps[i]);
		if (!s)
			goto nomem;
		cJSON_AddItemToArray(snaps, s);
	}
	cJSON *checks = cJSON_AddArrayToObject(o, "checks");
	for (int c = 0; checks && c < ASNAP_NCHECKS; c++) {
		cJSON *cj = cJSON_CreateObject();
		if (!cj)
			goto nomem;
		cJSON_AddStringToObject(cj, "name", asnap_check_name(c));
		cJSON_AddStringToObject(cj, "fix", asnap_check_advice(c));
		cJSON_AddItemToArray(checks, cj);
	}
	cJSON *limits = cJSON_AddObjectToObject(o, "limits");
	if (!snaps || !checks || !limits)
		goto nomem;
	cJSON_AddNumberToObject(limits, "nodes", v->limits.nodes);
	cJSON_AddNumberToObject(limits, "tasks", v->limits.tasks);
	cJSON_AddNumberToObject(limits, "cycles", v->limits.cycles);
	cJSON_AddNumberToObject(limits, "objects", v->limits.objects);
	cJSON_AddNumberToObject(limits, "cycle_len", v->limits.cycle_len);
	if (!add(o, "leaks", leaks_json(v)) || !add(o, "tasks", tasks_json(v)) ||
	    !add(o, "cycles", cycles_json(v)))
		goto nomem;
	if (tree_pick(last, v->limits.nodes, &t, err) < 0)
		goto fail;
	if (!add(o, "tree", tree_json(last, &t, v->limits.nodes)))
		goto nomem;
	tree_release(&t);
	return o;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory building the report");
fail:
	tree_release(&t);
	cJSON_Delete(o);
	return NULL;
}

/* ---- the page -------------------------------------------------------- */

/*
 * The JSON inside <script type="application/json">: '<', '>' and '&' can
 * only occur in its strings (cJSON writes no other), where \u003c, \u003e
 * and \u0026 mean the same, so no data can end the element or open a
 * comment in it.
 */
static void write_script_json(FILE *out, const char *s)
{
	for (;;) {
		size_t n = strcspn(s, "<>&");
		fwrite(s, 1, n, out);
		s += n;
		if (!*s)
			break;
		fputs(*s == '<' ? "\\u003c" : *s == '>' ? "\\u003e" : "\\u0026", out);
		s++;
	}
}

int asnap_render_report(FILE *out, const struct asnap_report_view *v, struct asnap_error *err)
{
	cJSON *data = asnap_report_data(v, err);
	if (!data)
		return -1;
	char *text = cJSON_PrintUnformatted(data);
	cJSON_Delete(data);
	if (!text)
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory building the report");
	fwrite(asnap_report_head, 1, asnap_report_head_len, out);
	write_script_json(out, text);
	fwrite(asnap_report_tail, 1, asnap_report_tail_len, out);
	free(text);
	return 0;
}
