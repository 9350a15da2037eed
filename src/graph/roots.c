/*
 * roots.c - find the roots of a snapshot (see roots.h).
 */
#include <stdlib.h>

#include "graph/roots.h"
#include "util/bigarray.h"
#include "util/grow.h"

static int push(struct asnap_rootset *rs, struct asnap_root_ref r, struct asnap_error *err)
{
	struct asnap_root_ref *items = asnap_grow(rs->items, rs->count, &rs->cap, sizeof(*items), 256);
	if (!items)
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory finding roots");
	rs->items = items;
	rs->items[rs->count++] = r;
	return 0;
}

static bool test_and_set(uint8_t *bits, uint32_t v)
{
	bool was = bits[v >> 3] & (1u << (v & 7));
	bits[v >> 3] |= (uint8_t)(1u << (v & 7));
	return was;
}

int asnap_roots_find(const struct asnap_graph *g, struct asnap_rootset *rs,
		     struct asnap_error *err)
{
	*rs = (struct asnap_rootset){0};
	uint8_t *seen = asnap_big_zalloc((size_t)g->n / 8 + 1, 1);
	uint32_t *indeg = NULL;
	int rc = -1;
	if (!seen)
		goto nomem;
	if (!g->rev_start) {
		/* Only the counts are needed, not the whole reverse index. */
		if (g->m >= UINT32_MAX) {
			asnap_error_set(err, ASNAP_ERR_LIMIT,
					"more than %u references: too many to analyze", UINT32_MAX - 1);
			goto cleanup;
		}
		indeg = asnap_big_zalloc(g->n ? g->n : 1, sizeof(*indeg));
		if (!indeg)
			goto nomem;
		const uint32_t *et = g->edge_target;
		uint32_t m = (uint32_t)g->m;
		for (uint32_t e = 0; e < m; e++) {
			if (e + 16 < m)
				__builtin_prefetch(&indeg[et[e + 16]]);
			if (asnap_graph_edge_is_strong(g, e))
				indeg[et[e]]++;
		}
	}
	for (uint64_t i = 0; i < g->nroots; i++) {
		const struct asnap_root *r = &g->roots[i];
		if (r->node >= g->n || test_and_set(seen, r->node))
			continue;
		if (push(rs, (struct asnap_root_ref){r->node, ASNAP_ROOT_AGENT, r->kind, r->label}, err))
			goto cleanup;
	}
	/* A module's namespace is its dict: the module is reached through
	 * sys.modules or an import, its dict is what holds the globals. */
	uint32_t module = asnap_graph_find_string(g, "builtins.module");
	uint32_t dict = asnap_graph_find_string(g, "builtins.dict");
	for (uint32_t v = 0; module && dict && v < g->n; v++) {
		if (g->type[v] != module)
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v);
		     e < end; e++) {
			uint32_t w = g->edge_target[e];
			if (asnap_graph_edge_is_weak(g, e) || g->type[w] != dict ||
			    test_and_set(seen, w))
				continue;
			if (push(rs, (struct asnap_root_ref){w, ASNAP_ROOT_MODULE, v, 0}, err))
				goto cleanup;
		}
	}
	/* References the snapshot does not show are held from outside it. A
	 * synthetic node (a thread's stack) that nothing points to is held by
	 * the interpreter, whatever its count says. */
	for (uint32_t v = 0; v < g->n; v++) {
		uint32_t in = indeg ? indeg[v] : asnap_graph_in_degree(g, v);
		bool outside = g->refcnt[v] > in || (in == 0 && (g->flags[v] & ASNAP_NODE_SYNTHETIC));
		if (!outside || test_and_set(seen, v))
			continue;
		if (push(rs, (struct asnap_root_ref){v, ASNAP_ROOT_EXTERNAL, 0, 0}, err))
			goto cleanup;
	}
	rs->nreal = rs->count;
	rc = 0;
	goto cleanup;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory finding roots");
cleanup:
	free(seen);
	free(indeg);
	if (rc)
		asnap_rootset_release(rs);
	return rc;
}

int asnap_roots_add_unreachable(const struct asnap_graph *g, struct asnap_rootset *rs,
				const struct asnap_scc *scc, const uint32_t *pre,
				struct asnap_error *err)
{
	/* The unreached part has no edge coming in from the reached part, so a
	 * component of it with no edge from another component is a source of
	 * it, and every unreached node is reachable from such a source. */
	uint8_t *entered = calloc((size_t)scc->ncomp / 8 + 1, 1);
	if (!entered)
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory finding garbage");
	for (uint32_t v = 0; v < g->n; v++) {
		if (pre[v] != ASNAP_NO_NODE)
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, v), end = asnap_graph_edge_end(g, v);
		     e < end; e++) {
			uint32_t w = g->edge_target[e];
			if (asnap_graph_edge_is_strong(g, e) && scc->comp[w] != scc->comp[v])
				test_and_set(entered, scc->comp[w]);
		}
	}
	int rc = 0;
	for (uint32_t v = 0; v < g->n && rc == 0; v++) {
		if (pre[v] != ASNAP_NO_NODE || test_and_set(entered, scc->comp[v]))
			continue;
		rc = push(rs, (struct asnap_root_ref){v, ASNAP_ROOT_UNREACHABLE, 0, 0}, err);
	}
	free(entered);
	return rc;
}

void asnap_rootset_release(struct asnap_rootset *rs)
{
	if (!rs)
		return;
	free(rs->items);
	*rs = (struct asnap_rootset){0};
}

const char *asnap_root_kind_name(uint32_t kind)
{
	switch (kind) {
	case ASNAP_ROOT_AGENT:
		return "agent";
	case ASNAP_ROOT_MODULE:
		return "module";
	case ASNAP_ROOT_EXTERNAL:
		return "external";
	case ASNAP_ROOT_UNREACHABLE:
		return "unreachable";
	}
	return "?";
}
