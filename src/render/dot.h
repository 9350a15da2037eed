/*
 * dot.h - what keeps memory alive as a Graphviz DOT graph (dot.c): the
 * chain of references `path` shows, or the cycles `cycles` reports.
 */
#ifndef ASNAP_RENDER_DOT_H
#define ASNAP_RENDER_DOT_H

#include <stdio.h>

#include "render/retention.h"

/*
 * A digraph of the chain from a root to v->target: a node for the root
 * (why it is one), then a node per object (type and name, address,
 * shallow and retained size), each edge labelled with the reference's
 * label. Returns 0 (the caller checks the stream).
 */
int asnap_render_dot_path(FILE *out, const struct asnap_path_view *v);

/*
 * A digraph with one cluster per cycle of v, titled with the component's
 * objects, retained and shallow bytes and whether it is garbage, holding
 * the cycle's objects and labelled references. Node ids are "CYCLE:ADDR",
 * so an object on two cycles is drawn in each. Returns 0.
 */
int asnap_render_dot_cycles(FILE *out, const struct asnap_cycles_view *v);

#endif
