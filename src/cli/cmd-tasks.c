/*
 * cmd-tasks.c - `asyncsnap tasks SNAP`: every asyncio task, explained.
 */
#include <getopt.h>
#include <stdio.h>

#include "analysis/tasks.h"
#include "cli/cli.h"
#include "render/leaks.h"

static const char help[] =
	"usage: asyncsnap tasks [--json] SNAP\n"
	"\n"
	"Every asyncio task of the snapshot: its state, name and coroutine, where it\n"
	"is suspended, its await chain down to the leaf future, what references it,\n"
	"and the bytes it retains. The suspicious come first: orphaned tasks (waiting\n"
	"on a future nothing live can resolve), pending tasks that are garbage,\n"
	"finished tasks still kept alive, then waiting ones; the larger first.\n"
	"\n"
	"options:\n"
	"  --json     {\"tasks\": [{\"addr\", \"name\", \"state\", \"verdict\", \"orphaned\",\n"
	"             \"suspended_in\", \"await_chain\", \"referrers\", \"retained\", ...}]}\n"
	"             (docs/CHECKS.md)\n"
	"  -h, --help show this help\n";

int cmd_tasks(int argc, char **argv)
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
			return cli_usage_error("tasks", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("tasks", "%s",
				       optind == argc ? "a snapshot file is required"
						      : "only one snapshot file is allowed");
	const char *path = argv[optind];
	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(path, &err);
	if (!s) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}
	int status = EXIT_ERROR;
	struct asnap_task_view *tasks = NULL;
	uint32_t count = 0;
	if (asnap_tasks_view(s, true, &tasks, &count, &err) < 0) {
		cli_file_error(path, &err);
		goto out;
	}
	struct asnap_tasks_render view = {s, tasks, count};
	int rc = json ? asnap_render_tasks_json(stdout, &view) : asnap_render_tasks_text(stdout, &view);
	if (rc < 0)
		cli_error("out of memory");
	else
		status = EXIT_OK;
out:
	asnap_tasks_free(tasks, count);
	asnap_snap_destroy(s);
	return status;
}
