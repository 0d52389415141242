/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * syslog(3) names for the Windows build. There is no syslog: mc_audit_open_syslog() fails
 * with Unsupported before it would call these (audit-sink.c).
 */

#define LOG_WARNING     4
#define LOG_INFO        6
#define LOG_PID         0x01
#define LOG_FACMASK     0x03f8
#define LOG_NFACILITIES 24
#define LOG_FAC(p)      (((p) &LOG_FACMASK) >> 3)

static inline void openlog(const char *ident, int option, int facility) {
        (void) ident, (void) option, (void) facility;
}
static inline void closelog(void) {
}
__attribute__((format(printf, 2, 3))) static inline void syslog(int pri, const char *fmt, ...) {
        (void) pri, (void) fmt;
}
