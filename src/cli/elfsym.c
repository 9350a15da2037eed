/*
 * elfsym.c - the dynamic symbols of an ELF file (see elfsym.h). Reads the
 * section headers, .dynsym and its string table with pread; every offset
 * and size is checked against the file before it is used.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/elfsym.h"
#include "util/freeall.h"

#define ELFSYM_MAX_TABLE (256u << 20) /* no real .dynsym is near this */

static int read_at(int fd, void *buf, size_t size, uint64_t off, uint64_t file_size)
{
	if (off > file_size || size > file_size - off)
		return -1;
	size_t got = 0;
	while (got < size) {
		ssize_t r = pread(fd, (char *)buf + got, size - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int elfsym_lookup(const char *path, const char *const *names, uint64_t *values, size_t n,
		  uint64_t *load_vaddr, char *why, size_t why_size)
{
	int rc = -1;
	Elf64_Shdr *sh = NULL;
	Elf64_Sym *syms = NULL;
	char *strtab = NULL;
	for (size_t i = 0; i < n; i++)
		values[i] = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_size, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	Elf64_Ehdr eh;
	if (fstat(fd, &st) != 0 || read_at(fd, &eh, sizeof(eh), 0, (uint64_t)st.st_size) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		snprintf(why, why_size, "'%s' is not an ELF file", path);
		goto out;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_phentsize != sizeof(Elf64_Phdr)) {
		snprintf(why, why_size, "'%s' is not a 64-bit little-endian ELF file", path);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	/* the first PT_LOAD: where the mapping at offset 0 starts */
	*load_vaddr = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (read_at(fd, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph), size) < 0)
			break;
		if (ph.p_type == PT_LOAD) {
			*load_vaddr = ph.p_vaddr & ~(uint64_t)0xfff;
			break;
		}
	}
	if (eh.e_shnum == 0 || eh.e_shnum > 65000) {
		snprintf(why, why_size, "'%s' has no section headers", path);
		goto out;
	}
	sh = calloc(eh.e_shnum, sizeof(*sh));
	if (!sh || read_at(fd, sh, eh.e_shnum * sizeof(*sh), eh.e_shoff, size) < 0) {
		snprintf(why, why_size, "'%s': cannot read its section headers", path);
		goto out;
	}
	const Elf64_Shdr *dynsym = NULL;
	for (unsigned i = 0; i < eh.e_shnum; i++)
		if (sh[i].sh_type == SHT_DYNSYM)
			dynsym = &sh[i];
	if (!dynsym || dynsym->sh_link >= eh.e_shnum || dynsym->sh_entsize != sizeof(Elf64_Sym) ||
	    dynsym->sh_size > ELFSYM_MAX_TABLE || sh[dynsym->sh_link].sh_size > ELFSYM_MAX_TABLE ||
	    sh[dynsym->sh_link].sh_size == 0) {
		rc = 0; /* no dynamic symbols: none of them is defined here */
		goto out;
	}
	const Elf64_Shdr *dynstr = &sh[dynsym->sh_link];
	syms = malloc(dynsym->sh_size ? dynsym->sh_size : 1);
	strtab = malloc(dynstr->sh_size + 1);
	if (!syms || !strtab || read_at(fd, syms, dynsym->sh_size, dynsym->sh_offset, size) < 0 ||
	    read_at(fd, strtab, dynstr->sh_size, dynstr->sh_offset, size) < 0) {
		snprintf(why, why_size, "'%s': cannot read its dynamic symbols", path);
		goto out;
	}
	strtab[dynstr->sh_size] = '\0';
	size_t count = dynsym->sh_size / sizeof(Elf64_Sym);
	for (size_t s = 0; s < count; s++) {
		const Elf64_Sym *sym = &syms[s];
		if (sym->st_shndx == SHN_UNDEF || sym->st_name >= dynstr->sh_size || !sym->st_value)
			continue;
		int type = ELF64_ST_TYPE(sym->st_info);
		if (type != STT_FUNC && type != STT_OBJECT) /* not IFUNC: its value is the resolver */
			continue;
		const char *name = strtab + sym->st_name;
		for (size_t i = 0; i < n; i++)
			if (!values[i] && strcmp(name, names[i]) == 0)
				values[i] = sym->st_value;
	}
	rc = 0;
out:
	asnap_free_all(sh, syms, strtab);
	close(fd);
	return rc;
}
