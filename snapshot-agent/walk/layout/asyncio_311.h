/*
 * asyncio_311.h - _asyncio.Future and _asyncio.Task of CPython 3.11 and
 * 3.12 (see asyncio_39.h): cancelled_exc replaces the exception state, and
 * the task counts cancel requests.
 */
#define FUT_HEAD(p)                                                               \
	PyObject_HEAD                                                             \
	PyObject *p##_loop, *p##_callback0, *p##_context0, *p##_callbacks;        \
	PyObject *p##_exception, *p##_exception_tb, *p##_result, *p##_source_tb;  \
	PyObject *p##_cancel_msg;                                                 \
	int p##_state;                                                            \
	int p##_log_tb;                                                           \
	int p##_blocking;                                                         \
	PyObject *dict;                                                           \
	PyObject *p##_weakreflist;                                                \
	PyObject *p##_cancelled_exc;
struct fut { FUT_HEAD(fut) };
struct task {
	FUT_HEAD(task)
	PyObject *task_fut_waiter, *task_coro, *task_name, *task_context;
	int task_must_cancel;
	int task_log_destroy_pending;
	int task_num_cancels_requested;
};
