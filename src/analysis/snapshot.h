/*
 * snapshot.h - one loaded snapshot, as every command uses it: the graph and
 * the header facts that tell which process it is from, and in layers
 * computed once, when asked (at open or later): its asyncio facts, an index
 * by address that matches its objects to those of another snapshot of the
 * same process, and its retention (roots, dominators, retained sizes).
 */
#ifndef ASNAP_ANALYSIS_SNAPSHOT_H
#define ASNAP_ANALYSIS_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/aio.h"
#include "analysis/retention.h"
#include "analysis/usercode.h"
#include "graph/graph.h"

struct asnap_module_dict {
	uint32_t dict;              /* a module's globals */
	uint32_t name;              /* string id of the module's name */
};

struct asnap_snap {
	const char *path;           /* borrowed from the caller */
	struct asnap_graph *g;      /* NULL once shed (asnap_snap_shed) */
	uint32_t objects;           /* g->n, kept when shed */
	uint64_t edges;             /* g->m, kept when shed */
	/* the header, once the graph is shed (or only peeked at: moved out of
	 * it, or parsed alone); while g is there, g->header */
	struct cJSON *header;
	uint64_t bytes;             /* kept when shed: asnap_snap_bytes */
	struct asnap_aio aio;
	struct asnap_retention ret;
	bool has_aio;               /* ASNAP_SNAP_AIO: aio, code, module_dicts */
	bool has_match;             /* ASNAP_SNAP_MATCH: addr_slots, *_task, future_owner */
	bool no_addresses;          /* ASNAP_SNAP_NO_ADDRESSES: addr_slots stays NULL */
	bool has_ret;               /* ASNAP_SNAP_RETENTION: ret */
	int64_t pid;                /* -1 when the header has none */
	double process_start;       /* 0 when the header has none */
	int64_t seq;
	double time;
	bool gc_disabled;           /* the header says gc.disable() was in force */
	int64_t gc_threshold0;      /* gc.get_threshold()[0]; -1 when not said */
	int64_t gc_full;            /* full (generation 2) collections so far; -1 */
	double monotonic;           /* the header's time.monotonic() (loop time), or 0 */
	struct asnap_usercode code; /* library code versus the program's own */
	uint32_t *addr_slots;       /* open addressing, node + 1; 0 empty */
	uint64_t addr_mask;
	/* Who drives what, for telling objects apart across snapshots: per
	 * entry of aio.futures, the task awaiting that future; per entry of
	 * aio.coros, the task whose await chain runs it (ASNAP_NO_NODE: none). */
	uint32_t *future_task;
	uint32_t *coro_task;
	/* Per entry of aio.futures that no task awaits: the one task nearest
	 * to it against the references (whose coroutine holds what holds it). */
	uint32_t *future_owner;
	uint32_t module_type;       /* string id of builtins.module, or 0 */
	/* string ids of "__func__" and "__globals__" (0: none), looked up
	 * once: asnap_snap_is_user follows them for object after object */
	uint32_t func_label, globals_label;
	struct asnap_module_dict *module_dicts; /* sorted by dict */
	uint32_t nmodule_dicts;
};

/* The layers of a snapshot besides its graph and header facts. */
enum asnap_snap_layer {
	/* the asyncio facts (tasks, futures, coroutines, handles, ...), which
	 * code is the program's own, the modules' names */
	ASNAP_SNAP_AIO = 1u << 0,
	/* ASNAP_SNAP_AIO and what matches objects across snapshots and tells
	 * whose they are: the address index, the task driving each future and
	 * coroutine, the reverse references (4 bytes a reference) */
	ASNAP_SNAP_MATCH = 1u << 1,
	/* roots, components, dominator tree, retained sizes; asked at open, a
	 * big file is read in two passes around the dominators' working
	 * memory (asnap_retention_load), which lowers the peak */
	ASNAP_SNAP_RETENTION = 1u << 2,
	/* without the asyncio layers: the references' labels are not loaded
	 * (4 bytes a reference), for a command that never shows them */
	ASNAP_SNAP_NO_LABELS = 1u << 3,
	/* the last snapshot of a multi-snapshot command: no other's objects
	 * are looked up in it (asnap_snap_match's `in`), so ASNAP_SNAP_MATCH
	 * leaves out its address index (4 to 8 bytes an object) */
	ASNAP_SNAP_NO_ADDRESSES = 1u << 4,
	/* an earlier snapshot of a command that never shows its sizes (leaks:
	 * those of the findings are the last one's): the shallow sizes and
	 * reference counts are not loaded (8 bytes an object); ignored with
	 * ASNAP_SNAP_RETENTION, which needs them */
	ASNAP_SNAP_NO_SIZES = 1u << 5,
};

/*
 * Load path (kept, borrowed) with the layers asked (ASNAP_SNAP_*, or 0 for
 * the graph alone). NULL with *err on failure.
 */
struct asnap_snap *asnap_snap_load(const char *path, unsigned layers, struct asnap_error *err);
/*
 * The header facts of the snapshot at path (pid, seq, time, gc, ...) read
 * from its first section alone, as a shed snapshot has them (g NULL,
 * objects 0): what a command checks of all its snapshots before it loads
 * them one at a time. NULL with *err when the file is not a snapshot;
 * the rest of the file is not read (asnap_snap_load tells its damage).
 */
struct asnap_snap *asnap_snap_peek(const char *path, struct asnap_error *err);
/*
 * Add layers later (ASNAP_SNAP_*; each once, a no-op if it is there): they
 * read and write only s, so those of different snapshots can be computed
 * in different threads (but a snapshot's own one after another). 0, or -1
 * with *err.
 */
int asnap_snap_add_layers(struct asnap_snap *s, unsigned layers, struct asnap_error *err);
/* One layer each. */
int asnap_snap_aio(struct asnap_snap *s, struct asnap_error *err);
int asnap_snap_match_index(struct asnap_snap *s, struct asnap_error *err);
int asnap_snap_retention(struct asnap_snap *s, struct asnap_error *err);
/* NULL is a no-op. */
void asnap_snap_destroy(struct asnap_snap *s);
/*
 * Free everything of s but its header facts (path, pid, seq, time, ...),
 * its header, its counts of objects and references and its bytes: the
 * graph (s->g becomes NULL) and every layer. For a command done with a
 * snapshot before it is done with the others (leaks and report, with each
 * earlier one once its turn of the checks is over).
 */
void asnap_snap_shed(struct asnap_snap *s);
/* The header (a JSON object), of a loaded, shed or peeked snapshot; NULL
 * when a peeked one's is not valid JSON. */
const struct cJSON *asnap_snap_header(const struct asnap_snap *s);
/* The shallow sizes of s's objects summed (0 when loaded without them),
 * from its graph or, once shed, as they were. */
uint64_t asnap_snap_bytes(const struct asnap_snap *s);

/*
 * Where the program is for object v, in its own code: for a task, the
 * innermost coroutine of its await chain whose file is the program's own
 * (not the standard library, asyncio, site-packages), else the innermost
 * one; for a coroutine, the same from it down; for a frame, itself.
 * ASNAP_NO_NODE when v has none.
 */
uint32_t asnap_snap_site_node(const struct asnap_snap *s, uint32_t v);
/*
 * "file:line" of asnap_snap_site_node(s, v) into buf ("" if none). A
 * coroutine that has finished has no current line: its definition's line
 * is given. Returns buf.
 */
const char *asnap_snap_site(const struct asnap_snap *s, uint32_t v, char *buf, size_t len);
/* "file:line" of coroutine or frame v itself (no chain), into buf. */
const char *asnap_snap_own_site(const struct asnap_snap *s, uint32_t v, char *buf, size_t len);

/*
 * The name of the module whose globals dict `dict` is ("__main__",
 * "asyncio.events"), from sys.modules (the agent's root, labelled by module
 * name), or NULL.
 */
const char *asnap_snap_module_name(const struct asnap_snap *s, uint32_t dict);

/*
 * Is v the program's own code: a coroutine or frame of a file outside the
 * standard library and site-packages, a function or bound method (or a
 * handle's callback) of a module that is not library code, an instance of
 * a type whose module is not library code (when the header says which are)?
 */
bool asnap_snap_is_user(const struct asnap_snap *s, uint32_t v);

/*
 * The task object v belongs to: the one task (or coroutine of a task)
 * nearest to it against the references - within 4, through neither loops
 * nor modules - or ASNAP_NO_NODE when there is none or more than one.
 */
uint32_t asnap_snap_owner_task(const struct asnap_snap *s, uint32_t v);

/* The node at addr, or ASNAP_NO_NODE. s has its address index: it was not
 * loaded with ASNAP_SNAP_NO_ADDRESSES (asserted; none found if it was). */
uint32_t asnap_snap_find_addr(const struct asnap_snap *s, uint64_t addr);

/* Both from one process: the same pid and process start time. */
bool asnap_snap_same_process(const struct asnap_snap *a, const struct asnap_snap *b);

/*
 * The object of `in` that is object v of `from`: at the same address, of
 * the same type, and provably the same object, so that an address reused
 * by a new object is not taken for a survivor:
 *  - a task: the same name, and its coroutine at the same address with the
 *    same qualified name;
 *  - a future: awaited by the same task (or by none in both); one that no
 *    task awaits, belonging to the same task (the one task nearest to it
 *    against the references: a protocol's "closed" future belongs to its
 *    connection's handler task), or to none in both;
 *  - a coroutine or generator: the same qualified name, started in both or
 *    in neither, run by the same task (or by none in both); one not yet
 *    started, references to the same objects (its arguments);
 *  - a frame: the same function and first line, and, once it no longer
 *    runs (no live generator owns it), the same line and references to the
 *    same objects (its locals: a new frame of that function at a reused
 *    address refers to others);
 *  - a handle: the same callback name; a timer's deadline (`when`, fixed at
 *    creation) is the same, another handle's callback is the same object.
 * Only meaningful for snapshots of one process. ASNAP_NO_NODE if none.
 */
uint32_t asnap_snap_match(const struct asnap_snap *from, uint32_t v, const struct asnap_snap *in);

#endif
