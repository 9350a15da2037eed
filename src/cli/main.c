/*
 * main.c - the asyncsnap command: global options and the command table.
 */
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "asyncsnap/format.h"
#include "cli/cli.h"

static const struct cli_command commands[] = {
	{"info", cmd_info, "header, object and edge counts, top types",
	 CLI_READS_SNAPSHOTS},
	{"dump", cmd_dump, "every object with its edges, one per line",
	 CLI_READS_SNAPSHOTS},
	{"dominators", cmd_dominators, "what retains memory: roots, top retainers, dominator tree",
	 CLI_READS_AND_ANALYZES},
	{"cycles", cmd_cycles, "reference cycles through coroutines, frames, tracebacks",
	 CLI_READS_AND_ANALYZES},
	{"path", cmd_path, "the shortest chain of references from a root to an object",
	 CLI_READS_AND_ANALYZES},
	{"leaks", cmd_leaks, "the leak checks: findings, what they retain, how to fix them",
	 CLI_READS_AND_ANALYZES},
	{"tasks", cmd_tasks, "every asyncio task: state, await chain, referrers, retained size",
	 CLI_READS_AND_ANALYZES},
	{"diff", cmd_diff, "what grew between snapshots, and what was born and stayed",
	 CLI_READS_AND_ANALYZES},
	{"run", cmd_run, "run a program with the agent loaded (no change to it)",
	 CLI_READS_NOTHING},
	{"ps", cmd_ps, "the running processes that have the agent",
	 CLI_READS_NOTHING},
	{"take", cmd_take, "make a running process write a snapshot; print its path",
	 CLI_READS_NOTHING},
	{"report", cmd_report, "one self-contained HTML page: findings, tasks, memory, cycles",
	 CLI_READS_AND_ANALYZES},
	{"export", cmd_export, "Chrome/memlab heapsnapshot, Graphviz DOT, flame-graph stacks",
	 CLI_READS_AND_ANALYZES},
};

static void usage(FILE *out)
{
	fputs("usage: asyncsnap [--version] [--help] [--max-memory SIZE] COMMAND [ARGS]\n"
	      "\n"
	      "Analyze snapshots of Python asyncio programs taken by the asyncsnap agent\n"
	      "(python -c 'import asyncsnap; asyncsnap.take()').\n"
	      "\n"
	      "commands:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "options:\n"
	      "  --max-memory SIZE  refuse a snapshot that needs more memory than SIZE\n"
	      "                     (512M, 2G, 1.5GiB or bytes; default: 3/4 of the memory\n"
	      "                     available; also ASYNCSNAP_MAX_MEMORY); any command that\n"
	      "                     reads snapshots takes it too\n"
	      "\n"
	      "'asyncsnap COMMAND --help' describes a command.\n"
	      "Exit status: 0 success, 1 findings reported, 2 usage or input error.\n", out);
}

/*
 * A fixed threshold above which malloc maps each block on its own. glibc
 * raises its threshold to the size of every mapped block freed (up to 32
 * MiB), after which the graph's growing arrays live in the heap, where
 * realloc copies them into fresh pages at each doubling instead of
 * remapping them, and they miss the huge pages util/bigarray.h asks for
 * (loading a 1.8M-object snapshot: a fifth of its page faults).
 */
static void map_big_blocks(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

int main(int argc, char **argv)
{
	map_big_blocks();
	/* the one global option: --max-memory SIZE (or =SIZE) before the command */
	while (argc >= 2 && strncmp(argv[1], "--max-memory", 12) == 0 &&
	       (argv[1][12] == '\0' || argv[1][12] == '=')) {
		const char *value = argv[1][12] == '=' ? argv[1] + 13 : argv[2];
		int used = argv[1][12] == '=' ? 1 : 2;
		if (!value)
			return cli_usage_error(NULL, "option '--max-memory' needs a value");
		if (!cli_max_memory_option(NULL, value))
			return EXIT_ERROR;
		argc -= used;
		argv += used;
	}
	if (argc < 2)
		return cli_usage_error(NULL, "a command is required");
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		if (strcmp(name, "help") == 0 && argc > 2) {
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
				if (strcmp(argv[2], commands[i].name) == 0) {
					char *args[] = {argv[2], "--help", NULL};
					return commands[i].run(2, args);
				}
			}
			return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
		}
		usage(stdout);
		return cli_finish_output(EXIT_OK);
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
		printf("asyncsnap %s (snapshot format %u)\n", asnap_version(), ASNAP_FORMAT_VERSION);
		return cli_finish_output(EXIT_OK);
	}
	if (name[0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", name);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(name, commands[i].name) != 0)
			continue;
		if (cli_budget_init(commands[i].reads) != EXIT_OK)
			return EXIT_ERROR;
		return cli_finish_output(commands[i].run(argc - 1, argv + 1));
	}
	return cli_usage_error(NULL, "unknown command '%s'", name);
}
