/*
 * inputs.c - see inputs.h.
 */
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/inputs.h"

struct asnap_snap *cli_snap_load(const char *path, unsigned layers, bool warn)
{
	struct asnap_error err = {0};
	struct asnap_snap *s = asnap_snap_load(path, layers, &err);
	if (!s)
		cli_file_error(path, &err);
	else if (warn)
		cli_snapshot_warnings(s->g, path);
	return s;
}

struct asnap_snap **cli_snaps_load(char **paths, uint32_t n, unsigned layers)
{
	struct asnap_snap **snaps = calloc(n ? n : 1, sizeof(*snaps));
	if (!snaps) {
		cli_error("out of memory");
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!(snaps[i] = cli_snap_load(paths[i], layers, true))) {
			cli_snaps_destroy(snaps, i);
			return NULL;
		}
	}
	return snaps;
}

void cli_snaps_destroy(struct asnap_snap **snaps, uint32_t n)
{
	if (!snaps)
		return;
	for (uint32_t i = 0; i < n; i++)
		asnap_snap_destroy(snaps[i]);
	free(snaps);
}

struct asnap_snap **cli_load_checks_input(const char *rules_path, char **paths, uint32_t n,
					  struct asnap_rules *rules)
{
	struct asnap_error err = {0};
	if (asnap_rules_add_json(rules, asnap_builtin_rules, &err) < 0) {
		cli_error("built-in rules: %s", err.message);
		return NULL;
	}
	if (rules_path && asnap_rules_add_file(rules, rules_path, &err) < 0) {
		cli_error("cannot read rules '%s': %s", rules_path, err.message);
		return NULL;
	}
	return cli_snaps_load(paths, n, ASNAP_SNAP_MATCH);
}
