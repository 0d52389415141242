/* SPDX-License-Identifier: MIT */
/*
 * mc_mmap and the operations on mappings: argument checks (no system call for bad input), the
 * policy rules, quota arithmetic, stale and foreign mappings, and what each call does to memory.
 */

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "common.h"
#include "audit.h"
#include "failing.h"
#include "mapping.h"
#include "seam.h"

static mc_ctx *ctx;
static size_t page;

static void setup(void) {
        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        page = mc_page_size();
        mc_sys.mmap = count_mmap;
        mc_sys.munmap = count_munmap;
        mc_sys.mprotect = count_mprotect;
}

static void teardown(void) {
        ctx = mc_ctx_free(ctx);
        mc_test_fini();
}

TestSuite(map, .init = setup, .fini = teardown);

static void set_policy(void (*edit)(mc_policy *)) {
        mc_policy *p;
        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        edit(p);
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
}

static void make_file(char *path, size_t size, const char *what) {
        int fd;
        snprintf(path, 128, "/tmp/memcap-test-%s-%d", what, (int) getpid());
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(fd >= 0);
        for (size_t i = 0; i < size; i++)
                cr_assert(eq(int, (int) write(fd, &(char){(char) ('a' + i % 26)}, 1), 1));
        close(fd);
}

Test(map, anonymous_private_roundtrip) {
        mc_error err = MC_ERROR_INIT;
        mc_usage u;
        mc_mapping m;

        anon_map_ok(ctx, 3 * page + 1, MC_PROT_READ_WRITE, &m);
        cr_assert(ne(ptr, m.ptr, NULL));
        cr_assert(eq(sz, m.len, 3 * page + 1));
        cr_assert(eq(sz, m.base_len, 4 * page), "the kernel mapping is page-rounded");
        cr_assert(eq(u32, m.prot, MC_PROT_READ_WRITE));
        cr_assert(eq(u32, m.flags, MC_MAP_ANONYMOUS));
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[3 * page], 0), "anonymous memory is zeroed");
        memset(m.ptr, 0x5a, m.len);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 4 * page));
        cr_assert(eq(u64, u.mappings, 1));

        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        cr_assert(eq(ptr, m.ptr, NULL), "munmap zeroes the value");
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 0));
        cr_assert(eq(u64, u.mappings, 0));
}

/* Each case must fail with the kind, and make no mapping system call. */
static void expect_refused(const mc_map_request *req, mc_error_kind kind, const char *needle) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m = {0};
        int before = n_mmap;

        cr_assert(lt(int, mc_mmap(ctx, req, &m, &err), 0));
        cr_assert(eq(str, (char *) mc_error_kind_name(err.kind), (char *) mc_error_kind_name(kind)),
                  "message: %s", err.message);
        cr_assert(ne(ptr, strstr(err.message, needle), NULL), "message: %s", err.message);
        cr_assert(eq(int, n_mmap, before), "no mmap for refused input");
        cr_assert(eq(ptr, m.ptr, NULL), "ret untouched on failure");
}

Test(map, bad_arguments_make_no_system_call) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        const char *bogus[] = {"MAP_POPULATE", "MAP_TURBO"};
        char path[128];

        make_file(path, 2 * page, "bad");
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_ANONYMOUS;
        req.length = 0;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "length is 0");

        req.length = page;
        req.flags = MC_MAP_ANONYMOUS | MC_MAP_SHARED;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "mc_shared_open");
        req.flags = MC_MAP_PRIVATE | MC_MAP_SHARED;
        req.path = path;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "exclude");
        req.flags = 0;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "MC_MAP_PRIVATE");
        req.flags = MC_MAP_PRIVATE | 0x100;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "unknown flag");
        req.flags = MC_MAP_PRIVATE;
        req.prot = 0x10;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "protection");
        req.prot = MC_PROT_READ;

        req.offset = 100;
        expect_refused(&req, MC_ERR_ALIGNMENT, "page size");
        req.offset = UINT64_MAX - page + 1;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "overflows");
        req.offset = 0;
        req.length = SIZE_MAX - 10;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "overflows");
        req.length = page;

        req.fd = 0;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "not both");
        req.fd = -1;
        req.flags = MC_MAP_ANONYMOUS;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "with a file");
        req.path = NULL;
        req.flags = MC_MAP_PRIVATE;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "no file");

        req.flags = MC_MAP_ANONYMOUS | MC_MAP_FIXED;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "needs an address");
        req.flags = MC_MAP_ANONYMOUS;
        req.custom = bogus;
        req.n_custom = 2;
        expect_refused(&req, MC_ERR_UNSUPPORTED, "MAP_TURBO");
        req.custom = NULL;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "custom is NULL");
        req.n_custom = 0;
        req.length = SIZE_MAX - 10;
        expect_refused(&req, MC_ERR_INVALID_ARGUMENT, "too large");

        cr_assert(lt(int, mc_mmap(ctx, NULL, NULL, NULL), 0));
        cr_assert(eq(int, mc_mmap(NULL, &req, &(mc_mapping){0}, NULL), -EINVAL));
        unlink(path);
}

Test(map, custom_flags_map_to_real_flags) {
        const char *flags[] = {"populate", "MAP_NORESERVE", "STACK"};
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        req.length = 4 * page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS;
        req.custom = flags;
        req.n_custom = 3;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), 0), "%s", err.message);
        ((char *) m.ptr)[0] = 1;
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));

        cr_assert(ne(ptr, (void *) (mc_custom_flag_names()[0]), NULL));
}

static void allow_fixed(mc_policy *p) {
        mc_policy_set_allow_fixed(p, true);
}

Test(map, fixed_needs_policy_and_never_replaces_own_mapping) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping hole, m, other;
        void *addr;

        anon_map_ok(ctx, 2 * page, MC_PROT_READ, &hole);
        addr = hole.ptr;
        req.addr = addr;
        req.length = page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS | MC_MAP_FIXED;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "allow_fixed")), NULL), "%s", err.message);

        set_policy(allow_fixed);
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EINVAL), "overlaps a memcap mapping");
        cr_assert(ne(ptr, (void *) (strstr(err.message, "would replace")), NULL), "%s",
                  err.message);

        req.addr = (char *) addr + 1;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_ALIGNMENT));

        cr_assert(eq(int, mc_munmap(ctx, &hole, &err), 0));
        req.addr = addr;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), 0), "%s", err.message);
        cr_assert(eq(ptr, m.ptr, addr));

        /* MAP_FIXED_NOREPLACE refuses an occupied range instead of replacing it. */
        {
                const char *nr[] = {"MAP_FIXED_NOREPLACE"};
                mc_map_request r2 = MC_MAP_REQUEST_INIT;
                r2.addr = addr;
                r2.length = page;
                r2.prot = MC_PROT_READ;
                r2.flags = MC_MAP_ANONYMOUS;
                r2.custom = nr;
                r2.n_custom = 1;
                cr_assert(eq(int, mc_mmap(ctx, &r2, &other, &err), -EEXIST));
                cr_assert(eq(int, err.kind, MC_ERR_ALREADY_EXISTS));
        }
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

static void allow_wx(mc_policy *p) {
        mc_policy_set_allow_write_exec(p, true);
}

Test(map, write_exec_denied_by_default_also_through_mprotect) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        cr_assert(eq(int, anon_map(ctx, page, MC_PROT_READ_WRITE_EXECUTE, &m, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "allow_write_exec")), NULL));

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        n_mprotect = 0;
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ_WRITE_EXECUTE, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(eq(int, n_mprotect, 0), "denied before the system call");
        cr_assert(eq(u32, m.prot, MC_PROT_READ_WRITE), "unchanged on denial");
        /* Execute alone is no way round it: what was written could run (test-wx.c). */
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ_EXECUTE, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));

        set_policy(allow_wx);
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ_WRITE_EXECUTE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

Test(map, mprotect_read_only_then_write_faults, .signal = SIGSEGV) {
        mc_mapping m;

        cr_assert(eq(int, anon_map(ctx, page, MC_PROT_READ_WRITE, &m, NULL), 0));
        ((volatile char *) m.ptr)[0] = 1;
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ, NULL), 0));
        cr_assert(eq(u32, m.prot, MC_PROT_READ));
        ((volatile char *) m.ptr)[0] = 2; /* SIGSEGV */
}

Test(map, mprotect_range_protects_only_its_pages) {
        mc_error err = MC_ERROR_INIT;
        char buf[4] = "abc";
        mc_mapping m;

        anon_map_ok(ctx, 3 * page, MC_PROT_READ_WRITE, &m);
        n_mprotect = 0;
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, page, page, MC_PROT_READ, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, n_mprotect, 1));
        cr_assert(eq(u32, m.prot, MC_PROT_READ_WRITE), "the union of the parts");
        /* The neighbours stay writable; the middle page refuses before copying anything. */
        cr_assert(eq(int, mc_map_write(ctx, &m, page - 2, buf, 2, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_map_write(ctx, &m, 2 * page, buf, 3, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_map_write(ctx, &m, page - 2, buf, 3, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(ne(ptr, strstr(err.message, "page 1 of mapping"), NULL), "%s", err.message);
        cr_assert(eq(chr, ((char *) m.ptr)[page - 2], 'a'), "nothing of a refused write lands");
        cr_assert(eq(int, mc_map_read(ctx, &m, page - 2, buf, 3, &err), 0), "%s", err.message);
        /* Nothing readable in the middle now: reads across it are refused too. */
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, page, page, MC_PROT_NONE, &err), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, page - 1, buf, 2, &err), -EACCES));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 2, &err), 0), "%s", err.message);
        /* A mapping in pieces cannot be remapped until it is one piece again. */
        cr_assert(eq(int, mc_remap(ctx, &m, page, 0, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "different protections"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, page, MC_LENGTH_ALL, MC_PROT_READ, &err), 0));
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, 0, page, MC_PROT_READ, &err), 0));
        cr_assert(eq(u32, m.prot, MC_PROT_READ), "one protection again");
        cr_assert(eq(int, mc_remap(ctx, &m, page, 0, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

Test(map, mprotect_range_checks_its_range_and_the_policy) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &m);
        n_mprotect = 0;
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, page, 2 * page, MC_PROT_READ, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "ends past the mapping"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, 0, 0, MC_PROT_READ, &err), -EINVAL));
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, 0, page, 8, &err), -EINVAL));
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, 0, page, MC_PROT_READ_WRITE_EXECUTE, &err),
                     -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(eq(int, n_mprotect, 0), "refused before the system call");
        cr_assert(eq(u32, m.prot, MC_PROT_READ_WRITE));
        /* The kernel refusing leaves every page as it was. */
        mc_sys.mprotect = failing_mprotect;
        failing_errno = ENOMEM;
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, page, page, MC_PROT_READ, &err), -ENOMEM));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(eq(u32, m.prot, MC_PROT_READ_WRITE));
        cr_assert(eq(int, mc_map_write(ctx, &m, page, "x", 1, &err), 0), "%s", err.message);
        mc_sys.mprotect = count_mprotect;
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

Test(map, huge_pages_need_policy) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        const char *huge[] = {"MAP_HUGE_2MB"};
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        req.length = 2 << 20;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS | MC_MAP_HUGEPAGE;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "allow_huge_pages")), NULL));
        req.flags = MC_MAP_ANONYMOUS;
        req.custom = huge;
        req.n_custom = 1;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM));
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, MC_ADVICE_HUGEPAGE, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

Test(map, stale_copied_and_foreign_mappings_are_not_found) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, copy, forged;
        mc_ctx *other;
        char *heap = malloc(2 * page);

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        copy = m;
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        n_munmap = 0;
        n_mprotect = 0;
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), -ENOENT), "zeroed value");
        cr_assert(eq(int, mc_munmap(ctx, &copy, &err), -ENOENT), "stale copy");
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "not a live mapping")), NULL));
        cr_assert(eq(int, mc_mprotect(ctx, &copy, MC_PROT_READ, &err), -ENOENT));
        cr_assert(eq(int, mc_msync(ctx, &copy, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), -ENOENT));
        cr_assert(eq(int, mc_madvise(ctx, &copy, 0, MC_LENGTH_ALL, MC_ADVICE_DONTNEED, &err),
                     -ENOENT));
        cr_assert(eq(int, mc_mlock(ctx, &copy, 0, MC_LENGTH_ALL, 0, &err), -ENOENT));
        cr_assert(eq(int, mc_remap(ctx, &copy, 2 * page, MC_REMAP_MAYMOVE, &err), -ENOENT));

        /* A forged value describing heap memory: never touched. */
        memset(heap, 0x77, 2 * page);
        forged = (mc_mapping){.ptr = heap,
                              .len = page,
                              .prot = MC_PROT_READ_WRITE,
                              .flags = MC_MAP_ANONYMOUS,
                              .base = heap,
                              .base_len = page,
                              .id = 1};
        cr_assert(eq(int, mc_munmap(ctx, &forged, &err), -ENOENT));
        cr_assert(eq(int, mc_madvise(ctx, &forged, 0, page, MC_ADVICE_DONTNEED, &err), -ENOENT));
        cr_assert(eq(int, n_munmap, 0));
        cr_assert(eq(int, n_mprotect, 0));
        for (size_t i = 0; i < 2 * page; i++)
                cr_assert(eq(u8, (unsigned char) heap[i], 0x77));
        free(heap);

        /* Another context's mapping is not ours either. */
        cr_assert(eq(int, mc_ctx_new(&other, NULL), 0));
        anon_map_ok(ctx, page, MC_PROT_READ, &m);
        cr_assert(eq(int, mc_munmap(other, &m, &err), -ENOENT));
        mc_ctx_free(other);
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

Test(map, msync_writes_shared_file_mapping_back) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        char path[128], buf[8] = {0};
        mc_mapping m;
        int fd;

        make_file(path, 2 * page, "msync");
        req.path = path;
        req.length = 2 * page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_SHARED;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), 0), "%s", err.message);
        memcpy((char *) m.ptr + page + 10, "SYNCED", 6);
        cr_assert(eq(int, mc_msync(ctx, &m, page + 10, 6, MC_SYNC_SYNC, &err), 0), "%s",
                  err.message);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert(eq(int, (int) pread(fd, buf, 6, (off_t) page + 10), 6));
        cr_assert(eq(str, buf, "SYNCED"));
        close(fd);

        cr_assert(eq(int,
                     mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_ASYNC | MC_SYNC_INVALIDATE, &err),
                     0));
        cr_assert(eq(int, mc_msync(ctx, &m, 0, MC_LENGTH_ALL, 0, &err), -EINVAL));
        cr_assert(eq(int, mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC | MC_SYNC_ASYNC, &err),
                     -EINVAL));
        cr_assert(eq(int, mc_msync(ctx, &m, 0, MC_LENGTH_ALL, 0x80, &err), -EINVAL));
        cr_assert(eq(int, mc_msync(ctx, &m, 2 * page, 1, MC_SYNC_SYNC, &err), -EINVAL));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "ends past")), NULL), "%s", err.message);
        cr_assert(eq(int, mc_msync(ctx, &m, 2 * page + 1, MC_LENGTH_ALL, MC_SYNC_SYNC, &err),
                     -EINVAL));
        cr_assert(eq(int, mc_msync(ctx, &m, 0, 0, MC_SYNC_SYNC, &err), -EINVAL));
        cr_assert(eq(int, mc_msync(ctx, &m, SIZE_MAX, 2, MC_SYNC_SYNC, &err), -EINVAL));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        unlink(path);
}

Test(map, remap_grows_and_shrinks_with_exact_usage) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, stale;
        mc_usage u;

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        memset(m.ptr, 0x42, page);
        stale = m;
        cr_assert(eq(int, mc_remap(ctx, &m, 5 * page + 3, MC_REMAP_MAYMOVE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, m.len, 5 * page + 3));
        cr_assert(eq(sz, m.base_len, 6 * page));
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[page - 1], 0x42), "data kept");
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 6 * page));
        if (stale.ptr != m.ptr || stale.base_len != m.base_len)
                cr_assert(eq(int, mc_munmap(ctx, &stale, &err), -ENOENT), "the old value is stale");

        cr_assert(eq(int, mc_remap(ctx, &m, page, 0, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, page));
        cr_assert(eq(int, mc_remap(ctx, &m, 0, 0, &err), -EINVAL));
        cr_assert(eq(int, mc_remap(ctx, &m, page, 0x8, &err), -EINVAL));
        cr_assert(eq(int, mc_remap(ctx, &m, SIZE_MAX, MC_REMAP_MAYMOVE, &err), -EOVERFLOW));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 0));
}

Test(map, remap_without_maymove_cannot_move) {
        const char *nr[] = {"MAP_FIXED_NOREPLACE"};
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, wall;

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        req.addr = (char *) m.base + page;
        req.length = page;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_ANONYMOUS;
        req.custom = nr;
        req.n_custom = 1;
        if (mc_mmap(ctx, &req, &wall, &err) < 0)
                cr_skip_test("the page after the mapping is taken: %s", err.message);
        cr_assert(eq(int, mc_remap(ctx, &m, 2 * page, 0, &err), -ENOMEM));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "MC_REMAP_MAYMOVE")), NULL), "%s",
                  err.message);
        cr_assert(eq(int, mc_remap(ctx, &m, 2 * page, MC_REMAP_MAYMOVE, &err), 0));
        cr_assert(eq(int, mc_munmap(ctx, &wall, &err), 0));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

static uint64_t quota_bytes;
static void small_quota(mc_policy *p) {
        mc_policy_set_max_memory_usage(p, quota_bytes);
        mc_policy_set_max_mappings(p, 3);
}

Test(map, quota_arithmetic_is_exact) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping a, b, c, d;
        mc_usage u;

        quota_bytes = 3 * page;
        set_policy(small_quota);
        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &a);
        n_mmap = 0;
        cr_assert(eq(int, anon_map(ctx, page + 1, MC_PROT_READ_WRITE, &b, &err), -EPERM),
                  "page-rounded: 2 pages more do not fit");
        cr_assert(eq(int, n_mmap, 0));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "max_memory_usage")), NULL), "%s",
                  err.message);
        cr_assert(eq(int, anon_map(ctx, page, MC_PROT_READ_WRITE, &b, &err), 0),
                  "exactly at the limit");
        cr_assert(eq(int, mc_remap(ctx, &b, 2 * page, MC_REMAP_MAYMOVE, &err), -EPERM),
                  "remap growth is checked too");
        cr_assert(eq(sz, b.len, page), "unchanged after denial");
        cr_assert(eq(int, mc_munmap(ctx, &a, &err), 0));
        cr_assert(eq(int, mc_remap(ctx, &b, 3 * page, MC_REMAP_MAYMOVE, &err), 0), "%s",
                  err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 3 * page));
        cr_assert(eq(u64, u.charged_bytes, 3 * page));
        cr_assert(eq(int, mc_remap(ctx, &b, page, 0, &err), 0));

        /* max_mappings: 3 */
        quota_bytes = 100 * page;
        set_policy(small_quota);
        anon_map_ok(ctx, page, MC_PROT_READ, &c);
        anon_map_ok(ctx, page, MC_PROT_READ, &d);
        cr_assert(eq(int, anon_map(ctx, page, MC_PROT_READ, &a, &err), -EPERM));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "max_mappings")), NULL), "%s", err.message);
        mc_munmap(ctx, &b, NULL);
        mc_munmap(ctx, &c, NULL);
        mc_munmap(ctx, &d, NULL);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 0));
        cr_assert(eq(u64, u.mappings, 0));
}

static void no_mmap_op(mc_policy *p) {
        mc_policy_set_allowed_ops(p,
                                  MC_OP_ALL & ~(MC_OP_BIT(MC_OP_MMAP) | MC_OP_BIT(MC_OP_MUNMAP)));
}

Test(map, allowed_syscalls_gates_operations_but_never_release) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, m2;

        anon_map_ok(ctx, page, MC_PROT_READ, &m);
        set_policy(no_mmap_op);
        cr_assert(eq(int, anon_map(ctx, page, MC_PROT_READ, &m2, &err), -EPERM));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "allowed_syscalls")), NULL), "%s",
                  err.message);
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0), "releasing is always allowed");
}

static char root_dir[128];
static void only_root(mc_policy *p) {
        mc_policy_add_allowed_path(p, root_dir, NULL);
}

Test(map, allowed_paths_judge_the_resolved_file) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        char inside[256], outside[128], link[256], dotdot[300];
        mc_mapping m;

        snprintf(root_dir, sizeof(root_dir), "/tmp/memcap-test-root-%d", (int) getpid());
        cr_assert(eq(int, mkdir(root_dir, 0700), 0));
        snprintf(inside, sizeof(inside), "%s/in", root_dir);
        make_file(outside, page, "outside");
        {
                int fd = open(inside, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                cr_assert(eq(int, ftruncate(fd, (off_t) page), 0));
                close(fd);
        }
        snprintf(link, sizeof(link), "%s/link", root_dir);
        cr_assert(eq(int, symlink(outside, link), 0));
        snprintf(dotdot, sizeof(dotdot), "%s/../memcap-test-outside-%d", root_dir, (int) getpid());
        set_policy(only_root);

        req.length = page;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_PRIVATE;
        req.path = inside;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        n_mmap = 0;
        req.path = outside;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "allowed_paths")), NULL), "%s",
                  err.message);
        req.path = link;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM), "symlink out of the root");
        req.path = dotdot;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM), ".. out of the root");
        cr_assert(eq(int, mc_map_file(ctx, link, MC_PROT_READ, NULL, &m, &err), -EPERM));
        cr_assert(eq(int, n_mmap, 0));

        unlink(link);
        unlink(inside);
        unlink(outside);
        rmdir(root_dir);
}

Test(map, madvise_behaviour_and_checks) {
        mc_error err = MC_ERROR_INIT;
        char path[128];
        mc_mapping m, f;

        anon_map_ok(ctx, 4 * page, MC_PROT_READ_WRITE, &m);
        memset(m.ptr, 0x11, 4 * page);
        cr_assert(eq(int, mc_madvise(ctx, &m, page, page, MC_ADVICE_DONTNEED, &err), 0));
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[page], 0), "DONTNEED zeroes private anon");
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[0], 0x11), "outside the range untouched");
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, MC_ADVICE_WILLNEED, &err), 0));
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, MC_ADVICE_SEQUENTIAL, &err), 0));
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, MC_ADVICE_WIPEONFORK, &err), 0));
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, page, MC_ADVICE_DONTFORK, &err), -EINVAL));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "whole mappings")), NULL));
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, (mc_advice) 999, &err), -EINVAL));
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, 5 * page, MC_ADVICE_NORMAL, &err), -EINVAL));
        cr_assert(eq(str, (char *) mc_advice_name(MC_ADVICE_POPULATE_READ), "POPULATE_READ"));
        cr_assert(eq(ptr, (void *) (mc_advice_name((mc_advice) 999)), NULL));

        make_file(path, page, "advice");
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &f, &err), 0));
        cr_assert(eq(int, mc_madvise(ctx, &f, 0, MC_LENGTH_ALL, MC_ADVICE_WIPEONFORK, &err),
                     -EINVAL));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "private anonymous")), NULL), "%s",
                  err.message);
        cr_assert(eq(int, mc_madvise(ctx, &f, 0, MC_LENGTH_ALL, MC_ADVICE_POPULATE_READ, &err), 0),
                  "%s", err.message);
        cr_assert(eq(int, truncate(path, 0), 0));
        cr_assert(eq(int, mc_madvise(ctx, &f, 0, MC_LENGTH_ALL, MC_ADVICE_POPULATE_READ, &err),
                     -EFAULT));
        cr_assert(eq(int, err.kind, MC_ERR_IO), "%s", err.message);
        mc_munmap(ctx, &f, NULL);
        mc_munmap(ctx, &m, NULL);
        unlink(path);
}

static void small_lock_quota(mc_policy *p) {
        mc_policy_set_max_locked_memory(p, 3 * mc_page_size());
}

Test(map, mlock_accounting_never_counts_twice) {
        mc_error err = MC_ERROR_INIT;
        struct rlimit rl;
        mc_mapping m;
        mc_usage u;

        MC_SKIP_UNDER_VALGRIND("valgrind does not implement mlock2");
        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < 8 * page)
                cr_skip_test("RLIMIT_MEMLOCK too small");
        set_policy(small_lock_quota);
        anon_map_ok(ctx, 4 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_mlock(ctx, &m, page, page, 0, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, page));
        cr_assert(eq(int, mc_mlock(ctx, &m, page, 2 * page, 0, &err), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 2 * page), "the already locked page counts once");
        cr_assert(eq(int, mc_mlock(ctx, &m, 0, MC_LENGTH_ALL, 0, &err), -EPERM),
                  "4 pages exceed the 3-page quota");
        cr_assert(ne(ptr, (void *) (strstr(err.message, "max_locked_memory")), NULL), "%s",
                  err.message);
        cr_assert(eq(int, mc_mlock(ctx, &m, 0, 1, MC_MLOCK_ONFAULT, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 3 * page), "a 1-byte range locks its whole page");
        cr_assert(eq(int, mc_munlock(ctx, &m, 0, 2 * page, &err), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, page));
        cr_assert(eq(int, mc_mlock(ctx, &m, 0, 1, 0x10, &err), -EINVAL));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 0), "unmapping releases locked bytes");
}

Test(map, map_locked_counts_against_locked_quota) {
        const char *locked[] = {"MAP_LOCKED"};
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        mc_usage u;

        set_policy(small_lock_quota);
        req.length = 4 * page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS;
        req.custom = locked;
        req.n_custom = 1;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM));
        cr_assert(ne(ptr, (void *) (strstr(err.message, "max_locked_memory")), NULL));
        req.length = 2 * page;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 2 * page));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 0));
}

/* Audit records, parsed back field by field. */
static audit_kept kept;

/* Record @r is a failure with @outcome ("denied" or "error") and error kind @kind. */
static void assert_failure_record(json_t *r, const char *outcome, const char *kind) {
        cr_assert(eq(str, (char *) json_string_value(json_object_get(r, "outcome")),
                     (char *) outcome));
        cr_assert(
                eq(str,
                   (char *) json_string_value(json_object_get(json_object_get(r, "error"), "kind")),
                   (char *) kind));
}

Test(map, every_operation_leaves_one_audit_record) {
        mc_error err = MC_ERROR_INIT;
        mc_audit *audit;
        mc_mapping m;
        json_t *r;

        cr_assert(eq(int, mc_audit_open_callback(audit_keep, &kept, &audit, NULL), 0));
        mc_ctx_set_audit(ctx, audit);
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ_WRITE_EXECUTE, &err), -EPERM));
        cr_assert(eq(int, mc_msync(ctx, &m, 0, 0, MC_SYNC_SYNC, &err), -EINVAL));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        cr_assert(eq(int, kept.n, 4));

        r = kept.rec[0];
        cr_assert(ne(ptr, (void *) (r), NULL));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(r, "capability")),
                     "core.memory"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(r, "operation")), "mmap"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(r, "outcome")), "ok"));
        cr_assert(eq(i64, json_integer_value(json_object_get(r, "pid")), getpid()));
        cr_assert(eq(i64,
                     json_integer_value(json_object_get(json_object_get(r, "request"), "length")),
                     (long long) page));
        cr_assert(eq(str,
                     (char *) json_string_value(
                             json_object_get(json_object_get(r, "request"), "protection")),
                     "ReadWrite"));
        cr_assert(
                ne(ptr, (void *) (json_object_get(json_object_get(r, "result"), "address")), NULL));

        assert_failure_record(kept.rec[1], "denied", "PolicyViolation");
        r = kept.rec[2];
        assert_failure_record(r, "error", "InvalidArgument");
        cr_assert(eq(i64, json_integer_value(json_object_get(json_object_get(r, "error"), "errno")),
                     EINVAL));
        r = kept.rec[3];
        cr_assert(eq(str, (char *) json_string_value(json_object_get(r, "operation")), "munmap"));
        audit_kept_free(&kept);
}
