/* SPDX-License-Identifier: MIT */
#pragma once

#ifdef _WIN32
/* The Windows seam: the same idea and entry names, Windows calls behind them. */
#include "win/sys-win.h"
#else

/*
 * The system-call seam. Every system call the library makes that can fail in a way a caller
 * must see goes through this table, so tests can replace an entry and force each error path
 * (SQLite's aSyscall[] idea). Production code never changes it. Entries keep the libc calling
 * convention: -1 (or MAP_FAILED) with errno set. The small files of /proc go through it too,
 * read by mc__proc_read() (procfs.c).
 *
 * What stays outside, and why:
 *
 * Signal context. Only async-signal-safe calls may run there, and a test's replacement entry
 * must never run inside a signal handler or a fork child:
 * - guard.c on_fault(): sigaction() back to the default and raise(), to hand a fault that is
 *   not memcap's to the disposition it would have had;
 * - signal-forward.c forward(): rt_tgsigqueueinfo(2) and nanosleep() between its retries;
 * - the fork child handlers: signal.c mc__signal_fork_child() (sigaction() restoring the
 *   dispositions memcap replaced, pthread_sigmask(), prctl(PR_SET_NAME)), the getpid() of
 *   signal-forward.c mc__sigfwd_fork_child() and of ctx.c child_fixup().
 *
 * memcap's dispatcher thread. It runs beside the application while tests swap entries from
 * their own thread, and none of its failures reaches a caller (an instance is retried, passed
 * on or counted lost in mc_signal_stats()): signal.c dispatcher_main() (gettid, poll(), the
 * reads of its eventfd and signalfd), own_pending() (/proc/thread-self/status),
 * flush_unwatched() (sigtimedwait()) and deliver() (write() to a context's eventfd).
 *
 * memcap's userfaultfd threads (uffd.c): their poll() of the userfaultfd and the stop eventfd,
 * the eventfd write that stops them, and pthread_sigmask() around their creation (fails only
 * for an invalid "how"), whose failures no caller sees; the ioctls that serve
 * a fault go through the table (uffd_ioctl), so a test can make the kernel refuse them.
 *
 * A signal's default action acted out. signal.c terminate_by() and pass_on(), on the
 * dispatcher or in mc_signal_dispatch(), end or stop the process as the kernel would have
 * (sigaction() to the default, pthread_sigmask(), tgkill(), kill(SIGSTOP)): that must happen
 * whatever a test put into the table, and has no caller to report to.
 *
 * Calls that cannot fail, or whose failure is no error a caller could see:
 * - getpid(), getuid(), geteuid(), getpgrp() (ctx.c, signal-ops.c): cannot fail;
 * - clock_gettime() of CLOCK_REALTIME and CLOCK_MONOTONIC (audit.c, signal.c mc__now_ns()):
 *   cannot fail for those clocks, and is no system call (vDSO) on every audit record;
 * - sysconf(_SC_PAGESIZE) (map.c): read from the auxiliary vector, no system call;
 * - getrandom() (signal-forward.c): falls back to the kernel's AT_RANDOM bytes;
 * - close() in safe_close() (util/macro.h): Linux releases the descriptor whatever close()
 *   returns, so nothing can be done about its error; util/ depends on nothing, not the seam;
 * - signal.c: pthread_sigmask() around the dispatcher's creation and for MC_SIGNAL_BLOCK, and
 *   sigaction() restoring the disposition memcap saved, fail only for an invalid signal or
 *   "how"; signalfd() resetting the watched set (unwatch()) only for an invalid descriptor or
 *   mask; the eventfd write that wakes the dispatcher and the read that resets a context's
 *   counter (mc_signal_dispatch()) only with EAGAIN, which means nothing was pending;
 * - syslog(), openlog(), closelog() (audit-sink.c): report no error at all;
 * - channel-wait.c: sysconf(_SC_NPROCESSORS_ONLN) and sched_getaffinity() only choose how a
 *   waiting side spins (a failure means "spin as on many CPUs"), and sched_yield() cannot fail
 *   on Linux.
 */

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/types.h>
#include <time.h>

struct open_how;
struct msghdr;
struct sockaddr;

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
        ssize_t (*read)(int fd, void *buf, size_t len);
        int (*stat)(const char *path, struct stat *st);
        int (*dupfd)(int fd, int min); /* fcntl(F_DUPFD_CLOEXEC) */
        int (*getfl)(int fd);          /* fcntl(F_GETFL) */
        int (*setfl)(int fd, int fl);  /* fcntl(F_SETFL) */
        int (*openat2)(int dirfd, const char *path, struct open_how *how, size_t size);
        int (*close)(int fd);
        int (*fstat)(int fd, struct stat *st);
        int (*fstatfs)(int fd, struct statfs *st);
        int (*ftruncate)(int fd, off_t len);
        int (*fallocate)(int fd, int mode, off_t off, off_t len);
        ssize_t (*readlink)(const char *path, char *buf, size_t size);
        char *(*realpath)(const char *path, char *resolved);
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

        /* The memcapd client (client.c): its connection's socket. */
        int (*socket)(int domain, int type, int protocol);
        int (*connect)(int fd, const struct sockaddr *addr, unsigned addrlen);
        ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
        ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);

        /* futex(2) without the unused arguments (FUTEX_WAIT, FUTEX_WAKE); returns as syscall(2). */
        long (*futex)(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout);

        /* userfaultfd and NUMA (uffd.c): Linux only; keep these together. */
        int (*userfaultfd)(int flags);                               /* userfaultfd(2) */
        int (*uffd_ioctl)(int fd, unsigned long request, void *arg); /* UFFDIO_* on its fd */
        long (*mbind)(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
                      unsigned long maxnode, unsigned flags);
        long (*get_mempolicy)(int *mode, unsigned long *nodemask, unsigned long maxnode, void *addr,
                              unsigned long flags);
        long (*move_pages)(int pid, unsigned long count, void **pages, const int *nodes,
                           int *status, int flags);
};

/* The table the library calls through. */
extern struct mc_sys mc_sys;

/* Put every entry back to the real system call (tests call it in .fini). */
void mc__sys_reset(void);

#endif /* !_WIN32 */
