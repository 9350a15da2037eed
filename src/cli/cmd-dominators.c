/*
 * cmd-dominators.c - `asyncsnap dominators SNAP`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "analysis/retention.h"
#include "cli/cli.h"
#include "graph/graph.h"
#include "render/retention.h"

static const char help[] =
	"usage: asyncsnap dominators [--json] [--top N] [--depth D] [--type T] SNAP\n"
	"\n"
	"What keeps memory alive. An object dominates another when every chain of\n"
	"strong references from the roots to the other passes through it; its\n"
	"retained size is what would be freed if it went. Shows the roots (module\n"
	"dicts, thread stacks, objects held from outside the snapshot), the objects\n"
	"that retain the most, and the dominator tree below the roots. Objects no\n"
	"root reaches (garbage awaiting the cycle collector) are a group of their own.\n"
	"\n"
	"options:\n"
	"  --json       one JSON object: \"objects\", \"bytes\", \"roots\", \"unreachable\",\n"
	"               \"top\" and \"tree\", each object with \"addr\", \"type\", \"size\",\n"
	"               \"retained\" (docs/ANALYZE.md)\n"
	"  --top N      top retainers to list, and children shown per tree node (default 10)\n"
	"  --depth D    levels of the tree to show, 0 for none (default 2)\n"
	"  --type T     only objects of type T (\"builtins.list\" or \"list\"); the tree\n"
	"               then starts at them\n"
	"  --max-memory SIZE\n"
	"               refuse a snapshot that needs more memory than SIZE\n"
	"               (512M, 2G; default: 3/4 of the memory available)\n"
	"  -h, --help   show this help\n";

int cmd_dominators(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"top", required_argument, NULL, 't'},
		{"depth", required_argument, NULL, 'd'},
		{"type", required_argument, NULL, 'y'},
		{"help", no_argument, NULL, 'h'},
		CLI_MAX_MEMORY_OPTION,
		{0},
	};
	bool json = false;
	unsigned long top = 10, depth = 2;
	const char *type = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 't':
			if (!cli_parse_count("dominators", "--top", optarg, 1, 100000, &top))
				return EXIT_ERROR;
			break;
		case 'd':
			if (!cli_parse_count("dominators", "--depth", optarg, 0, 64, &depth))
				return EXIT_ERROR;
			break;
		case 'y':
			type = optarg;
			break;
		case CLI_OPT_MAX_MEMORY:
			if (!cli_max_memory_option("dominators", optarg))
				return EXIT_ERROR;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		default:
			return cli_option_error("dominators", c, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("dominators", "%s",
				       optind == argc ? "a snapshot file is required"
						      : "only one snapshot file is allowed");
	const char *path = argv[optind];
	struct asnap_error err = {0};
	struct asnap_graph *g;
	struct asnap_retention r;
	if (asnap_retention_load(path, ASNAP_LOAD_AUTO, ASNAP_COL_ALL, &g, &r, &err) < 0) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	int status = EXIT_ERROR;
	struct asnap_dominators_view view = {&r, (unsigned)top, (unsigned)depth, type};
	struct cli_safe_text safe; /* what a snapshot holds never drives the terminal */
	FILE *text = json ? stdout : cli_safe_text(stdout, &safe);
	int rc = json ? asnap_render_dominators_json(stdout, &view)
		      : asnap_render_dominators_text(text, &view);
	if (text != stdout && fclose(text) != 0)
		rc = -1;
	if (rc < 0)
		cli_error("out of memory");
	else
		status = EXIT_OK;
	asnap_retention_release(&r);
	asnap_graph_destroy(g);
	return status;
}
