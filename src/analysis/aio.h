/*
 * aio.h - the asyncio facts of one snapshot, read once from the agent's
 * records: tasks, futures, coroutines (and generators), handles, event
 * loops, sockets, frames, and the scalar attributes of instances. Every
 * check, `tasks` and `diff` look objects up here instead of walking the
 * records again. Node ids and string ids are those of the graph.
 */
#ifndef ASNAP_ANALYSIS_AIO_H
#define ASNAP_ANALYSIS_AIO_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/graph.h"

enum asnap_aio_kind {
	ASNAP_AIO_NONE = 0,
	ASNAP_AIO_TASK,
	ASNAP_AIO_FUTURE,
	ASNAP_AIO_CORO,   /* coroutine, generator or async generator */
	ASNAP_AIO_HANDLE, /* Handle or TimerHandle */
	ASNAP_AIO_LOOP,
	ASNAP_AIO_SOCKET,
	ASNAP_AIO_FRAME,
};

enum asnap_fut_state {
	ASNAP_FUT_UNKNOWN = 0,
	ASNAP_FUT_PENDING,
	ASNAP_FUT_CANCELLED,
	ASNAP_FUT_FINISHED,
};

enum asnap_gen_state {
	ASNAP_GEN_UNKNOWN = 0,
	ASNAP_GEN_CREATED,
	ASNAP_GEN_SUSPENDED,
	ASNAP_GEN_RUNNING,
	ASNAP_GEN_CLOSED,
};

enum asnap_gen_kind {
	ASNAP_GEN_COROUTINE = 0,
	ASNAP_GEN_GENERATOR,
	ASNAP_GEN_ASYNC_GENERATOR,
};

/* A node reference that the record did not give is ASNAP_NO_NODE; a string
 * it did not give is 0 (the empty string). */

struct asnap_aio_task {
	uint32_t node;
	uint8_t state;         /* enum asnap_fut_state */
	bool must_cancel;
	int64_t cancel_requested;
	int64_t callbacks;
	uint32_t name;         /* string id */
	uint32_t callback_name; /* string id: its newest Python-function done callback's */
	uint32_t coro, waiting_on, loop, result, exception;
};

struct asnap_aio_future {
	uint32_t node;
	uint8_t state;         /* enum asnap_fut_state */
	int64_t callbacks;
	uint32_t loop, result, exception;
};

struct asnap_aio_coro {
	uint32_t node;
	uint8_t kind;          /* enum asnap_gen_kind */
	uint8_t state;         /* enum asnap_gen_state */
	uint32_t qualname, file; /* string ids */
	int64_t first_line, line;
	uint32_t awaiting, frame;
};

struct asnap_aio_handle {
	uint32_t node;
	bool cancelled, timer, scheduled;
	double when;
	uint32_t callback, args, loop;
	uint32_t callback_name; /* string id */
};

struct asnap_aio_loop {
	uint32_t node;
	uint32_t ready, scheduled;
	int64_t ready_count, scheduled_count;
	bool running, closed;
};

struct asnap_aio_socket {
	uint32_t node;
	int64_t fd, family, type;
	bool closed;
};

struct asnap_aio_frame {
	uint32_t node;
	uint32_t qualname, file;
	int64_t first_line, line;
	uint32_t generator;
	bool executing;
};

/* A scalar attribute of an instance ("attrs" record) or a reference. */
enum asnap_attr_kind {
	ASNAP_ATTR_MISSING = 0, /* neither a scalar nor a labelled reference */
	ASNAP_ATTR_NONE,
	ASNAP_ATTR_BOOL,
	ASNAP_ATTR_INT,
	ASNAP_ATTR_FLOAT,
	ASNAP_ATTR_OBJECT,      /* a reference to something other than None */
	ASNAP_ATTR_NUMBER,      /* an int or float whose value the snapshot left
				 * out (taken without values=True); .node is it */
};

struct asnap_attr {
	enum asnap_attr_kind kind;
	bool b;
	int64_t i;
	double f;
	uint32_t node;          /* OBJECT: the target */
};

struct asnap_aio {
	const struct asnap_graph *g; /* borrowed */
	uint8_t *kind;               /* per node: enum asnap_aio_kind */
	/* The index of a node of a kind in the array of its kind, for those
	 * nodes only: use asnap_aio_index. A bit per node marks them, rank
	 * counts those marked before each 64 nodes, slot lists their indexes
	 * in node order. */
	uint64_t *marked;
	uint32_t *rank;
	uint32_t *slot;
	struct asnap_aio_task *tasks;
	uint32_t ntasks;
	struct asnap_aio_future *futures;
	uint32_t nfutures;
	struct asnap_aio_coro *coros;
	uint32_t ncoros;
	struct asnap_aio_handle *handles;
	uint32_t nhandles;
	struct asnap_aio_loop *loops;
	uint32_t nloops;
	struct asnap_aio_socket *sockets;
	uint32_t nsockets;
	struct asnap_aio_frame *frames;
	uint32_t nframes;
	uint32_t attrs_kind;         /* string id of "attrs", 0 if absent */
	uint32_t none_type;          /* string id of "builtins.NoneType", 0 if absent */
	uint32_t dict_label;         /* string id of "__dict__", 0 if absent */
	uint32_t int_type, float_type; /* "builtins.int", "builtins.float", 0 if absent */
	uint32_t awaited_by_label[2];  /* "_asyncio_awaited_by" (C Future), its
					* name-mangled twin in the pure-Python
					* Future; 0 if absent */
	uint8_t *awaited_by_set;     /* bitset: sets that are a future's awaited_by */
};

/* The index of node v in the array of its kind (a->tasks for a task, ...),
 * or UINT32_MAX when v is of none (a->kind[v] == ASNAP_AIO_NONE). */
static inline uint32_t asnap_aio_index(const struct asnap_aio *a, uint32_t v)
{
	uint64_t bits = a->marked[v >> 6];
	if (!((bits >> (v & 63)) & 1))
		return UINT32_MAX;
	bits &= (UINT64_C(2) << (v & 63)) - 1; /* v and those before it in its 64 */
	return a->slot[a->rank[v >> 6] + (uint32_t)__builtin_popcountll(bits) - 1];
}

/* Read the records of g. 0, or -1 with *err (out of memory). */
int asnap_aio_build(const struct asnap_graph *g, struct asnap_aio *a, struct asnap_error *err);
void asnap_aio_release(struct asnap_aio *a);

/* The fact of node v, or NULL if v is not of that kind. Borrowed. */
const struct asnap_aio_task *asnap_aio_task(const struct asnap_aio *a, uint32_t v);
const struct asnap_aio_future *asnap_aio_future(const struct asnap_aio *a, uint32_t v);
const struct asnap_aio_coro *asnap_aio_coro(const struct asnap_aio *a, uint32_t v);
const struct asnap_aio_handle *asnap_aio_handle(const struct asnap_aio *a, uint32_t v);
const struct asnap_aio_socket *asnap_aio_socket(const struct asnap_aio *a, uint32_t v);
const struct asnap_aio_frame *asnap_aio_frame(const struct asnap_aio *a, uint32_t v);

/*
 * Attribute `name` of node v: the scalar of its "attrs" record if it has
 * one, else the target of its first strong reference labelled `name`
 * (None when that target's type is builtins.NoneType). `name_id` is the
 * string id of name in g (0: not in the snapshot, only "attrs" can't have
 * it either, so the result is MISSING).
 */
/*
 * Whether edge e of node v is asyncio's record of who awaits v (CPython
 * 3.14+): a future's awaited_by reference to the awaiting task, or an edge
 * of the set that holds several. A strong reference in CPython, but
 * bookkeeping for introspection: the awaiting task is held through the
 * future's callbacks (its wakeup) all the same, so a check asking "what
 * holds this task" does not count it.
 */
bool asnap_aio_awaited_by_edge(const struct asnap_aio *a, uint32_t v, uint64_t e);

/*
 * Code that runs again: a suspended or running coroutine or generator, a
 * frame that executes or belongs to one. What it holds in its locals it
 * can still use, replace or drop.
 */
bool asnap_aio_runs_again(const struct asnap_aio *a, uint32_t v);

/*
 * A frame that is done: it does not execute and no live coroutine or
 * generator owns it (a traceback, f_locals or a closed generator keeps it).
 * It refers to what it will always refer to.
 */
bool asnap_aio_frame_done(const struct asnap_aio *a, uint32_t v);

struct asnap_attr asnap_aio_attr(const struct asnap_aio *a, uint32_t v, uint32_t name_id);

/* "created", "suspended", ...; "pending", "finished", ... */
const char *asnap_gen_state_name(uint8_t state);
const char *asnap_fut_state_name(uint8_t state);

/*
 * The best name a person knows the object by: a task's name, a coroutine's
 * or frame's qualified name, a handle's callback; 0 if none. String id.
 */
uint32_t asnap_aio_name(const struct asnap_aio *a, uint32_t v);

/*
 * The coroutine a task is suspended in: the last coroutine of the chain
 * task -> coro -> awaiting -> ..., or ASNAP_NO_NODE. At most `max` steps.
 */
uint32_t asnap_aio_leaf_coro(const struct asnap_aio *a, uint32_t coro, unsigned max);

#endif
