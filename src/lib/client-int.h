/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The connection of <memcap/client.h>, shared by client.c (connecting, lines in and out) and
 * client-calls.c (calls and replies). Library-internal.
 */

#include <stddef.h>

#include <memcap/client.h>

struct mc_daemon {
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

/*
 * Copy @n bytes of text from the daemon into @out (@size bytes, NUL-terminated, cut at a
 * character boundary when it does not fit): valid UTF-8 except control characters is kept,
 * everything else becomes "\xNN", so that the text can neither forge lines nor send escape
 * sequences to a terminal. Returns @out.
 */
char *mc__daemon_text(const char *s, size_t n, char *out, size_t size);
