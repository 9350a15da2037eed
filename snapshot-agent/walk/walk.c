/*
 * walk.c - the heap walk (see walk.h).
 *
 * Two passes over the heap. The first finds every object: those on the
 * collector's lists, then, transitively through tp_traverse, everything
 * they reference that the collector does not track (str, int, atomic
 * tuples, ...), giving each a dense id. The second writes each object with
 * its edges as node ids. Between and during the passes no Python code runs
 * and the collector is off, so the heap cannot change under the walk.
 */
#include <Python.h>
#include <structmember.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "asyncsnap/format.h"
#include "internals.h"
#include "ptrmap.h"
#include "walk.h"

#define VALUE_PREFIX_MAX 64 /* bytes of a str/bytes value kept with values=True */
#define TYPE_NAME_MAX 512

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

struct walk {
	const struct asnap_walk_names *names;
	bool values;
	bool oom;

	struct ptrmap ids;     /* object -> node id */
	PyObject **objs;       /* node id -> object */
	size_t n, cap;

	struct ptrmap types;   /* type object -> index in tinfo */
	struct type_info *tinfo;
	size_t ntypes, tcap;

	struct asnap_writer *w;
	struct asnap_edge *edges;
	size_t nedges, ecap;
	uint64_t total_edges;
	uint64_t missing;
	uint64_t tracked;

	uint32_t kind_value, key_text, key_bytes, key_length;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int is_gc(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	return PyType_IS_GC(tp) && (tp->tp_is_gc == NULL || tp->tp_is_gc(op));
}

/* ---- pass 1: find every object ----------------------------------------- */

static int add_object(struct walk *wk, PyObject *op)
{
	if (wk->n == UINT32_MAX - 1) {
		wk->oom = true;
		return -1;
	}
	int r = ptrmap_put(&wk->ids, (uintptr_t)op, (uint32_t)wk->n, NULL);
	if (r <= 0) {
		if (r < 0)
			wk->oom = true;
		return r;
	}
	if (wk->n == wk->cap) {
		size_t cap = wk->cap ? wk->cap * 2 : 65536;
		PyObject **objs = realloc(wk->objs, cap * sizeof(*objs));
		if (!objs) {
			wk->oom = true;
			return -1;
		}
		wk->objs = objs;
		wk->cap = cap;
	}
	wk->objs[wk->n++] = op;
	return 1;
}

static int add_tracked(PyObject *op, void *arg)
{
	return add_object(arg, op) < 0 ? -1 : 0;
}

static int visit_discover(PyObject *child, void *arg)
{
	struct walk *wk = arg;
	if (child && add_object(wk, child) < 0)
		return 1; /* out of memory: stop this traversal */
	return 0;
}

/* A weak reference's referent, or NULL when there is none (any more). */
static PyObject *weak_referent(PyObject *op)
{
	if (!PyWeakref_Check(op))
		return NULL;
	PyObject *ref = ((PyWeakReference *)op)->wr_object;
	return ref && ref != Py_None ? ref : NULL;
}

static int discover(struct walk *wk)
{
	if (asnap_py_gc_foreach(add_tracked, wk) < 0)
		return -1;
	for (size_t i = 0; i < wk->n && !wk->oom; i++) {
		PyObject *op = wk->objs[i];
		if (is_gc(op)) {
			traverseproc trav = Py_TYPE(op)->tp_traverse;
			if (trav)
				trav(op, visit_discover, wk);
		}
		PyObject *ref = weak_referent(op);
		if (ref)
			add_object(wk, ref);
	}
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
#if PY_VERSION_HEX < 0x030C0000
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

/* The value of a str key in a dict, found without comparing any other key
 * by ==, which could run Python code. Borrowed, or NULL. */
static PyObject *dict_get_ascii(PyObject *dict, const char *key)
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

static size_t type_name(PyTypeObject *tp, char *buf, size_t cap)
{
	bool complete;
	if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
		PyHeapTypeObject *ht = (PyHeapTypeObject *)tp;
		size_t n = 0;
		PyObject *mod = dict_get_ascii(tp->tp_dict, "__module__");
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
#if PY_VERSION_HEX >= 0x030C0000
	if (Py_IS_TYPE(op, &PyType_Type) && !(((PyTypeObject *)op)->tp_flags & Py_TPFLAGS_HEAPTYPE))
		return 0;
	Py_ssize_t pre = PyType_IS_GC(tp) ? (Py_ssize_t)(2 * sizeof(void *)) : 0;
	if (tp->tp_flags & (Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF))
		pre += (Py_ssize_t)(2 * sizeof(void *));
	return pre;
#elif PY_VERSION_HEX >= 0x030B0000
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
#if PY_VERSION_HEX < 0x030C0000
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

static int visit_edge(PyObject *child, void *arg)
{
	struct walk *wk = arg;
	if (!child)
		return 0;
	uint32_t id = ptrmap_get(&wk->ids, (uintptr_t)child);
	if (id == UINT32_MAX) {
		wk->missing++;
		return 0;
	}
	return push_edge(wk, id, 0, ASNAP_EDGE_STRONG) < 0 ? 1 : 0;
}

static void write_value(struct walk *wk, uint32_t id, PyObject *op)
{
	char buf[VALUE_PREFIX_MAX];
	size_t n = 0;
	Py_ssize_t length;
	uint32_t key;
	bool complete;
	if (PyUnicode_Check(op)) {
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

static int write_objects(struct walk *wk)
{
	for (size_t i = 0; i < wk->n; i++) {
		PyObject *op = wk->objs[i];
		struct type_info *ti = type_info(wk, Py_TYPE(op));
		if (!ti)
			return -1;
		uint32_t flags = 0;
		if (PyObject_GC_IsTracked(op)) {
			flags |= ASNAP_NODE_GC_TRACKED;
			wk->tracked++;
		}
#if PY_VERSION_HEX >= 0x030C0000
		if (_Py_IsImmortal(op))
			flags |= ASNAP_NODE_IMMORTAL;
#endif
		wk->nedges = 0;
		if (is_gc(op)) {
			traverseproc trav = Py_TYPE(op)->tp_traverse;
			if (trav)
				trav(op, visit_edge, wk);
		}
		PyObject *ref = weak_referent(op);
		if (ref) {
			uint32_t id = ptrmap_get(&wk->ids, (uintptr_t)ref);
			if (id != UINT32_MAX)
				push_edge(wk, id, 0, ASNAP_EDGE_WEAK);
		}
		if (wk->oom)
			return -1;
		struct asnap_node node = {
			.id = (uint32_t)i,
			.type = ti->name,
			.addr = (uint64_t)(uintptr_t)op,
			.size = shallow_size(op, ti),
			.refcnt = (uint64_t)Py_REFCNT(op),
			.flags = flags,
			.nedges = (uint32_t)wk->nedges,
			.edges = wk->edges,
		};
		wk->total_edges += wk->nedges;
		if (asnap_writer_node(wk->w, &node) < 0)
			return -1;
		if (wk->values)
			write_value(wk, (uint32_t)i, op);
	}
	return 0;
}

/* The header with the object and edge counts spliced in front. */
static char *header_with_counts(const char *json, uint64_t objects, uint64_t edges)
{
	const char *rest = json;
	while (*rest == ' ' || *rest == '\n' || *rest == '\t')
		rest++;
	if (*rest == '{')
		rest++;
	while (*rest == ' ' || *rest == '\n' || *rest == '\t')
		rest++;
	size_t n = strlen(rest) + 96;
	char *out = malloc(n);
	if (!out)
		return NULL;
	snprintf(out, n, "{\"objects\": %llu, \"edges\": %llu%s%s", (unsigned long long)objects,
		 (unsigned long long)edges, *rest == '}' ? "" : ", ", *rest ? rest : "}");
	return out;
}

/* Count the edges pass 2 will write, for the header's size hint. */
static int visit_count(PyObject *child, void *arg)
{
	if (child)
		(*(uint64_t *)arg)++;
	return 0;
}

static uint64_t count_edges(struct walk *wk)
{
	uint64_t m = 0;
	for (size_t i = 0; i < wk->n; i++) {
		PyObject *op = wk->objs[i];
		if (is_gc(op) && Py_TYPE(op)->tp_traverse)
			Py_TYPE(op)->tp_traverse(op, visit_count, &m);
		if (weak_referent(op))
			m++;
	}
	return m;
}

int asnap_walk_snapshot(const char *path, const char *header_json,
			const struct asnap_walk_names *names,
			const struct asnap_walk_options *opts,
			struct asnap_walk_stats *stats, struct asnap_error *err)
{
	double t0 = now_ms();
	struct walk wk = {.names = names, .values = opts->values};
	int rc = -1;
	int was_enabled = 0;
	bool paused = false;
	char *header = NULL;
	*stats = (struct asnap_walk_stats){0};

	if (asnap_py_gc_collecting()) {
		asnap_error_set(err, ASNAP_ERR_USAGE,
				"a garbage collection is in progress (snapshot requested from a finalizer?)");
		return -1;
	}
	struct asnap_writer_options wopts = {.level = opts->level, .no_fsync = opts->no_fsync};
	wk.w = asnap_writer_create(path, &wopts, err);
	if (!wk.w)
		return -1;
	was_enabled = asnap_py_gc_pause();
	paused = true;
	double walk0 = now_ms();
	if (!ptrmap_init(&wk.ids, 1 << 16) || !ptrmap_init(&wk.types, 256) || discover(&wk) < 0) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory while walking the heap");
		goto out;
	}
	header = header_with_counts(header_json, wk.n, count_edges(&wk));
	if (!header) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory while walking the heap");
		goto out;
	}
	asnap_writer_header(wk.w, header, strlen(header));
	wk.kind_value = asnap_writer_intern_cstr(wk.w, "value");
	wk.key_text = asnap_writer_intern_cstr(wk.w, "text");
	wk.key_bytes = asnap_writer_intern_cstr(wk.w, "bytes");
	wk.key_length = asnap_writer_intern_cstr(wk.w, "length");
	if (write_objects(&wk) < 0 && wk.oom) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory while walking the heap");
		goto out;
	}
	double walk_ms = now_ms() - walk0;
	char trailer[256];
	int tn = snprintf(trailer, sizeof(trailer),
			  "{\"walk_ms\": %.3f, \"pause_ms\": %.3f, \"tracked\": %llu, \"missing_edges\": %llu}",
			  walk_ms, now_ms() - t0, (unsigned long long)wk.tracked,
			  (unsigned long long)wk.missing);
	if (asnap_writer_commit(wk.w, trailer, (size_t)tn, &stats->file_bytes, err) < 0)
		goto out;
	stats->objects = wk.n;
	stats->tracked = wk.tracked;
	stats->edges = wk.total_edges;
	stats->missing_edges = wk.missing;
	stats->walk_ms = walk_ms;
	rc = 0;
out:
	if (paused)
		asnap_py_gc_resume(was_enabled);
	asnap_writer_destroy(wk.w); /* removes the temporary file unless committed */
	ptrmap_release(&wk.ids);
	ptrmap_release(&wk.types);
	free(wk.objs);
	free(wk.tinfo);
	free(wk.edges);
	free(header);
	stats->pause_ms = now_ms() - t0;
	return rc;
}
