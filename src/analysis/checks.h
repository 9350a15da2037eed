/*
 * checks.h - the five checks of `asyncsnap leaks` (SPEC section 6), run
 * over one or more snapshots of a program, as a list of findings.
 *
 * Every check sorts its candidate objects into groups (by coroutine, type,
 * callback, ...) in every snapshot. A group becomes a finding when, in the
 * last snapshot, some of its objects are certainly leaked from that
 * snapshot alone (an orphaned await, a reference cycle through a frame,
 * ...), or - with two or more snapshots of one process - when its count
 * never shrinks from one snapshot to the next, ends higher than it began,
 * and some of its objects persist (the same object, matched by address,
 * type and stable key, in every snapshot from the second on; with two
 * snapshots, in both).
 */
#ifndef ASNAP_ANALYSIS_CHECKS_H
#define ASNAP_ANALYSIS_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/rules.h"
#include "analysis/snapshot.h"

enum asnap_check {
	ASNAP_CHECK_UNAWAITED_COROUTINE = 0,
	ASNAP_CHECK_PENDING_TASK,
	ASNAP_CHECK_RETAINED_TASK,
	ASNAP_CHECK_UNCLOSED_RESOURCE,
	ASNAP_CHECK_PENDING_FUTURE,
	ASNAP_CHECK_UNCANCELLED_HANDLE,
	ASNAP_CHECK_FRAME_CYCLE,
	ASNAP_NCHECKS
};

#define ASNAP_CHECKS_ALL ((1u << ASNAP_NCHECKS) - 1)

/* "unawaited-coroutine", ... (stable: used in --json and --check). */
const char *asnap_check_name(int check);
/* The check of that name, or -1. */
int asnap_check_by_name(const char *name, size_t len);
/* One short line: what it finds ("coroutines created and never awaited"). */
const char *asnap_check_what(int check);
/* One line: how to fix the code that triggers it. */
const char *asnap_check_advice(int check);

struct asnap_finding_object {
	uint32_t node;         /* in the last snapshot */
	uint64_t retained;
	bool certain;          /* leaked from the last snapshot alone */
	bool persistent;       /* alive in the earlier snapshots too */
	bool born_kept;        /* born after the first snapshot and alive since: the growth */
};

/* A finding folded into another: its objects are kept alive by, or reached
 * from, the other's (see findings.c). */
struct asnap_finding_also {
	int check;
	char *summary;
	char *group;
	uint32_t count;
	uint64_t retained;
};

struct asnap_finding {
	int check;
	char *summary;         /* one line for a person */
	char *group;           /* what the objects share: a qualified name, a type, ... */
	char *site;            /* file:line, or NULL */
	char *fix;             /* how to fix it (a rule's "fix" or the check's advice) */
	uint32_t count;        /* objects in the last snapshot */
	uint32_t certain;      /* of which certain from the last snapshot alone */
	uint32_t persistent;   /* of which alive in the earlier snapshots */
	uint64_t retained;     /* what freeing all the objects together frees */
	uint32_t *growth;      /* group's count in each snapshot */
	uint32_t nsnap;
	/* the evidence (certain objects, or those born and kept that make the
	 * growth) first, then the rest; worst (most retained) first within */
	struct asnap_finding_object *objects;
	uint32_t nobjects;
	uint32_t *path;        /* root to the worst object; or a cycle through it */
	uint32_t path_len;
	bool path_is_cycle;    /* path[last] refers back to path[0] */
	bool in_user_code;     /* its site, chain or objects are the program's own code */
	struct asnap_finding_also *also; /* the findings folded into this one */
	uint32_t nalso;
};

struct asnap_findings {
	struct asnap_finding *items;
	uint32_t count;
	uint32_t cap;
	char *warning;         /* e.g. snapshots of different processes, or NULL */
};

struct asnap_checks_options {
	uint32_t mask;                   /* 1 << check, for the checks to run */
	const struct asnap_rules *rules; /* resource rules */
	/* shed each earlier snapshot (its graph and layers: asnap_snap_shed)
	 * once its turn is over, for a caller that shows no more of them than
	 * their header facts (leaks) */
	bool shed_earlier;
};

/*
 * The snapshots the checks read, oldest first. The checks read them in
 * turns: the last one first (its retention computed), then each earlier
 * one in turn, oldest first, beside the last; with load, each is loaded
 * just before its turn, and with shed_earlier an earlier one is shed just
 * after it, so that no more than two are in memory at once.
 */
struct asnap_checks_input {
	/* nsnap entries, each with at least its header facts (asnap_snap_peek,
	 * or loaded): whether they are of one process is told from those */
	struct asnap_snap **snaps;
	uint32_t nsnap;
	/* NULL when all are loaded (with ASNAP_SNAP_MATCH); else called once
	 * per snapshot, before its turn, to replace snaps[i] by the snapshot
	 * loaded with ASNAP_SNAP_MATCH: 0, or -1 with *err */
	int (*load)(void *arg, uint32_t i, struct asnap_error *err);
	void *arg;
};

/*
 * Run the checks over snaps[0..nsnap) (oldest first; the retention of the
 * last one is computed). Findings that are consequences of another are
 * folded into it (`also`); those in the program's own code come first,
 * then in check order, largest retained first within a check. 0, or -1
 * with *err.
 */
int asnap_checks_run(struct asnap_snap **snaps, uint32_t nsnap,
		     const struct asnap_checks_options *opt, struct asnap_findings *out,
		     struct asnap_error *err);
/* The same, over snapshots loaded in their turns. */
int asnap_checks_run_input(const struct asnap_checks_input *in,
			   const struct asnap_checks_options *opt, struct asnap_findings *out,
			   struct asnap_error *err);
void asnap_findings_release(struct asnap_findings *f);

#endif
