/*
 * aio.c - the asyncio facts of a snapshot, from its records (see aio.h).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/aio.h"
#include "analysis/strings.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"

/* Every string the records are read by, resolved to ids in one pass. */
enum {
	K_TASK, K_FUTURE, K_COROUTINE, K_GENERATOR, K_ASYNC_GENERATOR, K_HANDLE, K_LOOP,
	K_SOCKET, K_FRAME, K_ATTRS,
	P_STATE, P_CALLBACKS, P_LOOP, P_RESULT, P_EXCEPTION, P_NAME, P_CORO, P_WAITING_ON,
	P_MUST_CANCEL, P_CANCEL_REQUESTED, P_QUALNAME, P_FILE, P_FIRST_LINE, P_LINE,
	P_AWAITING, P_FRAME, P_CALLBACK, P_CALLBACK_NAME, P_ARGS, P_CANCELLED, P_WHEN,
	P_SCHEDULED, P_READY, P_READY_COUNT, P_SCHEDULED_COUNT, P_RUNNING, P_CLOSED, P_FD,
	P_FAMILY, P_TYPE, P_GENERATOR, P_EXECUTING,
	S_PENDING, S_CANCELLED, S_FINISHED, S_CREATED, S_SUSPENDED, S_RUNNING, S_CLOSED,
	T_NONE,
	NNAMES
};

static const char *const names[NNAMES] = {
	"task", "future", "coroutine", "generator", "async_generator", "handle", "loop",
	"socket", "frame", "attrs",
	"state", "callbacks", "loop", "result", "exception", "name", "coro", "waiting_on",
	"must_cancel", "cancel_requested", "qualname", "file", "first_line", "line",
	"awaiting", "frame", "callback", "callback_name", "args", "cancelled", "when",
	"scheduled", "ready", "ready_count", "scheduled_count", "running", "closed", "fd",
	"family", "type", "generator", "executing",
	"pending", "cancelled", "finished", "created", "suspended", "running", "closed",
	"builtins.NoneType",
};

struct reader {
	const struct asnap_graph *g;
	uint32_t id[NNAMES];
};

static uint32_t pnode(const struct asnap_value *v)
{
	return v->type == ASNAP_VAL_NODE ? v->u.node : ASNAP_NO_NODE;
}

static uint32_t pstr(const struct asnap_value *v)
{
	return v->type == ASNAP_VAL_STR ? v->u.str : 0;
}

static int64_t pint(const struct asnap_value *v)
{
	if (v->type == ASNAP_VAL_INT)
		return v->u.i;
	if (v->type == ASNAP_VAL_BOOL)
		return v->u.b;
	return 0;
}

static bool pbool(const struct asnap_value *v)
{
	return v->type == ASNAP_VAL_BOOL ? v->u.b : v->type == ASNAP_VAL_INT ? v->u.i != 0 : false;
}

static double pfloat(const struct asnap_value *v)
{
	return v->type == ASNAP_VAL_FLOAT ? v->u.f : v->type == ASNAP_VAL_INT ? (double)v->u.i : 0;
}

static uint8_t fut_state(const struct reader *r, const struct asnap_value *v)
{
	uint32_t s = pstr(v);
	if (!s)
		return ASNAP_FUT_UNKNOWN;
	if (s == r->id[S_PENDING])
		return ASNAP_FUT_PENDING;
	if (s == r->id[S_CANCELLED])
		return ASNAP_FUT_CANCELLED;
	if (s == r->id[S_FINISHED])
		return ASNAP_FUT_FINISHED;
	return ASNAP_FUT_UNKNOWN;
}

static uint8_t gen_state(const struct reader *r, const struct asnap_value *v)
{
	uint32_t s = pstr(v);
	if (!s)
		return ASNAP_GEN_UNKNOWN;
	if (s == r->id[S_CREATED])
		return ASNAP_GEN_CREATED;
	if (s == r->id[S_SUSPENDED])
		return ASNAP_GEN_SUSPENDED;
	if (s == r->id[S_RUNNING])
		return ASNAP_GEN_RUNNING;
	if (s == r->id[S_CLOSED])
		return ASNAP_GEN_CLOSED;
	return ASNAP_GEN_UNKNOWN;
}

/* Grow an array of `elem`-byte items to hold one more. */
static void *push(void **arr, uint32_t *count, uint32_t *cap, size_t elem)
{
	void *p = asnap_grow(*arr, *count, cap, elem, 64);
	if (!p)
		return NULL;
	*arr = p;
	void *slot = (char *)*arr + (size_t)(*count)++ * elem;
	memset(slot, 0, elem);
	return slot;
}

struct caps {
	uint32_t tasks, futures, coros, handles, loops, sockets, frames;
	uint32_t *index; /* per node, while building: then index_kinds */
};

/* A task or a future: its state, result, callbacks and, for a task, its coroutine and what it waits on. */
static int read_task_or_future(struct asnap_aio *a, const struct reader *r, struct caps *cap,
			       const struct asnap_record *rec, uint32_t v)
{
	const uint32_t *id = r->id;
	uint32_t k = rec->kind;
	bool task = k == id[K_TASK];
	struct asnap_aio_task t = {.node = v, .coro = ASNAP_NO_NODE,
				   .waiting_on = ASNAP_NO_NODE, .loop = ASNAP_NO_NODE,
				   .result = ASNAP_NO_NODE, .exception = ASNAP_NO_NODE};
	for (uint32_t i = 0; i < rec->nprops; i++) {
		uint32_t key = rec->props[i].key;
		const struct asnap_value *val = &rec->props[i].value;
		if (key == id[P_STATE])
			t.state = fut_state(r, val);
		else if (key == id[P_CALLBACKS])
			t.callbacks = pint(val);
		else if (key == id[P_LOOP])
			t.loop = pnode(val);
		else if (key == id[P_RESULT])
			t.result = pnode(val);
		else if (key == id[P_EXCEPTION])
			t.exception = pnode(val);
		else if (key == id[P_NAME])
			t.name = pstr(val);
		else if (key == id[P_CALLBACK_NAME])
			t.callback_name = pstr(val);
		else if (key == id[P_CORO])
			t.coro = pnode(val);
		else if (key == id[P_WAITING_ON])
			t.waiting_on = pnode(val);
		else if (key == id[P_MUST_CANCEL])
			t.must_cancel = pbool(val);
		else if (key == id[P_CANCEL_REQUESTED])
			t.cancel_requested = pint(val);
	}
	if (task) {
		struct asnap_aio_task *slot = push((void **)&a->tasks, &a->ntasks, &cap->tasks,
						   sizeof(*slot));
		if (!slot)
			return -1;
		*slot = t;
		a->kind[v] = ASNAP_AIO_TASK;
		cap->index[v] = a->ntasks - 1;
	} else {
		struct asnap_aio_future *slot = push((void **)&a->futures, &a->nfutures,
						     &cap->futures, sizeof(*slot));
		if (!slot)
			return -1;
		*slot = (struct asnap_aio_future){v, t.state, t.callbacks, t.loop, t.result,
						  t.exception};
		a->kind[v] = ASNAP_AIO_FUTURE;
		cap->index[v] = a->nfutures - 1;
	}
	return 0;
}

/* A coroutine, generator or async generator: its state, code and what it awaits. */
static int read_coro(struct asnap_aio *a, const struct reader *r, struct caps *cap,
		     const struct asnap_record *rec, uint32_t v)
{
	const uint32_t *id = r->id;
	uint32_t k = rec->kind;
	struct asnap_aio_coro *c = push((void **)&a->coros, &a->ncoros, &cap->coros, sizeof(*c));
	if (!c)
		return -1;
	*c = (struct asnap_aio_coro){.node = v, .awaiting = ASNAP_NO_NODE,
				     .frame = ASNAP_NO_NODE};
	c->kind = k == id[K_COROUTINE]  ? ASNAP_GEN_COROUTINE
		  : k == id[K_GENERATOR] ? ASNAP_GEN_GENERATOR
					 : ASNAP_GEN_ASYNC_GENERATOR;
	for (uint32_t i = 0; i < rec->nprops; i++) {
		uint32_t key = rec->props[i].key;
		const struct asnap_value *val = &rec->props[i].value;
		if (key == id[P_STATE])
			c->state = gen_state(r, val);
		else if (key == id[P_QUALNAME])
			c->qualname = pstr(val);
		else if (key == id[P_FILE])
			c->file = pstr(val);
		else if (key == id[P_FIRST_LINE])
			c->first_line = pint(val);
		else if (key == id[P_LINE])
			c->line = pint(val);
		else if (key == id[P_AWAITING])
			c->awaiting = pnode(val);
		else if (key == id[P_FRAME])
			c->frame = pnode(val);
	}
	a->kind[v] = ASNAP_AIO_CORO;
	cap->index[v] = a->ncoros - 1;
	return 0;
}

/* A Handle or TimerHandle: its callback, arguments and whether it is cancelled. */
static int read_handle(struct asnap_aio *a, const struct reader *r, struct caps *cap,
		       const struct asnap_record *rec, uint32_t v)
{
	const uint32_t *id = r->id;
	struct asnap_aio_handle *h = push((void **)&a->handles, &a->nhandles, &cap->handles,
					  sizeof(*h));
	if (!h)
		return -1;
	*h = (struct asnap_aio_handle){.node = v, .callback = ASNAP_NO_NODE,
				       .args = ASNAP_NO_NODE, .loop = ASNAP_NO_NODE};
	for (uint32_t i = 0; i < rec->nprops; i++) {
		uint32_t key = rec->props[i].key;
		const struct asnap_value *val = &rec->props[i].value;
		if (key == id[P_CALLBACK])
			h->callback = pnode(val);
		else if (key == id[P_CALLBACK_NAME])
			h->callback_name = pstr(val);
		else if (key == id[P_ARGS])
			h->args = pnode(val);
		else if (key == id[P_LOOP])
			h->loop = pnode(val);
		else if (key == id[P_CANCELLED])
			h->cancelled = pbool(val);
		else if (key == id[P_WHEN]) {
			h->when = pfloat(val);
			h->timer = true;
		} else if (key == id[P_SCHEDULED]) {
			h->scheduled = pbool(val);
			h->timer = true;
		}
	}
	a->kind[v] = ASNAP_AIO_HANDLE;
	cap->index[v] = a->nhandles - 1;
	return 0;
}

/* An event loop: its ready queue and scheduled timers. */
static int read_loop(struct asnap_aio *a, const struct reader *r, struct caps *cap,
		     const struct asnap_record *rec, uint32_t v)
{
	const uint32_t *id = r->id;
	struct asnap_aio_loop *l = push((void **)&a->loops, &a->nloops, &cap->loops, sizeof(*l));
	if (!l)
		return -1;
	*l = (struct asnap_aio_loop){.node = v, .ready = ASNAP_NO_NODE,
				     .scheduled = ASNAP_NO_NODE};
	for (uint32_t i = 0; i < rec->nprops; i++) {
		uint32_t key = rec->props[i].key;
		const struct asnap_value *val = &rec->props[i].value;
		if (key == id[P_READY])
			l->ready = pnode(val);
		else if (key == id[P_SCHEDULED])
			l->scheduled = pnode(val);
		else if (key == id[P_READY_COUNT])
			l->ready_count = pint(val);
		else if (key == id[P_SCHEDULED_COUNT])
			l->scheduled_count = pint(val);
		else if (key == id[P_RUNNING])
			l->running = pbool(val);
		else if (key == id[P_CLOSED])
			l->closed = pbool(val);
	}
	a->kind[v] = ASNAP_AIO_LOOP;
	cap->index[v] = a->nloops - 1;
	return 0;
}

/* A socket: its descriptor, family, type and whether it is closed. */
static int read_socket(struct asnap_aio *a, const struct reader *r, struct caps *cap,
		       const struct asnap_record *rec, uint32_t v)
{
	const uint32_t *id = r->id;
	struct asnap_aio_socket *s = push((void **)&a->sockets, &a->nsockets, &cap->sockets,
					  sizeof(*s));
	if (!s)
		return -1;
	*s = (struct asnap_aio_socket){.node = v, .fd = -1};
	for (uint32_t i = 0; i < rec->nprops; i++) {
		uint32_t key = rec->props[i].key;
		const struct asnap_value *val = &rec->props[i].value;
		if (key == id[P_FD])
			s->fd = pint(val);
		else if (key == id[P_FAMILY])
			s->family = pint(val);
		else if (key == id[P_TYPE])
			s->type = pint(val);
		else if (key == id[P_CLOSED])
			s->closed = pbool(val);
	}
	a->kind[v] = ASNAP_AIO_SOCKET;
	cap->index[v] = a->nsockets - 1;
	return 0;
}

/* A frame: its code, line and generator. */
static int read_frame(struct asnap_aio *a, const struct reader *r, struct caps *cap,
		      const struct asnap_record *rec, uint32_t v)
{
	const uint32_t *id = r->id;
	struct asnap_aio_frame *f = push((void **)&a->frames, &a->nframes, &cap->frames,
					 sizeof(*f));
	if (!f)
		return -1;
	*f = (struct asnap_aio_frame){.node = v, .generator = ASNAP_NO_NODE};
	for (uint32_t i = 0; i < rec->nprops; i++) {
		uint32_t key = rec->props[i].key;
		const struct asnap_value *val = &rec->props[i].value;
		if (key == id[P_QUALNAME])
			f->qualname = pstr(val);
		else if (key == id[P_FILE])
			f->file = pstr(val);
		else if (key == id[P_FIRST_LINE])
			f->first_line = pint(val);
		else if (key == id[P_LINE])
			f->line = pint(val);
		else if (key == id[P_GENERATOR])
			f->generator = pnode(val);
		else if (key == id[P_EXECUTING])
			f->executing = pbool(val);
	}
	a->kind[v] = ASNAP_AIO_FRAME;
	cap->index[v] = a->nframes - 1;
	return 0;
}

/* Which array a record of kind k goes to. */
enum rec_class { R_TASK, R_FUTURE, R_CORO, R_HANDLE, R_LOOP, R_SOCKET, R_FRAME, R_NONE };

static enum rec_class record_class(const uint32_t *id, uint32_t k)
{
	/* a kind absent from the snapshot has id 0, which no record has */
	if (k == 0)
		return R_NONE;
	if (k == id[K_TASK])
		return R_TASK;
	if (k == id[K_FUTURE])
		return R_FUTURE;
	if (k == id[K_COROUTINE] || k == id[K_GENERATOR] || k == id[K_ASYNC_GENERATOR])
		return R_CORO;
	if (k == id[K_HANDLE])
		return R_HANDLE;
	if (k == id[K_LOOP])
		return R_LOOP;
	if (k == id[K_SOCKET])
		return R_SOCKET;
	if (k == id[K_FRAME])
		return R_FRAME;
	return R_NONE;
}

static int add_record(struct asnap_aio *a, const struct reader *r, struct caps *cap,
		      const struct asnap_record *rec)
{
	uint32_t v = rec->node;
	if (v >= a->g->n)
		return 0;
	switch (record_class(r->id, rec->kind)) {
	case R_TASK:
	case R_FUTURE:
		return read_task_or_future(a, r, cap, rec, v);
	case R_CORO:
		return read_coro(a, r, cap, rec, v);
	case R_HANDLE:
		return read_handle(a, r, cap, rec, v);
	case R_LOOP:
		return read_loop(a, r, cap, rec, v);
	case R_SOCKET:
		return read_socket(a, r, cap, rec, v);
	case R_FRAME:
		return read_frame(a, r, cap, rec, v);
	case R_NONE:
		break;
	}
	return 0;
}

static bool is_awaited_by_label(const struct asnap_aio *a, uint32_t label)
{
	return label && (label == a->awaited_by_label[0] || label == a->awaited_by_label[1]);
}

bool asnap_aio_awaited_by_edge(const struct asnap_aio *a, uint32_t v, uint64_t e)
{
	if (is_awaited_by_label(a, a->g->edge_label[e]))
		return true;
	return a->awaited_by_set && v < a->g->n && (a->awaited_by_set[v >> 3] >> (v & 7)) & 1;
}

/* Each array as long as the records of its kinds: no growing (200,000
 * tasks' coroutines were copied ten times over). */
static bool reserve(struct asnap_aio *a, const struct reader *r, struct caps *cap)
{
	const struct asnap_graph *g = a->g;
	uint32_t n[R_NONE + 1] = {0};
	for (uint64_t i = 0; i < g->nrecords; i++)
		n[record_class(r->id, g->records[i].kind)]++;
	struct {
		void **arr;
		uint32_t want, *cap;
		size_t elem;
	} const arrays[] = {
		{(void **)&a->tasks, n[R_TASK], &cap->tasks, sizeof(*a->tasks)},
		{(void **)&a->futures, n[R_FUTURE], &cap->futures, sizeof(*a->futures)},
		{(void **)&a->coros, n[R_CORO], &cap->coros, sizeof(*a->coros)},
		{(void **)&a->handles, n[R_HANDLE], &cap->handles, sizeof(*a->handles)},
		{(void **)&a->loops, n[R_LOOP], &cap->loops, sizeof(*a->loops)},
		{(void **)&a->sockets, n[R_SOCKET], &cap->sockets, sizeof(*a->sockets)},
		{(void **)&a->frames, n[R_FRAME], &cap->frames, sizeof(*a->frames)},
	};
	for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
		if (!arrays[i].want)
			continue;
		*arrays[i].arr = asnap_big_alloc(arrays[i].want, arrays[i].elem);
		if (!*arrays[i].arr)
			return false;
		*arrays[i].cap = arrays[i].want;
	}
	return true;
}

/*
 * The index of each node of a kind in the array of its kind, kept for those
 * nodes only (asnap_aio_index): a few in a thousand of a heap, where an
 * index per node cost 4 bytes an object of every snapshot loaded.
 */
static int index_kinds(struct asnap_aio *a, const uint32_t *index)
{
	uint32_t n = a->g->n;
	size_t words = (size_t)n / 64 + 1;
	a->marked = asnap_big_zalloc(words, sizeof(*a->marked));
	a->rank = asnap_big_alloc(words, sizeof(*a->rank));
	if (!a->marked || !a->rank)
		return -1;
	for (uint32_t v = 0; v < n; v++)
		if (a->kind[v] != ASNAP_AIO_NONE)
			a->marked[v >> 6] |= UINT64_C(1) << (v & 63);
	uint32_t total = 0;
	for (size_t w = 0; w < words; w++) {
		a->rank[w] = total;
		total += (uint32_t)__builtin_popcountll(a->marked[w]);
	}
	if (!(a->slot = asnap_big_alloc((size_t)total + 1, sizeof(*a->slot))))
		return -1;
	for (uint32_t v = 0, k = 0; v < n; v++)
		if (a->kind[v] != ASNAP_AIO_NONE)
			a->slot[k++] = index[v];
	return 0;
}

int asnap_aio_build(const struct asnap_graph *g, struct asnap_aio *a, struct asnap_error *err)
{
	*a = (struct asnap_aio){.g = g};
	struct reader r = {.g = g};
	asnap_strings_resolve(g, names, r.id, NNAMES);
	a->attrs_kind = r.id[K_ATTRS];
	a->none_type = r.id[T_NONE];
	a->dict_label = asnap_graph_find_string(g, "__dict__");
	a->int_type = asnap_graph_find_string(g, "builtins.int");
	a->float_type = asnap_graph_find_string(g, "builtins.float");
	struct caps cap = {0};
	a->kind = asnap_big_zalloc((size_t)g->n + 1, 1);
	cap.index = asnap_big_alloc((size_t)g->n + 1, sizeof(*cap.index));
	if (!a->kind || !cap.index || !reserve(a, &r, &cap))
		goto nomem;
	for (uint64_t i = 0; i < g->nrecords; i++)
		if (add_record(a, &r, &cap, &g->records[i]) < 0)
			goto nomem;
	if (index_kinds(a, cap.index) < 0)
		goto nomem;
	free(cap.index);
	cap.index = NULL;
	a->awaited_by_label[0] = asnap_graph_find_string(g, "_asyncio_awaited_by");
	a->awaited_by_label[1] = asnap_graph_find_string(g, "_Future__asyncio_awaited_by");
	if (a->awaited_by_label[0] || a->awaited_by_label[1]) {
		a->awaited_by_set = asnap_big_zalloc((size_t)g->n / 8 + 1, 1);
		if (!a->awaited_by_set)
			goto nomem;
		uint32_t set_type = asnap_graph_find_string(g, "builtins.set");
		for (uint32_t v = 0; v < g->n; v++) {
			if (a->kind[v] != ASNAP_AIO_TASK && a->kind[v] != ASNAP_AIO_FUTURE)
				continue;
			for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v);
			     e++) {
				uint32_t w = g->edge_target[e];
				if (is_awaited_by_label(a, g->edge_label[e]) && w < g->n && set_type &&
				    g->type[w] == set_type)
					a->awaited_by_set[w >> 3] |= (uint8_t)(1u << (w & 7));
			}
		}
	}
	return 0;
nomem:
	free(cap.index);
	asnap_aio_release(a);
	return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory reading asyncio records");
}

void asnap_aio_release(struct asnap_aio *a)
{
	if (!a)
		return;
	asnap_free_all(a->kind, a->marked, a->rank, a->slot, a->tasks, a->futures, a->coros,
		       a->handles, a->loops, a->sockets, a->frames, a->awaited_by_set);
	*a = (struct asnap_aio){0};
}

#define LOOKUP(fn, type, K, arr)                                                   \
	const struct type *fn(const struct asnap_aio *a, uint32_t v)               \
	{                                                                          \
		if (v >= a->g->n || a->kind[v] != (K))                             \
			return NULL;                                               \
		return &a->arr[asnap_aio_index(a, v)];                             \
	}

LOOKUP(asnap_aio_task, asnap_aio_task, ASNAP_AIO_TASK, tasks)
LOOKUP(asnap_aio_future, asnap_aio_future, ASNAP_AIO_FUTURE, futures)
LOOKUP(asnap_aio_coro, asnap_aio_coro, ASNAP_AIO_CORO, coros)
LOOKUP(asnap_aio_handle, asnap_aio_handle, ASNAP_AIO_HANDLE, handles)
LOOKUP(asnap_aio_socket, asnap_aio_socket, ASNAP_AIO_SOCKET, sockets)
LOOKUP(asnap_aio_frame, asnap_aio_frame, ASNAP_AIO_FRAME, frames)

struct asnap_attr asnap_aio_attr(const struct asnap_aio *a, uint32_t v, uint32_t name_id)
{
	struct asnap_attr out = {.kind = ASNAP_ATTR_MISSING, .node = ASNAP_NO_NODE};
	const struct asnap_graph *g = a->g;
	if (!name_id || v >= g->n)
		return out;
	if (a->attrs_kind) {
		uint64_t count;
		const struct asnap_record *rec = asnap_graph_records(g, v, &count);
		for (uint64_t i = 0; i < count; i++) {
			if (rec[i].kind != a->attrs_kind)
				continue;
			for (uint32_t p = 0; p < rec[i].nprops; p++) {
				if (rec[i].props[p].key != name_id)
					continue;
				const struct asnap_value *val = &rec[i].props[p].value;
				switch (val->type) {
				case ASNAP_VAL_NONE:
					out.kind = ASNAP_ATTR_NONE;
					return out;
				case ASNAP_VAL_BOOL:
					out.kind = ASNAP_ATTR_BOOL;
					out.b = val->u.b;
					return out;
				case ASNAP_VAL_INT:
					out.kind = ASNAP_ATTR_INT;
					out.i = val->u.i;
					return out;
				case ASNAP_VAL_FLOAT:
					out.kind = ASNAP_ATTR_FLOAT;
					out.f = val->u.f;
					return out;
				default:
					break;
				}
			}
		}
	}
	/* an attribute edge of the object itself (slots, inline values on
	 * 3.11+), else of its __dict__ (where 3.9/3.10 keep every attribute) */
	uint32_t holder = v;
	for (int hop = 0; hop < 2 && holder != ASNAP_NO_NODE; hop++) {
		uint32_t dict = ASNAP_NO_NODE;
		for (uint64_t e = asnap_graph_edge_begin(g, holder), end = asnap_graph_edge_end(g, holder);
		     e < end; e++) {
			if (!asnap_graph_edge_is_strong(g, e))
				continue;
			if (a->dict_label && g->edge_label[e] == a->dict_label)
				dict = g->edge_target[e];
			if (g->edge_label[e] != name_id)
				continue;
			uint32_t w = g->edge_target[e];
			if (a->none_type && g->type[w] == a->none_type) {
				out.kind = ASNAP_ATTR_NONE;
			} else if ((a->int_type && g->type[w] == a->int_type) ||
				   (a->float_type && g->type[w] == a->float_type)) {
				/* a number the attrs record does not give: its
				 * value was left out */
				out.kind = ASNAP_ATTR_NUMBER;
				out.node = w;
			} else {
				out.kind = ASNAP_ATTR_OBJECT;
				out.node = w;
			}
			return out;
		}
		holder = dict;
	}
	return out;
}

const char *asnap_gen_state_name(uint8_t state)
{
	static const char *const n[] = {"unknown", "created", "suspended", "running", "closed"};
	return state < 5 ? n[state] : "unknown";
}

const char *asnap_fut_state_name(uint8_t state)
{
	static const char *const n[] = {"unknown", "pending", "cancelled", "finished"};
	return state < 4 ? n[state] : "unknown";
}

uint32_t asnap_aio_name(const struct asnap_aio *a, uint32_t v)
{
	if (v >= a->g->n)
		return 0;
	switch (a->kind[v]) {
	case ASNAP_AIO_TASK:
		return a->tasks[asnap_aio_index(a, v)].name;
	case ASNAP_AIO_CORO:
		return a->coros[asnap_aio_index(a, v)].qualname;
	case ASNAP_AIO_FRAME:
		return a->frames[asnap_aio_index(a, v)].qualname;
	case ASNAP_AIO_HANDLE:
		return a->handles[asnap_aio_index(a, v)].callback_name;
	default:
		return 0;
	}
}

uint32_t asnap_aio_leaf_coro(const struct asnap_aio *a, uint32_t coro, unsigned max)
{
	const struct asnap_aio_coro *c = asnap_aio_coro(a, coro);
	if (!c)
		return ASNAP_NO_NODE;
	for (unsigned i = 0; i < max; i++) {
		const struct asnap_aio_coro *next = asnap_aio_coro(a, c->awaiting);
		if (!next || next == c)
			break;
		c = next;
	}
	return c->node;
}

bool asnap_aio_runs_again(const struct asnap_aio *a, uint32_t v)
{
	const struct asnap_aio_coro *c = asnap_aio_coro(a, v);
	if (!c) {
		const struct asnap_aio_frame *f = asnap_aio_frame(a, v);
		if (!f)
			return false;
		if (f->executing)
			return true;
		c = asnap_aio_coro(a, f->generator);
	}
	return c && (c->state == ASNAP_GEN_SUSPENDED || c->state == ASNAP_GEN_RUNNING);
}

bool asnap_aio_frame_done(const struct asnap_aio *a, uint32_t v)
{
	const struct asnap_aio_frame *f = asnap_aio_frame(a, v);
	if (!f || f->executing)
		return false;
	const struct asnap_aio_coro *owner = asnap_aio_coro(a, f->generator);
	return !owner || owner->state == ASNAP_GEN_CLOSED;
}
