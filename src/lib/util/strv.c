/* SPDX-License-Identifier: MIT */
/*
 * Vectors of owned strings (strv.h): the one implementation the policy object (policy.c) and
 * the policy loader (policy-json.c) both fill and free their lists with.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

void strv_clear(char ***v, size_t *n) {
        strv_free(*v, *n);
        *v = NULL;
        *n = 0;
}

char **strv_dup(char *const *v, size_t n) {
        char **c;

        if (n == 0)
                return NULL;
        c = calloc(n, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                c[i] = strdup(v[i]);
                if (!c[i]) {
                        strv_free(c, i);
                        return NULL;
                }
        }
        return c;
}

ssize_t strv_index(const char *const *v, size_t n, const char *s) {
        for (size_t i = 0; s && i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return (ssize_t) i;
        return -1;
}

bool strv_contains(char *const *v, size_t n, const char *s) {
        return strv_index((const char *const *) v, n, s) >= 0;
}

int strv_append(char ***v, size_t *n, const char *s) {
        char *c = strdup(s), **nv;

        if (!c)
                return -ENOMEM;
        nv = realloc(*v, (*n + 1) * sizeof(char *));
        if (!nv) {
                free(c);
                return -ENOMEM;
        }
        nv[(*n)++] = c;
        *v = nv;
        return 0;
}
