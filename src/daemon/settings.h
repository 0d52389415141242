/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * memcapd's configuration: where it listens and serves from, the limits per client and per
 * connection, and the capabilities each uid holds. Embedded defaults, overlaid by a JSON file
 * (--config) and then by command-line options.
 *
 *   {
 *     "socket": "/run/memcap/memcapd.sock", "socket_mode": "0666",
 *     "root": "/var/lib/memcap/root",
 *     "policy": "/etc/memcap/policy.json",   the memory policy of the daemon's context
 *     "audit": "/var/log/memcap/audit.jsonl",  reopened on SIGHUP, for logrotate
 *     "audit_journal": false,                 the audit records to the journal as well
 *     "log": "/var/log/memcap/memcapd.log",   messages here instead of stderr; reopened on SIGHUP
 *     "allow_symlinks": false,               symlinks that stay inside the root
 *     "max_mappings_per_client": 1024, "max_bytes_per_client": "1GiB",
 *     "max_line": "4MiB", "max_output": "1MiB", "max_read": "1MiB",
 *     "max_buffer_per_uid": "32MiB", "max_buffer_total": "256MiB",
 *     "request_timeout": "30s", "send_timeout": "30s",
 *     "audit_rate_interval": "10s", "audit_rate_burst": 200,
 *     "max_connections": 1024, "max_connections_per_uid": 128,
 *     "capabilities": {"0": ["FileRead", "FileWrite", "SystemInfo", "FdPass"],
 *                      "1000": ["FileRead"], "*": []}
 *   }
 *
 * The embedded default grants every capability to the daemon's own uid and none to others.
 * Sizes are positive integers (bytes) or strings with a binary unit ("4MiB"); durations are
 * positive integers (seconds) or strings with a unit ("500ms", "30s", "5min"), at most a day.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/memcap.h>

typedef struct mcd_uid_caps {
        uid_t uid;
        unsigned caps;
} mcd_uid_caps;

typedef struct mcd_config {
        char *socket_path;
        unsigned socket_mode;
        char *root;
        char *policy_path;  /* NULL: the embedded default policy */
        bool policy_pinned; /* given on the command line: a reload keeps it over the file's */
        char *audit_path;   /* NULL: no audit log */
        bool audit_journal; /* audit records to the journal too, with MEMCAP_* fields */
        char *log_path;     /* NULL: messages to stderr as it is; else appended here */
        bool allow_symlinks;
        uint64_t max_mappings;           /* per client process */
        uint64_t max_bytes;              /* per client process, page-rounded */
        uint64_t max_line;               /* bytes in one request line */
        uint64_t max_output;             /* replies queued for one connection before it is paused */
        uint64_t max_read;               /* bytes one MmapRead may ask for */
        uint64_t max_buffer_per_uid;     /* buffers of one uid's connections before they pause */
        uint64_t max_buffer_total;       /* buffers of all connections before every one pauses */
        uint64_t request_timeout_ms;     /* from a line's first byte to its newline */
        uint64_t send_timeout_ms;        /* queued replies with not one byte taken by the client */
        uint64_t audit_rate_interval_ms; /* the audit rate limit's window, per uid */
        uint64_t audit_rate_burst;       /* records a uid may cause per window */
        uint64_t max_connections;
        uint64_t max_connections_per_uid; /* so one user cannot take them all */
        mcd_uid_caps *caps;
        size_t n_caps;
        unsigned default_caps; /* uids not listed */
} mcd_config;

/* The embedded defaults (paths chosen for root or for a user with XDG_RUNTIME_DIR). */
int mcd_config_defaults(mcd_config *c, mc_error *err);

/*
 * Overlay the JSON file @path on @c. Unknown fields and bad values are InvalidArgument, with
 * "config 'FILE':LINE:COLUMN:" naming where: the parser's position for a syntax error, the
 * value's for a value that is wrong.
 */
int mcd_config_load(const char *path, mcd_config *c, mc_error *err);

/* The capabilities @uid holds. */
unsigned mcd_config_caps(const mcd_config *c, uid_t uid);

/* Replace a string field (copies @value). */
int mcd_config_set(char **field, const char *value);

void mcd_config_done(mcd_config *c);
