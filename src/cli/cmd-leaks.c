/*
 * cmd-leaks.c - `asyncsnap leaks SNAP [SNAP ...]`: the five checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/leaks.h"

static const char usage[] =
	"usage: asyncsnap leaks [--json] [--check NAME,...] [--rules FILE] [--show N] SNAP [SNAP ...]\n";
static const char about[] =
	"Run the leak checks on snapshots of one program, oldest first, and print\n"
	"the findings: for each, the check, what is wrong, how many objects, the\n"
	"bytes they retain, the objects (worst first), the chain of references that\n"
	"keeps the worst alive, its growth per snapshot, and how to fix it. With one\n"
	"snapshot only what is certain from it is reported; with two or more, also\n"
	"what persists and grows. Exit status 1 when there are findings.\n";
static const char footer[] = "exit status: 0 no finding, 1 findings, 2 usage or input error\n";

/* The checks, from their own table. */
static void print_checks(FILE *out)
{
	fputs("\nchecks (docs/CHECKS.md):\n", out);
	for (int c = 0; c < ASNAP_NCHECKS; c++)
		fprintf(out, "  %-20s %s\n", asnap_check_name(c), asnap_check_what(c));
}

static bool parse_checks(const char *command, const char *list, void *value)
{
	(void)command;
	uint32_t *mask = value;
	*mask = 0;
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int c = asnap_check_by_name(p, len);
		if (c < 0) {
			cli_usage_error("leaks", "unknown check '%.*s'", (int)len, p);
			return false;
		}
		*mask |= 1u << c;
		p += len;
		if (*p == ',')
			p++;
	}
	if (!*mask) {
		cli_usage_error("leaks", "--check needs at least one check name");
		return false;
	}
	return true;
}

int cmd_leaks(int argc, char **argv)
{
	bool json = false;
	const char *rules_path = NULL;
	uint32_t mask = ASNAP_CHECKS_ALL;
	unsigned long show = 5;
	const struct cli_opt opts[] = {
		CLI_FLAG("json", 0, &json,
			 "{\"findings\": [{\"check\", \"summary\", \"count\", \"retained\", "
			 "\"objects\", \"path\", ...}]} (docs/CHECKS.md)"),
		CLI_FUNC("check", 0, "LIST", parse_checks, &mask,
			 "run only these checks (comma-separated names)"),
		CLI_STRING("rules", 0, "FILE", &rules_path,
			   "rules added to the built-in ones: resources and pools for "
			   "unclosed-resource, registries of callbacks for pending-future (JSON, "
			   "docs/CHECKS.md)"),
		CLI_NUMBER("show", "N", 0, 1000000, &show,
			   "objects listed per finding in the text form (default 5)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "leaks", .usage = usage, .about = about,
				      .more = print_checks, .opts = opts, .footer = footer,
				      .snapshots = true, .min_operands = 1};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	uint32_t n = (uint32_t)ops.n;
	int status = EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_rules rules;
	struct asnap_findings findings = {0};
	asnap_rules_init(&rules);
	/* one earlier snapshot in memory at a time, beside the last */
	struct cli_checks_stream st;
	if (!cli_checks_stream_open(&st, rules_path, ops.v, n, &rules, ASNAP_SNAP_NO_SIZES))
		goto out_rules;
	struct asnap_checks_options opt = {.mask = mask, .rules = &rules, .shed_earlier = true};
	if (asnap_checks_run_input(&st.in, &opt, &findings, &err) < 0) {
		cli_file_error(st.failed ? st.failed : ops.v[n - 1], &err);
		goto out;
	}
	if (findings.warning && !json)
		cli_warning("%s", findings.warning);
	struct asnap_leaks_view view = {st.in.snaps, n, &findings, (unsigned)show};
	if (CLI_SHOW(json, asnap_render_leaks, &view))
		status = findings.count ? EXIT_FINDINGS : EXIT_OK;
out:
	asnap_findings_release(&findings);
	cli_checks_stream_close(&st);
out_rules:
	asnap_rules_release(&rules);
	return status;
}
