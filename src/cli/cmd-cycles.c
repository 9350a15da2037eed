/*
 * cmd-cycles.c - `asyncsnap cycles SNAP`.
 */
#include <getopt.h>
#include <stdio.h>

#include "analysis/retention.h"
#include "cli/cli.h"
#include "graph/graph.h"
#include "render/retention.h"

static const char help[] =
	"usage: asyncsnap cycles [--json] SNAP\n"
	"\n"
	"Reference cycles (strongly connected components of strong references)\n"
	"that pass through a coroutine, generator, async generator, frame or\n"
	"traceback: only the cycle collector frees them, late. Each is shown as one\n"
	"concrete chain of labelled references through such an object (a task of\n"
	"the cycle first), with the number of objects in the component, the bytes it\n"
	"retains, and whether it is already unreachable garbage. Largest first.\n"
	"\n"
	"options:\n"
	"  --json     {\"cycles\": [{\"nodes\": [...], \"labels\": [...], \"size\": N,\n"
	"             \"retained\": N, \"garbage\": bool}]} (docs/ANALYZE.md)\n"
	"  -h, --help show this help\n";

int cmd_cycles(int argc, char **argv)
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
			return cli_usage_error("cycles", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("cycles", "%s",
				       optind == argc ? "a snapshot file is required"
						      : "only one snapshot file is allowed");
	const char *path = argv[optind];
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	if (!g) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	int status = EXIT_ERROR;
	struct asnap_retention r;
	struct asnap_cycle *cycles = NULL;
	uint32_t count = 0;
	if (asnap_retention_compute(g, &r, &err) < 0) {
		cli_file_error(path, &err);
		goto out;
	}
	if (asnap_cycles_find(&r, &cycles, &count, &err) < 0) {
		cli_file_error(path, &err);
		goto release;
	}
	struct asnap_cycles_view view = {&r, cycles, count};
	int rc = json ? asnap_render_cycles_json(stdout, &view)
		      : asnap_render_cycles_text(stdout, &view);
	if (rc < 0)
		cli_error("out of memory");
	else
		status = EXIT_OK;
	asnap_cycles_free(cycles, count);
release:
	asnap_retention_release(&r);
out:
	asnap_graph_destroy(g);
	return status;
}
