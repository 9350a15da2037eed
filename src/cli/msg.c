/*
 * msg.c - every message the asyncsnap command prints to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

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

void cli_file_error(const char *path, const struct asnap_error *err)
{
	cli_error("cannot read '%s': %s", path, err->message[0] ? err->message : "unknown error");
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

bool cli_parse_json_snapshot(const char *command, const char *help, int argc, char **argv,
			     bool *json, const char **path, int *status)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	*json = false;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 'h':
			fputs(help, stdout);
			*status = EXIT_OK;
			return false;
		default:
			*status = cli_usage_error(command, "unknown option '%s'", argv[optind - 1]);
			return false;
		}
	}
	if (optind != argc - 1) {
		*status = cli_usage_error(command, "%s",
					  optind == argc ? "a snapshot file is required"
							 : "only one snapshot file is allowed");
		return false;
	}
	*path = argv[optind];
	return true;
}
