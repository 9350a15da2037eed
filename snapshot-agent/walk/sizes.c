/*
 * sizes.c - type names and the shallow size of every object, as
 * sys.getsizeof would say without calling any Python code
 * (CPYTHON-INTERNALS §8).
 */
#include <Python.h>
#include <string.h>

#include "pyinst.h"
#include "pyver.h"
#include "walkctx.h"

/* ---- types: names and how to size their instances ------------------------ */

static size_t type_name(PyTypeObject *tp, char *buf, size_t cap)
{
	bool complete;
	if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
		PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
		size_t n = 0;
		PyObject *mod = asnap_dict_get_ascii(tp->tp_dict, "__module__");
		if (mod && PyUnicode_Check(mod))
			n = walk_str_utf8(mod, buf, cap - 1, &complete);
		else
			n = (size_t)snprintf(buf, cap, "?");
		buf[n++] = '.';
		if (ht->ht_qualname && PyUnicode_Check(ht->ht_qualname))
			n += walk_str_utf8(ht->ht_qualname, buf + n, cap - n, &complete);
		else
			n += (size_t)snprintf(buf + n, cap - n, "%s", tp->tp_name);
		return n < cap ? n : cap - 1;
	}
	/* Static types: tp_name is "module.Name", or "Name" for builtins. */
	int n = strchr(tp->tp_name, '.') ? snprintf(buf, cap, "%s", tp->tp_name)
					 : snprintf(buf, cap, "builtins.%s", tp->tp_name);
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

static enum size_mode size_mode_of(struct walk *wk, PyTypeObject *tp, PyCFunction *fn)
{
	*fn = NULL;
	/* _PyType_Lookup walks the MRO's dicts; it never calls Python code. */
	PyObject *descr = _PyType_Lookup(tp, wk->names->sizeof_name);
	if (descr && descr != wk->names->object_sizeof && Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
		PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
		if ((def->ml_flags & ~METH_COEXIST) == METH_NOARGS)
			*fn = def->ml_meth;
	}
	if (tp == &PyList_Type)
		return SIZE_LIST;
	if (tp == &PyUnicode_Type)
		return SIZE_STR;
	/* A __sizeof__ written in Python is never called: basic size. */
	return *fn ? SIZE_CALL : SIZE_BASIC;
}

struct type_info *walk_type_info(struct walk *wk, PyTypeObject *tp)
{
	uint32_t idx = ptrmap_get(&wk->types, (uintptr_t)tp);
	if (idx != UINT32_MAX)
		return &wk->tinfo[idx];
	if (wk->ntypes == wk->tcap) {
		size_t cap = wk->tcap ? wk->tcap * 2 : 256;
		struct type_info *t = realloc(wk->tinfo, cap * sizeof(*t));
		if (!t) {
			wk->oom = true;
			return NULL;
		}
		wk->tinfo = t;
		wk->tcap = cap;
	}
	char name[TYPE_NAME_MAX];
	size_t len = type_name(tp, name, sizeof(name));
	struct type_info *ti = &wk->tinfo[wk->ntypes];
	ti->name = asnap_writer_intern(wk->w, name, len);
	ti->size_mode = (uint8_t)size_mode_of(wk, tp, &ti->sizeof_fn);
	if (ptrmap_put(&wk->types, (uintptr_t)tp, (uint32_t)wk->ntypes, NULL) < 0) {
		wk->oom = true;
		return NULL;
	}
	wk->ntypes++;
	return ti;
}

/* ---- sizes ----------------------------------------------------------------- */

static Py_ssize_t basic_size(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	Py_ssize_t size = tp->tp_basicsize;
	if (tp->tp_itemsize > 0) {
		Py_ssize_t n = Py_SIZE(op);
		size += (n < 0 ? -n : n) * tp->tp_itemsize;
	}
	return size;
}

/* What sys.getsizeof adds to __sizeof__: the collector's header, and from
 * 3.12 on the pre-header of managed dicts and weak references. */
Py_ssize_t walk_header_size(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
#if ASNAP_PY_HAS_MANAGED_WEAKREF /* 3.12+: and static types have no header */
	if (Py_IS_TYPE(op, &PyType_Type) && !(((PyTypeObject *)op)->tp_flags & Py_TPFLAGS_HEAPTYPE))
		return 0;
	Py_ssize_t pre = PyType_IS_GC(tp) ? (Py_ssize_t)(2 * sizeof(void *)) : 0;
	if (tp->tp_flags & (Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF))
		pre += (Py_ssize_t)(2 * sizeof(void *));
	return pre;
#elif ASNAP_PY_HAS_MANAGED_DICT
	Py_ssize_t pre = is_gc(op) ? (Py_ssize_t)(2 * sizeof(void *)) : 0;
	if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
		pre += (Py_ssize_t)(2 * sizeof(void *));
	return pre;
#else
	(void)tp;
	return is_gc(op) ? (Py_ssize_t)(2 * sizeof(void *)) : 0;
#endif
}

uint64_t walk_shallow_size(PyObject *op, const struct type_info *ti)
{
	Py_ssize_t size = -1;
	switch (ti->size_mode) {
	case SIZE_LIST:
		size = (Py_ssize_t)sizeof(PyListObject) +
		       ((PyListObject *)op)->allocated * (Py_ssize_t)sizeof(void *);
		break;
	case SIZE_STR:
#if ASNAP_PY_HAS_LEGACY_STR
		if (PyUnicode_IS_COMPACT_ASCII(op) && !((PyASCIIObject *)op)->wstr)
#else
		if (PyUnicode_IS_COMPACT_ASCII(op))
#endif
			size = (Py_ssize_t)sizeof(PyASCIIObject) + PyUnicode_GET_LENGTH(op) + 1;
		/* otherwise str's C __sizeof__ knows the other layouts */
		break;
	case SIZE_CALL:
		break;
	default:
		size = basic_size(op);
		break;
	}
	if (size < 0) {
		PyCFunction fn = ti->sizeof_fn;
		PyObject *r = fn ? fn(op, NULL) : NULL;
		if (r && PyLong_Check(r))
			size = PyLong_AsSsize_t(r);
		Py_XDECREF(r);
		if (size < 0) {
			PyErr_Clear();
			size = basic_size(op);
		}
	}
	return (uint64_t)(size + walk_header_size(op));
}
