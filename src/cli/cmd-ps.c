/*
 * cmd-ps.c - `asyncsnap ps`: the running processes of this user that have
 * the agent's signal handler installed, from the registration files in
 * the runtime directory. Files of processes that are gone (or whose pid
 * now belongs to another process) are removed.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/live.h"
#include "util/order.h"

static const char usage[] = "usage: asyncsnap ps [--all] [--json]\n";
static const char about[] =
	"List this user's running processes that have the asyncsnap agent installed\n"
	"(asyncsnap run, python -m asyncsnap run, or asyncsnap.install() in the code):\n"
	"pid, program, Python version, uptime, signal and snapshot directory. They are\n"
	"found by the registration files in $XDG_RUNTIME_DIR/asyncsnap (else\n"
	"/tmp/asyncsnap-UID); the files of processes that have ended are removed.\n"
	"\n"
	"With --all: every CPython process you may attach to (asyncsnap take --attach\n"
	"PID), with or without the agent: pid, Python version, whether the agent is\n"
	"there (signal: installed, with its handler; imported: loaded, by an earlier\n"
	"attach or the program; no), and the command line.\n";

struct row {
	struct live_agent a;
	double uptime;
};

static int by_uptime(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	int c = asnap_desc_f64(a->uptime, b->uptime);
	return c ? c : asnap_asc_i64(a->a.pid, b->a.pid);
}

static void format_uptime(char *buf, size_t size, double s)
{
	long t = (long)s;
	if (s < 0)
		snprintf(buf, size, "?");
	else if (t < 60)
		snprintf(buf, size, "%lds", t);
	else if (t < 3600)
		snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else
		snprintf(buf, size, "%ldd%02ldh", t / 86400, t / 3600 % 24);
}

static const char *or_dash(const char *s)
{
	return s && s[0] ? s : "-";
}

static int print_json(struct row *rows, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < n; i++) {
		const struct live_agent *a = &rows[i].a;
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o))
			goto oom;
		cJSON_AddNumberToObject(o, "pid", (double)a->pid);
		cJSON_AddStringToObject(o, "program", or_dash(a->program));
		cJSON_AddStringToObject(o, "python", or_dash(a->python));
		cJSON_AddNumberToObject(o, "uptime", rows[i].uptime < 0 ? 0 : (double)(long)rows[i].uptime);
		cJSON_AddNumberToObject(o, "signal", a->signum);
		cJSON_AddStringToObject(o, "signal_name", or_dash(a->signal_name));
		cJSON_AddStringToObject(o, "directory", a->directory);
		cJSON_AddBoolToObject(o, "fork", a->fork);
		if (a->executable)
			cJSON_AddStringToObject(o, "executable", a->executable);
		else
			cJSON_AddNullToObject(o, "executable");
		cJSON_AddStringToObject(o, "agent", or_dash(a->agent));
		cJSON *t = a->triggers_json ? cJSON_Parse(a->triggers_json) : cJSON_CreateObject();
		if (!t || !cJSON_AddItemToObject(o, "triggers", t))
			goto oom;
	}
	char *text = arr ? cJSON_Print(arr) : NULL;
	if (!text)
		goto oom;
	puts(text);
	free(text);
	cJSON_Delete(arr);
	return EXIT_OK;
oom:
	cJSON_Delete(arr);
	cli_error("out of memory");
	return EXIT_ERROR;
}

static void print_text(struct row *rows, size_t n)
{
	int wpid = 3, wprog = 7, wpy = 6, wup = 6, wsig = 6;
	char up[32];
	for (size_t i = 0; i < n; i++) {
		const struct live_agent *a = &rows[i].a;
		char pid[32];
		format_uptime(up, sizeof(up), rows[i].uptime);
		int l = snprintf(pid, sizeof(pid), "%ld", a->pid);
		wpid = l > wpid ? l : wpid;
		l = (int)strlen(or_dash(a->program));
		wprog = l > wprog ? l : wprog;
		l = (int)strlen(or_dash(a->python));
		wpy = l > wpy ? l : wpy;
		l = (int)strlen(up);
		wup = l > wup ? l : wup;
		l = (int)strlen(or_dash(a->signal_name));
		wsig = l > wsig ? l : wsig;
	}
	/* the fields come from registration files: never raw to a terminal */
	struct cli_safe_text safe;
	FILE *out = cli_safe_text(stdout, &safe);
	fprintf(out, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", wpid, "PID", wprog, "PROGRAM", wpy,
		"PYTHON", wup, "UPTIME", wsig, "SIGNAL", "DIRECTORY");
	for (size_t i = 0; i < n; i++) {
		const struct live_agent *a = &rows[i].a;
		format_uptime(up, sizeof(up), rows[i].uptime);
		fprintf(out, "%*ld  %-*s  %-*s  %*s  %-*s  %s\n", wpid, a->pid, wprog,
			or_dash(a->program), wpy, or_dash(a->python), wup, up, wsig,
			or_dash(a->signal_name), a->directory);
	}
	if (out != stdout)
		fclose(out);
}

/* One process of `ps --all`. */
struct any_row {
	long pid;
	char python[16];
	const char *agent; /* "signal", "imported", "no" */
	char program[512];
};

/* Whether the registration of pid in dir is there and its process alive. */
static bool registered(const char *dir, long pid)
{
	char reg[PATH_MAX + 32], why[256];
	struct live_agent a = {0};
	snprintf(reg, sizeof(reg), "%s/%ld.json", dir, pid);
	if (live_agent_read(reg, &a, why, sizeof(why)) < 0)
		return false;
	bool alive = a.pid == pid && live_agent_alive(&a);
	live_agent_release(&a);
	return alive;
}

static int ps_all(bool json)
{
	char dir[PATH_MAX], why[512];
	bool have_dir = live_runtime_dir(dir, sizeof(dir)) == 0 &&
			live_check_private_dir(dir, why, sizeof(why)) == 0;
	DIR *d = opendir("/proc");
	if (!d) {
		cli_error("ps: cannot read '/proc': %s", strerror(errno));
		return EXIT_ERROR;
	}
	struct any_row *rows = NULL;
	size_t n = 0, cap = 0;
	long self = (long)getpid();
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (!len || strspn(e->d_name, "0123456789") != len)
			continue;
		long pid = strtol(e->d_name, NULL, 10);
		char proc[64];
		struct stat st;
		snprintf(proc, sizeof(proc), "/proc/%ld", pid);
		/* yours (take --attach refuses the others), and traceable */
		if (pid == self || stat(proc, &st) != 0 || st.st_uid != getuid())
			continue;
		struct attach_target t;
		if (attach_may_trace(pid, st.st_uid, why, sizeof(why)) < 0 ||
		    attach_inspect(pid, &t, why, sizeof(why)) != ATTACH_INSPECT_OK)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			struct any_row *more = realloc(rows, cap * sizeof(*rows));
			if (!more) {
				free(rows);
				closedir(d);
				cli_error("out of memory");
				return EXIT_ERROR;
			}
			rows = more;
		}
		struct any_row *r = &rows[n++];
		r->pid = pid;
		if (t.major)
			snprintf(r->python, sizeof(r->python), "%d.%d%s", t.major, t.minor, t.abiflags);
		else
			snprintf(r->python, sizeof(r->python), "?");
		r->agent = have_dir && registered(dir, pid) ? "signal" : t.agent_loaded ? "imported"
											 : "no";
		attach_cmdline(pid, r->program, sizeof(r->program));
	}
	closedir(d);
	int status = EXIT_OK;
	if (json) {
		cJSON *arr = cJSON_CreateArray();
		for (size_t i = 0; arr && i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				break;
			}
			cJSON_AddNumberToObject(o, "pid", (double)rows[i].pid);
			cJSON_AddStringToObject(o, "python", rows[i].python);
			cJSON_AddStringToObject(o, "agent", rows[i].agent);
			cJSON_AddStringToObject(o, "program", rows[i].program);
		}
		char *text = arr ? cJSON_Print(arr) : NULL;
		if (text)
			puts(text);
		else
			status = EXIT_ERROR, cli_error("out of memory");
		free(text);
		cJSON_Delete(arr);
	} else {
		int wpid = 3;
		for (size_t i = 0; i < n; i++) {
			char p[32];
			int l = snprintf(p, sizeof(p), "%ld", rows[i].pid);
			wpid = l > wpid ? l : wpid;
		}
		/* command lines are the processes' own: never raw to a terminal */
		struct cli_safe_text safe;
		FILE *out = cli_safe_text(stdout, &safe);
		fprintf(out, "%-*s  %-6s  %-8s  %s\n", wpid, "PID", "PYTHON", "AGENT", "PROGRAM");
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%*ld  %-6s  %-8s  %s\n", wpid, rows[i].pid, rows[i].python,
				rows[i].agent, rows[i].program);
		if (out != stdout)
			fclose(out);
	}
	free(rows);
	return status;
}

int cmd_ps(int argc, char **argv)
{
	bool json = false, all = false;
	const struct cli_opt opts[] = {
		CLI_FLAG("all", 0, &all,
			 "every CPython process you may attach to (see above); with --json: "
			 "{\"pid\", \"python\", \"agent\", \"program\"}"),
		CLI_FLAG("json", 0, &json,
			 "one JSON array, oldest process first: {\"pid\", \"program\", \"python\", "
			 "\"uptime\" (seconds), \"signal\", \"signal_name\", \"directory\", \"fork\", "
			 "\"executable\", \"agent\", \"triggers\"}"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "ps", .usage = usage, .about = about, .opts = opts};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	if (ops.n)
		return cli_usage_error("ps", "unexpected argument '%s'", ops.v[0]);
	if (all)
		return ps_all(json);

	char dir[PATH_MAX], why[256];
	if (live_runtime_dir(dir, sizeof(dir)) < 0) {
		cli_error("ps: the runtime directory's name is too long");
		return EXIT_ERROR;
	}
	struct row *rows = NULL;
	size_t n = 0, cap = 0;
	int status = EXIT_OK;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			goto print; /* nobody has registered yet */
		cli_error("ps: cannot read '%s': %s", dir, strerror(errno));
		return EXIT_ERROR;
	}
	if (live_check_private_dir(dir, why, sizeof(why)) < 0) {
		closedir(d);
		cli_error("ps: cannot use '%s': %s", dir, why);
		return EXIT_ERROR;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0 ||
		    strspn(e->d_name, "0123456789") != len - 5)
			continue;
		char path[PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct row r = {0};
		if (live_agent_read(path, &r.a, why, sizeof(why)) < 0)
			continue; /* being written, or not ours: not a process to list */
		if (!live_agent_alive(&r.a)) {
			/* it ended without cleaning up (killed) */
			live_remove_stale(dir, strtol(e->d_name, NULL, 10));
			live_agent_release(&r.a);
			continue;
		}
		r.uptime = live_uptime(live_start_ticks(r.a.pid));
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			struct row *more = realloc(rows, cap * sizeof(*rows));
			if (!more) {
				live_agent_release(&r.a);
				cli_error("out of memory");
				status = EXIT_ERROR;
				break;
			}
			rows = more;
		}
		rows[n++] = r;
	}
	closedir(d);
print:
	if (status == EXIT_OK) {
		if (n)
			qsort(rows, n, sizeof(*rows), by_uptime);
		if (json)
			status = print_json(rows, n);
		else
			print_text(rows, n);
	}
	for (size_t i = 0; i < n; i++)
		live_agent_release(&rows[i].a);
	free(rows);
	return status;
}
