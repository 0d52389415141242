/* SPDX-License-Identifier: MIT */
/*
 * bench-channel: memcap's channel between two processes against the other ways Linux moves a
 * message from one process to another: a Unix socketpair, a pipe, Boost.Interprocess's
 * message_queue (a C++ program of its own, bench-channel-boost), and, for large messages, the
 * bandwidth of memcpy in one process (the copy limit).
 *
 * Rows (ratio: ours over the baseline, > 1 means the channel is faster):
 *   throughput_64B_vs_{unix_socket,pipe,boost_mq}: messages/s of 64-byte messages, producer
 *       and consumer in two processes pinned to two CPUs; from the first send to the
 *       consumer's last receive. Target against the socket: >= 10 (floor 5).
 *   rtt_same_cpu_vs_{unix_socket,pipe,boost_mq}: a 64-byte ping-pong, both processes pinned to
 *       one CPU, every round trip timed; the median. Target against the socket: >= 2.
 *   rtt_two_cpus_vs_unix_socket: the same on two CPUs (no target).
 *   throughput_{4KiB,64KiB}_vs_memcpy: payload bytes/s of the channel (two CPUs) against
 *       memcpy of the same message size into a buffer as large as the channel's ring, in one
 *       process on one CPU (no target: how close to the copy limit a channel gets).
 *
 * How: every side of a row runs once per round, in rotated order (bench-util.h's advice for
 * runs that cannot be sliced: each run forks its consumer, which is set up and has said so
 * before the clock starts). A row's ratio is the median of the per-round ratios; min-max shows
 * how far the rounds disagreed. The message count is calibrated once so that a run lasts >= 100
 * ms (10 ms with --quick): the channel's for throughput (the fastest side: a shorter run would
 * be at the mercy of one preemption), the socket's for round trips; every side of a row uses
 * the same count. Every
 * message carries its sequence number and is checked by the consumer; a wrong one is a failure.
 * The channel is used through the public API with its defaults (adaptive spinning, futex
 * waits); its producer blocks in mc_channel_send() when the ring is full, the socket's and
 * pipe's in write(). The socket and pipe consumers read up to 1 MiB per read(), which lets
 * them take many messages per system call (the channel takes one per call, without one).
 *
 * Output: a table, or with --json one JSON object per row per line ("name", "ratio", ...).
 * Exit status: 0 when every row ran (also when a target was missed), 1 when something failed,
 * 2 for bad options.
 *
 * Sections: options; the transports (channel, socket, pipe, Boost, memcpy); rows; output;
 * main.
 */

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <memcap/memcap.h>

#include "bench-util-options.h"
#include "bench-util-report.h"
#include "bench-util.h"

#define MAX_ROUNDS 200
#define RTT_SIZE   64
#define BIG_RING   (512 * 1024) /* the ring of the 4 KiB / 64 KiB rows, and memcpy's buffer */

/* ---- options ---- */

typedef struct options {
        bool quick;
        const char *json; /* "-" with --json: JSON lines on stdout instead of the table */
        unsigned rounds;
        int cpu_a, cpu_b;
        const char *boost; /* the baseline program, NULL: next to this one */
} options;

static options opts = {.rounds = 7, .cpu_a = -1, .cpu_b = -1};
static char boost_path[PATH_MAX];
static bool have_boost;
static mc_ctx *ctx;

/* ---- the transports ---- */

/*
 * One run of one side: @count messages of @size bytes, the producer (this process) on @cpu_p,
 * the consumer (a child) on @cpu_c. *@ret is the run's time in ns (throughput, copy) or its
 * median round trip in ns (rtt, and *@ret_p99 its p99).
 */
typedef enum kind { THROUGHPUT, RTT } kind;

typedef struct run_args {
        kind kind;
        size_t size;
        uint64_t count;
        int cpu_p, cpu_c;
        double ns, p99;
} run_args;

/* What the consumer tells the producer through the sync pipe. */
typedef struct done {
        uint64_t t1;
        int cpu;
        int failed; /* the message number that was wrong + 1, or 0 */
} done;

static int last_cpu_c = -1, last_cpu_p = -1;

static void set_msg(uint8_t *buf, uint64_t seq) {
        memcpy(buf, &seq, 8);
}

static bool msg_ok(const uint8_t *buf, uint64_t seq) {
        uint64_t v;

        memcpy(&v, buf, 8);
        return v == seq;
}

/* The consumer's side of every transport but Boost; runs in the child. */
typedef struct endpoint {
        int (*recv)(struct endpoint *e, uint8_t *buf, size_t size); /* 0 or -errno */
        int (*send)(struct endpoint *e, const uint8_t *buf, size_t size);
        mc_channel *ch_in, *ch_out; /* the channel's two directions */
        int fd_in, fd_out;
        uint8_t *stream; /* stream consumers read ahead into this */
        size_t have, used;
} endpoint;

/* A stream consumer takes whatever is there (up to 1 MiB) and hands out records from it. */
static int fd_recv(endpoint *e, uint8_t *buf, size_t size) {
        while (e->have - e->used < size) {
                ssize_t r;

                memmove(e->stream, e->stream + e->used, e->have - e->used);
                e->have -= e->used;
                e->used = 0;
                r = read(e->fd_in, e->stream + e->have, (1 << 20) - e->have);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return r < 0 ? -errno : -EPIPE;
                e->have += (size_t) r;
        }
        memcpy(buf, e->stream + e->used, size);
        e->used += size;
        return 0;
}

static int fd_send(endpoint *e, const uint8_t *buf, size_t size) {
        return bench_write_all(e->fd_out, buf, size);
}

static int ch_recv(endpoint *e, uint8_t *buf, size_t size) {
        int r = mc_channel_recv(e->ch_in, buf, size, MC_WAIT_FOREVER, NULL);

        return r < 0 ? r : (size_t) r == size ? 0 : -EBADMSG;
}

static int ch_send(endpoint *e, const uint8_t *buf, size_t size) {
        return mc_channel_send(e->ch_out, buf, size, MC_WAIT_FOREVER, NULL);
}

/* The child: pinned, set up, says ready, consumes (and answers), reports. */
static _Noreturn void consumer(endpoint *e, const run_args *a, int sync_fd) {
        uint8_t *buf = malloc(a->size);
        done d = {0};

        if (a->cpu_c >= 0)
                (void) bench_pin(a->cpu_c);
        if (!buf || bench_write_all(sync_fd, "r", 1) < 0)
                _exit(1);
        for (uint64_t i = 0; i < a->count; i++) {
                if (e->recv(e, buf, a->size) < 0 || !msg_ok(buf, i)) {
                        d.failed = (int) (i + 1 < INT_MAX ? i + 1 : INT_MAX);
                        break;
                }
                if (a->kind == RTT && e->send(e, buf, a->size) < 0) {
                        d.failed = (int) (i + 1 < INT_MAX ? i + 1 : INT_MAX);
                        break;
                }
        }
        d.t1 = bench_now_ns();
        d.cpu = sched_getcpu();
        (void) bench_write_all(sync_fd, &d, sizeof(d));
        _exit(d.failed ? 1 : 0);
}

/* The producer's side, in this process, once the consumer is ready. */
static int producer(endpoint *e, run_args *a, pid_t pid, int sync_fd, const char *what) {
        uint8_t *buf = calloc(1, a->size);
        double *samples = a->kind == RTT ? malloc(a->count * sizeof(double)) : NULL;
        uint64_t t0;
        done d;
        char c;
        int status, r = 0;

        if (!buf || (a->kind == RTT && !samples))
                r = bench_fail(-ENOMEM, "%s: out of memory", what);
        if (r == 0 && read(sync_fd, &c, 1) != 1)
                r = bench_fail(-EIO, "%s: the consumer did not start", what);
        t0 = bench_now_ns();
        for (uint64_t i = 0; r == 0 && i < a->count; i++) {
                uint64_t t = a->kind == RTT ? bench_now_ns() : 0;

                set_msg(buf, i);
                if (e->send(e, buf, a->size) < 0)
                        r = bench_fail(-EIO, "%s: send %" PRIu64 " failed", what, i);
                else if (a->kind == RTT) {
                        if (e->recv(e, buf, a->size) < 0 || !msg_ok(buf, i))
                                r = bench_fail(-EIO, "%s: reply %" PRIu64 " wrong", what, i);
                        samples[i] = (double) (bench_now_ns() - t);
                }
        }
        if (r == 0 && read(sync_fd, &d, sizeof(d)) != (ssize_t) sizeof(d))
                r = bench_fail(-EIO, "%s: the consumer did not report", what);
        if (r == 0 && d.failed)
                r = bench_fail(-EIO, "%s: message %d arrived wrong or not at all", what,
                               d.failed - 1);
        if (r < 0)
                kill(pid, SIGKILL);
        if (waitpid(pid, &status, 0) != pid || (r == 0 && status != 0))
                r = bench_fail(-EIO, "%s: the consumer failed (status 0x%x)", what, status);
        if (r == 0) {
                last_cpu_c = d.cpu;
                last_cpu_p = sched_getcpu();
                if (a->kind == RTT) {
                        qsort(samples, a->count, sizeof(double), bench_cmp_double);
                        a->ns = bench_median(samples, a->count);
                        a->p99 = bench_p99(samples, a->count);
                } else {
                        a->ns = (double) (d.t1 - t0);
                }
        }
        free(samples);
        free(buf);
        return r;
}

static size_t ring_for(size_t size) {
        return size > 1024 ? BIG_RING : 65536;
}

/*
 * memcap's channel. The consumer's end is opened in the child from the inherited descriptors,
 * before it says ready; rtt uses a second channel for the replies.
 */
static int run_channel(run_args *a) {
        mc_channel_options o = MC_CHANNEL_OPTIONS_INIT;
        mc_channel req, rep;
        mc_error err = MC_ERROR_INIT;
        mc_channel_fds fds;
        endpoint e = {.recv = ch_recv, .send = ch_send, .ch_in = &rep, .ch_out = &req};
        int sync[2];
        pid_t pid;
        int r;

        o.capacity = a->kind == RTT ? 4096 : ring_for(a->size);
        o.max_message = a->size;
        if (mc_channel_create(ctx, NULL, &o, MC_CHANNEL_PRODUCER, &req, &err) < 0)
                return bench_fail(-EIO, "channel: %s", err.message);
        if (mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &rep, &err) < 0) {
                mc_channel_close(&req, NULL);
                return bench_fail(-EIO, "channel: %s", err.message);
        }
        if (pipe2(sync, O_CLOEXEC) < 0)
                return bench_fail_errno(errno, "pipe2");
        pid = fork();
        if (pid == 0) {
                mc_channel in, out;
                endpoint c = {.recv = ch_recv, .send = ch_send, .ch_in = &in, .ch_out = &out};

                close(sync[0]);
                if (a->cpu_c >= 0)
                        (void) bench_pin(a->cpu_c);
                if (mc_channel_get_fds(&req, &fds, NULL) < 0 ||
                    mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &in, NULL) < 0 ||
                    mc_channel_get_fds(&rep, &fds, NULL) < 0 ||
                    mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &out, NULL) < 0)
                        _exit(1);
                /* The inherited handles are the parent's ends; only our own copies go. */
                mc_channel_close(&req, NULL);
                mc_channel_close(&rep, NULL);
                consumer(&c, a, sync[1]);
        }
        close(sync[1]);
        if (pid < 0)
                r = bench_fail_errno(errno, "fork");
        else
                r = producer(&e, a, pid, sync[0], "channel");
        close(sync[0]);
        mc_channel_close(&req, NULL);
        mc_channel_close(&rep, NULL);
        return r;
}

/* A Unix stream socketpair (@pipes false) or two pipes. */
static int run_fd(run_args *a, bool pipes) {
        endpoint e = {.recv = fd_recv, .send = fd_send};
        int x[2], y[2] = {-1, -1}, r;

        e.stream = malloc(1 << 20);
        if (!e.stream)
                return bench_fail(-ENOMEM, "out of memory");
        if (pipes ? pipe2(x, O_CLOEXEC) < 0 || pipe2(y, O_CLOEXEC) < 0
                  : socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, x) < 0) {
                free(e.stream);
                return bench_fail_errno(errno, pipes ? "pipe2" : "socketpair");
        }
        /*
         * Parent: writes x[1] (pipe) / x[0] (socket), reads y[0] / x[0]. The child reads and
         * writes the other ends; both keep every descriptor, which changes nothing here.
         */
        if (pipes) {
                e.fd_out = x[1];
                e.fd_in = y[0];
        } else {
                e.fd_out = e.fd_in = x[0];
        }
        {
                int sync[2];
                pid_t pid;

                if (pipe2(sync, O_CLOEXEC) < 0) {
                        r = bench_fail_errno(errno, "pipe2");
                        goto out;
                }
                pid = fork();
                if (pid == 0) {
                        endpoint c = {.recv = fd_recv, .send = fd_send, .stream = e.stream};

                        close(sync[0]);
                        c.fd_in = pipes ? x[0] : x[1];
                        c.fd_out = pipes ? y[1] : x[1];
                        consumer(&c, a, sync[1]);
                }
                close(sync[1]);
                r = pid < 0 ? bench_fail_errno(errno, "fork")
                            : producer(&e, a, pid, sync[0], pipes ? "pipe" : "unix socket");
                close(sync[0]);
        }
out:
        close(x[0]);
        close(x[1]);
        if (pipes) {
                close(y[0]);
                close(y[1]);
        }
        free(e.stream);
        return r;
}

static int run_socket(run_args *a) {
        return run_fd(a, false);
}

static int run_pipe(run_args *a) {
        return run_fd(a, true);
}

/* Boost.Interprocess: bench-channel-boost does the same run and prints its time. */
static int run_boost(run_args *a) {
        char cmd[PATH_MAX + 128], out[128];
        FILE *f;
        int status;

        if (!have_boost)
                return bench_fail(-ENOENT, "boost: %s is not there", boost_path);
        snprintf(cmd, sizeof(cmd), "'%s' %s %" PRIu64 " %zu %d %d", boost_path,
                 a->kind == RTT ? "rtt" : "throughput", a->count, a->size, a->cpu_p, a->cpu_c);
        f = popen(cmd, "re");
        if (!f)
                return bench_fail_errno(errno, "popen bench-channel-boost");
        if (!fgets(out, sizeof(out), f))
                out[0] = 0;
        status = pclose(f);
        if (status != 0 || (a->kind == RTT ? sscanf(out, "%lf %lf", &a->ns, &a->p99) != 2
                                           : sscanf(out, "%lf", &a->ns) != 1))
                return bench_fail(-EIO, "bench-channel-boost failed (status 0x%x, output '%s')",
                                  status, out);
        /* It pins itself; the placement is the one asked for. */
        last_cpu_p = a->cpu_p;
        last_cpu_c = a->cpu_c;
        return 0;
}

/* The copy limit: memcpy of @size-byte messages into a BIG_RING buffer, round and round. */
static int run_memcpy(run_args *a) {
        uint8_t *src = malloc(a->size), *dst = malloc(BIG_RING);
        uint64_t t0;
        size_t off = 0;

        if (!src || !dst) {
                free(src);
                free(dst);
                return bench_fail(-ENOMEM, "out of memory");
        }
        memset(src, 1, a->size);
        memset(dst, 0, BIG_RING);
        t0 = bench_now_ns();
        for (uint64_t i = 0; i < a->count; i++) {
                set_msg(src, i);
                memcpy(dst + off, src, a->size);
                bench_escape(dst);
                off = off + 2 * a->size > BIG_RING ? 0 : off + a->size;
        }
        a->ns = (double) (bench_now_ns() - t0);
        free(src);
        free(dst);
        return 0;
}

/* ---- rows ---- */

typedef int (*run_fn)(run_args *a);

typedef struct side {
        const char *key;
        run_fn run;
} side;

static const side CHANNEL = {"channel", run_channel};
static const side SOCKET = {"unix_socket", run_socket};
static const side PIPE = {"pipe", run_pipe};
static const side BOOST = {"boost_mq", run_boost};
static const side MEMCPY = {"memcpy", run_memcpy};

typedef struct row {
        const char *name;
        const side *base;
        double target, floor; /* ratio wanted, and the least acceptable; 0: none */
        const char *placement;
        const char *unit;
        size_t size;
        uint64_t count;
        double ratio, ratio_min, ratio_max;
        double ours, baseline;         /* medians: msgs/s, ns or GB/s */
        double ours_p99, baseline_p99; /* rtt */
        bool ran;
} row;

static row rows[16];
static size_t n_rows;

/*
 * A group of rows that share the channel side: run @cases (the channel first) once per round
 * in rotated order, with @count messages of @size, and fill each row's cells and ratio.
 */
static int run_group(kind k, size_t size, uint64_t count, int cpu_p, int cpu_c,
                     const side *const *cases, size_t n, row *const *out) {
        double v[8][MAX_ROUNDS], p99[8][MAX_ROUNDS], ratio[MAX_ROUNDS];
        int r;

        /* A round trip's time is a median already; throughput and copy runs are per message. */
        for (unsigned round = 0; round < opts.rounds; round++)
                for (size_t j = 0; j < n; j++) {
                        size_t i = (round + j) % n;
                        run_args a = {.kind = k,
                                      .size = size,
                                      .count = count,
                                      .cpu_p = cpu_p,
                                      .cpu_c = cases[i]->run == run_memcpy ? cpu_p : cpu_c};

                        if (cases[i]->run == run_memcpy && a.cpu_p >= 0)
                                (void) bench_pin(a.cpu_p);
                        r = cases[i]->run(&a);
                        if (r < 0)
                                return r;
                        v[i][round] = k == RTT ? a.ns : a.ns / (double) count;
                        p99[i][round] = a.p99;
                }
        for (size_t i = 1; i < n; i++) {
                row *w = out[i - 1];

                for (unsigned round = 0; round < opts.rounds; round++)
                        ratio[round] = v[i][round] / v[0][round];
                bench_ratio_range(ratio, opts.rounds, &w->ratio, &w->ratio_min, &w->ratio_max);
                w->count = count;
                w->size = size;
                if (k == RTT) {
                        w->unit = "ns";
                        w->ours = bench_median(v[0], opts.rounds);
                        w->baseline = bench_median(v[i], opts.rounds);
                        w->ours_p99 = bench_median(p99[0], opts.rounds);
                        w->baseline_p99 = bench_median(p99[i], opts.rounds);
                } else if (size >= 1024) {
                        w->unit = "GB/s";
                        w->ours = (double) size / bench_median(v[0], opts.rounds);
                        w->baseline = (double) size / bench_median(v[i], opts.rounds);
                } else {
                        w->unit = "msgs/s";
                        w->ours = 1e9 / bench_median(v[0], opts.rounds);
                        w->baseline = 1e9 / bench_median(v[i], opts.rounds);
                }
                w->ran = true;
        }
        return 0;
}

static row *add_row(const char *name, const side *base, double target, double floor,
                    const char *placement) {
        row *w = &rows[n_rows++];

        *w = (row){.name = name,
                   .base = base,
                   .target = target,
                   .floor = floor,
                   .placement = placement};
        return w;
}

/* How many messages make a run of @s last at least @min_ns; doubling from 1000. */
static int calibrate(const side *s, kind k, size_t size, int cpu_p, int cpu_c, uint64_t min_ns,
                     uint64_t *ret) {
        uint64_t n = 1000;

        for (;;) {
                run_args a = {.kind = k, .size = size, .count = n, .cpu_p = cpu_p, .cpu_c = cpu_c};
                uint64_t t0 = bench_now_ns();
                int r = s->run(&a);

                if (r < 0)
                        return r;
                /* The whole run (fork included) stands in for the timed part: close enough. */
                if (bench_now_ns() - t0 >= min_ns || n >= UINT64_C(1) << 32)
                        break;
                n *= 2;
        }
        *ret = n;
        return 0;
}

/*
 * A copy row: the channel against memcpy with messages of @size bytes, the run's length
 * calibrated on the channel.
 */
static int run_copy_row(size_t size, uint64_t min_ns, row *w) {
        uint64_t n;
        int r;

        r = calibrate(&CHANNEL, THROUGHPUT, size, opts.cpu_a, opts.cpu_b, min_ns, &n);
        if (r < 0)
                return r;
        return run_group(THROUGHPUT, size, n, opts.cpu_a, opts.cpu_b,
                         (const side *[]){&CHANNEL, &MEMCPY}, 2, &w);
}

/* ---- output ---- */

static const char *verdict(const row *w) {
        if (!w->target)
                return "-";
        if (w->ratio >= w->target)
                return "ok";
        return w->floor && w->ratio >= w->floor ? "FLOOR" : "MISSED";
}

static bool unit_is(const char *unit, const char *want) {
        return strcmp(unit, want) == 0;
}

static void format_value(char *buf, size_t size, const char *unit, double v, double p99) {
        if (unit_is(unit, "ns"))
                snprintf(buf, size, "%.2f us (p99 %.1f)", v / 1000, p99 / 1000);
        else if (unit_is(unit, "GB/s"))
                snprintf(buf, size, "%.2f GB/s", v);
        else
                snprintf(buf, size, "%.3g msgs/s", v);
}

static void print_table(void) {
        printf("%-30s | %-22s | %-22s | %6s | %8s | %-7s | %-13s | %s\n", "benchmark", "channel",
               "baseline", "ratio", "target", "verdict", "ratio min-max", "placement");
        printf("-------------------------------+------------------------+------------------------+"
               "--------+----------+---------+---------------+----------\n");
        for (size_t i = 0; i < n_rows; i++) {
                const row *w = &rows[i];
                char ours[48], base[48], tgt[16], mm[32];

                if (!w->ran)
                        continue;
                format_value(ours, sizeof(ours), w->unit, w->ours, w->ours_p99);
                format_value(base, sizeof(base), w->unit, w->baseline, w->baseline_p99);
                if (w->target)
                        snprintf(tgt, sizeof(tgt), ">= %g", w->target);
                else
                        snprintf(tgt, sizeof(tgt), "-");
                snprintf(mm, sizeof(mm), "%.2f-%.2f", w->ratio_min, w->ratio_max);
                printf("%-30s | %-22s | %-22s | %6.2f | %8s | %-7s | %-13s | %s\n", w->name, ours,
                       base, w->ratio, tgt, verdict(w), mm, w->placement);
        }
        printf("\nratio: the channel over the baseline per round (throughput: messages or bytes "
               "per second; round trips: the baseline's time over the channel's), median of "
               "%u rounds; > 1 means the channel is faster.\n",
               opts.rounds);
}

static void print_json(void) {
        for (size_t i = 0; i < n_rows; i++) {
                const row *w = &rows[i];

                if (!w->ran)
                        continue;
                printf("{\"name\":");
                bench_json_string(stdout, w->name);
                bench_json_field_ratios(stdout, w->ratio, w->ratio_min, w->ratio_max);
                printf(",\"baseline_name\":\"%s\",\"unit\":\"%s\",\"channel\":", w->base->key,
                       w->unit);
                bench_json_number(stdout, w->ours);
                bench_json_field_number(stdout, "baseline", w->baseline);
                if (unit_is(w->unit, "ns")) {
                        bench_json_field_number(stdout, "channel_p99", w->ours_p99);
                        bench_json_field_number(stdout, "baseline_p99", w->baseline_p99);
                }
                printf(",\"message_bytes\":%zu,\"messages_per_run\":%" PRIu64
                       ",\"rounds\":%u,\"placement\":",
                       w->size, w->count, opts.rounds);
                bench_json_string(stdout, w->placement);
                if (w->target)
                        printf(",\"target\":{\"op\":\">=\",\"value\":%g%s", w->target,
                               w->floor ? "" : "}");
                else
                        printf(",\"target\":null");
                if (w->target && w->floor)
                        printf(",\"floor\":%g}", w->floor);
                printf(",\"verdict\":\"%s\"}\n", verdict(w));
        }
}

/* ---- main ---- */

static void usage(FILE *f) {
        fprintf(f, "usage: bench-channel [--quick] [--json] [--rounds N] [--cpus A,B] "
                   "[--boost PATH]\n");
}

static int take_option(int c, const char *arg, void *userdata) {
        options *o = userdata;

        switch (c) {
        case 'c':
                if (bench_parse_cpu_pair(arg, &o->cpu_a, &o->cpu_b) < 0)
                        return bench_bad_value("bench-channel", "--cpus", "two CPU numbers A,B",
                                               arg);
                return 0;
        case 'b':
                o->boost = arg;
                return 0;
        }
        return -EINVAL;
}

static int parse_options(int argc, char **argv) {
        static const struct option own[] = {
                {"cpus", required_argument, NULL, 'c'},
                {"boost", required_argument, NULL, 'b'},
                {0},
        };
        const bench_cli cli = {.prog = "bench-channel",
                               .usage = usage,
                               .max_rounds = MAX_ROUNDS,
                               .json_stdout = true,
                               .own = own,
                               .take = take_option,
                               .userdata = &opts};

        return bench_parse_options(argc, argv, &cli, &opts.quick, &opts.json, &opts.rounds);
}

/* The first two CPUs this process may use (or the one it has, twice). */
static void pick_cpus(void) {
        cpu_set_t set;
        int found = 0;

        if (opts.cpu_a >= 0)
                return;
        if (sched_getaffinity(0, sizeof(set), &set) < 0)
                return;
        for (int i = 0; i < CPU_SETSIZE && found < 2; i++)
                if (CPU_ISSET(i, &set)) {
                        if (found++ == 0)
                                opts.cpu_a = i;
                        else
                                opts.cpu_b = i;
                }
        if (found == 1) {
                opts.cpu_b = opts.cpu_a;
                bench_note("only one CPU is available: the two-CPU rows ran on one");
        }
}

static void find_boost(const char *argv0) {
        char self[PATH_MAX];
        ssize_t n;

        if (opts.boost)
                snprintf(boost_path, sizeof(boost_path), "%s", opts.boost);
        else {
                n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n <= 0)
                        snprintf(self, sizeof(self), "%s", argv0);
                else
                        self[n] = 0;
                snprintf(boost_path, sizeof(boost_path), "%.*s/bench-channel-boost",
                         (int) (strrchr(self, '/') ? strrchr(self, '/') - self : 1),
                         strrchr(self, '/') ? self : ".");
        }
        have_boost = access(boost_path, X_OK) == 0;
        if (!have_boost)
                bench_note("no Boost baseline (%s): install libboost-dev and g++ "
                           "(tools/install-deps.sh bench) and rebuild; its rows are left out",
                           boost_path);
}

int main(int argc, char **argv) {
        bench_machine m0, m1;
        mc_error err = MC_ERROR_INIT;
        static char two_cpus[64], one_cpu[64];
        uint64_t n64, nrtt, min_ns;
        int r = 0;

        if (parse_options(argc, argv) < 0)
                return 2;
        if (opts.quick) /* a smoke run: --rounds cannot make it longer */
                opts.rounds = opts.rounds < BENCH_QUICK_ROUNDS ? opts.rounds : BENCH_QUICK_ROUNDS;
        min_ns = opts.quick ? 10000000 : 100000000;
        pick_cpus();
        find_boost(argv[0]);
        signal(SIGPIPE, SIG_IGN);
        if (mc_ctx_new(&ctx, &err) < 0) {
                fprintf(stderr, "bench-channel: %s\n", err.message);
                return 1;
        }
        snprintf(two_cpus, sizeof(two_cpus), "two CPUs (%d, %d)", opts.cpu_a, opts.cpu_b);
        snprintf(one_cpu, sizeof(one_cpu), "same CPU (%d)", opts.cpu_a);
        bench_machine_snap(&m0);
        if (!opts.json)
                printf("bench-channel: memcap %s, %u rounds%s; calibrating...\n", mc_version(),
                       opts.rounds, opts.quick ? " (quick: measures nothing)" : "");
        fflush(stdout);

        {
                row *tp[3], *rtt[3], *rtt2[1], *cp4, *cp64;
                const side *tps[4] = {&CHANNEL, &SOCKET, &PIPE, &BOOST};
                size_t ntp = have_boost ? 4 : 3;

                tp[0] = add_row("throughput_64B_vs_unix_socket", &SOCKET, 10, 5, two_cpus);
                tp[1] = add_row("throughput_64B_vs_pipe", &PIPE, 0, 0, two_cpus);
                tp[2] = add_row("throughput_64B_vs_boost_mq", &BOOST, 0, 0, two_cpus);
                rtt[0] = add_row("rtt_same_cpu_vs_unix_socket", &SOCKET, 2, 0, one_cpu);
                rtt[1] = add_row("rtt_same_cpu_vs_pipe", &PIPE, 0, 0, one_cpu);
                rtt[2] = add_row("rtt_same_cpu_vs_boost_mq", &BOOST, 0, 0, one_cpu);
                rtt2[0] = add_row("rtt_two_cpus_vs_unix_socket", &SOCKET, 0, 0, two_cpus);
                cp4 = add_row("throughput_4KiB_vs_memcpy", &MEMCPY, 0, 0,
                              "two CPUs; memcpy on the first");
                cp64 = add_row("throughput_64KiB_vs_memcpy", &MEMCPY, 0, 0,
                               "two CPUs; memcpy on the first");

                if (opts.cpu_a >= 0)
                        (void) bench_pin(opts.cpu_a);
                /* On the channel, the fastest side: a run of a few milliseconds would be at
                 * the mercy of one preemption. The baselines then run ten times longer. */
                r = calibrate(&CHANNEL, THROUGHPUT, 64, opts.cpu_a, opts.cpu_b, min_ns, &n64);
                if (r == 0)
                        r = run_group(THROUGHPUT, 64, n64, opts.cpu_a, opts.cpu_b, tps, ntp, tp);
                if (r == 0)
                        r = calibrate(&SOCKET, RTT, RTT_SIZE, opts.cpu_a, opts.cpu_a, min_ns,
                                      &nrtt);
                if (r == 0)
                        r = run_group(RTT, RTT_SIZE, nrtt, opts.cpu_a, opts.cpu_a, tps, ntp, rtt);
                if (r == 0)
                        r = run_group(RTT, RTT_SIZE, nrtt / 4 + 1, opts.cpu_a, opts.cpu_b, tps, 2,
                                      rtt2);
                if (r == 0)
                        r = run_copy_row(4096, min_ns, cp4);
                if (r == 0)
                        r = run_copy_row(65536, min_ns, cp64);
        }
        bench_machine_snap(&m1);
        if (opts.json)
                print_json();
        else {
                struct utsname u;

                print_table();
                uname(&u);
                printf("kernel %s; CPUs: producer %d, consumer %d (last seen %d, %d); load %.2f "
                       "-> %.2f; steal %.1f%%, idle %.1f%%\n",
                       u.release, opts.cpu_a, opts.cpu_b, last_cpu_p, last_cpu_c, m0.load1,
                       m1.load1, bench_machine_pct(&m0, &m1, true),
                       bench_machine_pct(&m0, &m1, false));
                for (size_t i = 0; i < bench_n_notes; i++)
                        printf("note: %s\n", bench_notes[i]);
        }
        mc_ctx_free(ctx);
        return bench_exit_code("bench-channel", r);
}
