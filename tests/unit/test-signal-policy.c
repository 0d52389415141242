/* SPDX-License-Identifier: MIT */
/*
 * The core.signal capability as programs rely on it: the policy, chaining to and restoring earlier
 * handlers, stacking and unregistering, and guarded memory access in the same process.
 *
 * Criterion's worker process has threads of its own that do not block our signals, so a test
 * that depends on which thread takes a process-directed signal (order, waits, default actions)
 * runs in a forked child, which has one thread (see signal-suite.h).
 */

#include "signal-suite.h"

/* ---- the policy ---------------------------------------------------------------------------- */

#define assert_denied(r, err, rule)                                                                \
        do {                                                                                       \
                cr_assert(eq(int, (r), -EPERM), "%s", (err).message);                              \
                cr_assert(eq(int, (err).kind, MC_ERR_POLICY_VIOLATION), "%s", (err).message);      \
                cr_assert(not(eq(ptr, strstr((err).message, rule), NULL)),                         \
                          "the message names the rule " rule ": %s", (err).message);               \
        } while (0)

Test(signal, policy_allowed_signals_denies_send_and_raise) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signals\": [\"SIGUSR1\", \"SIGTERM\", \"RTMIN+1\"]}");
        mc_signal_payload p = user_data(5);
        mc_error err = MC_ERROR_INIT;
        records r;
        json_t *rec;

        cr_assert(ctx_audit_to_file(ctx, "allowed-signals"));
        set_disposition(SIGUSR1, SIG_IGN);
        set_disposition(SIGUSR2, SIG_IGN);
        assert_denied(mc_signal_send(ctx, getpid(), SIGUSR2, NULL, &err), err, "allowed_signals");
        cr_assert(not(eq(ptr, strstr(err.message, "SIGUSR2"), NULL)), "%s", err.message);
        assert_denied(mc_signal_send(ctx, getpid(), SIGUSR2, &p, &err), err, "allowed_signals");
        assert_denied(mc_signal_raise(ctx, SIGUSR2, &err), err, "allowed_signals");
        assert_denied(mc_signal_send(ctx, getpid(), SIGRTMIN + 2, NULL, &err), err,
                      "allowed_signals");
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);

        records_load(&r, audit_path);
        cr_assert(eq(sz, count_denied(&r), 4), "every denial is audited as denied");
        rec = records_find(&r, "signal_raise", "denied", 0, NULL);
        cr_assert(not(eq(ptr, rec, NULL)));
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR2"));
        cr_assert(not(eq(ptr, strstr(jstr(rec, "error.message"), "allowed_signals"), NULL)));
        cr_assert(not(eq(ptr, records_find(&r, "signal_send", "ok", 0, NULL), NULL)));
        cr_assert(not(eq(ptr, records_find(&r, "signal_raise", "ok", 0, NULL), NULL)));
        records_done(&r);
        mc_ctx_free(ctx);
}

Test(signal, policy_targets_self_only, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signal_targets\": [\"self\"]}");
        mc_error err = MC_ERROR_INIT;
        int pfd;
        pid_t kid;
        records r;

        require_pidfd();
        cr_assert(ctx_audit_to_file(ctx, "targets-self"));
        kid = spawn_target((uid_t) -1);
        set_disposition(SIGUSR1, SIG_IGN);
        assert_denied(mc_signal_send(ctx, kid, SIGUSR1, NULL, &err), err, "allowed_signal_targets");
        pfd = sig_pidfd_open(kid);
        cr_assert(ge(int, pfd, 0));
        assert_denied(mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), err,
                      "allowed_signal_targets");
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        close(pfd);
        pfd = sig_pidfd_open(getpid());
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        close(pfd);
        stop_target(kid);
        records_load(&r, audit_path);
        cr_assert(eq(sz, count_denied(&r), 2));
        records_done(&r);
        mc_ctx_free(ctx);
}

Test(signal, policy_targets_children, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signal_targets\": [\"children\"]}");
        mc_error err = MC_ERROR_INIT;
        pid_t kid, parent = getpid(), pid;

        kid = spawn_target((uid_t) -1);
        cr_assert(eq(int, mc_signal_send(ctx, kid, SIGUSR1, NULL, &err), 0), "%s", err.message);
        set_disposition(SIGUSR1, SIG_IGN);
        assert_denied(mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), err,
                      "allowed_signal_targets");
        /* From a child: its parent is not its child. */
        pid = spawn();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;

                CHILD_CHECK(mc_signal_send(ctx, parent, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_POLICY_VIOLATION);
                CHILD_CHECK(strstr(e.message, "allowed_signal_targets") != NULL);
                _exit(0);
        }
        assert_child_ok(pid);
        stop_target(kid);
        mc_ctx_free(ctx);
}

Test(signal, policy_targets_same_uid, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signal_targets\": [\"same_uid\"]}");
        mc_error err = MC_ERROR_INIT;
        pid_t same, other;

        same = spawn_target((uid_t) -1);
        cr_assert(eq(int, mc_signal_send(ctx, same, SIGUSR1, NULL, &err), 0), "%s", err.message);
        stop_target(same);
        if (geteuid() != 0) {
                cr_log_warn("not root: the other-uid half of policy_targets_same_uid is skipped");
        } else {
                other = spawn_target(65534);
                assert_denied(mc_signal_send(ctx, other, SIGUSR1, NULL, &err), err,
                              "allowed_signal_targets");
                stop_target(other);
        }
        mc_ctx_free(ctx);
}

/*
 * A process of the same user that is neither the caller nor its child: a grandchild, through
 * a child that waits for it. Returns the child; *@ret_grandchild is the target.
 */
static pid_t spawn_grandchild(int ready[2], pid_t *ret_grandchild) {
        pid_t pid = spawn(), g;

        if (pid == 0) {
                alarm(30);
                g = fork();
                CHILD_CHECK(g >= 0);
                if (g == 0) {
                        alarm(30); /* alarms are not inherited */
                        signal(SIGUSR1, SIG_IGN);
                        g = getpid();
                        CHILD_CHECK(write_all(ready[1], &g, sizeof(g)));
                        for (;;)
                                pause();
                }
                (void) waitpid(g, NULL, 0);
                _exit(0);
        }
        for (size_t got = 0; got < sizeof(*ret_grandchild);) {
                struct pollfd p = {ready[0], POLLIN, 0};
                ssize_t n;

                cr_assert(eq(int, poll(&p, 1, 10000), 1), "no grandchild within 10 s");
                n = read(ready[0], (char *) ret_grandchild + got, sizeof(*ret_grandchild) - got);
                cr_assert(gt(sz, (size_t) n, 0), "the child died without a grandchild");
                got += (size_t) n;
        }
        return pid;
}

Test(signal, default_policy_refuses_other_processes_and_names_the_rule, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        int ready[2], r;
        pid_t kid, grandchild;

        pipe_new(ready);
        kid = spawn_grandchild(ready, &grandchild);
        /* Same user and process group, not a child: the narrowest rule is named. */
        assert_denied(mc_signal_send(ctx, grandchild, SIGUSR1, NULL, &err), err,
                      "add \"process_group\" to allowed_signal_targets");
        assert_denied(mc_signal_send(ctx, grandchild, 0, NULL, &err), err,
                      "add \"process_group\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_SELF | MC_TARGET_SAME_UID), 0));
        cr_assert(eq(int, mc_signal_send(ctx, grandchild, SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_ANY), 0));
        cr_assert(eq(int, mc_signal_send(ctx, grandchild, SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        /* "any" still does not reach init, and a pid of another user is refused by the rule,
         * not by the kernel (signal 0 delivers nothing either way). */
        assert_denied(mc_signal_send(ctx, 1, 0, NULL, &err), err,
                      "add \"init\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_INIT), 0));
        r = mc_signal_send(ctx, 1, 0, NULL, &err);
        cr_assert(r == 0 || (r == -EPERM && err.kind == MC_ERR_PERMISSION_DENIED),
                  "only the kernel may refuse it now: %s", err.message);
        /* The broadcast needs its own rule, whatever else is allowed. */
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_ANY | MC_TARGET_WHOLE_GROUP), 0));
        assert_denied(mc_signal_send(ctx, -1, 0, NULL, &err), err,
                      "add \"broadcast\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_BROADCAST), 0));
        cr_assert(eq(int, mc_signal_send(ctx, -1, 0, NULL, &err), 0), "%s", err.message);

        cr_assert(eq(int, kill(grandchild, SIGKILL), 0));
        cr_assert(eq(int, reap(kid), 0));
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

Test(signal, signal_zero_probes_where_sending_is_allowed, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signals\": [], \"allowed_signal_targets\": "
                                 "[\"self\", \"children\"]}");
        mc_signal_payload p = user_data(1);
        mc_error err = MC_ERROR_INIT;
        int pfd;
        pid_t kid, gone;

        require_pidfd();
        kid = spawn_target((uid_t) -1);
        /* No signal is allowed, yet the existence check is, for each way of sending. */
        assert_denied(mc_signal_send(ctx, kid, SIGUSR1, NULL, &err), err, "allowed_signals");
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), 0, NULL, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, kid, 0, NULL, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, kid, 0, &p, &err), 0), "%s", err.message);
        pfd = sig_pidfd_open(kid);
        cr_assert(ge(int, pfd, 0));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, 0, NULL, &err), 0), "%s", err.message);
        stop_target(kid);
        /* A process that is gone is NotFound, as kill -0 says. */
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, 0, NULL, &err), -ESRCH), "%s",
                  err.message);
        close(pfd);
        gone = kid;
        cr_assert(eq(int, mc_signal_send(ctx, gone, 0, NULL, &err), -ESRCH), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        /* Raising signal 0 means nothing: still InvalidSignal. */
        cr_assert(eq(int, mc_signal_raise(ctx, 0, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        mc_ctx_free(ctx);
}

Test(signal, whole_group_of_a_child_needs_whole_group_and_children, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        int ready[2], st;
        pid_t kid;

        pipe_new(ready);
        kid = spawn();
        if (kid == 0) {
                alarm(30);
                CHILD_CHECK(setpgid(0, 0) == 0);
                CHILD_CHECK(write_all(ready[1], "r", 1));
                for (;;)
                        pause();
        }
        ready_wait(ready[0]);
        /* A child of ours that leads a group of its own: the group is judged by its leader. */
        assert_denied(mc_signal_send(ctx, -kid, SIGTERM, NULL, &err), err,
                      "add \"whole_group\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_WHOLE_GROUP | MC_TARGET_SELF), 0));
        assert_denied(mc_signal_send(ctx, -kid, SIGTERM, NULL, &err), err,
                      "add \"children\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_WHOLE_GROUP | MC_TARGET_CHILDREN), 0));
        cr_assert(eq(int, mc_signal_send(ctx, -kid, SIGTERM, NULL, &err), 0), "%s", err.message);
        st = reap(kid);
        cr_assert(killed_by(st, SIGTERM));
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

Test(signal, policy_allowed_syscalls_denies_register) {
        mc_ctx *ctx = ctx_policy("{\"allowed_syscalls\": [\"signal_send\", \"signal_wait\"]}");
        mc_error err = MC_ERROR_INIT;
        disposition before = disposition_of(SIGUSR1);
        mc_sigset set = sigset_of(SIGUSR1, 0), prev;
        records r;
        json_t *rec;

        cr_assert(ctx_audit_to_file(ctx, "allowed-syscalls"));
        assert_denied(mc_signal_register_handler(ctx, SIGUSR1, noop_handler, NULL, 0, NULL, &err),
                      err, "allowed_syscalls");
        assert_same_disposition(SIGUSR1, before);
        cr_assert(not(dispatcher_running()));
        assert_denied(mc_signal_mask(ctx, &set, &prev, &err), err, "allowed_syscalls");
        assert_denied(mc_signal_raise(ctx, SIGUSR1, &err), err, "allowed_syscalls");
        cr_assert(not(thread_blocks(SIGUSR1)));
        /* Releasing operations are always allowed. */
        prev.bits = current_mask();
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_signal_unregister_handler(ctx, SIGUSR1, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));

        records_load(&r, audit_path);
        cr_assert(eq(sz, count_denied(&r), 3));
        rec = records_find(&r, "signal_register", "denied", 0, NULL);
        cr_assert(not(eq(ptr, rec, NULL)));
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        records_done(&r);
        mc_ctx_free(ctx);
}

/* ---- chaining, stacking, unregistering ----------------------------------------------------- */

Test(signal, chain_continue_runs_the_earlier_handler_ignore_does_not, .timeout = 10) {
        mc_signal_previous prev = {.kind = MC_PREVIOUS_MEMCAP};
        mc_ctx *ctx = ctx_new();
        disposition before;
        collector c;
        int64_t end;

        install_plain(SIGUSR1, SA_RESTART);
        before = disposition_of(SIGUSR1);
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_FOREIGN));
        cr_assert(eq(ptr, (void *) prev.handler, NULL));

        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        end = mono_ms() + 5000;
        while (atomic_load(&plain_calls) == 0 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&plain_calls), 1), "Continue runs the earlier handler");
        cr_assert(eq(int, atomic_load(&plain_last_signo), SIGUSR1));
        cr_assert(ne(int, pthread_equal(plain_thread, c.thread[0]), 0),
                  "the earlier handler runs where memcap's ran, after it");
        cr_assert(eq(int, pthread_equal(c.thread[0], pthread_self()), 0),
                  "handlers run in memcap's thread");

        c.action = MC_SIGNAL_IGNORE;
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));
        sleep_us(100000);
        cr_assert(eq(int, atomic_load(&plain_calls), 1), "Ignore does not pass it on");

        unreg(ctx, SIGUSR1);
        assert_same_disposition(SIGUSR1, before);
        mc_ctx_free(ctx);
}

Test(signal, chain_passes_siginfo_to_an_sa_siginfo_handler, .timeout = 10) {
        int signo = SIGRTMIN + 6;
        mc_signal_previous prev;
        mc_ctx *ctx = ctx_new();
        disposition before;
        collector c;
        int64_t end;

        install_siginfo(signo);
        before = disposition_of(signo);
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, signo, collect, &c, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_FOREIGN));
        cr_assert(eq(int, sigqueue(getpid(), signo, (union sigval){.sival_int = 77}), 0));
        end = mono_ms() + 5000;
        while (atomic_load(&siginfo_calls) == 0 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&siginfo_calls), 1));
        cr_assert(eq(int, siginfo_last.si_signo, signo));
        cr_assert(eq(int, siginfo_last.si_code, SI_QUEUE));
        cr_assert(eq(int, siginfo_last.si_pid, getpid()));
        cr_assert(eq(int, siginfo_last.si_value.sival_int, 77));
        unreg(ctx, signo);
        assert_same_disposition(signo, before);
        mc_ctx_free(ctx);
}

Test(signal, previous_kinds_default_and_ignore) {
        mc_signal_previous prev;
        mc_ctx *ctx = ctx_new();
        disposition before;

        set_disposition(SIGUSR1, SIG_DFL);
        reg(ctx, SIGUSR1, noop_handler, NULL, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_DEFAULT));
        unreg(ctx, SIGUSR1);
        cr_assert(eq(ptr, disposition_of(SIGUSR1).fn, (void *) SIG_DFL));

        set_disposition(SIGUSR2, SIG_IGN);
        before = disposition_of(SIGUSR2);
        reg(ctx, SIGUSR2, noop_handler, NULL, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_IGNORE));
        unreg(ctx, SIGUSR2);
        assert_same_disposition(SIGUSR2, before);
        mc_ctx_free(ctx);
}

Test(signal, stacked_registrations, .timeout = 10) {
        mc_ctx *a = ctx_new(), *b = ctx_new();
        disposition before = disposition_of(SIGUSR2);
        mc_signal_previous prev;
        collector c1, c2, c3;
        mc_error err = MC_ERROR_INIT;

        collector_init(&c1, MC_SIGNAL_CONTINUE);
        collector_init(&c2, MC_SIGNAL_CONTINUE);
        collector_init(&c3, MC_SIGNAL_CONTINUE);
        reg(a, SIGUSR2, collect, &c1, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_DEFAULT));
        reg(b, SIGUSR2, collect, &c2, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_MEMCAP));
        cr_assert(eq(ptr, (void *) prev.handler, (void *) collect));
        cr_assert(eq(ptr, prev.userdata, &c1));

        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c2, 1, 5000), 1), "the newest registration is active");
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c1), 0));

        unreg(b, SIGUSR2);
        cr_assert(not(eq(ptr, disposition_of(SIGUSR2).fn, before.fn)), "still memcap's");
        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c1, 1, 5000), 1), "unregistering the top reactivates "
                                                           "the one below");
        cr_assert(eq(sz, collected(&c2), 1));
        cr_assert(eq(int, mc_signal_unregister_handler(b, SIGUSR2, &err), -ENOENT));

        /* One context twice: unregistering pops its newest. */
        reg(a, SIGUSR2, collect, &c3, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_MEMCAP));
        cr_assert(eq(ptr, prev.userdata, &c1));
        unreg(a, SIGUSR2);
        cr_assert(eq(int, kill(getpid(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c1, 2, 5000), 2));
        cr_assert(eq(sz, collected(&c3), 0));

        /* A lower registration can go first; the top stays active. */
        reg(b, SIGUSR2, collect, &c2, 0, NULL);
        unreg(a, SIGUSR2);
        cr_assert(eq(int, kill(getpid(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c2, 2, 5000), 2));
        unreg(b, SIGUSR2);
        assert_same_disposition(SIGUSR2, before);
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c1), 2));
        mc_ctx_free(a);
        mc_ctx_free(b);
}

/* The block MC_SIGNAL_BLOCK made stays while a registration that asked for it remains. */
Test(signal, block_outlives_the_first_of_two_blocking_registrations) {
        mc_ctx *a = ctx_new(), *b = ctx_new();

        cr_assert(not(thread_blocks(SIGUSR1)));
        reg(a, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        reg(b, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        unreg(a, SIGUSR1);
        cr_assert(thread_blocks(SIGUSR1), "b still asked for the block");
        unreg(b, SIGUSR1);
        cr_assert(not(thread_blocks(SIGUSR1)), "the last one unblocks it");

        /* A registration without the flag does not keep it. */
        reg(a, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        reg(b, SIGUSR1, noop_handler, NULL, 0, NULL);
        unreg(a, SIGUSR1);
        cr_assert(not(thread_blocks(SIGUSR1)));
        unreg(b, SIGUSR1);
        mc_ctx_free(a);
        mc_ctx_free(b);
}

Test(signal, unregister_unknown_is_not_found) {
        mc_ctx *a = ctx_new(), *b = ctx_new();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_signal_unregister_handler(a, SIGUSR1, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        reg(b, SIGUSR1, noop_handler, NULL, 0, NULL);
        cr_assert(eq(int, mc_signal_unregister_handler(a, SIGUSR1, &err), -ENOENT),
                  "another context's registration is not ours");
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(mc__signal_registered(SIGUSR1));
        unreg(b, SIGUSR1);
        cr_assert(eq(int, mc_signal_unregister_handler(b, SIGUSR1, &err), -ENOENT), "only once");
        cr_assert(eq(int, mc_signal_unregister_handler(NULL, SIGUSR1, &err), -EINVAL));
        mc_ctx_free(a);
        mc_ctx_free(b);
}

typedef struct self_unreg {
        mc_ctx *ctx;
        int signo;
        atomic_int calls;
        atomic_int result;
} self_unreg;

static mc_signal_action unregister_myself(const mc_signal_info *info, void *userdata) {
        self_unreg *s = userdata;

        (void) info;
        atomic_store(&s->result, mc_signal_unregister_handler(s->ctx, s->signo, NULL));
        atomic_fetch_add(&s->calls, 1);
        return MC_SIGNAL_CONTINUE;
}

Test(signal, unregister_from_inside_the_handler, .timeout = 10) {
        self_unreg s = {.ctx = ctx_new(), .signo = SIGUSR1, .result = 1};
        disposition before;
        int64_t end;

        set_disposition(SIGUSR1, SIG_IGN);
        before = disposition_of(SIGUSR1);
        reg(s.ctx, SIGUSR1, unregister_myself, &s, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        end = mono_ms() + 5000;
        while (atomic_load(&s.calls) == 0 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&s.calls), 1));
        cr_assert(eq(int, atomic_load(&s.result), 0));
        assert_same_disposition(SIGUSR1, before);
        cr_assert(not(mc__signal_registered(SIGUSR1)));
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        sleep_us(100000);
        cr_assert(eq(int, atomic_load(&s.calls), 1), "not called after it unregistered");
        mc_ctx_free(s.ctx);
}

Test(signal, unregister_waits_for_the_running_handler, .timeout = 10) {
        mc_ctx *ctx = ctx_new();
        collector c;
        int64_t end, t0, ms;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        c.sleep_ms = 200;
        set_disposition(SIGUSR1, SIG_IGN);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        end = mono_ms() + 5000;
        while (atomic_load(&c.entered) == 0 && mono_ms() < end)
                sleep_us(200);
        cr_assert(eq(int, atomic_load(&c.entered), 1));
        t0 = mono_ms();
        unreg(ctx, SIGUSR1);
        ms = mono_ms() - t0;
        cr_assert(eq(int, atomic_load(&c.finished), 1), "unregister returned while it ran");
        cr_assert(ge(i64, ms, 150), "unregister returned after %" PRId64 " ms", ms);
        mc_ctx_free(ctx);
}

/*
 * Instances already handed to memcap's thread when the last handler goes are passed on to the
 * disposition restored, as if they arrived then: they are neither lost nor kept for a later
 * registration.
 */
Test(signal, unregister_passes_on_instances_in_flight, .timeout = 10) {
        int signo = SIGRTMIN + 4;
        mc_ctx *ctx = ctx_new();
        collector c;
        int64_t end;

        install_siginfo(signo);
        collector_init(&c, MC_SIGNAL_IGNORE);
        c.sleep_ms = 300;
        reg(ctx, signo, collect, &c, 0, NULL);
        cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, (union sigval){.sival_int = 1}),
                     0));
        end = mono_ms() + 5000;
        while (atomic_load(&c.entered) == 0 && mono_ms() < end)
                sleep_us(200);
        cr_assert(eq(int, atomic_load(&c.entered), 1));
        /* Forwarded by this thread while the handler is busy: queued for memcap's thread. */
        cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, (union sigval){.sival_int = 2}),
                     0));
        cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, (union sigval){.sival_int = 3}),
                     0));
        unreg(ctx, signo);
        end = mono_ms() + 5000;
        while (atomic_load(&siginfo_calls) < 2 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&siginfo_calls), 2), "the restored handler got them");
        cr_assert(eq(int, siginfo_last.si_value.sival_int, 3));
        cr_assert(eq(sz, collected(&c), 1), "the unregistered handler did not");
        mc_ctx_free(ctx);
}

/* ---- guarded access in the same process ---------------------------------------------------- */

Test(signal, handler_coexists_with_guarded_read, .timeout = 10) {
        size_t pg = mc_page_size();
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_mapping m;
        collector c;
        char *buf = calloc(1, pg), *fill = malloc(2 * pg);
        int fd;

        cr_assert(not(eq(ptr, buf, NULL)));
        cr_assert(not(eq(ptr, fill, NULL)));
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);

        snprintf(data_path, sizeof(data_path), "/tmp/memcap-test-signal-guard-%d", (int) getpid());
        fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        memset(fill, 'x', 2 * pg);
        cr_assert(eq(sz, (size_t) write(fd, fill, 2 * pg), 2 * pg));
        cr_assert(eq(int, mc_map_file(ctx, data_path, MC_PROT_READ, NULL, &m, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, ftruncate(fd, (off_t) pg), 0));

        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, pg, &err), 0), "%s", err.message);
        cr_assert(eq(int, buf[pg - 1], 'x'));
        cr_assert(eq(int, mc_map_read(ctx, &m, pg, buf, pg, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));

        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1), "the handler still works");
        cr_assert(eq(int, mc_map_read(ctx, &m, pg, buf, 1, &err), -EIO), "and so does the guard");
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));

        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0));
        close(fd);
        free(buf);
        free(fill);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}
