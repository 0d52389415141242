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
#include <linux/magic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "common.h"
#include "failing.h"
#include "proc.h"

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

static void manager_open_with(uint64_t max_mappings, uint64_t max_bytes, uint64_t max_locked,
                              bool allow_symlinks) {
        mc_manager_options o = MC_MANAGER_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;

        mgr = mc_manager_free(mgr);
        o.root = root;
        o.max_mappings = max_mappings;
        o.max_bytes = max_bytes;
        o.max_locked = max_locked;
        o.allow_symlinks = allow_symlinks;
        cr_assert(eq(int, mc_manager_new(ctx, &o, &mgr, &err), 0), "%s", err.message);
}

static void manager_open(uint64_t max_mappings, uint64_t max_locked) {
        manager_open_with(max_mappings, 0, max_locked, false);
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

/* Mmap for @client: the one call of mc_manager_mmap() in the tests. */
static int map_as(const mc_client *client, const char *path, uint64_t offset, uint64_t length,
                  unsigned prot, bool shared, uint64_t *ret_id, uint64_t *ret_length,
                  mc_error *err) {
        const mc_manager_map_request req = {path, offset, length, prot, shared};

        return mc_manager_mmap(mgr, client, &req, ret_id, ret_length, err);
}

static uint64_t map(const char *path, uint64_t offset, uint64_t length, unsigned prot,
                    bool shared) {
        mc_error err = MC_ERROR_INIT;
        uint64_t id = 0;

        cr_assert(eq(int, map_as(&me, path, offset, length, prot, shared, &id, NULL, &err), 0),
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
                cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), 0),
                          "%s", err.message);
                cr_assert(eq(int, openat2_calls, MC_MANAGER_OPEN_TRIES));
                /* Persistent: bounded, and named for what happened. */
                openat2_failures = -1;
                openat2_calls = 0;
                cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err),
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
        cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -ENOENT));
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
        cr_assert(eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ, false, &other, NULL, &err),
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
        cr_assert(eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ, false, &other, NULL, &err), 0),
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

/* ---- life cycle ---------------------------------------------------------------------------- */

Test(manager, new_needs_a_context_and_a_directory) {
        mc_manager_options o = MC_MANAGER_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_manager *m = NULL;
        char missing[300];

        o.root = root;
        cr_assert(eq(int, mc_manager_new(NULL, &o, &m, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_manager_new(ctx, NULL, &m, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_new(ctx, &o, NULL, &err), -EINVAL));
        o.root = NULL;
        cr_assert(eq(int, mc_manager_new(ctx, &o, &m, &err), -EINVAL));
        snprintf(missing, sizeof(missing), "%s/missing", root);
        o.root = missing;
        cr_assert(eq(int, mc_manager_new(ctx, &o, &m, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(has(&err, missing), "%s", err.message);
        o.root = file;
        cr_assert(eq(int, mc_manager_new(ctx, &o, &m, &err), -ENOTDIR));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, err.sys_errno, ENOTDIR));
        cr_assert(has(&err, file), "%s", err.message);
        cr_assert(eq(ptr, m, NULL), "untouched on failure");
        cr_assert(eq(ptr, mc_manager_free(NULL), NULL));
        cr_assert(eq(sz, mc_manager_count(NULL), 0));
        cr_assert(eq(sz, mc_manager_cleanup_process(NULL, 1), 0));
}

Test(manager, free_syncs_what_was_written_and_unmaps_everything) {
        mc_error err = MC_ERROR_INIT;
        mc_usage u;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        map(NULL, 0, page, MC_PROT_READ_WRITE, false);
        map(NULL, 0, page, MC_PROT_READ_WRITE, true);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "W", 1, &err), 0));
        mc_sys.msync = counting_msync;
        msync_calls = 0;
        mgr = mc_manager_free(mgr);
        cr_assert(eq(ptr, mgr, NULL));
        cr_assert(eq(int, msync_calls, 1), "the shared writable file mapping, and only it");
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0));
        cr_assert(eq(u64, u.mapped_bytes, 0));
}

/* ---- mmap ---------------------------------------------------------------------------------- */

Test(manager, mmap_needs_file_read_and_for_the_write_bit_file_write) {
        mc_client none = me, reader = me;
        mc_error err = MC_ERROR_INIT;
        uint64_t id = 77;

        none.caps = 0;
        reader.caps = MC_CAP_FILE_READ;
        cr_assert(
                eq(int, map_as(&none, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, 0), "a capability, not the kernel");
        cr_assert(eq(str, err.message, "Mmap needs the FileRead capability"));
        cr_assert(eq(int, map_as(&none, NULL, 0, page, MC_PROT_READ, false, &id, NULL, &err),
                     -EACCES),
                  "anonymous memory too");
        cr_assert(eq(int, map_as(&reader, "/f", 0, 0, MC_PROT_READ_WRITE, false, &id, NULL, &err),
                     -EACCES));
        cr_assert(eq(int, err.sys_errno, 0));
        cr_assert(eq(str, err.message, "Mmap with the write bit needs the FileWrite capability"));
        cr_assert(eq(u64, id, 77), "untouched on failure");
        cr_assert(eq(sz, mc_manager_count(mgr), 0));
        cr_assert(eq(int, map_as(&reader, "/f", 0, 0, MC_PROT_READ, true, &id, NULL, &err), 0),
                  "%s", err.message);
        cr_assert(eq(u64, id, 1));
}

Test(manager, mmap_checks_its_arguments_and_allocates_ids_only_on_success) {
        char longpath[MC_MANAGER_PATH_MAX + 8];
        mc_error err = MC_ERROR_INIT;
        uint64_t id = 0;

        cr_assert(eq(int, map_as(NULL, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ, false, NULL, NULL, &err), -EINVAL));
        cr_assert(eq(int, map_as(&me, "/f", 0, 0, 8, false, &id, NULL, &err), -EINVAL));
        cr_assert(has(&err, "has bits beyond 7"), "%s", err.message);
        cr_assert(eq(int, map_as(&me, "f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EINVAL));
        cr_assert(has(&err, "must start with '/'"), "%s", err.message);
        cr_assert(eq(int, map_as(&me, "", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EINVAL));
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[0] = '/';
        longpath[sizeof(longpath) - 1] = 0;
        cr_assert(eq(int, map_as(&me, longpath, 0, 0, MC_PROT_READ, false, &id, NULL, &err),
                     -ENAMETOOLONG));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(
                eq(int, map_as(&me, NULL, 1, page, MC_PROT_READ, false, &id, NULL, &err), -EINVAL));
        cr_assert(has(&err, "anonymous memory has no offset"), "%s", err.message);
        cr_assert(eq(int, map_as(&me, NULL, 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EINVAL));
        cr_assert(has(&err, "anonymous memory needs a length"), "%s", err.message);
        cr_assert(eq(int,
                     map_as(&me, NULL, 0, UINT64_MAX / 2, MC_PROT_READ, false, &id, NULL, &err),
                     -EOVERFLOW));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, map_as(&me, "/f", 3 * page, 0, MC_PROT_READ, false, &id, NULL, &err),
                     -EINVAL));
        cr_assert(has(&err, "at or past the end of the file"), "%s", err.message);
        cr_assert(eq(int, map_as(&me, "/missing", 0, 0, MC_PROT_READ, false, &id, NULL, &err),
                     -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(sz, mc_manager_count(mgr), 0));
        cr_assert(eq(u64, map("/f", 0, 0, MC_PROT_READ, false), 1), "no id was spent on failures");
}

Test(manager, mmap_maps_to_the_end_of_the_file_and_cuts_a_longer_length) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats st;
        unsigned char b;
        uint64_t id, len = 0;
        size_t n;

        cr_assert(eq(int, map_as(&me, "/f", 100, 0, MC_PROT_READ, false, &id, &len, &err), 0));
        cr_assert(eq(u64, len, 3 * page - 100));
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 0, &b, 1, &n, &err), 0));
        cr_assert(eq(u8, b, 100 % 251), "the first byte is the file's byte 100");
        cr_assert(eq(int, map_as(&me, "/f", page, 10 * page, MC_PROT_READ, true, &id, &len, &err),
                     0));
        cr_assert(eq(u64, len, 2 * page), "cut at the end of the file");
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(eq(u64, st.id, id));
        cr_assert(eq(str, st.path, "/f"));
        cr_assert(not(st.anonymous));
        cr_assert(eq(u64, st.offset, page));
        cr_assert(eq(u64, st.length, 2 * page));
        cr_assert(eq(uint, st.prot, MC_PROT_READ));
        cr_assert(st.shared);
        cr_assert(eq(int, st.owner_pid, me.pid));
        cr_assert(eq(u64, st.owner_key, me.key));
        cr_assert(eq(u64, st.locked, 0));
        cr_assert(not(st.faulted));
        cr_assert(eq(sz, st.n_ranges, 0));
        cr_assert(
                eq(int, map_as(&me, NULL, 0, 100, MC_PROT_READ_WRITE, false, &id, &len, &err), 0));
        cr_assert(eq(u64, len, 100));
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(st.anonymous);
        cr_assert(eq(str, st.path, ""));
        cr_assert(eq(sz, mc_manager_count(mgr), 3));
}

Test(manager, mmap_opens_only_regular_files_beneath_the_root, .timeout = 30.0) {
        mc_error err = MC_ERROR_INIT;
        char p[400];
        uint64_t id;

        snprintf(p, sizeof(p), "%s/fifo", root);
        cr_assert(eq(int, mkfifo(p, 0600), 0));
        cr_assert(
                eq(int, map_as(&me, "/fifo", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EINVAL),
                "a FIFO is refused, never blocked on");
        cr_assert(has(&err, "not a regular file"), "%s", err.message);
        cr_assert(eq(int, map_as(&me, "/", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EINVAL));
        cr_assert(
                eq(int, map_as(&me, "/../f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EXDEV));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(has(&err, "leads out of the root"), "%s", err.message);
        snprintf(p, sizeof(p), "%s/link", root);
        cr_assert(eq(int, symlink("f", p), 0));
        snprintf(p, sizeof(p), "%s/abs", root);
        cr_assert(eq(int, symlink(file, p), 0));
        cr_assert(
                eq(int, map_as(&me, "/link", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -ELOOP));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(has(&err, "symlinks are not allowed"), "%s", err.message);
        manager_open_with(0, 0, 0, true);
        cr_assert(eq(int, map_as(&me, "/link", 0, 0, MC_PROT_READ, false, &id, NULL, &err), 0),
                  "%s", err.message);
        cr_assert(eq(int, map_as(&me, "/abs", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EXDEV),
                  "an absolute symlink leaves the root");
        cr_assert(eq(sz, mc_manager_count(mgr), 1));
}

/* ---- limits per client --------------------------------------------------------------------- */

Test(manager, limits_on_mappings_and_bytes_are_per_client) {
        mc_client other = me;
        mc_error err = MC_ERROR_INIT;
        uint64_t a, b, id;

        other.key = 2;
        manager_open_with(2, 4 * page, 0, false);
        a = map(NULL, 0, page, MC_PROT_READ_WRITE, false);
        b = map(NULL, 0, page, MC_PROT_READ_WRITE, false);
        cr_assert(eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ_WRITE, false, &id, NULL, &err),
                     -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(has(&err, "the limit per client is 2"), "%s", err.message);
        cr_assert(eq(int, map_as(&other, NULL, 0, page, MC_PROT_READ_WRITE, false, &id, NULL, &err),
                     0),
                  "another client has its own count: %s", err.message);
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, a, &err), 0));
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, b, &err), 0));
        /* Bytes: 4 pages each. */
        cr_assert(eq(int,
                     map_as(&me, NULL, 0, 4 * page + 1, MC_PROT_READ_WRITE, false, &id, NULL, &err),
                     -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(has(&err, "the limit per client of"), "%s", err.message);
        a = map(NULL, 0, 3 * page, MC_PROT_READ_WRITE, false);
        cr_assert(eq(int,
                     map_as(&me, NULL, 0, 2 * page, MC_PROT_READ_WRITE, false, &id, NULL, &err),
                     -EPERM));
        cr_assert(eq(int,
                     map_as(&other, NULL, 0, 3 * page, MC_PROT_READ_WRITE, false, &id, NULL, &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, a, &err), 0));
        cr_assert(eq(int,
                     map_as(&me, NULL, 0, 4 * page, MC_PROT_READ_WRITE, false, &id, NULL, &err), 0),
                  "unmapping gave the bytes back: %s", err.message);
}

/* ---- ownership ----------------------------------------------------------------------------- */

Test(manager, a_client_sees_only_its_own_ids) {
        mc_client other = me, info = me;
        mc_error err = MC_ERROR_INIT, gone = MC_ERROR_INIT;
        mc_mapping_stats st;
        unsigned char buf[4];
        size_t n;
        int fd = -1;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        other.key = 2;
        other.caps = MC_CAP_ALL & ~(unsigned) MC_CAP_SYSTEM_INFO;
        info.key = 3;
        /* Someone else's id reads exactly like an id that does not exist. */
        cr_assert(eq(int, mc_manager_read(mgr, &other, 99, 0, buf, 1, &n, &gone), -ENOENT));
        cr_assert(eq(str, gone.message, "Mmap 99 not found"));
        cr_assert(eq(int, mc_manager_read(mgr, &other, id, 0, buf, 1, &n, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(str, err.message, "Mmap 1 not found"));
        cr_assert(eq(int, mc_manager_write(mgr, &other, id, 0, "x", 1, &err), -ENOENT));
        cr_assert(eq(int, mc_manager_msync(mgr, &other, id, &err), -ENOENT));
        cr_assert(eq(int, mc_manager_mprotect(mgr, &other, id, MC_PROT_READ, &err), -ENOENT));
        cr_assert(eq(int,
                     mc_manager_madvise(mgr, &other, id, 0, MC_MANAGER_LENGTH_ALL,
                                        MC_ADVICE_WILLNEED, &err),
                     -ENOENT));
        cr_assert(eq(int, mc_manager_munlock(mgr, &other, id, 0, MC_MANAGER_LENGTH_ALL, &err),
                     -ENOENT));
        cr_assert(eq(int, mc_manager_fd(mgr, &other, id, &fd, NULL, &err), -ENOENT));
        cr_assert(eq(int, mc_manager_stats(mgr, &other, id, &st, &err), -ENOENT));
        cr_assert(eq(int, mc_manager_munmap(mgr, &other, id, &err), -ENOENT));
        cr_assert(eq(sz, mc_manager_count(mgr), 1));
        /* SystemInfo shows stats of anyone's mapping, and nothing more. */
        cr_assert(eq(int, mc_manager_stats(mgr, &info, id, &st, &err), 0), "%s", err.message);
        cr_assert(eq(u64, st.owner_key, me.key));
        cr_assert(eq(int, mc_manager_read(mgr, &info, id, 0, buf, 1, &n, &err), -ENOENT));
        cr_assert(eq(int, mc_manager_munmap(mgr, &info, id, &err), -ENOENT));
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), 0));
}

/* ---- read / write -------------------------------------------------------------------------- */

Test(manager, write_then_read_round_trips_through_the_file) {
        mc_error err = MC_ERROR_INIT;
        char buf[8] = {0};
        size_t n = 0;
        int fd;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ_WRITE, true);
        uint64_t ro = map("/f", 0, 0, MC_PROT_READ, true);

        cr_assert(eq(int, mc_manager_write(mgr, &me, id, page + 3, "hello", 5, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, page + 3, buf, 5, &n, &err), 0));
        cr_assert(eq(sz, n, 5));
        cr_assert(eq(str, buf, "hello"));
        /* One page cache: the file and every shared mapping of it see the bytes. */
        memset(buf, 0, sizeof(buf));
        cr_assert(eq(int, mc_manager_read(mgr, &me, ro, page + 3, buf, 5, &n, &err), 0));
        cr_assert(eq(str, buf, "hello"));
        fd = open(file, O_RDONLY | O_CLOEXEC);
        memset(buf, 0, sizeof(buf));
        cr_assert(eq(sz, (size_t) pread(fd, buf, 5, (off_t) page + 3), 5));
        close(fd);
        cr_assert(eq(str, buf, "hello"));
        /* Refused, and nothing written. */
        cr_assert(eq(int, mc_manager_write(mgr, &me, ro, 0, "x", 1, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(has(&err, "is not writable"), "%s", err.message);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 3 * page - 1, "xy", 2, &err), -EINVAL));
        cr_assert(has(&err, "nothing was written"), "%s", err.message);
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 3 * page - 1, buf, 1, &n, &err), 0));
        cr_assert(eq(u8, (unsigned char) buf[0], (3 * page - 1) % 251));
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, NULL, 1, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_write(NULL, &me, id, 0, "x", 1, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 0, NULL, 1, &n, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_read(mgr, &me, id, 0, buf, 1, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, NULL, 0, &err), 0), "an empty write");
}

Test(manager, mprotect_adding_write_needs_file_write) {
        mc_client reader = me;
        mc_error err = MC_ERROR_INIT;
        uint64_t id = map(NULL, 0, 2 * page, MC_PROT_READ, false);

        reader.caps = MC_CAP_FILE_READ;
        cr_assert(
                eq(int, mc_manager_mprotect(mgr, &reader, id, MC_PROT_READ_WRITE, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, 0));
        cr_assert(eq(str, err.message,
                     "Mprotect adding the write bit needs the FileWrite capability"));
        cr_assert(eq(int, mc_manager_mprotect(mgr, &reader, id, MC_PROT_NONE, &err), 0),
                  "taking rights away needs nothing: %s", err.message);
        cr_assert(eq(int, mc_manager_mprotect(mgr, &reader, id, 8, &err), -EINVAL));
        cr_assert(has(&err, "has bits beyond 7"), "%s", err.message);
        cr_assert(eq(int, mc_manager_mprotect(mgr, &me, id, MC_PROT_READ_WRITE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_manager_write(mgr, &me, id, 0, "x", 1, &err), 0), "%s", err.message);
}

/* ---- stats and list ------------------------------------------------------------------------ */

Test(manager, list_shows_a_client_its_own_and_with_system_info_anyone) {
        mc_client other = me, nobody = me;
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats *v = (mc_mapping_stats *) 1, st;
        size_t n = 9;
        uint64_t a = map(NULL, 0, page, MC_PROT_READ, false), b, c;

        other.key = 2;
        other.pid = 4242;
        other.caps = MC_CAP_FILE_READ;
        nobody.key = 3;
        cr_assert(eq(int, map_as(&other, "/f", 0, 0, MC_PROT_READ, false, &b, NULL, &err), 0));
        c = map("/f", 0, page, MC_PROT_READ, true);

        cr_assert(eq(int, mc_manager_list(mgr, &me, 0, &v, &n, &err), 0));
        cr_assert(eq(sz, n, 2));
        cr_assert(eq(u64, v[0].id, a), "in id order");
        cr_assert(eq(u64, v[1].id, c));
        free(v);
        cr_assert(eq(int, mc_manager_list(mgr, &other, 0, &v, &n, &err), 0));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(u64, v[0].id, b));
        cr_assert(eq(int, v[0].owner_pid, 4242));
        free(v);
        cr_assert(eq(int, mc_manager_list(mgr, &other, me.key, &v, &n, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, 0));
        cr_assert(
                eq(str, err.message, "MmapList of other clients needs the SystemInfo capability"));
        cr_assert(eq(int, mc_manager_list(mgr, &me, other.key, &v, &n, &err), 0));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(u64, v[0].owner_key, other.key));
        free(v);
        cr_assert(eq(int, mc_manager_list(mgr, &me, UINT64_MAX, &v, &n, &err), 0));
        cr_assert(eq(sz, n, 3));
        cr_assert(v[0].id < v[1].id && v[1].id < v[2].id);
        free(v);
        cr_assert(eq(int, mc_manager_list(mgr, &nobody, 0, &v, &n, &err), 0));
        cr_assert(eq(sz, n, 0));
        cr_assert(eq(ptr, v, NULL));
        cr_assert(eq(int, mc_manager_list(mgr, &me, 0, NULL, &n, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_list(mgr, &me, 0, &v, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_stats(mgr, &me, a, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_manager_stats(NULL, &me, a, &st, &err), -EINVAL));
}

/* ---- descriptors --------------------------------------------------------------------------- */

Test(manager, fd_passes_the_file_or_memfd_behind_a_mapping_with_fd_pass) {
        mc_client nopass = me;
        mc_error err = MC_ERROR_INIT;
        uint64_t off = 0;
        int fd = -1;
        char *p;
        uint64_t rw = map("/f", page + 5, 0, MC_PROT_READ_WRITE, true);
        uint64_t ro = map("/f", 0, 0, MC_PROT_READ, true);
        uint64_t priv = map(NULL, 0, page, MC_PROT_READ_WRITE, false);
        uint64_t shm = map(NULL, 0, page, MC_PROT_READ_WRITE, true);

        nopass.caps &= ~(unsigned) MC_CAP_FD_PASS;
        cr_assert(eq(int, mc_manager_fd(mgr, &nopass, rw, &fd, &off, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, 0));
        cr_assert(eq(str, err.message, "MmapFd needs the FdPass capability"));
        cr_assert(eq(int, fd, -1));
        cr_assert(eq(int, mc_manager_fd(mgr, &me, priv, &fd, &off, &err), -EINVAL));
        cr_assert(has(&err, "has no descriptor"), "%s", err.message);
        cr_assert(eq(int, mc_manager_fd(mgr, &me, rw, NULL, &off, &err), -EINVAL));

        cr_assert(eq(int, mc_manager_fd(mgr, &me, rw, &fd, &off, &err), 0), "%s", err.message);
        cr_assert(eq(u64, off, page + 5), "the file offset of the mapping's first byte");
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR));
        cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        cr_assert(eq(int, mc_manager_fd(mgr, &me, ro, &fd, NULL, &err), 0), "%s", err.message);
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY), "read-only stays read-only");
        close(fd);
        /* Shared anonymous memory is a memfd: what one side writes the other reads. */
        cr_assert(eq(int, mc_manager_write(mgr, &me, shm, 9, "m", 1, &err), 0));
        cr_assert(eq(int, mc_manager_fd(mgr, &me, shm, &fd, &off, &err), 0), "%s", err.message);
        cr_assert(eq(u64, off, 0));
        p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
        cr_assert(not(eq(ptr, p, MAP_FAILED)));
        cr_assert(eq(chr, p[9], 'm'));
        munmap(p, page);
        close(fd);
}

/* ---- cleanup ------------------------------------------------------------------------------- */

Test(manager, cleanup_process_releases_one_client_and_syncs_its_writes) {
        mc_client other = me;
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats *v;
        size_t n;
        uint64_t id, mine = map("/f", 0, 0, MC_PROT_READ_WRITE, true);

        other.key = 2;
        cr_assert(
                eq(int, map_as(&other, "/f", 0, 0, MC_PROT_READ_WRITE, true, &id, NULL, &err), 0));
        cr_assert(eq(int, map_as(&other, NULL, 0, page, MC_PROT_READ, false, &id, NULL, &err), 0));
        cr_assert(eq(int, mc_manager_write(mgr, &other, 1 + mine, 0, "o", 1, &err), 0));
        mc_sys.msync = counting_msync;
        msync_calls = 0;
        cr_assert(eq(sz, mc_manager_cleanup_process(mgr, 99), 0));
        cr_assert(eq(sz, mc_manager_cleanup_process(mgr, other.key), 2));
        cr_assert(eq(int, msync_calls, 1), "its shared writable file mapping was synced");
        cr_assert(eq(sz, mc_manager_count(mgr), 1));
        cr_assert(eq(int, mc_manager_list(mgr, &me, UINT64_MAX, &v, &n, &err), 0));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(u64, v[0].id, mine));
        free(v);
        cr_assert(eq(sz, mc_manager_cleanup_process(mgr, other.key), 0), "nothing left");
        cr_assert(eq(int, map_as(&other, NULL, 0, page, MC_PROT_READ, false, &id, NULL, &err), 0),
                  "the client may come back: %s", err.message);
}

/* ---- capability names ---------------------------------------------------------------------- */

Test(manager, capability_names_round_trip) {
        static const char *const names[] = {"FileRead", "FileWrite", "SystemInfo", "FdPass",
                                            "MemLock"};
        unsigned cap = 0;

        for (unsigned i = 0; i < ELEMENTSOF(names); i++) {
                cr_assert(eq(str, (char *) mc_capability_name(1u << i), (char *) names[i]));
                cr_assert(eq(int, mc_capability_from_name(names[i], &cap), 0));
                cr_assert(eq(uint, cap, 1u << i));
        }
        cr_assert(eq(uint, MC_CAP_ALL, (1u << ELEMENTSOF(names)) - 1));
        /* memcapd's Channel is named too (Hello lists it), outside what the manager grants. */
        cr_assert(eq(str, (char *) mc_capability_name(MC_CAP_CHANNEL), "Channel"));
        cr_assert(eq(int, mc_capability_from_name("Channel", &cap), 0));
        cr_assert(eq(uint, cap, MC_CAP_CHANNEL));
        cr_assert(eq(uint, MC_CAP_ALL & MC_CAP_CHANNEL, 0));
        cr_assert(eq(ptr, (void *) mc_capability_name(0), NULL));
        cr_assert(eq(ptr, (void *) mc_capability_name(MC_CAP_FILE_READ | MC_CAP_FILE_WRITE), NULL));
        cr_assert(eq(ptr, (void *) mc_capability_name(1u << 6), NULL));
        cap = 7;
        cr_assert(eq(int, mc_capability_from_name("fileread", &cap), -EINVAL), "exact names");
        cr_assert(eq(int, mc_capability_from_name(NULL, &cap), -EINVAL));
        cr_assert(eq(int, mc_capability_from_name("FileRead", NULL), -EINVAL));
        cr_assert(eq(uint, cap, 7), "untouched on failure");
}

/* ---- what the per-client byte limit counts ------------------------------------------------- */

Test(manager, max_bytes_counts_charged_memory_so_a_large_file_maps_read_only) {
        mc_error err = MC_ERROR_INIT;
        struct statfs sfs;
        char want[128];
        uint64_t ro, sh, id;

        cr_assert(eq(int, statfs(root, &sfs), 0));
        if (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)
                cr_skip_test("%s is memory: every mapping of a file there is charged whole", root);
        /* The file is 3 pages, the limit 2: page cache counts only while locked. */
        manager_open_with(0, 2 * page, 4 * page, false);
        ro = map("/f", 0, 0, MC_PROT_READ, false);
        sh = map("/f", 0, 0, MC_PROT_READ_WRITE, true);
        cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ_WRITE, false, &id, NULL, &err),
                     -EPERM),
                  "a private writable mapping may become 3 pages of copies");
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        snprintf(want, sizeof(want),
                 "0 bytes charged + %zu exceed the limit per client of %zu bytes", 3 * page,
                 2 * page);
        cr_assert(eq(str, err.message, want));
        /* Making the private mapping writable charges it whole, so that is refused too. */
        cr_assert(eq(int, mc_manager_mprotect(mgr, &me, ro, MC_PROT_READ_WRITE, &err), -EPERM));
        cr_assert(has(&err, "bytes charged"), "%s", err.message);
        /* Locked page cache is memory. */
        MC_SKIP_UNDER_VALGRIND("mlock2 is not implemented");
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, sh, 0, 2 * page, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, ro, 0, page, &err), -EPERM));
        cr_assert(has(&err, "bytes charged"), "%s", err.message);
        cr_assert(eq(int, mc_manager_munlock(mgr, &me, sh, 0, page, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, ro, 0, page, &err), 0),
                  "unlocking gave the charge back: %s", err.message);
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, ro, &err), 0));
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, sh, &err), 0));
        cr_assert(eq(int,
                     map_as(&me, NULL, 0, 2 * page, MC_PROT_READ_WRITE, false, &id, NULL, &err), 0),
                  "unmapping gave everything back: %s", err.message);
}

/* ---- refusals are audited ------------------------------------------------------------------ */

typedef struct records {
        char lines[16][1024];
        size_t n;
} records;

static void record_cb(const mc_audit_record *rec, void *userdata) {
        records *r = userdata;

        if (r->n < ELEMENTSOF(r->lines))
                strscpy(r->lines[r->n++], sizeof(r->lines[0]), rec->json);
}

/* The one record written since the last call, which must be @op's with @outcome and @kind. */
static void expect_record(records *r, const char *op, const char *outcome, const char *kind) {
        char want[96];

        cr_assert(eq(sz, r->n, 1), "%zu records", r->n);
        snprintf(want, sizeof(want), "\"operation\":\"%s\"", op);
        cr_assert(strstr(r->lines[0], want) != NULL, "%s", r->lines[0]);
        snprintf(want, sizeof(want), "\"outcome\":\"%s\"", outcome);
        cr_assert(strstr(r->lines[0], want) != NULL, "%s", r->lines[0]);
        snprintf(want, sizeof(want), "\"kind\":\"%s\"", kind);
        cr_assert(strstr(r->lines[0], want) != NULL, "%s", r->lines[0]);
        r->n = 0;
}

Test(manager, a_refused_capability_or_limit_is_audited_like_any_denial) {
        static records r;
        mc_client none = me, weak = me;
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats *v;
        mc_audit *a;
        size_t n;
        int fd;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ, true), other;

        cr_assert(eq(int, mc_audit_open_callback(record_cb, &r, &a, NULL), 0));
        mc_ctx_set_audit(ctx, a);
        none.caps = 0;
        weak.caps = MC_CAP_FILE_READ;

        /* Refused before the path is looked up: a missing file reads like an existing one. */
        cr_assert(eq(int, map_as(&none, "/f", 0, 0, MC_PROT_READ, false, &other, NULL, &err),
                     -EACCES));
        expect_record(&r, "mmap", "denied", "PermissionDenied");
        cr_assert(eq(int, map_as(&none, "/missing", 0, 0, MC_PROT_READ, false, &other, NULL, &err),
                     -EACCES));
        cr_assert(eq(str, err.message, "Mmap needs the FileRead capability"));
        expect_record(&r, "mmap", "denied", "PermissionDenied");
        cr_assert(eq(int, map_as(&none, NULL, 0, page, MC_PROT_READ, true, &other, NULL, &err),
                     -EACCES));
        expect_record(&r, "shm_open", "denied", "PermissionDenied");
        cr_assert(eq(int, mc_manager_mprotect(mgr, &weak, id, MC_PROT_READ_WRITE, &err), -EACCES));
        expect_record(&r, "mprotect", "denied", "PermissionDenied");
        cr_assert(eq(int, mc_manager_mlock(mgr, &weak, id, 0, page, &err), -EACCES));
        expect_record(&r, "mlock", "denied", "PermissionDenied");
        cr_assert(eq(int, mc_manager_fd(mgr, &weak, id, &fd, NULL, &err), -EACCES));
        expect_record(&r, "mmap_fd", "denied", "PermissionDenied");
        cr_assert(eq(int, mc_manager_list(mgr, &weak, UINT64_MAX, &v, &n, &err), -EACCES));
        expect_record(&r, "mmap_list", "denied", "PermissionDenied");
        cr_assert(eq(
                int,
                mc_manager_madvise(mgr, &me, id, 0, MC_MANAGER_LENGTH_ALL, MC_ADVICE_REMOVE, &err),
                -EPERM));
        expect_record(&r, "madvise", "denied", "PolicyViolation");
        manager_open(1, 0);
        r.n = 0;
        other = map(NULL, 0, page, MC_PROT_READ, false);
        r.n = 0;
        cr_assert(eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ, false, &other, NULL, &err),
                     -EPERM));
        expect_record(&r, "mmap", "denied", "PolicyViolation");
        /* A list that was allowed only looked: repeating it must not fill the log. */
        cr_assert(eq(int, mc_manager_list(mgr, &me, UINT64_MAX, &v, &n, &err), 0));
        free(v);
        cr_assert(eq(int, mc_manager_list(mgr, &me, 0, &v, &n, &err), 0));
        free(v);
        cr_assert(eq(sz, r.n, 0), "%s", r.lines[0]);
}

/* ---- system calls that fail ---------------------------------------------------------------- */

static int fail_errno;
static int calls;
static int fail_at; /* the call that fails, counting from 1; 0: every one */

static bool failing(void) {
        calls++;
        return fail_at == 0 || calls == fail_at;
}
static int fail_fstat(int fd, struct stat *st) {
        if (failing()) {
                errno = fail_errno;
                return -1;
        }
        return fstat(fd, st);
}
static int fail_open(const char *p, int f, mode_t m) {
        if (failing()) {
                errno = fail_errno;
                return -1;
        }
        return open(p, f, m);
}
static void *fail_mmap(void *a, size_t l, int p, int f, int fd, off_t o) {
        if (failing()) {
                errno = fail_errno;
                return MAP_FAILED;
        }
        return mmap(a, l, p, f, fd, o);
}
static int fail_memfd(const char *name, unsigned flags) {
        if (failing()) {
                errno = fail_errno;
                return -1;
        }
        return memfd_create(name, flags);
}
static int fail_munmap(void *a, size_t l) {
        if (failing()) {
                errno = fail_errno;
                return -1;
        }
        return munmap(a, l);
}
static int fail_mprotect(void *a, size_t l, int p) {
        if (failing()) {
                errno = fail_errno;
                return -1;
        }
        return mprotect(a, l, p);
}

static void inject(int e, int at) {
        fail_errno = e;
        fail_at = at;
        calls = 0;
}

/* Nothing of a failed Mmap may stay: no mapping, no id, no usage, no descriptor. */
static void nothing_left(int fds) {
        mc_usage u;

        mc__sys_reset();
        cr_assert(eq(sz, mc_manager_count(mgr), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0));
        cr_assert(eq(u64, u.charged_bytes, 0));
        cr_assert(eq(int, count_fds(), fds), "no descriptor leaked");
        cr_assert(eq(u64, map(NULL, 0, page, MC_PROT_READ, false), 1), "no id was spent");
}

Test(manager, mmap_reports_each_failing_system_call_and_leaves_nothing) {
        mc_error err = MC_ERROR_INIT;
        uint64_t id;
        int fds = count_fds();

        /* fstat of the file opened beneath the root. */
        mc_sys.fstat = fail_fstat;
        inject(EIO, 1);
        cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(eq(str, err.message, "'/f': fstat: Input/output error"));
        mc__sys_reset();
        /* The reopen for I/O through /proc/self/fd. */
        mc_sys.open = fail_open;
        inject(EMFILE, 1);
        cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ_WRITE, true, &id, NULL, &err),
                     -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(has(&err, "'/f': opening for reading and writing"), "%s", err.message);
        mc__sys_reset();
        /* The mapping itself, of a file, and of anonymous memory. */
        mc_sys.mmap = fail_mmap;
        inject(ENOMEM, 0);
        cr_assert(eq(int, map_as(&me, "/f", 0, 0, MC_PROT_READ, false, &id, NULL, &err), -ENOMEM));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(
                eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ, false, &id, NULL, &err), -ENOMEM));
        cr_assert(eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ_WRITE, true, &id, NULL, &err),
                     -ENOMEM));
        mc__sys_reset();
        /* The memfd behind shared anonymous memory. */
        mc_sys.memfd_create = fail_memfd;
        inject(EMFILE, 0);
        cr_assert(eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ_WRITE, true, &id, NULL, &err),
                     -EMFILE));
        cr_assert(has(&err, "memfd_create"), "%s", err.message);
        nothing_left(fds);
}

Test(manager, new_reports_a_root_it_cannot_open_or_look_at) {
        mc_manager_options o = MC_MANAGER_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_manager *m = NULL;
        int fds = count_fds();

        o.root = root;
        mc_sys.open = fail_open;
        inject(EACCES, 1);
        cr_assert(eq(int, mc_manager_new(ctx, &o, &m, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(has(&err, root), "%s", err.message);
        mc__sys_reset();
        mc_sys.fstat = fail_fstat;
        inject(EIO, 1);
        cr_assert(eq(int, mc_manager_new(ctx, &o, &m, &err), -EIO));
        cr_assert(has(&err, "fstat"), "%s", err.message);
        cr_assert(eq(ptr, m, NULL));
        mc__sys_reset();
        cr_assert(eq(int, count_fds(), fds), "no descriptor leaked");
}

Test(manager, fd_reports_a_failed_reopen_and_audits_it) {
        static records r;
        mc_error err = MC_ERROR_INIT;
        mc_audit *a;
        int fd = -1, fds;
        uint64_t id = map("/f", 0, 0, MC_PROT_READ, true);

        cr_assert(eq(int, mc_audit_open_callback(record_cb, &r, &a, NULL), 0));
        mc_ctx_set_audit(ctx, a);
        fds = count_fds();
        mc_sys.open = fail_open;
        inject(ENFILE, 1);
        cr_assert(eq(int, mc_manager_fd(mgr, &me, id, &fd, NULL, &err), -ENFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(has(&err, "reopening Mmap 1"), "%s", err.message);
        cr_assert(eq(int, fd, -1), "untouched on failure");
        expect_record(&r, "mmap_fd", "error", "OutOfMemory");
        mc__sys_reset();
        cr_assert(eq(int, count_fds(), fds));
        cr_assert(eq(int, mc_manager_fd(mgr, &me, id, &fd, NULL, &err), 0), "%s", err.message);
        cr_assert(eq(sz, r.n, 1), "a descriptor handed out is recorded");
        close(fd);
}

Test(manager, failed_range_calls_change_no_page_state_and_no_usage) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping_stats st;
        uint64_t id;

        manager_open(3, 0);
        id = map(NULL, 0, 4 * page, MC_PROT_READ_WRITE, false);
        mc_sys.mprotect = fail_mprotect;
        inject(ENOMEM, 0);
        cr_assert(eq(int, mc_manager_mprotect_range(mgr, &me, id, page, page, MC_PROT_READ, &err),
                     -ENOMEM));
        mc__sys_reset();
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(eq(sz, st.n_ranges, 0), "the pages kept one protection");
        cr_assert(eq(uint, st.prot, MC_PROT_READ_WRITE));
        /* The failed split used none of the client's mappings: two more pieces still fit. */
        cr_assert(
                eq(int, mc_manager_mprotect_range(mgr, &me, id, page, page, MC_PROT_READ, &err), 0),
                "%s", err.message);
        free(st.ranges);
        MC_SKIP_UNDER_VALGRIND("mlock2 is not implemented");
        mc_sys.mlock2 = failing_mlock2;
        failing_errno = EAGAIN;
        cr_assert(eq(int, mc_manager_mlock(mgr, &me, id, 0, page, &err), -EAGAIN));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        mc__sys_reset();
        cr_assert(eq(int, mc_manager_stats(mgr, &me, id, &st, &err), 0));
        cr_assert(eq(u64, st.locked, 0));
        free(st.ranges);
}

Test(manager, a_failed_munmap_keeps_the_mapping_and_its_quota) {
        mc_error err = MC_ERROR_INIT;
        uint64_t id;

        manager_open(1, 0);
        id = map(NULL, 0, page, MC_PROT_READ_WRITE, false);
        mc_sys.munmap = fail_munmap;
        inject(EINVAL, 0);
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, id, &err), -EINVAL));
        mc__sys_reset();
        cr_assert(eq(sz, mc_manager_count(mgr), 1));
        cr_assert(eq(int, map_as(&me, NULL, 0, page, MC_PROT_READ, false, &id, NULL, &err), -EPERM),
                  "the mapping still counts against the client");
        cr_assert(eq(int, mc_manager_munmap(mgr, &me, 1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, mc_manager_count(mgr), 0));
}
