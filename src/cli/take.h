/*
 * take.h - what `take` by signal (cmd-take.c) and `take --attach`
 * (attach.c) share: the agent's answer in a status file, the checks on the
 * snapshot it names, and moving it to -o.
 */
#ifndef ASNAP_CLI_TAKE_H
#define ASNAP_CLI_TAKE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The agent's answer to a request (the status file, written by rename in
 * a private directory). */
struct take_answer {
	enum { ANSWER_NONE, ANSWER_TAKING, ANSWER_WRITTEN, ANSWER_FAILED } state;
	char path[PATH_MAX];
	char reason[512];
	unsigned long long dev, ino;
};

/* CLOCK_MONOTONIC in seconds. */
double take_now_s(void);
/* The state letter of process pid (/proc/PID/stat: R, S, D, T, t, Z...),
 * or 0 when it cannot be read. */
char take_process_state(long pid);
/* 32 hex digits from the kernel's random source: 0, or -1 (errno set). */
int take_make_nonce(char out[33]);
/* Read the status file (this user's regular file) into *a; ANSWER_NONE
 * when there is none yet or it makes no sense. */
void take_read_answer(const char *status, struct take_answer *a);
/* Wait for the agent's answer in status until deadline, polling (5 ms,
 * then 50 ms) and watching process pid, started at start_ticks:
 * TAKE_ANSWERED (ans written or failed), TAKE_ENDED (it is gone),
 * TAKE_STOPPED (stopped for a second since start; *state: 'T' by a
 * signal, 't' by a debugger) or TAKE_TIMEOUT (ans as it stands). */
enum take_wait { TAKE_ANSWERED, TAKE_ENDED, TAKE_STOPPED, TAKE_TIMEOUT };
/* what both commands then say */
#define TAKE_ENDED_MSG "it ended before the snapshot was written"
#define TAKE_STOPPED_MSG                                                                  \
	"it is stopped (%s): no snapshot can be taken until it is continued (kill -CONT %ld)"
#define TAKE_UNFINISHED_MSG                                                               \
	"its snapshot was begun but not finished in %g seconds (a snapshot of a large heap " \
	"can take longer: --timeout)"
enum take_wait take_await_answer(const char *status, long pid, long long start_ticks,
				 double start, double deadline, struct take_answer *ans,
				 char *state);
/* Open the snapshot the answer names, checked (regular file of uid, mode
 * 0600, the device and inode the agent wrote, not older than the
 * request): the descriptor, or -1 with the reason in why. */
int take_open_answered(const struct take_answer *ans, uid_t uid, const struct timespec *requested,
		       char *why, size_t why_size);
/* Copy the open file in to output through a temporary file beside it,
 * then rename; a link to a regular file: to the file it names (the link
 * stays); a device, a pipe, a link to nothing: into output itself
 * (asnap_output_dest). 0, or -1 with the reason in why. */
int take_copy_file(int in, const char *output, char *why, size_t why_size);

/* `take --attach` (attach.c): snapshot process pid, which has no agent,
 * by sys.remote_exec (3.14+) or gdb (3.9-3.13); the snapshot goes to
 * output, else to $ASYNCSNAP_DIR or the current directory. An exit
 * status, everything reported. */
int take_attach(long pid, const char *output, double timeout, bool use_fork);

#endif
