/*
 * cmd-export.c - `asyncsnap export --format F SNAP`: a snapshot in another
 * tool's format.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "graph/graph.h"
#include "render/heapsnapshot.h"

static const char help[] =
	"usage: asyncsnap export --format heapsnapshot [-o FILE] SNAP\n"
	"\n"
	"Write a snapshot in another tool's format, to standard output or FILE.\n"
	"\n"
	"formats:\n"
	"  heapsnapshot  Chrome/V8 heap snapshot: open it in Chrome DevTools\n"
	"                (Memory > Load) or analyze it with memlab. Python types\n"
	"                become constructor names, attributes/keys/locals property\n"
	"                edges, indices element edges, weak references weak edges;\n"
	"                a synthetic root leads to the snapshot's roots.\n"
	"\n"
	"options:\n"
	"  -f, --format F   the output format (required)\n"
	"  -o, --output F   write to FILE (complete or not at all) instead of stdout\n"
	"  -h, --help       show this help\n";

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *format = NULL, *output = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("export", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!format)
		return cli_usage_error("export", "--format is required (heapsnapshot)");
	if (strcmp(format, "heapsnapshot") != 0)
		return cli_usage_error("export", "unknown format '%s' (known: heapsnapshot)", format);
	if (optind != argc - 1)
		return cli_usage_error("export", "%s",
				       optind == argc ? "a snapshot file is required"
						      : "only one snapshot file is allowed");
	const char *path = argv[optind];
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	if (!g) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}

	struct cli_output out;
	if (cli_output_open(&out, output) < 0) {
		asnap_graph_destroy(g);
		return EXIT_ERROR;
	}
	int rc = asnap_render_heapsnapshot(out.fp, g, &err);
	asnap_graph_destroy(g);
	if (rc < 0)
		cli_error("%s", err.message);
	return cli_output_close(&out, rc == 0);
}
