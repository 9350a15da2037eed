/*
 * bench-write - what the writer's encoding of nodes and edges costs: the
 * share of take()'s pause spent in asnap_writer_node (issue 17).
 *
 *   bench-write SNAPSHOT [ROUNDS]
 *
 * Reads SNAPSHOT's nodes and edges into memory, then writes them ROUNDS
 * times (default 7) through the writer as the agent does (zstd level 1,
 * one worker thread) to /dev/null, timing the node calls alone and the
 * whole file. Prints each round and the medians, in ms and ns per node.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asyncsnap/format.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *what, const struct asnap_error *err)
{
	fprintf(stderr, "bench-write: %s: %s\n", what, err->message);
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench-write SNAPSHOT [ROUNDS]\n");
		return 2;
	}
	int rounds = argc == 3 ? atoi(argv[2]) : 7;
	if (rounds < 1 || rounds > 1000) {
		fprintf(stderr, "bench-write: ROUNDS must be 1..1000\n");
		return 2;
	}
	struct asnap_error err = {0};
	struct asnap_reader *r = asnap_reader_open(argv[1], &err);
	if (!r)
		die(argv[1], &err);
	size_t nn = 0, ncap = 1 << 16, ne = 0, ecap = 1 << 16;
	struct asnap_node *nodes = malloc(ncap * sizeof(*nodes));
	struct asnap_edge *edges = malloc(ecap * sizeof(*edges));
	size_t *first = malloc(ncap * sizeof(*first));
	struct asnap_item it;
	int rc;
	while ((rc = asnap_reader_next(r, &it, &err)) == 1) {
		const struct asnap_edge *e = NULL;
		uint32_t k = 0;
		if (it.kind == ASNAP_ITEM_NODE) {
			if (nn == ncap) {
				ncap *= 2;
				nodes = realloc(nodes, ncap * sizeof(*nodes));
				first = realloc(first, ncap * sizeof(*first));
			}
			first[nn] = ne;
			nodes[nn++] = it.u.node;
			e = it.u.node.edges, k = it.u.node.nedges;
		} else if (it.kind == ASNAP_ITEM_EDGES) {
			e = it.u.edges.edges, k = it.u.edges.nedges;
		}
		if (!nodes || !first || !edges) {
			fprintf(stderr, "bench-write: out of memory\n");
			return 1;
		}
		if (ne + k > ecap) {
			while (ne + k > ecap)
				ecap *= 2;
			edges = realloc(edges, ecap * sizeof(*edges));
			if (!edges) {
				fprintf(stderr, "bench-write: out of memory\n");
				return 1;
			}
		}
		if (k)
			memcpy(edges + ne, e, k * sizeof(*e));
		ne += k;
	}
	if (rc < 0)
		die(argv[1], &err);
	uint32_t nstr = asnap_reader_string_count(r);
	for (size_t i = 0; i < nn; i++) {
		nodes[i].edges = edges + first[i];
		/* a split node's edges follow it: all of them, as the agent gives */
		nodes[i].nedges = (uint32_t)((i + 1 < nn ? first[i + 1] : ne) - first[i]);
	}
	double *tn = malloc((size_t)rounds * sizeof(double)), *tf = malloc((size_t)rounds * sizeof(double));
	struct asnap_writer_options opts = {.level = 1, .no_fsync = true, .workers = 1};
	for (int k = 0; k < rounds; k++) {
		double t0 = now_ms();
		struct asnap_writer *w = asnap_writer_create("/dev/null", &opts, &err);
		if (!w)
			die("/dev/null", &err);
		asnap_writer_header(w, "{}", 2);
		for (uint32_t s = 1; s <= nstr; s++) {
			size_t len;
			const char *str = asnap_reader_string(r, s, &len);
			asnap_writer_intern(w, str, len);
		}
		double t1 = now_ms();
		for (size_t i = 0; i < nn; i++)
			if (asnap_writer_node(w, &nodes[i]) < 0)
				break;
		double t2 = now_ms();
		if (asnap_writer_commit(w, NULL, 0, NULL, &err) < 0)
			die("writing", &err);
		asnap_writer_destroy(w);
		tn[k] = t2 - t1;
		tf[k] = now_ms() - t0;
		printf("round %d: nodes %.1f ms (%.1f ns/node), file %.1f ms\n", k + 1, tn[k],
		       tn[k] * 1e6 / (double)nn, tf[k]);
	}
	qsort(tn, (size_t)rounds, sizeof(double), cmp_double);
	qsort(tf, (size_t)rounds, sizeof(double), cmp_double);
	printf("%zu nodes, %zu edges: median nodes %.1f ms (%.1f ns/node), file %.1f ms\n", nn, ne,
	       tn[rounds / 2], tn[rounds / 2] * 1e6 / (double)nn, tf[rounds / 2]);
	asnap_reader_destroy(r);
	free(nodes), free(edges), free(first), free(tn), free(tf);
	return 0;
}
