/*
 * asyncsnap/error.h - how the asyncsnap library reports failure.
 *
 * Library functions never print and never abort: they return a status (or
 * NULL) and fill a struct asnap_error with a message a user can act on.
 * Messages are lower case, without a full stop, and do not name the file:
 * the caller knows which file it opened and prefixes it.
 */
#ifndef ASYNCSNAP_ERROR_H
#define ASYNCSNAP_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum asnap_status {
	ASNAP_OK = 0,
	ASNAP_ERR_IO,           /* a system call failed; the message has strerror */
	ASNAP_ERR_NOMEM,        /* out of memory */
	ASNAP_ERR_NOT_SNAPSHOT, /* the file is not an asyncsnap snapshot at all */
	ASNAP_ERR_VERSION,      /* written by a newer asyncsnap than this reader */
	ASNAP_ERR_TRUNCATED,    /* the file ends before the snapshot does */
	ASNAP_ERR_CORRUPT,      /* the bytes are damaged or inconsistent */
	ASNAP_ERR_LIMIT,        /* valid, but beyond a limit of this program */
	ASNAP_ERR_USAGE,        /* the caller broke an API rule */
	ASNAP_ERR_BUDGET,       /* needs more memory than its budget allows */
};

struct asnap_error {
	enum asnap_status status;
	char message[256];
};

/* Reset *err to ASNAP_OK with an empty message. err may be NULL. */
void asnap_error_clear(struct asnap_error *err);

/*
 * Record a failure in *err (printf-style message) unless err is NULL or
 * already holds one: the first error is the one worth reporting.
 * Returns -1 so that callers can write `return asnap_error_set(...)`.
 */
int asnap_error_set(struct asnap_error *err, enum asnap_status status,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A short stable name for a status ("truncated", "corrupt", ...). */
const char *asnap_status_name(enum asnap_status status);

#ifdef __cplusplus
}
#endif

#endif
