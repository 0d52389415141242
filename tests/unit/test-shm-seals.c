/* SPDX-License-Identifier: MIT */
/*
 * Shared memory that changes shape: seals, resizing, and huge pages.
 */

#include "shm-suite.h"

/* ---- helpers -------------------------------------------------------------------------------- */

/* @seals added to @s, which must take them. */
static void seal_ok(mc_ctx *c, mc_shared *s, unsigned seals) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_shared_seal(c, s, seals, &err), 0), "seals 0x%x: %s", seals,
                  err.message);
}

/* The seals @s reads back are exactly @expected. */
static void assert_seals(const mc_shared *s, unsigned expected) {
        mc_error err = MC_ERROR_INIT;
        unsigned seals = ~expected; /* a call that does not write it fails */

        cr_assert(eq(int, mc_shared_seals(s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, expected), "seals 0x%x, expected 0x%x", seals, expected);
}

/* @s resized to @len bytes, which must succeed. */
static void resize_ok(mc_ctx *c, mc_shared *s, size_t len) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_shared_resize(c, s, len, &err), 0), "to %zu bytes: %s", len,
                  err.message);
}

/* mc_mlock() of all of @s; skips the test where RLIMIT_MEMLOCK is too small for it. */
static void lock_or_skip(mc_shared *s) {
        mc_error err = MC_ERROR_INIT;
        int r = mc_mlock(ctx, &s->region, 0, MC_LENGTH_ALL, 0, &err);

        if (r < 0 && err.kind == MC_ERR_OUT_OF_MEMORY)
                cr_skip_test("RLIMIT_MEMLOCK is too small here: %s", err.message);
        cr_assert(eq(int, r, 0), "%s", err.message);
}

/* mc_shared_resize() of @s to @len fails with @errnum and @kind, and leaves @s as it was. */
static void resize_fails(mc_shared *s, size_t len, int errnum, mc_error_kind kind) {
        mc_error err = MC_ERROR_INIT;
        mc_shared before = *s;
        int r = mc_shared_resize(ctx, s, len, &err);

        assert_err(r, &err, errnum, kind);
        cr_assert(eq(int, memcmp(s, &before, sizeof(*s)), 0), "a failed resize changes nothing");
}

/* ---- seals ---------------------------------------------------------------------------------- */

Test(shm, seal_shrink_refuses_shrinking) {
        mc_shared s;

        create_anon(ctx, 4 * page(), MC_PROT_READ_WRITE, 0, &s);
        seal_ok(ctx, &s, MC_SEAL_SHRINK);
        assert_seals(&s, MC_SEAL_SHRINK);
        resize_fails(&s, page(), EPERM, MC_ERR_PERMISSION_DENIED);
        assert_usage(ctx, 4 * page(), 1, 1);
        /* Growing is still allowed. */
        resize_ok(ctx, &s, 5 * page());
        assert_usage(ctx, 5 * page(), 1, 1);
}

Test(shm, seal_grow_refuses_growing) {
        mc_shared s;

        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        seal_ok(ctx, &s, MC_SEAL_GROW);
        resize_fails(&s, 3 * page(), EPERM, MC_ERR_PERMISSION_DENIED);
        assert_fd_size(s.fd, 2 * page());
        assert_usage(ctx, 2 * page(), 1, 1);
        assert_seals(&s, MC_SEAL_GROW);
        /* Shrinking is still allowed. */
        resize_ok(ctx, &s, page());
        assert_usage(ctx, page(), 1, 1);
}

Test(shm, seal_write_needs_no_writable_mapping) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_shared_seal(ctx, &s, MC_SEAL_WRITE, &err);
        assert_err(r, &err, EBUSY, MC_ERR_INVALID_ARGUMENT);
        assert_seals(&s, 0);
        memcpy(s.region.ptr, "still writable", 15);
}

Test(shm, seal_write_at_open_of_a_read_only_region) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds = count_fds(), r;

        create_anon(ctx, page(), MC_PROT_READ, MC_SEAL_WRITE | MC_SEAL_SHRINK | MC_SEAL_GROW, &s);
        assert_seals(&s, MC_SEAL_WRITE | MC_SEAL_SHRINK | MC_SEAL_GROW);
        cr_assert(eq(int, ((char *) s.region.ptr)[0], 0));
        cr_assert(eq(sz, write(s.fd, "x", 1), -1));
        cr_assert(eq(int, errno, EPERM));
        close_ok(ctx, &s);

        /* Asking for a write seal on a writable region contradicts itself. */
        r = open_anon(ctx, page(), MC_PROT_READ_WRITE, MC_SEAL_WRITE, &s, &err);
        assert_kind(r, &err, MC_ERR_INVALID_ARGUMENT);
        assert_left_nothing(ctx, fds);
}

Test(shm, seal_future_write_keeps_the_existing_mapping_writable) {
        mc_shared s;
        void *p;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        seal_ok(ctx, &s, MC_SEAL_FUTURE_WRITE);
        assert_seals(&s, MC_SEAL_FUTURE_WRITE);
        memcpy(s.region.ptr, "written after the seal", sizeof("written after the seal"));
        cr_assert(eq(str, (char *) s.region.ptr, "written after the seal"));
        /* No new way to write: neither write(2) nor a new writable shared mapping. */
        cr_assert(eq(sz, write(s.fd, "x", 1), -1));
        cr_assert(eq(int, errno, EPERM));
        p = mmap(NULL, page(), PROT_READ | PROT_WRITE, MAP_SHARED, s.fd, 0);
        cr_assert(eq(ptr, p, MAP_FAILED));
}

Test(shm, seal_future_write_at_open) {
        mc_shared s;

        /* Seals of the request come after the mapping, so the region itself stays writable. */
        create_anon(ctx, page(), MC_PROT_READ_WRITE, MC_SEAL_FUTURE_WRITE | MC_SEAL_SHRINK, &s);
        assert_seals(&s, MC_SEAL_FUTURE_WRITE | MC_SEAL_SHRINK);
        memcpy(s.region.ptr, "writable", sizeof("writable"));
        cr_assert(eq(sz, write(s.fd, "x", 1), -1));
}

Test(shm, seal_seal_refuses_further_seals) {
        mc_error err = MC_ERROR_INIT;
        const unsigned all[] = {MC_SEAL_SHRINK, MC_SEAL_GROW, MC_SEAL_FUTURE_WRITE, MC_SEAL_SEAL};
        mc_shared s;
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        seal_ok(ctx, &s, MC_SEAL_GROW | MC_SEAL_SEAL);
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                r = mc_shared_seal(ctx, &s, all[i], &err);
                assert_err(r, &err, EPERM, MC_ERR_PERMISSION_DENIED);
        }
        assert_seals(&s, MC_SEAL_GROW | MC_SEAL_SEAL);
}

Test(shm, seals_accumulate) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        assert_seals(&s, 0);
        seal_ok(ctx, &s, MC_SEAL_SHRINK);
        seal_ok(ctx, &s, MC_SEAL_GROW);
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, &err), 0), "sealing twice is "
                                                                             "harmless");
        assert_seals(&s, MC_SEAL_SHRINK | MC_SEAL_GROW);
}

Test(shm, seal_arguments) {
        const char *name = name_new("seal");
        mc_error err = MC_ERROR_INIT;
        mc_shared s, n, forged;
        unsigned seals = 99;
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_shared_seal(ctx, &s, 0, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_seal(ctx, &s, 1u << 9, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_seal(ctx, NULL, MC_SEAL_SHRINK, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, mc_shared_seals(NULL, &seals, &err), -EINVAL));
        cr_assert(eq(int, mc_shared_seals(&s, NULL, &err), -EINVAL));
        forged = s;
        forged.region.id += 1000;
        r = mc_shared_seal(ctx, &forged, MC_SEAL_SHRINK, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);

        /* Named objects cannot be sealed, neither afterwards nor in the request. */
        create_named(ctx, name, page(), &n);
        r = mc_shared_seal(ctx, &n, MC_SEAL_SHRINK, &err);
        assert_err(r, &err, EOPNOTSUPP, MC_ERR_UNSUPPORTED);
        assert_seals(&n, 0);
        mc_shared_request req = create_request(name_new("sealreq"), page());
        req.seals = MC_SEAL_SHRINK;
        r = mc_shared_open(ctx, &req, &forged, &err);
        assert_err(r, &err, EOPNOTSUPP, MC_ERR_UNSUPPORTED);
        cr_assert(not(shm_exists(req.name)));
}

Test(shm, seal_failures_are_reported) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, t;
        unsigned seals = 77;
        int fds, r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        fds = count_fds();
        failing_errno = EINVAL;
        mc_sys.add_seals = failing_add_seals;
        r = mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = open_anon(ctx, page(), MC_PROT_READ_WRITE, MC_SEAL_SHRINK, &t, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, page(), 1, 1);

        failing_errno = EBADF;
        mc_sys.get_seals = failing_get_seals;
        r = mc_shared_seals(&s, &seals, &err);
        assert_err(r, &err, EBADF, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(u32, seals, 77), "untouched on failure");
}

/* ---- resize --------------------------------------------------------------------------------- */

Test(shm, resize_grows_and_shrinks_region_and_usage) {
        const char *name = name_new("resize");
        mc_shared s, anon;

        create_named(ctx, name, page(), &s);
        create_anon(ctx, 100, MC_PROT_READ_WRITE, 0, &anon);
        memcpy(s.region.ptr, "kept across resizes", sizeof("kept across resizes"));
        assert_usage(ctx, 2 * page(), 2, 2);

        resize_ok(ctx, &s, 10 * page() + 1);
        cr_assert(eq(sz, s.region.len, 10 * page() + 1));
        cr_assert(eq(sz, s.region.base_len, 11 * page()));
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (10 * page() + 1)));
        cr_assert(eq(str, (char *) s.region.ptr, "kept across resizes"));
        ((char *) s.region.ptr)[10 * page()] = 'e'; /* the new last byte is usable */
        assert_usage(ctx, 12 * page(), 2, 2);

        resize_ok(ctx, &s, 2 * page());
        cr_assert(eq(sz, s.region.len, 2 * page()));
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (2 * page())));
        cr_assert(eq(str, (char *) s.region.ptr, "kept across resizes"));
        assert_usage(ctx, 3 * page(), 2, 2);

        /* Within the same page: the object and len change, the accounting does not. */
        resize_ok(ctx, &s, 2 * page() - 5);
        cr_assert(eq(sz, s.region.len, 2 * page() - 5));
        assert_usage(ctx, 3 * page(), 2, 2);

        resize_ok(ctx, &anon, 3 * page());
        assert_fd_size(anon.fd, 3 * page());
        memset(anon.region.ptr, 1, anon.region.len);
        assert_usage(ctx, 5 * page(), 2, 2);

        /* The region is still a live mapping of the context: it closes cleanly. */
        close_ok(ctx, &s);
        close_ok(ctx, &anon);
        assert_usage(ctx, 0, 0, 0);
}

Test(shm, resize_sets_the_object_size_also_when_opened_in_part) {
        const char *name = name_new("part");
        mc_shared c, s;

        create_named(ctx, name, 4 * page(), &c);
        close_ok(ctx, &c);
        open_named_ok(ctx, name, page(), MC_PROT_READ_WRITE, &s);
        resize_ok(ctx, &s, 2 * page());
        cr_assert(eq(sz, s.region.len, 2 * page()));
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (2 * page())));
        resize_ok(ctx, &s, 3 * page());
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (3 * page())));
        ((char *) s.region.ptr)[3 * page() - 1] = 1;
        assert_usage(ctx, 3 * page(), 1, 1);
}

Test(shm, resize_arguments_and_stale_values) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, old;
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_shared_resize(ctx, &s, 0, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_resize(ctx, NULL, page(), &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_resize(ctx, &s, SIZE_MAX, &err);
        assert_kind(r, &err, MC_ERR_INVALID_ARGUMENT);
        old = s;
        resize_ok(ctx, &s, 64 * page());
        /* The copy from before describes a mapping that no longer exists as such. */
        if (old.region.ptr != s.region.ptr || old.region.base_len != s.region.base_len) {
                r = mc_shared_resize(ctx, &old, page(), &err);
                assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
                r = mc_shared_close(ctx, &old, &err);
                assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        }
        assert_usage(ctx, 64 * page(), 1, 1);
}

Test(shm, resize_over_quota_is_policy_violation) {
        mc_policy *p = policy_new();
        mc_shared s;
        struct stat st;

        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 4 * page()), 0));
        use_policy(p);
        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        resize_fails(&s, 4 * page() + 1, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(eq(int, fstat(s.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (2 * page())), "the object grew anyway");
        resize_ok(ctx, &s, 4 * page());
        assert_usage(ctx, 4 * page(), 1, 1);
}

Test(shm, resize_failures_change_nothing) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, before;
        struct stat st;
        int r;

        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        before = s;

        failing_errno = ENOSPC;
        mc_sys.fallocate = failing_fallocate;
        resize_fails(&s, 8 * page(), ENOSPC, MC_ERR_OUT_OF_MEMORY);
        assert_usage(ctx, 2 * page(), 1, 1);
        mc__sys_reset();

        failing_errno = EIO;
        mc_sys.ftruncate = failing_ftruncate;
        resize_fails(&s, page(), EIO, MC_ERR_IO);
        assert_usage(ctx, 2 * page(), 1, 1);
        mc__sys_reset();

        /* A failed remap puts the object's size back, so region and object still agree. */
        failing_errno = ENOMEM;
        mc_sys.mremap = failing_mremap;
        resize_fails(&s, 8 * page(), ENOMEM, MC_ERR_OUT_OF_MEMORY);
        assert_fd_size(s.fd, 2 * page());
        r = mc_shared_resize(ctx, &s, page(), &err);
        assert_err(r, &err, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        cr_assert(eq(int, fstat(s.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (2 * page())),
                  "shrunk under a region that still covers two pages: SIGBUS ahead");
        assert_usage(ctx, 2 * page(), 1, 1);
        mc__sys_reset();

        failing_errno = EIO;
        mc_sys.fstat = failing_fstat;
        resize_fails(&s, 8 * page(), EIO, MC_ERR_IO);
        mc__sys_reset();
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0), "the failures changed the region");

        /* Still a live region after all that. */
        memset(s.region.ptr, 1, s.region.len);
        close_ok(ctx, &s);
}

Test(shm, resize_without_fallocate_falls_back_to_ftruncate) {
        mc_shared s;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        failing_errno = EOPNOTSUPP;
        mc_sys.fallocate = failing_fallocate;
        resize_ok(ctx, &s, 3 * page());
        assert_fd_size(s.fd, 3 * page());
}

Test(shm, resize_keeps_lock_accounting_exact) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_usage u;
        int r;

        create_anon(ctx, 4 * page(), MC_PROT_READ_WRITE, 0, &s);
        lock_or_skip(&s);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 4 * page()));

        /* A wholly locked region stays wholly locked: growth and shrinkage count. */
        resize_ok(ctx, &s, 6 * page());
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 6 * page()));
        resize_ok(ctx, &s, 2 * page());
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 2 * page()));
        cr_assert(eq(u64, u.mapped_bytes, 2 * page()));

        /* Partly locked: a region the kernel keeps in pieces; the resize is refused. */
        cr_assert(eq(int, mc_munlock(ctx, &s.region, page(), page(), &err), 0), "%s", err.message);
        r = mc_shared_resize(ctx, &s, 64 * page(), &err);
        assert_kind(r, &err, MC_ERR_INVALID_ARGUMENT);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, page()));
        cr_assert(eq(int, mc_mlock(ctx, &s.region, 0, MC_LENGTH_ALL, 0, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_munlock(ctx, &s.region, 0, MC_LENGTH_ALL, &err), 0), "%s",
                  err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 0));

        /* Unlocked again, it resizes. */
        resize_ok(ctx, &s, 64 * page());
        cr_assert(eq(int, mc_mlock(ctx, &s.region, 0, MC_LENGTH_ALL, 0, &err), 0), "%s",
                  err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 64 * page()));
        close_ok(ctx, &s);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 0));
        cr_assert(eq(u64, u.mapped_bytes, 0));
}

Test(shm, resize_over_locked_quota_is_policy_violation) {
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        cr_assert(eq(int, mc_policy_set_max_locked_memory(p, 2 * page()), 0));
        use_policy(p);
        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        lock_or_skip(&s);
        r = mc_shared_resize(ctx, &s, 3 * page(), &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(eq(ptr, strstr(err.message, "max_locked_memory"), NULL)), "%s", err.message);
}

Test(shm, read_only_named_region_cannot_be_resized) {
        const char *name = name_new("roresize");
        mc_error err = MC_ERROR_INIT;
        mc_shared c, s;
        int r;

        create_named(ctx, name, page(), &c);
        open_named_ok(ctx, name, 0, MC_PROT_READ, &s);
        r = mc_shared_resize(ctx, &s, 2 * page(), &err);
        assert_kind(r, &err, MC_ERR_PERMISSION_DENIED);
        r = mc_shared_resize(ctx, &s, 10, &err);
        assert_kind(r, &err, MC_ERR_PERMISSION_DENIED);
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) page()));
        assert_usage(ctx, 2 * page(), 2, 2);
}

/* ---- huge pages ----------------------------------------------------------------------------- */

Test(shm, huge_pages_need_the_policy_and_an_anonymous_region) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *huge;
        int fds = count_fds(), r;

        req.size = page();
        req.flags = MC_MAP_HUGEPAGE;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        req.name = name_new("huge");
        req.create = true;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(not(shm_exists(req.name)));
        req.name = NULL;
        req.create = false;
        req.seals = MC_SEAL_SHRINK;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, count_fds(), fds));

        /* Allowed: a region of whole huge pages, or OutOfMemory when the system has none. */
        cr_assert(eq(int, mc_policy_set_allow_huge_pages(p, true), 0));
        huge = ctx_with_policy(p);
        req.seals = 0;
        r = mc_shared_open(huge, &req, &s, &err);
        if (r == 0) {
                cr_assert(eq(sz, s.region.len, page()));
                cr_assert(eq(sz, s.region.base_len % mc__huge_page_size(), 0));
                assert_usage(huge, s.region.base_len, 1, 1);
                memset(s.region.ptr, 1, s.region.len);
                close_ok(huge, &s);
        } else {
                cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY), "%s", err.message);
        }
        assert_left_nothing(huge, fds);
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(huge);
}
