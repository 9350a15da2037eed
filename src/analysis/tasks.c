/*
 * tasks.c - task views and the wake-up analysis (see tasks.h).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/strings.h"
#include "analysis/tasks.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/order.h"

#define MAX_CHAIN 64
#define MAX_REFS 8

enum {
	REACHED = 1,   /* queued at least once */
	EXPANDED = 2,  /* its references followed */
	BARRIER = 4,   /* part of a blocked task: not followed until it wakes */
	UNLOCKED = 8,  /* its task woke */
	PARKED = 16,   /* reached while locked */
	WAITED = 32,   /* some blocked task waits on it */
	ROOT = 64,     /* a root: whatever it is, it runs */
};

static bool future_pending(const struct asnap_aio *a, uint32_t f)
{
	const struct asnap_aio_future *fu = asnap_aio_future(a, f);
	if (fu)
		return fu->state == ASNAP_FUT_PENDING;
	const struct asnap_aio_task *t = asnap_aio_task(a, f);
	return t && t->state == ASNAP_FUT_PENDING;
}

static bool task_blocked(const struct asnap_aio *a, const struct asnap_aio_task *t)
{
	return t->state == ASNAP_FUT_PENDING && t->waiting_on != ASNAP_NO_NODE &&
	       future_pending(a, t->waiting_on);
}

/* The nodes of a blocked task that stay locked until it wakes: the task,
 * its coroutine chain and their frames. Returns how many (at most max). */
static uint32_t task_chain(const struct asnap_aio *a, const struct asnap_aio_task *t, uint32_t *out,
			   uint32_t max)
{
	uint32_t n = 0;
	out[n++] = t->node;
	uint32_t c = t->coro;
	while (n + 2 <= max) {
		const struct asnap_aio_coro *co = asnap_aio_coro(a, c);
		if (!co)
			break;
		out[n++] = co->node;
		if (co->frame != ASNAP_NO_NODE)
			out[n++] = co->frame;
		if (co->awaiting == c)
			break;
		c = co->awaiting;
	}
	return n;
}

static uint32_t thread_root_kind(const struct asnap_graph *g)
{
	static const char *const name[] = {"thread"};
	uint32_t id;
	asnap_strings_resolve(g, name, &id, 1);
	return id;
}

void asnap_tasks_mark_main(const struct asnap_snap *s, uint8_t *main)
{
	const struct asnap_graph *g = s->g;
	/* what loop.run_until_complete() (asyncio.run's) adds to the task it
	 * runs: found also where the thread running the loop is not in the
	 * snapshot (a fork-mode snapshot of a loop in another thread) */
	uint32_t done_cb = asnap_graph_find_string(g, "_run_until_complete_cb");
	for (uint32_t t = 0; done_cb && t < s->aio.ntasks; t++)
		if (s->aio.tasks[t].callback_name == done_cb)
			main[t] = 1;
	uint32_t thread = thread_root_kind(g);
	if (!thread)
		return;
	for (uint64_t i = 0; i < g->nroots; i++) {
		const struct asnap_root *r = &g->roots[i];
		if (r->kind != thread || r->node >= g->n)
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, r->node); e < asnap_graph_edge_end(g, r->node); e++) {
			uint32_t w = g->edge_target[e];
			if (s->aio.kind[w] == ASNAP_AIO_TASK)
				main[asnap_aio_index(&s->aio, w)] = 1;
		}
	}
}


struct wake {
	const struct asnap_snap *s;
	uint8_t *st;
	uint32_t *queue;
	uint64_t head, tail;
	uint8_t *woken;        /* per task index */
	uint32_t *chain_start; /* per task index + 1 */
	uint32_t *chain;
	struct asnap_pair *waiters; /* (future, task index), sorted */
	uint32_t nwaiters;
};

static void enqueue(struct wake *w, uint32_t v)
{
	w->queue[w->tail++] = v;
}

static void reach(struct wake *w, uint32_t v)
{
	if (w->st[v] & REACHED)
		return;
	w->st[v] |= REACHED;
	enqueue(w, v);
}

static void wake_task(struct wake *w, uint32_t t)
{
	if (w->woken[t])
		return;
	w->woken[t] = 1;
	for (uint32_t i = w->chain_start[t]; i < w->chain_start[t + 1]; i++) {
		uint32_t x = w->chain[i];
		uint8_t before = w->st[x];
		w->st[x] |= UNLOCKED;
		if (before & EXPANDED)
			continue;
		if (!(before & REACHED) || (before & PARKED)) {
			w->st[x] = (uint8_t)((w->st[x] | REACHED) & ~PARKED);
			enqueue(w, x);
		}
	}
}

/* How far a live handle's callback and arguments reach for a task they
 * can cancel or resume: bound method -> its object -> (__dict__ ->) task,
 * as asyncio.timeout's and async_timeout's TimerHandle -> Timeout._on_timeout
 * -> Timeout -> _task; a function -> __closure__ -> cell -> task; or an
 * argument itself. */
#define HANDLE_DEPTH 3
#define HANDLE_BUDGET 64

/* What the search from a handle does not follow: into what leads
 * everywhere (a function's globals and builtins, its code, classes). */
struct handle_walk {
	uint32_t skip_label[4];
	uint32_t type_type;
};

static void handle_walk_init(struct handle_walk *hw, const struct asnap_graph *g)
{
	static const char *const labels[] = {"__globals__", "__builtins__", "__class__", "__code__"};
	asnap_strings_resolve(g, labels, hw->skip_label, 4);
	hw->type_type = asnap_graph_find_string(g, "builtins.type");
}

/*
 * A handle reached from live code will run (a cancelled one has let go of
 * its callback): a blocked task its callback or arguments reach within
 * HANDLE_DEPTH references - not through modules, types, loops or other
 * handles - can be cancelled or resumed by it (a timeout cancels the task
 * it guards), so that task is not orphaned, whatever it awaits.
 */
static void wake_from_handle(struct wake *w, const struct handle_walk *hw, uint32_t h)
{
	const struct asnap_graph *g = w->s->g;
	const struct asnap_aio *a = &w->s->aio;
	const struct asnap_aio_handle *hd = &a->handles[asnap_aio_index(a, h)];
	uint32_t seen[HANDLE_BUDGET], depth[HANDLE_BUDGET];
	uint32_t n = 0, head = 0;
	if (hd->cancelled)
		return;
	if (hd->callback != ASNAP_NO_NODE && hd->callback < g->n) {
		seen[n] = hd->callback;
		depth[n++] = 0;
	}
	if (hd->args != ASNAP_NO_NODE && hd->args < g->n && hd->args != hd->callback) {
		seen[n] = hd->args;
		depth[n++] = 0;
	}
	while (head < n) {
		uint32_t v = seen[head], d = depth[head++];
		uint8_t kind = a->kind[v];
		if (kind == ASNAP_AIO_TASK) {
			wake_task(w, asnap_aio_index(a, v));
			continue;
		}
		if (d >= HANDLE_DEPTH || kind == ASNAP_AIO_HANDLE || kind == ASNAP_AIO_LOOP ||
		    (w->s->module_type && g->type[v] == w->s->module_type) ||
		    (hw->type_type && g->type[v] == hw->type_type))
			continue;
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
			uint32_t x = g->edge_target[e], label = g->edge_label ? g->edge_label[e] : 0;
			bool skip = !asnap_graph_edge_is_strong(g, e);
			for (uint32_t i = 0; i < n && !skip; i++)
				skip = seen[i] == x;
			for (int i = 0; i < 4 && !skip; i++)
				skip = label && label == hw->skip_label[i];
			if (skip)
				continue;
			if (n == HANDLE_BUDGET)
				return;
			seen[n] = x;
			depth[n++] = d + 1;
		}
	}
}

/*
 * A task held in a local of live code can be cancelled by it: the
 * fixture or main() that made it, suspended at its yield or await, cancels
 * and awaits it when it resumes (`task = create_task(serve()); yield;
 * task.cancel()`, where serve() awaits a future of its own forever).
 */
static void wake_held_tasks(struct wake *w, uint32_t v)
{
	const struct asnap_graph *g = w->s->g;
	const struct asnap_aio *a = &w->s->aio;
	if (!asnap_aio_runs_again(a, v))
		return;
	for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++) {
		uint32_t t = g->edge_target[e];
		if (asnap_graph_edge_is_strong(g, e) && a->kind[t] == ASNAP_AIO_TASK)
			wake_task(w, asnap_aio_index(a, t));
	}
}

/* Frame objects of finished calls: no "frame" record property says they
 * run (executing) or belong to a generator that may resume. */
struct dead_frames {
	uint32_t type, kind, executing, generator;
};

static void dead_frames_init(struct dead_frames *df, const struct asnap_graph *g)
{
	df->type = asnap_graph_find_string(g, "builtins.frame");
	df->kind = asnap_graph_find_string(g, "frame");
	df->executing = asnap_graph_find_string(g, "executing");
	df->generator = asnap_graph_find_string(g, "generator");
}

static bool dead_frame(const struct dead_frames *df, const struct asnap_graph *g, uint32_t v)
{
	if (!df->type || df->type == ASNAP_NO_NODE || g->type[v] != df->type ||
	    (g->flags[v] & ASNAP_NODE_SYNTHETIC))
		return false;
	uint64_t count;
	const struct asnap_record *rec = asnap_graph_records(g, v, &count);
	for (uint64_t i = 0; i < count; i++) {
		if (rec[i].kind != df->kind)
			continue;
		for (uint32_t p = 0; p < rec[i].nprops; p++)
			if (rec[i].props[p].key == df->executing || rec[i].props[p].key == df->generator)
				return false;
		return true;
	}
	return false; /* no record: an older agent; assume it may run */
}

int asnap_tasks_orphaned(const struct asnap_snap *s, uint8_t **orphaned, struct asnap_error *err)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	uint32_t nt = a->ntasks;
	struct wake w = {.s = s};
	uint8_t *main = NULL, *out = NULL;
	int rc = -1;
	*orphaned = NULL;
	w.st = asnap_big_zalloc((size_t)g->n + 1, 1);
	/* a node is queued once when reached and at most once more on waking */
	w.queue = asnap_big_alloc((size_t)g->n * 2 + 1, sizeof(*w.queue));
	w.woken = asnap_big_zalloc((size_t)nt + 1, 1);
	main = asnap_big_zalloc((size_t)nt + 1, 1);
	out = asnap_big_zalloc((size_t)nt + 1, 1);
	w.chain_start = asnap_big_zalloc((size_t)nt + 1, sizeof(*w.chain_start));
	w.chain = asnap_big_alloc((size_t)nt * MAX_CHAIN + 1, sizeof(*w.chain));
	w.waiters = asnap_big_alloc((size_t)nt + 1, sizeof(*w.waiters));
	if (!w.st || !w.queue || !w.woken || !main || !out || !w.chain_start || !w.chain ||
	    !w.waiters)
		goto nomem;
	asnap_tasks_mark_main(s, main);
	uint32_t used = 0;
	for (uint32_t t = 0; t < nt; t++) {
		w.chain_start[t] = used;
		const struct asnap_aio_task *task = &a->tasks[t];
		if (!task_blocked(a, task)) {
			w.woken[t] = 1; /* runnable, running or done: nothing to wait for */
			continue;
		}
		uint32_t n = task_chain(a, task, w.chain + used, MAX_CHAIN);
		for (uint32_t i = 0; i < n; i++)
			w.st[w.chain[used + i]] |= BARRIER;
		used += n;
		w.waiters[w.nwaiters++] = (struct asnap_pair){task->waiting_on, t};
		w.st[task->waiting_on] |= WAITED;
	}
	w.chain_start[nt] = used;
	if (w.nwaiters > 1)
		qsort(w.waiters, w.nwaiters, sizeof(*w.waiters), asnap_pair_cmp);

	for (uint32_t i = 0; i < s->ret.roots.nreal; i++) {
		w.st[s->ret.roots.items[i].node] |= ROOT;
		reach(&w, s->ret.roots.items[i].node);
	}
	struct dead_frames df;
	dead_frames_init(&df, g);
	struct handle_walk hw;
	handle_walk_init(&hw, g);
	while (w.head < w.tail) {
		uint32_t v = w.queue[w.head++];
		uint8_t st = w.st[v];
		if (st & EXPANDED)
			continue;
		/* a finished frame kept by a traceback runs no code again: what
		 * only its locals hold can never be resolved through it */
		if (!(st & ROOT) && dead_frame(&df, g, v)) {
			w.st[v] |= EXPANDED;
			continue;
		}
		if ((st & BARRIER) && !(st & UNLOCKED)) {
			w.st[v] |= PARKED;
			continue;
		}
		w.st[v] |= EXPANDED;
		if (a->kind[v] == ASNAP_AIO_HANDLE)
			wake_from_handle(&w, &hw, v);
		wake_held_tasks(&w, v);
		if (st & WAITED) {
			uint32_t lo = (uint32_t)asnap_lower_bound(w.waiters, w.nwaiters,
								  sizeof(*w.waiters), 0, v);
			for (; lo < w.nwaiters && w.waiters[lo].key == v; lo++)
				wake_task(&w, w.waiters[lo].val);
		}
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++)
			reach(&w, g->edge_target[e]);
	}
	for (uint32_t t = 0; t < nt; t++)
		out[t] = !w.woken[t] && !main[t];
	*orphaned = out;
	out = NULL;
	rc = 0;
	goto cleanup;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory following what can wake tasks");
cleanup:
	asnap_free_all(w.st, w.queue, w.woken, w.chain_start, w.chain, w.waiters, main, out);
	return rc;
}

static int by_score(const void *x, const void *y)
{
	const struct asnap_task_view *a = x, *b = y;
	return asnap_order(asnap_desc_i64(a->score, b->score),
			   asnap_desc_u64(a->retained, b->retained),
			   asnap_asc_u64(a->node, b->node));
}

static bool is_container(const char *type)
{
	return !strcmp(type, "builtins.set") || !strcmp(type, "builtins.list") ||
	       !strcmp(type, "builtins.dict") || !strcmp(type, "builtins.tuple") ||
	       !strcmp(type, "collections.deque") || !strcmp(type, "builtins.frozenset") ||
	       !strcmp(type, "weakref.WeakSet") || !strcmp(type, "_weakrefset.WeakSet");
}

/* A container with a name (held under a label) first, then by type and
 * label: tasks alike list their referrers alike */
static int ref_order(const struct asnap_graph *g, const struct asnap_task_ref *x,
		     const struct asnap_task_ref *y)
{
	return asnap_order(asnap_desc_u64(x->holder != ASNAP_NO_NODE, y->holder != ASNAP_NO_NODE),
			   asnap_asc_u64(g->type[x->node], g->type[y->node]),
			   asnap_asc_u64(x->label, y->label), asnap_asc_u64(x->node, y->node));
}

/* at most MAX_REFS: an insertion sort */
static void sort_refs(const struct asnap_graph *g, struct asnap_task_ref *r, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		struct asnap_task_ref x = r[i];
		uint32_t j = i;
		for (; j > 0 && ref_order(g, &x, &r[j - 1]) < 0; j--)
			r[j] = r[j - 1];
		r[j] = x;
	}
}

/* Pools for the tasks' chains and referrers, one block each for all
 * tasks (a block per task made 400,000 small allocations for 200,000
 * tasks, and the chains' took 256 bytes each to hold four ids). While
 * they grow a task's list is an offset; the pointers are set at the end. */
struct pools {
	uint32_t *chain;
	uint64_t nchain, cap_chain;
	struct asnap_task_ref *refs;
	uint64_t nrefs, cap_refs;
};

static bool pool_room(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	uint64_t c = *cap ? *cap * 2 : 1024;
	while (c < need)
		c *= 2;
	void *q = asnap_big_realloc(*p, (size_t)c, elem);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

/* Who references v (reverse index needed); at most MAX_REFS, appended to
 * the pool. */
static int fill_refs(const struct asnap_graph *g, struct asnap_task_view *t, struct pools *pl,
		     struct asnap_edge_finder *edges)
{
	uint32_t v = t->node;
	uint32_t n = g->rev_start[v + 1] - g->rev_start[v];
	if (!pool_room((void **)&pl->refs, &pl->cap_refs,
		       pl->nrefs + (n < MAX_REFS ? n : MAX_REFS), sizeof(*pl->refs)))
		return -1;
	struct asnap_task_ref *refs = pl->refs + pl->nrefs;
	for (uint32_t i = g->rev_start[v]; i < g->rev_start[v + 1]; i++) {
		uint32_t r = g->rev_source[i];
		if (t->nrefs == MAX_REFS) {
			t->more_refs++;
			continue;
		}
		struct asnap_task_ref *ref = &refs[t->nrefs++];
		/* a set of 100k tasks is scanned once, not once per task */
		uint64_t e = asnap_edge_finder_find(edges, g, r, v);
		ref->node = r;
		ref->label = e != UINT64_MAX ? g->edge_label[e] : 0;
		ref->holder = ASNAP_NO_NODE;
		ref->holder_label = 0;
		if (is_container(asnap_graph_string(g, g->type[r])) &&
		    g->rev_start[r + 1] > g->rev_start[r]) {
			/* the first holder of the container that labels it */
			for (uint32_t j = g->rev_start[r]; j < g->rev_start[r + 1]; j++) {
				uint32_t h = g->rev_source[j];
				uint64_t he = asnap_edge_finder_find(edges, g, h, r);
				if (he != UINT64_MAX && g->edge_label[he]) {
					ref->holder = h;
					ref->holder_label = g->edge_label[he];
					break;
				}
			}
		}
	}
	sort_refs(g, refs, t->nrefs);
	pl->nrefs += t->nrefs;
	return 0;
}

/* The pools' pointers into each task, in the order they were filled. */
static void point_into_pools(struct asnap_task_view *v, uint32_t nt, struct pools *pl)
{
	uint64_t c = 0, r = 0;
	for (uint32_t i = 0; i < nt; i++) {
		v[i].chain = pl->chain + c;
		c += v[i].chain_len;
		v[i].refs = pl->refs ? pl->refs + r : NULL;
		r += v[i].nrefs;
	}
	/* the element past the last owns the pools */
	v[nt].chain = pl->chain;
	v[nt].refs = pl->refs;
	*pl = (struct pools){0};
}

int asnap_tasks_view(struct asnap_snap *s, bool referrers, struct asnap_task_view **out,
		     uint32_t *count, struct asnap_error *err)
{
	const struct asnap_aio *a = &s->aio;
	uint32_t nt = a->ntasks;
	*out = NULL;
	*count = 0;
	if (asnap_snap_retention(s, err) < 0)
		return -1;
	uint8_t *orphaned = NULL, *main = NULL;
	struct pools pl = {0};
	struct asnap_task_view *v = asnap_big_zalloc((size_t)nt + 1, sizeof(*v));
	main = asnap_big_zalloc((size_t)nt + 1, 1);
	if (!v || !main || !pool_room((void **)&pl.chain, &pl.cap_chain, (uint64_t)nt * 4 + 1,
				      sizeof(*pl.chain)))
		goto nomem;
	if (asnap_tasks_orphaned(s, &orphaned, err) < 0)
		goto error;
	asnap_tasks_mark_main(s, main);
	for (uint32_t i = 0; i < nt; i++) {
		const struct asnap_aio_task *t = &a->tasks[i];
		struct asnap_task_view *x = &v[i];
		x->node = t->node;
		x->index = i;
		x->state = t->state;
		x->name = t->name;
		x->coro = t->coro;
		x->waiting_on = t->waiting_on;
		x->blocked = task_blocked(a, t);
		x->orphaned = orphaned[i];
		x->main = main[i];
		x->garbage = asnap_dom_is_garbage(&s->ret.dom, t->node);
		x->retained = asnap_dom_retained(&s->ret.dom, t->node);
		x->leaf = asnap_aio_leaf_coro(a, t->coro, MAX_CHAIN);
		if (!pool_room((void **)&pl.chain, &pl.cap_chain, pl.nchain + MAX_CHAIN,
			       sizeof(*pl.chain)))
			goto nomem;
		uint32_t *chain = pl.chain + pl.nchain;
		uint32_t c = t->coro;
		while (x->chain_len + 1 < MAX_CHAIN && c != ASNAP_NO_NODE) {
			chain[x->chain_len++] = c;
			const struct asnap_aio_coro *co = asnap_aio_coro(a, c);
			if (!co || co->awaiting == c)
				break;
			c = co->awaiting;
		}
		if (t->waiting_on != ASNAP_NO_NODE &&
		    (x->chain_len == 0 || chain[x->chain_len - 1] != t->waiting_on))
			chain[x->chain_len++] = t->waiting_on;
		pl.nchain += x->chain_len;
		if (x->orphaned)
			x->score = 5;
		else if (x->state == ASNAP_FUT_PENDING && x->garbage)
			x->score = 4;
		else if (x->state != ASNAP_FUT_PENDING && !x->garbage)
			x->score = 2;
		else if (x->blocked && !x->main)
			x->score = 1;
	}
	if (referrers) {
		bool had_reverse = s->g->rev_start != NULL; /* kept by asnap_snap_load */
		if (asnap_graph_index_reverse(s->g, err) < 0)
			goto error;
		struct asnap_edge_finder edges = {0};
		for (uint32_t i = 0; i < nt; i++) {
			if (fill_refs(s->g, &v[i], &pl, &edges) < 0) {
				asnap_edge_finder_release(&edges);
				if (!had_reverse)
					asnap_graph_drop_reverse(s->g);
				goto nomem;
			}
		}
		asnap_edge_finder_release(&edges);
		if (!had_reverse)
			asnap_graph_drop_reverse(s->g);
	}
	point_into_pools(v, nt, &pl);
	if (nt > 1)
		qsort(v, nt, sizeof(*v), by_score);
	free(orphaned);
	free(main);
	*out = v;
	*count = nt;
	return 0;
nomem:
	asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory describing tasks");
error:
	asnap_free_all(pl.chain, pl.refs, v, orphaned, main);
	return -1;
}

void asnap_tasks_free(struct asnap_task_view *t, uint32_t count)
{
	if (!t)
		return;
	asnap_free_all(t[count].chain, t[count].refs, t);
}

const char *asnap_task_verdict(const struct asnap_task_view *t)
{
	if (t->orphaned)
		return "orphaned";
	if (t->state == ASNAP_FUT_PENDING) {
		if (t->garbage)
			return "dropped";
		if (t->main)
			return "main";
		return t->blocked ? "waiting" : "runnable";
	}
	return t->garbage ? "garbage" : asnap_fut_state_name(t->state);
}
