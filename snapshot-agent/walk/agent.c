/*
 * agent.c - the asyncsnap._agent extension module: the C half of the
 * agent, called by the Python package (snapshot-agent/asyncsnap).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "asyncsnap/format.h"
#include "floor.h"
#include "forked.h"
#include "internals.h"
#include "pyver.h"
#include "walk.h"

static PyObject *snapshot_error;
static struct asnap_walk_names names;
static PyObject *tracemalloc_name; /* "_tracemalloc" */

PyDoc_STRVAR(snapshot_doc,
"snapshot(path, header, values=False, level=0, fsync=True, tag=None) -> dict\n"
"\n"
"Write a snapshot of the heap to path (atomically, mode 0600, through the\n"
"temporary file .asyncsnap[-tag]-XXXXXX.tmp beside it). header is the JSON\n"
"header object. Returns counts, timings and the file's dev and ino; raises\n"
"SnapshotError.");

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

/* sys.getallocatedblocks(), if it is still the interpreter's own function
 * (a built-in of the sys module: a program's replacement is not called);
 * 0 when unknown (and under PYTHONMALLOC=malloc). It visits the
 * allocator's pools: 1-6 ms for 2M objects, so a first in-process walk
 * asks it, and fork mode never (its pause is the fork). */
static size_t allocated_blocks(void)
{
	PyObject *f = PySys_GetObject("getallocatedblocks"); /* borrowed */
	PyObject *owner = f && PyCFunction_Check(f) ? PyCFunction_GET_SELF(f) : NULL;
	const char *name = owner && PyModule_Check(owner) ? PyModule_GetName(owner) : NULL;
	if (!name || strcmp(name, "sys") != 0) {
		PyErr_Clear();
		return 0;
	}
	PyObject *r = PyObject_CallNoArgs(f);
	Py_ssize_t n = r ? PyLong_AsSsize_t(r) : -1;
	Py_XDECREF(r);
	PyErr_Clear();
	return n > 0 ? (size_t)n : 0;
}

static PyObject *agent_snapshot(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", "header", "values", "level", "fsync", "tag", NULL};
	PyObject *path = NULL;
	const char *header, *tag = NULL;
	int values = 0, level = 0, do_fsync = 1;
	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&s|pipz:snapshot", kwlist,
					 PyUnicode_FSConverter, &path, &header, &values,
					 &level, &do_fsync, &tag))
		return NULL;
	struct asnap_walk_options opts = {.values = values != 0, .level = level,
					  .no_fsync = !do_fsync, .tmp_tag = tag};
	opts.tracemalloc = tracemalloc_tracing();
	opts.blocks = allocated_blocks;
	struct asnap_walk_stats st;
	struct asnap_error err = {0};
	int rc = asnap_walk_snapshot(PyBytes_AS_STRING(path), header, &names, &opts, &st, &err);
	Py_DECREF(path);
	if (rc < 0) {
		PyErr_SetString(snapshot_error, err.message[0] ? err.message : "snapshot failed");
		return NULL;
	}
	return Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:d,s:d}",
			     "objects", (unsigned long long)st.objects,
			     "dev", (unsigned long long)st.file_dev,
			     "ino", (unsigned long long)st.file_ino,
			     "tracked", (unsigned long long)st.tracked,
			     "edges", (unsigned long long)st.edges,
			     "file_bytes", (unsigned long long)st.file_bytes,
			     "walk_ms", st.walk_ms,
			     "pause_ms", st.pause_ms);
}

PyDoc_STRVAR(fork_snapshot_doc,
"fork_snapshot(path, header, shown, status=None, values=False, level=0, fsync=True, "
"tag=None) -> pid\n"
"\n"
"Fork a child that walks the heap and writes path, running nothing but C:\n"
"none of CPython's after-fork work, so every thread's stack is in the\n"
"snapshot and no program code runs; it adds \"fork_ms\" to the JSON header.\n"
"The child exits 0 when written, 3 when it failed\n"
"and said why on stderr; with status, it writes there the record\n"
"`asyncsnap take` reads (shown: path as a JSON string). Raises OSError if\n"
"the process cannot fork.");

static PyObject *agent_fork_snapshot(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", "header", "shown", "status", "values", "level", "fsync",
				 "tag", NULL};
	PyObject *path = NULL, *status_arg = Py_None, *status = NULL;
	const char *header, *shown, *tag = NULL;
	int values = 0, level = 0, do_fsync = 1;
	(void)self;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&ss|Opipz:fork_snapshot", kwlist,
					 PyUnicode_FSConverter, &path, &header, &shown, &status_arg,
					 &values, &level, &do_fsync, &tag))
		return NULL;
	if (status_arg != Py_None && !PyUnicode_FSConverter(status_arg, &status)) {
		Py_DECREF(path);
		return NULL;
	}
	struct asnap_fork_request rq = {
		.path = PyBytes_AS_STRING(path),
		.header = header,
		.status = status ? PyBytes_AS_STRING(status) : NULL,
		.shown = shown,
		.names = &names,
		.opts = {.values = values != 0, .level = level, .no_fsync = !do_fsync,
			 .tmp_tag = tag, .tracemalloc = tracemalloc_tracing(),
			 .fork_child = true},
	};
	pid_t pid = asnap_fork_walk(&rq);
	Py_DECREF(path);
	Py_XDECREF(status);
	if (pid < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	return PyLong_FromLong((long)pid);
}

/*
 * The registration file outlives a process killed by a signal whose action
 * is to terminate it: no atexit runs. For SIGTERM and SIGHUP, when the
 * program has left them at SIG_DFL, a handler removes the file and lets
 * the signal do what it would have done: the default action, at once, so
 * that the process ends exactly as it would have (killed by that signal).
 * Python's own view (signal.getsignal) still says SIG_DFL, and a handler
 * the program installs later replaces this one. Only async-signal-safe
 * calls; a child forked by the program (another pid) only passes through.
 */
static const int termination_signals[] = {SIGTERM, SIGHUP};
static char termination_path[4096];
static volatile sig_atomic_t termination_armed;
static pid_t termination_pid;

static void on_termination(int sig)
{
	int saved = errno;
	if (termination_armed && getpid() == termination_pid)
		unlink(termination_path);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	raise(sig); /* blocked until this handler returns, then it acts */
	errno = saved;
}

PyDoc_STRVAR(remove_on_termination_doc,
"remove_on_termination(path) -> None\n"
"\n"
"Remove path if SIGTERM or SIGHUP ends the process while their action is\n"
"still the default; None forgets the path.");

PyDoc_STRVAR(gc_collecting_doc, "gc_collecting() -> bool\n\n"
"Whether the cycle collector is collecting: a finalizer it called is\n"
"running (a snapshot cannot be taken until it is done).");

static PyObject *agent_gc_collecting(PyObject *self, PyObject *unused)
{
	(void)self;
	(void)unused;
	return PyBool_FromLong(asnap_py_gc_collecting());
}

static PyObject *agent_remove_on_termination(PyObject *self, PyObject *arg)
{
	(void)self;
	if (arg == Py_None) {
		termination_armed = 0;
		Py_RETURN_NONE;
	}
	PyObject *bytes = NULL;
	if (!PyUnicode_FSConverter(arg, &bytes))
		return NULL;
	if ((size_t)PyBytes_GET_SIZE(bytes) >= sizeof(termination_path)) {
		Py_DECREF(bytes);
		PyErr_SetString(PyExc_ValueError, "path too long");
		return NULL;
	}
	termination_armed = 0;
	memcpy(termination_path, PyBytes_AS_STRING(bytes), (size_t)PyBytes_GET_SIZE(bytes) + 1);
	Py_DECREF(bytes);
	termination_pid = getpid();
	termination_armed = 1;
	for (size_t i = 0; i < sizeof(termination_signals) / sizeof(*termination_signals); i++) {
		struct sigaction old;
		int sig = termination_signals[i];
		if (sigaction(sig, NULL, &old) != 0 || (old.sa_flags & SA_SIGINFO) ||
		    (old.sa_handler != SIG_DFL && old.sa_handler != on_termination))
			continue; /* the program's own (or ignored): not ours to touch */
		struct sigaction sa = {.sa_handler = on_termination};
		sigemptyset(&sa.sa_mask);
		sigaction(sig, &sa, NULL);
	}
	Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
	{"remove_on_termination", agent_remove_on_termination, METH_O,
	 remove_on_termination_doc},
	{"gc_collecting", agent_gc_collecting, METH_NOARGS, gc_collecting_doc},
	{"fork_snapshot", (PyCFunction)(void (*)(void))agent_fork_snapshot,
	 METH_VARARGS | METH_KEYWORDS, fork_snapshot_doc},
	{"snapshot", (PyCFunction)(void (*)(void))agent_snapshot, METH_VARARGS | METH_KEYWORDS,
	 snapshot_doc},
	{"_floor", asnap_floor, METH_VARARGS,
	 "_floor(name, expect=0) -> dict: the cost of a walk that writes nothing "
	 "(bench/walk.py)"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "asyncsnap._agent",
	"C half of the asyncsnap agent: the heap walk and the snapshot writer.", -1, methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__agent(void);

/* Refuse a runtime older than the layouts this build reads (pyver.h): an
 * extension built against 3.14.10's headers loads into any 3.14.x. */
static bool runtime_supported(void)
{
#if ASNAP_PY_MIN_RUNTIME && ASNAP_PY_HAS_RUNTIME_VERSION
	if (Py_Version < ASNAP_PY_MIN_RUNTIME) {
		PyErr_Format(PyExc_ImportError,
			     "asyncsnap's agent does not support CPython %d.%d.%d: it reads the "
			     "collector's lists of %d.%d.%d and later (earlier %d.%d releases use a "
			     "different collector); upgrade Python",
			     (int)(Py_Version >> 24), (int)(Py_Version >> 16 & 0xff),
			     (int)(Py_Version >> 8 & 0xff), (int)(ASNAP_PY_MIN_RUNTIME >> 24),
			     (int)(ASNAP_PY_MIN_RUNTIME >> 16 & 0xff),
			     (int)(ASNAP_PY_MIN_RUNTIME >> 8 & 0xff), (int)(ASNAP_PY_MIN_RUNTIME >> 24),
			     (int)(ASNAP_PY_MIN_RUNTIME >> 16 & 0xff));
		return false;
	}
#endif
	return true;
}

PyMODINIT_FUNC PyInit__agent(void)
{
	if (!runtime_supported())
		return NULL;
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
