/*
 * emit.h - how the parts of the walk that describe objects (aio.c,
 * uvloop.c, describe.c, walk.c) write records: a small builder over
 * asnap_writer_record that interns keys and turns object pointers into
 * node ids. Implemented in emit.c.
 */
#ifndef ASNAP_AGENT_EMIT_H
#define ASNAP_AGENT_EMIT_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "asyncsnap/format.h"

#define RECB_PROPS_MAX 32
#define RECB_SITES_MAX 16

struct walk;

struct recb {
	struct walk *wk;
	uint32_t node;
	const char *kind;
	uint32_t n;
	struct asnap_prop props[RECB_PROPS_MAX];
	/* one list of sites per record: [[file, line, name], ...] */
	struct asnap_value sites[RECB_SITES_MAX];
	struct asnap_value site_fields[RECB_SITES_MAX][3];
};

/* Where an item of a traceback-like sequence points: borrowed file (str),
 * line (int) and function name (str); false to skip the item. */
typedef bool (*recb_site_fn)(PyObject *item, PyObject **file, PyObject **line, PyObject **name);

void recb_begin(struct recb *b, struct walk *wk, uint32_t node, const char *kind);
/* Whether the snapshot keeps values (take(values=True)): what may be the
 * program's data is written only then. */
bool recb_values(const struct recb *b);
/* A string constant (interned once per walk, by its address). */
void recb_cstr(struct recb *b, const char *key, const char *value);
/* Text in a temporary buffer. */
void recb_text(struct recb *b, const char *key, const char *value);
/* A str that is program metadata (names, file names), never user data. */
void recb_pystr(struct recb *b, const char *key, PyObject *value);
/* A callable's name, program metadata: a Python function's or bound
 * method's qualified name; a builtin's "type.name" ("dict.pop"), or its
 * bare name when it belongs to a module. Nothing for other callables. */
void recb_callable_name(struct recb *b, const char *key, PyObject *cb);
void recb_int(struct recb *b, const char *key, int64_t value);
void recb_bool(struct recb *b, const char *key, bool value);
void recb_float(struct recb *b, const char *key, double value);
void recb_none(struct recb *b, const char *key);
/* A reference to an object of the snapshot; nothing when obj is NULL or
 * not in it. */
void recb_node(struct recb *b, const char *key, PyObject *obj);
/* A small scalar (None, bool, int, float) as its value; false if obj is
 * not one. */
bool recb_scalar(struct recb *b, const char *key, PyObject *obj);
/* The same with a str key (an attribute name that passed
 * refs_key_is_label). */
bool recb_scalar_named(struct recb *b, PyObject *key, PyObject *obj);
/* A list of code sites from a tuple or list (cr_origin, a task's creation
 * traceback), innermost last as Python orders them; at most
 * RECB_SITES_MAX, the innermost kept. */
void recb_sites(struct recb *b, const char *key, PyObject *seq, recb_site_fn get);
void recb_end(struct recb *b);

#endif
