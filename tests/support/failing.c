/* SPDX-License-Identifier: MIT */
/* System calls that fail with failing_errno (failing.h). */

#include "failing.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

/* A stand-in for a system call that fails takes the call's arguments and has no use for them. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

int failing_errno = EPERM;

static int fail(void) {
        errno = failing_errno;
        return -1;
}

int failing_open(const char *path, int flags, mode_t mode) {
        return fail();
}

int failing_sigaction(int signo, const struct sigaction *act, struct sigaction *old) {
        return fail();
}

int failing_sigmask(int how, const sigset_t *set, sigset_t *old) {
        return fail();
}

int failing_kill(pid_t pid, int signo) {
        return fail();
}

int failing_sigqueue(pid_t pid, int signo, const union sigval v) {
        return fail();
}

int failing_pidfd_send(int pidfd, int signo, siginfo_t *info, unsigned flags) {
        return fail();
}

int failing_tgkill(pid_t tgid, pid_t tid, int signo) {
        return fail();
}

int failing_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts) {
        return fail();
}

int failing_signalfd(int fd, const sigset_t *mask, int flags) {
        return fail();
}

int failing_eventfd(unsigned initval, int flags) {
        return fail();
}

long failing_mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
                   unsigned long maxnode, unsigned flags) {
        return fail();
}

long failing_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode, void *addr,
                           unsigned long flags) {
        return fail();
}

void *failing_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        fail();
        return MAP_FAILED;
}

void *failing_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr) {
        fail();
        return MAP_FAILED;
}

int failing_munmap(void *addr, size_t len) {
        return fail();
}

int failing_mprotect(void *addr, size_t len, int prot) {
        return fail();
}

int failing_msync(void *addr, size_t len, int flags) {
        return fail();
}

int failing_madvise(void *addr, size_t len, int advice) {
        return fail();
}

int failing_mlock2(const void *addr, size_t len, unsigned flags) {
        return fail();
}

int failing_munlock(const void *addr, size_t len) {
        return fail();
}

int failing_shm_open(const char *name, int flags, mode_t mode) {
        return fail();
}

int failing_memfd_create(const char *name, unsigned flags) {
        return fail();
}

int failing_fstat(int fd, struct stat *st) {
        return fail();
}

int failing_fallocate(int fd, int mode, off_t off, off_t len) {
        return fail();
}

int failing_ftruncate(int fd, off_t len) {
        return fail();
}

int failing_add_seals(int fd, int seals) {
        return fail();
}

int failing_get_seals(int fd) {
        return fail();
}

ssize_t failing_read(int fd, void *buf, size_t len) {
        return fail();
}

int failing_dupfd(int fd, int min) {
        return fail();
}

ssize_t failing_readlink(const char *path, char *buf, size_t size) {
        return fail();
}

char *failing_realpath(const char *path, char *resolved) {
        fail();
        return NULL;
}
