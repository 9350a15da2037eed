/*
 * leaks.c - render the findings of `asyncsnap leaks` (see leaks.h).
 */
#include <inttypes.h>
#include <string.h>

#include "render/json.h"
#include "render/leaks.h"
#include "render/objects.h"
#include "render/text.h"

#define JSON_MAX_OBJECTS 1000

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int asnap_render_leaks_text(FILE *out, const struct asnap_leaks_view *v)
{
	const struct asnap_findings *f = v->findings;
	const struct asnap_snap *last = v->snaps[v->nsnap - 1];
	char a[32], b[32], what[300];
	fprintf(out, "%u snapshot%s:", v->nsnap, v->nsnap == 1 ? "" : "s");
	for (uint32_t i = 0; i < v->nsnap; i++)
		fprintf(out, " %s", base_name(v->snaps[i]->path));
	fprintf(out, " (%s objects in the last)\n", asnap_fmt_count(a, last->g->n));
	if (f->warning)
		fprintf(out, "warning: %s\n", f->warning);
	if (!f->count) {
		fputs("no findings\n", out);
		return 0;
	}
	fprintf(out, "%u finding%s\n", f->count, f->count == 1 ? "" : "s");
	for (uint32_t i = 0; i < f->count; i++) {
		const struct asnap_finding *x = &f->items[i];
		fprintf(out, "\n[%s] %s\n", asnap_check_name(x->check), x->summary);
		fprintf(out, "  %s object%s, %s retained", asnap_fmt_count(a, x->count),
			x->count == 1 ? "" : "s", asnap_fmt_bytes(b, x->retained));
		if (x->nsnap > 1) {
			fputs("; per snapshot:", out);
			for (uint32_t k = 0; k < x->nsnap; k++)
				fprintf(out, " %u", x->growth[k]);
			if (x->persistent) /* alive from the second snapshot on */
				fprintf(out, " (%u %s)", x->persistent,
					x->nsnap > 2 ? "alive since the second snapshot" : "in both snapshots");
		}
		fputc('\n', out);
		uint32_t shown = x->nobjects < v->show ? x->nobjects : v->show;
		for (uint32_t k = 0; k < shown; k++) {
			const struct asnap_finding_object *o = &x->objects[k];
			char site[600];
			asnap_snap_site(last, o->node, site, sizeof(site));
			fprintf(out, "    0x%" PRIx64 "  %s  retains %s%s%s\n", last->g->addr[o->node],
				asnap_obj_describe(last, o->node, what, sizeof(what)),
				asnap_fmt_bytes(a, o->retained), site[0] ? "  at " : "", site);
		}
		if (x->nobjects > shown)
			fprintf(out, "    ... %u more\n", x->nobjects - shown);
		if (x->path_len) {
			if (x->path_is_cycle) {
				fputs("  the cycle:\n", out);
				asnap_obj_chain_text(out, last, x->path, x->path_len, true, "    ");
			} else {
				const char *root = asnap_obj_root_kind(last, x->path[0]);
				if (root && !strcmp(root, "unreachable"))
					fputs("  garbage that no root reaches, held together by:\n", out);
				else
					fprintf(out, "  kept alive by (root: %s):\n", root ? root : "?");
				asnap_obj_chain_text(out, last, x->path, x->path_len, false, "    ");
			}
		}
		for (uint32_t k = 0; k < x->nalso; k++) {
			const struct asnap_finding_also *al = &x->also[k];
			fprintf(out, "  %s [%s] %s (%s object%s)\n", k ? "     " : "also:",
				asnap_check_name(al->check), al->summary, asnap_fmt_count(a, al->count),
				al->count == 1 ? "" : "s");
		}
		if (!x->in_user_code)
			fputs("  in library code: none of its objects, sites or chain is the program's "
			      "own\n",
			      out);
		fprintf(out, "  fix: %s\n", x->fix);
	}
	return 0;
}

int asnap_render_leaks_json(FILE *out, const struct asnap_leaks_view *v)
{
	const struct asnap_findings *f = v->findings;
	const struct asnap_snap *last = v->snaps[v->nsnap - 1];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -1;
	cJSON *snaps = cJSON_AddArrayToObject(o, "snapshots");
	for (uint32_t i = 0; snaps && i < v->nsnap; i++) {
		cJSON *s = cJSON_CreateObject();
		if (!s)
			break;
		const struct asnap_snap *sn = v->snaps[i];
		cJSON_AddItemToObject(s, "path", asnap_json_string(sn->path, strlen(sn->path)));
		cJSON_AddNumberToObject(s, "objects", sn->objects);
		if (sn->pid >= 0)
			cJSON_AddNumberToObject(s, "pid", (double)sn->pid);
		cJSON_AddNumberToObject(s, "seq", (double)sn->seq);
		cJSON_AddItemToArray(snaps, s);
	}
	if (f->warning)
		cJSON_AddStringToObject(o, "warning", f->warning);
	cJSON *list = cJSON_AddArrayToObject(o, "findings");
	for (uint32_t i = 0; list && i < f->count; i++) {
		const struct asnap_finding *x = &f->items[i];
		cJSON *j = cJSON_CreateObject();
		if (!j)
			break;
		cJSON_AddItemToArray(list, j);
		cJSON_AddStringToObject(j, "check", asnap_check_name(x->check));
		cJSON_AddItemToObject(j, "summary", asnap_json_string(x->summary, strlen(x->summary)));
		cJSON_AddItemToObject(j, "group", asnap_json_string(x->group, strlen(x->group)));
		if (x->site)
			cJSON_AddItemToObject(j, "site", asnap_json_string(x->site, strlen(x->site)));
		else
			cJSON_AddNullToObject(j, "site");
		cJSON_AddNumberToObject(j, "count", x->count);
		cJSON_AddNumberToObject(j, "certain", x->certain);
		cJSON_AddNumberToObject(j, "persistent", x->persistent);
		cJSON_AddNumberToObject(j, "retained", (double)x->retained);
		cJSON *growth = cJSON_AddArrayToObject(j, "growth");
		for (uint32_t k = 0; growth && k < x->nsnap; k++)
			cJSON_AddItemToArray(growth, cJSON_CreateNumber(x->growth[k]));
		cJSON *objs = cJSON_AddArrayToObject(j, "objects");
		for (uint32_t k = 0; objs && k < x->nobjects && k < JSON_MAX_OBJECTS; k++) {
			const struct asnap_finding_object *fo = &x->objects[k];
			cJSON *oj = asnap_obj_json(last, fo->node);
			if (!oj)
				break;
			cJSON_ReplaceItemInObjectCaseSensitive(oj, "retained",
							       cJSON_CreateNumber((double)fo->retained));
			cJSON_AddBoolToObject(oj, "certain", fo->certain);
			cJSON_AddBoolToObject(oj, "persistent", fo->persistent);
			cJSON_AddItemToArray(objs, oj);
		}
		cJSON_AddBoolToObject(j, "objects_truncated", x->nobjects > JSON_MAX_OBJECTS);
		cJSON_AddItemToObject(j, "path",
				      asnap_obj_chain_json(last, x->path, x->path_len, x->path_is_cycle));
		cJSON_AddBoolToObject(j, "path_is_cycle", x->path_is_cycle);
		cJSON_AddBoolToObject(j, "in_user_code", x->in_user_code);
		cJSON *also = cJSON_AddArrayToObject(j, "also");
		for (uint32_t k = 0; also && k < x->nalso; k++) {
			const struct asnap_finding_also *al = &x->also[k];
			cJSON *aj = cJSON_CreateObject();
			if (!aj || !cJSON_AddItemToArray(also, aj))
				break;
			cJSON_AddStringToObject(aj, "check", asnap_check_name(al->check));
			cJSON_AddItemToObject(aj, "group", asnap_json_string(al->group, strlen(al->group)));
			cJSON_AddItemToObject(aj, "summary",
					      asnap_json_string(al->summary, strlen(al->summary)));
			cJSON_AddNumberToObject(aj, "count", al->count);
			cJSON_AddNumberToObject(aj, "retained", (double)al->retained);
		}
		cJSON_AddItemToObject(j, "fix", asnap_json_string(x->fix, strlen(x->fix)));
	}
	int rc = asnap_json_print_pretty(out, o);
	cJSON_Delete(o);
	return rc;
}
