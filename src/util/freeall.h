/*
 * freeall.h - free several blocks in one statement, for the release
 * functions of structures that own many arrays:
 *
 *	asnap_free_all(a->kind, a->index, a->tasks);
 *
 * Each argument is an object pointer (not const) from malloc, or NULL.
 */
#ifndef ASNAP_UTIL_FREEALL_H
#define ASNAP_UTIL_FREEALL_H

#include <stddef.h>
#include <stdlib.h>

static inline void asnap_free_each(void *const *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
}

#define asnap_free_all(...)                                                                    \
	asnap_free_each((void *const[]){__VA_ARGS__},                                          \
			sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))

#endif
