/*
 * cmd-dump.c - `asyncsnap dump SNAP`.
 */
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
	"  --max-memory SIZE\n"
	"             refuse a snapshot that needs more memory than SIZE\n"
	"             (512M, 2G; default: 3/4 of the memory available)\n"
	"  -h, --help show this help\n";

int cmd_dump(int argc, char **argv)
{
	bool json;
	const char *path;
	int status;
	if (!cli_parse_json_snapshot("dump", help, argc, argv, &json, &path, &status))
		return status;
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	if (!g) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	struct cli_safe_text safe; /* what a snapshot holds never drives the terminal */
	FILE *text = json ? stdout : cli_safe_text(stdout, &safe);
	int rc = json ? asnap_render_dump_json(stdout, g) : asnap_render_dump_text(text, g);
	if (text != stdout && fclose(text) != 0)
		rc = -1;
	asnap_graph_destroy(g);
	if (rc < 0) {
		cli_error("out of memory");
		return EXIT_ERROR;
	}
	return EXIT_OK;
}
