/*
 * safetext.c - text output that cannot drive a terminal: what a snapshot
 * holds (type names, task names, file names, labels, header fields) comes
 * from the program snapshotted, and a task named from request data
 * ("req-\e]0;pwned\a\e[2J") must not retitle or clear the reader's
 * terminal. Every text renderer writes through this stream, which passes
 * printable text, newlines, tabs and valid UTF-8 on, and writes C0
 * controls, DEL and invalid bytes as \xHH and C1 controls as \u0080-\u009f.
 * JSON, DOT, collapsed stacks and HTML escape on their own.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct safe {
	FILE *to;
	unsigned char carry[4]; /* an incomplete UTF-8 sequence from the last write */
	size_t ncarry;
};

/* The length of the UTF-8 sequence led by c, 0 if c cannot lead one. */
static size_t seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Is s[0..n) a valid (shortest-form, non-surrogate, <= U+10FFFF) sequence? */
static bool valid(const unsigned char *s, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return false;
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f)))
		return false;
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f)))
		return false;
	return true;
}

/* Write what can be written of s[0..n); returns how many bytes were used
 * (fewer than n only when s ends inside a sequence and !final). */
static size_t emit(struct safe *st, const unsigned char *s, size_t n, bool final)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f) {
			size_t j = i;
			while (j < n && s[j] >= 0x20 && s[j] < 0x7f)
				j++;
			fwrite(s + i, 1, j - i, st->to);
			i = j;
			continue;
		}
		if (c == '\n' || c == '\t') {
			fputc(c, st->to);
			i++;
			continue;
		}
		size_t len = seq_len(c);
		if (len > 1 && i + len > n && !final) {
			/* maybe complete in the next write, if all so far fits */
			bool prefix = true;
			for (size_t k = i + 1; k < n; k++)
				prefix &= (s[k] & 0xc0) == 0x80;
			if (prefix)
				return i;
		}
		if (len > 1 && i + len <= n && valid(s + i, len)) {
			if (c == 0xc2 && s[i + 1] <= 0x9f) /* C1 control */
				fprintf(st->to, "\\u%04x", s[i + 1]);
			else
				fwrite(s + i, 1, len, st->to);
			i += len;
			continue;
		}
		fprintf(st->to, "\\x%02x", c);
		i++;
	}
	return n;
}

static ssize_t safe_write(void *cookie, const char *buf, size_t size)
{
	struct safe *st = cookie;
	const unsigned char *s = (const unsigned char *)buf;
	size_t used = 0;
	if (st->ncarry) {
		/* finish the sequence carried over, a byte at a time */
		while (st->ncarry < sizeof(st->carry) && used < size &&
		       st->ncarry < seq_len(st->carry[0]) && (s[used] & 0xc0) == 0x80)
			st->carry[st->ncarry++] = s[used++];
		bool done = st->ncarry == seq_len(st->carry[0]) || used < size;
		if (!done)
			return (ssize_t)size; /* all of buf went into carry */
		emit(st, st->carry, st->ncarry, true);
		st->ncarry = 0;
	}
	size_t n = emit(st, s + used, size - used, false);
	used += n;
	while (used < size)
		st->carry[st->ncarry++] = s[used++];
	return (ssize_t)size;
}

static int safe_close(void *cookie)
{
	struct safe *st = cookie;
	if (st->ncarry)
		emit(st, st->carry, st->ncarry, true);
	st->ncarry = 0;
	return fflush(st->to) == 0 ? 0 : EOF;
}

FILE *cli_safe_text(FILE *to, struct cli_safe_text *state)
{
	_Static_assert(sizeof(struct cli_safe_text) >= sizeof(struct safe), "cli_safe_text is too small");
	struct safe *st = (struct safe *)state;
	*st = (struct safe){.to = to};
	cookie_io_functions_t io = {.write = safe_write, .close = safe_close};
	FILE *f = fopencookie(st, "w", io);
	return f ? f : to;
}

static struct {
	FILE *out;
	struct cli_safe_text safe;
} show;

FILE *cli_show_begin(bool json)
{
	show.out = json ? stdout : cli_safe_text(stdout, &show.safe);
	return show.out;
}

bool cli_show_end(int rc)
{
	if (show.out != stdout && fclose(show.out) != 0)
		rc = -1;
	show.out = NULL;
	if (rc < 0)
		cli_error("out of memory");
	return rc >= 0;
}
