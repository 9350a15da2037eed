/*
 * dot.c - retention as Graphviz DOT (see dot.h): the same nodes and labels
 * as the text of `path` and `cycles`, for `dot -Tsvg` and friends.
 *
 * Every string of the snapshot is untrusted. Labels are plain quoted DOT
 * strings (no HTML-like labels), so what needs escaping is: '"' and '\'
 * (the DOT string syntax, and Graphviz's own escapes \n, \l, \N, ...),
 * '&' (Graphviz decodes entities like &lt; in plain labels too), control
 * characters (shown as visible \n, \t, \xNN instead of breaking the line),
 * and invalid UTF-8 and NUL (Graphviz's default charset is UTF-8; they
 * become U+FFFD, as in --json).
 */
#include <inttypes.h>
#include <string.h>

#include "render/dot.h"
#include "render/json.h"
#include "render/text.h"

/* len bytes of s as the inside of a DOT quoted string. */
static void put_bytes(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t k = asnap_utf8_seq(p + i, len - i);
		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
		} else if (c == '&') {
			fputs("&amp;", out);
		} else if (c == '\n') {
			fputs("\\\\n", out);
		} else if (c == '\r') {
			fputs("\\\\r", out);
		} else if (c == '\t') {
			fputs("\\\\t", out);
		} else if ((c && c < 0x20) || c == 0x7f) {
			fprintf(out, "\\\\x%02x", c);
		} else if (k) {
			fwrite(p + i, 1, k, out);
			i += k;
			continue;
		} else {
			fputs("\xEF\xBF\xBD", out); /* U+FFFD */
		}
		i++;
	}
}

static void put_text(FILE *out, const char *s)
{
	put_bytes(out, s, strlen(s));
}

/* A node's id: its address, made unique per cycle when drawn in several. */
static void put_id(FILE *out, uint32_t cycle, uint64_t addr)
{
	if (cycle)
		fprintf(out, "\"%" PRIu32 ":0x%" PRIx64 "\"", cycle, addr);
	else
		fprintf(out, "\"0x%" PRIx64 "\"", addr);
}

/* "coroutine main\n0x7f...\n304 B, retains 181 KiB" (+ "\nroot: KIND"). */
static void put_node(FILE *out, const struct asnap_retention *r, uint32_t cycle, uint32_t v,
		     bool show_root, const char *attrs)
{
	const struct asnap_graph *g = r->g;
	char what[160], a[32], b[32];
	asnap_render_node_describe(g, v, what, sizeof(what));
	fputc('\t', out);
	put_id(out, cycle, g->addr[v]);
	fputs(" [label=\"", out);
	put_text(out, what);
	fprintf(out, "\\n0x%" PRIx64 "\\n%s, retains %s", g->addr[v], asnap_fmt_bytes(a, asnap_graph_size(g, v)),
		asnap_fmt_bytes(b, asnap_dom_retained(&r->dom, v)));
	uint32_t idx = asnap_retention_root_of(r, v);
	if (show_root && idx != ASNAP_NO_NODE && idx < r->roots.nreal) {
		const char *kind = asnap_render_root_kind(r, v);
		fputs("\\nroot: ", out);
		put_text(out, kind ? kind : "?");
	}
	fprintf(out, "\"%s%s];\n", attrs ? ", " : "", attrs ? attrs : "");
}

/* The reference from v to w, labelled as `path` and `cycles` label it. */
static void put_edge(FILE *out, const struct asnap_graph *g, uint32_t cycle, uint32_t v,
		     uint32_t w)
{
	uint64_t e = asnap_graph_edge_between(g, v, w);
	fputc('\t', out);
	put_id(out, cycle, g->addr[v]);
	fputs(" -> ", out);
	put_id(out, cycle, g->addr[w]);
	bool label = e != UINT64_MAX && g->edge_label[e];
	bool weak = e != UINT64_MAX && asnap_graph_edge_is_weak(g, e);
	if (label || weak) {
		fputs(" [", out);
		if (label) {
			size_t len;
			const char *s = asnap_graph_string_len(g, g->edge_label[e], &len);
			fputs("label=\"", out);
			put_bytes(out, s, len);
			fputc('"', out);
		}
		if (weak)
			fprintf(out, "%sstyle=dashed", label ? ", " : "");
		fputc(']', out);
	}
	fputs(";\n", out);
}

static void put_header(FILE *out)
{
	fputs("digraph asyncsnap {\n"
	      "\tgraph [labelloc=t, fontname=\"Helvetica\", fontsize=12];\n"
	      "\tnode [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
	      "\tedge [fontname=\"Helvetica\", fontsize=9];\n", out);
}

int asnap_render_dot_path(FILE *out, const struct asnap_path_view *v)
{
	const struct asnap_retention *r = &v->s->ret;
	const struct asnap_graph *g = r->g;
	char what[160], why[200], a[32], b[32];
	uint32_t t = v->target;
	put_header(out);
	/* The title says what `path` says first. */
	asnap_render_node_describe(g, t, what, sizeof(what));
	fputs("\tlabel=\"", out);
	put_text(out, what);
	fprintf(out, " 0x%" PRIx64 " (%s, retains %s)", g->addr[t], asnap_fmt_bytes(a, asnap_graph_size(g, t)),
		asnap_fmt_bytes(b, asnap_dom_retained(&r->dom, t)));
	if (!v->len)
		fputs(": no root reaches it", out);
	else if (asnap_dom_is_garbage(&r->dom, t))
		fputs(": unreachable, garbage awaiting the cycle collector; the chain from the "
		      "head of its group", out);
	else
		fprintf(out, ": reached from a root by %" PRIu32 " reference%s", v->len - 1,
			v->len == 2 ? "" : "s");
	fputs("\";\n", out);
	if (!v->len) {
		put_node(out, r, 0, t, true, "style=filled, fillcolor=\"#ffd8d8\"");
		fputs("}\n", out);
		return 0;
	}
	asnap_render_root_describe(r, asnap_retention_root_of(r, v->nodes[0]), why, sizeof(why));
	fputs("\troot [shape=ellipse, style=filled, fillcolor=\"#e8e8e8\", label=\"root: ", out);
	put_text(out, why);
	fputs("\"];\n\troot -> ", out);
	put_id(out, 0, g->addr[v->nodes[0]]);
	fputs(" [style=dotted, arrowhead=none];\n", out);
	for (uint32_t i = 0; i < v->len; i++)
		put_node(out, r, 0, v->nodes[i], false,
			 i + 1 == v->len ? "style=filled, fillcolor=\"#ffd8d8\"" : NULL);
	for (uint32_t i = 0; i + 1 < v->len; i++)
		put_edge(out, g, 0, v->nodes[i], v->nodes[i + 1]);
	fputs("}\n", out);
	return 0;
}

/* The cluster's title: what `cycles` says above the chain. */
static void put_cycle_title(FILE *out, uint32_t id, const struct asnap_cycle *c)
{
	char a[32], b[32];
	fprintf(out, "\tlabel=\"cycle %" PRIu32 ": ", id);
	if (c->whole && c->count == 1)
		fprintf(out, "%" PRIu32 " objects, %s retained (%s shallow)", c->objects,
			asnap_fmt_bytes(a, c->retained), asnap_fmt_bytes(b, c->bytes));
	else if (c->whole)
		fprintf(out, "%" PRIu32 " cycles of this shape, in %" PRIu32 " components of %" PRIu32
			" objects in all, %s retained (%s shallow)", c->count, c->components, c->objects,
			asnap_fmt_bytes(a, c->retained), asnap_fmt_bytes(b, c->bytes));
	else
		fprintf(out, "%" PRIu32 " cycle%s of this shape, in a component of %" PRIu32
			" objects; %s retained by their objects", c->count, c->count == 1 ? "" : "s",
			c->objects, asnap_fmt_bytes(a, c->retained));
	fputs(c->garbage ? ", unreachable: garbage awaiting the cycle collector\";\n" : "\";\n", out);
}

int asnap_render_dot_cycles(FILE *out, const struct asnap_cycles_view *v)
{
	const struct asnap_retention *r = &v->s->ret;
	const struct asnap_graph *g = r->g;
	uint64_t total = 0;
	for (uint32_t i = 0; i < v->count; i++)
		total += v->cycles[i].count;
	put_header(out);
	if (!v->count)
		fputs("\tlabel=\"no reference cycles through coroutines, generators, frames or "
		      "tracebacks\";\n", out);
	else
		fprintf(out, "\tlabel=\"%" PRIu64 " reference cycle%s through coroutines, generators, "
			"frames or tracebacks, of %" PRIu32 " shape%s\";\n", total, total == 1 ? "" : "s",
			v->count, v->count == 1 ? "" : "s");
	for (uint32_t i = 0; i < v->count; i++) {
		const struct asnap_cycle *c = &v->cycles[i];
		uint32_t id = i + 1;
		fprintf(out, "\tsubgraph cluster_%" PRIu32 " {\n", id);
		put_cycle_title(out, id, c);
		fputs("\tstyle=rounded;\n", out);
		for (uint32_t k = 0; k < c->len; k++)
			put_node(out, r, id, c->nodes[k], true, NULL);
		for (uint32_t k = 0; k < c->len; k++)
			put_edge(out, g, id, c->nodes[k], c->nodes[(k + 1) % c->len]);
		fputs("\t}\n", out);
	}
	fputs("}\n", out);
	return 0;
}
