/* SPDX-License-Identifier: MIT */
/*
 * bench-uffd: what lazy loading through userfaultfd costs (uffd.h).
 *
 * Rows, per page, each the median of the rounds, with the median of the per-round ratios:
 *   lazy load:   a page served by memcap's thread from a file (pread + UFFDIO_COPY) against a
 *                page-cache fault of the same file, already cached (mmap + first read);
 *   first touch: a page zero-filled by the handler (UFFDIO_ZEROPAGE) against the kernel's own
 *                zero fill of anonymous memory.
 * Both sides of a round run back to back on fresh mappings of PAGES pages, so they see the
 * same machine. --quick: three rounds, as a smoke test.
 */

#include <fcntl.h>
#include <memcap/memcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench-util.h"

#define PAGES      1024
#define MAX_ROUNDS 15

static mc_ctx *ctx;
static size_t page;
static int file_fd = -1;

static mc_uffd_action from_file(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        (void) ud;
        return pread(file_fd, buf, size, (off_t) f->offset) == (ssize_t) size ? MC_UFFD_COPY
                                                                              : MC_UFFD_FAIL;
}

static mc_uffd_action zero(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        (void) f;
        (void) buf;
        (void) size;
        (void) ud;
        return MC_UFFD_ZERO;
}

/* Touch every page once (a read), returning ns per page. */
static double touch(const volatile char *p) {
        uint64_t t0 = bench_now_ns();
        for (size_t i = 0; i < PAGES; i++)
                (void) p[i * page];
        return (double) (bench_now_ns() - t0) / PAGES;
}

/* ns per page of a mapping served by @h, or a negative value with the reason printed. */
static double served(mc_uffd_handler h) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_uffd_request r = MC_UFFD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        mc_uffd *u;
        double ns;

        req.length = PAGES * page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS;
        r.length = MC_LENGTH_ALL;
        r.modes = MC_UFFD_MISSING;
        r.flags = MC_UFFD_THREAD;
        r.handler = h;
        if (mc_mmap(ctx, &req, &m, &err) < 0 || mc_uffd_register(ctx, &m, &r, &u, &err) < 0) {
                printf("bench-uffd: skipped: %s\n", err.message);
                return -1;
        }
        ns = touch(m.ptr);
        mc_uffd_unregister(ctx, u, NULL);
        mc_munmap(ctx, &m, NULL);
        return ns;
}

/* The first touch of every page of a fresh raw mapping, the baselines' cost. */
static double raw_touch(int prot, int flags, int fd) {
        char *p = mmap(NULL, PAGES * page, prot, flags, fd, 0);
        double ns;

        if (p == MAP_FAILED)
                return -1;
        ns = touch(p);
        munmap(p, PAGES * page);
        return ns;
}

static double page_cache(void) {
        return raw_touch(PROT_READ, MAP_SHARED, file_fd);
}

static double anon(void) {
        return raw_touch(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
}

static void row(const char *name, const double *a, const double *b, unsigned n) {
        double ratios[MAX_ROUNDS];

        bench_ratios(a, b, n, ratios);
        printf("%-12s %12.0f ns %12.0f ns %8.2f   (ratio min-max %.2f-%.2f)\n", name,
               bench_median(a, n), bench_median(b, n), bench_median(ratios, n),
               bench_min(ratios, n), bench_max(ratios, n));
}

int main(int argc, char **argv) {
        char path[] = "/tmp/bench-uffd-XXXXXX";
        double lazy[MAX_ROUNDS], cached[MAX_ROUNDS], zfill[MAX_ROUNDS], kzero[MAX_ROUNDS];
        unsigned rounds = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 3 : MAX_ROUNDS;
        mc_policy *policy;
        char *buf;

        if (argc > 2 || (argc == 2 && rounds != 3)) {
                fprintf(stderr, "usage: bench-uffd [--quick]\n");
                return 2;
        }
        page = mc_page_size();
        if (mc_ctx_new(&ctx, NULL) < 0 || mc_policy_new(&policy, NULL) < 0)
                return 1;
        mc_policy_set_allow_userfaultfd(policy, true);
        mc_policy_set_max_memory_usage(policy, MC_UNLIMITED);
        mc_ctx_set_policy(ctx, policy, NULL);
        mc_policy_free(policy);

        file_fd = mkstemp(path);
        if (file_fd < 0)
                return perror("mkstemp"), 1;
        unlink(path);
        buf = calloc(1, page);
        for (size_t i = 0; buf && i < PAGES; i++) {
                memset(buf, (int) i, page);
                if (write(file_fd, buf, page) != (ssize_t) page)
                        return perror("write"), 1;
        }
        free(buf);

        for (unsigned i = 0; i < rounds; i++) {
                lazy[i] = served(from_file);
                cached[i] = page_cache();
                zfill[i] = served(zero);
                kzero[i] = anon();
                if (lazy[i] < 0 || zfill[i] < 0)
                        return 0; /* no userfaultfd here: said why */
                if (cached[i] < 0 || kzero[i] < 0)
                        return perror("mmap"), 1;
        }
        printf("bench-uffd: %u rounds of %d pages of %zu bytes, per page, medians\n", rounds, PAGES,
               page);
        printf("%-12s %15s %15s %8s\n", "row", "userfaultfd", "kernel", "ratio");
        row("lazy load", lazy, cached, rounds);
        row("first touch", zfill, kzero, rounds);
        printf("lazy load: memcap's thread reads the page from the file vs a cached file page;\n"
               "first touch: the handler's zero page vs the kernel's own zero fill.\n");
        close(file_fd);
        mc_ctx_free(ctx);
        return 0;
}
