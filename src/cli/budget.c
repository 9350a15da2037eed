/*
 * budget.c - the memory budget of the commands that read snapshots: its
 * default (from the memory available), --max-memory and
 * ASYNCSNAP_MAX_MEMORY (docs/ANALYZE.md "Memory budget").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "graph/graph.h"

bool cli_parse_size(const char *arg, uint64_t *out)
{
	const char *p = arg;
	if (!isdigit((unsigned char)*p))
		return false;
	/* digits [. digits], by hand: no locale, no exponent, no sign */
	uint64_t whole = 0;
	while (isdigit((unsigned char)*p)) {
		if (whole > (UINT64_MAX - 9) / 10)
			return false;
		whole = whole * 10 + (uint64_t)(*p++ - '0');
	}
	double frac = 0, scale = 1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p)) {
			scale /= 10;
			frac += scale * (*p++ - '0');
		}
	}
	static const char units[] = "KMGT";
	unsigned shift = 0;
	const char *u = *p ? strchr(units, toupper((unsigned char)*p)) : NULL;
	if (u) {
		shift = 10 * (unsigned)(u - units + 1);
		p++;
		if (*p == 'i' || *p == 'I')
			p++;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return false;
	double v = ((double)whole + frac) * (double)((uint64_t)1 << shift);
	if (v < 1 || v >= 9.2e18)
		return false;
	*out = (uint64_t)v;
	return true;
}

/* A number from a "Key:   123 kB" line of /proc/meminfo, in bytes; 0 if
 * absent. */
static uint64_t meminfo(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return 0;
	char line[256];
	size_t n = strlen(key);
	uint64_t v = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = strtoull(line + n + 1, NULL, 10) * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

/* A number alone in a file (cgroup v2 memory.max, memory.current); 0 if
 * none ("max", or no such file). */
static uint64_t number_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char buf[64] = "";
	uint64_t v = 0;
	if (fgets(buf, sizeof(buf), f) && isdigit((unsigned char)buf[0]))
		v = strtoull(buf, NULL, 10);
	fclose(f);
	return v;
}

uint64_t cli_default_budget(void)
{
	/* what can be had without swapping: MemAvailable (free memory plus
	 * what the kernel can reclaim), else half the physical memory */
	uint64_t avail = meminfo("MemAvailable");
	if (!avail) {
		long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
		avail = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 2 : 0;
	}
	if (!avail)
		avail = (uint64_t)4 << 30;
	/* a container's limit (cgroup v2), which MemAvailable does not show */
	uint64_t max = number_file("/sys/fs/cgroup/memory.max");
	if (max) {
		uint64_t cur = number_file("/sys/fs/cgroup/memory.current");
		uint64_t left = max > cur ? max - cur : 0;
		if (left < avail)
			avail = left;
	}
	/* and the address space this process may have (ulimit -v) */
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)rl.rlim_cur < avail)
		avail = (uint64_t)rl.rlim_cur;
	/* three quarters: the estimate is an estimate, and the rest of the
	 * machine goes on */
	uint64_t budget = avail / 4 * 3;
	return budget ? budget : 1;
}

static const char size_examples[] = "a size such as 512M, 2G, 1.5GiB or a number of bytes";

int cli_budget_init(enum cli_reads reads)
{
	if (reads == CLI_READS_NOTHING)
		return EXIT_OK;
	if (reads == CLI_READS_AND_ANALYZES) {
		asnap_graph_budget.node_work = ASNAP_WORK_RETENTION_NODE;
		asnap_graph_budget.edge_work = ASNAP_WORK_RETENTION_EDGE;
	}
	const char *env = getenv("ASYNCSNAP_MAX_MEMORY");
	uint64_t limit = 0;
	if (env && *env && !cli_parse_size(env, &limit)) {
		cli_error("ASYNCSNAP_MAX_MEMORY needs %s, not '%s'", size_examples, env);
		return EXIT_ERROR;
	}
	/* --max-memory before the command has set it already; after the
	 * command, it will */
	if (!asnap_graph_budget.meter.limit)
		asnap_graph_budget.meter.limit = limit ? limit : cli_default_budget();
	return EXIT_OK;
}

bool cli_max_memory_option(const char *command, const char *arg)
{
	uint64_t limit;
	if (!cli_parse_size(arg, &limit)) {
		cli_usage_error(command, "--max-memory needs %s, not '%s'", size_examples, arg);
		return false;
	}
	asnap_graph_budget.meter.limit = limit;
	return true;
}
