/*
 * text.c - see text.h.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "render/text.h"
#include "util/freeall.h"

char *asnap_fmt_count(char *buf, uint64_t n)
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
	int out = 0;
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[out++] = ',';
		buf[out++] = digits[i];
	}
	buf[out] = '\0';
	return buf;
}

char *asnap_fmt_bytes(char *buf, uint64_t n)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	if (n < 1024) {
		snprintf(buf, 32, "%llu B", (unsigned long long)n);
		return buf;
	}
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

struct asnap_table {
	int ncols;
	char *align;
	char **cells; /* rows * ncols, row 0 is the header when has_header */
	size_t rows;
	size_t cap;
	bool has_header;
	bool failed;
};

struct asnap_table *asnap_table_create(int ncols, const char *align)
{
	struct asnap_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->align = strdup(align);
	if (!t->align) {
		free(t);
		return NULL;
	}
	return t;
}

static void add_row(struct asnap_table *t, va_list ap)
{
	if (t->failed)
		return;
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*c));
		if (!c) {
			t->failed = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	char **row = t->cells + t->rows * (size_t)t->ncols;
	for (int i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		row[i] = strdup(s ? s : "");
		if (!row[i])
			t->failed = true;
	}
	t->rows++;
}

void asnap_table_header(struct asnap_table *t, ...)
{
	va_list ap;
	va_start(ap, t);
	add_row(t, ap);
	va_end(ap);
	t->has_header = true;
}

void asnap_table_row(struct asnap_table *t, ...)
{
	va_list ap;
	va_start(ap, t);
	add_row(t, ap);
	va_end(ap);
}

/* Display width of UTF-8 text: code points, not bytes. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

int asnap_table_print(const struct asnap_table *t, FILE *out, const char *indent)
{
	if (t->failed)
		return -1;
	size_t *wid = calloc((size_t)t->ncols, sizeof(*wid));
	if (!wid)
		return -1;
	for (size_t r = 0; r < t->rows; r++)
		for (int c = 0; c < t->ncols; c++) {
			size_t w = width(t->cells[r * (size_t)t->ncols + c]);
			if (w > wid[c])
				wid[c] = w;
		}
	for (size_t r = 0; r < t->rows; r++) {
		fputs(indent, out);
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * (size_t)t->ncols + c];
			size_t pad = wid[c] - width(s);
			bool last = c == t->ncols - 1;
			if (t->align[c] == 'r')
				fprintf(out, "%*s%s", (int)pad, "", s);
			else
				fprintf(out, "%s%*s", s, last ? 0 : (int)pad, "");
			if (!last)
				fputs("  ", out);
		}
		fputc('\n', out);
	}
	free(wid);
	return 0;
}

void asnap_table_destroy(struct asnap_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	asnap_free_all(t->cells, t->align, t);
}
