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

#include "bench-daemon.h"

/* ---- main ---- */

void usage(FILE *f) {
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

enum {
        O_TP_ROUNDS = 256,
        O_DURATION,
        O_CLIENTS,
        O_MEMCAPD,
        O_DIR,
        O_NO_REDIS,
};

static const struct option own_options[] = {
        {"tp-rounds", required_argument, NULL, O_TP_ROUNDS},
        {"duration", required_argument, NULL, O_DURATION},
        {"clients", required_argument, NULL, O_CLIENTS},
        {"memcapd", required_argument, NULL, O_MEMCAPD},
        {"dir", required_argument, NULL, O_DIR},
        {"no-redis", no_argument, NULL, O_NO_REDIS},
        {0},
};

static int take_option(int c, const char *arg, void *userdata) {
        options *opts = userdata;
        char *end;

        switch (c) {
        case O_TP_ROUNDS:
                if (bench_parse_uint(arg, 1, MAX_ROUNDS, &opts->tp_rounds) < 0)
                        goto bad;
                opts->tp_rounds_set = true;
                return 0;
        case O_DURATION:
                errno = 0;
                opts->duration = strtod(arg, &end);
                if (errno || end == arg || *end || !(opts->duration >= 0.1) || opts->duration > 600)
                        goto bad;
                opts->duration_set = true;
                return 0;
        case O_CLIENTS:
                if (bench_parse_uint(arg, 1, 1000, &opts->clients) < 0)
                        goto bad;
                return 0;
        case O_MEMCAPD:
                opts->memcapd = arg;
                return 0;
        case O_DIR:
                opts->dir = arg;
                return 0;
        case O_NO_REDIS:
                opts->no_redis = true;
                return 0;
        }
bad:
        for (size_t i = 0; own_options[i].name; i++)
                if (own_options[i].val == c)
                        fprintf(stderr, "bench-daemon: bad value '%s' for --%s\n", arg,
                                own_options[i].name);
        return -EINVAL;
}

int parse_options(int argc, char **argv, options *opts) {
        const bench_cli cli = {.prog = "bench-daemon",
                               .usage = usage,
                               .max_rounds = MAX_ROUNDS,
                               .own = own_options,
                               .take = take_option,
                               .userdata = opts};
        int r;

        *opts = (options){.rounds = 11, .tp_rounds = 5, .duration = 5.0, .clients = 50};
        r = bench_parse_options(argc, argv, &cli, &opts->quick, &opts->json, &opts->rounds);
        if (opts->quick) {
                if (!opts->tp_rounds_set)
                        opts->tp_rounds = BENCH_QUICK_ROUNDS;
                if (!opts->duration_set)
                        opts->duration = 0.5;
        }
        return r;
}

/* The placements: one CPU, two CPUs (when allowed two), unpinned. */
int plan_placements(run_info *info) {
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

int find_memcapd(run_info *info) {
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

int write_config(void) {
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

int data_create(run_info *info) {
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

int start_memcapd(run_info *info) {
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

int start_redis(run_info *info) {
        server *s = &info->srv[L_REDIS];
        char port[16], out[256];
        /* Loopback and a private Unix socket only, no persistence, in the temporary directory. */
        char *argv[] = {info->redis_server,
                        (char *) "--bind",
                        (char *) "127.0.0.1",
                        (char *) "--port",
                        port,
                        (char *) "--protected-mode",
                        (char *) "yes",
                        (char *) "--save",
                        (char *) "",
                        (char *) "--appendonly",
                        (char *) "no",
                        (char *) "--unixsocket",
                        paths[P_REDIS_SOCK],
                        (char *) "--unixsocketperm",
                        (char *) "700",
                        (char *) "--dir",
                        paths[P_DIR],
                        (char *) "--daemonize",
                        (char *) "no",
                        (char *) "--logfile",
                        (char *) "",
                        NULL};
        FILE *p;
        int r;

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
        bench_kernel(info.kernel, sizeof(info.kernel));
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
        bench_note_trust(opts.rounds, opts.quick);

        r = find_memcapd(&info);
        if (r >= 0)
                r = plan_placements(&info);
        if (r >= 0)
                r = dir_plan(&opts, &info.big_bytes);
        if (r < 0)
                goto out;
        r = bench_json_open(opts.json, &json);
        if (r < 0)
                goto out;
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
        return bench_exit_code("bench-daemon", r);
}
