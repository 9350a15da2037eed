/*
 * diff.c - see diff.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/diff.h"
#include "analysis/strings.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"
#include "util/order.h"

#define MAX_SIG_STEPS 64

struct table_builder {
	struct asnap_strmap keys;
	struct asnap_diff_row *rows;
	uint32_t cap;
	uint32_t nsnap;
	bool failed;
};

static struct asnap_diff_row *row_for(struct table_builder *t, const char *key)
{
	if (t->failed)
		return NULL;
	uint32_t i = asnap_strmap_intern(&t->keys, key, strlen(key));
	if (i == UINT32_MAX)
		goto fail;
	uint32_t had = t->cap;
	struct asnap_diff_row *more = asnap_grow(t->rows, i, &t->cap, sizeof(*more), 64);
	if (!more)
		goto fail;
	memset(more + had, 0, (t->cap - had) * sizeof(*more));
	t->rows = more;
	struct asnap_diff_row *r = &t->rows[i];
	if (!r->count) {
		r->count = calloc(t->nsnap, sizeof(*r->count));
		r->bytes = calloc(t->nsnap, sizeof(*r->bytes));
		if (!r->count || !r->bytes)
			goto fail;
	}
	return r;
fail:
	t->failed = true;
	return NULL;
}

static int by_growth(const void *x, const void *y)
{
	const struct asnap_diff_row *a = x, *b = y;
	return asnap_order(asnap_desc_i64(a->dbytes, b->dbytes),
			   asnap_desc_i64(a->dcount, b->dcount), strcmp(a->key, b->key));
}

static void table_free(struct asnap_diff_table *t)
{
	for (uint32_t i = 0; i < t->count; i++) {
		asnap_free_all(t->rows[i].key, t->rows[i].count, t->rows[i].bytes);
	}
	free(t->rows);
	*t = (struct asnap_diff_table){0};
}

/* Move the builder's rows into a sorted table. */
static int table_finish(struct table_builder *t, struct asnap_diff_table *out)
{
	uint32_t n = t->keys.count;
	int rc = t->failed ? -1 : 0;
	for (uint32_t i = 0; i < n; i++) {
		struct asnap_diff_row *r = &t->rows[i];
		r->key = t->keys.keys[i];
		t->keys.keys[i] = NULL;
		if (r->count) {
			r->dcount = (int64_t)r->count[t->nsnap - 1] - (int64_t)r->count[0];
			r->dbytes = (int64_t)r->bytes[t->nsnap - 1] - (int64_t)r->bytes[0];
		}
	}
	t->keys.count = 0;
	asnap_strmap_finish(&t->keys);
	out->rows = t->rows;
	out->count = n;
	if (rc == 0) {
		for (uint32_t i = 0; i < n; i++)
			if (!out->rows[i].count)
				rc = -1;
	}
	if (rc < 0) {
		table_free(out);
		return -1;
	}
	if (n > 1)
		qsort(out->rows, n, sizeof(*out->rows), by_growth);
	return 0;
}

static void builder_init(struct table_builder *t, uint32_t nsnap)
{
	*t = (struct table_builder){.nsnap = nsnap};
	asnap_strmap_init(&t->keys);
}

static int types_table(struct asnap_snap **snaps, uint32_t n, struct asnap_diff_table *out)
{
	struct table_builder t;
	builder_init(&t, n);
	for (uint32_t i = 0; i < n && !t.failed; i++) {
		const struct asnap_graph *g = snaps[i]->g;
		uint32_t nstr = asnap_reader_string_count(g->strings) + 1;
		uint64_t *count = calloc(nstr, sizeof(*count)), *bytes = calloc(nstr, sizeof(*bytes));
		if (!count || !bytes) {
			t.failed = true;
		} else {
			for (uint32_t v = 0; v < g->n; v++) {
				count[g->type[v]]++;
				bytes[g->type[v]] += asnap_graph_size(g, v);
			}
			for (uint32_t id = 0; id < nstr; id++) {
				if (!count[id])
					continue;
				struct asnap_diff_row *r = row_for(&t, asnap_graph_string(g, id));
				if (!r)
					break;
				r->count[i] += count[id];
				r->bytes[i] += bytes[id];
			}
		}
		free(count);
		free(bytes);
	}
	return table_finish(&t, out);
}

static int coro_tables(struct asnap_snap **snaps, uint32_t n, struct asnap_diff *d)
{
	struct table_builder by_name, by_site, pending;
	builder_init(&by_name, n);
	builder_init(&by_site, n);
	builder_init(&pending, n);
	char key[1024];
	struct asnap_snap *last = snaps[n - 1];
	for (uint32_t i = 0; i < n; i++) {
		const struct asnap_snap *s = snaps[i];
		const struct asnap_aio *a = &s->aio;
		for (uint32_t k = 0; k < a->ncoros; k++) {
			const struct asnap_aio_coro *c = &a->coros[k];
			const char *q = c->qualname ? asnap_graph_string(s->g, c->qualname) : "?";
			struct asnap_diff_row *r = row_for(&by_name, q);
			if (r) {
				r->count[i]++;
				r->bytes[i] += asnap_graph_size(s->g, c->node);
			}
			if (c->state != ASNAP_GEN_SUSPENDED)
				continue;
			snprintf(key, sizeof(key), "%s (%s:%lld)", q, asnap_graph_string(s->g, c->file),
				 (long long)c->line);
			if ((r = row_for(&by_site, key))) {
				r->count[i]++;
				r->bytes[i] += asnap_graph_size(s->g, c->node);
			}
		}
		for (uint32_t k = 0; k < a->ntasks; k++) {
			const struct asnap_aio_task *t = &a->tasks[k];
			if (t->state != ASNAP_FUT_PENDING)
				continue;
			const struct asnap_aio_coro *c = asnap_aio_coro(a, t->coro);
			const char *q = c && c->qualname ? asnap_graph_string(s->g, c->qualname) : "?";
			bool all = d->same_process;
			if (i + 1 == n) {
				for (uint32_t j = 0; j + 1 < n && all; j++)
					all = asnap_snap_match(last, t->node, snaps[j]) != ASNAP_NO_NODE;
			}
			struct asnap_diff_row *r = row_for(&pending, q);
			if (r) {
				r->count[i]++;
				r->bytes[i] += asnap_graph_size(s->g, t->node);
				if (i + 1 == n && all)
					r->persistent++;
			}
		}
	}
	int rc = 0;
	rc |= table_finish(&by_name, &d->coros);
	rc |= table_finish(&by_site, &d->sites);
	rc |= table_finish(&pending, &d->pending);
	return rc ? -1 : 0;
}

/* Digits in a label become '#', so that "[12]" and "[13]" are one step. */
static uint64_t label_hash(const struct asnap_graph *g, uint32_t label)
{
	size_t len;
	const char *s = asnap_graph_string_len(g, label, &len);
	uint64_t h = 1469598103934665603ull;
	bool digits = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isdigit(c)) {
			if (digits)
				continue;
			digits = true;
			c = '#';
		} else {
			digits = false;
		}
		h = (h ^ c) * 1099511628211ull;
	}
	return h;
}

#define MAX_CHAINS 20

static int by_bytes(const void *x, const void *y)
{
	const struct asnap_diff_cluster *a = x, *b = y;
	return asnap_order(asnap_desc_u64(a->bytes, b->bytes),
			   asnap_desc_u64(a->objects, b->objects), asnap_asc_u64(a->rep, b->rep));
}

struct cluster_slot {
	uint64_t sig;
	uint32_t index; /* + 1; 0 empty */
};

static int born_clusters(struct asnap_snap **snaps, uint32_t n, struct asnap_diff *d,
			 struct asnap_error *err)
{
	struct asnap_snap *last = snaps[n - 1];
	const struct asnap_graph *g = last->g;
	if (asnap_snap_retention(last, err) < 0)
		return -1;
	const struct asnap_retention *r = &last->ret;
	uint8_t *born = asnap_big_zalloc((size_t)g->n + 1, 1);
	uint32_t *pred = asnap_big_alloc((size_t)g->n + 1, sizeof(*pred));
	uint32_t *order = asnap_big_alloc((size_t)g->n + 1, sizeof(*order));
	uint32_t *top = asnap_big_alloc((size_t)g->n + 1, sizeof(*top));
	struct cluster_slot *slots = NULL;
	uint32_t nslots = 0;
	/* 100k new objects in one list: the list is scanned once */
	struct asnap_edge_finder edges = {0};
	int rc = -1;
	if (!born || !pred || !order || !top)
		goto nomem;
	/* born between the first two, alive in every later one */
	for (uint32_t v = 0; v < g->n; v++) {
		bool b = asnap_snap_find_addr(snaps[0], g->addr[v]) == ASNAP_NO_NODE ||
			 asnap_snap_match(last, v, snaps[0]) == ASNAP_NO_NODE;
		for (uint32_t j = 1; b && j + 1 < n; j++)
			b = asnap_snap_match(last, v, snaps[j]) != ASNAP_NO_NODE;
		born[v] = b;
		if (b) {
			d->born_objects++;
			d->born_bytes += asnap_graph_size(g, v);
		}
	}
	/* one breadth-first tree of shortest chains from the roots, real first */
	memset(pred, 0xff, ((size_t)g->n + 1) * sizeof(*pred));
	uint32_t head = 0, tail = 0;
	for (uint32_t i = 0; i < r->roots.count; i++) {
		uint32_t root = r->roots.items[i].node;
		if (pred[root] != ASNAP_NO_NODE)
			continue;
		pred[root] = g->n; /* the super-root */
		order[tail++] = root;
		if (i + 1 < r->roots.nreal)
			continue; /* seed every real root first, then run */
		while (head < tail) {
			uint32_t v = order[head++];
			for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
				uint32_t w = g->edge_target[e];
				if (!asnap_graph_edge_is_strong(g, e) || pred[w] != ASNAP_NO_NODE)
					continue;
				pred[w] = v;
				order[tail++] = w;
			}
		}
	}
	/* tops and their clusters, in breadth-first order so a pred comes first;
	 * cl[v]: the cluster of born object v (top[] reused) */
	uint32_t *cl = top;
	uint32_t cap = 0;
	for (uint32_t k = 0; k < tail; k++) {
		uint32_t v = order[k];
		cl[v] = ASNAP_NO_NODE;
		if (!born[v])
			continue;
		uint32_t p = pred[v];
		if (p != g->n && born[p]) {
			cl[v] = cl[p];
			d->clusters[cl[v]].objects++;
			d->clusters[cl[v]].bytes += asnap_graph_size(g, v);
			continue;
		}
		/* signature of the chain from the root to v */
		uint64_t sig = 1469598103934665603ull;
		uint32_t u = v, steps = 0;
		while (u != g->n && steps++ < MAX_SIG_STEPS) {
			uint32_t up = pred[u];
			uint32_t label = 0;
			if (up != g->n) {
				uint64_t e = asnap_edge_finder_find(&edges, g, up, u);
				label = e != UINT64_MAX ? g->edge_label[e] : 0;
			}
			size_t tl;
			const char *tn = asnap_graph_string_len(g, g->type[u], &tl);
			for (size_t i = 0; i < tl; i++)
				sig = (sig ^ (unsigned char)tn[i]) * 1099511628211ull;
			sig = (sig ^ label_hash(g, label)) * 1099511628211ull;
			u = up;
		}
		if ((uint64_t)(d->nclusters + 1) * 2 > nslots) {
			uint32_t ns = nslots ? nslots * 2 : 1024;
			struct cluster_slot *more = calloc(ns, sizeof(*more));
			if (!more)
				goto nomem;
			for (uint32_t i = 0; i < nslots; i++) {
				if (!slots[i].index)
					continue;
				uint32_t j = (uint32_t)(slots[i].sig & (ns - 1));
				while (more[j].index)
					j = (j + 1) & (ns - 1);
				more[j] = slots[i];
			}
			free(slots);
			slots = more;
			nslots = ns;
		}
		uint32_t j = (uint32_t)(sig & (nslots - 1));
		while (slots[j].index && slots[j].sig != sig)
			j = (j + 1) & (nslots - 1);
		if (!slots[j].index) {
			struct asnap_diff_cluster *more =
				asnap_grow(d->clusters, d->nclusters, &cap, sizeof(*more), 64);
			if (!more)
				goto nomem;
			d->clusters = more;
			d->clusters[d->nclusters] = (struct asnap_diff_cluster){.rep = v};
			slots[j] = (struct cluster_slot){sig, ++d->nclusters};
		}
		uint32_t ci = slots[j].index - 1;
		cl[v] = ci;
		struct asnap_diff_cluster *c = &d->clusters[ci];
		c->tops++;
		c->objects++;
		c->bytes += asnap_graph_size(g, v);
		c->retained += asnap_dom_retained(&r->dom, v);
		if (asnap_dom_retained(&r->dom, v) > asnap_dom_retained(&r->dom, c->rep))
			c->rep = v;
	}
	if (d->nclusters > 1)
		qsort(d->clusters, d->nclusters, sizeof(*d->clusters), by_bytes);
	/* representative chains of the biggest clusters, from the same tree */
	for (uint32_t i = 0; i < d->nclusters && i < MAX_CHAINS; i++) {
		struct asnap_diff_cluster *c = &d->clusters[i];
		uint32_t len = 0;
		for (uint32_t u = c->rep; u != g->n && len <= g->n; u = pred[u])
			len++;
		c->path = malloc((len ? len : 1) * sizeof(*c->path));
		if (!c->path)
			goto nomem;
		c->path_len = len;
		for (uint32_t u = c->rep, k = len; u != g->n && k > 0; u = pred[u])
			c->path[--k] = u;
	}
	rc = 0;
	goto out;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory clustering new objects");
out:
	asnap_edge_finder_release(&edges);
	asnap_free_all(born, pred, order, top, slots);
	return rc;
}

int asnap_diff_compute(struct asnap_snap **snaps, uint32_t n, struct asnap_diff *d,
		       struct asnap_error *err)
{
	*d = (struct asnap_diff){.nsnap = n, .same_process = true};
	for (uint32_t i = 0; i + 1 < n; i++)
		if (!asnap_snap_same_process(snaps[i], snaps[n - 1]))
			d->same_process = false;
	if (types_table(snaps, n, &d->types) < 0 || coro_tables(snaps, n, d) < 0) {
		asnap_diff_release(d);
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory comparing snapshots");
	}
	if (n >= 3 && d->same_process) {
		d->has_born = true;
		if (born_clusters(snaps, n, d, err) < 0) {
			asnap_diff_release(d);
			return -1;
		}
	}
	return 0;
}

void asnap_diff_release(struct asnap_diff *d)
{
	if (!d)
		return;
	table_free(&d->types);
	table_free(&d->coros);
	table_free(&d->sites);
	table_free(&d->pending);
	for (uint32_t i = 0; i < d->nclusters; i++)
		free(d->clusters[i].path);
	free(d->clusters);
	*d = (struct asnap_diff){0};
}
