/*
 * text.h - plain-text output helpers: aligned tables, human-friendly
 * numbers and byte sizes.
 */
#ifndef ASNAP_RENDER_TEXT_H
#define ASNAP_RENDER_TEXT_H

#include <stdint.h>
#include <stdio.h>

/* "1,234,567" into buf (at least 32 bytes); returns buf. */
char *asnap_fmt_count(char *buf, uint64_t n);
/* "12.3 MiB" (or "512 B") into buf (at least 32 bytes); returns buf. */
char *asnap_fmt_bytes(char *buf, uint64_t n);

struct asnap_table;

/*
 * A table of ncols columns; align is a string of ncols characters, 'l' or
 * 'r'. Cells are copied. Allocation failures are remembered and reported
 * by asnap_table_print returning -1.
 */
struct asnap_table *asnap_table_create(int ncols, const char *align);
void asnap_table_header(struct asnap_table *t, ...); /* ncols const char * */
void asnap_table_row(struct asnap_table *t, ...);    /* ncols const char * */
int asnap_table_print(const struct asnap_table *t, FILE *out, const char *indent);
void asnap_table_destroy(struct asnap_table *t);

#endif
