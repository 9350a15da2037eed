/*
 * cmd-path.c - `asyncsnap path SNAP OBJECT`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/retention.h"
#include "cli/cli.h"
#include "cli/target.h"
#include "cli/inputs.h"
#include "graph/paths.h"
#include "render/retention.h"

static const char usage[] =
	"usage: asyncsnap path [--json] SNAP 0xADDRESS\n"
	"       asyncsnap path [--json] --type T SNAP\n";
static const char about[] =
	"The shortest chain of strong references from a root to an object, each\n"
	"step with its label (attribute, key, index, local variable): why the object\n"
	"is still alive. The object is given by its address, or with --type as the\n"
	"object of type T that retains the most. For garbage (no root reaches it)\n"
	"the chain starts at the head of its unreachable group.\n";

int cmd_path(int argc, char **argv)
{
	bool json = false;
	const char *type = NULL;
	const struct cli_opt opts[] = {
		CLI_FLAG("json", 0, &json,
			 "one JSON object: \"target\", \"garbage\", \"root\" and \"path\" (the "
			 "objects from the root to the target, each with \"addr\", \"type\", "
			 "\"size\", \"retained\" and the \"label\" that leads to it)"),
		CLI_STRING("type", 0, "T", &type,
			   "the largest-retaining object of type T (\"builtins.list\" or \"list\")"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "path", .usage = usage, .about = about, .opts = opts,
				      .snapshots = true};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	int want = type ? 1 : 2;
	if (ops.n != want)
		return cli_usage_error("path", "%s",
				       ops.n < want
					       ? (type ? "a snapshot file is required"
						       : "a snapshot file and an object address are required")
					       : "too many arguments");
	const char *path = ops.v[0];
	uint64_t addr = 0;
	if (!type && cli_target_parse_addr("path", ops.v[1], &addr) != 0)
		return EXIT_ERROR;
	struct asnap_snap *s = cli_snap_load(path, cli_retention_layers(json), true);
	if (!s)
		return EXIT_ERROR;
	int status = EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_path_ws ws = {0};
	uint32_t *nodes = NULL, len = 0;
	uint32_t target = cli_target_find(path, &s->ret, type, addr);
	if (target == ASNAP_NO_NODE)
		goto release;
	if (asnap_path_ws_init(&ws, s->g->n, &err) < 0 ||
	    asnap_path_from_roots(s->g, &s->ret.roots, target, &ws, &nodes, &len, &err) < 0) {
		cli_file_error(path, &err);
		goto release;
	}
	struct asnap_path_view view = {s, target, nodes, len};
	if (CLI_SHOW(json, asnap_render_path, &view))
		status = EXIT_OK;
release:
	free(nodes);
	asnap_path_ws_finish(&ws);
	asnap_snap_destroy(s);
	return status;
}
