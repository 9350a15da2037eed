/*
 * snapshot.c - see snapshot.h.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis/snapshot.h"
#include "analysis/strings.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/order.h"

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
	/* filled to at most two thirds: linear probing's lookups stay short
	 * (about 2 slots for an address there, 5 for one that is not), at 6
	 * to 12 bytes an object, one such index per snapshot of a leaks run */
	uint64_t size = 16;
	while (size < (uint64_t)g->n + g->n / 2)
		size *= 2;
	s->addr_slots = asnap_big_zalloc(size, sizeof(*s->addr_slots));
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
	assert(s->addr_slots); /* not a snapshot loaded with ASNAP_SNAP_NO_ADDRESSES */
	if (!s->addr_slots)
		return ASNAP_NO_NODE;
	for (uint64_t i = mix(addr) & s->addr_mask; s->addr_slots[i]; i = (i + 1) & s->addr_mask)
		if (s->g->addr[s->addr_slots[i] - 1] == addr)
			return s->addr_slots[i] - 1;
	return ASNAP_NO_NODE;
}

/* How far, and through how many objects, a future's holders are searched
 * for the task it belongs to. */
#define ANCHOR_DEPTH 4
#define ANCHOR_BUDGET 256

/*
 * The task an object belongs to: the task (or the coroutine of a task)
 * nearest to it against the references, when exactly one is nearest,
 * through neither loops nor modules. A protocol's "closed" future, or a
 * connection's transport, belongs to the handler task whose coroutine
 * holds the connection's writer; a future in a registry that many
 * coroutines can see belongs to none. ASNAP_NO_NODE if none, or when the
 * reverse references are not there.
 */
uint32_t asnap_snap_owner_task(const struct asnap_snap *s, uint32_t obj)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	uint32_t queue[ANCHOR_BUDGET];
	uint32_t head = 0, tail = 0, found = ASNAP_NO_NODE;
	bool ambiguous = false;
	if (!g->rev_start || obj >= g->n)
		return ASNAP_NO_NODE;
	queue[tail++] = obj;
	/* 3.9 and 3.10 snapshots reach attributes through instance dicts:
	 * each hop of the chain is two references there */
	unsigned max_depth = a->dict_label ? 2 * ANCHOR_DEPTH - 1 : ANCHOR_DEPTH;
	for (unsigned depth = 0; depth < max_depth && head < tail && found == ASNAP_NO_NODE;
	     depth++) {
		uint32_t level_end = tail;
		while (head < level_end) {
			uint32_t v = queue[head++];
			for (uint32_t k = g->rev_start[v]; k < g->rev_start[v + 1] && tail < ANCHOR_BUDGET;
			     k++) {
				uint32_t u = g->rev_source[k];
				bool seen = false;
				for (uint32_t i = 0; i < tail && !seen; i++)
					seen = queue[i] == u;
				if (seen || a->kind[u] == ASNAP_AIO_LOOP ||
				    (s->module_type && g->type[u] == s->module_type))
					continue;
				queue[tail++] = u;
				uint32_t t = a->kind[u] == ASNAP_AIO_TASK ? u
					     : a->kind[u] == ASNAP_AIO_CORO ? s->coro_task[asnap_aio_index(a, u)]
									    : ASNAP_NO_NODE;
				if (t == ASNAP_NO_NODE)
					continue;
				if (found != ASNAP_NO_NODE && found != t)
					ambiguous = true;
				found = t;
			}
		}
	}
	return ambiguous ? ASNAP_NO_NODE : found;
}

/* The task awaiting each future and the task running each coroutine. */
static int index_drivers(struct asnap_snap *s)
{
	const struct asnap_aio *a = &s->aio;
	s->future_task = malloc(((size_t)a->nfutures + 1) * sizeof(*s->future_task));
	s->coro_task = malloc(((size_t)a->ncoros + 1) * sizeof(*s->coro_task));
	s->future_owner = malloc(((size_t)a->nfutures + 1) * sizeof(*s->future_owner));
	if (!s->future_task || !s->coro_task || !s->future_owner)
		return -1;
	for (uint32_t i = 0; i < a->nfutures; i++)
		s->future_task[i] = s->future_owner[i] = ASNAP_NO_NODE;
	for (uint32_t i = 0; i < a->ncoros; i++)
		s->coro_task[i] = ASNAP_NO_NODE;
	for (uint32_t i = 0; i < a->ntasks; i++) {
		const struct asnap_aio_task *t = &a->tasks[i];
		if (asnap_aio_future(a, t->waiting_on))
			s->future_task[asnap_aio_index(a, t->waiting_on)] = t->node;
		uint32_t c = t->coro;
		for (unsigned step = 0; step < 256 && asnap_aio_coro(a, c); step++) {
			uint32_t *owner = &s->coro_task[asnap_aio_index(a, c)];
			if (*owner != ASNAP_NO_NODE)
				break; /* a cycle of awaits, or shared: the first task keeps it */
			*owner = t->node;
			c = a->coros[asnap_aio_index(a, c)].awaiting;
		}
	}
	/* who the objects belong to, through who holds them: the reverse
	 * references, kept for asnap_snap_owner_task (4 bytes a reference) */
	struct asnap_error err;
	s->module_type = asnap_graph_find_string(s->g, "builtins.module");
	if (asnap_graph_index_reverse(s->g, &err) < 0)
		return -1;
	for (uint32_t i = 0; i < a->nfutures; i++)
		if (s->future_task[i] == ASNAP_NO_NODE && a->futures[i].state == ASNAP_FUT_PENDING)
			s->future_owner[i] = asnap_snap_owner_task(s, a->futures[i].node);
	return 0;
}

static int index_modules(struct asnap_snap *s);

/* A header number as an integer; def when it does not fit (casting an
 * out-of-range double is undefined). */
static int64_t header_int(double d, int64_t def)
{
	return d > -9.2e18 && d < 9.2e18 ? (int64_t)d : def;
}

static void read_header(struct asnap_snap *s, const cJSON *h)
{
	s->pid = -1;
	const cJSON *x;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "pid")))
		s->pid = header_int(x->valuedouble, -1);
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "process_start")))
		s->process_start = x->valuedouble;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "seq")))
		s->seq = header_int(x->valuedouble, 0);
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "time")))
		s->time = x->valuedouble;
	if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(h, "monotonic")))
		s->monotonic = x->valuedouble;
	x = cJSON_GetObjectItemCaseSensitive(h, "gc");
	s->gc_disabled = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(x, "enabled"));
	s->gc_threshold0 = s->gc_full = -1;
	const cJSON *th = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(x, "thresholds"), 0);
	if (cJSON_IsNumber(th))
		s->gc_threshold0 = header_int(th->valuedouble, -1);
	const cJSON *g2 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(x, "generations"), 2);
	const cJSON *full = cJSON_GetObjectItemCaseSensitive(g2, "collections");
	if (cJSON_IsNumber(full))
		s->gc_full = header_int(full->valuedouble, -1);
}

struct asnap_snap *asnap_snap_load(const char *path, unsigned layers, struct asnap_error *err)
{
	struct asnap_snap *s = calloc(1, sizeof(*s));
	if (!s) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->path = path;
	uint32_t columns = ASNAP_COL_ALL;
	if ((layers & ASNAP_SNAP_NO_LABELS) && !(layers & (ASNAP_SNAP_AIO | ASNAP_SNAP_MATCH)))
		columns &= ~ASNAP_COL_LABEL;
	if ((layers & ASNAP_SNAP_NO_SIZES) && !(layers & ASNAP_SNAP_RETENTION))
		columns &= ~(ASNAP_COL_SIZE | ASNAP_COL_REFCNT);
	if (layers & ASNAP_SNAP_RETENTION) {
		/* loaded around the dominators' working memory (two passes for
		 * a big file), so retention comes first when it is wanted */
		if (asnap_retention_load(path, ASNAP_LOAD_AUTO, columns, &s->g, &s->ret, err) < 0)
			goto error;
		s->has_ret = true;
	} else if (!(s->g = asnap_graph_load_columns(path, columns, err))) {
		goto error;
	}
	read_header(s, s->g->header);
	s->objects = s->g->n;
	s->edges = s->g->m;
	s->func_label = asnap_graph_find_string(s->g, "__func__");
	s->globals_label = asnap_graph_find_string(s->g, "__globals__");
	if (asnap_snap_add_layers(s, layers & ~ASNAP_SNAP_RETENTION, err) < 0)
		goto error;
	return s;
error:
	asnap_snap_destroy(s);
	return NULL;
}

struct asnap_snap *asnap_snap_peek(const char *path, struct asnap_error *err)
{
	struct asnap_reader *r = asnap_reader_open(path, err);
	if (!r)
		return NULL;
	struct asnap_item it;
	struct asnap_snap *s = NULL;
	cJSON *h = NULL;
	int rc = asnap_reader_next(r, &it, err);
	if (rc == 0 || (rc > 0 && it.kind != ASNAP_ITEM_HEADER)) {
		asnap_error_set(err, ASNAP_ERR_CORRUPT, "no header section");
	} else if (rc > 0) {
		/* a damaged header is told by the whole load, later */
		h = cJSON_ParseWithLength(it.u.header.json, it.u.header.len);
		if (!(s = calloc(1, sizeof(*s))))
			asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
	}
	if (s) {
		s->path = path;
		read_header(s, h);
		s->header = h;
	} else {
		cJSON_Delete(h);
	}
	asnap_reader_destroy(r);
	return s;
}

int asnap_snap_add_layers(struct asnap_snap *s, unsigned layers, struct asnap_error *err)
{
	if (layers & ASNAP_SNAP_NO_ADDRESSES)
		s->no_addresses = true;
	if (((layers & (ASNAP_SNAP_AIO | ASNAP_SNAP_MATCH)) && asnap_snap_aio(s, err) < 0) ||
	    ((layers & ASNAP_SNAP_MATCH) && asnap_snap_match_index(s, err) < 0) ||
	    ((layers & ASNAP_SNAP_RETENTION) && asnap_snap_retention(s, err) < 0))
		return -1;
	return 0;
}

int asnap_snap_aio(struct asnap_snap *s, struct asnap_error *err)
{
	if (s->has_aio)
		return 0;
	if (!(s->g->columns & ASNAP_COL_LABEL)) /* a caller's mistake: ASNAP_SNAP_NO_LABELS */
		return asnap_error_set(err, ASNAP_ERR_USAGE, "asyncio facts need the labels");
	if (asnap_usercode_init(&s->code, s->g->header) < 0 || index_modules(s) < 0) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory");
		return -1;
	}
	if (asnap_aio_build(s->g, &s->aio, err) < 0)
		return -1;
	s->has_aio = true;
	return 0;
}

int asnap_snap_match_index(struct asnap_snap *s, struct asnap_error *err)
{
	if (s->has_match)
		return 0;
	if (asnap_snap_aio(s, err) < 0)
		return -1;
	if ((!s->no_addresses && index_addresses(s) < 0) || index_drivers(s) < 0) {
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory indexing addresses");
		return -1;
	}
	s->has_match = true;
	return 0;
}

int asnap_snap_retention(struct asnap_snap *s, struct asnap_error *err)
{
	if (s->has_ret)
		return 0;
	/* loaded with ASNAP_SNAP_NO_SIZES: the roots and retained sizes need them */
	uint32_t need = ASNAP_COL_SIZE | ASNAP_COL_REFCNT;
	if ((s->g->columns & need) != need && asnap_graph_load_more(s->g, need, err) < 0)
		return -1;
	if (asnap_retention_compute(s->g, &s->ret, err) < 0)
		return -1;
	s->has_ret = true;
	return 0;
}

uint64_t asnap_snap_bytes(const struct asnap_snap *s)
{
	if (!s->g)
		return s->bytes;
	if (!s->g->size32) /* loaded without sizes (ASNAP_SNAP_NO_SIZES) */
		return 0;
	uint64_t bytes = 0;
	for (uint32_t v = 0; v < s->g->n; v++)
		bytes += asnap_graph_size(s->g, v);
	return bytes;
}

const struct cJSON *asnap_snap_header(const struct asnap_snap *s)
{
	return s->g ? s->g->header : s->header;
}

/* The graph and every layer freed. */
static void release_layers(struct asnap_snap *s)
{
	if (s->has_ret)
		asnap_retention_release(&s->ret);
	asnap_aio_release(&s->aio);
	asnap_graph_destroy(s->g);
	asnap_free_all(s->addr_slots, s->future_task, s->future_owner, s->module_dicts,
		       s->coro_task);
	asnap_usercode_release(&s->code);
	s->g = NULL;
	s->addr_slots = s->future_task = s->future_owner = s->coro_task = NULL;
	s->module_dicts = NULL;
	s->nmodule_dicts = 0;
	s->has_aio = s->has_match = s->has_ret = false;
}

void asnap_snap_shed(struct asnap_snap *s)
{
	if (s->g) {
		s->bytes = asnap_snap_bytes(s);
		cJSON_Delete(s->header);
		s->header = s->g->header; /* kept: the graph's is freed with it */
		s->g->header = NULL;
	}
	release_layers(s);
}

void asnap_snap_destroy(struct asnap_snap *s)
{
	if (!s)
		return;
	release_layers(s);
	cJSON_Delete(s->header);
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

/* Tasks x of a and y of b are the same task: at one address, one name. */
static bool same_task(const struct asnap_snap *a, uint32_t x, const struct asnap_snap *b, uint32_t y)
{
	if (x == ASNAP_NO_NODE || y == ASNAP_NO_NODE)
		return x == y;
	const struct asnap_aio_task *tx = asnap_aio_task(&a->aio, x), *ty = asnap_aio_task(&b->aio, y);
	return tx && ty && a->g->addr[x] == b->g->addr[y] && same_string(a->g, tx->name, b->g, ty->name);
}

static uint64_t addr_or_zero(const struct asnap_graph *g, uint32_t v)
{
	return v < g->n ? g->addr[v] : 0;
}

/*
 * A frame that no longer runs (no live generator owns it) and a coroutine
 * not yet started refer to what they will always refer to: their locals,
 * arguments, code. One at a reused address - the allocator hands the
 * address of a freed frame to the next frame of that function - refers to
 * other objects.
 */
static bool settled(const struct asnap_snap *s, uint32_t v)
{
	const struct asnap_aio *a = &s->aio;
	if (a->kind[v] == ASNAP_AIO_CORO)
		return a->coros[asnap_aio_index(a, v)].state == ASNAP_GEN_CREATED;
	return asnap_aio_frame_done(a, v);
}

/* Strong references of v (in a) and w (in b) to the same addresses, in the
 * same order; those to frames aside (a frame object may be made on demand
 * between two snapshots). */
static bool same_references(const struct asnap_snap *a, uint32_t v, const struct asnap_snap *b,
			    uint32_t w)
{
	const struct asnap_graph *ga = a->g, *gb = b->g;
	uint64_t e = asnap_graph_edge_begin(ga, v), ee = asnap_graph_edge_end(ga, v);
	uint64_t f = asnap_graph_edge_begin(gb, w), fe = asnap_graph_edge_end(gb, w);
	for (;;) {
		while (e < ee && (!asnap_graph_edge_is_strong(ga, e) ||
				  a->aio.kind[ga->edge_target[e]] == ASNAP_AIO_FRAME))
			e++;
		while (f < fe && (!asnap_graph_edge_is_strong(gb, f) ||
				  b->aio.kind[gb->edge_target[f]] == ASNAP_AIO_FRAME))
			f++;
		if (e == ee || f == fe)
			return e == ee && f == fe;
		if (ga->addr[ga->edge_target[e]] != gb->addr[gb->edge_target[f]])
			return false;
		e++;
		f++;
	}
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
	uint32_t i = asnap_aio_index(a, v), j = asnap_aio_index(b, w);
	switch (a->kind[v]) {
	case ASNAP_AIO_TASK: {
		const struct asnap_aio_task *x = &a->tasks[i], *y = &b->tasks[j];
		if (!same_string(ga, x->name, gb, y->name))
			return ASNAP_NO_NODE;
		const struct asnap_aio_coro *cx = asnap_aio_coro(a, x->coro);
		const struct asnap_aio_coro *cy = asnap_aio_coro(b, y->coro);
		if (!cx != !cy || (cx && !same_string(ga, cx->qualname, gb, cy->qualname)) ||
		    addr_or_zero(ga, x->coro) != addr_or_zero(gb, y->coro))
			return ASNAP_NO_NODE;
		break;
	}
	case ASNAP_AIO_FUTURE:
		if (!same_task(from, from->future_task[i], in, in->future_task[j]) ||
		    !same_task(from, from->future_owner[i], in, in->future_owner[j]))
			return ASNAP_NO_NODE;
		break;
	case ASNAP_AIO_CORO: {
		const struct asnap_aio_coro *x = &a->coros[i], *y = &b->coros[j];
		if (!same_string(ga, x->qualname, gb, y->qualname) ||
		    (x->state == ASNAP_GEN_CREATED) != (y->state == ASNAP_GEN_CREATED) ||
		    !same_task(from, from->coro_task[i], in, in->coro_task[j]))
			return ASNAP_NO_NODE;
		break;
	}
	case ASNAP_AIO_FRAME: {
		const struct asnap_aio_frame *x = &a->frames[i], *y = &b->frames[j];
		if (!same_string(ga, x->qualname, gb, y->qualname) || x->first_line != y->first_line ||
		    (!x->executing && !y->executing && x->line != y->line))
			return ASNAP_NO_NODE;
		break;
	}
	case ASNAP_AIO_HANDLE: {
		const struct asnap_aio_handle *x = &a->handles[i], *y = &b->handles[j];
		if (!same_string(ga, x->callback_name, gb, y->callback_name) || x->timer != y->timer ||
		    (x->timer ? x->when != y->when
			      : addr_or_zero(ga, x->callback) != addr_or_zero(gb, y->callback)))
			return ASNAP_NO_NODE;
		break;
	}
	default:
		break;
	}
	if ((a->kind[v] == ASNAP_AIO_FRAME || a->kind[v] == ASNAP_AIO_CORO) && settled(from, v) &&
	    settled(in, w) && !same_references(from, v, in, w))
		return ASNAP_NO_NODE;
	if (a->kind[v] == ASNAP_AIO_CORO && settled(from, v)) {
		/* 3.9 and 3.10 keep a coroutine's arguments in its frame object */
		uint32_t fv = a->coros[i].frame, fw = b->coros[j].frame;
		if ((fv < ga->n) != (fw < gb->n) ||
		    (fv < ga->n && !same_references(from, fv, in, fw)))
			return ASNAP_NO_NODE;
	}
	return w;
}

static uint32_t code_file(const struct asnap_snap *s, uint32_t v)
{
	const struct asnap_aio_coro *c = asnap_aio_coro(&s->aio, v);
	const struct asnap_aio_frame *f = asnap_aio_frame(&s->aio, v);
	return c ? c->file : f ? f->file : 0;
}

uint32_t asnap_snap_site_node(const struct asnap_snap *s, uint32_t v)
{
	const struct asnap_aio *a = &s->aio;
	if (v >= s->g->n)
		return ASNAP_NO_NODE;
	if (a->kind[v] == ASNAP_AIO_FRAME)
		return v;
	const struct asnap_aio_task *t = asnap_aio_task(a, v);
	uint32_t c = t ? t->coro : v;
	if (!asnap_aio_coro(a, c))
		return ASNAP_NO_NODE;
	uint32_t user = ASNAP_NO_NODE, leaf = c;
	for (unsigned step = 0; step < 256; step++) {
		uint32_t file = code_file(s, c);
		if (file && !asnap_usercode_library_file(&s->code, asnap_graph_string(s->g, file)))
			user = c;
		leaf = c;
		uint32_t next = a->coros[asnap_aio_index(a, c)].awaiting;
		if (!asnap_aio_coro(a, next) || next == c)
			break;
		c = next;
	}
	return user != ASNAP_NO_NODE ? user : leaf;
}

const char *asnap_snap_own_site(const struct asnap_snap *s, uint32_t v, char *buf, size_t len)
{
	const struct asnap_aio_coro *c = asnap_aio_coro(&s->aio, v);
	const struct asnap_aio_frame *f = asnap_aio_frame(&s->aio, v);
	uint32_t file = c ? c->file : f ? f->file : 0;
	int64_t line = c ? c->line : f ? f->line : 0;
	if (line <= 0)
		line = c ? c->first_line : f ? f->first_line : 0;
	if (!file) {
		buf[0] = 0;
		return buf;
	}
	snprintf(buf, len, "%s:%" PRId64, asnap_graph_string(s->g, file), line);
	return buf;
}

const char *asnap_snap_site(const struct asnap_snap *s, uint32_t v, char *buf, size_t len)
{
	uint32_t at = asnap_snap_site_node(s, v);
	if (at == ASNAP_NO_NODE) {
		buf[0] = 0;
		return buf;
	}
	return asnap_snap_own_site(s, at, buf, len);
}

static int by_dict(const void *x, const void *y)
{
	const struct asnap_module_dict *a = x, *b = y;
	return asnap_asc_u64(a->dict, b->dict);
}

/* The globals dict of every module in sys.modules, with its name (the
 * agent labels sys.modules' entries by module name), sorted by dict. */
static int index_modules(struct asnap_snap *s)
{
	const struct asnap_graph *g = s->g;
	uint32_t dict_label = asnap_graph_find_string(g, "__dict__");
	uint32_t skip[2] = {asnap_graph_find_string(g, "value"), asnap_graph_find_string(g, "key")};
	for (int pass = 0; pass < 2; pass++) {
		uint32_t n = 0;
		for (uint64_t i = 0; dict_label && i < g->nroots; i++) {
			uint32_t sm = g->roots[i].node;
			if (sm >= g->n || !asnap_string_eq(g, g->roots[i].kind, "sys.modules"))
				continue;
			for (uint64_t e = asnap_graph_edge_begin(g, sm); e < asnap_graph_edge_end(g, sm);
			     e++) {
				uint32_t mod = g->edge_target[e], l = g->edge_label[e];
				if (!l || l == skip[0] || l == skip[1])
					continue;
				for (uint64_t f = asnap_graph_edge_begin(g, mod);
				     f < asnap_graph_edge_end(g, mod); f++)
					if (g->edge_label[f] == dict_label) {
						if (pass)
							s->module_dicts[n] = (struct asnap_module_dict){
								g->edge_target[f], l};
						n++;
						break;
					}
			}
		}
		if (!pass) {
			s->module_dicts = asnap_big_alloc((size_t)n + 1, sizeof(*s->module_dicts));
			if (!s->module_dicts)
				return -1;
		} else {
			s->nmodule_dicts = n;
			qsort(s->module_dicts, n, sizeof(*s->module_dicts), by_dict);
		}
	}
	return 0;
}

const char *asnap_snap_module_name(const struct asnap_snap *s, uint32_t dict)
{
	uint32_t lo = (uint32_t)asnap_lower_bound(s->module_dicts, s->nmodule_dicts,
						  sizeof(*s->module_dicts),
						  offsetof(struct asnap_module_dict, dict), dict);
	if (lo < s->nmodule_dicts && s->module_dicts[lo].dict == dict)
		return asnap_graph_string(s->g, s->module_dicts[lo].name);
	return NULL;
}

/* The target of v's first reference labelled id, or ASNAP_NO_NODE. */
static uint32_t labelled(const struct asnap_graph *g, uint32_t v, uint32_t id)
{
	if (!id || v >= g->n)
		return ASNAP_NO_NODE;
	for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++)
		if (g->edge_label[e] == id)
			return g->edge_target[e];
	return ASNAP_NO_NODE;
}

bool asnap_snap_is_user(const struct asnap_snap *s, uint32_t v)
{
	const struct asnap_graph *g = s->g;
	const struct asnap_aio *a = &s->aio;
	if (v >= g->n)
		return false;
	uint32_t file = code_file(s, v);
	if (file)
		return !asnap_usercode_library_file(&s->code, asnap_graph_string(g, file));
	if (a->kind[v] == ASNAP_AIO_CORO || a->kind[v] == ASNAP_AIO_FRAME)
		return false;
	if (!s->code.known)
		return false;
	const struct asnap_aio_handle *h = asnap_aio_handle(a, v);
	uint32_t fn = h ? h->callback : v;
	const char *type = fn < g->n ? asnap_graph_string(g, g->type[fn]) : "";
	if (!strcmp(type, "builtins.method"))
		fn = labelled(g, fn, s->func_label);
	if (fn < g->n && asnap_string_eq(g, g->type[fn], "builtins.function")) {
		const char *module = asnap_snap_module_name(s, labelled(g, fn, s->globals_label));
		return module && !asnap_usercode_library_type(&s->code, module);
	}
	return !h && !asnap_usercode_library_type(&s->code, asnap_graph_string(g, g->type[v]));
}
