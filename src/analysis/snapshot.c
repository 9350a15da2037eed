/*
 * snapshot.c - see snapshot.h.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis/snapshot.h"

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static int index_addresses(struct asnap_snap *s)
{
	const struct asnap_graph *g = s->g;
	uint64_t size = 16;
	while (size < (uint64_t)g->n * 2)
		size *= 2;
	s->addr_slots = calloc(size, sizeof(*s->addr_slots));
	if (!s->addr_slots)
		return -1;
	s->addr_mask = size - 1;
	for (uint32_t v = 0; v < g->n; v++) {
		uint64_t i = mix(g->addr[v]) & s->addr_mask;
		while (s->addr_slots[i]) {
			if (g->addr[s->addr_slots[i] - 1] == g->addr[v])
				break; /* a duplicate address: the first node wins */
			i = (i + 1) & s->addr_mask;
		}
		if (!s->addr_slots[i])
			s->addr_slots[i] = v + 1;
	}
	return 0;
}

uint32_t asnap_snap_find_addr(const struct asnap_snap *s, uint64_t addr)
{
	for (uint64_t i = mix(addr) & s->addr_mask; s->addr_slots[i]; i = (i + 1) & s->addr_mask)
		if (s->g->addr[s->addr_slots[i] - 1] == addr)
			return s->addr_slots[i] - 1;
	return ASNAP_NO_NODE;
}

/* A header number as an integer; def when it does not fit (casting an
 * out-of-range double is undefined). */
static int64_t header_int(double d, int64_t def)
{
	return d > -9.2e18 && d < 9.2e18 ? (int64_t)d : def;
}

static void read_header(struct asnap_snap *s)
{
	s->pid = -1;
	cJSON *h = s->g->header_json ? cJSON_Parse(s->g->header_json) : NULL;
	if (!h)
		return;
	const cJSON *x;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "pid")))
		s->pid = header_int(x->valuedouble, -1);
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "process_start")))
		s->process_start = x->valuedouble;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "seq")))
		s->seq = header_int(x->valuedouble, 0);
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "time")))
		s->time = x->valuedouble;
	cJSON_Delete(h);
}

struct asnap_snap *asnap_snap_load(const char *path, struct asnap_error *err)
{
	struct asnap_snap *s = calloc(1, sizeof(*s));
	if (!s) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->path = path;
	s->g = asnap_graph_load(path, err);
	if (!s->g)
		goto error;
	read_header(s);
	if (asnap_aio_build(s->g, &s->aio, err) < 0)
		goto error;
	if (index_addresses(s) < 0) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory indexing addresses");
		goto error;
	}
	return s;
error:
	asnap_snap_destroy(s);
	return NULL;
}

int asnap_snap_retention(struct asnap_snap *s, struct asnap_error *err)
{
	if (s->has_ret)
		return 0;
	if (asnap_retention_compute(s->g, &s->ret, err) < 0)
		return -1;
	s->has_ret = true;
	return 0;
}

void asnap_snap_destroy(struct asnap_snap *s)
{
	if (!s)
		return;
	if (s->has_ret)
		asnap_retention_release(&s->ret);
	asnap_aio_release(&s->aio);
	asnap_graph_destroy(s->g);
	free(s->addr_slots);
	free(s);
}

bool asnap_snap_same_process(const struct asnap_snap *a, const struct asnap_snap *b)
{
	return a->pid >= 0 && a->pid == b->pid && a->process_start == b->process_start;
}

static bool same_string(const struct asnap_graph *ga, uint32_t a, const struct asnap_graph *gb,
			uint32_t b)
{
	size_t la, lb;
	const char *sa = asnap_graph_string_len(ga, a, &la);
	const char *sb = asnap_graph_string_len(gb, b, &lb);
	return la == lb && memcmp(sa, sb, la) == 0;
}

uint32_t asnap_snap_match(const struct asnap_snap *from, uint32_t v, const struct asnap_snap *in)
{
	const struct asnap_graph *ga = from->g, *gb = in->g;
	uint32_t w = asnap_snap_find_addr(in, ga->addr[v]);
	if (w == ASNAP_NO_NODE || !same_string(ga, ga->type[v], gb, gb->type[w]))
		return ASNAP_NO_NODE;
	const struct asnap_aio *a = &from->aio, *b = &in->aio;
	if (a->kind[v] != b->kind[w])
		return ASNAP_NO_NODE;
	switch (a->kind[v]) {
	case ASNAP_AIO_TASK: {
		const struct asnap_aio_task *x = asnap_aio_task(a, v), *y = asnap_aio_task(b, w);
		if (!same_string(ga, x->name, gb, y->name))
			return ASNAP_NO_NODE;
		const struct asnap_aio_coro *cx = asnap_aio_coro(a, x->coro);
		const struct asnap_aio_coro *cy = asnap_aio_coro(b, y->coro);
		if (!cx != !cy || (cx && !same_string(ga, cx->qualname, gb, cy->qualname)))
			return ASNAP_NO_NODE;
		break;
	}
	case ASNAP_AIO_CORO:
	case ASNAP_AIO_FRAME:
	case ASNAP_AIO_HANDLE:
		if (!same_string(ga, asnap_aio_name(a, v), gb, asnap_aio_name(b, w)))
			return ASNAP_NO_NODE;
		break;
	default:
		break;
	}
	return w;
}
