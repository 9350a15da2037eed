/*
 * agent.c - the asyncsnap._agent extension module: the C half of the
 * agent, called by the Python package (snapshot-agent/asyncsnap).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "asyncsnap/format.h"
#include "walk.h"

static PyObject *snapshot_error;
static struct asnap_walk_names names;
static PyObject *tracemalloc_name; /* "_tracemalloc" */

PyDoc_STRVAR(snapshot_doc,
"snapshot(path, header, values=False, level=0, fsync=True) -> dict\n"
"\n"
"Write a snapshot of the heap to path (atomically, mode 0600). header is\n"
"the JSON header object. Returns counts and timings; raises SnapshotError.");

/* Whether tracemalloc traces allocations: asked of its C module, if the
 * program imported it, before the walk starts. */
static bool tracemalloc_tracing(void)
{
	PyObject *mod = tracemalloc_name ? PyImport_GetModule(tracemalloc_name) : NULL;
	if (!mod) {
		PyErr_Clear();
		return false;
	}
	PyObject *r = PyObject_CallMethod(mod, "is_tracing", NULL);
	Py_DECREF(mod);
	bool on = r == Py_True;
	Py_XDECREF(r);
	PyErr_Clear();
	return on;
}

static PyObject *agent_snapshot(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", "header", "values", "level", "fsync", NULL};
	PyObject *path = NULL;
	const char *header;
	int values = 0, level = 0, do_fsync = 1;
	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&s|pip:snapshot", kwlist,
					 PyUnicode_FSConverter, &path, &header, &values,
					 &level, &do_fsync))
		return NULL;
	struct asnap_walk_options opts = {.values = values != 0, .level = level,
					  .no_fsync = !do_fsync};
	opts.tracemalloc = tracemalloc_tracing();
	struct asnap_walk_stats st;
	struct asnap_error err = {0};
	int rc = asnap_walk_snapshot(PyBytes_AS_STRING(path), header, &names, &opts, &st, &err);
	Py_DECREF(path);
	if (rc < 0) {
		PyErr_SetString(snapshot_error, err.message[0] ? err.message : "snapshot failed");
		return NULL;
	}
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:d,s:d}",
			     "objects", (unsigned long long)st.objects,
			     "tracked", (unsigned long long)st.tracked,
			     "edges", (unsigned long long)st.edges,
			     "file_bytes", (unsigned long long)st.file_bytes,
			     "walk_ms", st.walk_ms,
			     "pause_ms", st.pause_ms);
}

static PyMethodDef methods[] = {
	{"snapshot", (PyCFunction)(void (*)(void))agent_snapshot, METH_VARARGS | METH_KEYWORDS,
	 snapshot_doc},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "asyncsnap._agent",
	"C half of the asyncsnap agent: the heap walk and the snapshot writer.", -1, methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__agent(void);

PyMODINIT_FUNC PyInit__agent(void)
{
	PyObject *m = PyModule_Create(&module);
	if (!m)
		return NULL;
	snapshot_error = PyErr_NewExceptionWithDoc(
		"asyncsnap.SnapshotError",
		"A snapshot could not be written; the message says why. Nothing was left behind.",
		PyExc_Exception, NULL);
	names.sizeof_name = PyUnicode_InternFromString("__sizeof__");
	tracemalloc_name = PyUnicode_InternFromString("_tracemalloc");
	/* 3.12+ static types have no tp_dict; _PyType_Lookup finds it anyway */
	names.object_sizeof = names.sizeof_name
		? _PyType_Lookup(&PyBaseObject_Type, names.sizeof_name) : NULL;
	Py_XINCREF(names.object_sizeof);
	if (!snapshot_error || !names.sizeof_name || !names.object_sizeof ||
	    PyModule_AddObject(m, "SnapshotError", snapshot_error) < 0 ||
	    PyModule_AddStringConstant(m, "VERSION", asnap_version()) < 0 ||
	    PyModule_AddIntConstant(m, "FORMAT_VERSION", ASNAP_FORMAT_VERSION) < 0) {
		Py_XDECREF(snapshot_error);
		Py_DECREF(m);
		return NULL;
	}
	Py_INCREF(snapshot_error); /* PyModule_AddObject stole one */
	return m;
}
