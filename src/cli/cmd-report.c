/*
 * cmd-report.c - `asyncsnap report SNAP [SNAP ...] -o report.html`: one
 * self-contained HTML page with the findings, the tasks, what retains
 * memory and the reference cycles.
 */
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

static const char usage[] =
	"usage: asyncsnap report [-o FILE] [--rules FILE] [--nodes N] [--tasks N] [--cycles N]\n"
	"                        SNAP [SNAP ...]\n";
static const char about[] =
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
	"retainers, not the whole heap, so it stays small for millions of objects.\n";
static const char footer[] =
	"exit status: 0 the page is written (with or without findings: use `leaks`\n"
	"to fail on findings), 2 usage or input error (nothing is written)\n";

int cmd_report(int argc, char **argv)
{
	const char *output = NULL, *rules_path = NULL;
	unsigned long nodes = ASNAP_REPORT_NODES, ntasks_max = ASNAP_REPORT_TASKS,
		      ncycles_max = ASNAP_REPORT_CYCLES;
	const struct cli_opt opts[] = {
		CLI_STRING("output", 'o', "FILE", &output,
			   "write the page to FILE (complete or not at all); '-' or no -o: "
			   "standard output, unless it is a terminal"),
		CLI_STRING("rules", 0, "FILE", &rules_path,
			   "rules added to the built-in ones: resources, pools and registries (as "
			   "`leaks --rules`, docs/CHECKS.md)"),
		CLI_NUMBER("nodes", "N", 0, 1000000, &nodes,
			   "objects of the dominator tree the picture carries, the largest "
			   "retainers (default 3000, at most 1000000)"),
		CLI_NUMBER("tasks", "N", 0, 1000000, &ntasks_max,
			   "tasks listed, the most suspicious first (default 500)"),
		CLI_NUMBER("cycles", "N", 0, 100000, &ncycles_max,
			   "cycle shapes drawn, the largest first (default 50)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "report", .usage = usage, .about = about,
				      .opts = opts, .footer = footer, .snapshots = true,
				      .min_operands = 1};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	struct asnap_report_limits limits = {(uint32_t)nodes, (uint32_t)ntasks_max,
					     (uint32_t)ncycles_max, ASNAP_REPORT_OBJECTS,
					     ASNAP_REPORT_CYCLE_LEN};
	if (output && strcmp(output, "-") == 0)
		output = NULL;
	if (!output && isatty(STDOUT_FILENO))
		return cli_usage_error("report", "give -o FILE: the page is HTML, not for a terminal");
	if (cli_output_is_input("report", output, ops.v, (size_t)ops.n))
		return EXIT_ERROR;

	uint32_t n = (uint32_t)ops.n;
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
	struct cli_checks_stream st = {0};
	asnap_rules_init(&rules);
	/* the output first: an unwritable place fails before minutes of work */
	if (cli_output_open(&out, output) < 0)
		goto release;
	/* the earlier snapshots in turns, each shed after its own: the page
	 * shows no more of them than their header facts and totals */
	if (!cli_checks_stream_open(&st, rules_path, ops.v, n, &rules, 0))
		goto close;
	struct asnap_checks_options opt = {.mask = ASNAP_CHECKS_ALL, .rules = &rules,
					   .shed_earlier = true};
	if (asnap_checks_run_input(&st.in, &opt, &findings, &err) < 0) {
		cli_file_error(st.failed ? st.failed : ops.v[n - 1], &err);
		goto close;
	}
	struct asnap_snap *last = st.in.snaps[n - 1];
	if (asnap_tasks_view(last, true, &tasks, &ntasks, &err) < 0 ||
	    asnap_cycles_search(&last->ret, &cycles, &ncycles, &cycle_stats, &err) < 0) {
		cli_file_error(ops.v[n - 1], &err);
		goto close;
	}
	if (findings.warning)
		cli_warning("%s", findings.warning);
	struct asnap_report_view view = {
		.snaps = st.in.snaps,
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
	cli_checks_stream_close(&st);
	asnap_rules_release(&rules);
	return status;
}
