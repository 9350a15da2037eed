/*
 * usercode.h - the program's own code versus library code (the standard
 * library, site-packages, asyncio itself), so that findings point at the
 * user's line and are ranked by what the user can fix.
 *
 * The agent's header says which top-level modules are library code and
 * where the standard library is ("code"); for snapshots without it, a file
 * under .../lib/pythonX.Y/, site-packages or dist-packages is library code
 * and a type's module is judged by nothing (all types count as the user's).
 */
#ifndef ASNAP_ANALYSIS_USERCODE_H
#define ASNAP_ANALYSIS_USERCODE_H

#include <stdbool.h>

#include "analysis/strings.h"
#include "graph/graph.h"

struct asnap_usercode {
	char *stdlib;                 /* the standard library's directory, or NULL */
	struct asnap_strmap libmods;  /* top-level module names of library code */
	bool known;                   /* the header said which modules are library */
};

/* From a snapshot's header JSON (NULL: none). 0, or -1 (out of memory). */
int asnap_usercode_init(struct asnap_usercode *u, const struct cJSON *header);
void asnap_usercode_release(struct asnap_usercode *u);

/* Is the source file `path` library code? (NULL or "" is: unknown code.) */
bool asnap_usercode_library_file(const struct asnap_usercode *u, const char *path);
/* Is the type `module.qualname` (as asyncsnap names types) library code? */
bool asnap_usercode_library_type(const struct asnap_usercode *u, const char *type);

#endif
