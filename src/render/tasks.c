/*
 * tasks.c - render `asyncsnap tasks` (see leaks.h).
 */
#include <inttypes.h>
#include <string.h>

#include "render/json.h"
#include "render/leaks.h"
#include "render/objects.h"
#include "render/text.h"

static const char *ref_label(const struct asnap_snap *s, uint32_t label)
{
	return label ? asnap_graph_string(s->g, label) : NULL;
}

int asnap_render_tasks_text(FILE *out, const struct asnap_tasks_render *v)
{
	const struct asnap_snap *s = v->s;
	char a[32], what[300], site[600];
	uint32_t orphaned = 0, pending = 0, done = 0;
	for (uint32_t i = 0; i < v->count; i++) {
		orphaned += v->tasks[i].orphaned;
		pending += v->tasks[i].state == ASNAP_FUT_PENDING;
		done += v->tasks[i].state != ASNAP_FUT_PENDING;
	}
	fprintf(out, "%u task%s: %u pending (%u orphaned: waiting on a future nothing live can "
		     "resolve), %u done\n",
		v->count, v->count == 1 ? "" : "s", pending, orphaned, done);
	for (uint32_t i = 0; i < v->count; i++) {
		const struct asnap_task_view *t = &v->tasks[i];
		fprintf(out, "\n%-9s %s 0x%" PRIx64 "  retains %s\n", asnap_task_verdict(t),
			asnap_obj_describe(s, t->node, what, sizeof(what)), s->g->addr[t->node],
			asnap_fmt_bytes(a, t->retained));
		/* where it is in the program's own code, then where in the
		 * library it actually waits */
		uint32_t at = asnap_snap_site_node(s, t->node);
		const struct asnap_aio_coro *c = asnap_aio_coro(&s->aio, at);
		if (c && c->file) {
			const char *verb = t->state == ASNAP_FUT_PENDING ? "suspended" : "ended";
			fprintf(out, "  %s at %s in %s", verb, asnap_snap_own_site(s, at, site, sizeof(site)),
				asnap_graph_string(s->g, c->qualname));
			const struct asnap_aio_coro *leaf = asnap_aio_coro(&s->aio, t->leaf);
			if (leaf && leaf != c && leaf->file)
				fprintf(out, ", waiting in %s at %s", asnap_graph_string(s->g, leaf->qualname),
					asnap_snap_own_site(s, t->leaf, site, sizeof(site)));
			fputc('\n', out);
		}
		if (t->chain_len) {
			fputs("  await chain: ", out);
			for (uint32_t k = 0; k < t->chain_len; k++) {
				uint32_t x = t->chain[k];
				const struct asnap_aio_future *f = asnap_aio_future(&s->aio, x);
				fprintf(out, "%s%s", k ? " -> " : "", asnap_obj_describe(s, x, what, sizeof(what)));
				if (asnap_aio_coro(&s->aio, x) && asnap_snap_own_site(s, x, site, sizeof(site))[0])
					fprintf(out, " (%s)", site);
				if (f)
					fprintf(out, " (%s, %" PRId64 " callback%s)", asnap_fut_state_name(f->state),
						f->callbacks, f->callbacks == 1 ? "" : "s");
			}
			fputc('\n', out);
		}
		if (t->nrefs) {
			fputs("  referenced by: ", out);
			for (uint32_t k = 0; k < t->nrefs; k++) {
				const struct asnap_task_ref *r = &t->refs[k];
				const char *lab = ref_label(s, r->label);
				fprintf(out, "%s%s", k ? "; " : "", asnap_obj_describe(s, r->node, what, sizeof(what)));
				if (lab)
					fprintf(out, ".%s", lab);
				const char *module = asnap_obj_module_name(s, r->holder);
				if (module) /* a module global: __main__.background */
					fprintf(out, " (%s.%s)", module, asnap_graph_string(s->g, r->holder_label));
				else if (r->holder != ASNAP_NO_NODE)
					fprintf(out, " (%s.%s)", asnap_obj_describe(s, r->holder, what, sizeof(what)),
						asnap_graph_string(s->g, r->holder_label));
			}
			if (t->more_refs)
				fprintf(out, "; %u more", t->more_refs);
			fputc('\n', out);
		}
	}
	return 0;
}

int asnap_render_tasks_json(FILE *out, const struct asnap_tasks_render *v)
{
	const struct asnap_snap *s = v->s;
	cJSON *o = cJSON_CreateObject();
	cJSON *list = o ? cJSON_AddArrayToObject(o, "tasks") : NULL;
	if (!list) {
		cJSON_Delete(o);
		return -1;
	}
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
