/*
 * cmd-export.c - `asyncsnap export --format F SNAP`: a snapshot, or what
 * keeps its memory alive, in another tool's format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/retention.h"
#include "cli/cli.h"
#include "cli/target.h"
#include "cli/inputs.h"
#include "graph/paths.h"
#include "render/collapsed.h"
#include "render/dot.h"
#include "render/heapsnapshot.h"

#define STR2(x) #x
#define STR(x) STR2(x)

static const char usage[] =
	"usage: asyncsnap export --format heapsnapshot [-o FILE] SNAP\n"
	"       asyncsnap export --format dot [-o FILE] SNAP [0xADDRESS | --type T]\n"
	"       asyncsnap export --format collapsed [--depth N] [-o FILE] SNAP\n";
static const char about[] =
	"Write a snapshot, or what keeps its memory alive, in another tool's format,\n"
	"to standard output or FILE.\n"
	"\n"
	"formats:\n"
	"  heapsnapshot  Chrome/V8 heap snapshot: open it in Chrome DevTools\n"
	"                (Memory > Load) or analyze it with memlab. Python types\n"
	"                become constructor names, attributes/keys/locals property\n"
	"                edges, indices element edges, weak references weak edges;\n"
	"                a synthetic root leads to the snapshot's roots.\n"
	"  dot           Graphviz DOT, for `dot -Tsvg`. With an object (an address,\n"
	"                or --type T: the object of type T that retains the most):\n"
	"                the chain of strong references from a root to it, as\n"
	"                `asyncsnap path` finds it. Without one: the reference cycles\n"
	"                `asyncsnap cycles` reports, one cluster each, titled with\n"
	"                the component's objects, retained bytes and whether it is\n"
	"                garbage. Nodes show type (and task name or qualified name),\n"
	"                address, shallow and retained size; edges the reference's\n"
	"                label (weak references dashed).\n"
	"  collapsed     retained size as collapsed stacks along the dominator tree,\n"
	"                for flame graphs (flamegraph.pl, speedscope, inferno): one\n"
	"                line \"FRAME;FRAME;... BYTES\" per distinct stack. The first\n"
	"                frame is how the roots hold it: (root: KIND), (several roots)\n"
	"                or (unreachable); then a frame per object, TYPE [NAME]\n"
	"                [(LABEL)], LABEL naming the reference from its dominator.\n"
	"                BYTES are shallow sizes, so a frame's width is the retained\n"
	"                size of what it stands for, and all of them add up to the\n"
	"                snapshot's bytes. ';', spaces and control characters in the\n"
	"                snapshot's names become '_'.\n";
static const char footer[] =
	"examples:\n"
	"  asyncsnap export --format dot --type Session app.snap | dot -Tsvg > path.svg\n"
	"  asyncsnap export --format collapsed app.snap | flamegraph.pl --countname bytes\n"
	"      > retained.svg\n";

enum format { HEAPSNAPSHOT, DOT, COLLAPSED };

/* `export --format dot` with an object: its path from a root. */
static int export_path(const char *output, const struct asnap_snap *s, const char *type,
		       uint64_t addr)
{
	const char *path = s->path;
	const struct asnap_retention *r = &s->ret;
	uint32_t target = cli_target_find(path, r, type, addr);
	if (target == ASNAP_NO_NODE)
		return EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_path_ws ws = {0};
	uint32_t *nodes = NULL, len = 0;
	int status = EXIT_ERROR;
	if (asnap_path_ws_init(&ws, r->g->n, &err) < 0 ||
	    asnap_path_from_roots(r->g, &r->roots, target, &ws, &nodes, &len, &err) < 0) {
		cli_file_error(path, &err);
		goto out;
	}
	struct cli_output out;
	if (cli_output_open(&out, output) == 0) {
		struct asnap_path_view view = {s, target, nodes, len};
		status = cli_output_close(&out, asnap_render_dot_path(out.fp, &view) == 0);
	}
out:
	free(nodes);
	asnap_path_ws_finish(&ws);
	return status;
}

/* `export --format dot` without an object: the cycles. */
static int export_cycles(const char *output, const struct asnap_snap *s)
{
	struct asnap_error err = {0};
	struct asnap_cycle *cycles = NULL;
	uint32_t count = 0;
	if (asnap_cycles_find(&s->ret, &cycles, &count, &err) < 0) {
		cli_file_error(s->path, &err);
		return EXIT_ERROR;
	}
	int status = EXIT_ERROR;
	struct cli_output out;
	if (cli_output_open(&out, output) == 0) {
		struct asnap_cycles_view view = {s, cycles, count, NULL};
		status = cli_output_close(&out, asnap_render_dot_cycles(out.fp, &view) == 0);
	}
	asnap_cycles_free(cycles, count);
	return status;
}

/* `export --format heapsnapshot` or `--format collapsed`: all of it. */
static int export_whole(const char *output, const struct asnap_snap *s, enum format format,
			unsigned depth)
{
	struct asnap_error err = {0};
	struct cli_output out;
	if (cli_output_open(&out, output) < 0)
		return EXIT_ERROR;
	int rc = format == COLLAPSED ? asnap_render_collapsed(out.fp, &s->ret, depth, &err)
		       : asnap_render_heapsnapshot(out.fp, s->g, &err);
	if (rc < 0)
		cli_error("%s", err.message);
	return cli_output_close(&out, rc == 0);
}

int cmd_export(int argc, char **argv)
{
	const char *format_arg = NULL, *output = NULL, *type = NULL, *depth_arg = NULL;
	const struct cli_opt opts[] = {
		CLI_STRING("format", 'f', "F", &format_arg, "the output format (required)"),
		CLI_STRING("output", 'o', "FILE", &output,
			   "write to FILE (complete or not at all) instead of stdout"),
		CLI_STRING("type", 0, "T", &type,
			   "dot: the largest-retaining object of type T (\"builtins.list\" or "
			   "\"list\") instead of an address"),
		CLI_STRING("depth", 0, "N", &depth_arg,
			   "collapsed: objects deeper than N on the dominator path share one "
			   "\"(deeper)\" frame below it (1 to 10000, default "
			   STR(ASNAP_COLLAPSED_DEPTH) "; a stack repeats every frame above it, so "
			   "deep chains make the output grow as depth squared)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "export", .usage = usage, .about = about,
				      .opts = opts, .footer = footer, .snapshots = true};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	if (!format_arg)
		return cli_usage_error("export", "--format is required (heapsnapshot, dot, collapsed)");
	enum format format;
	if (strcmp(format_arg, "heapsnapshot") == 0)
		format = HEAPSNAPSHOT;
	else if (strcmp(format_arg, "dot") == 0)
		format = DOT;
	else if (strcmp(format_arg, "collapsed") == 0)
		format = COLLAPSED;
	else
		return cli_usage_error("export", "unknown format '%s' (known: heapsnapshot, dot, collapsed)",
				       format_arg);
	if (type && format != DOT)
		return cli_usage_error("export", "--type is only for --format dot");
	if (depth_arg && format != COLLAPSED)
		return cli_usage_error("export", "--depth is only for --format collapsed");
	unsigned long depth = ASNAP_COLLAPSED_DEPTH;
	if (depth_arg && !cli_parse_count("export", "--depth", depth_arg, 1, 10000, &depth))
		return EXIT_ERROR;
	int args = ops.n;
	if (args == 0)
		return cli_usage_error("export", "a snapshot file is required");
	if (args > 2 || (args == 2 && format != DOT))
		return cli_usage_error("export", "%s",
				       format == DOT ? "too many arguments: SNAP [0xADDRESS]"
						     : "only one snapshot file is allowed (an object "
						       "is only for --format dot)");
	if (args == 2 && type)
		return cli_usage_error("export", "give an object address or --type, not both");
	if (cli_output_is_input("export", output, ops.v, 1))
		return EXIT_ERROR;
	const char *path = ops.v[0];
	uint64_t addr = 0;
	if (args == 2 && cli_target_parse_addr("export", ops.v[1], &addr) != 0)
		return EXIT_ERROR;

	/* The output is opened only once the input proved good, so that an
	 * error leaves no file behind. A heap snapshot is the graph alone. */
	struct asnap_snap *s = cli_snap_load(path, format == HEAPSNAPSHOT ? 0 : ASNAP_SNAP_RETENTION,
					     true);
	if (!s)
		return EXIT_ERROR;
	int status;
	if (format != DOT)
		status = export_whole(output, s, format, (unsigned)depth);
	else if (args == 2 || type)
		status = export_path(output, s, type, addr);
	else
		status = export_cycles(output, s);
	asnap_snap_destroy(s);
	return status;
}
