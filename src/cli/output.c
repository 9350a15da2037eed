/*
 * output.c - where a command writes its result: standard output, or a file
 * given with -o that appears complete or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "asyncsnap/format.h"
#include "cli/cli.h"

bool cli_output_is_input(const char *cmd, const char *path, char *const *inputs, size_t n)
{
	struct stat out, in;
	if (!path || stat(path, &out) != 0 || !S_ISREG(out.st_mode))
		return false;
	for (size_t i = 0; i < n; i++)
		if (stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
			cli_usage_error(cmd, "-o '%s' is the snapshot '%s' it reads: name another "
					"file", path, inputs[i]);
			return true;
		}
	return false;
}

int cli_output_open(struct cli_output *o, const char *path)
{
	*o = (struct cli_output){.fp = stdout, .path = path};
	if (!path)
		return 0;
	bool in_place;
	o->dest = asnap_output_dest(path, &in_place);
	if (in_place) {
		/* (a link to nothing: its target is created, mode 0600) */
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		o->fp = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!o->fp) {
			cli_error("cannot write '%s': %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return 0;
	}
	size_t n = o->dest ? strlen(o->dest) + sizeof(".XXXXXX") : 0;
	o->tmp = o->dest ? malloc(n) : NULL;
	if (!o->tmp) {
		cli_error("out of memory");
		free(o->dest);
		o->dest = NULL;
		return -1;
	}
	snprintf(o->tmp, n, "%s.XXXXXX", o->dest);
	int fd = mkstemp(o->tmp); /* mode 0600 */
	o->fp = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!o->fp) {
		cli_error("cannot write '%s': %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		free(o->dest);
		o->tmp = o->dest = NULL;
		return -1;
	}
	return 0;
}

int cli_output_close(struct cli_output *o, bool ok)
{
	if (!o->path)
		return cli_finish_output(ok ? EXIT_OK : EXIT_ERROR);
	bool written = !ferror(o->fp);
	int saved = errno;
	if (fclose(o->fp) != 0) {
		written = false;
		saved = errno;
	}
	if (ok && !written)
		cli_error("cannot write '%s': %s", o->path, strerror(saved ? saved : EIO));
	if (ok && written && o->tmp && rename(o->tmp, o->dest) != 0) {
		cli_error("cannot write '%s': %s", o->path, strerror(errno));
		written = false;
	}
	if ((!ok || !written) && o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->dest);
	*o = (struct cli_output){0};
	return ok && written ? EXIT_OK : EXIT_ERROR;
}
