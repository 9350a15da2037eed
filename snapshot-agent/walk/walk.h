/*
 * walk.h - write a snapshot of the Python heap from C.
 *
 * The walk runs with the GIL held and the cycle collector paused, runs no
 * Python code, and allocates no Python objects that outlive a single size
 * query: what it writes is the heap as the application left it.
 */
#ifndef ASNAP_AGENT_WALK_H
#define ASNAP_AGENT_WALK_H

#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include "asyncsnap/error.h"

/* Python objects the walk needs, made once when the module loads. */
struct asnap_walk_names {
	PyObject *sizeof_name;    /* "__sizeof__" */
	PyObject *object_sizeof;  /* object.__dict__["__sizeof__"] */
};

struct asnap_walk_options {
	bool values;  /* record str/bytes contents (a short prefix) */
	int level;    /* zstd level, 0 for the default */
	bool no_fsync;
	bool tracemalloc; /* tracemalloc is tracing: record allocation sites */
	const char *tmp_tag; /* names the temporary file (asnap_writer_options) */
	bool fork_child;     /* in fork mode's child: start no thread */
	/* NULL, or the allocator's blocks (before the walk starts): sizes a
	 * first walk */
	size_t (*blocks)(void);
};

struct asnap_walk_stats {
	uint64_t objects;
	uint64_t tracked;
	uint64_t edges;
	uint64_t file_bytes;
	uint64_t file_dev, file_ino; /* of the file written (asnap_writer_file_id) */
	double walk_ms;          /* finding and writing the objects */
	double pause_ms;         /* the whole call: what the caller waited */
};

/*
 * Write a snapshot of every object the collector tracks, and everything
 * they reference, to `path` (through a temporary file renamed on success).
 * header_json is the header object (docs/FORMAT.md), written as given; the
 * counts go to the trailer, known only at the end. Requires the GIL.
 * Returns 0, or -1 with *err filled.
 */
int asnap_walk_snapshot(const char *path, const char *header_json,
			const struct asnap_walk_names *names,
			const struct asnap_walk_options *opts,
			struct asnap_walk_stats *stats, struct asnap_error *err);

#endif
