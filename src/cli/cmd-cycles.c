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
	"Reference cycles of strong references that pass through a task,\n"
	"coroutine, generator, async generator, frame or traceback: only the cycle\n"
	"collector frees them, late. A small strongly connected component gives one\n"
	"shortest cycle standing for all of it; in a large one (a live heap's\n"
	"modules, functions and globals) each such object gives its shortest cycle\n"
	"of at most 12 references that avoids modules. Cycles of one shape (types\n"
	"and labels along them) are counted together and shown once, as a chain of\n"
	"labelled references, with the objects of their components, the bytes they\n"
	"retain, and whether they are already unreachable garbage. Largest first.\n"
	"\n"
	"options:\n"
	"  --json     {\"cycles\": [{\"nodes\": [...], \"labels\": [...], \"count\": N,\n"
	"             \"size\": N, \"retained\": N, \"garbage\": bool, ...}]}\n"
	"             (docs/ANALYZE.md)\n"
	"  --max-memory SIZE\n"
	"             refuse a snapshot that needs more memory than SIZE\n"
	"             (512M, 2G; default: 3/4 of the memory available)\n"
	"  -h, --help show this help\n";

int cmd_cycles(int argc, char **argv)
{
	bool json;
	const char *path;
	int status;
	if (!cli_parse_json_snapshot("cycles", help, argc, argv, &json, &path, &status))
		return status;
	struct asnap_error err = {0};
	struct asnap_graph *g;
	struct asnap_retention r;
	if (asnap_retention_load(path, ASNAP_LOAD_AUTO, ASNAP_COL_ALL, &g, &r, &err) < 0) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	status = EXIT_ERROR;
	struct asnap_cycle *cycles = NULL;
	uint32_t count = 0;
	struct asnap_cycles_stats stats;
	if (asnap_cycles_search(&r, &cycles, &count, &stats, &err) < 0) {
		cli_file_error(path, &err);
		goto release;
	}
	struct asnap_cycles_view view = {&r, cycles, count, &stats};
	struct cli_safe_text safe; /* what a snapshot holds never drives the terminal */
	FILE *text = json ? stdout : cli_safe_text(stdout, &safe);
	int rc = json ? asnap_render_cycles_json(stdout, &view)
		      : asnap_render_cycles_text(text, &view);
	if (text != stdout && fclose(text) != 0)
		rc = -1;
	if (rc < 0)
		cli_error("out of memory");
	else
		status = EXIT_OK;
	asnap_cycles_free(cycles, count);
release:
	asnap_retention_release(&r);
	asnap_graph_destroy(g);
	return status;
}
