/*
 * aio.h - asyncio and resource objects, described: tasks, futures, handles,
 * timer handles, event loops (records "task", "future", "handle", "loop")
 * and sockets ("socket"), with the C structs of _asyncio.Future/Task
 * mirrored per CPython version (../shared/CPYTHON-NOTES.md §5), since no
 * header declares them and their getters allocate.
 */
#ifndef ASNAP_AGENT_AIO_H
#define ASNAP_AGENT_AIO_H

#include <Python.h>
#include <stdint.h>

#include "emit.h"

/* Find the types in the modules the program has imported (sys.modules
 * lookups only; nothing is imported). Call before each walk. */
void aio_begin(void);

/* Name the fields of a C Future/Task for refs.c. */
void aio_hints(PyObject *op, void (*fn)(void *arg, PyObject *v, const char *name), void *arg);

/* Write op's record if it is one of the objects above. */
void aio_records(struct walk *wk, uint32_t id, PyObject *op);

#endif
