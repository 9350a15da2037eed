/*
 * checks.c - running the checks, and the grouping of candidates across
 * snapshots that every check uses (see checks.h, checks/internal.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks/internal.h"
#include "graph/paths.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"
#include "util/order.h"

/* The fewest objects a growth finding is about: one object that appeared
 * and stayed (a frame materialized on demand, a connection opened) is not
 * a pile-up. */
#define MIN_GROWTH 2

/* The table: designated initializers, so that its order is the enum's
 * whatever order the entries are in. Every entry is set (test-checks).
 * The names, what they find and the advice are the catalog users read
 * (leaks --help, docs/CHECKS.md); each scan and summary is in checks/. */
static const struct check_def checks[ASNAP_NCHECKS] = {
	[ASNAP_CHECK_UNAWAITED_COROUTINE] = {
		.name = "unawaited-coroutine",
		.what = "coroutines created and never awaited",
		.advice = "await the coroutine, or hand it to asyncio.create_task() / a "
			  "TaskGroup; never keep a coroutine object around without running it",
		.scan = unawaited_scan,
		.summary = unawaited_summary,
		.consumed = true,
	},
	[ASNAP_CHECK_PENDING_TASK] = {
		.name = "pending-task",
		.what = "tasks that can never finish, or pile up pending",
		.advice = "make sure something resolves what the task waits on, or cancel the "
			  "task (and await it) when its work is no longer wanted; keep tasks in a "
			  "TaskGroup or remove them when done",
		.scan = pending_task_scan,
		.summary = pending_task_summary,
	},
	[ASNAP_CHECK_RETAINED_TASK] = {
		.name = "retained-task",
		.what = "finished tasks, done futures, unread queues kept by containers",
		.advice = "drop finished tasks: task.add_done_callback(tasks.discard), or use a "
			  "TaskGroup; read result() or exception() and let go of the task",
		.scan = retained_task_scan,
		.summary = retained_task_summary,
		.prepare = retained_task_prepare,
		.release = free,
		.pile = true,
	},
	[ASNAP_CHECK_UNCLOSED_RESOURCE] = {
		.name = "unclosed-resource",
		.what = "sockets, transports, sessions, child processes never closed",
		.advice = "close it explicitly (await x.close(), writer.close(); await "
			  "writer.wait_closed()) or use async with; do not leave it to the "
			  "destructor",
		.scan = unclosed_resource_scan,
		.summary = unclosed_resource_summary,
	},
	[ASNAP_CHECK_PENDING_FUTURE] = {
		.name = "pending-future",
		.what = "futures never resolved, callbacks and waiters piling up",
		.advice = "resolve every future you create (set_result/set_exception, or cancel "
			  "it on every error and timeout path), and drop it from registries once "
			  "resolved",
		.scan = pending_future_scan,
		.summary = pending_future_summary,
		/* callbacks and waiters piling up on one future: piled_callbacks.c */
		.extra = &check_piled_callbacks,
	},
	[ASNAP_CHECK_UNCANCELLED_HANDLE] = {
		.name = "uncancelled-handle",
		.what = "call_soon/call_later handles never cancelled, piling up; self-re-arming "
			"timers multiplying",
		.advice = "keep the handle from call_later/call_soon and cancel() it when it is "
			  "no longer needed; do not let timers capture large objects",
		.scan = uncancelled_handle_scan,
		.summary = uncancelled_handle_summary,
		.min_certain = UNCANCELLED_PILE_MIN,
		.pile = true,
		/* timers that re-arm themselves, multiplying: uncancelled_handle.c */
		.extra = &check_timer_chains,
	},
	[ASNAP_CHECK_FRAME_CYCLE] = {
		.name = "frame-cycle",
		.what = "reference cycles through frames, coroutines, tracebacks",
		.advice = "do not keep a caught exception in a local of the frame it was raised "
			  "in (or store str(exc) / exc.with_traceback(None)); break "
			  "self/task/closure references when done",
		.scan = frame_cycle_scan,
		.summary = frame_cycle_summary,
		.prepare = frame_cycle_prepare,
		.release = free,
	},
};

static const struct check_def *check_def(int check)
{
	return check >= 0 && check < ASNAP_NCHECKS ? &checks[check] : NULL;
}

const char *asnap_check_name(int check)
{
	const struct check_def *d = check_def(check);
	return d ? d->name : "?";
}

const char *asnap_check_what(int check)
{
	const struct check_def *d = check_def(check);
	return d ? d->what : "";
}

const char *asnap_check_advice(int check)
{
	const struct check_def *d = check_def(check);
	return d ? d->advice : "";
}

int asnap_check_by_name(const char *name, size_t len)
{
	for (int i = 0; i < ASNAP_NCHECKS; i++)
		if (checks[i].name && strlen(checks[i].name) == len && !strncmp(checks[i].name, name, len))
			return i;
	return -1;
}

int nomem(struct check_ctx *ctx)
{
	return asnap_error_set(ctx->err, ASNAP_ERR_NOMEM, "out of memory running the checks");
}

const char *node_type(const struct asnap_snap *s, uint32_t v)
{
	return asnap_graph_string(s->g, s->g->type[v]);
}

const char *site_of(const struct asnap_snap *s, uint32_t v, char *buf, size_t len)
{
	return asnap_snap_site(s, v, buf, len);
}

const char *growth_text(const struct check_ctx *ctx, const struct group *g, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < ctx->nsnap && at + 16 < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%u", i ? " -> " : "", g->counts[i]);
	return buf;
}

uint8_t *held_from_outside(const struct asnap_snap *s)
{
	uint8_t *out = asnap_big_zalloc((size_t)s->g->n + 1, 1);
	if (!out || !s->has_ret)
		return out;
	for (uint32_t i = 0; i < s->ret.roots.nreal; i++)
		if (s->ret.roots.items[i].kind == ASNAP_ROOT_EXTERNAL)
			out[s->ret.roots.items[i].node] = 1;
	return out;
}

const char *short_type(const char *type)
{
	const char *dot = strrchr(type, '.');
	return dot && strncmp(type, "builtins.", 9) ? dot + 1 : type;
}

bool is_container_type(const char *type)
{
	return !strcmp(type, "builtins.set") || !strcmp(type, "builtins.list") ||
	       !strcmp(type, "builtins.dict") || !strcmp(type, "builtins.tuple") ||
	       !strcmp(type, "collections.deque") || !strcmp(type, "builtins.frozenset");
}

void grouping_init(struct grouping *gr, struct check_ctx *ctx)
{
	*gr = (struct grouping){.ctx = ctx, .min_certain = 1};
	asnap_strmap_init(&gr->keys);
}

void grouping_finish(struct grouping *gr)
{
	for (uint32_t i = 0; i < gr->ngroups; i++) {
		asnap_free_all(gr->groups[i].counts, gr->groups[i].members, gr->groups[i].site,
			       gr->groups[i].cycle);
	}
	free(gr->groups);
	asnap_strmap_finish(&gr->keys);
}

struct group *group_add(struct grouping *gr, uint32_t snap, const char *key, uint32_t v,
			bool certain, const char *site)
{
	if (gr->failed)
		return NULL;
	uint32_t idx = asnap_strmap_intern(&gr->keys, key, strlen(key));
	if (idx == UINT32_MAX)
		goto fail;
	if (idx == gr->ngroups) {
		struct group *more = asnap_grow(gr->groups, gr->ngroups, &gr->cap, sizeof(*more), 16);
		if (!more)
			goto fail;
		gr->groups = more;
		struct group *ng = &gr->groups[gr->ngroups];
		*ng = (struct group){0};
		ng->counts = calloc(gr->ctx->nsnap, sizeof(*ng->counts));
		if (!ng->counts)
			goto fail;
		gr->ngroups++;
	}
	struct group *g = &gr->groups[idx];
	g->counts[snap]++;
	if (snap + 1 != gr->ctx->nsnap || v == ASNAP_NO_NODE)
		return g;
	struct member *more = asnap_grow(g->members, g->nmembers, &g->cap, sizeof(*more), 16);
	if (!more)
		goto fail;
	g->members = more;
	g->members[g->nmembers++] = (struct member){v, certain, 0};
	if (certain)
		g->ncertain++;
	if (site && site[0] && !g->site && !(g->site = strdup(site)))
		goto fail;
	return g;
fail:
	gr->failed = true;
	return NULL;
}

/*
 * How member v of the last snapshot lived: PERSISTENT when it is alive in
 * every snapshot from the second on (with two snapshots: in both), and
 * BORN_KEPT when, besides, it was not there yet in the first: born after
 * the first snapshot and kept ever since. "Alive" is asnap_snap_match: the
 * same object, not a new one at a reused address.
 */
enum { PERSISTENT = 1, BORN_KEPT = 2 };

/* ctx->life: what the turns of the earlier snapshots found of a node. */
enum {
	LIFE_NEED = 1,  /* asked about in this turn */
	LIFE_SINCE = 2, /* alive in every earlier snapshot from the second (two: the first) */
	LIFE_FIRST = 4, /* alive in the first */
};

/*
 * asnap_snap_match, and for objects without an identity of their own (a
 * transport, a client, any instance): belonging to the same task, or to
 * none in both - a connection's transport at a reused address belongs to
 * a new request's handler task.
 */
static bool alive_in(const struct check_ctx *ctx, uint32_t v, const struct asnap_snap *in)
{
	const struct asnap_snap *last = ctx->last;
	uint32_t w = asnap_snap_match(last, v, in);
	if (w == ASNAP_NO_NODE)
		return false;
	if (last->aio.kind[v] != ASNAP_AIO_NONE)
		return true;
	uint32_t a = asnap_snap_owner_task(last, v), b = asnap_snap_owner_task(in, w);
	if (a == ASNAP_NO_NODE || b == ASNAP_NO_NODE)
		return a == b;
	return last->g->addr[a] == in->g->addr[b] &&
	       !strcmp(asnap_graph_string(last->g, asnap_aio_name(&last->aio, a)),
		       asnap_graph_string(in->g, asnap_aio_name(&in->aio, b)));
}

/* The first earlier snapshot of the PERSISTENT span. */
static uint32_t since_snap(const struct check_ctx *ctx)
{
	return ctx->nsnap == 2 ? 0 : 1;
}

static uint8_t lifetime(const struct check_ctx *ctx, uint32_t v)
{
	if (!ctx->life || !(ctx->life[v] & LIFE_SINCE))
		return 0;
	if (since_snap(ctx) == 0 || (ctx->life[v] & LIFE_FIRST))
		return PERSISTENT;
	return PERSISTENT | BORN_KEPT;
}

/*
 * The count rises from each snapshot to the next and ends at least
 * MIN_GROWTH higher. A steady population wobbles (172 -> 174 -> 174 jobs
 * queued for workers that drain them all in between); a leak under like
 * load adds at every step. Rising only sometimes is not evidence enough,
 * because survivors cannot make up for it: an address the allocator
 * reused for a new object of the same kind reads as a survivor.
 */
static bool count_grows(const struct check_ctx *ctx, const struct group *g)
{
	if (ctx->nsnap < 2 || !ctx->same_process)
		return false;
	for (uint32_t i = 1; i < ctx->nsnap; i++)
		if (g->counts[i] <= g->counts[i - 1])
			return false;
	return g->counts[ctx->nsnap - 1] >= g->counts[0] + MIN_GROWTH;
}

/*
 * Growth is proven by survivors, not by counts: with three or more
 * snapshots, at least MIN_GROWTH objects born after the first and kept
 * since, and at least a quarter of the growth (a leak keeps what it adds;
 * a steady in-flight population under load replaces its objects, which
 * then are not born-and-kept however the count wobbles). With two, at
 * least MIN_GROWTH alive in both.
 */
static bool survivors_grow(const struct check_ctx *ctx, const struct group *g, uint32_t npersist,
			   uint32_t nborn_kept)
{
	if (ctx->nsnap == 2)
		return npersist >= MIN_GROWTH;
	uint32_t growth = g->counts[ctx->nsnap - 1] - g->counts[0];
	return nborn_kept >= MIN_GROWTH && (uint64_t)nborn_kept * 4 >= growth;
}

/* The group's objects of the first snapshot are (nearly) all gone by the
 * last: fewer than 1 in 10 of them is among its certain objects there. A
 * backlog that workers drain; not a test's new leak (the group was empty
 * before it), nor one that keeps what it had. */
static bool consumed(const struct check_ctx *ctx, const struct group *g)
{
	uint32_t first = g->counts[0], kept = 0;
	if (!first)
		return false;
	for (uint32_t i = 0; ctx->life && i < g->nmembers; i++)
		if (g->members[i].certain && (ctx->life[g->members[i].node] & LIFE_FIRST))
			kept++;
	return (uint64_t)kept * 10 < first;
}

/* The evidence first, so that the chain shown and the owner named are of
 * an object that makes the finding (not of a constant bystander in the same
 * group: one connection's _closed future among 60 leaked replies), then
 * the most retained, then by id. */
static int by_retained(const void *x, const void *y)
{
	const struct asnap_finding_object *a = x, *b = y;
	return asnap_order(asnap_desc_u64(a->certain || a->born_kept, b->certain || b->born_kept),
			   asnap_desc_u64(a->retained, b->retained),
			   asnap_asc_u64(a->node, b->node));
}

void asnap_finding_release(struct asnap_finding *f)
{
	asnap_free_all(f->summary, f->group, f->site, f->fix, f->growth, f->objects, f->path);
	for (uint32_t i = 0; i < f->nalso; i++) {
		free(f->also[i].summary);
		free(f->also[i].group);
	}
	free(f->also);
	*f = (struct asnap_finding){0};
}

int grouping_emit(struct grouping *gr, int check, summary_fn *summary)
{
	struct check_ctx *ctx = gr->ctx;
	struct asnap_snap *s = ctx->last;
	if (gr->failed)
		return nomem(ctx);
	for (uint32_t gi = 0; gi < gr->ngroups; gi++) {
		struct group *g = &gr->groups[gi];
		if (!g->nmembers)
			continue;
		bool certain = g->ncertain > 0 && g->ncertain >= gr->min_certain;
		bool grew = count_grows(ctx, g);
		uint32_t npersist = 0, nborn_kept = 0;
		uint8_t *pers = asnap_big_zalloc(g->nmembers, 1);
		if (!pers)
			return nomem(ctx);
		/* Lifetimes are the evidence of growth, and for a finding certain
		 * from the last snapshot they say which of its objects were there
		 * before: the pytest plugin blames a test only for the new ones
		 * (docs/PYTEST.md). */
		if (grew || (certain && ctx->nsnap >= 2 && ctx->same_process)) {
			for (uint32_t i = 0; i < g->nmembers; i++) {
				if (!grew && !g->members[i].certain)
					continue;
				uint8_t life = lifetime(ctx, g->members[i].node);
				pers[i] = life;
				npersist += (life & PERSISTENT) != 0;
				nborn_kept += (life & BORN_KEPT) != 0;
			}
		}
		if (certain && !grew && ctx->nsnap >= 2 && ctx->same_process &&
		    (gr->pile || (gr->consumed && consumed(ctx, g))))
			certain = false; /* bounded, or consumed and replaced */
		if (grew)
			grew = survivors_grow(ctx, g, npersist, nborn_kept);
		if (!certain && !grew) {
			free(pers);
			continue;
		}
		struct asnap_finding f = {.check = check, .nsnap = ctx->nsnap};
		f.objects = asnap_big_zalloc(g->nmembers, sizeof(*f.objects));
		f.growth = malloc(ctx->nsnap * sizeof(*f.growth));
		f.group = strdup(gr->keys.keys[gi]);
		f.site = g->site ? strdup(g->site) : NULL;
		if (!f.objects || !f.growth || !f.group || (g->site && !f.site)) {
			free(pers);
			asnap_finding_release(&f);
			return nomem(ctx);
		}
		memcpy(f.growth, g->counts, ctx->nsnap * sizeof(*f.growth));
		for (uint32_t i = 0; i < g->nmembers; i++) {
			const struct member *m = &g->members[i];
			if (!grew && !m->certain)
				continue;
			struct asnap_finding_object *o = &f.objects[f.nobjects++];
			o->node = m->node;
			o->retained = m->retained ? m->retained
						  : asnap_dom_retained(&s->ret.dom, m->node);
			o->certain = m->certain;
			o->persistent = (pers[i] & PERSISTENT) != 0;
			o->born_kept = (pers[i] & BORN_KEPT) != 0;
			f.certain += m->certain;
			f.persistent += o->persistent;
			f.retained += o->retained;
		}
		free(pers);
		f.count = f.nobjects;
		if (f.nobjects > 1)
			qsort(f.objects, f.nobjects, sizeof(*f.objects), by_retained);
		/* (a copy: a rule's fix goes with the rules, which a run without
		 * rules of its own releases with the checks' state) */
		f.fix = strdup(g->fix ? g->fix : checks[check].advice);
		char buf[512];
		summary(ctx, gr->keys.keys[gi], g, f.count, grew && !certain, buf, sizeof(buf));
		if (g->cycle) {
			f.path = g->cycle;
			f.path_len = g->cycle_len;
			f.path_is_cycle = true;
			g->cycle = NULL;
		} else if (finding_path(ctx, f.objects, f.nobjects,
					check == ASNAP_CHECK_UNCLOSED_RESOURCE, &f.path,
					&f.path_len) < 0) {
			asnap_finding_release(&f);
			return -1;
		}
		f.summary = strdup(buf);
		struct asnap_findings *out = ctx->out;
		struct asnap_finding *more =
			asnap_grow(out->items, out->count, &out->cap, sizeof(*more), 8);
		if (more)
			out->items = more;
		if (!f.summary || !f.fix || !more) {
			asnap_finding_release(&f);
			return nomem(ctx);
		}
		out->items[out->count++] = f;
	}
	return 0;
}

/* Can the group still grow (count_grows), by its counts of the last
 * snapshot and of the earlier ones up to j? */
static bool may_grow(const struct check_ctx *ctx, const struct group *g, uint32_t j)
{
	uint32_t L = ctx->nsnap - 1;
	for (uint32_t i = 1; i <= j; i++)
		if (g->counts[i] <= g->counts[i - 1])
			return false;
	return g->counts[L] >= g->counts[0] + MIN_GROWTH && g->counts[L] >= g->counts[j] + (L - j);
}

/*
 * Mark the members whose lifetime grouping_emit may ask, after earlier
 * snapshot j is scanned: all those of a group that can still grow, the
 * certain ones of a group certain from the last snapshot (whether they
 * were there before says whether the group is consumed, and which objects
 * are new). What is not asked in one turn is not asked later: marks only
 * shrink from turn to turn.
 */
static void mark_members(const struct grouping *gr, uint32_t j, uint8_t *life)
{
	for (uint32_t gi = 0; gi < gr->ngroups; gi++) {
		const struct group *g = &gr->groups[gi];
		bool all = may_grow(gr->ctx, g, j);
		if (!all && !(g->ncertain > 0 && g->ncertain >= gr->min_certain))
			continue;
		for (uint32_t i = 0; i < g->nmembers; i++)
			if (all || g->members[i].certain)
				life[g->members[i].node] |= LIFE_NEED;
	}
}

/* Earlier snapshot j's part in the lifetimes of the marked nodes. */
static void live_in_turn(struct check_ctx *ctx, uint32_t j)
{
	const struct asnap_snap *in = ctx->snaps[j];
	uint32_t since = since_snap(ctx);
	uint8_t *life = ctx->life;
	for (uint32_t v = 0; v < ctx->last->g->n; v++) {
		uint8_t l = life[v];
		if (!(l & LIFE_NEED))
			continue;
		l &= (uint8_t)~LIFE_NEED;
		if (j == 0 || (j >= since && (l & LIFE_SINCE))) {
			bool alive = alive_in(ctx, v, in);
			if (j == 0 && alive)
				l |= LIFE_FIRST;
			if (j >= since && !alive)
				l &= (uint8_t)~LIFE_SINCE;
		}
		life[v] = l;
	}
}

/* What runs the checks: each one's state and grouping, and its extra
 * pass's. */
struct check_run {
	void *state, *extra;
	struct grouping gr;
	bool prepared, begun;
};

static void runs_release(struct check_run *runs)
{
	for (int c = 0; c < ASNAP_NCHECKS; c++) {
		const struct check_def *d = &checks[c];
		if (runs[c].prepared) {
			grouping_finish(&runs[c].gr);
			if (d->release)
				d->release(runs[c].state);
		}
		if (runs[c].begun)
			d->extra->release(runs[c].extra);
	}
}

/* Every check's turn with snapshot j (the last, then each earlier one). */
static int turn(struct check_ctx *ctx, struct check_run *runs, uint32_t j)
{
	uint32_t L = ctx->nsnap - 1;
	for (int c = 0; c < ASNAP_NCHECKS; c++) {
		const struct check_def *d = &checks[c];
		struct check_run *r = &runs[c];
		if (!(ctx->opt->mask & (1u << c)))
			continue;
		if (j == L) {
			if (d->prepare && d->prepare(ctx, &r->state) < 0)
				return -1;
			grouping_init(&r->gr, ctx);
			r->prepared = true;
			if (d->min_certain)
				r->gr.min_certain = d->min_certain;
			r->gr.pile = d->pile;
			r->gr.consumed = d->consumed;
		}
		if (d->scan(&r->gr, j, r->state) < 0)
			return -1;
		if (r->gr.failed)
			return nomem(ctx);
		if (d->extra && j == L) {
			r->begun = true;
			if (d->extra->begin(ctx, &r->extra) < 0)
				return -1;
		} else if (d->extra && d->extra->earlier(ctx, r->extra, j) < 0) {
			return -1;
		}
		if (j != L && ctx->life) {
			mark_members(&r->gr, j, ctx->life);
			if (d->extra)
				d->extra->mark(ctx, r->extra, ctx->life);
		}
	}
	if (j != L && ctx->life)
		live_in_turn(ctx, j);
	return 0;
}

/* Each check's findings: its groups', then its extra pass's. */
static int emit_all(struct check_ctx *ctx, struct check_run *runs)
{
	for (int c = 0; c < ASNAP_NCHECKS; c++) {
		const struct check_def *d = &checks[c];
		if (!runs[c].prepared)
			continue;
		if (grouping_emit(&runs[c].gr, c, d->summary) < 0 ||
		    (runs[c].begun && d->extra->end(ctx, runs[c].extra) < 0))
			return -1;
	}
	return 0;
}

int asnap_checks_run_input(const struct asnap_checks_input *in,
			   const struct asnap_checks_options *opt, struct asnap_findings *out,
			   struct asnap_error *err)
{
	*out = (struct asnap_findings){0};
	if (!in->nsnap)
		return asnap_error_set(err, ASNAP_ERR_USAGE, "the checks need a snapshot");
	uint32_t nsnap = in->nsnap, L = nsnap - 1;
	struct check_ctx ctx = {.snaps = in->snaps, .nsnap = nsnap, .same_process = true,
				.opt = opt, .out = out, .err = err};
	struct check_run runs[ASNAP_NCHECKS] = {0};
	struct asnap_rules builtin;
	asnap_rules_init(&builtin);
	ctx.rules = opt->rules;
	if (!ctx.rules) {
		if (asnap_rules_add_json(&builtin, asnap_builtin_rules, err) < 0) {
			asnap_rules_release(&builtin);
			return -1;
		}
		ctx.rules = &builtin;
	}
	for (uint32_t i = 0; i < L; i++)
		if (!asnap_snap_same_process(in->snaps[i], in->snaps[L]))
			ctx.same_process = false;
	if (nsnap > 1 && !ctx.same_process &&
	    !(out->warning = strdup("the snapshots are not all of one process: objects cannot be "
				    "matched, so only what the last snapshot shows alone is reported"))) {
		nomem(&ctx);
		goto error;
	}
	if (in->load && in->load(in->arg, L, err) < 0)
		goto error;
	ctx.last = in->snaps[L];
	if (asnap_snap_retention(ctx.last, err) < 0 ||
	    asnap_tasks_orphaned(ctx.last, &ctx.orphaned, err) < 0)
		goto error;
	if (nsnap >= 2 && ctx.same_process) {
		if (!(ctx.life = asnap_big_alloc((size_t)ctx.last->g->n + 1, 1))) {
			nomem(&ctx);
			goto error;
		}
		memset(ctx.life, LIFE_SINCE, (size_t)ctx.last->g->n + 1);
	}
	if (turn(&ctx, runs, L) < 0)
		goto error;
	/* the earlier snapshots one at a time: loaded, read, shed */
	for (uint32_t j = 0; j < L; j++) {
		if (in->load && in->load(in->arg, j, err) < 0)
			goto error;
		if (turn(&ctx, runs, j) < 0)
			goto error;
		if (opt->shed_earlier)
			asnap_snap_shed(in->snaps[j]);
	}
	if (emit_all(&ctx, runs) < 0 || findings_settle(&ctx) < 0)
		goto error;
	runs_release(runs);
	asnap_free_all(ctx.orphaned, ctx.loop_internals, ctx.life, ctx.pooled);
	asnap_rules_release(&builtin);
	return 0;
error:
	runs_release(runs);
	asnap_free_all(ctx.orphaned, ctx.loop_internals, ctx.life, ctx.pooled);
	asnap_rules_release(&builtin);
	asnap_findings_release(out);
	return -1;
}

int asnap_checks_run(struct asnap_snap **snaps, uint32_t nsnap,
		     const struct asnap_checks_options *opt, struct asnap_findings *out,
		     struct asnap_error *err)
{
	struct asnap_checks_input in = {.snaps = snaps, .nsnap = nsnap};
	return asnap_checks_run_input(&in, opt, out, err);
}

void asnap_findings_release(struct asnap_findings *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; i < f->count; i++)
		asnap_finding_release(&f->items[i]);
	asnap_free_all(f->items, f->warning);
	*f = (struct asnap_findings){0};
}
