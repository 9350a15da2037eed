/*
 * objects.h - how the commands name an object: in words ("coroutine
 * Service.watch", "Task 'watch-3'"), as a JSON object (one shape for every
 * command), and a chain of references with its labels.
 */
#ifndef ASNAP_RENDER_OBJECTS_H
#define ASNAP_RENDER_OBJECTS_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis/snapshot.h"

/* "Task 'watch-3'", "coroutine Service.watch", "list" into buf. */
const char *asnap_obj_describe(const struct asnap_snap *s, uint32_t v, char *buf, size_t len);

/* v's type as people say it: builtins by their bare name ("list"). */
const char *asnap_obj_type_name(const struct asnap_snap *s, uint32_t v);
/*
 * An object in every command's JSON (docs/ANALYZE.md, "An object"): "addr",
 * "type", "size", "name" (when its records have one); with retention r
 * (NULL: none computed) "retained", "garbage", "root", "idom".
 */
cJSON *asnap_obj_json_core(const struct asnap_graph *g, const struct asnap_retention *r,
			   uint32_t v);
/* The core, and what the asyncio layer knows: "state", "qualname", "site",
 * a handle's "callback", "cancelled", "when"; a task's "name". */
cJSON *asnap_obj_json(const struct asnap_snap *s, uint32_t v);
/* The root holding v: the agent's root name, or the kind's ("module",
 * "external", ...), or NULL. */
const char *asnap_obj_root_of(const struct asnap_retention *r, uint32_t v);
/* A "name" or "qualname" of v's records, or NULL. */
const char *asnap_obj_record_name(const struct asnap_graph *g, uint32_t v);
/* "A -[label]-> B -> C" (and back to A when closed) on one line. */
void asnap_obj_chain_text(FILE *out, const struct asnap_snap *s, const uint32_t *nodes,
			  uint32_t len, bool closed, const char *indent);
/* [{object..., "label": ...}] where label leads from the previous node (for a
 * closed chain the first one's label is the reference from the last). */
cJSON *asnap_obj_chain_json(const struct asnap_snap *s, const uint32_t *nodes, uint32_t len,
			    bool closed);
/* "thread", "sys.modules", "module", "external", "unreachable", or NULL. */
const char *asnap_obj_root_kind(const struct asnap_snap *s, uint32_t v);
/* The name of the module whose globals dict v is ("__main__"), or NULL.
 * Looks through sys.modules (the agent's root): not for inner loops. */
const char *asnap_obj_module_name(const struct asnap_snap *s, uint32_t dict);

#endif
