/*
 * attach.h - what `take --attach` and `ps --all` know about a running
 * process that may have no agent: is it a CPython, which version, where
 * its C API functions are, may we attach to it.
 */
#ifndef ASNAP_CLI_ATTACH_H
#define ASNAP_CLI_ATTACH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The functions the attach calls in the target, in this order. */
enum attach_fn {
	FN_ADD_PENDING_CALL, /* Py_AddPendingCall: no GIL, no allocation */
	FN_RUN_SIMPLE_STRING, /* PyRun_SimpleString: the pending call */
	FN_GIL_CHECK,         /* PyGILState_Check */
	FN_GIL_ENSURE,        /* PyGILState_Ensure */
	FN_GIL_RELEASE,       /* PyGILState_Release */
	FN_MAKE_PENDING,      /* Py_MakePendingCalls */
	FN_PY_VERSION,        /* Py_Version (3.11+, data) */
	FN_PY_COUNT,
};

struct attach_target {
	long pid;
	uid_t uid;
	long long start_ticks;
	bool same_root;       /* it sees the same / as we do */
	char exe[PATH_MAX];   /* /proc/PID/exe, "" when unreadable */
	char python_file[PATH_MAX]; /* the file exporting the C API (exe or libpython) */
	int major, minor;     /* its Python version; 0 when unknown */
	char abiflags[8];     /* "", "d", "t", "td" */
	uint64_t fn[FN_PY_COUNT]; /* addresses in the target, 0 when absent */
	uint64_t mmap_fn;     /* libc's mmap in the target, 0 when not found */
	bool agent_loaded;    /* asyncsnap's extension is mapped in it */
};

enum {
	ATTACH_INSPECT_OK = 0,
	ATTACH_INSPECT_NOT_CPYTHON = 1,
};

/*
 * Read /proc/PID and the files it maps: ATTACH_INSPECT_OK for a CPython
 * (t filled), ATTACH_INSPECT_NOT_CPYTHON (why says what it is), or -1 with
 * the reason in why (no such process, its memory map unreadable).
 */
int attach_inspect(long pid, struct attach_target *t, char *why, size_t why_size);

/*
 * Whether this process may ptrace pid (the kernel's own check, made by
 * opening /proc/PID/mem, which changes nothing in the target): 0, or -1
 * with the reason in why (yama scope, another user's process, ...).
 */
int attach_may_trace(long pid, uid_t uid, char *why, size_t why_size);

/* The program of process pid for a listing: its command line, arguments
 * separated by spaces, cut to size. */
void attach_cmdline(long pid, char *buf, size_t size);

#endif
