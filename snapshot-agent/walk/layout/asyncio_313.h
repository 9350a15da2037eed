/*
 * asyncio_313.h - _asyncio.Future and _asyncio.Task of CPython 3.13 (see
 * asyncio_39.h): dict and weakref list are managed (before the object),
 * the flags are bit fields, the task's own fields move after them.
 */
#define FUT_HEAD(p)                                                               \
	PyObject_HEAD                                                             \
	PyObject *p##_loop, *p##_callback0, *p##_context0, *p##_callbacks;        \
	PyObject *p##_exception, *p##_exception_tb, *p##_result, *p##_source_tb;  \
	PyObject *p##_cancel_msg, *p##_cancelled_exc;                             \
	int p##_state;                                                            \
	unsigned p##_log_tb : 1;                                                  \
	unsigned p##_blocking : 1;
struct fut { FUT_HEAD(fut) };
struct task {
	FUT_HEAD(task)
	unsigned task_must_cancel : 1;
	unsigned task_log_destroy_pending : 1;
	int task_num_cancels_requested;
	PyObject *task_fut_waiter, *task_coro, *task_name, *task_context;
};
