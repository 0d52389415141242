/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Leveled logging to standard error for the daemon ("memcapd: <message>"; errors go through
 * log_error() of error-util.h). Under systemd the journal adds time stamps; elsewhere each line
 * carries none, to stay greppable. When standard error is the journal's stream ($JOURNAL_STREAM
 * names it), every line starts with its syslog priority, "<3>" for errors to "<7>" for debug,
 * which the journal turns into the record's PRIORITY. --log FILE (log_open_file()) sends the
 * lines to a file instead, reopened by log_reopen() so that logrotate can move it away.
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

/* Whether standard error is the journal's stream (decided once, or by log_open_file()). */
bool log_on_journal(void);

/* What a line of @level starts with: "<N>" on the journal's stream, else "". */
const char *log_line_start(log_level level);

/* Append messages to @path (created 0640) instead of standard error, which becomes it. 0 or
 * -errno; standard error is unchanged on failure. */
int log_open_file(const char *path);

/* Open log_open_file()'s file again (after a rename by logrotate); 0 when there is none. */
int log_reopen(void);

/* Whether debug messages are on (to skip building their arguments). */
bool log_debug_enabled(void);
