/*
 * cmd-diff.c - `asyncsnap diff A B [C ...]`: what grew between snapshots.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/diff.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/leaks.h"

static const char usage[] =
	"usage: asyncsnap diff [--json] [--top N] A B [C ...]\n";
static const char about[] =
	"What grew between snapshots, oldest first: objects and bytes by type,\n"
	"coroutines by qualified name, suspended coroutines by suspension site, and\n"
	"tasks pending in every snapshot. With three or more snapshots of one\n"
	"process (baseline, target, final): the objects born between the first two\n"
	"and still alive in every later one, clustered by the chain of references\n"
	"that keeps them, with one representative chain per cluster. Objects are\n"
	"matched by address and type and checked against stable keys (task name,\n"
	"qualified name, callback). Snapshots of different processes are compared\n"
	"by type and site only, with a warning.\n";

int cmd_diff(int argc, char **argv)
{
	bool json = false;
	unsigned long top = 15;
	const struct cli_opt opts[] = {
		CLI_FLAG("json", 0, &json,
			 "one JSON object: \"types\", \"coroutines\", \"sites\", "
			 "\"pending_tasks\", \"born\" (docs/CHECKS.md)"),
		CLI_NUMBER("top", "N", 1, 1000000, &top, "rows per table and clusters shown (default 15)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "diff", .usage = usage, .about = about, .opts = opts,
				      .snapshots = true, .min_operands = 2, .max_operands = 0};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	uint32_t n = (uint32_t)ops.n;
	struct asnap_snap **snaps = cli_snaps_load(ops.v, n, ASNAP_SNAP_MATCH, 0);
	if (!snaps)
		return EXIT_ERROR;
	int status = EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_diff d = {0};
	if (asnap_diff_compute(snaps, n, &d, &err) < 0) {
		cli_file_error(ops.v[n - 1], &err);
	} else {
		if (!d.same_process)
			cli_warning("the snapshots are of different processes: comparing types and sites only");
		struct asnap_diff_view view = {snaps, n, &d, (unsigned)top};
		if (CLI_SHOW(json, asnap_render_diff, &view))
			status = EXIT_OK;
	}
	asnap_diff_release(&d);
	cli_snaps_destroy(snaps, n);
	return status;
}
