/*
 * inputs.c - see inputs.h.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cli/cli.h"
#include "cli/inputs.h"
#include "util/bigarray.h"

/*
 * The analyses of whole snapshots (leaks, tasks, diff, report: those with
 * the matching layer) allocate and free arrays of a few bytes per object,
 * phase after phase (the reverse index, a finding's marks, a breadth-first
 * queue). Left to glibc's sliding threshold, an array freed raises the
 * threshold and the next one of its size comes from the heap, which is
 * trimmed and refaulted again and again (leaks on two 9.7M snapshots: 7.4 to
 * 8.8 s). Kept in the heap instead (no mapping at all), every phase's
 * arrays piled up: a freed one is broken into by small allocations made
 * after it and never fits the next phase's again, so the peak was the sum
 * of the phases (leaks on three 2.1M snapshots: 364 MiB loaded, 589 MiB at
 * the end). So: every block of ASNAP_BIG_MIN and more (bigarray.h: the
 * per-node and per-edge arrays, placed on huge pages, one fault per 2 MiB)
 * is a mapping of its own, given back when freed, at a fixed threshold
 * that never slides; smaller ones stay in a heap that is never trimmed.
 * The peak is the largest phase's (586 -> 442 MiB there; 2.06 -> 1.86 GiB
 * and 4.1-6.1 -> 3.5-3.7 s on three 10M snapshots).
 */
static void set_malloc_for_phases(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, (int)ASNAP_BIG_MIN);
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	/* one arena: the second thread's (layers_run) would be another heap */
	mallopt(M_ARENA_MAX, 1);
#endif
}

struct asnap_snap *cli_snap_load(const char *path, unsigned layers, bool warn)
{
	struct asnap_error err = {0};
	if (layers & ASNAP_SNAP_MATCH)
		set_malloc_for_phases();
	struct asnap_snap *s = asnap_snap_load(path, layers, &err);
	if (!s)
		cli_file_error(path, &err);
	else if (warn)
		cli_snapshot_warnings(s->g, path);
	return s;
}

/* A snapshot's layers, computed beside the loading of the next one. */
struct layers_job {
	struct asnap_snap *s;
	unsigned layers;
	struct asnap_error err;
	int rc;
	pthread_t thread;
	bool running;
};

static void *layers_run(void *arg)
{
	struct layers_job *j = arg;
	j->rc = asnap_snap_add_layers(j->s, j->layers, &j->err);
	return NULL;
}

/* Compute j's layers: in a thread of their own if one can be started. */
static void layers_start(struct layers_job *j, struct asnap_snap *s, unsigned layers)
{
	*j = (struct layers_job){.s = s, .layers = layers};
	j->running = pthread_create(&j->thread, NULL, layers_run, j) == 0;
	if (!j->running)
		layers_run(j);
}

/* Wait for j; false with the error said. */
static bool layers_finish(struct layers_job *j)
{
	if (!j->s)
		return true;
	if (j->running)
		pthread_join(j->thread, NULL);
	j->running = false;
	if (j->rc < 0)
		cli_file_error(j->s->path, &j->err);
	j->s = NULL;
	return j->rc == 0;
}

/*
 * The snapshots are independent: while one is read (the main thread, the
 * only one that charges the memory budget), the asyncio facts and indexes
 * of the one before are computed in a second thread. Both cores work: three
 * snapshots load in about the time of their reading alone.
 */
struct asnap_snap **cli_snaps_load(char **paths, uint32_t n, unsigned layers, unsigned earlier)
{
	struct asnap_snap **snaps = calloc(n ? n : 1, sizeof(*snaps));
	if (!snaps) {
		cli_error("out of memory");
		return NULL;
	}
	if (layers & ASNAP_SNAP_MATCH)
		set_malloc_for_phases();
	struct layers_job job = {0};
	uint32_t i;
	for (i = 0; i < n; i++) {
		/* the objects of the last are looked up in the earlier ones,
		 * never the other way round (asnap_snap_match) */
		unsigned role = i + 1 < n ? earlier : ASNAP_SNAP_NO_ADDRESSES;
		snaps[i] = cli_snap_load(paths[i], role & ASNAP_SNAP_NO_SIZES, true);
		if (!layers_finish(&job) || !snaps[i])
			goto error;
		layers_start(&job, snaps[i], layers | (role & ASNAP_SNAP_NO_ADDRESSES));
	}
	if (layers_finish(&job))
		return snaps;
error:
	cli_snaps_destroy(snaps, i < n ? i + 1 : n);
	return NULL;
}

void cli_snaps_destroy(struct asnap_snap **snaps, uint32_t n)
{
	if (!snaps)
		return;
	for (uint32_t i = 0; i < n; i++)
		asnap_snap_destroy(snaps[i]);
	free(snaps);
}

/*
 * Snapshot i as its turn wants it: an earlier one with st->earlier; the
 * last without an address index, and its retention computed now, before
 * the first earlier one is read beside it. Read once: the dominators'
 * working memory over the whole graph (about 630 MiB at 10M objects) stays
 * below the turns' peak, the last beside an earlier one (1.1 GiB), and a
 * second reading of the file (ASNAP_SNAP_RETENTION) costs 0.4 s.
 */
static struct asnap_snap *stream_read(struct cli_checks_stream *st, uint32_t i,
				      struct asnap_error *err)
{
	uint32_t L = st->in.nsnap - 1;
	unsigned layers = ASNAP_SNAP_MATCH | (i == L ? ASNAP_SNAP_NO_ADDRESSES : st->earlier);
	struct asnap_snap *s = asnap_snap_load(st->paths[i], layers, err);
	if (s && i == L && asnap_snap_retention(s, err) < 0) {
		asnap_snap_destroy(s);
		return NULL;
	}
	return s;
}

static void *stream_ahead(void *arg)
{
	struct cli_checks_stream *st = arg;
	st->ahead_snap = stream_read(st, 0, &st->ahead_err);
	return NULL;
}

/*
 * The checks' turns. The first earlier snapshot is read in a second
 * thread while the checks read the last one alone (the time of its
 * loading, 1.1 of 1.4 s at 10M objects, is saved; the memory is that of
 * its own turn, which comes next). The others are read in their turns:
 * reading one ahead would hold three snapshots at once.
 */
static int stream_load(void *arg, uint32_t i, struct asnap_error *err)
{
	struct cli_checks_stream *st = arg;
	uint32_t L = st->in.nsnap - 1;
	struct asnap_snap *s;
	if (i == 0 && st->ahead) {
		pthread_join(st->ahead_thread, NULL);
		st->ahead = false;
		s = st->ahead_snap;
		st->ahead_snap = NULL;
		*err = st->ahead_err;
	} else {
		s = stream_read(st, i, err);
	}
	if (!s) {
		st->failed = st->paths[i];
		return -1;
	}
	cli_snapshot_warnings(s->g, st->paths[i]);
	asnap_snap_destroy(st->in.snaps[i]);
	st->in.snaps[i] = s;
	if (i == L && L > 0)
		st->ahead = pthread_create(&st->ahead_thread, NULL, stream_ahead, st) == 0;
	return 0;
}

bool cli_checks_stream_open(struct cli_checks_stream *st, const char *rules_path, char **paths,
			    uint32_t n, struct asnap_rules *rules, unsigned earlier)
{
	*st = (struct cli_checks_stream){.paths = paths, .earlier = earlier};
	struct asnap_error err = {0};
	if (asnap_rules_add_json(rules, asnap_builtin_rules, &err) < 0) {
		cli_error("built-in rules: %s", err.message);
		return false;
	}
	if (rules_path && asnap_rules_add_file(rules, rules_path, &err) < 0) {
		cli_error("cannot read rules '%s': %s", rules_path, err.message);
		return false;
	}
	st->in = (struct asnap_checks_input){.nsnap = n, .load = stream_load, .arg = st};
	if (!(st->in.snaps = calloc(n ? n : 1, sizeof(*st->in.snaps)))) {
		cli_error("out of memory");
		return false;
	}
	set_malloc_for_phases();
	for (uint32_t i = 0; i < n; i++) {
		if (!(st->in.snaps[i] = asnap_snap_peek(paths[i], &err))) {
			cli_file_error(paths[i], &err);
			cli_checks_stream_close(st);
			return false;
		}
	}
	return true;
}

void cli_checks_stream_close(struct cli_checks_stream *st)
{
	if (st->ahead) {
		pthread_join(st->ahead_thread, NULL);
		st->ahead = false;
	}
	asnap_snap_destroy(st->ahead_snap);
	st->ahead_snap = NULL;
	cli_snaps_destroy(st->in.snaps, st->in.nsnap);
	st->in.snaps = NULL;
}

