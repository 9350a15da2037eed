/*
 * describe.c - the records that describe an object beyond its edges: a
 * str's or bytes' value (values=True), generators and coroutines, frame
 * objects, the scalar attributes of instances, where tracemalloc saw it
 * allocated, and asyncio's objects (aio.c).
 */
#include <Python.h>
#include <frameobject.h>
#include <structmember.h>
#include <string.h>

#include "aio.h"
#include "pyframe.h"
#include "pyinst.h"
#include "pyver.h"
#include "walkctx.h"

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
		n = walk_str_utf8(op, buf, sizeof(buf), &complete);
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

void walk_code_props(struct recb *b, PyCodeObject *co, int line, bool qualname)
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
	walk_code_props(&b, asnap_py_gen_code(gen), asnap_py_gen_line(gen), false);
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
	walk_code_props(&b, asnap_py_frame_code(frame), PyFrame_GetLineNumber((PyFrameObject *)frame),
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
	/* the value first: most are not scalars, and are cheaper to tell
	 * than whether the name may be shown */
	bool number = value && is_number(value);
	if (!value || (!number && value != Py_None && !PyBool_Check(value)))
		return 0;
	if (!refs_key_is_label(name))
		return 0;
	if (number && !c->b.wk->values && !aio_number_kept(c->op, name, NULL))
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
		ptr -= (uintptr_t)walk_header_size(op); /* the block starts at the GC header */
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

void walk_describe(struct walk *wk, uint32_t id, PyObject *op)
{
	if (wk->tracemalloc)
		alloc_record(wk, id, op);
	PyTypeObject *tp = Py_TYPE(op);
	if (wk->values)
		write_value(wk, id, op);
	if (refs_is_atom(tp))
		return;
	if (asnap_py_is_gen(op))
		gen_record(wk, id, op);
	else if (PyFrame_Check(op))
		frame_record(wk, id, op);
	else if ((tp->tp_flags & Py_TPFLAGS_HEAPTYPE) && !PyType_Check(op))
		attrs_record(wk, id, op);
	aio_records(wk, id, op);
}
