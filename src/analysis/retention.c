/*
 * retention.c - the retention pipeline and the cycles report (see
 * retention.h).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis/retention.h"
#include "graph/paths.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"
#include "util/order.h"

/* Node -> its root, once the roots are final. */
static int index_roots(struct asnap_retention *r, struct asnap_error *err)
{
	uint32_t n = r->roots.count;
	r->root_index = asnap_big_alloc((size_t)n + 1, sizeof(*r->root_index));
	if (!r->root_index)
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++)
		r->root_index[i] = (struct asnap_pair){r->roots.items[i].node, i};
	if (n > 1)
		qsort(r->root_index, n, sizeof(*r->root_index), asnap_pair_cmp);
	r->nroot_index = n;
	return 0;
}

uint32_t asnap_retention_root_of(const struct asnap_retention *r, uint32_t v)
{
	uint64_t i = asnap_lower_bound(r->root_index, r->nroot_index, sizeof(*r->root_index),
				       offsetof(struct asnap_pair, key), v);
	return i < r->nroot_index && r->root_index[i].key == v ? r->root_index[i].val
							       : ASNAP_NO_NODE;
}

int asnap_retention_compute(struct asnap_graph *g, struct asnap_retention *r,
			    struct asnap_error *err)
{
	*r = (struct asnap_retention){.g = g};
	/* The components come out of the dominators' DFS (r->scc is empty). */
	if (asnap_roots_find(g, &r->roots, err) < 0 ||
	    asnap_dom_compute(g, &r->roots, &r->scc, &r->dom, err) < 0 || index_roots(r, err) < 0) {
		asnap_retention_release(r);
		return -1;
	}
	return 0;
}

static enum asnap_load_mode load_mode(const char *path, enum asnap_load_mode mode)
{
	const char *env = getenv("ASYNCSNAP_LOAD");
	if (env && strcmp(env, "once") == 0)
		mode = ASNAP_LOAD_ONCE;
	else if (env && strcmp(env, "twice") == 0)
		mode = ASNAP_LOAD_TWICE;
	if (mode != ASNAP_LOAD_AUTO)
		return mode;
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= ASNAP_LOAD_TWICE_BYTES)
		return ASNAP_LOAD_TWICE;
	return ASNAP_LOAD_ONCE;
}

int asnap_retention_load(const char *path, enum asnap_load_mode mode, uint32_t columns,
			 struct asnap_graph **gp, struct asnap_retention *r, struct asnap_error *err)
{
	/* What the roots need, then only what the dominators need. */
	const uint32_t roots_need = ASNAP_COL_TYPE | ASNAP_COL_REFCNT | ASNAP_COL_FLAGS;
	*gp = NULL;
	*r = (struct asnap_retention){0};
	if (load_mode(path, mode) == ASNAP_LOAD_ONCE) {
		struct asnap_graph *g =
			asnap_graph_load_columns(path, columns | roots_need | ASNAP_COL_SIZE, err);
		if (!g || asnap_retention_compute(g, r, err) < 0) {
			asnap_graph_destroy(g);
			return -1;
		}
		*gp = g;
		return 0;
	}
	struct asnap_graph *g = asnap_graph_load_columns(path, ASNAP_COL_SIZE | roots_need, err);
	if (!g)
		return -1;
	*r = (struct asnap_retention){.g = g};
	if (asnap_roots_find(g, &r->roots, err) < 0)
		goto error;
	asnap_graph_release_columns(g, roots_need);
	if (asnap_dom_compute(g, &r->roots, &r->scc, &r->dom, err) < 0 ||
	    asnap_graph_load_more(g, columns, err) < 0 || index_roots(r, err) < 0)
		goto error;
	*gp = g;
	return 0;
error:
	asnap_retention_release(r);
	asnap_graph_destroy(g);
	return -1;
}

void asnap_retention_release(struct asnap_retention *r)
{
	if (!r)
		return;
	asnap_dom_release(&r->dom);
	asnap_scc_release(&r->scc);
	asnap_rootset_release(&r->roots);
	free(r->root_index);
	r->root_index = NULL;
	r->nroot_index = 0;
}

bool asnap_type_is_task(const char *type)
{
	return strcmp(type, "_asyncio.Task") == 0 || strcmp(type, "asyncio.tasks.Task") == 0;
}

/* How much an object of this type deserves to start the chain: 0 not at
 * all (it does not make a cycle interesting), 1 best. */
static int start_rank(const char *type, bool *interesting)
{
	static const char *const order[] = {
		"builtins.coroutine", "builtins.async_generator", "builtins.generator",
		"builtins.frame", "builtins.traceback",
	};
	*interesting = false;
	if (asnap_type_is_task(type))
		return 1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (strcmp(type, order[i]) == 0) {
			*interesting = true;
			return 2 + (int)i;
		}
	}
	return 0;
}

uint8_t *asnap_retention_module_set(const struct asnap_retention *r)
{
	const struct asnap_graph *g = r->g;
	uint8_t *set = asnap_big_zalloc((size_t)g->n / 8 + 1, 1);
	if (!set)
		return NULL;
	uint32_t module = asnap_graph_find_string(g, "builtins.module");
	for (uint32_t v = 0; v < g->n; v++)
		if (module && g->type[v] == module)
			set[v >> 3] |= (uint8_t)(1u << (v & 7));
	for (uint32_t i = 0; i < r->roots.nreal; i++)
		if (r->roots.items[i].kind == ASNAP_ROOT_MODULE) {
			uint32_t v = r->roots.items[i].node;
			set[v >> 3] |= (uint8_t)(1u << (v & 7));
		}
	return set;
}

/* The search of large components stops after looking at this many nodes in
 * all (a few tenths of a second), and at this many from one start. */
#define SEARCH_BUDGET 40000000u
#define START_BUDGET 20000u

/* A cycle found, before grouping. */
struct found {
	uint32_t *nodes;
	uint32_t len;
	uint32_t comp;
	uint64_t retained;
	bool garbage, whole;
	uint32_t *key;    /* its shape: 2 * len words, then the flags */
	uint32_t keylen;
};

struct finder {
	const struct asnap_retention *r;
	struct found *f;
	uint32_t n, cap;
	uint32_t index_label; /* stands for every "[N]" label in a shape */
};

static bool is_index_label(const char *s)
{
	if (s[0] != '[' || s[1] < '0' || s[1] > '9')
		return false;
	for (s++; *s >= '0' && *s <= '9'; s++)
		;
	return s[0] == ']' && s[1] == '\0';
}

/* The shape of a cycle: type and label of each step, rotated to start at
 * nodes[0], and whether it is garbage / stands for a whole component. */
static bool shape_key(struct finder *fd, struct found *x)
{
	const struct asnap_graph *g = fd->r->g;
	x->keylen = 2 * x->len + 1;
	x->key = malloc(x->keylen * sizeof(*x->key));
	if (!x->key)
		return false;
	for (uint32_t i = 0; i < x->len; i++) {
		uint64_t e = asnap_graph_edge_between(g, x->nodes[i], x->nodes[(i + 1) % x->len]);
		uint32_t label = e == UINT64_MAX ? 0 : g->edge_label[e];
		if (label && is_index_label(asnap_graph_string(g, label)))
			label = fd->index_label;
		x->key[2 * i] = g->type[x->nodes[i]];
		x->key[2 * i + 1] = label;
	}
	x->key[2 * x->len] = (uint32_t)x->garbage | (uint32_t)x->whole << 1;
	return true;
}

static bool add_found(struct finder *fd, const uint32_t *nodes, uint32_t len, uint32_t comp,
		      uint64_t retained, bool garbage, bool whole)
{
	struct found *more = asnap_grow(fd->f, fd->n, &fd->cap, sizeof(*more), 64);
	if (!more)
		return false;
	fd->f = more;
	struct found *x = &fd->f[fd->n];
	*x = (struct found){.len = len, .comp = comp, .retained = retained, .garbage = garbage,
			    .whole = whole};
	x->nodes = malloc(len * sizeof(*x->nodes));
	if (!x->nodes)
		return false;
	memcpy(x->nodes, nodes, len * sizeof(*x->nodes));
	if (!shape_key(fd, x)) {
		free(x->nodes);
		return false;
	}
	fd->n++;
	return true;
}

static int by_key(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	int c;
	if ((c = asnap_asc_u64(x->keylen, y->keylen)) ||
	    (c = memcmp(x->key, y->key, x->keylen * sizeof(*x->key))) ||
	    (c = asnap_desc_u64(x->retained, y->retained)))
		return c;
	return asnap_asc_u64(x->nodes[0], y->nodes[0]);
}

static int by_retained(const void *a, const void *b)
{
	const struct asnap_cycle *x = a, *y = b;
	return asnap_order(asnap_desc_u64(x->retained, y->retained),
			   asnap_desc_u64(x->count, y->count),
			   asnap_desc_u64(x->objects, y->objects),
			   asnap_asc_u64(x->nodes[0], y->nodes[0]));
}

/*
 * Bytes the cycles f[from..to) keep alive: the retained sizes of the nodes
 * on them that no other node on them dominates, each node once. mark (n + 1
 * cells, zero at first) is stamped with values of this round only: 4r+1 on
 * a cycle, 4r+2 that and summed, 4r+3 below one of them, 4r+4 not.
 */
static uint64_t union_retained(const struct asnap_retention *r, const struct found *f,
			       uint32_t from, uint32_t to, uint32_t *mark, uint32_t round)
{
	uint32_t n = r->g->n, on = 4 * round + 1, summed = on + 1, below = on + 2, free_ = on + 3;
	uint64_t sum = 0;
	for (uint32_t i = from; i < to; i++)
		for (uint32_t k = 0; k < f[i].len; k++)
			mark[f[i].nodes[k]] = on;
	for (uint32_t i = from; i < to; i++) {
		for (uint32_t k = 0; k < f[i].len; k++) {
			uint32_t v = f[i].nodes[k];
			if (mark[v] != on)
				continue;
			mark[v] = summed;
			uint32_t u = r->dom.idom[v], verdict = free_;
			while (u != n) {
				if (mark[u] == on || mark[u] == summed || mark[u] == below) {
					verdict = below;
					break;
				}
				if (mark[u] == free_)
					break;
				u = r->dom.idom[u];
			}
			for (uint32_t x = r->dom.idom[v]; x != u && x != n; x = r->dom.idom[x])
				mark[x] = verdict;
			if (verdict == free_)
				sum += asnap_dom_retained(&r->dom, v);
		}
	}
	return sum;
}

/*
 * Per component: its retained bytes (the retained sizes of the members no
 * dominator of which is in the component) into ret[c], and its shallow
 * bytes into bytes[c], for the components with want[c] set. Walks up the
 * tree are memoised per component in stamp (2c+2: member above, 2c+3:
 * none), so each node is walked at most once per component.
 */
static int component_sizes(const struct asnap_retention *r, const uint8_t *want, uint64_t *ret,
			   uint64_t *bytes)
{
	const struct asnap_graph *g = r->g;
	const uint32_t *comp = r->scc.comp;
	uint32_t n = g->n;
	uint32_t *stamp = asnap_big_zalloc((size_t)n + 1, sizeof(*stamp));
	if (!stamp)
		return -1;
	for (uint32_t v = 0; v < n; v++) {
		uint32_t c = comp[v];
		if (!want[c])
			continue;
		bytes[c] += asnap_graph_size(g, v);
		uint32_t mine = 2 * c + 2;
		uint32_t u = r->dom.idom[v], verdict = mine + 1;
		for (;;) {
			if (u == n)
				break;
			if (comp[u] == c) {
				verdict = mine;
				break;
			}
			if ((stamp[u] & ~1u) == mine) {
				verdict = stamp[u];
				break;
			}
			u = r->dom.idom[u];
		}
		for (uint32_t x = r->dom.idom[v]; x != u && x != n; x = r->dom.idom[x])
			stamp[x] = verdict;
		if (verdict == mine + 1)
			ret[c] += asnap_dom_retained(&r->dom, v);
	}
	free(stamp);
	return 0;
}

struct start {
	uint32_t node;
	uint8_t rank;
};

static int by_rank(const void *a, const void *b)
{
	const struct start *x = a, *y = b;
	int c = asnap_asc_u64(x->rank, y->rank);
	return c ? c : asnap_asc_u64(x->node, y->node);
}

int asnap_cycles_search(const struct asnap_retention *r, struct asnap_cycle **out,
			uint32_t *count, struct asnap_cycles_stats *stats,
			struct asnap_error *err)
{
	const struct asnap_graph *g = r->g;
	const uint32_t *comp = r->scc.comp;
	uint32_t n = g->n, ncomp = r->scc.ncomp;
	*out = NULL;
	*count = 0;
	if (stats)
		*stats = (struct asnap_cycles_stats){0};
	int rc = -1;
	/* Rank of each type id, once, instead of string compares per node. */
	uint32_t nstr = asnap_reader_string_count(g->strings) + 1;
	uint8_t *rank = calloc(nstr, 1), *interesting_type = calloc(nstr, 1);
	uint32_t *members = asnap_big_zalloc((size_t)ncomp + 1, sizeof(*members));
	uint32_t *start = asnap_big_alloc((size_t)ncomp + 1, sizeof(*start));
	uint8_t *cyclic = asnap_big_zalloc((size_t)ncomp + 1, 1);
	uint64_t *comp_ret = NULL, *comp_bytes = NULL;
	uint8_t *avoid = NULL, *used = NULL, *counted = NULL;
	uint32_t *mark = NULL;
	struct start *starts = NULL;
	struct finder fd = {.r = r, .index_label = UINT32_MAX};
	struct asnap_cycle *cycles = NULL;
	uint32_t ncycles = 0;
	struct asnap_path_ws ws = {0};
	if (!rank || !interesting_type || !members || !start || !cyclic)
		goto nomem;
	for (uint32_t id = 1; id < nstr; id++) {
		bool interesting;
		rank[id] = (uint8_t)start_rank(asnap_graph_string(g, id), &interesting);
		interesting_type[id] = interesting;
	}
	/* cyclic: 1 has a cycle, 2 also an interesting object */
	for (uint32_t v = 0; v < n; v++) {
		uint32_t c = comp[v];
		members[c]++;
		if (members[c] > 1)
			cyclic[c] |= 1;
		for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v);
		     e < end; e++)
			if (g->edge_target[e] == v && asnap_graph_edge_is_strong(g, e))
				cyclic[c] |= 1;
		if (interesting_type[g->type[v]])
			cyclic[c] |= 2;
	}
	/* Small components: the best start of each; large: every candidate. */
	memset(start, 0xff, ((size_t)ncomp + 1) * sizeof(*start));
	uint32_t nstarts = 0;
	for (uint32_t v = 0; v < n; v++) {
		uint32_t c = comp[v];
		if (cyclic[c] != 3 || !rank[g->type[v]])
			continue;
		if (members[c] > ASNAP_CYCLES_LARGE_COMPONENT)
			nstarts++;
		else if (start[c] == ASNAP_NO_NODE || rank[g->type[v]] < rank[g->type[start[c]]])
			start[c] = v;
	}
	if (asnap_path_ws_init(&ws, n, err) < 0)
		goto cleanup;
	comp_ret = asnap_big_zalloc((size_t)ncomp + 1, sizeof(*comp_ret));
	comp_bytes = asnap_big_zalloc((size_t)ncomp + 1, sizeof(*comp_bytes));
	counted = asnap_big_zalloc((size_t)ncomp + 1, 1);
	if (!comp_ret || !comp_bytes || !counted)
		goto nomem;
	for (uint32_t c = 0; c < ncomp; c++)
		counted[c] = cyclic[c] == 3;
	if (component_sizes(r, counted, comp_ret, comp_bytes) < 0)
		goto nomem;
	memset(counted, 0, (size_t)ncomp + 1);
	for (uint32_t c = 0; c < ncomp; c++) {
		if (start[c] == ASNAP_NO_NODE)
			continue;
		uint32_t *nodes, len;
		if (asnap_path_cycle(g, &r->scc, start[c], &ws, &nodes, &len, err) < 0)
			goto cleanup;
		bool ok = !len || add_found(&fd, nodes, len, c, comp_ret[c],
					    asnap_dom_is_garbage(&r->dom, start[c]), true);
		free(nodes);
		if (!ok)
			goto nomem;
	}
	if (nstarts) {
		starts = malloc(nstarts * sizeof(*starts));
		used = asnap_big_zalloc((size_t)n / 8 + 1, 1);
		avoid = asnap_retention_module_set(r);
		if (!starts || !used || !avoid)
			goto nomem;
		uint32_t k = 0;
		for (uint32_t v = 0; v < n; v++) {
			uint32_t c = comp[v];
			if (cyclic[c] == 3 && rank[g->type[v]] && members[c] > ASNAP_CYCLES_LARGE_COMPONENT)
				starts[k++] = (struct start){v, rank[g->type[v]]};
		}
		qsort(starts, nstarts, sizeof(*starts), by_rank);
		uint64_t visited = 0;
		uint32_t cyc[ASNAP_CYCLES_MAX_LEN];
		for (k = 0; k < nstarts; k++) {
			uint32_t v = starts[k].node;
			if ((used[v >> 3] >> (v & 7)) & 1)
				continue;
			if (visited >= SEARCH_BUDGET) {
				if (stats)
					stats->unexamined++;
				continue;
			}
			if (stats)
				stats->starts++;
			uint32_t len = asnap_path_short_cycle(g, &r->scc, v, avoid, ASNAP_CYCLES_MAX_LEN,
							      START_BUDGET, &ws, cyc, &visited);
			if (!len)
				continue;
			for (uint32_t i = 0; i < len; i++)
				used[cyc[i] >> 3] |= (uint8_t)(1u << (cyc[i] & 7));
			if (!add_found(&fd, cyc, len, comp[v], 0, asnap_dom_is_garbage(&r->dom, v),
				       false))
				goto nomem;
		}
	}
	/* Group by shape: sorted by key, the best of each run first. */
	if (fd.n) {
		qsort(fd.f, fd.n, sizeof(*fd.f), by_key);
		cycles = asnap_big_zalloc(fd.n, sizeof(*cycles));
		mark = asnap_big_zalloc((size_t)n + 1, sizeof(*mark));
		if (!cycles || !mark)
			goto nomem;
	}
	for (uint32_t i = 0; i < fd.n;) {
		uint32_t j = i;
		struct asnap_cycle *cy = &cycles[ncycles++];
		struct found *best = &fd.f[i];
		*cy = (struct asnap_cycle){.comp = best->comp, .garbage = best->garbage,
					   .whole = best->whole, .nodes = best->nodes,
					   .len = best->len};
		best->nodes = NULL;
		for (; j < fd.n && fd.f[j].keylen == best->keylen &&
		       !memcmp(fd.f[j].key, best->key, best->keylen * sizeof(*best->key));
		     j++) {
			struct found *x = &fd.f[j];
			cy->count++;
			cy->retained += x->retained;
			if (!counted[x->comp]) {
				counted[x->comp] = 1;
				cy->components++;
				cy->objects += members[x->comp];
				cy->bytes += comp_bytes[x->comp];
			}
		}
		for (uint32_t k = i; k < j; k++)
			counted[fd.f[k].comp] = 0;
		/* a large component's cycles share objects: count each once */
		if (!cy->whole) {
			best->nodes = cy->nodes;
			cy->retained = union_retained(r, fd.f, i, j, mark, ncycles);
			best->nodes = NULL;
		}
		i = j;
	}
	if (ncycles > 1)
		qsort(cycles, ncycles, sizeof(*cycles), by_retained);
	*out = cycles;
	*count = ncycles;
	cycles = NULL;
	ncycles = 0;
	rc = 0;
	goto cleanup;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory finding cycles");
cleanup:
	asnap_cycles_free(cycles, ncycles);
	for (uint32_t i = 0; i < fd.n; i++) {
		free(fd.f[i].nodes);
		free(fd.f[i].key);
	}
	free(fd.f);
	asnap_path_ws_finish(&ws);
	asnap_free_all(rank, interesting_type, members, start, cyclic, comp_ret, comp_bytes,
		       counted, avoid, used, starts, mark);
	return rc;
}

int asnap_cycles_find(const struct asnap_retention *r, struct asnap_cycle **out,
		      uint32_t *count, struct asnap_error *err)
{
	return asnap_cycles_search(r, out, count, NULL, err);
}

void asnap_cycles_free(struct asnap_cycle *c, uint32_t count)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < count; i++)
		free(c[i].nodes);
	free(c);
}
