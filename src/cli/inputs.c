/*
 * inputs.c - what the commands that run the leak checks read: rules and
 * snapshots.
 */
#include "cli/cli.h"
#include "cli/inputs.h"

int cli_load_checks_input(const char *rules_path, char **paths, uint32_t n,
			  struct asnap_rules *rules, struct asnap_snap **snaps)
{
	struct asnap_error err = {0};
	if (asnap_rules_add_json(rules, asnap_builtin_rules, &err) < 0) {
		cli_error("built-in rules: %s", err.message);
		return -1;
	}
	if (rules_path && asnap_rules_add_file(rules, rules_path, &err) < 0) {
		cli_error("cannot read rules '%s': %s", rules_path, err.message);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		snaps[i] = asnap_snap_load(paths[i], &err);
		if (!snaps[i]) {
			cli_file_error(paths[i], &err);
			return -1;
		}
		cli_snapshot_warnings(snaps[i]->g, paths[i]);
	}
	return 0;
}
