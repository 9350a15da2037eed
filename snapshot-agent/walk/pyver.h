/*
 * pyver.h - which CPython the agent is built for, as named capabilities.
 *
 * This is the one file of the walk that tests PY_VERSION_HEX. Everything
 * else asks for a capability by name (ASNAP_PY_HAS_...), and the layouts
 * that differ wholesale between version families live in files of their
 * own, chosen by the build (snapshot-agent/asyncsnap/meson.build):
 *
 *   frames_39.c    frames and generators of 3.9 and 3.10 (frame objects)
 *   frames_311.c   frames and generators of 3.11 to 3.15 (interpreter frames)
 *   layout/asyncio_*.h   _asyncio.Future/Task mirrors, one per family
 *
 * Adding a CPython version: docs/PORTING.md walks through it. Each
 * capability below says what changed and where the facts are
 * (docs/CPYTHON-INTERNALS.md §N).
 */
#ifndef ASNAP_AGENT_PYVER_H
#define ASNAP_AGENT_PYVER_H

#include <Python.h>

#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x03100000
#error "the agent supports CPython 3.9 to 3.15 (docs/PORTING.md says how to add one)"
#endif
#ifdef Py_GIL_DISABLED
#error "the agent does not support free-threaded (Py_GIL_DISABLED) builds"
#endif

/* The oldest micro release of each minor version the agent accepts at run
 * time (agent.c compares Py_Version): 3.14.0 to 3.14.9 and 3.15.0/.1 had
 * the incremental collector, whose lists this agent does not walk
 * (CPYTHON-INTERNALS §9); only the releases below were tested. 0 = any. */
#if PY_VERSION_HEX >= 0x030F0000
#define ASNAP_PY_MIN_RUNTIME 0x030F02F0 /* 3.15.2 */
#elif PY_VERSION_HEX >= 0x030E0000
#define ASNAP_PY_MIN_RUNTIME 0x030E0AF0 /* 3.14.10 */
#else
#define ASNAP_PY_MIN_RUNTIME 0
#endif

/* ---- the collector (§1) ---- */
/* PyGC_Disable/PyGC_Enable exist (3.10+); before, gc.enabled is set */
#define ASNAP_PY_HAS_GC_TOGGLE_API (PY_VERSION_HEX >= 0x030A0000)
/* immortal objects, _Py_IsImmortal (3.12+) */
#define ASNAP_PY_HAS_IMMORTALS (PY_VERSION_HEX >= 0x030C0000)
/* the interned strings are a dict of the interpreter's cached objects,
 * _Py_INTERP_CACHED_OBJECT(interp, interned_strings) (3.12+) */
#define ASNAP_PY_HAS_INTERP_INTERNED (PY_VERSION_HEX >= 0x030C0000)
/* Py_Version, the runtime's version as a number (3.11+) */
#define ASNAP_PY_HAS_RUNTIME_VERSION (PY_VERSION_HEX >= 0x030B0000)

/* ---- frames and generators (§2, §3, §6) ---- */
/* frames are _PyInterpreterFrame structs inside generators and thread
 * stacks, not objects (3.11+); frames_311.c instead of frames_39.c */
#define ASNAP_PY_HAS_INTERP_FRAMES (PY_VERSION_HEX >= 0x030B0000)
/* frame objects carry f_state (3.10 only; 3.9 has gi_running/f_lasti) */
#define ASNAP_PY_HAS_FRAME_F_STATE (PY_VERSION_HEX >= 0x030A0000 && PY_VERSION_HEX < 0x030B0000)
/* the frame's function is f_funcobj (3.12+), not f_func */
#define ASNAP_PY_HAS_FRAME_FUNCOBJ (PY_VERSION_HEX >= 0x030C0000)
/* the frame's code is f_executable (3.13+), not f_code */
#define ASNAP_PY_HAS_FRAME_EXECUTABLE (PY_VERSION_HEX >= 0x030D0000)
/* the thread's innermost frame is tstate->current_frame (3.13+), not
 * tstate->cframe->current_frame */
#define ASNAP_PY_HAS_TSTATE_CURRENT_FRAME (PY_VERSION_HEX >= 0x030D0000)
/* trampoline frames owned by the C stack, to be skipped (3.12+) */
#define ASNAP_PY_HAS_CSTACK_FRAMES (PY_VERSION_HEX >= 0x030C0000)
/* frames owned by the interpreter itself (entry, base), to be skipped
 * like the C stack's (3.14+) */
#define ASNAP_PY_HAS_INTERPRETER_FRAMES (PY_VERSION_HEX >= 0x030E0000)
/* PyUnstable_InterpreterFrame_GetLine (3.12+) */
#define ASNAP_PY_HAS_FRAME_GETLINE (PY_VERSION_HEX >= 0x030C0000)
/* the instruction pointer is instr_ptr (3.13+), not prev_instr */
#define ASNAP_PY_HAS_INSTR_PTR (PY_VERSION_HEX >= 0x030D0000)
/* a suspended generator delegating (await, yield from) has its own state,
 * FRAME_SUSPENDED_YIELD_FROM (3.13+); before, the next instruction tells */
#define ASNAP_PY_HAS_YIELD_FROM_STATE (PY_VERSION_HEX >= 0x030D0000)
/* how deep in a suspended frame's value stack the delegate of an await
 * sits: on top up to 3.14; under the value to send in from 3.15 */
#if PY_VERSION_HEX >= 0x030F0000
#define ASNAP_PY_YIELD_FROM_DEPTH 2
#else
#define ASNAP_PY_YIELD_FROM_DEPTH 1
#endif
/* RESUME has an instrumented twin (3.12+) / a quickened one (3.11) */
#define ASNAP_PY_HAS_INSTRUMENTED_RESUME (PY_VERSION_HEX >= 0x030C0000)
/* frame slots, f_executable and f_funcobj are _PyStackRef (3.14+): a NULL
 * slot is the bit pattern 1, the low bits tag deferred references, and
 * bits & 3 == 3 is a tagged int, not an object (§9) */
#define ASNAP_PY_HAS_STACKREFS (PY_VERSION_HEX >= 0x030E0000)
/* the value stack's top is a pointer, stackpointer (3.14+), not an index */
#define ASNAP_PY_HAS_STACKPOINTER (PY_VERSION_HEX >= 0x030E0000)
/* _PyInterpreterFrame and the generator structs are in
 * internal/pycore_interpframe_structs.h; PyGenObject is opaque in the
 * public headers (3.14+) */
#define ASNAP_PY_HAS_INTERPFRAME_STRUCTS_H (PY_VERSION_HEX >= 0x030E0000)
/* generator states renumbered from 0 with no COMPLETED (3.15+): test
 * states only with FRAME_STATE_SUSPENDED/FRAME_STATE_FINISHED there */
#define ASNAP_PY_HAS_STATE_MACROS (PY_VERSION_HEX >= 0x030E0000)
/* the code object has co_qualname (3.11+) */
#define ASNAP_PY_HAS_CODE_QUALNAME (PY_VERSION_HEX >= 0x030B0000)
/* coroutine origin is cr_origin_or_finalizer (3.11+), not cr_origin */
#define ASNAP_PY_HAS_GEN_COMMON_HEAD (PY_VERSION_HEX >= 0x030B0000)

/* ---- objects (§4, §8) ---- */
/* function objects have func_builtins (3.10+) */
#define ASNAP_PY_HAS_FUNC_BUILTINS (PY_VERSION_HEX >= 0x030A0000)
/* exceptions have __notes__ (3.11+) */
#define ASNAP_PY_HAS_EXC_NOTES (PY_VERSION_HEX >= 0x030B0000)
/* str may be a legacy (not ready) object with a wstr buffer (< 3.12) */
#define ASNAP_PY_HAS_LEGACY_STR (PY_VERSION_HEX < 0x030C0000)
/* how an instance keeps its attributes when it has no dict (§4):
 * 0 always in a dict (3.9, 3.10); 1 a values pointer (3.11); 2 a tagged
 * dict-or-values word (3.12); 3 inline values after the object (3.13+) */
#if PY_VERSION_HEX >= 0x030D0000
#define ASNAP_PY_INSTANCE_VALUES 3
#elif PY_VERSION_HEX >= 0x030C0000
#define ASNAP_PY_INSTANCE_VALUES 2
#elif PY_VERSION_HEX >= 0x030B0000
#define ASNAP_PY_INSTANCE_VALUES 1
#else
#define ASNAP_PY_INSTANCE_VALUES 0
#endif
/* GC objects with a managed dict carry a pre-header (3.11+), and so do
 * those with a managed weakref list (3.12+) */
#define ASNAP_PY_HAS_MANAGED_DICT (PY_VERSION_HEX >= 0x030B0000)
#define ASNAP_PY_HAS_MANAGED_WEAKREF (PY_VERSION_HEX >= 0x030C0000)
/* _Py_HashBytes and _PyTraceMalloc_GetTraceback are exported but no longer
 * declared by the headers (3.13+) */
#define ASNAP_PY_HAS_UNDECLARED_EXPORTS (PY_VERSION_HEX >= 0x030D0000)
/* str's hash of a buffer is public, Py_HashBuffer (3.14+), and
 * _Py_HashBytes no longer exported */
#define ASNAP_PY_HAS_HASH_BUFFER (PY_VERSION_HEX >= 0x030E0000)

/* ---- asyncio (§5) ---- */
/* which mirror of _asyncio.Future/Task (layout/asyncio_*.h) */
#if PY_VERSION_HEX >= 0x030E0000
#define ASNAP_PY_ASYNCIO_LAYOUT "layout/asyncio_314.h"
#elif PY_VERSION_HEX >= 0x030D0000
#define ASNAP_PY_ASYNCIO_LAYOUT "layout/asyncio_313.h"
#elif PY_VERSION_HEX >= 0x030B0000
#define ASNAP_PY_ASYNCIO_LAYOUT "layout/asyncio_311.h"
#else
#define ASNAP_PY_ASYNCIO_LAYOUT "layout/asyncio_39.h"
#endif
/* a Future keeps the exception's traceback, fut_exception_tb (3.10+) */
#define ASNAP_PY_HAS_FUT_EXCEPTION_TB (PY_VERSION_HEX >= 0x030A0000)
/* a Future records the tasks awaiting it, fut_awaited_by (3.14+): a
 * strong reference back to every awaiting task */
#define ASNAP_PY_HAS_FUT_AWAITED_BY (PY_VERSION_HEX >= 0x030E0000)
/* a Task counts cancel() requests, Task.cancelling() (3.11+) */
#define ASNAP_PY_HAS_TASK_CANCEL_COUNT (PY_VERSION_HEX >= 0x030B0000)


/* ---- one name for what moved ---- */

/* The hash str and bytes use, of len bytes at src, keyed by the process's
 * hash secret. */
#if ASNAP_PY_HAS_HASH_BUFFER
#define asnap_py_hash_bytes(src, len) Py_HashBuffer((src), (len))
#else
#if ASNAP_PY_HAS_UNDECLARED_EXPORTS
PyAPI_FUNC(Py_hash_t) _Py_HashBytes(const void *src, Py_ssize_t len);
#endif
#define asnap_py_hash_bytes(src, len) _Py_HashBytes((src), (len))
#endif

/* Where tracemalloc saw a block allocated: a new tuple of (file, line). */
#if ASNAP_PY_HAS_UNDECLARED_EXPORTS
PyAPI_FUNC(PyObject *) _PyTraceMalloc_GetTraceback(unsigned int domain, uintptr_t ptr);
#endif

#endif
