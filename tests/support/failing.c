/* SPDX-License-Identifier: MIT */
/* System calls that fail with failing_errno (failing.h). */

#include "failing.h"

#include <errno.h>

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
