/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Errors outside the library: filling an mc_error the same way the library does (so one
 * printing path serves both), printing it, and turning it into a process exit status.
 *
 * Exit statuses of memcap and memcapd:
 *   0 success, 1 unexpected internal failure, 2 usage error,
 *   10 + mc_error_kind for a failure of that kind (11 PermissionDenied ... 21 Io).
 */

#include <stdarg.h>
#include <stdio.h>

#include <memcap/memcap.h>

#include "macro.h"

enum {
        EXIT_OK = 0,
        EXIT_INTERNAL = 1,
        EXIT_USAGE = 2,
        EXIT_KIND_BASE = 10,
};

/* The name messages are prefixed with ("memcap"); set once at startup. */
void log_set_program_name(const char *name);
const char *log_program_name(void);

/* Print "<program>: <message>\n" on stderr. */
void log_error(const char *fmt, ...) _printf_(1, 2);

/*
 * Fill @err (may be NULL) with @kind, @errnum and a formatted message; return -@errnum
 * (@errnum positive, e.g. EINVAL).
 */
int error_set(mc_error *err, mc_error_kind kind, int errnum, const char *fmt, ...) _printf_(4, 5);

/*
 * As error_set() with the kind the library derives from @errnum (either sign) and
 * ": <strerror>" appended.
 */
int error_errno(mc_error *err, int errnum, const char *fmt, ...) _printf_(3, 4);

/* The exit status for a failure of @kind: 10 + kind, or EXIT_INTERNAL for MC_OK or junk. */
int exit_code_from_kind(mc_error_kind kind);

/* Print "<program>: <err->message>" on stderr and return exit_code_from_kind(err->kind). */
int error_report(const mc_error *err);

/*
 * The exit-status table as text for --help and the man page, one "  NN  Name" line per kind
 * plus 0, 1, 2; static.
 */
void exit_codes_print(FILE *f);
