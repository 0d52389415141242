/* SPDX-License-Identifier: MIT */
/*
 * The client side of the memcapd protocol, for the memcap tool (and anything else built on
 * src/shared). It is deliberately synchronous and small: a request is one line out, its reply
 * one line in, and nothing is pipelined, which is what makes a descriptor received with
 * SCM_RIGHTS unambiguous: it belongs to the reply being waited for.
 *
 * Everything the daemon sends is treated as untrusted input: reply lines are bounded
 * (MCC_REPLY_MAX), unexpected descriptors are closed, malformed replies are Io errors, and the
 * daemon's messages are escaped before they can reach a terminal.
 *
 * Sections: default socket, connecting, sending, receiving, calls and replies.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "error-util.h"
#include "output.h"

/* Bytes asked of recvmsg() at least per call, and the buffer's first size. */
#define RECV_CHUNK (64 * 1024)

/* Descriptors accepted in one message; the protocol sends one, the rest are closed. */
#define MAX_FDS 8

struct mcc {
        int fd;
        char *path;
        char *buf;      /* received bytes: [start, len) not yet returned */
        size_t cap;     /* allocated size of buf */
        size_t start;   /* first byte not yet returned */
        size_t len;     /* end of the received bytes */
        size_t scanned; /* bytes after start already searched for '\n' */
        size_t drop;    /* the line returned last, released at the next call */
        int fd_pending; /* a descriptor received for the line being read, or -EBADF */
};

/* ---- default socket -------------------------------------------------------------------------- */

int mcc_default_socket(char **ret) {
        const char *env = getenv(MCC_SOCKET_ENV), *xdg = getenv("XDG_RUNTIME_DIR");
        char *s;

        /* The same choice as memcapd's defaults (src/daemon/settings.c), so both meet. */
        if (env && *env)
                s = strdup(env);
        else if (getuid() != 0 && xdg && xdg[0] == '/') {
                size_t n = strlen(xdg) + sizeof("/memcap/memcapd.sock");

                s = malloc(n);
                if (s)
                        snprintf(s, n, "%s/memcap/memcapd.sock", xdg);
        } else
                s = strdup("/run/memcap/memcapd.sock");
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* ---- connecting ------------------------------------------------------------------------------ */

const char *mcc_path(const mcc *c) {
        return c->path;
}

void mcc_close(mcc *c) {
        if (!c)
                return;
        safe_close(c->fd);
        safe_close(c->fd_pending);
        free(c->path);
        free(c->buf);
        free(c);
}

int mcc_open(const char *path, mcc **ret, mc_error *err) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_free_ char *safe = NULL;
        _cleanup_(mcc_closep) mcc *c = NULL;
        size_t n;
        int r;

        if (!path || !*path)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "memcapd socket path is empty");
        safe = str_escape_cstr(path);
        if (!safe)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        n = strlen(path);
        if (n >= sizeof(sa.sun_path))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, ENAMETOOLONG,
                                    "memcapd socket path '%s' is too long (at most %zu bytes)",
                                    safe, sizeof(sa.sun_path) - 1);
        memcpy(sa.sun_path, path, n + 1);

        c = calloc(1, sizeof(*c));
        if (!c)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        c->fd = -EBADF;
        c->fd_pending = -EBADF;
        c->path = strdup(path);
        if (!c->path)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");

        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return mc_error_errno(err, errno, "socket for memcapd");
        do
                r = connect(c->fd, (const struct sockaddr *) &sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                int e = errno;

                /*
                 * No socket, or a socket file left behind by a daemon that is gone: either way
                 * there is no daemon to talk to, which is what a script needs to tell apart.
                 */
                if (e == ENOENT || e == ECONNREFUSED)
                        return mc_error_set(err, MC_ERR_NOT_FOUND, e,
                                            "connect to memcapd at '%s': %s (is memcapd running? "
                                            "choose it with --socket or $" MCC_SOCKET_ENV ")",
                                            safe, strerror(e));
                return mc_error_errno(err, e, "connect to memcapd at '%s'", safe);
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- sending --------------------------------------------------------------------------------- */

int mcc_send_line(mcc *c, const char *line, size_t len, mc_error *err) {
        struct iovec iov[2] = {{(void *) line, len}, {(void *) "\n", 1}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

        if (memchr(line, '\n', len))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "a request line must not contain a newline");
        while (mh.msg_iovlen > 0) {
                ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return mc_error_errno(err, errno, "send to memcapd");
                }
                /* Skip what went out: whole iovecs first, then into the next one. */
                while (mh.msg_iovlen > 0 && (size_t) n >= mh.msg_iov->iov_len) {
                        n -= (ssize_t) mh.msg_iov->iov_len;
                        mh.msg_iov++;
                        mh.msg_iovlen--;
                }
                if (mh.msg_iovlen > 0) {
                        mh.msg_iov->iov_base = (char *) mh.msg_iov->iov_base + n;
                        mh.msg_iov->iov_len -= (size_t) n;
                }
        }
        return 0;
}

/* ---- receiving ------------------------------------------------------------------------------- */

/* Take the descriptors of @mh: keep the first for the pending line, close the rest. */
static void take_fds(mcc *c, struct msghdr *mh) {
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                size_t n;

                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        if (c->fd_pending < 0)
                                c->fd_pending = fd;
                        else
                                safe_close(fd);
                }
        }
}

/* Make room for at least RECV_CHUNK more bytes after len: compact first, then grow. */
static int make_room(mcc *c) {
        size_t want;
        char *nb;

        if (c->start > 0) {
                memmove(c->buf, c->buf + c->start, c->len - c->start);
                c->len -= c->start;
                c->start = 0;
        }
        if (c->cap - c->len >= RECV_CHUNK)
                return 0;
        want = c->cap ? c->cap * 2 : RECV_CHUNK;
        if (want < c->len + RECV_CHUNK)
                want = c->len + RECV_CHUNK;
        nb = realloc(c->buf, want);
        if (!nb)
                return -ENOMEM;
        c->buf = nb;
        c->cap = want;
        return 0;
}

int mcc_recv_line(mcc *c, const char **ret_line, size_t *ret_len, int *ret_fd, mc_error *err) {
        /* The previous line is the caller's until now. */
        c->start += c->drop;
        c->drop = 0;
        if (c->start == c->len)
                c->start = c->len = c->scanned = 0;

        for (;;) {
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
                } control;
                struct iovec iov;
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
                char *nl = NULL;
                ssize_t n;

                if (c->len - c->start > c->scanned)
                        nl = memchr(c->buf + c->start + c->scanned, '\n',
                                    c->len - c->start - c->scanned);
                if (nl) {
                        *nl = 0;
                        *ret_line = c->buf + c->start;
                        *ret_len = (size_t) (nl - (c->buf + c->start));
                        c->drop = *ret_len + 1;
                        c->scanned = 0;
                        if (ret_fd)
                                *ret_fd = TAKE_FD(c->fd_pending);
                        else
                                c->fd_pending = safe_close(c->fd_pending);
                        return 0;
                }
                c->scanned = c->len - c->start;
                if (c->scanned > MCC_REPLY_MAX)
                        return mc_error_set(err, MC_ERR_IO, EMSGSIZE,
                                            "reply from memcapd is longer than %zu bytes",
                                            MCC_REPLY_MAX);
                if (make_room(c) < 0)
                        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                                            "out of memory for a reply from memcapd");

                iov = (struct iovec){c->buf + c->len, c->cap - c->len};
                mh.msg_control = control.buf;
                mh.msg_controllen = sizeof(control.buf);
                n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return mc_error_errno(err, errno, "receive from memcapd");
                }
                take_fds(c, &mh);
                if (mh.msg_flags & MSG_CTRUNC)
                        return mc_error_set(err, MC_ERR_IO, EPROTO,
                                            "reply from memcapd: ancillary data truncated");
                if (n == 0)
                        return mc_error_set(err, MC_ERR_IO, ECONNRESET,
                                            c->len > c->start
                                                    ? "memcapd closed the connection in the middle "
                                                      "of a reply"
                                                    : "memcapd closed the connection");
                c->len += (size_t) n;
        }
}

/* ---- calls and replies ----------------------------------------------------------------------- */

/* An errno for a kind when the reply carries none, so the return value is still -errno. */
static int kind_errno(mc_error_kind kind) {
        switch (kind) {
        case MC_ERR_PERMISSION_DENIED:
                return EACCES;
        case MC_ERR_OUT_OF_MEMORY:
                return ENOMEM;
        case MC_ERR_ALREADY_EXISTS:
                return EEXIST;
        case MC_ERR_NOT_FOUND:
                return ENOENT;
        case MC_ERR_UNSUPPORTED:
                return EOPNOTSUPP;
        case MC_ERR_POLICY_VIOLATION:
                return EPERM;
        case MC_ERR_TIMED_OUT:
                return ETIMEDOUT;
        case MC_ERR_IO:
                return EIO;
        default:
                return EINVAL;
        }
}

static int malformed(mc_error *err, const char *call, const char *what) {
        /* jansson's error text quotes the reply, which may hold anything. */
        _cleanup_free_ char *safe = str_escape_cstr(what);

        return mc_error_set(err, MC_ERR_IO, EPROTO, "%s failed: malformed reply from memcapd: %s",
                            call, safe ? safe : "?");
}

/*
 * Fill @err with "<call> failed: <text>" unless @text already says so; @text comes from the
 * daemon and is escaped, so it cannot forge lines or send escape sequences to a terminal.
 */
static int fill_failure(mc_error *err, mc_error_kind kind, int errnum, bool have_errno,
                        const char *call, const char *text) {
        _cleanup_free_ char *safe = str_escape_cstr(text);
        size_t cl = strlen(call);
        int r;

        if (!safe)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        if (strncmp(safe, call, cl) == 0 && strncmp(safe + cl, " failed: ", 9) == 0)
                r = mc_error_set(err, kind, errnum, "%s", safe);
        else
                r = mc_error_set(err, kind, errnum, "%s failed: %s", call, safe);
        /* The return value needs an errno even when the daemon sent none; the error itself
         * says "none" (0), as mc_error documents, so the kind's stand-in is not mistaken for
         * the daemon's. */
        if (err && !have_errno)
                err->sys_errno = 0;
        return r;
}

int mcc_reply_check(const json_t *reply, const char *call, mc_error *err) {
        const char *status, *kind_name, *text;
        mc_error_kind kind;
        json_t *v;
        int errnum;

        if (!json_is_object(reply))
                return malformed(err, call, "not a JSON object");
        status = json_string_value(json_object_get(reply, "status"));
        if (!status)
                return malformed(err, call, "no \"status\"");
        if (streq(status, "success"))
                return 0;
        if (streq(status, "permission_denied")) {
                text = json_string_value(json_object_get(reply, "reason"));
                return fill_failure(err, MC_ERR_PERMISSION_DENIED, EPERM, false, call,
                                    text ? text : "permission denied (no reason given)");
        }
        if (!streq(status, "error"))
                return malformed(err, call, "unknown \"status\"");

        kind_name = json_string_value(json_object_get(reply, "kind"));
        text = json_string_value(json_object_get(reply, "message"));
        if (!kind_name || mc_error_kind_from_name(kind_name, &kind) < 0 || kind == MC_OK) {
                /* The protocol says to treat kinds we do not know as errors; Io is the catch-all.
                 */
                _cleanup_free_ char *k = str_escape_cstr(kind_name ? kind_name : "none");
                _cleanup_free_ char *t = str_escape_cstr(text ? text : "no message");

                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed (unknown error kind '%.40s'): %s", call, k ? k : "?",
                                    t ? t : "?");
        }
        v = json_object_get(reply, "errno");
        if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 4096) {
                errnum = (int) json_integer_value(v);
                return fill_failure(err, kind, errnum, true, call, text ? text : "no message");
        }
        errnum = kind_errno(kind);
        return fill_failure(err, kind, errnum, false, call, text ? text : "no message");
}

int mcc_reply_u64(const json_t *obj, const char *call, const char *key, uint64_t *ret,
                  mc_error *err) {
        json_t *v = json_object_get(obj, key);
        char what[128];

        if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(what, sizeof(what), "\"%s\" is not a non-negative integer", key);
                return malformed(err, call, what);
        }
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

int mcc_call(mcc *c, const char *call, json_t *args, json_t **ret_reply, int *ret_fd,
             mc_error *err) {
        _cleanup_json_ json_t *req = NULL, *reply = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        json_error_t jerr;
        const char *line;
        size_t len;
        int r;

        req = json_object();
        if (!req) {
                json_decref(args);
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        }
        /* json_object_set_new() takes @args also when it fails. */
        if (json_object_set_new(req, call, args ? args : json_object()) < 0)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        text = json_dumps(req, JSON_COMPACT);
        if (!text)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        r = mcc_send_line(c, text, strlen(text), err);
        if (r < 0)
                return r;
        r = mcc_recv_line(c, &line, &len, &fd, err);
        if (r < 0)
                return r;
        reply = json_loadb(line, len, 0, &jerr);
        if (!reply) {
                return malformed(err, call, jerr.text);
        }
        r = mcc_reply_check(reply, call, err);
        if (r < 0)
                return r;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return 0;
}
