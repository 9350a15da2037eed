/*
 * live.h - what `run`, `ps` and `take` share about live processes: the
 * registration files agents write in the per-user runtime directory, the
 * start time that tells a reused pid, and signal names.
 */
#ifndef ASNAP_CLI_LIVE_H
#define ASNAP_CLI_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Where `run` and `take --attach` find the agent (the directory holding
 * asyncsnap/): $ASYNCSNAP_AGENT_PATH when set (then only there), else the
 * build tree's, else the installed package's - the first dir for which
 * found(dir, arg) is true, or NULL.
 */
const char *live_agent_dir(bool (*found)(const char *dir, void *arg), void *arg);

/* One registration file, as the agent wrote it (docs/AGENT.md). */
struct live_agent {
	long pid;
	long long start_ticks; /* /proc/PID/stat field 22; -1 when not recorded */
	double start_time;     /* seconds since the epoch; 0 when not recorded */
	int signum;
	bool fork;
	char *signal_name; /* the strings: caller frees with live_agent_release */
	char *directory;
	char *program;
	char *python;
	char *executable;
	char *agent;
	char *triggers_json; /* the "triggers" object as JSON text, or NULL */
};

/* $XDG_RUNTIME_DIR/asyncsnap when XDG_RUNTIME_DIR names an existing
 * directory, else /tmp/asyncsnap-UID: the agent's rule. -1 if too long. */
int live_runtime_dir(char *buf, size_t size);

/* Check that dir is a directory of this user that nobody else can use;
 * 0, or -1 with the reason in why. */
int live_check_private_dir(const char *dir, char *why, size_t why_size);

/* Check that dir (symbolic links followed) is a directory of owner or root
 * that nobody else can write in, or has the sticky bit (others cannot
 * replace what owner puts there): 0, or -1 with the reason in why. */
int live_check_trusted_dir(const char *dir, uid_t owner, char *why, size_t why_size);

/* The contents of the open file fd (at most 1 MiB), NUL-terminated, to be
 * freed; NULL with the reason in why. */
char *live_read_small_file(int fd, char *why, size_t why_size);

/* Read and parse a registration file: 0, or -1 with the reason in why. The
 * file must be a regular file of this user (not a symlink). */
int live_agent_read(const char *path, struct live_agent *a, char *why, size_t why_size);
void live_agent_release(struct live_agent *a);

/* The start time of process pid in clock ticks since boot, -1 if there is
 * no such process (or it cannot be read). */
long long live_start_ticks(long pid);
/* Seconds process pid has been running (from its start ticks), or -1. */
double live_uptime(long long start_ticks);

/* Whether the agent's process still runs: the pid exists and started when
 * the registration says (so a reused pid is not taken for it). */
bool live_agent_alive(const struct live_agent *a);

/* Remove what a process that ended without cleaning up left in the
 * runtime directory dir: its registration, `take` requests and answers. */
void live_remove_stale(const char *dir, long pid);

/* A signal number from a name (USR1, SIGUSR1, usr1, RTMIN+2) or a number;
 * -1 if unknown, -2 if it cannot be caught (KILL, STOP). */
int live_parse_signal(const char *text);

#endif
