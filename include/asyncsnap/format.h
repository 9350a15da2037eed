/*
 * asyncsnap/format.h - read and write asyncsnap snapshot files.
 *
 * The byte layout is specified in docs/FORMAT.md. This library is the only
 * code that knows it; the agent writes through asnap_writer and the
 * analyzer reads through asnap_reader. Both stream: neither holds the file
 * in memory.
 *
 * A snapshot is a graph. Nodes (objects) have dense ids 0..N-1 in file
 * order, an address, a type name, a shallow size, a reference count and
 * flags; each node carries its outgoing edges, each edge a target id, a
 * label and a kind. Records attach typed properties of one kind
 * ("coroutine", "task", ...) to a node. Roots name nodes the program holds
 * from outside the object graph. All text (type names, labels, property
 * strings) lives in a string table and is referred to by id; id 0 is the
 * empty string and means "none".
 */
#ifndef ASYNCSNAP_FORMAT_H
#define ASYNCSNAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asyncsnap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format version this library writes, and the newest it reads. */
#define ASNAP_FORMAT_VERSION 2u

/* Node flags (docs/FORMAT.md "Node flags"). */
#define ASNAP_NODE_GC_TRACKED 0x1u /* tracked by the cycle collector */
#define ASNAP_NODE_SYNTHETIC  0x2u /* not a Python object (e.g. a thread frame) */
#define ASNAP_NODE_IMMORTAL   0x4u /* an immortal object (3.12+) */

/* Edge kinds, and the flag that can be or-ed into either. */
enum asnap_edge_kind {
	ASNAP_EDGE_STRONG = 0, /* a counted reference: keeps its target alive */
	ASNAP_EDGE_WEAK = 1,   /* never keeps its target alive */
	/*
	 * Format 2: the label is not a string id but an index i, and reads
	 * "[i]" (a list's or tuple's item). The writer needs no string for it;
	 * the reader hands the edge over with this flag and label = i, and once
	 * the file is read defines the strings "[0]" ... (see
	 * asnap_reader_index_base).
	 */
	ASNAP_EDGE_INDEX = 2,
};

struct asnap_edge {
	uint32_t target; /* node id */
	uint32_t label;  /* string id, 0 for none; the index with ASNAP_EDGE_INDEX */
	uint8_t kind;    /* enum asnap_edge_kind: STRONG or WEAK, maybe | INDEX */
};

struct asnap_node {
	uint32_t id;      /* dense, in file order */
	uint32_t type;    /* string id of the module-qualified type name */
	uint64_t addr;
	uint64_t size;    /* shallow size in bytes */
	uint64_t refcnt;
	uint32_t flags;   /* ASNAP_NODE_* */
	uint32_t nedges;
	const struct asnap_edge *edges;
};

enum asnap_value_type {
	ASNAP_VAL_NONE = 0,
	ASNAP_VAL_BOOL = 1,
	ASNAP_VAL_INT = 2,
	ASNAP_VAL_FLOAT = 3,
	ASNAP_VAL_STR = 4,  /* string id */
	ASNAP_VAL_NODE = 5, /* node id */
	ASNAP_VAL_LIST = 6,
};

/* Lists nest at most this deep; deeper ones are refused as corrupt. */
#define ASNAP_VALUE_MAX_DEPTH 8

struct asnap_value {
	enum asnap_value_type type;
	union {
		bool b;
		int64_t i;
		double f;
		uint32_t str;
		uint32_t node;
		struct {
			uint32_t count;
			const struct asnap_value *items;
		} list;
	} u;
};

struct asnap_prop {
	uint32_t key; /* string id */
	struct asnap_value value;
};

struct asnap_record {
	uint32_t node; /* the node described */
	uint32_t kind; /* string id: "coroutine", "task", ... */
	uint32_t nprops;
	const struct asnap_prop *props;
};

struct asnap_root {
	uint32_t node;
	uint32_t kind;  /* string id: "sys.modules", "thread", ... */
	uint32_t label; /* string id, 0 for none */
};

/* What the end record of a file says; the reader checks it. */
struct asnap_totals {
	uint64_t strings;
	uint64_t nodes;
	uint64_t edges;
	uint64_t records;
	uint64_t roots;
};

/* ---- writer ---------------------------------------------------------- */

struct asnap_writer_options {
	int level;       /* zstd level; 0 means the default (3) */
	bool no_fsync;   /* skip fsync before the rename (tests, benchmarks) */
	int workers;     /* zstd worker threads; 0 compresses in the caller */
	/* the temporary file is .asyncsnap-<tmp_tag>-XXXXXX.tmp (tag: up to 32
	 * letters and digits; anything else is refused), so that whoever made
	 * the tag can find it again; NULL: .asyncsnap-XXXXXX.tmp */
	const char *tmp_tag;
};

struct asnap_writer;

/*
 * Start a snapshot that will become `path`. The bytes go to a new
 * temporary file beside it (same directory, mode 0600, a random name that
 * does not reveal `path`: .asyncsnap-XXXXXX.tmp), which asnap_writer_commit
 * renames to `path`; until then `path` is untouched. A symbolic link to a
 * regular file: the file it names is replaced that way, the link stays.
 * When `path` is not a regular file (a device such as /dev/null, a FIFO,
 * /dev/stdout on a pipe) or a link to nothing, it is opened and written in
 * place instead, as a stream: no temporary file, no rename, no fsync, and
 * the preamble says needs-version 2 from the start (it cannot be rewritten
 * at commit). opts may be NULL. Returns NULL and fills *err on failure.
 */
/*
 * Where an output named path goes, by the rule asnap_writer_create follows
 * (and the asyncsnap command's -o): the file to rename a finished
 * temporary file onto (malloc'd: path, or the regular file a symbolic link
 * names), or NULL with *in_place true when path is to be opened and
 * written as it is (not a regular file, or a link to nothing). NULL with
 * *in_place false: out of memory.
 */
char *asnap_output_dest(const char *path, bool *in_place);

struct asnap_writer *asnap_writer_create(const char *path,
					 const struct asnap_writer_options *opts,
					 struct asnap_error *err);

/*
 * Errors are sticky: after the first failure every call is a no-op that
 * returns -1, and commit reports the first error. Calls return 0 on
 * success.
 */

/* The JSON header object (docs/FORMAT.md "Header"). Call once, first. */
int asnap_writer_header(struct asnap_writer *w, const char *json, size_t len);

/*
 * The id of a string, adding it to the table if new. Any bytes are
 * allowed, up to ASNAP_STRING_MAX. Returns 0 for the empty string, and 0
 * after an error (check asnap_writer_failed).
 */
#define ASNAP_STRING_MAX (1u << 20)
uint32_t asnap_writer_intern(struct asnap_writer *w, const char *s, size_t len);
uint32_t asnap_writer_intern_cstr(struct asnap_writer *w, const char *s);

/*
 * Append a node; node->id must be the number of nodes written so far. An
 * edge with ASNAP_EDGE_INDEX has an index for label (at most
 * ASNAP_INDEX_MAX); a file with one is format 2 (needs-version 2), any
 * other file stays readable by format 1 readers.
 */
#define ASNAP_INDEX_MAX 0x7FFFFFFEu
int asnap_writer_node(struct asnap_writer *w, const struct asnap_node *node);

int asnap_writer_record(struct asnap_writer *w, const struct asnap_record *rec);
int asnap_writer_root(struct asnap_writer *w, const struct asnap_root *root);

/* Nodes written so far. */
uint32_t asnap_writer_node_count(const struct asnap_writer *w);

bool asnap_writer_failed(const struct asnap_writer *w);

/*
 * Write the end record (with an optional JSON trailer object, NULL for
 * none), check that every referenced node exists, flush, fsync and rename
 * the temporary file to its final path. On failure the temporary file is
 * removed and *err says why. Compressed bytes written go to *out_bytes if
 * not NULL.
 */
int asnap_writer_commit(struct asnap_writer *w, const char *trailer_json,
			size_t trailer_len, uint64_t *out_bytes,
			struct asnap_error *err);

/*
 * The device and inode of the file a successful commit put at `path`, as
 * read from the writer's own descriptor before the rename: whoever asked
 * for the snapshot can tell it from a file put there by someone else.
 * 0 and 0 before a successful commit.
 */
void asnap_writer_file_id(const struct asnap_writer *w, uint64_t *dev, uint64_t *ino);

/* Free the writer; an uncommitted snapshot's temporary file is removed.
 * NULL is a no-op. */
void asnap_writer_destroy(struct asnap_writer *w);

/* ---- memory budget --------------------------------------------------- */

/*
 * A memory budget for reading a file and for what is built from it. Whoever
 * is about to allocate memory whose size the file decides charges it here
 * first, and gives up when the charge is refused: the process never holds
 * much more than `limit` for the file, however little of the file it took
 * to claim it (a zstd frame can inflate 30000:1). The reader charges its
 * own buffers and the string table once a budget is set on it
 * (asnap_reader_set_budget); a caller building from the items charges what
 * it keeps. Bytes are charged as needed, not as reserved: arrays grown by
 * doubling may reserve address space beyond the charge, never resident
 * until written. Not thread-safe.
 */
struct asnap_budget {
	uint64_t limit;     /* bytes; 0 means no limit */
	uint64_t used;      /* bytes charged and not credited back */
	uint64_t buffers;   /* of which buffers that do not grow with the file */
	/* Set by the reader: the size of the file and how much of it has been
	 * read, so that a refusal can say what the whole file would need. */
	uint64_t file_size;
	uint64_t file_read;
};

/*
 * Charge `bytes` before allocating them. 0, or -1 with *err set to
 * ASNAP_ERR_BUDGET ("it needs about 9.1 GiB, more than the memory budget of
 * 4.0 GiB", the estimate extrapolated from the part of the file read so
 * far); nothing is charged then. b NULL or without a limit accepts anything.
 */
int asnap_budget_charge(struct asnap_budget *b, uint64_t bytes, struct asnap_error *err);

/* The same for a buffer whose size does not grow with the file (one chunk,
 * the decompressor's window): not extrapolated in the estimate. Credit it
 * back with asnap_budget_credit_buffer. */
int asnap_budget_charge_buffer(struct asnap_budget *b, uint64_t bytes, struct asnap_error *err);
void asnap_budget_credit_buffer(struct asnap_budget *b, uint64_t bytes);

/* Give back bytes charged earlier. b may be NULL. */
void asnap_budget_credit(struct asnap_budget *b, uint64_t bytes);

/*
 * Refuse a file that is known to need `need` bytes (a count it declares,
 * for instance) when that is over the limit: -1 with *err as above, else 0.
 */
int asnap_budget_check(const struct asnap_budget *b, uint64_t need, struct asnap_error *err);

/* "9.1 GiB", "512.0 MiB", "100 bytes" into buf (at least 16 bytes). */
const char *asnap_budget_format(uint64_t bytes, char *buf, size_t size);

/* ---- reader ---------------------------------------------------------- */

enum asnap_item_kind {
	ASNAP_ITEM_HEADER = 1,
	ASNAP_ITEM_NODE,
	ASNAP_ITEM_RECORD,
	ASNAP_ITEM_ROOT,
	ASNAP_ITEM_EDGES, /* more edges of the node read just before */
	ASNAP_ITEM_END,
};

struct asnap_item {
	enum asnap_item_kind kind;
	union {
		struct {
			const char *json; /* NUL-terminated */
			size_t len;
		} header;
		struct asnap_node node;
		struct asnap_record record;
		struct asnap_root root;
		struct {
			uint32_t node;
			uint32_t nedges;
			const struct asnap_edge *edges;
		} edges;
		struct {
			struct asnap_totals totals;
			const char *trailer; /* JSON object or NULL */
			size_t trailer_len;
		} end;
	} u;
};

struct asnap_reader;

/* Open a snapshot and check its preamble. NULL and *err on failure. */
struct asnap_reader *asnap_reader_open(const char *path, struct asnap_error *err);

/*
 * A second reader of r's file, from its start, through r's open descriptor
 * (a file renamed over the path since does not matter). Fails for what is
 * not a regular file, and for a file changed in place (size or modification
 * time) since r was opened. NULL and *err on failure.
 */
struct asnap_reader *asnap_reader_reopen(const struct asnap_reader *r, struct asnap_error *err);

/*
 * Read the next item. Returns 1 with *item filled, 0 after the end item
 * once the whole file has been verified (checksum, counts, references), or
 * -1 with *err filled. Pointers in *item are borrowed until the next call.
 * The header always comes first and the end item last. A node with very
 * many edges is followed by ASNAP_ITEM_EDGES items carrying the rest of its
 * edges, in order. Nothing is known to be intact until 0 is returned: the
 * checksum covers the whole body and is checked at its end.
 */
int asnap_reader_next(struct asnap_reader *r, struct asnap_item *item,
		      struct asnap_error *err);

/*
 * A string by id, borrowed for the life of the reader; *len (if not NULL)
 * gets its length. Strings may hold any bytes but are always followed by a
 * NUL. Returns NULL for an id not yet defined.
 */
const char *asnap_reader_string(const struct asnap_reader *r, uint32_t id, size_t *len);
uint32_t asnap_reader_string_count(const struct asnap_reader *r);

/*
 * Once the whole file is read (asnap_reader_next returned its end item): if
 * it has index labels (ASNAP_EDGE_INDEX), the reader has defined the
 * strings "[0]", "[1]", ... "[k]" (k the largest index) after the file's
 * own, and the label of an edge with index i is the string id base + i.
 * Returns base, or 0 when the file has no index label (or is not read yet).
 */
uint32_t asnap_reader_index_base(const struct asnap_reader *r);

/*
 * Charge what the reader allocates from now on (string table, chunk and
 * edge buffers, the decompressor's window) to b, which must outlive r (or
 * NULL for none: the default). The window the decompressor accepts is
 * limited to half the budget. What r charged is credited back when r is
 * destroyed.
 */
void asnap_reader_set_budget(struct asnap_reader *r, struct asnap_budget *b);

/*
 * Once the whole file is read (asnap_reader_next returned 0): give back
 * what only reading needed - the decompressor and its window, the chunk
 * and edge buffers, the last record's values - crediting them to the
 * budget, and keep the string table (asnap_reader_string) and what
 * asnap_reader_reopen needs. Before the end, a no-op.
 */
void asnap_reader_trim(struct asnap_reader *r);

/* Size of the file on disk. */
uint64_t asnap_reader_file_size(const struct asnap_reader *r);
/* The format version the file was written with. */
uint32_t asnap_reader_version(const struct asnap_reader *r);

/* NULL is a no-op. */
void asnap_reader_destroy(struct asnap_reader *r);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *asnap_version(void);

#ifdef __cplusplus
}
#endif

#endif
