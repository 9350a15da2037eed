/*
 * bench-graph.c - how fast the graph engine is, and how much memory it
 * needs per object, against igraph doing the same work.
 *
 *     bench-graph [--keep DIR] [--ours] [--once|--twice] [--refs R] [OBJECTS ...]
 *                                              (default: 1000000 10000000)
 *
 * --keep DIR keeps the snapshots in DIR and reuses one already there;
 * --ours skips igraph (for profiling); --refs R gives R references per object
 * on average instead of 4 (1.8: a 100M-object heap's 180M references);
 * --once/--twice read the file once or
 * twice whatever its size (see asnap_retention_load; default: as the
 * commands do, twice from ASNAP_LOAD_TWICE_BYTES on).
 *
 * For each size, writes a snapshot of OBJECTS objects and R x OBJECTS
 * references through the format writer (labelled references, 1% weak,
 * mostly-local targets with hubs, a few objects held from outside, some
 * garbage cycles), then measures in one process:
 *   ours:   load + roots + components, dominators and retained sizes, as
 *           the commands run them (asnap_retention_load: the components
 *           come out of the dominators' DFS; large files are read twice)
 *   igraph: igraph_create + igraph_dominator_tree + strong components on the
 *           same strong edges and roots (in a child process, so that its
 *           memory does not count against ours)
 * and prints seconds, the ratio, and our peak RSS per object. The file is
 * written by a child process too, and ours runs in one of its own for each
 * size, so that every peak RSS starts from a fresh process.
 */
#include <igraph/igraph.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/retention.h"
#include "asyncsnap/format.h"
#include "graph/dominators.h"
#include "graph/graph.h"
#include "graph/roots.h"
#include "graph/scc.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: less disturbed than wall time on a shared
 * machine, so printed beside it. */
static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* References per object: whole, then one more for frac_per_mille of them. */
static uint32_t refs_whole = 4, refs_frac_per_mille;

static uint32_t refs_of(uint32_t v)
{
	return refs_whole + ((uint32_t)(v * 2654435761u) % 1000 < refs_frac_per_mille);
}

static int synthesize(const char *path, uint32_t n)
{
	struct asnap_error err = {0};
	struct asnap_writer_options opts = {.no_fsync = true, .level = 1};
	struct asnap_writer *w = asnap_writer_create(path, &opts, &err);
	if (!w) {
		fprintf(stderr, "bench-graph: %s\n", err.message);
		return -1;
	}
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "{\"producer\":\"bench-graph\",\"objects\":%u,\"edges\":%llu}", n,
		 (unsigned long long)n * refs_whole + (unsigned long long)n / 1000 * refs_frac_per_mille);
	asnap_writer_header(w, hdr, strlen(hdr));
	uint32_t types[48], labels[96];
	char buf[64];
	for (int i = 0; i < 48; i++) {
		snprintf(buf, sizeof(buf), i == 0 ? "builtins.module" : i == 1 ? "builtins.dict" : "app.Type%d", i);
		types[i] = asnap_writer_intern_cstr(w, buf);
	}
	for (int i = 0; i < 96; i++) {
		snprintf(buf, sizeof(buf), i < 32 ? "[%d]" : "attr_%d", i);
		labels[i] = asnap_writer_intern_cstr(w, buf);
	}
	/* refcnt must be the in-degree (plus outside holders): count first. */
	uint32_t *indeg = calloc(n, sizeof(*indeg));
	struct asnap_edge edges[8];
	uint64_t s = 42;
	for (int pass = 0; pass < 2; pass++) {
		s = 42;
		for (uint32_t v = 0; v < n; v++) {
			uint32_t k = refs_of(v);
			for (uint32_t j = 0; j < k; j++) {
				uint64_t r = rng(&s);
				uint32_t t;
				if (r % 10 < 6) /* near: containers and their items */
					t = (uint32_t)((v + 1 + (r >> 8) % 64) % n);
				else if (r % 10 < 8) /* hubs: types, interned strings */
					t = (uint32_t)((r >> 8) % (n / 1000 + 1));
				else
					t = (uint32_t)((r >> 8) % n);
				edges[j] = (struct asnap_edge){t, labels[(r >> 40) % 96],
							      (r >> 50) % 100 == 0 ? ASNAP_EDGE_WEAK
										   : ASNAP_EDGE_STRONG};
				if (pass == 0 && edges[j].kind == ASNAP_EDGE_STRONG)
					indeg[t]++;
			}
			uint64_t r = rng(&s);
			if (pass == 0)
				continue;
			struct asnap_node node = {
				.id = v, .type = types[v % 997 == 0 ? 0 : (r % 47) + 1],
				.addr = 0x7f0000000000ull + (uint64_t)v * 48, .size = 16 + (r >> 16) % 1000,
				.refcnt = indeg[v] + (r % 100 == 0), .flags = ASNAP_NODE_GC_TRACKED,
				.nedges = k, .edges = edges,
			};
			if (asnap_writer_node(w, &node) < 0)
				break;
		}
	}
	free(indeg);
	uint64_t bytes = 0;
	int rc = asnap_writer_commit(w, NULL, 0, &bytes, &err);
	if (rc < 0)
		fprintf(stderr, "bench-graph: %s\n", err.message);
	asnap_writer_destroy(w);
	return rc;
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Resident now, in KiB (Linux; 0 elsewhere). */
/* igraph on the same strong edges and roots; prints its seconds to fd. */
static int run_igraph(const char *path, uint32_t nodes, int fd)
{
	igraph_set_error_handler(igraph_error_handler_printignore);
	igraph_set_warning_handler(igraph_warning_handler_ignore);
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	struct asnap_rootset rs;
	if (!g || asnap_graph_index_reverse(g, &err) < 0 || asnap_roots_find(g, &rs, &err) < 0) {
		fprintf(stderr, "bench-graph: %s\n", err.message);
		return 1;
	}
	igraph_vector_int_t ev;
	if (igraph_vector_int_init(&ev, 0) || igraph_vector_int_reserve(&ev, 2 * (g->m_strong + rs.count)))
		return 1;
	for (uint32_t v = 0; v < g->n; v++)
		for (uint64_t e = asnap_graph_edge_begin(g, v); e < asnap_graph_edge_end(g, v); e++)
			if (asnap_graph_edge_is_strong(g, e)) {
				igraph_vector_int_push_back(&ev, v);
				igraph_vector_int_push_back(&ev, g->edge_target[e]);
			}
	for (uint32_t r = 0; r < rs.count; r++) {
		igraph_vector_int_push_back(&ev, g->n);
		igraph_vector_int_push_back(&ev, rs.items[r].node);
	}
	uint32_t n = g->n;
	asnap_rootset_release(&rs);
	asnap_graph_destroy(g);
	double t0 = now();
	igraph_t ig;
	igraph_vector_int_t dom, memb;
	igraph_integer_t no;
	if (igraph_create(&ig, &ev, (igraph_integer_t)n + 1, IGRAPH_DIRECTED) ||
	    igraph_vector_int_init(&dom, 0) || igraph_vector_int_init(&memb, 0) ||
	    igraph_dominator_tree(&ig, n, &dom, NULL, NULL, IGRAPH_OUT) ||
	    igraph_connected_components(&ig, &memb, NULL, &no, IGRAPH_STRONG)) {
		fprintf(stderr, "bench-graph: igraph failed\n");
		return 1;
	}
	double t = now() - t0;
	if (write(fd, &t, sizeof(t)) != sizeof(t))
		return 1;
	return 0;
}

static enum asnap_load_mode load_mode = ASNAP_LOAD_AUTO;

/*
 * Ours on the snapshot at path, as the commands run it
 * (asnap_retention_load); prints the seconds to fd. The pipeline alone
 * ends with what it needs (columns: ASNAP_COL_SIZE); a command that shows
 * the result asks for every column.
 */
static int run_ours_columns(const char *path, uint32_t n, int fd, uint32_t columns)
{
	long rss0 = peak_rss_kb();
	double t0 = now(), c0 = cpu();
	struct asnap_error err = {0};
	struct asnap_graph *g;
	struct asnap_retention r;
	if (asnap_retention_load(path, load_mode, columns, &g, &r, &err) < 0) {
		fprintf(stderr, "bench-graph: %s: %s\n", path, err.message);
		return 1;
	}
	double t = now() - t0, c = cpu() - c0;
	long rss = peak_rss_kb();
	bool twice = load_mode == ASNAP_LOAD_TWICE ||
		     (load_mode == ASNAP_LOAD_AUTO && g->file_size >= ASNAP_LOAD_TWICE_BYTES);
	printf("%u objects, %" PRIu64 " references, %u roots, %u components, "
	       "%u garbage groups of %u objects; file %.1f MiB, read %s\n",
	       n, g->m, r.roots.nreal, r.scc.ncomp, r.roots.count - r.roots.nreal,
	       n - r.dom.nreached, (double)g->file_size / (1 << 20),
	       !twice ? "once" : columns == ASNAP_COL_ALL ? "twice"
							 : "once, only what the pipeline needs");
	printf("  %s %.3f s  (cpu %.3f s): load, roots, components, dominators, "
	       "retained sizes%s\n", columns == ASNAP_COL_ALL ? "+columns" : "ours   ", t, c,
	       columns == ASNAP_COL_ALL ? ", and every column loaded for display" : "");
	printf("  rss     %.1f bytes/object peak (%ld MiB; %ld MiB before loading)\n",
	       (double)(rss - rss0) * 1024.0 / n, rss / 1024, rss0 / 1024);
	asnap_retention_release(&r);
	asnap_graph_destroy(g);
	fflush(stdout);
	return write(fd, &t, sizeof(t)) == sizeof(t) ? 0 : 1;
}

static int run_ours(const char *path, uint32_t n, int fd)
{
	return run_ours_columns(path, n, fd, ASNAP_COL_SIZE);
}

static int run_ours_all(const char *path, uint32_t n, int fd)
{
	return run_ours_columns(path, n, fd, ASNAP_COL_ALL);
}

/* Run one of the above in a child process; its seconds, or -1. */
static double in_child(int (*fn)(const char *, uint32_t, int), const char *path, uint32_t n)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(fn(path, n, fds[1]));
	}
	close(fds[1]);
	double t = -1;
	ssize_t got = read(fds[0], &t, sizeof(t));
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	return got == sizeof(t) && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : -1;
}

static bool ours_only;

static int bench(const char *dir, uint32_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/bench-%u-r%u.%03u.snap", dir, n, refs_whole,
		 refs_frac_per_mille);
	struct stat sb;
	if (stat(path, &sb) < 0) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(synthesize(path, n) < 0);
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			return -1;
	}
	double t_ours = in_child(run_ours, path, n);
	if (t_ours < 0 || in_child(run_ours_all, path, n) < 0)
		return -1;
	if (ours_only)
		return 0;
	double t_ig = in_child(run_igraph, path, n);
	if (t_ig >= 0)
		printf("  igraph  %.3f s  (create + dominator tree + strong components): ours is %.1fx faster\n",
		       t_ig, t_ig / t_ours);
	else
		printf("  igraph  failed\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *keep = NULL;
	uint32_t sizes[16];
	int nsizes = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--keep") && i + 1 < argc)
			keep = argv[++i];
		else if (!strcmp(argv[i], "--ours"))
			ours_only = true;
		else if (!strcmp(argv[i], "--once"))
			load_mode = ASNAP_LOAD_ONCE;
		else if (!strcmp(argv[i], "--twice"))
			load_mode = ASNAP_LOAD_TWICE;
		else if (!strcmp(argv[i], "--refs") && i + 1 < argc) {
			double r = strtod(argv[++i], NULL);
			if (!(r >= 1 && r <= 7)) {
				fprintf(stderr, "bench-graph: --refs needs 1 to 7\n");
				return 2;
			}
			refs_whole = (uint32_t)r;
			refs_frac_per_mille = (uint32_t)((r - refs_whole) * 1000 + 0.5);
		}
		else if (nsizes < 16)
			sizes[nsizes++] = (uint32_t)strtoul(argv[i], NULL, 10);
	}
	if (!nsizes) {
		sizes[nsizes++] = 1000000;
		sizes[nsizes++] = 10000000;
	}
	char tmp[] = "/tmp/bench-graph-XXXXXX";
	const char *dir = keep ? keep : mkdtemp(tmp);
	if (!dir)
		return 1;
	int rc = 0;
	for (int i = 0; i < nsizes && rc == 0; i++)
		rc = bench(dir, sizes[i]);
	if (!keep) {
		for (int i = 0; i < nsizes; i++) {
			char path[512];
			snprintf(path, sizeof(path), "%s/bench-%u-r%u.%03u.snap", dir, sizes[i],
				 refs_whole, refs_frac_per_mille);
			unlink(path);
		}
		rmdir(dir);
	}
	return rc ? 1 : 0;
}
