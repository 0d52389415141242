/* SPDX-License-Identifier: MIT */
/*
 * Error values: the kind names of the seeds, the one errno-to-kind table, and the helpers that
 * fill an mc_error in one line. Nothing here allocates: error paths must not fail themselves.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "strv.h"

static const char *const kind_names[_MC_ERROR_KIND_MAX] = {
        [MC_OK] = "Ok",
        [MC_ERR_PERMISSION_DENIED] = "PermissionDenied",
        [MC_ERR_INVALID_ARGUMENT] = "InvalidArgument",
        [MC_ERR_OUT_OF_MEMORY] = "OutOfMemory",
        [MC_ERR_ALIGNMENT] = "AlignmentError",
        [MC_ERR_ALREADY_EXISTS] = "AlreadyExists",
        [MC_ERR_NOT_FOUND] = "NotFound",
        [MC_ERR_UNSUPPORTED] = "Unsupported",
        [MC_ERR_POLICY_VIOLATION] = "PolicyViolation",
        [MC_ERR_TIMED_OUT] = "TimedOut",
        [MC_ERR_INVALID_SIGNAL] = "InvalidSignal",
        [MC_ERR_IO] = "Io",
        [MC_ERR_PEER_GONE] = "PeerGone",
};

const char *mc_error_kind_name(mc_error_kind kind) {
        if ((unsigned) kind >= _MC_ERROR_KIND_MAX)
                return "Unknown";
        return kind_names[kind];
}

/* Every code spelled out, so mc_error_code() is a lookup and the strings are greppable. */
#define CODES(cap)                                                                                 \
        {                                                                                          \
                [MC_OK] = cap ".Ok", [MC_ERR_PERMISSION_DENIED] = cap ".PermissionDenied",         \
                [MC_ERR_INVALID_ARGUMENT] = cap ".InvalidArgument",                                \
                [MC_ERR_OUT_OF_MEMORY] = cap ".OutOfMemory",                                       \
                [MC_ERR_ALIGNMENT] = cap ".AlignmentError",                                        \
                [MC_ERR_ALREADY_EXISTS] = cap ".AlreadyExists",                                    \
                [MC_ERR_NOT_FOUND] = cap ".NotFound", [MC_ERR_UNSUPPORTED] = cap ".Unsupported",   \
                [MC_ERR_POLICY_VIOLATION] = cap ".PolicyViolation",                                \
                [MC_ERR_TIMED_OUT] = cap ".TimedOut",                                              \
                [MC_ERR_INVALID_SIGNAL] = cap ".InvalidSignal", [MC_ERR_IO] = cap ".Io",           \
                [MC_ERR_PEER_GONE] = cap ".PeerGone",                                              \
        }

static const char *const codes[_MC_DOMAIN_MAX][_MC_ERROR_KIND_MAX] = {
        [MC_DOMAIN_MEMORY] = CODES(MC__CAP_MEMORY),
        [MC_DOMAIN_SIGNAL] = CODES(MC__CAP_SIGNAL),
};

const char *mc_error_code(mc_error_kind kind, mc_error_domain domain) {
        if ((unsigned) kind >= _MC_ERROR_KIND_MAX || (unsigned) domain >= _MC_DOMAIN_MAX)
                return "core.memory.Unknown";
        return codes[domain][kind];
}

int mc_error_kind_from_name(const char *name, mc_error_kind *ret_kind) {
        ssize_t i = strv_index(kind_names, _MC_ERROR_KIND_MAX, name);

        if (i < 0 || !ret_kind)
                return -EINVAL;
        *ret_kind = (mc_error_kind) i;
        return 0;
}

/* The one errno -> kind table (libuv's UV_ERRNO_MAP idea); anything unlisted is Io. */
#define MC_ERRNO_MAP(X)                                                                            \
        X(EACCES, MC_ERR_PERMISSION_DENIED)                                                        \
        X(EPERM, MC_ERR_PERMISSION_DENIED)                                                         \
        X(EROFS, MC_ERR_PERMISSION_DENIED)                                                         \
        X(ETXTBSY, MC_ERR_PERMISSION_DENIED)                                                       \
        X(ELOOP, MC_ERR_PERMISSION_DENIED)                                                         \
        X(EXDEV, MC_ERR_PERMISSION_DENIED)                                                         \
        X(EINVAL, MC_ERR_INVALID_ARGUMENT)                                                         \
        X(EBADF, MC_ERR_INVALID_ARGUMENT)                                                          \
        X(EFAULT, MC_ERR_INVALID_ARGUMENT)                                                         \
        X(EOVERFLOW, MC_ERR_INVALID_ARGUMENT)                                                      \
        X(EFBIG, MC_ERR_INVALID_ARGUMENT)                                                          \
        X(ENAMETOOLONG, MC_ERR_INVALID_ARGUMENT)                                                   \
        X(EISDIR, MC_ERR_INVALID_ARGUMENT)                                                         \
        X(ENOTDIR, MC_ERR_INVALID_ARGUMENT)                                                        \
        X(ERANGE, MC_ERR_INVALID_ARGUMENT)                                                         \
        X(EBUSY, MC_ERR_INVALID_ARGUMENT)                                                          \
        X(E2BIG, MC_ERR_INVALID_ARGUMENT)                                                          \
        X(ENOMEM, MC_ERR_OUT_OF_MEMORY)                                                            \
        X(ENOSPC, MC_ERR_OUT_OF_MEMORY)                                                            \
        X(EAGAIN, MC_ERR_OUT_OF_MEMORY)                                                            \
        X(EMFILE, MC_ERR_OUT_OF_MEMORY)                                                            \
        X(ENFILE, MC_ERR_OUT_OF_MEMORY)                                                            \
        X(EDQUOT, MC_ERR_OUT_OF_MEMORY)                                                            \
        X(EEXIST, MC_ERR_ALREADY_EXISTS)                                                           \
        X(ENOENT, MC_ERR_NOT_FOUND)                                                                \
        X(ESRCH, MC_ERR_NOT_FOUND)                                                                 \
        X(ENODATA, MC_ERR_NOT_FOUND)                                                               \
        X(ENOSYS, MC_ERR_UNSUPPORTED)                                                              \
        X(EOPNOTSUPP, MC_ERR_UNSUPPORTED)                                                          \
        X(ENODEV, MC_ERR_UNSUPPORTED)                                                              \
        X(EAFNOSUPPORT, MC_ERR_UNSUPPORTED)                                                        \
        X(ETIMEDOUT, MC_ERR_TIMED_OUT)                                                             \
        X(EOWNERDEAD, MC_ERR_PEER_GONE)                                                            \
        X(EIO, MC_ERR_IO)

mc_error_kind mc_error_kind_from_errno(int errnum) {
        if (errnum < 0)
                errnum = -errnum;
        switch (errnum) {
        case 0:
                return MC_OK;
#define X(e, k)                                                                                    \
        case e:                                                                                    \
                return k;
                MC_ERRNO_MAP(X)
#undef X
        default:
                return MC_ERR_IO;
        }
}

_printf_(2, 0) static void vformat(mc_error *err, const char *fmt, va_list ap) {
        int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
        if (n < 0)
                strscpy(err->message, sizeof(err->message), "(message could not be formatted)");
}

/* @errnum as a positive errno, either sign accepted; @fallback when it is 0. */
static int errno_or(int errnum, int fallback) {
        if (errnum < 0)
                errnum = -errnum;
        return errnum != 0 ? errnum : fallback;
}

int mc_error_set(mc_error *err, mc_error_kind kind, int errnum, const char *fmt, ...) {
        errnum = errno_or(errnum, EINVAL);
        if (err) {
                va_list ap;
                err->kind = kind;
                err->sys_errno = errnum;
                va_start(ap, fmt);
                vformat(err, fmt, ap);
                va_end(ap);
        }
        return -errnum;
}

int mc_error_errno(mc_error *err, int errnum, const char *fmt, ...) {
        errnum = errno_or(errnum, EIO);
        if (err) {
                va_list ap;
                size_t n;
                char buf[128];

                err->kind = mc_error_kind_from_errno(errnum);
                err->sys_errno = errnum;
                va_start(ap, fmt);
                vformat(err, fmt, ap);
                va_end(ap);
                n = strlen(err->message);
#ifdef _WIN32
                snprintf(err->message + n, sizeof(err->message) - n, ": %s",
                         mc__win_strerror(errnum, buf, sizeof(buf)));
#else
                /* GNU strerror_r returns a pointer that may or may not be @buf. */
                snprintf(err->message + n, sizeof(err->message) - n, ": %s",
                         strerror_r(errnum, buf, sizeof(buf)));
#endif
        }
        return -errnum;
}

void mc__error_copy(mc_error *dst, const mc_error *src) {
        if (dst && src && dst != src)
                *dst = *src;
}
