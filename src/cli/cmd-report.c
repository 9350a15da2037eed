/*
 * cmd-report.c - `asyncsnap report SNAP [SNAP ...] -o report.html`: one
 * self-contained HTML page with the findings, the tasks, what retains
 * memory and the reference cycles.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/checks.h"
#include "analysis/retention.h"
#include "analysis/tasks.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/report.h"

static const char help[] =
	"usage: asyncsnap report [-o FILE] [--rules FILE] [--nodes N] [--tasks N] [--cycles N]\n"
	"                        SNAP [SNAP ...]\n"
	"\n"
	"Write one self-contained HTML page about snapshots of one program, oldest\n"
	"first: the findings of the leak checks (as `leaks`: what, where, how many,\n"
	"growth across the snapshots, bytes retained, the chain of references that\n"
	"keeps the worst alive or its cycle, how to fix it), the asyncio tasks (as\n"
	"`tasks`), a zoomable picture of what retains memory (the top of the\n"
	"dominator tree) and every reference cycle through coroutines, frames or\n"
	"tracebacks drawn as a small graph (as `cycles`). The findings use every\n"
	"snapshot given; the tasks, the picture and the cycles are of the last one.\n"
	"\n"
	"The page loads nothing: its script, style and data are inline, and it\n"
	"opens in any browser, offline (docs/REPORT.md). It carries the largest\n"
	"retainers, not the whole heap, so it stays small for millions of objects.\n"
	"\n"
	"options:\n"
	"  -o, --output FILE  write the page to FILE (complete or not at all); '-' or\n"
	"                     no -o: standard output, unless it is a terminal\n"
	"  --rules FILE       resource rules for unclosed-resource, added to the\n"
	"                     built-in ones (as `leaks --rules`, docs/CHECKS.md)\n"
	"  --nodes N          objects of the dominator tree the picture carries, the\n"
	"                     largest retainers (default 3000, at most 1000000)\n"
	"  --tasks N          tasks listed, the most suspicious first (default 500)\n"
	"  --cycles N         cycle shapes drawn, the largest first (default 50)\n"
	"  --max-memory SIZE  refuse a snapshot that needs more memory than SIZE\n"
	"                     (512M, 2G; default: 3/4 of the memory available)\n"
	"  -h, --help         show this help\n"
	"\n"
	"exit status: 0 the page is written (with or without findings: use `leaks`\n"
	"to fail on findings), 2 usage or input error (nothing is written)\n";

/* A --nodes/--tasks/--cycles value into *out; false when reported bad. */
static bool parse_limit(const char *opt, const char *arg, unsigned long max, uint32_t *out)
{
	unsigned long v;
	if (!cli_parse_count("report", opt, arg, 0, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"rules", required_argument, NULL, 'r'},
		{"nodes", required_argument, NULL, 'n'},
		{"tasks", required_argument, NULL, 't'},
		{"cycles", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		CLI_MAX_MEMORY_OPTION,
		{0},
	};
	const char *output = NULL, *rules_path = NULL;
	struct asnap_report_limits limits = {ASNAP_REPORT_NODES, ASNAP_REPORT_TASKS,
					     ASNAP_REPORT_CYCLES, ASNAP_REPORT_OBJECTS,
					     ASNAP_REPORT_CYCLE_LEN};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'r':
			rules_path = optarg;
			break;
		case 'n':
			if (!parse_limit("--nodes", optarg, 1000000, &limits.nodes))
				return EXIT_ERROR;
			break;
		case 't':
			if (!parse_limit("--tasks", optarg, 1000000, &limits.tasks))
				return EXIT_ERROR;
			break;
		case 'c':
			if (!parse_limit("--cycles", optarg, 100000, &limits.cycles))
				return EXIT_ERROR;
			break;
		case CLI_OPT_MAX_MEMORY:
			if (!cli_max_memory_option("report", optarg))
				return EXIT_ERROR;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		default:
			return cli_option_error("report", c, argv);
		}
	}
	if (optind == argc)
		return cli_usage_error("report", "a snapshot file is required");
	if (output && strcmp(output, "-") == 0)
		output = NULL;
	if (!output && isatty(STDOUT_FILENO))
		return cli_usage_error("report", "give -o FILE: the page is HTML, not for a terminal");

	uint32_t n = (uint32_t)(argc - optind);
	int status = EXIT_ERROR;
	bool ok = false;
	struct asnap_error err = {0};
	struct asnap_rules rules;
	struct asnap_findings findings = {0};
	struct asnap_task_view *tasks = NULL;
	uint32_t ntasks = 0;
	struct asnap_cycle *cycles = NULL;
	uint32_t ncycles = 0;
	struct asnap_cycles_stats cycle_stats = {0};
	struct cli_output out;
	asnap_rules_init(&rules);
	struct asnap_snap **snaps = calloc(n, sizeof(*snaps));
	if (!snaps) {
		cli_error("out of memory");
		asnap_rules_release(&rules);
		return EXIT_ERROR;
	}
	/* the output first: an unwritable place fails before minutes of work */
	if (cli_output_open(&out, output) < 0)
		goto release;
	if (cli_load_checks_input(rules_path, argv + optind, n, &rules, snaps) < 0)
		goto close;
	const char *lastpath = argv[argc - 1];
	struct asnap_snap *last = snaps[n - 1];
	struct asnap_checks_options opt = {ASNAP_CHECKS_ALL, &rules};
	if (asnap_checks_run(snaps, n, &opt, &findings, &err) < 0 ||
	    asnap_snap_retention(last, &err) < 0 ||
	    asnap_tasks_view(last, true, &tasks, &ntasks, &err) < 0 ||
	    asnap_cycles_search(&last->ret, &cycles, &ncycles, &cycle_stats, &err) < 0) {
		cli_file_error(lastpath, &err);
		goto close;
	}
	if (findings.warning)
		cli_warning("%s", findings.warning);
	struct asnap_report_view view = {
		.snaps = snaps,
		.nsnap = n,
		.findings = &findings,
		.tasks = tasks,
		.ntasks = ntasks,
		.cycles = cycles,
		.ncycles = ncycles,
		.cycle_stats = &cycle_stats,
		.limits = limits,
	};
	if (asnap_render_report(out.fp, &view, &err) < 0) {
		cli_error("%s", err.message);
		goto close;
	}
	ok = true;
close:
	status = cli_output_close(&out, ok);
release:
	asnap_cycles_free(cycles, ncycles);
	asnap_tasks_free(tasks, ntasks);
	asnap_findings_release(&findings);
	for (uint32_t i = 0; i < n; i++)
		asnap_snap_destroy(snaps[i]);
	free(snaps);
	asnap_rules_release(&rules);
	return status;
}
