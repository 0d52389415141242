/* SPDX-License-Identifier: MIT */
/*
 * bench-daemon: what memcapd costs a client, against the floors it is meant to meet.
 *
 * The benchmark makes a temporary root, starts memcapd on it (with a configuration that lifts
 * the per-client quotas so the benchmark's own mappings fit), a minimal Unix-socket echo server
 * in two forms (blocking read/write, and an epoll loop), and, when it is installed, a
 * redis-server bound to 127.0.0.1 only, with no persistence. Every server is a child of this
 * process, dies with it (PR_SET_PDEATHSIG) and is stopped by its pid at the end. Measured:
 *
 *   1. latency: one client, 4 KiB MmapRead round trips with base64 replies against memcapd vs
 *      the echo server (100-byte request, 4096-byte reply; one read of the line, one write of
 *      the reply), with one client code path for all (write the request, read until the reply
 *      is complete), interleaved round by round, in three placements: client and server on one
 *      CPU, on two CPUs, unpinned. Extra rows without a target: the epoll echo (the floor of an
 *      event-loop server) and Redis GET of a 4 KiB value through the same client loop.
 *   2. throughput: 50 connections, no pipelining, for a fixed time: memcapd MmapRead 4 KiB
 *      base64 with this program's epoll load generator vs redis-benchmark GET of a 4 KiB value
 *      (-c 50 -d 4096 -t get; the key is set to 4096 bytes first, as `-t get` alone reads a
 *      missing key and measures 5-byte replies). Unpinned (the target) and, in a full run,
 *      with the servers on one CPU and the load generators on the other.
 *   3. MmapFd: a 1 GiB file under the root, mapped in the daemon; the client asks for the
 *      descriptor, maps it itself and scans it (memchr for an absent byte) vs open + mmap +
 *      scan of the same file.
 *   4. the daemon's memory: VmRSS/PSS before and after 1000 idle connections (and after one
 *      request on each), and before and after 1000 small mappings, on a fresh daemon.
 *
 * Where every process ran, and what each spent per request (from /proc: CPU time, wakeups,
 * the CPUs its threads ran on), is printed below the table, because on this 2-vCPU guest the
 * placement changes a round trip several times over. So is the daemon's user-space work per
 * MmapRead (decode the request, encode the reply, read the mapping), timed in this process
 * with memcapd's own codec, to split a missed target into JSON work and system calls. The exit
 * status is 0 when everything ran (also when a target was missed), 1 when something failed, 2 for
 * bad options.
 *
 * Sections: options and failure reporting; results; the temporary directory; small helpers;
 * child processes; the echo servers; memcapd and redis clients; latency; throughput; MmapFd
 * scan; the daemon's work per request; memory; output; main.
 */

#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <jansson.h>
#include <memcap/memcap.h>

#include "bench-util.h"
#include "protocol.h" /* memcapd's codec, timed in this process (the breakdown section) */

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

#define KIB UINT64_C(1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define NS  UINT64_C(1000000000)

#define MAX_ROUNDS  200
#define SLICES      10 /* latency rounds alternate the servers in 10 slices */
#define MAX_RESULTS 32
#define MAX_COSTS   32

#define DATA_BYTES  MIB                /* the file MmapRead reads */
#define READ_BYTES  4096               /* per MmapRead */
#define N_OFFSETS   256                /* requests cycle through these 4 KiB pages of the file */
#define ECHO_REQ    100                /* bytes of an echo request, newline included */
#define ECHO_REPLY  4096               /* bytes of an echo reply, newline included */
#define SMALL_BYTES 4096               /* the file of the memory benchmark's mappings */
#define N_IDLE      1000               /* connections and mappings of the memory benchmark */
#define REDIS_KEY   "key:__rand_int__" /* what redis-benchmark -t get reads */
#define CLIENT_BUF  (256 * 1024)       /* a client's reply buffer */
#define IO_TIMEOUT  10                 /* seconds before a silent server counts as stuck */

/* ---- options and failure reporting ---- */

typedef struct options {
        bool quick;
        bool no_redis;
        const char *json;
        const char *memcapd; /* NULL: next to this program in the build tree */
        const char *dir;     /* where the temporary root goes */
        unsigned rounds;     /* latency and scan rounds */
        unsigned tp_rounds;  /* throughput rounds */
        double duration;     /* seconds per throughput run */
        unsigned clients;
} options;

/* ---- results ---- */

typedef enum goal {
        GOAL_NONE,
        GOAL_AT_MOST,  /* ratio <= target (times) */
        GOAL_AT_LEAST, /* ratio >= target (throughput) */
} goal;

typedef enum unit {
        UNIT_LATENCY, /* p50 and p99 in ns per round trip */
        UNIT_RATE,    /* requests per second */
        UNIT_GBPS,    /* 10^9 bytes per second */
        UNIT_BYTES,   /* memory per item */
} unit;

/* One side of a row: the value, its p99 (latency) and the per-round values. */
typedef struct side {
        double v, p99;
        double aux; /* latency under load (rate rows); RSS in bytes (memory rows) */
        double rounds[MAX_ROUNDS];
        unsigned n;
} side;

typedef struct result {
        char name[96];
        char base_name[48]; /* what the baseline is */
        const char *key;    /* for JSON */
        const char *placement;
        unit unit;
        side mc, base;
        bool has_base;
        double ratio, ratio_min, ratio_max;
        goal goal;
        double target;
        char extra[160]; /* memory rows: details */
} result;

static result results[MAX_RESULTS];
static size_t n_results;

static const char *verdict(const result *res) {
        if (isnan(res->ratio))
                return "-";
        if (res->goal == GOAL_AT_MOST)
                return res->ratio <= res->target ? "ok" : "MISSED";
        if (res->goal == GOAL_AT_LEAST)
                return res->ratio >= res->target ? "ok" : "MISSED";
        return "-";
}

/* What a server and its client spent per request during the timed runs. */
typedef struct cost {
        char what[96];
        const char *placement;
        double srv_cpu_ns, srv_nvcsw, srv_nivcsw; /* per request, all of the server's threads */
        double cli_cpu_ns;                        /* per request, the client */
        uint64_t srv_cpus, cli_cpus;              /* CPUs seen at the end of runs */
        unsigned runs, shared_runs;               /* runs that ended with both on one CPU */
        bool throughput;                          /* a closed-loop run of many clients */
} cost;

static cost costs[MAX_COSTS];
static size_t n_costs;

static result *add_result(const char *name, const char *key, const char *placement, unit u) {
        result *res;

        if (n_results >= MAX_RESULTS)
                return NULL;
        res = &results[n_results++];
        memset(res, 0, sizeof(*res));
        snprintf(res->name, sizeof(res->name), "%s", name);
        res->key = key;
        res->placement = placement;
        res->unit = u;
        res->ratio = res->ratio_min = res->ratio_max = NAN;
        res->mc.v = res->mc.p99 = res->mc.aux = NAN;
        res->base.v = res->base.p99 = res->base.aux = NAN;
        return res;
}

/* Ratios per round: @inverse for rows where lower is better but the values are rates. */
static void set_ratio(result *res, bool inverse) {
        double r[MAX_ROUNDS];
        unsigned n = MIN(res->mc.n, res->base.n);

        if (n == 0)
                return;
        for (unsigned k = 0; k < n; k++)
                r[k] = inverse ? res->base.rounds[k] / res->mc.rounds[k]
                               : res->mc.rounds[k] / res->base.rounds[k];
        res->ratio = bench_median(r, n);
        res->ratio_min = bench_min(r, n);
        res->ratio_max = bench_max(r, n);
}

/* ---- the temporary directory ---- */

/*
 * Everything the benchmark creates lives in one directory, removed at the end, also when the
 * run is interrupted (the handler only calls unlink(), rmdir() and kill(), which are
 * async-signal-safe).
 */
enum {
        P_DIR,
        P_ROOT,
        P_DATA,  /* root/data.bin: MmapRead's file */
        P_SMALL, /* root/small.bin: the memory benchmark's mappings */
        P_BIG,   /* root/big.bin: the scan file */
        P_CONFIG,
        P_SOCK,
        P_LOG,
        P_MEM_SOCK,
        P_MEM_LOG,
        P_ECHO_SOCK,
        P_EPOLL_SOCK,
        P_ECHO_LOG,
        P_REDIS_SOCK,
        P_REDIS_LOG,
        P_REDIS_BENCH_LOG,
        N_PATHS,
};

static char paths[N_PATHS][160];
static volatile sig_atomic_t dir_made;

#define MAX_CHILDREN 8
static volatile pid_t children[MAX_CHILDREN];

static void remove_dir(void) {
        if (!dir_made)
                return;
        for (int i = N_PATHS - 1; i > P_ROOT; i--)
                (void) unlink(paths[i]);
        (void) rmdir(paths[P_ROOT]);
        (void) rmdir(paths[P_DIR]);
        dir_made = 0;
}

static void on_interrupt(int sig) {
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] > 0)
                        (void) kill(children[i], SIGKILL);
        remove_dir();
        _exit(128 + sig);
}

static void child_add(pid_t pid) {
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] <= 0) {
                        children[i] = pid;
                        return;
                }
}

static void child_forget(pid_t pid) {
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

static uint64_t pow2_floor(uint64_t v) {
        return v ? UINT64_C(1) << (63 - __builtin_clzll(v)) : 0;
}

static uint64_t mem_available(void) {
        char buf[4096], *p;
        uint64_t kb = 0;

        if (bench_read_small("/proc/meminfo", buf, sizeof(buf)) > 0 &&
            (p = strstr(buf, "MemAvailable:")))
                kb = strtoull(p + strlen("MemAvailable:"), NULL, 10);
        return kb * KIB;
}

static uint64_t fs_free(const char *dir) {
        struct statvfs sv;

        if (statvfs(dir, &sv) < 0)
                return 0;
        return (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize;
}

/* The directory, and the scan file's size: 3x free on the file system, half the memory. */
static int dir_plan(const options *opts, uint64_t *ret_big) {
        static const char *const bases[] = {"/var/tmp", "/tmp"};
        uint64_t want = opts->quick ? 64 * MIB : GIB, best_free = 0, size, avail;
        const char *best = NULL;
        int n;

        if (opts->dir) {
                best = opts->dir;
                best_free = fs_free(best);
        } else
                for (size_t i = 0; i < ELEMENTSOF(bases); i++) {
                        uint64_t f = fs_free(bases[i]);

                        if (f > best_free) {
                                best = bases[i];
                                best_free = f;
                        }
                        if (f >= 3 * want)
                                break;
                }
        if (!best || best_free < 64 * MIB)
                return bench_fail(-ENOSPC, "no room for the benchmark's files in %s",
                                  opts->dir ? opts->dir : "/var/tmp or /tmp");
        size = want;
        if (best_free < 3 * want) {
                size = pow2_floor(best_free / 3);
                bench_note("only %.2f GiB free in %s: the scan file is %" PRIu64
                           " MiB, not %" PRIu64,
                           (double) best_free / (double) GIB, best, size / MIB, want / MIB);
        }
        avail = mem_available();
        if (avail && size > avail / 2) {
                size = pow2_floor(avail / 2);
                bench_note("only %" PRIu64 " MiB of memory available: the scan file is %" PRIu64
                           " MiB so it stays in the page cache",
                           avail / MIB, size / MIB);
        }
        if (size < MIB)
                return bench_fail(-ENOSPC, "no room for a scan file in %s", best);
        /* Socket paths must fit sockaddr_un (108 bytes) with their names. */
        n = snprintf(paths[P_DIR], sizeof(paths[P_DIR]), "%s/memcap-bench-daemon-XXXXXX", best);
        if (n < 0 || (size_t) n + 24 >= sizeof(((struct sockaddr_un *) 0)->sun_path))
                return bench_fail(-ENAMETOOLONG, "directory name too long for a socket: %s", best);
        *ret_big = size;
        return 0;
}

static int dir_make(void) {
        static const char *const names[N_PATHS] = {
                [P_ROOT] = "root",
                [P_DATA] = "root/data.bin",
                [P_SMALL] = "root/small.bin",
                [P_BIG] = "root/big.bin",
                [P_CONFIG] = "memcapd.json",
                [P_SOCK] = "memcapd.sock",
                [P_LOG] = "memcapd.log",
                [P_MEM_SOCK] = "memcapd-mem.sock",
                [P_MEM_LOG] = "memcapd-mem.log",
                [P_ECHO_SOCK] = "echo.sock",
                [P_EPOLL_SOCK] = "echo-epoll.sock",
                [P_ECHO_LOG] = "echo.log",
                [P_REDIS_SOCK] = "redis.sock",
                [P_REDIS_LOG] = "redis.log",
                [P_REDIS_BENCH_LOG] = "redis-benchmark.log",
        };

        if (!mkdtemp(paths[P_DIR]))
                return bench_fail_errno(errno, paths[P_DIR]);
        dir_made = 1;
        for (int i = P_ROOT; i < N_PATHS; i++)
                if (snprintf(paths[i], sizeof(paths[i]), "%s/%s", paths[P_DIR], names[i]) >=
                    (int) sizeof(paths[i]))
                        return bench_fail(-ENAMETOOLONG, "path too long: %s/%s", paths[P_DIR],
                                          names[i]);
        if (mkdir(paths[P_ROOT], 0700) < 0)
                return bench_fail_errno(errno, paths[P_ROOT]);
        return 0;
}

/* ---- small helpers ---- */

/* xorshift64*: the file's bytes are random so that base64 sees realistic input. */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static size_t base64_encode(char *out, const unsigned char *in, size_t n) {
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0, i = 0;

        for (; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

                out[o++] = tab[v >> 18];
                out[o++] = tab[(v >> 12) & 63];
                out[o++] = tab[(v >> 6) & 63];
                out[o++] = tab[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < n ? (uint32_t) in[i + 1] << 8 : 0);

                out[o++] = tab[v >> 18];
                out[o++] = tab[(v >> 12) & 63];
                out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                out[o++] = '=';
        }
        return o;
}

/* The unsigned number after "key": in a reply line; false when it is not there. */
static bool json_u64(const char *text, const char *key, uint64_t *ret) {
        char pat[64], *end;
        const char *p;

        snprintf(pat, sizeof(pat), "\"%s\":", key);
        p = strstr(text, pat);
        if (!p)
                return false;
        p += strlen(pat);
        if (*p < '0' || *p > '9')
                return false;
        errno = 0;
        *ret = strtoull(p, &end, 10);
        return errno == 0 && end != p;
}

static int unix_connect(const char *path, int *ret_fd) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;

                close(fd);
                return -e;
        }
        *ret_fd = fd;
        return 0;
}

static int tcp_connect(uint16_t port, int *ret_fd) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        int fd, one = 1;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;

                close(fd);
                return -e;
        }
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        *ret_fd = fd;
        return 0;
}

/* A blocking client socket whose reads give up after IO_TIMEOUT seconds of silence. */
static void set_timeout(int fd) {
        struct timeval tv = {.tv_sec = IO_TIMEOUT};

        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int listen_unix(const char *path, bool nonblock, int *ret_fd) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
                return bench_fail_errno(errno, "socket");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
                int e = errno;

                close(fd);
                return bench_fail_errno(e, path);
        }
        *ret_fd = fd;
        return 0;
}

/* A TCP port on 127.0.0.1 nobody listens on right now (the kernel picks it). */
static int free_port(uint16_t *ret) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        int fd;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
                int e = errno;

                close(fd);
                return -e;
        }
        close(fd);
        *ret = ntohs(sa.sin_port);
        return 0;
}

static bool find_in_path(const char *name, char *buf, size_t size) {
        const char *path = getenv("PATH"), *p, *end;

        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (p = path; *p; p = *end ? end + 1 : end) {
                int n;

                end = strchr(p, ':');
                if (!end)
                        end = p + strlen(p);
                n = snprintf(buf, size, "%.*s/%s", (int) (end - p), p, name);
                if (n > 0 && (size_t) n < size && access(buf, X_OK) == 0)
                        return true;
        }
        return false;
}

/* ---- child processes ---- */

typedef struct server {
        const char *name;
        pid_t pid;
        const char *log;
} server;

/* A child that dies with this process and starts with default signal handling. */
static pid_t fork_child(const cpu_set_t *cpus) {
        pid_t parent = getpid(), pid;
        sigset_t none;

        pid = fork();
        if (pid != 0) {
                if (pid > 0)
                        child_add(pid);
                return pid;
        }
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(1);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (cpus)
                (void) sched_setaffinity(0, sizeof(*cpus), cpus);
        return 0;
}

/* Start @argv with stdout to @out_fd (or @log) and stderr to @log. */
static int spawn(char *const argv[], const char *log, int out_fd, const cpu_set_t *cpus,
                 pid_t *ret_pid) {
        pid_t pid = 0;
        int fd;

        pid = fork_child(cpus);
        if (pid < 0)
                return bench_fail_errno(errno, "fork");
        if (pid == 0) {
                fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        dup2(fd, 2);
                        dup2(out_fd >= 0 ? out_fd : fd, 1);
                }
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        dup2(fd, 0);
                execvp(argv[0], argv);
                dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}

/* The end of a log, for a failure message. */
static void log_tail(const char *log, char *buf, size_t size) {
        char all[4096];
        ssize_t n = bench_read_small(log, all, sizeof(all));
        char *p;

        buf[0] = '\0';
        if (n <= 0)
                return;
        while (n > 0 && all[n - 1] == '\n')
                all[--n] = '\0';
        p = all + (n > 300 ? n - 300 : 0);
        for (char *q = p; *q; q++)
                if (*q == '\n')
                        *q = '|';
        snprintf(buf, size, "%s", p);
}

/* Wait until @connect_fn reaches the server; fail if it exits first or after 10 s. */
static int wait_ready(server *s, int (*probe)(const void *), const void *arg) {
        uint64_t deadline = bench_now_ns() + 10 * NS;
        char tail[320];
        int status, r;

        for (;;) {
                r = probe(arg);
                if (r == 0)
                        return 0;
                if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                        child_forget(s->pid);
                        s->pid = 0;
                        log_tail(s->log, tail, sizeof(tail));
                        return bench_fail(-ECHILD,
                                          "%s exited before it was ready (status 0x%x): %s",
                                          s->name, status, tail);
                }
                if (bench_now_ns() > deadline)
                        return bench_fail(-ETIMEDOUT, "%s did not accept connections within 10 s",
                                          s->name);
                usleep(5000);
        }
}

static int probe_unix(const void *arg) {
        int fd = -1, r;

        r = unix_connect(arg, &fd);
        if (r == 0)
                close(fd);
        return r;
}

static int probe_tcp(const void *arg) {
        int fd = -1, r;

        r = tcp_connect(*(const uint16_t *) arg, &fd);
        if (r == 0)
                close(fd);
        return r;
}

/* SIGTERM, then SIGKILL after 10 s. Returns the wait status, or -1 if it was not running. */
static int server_stop(server *s, uint64_t *ret_ns) {
        uint64_t t0 = bench_now_ns(), deadline = t0 + 10 * NS;
        int status = -1;

        if (s->pid <= 0)
                return -1;
        (void) kill(s->pid, SIGTERM);
        for (;;) {
                pid_t w = waitpid(s->pid, &status, WNOHANG);

                if (w == s->pid || (w < 0 && errno != EINTR))
                        break;
                if (bench_now_ns() > deadline) {
                        (void) kill(s->pid, SIGKILL);
                        (void) waitpid(s->pid, &status, 0);
                        bench_note("%s did not stop within 10 s of SIGTERM: killed", s->name);
                        break;
                }
                usleep(2000);
        }
        if (ret_ns)
                *ret_ns = bench_now_ns() - t0;
        child_forget(s->pid);
        s->pid = 0;
        return status;
}

/* ---- the echo servers ---- */

static char echo_reply[ECHO_REPLY];

/* Blocking: one connection at a time, read a line, write the reply. Two system calls. */
static _Noreturn void echo_blocking(int lfd) {
        static char buf[64 * 1024];

        for (;;) {
                size_t have = 0;
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        _exit(1);
                }
                for (;;) {
                        ssize_t n = read(c, buf + have, sizeof(buf) - have);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        have += (size_t) n;
                        if (buf[have - 1] != '\n') {
                                if (have == sizeof(buf))
                                        break;
                                continue;
                        }
                        have = 0;
                        if (bench_write_all(c, echo_reply, sizeof(echo_reply)) < 0)
                                break;
                }
                close(c);
        }
}

/*
 * An event loop as small as one can be: epoll_wait, one read, one write. This is the floor of
 * a server that multiplexes connections (Redis does the same three calls per request), and it
 * sits between the blocking echo and memcapd.
 */
static _Noreturn void echo_epoll(int lfd) {
        enum { MAX_FD = 1024 };
        static struct {
                size_t have;
                char buf[8192];
        } st[MAX_FD];
        struct epoll_event ev = {.events = EPOLLIN}, evs[64];
        int ep = epoll_create1(EPOLL_CLOEXEC);

        ev.data.fd = lfd;
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
                _exit(1);
        for (;;) {
                int n = epoll_wait(ep, evs, 64, -1);

                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        ssize_t k;

                        if (fd == lfd) {
                                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                                if (c < 0)
                                        continue;
                                if (c >= MAX_FD) {
                                        close(c);
                                        continue;
                                }
                                st[c].have = 0;
                                ev.events = EPOLLIN;
                                ev.data.fd = c;
                                if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
                                        close(c);
                                continue;
                        }
                        k = read(fd, st[fd].buf + st[fd].have, sizeof(st[fd].buf) - st[fd].have);
                        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (k <= 0) {
                                close(fd); /* also leaves the epoll set */
                                continue;
                        }
                        st[fd].have += (size_t) k;
                        if (st[fd].buf[st[fd].have - 1] != '\n') {
                                if (st[fd].have == sizeof(st[fd].buf))
                                        close(fd);
                                continue;
                        }
                        st[fd].have = 0;
                        k = write(fd, echo_reply, sizeof(echo_reply));
                        if (k >= 0 && (size_t) k < sizeof(echo_reply)) {
                                /* The socket buffer was full: finish blocking, rare. */
                                int fl = fcntl(fd, F_GETFL);

                                fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
                                (void) bench_write_all(fd, echo_reply + k,
                                                       sizeof(echo_reply) - (size_t) k);
                                fcntl(fd, F_SETFL, fl);
                        }
                }
        }
}

static int echo_start(server *s, const char *path, bool epoll) {
        int lfd = -1, r;
        pid_t pid;

        r = listen_unix(path, epoll, &lfd);
        if (r < 0)
                return r;
        pid = fork_child(NULL);
        if (pid < 0) {
                close(lfd);
                return bench_fail_errno(errno, "fork");
        }
        if (pid == 0) {
                if (epoll)
                        echo_epoll(lfd);
                echo_blocking(lfd);
        }
        close(lfd);
        s->pid = pid;
        s->log = paths[P_ECHO_LOG];
        return wait_ready(s, probe_unix, path);
}

/* ---- memcapd and redis clients ---- */

/*
 * One request line to memcapd and its reply line, for the set-up and MmapFd calls (not the
 * timed round trips of the latency benchmark, which have their own loop). A descriptor sent
 * with the reply lands in *@ret_fd (when not NULL). Fails unless the status is "success".
 */
static int daemon_call(int fd, const char *req, char *reply, size_t size, int *ret_fd) {
        size_t have = 0;
        int r, got_fd = -1;

        r = bench_write_all(fd, req, strlen(req));
        if (r < 0)
                return bench_fail_errno(-r, "writing to memcapd");
        for (;;) {
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov = {reply + have, size - 1 - have};
                struct msghdr msg = {.msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = cbuf,
                                     .msg_controllen = sizeof(cbuf)};
                ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = bench_fail_errno(errno, "reading from memcapd");
                        goto out;
                }
                if (n == 0) {
                        r = bench_fail(-EPIPE, "memcapd closed the connection");
                        goto out;
                }
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                            got_fd < 0)
                                memcpy(&got_fd, CMSG_DATA(cm), sizeof(int));
                have += (size_t) n;
                if (reply[have - 1] == '\n')
                        break;
                if (have == size - 1) {
                        r = bench_fail(-EMSGSIZE, "memcapd's reply is longer than %zu bytes", size);
                        goto out;
                }
        }
        reply[have] = '\0';
        if (strncmp(reply, "{\"status\":\"success\"", 19) != 0) {
                r = bench_fail(-EPROTO, "memcapd refused %.*s: %.200s", (int) strcspn(req, "\n"),
                               req, reply);
                goto out;
        }
        if (ret_fd) {
                *ret_fd = got_fd;
                got_fd = -1;
        }
        r = 0;
out:
        if (got_fd >= 0)
                close(got_fd);
        return r;
}

static int daemon_mmap(int fd, const char *path, uint64_t *ret_id) {
        char req[256], reply[512];
        int r;

        snprintf(req, sizeof(req), "{\"Mmap\":{\"path\":\"%s\",\"prot\":1,\"shared\":true}}\n",
                 path);
        r = daemon_call(fd, req, reply, sizeof(reply), NULL);
        if (r < 0)
                return r;
        if (!json_u64(reply, "mmap_id", ret_id))
                return bench_fail(-EPROTO, "no mmap_id in memcapd's reply: %.200s", reply);
        return 0;
}

/* RESP, as redis-benchmark sends it. */
static const char redis_get[] = "*2\r\n$3\r\nGET\r\n$16\r\n" REDIS_KEY "\r\n";

/* Store the 4 KiB value that every GET reads, and check that GET returns it. */
static int redis_set(uint16_t port, const unsigned char *value) {
        char head[128], reply[64];
        size_t have = 0;
        int fd = -1, r;

        r = tcp_connect(port, &fd);
        if (r < 0)
                return bench_fail_errno(-r, "connecting to redis-server");
        set_timeout(fd);
        snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%d\r\n", REDIS_KEY,
                 READ_BYTES);
        r = bench_write_all(fd, head, strlen(head));
        if (r >= 0)
                r = bench_write_all(fd, value, READ_BYTES);
        if (r >= 0)
                r = bench_write_all(fd, "\r\n", 2);
        if (r < 0) {
                close(fd);
                return bench_fail_errno(-r, "writing to redis-server");
        }
        while (have < 5) {
                ssize_t n = read(fd, reply + have, sizeof(reply) - 1 - have);

                if (n <= 0) {
                        close(fd);
                        return bench_fail(-EPROTO, "redis-server did not answer SET");
                }
                have += (size_t) n;
        }
        close(fd);
        reply[have] = '\0';
        if (strncmp(reply, "+OK\r\n", 5) != 0)
                return bench_fail(-EPROTO, "redis-server refused SET: %.60s", reply);
        return 0;
}

/* ---- latency: one client ---- */

enum { L_ECHO, L_MEMCAPD, L_EPOLL, L_REDIS, N_LAT };

static const char *const lat_name[N_LAT] = {"echo", "memcapd", "epoll echo", "redis"};

/* One server of the latency benchmark, with the client's connection to it. */
typedef struct peer {
        const char *name;
        server *srv;
        int fd;
        bool by_newline; /* a reply ends at '\n'; else after exp_len bytes */
        size_t n_req, next;
        char **req;
        size_t *req_len;
        char **exp; /* the expected replies */
        size_t *exp_len;
        char *buf;
        /* samples of the timed rounds */
        bool recording;
        double *samples;
        size_t n_samples, cap;
        /* what the server and the client spent */
        bench_proc before;
        uint64_t srv_run_ns, srv_nvcsw, srv_nivcsw, cli_cpu_ns, ops;
        uint64_t srv_cpus, cli_cpus;
        unsigned runs, shared_runs;
} peer;

/* Write request @k, read until its reply is complete: the one client path for all servers. */
static int roundtrip(peer *p, size_t k, size_t *ret_have) {
        size_t have = 0, want = p->exp_len[k];
        int r;

        r = bench_write_all(p->fd, p->req[k], p->req_len[k]);
        if (r < 0)
                return bench_fail_errno(-r, p->name);
        for (;;) {
                ssize_t n = read(p->fd, p->buf + have, CLIENT_BUF - have);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return bench_fail(-errno, "reading from %s: %s", p->name,
                                          errno == EAGAIN ? "no reply within 10 s"
                                                          : strerror(errno));
                if (n == 0)
                        return bench_fail(-EPIPE, "%s closed the connection", p->name);
                have += (size_t) n;
                if (p->by_newline ? p->buf[have - 1] == '\n' : have >= want)
                        break;
                if (have == CLIENT_BUF)
                        return bench_fail(-EMSGSIZE, "a reply of %s is too long", p->name);
        }
        *ret_have = have;
        return 0;
}

static int peer_prepare(void *arg) {
        peer *p = arg;

        if (p->recording && bench_proc_snap(p->srv->pid, &p->before) < 0)
                return bench_fail(-ESRCH, "%s is gone", p->name);
        return 0;
}

static int run_latency(void *arg, uint64_t iters) {
        peer *p = arg;
        uint64_t c0 = bench_thread_cpu_ns();
        bench_proc after;
        bench_proc_delta d;
        int cpu, r;

        for (uint64_t i = 0; i < iters; i++) {
                size_t k = p->next++ % p->n_req, have = 0;
                uint64_t t0, t1;

                t0 = bench_now_ns();
                r = roundtrip(p, k, &have);
                t1 = bench_now_ns();
                if (r < 0)
                        return r;
                /* Checked outside the timed span, every time. */
                if (have != p->exp_len[k] || memcmp(p->buf, p->exp[k], have) != 0)
                        return bench_fail(-EPROTO,
                                          "%s sent an unexpected reply (%zu bytes): %.120s",
                                          p->name, have, p->buf);
                if (p->recording) {
                        if (p->n_samples >= p->cap)
                                return bench_fail(-ENOSPC, "more round trips than planned");
                        p->samples[p->n_samples++] = (double) (t1 - t0);
                }
        }
        if (!p->recording)
                return 0;
        p->cli_cpu_ns += bench_thread_cpu_ns() - c0;
        p->ops += iters;
        cpu = sched_getcpu();
        if (bench_proc_snap(p->srv->pid, &after) < 0)
                return bench_fail(-ESRCH, "%s is gone", p->name);
        bench_proc_diff(&p->before, &after, &d);
        p->srv_run_ns += d.run_ns;
        p->srv_nvcsw += d.nvcsw;
        p->srv_nivcsw += d.nivcsw;
        p->srv_cpus |= d.cpus;
        if (cpu >= 0 && cpu < 64) {
                p->cli_cpus |= UINT64_C(1) << cpu;
                if (d.cpus == (UINT64_C(1) << cpu))
                        p->shared_runs++;
        }
        p->runs++;
        return 0;
}

static int peer_set_requests(peer *p, size_t n) {
        p->req = calloc(n, sizeof(char *));
        p->exp = calloc(n, sizeof(char *));
        p->req_len = calloc(n, sizeof(size_t));
        p->exp_len = calloc(n, sizeof(size_t));
        if (!p->req || !p->exp || !p->req_len || !p->exp_len)
                return bench_fail(-ENOMEM, "out of memory");
        p->n_req = n; /* peer_free() walks the arrays only once they all exist */
        return 0;
}

static void peer_free(peer *p) {
        if (p->fd >= 0)
                close(p->fd);
        for (size_t i = 0; i < p->n_req; i++) {
                free(p->req[i]);
                free(p->exp[i]);
        }
        free(p->req);
        free(p->exp);
        free(p->req_len);
        free(p->exp_len);
        free(p->buf);
        free(p->samples);
        memset(p, 0, sizeof(*p));
}

/* ---- the run's state ---- */

typedef struct placement {
        const char *name, *key;
        int cpu_client, cpu_server; /* -1: unpinned */
} placement;

typedef struct mem_snap {
        uint64_t rss, pss, vsz; /* bytes */
        uint64_t fds, vmas;
} mem_snap;

typedef struct mem_info {
        bool done;
        pid_t pid;
        mem_snap s0, s_conn, s_req, s_closed, s_map0, s_map;
        uint64_t stop_ns;
        int stop_status;
} mem_info;

/* The daemon's user-space work per MmapRead, timed in this process: ns per call. */
typedef struct codec_info {
        bool done;
        double parse_ns, jansson_ns, encode_ns, read_ns;
} codec_info;

typedef struct run_info {
        const options *opts;
        char kernel[200];
        char memcapd[PATH_MAX];
        char redis_server[PATH_MAX], redis_benchmark[PATH_MAX];
        char redis_version[64];
        bool redis;
        uint16_t redis_port;
        server srv[N_LAT];
        pid_t srv_pid[N_LAT]; /* for the report, after they stopped */
        server mem_srv;
        unsigned char *data; /* the 1 MiB file's bytes */
        uint64_t mmap_id, big_id, big_bytes;
        double big_resident_pct;
        double scan_cpu_ratio; /* MmapFd / raw throughput from CPU time */
        int ctl_fd;            /* memcapd: set-up calls and MmapFd */
        cpu_set_t all_cpus;
        int cpu_first, cpu_second;
        placement lat_pl[3], tp_pl[2];
        size_t n_lat_pl, n_tp_pl;
        bench_machine machine_start, machine_end;
        bench_cpus cpus;
        mem_info mem;
        codec_info codec;
        int memcapd_stop_status;
        size_t mcd_req_len, mcd_reply_len;
} run_info;

static int place(run_info *info, const placement *pl) {
        cpu_set_t c = info->all_cpus, s = info->all_cpus;
        int r;

        if (pl->cpu_client >= 0) {
                CPU_ZERO(&c);
                CPU_SET(pl->cpu_client, &c);
                CPU_ZERO(&s);
                CPU_SET(pl->cpu_server, &s);
        }
        r = bench_affinity_process(0, &c);
        if (r < 0)
                return bench_fail(r, "placing the client: %s", strerror(-r));
        for (int v = 0; v < N_LAT; v++) {
                if (info->srv[v].pid <= 0)
                        continue;
                r = bench_affinity_process(info->srv[v].pid, &s);
                if (r < 0)
                        return bench_fail(r, "placing %s: %s", info->srv[v].name, strerror(-r));
        }
        sched_yield();
        return 0;
}

/* ---- latency ---- */

static int peers_setup(run_info *info, peer *peers) {
        static const char echo_line_head[] = "{\"Echo\":{\"bytes\":4096,\"pad\":\"";
        char *line;
        int r;

        for (int v = 0; v < N_LAT; v++) {
                peer *p = &peers[v];

                p->name = lat_name[v];
                p->srv = &info->srv[v];
                p->fd = -1;
                p->by_newline = v != L_REDIS;
                if (info->srv[v].pid <= 0)
                        continue;
                p->buf = malloc(CLIENT_BUF);
                if (!p->buf)
                        return bench_fail(-ENOMEM, "out of memory");
                if (v == L_MEMCAPD) {
                        r = peer_set_requests(p, N_OFFSETS);
                        if (r < 0)
                                return r;
                        for (size_t k = 0; k < N_OFFSETS; k++) {
                                char req[160];
                                size_t n;
                                int len = snprintf(req, sizeof(req),
                                                   "{\"MmapRead\":{\"mmap_id\":%" PRIu64
                                                   ",\"offset\":%zu,\"length\":%d,"
                                                   "\"encoding\":\"base64\"}}\n",
                                                   info->mmap_id, k * READ_BYTES, READ_BYTES);

                                p->req[k] = strdup(req);
                                p->req_len[k] = (size_t) len;
                                p->exp[k] = malloc(64 + READ_BYTES * 2);
                                if (!p->req[k] || !p->exp[k])
                                        return bench_fail(-ENOMEM, "out of memory");
                                n = (size_t) sprintf(p->exp[k],
                                                     "{\"status\":\"success\",\"data\":\"");
                                n += base64_encode(p->exp[k] + n, info->data + k * READ_BYTES,
                                                   READ_BYTES);
                                memcpy(p->exp[k] + n, "\"}\n", 3);
                                p->exp_len[k] = n + 3;
                        }
                        info->mcd_req_len = p->req_len[1];
                        info->mcd_reply_len = p->exp_len[0];
                        r = unix_connect(paths[P_SOCK], &p->fd);
                } else if (v == L_REDIS) {
                        r = peer_set_requests(p, 1);
                        if (r < 0)
                                return r;
                        p->req[0] = strdup(redis_get);
                        p->req_len[0] = strlen(redis_get);
                        p->exp[0] = malloc(32 + READ_BYTES);
                        if (!p->req[0] || !p->exp[0])
                                return bench_fail(-ENOMEM, "out of memory");
                        p->exp_len[0] = (size_t) sprintf(p->exp[0], "$%d\r\n", READ_BYTES);
                        memcpy(p->exp[0] + p->exp_len[0], info->data, READ_BYTES);
                        p->exp_len[0] += READ_BYTES;
                        memcpy(p->exp[0] + p->exp_len[0], "\r\n", 2);
                        p->exp_len[0] += 2;
                        r = unix_connect(paths[P_REDIS_SOCK], &p->fd);
                } else {
                        r = peer_set_requests(p, 1);
                        if (r < 0)
                                return r;
                        /* 100 bytes of JSON-looking text, the size of a small request. */
                        line = malloc(ECHO_REQ + 1);
                        p->exp[0] = malloc(ECHO_REPLY);
                        if (!line || !p->exp[0]) {
                                free(line);
                                return bench_fail(-ENOMEM, "out of memory");
                        }
                        memset(line, 'x', ECHO_REQ);
                        memcpy(line, echo_line_head, sizeof(echo_line_head) - 1);
                        memcpy(line + ECHO_REQ - 4, "\"}}\n", 4);
                        line[ECHO_REQ] = '\0';
                        p->req[0] = line;
                        p->req_len[0] = ECHO_REQ;
                        memcpy(p->exp[0], echo_reply, ECHO_REPLY);
                        p->exp_len[0] = ECHO_REPLY;
                        r = unix_connect(paths[v == L_ECHO ? P_ECHO_SOCK : P_EPOLL_SOCK], &p->fd);
                }
                if (r < 0)
                        return bench_fail_errno(-r, p->name);
                set_timeout(p->fd);
        }
        return 0;
}

static void add_cost(const char *what, const placement *pl, double srv_ns, double srv_nvcsw,
                     double srv_nivcsw, double cli_ns, uint64_t srv_cpus, uint64_t cli_cpus,
                     unsigned runs, unsigned shared) {
        cost *c;

        if (n_costs >= MAX_COSTS)
                return;
        c = &costs[n_costs++];
        snprintf(c->what, sizeof(c->what), "%s", what);
        c->placement = pl->name;
        c->srv_cpu_ns = srv_ns;
        c->srv_nvcsw = srv_nvcsw;
        c->srv_nivcsw = srv_nivcsw;
        c->cli_cpu_ns = cli_ns;
        c->srv_cpus = srv_cpus;
        c->cli_cpus = cli_cpus;
        c->runs = runs;
        c->shared_runs = shared;
}

static void fill_latency_side(side *s, const peer *p, unsigned rounds, uint64_t iters) {
        s->v = bench_median(p->samples, p->n_samples);
        s->p99 = bench_p99(p->samples, p->n_samples);
        s->n = rounds;
        for (unsigned k = 0; k < rounds; k++)
                s->rounds[k] = bench_median(&p->samples[(size_t) k * iters], iters);
}

/*
 * Calibrate on the blocking echo (a round of it lasts >= @min_ns and holds >= @min_ops round
 * trips, so the p99 has samples), then interleave the servers round by round.
 */
static int bench_latency(run_info *info, const placement *pl, peer *peers, uint64_t min_ns,
                         uint64_t min_ops) {
        double ns[N_LAT * MAX_ROUNDS];
        bench_case cases[N_LAT];
        size_t n_cases = 0, idx[N_LAT];
        unsigned rounds = info->opts->rounds;
        uint64_t iters;
        char name[96];
        result *res;
        int r;

        for (int v = 0; v < N_LAT; v++) {
                if (peers[v].fd < 0)
                        continue;
                idx[n_cases] = (size_t) v;
                cases[n_cases++] = (bench_case){lat_name[v], run_latency, peer_prepare, &peers[v]};
                peers[v].recording = false;
        }
        r = place(info, pl);
        if (r < 0)
                return r;
        r = bench_calibrate(&cases[L_ECHO], min_ns, NULL, &iters);
        if (r < 0)
                return r;
        iters = MAX(iters, min_ops);
        r = bench_warmup(cases, n_cases, iters / 4 + 1);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_cases; i++) {
                peer *p = &peers[idx[i]];

                free(p->samples);
                p->cap = (size_t) iters * rounds;
                p->samples = malloc(p->cap * sizeof(double));
                if (!p->samples)
                        return bench_fail(-ENOMEM, "out of memory");
                p->n_samples = 0;
                p->srv_run_ns = p->srv_nvcsw = p->srv_nivcsw = p->cli_cpu_ns = p->ops = 0;
                p->srv_cpus = p->cli_cpus = 0;
                p->runs = p->shared_runs = 0;
                p->recording = true;
        }
        r = bench_interleave(cases, n_cases, rounds, iters, SLICES, &info->cpus, ns, NULL);
        for (size_t i = 0; i < n_cases; i++)
                peers[idx[i]].recording = false;
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_cases; i++) {
                const peer *p = &peers[idx[i]];
                double ops = (double) p->ops;
                char what[96];

                if (p->n_samples != (size_t) iters * rounds)
                        return bench_fail(-EIO, "%s: %zu round trips recorded, %" PRIu64 " planned",
                                          p->name, p->n_samples, iters * rounds);
                snprintf(what, sizeof(what), "1 client, %s", p->name);
                add_cost(what, pl, (double) p->srv_run_ns / ops, (double) p->srv_nvcsw / ops,
                         (double) p->srv_nivcsw / ops, (double) p->cli_cpu_ns / ops, p->srv_cpus,
                         p->cli_cpus, p->runs, p->shared_runs);
        }
        for (int v = L_MEMCAPD; v < N_LAT; v++) {
                static const char *const what[N_LAT] = {
                        [L_MEMCAPD] = "MmapRead 4 KiB base64, 1 client",
                        [L_EPOLL] = "  epoll echo (no target)",
                        [L_REDIS] = "  Redis GET 4 KiB, Unix socket (no target)",
                };
                static const char *const keys[N_LAT] = {
                        [L_MEMCAPD] = "latency_memcapd",
                        [L_EPOLL] = "latency_epoll_echo",
                        [L_REDIS] = "latency_redis",
                };

                if (peers[v].fd < 0)
                        continue;
                snprintf(name, sizeof(name), "%s, %s", what[v], pl->name);
                res = add_result(name, keys[v], pl->key, UNIT_LATENCY);
                if (!res)
                        return bench_fail(-ENOSPC, "too many results");
                snprintf(res->base_name, sizeof(res->base_name), "echo");
                res->has_base = true;
                fill_latency_side(&res->mc, &peers[v], rounds, iters);
                fill_latency_side(&res->base, &peers[L_ECHO], rounds, iters);
                set_ratio(res, false);
                if (v == L_MEMCAPD) {
                        res->goal = GOAL_AT_MOST;
                        res->target = 1.3;
                }
        }
        if (peers[L_REDIS].fd >= 0) {
                snprintf(name, sizeof(name), "  memcapd vs Redis GET (no target), %s", pl->name);
                res = add_result(name, "latency_memcapd_vs_redis", pl->key, UNIT_LATENCY);
                if (!res)
                        return bench_fail(-ENOSPC, "too many results");
                snprintf(res->base_name, sizeof(res->base_name), "Redis");
                res->has_base = true;
                fill_latency_side(&res->mc, &peers[L_MEMCAPD], rounds, iters);
                fill_latency_side(&res->base, &peers[L_REDIS], rounds, iters);
                set_ratio(res, false);
        }
        if (pl->cpu_client < 0) {
                char text[200];
                size_t o = 0;
                double lo = 100.0, hi = 0.0;

                for (int v = 0; v < N_LAT; v++) {
                        const peer *p = &peers[v];
                        double pct;

                        if (p->fd < 0 || p->runs == 0)
                                continue;
                        pct = 100.0 * p->shared_runs / p->runs;
                        lo = MIN(lo, pct);
                        hi = MAX(hi, pct);
                        o += (size_t) snprintf(text + o, sizeof(text) - o, "%s%s %.0f%%",
                                               o ? ", " : "", p->name, pct);
                        if (o >= sizeof(text))
                                break;
                }
                if (hi - lo > 25.0)
                        bench_note("unpinned latency: the share of slices that ended with the "
                                   "server on "
                                   "the client's CPU was %s: the unpinned rows compare different "
                                   "placements; the pinned rows show the cost",
                                   text);
        }
        return 0;
}

/* ---- throughput: 50 clients ---- */

enum { T_MEMCAPD, T_REDIS_TCP, T_REDIS_UNIX, N_TP };

static const char *const tp_name[N_TP] = {"memcapd (own load generator, Unix socket)",
                                          "redis-benchmark GET (TCP 127.0.0.1)",
                                          "redis-benchmark GET (Unix socket)"};

typedef struct lconn {
        int fd;
        size_t have, k;
        uint64_t t_sent;
        char *buf;
} lconn;

typedef struct tside {
        int kind;
        run_info *info;
        peer *mcd; /* requests and expected replies of memcapd */
        const placement *pl;
        lconn *conns;
        unsigned n_conns;
        int ep;
        uint64_t redis_n; /* requests per redis-benchmark run */
        bool recording;
        double rates[MAX_ROUNDS], p50[MAX_ROUNDS];
        unsigned n;
        double *lat;
        size_t n_lat, cap_lat;
        bench_proc before;
        uint64_t srv_run_ns, srv_nvcsw, srv_nivcsw, cli_cpu_ns, ops, srv_cpus, cli_cpus;
        unsigned runs;
} tside;

static int lconns_open(tside *t, unsigned n) {
        struct epoll_event ev = {.events = EPOLLIN};

        t->ep = epoll_create1(EPOLL_CLOEXEC);
        if (t->ep < 0)
                return bench_fail_errno(errno, "epoll_create1");
        t->conns = calloc(n, sizeof(*t->conns));
        if (!t->conns)
                return bench_fail(-ENOMEM, "out of memory");
        for (unsigned i = 0; i < n; i++) {
                lconn *c = &t->conns[i];
                int r;

                c->fd = -1;
                c->buf = malloc(CLIENT_BUF);
                if (!c->buf)
                        return bench_fail(-ENOMEM, "out of memory");
                t->n_conns++;
                r = unix_connect(paths[P_SOCK], &c->fd);
                if (r < 0)
                        return bench_fail_errno(-r, "connecting to memcapd");
                if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
                        return bench_fail_errno(errno, "fcntl");
                ev.data.u32 = i;
                if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
                        return bench_fail_errno(errno, "epoll_ctl");
                c->k = i * 7; /* spread the connections over the file */
        }
        return 0;
}

static void lconns_close(tside *t) {
        for (unsigned i = 0; i < t->n_conns; i++) {
                if (t->conns[i].fd >= 0)
                        close(t->conns[i].fd);
                free(t->conns[i].buf);
        }
        free(t->conns);
        t->conns = NULL;
        t->n_conns = 0;
        if (t->ep >= 0)
                close(t->ep);
        t->ep = -1;
}

static int lconn_send(tside *t, lconn *c) {
        const peer *m = t->mcd;
        size_t k = c->k % m->n_req;
        ssize_t n;

        c->t_sent = bench_now_ns();
        n = write(c->fd, m->req[k], m->req_len[k]);
        if (n < 0)
                return bench_fail_errno(errno, "sending to memcapd");
        if ((size_t) n != m->req_len[k]) /* an empty socket always takes 90 bytes */
                return bench_fail(-EIO, "short write to memcapd");
        return 0;
}

/*
 * @dur_ns of closed-loop load: every connection sends a request when the previous reply has
 * arrived. A reply counts when it completes before the deadline; the ones in flight then are
 * read and dropped, so the connections are idle when the run ends. Rate: counted / @dur_ns.
 */
static int load_memcapd(tside *t, uint64_t dur_ns, bool full_check, double *ret_rate,
                        double *ret_p50) {
        const peer *m = t->mcd;
        struct epoll_event evs[64];
        uint64_t t0, end, count = 0;
        unsigned busy = 0;
        size_t lat0 = t->n_lat;
        int r;

        t0 = bench_now_ns();
        end = t0 + dur_ns;
        for (unsigned i = 0; i < t->n_conns; i++) {
                r = lconn_send(t, &t->conns[i]);
                if (r < 0)
                        return r;
                busy++;
        }
        while (busy > 0) {
                int n = epoll_wait(t->ep, evs, 64, 1000);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return bench_fail_errno(errno, "epoll_wait");
                if (n == 0 && bench_now_ns() > end + IO_TIMEOUT * NS)
                        return bench_fail(-ETIMEDOUT, "memcapd stopped answering under load");
                for (int i = 0; i < n; i++) {
                        lconn *c = &t->conns[evs[i].data.u32];
                        size_t k = c->k % m->n_req;
                        uint64_t now;
                        ssize_t got = read(c->fd, c->buf + c->have, CLIENT_BUF - c->have);

                        if (got < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (got < 0)
                                return bench_fail_errno(errno, "reading from memcapd");
                        if (got == 0)
                                return bench_fail(-EPIPE, "memcapd closed a connection under load");
                        c->have += (size_t) got;
                        if (c->buf[c->have - 1] != '\n')
                                continue;
                        now = bench_now_ns();
                        /* The full comparison costs ~0.3 us, a few % of the generator's CPU:
                         * in the timed runs the length and both ends are checked. */
                        if (c->have != m->exp_len[k] ||
                            (full_check ? memcmp(c->buf, m->exp[k], c->have) != 0
                                        : memcmp(c->buf, m->exp[k], 32) != 0 ||
                                                  memcmp(c->buf + c->have - 32,
                                                         m->exp[k] + c->have - 32, 32) != 0))
                                return bench_fail(-EPROTO,
                                                  "memcapd sent an unexpected reply under "
                                                  "load (%zu bytes): %.120s",
                                                  c->have, c->buf);
                        c->have = 0;
                        c->k++;
                        busy--;
                        if (now <= end) {
                                count++;
                                if (t->recording && t->n_lat < t->cap_lat)
                                        t->lat[t->n_lat++] = (double) (now - c->t_sent);
                                r = lconn_send(t, c);
                                if (r < 0)
                                        return r;
                                busy++;
                        }
                }
        }
        *ret_rate = (double) count / ((double) dur_ns / 1e9);
        *ret_p50 = t->n_lat > lat0 ? bench_median(t->lat + lat0, t->n_lat - lat0) : NAN;
        return 0;
}

/* Parse redis-benchmark's CSV: "GET","<rps>","<avg>","<min>","<p50>",... (ms). */
static bool parse_redis_csv(const char *out, double *ret_rps, double *ret_p50_ms) {
        const char *p = strstr(out, "\"GET\",\"");
        char *end;

        if (!p)
                return false;
        p += strlen("\"GET\",\"");
        *ret_rps = strtod(p, &end);
        if (end == p)
                return false;
        /* Skip to the 5th field. */
        for (int f = 0; f < 3; f++) {
                p = strstr(end, ",\"");
                if (!p)
                        return false;
                end = (char *) p + 2;
        }
        *ret_p50_ms = strtod(end, &end);
        return true;
}

static int load_redis(tside *t, uint64_t n_req, double *ret_rate, double *ret_p50,
                      uint64_t *ret_cpu_ns) {
        const run_info *info = t->info;
        char port[16], clients[16], n[32], out[4096];
        char *argv[20];
        size_t have = 0;
        struct rusage ru;
        cpu_set_t cpus = info->all_cpus;
        double p50_ms;
        int pipefd[2], status, a = 0, r;
        pid_t pid = 0;

        snprintf(port, sizeof(port), "%u", info->redis_port);
        snprintf(clients, sizeof(clients), "%u", info->opts->clients);
        snprintf(n, sizeof(n), "%" PRIu64, n_req);
        argv[a++] = (char *) info->redis_benchmark;
        if (t->kind == T_REDIS_TCP) {
                argv[a++] = (char *) "-h";
                argv[a++] = (char *) "127.0.0.1";
                argv[a++] = (char *) "-p";
                argv[a++] = port;
        } else {
                argv[a++] = (char *) "-s";
                argv[a++] = paths[P_REDIS_SOCK];
        }
        argv[a++] = (char *) "-c";
        argv[a++] = clients;
        argv[a++] = (char *) "-n";
        argv[a++] = n;
        argv[a++] = (char *) "-d";
        argv[a++] = (char *) "4096";
        argv[a++] = (char *) "-t";
        argv[a++] = (char *) "get";
        argv[a++] = (char *) "--csv";
        argv[a] = NULL;
        if (t->pl->cpu_client >= 0) {
                CPU_ZERO(&cpus);
                CPU_SET(t->pl->cpu_client, &cpus);
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return bench_fail_errno(errno, "pipe2");
        r = spawn(argv, paths[P_REDIS_BENCH_LOG], pipefd[1], &cpus, &pid);
        close(pipefd[1]);
        if (r < 0) {
                close(pipefd[0]);
                return r;
        }
        for (;;) {
                ssize_t k = read(pipefd[0], out + have, sizeof(out) - 1 - have);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                have += (size_t) k;
                if (have == sizeof(out) - 1)
                        have = 0; /* only the end matters */
        }
        out[have] = '\0';
        close(pipefd[0]);
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR)
                        return bench_fail_errno(errno, "wait4");
        child_forget(pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return bench_fail(-EIO, "redis-benchmark failed (status 0x%x); see %s", status,
                                  paths[P_REDIS_BENCH_LOG]);
        if (!parse_redis_csv(out, ret_rate, &p50_ms))
                return bench_fail(-EPROTO, "cannot read redis-benchmark's output: %.200s", out);
        *ret_p50 = p50_ms * 1e6;
        *ret_cpu_ns = ((uint64_t) ru.ru_utime.tv_sec + (uint64_t) ru.ru_stime.tv_sec) * NS +
                      ((uint64_t) ru.ru_utime.tv_usec + (uint64_t) ru.ru_stime.tv_usec) * 1000;
        return 0;
}

static pid_t tside_server(const tside *t) {
        return t->info->srv[t->kind == T_MEMCAPD ? L_MEMCAPD : L_REDIS].pid;
}

static int tside_prepare(void *arg) {
        tside *t = arg;

        if (t->recording && bench_proc_snap(tside_server(t), &t->before) < 0)
                return bench_fail(-ESRCH, "a server is gone");
        return 0;
}

static int run_throughput(void *arg, uint64_t iters) {
        tside *t = arg;
        uint64_t dur = (uint64_t) (t->info->opts->duration * 1e9), cli = 0;
        bench_proc after;
        bench_proc_delta d;
        double rate, p50;
        int cpu, r;

        for (uint64_t i = 0; i < iters; i++) {
                if (t->kind == T_MEMCAPD) {
                        uint64_t c0 = bench_thread_cpu_ns();

                        r = load_memcapd(t, dur, !t->recording, &rate, &p50);
                        cli = bench_thread_cpu_ns() - c0;
                } else
                        r = load_redis(t, t->redis_n, &rate, &p50, &cli);
                if (r < 0)
                        return r;
                if (!t->recording)
                        continue;
                if (t->n >= MAX_ROUNDS)
                        return bench_fail(-ENOSPC, "too many rounds");
                t->rates[t->n] = rate;
                t->p50[t->n++] = p50;
                cpu = sched_getcpu();
                if (bench_proc_snap(tside_server(t), &after) < 0)
                        return bench_fail(-ESRCH, "a server is gone");
                bench_proc_diff(&t->before, &after, &d);
                t->ops +=
                        t->kind == T_MEMCAPD ? (uint64_t) (rate * (double) dur / 1e9) : t->redis_n;
                t->srv_run_ns += d.run_ns;
                t->srv_nvcsw += d.nvcsw;
                t->srv_nivcsw += d.nivcsw;
                t->srv_cpus |= d.cpus;
                t->cli_cpu_ns += cli;
                if (cpu >= 0 && cpu < 64)
                        t->cli_cpus |= UINT64_C(1) << cpu;
                t->runs++;
        }
        return 0;
}

static int place_tp(run_info *info, const placement *pl) {
        cpu_set_t c = info->all_cpus, s = info->all_cpus;
        int r;

        if (pl->cpu_client >= 0) {
                CPU_ZERO(&c);
                CPU_SET(pl->cpu_client, &c);
                CPU_ZERO(&s);
                CPU_SET(pl->cpu_server, &s);
        }
        r = bench_affinity_process(0, &c);
        if (r >= 0)
                r = bench_affinity_process(info->srv[L_MEMCAPD].pid, &s);
        if (r >= 0 && info->srv[L_REDIS].pid > 0)
                r = bench_affinity_process(info->srv[L_REDIS].pid, &s);
        if (r < 0)
                return bench_fail(r, "placing the throughput run: %s", strerror(-r));
        sched_yield();
        return 0;
}

static int bench_throughput(run_info *info, const placement *pl, peer *mcd) {
        const options *opts = info->opts;
        tside ts[N_TP];
        bench_case cases[N_TP];
        double ns[N_TP * MAX_ROUNDS];
        size_t n_cases = 0, idx[N_TP];
        uint64_t dur = (uint64_t) (opts->duration * 1e9);
        char name[96];
        result *res;
        int r;

        memset(ts, 0, sizeof(ts));
        for (int v = 0; v < N_TP; v++) {
                ts[v] = (tside){.kind = v, .info = info, .mcd = mcd, .pl = pl, .ep = -1};
                if (v != T_MEMCAPD && !info->redis)
                        continue;
                idx[n_cases] = (size_t) v;
                cases[n_cases++] = (bench_case){tp_name[v], run_throughput, tside_prepare, &ts[v]};
        }
        r = place_tp(info, pl);
        if (r < 0)
                goto out;
        r = lconns_open(&ts[T_MEMCAPD], opts->clients);
        if (r < 0)
                goto out;
        /* Samples of latency under load: room for 400k requests/s. */
        ts[T_MEMCAPD].cap_lat = (size_t) (opts->duration * 400000.0) * opts->tp_rounds + 1;
        ts[T_MEMCAPD].lat = malloc(ts[T_MEMCAPD].cap_lat * sizeof(double));
        if (!ts[T_MEMCAPD].lat) {
                r = bench_fail(-ENOMEM, "out of memory");
                goto out;
        }

        /* Warm-up: a short memcapd run with full checks; a redis run sizes -n so that one
         * redis-benchmark run lasts about as long as a memcapd run. */
        {
                double rate, p50;
                uint64_t cpu;

                r = load_memcapd(&ts[T_MEMCAPD], dur / 5 + 1, true, &rate, &p50);
                if (r < 0)
                        goto out;
                for (int v = T_REDIS_TCP; info->redis && v < N_TP; v++) {
                        uint64_t probe = opts->quick ? 5000 : 50000;

                        r = load_redis(&ts[v], probe, &rate, &p50, &cpu);
                        if (r < 0)
                                goto out;
                        ts[v].redis_n = (uint64_t) (rate * opts->duration);
                        if (ts[v].redis_n < 1000)
                                ts[v].redis_n = 1000;
                }
        }
        for (int v = 0; v < N_TP; v++)
                ts[v].recording = true;
        r = bench_interleave(cases, n_cases, opts->tp_rounds, 1, 1, &info->cpus, ns, NULL);
        for (int v = 0; v < N_TP; v++)
                ts[v].recording = false;
        if (r < 0)
                goto out;

        for (size_t i = 0; i < n_cases; i++) {
                const tside *t = &ts[idx[i]];
                double ops = (double) t->ops;
                char what[96];

                snprintf(what, sizeof(what), "%u clients, %s", opts->clients, tp_name[idx[i]]);
                add_cost(what, pl, (double) t->srv_run_ns / ops, (double) t->srv_nvcsw / ops,
                         (double) t->srv_nivcsw / ops, (double) t->cli_cpu_ns / ops, t->srv_cpus,
                         t->cli_cpus, t->runs, 0);
                if (n_costs > 0)
                        costs[n_costs - 1].throughput = true;
        }
        for (int v = 0; v < N_TP; v++) {
                const tside *m = &ts[T_MEMCAPD];
                const tside *b = &ts[v == T_MEMCAPD ? T_REDIS_TCP : v];

                if (v == T_REDIS_TCP)
                        continue;
                if (v == T_REDIS_UNIX && !info->redis)
                        continue;
                snprintf(name, sizeof(name), "%s%u clients MmapRead 4 KiB b64, %s",
                         v == T_MEMCAPD ? "" : "  ", opts->clients, pl->name);
                if (v == T_REDIS_UNIX)
                        snprintf(name, sizeof(name),
                                 "  vs Redis over a Unix socket, %s (no target)", pl->name);
                res = add_result(name, v == T_MEMCAPD ? "throughput" : "throughput_vs_redis_unix",
                                 pl->key, UNIT_RATE);
                if (!res) {
                        r = bench_fail(-ENOSPC, "too many results");
                        goto out;
                }
                res->mc.n = m->n;
                memcpy(res->mc.rounds, m->rates, m->n * sizeof(double));
                res->mc.v = bench_median(m->rates, m->n);
                res->mc.aux = bench_median(m->p50, m->n);
                if (info->redis) {
                        snprintf(res->base_name, sizeof(res->base_name), "Redis GET, %s",
                                 v == T_MEMCAPD ? "TCP" : "Unix socket");
                        res->has_base = true;
                        res->base.n = b->n;
                        memcpy(res->base.rounds, b->rates, b->n * sizeof(double));
                        res->base.v = bench_median(b->rates, b->n);
                        res->base.aux = bench_median(b->p50, b->n);
                        set_ratio(res, false);
                } else
                        snprintf(res->base_name, sizeof(res->base_name), "%s",
                                 opts->no_redis ? "Redis skipped (--no-redis)" : "redis missing");
                if (v == T_MEMCAPD && pl->cpu_client < 0) {
                        res->goal = GOAL_AT_LEAST;
                        res->target = 1.0;
                }
        }
        r = 0;
out:
        lconns_close(&ts[T_MEMCAPD]);
        free(ts[T_MEMCAPD].lat);
        return r;
}

/* ---- MmapFd scan ---- */

typedef struct scan_arg {
        run_info *info;
        uint64_t bytes;
} scan_arg;

static int scan_check(const void *p, uint64_t n) {
        if (memchr(p, 0xff, (size_t) n))
                return bench_fail(-EPROTO, "found a byte the scan file does not hold");
        return 0;
}

static int scan_raw(void *arg, uint64_t iters) {
        (void) arg;
        for (uint64_t i = 0; i < iters; i++) {
                struct stat st;
                void *p;
                int fd, r;

                fd = open(paths[P_BIG], O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return bench_fail_errno(errno, paths[P_BIG]);
                if (fstat(fd, &st) < 0) {
                        close(fd);
                        return bench_fail_errno(errno, "fstat");
                }
                p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
                close(fd);
                if (p == MAP_FAILED)
                        return bench_fail_errno(errno, "mmap");
                r = scan_check(p, (uint64_t) st.st_size);
                munmap(p, (size_t) st.st_size);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_mmapfd(void *arg, uint64_t iters) {
        scan_arg *a = arg;
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        char req[96], reply[512];

        snprintf(req, sizeof(req), "{\"MmapFd\":{\"mmap_id\":%" PRIu64 "}}\n", a->info->big_id);
        for (uint64_t i = 0; i < iters; i++) {
                uint64_t off, len, skip;
                void *p;
                int fd = -1, r;

                r = daemon_call(a->info->ctl_fd, req, reply, sizeof(reply), &fd);
                if (r < 0)
                        return r;
                if (fd < 0)
                        return bench_fail(-EPROTO,
                                          "MmapFd: no descriptor came with the reply (a memcapd "
                                          "that places descriptors by out_total, never "
                                          "advanced, sends one only with a connection's "
                                          "first reply)");
                if (!json_u64(reply, "offset", &off) || !json_u64(reply, "length", &len)) {
                        close(fd);
                        return bench_fail(-EPROTO, "MmapFd: unexpected reply %.200s", reply);
                }
                skip = off % page;
                p = mmap(NULL, (size_t) (len + skip), PROT_READ, MAP_SHARED, fd,
                         (off_t) (off - skip));
                close(fd);
                if (p == MAP_FAILED)
                        return bench_fail_errno(errno, "mmap of the passed descriptor");
                r = scan_check((const char *) p + skip, len);
                munmap(p, (size_t) (len + skip));
                if (r < 0)
                        return r;
                if (len != a->bytes)
                        return bench_fail(-EPROTO, "MmapFd: length %" PRIu64 ", expected %" PRIu64,
                                          len, a->bytes);
        }
        return 0;
}

/* Write the file (bytes 0..250, so 0xff never occurs), flush it, read it once, check it is
 * cached. */
static int big_create(run_info *info) {
        size_t chunk = MIB, page = (size_t) sysconf(_SC_PAGESIZE), pages, resident = 0;
        unsigned char *buf, *vec = NULL;
        void *p;
        int fd, r = 0;

        buf = malloc(chunk);
        if (!buf)
                return bench_fail(-ENOMEM, "out of memory");
        for (size_t i = 0; i < chunk; i++)
                buf[i] = (unsigned char) (i % 251);
        fd = open(paths[P_BIG], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
                free(buf);
                return bench_fail_errno(errno, paths[P_BIG]);
        }
        for (uint64_t done = 0; done < info->big_bytes && r >= 0; done += chunk)
                r = bench_write_all(fd, buf, chunk);
        if (r < 0 || fdatasync(fd) < 0) {
                r = bench_fail_errno(r < 0 ? -r : errno, "writing the scan file");
                goto out;
        }
        p = mmap(NULL, (size_t) info->big_bytes, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                r = bench_fail_errno(errno, "mmap of the scan file");
                goto out;
        }
        r = scan_check(p, info->big_bytes); /* also brings it into the page cache */
        pages = (size_t) (info->big_bytes / page);
        vec = malloc(pages);
        if (r >= 0 && vec && mincore(p, (size_t) info->big_bytes, vec) == 0) {
                for (size_t i = 0; i < pages; i++)
                        resident += vec[i] & 1;
                info->big_resident_pct = 100.0 * (double) resident / (double) pages;
                if (info->big_resident_pct < 99.0)
                        bench_note("only %.1f%% of the scan file was in the page cache",
                                   info->big_resident_pct);
        }
        munmap(p, (size_t) info->big_bytes);
out:
        close(fd);
        free(vec);
        free(buf);
        return r;
}

static int bench_scan(run_info *info) {
        const options *opts = info->opts;
        scan_arg a = {info, info->big_bytes};
        const bench_case cases[2] = {
                {"open+mmap+memchr", scan_raw, NULL, &a},
                {"MmapFd+mmap+memchr", scan_mmapfd, NULL, &a},
        };
        double ns[2 * MAX_ROUNDS], cpu[2 * MAX_ROUNDS], cr[MAX_ROUNDS];
        unsigned rounds = opts->rounds;
        uint64_t iters = opts->quick ? 1 : 3;
        result *res;
        char name[96];
        int r;

        r = place(info, &(placement){"unpinned", "unpinned", -1, -1});
        if (r < 0)
                return r;
        r = bench_warmup(cases, 2, 1);
        if (r < 0)
                return r;
        r = bench_interleave(cases, 2, rounds, iters, (unsigned) iters, &info->cpus, ns, cpu);
        if (r < 0)
                return r;
        snprintf(name, sizeof(name), "MmapFd, map + scan %" PRIu64 " MiB", info->big_bytes / MIB);
        res = add_result(name, "mmapfd_scan", "unpinned", UNIT_GBPS);
        if (!res)
                return bench_fail(-ENOSPC, "too many results");
        snprintf(res->base_name, sizeof(res->base_name), "open+mmap");
        res->has_base = true;
        res->mc.n = res->base.n = rounds;
        for (unsigned k = 0; k < rounds; k++) {
                res->base.rounds[k] = (double) info->big_bytes / ns[k];
                res->mc.rounds[k] = (double) info->big_bytes / ns[rounds + k];
        }
        res->mc.v = bench_median(res->mc.rounds, rounds);
        res->base.v = bench_median(res->base.rounds, rounds);
        res->mc.aux = bench_median(&ns[rounds], rounds);
        res->base.aux = bench_median(ns, rounds);
        set_ratio(res, false);
        res->goal = GOAL_AT_LEAST;
        res->target = 0.97;
        /* The same ratio in CPU time: on a busy machine the elapsed time also holds the time
         * spent waiting for a CPU, which no side controls. */
        bench_ratios(cpu, &cpu[rounds], rounds, cr);
        info->scan_cpu_ratio = bench_median(cr, rounds);
        return 0;
}

/* ---- the daemon's work per request, in this process ---- */

/*
 * Where memcapd's CPU time per MmapRead goes in user space: its own request decoder and reply
 * encoder (src/daemon/protocol-*.c, linked here) and libmemcap's manager, timed in this process
 * on one CPU without any socket. Set against the servers' CPU per request measured above
 * (memcapd minus the epoll echo), what is left over is system calls and scheduling.
 */
typedef struct codec_arg {
        const char *line;
        size_t len;
        const unsigned char *data;
        mcd_buf out;
        mc_manager *mgr;
        mc_client client;
        uint64_t id;
        unsigned char buf[READ_BYTES];
} codec_arg;

static int op_parse(void *arg, uint64_t iters) {
        codec_arg *a = arg;

        for (uint64_t i = 0; i < iters; i++) {
                mcd_request q = MCD_REQUEST_INIT;

                if (mcd_request_parse(a->line, a->len, &q, NULL) < 0)
                        return bench_fail(-EPROTO, "memcapd's codec refused its own request");
                mcd_request_done(&q);
        }
        return 0;
}

static int op_jansson(void *arg, uint64_t iters) {
        codec_arg *a = arg;

        for (uint64_t i = 0; i < iters; i++) {
                json_error_t e;
                json_t *j =
                        json_loadb(a->line, a->len,
                                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

                if (!j)
                        return bench_fail(-EPROTO, "jansson refused the request: %s", e.text);
                json_decref(j);
        }
        return 0;
}

static int op_encode(void *arg, uint64_t iters) {
        codec_arg *a = arg;

        for (uint64_t i = 0; i < iters; i++) {
                if (mcd_reply_data(&a->out, a->data + (i % N_OFFSETS) * READ_BYTES, READ_BYTES,
                                   MCD_ENCODING_BASE64) < 0)
                        return bench_fail(-ENOMEM, "mcd_reply_data");
                bench_escape(a->out.data);
                mcd_buf_consume(&a->out, a->out.len);
        }
        return 0;
}

static int op_read(void *arg, uint64_t iters) {
        codec_arg *a = arg;
        mc_error err = MC_ERROR_INIT;

        for (uint64_t i = 0; i < iters; i++) {
                size_t n;

                if (mc_manager_read(a->mgr, &a->client, a->id, (i % N_OFFSETS) * READ_BYTES, a->buf,
                                    READ_BYTES, &n, &err) < 0)
                        return bench_fail(-EIO, "mc_manager_read: %s", err.message);
                bench_escape(a->buf);
        }
        return 0;
}

static int bench_codec(run_info *info, const char *line) {
        const bench_case cases[] = {
                {"parse", op_parse, NULL, NULL},
                {"jansson", op_jansson, NULL, NULL},
                {"encode", op_encode, NULL, NULL},
                {"read", op_read, NULL, NULL},
        };
        double *ret[] = {&info->codec.parse_ns, &info->codec.jansson_ns, &info->codec.encode_ns,
                         &info->codec.read_ns};
        mc_manager_options mo = MC_MANAGER_OPTIONS_INIT;
        codec_arg a = {.line = line, .len = strlen(line), .data = info->data, .out = MCD_BUF_INIT};
        bench_case run[ELEMENTSOF(cases)];
        double ns[ELEMENTSOF(cases) * MAX_ROUNDS], cpu[ELEMENTSOF(cases) * MAX_ROUNDS];
        unsigned rounds = info->opts->quick ? 3 : 7;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = NULL;
        uint64_t iters, len;
        int r;

        a.len -= a.line[a.len - 1] == '\n'; /* the server hands the line over without it */
        a.client = (mc_client){.key = 1,
                               .pid = getpid(),
                               .uid = getuid(),
                               .gid = getgid(),
                               .caps = MC_CAP_FILE_READ};
        mo.root = paths[P_ROOT];
        r = mc_ctx_new(&ctx, &err);
        if (r >= 0)
                r = mc_manager_new(ctx, &mo, &a.mgr, &err);
        if (r >= 0)
                r = mc_manager_mmap(a.mgr, &a.client,
                                    &(mc_manager_map_request){.path = "/data.bin",
                                                              .prot = MC_PROT_READ,
                                                              .shared = true},
                                    &a.id, &len, &err);
        if (r < 0) {
                r = bench_fail(r, "a manager in this process: %s", err.message);
                goto out;
        }
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                run[i] = cases[i];
                run[i].arg = &a;
        }
        r = place(info, &(placement){"same CPU", "same_cpu", info->cpu_first, info->cpu_first});
        if (r < 0)
                goto out;
        /* Each case's round lasts >= 20 ms (parse is the slowest); 10 slices alternate them. */
        r = bench_calibrate(&run[0], info->opts->quick ? 2000000 : 20000000, NULL, &iters);
        if (r >= 0)
                r = bench_warmup(run, ELEMENTSOF(run), iters / 10 + 1);
        if (r >= 0)
                r = bench_interleave(run, ELEMENTSOF(run), rounds, iters, SLICES, NULL, ns, cpu);
        if (r < 0)
                goto out;
        /* The thread's CPU time, not the elapsed time: on a busy machine a slice of a few
         * milliseconds can lose most of its time waiting for the CPU, which is not the cost
         * of the work. */
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                *ret[i] = bench_median(&cpu[i * rounds], rounds);
        info->codec.done = true;
out:
        mc_manager_free(a.mgr);
        mc_ctx_free(ctx);
        mcd_buf_done(&a.out);
        return r;
}

/* ---- memory ---- */

static uint64_t count_lines(const char *path) {
        char buf[65536];
        uint64_t n = 0;
        ssize_t k;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return 0;
        while ((k = read(fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < k; i++)
                        n += buf[i] == '\n';
        close(fd);
        return n;
}

static uint64_t count_fds(pid_t pid) {
        char path[64];
        struct dirent *de;
        uint64_t n = 0;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        d = opendir(path);
        if (!d)
                return 0;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static uint64_t kb_field(const char *buf, const char *name) {
        const char *p = strstr(buf, name);

        return p ? strtoull(p + strlen(name), NULL, 10) * KIB : 0;
}

static int mem_snap_of(pid_t pid, mem_snap *m) {
        char path[64], buf[4096];

        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int) pid);
        if (bench_read_small(path, buf, sizeof(buf)) <= 0)
                return bench_fail(-ESRCH, "cannot read %s", path);
        m->rss = kb_field(buf, "\nRss:");
        m->pss = kb_field(buf, "\nPss:");
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        if (bench_read_small(path, buf, sizeof(buf)) <= 0)
                return bench_fail(-ESRCH, "cannot read %s", path);
        m->vsz = kb_field(buf, "\nVmSize:");
        snprintf(path, sizeof(path), "/proc/%d/maps", (int) pid);
        m->vmas = count_lines(path);
        m->fds = count_fds(pid);
        return 0;
}

/*
 * Wait until the daemon holds at least (@up) or at most (!@up) @want descriptors, and the
 * count has settled: it accepted or closed what we did. Its record of our process (a pidfd)
 * may come and go with the first and last connection, so the count is not exact.
 */
static int wait_fds(pid_t pid, uint64_t want, bool up) {
        uint64_t deadline = bench_now_ns() + 10 * NS, n, last = UINT64_MAX;

        for (;;) {
                n = count_fds(pid);
                if ((up ? n >= want : n <= want) && n == last)
                        return 0;
                if (bench_now_ns() > deadline)
                        return bench_fail(-ETIMEDOUT,
                                          "memcapd holds %" PRIu64
                                          " descriptors, expected %s %" PRIu64,
                                          n, up ? "at least" : "at most", want);
                last = n;
                usleep(50000);
        }
}

static void mem_result(const char *name, const char *key, const mem_snap *a, const mem_snap *b,
                       double n) {
        result *res = add_result(name, key, "-", UNIT_BYTES);

        if (!res)
                return;
        res->mc.v = ((double) b->pss - (double) a->pss) / n;
        res->mc.aux = ((double) b->rss - (double) a->rss) / n;
        snprintf(res->base_name, sizeof(res->base_name), "-");
        snprintf(res->extra, sizeof(res->extra),
                 "virtual %+.0f B, descriptors %+.2f, VMAs %+.2f per item",
                 ((double) b->vsz - (double) a->vsz) / n, ((double) b->fds - (double) a->fds) / n,
                 ((double) b->vmas - (double) a->vmas) / n);
}

static int bench_memory(run_info *info) {
        mem_info *m = &info->mem;
        server *s = &info->mem_srv;
        char *argv[] = {info->memcapd,      (char *) "-s", paths[P_MEM_SOCK], (char *) "-r",
                        paths[P_ROOT],      (char *) "-c", paths[P_CONFIG],   (char *) "-l",
                        (char *) "warning", NULL};
        int fds[N_IDLE], ctl = -1, r;
        char reply[512];
        size_t n_open = 0;

        for (size_t i = 0; i < N_IDLE; i++)
                fds[i] = -1;
        r = place(info, &(placement){"unpinned", "unpinned", -1, -1});
        if (r < 0)
                return r;
        *s = (server){"memcapd (memory)", 0, paths[P_MEM_LOG]};
        r = spawn(argv, paths[P_MEM_LOG], -1, NULL, &s->pid);
        if (r < 0)
                return r;
        m->pid = s->pid;
        r = wait_ready(s, probe_unix, paths[P_MEM_SOCK]);
        if (r < 0)
                goto out;
        usleep(50000);
        r = mem_snap_of(s->pid, &m->s0);
        if (r < 0)
                goto out;

        /* 1000 connections that never send anything. */
        for (; n_open < N_IDLE; n_open++) {
                r = unix_connect(paths[P_MEM_SOCK], &fds[n_open]);
                if (r < 0) {
                        r = bench_fail_errno(-r, "opening idle connections");
                        goto out;
                }
                set_timeout(fds[n_open]);
        }
        r = wait_fds(s->pid, m->s0.fds + N_IDLE, true);
        if (r >= 0)
                r = mem_snap_of(s->pid, &m->s_conn);
        if (r < 0)
                goto out;

        /* One Hello on each: a connection that has been used, then idles. */
        for (size_t i = 0; i < N_IDLE && r >= 0; i++)
                r = daemon_call(fds[i], "{\"Hello\":{}}\n", reply, sizeof(reply), NULL);
        if (r < 0)
                goto out;
        usleep(20000);
        r = mem_snap_of(s->pid, &m->s_req);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < N_IDLE; i++) {
                close(fds[i]);
                fds[i] = -1;
        }
        r = wait_fds(s->pid, m->s0.fds, false);
        if (r >= 0)
                r = mem_snap_of(s->pid, &m->s_closed);
        if (r < 0)
                goto out;

        /* 1000 small mappings from one client. */
        r = unix_connect(paths[P_MEM_SOCK], &ctl);
        if (r < 0) {
                r = bench_fail_errno(-r, "connecting to memcapd");
                goto out;
        }
        set_timeout(ctl);
        r = daemon_call(ctl, "{\"Hello\":{}}\n", reply, sizeof(reply), NULL);
        if (r < 0)
                goto out;
        usleep(20000);
        r = mem_snap_of(s->pid, &m->s_map0);
        for (size_t i = 0; i < N_IDLE && r >= 0; i++) {
                uint64_t id;

                r = daemon_mmap(ctl, "/small.bin", &id);
        }
        if (r < 0)
                goto out;
        usleep(20000);
        r = mem_snap_of(s->pid, &m->s_map);
        if (r < 0)
                goto out;
        m->done = true;
        mem_result("daemon memory per idle connection", "memory_per_idle_connection", &m->s0,
                   &m->s_conn, N_IDLE);
        mem_result("  the same after one request (Hello) each", "memory_per_used_connection",
                   &m->s0, &m->s_req, N_IDLE);
        mem_result("daemon memory per mapping (4 KiB file)", "memory_per_mapping", &m->s_map0,
                   &m->s_map, N_IDLE);
out:
        for (size_t i = 0; i < N_IDLE; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (s->pid > 0) {
                /* With its 1000 mappings: the graceful stop syncs and unmaps them all. */
                m->stop_status = server_stop(s, &m->stop_ns);
                if (r >= 0 && !(WIFEXITED(m->stop_status) && WEXITSTATUS(m->stop_status) == 0))
                        bench_note("memcapd (memory) did not exit 0 on SIGTERM (status 0x%x)",
                                   m->stop_status);
        }
        if (ctl >= 0)
                close(ctl);
        return r;
}

/* ---- output ---- */

static void format_side(char *buf, size_t size, const result *res, const side *s) {
        if (isnan(s->v)) {
                snprintf(buf, size, "-");
                return;
        }
        switch (res->unit) {
        case UNIT_LATENCY:
                snprintf(buf, size, "p50 %.1f us, p99 %.1f us", s->v / 1e3, s->p99 / 1e3);
                break;
        case UNIT_RATE:
                snprintf(buf, size, "%.1fk req/s (p50 %.0f us)", s->v / 1e3, s->aux / 1e3);
                break;
        case UNIT_GBPS:
                snprintf(buf, size, "%.2f GB/s (%.1f ms)", s->v, s->aux / 1e6);
                break;
        case UNIT_BYTES:
                snprintf(buf, size, "PSS %+.0f B, RSS %+.0f B", s->v, s->aux);
                break;
        }
}

static void format_cpus(char *buf, size_t size, uint64_t cpus) {
        size_t o = 0;

        buf[0] = '\0';
        for (int c = 0; c < 64 && o + 4 < size; c++)
                if (cpus & (UINT64_C(1) << c))
                        o += (size_t) snprintf(buf + o, size - o, "%s%d", o ? "," : "", c);
        if (o == 0)
                snprintf(buf, size, "?");
}

static void print_table(void) {
        char mc[64], base[128], ratio[16], target[16], range[24];

        printf("\n%-58s | %-28s | %-48s | %-6s | %-7s | %-7s | %s\n", "benchmark", "memcapd",
               "baseline", "ratio", "target", "verdict", "ratio min-max");
        printf("%.58s-+-%.28s-+-%.48s-+-%.6s-+-%.7s-+-%.7s-+-%.13s\n",
               "----------------------------------------------------------------------------",
               "----------------------------------------------------------------------------",
               "----------------------------------------------------------------------------",
               "--------", "---------", "---------", "---------------");
        for (size_t i = 0; i < n_results; i++) {
                const result *res = &results[i];
                char b[64];

                format_side(mc, sizeof(mc), res, &res->mc);
                if (res->has_base) {
                        format_side(b, sizeof(b), res, &res->base);
                        snprintf(base, sizeof(base), "%s: %s", res->base_name, b);
                } else
                        snprintf(base, sizeof(base), "%s", res->base_name);
                if (isnan(res->ratio)) {
                        snprintf(ratio, sizeof(ratio), "-");
                        snprintf(range, sizeof(range), "-");
                } else {
                        snprintf(ratio, sizeof(ratio), "%.3f", res->ratio);
                        snprintf(range, sizeof(range), "%.3f-%.3f", res->ratio_min, res->ratio_max);
                }
                if (res->goal == GOAL_AT_MOST)
                        snprintf(target, sizeof(target), "<= %.2f", res->target);
                else if (res->goal == GOAL_AT_LEAST)
                        snprintf(target, sizeof(target), ">= %.2f", res->target);
                else
                        snprintf(target, sizeof(target), "-");
                printf("%-58s | %-28s | %-48s | %6s | %7s | %-7s | %s\n", res->name, mc, base,
                       ratio, target, verdict(res), range);
        }
}

static void print_costs(void) {
        printf("\nwhere the time went, per request (CPU time from /proc/<pid>/task/*/schedstat; "
               "wakeups = voluntary context switches of the server; CPUs = where the threads "
               "were at the end of each timed run; capacity = the rate if the server and its "
               "load generator had their CPUs to themselves: unpinned, all CPUs over the sum of "
               "their CPU per request; on two CPUs, one CPU over the larger):\n");
        for (size_t i = 0; i < n_costs; i++) {
                const cost *c = &costs[i];
                char sc[64], cc[64];

                format_cpus(sc, sizeof(sc), c->srv_cpus);
                format_cpus(cc, sizeof(cc), c->cli_cpus);
                printf("  %-9s %-56s server %6.2f us CPU, %.2f wakeups, %.3f preemptions (CPUs "
                       "%s); client %6.2f us CPU (CPUs %s)",
                       c->placement, c->what, c->srv_cpu_ns / 1e3, c->srv_nvcsw, c->srv_nivcsw, sc,
                       c->cli_cpu_ns / 1e3, cc);
                if (c->shared_runs)
                        printf("; server on the client's CPU after %u of %u runs", c->shared_runs,
                               c->runs);
                /* What the machine could do if nothing else ran: the CPUs the pair may use
                 * over the CPU both spend per request. A figure that other load cannot move
                 * as much as the measured rate. */
                if (c->throughput) {
                        double cpus = strcmp(c->placement, "unpinned") == 0
                                              ? (double) sysconf(_SC_NPROCESSORS_ONLN)
                                              : 1.0;
                        double per = strcmp(c->placement, "unpinned") == 0
                                             ? c->srv_cpu_ns + c->cli_cpu_ns
                                             : MAX(c->srv_cpu_ns, c->cli_cpu_ns);

                        printf("; capacity %.0fk req/s", cpus / per * 1e6);
                }
                printf("\n");
        }
}

static void print_memory(const run_info *info) {
        const mem_info *m = &info->mem;

        if (!m->done)
                return;
        printf("\ndaemon memory (a fresh memcapd, pid %d; smaps_rollup): start RSS %" PRIu64
               " KiB PSS %" PRIu64 " KiB, %" PRIu64 " fds, %" PRIu64 " VMAs\n",
               (int) m->pid, m->s0.rss / KIB, m->s0.pss / KIB, m->s0.fds, m->s0.vmas);
        printf("  %d idle connections:    RSS %+" PRId64 " KiB, PSS %+" PRId64
               " KiB, virtual %+" PRId64 " KiB\n",
               N_IDLE, ((int64_t) m->s_conn.rss - (int64_t) m->s0.rss) / 1024,
               ((int64_t) m->s_conn.pss - (int64_t) m->s0.pss) / 1024,
               ((int64_t) m->s_conn.vsz - (int64_t) m->s0.vsz) / 1024);
        printf("  after one Hello each:     RSS %+" PRId64 " KiB, PSS %+" PRId64
               " KiB, virtual %+" PRId64 " KiB\n",
               ((int64_t) m->s_req.rss - (int64_t) m->s0.rss) / 1024,
               ((int64_t) m->s_req.pss - (int64_t) m->s0.pss) / 1024,
               ((int64_t) m->s_req.vsz - (int64_t) m->s0.vsz) / 1024);
        printf("  all closed again:         RSS %+" PRId64 " KiB, PSS %+" PRId64
               " KiB, virtual %+" PRId64 " KiB (what the allocator kept)\n",
               ((int64_t) m->s_closed.rss - (int64_t) m->s0.rss) / 1024,
               ((int64_t) m->s_closed.pss - (int64_t) m->s0.pss) / 1024,
               ((int64_t) m->s_closed.vsz - (int64_t) m->s0.vsz) / 1024);
        printf("  %d mappings of a 4 KiB file (shared, read-only, never read): RSS %+" PRId64
               " KiB, PSS %+" PRId64 " KiB, virtual %+" PRId64 " KiB, %+" PRId64 " fds, %+" PRId64
               " VMAs; the kernel's side (a VMA and an open file each, a socket "
               "per connection) is not in these numbers\n",
               N_IDLE, ((int64_t) m->s_map.rss - (int64_t) m->s_map0.rss) / 1024,
               ((int64_t) m->s_map.pss - (int64_t) m->s_map0.pss) / 1024,
               ((int64_t) m->s_map.vsz - (int64_t) m->s_map0.vsz) / 1024,
               (int64_t) m->s_map.fds - (int64_t) m->s_map0.fds,
               (int64_t) m->s_map.vmas - (int64_t) m->s_map0.vmas);
        printf("  SIGTERM with %d mappings held: stopped in %.1f ms, exit status %d\n", N_IDLE,
               (double) m->stop_ns / 1e6,
               WIFEXITED(m->stop_status) ? WEXITSTATUS(m->stop_status) : -1);
}

static void print_codec(const run_info *info) {
        const codec_info *c = &info->codec;
        double total = c->parse_ns + c->encode_ns + c->read_ns;

        if (!c->done)
                return;
        printf("\nmemcapd's user-space work per MmapRead, timed in this process with its own codec "
               "(src/daemon/protocol*.c) and libmemcap's manager, no socket, one CPU, CPU time:\n"
               "  parse the request %.2f us (jansson's json_loadb alone %.2f us), encode the "
               "4 KiB reply in base64 %.2f us, mc_manager_read 4 KiB %.2f us: %.2f us in all\n",
               c->parse_ns / 1e3, c->jansson_ns / 1e3, c->encode_ns / 1e3, c->read_ns / 1e3,
               total / 1e3);
        for (size_t i = 0; i < n_costs; i++) {
                const cost *m = &costs[i], *e = NULL;

                /* Unpinned, the scheduler may place memcapd and the echo differently. */
                if (strcmp(m->what, "1 client, memcapd") != 0 ||
                    strcmp(m->placement, "unpinned") == 0)
                        continue;
                for (size_t j = 0; j < n_costs; j++)
                        if (costs[j].placement == m->placement &&
                            strcmp(costs[j].what, "1 client, epoll echo") == 0)
                                e = &costs[j];
                if (!e)
                        continue;
                printf("  %-9s: memcapd's server CPU per request exceeds the epoll echo's by %.2f "
                       "us; %.2f us of it is the work above, %.2f us the rest (system calls: "
                       "epoll_ctl, a reply %zu bytes longer, scheduling)\n",
                       m->placement, (m->srv_cpu_ns - e->srv_cpu_ns) / 1e3, total / 1e3,
                       (m->srv_cpu_ns - e->srv_cpu_ns - total) / 1e3,
                       info->mcd_reply_len - ECHO_REPLY);
        }
}

static void print_where(const run_info *info) {
        char all[64];
        uint64_t mask = 0;

        for (int c = 0; c < 64; c++)
                if (CPU_ISSET(c, &info->all_cpus))
                        mask |= UINT64_C(1) << c;
        format_cpus(all, sizeof(all), mask);
        printf("\nwhere it ran (%ld CPUs online; this process may use CPUs %s):\n",
               sysconf(_SC_NPROCESSORS_ONLN), all);
        printf("  client: this process (pid %d), one thread; servers: memcapd (pid %d), blocking "
               "echo (pid %d), epoll echo (pid %d)",
               (int) getpid(), (int) info->srv_pid[L_MEMCAPD], (int) info->srv_pid[L_ECHO],
               (int) info->srv_pid[L_EPOLL]);
        if (info->redis)
                printf(", redis-server %s (pid %d, 127.0.0.1:%u and a Unix socket, no "
                       "persistence)",
                       info->redis_version, (int) info->srv_pid[L_REDIS], info->redis_port);
        printf("\n");
        for (size_t i = 0; i < info->n_lat_pl; i++) {
                const placement *pl = &info->lat_pl[i];

                if (pl->cpu_client < 0)
                        printf("  latency, %-9s: client and every server thread free to run on "
                               "any CPU; see the CPUs below\n",
                               pl->name);
                else if (pl->cpu_client == pl->cpu_server)
                        printf("  latency, %-9s: client and every server thread pinned to CPU "
                               "%d\n",
                               pl->name, pl->cpu_client);
                else
                        printf("  latency, %-9s: client pinned to CPU %d, every server thread "
                               "to CPU %d\n",
                               pl->name, pl->cpu_client, pl->cpu_server);
        }
        for (size_t i = 0; i < info->n_tp_pl; i++) {
                const placement *pl = &info->tp_pl[i];

                if (pl->cpu_client < 0)
                        printf("  throughput, %-9s: servers, this load generator and "
                               "redis-benchmark free to run on any CPU: with %ld CPUs the "
                               "server and its load generator compete for them\n",
                               pl->name, sysconf(_SC_NPROCESSORS_ONLN));
                else
                        printf("  throughput, %-9s: load generators (this process, "
                               "redis-benchmark) pinned to CPU %d, servers to CPU %d\n",
                               pl->name, pl->cpu_client, pl->cpu_server);
        }
        printf("  MmapFd scan: this process alone, unpinned; memcapd answers one MmapFd per "
               "scan, on the same connection; the file is %" PRIu64 " MiB, %.1f%% of it "
               "in the page cache; the ratio in CPU time instead of elapsed time: %.3f\n",
               info->big_bytes / MIB, info->big_resident_pct, info->scan_cpu_ratio);
        printf("  requests: memcapd MmapRead %zu bytes -> reply %zu bytes; echo %d -> %d bytes; "
               "Redis GET %zu -> %d bytes\n",
               info->mcd_req_len, info->mcd_reply_len, ECHO_REQ, ECHO_REPLY, strlen(redis_get),
               READ_BYTES + 9);
}

static void print_machine(const run_info *info) {
        const bench_machine *a = &info->machine_start, *b = &info->machine_end;
        double steal = bench_machine_pct(a, b, true), idle = bench_machine_pct(a, b, false);

        printf("machine during the run: load average %.2f -> %.2f; %.1f%% of CPU time stolen "
               "by the hypervisor, %.1f%% idle\n",
               a->load1, b->load1, steal, idle);
        if (steal > 5.0 || a->load1 > 1.5 || b->load1 > 1.5)
                bench_note(
                        "the machine was busy (load %.2f -> %.2f, steal %.1f%%): expect noise; the "
                        "ratios, taken within interleaved rounds, hold up better than the absolute "
                        "numbers",
                        a->load1, b->load1, steal);
}

static void json_side(FILE *f, const result *res, const side *s) {
        fputs("{\"value\":", f);
        bench_json_number(f, s->v);
        if (res->unit == UNIT_LATENCY) {
                fputs(",\"p99\":", f);
                bench_json_number(f, s->p99);
        } else {
                fputs(res->unit == UNIT_RATE   ? ",\"p50_latency_ns\":"
                      : res->unit == UNIT_GBPS ? ",\"ns_per_scan\":"
                                               : ",\"rss_bytes\":",
                      f);
                bench_json_number(f, s->aux);
        }
        fputs(",\"rounds\":[", f);
        for (unsigned k = 0; k < s->n; k++) {
                if (k)
                        fputc(',', f);
                bench_json_number(f, s->rounds[k]);
        }
        fputs("]}", f);
}

static int write_json(FILE *f, const char *path, const run_info *info) {
        static const char *const units[] = {
                [UNIT_LATENCY] = "ns per round trip",
                [UNIT_RATE] = "requests per second",
                [UNIT_GBPS] = "GB/s",
                [UNIT_BYTES] = "bytes per item (PSS; rss_bytes: RSS)",
        };

        fputs("{\"benchmark\":\"bench-daemon\",\"libmemcap\":", f);
        bench_json_string(f, mc_version());
        fputs(",\"kernel\":", f);
        bench_json_string(f, info->kernel);
        fprintf(f,
                ",\"quick\":%s,\"rounds\":%u,\"throughput_rounds\":%u,\"duration_s\":%g,"
                "\"clients\":%u,\"cpus_online\":%ld,",
                info->opts->quick ? "true" : "false", info->opts->rounds, info->opts->tp_rounds,
                info->opts->duration, info->opts->clients, sysconf(_SC_NPROCESSORS_ONLN));
        fputs("\"redis\":", f);
        if (info->redis)
                bench_json_string(f, info->redis_version);
        else
                fputs("null", f);
        fputs(",\"machine\":{\"load_start\":", f);
        bench_json_number(f, info->machine_start.load1);
        fputs(",\"load_end\":", f);
        bench_json_number(f, info->machine_end.load1);
        fputs(",\"steal_pct\":", f);
        bench_json_number(f, bench_machine_pct(&info->machine_start, &info->machine_end, true));
        fputs(",\"idle_pct\":", f);
        bench_json_number(f, bench_machine_pct(&info->machine_start, &info->machine_end, false));
        fputs("},\"placements\":[", f);
        for (size_t i = 0; i < info->n_lat_pl; i++) {
                const placement *pl = &info->lat_pl[i];

                fprintf(f, "%s{\"key\":\"%s\",\"client_cpu\":%d,\"server_cpu\":%d}", i ? "," : "",
                        pl->key, pl->cpu_client, pl->cpu_server);
        }
        fputs("],\"results\":[", f);
        for (size_t i = 0; i < n_results; i++) {
                const result *res = &results[i];

                fputs(i ? ",{\"name\":" : "{\"name\":", f);
                bench_json_string(f, res->name);
                fputs(",\"key\":", f);
                bench_json_string(f, res->key);
                fputs(",\"placement\":", f);
                bench_json_string(f, res->placement);
                fputs(",\"unit\":", f);
                bench_json_string(f, units[res->unit]);
                fputs(",\"memcapd\":", f);
                json_side(f, res, &res->mc);
                fputs(",\"baseline_name\":", f);
                bench_json_string(f, res->base_name);
                fputs(",\"baseline\":", f);
                if (res->has_base)
                        json_side(f, res, &res->base);
                else
                        fputs("null", f);
                fputs(",\"ratio\":", f);
                bench_json_number(f, res->ratio);
                fputs(",\"ratio_min\":", f);
                bench_json_number(f, res->ratio_min);
                fputs(",\"ratio_max\":", f);
                bench_json_number(f, res->ratio_max);
                fputs(",\"target\":", f);
                if (res->goal == GOAL_NONE)
                        fputs("null", f);
                else
                        fprintf(f, "{\"op\":\"%s\",\"value\":%g}",
                                res->goal == GOAL_AT_MOST ? "<=" : ">=", res->target);
                fputs(",\"verdict\":", f);
                bench_json_string(f, verdict(res));
                if (res->extra[0]) {
                        fputs(",\"details\":", f);
                        bench_json_string(f, res->extra);
                }
                fputc('}', f);
        }
        fputs("],\"costs\":[", f);
        for (size_t i = 0; i < n_costs; i++) {
                const cost *c = &costs[i];

                fputs(i ? ",{\"what\":" : "{\"what\":", f);
                bench_json_string(f, c->what);
                fputs(",\"placement\":", f);
                bench_json_string(f, c->placement);
                fputs(",\"server_cpu_ns\":", f);
                bench_json_number(f, c->srv_cpu_ns);
                fputs(",\"server_wakeups\":", f);
                bench_json_number(f, c->srv_nvcsw);
                fputs(",\"server_preemptions\":", f);
                bench_json_number(f, c->srv_nivcsw);
                fputs(",\"client_cpu_ns\":", f);
                bench_json_number(f, c->cli_cpu_ns);
                fprintf(f, ",\"server_cpus\":%" PRIu64 ",\"client_cpus\":%" PRIu64 "}", c->srv_cpus,
                        c->cli_cpus);
        }
        fputs("],\"scan_cpu_ratio\":", f);
        bench_json_number(f, info->scan_cpu_ratio);
        fputs(",\"breakdown_ns\":", f);
        if (info->codec.done) {
                fputs("{\"parse\":", f);
                bench_json_number(f, info->codec.parse_ns);
                fputs(",\"jansson_loadb\":", f);
                bench_json_number(f, info->codec.jansson_ns);
                fputs(",\"encode_base64_4k\":", f);
                bench_json_number(f, info->codec.encode_ns);
                fputs(",\"manager_read_4k\":", f);
                bench_json_number(f, info->codec.read_ns);
                fputc('}', f);
        } else
                fputs("null", f);
        fputs(",\"notes\":", f);
        bench_json_notes(f);
        fputs("}\n", f);
        if (fflush(f) != 0 || ferror(f))
                return bench_fail_errno(errno ? errno : EIO, path);
        return 0;
}

/* ---- main ---- */

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-daemon [options]\n"
                "\n"
                "memcapd against a Unix-socket echo server and Redis: latency of one client,\n"
                "throughput of 50, MmapFd scans, the daemon's memory. Starts every server itself.\n"
                "\n"
                "  --quick          a smoke run: 3 short rounds, a 64 MiB scan file\n"
                "  --rounds N       latency and scan rounds (default 11)\n"
                "  --tp-rounds N    throughput rounds (default 5)\n"
                "  --duration S     seconds per throughput run (default 5)\n"
                "  --clients N      connections of the throughput runs (default 50)\n"
                "  --memcapd PATH   the daemon (default: ../src/daemon/memcapd from this program)\n"
                "  --dir DIR        where the temporary root goes (default /var/tmp, else /tmp)\n"
                "  --no-redis       skip Redis even when it is installed\n"
                "  --json FILE      also write the results as JSON\n"
                "  -h, --help       this text\n");
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

static int parse_options(int argc, char **argv, options *opts) {
        enum {
                O_ROUNDS = 256,
                O_TP_ROUNDS,
                O_DURATION,
                O_CLIENTS,
                O_MEMCAPD,
                O_DIR,
                O_NO_REDIS,
                O_JSON,
                O_QUICK
        };
        static const struct option lopts[] = {
                {"quick", no_argument, NULL, O_QUICK},
                {"rounds", required_argument, NULL, O_ROUNDS},
                {"tp-rounds", required_argument, NULL, O_TP_ROUNDS},
                {"duration", required_argument, NULL, O_DURATION},
                {"clients", required_argument, NULL, O_CLIENTS},
                {"memcapd", required_argument, NULL, O_MEMCAPD},
                {"dir", required_argument, NULL, O_DIR},
                {"no-redis", no_argument, NULL, O_NO_REDIS},
                {"json", required_argument, NULL, O_JSON},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        bool rounds_set = false, tp_set = false, dur_set = false;
        int c;

        *opts = (options){.rounds = 11, .tp_rounds = 5, .duration = 5.0, .clients = 50};
        while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
                char *end;

                switch (c) {
                case O_QUICK:
                        opts->quick = true;
                        break;
                case O_ROUNDS:
                        if (parse_uint(optarg, 1, MAX_ROUNDS, &opts->rounds) < 0)
                                goto bad;
                        rounds_set = true;
                        break;
                case O_TP_ROUNDS:
                        if (parse_uint(optarg, 1, MAX_ROUNDS, &opts->tp_rounds) < 0)
                                goto bad;
                        tp_set = true;
                        break;
                case O_DURATION:
                        errno = 0;
                        opts->duration = strtod(optarg, &end);
                        if (errno || end == optarg || *end || !(opts->duration >= 0.1) ||
                            opts->duration > 600)
                                goto bad;
                        dur_set = true;
                        break;
                case O_CLIENTS:
                        if (parse_uint(optarg, 1, 1000, &opts->clients) < 0)
                                goto bad;
                        break;
                case O_MEMCAPD:
                        opts->memcapd = optarg;
                        break;
                case O_DIR:
                        opts->dir = optarg;
                        break;
                case O_NO_REDIS:
                        opts->no_redis = true;
                        break;
                case O_JSON:
                        opts->json = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "bench-daemon: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (opts->quick) {
                if (!rounds_set)
                        opts->rounds = 3;
                if (!tp_set)
                        opts->tp_rounds = 3;
                if (!dur_set)
                        opts->duration = 0.5;
        }
        return 0;
bad:
        for (size_t i = 0; lopts[i].name; i++)
                if (lopts[i].val == c)
                        fprintf(stderr, "bench-daemon: bad value '%s' for --%s\n", optarg,
                                lopts[i].name);
        return -EINVAL;
}

/* The placements: one CPU, two CPUs (when allowed two), unpinned. */
static int plan_placements(run_info *info) {
        if (sched_getaffinity(0, sizeof(info->all_cpus), &info->all_cpus) < 0)
                return bench_fail_errno(errno, "sched_getaffinity");
        info->cpu_first = info->cpu_second = -1;
        for (int c = 0; c < CPU_SETSIZE && c < 64; c++)
                if (CPU_ISSET(c, &info->all_cpus)) {
                        if (info->cpu_first < 0)
                                info->cpu_first = c;
                        else if (info->cpu_second < 0)
                                info->cpu_second = c;
                }
        if (info->cpu_first < 0)
                return bench_fail(-EINVAL, "no usable CPU below 64");
        info->lat_pl[info->n_lat_pl++] =
                (placement){"same CPU", "same_cpu", info->cpu_first, info->cpu_first};
        if (info->cpu_second >= 0)
                info->lat_pl[info->n_lat_pl++] =
                        (placement){"two CPUs", "two_cpus", info->cpu_first, info->cpu_second};
        else
                bench_note(
                        "this process may use one CPU only: the two-CPU placements were skipped");
        info->lat_pl[info->n_lat_pl++] = (placement){"unpinned", "unpinned", -1, -1};
        info->tp_pl[info->n_tp_pl++] = (placement){"unpinned", "unpinned", -1, -1};
        if (info->cpu_second >= 0 && !info->opts->quick)
                info->tp_pl[info->n_tp_pl++] =
                        (placement){"two CPUs", "two_cpus", info->cpu_first, info->cpu_second};
        return 0;
}

static int find_memcapd(run_info *info) {
        char self[PATH_MAX];
        ssize_t n;

        if (info->opts->memcapd) {
                if (strlen(info->opts->memcapd) >= sizeof(info->memcapd))
                        return bench_fail(-ENAMETOOLONG, "--memcapd: path too long");
                memcpy(info->memcapd, info->opts->memcapd, strlen(info->opts->memcapd) + 1);
        } else {
                char *slash;

                n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n < 0)
                        return bench_fail_errno(errno, "/proc/self/exe");
                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash)
                        *slash = '\0';
                if (snprintf(info->memcapd, sizeof(info->memcapd), "%s/../src/daemon/memcapd",
                             self) >= (int) sizeof(info->memcapd))
                        return bench_fail(-ENAMETOOLONG, "path of memcapd too long");
        }
        if (access(info->memcapd, X_OK) < 0)
                return bench_fail(-ENOENT, "memcapd not found at %s (use --memcapd PATH)",
                                  info->memcapd);
        return 0;
}

static int write_config(void) {
        /* The benchmark is one client process holding the 1 MiB file, the scan file and 1000
         * small mappings, on top of 1000 connections: lift the per-client quotas. */
        char text[256];
        int fd, r, n;

        n = snprintf(text, sizeof(text),
                     "{\"max_mappings_per_client\": 8192, \"max_bytes_per_client\": %" PRIu64
                     ", \"max_connections\": 4096, \"max_connections_per_uid\": 4096}\n",
                     (uint64_t) 64 * GIB);
        fd = open(paths[P_CONFIG], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return bench_fail_errno(errno, paths[P_CONFIG]);
        r = bench_write_all(fd, text, (size_t) n);
        close(fd);
        return r < 0 ? bench_fail_errno(-r, paths[P_CONFIG]) : 0;
}

static int data_create(run_info *info) {
        unsigned char small[SMALL_BYTES];
        int fd, r;

        info->data = malloc(DATA_BYTES);
        if (!info->data)
                return bench_fail(-ENOMEM, "out of memory");
        for (size_t i = 0; i < DATA_BYTES; i += 8) {
                uint64_t v = rng();

                memcpy(info->data + i, &v, 8);
        }
        fd = open(paths[P_DATA], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return bench_fail_errno(errno, paths[P_DATA]);
        r = bench_write_all(fd, info->data, DATA_BYTES);
        close(fd);
        if (r < 0)
                return bench_fail_errno(-r, paths[P_DATA]);
        memset(small, 's', sizeof(small));
        fd = open(paths[P_SMALL], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return bench_fail_errno(errno, paths[P_SMALL]);
        r = bench_write_all(fd, small, sizeof(small));
        close(fd);
        return r < 0 ? bench_fail_errno(-r, paths[P_SMALL]) : 0;
}

static int start_memcapd(run_info *info) {
        server *s = &info->srv[L_MEMCAPD];
        char *argv[] = {info->memcapd,      (char *) "-s", paths[P_SOCK],   (char *) "-r",
                        paths[P_ROOT],      (char *) "-c", paths[P_CONFIG], (char *) "-l",
                        (char *) "warning", NULL};
        char reply[512];
        int r;

        *s = (server){"memcapd", 0, paths[P_LOG]};
        r = spawn(argv, paths[P_LOG], -1, NULL, &s->pid);
        if (r < 0)
                return r;
        r = wait_ready(s, probe_unix, paths[P_SOCK]);
        if (r < 0)
                return r;
        r = unix_connect(paths[P_SOCK], &info->ctl_fd);
        if (r < 0)
                return bench_fail_errno(-r, "connecting to memcapd");
        set_timeout(info->ctl_fd);
        r = daemon_call(info->ctl_fd, "{\"Hello\":{}}\n", reply, sizeof(reply), NULL);
        if (r < 0)
                return r;
        if (!strstr(reply, "\"FdPass\"") || !strstr(reply, "\"FileRead\""))
                return bench_fail(-EPERM,
                                  "memcapd does not grant this uid FileRead and FdPass: %.200s",
                                  reply);
        return daemon_mmap(info->ctl_fd, "/data.bin", &info->mmap_id);
}

static int start_redis(run_info *info) {
        server *s = &info->srv[L_REDIS];
        char port[16], out[256];
        char *argv[32];
        FILE *p;
        int a = 0, r;

        if (info->opts->no_redis) {
                bench_note("--no-redis: the Redis baselines were skipped");
                return 0;
        }
        if (!find_in_path("redis-server", info->redis_server, sizeof(info->redis_server)) ||
            !find_in_path("redis-benchmark", info->redis_benchmark,
                          sizeof(info->redis_benchmark))) {
                bench_note("redis is missing (redis-server/redis-benchmark not in PATH; "
                           "tools/install-deps.sh redis installs it): only memcapd's figures are "
                           "given "
                           "for the Redis rows");
                return 0;
        }
        p = popen("redis-server --version 2>/dev/null", "re");
        if (p) {
                const char *v;

                if (fgets(out, sizeof(out), p) && (v = strstr(out, "v=")))
                        snprintf(info->redis_version, sizeof(info->redis_version), "%.*s",
                                 (int) strcspn(v + 2, " \n"), v + 2);
                pclose(p);
        }
        r = free_port(&info->redis_port);
        if (r < 0)
                return bench_fail_errno(-r, "finding a free port");
        snprintf(port, sizeof(port), "%u", info->redis_port);
        argv[a++] = info->redis_server;
        argv[a++] = (char *) "--bind";
        argv[a++] = (char *) "127.0.0.1";
        argv[a++] = (char *) "--port";
        argv[a++] = port;
        argv[a++] = (char *) "--protected-mode";
        argv[a++] = (char *) "yes";
        argv[a++] = (char *) "--save";
        argv[a++] = (char *) "";
        argv[a++] = (char *) "--appendonly";
        argv[a++] = (char *) "no";
        argv[a++] = (char *) "--unixsocket";
        argv[a++] = paths[P_REDIS_SOCK];
        argv[a++] = (char *) "--unixsocketperm";
        argv[a++] = (char *) "700";
        argv[a++] = (char *) "--dir";
        argv[a++] = paths[P_DIR];
        argv[a++] = (char *) "--daemonize";
        argv[a++] = (char *) "no";
        argv[a++] = (char *) "--logfile";
        argv[a++] = (char *) "";
        argv[a] = NULL;
        *s = (server){"redis-server", 0, paths[P_REDIS_LOG]};
        r = spawn(argv, paths[P_REDIS_LOG], -1, NULL, &s->pid);
        if (r < 0)
                return r;
        r = wait_ready(s, probe_tcp, &info->redis_port);
        if (r >= 0)
                r = wait_ready(s, probe_unix, paths[P_REDIS_SOCK]);
        if (r < 0)
                return r;
        r = redis_set(info->redis_port, info->data);
        if (r < 0)
                return r;
        info->redis = true;
        return 0;
}

int main(int argc, char **argv) {
        run_info info = {.cpus = BENCH_CPUS_INIT, .ctl_fd = -1, .scan_cpu_ratio = NAN};
        peer peers[N_LAT];
        FILE *json = NULL;
        struct utsname un;
        struct sigaction sa = {.sa_handler = on_interrupt};
        struct rlimit rl;
        options opts;
        uint64_t min_ns, min_ops;
        int r;

        memset(peers, 0, sizeof(peers));
        for (int v = 0; v < N_LAT; v++)
                peers[v].fd = -1;
        if (parse_options(argc, argv, &opts) < 0)
                return 2;
        info.opts = &opts;
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (uname(&un) == 0)
                snprintf(info.kernel, sizeof(info.kernel), "%s %s %s", un.sysname, un.release,
                         un.machine);
        memset(echo_reply, 'e', sizeof(echo_reply));
        echo_reply[sizeof(echo_reply) - 1] = '\n';
        signal(SIGPIPE, SIG_IGN);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        /* 1000 idle connections here, and as many descriptors in the daemon, which inherits
         * this limit. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        /* A latency round of the echo lasts >= 150 ms and holds >= 300 round trips. */
        min_ns = opts.quick ? 10 * UINT64_C(1000000) : 150 * UINT64_C(1000000);
        min_ops = opts.quick ? 50 : 300;

        printf("bench-daemon: libmemcap %s, %s\n", mc_version(), info.kernel);
        printf("latency: %u rounds interleaved between the servers, rounds >= %" PRIu64
               " ms; throughput: %u rounds of %.1f s per side, %u clients%s\n",
               opts.rounds, min_ns / 1000000, opts.tp_rounds, opts.duration, opts.clients,
               opts.quick ? " (--quick: a smoke run, not a measurement)" : "");
#if !defined(__OPTIMIZE__)
        bench_note("this benchmark was built without optimisation; build with --buildtype=release");
#endif
        if (opts.rounds < 7 && !opts.quick)
                bench_note("fewer than 7 rounds: medians are not trustworthy on a noisy machine");

        r = find_memcapd(&info);
        if (r >= 0)
                r = plan_placements(&info);
        if (r >= 0)
                r = dir_plan(&opts, &info.big_bytes);
        if (r < 0)
                goto out;
        if (opts.json) {
                json = fopen(opts.json, "we");
                if (!json) {
                        r = bench_fail_errno(errno, opts.json);
                        goto out;
                }
        }
        r = dir_make();
        if (r >= 0)
                r = write_config();
        if (r >= 0)
                r = data_create(&info);
        if (r < 0)
                goto out;
        printf("files in %s; memcapd: %s\n", paths[P_DIR], info.memcapd);

        /* The echo servers first: their children must not inherit any other connection. */
        info.srv[L_ECHO] = (server){"echo", 0, paths[P_ECHO_LOG]};
        info.srv[L_EPOLL] = (server){"epoll echo", 0, paths[P_ECHO_LOG]};
        r = echo_start(&info.srv[L_ECHO], paths[P_ECHO_SOCK], false);
        if (r >= 0)
                r = echo_start(&info.srv[L_EPOLL], paths[P_EPOLL_SOCK], true);
        if (r >= 0)
                r = start_memcapd(&info);
        if (r >= 0)
                r = start_redis(&info);
        if (r >= 0)
                r = peers_setup(&info, peers);
        if (r < 0)
                goto out;

        bench_machine_snap(&info.machine_start);
        for (size_t i = 0; i < info.n_lat_pl; i++) {
                printf("[latency, %s] echo, memcapd, epoll echo%s...\n", info.lat_pl[i].name,
                       info.redis ? ", redis" : "");
                r = bench_latency(&info, &info.lat_pl[i], peers, min_ns, min_ops);
                if (r < 0)
                        goto out;
        }
        printf("[breakdown] memcapd's codec and manager in this process...\n");
        r = bench_codec(&info, peers[L_MEMCAPD].req[1]);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < info.n_tp_pl; i++) {
                printf("[throughput, %s] %u clients: memcapd%s, %u rounds of %.1f s...\n",
                       info.tp_pl[i].name, opts.clients,
                       info.redis ? ", redis-benchmark over TCP and over a Unix socket" : "",
                       opts.tp_rounds, opts.duration);
                r = bench_throughput(&info, &info.tp_pl[i], &peers[L_MEMCAPD]);
                if (r < 0)
                        goto out;
        }
        printf("[MmapFd] creating the %" PRIu64 " MiB scan file...\n", info.big_bytes / MIB);
        r = big_create(&info);
        if (r >= 0)
                r = daemon_mmap(info.ctl_fd, "/big.bin", &info.big_id);
        if (r < 0)
                goto out;
        printf("[MmapFd] %u rounds...\n", opts.rounds);
        r = bench_scan(&info);
        if (r < 0)
                goto out;
        printf("[memory] a fresh memcapd, %d connections, %d mappings...\n", N_IDLE, N_IDLE);
        r = bench_memory(&info);
        if (r < 0)
                goto out;
        bench_machine_snap(&info.machine_end);

out:
        if (info.machine_end.cpu_total == 0)
                bench_machine_snap(&info.machine_end);
        if (info.ctl_fd >= 0)
                close(info.ctl_fd);
        for (int v = 0; v < N_LAT; v++) {
                peer_free(&peers[v]);
                peers[v].fd = -1;
        }
        /* memcapd last among the servers is stopped the way an operator would. */
        for (int v = 0; v < N_LAT; v++) {
                int status;

                info.srv_pid[v] = info.srv[v].pid;
                status = server_stop(&info.srv[v], NULL);

                if (v == L_MEMCAPD && status != -1 && r >= 0 &&
                    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                        bench_note("memcapd did not exit 0 on SIGTERM (status 0x%x)", status);
        }
        if (r < 0 && (info.srv[L_MEMCAPD].log || info.mem_srv.log)) {
                char tail[320];

                log_tail(paths[P_LOG], tail, sizeof(tail));
                if (tail[0])
                        bench_note("memcapd's log ends with: %s", tail);
        }
        remove_dir();
        free(info.data);

        if (n_results > 0) {
                print_table();
                print_costs();
                print_codec(&info);
                print_memory(&info);
                print_where(&info);
                print_machine(&info);
                printf("ratios: latency = memcapd p50 / echo p50 (median of the per-round "
                       "ratios; lower is better); throughput and GB/s = memcapd / baseline "
                       "(higher is better)\n");
        }
        if (bench_n_notes > 0) {
                printf("\nnotes:\n");
                for (size_t i = 0; i < bench_n_notes; i++)
                        printf("  - %s\n", bench_notes[i]);
        }
        if (json) {
                int w = write_json(json, opts.json, &info);

                if (fclose(json) != 0 && w >= 0)
                        w = bench_fail_errno(errno, opts.json);
                if (w < 0 && r >= 0)
                        r = w;
        }
        if (r < 0) {
                fprintf(stderr, "bench-daemon: %s\n",
                        bench_failure[0] ? bench_failure : strerror(-r));
                return 1;
        }
        return 0;
}
