/* SPDX-License-Identifier: MIT */
/*
 * The mapping manager in-process, where the system-call seam can force what a daemon test
 * cannot: openat2 racing with renames (EAGAIN) or signals (EINTR), msync failing with EIO.
 * Also the rules memcapd relies on, checked at their source: reads inside the mapping only,
 * faulted mappings after a truncation or a failed write-back, what Msync says it wrote, and the
 * calls on page ranges with their capabilities and quotas.
 */

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "common.h"

static mc_ctx *ctx;
static mc_manager *mgr;
static size_t page;
static char root[128], file[256];
static mc_client me = {.key = 1, .caps = MC_CAP_ALL};

/* The file /f in the root: @pages pages, byte i is i % 251. */
static void make_file(size_t pages) {
        size_t n = pages * page;
        unsigned char *buf = malloc(n);
        int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        cr_assert(fd >= 0 && buf);
        for (size_t i = 0; i < n; i++)
                buf[i] = (unsigned char) (i % 251);
        cr_assert(eq(sz, (size_t) write(fd, buf, n), n));
        close(fd);
        free(buf);
}

static void manager_open(uint64_t max_mappings, uint64_t max_locked) {
        mc_manager_options o = MC_MANAGER_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;

        mgr = mc_manager_free(mgr);
        o.root = root;
        o.max_mappings = max_mappings;
        o.max_locked = max_locked;
        cr_assert(eq(int, mc_manager_new(ctx, &o, &mgr, &err), 0), "%s", err.message);
}

static void setup(void) {
        page = mc_page_size();
        me.pid = getpid();
        snprintf(root, sizeof(root), "/tmp/memcap-test-manager-%d", (int) getpid());
        snprintf(file, sizeof(file), "%s/f", root);
        cr_assert(eq(int, mkdir(root, 0700), 0));
        make_file(3);
        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        manager_open(0, 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(path);
}

static void teardown(void) {
        mgr = mc_manager_free(mgr);
        ctx = mc_ctx_free(ctx);
        nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
        mc_test_fini();
}

TestSuite(manager, .init = setup, .fini = teardown);

static uint64_t map(const char *path, uint64_t offset, uint64_t length, unsigned prot,
                    bool shared) {
        mc_error err = MC_ERROR_INIT;
        uint64_t id = 0;

        cr_assert(eq(int,
                     mc_manager_mmap(mgr, &me, path, offset, length, prot, shared, &id, NULL, &err),
                     0),
                  "%s", err.message);
        return id;
}

static bool has(const mc_error *err, const char *part) {
        return strstr(err->message, part) != NULL;
}

/* ---- openat2 under races ------------------------------------------------------------------- */

static int openat2_failures, openat2_calls, openat2_errno;
static int (*real_openat2)(int dirfd, const char *path, struct open_how *how, size_t size);
static int flaky_openat2(int dirfd, const char *path, struct open_how *how, size_t size) {
        openat2_calls++;
        if (openat2_failures != 0) {
                if (openat2_failures > 0)
                        openat2_failures--;
                errno = openat2_errno;
                return -1;
        }
        return real_openat2(dirfd, path, how, size);
}

Test(manager, a_racing_rename_is_tried_again_then_reported_as_timed_out) {
        static const int errnos[] = {EAGAIN, EINTR};
        mc_error err = MC_ERROR_INIT;
        uint64_t id;

        real_openat2 = mc_sys.openat2;
        for (size_t i = 0; i < ELEMENTSOF(errnos); i++) {
                mc_sys.openat2 = flaky_openat2;
                openat2_errno = errnos[i];
                /* Transient: a few failures, then the open goes through. */
                openat2_failures = MC_MANAGER_OPEN_TRIES - 1;
                openat2_calls = 0;
                cr_assert(eq(int,
                             mc_manager_mmap(mgr, &me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL,
                                             &err),
                             0),
                          "%s", err.message);
                cr_assert(eq(int, openat2_calls, MC_MANAGER_OPEN_TRIES));
                /* Persistent: bounded, and named for what happened. */
                openat2_failures = -1;
                openat2_calls = 0;
                cr_assert(eq(
                        int,
                        mc_manager_mmap(mgr, &me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err),
                        -errnos[i]));
                cr_assert(eq(int, openat2_calls, MC_MANAGER_OPEN_TRIES));
                cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT), "%s: %s",
                          mc_error_kind_name(err.kind), err.message);
                cr_assert(eq(int, err.sys_errno, errnos[i]));
                cr_assert(has(&err, "try again"), "%s", err.message);
                cr_assert(has(&err, errnos[i] == EAGAIN ? "kept changing" : "interrupted"), "%s",
                          err.message);
        }
        /* Other errors are not tried again. */
        openat2_errno = ENOENT;
        openat2_failures = -1;
        openat2_calls = 0;
        cr_assert(eq(int,
                     mc_manager_mmap(mgr, &me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err),
                     -ENOENT));
        cr_assert(eq(int, openat2_calls, 1));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(sz, mc_manager_count(mgr), 2), "failures make no mapping");
}

/* ---- reads inside the mapping only --------------------------------------------------------- */

Test(manager, a_read_past_the_end_is_refused_and_copies_nothing) {
        mc_error err = MC_ERROR_INIT;
        unsigned char buf[32];
        size_t n = 99;
        uint64_t id = map("/f", 0, 16, MC_PROT_READ, false);

        memset(buf, 0xee, sizeof(buf));
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 10, buf, 7, &n, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(has(&err, "7 bytes at offset 10 end past Mmap 1 (16 bytes)"), "%s", err.message);
        cr_assert(eq(u8, buf[0], 0xee), "nothing copied");
        cr_assert(eq(sz, n, 99), "untouched");
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 17, buf, 0, &n, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, UINT64_MAX, buf, 2, &n, &err), -EINVAL));
        /* Up to the end exactly, and the empty range at the end, are inside. */
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 10, buf, 6, &n, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, n, 6));
        cr_assert(eq(u8, buf[5], 15));
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 16, buf, 0, &n, &err), 0));
        cr_assert(eq(sz, n, 0));
}

/* ---- faulted mappings ---------------------------------------------------------------------- */

Test(manager, a_file_shrunk_under_a_mapping_faults_it_until_it_is_mapped_again) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats st;
        unsigned char buf[8];
        size_t n;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 2 * page, "late", 4, &err), 0));
        cr_assert(eq(int, truncate(file, (off_t) page), 0));
        /* The data written past the new end is gone: Msync must not call that success. */
        cr_assert(eq(int, mc_manager_msync(mgr, &me, id, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(has(&err, "Mmap 1 is faulted: its file shrank under it to 4096 bytes") ||
                          page != 4096,
                  "%s", err.message);
        cr_assert(has(&err, "Munmap it and Mmap it again"), "%s", err.message);
        /* Writes fail, also where the file still is, and change nothing. */
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "XY", 2, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 0, buf, 2, &n, &err), 0), "%s",
                  err.message);
        cr_assert(eq(u8, buf[0], 0), "the refused write left the file alone");
        /* Reads: what the file still holds, yes; past its new end, Io. */
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, page - 2, buf, 4, &n, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(has(&err, "past the end of its file"), "%s", err.message);
        /* Growing the file back does not undo the fault: the data is lost all the same. */
        cr_assert(eq(int, truncate(file, (off_t) (3 * page)), 0));
        cr_assert(eq(int, mc_manager_msync(mgr, &me, id, &err), -EIO));
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(st.faulted);
        /* Unmapping a faulted mapping works (without a sync); a new mapping is healthy. */
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), 0), "%s", err.message);
        id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "XY", 2, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_manager_msync(mgr, &me, id, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(not(st.faulted));
}

static int msync_calls;
static int eio_msync(void *addr, size_t len, int flags) {
        (void) addr, (void) len, (void) flags;
        msync_calls++;
        errno = EIO;
        return -1;
}

Test(manager, a_failed_write_back_faults_the_mapping_for_good) {
        mc_error err = MC_ERROR_INIT;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "A", 1, &err), 0));
        mc_sys.msync = eio_msync;
        cr_assert(eq(int, mc_manager_msync(mgr, &me, id, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        /* The kernel reports a write-back error once: a second msync could say success. */
        mc__sys_reset();
        cr_assert(eq(int, mc_manager_msync(mgr, &me, id, &err), -EIO));
        cr_assert(has(&err, "writing it back to its file failed with an I/O error"), "%s",
                  err.message);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "B", 1, &err), -EIO));
        mc_sys.msync = eio_msync;
        msync_calls = 0;
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), 0), "%s", err.message);
        cr_assert(eq(int, msync_calls, 0), "nothing is synced from a faulted mapping");
        cr_assert(eq(sz, mc_manager_count(mgr), 0));
}

Test(manager, a_failed_sync_at_munmap_keeps_the_mapping_and_faults_it) {
        mc_error err = MC_ERROR_INIT;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        mc_sys.msync = eio_msync;
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), -EIO));
        cr_assert(eq(sz, mc_manager_count(mgr), 1), "kept: the client was told");
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), 0), "%s", err.message);
        cr_assert(eq(sz, mc_manager_count(mgr), 0));
}

/* ---- what Msync wrote ---------------------------------------------------------------------- */

Test(manager, msync_says_whether_the_mapping_writes_to_a_file) {
        static const struct {
                const char *path;
                unsigned prot;
                bool shared, written;
        } cases[] = {
                {"/f", MC_PROT_READ_WRITE, true, true},  {"/f", MC_PROT_READ_WRITE, false, false},
                {"/f", MC_PROT_READ, true, false},       {NULL, MC_PROT_READ_WRITE, false, false},
                {NULL, MC_PROT_READ_WRITE, true, false},
        };
        mc_error err = MC_ERROR_INIT;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t id = map(cases[i].path, 0, cases[i].path ? 0 : page, cases[i].prot,
                                  cases[i].shared);
                bool written = !cases[i].written;

                cr_assert(eq(int,
                             mc_manager_msync_range(mgr, &me, id, 0, MC_MANAGER_LENGTH_ALL,
                                                    &written, &err),
                             0),
                          "%s", err.message);
                cr_assert(eq(int, written, cases[i].written), "case %zu", i);
        }
}

static int counting_msync(void *addr, size_t len, int flags) {
        msync_calls++;
        return msync(addr, len, flags);
}

Test(manager, a_mapping_made_read_only_still_syncs_what_was_written) {
        mc_error err = MC_ERROR_INIT;
        bool written = false;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "QZ", 2, &err), 0));
        cr_assert(eq(int, mc_manager_mprotect(mgr, &me, id, MC_PROT_READ, &err), 0));
        mc_sys.msync = counting_msync;
        msync_calls = 0;
        cr_assert(eq(int,
                     mc_manager_msync_range(mgr, &me, id, 0, MC_MANAGER_LENGTH_ALL, &written, &err),
                     0));
        cr_assert(written);
        cr_assert(eq(int, msync_calls, 1), "the write before the Mprotect is written back");
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), 0));
        cr_assert(eq(int, msync_calls, 2), "and at Munmap");
}

/* ---- ranges -------------------------------------------------------------------------------- */

Test(manager, mprotect_of_a_page_stops_writes_there_and_nowhere_else) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats st, *v;
        size_t n;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        cr_assert(
                eq(int, mc_manager_mprotect_range(mgr, &me, id, page, page, MC_PROT_READ, &err), 0),
                "%s", err.message);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, page + 5, "x", 1, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(has(&err, "is not writable (Mprotect); nothing was written"), "%s", err.message);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, page - 1, "xy", 2, &err), -EACCES),
                  "a write across the boundary is refused whole");
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, page - 1, "x", 1, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 2 * page, "x", 1, &err), 0), "%s",
                  err.message);

        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(eq(uint, st.prot, MC_PROT_READ_WRITE), "the union");
        cr_assert(eq(sz, st.n_ranges, 3));
        cr_assert(eq(u64, st.ranges[0].offset, 0));
        cr_assert(eq(u64, st.ranges[0].length, page));
        cr_assert(eq(uint, st.ranges[0].prot, MC_PROT_READ_WRITE));
        cr_assert(eq(u64, st.ranges[1].offset, page));
        cr_assert(eq(uint, st.ranges[1].prot, MC_PROT_READ));
        cr_assert(eq(u64, st.ranges[2].offset + st.ranges[2].length, 3 * page));
        free(st.ranges);
        cr_assert(eq(int, mc_manager_list(mgr, &me, 0, &v, &n, &err), 0));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(sz, v[0].n_ranges, 3));
        cr_assert(eq(uint, v[0].ranges[1].prot, MC_PROT_READ));
        free(v);

        /* One protection again: no ranges. */
        cr_assert(eq(int, mc_manager_mprotect(mgr, &me, id, MC_PROT_READ, &err), 0));
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(eq(sz, st.n_ranges, 0));
        cr_assert(eq(ptr, st.ranges, NULL));
}

Test(manager, ranges_must_be_inside_and_on_page_boundaries_of_the_file) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats st;
        /* The mapping starts 100 bytes into the file: its pages start at 4096 - 100, ... */
        uint64_t id = map("/f", 100, 0, MC_PROT_READ_WRITE, false);
        uint64_t len = 3 * page - 100;

        cr_assert(eq(int, mc_manager_mprotect_range(mgr, &me, id, page, page, MC_PROT_READ, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_ALIGNMENT), "%s", err.message);
        cr_assert(eq(int, mc_manager_msync_range(mgr, &me, id, 0, 1, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_ALIGNMENT));
        cr_assert(has(&err, "end 1 is not on a page boundary"), "%s", err.message);
        cr_assert(eq(int, mc_manager_mprotect_range(mgr, &me, id, 0, 0, MC_PROT_READ, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int,
                     mc_manager_mprotect_range(mgr, &me, id, len, MC_MANAGER_LENGTH_ALL,
                                               MC_PROT_READ, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int,
                     mc_manager_mprotect_range(mgr, &me, id, 0, len + page, MC_PROT_READ, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        /* The file's page boundaries, and the mapping's own start and end, are fine. */
        cr_assert(eq(int,
                     mc_manager_mprotect_range(mgr, &me, id, page - 100, page, MC_PROT_READ, &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int,
                     mc_manager_mprotect_range(mgr, &me, id, 2 * page - 100, MC_MANAGER_LENGTH_ALL,
                                               MC_PROT_NONE, &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(eq(sz, st.n_ranges, 3));
        cr_assert(eq(u64, st.ranges[0].length, page - 100));
        cr_assert(eq(u64, st.ranges[1].offset, page - 100));
        cr_assert(eq(u64, st.ranges[2].offset, 2 * page - 100));
        cr_assert(eq(u64, st.ranges[2].length, page));
        cr_assert(eq(uint, st.ranges[2].prot, MC_PROT_NONE));
        free(st.ranges);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "x", 1, &err), 0), "%s", err.message);
}

Test(manager, pieces_of_split_mappings_count_against_max_mappings) {
        mc_error err = MC_ERROR_INIT;
        uint64_t id, other;

        manager_open(4, 0);
        id = map(NULL, 0, 4 * page, MC_PROT_READ_WRITE, false);
        /* Three pieces: the mapping and two more, three of the four. */
        cr_assert(eq(int, mc_manager_mprotect_range(mgr, &me, id, page, page, MC_PROT_READ, &err),
                     0));
        other = map(NULL, 0, page, MC_PROT_READ_WRITE, false);
        cr_assert(eq(
                int,
                mc_manager_mmap(mgr, &me, NULL, 0, page, MC_PROT_READ, false, &other, NULL, &err),
                -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(eq(int, mc_manager_madvise(mgr, &me, id, 0, page, MC_ADVICE_RANDOM, &err), 0),
                  "a change that splits nothing new is fine: %s", err.message);
        cr_assert(eq(int,
                     mc_manager_mprotect_range(mgr, &me, id, 2 * page, page, MC_PROT_NONE, &err),
                     -EPERM));
        cr_assert(has(&err, "would split Mmap 1 into 4 pieces"), "%s", err.message);
        /* Joining pieces gives them back. */
        cr_assert(eq(int, mc_manager_mprotect(mgr, &me, id, MC_PROT_READ, &err), 0));
        cr_assert(eq(
                int,
                mc_manager_madvise(mgr, &me, id, 0, MC_MANAGER_LENGTH_ALL, MC_ADVICE_NORMAL, &err),
                0));
        cr_assert(eq(int,
                     mc_manager_mmap(mgr, &me, NULL, 0, page, MC_PROT_READ, false, &other, NULL,
                                     &err),
                     0),
                  "%s", err.message);
}

Test(manager, mlock_needs_memlock_and_fits_the_client_quota) {
        mc_client weak = me;
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats st;
        uint64_t id;

        MC_SKIP_UNDER_VALGRIND("mlock2 is not implemented");
        manager_open(0, 2 * page);
        id = map(NULL, 0, 3 * page, MC_PROT_READ_WRITE, false);
        weak.caps &= ~(unsigned) MC_CAP_MEM_LOCK;
        cr_assert(eq(int, mc_manager_mlock(mgr, &weak, id, 0, page, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, 0), "a capability, not the kernel");
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, id, 0, 2 * page, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, id, page, page, &err), 0),
                  "locked pages are not counted twice: %s", err.message);
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, id, 2 * page, page, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(has(&err, "the limit per client is"), "%s", err.message);
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(eq(u64, st.locked, 2 * page));
        cr_assert(eq(int, mc_manager_munlock(mgr, &weak, id, 0, page, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, id, 2 * page, page, &err), 0), "%s",
                  err.message);
        /* Unmapping gives the quota back. */
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), 0));
        id = map(NULL, 0, 2 * page, MC_PROT_READ_WRITE, false);
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, id, 0, MC_MANAGER_LENGTH_ALL, &err), 0), "%s",
                  err.message);
}

Test(manager, madvise_offers_what_harms_no_one_else) {
        static const mc_advice refused[] = {
                MC_ADVICE_REMOVE,     MC_ADVICE_PAGEOUT,    MC_ADVICE_DONTFORK,
                MC_ADVICE_DOFORK,     MC_ADVICE_WIPEONFORK, MC_ADVICE_KEEPONFORK,
                MC_ADVICE_DONTDUMP,   MC_ADVICE_DODUMP,     MC_ADVICE_HUGEPAGE,
                MC_ADVICE_NOHUGEPAGE, MC_ADVICE_MERGEABLE,  MC_ADVICE_UNMERGEABLE,
        };
        mc_error err = MC_ERROR_INIT;
        unsigned char b = 1;
        size_t n;
        uint64_t shared = map("/f", 0, 0, MC_PROT_READ_WRITE, true);
        uint64_t anon = map(NULL, 0, 2 * page, MC_PROT_READ_WRITE, false);

        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                cr_assert(eq(int,
                             mc_manager_madvise(mgr, &me, shared, 0, MC_MANAGER_LENGTH_ALL,
                                                refused[i], &err),
                             -EPERM),
                          "%s", mc_advice_name(refused[i]));
                cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
                cr_assert(has(&err, "is not offered to clients"), "%s", err.message);
        }
        /* DONTNEED on a shared mapping loses nothing: the page cache keeps the data. */
        cr_assert(eq(int, mc_manager_write(mgr, &me, shared, 7, "Z", 1, &err), 0));
        cr_assert(eq(int,
                     mc_manager_madvise(mgr, &me, shared, 0, MC_MANAGER_LENGTH_ALL,
                                        MC_ADVICE_DONTNEED, &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int, mc_manager_read(mgr, &me, shared, 7, &b, 1, &n, &err), 0));
        cr_assert(eq(u8, b, 'Z'));
        /* On private anonymous memory it drops the client's own data. */
        cr_assert(eq(int, mc_manager_write(mgr, &me, anon, page, "Z", 1, &err), 0));
        cr_assert(eq(int, mc_manager_madvise(mgr, &me, anon, page, page, MC_ADVICE_DONTNEED, &err),
                     0));
        cr_assert(eq(int, mc_manager_read(mgr, &me, anon, page, &b, 1, &n, &err), 0));
        cr_assert(eq(u8, b, 0));
        cr_assert(
                eq(int, mc_manager_madvise(mgr, &me, anon, 0, page, MC_ADVICE_WILLNEED, &err), 0));
        cr_assert(eq(int, mc_manager_madvise(mgr, &me, anon, 0, 1, MC_ADVICE_WILLNEED, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_ALIGNMENT));
}
