/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The test vocabulary of the portable suites: Criterion on Linux; on Windows, where Criterion
 * is not available for mingw, a small stand-in with the same names (Test(), cr_assert*(),
 * cr_expect()) and a runner (crit-main.c) that ends with "N passed, N failed". Only what
 * these suites use is provided: no fixtures, no parameters, no signals.
 */

#ifndef _WIN32
#include <criterion/criterion.h>
#else

#include <stdbool.h>
#include <string.h>

typedef struct cr__test {
        const char *suite, *name;
        void (*fn)(void);
        struct cr__test *next;
} cr__test;

void cr__register(cr__test *t);
void cr__fail(bool fatal, const char *file, int line, const char *expr, const char *fmt, ...);

#define Test(suite, name, ...)                                                                     \
        static void suite##_##name(void);                                                          \
        static cr__test suite##_##name##_test = {#suite, #name, suite##_##name, NULL};             \
        __attribute__((constructor)) static void suite##_##name##_reg(void) {                      \
                cr__register(&suite##_##name##_test);                                              \
        }                                                                                          \
        static void suite##_##name(void)

#define cr__check(fatal, cond, expr, ...)                                                          \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        cr__fail(fatal, __FILE__, __LINE__, expr, "" __VA_ARGS__);                 \
        } while (0)

#define cr_assert(cond, ...)       cr__check(true, cond, #cond, __VA_ARGS__)
#define cr_expect(cond, ...)       cr__check(false, cond, #cond, __VA_ARGS__)
#define cr_assert_eq(a, b, ...)    cr__check(true, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)   cr__check(true, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_null(a, ...)     cr__check(true, (a) == NULL, #a " == NULL", __VA_ARGS__)
#define cr_assert_not_null(a, ...) cr__check(true, (a) != NULL, #a " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                                                \
        cr__check(true, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)  cr__check(true, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr__check(true, (a) >= (b), #a " >= " #b, __VA_ARGS__)

#endif
