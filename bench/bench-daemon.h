/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * bench-daemon's shared declarations: its constants, types, the run's state and the functions
 * its files call across (bench-daemon.c has the overview; each function's comment is at its
 * definition). Files: bench-daemon-setup.c (results, the temporary directory, child processes,
 * the echo servers, memcapd and redis clients), -latency.c, -throughput.c, -scan.c (MmapFd scan
 * and the daemon's work per request), -memory.c, -output.c, and bench-daemon.c (main).
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

#include "bench-util-options.h"
#include "bench-util-report.h"
#include "bench-util-scan.h"
#include "bench-util.h"
#include "core.h"     /* tests/support: what the test suites use too */
#include "protocol.h" /* memcapd's codec, timed in this process (the breakdown section) */

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))

#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define KIB UINT64_C(1024)

#define MIB (1024 * KIB)

#define GIB (1024 * MIB)

#define NS UINT64_C(1000000000)

#define MAX_ROUNDS 200

#define SLICES 10 /* latency rounds alternate the servers in 10 slices */

#define MAX_RESULTS 32

#define MAX_COSTS 32

#define DATA_BYTES MIB /* the file MmapRead reads */

#define READ_BYTES 4096 /* per MmapRead */

#define N_OFFSETS 256 /* requests cycle through these 4 KiB pages of the file */

#define ECHO_REQ 100 /* bytes of an echo request, newline included */

#define ECHO_REPLY 4096 /* bytes of an echo reply, newline included */

#define SMALL_BYTES 4096 /* the file of the memory benchmark's mappings */

#define N_IDLE 1000 /* connections and mappings of the memory benchmark */

#define REDIS_KEY "key:__rand_int__" /* what redis-benchmark -t get reads */

#define CLIENT_BUF (256 * 1024) /* a client's reply buffer */

#define IO_TIMEOUT 10 /* seconds before a silent server counts as stuck */

typedef struct options {
        bool quick;
        bool no_redis;
        bool tp_rounds_set, duration_set; /* by their options: --quick leaves them */
        const char *json;
        const char *memcapd; /* NULL: next to this program in the build tree */
        const char *dir;     /* where the temporary root goes */
        unsigned rounds;     /* latency and scan rounds */
        unsigned tp_rounds;  /* throughput rounds */
        double duration;     /* seconds per throughput run */
        unsigned clients;
} options;

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
        P_LOCK, /* memcapd's lock beside its socket, which it leaves behind by design */
        P_MEM_LOCK,
        N_PATHS,
};

#define MAX_CHILDREN 8

typedef struct server {
        const char *name;
        pid_t pid;
        const char *log;
} server;

enum { L_ECHO, L_MEMCAPD, L_EPOLL, L_REDIS, N_LAT };

/*
 * What a server (all its threads) and its client (this thread) spent in the timed runs, summed
 * run by run: spent_begin() before a run, spent_end() after it.
 */

typedef struct spent {
        bench_proc before;
        uint64_t srv_run_ns, srv_nvcsw, srv_nivcsw, cli_cpu_ns, ops;
        uint64_t srv_cpus, cli_cpus; /* CPUs seen at the end of runs */
        unsigned runs, shared_runs;  /* runs that ended with both on one CPU */
} spent;

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
        spent spent;
} peer;

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

enum { T_MEMCAPD, T_REDIS_TCP, T_REDIS_UNIX, N_TP };

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
        spent spent;
} tside;

typedef struct scan_arg {
        run_info *info;
        uint64_t bytes;
} scan_arg;

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

extern result results[MAX_RESULTS];
extern size_t n_results;
extern cost costs[MAX_COSTS];
extern size_t n_costs;
extern char paths[N_PATHS][160];
extern volatile sig_atomic_t dir_made;
extern volatile pid_t children[MAX_CHILDREN];
extern uint64_t rng_state;
extern char echo_reply[ECHO_REPLY];
extern const char redis_get[];
extern const char *const lat_name[N_LAT];
extern const char *const tp_name[N_TP];

const char *verdict(const result *res);

result *add_result(const char *name, const char *key, const char *where, unit u);

void set_ratio(result *res, bool inverse);

void remove_dir(void);

void on_interrupt(int sig);

void child_add(pid_t pid);

void child_forget(pid_t pid);

int dir_plan(const options *opts, uint64_t *ret_big);

int dir_make(void);

uint64_t rng(void);

size_t bench_base64(char *out, const unsigned char *in, size_t n);

bool json_u64(const char *text, const char *key, uint64_t *ret);

int unix_connect(const char *path, int *ret_fd);

int tcp_connect(uint16_t port, int *ret_fd);

void set_timeout(int fd);

int listen_unix(const char *path, bool nonblock, int *ret_fd);

int free_port(uint16_t *ret);

bool find_in_path(const char *name, char *buf, size_t size);

pid_t fork_child(const cpu_set_t *cpus);

int spawn(char *const argv[], const char *log, int out_fd, const cpu_set_t *cpus, pid_t *ret_pid);

void log_tail(const char *log, char *buf, size_t size);

int wait_ready(server *s, int (*probe)(const void *), const void *arg);

int probe_unix(const void *arg);

int probe_tcp(const void *arg);

int server_stop(server *s, uint64_t *ret_ns);

_Noreturn void echo_blocking(int lfd);

_Noreturn void echo_epoll(int lfd);

int echo_start(server *s, const char *path, bool epoll);

int daemon_call(int fd, const char *req, char *reply, size_t size, int *ret_fd);

int daemon_mmap(int fd, const char *path, uint64_t *ret_id);

int redis_set(uint16_t port, const unsigned char *value);

int roundtrip(peer *p, size_t k, size_t *ret_have);

int peer_prepare(void *arg);

int run_latency(void *arg, uint64_t iters);

int peer_set_requests(peer *p, size_t n);

void peer_free(peer *p);

/* The CPUs of the client (this process) and the servers for @pl: all of them when unpinned. */
void placement_cpus(const run_info *info, const placement *pl, cpu_set_t *ret_client,
                    cpu_set_t *ret_server);

int place(run_info *info, const placement *pl);

int peers_setup(run_info *info, peer *peers);

int spent_begin(spent *s, pid_t srv);

int spent_end(spent *s, pid_t srv, uint64_t cli_ns, uint64_t ops);

void add_cost(const char *what, const placement *pl, const spent *s, bool throughput);

void fill_latency_side(side *s, const peer *p, unsigned rounds, uint64_t iters);

int bench_latency(run_info *info, const placement *pl, peer *peers, uint64_t min_ns,
                  uint64_t min_ops);

int lconns_open(tside *t, unsigned n);

void lconns_close(tside *t);

int lconn_send(tside *t, lconn *c);

int load_memcapd(tside *t, uint64_t dur_ns, bool full_check, double *ret_rate, double *ret_p50);

bool parse_redis_csv(const char *out, double *ret_rps, double *ret_p50_ms);

int load_redis(tside *t, uint64_t n_req, double *ret_rate, double *ret_p50, uint64_t *ret_cpu_ns);

pid_t tside_server(const tside *t);

int tside_prepare(void *arg);

int run_throughput(void *arg, uint64_t iters);

int place_tp(run_info *info, const placement *pl);

int bench_throughput(run_info *info, const placement *pl, peer *mcd);

int scan_check(const void *p, size_t n);

int scan_raw(void *arg, uint64_t iters);

int scan_mmapfd(void *arg, uint64_t iters);

int big_create(run_info *info);

int bench_scan(run_info *info);

int op_parse(void *arg, uint64_t iters);

int op_jansson(void *arg, uint64_t iters);

int op_encode(void *arg, uint64_t iters);

int op_read(void *arg, uint64_t iters);

int bench_codec(run_info *info, const char *line);

uint64_t count_lines(const char *path);

uint64_t count_fds(pid_t pid);

uint64_t kb_field(const char *buf, const char *name);

int mem_snap_of(pid_t pid, mem_snap *m);

int wait_fds(pid_t pid, uint64_t want, bool up);

void mem_result(const char *name, const char *key, const mem_snap *a, const mem_snap *b, double n);

int bench_memory(run_info *info);

void format_side(char *buf, size_t size, const result *res, const side *s);

void print_table(void);

void print_costs(void);

void print_memory(const run_info *info);

void print_codec(const run_info *info);

void print_where(const run_info *info);

void print_machine(const run_info *info);

void json_side(FILE *f, const result *res, const side *s);

int write_json(FILE *f, const char *path, const run_info *info);

void usage(FILE *f);

int parse_options(int argc, char **argv, options *opts);

int plan_placements(run_info *info);

int find_memcapd(run_info *info);

int write_config(void);

int data_create(run_info *info);

int start_memcapd(run_info *info);

int start_redis(run_info *info);
