/*
 * ckloop.h - assertions for loops. Check records the place of every
 * assertion that passes (a write(2) each, so that a crash can be placed
 * after the last one): tests asserting per node of a million spent most
 * of their time in the kernel (test-dominators 23.6 s, 4.8 s without).
 * These evaluate each operand once and call Check only when they fail,
 * with a message like its own. Use them inside loops; Check's own
 * everywhere else.
 */
#ifndef ASNAP_CKLOOP_H
#define ASNAP_CKLOOP_H

#include <check.h>
#include <stdint.h>
#include <string.h>

#define ck_loop(expr)                                                    \
	do {                                                             \
		if (!(expr))                                             \
			ck_abort_msg("Assertion '%s' failed", #expr);    \
	} while (0)

#define ck_loop_msg(expr, ...)                                           \
	do {                                                             \
		if (!(expr))                                             \
			ck_abort_msg(__VA_ARGS__);                       \
	} while (0)

#define ck_loop_cmp_(T, F, X, OP, Y)                                          \
	do {                                                                  \
		T ck_x_ = (X), ck_y_ = (Y);                                   \
		if (!(ck_x_ OP ck_y_))                                        \
			ck_abort_msg("Assertion '%s' failed: %s == %" F       \
				     ", %s == %" F,                           \
				     #X " " #OP " " #Y, #X, ck_x_, #Y, ck_y_); \
	} while (0)

#define ck_loop_uint_eq(X, Y) ck_loop_cmp_(uintmax_t, "ju", X, ==, Y)
#define ck_loop_uint_lt(X, Y) ck_loop_cmp_(uintmax_t, "ju", X, <, Y)
#define ck_loop_uint_le(X, Y) ck_loop_cmp_(uintmax_t, "ju", X, <=, Y)
#define ck_loop_uint_gt(X, Y) ck_loop_cmp_(uintmax_t, "ju", X, >, Y)
#define ck_loop_uint_ge(X, Y) ck_loop_cmp_(uintmax_t, "ju", X, >=, Y)
#define ck_loop_int_eq(X, Y) ck_loop_cmp_(intmax_t, "jd", X, ==, Y)
#define ck_loop_ptr_null(X) ck_loop((X) == NULL)
#define ck_loop_ptr_nonnull(X) ck_loop((X) != NULL)

#define ck_loop_str_eq(X, Y)                                                       \
	do {                                                                       \
		const char *ck_x_ = (X), *ck_y_ = (Y);                             \
		if (strcmp(ck_x_, ck_y_))                                          \
			ck_abort_msg("Assertion '%s' failed: %s == \"%s\", %s == \"%s\"", \
				     #X " == " #Y, #X, ck_x_, #Y, ck_y_);          \
	} while (0)

#endif
