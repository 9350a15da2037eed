/*
 * cmd-leaks.c - `asyncsnap leaks SNAP [SNAP ...]`: the five checks.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/checks.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/leaks.h"

static const char help[] =
	"usage: asyncsnap leaks [--json] [--check NAME,...] [--rules FILE] [--show N] SNAP [SNAP ...]\n"
	"\n"
	"Run the leak checks on snapshots of one program, oldest first, and print\n"
	"the findings: for each, the check, what is wrong, how many objects, the\n"
	"bytes they retain, the objects (worst first), the chain of references that\n"
	"keeps the worst alive, its growth per snapshot, and how to fix it. With one\n"
	"snapshot only what is certain from it is reported; with two or more, also\n"
	"what persists and grows. Exit status 1 when there are findings.\n"
	"\n"
	"checks (docs/CHECKS.md):\n";

/* after the list of checks, which comes from the checks' own table */
static const char help_options[] =
	"\n"
	"options:\n"
	"  --json           {\"findings\": [{\"check\", \"summary\", \"count\", \"retained\",\n"
	"                   \"objects\", \"path\", ...}]} (docs/CHECKS.md)\n"
	"  --check LIST     run only these checks (comma-separated names)\n"
	"  --rules FILE     resource rules for unclosed-resource, added to the built-in\n"
	"                   ones (JSON, docs/CHECKS.md)\n"
	"  --show N         objects listed per finding in the text form (default 5)\n"
	"  --max-memory SIZE\n"
	"                   refuse a snapshot that needs more memory than SIZE\n"
	"                   (512M, 2G; default: 3/4 of the memory available)\n"
	"  -h, --help       show this help\n"
	"\n"
	"exit status: 0 no finding, 1 findings, 2 usage or input error\n";

static void print_help(void)
{
	fputs(help, stdout);
	for (int c = 0; c < ASNAP_NCHECKS; c++)
		printf("  %-20s %s\n", asnap_check_name(c), asnap_check_what(c));
	fputs(help_options, stdout);
}

static int parse_checks(const char *list, uint32_t *mask)
{
	*mask = 0;
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int c = asnap_check_by_name(p, len);
		if (c < 0)
			return cli_usage_error("leaks", "unknown check '%.*s'", (int)len, p);
		*mask |= 1u << c;
		p += len;
		if (*p == ',')
			p++;
	}
	if (!*mask)
		return cli_usage_error("leaks", "--check needs at least one check name");
	return 0;
}

int cmd_leaks(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"check", required_argument, NULL, 'c'},
		{"rules", required_argument, NULL, 'r'},
		{"show", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		CLI_MAX_MEMORY_OPTION,
		{0},
	};
	bool json = false;
	const char *rules_path = NULL;
	uint32_t mask = ASNAP_CHECKS_ALL;
	unsigned long show = 5;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'c':
			if (parse_checks(optarg, &mask))
				return EXIT_ERROR;
			break;
		case 'r':
			rules_path = optarg;
			break;
		case 's':
			if (!cli_parse_count("leaks", "--show", optarg, 0, 1000000, &show))
				return EXIT_ERROR;
			break;
		case CLI_OPT_MAX_MEMORY:
			if (!cli_max_memory_option("leaks", optarg))
				return EXIT_ERROR;
			break;
		case 'h':
			print_help();
			return EXIT_OK;
		default:
			return cli_option_error("leaks", c, argv);
		}
	}
	if (optind == argc)
		return cli_usage_error("leaks", "a snapshot file is required");
	uint32_t n = (uint32_t)(argc - optind);
	int status = EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_rules rules;
	struct asnap_findings findings = {0};
	asnap_rules_init(&rules);
	struct asnap_snap **snaps = calloc(n, sizeof(*snaps));
	if (!snaps) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	if (cli_load_checks_input(rules_path, argv + optind, n, &rules, snaps) < 0)
		goto out;
	struct asnap_checks_options opt = {mask, &rules};
	if (asnap_checks_run(snaps, n, &opt, &findings, &err) < 0) {
		cli_file_error(argv[argc - 1], &err);
		goto out;
	}
	if (findings.warning && !json)
		cli_warning("%s", findings.warning);
	struct asnap_leaks_view view = {snaps, n, &findings, (unsigned)show};
	struct cli_safe_text safe; /* what a snapshot holds never drives the terminal */
	FILE *text = json ? stdout : cli_safe_text(stdout, &safe);
	int rc = json ? asnap_render_leaks_json(stdout, &view) : asnap_render_leaks_text(text, &view);
	if (text != stdout && fclose(text) != 0)
		rc = -1;
	if (rc < 0)
		cli_error("out of memory");
	else
		status = findings.count ? EXIT_FINDINGS : EXIT_OK;
out:
	asnap_findings_release(&findings);
	for (uint32_t i = 0; i < n; i++)
		asnap_snap_destroy(snaps[i]);
	free(snaps);
	asnap_rules_release(&rules);
	return status;
}
