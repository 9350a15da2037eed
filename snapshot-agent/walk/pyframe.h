/*
 * pyframe.h - frames, generators and coroutines on CPython 3.9-3.15, read
 * without materializing frame objects, calling getters or running Python
 * code (docs/CPYTHON-INTERNALS.md §2, §3, §6, §9). Implemented once per
 * version family, in frames_39.c (3.9, 3.10) and frames_311.c (3.11 to
 * 3.15), compiled with Py_BUILD_CORE against the interpreter's internal
 * headers; everything version-specific about frames lives there.
 *
 * Three kinds of frame appear here:
 *   - the frame inside a generator/coroutine (an object we have);
 *   - a frame object (types.FrameType), which on 3.11+ may own its data or
 *     point into a generator or a thread's stack;
 *   - an executing frame on a thread's stack, which on 3.11+ is not an
 *     object at all (a "bare" frame, passed around as const void *).
 */
#ifndef ASNAP_AGENT_PYFRAME_H
#define ASNAP_AGENT_PYFRAME_H

#include <Python.h>
#include <stdbool.h>
#include <stddef.h>

enum asnap_gen_state {
	ASNAP_GEN_CREATED,
	ASNAP_GEN_SUSPENDED,
	ASNAP_GEN_RUNNING,
	ASNAP_GEN_CLOSED,
};

/* Called for each local variable slot that holds something: the variable's
 * name (a str from the code object) and the slot's value (for a cell or
 * free variable, the cell). Return non-zero to stop. */
typedef int (*asnap_local_fn)(PyObject *name, PyObject *value, void *arg);

/* --- generators, coroutines, async generators --- */

bool asnap_py_is_gen(PyObject *op);
enum asnap_gen_state asnap_py_gen_state(PyObject *gen);
/* Its __name__ and __qualname__, and for a coroutine the creation stack
 * kept by sys.set_coroutine_origin_tracking_depth (or NULL). Borrowed. */
PyObject *asnap_py_gen_name(PyObject *gen);
PyObject *asnap_py_gen_qualname(PyObject *gen);
PyObject *asnap_py_gen_origin(PyObject *gen);
/* The code object (borrowed), or NULL. */
PyCodeObject *asnap_py_gen_code(PyObject *gen);
/* Line where it is suspended (the def line when created); -1 if closed. */
int asnap_py_gen_line(PyObject *gen);
/* What it is awaiting / delegating to (cr_await, gi_yieldfrom), borrowed. */
PyObject *asnap_py_gen_awaiting(PyObject *gen);
/* Its frame object, if one exists (never creates one). Borrowed. */
PyObject *asnap_py_gen_frame_object(PyObject *gen);
/* Its locals, by name, while it is not closed. */
int asnap_py_gen_locals(PyObject *gen, asnap_local_fn fn, void *arg);
/* Its frame's own fields (f_func, f_locals), named, as for frame objects
 * (3.11+; before, they belong to the frame object). */
void asnap_py_gen_frame_fields(PyObject *gen, void (*fn)(void *arg, PyObject *v, const char *name),
			       void *arg);
/* Whether tp_traverse misses its locals (3.11+: while it executes). */
bool asnap_py_gen_locals_untraversed(PyObject *gen);

/* --- frame objects --- */

/* Locals of a frame object that holds its own data (always on 3.9/3.10;
 * on 3.11+ once the function has returned, e.g. kept by a traceback). */
int asnap_py_frame_locals(PyObject *frame, asnap_local_fn fn, void *arg);
/* The generator whose frame this is, or NULL. Borrowed. */
PyObject *asnap_py_frame_generator(PyObject *frame);
PyCodeObject *asnap_py_frame_code(PyObject *frame);
/* The frame object's own fields (f_back, f_code, f_globals, ...), named:
 * fn(arg, value, name) for each one set. */
void asnap_py_frame_fields(PyObject *frame, void (*fn)(void *arg, PyObject *v, const char *name),
			   void *arg);

/* --- thread stacks --- */

/*
 * Called for every frame executing on every thread, innermost first. On
 * 3.9/3.10 `object` is the frame object and `bare` NULL; on 3.11+ `bare`
 * is the interpreter frame and `object` its frame object if one exists.
 * `gen` is the generator owning the frame, if any.
 */
typedef int (*asnap_thread_frame_fn)(unsigned long thread_id, int depth, const void *bare,
				     PyObject *object, PyObject *gen, void *arg);
int asnap_py_thread_frames(asnap_thread_frame_fn fn, void *arg);

/* A bare frame's code, line, size in bytes and locals. */
PyCodeObject *asnap_py_bare_code(const void *bare);
int asnap_py_bare_line(const void *bare);
size_t asnap_py_bare_bytes(const void *bare);
int asnap_py_bare_locals(const void *bare, asnap_local_fn fn, void *arg);

#endif
