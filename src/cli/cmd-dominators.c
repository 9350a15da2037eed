/*
 * cmd-dominators.c - `asyncsnap dominators SNAP`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/retention.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/retention.h"

static const char usage[] =
	"usage: asyncsnap dominators [--json] [--top N] [--depth D] [--type T] SNAP\n";
static const char about[] =
	"What keeps memory alive. An object dominates another when every chain of\n"
	"strong references from the roots to the other passes through it; its\n"
	"retained size is what would be freed if it went. Shows the roots (module\n"
	"dicts, thread stacks, objects held from outside the snapshot), the objects\n"
	"that retain the most, and the dominator tree below the roots. Objects no\n"
	"root reaches (garbage awaiting the cycle collector) are a group of their own.\n";

int cmd_dominators(int argc, char **argv)
{
	bool json = false;
	unsigned long top = 10, depth = 2;
	const char *type = NULL;
	const struct cli_opt opts[] = {
		CLI_FLAG("json", 0, &json,
			 "one JSON object: \"objects\", \"bytes\", \"roots\", \"unreachable\", "
			 "\"top\" and \"tree\", each object with \"addr\", \"type\", \"size\", "
			 "\"retained\" (docs/ANALYZE.md)"),
		CLI_NUMBER("top", "N", 1, 100000, &top,
			   "top retainers to list, and children shown per tree node (default 10)"),
		CLI_NUMBER("depth", "D", 0, 64, &depth,
			   "levels of the tree to show, 0 for none (default 2)"),
		CLI_STRING("type", 0, "T", &type,
			   "only objects of type T (\"builtins.list\" or \"list\"); the tree then "
			   "starts at them"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "dominators", .usage = usage, .about = about,
				      .opts = opts, .snapshots = true, .min_operands = 1,
				      .max_operands = 1};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	/* the text names no reference: without their labels */
	struct asnap_snap *s = cli_snap_load(ops.v[0],
					     cli_retention_layers(json) | ASNAP_SNAP_NO_LABELS, true);
	if (!s)
		return EXIT_ERROR;
	struct asnap_dominators_view view = {s, (unsigned)top, (unsigned)depth, type};
	bool ok = CLI_SHOW(json, asnap_render_dominators, &view);
	asnap_snap_destroy(s);
	return ok ? EXIT_OK : EXIT_ERROR;
}
