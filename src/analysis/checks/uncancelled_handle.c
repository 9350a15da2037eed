/*
 * uncancelled_handle.c - the uncancelled-handle check: handles and timer
 * handles (call_soon, call_later, call_at) never cancelled, grouped by
 * their callback, that persist and grow in number across snapshots, or
 * that number PILE_MIN or more for one callback in a single snapshot.
 * The loop's own handles (its self-pipe reader, transports' readers) are
 * few and constant, so they never fire.
 */
#include <stdio.h>
#include <stdlib.h>

#include "analysis/checks/internal.h"

#define PILE_MIN 1000

static int scan(struct grouping *gr, uint32_t snap)
{
	struct check_ctx *ctx = gr->ctx;
	const struct asnap_snap *s = ctx->snaps[snap];
	const struct asnap_aio *a = &s->aio;
	char key[512];
	for (uint32_t i = 0; i < a->nhandles; i++) {
		const struct asnap_aio_handle *h = &a->handles[i];
		if (h->cancelled)
			continue;
		if (h->callback_name)
			snprintf(key, sizeof(key), "%s", asnap_graph_string(s->g, h->callback_name));
		else if (h->callback < s->g->n)
			snprintf(key, sizeof(key), "<%s>", node_type(s, h->callback));
		else
			snprintf(key, sizeof(key), "<no callback>");
		if (!group_add(gr, snap, key, h->node, true, NULL))
			return nomem(ctx);
	}
	return 0;
}

static void summary(const struct check_ctx *ctx, const char *key, const struct group *g,
		    uint32_t count, bool grew, char *buf, size_t len)
{
	char growth[160];
	if (grew)
		snprintf(buf, len,
			 "handles of %s scheduled with call_soon/call_later and never cancelled pile "
			 "up: %s across the snapshots, each keeping its callback's closure alive",
			 key, growth_text(ctx, g, growth, sizeof(growth)));
	else
		snprintf(buf, len, "%u handles of %s scheduled and never cancelled", count, key);
}

int check_uncancelled_handle(struct check_ctx *ctx)
{
	struct grouping gr;
	grouping_init(&gr, ctx);
	gr.min_certain = PILE_MIN;
	int rc = 0;
	for (uint32_t i = 0; i < ctx->nsnap && rc == 0; i++)
		rc = scan(&gr, i);
	if (rc == 0)
		rc = grouping_emit(&gr, ASNAP_CHECK_UNCANCELLED_HANDLE, summary);
	grouping_finish(&gr);
	return rc;
}
