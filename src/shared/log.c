/* SPDX-License-Identifier: MIT */
/* Leveled logging for the daemon; see log.h. */

#include <stdarg.h>
#include <stdio.h>

#include "error-util.h"
#include "log.h"

static log_level current = LOG_LEVEL_INFO;

void log_set_level(log_level level) {
        current = level;
}

bool log_debug_enabled(void) {
        return current >= LOG_LEVEL_DEBUG;
}

int log_level_from_name(const char *name, log_level *ret) {
        static const char *const names[] = {"error", "warning", "info", "debug"};

        for (unsigned i = 0; name && i < ELEMENTSOF(names); i++)
                if (streq(name, names[i])) {
                        *ret = (log_level) i;
                        return 0;
                }
        return -EINVAL;
}

_printf_(2, 0) static void log_v(log_level level, const char *fmt, va_list ap) {
        if (level > current)
                return;
        fprintf(stderr, "%s: ", log_program_name());
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

#define LOG_FN(name, level)                                                                        \
        void name(const char *fmt, ...) {                                                          \
                va_list ap;                                                                        \
                va_start(ap, fmt);                                                                 \
                log_v(level, fmt, ap);                                                             \
                va_end(ap);                                                                        \
        }

LOG_FN(log_warning, LOG_LEVEL_WARNING)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
