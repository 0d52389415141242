/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging for the daemon; see log.h.
 *
 * Under systemd, standard error is a stream into the journal, which reads a "<N>" syslog
 * priority at the start of each line (sd-daemon(3)) and keeps it as the record's PRIORITY, so
 * `journalctl -p err` finds errors. The prefix would be noise anywhere else, so it is written
 * only while standard error is the very stream systemd names in $JOURNAL_STREAM ("DEV:INODE"):
 * a daemon started by hand with 2>file, or with --log FILE, writes plain lines.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error-util.h"
#include "log.h"
#include "strv.h"

static log_level current = LOG_LEVEL_INFO;
static int journal = -1;        /* standard error is the journal's stream: 1, not: 0, unknown: -1 */
static char log_path[PATH_MAX]; /* log_open_file()'s, for log_reopen(); "" when none */

void log_set_level(log_level level) {
        current = level;
}

bool log_debug_enabled(void) {
        return current >= LOG_LEVEL_DEBUG;
}

int log_level_from_name(const char *name, log_level *ret) {
        static const char *const names[] = {"error", "warning", "info", "debug"};

        ssize_t i = strv_index(names, ELEMENTSOF(names), name);

        if (i < 0)
                return -EINVAL;
        *ret = (log_level) i;
        return 0;
}

bool log_on_journal(void) {
        const char *e;
        uint64_t dev, ino;
        struct stat st;
        int n = 0;

        if (journal >= 0)
                return journal;
        journal = 0;
        e = getenv("JOURNAL_STREAM");
        if (e && sscanf(e, "%" SCNu64 ":%" SCNu64 "%n", &dev, &ino, &n) == 2 && e[n] == 0 &&
            fstat(STDERR_FILENO, &st) == 0 && (uint64_t) st.st_dev == dev &&
            (uint64_t) st.st_ino == ino)
                journal = 1;
        return journal;
}

const char *log_line_start(log_level level) {
        /* syslog(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
        static const char *const prefix[] = {"<3>", "<4>", "<6>", "<7>"};

        if (!log_on_journal() || (unsigned) level >= ELEMENTSOF(prefix))
                return "";
        return prefix[level];
}

/* Open @path for appending and make it standard error. */
static int redirect_stderr(const char *path) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        int r = 0;

        if (fd < 0)
                return -errno;
        fflush(stderr);
        if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0)
                r = -errno;
        if (fd != STDERR_FILENO)
                close(fd);
        /* A file is no journal stream, whatever the environment says. */
        journal = r == 0 ? 0 : journal;
        return r;
}

int log_open_file(const char *path) {
        int r;

        if (strlen(path) >= sizeof(log_path))
                return -ENAMETOOLONG;
        r = redirect_stderr(path);
        if (r < 0)
                return r;
        strscpy(log_path, sizeof(log_path), path);
        return 0;
}

int log_reopen(void) {
        return log_path[0] ? redirect_stderr(log_path) : 0;
}

_printf_(2, 0) static void log_v(log_level level, const char *fmt, va_list ap) {
        if (level > current)
                return;
        fprintf(stderr, "%s%s: ", log_line_start(level), log_program_name());
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
