/*
 * info.c - `asyncsnap info`: what a snapshot is and what it holds.
 */
#include <string.h>
#include <time.h>

#include "render/json.h"
#include "render/render.h"
#include "render/text.h"

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static bool jnum(const cJSON *o, const char *key, double *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(j))
		return false;
	*out = j->valuedouble;
	return true;
}

/*
 * The pause the program saw: in fork mode only the fork (the child walks
 * while the program runs on), else the whole snapshot call. False when the
 * file does not say.
 */
static bool program_pause(const struct asnap_info_view *v, double *ms, bool *forked)
{
	*forked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v->g->header, "fork"));
	if (*forked)
		return jnum(v->g->header, "fork_ms", ms);
	return v->g->trailer && jnum(v->g->trailer, "pause_ms", ms);
}

static void print_header(FILE *out, const struct asnap_info_view *v)
{
	const cJSON *h = v->g->header;
	char a[32], b[32];
	fprintf(out, "snapshot   %s (%s, format %u)\n", v->path,
		asnap_fmt_bytes(a, v->g->file_size), v->g->version);

	const cJSON *py = cJSON_GetObjectItemCaseSensitive(h, "python");
	const char *impl = jstr(py, "implementation"), *ver = jstr(py, "version");
	double pid;
	if (impl || ver) {
		fprintf(out, "python     %s %s", impl ? impl : "", ver ? ver : "");
		if (jnum(h, "pid", &pid))
			fprintf(out, ", pid %.0f", pid);
		fputc('\n', out);
	}
	const char *prog = jstr(h, "program");
	if (prog)
		fprintf(out, "program    %s\n", prog);
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(h, "argv");
	if (cJSON_IsArray(argv)) {
		fputs("argv      ", out);
		const cJSON *arg;
		cJSON_ArrayForEach(arg, argv)
			if (cJSON_IsString(arg))
				fprintf(out, " %s", arg->valuestring);
		fputc('\n', out);
	}
	double t, seq, pause;
	if (jnum(h, "time", &t)) {
		time_t secs = (time_t)t;
		struct tm tm;
		char when[64] = "";
		if (gmtime_r(&secs, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		fprintf(out, "taken      %s", when);
		if (jnum(h, "seq", &seq))
			fprintf(out, " (snapshot #%.0f of this process)", seq);
		fputc('\n', out);
	}
	double walk;
	bool forked;
	if (program_pause(v, &pause, &forked)) {
		fprintf(out, "pause      %.1f ms (%s", pause,
			forked ? "fork mode: the program paused for fork()" : "in-process mode");
		if (v->g->trailer && jnum(v->g->trailer, "walk_ms", &walk))
			fprintf(out, forked ? "; the child walked for %.1f ms" : ": walk %.1f ms", walk);
		fputs(")\n", out);
	}
	/* what the agent could not record (an unknown _asyncio layout) */
	const cJSON *w, *ws = v->g->trailer ? cJSON_GetObjectItemCaseSensitive(v->g->trailer, "warnings")
					 : NULL;
	if (!cJSON_IsArray(ws))
		ws = NULL;
	cJSON_ArrayForEach(w, ws)
		if (cJSON_IsString(w))
			fprintf(out, "warning    %s\n", w->valuestring);
	double rss;
	if (jnum(h, "rss", &rss))
		fprintf(out, "rss        %s\n", asnap_fmt_bytes(a, (uint64_t)rss));

	const struct asnap_stats *s = v->stats;
	fprintf(out, "objects    %s (%s tracked by the collector",
		asnap_fmt_count(a, s->objects), asnap_fmt_count(b, s->tracked));
	if (s->synthetic)
		fprintf(out, ", %s synthetic", asnap_fmt_count(a, s->synthetic));
	fputs(")\n", out);
	fprintf(out, "edges      %s", asnap_fmt_count(a, s->edges));
	if (s->weak_edges)
		fprintf(out, " (%s weak)", asnap_fmt_count(a, s->weak_edges));
	fputc('\n', out);
	fprintf(out, "bytes      %s in shallow sizes\n", asnap_fmt_bytes(a, s->bytes));
	if (s->nkinds) {
		fputs("records   ", out);
		for (uint32_t i = 0; i < s->nkinds; i++)
			fprintf(out, "%s %s %s", i ? "," : "", asnap_fmt_count(a, s->kinds[i].count),
				asnap_graph_string(v->g, s->kinds[i].kind));
		fputc('\n', out);
	}
	fprintf(out, "roots      %s\n", asnap_fmt_count(a, v->g->nroots));
}

static int print_types(FILE *out, const struct asnap_info_view *v, const char *title)
{
	struct asnap_table *t = asnap_table_create(4, "rrrl");
	if (!t)
		return -1;
	asnap_table_header(t, "count", "bytes", "avg", "type");
	const struct asnap_stats *s = v->stats;
	for (uint32_t i = 0; i < s->ntypes && i < v->top; i++) {
		char c[32], b[32], avg[32];
		const struct asnap_type_stat *ts = &s->types[i];
		asnap_table_row(t, asnap_fmt_count(c, ts->count), asnap_fmt_bytes(b, ts->bytes),
				asnap_fmt_bytes(avg, ts->bytes / ts->count),
				asnap_graph_string(v->g, ts->type));
	}
	fprintf(out, "\n%s\n", title);
	int rc = asnap_table_print(t, out, "  ");
	asnap_table_destroy(t);
	return rc;
}

int asnap_render_info_text(FILE *out, const struct asnap_info_view *v)
{
	print_header(out, v);
	asnap_stats_sort_by_count(v->stats);
	if (print_types(out, v, "top types by count") < 0)
		return -1;
	asnap_stats_sort_by_bytes(v->stats);
	return print_types(out, v, "top types by bytes");
}

int asnap_render_info_json(FILE *out, const struct asnap_info_view *v)
{
	const struct asnap_stats *s = v->stats;
	cJSON *o = cJSON_CreateObject();
	cJSON *types = cJSON_CreateArray();
	cJSON *kinds = cJSON_CreateObject();
	if (!o || !types || !kinds)
		goto fail;
	cJSON_AddStringToObject(o, "file", v->path);
	cJSON_AddNumberToObject(o, "file_bytes", (double)v->g->file_size);
	cJSON_AddNumberToObject(o, "format", v->g->version);
	cJSON_AddItemToObject(o, "header", cJSON_Duplicate(v->g->header, true));
	if (v->g->trailer)
		cJSON_AddItemToObject(o, "trailer", cJSON_Duplicate(v->g->trailer, true));
	double ms;
	bool forked;
	if (program_pause(v, &ms, &forked)) {
		cJSON *p = cJSON_AddObjectToObject(o, "pause");
		if (p) {
			cJSON_AddStringToObject(p, "mode", forked ? "fork" : "in-process");
			cJSON_AddNumberToObject(p, "ms", ms);
		}
	}
	cJSON_AddNumberToObject(o, "objects", (double)s->objects);
	cJSON_AddNumberToObject(o, "tracked", (double)s->tracked);
	cJSON_AddNumberToObject(o, "synthetic", (double)s->synthetic);
	cJSON_AddNumberToObject(o, "edges", (double)s->edges);
	cJSON_AddNumberToObject(o, "weak_edges", (double)s->weak_edges);
	cJSON_AddNumberToObject(o, "bytes", (double)s->bytes);
	cJSON_AddNumberToObject(o, "roots", (double)v->g->nroots);
	for (uint32_t i = 0; i < s->nkinds; i++)
		cJSON_AddNumberToObject(kinds, asnap_graph_string(v->g, s->kinds[i].kind),
					(double)s->kinds[i].count);
	cJSON_AddItemToObject(o, "records", kinds);
	kinds = NULL;
	asnap_stats_sort_by_bytes(v->stats);
	for (uint32_t i = 0; i < s->ntypes; i++) {
		cJSON *t = cJSON_CreateObject();
		if (!t || !cJSON_AddItemToArray(types, t)) {
			cJSON_Delete(t);
			goto fail;
		}
		cJSON_AddItemToObject(t, "type", asnap_json_gstring(v->g, s->types[i].type));
		cJSON_AddNumberToObject(t, "count", (double)s->types[i].count);
		cJSON_AddNumberToObject(t, "bytes", (double)s->types[i].bytes);
	}
	cJSON_AddItemToObject(o, "types", types);
	int rc = asnap_json_print_pretty(out, o);
	cJSON_Delete(o);
	return rc;
fail:
	cJSON_Delete(o);
	cJSON_Delete(types);
	cJSON_Delete(kinds);
	return -1;
}
