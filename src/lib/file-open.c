/* SPDX-License-Identifier: MIT */
/*
 * Opening a file for mapping. A file is first opened with O_PATH: that has no side effects (a
 * FIFO does not block, a device is not opened), lets us check its type and resolve the real
 * path the policy judges, and only after the policy allowed the call is the very same inode
 * opened for I/O through /proc/self/fd, so a rename or symlink swap in between cannot redirect
 * the mapping. The mapping manager opens beneath its root with openat2(), which refuses ".."
 * and symlinks out of the root in the kernel, during the lookup itself. Every system call goes
 * through the mc_sys seam.
 *
 * Sections: naming files in messages, opening, beneath a root, reopening, what the pages are.
 */

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/vfs.h>

#include "file-open.h"
#include "internal.h"

/* ---- naming files in messages ---------------------------------------------------------------- */

/*
 * "mmap '/x'" for the library's calls; "'/x'", cut to 200 bytes so that the reason still fits
 * the message, for the manager's, whose callers add the call's name. Error paths only.
 */
static const char *name_of(const mc__file *f, char *buf, size_t size) {
        if (f->op)
                snprintf(buf, size, "%s '%s'", f->op, f->path);
        else
                snprintf(buf, size, "'%.200s'", f->path);
        return buf;
}

static const char *type_name(mode_t mode) {
        return S_ISDIR(mode)    ? "directory"
               : S_ISFIFO(mode) ? "FIFO"
               : S_ISSOCK(mode) ? "socket"
               : S_ISCHR(mode)  ? "character device"
                                : "block device";
}

/* ---- opening --------------------------------------------------------------------------------- */

void mc__file_done(mc__file *f) {
        f->pfd = safe_close(f->pfd);
}

/* fstat the O_PATH descriptor and check the type. */
static int check_type(mc__file *f, bool regular_only, mc_error *err) {
        char name[MC_ERROR_MESSAGE_MAX];

        if (mc_sys.fstat(f->pfd, &f->st) < 0)
                return mc__error_errno(err, errno, "%s: fstat", name_of(f, name, sizeof(name)));
        if (S_ISREG(f->st.st_mode) || (!regular_only && S_ISBLK(f->st.st_mode)))
                return 0;
        /* The manager's replies keep the short form its clients know. */
        if (!f->op)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "%s: not a regular file",
                                     name_of(f, name, sizeof(name)));
        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                             "%s: not a regular file%s (it is a %s)",
                             name_of(f, name, sizeof(name)), regular_only ? "" : " or block device",
                             type_name(f->st.st_mode));
}

/* The real path of @f, for the policy's allowed_paths. */
static int resolve(mc__file *f, mc_error *err) {
        char proc[64], name[MC_ERROR_MESSAGE_MAX];
        ssize_t n;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->pfd);
        n = mc_sys.readlink(proc, f->resolved, sizeof(f->resolved) - 1);
        if (n > 0 && f->resolved[0] == '/') {
                f->resolved[n] = 0;
                return 0;
        }
        if (mc_sys.realpath(f->path, f->resolved))
                return 0;
        /* Without /proc and without a resolvable path the policy cannot judge it. */
        return mc__error_errno(err, errno, "%s: resolving the path",
                               name_of(f, name, sizeof(name)));
}

int mc__file_open(mc__file *f, const char *op, const char *path, unsigned flags, mc_error *err) {
        char name[MC_ERROR_MESSAGE_MAX];
        int r;

        r = mc__file_start(f, op, path, err);
        if (r < 0)
                return r;
        f->pfd = mc_sys.open(path, O_PATH | O_CLOEXEC, 0);
        if (f->pfd < 0)
                return mc__error_errno(err, errno, "%s", name_of(f, name, sizeof(name)));
        r = check_type(f, flags & MC__FILE_REGULAR, err);
        if (r < 0)
                return r;
        return flags & MC__FILE_RESOLVE ? resolve(f, err) : 0;
}

/* ---- beneath a root -------------------------------------------------------------------------- */

/* Why openat2() beneath the root failed for good (@e), also after every retry ran out. */
static int beneath_error(const mc__file *f, int e, bool allow_symlinks, mc_error *err) {
        char name[MC_ERROR_MESSAGE_MAX];

        name_of(f, name, sizeof(name));
        switch (e) {
        case EAGAIN:
                return mc__error_set(err, MC_ERR_TIMED_OUT, EAGAIN,
                                     "%s: the path kept changing while it was resolved (a "
                                     "rename or mount in the root raced with all %d tries); "
                                     "try again",
                                     name, MC_MANAGER_OPEN_TRIES);
        case EINTR:
                return mc__error_set(err, MC_ERR_TIMED_OUT, EINTR,
                                     "%s: opening was interrupted by a signal in all %d tries; "
                                     "try again",
                                     name, MC_MANAGER_OPEN_TRIES);
        case EXDEV:
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EXDEV,
                                     "%s: the path leads out of the root", name);
        case ELOOP:
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, ELOOP,
                                     "%s: the path goes through a symlink%s", name,
                                     allow_symlinks ? " loop or a magic link"
                                                    : " (symlinks are not allowed)");
        case ENOSYS:
                return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                                     "openat2 is not available (Linux 5.6 or later needed)");
        default:
                return mc__error_errno(err, e, "%s", name);
        }
}

/*
 * A rename or mount anywhere in the root during the lookup makes openat2() fail with EAGAIN
 * rather than risk a wrong answer, and a signal may interrupt it: both are tried again a few
 * times before they are reported, as TimedOut, because only the retries ran out (never as
 * OutOfMemory or Io, which errno alone would suggest).
 */
int mc__file_open_beneath(mc__file *f, int root_fd, const char *path, bool allow_symlinks,
                          mc_error *err) {
        struct open_how how = {0};
        const char *rel = path;
        int e = 0;

        f->op = NULL;
        f->path = path;
        f->root_fd = root_fd;
        while (*rel == '/')
                rel++;
        if (!*rel)
                rel = ".";
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                      (allow_symlinks ? 0 : RESOLVE_NO_SYMLINKS);
        for (int i = 0; i < MC_MANAGER_OPEN_TRIES; i++) {
                f->pfd = mc_sys.openat2(root_fd, rel, &how, sizeof(how));
                if (f->pfd >= 0)
                        return check_type(f, /* regular_only= */ true, err);
                e = errno;
                if (e != EAGAIN && e != EINTR)
                        break;
        }
        return beneath_error(f, e, allow_symlinks, err);
}

/* ---- reopening ------------------------------------------------------------------------------- */

int mc__fd_reopen(int fd, int flags) {
        char proc[64];
        int r;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        r = mc_sys.open(proc, flags | O_CLOEXEC, 0);
        return r < 0 ? -errno : r;
}

int mc__file_reopen(const mc__file *f, int flags, mc_error *err) {
        char name[MC_ERROR_MESSAGE_MAX];
        struct stat st;
        int fd;

        flags |= O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
        fd = mc__fd_reopen(f->pfd, flags);
        if (fd == -ENOENT && f->root_fd < 0) {
                /* No /proc: open by name and make sure it is still the same file. */
                fd = mc_sys.open(f->path, flags, 0);
                if (fd < 0)
                        fd = -errno;
                else if (mc_sys.fstat(fd, &st) < 0 || st.st_dev != f->st.st_dev ||
                         st.st_ino != f->st.st_ino) {
                        safe_close(fd);
                        return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EPERM,
                                             "%s: the file was replaced while it was being opened",
                                             name_of(f, name, sizeof(name)));
                }
        }
        if (fd < 0)
                return mc__error_errno(
                        err, -fd, "%s: opening for %s", name_of(f, name, sizeof(name)),
                        (flags & O_ACCMODE) == O_RDWR ? "reading and writing" : "reading");
        return fd;
}

/* ---- what the pages are ---------------------------------------------------------------------- */

/*
 * Files on tmpfs (also memfds and POSIX shared memory), hugetlbfs and ramfs are memory: even
 * reading a hole of a tmpfs file through a mapping allocates a page. Block devices are page
 * cache. Anything else (a character device, a file system that cannot say what it is) counts
 * as memory: overcounting only refuses, undercounting would let memory past the quota.
 */
bool mc__file_memory_backed(int fd, const struct stat *st) {
        struct statfs sfs;

        if (S_ISBLK(st->st_mode))
                return false;
        if (!S_ISREG(st->st_mode) || mc_sys.fstatfs(fd, &sfs) < 0)
                return true;
        return sfs.f_type == TMPFS_MAGIC || sfs.f_type == HUGETLBFS_MAGIC ||
               sfs.f_type == RAMFS_MAGIC;
}
