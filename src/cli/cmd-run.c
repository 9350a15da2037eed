/*
 * cmd-run.c - `asyncsnap run [options] -- CMD...`: run a program with the
 * agent loaded and its signal handler installed, without changing it.
 *
 * The agent's bootstrap directory (asyncsnap/_boot, a sitecustomize.py)
 * goes first on PYTHONPATH, with the package's directory after it, and
 * environment variables say what to install; then CMD replaces this
 * process (execvp), so its exit status and its signals are its own.
 * Every Python that CMD starts (python app.py, python -m mod, a console
 * script such as uvicorn, a wrapper that starts python) loads the agent.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/live.h"

static const char usage[] = "usage: asyncsnap run [options] [--] COMMAND [ARGS...]\n";
static const char about[] =
	"Run COMMAND (python app.py, python -m module, uvicorn app:app, ...) with the\n"
	"asyncsnap agent loaded in every Python it starts and a snapshot taken each\n"
	"time the signal arrives. The program is not changed; the command becomes it\n"
	"(same pid), so its exit status and signals are its own.\n"
	"\n"
	"    asyncsnap run --dir /tmp/snaps -- python server.py --port 8080 &\n"
	"    asyncsnap ps                  # the processes with the agent\n"
	"    asyncsnap take PID            # one snapshot, its path printed\n";
static const char footer[] =
	"The agent is looked for in $ASYNCSNAP_AGENT_PATH, else the build tree, else\n"
	"the installed package; the interpreter must be the CPython it was built for.\n"
	"Python started with -S or -I loads no sitecustomize, hence no agent.\n"
	"\n"
	"Exit status: the program's; 2 for a usage error, 126 when COMMAND cannot be\n"
	"run, 127 when it is not found.\n";

/* DIR holds the agent: DIR/asyncsnap/_boot/sitecustomize.py exists. */
static bool has_agent(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/asyncsnap/_boot/sitecustomize.py", dir);
	return dir[0] && n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

static bool has_agent_at(const char *dir, void *arg)
{
	(void)arg;
	return has_agent(dir);
}

static const char *find_agent(void)
{
	return live_agent_dir(has_agent_at, NULL);
}

/* A positive number for OPTION: 0, or a usage error. */
static int positive(const char *option, const char *text, bool integer, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end || !(v > 0) || !isfinite(v) ||
	    (integer && (v != floor(v) || v > 1e9 || strpbrk(text, ".eExX"))))
		return cli_usage_error("run", "%s needs a%s number greater than 0, not '%s'", option,
				       integer ? "n integer" : "", text);
	*out = v;
	return 0;
}

/* The option callbacks (struct cli_opt): check, and keep the text. */
static bool opt_dir(const char *command, const char *arg, void *value)
{
	if (!arg[0]) {
		cli_usage_error(command, "--dir needs a directory");
		return false;
	}
	*(const char **)value = arg;
	return true;
}

static bool opt_signal(const char *command, const char *arg, void *value)
{
	int signum = live_parse_signal(arg);
	if (signum < 0) {
		cli_usage_error(command, signum == -2 ? "signal '%s' cannot be caught"
						      : "unknown signal '%s'", arg);
		return false;
	}
	*(int *)value = signum;
	return true;
}

static bool opt_seconds(const char *command, const char *arg, void *value)
{
	double ignored;
	(void)command;
	if (positive("--every", arg, false, &ignored))
		return false;
	*(const char **)value = arg;
	return true;
}

static bool opt_megabytes(const char *command, const char *arg, void *value)
{
	double ignored;
	(void)command;
	if (positive("--on-rss", arg, false, &ignored))
		return false;
	*(const char **)value = arg;
	return true;
}

static bool opt_tasks(const char *command, const char *arg, void *value)
{
	double ignored;
	(void)command;
	if (positive("--on-tasks", arg, true, &ignored))
		return false;
	*(const char **)value = arg;
	return true;
}

static bool opt_keep(const char *command, const char *arg, void *value)
{
	double ignored;
	(void)command;
	if (positive("--keep", arg, true, &ignored))
		return false;
	*(const char **)value = arg;
	return true;
}

static int set(const char *name, const char *value)
{
	if (setenv(name, value, 1) != 0) {
		cli_error("cannot set %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	const char *dir = NULL;
	const char *number_env[] = {"ASYNCSNAP_RUN_EVERY", "ASYNCSNAP_RUN_ON_TASKS",
				    "ASYNCSNAP_RUN_ON_RSS", "ASYNCSNAP_RUN_KEEP"};
	const char *numbers[4] = {NULL, NULL, NULL, NULL};
	int signum = SIGUSR1;
	bool no_fork = false;
	const struct cli_opt opts[] = {
		CLI_FUNC("dir", 0, "DIR", opt_dir, &dir,
			 "where the snapshots go: DIR/<prog>-<pid>-<seq>.snap (default: "
			 "$ASYNCSNAP_DIR, else the current directory)"),
		CLI_FUNC("signal", 0, "SIG", opt_signal, &signum,
			 "the signal: a name (USR1, SIGUSR2, RTMIN+1) or a number (default USR1)"),
		CLI_FLAG("no-fork", 0, &no_fork,
			 "walk the heap in the process itself (default: in a fork, the program "
			 "pauses for the fork alone)"),
		CLI_FUNC("every", 0, "S", opt_seconds, &numbers[0],
			 "also take a snapshot every S seconds"),
		CLI_FUNC("on-tasks", 0, "N", opt_tasks, &numbers[1],
			 "also take one when the number of pending asyncio tasks passes N, then "
			 "2N, 3N, ..."),
		CLI_FUNC("on-rss", 0, "MB", opt_megabytes, &numbers[2],
			 "also take one when the resident memory passes MB megabytes, then 2MB, "
			 "3MB, ..."),
		CLI_FUNC("keep", 0, "K", opt_keep, &numbers[3],
			 "keep only the newest K snapshots of each process in DIR"),
		CLI_END,
	};
	/* options end at the command's name, as they do at "--" */
	const struct cli_spec spec = {.name = "run", .usage = usage, .about = about, .opts = opts,
				      .footer = footer, .stop_at_operand = true,
				      .min_operands = 1, .missing = "a command to run is required"};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	bool fork_mode = !no_fork;

	const char *agent = find_agent();
	if (!agent) {
		const char *env = getenv("ASYNCSNAP_AGENT_PATH");
		if (env && env[0])
			cli_error("no agent in '%s' (ASYNCSNAP_AGENT_PATH): "
				  "asyncsnap/_boot/sitecustomize.py is missing", env);
		else
			cli_error("cannot find the agent: build it, install it, or set "
				  "ASYNCSNAP_AGENT_PATH to the directory that holds asyncsnap/");
		return EXIT_ERROR;
	}

	char abs_dir[PATH_MAX];
	if (dir) {
		struct stat st;
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			cli_error("cannot use '%s': %s", dir,
				  stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
			return EXIT_ERROR;
		}
		if (!realpath(dir, abs_dir)) {
			cli_error("cannot use '%s': %s", dir, strerror(errno));
			return EXIT_ERROR;
		}
		if (set("ASYNCSNAP_DIR", abs_dir))
			return EXIT_ERROR;
	}

	/* PYTHONPATH: boot directory, the package's directory, what was there */
	const char *old = getenv("PYTHONPATH");
	size_t size = 2 * strlen(agent) + (old ? strlen(old) : 0) + 32;
	char *path = malloc(size);
	if (!path) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	snprintf(path, size, "%s/asyncsnap/_boot:%s%s%s", agent, agent, old && old[0] ? ":" : "",
		 old && old[0] ? old : "");
	char sig[16];
	snprintf(sig, sizeof(sig), "%d", signum);
	int bad = set("PYTHONPATH", path) || set("ASYNCSNAP_RUN_SIGNAL", sig) ||
		  set("ASYNCSNAP_RUN_FORK", fork_mode ? "1" : "0");
	free(path);
	for (int i = 0; i < 4 && !bad; i++)
		bad = numbers[i] ? set(number_env[i], numbers[i]) : unsetenv(number_env[i]);
	if (bad)
		return EXIT_ERROR;

	fflush(stdout);
	execvp(ops.v[0], ops.v);
	int e = errno;
	cli_error("cannot run '%s': %s", ops.v[0], strerror(e));
	return e == ENOENT ? 127 : 126;
}
