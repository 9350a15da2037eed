/*
 * retention.c - the retention pipeline and the cycles report (see
 * retention.h).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/retention.h"
#include "graph/paths.h"

int asnap_retention_compute(struct asnap_graph *g, struct asnap_retention *r,
			    struct asnap_error *err)
{
	*r = (struct asnap_retention){.g = g};
	/* The components come out of the dominators' DFS (r->scc is empty). */
	if (asnap_roots_find(g, &r->roots, err) < 0 ||
	    asnap_dom_compute(g, &r->roots, &r->scc, &r->dom, err) < 0)
		goto error;
	r->root_of = malloc(((size_t)g->n + 1) * sizeof(*r->root_of));
	if (!r->root_of) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		goto error;
	}
	memset(r->root_of, 0xff, ((size_t)g->n + 1) * sizeof(*r->root_of));
	for (uint32_t i = r->roots.count; i-- > 0;)
		r->root_of[r->roots.items[i].node] = i;
	return 0;
error:
	asnap_retention_release(r);
	return -1;
}

void asnap_retention_release(struct asnap_retention *r)
{
	if (!r)
		return;
	asnap_dom_release(&r->dom);
	asnap_scc_release(&r->scc);
	asnap_rootset_release(&r->roots);
	free(r->root_of);
	r->root_of = NULL;
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

static int by_retained(const void *a, const void *b)
{
	const struct asnap_cycle *x = a, *y = b;
	if (x->retained != y->retained)
		return x->retained > y->retained ? -1 : 1;
	if (x->objects != y->objects)
		return x->objects > y->objects ? -1 : 1;
	return x->comp < y->comp ? -1 : x->comp > y->comp;
}

int asnap_cycles_find(const struct asnap_retention *r, struct asnap_cycle **out,
		      uint32_t *count, struct asnap_error *err)
{
	const struct asnap_graph *g = r->g;
	const uint32_t *comp = r->scc.comp;
	uint32_t n = g->n, ncomp = r->scc.ncomp;
	*out = NULL;
	*count = 0;
	int rc = -1;
	/* Rank of each type id, once, instead of string compares per node. */
	uint32_t nstr = asnap_reader_string_count(g->strings) + 1;
	uint8_t *rank = calloc(nstr, 1), *interesting_type = calloc(nstr, 1);
	uint32_t *members = calloc((size_t)ncomp + 1, sizeof(*members));
	uint32_t *start = malloc(((size_t)ncomp + 1) * sizeof(*start));
	uint8_t *cyclic = calloc((size_t)ncomp + 1, 1);
	uint32_t *stamp = NULL;
	struct asnap_cycle *cycles = NULL;
	uint32_t ncycles = 0, cap = 0;
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
	memset(start, 0xff, ((size_t)ncomp + 1) * sizeof(*start));
	for (uint32_t v = 0; v < n; v++) {
		uint32_t c = comp[v];
		if (cyclic[c] != 3 || !rank[g->type[v]])
			continue;
		if (start[c] == ASNAP_NO_NODE || rank[g->type[v]] < rank[g->type[start[c]]])
			start[c] = v;
	}
	if (asnap_path_ws_init(&ws, n, err) < 0)
		goto cleanup;
	for (uint32_t c = 0; c < ncomp; c++) {
		if (start[c] == ASNAP_NO_NODE)
			continue;
		if (ncycles == cap) {
			cap = cap ? cap * 2 : 16;
			struct asnap_cycle *more = realloc(cycles, cap * sizeof(*more));
			if (!more)
				goto nomem;
			cycles = more;
		}
		struct asnap_cycle *cy = &cycles[ncycles];
		*cy = (struct asnap_cycle){.comp = c, .objects = members[c],
					   .garbage = asnap_dom_is_garbage(&r->dom, start[c])};
		if (asnap_path_cycle(g, &r->scc, start[c], &ws, &cy->nodes, &cy->len, err) < 0)
			goto cleanup;
		ncycles++;
	}
	/*
	 * Bytes and retained size per reported component: a member counts when
	 * no dominator above it is in its component. Walks up the tree are
	 * memoised per component in stamp[] (2c+2: member above, 2c+3: none),
	 * so each node is walked at most once per component.
	 */
	if (ncycles) {
		uint32_t *slot = members; /* reused: component -> cycle index + 1 */
		memset(slot, 0, ((size_t)ncomp + 1) * sizeof(*slot));
		for (uint32_t i = 0; i < ncycles; i++)
			slot[cycles[i].comp] = i + 1;
		stamp = calloc((size_t)n + 1, sizeof(*stamp));
		if (!stamp)
			goto nomem;
		for (uint32_t v = 0; v < n; v++) {
			uint32_t c = comp[v];
			if (!slot[c])
				continue;
			struct asnap_cycle *cy = &cycles[slot[c] - 1];
			cy->bytes += g->size[v];
			uint32_t mine = 2 * (slot[c] - 1) + 2;
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
			/* memoise the verdict along the walked path */
			for (uint32_t x = r->dom.idom[v]; x != u && x != n; x = r->dom.idom[x])
				stamp[x] = verdict;
			if (verdict == mine + 1)
				cy->retained += r->dom.retained[v];
		}
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
	asnap_path_ws_finish(&ws);
	free(rank);
	free(interesting_type);
	free(members);
	free(start);
	free(cyclic);
	free(stamp);
	return rc;
}

void asnap_cycles_free(struct asnap_cycle *c, uint32_t count)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < count; i++)
		free(c[i].nodes);
	free(c);
}
