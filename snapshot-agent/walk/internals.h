/*
 * internals.h - the few CPython internals the walk needs that no public API
 * gives without side effects: the collector's object lists and its state.
 * Implemented in internals.c, the one file compiled with Py_BUILD_CORE and
 * the interpreter's internal headers (docs/CPYTHON-INTERNALS.md §1).
 */
#ifndef ASNAP_AGENT_INTERNALS_H
#define ASNAP_AGENT_INTERNALS_H

#include <Python.h>

/* True while the cycle collector runs: its lists are not walkable then. */
int asnap_py_gc_collecting(void);

/* Disable the collector; returns whether it was enabled. */
int asnap_py_gc_pause(void);
void asnap_py_gc_resume(int was_enabled);

/*
 * Call fn for every object on the collector's lists: the three generations
 * and the permanent one (gc.freeze()), which gc.get_objects() skips. Stops
 * early and returns -1 when fn does.
 */
/* The interpreter's dict of interned strings (3.12+), or NULL. Borrowed. */
PyObject *asnap_py_interned_dict(void);

int asnap_py_gc_foreach(int (*fn)(PyObject *op, void *arg), void *arg);

#endif
