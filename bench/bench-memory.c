/* SPDX-License-Identifier: MIT */
/*
 * bench-memory: what memcap's memory capability costs over the raw system calls.
 *
 * Four measurements, each against its raw counterpart in the same run, interleaved round by
 * round (bench-util.h), reported as medians with the median of the per-round ratios:
 *   1. mc_mmap + mc_munmap of 4 KiB anonymous memory vs mmap + munmap;
 *   2. the same with a JSON-lines audit file sink;
 *   3. mc_map_file + memchr over a page-cached file + mc_unmap vs open + mmap + memchr + munmap;
 *   4. mc_map_read vs memcpy out of the same mapping, 4 KiB and 1 MiB at a time.
 * The results are a table on stdout (and JSON with --json). Missing a target is reported, not
 * an error: the exit status is non-zero only when something failed outright.
 *
 * The library is used through its public API and shared library only, as a program would.
 *
 * Sections: options and failure reporting; results (table, JSON); cleanup of temporary files;
 * 1+2 anonymous map/unmap; 3 file scan; 4 guarded copy; main.
 */

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memcap/memcap.h>

#include "bench-util-options.h"
#include "bench-util-report.h"
#include "bench-util-scan.h"
#include "bench-util.h"

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

#define MAX_ROUNDS 1000
/* Each round alternates the sides in 10 slices of >= 5 ms (bench_interleave()). */
#define SLICES      10
#define MAX_RESULTS 16

/* ---- options and failure reporting ---- */

typedef struct options {
        bool quick;
        const char *json;
        int pin; /* -1: not pinned */
        unsigned rounds;
        const char *dir; /* NULL: choose /var/tmp or /tmp */
} options;

static int fail_mc(int r, const char *what, const mc_error *e) {
        return bench_fail(r, "%s: %s (%s)", what, e->message, mc_error_kind_name(e->kind));
}

/* Things the reader must know to trust the numbers: a smaller file, a cold cache, ... */
/* ---- results ---- */

typedef enum goal {
        GOAL_NONE,
        GOAL_AT_MOST,  /* ratio <= target */
        GOAL_AT_LEAST, /* ratio >= target */
} goal;

typedef struct result {
        char name[64];
        uint64_t bytes;           /* per operation for throughput rows; 0 for latency rows */
        double memcap_ns, raw_ns; /* medians of the rounds, per operation */
        double memcap_gbps, raw_gbps;
        /*
         * Latency rows: memcap time / raw time (lower is better). Throughput rows: memcap GB/s
         * / raw GB/s (higher is better). Median, min and max over the rounds, each round's
         * ratio taken between the two runs of that round.
         */
        double ratio, ratio_min, ratio_max;
        /* The same ratio from the thread's CPU time instead of elapsed time (no verdict). */
        double cpu_ratio;
        goal goal;
        double target;
        uint64_t iters;
        unsigned rounds;
        /* Per operation, round by round: elapsed ns, then CPU ns; memcap's then raw's. */
        double *memcap_rounds, *raw_rounds, *memcap_cpu_rounds, *raw_cpu_rounds;
} result;

static result results[MAX_RESULTS];
static size_t n_results;

static const char *verdict(const result *res) {
        switch (res->goal) {
        case GOAL_AT_MOST:
                return res->ratio <= res->target ? "ok" : "MISSED";
        case GOAL_AT_LEAST:
                return res->ratio >= res->target ? "ok" : "MISSED";
        default:
                return "-";
        }
}

/*
 * Record a comparison of case @mc with case @raw from the per-round timings bench_interleave()
 * left in @ns (elapsed) and @cpu (CPU time), which are copied.
 */
static int add_result(const char *name, const double *ns, const double *cpu, unsigned rounds,
                      size_t mc, size_t raw, uint64_t iters, uint64_t bytes, goal g,
                      double target) {
        const double *memcap_ns = &ns[mc * rounds], *raw_ns = &ns[raw * rounds];
        const double *memcap_cpu = &cpu[mc * rounds], *raw_cpu = &cpu[raw * rounds];
        double ratios[MAX_ROUNDS], gbps[MAX_ROUNDS];
        result *res;

        if (n_results >= MAX_RESULTS)
                return bench_fail(-ENOSPC, "too many results");
        res = &results[n_results];
        memset(res, 0, sizeof(*res));
        snprintf(res->name, sizeof(res->name), "%s", name);
        res->bytes = bytes;
        res->iters = iters;
        res->rounds = rounds;
        res->goal = g;
        res->target = target;
        res->memcap_ns = bench_median(memcap_ns, rounds);
        res->raw_ns = bench_median(raw_ns, rounds);
        if (bytes == 0)
                bench_ratios(memcap_ns, raw_ns, rounds, ratios);
        else {
                /* A throughput ratio is the inverse time ratio of the same round. */
                bench_ratios(raw_ns, memcap_ns, rounds, ratios);
                for (unsigned k = 0; k < rounds; k++)
                        gbps[k] = (double) bytes / memcap_ns[k];
                res->memcap_gbps = bench_median(gbps, rounds);
                for (unsigned k = 0; k < rounds; k++)
                        gbps[k] = (double) bytes / raw_ns[k];
                res->raw_gbps = bench_median(gbps, rounds);
        }
        bench_ratio_range(ratios, rounds, &res->ratio, &res->ratio_min, &res->ratio_max);
        if (bytes == 0)
                bench_ratios(memcap_cpu, raw_cpu, rounds, ratios);
        else
                bench_ratios(raw_cpu, memcap_cpu, rounds, ratios);
        res->cpu_ratio = bench_median(ratios, rounds);
        /* Counted before the allocations so results_free() also frees a half-built entry. */
        n_results++;
        res->memcap_rounds = bench_dup_rounds(memcap_ns, rounds);
        res->raw_rounds = bench_dup_rounds(raw_ns, rounds);
        res->memcap_cpu_rounds = bench_dup_rounds(memcap_cpu, rounds);
        res->raw_cpu_rounds = bench_dup_rounds(raw_cpu, rounds);
        if (!res->memcap_rounds || !res->raw_rounds || !res->memcap_cpu_rounds ||
            !res->raw_cpu_rounds)
                return bench_fail(-ENOMEM, "out of memory");
        return 0;
}

static void results_free(void) {
        for (size_t i = 0; i < n_results; i++) {
                free(results[i].memcap_rounds);
                free(results[i].raw_rounds);
                free(results[i].memcap_cpu_rounds);
                free(results[i].raw_cpu_rounds);
        }
        n_results = 0;
}

static void format_ns(char *buf, size_t size, double ns) {
        if (ns < 1e3)
                snprintf(buf, size, "%.0f ns", ns);
        else if (ns < 1e6)
                snprintf(buf, size, "%.2f us", ns / 1e3);
        else
                snprintf(buf, size, "%.2f ms", ns / 1e6);
}

static void format_cell(char *buf, size_t size, const result *res, double ns, double gbps) {
        char t[32];

        format_ns(t, sizeof(t), ns);
        if (res->bytes == 0)
                snprintf(buf, size, "%s", t);
        else
                snprintf(buf, size, "%.2f GB/s (%s)", gbps, t);
}

static void print_table(void) {
        char mc[48], raw[48], target[16], range[32];

        printf("\n%-32s | %-22s | %-22s | %5s | %7s | %-7s | %-13s | %s\n", "benchmark", "memcap",
               "raw", "ratio", "target", "verdict", "ratio min-max", "cpu ratio");
        printf("%.32s-+-%.22s-+-%.22s-+-%.5s-+-%.7s-+-%.7s-+-%.13s-+-%.9s\n",
               "--------------------------------", "----------------------",
               "----------------------", "-----", "-------", "-------", "-------------",
               "---------");
        for (size_t i = 0; i < n_results; i++) {
                const result *res = &results[i];

                format_cell(mc, sizeof(mc), res, res->memcap_ns, res->memcap_gbps);
                format_cell(raw, sizeof(raw), res, res->raw_ns, res->raw_gbps);
                if (res->goal == GOAL_NONE)
                        snprintf(target, sizeof(target), "-");
                else
                        snprintf(target, sizeof(target), "%s %.2f",
                                 res->goal == GOAL_AT_MOST ? "<=" : ">=", res->target);
                snprintf(range, sizeof(range), "%.3f-%.3f", res->ratio_min, res->ratio_max);
                printf("%-32s | %-22s | %-22s | %5.3f | %7s | %-7s | %-13s | %.3f\n", res->name, mc,
                       raw, res->ratio, target, verdict(res), range, res->cpu_ratio);
        }
        printf("\nratio: time memcap/raw for time rows (lower is better), throughput memcap/raw "
               "for GB/s rows (higher is better);\nthe median of the per-round ratios of "
               "elapsed time (CLOCK_MONOTONIC), which the verdict uses. cpu ratio: the same\n"
               "from the thread's CPU time, which leaves out time spent waiting for a CPU. "
               "GB = 10^9 bytes. Times in parentheses are per operation.\n");
}

/* Everything the run found out, for machines; the process placement is part of the result. */
typedef struct run_info {
        const options *opts;
        pid_t pid;
        int cpu_start, cpu_end;
        bench_cpus cpus;
        char kernel[256];
        char scan_dir[PATH_MAX];
        uint64_t scan_bytes;
        double resident_pct;
        double audit_bytes_per_record;
        bench_machine machine_start, machine_end;
} run_info;

/*
 * Share of the machine's CPU time used by others during the run. This process keeps one CPU
 * busy; what is neither idle nor ours was somebody else's. (The load average lags by a minute
 * and counts this process, so it is shown but not used.)
 */
static double other_work_pct(const run_info *info) {
        double idle = bench_machine_pct(&info->machine_start, &info->machine_end, false);
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        double others;

        if (ncpu <= 0 || !isfinite(idle))
                return NAN;
        others = 100.0 - idle - 100.0 / (double) ncpu;
        return others < 0.0 ? 0.0 : others;
}

/* @f was opened before the run, so a bad --json path fails at once, not after it; closed here. */
static int write_json(FILE *f, const char *path, const run_info *info) {
        fprintf(f, "{\n  \"benchmark\": \"memory\",\n  \"memcap_version\": ");
        bench_json_string(f, mc_version());
        fprintf(f, ",\n  \"kernel\": ");
        bench_json_string(f, info->kernel);
        fprintf(f, ",\n  \"quick\": %s,\n  \"rounds\": %u,\n", info->opts->quick ? "true" : "false",
                info->opts->rounds);
        fprintf(f, "  \"process\": {\"single_process\": true, \"pid\": %d, \"pinned_cpu\": ",
                (int) info->pid);
        if (info->opts->pin >= 0)
                fprintf(f, "%d", info->opts->pin);
        else
                fputs("null", f);
        fprintf(f, ", \"cpu_start\": %d, \"cpu_end\": %d", info->cpu_start, info->cpu_end);
        bench_json_member_cpus(f, "cpus_seen", info->cpus.seen);
        fprintf(f, ", \"timed_runs\": %u, \"migrations_between_runs\": %u},\n", info->cpus.runs,
                info->cpus.migrations);
        fprintf(f, "  \"machine\": {\"load1_start\": ");
        bench_json_number(f, info->machine_start.load1);
        bench_json_member_number(f, "load1_end", info->machine_end.load1);
        bench_json_member_number(f, "steal_percent",
                                 bench_machine_pct(&info->machine_start, &info->machine_end, true));
        bench_json_member_number(f, "other_work_percent", other_work_pct(info));
        bench_json_member_number(
                f, "idle_percent",
                bench_machine_pct(&info->machine_start, &info->machine_end, false));
        fprintf(f, ", \"involuntary_context_switches\": %ld, \"online_cpus\": %ld},\n",
                info->machine_end.nivcsw - info->machine_start.nivcsw,
                sysconf(_SC_NPROCESSORS_ONLN));
        fprintf(f, "  \"scan_file\": {\"dir\": ");
        bench_json_string(f, info->scan_dir);
        fprintf(f, ", \"bytes\": %" PRIu64 ", \"resident_percent\": ", info->scan_bytes);
        bench_json_number(f, info->resident_pct);
        fprintf(f, "},\n  \"audit_bytes_per_record\": ");
        bench_json_number(f, info->audit_bytes_per_record);
        fprintf(f, ",\n  \"results\": [\n");
        for (size_t i = 0; i < n_results; i++) {
                const result *res = &results[i];

                fprintf(f, "    {\"name\": ");
                bench_json_string(f, res->name);
                fprintf(f, ", \"unit\": \"%s\", \"bytes_per_op\": %" PRIu64 ", ",
                        res->bytes ? "GB/s" : "ns/op", res->bytes);
                fprintf(f, "\"memcap_ns\": ");
                bench_json_number(f, res->memcap_ns);
                bench_json_member_number(f, "raw_ns", res->raw_ns);
                if (res->bytes) {
                        bench_json_member_number(f, "memcap_gbps", res->memcap_gbps);
                        bench_json_member_number(f, "raw_gbps", res->raw_gbps);
                }
                bench_json_member_ratios(f, res->ratio, res->ratio_min, res->ratio_max);
                bench_json_member_number(f, "cpu_ratio", res->cpu_ratio);
                fprintf(f, ", \"ratio_meaning\": \"%s\", \"target\": ",
                        res->bytes ? "memcap/raw throughput" : "memcap/raw time");
                if (res->goal == GOAL_NONE)
                        fputs("null, \"verdict\": null", f);
                else {
                        fprintf(f, "{\"op\": \"%s\", \"value\": ",
                                res->goal == GOAL_AT_MOST ? "<=" : ">=");
                        bench_json_number(f, res->target);
                        fprintf(f, "}, \"verdict\": \"%s\"", verdict(res));
                }
                fprintf(f, ", \"iterations_per_round\": %" PRIu64 ", \"rounds\": %u", res->iters,
                        res->rounds);
                bench_json_member_rounds(f, "memcap_ns_rounds", res->memcap_rounds, res->rounds);
                bench_json_member_rounds(f, "raw_ns_rounds", res->raw_rounds, res->rounds);
                bench_json_member_rounds(f, "memcap_cpu_ns_rounds", res->memcap_cpu_rounds,
                                         res->rounds);
                bench_json_member_rounds(f, "raw_cpu_ns_rounds", res->raw_cpu_rounds, res->rounds);
                fprintf(f, "}%s\n", i + 1 < n_results ? "," : "");
        }
        fprintf(f, "  ],\n  \"notes\": ");
        bench_json_notes(f);
        fprintf(f, "\n}\n");
        return bench_json_close(f, path);
}

/* ---- cleanup of temporary files, also on SIGINT/SIGTERM ---- */

static char scan_path[PATH_MAX];
static char audit_path[PATH_MAX];
static volatile sig_atomic_t scan_created, audit_created;

static void remove_files(void) {
        if (scan_created)
                unlink(scan_path);
        if (audit_created)
                unlink(audit_path);
        scan_created = audit_created = 0;
}

/* A 1 GiB file must not be left behind by ^C; unlink() is async-signal-safe. */
static void on_terminate(int sig) {
        int saved = errno;

        remove_files();
        signal(sig, SIG_DFL);
        raise(sig);
        errno = saved;
}

static int install_cleanup(void) {
        struct sigaction sa;
        static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_terminate;
        sigfillset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
                if (sigaction(sigs[i], &sa, NULL) < 0)
                        return bench_fail_errno(errno, "sigaction");
        if (atexit(remove_files) != 0)
                return bench_fail(-ENOMEM, "atexit failed");
        return 0;
}

/* ---- 1+2: map + unmap of 4 KiB anonymous memory ---- */

#define ANON_LEN 4096

typedef struct anon_arg {
        mc_ctx *ctx;
} anon_arg;

static int anon_raw(void *arg, uint64_t iters) {
        (void) arg;
        for (uint64_t i = 0; i < iters; i++) {
                void *p = mmap(NULL, ANON_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                               -1, 0);
                if (p == MAP_FAILED)
                        return bench_fail_errno(errno, "mmap 4 KiB anonymous");
                if (munmap(p, ANON_LEN) < 0)
                        return bench_fail_errno(errno, "munmap");
        }
        return 0;
}

static int anon_memcap(void *arg, uint64_t iters) {
        anon_arg *a = arg;
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error e = MC_ERROR_INIT;
        mc_mapping m;
        int r;

        req.length = ANON_LEN;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_PRIVATE | MC_MAP_ANONYMOUS;
        for (uint64_t i = 0; i < iters; i++) {
                r = mc_mmap(a->ctx, &req, &m, &e);
                if (r < 0)
                        return fail_mc(r, "mc_mmap 4 KiB anonymous", &e);
                r = mc_munmap(a->ctx, &m, &e);
                if (r < 0)
                        return fail_mc(r, "mc_munmap", &e);
        }
        return 0;
}

/* The audit log would grow by megabytes a round; start every run from an empty file. */
static int audit_truncate(void *arg) {
        (void) arg;
        if (truncate(audit_path, 0) < 0)
                return bench_fail_errno(errno, audit_path);
        return 0;
}

/* Bytes and '\n'-terminated lines in @path: the audit sink writes one record per line. */
static int count_lines(const char *path, uint64_t *ret_bytes, uint64_t *ret_lines) {
        char buf[65536];
        uint64_t bytes = 0, lines = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return bench_fail_errno(errno, path);
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = bench_fail_errno(errno, path);
                        break;
                }
                if (n == 0)
                        break;
                bytes += (uint64_t) n;
                for (const char *p = buf; (p = memchr(p, '\n', (size_t) (buf + n - p))); p++)
                        lines++;
        }
        close(fd);
        *ret_bytes = bytes;
        *ret_lines = lines;
        return r;
}

/*
 * The measurement of a benchmark of @n cases: calibrate on the first (the fastest side, so every
 * side's round is at least @min_ns long), one warm-up run of each, then the interleaved rounds
 * into @ns and @cpu. The calibrated iterations per round go to *@ret_iters.
 */
static int measure(const bench_case *cases, size_t n, unsigned rounds, uint64_t min_ns,
                   run_info *info, double *ns, double *cpu, uint64_t *ret_iters) {
        int r;

        r = bench_calibrate(&cases[0], min_ns, &info->cpus, ret_iters);
        if (r >= 0)
                r = bench_warmup(cases, n, *ret_iters);
        if (r >= 0)
                r = bench_interleave(cases, n, rounds, *ret_iters, SLICES, &info->cpus, ns, cpu);
        return r;
}

static int bench_anon(const options *opts, uint64_t min_ns, run_info *info) {
        double ns[3 * MAX_ROUNDS], cpu[3 * MAX_ROUNDS];
        mc_error e = MC_ERROR_INIT;
        mc_ctx *plain = NULL, *audited = NULL;
        mc_audit *sink = NULL;
        anon_arg plain_arg, audited_arg;
        uint64_t iters;
        unsigned n = opts->rounds;
        uint64_t bytes = 0, lines = 0;
        int r;

        snprintf(audit_path, sizeof(audit_path), "/tmp/memcap-bench-audit-%d.jsonl",
                 (int) getpid());
        r = mc_ctx_new(&plain, &e);
        if (r < 0)
                return fail_mc(r, "mc_ctx_new", &e);
        r = mc_ctx_new(&audited, &e);
        if (r < 0) {
                r = fail_mc(r, "mc_ctx_new", &e);
                goto out;
        }
        /* O_EXCL-like: refuse to append to somebody else's file of the same name. */
        if (access(audit_path, F_OK) == 0) {
                r = bench_fail(-EEXIST, "%s already exists", audit_path);
                goto out;
        }
        r = mc_audit_open_file(audit_path, /* flags= */ 0, &sink, &e);
        if (r < 0) {
                r = fail_mc(r, "mc_audit_open_file", &e);
                goto out;
        }
        audit_created = 1;
        mc_ctx_set_audit(audited, sink);

        plain_arg.ctx = plain;
        audited_arg.ctx = audited;
        const bench_case cases[3] = {
                {"raw mmap+munmap", anon_raw, NULL, NULL},
                {"mc_mmap+mc_munmap", anon_memcap, NULL, &plain_arg},
                {"mc_mmap+mc_munmap, audit file", anon_memcap, audit_truncate, &audited_arg},
        };

        r = measure(cases, 3, n, min_ns, info, ns, cpu, &iters);
        if (r < 0)
                goto out;

        /* The last audited run left its records: check they are there and how big they are. */
        r = count_lines(audit_path, &bytes, &lines);
        if (r < 0)
                goto out;
        if (lines == 0) {
                r = bench_fail(-EIO, "the audit sink wrote nothing to %s", audit_path);
                goto out;
        }
        info->audit_bytes_per_record = (double) bytes / (double) lines;

        r = add_result("map+unmap 4 KiB anon", ns, cpu, n, 1, 0, iters, 0, GOAL_AT_MOST, 1.10);
        if (r >= 0)
                r = add_result("map+unmap 4 KiB anon, audit file", ns, cpu, n, 2, 0, iters, 0,
                               GOAL_NONE, 0);
out:
        /* The sink belongs to the audited context since mc_ctx_set_audit(); freeing the
         * context closes it. */
        mc_ctx_free(audited);
        mc_ctx_free(plain);
        if (audit_created) {
                unlink(audit_path);
                audit_created = 0;
        }
        return r;
}

/* ---- 3: sequential scan of a page-cached file ---- */

/* The file holds bytes 0..250 only, so memchr() for SCAN_ABSENT reads every byte. */
#define SCAN_ABSENT 0xff

typedef struct scan_arg {
        mc_ctx *ctx;
        uint64_t size;
} scan_arg;

static int scan_check(const void *p, size_t len) {
        const unsigned char *hit = memchr(p, SCAN_ABSENT, len);

        if (hit)
                return bench_fail(-EBADMSG,
                                  "%s changed under the benchmark: byte 0x%x at offset %td",
                                  scan_path, SCAN_ABSENT, hit - (const unsigned char *) p);
        return 0;
}

/* What a program does without memcap: the size from fstat(), one shared mapping. */
static int scan_raw(void *arg, uint64_t iters) {
        const scan_arg *a = arg;
        int r;

        for (uint64_t i = 0; i < iters; i++) {
                r = bench_scan_file(scan_path, a->size, scan_check);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_memcap(void *arg, uint64_t iters) {
        const scan_arg *a = arg;
        mc_error e = MC_ERROR_INIT;
        mc_mapping m;
        int r;

        for (uint64_t i = 0; i < iters; i++) {
                r = mc_map_file(a->ctx, scan_path, MC_PROT_READ, /* opts= */ NULL, &m, &e);
                if (r < 0)
                        return fail_mc(r, "mc_map_file", &e);
                if (m.len != a->size) {
                        mc_unmap(a->ctx, &m, NULL);
                        return bench_fail(-EBADMSG, "%s changed size under the benchmark",
                                          scan_path);
                }
                r = scan_check(m.ptr, m.len);
                if (mc_unmap(a->ctx, &m, &e) < 0 && r >= 0)
                        r = fail_mc(-EIO, "mc_unmap", &e);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * Where the file goes and how big it is. It wants three times its size free on the file system
 * (the brief: 1 GiB needs 3 GiB) and, to stay cached, at most half the available memory;
 * otherwise it shrinks to the largest power of two that fits, and says so.
 */
static int scan_plan(const options *opts, run_info *info) {
        uint64_t want = opts->quick ? 64 * MIB : GIB, best_free, size = 0;
        const char *best = bench_file_place(opts->dir, want, &best_free, &size);

        if (!best)
                return bench_fail(-ENOSPC, "no space for the scan file in %s",
                                  opts->dir ? opts->dir : "/var/tmp or /tmp");
        if (size < MIB)
                return bench_fail(-ENOSPC, "no room for even a 1 MiB scan file in %s", best);
        /* Room for "/memcap-bench-<pid>.dat" too; a path that long is refused, not cut. */
        if (strlen(best) + 64 > sizeof(info->scan_dir))
                return bench_fail(-ENAMETOOLONG, "directory name too long: %s", best);
        memcpy(info->scan_dir, best, strlen(best) + 1);
        info->scan_bytes = size;
        return 0;
}

/* Create the file once, flush it to disk (so no write-back runs during the rounds), read it
 * once so it is cached, and measure how much of it is resident. */
static int scan_create(run_info *info) {
        size_t chunk = MIB, len;
        unsigned char *buf = NULL;
        void *p;
        int fd = -1, r;

        if (snprintf(scan_path, sizeof(scan_path), "%.*s/memcap-bench-%d.dat",
                     (int) (sizeof(scan_path) - 64), info->scan_dir,
                     (int) getpid()) >= (int) sizeof(scan_path))
                return bench_fail(-ENAMETOOLONG, "scan file name too long");
        r = bench_scan_file_write(scan_path, info->scan_bytes, &scan_created);
        if (r < 0)
                return r;

        buf = malloc(chunk);
        if (!buf)
                return bench_fail(-ENOMEM, "out of memory");
        fd = open(scan_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = bench_fail_errno(errno, scan_path);
                goto out;
        }
        for (;;) {
                ssize_t n = read(fd, buf, chunk);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = bench_fail_errno(errno, "reading the scan file");
                        goto out;
                }
                if (n == 0)
                        break;
        }

        r = bench_map_file(scan_path, info->scan_bytes, &p, &len);
        if (r < 0)
                goto out;
        r = bench_resident_pct(p, len, &info->resident_pct);
        munmap(p, len);
        if (r < 0) {
                r = bench_fail_errno(-r, "mincore");
                goto out;
        }
        if (info->resident_pct < 99.0)
                bench_note("only %.1f%% of the scan file was in the page cache before the rounds",
                           info->resident_pct);
out:
        if (fd >= 0)
                close(fd);
        free(buf);
        return r;
}

static int bench_scan(const options *opts, uint64_t min_ns, mc_ctx *ctx, run_info *info) {
        double ns[2 * MAX_ROUNDS], cpu[2 * MAX_ROUNDS];
        unsigned n = opts->rounds;
        uint64_t iters;
        scan_arg a = {ctx, info->scan_bytes};
        const bench_case cases[2] = {
                {"raw open+mmap+memchr+munmap", scan_raw, NULL, &a},
                {"mc_map_file+memchr+mc_unmap", scan_memcap, NULL, &a},
        };
        char name[64];
        int r;

        r = measure(cases, 2, n, min_ns, info, ns, cpu, &iters);
        if (r < 0)
                return r;
        if (info->scan_bytes >= GIB)
                snprintf(name, sizeof(name), "scan %" PRIu64 " GiB file (memchr)",
                         info->scan_bytes / GIB);
        else
                snprintf(name, sizeof(name), "scan %" PRIu64 " MiB file (memchr)",
                         info->scan_bytes / MIB);
        return add_result(name, ns, cpu, n, 1, 0, iters, info->scan_bytes, GOAL_AT_LEAST, 0.97);
}

/* ---- 4: guarded copy out of a mapping ---- */

typedef struct copy_arg {
        mc_ctx *ctx;
        const mc_mapping *m;
        size_t window; /* the copies walk [0, window) of the mapping, then wrap */
        size_t len;    /* bytes per copy */
        size_t off;
        unsigned char *dst;
} copy_arg;

static int copy_raw(void *arg, uint64_t iters) {
        copy_arg *a = arg;
        const unsigned char *src = a->m->ptr;

        for (uint64_t i = 0; i < iters; i++) {
                memcpy(a->dst, src + a->off, a->len);
                bench_escape(a->dst);
                a->off += a->len;
                if (a->off + a->len > a->window)
                        a->off = 0;
        }
        return 0;
}

static int copy_memcap(void *arg, uint64_t iters) {
        copy_arg *a = arg;
        mc_error e = MC_ERROR_INIT;
        int r;

        for (uint64_t i = 0; i < iters; i++) {
                r = mc_map_read(a->ctx, a->m, a->off, a->dst, a->len, &e);
                if (r < 0)
                        return fail_mc(r, "mc_map_read", &e);
                bench_escape(a->dst);
                a->off += a->len;
                if (a->off + a->len > a->window)
                        a->off = 0;
        }
        return 0;
}

static int bench_copy_one(const options *opts, uint64_t min_ns, mc_ctx *ctx, const mc_mapping *m,
                          size_t window, size_t len, unsigned char *dst, const char *name, goal g,
                          double target, run_info *info) {
        double ns[2 * MAX_ROUNDS], cpu[2 * MAX_ROUNDS];
        unsigned n = opts->rounds;
        uint64_t iters;
        copy_arg raw = {ctx, m, window, len, 0, dst}, mc = raw;
        const bench_case cases[2] = {
                {"memcpy", copy_raw, NULL, &raw},
                {"mc_map_read", copy_memcap, NULL, &mc},
        };
        int r;

        r = bench_calibrate(&cases[0], min_ns, &info->cpus, &iters);
        if (r < 0)
                return r;
        r = bench_warmup(cases, 2, iters);
        if (r < 0)
                return r;
        /* Both sides start at offset 0 and walk the same offsets in every round. */
        raw.off = mc.off = 0;
        r = bench_interleave(cases, 2, n, iters, SLICES, &info->cpus, ns, cpu);
        if (r < 0)
                return r;
        return add_result(name, ns, cpu, n, 1, 0, iters, len, g, target);
}

/*
 * The source is a memcap mapping of the scan file, prefaulted, so both sides copy the same
 * resident bytes. The streaming rows walk a window larger than the caches (up to 256 MiB), as
 * a reader of a big mapped file does; the "hot" row copies the same 4 KiB again and again,
 * which shows memcap's fixed cost per call at its most visible.
 */
static int bench_copy(const options *opts, uint64_t min_ns, mc_ctx *ctx, run_info *info) {
        mc_map_file_options fo = MC_MAP_FILE_OPTIONS_INIT;
        mc_error e = MC_ERROR_INIT;
        mc_mapping m;
        unsigned char *dst = NULL;
        size_t window = (size_t) (info->scan_bytes < 256 * MIB ? info->scan_bytes : 256 * MIB);
        int r;

        fo.length = window;
        r = mc_map_file(ctx, scan_path, MC_PROT_READ, &fo, &m, &e);
        if (r < 0)
                return fail_mc(r, "mc_map_file", &e);
        r = scan_check(m.ptr, m.len); /* prefault every page */
        if (r < 0)
                goto out;
        dst = aligned_alloc(4096, MIB);
        if (!dst) {
                r = bench_fail(-ENOMEM, "out of memory");
                goto out;
        }
        memset(dst, 0, MIB);

        r = bench_copy_one(opts, min_ns, ctx, &m, window, 4 * KIB, dst, "copy 4 KiB (streaming)",
                           GOAL_NONE, 0, info);
        if (r >= 0)
                r = bench_copy_one(opts, min_ns, ctx, &m, window, MIB, dst,
                                   "copy 1 MiB (streaming)", GOAL_AT_LEAST, 0.90, info);
        if (r >= 0)
                r = bench_copy_one(opts, min_ns, ctx, &m, 4 * KIB, 4 * KIB, dst,
                                   "copy 4 KiB (same 4 KiB, hot)", GOAL_NONE, 0, info);
out:
        free(dst);
        if (mc_unmap(ctx, &m, &e) < 0 && r >= 0)
                r = fail_mc(-EIO, "mc_unmap", &e);
        return r;
}

/* ---- main ---- */

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-memory [--quick] [--rounds N] [--pin CPU] [--json FILE] [--dir DIR]\n"
                "\n"
                "Compare memcap's memory capability with the raw system calls, interleaved in\n"
                "one process. See bench/README.md.\n"
                "\n"
                "  --quick       3 rounds, short rounds, a 64 MiB scan file (a CI smoke run)\n"
                "  --rounds N    rounds per benchmark (default 11; 3 with --quick)\n"
                "  --pin CPU     run on CPU only (sched_setaffinity)\n"
                "  --json FILE   also write the results as JSON to FILE\n"
                "  --dir DIR     put the scan file in DIR (default /var/tmp, else /tmp)\n");
}

static int take_option(int c, const char *arg, void *userdata) {
        options *opts = userdata;

        switch (c) {
        case 'p':
                if (bench_parse_cpu(arg, &opts->pin) < 0)
                        return bench_bad_value("bench-memory", "--pin", "a CPU number", arg);
                return 0;
        case 'd':
                opts->dir = arg;
                return 0;
        }
        return -EINVAL;
}

static int parse_options(int argc, char **argv, options *opts) {
        static const struct option own[] = {
                {"pin", required_argument, NULL, 'p'},
                {"dir", required_argument, NULL, 'd'},
                {NULL, 0, NULL, 0},
        };
        const bench_cli cli = {.prog = "bench-memory",
                               .usage = usage,
                               .max_rounds = MAX_ROUNDS,
                               .own = own,
                               .take = take_option,
                               .userdata = opts};

        *opts = (options){.pin = -1, .rounds = 11};
        return bench_parse_options(argc, argv, &cli, &opts->quick, &opts->json, &opts->rounds);
}

static void print_cpus(const bench_cpus *cpus) {
        printf("CPUs seen at the start of the %u timed runs: {", cpus->runs);
        for (int c = 0, first = 1; c < 64; c++)
                if (cpus->seen & (UINT64_C(1) << c)) {
                        printf("%s%d", first ? "" : ",", c);
                        first = 0;
                }
        printf("}; %u moves between runs\n", cpus->migrations);
}

/* The machine's load decides how far the numbers can be trusted; say it next to them. */
static void print_machine(const run_info *info) {
        const bench_machine *a = &info->machine_start, *b = &info->machine_end;
        double steal = bench_machine_pct(a, b, true), idle = bench_machine_pct(a, b, false);
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        double others = other_work_pct(info);

        if (others > 10.0 || steal > 5.0)
                bench_note("the machine was busy: other work used ~%.0f%% of its CPU time and the "
                           "hypervisor stole %.1f%%; expect noise. The ratios, taken within "
                           "interleaved rounds, hold up better than the absolute numbers",
                           others, steal);
        printf("machine during the run: %ld CPUs, load average %.2f -> %.2f; other work ~%.0f%% "
               "of CPU time, %.1f%% stolen by the hypervisor, %.1f%% idle; this process was "
               "preempted %ld times\n",
               ncpu, a->load1, b->load1, others, steal, idle, b->nivcsw - a->nivcsw);
}

int main(int argc, char **argv) {
        run_info info = {
                .cpus = BENCH_CPUS_INIT, .resident_pct = NAN, .audit_bytes_per_record = NAN};
        mc_error e = MC_ERROR_INIT;
        mc_policy *policy = NULL;
        mc_ctx *ctx = NULL;
        FILE *json = NULL;
        options opts;
        uint64_t min_ns;
        int r;

        if (parse_options(argc, argv, &opts) < 0)
                return 2;
        info.opts = &opts;
        info.pid = getpid();
        setvbuf(stdout, NULL, _IOLBF, 0);
        bench_kernel(info.kernel, sizeof(info.kernel));

        if (opts.pin >= 0) {
                r = bench_pin(opts.pin);
                if (r < 0) {
                        fprintf(stderr, "bench-memory: pinning to CPU %d: %s\n", opts.pin,
                                strerror(-r));
                        return 1;
                }
        }
        info.cpu_start = sched_getcpu();
        /* Rounds of at least 50 ms drown timer resolution and scheduler ticks. */
        min_ns = opts.quick ? 5 * UINT64_C(1000000) : 50 * UINT64_C(1000000);

        printf("bench-memory: libmemcap %s, %s\n", mc_version(), info.kernel);
        printf("single process (pid %d, one thread), %s, on CPU %d at start\n", (int) info.pid,
               opts.pin >= 0 ? "pinned with sched_setaffinity" : "not pinned", info.cpu_start);
        printf("%u rounds per benchmark, interleaved, rounds >= %" PRIu64 " ms%s\n", opts.rounds,
               min_ns / 1000000, opts.quick ? " (--quick: a smoke run, not a measurement)" : "");
        bench_note_trust(opts.rounds, opts.quick);

        r = install_cleanup();
        if (r < 0)
                goto out;
        r = bench_json_open(opts.json, &json);
        if (r < 0)
                goto out;

        bench_machine_snap(&info.machine_start);
        printf("[1-2] map+unmap 4 KiB anonymous, without and with an audit file sink...\n");
        r = bench_anon(&opts, min_ns, &info);
        if (r < 0)
                goto out;

        /* The scan maps the whole file; be explicit about the quota rather than lean on the
         * default of 4 GiB happening to be enough. */
        r = mc_policy_new(&policy, &e);
        if (r >= 0)
                r = mc_policy_set_max_memory_usage(policy, MC_UNLIMITED);
        if (r >= 0)
                r = mc_ctx_new(&ctx, &e);
        if (r >= 0)
                r = mc_ctx_set_policy(ctx, policy, &e);
        if (r < 0) {
                r = fail_mc(r, "setting up the scan context", &e);
                goto out;
        }

        r = scan_plan(&opts, &info);
        if (r < 0)
                goto out;
        printf("[3] creating and caching a %" PRIu64 " MiB file in %s...\n", info.scan_bytes / MIB,
               info.scan_dir);
        r = scan_create(&info);
        if (r < 0)
                goto out;
        printf("    %.1f%% of it in the page cache\n", info.resident_pct);
        r = bench_scan(&opts, min_ns, ctx, &info);
        if (r < 0)
                goto out;

        printf("[4] guarded copy mc_map_read vs memcpy...\n");
        r = bench_copy(&opts, min_ns, ctx, &info);
        if (r < 0)
                goto out;

        info.cpu_end = sched_getcpu();
        bench_machine_snap(&info.machine_end);
        print_machine(&info);
        print_table();
        printf("\nwhere it ran: single process, %s; CPU %d at start, %d at end; ",
               opts.pin >= 0 ? "pinned" : "not pinned", info.cpu_start, info.cpu_end);
        print_cpus(&info.cpus);
        printf("scan file: %" PRIu64 " MiB in %s (%.1f%% cached); audit records: %.0f bytes "
               "each\n",
               info.scan_bytes / MIB, info.scan_dir, info.resident_pct,
               info.audit_bytes_per_record);
        for (size_t i = 0; i < bench_n_notes; i++)
                printf("note: %s\n", bench_notes[i]);
        if (opts.json) {
                r = write_json(json, opts.json, &info);
                json = NULL;
                if (r < 0)
                        goto out;
                printf("results written to %s\n", opts.json);
        }
out:
        if (json)
                fclose(json);
        mc_ctx_free(ctx);
        mc_policy_free(policy);
        remove_files();
        results_free();
        return bench_exit_code("bench-memory", r);
}
