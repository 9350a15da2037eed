/*
 * heapsnapshot.h - export to Chrome/V8's .heapsnapshot JSON (heapsnapshot.c).
 */
#ifndef ASNAP_RENDER_HEAPSNAPSHOT_H
#define ASNAP_RENDER_HEAPSNAPSHOT_H

#include <stdio.h>

#include "asyncsnap/error.h"
#include "graph/graph.h"

/* Write g as a V8 heap snapshot. 0, or -1 with *err (nothing about the
 * output stream: the caller checks it). */
int asnap_render_heapsnapshot(FILE *out, const struct asnap_graph *g, struct asnap_error *err);

#endif
