/*
 * aio.h - asyncio and resource objects, described: tasks, futures, handles,
 * timer handles, event loops (records "task", "future", "handle", "loop")
 * and sockets ("socket"), with the C structs of _asyncio.Future/Task
 * mirrored per CPython version (docs/CPYTHON-INTERNALS.md §5), since no
 * header declares them and their getters allocate.
 */
#ifndef ASNAP_AGENT_AIO_H
#define ASNAP_AGENT_AIO_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "emit.h"

/* Find the types in the modules the program has imported (sys.modules
 * lookups only; nothing is imported). Call before each walk. */
void aio_begin(void);

/* Why asyncio records are missing from this snapshot (an _asyncio type
 * whose layout is not the one this build mirrors), or NULL: a sentence for
 * the snapshot's trailer, which the analyzer shows (set by aio_begin). */
const char *aio_layout_warning(void);

/* enum.EnumMeta, if the program imported enum (found by aio_begin). */
PyTypeObject *aio_enum_meta(void);

/* Name the fields of a C Future/Task for refs.c. */
void aio_hints(PyObject *op, void (*fn)(void *arg, PyObject *v, const char *name), void *arg);

/* Write op's record if it is one of the objects above. */
/* Whether the number an instance attribute holds keeps its value in a
 * snapshot taken without values=True (the few the checks read). name_obj
 * (an exact str) is read when name is NULL. */
bool aio_number_kept(PyObject *op, PyObject *name_obj, const char *name);

void aio_records(struct walk *wk, uint32_t id, PyObject *op);

#endif
