/*
 * roots.h - where retention starts: the objects the program holds from
 * outside the object graph. They hang under a virtual super-root (node id
 * g->n) in the dominator tree, each with the reason it is a root.
 *
 * Three rules give roots, so that a snapshot has them whether or not the
 * agent wrote any:
 *  - the roots written by the agent (sys.modules, thread stacks, ...);
 *  - the dict of every module object (type builtins.module);
 *  - every object whose reference count exceeds the strong references to
 *    it in the snapshot: something outside the graph (a C global, a C
 *    stack, the interpreter) holds the rest.
 * Whatever none of them reaches is garbage awaiting the cycle collector;
 * asnap_roots_add_unreachable gives it roots of its own so that it is
 * reported as a group instead of being dropped.
 */
#ifndef ASNAP_GRAPH_ROOTS_H
#define ASNAP_GRAPH_ROOTS_H

#include <stdint.h>

#include "graph/graph.h"
#include "graph/scc.h"

enum asnap_root_kind {
	ASNAP_ROOT_AGENT = 0,   /* written by the agent: name = its kind, label = its label */
	ASNAP_ROOT_MODULE,      /* the dict of module `name` (the module node) */
	ASNAP_ROOT_EXTERNAL,    /* refcount > strong references in the snapshot */
	ASNAP_ROOT_UNREACHABLE, /* heads a group of garbage: not reachable from any other root */
};

struct asnap_root_ref {
	uint32_t node;
	uint32_t kind;  /* enum asnap_root_kind */
	uint32_t name;  /* AGENT: string id of the root kind; MODULE: the module's node */
	uint32_t label; /* AGENT: string id of the root's label, else 0 */
};

struct asnap_rootset {
	struct asnap_root_ref *items; /* real roots first, then unreachable ones */
	uint32_t count;
	uint32_t nreal;               /* items[0..nreal) are real roots */
	uint32_t cap;
};

/*
 * Find the real roots of g (a node is a root once, by the first rule that
 * names it, in the order above). Uses the reverse adjacency if built, else
 * counts the strong references to each node itself. 0, or -1 with *err.
 */
int asnap_roots_find(const struct asnap_graph *g, struct asnap_rootset *rs,
		     struct asnap_error *err);

/*
 * Append one UNREACHABLE root per source component of the part of the graph
 * that no root reaches: pre[v] == ASNAP_NO_NODE for those nodes. Every node is
 * then reachable from some root. 0, or -1 with *err.
 */
int asnap_roots_add_unreachable(const struct asnap_graph *g, struct asnap_rootset *rs,
				const struct asnap_scc *scc, const uint32_t *pre,
				struct asnap_error *err);

/* Frees the contents; the set may be reused after. */
void asnap_rootset_release(struct asnap_rootset *rs);

/* "agent", "module", "external", "unreachable". */
const char *asnap_root_kind_name(uint32_t kind);

#endif
