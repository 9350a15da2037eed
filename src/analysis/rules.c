/*
 * rules.c - resource rules (see rules.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis/rules.h"
#include "analysis/strings.h"
#include "util/freeall.h"

const char asnap_builtin_rules[] =
	"{\"rules\": [\n"
	" {\"type\": \"socket.socket\", \"open_when\": {\"attr\": \"_closed\", \"equals\": false},\n"
	"  \"fix\": \"close it (sock.close()), or use it in a with block\"},\n"
	" {\"type\": \"asyncio.selector_events._SelectorSocketTransport\",\n"
	"  \"open_when\": {\"attr\": \"_closing\", \"equals\": false},\n"
	"  \"fix\": \"writer.close(); await writer.wait_closed() (or transport.close())\"},\n"
	" {\"type\": \"asyncio.selector_events._SelectorDatagramTransport\",\n"
	"  \"open_when\": {\"attr\": \"_closing\", \"equals\": false},\n"
	"  \"fix\": \"transport.close()\"},\n"
	" {\"type\": \"asyncio.sslproto._SSLProtocolTransport\",\n"
	"  \"open_when\": {\"attr\": \"_closed\", \"equals\": false},\n"
	"  \"fix\": \"writer.close(); await writer.wait_closed()\"},\n"
	" {\"type\": \"asyncio.unix_events._UnixReadPipeTransport\",\n"
	"  \"open_when\": {\"attr\": \"_closing\", \"equals\": false}, \"fix\": \"transport.close()\"},\n"
	" {\"type\": \"asyncio.unix_events._UnixWritePipeTransport\",\n"
	"  \"open_when\": {\"attr\": \"_closing\", \"equals\": false}, \"fix\": \"transport.close()\"},\n"
	/* a child process: open until close() or until the child has exited
	 * and its pipes are closed (_finished); its pipes are its own ("pools") */
	" {\"type\": \"asyncio.unix_events._UnixSubprocessTransport\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closed\", \"equals\": false},\n"
	"                          {\"attr\": \"_finished\", \"equals\": false}]},\n"
	"  \"fix\": \"reap the child: close its stdin (proc.stdin.close()) or kill it, then await "
	"proc.wait(); or await proc.communicate()\"},\n"
	/* uvloop's transports: the agent reads _closing (close() called) and
	 * _closed (the libuv handle closed) from their C structs */
	" {\"type\": \"uvloop.loop.TCPTransport\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closing\", \"equals\": false},\n"
	"                          {\"attr\": \"_closed\", \"equals\": false}]},\n"
	"  \"fix\": \"writer.close(); await writer.wait_closed() (or transport.close())\"},\n"
	" {\"type\": \"uvloop.loop.UnixTransport\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closing\", \"equals\": false},\n"
	"                          {\"attr\": \"_closed\", \"equals\": false}]},\n"
	"  \"fix\": \"writer.close(); await writer.wait_closed() (or transport.close())\"},\n"
	" {\"type\": \"uvloop.loop.UDPTransport\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closing\", \"equals\": false},\n"
	"                          {\"attr\": \"_closed\", \"equals\": false}]},\n"
	"  \"fix\": \"transport.close()\"},\n"
	" {\"type\": \"uvloop.loop.ReadUnixTransport\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closing\", \"equals\": false},\n"
	"                          {\"attr\": \"_closed\", \"equals\": false}]},\n"
	"  \"fix\": \"transport.close()\"},\n"
	" {\"type\": \"uvloop.loop.WriteUnixTransport\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closing\", \"equals\": false},\n"
	"                          {\"attr\": \"_closed\", \"equals\": false}]},\n"
	"  \"fix\": \"transport.close()\"},\n"
	/* uvloop's child process: the agent reads its libuv handle's _closed,
	 * set once the child has exited and been reaped */
	" {\"type\": \"uvloop.loop.UVProcessTransport\",\n"
	"  \"open_when\": {\"attr\": \"_closed\", \"equals\": false},\n"
	"  \"fix\": \"reap the child: close its stdin (proc.stdin.close()) or kill it, then await "
	"proc.wait(); or await proc.communicate()\"},\n"
	" {\"type\": \"aiohttp.client.ClientSession\",\n"
	"  \"open_when\": {\"attr\": \"_connector\", \"not\": null},\n"
	"  \"fix\": \"await session.close(), or use async with aiohttp.ClientSession()\"},\n"
	/* a response whose connection is still acquired: until its body is
	 * read to the end, or it is released or closed */
	" {\"type\": \"aiohttp.client_reqrep.ClientResponse\",\n"
	"  \"open_when\": {\"attr\": \"_connection\", \"not\": null},\n"
	"  \"fix\": \"read the body (await resp.read()) or release it (resp.release()); "
	"or async with session.get(url) as resp\"},\n"
	/* httpx: a response sent with stream=True until it is read to the end
	 * or closed (one read whole is closed by then); its connection is in
	 * use in the client's pool meanwhile */
	" {\"type\": \"httpx.Response\",\n"
	"  \"open_when\": {\"attr\": \"is_closed\", \"equals\": false},\n"
	"  \"fix\": \"await response.aclose() (or read it to the end); or async with "
	"client.stream(...) as response\"},\n"
	/* a websocket a client opened (session.ws_connect()): closed when
	 * close() is called or the close frame is read */
	" {\"type\": \"aiohttp.client_ws.ClientWebSocketResponse\",\n"
	"  \"open_when\": {\"attr\": \"_closed\", \"equals\": false},\n"
	"  \"fix\": \"await ws.close(), or async with session.ws_connect(url) as ws\"},\n"
	" {\"type\": \"aiohttp.connector.TCPConnector\",\n"
	"  \"open_when\": {\"attr\": \"_closed\", \"equals\": false}, \"fix\": \"await connector.close()\"},\n"
	" {\"type\": \"aiohttp.connector.UnixConnector\",\n"
	"  \"open_when\": {\"attr\": \"_closed\", \"equals\": false}, \"fix\": \"await connector.close()\"},\n"
	/* a client's pool keeps the connections it once needed, for reuse:
	 * as many as were ever in use at once */
	" {\"type\": \"redis.asyncio.connection.Connection\",\n"
	"  \"open_when\": {\"attr\": \"_writer\", \"not\": null},\n"
	"  \"idle_in\": {\"type\": \"redis.asyncio.connection.ConnectionPool\",\n"
	"              \"attr\": \"_available_connections\"},\n"
	"  \"fix\": \"await client.aclose() (redis-py before 5.0.1: close()), "
	"or async with redis.asyncio.Redis(...); for a PubSub's connection, "
	"await pubsub.aclose() and cancel the task reading it\"},\n"
	" {\"type\": \"redis.asyncio.connection.UnixDomainSocketConnection\",\n"
	"  \"open_when\": {\"attr\": \"_writer\", \"not\": null},\n"
	"  \"idle_in\": {\"type\": \"redis.asyncio.connection.ConnectionPool\",\n"
	"              \"attr\": \"_available_connections\"},\n"
	"  \"fix\": \"await client.aclose() (redis-py before 5.0.1: close()); "
	"for a PubSub's connection, await pubsub.aclose() and cancel the task reading it\"},\n"
	/* websockets' client connections: the legacy protocol (websockets
	 * 10-13's connect()) until a close frame is sent or received; the
	 * asyncio one (14+) until its closing handshake starts or its
	 * connection is lost (keepalive_task dropped: with ping_interval=None
	 * it never has one, and is never counted) */
	" {\"type\": \"websockets.legacy.client.WebSocketClientProtocol\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"close_sent\", \"equals\": null},\n"
	"                          {\"attr\": \"close_rcvd\", \"equals\": null}]},\n"
	"  \"fix\": \"await ws.close(), or async with websockets.connect(...) as ws\"},\n"
	" {\"type\": \"websockets.asyncio.client.ClientConnection\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"close_deadline\", \"equals\": null},\n"
	"                          {\"attr\": \"keepalive_task\", \"not\": null}]},\n"
	"  \"fix\": \"await ws.close(), or async with websockets.connect(...) as ws\"},\n"
	" {\"type\": \"asyncpg.pool.Pool\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closed\", \"equals\": false},\n"
	"                          {\"attr\": \"_closing\", \"equals\": false}]},\n"
	"  \"fix\": \"await pool.close(), or async with asyncpg.create_pool(...)\"},\n"
	" {\"type\": \"aiomysql.pool.Pool\",\n"
	"  \"open_when\": {\"all\": [{\"attr\": \"_closed\", \"equals\": false},\n"
	"                          {\"attr\": \"_closing\", \"equals\": false}]},\n"
	"  \"fix\": \"pool.close(); await pool.wait_closed()\"},\n"
	" {\"type\": \"aiomysql.connection.Connection\",\n"
	"  \"open_when\": {\"attr\": \"_writer\", \"not\": null},\n"
	"  \"fix\": \"conn.close() or await conn.ensure_closed(); release pooled ones with pool.release(conn)\"}\n"
	"],\n"
	/* where client libraries pool their connections: transports deep
	 * inside them are the pool's, counted once, not one each. aiohttp's
	 * idle ones: _conns, a dict of lists (3.8) or deques (3.9+) of
	 * (protocol, time) tuples, each protocol holding its transport; those
	 * in use (_acquired) stay counted one each, so that responses never
	 * released still show. httpcore 0.x keeps its connections in _pool,
	 * 1.x in _connections; asyncpg's pool one holder per connection in
	 * _holders (idle and in use alike, for both) */
	" \"pools\": [\n"
	" {\"type\": \"aiohttp.connector.TCPConnector\", \"holds\": [\"_conns\"]},\n"
	" {\"type\": \"aiohttp.connector.UnixConnector\", \"holds\": [\"_conns\"]},\n"
	/* a child process's pipes (_pipes: fd -> pipe protocol -> transport) */
	" {\"type\": \"asyncio.unix_events._UnixSubprocessTransport\", \"holds\": [\"_pipes\"]},\n"
	" {\"type\": \"httpcore.AsyncConnectionPool\", \"holds\": [\"_pool\", \"_connections\"]},\n"
	" {\"type\": \"asyncpg.pool.Pool\", \"holds\": [\"_holders\"]},\n"
	/* servers keep the connections their clients hold open (keep-alive,
	 * a client's own pool warming up): as many as the clients want, each
	 * closed when its client goes */
	" {\"type\": \"aiohttp.web_server.Server\", \"holds\": [\"_connections\"]},\n"
	" {\"type\": \"websockets.legacy.server.WebSocketServer\", \"holds\": [\"websockets\"]},\n"
	" {\"type\": \"websockets.asyncio.server.Server\", \"holds\": [\"all_connections\"]},\n"
	" {\"type\": \"uvicorn.server.ServerState\", \"holds\": [\"connections\"]}\n"
	"],\n"
	/* where a library keeps the callbacks a program registers with it,
	 * until the program removes them (pending-future's piles): asyncpg's
	 * listeners by channel (a dict of sets), its log and termination
	 * listeners and its query loggers (sets or lists) */
	" \"registries\": [\n"
	" {\"type\": \"asyncpg.connection.Connection\", \"holds\": \"_listeners\",\n"
	"  \"what\": \"LISTEN callbacks\",\n"
	"  \"fix\": \"remove what is added: await conn.remove_listener(channel, callback) in a "
	"finally, or add one listener per channel for the connection's life and dispatch from "
	"it\"},\n"
	" {\"type\": \"asyncpg.connection.Connection\", \"holds\": \"_log_listeners\",\n"
	"  \"what\": \"log listeners\",\n"
	"  \"fix\": \"conn.remove_log_listener(callback) when done, or one listener for the "
	"connection's life\"},\n"
	" {\"type\": \"asyncpg.connection.Connection\", \"holds\": \"_termination_listeners\",\n"
	"  \"what\": \"termination listeners\",\n"
	"  \"fix\": \"conn.remove_termination_listener(callback) when done, or one for the "
	"connection's life\"},\n"
	" {\"type\": \"asyncpg.connection.Connection\", \"holds\": \"_query_loggers\",\n"
	"  \"what\": \"query loggers\",\n"
	"  \"fix\": \"conn.remove_query_logger(callback) when done, or with "
	"conn.query_logger(callback): around the queries (asyncpg 0.29+)\"}\n"
	"]}\n";

enum cond_op { C_EQUALS, C_NOT, C_ALL, C_ANY };

struct asnap_rule_cond {
	enum cond_op op;
	uint32_t name;            /* index in rules->names */
	struct asnap_attr value;  /* kind NONE, BOOL, INT or FLOAT */
	struct asnap_rule_cond *kids;
	uint32_t nkids;
};

void asnap_rules_init(struct asnap_rules *r)
{
	*r = (struct asnap_rules){0};
}

static void cond_free(struct asnap_rule_cond *c)
{
	for (uint32_t i = 0; i < c->nkids; i++)
		cond_free(&c->kids[i]);
	free(c->kids);
}

static void rule_free(struct asnap_rule *rule)
{
	asnap_free_all(rule->type, rule->fix);
	if (rule->cond) {
		cond_free(rule->cond);
		free(rule->cond);
	}
}

void asnap_rules_release(struct asnap_rules *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->count; i++)
		rule_free(&r->items[i]);
	free(r->items);
	for (uint32_t i = 0; i < r->npools; i++)
		free(r->pools[i].holds);
	free(r->pools);
	for (uint32_t i = 0; i < r->nregistries; i++)
		asnap_free_all(r->registries[i].what, r->registries[i].fix);
	free(r->registries);
	for (uint32_t i = 0; i < r->nnames; i++)
		free(r->names[i]);
	free(r->names);
	*r = (struct asnap_rules){0};
}

static int name_index(struct asnap_rules *r, const char *name, uint32_t *out)
{
	for (uint32_t i = 0; i < r->nnames; i++) {
		if (!strcmp(r->names[i], name)) {
			*out = i;
			return 0;
		}
	}
	char **n = realloc(r->names, (r->nnames + 1) * sizeof(*n));
	if (!n)
		return -1;
	r->names = n;
	if (!(n[r->nnames] = strdup(name)))
		return -1;
	*out = r->nnames++;
	return 0;
}

static int parse_value(const cJSON *j, struct asnap_attr *v)
{
	*v = (struct asnap_attr){.node = ASNAP_NO_NODE};
	if (cJSON_IsNull(j))
		v->kind = ASNAP_ATTR_NONE;
	else if (cJSON_IsBool(j)) {
		v->kind = ASNAP_ATTR_BOOL;
		v->b = cJSON_IsTrue(j);
	} else if (cJSON_IsNumber(j)) {
		/* range first: casting an out-of-range double is undefined */
		if (j->valuedouble > -9.2e18 && j->valuedouble < 9.2e18 &&
		    j->valuedouble == (double)(int64_t)j->valuedouble) {
			v->kind = ASNAP_ATTR_INT;
			v->i = (int64_t)j->valuedouble;
		} else {
			v->kind = ASNAP_ATTR_FLOAT;
		}
		v->f = j->valuedouble;
	} else {
		return -1;
	}
	return 0;
}

static int parse_cond(struct asnap_rules *r, const cJSON *j, struct asnap_rule_cond *c,
		      unsigned depth, char *why, size_t len)
{
	*c = (struct asnap_rule_cond){0};
	if (!cJSON_IsObject(j)) {
		snprintf(why, len, "a condition must be an object");
		return -1;
	}
	if (depth > 8) {
		snprintf(why, len, "conditions nested too deep");
		return -1;
	}
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(j, "all");
	const cJSON *any = cJSON_GetObjectItemCaseSensitive(j, "any");
	if (all || any) {
		const cJSON *list = all ? all : any;
		c->op = all ? C_ALL : C_ANY;
		if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
			snprintf(why, len, "\"%s\" must be a non-empty array of conditions",
				 all ? "all" : "any");
			return -1;
		}
		c->kids = calloc((size_t)cJSON_GetArraySize(list), sizeof(*c->kids));
		if (!c->kids) {
			snprintf(why, len, "out of memory");
			return -1;
		}
		const cJSON *k;
		cJSON_ArrayForEach(k, list)
		{
			if (parse_cond(r, k, &c->kids[c->nkids], depth + 1, why, len) < 0) {
				c->nkids++;
				return -1;
			}
			c->nkids++;
		}
		return 0;
	}
	const cJSON *attr = cJSON_GetObjectItemCaseSensitive(j, "attr");
	if (!cJSON_IsString(attr) || !attr->valuestring[0]) {
		snprintf(why, len, "a condition needs \"attr\" (a name), \"all\" or \"any\"");
		return -1;
	}
	const cJSON *eq = cJSON_GetObjectItemCaseSensitive(j, "equals");
	const cJSON *ne = cJSON_GetObjectItemCaseSensitive(j, "not");
	if (!eq == !ne) {
		snprintf(why, len, "condition on \"%s\" needs exactly one of \"equals\" and \"not\"",
			 attr->valuestring);
		return -1;
	}
	c->op = eq ? C_EQUALS : C_NOT;
	if (parse_value(eq ? eq : ne, &c->value) < 0) {
		snprintf(why, len, "condition on \"%s\": the value must be null, a boolean or a number",
			 attr->valuestring);
		return -1;
	}
	if (name_index(r, attr->valuestring, &c->name) < 0) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	return 0;
}

/* "idle_in": {"type": POOL, "attr": NAME}, optional */
static int parse_idle(struct asnap_rules *r, const cJSON *j, struct asnap_rule *rule, char *why,
		      size_t len)
{
	if (!j)
		return 0;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	const cJSON *attr = cJSON_GetObjectItemCaseSensitive(j, "attr");
	if (!cJSON_IsObject(j) || !cJSON_IsString(type) || !type->valuestring[0] ||
	    !cJSON_IsString(attr) || !attr->valuestring[0]) {
		snprintf(why, len, "\"idle_in\" must be {\"type\": POOL, \"attr\": NAME}");
		return -1;
	}
	if (name_index(r, type->valuestring, &rule->idle_type) < 0 ||
	    name_index(r, attr->valuestring, &rule->idle_attr) < 0) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	rule->has_idle = true;
	return 0;
}

/* {"type": POOL, "holds": [NAME, ...]}: one entry of "pools". */
static int add_pool(struct asnap_rules *r, const cJSON *j, int i, struct asnap_error *err)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	const cJSON *holds = cJSON_GetObjectItemCaseSensitive(j, "holds");
	if (!cJSON_IsObject(j) || !cJSON_IsString(type) || !type->valuestring[0])
		return asnap_error_set(err, ASNAP_ERR_CORRUPT, "pool %d: \"type\" must be a type name",
				       i);
	int n = cJSON_GetArraySize(holds);
	const cJSON *h;
	bool names = cJSON_IsArray(holds) && n > 0;
	if (names)
		cJSON_ArrayForEach(h, holds)
			names = names && cJSON_IsString(h) && h->valuestring[0];
	if (!names)
		return asnap_error_set(err, ASNAP_ERR_CORRUPT,
				       "pool %d (%s): \"holds\" must be a list of attribute names", i,
				       type->valuestring);
	struct asnap_pool_rule pool = {.holds = calloc((size_t)n, sizeof(uint32_t))};
	if (!pool.holds || name_index(r, type->valuestring, &pool.type) < 0)
		goto nomem;
	cJSON_ArrayForEach(h, holds)
		if (name_index(r, h->valuestring, &pool.holds[pool.nholds++]) < 0)
			goto nomem;
	for (uint32_t k = 0; k < r->npools; k++) {
		if (r->pools[k].type == pool.type) {
			free(r->pools[k].holds);
			r->pools[k] = pool;
			return 0;
		}
	}
	struct asnap_pool_rule *more = realloc(r->pools, (r->npools + 1) * sizeof(*more));
	if (!more)
		goto nomem;
	r->pools = more;
	r->pools[r->npools++] = pool;
	return 0;
nomem:
	free(pool.holds);
	return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
}

/* {"type": T, "holds": NAME, "what": TEXT, "fix": TEXT}: one entry of
 * "registries". */
static int add_registry(struct asnap_rules *r, const cJSON *j, int i, struct asnap_error *err)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	const cJSON *holds = cJSON_GetObjectItemCaseSensitive(j, "holds");
	const cJSON *what = cJSON_GetObjectItemCaseSensitive(j, "what");
	const cJSON *fix = cJSON_GetObjectItemCaseSensitive(j, "fix");
	if (!cJSON_IsObject(j) || !cJSON_IsString(type) || !type->valuestring[0])
		return asnap_error_set(err, ASNAP_ERR_CORRUPT,
				       "registry %d: \"type\" must be a type name", i);
	if (!cJSON_IsString(holds) || !holds->valuestring[0])
		return asnap_error_set(err, ASNAP_ERR_CORRUPT,
				       "registry %d (%s): \"holds\" must be an attribute name", i,
				       type->valuestring);
	if ((what && (!cJSON_IsString(what) || !what->valuestring[0])) ||
	    (fix && !cJSON_IsString(fix)))
		return asnap_error_set(err, ASNAP_ERR_CORRUPT,
				       "registry %d (%s): \"what\" and \"fix\" must be strings", i,
				       type->valuestring);
	struct asnap_registry_rule reg = {.what = what ? strdup(what->valuestring) : NULL,
					  .fix = fix ? strdup(fix->valuestring) : NULL};
	if ((what && !reg.what) || (fix && !reg.fix) ||
	    name_index(r, type->valuestring, &reg.type) < 0 ||
	    name_index(r, holds->valuestring, &reg.holds) < 0)
		goto nomem;
	for (uint32_t k = 0; k < r->nregistries; k++) {
		struct asnap_registry_rule *x = &r->registries[k];
		if (x->type == reg.type && x->holds == reg.holds) {
			asnap_free_all(x->what, x->fix);
			*x = reg;
			return 0;
		}
	}
	struct asnap_registry_rule *more =
		realloc(r->registries, (r->nregistries + 1) * sizeof(*more));
	if (!more)
		goto nomem;
	r->registries = more;
	r->registries[r->nregistries++] = reg;
	return 0;
nomem:
	asnap_free_all(reg.what, reg.fix);
	return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
}

int asnap_rules_add_json(struct asnap_rules *r, const char *json, struct asnap_error *err)
{
	char why[200] = "";
	cJSON *doc = cJSON_Parse(json);
	if (!doc)
		return asnap_error_set(err, ASNAP_ERR_CORRUPT, "not valid JSON");
	int rc = -1;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "rules");
	const cJSON *pools = cJSON_GetObjectItemCaseSensitive(doc, "pools");
	const cJSON *regs = cJSON_GetObjectItemCaseSensitive(doc, "registries");
	if (!cJSON_IsObject(doc) || (list && !cJSON_IsArray(list)) || (pools && !cJSON_IsArray(pools)) ||
	    (regs && !cJSON_IsArray(regs)) || (!list && !pools && !regs)) {
		asnap_error_set(err, ASNAP_ERR_CORRUPT,
				"expected {\"rules\": [...]} (and/or \"pools\": [...], "
				"\"registries\": [...])");
		goto out;
	}
	int ip = 0;
	const cJSON *pj;
	cJSON_ArrayForEach(pj, pools)
		if (add_pool(r, pj, ++ip, err) < 0)
			goto out;
	ip = 0;
	cJSON_ArrayForEach(pj, regs)
		if (add_registry(r, pj, ++ip, err) < 0)
			goto out;
	int i = 0;
	const cJSON *j;
	cJSON_ArrayForEach(j, list)
	{
		i++;
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
		const cJSON *open = cJSON_GetObjectItemCaseSensitive(j, "open_when");
		const cJSON *fix = cJSON_GetObjectItemCaseSensitive(j, "fix");
		if (!cJSON_IsObject(j) || !cJSON_IsString(type) || !type->valuestring[0]) {
			asnap_error_set(err, ASNAP_ERR_CORRUPT, "rule %d: \"type\" must be a type name", i);
			goto out;
		}
		if (!open) {
			asnap_error_set(err, ASNAP_ERR_CORRUPT, "rule %d: \"open_when\" is missing", i);
			goto out;
		}
		if (fix && !cJSON_IsString(fix)) {
			asnap_error_set(err, ASNAP_ERR_CORRUPT, "rule %d: \"fix\" must be a string", i);
			goto out;
		}
		struct asnap_rule rule = {0};
		rule.cond = calloc(1, sizeof(*rule.cond));
		rule.type = strdup(type->valuestring);
		rule.fix = fix ? strdup(fix->valuestring) : NULL;
		if (!rule.cond || !rule.type || (fix && !rule.fix)) {
			rule_free(&rule);
			asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (parse_cond(r, open, rule.cond, 0, why, sizeof(why)) < 0 ||
		    parse_idle(r, cJSON_GetObjectItemCaseSensitive(j, "idle_in"), &rule, why,
			       sizeof(why)) < 0) {
			rule_free(&rule);
			asnap_error_set(err, ASNAP_ERR_CORRUPT, "rule %d (%s): %s", i, type->valuestring,
					why);
			goto out;
		}
		uint32_t k;
		for (k = 0; k < r->count; k++)
			if (!strcmp(r->items[k].type, rule.type))
				break;
		if (k < r->count) {
			rule_free(&r->items[k]);
			r->items[k] = rule;
			continue;
		}
		struct asnap_rule *more = realloc(r->items, (r->count + 1) * sizeof(*more));
		if (!more) {
			rule_free(&rule);
			asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
			goto out;
		}
		r->items = more;
		r->items[r->count++] = rule;
	}
	rc = 0;
out:
	cJSON_Delete(doc);
	return rc;
}

int asnap_rules_add_file(struct asnap_rules *r, const char *path, struct asnap_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return asnap_error_set(err, ASNAP_ERR_IO, "%s", strerror(errno));
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = -1;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (64u << 20)) {
				asnap_error_set(err, ASNAP_ERR_LIMIT, "larger than 64 MiB");
				goto out;
			}
			char *more = realloc(buf, cap);
			if (!more) {
				asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
				goto out;
			}
			buf = more;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		asnap_error_set(err, ASNAP_ERR_IO, "%s", strerror(errno));
		goto out;
	}
	buf[len] = 0;
	rc = asnap_rules_add_json(r, buf, err);
out:
	free(buf);
	fclose(f);
	return rc;
}

int asnap_rules_bind(const struct asnap_rules *r, const struct asnap_graph *g,
		     struct asnap_rules_bound *b, struct asnap_error *err)
{
	*b = (struct asnap_rules_bound){.rules = r};
	b->nstrings = asnap_reader_string_count(g->strings) + 1;
	b->rule_of_type = calloc(b->nstrings, sizeof(*b->rule_of_type));
	b->name_ids = calloc(r->nnames + 1, sizeof(*b->name_ids));
	const char **types = calloc(r->count + 1, sizeof(*types));
	uint32_t *type_ids = calloc(r->count + 1, sizeof(*type_ids));
	if (!b->rule_of_type || !b->name_ids || !types || !type_ids) {
		free(types);
		free(type_ids);
		asnap_rules_unbind(b);
		return asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < r->count; i++)
		types[i] = r->items[i].type;
	asnap_strings_resolve(g, types, type_ids, r->count);
	asnap_strings_resolve(g, (const char *const *)r->names, b->name_ids, r->nnames);
	for (uint32_t i = 0; i < r->count; i++)
		if (type_ids[i])
			b->rule_of_type[type_ids[i]] = i + 1;
	free(types);
	free(type_ids);
	return 0;
}

void asnap_rules_unbind(struct asnap_rules_bound *b)
{
	if (!b)
		return;
	asnap_free_all(b->rule_of_type, b->name_ids);
	*b = (struct asnap_rules_bound){0};
}

const struct asnap_pool_rule *asnap_rules_pool_for(const struct asnap_rules_bound *b,
						   const struct asnap_graph *g, uint32_t v)
{
	for (uint32_t i = 0; i < b->rules->npools; i++) {
		uint32_t t = b->name_ids[b->rules->pools[i].type];
		if (t && t == g->type[v])
			return &b->rules->pools[i];
	}
	return NULL;
}

const struct asnap_rule *asnap_rules_for(const struct asnap_rules_bound *b,
					 const struct asnap_graph *g, uint32_t v)
{
	uint32_t t = g->type[v];
	if (t >= b->nstrings || !b->rule_of_type[t])
		return NULL;
	return &b->rules->items[b->rule_of_type[t] - 1];
}

static bool value_equals(const struct asnap_attr *have, const struct asnap_attr *want)
{
	switch (want->kind) {
	case ASNAP_ATTR_NONE:
		return have->kind == ASNAP_ATTR_NONE;
	case ASNAP_ATTR_BOOL:
		return have->kind == ASNAP_ATTR_BOOL && have->b == want->b;
	case ASNAP_ATTR_INT:
	case ASNAP_ATTR_FLOAT:
		if (have->kind == ASNAP_ATTR_INT)
			return (double)have->i == want->f;
		if (have->kind == ASNAP_ATTR_FLOAT)
			return have->f == want->f;
		return false;
	default:
		return false;
	}
}

static bool eval(const struct asnap_rules_bound *b, const struct asnap_rule_cond *c,
		 const struct asnap_aio *a, uint32_t v)
{
	switch (c->op) {
	case C_ALL:
		for (uint32_t i = 0; i < c->nkids; i++)
			if (!eval(b, &c->kids[i], a, v))
				return false;
		return true;
	case C_ANY:
		for (uint32_t i = 0; i < c->nkids; i++)
			if (eval(b, &c->kids[i], a, v))
				return true;
		return false;
	case C_EQUALS:
	case C_NOT: {
		struct asnap_attr have = asnap_aio_attr(a, v, b->name_ids[c->name]);
		if (have.kind == ASNAP_ATTR_MISSING)
			return false;
		/* a number whose value the snapshot left out (values=False)
		 * is neither None nor a boolean, but compared with a number
		 * it is unknown: the condition is false either way, so that
		 * a rule never fires on what it cannot see */
		if (have.kind == ASNAP_ATTR_NUMBER &&
		    (c->value.kind == ASNAP_ATTR_INT || c->value.kind == ASNAP_ATTR_FLOAT))
			return false;
		bool eq = value_equals(&have, &c->value);
		return c->op == C_EQUALS ? eq : !eq;
	}
	}
	return false;
}

bool asnap_rules_open(const struct asnap_rules_bound *b, const struct asnap_rule *rule,
		      const struct asnap_aio *a, uint32_t v)
{
	return eval(b, rule->cond, a, v);
}
