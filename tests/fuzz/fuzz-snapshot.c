/*
 * fuzz-snapshot.c - libFuzzer targets for the snapshot reader and the
 * analyses that follow it.
 *
 * Built twice (tests/fuzz/run.sh):
 *
 *   fuzz-reader   the input is a whole file: preamble, zstd frame and all.
 *                 Only the reader runs; most mutations end at the zstd
 *                 layer (checksum), which is what this target is for.
 *   fuzz-analyze  (-DFUZZ_BODY) the input is the decompressed chunk stream;
 *                 the harness adds the preamble and compresses it with a
 *                 valid checksum, so every mutation reaches the chunk
 *                 parser, and a file the reader accepts goes on through
 *                 everything `asyncsnap leaks`, `dominators` and `cycles`
 *                 do: graph load, asyncio facts, roots, dominators,
 *                 components, cycles, the leak checks and their renderers.
 *
 * The reader opens a path, so the file is a memfd seen as /proc/self/fd/N.
 *
 * Both run under a memory budget of FUZZ_BUDGET_MB (the analyzer's
 * --max-memory, with the working memory `leaks` allows for; run.sh gives
 * fuzz-analyze a smaller one than the default, since its inputs are not
 * compressed): an input that claims more must be refused, every charge
 * must be given back, and run.sh's -malloc_limit_mb and -rss_limit_mb, set
 * just above it, make anything that allocates past it a crash
 * (docs/ANALYZE.md "Memory budget").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include "analysis/checks.h"
#include "graph/graph.h"
#include "analysis/retention.h"
#include "analysis/rules.h"
#include "analysis/snapshot.h"
#include "asyncsnap/format.h"
#include "render/collapsed.h"
#include "render/dot.h"
#include "render/leaks.h"
#include "render/retention.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_BUDGET_MB
#define FUZZ_BUDGET_MB 64
#endif
#define FUZZ_BUDGET ((uint64_t)FUZZ_BUDGET_MB << 20)

static FILE *devnull;
static struct asnap_rules rules;

static void init_once(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	asnap_graph_budget.meter.limit = FUZZ_BUDGET;
	asnap_graph_budget.node_work = ASNAP_WORK_RETENTION_NODE;
	asnap_graph_budget.edge_work = ASNAP_WORK_RETENTION_EDGE;
	devnull = fopen("/dev/null", "w");
	asnap_rules_init(&rules);
	struct asnap_error err = {0};
	if (!devnull || asnap_rules_add_json(&rules, asnap_builtin_rules, &err) < 0)
		abort();
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

#ifdef FUZZ_BODY
/* The 24-byte preamble of docs/FORMAT.md section 2: version 2, needs 2
 * (every edge kind allowed, index labels included). */
static const uint8_t preamble[24] = {
	0x5a, 0x2a, 0x4d, 0x18, 16, 0, 0, 0, 'A', 'S', 'Y', 'N', 'C', 'S', 'N', 'P',
	2, 0, 0, 0, 2, 0, 0, 0,
};

static int write_file(int fd, const uint8_t *data, size_t size)
{
	static ZSTD_CCtx *cctx;
	if (!cctx) {
		cctx = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	}
	size_t cap = ZSTD_compressBound(size);
	void *buf = malloc(cap);
	if (!buf)
		return -1;
	size_t n = ZSTD_compress2(cctx, buf, cap, data, size);
	int rc = ZSTD_isError(n) || write_all(fd, preamble, sizeof(preamble)) < 0 ||
			 write_all(fd, buf, n) < 0 ? -1 : 0;
	free(buf);
	return rc;
}

static void analyze(const char *path)
{
	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(path, ASNAP_SNAP_MATCH, &err);
	if (!s)
		return;
	struct asnap_findings findings = {0};
	struct asnap_checks_options opt = {.mask = ASNAP_CHECKS_ALL, .rules = &rules};
	if (asnap_checks_run(&s, 1, &opt, &findings, &err) == 0) {
		struct asnap_leaks_view lv = {&s, 1, &findings, 5};
		asnap_render_leaks_text(devnull, &lv);
		asnap_render_leaks_json(devnull, &lv);
	}
	asnap_findings_release(&findings);
	if (asnap_snap_retention(s, &err) == 0) {
		struct asnap_cycle *cycles = NULL;
		uint32_t count = 0;
		struct asnap_cycles_stats stats;
		if (asnap_cycles_search(&s->ret, &cycles, &count, &stats, &err) == 0) {
			struct asnap_cycles_view cv = {s, cycles, count, &stats};
			asnap_render_cycles_text(devnull, &cv);
			asnap_render_dot_cycles(devnull, &cv);
			asnap_cycles_free(cycles, count);
		}
		asnap_render_collapsed(devnull, &s->ret, 64, &err);
		struct asnap_dominators_view dv = {s, 10, 3, NULL};
		asnap_render_dominators_text(devnull, &dv);
		asnap_render_dominators_json(devnull, &dv);
	}
	asnap_snap_destroy(s);
}
#else
static int write_file(int fd, const uint8_t *data, size_t size)
{
	return write_all(fd, data, size);
}

static void analyze(const char *path)
{
	struct asnap_error err = {0};
	struct asnap_reader *r = asnap_reader_open(path, &err);
	if (!r)
		return;
	struct asnap_budget budget = {.limit = FUZZ_BUDGET};
	asnap_reader_set_budget(r, &budget);
	struct asnap_item it;
	while (asnap_reader_next(r, &it, &err) == 1) {
		if (it.kind == ASNAP_ITEM_NODE && it.u.node.type)
			(void)asnap_reader_string(r, it.u.node.type, NULL);
	}
	asnap_reader_destroy(r);
	if (budget.used || budget.buffers)
		abort();
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	int fd = memfd_create("fuzz.snap", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (write_file(fd, data, size) == 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		analyze(path);
#ifdef FUZZ_BODY
		/* everything charged was given back */
		if (asnap_graph_budget.meter.used || asnap_graph_budget.meter.buffers)
			abort();
#endif
	}
	close(fd);
	return 0;
}
