/* SPDX-License-Identifier: MIT */
/*
 * The client of memcapd (<memcap/client.h>), its transport: the default socket, connecting, and
 * lines in and out. A request is one line out, its reply one line in, and nothing is pipelined,
 * which is what makes a descriptor received with SCM_RIGHTS unambiguous: it belongs to the reply
 * being waited for. The calls and their replies are in client-calls.c.
 *
 * Everything the daemon sends is untrusted input: reply lines are bounded (MC_DAEMON_REPLY_MAX),
 * descriptors beyond the one a reply may carry are closed, and a connection that ends in the
 * middle of a line is Io.
 *
 * Sections: default socket, connecting, sending, receiving.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client-int.h"
#include "macro.h"
#include "sys.h"

/* Bytes asked of recvmsg() at least per call, and the buffer's first size. */
#define RECV_CHUNK (64 * 1024)

/* Descriptors accepted in one message; the protocol sends one, the rest are closed. */
#define MAX_FDS 8

/* ---- default socket -------------------------------------------------------------------------- */

int mc_daemon_default_socket(char **ret_path) {
        const char *env = getenv(MC_DAEMON_SOCKET_ENV), *xdg = getenv("XDG_RUNTIME_DIR");
        char *s;

        if (!ret_path)
                return -EINVAL;
        /* The same choice as memcapd's defaults (src/daemon/settings.c), so both meet. */
        if (env && *env)
                s = strdup(env);
        else if (getuid() != 0 && xdg && xdg[0] == '/') {
                if (asprintf(&s, "%s/memcap/memcapd.sock", xdg) < 0)
                        s = NULL;
        } else
                s = strdup("/run/memcap/memcapd.sock");
        if (!s)
                return -ENOMEM;
        *ret_path = s;
        return 0;
}

/* ---- connecting ------------------------------------------------------------------------------ */

const char *mc_daemon_path(const mc_daemon *d) {
        return d ? d->path : NULL;
}

void mc_daemon_close(mc_daemon *d) {
        if (!d)
                return;
        safe_close(d->fd);
        safe_close(d->fd_pending);
        free(d->path);
        free(d->buf);
        free(d);
}

static void mc_daemon_closep(mc_daemon **d) {
        mc_daemon_close(*d);
}

int mc_daemon_connect(const char *path, mc_daemon **ret, mc_error *err) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_(mc_daemon_closep) mc_daemon *d = NULL;
        _cleanup_free_ char *def = NULL;
        char safe[160];
        size_t n;
        int r;

        if (!ret)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "mc_daemon_connect: no place for the connection");
        if (!path) {
                if (mc_daemon_default_socket(&def) < 0)
                        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
                path = def;
        }
        if (!*path)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "memcapd socket path is empty");
        n = strlen(path);
        mc__daemon_text(path, n, safe, sizeof(safe));
        if (n >= sizeof(sa.sun_path))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, ENAMETOOLONG,
                                    "memcapd socket path '%s' is too long (at most %zu bytes)",
                                    safe, sizeof(sa.sun_path) - 1);
        memcpy(sa.sun_path, path, n + 1);

        d = calloc(1, sizeof(*d));
        if (!d)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        d->fd = -EBADF;
        d->fd_pending = -EBADF;
        d->path = strdup(path);
        if (!d->path)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");

        d->fd = mc_sys.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (d->fd < 0)
                return mc_error_errno(err, errno, "socket for memcapd");
        do
                r = mc_sys.connect(d->fd, (const struct sockaddr *) &sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0) {
                int e = errno;

                /*
                 * No socket, or a socket file left behind by a daemon that is gone: either way
                 * there is no daemon to talk to, which is what a caller needs to tell apart.
                 */
                if (e == ENOENT || e == ECONNREFUSED)
                        return mc_error_set(err, MC_ERR_NOT_FOUND, e,
                                            "connect to memcapd at '%s': %s (is memcapd running? "
                                            "choose it with --socket or $" MC_DAEMON_SOCKET_ENV ")",
                                            safe, strerror(e));
                return mc_error_errno(err, e, "connect to memcapd at '%s'", safe);
        }
        *ret = TAKE_PTR(d);
        return 0;
}

/* ---- sending --------------------------------------------------------------------------------- */

int mc_daemon_send_line(mc_daemon *d, const char *line, size_t len, mc_error *err) {
        struct iovec iov[2] = {{(void *) line, len}, {(void *) "\n", 1}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

        if (!d || (!line && len > 0))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "mc_daemon_send_line: no connection or no line");
        if (len > 0 && memchr(line, '\n', len))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "a request line must not contain a newline");
        while (mh.msg_iovlen > 0) {
                ssize_t n = mc_sys.sendmsg(d->fd, &mh, MSG_NOSIGNAL);

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
static void take_fds(mc_daemon *d, struct msghdr *mh) {
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                size_t n;

                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        if (d->fd_pending < 0)
                                d->fd_pending = fd;
                        else
                                safe_close(fd);
                }
        }
}

/* Make room for at least RECV_CHUNK more bytes after len: compact first, then grow. */
static int make_room(mc_daemon *d) {
        size_t want;
        char *nb;

        if (d->start > 0) {
                memmove(d->buf, d->buf + d->start, d->len - d->start);
                d->len -= d->start;
                d->start = 0;
        }
        if (d->cap - d->len >= RECV_CHUNK)
                return 0;
        want = d->cap ? d->cap * 2 : RECV_CHUNK;
        if (want < d->len + RECV_CHUNK)
                want = d->len + RECV_CHUNK;
        nb = realloc(d->buf, want);
        if (!nb)
                return -ENOMEM;
        d->buf = nb;
        d->cap = want;
        return 0;
}

int mc_daemon_recv_line(mc_daemon *d, const char **ret_line, size_t *ret_len, int *ret_fd,
                        mc_error *err) {
        if (!d || !ret_line || !ret_len)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "mc_daemon_recv_line: no connection or no place for the line");
        /* The previous line is the caller's until now. */
        d->start += d->drop;
        d->drop = 0;
        if (d->start == d->len)
                d->start = d->len = d->scanned = 0;

        for (;;) {
                union {
                        struct cmsghdr align;
                        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
                } control;
                struct iovec iov;
                struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
                char *nl = NULL;
                ssize_t n;

                if (d->len - d->start > d->scanned)
                        nl = memchr(d->buf + d->start + d->scanned, '\n',
                                    d->len - d->start - d->scanned);
                if (nl) {
                        *nl = 0;
                        *ret_line = d->buf + d->start;
                        *ret_len = (size_t) (nl - (d->buf + d->start));
                        d->drop = *ret_len + 1;
                        d->scanned = 0;
                        if (ret_fd)
                                *ret_fd = TAKE_FD(d->fd_pending);
                        else
                                d->fd_pending = safe_close(d->fd_pending);
                        return 0;
                }
                d->scanned = d->len - d->start;
                if (d->scanned > MC_DAEMON_REPLY_MAX)
                        return mc_error_set(err, MC_ERR_IO, EMSGSIZE,
                                            "reply from memcapd is longer than %zu bytes",
                                            MC_DAEMON_REPLY_MAX);
                if (make_room(d) < 0)
                        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                                            "out of memory for a reply from memcapd");

                iov = (struct iovec){d->buf + d->len, d->cap - d->len};
                mh.msg_control = control.buf;
                mh.msg_controllen = sizeof(control.buf);
                n = mc_sys.recvmsg(d->fd, &mh, MSG_CMSG_CLOEXEC);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return mc_error_errno(err, errno, "receive from memcapd");
                }
                take_fds(d, &mh);
                if (mh.msg_flags & MSG_CTRUNC)
                        return mc_error_set(err, MC_ERR_IO, EPROTO,
                                            "reply from memcapd: ancillary data truncated");
                if (n == 0)
                        return mc_error_set(err, MC_ERR_IO, ECONNRESET,
                                            d->len > d->start
                                                    ? "memcapd closed the connection in the middle "
                                                      "of a reply"
                                                    : "memcapd closed the connection");
                d->len += (size_t) n;
        }
}
