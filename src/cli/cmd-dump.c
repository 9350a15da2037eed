/*
 * cmd-dump.c - `asyncsnap dump SNAP`.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "graph/graph.h"
#include "render/render.h"

static const char help[] =
	"usage: asyncsnap dump [--json] SNAP\n"
	"\n"
	"Print every object of a snapshot on a line of its own: address, type,\n"
	"shallow size, reference count, flags, roots, records and outgoing edges.\n"
	"The debugging view of the format; fields are described in docs/DUMP.md.\n"
	"\n"
	"options:\n"
	"  --json     JSON Lines: one object per line, {\"addr\", \"type\", \"size\",\n"
	"             \"refcnt\", \"edges\": [{\"to\", \"label\"}], ...}\n"
	"  -h, --help show this help\n";

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool json = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("dump", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("dump", "%s",
				       optind == argc ? "a snapshot file is required"
						      : "only one snapshot file is allowed");
	const char *path = argv[optind];
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	if (!g) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	int rc = json ? asnap_render_dump_json(stdout, g) : asnap_render_dump_text(stdout, g);
	asnap_graph_destroy(g);
	if (rc < 0) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	return EXIT_OK;
}
