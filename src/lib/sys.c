/* SPDX-License-Identifier: MIT */
/*
 * The system-call seam: the table of real calls the library makes. Tests swap entries to force
 * failures; see sys.h.
 */

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sys.h"

static int sys_open(const char *path, int flags, mode_t mode) {
        return open(path, flags, mode);
}

static int sys_openat2(int dirfd, const char *path, struct open_how *how, size_t size) {
        return (int) syscall(SYS_openat2, dirfd, path, how, size);
}

static int sys_dupfd(int fd, int min) {
        return fcntl(fd, F_DUPFD_CLOEXEC, min);
}

static int sys_getfl(int fd) {
        return fcntl(fd, F_GETFL);
}

static int sys_setfl(int fd, int fl) {
        return fcntl(fd, F_SETFL, fl);
}

static int sys_add_seals(int fd, int seals) {
        return fcntl(fd, F_ADD_SEALS, seals);
}

static int sys_get_seals(int fd) {
        return fcntl(fd, F_GET_SEALS);
}

static int sys_sigmask(int how, const sigset_t *set, sigset_t *old) {
        /* pthread_sigmask returns the error instead of setting errno. */
        int r = pthread_sigmask(how, set, old);
        if (r != 0) {
                errno = r;
                return -1;
        }
        return 0;
}

static int sys_pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned flags) {
        return (int) syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

static int sys_tgkill(pid_t tgid, pid_t tid, int sig) {
        return (int) syscall(SYS_tgkill, tgid, tid, sig);
}

static int sys_eventfd(unsigned initval, int flags) {
        return eventfd(initval, flags);
}

static long sys_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout) {
        return syscall(SYS_futex, uaddr, op, val, timeout, NULL, 0);
}

/* ---- userfaultfd and NUMA: Linux only; keep these together ---- */

static int sys_userfaultfd(int flags) {
        return (int) syscall(SYS_userfaultfd, flags);
}

static int sys_uffd_ioctl(int fd, unsigned long request, void *arg) {
        return ioctl(fd, request, arg);
}

static long sys_mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
                      unsigned long maxnode, unsigned flags) {
        return syscall(SYS_mbind, addr, len, mode, nodemask, maxnode, flags);
}

static long sys_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode, void *addr,
                              unsigned long flags) {
        return syscall(SYS_get_mempolicy, mode, nodemask, maxnode, addr, flags);
}

static long sys_move_pages(int pid, unsigned long count, void **pages, const int *nodes,
                           int *status, int flags) {
        return syscall(SYS_move_pages, pid, count, pages, nodes, status, flags);
}

#define REAL_SYS_UFFD                                                                              \
        .userfaultfd = sys_userfaultfd, .uffd_ioctl = sys_uffd_ioctl, .mbind = sys_mbind,          \
        .get_mempolicy = sys_get_mempolicy, .move_pages = sys_move_pages,

/* ---- end of the userfaultfd and NUMA block ---- */

static int sys_connect(int fd, const struct sockaddr *addr, unsigned addrlen) {
        return connect(fd, addr, (socklen_t) addrlen);
}

static void *sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr) {
        return mremap(old, old_len, new_len, flags, new_addr);
}

/* One initialiser for both tables: C cannot initialise a global from another object. */
#define REAL_SYS                                                                                   \
        {                                                                                          \
                .mmap = mmap, .munmap = munmap, .mprotect = mprotect, .msync = msync,              \
                .mremap = sys_mremap, .madvise = madvise, .mlock2 = mlock2, .munlock = munlock,    \
                .open = sys_open, .read = read, .stat = stat, .dupfd = sys_dupfd,                  \
                .getfl = sys_getfl, .setfl = sys_setfl, .openat2 = sys_openat2, .close = close,    \
                .fstat = fstat, .fstatfs = fstatfs, .ftruncate = ftruncate,                        \
                .fallocate = fallocate, .readlink = readlink, .realpath = realpath,                \
                .write = write, .fdatasync = fdatasync, .shm_open = shm_open,                      \
                .shm_unlink = shm_unlink, .memfd_create = memfd_create,                            \
                .add_seals = sys_add_seals, .get_seals = sys_get_seals, .fsetxattr = fsetxattr,    \
                .fgetxattr = fgetxattr, .sigaction = sigaction, .thread_sigmask = sys_sigmask,     \
                .kill = kill, .sigqueue = sigqueue, .pidfd_send_signal = sys_pidfd_send_signal,    \
                .sigtimedwait = sigtimedwait, .tgkill = sys_tgkill, .signalfd = signalfd,          \
                .eventfd = sys_eventfd, .socket = socket, .connect = sys_connect,                  \
                .sendmsg = sendmsg, .recvmsg = recvmsg, .futex = sys_futex, REAL_SYS_UFFD          \
        }

static const struct mc_sys real = REAL_SYS;

struct mc_sys mc_sys = REAL_SYS;

void mc__sys_reset(void) {
        mc_sys = real;
}
