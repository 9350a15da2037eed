/*
 * budget.c - struct asnap_budget (see asyncsnap/format.h): charging memory
 * before it is allocated, and the message of a refusal.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "asyncsnap/format.h"

const char *asnap_budget_format(uint64_t bytes, char *buf, size_t size)
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64 " bytes", bytes);
		return buf;
	}
	double v = (double)bytes / 1024;
	unsigned u = 0;
	/* 1023.96 MiB would print as 1024.0 MiB: go up a unit before that */
	while (v >= 1023.95 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, unit[u]);
	return buf;
}

static int refuse(const struct asnap_budget *b, uint64_t need, struct asnap_error *err)
{
	char a[32], l[32];
	return asnap_error_set(err, ASNAP_ERR_BUDGET,
			       "it needs about %s, more than the memory budget of %s",
			       asnap_budget_format(need, a, sizeof(a)),
			       asnap_budget_format(b->limit, l, sizeof(l)));
}

int asnap_budget_check(const struct asnap_budget *b, uint64_t need, struct asnap_error *err)
{
	if (!b || !b->limit || need <= b->limit)
		return 0;
	return refuse(b, need, err);
}

static int charge(struct asnap_budget *b, uint64_t bytes, bool buffer, struct asnap_error *err)
{
	if (!b)
		return 0;
	uint64_t want = b->used + bytes;
	if (want < b->used)
		want = UINT64_MAX;
	if (b->limit && want > b->limit) {
		/* What the whole file would need if the rest of it is like what
		 * was read: a bomb is refused early, and the estimate still says
		 * how far off the budget is. Buffers do not grow with the file. */
		uint64_t fixed = b->buffers + (buffer ? bytes : 0);
		if (fixed > want)
			fixed = want;
		double need = (double)(want - fixed);
		if (b->file_read && b->file_read < b->file_size)
			need *= (double)b->file_size / (double)b->file_read;
		need += (double)fixed;
		return refuse(b, need >= 1.8e19 ? UINT64_MAX : (uint64_t)need, err);
	}
	b->used = want;
	if (buffer)
		b->buffers += bytes;
	return 0;
}

int asnap_budget_charge(struct asnap_budget *b, uint64_t bytes, struct asnap_error *err)
{
	return charge(b, bytes, false, err);
}

int asnap_budget_charge_buffer(struct asnap_budget *b, uint64_t bytes, struct asnap_error *err)
{
	return charge(b, bytes, true, err);
}

void asnap_budget_credit(struct asnap_budget *b, uint64_t bytes)
{
	if (b)
		b->used = bytes > b->used ? 0 : b->used - bytes;
}

void asnap_budget_credit_buffer(struct asnap_budget *b, uint64_t bytes)
{
	if (!b)
		return;
	asnap_budget_credit(b, bytes);
	b->buffers = bytes > b->buffers ? 0 : b->buffers - bytes;
}
