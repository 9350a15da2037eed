/*
 * pyinst.h - instance attributes on CPython 3.9-3.15, read without
 * creating the instance dict (docs/CPYTHON-INTERNALS.md §4): on 3.11+
 * attributes may live in "values" beside or inside the object, and
 * obj.__dict__ or _PyObject_GetDictPtr would materialize a dict there.
 * Implemented in pyinst.c with Py_BUILD_CORE.
 */
#ifndef ASNAP_AGENT_PYINST_H
#define ASNAP_AGENT_PYINST_H

#include <Python.h>

#include "pyframe.h" /* asnap_local_fn */

/* The instance's dict if it has one already; never creates it. Borrowed. */
PyObject *asnap_py_instance_dict(PyObject *op);

/* Attributes stored as values outside any dict (3.11+; none before):
 * fn(name, value) for each one set. */
int asnap_py_instance_values(PyObject *op, asnap_local_fn fn, void *arg);

/* An attribute of the instance by name, from its dict or its values (no
 * class lookup, no descriptor). Borrowed, or NULL. */
PyObject *asnap_py_instance_attr(PyObject *op, const char *name);

/* The value of an exact-str key in a dict, found by scanning with
 * PyDict_Next: no hashing, no == on other keys (which could run Python
 * code), no allocation. Borrowed, or NULL. */
PyObject *asnap_dict_get_ascii(PyObject *dict, const char *key);

#endif
