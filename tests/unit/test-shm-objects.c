/* SPDX-License-Identifier: MIT */
/*
 * Shared memory through the public API (memcap/shm.h): creating and opening named POSIX objects
 * and anonymous memfd regions, their modes and owners, and their names. Processes that must see
 * each other's writes are real fork() children, which report through their exit status.
 */

#include "shm-suite.h"

/* ---- create and open ------------------------------------------------------------------------ */

Test(shm, create_is_exclusive) {
        const char *name = name_new("excl");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        int fds, r;

        create_named(ctx, name, 3 * page(), &a);
        memcpy(a.region.ptr, "first", 6);
        fds = count_fds();

        memset(&b, 0x5a, sizeof(b));
        r = try_create(ctx, name, page(), &b, &err);
        assert_err(r, &err, EEXIST, MC_ERR_ALREADY_EXISTS);
        cr_assert(eq(int, b.fd, 0x5a5a5a5a), "ret must be untouched on failure");
        /* The existing object is neither truncated nor reallocated. */
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (3 * page())));
        cr_assert(eq(str, (char *) a.region.ptr, "first"));
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 3 * page(), 1, 1);
}

Test(shm, create_reports_local_owner_and_maps_whole_object) {
        const char *name = name_new("local");
        mc_shared s;
        int flags;

        create_named(ctx, name, 5000, &s);
        cr_assert(eq(int, s.owner, MC_OWNER_LOCAL));
        cr_assert(eq(int, s.owner_pid, getpid()));
        cr_assert(eq(str, s.name, (char *) name));
        cr_assert(eq(sz, s.region.len, 5000));
        cr_assert(eq(u32, s.region.prot, MC_PROT_READ_WRITE));
        cr_assert(eq(u32, s.region.flags, MC_MAP_SHARED));
        cr_assert(not(eq(ptr, s.region.ptr, NULL)));
        cr_assert(ge(int, s.fd, 0));
        flags = fcntl(s.fd, F_GETFD);
        cr_assert(flags & FD_CLOEXEC, "the descriptor must be O_CLOEXEC");
        /* Allocated with its size, and the whole region is usable. */
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, 5000));
        memset(s.region.ptr, 0xab, s.region.len);
        assert_usage(ctx, 2 * page(), 1, 1);
}

Test(shm, open_existing_whole_or_part) {
        const char *name = name_new("open");
        mc_error err = MC_ERROR_INIT;
        mc_shared c, whole, part, big;
        int r;

        create_named(ctx, name, 3 * page() + 10, &c);
        memcpy(c.region.ptr, "shared bytes", 13);

        open_named_ok(ctx, name, 0, MC_PROT_READ_WRITE, &whole);
        cr_assert(eq(sz, whole.region.len, 3 * page() + 10));
        cr_assert(not(eq(ptr, whole.region.ptr, c.region.ptr)));
        cr_assert(eq(str, (char *) whole.region.ptr, "shared bytes"));
        memcpy(whole.region.ptr, "written back", 13);
        cr_assert(eq(str, (char *) c.region.ptr, "written back"));

        open_named_ok(ctx, name, page(), MC_PROT_READ, &part);
        cr_assert(eq(sz, part.region.len, page()));
        cr_assert(eq(u32, part.region.prot, MC_PROT_READ));
        cr_assert(eq(str, (char *) part.region.ptr, "written back"));
        assert_usage(ctx, 4 * page() + 4 * page() + page(), 3, 3);

        r = open_named(ctx, name, 3 * page() + 11, MC_PROT_READ, &big, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        assert_usage(ctx, 9 * page(), 3, 3);
}

Test(shm, open_missing_is_not_found) {
        const char *name = name_new("missing");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds = count_fds(), r;

        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        cr_assert(not(shm_exists(name)), "opening must not create");
        assert_left_nothing(ctx, fds);
}

Test(shm, create_needs_a_size) {
        const char *name = name_new("nosize");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        r = try_create(ctx, name, 0, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(not(shm_exists(name)));
        r = open_anon(ctx, 0, MC_PROT_READ_WRITE, 0, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_map_shared_buffer(ctx, name, 0, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(not(shm_exists(name)));
        assert_usage(ctx, 0, 0, 0);
}

Test(shm, hostile_requests_are_invalid) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        r = mc_shared_open(ctx, NULL, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        req.size = page();
        r = mc_shared_open(ctx, &req, NULL, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_open(NULL, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);

        /* Each row: an anonymous request of one page with one field made hostile. Sizes no
         * mapping can have are invalid whatever errno the size check reports. */
        static const struct {
                const char *what;
                size_t size;
                unsigned prot, flags, seals;
                bool any_errno;
        } rows[] = {
                {"prot 0x80", 0, 0x80, 0, 0, false},
                {"flags PRIVATE", 0, MC_PROT_READ_WRITE, MC_MAP_PRIVATE, 0, false},
                {"unknown seal", 0, MC_PROT_READ_WRITE, 0, 1u << 10, false},
                {"size SIZE_MAX", SIZE_MAX, MC_PROT_READ_WRITE, 0, 0, true},
                {"size PTRDIFF_MAX + 1", (size_t) PTRDIFF_MAX + 1, MC_PROT_READ_WRITE, 0, 0, true},
        };
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                req.size = rows[i].size ? rows[i].size : page();
                req.prot = rows[i].prot;
                req.flags = rows[i].flags;
                req.seals = rows[i].seals;
                r = mc_shared_open(ctx, &req, &s, &err);
                cr_assert(lt(int, r, 0), "%s was accepted", rows[i].what);
                if (rows[i].any_errno)
                        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s: %s",
                                  rows[i].what, err.message);
                else
                        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        }
        assert_usage(ctx, 0, 0, 0);
}

Test(shm, write_exec_region_is_policy_violation) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds = count_fds(), r;

        r = open_anon(ctx, page(), MC_PROT_READ_WRITE_EXECUTE, 0, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        assert_left_nothing(ctx, fds);
}

/* ---- modes and owners ----------------------------------------------------------------------- */

Test(shm, default_mode_is_0600) {
        const char *name = name_new("mode");
        mc_shared s;

        umask(0);
        create_named(ctx, name, page(), &s);
        cr_assert(eq(u32, shm_stat(name).st_mode & 07777, 0600));
        cr_assert(eq(u32, shm_stat(name).st_uid, getuid()));
}

Test(shm, custom_mode_is_used) {
        const char *name = name_new("mode");
        mc_shared_request req = create_request(name, page());
        mc_error err = MC_ERROR_INIT;
        mc_shared s;

        umask(022);
        req.mode = 0640;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &s, &err), 0), "%s", err.message);
        cr_assert(eq(u32, shm_stat(name).st_mode & 07777, 0640));
}

Test(shm, mode_beyond_0777_is_invalid) {
        const char *name = name_new("mode");
        mc_shared_request req = create_request(name, page());
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        req.mode = 04755;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(not(shm_exists(name)));
}

Test(shm, opener_sees_remote_owner_with_creator_pid) {
        const char *name = name_new("owner");
        mc_shared s;
        pid_t pid;

        pid = fork();
        if (pid == 0) {
                mc_shared c;

                if (try_create(ctx, name, page(), &c, NULL) < 0)
                        _exit(10);
                if (c.owner != MC_OWNER_LOCAL || c.owner_pid != getpid())
                        _exit(11);
                memcpy(c.region.ptr, "from the creator", 17);
                _exit(0); /* the object outlives its creator */
        }
        cr_assert(eq(int, child_status(pid), 0));

        open_named_ok(ctx, name, 0, MC_PROT_READ, &s);
        cr_assert(eq(str, (char *) s.region.ptr, "from the creator"));
        cr_assert(eq(int, s.owner, MC_OWNER_REMOTE));
        if (s.owner_pid == 0)
                cr_skip_test("this kernel's tmpfs keeps no user xattrs; the creator is unknown");
        cr_assert(eq(int, s.owner_pid, pid));
}

Test(shm, hostile_owner_attribute_is_not_believed) {
        const char *bad[] = {"-5",   "0",    "12x",   "99999999999",
                             "",     "abc",  "5",     "0 5",
                             "05 6", "5 06", "5  6",  " 5 6",
                             "5 6 ", "5 -6", "5 6 7", "5 99999999999999999999",
                             "5\n6"};
        const char *name = name_new("owner");
        mc_shared c, s;

        create_named(ctx, name, page(), &c);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (fsetxattr(c.fd, "user.memcap.creator_pid", bad[i], strlen(bad[i]), 0) < 0)
                        cr_skip_test("this kernel's tmpfs keeps no user xattrs");
                open_named_ok(ctx, name, 0, MC_PROT_READ, &s);
                cr_assert(eq(int, s.owner, MC_OWNER_REMOTE), "value '%s'", bad[i]);
                cr_assert(eq(int, s.owner_pid, 0), "value '%s'", bad[i]);
                close_ok(ctx, &s);
        }
}

/* Field 22 of /proc/self/stat: this process's start time in clock ticks since boot. */
unsigned long long start_time(void) {
        char buf[1024], *p;
        unsigned long long t = 0;
        FILE *f = fopen("/proc/self/stat", "re");
        size_t n;

        cr_assert(not(eq(ptr, f, NULL)));
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        p = strrchr(buf, ')');
        cr_assert(not(eq(ptr, p, NULL)));
        p += 2;
        for (int field = 3; field < 22; field++) {
                p = strchr(p, ' ');
                cr_assert(not(eq(ptr, p, NULL)));
                p++;
        }
        cr_assert(eq(int, sscanf(p, "%llu", &t), 1));
        return t;
}

/*
 * The creator record names one process, pid and start time, so that a later process that got
 * the same pid is not taken for the creator.
 */
Test(shm, creator_record_survives_pid_reuse) {
        const char *name = name_new("reuse");
        char value[64], got[64];
        mc_shared c, s;
        ssize_t n;

        create_named(ctx, name, page(), &c);
        n = fgetxattr(c.fd, "user.memcap.creator_pid", got, sizeof(got) - 1);
        if (n < 0)
                cr_skip_test("this kernel's tmpfs keeps no user xattrs");
        got[n] = 0;
        snprintf(value, sizeof(value), "%d %llu", (int) getpid(), start_time());
        cr_assert(eq(str, got, value));

        /* Same pid, another start time: the creator was an earlier process. */
        snprintf(value, sizeof(value), "%d %llu", (int) getpid(), start_time() + 1);
        cr_assert(eq(int, fsetxattr(c.fd, "user.memcap.creator_pid", value, strlen(value), 0), 0));
        open_named_ok(ctx, name, 0, MC_PROT_READ, &s);
        cr_assert(eq(int, s.owner, MC_OWNER_REMOTE));
        cr_assert(eq(int, s.owner_pid, getpid()));
        close_ok(ctx, &s);
}

int fail_fsetxattr(int fd, const char *n, const void *v, size_t size, int flags) {
        (void) fd, (void) n, (void) v, (void) size, (void) flags;
        errno = EOPNOTSUPP;
        return -1;
}

ssize_t fail_fgetxattr(int fd, const char *n, void *v, size_t size) {
        (void) fd, (void) n, (void) v, (void) size;
        errno = ENODATA;
        return -1;
}

Test(shm, owner_xattr_is_best_effort) {
        const char *name = name_new("xattr");
        mc_shared c, s;

        mc_sys.fsetxattr = fail_fsetxattr;
        create_named(ctx, name, page(), &c);
        cr_assert(eq(int, c.owner, MC_OWNER_LOCAL));
        cr_assert(eq(int, c.owner_pid, getpid()));
        mc_sys.fgetxattr = fail_fgetxattr;
        open_named_ok(ctx, name, 0, MC_PROT_READ_WRITE, &s);
        cr_assert(eq(int, s.owner, MC_OWNER_REMOTE));
        cr_assert(eq(int, s.owner_pid, 0));
}

/* ---- names ---------------------------------------------------------------------------------- */

Test(shm, invalid_names_are_refused_everywhere) {
        char long_name[300], long_slash[300];
        const char *bad[] = {"",       "/",         "//", "a/b",     "/a/b",    "//a",
                             ".",      "/.",        "..", "/..",     "a\x01",   "\nx",
                             "/a\x7f", "tab\tname", "a/", long_name, long_slash};
        mc_error err = MC_ERROR_INIT;
        int fds = count_fds();

        memset(long_name, 'n', 256);
        long_name[256] = 0;
        long_slash[0] = '/';
        memset(long_slash + 1, 'n', 256);
        long_slash[257] = 0;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mc_shared_request req = create_request(bad[i], page());
                const char *why = NULL;
                mc_shared s;
                int r;

                cr_assert(not(mc_shared_name_valid(bad[i], &why)), "name %zu accepted", i);
                cr_assert(not(eq(ptr, (void *) why, NULL)));
                cr_assert(gt(sz, strlen(why), 0));

                r = mc_shared_open(ctx, &req, &s, &err);
                assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
                req.create = false;
                req.size = 0;
                r = mc_shared_open(ctx, &req, &s, &err);
                assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
                r = mc_map_shared_buffer(ctx, bad[i], page(), &s, &err);
                assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
                r = mc_shared_unlink(ctx, bad[i], &err);
                assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        }
        cr_assert(not(mc_shared_name_valid(NULL, NULL)));
        cr_assert(eq(int, mc_shared_unlink(ctx, NULL, &err), -EINVAL));
        assert_left_nothing(ctx, fds);
}

Test(shm, valid_names) {
        const char *good[] = {
                "a", "/a", "x.y", "...", "-", "name with spaces", "\xc3\xa9t\xc3\xa9"};
        const char *why = "untouched";

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                cr_assert(mc_shared_name_valid(good[i], &why), "name %zu refused", i);
        cr_assert(eq(str, (char *) why, "untouched"), "reason is written only on refusal");
        cr_assert(mc_shared_name_valid("a", NULL));
}

Test(shm, longest_name_works_end_to_end) {
        char name[MC_SHARED_NAME_MAX + 2];
        int n = snprintf(name, sizeof(name), "/memcap-test-shm-long-%d-", (int) getpid());
        mc_error err = MC_ERROR_INIT;
        mc_shared c, o;

        memset(name + n, 'L', sizeof(name) - 1 - (size_t) n);
        name[sizeof(name) - 1] = 0;
        cr_assert(eq(sz, strlen(name + 1), MC_SHARED_NAME_MAX));
        track(name);

        create_named(ctx, name, page(), &c);
        cr_assert(eq(str, c.name, name));
        /* Without the slash, the same 255 bytes name the same object. */
        open_named_ok(ctx, name + 1, 0, MC_PROT_READ_WRITE, &o);
        cr_assert(eq(str, o.name, name));
        cr_assert(eq(int, mc_shared_unlink(ctx, name + 1, &err), 0), "%s", err.message);
        cr_assert(not(shm_exists(name)));
}

Test(shm, both_spellings_name_the_same_object) {
        const char *name = name_new("spell");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        int r;

        /* Created without the slash... */
        create_named(ctx, name + 1, page(), &a);
        cr_assert(eq(str, a.name, (char *) name), "the stored name is normalised to \"/name\"");
        cr_assert(shm_exists(name));
        /* ...it exists under the slashed spelling too. */
        r = try_create(ctx, name, page(), &b, &err);
        assert_err(r, &err, EEXIST, MC_ERR_ALREADY_EXISTS);
        open_named_ok(ctx, name, 0, MC_PROT_READ_WRITE, &b);
        memcpy(b.region.ptr, "one object", 11);
        cr_assert(eq(str, (char *) a.region.ptr, "one object"));
        cr_assert(eq(int, mc_shared_unlink(ctx, name + 1, &err), 0), "%s", err.message);
        r = mc_shared_unlink(ctx, name, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
}
