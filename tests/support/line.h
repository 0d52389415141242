/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A line client of memcapd (or of any line protocol on a stream socket): lines out, lines and
 * SCM_RIGHTS descriptors in. It never asserts, so that forked peers may use it; every receive
 * has a deadline.
 */

#include <stddef.h>

typedef struct cl {
        int fd;
        char *buf; /* received, not yet returned */
        size_t len, cap;
        char *line; /* the last line, without its '\n' */
        int fds[16];
        size_t n_fds; /* descriptors received, oldest first */
} cl;

#define CL_INIT                                                                                    \
        { .fd = -1 }

/* Connect @c to the socket at @path: 0 or -errno. */
int cl_open(cl *c, const char *path);

/* Close the connection and every received descriptor not taken; @c is CL_INIT afterwards. */
void cl_close(cl *c);

/* Send all of @data (no newline added): 0 or -errno (a closed peer is -EPIPE, no SIGPIPE). */
int cl_send(cl *c, const void *data, size_t n);

/*
 * The next line into c->line (owned by @c, valid until the next call): 0, -EPIPE at end of
 * stream, -ETIMEDOUT when none came within @timeout_ms, -errno. Descriptors that came with the
 * bytes are kept for cl_take_fd() (up to 16; more are closed).
 */
int cl_recv_line(cl *c, int timeout_ms);

/* Take the oldest received descriptor (the caller closes it), or -1. */
int cl_take_fd(cl *c);
