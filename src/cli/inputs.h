/*
 * inputs.h - what the commands read: snapshots, with the layers they need
 * (analysis/snapshot.h), and the rules of the leak checks.
 */
#ifndef ASNAP_CLI_INPUTS_H
#define ASNAP_CLI_INPUTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "analysis/checks.h"
#include "analysis/rules.h"
#include "analysis/snapshot.h"

/*
 * The snapshot at path with the layers asked (ASNAP_SNAP_*), or NULL with
 * the error said. With warn, the warnings the agent wrote into it (a walk
 * cut short, ...) are said on standard error.
 */
struct asnap_snap *cli_snap_load(const char *path, unsigned layers, bool warn);
/*
 * What `dominators`, `cycles` and `path` load: the retention, and for
 * --json the asyncio facts that complete the one object shape (the text
 * names objects from their records; 5 bytes an object less without).
 */
static inline unsigned cli_retention_layers(bool json)
{
	return ASNAP_SNAP_RETENTION | (json ? ASNAP_SNAP_AIO : 0);
}

/* The n snapshots at paths, warnings said, all or none: NULL with the
 * error said. Free with cli_snaps_destroy. Each with `layers`; all but the
 * last also with `earlier` (ASNAP_SNAP_NO_SIZES: a command that shows no
 * sizes of theirs), the last without an address index (nothing is looked
 * up in it: ASNAP_SNAP_NO_ADDRESSES). */
struct asnap_snap **cli_snaps_load(char **paths, uint32_t n, unsigned layers, unsigned earlier);
/* NULL is a no-op. */
void cli_snaps_destroy(struct asnap_snap **snaps, uint32_t n);

/*
 * The built-in rules and those of rules_path (NULL for none) into *rules
 * (initialized by the caller, and released by it either way), and the n
 * snapshots at paths as the checks read them in turns
 * (asnap_checks_run_input), for a command that shows no more of the
 * earlier snapshots than their header facts and totals (leaks, report):
 * st->in holds the n snapshots' header facts
 * (asnap_snap_peek), and loads each in its turn, warnings said - the last
 * with its retention and without an address index, the earlier ones with
 * `earlier` - so that no more than two are in memory at once. False with
 * the error said. When the checks fail in a load, st->failed is the path
 * whose load failed (else NULL). Close with cli_checks_stream_close.
 */
struct cli_checks_stream {
	struct asnap_checks_input in;
	char **paths;
	unsigned earlier;
	const char *failed;
	/* the first earlier snapshot, read ahead in a thread of its own */
	bool ahead;
	pthread_t ahead_thread;
	struct asnap_snap *ahead_snap;
	struct asnap_error ahead_err;
};
bool cli_checks_stream_open(struct cli_checks_stream *st, const char *rules_path, char **paths,
			    uint32_t n, struct asnap_rules *rules, unsigned earlier);
void cli_checks_stream_close(struct cli_checks_stream *st);
#endif
