/*
 * tasks.c - render `asyncsnap tasks` (see leaks.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/codec.h"
#include "render/json.h"
#include "render/leaks.h"
#include "render/objects.h"
#include "render/text.h"
#include "util/freeall.h"

static const char *ref_label(const struct asnap_snap *s, uint32_t label)
{
	return label ? asnap_graph_string(s->g, label) : NULL;
}

/* "[12]": a list's or tuple's index, which tells apart tasks that are
 * otherwise alike */
static bool is_index(const char *lab)
{
	if (!lab || lab[0] != '[' || !lab[1])
		return false;
	size_t i = 1;
	while (lab[i] >= '0' && lab[i] <= '9')
		i++;
	return i > 1 && lab[i] == ']' && !lab[i + 1];
}

/* An object as the lines of tasks alike name it: another task by its type
 * alone (each of 100 handler tasks awaits a task of its own), the rest as
 * ever. */
static const char *describe(const struct asnap_snap *s, uint32_t v, bool alike, char *buf,
			    size_t len)
{
	if (alike && asnap_aio_task(&s->aio, v) && asnap_aio_name(&s->aio, v)) {
		snprintf(buf, len, "%s '...'", asnap_obj_type_name(s, v));
		return buf;
	}
	return asnap_obj_describe(s, v, buf, len);
}

/* The lines of a task are made once in a buffer (format/codec.h), to
 * print or to compare (200,000 tasks through fprintf into a memory stream
 * spent a fifth of `tasks` in stdio). */
static void put(struct bytebuf *t, const char *str)
{
	bytebuf_put(t, str, strlen(str));
}

/* str with its terminating NUL, which stays part of the text */
static void put0(struct bytebuf *t, const char *str)
{
	bytebuf_put(t, str, strlen(str) + 1);
}

static void put_int(struct bytebuf *t, int64_t n)
{
	char num[24];
	snprintf(num, sizeof(num), "%" PRId64, n);
	put(t, num);
}

/* The lines under a task's first: where it is suspended, its await chain,
 * what references it. alike: the lines of a group of tasks alike, where a
 * container index prints as "[i]" and another task without its name. */
static void task_lines(struct bytebuf *out, const struct asnap_snap *s,
		       const struct asnap_task_view *t, bool alike)
{
	char what[300], site[600];
	/* where it is in the program's own code, then where in the library it
	 * actually waits */
	uint32_t at = asnap_snap_site_node(s, t->node);
	const struct asnap_aio_coro *c = asnap_aio_coro(&s->aio, at);
	if (c && c->file) {
		put(out, t->state == ASNAP_FUT_PENDING ? "  suspended at " : "  ended at ");
		put(out, asnap_snap_own_site(s, at, site, sizeof(site)));
		put(out, " in ");
		put(out, asnap_graph_string(s->g, c->qualname));
		const struct asnap_aio_coro *leaf = asnap_aio_coro(&s->aio, t->leaf);
		if (leaf && leaf != c && leaf->file) {
			put(out, ", waiting in ");
			put(out, asnap_graph_string(s->g, leaf->qualname));
			put(out, " at ");
			put(out, asnap_snap_own_site(s, t->leaf, site, sizeof(site)));
		}
		put(out, "\n");
	}
	if (t->chain_len) {
		put(out, "  await chain: ");
		for (uint32_t k = 0; k < t->chain_len; k++) {
			uint32_t x = t->chain[k];
			const struct asnap_aio_future *f = asnap_aio_future(&s->aio, x);
			if (k)
				put(out, " -> ");
			put(out, describe(s, x, alike, what, sizeof(what)));
			if (asnap_aio_coro(&s->aio, x) && asnap_snap_own_site(s, x, site, sizeof(site))[0]) {
				put(out, " (");
				put(out, site);
				put(out, ")");
			}
			if (f) {
				put(out, " (");
				put(out, asnap_fut_state_name(f->state));
				put(out, ", ");
				put_int(out, f->callbacks);
				put(out, f->callbacks == 1 ? " callback)" : " callbacks)");
			}
		}
		put(out, "\n");
	}
	if (t->nrefs) {
		put(out, "  referenced by: ");
		for (uint32_t k = 0; k < t->nrefs; k++) {
			const struct asnap_task_ref *r = &t->refs[k];
			const char *lab = ref_label(s, r->label);
			if (k)
				put(out, "; ");
			put(out, describe(s, r->node, alike, what, sizeof(what)));
			if (lab) {
				put(out, ".");
				put(out, alike && is_index(lab) ? "[i]" : lab);
			}
			const char *module = asnap_obj_module_name(s, r->holder);
			const char *holder = module ? module /* a module global: __main__.background */
					     : r->holder != ASNAP_NO_NODE
						 ? describe(s, r->holder, alike, what, sizeof(what))
						 : NULL;
			if (holder) {
				put(out, " (");
				put(out, holder);
				put(out, ".");
				put(out, asnap_graph_string(s->g, r->holder_label));
				put(out, ")");
			}
		}
		if (t->more_refs) {
			put(out, "; ");
			put_int(out, t->more_refs);
			put(out, " more");
		}
		put(out, "\n");
	}
}

static void task_block(FILE *out, struct bytebuf *lines, const struct asnap_snap *s,
		       const struct asnap_task_view *t)
{
	char a[32], what[300];
	fprintf(out, "\n%-9s %s 0x%" PRIx64 "  retains %s\n", asnap_task_verdict(t),
		asnap_obj_describe(s, t->node, what, sizeof(what)), s->g->addr[t->node],
		asnap_fmt_bytes(a, t->retained));
	lines->len = 0;
	task_lines(lines, s, t, false);
	if (lines->len)
		fwrite(lines->data, 1, lines->len, out);
}

/*
 * Tasks alike: the same verdict and type, and the same lines under the
 * first (where suspended, await chain, referrers; a container's index and
 * the names of other tasks aside). A service's 100,000 tasks of one kind
 * are one block, with their count and the first few by name; --each
 * prints one block per task.
 */
enum { EXAMPLES = 3 };

struct group {
	uint64_t hash;
	size_t key, key_len; /* in the key buffer */
	uint32_t count;
	uint32_t members[EXAMPLES]; /* the first ones, most suspicious first */
	uint64_t retained, largest;
};

struct grouping {
	struct group *groups;
	uint32_t ngroups, cap;
	uint32_t *slots; /* open addressing: group index + 1, 0 = free */
	uint32_t nslots;
	char *keys;
	size_t keys_len, keys_cap;
};

/* A hash of a key of a few hundred bytes, eight at a time. */
static uint64_t key_hash(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* The group of key (made if new), or NULL when out of memory. */
static struct group *group_of(struct grouping *gr, const char *key, size_t len)
{
	uint64_t h = key_hash(key, len);
	uint32_t mask = gr->nslots - 1, i = (uint32_t)h & mask;
	for (; gr->slots[i]; i = (i + 1) & mask) {
		struct group *g = &gr->groups[gr->slots[i] - 1];
		if (g->hash == h && g->key_len == len && memcmp(gr->keys + g->key, key, len) == 0)
			return g;
	}
	if (gr->ngroups == gr->cap || gr->keys_len + len > gr->keys_cap)
		return NULL; /* sized by the caller: cannot happen */
	memcpy(gr->keys + gr->keys_len, key, len);
	gr->slots[i] = gr->ngroups + 1;
	struct group *g = &gr->groups[gr->ngroups++];
	*g = (struct group){.hash = h, .key = gr->keys_len, .key_len = len};
	gr->keys_len += len;
	return g;
}

static bool grow_keys(struct grouping *gr, size_t need)
{
	if (gr->keys_len + need <= gr->keys_cap)
		return true;
	size_t cap = gr->keys_cap ? gr->keys_cap : 1 << 16;
	while (cap < gr->keys_len + need)
		cap *= 2;
	char *k = realloc(gr->keys, cap);
	if (!k)
		return false;
	gr->keys = k;
	gr->keys_cap = cap;
	return true;
}

static void grouping_release(struct grouping *gr)
{
	asnap_free_all(gr->groups, gr->slots, gr->keys);
	*gr = (struct grouping){0};
}

/* Groups the tasks; 0, or -1 when out of memory. */
static int group_tasks(struct grouping *gr, const struct asnap_tasks_render *v)
{
	const struct asnap_snap *s = v->s;
	gr->cap = v->count ? v->count : 1;
	gr->nslots = 16;
	while (gr->nslots < 2 * (uint64_t)gr->cap)
		gr->nslots *= 2;
	gr->groups = malloc(sizeof(*gr->groups) * gr->cap);
	gr->slots = calloc(gr->nslots, sizeof(*gr->slots));
	struct bytebuf key = {0};
	int rc = gr->groups && gr->slots ? 0 : -1;
	for (uint32_t i = 0; rc == 0 && i < v->count; i++) {
		const struct asnap_task_view *t = &v->tasks[i];
		char type[16];
		snprintf(type, sizeof(type), "%" PRIu32, s->g->type[t->node]);
		key.len = 0;
		put0(&key, asnap_task_verdict(t));
		put0(&key, type);
		task_lines(&key, s, t, true);
		struct group *g = !key.failed && grow_keys(gr, key.len)
					  ? group_of(gr, (const char *)key.data, key.len)
					  : NULL;
		if (!g) {
			rc = -1;
			break;
		}
		if (g->count < EXAMPLES)
			g->members[g->count] = i;
		g->count++;
		g->retained += t->retained;
		if (t->retained > g->largest)
			g->largest = t->retained;
	}
	bytebuf_release(&key);
	return rc;
}

static void group_block(FILE *out, const struct asnap_tasks_render *v, const struct grouping *gr,
			const struct group *g)
{
	const struct asnap_snap *s = v->s;
	char a[32], b[32], n[32];
	const struct asnap_task_view *first = &v->tasks[g->members[0]];
	const char *verdict = gr->keys + g->key;
	fprintf(out, "\n%-9s %s %s tasks alike  retain %s in all, %s the largest\n", verdict,
		asnap_fmt_count(n, g->count), asnap_obj_type_name(s, first->node),
		asnap_fmt_bytes(a, g->retained),
		asnap_fmt_bytes(b, g->largest));
	/* the lines, from the key: past the verdict and the type */
	const char *lines = (const char *)memchr(verdict, 0, g->key_len) + 1;
	lines = (const char *)memchr(lines, 0, g->key_len - (size_t)(lines - verdict)) + 1;
	fwrite(lines, 1, g->key_len - (size_t)(lines - verdict), out);
	fputs("  these:", out);
	for (uint32_t k = 0; k < EXAMPLES && k < g->count; k++) {
		const struct asnap_task_view *t = &v->tasks[g->members[k]];
		uint32_t name = asnap_aio_name(&s->aio, t->node);
		fprintf(out, "%s", k ? "," : "");
		if (name)
			fprintf(out, " '%s'", asnap_graph_string(s->g, name));
		fprintf(out, " 0x%" PRIx64, s->g->addr[t->node]);
	}
	if (g->count > EXAMPLES)
		fprintf(out, " and %s more (--each: one block per task)",
			asnap_fmt_count(n, g->count - EXAMPLES));
	fputc('\n', out);
}

int asnap_render_tasks_text(FILE *out, const struct asnap_tasks_render *v)
{
	uint32_t orphaned = 0, pending = 0, done = 0;
	for (uint32_t i = 0; i < v->count; i++) {
		orphaned += v->tasks[i].orphaned;
		pending += v->tasks[i].state == ASNAP_FUT_PENDING;
		done += v->tasks[i].state != ASNAP_FUT_PENDING;
	}
	fprintf(out, "%u task%s: %u pending (%u orphaned: waiting on a future nothing live can "
		     "resolve), %u done\n",
		v->count, v->count == 1 ? "" : "s", pending, orphaned, done);
	struct bytebuf lines = {0};
	struct grouping gr = {0};
	int rc = 0;
	if (v->each) {
		for (uint32_t i = 0; i < v->count; i++)
			task_block(out, &lines, v->s, &v->tasks[i]);
	} else if (group_tasks(&gr, v) < 0) {
		rc = -1;
	} else {
		/* in the order of each group's first task: the most suspicious
		 * first */
		for (uint32_t k = 0; k < gr.ngroups; k++) {
			const struct group *g = &gr.groups[k];
			if (g->count == 1)
				task_block(out, &lines, v->s, &v->tasks[g->members[0]]);
			else
				group_block(out, v, &gr, g);
		}
	}
	grouping_release(&gr);
	if (lines.failed)
		rc = -1;
	bytebuf_release(&lines);
	return rc;
}

int asnap_render_tasks_json(FILE *out, const struct asnap_tasks_render *v)
{
	const struct asnap_snap *s = v->s;
	cJSON *list, *o = asnap_json_with_list("tasks", &list);
	if (!o)
		return -1;
	for (uint32_t i = 0; i < v->count; i++) {
		const struct asnap_task_view *t = &v->tasks[i];
		cJSON *j = asnap_obj_json(s, t->node);
		if (!j)
			break;
		cJSON_AddItemToArray(list, j);
		cJSON_AddStringToObject(j, "verdict", asnap_task_verdict(t));
		cJSON_AddBoolToObject(j, "orphaned", t->orphaned);
		cJSON_AddBoolToObject(j, "blocked", t->blocked);
		cJSON_AddBoolToObject(j, "main", t->main);
		cJSON_AddNumberToObject(j, "score", t->score);
		if (t->leaf != ASNAP_NO_NODE)
			cJSON_AddItemToObject(j, "suspended_in", asnap_obj_json(s, t->leaf));
		else
			cJSON_AddNullToObject(j, "suspended_in");
		cJSON *chain = cJSON_AddArrayToObject(j, "await_chain");
		for (uint32_t k = 0; chain && k < t->chain_len; k++)
			cJSON_AddItemToArray(chain, asnap_obj_json(s, t->chain[k]));
		cJSON *refs = cJSON_AddArrayToObject(j, "referrers");
		for (uint32_t k = 0; refs && k < t->nrefs; k++) {
			const struct asnap_task_ref *r = &t->refs[k];
			cJSON *rj = asnap_obj_json(s, r->node);
			if (!rj)
				break;
			if (r->label)
				cJSON_AddItemToObject(rj, "label", asnap_json_gstring(s->g, r->label));
			else
				cJSON_AddNullToObject(rj, "label");
			if (r->holder != ASNAP_NO_NODE) {
				cJSON *h = asnap_obj_json(s, r->holder);
				if (h) {
					cJSON_AddItemToObject(h, "label",
							      asnap_json_gstring(s->g, r->holder_label));
					cJSON_AddItemToObject(rj, "held_by", h);
				}
			}
			cJSON_AddItemToArray(refs, rj);
		}
		cJSON_AddNumberToObject(j, "more_referrers", t->more_refs);
	}
	int rc = asnap_json_print_pretty(out, o);
	cJSON_Delete(o);
	return rc;
}
