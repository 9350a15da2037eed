/*
 * cli.h - shared pieces of the asyncsnap command: the command table's
 * entry type, exit codes, and the one place that writes messages to
 * stderr.
 */
#ifndef ASNAP_CLI_H
#define ASNAP_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "asyncsnap/error.h"

enum {
	EXIT_OK = 0,
	EXIT_FINDINGS = 1, /* `leaks` found something */
	EXIT_ERROR = 2,    /* usage or input error */
};

/* What a command reads, for its memory budget. */
enum cli_reads {
	CLI_READS_NOTHING,      /* no snapshot (run, ps, take) */
	CLI_READS_SNAPSHOTS,    /* snapshots, shown as they are (info, dump) */
	CLI_READS_AND_ANALYZES, /* snapshots, and the retention pipeline on them */
};

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	enum cli_reads reads;
};

/*
 * The memory budget (docs/ANALYZE.md "Memory budget"): a size as
 * --max-memory takes it (512M, 2G, 1.5GiB, 1048576: K, M, G, T are powers
 * of 1024, with or without "i" and "B"; at least one byte) into *out.
 */
bool cli_parse_size(const char *arg, uint64_t *out);
/* Three quarters of the memory available now (MemAvailable, a cgroup's
 * limit, RLIMIT_AS, whichever is least). */
uint64_t cli_default_budget(void);
/* Set the budget of a command that reads what `reads` says, from
 * ASYNCSNAP_MAX_MEMORY or the default, unless a --max-memory came first.
 * EXIT_OK, or EXIT_ERROR (reported) for a bad ASYNCSNAP_MAX_MEMORY. */
int cli_budget_init(enum cli_reads reads);
/* --max-memory ARG of a command: true, or false with the usage error
 * reported (the command returns EXIT_ERROR). */
bool cli_max_memory_option(const char *command, const char *arg);
/* getopt_long's value for --max-memory, in every command that reads
 * snapshots, and its entry for their option tables. */
#define CLI_OPT_MAX_MEMORY 0x100
#define CLI_MAX_MEMORY_OPTION {"max-memory", required_argument, NULL, CLI_OPT_MAX_MEMORY}

int cmd_info(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_dominators(int argc, char **argv);
int cmd_cycles(int argc, char **argv);
int cmd_path(int argc, char **argv);
int cmd_leaks(int argc, char **argv);
int cmd_tasks(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_take(int argc, char **argv);
int cmd_report(int argc, char **argv);

/*
 * A stream that writes to `to` with control characters and invalid UTF-8
 * escaped (\xHH, \u0080-\u009f), newlines and tabs kept: for every text
 * output that shows what a snapshot holds. `state` must outlive it; close
 * it with fclose (which flushes, and leaves `to` open). Returns `to` itself
 * if the stream cannot be made.
 */
struct cli_safe_text {
	void *opaque[4];
};
FILE *cli_safe_text(FILE *to, struct cli_safe_text *state);

/*
 * Show a command's result on standard output: PREFIX_json(out, view) with
 * --json, else PREFIX_text(out, view) through cli_safe_text (what a snapshot
 * holds never drives the terminal). A failure (the renderer's rc < 0, or
 * the close) is said as "out of memory". True when everything was written.
 */
#define CLI_SHOW(json, prefix, view)                                          \
	cli_show_end((json) ? prefix##_json(cli_show_begin(true), (view))     \
			    : prefix##_text(cli_show_begin(false), (view)))
FILE *cli_show_begin(bool json);
bool cli_show_end(int rc);

/* "asyncsnap: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "asyncsnap: warning: MESSAGE" on stderr. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * What the agent said was missing from the snapshot at path (the trailer's
 * "warnings": an _asyncio layout it did not know, ...), one
 * "asyncsnap: warning: PATH: MESSAGE" line each on stderr, escaped.
 */
struct asnap_graph;
void cli_snapshot_warnings(const struct asnap_graph *g, const char *path);
/* "asyncsnap: cannot read 'PATH': REASON" on stderr. */
void cli_file_error(const char *path, const struct asnap_error *err);
/* A usage error of a command: the message, then where to find help.
 * Returns EXIT_ERROR. */
int cli_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * The usage error for what getopt_long returned instead of an option (the
 * option string starts with ':', after any '+'): a missing value (c ':')
 * or an unknown option. Returns EXIT_ERROR.
 */
int cli_option_error(const char *command, int c, char **argv);
/*
 * A whole number from lo to hi given to an option into *out; if it is not
 * one, false with the usage error reported ("--top needs a number from 1 to
 * 100, not 'x'"), and the command returns EXIT_ERROR.
 */
bool cli_parse_count(const char *command, const char *option, const char *arg, unsigned long lo,
		     unsigned long hi, unsigned long *out);
/*
 * A command's options, one table: cli_parse() parses them (anywhere among
 * the operands; `--` ends them), checks ranges, and prints --help from the
 * same entries (cli_help), with --max-memory for the commands that read
 * snapshots and -h/--help for all. A NULL name ends the table.
 */
enum cli_opt_kind {
	CLI_OPT_FLAG,   /* --name: *(bool *)value = true */
	CLI_OPT_STRING, /* --name ARG: *(const char **)value = ARG */
	CLI_OPT_NUMBER, /* --name N: *(unsigned long *)value, from lo to hi */
	CLI_OPT_FUNC,   /* --name ARG: fn(command, ARG, value) checks and stores */
};
struct cli_opt {
	const char *name;      /* the long name, without "--" */
	char short_name;       /* or 0 */
	enum cli_opt_kind kind;
	const char *arg;       /* the argument's name in the help ("N", "FILE") */
	const char *help;      /* its help: words, wrapped to the terminal's 80
				* columns; '\n' forces a break */
	void *value;
	unsigned long lo, hi;  /* CLI_OPT_NUMBER */
	bool (*fn)(const char *command, const char *arg, void *value);
};
#define CLI_FLAG(NAME, SHORT, VALUE, HELP)                                          \
	{.name = (NAME), .short_name = (SHORT), .kind = CLI_OPT_FLAG, .help = (HELP),        \
	 .value = (VALUE)}
#define CLI_STRING(NAME, SHORT, ARG, VALUE, HELP)                                    \
	{.name = (NAME), .short_name = (SHORT), .kind = CLI_OPT_STRING, .arg = (ARG),        \
	 .help = (HELP), .value = (VALUE)}
#define CLI_NUMBER(NAME, ARG, LO, HI, VALUE, HELP)                                   \
	{.name = (NAME), .kind = CLI_OPT_NUMBER, .arg = (ARG), .help = (HELP),               \
	 .value = (VALUE), .lo = (LO), .hi = (HI)}
#define CLI_FUNC(NAME, SHORT, ARG, FN, VALUE, HELP)                                  \
	{.name = (NAME), .short_name = (SHORT), .kind = CLI_OPT_FUNC, .arg = (ARG),          \
	 .help = (HELP), .value = (VALUE), .fn = (FN)}
#define CLI_END {.name = NULL}

struct cli_spec {
	const char *name;      /* "dominators" */
	const char *usage;     /* "usage: ...\n" lines */
	const char *about;     /* what it does, before the options, or NULL */
	void (*more)(FILE *out); /* more of it, computed (leaks: the checks) */
	const struct cli_opt *opts;
	const char *footer;    /* after the options (exit status...), or NULL */
	bool snapshots;        /* it reads snapshots: --max-memory */
	bool stop_at_operand;  /* options end at the first operand (run CMD...) */
	int min_operands, max_operands; /* max 0: no limit */
	const char *missing;   /* the error when operands are missing, or NULL */
};
struct cli_operands {
	char **v;
	int n;
	bool done;  /* help printed, or a usage error reported: exit with status */
	int status;
};
/* The command's operands, or done with its exit status:
 *
 *	struct cli_operands ops = cli_parse(&spec, argc, argv);
 *	if (ops.done)
 *		return ops.status;
 */
struct cli_operands cli_parse(const struct cli_spec *spec, int argc, char **argv);
void cli_help(const struct cli_spec *spec, FILE *out);

/* Check that stdout took everything; EXIT_ERROR with a message if not. */
int cli_finish_output(int status);

/*
 * A command's output: standard output, or (-o FILE) a temporary file
 * beside FILE, mode 0600, renamed over it only when complete. A symbolic
 * link to a regular file: the file it names is replaced that way, the link
 * stays. What is not a regular file (/dev/null, a FIFO, /dev/stdout when
 * it is a pipe) and a link to nothing: FILE itself, written in place, as a
 * rename would replace the device node or the link. The rule is the
 * snapshot writer's: asnap_output_dest.
 */
struct cli_output {
	FILE *fp;         /* write here */
	const char *path; /* FILE, or NULL for standard output */
	char *tmp;        /* NULL for standard output and in place */
	char *dest;       /* what tmp is renamed to: FILE, or the file its link names */
};
/* 0, or -1 with the error reported. */
int cli_output_open(struct cli_output *o, const char *path);
/* A usage error (reported) if the output path names one of the n input
 * files (the same file, by device and inode): writing it would destroy
 * the snapshot being read. */
bool cli_output_is_input(const char *cmd, const char *path, char *const *inputs, size_t n);
/*
 * Finish: with ok, flush and (for a file) rename into place; without it
 * (the command failed and said why), remove the temporary file. EXIT_OK,
 * or EXIT_ERROR (reported) when not ok or the output could not be written.
 */
int cli_output_close(struct cli_output *o, bool ok);

#endif
