/*
 * walk.c - the heap walk (see walk.h).
 *
 * Two passes over the heap. The first finds every object: those on the
 * collector's lists and the frames executing on threads, then,
 * transitively, everything they reference (refs.c) that the collector does
 * not track (str, int, atomic tuples, ...), giving each a dense id. The
 * second writes each object with its labelled edges as node ids, and the
 * records that describe coroutines, frames, asyncio objects and scalar
 * attributes; then the roots. Between and during the passes no Python code
 * runs and the collector is off, so the heap cannot change under the walk.
 */
#include <Python.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aio.h"
#include "asyncsnap/format.h"
#include "internals.h"
#include "mapped.h"
#include "pyframe.h"
#include "pyver.h"
#include "walkctx.h"

#define AGENT_ZSTD_LEVEL 1  /* the pause matters more than the last bytes */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- pass 1: find every object ----------------------------------------- */

static int add_tracked(PyObject *op, void *arg)
{
	return walk_add_object(arg, op) == UINT32_MAX ? -1 : 0;
}

/* Objects the last snapshot of this process found: the next one's size
 * hint (the walk holds the GIL, one at a time). */
static size_t last_objects;

/* The walk's tables, kept for the next walk of the process when small
 * (mapped_keep: under 4 MiB each). */
static struct spares {
	struct mapped_spare ids, types, label_cstr, label_obj, objs;
} spares;

static int count_tracked(PyObject *op, void *arg)
{
	(void)op;
	(*(size_t *)arg)++;
	return 0;
}

static int add_thread_frame(unsigned long thread_id, int depth, const void *bare,
			    PyObject *object, PyObject *gen, void *arg)
{
	struct walk *wk = arg;
	/* the root is what holds the frame's locals: the generator running
	 * it, the frame object (3.9/3.10), or the bare frame itself */
	uintptr_t node = gen ? (uintptr_t)gen
			     : bare ? (uintptr_t)bare | BARE_TAG : (uintptr_t)object;
	/* an executing frame object (3.9/3.10) is not on the collector's
	 * lists: nothing but this root would bring it in */
	if (!gen && walk_add_object(wk, (const void *)node) == UINT32_MAX)
		return 1;
	if (wk->nthreads == wk->threads_cap) {
		size_t cap = wk->threads_cap ? wk->threads_cap * 2 : 64;
		struct thread_root *t = realloc(wk->threads, cap * sizeof(*t));
		if (!t) {
			wk->oom = true;
			return 1;
		}
		wk->threads = t;
		wk->threads_cap = cap;
	}
	wk->threads[wk->nthreads++] = (struct thread_root){node, thread_id, depth};
	return 0;
}

/*
 * The starting points: everything on the collector's lists, sys.modules and
 * the frames executing on threads. What they reference joins the table as
 * write_objects() meets it.
 */
static int discover(struct walk *wk)
{
	if (asnap_py_gc_foreach(add_tracked, wk) < 0)
		return -1;
	walk_add_object(wk, PyImport_GetModuleDict());
	asnap_py_thread_frames(add_thread_frame, wk);
	return wk->oom ? -1 : 0;
}

/* ---- pass 2: write every object ---------------------------------------- */

/*
 * The ids of an object's referents come from the address map, one cache
 * miss each on a big heap. So an edge is queued with its referent and the
 * map slot it will look at is prefetched; its id is settled LAG edges
 * later, when that line has arrived, and the objects of a batch are written
 * once all their edges are settled. Ids are still given in the order the
 * edges are met.
 */
#define LAG WALK_LAG
#define BATCH 64 /* objects written at a time */

static int push_edge(struct walk *wk, const void *child, uint32_t label, uint8_t kind)
{
	if (wk->nedges == wk->ecap) {
		size_t cap = wk->ecap ? wk->ecap * 2 : 4096;
		struct asnap_edge *e = realloc(wk->edges, cap * sizeof(*e));
		if (!e) {
			wk->oom = true;
			return -1;
		}
		wk->edges = e;
		wk->ecap = cap;
	}
	ptrmap_prefetch(&wk->ids, (uintptr_t)child);
	wk->waiting[wk->nedges % LAG] = child;
	wk->edges[wk->nedges++] = (struct asnap_edge){UINT32_MAX, label, kind};
	return 0;
}

/* Give the queued edges up to `upto` their targets' ids. */
static int settle_edges(struct walk *wk, size_t upto)
{
	for (; wk->nsettled < upto; wk->nsettled++) {
		uint32_t id = walk_add_object(wk, wk->waiting[wk->nsettled % LAG]);
		if (id == UINT32_MAX)
			return -1;
		wk->edges[wk->nsettled].target = id;
	}
	return 0;
}

static int edge_ref(void *ctx, PyObject *child, const struct label *label, uint8_t kind)
{
	struct walk *wk = ctx;
	uint32_t l = walk_label_id(wk, label, &kind);
	if (push_edge(wk, child, l, kind) < 0)
		return 1;
	return wk->nedges - wk->nsettled == LAG && settle_edges(wk, wk->nsettled + 1) < 0 ? 1 : 0;
}

static int edge_local(PyObject *name, PyObject *value, void *arg)
{
	struct label l = {.kind = LABEL_NAME, .name = name};
	return edge_ref(arg, value, &l, ASNAP_EDGE_STRONG);
}

/* A bare frame's node, with its edges (its locals and code) queued. */
static void queue_bare(struct walk *wk, struct asnap_node *node, const void *f)
{
	static const struct label code = {.kind = LABEL_CSTR, .cstr = "f_code"};
	asnap_py_bare_locals(f, edge_local, wk);
	edge_ref(wk, (PyObject *)asnap_py_bare_code(f), &code, ASNAP_EDGE_STRONG);
	node->type = wk->frame_type;
	node->addr = (uint64_t)(uintptr_t)f;
	node->size = asnap_py_bare_bytes(f);
	node->refcnt = 0;
	node->flags = ASNAP_NODE_SYNTHETIC;
}

static void describe_bare(struct walk *wk, uint32_t id, const void *f)
{
	struct recb b;
	recb_begin(&b, wk, id, "frame");
	walk_code_props(&b, asnap_py_bare_code(f), asnap_py_bare_line(f), true);
	recb_bool(&b, "executing", true);
	recb_end(&b);
}

/*
 * The address written for op. CPython shares one object per int from -5
 * to 256, laid out in a table: the address of such an int tells its value.
 * Without values=True one of them is written under its address hashed
 * with the process's hash secret (the same in every snapshot of the
 * process, so diffs still match it), with the top bit set, which no
 * user-space address has.
 */
static uint64_t node_addr(const struct walk *wk, PyObject *op)
{
	if (wk->values || !PyLong_CheckExact(op))
		return (uint64_t)(uintptr_t)op;
	int overflow = 0;
	long long v = PyLong_AsLongLongAndOverflow(op, &overflow);
	if (v == -1 && PyErr_Occurred())
		PyErr_Clear();
	if (overflow || v < -5 || v > 256)
		return (uint64_t)(uintptr_t)op;
	Py_hash_t h = asnap_py_hash_bytes(&op, (Py_ssize_t)sizeof(op));
	return (uint64_t)(Py_uhash_t)h | (1ull << 63);
}

/* Object i's node, with its edges queued (their targets settled later). */
static int queue_object(struct walk *wk, size_t i, struct asnap_node *node)
{
	PyObject *op = wk->objs[i];
	*node = (struct asnap_node){.id = (uint32_t)i};
	size_t first = wk->nedges;
	if (is_bare(op)) {
		queue_bare(wk, node, bare_frame(op));
	} else {
		struct type_info *ti = walk_type_info(wk, Py_TYPE(op));
		if (!ti)
			return -1;
		if (PyObject_GC_IsTracked(op)) {
			node->flags |= ASNAP_NODE_GC_TRACKED;
			wk->tracked++;
		}
#if ASNAP_PY_HAS_IMMORTALS
		if (_Py_IsImmortal(op))
			node->flags |= ASNAP_NODE_IMMORTAL;
#endif
		if (refs_enumerate(&wk->refs, op, edge_ref, wk) < 0)
			wk->oom = true;
		node->type = ti->name;
		node->addr = node_addr(wk, op);
		node->size = walk_shallow_size(op, ti);
		node->refcnt = (uint64_t)Py_REFCNT(op);
	}
	if (wk->oom)
		return -1;
	node->nedges = (uint32_t)(wk->nedges - first);
	return 0;
}

/* Write every object in id order, BATCH at a time; wk->n grows as
 * referents are met. */
static int write_objects(struct walk *wk)
{
	struct asnap_node batch[BATCH];
	size_t first[BATCH]; /* where each one's edges start (wk->edges moves) */
	for (size_t i0 = 0; i0 < wk->n;) {
		size_t i1 = wk->n - i0 > BATCH ? i0 + BATCH : wk->n;
		wk->nedges = wk->nsettled = 0;
		for (size_t i = i0; i < i1; i++) {
			if (i + 4 < i1 && !is_bare(wk->objs[i + 4])) {
				/* the object, and the collector's header before it */
				__builtin_prefetch(wk->objs[i + 4]);
				__builtin_prefetch((char *)wk->objs[i + 4] - 16);
			}
			first[i - i0] = wk->nedges;
			if (queue_object(wk, i, &batch[i - i0]) < 0)
				return -1;
		}
		if (settle_edges(wk, wk->nedges) < 0)
			return -1;
		for (size_t i = i0; i < i1; i++) {
			struct asnap_node *node = &batch[i - i0];
			node->edges = wk->edges + first[i - i0];
			wk->total_edges += node->nedges;
			if (asnap_writer_node(wk->w, node) < 0)
				return -1;
			PyObject *op = wk->objs[i];
			if (is_bare(op))
				describe_bare(wk, (uint32_t)i, bare_frame(op));
			else
				walk_describe(wk, (uint32_t)i, op);
		}
		i0 = i1;
	}
	return 0;
}

static void write_roots(struct walk *wk)
{
	uint32_t modules = node_of(wk, PyImport_GetModuleDict());
	if (modules != UINT32_MAX) {
		struct asnap_root root = {modules, asnap_writer_intern_cstr(wk->w, "sys.modules"), 0};
		asnap_writer_root(wk->w, &root);
	}
	uint32_t kind = asnap_writer_intern_cstr(wk->w, "thread");
	for (size_t i = 0; i < wk->nthreads; i++) {
		uint32_t id = node_of(wk, (const void *)wk->threads[i].node);
		if (id == UINT32_MAX)
			continue;
		char label[64];
		int n = snprintf(label, sizeof(label), "thread %lu frame %d",
				 wk->threads[i].thread_id, wk->threads[i].depth);
		struct asnap_root root = {id, kind, asnap_writer_intern(wk->w, label, (size_t)n)};
		asnap_writer_root(wk->w, &root);
	}
}

int asnap_walk_snapshot(const char *path, const char *header_json,
			const struct asnap_walk_names *names,
			const struct asnap_walk_options *opts,
			struct asnap_walk_stats *stats, struct asnap_error *err)
{
	double t0 = now_ms();
	struct walk wk = {.names = names, .values = opts->values, .tracemalloc = opts->tracemalloc};
	int rc = -1;
	int was_enabled = 0;
	bool paused = false;
	*stats = (struct asnap_walk_stats){0};
	refs_init(&wk.refs);

	if (asnap_py_gc_collecting()) {
		asnap_error_set(err, ASNAP_ERR_USAGE,
				"a garbage collection is in progress (snapshot requested from a finalizer?)");
		return -1;
	}
	/* one zstd worker thread compresses while the walk goes on (it runs
	 * no Python code and touches only the writer's buffers); none in a
	 * fork child, where a new thread may get the stack of a thread that
	 * existed at the fork, and overwrite the frames the walk reads there */
	struct asnap_writer_options wopts = {.level = opts->level ? opts->level : AGENT_ZSTD_LEVEL,
					     .no_fsync = opts->no_fsync,
					     .workers = opts->fork_child ? 0 : 1,
					     .tmp_tag = opts->tmp_tag};
	wk.w = asnap_writer_create(path, &wopts, err);
	if (!wk.w)
		return -1;
	was_enabled = asnap_py_gc_pause();
	paused = true;
	double walk0 = now_ms();
	aio_begin();
	wk.refs.enum_meta = aio_enum_meta();
	wk.refs.values = wk.values;
	wk.refs.interned = asnap_py_interned_dict();
	/* size the object table for what the last snapshot found; the first
	 * time, for what the collector tracks and as many untracked referents
	 * (counting them is a walk of the lists of its own), or for three
	 * quarters of the allocator's blocks when more: those are objects and
	 * their buffers, 1.3 to 1.5 blocks an object in the heaps measured
	 * (untracked objects can be 3 in 4: a map that must grow during the
	 * walk rehashes, and holds both sizes for a moment) */
	size_t expect = last_objects;
	if (!expect) {
		asnap_py_gc_foreach(count_tracked, &expect);
		expect *= 2;
		size_t blocks = opts->blocks ? opts->blocks() : 0;
		if (blocks / 4 * 3 > expect)
			expect = blocks / 4 * 3;
	}
	expect += expect / 8 + 4096;
	size_t objs_bytes = expect * sizeof(*wk.objs);
	if (!ptrmap_init_spare(&wk.ids, expect, PTRMAP_WINDOW, &spares.ids) ||
	    !ptrmap_init_spare(&wk.types, 256, 0, &spares.types) ||
	    !ptrmap_init_spare(&wk.label_cstr, 256, 0, &spares.label_cstr) ||
	    !ptrmap_init_spare(&wk.label_obj, 4096, 0, &spares.label_obj) ||
	    !(wk.objs = mapped_reuse(&spares.objs, &objs_bytes, 0))) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory while walking the heap");
		goto out;
	}
	wk.cap = objs_bytes / sizeof(*wk.objs);
	asnap_writer_header(wk.w, header_json, strlen(header_json));
	wk.kind_value = asnap_writer_intern_cstr(wk.w, "value");
	wk.key_text = asnap_writer_intern_cstr(wk.w, "text");
	wk.key_bytes = asnap_writer_intern_cstr(wk.w, "bytes");
	wk.key_length = asnap_writer_intern_cstr(wk.w, "length");
	wk.value_label = asnap_writer_intern_cstr(wk.w, "value");
	wk.frame_type = asnap_writer_intern_cstr(wk.w, "builtins.frame");
	if (discover(&wk) < 0 || (write_objects(&wk) < 0 && wk.oom)) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory while walking the heap");
		goto out;
	}
	write_roots(&wk);
	double walk_ms = now_ms() - walk0;
	char trailer[640], warning[320] = "";
	/* (the warning is our own text, ASCII without quotes or backslashes) */
	const char *layout = aio_layout_warning();
	if (layout)
		snprintf(warning, sizeof(warning), ", \"warnings\": [\"%s\"]", layout);
	int tn = snprintf(trailer, sizeof(trailer),
			  "{\"walk_ms\": %.3f, \"pause_ms\": %.3f, \"objects\": %llu, \"edges\": %llu, "
			  "\"tracked\": %llu%s}",
			  walk_ms, now_ms() - t0, (unsigned long long)wk.n,
			  (unsigned long long)wk.total_edges, (unsigned long long)wk.tracked, warning);
	if (asnap_writer_commit(wk.w, trailer, (size_t)tn, &stats->file_bytes, err) < 0)
		goto out;
	asnap_writer_file_id(wk.w, &stats->file_dev, &stats->file_ino);
	stats->objects = wk.n;
	last_objects = wk.n;
	stats->tracked = wk.tracked;
	stats->edges = wk.total_edges;
	stats->walk_ms = walk_ms;
	rc = 0;
out:
	if (paused)
		asnap_py_gc_resume(was_enabled);
	asnap_writer_destroy(wk.w); /* removes the temporary file unless committed */
	ptrmap_keep(&wk.ids, &spares.ids);
	ptrmap_keep(&wk.types, &spares.types);
	ptrmap_keep(&wk.label_cstr, &spares.label_cstr);
	ptrmap_keep(&wk.label_obj, &spares.label_obj);
	refs_release(&wk.refs);
	mapped_keep(&spares.objs, wk.objs, wk.objs ? wk.cap * sizeof(*wk.objs) : 0);
	free(wk.tinfo);
	free(wk.edges);
	free(wk.threads);
	stats->pause_ms = now_ms() - t0;
	return rc;
}
