/*
 * attach.c - `asyncsnap take --attach PID`: a snapshot of a CPython process
 * that never loaded the agent (docs/AGENT.md "Attaching to a process
 * without the agent").
 *
 * The target runs a payload (generated here, see payload_text) that
 * imports the agent, takes one snapshot into a private directory and
 * answers through a status file, as the signal route's agent does:
 *
 *   3.14+     sys.remote_exec(PID, payload file) (PEP 768), run by the
 *             target's own interpreter: the target runs it at its next
 *             safe evaluation point, on the main thread, with the GIL.
 *   3.9-3.13  gdb in batch mode, with no symbols at all (the addresses
 *             come from the ELF files, elfsym.c, so gdb cannot call the
 *             target's malloc or anything else by name): while the target
 *             is stopped, libc's mmap (a system call, no lock, no
 *             allocation) makes a fresh page, gdb writes the payload's
 *             text into it, and Py_AddPendingCall(PyRun_SimpleString,
 *             page) queues it (no GIL needed, no allocation); then gdb
 *             detaches. The interpreter runs the pending call at its next
 *             eval-breaker check, on the main thread, with the GIL.
 *
 * The idle trap: a loop asleep in epoll_wait runs no bytecode, so neither
 * the pending call nor the remote script runs until something wakes it.
 * When the main thread is stopped inside a blocking wait (epoll_wait,
 * poll, select, their p-variants, nanosleep, clock_nanosleep) and
 * PyGILState_Check() says it does not hold the GIL, it is parked exactly
 * where another thread could run Python: gdb then makes it take the GIL
 * (PyGILState_Ensure), run the queued call (Py_MakePendingCalls) and give
 * the GIL back; the wait is restarted when gdb detaches. In any other
 * state nothing is forced: the command waits up to --timeout, then
 * withdraws the request (a payload that runs later finds no request and
 * does nothing) and says that the target ran no Python code.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/attach.h"
#include "cli/cli.h"
#include "cli/elfsym.h"
#include "cli/live.h"
#include "cli/take.h"
#include "util/freeall.h"

static const char *const fn_names[FN_PY_COUNT] = {
	"Py_AddPendingCall", "PyRun_SimpleString", "PyGILState_Check", "PyGILState_Ensure",
	"PyGILState_Release", "Py_MakePendingCalls", "Py_Version",
};

/* ------------------------------------------------------------------ */
/* inspecting the target */

static ssize_t read_link(const char *path, char *buf, size_t size)
{
	ssize_t n = readlink(path, buf, size - 1);
	if (n < 0 || (size_t)n >= size - 1) {
		buf[0] = '\0';
		return -1;
	}
	buf[n] = '\0';
	return n;
}

/* "libpython3.11.so.1.0" -> 3, 11, "" ; "libpython3.13t.so" -> "t" */
static bool libpython_version(const char *path, int *major, int *minor, char *flags, size_t fsize)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strncmp(base, "libpython", 9) != 0)
		return false;
	const char *p = base + 9;
	char *end;
	long ma = strtol(p, &end, 10);
	if (end == p || *end != '.')
		return false;
	p = end + 1;
	long mi = strtol(p, &end, 10);
	if (end == p)
		return false;
	size_t nf = strcspn(end, ".");
	if (nf >= fsize || strncmp(end + nf, ".so", 3) != 0)
		return false;
	memcpy(flags, end, nf);
	flags[nf] = '\0';
	*major = (int)ma;
	*minor = (int)mi;
	return true;
}

/* "python3.11", "python3.13t" -> version from an executable's name */
static bool exe_version(const char *path, int *major, int *minor, char *flags, size_t fsize)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	int ma, mi, n = 0;
	if (sscanf(base, "python%d.%d%n", &ma, &mi, &n) != 2)
		return false;
	size_t nf = strlen(base + n);
	if (nf >= fsize || strspn(base + n, "dt") != nf)
		return false;
	strcpy(flags, base + n);
	*major = ma;
	*minor = mi;
	return true;
}

struct mapping {
	char path[PATH_MAX];
	uint64_t start; /* of its mapping at file offset 0 */
};

/* The files process proc (/proc/PID) maps from offset 0 that matter: its
 * libpython, libc and executable (and whether our agent is loaded). 0, or
 * -1 with the reason in why. */
static int read_mappings(const char *proc, struct attach_target *t, struct mapping *libpy,
			 struct mapping *libc, struct mapping *exe, char *why, size_t why_size)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/maps", proc);
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(why, why_size, "cannot read its memory map: %s", strerror(errno));
		return -1;
	}
	char line[PATH_MAX + 256];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		char perms[8];
		int n = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &start, &end, perms, &off, &n) < 4)
			continue;
		char *file = line + n;
		while (*file == ' ')
			file++;
		file[strcspn(file, "\n")] = '\0';
		if (file[0] != '/')
			continue;
		if (strstr(file, "/asyncsnap/_agent."))
			t->agent_loaded = true;
		if (off != 0)
			continue;
		const char *base = strrchr(file, '/') + 1;
		struct mapping *m = NULL;
		int ma, mi;
		char fl[8];
		if (libpython_version(file, &ma, &mi, fl, sizeof(fl)))
			m = libpy;
		else if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0)
			m = libc;
		else if (strcmp(file, t->exe) == 0)
			m = exe;
		if (m && !m->path[0]) {
			snprintf(m->path, sizeof(m->path), "%s", file);
			m->start = start;
		}
	}
	fclose(f);
	return 0;
}

/* Its Python version: libpython's name, else Py_Version (3.11+) read from
 * its memory, else the executable's name. */
static void read_version(struct attach_target *t, const char *proc, const struct mapping *libpy)
{
	char path[PATH_MAX + 64];
	if (libpy->path[0]) {
		libpython_version(libpy->path, &t->major, &t->minor, t->abiflags, sizeof(t->abiflags));
	} else {
		bool known = false;
		if (t->fn[FN_PY_VERSION]) {
			snprintf(path, sizeof(path), "%s/mem", proc);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			uint32_t hex = 0;
			if (fd >= 0 && pread(fd, &hex, sizeof(hex), (off_t)t->fn[FN_PY_VERSION]) ==
					       (ssize_t)sizeof(hex) && (hex >> 24) == 3) {
				t->major = 3;
				t->minor = (int)((hex >> 16) & 0xff);
				known = true;
			}
			if (fd >= 0)
				close(fd);
		}
		int ma, mi;
		char fl[8] = "";
		if (exe_version(t->exe, &ma, &mi, fl, sizeof(fl))) {
			if (!known) {
				t->major = ma;
				t->minor = mi;
			}
			snprintf(t->abiflags, sizeof(t->abiflags), "%s", fl);
		}
	}
}

int attach_inspect(long pid, struct attach_target *t, char *why, size_t why_size)
{
	char proc[64], path[PATH_MAX + 64];
	struct stat st, root_st, our_root;
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->start_ticks = live_start_ticks(pid);
	snprintf(proc, sizeof(proc), "/proc/%ld", pid);
	if (t->start_ticks < 0 || stat(proc, &st) != 0) {
		snprintf(why, why_size, "no such process");
		return -1;
	}
	t->uid = st.st_uid;
	snprintf(path, sizeof(path), "%s/exe", proc);
	read_link(path, t->exe, sizeof(t->exe));
	snprintf(path, sizeof(path), "%s/root", proc);
	t->same_root = stat(path, &root_st) == 0 && stat("/", &our_root) == 0 &&
		       root_st.st_dev == our_root.st_dev && root_st.st_ino == our_root.st_ino;

	struct mapping libpy = {0}, libc = {0}, exe = {0};
	if (read_mappings(proc, t, &libpy, &libc, &exe, why, why_size) < 0)
		return -1;

	/* the files as this process can open them */
	char file_py[2 * PATH_MAX], file_c[2 * PATH_MAX];
	const struct mapping *py = libpy.path[0] ? &libpy : exe.path[0] ? &exe : NULL;
	if (!py) {
		snprintf(why, why_size, "it is not a CPython process (%s has no libpython "
			 "and is not mapped)", t->exe[0] ? t->exe : "its executable");
		return ATTACH_INSPECT_NOT_CPYTHON;
	}
	snprintf(file_py, sizeof(file_py), "%s%s%s", t->same_root ? "" : proc,
		 t->same_root ? "" : "/root", py->path);
	uint64_t values[FN_PY_COUNT], load;
	char ewhy[256];
	if (elfsym_lookup(file_py, fn_names, values, FN_PY_COUNT, &load, ewhy, sizeof(ewhy)) < 0 ||
	    !values[FN_ADD_PENDING_CALL] || !values[FN_RUN_SIMPLE_STRING]) {
		snprintf(why, why_size, "it is not a CPython process (%s exports no Python C API)",
			 t->exe[0] ? t->exe : py->path);
		return ATTACH_INSPECT_NOT_CPYTHON;
	}
	snprintf(t->python_file, sizeof(t->python_file), "%s", py->path);
	for (int i = 0; i < FN_PY_COUNT; i++)
		t->fn[i] = values[i] ? values[i] + py->start - load : 0;
	if (libc.path[0]) {
		snprintf(file_c, sizeof(file_c), "%s%s%s", t->same_root ? "" : proc,
			 t->same_root ? "" : "/root", libc.path);
		const char *mmap_name[] = {"mmap"};
		uint64_t v;
		if (elfsym_lookup(file_c, mmap_name, &v, 1, &load, ewhy, sizeof(ewhy)) == 0 && v)
			t->mmap_fn = v + libc.start - load;
	}

	read_version(t, proc, &libpy);
	return ATTACH_INSPECT_OK;
}

static int read_int_file(const char *path, long *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fscanf(f, "%ld", out) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

int attach_may_trace(long pid, uid_t uid, char *why, size_t why_size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	int err = errno;
	long scope = 0;
	bool yama = read_int_file("/proc/sys/kernel/yama/ptrace_scope", &scope) == 0;
	if (yama && scope >= 3)
		snprintf(why, why_size, "ptrace is not permitted: it is disabled on this system "
			 "(kernel.yama.ptrace_scope = 3, until the next boot)");
	else if (uid != getuid() && geteuid() != 0)
		snprintf(why, why_size, "ptrace is not permitted: it is another user's process (uid "
			 "%u); attach as that user", (unsigned)uid);
	else if (yama && scope == 2)
		snprintf(why, why_size, "ptrace is not permitted: only a process with "
			 "CAP_SYS_PTRACE may attach (kernel.yama.ptrace_scope = 2): run it as root");
	else if (yama && scope == 1)
		snprintf(why, why_size, "ptrace is not permitted: only a parent process may attach "
			 "(kernel.yama.ptrace_scope = 1): run it as root, or with CAP_SYS_PTRACE, or "
			 "set kernel.yama.ptrace_scope to 0");
	else
		snprintf(why, why_size, "ptrace is not permitted: %s (a process that changed its "
			 "user or is not dumpable needs CAP_SYS_PTRACE)", strerror(err));
	return -1;
}

void attach_cmdline(long pid, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
}

/* TracerPid of /proc/PID/status: 0 when nobody traces it. */
static long tracer_of(long pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	FILE *f = fopen(path, "re");
	long tracer = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %ld", &tracer) == 1)
			break;
	fclose(f);
	return tracer;
}

/* The environment or the command line of pid: NUL-separated, in a
 * malloc'd buffer (*len bytes, and a NUL after them), or NULL. */
static char *read_proc_list(long pid, const char *what, size_t *len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap) {
			char *more = cap < (1u << 24) ? realloc(buf, 2 * cap + 1) : NULL;
			if (!more) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = more;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

/* Whether the target's Python can have remote debugging switched off by
 * its environment or command line (PEP 768): the reason, or NULL. */
static const char *remote_debug_disabled(long pid)
{
	size_t n = 0;
	char *env = read_proc_list(pid, "environ", &n);
	const char *why = NULL;
	for (size_t i = 0; env && i < n; i += strlen(env + i) + 1)
		if (strncmp(env + i, "PYTHON_DISABLE_REMOTE_DEBUG=", 28) == 0 && env[i + 28])
			why = "its environment sets PYTHON_DISABLE_REMOTE_DEBUG";
	free(env);
	char *cmd = read_proc_list(pid, "cmdline", &n);
	/* the interpreter's options: up to the script, -c or -m */
	size_t i = cmd && n ? strlen(cmd) + 1 : n;
	while (!why && cmd && i < n) {
		const char *a = cmd + i;
		size_t next = i + strlen(a) + 1;
		if (a[0] != '-' || strcmp(a, "-c") == 0 || strcmp(a, "-m") == 0 ||
		    strcmp(a, "-") == 0 || strcmp(a, "--") == 0)
			break;
		const char *x = strcmp(a, "-X") == 0 ? (next < n ? cmd + next : "")
			      : strncmp(a, "-X", 2) == 0 ? a + 2 : NULL;
		if (x && strcmp(x, "disable_remote_debug") == 0)
			why = "it was started with -X disable_remote_debug";
		i = x && a[2] == '\0' && next < n ? next + strlen(cmd + next) + 1 : next;
	}
	free(cmd);
	return why;
}

/* ------------------------------------------------------------------ */
/* the agent the target imports */

/* dir/asyncsnap holds an _agent built for Python 3.minor with flags:
 * 1, 0 when it holds another's (its versions appended to built), -1 when
 * there is no agent in dir. */
static int agent_in(const char *dir, int minor, const char *flags, char *built, size_t bsize)
{
	char path[PATH_MAX + 32];
	if (!dir || !dir[0])
		return -1;
	snprintf(path, sizeof(path), "%s/asyncsnap/__init__.py", dir);
	if (access(path, R_OK) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/asyncsnap", dir);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	char want[64];
	snprintf(want, sizeof(want), "_agent.cpython-3%d%s-", minor, flags);
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "_agent.cpython-", 15) != 0 || len < 18 ||
		    strcmp(e->d_name + len - 3, ".so") != 0)
			continue;
		if (strncmp(e->d_name, want, strlen(want)) == 0) {
			found = 1;
			continue;
		}
		/* "_agent.cpython-311-x86_64..." -> "3.11" */
		const char *v = e->d_name + 15;
		size_t vl = strcspn(v, "-");
		if (vl >= 2 && vl < 8 && strlen(built) + vl + 4 < bsize) {
			if (built[0])
				strcat(built, ", ");
			strncat(built, v, 1);
			strcat(built, ".");
			strncat(built, v + 1, vl - 1);
		}
	}
	closedir(d);
	return found;
}

/* The directory holding an agent for the target's Python, or NULL; what
 * was found instead goes to built ("3.11, 3.12"). */
struct agent_for {
	const struct attach_target *t;
	char *built;
	size_t bsize;
};

static bool agent_for_target(const char *dir, void *arg)
{
	const struct agent_for *a = arg;
	return agent_in(dir, a->t->minor, a->t->abiflags, a->built, a->bsize) == 1;
}

static const char *our_agent(const struct attach_target *t, char *built, size_t bsize)
{
	struct agent_for a = {t, built, bsize};
	built[0] = '\0';
	return live_agent_dir(agent_for_target, &a);
}

/* Wait for child pid until deadline (CLOCK_MONOTONIC seconds): its wait
 * status, or -1 when the deadline passed (it is then killed). */
static int wait_until(pid_t child, double deadline)
{
	for (;;) {
		int ws;
		pid_t r = waitpid(child, &ws, WNOHANG);
		if (r == child)
			return ws;
		if (r < 0 && errno != EINTR)
			return -1;
		if (take_now_s() >= deadline) {
			kill(child, SIGKILL);
			waitpid(child, &ws, 0);
			return -1;
		}
		struct timespec ts = {0, 10000000L};
		nanosleep(&ts, NULL);
	}
}

/* Whether the target's own Python finds an importable asyncsnap: its
 * interpreter (as it was started: argv[0] keeps a virtualenv) is run with
 * its environment and working directory and asked. */
static bool has_own_agent(const struct attach_target *t)
{
	size_t nenv = 0, ncmd = 0;
	char *env = read_proc_list(t->pid, "environ", &nenv);
	char *cmd = read_proc_list(t->pid, "cmdline", &ncmd);
	char interp[PATH_MAX];
	snprintf(interp, sizeof(interp), "%s", t->exe);
	if (cmd && cmd[0] == '/' && access(cmd, X_OK) == 0)
		snprintf(interp, sizeof(interp), "%s", cmd);
	char *envp[512];
	size_t k = 0;
	for (size_t i = 0; env && i < nenv && k < 511; i += strlen(env + i) + 1)
		envp[k++] = env + i;
	envp[k] = NULL;
	char cwd[64];
	snprintf(cwd, sizeof(cwd), "/proc/%ld/cwd", t->pid);
	bool found = false;
	pid_t child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		if (chdir(cwd) != 0)
			_exit(4);
		char *argv[] = {interp, "-c",
				"import importlib.util as u, sys; "
				"sys.exit(0 if u.find_spec('asyncsnap') else 3)", NULL};
		execve(interp, argv, envp);
		_exit(5);
	}
	if (child > 0) {
		int ws = wait_until(child, take_now_s() + 20);
		found = ws >= 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
	}
	free(env);
	free(cmd);
	return found;
}

/* ------------------------------------------------------------------ */
/* the payload */

/* Paths go into Python and gdb source as plain quoted text. */
static bool plain_path(const char *p)
{
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/._-+=,:@%", *p))
			return false;
	return true;
}

/*
 * The Python the target runs. Its text is what PyRun_SimpleString gets (or
 * sys.remote_exec's file holds): one try statement that binds no name in
 * __main__ (whose namespace PyRun_SimpleString uses), looks up nothing
 * there but __import__, and never lets an exception out -- a pending call
 * that returns -1 would raise a SystemError in whatever code the target
 * was running. The payload proper runs in a namespace of its own, which
 * it clears when done (no reference cycle of its functions is left).
 */
static const char payload_fmt[] =
	"try:\n"
	" __import__('builtins').exec(r'''\n"
	"import os, sys\n"
	"PID = %ld\n"
	"REQUEST = '%s'\n"
	"STATUS = '%s'\n"
	"SNAPDIR = '%s'\n"
	"AGENT = '%s'\n"
	"PAYLOAD = '%s'\n"
	"FORK = %s\n"
	"\n"
	"def status(record):\n"
	"    tmp = '%%s.%%d.tmp' %% (STATUS, os.getpid())\n"
	"    try:\n"
	"        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW"
	" | os.O_CLOEXEC, 0o600)\n"
	"        try:\n"
	"            os.write(fd, __import__('json').dumps(record).encode())\n"
	"        finally:\n"
	"            os.close(fd)\n"
	"        os.replace(tmp, STATUS)\n"
	"    except (OSError, ValueError):\n"
	"        try:\n"
	"            os.unlink(tmp)\n"
	"        except OSError:\n"
	"            pass\n"
	"\n"
	"def forget():\n"
	"    for name in [n for n in sys.modules if n == 'asyncsnap'"
	" or n.startswith('asyncsnap.')]:\n"
	"        del sys.modules[name]\n"
	"\n"
	"def load():\n"
	"    mod = sys.modules.get('asyncsnap')\n"
	"    if mod is not None and hasattr(mod, '_take'):\n"
	"        return mod\n"
	"    path = list(sys.path)\n"
	"    cached = set(sys.path_importer_cache)\n"
	"    own = None\n"
	"    try:\n"
	"        from importlib.machinery import PathFinder\n"
	"        spec = PathFinder.find_spec('asyncsnap')\n"
	"        # (a directory named asyncsnap, as where snapshots go, is a\n"
	"        # namespace package: no loader, and not the agent)\n"
	"        if spec is not None and spec.loader is not None:\n"
	"            try:\n"
	"                import asyncsnap\n"
	"                if hasattr(asyncsnap, '_take'):\n"
	"                    return asyncsnap\n"
	"                own = ImportError('%%s is not the asyncsnap agent' %% spec.origin)\n"
	"            except ImportError as e:\n"
	"                own = e\n"
	"        forget()\n"
	"        if not AGENT:\n"
	"            raise own or ImportError('no asyncsnap agent is importable')\n"
	"        sys.path.insert(0, AGENT)\n"
	"        import asyncsnap\n"
	"        return asyncsnap\n"
	"    finally:\n"
	"        sys.path[:] = path\n"
	"        for key in set(sys.path_importer_cache) - cached:\n"
	"            if key == AGENT:\n"
	"                del sys.path_importer_cache[key]\n"
	"\n"
	"def main():\n"
	"    if os.getpid() != PID:\n"
	"        return\n"
	"    if PAYLOAD:\n"
	"        try:\n"
	"            os.unlink(PAYLOAD)\n"
	"        except OSError:\n"
	"            pass\n"
	"    try:\n"
	"        os.unlink(REQUEST)\n"
	"    except OSError:\n"
	"        try:\n"
	"            os.rmdir(os.path.dirname(REQUEST))\n"
	"        except OSError:\n"
	"            pass\n"
	"        return\n"
	"    status({'state': 'taking', 'pid': PID})\n"
	"    try:\n"
	"        mod = load()\n"
	"        collecting = getattr(mod._agent, 'gc_collecting', None)\n"
	"        if collecting is not None and collecting():\n"
	"            # run by Python code the collector called (a __del__, a\n"
	"            # weakref callback): no walk can start inside a collection;\n"
	"            # a thread takes the snapshot once it is over\n"
	"            __import__('_thread').start_new_thread(later, (mod, collecting))\n"
	"            return True\n"
	"    except BaseException as e:\n"
	"        failed(e)\n"
	"        return False\n"
	"    take(mod)\n"
	"    return False\n"
	"\n"
	"def take(mod):\n"
	"    try:\n"
	"        # an agent of an earlier build forks with os.fork(): it has this check\n"
	"        would_block = getattr(mod._trigger, '_fork_would_block', None)\n"
	"        if FORK and would_block is not None and would_block():\n"
	"            raise mod.SnapshotError('cannot fork now: concurrent.futures holds its"
	" shutdown lock (try again)')\n"
	"        mod._take(None, SNAPDIR, FORK, False, False, 0, True, STATUS)\n"
	"    except BaseException as e:\n"
	"        failed(e)\n"
	"\n"
	"def failed(e):\n"
	"    reason = str(e) if type(e).__name__ == 'SnapshotError' else"
	" ('%%s: %%s' %% (type(e).__name__, e))\n"
	"    status({'state': 'failed', 'reason': ' '.join(reason.split())})\n"
	"\n"
	"def later(mod, collecting):\n"
	"    try:\n"
	"        gc, sleep = __import__('gc'), __import__('time').sleep\n"
	"        was = gc.isenabled()\n"
	"        gc.disable()  # no other collection starts meanwhile\n"
	"        try:\n"
	"            # (as long as the signal handler puts a snapshot off)\n"
	"            for _ in range(mod._trigger._DEFER_MAX):\n"
	"                if not collecting():\n"
	"                    break\n"
	"                sleep(mod._trigger._DEFER_S)\n"
	"        finally:\n"
	"            if was:\n"
	"                gc.enable()\n"
	"        take(mod)\n"
	"    finally:\n"
	"        globals().clear()\n"
	"\n"
	"handed = False\n"
	"try:\n"
	"    handed = main()\n"
	"finally:\n"
	"    if not handed:\n"
	"        globals().clear()\n"
	"''', {'__name__': '__asyncsnap_attach__'})\n"
	"except BaseException:\n"
	" pass\n";

/* ------------------------------------------------------------------ */
/* running gdb and sys.remote_exec */

/* PATH lookup: the full path of name, or false. */
static bool find_program(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(out, size, "%.*s/%s", (int)len, len ? path : ".", name);
		if (access(out, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

/*
 * Run argv with its output (stdout and stderr) captured into out, until it
 * exits or deadline passes: then SIGINT (gdb: stop the target and unwind
 * any call into it, then detach), and SIGKILL 10 seconds later. The wait
 * status, or -1 when it was interrupted; *timed_out says which.
 */
static int run_tool(char *const argv[], double deadline, char *out, size_t size, bool *timed_out)
{
	int fds[2];
	size_t used = 0;
	out[0] = '\0';
	*timed_out = false;
	/*
	 * The tool gets our environment without LD_PRELOAD: what was preloaded
	 * into the analyzer (an allocator, a sanitizer runtime) is not meant
	 * for gdb, and a preloaded AddressSanitizer makes gdb hang on attach.
	 */
	size_t nenv = 0;
	while (environ[nenv])
		nenv++;
	char **env = calloc(nenv + 1, sizeof(*env));
	if (!env)
		return -1;
	for (size_t i = 0, j = 0; i < nenv; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[j++] = environ[i];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		free(env);
		return -1;
	}
	pid_t child = fork();
	if (child < 0) {
		close(fds[0]);
		close(fds[1]);
		free(env);
		return -1;
	}
	if (child == 0) {
		setpgid(0, 0); /* a ^C at the terminal is for us, not for gdb */
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execve(argv[0], argv, env);
		_exit(127);
	}
	free(env);
	close(fds[1]);
	bool interrupted = false;
	double kill_at = 0;
	for (;;) {
		double now = take_now_s();
		if (!interrupted && now >= deadline) {
			kill(child, SIGINT);
			interrupted = *timed_out = true;
			kill_at = now + 10;
		} else if (interrupted && now >= kill_at) {
			kill(child, SIGKILL);
			kill_at = now + 1e9;
		}
		struct pollfd p = {fds[0], POLLIN, 0};
		int r = poll(&p, 1, 50);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			char buf[4096];
			ssize_t n = read(fds[0], buf, sizeof(buf));
			if (n <= 0)
				break;
			size_t take = (size_t)n < size - 1 - used ? (size_t)n : size - 1 - used;
			memcpy(out + used, buf, take);
			used += take;
			out[used] = '\0';
		}
	}
	close(fds[0]);
	int ws;
	while (waitpid(child, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	return interrupted ? -1 : ws;
}

/* The value after "key " in gdb's output, or def. */
static long marker(const char *out, const char *key, long def)
{
	const char *p = strstr(out, key);
	if (!p)
		return def;
	return strtol(p + strlen(key), NULL, 10);
}

/* The last line of out that says what went wrong (gdb's error), cut. */
static void last_error_line(const char *out, char *why, size_t size)
{
	const char *best = NULL;
	size_t best_len = 0;
	for (const char *p = out; *p;) {
		size_t len = strcspn(p, "\n");
		if (len && strncmp(p, "ASNAP-", 6) != 0 && strncmp(p, "warning:", 8) != 0) {
			best = p;
			best_len = len;
		}
		p += len + (p[len] == '\n');
	}
	if (best)
		snprintf(why, size, "%.*s", (int)(best_len > 300 ? 300 : best_len), best);
	else
		snprintf(why, size, "no output");
}

/* The blocking waits a parked main thread may sit in (x86_64 numbers). */
static const char parked_syscalls[] =
	"$orig_rax == 232 || $orig_rax == 281 || $orig_rax == 441 || $orig_rax == 7 || "
	"$orig_rax == 271 || $orig_rax == 23 || $orig_rax == 270 || $orig_rax == 35 || "
	"$orig_rax == 230";

/* ------------------------------------------------------------------ */

/* One attach, from the checks to the snapshot in place: each step below
 * returns false with the reason in msg, and take_attach() prints it. */
struct attach_job {
	long pid;
	struct attach_target t;
	bool remote;          /* sys.remote_exec (3.14+), else gdb */
	bool use_fork;
	double timeout, start, deadline;
	const char *agent;    /* the agent directory it imports, NULL: its own */
	char built[128];      /* the Python this asyncsnap's agent is built for */
	char tool[PATH_MAX];  /* the target's python (remote) or gdb */
	char dir[PATH_MAX + 64];     /* private to this attach, "" until made */
	char request[PATH_MAX + 128];
	char status[PATH_MAX + 128];
	char payload[PATH_MAX + 128];
	struct timespec requested;
	char *text;           /* the payload */
	size_t len;
	char *out;            /* what the route's tool printed */
	bool woken;           /* gdb woke its parked main thread */
	bool keep_payload;    /* a remote script not run yet removes it itself */
	char msg[2 * PATH_MAX + 1024];
};

enum { TOOL_OUTPUT = 1 << 16 };

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static bool job_fail(struct attach_job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
	return false;
}

/* Remove dir and the files in it, but keep (and the directory with it). */
static void remove_tree(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char path[PATH_MAX + 300];
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
				if (!keep || strcmp(path, keep) != 0)
					unlink(path);
			}
		closedir(d);
	}
	if (!keep)
		rmdir(dir);
}

/* The attach directories in runtime of processes that have ended, left by
 * a remote script that never ran: removed. */
static void remove_stale_attaches(const char *runtime)
{
	DIR *d = opendir(runtime);
	if (!d)
		return;
	struct dirent *e;
	char path[PATH_MAX + 300];
	while ((e = readdir(d))) {
		long pid;
		if (sscanf(e->d_name, "attach-%ld-", &pid) != 1 || live_start_ticks(pid) >= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", runtime, e->d_name);
		remove_tree(path, NULL);
	}
	closedir(d);
}

/* Whether the target may be attached to, with the agent it will import:
 * every refusal before anything is written or the target touched. */
static bool check_target(struct attach_job *j)
{
	struct attach_target *t = &j->t;
	char why[1024];
	int r = attach_inspect(j->pid, t, why, sizeof(why));
	if (r < 0 && t->start_ticks < 0)
		return job_fail(j, "%s", why);
	if (t->uid != getuid())
		return job_fail(j, "%s", attach_may_trace(j->pid, t->uid, why, sizeof(why)) < 0
				? why
				: "it belongs to another user: attach as that user, so that it can "
				  "write its answer and snapshot where you can check them");
	if (attach_may_trace(j->pid, t->uid, why, sizeof(why)) < 0 || r < 0 ||
	    r == ATTACH_INSPECT_NOT_CPYTHON)
		return job_fail(j, "%s", why);
	long tracer = tracer_of(j->pid);
	if (tracer)
		return job_fail(j, "it is already being traced by process %ld (a debugger or "
				"profiler): ptrace allows one tracer", tracer);
	if (!t->same_root)
		return job_fail(j, "it runs in another root directory (a container or chroot): "
				"run asyncsnap take --attach inside it");
	if (!t->major)
		return job_fail(j, "cannot tell which Python version it runs (%s)", t->python_file);
	if (t->major != 3 || t->minor < 9 || t->minor > 15)
		return job_fail(j, "it runs Python %d.%d, which asyncsnap does not support "
				"(CPython 3.9 to 3.15)", t->major, t->minor);
	if (strchr(t->abiflags, 't'))
		return job_fail(j, "it runs a free-threaded Python %d.%d (%s), which asyncsnap "
				"does not support", t->major, t->minor, t->python_file);
	j->agent = our_agent(t, j->built, sizeof(j->built));
	if (!j->agent && !has_own_agent(t))
		return job_fail(j, "no asyncsnap agent for its Python %d.%d%s: it cannot import "
				"one, and this asyncsnap's agent is built for %s; install asyncsnap "
				"in its environment, or build this one for it (meson setup "
				"-Dpython=%s)", t->major, t->minor, t->abiflags,
				j->built[0] ? j->built : "no Python", t->exe);
	if (j->agent && !plain_path(j->agent))
		return job_fail(j, "the agent's directory '%s' has characters the attach cannot "
				"pass on", j->agent);
	return true;
}

/* The route and its tool, before anything is written. */
static bool find_route(struct attach_job *j)
{
	const struct attach_target *t = &j->t;
	j->remote = t->minor >= 14;
	if (j->remote) {
		const char *off = remote_debug_disabled(j->pid);
		if (off)
			return job_fail(j, "remote debugging is disabled in it: %s (PEP 768)", off);
		snprintf(j->tool, sizeof(j->tool), "%s", t->exe);
		return true;
	}
	if (!find_program("gdb", j->tool, sizeof(j->tool)))
		return job_fail(j, "gdb is not installed (Debian: apt-get install gdb): attaching "
				"to Python %d.%d needs it", t->major, t->minor);
	if (!t->mmap_fn || !t->fn[FN_GIL_CHECK] || !t->fn[FN_GIL_ENSURE] ||
	    !t->fn[FN_GIL_RELEASE] || !t->fn[FN_MAKE_PENDING])
		return job_fail(j, "cannot find libc's mmap or Python's C API functions in it");
	return true;
}

/* Write a new file of ours, 0600, that must not exist. */
static bool write_new_file(struct attach_job *j, const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return job_fail(j, "cannot write '%s': %s", path, strerror(errno));
	bool ok = write(fd, data, n) == (ssize_t)n;
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok)
		return job_fail(j, "cannot write '%s': %s", path, strerror(saved));
	return true;
}

/* A private directory for this attach, with the request and the payload
 * in it (the answer and the snapshot will be written there too). */
static bool make_request(struct attach_job *j)
{
	char runtime[PATH_MAX], why[1024];
	if (live_runtime_dir(runtime, sizeof(runtime)) < 0)
		return job_fail(j, "the runtime directory's name is too long");
	if (mkdir(runtime, 0700) != 0 && errno != EEXIST)
		return job_fail(j, "cannot make '%s': %s", runtime, strerror(errno));
	if (live_check_private_dir(runtime, why, sizeof(why)) < 0)
		return job_fail(j, "cannot use '%s': %s", runtime, why);
	if (!plain_path(runtime))
		return job_fail(j, "the runtime directory '%s' has characters the attach cannot "
				"pass on (set XDG_RUNTIME_DIR to a plain path)", runtime);
	remove_stale_attaches(runtime);
	snprintf(j->dir, sizeof(j->dir), "%s/attach-%ld-XXXXXX", runtime, j->pid);
	if (!mkdtemp(j->dir)) {
		j->dir[0] = '\0';
		return job_fail(j, "cannot make a directory in '%s': %s", runtime, strerror(errno));
	}
	char nonce[33];
	if (take_make_nonce(nonce) < 0)
		return job_fail(j, "cannot read random bytes: %s", strerror(errno));
	snprintf(j->request, sizeof(j->request), "%s/%s.request", j->dir, nonce);
	snprintf(j->status, sizeof(j->status), "%s/%s.status", j->dir, nonce);
	snprintf(j->payload, sizeof(j->payload), "%s/%s.py", j->dir, nonce);
	clock_gettime(CLOCK_REALTIME, &j->requested);
	if (!write_new_file(j, j->request, "", 0))
		return false;
	size_t cap = sizeof(payload_fmt) + 6 * PATH_MAX + 64;
	if (!(j->text = malloc(cap)))
		return job_fail(j, "out of memory");
	int len = snprintf(j->text, cap, payload_fmt, j->pid, j->request, j->status, j->dir,
			   j->agent ? j->agent : "", j->remote ? j->payload : "",
			   j->use_fork ? "True" : "False");
	if (len < 0 || (size_t)len >= cap)
		return job_fail(j, "the payload is too long");
	j->len = (size_t)len;
	/* the file the target (remote_exec) or gdb (restore) reads; with its
	 * NUL for the C string PyRun_SimpleString gets */
	return write_new_file(j, j->payload, j->text, j->len + !j->remote);
}

/* 3.14+: the target runs the payload at its next safe point (PEP 768). */
static bool run_remote_exec(struct attach_job *j)
{
	char pidtext[32], why[1024];
	bool timed_out = false;
	snprintf(pidtext, sizeof(pidtext), "%ld", j->pid);
	char *argv[] = {j->tool, "-I", "-c",
			"import sys; sys.remote_exec(int(sys.argv[1]), sys.argv[2])", pidtext,
			j->payload, NULL};
	int ws = run_tool(argv, j->deadline, j->out, TOOL_OUTPUT, &timed_out);
	if (timed_out)
		return job_fail(j, "sys.remote_exec did not return in %g seconds", j->timeout);
	if (ws < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		last_error_line(j->out, why, sizeof(why));
		return job_fail(j, "sys.remote_exec failed: %s", why);
	}
	return true;
}

/* The gdb script: map a fresh page (the target's malloc is never called
 * while it is stopped), copy the payload into it and queue it as a pending
 * call, run at the next safe point with the GIL. A main thread parked in a
 * blocking wait with the GIL released is woken by making the call pending
 * under the GIL state API (x86_64). */
static bool write_gdb_script(struct attach_job *j, const char *path)
{
	const struct attach_target *t = &j->t;
	size_t pages = (j->len + 1 + 4095) / 4096 * 4096;
	char script[4096 + PATH_MAX];
	int n = snprintf(script, sizeof(script),
		"set pagination off\n"
		"set confirm off\n"
		"set width 0\n"
		"set unwindonsignal on\n"
		"set print thread-events off\n"
		"set print inferior-events off\n"
		"handle all nostop noprint pass\n"
		"handle SIGINT stop print nopass\n"
		"attach %ld\n"
		"echo ASNAP-ATTACHED\\n\n"
		"set $asnap_page = ((void *(*)(void *, unsigned long, int, int, int, long))0x%llx)"
		"(0, %zu, 3, 0x22, -1, 0)\n"
		"printf \"ASNAP-PAGE %%ld\\n\", (long)$asnap_page\n"
		"if (long)$asnap_page != -1\n"
		"  restore %s binary $asnap_page\n"
		"  set $asnap_rc = ((int (*)(void *, void *))0x%llx)((void *)0x%llx, $asnap_page)\n"
		"  printf \"ASNAP-QUEUED %%d\\n\", $asnap_rc\n"
#if defined(__x86_64__)
		"  printf \"ASNAP-SYSCALL %%ld\\n\", (long)$orig_rax\n"
		"  if $asnap_rc == 0 && (%s)\n"
		"    set $asnap_held = ((int (*)(void))0x%llx)()\n"
		"    printf \"ASNAP-GIL %%d\\n\", $asnap_held\n"
		"    if $asnap_held == 0\n"
		"      set $asnap_g = ((int (*)(void))0x%llx)()\n"
		"      set $asnap_m = ((int (*)(void))0x%llx)()\n"
		"      call ((void (*)(int))0x%llx)($asnap_g)\n"
		"      printf \"ASNAP-WOKEN %%d\\n\", $asnap_m\n"
		"    end\n"
		"  end\n"
#endif
		"end\n"
		"detach\n"
		"echo ASNAP-DETACHED\\n\n",
		j->pid, (unsigned long long)t->mmap_fn, pages, j->payload,
		(unsigned long long)t->fn[FN_ADD_PENDING_CALL],
		(unsigned long long)t->fn[FN_RUN_SIMPLE_STRING]
#if defined(__x86_64__)
		, parked_syscalls, (unsigned long long)t->fn[FN_GIL_CHECK],
		(unsigned long long)t->fn[FN_GIL_ENSURE],
		(unsigned long long)t->fn[FN_MAKE_PENDING],
		(unsigned long long)t->fn[FN_GIL_RELEASE]
#endif
		);
	if (n < 0 || (size_t)n >= sizeof(script))
		return job_fail(j, "cannot write '%s': the script is too long", path);
	return write_new_file(j, path, script, (size_t)n);
}

/* 3.9-3.13: gdb runs the script, and what it printed says how it went. */
static bool run_gdb(struct attach_job *j)
{
	char script_path[PATH_MAX + 128], why[1024];
	snprintf(script_path, sizeof(script_path), "%s/gdb.cmd", j->dir);
	if (!write_gdb_script(j, script_path))
		return false;
	/* No shared library symbols, no libthread_db, no auto-loaded scripts:
	 * nothing to read while the target is stopped, and nothing gdb could
	 * call by name. gdb first attaches to a sleeping child of ours and
	 * detaches: what it does once per session on its first attach (ptrace
	 * feature probes, a test fork) then happens before the target is
	 * stopped, which roughly halves the target's pause. Its errors do not
	 * stop the script (-ex). */
	pid_t dummy = fork();
	if (dummy == 0) {
		for (;;)
			pause();
	}
	char warm[64];
	snprintf(warm, sizeof(warm), "attach %ld", (long)dummy);
	char *argv[] = {j->tool, "-nx", "-nh", "-batch", "-q",
			"-iex", "set debuginfod enabled off",
			"-iex", "set auto-solib-add off",
			"-iex", "set auto-load off",
			"-iex", "set libthread-db-search-path /nonexistent",
			"-iex", "set exec-file-mismatch reload",
			"-ex", dummy > 0 ? warm : "echo",
			"-ex", dummy > 0 ? "detach" : "echo",
			"-x", script_path, NULL};
	bool timed_out = false;
	(void)run_tool(argv, j->deadline, j->out, TOOL_OUTPUT, &timed_out);
	if (dummy > 0) {
		kill(dummy, SIGKILL);
		while (waitpid(dummy, NULL, 0) < 0 && errno == EINTR)
			;
	}
	const char *out = j->out;
	long queued = marker(out, "ASNAP-QUEUED ", -2);
	if (!strstr(out, "ASNAP-ATTACHED")) {
		last_error_line(out, why, sizeof(why));
		return job_fail(j, "gdb could not attach to it: %s", why);
	}
	if (timed_out && !strstr(out, "ASNAP-DETACHED"))
		return job_fail(j, "gdb did not finish in %g seconds (the target was stopped, and "
				"left as it was); %s", j->timeout,
				strstr(out, "ASNAP-GIL 0") ? "another thread held the GIL the whole "
							     "time" : "try a longer --timeout");
	if (marker(out, "ASNAP-PAGE ", -1) == -1)
		return job_fail(j, "gdb could not map a page in it for the payload");
	if (queued == -1)
		return job_fail(j, "its pending-call queue is full (Py_AddPendingCall failed): "
				"try again");
	if (queued != 0 || !strstr(out, "ASNAP-DETACHED")) {
		last_error_line(out, why, sizeof(why));
		return job_fail(j, "gdb failed: %s", why);
	}
	j->woken = strstr(out, "ASNAP-WOKEN") != NULL;
	return true;
}

/* Wait for the agent's answer; *fd: the snapshot it wrote, checked. */
static bool await_answer(struct attach_job *j, struct take_answer *ans, int *fd)
{
	char why[1024], state = 0;
	switch (take_await_answer(j->status, j->pid, j->t.start_ticks, j->start, j->deadline, ans,
				  &state)) {
	case TAKE_ANSWERED:
		break;
	case TAKE_ENDED:
		return job_fail(j, TAKE_ENDED_MSG);
	case TAKE_STOPPED:
		return job_fail(j, TAKE_STOPPED_MSG, state == 'T' ? "by a signal" : "by a debugger",
				j->pid);
	case TAKE_TIMEOUT:
		j->keep_payload = j->remote && ans->state == ANSWER_NONE;
		if (ans->state == ANSWER_TAKING)
			return job_fail(j, TAKE_UNFINISHED_MSG, j->timeout);
		return job_fail(j, "it has run no Python code in the %g seconds since the attach: "
				"it is idle in a wait the attach cannot wake safely, or busy or "
				"blocked in C code%s; the request is withdrawn (nothing will be "
				"written)", j->timeout,
				j->woken || j->remote ? "" : " (its main thread was not parked in a "
							     "wait with the GIL released)");
	}
	if (ans->state == ANSWER_FAILED)
		return job_fail(j, "the agent could not write it: %s", ans->reason);
	*fd = take_open_answered(ans, getuid(), &j->requested, why, sizeof(why));
	if (*fd < 0)
		return job_fail(j, "'%s' is not the snapshot it wrote: %s", ans->path, why);
	size_t dl = strlen(j->dir);
	if (strncmp(ans->path, j->dir, dl) != 0 || ans->path[dl] != '/')
		return job_fail(j, "the agent wrote '%s', outside '%s'", ans->path, j->dir);
	return true;
}

/* The snapshot to -o FILE, or beside us under the agent's name; its name
 * on standard output. */
static bool deliver(struct attach_job *j, const struct take_answer *ans, int fd,
		    const char *output)
{
	char dest[PATH_MAX + 300], why[1024];
	if (output) {
		snprintf(dest, sizeof(dest), "%s", output);
	} else {
		const char *d = getenv("ASYNCSNAP_DIR");
		const char *base = strrchr(ans->path, '/') + 1;
		snprintf(dest, sizeof(dest), "%s/%s", d && d[0] ? d : ".", base);
	}
	if (!output && access(dest, F_OK) == 0)
		return job_fail(j, "'%s' exists already: name another file with -o", dest);
	struct stat st;
	if (lstat(dest, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a device, a pipe or a link: copied into (or to the file the
		 * link names), never renamed over */
		if (take_copy_file(fd, dest, why, sizeof(why)) < 0)
			return job_fail(j, "cannot write '%s': %s", dest, why);
		unlink(ans->path);
	} else if (rename(ans->path, dest) != 0) {
		if (errno != EXDEV)
			return job_fail(j, "cannot write '%s': %s", dest, strerror(errno));
		if (take_copy_file(fd, dest, why, sizeof(why)) < 0)
			return job_fail(j, "cannot write '%s': %s", dest, why);
	}
	puts(output ? output : (strncmp(dest, "./", 2) == 0 ? dest + 2 : dest));
	return true;
}

int take_attach(long pid, const char *output, double timeout, bool use_fork)
{
	struct attach_job *j = calloc(1, sizeof(*j));
	if (!j) {
		cli_error("cannot take a snapshot of process %ld: out of memory", pid);
		return EXIT_ERROR;
	}
	j->pid = pid;
	j->use_fork = use_fork;
	j->timeout = timeout;
	j->start = take_now_s();
	j->deadline = j->start + timeout;
	struct take_answer ans = {0};
	int fd = -1;
	bool ok = check_target(j) && find_route(j) && make_request(j) &&
		  ((j->out = malloc(TOOL_OUTPUT)) != NULL || job_fail(j, "out of memory")) &&
		  (j->remote ? run_remote_exec(j) : run_gdb(j)) && await_answer(j, &ans, &fd) &&
		  deliver(j, &ans, fd, output);
	if (!ok)
		cli_error("cannot take a snapshot of process %ld: %s", pid, j->msg);
	if (fd >= 0)
		close(fd);
	/* the request too: a payload that runs later does nothing. A remote
	 * script not run yet keeps its file (3.14 would print an error for a
	 * missing one when it wakes up): it removes it, and the directory */
	if (j->dir[0])
		remove_tree(j->dir, j->keep_payload ? j->payload : NULL);
	asnap_free_all(j->text, j->out, j);
	return ok ? EXIT_OK : EXIT_ERROR;
}
