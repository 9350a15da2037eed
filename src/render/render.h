/*
 * render.h - the output of each command, as text for people and as JSON
 * for programs. Renderers only present what the analyses computed.
 */
#ifndef ASNAP_RENDER_RENDER_H
#define ASNAP_RENDER_RENDER_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "analysis/stats.h"
#include "graph/graph.h"

struct asnap_info_view {
	const char *path;
	const struct asnap_graph *g;
	struct asnap_stats *stats;
	unsigned top;          /* rows of each top-types table */
};

/* Each returns 0, or -1 when out of memory. */
int asnap_render_info_text(FILE *out, const struct asnap_info_view *v);
int asnap_render_info_json(FILE *out, const struct asnap_info_view *v);

int asnap_render_dump_text(FILE *out, const struct asnap_graph *g);
int asnap_render_dump_json(FILE *out, const struct asnap_graph *g);

#endif
