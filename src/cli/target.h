/*
 * target.h - one object named on the command line, the way `path` and
 * `export --format dot` take it: an address (0x7f3a2c1d0e40), or with
 * --type T the object of type T that retains the most.
 */
#ifndef ASNAP_CLI_TARGET_H
#define ASNAP_CLI_TARGET_H

#include <stdint.h>

#include "analysis/retention.h"

/*
 * Parse an object address given to `command`: "0x" and hex digits. 0, or
 * EXIT_ERROR with the usage error reported.
 */
int cli_target_parse_addr(const char *command, const char *arg, uint64_t *addr);

/*
 * The node of the object asked for in the snapshot at `path` (its name for
 * messages): with type, the object of that type ("builtins.list" or
 * "list") of largest retained size, else the object at addr. ASNAP_NO_NODE
 * with the error reported ("'a.snap' has no object at 0x1") when there is
 * none.
 */
uint32_t cli_target_find(const char *path, const struct asnap_retention *r, const char *type,
			 uint64_t addr);

#endif
