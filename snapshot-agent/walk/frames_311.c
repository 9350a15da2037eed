/*
 * frames_311.c - pyframe.h for CPython 3.11 to 3.15, where a frame is a
 * _PyInterpreterFrame struct embedded in its generator or on a thread's
 * data stack, and a frame object exists only when someone asked for one
 * (CPYTHON-INTERNALS §2, §3, §6, §9). The build compiles this file or
 * frames_39.c, never both. Compiled with Py_BUILD_CORE; reads fields, calls
 * nothing that allocates or runs Python code (the attribute getters
 * cr_frame/gi_code fire audit hooks and create frame objects, so they are
 * never used).
 *
 * Differences inside the family are named capabilities (pyver.h); the one
 * that is silent when missed is ASNAP_PY_HAS_STACKREFS: from 3.14 on every
 * frame slot is a tagged _PyStackRef, unwrapped by slot_obj() below and
 * nowhere else.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>

#include "pyver.h"

#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#if ASNAP_PY_HAS_INTERPFRAME_STRUCTS_H
#include "internal/pycore_genobject.h"
#include "internal/pycore_interpframe.h"
#endif
#include <opcode.h>

#include "pyframe.h"

bool asnap_py_is_gen(PyObject *op)
{
	/* exact: generator types cannot be subclassed (no Py_TPFLAGS_BASETYPE),
	 * and PyGen_Check would ask PyType_IsSubtype of every object */
	return PyGen_CheckExact(op) || PyCoro_CheckExact(op) || PyAsyncGen_CheckExact(op);
}

/* ---- slots: PyObject * before 3.14, _PyStackRef from 3.14 on ---- */

#if ASNAP_PY_HAS_STACKREFS
/*
 * The object a stack reference names, or NULL. In the GIL builds of 3.14
 * and 3.15 a reference is a pointer whose low bit marks a deferred or
 * borrowed reference: NULL is the bit pattern 1 (0 is never stored, but
 * read as NULL too); bits & 3 == 3 is a tagged int (a loop index, a saved
 * instruction offset), which is no object; bits & 3 == 2 is the error
 * marker of debug builds.
 */
typedef _PyStackRef slot_t;
static inline PyObject *slot_obj(slot_t ref)
{
	uintptr_t bits = ref.bits;
	if (bits <= 1 || (bits & 3) >= 2)
		return NULL;
	return (PyObject *)(bits & ~(uintptr_t)3);
}
#else
typedef PyObject *slot_t;
static inline PyObject *slot_obj(slot_t ref)
{
	return ref;
}
#endif

/* Generator states, the same names in every version of the family but
 * renumbered in 3.15 (no COMPLETED; CLEARED after EXECUTING). */
#if ASNAP_PY_HAS_STATE_MACROS
#define STATE_FINISHED(s) FRAME_STATE_FINISHED(s)
#else
#define STATE_FINISHED(s) ((s) >= FRAME_COMPLETED)
#endif

/* ---- one interpreter frame ---- */

static PyCodeObject *iframe_code(const _PyInterpreterFrame *f)
{
#if ASNAP_PY_HAS_FRAME_EXECUTABLE
	PyObject *ex = slot_obj(f->f_executable);
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
#if ASNAP_PY_HAS_FRAME_GETLINE
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
		PyObject *v = slot_obj(f->localsplus[i]);
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
#if ASNAP_PY_HAS_STACKREFS
	fn(arg, slot_obj(f->f_funcobj), "f_func");
#elif ASNAP_PY_HAS_FRAME_FUNCOBJ
	fn(arg, f->f_funcobj, "f_func");
#else
	fn(arg, (PyObject *)f->f_func, "f_func");
#endif
}

/* The delegate of a frame suspended in an await (yield from): the value
 * ASNAP_PY_YIELD_FROM_DEPTH deep in its value stack, or NULL when the
 * stack is not that deep. */
static PyObject *iframe_delegate(const _PyInterpreterFrame *f, PyCodeObject *co)
{
	const int depth = ASNAP_PY_YIELD_FROM_DEPTH;
#if ASNAP_PY_HAS_STACKPOINTER
	const slot_t *base = f->localsplus + co->co_nlocalsplus;
	if (!f->stackpointer || f->stackpointer - base < depth)
		return NULL;
	return slot_obj(f->stackpointer[-depth]);
#else
	if (f->stacktop - co->co_nlocalsplus < depth)
		return NULL;
	return slot_obj(f->localsplus[f->stacktop - depth]);
#endif
}

static _PyInterpreterFrame *frame_generator_owned(_PyInterpreterFrame *f, PyObject **gen)
{
#if ASNAP_PY_HAS_INTERPFRAME_STRUCTS_H
	*gen = f->owner == FRAME_OWNED_BY_GENERATOR ? (PyObject *)_PyGen_GetGeneratorFromFrame(f) : NULL;
#else
	*gen = f->owner == FRAME_OWNED_BY_GENERATOR ? (PyObject *)_PyFrame_GetGenerator(f) : NULL;
#endif
	return f;
}

/* ---- generators ---- */

static _PyInterpreterFrame *gen_iframe(PyObject *gen)
{
	return (_PyInterpreterFrame *)&((PyGenObject *)gen)->gi_iframe;
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
	if (STATE_FINISHED(s))
		return ASNAP_GEN_CLOSED;
	return ASNAP_GEN_SUSPENDED;
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
	return PyCoro_CheckExact(gen) ? ((PyCoroObject *)gen)->cr_origin_or_finalizer : NULL;
}

PyCodeObject *asnap_py_gen_code(PyObject *gen)
{
	/* the code object stays set after the frame is cleared */
	return iframe_code(gen_iframe(gen));
}

int asnap_py_gen_line(PyObject *gen)
{
	if (STATE_FINISHED(gen_raw_state(gen)))
		return -1;
	return iframe_line(gen_iframe(gen));
}

PyObject *asnap_py_gen_awaiting(PyObject *gen)
{
	int s = gen_raw_state(gen);
	_PyInterpreterFrame *f = gen_iframe(gen);
	PyCodeObject *co = iframe_code(f);
	if (!co)
		return NULL;
#if ASNAP_PY_HAS_YIELD_FROM_STATE
	/* 3.15 adds FRAME_SUSPENDED_YIELD_FROM_LOCKED, a yield-from frame
	 * another thread is resuming: not while we hold the GIL and walk */
	if (s != FRAME_SUSPENDED_YIELD_FROM)
		return NULL;
#else
	if (s == FRAME_CREATED || s >= FRAME_EXECUTING)
		return NULL;
	/* suspended in a yield-from/await: the next instruction is a RESUME
	 * whose argument is 2 or more, and the delegate is on top of stack */
	_Py_CODEUNIT next = f->prev_instr[1];
#if ASNAP_PY_HAS_INSTRUMENTED_RESUME
	if ((next.op.code != RESUME && next.op.code != INSTRUMENTED_RESUME) || next.op.arg < 2)
		return NULL;
#else
	int op = _Py_OPCODE(next);
	if ((op != RESUME && op != RESUME_QUICK) || _Py_OPARG(next) < 2)
		return NULL;
#endif
#endif
	return iframe_delegate(f, co);
}

PyObject *asnap_py_gen_frame_object(PyObject *gen)
{
	if (STATE_FINISHED(gen_raw_state(gen)))
		return NULL;
	return (PyObject *)gen_iframe(gen)->frame_obj;
}

int asnap_py_gen_locals(PyObject *gen, asnap_local_fn fn, void *arg)
{
	if (STATE_FINISHED(gen_raw_state(gen)))
		return 0;
	return iframe_locals(gen_iframe(gen), fn, arg);
}

void asnap_py_gen_frame_fields(PyObject *gen, void (*fn)(void *arg, PyObject *v, const char *name),
			       void *arg)
{
	if (!STATE_FINISHED(gen_raw_state(gen)))
		iframe_fields(gen_iframe(gen), fn, arg);
}

bool asnap_py_gen_locals_untraversed(PyObject *gen)
{
	/* an executing frame has no stack top (stacktop -1, stackpointer
	 * NULL) and tp_traverse skips it */
	return gen_raw_state(gen) == FRAME_EXECUTING;
}

/* ---- frame objects ---- */

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
	PyObject *gen = NULL;
	if (f)
		frame_generator_owned(f, &gen);
	return gen;
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

/* ---- thread stacks ---- */

static _PyInterpreterFrame *thread_top(PyThreadState *ts)
{
#if ASNAP_PY_HAS_TSTATE_CURRENT_FRAME
	return ts->current_frame;
#else
	return ts->cframe ? ts->cframe->current_frame : NULL;
#endif
}

/* A frame of no Python function: the C stack's trampoline (3.12+), the
 * interpreter's own entry and base frames (3.14+). */
static bool frame_is_shim(const _PyInterpreterFrame *f)
{
#if ASNAP_PY_HAS_INTERPRETER_FRAMES
	/* 3.14: INTERPRETER 3, CSTACK 4; 3.15: INTERPRETER only */
	return f->owner >= FRAME_OWNED_BY_INTERPRETER;
#elif ASNAP_PY_HAS_CSTACK_FRAMES
	return f->owner == FRAME_OWNED_BY_CSTACK;
#else
	(void)f;
	return false;
#endif
}

int asnap_py_thread_frames(asnap_thread_frame_fn fn, void *arg)
{
	PyInterpreterState *interp = PyInterpreterState_Get();
	for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts;
	     ts = PyThreadState_Next(ts)) {
		int depth = 0;
		for (_PyInterpreterFrame *f = thread_top(ts); f; f = f->previous) {
			if (frame_is_shim(f) || !iframe_code(f) || _PyFrame_IsIncomplete(f))
				continue;
			PyObject *gen;
			frame_generator_owned(f, &gen);
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
	       (co ? (size_t)co->co_nlocalsplus * sizeof(slot_t) : 0);
}

int asnap_py_bare_locals(const void *bare, asnap_local_fn fn, void *arg)
{
	return iframe_locals(bare, fn, arg);
}
