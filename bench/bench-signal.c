/* SPDX-License-Identifier: MIT */
/*
 * bench-signal: what memcap's signal capability costs over the raw system calls.
 *
 * One process, A, talks to receivers B forked from it, one per variant, all alive for the
 * whole run so every variant meets the same machine: B "raw" takes requests with sigwaitinfo()
 * and answers with sigqueue(); B "memcap handler" registers a memcap handler with
 * MC_SIGNAL_BLOCK before it has any thread (so instances go straight to the dispatcher's
 * signalfd) and answers with mc_signal_send(); B "memcap event loop" runs the same handler
 * from its main thread with mc_signal_fd() + poll() + mc_signal_dispatch(). A's side is the
 * same for all: sigqueue() a realtime signal with a payload, sigwaitinfo() for the answer.
 *
 * Measured, interleaved round by round between the variants (bench-util.h), in three
 * placements (A and B pinned to one CPU, pinned to two, unpinned):
 *   1. the round trip A -> B -> A, each one timed: median and p99, and the median of the
 *      per-round ratios of the medians (target for the handler: <= 1.5x raw);
 *   2. the same for the event loop (no target);
 *   3. throughput: A sends N realtime signals with payloads 0..N-1 as fast as it can, B counts
 *      them and checks the sequence; from A's first send to B's last handled. A lost, repeated
 *      or reordered signal is a failure.
 * For each variant the threads of B are read from /proc before and after every slice: CPU
 * time, voluntary context switches (wakeups) and preemptions per operation, and the CPUs they
 * ran on, so the report can say where the time went and where the processes ran.
 *
 * The results are a table on stdout (and JSON with --json). Missing a target is reported, not
 * an error: the exit status is non-zero only when something failed outright (or a signal was
 * lost). The library is used through its public API and shared library only.
 *
 * Sections: options and failure reporting; results; the receivers (B); the sender (A);
 * placements; the benchmarks; output (table, JSON); main.
 */

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <memcap/memcap.h>

#include "bench-util-options.h"
#include "bench-util-report.h"
#include "bench-util.h"

#define MAX_ROUNDS  1000
#define SLICES      10 /* each round alternates the variants in 10 slices (bench_interleave()) */
#define MAX_RESULTS 16
/* A reply not there after this long means B is stuck or lost the signal. */
#define WATCHDOG_S 10

enum { V_RAW, V_HANDLER, V_LOOP, N_VARIANTS };

static const char *const variant_name[N_VARIANTS] = {"raw", "memcap handler", "memcap event loop"};
static const char *const variant_key[N_VARIANTS] = {"raw", "handler", "event_loop"};

/* A -> B and B -> A; SIGRTMIN is only known at run time. */
static int sig_req, sig_reply;

/* The reply that ends a throughput run carries this bit and the count. */
#define DONE_TAG (UINT64_C(1) << 63)

/* ---- options and failure reporting ---- */

typedef struct options {
        bool quick;
        const char *json;
        unsigned rounds;
        unsigned signals; /* per throughput run */
        bool signals_set; /* by --signals: --quick leaves it */
        int cpu_a, cpu_b; /* -1: the first two CPUs this process may use */
} options;

/* ---- results ---- */

typedef enum goal {
        GOAL_NONE,
        GOAL_AT_MOST, /* ratio <= target */
} goal;

/* What one variant cost per operation (round trip or signal) over the timed rounds. */
typedef struct cost {
        double a_cpu_ns, b_cpu_ns;         /* A's thread, all of B's threads */
        double a_nvcsw, b_nvcsw, b_nivcsw; /* wakeups waited for; B's preemptions */
        double b_threads;                  /* B's threads that ran, per slice */
        uint64_t a_cpus, b_cpus;           /* CPUs seen at the end of slices */
        unsigned slices, shared_slices;    /* slices that ended with B's threads on A's CPU */
        uint64_t eagain;                   /* throughput: sends retried on a full queue */
} cost;

typedef struct vstats {
        double median, p99, mean; /* ns per round trip; throughput: signals/s (p99 unused) */
        double *rounds;           /* per round: median ns, or signals/s */
        cost cost;
} vstats;

typedef struct result {
        char name[64];
        const char *placement; /* key */
        bool throughput;
        int variant; /* V_HANDLER or V_LOOP, against V_RAW */
        vstats mc, raw;
        /* Round trip: memcap time / raw time; throughput: memcap rate / raw rate. */
        double ratio, ratio_min, ratio_max;
        goal goal;
        double target;
        uint64_t ops_per_round;
        unsigned rounds;
} result;

static result results[MAX_RESULTS];
static size_t n_results;

static const char *verdict(const result *res) {
        if (res->goal == GOAL_AT_MOST)
                return res->ratio <= res->target ? "ok" : "MISSED";
        return "-";
}

static void results_free(void) {
        for (size_t i = 0; i < n_results; i++) {
                free(results[i].mc.rounds);
                free(results[i].raw.rounds);
        }
        n_results = 0;
}

/* ---- the receivers (B) ---- */

typedef enum mode {
        MODE_ECHO,  /* answer every request with its own payload */
        MODE_COUNT, /* count, check the sequence, answer only the last one */
} mode;

/*
 * What A and one B share (an anonymous shared mapping made before fork()). A writes the
 * MODE_COUNT fields before it sends the first signal and reads them after B's last reply:
 * the signal system calls in between order the accesses.
 */
typedef struct shared {
        _Atomic int mode;
        uint64_t target; /* MODE_COUNT: signals in this run */
        uint64_t expect; /* the next payload */
        uint64_t count;
        uint64_t bad; /* payloads out of sequence: lost, repeated or reordered */
        uint64_t first_bad_want, first_bad_got;
        uint64_t t_last_ns; /* CLOCK_MONOTONIC when the last one was handled */
        _Atomic int err;    /* B's first failure: -errno, message in msg */
        char msg[256];
} shared;

typedef struct child {
        shared *sh;
        mc_ctx *ctx;
} child;

static void child_fail(shared *sh, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void child_fail(shared *sh, int r, const char *fmt, ...) {
        int zero = 0;
        va_list ap;

        if (!atomic_compare_exchange_strong(&sh->err, &zero, r < 0 ? r : -EIO))
                return;
        va_start(ap, fmt);
        vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
        va_end(ap);
}

/*
 * One request taken by B, the same code for every variant. Return true with the payload of
 * the answer in *ret_reply when B must answer.
 */
static bool take(shared *sh, uint64_t v, uint64_t *ret_reply) {
        if (atomic_load_explicit(&sh->mode, memory_order_relaxed) == MODE_ECHO) {
                *ret_reply = v;
                return true;
        }
        if (v != sh->expect) {
                if (sh->bad++ == 0) {
                        sh->first_bad_want = sh->expect;
                        sh->first_bad_got = v;
                }
        }
        sh->expect = v + 1;
        if (++sh->count != sh->target)
                return false;
        sh->t_last_ns = bench_now_ns();
        *ret_reply = DONE_TAG | sh->count;
        return true;
}

/* B's memcap handler, run by memcap's dispatcher thread or by mc_signal_dispatch(). */
static mc_signal_action on_request(const mc_signal_info *info, void *userdata) {
        child *c = userdata;
        mc_error e = MC_ERROR_INIT;
        mc_signal_payload p = {.kind = MC_PAYLOAD_REAL_TIME};
        int r;

        if (info->payload.kind != MC_PAYLOAD_REAL_TIME) {
                child_fail(c->sh, -EINVAL, "B got signal %d without a realtime payload (kind %d)",
                           info->signal, (int) info->payload.kind);
                return MC_SIGNAL_CONTINUE;
        }
        if (!take(c->sh, info->payload.real_time, &p.real_time))
                return MC_SIGNAL_CONTINUE;
        r = mc_signal_send(c->ctx, info->source_pid, sig_reply, &p, &e);
        if (r < 0)
                child_fail(c->sh, r, "mc_signal_send to %d: %s (%s)", (int) info->source_pid,
                           e.message, mc_error_kind_name(e.kind));
        return MC_SIGNAL_CONTINUE;
}

static _Noreturn void child_raw(shared *sh, int ready_fd) {
        sigset_t set;
        siginfo_t si;

        sigemptyset(&set);
        sigaddset(&set, sig_req);
        sigprocmask(SIG_BLOCK, &set, NULL);
        (void) !write(ready_fd, "R", 1);
        close(ready_fd);
        for (;;) {
                uint64_t v;

                if (sigwaitinfo(&set, &si) < 0) {
                        if (errno == EINTR)
                                continue;
                        child_fail(sh, -errno, "sigwaitinfo: %s", strerror(errno));
                        _exit(1);
                }
                if (si.si_code != SI_QUEUE) {
                        child_fail(sh, -EINVAL, "B got signal %d without a payload (code %d)",
                                   si.si_signo, si.si_code);
                        continue;
                }
                if (!take(sh, (uint64_t) (uintptr_t) si.si_value.sival_ptr, &v))
                        continue;
                if (sigqueue(si.si_pid, sig_reply,
                             (union sigval){.sival_ptr = (void *) (uintptr_t) v}) < 0)
                        child_fail(sh, -errno, "sigqueue to %d: %s", (int) si.si_pid,
                                   strerror(errno));
        }
}

static _Noreturn void child_memcap(shared *sh, bool loop, int ready_fd) {
        mc_error e = MC_ERROR_INIT;
        child c = {.sh = sh};
        int r, fd = -1;

        r = mc_ctx_new(&c.ctx, &e);
        /* B replies to A, its parent: not a child, so the target rule must be widened (the
         * default admits only self and children). The sender's pid is only the reply address;
         * the policy decides whether B may signal it. */
        if (r >= 0) {
                mc_policy *p = NULL;

                r = mc_policy_new(&p, &e);
                if (r >= 0)
                        r = mc_policy_set_signal_targets(p, MC_TARGET_SAME_UID);
                if (r >= 0)
                        r = mc_ctx_set_policy(c.ctx, p, &e);
                mc_policy_free(p);
        }
        /* Before any thread exists (the first registration starts the dispatcher, which blocks
         * everything itself), so every thread blocks the request signal and the kernel keeps
         * instances in the process's queue, where the dispatcher's signalfd reads them. */
        if (r >= 0)
                r = mc_signal_register_handler(c.ctx, sig_req, on_request, &c, MC_SIGNAL_BLOCK,
                                               NULL, &e);
        if (r >= 0 && loop)
                r = mc_signal_fd(c.ctx, &fd, &e);
        if (r < 0) {
                child_fail(sh, r, "setting up B (%s): %s (%s)", loop ? "event loop" : "handler",
                           e.message, mc_error_kind_name(e.kind));
                (void) !write(ready_fd, "E", 1);
                _exit(1);
        }
        (void) !write(ready_fd, "R", 1);
        close(ready_fd);
        if (!loop)
                for (;;)
                        pause(); /* the dispatcher thread does the work; SIGTERM ends us */
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};

                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        child_fail(sh, -errno, "poll: %s", strerror(errno));
                        _exit(1);
                }
                r = mc_signal_dispatch(c.ctx, &e);
                if (r < 0) {
                        child_fail(sh, r, "mc_signal_dispatch: %s (%s)", e.message,
                                   mc_error_kind_name(e.kind));
                        _exit(1);
                }
        }
}

/* ---- the sender (A) ---- */

/* A's side of one variant. */
typedef struct peer {
        int variant;
        pid_t pid;
        shared *sh;
        int exited_status; /* valid when exited */
        bool exited;
        uint64_t seq;
        /* Recording is on only during the timed rounds (not in calibration or warm-up). */
        bool recording;
        double *samples; /* ns per round trip, in order: round k is [k * iters, (k+1) * iters) */
        size_t n_samples, cap;
        double *rates; /* throughput: signals/s, one per run */
        size_t n_rates;
        unsigned signals; /* throughput: per run */
        /* Accounting over the recorded slices. */
        bench_proc before;
        uint64_t a_cpu0;
        long a_nvcsw0;
        double acc_a_cpu, acc_b_cpu, acc_a_nvcsw, acc_b_nvcsw, acc_b_nivcsw, acc_b_threads;
        uint64_t ops;
        cost cost;
} peer;

static sigset_t wait_set; /* the reply, SIGCHLD (a B died), SIGALRM (the watchdog) */

static const char *peer_state(peer *p, char *buf, size_t size) {
        int st;

        if (!p->exited && waitpid(p->pid, &st, WNOHANG) == p->pid) {
                p->exited = true;
                p->exited_status = st;
        }
        if (p->exited && WIFSIGNALED(p->exited_status))
                snprintf(buf, size, "B (%s) was killed by signal %d", variant_name[p->variant],
                         WTERMSIG(p->exited_status));
        else if (p->exited)
                snprintf(buf, size, "B (%s) exited with status %d", variant_name[p->variant],
                         WEXITSTATUS(p->exited_status));
        else
                snprintf(buf, size, "B (%s) is alive", variant_name[p->variant]);
        return buf;
}

/*
 * Wait for B's answer @want. Anything else is a failure: a reply from the wrong process or with
 * the wrong payload, a B that died, or the watchdog.
 */
static int wait_reply(peer *p, uint64_t want, const char *what) {
        char state[128];
        siginfo_t si;
        int s;

        for (;;) {
                s = sigwaitinfo(&wait_set, &si);
                if (s >= 0 || errno != EINTR)
                        break;
        }
        if (s < 0)
                return bench_fail_errno(errno, "sigwaitinfo");
        if (s == sig_reply) {
                uint64_t got = (uint64_t) (uintptr_t) si.si_value.sival_ptr;

                if (si.si_pid == p->pid && si.si_code == SI_QUEUE && got == want)
                        return 0;
                return bench_fail(-EPROTO,
                                  "%s: stray reply from pid %d (code %d, payload %#" PRIx64
                                  "), waiting for %#" PRIx64 " from B (%s, pid %d)",
                                  what, (int) si.si_pid, si.si_code, got, want,
                                  variant_name[p->variant], (int) p->pid);
        }
        peer_state(p, state, sizeof(state));
        if (p->sh->err)
                return bench_fail(p->sh->err, "%s: no reply; %s; B reports: %s", what, state,
                                  p->sh->msg);
        if (s == SIGALRM)
                return bench_fail(-ETIMEDOUT, "%s: no reply from B (%s) within %d s; %s", what,
                                  variant_name[p->variant], WATCHDOG_S, state);
        return bench_fail(-ECHILD,
                          "%s: receiver pid %d ended during the run (code %d, status %d); %s", what,
                          (int) si.si_pid, si.si_code, si.si_status, state);
}

static int send_req(peer *p, uint64_t v) {
        if (sigqueue(p->pid, sig_req, (union sigval){.sival_ptr = (void *) (uintptr_t) v}) < 0)
                return -errno;
        return 0;
}

/* Untimed, before each slice: arm the watchdog and snapshot B's threads. */
static int peer_prepare(void *arg) {
        peer *p = arg;
        struct rusage ru;
        int r;

        alarm(WATCHDOG_S);
        if (!p->recording)
                return 0;
        r = bench_proc_snap(p->pid, &p->before);
        if (r < 0)
                return bench_fail(r, "reading /proc/%d: %s", (int) p->pid, strerror(-r));
        p->a_cpu0 = bench_thread_cpu_ns();
        p->a_nvcsw0 = getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nvcsw : 0;
        return 0;
}

/* After each recorded slice of @ops operations: what A and B spent, and where they ran. */
static int peer_account(peer *p, uint64_t ops) {
        uint64_t a_cpu = bench_thread_cpu_ns();
        int a_where = sched_getcpu();
        bench_proc after;
        bench_proc_delta d;
        struct rusage ru;
        int r;

        r = bench_proc_snap(p->pid, &after);
        if (r < 0)
                return bench_fail(r, "reading /proc/%d: %s", (int) p->pid, strerror(-r));
        if (after.coarse)
                p->before.coarse = true;
        bench_proc_diff(&p->before, &after, &d);
        p->acc_a_cpu += (double) (a_cpu - p->a_cpu0);
        if (getrusage(RUSAGE_THREAD, &ru) == 0)
                p->acc_a_nvcsw += (double) (ru.ru_nvcsw - p->a_nvcsw0);
        p->acc_b_cpu += (double) d.run_ns;
        p->acc_b_nvcsw += (double) d.nvcsw;
        p->acc_b_nivcsw += (double) d.nivcsw;
        p->acc_b_threads += d.threads_ran;
        p->ops += ops;
        if (a_where >= 0 && a_where < 64)
                p->cost.a_cpus |= UINT64_C(1) << a_where;
        p->cost.b_cpus |= d.cpus;
        p->cost.slices++;
        if (a_where >= 0 && a_where < 64 && d.cpus == UINT64_C(1) << a_where)
                p->cost.shared_slices++;
        return 0;
}

static void peer_reset(peer *p) {
        p->n_samples = 0;
        p->n_rates = 0;
        p->acc_a_cpu = p->acc_b_cpu = p->acc_a_nvcsw = p->acc_b_nvcsw = p->acc_b_nivcsw = 0;
        p->acc_b_threads = 0;
        p->ops = 0;
        memset(&p->cost, 0, sizeof(p->cost));
}

static void peer_cost(peer *p) {
        double n = p->ops ? (double) p->ops : 1.0;

        p->cost.a_cpu_ns = p->acc_a_cpu / n;
        p->cost.b_cpu_ns = p->acc_b_cpu / n;
        p->cost.a_nvcsw = p->acc_a_nvcsw / n;
        p->cost.b_nvcsw = p->acc_b_nvcsw / n;
        p->cost.b_nivcsw = p->acc_b_nivcsw / n;
        p->cost.b_threads = p->cost.slices ? p->acc_b_threads / p->cost.slices : 0;
}

/* bench_case.run: @iters round trips. */
static int run_roundtrip(void *arg, uint64_t iters) {
        peer *p = arg;
        int r;

        for (uint64_t i = 0; i < iters; i++) {
                /* The variant in the top byte: a reply meant for another B cannot pass. */
                uint64_t v = (uint64_t) p->variant << 56 | (++p->seq & ((UINT64_C(1) << 56) - 1));
                uint64_t t0, t1;

                t0 = bench_now_ns();
                r = send_req(p, v);
                if (r < 0)
                        return bench_fail(r, "sigqueue to B (%s): %s", variant_name[p->variant],
                                          strerror(-r));
                r = wait_reply(p, v, "round trip");
                t1 = bench_now_ns();
                if (r < 0)
                        return r;
                if (p->recording) {
                        if (p->n_samples >= p->cap)
                                return bench_fail(-ENOBUFS, "more round trips than planned");
                        p->samples[p->n_samples++] = (double) (t1 - t0);
                }
        }
        return p->recording ? peer_account(p, iters) : 0;
}

/*
 * bench_case.run: @iters floods of p->signals signals each, payloads 0..signals-1, from the
 * first send to the moment B handled the last one (B's clock is the same CLOCK_MONOTONIC).
 */
static int run_flood(void *arg, uint64_t iters) {
        peer *p = arg;
        shared *sh = p->sh;
        char what[96];
        int r;

        snprintf(what, sizeof(what), "throughput run (%u signals)", p->signals);
        for (uint64_t it = 0; it < iters; it++) {
                uint64_t t0;

                sh->target = p->signals;
                sh->expect = 0;
                sh->count = 0;
                sh->bad = 0;
                sh->t_last_ns = 0;
                atomic_store(&sh->mode, MODE_COUNT);
                t0 = bench_now_ns();
                for (unsigned i = 0; i < p->signals; i++) {
                        while ((r = send_req(p, i)) == -EAGAIN) {
                                /* RLIMIT_SIGPENDING reached: wait for B rather than drop. */
                                p->cost.eagain++;
                                sched_yield();
                        }
                        if (r < 0)
                                return bench_fail(r, "sigqueue to B (%s): %s",
                                                  variant_name[p->variant], strerror(-r));
                }
                r = wait_reply(p, DONE_TAG | p->signals, what);
                atomic_store(&sh->mode, MODE_ECHO);
                if (r < 0 || sh->count != p->signals || sh->bad != 0) {
                        char seq[96] = "";

                        if (sh->bad)
                                snprintf(seq, sizeof(seq),
                                         " (the first: wanted %" PRIu64 ", got %" PRIu64 ")",
                                         sh->first_bad_want, sh->first_bad_got);
                        fprintf(stderr,
                                "\n*** bench-signal: SIGNALS LOST OR OUT OF ORDER: B (%s) handled "
                                "%" PRIu64 " of %u signals, %" PRIu64 " payloads out of "
                                "sequence%s ***\n\n",
                                variant_name[p->variant], sh->count, p->signals, sh->bad, seq);
                        return bench_fail(r < 0 ? r : -EPROTO,
                                          "%s: B (%s) handled %" PRIu64 " of %u signals, %" PRIu64
                                          " out of sequence%s%s",
                                          what, variant_name[p->variant], sh->count, p->signals,
                                          sh->bad, bench_failure[0] ? "; " : "", bench_failure);
                }
                if (p->recording) {
                        if (p->n_rates >= p->cap)
                                return bench_fail(-ENOBUFS, "more throughput runs than planned");
                        p->rates[p->n_rates++] =
                                (double) p->signals * 1e9 / (double) (sh->t_last_ns - t0);
                }
        }
        return p->recording ? peer_account(p, iters * p->signals) : 0;
}

static int peer_start(peer *p, int variant) {
        char c = 0;
        int fds[2], r;
        pid_t pid;

        memset(p, 0, sizeof(*p));
        p->variant = variant;
        p->sh = mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
                     0);
        if (p->sh == MAP_FAILED) {
                p->sh = NULL;
                return bench_fail_errno(errno, "mmap shared");
        }
        if (pipe2(fds, O_CLOEXEC) < 0)
                return bench_fail_errno(errno, "pipe2");
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                r = bench_fail_errno(errno, "fork");
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0) {
                sigset_t none;

                close(fds[0]);
                /* Never outlive A, even when A is killed. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                if (variant == V_RAW)
                        child_raw(p->sh, fds[1]);
                child_memcap(p->sh, variant == V_LOOP, fds[1]);
        }
        p->pid = pid;
        close(fds[1]);
        while ((r = (int) read(fds[0], &c, 1)) < 0 && errno == EINTR)
                ;
        close(fds[0]);
        if (c != 'R')
                return bench_fail(p->sh->err ? p->sh->err : -EIO, "starting B (%s): %s",
                                  variant_name[variant], p->sh->err ? p->sh->msg : "it died");
        return 0;
}

static void peer_stop(peer *p) {
        int st;

        if (p->pid > 0 && !p->exited) {
                kill(p->pid, SIGKILL);
                while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
                        ;
        }
        if (p->sh)
                munmap(p->sh, sizeof(shared));
        free(p->samples);
        free(p->rates);
        memset(p, 0, sizeof(*p));
}

/* ---- placements ---- */

typedef struct placement {
        const char *name, *key;
        int cpu_a, cpu_b; /* -1: unpinned */
} placement;

static cpu_set_t all_cpus; /* what this process was allowed at the start */

static int place(const placement *pl, peer *peers) {
        cpu_set_t a = all_cpus, b = all_cpus;
        int r;

        if (pl->cpu_a >= 0) {
                CPU_ZERO(&a);
                CPU_SET(pl->cpu_a, &a);
                CPU_ZERO(&b);
                CPU_SET(pl->cpu_b, &b);
        }
        r = bench_affinity_process(0, &a);
        if (r < 0)
                return bench_fail(r, "placing A: %s", strerror(-r));
        for (int v = 0; v < N_VARIANTS; v++) {
                r = bench_affinity_process(peers[v].pid, &b);
                if (r < 0)
                        return bench_fail(r, "placing B (%s): %s", variant_name[v], strerror(-r));
        }
        /* Let a migration take effect before anything is timed. */
        sched_yield();
        return 0;
}

/* ---- the benchmarks ---- */

static int add_result(const char *name, const placement *pl, bool throughput, int variant,
                      const vstats *mc, const vstats *raw, unsigned rounds, uint64_t ops, goal g,
                      double target) {
        double ratios[MAX_ROUNDS];
        result *res;

        if (n_results >= MAX_RESULTS)
                return bench_fail(-ENOSPC, "too many results");
        res = &results[n_results];
        memset(res, 0, sizeof(*res));
        snprintf(res->name, sizeof(res->name), "%s", name);
        res->placement = pl->key;
        res->throughput = throughput;
        res->variant = variant;
        res->mc = *mc;
        res->raw = *raw;
        res->mc.rounds = res->raw.rounds = NULL;
        res->rounds = rounds;
        res->ops_per_round = ops;
        res->goal = g;
        res->target = target;
        bench_ratios(mc->rounds, raw->rounds, rounds, ratios);
        bench_ratio_range(ratios, rounds, &res->ratio, &res->ratio_min, &res->ratio_max);
        n_results++;
        res->mc.rounds = bench_dup_rounds(mc->rounds, rounds);
        res->raw.rounds = bench_dup_rounds(raw->rounds, rounds);
        if (!res->mc.rounds || !res->raw.rounds)
                return bench_fail(-ENOMEM, "out of memory");
        return 0;
}

static double mean(const double *v, size_t n) {
        double s = 0;

        for (size_t i = 0; i < n; i++)
                s += v[i];
        return n ? s / (double) n : NAN;
}

/*
 * Unpinned, the scheduler decides for each B on its own whether it runs next to A (it tends to
 * keep a single-threaded raw B on A's CPU and a dispatcher thread away from it, or the other
 * way round), and one CPU or two changes a round trip several times over. Say so when the
 * variants did not run alike, or the ratio would pass for memcap's cost.
 */
static void note_placement(const placement *pl, const char *what, const vstats *st) {
        double pct[N_VARIANTS];
        bool differ = false;

        for (int v = 0; v < N_VARIANTS; v++) {
                const cost *c = &st[v].cost;

                pct[v] = c->slices ? 100.0 * c->shared_slices / c->slices : NAN;
                if (v > 0 && fabs(pct[v] - pct[V_RAW]) > 25.0)
                        differ = true;
        }
        if (differ)
                bench_note(
                        "%s, %s: the scheduler ran B next to A (on A's CPU) in %.0f%% of the "
                        "slices "
                        "for raw, %.0f%% for the handler, %.0f%% for the event loop: these ratios "
                        "compare different placements, the pinned rows show memcap's cost",
                        what, pl->name, pct[V_RAW], pct[V_HANDLER], pct[V_LOOP]);
}

/*
 * Round trips in placement @pl: calibrate on the raw variant (a round of it takes >= @min_ns,
 * and at least @min_ops round trips so the p99 has samples), then @rounds interleaved rounds of
 * all three variants.
 */
/*
 * The interleaved rounds of @cases with every peer recording what it measures; recording stops
 * and the watchdog alarm is cancelled however the rounds end.
 */
static int run_recorded(const bench_case *cases, peer *peers, unsigned n, uint64_t iters,
                        unsigned slices, bench_cpus *cpus, double *ns) {
        int r;

        for (int v = 0; v < N_VARIANTS; v++) {
                peer_reset(&peers[v]);
                peers[v].recording = true;
        }
        r = bench_interleave(cases, N_VARIANTS, n, iters, slices, cpus, ns, NULL);
        alarm(0);
        for (int v = 0; v < N_VARIANTS; v++)
                peers[v].recording = false;
        return r;
}

static int bench_roundtrip(const options *opts, const placement *pl, peer *peers, uint64_t min_ns,
                           uint64_t min_ops, bench_cpus *cpus) {
        double ns[N_VARIANTS * MAX_ROUNDS], per_round[N_VARIANTS][MAX_ROUNDS];
        bench_case cases[N_VARIANTS];
        vstats st[N_VARIANTS];
        unsigned n = opts->rounds;
        uint64_t iters;
        char name[64];
        int r;

        for (int v = 0; v < N_VARIANTS; v++) {
                cases[v] = (bench_case){variant_name[v], run_roundtrip, peer_prepare, &peers[v]};
                peers[v].recording = false;
                atomic_store(&peers[v].sh->mode, MODE_ECHO);
        }
        r = bench_calibrate(&cases[V_RAW], min_ns, NULL, &iters);
        if (r < 0)
                return r;
        if (iters < min_ops)
                iters = min_ops;
        r = bench_warmup(cases, N_VARIANTS, iters);
        if (r < 0)
                return r;
        for (int v = 0; v < N_VARIANTS; v++) {
                peer *p = &peers[v];

                free(p->samples);
                p->cap = (size_t) iters * n;
                p->samples = malloc(p->cap * sizeof(double));
                if (!p->samples)
                        return bench_fail(-ENOMEM, "out of memory");
        }
        r = run_recorded(cases, peers, n, iters, SLICES, cpus, ns);
        if (r < 0)
                return r;

        for (int v = 0; v < N_VARIANTS; v++) {
                peer *p = &peers[v];

                if (p->n_samples != (size_t) iters * n)
                        return bench_fail(-EIO, "round trips recorded: %zu, planned %" PRIu64,
                                          p->n_samples, iters * n);
                for (unsigned k = 0; k < n; k++)
                        per_round[v][k] = bench_median(&p->samples[(size_t) k * iters], iters);
                peer_cost(p);
                st[v] = (vstats){
                        .median = bench_median(p->samples, p->n_samples),
                        .p99 = bench_p99(p->samples, p->n_samples),
                        .mean = mean(p->samples, p->n_samples),
                        .rounds = per_round[v],
                        .cost = p->cost,
                };
        }
        if (pl->cpu_a < 0)
                note_placement(pl, "round trips", st);
        snprintf(name, sizeof(name), "round trip, handler, %s", pl->name);
        r = add_result(name, pl, false, V_HANDLER, &st[V_HANDLER], &st[V_RAW], n, iters,
                       GOAL_AT_MOST, 1.5);
        if (r < 0)
                return r;
        snprintf(name, sizeof(name), "round trip, event loop, %s", pl->name);
        return add_result(name, pl, false, V_LOOP, &st[V_LOOP], &st[V_RAW], n, iters, GOAL_NONE, 0);
}

/* Throughput in placement @pl: one flood per variant per round, interleaved. */
static int bench_throughput(const options *opts, const placement *pl, peer *peers,
                            bench_cpus *cpus) {
        double ns[N_VARIANTS * MAX_ROUNDS], per_round[N_VARIANTS][MAX_ROUNDS];
        bench_case cases[N_VARIANTS];
        vstats st[N_VARIANTS];
        unsigned n = opts->rounds;
        char name[64];
        int r;

        for (int v = 0; v < N_VARIANTS; v++) {
                peer *p = &peers[v];

                cases[v] = (bench_case){variant_name[v], run_flood, peer_prepare, p};
                p->signals = opts->signals;
                p->recording = false;
                free(p->rates);
                p->cap = n;
                p->rates = malloc(n * sizeof(double));
                if (!p->rates)
                        return bench_fail(-ENOMEM, "out of memory");
        }
        r = bench_warmup(cases, N_VARIANTS, 1);
        if (r < 0)
                return r;
        r = run_recorded(cases, peers, n, 1, 1, cpus, ns);
        if (r < 0)
                return r;
        for (int v = 0; v < N_VARIANTS; v++) {
                peer *p = &peers[v];

                if (p->n_rates != n)
                        return bench_fail(-EIO, "throughput runs recorded: %zu, planned %u",
                                          p->n_rates, n);
                memcpy(per_round[v], p->rates, n * sizeof(double));
                peer_cost(p);
                st[v] = (vstats){
                        .median = bench_median(p->rates, n),
                        .p99 = NAN,
                        .mean = mean(p->rates, n),
                        .rounds = per_round[v],
                        .cost = p->cost,
                };
        }
        if (pl->cpu_a < 0)
                note_placement(pl, "throughput", st);
        snprintf(name, sizeof(name), "throughput, handler, %s", pl->name);
        r = add_result(name, pl, true, V_HANDLER, &st[V_HANDLER], &st[V_RAW], n, opts->signals,
                       GOAL_NONE, 0);
        if (r < 0)
                return r;
        snprintf(name, sizeof(name), "throughput, event loop, %s", pl->name);
        return add_result(name, pl, true, V_LOOP, &st[V_LOOP], &st[V_RAW], n, opts->signals,
                          GOAL_NONE, 0);
}

/* ---- output ---- */

static void format_cell(char *buf, size_t size, const result *res, const vstats *s) {
        if (res->throughput)
                snprintf(buf, size, "%.0fk sig/s (%.1f ms)", s->median / 1e3,
                         (double) res->ops_per_round / s->median * 1e3);
        else
                snprintf(buf, size, "%.1f us (p99 %.1f)", s->median / 1e3, s->p99 / 1e3);
}

static void print_table(void) {
        char mc[40], raw[40], target[16], range[32];

        printf("\n%-40s | %-24s | %-24s | %5s | %7s | %-7s | %s\n", "benchmark", "memcap", "raw",
               "ratio", "target", "verdict", "ratio min-max");
        printf("%.40s-+-%.24s-+-%.24s-+-%.5s-+-%.7s-+-%.7s-+-%.13s\n",
               "----------------------------------------", "------------------------",
               "------------------------", "-----", "-------", "-------", "-------------");
        for (size_t i = 0; i < n_results; i++) {
                const result *res = &results[i];

                format_cell(mc, sizeof(mc), res, &res->mc);
                format_cell(raw, sizeof(raw), res, &res->raw);
                if (res->goal == GOAL_NONE)
                        snprintf(target, sizeof(target), "-");
                else
                        snprintf(target, sizeof(target), "<= %.2f", res->target);
                snprintf(range, sizeof(range), "%.3f-%.3f", res->ratio_min, res->ratio_max);
                printf("%-40s | %-24s | %-24s | %5.3f | %7s | %-7s | %s\n", res->name, mc, raw,
                       res->ratio, target, verdict(res), range);
        }
        printf("\nround trip rows: median and p99 of every timed round trip, A's sigqueue() to its "
               "sigwaitinfo() returning;\nratio = median of the per-round ratios of the medians, "
               "memcap/raw (lower is better). throughput rows:\nmedian signals/s from A's first "
               "send to B's last handled signal (time per run in parentheses);\nratio = memcap "
               "rate/raw rate (higher is better). The raw column is the same raw B in both rows "
               "of a pair.\n");
}

/* Where the time goes: per operation, what A and every thread of B spent. */
static void print_costs(void) {
        printf("\nwhere the time goes, per round trip (throughput: per signal); B = all threads "
               "of the receiver:\n");
        printf("%-40s | %-17s | %8s | %8s | %9s | %9s | %9s | %s\n", "benchmark", "variant",
               "A cpu", "B cpu", "A sleeps", "B sleeps", "B preempt", "CPUs: A / B");
        for (size_t i = 0; i < n_results; i++) {
                const result *res = &results[i];
                const vstats *rows[2] = {&res->raw, &res->mc};
                int vs[2] = {V_RAW, res->variant};

                for (int j = 0; j < 2; j++) {
                        const cost *c = &rows[j]->cost;
                        char a[32], b[32], where[160];

                        /* The raw B appears in both rows of a pair: print it once. */
                        if (j == 0 && i > 0 && results[i - 1].placement == res->placement &&
                            results[i - 1].throughput == res->throughput)
                                continue;
                        bench_format_cpus(a, sizeof(a), c->a_cpus);
                        bench_format_cpus(b, sizeof(b), c->b_cpus);
                        snprintf(where, sizeof(where), "{%s} / {%s}, same CPU in %u of %u slices",
                                 a, b, c->shared_slices, c->slices);
                        printf("%-40s | %-17s | %5.2f us | %5.2f us | %9.3f | %9.3f | %9.3f | %s\n",
                               res->name, variant_name[vs[j]], c->a_cpu_ns / 1e3, c->b_cpu_ns / 1e3,
                               c->a_nvcsw, c->b_nvcsw, c->b_nivcsw, where);
                        if (c->eagain)
                                printf("%-40s   (sends retried on a full signal queue: %" PRIu64
                                       ")\n",
                                       "", c->eagain);
                }
        }
        printf("\nA cpu / B cpu: CPU time (schedstat) per operation; sleeps: voluntary context "
               "switches (a thread\nblocked and had to be woken); preempt: involuntary ones. "
               "\"same CPU\": slices that ended with B's\nworking threads last seen on A's CPU.\n");
}

typedef struct run_info {
        const options *opts;
        pid_t pid;
        char kernel[256];
        placement placements[3];
        size_t n_placements;
        pid_t b_pid[N_VARIANTS];
        bench_cpus cpus;
        bench_machine machine_start, machine_end;
        bool coarse;
} run_info;

static void json_vstats(FILE *f, const result *res, const vstats *s) {
        const cost *c = &s->cost;

        if (res->throughput) {
                fprintf(f, "{\"signals_per_s\": ");
                bench_json_number(f, s->median);
                bench_json_member_number(f, "mean_signals_per_s", s->mean);
                fprintf(f, ", \"rounds_signals_per_s\": ");
        } else {
                fprintf(f, "{\"median_ns\": ");
                bench_json_number(f, s->median);
                bench_json_member_number(f, "p99_ns", s->p99);
                bench_json_member_number(f, "mean_ns", s->mean);
                fprintf(f, ", \"rounds_median_ns\": ");
        }
        bench_json_rounds(f, s->rounds, res->rounds);
        fprintf(f, ", \"per_op\": {\"a_cpu_ns\": ");
        bench_json_number(f, c->a_cpu_ns);
        bench_json_member_number(f, "b_cpu_ns", c->b_cpu_ns);
        bench_json_member_number(f, "a_voluntary_switches", c->a_nvcsw);
        bench_json_member_number(f, "b_voluntary_switches", c->b_nvcsw);
        bench_json_member_number(f, "b_involuntary_switches", c->b_nivcsw);
        fputc('}', f);
        bench_json_member_number(f, "b_threads_ran_per_slice", c->b_threads);
        bench_json_member_cpus(f, "a_cpus", c->a_cpus);
        bench_json_member_cpus(f, "b_cpus", c->b_cpus);
        fprintf(f, ", \"slices\": %u, \"slices_on_same_cpu\": %u, \"sends_retried\": %" PRIu64 "}",
                c->slices, c->shared_slices, c->eagain);
}

static int write_json(FILE *f, const char *path, const run_info *info) {
        fprintf(f, "{\n  \"benchmark\": \"signal\",\n  \"memcap_version\": ");
        bench_json_string(f, mc_version());
        fprintf(f, ",\n  \"kernel\": ");
        bench_json_string(f, info->kernel);
        fprintf(f,
                ",\n  \"quick\": %s,\n  \"rounds\": %u,\n  \"signals_per_throughput_run\": %u,\n",
                info->opts->quick ? "true" : "false", info->opts->rounds, info->opts->signals);
        fprintf(f, "  \"signals\": {\"request\": %d, \"reply\": %d},\n", sig_req, sig_reply);
        fprintf(f, "  \"processes\": {\"a_pid\": %d, \"b_pids\": {", (int) info->pid);
        for (int v = 0; v < N_VARIANTS; v++)
                fprintf(f, "%s\"%s\": %d", v ? ", " : "", variant_key[v], (int) info->b_pid[v]);
        fprintf(f, "}},\n  \"placements\": [");
        for (size_t i = 0; i < info->n_placements; i++) {
                const placement *pl = &info->placements[i];

                fprintf(f, "%s{\"key\": \"%s\", \"a_cpu\": ", i ? ", " : "", pl->key);
                if (pl->cpu_a >= 0)
                        fprintf(f, "%d, \"b_cpu\": %d}", pl->cpu_a, pl->cpu_b);
                else
                        fputs("null, \"b_cpu\": null}", f);
        }
        fprintf(f, "],\n  \"machine\": {\"load1_start\": ");
        bench_json_number(f, info->machine_start.load1);
        bench_json_member_number(f, "load1_end", info->machine_end.load1);
        bench_json_member_number(f, "steal_percent",
                                 bench_machine_pct(&info->machine_start, &info->machine_end, true));
        bench_json_member_number(
                f, "idle_percent",
                bench_machine_pct(&info->machine_start, &info->machine_end, false));
        fprintf(f, ", \"online_cpus\": %ld, \"cpu_time_from_ticks\": %s},\n",
                sysconf(_SC_NPROCESSORS_ONLN), info->coarse ? "true" : "false");
        fprintf(f, "  \"results\": [\n");
        for (size_t i = 0; i < n_results; i++) {
                const result *res = &results[i];

                fprintf(f, "    {\"name\": ");
                bench_json_string(f, res->name);
                fprintf(f, ", \"kind\": \"%s\", \"placement\": \"%s\", \"variant\": \"%s\"",
                        res->throughput ? "throughput" : "round_trip", res->placement,
                        variant_key[res->variant]);
                bench_json_member_ratios(f, res->ratio, res->ratio_min, res->ratio_max);
                fprintf(f, ", \"ratio_meaning\": \"%s\", \"target\": ",
                        res->throughput ? "memcap/raw signals per second"
                                        : "memcap/raw round-trip time");
                if (res->goal == GOAL_NONE)
                        fputs("null, \"verdict\": null", f);
                else {
                        fprintf(f, "{\"op\": \"<=\", \"value\": ");
                        bench_json_number(f, res->target);
                        fprintf(f, "}, \"verdict\": \"%s\"", verdict(res));
                }
                fprintf(f, ", \"%s\": %" PRIu64 ", \"rounds\": %u,\n      \"memcap\": ",
                        res->throughput ? "signals_per_run" : "round_trips_per_round",
                        res->ops_per_round, res->rounds);
                json_vstats(f, res, &res->mc);
                fprintf(f, ",\n      \"raw\": ");
                json_vstats(f, res, &res->raw);
                fprintf(f, "}%s\n", i + 1 < n_results ? "," : "");
        }
        fprintf(f, "  ],\n  \"failure\": ");
        if (bench_failure[0])
                bench_json_string(f, bench_failure);
        else
                fputs("null", f);
        fprintf(f, ",\n  \"notes\": ");
        bench_json_notes(f);
        fprintf(f, "\n}\n");
        return bench_json_close(f, path);
}

/* ---- main ---- */

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-signal [--quick] [--rounds N] [--signals N] [--cpus A,B] "
                "[--json FILE]\n"
                "\n"
                "Compare memcap's signal capability with raw sigqueue/sigwaitinfo between two\n"
                "processes, interleaved, in three placements. See bench/README.md.\n"
                "\n"
                "  --quick       3 short rounds, 2000 signals per throughput run (a CI smoke run)\n"
                "  --rounds N    rounds per benchmark (default 11; 3 with --quick)\n"
                "  --signals N   signals per throughput run (default 20000)\n"
                "  --cpus A,B    the two CPUs of the pinned placements (default: the first two\n"
                "                this process may use; A and B share the first)\n"
                "  --json FILE   also write the results as JSON to FILE\n");
}

static int take_option(int c, const char *arg, void *userdata) {
        options *opts = userdata;

        switch (c) {
        case 's':
                if (bench_parse_uint(arg, 1, 10000000, &opts->signals) < 0)
                        return bench_bad_value("bench-signal", "--signals", "1..10000000", arg);
                opts->signals_set = true;
                return 0;
        case 'c':
                if (bench_parse_cpu_pair(arg, &opts->cpu_a, &opts->cpu_b) < 0 ||
                    opts->cpu_a == opts->cpu_b)
                        return bench_bad_value("bench-signal", "--cpus",
                                               "two different CPU numbers A,B", arg);
                return 0;
        }
        return -EINVAL;
}

static int parse_options(int argc, char **argv, options *opts) {
        static const struct option own[] = {
                {"signals", required_argument, NULL, 's'},
                {"cpus", required_argument, NULL, 'c'},
                {NULL, 0, NULL, 0},
        };
        const bench_cli cli = {.prog = "bench-signal",
                               .usage = usage,
                               .max_rounds = MAX_ROUNDS,
                               .own = own,
                               .take = take_option,
                               .userdata = opts};
        int r;

        *opts = (options){.rounds = 11, .signals = 20000, .cpu_a = -1, .cpu_b = -1};
        r = bench_parse_options(argc, argv, &cli, &opts->quick, &opts->json, &opts->rounds);
        if (opts->quick && !opts->signals_set)
                opts->signals = 2000;
        return r;
}

/* The placements this machine allows: same CPU, two CPUs (if there are two), unpinned. */
static int plan_placements(const options *opts, run_info *info) {
        int first = -1, second = -1;

        if (sched_getaffinity(0, sizeof(all_cpus), &all_cpus) < 0)
                return bench_fail_errno(errno, "sched_getaffinity");
        if (opts->cpu_a >= 0) {
                if (!CPU_ISSET(opts->cpu_a, &all_cpus) || !CPU_ISSET(opts->cpu_b, &all_cpus))
                        return bench_fail(-EINVAL, "--cpus %d,%d: this process may not run there",
                                          opts->cpu_a, opts->cpu_b);
                first = opts->cpu_a;
                second = opts->cpu_b;
        } else {
                for (int c = 0; c < CPU_SETSIZE && second < 0; c++)
                        if (CPU_ISSET(c, &all_cpus)) {
                                if (first < 0)
                                        first = c;
                                else
                                        second = c;
                        }
        }
        info->placements[info->n_placements++] = (placement){"same CPU", "same_cpu", first, first};
        if (second >= 0)
                info->placements[info->n_placements++] =
                        (placement){"two CPUs", "two_cpus", first, second};
        else
                bench_note("this process may use one CPU only: the two-CPU placement was skipped");
        info->placements[info->n_placements++] = (placement){"unpinned", "unpinned", -1, -1};
        return 0;
}

/* The throughput runs must fit in the queue: RLIMIT_SIGPENDING counts every pending signal. */
static void check_sigpending(options *opts) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_SIGPENDING, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return;
        if ((rlim_t) opts->signals + 1024 > rl.rlim_cur) {
                unsigned n = rl.rlim_cur > 2048 ? (unsigned) (rl.rlim_cur / 2) : 1024;

                bench_note(
                        "RLIMIT_SIGPENDING is %llu: throughput runs send %u signals instead of %u",
                        (unsigned long long) rl.rlim_cur, n, opts->signals);
                opts->signals = n;
        }
}

static void print_machine(const run_info *info) {
        const bench_machine *a = &info->machine_start, *b = &info->machine_end;
        double steal = bench_machine_pct(a, b, true), idle = bench_machine_pct(a, b, false);

        if (steal > 5.0)
                bench_note(
                        "the hypervisor stole %.1f%% of the CPU time: expect noise; the ratios, "
                        "taken within interleaved rounds, hold up better than the absolute numbers",
                        steal);
        printf("machine during the run: %ld CPUs, load average %.2f -> %.2f; %.1f%% of CPU time "
               "stolen by the hypervisor, %.1f%% idle (this benchmark leaves CPUs idle while "
               "processes wait for each other)\n",
               sysconf(_SC_NPROCESSORS_ONLN), a->load1, b->load1, steal, idle);
}

static void print_where(const run_info *info) {
        printf("\nwhere it ran: A = the sender (pid %d, one thread); B = three receivers forked "
               "from it, raw (pid %d), memcap handler (pid %d: main thread + memcap's "
               "dispatcher), memcap event loop (pid %d: main thread + dispatcher)\n",
               (int) info->pid, (int) info->b_pid[V_RAW], (int) info->b_pid[V_HANDLER],
               (int) info->b_pid[V_LOOP]);
        for (size_t i = 0; i < info->n_placements; i++) {
                const placement *pl = &info->placements[i];

                if (pl->cpu_a < 0)
                        printf("  %-9s: A and every thread of B free to run on any CPU "
                               "(sched_setaffinity to all); see the CPUs column above\n",
                               pl->name);
                else if (pl->cpu_a == pl->cpu_b)
                        printf("  %-9s: A and every thread of B pinned to CPU %d\n", pl->name,
                               pl->cpu_a);
                else
                        printf("  %-9s: A pinned to CPU %d, every thread of B pinned to CPU %d\n",
                               pl->name, pl->cpu_a, pl->cpu_b);
        }
}

int main(int argc, char **argv) {
        run_info info = {.cpus = BENCH_CPUS_INIT};
        peer peers[N_VARIANTS];
        FILE *json = NULL;
        options opts;
        uint64_t min_ns, min_ops;
        int r;

        memset(peers, 0, sizeof(peers));
        if (parse_options(argc, argv, &opts) < 0)
                return 2;
        info.opts = &opts;
        info.pid = getpid();
        setvbuf(stdout, NULL, _IOLBF, 0);
        bench_kernel(info.kernel, sizeof(info.kernel));
        sig_req = SIGRTMIN;
        sig_reply = SIGRTMIN + 1;
        check_sigpending(&opts);
        /* A round of the raw round trip lasts >= 100 ms and holds >= 300 round trips. */
        min_ns = opts.quick ? 5 * UINT64_C(1000000) : 100 * UINT64_C(1000000);
        min_ops = opts.quick ? 20 : 300;

        printf("bench-signal: libmemcap %s, %s\n", mc_version(), info.kernel);
        printf("%u rounds per benchmark, interleaved between the variants, round-trip rounds >= "
               "%" PRIu64 " ms, %u signals per throughput run%s\n",
               opts.rounds, min_ns / 1000000, opts.signals,
               opts.quick ? " (--quick: a smoke run, not a measurement)" : "");
        bench_note_trust(opts.rounds, opts.quick);

        r = plan_placements(&opts, &info);
        if (r < 0)
                goto out;
        r = bench_json_open(opts.json, &json);
        if (r < 0)
                goto out;
        /* A takes its replies with sigwaitinfo(); nothing it waits for may run a handler. The
         * receivers start from an empty mask. */
        sigemptyset(&wait_set);
        sigaddset(&wait_set, sig_reply);
        sigaddset(&wait_set, SIGCHLD);
        sigaddset(&wait_set, SIGALRM);
        if (sigprocmask(SIG_BLOCK, &wait_set, NULL) < 0) {
                r = bench_fail_errno(errno, "sigprocmask");
                goto out;
        }
        for (int v = 0; v < N_VARIANTS; v++) {
                r = peer_start(&peers[v], v);
                if (r < 0)
                        goto out;
                info.b_pid[v] = peers[v].pid;
        }

        bench_machine_snap(&info.machine_start);
        for (size_t i = 0; i < info.n_placements; i++) {
                const placement *pl = &info.placements[i];

                r = place(pl, peers);
                if (r < 0)
                        goto out;
                printf("[%s] round trips: raw, memcap handler, memcap event loop...\n", pl->name);
                r = bench_roundtrip(&opts, pl, peers, min_ns, min_ops, &info.cpus);
                if (r < 0)
                        goto out;
                printf("[%s] throughput, %u signals per run...\n", pl->name, opts.signals);
                r = bench_throughput(&opts, pl, peers, &info.cpus);
                if (r < 0)
                        goto out;
                for (int v = 0; v < N_VARIANTS; v++)
                        info.coarse = info.coarse || peers[v].before.coarse;
        }
        bench_machine_snap(&info.machine_end);

out:
        alarm(0);
        if (info.machine_end.cpu_total == 0)
                bench_machine_snap(&info.machine_end);
        if (info.coarse)
                bench_note("no /proc/<pid>/task/<tid>/schedstat: CPU times come from clock ticks "
                           "(1/HZ resolution)");
        if (n_results > 0) {
                print_machine(&info);
                print_table();
                print_costs();
                print_where(&info);
        }
        for (size_t i = 0; i < bench_n_notes; i++)
                printf("note: %s\n", bench_notes[i]);
        if (json) {
                int k = write_json(json, opts.json, &info);

                json = NULL;
                if (k >= 0)
                        printf("results written to %s\n", opts.json);
                else if (r >= 0)
                        r = k;
        }
        for (int v = 0; v < N_VARIANTS; v++)
                peer_stop(&peers[v]);
        results_free();
        return bench_exit_code("bench-signal", r);
}
