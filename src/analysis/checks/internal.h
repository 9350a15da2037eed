/*
 * internal.h - what the checks share: the context of one run and the
 * grouping of candidate objects across snapshots (see checks.h).
 */
#ifndef ASNAP_ANALYSIS_CHECKS_INTERNAL_H
#define ASNAP_ANALYSIS_CHECKS_INTERNAL_H

#include "analysis/checks.h"
#include "analysis/strings.h"
#include "analysis/tasks.h"

struct check_ctx {
	struct asnap_snap **snaps;
	uint32_t nsnap;
	struct asnap_snap *last;      /* snaps[nsnap - 1], with retention */
	bool same_process;            /* every snapshot from one process */
	uint8_t *orphaned;            /* per last->aio.tasks entry */
	uint8_t *loop_internals;      /* bitset of the last snapshot, built on demand */
	/* per node of the last snapshot, how it lived (LIFE_*): computed in
	 * each earlier snapshot's turn for the nodes the findings may ask
	 * about (checks.c), NULL with one snapshot or several processes */
	uint8_t *life;
	const struct asnap_checks_options *opt;
	/* the rules: opt->rules, or the built-in ones when the run was given
	 * none (parsed once, for every check that reads them) */
	const struct asnap_rules *rules;
	/* pooled_parts' answer for snapshot pooled_snap (every check's turn
	 * with a snapshot asks it for the same one), or NULL */
	uint8_t *pooled;
	uint32_t pooled_snap;
	struct asnap_findings *out;
	struct asnap_error *err;
};

struct member {
	uint32_t node;
	bool certain;
	uint64_t retained; /* what to report instead of its retained size, or 0 */
};

struct group {
	uint32_t *counts;   /* per snapshot */
	struct member *members; /* in the last snapshot */
	uint32_t nmembers, cap;
	uint32_t ncertain;
	char *site;         /* first site seen in the last snapshot */
	const char *fix;    /* borrowed */
	/* a check's word on its members (pending-task: the type of the lock
	 * or semaphore they wait to acquire), borrowed from the last
	 * snapshot's strings, or NULL */
	const char *detail;
	uint32_t *cycle;    /* a cycle to show instead of the path to the worst, or NULL */
	uint32_t cycle_len;
	uint64_t cycle_retained; /* the best member's retained size when it has a cycle */
};

struct grouping {
	struct check_ctx *ctx;
	struct asnap_strmap keys; /* key -> group index */
	struct group *groups;
	uint32_t ngroups, cap;
	bool failed;              /* out of memory */
	uint32_t min_certain;     /* a group fires on certainty at this many (default 1) */
	bool pile, consumed;      /* see struct check_def */
};

void grouping_init(struct grouping *gr, struct check_ctx *ctx);
void grouping_finish(struct grouping *gr);
/*
 * Count node v of snapshot `snap` in group `key`; in the last snapshot it
 * also becomes a member (certain or not; not when v is ASNAP_NO_NODE), with
 * site (copied, may be NULL) when the group has none yet. Returns the
 * group, or NULL (out of memory).
 */
struct group *group_add(struct grouping *gr, uint32_t snap, const char *key, uint32_t v,
			bool certain, const char *site);

/* Summary line for a firing group; `grew` when it fires on growth. */
typedef void summary_fn(const struct check_ctx *ctx, const char *key, const struct group *g,
			   uint32_t count, bool grew, char *buf, size_t len);

/* Turn the groups that fire into findings of `check`. 0 or -1. */
int grouping_emit(struct grouping *gr, int check, summary_fn *summary);

/*
 * A check, as data: each checks/<name>.c defines one, and checks.c's
 * driver runs them all the same way - prepare and scan the last snapshot,
 * then scan each earlier one in its turn, all into one grouping; emit the
 * groups that fire, release, then the extra pass's findings.
 */
struct check_def {
	const char *name;     /* stable: --check, --json, docs */
	const char *what;     /* what it finds, one short line (leaks --help) */
	const char *advice;   /* how to fix the code (a rule's "fix" overrides it) */
	/* Count the candidates of snapshot `snap` into gr: the last one
	 * first, then the earlier ones oldest first, each in its turn (only it
	 * and the last are loaded: a scan reads no other snapshot but their
	 * header facts). 0, or -1 with ctx->err. state is what prepare made
	 * (NULL without prepare). */
	int (*scan)(struct grouping *gr, uint32_t snap, void *state);
	summary_fn *summary;  /* the line for a group that fires */
	/* A group fires on certainty at this many certain members (0: 1). */
	uint32_t min_certain;
	/* Certainty from one snapshot is by count (a pile of many: at least
	 * min_certain), a guess that several snapshots of one process settle:
	 * a pile whose count does not grow is bounded (a cache of tasks, one
	 * timer per live session) and does not fire. */
	bool pile;
	/* Its certain objects may be consumed by the program (a backlog that
	 * workers drain): with several snapshots of one process, a group that
	 * does not grow and whose objects of the first snapshot are (nearly:
	 * 9 in 10) all gone by the last does not fire. */
	bool consumed;
	/* Optional: state for scan, made when only the last snapshot is
	 * loaded (0, or -1 with ctx->err), and its release. */
	int (*prepare)(struct check_ctx *ctx, void **state);
	void (*release)(void *state);
	/* Optional: a pass of its own beside the groups (pending-future's
	 * piles), emitted after them. */
	const struct check_extra *extra;
};

/*
 * A check's pass of its own, in the turns the snapshots are read in (one
 * earlier snapshot loaded at a time, beside the last): begin with the last
 * one, then each earlier one oldest first while it is loaded (and mark the
 * last one's nodes whose lifetime its findings may ask: need[v] |= 1),
 * end by emitting its findings. 0, or -1 with ctx->err.
 */
struct check_extra {
	int (*begin)(struct check_ctx *ctx, void **state);
	int (*earlier)(struct check_ctx *ctx, void *state, uint32_t snap);
	void (*mark)(const struct check_ctx *ctx, void *state, uint8_t *need);
	int (*end)(struct check_ctx *ctx, void *state);
	void (*release)(void *state); /* also after a failure */
};

/* What each check file gives the table in checks.c. */
#define UNCANCELLED_PILE_MIN 1000 /* handles of one callback: a pile from one snapshot */
int unawaited_scan(struct grouping *gr, uint32_t snap, void *state);
int pending_task_scan(struct grouping *gr, uint32_t snap, void *state);
int retained_task_scan(struct grouping *gr, uint32_t snap, void *state);
int unclosed_resource_scan(struct grouping *gr, uint32_t snap, void *state);
int pending_future_scan(struct grouping *gr, uint32_t snap, void *state);
int uncancelled_handle_scan(struct grouping *gr, uint32_t snap, void *state);
int frame_cycle_scan(struct grouping *gr, uint32_t snap, void *state);
summary_fn unawaited_summary, pending_task_summary, retained_task_summary,
	unclosed_resource_summary, pending_future_summary, uncancelled_handle_summary,
	frame_cycle_summary;
int retained_task_prepare(struct check_ctx *ctx, void **state);
int frame_cycle_prepare(struct check_ctx *ctx, void **state);

/*
 * The parts of the open resources idle in a pool (a rule's "idle_in") in
 * snapshot `snap` (unclosed_resource.c): *out (n + 1 bytes, the context's:
 * valid until the next snapshot's turn) is 1 for each and for what it
 * reaches within 3 strong references through library objects other than
 * the loop, tasks, coroutines, frames and handles, and for the handles
 * those objects hold (a server connection's keep-alive timer) - its
 * stream's protocol and "closed" future, which live as long
 * as the pool keeps it; bit 2 (not 1) for the tasks of those connections:
 * held by such a part or by the pool, their coroutine holding a part (a
 * server connection's reader and handler tasks); bit 4 for the pools and
 * their containers. 0, or -1 with ctx->err.
 */
int pooled_parts(struct check_ctx *ctx, uint32_t snap, uint8_t **out);

/* Callbacks and waiters piling up: pending-future's extra pass. */
extern const struct check_extra check_piled_callbacks;
/* Timers that re-arm themselves, multiplying: uncancelled-handle's. */
extern const struct check_extra check_timer_chains;

/*
 * After the checks (findings.c): set retained sizes, fold consequences
 * into their cause, rank. 0 or -1.
 */
int findings_settle(struct check_ctx *ctx);
/* The chain from a root to objects[0] in the last snapshot, avoiding the
 * event loop's internals when it can. With program_first, who in the
 * program holds a resource: a chain through one of the program's own
 * objects to objects[0], or else to the first of the others that has one;
 * else from the roots the program holds (its threads' frames,
 * sys.modules) rather than those held from C (uvloop's transports) when
 * both reach it (*nodes: caller frees). 0 or -1. */
int finding_path(struct check_ctx *ctx, const struct asnap_finding_object *objects,
		 uint32_t nobjects, bool program_first, uint32_t **nodes, uint32_t *len);
/* Free what a finding owns. */
void asnap_finding_release(struct asnap_finding *f);

/* Helpers. */
const char *node_type(const struct asnap_snap *s, uint32_t v);
/* "file:line" of a coroutine or frame into buf; "" if unknown. */
const char *site_of(const struct asnap_snap *s, uint32_t v, char *buf, size_t len);
/* "3 -> 9 -> 14" growth of a group, into buf. */
const char *growth_text(const struct check_ctx *ctx, const struct group *g, char *buf, size_t len);
/*
 * The nodes of the last snapshot held from outside the graph (its
 * "external" roots: more references than the snapshot shows), as n + 1
 * bytes, 1 for each (caller frees); NULL when out of memory. An unknown
 * holder: C code, or - in a fork-mode snapshot, which has only the forking
 * thread's stack - another thread's frame that may await, run or drop
 * what it holds.
 */
uint8_t *held_from_outside(const struct asnap_snap *s);
/* A type's name without its module ("Client"); builtins keep theirs. */
const char *short_type(const char *type);
/* Is v of a container type (set, list, dict, deque, tuple)? */
bool is_container_type(const char *type);
int nomem(struct check_ctx *ctx);

#endif
