/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The system-call seam. Every system call the library makes that can fail in a way a caller
 * must see goes through this table, so tests can replace an entry and force each error path
 * (SQLite's aSyscall[] idea). Production code never changes it. Entries keep the libc calling
 * convention: -1 (or MAP_FAILED) with errno set.
 */

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/types.h>
#include <time.h>

struct open_how;

struct mc_sys {
        void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
        int (*munmap)(void *addr, size_t len);
        int (*mprotect)(void *addr, size_t len, int prot);
        int (*msync)(void *addr, size_t len, int flags);
        void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
        int (*madvise)(void *addr, size_t len, int advice);
        int (*mlock2)(const void *addr, size_t len, unsigned flags);
        int (*munlock)(const void *addr, size_t len);

        int (*open)(const char *path, int flags, mode_t mode);
        int (*openat2)(int dirfd, const char *path, struct open_how *how, size_t size);
        int (*close)(int fd);
        int (*fstat)(int fd, struct stat *st);
        int (*fstatfs)(int fd, struct statfs *st);
        int (*ftruncate)(int fd, off_t len);
        int (*fallocate)(int fd, int mode, off_t off, off_t len);
        ssize_t (*readlink)(const char *path, char *buf, size_t size);
        ssize_t (*write)(int fd, const void *buf, size_t len);
        int (*fdatasync)(int fd);

        int (*shm_open)(const char *name, int flags, mode_t mode);
        int (*shm_unlink)(const char *name);
        int (*memfd_create)(const char *name, unsigned flags);
        int (*add_seals)(int fd, int seals);
        int (*get_seals)(int fd);
        int (*fsetxattr)(int fd, const char *name, const void *value, size_t size, int flags);
        ssize_t (*fgetxattr)(int fd, const char *name, void *value, size_t size);

        int (*sigaction)(int sig, const struct sigaction *act, struct sigaction *old);
        int (*thread_sigmask)(int how, const sigset_t *set, sigset_t *old);
        int (*kill)(pid_t pid, int sig);
        int (*sigqueue)(pid_t pid, int sig, const union sigval value);
        int (*pidfd_send_signal)(int pidfd, int sig, siginfo_t *info, unsigned flags);
        int (*sigtimedwait)(const sigset_t *set, siginfo_t *info, const struct timespec *timeout);
        int (*tgkill)(pid_t tgid, pid_t tid, int sig);
        int (*signalfd)(int fd, const sigset_t *mask, int flags);
        int (*eventfd)(unsigned initval, int flags);
        ssize_t (*read)(int fd, void *buf, size_t len);

        /* futex(2) without the unused arguments (FUTEX_WAIT, FUTEX_WAKE); returns as syscall(2). */
        long (*futex)(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout);
};

/* The table the library calls through. */
extern struct mc_sys mc_sys;

/* Put every entry back to the real system call (tests call it in .fini). */
void mc__sys_reset(void);
