/*
 * live.c - registration files, process start times and signal names for
 * the commands that talk to live processes (run, ps, take).
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/live.h"
#include "util/freeall.h"

#ifndef ASNAP_AGENT_BUILD_DIR
#define ASNAP_AGENT_BUILD_DIR ""
#endif
#ifndef ASNAP_AGENT_INSTALL_DIR
#define ASNAP_AGENT_INSTALL_DIR ""
#endif

const char *live_agent_dir(bool (*found)(const char *dir, void *arg), void *arg)
{
	const char *env = getenv("ASYNCSNAP_AGENT_PATH");
	if (env && env[0])
		return found(env, arg) ? env : NULL;
	if (ASNAP_AGENT_BUILD_DIR[0] && found(ASNAP_AGENT_BUILD_DIR, arg))
		return ASNAP_AGENT_BUILD_DIR;
	if (ASNAP_AGENT_INSTALL_DIR[0] && found(ASNAP_AGENT_INSTALL_DIR, arg))
		return ASNAP_AGENT_INSTALL_DIR;
	return NULL;
}

int live_runtime_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;
	if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(buf, size, "%s/asyncsnap", xdg);
	else
		n = snprintf(buf, size, "/tmp/asyncsnap-%u", (unsigned)getuid());
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int live_check_private_dir(const char *dir, char *why, size_t why_size)
{
	struct stat st;
	if (lstat(dir, &st) != 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	const char *what = S_ISLNK(st.st_mode)	   ? "a symbolic link"
			   : !S_ISDIR(st.st_mode)  ? "not a directory"
			   : st.st_uid != getuid() ? "another user's directory"
			   : (st.st_mode & 077)	   ? "a directory others can use"
						   : NULL;
	if (what) {
		snprintf(why, why_size, "it is %s (uid %u, mode %04o), not a private directory of "
			 "uid %u with mode 0700: someone else may have made it; do not trust it, "
			 "remove it", what, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			 (unsigned)getuid());
		return -1;
	}
	return 0;
}

int live_check_trusted_dir(const char *dir, uid_t owner, char *why, size_t why_size)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, why_size, "not a directory");
		return -1;
	}
	if (st.st_uid != owner && st.st_uid != 0) {
		snprintf(why, why_size, "it belongs to uid %u, not to uid %u (or root)",
			 (unsigned)st.st_uid, (unsigned)owner);
		return -1;
	}
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
		snprintf(why, why_size, "other users can write in it (mode %04o, no sticky bit): a "
			 "file planted there could pass for a snapshot; use a directory only you "
			 "can write (asyncsnap run --dir)", (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

char *live_read_small_file(int fd, char *why, size_t why_size)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		goto oom;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= (1u << 20)) {
				snprintf(why, why_size, "too large (over 1 MiB)");
				free(buf);
				return NULL;
			}
			char *bigger = realloc(buf, cap * 2);
			if (!bigger)
				goto oom;
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, why_size, "%s", strerror(errno));
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
oom:
	free(buf);
	snprintf(why, why_size, "out of memory");
	return NULL;
}

static char *json_string(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

int live_agent_read(const char *path, struct live_agent *a, char *why, size_t why_size)
{
	memset(a, 0, sizeof(*a));
	a->start_ticks = -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_size, "%s", strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != getuid()) {
		snprintf(why, why_size, "not a regular file of uid %u", (unsigned)getuid());
		close(fd);
		return -1;
	}
	char *text = live_read_small_file(fd, why, why_size);
	close(fd);
	if (!text)
		return -1;
	cJSON *j = cJSON_Parse(text);
	free(text);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(j, "signal");
	if (!cJSON_IsObject(j) || !cJSON_IsNumber(pid) || !cJSON_IsNumber(sig) || pid->valuedouble < 1 ||
	    pid->valuedouble > 4194304 /* PID_MAX_LIMIT */ || sig->valuedouble < 1 ||
	    sig->valuedouble > 64) {
		snprintf(why, why_size, "not a registration record (pid and signal)");
		cJSON_Delete(j);
		return -1;
	}
	a->pid = (long)pid->valuedouble;
	a->signum = (int)sig->valuedouble;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "process_start_ticks");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e18)
		a->start_ticks = (long long)v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(j, "process_start");
	if (cJSON_IsNumber(v))
		a->start_time = v->valuedouble;
	a->fork = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "fork"));
	a->signal_name = json_string(j, "signal_name");
	a->directory = json_string(j, "directory");
	a->program = json_string(j, "program");
	a->python = json_string(j, "python");
	a->executable = json_string(j, "executable");
	a->agent = json_string(j, "agent");
	v = cJSON_GetObjectItemCaseSensitive(j, "triggers");
	if (cJSON_IsObject(v))
		a->triggers_json = cJSON_PrintUnformatted(v);
	cJSON_Delete(j);
	if (!a->directory || a->directory[0] != '/') {
		snprintf(why, why_size, "not a registration record (no snapshot directory)");
		live_agent_release(a);
		return -1;
	}
	return 0;
}

void live_agent_release(struct live_agent *a)
{
	if (!a)
		return;
	asnap_free_all(a->signal_name, a->directory, a->program, a->python, a->executable, a->agent,
		       a->triggers_json);
	memset(a, 0, sizeof(*a));
	a->start_ticks = -1;
}

long long live_start_ticks(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name in parentheses may hold spaces and ')' itself:
	 * the fields start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* a zombie has ended: only its exit status is left to collect */
	if (p[0] == ' ' && (p[1] == 'Z' || p[1] == 'X'))
		return -1;
	/* p is before field 3 (state); field 22 is 19 fields further */
	for (int field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		if (!*p)
			return -1;
	}
	char *end;
	errno = 0;
	long long ticks = strtoll(p, &end, 10);
	return errno || end == p ? -1 : ticks;
}

static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	double btime = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "btime ", 6) == 0) {
			btime = strtod(line + 6, NULL);
			break;
		}
	fclose(f);
	return btime;
}

double live_uptime(long long start_ticks)
{
	FILE *f = fopen("/proc/uptime", "re");
	double up;
	if (!f)
		return -1;
	int ok = fscanf(f, "%lf", &up) == 1;
	fclose(f);
	long hz = sysconf(_SC_CLK_TCK);
	if (!ok || hz <= 0 || start_ticks < 0)
		return -1;
	double t = up - (double)start_ticks / (double)hz;
	return t < 0 ? 0 : t;
}

bool live_agent_alive(const struct live_agent *a)
{
	long long ticks = live_start_ticks(a->pid);
	if (ticks < 0)
		return false;
	if (a->start_ticks >= 0)
		return ticks == a->start_ticks;
	/* an older agent recorded the time only: the same formula as its */
	long hz = sysconf(_SC_CLK_TCK);
	double btime = boot_time();
	if (a->start_time <= 0 || btime < 0 || hz <= 0)
		return true;
	return fabs(btime + (double)ticks / (double)hz - a->start_time) < 0.5;
}

static const struct {
	const char *name;
	int signum;
} signal_names[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
	{"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},
	{"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
	{"CONT", SIGCONT}, {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU}, {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
	{"PWR", SIGPWR},   {"SYS", SIGSYS},
};

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int live_parse_signal(const char *text)
{
	long n;
	int signum = -1;
	const char *name = text;
	if (parse_int(text, 1, SIGRTMAX, &n) == 0) {
		signum = (int)n;
	} else {
		if (strncasecmp(name, "SIG", 3) == 0)
			name += 3;
		if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
			int base = strncasecmp(name, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
			const char *off = name + 5;
			if (!*off)
				signum = base;
			else if ((*off == '+' || *off == '-') && parse_int(off + 1, 0, 64, &n) == 0)
				signum = *off == '+' ? base + (int)n : base - (int)n;
			if (signum < SIGRTMIN || signum > SIGRTMAX)
				return -1;
		} else {
			for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
				if (strcasecmp(name, signal_names[i].name) == 0)
					signum = signal_names[i].signum;
		}
	}
	/* 32 and 33 belong to the C library's threads */
	if (signum < 1 || signum > SIGRTMAX || (signum > SIGSYS && signum < SIGRTMIN))
		return -1;
	if (signum == SIGKILL || signum == SIGSTOP)
		return -2;
	return signum;
}

void live_remove_stale(const char *dir, long pid)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%ld.json", dir, pid);
	unlink(path);
	DIR *d = opendir(dir);
	if (!d)
		return;
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "%ld-", pid);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, (size_t)n) != 0 ||
		    !((len > 8 && strcmp(e->d_name + len - 8, ".request") == 0) ||
		      (len > 7 && strcmp(e->d_name + len - 7, ".status") == 0)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}
