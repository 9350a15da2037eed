/*
 * frame_cycle.c - the frame-cycle check: reference cycles through frames,
 * coroutines and tracebacks that only the cycle collector can free.
 *
 * In a live heap nearly everything is one big strongly connected component
 * (modules, functions, their globals), and every waiting task makes a
 * small cycle with its future's callback; neither is a leak. What is:
 *  - a frame that no longer runs and no live generator owns (it exists
 *    because a traceback or f_locals keeps it) on a short cycle of its own
 *    that passes through no module: the classic exception kept in a local,
 *    whose __traceback__ leads back to the frame;
 *  - a suspended or created coroutine or generator in a cycle no root
 *    reaches: garbage the collector has not freed yet (a task dropped while
 *    pending, a closure over its own frame).
 * A cycle some root keeps is certain from one snapshot. A cycle no root
 * reaches is garbage the cycle collector will free at its next run, which
 * costs memory for a while but is no leak: it is certain only when the
 * collector is disabled (the header's gc.enabled), and otherwise only looked
 * at when the collector is not doing its job (see collector_stalled):
 * then cycles of one function that survive across snapshots and grow are
 * reported. Across snapshots,
 * the frames of a function that persist and grow in number are reported
 * as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "graph/paths.h"
#include "util/bigarray.h"
#include "util/freeall.h"

#define MAX_DEPTH ASNAP_CYCLES_MAX_LEN
#define MAX_VISIT 50000

/* Mark the frames on a thread's stack (the agent's "thread" roots): they
 * run, even where the snapshot does not say so (3.9, 3.10). */
static uint8_t *stack_frames(const struct asnap_snap *s)
{
	const struct asnap_graph *g = s->g;
	static const char *const name[] = {"thread"};
	uint32_t thread;
	asnap_strings_resolve(g, name, &thread, 1);
	uint8_t *on = asnap_big_zalloc((size_t)g->n + 1, 1);
	if (!on || !thread)
		return on;
	for (uint64_t i = 0; i < g->nroots; i++)
		if (g->roots[i].kind == thread && g->roots[i].node < g->n)
			on[g->roots[i].node] = 1;
	return on;
}

/* A frame that a traceback or f_locals keeps: not running, no live owner. */
static bool loose_frame(const struct asnap_snap *s, const uint8_t *stack, uint32_t v)
{
	return !stack[v] && !(s->g->flags[v] & ASNAP_NODE_SYNTHETIC) &&
	       asnap_aio_frame_done(&s->aio, v);
}

static bool live_gen(const struct asnap_aio_coro *c)
{
	return c && (c->state == ASNAP_GEN_SUSPENDED || c->state == ASNAP_GEN_CREATED);
}

static bool has_type(const struct asnap_snap *s, const uint32_t *cyc, uint32_t n, const char *t)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(node_type(s, cyc[i]), t))
			return true;
	return false;
}

/* The cycle's own members: frames, coroutines and generators, tracebacks,
 * and an exception (what refers to its traceback by __traceback__). The
 * others - the program's objects a frame's self or locals lead to on the
 * way round - are kept for reasons of their own. */
static bool own_member(const struct asnap_snap *s, const uint32_t *cyc, uint32_t n, uint32_t i,
		       uint32_t traceback, uint32_t tb_label)
{
	const struct asnap_graph *g = s->g;
	uint8_t k = s->aio.kind[cyc[i]];
	if (k == ASNAP_AIO_FRAME || k == ASNAP_AIO_CORO || (traceback && g->type[cyc[i]] == traceback))
		return true;
	uint64_t e = asnap_graph_edge_between(g, cyc[i], cyc[(i + 1) % n]);
	return tb_label && e != UINT64_MAX && g->edge_label[e] == tb_label;
}

/* Running code on the cycle, or alone keeping one of the cycle's own
 * members from outside (its immediate dominator): a local it will replace
 * or drop when it goes on. aiohttp's connection handler keeps the last
 * response - an HTTPNotFound its request handler raised, whose traceback
 * holds the frame that caught it in a local - until the next request. A
 * program's object that running code holds (the service in main()'s
 * local, whose errors list keeps the exception) keeps it for good. */
static bool held_by_running_code(const struct asnap_snap *s, const uint32_t *cyc, uint32_t n,
				 uint32_t traceback, uint32_t tb_label)
{
	const struct asnap_aio *a = &s->aio;
	const uint32_t *idom = s->ret.dom.idom;
	for (uint32_t i = 0; i < n; i++) {
		if (asnap_aio_runs_again(a, cyc[i]))
			return true;
		uint32_t d = idom[cyc[i]];
		bool inside = false;
		for (uint32_t j = 0; j < n && !inside; j++)
			inside = cyc[j] == d;
		if (!inside && d < s->g->n && asnap_aio_runs_again(a, d) &&
		    own_member(s, cyc, n, i, traceback, tb_label))
			return true;
	}
	return false;
}

enum { UNDECIDED, COUNTED, COVERED, PASSED };

/* Whether member i counts (see cycle_retained): by the member that is its
 * immediate dominator, when one is. */
static uint8_t decide(const struct asnap_snap *s, const uint32_t *cyc, uint32_t n,
		      const bool *own, uint8_t *state, uint32_t i)
{
	if (state[i] != UNDECIDED)
		return state[i];
	uint32_t up = s->ret.dom.idom[cyc[i]], j = 0;
	while (j < n && cyc[j] != up)
		j++;
	uint8_t above = j < n ? decide(s, cyc, n, own, state, j) : PASSED;
	if (above == COUNTED || above == COVERED)
		state[i] = COVERED;
	else
		state[i] = own[i] ? COUNTED : PASSED;
	return state[i];
}

/*
 * Bytes the cycle keeps: the retained sizes of its topmost members in the
 * dominator tree (those whose immediate dominator is not a member) - when
 * garbage, all of it is the cycle's. Where such a member is one of the
 * program's objects that the cycle passes through (a long-lived client
 * whose errors list keeps the exception), its retained size is the whole
 * object's, not the cycle's: the cycle's own members below it count
 * instead (the exception, with its traceback and frame).
 */
static uint64_t cycle_retained(const struct asnap_snap *s, const uint32_t *cyc, uint32_t n,
			       uint32_t traceback, uint32_t tb_label)
{
	bool own[MAX_DEPTH];
	uint8_t state[MAX_DEPTH] = {UNDECIDED};
	for (uint32_t i = 0; i < n; i++)
		own[i] = own_member(s, cyc, n, i, traceback, tb_label) ||
			 asnap_dom_is_garbage(&s->ret.dom, cyc[i]);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++)
		if (decide(s, cyc, n, own, state, i) == COUNTED)
			sum += asnap_dom_retained(&s->ret.dom, cyc[i]);
	return sum;
}

/* Count the candidates of an earlier snapshot: its loose frames and, when
 * the last snapshot has garbage coroutines on cycles (`garbage_coros`),
 * its own garbage coroutines (which needs its retention). */
static int scan_earlier(struct grouping *gr, uint32_t snap, bool garbage_coros)
{
	struct asnap_snap *s = gr->ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	if (garbage_coros && asnap_snap_retention(s, gr->ctx->err) < 0)
		return -1;
	uint8_t *stack = stack_frames(s);
	if (!stack)
		return nomem(gr->ctx);
	for (uint32_t i = 0; i < a->nframes; i++) {
		uint32_t v = a->frames[i].node;
		if (!loose_frame(s, stack, v))
			continue;
		uint32_t q = a->frames[i].qualname;
		if (!group_add(gr, snap, q ? asnap_graph_string(s->g, q) : "<frame>", v, false, NULL)) {
			free(stack);
			return nomem(gr->ctx);
		}
	}
	for (uint32_t i = 0; garbage_coros && i < a->ncoros; i++) {
		uint32_t v = a->coros[i].node, q = a->coros[i].qualname;
		if (!live_gen(&a->coros[i]) || !asnap_dom_is_garbage(&s->ret.dom, v))
			continue;
		if (!group_add(gr, snap, q ? asnap_graph_string(s->g, q) : "<frame>", v, false, NULL)) {
			free(stack);
			return nomem(gr->ctx);
		}
	}
	free(stack);
	return 0;
}

/*
 * Garbage that survives is a leak only when the collector is not running
 * as it should: automatic collection is off (gc.set_threshold(0)), or a
 * full collection ran while the survivors that prove growth were alive
 * and the garbage is still there (gc.freeze(), finalizers, a collector
 * that cannot free it). Those survivors are alive from the second
 * snapshot on (from the first, with two snapshots; see checks.c), so the
 * collection must have run after it: garbage made after the one full
 * collection between the first two snapshots has met none yet. Otherwise
 * garbage - even garbage seen in several snapshots, a few seconds of an
 * idle program where no collection ran - is freed the next time the
 * collector runs.
 */
static bool collector_stalled(const struct check_ctx *ctx)
{
	const struct asnap_snap *last = ctx->last;
	if (last->gc_threshold0 == 0)
		return true;
	if (ctx->nsnap < 2 || !ctx->same_process)
		return false;
	const struct asnap_snap *since = ctx->snaps[ctx->nsnap == 2 ? 0 : 1];
	return since->gc_full >= 0 && last->gc_full > since->gc_full;
}

/* The cycle is frame -[local]-> exception -[__traceback__]-> traceback ...
 * -> the frame: the frame keeps the exception it caught. */
static bool own_exception(const struct asnap_graph *g, const uint32_t *cyc, uint32_t n,
			  uint32_t traceback, uint32_t tb_label)
{
	if (n < 3 || !traceback || !tb_label || g->type[cyc[n - 1]] != traceback)
		return false;
	uint64_t e = asnap_graph_edge_between(g, cyc[1], cyc[2]);
	return e != UINT64_MAX && g->edge_label[e] == tb_label;
}

static int scan_last(struct grouping *gr, bool *garbage_coros)
{
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->last;
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	struct asnap_path_ws ws = {0};
	uint8_t *avoid = asnap_retention_module_set(&s->ret);
	uint8_t *used = asnap_big_zalloc((size_t)g->n + 1, 1);
	uint8_t *stack = stack_frames(s);
	uint32_t cyc[MAX_DEPTH];
	int rc = 0;
	if (!avoid || !used || !stack || asnap_path_ws_init(&ws, g->n, ctx->err) < 0) {
		rc = nomem(ctx);
		goto out;
	}
	/* frames first - those whose own exception leads back to them through
	 * its traceback before the others, so that a cycle through the frame
	 * that raised and its callers (3.12+ link a frame to its caller's) is
	 * the raiser's - then garbage coroutines and generators */
	uint32_t traceback = asnap_graph_find_string(g, "builtins.traceback");
	uint32_t tb_label = asnap_graph_find_string(g, "__traceback__");
	for (int pass = -1; pass < 2; pass++) {
		for (uint32_t v = 0; v < g->n; v++) {
			uint32_t name;
			char site[512] = "";
			if (pass <= 0) {
				if (a->kind[v] != ASNAP_AIO_FRAME || !loose_frame(s, stack, v))
					continue;
				name = a->frames[asnap_aio_index(a, v)].qualname;
			} else {
				if (a->kind[v] != ASNAP_AIO_CORO || !live_gen(&a->coros[asnap_aio_index(a, v)]) ||
				    !asnap_dom_is_garbage(&s->ret.dom, v))
					continue;
				name = a->coros[asnap_aio_index(a, v)].qualname;
			}
			if (used[v])
				continue;
			uint32_t n = asnap_path_short_cycle(g, &s->ret.scc, v, avoid, MAX_DEPTH,
							    MAX_VISIT, &ws, cyc, NULL);
			if (pass < 0 && !own_exception(g, cyc, n, traceback, tb_label))
				continue; /* not its own exception: the next pass */
			const char *key = name ? asnap_graph_string(g, name) : "<frame>";
			site_of(s, v, site, sizeof(site));
			if (!n) {
				bool freeable = asnap_dom_is_garbage(&s->ret.dom, v) && !s->gc_disabled &&
						!collector_stalled(ctx);
				if (pass == 0 && !freeable &&
				    !group_add(gr, ctx->nsnap - 1, key, v, false, site))
					goto nomem_out;
				continue;
			}
			for (uint32_t i = 0; i < n; i++)
				used[cyc[i]] = 1;
			bool garbage = asnap_dom_is_garbage(&s->ret.dom, v);
			if (garbage && !s->gc_disabled && !collector_stalled(ctx))
				continue; /* the collector frees it when it next runs */
			/* a live cycle that running code holds passes; one that
			 * grows is still found across snapshots */
			bool certain = garbage ? s->gc_disabled
					       : !held_by_running_code(s, cyc, n, traceback, tb_label);
			*garbage_coros |= pass == 1 && !certain;
			struct group *grp = group_add(gr, ctx->nsnap - 1, key, v, certain, site);
			if (!grp)
				goto nomem_out;
			uint64_t kept = cycle_retained(s, cyc, n, traceback, tb_label);
			grp->members[grp->nmembers - 1].retained = kept;
			if (!grp->cycle || kept > grp->cycle_retained) {
				uint32_t *copy = malloc(n * sizeof(*copy));
				if (!copy)
					goto nomem_out;
				memcpy(copy, cyc, n * sizeof(*copy));
				free(grp->cycle);
				grp->cycle = copy;
				grp->cycle_len = n;
				grp->cycle_retained = kept;
			}
		}
	}
	goto out;
nomem_out:
	rc = nomem(ctx);
out:
	asnap_path_ws_finish(&ws);
	asnap_free_all(avoid, used, stack);
	return rc;
}

void frame_cycle_summary(const struct check_ctx *ctx, const char *key, const struct group *g,
			 uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	const struct asnap_snap *s = ctx->last;
	bool garbage = g->cycle && asnap_dom_is_garbage(&s->ret.dom, g->cycle[0]);
	if (grew) {
		snprintf(buf, len,
			 "frames of %s() kept alive by reference cycles pile up: %s across the "
			 "snapshots%s",
			 key, growth_text(ctx, g, growth, sizeof(growth)),
			 garbage ? "; they are garbage the cycle collector has not freed in time"
				 : "");
		return;
	}
	bool tb = g->cycle && has_type(s, g->cycle, g->cycle_len, "builtins.traceback");
	/* the exception in a local of the frame, or held by what the frame's
	 * locals lead to (self.last_error = exc): the chain shows which */
	bool local = tb && own_exception(s->g, g->cycle, g->cycle_len,
					 asnap_graph_find_string(s->g, "builtins.traceback"),
					 asnap_graph_find_string(s->g, "__traceback__"));
	snprintf(buf, len, "%u reference cycle%s through %s() %s%s", g->ncertain,
		 g->ncertain == 1 ? "" : "s", key,
		 local ? "frames: an exception kept in a local leads back to its frame through "
			 "__traceback__"
		 : tb ? "frames: an exception whose __traceback__ leads back to the frame is kept by "
			"an object the frame's locals reach"
		      : "frames: the frame's locals lead back to it",
		 garbage ? "; no root reaches them and the cycle collector is disabled "
			   "(gc.disable())"
			 : "");
	(void)count;
}

/* The last snapshot is scanned first: what it finds (garbage coroutines)
 * decides how the earlier ones are read. state: that finding, a bool. */
int frame_cycle_scan(struct grouping *gr, uint32_t snap, void *state)
{
	bool *garbage_coros = state;
	return snap + 1 == gr->ctx->nsnap ? scan_last(gr, garbage_coros)
					  : scan_earlier(gr, snap, *garbage_coros);
}

int frame_cycle_prepare(struct check_ctx *ctx, void **state)
{
	if (!(*state = calloc(1, sizeof(bool))))
		return nomem(ctx);
	return 0;
}
