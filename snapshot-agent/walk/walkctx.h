/*
 * walkctx.h - the state of one heap walk, shared by the files that make
 * it: walk.c (the two passes), sizes.c (type names and shallow sizes),
 * emit.c (node ids, labels, interning and the record builder of emit.h) and
 * describe.c (the records of generators, frames and attributes, and
 * aio.c's). Dependency order, no cycle: pyframe/pyinst/internals -> emit
 * -> aio/refs/describe -> walk.
 */
#ifndef ASNAP_AGENT_WALKCTX_H
#define ASNAP_AGENT_WALKCTX_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "asyncsnap/format.h"
#include "emit.h"
#include "ptrmap.h"
#include "refs.h"
#include "walk.h"

#define VALUE_PREFIX_MAX 64 /* bytes of a str/bytes value kept with values=True */
#define TYPE_NAME_MAX 512

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

/* Edges whose referent's id is still to be looked up, at most (a power of
 * two: they wait in a ring). */
#define WALK_LAG 32

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
	struct asnap_edge *edges;  /* a batch's edges (write_objects) */
	const void *waiting[WALK_LAG]; /* the referents of the last edges, until
					* their ids are settled (walk.c) */
	size_t nedges, nsettled, ecap;
	uint64_t total_edges;
	uint64_t tracked;

	/* label string ids, interned on first use */
	struct ptrmap label_cstr;  /* const char * -> id */
	struct ptrmap label_obj;   /* str object -> id */
	uint32_t value_label;      /* for dict keys that are not shown */
	uint32_t frame_type;       /* "builtins.frame" for bare frames */

	uint32_t kind_value, key_text, key_bytes, key_length;
};

static inline int is_gc(PyObject *op)
{
	PyTypeObject *tp = Py_TYPE(op);
	return PyType_IS_GC(tp) && (tp->tp_is_gc == NULL || tp->tp_is_gc(op));
}

static inline bool is_bare(const void *p)
{
	return ((uintptr_t)p & BARE_TAG) != 0;
}

static inline const void *bare_frame(const void *p)
{
	return (const void *)((uintptr_t)p & ~BARE_TAG);
}

static inline uint32_t node_of(struct walk *wk, const void *p)
{
	return p ? ptrmap_get(&wk->ids, (uintptr_t)p) : UINT32_MAX;
}

/* ---- emit.c ---- */

/* The node id of op (an object or a tagged bare frame), giving it the next
 * one if it is new: pass 2 writes it in turn. UINT32_MAX on OOM. */
uint32_t walk_add_object(struct walk *wk, const void *op);
/*
 * UTF-8 of a str into buf without touching the object (PyUnicode_AsUTF8
 * would cache an encoded copy inside it); see emit.c.
 */
size_t walk_str_utf8(PyObject *s, char *buf, size_t cap, bool *complete);
/*
 * The label of an edge: a string id, interned on first use; or for an item
 * index, the index itself, with ASNAP_EDGE_INDEX or-ed into *kind (no string:
 * the analyzer names it "[i]").
 */
uint32_t walk_label_id(struct walk *wk, const struct label *l, uint8_t *kind);

/* ---- sizes.c ---- */

/* The name and sizing of instances of tp, cached per walk; NULL on OOM. */
struct type_info *walk_type_info(struct walk *wk, PyTypeObject *tp);
/* What sys.getsizeof would say of op, without calling Python code. */
uint64_t walk_shallow_size(PyObject *op, const struct type_info *ti);
/* The collector's header and pre-header bytes before op. */
Py_ssize_t walk_header_size(PyObject *op);

/* ---- describe.c ---- */

/* The records of object op (node id): values, generators, frames,
 * attributes, asyncio objects, allocation sites. */
void walk_describe(struct walk *wk, uint32_t id, PyObject *op);
/* A code object's qualname/file/lines properties into a record. */
void walk_code_props(struct recb *b, PyCodeObject *co, int line, bool qualname);

#endif
