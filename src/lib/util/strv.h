/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Vectors of owned strings kept as a pointer and a count (char **v, size_t n), as a policy holds
 * its name patterns and path roots. Every function accepts an empty vector (NULL, 0); none is
 * thread-safe on a vector another thread changes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Free the @n strings of @v and @v itself. */
void strv_free(char **v, size_t n);

/* Free the vector *@v of *@n strings and leave it empty. */
void strv_clear(char ***v, size_t *n);

/* A deep copy of @n strings; NULL only when out of memory (or @n is 0). */
char **strv_dup(char *const *v, size_t n);

/*
 * The index of the first of the @n strings of @v that equals @s (a table of names indexed by an
 * enum: the enum's value for a name), or -1 when none does or @s is NULL.
 */
ssize_t strv_index(const char *const *v, size_t n, const char *s);

/* Whether one of the @n strings of @v equals @s. */
bool strv_contains(char *const *v, size_t n, const char *s);

/* Append a copy of @s to the vector; 0, or -ENOMEM with the vector unchanged. */
int strv_append(char ***v, size_t *n, const char *s);
