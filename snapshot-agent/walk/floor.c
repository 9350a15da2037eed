/*
 * floor.c - what any heap walk costs, for bench/walk.py to measure take()
 * against (_agent._floor, private), writing nothing:
 *   visit: every object the collector tracks and every referent its
 *          tp_traverse reports;
 *   name:  the walk's shape without its work: every tracked object gets an
 *          id in an address map and a slot in a table, then every object
 *          of the table is traversed in turn and each new referent named
 *          and appended (so untracked containers are followed too).
 * take() can come near the second, never below it.
 */
#include "floor.h"

#include <stdlib.h>
#include <time.h>

#include "internals.h"
#include "ptrmap.h"

struct floor {
	struct ptrmap map;
	PyObject **table;  /* named objects, in id order */
	size_t cap;
	bool name;
	bool oom;
	unsigned long long objects, referents;
};

static int name_object(struct floor *f, PyObject *op)
{
	int r = ptrmap_put(&f->map, (uintptr_t)op, (uint32_t)f->map.count, NULL);
	if (r == 1 && f->map.count > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1 << 16;
		PyObject **t = realloc(f->table, cap * sizeof(*t));
		if (!t)
			r = -1;
		else
			f->table = t, f->cap = cap;
	}
	if (r < 0) {
		f->oom = true;
		return -1;
	}
	if (r == 1)
		f->table[f->map.count - 1] = op;
	return 0;
}

static int visit(PyObject *child, void *arg)
{
	struct floor *f = arg;
	f->referents++;
	return f->name && child && name_object(f, child) < 0 ? 1 : 0;
}

static int each(PyObject *op, void *arg)
{
	struct floor *f = arg;
	f->objects++;
	if (f->name)
		return name_object(f, op);
	traverseproc traverse = Py_TYPE(op)->tp_traverse;
	if (traverse)
		traverse(op, visit, f);
	return 0;
}

/* The table, in order: each object's referents named, appended. */
static void follow(struct floor *f)
{
	for (size_t i = 0; i < f->map.count && !f->oom; i++) {
		PyObject *op = f->table[i];
		PyTypeObject *tp = Py_TYPE(op);
		/* what the walk traverses (refs.c): a GC object, by its own say
		 * (static types are not, and must not be traversed) */
		if (PyType_IS_GC(tp) && tp->tp_traverse && (!tp->tp_is_gc || tp->tp_is_gc(op)))
			tp->tp_traverse(op, visit, f);
	}
}

PyObject *asnap_floor(PyObject *self, PyObject *args)
{
	(void)self;
	int name = 0;
	Py_ssize_t expect = 0;
	if (!PyArg_ParseTuple(args, "p|n", &name, &expect))
		return NULL;
	struct floor f = {.name = name != 0};
	/* (its map kept between runs when small, as the walk's is) */
	static struct mapped_spare spare;
	if (f.name && (!ptrmap_init_spare(&f.map, expect > 0 ? (size_t)expect : 1 << 16,
					  PTRMAP_WINDOW, &spare) ||
		       !(f.table = malloc((f.cap = expect > 0 ? (size_t)expect : 1 << 16) *
					  sizeof(*f.table))))) {
		ptrmap_keep(&f.map, &spare);
		return PyErr_NoMemory();
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* nothing here allocates a Python object: no collection can start */
	int rc = asnap_py_gc_foreach(each, &f);
	if (rc == 0 && f.name)
		follow(&f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	size_t named = f.map.count;
	ptrmap_keep(&f.map, &spare);
	free(f.table);
	if (rc < 0 || f.oom)
		return PyErr_NoMemory();
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	return Py_BuildValue("{s:K,s:K,s:n,s:d}", "tracked", f.objects, "referents", f.referents,
			     "named", (Py_ssize_t)named, "ms", ms);
}
