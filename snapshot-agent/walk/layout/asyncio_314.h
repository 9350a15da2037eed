/*
 * asyncio_314.h - _asyncio.Future and _asyncio.Task of CPython 3.14 and
 * 3.15 (see asyncio_39.h; CPYTHON-INTERNALS §9): after cancelled_exc comes
 * awaited_by (what awaits this future, for external profilers), then the
 * state, two chars (is_task, awaited_by_is_set) and the bit fields; a task
 * ends with its node on the per-thread list of tasks (struct llist_node,
 * two pointers; the list does not own the task).
 */
#define FUT_HEAD(p)                                                               \
	PyObject_HEAD                                                             \
	PyObject *p##_loop, *p##_callback0, *p##_context0, *p##_callbacks;        \
	PyObject *p##_exception, *p##_exception_tb, *p##_result, *p##_source_tb;  \
	PyObject *p##_cancel_msg, *p##_cancelled_exc, *p##_awaited_by;            \
	int p##_state;                                                            \
	char p##_is_task;                                                         \
	char p##_awaited_by_is_set;                                               \
	unsigned p##_log_tb : 1;                                                  \
	unsigned p##_blocking : 1;
struct fut { FUT_HEAD(fut) };
struct task {
	FUT_HEAD(task)
	unsigned task_must_cancel : 1;
	unsigned task_log_destroy_pending : 1;
	int task_num_cancels_requested;
	PyObject *task_fut_waiter, *task_coro, *task_name, *task_context;
	struct { void *next, *prev; } task_node;
};
