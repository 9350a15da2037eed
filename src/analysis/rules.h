/*
 * rules.h - resource rules for the unclosed-resource check: which types are
 * resources and when an instance of one is still open, as data. The
 * built-in rules (sockets, transports, subprocess transports, aiohttp) and
 * a user's --rules file share one JSON format (docs/CHECKS.md):
 *
 *   {"rules": [{"type": "aiohttp.client.ClientSession",
 *               "open_when": {"attr": "_connector", "not": null},
 *               "fix": "await session.close(), or use async with"}]}
 *
 * A condition is {"attr": NAME, "equals": V} or {"attr": NAME, "not": V}
 * with V null, a boolean or a number ("not": null also matches any object
 * reference), or {"all": [COND, ...]} / {"any": [COND, ...]}. An attribute
 * is the instance's scalar attribute from the "attrs" record, else the
 * object its labelled reference NAME points to. A missing attribute makes
 * its condition false, so a rule never fires on what it cannot see.
 *
 * Optional "idle_in": {"type": POOL, "attr": NAME} names a library's pool
 * of idle instances (redis-py's ConnectionPool._available_connections):
 * the unclosed-resource check counts each pool's idle instances as one.
 *
 * Beside "rules", an optional "pools" list says where a library's pool
 * keeps its connections, whatever resource is at their end:
 *
 *   {"pools": [{"type": "aiohttp.connector.TCPConnector",
 *               "holds": ["_conns"]}]}
 *
 * The open resources an object of that type reaches from those attributes
 * - in containers, or inside the library's own objects there (a protocol
 * holding its transport), within POOL_DEPTH references and through none
 * of the program's objects, tasks, coroutines, frames, handles, futures,
 * loops, functions, types or modules - are the pool's: a pool keeps as
 * many connections as were ever in use at once, so they count as one.
 *
 * And an optional "registries" list says where a library keeps callbacks
 * a program registers with it and must remove (pending-future's piles):
 *
 *   {"registries": [{"type": "asyncpg.connection.Connection",
 *                    "holds": "_listeners", "what": "LISTEN callbacks",
 *                    "fix": "await conn.remove_listener(channel, cb)"}]}
 */
#ifndef ASNAP_ANALYSIS_RULES_H
#define ASNAP_ANALYSIS_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/aio.h"
#include "graph/graph.h"

struct asnap_rule_cond;

struct asnap_rule {
	char *type;     /* module-qualified type name */
	char *fix;      /* how to close it, or NULL */
	struct asnap_rule_cond *cond;
	/* "idle_in": {"type": POOL, "attr": NAME}: an open instance that an
	 * object of type POOL holds as NAME, or that is in the container it
	 * holds as NAME, is idle in that pool (kept for reuse). Indices in
	 * asnap_rules.names; has_idle false without "idle_in". */
	bool has_idle;
	uint32_t idle_type, idle_attr;
};

/* "pools": [{"type": POOL, "holds": [NAME, ...]}] (indices in asnap_rules.names) */
struct asnap_pool_rule {
	uint32_t type;
	uint32_t *holds;
	uint32_t nholds;
};

/* "registries": [{"type": T, "holds": NAME, "what": TEXT, "fix": TEXT}]:
 * the set, list or dict (of sets or lists) an object of type T holds as
 * NAME keeps callbacks registered with it (type, holds: indices in
 * asnap_rules.names; what, fix: NULL when not given). */
struct asnap_registry_rule {
	uint32_t type, holds;
	char *what;
	char *fix;
};

struct asnap_rules {
	struct asnap_rule *items;
	uint32_t count;
	struct asnap_pool_rule *pools;
	uint32_t npools;
	struct asnap_registry_rule *registries;
	uint32_t nregistries;
	char **names;   /* attribute names used by the conditions */
	uint32_t nnames;
};

/* The built-in rules as JSON, in the format above. */
extern const char asnap_builtin_rules[];

void asnap_rules_init(struct asnap_rules *r);
/*
 * Add the rules, pools and registries of a JSON document to r. A rule or
 * pool for a type (a registry for a type and attribute) already there
 * replaces it (so a rules file can override a built-in
 * one). 0, or -1 with *err naming the problem ("rule 2: \"type\" must be
 * a string").
 */
int asnap_rules_add_json(struct asnap_rules *r, const char *json, struct asnap_error *err);
/* Read a rules file and add its rules. 0, or -1 with *err. */
int asnap_rules_add_file(struct asnap_rules *r, const char *path, struct asnap_error *err);
void asnap_rules_release(struct asnap_rules *r);

/* Rules bound to one snapshot's string ids. */
struct asnap_rules_bound {
	const struct asnap_rules *rules;
	uint32_t *rule_of_type; /* per string id: rule index + 1, 0 none */
	uint32_t nstrings;
	uint32_t *name_ids;     /* per rules->names entry: string id in the snapshot */
};

int asnap_rules_bind(const struct asnap_rules *r, const struct asnap_graph *g,
		     struct asnap_rules_bound *b, struct asnap_error *err);
void asnap_rules_unbind(struct asnap_rules_bound *b);

/* The rule that covers node v's type, or NULL. */
const struct asnap_rule *asnap_rules_for(const struct asnap_rules_bound *b,
					 const struct asnap_graph *g, uint32_t v);
/* The pool entry for node v's type, or NULL. */
const struct asnap_pool_rule *asnap_rules_pool_for(const struct asnap_rules_bound *b,
						   const struct asnap_graph *g, uint32_t v);
/* Whether node v (covered by rule) is open. */
bool asnap_rules_open(const struct asnap_rules_bound *b, const struct asnap_rule *rule,
		      const struct asnap_aio *a, uint32_t v);

#endif
