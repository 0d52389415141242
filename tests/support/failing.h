/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * System calls that fail, to force the library's error paths: point a member of mc_sys at one
 * (mc_test_fini() puts the seam back) and set failing_errno to the errno it fails with. Each
 * ignores its arguments, sets errno to failing_errno and returns what the call it stands for
 * returns on failure (-1; MAP_FAILED for the mmap family, NULL for realpath); one copy here
 * instead of one per suite.
 */

#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The errno every failing_*() call fails with; EPERM until a test sets it. */
extern int failing_errno;

int failing_open(const char *path, int flags, mode_t mode);
int failing_sigaction(int signo, const struct sigaction *act, struct sigaction *old);
int failing_sigmask(int how, const sigset_t *set, sigset_t *old);
int failing_kill(pid_t pid, int signo);
int failing_sigqueue(pid_t pid, int signo, const union sigval v);
int failing_pidfd_send(int pidfd, int signo, siginfo_t *info, unsigned flags);
int failing_tgkill(pid_t tgid, pid_t tid, int signo);
int failing_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts);
int failing_signalfd(int fd, const sigset_t *mask, int flags);
int failing_eventfd(unsigned initval, int flags);
long failing_mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
                   unsigned long maxnode, unsigned flags);
long failing_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode, void *addr,
                           unsigned long flags);

void *failing_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *failing_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
int failing_munmap(void *addr, size_t len);
int failing_mprotect(void *addr, size_t len, int prot);
int failing_msync(void *addr, size_t len, int flags);
int failing_madvise(void *addr, size_t len, int advice);
int failing_mlock2(const void *addr, size_t len, unsigned flags);
int failing_munlock(const void *addr, size_t len);
int failing_shm_open(const char *name, int flags, mode_t mode);
int failing_memfd_create(const char *name, unsigned flags);
int failing_fstat(int fd, struct stat *st);
int failing_fallocate(int fd, int mode, off_t off, off_t len);
int failing_ftruncate(int fd, off_t len);
int failing_add_seals(int fd, int seals);
int failing_get_seals(int fd);
ssize_t failing_read(int fd, void *buf, size_t len);
int failing_dupfd(int fd, int min);
ssize_t failing_readlink(const char *path, char *buf, size_t size);
char *failing_realpath(const char *path, char *resolved);
