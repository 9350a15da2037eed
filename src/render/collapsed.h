/*
 * collapsed.h - retained size as collapsed stacks (collapsed.c), the input
 * of flamegraph.pl, speedscope and most flame graph tools.
 */
#ifndef ASNAP_RENDER_COLLAPSED_H
#define ASNAP_RENDER_COLLAPSED_H

#include <stdio.h>

#include "analysis/retention.h"
#include "asyncsnap/error.h"

/* Stacks deeper than this many objects end in one "(deeper)" frame. */
#define ASNAP_COLLAPSED_DEPTH 256

/*
 * One line per distinct stack of the dominator tree, "FRAME;FRAME;... N":
 * the first frame says how the super-root holds the object ("(root: KIND)",
 * "(several roots)" or "(unreachable)"), then one frame per object on its
 * dominator path, "TYPE[ NAME][ (LABEL)]" (builtins bare; LABEL names the
 * reference from its immediate dominator, when that holds it directly
 * with an attribute, key or variable), and N is the shallow bytes of the
 * objects with that stack. Objects dominated by an object `max_depth`
 * deep share the frame "(deeper)" below it. So every frame's width is the
 * retained size of what it stands for, and the values add up to the
 * bytes of the whole snapshot. Snapshot strings are sanitized: ';',
 * white space and control characters become '_', invalid UTF-8 U+FFFD.
 * Iterative; linear in objects and references plus the output.
 * 0, or -1 with *err (out of memory; nothing about the stream).
 */
int asnap_render_collapsed(FILE *out, const struct asnap_retention *r, unsigned max_depth,
			   struct asnap_error *err);

#endif
