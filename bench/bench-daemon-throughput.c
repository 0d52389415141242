/* SPDX-License-Identifier: MIT */
/* bench-daemon: throughput: 50 clients, memcapd with this program's load generator vs
 * redis-benchmark (see bench-daemon.c). */

#include "bench-daemon.h"

/* ---- throughput: 50 clients ---- */

const char *const tp_name[N_TP] = {"memcapd (own load generator, Unix socket)",
                                   "redis-benchmark GET (TCP 127.0.0.1)",
                                   "redis-benchmark GET (Unix socket)"};

int lconns_open(tside *t, unsigned n) {
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

void lconns_close(tside *t) {
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

int lconn_send(tside *t, lconn *c) {
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
int load_memcapd(tside *t, uint64_t dur_ns, bool full_check, double *ret_rate, double *ret_p50) {
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
bool parse_redis_csv(const char *out, double *ret_rps, double *ret_p50_ms) {
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

int load_redis(tside *t, uint64_t n_req, double *ret_rate, double *ret_p50, uint64_t *ret_cpu_ns) {
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

pid_t tside_server(const tside *t) {
        return t->info->srv[t->kind == T_MEMCAPD ? L_MEMCAPD : L_REDIS].pid;
}

int tside_prepare(void *arg) {
        tside *t = arg;

        if (t->recording && spent_begin(&t->spent, tside_server(t)) < 0)
                return bench_fail(-ESRCH, "a server is gone");
        return 0;
}

int run_throughput(void *arg, uint64_t iters) {
        tside *t = arg;
        uint64_t dur = (uint64_t) (t->info->opts->duration * 1e9), cli = 0, ops;
        double rate, p50;
        int r;

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
                ops = t->kind == T_MEMCAPD ? (uint64_t) (rate * (double) dur / 1e9) : t->redis_n;
                if (spent_end(&t->spent, tside_server(t), cli, ops) < 0)
                        return bench_fail(-ESRCH, "a server is gone");
        }
        return 0;
}

int place_tp(run_info *info, const placement *pl) {
        cpu_set_t c, s;
        int r;

        placement_cpus(info, pl, &c, &s);
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

int bench_throughput(run_info *info, const placement *pl, peer *mcd) {
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
                char what[96];

                snprintf(what, sizeof(what), "%u clients, %s", opts->clients, tp_name[idx[i]]);
                add_cost(what, pl, &ts[idx[i]].spent, true);
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
