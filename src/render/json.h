/*
 * json.h - building blocks for --json output on top of cJSON.
 */
#ifndef ASNAP_RENDER_JSON_H
#define ASNAP_RENDER_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "graph/graph.h"

/* Length of the valid UTF-8 sequence at s (of n bytes, n > 0), or 0 (also
 * for NUL): how every renderer tells text from invalid bytes. */
size_t asnap_utf8_seq(const unsigned char *s, size_t n);
/* A JSON string from arbitrary bytes: invalid UTF-8 and NUL become U+FFFD. */
cJSON *asnap_json_string(const char *s, size_t len);
/* A snapshot string by id. */
cJSON *asnap_json_gstring(const struct asnap_graph *g, uint32_t id);
/* "0x7f..." */
cJSON *asnap_json_addr(uint64_t addr);
/* A property value; node references become addresses. */
cJSON *asnap_json_value(const struct asnap_graph *g, const struct asnap_value *v);
/* An object of a record's properties. */
cJSON *asnap_json_record(const struct asnap_graph *g, const struct asnap_record *rec);
/* A new object {"name": []}, *list its array; NULL when out of memory. */
cJSON *asnap_json_with_list(const char *name, cJSON **list);
/*
 * Streaming: write JSON text straight to out, for output whose size grows
 * with the snapshot (one object's edges), byte for byte what cJSON prints
 * for the same values.
 */
/* A string value from arbitrary bytes, as asnap_json_string makes it. */
void asnap_json_write_string(FILE *out, const char *s, size_t len);
/* A snapshot string by id, as asnap_json_gstring makes it. */
void asnap_json_write_gstring(FILE *out, const struct asnap_graph *g, uint32_t id);
/* An object key as cJSON prints the C string `key`: no UTF-8 repair. */
void asnap_json_write_key(FILE *out, const char *key);
/* A number as cJSON prints it. 0, or -1 when out of memory. */
int asnap_json_write_number(FILE *out, double d);

/*
 * Streaming: JSON text written straight to out, for output that grows with
 * the snapshot (one object's edges), byte for byte what cJSON prints for
 * the same values.
 */
/* A string value from arbitrary bytes, as asnap_json_string makes it. */
void asnap_json_write_string(FILE *out, const char *s, size_t len);
/* A snapshot string by id, as asnap_json_gstring makes it. */
void asnap_json_write_gstring(FILE *out, const struct asnap_graph *g, uint32_t id);
/* An object key as cJSON prints the C string `key` (no UTF-8 repair). */
void asnap_json_write_key(FILE *out, const char *key);
/* A number as cJSON prints it. 0, or -1 when out of memory. */
int asnap_json_write_number(FILE *out, double d);

/* Print j on one line, then a newline. 0, or -1 when out of memory. */
int asnap_json_print(FILE *out, const cJSON *j);
/* Print j indented, then a newline. */
int asnap_json_print_pretty(FILE *out, const cJSON *j);

#endif
