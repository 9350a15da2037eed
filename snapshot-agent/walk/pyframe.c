/*
 * pyframe.c - see pyframe.h. The one place that knows how each CPython
 * version lays out frames and generators. Compiled with Py_BUILD_CORE;
 * reads fields, calls nothing that allocates or runs Python code (the
 * attribute getters cr_frame/gi_code fire audit hooks and, on 3.11+,
 * create frame objects, so they are never used).
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#endif
#include <opcode.h>

#include "pyframe.h"

bool asnap_py_is_gen(PyObject *op)
{
	return PyGen_Check(op) || PyCoro_CheckExact(op) || PyAsyncGen_CheckExact(op);
}

#if PY_VERSION_HEX >= 0x030B0000
/* ======================= 3.11, 3.12, 3.13 ============================== */

static PyCodeObject *iframe_code(const _PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030D0000
	PyObject *ex = f->f_executable;
	return ex && PyCode_Check(ex) ? (PyCodeObject *)ex : NULL;
#else
	return f->f_code;
#endif
}

static int iframe_line(_PyInterpreterFrame *f)
{
	PyCodeObject *co = iframe_code(f);
	if (!co)
		return -1;
#if PY_VERSION_HEX >= 0x030C0000
	return PyUnstable_InterpreterFrame_GetLine(f);
#else
	int lasti = (int)(f->prev_instr - _PyCode_CODE(co));
	return PyCode_Addr2Line(co, lasti * (int)sizeof(_Py_CODEUNIT));
#endif
}

static int iframe_locals(const _PyInterpreterFrame *f, asnap_local_fn fn, void *arg)
{
	PyCodeObject *co = iframe_code(f);
	if (!co || !co->co_localsplusnames || !PyTuple_Check(co->co_localsplusnames))
		return 0;
	int n = co->co_nlocalsplus;
	if (n > PyTuple_GET_SIZE(co->co_localsplusnames))
		n = (int)PyTuple_GET_SIZE(co->co_localsplusnames);
	for (int i = 0; i < n; i++) {
		PyObject *v = f->localsplus[i];
		if (v) {
			int rc = fn(PyTuple_GET_ITEM(co->co_localsplusnames, i), v, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void iframe_fields(_PyInterpreterFrame *f, void (*fn)(void *, PyObject *, const char *),
			  void *arg)
{
	fn(arg, (PyObject *)iframe_code(f), "f_code");
	fn(arg, f->f_locals, "f_locals");
#if PY_VERSION_HEX >= 0x030C0000
	fn(arg, f->f_funcobj, "f_func");
#else
	fn(arg, (PyObject *)f->f_func, "f_func");
#endif
}

static _PyInterpreterFrame *gen_iframe(PyObject *gen)
{
	return (_PyInterpreterFrame *)((PyGenObject *)gen)->gi_iframe;
}

static int gen_raw_state(PyObject *gen)
{
	return ((PyGenObject *)gen)->gi_frame_state;
}

enum asnap_gen_state asnap_py_gen_state(PyObject *gen)
{
	int s = gen_raw_state(gen);
	if (s == FRAME_CREATED)
		return ASNAP_GEN_CREATED;
	if (s == FRAME_EXECUTING)
		return ASNAP_GEN_RUNNING;
	if (s >= FRAME_COMPLETED)
		return ASNAP_GEN_CLOSED;
	return ASNAP_GEN_SUSPENDED;
}

PyCodeObject *asnap_py_gen_code(PyObject *gen)
{
	/* the code object stays set after the frame is cleared */
	return iframe_code(gen_iframe(gen));
}

int asnap_py_gen_line(PyObject *gen)
{
	if (gen_raw_state(gen) >= FRAME_COMPLETED)
		return -1;
	return iframe_line(gen_iframe(gen));
}

PyObject *asnap_py_gen_awaiting(PyObject *gen)
{
	int s = gen_raw_state(gen);
	_PyInterpreterFrame *f = gen_iframe(gen);
#if PY_VERSION_HEX >= 0x030D0000
	if (s != FRAME_SUSPENDED_YIELD_FROM || f->stacktop < 1)
		return NULL;
#else
	if (s == FRAME_CREATED || s >= FRAME_EXECUTING || f->stacktop < 1)
		return NULL;
	PyCodeObject *co = iframe_code(f);
	if (!co)
		return NULL;
	/* suspended in a yield-from/await: the next instruction is a RESUME
	 * whose argument is 2 or more, and the delegate is on top of stack */
	_Py_CODEUNIT next = f->prev_instr[1];
#if PY_VERSION_HEX >= 0x030C0000
	if ((next.op.code != RESUME && next.op.code != INSTRUMENTED_RESUME) || next.op.arg < 2)
		return NULL;
#else
	int op = _Py_OPCODE(next);
	if ((op != RESUME && op != RESUME_QUICK) || _Py_OPARG(next) < 2)
		return NULL;
#endif
#endif
	return f->localsplus[f->stacktop - 1];
}

PyObject *asnap_py_gen_frame_object(PyObject *gen)
{
	if (gen_raw_state(gen) >= FRAME_COMPLETED)
		return NULL;
	return (PyObject *)gen_iframe(gen)->frame_obj;
}

int asnap_py_gen_locals(PyObject *gen, asnap_local_fn fn, void *arg)
{
	if (gen_raw_state(gen) >= FRAME_COMPLETED)
		return 0;
	return iframe_locals(gen_iframe(gen), fn, arg);
}

void asnap_py_gen_frame_fields(PyObject *gen, void (*fn)(void *arg, PyObject *v, const char *name),
			       void *arg)
{
	if (gen_raw_state(gen) < FRAME_COMPLETED)
		iframe_fields(gen_iframe(gen), fn, arg);
}

bool asnap_py_gen_locals_untraversed(PyObject *gen)
{
	/* an executing frame has stacktop == -1 and tp_traverse skips it */
	return gen_raw_state(gen) == FRAME_EXECUTING;
}

int asnap_py_frame_locals(PyObject *frame, asnap_local_fn fn, void *arg)
{
	_PyInterpreterFrame *f = ((PyFrameObject *)frame)->f_frame;
	if (!f || f->owner != FRAME_OWNED_BY_FRAME_OBJECT)
		return 0;
	return iframe_locals(f, fn, arg);
}

PyObject *asnap_py_frame_generator(PyObject *frame)
{
	_PyInterpreterFrame *f = ((PyFrameObject *)frame)->f_frame;
	if (!f || f->owner != FRAME_OWNED_BY_GENERATOR)
		return NULL;
	return (PyObject *)_PyFrame_GetGenerator(f);
}

PyCodeObject *asnap_py_frame_code(PyObject *frame)
{
	_PyInterpreterFrame *f = ((PyFrameObject *)frame)->f_frame;
	return f ? iframe_code(f) : NULL;
}

void asnap_py_frame_fields(PyObject *frame, void (*fn)(void *arg, PyObject *v, const char *name),
			   void *arg)
{
	PyFrameObject *fo = (PyFrameObject *)frame;
	fn(arg, (PyObject *)fo->f_back, "f_back");
	fn(arg, fo->f_trace, "f_trace");
	_PyInterpreterFrame *f = fo->f_frame;
	if (f && f->owner == FRAME_OWNED_BY_FRAME_OBJECT)
		iframe_fields(f, fn, arg);
}

static _PyInterpreterFrame *thread_top(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030D0000
	return ts->current_frame;
#else
	return ts->cframe ? ts->cframe->current_frame : NULL;
#endif
}

int asnap_py_thread_frames(asnap_thread_frame_fn fn, void *arg)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts;
	     ts = PyThreadState_Next(ts)) {
		int depth = 0;
		for (_PyInterpreterFrame *f = thread_top(ts); f; f = f->previous) {
#if PY_VERSION_HEX >= 0x030C0000
			if (f->owner == FRAME_OWNED_BY_CSTACK)
				continue;
#endif
			if (_PyFrame_IsIncomplete(f) || !iframe_code(f))
				continue;
			PyObject *gen = f->owner == FRAME_OWNED_BY_GENERATOR
				? (PyObject *)_PyFrame_GetGenerator(f) : NULL;
			int rc = fn(ts->thread_id, depth++, f, (PyObject *)f->frame_obj, gen, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

PyCodeObject *asnap_py_bare_code(const void *bare)
{
	return iframe_code(bare);
}

int asnap_py_bare_line(const void *bare)
{
	return iframe_line((_PyInterpreterFrame *)bare);
}

size_t asnap_py_bare_bytes(const void *bare)
{
	PyCodeObject *co = iframe_code(bare);
	return offsetof(_PyInterpreterFrame, localsplus) +
	       (co ? (size_t)co->co_nlocalsplus * sizeof(PyObject *) : 0);
}

int asnap_py_bare_locals(const void *bare, asnap_local_fn fn, void *arg)
{
	return iframe_locals(bare, fn, arg);
}

#else
/* ============================ 3.9, 3.10 ================================= */

static PyFrameObject *gen_frame(PyObject *gen)
{
	return ((PyGenObject *)gen)->gi_frame;
}

enum asnap_gen_state asnap_py_gen_state(PyObject *gen)
{
	PyFrameObject *f = gen_frame(gen);
	if (!f)
		return ASNAP_GEN_CLOSED;
#if PY_VERSION_HEX >= 0x030A0000
	if (f->f_state == FRAME_CREATED)
		return ASNAP_GEN_CREATED;
	if (f->f_state == FRAME_EXECUTING)
		return ASNAP_GEN_RUNNING;
	if (f->f_state > FRAME_EXECUTING)
		return ASNAP_GEN_CLOSED;
	return ASNAP_GEN_SUSPENDED;
#else
	if (((PyGenObject *)gen)->gi_running)
		return ASNAP_GEN_RUNNING;
	if (f->f_lasti == -1)
		return ASNAP_GEN_CREATED;
	if (!f->f_stacktop) /* finished but not yet dropped its frame */
		return ASNAP_GEN_CLOSED;
	return ASNAP_GEN_SUSPENDED;
#endif
}

PyCodeObject *asnap_py_gen_code(PyObject *gen)
{
	PyObject *co = ((PyGenObject *)gen)->gi_code;
	return co && PyCode_Check(co) ? (PyCodeObject *)co : NULL;
}

int asnap_py_gen_line(PyObject *gen)
{
	PyFrameObject *f = gen_frame(gen);
	return f ? PyFrame_GetLineNumber(f) : -1;
}

PyObject *asnap_py_gen_awaiting(PyObject *gen)
{
	PyFrameObject *f = gen_frame(gen);
	if (!f || f->f_lasti < 0 || !f->f_code)
		return NULL;
	const unsigned char *code = (const unsigned char *)PyBytes_AS_STRING(f->f_code->co_code);
	Py_ssize_t len = PyBytes_GET_SIZE(f->f_code->co_code);
#if PY_VERSION_HEX >= 0x030A0000
	Py_ssize_t at = ((Py_ssize_t)f->f_lasti + 1) * (Py_ssize_t)sizeof(_Py_CODEUNIT);
	if (f->f_state != FRAME_SUSPENDED || f->f_stackdepth < 1 || at >= len || code[at] != YIELD_FROM)
		return NULL;
	return f->f_valuestack[f->f_stackdepth - 1];
#else
	Py_ssize_t at = (Py_ssize_t)f->f_lasti + (Py_ssize_t)sizeof(_Py_CODEUNIT);
	if (!f->f_stacktop || f->f_stacktop <= f->f_valuestack || at >= len || code[at] != YIELD_FROM)
		return NULL;
	return f->f_stacktop[-1];
#endif
}

PyObject *asnap_py_gen_frame_object(PyObject *gen)
{
	return (PyObject *)gen_frame(gen);
}

static int frame_locals(PyFrameObject *f, asnap_local_fn fn, void *arg)
{
	PyCodeObject *co = f->f_code;
	if (!co)
		return 0;
	Py_ssize_t nlocals = co->co_nlocals;
	PyObject *groups[3] = {co->co_varnames, co->co_cellvars, co->co_freevars};
	Py_ssize_t slot = 0;
	for (int g = 0; g < 3; g++) {
		PyObject *names = groups[g];
		Py_ssize_t n = names && PyTuple_Check(names) ? PyTuple_GET_SIZE(names) : 0;
		if (g == 0 && n > nlocals)
			n = nlocals;
		for (Py_ssize_t i = 0; i < n; i++, slot++) {
			PyObject *v = f->f_localsplus[slot];
			if (v) {
				int rc = fn(PyTuple_GET_ITEM(names, i), v, arg);
				if (rc)
					return rc;
			}
		}
		if (g == 0)
			slot = nlocals;
	}
	return 0;
}

int asnap_py_gen_locals(PyObject *gen, asnap_local_fn fn, void *arg)
{
	PyFrameObject *f = gen_frame(gen);
	return f ? frame_locals(f, fn, arg) : 0;
}

void asnap_py_gen_frame_fields(PyObject *gen, void (*fn)(void *arg, PyObject *v, const char *name),
			       void *arg)
{
	(void)gen; /* the frame object has them */
	(void)fn;
	(void)arg;
}

bool asnap_py_gen_locals_untraversed(PyObject *gen)
{
	(void)gen; /* the frame object is traversed in every state */
	return false;
}

int asnap_py_frame_locals(PyObject *frame, asnap_local_fn fn, void *arg)
{
	return frame_locals((PyFrameObject *)frame, fn, arg);
}

PyObject *asnap_py_frame_generator(PyObject *frame)
{
	return ((PyFrameObject *)frame)->f_gen;
}

PyCodeObject *asnap_py_frame_code(PyObject *frame)
{
	return ((PyFrameObject *)frame)->f_code;
}

void asnap_py_frame_fields(PyObject *frame, void (*fn)(void *arg, PyObject *v, const char *name),
			   void *arg)
{
	PyFrameObject *f = (PyFrameObject *)frame;
	fn(arg, (PyObject *)f->f_back, "f_back");
	fn(arg, (PyObject *)f->f_code, "f_code");
	fn(arg, f->f_builtins, "f_builtins");
	fn(arg, f->f_globals, "f_globals");
	fn(arg, f->f_locals, "f_locals");
	fn(arg, f->f_trace, "f_trace");
	/* a suspended generator's awaited object sits on this frame's stack */
	if (f->f_gen)
		fn(arg, asnap_py_gen_awaiting(f->f_gen),
		   PyCoro_CheckExact(f->f_gen) ? "cr_await"
		   : PyAsyncGen_CheckExact(f->f_gen) ? "ag_await" : "gi_yieldfrom");
}

int asnap_py_thread_frames(asnap_thread_frame_fn fn, void *arg)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts;
	     ts = PyThreadState_Next(ts)) {
		int depth = 0;
		for (PyFrameObject *f = ts->frame; f; f = f->f_back) {
			int rc = fn(ts->thread_id, depth++, NULL, (PyObject *)f, f->f_gen, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* No bare frames before 3.11: every frame is an object. */
PyCodeObject *asnap_py_bare_code(const void *bare)
{
	(void)bare;
	return NULL;
}

int asnap_py_bare_line(const void *bare)
{
	(void)bare;
	return -1;
}

size_t asnap_py_bare_bytes(const void *bare)
{
	(void)bare;
	return 0;
}

int asnap_py_bare_locals(const void *bare, asnap_local_fn fn, void *arg)
{
	(void)bare;
	(void)fn;
	(void)arg;
	return 0;
}

#endif
