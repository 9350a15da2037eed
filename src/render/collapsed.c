/*
 * collapsed.c - retained size as collapsed stacks (see collapsed.h).
 *
 * One preorder walk of the dominator tree with an explicit stack maps every
 * object to a node of a trie of frames keyed by (parent frame, frame text):
 * objects with the same stack share a trie node, which adds up their
 * shallow sizes. Then each trie node with bytes prints one line, its frames
 * read back up the trie. The labels are found in one pass over the edges
 * (the reference from each object's immediate dominator to it), not one
 * search per object, so a dict with a million entries costs a million
 * steps, not a million squared.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "format/codec.h"
#include "render/collapsed.h"
#include "render/json.h"
#include "render/retention.h"
#include "util/bigarray.h"
#include "util/freeall.h"
#include "util/grow.h"

/*
 * Bytes of the snapshot as frame text: ';' (the frame separator), white
 * space and control characters (the value separator, line breaks) become
 * '_', as do U+0085, U+2028 and U+2029, which some readers take for line
 * breaks; invalid UTF-8 becomes U+FFFD.
 */
static void put_sanitized(struct bytebuf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!bytebuf_reserve(b, len * 3))
		return;
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t k = c <= 0x20 || c == 0x7f || c == ';' ? 0 : asnap_utf8_seq(p + i, len - i);
		bool breaks = (k == 2 && c == 0xC2 && p[i + 1] == 0x85) ||
			      (k == 3 && c == 0xE2 && p[i + 1] == 0x80 &&
			       (p[i + 2] == 0xA8 || p[i + 2] == 0xA9));
		if (k && !breaks) {
			memcpy(b->data + b->len, p + i, k);
			b->len += k;
			i += k;
		} else if (k || c <= 0x20 || c == 0x7f || c == ';') {
			b->data[b->len++] = '_';
			i += k ? k : 1;
		} else {
			memcpy(b->data + b->len, "\xEF\xBF\xBD", 3); /* U+FFFD */
			b->len += 3;
			i++;
		}
	}
}

/* A frame of the trie: its text is chars[text .. text + len). */
struct frame {
	uint64_t text;
	uint64_t self;  /* shallow bytes of the objects with exactly this stack */
	uint64_t hash;
	uint32_t parent;
	uint32_t len;
	uint32_t depth; /* frames from the top, this one included */
};

struct trie {
	struct frame *f; /* f[0] is the top: no frame, the super-root */
	uint32_t count, cap;
	struct bytebuf chars;
	uint32_t *slots; /* frame index, 0 for an empty slot */
	uint64_t mask;
};

static uint64_t hash_frame(uint32_t parent, const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u ^ parent;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3u;
	return h ^ (h >> 29);
}

static int trie_grow_slots(struct trie *t)
{
	uint64_t size = t->slots ? (t->mask + 1) * 2 : 1024;
	uint32_t *slots = calloc(size, sizeof(*slots));
	if (!slots)
		return -1;
	for (uint32_t i = 1; i < t->count; i++) {
		uint64_t s = t->f[i].hash & (size - 1);
		while (slots[s])
			s = (s + 1) & (size - 1);
		slots[s] = i;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = size - 1;
	return 0;
}

/* The child of frame `parent` with text s, added if new; 0 when out of
 * memory. */
static uint32_t trie_child(struct trie *t, uint32_t parent, const char *s, size_t len)
{
	uint64_t h = hash_frame(parent, s, len);
	uint64_t slot = h & t->mask;
	for (uint32_t i; (i = t->slots[slot]); slot = (slot + 1) & t->mask) {
		const struct frame *f = &t->f[i];
		if (f->hash == h && f->parent == parent && f->len == len &&
		    memcmp((const char *)t->chars.data + f->text, s, len) == 0)
			return i;
	}
	struct frame *f = asnap_grow(t->f, t->count, &t->cap, sizeof(*f), 1024);
	if (!f)
		return 0;
	t->f = f;
	uint64_t at = t->chars.len;
	bytebuf_put(&t->chars, s, len);
	if (t->chars.failed)
		return 0;
	uint32_t i = t->count++;
	t->f[i] = (struct frame){.text = at, .hash = h, .parent = parent, .len = (uint32_t)len,
				 .depth = t->f[parent].depth + 1};
	if ((uint64_t)t->count * 2 > t->mask + 1) {
		if (trie_grow_slots(t) < 0) {
			t->count--;
			return 0;
		}
	} else {
		t->slots[slot] = i;
	}
	return i;
}

/* "TYPE[ NAME][ (LABEL)]" of object v into b. */
static void object_frame(struct bytebuf *b, const struct asnap_graph *g, uint32_t v, uint32_t label)
{
	size_t len;
	const char *type = asnap_graph_string_len(g, g->type[v], &len);
	bool task = asnap_type_is_task(type);
	if (len > 9 && strncmp(type, "builtins.", 9) == 0) {
		type += 9;
		len -= 9;
	}
	size_t at = b->len;
	put_sanitized(b, type, len);
	if (b->len == at)
		bytebuf_put(b, "?", 1);
	const char *name = asnap_render_node_name(g, v);
	if (name && *name) {
		bytebuf_put(b, task ? " '" : " ", task ? 2 : 1);
		put_sanitized(b, name, strlen(name));
		if (task)
			bytebuf_put(b, "'", 1);
	}
	if (label) {
		const char *s = asnap_graph_string_len(g, label, &len);
		bytebuf_put(b, " (", 2);
		put_sanitized(b, s, len);
		bytebuf_put(b, ")", 1);
	}
}

/* How the super-root holds v, a child of it, as the first frame. */
static void group_frame(struct bytebuf *b, const struct asnap_retention *r, uint32_t v)
{
	uint32_t idx = asnap_retention_root_of(r, v);
	if (asnap_dom_is_garbage(&r->dom, v)) {
		bytebuf_put(b, "(unreachable)", 13);
	} else if (idx != ASNAP_NO_NODE && idx < r->roots.nreal) {
		const char *kind = asnap_render_root_kind(r, v);
		bytebuf_put(b, "(root: ", 7);
		put_sanitized(b, kind, strlen(kind));
		bytebuf_put(b, ")", 1);
	} else {
		bytebuf_put(b, "(several roots)", 15);
	}
}

/*
 * label[w]: the label of a reference from w's immediate dominator to w that
 * says which field holds it (not a list or tuple index, which would give
 * each element a frame of its own); 0 if there is none.
 */
static uint32_t *dominator_labels(const struct asnap_retention *r)
{
	const struct asnap_graph *g = r->g;
	const uint32_t *idom = r->dom.idom;
	uint32_t *label = asnap_big_zalloc((size_t)g->n + 1, sizeof(*label));
	if (!label)
		return NULL;
	for (uint32_t u = 0; u < g->n; u++) {
		uint64_t end = asnap_graph_edge_end(g, u);
		for (uint64_t e = asnap_graph_edge_begin(g, u); e < end; e++) {
			uint32_t w = g->edge_target[e], l = g->edge_label[e];
			if (!l || idom[w] != u || label[w] || asnap_graph_edge_is_weak(g, e))
				continue;
			size_t len;
			const char *s = asnap_graph_string_len(g, l, &len);
			if (len && !(s[0] == '[' && s[len - 1] == ']'))
				label[w] = l;
		}
	}
	return label;
}

/* Every frame with bytes, as a line "TOP;...;FRAME N". */
static void print_stacks(FILE *out, const struct trie *t, uint32_t *chain)
{
	for (uint32_t i = 1; i < t->count; i++) {
		if (!t->f[i].self)
			continue;
		uint32_t depth = 0;
		for (uint32_t x = i; x; x = t->f[x].parent)
			chain[depth++] = x;
		while (depth--) {
			const struct frame *f = &t->f[chain[depth]];
			fwrite((const char *)t->chars.data + f->text, 1, f->len, out);
			if (depth)
				fputc(';', out);
		}
		fprintf(out, " %" PRIu64 "\n", t->f[i].self);
	}
}

int asnap_render_collapsed(FILE *out, const struct asnap_retention *r, unsigned max_depth,
			   struct asnap_error *err)
{
	const struct asnap_graph *g = r->g;
	const uint32_t n = g->n;
	if (max_depth < 1)
		max_depth = 1;
	if (max_depth > UINT32_MAX - 8)
		max_depth = UINT32_MAX - 8;
	struct trie t = {0};
	struct bytebuf frame = {0};
	uint32_t *start = NULL, *child = NULL, *stack = NULL, *node_frame = NULL, *chain = NULL;
	uint32_t *label = dominator_labels(r);
	int rc = -1;
	if (!label || asnap_dom_children(&r->dom, &start, &child, err) < 0)
		goto out;
	stack = asnap_big_alloc((size_t)n + 1, sizeof(*stack));
	node_frame = asnap_big_alloc((size_t)n + 1, sizeof(*node_frame));
	t.cap = 1024;
	t.f = malloc(t.cap * sizeof(*t.f));
	if (!stack || !node_frame || !t.f || trie_grow_slots(&t) < 0)
		goto out;
	t.f[0] = (struct frame){0};
	t.count = 1;
	node_frame[n] = 0;

	/* Preorder, largest retained first: a parent's frame is known before
	 * its children's. */
	uint32_t top = 0;
	for (uint32_t i = start[n + 1]; i > start[n]; i--)
		stack[top++] = child[i - 1];
	const uint32_t limit = max_depth + 1; /* the first frame is the group's */
	while (top) {
		uint32_t v = stack[--top];
		uint32_t p = r->dom.idom[v], pf = node_frame[p], f;
		if (p == n) {
			frame.len = 0;
			group_frame(&frame, r, v);
			pf = frame.failed ? 0 : trie_child(&t, 0, (const char *)frame.data, frame.len);
			if (!pf)
				goto out;
		}
		if (t.f[pf].depth > limit) {
			f = pf; /* already "(deeper)" */
		} else {
			frame.len = 0;
			if (t.f[pf].depth == limit)
				bytebuf_put(&frame, "(deeper)", 8);
			else
				object_frame(&frame, g, v, label[v]);
			f = frame.failed ? 0 : trie_child(&t, pf, (const char *)frame.data, frame.len);
			if (!f)
				goto out;
		}
		node_frame[v] = f;
		t.f[f].self += asnap_graph_size(g, v);
		for (uint32_t i = start[v + 1]; i > start[v]; i--)
			stack[top++] = child[i - 1];
	}
	chain = malloc(((size_t)limit + 2) * sizeof(*chain));
	if (!chain)
		goto out;
	print_stacks(out, &t, chain);
	rc = 0;
out:
	if (rc < 0)
		asnap_error_set(err, ASNAP_ERR_NOMEM, "out of memory writing the stacks");
	asnap_free_all(label, start, child, stack, node_frame, chain);
	bytebuf_release(&frame);
	free(t.f);
	bytebuf_release(&t.chars);
	free(t.slots);
	return rc;
}
