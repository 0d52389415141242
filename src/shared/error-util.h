/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Errors outside the library: printing an mc_error and turning it into a process exit status.
 * The tools fill mc_error for their own failures with the library's mc_error_set() and
 * mc_error_errno() (memcap/error.h), so one printing path serves both.
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

/* The exit status for a failure of @kind: 10 + kind, or EXIT_INTERNAL for MC_OK or junk. */
int exit_code_from_kind(mc_error_kind kind);

/* Print "<program>: <err->message>" on stderr and return exit_code_from_kind(err->kind). */
int error_report(const mc_error *err);

/*
 * The exit-status table as text for --help and the man page, one "  NN  Name" line per kind
 * plus 0, 1, 2; static.
 */
void exit_codes_print(FILE *f);
