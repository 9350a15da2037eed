/*
 * floor.h - _agent._floor(name, expect=0): the cost of visiting the heap
 * (and of naming its objects), for bench/walk.py; see floor.c.
 */
#ifndef ASNAP_AGENT_FLOOR_H
#define ASNAP_AGENT_FLOOR_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyObject *asnap_floor(PyObject *self, PyObject *args);

#endif
