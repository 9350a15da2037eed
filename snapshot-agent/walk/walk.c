/*
 * walk.c - the heap walk (see walk.h).
 *
 * Two passes over the heap. The first finds every object: those on the
 * collector's lists and the frames executing on threads, then,
 * transitively, everything they reference (refs.c) that the collector does
 * not track (str, int, atomic tuples, ...), giving each a dense id. The
 * second writes each object with its labelled edges as node ids, and the
 * records that describe coroutines, frames, asyncio objects and scalar
 * attributes; then the roots. Between and during the passes no Python code
 * runs and the collector is off, so the heap cannot change under the walk.
 */
#include <Python.h>
#include <frameobject.h>
#include <structmember.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aio.h"
#include "asyncsnap/format.h"
#include "emit.h"
#include "internals.h"
#include "ptrmap.h"
#include "pyframe.h"
#include "pyver.h"
#include "pyinst.h"
#include "refs.h"
#include "walk.h"

#define VALUE_PREFIX_MAX 64 /* bytes of a str/bytes value kept with values=True */
#define TYPE_NAME_MAX 512
#define INDEX_LABELS_MAX (1u << 22) /* "[i]" labels cached up to this index */
#define AGENT_ZSTD_LEVEL 1  /* the pause matters more than the last bytes */

/* Frames executing on a thread are not objects on 3.11+: they enter the
 * node table as their address with this bit set ("bare" frames). */
#define BARE_TAG ((uintptr_t)1)

enum size_mode {
	SIZE_BASIC,  /* what object.__sizeof__ computes */
	SIZE_CALL,   /* the type's own C __sizeof__ */
	SIZE_LIST,
	SIZE_STR,
};

struct type_info {
	uint32_t name;  /* string id of the module-qualified name */
	uint8_t size_mode;
	PyCFunction sizeof_fn;
};

struct thread_root {
	uintptr_t node;  /* object or tagged bare frame */
	unsigned long thread_id;
	int depth;
};

struct walk {
	const struct asnap_walk_names *names;
	bool values;
	bool tracemalloc;
	bool oom;

	struct ptrmap ids;     /* object -> node id */
	PyObject **objs;       /* node id -> object (or tagged bare frame) */
	size_t n, cap;

	struct ptrmap types;   /* type object -> index in tinfo */
	struct type_info *tinfo;
	size_t ntypes, tcap;

	struct refs refs;
	struct thread_root *threads;
	size_t nthreads, threads_cap;

	struct asnap_writer *w;
	struct asnap_edge *edges;
	size_t nedges, ecap;
	uint64_t total_edges;
	uint64_t tracked;

	/* label string ids, interned on first use */
	struct ptrmap label_cstr;  /* const char * -> id */
	struct ptrmap label_obj;   /* str object -> id */
	uint32_t *index_label;     /* [i] -> string id, 0 until interned */
	size_t nindex_label;
	uint32_t value_label;      /* for dict keys that are not shown */
	uint32_t frame_type;       /* "builtins.frame" for bare frames */

	uint32_t kind_value, key_text, key_bytes, key_length;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int is_gc(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	return PyType_IS_GC(tp) && (tp->tp_is_gc == NULL || tp->tp_is_gc(op));
}

static bool is_bare(const void *p)
{
	return ((uintptr_t)p & BARE_TAG) != 0;
}

static const void *bare_frame(const void *p)
{
	return (const void *)((uintptr_t)p & ~BARE_TAG);
}

static uint32_t node_of(struct walk *wk, const void *p)
{
	return p ? ptrmap_get(&wk->ids, (uintptr_t)p) : UINT32_MAX;
}

/* ---- pass 1: find every object ----------------------------------------- */

/* The node id of op, giving it the next one if it is new; UINT32_MAX when
 * out of memory. */
static uint32_t add_object(struct walk *wk, const void *op)
{
	if (wk->n == UINT32_MAX - 1) {
		wk->oom = true;
		return UINT32_MAX;
	}
	uint32_t id;
	int r = ptrmap_put(&wk->ids, (uintptr_t)op, (uint32_t)wk->n, &id);
	if (r <= 0) {
		if (r < 0) {
			wk->oom = true;
			return UINT32_MAX;
		}
		return id;
	}
	if (wk->n == wk->cap) {
		size_t cap = wk->cap ? wk->cap * 2 : 65536;
		PyObject **objs = realloc(wk->objs, cap * sizeof(*objs));
		if (!objs) {
			wk->oom = true;
			return UINT32_MAX;
		}
		wk->objs = objs;
		wk->cap = cap;
	}
	wk->objs[wk->n] = (PyObject *)op;
	return (uint32_t)wk->n++;
}

static int add_tracked(PyObject *op, void *arg)
{
	return add_object(arg, op) == UINT32_MAX ? -1 : 0;
}

/* Objects the last snapshot of this process found: the next one's size
 * hint (the walk holds the GIL, one at a time). */
static size_t last_objects;

static int count_tracked(PyObject *op, void *arg)
{
	(void)op;
	(*(size_t *)arg)++;
	return 0;
}

static int add_thread_frame(unsigned long thread_id, int depth, const void *bare,
			    PyObject *object, PyObject *gen, void *arg)
{
	struct walk *wk = arg;
	/* the root is what holds the frame's locals: the generator running
	 * it, the frame object (3.9/3.10), or the bare frame itself */
	uintptr_t node = gen ? (uintptr_t)gen
			     : bare ? (uintptr_t)bare | BARE_TAG : (uintptr_t)object;
	if (!gen && bare && add_object(wk, (const void *)node) == UINT32_MAX)
		return 1;
	if (wk->nthreads == wk->threads_cap) {
		size_t cap = wk->threads_cap ? wk->threads_cap * 2 : 64;
		struct thread_root *t = realloc(wk->threads, cap * sizeof(*t));
		if (!t) {
			wk->oom = true;
			return 1;
		}
		wk->threads = t;
		wk->threads_cap = cap;
	}
	wk->threads[wk->nthreads++] = (struct thread_root){node, thread_id, depth};
	return 0;
}

/*
 * The starting points: everything on the collector's lists, sys.modules and
 * the frames executing on threads. What they reference joins the table as
 * write_objects() meets it.
 */
static int discover(struct walk *wk)
{
	if (asnap_py_gc_foreach(add_tracked, wk) < 0)
		return -1;
	add_object(wk, PyImport_GetModuleDict());
	asnap_py_thread_frames(add_thread_frame, wk);
	return wk->oom ? -1 : 0;
}

/* ---- types: names and how to size their instances ------------------------ */

/*
 * UTF-8 of a str into buf without touching the object (PyUnicode_AsUTF8
 * would cache an encoded copy inside it). Returns the byte length written,
 * at most cap, cut at a character boundary; *complete says whether the
 * whole string fit.
 */
static size_t str_utf8(PyObject *s, char *buf, size_t cap, bool *complete)
{
	*complete = false;
	if (!PyUnicode_Check(s))
		return 0;
#if ASNAP_PY_HAS_LEGACY_STR
	if (!PyUnicode_IS_READY(s))
		return 0;
#endif
	Py_ssize_t len = PyUnicode_GET_LENGTH(s);
	int kind = PyUnicode_KIND(s);
	const void *data = PyUnicode_DATA(s);
	size_t o = 0;
	for (Py_ssize_t i = 0; i < len; i++) {
		Py_UCS4 c = PyUnicode_READ(kind, data, i);
		char tmp[4];
		size_t k;
		if (c < 0x80) {
			tmp[0] = (char)c;
			k = 1;
		} else if (c < 0x800) {
			tmp[0] = (char)(0xC0 | c >> 6);
			tmp[1] = (char)(0x80 | (c & 0x3F));
			k = 2;
		} else if (c < 0x10000) {
			if (c >= 0xD800 && c <= 0xDFFF)
				c = 0xFFFD; /* a lone surrogate has no UTF-8 form */
			tmp[0] = (char)(0xE0 | c >> 12);
			tmp[1] = (char)(0x80 | (c >> 6 & 0x3F));
			tmp[2] = (char)(0x80 | (c & 0x3F));
			k = 3;
		} else {
			tmp[0] = (char)(0xF0 | c >> 18);
			tmp[1] = (char)(0x80 | (c >> 12 & 0x3F));
			tmp[2] = (char)(0x80 | (c >> 6 & 0x3F));
			tmp[3] = (char)(0x80 | (c & 0x3F));
			k = 4;
		}
		if (o + k > cap)
			return o;
		memcpy(buf + o, tmp, k);
		o += k;
	}
	*complete = true;
	return o;
}

static size_t type_name(PyTypeObject *tp, char *buf, size_t cap)
{
	bool complete;
	if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
		PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
		size_t n = 0;
		PyObject *mod = asnap_dict_get_ascii(tp->tp_dict, "__module__");
		if (mod && PyUnicode_Check(mod))
			n = str_utf8(mod, buf, cap - 1, &complete);
		else
			n = (size_t)snprintf(buf, cap, "?");
		buf[n++] = '.';
		if (ht->ht_qualname && PyUnicode_Check(ht->ht_qualname))
			n += str_utf8(ht->ht_qualname, buf + n, cap - n, &complete);
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

static struct type_info *type_info(struct walk *wk, PyTypeObject *tp)
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
static Py_ssize_t header_size(PyObject *op)
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

static uint64_t shallow_size(PyObject *op, const struct type_info *ti)
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
	return (uint64_t)(size + header_size(op));
}

/* ---- labels -------------------------------------------------------------- */

static uint32_t intern_cached(struct walk *wk, struct ptrmap *cache, uintptr_t key,
			      const char *s, size_t len)
{
	uint32_t id = ptrmap_get(cache, key);
	if (id != UINT32_MAX)
		return id;
	id = asnap_writer_intern(wk->w, s, len);
	if (ptrmap_put(cache, key, id, NULL) < 0)
		wk->oom = true;
	return id;
}

static uint32_t str_label(struct walk *wk, PyObject *name)
{
	uint32_t id = ptrmap_get(&wk->label_obj, (uintptr_t)name);
	if (id != UINT32_MAX)
		return id;
	char buf[256];
	bool complete;
	size_t n = str_utf8(name, buf, sizeof(buf), &complete);
	id = n ? asnap_writer_intern(wk->w, buf, n) : 0;
	if (ptrmap_put(&wk->label_obj, (uintptr_t)name, id, NULL) < 0)
		wk->oom = true;
	return id;
}

static uint32_t label_id(struct walk *wk, const struct label *l)
{
	switch (l->kind) {
	case LABEL_CSTR:
		return intern_cached(wk, &wk->label_cstr, (uintptr_t)l->cstr, l->cstr,
				     strlen(l->cstr));
	case LABEL_NAME:
		return PyUnicode_Check(l->name) ? str_label(wk, l->name) : 0;
	case LABEL_KEY:
		return refs_key_is_label(l->name) ? str_label(wk, l->name) : wk->value_label;
	case LABEL_VALUE:
		return wk->value_label;
	case LABEL_INDEX: {
		if (l->index < wk->nindex_label && wk->index_label[l->index])
			return wk->index_label[l->index];
		char buf[16];
		int n = snprintf(buf, sizeof(buf), "[%u]", l->index);
		uint32_t id = asnap_writer_intern(wk->w, buf, (size_t)n);
		if (l->index >= wk->nindex_label && l->index < INDEX_LABELS_MAX) {
			size_t cap = wk->nindex_label ? wk->nindex_label : 1024;
			while (cap <= l->index)
				cap *= 2;
			uint32_t *t = realloc(wk->index_label, cap * sizeof(*t));
			if (t) {
				memset(t + wk->nindex_label, 0, (cap - wk->nindex_label) * sizeof(*t));
				wk->index_label = t;
				wk->nindex_label = cap;
			}
		}
		if (l->index < wk->nindex_label)
			wk->index_label[l->index] = id;
		return id;
	}
	default:
		return 0;
	}
}

/* ---- records ------------------------------------------------------------- */

bool recb_values(const struct recb *b)
{
	return b->wk->values;
}

void recb_begin(struct recb *b, struct walk *wk, uint32_t node, const char *kind)
{
	b->wk = wk;
	b->node = node;
	b->kind = kind;
	b->n = 0;
}

static struct asnap_prop *recb_add(struct recb *b, const char *key)
{
	if (b->n == RECB_PROPS_MAX)
		return NULL;
	struct asnap_prop *p = &b->props[b->n++];
	p->key = intern_cached(b->wk, &b->wk->label_cstr, (uintptr_t)key, key, strlen(key));
	return p;
}

void recb_cstr(struct recb *b, const char *key, const char *value)
{
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){
			.type = ASNAP_VAL_STR,
			.u.str = intern_cached(b->wk, &b->wk->label_cstr, (uintptr_t)value, value,
					       strlen(value))};
}

void recb_text(struct recb *b, const char *key, const char *value)
{
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_STR,
						.u.str = asnap_writer_intern_cstr(b->wk->w, value)};
}

void recb_pystr(struct recb *b, const char *key, PyObject *value)
{
	if (!value || !PyUnicode_Check(value))
		return;
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_STR,
						.u.str = str_label(b->wk, value)};
}

void recb_int(struct recb *b, const char *key, int64_t value)
{
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_INT, .u.i = value};
}

void recb_bool(struct recb *b, const char *key, bool value)
{
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_BOOL, .u.b = value};
}

void recb_float(struct recb *b, const char *key, double value)
{
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_FLOAT, .u.f = value};
}

void recb_none(struct recb *b, const char *key)
{
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_NONE};
}

void recb_node(struct recb *b, const char *key, PyObject *obj)
{
	/* an object a record names is in the snapshot, referenced or not */
	uint32_t id = obj ? add_object(b->wk, obj) : UINT32_MAX;
	if (id == UINT32_MAX)
		return;
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_NODE, .u.node = id};
}

static bool scalar_value(PyObject *obj, struct asnap_value *v)
{
	if (obj == Py_None) {
		*v = (struct asnap_value){.type = ASNAP_VAL_NONE};
	} else if (PyBool_Check(obj)) {
		*v = (struct asnap_value){.type = ASNAP_VAL_BOOL, .u.b = obj == Py_True};
	} else if (PyLong_CheckExact(obj)) {
		int overflow = 0;
		long long x = PyLong_AsLongLongAndOverflow(obj, &overflow);
		if (overflow || (x == -1 && PyErr_Occurred())) {
			PyErr_Clear();
			return false;
		}
		*v = (struct asnap_value){.type = ASNAP_VAL_INT, .u.i = x};
	} else if (PyFloat_CheckExact(obj)) {
		*v = (struct asnap_value){.type = ASNAP_VAL_FLOAT, .u.f = PyFloat_AS_DOUBLE(obj)};
	} else {
		return false;
	}
	return true;
}

bool recb_scalar(struct recb *b, const char *key, PyObject *obj)
{
	struct asnap_value v;
	if (!obj || !scalar_value(obj, &v))
		return false;
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = v;
	return p != NULL;
}

bool recb_scalar_named(struct recb *b, PyObject *key, PyObject *obj)
{
	struct asnap_value v;
	if (!obj || b->n == RECB_PROPS_MAX || !scalar_value(obj, &v))
		return false;
	struct asnap_prop *p = &b->props[b->n++];
	p->key = str_label(b->wk, key);
	p->value = v;
	return true;
}

void recb_sites(struct recb *b, const char *key, PyObject *seq, recb_site_fn get)
{
	if (!seq || !(PyTuple_Check(seq) || PyList_Check(seq)))
		return;
	Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
	PyObject **items = PySequence_Fast_ITEMS(seq);
	uint32_t k = 0;
	for (Py_ssize_t i = n > RECB_SITES_MAX ? n - RECB_SITES_MAX : 0; i < n; i++) {
		PyObject *file = NULL, *line = NULL, *name = NULL;
		if (!get(items[i], &file, &line, &name) || !file || !PyUnicode_Check(file))
			continue;
		struct asnap_value *f = b->site_fields[k];
		f[0] = (struct asnap_value){.type = ASNAP_VAL_STR, .u.str = str_label(b->wk, file)};
		f[1] = (struct asnap_value){.type = ASNAP_VAL_NONE};
		if (line && PyLong_CheckExact(line)) {
			f[1].type = ASNAP_VAL_INT;
			f[1].u.i = PyLong_AsLongLong(line);
			if (PyErr_Occurred()) {
				PyErr_Clear();
				f[1].type = ASNAP_VAL_NONE;
			}
		}
		f[2] = (struct asnap_value){.type = ASNAP_VAL_NONE};
		if (name && PyUnicode_Check(name))
			f[2] = (struct asnap_value){.type = ASNAP_VAL_STR, .u.str = str_label(b->wk, name)};
		b->sites[k++] = (struct asnap_value){.type = ASNAP_VAL_LIST, .u.list = {3, f}};
	}
	if (!k)
		return;
	struct asnap_prop *p = recb_add(b, key);
	if (p)
		p->value = (struct asnap_value){.type = ASNAP_VAL_LIST, .u.list = {k, b->sites}};
}

void recb_end(struct recb *b)
{
	if (!b->n)
		return;
	struct asnap_record rec = {
		b->node,
		intern_cached(b->wk, &b->wk->label_cstr, (uintptr_t)b->kind, b->kind,
			      strlen(b->kind)),
		b->n, b->props};
	asnap_writer_record(b->wk->w, &rec);
}

static void write_value(struct walk *wk, uint32_t id, PyObject *op)
{
	char buf[VALUE_PREFIX_MAX];
	size_t n = 0;
	Py_ssize_t length;
	uint32_t key;
	bool complete;
	if (PyUnicode_Check(op)) {
#if ASNAP_PY_HAS_LEGACY_STR
		if (!PyUnicode_IS_READY(op))
			return; /* a legacy str without its canonical form: no text */
#endif
		n = str_utf8(op, buf, sizeof(buf), &complete);
		length = PyUnicode_GET_LENGTH(op);
		key = wk->key_text;
	} else if (PyBytes_Check(op)) {
		length = PyBytes_GET_SIZE(op);
		n = (size_t)(length < VALUE_PREFIX_MAX ? length : VALUE_PREFIX_MAX);
		memcpy(buf, PyBytes_AS_STRING(op), n);
		key = wk->key_bytes;
	} else {
		return;
	}
	struct asnap_prop props[2] = {
		{key, {.type = ASNAP_VAL_STR, .u.str = asnap_writer_intern(wk->w, buf, n)}},
		{wk->key_length, {.type = ASNAP_VAL_INT, .u.i = (int64_t)length}},
	};
	struct asnap_record rec = {id, wk->kind_value, 2, props};
	asnap_writer_record(wk->w, &rec);
}

static const char *gen_state_name(enum asnap_gen_state s)
{
	static const char *names[] = {"created", "suspended", "running", "closed"};
	return names[s];
}

static void code_props(struct recb *b, PyCodeObject *co, int line, bool qualname)
{
	if (!co)
		return;
	if (qualname)
		recb_pystr(b, "qualname", refs_code_qualname(co));
	recb_pystr(b, "file", co->co_filename);
	recb_int(b, "first_line", co->co_firstlineno);
	if (line >= 0)
		recb_int(b, "line", line);
}

/* cr_origin entries: (filename, lineno, funcname) */
static bool origin_site(PyObject *item, PyObject **file, PyObject **line, PyObject **name)
{
	if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3)
		return false;
	*file = PyTuple_GET_ITEM(item, 0);
	*line = PyTuple_GET_ITEM(item, 1);
	*name = PyTuple_GET_ITEM(item, 2);
	return true;
}

static void gen_record(struct walk *wk, uint32_t id, PyObject *gen)
{
	struct recb b;
	recb_begin(&b, wk, id, PyCoro_CheckExact(gen) ? "coroutine"
			       : PyAsyncGen_CheckExact(gen) ? "async_generator" : "generator");
	enum asnap_gen_state s = asnap_py_gen_state(gen);
	recb_cstr(&b, "state", gen_state_name(s));
	/* the generator's own qualified name: code objects have one only
	 * from 3.11 on */
	recb_pystr(&b, "qualname", asnap_py_gen_qualname(gen));
	code_props(&b, asnap_py_gen_code(gen), asnap_py_gen_line(gen), false);
	recb_node(&b, "awaiting", asnap_py_gen_awaiting(gen));
	recb_node(&b, "frame", asnap_py_gen_frame_object(gen));
	/* where it was created, when sys.set_coroutine_origin_tracking_depth
	 * asked the interpreter to remember */
	recb_sites(&b, "origin", asnap_py_gen_origin(gen), origin_site);
	recb_end(&b);
}

static void frame_record(struct walk *wk, uint32_t id, PyObject *frame)
{
	struct recb b;
	recb_begin(&b, wk, id, "frame");
	code_props(&b, asnap_py_frame_code(frame), PyFrame_GetLineNumber((PyFrameObject *)frame),
		   true);
	recb_node(&b, "generator", asnap_py_frame_generator(frame));
	recb_end(&b);
}

/*
 * Scalar attributes of an instance of a class, so that offline rules can
 * test `_closed is False`: None and booleans always; ints and floats only
 * with values=True or on the short list of aio_number_kept() - a number an
 * object holds may be the program's data (a balance, a PIN).
 */
struct attrs_ctx {
	struct recb b;
	PyObject *op;
};

static bool is_number(PyObject *v)
{
	return PyLong_CheckExact(v) || PyFloat_CheckExact(v);
}

static int attr_scalar_fn(PyObject *name, PyObject *value, void *arg)
{
	struct attrs_ctx *c = arg;
	if (!refs_key_is_label(name))
		return 0;
	if (value && is_number(value) && !c->b.wk->values && !aio_number_kept(c->op, name, NULL))
		return 0;
	recb_scalar_named(&c->b, name, value);
	return 0;
}

static void attrs_record(struct walk *wk, uint32_t id, PyObject *op)
{
	struct attrs_ctx c = {.op = op};
	recb_begin(&c.b, wk, id, "attrs");
	PyObject *d = asnap_py_instance_dict(op);
	if (d) {
		Py_ssize_t pos = 0;
		PyObject *k, *v;
		while (PyDict_Next(d, &pos, &k, &v))
			attr_scalar_fn(k, v, &c);
	} else {
		asnap_py_instance_values(op, attr_scalar_fn, &c);
	}
	PyObject *mro = Py_TYPE(op)->tp_mro;
	Py_ssize_t n = mro && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
	for (Py_ssize_t i = 0; i < n; i++) {
		PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
		if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
			continue;
		for (PyMemberDef *m = t->tp_members; m && m->name; m++) {
			if (m->type != T_OBJECT_EX || m->offset <= 0)
				continue;
			PyObject *v = *(PyObject **)((char *)op + m->offset);
			if (v && is_number(v) && !wk->values && !aio_number_kept(op, NULL, m->name))
				continue;
			recb_scalar(&c.b, m->name, v);
		}
	}
	recb_end(&c.b);
}

/* tracemalloc frames: (filename, lineno), most recent first */
static bool tracemalloc_site(PyObject *item, PyObject **file, PyObject **line, PyObject **name)
{
	if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2)
		return false;
	*file = PyTuple_GET_ITEM(item, 0);
	*line = PyTuple_GET_ITEM(item, 1);
	*name = NULL;
	return true;
}

/*
 * Where tracemalloc saw the object allocated. Its traceback comes back as a
 * new tuple: the one Python allocation of the walk, freed at once (the
 * collector is paused and the tuple holds only ints and strs).
 */
static void alloc_record(struct walk *wk, uint32_t id, PyObject *op)
{
	uintptr_t ptr = (uintptr_t)op;
	if (PyType_IS_GC(Py_TYPE(op)))
		ptr -= (uintptr_t)header_size(op); /* the block starts at the GC header */
	PyObject *tb = _PyTraceMalloc_GetTraceback(0, ptr);
	if (!tb) {
		PyErr_Clear();
		return;
	}
	if (PyTuple_Check(tb) && PyTuple_GET_SIZE(tb) > 0) {
		/* reversed into outermost first, like the other site lists */
		Py_ssize_t n = PyTuple_GET_SIZE(tb);
		PyObject *rev = PyTuple_New(n);
		if (rev) {
			for (Py_ssize_t i = 0; i < n; i++) {
				PyObject *f = PyTuple_GET_ITEM(tb, n - 1 - i);
				Py_INCREF(f);
				PyTuple_SET_ITEM(rev, i, f);
			}
			struct recb b;
			recb_begin(&b, wk, id, "alloc");
			recb_sites(&b, "traceback", rev, tracemalloc_site);
			recb_end(&b);
			Py_DECREF(rev);
		} else {
			PyErr_Clear();
		}
	}
	Py_DECREF(tb);
}

static void describe(struct walk *wk, uint32_t id, PyObject *op)
{
	if (wk->tracemalloc)
		alloc_record(wk, id, op);
	PyTypeObject *tp = Py_TYPE(op);
	if (wk->values)
		write_value(wk, id, op);
	if (asnap_py_is_gen(op))
		gen_record(wk, id, op);
	else if (PyFrame_Check(op))
		frame_record(wk, id, op);
	else if ((tp->tp_flags & Py_TPFLAGS_HEAPTYPE) && !PyType_Check(op))
		attrs_record(wk, id, op);
	aio_records(wk, id, op);
}

/* ---- pass 2: write every object ---------------------------------------- */

static int push_edge(struct walk *wk, uint32_t target, uint32_t label, uint8_t kind)
{
	if (wk->nedges == wk->ecap) {
		size_t cap = wk->ecap ? wk->ecap * 2 : 1024;
		struct asnap_edge *e = realloc(wk->edges, cap * sizeof(*e));
		if (!e) {
			wk->oom = true;
			return -1;
		}
		wk->edges = e;
		wk->ecap = cap;
	}
	wk->edges[wk->nedges++] = (struct asnap_edge){target, label, kind};
	return 0;
}

static int edge_ref(void *ctx, PyObject *child, const struct label *label, uint8_t kind)
{
	struct walk *wk = ctx;
	uint32_t id = add_object(wk, child);
	if (id == UINT32_MAX)
		return 1;
	return push_edge(wk, id, label_id(wk, label), kind) < 0 ? 1 : 0;
}

static int edge_local(PyObject *name, PyObject *value, void *arg)
{
	struct label l = {.kind = LABEL_NAME, .name = name};
	return edge_ref(arg, value, &l, ASNAP_EDGE_STRONG);
}

static int write_bare(struct walk *wk, uint32_t id, const void *f)
{
	static const struct label code = {.kind = LABEL_CSTR, .cstr = "f_code"};
	wk->nedges = 0;
	asnap_py_bare_locals(f, edge_local, wk);
	edge_ref(wk, (PyObject *)asnap_py_bare_code(f), &code, ASNAP_EDGE_STRONG);
	if (wk->oom)
		return -1;
	struct asnap_node node = {
		.id = id,
		.type = wk->frame_type,
		.addr = (uint64_t)(uintptr_t)f,
		.size = asnap_py_bare_bytes(f),
		.refcnt = 0,
		.flags = ASNAP_NODE_SYNTHETIC,
		.nedges = (uint32_t)wk->nedges,
		.edges = wk->edges,
	};
	wk->total_edges += wk->nedges;
	if (asnap_writer_node(wk->w, &node) < 0)
		return -1;
	struct recb b;
	recb_begin(&b, wk, id, "frame");
	code_props(&b, asnap_py_bare_code(f), asnap_py_bare_line(f), true);
	recb_bool(&b, "executing", true);
	recb_end(&b);
	return 0;
}

/*
 * The address written for op. CPython shares one object per int from -5
 * to 256, laid out in a table: the address of such an int tells its value.
 * Without values=True one of them is written under its address hashed
 * with the process's hash secret (the same in every snapshot of the
 * process, so diffs still match it), with the top bit set, which no
 * user-space address has.
 */
static uint64_t node_addr(const struct walk *wk, PyObject *op)
{
	if (wk->values || !PyLong_CheckExact(op))
		return (uint64_t)(uintptr_t)op;
	int overflow = 0;
	long long v = PyLong_AsLongLongAndOverflow(op, &overflow);
	if (v == -1 && PyErr_Occurred())
		PyErr_Clear();
	if (overflow || v < -5 || v > 256)
		return (uint64_t)(uintptr_t)op;
	Py_hash_t h = asnap_py_hash_bytes(&op, (Py_ssize_t)sizeof(op));
	return (uint64_t)(Py_uhash_t)h | (1ull << 63);
}

/* Write every object in id order; wk->n grows as referents are met. */
static int write_objects(struct walk *wk)
{
	for (size_t i = 0; i < wk->n; i++) {
		PyObject *op = wk->objs[i];
		if (is_bare(op)) {
			if (write_bare(wk, (uint32_t)i, bare_frame(op)) < 0)
				return -1;
			continue;
		}
		struct type_info *ti = type_info(wk, Py_TYPE(op));
		if (!ti)
			return -1;
		uint32_t flags = 0;
		if (PyObject_GC_IsTracked(op)) {
			flags |= ASNAP_NODE_GC_TRACKED;
			wk->tracked++;
		}
#if ASNAP_PY_HAS_IMMORTALS
		if (_Py_IsImmortal(op))
			flags |= ASNAP_NODE_IMMORTAL;
#endif
		wk->nedges = 0;
		if (refs_enumerate(&wk->refs, op, edge_ref, wk) < 0 || wk->oom) {
			wk->oom = true;
			return -1;
		}
		struct asnap_node node = {
			.id = (uint32_t)i,
			.type = ti->name,
			.addr = node_addr(wk, op),
			.size = shallow_size(op, ti),
			.refcnt = (uint64_t)Py_REFCNT(op),
			.flags = flags,
			.nedges = (uint32_t)wk->nedges,
			.edges = wk->edges,
		};
		wk->total_edges += wk->nedges;
		if (asnap_writer_node(wk->w, &node) < 0)
			return -1;
		describe(wk, (uint32_t)i, op);
	}
	return 0;
}

static void write_roots(struct walk *wk)
{
	uint32_t modules = node_of(wk, PyImport_GetModuleDict());
	if (modules != UINT32_MAX) {
		struct asnap_root root = {modules, asnap_writer_intern_cstr(wk->w, "sys.modules"), 0};
		asnap_writer_root(wk->w, &root);
	}
	uint32_t kind = asnap_writer_intern_cstr(wk->w, "thread");
	for (size_t i = 0; i < wk->nthreads; i++) {
		uint32_t id = node_of(wk, (const void *)wk->threads[i].node);
		if (id == UINT32_MAX)
			continue;
		char label[64];
		int n = snprintf(label, sizeof(label), "thread %lu frame %d",
				 wk->threads[i].thread_id, wk->threads[i].depth);
		struct asnap_root root = {id, kind, asnap_writer_intern(wk->w, label, (size_t)n)};
		asnap_writer_root(wk->w, &root);
	}
}

int asnap_walk_snapshot(const char *path, const char *header_json,
			const struct asnap_walk_names *names,
			const struct asnap_walk_options *opts,
			struct asnap_walk_stats *stats, struct asnap_error *err)
{
	double t0 = now_ms();
	struct walk wk = {.names = names, .values = opts->values, .tracemalloc = opts->tracemalloc};
	int rc = -1;
	int was_enabled = 0;
	bool paused = false;
	*stats = (struct asnap_walk_stats){0};
	refs_init(&wk.refs);

	if (asnap_py_gc_collecting()) {
		asnap_error_set(err, ASNAP_ERR_USAGE,
				"a garbage collection is in progress (snapshot requested from a finalizer?)");
		return -1;
	}
	/* one zstd worker thread compresses while the walk goes on (it runs
	 * no Python code and touches only the writer's buffers) */
	struct asnap_writer_options wopts = {.level = opts->level ? opts->level : AGENT_ZSTD_LEVEL,
					     .no_fsync = opts->no_fsync, .workers = 1,
					     .tmp_tag = opts->tmp_tag};
	wk.w = asnap_writer_create(path, &wopts, err);
	if (!wk.w)
		return -1;
	was_enabled = asnap_py_gc_pause();
	paused = true;
	double walk0 = now_ms();
	aio_begin();
	wk.refs.enum_meta = aio_enum_meta();
	wk.refs.values = wk.values;
	wk.refs.interned = asnap_py_interned_dict();
	/* size the object table for what the last snapshot found; the first
	 * time, for what the collector tracks and as many untracked referents
	 * (counting them is a walk of the lists of its own) */
	size_t expect = last_objects;
	if (!expect) {
		asnap_py_gc_foreach(count_tracked, &expect);
		expect *= 2;
	}
	expect += expect / 8 + 65536;
	if (!ptrmap_init(&wk.ids, expect) || !ptrmap_init(&wk.types, 256) ||
	    !ptrmap_init(&wk.label_cstr, 256) || !ptrmap_init(&wk.label_obj, 4096) ||
	    !(wk.objs = malloc(expect * sizeof(*wk.objs)))) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory while walking the heap");
		goto out;
	}
	wk.cap = expect;
	asnap_writer_header(wk.w, header_json, strlen(header_json));
	wk.kind_value = asnap_writer_intern_cstr(wk.w, "value");
	wk.key_text = asnap_writer_intern_cstr(wk.w, "text");
	wk.key_bytes = asnap_writer_intern_cstr(wk.w, "bytes");
	wk.key_length = asnap_writer_intern_cstr(wk.w, "length");
	wk.value_label = asnap_writer_intern_cstr(wk.w, "value");
	wk.frame_type = asnap_writer_intern_cstr(wk.w, "builtins.frame");
	if (discover(&wk) < 0 || (write_objects(&wk) < 0 && wk.oom)) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory while walking the heap");
		goto out;
	}
	write_roots(&wk);
	double walk_ms = now_ms() - walk0;
	char trailer[640], warning[320] = "";
	/* (the warning is our own text, ASCII without quotes or backslashes) */
	const char *layout = aio_layout_warning();
	if (layout)
		snprintf(warning, sizeof(warning), ", \"warnings\": [\"%s\"]", layout);
	int tn = snprintf(trailer, sizeof(trailer),
			  "{\"walk_ms\": %.3f, \"pause_ms\": %.3f, \"objects\": %llu, \"edges\": %llu, "
			  "\"tracked\": %llu%s}",
			  walk_ms, now_ms() - t0, (unsigned long long)wk.n,
			  (unsigned long long)wk.total_edges, (unsigned long long)wk.tracked, warning);
	if (asnap_writer_commit(wk.w, trailer, (size_t)tn, &stats->file_bytes, err) < 0)
		goto out;
	asnap_writer_file_id(wk.w, &stats->file_dev, &stats->file_ino);
	stats->objects = wk.n;
	last_objects = wk.n;
	stats->tracked = wk.tracked;
	stats->edges = wk.total_edges;
	stats->walk_ms = walk_ms;
	rc = 0;
out:
	if (paused)
		asnap_py_gc_resume(was_enabled);
	asnap_writer_destroy(wk.w); /* removes the temporary file unless committed */
	ptrmap_release(&wk.ids);
	ptrmap_release(&wk.types);
	ptrmap_release(&wk.label_cstr);
	ptrmap_release(&wk.label_obj);
	refs_release(&wk.refs);
	free(wk.objs);
	free(wk.tinfo);
	free(wk.edges);
	free(wk.threads);
	free(wk.index_label);
	stats->pause_ms = now_ms() - t0;
	return rc;
}
