/*
 * cmd-take.c - `asyncsnap take PID`: make a process that has the agent
 * write a snapshot, by its signal, and wait until the file is complete.
 *
 * The process must be the one its registration file describes: same start
 * time (so a pid reused by another program is never signalled), and ours.
 * The request is a file with an unguessable name in the private runtime
 * directory, made before the one signal; the agent answers beside it with
 * the snapshot's path, device and inode (or why it failed), and only the
 * file with that inode, this user's, mode 0600, is taken: nothing another
 * user plants in the snapshot directory is ever handed out.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "asyncsnap/format.h"
#include "cli/cli.h"
#include "cli/live.h"
#include "cli/take.h"

static const char usage[] =
	"usage: asyncsnap take [-o FILE] [--timeout S] [--attach [--no-fork]] PID\n";
static const char about[] =
	"Make process PID, which runs with the asyncsnap agent (asyncsnap run, or\n"
	"asyncsnap.install()), write a snapshot: send it its signal once, wait for\n"
	"the agent's answer, and print the snapshot's path. The process must be the\n"
	"one that registered (same start time: a reused pid is never signalled) and\n"
	"must be yours. `asyncsnap ps` lists the candidates.\n"
	"\n"
	"The request and the answer go through your private runtime directory, so\n"
	"the file printed is the one the agent wrote (checked by its inode, owner\n"
	"and mode 0600), whatever else appears in the snapshot directory; a\n"
	"snapshot directory others can write in (without the sticky bit) is refused.\n";
static const char footer[] =
	"With --attach (docs/AGENT.md, \"Attaching to a process without the agent\"),\n"
	"the process must be yours and traceable, and a CPython 3.9-3.15 for which an\n"
	"agent exists (its own installed asyncsnap, else this one's if it was built\n"
	"for the same Python). `asyncsnap ps --all` lists the candidates.\n"
	"\n"
	"Exit status: 0 with the path on stdout; 2 when there is no such process, it\n"
	"has no agent, it is another user's, it ended or is stopped, the agent could\n"
	"not write the snapshot (its reason is printed), or no answer came in time.\n";

static bool parse_timeout(const char *command, const char *arg, void *value)
{
	char *end;
	errno = 0;
	double t = strtod(arg, &end);
	if (errno || end == arg || *end || !(t > 0) || !isfinite(t) || t > 1e6) {
		cli_usage_error(command, "--timeout needs a number of seconds greater than 0, "
				"not '%s'", arg);
		return false;
	}
	*(double *)value = t;
	return true;
}

double take_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* take_copy_file's copy: into dst itself, or into a temporary file beside
 * it, then renamed to it. */
static int copy_into(int in, const char *dst, bool in_place, char *why, size_t why_size)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(dst, '/');
	int n = slash ? snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - dst), dst, slash + 1)
		      : snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", dst);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(why, why_size, "%s", strerror(ENAMETOOLONG));
		return -1;
	}
	if (lseek(in, 0, SEEK_SET) < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	int out = in_place ? open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
			   : mkstemp(tmp);
	if (out < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
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
	if (rc == 0 && !in_place && (fsync(out) != 0 || fchmod(out, 0600) != 0))
		rc = -1;
	if (rc)
		snprintf(why, why_size, "%s", strerror(errno));
	if (close(out) != 0 && rc == 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && !in_place && rename(tmp, dst) != 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		rc = -1;
	}
	if (rc && !in_place)
		unlink(tmp);
	return rc;
}

/* For -o across file systems, or onto what is not a regular file. */
int take_copy_file(int in, const char *output, char *why, size_t why_size)
{
	bool in_place;
	char *real = asnap_output_dest(output, &in_place);
	if (!real && !in_place) {
		snprintf(why, why_size, "%s", strerror(ENOMEM));
		return -1;
	}
	const char *dst = in_place ? output : real;
	int rc = copy_into(in, dst, in_place, why, why_size);
	free(real);
	return rc;
}

/* The state letter of process pid (/proc/PID/stat field 3: R, S, D, T, t,
 * Z, ...), or 0 when it cannot be read. */
char take_process_state(long pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Whether process pid has a handler for signum (/proc/PID/status SigCgt):
 * 1, 0, or -1 when it cannot be read. */
static int catches_signal(long pid, int signum)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char line[256];
	int r = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mask;
		if (sscanf(line, "SigCgt: %llx", &mask) == 1) {
			r = signum >= 1 && signum <= 64 && (mask >> (signum - 1)) & 1;
			break;
		}
	}
	fclose(f);
	return r;
}

/* 32 hex digits from the kernel's random source. */
int take_make_nonce(char out[33])
{
	unsigned char raw[16];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}


void take_read_answer(const char *status, struct take_answer *a)
{
	char why[128];
	a->state = ANSWER_NONE;
	int fd = open(status, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	char *text = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid())
		text = live_read_small_file(fd, why, sizeof(why));
	close(fd);
	cJSON *j = text ? cJSON_Parse(text) : NULL;
	free(text);
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(j, "state");
	if (cJSON_IsString(state) && strcmp(state->valuestring, "taking") == 0) {
		a->state = ANSWER_TAKING;
	} else if (cJSON_IsString(state) && strcmp(state->valuestring, "failed") == 0) {
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "reason");
		snprintf(a->reason, sizeof(a->reason), "%s",
			 cJSON_IsString(r) ? r->valuestring : "no reason given");
		a->state = ANSWER_FAILED;
	} else if (cJSON_IsString(state) && strcmp(state->valuestring, "written") == 0) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "path");
		const cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "dev");
		const cJSON *ino = cJSON_GetObjectItemCaseSensitive(j, "ino");
		if (cJSON_IsString(p) && p->valuestring[0] == '/' &&
		    strlen(p->valuestring) < sizeof(a->path) && cJSON_IsNumber(dev) &&
		    cJSON_IsNumber(ino) && dev->valuedouble >= 0 && ino->valuedouble >= 0) {
			strcpy(a->path, p->valuestring);
			a->dev = (unsigned long long)dev->valuedouble;
			a->ino = (unsigned long long)ino->valuedouble;
			a->state = ANSWER_WRITTEN;
		}
	}
	cJSON_Delete(j);
}

enum take_wait take_await_answer(const char *status, long pid, long long start_ticks,
				 double start, double deadline, struct take_answer *ans,
				 char *state)
{
	for (unsigned round = 0;; round++) {
		take_read_answer(status, ans);
		if (ans->state == ANSWER_WRITTEN || ans->state == ANSWER_FAILED)
			return TAKE_ANSWERED;
		if (live_start_ticks(pid) != start_ticks)
			return TAKE_ENDED;
		*state = take_process_state(pid);
		if ((*state == 'T' || *state == 't') && take_now_s() - start >= 1.0)
			return TAKE_STOPPED;
		if (take_now_s() >= deadline)
			return TAKE_TIMEOUT;
		/* 5 ms at first, then 50 ms */
		struct timespec ts = {0, round < 40 ? 5000000L : 50000000L};
		nanosleep(&ts, NULL);
	}
}

#define FAIL(...)                                                                   \
	do {                                                                        \
		char msg_[2 * PATH_MAX + 1024];                                     \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                          \
		cli_error("cannot take a snapshot of process %ld: %s", pid, msg_); \
		rc = EXIT_ERROR;                                                    \
		goto out;                                                           \
	} while (0)

/*
 * Open the snapshot the answer names and check that it is the file the
 * agent wrote: a regular file of the target's user, mode 0600, the device
 * and inode the agent read from its own descriptor, changed after the
 * request was made. The open descriptor, or -1 with the reason in why.
 */
int take_open_answered(const struct take_answer *ans, uid_t uid, const struct timespec *requested,
			 char *why, size_t why_size)
{
	int fd = open(ans->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	struct stat st;
	const char *bad = NULL;
	if (fstat(fd, &st) != 0)
		bad = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		bad = "not a regular file";
	else if ((unsigned long long)st.st_dev != ans->dev ||
		 (unsigned long long)st.st_ino != ans->ino)
		bad = "not the file the agent wrote (another file was put in its place)";
	else if (st.st_uid != uid)
		bad = "owned by another user";
	else if ((st.st_mode & 07777) != 0600)
		bad = "its mode is not 0600";
	else if (st.st_ctim.tv_sec < requested->tv_sec - 1)
		bad = "older than the request";
	if (bad) {
		snprintf(why, why_size, "%s", bad);
		close(fd);
		return -1;
	}
	return fd;
}

/* Write the reason in msg: false, for the callers to return. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static bool say(char *msg, size_t msize, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msize, fmt, ap);
	va_end(ap);
	return false;
}

/* The agent registered for process pid (uid's) in the runtime directory
 * dir, checked: alive, its snapshot directory trusted, still catching its
 * signal. false with the reason in msg; *have: a is to be released. */
static bool registered_agent(long pid, uid_t uid, const char *dir, struct live_agent *a,
			     bool *have, char *msg, size_t msize)
{
	char reg[PATH_MAX + 32], why[512];
	struct stat st;
	snprintf(reg, sizeof(reg), "%s/%ld.json", dir, pid);
	/* the directory first: a planted one is named as such, not taken for
	 * "no agent" */
	if (lstat(dir, &st) == 0 && live_check_private_dir(dir, why, sizeof(why)) < 0)
		return say(msg, msize, "cannot use '%s': %s", dir, why);
	if (access(reg, F_OK) != 0)
		return say(msg, msize, "it has no asyncsnap agent (no '%s'): start it with "
			   "asyncsnap run, or call asyncsnap.install() in it", reg);
	if (live_agent_read(reg, a, why, sizeof(why)) < 0)
		return say(msg, msize, "cannot read '%s': %s", reg, why);
	*have = true;
	if (a->pid != pid || !live_agent_alive(a)) {
		live_remove_stale(dir, pid); /* the agent's process is gone */
		return say(msg, msize, "it has no asyncsnap agent (pid %ld was reused: the "
			   "registered process has ended)", pid);
	}
	if (!a->directory || a->directory[0] != '/')
		return say(msg, msize, "its registration '%s' names no snapshot directory",
			   reg);
	if (live_check_trusted_dir(a->directory, uid, why, sizeof(why)) < 0)
		return say(msg, msize, "cannot use its snapshot directory '%s': %s",
			   a->directory, why);
	if (catches_signal(pid, a->signum) == 0)
		return say(msg, msize, "it does not catch %s any more (the program has reset "
			   "that signal's handler): not signalled",
			   a->signal_name ? a->signal_name : "its signal");
	return true;
}

/* Move the checked snapshot (open as fd) to output. false with the reason
 * in msg. */
static bool move_to_output(const struct take_answer *ans, int fd, const char *output, char *msg,
			   size_t msize)
{
	char why[512];
	struct stat st;
	if (lstat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a device, a pipe or a link: copied into (or to the file the
		 * link names), never renamed over */
		if (take_copy_file(fd, output, why, sizeof(why)) < 0)
			return say(msg, msize, "cannot write '%s': %s (the snapshot is '%s')", output,
				   why, ans->path);
		unlink(ans->path);
	} else if (rename(ans->path, output) == 0) {
		/* the name may have been swapped between the check and the
		 * rename: what is now at output must be the checked file */
		if (lstat(output, &st) != 0 || (unsigned long long)st.st_dev != ans->dev ||
		    (unsigned long long)st.st_ino != ans->ino)
			return say(msg, msize, "'%s' was replaced while it was being moved to "
				   "'%s'; do not trust '%s'", ans->path, output, output);
	} else if (errno != EXDEV) {
		return say(msg, msize, "cannot write '%s': %s (the snapshot is '%s')", output,
			   strerror(errno), ans->path);
	} else if (take_copy_file(fd, output, why, sizeof(why)) < 0) {
		return say(msg, msize, "cannot write '%s': %s (the snapshot is '%s')", output,
			   why, ans->path);
	} else {
		unlink(ans->path);
	}
	return true;
}

static int take(long pid, const char *output, double timeout)
{
	char dir[PATH_MAX], why[512], msg[2 * PATH_MAX + 512];
	char request[PATH_MAX + 64] = "", status[PATH_MAX + 64] = "";
	struct stat st;
	char proc[64];
	struct live_agent a = {0};
	bool have_agent = false;
	int fd = -1, rc = EXIT_OK;

	long long ticks = live_start_ticks(pid);
	snprintf(proc, sizeof(proc), "/proc/%ld", pid);
	if (ticks < 0 || stat(proc, &st) != 0)
		FAIL("no such process");
	uid_t uid = st.st_uid;
	if (uid != getuid())
		FAIL("it belongs to another user (uid %u); only your own processes can be signalled",
		     (unsigned)uid);
	if (live_runtime_dir(dir, sizeof(dir)) < 0)
		FAIL("the runtime directory's name is too long");
	if (!registered_agent(pid, uid, dir, &a, &have_agent, msg, sizeof(msg)))
		FAIL("%s", msg);

	/* The request: a file only this user can make, with a name nobody can
	 * guess; the agent answers beside it. */
	char nonce[33];
	if (take_make_nonce(nonce) < 0)
		FAIL("cannot read random bytes: %s", strerror(errno));
	snprintf(request, sizeof(request), "%s/%ld-%s.request", dir, pid, nonce);
	snprintf(status, sizeof(status), "%s/%ld-%s.status", dir, pid, nonce);
	struct timespec requested;
	clock_gettime(CLOCK_REALTIME, &requested);
	int rfd = open(request, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (rfd < 0) {
		request[0] = '\0';
		FAIL("cannot write '%s/%ld-....request': %s", dir, pid, strerror(errno));
	}
	close(rfd);

	/* to the main thread (its tid is the pid): Python runs signal handlers
	 * there, and a signal that landed on another thread would wait until
	 * the main thread's event loop wakes up for something else. One
	 * signal, one snapshot: a busy agent keeps the request and serves it
	 * when it is done; nothing is ever sent twice. */
	if (syscall(SYS_tgkill, (pid_t)pid, (pid_t)pid, a.signum) != 0)
		FAIL("cannot signal it: %s", strerror(errno));

	double start = take_now_s(), deadline = start + timeout;
	struct take_answer ans = {0};
	char state = 0;
	switch (take_await_answer(status, pid, ticks, start, deadline, &ans, &state)) {
	case TAKE_ANSWERED:
		break;
	case TAKE_ENDED:
		FAIL(TAKE_ENDED_MSG);
	case TAKE_STOPPED:
		FAIL(TAKE_STOPPED_MSG, state == 'T' ? "by a signal" : "by a debugger", pid);
	case TAKE_TIMEOUT:
		if (ans.state == ANSWER_TAKING)
			FAIL(TAKE_UNFINISHED_MSG, timeout);
		FAIL("it has not answered in %g seconds: it has run no Python code since the "
		     "signal (its main thread is blocked or busy in C code), or it is still "
		     "finishing an earlier snapshot", timeout);
	}
	if (ans.state == ANSWER_FAILED)
		FAIL("the agent could not write it: %s", ans.reason);

	fd = take_open_answered(&ans, uid, &requested, why, sizeof(why));
	if (fd < 0)
		FAIL("'%s' is not the snapshot it wrote: %s; it is left alone", ans.path, why);
	if (output && !move_to_output(&ans, fd, output, msg, sizeof(msg)))
		FAIL("%s", msg);
	puts(output ? output : ans.path);
out:
	if (fd >= 0)
		close(fd);
	if (request[0])
		unlink(request); /* not claimed: nobody will now */
	if (status[0])
		unlink(status);
	if (have_agent)
		live_agent_release(&a);
	return rc;
}

/* Whether pid has the agent installed (a registration file of that very
 * process): then --attach takes the snapshot by its signal. */
static bool has_live_agent(long pid)
{
	char dir[PATH_MAX], reg[PATH_MAX + 32], why[256];
	struct live_agent a = {0};
	if (live_runtime_dir(dir, sizeof(dir)) < 0)
		return false;
	snprintf(reg, sizeof(reg), "%s/%ld.json", dir, pid);
	if (live_check_private_dir(dir, why, sizeof(why)) < 0 ||
	    live_agent_read(reg, &a, why, sizeof(why)) < 0)
		return false;
	bool alive = a.pid == pid && live_agent_alive(&a);
	live_agent_release(&a);
	return alive;
}

int cmd_take(int argc, char **argv)
{
	const char *output = NULL;
	double timeout = 60;
	bool attach = false, no_fork = false;
	const struct cli_opt opts[] = {
		CLI_STRING("output", 'o', "FILE", &output,
			   "move the snapshot to FILE (default: it stays in the process's snapshot "
			   "directory)"),
		CLI_FUNC("timeout", 0, "S", parse_timeout, &timeout,
			 "give up after S seconds (default 60)"),
		CLI_FLAG("attach", 0, &attach,
			 "the process has no agent: attach to it (CPython 3.14+: sys.remote_exec; "
			 "3.9-3.13: gdb) and make it import the agent and write one snapshot at a "
			 "safe point; the file goes to -o, else $ASYNCSNAP_DIR or the current "
			 "directory. A process that has the agent is signalled"),
		CLI_FLAG("no-fork", 0, &no_fork,
			 "with --attach: walk the heap in the process itself (the default forks, "
			 "as the signal handler does)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "take", .usage = usage, .about = about,
				      .opts = opts, .footer = footer, .min_operands = 1,
				      .missing = "a process id is required"};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	if (ops.n > 1)
		return cli_usage_error("take", "only one process id is allowed");
	if (output && !output[0])
		return cli_usage_error("take", "-o needs a file name");
	bool fork = !no_fork;
	const char *text = ops.v[0];
	char *end;
	errno = 0;
	long pid = strtol(text, &end, 10);
	if (errno || end == text || *end || pid < 1 || pid > INT_MAX || text[0] == '+' ||
	    text[0] == ' ')
		return cli_usage_error("take", "'%s' is not a process id", text);
	if (!fork && !attach)
		return cli_usage_error("take", "--no-fork goes with --attach (the agent's own "
				       "installation says whether it forks)");
	if (attach && !has_live_agent(pid))
		return take_attach(pid, output, timeout, fork);
	return take(pid, output, timeout);
}
