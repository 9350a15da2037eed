/*
 * elfsym.h - the dynamic symbols of an ELF file, for `take --attach`: the
 * addresses of libpython's and libc's exported functions in a running
 * process are found from the file and its mapping, so that gdb needs no
 * symbols (it then cannot call anything by name, the target's malloc
 * included) and the attach does not wait for gdb to read debug info.
 */
#ifndef ASNAP_CLI_ELFSYM_H
#define ASNAP_CLI_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Look up the defined dynamic symbols names[0..n) of the 64-bit ELF file at
 * path: values[i] is the symbol's value (0 when it is not defined there).
 * *load_vaddr is the page-aligned virtual address of the file's first
 * PT_LOAD segment, so that a symbol's address in a process is
 * value + (start of the mapping at file offset 0) - *load_vaddr.
 * 0, or -1 with the reason in why (not ELF, not 64-bit, unreadable).
 */
int elfsym_lookup(const char *path, const char *const *names, uint64_t *values, size_t n,
		  uint64_t *load_vaddr, char *why, size_t why_size);

#endif
