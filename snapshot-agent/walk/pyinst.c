/*
 * pyinst.c - see pyinst.h. Compiled with Py_BUILD_CORE for the dict and
 * object internals; reads fields only.
 */
#define Py_BUILD_CORE 1
#include <Python.h>

#include "pyver.h"

#if ASNAP_PY_HAS_MANAGED_DICT
#include "internal/pycore_dict.h"
#include "internal/pycore_object.h"
#endif

#include "pyinst.h"

PyObject *asnap_dict_get_ascii(PyObject *dict, const char *key)
{
	if (!dict || !PyDict_Check(dict))
		return NULL;
	Py_ssize_t pos = 0, keylen = (Py_ssize_t)strlen(key);
	PyObject *k, *v;
	while (PyDict_Next(dict, &pos, &k, &v)) {
		if (PyUnicode_CheckExact(k) && PyUnicode_GET_LENGTH(k) == keylen &&
		    PyUnicode_CompareWithASCIIString(k, key) == 0)
			return v;
	}
	return NULL;
}

struct attr_find {
	const char *name;
	PyObject *found;
};

static int attr_find_fn(PyObject *name, PyObject *value, void *arg)
{
	struct attr_find *a = arg;
	if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, a->name) == 0) {
		a->found = value;
		return 1;
	}
	return 0;
}

PyObject *asnap_py_instance_attr(PyObject *op, const char *name)
{
	PyObject *d = asnap_py_instance_dict(op);
	if (d)
		return asnap_dict_get_ascii(d, name);
	struct attr_find a = {name, NULL};
	asnap_py_instance_values(op, attr_find_fn, &a);
	return a.found;
}

static PyObject *dict_at_offset(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	Py_ssize_t off = tp->tp_dictoffset;
	if (off == 0)
		return NULL;
	if (off < 0) {
		/* counted from the end of a variable-size object */
		Py_ssize_t n = Py_SIZE(op);
		if (n < 0)
			n = -n;
		size_t size = (size_t)_PyObject_VAR_SIZE(tp, n);
		off += (Py_ssize_t)size;
	}
	PyObject *d = *(PyObject **)((char *)op + off);
	return d && PyDict_Check(d) ? d : NULL;
}

#if ASNAP_PY_INSTANCE_VALUES
static int keyed_values(PyObject *op, PyObject **values, Py_ssize_t cap, asnap_local_fn fn,
			void *arg)
{
	PyTypeObject *tp = Py_TYPE(op);
	if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
		return 0;
	PyDictKeysObject *keys = ((PyHeapTypeObject *)tp)->ht_cached_keys;
	if (!keys)
		return 0;
	Py_ssize_t n = keys->dk_nentries;
	if (cap >= 0 && n > cap)
		n = cap;
	PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(keys);
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *v = values[i];
		PyObject *k = entries[i].me_key;
		if (v && k) {
			int rc = fn(k, v, arg);
			if (rc)
				return rc;
		}
	}
	return 0;
}
#endif

/*
 * Per version: managed_dict, the dict of an object whose type has
 * Py_TPFLAGS_MANAGED_DICT (or NULL), and inline_values, the attribute
 * values kept outside any dict (or NULL), with their capacity (-1: as many
 * as the type's cached keys).
 */
#if ASNAP_PY_INSTANCE_VALUES == 3 /* inline values (3.13+) */

static PyObject *managed_dict(PyObject *op)
{
	return (PyObject *)_PyObject_ManagedDictPointer(op)->dict;
}

static PyObject **inline_values(PyObject *op, Py_ssize_t *cap)
{
	if (!(Py_TYPE(op)->tp_flags & Py_TPFLAGS_INLINE_VALUES))
		return NULL;
	PyDictValues *v = _PyObject_InlineValues(op);
	*cap = v->capacity;
	return v->valid ? v->values : NULL;
}

#elif ASNAP_PY_INSTANCE_VALUES == 2 /* dict-or-values word (3.12) */

static PyObject *managed_dict(PyObject *op)
{
	PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(op);
	return _PyDictOrValues_IsValues(dorv) ? NULL : _PyDictOrValues_GetDict(dorv);
}

static PyObject **inline_values(PyObject *op, Py_ssize_t *cap)
{
	if (!(Py_TYPE(op)->tp_flags & Py_TPFLAGS_MANAGED_DICT))
		return NULL;
	PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(op);
	PyDictValues *v = _PyDictOrValues_IsValues(dorv) ? _PyDictOrValues_GetValues(dorv) : NULL;
	*cap = -1;
	return v ? v->values : NULL;
}

#elif ASNAP_PY_INSTANCE_VALUES == 1 /* values pointer (3.11) */

static PyObject *managed_dict(PyObject *op)
{
	return *_PyObject_ManagedDictPointer(op);
}

static PyObject **inline_values(PyObject *op, Py_ssize_t *cap)
{
	if (!(Py_TYPE(op)->tp_flags & Py_TPFLAGS_MANAGED_DICT))
		return NULL;
	PyDictValues *v = *_PyObject_ValuesPointer(op);
	*cap = -1;
	return v ? v->values : NULL;
}

#endif

#if ASNAP_PY_INSTANCE_VALUES

PyObject *asnap_py_instance_dict(PyObject *op)
{
	if (Py_TYPE(op)->tp_flags & Py_TPFLAGS_MANAGED_DICT) {
		PyObject *d = managed_dict(op);
		return d && PyDict_Check(d) ? d : NULL;
	}
	return dict_at_offset(op);
}

int asnap_py_instance_values(PyObject *op, asnap_local_fn fn, void *arg)
{
	Py_ssize_t cap = -1;
	PyObject **values = inline_values(op, &cap);
	return values ? keyed_values(op, values, cap, fn, arg) : 0;
}

#else /* 3.9, 3.10: attributes are always in the dict */

PyObject *asnap_py_instance_dict(PyObject *op)
{
	return dict_at_offset(op);
}

int asnap_py_instance_values(PyObject *op, asnap_local_fn fn, void *arg)
{
	(void)op;
	(void)fn;
	(void)arg;
	return 0;
}

#endif
