/* SPDX-License-Identifier: MIT */
/*
 * The core.signal capability as programs rely on it: raise and termination, send errors, forced
 * system-call failures, the audit records, and names, defaults and ranges.
 *
 * Criterion's worker process has threads of its own that do not block our signals, so a test
 * that depends on which thread takes a process-directed signal (order, waits, default actions)
 * runs in a forked child, which has one thread (see signal-suite.h).
 */

#include "failing.h"
#include "signal-suite.h"

/* ---- raise and termination ------------------------------------------------------------------- */

Test(signal, raise_reaches_the_registered_handler, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        collector c;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        cr_assert(eq(int, c.info[0].signal, SIGUSR1));
        cr_assert(eq(int, c.info[0].source_pid, getpid()));
        cr_assert(eq(u32, c.info[0].source_uid, getuid()));
        unreg(ctx, SIGUSR1);

        reg(ctx, SIGUSR1, collect, &c, MC_SIGNAL_BLOCK, NULL);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2), "also with MC_SIGNAL_BLOCK");
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c), 2));
        unreg(ctx, SIGUSR1);
        cr_assert(not(thread_blocks(SIGUSR1)));
        mc_ctx_free(ctx);
}

Test(signal, raise_with_block_in_a_single_thread_process, .timeout = 30) {
        pid_t pid = spawn();

        if (pid == 0) {
                mc_ctx *c = NULL;
                collector col;

                alarm(20);
                collector_init(&col, MC_SIGNAL_CONTINUE);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_signal_register_handler(c, SIGUSR1, collect, &col, MC_SIGNAL_BLOCK,
                                                       NULL, NULL) == 0);
                for (int i = 1; i <= 20; i++) {
                        CHILD_CHECK(mc_signal_raise(c, SIGUSR1, NULL) == 0);
                        CHILD_CHECK(collector_wait(&col, (size_t) i, 5000) == (size_t) i);
                }
                CHILD_CHECK(mc_signal_unregister_handler(c, SIGUSR1, NULL) == 0);
                CHILD_CHECK(!thread_blocks(SIGUSR1));
                _exit(0);
        }
        assert_child_ok(pid);
}

/* For raise_targets_...: what a plain SA_SIGINFO handler saw, and in which thread. */
static atomic_int raised_calls;
static int raised_code;
static pthread_t raised_thread;

static void raised_handler(int signo, siginfo_t *si, void *uc) {
        (void) signo;
        (void) uc;
        raised_code = si->si_code;
        raised_thread = pthread_self();
        atomic_fetch_add(&raised_calls, 1);
}

typedef struct raiser {
        mc_ctx *ctx;
        int signo;
        bool block;     /* block @signo in the raising thread first */
        int r;          /* what mc_signal_raise() returned */
        int calls_then; /* raised_calls when it returned */
        bool pending;   /* @signo pending in the raising thread afterwards */
        int calls_after_unblock;
        pthread_t self;
} raiser;

static void *raiser_main(void *arg) {
        raiser *a = arg;
        sigset_t one, pend;

        a->self = pthread_self();
        sigemptyset(&one);
        sigaddset(&one, a->signo);
        if (a->block)
                pthread_sigmask(SIG_BLOCK, &one, NULL);
        a->r = mc_signal_raise(a->ctx, a->signo, NULL);
        a->calls_then = atomic_load(&raised_calls);
        sigpending(&pend);
        a->pending = sigismember(&pend, a->signo) == 1;
        if (a->block) {
                pthread_sigmask(SIG_UNBLOCK, &one, NULL);
                a->calls_after_unblock = atomic_load(&raised_calls);
        }
        return NULL;
}

static void raise_from_thread(raiser *a) {
        pthread_t t;

        cr_assert(eq(int, pthread_create(&t, NULL, raiser_main, a), 0));
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        cr_assert(eq(int, a->r, 0));
}

Test(signal, raise_targets_the_process_with_a_memcap_handler_and_the_thread_without,
     .timeout = 20) {
        mc_ctx *ctx = ctx_new();
        struct sigaction sa;
        collector c;
        raiser a;

        /* A memcap handler: sent to the process, so a raising thread that blocks the signal
         * does not keep it (sent to that thread it would die with the thread, which ends
         * here); the handler runs in the dispatcher, with kill(2)'s si_code. */
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        a = (raiser){.ctx = ctx, .signo = SIGUSR1, .block = true};
        raise_from_thread(&a);
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        cr_assert(eq(int, c.info[0].code, SI_USER));
        cr_assert(eq(int, c.info[0].source_pid, getpid()));
        cr_assert(eq(int, pthread_equal(c.thread[0], a.self), 0));
        unreg(ctx, SIGUSR1);

        /* No memcap handler: the calling thread, as raise(3). The handler has run in that
         * thread when the call returns. */
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = raised_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(SIGUSR2, &sa, NULL), 0));
        a = (raiser){.ctx = ctx, .signo = SIGUSR2};
        raise_from_thread(&a);
        cr_assert(eq(int, a.calls_then, 1), "the handler ran before the call returned");
        cr_assert(ne(int, pthread_equal(raised_thread, a.self), 0), "in the calling thread");
        cr_assert(eq(int, raised_code, SI_TKILL));
        /* Blocked in the calling thread: it waits there, not in another thread. */
        a = (raiser){.ctx = ctx, .signo = SIGUSR2, .block = true};
        raise_from_thread(&a);
        cr_assert(a.pending, "pending in the raising thread");
        cr_assert(eq(int, a.calls_then, 1), "no other thread took it");
        cr_assert(eq(int, a.calls_after_unblock, 2), "delivered there once it unblocked");
        cr_assert(ne(int, pthread_equal(raised_thread, a.self), 0));
        mc_ctx_free(ctx);
}

Test(signal, raise_calls_a_plain_handler_synchronously) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();

        install_plain(SIGUSR2, SA_RESTART);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR2, &err), 0), "%s", err.message);
        cr_assert(eq(int, atomic_load(&plain_calls), 1), "ran before raise returned");
        cr_assert(ne(int, pthread_equal(plain_thread, pthread_self()), 0), "in the calling thread");
        cr_assert(eq(int, mc_signal_raise(ctx, 0, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_raise(ctx, 65, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        mc_ctx_free(ctx);
}

static mc_signal_action terminate_handler(const mc_signal_info *info, void *userdata) {
        (void) info;
        (void) userdata;
        return MC_SIGNAL_TERMINATE;
}

/* Terminate ends the process as the signal would, or with 128+signal when it would not. */
static void terminate_case(int signo, bool by_signal) {
        pid_t pid = spawn_handling(signo, terminate_handler, NULL);
        char d[96];
        int st;

        cr_assert(eq(int, kill(pid, signo), 0));
        st = reap(pid);
        if (by_signal)
                cr_assert(killed_by(st, signo), "signal %d: child %s", signo,
                          describe(st, d, sizeof(d)));
        else
                cr_assert(exited_with(st, 128 + signo), "signal %d: child %s", signo,
                          describe(st, d, sizeof(d)));
}

Test(signal, terminate_ends_the_process_like_the_signal, .timeout = 60) {
        terminate_case(SIGINT, true);
        terminate_case(SIGHUP, true);
        terminate_case(SIGRTMIN + 1, true);
        terminate_case(SIGWINCH, false); /* default: ignore */
        terminate_case(SIGTSTP, false);  /* default: stop */
        terminate_case(SIGCHLD, false);
}

/* ---- send errors ----------------------------------------------------------------------------- */

/* A pid that belonged to a child that is gone now. */
static pid_t gone_pid(int *ret_pidfd) {
        pid_t pid;

        if (ret_pidfd)
                require_pidfd();
        pid = spawn();
        if (pid == 0)
                _exit(0);
        if (ret_pidfd) {
                *ret_pidfd = sig_pidfd_open(pid);
                cr_assert(ge(int, *ret_pidfd, 0));
        }
        (void) reap(pid);
        return pid;
}

Test(signal, send_to_a_process_that_does_not_exist_is_not_found, .timeout = 10) {
        mc_signal_payload p = user_data(1);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        records r;
        json_t *rec;
        int pfd;
        pid_t pid = gone_pid(&pfd);

        cr_assert(ctx_audit_to_file(ctx, "gone"));
        cr_assert(eq(int, mc_signal_send(ctx, pid, SIGUSR1, NULL, &err), -ESRCH), "%s",
                  err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, pid, SIGUSR1, &p, &err), -ESRCH), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), -ESRCH), "%s",
                  err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        records_load(&r, audit_path);
        rec = records_find(&r, "signal_send", "error", 0, NULL);
        cr_assert(not(eq(ptr, rec, NULL)));
        cr_assert(eq(str, (char *) jstr(rec, "error.kind"), "NotFound"));
        cr_assert(eq(i64, jint(rec, "request.target_pid"), pid));
        cr_assert(eq(sz, count_denied(&r), 0), "not a policy matter");
        records_done(&r);
        close(pfd);
        mc_ctx_free(ctx);
}

/* The kernel refuses: another uid. */
Test(signal, send_without_permission_is_permission_denied, .timeout = 30) {
        pid_t target, pid;

        if (geteuid() == 0) {
                /* Root's own child as the target, sent to by an unprivileged grandchild. */
                target = spawn_target((uid_t) -1);
        } else {
                target = 1;
        }
        pid = spawn();
        if (pid == 0) {
                mc_ctx *c = NULL;
                mc_policy *p = NULL;
                mc_error e = MC_ERROR_INIT;

                if (geteuid() == 0)
                        CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
                CHILD_CHECK(getuid() != 0 && geteuid() != 0);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_policy_new(&p, NULL) == 0);
                /* A policy that refuses on its own: that is a PolicyViolation... */
                CHILD_CHECK(mc_policy_set_signal_targets(p, MC_TARGET_CHILDREN) == 0);
                CHILD_CHECK(mc_ctx_set_policy(c, p, NULL) == 0);
                CHILD_CHECK(mc_signal_send(c, target, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_POLICY_VIOLATION);
                /* ... and one that lets the kernel decide: PermissionDenied. */
                CHILD_CHECK(mc_policy_set_signal_targets(p, MC_TARGET_ANY) == 0);
                CHILD_CHECK(mc_ctx_set_policy(c, p, NULL) == 0);
                CHILD_CHECK(mc_signal_send(c, target, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_PERMISSION_DENIED);
                CHILD_CHECK(e.sys_errno == EPERM);
                mc_policy_free(p);
                mc_ctx_free(c);
                _exit(0);
        }
        assert_child_ok(pid);
        if (target != 1)
                stop_target(target);
}

Test(signal, send_argument_errors, .timeout = 30) {
        mc_signal_payload bad = {.kind = (mc_payload_kind) 7, .user_data = 1};
        mc_signal_payload p = user_data(3);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        int fd;
        pid_t kid, pid;

        kid = spawn_target((uid_t) -1);
        cr_assert(eq(int, mc_signal_send(ctx, kid, SIGUSR1, &bad, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, kid, 65, &p, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_send(ctx, kid, -3, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, fd, SIGUSR1, NULL, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        close(fd);
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, -1, SIGUSR1, NULL, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, 100000, SIGUSR1, NULL, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        stop_target(kid);

        /* Groups take no payload. In a process group of its own, in case it got through. */
        pid = spawn();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;
                mc_ctx *c = NULL;

                signal(SIGUSR1, SIG_IGN);
                CHILD_CHECK(setpgid(0, 0) == 0);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_signal_send(c, 0, SIGUSR1, &p, &e) == -EINVAL);
                CHILD_CHECK(e.kind == MC_ERR_INVALID_ARGUMENT);
                CHILD_CHECK(mc_signal_send(c, -getpid(), SIGUSR1, &p, &e) == -EINVAL);
                CHILD_CHECK(e.kind == MC_ERR_INVALID_ARGUMENT);
                CHILD_CHECK(mc_signal_send(c, -1, SIGUSR1, &p, &e) == -EINVAL);
                CHILD_CHECK(e.kind == MC_ERR_INVALID_ARGUMENT);
                /* Without a payload its own group is a target, but only when the policy
                 * allows whole groups: the default does not. */
                CHILD_CHECK(mc_signal_send(c, 0, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_POLICY_VIOLATION);
                CHILD_CHECK(strstr(e.message, "add \"whole_group\" to allowed_signal_targets"));
                CHILD_CHECK(ctx_set_targets(c, MC_TARGET_SELF | MC_TARGET_WHOLE_GROUP) == 0);
                CHILD_CHECK(mc_signal_send(c, 0, SIGUSR1, NULL, &e) == 0);
                CHILD_CHECK(mc_signal_send(c, -getpid(), SIGUSR1, NULL, &e) == 0);
                mc_ctx_free(c);
                _exit(0);
        }
        assert_child_ok(pid);
        mc_ctx_free(ctx);
}

/* ---- forced system-call failures ------------------------------------------------------------- */

static atomic_int eintr_left;

/* Interrupted a few times, 20 ms into each wait; then the real call. */
static int interrupted_sigtimedwait(const sigset_t *set, siginfo_t *info,
                                    const struct timespec *ts) {
        if (atomic_fetch_sub(&eintr_left, 1) > 0) {
                sleep_us(20000);
                errno = EINTR;
                return -1;
        }
        return sigtimedwait(set, info, ts);
}

Test(signal, inject_send_failures) {
        mc_signal_payload p = user_data(9);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        records r;
        json_t *rec;

        cr_assert(ctx_audit_to_file(ctx, "inject-send"));
        set_disposition(SIGUSR1, SIG_IGN);
        mc_sys.kill = failing_kill;
        failing_errno = EPERM;
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, EPERM));

        mc_sys.sigqueue = failing_sigqueue;
        failing_errno = EAGAIN;
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, &p, &err), -EAGAIN));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(not(eq(ptr, strstr(err.message, "queue"), NULL)), "%s", err.message);

        mc_sys.tgkill = failing_tgkill;
        failing_errno = EINVAL;
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));

        records_load(&r, audit_path);
        cr_assert(eq(sz, r.n, 3));
        for (size_t i = 0; i < r.n; i++)
                cr_assert(eq(str, (char *) jstr(r.v[i], "outcome"), "error"),
                          "a failed system call is an error, not a denial");
        rec = records_find(&r, "signal_send", "error", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "error.kind"), "OutOfMemory"));
        cr_assert(eq(i64, jint(rec, "error.errno"), EAGAIN));
        records_done(&r);
        mc_ctx_free(ctx);
}

Test(signal, inject_pidfd_send_failure) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        int pfd;

        require_pidfd();
        set_disposition(SIGUSR1, SIG_IGN);
        mc_sys.pidfd_send_signal = failing_pidfd_send;
        failing_errno = ENOSYS;
        pfd = sig_pidfd_open(getpid());
        cr_assert(ge(int, pfd, 0));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        close(pfd);
        mc_ctx_free(ctx);
}

Test(signal, inject_mask_failure_changes_nothing) {
        mc_sigset set = sigset_of(SIGUSR1, 0), prev = {7};
        mc_error err = MC_ERROR_INIT;
        mc_signal_info info;
        mc_ctx *ctx = ctx_new();
        uint64_t orig = current_mask();

        mc_sys.thread_sigmask = failing_sigmask;
        failing_errno = EINVAL;
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(u64, prev.bits, 7));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), -EINVAL));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(u64, current_mask(), orig));
        mc__sys_reset();
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        cr_assert(eq(u64, current_mask(), orig));
        mc_ctx_free(ctx);
}

Test(signal, inject_sigtimedwait_interrupted_and_failing, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, 0);
        mc_error err = MC_ERROR_INIT;
        mc_signal_info info;
        mc_ctx *ctx = ctx_new();
        uint64_t orig = current_mask();
        int64_t ms;
        int r;

        mc_sys.sigtimedwait = interrupted_sigtimedwait;
        atomic_store(&eintr_left, 3);
        ms = timed_wait_ms(ctx, SIGUSR2, 200, &r, &err);
        cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
        cr_assert(ge(i64, ms, 200), "after %" PRId64 " ms", ms);
        cr_assert(lt(i64, ms, 300), "after %" PRId64 " ms", ms);
        cr_assert(le(int, atomic_load(&eintr_left), 0), "it was interrupted");

        mc_sys.sigtimedwait = failing_sigtimedwait;
        failing_errno = EFAULT;
        cr_assert(eq(int, mc_signal_wait(ctx, &set, MC_WAIT_FOREVER, &info, &err), -EFAULT));
        cr_assert(eq(int, err.sys_errno, EFAULT));
        cr_assert(eq(u64, current_mask(), orig), "the mask is restored after a failed wait");
        mc_ctx_free(ctx);
}

/* What a failed registration must not leave behind. */
typedef struct sig_state {
        int fds;
        bool dispatcher;
        uint64_t watched;
        disposition d;
        uint64_t mask;
} sig_state;

static sig_state sig_state_of(int signo) {
        sig_state s = {count_fds(), dispatcher_running(), signalfd_watched(), disposition_of(signo),
                       current_mask()};
        return s;
}

#define assert_same_state(signo, a)                                                                \
        do {                                                                                       \
                sig_state b_ = sig_state_of(signo);                                                \
                cr_assert(eq(int, b_.fds, (a).fds), "descriptors left behind");                    \
                cr_assert(eq(int, b_.dispatcher, (a).dispatcher), "dispatcher thread");            \
                cr_assert(eq(u64, b_.watched, (a).watched), "signals the signalfd watches");       \
                cr_assert(eq(u64, b_.mask, (a).mask), "the thread's mask");                        \
                assert_same_disposition(signo, (a).d);                                             \
                cr_assert(not(mc__signal_registered(signo)));                                      \
        } while (0)

/*
 * Registering a blocking handler for @signo, with the system call the test pointed the seam at
 * failing with @errnum, must fail with -@errnum and @kind and leave @signo as @before found it;
 * the seam is reset afterwards.
 */
static void assert_register_fails(mc_ctx *ctx, int signo, collector *c, int errnum,
                                  mc_error_kind kind, sig_state before) {
        mc_error err = MC_ERROR_INIT;

        failing_errno = errnum;
        cr_assert(
                eq(int,
                   mc_signal_register_handler(ctx, signo, collect, c, MC_SIGNAL_BLOCK, NULL, &err),
                   -errnum));
        cr_assert(eq(int, err.kind, kind), "%s", err.message);
        assert_same_state(signo, before);
        mc__sys_reset();
}

Test(signal, inject_signalfd_failure_on_first_registration, .timeout = 10) {
        mc_ctx *ctx = ctx_new();
        sig_state before = sig_state_of(SIGUSR1);
        collector c;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        mc_sys.signalfd = failing_signalfd;
        assert_register_fails(ctx, SIGUSR1, &c, EMFILE, MC_ERR_OUT_OF_MEMORY, before);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

/*
 * Where a second registration fails: a fresh context with @c's handler for SIGUSR1, and in @usr2
 * the state of SIGUSR2 then, which the failed registration of SIGUSR2 must leave as it is.
 */
static mc_ctx *usr1_registered(collector *c, sig_state *usr2) {
        mc_ctx *ctx = ctx_new();

        collector_init(c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, c, 0, NULL);
        *usr2 = sig_state_of(SIGUSR2);
        return ctx;
}

Test(signal, inject_signalfd_failure_on_another_signal, .timeout = 10) {
        sig_state before;
        collector c;
        mc_ctx *ctx = usr1_registered(&c, &before);

        cr_assert(before.dispatcher);
        cr_assert(eq(u64, before.watched, bit(SIGUSR1)));
        mc_sys.signalfd = failing_signalfd;
        assert_register_fails(ctx, SIGUSR2, &c, ENOMEM, MC_ERR_OUT_OF_MEMORY, before);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1), "the first registration still works");
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

Test(signal, inject_sigaction_failure, .timeout = 10) {
        sig_state before;
        collector c;
        mc_ctx *ctx = usr1_registered(&c, &before);

        mc_sys.sigaction = failing_sigaction;
        assert_register_fails(ctx, SIGUSR2, &c, EINVAL, MC_ERR_INVALID_ARGUMENT, before);
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        unreg(ctx, SIGUSR1);
        unreg(ctx, SIGUSR2);
        mc_ctx_free(ctx);
}

Test(signal, inject_eventfd_failures, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        sig_state before = sig_state_of(SIGUSR1);
        int fd = -1;

        mc_sys.eventfd = failing_eventfd;
        failing_errno = EMFILE;
        cr_assert(eq(int,
                     mc_signal_register_handler(ctx, SIGUSR1, noop_handler, NULL, 0, NULL, &err),
                     -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        assert_same_state(SIGUSR1, before);
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(eq(int, fd, -1), "ret_fd untouched on failure");
        cr_assert(eq(int, count_fds(), before.fds));
        mc__sys_reset();
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), 0), "%s", err.message);
        cr_assert(is_eventfd(fd));
        reg(ctx, SIGUSR1, noop_handler, NULL, 0, NULL);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
        cr_assert(not(is_eventfd(fd)), "mc_ctx_free closes the descriptor");
}

/* ---- audit records --------------------------------------------------------------------------- */

static void assert_record_head(json_t *rec, const char *op, const char *outcome) {
        const char *t;

        cr_assert(not(eq(ptr, rec, NULL)), "no %s record with outcome %s", op, outcome);
        cr_assert(eq(str, (char *) jstr(rec, "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(rec, "operation"), (char *) op));
        cr_assert(eq(str, (char *) jstr(rec, "outcome"), (char *) outcome));
        cr_assert(eq(i64, jint(rec, "pid"), getpid()));
        t = jstr(rec, "time");
        cr_assert(eq(sz, strlen(t), 27), "RFC 3339 with microseconds: %s", t);
        cr_assert(eq(chr, t[26], 'Z'));
}

Test(signal, audit_register_send_raise_deliver_unregister, .timeout = 10) {
        mc_signal_payload p = user_data(-5), q = real_time(UINT64_C(0xfedcba9876543210));
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        json_t *rec, *flags;
        collector c;
        records r;

        cr_assert(ctx_audit_to_file(ctx, "records"));
        collector_init(&c, MC_SIGNAL_IGNORE);
        reg(ctx, SIGUSR1, collect, &c, MC_SIGNAL_BLOCK, NULL);
        reg(ctx, SIGRTMIN + 1, collect, &c, 0, NULL);
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, &p, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGRTMIN + 1, &q, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 3, 5000), 3));
        records_wait_for(&r, "signal_deliver", 3);
        records_done(&r);
        unreg(ctx, SIGUSR1);
        unreg(ctx, SIGRTMIN + 1);
        records_load(&r, audit_path);

        rec = records_find(&r, "signal_register", "ok", 0, NULL);
        assert_record_head(rec, "signal_register", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        flags = jpath(rec, "request.signal_flags");
        cr_assert(is_array_of(flags, 1), "signal_flags");
        cr_assert(eq(str, (char *) json_string_value(json_array_get(flags, 0)), "BLOCK"));
        rec = records_find(&r, "signal_register", "ok", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGRTMIN+1"));
        cr_assert(eq(sz, json_array_size(jpath(rec, "request.signal_flags")), 0));

        rec = records_find(&r, "signal_send", "ok", 0, NULL);
        assert_record_head(rec, "signal_send", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.target_pid"), getpid()));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "UserData"));
        cr_assert(eq(i64, jint(rec, "request.payload.value"), -5));
        rec = records_find(&r, "signal_send", "ok", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "RealTime"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.value"), "18364758544493064720"),
                  "a value above INT64_MAX is written as a decimal string");

        rec = records_find(&r, "signal_raise", "ok", 0, NULL);
        assert_record_head(rec, "signal_raise", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.target_pid"), getpid()));

        rec = records_find(&r, "signal_deliver", "ok", 0, NULL);
        assert_record_head(rec, "signal_deliver", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.source_pid"), getpid()));
        cr_assert(eq(i64, jint(rec, "request.source_uid"), getuid()));
        cr_assert(eq(i64, jint(rec, "request.code"), SI_QUEUE));
        cr_assert(eq(str, (char *) jstr(rec, "request.action"), "Ignore"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "UserData"));
        cr_assert(eq(i64, jint(rec, "request.payload.value"), -5));
        rec = records_find(&r, "signal_deliver", "ok", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGRTMIN+1"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "RealTime"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.value"), "18364758544493064720"));
        rec = records_find(&r, "signal_deliver", "ok", 2, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.code"), SI_USER), "raise with a handler: kill(2)");
        cr_assert(eq(ptr, jpath(rec, "request.payload"), NULL), "no payload, no field");

        rec = records_find(&r, "signal_unregister", "ok", 0, NULL);
        assert_record_head(rec, "signal_unregister", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        records_done(&r);
        mc_ctx_free(ctx);
}

Test(signal, audit_wait_and_mask_records, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, SIGRTMIN + 2), prev;
        mc_error err = MC_ERROR_INIT;
        mc_signal_info info;
        mc_ctx *ctx = ctx_new();
        json_t *rec, *sigs;
        records r;

        cr_assert(ctx_audit_to_file(ctx, "wait"));
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0));
        cr_assert(eq(int,
                     pthread_sigqueue(pthread_self(), SIGRTMIN + 2,
                                      (union sigval){.sival_ptr = (void *) 99}),
                     0));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, INT64_C(1000000000), &info, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, info.signal, SIGRTMIN + 2));
        cr_assert(eq(int, info.payload.kind, MC_PAYLOAD_REAL_TIME));
        cr_assert(eq(u64, info.payload.real_time, 99));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, INT64_C(20000000), &info, &err), -ETIMEDOUT));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        records_load(&r, audit_path);

        rec = records_find(&r, "signal_mask", "ok", 0, NULL);
        assert_record_head(rec, "signal_mask", "ok");
        sigs = jpath(rec, "request.signals");
        cr_assert(is_array_of(sigs, 2));
        cr_assert(eq(str, (char *) json_string_value(json_array_get(sigs, 0)), "SIGUSR2"));
        cr_assert(eq(str, (char *) json_string_value(json_array_get(sigs, 1)), "SIGRTMIN+2"));

        rec = records_find(&r, "signal_wait", "ok", 0, NULL);
        assert_record_head(rec, "signal_wait", "ok");
        cr_assert(eq(i64, jint(rec, "request.timeout_ms"), 1000));
        cr_assert(eq(sz, json_array_size(jpath(rec, "request.signals")), 2));
        cr_assert(eq(str, (char *) jstr(rec, "result.signal"), "SIGRTMIN+2"));
        cr_assert(eq(i64, jint(rec, "result.source_pid"), getpid()));
        cr_assert(eq(i64, jint(rec, "result.source_uid"), getuid()));
        cr_assert(eq(i64, jint(rec, "result.code"), SI_QUEUE));
        cr_assert(eq(str, (char *) jstr(rec, "result.payload.kind"), "RealTime"));
        cr_assert(eq(i64, jint(rec, "result.payload.value"), 99));

        rec = records_find(&r, "signal_wait", "error", 0, NULL);
        assert_record_head(rec, "signal_wait", "error");
        cr_assert(eq(str, (char *) jstr(rec, "error.kind"), "TimedOut"));
        cr_assert(eq(i64, jint(rec, "error.errno"), ETIMEDOUT));
        cr_assert(eq(i64, jint(rec, "request.timeout_ms"), 20));
        cr_assert(eq(ptr, jpath(rec, "result"), NULL));

        rec = records_find(&r, "signal_unmask", "ok", 0, NULL);
        assert_record_head(rec, "signal_unmask", "ok");
        records_done(&r);
        mc_ctx_free(ctx);
}

/* ---- names, defaults, ranges --------------------------------------------------------------- */

Test(signal, default_actions) {
        static const struct {
                int signo;
                int action;
        } table[] = {
                {SIGHUP, MC_DEFAULT_TERMINATE},  {SIGINT, MC_DEFAULT_TERMINATE},
                {SIGQUIT, MC_DEFAULT_CORE},      {SIGILL, MC_DEFAULT_CORE},
                {SIGTRAP, MC_DEFAULT_CORE},      {SIGABRT, MC_DEFAULT_CORE},
                {SIGBUS, MC_DEFAULT_CORE},       {SIGFPE, MC_DEFAULT_CORE},
                {SIGKILL, MC_DEFAULT_TERMINATE}, {SIGUSR1, MC_DEFAULT_TERMINATE},
                {SIGSEGV, MC_DEFAULT_CORE},      {SIGUSR2, MC_DEFAULT_TERMINATE},
                {SIGPIPE, MC_DEFAULT_TERMINATE}, {SIGALRM, MC_DEFAULT_TERMINATE},
                {SIGTERM, MC_DEFAULT_TERMINATE}, {16, MC_DEFAULT_TERMINATE},
                {SIGCHLD, MC_DEFAULT_IGNORE},    {SIGCONT, MC_DEFAULT_CONTINUE},
                {SIGSTOP, MC_DEFAULT_STOP},      {SIGTSTP, MC_DEFAULT_STOP},
                {SIGTTIN, MC_DEFAULT_STOP},      {SIGTTOU, MC_DEFAULT_STOP},
                {SIGURG, MC_DEFAULT_IGNORE},     {SIGXCPU, MC_DEFAULT_CORE},
                {SIGXFSZ, MC_DEFAULT_CORE},      {SIGVTALRM, MC_DEFAULT_TERMINATE},
                {SIGPROF, MC_DEFAULT_TERMINATE}, {SIGWINCH, MC_DEFAULT_IGNORE},
                {SIGIO, MC_DEFAULT_TERMINATE},   {SIGPWR, MC_DEFAULT_TERMINATE},
                {SIGSYS, MC_DEFAULT_CORE},
        };

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                cr_assert(eq(int, mc_signal_default_action(table[i].signo), table[i].action),
                          "signal %d", table[i].signo);
        for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
                cr_assert(eq(int, mc_signal_default_action(s), MC_DEFAULT_TERMINATE), "signal %d",
                          s);
        cr_assert(eq(int, mc_signal_default_action(0), -EINVAL));
        cr_assert(eq(int, mc_signal_default_action(-1), -EINVAL));
        cr_assert(eq(int, mc_signal_default_action(SIGRTMAX + 1), -EINVAL));
        cr_assert(eq(int, mc_signal_default_action(INT32_MIN), -EINVAL));
}

Test(signal, realtime_range) {
        char name[16];

        cr_assert(eq(int, mc_signal_rt_min(), SIGRTMIN));
        cr_assert(eq(int, mc_signal_rt_max(), SIGRTMAX));
        cr_assert(gt(int, mc_signal_rt_min(), 31), "above the standard signals");
        cr_assert(lt(int, mc_signal_rt_min(), mc_signal_rt_max()));
        cr_assert(le(int, mc_signal_rt_max(), 64), "fits mc_sigset");
        cr_assert(ge(int, mc_signal_rt_max() - mc_signal_rt_min(), 8), "POSIX: at least 8");
        cr_assert(eq(str, (char *) mc_signal_name(mc_signal_rt_min() + 3, name, sizeof(name)),
                     "SIGRTMIN+3"));
}
