/*
 * internals.c - see internals.h. Compiled with Py_BUILD_CORE so that the
 * interpreter's internal headers are usable; keep this file small.
 */
#define Py_BUILD_CORE 1
#include <Python.h>

#include "pyver.h"

#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#if ASNAP_PY_HAS_INTERP_INTERNED
#include "internal/pycore_global_objects.h"
#endif

#include "internals.h"

static struct _gc_runtime_state *gcstate(void)
{
	return &PyInterpreterState_Get()->gc;
}

int asnap_py_gc_collecting(void)
{
	return gcstate()->collecting != 0;
}

int asnap_py_gc_pause(void)
{
#if ASNAP_PY_HAS_GC_TOGGLE_API
	return PyGC_Disable();
#else
	struct _gc_runtime_state *gc = gcstate();
	int was = gc->enabled;
	gc->enabled = 0;
	return was;
#endif
}

void asnap_py_gc_resume(int was_enabled)
{
	if (!was_enabled)
		return;
#if ASNAP_PY_HAS_GC_TOGGLE_API
	PyGC_Enable();
#else
	gcstate()->enabled = 1;
#endif
}

PyObject *asnap_py_interned_dict(void)
{
#if ASNAP_PY_HAS_INTERP_INTERNED
	return _Py_INTERP_CACHED_OBJECT(PyInterpreterState_Get(), interned_strings);
#else
	return NULL; /* a static of unicodeobject.c, and untracked */
#endif
}

static int walk_list(PyGC_Head *head, int (*fn)(PyObject *, void *), void *arg)
{
	for (PyGC_Head *g = (PyGC_Head *)head->_gc_next; g != head;
	     g = (PyGC_Head *)g->_gc_next) {
		if (fn((PyObject *)(g + 1), arg) < 0)
			return -1;
	}
	return 0;
}

int asnap_py_gc_foreach(int (*fn)(PyObject *op, void *arg), void *arg)
{
	struct _gc_runtime_state *gc = gcstate();
	for (int i = 0; i < NUM_GENERATIONS; i++)
		if (walk_list(&gc->generations[i].head, fn, arg) < 0)
			return -1;
	return walk_list(&gc->permanent_generation.head, fn, arg);
}
