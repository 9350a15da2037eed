/*
 * emit.c - node ids, labels, string interning and the record builder
 * (emit.h) of one walk: what the passes and every part that describes
 * objects write through.
 */
#include <Python.h>
#include <string.h>

#include "emit.h"
#include "mapped.h"
#include "walkctx.h"

/*
 * UTF-8 of a str into buf without touching the object (PyUnicode_AsUTF8
 * would cache an encoded copy inside it). Returns the byte length written,
 * at most cap, cut at a character boundary; *complete says whether the
 * whole string fit.
 */
size_t walk_str_utf8(PyObject *s, char *buf, size_t cap, bool *complete)
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

/* ---- node ids ---------------------------------------------------------- */

/* The node id of op, giving it the next one if it is new; UINT32_MAX when
 * out of memory. */
uint32_t walk_add_object(struct walk *wk, const void *op)
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
		size_t cap = wk->cap * 2;
		PyObject **objs = mapped_grow(wk->objs, wk->cap * sizeof(*objs), cap * sizeof(*objs));
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
	size_t n = walk_str_utf8(name, buf, sizeof(buf), &complete);
	id = n ? asnap_writer_intern(wk->w, buf, n) : 0;
	if (ptrmap_put(&wk->label_obj, (uintptr_t)name, id, NULL) < 0)
		wk->oom = true;
	return id;
}

uint32_t walk_label_id(struct walk *wk, const struct label *l, uint8_t *kind)
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
	case LABEL_INDEX:
		if (l->index > ASNAP_INDEX_MAX)
			return 0;
		*kind |= ASNAP_EDGE_INDEX;
		return l->index;
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

void recb_callable_name(struct recb *b, const char *key, PyObject *cb)
{
	if (cb && PyMethod_Check(cb))
		cb = PyMethod_GET_FUNCTION(cb);
	if (cb && PyFunction_Check(cb)) {
		recb_pystr(b, key, ((PyFunctionObject *)cb)->func_qualname);
		return;
	}
	if (!cb || !PyCFunction_Check(cb))
		return;
	const PyMethodDef *ml = ((PyCFunctionObject *)cb)->m_ml;
	PyObject *self = PyCFunction_GET_SELF(cb);
	if (!ml || !ml->ml_name)
		return;
	if (!self || PyModule_Check(self)) {
		recb_text(b, key, ml->ml_name);
		return;
	}
	char name[256];
	snprintf(name, sizeof(name), "%s.%s", Py_TYPE(self)->tp_name, ml->ml_name);
	recb_text(b, key, name);
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
	uint32_t id = obj ? walk_add_object(b->wk, obj) : UINT32_MAX;
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
