/*
 * usercode.c - see usercode.h.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis/usercode.h"

int asnap_usercode_init(struct asnap_usercode *u, const cJSON *h)
{
	*u = (struct asnap_usercode){0};
	asnap_strmap_init(&u->libmods);
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(h, "code");
	const cJSON *std = cJSON_GetObjectItemCaseSensitive(code, "stdlib");
	const cJSON *mods = cJSON_GetObjectItemCaseSensitive(code, "library_modules");
	int rc = 0;
	if (cJSON_IsString(std) && std->valuestring[0] && !(u->stdlib = strdup(std->valuestring)))
		rc = -1;
	if (cJSON_IsArray(mods)) {
		u->known = true;
		const cJSON *m;
		cJSON_ArrayForEach(m, mods)
			if (cJSON_IsString(m) &&
			    asnap_strmap_intern(&u->libmods, m->valuestring, strlen(m->valuestring)) ==
				    UINT32_MAX)
				rc = -1;
	}
	if (rc < 0)
		asnap_usercode_release(u);
	return rc;
}

void asnap_usercode_release(struct asnap_usercode *u)
{
	free(u->stdlib);
	asnap_strmap_finish(&u->libmods);
	*u = (struct asnap_usercode){0};
}

/* ".../lib/python3.11/x.py" and the like, site-packages or not. */
static bool under_lib_python(const char *path)
{
	for (const char *p = strstr(path, "/lib/python"); p; p = strstr(p + 1, "/lib/python")) {
		const char *q = p + strlen("/lib/python");
		if (!isdigit((unsigned char)*q))
			continue;
		while (isdigit((unsigned char)*q) || *q == '.')
			q++;
		if (*q == 't') /* free-threaded: python3.13t */
			q++;
		if (*q == '/')
			return true;
	}
	return false;
}

bool asnap_usercode_library_file(const struct asnap_usercode *u, const char *path)
{
	if (!path || !path[0] || path[0] == '<') /* <frozen ...>, <string> */
		return true;
	if (strstr(path, "/site-packages/") || strstr(path, "/dist-packages/"))
		return true;
	if (u && u->stdlib) {
		size_t n = strlen(u->stdlib);
		if (!strncmp(path, u->stdlib, n) && path[n] == '/')
			return true;
	}
	return under_lib_python(path);
}

bool asnap_usercode_library_type(const struct asnap_usercode *u, const char *type)
{
	if (!u || !u->known || !type)
		return false;
	size_t n = strcspn(type, ".");
	return asnap_strmap_find(&u->libmods, type, n) != UINT32_MAX;
}
