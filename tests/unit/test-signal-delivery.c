/* SPDX-License-Identifier: MIT */
/*
 * The core.signal capability as programs rely on it: the seed's two examples (graceful shutdown,
 * waiting for a child), payloads and senders across processes, bursts of realtime signals that lose
 * nothing, storms of standard signals that break nothing.
 *
 * Criterion's worker process has threads of its own that do not block our signals, so a test
 * that depends on which thread takes a process-directed signal (order, waits, default actions)
 * runs in a forked child, which has one thread (see signal-suite.h).
 */

#include "signal-suite.h"

/* ---- the seed's examples ------------------------------------------------------------------ */

/* Seed 4.1: record why we stop, then end the process the way the signal would. */
static mc_signal_action shutdown_handler(const mc_signal_info *info, void *userdata) {
        mc_ctx *ctx = userdata;
        char name[16], fields[64];

        if (!mc_signal_name(info->signal, name, sizeof(name)))
                snprintf(name, sizeof(name), "%d", info->signal);
        snprintf(fields, sizeof(fields), "{\"signal\":\"%s\"}", name);
        (void) mc_ctx_audit_event(ctx, "core.signal", "signal.shutdown", fields, NULL);
        return MC_SIGNAL_TERMINATE;
}

Test(signal, seed_graceful_shutdown, .timeout = 30) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        size_t i_reg = 0, i_event = 0, i_deliver = 0;
        json_t *rec;
        records r;
        pid_t pid;
        char d[96];
        int st;

        snprintf(audit_path, sizeof(audit_path), "/tmp/memcap-test-signal-shutdown-%d.jsonl",
                 (int) getpid());
        pid = spawn_handling(SIGTERM, shutdown_handler, "shutdown");
        cr_assert(eq(int, mc_signal_send(ctx, pid, SIGTERM, NULL, &err), 0), "%s", err.message);
        st = reap(pid);
        cr_assert(killed_by(st, SIGTERM), "the parent must see \"killed by SIGTERM\"; the child %s",
                  describe(st, d, sizeof(d)));

        records_load(&r, audit_path);
        rec = records_find(&r, "signal_register", "ok", 0, &i_reg);
        cr_assert(not(eq(ptr, rec, NULL)), "no register record");
        cr_assert(eq(str, (char *) jstr(rec, "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGTERM"));
        cr_assert(eq(i64, jint(rec, "pid"), pid));

        rec = records_find(&r, "signal.shutdown", "ok", 0, &i_event);
        cr_assert(not(eq(ptr, rec, NULL)), "no shutdown event record");
        cr_assert(eq(str, (char *) jstr(rec, "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(rec, "event.signal"), "SIGTERM"));

        rec = records_find(&r, "signal_deliver", "ok", 0, &i_deliver);
        cr_assert(not(eq(ptr, rec, NULL)), "no deliver record");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGTERM"));
        cr_assert(eq(i64, jint(rec, "request.source_pid"), getpid()));
        cr_assert(eq(i64, jint(rec, "request.source_uid"), getuid()));
        cr_assert(eq(i64, jint(rec, "request.code"), SI_USER));
        cr_assert(eq(str, (char *) jstr(rec, "request.action"), "Terminate"));
        /* The handler writes its event while it runs; the delivery is recorded when it returns. */
        cr_assert(lt(sz, i_reg, i_event));
        cr_assert(lt(sz, i_event, i_deliver));
        records_done(&r);
        mc_ctx_free(ctx);
}

/* Seed 4.2: a SIGCHLD blocked beforehand is taken by the wait, with who and how it ended. */
Test(signal, seed_wait_for_child, .timeout = 30) {
        pid_t pid = spawn();

        if (pid == 0) {
                mc_sigset set = sigset_of(SIGCHLD, 0), prev;
                mc_signal_info info;
                mc_error err = MC_ERROR_INIT;
                mc_ctx *c = NULL;
                pid_t kid;
                int st;

                alarm(20);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_signal_mask(c, &set, &prev, NULL) == 0);
                kid = fork();
                CHILD_CHECK(kid >= 0);
                if (kid == 0)
                        _exit(7);
                CHILD_CHECK(mc_signal_wait(c, &set, INT64_C(5000000000), &info, &err) == 0);
                CHILD_CHECK(info.signal == SIGCHLD);
                CHILD_CHECK(info.source_pid == kid);
                CHILD_CHECK(info.source_uid == getuid());
                CHILD_CHECK(info.code == CLD_EXITED);
                CHILD_CHECK(info.status == 7);
                CHILD_CHECK(info.payload.kind == MC_PAYLOAD_NONE);
                CHILD_CHECK(info.timestamp > 0);
                CHILD_CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
                CHILD_CHECK(mc_signal_unmask(c, &prev, NULL) == 0);
                mc_ctx_free(c);
                _exit(0);
        }
        assert_child_ok(pid);
}

/* Seed 4.2 without a child: TimedOut at the timeout, with the seed's kind. */
Test(signal, seed_wait_without_child_times_out, .timeout = 30) {
        mc_sigset set = sigset_of(SIGCHLD, 0);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        int64_t t0, ms;
        int r;

        t0 = mono_ns();
        r = mc_signal_wait(ctx, &set, INT64_C(5000000000), &info, &err);
        ms = (mono_ns() - t0) / 1000000;
        cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(eq(int, err.sys_errno, ETIMEDOUT));
        cr_assert(eq(str, (char *) mc_error_kind_name(err.kind), "TimedOut"));
        cr_assert(ge(i64, ms, 5000), "returned after %" PRId64 " ms", ms);
        cr_assert(lt(i64, ms, 5500), "returned after %" PRId64 " ms", ms);
        cr_assert(not(thread_blocks(SIGCHLD)), "the wait must restore the mask");
        cr_log_info("5 s wait for SIGCHLD timed out after %" PRId64 " ms", ms);
        mc_ctx_free(ctx);
}

/* ---- payloads and senders across processes ------------------------------------------------ */

/*
 * The delivery of @signo that @c collected, which must be there (else the test fails with
 * @missing) and must say it came from @pid as @uid with @code.
 */
static const mc_signal_info *sent_by(collector *c, int signo, pid_t pid, uid_t uid, int code,
                                     const char *missing) {
        const mc_signal_info *i = find_signal(c, signo);

        cr_assert(not(eq(ptr, (void *) i, NULL)), "%s", missing);
        cr_assert(eq(int, i->source_pid, pid));
        cr_assert(eq(u32, i->source_uid, uid));
        cr_assert(eq(int, i->code, code));
        return i;
}

Test(signal, payload_and_sender_across_processes, .timeout = 30) {
        const uint64_t rt_value = UINT64_C(0xfedcba9876543210),
                       pidfd_value = UINT64_C(0x0123456789abcdef);
        int rt3 = SIGRTMIN + 3, rt4 = SIGRTMIN + 4;
        uid_t want_uid = geteuid() == 0 ? 65534 : getuid();
        const mc_signal_info *i;
        static collector c;
        mc_ctx *ctx = ctx_new();
        pid_t parent = getpid(), pid;

        require_pidfd();
        collect_each(ctx, &c, (const int[]){SIGUSR1, SIGUSR2, SIGHUP, rt3, rt4, 0});

        pid = spawn();
        if (pid == 0) {
                mc_signal_payload p;
                mc_error err = MC_ERROR_INIT;
                mc_ctx *s = NULL;
                int pfd;

                alarm(20);
                /* A real uid of its own makes the reported uid mean something. */
                if (geteuid() == 0)
                        CHILD_CHECK(setresuid(65534, 0, 0) == 0);
                CHILD_CHECK(getuid() == want_uid);
                CHILD_CHECK(mc_ctx_new(&s, NULL) == 0);
                /* The parent is no child of ours: an opt-in target. */
                CHILD_CHECK(ctx_set_targets(s, MC_TARGET_SAME_UID) == 0);
                p = user_data(-123456789);
                CHILD_CHECK(mc_signal_send(s, parent, SIGUSR1, &p, &err) == 0);
                p = real_time(rt_value);
                CHILD_CHECK(mc_signal_send(s, parent, rt3, &p, &err) == 0);
                CHILD_CHECK(mc_signal_send(s, parent, SIGUSR2, NULL, &err) == 0);
                pfd = sig_pidfd_open(parent);
                CHILD_CHECK(pfd >= 0);
                p = real_time(pidfd_value);
                CHILD_CHECK(mc_signal_send_pidfd(s, pfd, rt4, &p, &err) == 0);
                CHILD_CHECK(mc_signal_send_pidfd(s, pfd, SIGHUP, NULL, &err) == 0);
                close(pfd);
                mc_ctx_free(s);
                _exit(0);
        }
        assert_child_ok(pid);
        cr_assert(eq(sz, collector_wait(&c, 5, 5000), 5), "deliveries");
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c), 5), "each signal exactly once");

        i = sent_by(&c, SIGUSR1, pid, want_uid, SI_QUEUE, "a sigqueue(3)-sent signal must arrive");
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_USER_DATA));
        cr_assert(eq(i32, i->payload.user_data, -123456789));
        cr_assert(not(i->source_verified), "sigqueue(3) fills in its sender itself");

        i = sent_by(&c, rt3, pid, want_uid, SI_QUEUE,
                    "a sigqueue(3)-sent real-time signal must arrive");
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_REAL_TIME));
        cr_assert(eq(u64, i->payload.real_time, rt_value), "all 64 bits of the value");
        cr_assert(not(i->source_verified));

        i = sent_by(&c, SIGUSR2, pid, want_uid, SI_USER, "a kill(2)-sent signal must arrive");
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_NONE));
        cr_assert(i->source_verified, "the kernel fills in kill(2)'s sender");

        i = sent_by(&c, rt4, pid, want_uid, SI_QUEUE, "a pidfd signal with a payload must arrive");
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_REAL_TIME));
        cr_assert(eq(u64, i->payload.real_time, pidfd_value));
        cr_assert(not(i->source_verified), "a pidfd signal with a siginfo is the sender's word");

        i = sent_by(&c, SIGHUP, pid, want_uid, SI_USER,
                    "a pidfd signal without payload must arrive");
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_NONE));
        cr_assert(i->source_verified);
        cr_assert(gt(i64, i->timestamp, 0));
        mc_ctx_free(ctx);
}

/* ---- bursts and storms --------------------------------------------------------------------- */

#define BURST_TAG UINT64_C(0xa5a5000000000000)

typedef struct burst {
        size_t n;
        uint64_t *seen; /* payloads in the order the handler got them */
        atomic_size_t count;
        int mode; /* 0: every 100th call sleeps 5 ms; 1: every call sleeps 50 us */
} burst;

typedef struct burst_result {
        uint64_t received, missing, duplicates, foreign, out_of_order, lost;
        int64_t first_bad, elapsed_ms;
} burst_result;

static mc_signal_action burst_handler(const mc_signal_info *info, void *userdata) {
        burst *b = userdata;
        size_t k = atomic_load(&b->count);

        if (k < b->n)
                b->seen[k] = info->payload.kind == MC_PAYLOAD_REAL_TIME ? info->payload.real_time
                                                                        : UINT64_MAX;
        atomic_store(&b->count, k + 1);
        if (b->mode == 1)
                sleep_us(50);
        else if (k % 100 == 99)
                sleep_us(5000);
        return MC_SIGNAL_CONTINUE;
}

/* How many realtime signals may queue: 10,000, or less when RLIMIT_SIGPENDING is lower. */
static size_t burst_size(void) {
        struct rlimit rl;
        size_t n = 10000;

        cr_assert(eq(int, getrlimit(RLIMIT_SIGPENDING, &rl), 0));
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 1000) {
                n = rl.rlim_cur > 2000 ? (size_t) rl.rlim_cur - 1000 : (size_t) rl.rlim_cur / 2;
                cr_log_warn("RLIMIT_SIGPENDING is %llu: scaled the burst down to %zu signals",
                            (unsigned long long) rl.rlim_cur, n);
        }
        return n;
}

/*
 * The receiver: a one-thread child that registers @signo (@flags), says it is ready, counts
 * what its slow handler gets and writes a burst_result to @out.
 */
static void burst_receiver(int signo, unsigned flags, int mode, size_t n, int ready, int out) {
        burst b = {.n = n, .mode = mode};
        burst_result res = {.first_bad = -1};
        uint8_t *hits;
        mc_ctx *c = NULL;
        int64_t t0, deadline;

        alarm(110);
        b.seen = calloc(n, sizeof(*b.seen));
        hits = calloc(n, 1);
        CHILD_CHECK(b.seen && hits);
        atomic_init(&b.count, 0);
        CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
        CHILD_CHECK(mc_signal_register_handler(c, signo, burst_handler, &b, flags, NULL, NULL) ==
                    0);
        CHILD_CHECK(write_all(ready, "r", 1));
        t0 = mono_ms();
        deadline = t0 + 90000;
        while (atomic_load(&b.count) < n && mono_ms() < deadline)
                sleep_us(2000);
        res.elapsed_ms = mono_ms() - t0;
        sleep_us(300000); /* anything beyond n would arrive now */
        res.received = atomic_load(&b.count);
        for (size_t k = 0; k < n && k < res.received; k++) {
                uint64_t v = b.seen[k], idx = v & 0xffffffff;

                if ((v & ~UINT64_C(0xffffffff)) != BURST_TAG || idx >= n) {
                        res.foreign++;
                        continue;
                }
                if (hits[idx]++)
                        res.duplicates++;
                if (idx != k) {
                        res.out_of_order++;
                        if (res.first_bad < 0)
                                res.first_bad = (int64_t) k;
                }
        }
        for (size_t k = 0; k < n; k++)
                res.missing += hits[k] == 0;
        res.lost = mc__signal_lost();
        CHILD_CHECK(write_all(out, &res, sizeof(res)));
        _exit(0);
}

/* Send @n tagged realtime signals to @pid as fast as the queue takes them; the EAGAIN retries. */
static uint64_t burst_send(mc_ctx *ctx, pid_t pid, int signo, size_t n) {
        mc_error err = MC_ERROR_INIT;
        uint64_t retries = 0;

        for (size_t i = 0; i < n; i++) {
                mc_signal_payload p = real_time(BURST_TAG | i);
                int r;

                while ((r = mc_signal_send(ctx, pid, signo, &p, &err)) == -EAGAIN) {
                        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
                        retries++;
                        sleep_us(200);
                }
                cr_assert(eq(int, r, 0), "signal %zu: %s", i, err.message);
        }
        return retries;
}

static void burst_run(unsigned flags, int mode, bool want_order) {
        int signo = SIGRTMIN + 1, ready[2], out[2];
        size_t n = burst_size();
        mc_ctx *ctx = ctx_new();
        burst_result res;
        uint64_t retries;
        int64_t t0;
        pid_t pid;

        pipe_new(ready);
        pipe_new(out);
        pid = spawn();
        if (pid == 0)
                burst_receiver(signo, flags, mode, n, ready[1], out[1]);
        ready_wait(ready[0]);
        t0 = mono_ms();
        retries = burst_send(ctx, pid, signo, n);
        cr_log_info("sent %zu realtime signals in %" PRId64 " ms (%" PRIu64 " EAGAIN retries)", n,
                    mono_ms() - t0, retries);
        cr_assert(read_within(out[0], &res, sizeof(res), 100000), "no result from the receiver");
        assert_child_ok(pid);
        cr_log_info("%s, %s handler: %" PRIu64 " received in %" PRId64 " ms, %" PRIu64
                    " out of order",
                    flags & MC_SIGNAL_BLOCK ? "MC_SIGNAL_BLOCK" : "no block",
                    mode ? "50 us" : "5 ms every 100th", res.received, res.elapsed_ms,
                    res.out_of_order);
        cr_assert(eq(u64, res.received, n), "every signal exactly once");
        cr_assert(eq(u64, res.missing, 0));
        cr_assert(eq(u64, res.duplicates, 0));
        cr_assert(eq(u64, res.foreign, 0), "each with its own payload");
        cr_assert(eq(u64, res.lost, 0), "memcap counted lost signals");
        if (want_order)
                cr_assert(eq(u64, res.out_of_order, 0),
                          "in order (first out of place: #%" PRId64 ")", res.first_bad);
        close(ready[0]);
        close(ready[1]);
        close(out[0]);
        close(out[1]);
        mc_ctx_free(ctx);
}

Test(signal, realtime_burst_blocked_loses_none_in_order, .timeout = 150) {
        burst_run(MC_SIGNAL_BLOCK, 0, true);
}

Test(signal, realtime_burst_blocked_slow_handler_in_order, .timeout = 150) {
        burst_run(MC_SIGNAL_BLOCK, 1, true);
}

/*
 * Without MC_SIGNAL_BLOCK the thread a signal interrupts and memcap's thread (reading the
 * process queue) both take instances, so the header promises no order here: nothing is lost and
 * each keeps its payload; how many came out of order is logged.
 */
Test(signal, realtime_burst_unblocked_single_thread_loses_none, .timeout = 150) {
        burst_run(0, 0, false);
}

typedef struct storm_reply {
        uint64_t count;
        int64_t probe;
} storm_reply;

static atomic_uint_fast64_t storm_count;
static atomic_int_fast64_t storm_probe;

static mc_signal_action storm_handler(const mc_signal_info *info, void *userdata) {
        (void) userdata;
        if (info->signal == SIGUSR1)
                atomic_fetch_add(&storm_count, 1);
        else
                atomic_store(&storm_probe, info->payload.real_time);
        return MC_SIGNAL_CONTINUE;
}

/* The receiver answers every 'p' on @cmd with a storm_reply on @out from its main thread. */
static void storm_receiver(int cmd, int out, int ready) {
        mc_ctx *c = NULL;

        alarm(110);
        CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
        CHILD_CHECK(mc_signal_register_handler(c, SIGUSR1, storm_handler, NULL, 0, NULL, NULL) ==
                    0);
        CHILD_CHECK(mc_signal_register_handler(c, SIGRTMIN + 1, storm_handler, NULL, 0, NULL,
                                               NULL) == 0);
        CHILD_CHECK(write_all(ready, "r", 1));
        for (;;) {
                storm_reply rep;
                char k;
                ssize_t n = read(cmd, &k, 1);

                if (n < 0 && errno == EINTR)
                        continue;
                CHILD_CHECK(n == 1);
                if (k == 'q')
                        _exit(0);
                rep.count = atomic_load(&storm_count);
                rep.probe = atomic_load(&storm_probe);
                CHILD_CHECK(write_all(out, &rep, sizeof(rep)));
        }
}

static storm_reply storm_ping(int cmd, int out, int64_t *max_ms) {
        int64_t t0 = mono_ms(), ms;
        storm_reply rep;

        cr_assert(write_all(cmd, "p", 1));
        cr_assert(read_within(out, &rep, sizeof(rep), 5000),
                  "the receiver did not answer within 5 s");
        ms = mono_ms() - t0;
        if (ms > *max_ms)
                *max_ms = ms;
        return rep;
}

Test(signal, standard_signal_storm_never_deadlocks, .timeout = 150) {
        int cmd[2], out[2], ready[2], st;
        int64_t t0, max_ms = 0, storm_ms;
        storm_reply rep;
        pid_t recv, snd[2];
        size_t pings = 0;
        char d[96];

        pipe_new(cmd);
        pipe_new(out);
        pipe_new(ready);
        recv = spawn();
        if (recv == 0)
                storm_receiver(cmd[0], out[1], ready[1]);
        ready_wait(ready[0]);
        t0 = mono_ms();
        for (int k = 0; k < 2; k++) {
                snd[k] = spawn();
                if (snd[k] == 0) {
                        alarm(100);
                        for (int i = 0; i < 100000; i++)
                                CHILD_CHECK(kill(recv, SIGUSR1) == 0);
                        _exit(0);
                }
        }
        /* Stays responsive during the storm. */
        for (;;) {
                pid_t w = waitpid(-1, &st, WNOHANG);

                if (w == snd[0] || w == snd[1]) {
                        for (int k = 0; k < 2; k++)
                                if (w == snd[k])
                                        snd[k] = 0;
                        cr_assert(exited_with(st, 0), "sender %s", describe(st, d, sizeof(d)));
                        if (!snd[0] && !snd[1])
                                break;
                        continue;
                }
                cr_assert(not(eq(int, w, recv)), "the receiver died during the storm");
                (void) storm_ping(cmd[1], out[0], &max_ms);
                pings++;
                sleep_us(20000);
        }
        storm_ms = mono_ms() - t0;
        for (size_t i = 0; i < n_kids; i++)
                if (kids[i] != recv)
                        kids[i] = 0;

        rep = storm_ping(cmd[1], out[0], &max_ms);
        cr_assert(ge(u64, rep.count, 1), "the handler never ran");
        /* The dispatcher still works after the storm. */
        cr_assert(eq(int, sigqueue(recv, SIGRTMIN + 1, (union sigval){.sival_ptr = (void *) 4242}),
                     0));
        for (int64_t end = mono_ms() + 5000; rep.probe != 4242 && mono_ms() < end;) {
                sleep_us(5000);
                rep = storm_ping(cmd[1], out[0], &max_ms);
        }
        cr_assert(eq(i64, rep.probe, 4242), "a signal after the storm did not arrive");
        cr_assert(write_all(cmd[1], "q", 1));
        assert_child_ok(recv);
        cr_log_info("200,000 SIGUSR1 in %" PRId64 " ms: handler ran %" PRIu64
                    " times; %zu pings, slowest answer %" PRId64 " ms",
                    storm_ms, rep.count, pings, max_ms);
        close(cmd[0]);
        close(cmd[1]);
        close(out[0]);
        close(out[1]);
        close(ready[0]);
        close(ready[1]);
}

/* Waits for the @n-th delivery to @c, which must be @kid's SIGCHLD with @code and @status. */
static const mc_signal_info *child_event(collector *c, size_t n, pid_t kid, int code, int status) {
        const mc_signal_info *i = &c->info[n - 1];

        cr_assert(eq(sz, collector_wait(c, n, 5000), n));
        cr_assert(eq(int, i->source_pid, kid));
        cr_assert(eq(int, i->code, code));
        cr_assert(eq(int, i->status, status));
        return i;
}

/*
 * SIGCHLD to a handler: who ended and how, whether memcap's thread read it straight from the
 * process queue or another thread handed it on (while memcap's thread was busy).
 */
Test(signal, sigchld_handler_gets_child_and_status, .timeout = 20) {
        mc_ctx *ctx = ctx_new();
        collector c, slow;
        siginfo_t si;
        pid_t kid;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        collector_init(&slow, MC_SIGNAL_CONTINUE);
        slow.sleep_ms = 300;
        reg(ctx, SIGCHLD, collect, &c, 0, NULL);
        reg(ctx, SIGRTMIN + 5, collect, &slow, 0, NULL);

        kid = spawn();
        if (kid == 0)
                _exit(7);
        cr_assert(eq(u32, child_event(&c, 1, kid, CLD_EXITED, 7)->source_uid, getuid()));
        (void) reap(kid);

        /* memcap's thread is busy: the SIGCHLD goes through the forwarding handler. */
        cr_assert(eq(int, sigqueue(getpid(), SIGRTMIN + 5, (union sigval){.sival_int = 0}), 0));
        while (atomic_load(&slow.entered) == 0)
                sleep_us(200);
        kid = spawn();
        if (kid == 0)
                _exit(9);
        cr_assert(eq(int, waitid(P_PID, (id_t) kid, &si, WEXITED | WNOWAIT), 0));
        cr_assert(eq(u32, child_event(&c, 2, kid, CLD_EXITED, 9)->source_uid, getuid()));
        (void) reap(kid);

        kid = spawn();
        if (kid == 0) {
                for (;;)
                        pause();
        }
        cr_assert(eq(int, kill(kid, SIGKILL), 0));
        child_event(&c, 3, kid, CLD_KILLED, SIGKILL);
        (void) reap(kid);
        unreg(ctx, SIGCHLD);
        unreg(ctx, SIGRTMIN + 5);
        mc_ctx_free(ctx);
}
