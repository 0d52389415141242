/* SPDX-License-Identifier: MIT */
/*
 * What max_memory_usage counts (mc_usage.charged_bytes): memory the kernel cannot simply drop.
 * Read-only and shared file mappings are page cache and count only while locked; private
 * mappings count whole once they are or were writable; anonymous memory that may be written,
 * huge pages, files on tmpfs, memfds and shared memory objects count whole. The charge stays
 * exact through map, mprotect, remap, lock, unlock and unmap (fork: test-fork.c), and every
 * growth of it is checked before the system call.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "common.h"
#include "mapping.h"
#include "seam.h"

#define GiB (UINT64_C(1) << 30)

static mc_ctx *ctx;
static size_t page;
static char path[PATH_MAX];
static char shm_name[64];

static void setup(void) {
        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        page = mc_page_size();
        mc_sys.mmap = count_mmap;
        mc_sys.mprotect = count_mprotect;
}

static void teardown(void) {
        ctx = mc_ctx_free(ctx);
        if (path[0])
                unlink(path);
        if (shm_name[0])
                shm_unlink(shm_name);
        mc_test_fini();
}

TestSuite(quota, .init = setup, .fini = teardown);

static bool memory_fs(const char *dir) {
        struct statfs s;

        if (statfs(dir, &s) < 0)
                return true;
        return s.f_type == TMPFS_MAGIC || s.f_type == RAMFS_MAGIC || s.f_type == HUGETLBFS_MAGIC;
}

/*
 * A sparse file of @size bytes on a disk-backed file system (a file on tmpfs is memory and
 * would count whole), with @mark at its start and at its end.
 */
static void sparse_file(uint64_t size, const char *mark) {
        const char *dirs[] = {getenv("MEMCAP_BUILD_ROOT"), "/var/tmp", "/tmp"};
        size_t n = strlen(mark);
        int fd;

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                if (!dirs[i] || memory_fs(dirs[i]))
                        continue;
                snprintf(path, sizeof(path), "%s/memcap-test-quota-%d", dirs[i], (int) getpid());
                fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0)
                        continue;
                if (ftruncate(fd, (off_t) size) < 0) {
                        close(fd);
                        unlink(path);
                        continue;
                }
                cr_assert(eq(sz, (size_t) pwrite(fd, mark, n, 0), n));
                cr_assert(eq(sz, (size_t) pwrite(fd, mark, n, (off_t) (size - n)), n));
                close(fd);
                return;
        }
        path[0] = 0;
        cr_skip_test("no disk-backed directory can hold a sparse file of %" PRIu64 " bytes", size);
}

/* A small disk-backed file of @pages pages. */
static void small_file(size_t pages) {
        sparse_file(pages * page, "data");
}

static void set_limit(uint64_t bytes) {
        mc_policy *p;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, bytes), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
}

static mc_usage usage(void) {
        mc_usage u;

        mc_ctx_get_usage(ctx, &u);
        return u;
}

static int map_anon(size_t len, unsigned prot, const char *custom, mc_mapping *m, mc_error *err) {
        mc_map_request req = MC_MAP_REQUEST_INIT;

        req.length = len;
        req.prot = prot;
        req.flags = MC_MAP_ANONYMOUS;
        req.custom = custom ? (const char *const[]){custom} : NULL;
        req.n_custom = custom ? 1 : 0;
        return mc_mmap(ctx, &req, m, err);
}

static int map_path(unsigned prot, bool private_copy, mc_mapping *m, mc_error *err) {
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;

        o.private_copy = private_copy;
        return mc_map_file(ctx, path, prot, &o, m, err);
}

/* map_path(), which must succeed. */
static void map_path_ok(unsigned prot, bool private_copy, mc_mapping *m) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, map_path(prot, private_copy, m, &err), 0), "%s", err.message);
}

/* mc_munmap() of @m, which must succeed. */
static void unmap_ok(mc_mapping *m) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_munmap(ctx, m, &err), 0), "%s", err.message);
}

static void assert_quota_denial(int r, const mc_error *err) {
        cr_assert(eq(int, r, -EPERM), "%s", err->message);
        cr_assert(eq(int, err->kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(ne(ptr, strstr(err->message, "max_memory_usage"), NULL), "%s", err->message);
}

/* ---- the default policy -------------------------------------------------------------------- */

Test(quota, read_only_map_of_a_sparse_5gib_file_fits_the_default_policy) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping shared, priv, whole;
        mc_map_request req = MC_MAP_REQUEST_INIT;
        uint64_t size = 5 * GiB + 4;
        char tail[4];

        if (sizeof(size_t) < 8)
                cr_skip_test("a 32-bit address space cannot hold 5 GiB");
        sparse_file(size, "tail");
        map_path_ok(MC_PROT_READ, false, &shared);
        cr_assert(eq(u64, shared.len, size));
        cr_assert(eq(int, mc_map_read(ctx, &shared, shared.len - 4, tail, 4, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, memcmp(tail, "tail", 4), 0));
        map_path_ok(MC_PROT_READ, true, &priv);
        req.path = path;
        req.length = (size_t) size;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_SHARED;
        cr_assert(eq(int, mc_mmap(ctx, &req, &whole, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().mapped_bytes, 3 * shared.base_len));
        cr_assert(eq(u64, usage().charged_bytes, 0), "page cache is not charged");

        /* Making the private one writable would let it copy 5 GiB: checked, and refused. */
        n_mprotect = 0;
        assert_quota_denial(mc_mprotect(ctx, &priv, MC_PROT_READ_WRITE, &err), &err);
        cr_assert(eq(int, n_mprotect, 0), "denied before the system call");
        cr_assert(eq(u32, priv.prot, MC_PROT_READ));
        cr_assert(eq(u64, usage().charged_bytes, 0));

        cr_assert(eq(int, mc_unmap(ctx, &shared, &err), 0));
        cr_assert(eq(int, mc_unmap(ctx, &priv, &err), 0));
        cr_assert(eq(int, mc_unmap(ctx, &whole, &err), 0));
        cr_assert(eq(u64, usage().mapped_bytes, 0));
}

Test(quota, runaway_anonymous_memory_is_still_refused) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        if (sizeof(size_t) < 8)
                cr_skip_test("a 32-bit address space cannot hold 5 GiB");
        n_mmap = 0;
        assert_quota_denial(map_anon(5 * GiB, MC_PROT_READ_WRITE, NULL, &m, &err), &err);
        /* MAP_NORESERVE skips the kernel's commit accounting, but touched pages are memory. */
        assert_quota_denial(map_anon(5 * GiB, MC_PROT_READ_WRITE, "MAP_NORESERVE", &m, &err), &err);
        cr_assert(eq(int, n_mmap, 0), "denied before the system call");

        /* A private writable map of a file: every page may become a private copy. */
        sparse_file(5 * GiB, "x");
        assert_quota_denial(map_path(MC_PROT_READ_WRITE, true, &m, &err), &err);

        /* Reserving address space is free; making it writable is not. */
        anon_map_ok(ctx, 5 * GiB, MC_PROT_NONE, &m);
        cr_assert(eq(u64, usage().charged_bytes, 0));
        assert_quota_denial(mc_mprotect(ctx, &m, MC_PROT_READ_WRITE, &err), &err);
        unmap_ok(&m);
        cr_assert(eq(u64, usage().mapped_bytes, 0));
}

/* ---- exact accounting ---------------------------------------------------------------------- */

Test(quota, mprotect_to_writable_is_checked_and_the_charge_stays) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping priv, shared;

        small_file(8);
        set_limit(4 * page);
        map_path_ok(MC_PROT_READ, true, &priv);
        map_path_ok(MC_PROT_READ_WRITE, false, &shared);
        cr_assert(eq(u64, usage().charged_bytes, 0), "shared writable is page cache too");
        assert_quota_denial(mc_mprotect(ctx, &priv, MC_PROT_READ_WRITE, &err), &err);

        set_limit(8 * page);
        cr_assert(eq(int, mc_mprotect(ctx, &priv, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 8 * page));
        memcpy(priv.ptr, "copied", 6);
        /* Its private copies stay when it becomes read-only again: so does the charge. */
        cr_assert(eq(int, mc_mprotect(ctx, &priv, MC_PROT_READ, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 8 * page));
        cr_assert(eq(int, mc_mprotect(ctx, &priv, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 8 * page), "counted once");
        unmap_ok(&priv);
        cr_assert(eq(u64, usage().charged_bytes, 0));
        unmap_ok(&shared);
        cr_assert(eq(u64, usage().mapped_bytes, 0));
}

Test(quota, remap_moves_the_charge_with_the_size) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping anon, file;

        small_file(4);
        set_limit(6 * page);
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &anon);
        map_path_ok(MC_PROT_READ, false, &file);
        cr_assert(eq(int, mc_remap(ctx, &file, page, 0, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_remap(ctx, &file, 16 * page, MC_REMAP_MAYMOVE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(u64, usage().charged_bytes, page), "a shared file mapping grows for free");

        cr_assert(eq(int, mc_remap(ctx, &anon, 6 * page, MC_REMAP_MAYMOVE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(u64, usage().charged_bytes, 6 * page));
        assert_quota_denial(mc_remap(ctx, &anon, 7 * page, MC_REMAP_MAYMOVE, &err), &err);
        cr_assert(eq(int, mc_remap(ctx, &anon, 2 * page, 0, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 2 * page));
        cr_assert(eq(u64, usage().mapped_bytes, 18 * page));
        unmap_ok(&anon);
        unmap_ok(&file);
        cr_assert(eq(u64, usage().charged_bytes, 0));
        cr_assert(eq(u64, usage().mapped_bytes, 0));
}

Test(quota, locked_page_cache_counts_while_locked) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        int r;

        small_file(4);
        set_limit(2 * page);
        map_path_ok(MC_PROT_READ, false, &m);
        r = mc_mlock(ctx, &m, 0, page, 0, &err);
        if (r < 0 && err.kind == MC_ERR_OUT_OF_MEMORY)
                cr_skip_test("RLIMIT_MEMLOCK is too small here: %s", err.message);
        cr_assert(eq(int, r, 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, page));
        cr_assert(eq(u64, usage().locked_bytes, page));
        cr_assert(eq(int, mc_mlock(ctx, &m, 0, 2 * page, 0, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 2 * page), "the locked page counts once");
        assert_quota_denial(mc_mlock(ctx, &m, 0, MC_LENGTH_ALL, 0, &err), &err);
        cr_assert(eq(u64, usage().locked_bytes, 2 * page), "unchanged by the denial");
        cr_assert(eq(int, mc_munlock(ctx, &m, page, page, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, page));
        unmap_ok(&m);
        cr_assert(eq(u64, usage().charged_bytes, 0));
        cr_assert(eq(u64, usage().locked_bytes, 0));

        /* A private writable mapping counts whole already; locking it adds nothing. */
        set_limit(4 * page);
        anon_map_ok(ctx, 4 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_mlock(ctx, &m, 0, MC_LENGTH_ALL, 0, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 4 * page));
        unmap_ok(&m);
        cr_assert(eq(u64, usage().charged_bytes, 0));
}

/* ---- memory that looks like a file ----------------------------------------------------------- */

Test(quota, tmpfs_files_memfds_and_shared_memory_count_whole) {
        mc_shared_request sreq = MC_SHARED_REQUEST_INIT;
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping file, view;
        mc_shared region;
        int fd;

        if (!memory_fs("/dev/shm"))
                cr_skip_test("/dev/shm is not tmpfs here");
        MC_TEST_NAME(shm_name, "quota");
        fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0), "%s", strerror(errno));
        cr_assert(eq(int, ftruncate(fd, (off_t) (3 * page)), 0));
        close(fd);
        snprintf(path, sizeof(path), "/dev/shm/%s", shm_name);

        /* Even reading a hole of a tmpfs file through a mapping allocates a page. */
        map_path_ok(MC_PROT_READ, false, &file);
        cr_assert(eq(u64, usage().charged_bytes, 3 * page));
        path[0] = 0; /* the teardown unlinks it by its shm name */

        sreq.size = 2 * page;
        cr_assert(eq(int, mc_shared_open(ctx, &sreq, &region, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 5 * page));
        req.fd = region.fd;
        req.length = 2 * page;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_SHARED;
        cr_assert(eq(int, mc_mmap(ctx, &req, &view, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 7 * page), "a memfd is memory");

        set_limit(7 * page);
        assert_quota_denial(mc_shared_resize(ctx, &region, 3 * page, &err), &err);
        unmap_ok(&view);
        cr_assert(eq(int, mc_shared_resize(ctx, &region, 4 * page, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 7 * page));
        cr_assert(eq(int, mc_shared_resize(ctx, &region, page, &err), 0), "%s", err.message);
        cr_assert(eq(u64, usage().charged_bytes, 4 * page));
        cr_assert(eq(int, mc_shared_close(ctx, &region, &err), 0));
        unmap_ok(&file);
        cr_assert(eq(u64, usage().charged_bytes, 0));
        cr_assert(eq(u64, usage().mapped_bytes, 0));
}

static int fail_fstatfs(int fd, struct statfs *st) {
        (void) fd, (void) st;
        errno = EIO;
        return -1;
}

Test(quota, a_file_system_that_cannot_say_what_it_is_counts_as_memory) {
        mc_mapping m;

        small_file(2);
        mc_sys.fstatfs = fail_fstatfs;
        map_path_ok(MC_PROT_READ, false, &m);
        cr_assert(eq(u64, usage().charged_bytes, 2 * page));
        unmap_ok(&m);
        cr_assert(eq(u64, usage().charged_bytes, 0));
}
