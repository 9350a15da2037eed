/*
 * cmd-info.c - `asyncsnap info SNAP`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/stats.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/render.h"

static const char usage[] =
	"usage: asyncsnap info [--json] [--top N] SNAP\n";
static const char about[] =
	"Show what a snapshot is (Python version, process, time, pause) and what it\n"
	"holds: object and edge counts, and the types with the most objects and the\n"
	"most bytes.\n";

int cmd_info(int argc, char **argv)
{
	bool json = false;
	unsigned long top = 15;
	const struct cli_opt opts[] = {
		CLI_FLAG("json", 0, &json,
			 "one JSON object instead of text: \"objects\", \"edges\", \"types\" "
			 "(every type: {\"type\", \"count\", \"bytes\"}, by bytes), \"header\" "
			 "and more (docs/DUMP.md)"),
		CLI_NUMBER("top", "N", 1, 1000000, &top, "rows in each table of types (default 15)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "info", .usage = usage, .about = about, .opts = opts,
				      .snapshots = true, .min_operands = 1, .max_operands = 1};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	/* the agent's warnings are part of what info shows */
	struct asnap_snap *s = cli_snap_load(ops.v[0], 0, false);
	if (!s)
		return EXIT_ERROR;
	int status = EXIT_ERROR;
	struct asnap_stats stats;
	if (asnap_stats_compute(s->g, &stats) < 0) {
		cli_error("cannot read '%s': out of memory", s->path);
	} else {
		struct asnap_info_view view = {s->path, s->g, &stats, (unsigned)top};
		if (CLI_SHOW(json, asnap_render_info, &view))
			status = EXIT_OK;
		asnap_stats_release(&stats);
	}
	asnap_snap_destroy(s);
	return status;
}
