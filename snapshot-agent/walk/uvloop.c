/*
 * uvloop.c - uvloop objects, described (see uvloop.h).
 *
 * The structs below mirror what Cython 0.29 and 3.x generate for uvloop's
 * cdef classes (x86-64 and other LP64 targets): PyObject_HEAD, then the
 * vtable pointer of a class with cdef methods, then the cdef fields in
 * declaration order (bint is a C int), a subclass's struct starting with
 * its base's. Their tp_traverse visits, in declaration order, the fields
 * of Python object type except `str` ones and __weakref__, NULL ones
 * skipped, the base class's first.
 */
#include <Python.h>
#include <stddef.h>
#include <string.h>

#include "pyinst.h"
#include "uvloop.h"

/* ---- uvloop/cbhandles.pxd ------------------------------------------------ */

struct uvl_handle {                   /* cdef class Handle */
	PyObject_HEAD
	void *vtab;
	PyObject *loop;               /* Loop */
	PyObject *context;
	int cancelled;                /* bint _cancelled */
	PyObject *meth_name;          /* str: not traversed */
	int cb_type;                  /* 1: arg1(*arg2); 2-5: C method of arg1 */
	void *callback;
	PyObject *arg1, *arg2, *arg3, *arg4;
	PyObject *weakref;            /* __weakref__: not traversed */
	PyObject *source_traceback;   /* readonly _source_traceback */
};

static const Py_ssize_t handle_trav[] = {
	offsetof(struct uvl_handle, loop), offsetof(struct uvl_handle, context),
	offsetof(struct uvl_handle, arg1), offsetof(struct uvl_handle, arg2),
	offsetof(struct uvl_handle, arg3), offsetof(struct uvl_handle, arg4),
	offsetof(struct uvl_handle, source_traceback),
};

struct uvl_timer_handle {             /* cdef class TimerHandle */
	PyObject_HEAD
	void *vtab;
	PyObject *callback;
	PyObject *args;               /* tuple */
	int cancelled;
	PyObject *timer;              /* UVTimer, None once run or cancelled */
	PyObject *loop;
	PyObject *context;
	PyObject *debug_info;         /* tuple */
	PyObject *weakref;
	PyObject *when;               /* float, seconds of loop.time() */
};

static const Py_ssize_t timer_trav[] = {
	offsetof(struct uvl_timer_handle, callback), offsetof(struct uvl_timer_handle, args),
	offsetof(struct uvl_timer_handle, timer), offsetof(struct uvl_timer_handle, loop),
	offsetof(struct uvl_timer_handle, context), offsetof(struct uvl_timer_handle, debug_info),
	offsetof(struct uvl_timer_handle, when),
};

/* ---- uvloop/loop.pxd: cdef class Loop ------------------------------------- */

/* uvloop 0.21 added `dict _unix_server_sockets` after _fd_to_writer_fileobj;
 * 0.23 removed `Py_ssize_t _ready_len` (uvloop #721) */
#define UVL_LOOP_FIELDS(READY_LEN, EXTRA)                                          \
	PyObject_HEAD                                                              \
	void *vtab;                                                                \
	void *uvloop;                                                              \
	int coroutine_debug_set, coroutine_origin_tracking_saved_depth;            \
	PyObject *slow_callback_duration;                                          \
	int closed, debug, running, stopping;                                      \
	uint64_t thread_id;                                                        \
	PyObject *task_factory, *exception_handler, *default_executor;             \
	PyObject *ready;               /* collections.deque of Handle */          \
	PyObject *queued_streams, *executing_streams;                              \
	READY_LEN                                                                  \
	PyObject *servers, *transports, *processes;                                \
	PyObject *fd_to_reader_fileobj, *fd_to_writer_fileobj;                     \
	EXTRA                                                                      \
	PyObject *signals, *signal_handlers, *ssock, *csock;                       \
	int listening_signals, old_signal_wakeup_id;                               \
	PyObject *timers;              /* set of the pending TimerHandles */      \
	PyObject *polls, *active_process_handler;                                  \
	PyObject *handler_async, *handler_idle, *handler_check__exec_writes;       \
	PyObject *last_error;                                                      \
	PyObject *weakref;                                                         \
	PyObject *asyncgens;                                                       \
	int asyncgens_shutdown_called, executor_shutdown_called;                   \
	char recv_buffer[256000];      /* UV_STREAM_RECV_BUF_SIZE */              \
	int recv_buffer_in_use, debug_cc;                                          \
	PyObject *debug_handles_total, *debug_handles_closed, *debug_handles_current; \
	uint64_t debug_counters[24];

#define UVL_READY_LEN Py_ssize_t ready_len;
#define UVL_SERVER_SOCKETS PyObject *unix_server_sockets;
struct uvl_loop_a { UVL_LOOP_FIELDS(UVL_READY_LEN, ) };                  /* 0.17-0.20 */
struct uvl_loop_b { UVL_LOOP_FIELDS(UVL_READY_LEN, UVL_SERVER_SOCKETS) }; /* 0.21-0.22 */
struct uvl_loop_c { UVL_LOOP_FIELDS(, UVL_SERVER_SOCKETS) };              /* 0.23 */

#define LOOP_TRAV_HEAD(S)                                                            \
	offsetof(S, slow_callback_duration), offsetof(S, task_factory),             \
	offsetof(S, exception_handler), offsetof(S, default_executor),              \
	offsetof(S, ready), offsetof(S, queued_streams), offsetof(S, executing_streams), \
	offsetof(S, servers), offsetof(S, transports), offsetof(S, processes),      \
	offsetof(S, fd_to_reader_fileobj), offsetof(S, fd_to_writer_fileobj)
#define LOOP_TRAV_TAIL(S)                                                            \
	offsetof(S, signals), offsetof(S, signal_handlers), offsetof(S, ssock),     \
	offsetof(S, csock), offsetof(S, timers), offsetof(S, polls),                \
	offsetof(S, active_process_handler), offsetof(S, handler_async),            \
	offsetof(S, handler_idle), offsetof(S, handler_check__exec_writes),         \
	offsetof(S, last_error), offsetof(S, asyncgens), offsetof(S, debug_handles_total), \
	offsetof(S, debug_handles_closed), offsetof(S, debug_handles_current)

static const Py_ssize_t loop_a_trav[] = {LOOP_TRAV_HEAD(struct uvl_loop_a),
					 LOOP_TRAV_TAIL(struct uvl_loop_a)};
static const Py_ssize_t loop_b_trav[] = {LOOP_TRAV_HEAD(struct uvl_loop_b),
					 offsetof(struct uvl_loop_b, unix_server_sockets),
					 LOOP_TRAV_TAIL(struct uvl_loop_b)};
static const Py_ssize_t loop_c_trav[] = {LOOP_TRAV_HEAD(struct uvl_loop_c),
					 offsetof(struct uvl_loop_c, unix_server_sockets),
					 LOOP_TRAV_TAIL(struct uvl_loop_c)};

/* ---- handles/handle.pxd, handles/basetransport.pxd ------------------------ */

struct uvl_uvhandle {                 /* cdef class UVHandle */
	PyObject_HEAD
	void *vtab;
	void *handle;                 /* uv_handle_t * */
	PyObject *loop;
	PyObject *source_traceback;
	int closed;                   /* bint _closed: the libuv handle is closed */
	int inited;
	PyObject *context;
	int has_handle;
};

struct uvl_sockhandle {               /* cdef class UVSocketHandle(UVHandle) */
	struct uvl_uvhandle base;
	PyObject *fileobj;
	PyObject *cached_socket;
};

struct uvl_transport {                /* cdef class UVBaseTransport(UVSocketHandle) */
	struct uvl_sockhandle base;
	int closing;                  /* readonly bint _closing: close() was called */
	int protocol_connected, protocol_paused;
	PyObject *protocol_data_received;
	size_t high_water, low_water;
	PyObject *protocol;
	PyObject *server;             /* Server */
	PyObject *waiter;
	PyObject *extra_info;         /* dict */
	uint32_t conn_lost;
	PyObject *weakref;
};

static const Py_ssize_t transport_trav[] = {
	offsetof(struct uvl_uvhandle, loop), offsetof(struct uvl_uvhandle, source_traceback),
	offsetof(struct uvl_uvhandle, context), offsetof(struct uvl_sockhandle, fileobj),
	offsetof(struct uvl_sockhandle, cached_socket),
	offsetof(struct uvl_transport, protocol_data_received),
	offsetof(struct uvl_transport, protocol), offsetof(struct uvl_transport, server),
	offsetof(struct uvl_transport, waiter), offsetof(struct uvl_transport, extra_info),
};

/* UVHandle's own object fields, first in every subclass's tp_traverse
 * (Cython visits a base's fields before its own). */
static const Py_ssize_t uvhandle_trav[] = {
	offsetof(struct uvl_uvhandle, loop), offsetof(struct uvl_uvhandle, source_traceback),
	offsetof(struct uvl_uvhandle, context),
};

/* The transports users get: UVStream and UDPTransport subclasses. */
static const char *const transport_names[] = {
	"TCPTransport", "UnixTransport", "ReadUnixTransport", "WriteUnixTransport", "UDPTransport",
};
#define NTRANSPORTS (sizeof(transport_names) / sizeof(transport_names[0]))

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TRAV_MAX 40

/* ---- what this walk found ------------------------------------------------- */

struct kind {
	PyTypeObject *type;           /* NULL: absent or not as mirrored */
	traverseproc traverse;        /* the Cython type's own */
	const Py_ssize_t *trav;
	size_t ntrav;
};

static struct {
	struct kind handle, timer, loop, transport;
	/* UVProcessTransport (a child process): only its UVHandle part is
	 * mirrored, and checked (trav_matches with a prefix) */
	struct kind process;
	PyTypeObject *py_loop;        /* uvloop.Loop, a Python subclass of Loop */
	PyTypeObject *deque;          /* collections.deque, the type of Loop._ready */
	PyTypeObject *transports[NTRANSPORTS];
	Py_ssize_t loop_ready, loop_timers, loop_closed, loop_running;
} U;

static PyObject *module_dict(PyObject *modules, const char *name)
{
	PyObject *m = asnap_dict_get_ascii(modules, name);
	return m && PyModule_Check(m) ? PyModule_GetDict(m) : NULL;
}

static PyTypeObject *dict_type(PyObject *d, const char *name)
{
	PyObject *v = asnap_dict_get_ascii(d, name);
	return v && PyType_Check(v) ? (PyTypeObject *)v : NULL;
}

/* 1: the layout of 0.17-0.20 (Cython 0.29); 2: 0.21-0.22 (Cython 3);
 * 3: 0.23 (Cython 3, no Loop._ready_len); 0: a version whose layout was
 * not checked. */
static int layout_of(PyObject *version)
{
	if (!version || !PyUnicode_CheckExact(version) || !PyUnicode_IS_ASCII(version))
		return 0;
	Py_ssize_t n = PyUnicode_GET_LENGTH(version);
	const char *s = (const char *)PyUnicode_1BYTE_DATA(version);
	if (n < 6 || strncmp(s, "0.", 2) != 0 || s[4] != '.')
		return 0;
	int minor = (s[2] - '0') * 10 + (s[3] - '0');
	if (s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9')
		return 0;
	if (minor >= 17 && minor <= 20)
		return 1;
	if (minor == 21 || minor == 22)
		return 2;
	if (minor == 23)
		return 3;
	return 0;
}

/* A static (Cython) type whose instances have the given size and weak
 * reference slot. */
static bool type_ok(PyTypeObject *tp, Py_ssize_t basicsize, bool exact, Py_ssize_t weaklist)
{
	if (!tp || (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) || !tp->tp_traverse ||
	    !(tp->tp_flags & Py_TPFLAGS_HAVE_GC) || tp->tp_itemsize != 0)
		return false;
	if (exact ? tp->tp_basicsize != basicsize : tp->tp_basicsize < basicsize)
		return false;
	return tp->tp_weaklistoffset == weaklist;
}

static void kind_set(struct kind *k, PyTypeObject *tp, const Py_ssize_t *trav, size_t ntrav)
{
	k->type = tp;
	k->traverse = tp->tp_traverse;
	k->trav = trav;
	k->ntrav = ntrav;
}

/* uvloop's child process transport, of which only the UVHandle it starts
 * with is mirrored (its own fields follow libuv's process options). */
static void process_begin(PyObject *mod)
{
	PyTypeObject *uvh = dict_type(mod, "UVHandle");
	PyTypeObject *tp = dict_type(mod, "UVProcessTransport");
	if (!uvh || !tp || uvh->tp_basicsize != (Py_ssize_t)sizeof(struct uvl_uvhandle) ||
	    !type_ok(tp, sizeof(struct uvl_uvhandle), false, tp->tp_weaklistoffset) ||
	    !PyType_IsSubtype(tp, uvh)) /* reads tp_mro: no code runs */
		return;
	kind_set(&U.process, tp, uvhandle_trav, NELEM(uvhandle_trav));
}

void uvl_begin(void)
{
	memset(&U, 0, sizeof(U));
	PyObject *modules = PyImport_GetModuleDict();
	PyObject *pkg = module_dict(modules, "uvloop");
	PyObject *mod = module_dict(modules, "uvloop.loop");
	if (!pkg || !mod)
		return;
	int layout = layout_of(asnap_dict_get_ascii(pkg, "__version__"));
	if (!layout)
		return;
	PyObject *coll = module_dict(modules, "_collections");
	U.deque = coll ? dict_type(coll, "deque") : NULL;
	PyTypeObject *tp = dict_type(mod, "Handle");
	if (type_ok(tp, sizeof(struct uvl_handle), true, offsetof(struct uvl_handle, weakref)))
		kind_set(&U.handle, tp, handle_trav, NELEM(handle_trav));
	tp = dict_type(mod, "TimerHandle");
	if (type_ok(tp, sizeof(struct uvl_timer_handle), true,
		    offsetof(struct uvl_timer_handle, weakref)))
		kind_set(&U.timer, tp, timer_trav, NELEM(timer_trav));
	tp = dict_type(mod, "Loop");
	if (layout == 1 &&
	    type_ok(tp, sizeof(struct uvl_loop_a), true, offsetof(struct uvl_loop_a, weakref))) {
		kind_set(&U.loop, tp, loop_a_trav, NELEM(loop_a_trav));
		U.loop_ready = offsetof(struct uvl_loop_a, ready);
		U.loop_timers = offsetof(struct uvl_loop_a, timers);
		U.loop_closed = offsetof(struct uvl_loop_a, closed);
		U.loop_running = offsetof(struct uvl_loop_a, running);
	} else if (layout == 2 && type_ok(tp, sizeof(struct uvl_loop_b), true,
					  offsetof(struct uvl_loop_b, weakref))) {
		kind_set(&U.loop, tp, loop_b_trav, NELEM(loop_b_trav));
		U.loop_ready = offsetof(struct uvl_loop_b, ready);
		U.loop_timers = offsetof(struct uvl_loop_b, timers);
		U.loop_closed = offsetof(struct uvl_loop_b, closed);
		U.loop_running = offsetof(struct uvl_loop_b, running);
	} else if (layout == 3 && type_ok(tp, sizeof(struct uvl_loop_c), true,
					  offsetof(struct uvl_loop_c, weakref))) {
		kind_set(&U.loop, tp, loop_c_trav, NELEM(loop_c_trav));
		U.loop_ready = offsetof(struct uvl_loop_c, ready);
		U.loop_timers = offsetof(struct uvl_loop_c, timers);
		U.loop_closed = offsetof(struct uvl_loop_c, closed);
		U.loop_running = offsetof(struct uvl_loop_c, running);
	}
	if (U.loop.type) {
		/* uvloop.Loop: `class Loop(uvloop.loop.Loop, AbstractEventLoop)` */
		PyTypeObject *py = dict_type(pkg, "Loop");
		if (py && py->tp_base == U.loop.type)
			U.py_loop = py;
	}
	tp = dict_type(mod, "UVBaseTransport");
	if (type_ok(tp, sizeof(struct uvl_transport), true, offsetof(struct uvl_transport, weakref))) {
		kind_set(&U.transport, tp, transport_trav, NELEM(transport_trav));
		for (size_t i = 0; i < NTRANSPORTS; i++) {
			PyTypeObject *t = dict_type(mod, transport_names[i]);
			/* PyType_IsSubtype reads tp_mro: no code runs */
			if (type_ok(t, sizeof(struct uvl_transport), false,
				    offsetof(struct uvl_transport, weakref)) &&
			    PyType_IsSubtype(t, tp))
				U.transports[i] = t;
		}
	}
	process_begin(mod);
}

/* ---- checking an object against its mirror ------------------------------- */

struct trav_buf {
	PyObject *seen[TRAV_MAX];
	size_t n;
	bool overflow;
};

static int trav_collect(PyObject *child, void *arg)
{
	struct trav_buf *b = arg;
	if (b->n == TRAV_MAX) {
		b->overflow = true;
		return 1; /* stops the traversal */
	}
	b->seen[b->n++] = child;
	return 0;
}

static PyObject *field(PyObject *op, Py_ssize_t off)
{
	return *(PyObject **)((char *)op + off);
}

/* Whether the type's tp_traverse visits the mirrored object fields that
 * are set, in order: exactly those (then every offset of the mirror is
 * right), or with `prefix` first of all (what it visits after them is not
 * mirrored). */
static bool trav_matches(const struct kind *k, PyObject *op, bool prefix)
{
	if (!k->type)
		return false;
	struct trav_buf b;
	b.n = 0;
	b.overflow = false;
	k->traverse(op, trav_collect, &b);
	if (b.overflow && !prefix)
		return false;
	size_t j = 0;
	for (size_t i = 0; i < k->ntrav; i++) {
		PyObject *v = field(op, k->trav[i]);
		if (!v)
			continue;
		if (j == b.n || b.seen[j] != v)
			return false;
		j++;
	}
	return prefix ? j > 0 : j == b.n;
}

static bool verified(const struct kind *k, PyObject *op)
{
	return trav_matches(k, op, false);
}

static bool is_loop(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	return U.loop.type && (tp == U.loop.type || (U.py_loop && tp == U.py_loop));
}

static bool is_transport(PyObject *op)
{
	if (!U.transport.type)
		return false;
	for (size_t i = 0; i < NTRANSPORTS; i++)
		if (U.transports[i] && Py_TYPE(op) == U.transports[i])
			return true;
	return false;
}

/* ---- labels ---------------------------------------------------------------- */

void uvl_hints(PyObject *op, void (*fn)(void *arg, PyObject *v, const char *name), void *arg)
{
	PyTypeObject *tp = Py_TYPE(op);
	if (U.handle.type && tp == U.handle.type && verified(&U.handle, op)) {
		struct uvl_handle *h = (struct uvl_handle *)op;
		fn(arg, h->loop, "loop");
		fn(arg, h->context, "context");
		if (h->cb_type == 1) {
			fn(arg, h->arg1, "callback");
			fn(arg, h->arg2, "args");
		} else {
			fn(arg, h->arg1, "self"); /* what the C method is bound to */
			fn(arg, h->arg2, "arg1");
			fn(arg, h->arg3, "arg2");
			fn(arg, h->arg4, "arg3");
		}
		fn(arg, h->source_traceback, "_source_traceback");
	} else if (U.timer.type && tp == U.timer.type && verified(&U.timer, op)) {
		struct uvl_timer_handle *t = (struct uvl_timer_handle *)op;
		fn(arg, t->callback, "callback");
		fn(arg, t->args, "args");
		fn(arg, t->timer, "timer");
		fn(arg, t->loop, "loop");
		fn(arg, t->context, "context");
		fn(arg, t->debug_info, "_debug_info");
		fn(arg, t->when, "_when");
	} else if (is_loop(op) && verified(&U.loop, op)) {
		fn(arg, field(op, U.loop_ready), "_ready");
		fn(arg, field(op, U.loop_timers), "_timers");
	} else if (is_transport(op) && verified(&U.transport, op)) {
		struct uvl_transport *t = (struct uvl_transport *)op;
		fn(arg, t->base.base.loop, "_loop");
		fn(arg, t->base.base.source_traceback, "_source_traceback");
		fn(arg, t->base.base.context, "context");
		fn(arg, t->base.fileobj, "_fileobj");
		fn(arg, t->protocol, "_protocol");
		fn(arg, t->server, "_server");
		fn(arg, t->waiter, "_waiter");
		fn(arg, t->extra_info, "_extra_info");
	}
}

/* ---- records --------------------------------------------------------------- */

static void handle_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct uvl_handle *h = (struct uvl_handle *)op;
	struct recb b;
	recb_begin(&b, wk, id, "handle");
	if (h->cb_type == 1) {
		/* loop.call_soon(callback, *args): arg1 and arg2 */
		recb_node(&b, "callback", h->arg1);
		recb_callable_name(&b, "callback_name", h->arg1);
		if (h->arg2 != Py_None)
			recb_node(&b, "args", h->arg2);
	} else if (h->cb_type >= 2 && h->cb_type <= 5 && h->meth_name &&
		   PyUnicode_CheckExact(h->meth_name)) {
		/* uvloop's own C method handles ("Loop._read_from_self") */
		recb_pystr(&b, "callback_name", h->meth_name);
	}
	recb_node(&b, "loop", h->loop);
	recb_bool(&b, "cancelled", h->cancelled != 0);
	recb_end(&b);
}

static void timer_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct uvl_timer_handle *t = (struct uvl_timer_handle *)op;
	struct recb b;
	recb_begin(&b, wk, id, "handle");
	recb_node(&b, "callback", t->callback);
	recb_callable_name(&b, "callback_name", t->callback);
	if (t->args && t->args != Py_None)
		recb_node(&b, "args", t->args);
	recb_node(&b, "loop", t->loop);
	recb_bool(&b, "cancelled", t->cancelled != 0);
	if (t->when && PyFloat_CheckExact(t->when))
		recb_float(&b, "when", PyFloat_AS_DOUBLE(t->when));
	/* its libuv timer is armed until it runs or is cancelled */
	recb_bool(&b, "scheduled", t->timer && t->timer != Py_None);
	recb_end(&b);
}

static void loop_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct recb b;
	recb_begin(&b, wk, id, "loop");
	PyObject *ready = field(op, U.loop_ready);
	/* a deque is a var-sized object whose size is its length */
	if (ready && U.deque && Py_TYPE(ready) == U.deque) {
		recb_node(&b, "ready", ready);
		recb_int(&b, "ready_count", (int64_t)Py_SIZE(ready));
	}
	PyObject *timers = field(op, U.loop_timers);
	if (timers && Py_TYPE(timers) == &PySet_Type) { /* PySet_CheckExact: 3.10+ */
		recb_node(&b, "scheduled", timers);
		recb_int(&b, "scheduled_count", (int64_t)PySet_GET_SIZE(timers));
	}
	recb_bool(&b, "running", *(int *)((char *)op + U.loop_running) != 0);
	recb_bool(&b, "closed", *(int *)((char *)op + U.loop_closed) != 0);
	recb_end(&b);
}

static void transport_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct uvl_transport *t = (struct uvl_transport *)op;
	struct recb b;
	/* the scalar attributes the resource rules test, as for instances of
	 * Python classes (walk.c's attrs_record) */
	recb_begin(&b, wk, id, "attrs");
	recb_bool(&b, "_closing", t->closing != 0);
	recb_bool(&b, "_closed", t->base.base.closed != 0);
	recb_end(&b);
}

/* A child process: _closed, its libuv handle closed, which uvloop does
 * when the child has exited and been reaped (or the transport closed). */
static void process_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct recb b;
	recb_begin(&b, wk, id, "attrs");
	recb_bool(&b, "_closed", ((struct uvl_uvhandle *)op)->closed != 0);
	recb_end(&b);
}

bool uvl_records(struct walk *wk, uint32_t id, PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	if (U.process.type && tp == U.process.type) {
		if (trav_matches(&U.process, op, true))
			process_record(wk, id, op);
		return true;
	}
	if (U.handle.type && tp == U.handle.type) {
		if (verified(&U.handle, op))
			handle_record(wk, id, op);
		return true;
	}
	if (U.timer.type && tp == U.timer.type) {
		if (verified(&U.timer, op))
			timer_record(wk, id, op);
		return true;
	}
	if (is_loop(op)) {
		if (verified(&U.loop, op))
			loop_record(wk, id, op);
		return true;
	}
	if (is_transport(op)) {
		if (verified(&U.transport, op))
			transport_record(wk, id, op);
		return true;
	}
	return false;
}
