/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Opening a file for mapping, for mc_mmap() and mc_map_file() (map.c) and the mapping manager
 * (manager.c). See file-open.c for why it goes in two steps.
 */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include <memcap/error.h>

/* A file opened with O_PATH: its inode, checked, not yet open for I/O. */
typedef struct mc__file {
        int pfd; /* the O_PATH descriptor, or -EBADF */
        struct stat st;
        const char *op;          /* the call, for messages ("mmap '/x': ..."); NULL: "'/x': ..." */
        const char *path;        /* as the caller gave it; borrowed */
        int root_fd;             /* beneath this directory (mc__file_open_beneath()), else -EBADF */
        char resolved[PATH_MAX]; /* MC__FILE_RESOLVE: the real path; "" otherwise */
} mc__file;

enum {
        MC__FILE_REGULAR = 1 << 0, /* regular files only; otherwise block devices too */
        MC__FILE_RESOLVE = 1 << 1, /* find the real path (what the policy's allowed_paths sees) */
};

/*
 * Not an initialiser: zero-filling PATH_MAX bytes on every mmap costs more than its checks.
 * Inline here because both platforms' openers (file-open.c, win/file-open-win.c) start alike.
 */
static inline void mc__file_init(mc__file *f) {
        f->pfd = -EBADF;
        f->op = NULL;
        f->path = NULL;
        f->root_fd = -EBADF;
        f->resolved[0] = 0;
}

/*
 * The first step of both platforms' mc__file_open(): keep the call and the path for the
 * messages, and refuse an empty path.
 */
static inline int mc__file_start(mc__file *f, const char *op, const char *path, mc_error *err) {
        f->op = op;
        f->path = path;
        if (!path || !*path)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "%s: the path is empty",
                                    op);
        return 0;
}

/* Close the O_PATH descriptor; accepts a file that was never opened. */
void mc__file_done(mc__file *f);

/*
 * Open @path with O_PATH and check its type (@flags: MC__FILE_*). @op names the call in the
 * messages. Return: 0, or -errno with @err filled (InvalidArgument for a file of the wrong
 * type or an empty path).
 */
int mc__file_open(mc__file *f, const char *op, const char *path, unsigned flags, mc_error *err);

/*
 * Open @path beneath the directory @root_fd with O_PATH: openat2() with RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS, and RESOLVE_NO_SYMLINKS unless @allow_symlinks; regular files only.
 * A lookup that a rename or mount raced with (EAGAIN) or a signal interrupted (EINTR) is tried
 * again, MC_MANAGER_OPEN_TRIES times in all, then reported as TimedOut. Leaving the root is
 * PermissionDenied (EXDEV), a refused symlink PermissionDenied (ELOOP), a kernel without
 * openat2 Unsupported. Messages name the path only ("'/x': ..."): the manager's callers add
 * the call's name.
 */
int mc__file_open_beneath(mc__file *f, int root_fd, const char *path, bool allow_symlinks,
                          mc_error *err);

/*
 * Open the inode behind @f for I/O (@flags: O_RDONLY or O_RDWR; O_CLOEXEC, O_NOCTTY and
 * O_NONBLOCK are added) through /proc/self/fd, so that it is the very inode that was checked.
 * Without /proc a file opened by path is opened by name again and must still be the same
 * inode (PermissionDenied otherwise). Return: the descriptor, or -errno with @err filled.
 */
int mc__file_reopen(const mc__file *f, int flags, mc_error *err);

/*
 * Open the file behind descriptor @fd again, through /proc/self/fd, with @flags (O_CLOEXEC
 * is added): a descriptor of its own, with the access asked for, not the one @fd has.
 * Return: the descriptor or -errno.
 */
int mc__fd_reopen(int fd, int flags);

/*
 * Whether the pages of a mapping of @fd (described by @st) are memory rather than page cache
 * the kernel can write back and drop (see mc__entry.memory_backed).
 */
bool mc__file_memory_backed(int fd, const struct stat *st);
