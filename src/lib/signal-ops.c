/* SPDX-License-Identifier: MIT */
/*
 * The core.signal operations that need no dispatcher: the calling thread's mask, sending
 * (kill, sigqueue, pidfd_send_signal), raise, and timed waits. Each runs through the choke
 * point; send decides on the target's relation to the caller, read from /proc.
 *
 * Sections: mask, send/raise, wait.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "internal.h"

#define MAXSIG 64

/* ---- mask ----------------------------------------------------------------------------------- */

static int sigset_to_sys(const char *op, const mc_sigset *in, bool refuse_kill, sigset_t *out,
                         mc_error *err) {
        char name[16];

        sigemptyset(out);
        for (int s = 1; s <= MAXSIG; s++) {
                if (!mc_sigset_has(in, s))
                        continue;
                /* Also the C library's own signals (32, 33 in glibc): sigaddset() would drop
                 * them silently, and a wait for nothing else would wait for nothing. */
                if (s > SIGRTMAX || !mc_signal_name(s, name, sizeof(name)))
                        return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL,
                                             "%s: %d is not a signal of this system (1..%d)", op, s,
                                             SIGRTMAX);
                if (refuse_kill && (s == SIGKILL || s == SIGSTOP))
                        return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL,
                                             "%s: %s cannot be blocked or waited for", op,
                                             s == SIGKILL ? "SIGKILL" : "SIGSTOP");
                sigaddset(out, s);
        }
        return 0;
}

/* Only signals sigset_to_sys() takes back, so a mask from mc_signal_mask() round-trips. */
static void sigset_from_sys(const sigset_t *in, mc_sigset *out) {
        char name[16];

        out->bits = 0;
        for (int s = 1; s <= MAXSIG && s <= SIGRTMAX; s++)
                if (sigismember(in, s) == 1 && mc_signal_name(s, name, sizeof(name)))
                        mc_sigset_add(out, s);
}

typedef struct mask_args {
        sigset_t set;
        int how;
        mc_sigset *ret_previous;
} mask_args;

static int mask_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        mask_args *a = data;
        sigset_t old;

        (void) ctx;
        if (mc_sys.thread_sigmask(a->how, &a->set, &old) < 0)
                return mc__error_errno(err, errno, "%s", mc_op_name(c->op));
        if (a->ret_previous)
                sigset_from_sys(&old, a->ret_previous);
        return 0;
}

static const mc__steps mask_steps = {.syscall = mask_syscall, .flags = MC__RUN_UNLOCKED};

/* The set, converted into @a. */
static int mask_check(mc_op op, const mc_sigset *set, int how, mask_args *a, mc_error *err) {
        if (!set)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: the set must not be NULL", mc_op_name(op));
        return sigset_to_sys(mc_op_name(op), set, how == SIG_BLOCK, &a->set, err);
}

static int mask_common(mc_op op, mc_ctx *ctx, const mc_sigset *set, int how,
                       mc_sigset *ret_previous, mc_error *err) {
        mask_args a = {.how = how, .ret_previous = ret_previous};
        MC__ERROR_LOCAL(e);
        mc__call c;
        int r;

        mc__call_init(&c, op, MC__CAP_SIGNAL);
        if (set) {
                c.fields = MC__F_SIGSET;
                c.req.sigset = set->bits;
        }
        r = mask_check(op, set, how, &a, &e);
        return mc__ctx_run(ctx, &c, r, &e, &mask_steps, &a, err);
}

int mc_signal_mask(mc_ctx *ctx, const mc_sigset *set, mc_sigset *ret_previous, mc_error *err) {
        return mask_common(MC_OP_SIGNAL_MASK, ctx, set, SIG_BLOCK, ret_previous, err);
}

int mc_signal_unmask(mc_ctx *ctx, const mc_sigset *previous, mc_error *err) {
        return mask_common(MC_OP_SIGNAL_UNMASK, ctx, previous, SIG_SETMASK, NULL, err);
}

/* ---- send / raise ---------------------------------------------------------------------------- */

/* Fields 4 (ppid) and 5 (pgrp) of /proc/PID/stat; the name before them may hold anything. */
static bool proc_stat(pid_t pid, pid_t *ppid, pid_t *pgrp) {
        char path[64], buf[1024], *p;
        long a, b;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (mc__proc_read(path, buf, sizeof(buf)) <= 0)
                return false;
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %ld %ld", &a, &b) != 2)
                return false;
        *ppid = (pid_t) a;
        *pgrp = (pid_t) b;
        return true;
}

/*
 * How the process @pid is related to this one (self excepted), computed only as far as @want
 * needs: the policy asks for one match, and reading /proc is most of the cost of a send. When
 * nothing in @want matches, every class is computed, so a denial can name the rule to add.
 * Cheapest first: same_uid is one stat(2) of /proc/PID (owned by the process's effective uid),
 * children and process_group a read of /proc/PID/stat, which also gives *@ret_pgrp, the
 * process's group (0 when not read; always read when @ret_pgrp is non-NULL). *@ret_gone is set
 * when the process does not exist.
 */
static unsigned relation(pid_t pid, unsigned want, pid_t *ret_pgrp, bool *ret_gone) {
        bool have_uid = false;
        pid_t ppid, pgrp;
        unsigned cls = 0;
        char path[32];
        struct stat st;

        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        if (want & MC_TARGET_SAME_UID) {
                if (mc_sys.stat(path, &st) < 0) {
                        *ret_gone = errno == ENOENT;
                        return 0;
                }
                have_uid = true;
                if (st.st_uid == getuid() || st.st_uid == geteuid())
                        cls |= MC_TARGET_SAME_UID;
                if ((cls & want) && !ret_pgrp)
                        return cls;
        }
        if (proc_stat(pid, &ppid, &pgrp)) {
                if (ret_pgrp)
                        *ret_pgrp = pgrp;
                if (ppid == getpid())
                        cls |= MC_TARGET_CHILDREN;
                if (pgrp == getpgrp())
                        cls |= MC_TARGET_PROCESS_GROUP;
        } else if (mc_sys.stat(path, &st) < 0 && errno == ENOENT) {
                *ret_gone = true;
                return 0;
        }
        if (!have_uid && !(cls & want) && mc_sys.stat(path, &st) == 0 &&
            (st.st_uid == getuid() || st.st_uid == geteuid()))
                cls |= MC_TARGET_SAME_UID;
        return cls;
}

/*
 * The kind and classes of the target @pid as the policy judges it (policy.h, mc_signal_target):
 * a whole group is judged by its leader, pid 1 and the broadcast are kinds of their own.
 * *@ret_gone is set when the one process addressed does not exist.
 */
static unsigned target_classes(pid_t pid, unsigned want, bool *ret_gone) {
        pid_t self = getpid(), group, pgrp = 0;
        unsigned cls, lead;
        bool gone = false;

        *ret_gone = false;
        if (pid == -1)
                return MC_TARGET_BROADCAST;
        if (pid == self)
                return MC_TARGET_SELF | MC_TARGET_PROCESS_GROUP | MC_TARGET_SAME_UID;
        if (pid == 1)
                return MC_TARGET_INIT;
        if (pid > 0)
                return want & MC_TARGET_ANY ? 0 : relation(pid, want, NULL, ret_gone);

        group = pid == 0 ? getpgrp() : -pid;
        cls = MC_TARGET_WHOLE_GROUP;
        if (group == 1)
                cls |= MC_TARGET_INIT;
        if (group == getpgrp())
                return cls | MC_TARGET_PROCESS_GROUP | (group == self ? MC_TARGET_SELF : 0);
        if (want & MC_TARGET_ANY)
                return cls;
        /* Another group: its leader's relation, if the leader still leads it. A group without
         * one is judged by "any" alone, and kill(2) says whether it exists. */
        lead = relation(group, want, &pgrp, &gone);
        if (!gone && pgrp == group)
                cls |= lead;
        return cls;
}

/*
 * The pid behind a pidfd (fdinfo "Pid:"): 0 when it is in a pid namespace we cannot see, -1
 * when the process has exited. -EBADF when @pidfd is not a pidfd.
 */
static int pidfd_pid(int pidfd, pid_t *ret) {
        char path[64], buf[1024];
        const char *line;
        long pid;

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        if (mc__proc_read(path, buf, sizeof(buf)) <= 0 || !(line = strstr(buf, "\nPid:")) ||
            sscanf(line + 1, "Pid: %ld", &pid) != 1)
                return -EBADF;
        *ret = (pid_t) pid;
        return 0;
}

typedef struct send_args {
        pid_t pid;
        int pidfd;
        int signo;
        const mc_signal_payload *payload;
        bool raise;
} send_args;

static bool has_payload(const mc_signal_payload *p) {
        return p && p->kind != MC_PAYLOAD_NONE;
}

static union sigval sigval_of(const mc_signal_payload *p) {
        union sigval v;

        memset(&v, 0, sizeof(v));
        if (p->kind == MC_PAYLOAD_USER_DATA)
                v.sival_int = p->user_data;
        else
                v.sival_ptr = (void *) (uintptr_t) p->real_time;
        return v;
}

static int send_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        send_args *a = data;
        const char *op = mc_op_name(c->op);
        char name[16];
        int r, e;

        (void) ctx;
        if (!mc_signal_name(a->signo, name, sizeof(name)))
                snprintf(name, sizeof(name), "%d", a->signo);
        if (a->raise) {
                bool registered = mc__signal_registered(a->signo);

                /* With a memcap handler the dispatcher takes it: send it to the process so a
                 * caller that blocks it (MC_SIGNAL_BLOCK) does not keep it pending forever. */
                r = registered ? mc_sys.kill(getpid(), a->signo)
                               : mc_sys.tgkill(getpid(), (pid_t) syscall(SYS_gettid), a->signo);
        } else if (a->pidfd >= 0) {
                siginfo_t si, *sip = NULL;

                if (has_payload(a->payload)) {
                        memset(&si, 0, sizeof(si));
                        si.si_signo = a->signo;
                        si.si_code = SI_QUEUE;
                        si.si_pid = getpid();
                        si.si_uid = getuid();
                        si.si_value = sigval_of(a->payload);
                        sip = &si;
                }
                r = mc_sys.pidfd_send_signal(a->pidfd, a->signo, sip, 0);
        } else if (has_payload(a->payload)) {
                r = mc_sys.sigqueue(a->pid, a->signo, sigval_of(a->payload));
        } else {
                r = mc_sys.kill(a->pid, a->signo);
        }
        if (r == 0)
                return 0;
        e = errno;
        if (e == ESRCH)
                return mc__error_set(
                        err, MC_ERR_NOT_FOUND, ESRCH, "%s %s to %s %d: no such process", op, name,
                        a->pidfd >= 0 ? "pidfd" : "pid", a->pidfd >= 0 ? a->pidfd : (int) a->pid);
        if (e == EAGAIN)
                return mc__error_set(err, MC_ERR_OUT_OF_MEMORY, EAGAIN,
                                     "%s %s to pid %d: the target's signal queue is full "
                                     "(RLIMIT_SIGPENDING)",
                                     op, name, (int) a->pid);
        if (e == ENOSYS)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                                     "%s %s: pidfd_send_signal is not available on this kernel", op,
                                     name);
        return mc__error_errno(err, e, "%s %s to %s %d", op, name, a->pidfd >= 0 ? "pidfd" : "pid",
                               a->pidfd >= 0 ? a->pidfd : (int) a->pid);
}

/* Classify the target against the policy in force (context lock held). */
static int send_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        send_args *a = data;
        bool gone = false;

        if (c->op == MC_OP_SIGNAL_RAISE) {
                c->target_classes = MC_TARGET_SELF;
                return 0;
        }
        if (c->req.target == 0 && a->pidfd >= 0)
                return 0; /* a pidfd of a process outside our pid namespace: no class fits */
        c->target_classes =
                target_classes(c->req.target, mc_policy_signal_targets(mc__ctx_policy(ctx)), &gone);
        if (gone)
                return mc__error_set(err, MC_ERR_NOT_FOUND, ESRCH,
                                     "signal_send to pid %d: no such process", (int) c->req.target);
        return 0;
}

static const mc__steps send_steps = {
        .prepare = send_prepare, .syscall = send_syscall, .flags = MC__RUN_UNLOCKED};

/* The signal's and the payload's own rules. */
static int send_check(mc_op op, pid_t pid, int pidfd, int signo, const mc_signal_payload *payload,
                      mc_error *err) {
        int r;

        /* Signal 0 is kill(2)'s existence and permission check; raising it means nothing. */
        if (signo != 0 || op != MC_OP_SIGNAL_SEND) {
                r = mc__signal_check(mc_op_name(op), signo, err);
                if (r < 0)
                        return r;
        }
        if (!has_payload(payload))
                return 0;
        if (payload->kind != MC_PAYLOAD_USER_DATA && payload->kind != MC_PAYLOAD_REAL_TIME)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: unknown payload kind %d", mc_op_name(op),
                                     (int) payload->kind);
        if (pidfd < 0 && pid <= 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: a payload needs one process (pid > 0), not a group "
                                     "(%d)",
                                     mc_op_name(op), (int) pid);
        return 0;
}

/* The process behind @pidfd: what the policy's target rule and the audit record see. */
static int pidfd_target(int pidfd, pid_t *ret, mc_error *err) {
        if (pidfd_pid(pidfd, ret) < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "signal_send: descriptor %d is not a pidfd", pidfd);
        if (*ret < 0)
                return mc__error_set(err, MC_ERR_NOT_FOUND, ESRCH,
                                     "signal_send: the process of pidfd %d has exited", pidfd);
        return 0;
}

static int send_common(mc_op op, mc_ctx *ctx, pid_t pid, int pidfd, int signo,
                       const mc_signal_payload *payload, mc_error *err) {
        send_args a = {.pid = pid,
                       .pidfd = pidfd,
                       .signo = signo,
                       .payload = payload,
                       .raise = op == MC_OP_SIGNAL_RAISE};
        MC__ERROR_LOCAL(e);
        mc__call c;
        int r;

        mc__call_init(&c, op, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_TARGET;
        c.req.signo = signo;
        c.req.target = pid;
        if (has_payload(payload)) {
                c.fields |= MC__F_PAYLOAD;
                c.req.payload_kind = (int) payload->kind;
                c.req.payload = payload->kind == MC_PAYLOAD_USER_DATA
                                        ? (uint64_t) (int64_t) payload->user_data
                                        : payload->real_time;
        }
        if (op == MC_OP_SIGNAL_SEND && pidfd >= 0) {
                c.fields |= MC__F_FD;
                c.req.fd = pidfd;
        }
        r = send_check(op, pid, pidfd, signo, payload, &e);
        if (r >= 0 && op == MC_OP_SIGNAL_SEND && pidfd >= 0)
                r = pidfd_target(pidfd, &c.req.target, &e);
        return mc__ctx_run(ctx, &c, r, &e, &send_steps, &a, err);
}

int mc_signal_send(mc_ctx *ctx, pid_t pid, int signo, const mc_signal_payload *payload,
                   mc_error *err) {
        return send_common(MC_OP_SIGNAL_SEND, ctx, pid, -1, signo, payload, err);
}

int mc_signal_send_pidfd(mc_ctx *ctx, int pidfd, int signo, const mc_signal_payload *payload,
                         mc_error *err) {
        if (pidfd < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "signal_send: pidfd %d is not a descriptor", pidfd);
        return send_common(MC_OP_SIGNAL_SEND, ctx, 0, pidfd, signo, payload, err);
}

int mc_signal_raise(mc_ctx *ctx, int signo, mc_error *err) {
        return send_common(MC_OP_SIGNAL_RAISE, ctx, getpid(), -1, signo, NULL, err);
}

/* ---- wait ----------------------------------------------------------------------------------- */

typedef struct wait_args {
        sigset_t set;
        uint64_t bits;
        int64_t timeout_ns;
        mc_signal_info *ret;
} wait_args;

static int wait_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        wait_args *a = data;
        int64_t deadline = 0;
        sigset_t old;
        siginfo_t si;
        int r, e = 0;

        (void) ctx;
        for (int s = 1; s <= MAXSIG; s++)
                if ((a->bits >> (s - 1) & 1) && mc__signal_registered(s))
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBUSY,
                                             "signal_wait: signal %d has a memcap handler; the "
                                             "handler and the wait would race for it "
                                             "(unregister it first)",
                                             s);

        if (a->timeout_ns >= 0)
                deadline = mc__now_ns(CLOCK_MONOTONIC) + a->timeout_ns;
        if (mc_sys.thread_sigmask(SIG_BLOCK, &a->set, &old) < 0)
                return mc__error_errno(err, errno, "signal_wait: blocking the set");
        for (;;) {
                struct timespec ts, *tsp = NULL;

                if (a->timeout_ns >= 0) {
                        int64_t left = deadline - mc__now_ns(CLOCK_MONOTONIC);
                        if (left < 0)
                                left = 0;
                        ts.tv_sec = (time_t) (left / 1000000000);
                        ts.tv_nsec = (long) (left % 1000000000);
                        tsp = &ts;
                }
                r = mc_sys.sigtimedwait(&a->set, &si, tsp);
                if (r > 0)
                        break;
                e = errno;
                if (e == EINTR)
                        continue; /* resume with the time that is left */
                break;
        }
        (void) mc_sys.thread_sigmask(SIG_SETMASK, &old, NULL);
        if (r <= 0) {
                if (e == EAGAIN)
                        return mc__error_set(err, MC_ERR_TIMED_OUT, ETIMEDOUT,
                                             "signal_wait: no signal of the set within %" PRId64
                                             " ms",
                                             a->timeout_ns / 1000000);
                return mc__error_errno(err, e, "signal_wait");
        }
        memset(a->ret, 0, sizeof(*a->ret));
        a->ret->signal = si.si_signo;
        a->ret->source_pid = si.si_pid;
        a->ret->source_uid = si.si_uid;
        a->ret->timestamp = mc__now_ns(CLOCK_REALTIME);
        a->ret->code = si.si_code;
        a->ret->source_verified = mc__signal_sender_verified(si.si_code);
        if (si.si_signo == SIGCHLD)
                a->ret->status = si.si_status;
        if (si.si_code == SI_QUEUE || si.si_code == SI_MESGQ || si.si_code == SI_TIMER) {
                a->ret->payload.kind =
                        si.si_signo >= SIGRTMIN ? MC_PAYLOAD_REAL_TIME : MC_PAYLOAD_USER_DATA;
                a->ret->payload.user_data = si.si_value.sival_int;
                a->ret->payload.real_time = (uint64_t) (uintptr_t) si.si_value.sival_ptr;
        }
        c->res_signal = a->ret;
        return 0;
}

static const mc__steps wait_steps = {.syscall = wait_syscall, .flags = MC__RUN_UNLOCKED};

/* The set (converted into @a) and the timeout. */
static int wait_check(const mc_sigset *set, int64_t timeout_ns, const mc_signal_info *ret_info,
                      wait_args *a, mc_error *err) {
        int r;

        if (!set || !ret_info)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "signal_wait: set and ret_info must not be NULL");
        if (set->bits == 0)
                return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL,
                                     "signal_wait: the set is empty");
        r = sigset_to_sys("signal_wait", set, true, &a->set, err);
        if (r < 0)
                return r;
        if (timeout_ns < MC_WAIT_FOREVER)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "signal_wait: timeout %" PRId64 " ns is negative (use "
                                     "MC_WAIT_FOREVER to wait without one)",
                                     timeout_ns);
        return 0;
}

int mc_signal_wait(mc_ctx *ctx, const mc_sigset *set, int64_t timeout_ns, mc_signal_info *ret_info,
                   mc_error *err) {
        wait_args a = {.timeout_ns = timeout_ns, .ret = ret_info};
        MC__ERROR_LOCAL(e);
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SIGNAL_WAIT, MC__CAP_SIGNAL);
        c.fields = MC__F_TIMEOUT;
        c.req.timeout_ms = timeout_ns < 0 ? -1 : timeout_ns / 1000000;
        if (set && ret_info) {
                c.fields |= MC__F_SIGSET;
                c.req.sigset = set->bits;
                a.bits = set->bits;
        }
        r = wait_check(set, timeout_ns, ret_info, &a, &e);
        return mc__ctx_run(ctx, &c, r, &e, &wait_steps, &a, err);
}
