/* SPDX-License-Identifier: MIT */
/* bench-daemon: output: the tables, the notes, and the JSON report (see bench-daemon.c). */

#include "bench-daemon.h"

/* ---- output ---- */

void format_side(char *buf, size_t size, const result *res, const side *s) {
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

void print_table(void) {
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

void print_costs(void) {
        printf("\nwhere the time went, per request (CPU time from /proc/<pid>/task/*/schedstat; "
               "wakeups = voluntary context switches of the server; CPUs = where the threads "
               "were at the end of each timed run; capacity = the rate if the server and its "
               "load generator had their CPUs to themselves: unpinned, all CPUs over the sum of "
               "their CPU per request; on two CPUs, one CPU over the larger):\n");
        for (size_t i = 0; i < n_costs; i++) {
                const cost *c = &costs[i];
                char sc[64], cc[64];

                bench_format_cpus(sc, sizeof(sc), c->srv_cpus);
                bench_format_cpus(cc, sizeof(cc), c->cli_cpus);
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

void print_memory(const run_info *info) {
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

void print_codec(const run_info *info) {
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

void print_where(const run_info *info) {
        char all[64];
        uint64_t mask = 0;

        for (int c = 0; c < 64; c++)
                if (CPU_ISSET(c, &info->all_cpus))
                        mask |= UINT64_C(1) << c;
        bench_format_cpus(all, sizeof(all), mask);
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

void print_machine(const run_info *info) {
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

void json_side(FILE *f, const result *res, const side *s) {
        fputs("{\"value\":", f);
        bench_json_number(f, s->v);
        if (res->unit == UNIT_LATENCY) {
                bench_json_field_number(f, "p99", s->p99);
        } else {
                fputs(res->unit == UNIT_RATE   ? ",\"p50_latency_ns\":"
                      : res->unit == UNIT_GBPS ? ",\"ns_per_scan\":"
                                               : ",\"rss_bytes\":",
                      f);
                bench_json_number(f, s->aux);
        }
        fputs(",\"rounds\":", f);
        bench_json_rounds(f, s->rounds, s->n);
        fputc('}', f);
}

static void json_result(FILE *f, const result *res) {
        static const char *const units[] = {
                [UNIT_LATENCY] = "ns per round trip",
                [UNIT_RATE] = "requests per second",
                [UNIT_GBPS] = "GB/s",
                [UNIT_BYTES] = "bytes per item (PSS; rss_bytes: RSS)",
        };

        fputs("{\"name\":", f);
        bench_json_string(f, res->name);
        bench_json_field_string(f, "key", res->key);
        bench_json_field_string(f, "placement", res->placement);
        bench_json_field_string(f, "unit", units[res->unit]);
        fputs(",\"memcapd\":", f);
        json_side(f, res, &res->mc);
        bench_json_field_string(f, "baseline_name", res->base_name);
        fputs(",\"baseline\":", f);
        if (res->has_base)
                json_side(f, res, &res->base);
        else
                fputs("null", f);
        bench_json_field_ratios(f, res->ratio, res->ratio_min, res->ratio_max);
        fputs(",\"target\":", f);
        if (res->goal == GOAL_NONE)
                fputs("null", f);
        else
                fprintf(f, "{\"op\":\"%s\",\"value\":%g}",
                        res->goal == GOAL_AT_MOST ? "<=" : ">=", res->target);
        bench_json_field_string(f, "verdict", verdict(res));
        if (res->extra[0])
                bench_json_field_string(f, "details", res->extra);
        fputc('}', f);
}

static void json_cost(FILE *f, const cost *c) {
        fputs("{\"what\":", f);
        bench_json_string(f, c->what);
        bench_json_field_string(f, "placement", c->placement);
        bench_json_field_number(f, "server_cpu_ns", c->srv_cpu_ns);
        bench_json_field_number(f, "server_wakeups", c->srv_nvcsw);
        bench_json_field_number(f, "server_preemptions", c->srv_nivcsw);
        bench_json_field_number(f, "client_cpu_ns", c->cli_cpu_ns);
        fprintf(f, ",\"server_cpus\":%" PRIu64 ",\"client_cpus\":%" PRIu64 "}", c->srv_cpus,
                c->cli_cpus);
}

int write_json(FILE *f, const char *path, const run_info *info) {
        fputs("{\"benchmark\":\"bench-daemon\",\"libmemcap\":", f);
        bench_json_string(f, mc_version());
        bench_json_field_string(f, "kernel", info->kernel);
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
        bench_json_field_number(f, "load_end", info->machine_end.load1);
        bench_json_field_number(f, "steal_pct",
                                bench_machine_pct(&info->machine_start, &info->machine_end, true));
        bench_json_field_number(f, "idle_pct",
                                bench_machine_pct(&info->machine_start, &info->machine_end, false));
        fputs("},\"placements\":[", f);
        for (size_t i = 0; i < info->n_lat_pl; i++) {
                const placement *pl = &info->lat_pl[i];

                fprintf(f, "%s{\"key\":\"%s\",\"client_cpu\":%d,\"server_cpu\":%d}", i ? "," : "",
                        pl->key, pl->cpu_client, pl->cpu_server);
        }
        fputs("],\"results\":[", f);
        for (size_t i = 0; i < n_results; i++) {
                if (i)
                        fputc(',', f);
                json_result(f, &results[i]);
        }
        fputs("],\"costs\":[", f);
        for (size_t i = 0; i < n_costs; i++) {
                if (i)
                        fputc(',', f);
                json_cost(f, &costs[i]);
        }
        fputs("],\"scan_cpu_ratio\":", f);
        bench_json_number(f, info->scan_cpu_ratio);
        fputs(",\"breakdown_ns\":", f);
        if (info->codec.done) {
                fputs("{\"parse\":", f);
                bench_json_number(f, info->codec.parse_ns);
                bench_json_field_number(f, "jansson_loadb", info->codec.jansson_ns);
                bench_json_field_number(f, "encode_base64_4k", info->codec.encode_ns);
                bench_json_field_number(f, "manager_read_4k", info->codec.read_ns);
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
