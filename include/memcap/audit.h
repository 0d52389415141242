/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_AUDIT_H
#define MEMCAP_AUDIT_H

/*
 * Audit sinks. A context writes one record per privileged operation, allowed or denied, to the
 * sink it holds (none by default). A record is one JSON object on one line:
 *
 *   {"time":"2026-11-22T01:46:55.123456Z","capability":"core.memory","operation":"mmap",
 *    "pid":4242,"outcome":"ok","request":{"length":4096,"protection":"ReadWrite",
 *    "flags":["Private","Anonymous"]},"result":{"address":"0x7f3a2c000000","length":4096}}
 *
 *   {"time":"...","capability":"core.memory","operation":"mprotect","pid":4242,
 *    "outcome":"denied","request":{...},"error":{"kind":"PolicyViolation",
 *    "code":"core.memory.PolicyViolation","errno":1,
 *    "message":"mprotect 0x7f3a2c000000 (4096 bytes) denied by rule allow_write_exec: ..."}}
 *
 * "outcome" is "ok", "denied" (the policy refused; nothing was called) or "error" (the system
 * call failed). "code" is the error's stable diagnostic code (mc_error_code()), the one string
 * to match on. Records about a shared memory object (shm_open when it succeeded, shm_close,
 * shm_unlink, shm_resize, shm_seal) also carry "owner" ("Local" or "Remote") and "owner_pid"
 * (the creator, 0 when unknown): see mc_shared_owner in shm.h. "time" is RFC 3339 in UTC with
 * microseconds. Strings are escaped so that any control character in a path or name stays
 * inside its string: a record is always one line of valid JSON. Data-path calls (mc_map_read,
 * mc_map_write) are not privileged and not audited.
 * A delivered signal (signal_deliver's "request") and a waited-for one (signal_wait's
 * "result") carry "source_pid", "source_uid" and "source_verified": false when the sender
 * wrote its pid and uid itself (see mc_signal_info in signal.h).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc_audit mc_audit;

typedef enum mc_audit_flags {
        MC_AUDIT_FSYNC = 1 << 0, /* file sinks: fdatasync(2) after every record */
} mc_audit_flags;

/* What a callback sink receives. Every pointer is valid only during the call. */
typedef struct mc_audit_record {
        int64_t time_ns;        /* CLOCK_REALTIME, nanoseconds since the epoch */
        const char *capability; /* "core.memory" or "core.signal" */
        const char *operation;  /* mc_op_name(), or a user event's name */
        pid_t pid;              /* the process that made the call */
        mc_error_kind kind;     /* MC_OK when the operation succeeded */
        int sys_errno;          /* 0 unless a system call failed */
        const char *message;    /* the error message, or "" */
        const char *json;       /* the whole record as one JSON line, NUL-terminated */
        size_t json_len;        /* strlen(json); no trailing newline */
        const char *code;       /* mc_error_code() of the failure; NULL when it succeeded */
} mc_audit_record;

/*
 * A callback sink's function. A context never calls it concurrently with itself, so it may
 * keep unsynchronised state; it runs in the thread that made the operation, after the system
 * call, and must not call back into the same context.
 */
typedef void (*mc_audit_callback)(const mc_audit_record *record, void *userdata);

/**
 * mc_audit_open_file() - a sink that appends JSON lines to a file.
 * @path: created with mode 0600 when missing, opened O_APPEND|O_CLOEXEC; never truncated.
 * @flags: MC_AUDIT_FSYNC to make every record durable before the operation returns.
 * @ret: the sink, owned by the caller until given to mc_ctx_set_audit().
 *
 * Each record is written with a single write(2), so records from several processes sharing
 * the file (e.g. after fork()) never interleave within a line.
 *
 * Return: 0 or -errno (NotFound, PermissionDenied, InvalidArgument for a NULL path).
 */
MC_API int mc_audit_open_file(const char *path, unsigned flags, mc_audit **ret, mc_error *err);

/**
 * mc_audit_open_fd() - a sink writing JSON lines to an open descriptor (a pipe, stderr, ...).
 * @fd: duplicated (F_DUPFD_CLOEXEC); the caller keeps and closes its own @fd.
 */
MC_API int mc_audit_open_fd(int fd, unsigned flags, mc_audit **ret, mc_error *err);

/**
 * mc_audit_open_syslog() - a sink sending each record to syslog(3) at LOG_INFO (denials and
 * errors at LOG_WARNING), with @facility (LOG_AUTHPRIV, LOG_DAEMON, ...).
 * @ident: the syslog identity, copied; NULL for "memcap".
 */
MC_API int mc_audit_open_syslog(const char *ident, int facility, mc_audit **ret, mc_error *err);

/**
 * mc_audit_open_callback() - a sink calling @callback with each record.
 * @userdata: passed through untouched; memcap never frees it.
 */
MC_API int mc_audit_open_callback(mc_audit_callback callback, void *userdata, mc_audit **ret,
                                  mc_error *err);

/**
 * mc_audit_close() - close a sink the caller still owns (not one given to a context).
 * Accepts NULL.
 */
MC_API void mc_audit_close(mc_audit *audit);

#ifdef __cplusplus
}
#endif

#endif
