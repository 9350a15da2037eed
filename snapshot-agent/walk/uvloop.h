/*
 * uvloop.h - uvloop's callback handles, timer handles, event loop and
 * transports, described with the same records as asyncio's ("handle",
 * "loop") and, for transports, an "attrs" record with their _closing and
 * _closed flags, so that the resource rules apply to them.
 *
 * uvloop's types are Cython cdef classes: their fields live in C structs
 * that no header declares and that have no members; their getters are
 * Python code. The structs are mirrored here from uvloop's .pxd files for
 * the versions listed in docs/AGENT.md, and an object is read only when
 *  - its type is exactly one of uvloop.loop's types (or uvloop.Loop),
 *    from a uvloop whose __version__ (read from the module dict) is one of
 *    those versions;
 *  - the type's tp_basicsize and tp_weaklistoffset are those of the
 *    mirrored struct;
 *  - the type's own tp_traverse, called on the object, visits exactly the
 *    object fields of the mirrored struct, in the order Cython emits them.
 * Anything else gets no record. Nothing here runs Python code.
 */
#ifndef ASNAP_AGENT_UVLOOP_H
#define ASNAP_AGENT_UVLOOP_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "emit.h"

/* Find uvloop's types in sys.modules (nothing is imported) and check
 * their layout. Call before each walk. */
void uvl_begin(void);

/* Name the fields of a uvloop object for refs.c. */
void uvl_hints(PyObject *op, void (*fn)(void *arg, PyObject *v, const char *name), void *arg);

/* Write op's records if it is a uvloop object we can read; true if it is
 * one of uvloop's types we describe (written or not). */
bool uvl_records(struct walk *wk, uint32_t id, PyObject *op);

#endif
