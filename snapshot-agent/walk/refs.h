/*
 * refs.h - every reference an object holds, each with a label a person can
 * read (attribute name, dict key, index, local variable, field name) and a
 * kind (strong or weak).
 *
 * tp_traverse stays the authority on *what* an object references: the
 * collector relies on it, so nothing it visits is missed. What we know of
 * an object's layout only names those references ("hints" matched by
 * pointer), and adds the few references tp_traverse does not report: the
 * str keys of dicts, the referent of a weak reference (as a weak edge),
 * and the locals of a coroutine that is executing right now.
 */
#ifndef ASNAP_AGENT_REFS_H
#define ASNAP_AGENT_REFS_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

enum label_kind {
	LABEL_NONE,
	LABEL_CSTR,  /* a static C string: field and member names */
	LABEL_NAME,  /* a str from code (variable names), used as is */
	LABEL_KEY,   /* a dict key or attribute name: shown only when it is an
		      * interned identifier (data never becomes a label) */
	LABEL_INDEX, /* [i] */
	LABEL_VALUE, /* a dict key that is data whatever it looks like: "value" */
};

struct label {
	uint8_t kind;
	uint32_t index;
	const char *cstr;
	PyObject *name;
};

/* Called for each reference; non-zero stops the enumeration. */
typedef int (*asnap_ref_fn)(void *ctx, PyObject *child, const struct label *label,
			    uint8_t edge_kind);

struct hint {
	PyObject *ptr;
	struct label label;
	uint8_t kind;   /* edge kind */
	bool extra;     /* an edge of its own if tp_traverse does not visit it */
	bool used;
};

/* Scratch space reused across objects. */
struct refs {
	struct hint *h;
	size_t n, cap;
	uint32_t *sorted; /* hint indices by pointer, for objects with many */
	size_t sorted_cap;
	bool oom;
	/* enum.EnumMeta when the program has imported enum, else NULL; set
	 * by the walk, with whether the snapshot keeps values */
	PyTypeObject *enum_meta;
	bool values;
	/* the interpreter's table of interned strings (3.12+), whose keys are
	 * any identifier-like str the program made, so never labels */
	PyObject *interned;
};

void refs_init(struct refs *r);
void refs_release(struct refs *r);

/* Objects of these exact types hold no reference and are nothing the
 * walk describes but by their size (and value, with values=True): most
 * objects of a heap, given the short way. */
static inline bool refs_is_atom(PyTypeObject *tp)
{
	return tp == &PyUnicode_Type || tp == &PyLong_Type || tp == &PyFloat_Type ||
	       tp == &PyBytes_Type;
}

/* Enumerate op's references. Returns non-zero when fn did (or on OOM). */
int refs_enumerate(struct refs *r, PyObject *op, asnap_ref_fn fn, void *ctx);

/* Whether a dict key / attribute name may be written as a label. */
bool refs_key_is_label(PyObject *key);

/* The code object's qualified name, file and first line (borrowed strs,
 * possibly NULL). */
PyObject *refs_code_qualname(PyCodeObject *co);

#endif
