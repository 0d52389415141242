/* SPDX-License-Identifier: MIT */
#include "line.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

int cl_open(cl *c, const char *path) {
        *c = (cl) CL_INIT;
        c->fd = mct_unix_connect(path);
        return c->fd < 0 ? c->fd : 0;
}

void cl_close(cl *c) {
        if (c->fd >= 0)
                close(c->fd);
        for (size_t i = 0; i < c->n_fds; i++)
                close(c->fds[i]);
        free(c->buf);
        free(c->line);
        *c = (cl) CL_INIT;
}

int cl_send(cl *c, const void *data, size_t n) {
        const char *p = data;

        while (n > 0) {
                ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int cl_recv_line(cl *c, int timeout_ms) {
        int64_t end = mct_now_ms() + timeout_ms;

        for (;;) {
                char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
                char cbuf[CMSG_SPACE(4 * sizeof(int))];
                struct iovec iov;
                struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
                struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
                ssize_t k;
                int left;

                if (nl) {
                        size_t n = (size_t) (nl - c->buf);
                        free(c->line);
                        c->line = malloc(n + 1);
                        if (!c->line)
                                return -ENOMEM;
                        memcpy(c->line, c->buf, n);
                        c->line[n] = 0;
                        memmove(c->buf, nl + 1, c->len - n - 1);
                        c->len -= n + 1;
                        return 0;
                }
                if (c->cap - c->len < 65536) {
                        char *b = realloc(c->buf, c->cap + 262144);
                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->cap += 262144;
                }
                left = (int) (end - mct_now_ms());
                if (left <= 0 || poll(&pfd, 1, left) == 0)
                        return -ETIMEDOUT;
                iov.iov_base = c->buf + c->len;
                iov.iov_len = c->cap - c->len;
                msg.msg_control = cbuf;
                msg.msg_controllen = sizeof(cbuf);
                k = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                                size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                for (size_t i = 0; i < nfd; i++) {
                                        int fd;
                                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                                        if (c->n_fds < ELEMENTSOF(c->fds))
                                                c->fds[c->n_fds++] = fd;
                                        else
                                                close(fd);
                                }
                        }
                if (k == 0)
                        return -EPIPE;
                c->len += (size_t) k;
        }
}

int cl_take_fd(cl *c) {
        int fd;

        if (c->n_fds == 0)
                return -1;
        fd = c->fds[0];
        memmove(c->fds, c->fds + 1, (c->n_fds - 1) * sizeof(int));
        c->n_fds--;
        return fd;
}
