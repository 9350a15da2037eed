/*
 * frames_39.c - pyframe.h for CPython 3.9 and 3.10, where every frame is a
 * frame object (types.FrameType) and a generator points to its frame
 * (CPYTHON-INTERNALS §2, §3, §6). The build compiles this file or
 * frames_311.c, never both. Reads fields; calls nothing that allocates or
 * runs Python code.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#include <opcode.h>

#include "pyver.h"
#include "pyframe.h"

bool asnap_py_is_gen(PyObject *op)
{
	/* exact: generator types cannot be subclassed (no Py_TPFLAGS_BASETYPE),
	 * and PyGen_Check would ask PyType_IsSubtype of every object */
	return PyGen_CheckExact(op) || PyCoro_CheckExact(op) || PyAsyncGen_CheckExact(op);
}


static PyFrameObject *gen_frame(PyObject *gen)
{
	return ((PyGenObject *)gen)->gi_frame;
}

enum asnap_gen_state asnap_py_gen_state(PyObject *gen)
{
	PyFrameObject *f = gen_frame(gen);
	if (!f)
		return ASNAP_GEN_CLOSED;
#if ASNAP_PY_HAS_FRAME_F_STATE
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

PyObject *asnap_py_gen_name(PyObject *gen)
{
	return ((PyGenObject *)gen)->gi_name;
}

PyObject *asnap_py_gen_qualname(PyObject *gen)
{
	return ((PyGenObject *)gen)->gi_qualname;
}

PyObject *asnap_py_gen_origin(PyObject *gen)
{
	return PyCoro_CheckExact(gen) ? ((PyCoroObject *)gen)->cr_origin : NULL;
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
#if ASNAP_PY_HAS_FRAME_F_STATE
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

