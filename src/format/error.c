/*
 * error.c - struct asnap_error helpers and the library version.
 */
#include <stdarg.h>
#include <stdio.h>

#include "asyncsnap/error.h"
#include "asyncsnap/format.h"

void asnap_error_clear(struct asnap_error *err)
{
	if (!err)
		return;
	err->status = ASNAP_OK;
	err->message[0] = '\0';
}

int asnap_error_set(struct asnap_error *err, enum asnap_status status,
		    const char *fmt, ...)
{
	if (!err || err->status != ASNAP_OK)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->status = status;
	return -1;
}

const char *asnap_status_name(enum asnap_status status)
{
	switch (status) {
	case ASNAP_OK: return "ok";
	case ASNAP_ERR_IO: return "i/o error";
	case ASNAP_ERR_NOMEM: return "out of memory";
	case ASNAP_ERR_NOT_SNAPSHOT: return "not a snapshot";
	case ASNAP_ERR_VERSION: return "unsupported version";
	case ASNAP_ERR_TRUNCATED: return "truncated";
	case ASNAP_ERR_CORRUPT: return "corrupt";
	case ASNAP_ERR_LIMIT: return "over a limit";
	case ASNAP_ERR_USAGE: return "usage error";
	case ASNAP_ERR_BUDGET: return "over the memory budget";
	}
	return "unknown error";
}

const char *asnap_version(void)
{
	return ASNAP_VERSION_STRING;
}
