/*
 * main.c - the asyncsnap command: global options and the command table.
 */
#include <stdio.h>
#include <string.h>

#include "asyncsnap/format.h"
#include "cli/cli.h"

static const struct cli_command commands[] = {
	{"info", cmd_info, "header, object and edge counts, top types"},
	{"dump", cmd_dump, "every object with its edges, one per line"},
	{"dominators", cmd_dominators, "what retains memory: roots, top retainers, dominator tree"},
	{"cycles", cmd_cycles, "reference cycles through coroutines, frames, tracebacks"},
	{"path", cmd_path, "the shortest chain of references from a root to an object"},
	{"leaks", cmd_leaks, "the leak checks: findings, what they retain, how to fix them"},
	{"tasks", cmd_tasks, "every asyncio task: state, await chain, referrers, retained size"},
	{"diff", cmd_diff, "what grew between snapshots, and what was born and stayed"},
	{"run", cmd_run, "run a program with the agent loaded (no change to it)"},
	{"ps", cmd_ps, "the running processes that have the agent"},
	{"take", cmd_take, "make a running process write a snapshot; print its path"},
	{"report", cmd_report, "one self-contained HTML page: findings, tasks, memory, cycles"},
	{"export", cmd_export, "Chrome/memlab heapsnapshot, Graphviz DOT, flame-graph stacks"},
};

static void usage(FILE *out)
{
	fputs("usage: asyncsnap [--version] [--help] COMMAND [ARGS]\n"
	      "\n"
	      "Analyze snapshots of Python asyncio programs taken by the asyncsnap agent\n"
	      "(python -c 'import asyncsnap; asyncsnap.take()').\n"
	      "\n"
	      "commands:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "'asyncsnap COMMAND --help' describes a command.\n"
	      "Exit status: 0 success, 1 findings reported, 2 usage or input error.\n", out);
}

int main(int argc, char **argv)
{
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return cli_finish_output(commands[i].run(argc - 1, argv + 1));
	return cli_usage_error(NULL, "unknown command '%s'", name);
}
