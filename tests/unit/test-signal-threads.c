/* SPDX-License-Identifier: MIT */
/*
 * The core.signal capability as programs rely on it: threads, timed waits, masks, and registrations
 * that are refused.
 *
 * Criterion's worker process has threads of its own that do not block our signals, so a test
 * that depends on which thread takes a process-directed signal (order, waits, default actions)
 * runs in a forked child, which has one thread (see signal-suite.h).
 */

#include "signal-suite.h"

/* ---- threads ------------------------------------------------------------------------------- */

#define THREAD_PAYLOADS 600
#define THREAD_TKILLS   20

static atomic_int payload_hits[THREAD_PAYLOADS];
static atomic_int tkill_hits, other_hits;

static mc_signal_action count_payload(const mc_signal_info *info, void *userdata) {
        (void) userdata;
        if (info->payload.kind == MC_PAYLOAD_NONE && is_tkill_code(info->code) &&
            info->source_pid == getpid())
                atomic_fetch_add(&tkill_hits, 1);
        else if (info->payload.kind == MC_PAYLOAD_REAL_TIME &&
                 info->payload.real_time < THREAD_PAYLOADS)
                atomic_fetch_add(&payload_hits[info->payload.real_time], 1);
        else
                atomic_fetch_add(&other_hits, 1);
        return MC_SIGNAL_CONTINUE;
}

typedef struct idler {
        pthread_t thread;
        atomic_int tid;
        atomic_bool stop, unblock;
        int signo;
} idler;

static void *idle_main(void *arg) {
        idler *t = arg;

        atomic_store(&t->tid, (int) gettid());
        while (!atomic_load(&t->stop)) {
                if (atomic_exchange(&t->unblock, false)) {
                        sigset_t one;

                        sigemptyset(&one);
                        sigaddset(&one, t->signo);
                        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
                }
                sleep_us(1000);
        }
        return NULL;
}

static void idler_start(idler *t, int signo) {
        memset(t, 0, sizeof(*t));
        t->signo = signo;
        cr_assert(eq(int, pthread_create(&t->thread, NULL, idle_main, t), 0));
        while (atomic_load(&t->tid) == 0)
                sleep_us(100);
}

static void idler_stop(idler *t) {
        atomic_store(&t->stop, true);
        pthread_join(t->thread, NULL);
}

static int sum_payload_hits(void) {
        int sum = 0;

        for (int i = 0; i < THREAD_PAYLOADS; i++)
                sum += atomic_load(&payload_hits[i]);
        return sum;
}

Test(signal, threads_before_and_after_registration_each_once, .timeout = 30) {
        int signo = SIGRTMIN + 2;
        mc_ctx *ctx = ctx_new();
        idler before, after;
        pid_t me = getpid(), pid;
        int64_t end;

        idler_start(&before, signo);
        reg(ctx, signo, count_payload, NULL, 0, NULL);
        idler_start(&after, signo);

        for (int i = 0; i < 100; i++) {
                union sigval v;

                v.sival_ptr = (void *) (uintptr_t) i;
                cr_assert(eq(int, sigqueue(me, signo, v), 0)); /* the process */
                v.sival_ptr = (void *) (uintptr_t) (100 + i);
                cr_assert(eq(int, pthread_sigqueue(before.thread, signo, v), 0));
                v.sival_ptr = (void *) (uintptr_t) (200 + i);
                cr_assert(eq(int, pthread_sigqueue(after.thread, signo, v), 0));
                v.sival_ptr = (void *) (uintptr_t) (300 + i);
                cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, v), 0));
        }
        for (int i = 0; i < THREAD_TKILLS / 2; i++) {
                cr_assert(eq(int, pthread_kill(before.thread, signo), 0));
                cr_assert(
                        eq(int, (int) syscall(SYS_tgkill, me, atomic_load(&after.tid), signo), 0));
        }
        /* From another process: to the process, and to one thread of it. */
        pid = spawn();
        if (pid == 0) {
                for (int i = 0; i < 100; i++) {
                        siginfo_t si;

                        CHILD_CHECK(sigqueue(me, signo,
                                             (union sigval){
                                                     .sival_ptr =
                                                             (void *) (uintptr_t) (400 + i)}) == 0);
                        memset(&si, 0, sizeof(si));
                        si.si_signo = signo;
                        si.si_code = SI_QUEUE;
                        si.si_pid = getpid();
                        si.si_uid = getuid();
                        si.si_value.sival_ptr = (void *) (uintptr_t) (500 + i);
                        CHILD_CHECK(syscall(SYS_rt_tgsigqueueinfo, me, atomic_load(&after.tid),
                                            signo, &si) == 0);
                }
                _exit(0);
        }
        assert_child_ok(pid);

        end = mono_ms() + 10000;
        while ((sum_payload_hits() < THREAD_PAYLOADS || atomic_load(&tkill_hits) < THREAD_TKILLS) &&
               mono_ms() < end)
                sleep_us(1000);
        sleep_us(100000);
        for (int i = 0; i < THREAD_PAYLOADS; i++)
                cr_assert(eq(int, atomic_load(&payload_hits[i]), 1), "payload %d arrived %d times",
                          i, atomic_load(&payload_hits[i]));
        cr_assert(eq(int, atomic_load(&tkill_hits), THREAD_TKILLS),
                  "pthread_kill/tgkill instances");
        cr_assert(eq(int, atomic_load(&other_hits), 0));
        idler_stop(&before);
        idler_stop(&after);
        unreg(ctx, signo);
        mc_ctx_free(ctx);
}

/*
 * With MC_SIGNAL_BLOCK, a thread created afterwards inherits the block: a signal sent to that
 * one thread waits in its queue until it unblocks the signal, and then arrives once. Threads
 * from before the registration and the process as a whole are served at once.
 */
Test(signal, blocked_thread_signal_arrives_when_it_unblocks, .timeout = 30) {
        int signo = SIGRTMIN + 2;
        mc_ctx *ctx = ctx_new();
        idler before, after;
        union sigval v;
        int64_t end;

        idler_start(&before, signo);
        reg(ctx, signo, count_payload, NULL, MC_SIGNAL_BLOCK, NULL);
        idler_start(&after, signo);
        cr_assert(thread_blocks(signo), "MC_SIGNAL_BLOCK blocks it in the calling thread");

        v.sival_ptr = (void *) 1;
        cr_assert(eq(int, sigqueue(getpid(), signo, v), 0));
        v.sival_ptr = (void *) 2;
        cr_assert(eq(int, pthread_sigqueue(before.thread, signo, v), 0));
        v.sival_ptr = (void *) 3;
        cr_assert(eq(int, pthread_sigqueue(after.thread, signo, v), 0));
        end = mono_ms() + 5000;
        while ((atomic_load(&payload_hits[1]) == 0 || atomic_load(&payload_hits[2]) == 0) &&
               mono_ms() < end)
                sleep_us(1000);
        sleep_us(100000);
        cr_assert(eq(int, atomic_load(&payload_hits[1]), 1));
        cr_assert(eq(int, atomic_load(&payload_hits[2]), 1));
        cr_assert(eq(int, atomic_load(&payload_hits[3]), 0),
                  "still pending in the blocking thread");

        atomic_store(&after.unblock, true);
        end = mono_ms() + 5000;
        while (atomic_load(&payload_hits[3]) == 0 && mono_ms() < end)
                sleep_us(1000);
        sleep_us(50000);
        cr_assert(eq(int, atomic_load(&payload_hits[3]), 1));
        cr_assert(eq(int, atomic_load(&other_hits), 0));
        idler_stop(&before);
        idler_stop(&after);
        unreg(ctx, signo);
        cr_assert(not(thread_blocks(signo)), "unregistering from the same thread unblocks it");
        mc_ctx_free(ctx);
}

/* ---- waits --------------------------------------------------------------------------------- */

Test(signal, wait_timeouts_are_accurate, .timeout = 30) {
        static const int64_t timeouts[] = {100, 300};
        mc_ctx *ctx = ctx_new();

        for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
                mc_error err = MC_ERROR_INIT;
                int64_t ms;
                int r;

                ms = timed_wait_ms(ctx, SIGUSR2, timeouts[i], &r, &err);
                cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
                cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
                cr_assert(ge(i64, ms, timeouts[i]), "%" PRId64 " ms wait returned after %" PRId64,
                          timeouts[i], ms);
                cr_assert(lt(i64, ms, timeouts[i] + 100),
                          "%" PRId64 " ms wait returned after %" PRId64, timeouts[i], ms);
                cr_log_info("%" PRId64 " ms wait timed out after %" PRId64 " ms", timeouts[i], ms);
        }
        cr_assert(not(thread_blocks(SIGUSR2)));
        mc_ctx_free(ctx);
}

Test(signal, wait_zero_polls, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, 0), prev;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        int64_t ms;
        int r;

        ms = timed_wait_ms(ctx, SIGUSR2, 0, &r, &err);
        cr_assert(eq(int, r, -ETIMEDOUT));
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(lt(i64, ms, 50), "a poll took %" PRId64 " ms", ms);

        /* A pending signal is taken at once. */
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), 0), "%s", err.message);
        cr_assert(eq(int, info.signal, SIGUSR2));
        cr_assert(is_tkill_code(info.code), "code %d", info.code);
        cr_assert(eq(int, info.source_pid, getpid()));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -ETIMEDOUT), "taken once");
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        mc_ctx_free(ctx);
}

typedef struct kicker {
        pthread_t target;
        int signo;
        int delay_ms;
        int times;
} kicker;

static void *kick_main(void *arg) {
        kicker *k = arg;

        for (int i = 0; i < k->times; i++) {
                sleep_us(k->delay_ms * 1000L);
                pthread_kill(k->target, k->signo);
        }
        return NULL;
}

static pthread_t kick_later(kicker *k, int signo, int delay_ms, int times) {
        pthread_t t;

        k->target = pthread_self();
        k->signo = signo;
        k->delay_ms = delay_ms;
        k->times = times;
        cr_assert(eq(int, pthread_create(&t, NULL, kick_main, k), 0));
        return t;
}

Test(signal, wait_interrupted_resumes_to_the_deadline, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        pthread_t t;
        kicker k;
        int64_t ms;
        int r;

        install_plain(SIGALRM, 0); /* no SA_RESTART: sigtimedwait fails with EINTR */
        t = kick_later(&k, SIGALRM, 60, 3);
        ms = timed_wait_ms(ctx, SIGUSR2, 300, &r, &err);
        pthread_join(t, NULL);
        cr_assert(eq(int, atomic_load(&plain_calls), 3), "the other signal's handler ran");
        cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
        cr_assert(ge(i64, ms, 300), "returned after %" PRId64 " ms", ms);
        cr_assert(lt(i64, ms, 400), "returned after %" PRId64 " ms", ms);
        cr_log_info("300 ms wait interrupted 3 times timed out after %" PRId64 " ms", ms);
        mc_ctx_free(ctx);
}

Test(signal, wait_forever_returns_when_the_signal_comes, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, SIGRTMIN);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        pthread_t t;
        kicker k;
        int64_t t0 = mono_ms(), ms;

        t = kick_later(&k, SIGUSR2, 150, 1);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, MC_WAIT_FOREVER, &info, &err), 0), "%s",
                  err.message);
        ms = mono_ms() - t0;
        pthread_join(t, NULL);
        cr_assert(eq(int, info.signal, SIGUSR2));
        cr_assert(eq(int, info.source_pid, getpid()));
        cr_assert(eq(u32, info.source_uid, getuid()));
        cr_assert(ge(i64, ms, 140), "returned after %" PRId64 " ms, before the signal", ms);
        cr_assert(not(thread_blocks(SIGUSR2)), "the mask is restored");
        mc_ctx_free(ctx);
}

Test(signal, wait_rejects_bad_sets_and_timeouts) {
        mc_sigset set = MC_SIGSET_EMPTY;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        uint64_t mask = current_mask();
        collector c;

        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "an empty set");
        set = sigset_of(SIGUSR2, SIGKILL);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "SIGKILL");
        set = sigset_of(SIGSTOP, 0);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "SIGSTOP");
        /* glibc keeps 32 and 33 for itself: a wait for them alone would wait for nothing. */
        set = sigset_of(32, 0);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, MC_WAIT_FOREVER, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "signal 32");
        set = sigset_of(SIGUSR2, 0);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, -2, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "a negative timeout");
        cr_assert(eq(int, mc_signal_wait(ctx, NULL, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_wait(NULL, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));

        /* A registered signal belongs to its handler. */
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EBUSY));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(not(eq(ptr, strstr(err.message, "handler"), NULL)), "%s", err.message);
        unreg(ctx, SIGUSR2);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -ETIMEDOUT),
                  "after unregistering it may be waited for");
        cr_assert(eq(u64, current_mask(), mask), "no failed wait changed the mask");
        mc_ctx_free(ctx);
}

/*
 * After the last handler of a signal is gone, memcap's thread must not take that signal any
 * more: a wait for it (or the restored disposition) gets every instance.
 */
Test(signal, unregistered_signal_goes_to_the_waiter, .timeout = 60) {
        pid_t pid = spawn();

        if (pid == 0) {
                mc_sigset set = sigset_of(SIGUSR1, 0), prev;
                mc_signal_info info;
                collector c;
                mc_ctx *ctx = NULL;

                alarm(50);
                collector_init(&c, MC_SIGNAL_CONTINUE);
                CHILD_CHECK(mc_ctx_new(&ctx, NULL) == 0);
                CHILD_CHECK(mc_signal_register_handler(ctx, SIGUSR1, collect, &c, 0, NULL, NULL) ==
                            0);
                CHILD_CHECK(mc_signal_unregister_handler(ctx, SIGUSR1, NULL) == 0);
                CHILD_CHECK(mc_signal_mask(ctx, &set, &prev, NULL) == 0);
                for (int i = 0; i < 300; i++) {
                        CHILD_CHECK(kill(getpid(), SIGUSR1) == 0);
                        CHILD_CHECK(mc_signal_wait(ctx, &set, INT64_C(2000000000), &info, NULL) ==
                                    0);
                        CHILD_CHECK(info.signal == SIGUSR1);
                }
                CHILD_CHECK(collected(&c) == 0);
                mc_ctx_free(ctx);
                _exit(0);
        }
        assert_child_ok(pid);
}

/* ---- masks --------------------------------------------------------------------------------- */

Test(signal, mask_unmask_round_trip) {
        mc_sigset set = sigset_of(SIGUSR1, SIGRTMIN + 5), prev = {UINT64_MAX}, prev2;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        sigset_t hup;
        uint64_t orig;

        /* Something blocked before, so the previous mask is not just empty. */
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        cr_assert(eq(int, pthread_sigmask(SIG_BLOCK, &hup, NULL), 0));
        orig = current_mask();

        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(u64, prev.bits, orig), "mask returns the whole previous mask");
        cr_assert(eq(u64, current_mask(), orig | set.bits));
        cr_assert(thread_blocks(SIGUSR1) && thread_blocks(SIGRTMIN + 5) && thread_blocks(SIGHUP));

        /* Masking again adds; its previous is the first call's result. */
        set = sigset_of(SIGTERM, 0);
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev2, &err), 0), "%s", err.message);
        cr_assert(eq(u64, prev2.bits, orig | sigset_of(SIGUSR1, SIGRTMIN + 5).bits));
        cr_assert(eq(u64, current_mask(), prev2.bits | bit(SIGTERM)));

        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(u64, current_mask(), orig), "unmask restores the mask exactly");
        cr_assert(thread_blocks(SIGHUP), "what was blocked before stays blocked");

        /* The previous mask is optional. */
        set = sigset_of(SIGUSR2, 0);
        cr_assert(eq(int, mc_signal_mask(ctx, &set, NULL, &err), 0), "%s", err.message);
        cr_assert(thread_blocks(SIGUSR2));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        cr_assert(eq(u64, current_mask(), orig));
        mc_ctx_free(ctx);
}

Test(signal, mask_is_per_thread, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR1, 0), prev;
        mc_ctx *ctx = ctx_new();
        idler t;
        char path[96], line[128];
        uint64_t blk = UINT64_MAX;
        FILE *f;

        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, NULL), 0));
        idler_start(&t, SIGUSR1); /* inherits the block: created after */
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, NULL), 0));
        cr_assert(not(thread_blocks(SIGUSR1)));
        snprintf(path, sizeof(path), "/proc/self/task/%d/status", atomic_load(&t.tid));
        f = fopen(path, "re");
        cr_assert(not(eq(ptr, f, NULL)));
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "SigBlk: %" SCNx64, &blk) == 1)
                        break;
        fclose(f);
        cr_assert(ne(u64, blk & bit(SIGUSR1), 0), "the other thread keeps its own mask");
        idler_stop(&t);
        mc_ctx_free(ctx);
}

Test(signal, mask_refuses_kill_stop_and_unknown_signals) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        uint64_t orig = current_mask();
        mc_sigset set, prev = {42};
        static const int bad[] = {SIGKILL, SIGSTOP, 32, 33};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                set = sigset_of(SIGUSR1, bad[i]);
                cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), -EINVAL), "signal %d",
                          bad[i]);
                cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "signal %d", bad[i]);
                cr_assert(eq(u64, prev.bits, 42), "ret_previous untouched on failure");
                cr_assert(eq(u64, current_mask(), orig), "nothing blocked on failure");
        }
        cr_assert(eq(int, mc_signal_mask(ctx, NULL, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        prev.bits = orig | bit(32);
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_unmask(ctx, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        set = sigset_of(SIGUSR1, 0);
        cr_assert(eq(int, mc_signal_mask(NULL, &set, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(u64, current_mask(), orig));
        mc_ctx_free(ctx);
}

/* ---- registration refusals ------------------------------------------------------------------- */

#define assert_register_fails(ctx, signo, fn, flags, want_kind)                                    \
        do {                                                                                       \
                mc_error e_ = MC_ERROR_INIT;                                                       \
                disposition d_ =                                                                   \
                        (signo) >= 1 && (signo) <= SIGRTMAX && (signo) != 32 && (signo) != 33      \
                                ? disposition_of(signo)                                            \
                                : (disposition){0};                                                \
                cr_assert(eq(int,                                                                  \
                             mc_signal_register_handler(ctx, signo, fn, NULL, flags, NULL, &e_),   \
                             -EINVAL),                                                             \
                          "register %d", (signo));                                                 \
                cr_assert(eq(int, e_.kind, want_kind), "register %d: %s", (signo), e_.message);    \
                if ((signo) >= 1 && (signo) <= SIGRTMAX && (signo) != 32 && (signo) != 33)         \
                        assert_same_disposition(signo, d_);                                        \
        } while (0)

Test(signal, register_refuses_uncatchable_signals) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();

        assert_register_fails(ctx, SIGKILL, noop_handler, 0, MC_ERR_INVALID_SIGNAL);
        assert_register_fails(ctx, SIGSTOP, noop_handler, 0, MC_ERR_INVALID_SIGNAL);
        cr_assert(eq(int,
                     mc_signal_register_handler(ctx, SIGKILL, noop_handler, NULL, 0, NULL, &err),
                     -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "SIGKILL"), NULL)), "%s", err.message);
        cr_assert(not(dispatcher_running()), "a refusal starts nothing");
        mc_ctx_free(ctx);
}

Test(signal, register_refuses_fault_signals) {
        static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
        mc_ctx *ctx = ctx_new();

        for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
                mc_error err = MC_ERROR_INIT;

                assert_register_fails(ctx, faults[i], noop_handler, 0, MC_ERR_INVALID_SIGNAL);
                cr_assert(eq(int,
                             mc_signal_register_handler(ctx, faults[i], noop_handler, NULL, 0, NULL,
                                                        &err),
                             -EINVAL));
                cr_assert(not(eq(ptr, strstr(err.message, "mc_map_read"), NULL)), "%s",
                          err.message);
        }
        cr_assert(not(dispatcher_running()));
        mc_ctx_free(ctx);
}

Test(signal, register_refuses_bad_numbers_null_handler_and_flags) {
        static const int bad[] = {0, -1, -15, 32, 33, 65, 1000, INT32_MIN};
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_register_fails(ctx, bad[i], noop_handler, 0, MC_ERR_INVALID_SIGNAL);
        assert_register_fails(ctx, SIGUSR1, NULL, 0, MC_ERR_INVALID_ARGUMENT);
        assert_register_fails(ctx, SIGUSR1, noop_handler, 0x10, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int,
                     mc_signal_register_handler(NULL, SIGUSR1, noop_handler, NULL, 0, NULL, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_unregister_handler(ctx, 0, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_unregister_handler(ctx, 65, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(not(dispatcher_running()));
        cr_assert(eq(u64, signalfd_watched(), 0));
        mc_ctx_free(ctx);
}

Test(signal, register_accepts_the_realtime_range_bounds, .timeout = 10) {
        int lo = mc_signal_rt_min(), hi = mc_signal_rt_max();
        collector c;
        mc_ctx *ctx;

        MC_SKIP_UNDER_VALGRIND("valgrind keeps SIGRTMAX for itself");
        ctx = ctx_new();
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, lo, collect, &c, 0, NULL);
        reg(ctx, hi, collect, &c, 0, NULL);
        cr_assert(eq(int, sigqueue(getpid(), lo, (union sigval){.sival_int = 1}), 0));
        cr_assert(eq(int, sigqueue(getpid(), hi, (union sigval){.sival_int = 2}), 0));
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));
        unreg(ctx, lo);
        unreg(ctx, hi);
        mc_ctx_free(ctx);
}
