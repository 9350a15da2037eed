/*
 * asyncio_39.h - _asyncio.Future and _asyncio.Task of CPython 3.9 and 3.10
 * (Modules/_asynciomodule.c; not in any installed header, so mirrored:
 * CPYTHON-INTERNALS §5). aio.c accepts the types only when tp_basicsize equals
 * sizeof(struct task) / sizeof(struct fut).
 */
#if ASNAP_PY_HAS_FUT_EXCEPTION_TB
#define FUT_EXC_TB(p) PyObject *p##_exception_tb;
#else
#define FUT_EXC_TB(p)
#endif
#define FUT_HEAD(p)                                                               \
	PyObject_HEAD                                                             \
	PyObject *p##_loop, *p##_callback0, *p##_context0, *p##_callbacks;        \
	PyObject *p##_exception;                                                  \
	FUT_EXC_TB(p)                                                             \
	PyObject *p##_result, *p##_source_tb, *p##_cancel_msg;                    \
	int p##_state;                                                            \
	int p##_log_tb;                                                           \
	int p##_blocking;                                                         \
	PyObject *dict;                                                           \
	PyObject *p##_weakreflist;                                                \
	_PyErr_StackItem p##_cancelled_exc_state;
struct fut { FUT_HEAD(fut) };
struct task {
	FUT_HEAD(task)
	PyObject *task_fut_waiter, *task_coro, *task_name, *task_context;
	int task_must_cancel;
	int task_log_destroy_pending;
};
