/* SPDX-License-Identifier: MIT */
/* bench-daemon: latency: one client, round trips against memcapd, the echo servers and redis (see
 * bench-daemon.c). */

#include "bench-daemon.h"

/* ---- latency: one client ---- */

const char *const lat_name[N_LAT] = {"echo", "memcapd", "epoll echo", "redis"};

/* Write request @k, read until its reply is complete: the one client path for all servers. */
int roundtrip(peer *p, size_t k, size_t *ret_have) {
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

int peer_prepare(void *arg) {
        peer *p = arg;

        if (p->recording && spent_begin(&p->spent, p->srv->pid) < 0)
                return bench_fail(-ESRCH, "%s is gone", p->name);
        return 0;
}

int run_latency(void *arg, uint64_t iters) {
        peer *p = arg;
        uint64_t c0 = bench_thread_cpu_ns();
        int r;

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
        if (spent_end(&p->spent, p->srv->pid, bench_thread_cpu_ns() - c0, iters) < 0)
                return bench_fail(-ESRCH, "%s is gone", p->name);
        return 0;
}

int peer_set_requests(peer *p, size_t n) {
        p->req = calloc(n, sizeof(char *));
        p->exp = calloc(n, sizeof(char *));
        p->req_len = calloc(n, sizeof(size_t));
        p->exp_len = calloc(n, sizeof(size_t));
        if (!p->req || !p->exp || !p->req_len || !p->exp_len)
                return bench_fail(-ENOMEM, "out of memory");
        p->n_req = n; /* peer_free() walks the arrays only once they all exist */
        return 0;
}

void peer_free(peer *p) {
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

void placement_cpus(const run_info *info, const placement *pl, cpu_set_t *ret_client,
                    cpu_set_t *ret_server) {
        *ret_client = *ret_server = info->all_cpus;
        if (pl->cpu_client >= 0) {
                CPU_ZERO(ret_client);
                CPU_SET(pl->cpu_client, ret_client);
                CPU_ZERO(ret_server);
                CPU_SET(pl->cpu_server, ret_server);
        }
}

int place(run_info *info, const placement *pl) {
        cpu_set_t c, s;
        int r;

        placement_cpus(info, pl, &c, &s);
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

int peers_setup(run_info *info, peer *peers) {
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
                                n += bench_base64(p->exp[k] + n, info->data + k * READ_BYTES,
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

/* Snapshot the threads of the server @srv before a timed run: 0, or -errno when it is gone. */
int spent_begin(spent *s, pid_t srv) {
        return bench_proc_snap(srv, &s->before);
}

/*
 * Add a timed run that has just ended: the client's @cli_ns of CPU time for @ops requests, what
 * the threads of the server @srv did since spent_begin(), and where both ended. 0, or -errno when
 * the server is gone.
 */
int spent_end(spent *s, pid_t srv, uint64_t cli_ns, uint64_t ops) {
        int cpu = sched_getcpu();
        bench_proc after;
        bench_proc_delta d;
        int r;

        r = bench_proc_snap(srv, &after);
        if (r < 0)
                return r;
        bench_proc_diff(&s->before, &after, &d);
        s->ops += ops;
        s->srv_run_ns += d.run_ns;
        s->srv_nvcsw += d.nvcsw;
        s->srv_nivcsw += d.nivcsw;
        s->srv_cpus |= d.cpus;
        s->cli_cpu_ns += cli_ns;
        if (cpu >= 0 && cpu < 64) {
                s->cli_cpus |= UINT64_C(1) << cpu;
                if (d.cpus == (UINT64_C(1) << cpu))
                        s->shared_runs++;
        }
        s->runs++;
        return 0;
}

/*
 * A row of the costs table: @s per request. A throughput row leaves out how often the server
 * ended on the client's CPU: with many connections in flight that says nothing about a wakeup.
 */
void add_cost(const char *what, const placement *pl, const spent *s, bool throughput) {
        double ops = (double) s->ops;
        cost *c;

        if (n_costs >= MAX_COSTS)
                return;
        c = &costs[n_costs++];
        snprintf(c->what, sizeof(c->what), "%s", what);
        c->placement = pl->name;
        c->srv_cpu_ns = (double) s->srv_run_ns / ops;
        c->srv_nvcsw = (double) s->srv_nvcsw / ops;
        c->srv_nivcsw = (double) s->srv_nivcsw / ops;
        c->cli_cpu_ns = (double) s->cli_cpu_ns / ops;
        c->srv_cpus = s->srv_cpus;
        c->cli_cpus = s->cli_cpus;
        c->runs = s->runs;
        c->shared_runs = throughput ? 0 : s->shared_runs;
        c->throughput = throughput;
}

void fill_latency_side(side *s, const peer *p, unsigned rounds, uint64_t iters) {
        s->v = bench_median(p->samples, p->n_samples);
        s->p99 = bench_p99(p->samples, p->n_samples);
        s->n = rounds;
        for (unsigned k = 0; k < rounds; k++)
                s->rounds[k] = bench_median(&p->samples[(size_t) k * iters], iters);
}

/*
 * A latency row: the round trips of @mc against those of @base (named @base_name), each round's
 * median, and their ratio. NULL when the table is full.
 */
static result *add_latency_result(const char *name, const char *key, const placement *pl,
                                  const peer *mc, const char *base_name, const peer *base,
                                  unsigned rounds, uint64_t iters) {
        result *res = add_result(name, key, pl->key, UNIT_LATENCY);

        if (!res)
                return NULL;
        snprintf(res->base_name, sizeof(res->base_name), "%s", base_name);
        res->has_base = true;
        fill_latency_side(&res->mc, mc, rounds, iters);
        fill_latency_side(&res->base, base, rounds, iters);
        set_ratio(res, false);
        return res;
}

/*
 * Calibrate on the blocking echo (a round of it lasts >= @min_ns and holds >= @min_ops round
 * trips, so the p99 has samples), then interleave the servers round by round.
 */
int bench_latency(run_info *info, const placement *pl, peer *peers, uint64_t min_ns,
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
                p->spent = (spent){0};
                p->recording = true;
        }
        r = bench_interleave(cases, n_cases, rounds, iters, SLICES, &info->cpus, ns, NULL);
        for (size_t i = 0; i < n_cases; i++)
                peers[idx[i]].recording = false;
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_cases; i++) {
                const peer *p = &peers[idx[i]];
                char what[96];

                if (p->n_samples != (size_t) iters * rounds)
                        return bench_fail(-EIO, "%s: %zu round trips recorded, %" PRIu64 " planned",
                                          p->name, p->n_samples, iters * rounds);
                snprintf(what, sizeof(what), "1 client, %s", p->name);
                add_cost(what, pl, &p->spent, false);
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
                res = add_latency_result(name, keys[v], pl, &peers[v], "echo", &peers[L_ECHO],
                                         rounds, iters);
                if (!res)
                        return bench_fail(-ENOSPC, "too many results");
                if (v == L_MEMCAPD) {
                        res->goal = GOAL_AT_MOST;
                        res->target = 1.3;
                }
        }
        if (peers[L_REDIS].fd >= 0) {
                snprintf(name, sizeof(name), "  memcapd vs Redis GET (no target), %s", pl->name);
                res = add_latency_result(name, "latency_memcapd_vs_redis", pl, &peers[L_MEMCAPD],
                                         "Redis", &peers[L_REDIS], rounds, iters);
                if (!res)
                        return bench_fail(-ENOSPC, "too many results");
        }
        if (pl->cpu_client < 0) {
                char text[200];
                size_t o = 0;
                double lo = 100.0, hi = 0.0;

                for (int v = 0; v < N_LAT; v++) {
                        const peer *p = &peers[v];
                        double pct;

                        if (p->fd < 0 || p->spent.runs == 0)
                                continue;
                        pct = 100.0 * p->spent.shared_runs / p->spent.runs;
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
