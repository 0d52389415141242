/* SPDX-License-Identifier: MIT */
/*
 * The runner of the portable suites on Windows (see crit.h): every registered test, in the
 * order of the source, each in its own jump context; a failed assertion ends its test only.
 * Prints one line per failure and ends with "N passed, N failed"; exits 1 if any failed.
 * An argument runs only the tests whose "suite/name" contains it.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "crit.h"

static cr__test *head, **tail = &head;
static jmp_buf env;
static bool failed;

void cr__register(cr__test *t) {
        *tail = t;
        tail = &t->next;
}

static const cr__test *current;

void cr__fail(bool fatal, const char *file, int line, const char *expr, const char *fmt, ...) {
        va_list ap;

        failed = true;
        printf("[FAIL] %s/%s: %s:%d: %s", current->suite, current->name, file, line, expr);
        if (*fmt) {
                printf(": ");
                va_start(ap, fmt);
                vprintf(fmt, ap);
                va_end(ap);
        }
        printf("\n");
        fflush(stdout);
        if (fatal)
                longjmp(env, 1);
}

int main(int argc, char **argv) {
        volatile unsigned passed = 0, nfailed = 0;
        char id[256];

        for (const cr__test *volatile t = head; t; t = t->next) {
                snprintf(id, sizeof(id), "%s/%s", t->suite, t->name);
                if (argc > 1 && !strstr(id, argv[1]))
                        continue;
                current = t;
                failed = false;
                if (setjmp(env) == 0)
                        t->fn();
                if (failed)
                        nfailed++;
                else
                        passed++;
        }
        printf("%u passed, %u failed\n", passed, nfailed);
        return nfailed ? 1 : 0;
}
