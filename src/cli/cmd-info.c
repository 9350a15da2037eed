/*
 * cmd-info.c - `asyncsnap info SNAP`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/stats.h"
#include "cli/cli.h"
#include "graph/graph.h"
#include "render/render.h"

static const char help[] =
	"usage: asyncsnap info [--json] [--top N] SNAP\n"
	"\n"
	"Show what a snapshot is (Python version, process, time, pause) and what it\n"
	"holds: object and edge counts, and the types with the most objects and the\n"
	"most bytes.\n"
	"\n"
	"options:\n"
	"  --json     one JSON object instead of text: \"objects\", \"edges\",\n"
	"             \"types\" (every type: {\"type\", \"count\", \"bytes\"}, by bytes),\n"
	"             \"header\" and more (docs/DUMP.md)\n"
	"  --top N    rows in each table of types (default 15)\n"
	"  --max-memory SIZE\n"
	"             refuse a snapshot that needs more memory than SIZE\n"
	"             (512M, 2G; default: 3/4 of the memory available)\n"
	"  -h, --help show this help\n";

int cmd_info(int argc, char **argv)
{
	struct cli_args args = {.top = 15, .top_max = 1000000};
	int status;
	if (!cli_parse_snapshots("info", help, argc, argv, &args, &status))
		return status;
	bool json = args.json;
	unsigned long top = args.top;
	const char *path = args.paths[0];
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	if (!g) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	status = EXIT_ERROR;
	cJSON *header = cJSON_Parse(g->header_json);
	cJSON *trailer = g->trailer_json ? cJSON_Parse(g->trailer_json) : NULL;
	struct asnap_stats stats;
	if (!cJSON_IsObject(header)) {
		cli_error("cannot read '%s': corrupt header section: invalid JSON", path);
		goto out;
	}
	if (asnap_stats_compute(g, &stats) < 0) {
		cli_error("cannot read '%s': out of memory", path);
		goto out;
	}
	struct asnap_info_view view = {path, g, header, cJSON_IsObject(trailer) ? trailer : NULL,
				       &stats, (unsigned)top};
	struct cli_safe_text safe; /* what a snapshot holds never drives the terminal */
	FILE *text = json ? stdout : cli_safe_text(stdout, &safe);
	int rc = json ? asnap_render_info_json(stdout, &view) : asnap_render_info_text(text, &view);
	if (text != stdout && fclose(text) != 0)
		rc = -1;
	if (rc < 0)
		cli_error("out of memory");
	else
		status = EXIT_OK;
	asnap_stats_release(&stats);
out:
	cJSON_Delete(header);
	cJSON_Delete(trailer);
	asnap_graph_destroy(g);
	return status;
}
