/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_BENCH_UTIL_H
#define MEMCAP_BENCH_UTIL_H

/*
 * Timing and statistics helpers shared by memcap's benchmarks.
 *
 * The build machine is a noisy 2-vCPU guest whose speed moves 20-40% between rounds
 * (/work/shared/BASELINES.md). So a benchmark never compares numbers taken at different times:
 * it runs memcap and its raw baseline in the same process, interleaved round by round, with the
 * same number of operations per round, and reports medians of the rounds and the median of the
 * per-round ratios. Each round's order is rotated (A B, then B A, ...) so that neither side
 * always runs right after the other and inherits its cache or frequency state.
 *
 * Everything here is header-only (static inline, and the weak reporting state below), so a
 * benchmark needs no library of its own.
 *
 * Sections: clock and optimisation barriers; statistics; interleaved rounds; CPU placement;
 * how busy the machine was; other processes (placement and cost of every thread); reporting
 * (why a run failed, notes for the reader, JSON output, writes).
 */

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ---- clock and optimisation barriers ---- */

/* Nanoseconds on CLOCK_MONOTONIC: never jumps with the wall clock; vDSO, no system call. */
static inline uint64_t bench_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/*
 * CPU time of the calling thread, user and system. Unlike the monotonic clock it stops while
 * the thread waits for a CPU, so on a busy machine it shows what the work itself cost. It is a
 * system call here (~0.2 us): read it around runs of many operations, never per operation.
 */
static inline uint64_t bench_thread_cpu_ns(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/*
 * Tell the compiler that @p (and the memory it points to) is read by something it cannot see,
 * so a copy into it or a computation feeding it cannot be optimised away.
 */
static inline void bench_escape(const void *p) {
        __asm__ volatile("" : : "g"(p) : "memory");
}

/* Tell the compiler that any memory may have changed: values must be re-read after this. */
static inline void bench_clobber(void) {
        __asm__ volatile("" : : : "memory");
}

/* ---- statistics ---- */

/* A copy of @rounds per-round values, for a result that outlives the caller's array; NULL on
 * ENOMEM. */
static inline double *bench_dup_rounds(const double *v, unsigned rounds) {
        double *d = malloc(rounds * sizeof(double));

        if (d)
                memcpy(d, v, rounds * sizeof(double));
        return d;
}

static inline int bench_cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/*
 * The @p-th percentile (0..100) of @n values, by linear interpolation between the closest
 * ranks (the common "type 7" definition: the median of an even count is the mean of the middle
 * two). @v is not modified; a sorted copy is made. Returns NAN for n == 0 or allocation failure.
 */
static inline double bench_percentile(const double *v, size_t n, double p) {
        double *s, pos, frac, r;
        size_t lo;

        if (n == 0 || p < 0.0 || p > 100.0)
                return __builtin_nan("");
        s = malloc(n * sizeof(*s));
        if (!s)
                return __builtin_nan("");
        memcpy(s, v, n * sizeof(*s));
        qsort(s, n, sizeof(*s), bench_cmp_double);
        pos = p / 100.0 * (double) (n - 1);
        lo = (size_t) pos;
        frac = pos - (double) lo;
        r = lo + 1 < n ? s[lo] + frac * (s[lo + 1] - s[lo]) : s[lo];
        free(s);
        return r;
}

static inline double bench_median(const double *v, size_t n) {
        return bench_percentile(v, n, 50.0);
}

/* p99 is only meaningful over many samples (per-operation latencies), not over a few rounds. */
static inline double bench_p99(const double *v, size_t n) {
        return bench_percentile(v, n, 99.0);
}

static inline double bench_min(const double *v, size_t n) {
        double m = n ? v[0] : __builtin_nan("");

        for (size_t i = 1; i < n; i++)
                if (v[i] < m)
                        m = v[i];
        return m;
}

static inline double bench_max(const double *v, size_t n) {
        double m = n ? v[0] : __builtin_nan("");

        for (size_t i = 1; i < n; i++)
                if (v[i] > m)
                        m = v[i];
        return m;
}

/* out[i] = a[i] / b[i]: the per-round ratio of two cases measured in the same round. */
static inline void bench_ratios(const double *a, const double *b, size_t n, double *out) {
        for (size_t i = 0; i < n; i++)
                out[i] = a[i] / b[i];
}

/* ---- interleaved rounds ---- */

/*
 * One side of a comparison. run() performs @iters operations and returns 0 or -errno; only
 * run() is timed. prepare(), if set, runs untimed right before each timed run (to reset state,
 * e.g. truncate a log), and returns 0 or -errno too.
 */
typedef struct bench_case {
        const char *name;
        int (*run)(void *arg, uint64_t iters);
        int (*prepare)(void *arg);
        void *arg;
} bench_case;

/* Where the timed runs happened: a bit per CPU seen at the start of a timed run (CPUs < 64). */
typedef struct bench_cpus {
        uint64_t seen;
        unsigned runs;
        unsigned migrations; /* timed runs that started on another CPU than the previous one */
        int last;
} bench_cpus;

#define BENCH_CPUS_INIT                                                                            \
        { 0, 0, 0, -1 }

static inline void bench_cpus_note(bench_cpus *cpus) {
        int cpu;

        if (!cpus)
                return;
        cpu = sched_getcpu();
        if (cpu >= 0 && cpu < 64)
                cpus->seen |= UINT64_C(1) << cpu;
        if (cpus->runs > 0 && cpu != cpus->last)
                cpus->migrations++;
        cpus->last = cpu;
        cpus->runs++;
}

/*
 * Time one run of @c with @iters operations: *ret_ns is the elapsed (monotonic) time and, if
 * @ret_cpu_ns is not NULL, *ret_cpu_ns the thread's CPU time during the run.
 */
static inline int bench_time(const bench_case *c, uint64_t iters, bench_cpus *cpus,
                             uint64_t *ret_ns, uint64_t *ret_cpu_ns) {
        uint64_t t0, c0 = 0;
        int r;

        if (c->prepare) {
                r = c->prepare(c->arg);
                if (r < 0)
                        return r;
        }
        bench_cpus_note(cpus);
        if (ret_cpu_ns)
                c0 = bench_thread_cpu_ns();
        t0 = bench_now_ns();
        r = c->run(c->arg, iters);
        *ret_ns = bench_now_ns() - t0;
        if (ret_cpu_ns)
                *ret_cpu_ns = bench_thread_cpu_ns() - c0;
        return r;
}

/*
 * Find how many operations of @c take at least @min_ns, doubling (or jumping by the measured
 * shortfall) from 1. Doubles as a warm-up: first-use costs (lazy binding, page faults on
 * buffers, one-time library setup) are paid here, outside the measured rounds.
 */
static inline int bench_calibrate(const bench_case *c, uint64_t min_ns, bench_cpus *cpus,
                                  uint64_t *ret_iters) {
        uint64_t iters = 1, ns;
        int r;

        for (;;) {
                r = bench_time(c, iters, cpus, &ns, NULL);
                if (r < 0)
                        return r;
                if (ns >= min_ns)
                        break;
                if (iters > UINT64_MAX / 64)
                        return -EOVERFLOW;
                /* Aim 20% past the goal from the measured rate, but at most 64x per step so one
                 * lucky fast run cannot make the next one take minutes. */
                if (ns == 0)
                        iters *= 64;
                else {
                        double want = (double) iters * (double) min_ns * 1.2 / (double) ns;
                        uint64_t next = want > (double) (iters * 64) ? iters * 64 : (uint64_t) want;
                        iters = next > iters * 2 ? next : iters * 2;
                }
        }
        *ret_iters = iters;
        return 0;
}

/*
 * One untimed run of every case, so first-use costs of the sides that were not calibrated
 * (a lazily installed signal handler, a cold page cache, lazy binding) stay out of the rounds.
 */
static inline int bench_warmup(const bench_case *cases, size_t n, uint64_t iters) {
        uint64_t ns;
        int r;

        for (size_t i = 0; i < n; i++) {
                r = bench_time(&cases[i], iters, NULL, &ns, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

#define BENCH_MAX_CASES 8

/*
 * Run @n cases for @rounds rounds, @iters operations per case per round, interleaved.
 *
 * A round is cut into @slices slices (at most @iters; 1 for no slicing): in each slice every
 * case runs its share of the round's operations, one case after the other, so within a round
 * the cases alternate A B A B ... every few milliseconds and meet the same background load; a
 * burst of it cannot land on one side only. The order rotates from slice to slice and round to
 * round (A B, B A, ...; for three cases A B C, B C A, C A B), so no case always follows another.
 *
 * At most BENCH_MAX_CASES cases. @ret_ns_per_op has n * rounds elements and receives case i's
 * round k at [i * rounds + k]: the
 * summed elapsed time of its slices in that round, per operation. @ret_cpu_ns_per_op (NULL to
 * skip) receives the thread's CPU time per operation the same way.
 */
static inline int bench_interleave(const bench_case *cases, size_t n, unsigned rounds,
                                   uint64_t iters, unsigned slices, bench_cpus *cpus,
                                   double *ret_ns_per_op, double *ret_cpu_ns_per_op) {
        uint64_t ns, cpu_ns, sum_ns[BENCH_MAX_CASES], sum_cpu[BENCH_MAX_CASES];
        int r;

        if (n == 0 || n > BENCH_MAX_CASES || rounds == 0 || iters == 0 || slices == 0)
                return -EINVAL;
        if (slices > iters)
                slices = (unsigned) iters;
        for (unsigned k = 0; k < rounds; k++) {
                memset(sum_ns, 0, sizeof(sum_ns));
                memset(sum_cpu, 0, sizeof(sum_cpu));
                for (unsigned s = 0; s < slices; s++) {
                        /* Spread the remainder over the first slices: each case still does
                         * exactly @iters operations per round. */
                        uint64_t share = iters / slices + (s < iters % slices ? 1 : 0);

                        for (size_t j = 0; j < n; j++) {
                                size_t i = (k + s + j) % n;

                                r = bench_time(&cases[i], share, cpus, &ns,
                                               ret_cpu_ns_per_op ? &cpu_ns : NULL);
                                if (r < 0)
                                        return r;
                                sum_ns[i] += ns;
                                if (ret_cpu_ns_per_op)
                                        sum_cpu[i] += cpu_ns;
                        }
                }
                for (size_t i = 0; i < n; i++) {
                        ret_ns_per_op[i * rounds + k] = (double) sum_ns[i] / (double) iters;
                        if (ret_cpu_ns_per_op)
                                ret_cpu_ns_per_op[i * rounds + k] =
                                        (double) sum_cpu[i] / (double) iters;
                }
        }
        return 0;
}

/* ---- CPU placement ---- */

/* Restrict the calling thread (the whole process, if it has one thread) to @cpu. */
static inline int bench_pin(int cpu) {
        cpu_set_t set;

        if (cpu < 0 || cpu >= CPU_SETSIZE)
                return -EINVAL;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
                return -errno;
        return 0;
}

/* ---- how busy the machine was ---- */

/*
 * A snapshot of the machine's and the process's state, taken before and after a benchmark so
 * the report can say whether it ran on a quiet machine. On this guest the hypervisor's steal
 * time is the main source of noise, and it is visible in /proc/stat.
 */
typedef struct bench_machine {
        double load1;       /* 1-minute load average; < 0 if unknown */
        uint64_t cpu_total; /* jiffies of all CPUs (user..steal), 0 if unknown */
        uint64_t cpu_steal; /* of which stolen by the hypervisor */
        uint64_t cpu_idle;  /* of which idle or waiting for I/O */
        long nvcsw, nivcsw; /* this process's voluntary / involuntary context switches */
} bench_machine;

static inline void bench_machine_snap(bench_machine *m) {
        unsigned long long v[8] = {0};
        struct rusage ru;
        double load[1];
        char line[512];
        FILE *f;

        memset(m, 0, sizeof(*m));
        m->load1 = getloadavg(load, 1) == 1 ? load[0] : -1.0;
        f = fopen("/proc/stat", "re");
        if (f) {
                /* "cpu  user nice system idle iowait irq softirq steal guest guest_nice" */
                if (fgets(line, sizeof(line), f) && strncmp(line, "cpu ", 4) == 0) {
                        char *p = line + 4, *end;
                        size_t i;

                        for (i = 0; i < 8; i++, p = end) {
                                v[i] = strtoull(p, &end, 10);
                                if (end == p)
                                        break;
                        }
                        if (i == 8) {
                                for (i = 0; i < 8; i++)
                                        m->cpu_total += v[i];
                                m->cpu_idle = v[3] + v[4];
                                m->cpu_steal = v[7];
                        }
                }
                fclose(f);
        }
        if (getrusage(RUSAGE_SELF, &ru) == 0) {
                m->nvcsw = ru.ru_nvcsw;
                m->nivcsw = ru.ru_nivcsw;
        }
}

/* Share (0..100) of all CPUs' time between two snapshots that was stolen / idle. */
static inline double bench_machine_pct(const bench_machine *a, const bench_machine *b, bool steal) {
        uint64_t total = b->cpu_total - a->cpu_total;
        uint64_t part = steal ? b->cpu_steal - a->cpu_steal : b->cpu_idle - a->cpu_idle;

        if (a->cpu_total == 0 || b->cpu_total <= a->cpu_total)
                return __builtin_nan("");
        return 100.0 * (double) part / (double) total;
}

/* ---- other processes: placement and cost of every thread ---- */

/*
 * A benchmark between processes (a signal round trip, a daemon request) is dominated by
 * wakeups, and where the processes run changes the result 4-11x. These helpers place every
 * thread of a process (sched_setaffinity() applies to one thread only: pinning a pid leaves a
 * library's helper thread free to run anywhere) and read, from /proc, what each thread cost:
 * its time on a CPU, how often it went to sleep (voluntary context switches: one per wakeup
 * it waited for) or was preempted, and the CPU it last ran on.
 */

#define BENCH_PROC_MAX_THREADS 32

typedef struct bench_thread_stat {
        pid_t tid;
        uint64_t run_ns;        /* time on a CPU: /proc/.../schedstat, else utime+stime */
        uint64_t nvcsw, nivcsw; /* voluntary / involuntary context switches */
        int cpu;                /* the CPU it last ran on, -1 if unknown */
} bench_thread_stat;

typedef struct bench_proc {
        size_t n;
        bool coarse; /* run_ns came from clock ticks (no schedstat): a resolution of 1/HZ */
        bench_thread_stat t[BENCH_PROC_MAX_THREADS];
} bench_proc;

/* What the threads of a process did between two snapshots. */
typedef struct bench_proc_delta {
        uint64_t run_ns, nvcsw, nivcsw;
        unsigned threads_ran; /* threads that spent time on a CPU */
        uint64_t cpus;        /* bit per CPU (< 64) those threads last ran on */
} bench_proc_delta;

/* Read a small /proc file into @buf (NUL-terminated); the byte count or -errno. */
static inline ssize_t bench_read_small(const char *path, char *buf, size_t size) {
        ssize_t n;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                n = -errno;
        close(fd);
        if (n >= 0)
                buf[n] = '\0';
        return n;
}

static inline int bench_thread_read(pid_t pid, pid_t tid, bench_thread_stat *t, bool *coarse) {
        char path[96], buf[4096], *p;
        unsigned long long utime = 0, stime = 0;
        ssize_t n;
        int field;

        memset(t, 0, sizeof(*t));
        t->tid = tid;
        t->cpu = -1;
        /* stat: field 39 is the CPU; 14 and 15 are utime and stime. The name (field 2) may
         * hold spaces and parentheses, so count from its last ')'. */
        snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int) pid, (int) tid);
        n = bench_read_small(path, buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p++;
        for (field = 3; *p && field <= 39; field++) {
                char *end;
                unsigned long long v;

                while (*p == ' ')
                        p++;
                v = strtoull(p, &end, 10);
                if (field == 14)
                        utime = v;
                else if (field == 15)
                        stime = v;
                else if (field == 39 && end != p)
                        t->cpu = (int) v;
                while (*p && *p != ' ')
                        p++;
        }
        snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int) pid, (int) tid);
        if (bench_read_small(path, buf, sizeof(buf)) > 0)
                t->run_ns = strtoull(buf, NULL, 10);
        else {
                long hz = sysconf(_SC_CLK_TCK);

                t->run_ns = (utime + stime) * (UINT64_C(1000000000) / (hz > 0 ? hz : 100));
                *coarse = true;
        }
        snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int) pid, (int) tid);
        n = bench_read_small(path, buf, sizeof(buf));
        if (n < 0)
                return (int) n;
        p = strstr(buf, "\nvoluntary_ctxt_switches:");
        if (p)
                t->nvcsw = strtoull(p + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
        p = strstr(buf, "\nnonvoluntary_ctxt_switches:");
        if (p)
                t->nivcsw = strtoull(p + strlen("\nnonvoluntary_ctxt_switches:"), NULL, 10);
        return 0;
}

/*
 * Snapshot every thread of @pid (at most BENCH_PROC_MAX_THREADS). A thread that exits while
 * it is read is skipped. Return: 0, or -errno (-ESRCH: no such process).
 */
static inline int bench_proc_snap(pid_t pid, bench_proc *p) {
        char path[64];
        struct dirent *de;
        DIR *d;
        int r = 0;

        memset(p, 0, sizeof(*p));
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? -ESRCH : -errno;
        while ((de = readdir(d)) && p->n < BENCH_PROC_MAX_THREADS) {
                char *end;
                long tid = strtol(de->d_name, &end, 10);

                if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end != '\0' || tid <= 0)
                        continue;
                r = bench_thread_read(pid, (pid_t) tid, &p->t[p->n], &p->coarse);
                if (r == -ENOENT || r == -ESRCH) {
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                p->n++;
        }
        closedir(d);
        return r;
}

/* @b minus @a, thread by thread (a thread that appeared in between counts from zero). */
static inline void bench_proc_diff(const bench_proc *a, const bench_proc *b, bench_proc_delta *d) {
        memset(d, 0, sizeof(*d));
        for (size_t i = 0; i < b->n; i++) {
                const bench_thread_stat *y = &b->t[i];
                bench_thread_stat x = {.tid = y->tid};

                for (size_t j = 0; j < a->n; j++)
                        if (a->t[j].tid == y->tid)
                                x = a->t[j];
                d->run_ns += y->run_ns - x.run_ns;
                d->nvcsw += y->nvcsw - x.nvcsw;
                d->nivcsw += y->nivcsw - x.nivcsw;
                if (y->run_ns != x.run_ns) {
                        d->threads_ran++;
                        if (y->cpu >= 0 && y->cpu < 64)
                                d->cpus |= UINT64_C(1) << y->cpu;
                }
        }
}

/*
 * Give every thread of @pid (0: the calling process) the CPU set @set. Threads created later
 * inherit the mask of the thread that creates them. Return: 0 or -errno.
 */
static inline int bench_affinity_process(pid_t pid, const cpu_set_t *set) {
        char path[64];
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (pid == 0)
                pid = getpid();
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return errno == ENOENT ? -ESRCH : -errno;
        while ((de = readdir(d))) {
                char *end;
                long tid = strtol(de->d_name, &end, 10);

                if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end != '\0' || tid <= 0)
                        continue;
                if (sched_setaffinity((pid_t) tid, sizeof(*set), set) < 0 && errno != ESRCH) {
                        r = -errno;
                        break;
                }
        }
        closedir(d);
        return r;
}

/* ---- reporting ---- */

#ifndef BENCH_MAX_NOTES
#define BENCH_MAX_NOTES 24
#endif

/*
 * Why the run failed, for main() to print; the first failure wins. Weak rather than static, so
 * that a benchmark of several files (bench-daemon) has one of each.
 */
__attribute__((weak)) char bench_failure[512];

/* Remarks on the conditions of the run (placement, noise), printed after the tables. */
__attribute__((weak)) char bench_notes[BENCH_MAX_NOTES][400];
__attribute__((weak)) size_t bench_n_notes;

/* Record why the run failed (unless a reason is already there); returns @r, or -EIO for r >= 0. */
static inline int bench_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int bench_fail(int r, const char *fmt, ...) {
        va_list ap;

        if (bench_failure[0] == '\0') {
                va_start(ap, fmt);
                vsnprintf(bench_failure, sizeof(bench_failure), fmt, ap);
                va_end(ap);
        }
        return r < 0 ? r : -EIO;
}

static inline int bench_fail_errno(int errnum, const char *what) {
        return bench_fail(-errnum, "%s: %s", what, strerror(errnum));
}

/* main()'s exit status for the run's result @r: 0, or 1 after printing why it failed. */
static inline int bench_exit_code(const char *prog, int r) {
        if (r >= 0)
                return 0;
        fprintf(stderr, "%s: %s\n", prog, bench_failure[0] ? bench_failure : strerror(-r));
        return 1;
}

static inline void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void bench_note(const char *fmt, ...) {
        va_list ap;

        if (bench_n_notes >= BENCH_MAX_NOTES)
                return;
        va_start(ap, fmt);
        vsnprintf(bench_notes[bench_n_notes++], sizeof(bench_notes[0]), fmt, ap);
        va_end(ap);
}

/* @s as a JSON string: quotes, backslashes and control characters escaped. */
static inline void bench_json_string(FILE *f, const char *s) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

/* A number, or null for NaN and infinities, which JSON cannot hold. */
static inline void bench_json_number(FILE *f, double v) {
        if (isfinite(v))
                fprintf(f, "%.6g", v);
        else
                fputs("null", f);
}

/* ,"@key":@s: one more member of the object being written (JSON without blanks). */
static inline void bench_json_field_string(FILE *f, const char *key, const char *s) {
        fprintf(f, ",\"%s\":", key);
        bench_json_string(f, s);
}

/* ,"@key":@v, as bench_json_number() writes it. */
static inline void bench_json_field_number(FILE *f, const char *key, double v) {
        fprintf(f, ",\"%s\":", key);
        bench_json_number(f, v);
}

static inline void bench_json_rounds(FILE *f, const double *v, unsigned n) {
        fputc('[', f);
        for (unsigned k = 0; k < n; k++) {
                if (k)
                        fputc(',', f);
                bench_json_number(f, v[k]);
        }
        fputc(']', f);
}

/* The notes of the run as a JSON array of strings. */
static inline void bench_json_notes(FILE *f) {
        fputc('[', f);
        for (size_t i = 0; i < bench_n_notes; i++) {
                if (i)
                        fputc(',', f);
                bench_json_string(f, bench_notes[i]);
        }
        fputc(']', f);
}

/* All of @buf to @fd, through short writes and EINTR. Return: 0 or -errno. */
static inline int bench_write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* "Linux 6.1.0 x86_64" into @buf, for the header line and the JSON; left as it is if uname fails.
 */
static inline void bench_kernel(char *buf, size_t size) {
        struct utsname un;

        if (uname(&un) == 0)
                snprintf(buf, size, "%s %s %s", un.sysname, un.release, un.machine);
}

/*
 * The notes every benchmark owes its reader on how far its numbers can be trusted. Inline, so
 * __OPTIMIZE__ is the benchmark's own build's.
 */
static inline void bench_note_trust(unsigned rounds, bool quick) {
#if !defined(__OPTIMIZE__)
        bench_note("this benchmark was built without optimisation; build with --buildtype=release");
#endif
        if (rounds < 7 && !quick)
                bench_note("fewer than 7 rounds: medians are not trustworthy on a noisy machine");
}

/* Open --json FILE @path for writing; *@ret stays NULL when @path is NULL. */
static inline int bench_json_open(const char *path, FILE **ret) {
        if (!path)
                return 0;
        *ret = fopen(path, "we");
        if (!*ret)
                return bench_fail_errno(errno, path);
        return 0;
}

/* Close the JSON output @f written to @path: a write error anywhere in it is reported here. */
static inline int bench_json_close(FILE *f, const char *path) {
        int r = ferror(f) ? -EIO : 0;

        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r < 0)
                return bench_fail(r, "writing %s: %s", path, strerror(-r));
        return 0;
}

/* A CPU set for people: "0,2,3"; "?" when empty. */
static inline void bench_format_cpus(char *buf, size_t size, uint64_t cpus) {
        size_t o = 0;

        buf[0] = '\0';
        for (int c = 0; c < 64 && o + 4 < size; c++)
                if (cpus & (UINT64_C(1) << c))
                        o += (size_t) snprintf(buf + o, size - o, "%s%d", o ? "," : "", c);
        if (o == 0)
                snprintf(buf, size, "?");
}

/* ---- files of a benchmark ---- */

static inline uint64_t bench_pow2_floor(uint64_t v) {
        return v ? UINT64_C(1) << (63 - __builtin_clzll(v)) : 0;
}

/* MemAvailable of /proc/meminfo in bytes; 0 when unknown. */
static inline uint64_t bench_mem_available(void) {
        char line[256];
        uint64_t kb = 0;
        FILE *f;

        f = fopen("/proc/meminfo", "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "MemAvailable:", 13) == 0) {
                        char *end;
                        unsigned long long v = strtoull(line + 13, &end, 10);

                        if (end != line + 13)
                                kb = v;
                        break;
                }
        fclose(f);
        return kb > UINT64_MAX / 1024 ? UINT64_MAX : kb * 1024;
}

/* Bytes an unprivileged process may still write to the file system of @dir; 0 when unknown. */
static inline uint64_t bench_fs_free(const char *dir) {
        struct statvfs sv;

        if (statvfs(dir, &sv) < 0)
                return 0;
        return (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
}

/*
 * Where a benchmark's big file goes, and how big it is. The directory is @dir when given, else
 * the first of /var/tmp and /tmp with three times @want free, else the one with the most. The
 * size is @want, or, when the file system has less than three times that free or the file would
 * take more than half the available memory (it must stay in the page cache), the largest power
 * of two that fits both, with a note saying so. Returns the directory with its free bytes in
 * *@ret_free and the size in *@ret_size, or NULL when no directory has any room.
 */
static inline const char *bench_file_place(const char *dir, uint64_t want, uint64_t *ret_free,
                                           uint64_t *ret_size) {
        static const char *const bases[] = {"/var/tmp", "/tmp"};
        const uint64_t mib = UINT64_C(1) << 20;
        uint64_t best_free = 0, size = want, avail;
        const char *best = NULL;

        if (dir) {
                best = dir;
                best_free = bench_fs_free(dir);
        } else
                for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
                        uint64_t f = bench_fs_free(bases[i]);

                        if (f > best_free) {
                                best = bases[i];
                                best_free = f;
                        }
                        if (f >= 3 * want)
                                break;
                }
        *ret_free = best_free;
        if (!best || best_free == 0)
                return NULL;
        if (best_free < 3 * want) {
                size = bench_pow2_floor(best_free / 3);
                bench_note("only %.2f GiB free in %s (< 3x %" PRIu64 " MiB): the file is %" PRIu64
                           " MiB",
                           (double) best_free / (double) (1024 * mib), best, want / mib,
                           size / mib);
        }
        avail = bench_mem_available();
        if (avail && size > avail / 2) {
                size = bench_pow2_floor(avail / 2);
                bench_note("only %" PRIu64 " MiB of memory available: the file is %" PRIu64
                           " MiB so it stays in the page cache",
                           avail / mib, size / mib);
        }
        *ret_size = size;
        return best;
}

/* ---- options ---- */

/*
 * A decimal option value in @min..@max, the whole string: strtoul() alone would take "-1" (as
 * a huge number) and trailing junk. Leading blanks and a '+' are still taken, as strtoul()
 * takes them.
 */
static inline int bench_parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret) {
        unsigned long v;
        char *end;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

/* --rounds N in 1..@max, or -EINVAL after saying what it wants. */
static inline int bench_parse_rounds(const char *prog, const char *s, unsigned max, unsigned *ret) {
        if (bench_parse_uint(s, 1, max, ret) == 0)
                return 0;
        fprintf(stderr, "%s: --rounds wants 1..%u, not '%s'\n", prog, max, s);
        return -EINVAL;
}

#endif
