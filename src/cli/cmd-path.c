/*
 * cmd-path.c - `asyncsnap path SNAP OBJECT`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/retention.h"
#include "cli/cli.h"
#include "cli/target.h"
#include "graph/graph.h"
#include "graph/paths.h"
#include "render/retention.h"

static const char help[] =
	"usage: asyncsnap path [--json] SNAP 0xADDRESS\n"
	"       asyncsnap path [--json] --type T SNAP\n"
	"\n"
	"The shortest chain of strong references from a root to an object, each\n"
	"step with its label (attribute, key, index, local variable): why the object\n"
	"is still alive. The object is given by its address, or with --type as the\n"
	"object of type T that retains the most. For garbage (no root reaches it)\n"
	"the chain starts at the head of its unreachable group.\n"
	"\n"
	"options:\n"
	"  --json       one JSON object: \"target\", \"garbage\", \"root\" and \"path\"\n"
	"               (the objects from the root to the target, each with \"addr\",\n"
	"               \"type\", \"size\", \"retained\" and the \"label\" that leads to it)\n"
	"  --type T     the largest-retaining object of type T (\"builtins.list\" or \"list\")\n"
	"  --max-memory SIZE\n"
	"               refuse a snapshot that needs more memory than SIZE\n"
	"               (512M, 2G; default: 3/4 of the memory available)\n"
	"  -h, --help   show this help\n";

int cmd_path(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"type", required_argument, NULL, 'y'},
		{"help", no_argument, NULL, 'h'},
		CLI_MAX_MEMORY_OPTION,
		{0},
	};
	bool json = false;
	const char *type = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'y':
			type = optarg;
			break;
		case CLI_OPT_MAX_MEMORY:
			if (!cli_max_memory_option("path", optarg))
				return EXIT_ERROR;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		default:
			return cli_option_error("path", c, argv);
		}
	}
	int want = type ? 1 : 2;
	if (argc - optind != want)
		return cli_usage_error("path", "%s",
				       argc - optind < want
					       ? (type ? "a snapshot file is required"
						       : "a snapshot file and an object address are required")
					       : "too many arguments");
	const char *path = argv[optind];
	uint64_t addr = 0;
	if (!type && cli_target_parse_addr("path", argv[optind + 1], &addr) != 0)
		return EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_graph *g;
	struct asnap_retention r;
	if (asnap_retention_load(path, ASNAP_LOAD_AUTO, ASNAP_COL_ALL, &g, &r, &err) < 0) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	int status = EXIT_ERROR;
	struct asnap_path_ws ws = {0};
	uint32_t *nodes = NULL, len = 0;
	uint32_t target = cli_target_find(path, &r, type, addr);
	if (target == ASNAP_NO_NODE)
		goto release;
	if (asnap_path_ws_init(&ws, g->n, &err) < 0 ||
	    asnap_path_from_roots(g, &r.roots, target, &ws, &nodes, &len, &err) < 0) {
		cli_file_error(path, &err);
		goto release;
	}
	struct asnap_path_view view = {&r, target, nodes, len};
	struct cli_safe_text safe; /* what a snapshot holds never drives the terminal */
	FILE *text = json ? stdout : cli_safe_text(stdout, &safe);
	int rc = json ? asnap_render_path_json(stdout, &view) : asnap_render_path_text(text, &view);
	if (text != stdout && fclose(text) != 0)
		rc = -1;
	if (rc < 0)
		cli_error("out of memory");
	else
		status = EXIT_OK;
release:
	free(nodes);
	asnap_path_ws_finish(&ws);
	asnap_retention_release(&r);
	asnap_graph_destroy(g);
	return status;
}
