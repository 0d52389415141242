/* SPDX-License-Identifier: MIT */
/*
 * Error helpers for the programs built on libmemcap. The library fills mc_error for its own
 * failures; the tools fill the same structure for theirs (a bad pid, an unreadable /proc file,
 * a write error on stdout) with the library's own mc_error_set() and mc_error_errno(), so that
 * every failure is printed and mapped to an exit status in exactly one place, error_report().
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error-util.h"
#include "log.h"

static const char *program_name = "memcap";

void log_set_program_name(const char *name) {
        if (name && *name)
                program_name = name;
}

const char *log_program_name(void) {
        return program_name;
}

void log_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "%s%s: ", log_line_start(LOG_LEVEL_ERROR), program_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int exit_code_from_kind(mc_error_kind kind) {
        if (kind <= MC_OK || kind >= _MC_ERROR_KIND_MAX)
                return EXIT_INTERNAL;
        return EXIT_KIND_BASE + (int) kind;
}

int error_report(const mc_error *err) {
        if (!err || err->message[0] == 0) {
                /* A failure that forgot its message is a bug here, not a user's problem. */
                log_error("internal error (%s)",
                          err ? mc_error_kind_name(err->kind) : "no error detail");
                return err ? exit_code_from_kind(err->kind) : EXIT_INTERNAL;
        }
        log_error("%s", err->message);
        return exit_code_from_kind(err->kind);
}

void exit_codes_print(FILE *f) {
        fprintf(f, "  %2d  success\n", EXIT_OK);
        fprintf(f, "  %2d  unexpected internal failure\n", EXIT_INTERNAL);
        fprintf(f, "  %2d  usage error (unknown command or option, malformed value)\n", EXIT_USAGE);
        for (int k = MC_OK + 1; k < _MC_ERROR_KIND_MAX; k++)
                fprintf(f, "  %2d  %s\n", exit_code_from_kind((mc_error_kind) k),
                        mc_error_kind_name((mc_error_kind) k));
}
