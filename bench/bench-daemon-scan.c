/* SPDX-License-Identifier: MIT */
/* bench-daemon: MmapFd scan of a 1 GiB file, and the daemon's user-space work per request, timed in
 * this process with memcapd's codec (see bench-daemon.c). */

#include "bench-daemon.h"

/* ---- MmapFd scan ---- */

int scan_check(const void *p, size_t n) {
        if (memchr(p, 0xff, n))
                return bench_fail(-EPROTO, "found a byte the scan file does not hold");
        return 0;
}

/* What a program does without the daemon: open, fstat, one shared mapping. */
int scan_raw(void *arg, uint64_t iters) {
        (void) arg;
        for (uint64_t i = 0; i < iters; i++) {
                int r = bench_scan_file(paths[P_BIG], /* size= */ 0, scan_check);

                if (r < 0)
                        return r;
        }
        return 0;
}

int scan_mmapfd(void *arg, uint64_t iters) {
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
                r = scan_check((const char *) p + skip, (size_t) len);
                munmap(p, (size_t) (len + skip));
                if (r < 0)
                        return r;
                if (len != a->bytes)
                        return bench_fail(-EPROTO, "MmapFd: length %" PRIu64 ", expected %" PRIu64,
                                          len, a->bytes);
        }
        return 0;
}

/* Write the file (bytes 0..250, so 0xff never occurs), flush it, scan it once, check it is
 * cached. */
int big_create(run_info *info) {
        size_t len;
        void *p;
        int r;

        r = bench_scan_file_write(paths[P_BIG], info->big_bytes, /* created= */ NULL);
        if (r >= 0)
                r = bench_map_file(paths[P_BIG], info->big_bytes, &p, &len);
        if (r < 0)
                return r;
        r = scan_check(p, len); /* also brings it into the page cache */
        if (r >= 0 && bench_resident_pct(p, len, &info->big_resident_pct) == 0 &&
            info->big_resident_pct < 99.0)
                bench_note("only %.1f%% of the scan file was in the page cache",
                           info->big_resident_pct);
        munmap(p, len);
        return r;
}

int bench_scan(run_info *info) {
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

int op_parse(void *arg, uint64_t iters) {
        codec_arg *a = arg;

        for (uint64_t i = 0; i < iters; i++) {
                mcd_request q = MCD_REQUEST_INIT;

                if (mcd_request_parse(a->line, a->len, &q, NULL) < 0)
                        return bench_fail(-EPROTO, "memcapd's codec refused its own request");
                mcd_request_done(&q);
        }
        return 0;
}

int op_jansson(void *arg, uint64_t iters) {
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

int op_encode(void *arg, uint64_t iters) {
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

int op_read(void *arg, uint64_t iters) {
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

int bench_codec(run_info *info, const char *line) {
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
