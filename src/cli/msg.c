/*
 * msg.c - every message the asyncsnap command prints to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "graph/graph.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("asyncsnap: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_warning(const char *fmt, ...)
{
	va_list ap;
	fputs("asyncsnap: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_snapshot_warnings(const struct asnap_graph *g, const char *path)
{
	cJSON *t = g->trailer_json ? cJSON_Parse(g->trailer_json) : NULL;
	const cJSON *w, *list = cJSON_GetObjectItemCaseSensitive(t, "warnings");
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(w, list) {
		if (!cJSON_IsString(w))
			continue;
		/* one line, whatever the file says */
		for (char *c = w->valuestring; *c; c++)
			if (*c == '\n' || *c == '\r' || *c == '\t')
				*c = ' ';
		fflush(stderr);
		struct cli_safe_text st;
		FILE *safe = cli_safe_text(stderr, &st);
		fprintf(safe, "asyncsnap: warning: %s: %s", path, w->valuestring);
		if (safe != stderr)
			fclose(safe);
		fputc('\n', stderr);
	}
	cJSON_Delete(t);
}

void cli_file_error(const char *path, const struct asnap_error *err)
{
	cli_error("cannot read '%s': %s%s", path, err->message[0] ? err->message : "unknown error",
		  err->status == ASNAP_ERR_BUDGET ? " (--max-memory)" : "");
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "asyncsnap%s%s: ", command ? " " : "", command ? command : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'asyncsnap%s%s --help'.\n", command ? " " : "", command ? command : "");
	return EXIT_ERROR;
}

int cli_finish_output(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("cannot write the output: %s", strerror(errno));
		return EXIT_ERROR;
	}
	return status;
}

bool cli_parse_snapshots(const char *command, const char *help, int argc, char **argv,
			 struct cli_args *a, int *status)
{
	static const struct option with_top[] = {
		{"json", no_argument, NULL, 'j'},
		{"top", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		CLI_MAX_MEMORY_OPTION,
		{0},
	};
	static const struct option without_top[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		CLI_MAX_MEMORY_OPTION,
		{0},
	};
	const struct option *opts = a->top_max ? with_top : without_top;
	int c;
	a->json = false;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			a->json = true;
			break;
		case 't':
			if (!cli_parse_count(command, "--top", optarg, 1, a->top_max, &a->top)) {
				*status = EXIT_ERROR;
				return false;
			}
			break;
		case CLI_OPT_MAX_MEMORY:
			if (!cli_max_memory_option(command, optarg)) {
				*status = EXIT_ERROR;
				return false;
			}
			break;
		case 'h':
			fputs(help, stdout);
			*status = EXIT_OK;
			return false;
		default:
			*status = cli_option_error(command, c, argv);
			return false;
		}
	}
	a->paths = argv + optind;
	a->npaths = argc - optind;
	if (a->npaths == 0 || (a->min_paths <= 1 && a->npaths > 1) || a->npaths < a->min_paths) {
		*status = cli_usage_error(command, "%s",
					  a->min_paths > 1 ? "two or more snapshot files are required"
					  : a->npaths == 0 ? "a snapshot file is required"
							   : "only one snapshot file is allowed");
		return false;
	}
	return true;
}

bool cli_parse_json_snapshot(const char *command, const char *help, int argc, char **argv,
			     bool *json, const char **path, int *status)
{
	struct cli_args a = {0};
	if (!cli_parse_snapshots(command, help, argc, argv, &a, status))
		return false;
	*json = a.json;
	*path = a.paths[0];
	return true;
}

int cli_option_error(const char *command, int c, char **argv)
{
	if (c == ':')
		return cli_usage_error(command, "option '%s' needs a value", argv[optind - 1]);
	return cli_usage_error(command, "unknown option '%s'", argv[optind - 1]);
}

bool cli_parse_count(const char *command, const char *option, const char *arg, unsigned long lo,
		     unsigned long hi, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < lo || v > hi) {
		cli_usage_error(command, "%s needs a number from %lu to %lu, not '%s'", option, lo, hi,
				arg);
		return false;
	}
	*out = v;
	return true;
}
