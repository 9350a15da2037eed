/*
 * retained_task.c - the retained-task check: finished (or cancelled) tasks
 * that application containers keep alive, with their coroutines, results
 * and exceptions. From one snapshot: at least RETAINED_MIN finished tasks
 * in one set, list, dict or deque that is not a local of a running frame
 * (a batch just gathered is fine), unless several snapshots show that
 * pile not growing (a bounded cache of tasks). Across snapshots: finished
 * tasks of a coroutine that grow in number and persist. Garbage is not
 * counted.
 *
 * Done futures (resolved or cancelled) that a registry keeps - the dict of
 * an RPC client's requests that a timeout path forgets to pop - and asyncio
 * queues that nothing reads (a broadcast hub's subscribers, gone, still
 * fed) are grouped by that container ("futures in Client._pending",
 * "queues in Hub.subscribers") and reported only when they grow in number
 * and persist across snapshots: from one snapshot a registry cannot be
 * told from a cache of results, nor a queue from one whose reader is busy.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "util/grow.h"
#include "util/order.h"

#define RETAINED_MIN 100


static bool done(const struct asnap_aio_task *t)
{
	return t->state == ASNAP_FUT_FINISHED || t->state == ASNAP_FUT_CANCELLED;
}

/* certain[i] for the tasks of the last snapshot piled up in one container */
static int piled_up(const struct check_ctx *ctx, uint8_t *certain)
{
	const struct asnap_snap *s = ctx->last;
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	const uint32_t *idom = s->ret.dom.idom;
	struct asnap_pair *h = malloc(((size_t)a->ntasks + 1) * sizeof(*h));
	uint8_t *outside = held_from_outside(s);
	if (!h || !outside) {
		free(h);
		free(outside);
		return -1;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->ntasks; i++) {
		uint32_t v = a->tasks[i].node, d = idom[v];
		if (!done(&a->tasks[i]) || asnap_dom_is_garbage(&s->ret.dom, v) || d == g->n ||
		    !is_container_type(node_type(s, d)))
			continue;
		uint32_t up = idom[d];
		if ((up != g->n && (a->kind[up] == ASNAP_AIO_FRAME || a->kind[up] == ASNAP_AIO_CORO)) ||
		    outside[d])
			continue; /* a local of a running frame (or of another thread's,
				   * held from outside): a batch being gathered */
		h[n++] = (struct asnap_pair){d, i}; /* holder, task index */
	}
	if (n > 1)
		qsort(h, n, sizeof(*h), asnap_pair_cmp);
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i;
		while (j < n && h[j].key == h[i].key)
			j++;
		if (j - i >= RETAINED_MIN)
			for (uint32_t k = i; k < j; k++)
				certain[h[k].val] = 1;
		i = j;
	}
	free(h);
	free(outside);
	return 0;
}

/* ---- done futures a registry keeps ------------------------------------- */

#define FUTURES_IN "futures in "
#define QUEUES_IN "queues in "

static const char future_fix[] =
	"remove each future from the registry once it is done, on every path (in a finally: "
	"pending.pop(key, None)), timeouts and cancellation included";
static const char queue_fix[] =
	"when a subscriber's reader ends, remove its queue from the registry (in a finally: "
	"subscribers.discard(queue)), or close the subscription";

static bool is_registry_type(const char *type)
{
	return !strcmp(type, "builtins.dict") || !strcmp(type, "builtins.list") ||
	       !strcmp(type, "builtins.set") || !strcmp(type, "collections.deque") ||
	       !strcmp(type, "collections.OrderedDict") || !strcmp(type, "collections.defaultdict");
}

/* The label of the reference from p to c ("" when none). */
static const char *label_of(const struct asnap_graph *g, uint32_t p, uint32_t c)
{
	uint64_t e = asnap_graph_edge_between(g, p, c);
	uint32_t l = e != UINT64_MAX && g->edge_label ? g->edge_label[e] : 0;
	return l ? asnap_graph_string(g, l) : "";
}

/*
 * The name of container c for its finding - "Client._pending" (an
 * attribute), "app.state.PENDING" (a module's global), else its type and
 * address, which stay the same across snapshots of one process - or false
 * when c is a batch rather than a registry (a local of running code, or
 * held by asyncio's own objects: the children a gather waits for) or no
 * container at all (an object's or a module's attributes), or the waiters
 * of an Event, Lock or Queue, which pending-future judges.
 */
static bool registry_name(const struct asnap_snap *s, uint32_t c, char *buf, size_t len)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	if (asnap_snap_module_name(s, c))
		return false; /* a module's globals */
	for (uint32_t k = g->rev_start[c]; k < g->rev_start[c + 1]; k++) {
		if (a->kind[g->rev_source[k]] != ASNAP_AIO_NONE)
			return false;
		const char *l = label_of(g, g->rev_source[k], c);
		if (!strcmp(l, "__dict__"))
			return false; /* an object's attributes, not a registry */
		if (!strcmp(l, "_waiters") || !strcmp(l, "_getters") || !strcmp(l, "_putters"))
			return false; /* a lock's or queue's waiters: piled_callbacks.c */
	}
	for (uint32_t k = g->rev_start[c]; k < g->rev_start[c + 1]; k++) {
		uint32_t p = g->rev_source[k], owner = p;
		const char *attr = label_of(g, p, c);
		if (!attr[0] || attr[0] == '[')
			continue; /* an item of another container */
		const char *module = asnap_snap_module_name(s, p);
		if (module) {
			snprintf(buf, len, "%s.%s", module, attr);
			return true;
		}
		if (!strcmp(node_type(s, p), "builtins.dict")) {
			owner = ASNAP_NO_NODE; /* an instance's __dict__ (3.9, 3.10), or a plain dict */
			for (uint32_t j = g->rev_start[p]; j < g->rev_start[p + 1]; j++)
				if (!strcmp(label_of(g, g->rev_source[j], p), "__dict__"))
					owner = g->rev_source[j];
			if (owner == ASNAP_NO_NODE)
				continue;
		}
		snprintf(buf, len, "%s.%s", short_type(node_type(s, owner)), attr);
		return true;
	}
	snprintf(buf, len, "the %s at 0x%" PRIx64, node_type(s, c), g->addr[c]);
	return true;
}

/* The object v's attribute with label id `attr` (through its __dict__ on
 * 3.9/3.10, `dict_label`), or ASNAP_NO_NODE. */
static uint32_t attr_target(const struct asnap_graph *g, uint32_t v, uint32_t attr,
			    uint32_t dict_label)
{
	uint32_t dict = ASNAP_NO_NODE;
	for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
		if (g->edge_label[e] == attr)
			return g->edge_target[e];
		if (dict_label && g->edge_label[e] == dict_label)
			dict = g->edge_target[e];
	}
	return dict != ASNAP_NO_NODE ? attr_target(g, dict, attr, 0) : ASNAP_NO_NODE;
}

/*
 * Is queue q read by nobody: no reader waiting in its _getters, and only
 * containers hold it (a reader's frame, or the object of a reader, would
 * hold it too)? Its first container into *registry.
 */
static bool unread_queue(const struct asnap_snap *s, uint32_t q, uint32_t getters,
			 uint32_t dict_label, uint32_t class_label, uint32_t *registry)
{
	const struct asnap_graph *g = s->g;
	uint32_t d = getters ? attr_target(g, q, getters, dict_label) : ASNAP_NO_NODE;
	if (d == ASNAP_NO_NODE)
		return false;
	for (uint64_t e = asnap_graph_edge_begin(g, d); e < asnap_graph_edge_end(g, d); e++)
		if (g->edge_label[e] != class_label)
			return false; /* a reader waits (3.12+ deques also refer to their type) */
	*registry = ASNAP_NO_NODE;
	for (uint32_t k = g->rev_start[q]; k < g->rev_start[q + 1]; k++) {
		uint32_t p = g->rev_source[k];
		if (!is_registry_type(node_type(s, p)))
			return false;
		if (*registry == ASNAP_NO_NODE)
			*registry = p;
	}
	return *registry != ASNAP_NO_NODE;
}

/* The string ids of asyncio's queue types in g (0: not in this snapshot). */
static void queue_types(const struct asnap_graph *g, uint32_t ids[3])
{
	ids[0] = asnap_graph_find_string(g, "asyncio.queues.Queue");
	ids[1] = asnap_graph_find_string(g, "asyncio.queues.LifoQueue");
	ids[2] = asnap_graph_find_string(g, "asyncio.queues.PriorityQueue");
}

/* Count the (registry, object) pairs h[0..n) by registry, under
 * "PREFIX<registry's name>" with advice fix. 0 or -1. */
static int add_by_registry(struct grouping *gr, uint32_t snap, struct asnap_pair *h, uint32_t n,
			   const char *prefix, const char *fix)
{
	const struct asnap_snap *s = gr->ctx->snaps[snap];
	if (n > 1)
		qsort(h, n, sizeof(*h), asnap_pair_cmp);
	char name[256], key[300];
	for (uint32_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && h[j].key == h[i].key; j++)
			;
		if (!registry_name(s, h[i].key, name, sizeof(name)))
			continue;
		snprintf(key, sizeof(key), "%s%s", prefix, name);
		for (uint32_t k = i; k < j; k++) {
			struct group *grp = group_add(gr, snap, key, h[k].val, false, NULL);
			if (!grp)
				return nomem(gr->ctx);
			grp->fix = fix;
		}
	}
	return 0;
}

/*
 * What registries keep in snapshot `snap` after its use is over: done
 * futures, and asyncio queues that nobody reads (a subscriber gone, its
 * queue still fed), counted by the registry that keeps them. Only with
 * several snapshots of one process: growth is the only evidence.
 */
static int scan_registries(struct grouping *gr, uint32_t snap)
{
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	if (ctx->nsnap < 2 || !ctx->same_process || !g->rev_start || !g->edge_label)
		return 0;
	bool last = snap + 1 == ctx->nsnap;
	struct asnap_pair *h = malloc(((size_t)a->nfutures + 1) * sizeof(*h));
	if (!h)
		return nomem(ctx);
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->nfutures; i++) {
		uint32_t v = a->futures[i].node;
		if ((a->futures[i].state != ASNAP_FUT_FINISHED &&
		     a->futures[i].state != ASNAP_FUT_CANCELLED) ||
		    (last && s->has_ret && asnap_dom_is_garbage(&s->ret.dom, v)))
			continue;
		for (uint32_t k = g->rev_start[v]; k < g->rev_start[v + 1]; k++)
			if (is_registry_type(node_type(s, g->rev_source[k]))) {
				h[n++] = (struct asnap_pair){g->rev_source[k], v}; /* registry, future */
				break;
			}
	}
	int rc = add_by_registry(gr, snap, h, n, FUTURES_IN, future_fix);
	free(h);
	if (rc < 0)
		return rc;
	uint32_t getters = asnap_graph_find_string(g, "_getters");
	uint32_t dict_label = asnap_graph_find_string(g, "__dict__");
	uint32_t class_label = asnap_graph_find_string(g, "__class__");
	uint32_t qt[3];
	queue_types(g, qt);
	struct asnap_pair *q = NULL;
	uint32_t nq = 0, cap = 0;
	for (uint32_t v = 0; getters && (qt[0] || qt[1] || qt[2]) && v < g->n; v++) {
		uint32_t r, t = g->type[v];
		if (!t || (t != qt[0] && t != qt[1] && t != qt[2]) ||
		    (last && s->has_ret && asnap_dom_is_garbage(&s->ret.dom, v)) ||
		    !unread_queue(s, v, getters, dict_label, class_label, &r))
			continue;
		struct asnap_pair *more = asnap_grow(q, nq, &cap, sizeof(*more), 16);
		if (!more) {
			free(q);
			return nomem(ctx);
		}
		q = more;
		q[nq++] = (struct asnap_pair){r, v}; /* registry, queue */
	}
	rc = add_by_registry(gr, snap, q, nq, QUEUES_IN, queue_fix);
	free(q);
	return rc;
}

int retained_task_scan(struct grouping *gr, uint32_t snap, void *state)
{
	const uint8_t *certain = state;
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	bool last = snap + 1 == ctx->nsnap;
	char site[512];
	for (uint32_t i = 0; i < a->ntasks; i++) {
		const struct asnap_aio_task *t = &a->tasks[i];
		if (!done(t) || (last && asnap_dom_is_garbage(&s->ret.dom, t->node)))
			continue;
		const struct asnap_aio_coro *c = asnap_aio_coro(a, t->coro);
		const char *key = c && c->qualname ? asnap_graph_string(s->g, c->qualname)
						   : "<task without a coroutine>";
		site[0] = 0;
		if (c && c->file)
			snprintf(site, sizeof(site), "%s:%lld", asnap_graph_string(s->g, c->file),
				 (long long)c->first_line);
		if (!group_add(gr, snap, key, t->node, last && certain[i], site))
			return nomem(ctx);
	}
	return scan_registries(gr, snap);
}

void retained_task_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
			   uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	if (!strncmp(key, QUEUES_IN, strlen(QUEUES_IN)))
		snprintf(buf, len,
			 "queues that nothing reads pile up in %s: %s across the snapshots; no reader "
			 "waits on them and nothing but containers holds them, while what is put in "
			 "them stays",
			 key + strlen(QUEUES_IN), growth_text(ctx, g, growth, sizeof(growth)));
	else if (!strncmp(key, FUTURES_IN, strlen(FUTURES_IN)))
		snprintf(buf, len,
			 "done futures kept in %s pile up: %s across the snapshots; they were resolved "
			 "or cancelled and never removed",
			 key + strlen(FUTURES_IN), growth_text(ctx, g, growth, sizeof(growth)));
	else if (grew)
		snprintf(buf, len,
			 "finished tasks of %s() are kept alive and pile up: %s across the snapshots",
			 key, growth_text(ctx, g, growth, sizeof(growth)));
	else
		snprintf(buf, len,
			 "%u finished tasks of %s() kept alive by a container, with their results and "
			 "exceptions",
			 count, key);
}

/* state: per task of the last snapshot, whether it is certain (piled_up) */
int retained_task_prepare(struct check_ctx *ctx, void **state)
{
	uint8_t *certain = calloc((size_t)ctx->last->aio.ntasks + 1, 1);
	if (!certain || piled_up(ctx, certain) < 0) {
		free(certain);
		return nomem(ctx);
	}
	*state = certain;
	return 0;
}
