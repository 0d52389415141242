/* SPDX-License-Identifier: MIT */
/*
 * Error helpers for the programs built on libmemcap. The library fills mc_error for its own
 * failures; the tools fill the same structure for theirs (a bad pid, an unreadable /proc file,
 * a write error on stdout), so that every failure is printed and mapped to an exit status in
 * exactly one place, error_report().
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error-util.h"

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

        fprintf(stderr, "%s: ", program_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

_printf_(5, 0) static int error_vset(mc_error *err, mc_error_kind kind, int errnum,
                                     bool with_strerror, const char *fmt, va_list ap) {
        if (errnum < 0)
                errnum = -errnum;
        if (err) {
                int n;

                err->kind = kind;
                err->sys_errno = errnum;
                /* A message longer than the buffer is cut, never overrun: it is for humans. */
                n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
                if (with_strerror && n >= 0 && (size_t) n < sizeof(err->message))
                        snprintf(err->message + n, sizeof(err->message) - (size_t) n, ": %s",
                                 strerror(errnum));
        }
        return -errnum;
}

int error_set(mc_error *err, mc_error_kind kind, int errnum, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, kind, errnum, false, fmt, ap);
        va_end(ap);
        return r;
}

int error_errno(mc_error *err, int errnum, const char *fmt, ...) {
        va_list ap;
        int r;

        if (errnum == 0)
                errnum = EIO; /* a failure without errno must still fail */
        va_start(ap, fmt);
        r = error_vset(err, mc_error_kind_from_errno(errnum), errnum, true, fmt, ap);
        va_end(ap);
        return r;
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
