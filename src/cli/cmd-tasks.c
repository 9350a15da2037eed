/*
 * cmd-tasks.c - `asyncsnap tasks SNAP`: every asyncio task, explained.
 */
#include <stdio.h>

#include "analysis/tasks.h"
#include "cli/cli.h"
#include "cli/inputs.h"
#include "render/leaks.h"

static const char usage[] =
	"usage: asyncsnap tasks [--each] [--json] SNAP\n";
static const char about[] =
	"Every asyncio task of the snapshot: its state, name and coroutine, where it\n"
	"is suspended, its await chain down to the leaf future, what references it,\n"
	"and the bytes it retains. The suspicious come first: orphaned tasks (waiting\n"
	"on a future nothing live can resolve), pending tasks that are garbage,\n"
	"finished tasks still kept alive, then waiting ones; the larger first.\n"
	"Tasks alike (the same verdict, type, suspension point, await chain and\n"
	"referrers; a list index and the names of other tasks aside) are one block\n"
	"with their count, total size and the first three by name; --each prints\n"
	"one block per task.\n";

int cmd_tasks(int argc, char **argv)
{
	bool json = false, each = false;
	const struct cli_opt opts[] = {
		CLI_FLAG("each", 0, &each, "one block per task, also for tasks alike (text)"),
		CLI_FLAG("json", 0, &json,
			 "{\"tasks\": [{\"addr\", \"name\", \"state\", \"verdict\", "
			 "\"orphaned\", \"suspended_in\", \"await_chain\", \"referrers\", "
			 "\"retained\", ...}]} (docs/CHECKS.md)"),
		CLI_END,
	};
	const struct cli_spec spec = {.name = "tasks", .usage = usage, .about = about, .opts = opts,
				      .snapshots = true, .min_operands = 1, .max_operands = 1};
	struct cli_operands ops = cli_parse(&spec, argc, argv);
	if (ops.done)
		return ops.status;
	struct asnap_snap *s = cli_snap_load(ops.v[0], ASNAP_SNAP_AIO, true);
	if (!s)
		return EXIT_ERROR;
	int status = EXIT_ERROR;
	struct asnap_error err = {0};
	struct asnap_task_view *tasks = NULL;
	uint32_t count = 0;
	if (asnap_tasks_view(s, true, &tasks, &count, &err) < 0) {
		cli_file_error(s->path, &err);
	} else {
		struct asnap_tasks_render view = {s, tasks, count, each};
		if (CLI_SHOW(json, asnap_render_tasks, &view))
			status = EXIT_OK;
	}
	asnap_tasks_free(tasks, count);
	asnap_snap_destroy(s);
	return status;
}
