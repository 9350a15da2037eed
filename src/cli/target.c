/*
 * target.c - the object a command is asked about (see target.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/target.h"
#include "render/retention.h"

int cli_target_parse_addr(const char *command, const char *arg, uint64_t *addr)
{
	char *end;
	*addr = strtoull(arg, &end, 16);
	if (strncmp(arg, "0x", 2) != 0 || arg[2] == 0 || *end)
		return cli_usage_error(command, "an object address looks like 0x7f3a2c1d0e40, not '%s'",
				       arg);
	return 0;
}

uint32_t cli_target_find(const char *path, const struct asnap_retention *r, const char *type,
			 uint64_t addr)
{
	const struct asnap_graph *g = r->g;
	uint32_t target = ASNAP_NO_NODE;
	if (!type) {
		target = asnap_graph_find_addr(g, addr);
		if (target == ASNAP_NO_NODE)
			cli_error("'%s' has no object at 0x%llx", path, (unsigned long long)addr);
		return target;
	}
	/* Match each type name once, not each object's. */
	uint32_t nstr = asnap_reader_string_count(g->strings) + 1;
	uint8_t *match = calloc(nstr, 1);
	if (!match) {
		cli_error("out of memory");
		return ASNAP_NO_NODE;
	}
	for (uint32_t id = 1; id < nstr; id++)
		match[id] = asnap_type_matches(asnap_graph_string(g, id), type);
	for (uint32_t v = 0; v < g->n; v++)
		if (match[g->type[v]] &&
		    (target == ASNAP_NO_NODE ||
		     asnap_dom_retained(&r->dom, v) > asnap_dom_retained(&r->dom, target)))
			target = v;
	free(match);
	if (target == ASNAP_NO_NODE)
		cli_error("'%s' has no object of type '%s'", path, type);
	return target;
}
