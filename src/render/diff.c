/*
 * diff.c - render `asyncsnap diff` (see leaks.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "render/json.h"
#include "render/leaks.h"
#include "render/objects.h"
#include "render/text.h"

static const char *signed_count(char *buf, int64_t n)
{
	buf[0] = n < 0 ? '-' : '+';
	asnap_fmt_count(buf + 1, (uint64_t)(n < 0 ? -n : n));
	return buf;
}

static const char *signed_bytes(char *buf, int64_t n)
{
	char tmp[32];
	asnap_fmt_bytes(tmp, (uint64_t)(n < 0 ? -n : n));
	buf[0] = n < 0 ? '-' : '+';
	memcpy(buf + 1, tmp, strlen(tmp) + 1);
	return buf;
}

static int text_table(FILE *out, const char *title, const struct asnap_diff_table *t,
		      uint32_t nsnap, unsigned top, bool by_count)
{
	uint32_t shown = 0;
	for (uint32_t i = 0; i < t->count; i++)
		if (t->rows[i].dcount > 0 || t->rows[i].dbytes > 0)
			shown++;
	fprintf(out, "\n%s\n", title);
	if (!shown) {
		fputs("  nothing grew\n", out);
		return 0;
	}
	struct asnap_table *tab = asnap_table_create(4, "rrrl");
	if (!tab)
		return -1;
	asnap_table_header(tab, "count", "+count", by_count ? "+bytes" : "+bytes", "");
	/* rows sorted by bytes; for count tables sort order still by bytes first */
	unsigned n = 0;
	for (uint32_t i = 0; i < t->count && n < top; i++) {
		const struct asnap_diff_row *r = &t->rows[i];
		if (r->dcount <= 0 && r->dbytes <= 0)
			continue;
		char counts[256] = "", dc[40], db[40];
		size_t at = 0;
		for (uint32_t k = 0; k < nsnap && at + 24 < sizeof(counts); k++) {
			char c[32];
			at += (size_t)snprintf(counts + at, sizeof(counts) - at, "%s%s", k ? " -> " : "",
					       asnap_fmt_count(c, r->count[k]));
		}
		asnap_table_row(tab, counts, signed_count(dc, r->dcount), signed_bytes(db, r->dbytes),
				r->key);
		n++;
	}
	int rc = asnap_table_print(tab, out, "  ");
	asnap_table_destroy(tab);
	if (rc == 0 && shown > n)
		fprintf(out, "  ... %u more that grew\n", shown - n);
	return rc;
}

int asnap_render_diff_text(FILE *out, const struct asnap_diff_view *v)
{
	const struct asnap_diff *d = v->d;
	const struct asnap_snap *last = v->snaps[v->nsnap - 1];
	char a[32], b[32];
	fprintf(out, "%u snapshots:", v->nsnap);
	for (uint32_t i = 0; i < v->nsnap; i++) {
		const char *slash = strrchr(v->snaps[i]->path, '/');
		fprintf(out, " %s", slash ? slash + 1 : v->snaps[i]->path);
	}
	fputc('\n', out);
	if (!d->same_process)
		fputs("warning: the snapshots are of different processes: compared by type and site "
		      "only, objects are not matched\n", out);
	if (text_table(out, "growth by type", &d->types, v->nsnap, v->top, false) < 0 ||
	    text_table(out, "growth by coroutine", &d->coros, v->nsnap, v->top, true) < 0 ||
	    text_table(out, "growth by suspension site", &d->sites, v->nsnap, v->top, true) < 0)
		return -1;
	if (d->same_process) {
		fputs("\ntasks pending in every snapshot, by coroutine\n", out);
		unsigned shown = 0;
		for (uint32_t i = 0; i < d->pending.count && shown < v->top; i++) {
			const struct asnap_diff_row *r = &d->pending.rows[i];
			if (!r->persistent)
				continue;
			fprintf(out, "  %s: %s of %s pending now (per snapshot:", r->key,
				asnap_fmt_count(a, r->persistent), asnap_fmt_count(b, r->count[v->nsnap - 1]));
			for (uint32_t k = 0; k < v->nsnap; k++)
				fprintf(out, " %" PRIu64, r->count[k]);
			fputs(")\n", out);
			shown++;
		}
		if (!shown)
			fputs("  none\n", out);
	}
	if (!d->has_born)
		return 0;
	fprintf(out, "\nborn between the first two snapshots and alive in every later one: %s "
		     "object%s, %s, in %u cluster%s by retaining path\n",
		asnap_fmt_count(a, d->born_objects), d->born_objects == 1 ? "" : "s",
		asnap_fmt_bytes(b, d->born_bytes), d->nclusters, d->nclusters == 1 ? "" : "s");
	for (uint32_t i = 0; i < d->nclusters && i < v->top; i++) {
		const struct asnap_diff_cluster *c = &d->clusters[i];
		char r[32];
		fprintf(out, "\ncluster %u: %s object%s (%s) under %u top object%s retaining %s\n",
			i + 1, asnap_fmt_count(a, c->objects), c->objects == 1 ? "" : "s",
			asnap_fmt_bytes(b, c->bytes), c->tops, c->tops == 1 ? "" : "s",
			asnap_fmt_bytes(r, c->retained));
		if (c->path_len)
			asnap_obj_chain_text(out, last, c->path, c->path_len, false, "  ");
	}
	if (d->nclusters > v->top)
		fprintf(out, "\n... %u more cluster%s\n", d->nclusters - v->top,
			d->nclusters - v->top == 1 ? "" : "s");
	return 0;
}

static cJSON *json_table(const struct asnap_diff_table *t, uint32_t nsnap, unsigned top,
			 bool persistent)
{
	cJSON *arr = cJSON_CreateArray();
	unsigned n = 0;
	for (uint32_t i = 0; arr && i < t->count && n < top; i++) {
		const struct asnap_diff_row *r = &t->rows[i];
		if (persistent ? !r->persistent : (r->dcount <= 0 && r->dbytes <= 0))
			continue;
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddItemToObject(o, "key", asnap_json_string(r->key, strlen(r->key)));
		cJSON *c = cJSON_AddArrayToObject(o, "count");
		cJSON *b = cJSON_AddArrayToObject(o, "bytes");
		for (uint32_t k = 0; c && b && k < nsnap; k++) {
			cJSON_AddItemToArray(c, cJSON_CreateNumber((double)r->count[k]));
			cJSON_AddItemToArray(b, cJSON_CreateNumber((double)r->bytes[k]));
		}
		cJSON_AddNumberToObject(o, "dcount", (double)r->dcount);
		cJSON_AddNumberToObject(o, "dbytes", (double)r->dbytes);
		if (persistent)
			cJSON_AddNumberToObject(o, "persistent", (double)r->persistent);
		cJSON_AddItemToArray(arr, o);
		n++;
	}
	return arr;
}

int asnap_render_diff_json(FILE *out, const struct asnap_diff_view *v)
{
	const struct asnap_diff *d = v->d;
	const struct asnap_snap *last = v->snaps[v->nsnap - 1];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -1;
	cJSON *snaps = cJSON_AddArrayToObject(o, "snapshots");
	for (uint32_t i = 0; snaps && i < v->nsnap; i++)
		cJSON_AddItemToArray(snaps, asnap_json_string(v->snaps[i]->path,
							      strlen(v->snaps[i]->path)));
	cJSON_AddBoolToObject(o, "same_process", d->same_process);
	if (!d->same_process)
		cJSON_AddStringToObject(o, "warning", "the snapshots are of different processes: "
						      "compared by type and site only");
	cJSON_AddItemToObject(o, "types", json_table(&d->types, v->nsnap, v->top, false));
	cJSON_AddItemToObject(o, "coroutines", json_table(&d->coros, v->nsnap, v->top, false));
	cJSON_AddItemToObject(o, "sites", json_table(&d->sites, v->nsnap, v->top, false));
	if (d->same_process)
		cJSON_AddItemToObject(o, "pending_tasks", json_table(&d->pending, v->nsnap, v->top, true));
	if (d->has_born) {
		cJSON *born = cJSON_AddObjectToObject(o, "born");
		if (born) {
			cJSON_AddNumberToObject(born, "objects", (double)d->born_objects);
			cJSON_AddNumberToObject(born, "bytes", (double)d->born_bytes);
			cJSON *cl = cJSON_AddArrayToObject(born, "clusters");
			for (uint32_t i = 0; cl && i < d->nclusters && i < v->top; i++) {
				const struct asnap_diff_cluster *c = &d->clusters[i];
				cJSON *cj = cJSON_CreateObject();
				if (!cj)
					break;
				cJSON_AddNumberToObject(cj, "tops", c->tops);
				cJSON_AddNumberToObject(cj, "objects", (double)c->objects);
				cJSON_AddNumberToObject(cj, "bytes", (double)c->bytes);
				cJSON_AddNumberToObject(cj, "retained", (double)c->retained);
				cJSON_AddItemToObject(cj, "path",
						      asnap_obj_chain_json(last, c->path, c->path_len, false));
				cJSON_AddItemToArray(cl, cj);
			}
			cJSON_AddNumberToObject(born, "more_clusters",
						d->nclusters > v->top ? d->nclusters - v->top : 0);
		}
	}
	int rc = asnap_json_print_pretty(out, o);
	cJSON_Delete(o);
	return rc;
}
