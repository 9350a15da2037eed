/*
 * forked.h - fork mode's fork, and its child that runs only C (forked.c).
 */
#ifndef ASNAP_AGENT_FORKED_H
#define ASNAP_AGENT_FORKED_H

#include <stdbool.h>
#include <sys/types.h>

#include "walk.h"

struct asnap_fork_request {
	const char *path;   /* the snapshot's path */
	const char *header; /* the JSON header object; the child adds "fork_ms" */
	const char *status; /* the status file for `asyncsnap take`, or NULL */
	const char *shown;  /* path as a JSON string literal, for the status */
	const struct asnap_walk_names *names;
	struct asnap_walk_options opts;
};

/*
 * Fork; the child walks the heap and writes rq->path, then _exit()s: 0
 * written, 3 failed and said why (stderr, status). Call with the GIL held
 * and the collector disabled. The child's pid, or -1 with errno.
 */
pid_t asnap_fork_walk(const struct asnap_fork_request *rq);

#endif
