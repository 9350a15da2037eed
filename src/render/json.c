/*
 * json.c - see json.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "render/json.h"

size_t asnap_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return c ? 1 : 0;
	if ((c & 0xE0) == 0xC0) {
		len = 2;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		len = 3;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

cJSON *asnap_json_string(const char *s, size_t len)
{
	/* worst case: every byte becomes the 3-byte U+FFFD */
	char *buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t k = asnap_utf8_seq(p + i, len - i);
		if (k) {
			memcpy(buf + o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(buf + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	buf[o] = '\0';
	cJSON *j = cJSON_CreateString(buf);
	free(buf);
	return j;
}

cJSON *asnap_json_gstring(const struct asnap_graph *g, uint32_t id)
{
	size_t len;
	const char *s = asnap_graph_string_len(g, id, &len);
	return asnap_json_string(s, len);
}

cJSON *asnap_json_with_list(const char *name, cJSON **list)
{
	cJSON *o = cJSON_CreateObject();
	*list = o ? cJSON_AddArrayToObject(o, name) : NULL;
	if (!*list) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *asnap_json_addr(uint64_t addr)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)addr);
	return cJSON_CreateString(buf);
}

cJSON *asnap_json_value(const struct asnap_graph *g, const struct asnap_value *v)
{
	switch (v->type) {
	case ASNAP_VAL_NONE:
		return cJSON_CreateNull();
	case ASNAP_VAL_BOOL:
		return cJSON_CreateBool(v->u.b);
	case ASNAP_VAL_INT:
		return cJSON_CreateNumber((double)v->u.i);
	case ASNAP_VAL_FLOAT:
		return cJSON_CreateNumber(v->u.f);
	case ASNAP_VAL_STR:
		return asnap_json_gstring(g, v->u.str);
	case ASNAP_VAL_NODE:
		return asnap_json_addr(v->u.node < g->n ? g->addr[v->u.node] : 0);
	case ASNAP_VAL_LIST: {
		cJSON *a = cJSON_CreateArray();
		for (uint32_t i = 0; a && i < v->u.list.count; i++) {
			cJSON *item = asnap_json_value(g, &v->u.list.items[i]);
			if (!item || !cJSON_AddItemToArray(a, item)) {
				cJSON_Delete(item);
				cJSON_Delete(a);
				return NULL;
			}
		}
		return a;
	}
	}
	return cJSON_CreateNull();
}

cJSON *asnap_json_record(const struct asnap_graph *g, const struct asnap_record *rec)
{
	cJSON *o = cJSON_CreateObject();
	for (uint32_t i = 0; o && i < rec->nprops; i++) {
		cJSON *v = asnap_json_value(g, &rec->props[i].value);
		if (!v || !cJSON_AddItemToObject(o, asnap_graph_string(g, rec->props[i].key), v)) {
			cJSON_Delete(v);
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

static int print(FILE *out, const cJSON *j, bool pretty)
{
	if (!j)
		return -1;
	char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
	if (!s)
		return -1;
	fputs(s, out);
	fputc('\n', out);
	cJSON_free(s);
	return 0;
}

int asnap_json_print(FILE *out, const cJSON *j)
{
	return print(out, j, false);
}

int asnap_json_print_pretty(FILE *out, const cJSON *j)
{
	return print(out, j, true);
}

/* One byte escaped as cJSON escapes it, if it must be; false if not. */
static bool write_escape(FILE *out, unsigned char c)
{
	switch (c) {
	case '"': fputs("\\\"", out); return true;
	case '\\': fputs("\\\\", out); return true;
	case '\b': fputs("\\b", out); return true;
	case '\f': fputs("\\f", out); return true;
	case '\n': fputs("\\n", out); return true;
	case '\r': fputs("\\r", out); return true;
	case '\t': fputs("\\t", out); return true;
	}
	if (c >= 32)
		return false;
	fprintf(out, "\\u%04x", c);
	return true;
}

void asnap_json_write_string(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', out);
	for (size_t i = 0; i < len;) {
		size_t k = asnap_utf8_seq(p + i, len - i);
		if (k == 0) {
			fputs("\xEF\xBF\xBD", out); /* what asnap_json_string puts there */
			i++;
		} else if (k == 1) {
			if (!write_escape(out, p[i]))
				fputc(p[i], out);
			i++;
		} else {
			fwrite(p + i, 1, k, out);
			i += k;
		}
	}
	fputc('"', out);
}

void asnap_json_write_gstring(FILE *out, const struct asnap_graph *g, uint32_t id)
{
	size_t len;
	const char *s = asnap_graph_string_len(g, id, &len);
	asnap_json_write_string(out, s, len);
}

void asnap_json_write_key(FILE *out, const char *key)
{
	const unsigned char *p = (const unsigned char *)key;
	fputc('"', out);
	for (; *p; p++)
		if (!write_escape(out, *p))
			fputc(*p, out);
	fputc('"', out);
}

int asnap_json_write_number(FILE *out, double d)
{
	/* whole numbers that fit an int print the same in every cJSON */
	if (d >= 0 && d <= 2147483647.0 && d == (double)(long)d) {
		fprintf(out, "%ld", (long)d);
		return 0;
	}
	cJSON *n = cJSON_CreateNumber(d);
	char *s = n ? cJSON_PrintUnformatted(n) : NULL;
	cJSON_Delete(n);
	if (!s)
		return -1;
	fputs(s, out);
	cJSON_free(s);
	return 0;
}
