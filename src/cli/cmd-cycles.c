/*
 * cmd-cycles.c - `asyncsnap cycles SNAP`.
 */
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
	bool json;
	const char *path;
	int status;
	if (!cli_parse_json_snapshot("cycles", help, argc, argv, &json, &path, &status))
		return status;
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	if (!g) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	status = EXIT_ERROR;
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
