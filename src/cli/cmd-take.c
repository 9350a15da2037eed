/*
 * cmd-take.c - `asyncsnap take PID`: make a process that has the agent
 * write a snapshot, by its signal, and wait until the file is complete.
 *
 * The process must be the one its registration file describes: same start
 * time (so a pid reused by another program is never signalled), and ours.
 * The agent writes to a hidden temporary name and renames the file into
 * place, so a visible <prog>-<pid>-<seq>.snap with a sequence number above
 * every one there before the signal is complete, and new.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/live.h"

static const char help[] =
	"usage: asyncsnap take [-o FILE] [--timeout S] PID\n"
	"\n"
	"Make process PID, which runs with the asyncsnap agent (asyncsnap run, or\n"
	"asyncsnap.install()), write a snapshot: send it its signal, wait until the\n"
	"new snapshot is complete, and print the file's path. The process must be the\n"
	"one that registered (same start time: a reused pid is never signalled) and\n"
	"must be yours. `asyncsnap ps` lists the candidates.\n"
	"\n"
	"options:\n"
	"  -o, --output FILE  move the snapshot to FILE (default: it stays in the\n"
	"                     process's snapshot directory)\n"
	"  --timeout S        give up after S seconds (default 60)\n"
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 with the path on stdout; 2 when there is no such process, it\n"
	"has no agent, it is another user's, it ended, or no snapshot came in time.\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The sequence number of NAME if it is a visible snapshot of pid
 * (<prog>-<pid>-<seq>.snap), else -1. */
static long long snapshot_seq(const char *name, long pid)
{
	size_t len = strlen(name);
	if (name[0] == '.' || len < 6 || strcmp(name + len - 5, ".snap") != 0)
		return -1;
	const char *end = name + len - 5, *p = end;
	while (p > name && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == end || p == name || p[-1] != '-')
		return -1;
	char want[32];
	int n = snprintf(want, sizeof(want), "-%ld-", pid);
	const char *q = p - 1; /* the '-' before seq */
	if (q - name < n || memcmp(q - n + 1, want, (size_t)n) != 0 || q - n + 1 == name)
		return -1;
	return strtoll(p, NULL, 10);
}

/* NAME is the agent's temporary file for a snapshot of pid:
 * .<prog>-<pid>-<seq>.snap.XXXXXX.tmp */
static bool is_temporary(const char *name, long pid)
{
	size_t len = strlen(name);
	char want[32];
	snprintf(want, sizeof(want), "-%ld-", pid);
	return len > 4 && strcmp(name + len - 4, ".tmp") == 0 && strstr(name, want) &&
	       strstr(name, ".snap.");
}

/* The highest sequence number of pid's snapshots in dir (0 if none), and
 * the name of the lowest one above `above` in best (if best is given). */
static long long scan(const char *dir, long pid, long long above, char *best, size_t best_size,
		      bool *writing, int *err)
{
	DIR *d = opendir(dir);
	long long max = 0, found = -1;
	if (!d) {
		*err = errno;
		return -1;
	}
	struct dirent *e;
	if (writing)
		*writing = false;
	while ((e = readdir(d))) {
		if (writing && e->d_name[0] == '.' && is_temporary(e->d_name, pid))
			*writing = true;
		long long seq = snapshot_seq(e->d_name, pid);
		if (seq < 0)
			continue;
		if (seq > max)
			max = seq;
		if (best && seq > above && (found < 0 || seq < found) &&
		    strlen(e->d_name) < best_size) {
			found = seq;
			strcpy(best, e->d_name);
		}
	}
	closedir(d);
	*err = 0;
	return best ? found : max;
}

/* Copy src to dst through a temporary file beside dst, then rename: for
 * -o across file systems. */
static int copy_file(const char *src, const char *dst, char *why, size_t why_size)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(dst, '/');
	int n = slash ? snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - dst), dst, slash + 1)
		      : snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", dst);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(why, why_size, "%s", strerror(ENAMETOOLONG));
		return -1;
	}
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	int out = mkstemp(tmp);
	if (out < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		close(in);
		return -1;
	}
	char buf[1 << 16];
	ssize_t r;
	int rc = 0;
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -1;
			break;
		}
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(out, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				rc = -1;
				break;
			}
			off += w;
		}
		if (rc)
			break;
	}
	if (rc == 0 && (fsync(out) != 0 || fchmod(out, 0600) != 0))
		rc = -1;
	if (rc)
		snprintf(why, why_size, "%s", strerror(errno));
	close(in);
	if (close(out) != 0 && rc == 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && rename(tmp, dst) != 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		rc = -1;
	}
	if (rc)
		unlink(tmp);
	return rc;
}

#define FAIL(...)                                                           \
	do {                                                                \
		char msg_[2 * PATH_MAX + 512];                                             \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                  \
		cli_error("cannot take a snapshot of process %ld: %s", pid, msg_); \
		return EXIT_ERROR;                                          \
	} while (0)

static int take(long pid, const char *output, double timeout)
{
	char dir[PATH_MAX], reg[PATH_MAX + 32], why[256];
	struct stat st;
	char proc[64];

	long long ticks = live_start_ticks(pid);
	snprintf(proc, sizeof(proc), "/proc/%ld", pid);
	if (ticks < 0 || stat(proc, &st) != 0)
		FAIL("no such process");
	if (st.st_uid != getuid())
		FAIL("it belongs to another user (uid %u); only your own processes can be signalled",
		     (unsigned)st.st_uid);
	if (live_runtime_dir(dir, sizeof(dir)) < 0)
		FAIL("the runtime directory's name is too long");
	snprintf(reg, sizeof(reg), "%s/%ld.json", dir, pid);
	struct live_agent a;
	if (access(reg, F_OK) != 0)
		FAIL("it has no asyncsnap agent (no '%s'): start it with asyncsnap run, or call "
		     "asyncsnap.install() in it", reg);
	if (live_check_private_dir(dir, why, sizeof(why)) < 0)
		FAIL("cannot use '%s': %s", dir, why);
	if (live_agent_read(reg, &a, why, sizeof(why)) < 0)
		FAIL("cannot read '%s': %s", reg, why);
	if (a.pid != pid || !live_agent_alive(&a)) {
		live_agent_release(&a);
		unlink(reg); /* the agent's process is gone; the file is stale */
		FAIL("it has no asyncsnap agent (pid %ld was reused: the registered process has "
		     "ended)", pid);
	}

	int err;
	long long before = scan(a.directory, pid, 0, NULL, 0, NULL, &err);
	if (before < 0) {
		snprintf(why, sizeof(why), "cannot read its snapshot directory '%s': %s", a.directory,
			 strerror(err));
		live_agent_release(&a);
		FAIL("%s", why);
	}
	/* to the main thread (its tid is the pid): Python runs signal handlers
	 * there, and a signal that landed on another thread would wait until
	 * the main thread's event loop wakes up for something else */
	if (syscall(SYS_tgkill, (pid_t)pid, (pid_t)pid, a.signum) != 0) {
		int e = errno;
		live_agent_release(&a);
		FAIL("cannot signal it: %s", strerror(e));
	}

	char name[NAME_MAX + 1];
	double deadline = now_s() + timeout;
	long long seq = -1;
	double sent = now_s();
	unsigned resent = 0;
	bool writing;
	for (unsigned round = 0;; round++) {
		seq = scan(a.directory, pid, before, name, sizeof(name), &writing, &err);
		if (seq > 0)
			break;
		/* The agent drops a signal that comes while it is still busy with
		 * the previous snapshot (a fork child that has renamed its file
		 * but not yet been reaped): when nothing is being written five
		 * seconds after a signal, send it again - twice at most. A busy
		 * or loaded process can take a second or more to run the handler
		 * at all, and every extra signal is one more full snapshot. */
		if (!writing && resent < 2 && now_s() - sent >= 5.0) {
			syscall(SYS_tgkill, (pid_t)pid, (pid_t)pid, a.signum);
			sent = now_s();
			resent++;
		}
		if (live_start_ticks(pid) != ticks) {
			live_agent_release(&a);
			FAIL("it ended before the snapshot was written");
		}
		if (now_s() >= deadline) {
			snprintf(why, sizeof(why), "no snapshot in '%s' after %g seconds (the process's "
				 "stderr says why)", a.directory, timeout);
			live_agent_release(&a);
			FAIL("%s", why);
		}
		/* 5 ms at first, then 50 ms */
		struct timespec ts = {0, round < 40 ? 5000000L : 50000000L};
		nanosleep(&ts, NULL);
	}

	char path[PATH_MAX + NAME_MAX + 2];
	snprintf(path, sizeof(path), "%s/%s", a.directory, name);
	live_agent_release(&a);
	if (output) {
		if (rename(path, output) != 0) {
			if (errno != EXDEV) {
				int e = errno;
				cli_error("cannot write '%s': %s (the snapshot is '%s')", output,
					  strerror(e), path);
				return EXIT_ERROR;
			}
			if (copy_file(path, output, why, sizeof(why)) < 0) {
				cli_error("cannot write '%s': %s (the snapshot is '%s')", output, why,
					  path);
				return EXIT_ERROR;
			}
			unlink(path);
		}
		puts(output);
	} else {
		puts(path);
	}
	return EXIT_OK;
}

int cmd_take(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *output = NULL;
	double timeout = 60;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!optarg[0])
				return cli_usage_error("take", "-o needs a file name");
			output = optarg;
			break;
		case 't': {
			char *end;
			errno = 0;
			timeout = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(timeout > 0) || !isfinite(timeout) ||
			    timeout > 1e6)
				return cli_usage_error("take", "--timeout needs a number of seconds "
						       "greater than 0, not '%s'", optarg);
			break;
		}
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		default:
			return cli_option_error("take", c, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("take", "%s", optind == argc ? "a process id is required"
								    : "only one process id is allowed");
	const char *text = argv[optind];
	char *end;
	errno = 0;
	long pid = strtol(text, &end, 10);
	if (errno || end == text || *end || pid < 1 || pid > INT_MAX || text[0] == '+' ||
	    text[0] == ' ')
		return cli_usage_error("take", "'%s' is not a process id", text);
	return take(pid, output, timeout);
}
