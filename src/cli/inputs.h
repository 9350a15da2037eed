/*
 * inputs.h - what `leaks` and `report` read before the checks run.
 */
#ifndef ASNAP_CLI_INPUTS_H
#define ASNAP_CLI_INPUTS_H

#include <stdint.h>

#include "analysis/rules.h"
#include "analysis/snapshot.h"

/*
 * The built-in rules and those of rules_path (NULL for none) into *rules
 * (initialized by the caller), and the n snapshots at paths into snaps.
 * 0, or -1 with the error reported; what was loaded is the caller's to
 * release either way.
 */
int cli_load_checks_input(const char *rules_path, char **paths, uint32_t n,
			  struct asnap_rules *rules, struct asnap_snap **snaps);

#endif
