/*
 * forked.c - fork mode: fork() here, and a child that runs nothing but C.
 *
 * os.fork() would run CPython's after-fork work in the child
 * (PyOS_AfterFork_Child): the program's os.register_at_fork() hooks,
 * threading's reset, and the deletion of every other thread's state, which
 * frees those threads' frames and threading.local data and runs the
 * __del__ of what only they held - in a process where a lock another
 * thread held at the fork stays held for good. The snapshot then lacks the
 * other threads' stacks, and the child can hang.
 *
 * Here the child keeps the interpreter exactly as it was at the fork: the
 * calling thread holds the GIL and never lets it go (no other thread
 * exists to take it, and the GIL's own mutex may have been held by one at
 * the fork), so nothing but this file's C, the walk and the writer runs.
 * The header is made by the parent before the fork (the child runs no
 * Python code to make one); the child adds how long the fork took, and
 * reports through the status file and stderr itself, then _exit()s.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "forked.h"

enum { EXIT_REPORTED = 3 };

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Write all of buf to fd; false on error. */
static bool write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		n -= (size_t)w;
	}
	return true;
}

/*
 * s as a JSON string body into out (capacity cap, NUL-terminated, cut
 * short if need be): quotes and backslashes escaped, every run of control
 * characters one space (a reason is one line), bytes past ASCII as
 * \u00XX (a path need not be UTF-8).
 */
static void json_text(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	bool space = false;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 7 < cap; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			if (!space && o)
				out[o++] = ' ';
			space = true;
			continue;
		}
		space = false;
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p >= 0x80) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* The status file `asyncsnap take` waits for: written whole through a
 * temporary name and a rename, or not at all. */
static void write_status(const char *status, const char *record)
{
	if (!status)
		return;
	char tmp[4200];
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", status, (long)getpid()) >= (int)sizeof(tmp))
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	bool ok = write_all(fd, record, strlen(record));
	if (close(fd) != 0)
		ok = false;
	if (!ok || rename(tmp, status) != 0)
		unlink(tmp);
}

static _Noreturn void child_failed(const struct asnap_fork_request *rq, const char *why)
{
	char reason[1024], line[1200], record[1200];
	json_text(reason, sizeof(reason), why && *why ? why : "unknown error");
	/* the reason as JSON escapes it; on stderr the same text, unescaped
	 * where it is harmless (the terminal gets no control character) */
	int n = snprintf(line, sizeof(line), "asyncsnap: snapshot failed: %s\n", reason);
	if (n > 0)
		write_all(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	snprintf(record, sizeof(record), "{\"state\": \"failed\", \"reason\": \"%s\"}", reason);
	write_status(rq->status, record);
	_exit(EXIT_REPORTED);
}

/* Signals get their default action at the OS level, where a handler is
 * installed: no handler of the program's runs here (a SIGTERM handler
 * closing connections would close the parent's), and no Python handler
 * writes to the wakeup fd the parent's event loop reads. */
static void default_handlers(void)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &old) != 0)
			continue;
		if (!(old.sa_flags & SA_SIGINFO) &&
		    (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN))
			continue;
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		sigemptyset(&dfl.sa_mask);
		sigaction(sig, &dfl, NULL);
	}
}

static _Noreturn void child(const struct asnap_fork_request *rq, double t_fork,
			    const sigset_t *mask)
{
	double fork_ms = now_ms() - t_fork;
	default_handlers();
	pthread_sigmask(SIG_SETMASK, mask, NULL);
	size_t n = strlen(rq->header);
	while (n && (rq->header[n - 1] == ' ' || rq->header[n - 1] == '\n'))
		n--;
	if (n < 2 || rq->header[0] != '{' || rq->header[n - 1] != '}')
		child_failed(rq, "the snapshot's header is not a JSON object");
	char *full = malloc(n + 64);
	if (!full)
		child_failed(rq, "out of memory");
	memcpy(full, rq->header, n - 1); /* all but its closing brace */
	snprintf(full + n - 1, 64, "%s\"fork_ms\": %.3f}", n > 2 ? ", " : "", fork_ms);

	struct asnap_walk_stats st;
	struct asnap_error err = {0};
	if (asnap_walk_snapshot(rq->path, full, rq->names, &rq->opts, &st, &err) < 0)
		child_failed(rq, err.message[0] ? err.message : "snapshot failed");
	if (rq->status) {
		size_t cap = strlen(rq->shown) + 128;
		char *record = malloc(cap);
		if (record) {
			snprintf(record, cap,
				 "{\"state\": \"written\", \"path\": %s, \"dev\": %llu, \"ino\": %llu}",
				 rq->shown, (unsigned long long)st.file_dev,
				 (unsigned long long)st.file_ino);
			write_status(rq->status, record);
		}
	}
	_exit(0);
}

pid_t asnap_fork_walk(const struct asnap_fork_request *rq)
{
	/* every signal blocked across the fork: the child must not run a
	 * handler before it has put the default ones in place */
	sigset_t all, mask;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &mask);
	double t_fork = now_ms();
	pid_t pid = fork();
	if (pid == 0)
		child(rq, t_fork, &mask);
	int saved = errno;
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	errno = saved;
	return pid;
}
