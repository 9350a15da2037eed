/*
 * aio.c - asyncio objects and sockets, described (see aio.h).
 *
 * Everything here reads struct fields or dict entries; the asyncio getters
 * (Task.get_name(), Future._callbacks) allocate or run code and are never
 * called.
 */
#include <Python.h>
#include <structmember.h>
#include <string.h>

#include "aio.h"
#include "pyver.h"
#include "pyinst.h"
#include "uvloop.h"

/* ---- _asyncio.Future / _asyncio.Task, per version ----------------------- */

#include ASNAP_PY_ASYNCIO_LAYOUT

/* _socket.socket's leading fields (Modules/socketmodule.h, Linux). */
struct sock {
	PyObject_HEAD
	int sock_fd;
	int sock_family;
	int sock_type;
	int sock_proto;
};

/* functools.partial's leading field (Modules/_functoolsmodule.c, 3.9-3.15). */
struct partial_head {
	PyObject_HEAD
	PyObject *fn;
};

static struct {
	PyTypeObject *future, *task;   /* NULL unless their layout checks out */
	PyTypeObject *py_future, *py_task; /* the pure-Python implementations */
	PyTypeObject *handle, *timer_handle, *loop, *socket;
	PyTypeObject *partial; /* _functools.partial, whose first field is fn */
	PyTypeObject *enum_meta; /* enum.EnumMeta (refs.c) */
	Py_ssize_t off_callback, off_args, off_cancelled, off_loop, off_when, off_scheduled;
	char layout_warning[256];
	/* which of the types above each type met is (is_a), cleared with
	 * the rest for every snapshot: no type comes or goes during a walk */
	struct {
		PyTypeObject *tp;
		uint16_t kinds;
	} seen[256];
} T;

/* The types above as bits, for is_a. */
enum kind {
	K_FUTURE, K_TASK, K_PY_FUTURE, K_PY_TASK, K_HANDLE, K_TIMER_HANDLE, K_LOOP, K_SOCKET,
	K_PARTIAL, NKINDS
};

static PyTypeObject **const kind_type[NKINDS] = {
	[K_FUTURE] = &T.future, [K_TASK] = &T.task, [K_PY_FUTURE] = &T.py_future,
	[K_PY_TASK] = &T.py_task, [K_HANDLE] = &T.handle, [K_TIMER_HANDLE] = &T.timer_handle,
	[K_LOOP] = &T.loop, [K_SOCKET] = &T.socket, [K_PARTIAL] = &T.partial,
};

/*
 * Whether op is an instance of the type of kind k (or of a subclass).
 * Every object of the heap is asked several of these: the answers for
 * its type are worked out once (PyType_IsSubtype reads tp_mro; no Python
 * code runs) and kept in a small cache.
 */
static bool is_a(PyObject *op, enum kind k)
{
	PyTypeObject *tp = Py_TYPE(op);
	size_t h = (size_t)((uint64_t)(uintptr_t)tp * 0x9E3779B97F4A7C15ull >> 56);
	if (T.seen[h].tp != tp) {
		uint16_t kinds = 0;
		for (int i = 0; i < NKINDS; i++) {
			PyTypeObject *t = *kind_type[i];
			if (t && (tp == t || PyType_IsSubtype(tp, t)))
				kinds |= (uint16_t)(1u << i);
		}
		T.seen[h].tp = tp;
		T.seen[h].kinds = kinds;
	}
	return T.seen[h].kinds >> k & 1;
}

static PyObject *module_attr(PyObject *modules, const char *mod, const char *name)
{
	PyObject *m = asnap_dict_get_ascii(modules, mod);
	if (!m || !PyModule_Check(m))
		return NULL;
	PyObject *v = asnap_dict_get_ascii(PyModule_GetDict(m), name);
	return v && PyType_Check(v) ? v : NULL;
}

static Py_ssize_t member_offset(PyTypeObject *tp, const char *name)
{
	for (PyMemberDef *m = tp ? tp->tp_members : NULL; m && m->name; m++)
		if (m->type == T_OBJECT_EX && strcmp(m->name, name) == 0)
			return m->offset;
	return -1;
}

void aio_begin(void)
{
	memset(&T, 0, sizeof(T));
	PyObject *modules = PyImport_GetModuleDict();
	PyTypeObject *fut = (PyTypeObject *)module_attr(modules, "_asyncio", "Future");
	PyTypeObject *task = (PyTypeObject *)module_attr(modules, "_asyncio", "Task");
	/* only with the layout we mirror: a mismatch means an unknown build,
	 * said in the snapshot rather than silently dropping every record */
	if (fut && fut->tp_basicsize == (Py_ssize_t)sizeof(struct fut))
		T.future = fut;
	if (task && task->tp_basicsize == (Py_ssize_t)sizeof(struct task))
		T.task = task;
	PyTypeObject *odd = fut && !T.future ? fut : task && !T.task ? task : NULL;
	if (odd)
		snprintf(T.layout_warning, sizeof(T.layout_warning),
			 "_asyncio.%s is %zd bytes, not the %zu this agent (built for CPython %s) "
			 "reads: no task or future records for C tasks and futures; rebuild "
			 "asyncsnap for this Python",
			 odd == task ? "Task" : "Future", odd->tp_basicsize,
			 odd == task ? sizeof(struct task) : sizeof(struct fut), PY_VERSION);
	T.py_future = (PyTypeObject *)module_attr(modules, "asyncio.futures", "_PyFuture");
	T.py_task = (PyTypeObject *)module_attr(modules, "asyncio.tasks", "_PyTask");
	T.handle = (PyTypeObject *)module_attr(modules, "asyncio.events", "Handle");
	T.timer_handle = (PyTypeObject *)module_attr(modules, "asyncio.events", "TimerHandle");
	T.loop = (PyTypeObject *)module_attr(modules, "asyncio.base_events", "BaseEventLoop");
	T.partial = (PyTypeObject *)module_attr(modules, "_functools", "partial");
	T.enum_meta = (PyTypeObject *)module_attr(modules, "enum", "EnumMeta");
	if (T.partial && T.partial->tp_basicsize < (Py_ssize_t)sizeof(struct partial_head))
		T.partial = NULL;
	PyTypeObject *sock = (PyTypeObject *)module_attr(modules, "_socket", "socket");
	if (sock && sock->tp_basicsize >= (Py_ssize_t)sizeof(struct sock))
		T.socket = sock;
	T.off_callback = member_offset(T.handle, "_callback");
	T.off_args = member_offset(T.handle, "_args");
	T.off_cancelled = member_offset(T.handle, "_cancelled");
	T.off_loop = member_offset(T.handle, "_loop");
	T.off_when = member_offset(T.timer_handle, "_when");
	T.off_scheduled = member_offset(T.timer_handle, "_scheduled");
	if (T.off_callback < 0 || T.off_cancelled < 0)
		T.handle = T.timer_handle = NULL;
	uvl_begin();
}

const char *aio_layout_warning(void)
{
	return T.layout_warning[0] ? T.layout_warning : NULL;
}

PyTypeObject *aio_enum_meta(void)
{
	return T.enum_meta;
}

static PyObject *slot(PyObject *op, Py_ssize_t off)
{
	return off > 0 ? *(PyObject **)((char *)op + off) : NULL;
}

void aio_hints(PyObject *op, void (*fn)(void *arg, PyObject *v, const char *name), void *arg)
{
	uvl_hints(op, fn, arg);
	if (!is_a(op, K_FUTURE))
		return;
	struct fut *f = (struct fut *)op;
	fn(arg, f->fut_loop, "_loop");
	fn(arg, f->fut_callback0, "_callback0");
	fn(arg, f->fut_context0, "_context0");
	fn(arg, f->fut_callbacks, "_callbacks");
	fn(arg, f->fut_exception, "_exception");
	fn(arg, f->fut_result, "_result");
	fn(arg, f->fut_source_tb, "_source_traceback");
	fn(arg, f->fut_cancel_msg, "_cancel_message");
#if ASNAP_PY_HAS_FUT_EXCEPTION_TB
	fn(arg, f->fut_exception_tb, "_exception_tb");
#endif
#if ASNAP_PY_HAS_FUT_AWAITED_BY
	/* the task(s) awaiting it, a task or a set of them (for profilers) */
	fn(arg, f->fut_awaited_by, "_asyncio_awaited_by");
#endif
	if (is_a(op, K_TASK)) {
		struct task *t = (struct task *)op;
		fn(arg, t->task_coro, "_coro");
		fn(arg, t->task_fut_waiter, "_fut_waiter");
		fn(arg, t->task_name, "_name");
		fn(arg, t->task_context, "_context");
	}
}

static const char *fut_state_name(int state)
{
	switch (state) {
	case 0:
		return "pending";
	case 1:
		return "cancelled";
	case 2:
		return "finished";
	default:
		return "unknown";
	}
}

/* A callable's qualified name, read from its fields (metadata, not data). */
static PyObject *callable_name(PyObject *cb)
{
	if (cb && PyMethod_Check(cb))
		cb = PyMethod_GET_FUNCTION(cb);
	if (cb && PyFunction_Check(cb))
		return ((PyFunctionObject *)cb)->func_qualname;
	return NULL;
}

/* An object's __slots__ member by name (traceback.FrameSummary). */
static PyObject *member(PyObject *op, const char *name)
{
	PyObject *mro = Py_TYPE(op)->tp_mro;
	Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
		for (PyMemberDef *m = t->tp_members; m && m->name; m++)
			if (m->type == T_OBJECT_EX && m->offset > 0 && strcmp(m->name, name) == 0)
				return *(PyObject **)((char *)op + m->offset);
	}
	return NULL;
}

/* Debug mode keeps a task's creation stack as FrameSummary objects. */
static bool summary_site(PyObject *item, PyObject **file, PyObject **line, PyObject **name)
{
	*file = member(item, "filename");
	*line = member(item, "lineno");
	*name = member(item, "name");
	return *file != NULL;
}

/*
 * The newest done callback of a future that is a Python function (through
 * bound methods and functools.partial), or NULL; *name its qualified name.
 * A task's wakeup is a C method, so it is never the one named.
 */
static PyObject *fn_callback(PyObject *cb, PyObject **name)
{
	PyObject *fn = cb;
	for (int i = 0; i < 4 && fn && is_a(fn, K_PARTIAL); i++)
		fn = ((struct partial_head *)fn)->fn;
	if (fn && PyMethod_Check(fn) &&
	    (is_a(PyMethod_GET_SELF(fn), K_TASK) || is_a(PyMethod_GET_SELF(fn), K_PY_TASK)))
		fn = NULL; /* the pure-Python Task's __wakeup */
	*name = callable_name(fn);
	return *name && PyUnicode_Check(*name) ? cb : NULL;
}

static PyObject *newest_fn_callback(PyObject *callback0, PyObject *callbacks, PyObject **name)
{
	Py_ssize_t n = callbacks && PyList_Check(callbacks) ? PyList_GET_SIZE(callbacks) : 0;
	*name = NULL;
	for (Py_ssize_t i = n - 1; i >= 0; i--) {
		PyObject *item = PyList_GET_ITEM(callbacks, i);
		PyObject *cb = PyTuple_Check(item) && PyTuple_GET_SIZE(item) > 0
				       ? PyTuple_GET_ITEM(item, 0) : item;
		if (fn_callback(cb, name))
			return cb;
	}
	return callback0 ? fn_callback(callback0, name) : NULL;
}

/* "Task-N": the name asyncio gives a task created without one. */
static bool default_task_name(PyObject *name)
{
#if ASNAP_PY_HAS_LEGACY_STR
	if (!PyUnicode_IS_READY(name))
		return false;
#endif
	if (!PyUnicode_IS_ASCII(name))
		return false;
	Py_ssize_t n = PyUnicode_GET_LENGTH(name);
	const char *s = (const char *)PyUnicode_1BYTE_DATA(name);
	if (n < 6 || n > 25 || memcmp(s, "Task-", 5) != 0)
		return false;
	for (Py_ssize_t i = 5; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * A task's name. `Task-N` is asyncio's; a name the program chose may hold
 * its data (f"session-{email}"), so without values=True only its str hash
 * is written, as "name#" and 16 hex digits: keyed by the process's hash
 * secret, the same in every snapshot of the process (the analyzer matches
 * tasks across snapshots by name), meaningless to anyone without the key.
 */
static void task_name(struct recb *b, PyObject *name)
{
	if (name && PyLong_CheckExact(name)) {
		/* 3.12+: an unnamed task holds its number until asked */
		char buf[32];
		snprintf(buf, sizeof(buf), "Task-%lld", PyLong_AsLongLong(name));
		PyErr_Clear();
		recb_text(b, "name", buf);
		return;
	}
	if (!name || !PyUnicode_Check(name))
		return;
	if (recb_values(b) || default_task_name(name)) {
		recb_pystr(b, "name", name);
		return;
	}
	Py_hash_t h = -1;
	if (PyUnicode_CheckExact(name)) {
		h = PyObject_Hash(name); /* str's own hash: C, cached on the object */
	} else {
		/* a str subclass's __hash__ is never called: the hash str would
		 * compute from the same characters */
#if ASNAP_PY_HAS_LEGACY_STR
		if (PyUnicode_IS_READY(name))
#endif
			h = asnap_py_hash_bytes(PyUnicode_DATA(name),
					  PyUnicode_GET_LENGTH(name) * PyUnicode_KIND(name));
	}
	if (h == -1) {
		PyErr_Clear();
		recb_cstr(b, "name", "name#?");
		return;
	}
	char buf[32];
	snprintf(buf, sizeof(buf), "name#%016llx", (unsigned long long)(Py_uhash_t)h);
	recb_text(b, "name", buf);
}

static void future_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct fut *f = (struct fut *)op;
	bool task = is_a(op, K_TASK);
	struct recb b;
	recb_begin(&b, wk, id, task ? "task" : "future");
	recb_cstr(&b, "state", fut_state_name(f->fut_state));
	int64_t ncb = f->fut_callback0 ? 1 : 0;
	if (f->fut_callbacks && PyList_Check(f->fut_callbacks))
		ncb += PyList_GET_SIZE(f->fut_callbacks);
	recb_int(&b, "callbacks", ncb);
	PyObject *cbname, *cb = newest_fn_callback(f->fut_callback0, f->fut_callbacks, &cbname);
	if (cb) {
		recb_node(&b, "callback", cb);
		recb_pystr(&b, "callback_name", cbname);
	}
	recb_node(&b, "loop", f->fut_loop);
	recb_node(&b, "result", f->fut_result);
	recb_node(&b, "exception", f->fut_exception);
	recb_node(&b, "source_traceback", f->fut_source_tb);
	recb_sites(&b, "created", f->fut_source_tb, summary_site);
	if (task) {
		struct task *t = (struct task *)op;
		task_name(&b, t->task_name);
		recb_node(&b, "coro", t->task_coro);
		recb_node(&b, "waiting_on", t->task_fut_waiter);
		recb_bool(&b, "must_cancel", t->task_must_cancel != 0);
#if ASNAP_PY_HAS_TASK_CANCEL_COUNT
		recb_int(&b, "cancel_requested", t->task_num_cancels_requested);
#endif
	}
	recb_end(&b);
}

static void handle_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct recb b;
	recb_begin(&b, wk, id, "handle");
	PyObject *cb = slot(op, T.off_callback);
	recb_node(&b, "callback", cb);
	recb_callable_name(&b, "callback_name", cb);
	recb_node(&b, "args", slot(op, T.off_args));
	recb_node(&b, "loop", slot(op, T.off_loop));
	PyObject *cancelled = slot(op, T.off_cancelled);
	recb_bool(&b, "cancelled", cancelled == Py_True);
	if (is_a(op, K_TIMER_HANDLE)) {
		PyObject *when = slot(op, T.off_when);
		if (when && PyFloat_CheckExact(when))
			recb_float(&b, "when", PyFloat_AS_DOUBLE(when));
		recb_bool(&b, "scheduled", slot(op, T.off_scheduled) == Py_True);
	}
	recb_end(&b);
}

/* An attribute of the instance, else the class default (a plain dict scan
 * along the MRO: no descriptor is called). */
static PyObject *attr_or_class(PyObject *op, const char *name)
{
	PyObject *v = asnap_py_instance_attr(op, name);
	PyObject *mro = Py_TYPE(op)->tp_mro;
	Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
	for (Py_ssize_t i = 0; !v && i < n; i++)
		v = asnap_dict_get_ascii(((PyTypeObject *)PyTuple_GET_ITEM(mro, i))->tp_dict, name);
	return v;
}

static void loop_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct recb b;
	recb_begin(&b, wk, id, "loop");
	PyObject *ready = asnap_py_instance_attr(op, "_ready");
	if (ready) {
		recb_node(&b, "ready", ready);
		/* a deque is a var-sized object whose size is its length */
		recb_int(&b, "ready_count", (int64_t)Py_SIZE(ready));
	}
	PyObject *sched = asnap_py_instance_attr(op, "_scheduled");
	if (sched && PyList_Check(sched)) {
		recb_node(&b, "scheduled", sched);
		recb_int(&b, "scheduled_count", (int64_t)PyList_GET_SIZE(sched));
	}
	PyObject *thread = asnap_py_instance_attr(op, "_thread_id");
	recb_bool(&b, "running", thread && thread != Py_None);
	PyObject *closed = asnap_py_instance_attr(op, "_closed");
	recb_bool(&b, "closed", closed == Py_True);
	recb_end(&b);
}

static void socket_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct sock *s = (struct sock *)op;
	struct recb b;
	recb_begin(&b, wk, id, "socket");
	recb_int(&b, "fd", s->sock_fd);
	recb_int(&b, "family", s->sock_family);
	recb_int(&b, "type", s->sock_type);
	recb_bool(&b, "closed", s->sock_fd < 0);
	recb_end(&b);
}

/* asyncio's _PENDING/_CANCELLED/_FINISHED, compared without running code */
static const char *py_state_name(PyObject *state)
{
	if (!state || !PyUnicode_CheckExact(state))
		return "unknown";
	if (PyUnicode_CompareWithASCIIString(state, "PENDING") == 0)
		return "pending";
	if (PyUnicode_CompareWithASCIIString(state, "CANCELLED") == 0)
		return "cancelled";
	if (PyUnicode_CompareWithASCIIString(state, "FINISHED") == 0)
		return "finished";
	return "unknown";
}

/* The pure-Python Future and Task keep the same facts as attributes. */
static void py_future_record(struct walk *wk, uint32_t id, PyObject *op)
{
	bool task = is_a(op, K_PY_TASK);
	struct recb b;
	recb_begin(&b, wk, id, task ? "task" : "future");
	recb_cstr(&b, "state", py_state_name(attr_or_class(op, "_state")));
	PyObject *cbs = asnap_py_instance_attr(op, "_callbacks");
	recb_int(&b, "callbacks", cbs && PyList_Check(cbs) ? (int64_t)PyList_GET_SIZE(cbs) : 0);
	PyObject *cbname, *cb = newest_fn_callback(NULL, cbs, &cbname);
	if (cb) {
		recb_node(&b, "callback", cb);
		recb_pystr(&b, "callback_name", cbname);
	}
	recb_node(&b, "loop", asnap_py_instance_attr(op, "_loop"));
	PyObject *result = asnap_py_instance_attr(op, "_result");
	if (result != Py_None)
		recb_node(&b, "result", result);
	PyObject *exc = asnap_py_instance_attr(op, "_exception");
	if (exc != Py_None)
		recb_node(&b, "exception", exc);
	PyObject *tb = asnap_py_instance_attr(op, "_source_traceback");
	if (tb != Py_None) {
		recb_node(&b, "source_traceback", tb);
		recb_sites(&b, "created", tb, summary_site);
	}
	if (task) {
		task_name(&b, asnap_py_instance_attr(op, "_name"));
		recb_node(&b, "coro", asnap_py_instance_attr(op, "_coro"));
		PyObject *waiter = asnap_py_instance_attr(op, "_fut_waiter");
		if (waiter != Py_None)
			recb_node(&b, "waiting_on", waiter);
		recb_bool(&b, "must_cancel", attr_or_class(op, "_must_cancel") == Py_True);
		PyObject *n = attr_or_class(op, "_num_cancels_requested");
		if (n && PyLong_CheckExact(n))
			recb_int(&b, "cancel_requested", PyLong_AsLong(n));
		PyErr_Clear();
	}
	recb_end(&b);
}

/*
 * The numbers among instance attributes that keep their value without
 * values=True: those the analyzer's checks read. Everything else numeric an
 * object holds may be the program's data (a balance, a card number, a PIN)
 * and is left out like the text of a str. docs/AGENT.md lists them.
 */
static const struct {
	enum kind kind;
	const char *attr;
} kept_numbers[] = {
	/* asyncio.events.TimerHandle._when: when the timer fires, in loop
	 * time; uncancelled-handle reads it when the handle record has no
	 * float `when` (call_at() with an int) */
	{K_TIMER_HANDLE, "_when"},
};

bool aio_number_kept(PyObject *op, PyObject *name_obj, const char *name)
{
	for (size_t i = 0; i < sizeof(kept_numbers) / sizeof(kept_numbers[0]); i++) {
		if (!is_a(op, kept_numbers[i].kind))
			continue;
		if (name ? strcmp(name, kept_numbers[i].attr) == 0
			 : PyUnicode_CompareWithASCIIString(name_obj, kept_numbers[i].attr) == 0)
			return true;
	}
	return false;
}

void aio_records(struct walk *wk, uint32_t id, PyObject *op)
{
	if (uvl_records(wk, id, op))
		return;
	if (is_a(op, K_FUTURE))
		future_record(wk, id, op);
	else if (is_a(op, K_PY_FUTURE))
		py_future_record(wk, id, op);
	else if (is_a(op, K_HANDLE))
		handle_record(wk, id, op);
	else if (is_a(op, K_LOOP))
		loop_record(wk, id, op);
	else if (is_a(op, K_SOCKET))
		socket_record(wk, id, op);
}
