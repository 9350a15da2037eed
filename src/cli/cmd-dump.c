/*
 * cmd-dump.c - `asyncsnap dump SNAP`.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/render.h"

static const char usage[] =
	"usage: asyncsnap dump [--json] SNAP\n";
static const char about[] =
	"Print every object of a snapshot on a line of its own: address, type,\n"
	"shallow size, reference count, flags, roots, records and outgoing edges.\n"
	"The debugging view of the format; fields are described in docs/DUMP.md.\n";

int cmd_dump(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {
		CLI_FLAG("json", 0, &json,
			 "JSON Lines: one object per line, {\"addr\", \"type\", \"size\", "
			 "\"refcnt\", \"edges\": [{\"to\", \"label\"}], ...}"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "dump", .usage = usage, .about = about, .opts = opts,
				      .snapshots = true, .min_operands = 1, .max_operands = 1};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	struct asnap_snap *s = cli_snap_load(ops.v[0], 0, true);
	if (!s)
		return EXIT_ERROR;
	bool ok = CLI_SHOW(json, asnap_render_dump, s->g);
	asnap_snap_destroy(s);
	return ok ? EXIT_OK : EXIT_ERROR;
}
