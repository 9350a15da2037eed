/*
 * refs.c - labelled references of an object (see refs.h).
 */
#include <Python.h>
#include <frameobject.h>
#include <structmember.h>
#include <stdlib.h>
#include <string.h>

#include "aio.h"
#include "asyncsnap/format.h"
#include "pyframe.h"
#include "pyver.h"
#include "pyinst.h"
#include "refs.h"

#define KEY_LABEL_MAX 64     /* longer keys never become labels */
#define LINEAR_HINTS_MAX 24  /* above this, hints are looked up by sorting */

void refs_init(struct refs *r)
{
	memset(r, 0, sizeof(*r));
}

void refs_release(struct refs *r)
{
	free(r->h);
	free(r->sorted);
	memset(r, 0, sizeof(*r));
}

bool refs_key_is_label(PyObject *key)
{
	if (!PyUnicode_CheckExact(key) || !PyUnicode_IS_ASCII(key) || !PyUnicode_CHECK_INTERNED(key))
		return false;
	Py_ssize_t n = PyUnicode_GET_LENGTH(key);
	if (n == 0 || n > KEY_LABEL_MAX)
		return false;
	const unsigned char *s = PyUnicode_1BYTE_DATA(key);
	for (Py_ssize_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

PyObject *refs_code_qualname(PyCodeObject *co)
{
#if ASNAP_PY_HAS_CODE_QUALNAME
	return co->co_qualname;
#else
	return co->co_name;
#endif
}

/* ---- hints --------------------------------------------------------------- */

static void hint(struct refs *r, PyObject *p, struct label label, uint8_t kind, bool extra)
{
	if (!p)
		return;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct hint *h = realloc(r->h, cap * sizeof(*h));
		if (!h) {
			r->oom = true;
			return;
		}
		r->h = h;
		r->cap = cap;
	}
	r->h[r->n++] = (struct hint){p, label, kind, extra, false};
}

static void hint_c(struct refs *r, PyObject *p, const char *name)
{
	hint(r, p, (struct label){.kind = LABEL_CSTR, .cstr = name}, ASNAP_EDGE_STRONG, false);
}

static int hint_key_fn(PyObject *name, PyObject *value, void *arg)
{
	hint(arg, value, (struct label){.kind = LABEL_KEY, .name = name}, ASNAP_EDGE_STRONG, false);
	return 0;
}

static int hint_local_fn(PyObject *name, PyObject *value, void *arg)
{
	hint(arg, value, (struct label){.kind = LABEL_NAME, .name = name}, ASNAP_EDGE_STRONG, false);
	return 0;
}

#if ASNAP_PY_HAS_INTERP_FRAMES
static int hint_local_extra_fn(PyObject *name, PyObject *value, void *arg)
{
	hint(arg, value, (struct label){.kind = LABEL_NAME, .name = name}, ASNAP_EDGE_STRONG, true);
	return 0;
}
#endif

static const struct refs *sort_ctx;

static int cmp_hint(const void *a, const void *b)
{
	const struct hint *x = &sort_ctx->h[*(const uint32_t *)a];
	const struct hint *y = &sort_ctx->h[*(const uint32_t *)b];
	if (x->ptr != y->ptr)
		return (uintptr_t)x->ptr < (uintptr_t)y->ptr ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1; /* keep hint order */
}

static bool hints_index(struct refs *r)
{
	if (r->n <= LINEAR_HINTS_MAX)
		return true;
	if (r->sorted_cap < r->n) {
		uint32_t *s = realloc(r->sorted, r->n * sizeof(*s));
		if (!s) {
			r->oom = true;
			return false;
		}
		r->sorted = s;
		r->sorted_cap = r->n;
	}
	for (size_t i = 0; i < r->n; i++)
		r->sorted[i] = (uint32_t)i;
	sort_ctx = r; /* the walk holds the GIL: one walk at a time */
	qsort(r->sorted, r->n, sizeof(*r->sorted), cmp_hint);
	return true;
}

/* The first unused hint for p, marked used; NULL if none. */
static struct hint *hint_take(struct refs *r, PyObject *p)
{
	if (r->n <= LINEAR_HINTS_MAX) {
		for (size_t i = 0; i < r->n; i++)
			if (r->h[i].ptr == p && !r->h[i].used) {
				r->h[i].used = true;
				return &r->h[i];
			}
		return NULL;
	}
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if ((uintptr_t)r->h[r->sorted[mid]].ptr < (uintptr_t)p)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < r->n && r->h[r->sorted[lo]].ptr == p; lo++) {
		struct hint *h = &r->h[r->sorted[lo]];
		if (!h->used) {
			h->used = true;
			return h;
		}
	}
	return NULL;
}

/* ---- what we know of layouts -------------------------------------------- */

/* Object members (T_OBJECT, T_OBJECT_EX) of op's types: __slots__ of
 * classes, and the named fields of many C types. */
static void hint_members(struct refs *r, PyObject *op)
{
	PyObject *mro = Py_TYPE(op)->tp_mro;
	Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
		for (PyMemberDef *m = t->tp_members; m && m->name; m++) {
			if (m->type != T_OBJECT && m->type != T_OBJECT_EX)
				continue;
			if (m->offset <= 0 || (size_t)m->offset + sizeof(PyObject *) >
						      (size_t)Py_TYPE(op)->tp_basicsize)
				continue;
			hint_c(r, *(PyObject **)((char *)op + m->offset), m->name);
		}
	}
}

static void hint_function(struct refs *r, PyFunctionObject *f)
{
	hint_c(r, f->func_code, "__code__");
	hint_c(r, f->func_globals, "__globals__");
	hint_c(r, f->func_defaults, "__defaults__");
	hint_c(r, f->func_kwdefaults, "__kwdefaults__");
	hint_c(r, f->func_closure, "__closure__");
	hint_c(r, f->func_name, "__name__");
	hint_c(r, f->func_qualname, "__qualname__");
	hint_c(r, f->func_dict, "__dict__");
	hint_c(r, f->func_module, "__module__");
	hint_c(r, f->func_doc, "__doc__");
	hint_c(r, f->func_annotations, "__annotations__");
#if ASNAP_PY_HAS_FUNC_BUILTINS
	hint_c(r, f->func_builtins, "__builtins__");
#endif
}

static void hint_type(struct refs *r, PyTypeObject *t)
{
	hint_c(r, t->tp_dict, "__dict__");
	hint_c(r, t->tp_bases, "__bases__");
	hint_c(r, t->tp_mro, "__mro__");
	hint_c(r, (PyObject *)t->tp_base, "__base__");
	if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
		PyHeapTypeObject *ht = (PyHeapTypeObject *)t;
		hint_c(r, ht->ht_name, "__name__");
		hint_c(r, ht->ht_qualname, "__qualname__");
		hint_c(r, ht->ht_slots, "__slots__");
		hint_c(r, ht->ht_module, "__module_object__");
	}
}

static void hint_exception(struct refs *r, PyBaseExceptionObject *e)
{
	hint_c(r, e->args, "args");
	hint_c(r, e->traceback, "__traceback__");
	hint_c(r, e->context, "__context__");
	hint_c(r, e->cause, "__cause__");
	hint_c(r, e->dict, "__dict__");
#if ASNAP_PY_HAS_EXC_NOTES
	hint_c(r, e->notes, "__notes__");
#endif
}

static void hint_field(void *r, PyObject *v, const char *name)
{
	hint_c(r, v, name);
}

static void hint_gen(struct refs *r, PyObject *gen)
{
	const char *await_label = PyCoro_CheckExact(gen) ? "cr_await"
				  : PyAsyncGen_CheckExact(gen) ? "ag_await" : "gi_yieldfrom";
	const char *frame_label = PyCoro_CheckExact(gen) ? "cr_frame"
				  : PyAsyncGen_CheckExact(gen) ? "ag_frame" : "gi_frame";
	const char *code_label = PyCoro_CheckExact(gen) ? "cr_code"
				 : PyAsyncGen_CheckExact(gen) ? "ag_code" : "gi_code";
	hint_c(r, asnap_py_gen_name(gen), "__name__");
	hint_c(r, asnap_py_gen_qualname(gen), "__qualname__");
	hint_c(r, (PyObject *)asnap_py_gen_code(gen), code_label);
	hint_c(r, asnap_py_gen_frame_object(gen), frame_label);
	asnap_py_gen_frame_fields(gen, hint_field, r);
#if ASNAP_PY_HAS_INTERP_FRAMES
	/* the frame lives inside the generator: its locals are ours */
	bool extra = asnap_py_gen_locals_untraversed(gen);
	asnap_py_gen_locals(gen, extra ? hint_local_extra_fn : hint_local_fn, r);
#endif
	hint_c(r, asnap_py_gen_awaiting(gen), await_label);
}

static void hint_frame(struct refs *r, PyFrameObject *f)
{
	/* locals first: a local and the awaited object may be the same */
	asnap_py_frame_locals((PyObject *)f, hint_local_fn, r);
	asnap_py_frame_fields((PyObject *)f, hint_field, r);
	/* a frame does not own the generator it belongs to: a weak edge, so
	 * that chains read through it without it counting as a reference */
	PyObject *gen = asnap_py_frame_generator((PyObject *)f);
	if (gen)
		hint(r, gen, (struct label){.kind = LABEL_CSTR, .cstr = "f_generator"},
		     ASNAP_EDGE_WEAK, true);
}

/* ---- enumeration ------------------------------------------------------- */

struct trav {
	struct refs *r;
	asnap_ref_fn fn;
	void *ctx;
	int rc;
};

static const struct label no_label = {.kind = LABEL_NONE};

static int visit_labelled(PyObject *child, void *arg)
{
	struct trav *t = arg;
	if (!child)
		return 0;
	struct hint *h = hint_take(t->r, child);
	t->rc = t->fn(t->ctx, child, h ? &h->label : &no_label, ASNAP_EDGE_STRONG);
	return t->rc;
}

static int seq_items(PyObject **items, Py_ssize_t n, asnap_ref_fn fn, void *ctx)
{
	for (Py_ssize_t i = 0; i < n; i++) {
		if (!items[i])
			continue;
		struct label l = {.kind = LABEL_INDEX, .index = (uint32_t)i};
		int rc = fn(ctx, items[i], &l, ASNAP_EDGE_STRONG);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Whether a dict entry maps an Enum member's value to the member (the keys
 * of an Enum class's _value2member_map_). The value of a str Enum looks
 * like an identifier when written as one, but it is data the program
 * defined (Tier.GOLD = "gold", Secret.KEY = "..."): unless values=True it
 * is no label. The member's name stays one: it is code.
 */
static bool enum_value_key(const struct refs *r, PyObject *k, PyObject *v)
{
	if (r->values || !r->enum_meta || !PyUnicode_Check(k))
		return false;
	PyTypeObject *meta = Py_TYPE((PyObject *)Py_TYPE(v));
	/* PyType_IsSubtype reads tp_mro; no Python code runs */
	if (meta == &PyType_Type || !PyType_IsSubtype(meta, r->enum_meta))
		return false;
	PyObject *value = asnap_py_instance_attr(v, "_value_");
	if (!value || !PyUnicode_Check(value))
		return false;
	/* compares the characters (C, never __eq__) */
	int c = PyUnicode_Compare(value, k);
	if (PyErr_Occurred())
		PyErr_Clear();
	return c == 0;
}

static enum label_kind key_label_kind(const struct refs *r, PyObject *k, PyObject *v)
{
	return enum_value_key(r, k, v) ? LABEL_VALUE : LABEL_KEY;
}

/* The label kind of the value under key k in dict d. */
static enum label_kind entry_label_kind(const struct refs *r, PyObject *d, PyObject *k,
					PyObject *v)
{
	if (d == r->interned)
		return LABEL_NONE; /* str -> itself, for every interned str */
	return key_label_kind(r, k, v);
}

static int dict_entries(const struct refs *r, PyObject *d, asnap_ref_fn fn, void *ctx)
{
	static const struct label key = {.kind = LABEL_CSTR, .cstr = "key"};
	/* sys.modules: every module is labelled by its name, dotted or not
	 * interned ("__main__", "asyncio.events"), so that the analyzer can
	 * name a module's globals; module names are not the program's data */
	bool modules = d == PyImport_GetModuleDict();
	Py_ssize_t pos = 0;
	PyObject *k, *v;
	while (PyDict_Next(d, &pos, &k, &v)) {
		int rc = fn(ctx, k, &key, ASNAP_EDGE_STRONG);
		if (rc)
			return rc;
		struct label l = {.kind = modules && PyUnicode_CheckExact(k) ? LABEL_NAME
								     : entry_label_kind(r, d, k, v),
				  .name = k};
		if ((rc = fn(ctx, v, &l, ASNAP_EDGE_STRONG)))
			return rc;
	}
	return 0;
}

static int is_gc(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	return PyType_IS_GC(tp) && (tp->tp_is_gc == NULL || tp->tp_is_gc(op));
}

/* PyWeakref_Check, asked of most objects of a heap: without a call to
 * PyType_IsSubtype for those whose type cannot derive from weakref.ref
 * (no subtype is smaller than its base). */
static bool is_weakref(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	if (tp == &_PyWeakref_RefType || PyWeakref_CheckProxy(op))
		return true;
	return tp->tp_basicsize >= (Py_ssize_t)sizeof(PyWeakReference) && PyWeakref_CheckRef(op);
}

int refs_enumerate(struct refs *r, PyObject *op, asnap_ref_fn fn, void *ctx)
{
	PyTypeObject *tp = Py_TYPE(op);

	if (refs_is_atom(tp))
		return 0;
	/* Containers whose layout is all there is: no traversal needed. */
	if (tp == &PyList_Type)
		return seq_items(((PyListObject *)op)->ob_item, PyList_GET_SIZE(op), fn, ctx);
	if (tp == &PyTuple_Type)
		return seq_items(((PyTupleObject *)op)->ob_item, PyTuple_GET_SIZE(op), fn, ctx);
	if (tp == &PyDict_Type)
		return dict_entries(r, op, fn, ctx);

	r->n = 0;
	if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
		hint_c(r, (PyObject *)tp, "__class__");
	if (PyDict_Check(op)) {
		/* a dict subclass: its entries, keys included, then the rest */
		Py_ssize_t pos = 0;
		PyObject *k, *v;
		while (PyDict_Next(op, &pos, &k, &v)) {
			hint(r, k, (struct label){.kind = LABEL_CSTR, .cstr = "key"},
			     ASNAP_EDGE_STRONG, true);
			hint(r, v, (struct label){.kind = entry_label_kind(r, op, k, v), .name = k},
			     ASNAP_EDGE_STRONG, false);
		}
	} else if (PyType_Check(op)) {
		hint_type(r, (PyTypeObject *)op);
	} else if (PyFunction_Check(op)) {
		hint_function(r, (PyFunctionObject *)op);
	} else if (PyCell_Check(op)) {
		hint_c(r, PyCell_GET(op), "cell_contents");
	} else if (PyExceptionInstance_Check(op)) {
		hint_exception(r, (PyBaseExceptionObject *)op);
	} else if (PyTraceBack_Check(op)) {
		hint_c(r, (PyObject *)((PyTracebackObject *)op)->tb_next, "tb_next");
		hint_c(r, (PyObject *)((PyTracebackObject *)op)->tb_frame, "tb_frame");
	} else if (PyFrame_Check(op)) {
		hint_frame(r, (PyFrameObject *)op);
	} else if (asnap_py_is_gen(op)) {
		hint_gen(r, op);
	} else if (is_weakref(op)) {
		PyWeakReference *w = (PyWeakReference *)op;
		hint_c(r, w->wr_callback, "__callback__");
		PyObject *ref = w->wr_object;
		if (ref && ref != Py_None)
			hint(r, ref, (struct label){.kind = LABEL_CSTR, .cstr = "weak"},
			     ASNAP_EDGE_WEAK, true);
	}
	aio_hints(op, hint_field, r);
	/* attributes: the dict if it exists, values outside it (3.11+), slots */
	if (!PyType_Check(op) && (tp->tp_dictoffset || (tp->tp_flags & Py_TPFLAGS_HEAPTYPE))) {
		hint_c(r, asnap_py_instance_dict(op), "__dict__");
		asnap_py_instance_values(op, hint_key_fn, r);
	}
	hint_members(r, op);
	if (r->oom || !hints_index(r))
		return -1;

	struct trav t = {r, fn, ctx, 0};
	if (is_gc(op) && tp->tp_traverse)
		tp->tp_traverse(op, visit_labelled, &t);
	if (t.rc)
		return t.rc;
	for (size_t i = 0; i < r->n; i++) {
		struct hint *h = &r->h[i];
		if (h->extra && !h->used) {
			h->used = true;
			int rc = fn(ctx, h->ptr, &h->label, h->kind);
			if (rc)
				return rc;
		}
	}
	return 0;
}
