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

static void say(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("asyncsnap: ", fmt, ap);
	va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say("asyncsnap: warning: ", fmt, ap);
	va_end(ap);
}

void cli_snapshot_warnings(const struct asnap_graph *g, const char *path)
{
	const cJSON *w, *list = cJSON_GetObjectItemCaseSensitive(g->trailer, "warnings");
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(w, list) {
		if (!cJSON_IsString(w))
			continue;
		fflush(stderr);
		struct cli_safe_text st;
		FILE *safe = cli_safe_text(stderr, &st);
		fprintf(safe, "asyncsnap: warning: %s: ", path);
		/* one line, whatever the file says */
		for (const char *c = w->valuestring; *c; c++)
			fputc(*c == '\n' || *c == '\r' || *c == '\t' ? ' ' : *c, safe);
		if (safe != stderr)
			fclose(safe);
		fputc('\n', stderr);
	}
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
