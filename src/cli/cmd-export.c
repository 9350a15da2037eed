/*
 * cmd-export.c - `asyncsnap export --format F SNAP`: a snapshot in another
 * tool's format.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "graph/graph.h"
#include "render/heapsnapshot.h"

static const char help[] =
	"usage: asyncsnap export --format heapsnapshot [-o FILE] SNAP\n"
	"\n"
	"Write a snapshot in another tool's format, to standard output or FILE.\n"
	"\n"
	"formats:\n"
	"  heapsnapshot  Chrome/V8 heap snapshot: open it in Chrome DevTools\n"
	"                (Memory > Load) or analyze it with memlab. Python types\n"
	"                become constructor names, attributes/keys/locals property\n"
	"                edges, indices element edges, weak references weak edges;\n"
	"                a synthetic root leads to the snapshot's roots.\n"
	"\n"
	"options:\n"
	"  -f, --format F   the output format (required)\n"
	"  -o, --output F   write to FILE (complete or not at all) instead of stdout\n"
	"  -h, --help       show this help\n";

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *format = NULL, *output = NULL;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("export", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!format)
		return cli_usage_error("export", "--format is required (heapsnapshot)");
	if (strcmp(format, "heapsnapshot") != 0)
		return cli_usage_error("export", "unknown format '%s' (known: heapsnapshot)", format);
	if (optind != argc - 1)
		return cli_usage_error("export", "%s",
				       optind == argc ? "a snapshot file is required"
						      : "only one snapshot file is allowed");
	const char *path = argv[optind];
	struct asnap_error err = {0};
	struct asnap_graph *g = asnap_graph_load(path, &err);
	if (!g) {
		cli_file_error(path, &err);
		return EXIT_ERROR;
	}

	/* -o: a temporary file beside the target, renamed when complete */
	FILE *out = stdout;
	char *tmp = NULL;
	if (output) {
		size_t n = strlen(output) + 16;
		tmp = malloc(n);
		if (!tmp) {
			asnap_graph_destroy(g);
			cli_error("out of memory");
			return EXIT_ERROR;
		}
		snprintf(tmp, n, "%s.XXXXXX", output);
		int fd = mkstemp(tmp);
		out = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!out) {
			cli_error("cannot write '%s': %s", output, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			free(tmp);
			asnap_graph_destroy(g);
			return EXIT_ERROR;
		}
	}
	int rc = asnap_render_heapsnapshot(out, g, &err);
	asnap_graph_destroy(g);
	if (rc < 0)
		cli_error("%s", err.message);
	if (!output) {
		int st = cli_finish_output(rc < 0 ? EXIT_ERROR : EXIT_OK);
		return st;
	}
	bool ok = rc == 0 && !ferror(out);
	if (fclose(out) != 0)
		ok = false;
	if (ok && rename(tmp, output) != 0) {
		cli_error("cannot write '%s': %s", output, strerror(errno));
		ok = false;
	} else if (!ok && rc == 0) {
		cli_error("cannot write '%s': %s", output, strerror(errno ? errno : EIO));
	}
	if (!ok)
		unlink(tmp);
	free(tmp);
	return ok ? EXIT_OK : EXIT_ERROR;
}
