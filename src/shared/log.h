/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Leveled logging to standard error for the daemon ("memcapd: <message>"; errors go through
 * log_error() of error-util.h). Under systemd the journal adds time stamps; elsewhere each line
 * carries none, to stay greppable.
 */

#include "macro.h"

typedef enum log_level {
        LOG_LEVEL_ERROR = 0,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
} log_level;

/* Messages above @level are dropped. The default is LOG_LEVEL_INFO. */
void log_set_level(log_level level);

/* Parse "error", "warning", "info", "debug"; -EINVAL otherwise. */
int log_level_from_name(const char *name, log_level *ret);

void log_warning(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);
void log_debug(const char *fmt, ...) _printf_(1, 2);

/* Whether debug messages are on (to skip building their arguments). */
bool log_debug_enabled(void);
