/*
 * tasks.h - every asyncio task of a snapshot, explained: its await chain
 * down to the leaf future, where it is suspended, whether it can ever wake
 * up, what references it, and what it retains (`asyncsnap tasks`, and the
 * pending-task check of `leaks`).
 *
 * Whether a task can wake: a task is *blocked* when it is pending and its
 * _fut_waiter is a pending future. Starting from the real roots, every
 * reference (strong or weak: a weak reference is enough to reach a future
 * and resolve it) is followed, except into blocked tasks and their
 * coroutine chains; reaching the future a blocked task waits on wakes that
 * task, and its chain is followed from then on. A blocked task that is
 * never woken waits on a future that nothing live can resolve: an orphaned
 * await. Tasks that an executing frame holds directly (the program's main
 * task, run until complete) are never called orphaned.
 */
#ifndef ASNAP_ANALYSIS_TASKS_H
#define ASNAP_ANALYSIS_TASKS_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/snapshot.h"

struct asnap_task_ref {
	uint32_t node;   /* the referrer */
	uint32_t label;  /* string id of the reference's label, 0 if none */
	uint32_t holder; /* who holds the referrer when it is a container, or ASNAP_NO_NODE */
	uint32_t holder_label;
};

struct asnap_task_view {
	uint32_t node;
	uint32_t index;        /* in s->aio.tasks */
	uint8_t state;         /* enum asnap_fut_state */
	uint32_t name;         /* string id */
	uint32_t coro;         /* its coroutine, or ASNAP_NO_NODE */
	uint32_t leaf;         /* the coroutine it is suspended in, or ASNAP_NO_NODE */
	uint32_t waiting_on;   /* the future it waits on, or ASNAP_NO_NODE */
	uint32_t *chain;       /* coroutines from coro down, then the awaited future */
	uint32_t chain_len;
	bool blocked;          /* pending, waiting on a pending future */
	bool orphaned;         /* blocked, and nothing live can resolve that future */
	bool main;             /* held by an executing frame */
	bool garbage;          /* unreachable: awaiting the cycle collector */
	uint64_t retained;
	int score;             /* how suspicious: higher first */
	struct asnap_task_ref *refs;
	uint32_t nrefs, more_refs;
};

/*
 * Which tasks can never wake (see above): *orphaned gets one byte per
 * s->aio.tasks entry (caller frees), 1 for orphaned. Needs the retention.
 * 0, or -1 with *err.
 */
int asnap_tasks_orphaned(const struct asnap_snap *s, uint8_t **orphaned, struct asnap_error *err);

/*
 * A view of every task, most suspicious first. With referrers, also what
 * references each (builds the reverse index of s->g for the time of the
 * call). Needs the retention. *out (free with asnap_tasks_free), *count;
 * the chains and referrers of all tasks are held by the element past the
 * last.
 */
int asnap_tasks_view(struct asnap_snap *s, bool referrers, struct asnap_task_view **out,
		     uint32_t *count, struct asnap_error *err);
void asnap_tasks_free(struct asnap_task_view *t, uint32_t count);

/*
 * Mark (one byte per s->aio.tasks entry) the tasks that an executing frame
 * (a "thread" root of the agent) references directly: the program's main
 * task, which the loop runs until complete. Needs no retention.
 */
void asnap_tasks_mark_main(const struct asnap_snap *s, uint8_t *main);

/* "orphaned", "pending", "garbage", "finished", ... : one word for a view. */
const char *asnap_task_verdict(const struct asnap_task_view *t);

#endif
