/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_ERROR_H
#define MEMCAP_ERROR_H

/*
 * Errors are values: every fallible call returns 0 (or a non-negative value) on success and
 * -errno on failure, and fills an optional mc_error with a kind a program can branch on, the
 * errno of the failing system call, and a message a person can act on.
 */

#include <memcap/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Error kinds. The names are the seeds' (MemoryErrorKind, SignalErrorKind) and are what
 * mc_error_kind_name() returns, what the audit log and the memcapd protocol carry.
 * ABI: append only, never renumber.
 */
typedef enum mc_error_kind {
        MC_OK = 0,
        MC_ERR_PERMISSION_DENIED, /* "PermissionDenied": the OS refused (EACCES, EPERM) */
        MC_ERR_INVALID_ARGUMENT,  /* "InvalidArgument": the request itself is malformed */
        MC_ERR_OUT_OF_MEMORY,     /* "OutOfMemory": no memory, address space or tmpfs space */
        MC_ERR_ALIGNMENT,         /* "AlignmentError": an offset or address is not aligned */
        MC_ERR_ALREADY_EXISTS,    /* "AlreadyExists": exclusive create of an existing object */
        MC_ERR_NOT_FOUND,         /* "NotFound": no such object, or not a mapping of this ctx */
        MC_ERR_UNSUPPORTED,       /* "Unsupported": the platform or kernel lacks the feature */
        MC_ERR_POLICY_VIOLATION,  /* "PolicyViolation": the context's policy denied it */
        MC_ERR_TIMED_OUT,         /* "TimedOut": a wait ended at its timeout */
        MC_ERR_INVALID_SIGNAL,    /* "InvalidSignal": no such signal, or it cannot be handled */
        MC_ERR_IO,                /* "Io": a mapped file was truncated, or an I/O error */
        MC_ERR_PEER_GONE,         /* "PeerGone": the other end of a channel closed or died */
        _MC_ERROR_KIND_MAX
} mc_error_kind;

/* Size of mc_error.message, including the terminating NUL. */
#define MC_ERROR_MESSAGE_MAX 256

/*
 * The detail of a failure. The caller owns the storage (usually on its stack); memcap writes
 * it only when a call fails, so nothing ever needs freeing and no error path allocates.
 */
typedef struct mc_error {
        mc_error_kind kind;                 /* for programs */
        int sys_errno;                      /* errno of the failing call, 0 if there was none */
        char message[MC_ERROR_MESSAGE_MAX]; /* for humans: operation, object, what to do */
} mc_error;

/* Static initialiser for an mc_error that says "no error". */
#define MC_ERROR_INIT                                                                              \
        {                                                                                          \
                MC_OK, 0, {                                                                        \
                        0                                                                          \
                }                                                                                  \
        }

/**
 * mc_error_kind_name() - the spec's name of an error kind.
 * @kind: any value.
 *
 * Return: "PermissionDenied", "InvalidArgument", ..., "Io", "PeerGone", "Ok" for MC_OK, or
 * "Unknown" for a value outside the enum. A static string; never NULL. Thread-safe and
 * async-signal-safe.
 */
MC_API const char *mc_error_kind_name(mc_error_kind kind);

/**
 * mc_error_kind_from_name() - parse a kind name as mc_error_kind_name() prints it.
 * @name: "NotFound" etc. (exact, case-sensitive).
 * @ret_kind: set on success; untouched on failure.
 *
 * Return: 0, or -EINVAL when @name is NULL or not a kind's name. Thread-safe.
 */
MC_API int mc_error_kind_from_name(const char *name, mc_error_kind *ret_kind);

/* The capability an error comes from: the first part of its diagnostic code. ABI: append only. */
typedef enum mc_error_domain {
        MC_DOMAIN_MEMORY = 0, /* "core.memory": mappings, shared memory, the mapping manager */
        MC_DOMAIN_SIGNAL,     /* "core.signal": handlers, masks, send, raise, wait */
        _MC_DOMAIN_MAX
} mc_error_domain;

/**
 * mc_error_code() - the stable diagnostic code of an error: "<capability>.<kind>", such as
 * "core.memory.PolicyViolation" or "core.signal.TimedOut" (the seeds' IntoDiagnostic codes).
 * The audit log writes it in a record's "error" object and memcapd in its error replies, so
 * logs and clients can match on one string that never changes.
 * @kind: the error's kind.
 * @domain: the capability that reported it (a timeout of memcapd's is "core.memory.TimedOut",
 *          one of mc_signal_wait() "core.signal.TimedOut").
 *
 * Return: a static string; never NULL ("core.memory.Unknown" for a kind or domain outside the
 * enums). Thread-safe and async-signal-safe.
 */
MC_API const char *mc_error_code(mc_error_kind kind, mc_error_domain domain);

/**
 * mc_error_kind_from_errno() - the kind memcap reports for an errno value.
 * @errnum: a positive or negative errno value.
 *
 * The one table every layer uses: EACCES/EPERM -> PermissionDenied, ENOENT/ESRCH -> NotFound,
 * EEXIST -> AlreadyExists, ENOMEM/ENOSPC/EAGAIN -> OutOfMemory, ENOSYS/EOPNOTSUPP -> Unsupported,
 * ETIMEDOUT -> TimedOut, EIO -> Io, EOWNERDEAD -> PeerGone, EINVAL and friends ->
 * InvalidArgument; anything else -> Io.
 * Thread-safe and async-signal-safe.
 */
MC_API mc_error_kind mc_error_kind_from_errno(int errnum);

/**
 * mc_error_set() - fill an mc_error the way the library does, in one line:
 * `return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "bad size %zu", n);`
 * @err: may be NULL (then only the return value says what happened).
 * @kind: the kind for programs.
 * @errnum: the errno value behind it, either sign; 0 means EINVAL (plain bad input).
 * @fmt: printf format of the message for people; a longer message is cut to fit
 *       MC_ERROR_MESSAGE_MAX bytes (NUL included).
 *
 * Return: -errnum (negative), so callers can return it directly. Allocates nothing.
 * Thread-safe; not async-signal-safe (it formats with vsnprintf).
 */
MC_API int mc_error_set(mc_error *err, mc_error_kind kind, int errnum, const char *fmt, ...)
        MC_PRINTF(4, 5);

/**
 * mc_error_errno() - mc_error_set() for a failed system call: the kind comes from
 * mc_error_kind_from_errno(@errnum) and ": <strerror(errnum)>" is appended to the message.
 * @errnum: the errno value, either sign (capture it right after the call); 0 means EIO.
 *
 * Return: -errnum. Thread-safe; not async-signal-safe.
 */
MC_API int mc_error_errno(mc_error *err, int errnum, const char *fmt, ...) MC_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif

#endif
