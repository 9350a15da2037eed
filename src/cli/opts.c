/*
 * opts.c - a command's options from one table (cli.h, struct cli_spec):
 * parsing, range checks and the --help text come from the same entries,
 * so they cannot drift; the man page's lists are checked against --help
 * (tests/e2e/test_manpage.py, test_cli.py).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define OPTS_MAX 32
#define HELP_COLUMN_MAX 22 /* wider option names start their text below */
#define HELP_WIDTH 79      /* columns of the help text */

/* The options every command has, after its own. */
static const struct cli_opt max_memory_opt = {
	.name = "max-memory", .kind = CLI_OPT_FUNC, .arg = "SIZE",
	.help = "refuse a snapshot that needs more memory than SIZE\n"
		"(512M, 2G; default: 3/4 of the memory available)",
};
static const struct cli_opt help_opt = {
	.name = "help", .short_name = 'h', .kind = CLI_OPT_FLAG, .help = "show this help",
};

/* The command's table with the common options: into out, NULL-terminated. */
static size_t all_opts(const struct cli_spec *spec, const struct cli_opt **out)
{
	size_t n = 0;
	for (const struct cli_opt *o = spec->opts; o && o->name && n < OPTS_MAX - 3; o++)
		out[n++] = o;
	if (spec->snapshots)
		out[n++] = &max_memory_opt;
	out[n++] = &help_opt;
	out[n] = NULL;
	return n;
}

static size_t left_width(const struct cli_opt *o)
{
	size_t w = 2 + (o->short_name ? 4 : 0) + 2 + strlen(o->name);
	return o->arg ? w + 1 + strlen(o->arg) : w;
}

/*
 * text from column col to HELP_WIDTH, words wrapped, '\n' a forced break;
 * the cursor is at column at when it starts.
 */
static void print_wrapped(FILE *out, const char *text, size_t col, size_t at)
{
	size_t x = at;
	const char *p = text ? text : "";
	bool line_empty = true;
	while (*p) {
		if (*p == '\n') {
			fputc('\n', out);
			x = 0;
			line_empty = true;
			p++;
			continue;
		}
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t len = strcspn(p, " \n");
		if (!line_empty && x + 1 + len > HELP_WIDTH) {
			fputc('\n', out);
			x = 0;
			line_empty = true;
		}
		if (line_empty) {
			fprintf(out, "%*s", (int)(col > x ? col - x : 0), "");
			x = col > x ? col : x;
		} else {
			fputc(' ', out);
			x++;
		}
		fwrite(p, 1, len, out);
		x += len;
		p += len;
		line_empty = false;
	}
	fputc('\n', out);
}

void cli_help(const struct cli_spec *spec, FILE *out)
{
	const struct cli_opt *opts[OPTS_MAX];
	size_t n = all_opts(spec, opts), col = 0;
	for (size_t i = 0; i < n; i++) {
		size_t w = left_width(opts[i]) + 2;
		if (w <= HELP_COLUMN_MAX && w > col)
			col = w;
	}
	fputs(spec->usage, out);
	if (spec->about)
		fprintf(out, "\n%s", spec->about);
	if (spec->more)
		spec->more(out);
	fputs("\noptions:\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct cli_opt *o = opts[i];
		int w = o->short_name ? fprintf(out, "  -%c, --%s", o->short_name, o->name)
				      : fprintf(out, "  --%s", o->name);
		if (o->arg)
			w += fprintf(out, " %s", o->arg);
		if ((size_t)w + 2 > col) {
			fputc('\n', out);
			w = 0;
		}
		print_wrapped(out, o->help, col, (size_t)w);
	}
	if (spec->footer)
		fprintf(out, "\n%s", spec->footer);
}

/* One option's argument into its place; false when reported bad. */
static bool take_value(const struct cli_spec *spec, const struct cli_opt *o, const char *arg)
{
	char opt[64];
	snprintf(opt, sizeof(opt), "--%s", o->name);
	switch (o->kind) {
	case CLI_OPT_FLAG:
		*(bool *)o->value = true;
		return true;
	case CLI_OPT_STRING:
		*(const char **)o->value = arg;
		return true;
	case CLI_OPT_NUMBER:
		return cli_parse_count(spec->name, opt, arg, o->lo, o->hi, o->value);
	case CLI_OPT_FUNC:
		return o->fn ? o->fn(spec->name, arg, o->value) : true;
	}
	return false;
}

static bool parse(const struct cli_spec *spec, int argc, char **argv, struct cli_operands *ops,
		  int *status)
{
	const struct cli_opt *opts[OPTS_MAX];
	size_t n = all_opts(spec, opts);
	struct option longs[OPTS_MAX + 1];
	char shorts[2 * OPTS_MAX + 3] = "+:";
	size_t ns = 2;
	for (size_t i = 0; i < n; i++) {
		bool arg = opts[i]->kind != CLI_OPT_FLAG;
		/* val: the index + 256, above any short option's character */
		longs[i] = (struct option){opts[i]->name, arg ? required_argument : no_argument, NULL,
					   (int)(256 + i)};
		if (opts[i]->short_name) {
			shorts[ns++] = opts[i]->short_name;
			if (arg)
				shorts[ns++] = ':';
		}
	}
	longs[n] = (struct option){0};
	shorts[ns] = '\0';
	const char *optstring = spec->stop_at_operand ? shorts : shorts + 1;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, optstring, longs, NULL)) != -1) {
		const struct cli_opt *o = NULL;
		if (c >= 256 && (size_t)(c - 256) < n)
			o = opts[c - 256];
		for (size_t i = 0; !o && i < n && c > 0 && c < 256 && c != ':' && c != '?'; i++)
			if (opts[i]->short_name == c)
				o = opts[i];
		if (!o) {
			*status = cli_option_error(spec->name, c, argv);
			return false;
		}
		if (o == &help_opt) {
			cli_help(spec, stdout);
			*status = EXIT_OK;
			return false;
		}
		if (o == &max_memory_opt ? !cli_max_memory_option(spec->name, optarg)
					 : !take_value(spec, o, optarg)) {
			*status = EXIT_ERROR;
			return false;
		}
	}
	ops->v = argv + optind;
	ops->n = argc - optind;
	const char *why = NULL;
	if (ops->n < spec->min_operands)
		why = spec->missing ? spec->missing
		      : spec->min_operands > 1 ? "two or more snapshot files are required"
					       : "a snapshot file is required";
	else if (spec->max_operands > 0 && ops->n > spec->max_operands)
		why = spec->max_operands == 1 ? "only one snapshot file is allowed"
					      : "too many operands";
	if (why) {
		*status = cli_usage_error(spec->name, "%s", why);
		return false;
	}
	return true;
}

struct cli_operands cli_parse(const struct cli_spec *spec, int argc, char **argv)
{
	struct cli_operands ops = {0};
	ops.done = !parse(spec, argc, argv, &ops, &ops.status);
	return ops;
}
