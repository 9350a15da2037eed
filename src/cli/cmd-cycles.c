/*
 * cmd-cycles.c - `asyncsnap cycles SNAP`.
 */
#include <stdio.h>

#include "analysis/retention.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/retention.h"

static const char usage[] =
	"usage: asyncsnap cycles [--json] SNAP\n";
static const char about[] =
	"Reference cycles of strong references that pass through a task,\n"
	"coroutine, generator, async generator, frame or traceback: only the cycle\n"
	"collector frees them, late. A small strongly connected component gives one\n"
	"shortest cycle standing for all of it; in a large one (a live heap's\n"
	"modules, functions and globals) each such object gives its shortest cycle\n"
	"of at most 12 references that avoids modules. Cycles of one shape (types\n"
	"and labels along them) are counted together and shown once, as a chain of\n"
	"labelled references, with the objects of their components, the bytes they\n"
	"retain, and whether they are already unreachable garbage. Largest first.\n";

int cmd_cycles(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {
		CLI_FLAG("json", 0, &json,
			 "{\"cycles\": [{\"nodes\": [...], \"labels\": [...], \"count\": N, "
			 "\"size\": N, \"retained\": N, \"garbage\": bool, ...}]} "
			 "(docs/ANALYZE.md)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "cycles", .usage = usage, .about = about, .opts = opts,
				      .snapshots = true, .min_operands = 1, .max_operands = 1};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	struct asnap_snap *s = cli_snap_load(ops.v[0], cli_retention_layers(json), true);
	if (!s)
		return EXIT_ERROR;
	int status = EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_cycle *cycles = NULL;
	uint32_t count = 0;
	struct asnap_cycles_stats stats;
	if (asnap_cycles_search(&s->ret, &cycles, &count, &stats, &err) < 0) {
		cli_file_error(s->path, &err);
	} else {
		struct asnap_cycles_view view = {s, cycles, count, &stats};
		if (CLI_SHOW(json, asnap_render_cycles, &view))
			status = EXIT_OK;
	}
	asnap_cycles_free(cycles, count);
	asnap_snap_destroy(s);
	return status;
}
