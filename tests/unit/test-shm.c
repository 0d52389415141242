/* SPDX-License-Identifier: MIT */
/*
 * Shared memory through the public API (memcap/shm.h): named POSIX objects and anonymous memfd
 * regions, their names, owners, modes, policy checks, seals, resizing and the usage they
 * account, and every failure path forced through the system-call seam. Processes that must see
 * each other's writes are real fork() children, which report through their exit status.
 *
 * Every name is unique to the test process and is unlinked by the suite's teardown, also when
 * an assertion ends the test early.
 */

#include "common.h"
#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

/* ---- fixtures and helpers ----------------------------------------------------------------- */

/* Names this test created, unlinked in the teardown whatever happened. */
static char tracked[8][MC_SHARED_NAME_MAX + 2];
static int n_tracked;

static void shm_fini(void) {
        for (int i = 0; i < n_tracked; i++) {
                char path[MC_SHARED_NAME_MAX + 16];

                snprintf(path, sizeof(path), "/dev/shm%.*s", (int) sizeof(tracked[i]), tracked[i]);
                if (shm_unlink(tracked[i]) < 0 && errno == EISDIR)
                        (void) rmdir(path); /* planted by a test */
        }
        n_tracked = 0;
        mc_test_fini();
}

TestSuite(shm, .fini = shm_fini);

/* Unlink @name ("/name") at teardown. */
static void track(const char *name) {
        cr_assert(lt(int, n_tracked, (int) ELEMENTSOF(tracked)));
        strscpy(tracked[n_tracked++], sizeof(tracked[0]), name);
}

/* A name unique to this process ("memcap-test-shm-<what>-<pid>"), unlinked at teardown. */
static const char *name_new(const char *what) {
        char buf[MC_SHARED_NAME_MAX + 2];

        snprintf(buf, sizeof(buf), "/memcap-test-shm-%s-%d", what, (int) getpid());
        track(buf);
        return tracked[n_tracked - 1];
}

static mc_ctx *ctx_new(void) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = NULL;

        cr_assert(eq(int, mc_ctx_new(&ctx, &err), 0), "%s", err.message);
        return ctx;
}

static mc_ctx *ctx_with_policy(mc_policy *policy) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();

        cr_assert(eq(int, mc_ctx_set_policy(ctx, policy, &err), 0), "%s", err.message);
        mc_policy_free(policy);
        return ctx;
}

static mc_policy *policy_new(void) {
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        return p;
}

/* Create a named object of @size bytes, read-write. */
static void create_named(mc_ctx *ctx, const char *name, size_t size, mc_shared *ret) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;

        req.name = name;
        req.size = size;
        req.create = true;
        cr_assert(eq(int, mc_shared_open(ctx, &req, ret, &err), 0), "%s", err.message);
}

/* Create an anonymous region of @size bytes with @seals. */
static void create_anon(mc_ctx *ctx, size_t size, unsigned prot, unsigned seals, mc_shared *ret) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;

        req.size = size;
        req.prot = prot;
        req.seals = seals;
        cr_assert(eq(int, mc_shared_open(ctx, &req, ret, &err), 0), "%s", err.message);
}

/* Open an existing named object without creating it. */
static int open_named(mc_ctx *ctx, const char *name, size_t size, unsigned prot, mc_shared *ret,
                      mc_error *err) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;

        req.name = name;
        req.size = size;
        req.prot = prot;
        return mc_shared_open(ctx, &req, ret, err);
}

static bool shm_exists(const char *name) {
        char path[MC_SHARED_NAME_MAX + 16];
        struct stat st;

        snprintf(path, sizeof(path), "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
        return stat(path, &st) == 0;
}

static struct stat shm_stat(const char *name) {
        char path[MC_SHARED_NAME_MAX + 16];
        struct stat st;

        snprintf(path, sizeof(path), "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
        cr_assert(eq(int, stat(path, &st), 0), "stat %s: %s", path, strerror(errno));
        return st;
}

static void assert_usage(mc_ctx *ctx, uint64_t bytes, uint64_t mappings, uint64_t shared) {
        mc_usage u;

        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, bytes));
        cr_assert(eq(u64, u.mappings, mappings));
        cr_assert(eq(u64, u.shared_objects, shared));
        cr_assert(eq(u64, u.locked_bytes, 0));
}

static void assert_err(int r, const mc_error *err, int errnum, mc_error_kind kind) {
        cr_assert(eq(int, r, -errnum), "r=%d (%s): %s", r, strerror(-r), err->message);
        cr_assert(eq(int, err->sys_errno, errnum), "%s", err->message);
        cr_assert(
                eq(str, (char *) mc_error_kind_name(err->kind), (char *) mc_error_kind_name(kind)),
                "%s", err->message);
        cr_assert(gt(sz, strlen(err->message), 0));
}

static size_t page(void) {
        return mc_page_size();
}

/* ---- create and open ------------------------------------------------------------------------ */

Test(shm, create_is_exclusive) {
        const char *name = name_new("excl");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        mc_ctx *ctx = ctx_new();
        int fds, r;

        create_named(ctx, name, 3 * page(), &a);
        memcpy(a.region.ptr, "first", 6);
        fds = count_fds();

        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        req.name = name;
        req.size = page();
        req.create = true;
        memset(&b, 0x5a, sizeof(b));
        r = mc_shared_open(ctx, &req, &b, &err);
        assert_err(r, &err, EEXIST, MC_ERR_ALREADY_EXISTS);
        cr_assert(eq(int, b.fd, 0x5a5a5a5a), "ret must be untouched on failure");
        /* The existing object is neither truncated nor reallocated. */
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (3 * page())));
        cr_assert(eq(str, (char *) a.region.ptr, "first"));
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 3 * page(), 1, 1);
        mc_ctx_free(ctx);
}

Test(shm, create_reports_local_owner_and_maps_whole_object) {
        const char *name = name_new("local");
        mc_shared s;
        mc_ctx *ctx = ctx_new();
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
        mc_ctx_free(ctx);
}

Test(shm, open_existing_whole_or_part) {
        const char *name = name_new("open");
        mc_error err = MC_ERROR_INIT;
        mc_shared c, whole, part, big;
        mc_ctx *ctx = ctx_new();
        int r;

        create_named(ctx, name, 3 * page() + 10, &c);
        memcpy(c.region.ptr, "shared bytes", 13);

        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ_WRITE, &whole, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, whole.region.len, 3 * page() + 10));
        cr_assert(not(eq(ptr, whole.region.ptr, c.region.ptr)));
        cr_assert(eq(str, (char *) whole.region.ptr, "shared bytes"));
        memcpy(whole.region.ptr, "written back", 13);
        cr_assert(eq(str, (char *) c.region.ptr, "written back"));

        cr_assert(eq(int, open_named(ctx, name, page(), MC_PROT_READ, &part, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, part.region.len, page()));
        cr_assert(eq(u32, part.region.prot, MC_PROT_READ));
        cr_assert(eq(str, (char *) part.region.ptr, "written back"));
        assert_usage(ctx, 4 * page() + 4 * page() + page(), 3, 3);

        r = open_named(ctx, name, 3 * page() + 11, MC_PROT_READ, &big, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        assert_usage(ctx, 9 * page(), 3, 3);
        mc_ctx_free(ctx);
}

Test(shm, open_missing_is_not_found) {
        const char *name = name_new("missing");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int fds = count_fds(), r;

        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        cr_assert(not(shm_exists(name)), "opening must not create");
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

Test(shm, create_needs_a_size) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("nosize");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int r;

        req.name = name;
        req.create = true;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(not(shm_exists(name)));
        req.name = NULL;
        req.create = false;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_map_shared_buffer(ctx, name, 0, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(not(shm_exists(name)));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

Test(shm, hostile_requests_are_invalid) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int r;

        r = mc_shared_open(ctx, NULL, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        req.size = page();
        r = mc_shared_open(ctx, &req, NULL, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_open(NULL, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);

        req.prot = 0x80;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_PRIVATE;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        req.flags = 0;
        req.seals = 1u << 10;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        req.seals = 0;
        req.size = SIZE_MAX;
        r = mc_shared_open(ctx, &req, &s, &err);
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        cr_assert(lt(int, r, 0));
        req.size = (size_t) PTRDIFF_MAX + 1;
        r = mc_shared_open(ctx, &req, &s, &err);
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        cr_assert(lt(int, r, 0));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

Test(shm, write_exec_region_is_policy_violation) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int fds = count_fds(), r;

        req.size = page();
        req.prot = MC_PROT_READ_WRITE_EXECUTE;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

/* ---- modes and owners ----------------------------------------------------------------------- */

Test(shm, default_mode_is_0600) {
        const char *name = name_new("mode");
        mc_shared s;
        mc_ctx *ctx = ctx_new();

        umask(0);
        create_named(ctx, name, page(), &s);
        cr_assert(eq(u32, shm_stat(name).st_mode & 07777, 0600));
        cr_assert(eq(u32, shm_stat(name).st_uid, getuid()));
        mc_ctx_free(ctx);
}

Test(shm, custom_mode_is_used) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("mode");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();

        umask(022);
        req.name = name;
        req.size = page();
        req.create = true;
        req.mode = 0640;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &s, &err), 0), "%s", err.message);
        cr_assert(eq(u32, shm_stat(name).st_mode & 07777, 0640));
        mc_ctx_free(ctx);
}

Test(shm, mode_beyond_0777_is_invalid) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("mode");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int r;

        req.name = name;
        req.size = page();
        req.create = true;
        req.mode = 04755;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(not(shm_exists(name)));
        mc_ctx_free(ctx);
}

Test(shm, opener_sees_remote_owner_with_creator_pid) {
        const char *name = name_new("owner");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        pid_t pid;

        pid = fork();
        if (pid == 0) {
                mc_shared_request req = MC_SHARED_REQUEST_INIT;
                mc_shared c;

                req.name = name;
                req.size = page();
                req.create = true;
                if (mc_shared_open(ctx, &req, &c, NULL) < 0)
                        _exit(10);
                if (c.owner != MC_OWNER_LOCAL || c.owner_pid != getpid())
                        _exit(11);
                memcpy(c.region.ptr, "from the creator", 17);
                _exit(0); /* the object outlives its creator */
        }
        cr_assert(eq(int, child_status(pid), 0));

        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ, &s, &err), 0), "%s", err.message);
        cr_assert(eq(str, (char *) s.region.ptr, "from the creator"));
        cr_assert(eq(int, s.owner, MC_OWNER_REMOTE));
        if (s.owner_pid == 0) {
                mc_ctx_free(ctx);
                cr_skip_test("this kernel's tmpfs keeps no user xattrs; the creator is unknown");
        }
        cr_assert(eq(int, s.owner_pid, pid));
        mc_ctx_free(ctx);
}

Test(shm, hostile_owner_attribute_is_not_believed) {
        const char *bad[] = {"-5",   "0",    "12x",   "99999999999",
                             "",     "abc",  "5",     "0 5",
                             "05 6", "5 06", "5  6",  " 5 6",
                             "5 6 ", "5 -6", "5 6 7", "5 99999999999999999999",
                             "5\n6"};
        const char *name = name_new("owner");
        mc_error err = MC_ERROR_INIT;
        mc_shared c, s;
        mc_ctx *ctx = ctx_new();

        create_named(ctx, name, page(), &c);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                if (fsetxattr(c.fd, "user.memcap.creator_pid", bad[i], strlen(bad[i]), 0) < 0)
                        cr_skip_test("this kernel's tmpfs keeps no user xattrs");
                cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ, &s, &err), 0), "%s",
                          err.message);
                cr_assert(eq(int, s.owner, MC_OWNER_REMOTE), "value '%s'", bad[i]);
                cr_assert(eq(int, s.owner_pid, 0), "value '%s'", bad[i]);
                cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        }
        mc_ctx_free(ctx);
}

/* Field 22 of /proc/self/stat: this process's start time in clock ticks since boot. */
static unsigned long long start_time(void) {
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
        mc_error err = MC_ERROR_INIT;
        char value[64], got[64];
        mc_shared c, s;
        mc_ctx *ctx = ctx_new();
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
        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ, &s, &err), 0), "%s", err.message);
        cr_assert(eq(int, s.owner, MC_OWNER_REMOTE));
        cr_assert(eq(int, s.owner_pid, getpid()));
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        mc_ctx_free(ctx);
}

static int fail_fsetxattr(int fd, const char *n, const void *v, size_t size, int flags) {
        (void) fd, (void) n, (void) v, (void) size, (void) flags;
        errno = EOPNOTSUPP;
        return -1;
}

static ssize_t fail_fgetxattr(int fd, const char *n, void *v, size_t size) {
        (void) fd, (void) n, (void) v, (void) size;
        errno = ENODATA;
        return -1;
}

Test(shm, owner_xattr_is_best_effort) {
        const char *name = name_new("xattr");
        mc_error err = MC_ERROR_INIT;
        mc_shared c, s;
        mc_ctx *ctx = ctx_new();

        mc_sys.fsetxattr = fail_fsetxattr;
        create_named(ctx, name, page(), &c);
        cr_assert(eq(int, c.owner, MC_OWNER_LOCAL));
        cr_assert(eq(int, c.owner_pid, getpid()));
        mc_sys.fgetxattr = fail_fgetxattr;
        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ_WRITE, &s, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, s.owner, MC_OWNER_REMOTE));
        cr_assert(eq(int, s.owner_pid, 0));
        mc_ctx_free(ctx);
}

/* ---- names ---------------------------------------------------------------------------------- */

Test(shm, invalid_names_are_refused_everywhere) {
        char long_name[300], long_slash[300];
        const char *bad[] = {"",       "/",         "//", "a/b",     "/a/b",    "//a",
                             ".",      "/.",        "..", "/..",     "a\x01",   "\nx",
                             "/a\x7f", "tab\tname", "a/", long_name, long_slash};
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        int fds = count_fds();

        memset(long_name, 'n', 256);
        long_name[256] = 0;
        long_slash[0] = '/';
        memset(long_slash + 1, 'n', 256);
        long_slash[257] = 0;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mc_shared_request req = MC_SHARED_REQUEST_INIT;
                const char *why = NULL;
                mc_shared s;
                int r;

                cr_assert(not(mc_shared_name_valid(bad[i], &why)), "name %zu accepted", i);
                cr_assert(not(eq(ptr, (void *) why, NULL)));
                cr_assert(gt(sz, strlen(why), 0));

                req.name = bad[i];
                req.size = page();
                req.create = true;
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
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
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
        mc_ctx *ctx = ctx_new();

        memset(name + n, 'L', sizeof(name) - 1 - (size_t) n);
        name[sizeof(name) - 1] = 0;
        cr_assert(eq(sz, strlen(name + 1), MC_SHARED_NAME_MAX));
        track(name);

        create_named(ctx, name, page(), &c);
        cr_assert(eq(str, c.name, name));
        /* Without the slash, the same 255 bytes name the same object. */
        cr_assert(eq(int, open_named(ctx, name + 1, 0, MC_PROT_READ_WRITE, &o, &err), 0), "%s",
                  err.message);
        cr_assert(eq(str, o.name, name));
        cr_assert(eq(int, mc_shared_unlink(ctx, name + 1, &err), 0), "%s", err.message);
        cr_assert(not(shm_exists(name)));
        mc_ctx_free(ctx);
}

Test(shm, both_spellings_name_the_same_object) {
        const char *name = name_new("spell");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        mc_ctx *ctx = ctx_new();
        int r;

        /* Created without the slash... */
        create_named(ctx, name + 1, page(), &a);
        cr_assert(eq(str, a.name, (char *) name), "the stored name is normalised to \"/name\"");
        cr_assert(shm_exists(name));
        /* ...it exists under the slashed spelling too. */
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        req.name = name;
        req.size = page();
        req.create = true;
        r = mc_shared_open(ctx, &req, &b, &err);
        assert_err(r, &err, EEXIST, MC_ERR_ALREADY_EXISTS);
        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ_WRITE, &b, &err), 0), "%s",
                  err.message);
        memcpy(b.region.ptr, "one object", 11);
        cr_assert(eq(str, (char *) a.region.ptr, "one object"));
        cr_assert(eq(int, mc_shared_unlink(ctx, name + 1, &err), 0), "%s", err.message);
        r = mc_shared_unlink(ctx, name, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        mc_ctx_free(ctx);
}

/* ---- policy ------------------------------------------------------------------------------- */

static mc_ctx *ctx_allowing(const char *pattern) {
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        if (pattern)
                cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, pattern, &err), 0), "%s",
                          err.message);
        return ctx_with_policy(p);
}

Test(shm, policy_patterns_allow_and_deny) {
        char pattern[64];
        const char *ok = name_new("ok"), *no = name_new("no");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        mc_ctx *ctx;
        int fds, r;

        snprintf(pattern, sizeof(pattern), "memcap-test-shm-ok-*");
        ctx = ctx_allowing(pattern);
        create_named(ctx, ok, page(), &a);
        cr_assert(eq(int, mc_shared_close(ctx, &a, &err), 0), "%s", err.message);
        cr_assert(eq(int, open_named(ctx, ok + 1, 0, MC_PROT_READ, &a, &err), 0), "%s",
                  err.message);

        fds = count_fds();
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        req.name = no;
        req.size = page();
        req.create = true;
        r = mc_shared_open(ctx, &req, &b, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(eq(ptr, strstr(err.message, "allowed_shared_memory"), NULL)), "%s",
                  err.message);
        cr_assert(not(shm_exists(no)), "a denied create must not create");
        r = mc_map_shared_buffer(ctx, no, page(), &b, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(no)));
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, page(), 1, 1);

        /* Anonymous regions have no name for the patterns to judge. */
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &b);
        cr_assert(eq(int, mc_shared_unlink(ctx, ok, &err), 0), "%s", err.message);
        mc_ctx_free(ctx);
}

Test(shm, denied_name_is_policy_violation_whether_or_not_it_exists) {
        const char *no = name_new("deny");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_allowing("nothing-matches-*");
        int fds = count_fds(), r;

        /* Absent: a denial, not NotFound, so the policy reveals nothing. */
        r = open_named(ctx, no, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        r = mc_shared_unlink(ctx, no, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);

        /* Present (made behind memcap's back): still a denial, and it stays. */
        int fd = shm_open(no, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, (off_t) page()), 0));
        close(fd);
        r = open_named(ctx, no, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        r = open_named(ctx, no + 1, 2 * page(), MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        r = mc_shared_unlink(ctx, no, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(shm_exists(no));
        cr_assert(eq(int, count_fds(), fds), "the descriptor opened to size the quota leaked");
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

Test(shm, no_patterns_means_no_named_memory) {
        const char *name = name_new("none");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_allowing(NULL);
        int r;

        r = mc_map_shared_buffer(ctx, name, page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(name)));
        cr_assert(eq(int, mc_map_shared_buffer(ctx, NULL, page(), &s, &err), 0), "%s", err.message);
        mc_ctx_free(ctx);
}

Test(shm, operation_not_allowed_is_policy_violation) {
        mc_policy *p = policy_new();
        const char *name = name_new("ops");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx;
        int r;

        cr_assert(eq(int, mc_policy_set_allowed_ops(p, MC_OP_ALL & ~MC_OP_BIT(MC_OP_SHM_OPEN)), 0));
        ctx = ctx_with_policy(p);
        r = mc_map_shared_buffer(ctx, name, page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(name)));
        mc_ctx_free(ctx);
}

/* ---- quotas --------------------------------------------------------------------------------- */

Test(shm, over_quota_creates_nothing) {
        mc_policy *p = policy_new();
        const char *name = name_new("quota");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx;
        int fds, r;

        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 2 * page()), 0));
        ctx = ctx_with_policy(p);
        fds = count_fds();

        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        req.name = name;
        req.size = 2 * page() + 1; /* three pages once rounded */
        req.create = true;
        r = mc_shared_open(ctx, &req, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(eq(ptr, strstr(err.message, "max_memory_usage"), NULL)), "%s", err.message);
        cr_assert(not(shm_exists(name)), "a denied create must leave no object behind");
        r = mc_map_shared_buffer(ctx, name, 3 * page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(name)));
        r = mc_map_shared_buffer(ctx, NULL, 3 * page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);

        /* Exactly the quota fits. */
        req.size = 2 * page();
        cr_assert(eq(int, mc_shared_open(ctx, &req, &s, &err), 0), "%s", err.message);
        assert_usage(ctx, 2 * page(), 1, 1);
        mc_ctx_free(ctx);
}

Test(shm, opening_existing_counts_its_size_against_quota) {
        mc_policy *p = policy_new();
        const char *name = name_new("quota");
        mc_error err = MC_ERROR_INIT;
        mc_shared s, o;
        mc_ctx *big = ctx_new(), *ctx;
        int fds, r;

        create_named(big, name, 4 * page(), &s);
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 2 * page()), 0));
        ctx = ctx_with_policy(p);
        fds = count_fds();
        r = open_named(ctx, name, 0, MC_PROT_READ, &o, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        /* The part that fits may be opened. */
        cr_assert(eq(int, open_named(ctx, name, 2 * page(), MC_PROT_READ, &o, &err), 0), "%s",
                  err.message);
        assert_usage(ctx, 2 * page(), 1, 1);
        mc_ctx_free(ctx);
        mc_ctx_free(big);
}

Test(shm, max_mappings_counts_regions) {
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        mc_ctx *ctx;
        int r;

        cr_assert(eq(int, mc_policy_set_max_mappings(p, 1), 0));
        ctx = ctx_with_policy(p);
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &a);
        r = mc_map_shared_buffer(ctx, NULL, page(), &b, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        assert_usage(ctx, page(), 1, 1);
        mc_ctx_free(ctx);
}

/* ---- unlink ------------------------------------------------------------------------------- */

Test(shm, unlink_keeps_mappings_valid) {
        const char *name = name_new("unlink");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        mc_ctx *ctx = ctx_new();
        int r;

        create_named(ctx, name, 2 * page(), &a);
        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ_WRITE, &b, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0), "%s", err.message);
        cr_assert(not(shm_exists(name)));

        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &b, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        r = mc_shared_unlink(ctx, name, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);

        /* Both mappings still reach the same memory. */
        memset(a.region.ptr, 'x', a.region.len);
        cr_assert(eq(int, ((char *) b.region.ptr)[2 * page() - 1], 'x'));
        assert_usage(ctx, 4 * page(), 2, 2);
        cr_assert(eq(int, mc_shared_close(ctx, &a, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_close(ctx, &b, &err), 0), "%s", err.message);
        assert_usage(ctx, 0, 0, 0);

        /* The name is free again. */
        create_named(ctx, name, page(), &a);
        cr_assert(eq(int, ((char *) a.region.ptr)[0], 0), "a new object starts zeroed");
        mc_ctx_free(ctx);
}

/* ---- map_shared_buffer -------------------------------------------------------------------- */

Test(shm, map_shared_buffer_creates_or_opens_across_processes) {
        const char *name = name_new("buffer");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int pipe_go[2], pipe_done[2];
        pid_t pid;
        char c;

        cr_assert(eq(int, mc_map_shared_buffer(ctx, name, 2 * page(), &s, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, s.owner, MC_OWNER_LOCAL));
        cr_assert(eq(int, s.owner_pid, getpid()));
        cr_assert(eq(sz, s.region.len, 2 * page()));
        cr_assert(eq(u32, s.region.prot, MC_PROT_READ_WRITE));
        memcpy(s.region.ptr, "parent wrote first", sizeof("parent wrote first"));

        cr_assert(eq(int, pipe2(pipe_go, O_CLOEXEC), 0));
        cr_assert(eq(int, pipe2(pipe_done, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                mc_shared t;
                char *p;

                /* Only the parent writes to us: should it die, our read sees end-of-file. */
                close(pipe_go[0]);
                close(pipe_done[1]);
                /* Same name and size: opened, not created, and owned by the parent. */
                if (mc_map_shared_buffer(ctx, name, 2 * page(), &t, NULL) < 0)
                        _exit(10);
                if (t.owner != MC_OWNER_REMOTE)
                        _exit(11);
                if (t.owner_pid != 0 && t.owner_pid != getppid())
                        _exit(12);
                if (t.region.ptr == s.region.ptr)
                        _exit(13); /* must be a mapping of its own, not the inherited one */
                p = t.region.ptr;
                if (strcmp(p, "parent wrote first") != 0)
                        _exit(14);
                memcpy(p + page(), "child answers", 14);
                if (write(pipe_go[1], "g", 1) != 1)
                        _exit(15);
                /* Wait for the parent's second write and see it in our own mapping. */
                if (read(pipe_done[0], &c, 1) != 1)
                        _exit(16);
                if (strcmp(p, "parent again") != 0)
                        _exit(17);
                if (mc_shared_close(ctx, &t, NULL) < 0)
                        _exit(18);
                _exit(0);
        }
        cr_assert(eq(int, read(pipe_go[0], &c, 1), 1));
        cr_assert(eq(str, (char *) s.region.ptr + page(), "child answers"));
        memcpy(s.region.ptr, "parent again", sizeof("parent again"));
        cr_assert(eq(int, write(pipe_done[1], "d", 1), 1));
        cr_assert(eq(int, child_status(pid), 0));
        close(pipe_go[0]);
        close(pipe_go[1]);
        close(pipe_done[0]);
        close(pipe_done[1]);
        mc_ctx_free(ctx);
}

Test(shm, map_shared_buffer_refuses_a_smaller_existing_object) {
        const char *name = name_new("small");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        mc_ctx *ctx = ctx_new();
        int fds, r;

        create_named(ctx, name, page(), &a);
        fds = count_fds();
        r = mc_map_shared_buffer(ctx, name, 2 * page(), &b, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) page()),
                  "the existing object must not be grown");
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, page(), 1, 1);
        /* A smaller buffer of a bigger object is fine. */
        cr_assert(eq(int, mc_map_shared_buffer(ctx, name, 10, &b, &err), 0), "%s", err.message);
        cr_assert(eq(sz, b.region.len, 10));
        cr_assert(eq(int, b.owner, MC_OWNER_LOCAL), "this process created it");
        mc_ctx_free(ctx);
}

Test(shm, anonymous_region_is_shared_with_fork_children) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        pid_t pid;

        cr_assert(eq(int, mc_map_shared_buffer(ctx, NULL, 3 * page(), &s, &err), 0), "%s",
                  err.message);
        cr_assert(eq(str, s.name, ""));
        cr_assert(eq(int, s.owner, MC_OWNER_LOCAL));
        cr_assert(eq(int, s.owner_pid, getpid()));
        memcpy(s.region.ptr, "before fork", sizeof("before fork"));

        pid = fork();
        if (pid == 0) {
                char *p = s.region.ptr;
                if (strcmp(p, "before fork") != 0)
                        _exit(10);
                memcpy(p + 2 * page(), "the child wrote this", sizeof("the child wrote this"));
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        cr_assert(eq(str, (char *) s.region.ptr + 2 * page(), "the child wrote this"));
        mc_ctx_free(ctx);
}

/* ---- seals ---------------------------------------------------------------------------------- */

Test(shm, seal_shrink_refuses_shrinking) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, before;
        unsigned seals = 0;
        mc_ctx *ctx = ctx_new();
        int r;

        create_anon(ctx, 4 * page(), MC_PROT_READ_WRITE, 0, &s);
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, MC_SEAL_SHRINK));
        before = s;
        r = mc_shared_resize(ctx, &s, page(), &err);
        assert_err(r, &err, EPERM, MC_ERR_PERMISSION_DENIED);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0), "a failed resize changes nothing");
        assert_usage(ctx, 4 * page(), 1, 1);
        /* Growing is still allowed. */
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 5 * page(), &err), 0), "%s", err.message);
        assert_usage(ctx, 5 * page(), 1, 1);
        mc_ctx_free(ctx);
}

Test(shm, seal_grow_refuses_growing) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, before;
        unsigned seals = 0;
        mc_ctx *ctx = ctx_new();
        struct stat st;
        int r;

        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_GROW, &err), 0), "%s", err.message);
        before = s;
        r = mc_shared_resize(ctx, &s, 3 * page(), &err);
        assert_err(r, &err, EPERM, MC_ERR_PERMISSION_DENIED);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        cr_assert(eq(int, fstat(s.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (2 * page())));
        assert_usage(ctx, 2 * page(), 1, 1);
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, MC_SEAL_GROW));
        /* Shrinking is still allowed. */
        cr_assert(eq(int, mc_shared_resize(ctx, &s, page(), &err), 0), "%s", err.message);
        assert_usage(ctx, page(), 1, 1);
        mc_ctx_free(ctx);
}

Test(shm, seal_write_needs_no_writable_mapping) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        unsigned seals = 0;
        mc_ctx *ctx = ctx_new();
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_shared_seal(ctx, &s, MC_SEAL_WRITE, &err);
        assert_err(r, &err, EBUSY, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, 0));
        memcpy(s.region.ptr, "still writable", 15);
        mc_ctx_free(ctx);
}

Test(shm, seal_write_at_open_of_a_read_only_region) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        unsigned seals = 0;
        mc_ctx *ctx = ctx_new();
        int fds = count_fds(), r;

        req.size = page();
        req.prot = MC_PROT_READ;
        req.seals = MC_SEAL_WRITE | MC_SEAL_SHRINK | MC_SEAL_GROW;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &s, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, MC_SEAL_WRITE | MC_SEAL_SHRINK | MC_SEAL_GROW));
        cr_assert(eq(int, ((char *) s.region.ptr)[0], 0));
        cr_assert(eq(sz, write(s.fd, "x", 1), -1));
        cr_assert(eq(int, errno, EPERM));
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);

        /* Asking for a write seal on a writable region contradicts itself. */
        req.prot = MC_PROT_READ_WRITE;
        req.seals = MC_SEAL_WRITE;
        r = mc_shared_open(ctx, &req, &s, &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

Test(shm, seal_future_write_keeps_the_existing_mapping_writable) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        unsigned seals = 0;
        mc_ctx *ctx = ctx_new();
        void *p;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_FUTURE_WRITE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, MC_SEAL_FUTURE_WRITE));
        memcpy(s.region.ptr, "written after the seal", sizeof("written after the seal"));
        cr_assert(eq(str, (char *) s.region.ptr, "written after the seal"));
        /* No new way to write: neither write(2) nor a new writable shared mapping. */
        cr_assert(eq(sz, write(s.fd, "x", 1), -1));
        cr_assert(eq(int, errno, EPERM));
        p = mmap(NULL, page(), PROT_READ | PROT_WRITE, MAP_SHARED, s.fd, 0);
        cr_assert(eq(ptr, p, MAP_FAILED));
        mc_ctx_free(ctx);
}

Test(shm, seal_future_write_at_open) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        unsigned seals = 0;
        mc_ctx *ctx = ctx_new();

        /* Seals of the request come after the mapping, so the region itself stays writable. */
        create_anon(ctx, page(), MC_PROT_READ_WRITE, MC_SEAL_FUTURE_WRITE | MC_SEAL_SHRINK, &s);
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, MC_SEAL_FUTURE_WRITE | MC_SEAL_SHRINK));
        memcpy(s.region.ptr, "writable", sizeof("writable"));
        cr_assert(eq(sz, write(s.fd, "x", 1), -1));
        mc_ctx_free(ctx);
}

Test(shm, seal_seal_refuses_further_seals) {
        mc_error err = MC_ERROR_INIT;
        const unsigned all[] = {MC_SEAL_SHRINK, MC_SEAL_GROW, MC_SEAL_FUTURE_WRITE, MC_SEAL_SEAL};
        mc_shared s;
        unsigned seals = 0;
        mc_ctx *ctx = ctx_new();
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_GROW | MC_SEAL_SEAL, &err), 0), "%s",
                  err.message);
        for (size_t i = 0; i < ELEMENTSOF(all); i++) {
                r = mc_shared_seal(ctx, &s, all[i], &err);
                assert_err(r, &err, EPERM, MC_ERR_PERMISSION_DENIED);
        }
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, MC_SEAL_GROW | MC_SEAL_SEAL));
        mc_ctx_free(ctx);
}

Test(shm, seals_accumulate) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        unsigned seals = 99;
        mc_ctx *ctx = ctx_new();

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, 0));
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_GROW, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, &err), 0), "sealing twice is "
                                                                             "harmless");
        cr_assert(eq(int, mc_shared_seals(&s, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, MC_SEAL_SHRINK | MC_SEAL_GROW));
        mc_ctx_free(ctx);
}

Test(shm, seal_arguments) {
        const char *name = name_new("seal");
        mc_error err = MC_ERROR_INIT;
        mc_shared s, n, forged;
        unsigned seals = 99;
        mc_ctx *ctx = ctx_new();
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
        cr_assert(eq(int, mc_shared_seals(&n, &seals, &err), 0), "%s", err.message);
        cr_assert(eq(u32, seals, 0));
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        req.name = name_new("sealreq");
        req.size = page();
        req.create = true;
        req.seals = MC_SEAL_SHRINK;
        r = mc_shared_open(ctx, &req, &forged, &err);
        assert_err(r, &err, EOPNOTSUPP, MC_ERR_UNSUPPORTED);
        cr_assert(not(shm_exists(req.name)));
        mc_ctx_free(ctx);
}

static int fail_add_seals(int fd, int seals) {
        (void) fd, (void) seals;
        errno = EINVAL;
        return -1;
}

static int fail_get_seals(int fd) {
        (void) fd;
        errno = EBADF;
        return -1;
}

Test(shm, seal_failures_are_reported) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_shared s, t;
        unsigned seals = 77;
        mc_ctx *ctx = ctx_new();
        int fds, r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        fds = count_fds();
        mc_sys.add_seals = fail_add_seals;
        r = mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        req.size = page();
        req.seals = MC_SEAL_SHRINK;
        r = mc_shared_open(ctx, &req, &t, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, page(), 1, 1);

        mc_sys.get_seals = fail_get_seals;
        r = mc_shared_seals(&s, &seals, &err);
        assert_err(r, &err, EBADF, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(u32, seals, 77), "untouched on failure");
        mc_ctx_free(ctx);
}

/* ---- resize --------------------------------------------------------------------------------- */

Test(shm, resize_grows_and_shrinks_region_and_usage) {
        const char *name = name_new("resize");
        mc_error err = MC_ERROR_INIT;
        mc_shared s, anon;
        mc_ctx *ctx = ctx_new();
        struct stat st;

        create_named(ctx, name, page(), &s);
        create_anon(ctx, 100, MC_PROT_READ_WRITE, 0, &anon);
        memcpy(s.region.ptr, "kept across resizes", sizeof("kept across resizes"));
        assert_usage(ctx, 2 * page(), 2, 2);

        cr_assert(eq(int, mc_shared_resize(ctx, &s, 10 * page() + 1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, s.region.len, 10 * page() + 1));
        cr_assert(eq(sz, s.region.base_len, 11 * page()));
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (10 * page() + 1)));
        cr_assert(eq(str, (char *) s.region.ptr, "kept across resizes"));
        ((char *) s.region.ptr)[10 * page()] = 'e'; /* the new last byte is usable */
        assert_usage(ctx, 12 * page(), 2, 2);

        cr_assert(eq(int, mc_shared_resize(ctx, &s, 2 * page(), &err), 0), "%s", err.message);
        cr_assert(eq(sz, s.region.len, 2 * page()));
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (2 * page())));
        cr_assert(eq(str, (char *) s.region.ptr, "kept across resizes"));
        assert_usage(ctx, 3 * page(), 2, 2);

        /* Within the same page: the object and len change, the accounting does not. */
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 2 * page() - 5, &err), 0), "%s", err.message);
        cr_assert(eq(sz, s.region.len, 2 * page() - 5));
        assert_usage(ctx, 3 * page(), 2, 2);

        cr_assert(eq(int, mc_shared_resize(ctx, &anon, 3 * page(), &err), 0), "%s", err.message);
        cr_assert(eq(int, fstat(anon.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (3 * page())));
        memset(anon.region.ptr, 1, anon.region.len);
        assert_usage(ctx, 5 * page(), 2, 2);

        /* The region is still a live mapping of the context: it closes cleanly. */
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_close(ctx, &anon, &err), 0), "%s", err.message);
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

Test(shm, resize_sets_the_object_size_also_when_opened_in_part) {
        const char *name = name_new("part");
        mc_error err = MC_ERROR_INIT;
        mc_shared c, s;
        mc_ctx *ctx = ctx_new();

        create_named(ctx, name, 4 * page(), &c);
        cr_assert(eq(int, mc_shared_close(ctx, &c, &err), 0), "%s", err.message);
        cr_assert(eq(int, open_named(ctx, name, page(), MC_PROT_READ_WRITE, &s, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 2 * page(), &err), 0), "%s", err.message);
        cr_assert(eq(sz, s.region.len, 2 * page()));
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (2 * page())));
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 3 * page(), &err), 0), "%s", err.message);
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) (3 * page())));
        ((char *) s.region.ptr)[3 * page() - 1] = 1;
        assert_usage(ctx, 3 * page(), 1, 1);
        mc_ctx_free(ctx);
}

Test(shm, resize_arguments_and_stale_values) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, old;
        mc_ctx *ctx = ctx_new();
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_shared_resize(ctx, &s, 0, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_resize(ctx, NULL, page(), &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_shared_resize(ctx, &s, SIZE_MAX, &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        old = s;
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 64 * page(), &err), 0), "%s", err.message);
        /* The copy from before describes a mapping that no longer exists as such. */
        if (old.region.ptr != s.region.ptr || old.region.base_len != s.region.base_len) {
                r = mc_shared_resize(ctx, &old, page(), &err);
                assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
                r = mc_shared_close(ctx, &old, &err);
                assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        }
        assert_usage(ctx, 64 * page(), 1, 1);
        mc_ctx_free(ctx);
}

Test(shm, resize_over_quota_is_policy_violation) {
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;
        mc_shared s, before;
        mc_ctx *ctx;
        struct stat st;
        int r;

        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 4 * page()), 0));
        ctx = ctx_with_policy(p);
        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        before = s;
        r = mc_shared_resize(ctx, &s, 4 * page() + 1, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        cr_assert(eq(int, fstat(s.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (2 * page())), "the object grew anyway");
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 4 * page(), &err), 0), "%s", err.message);
        assert_usage(ctx, 4 * page(), 1, 1);
        mc_ctx_free(ctx);
}

static int enospc_fallocate(int fd, int mode, off_t off, off_t len) {
        (void) fd, (void) mode, (void) off, (void) len;
        errno = ENOSPC;
        return -1;
}

static int eopnotsupp_fallocate(int fd, int mode, off_t off, off_t len) {
        (void) fd, (void) mode, (void) off, (void) len;
        errno = EOPNOTSUPP;
        return -1;
}

static void *enomem_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr) {
        (void) old, (void) old_len, (void) new_len, (void) flags, (void) new_addr;
        errno = ENOMEM;
        return MAP_FAILED;
}

static int eio_ftruncate(int fd, off_t len) {
        (void) fd, (void) len;
        errno = EIO;
        return -1;
}

static int failing_fstat_eio(int fd, struct stat *st) {
        (void) fd, (void) st;
        errno = EIO;
        return -1;
}

Test(shm, resize_failures_change_nothing) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, before;
        mc_ctx *ctx = ctx_new();
        struct stat st;
        int r;

        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        before = s;

        mc_sys.fallocate = enospc_fallocate;
        r = mc_shared_resize(ctx, &s, 8 * page(), &err);
        assert_err(r, &err, ENOSPC, MC_ERR_OUT_OF_MEMORY);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        assert_usage(ctx, 2 * page(), 1, 1);
        mc__sys_reset();

        mc_sys.ftruncate = eio_ftruncate;
        r = mc_shared_resize(ctx, &s, page(), &err);
        assert_err(r, &err, EIO, MC_ERR_IO);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        assert_usage(ctx, 2 * page(), 1, 1);
        mc__sys_reset();

        /* A failed remap puts the object's size back, so region and object still agree. */
        mc_sys.mremap = enomem_mremap;
        r = mc_shared_resize(ctx, &s, 8 * page(), &err);
        assert_err(r, &err, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        cr_assert(eq(int, fstat(s.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (2 * page())));
        r = mc_shared_resize(ctx, &s, page(), &err);
        assert_err(r, &err, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        cr_assert(eq(int, fstat(s.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (2 * page())),
                  "shrunk under a region that still covers two pages: SIGBUS ahead");
        assert_usage(ctx, 2 * page(), 1, 1);
        mc__sys_reset();

        mc_sys.fstat = failing_fstat_eio;
        r = mc_shared_resize(ctx, &s, 8 * page(), &err);
        assert_err(r, &err, EIO, MC_ERR_IO);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        mc__sys_reset();

        /* Still a live region after all that. */
        memset(s.region.ptr, 1, s.region.len);
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        mc_ctx_free(ctx);
}

Test(shm, resize_without_fallocate_falls_back_to_ftruncate) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        struct stat st;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        mc_sys.fallocate = eopnotsupp_fallocate;
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 3 * page(), &err), 0), "%s", err.message);
        cr_assert(eq(int, fstat(s.fd, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) (3 * page())));
        mc_ctx_free(ctx);
}

Test(shm, resize_keeps_lock_accounting_exact) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_usage u;
        mc_ctx *ctx = ctx_new();
        int r;

        create_anon(ctx, 4 * page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_mlock(ctx, &s.region, 0, MC_LENGTH_ALL, 0, &err);
        if (r < 0 && err.kind == MC_ERR_OUT_OF_MEMORY) {
                mc_ctx_free(ctx);
                cr_skip_test("RLIMIT_MEMLOCK is too small here: %s", err.message);
        }
        cr_assert(eq(int, r, 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 4 * page()));

        /* A wholly locked region stays wholly locked: growth and shrinkage count. */
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 6 * page(), &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 6 * page()));
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 2 * page(), &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 2 * page()));
        cr_assert(eq(u64, u.mapped_bytes, 2 * page()));

        /* Partly locked: a region the kernel keeps in pieces; the resize is refused. */
        cr_assert(eq(int, mc_munlock(ctx, &s.region, page(), page(), &err), 0), "%s", err.message);
        r = mc_shared_resize(ctx, &s, 64 * page(), &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, page()));
        cr_assert(eq(int, mc_mlock(ctx, &s.region, 0, MC_LENGTH_ALL, 0, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_munlock(ctx, &s.region, 0, MC_LENGTH_ALL, &err), 0), "%s",
                  err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 0));

        /* Unlocked again, it resizes. */
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 64 * page(), &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mlock(ctx, &s.region, 0, MC_LENGTH_ALL, 0, &err), 0), "%s",
                  err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 64 * page()));
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 0));
        cr_assert(eq(u64, u.mapped_bytes, 0));
        mc_ctx_free(ctx);
}

Test(shm, resize_over_locked_quota_is_policy_violation) {
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx;
        int r;

        cr_assert(eq(int, mc_policy_set_max_locked_memory(p, 2 * page()), 0));
        ctx = ctx_with_policy(p);
        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_mlock(ctx, &s.region, 0, MC_LENGTH_ALL, 0, &err);
        if (r < 0 && err.kind == MC_ERR_OUT_OF_MEMORY) {
                mc_ctx_free(ctx);
                cr_skip_test("RLIMIT_MEMLOCK is too small here: %s", err.message);
        }
        cr_assert(eq(int, r, 0), "%s", err.message);
        r = mc_shared_resize(ctx, &s, 3 * page(), &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(eq(ptr, strstr(err.message, "max_locked_memory"), NULL)), "%s", err.message);
        mc_ctx_free(ctx);
}

Test(shm, read_only_named_region_cannot_be_resized) {
        const char *name = name_new("roresize");
        mc_error err = MC_ERROR_INIT;
        mc_shared c, s;
        mc_ctx *ctx = ctx_new();
        int r;

        create_named(ctx, name, page(), &c);
        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ, &s, &err), 0), "%s", err.message);
        r = mc_shared_resize(ctx, &s, 2 * page(), &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED), "%s", err.message);
        r = mc_shared_resize(ctx, &s, 10, &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED), "%s", err.message);
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) page()));
        assert_usage(ctx, 2 * page(), 2, 2);
        mc_ctx_free(ctx);
}

/* ---- huge pages ----------------------------------------------------------------------------- */

Test(shm, huge_pages_need_the_policy_and_an_anonymous_region) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new(), *huge;
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
                cr_assert(eq(int, mc_shared_close(huge, &s, &err), 0), "%s", err.message);
        } else {
                cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY), "%s", err.message);
        }
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(huge, 0, 0, 0);
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(huge);
        mc_ctx_free(ctx);
}

/* ---- close ---------------------------------------------------------------------------------- */

Test(shm, close_zeroes_and_second_close_is_not_found) {
        const char *name = name_new("close");
        mc_error err = MC_ERROR_INIT;
        mc_shared s, zero;
        mc_ctx *ctx = ctx_new();
        int fd, fds = count_fds(), r;

        create_named(ctx, name, page(), &s);
        fd = s.fd;
        cr_assert(eq(int, count_fds(), fds + 1));
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        memset(&zero, 0, sizeof(zero));
        zero.fd = -1;
        cr_assert(eq(int, memcmp(&s, &zero, sizeof(s)), 0), "close must zero the struct (fd -1)");
        cr_assert(eq(int, fcntl(fd, F_GETFD), -1), "the descriptor must be closed");
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        cr_assert(shm_exists(name), "a named object stays until unlinked");

        r = mc_shared_close(ctx, &s, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        r = mc_shared_close(ctx, NULL, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        mc_ctx_free(ctx);
}

Test(shm, close_refuses_forged_and_stale_values) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, copy, forged;
        mc_mapping m;
        mc_map_request mreq = MC_MAP_REQUEST_INIT;
        mc_ctx *ctx = ctx_new(), *other = ctx_new();
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        copy = s;

        /* The right region with another descriptor. */
        forged = s;
        forged.fd = dup(s.fd);
        cr_assert(ge(int, forged.fd, 0));
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        close(forged.fd);
        /* The right descriptor with a made-up region. */
        forged = s;
        forged.region.ptr = (char *) s.region.ptr + page();
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* Not a region of that context. */
        r = mc_shared_close(other, &s, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* An ordinary mapping dressed up as a shared object. */
        mreq.length = page();
        mreq.prot = MC_PROT_READ_WRITE;
        mreq.flags = MC_MAP_ANONYMOUS;
        cr_assert(eq(int, mc_mmap(ctx, &mreq, &m, &err), 0), "%s", err.message);
        forged = s;
        forged.region = m;
        forged.fd = -1;
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* Garbage. */
        memset(&forged, 0xff, sizeof(forged));
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        assert_usage(ctx, 2 * page(), 2, 1);

        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        /* The copy taken before the close is stale now. */
        r = mc_shared_close(ctx, &copy, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* The region cannot be unmapped around the object either. */
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_munmap(ctx, &s.region, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        assert_usage(ctx, 2 * page(), 2, 1);
        mc_ctx_free(other);
        mc_ctx_free(ctx);
}

Test(shm, ctx_free_closes_what_is_left) {
        const char *name = name_new("leftover");
        mc_shared a, b;
        mc_ctx *ctx = ctx_new();
        int fds = count_fds();

        create_named(ctx, name, page(), &a);
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &b);
        cr_assert(eq(int, count_fds(), fds + 2));
        mc_ctx_free(ctx);
        cr_assert(eq(int, count_fds(), fds));
        cr_assert(shm_exists(name));
}

Test(shm, region_is_changed_only_through_shm_calls) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, before;
        mc_ctx *ctx = ctx_new();
        int r;

        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        before = s;
        r = mc_remap(ctx, &s.region, 4 * page(), MC_REMAP_MAYMOVE, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_munmap(ctx, &s.region, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        assert_usage(ctx, 2 * page(), 1, 1);
        /* Syncing and advising the region are ordinary mapping calls. */
        cr_assert(eq(int, mc_msync(ctx, &s.region, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0), "%s",
                  err.message);
        cr_assert(
                eq(int, mc_madvise(ctx, &s.region, 0, MC_LENGTH_ALL, MC_ADVICE_WILLNEED, &err), 0),
                "%s", err.message);
        mc_ctx_free(ctx);
}

static void *open_close_loop(void *arg) {
        mc_ctx *ctx = arg;

        for (int i = 0; i < 200; i++) {
                mc_shared s;

                if (mc_map_shared_buffer(ctx, NULL, (size_t) (i % 3 + 1) * mc_page_size(), &s,
                                         NULL) < 0)
                        return (void *) 1;
                ((char *) s.region.ptr)[0] = 1;
                if (mc_shared_resize(ctx, &s, 5 * mc_page_size(), NULL) < 0)
                        return (void *) 2;
                if (mc_shared_close(ctx, &s, NULL) < 0)
                        return (void *) 3;
        }
        return NULL;
}

Test(shm, threads_open_and_close_concurrently, .timeout = 60.0) {
        pthread_t th[4];
        mc_ctx *ctx = ctx_new();
        int fds = count_fds();

        for (size_t i = 0; i < ELEMENTSOF(th); i++)
                cr_assert(eq(int, pthread_create(&th[i], NULL, open_close_loop, ctx), 0));
        for (size_t i = 0; i < ELEMENTSOF(th); i++) {
                void *res;
                cr_assert(eq(int, pthread_join(th[i], &res), 0));
                cr_assert(eq(ptr, res, NULL), "thread %zu failed at step %p", i, res);
        }
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

/* ---- audit -------------------------------------------------------------------------------- */

#define MAX_RECORDS 16

typedef struct records {
        int n;
        char operation[MAX_RECORDS][32];
        mc_error_kind kind[MAX_RECORDS];
        char json[MAX_RECORDS][1024];
} records;

static void record_cb(const mc_audit_record *rec, void *userdata) {
        records *r = userdata;

        if (r->n >= MAX_RECORDS)
                return;
        strscpy(r->operation[r->n], sizeof(r->operation[0]), rec->operation);
        r->kind[r->n] = rec->kind;
        strscpy(r->json[r->n], sizeof(r->json[0]), rec->json);
        r->n++;
}

Test(shm, every_operation_is_audited_once) {
        static const struct {
                const char *op;
                mc_error_kind kind;
                bool named;
        } want[] = {
                {"shm_open", MC_OK, true},
                {"shm_seal", MC_ERR_UNSUPPORTED, true},
                {"shm_resize", MC_OK, true},
                {"shm_close", MC_OK, true},
                {"shm_close", MC_ERR_NOT_FOUND, false},
                {"shm_unlink", MC_OK, true},
                {"shm_open", MC_ERR_NOT_FOUND, true},
                {"shm_open", MC_OK, false},
                {"shm_seal", MC_OK, false},
                {"shm_open", MC_ERR_INVALID_ARGUMENT, false},
        };
        const char *name = name_new("audit");
        char quoted[MC_SHARED_NAME_MAX + 16];
        mc_error err = MC_ERROR_INIT;
        mc_audit *audit = NULL;
        records rec = {0};
        mc_shared s, a;
        mc_ctx *ctx = ctx_new();

        cr_assert(eq(int, mc_audit_open_callback(record_cb, &rec, &audit, &err), 0), "%s",
                  err.message);
        mc_ctx_set_audit(ctx, audit);
        snprintf(quoted, sizeof(quoted), "\"name\":\"%s\"", name);

        create_named(ctx, name + 1, page(), &s);
        cr_assert(lt(int, mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, NULL), 0));
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 2 * page(), &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        cr_assert(lt(int, mc_shared_close(ctx, &s, NULL), 0));
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0), "%s", err.message);
        cr_assert(lt(int, open_named(ctx, name, 0, MC_PROT_READ, &s, NULL), 0));
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &a);
        cr_assert(eq(int, mc_shared_seal(ctx, &a, MC_SEAL_GROW, &err), 0), "%s", err.message);
        cr_assert(lt(int, mc_map_shared_buffer(ctx, "a/b", page(), &s, NULL), 0));

        cr_assert(eq(int, rec.n, (int) ELEMENTSOF(want)));
        for (int i = 0; i < rec.n; i++) {
                cr_assert(eq(str, rec.operation[i], (char *) want[i].op), "record %d", i);
                cr_assert(eq(int, rec.kind[i], want[i].kind), "record %d: %s", i, rec.json[i]);
                cr_assert(eq(int, strstr(rec.json[i], quoted) != NULL, want[i].named),
                          "record %d names the object as \"/name\" exactly when it has one: %s", i,
                          rec.json[i]);
        }
        mc_ctx_free(ctx);
}

/* The record of @op in @rec (the @nth one, from 0), or NULL. */
static const char *record_of(const records *rec, const char *op, int nth) {
        for (int i = 0; i < rec->n; i++)
                if (streq(rec->operation[i], op) && nth-- == 0)
                        return rec->json[i];
        return NULL;
}

static bool has_owner(const char *json, bool local, pid_t pid) {
        char want[64];

        snprintf(want, sizeof(want), "\"owner\":\"%s\",\"owner_pid\":%d",
                 local ? "Local" : "Remote", (int) pid);
        return json && strstr(json, want);
}

/*
 * A region's life can be followed in the log: open, close and unlink records say whose object
 * it is, Local (this process created it, also when it opens it again) or Remote(creator pid),
 * and Remote(0) when nobody recorded a creator.
 */
Test(shm, audit_records_trace_the_owner) {
        const char *name = name_new("trace"), *planted = name_new("planted");
        mc_error err = MC_ERROR_INIT;
        mc_audit *audit = NULL;
        records rec = {0};
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        pid_t self = getpid(), pid;
        int fd;

        cr_assert(eq(int, mc_audit_open_callback(record_cb, &rec, &audit, &err), 0), "%s",
                  err.message);
        mc_ctx_set_audit(ctx, audit);

        create_named(ctx, name, page(), &s);
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ, &s, &err), 0), "%s", err.message);
        if (s.owner == MC_OWNER_REMOTE && s.owner_pid == 0) {
                mc_ctx_free(ctx);
                cr_skip_test("this kernel's tmpfs keeps no user xattrs; the creator is unknown");
        }
        cr_assert(eq(int, s.owner, MC_OWNER_LOCAL), "the creator opening it again owns it");
        cr_assert(eq(int, s.owner_pid, self));
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        cr_assert(has_owner(record_of(&rec, "shm_open", 0), true, self), "%s", rec.json[0]);
        cr_assert(has_owner(record_of(&rec, "shm_close", 0), true, self), "%s", rec.json[1]);
        cr_assert(has_owner(record_of(&rec, "shm_open", 1), true, self), "%s", rec.json[2]);
        cr_assert(has_owner(record_of(&rec, "shm_close", 1), true, self), "%s", rec.json[3]);

        /* Another process opening it sees a Remote region, and says so in its own log. */
        pid = fork();
        if (pid == 0) {
                records crec = {0};
                mc_audit *ca = NULL;
                mc_shared t;

                if (mc_audit_open_callback(record_cb, &crec, &ca, NULL) < 0)
                        _exit(10);
                mc_ctx_set_audit(ctx, ca);
                if (open_named(ctx, name, 0, MC_PROT_READ, &t, NULL) < 0)
                        _exit(11);
                if (t.owner != MC_OWNER_REMOTE || t.owner_pid != self)
                        _exit(12);
                if (mc_shared_close(ctx, &t, NULL) < 0)
                        _exit(13);
                if (!has_owner(record_of(&crec, "shm_open", 0), false, self) ||
                    !has_owner(record_of(&crec, "shm_close", 0), false, self))
                        _exit(14);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));

        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0), "%s", err.message);
        cr_assert(has_owner(record_of(&rec, "shm_unlink", 0), true, self), "%s",
                  record_of(&rec, "shm_unlink", 0));

        /* Made without memcap: nobody recorded a creator. */
        fd = shm_open(planted, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, (off_t) page()), 0));
        close(fd);
        cr_assert(eq(int, open_named(ctx, planted, 0, MC_PROT_READ, &s, &err), 0), "%s",
                  err.message);
        cr_assert(has_owner(record_of(&rec, "shm_open", 2), false, 0), "%s",
                  record_of(&rec, "shm_open", 2));
        cr_assert(eq(int, mc_shared_close(ctx, &s, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_unlink(ctx, planted, &err), 0), "%s", err.message);
        cr_assert(has_owner(record_of(&rec, "shm_unlink", 1), false, 0), "%s",
                  record_of(&rec, "shm_unlink", 1));

        /* A failed open has no object and no owner. */
        cr_assert(lt(int, open_named(ctx, planted, 0, MC_PROT_READ, &s, NULL), 0));
        cr_assert(not(eq(ptr, (void *) record_of(&rec, "shm_open", 3), NULL)));
        cr_assert(eq(ptr, strstr(record_of(&rec, "shm_open", 3), "\"owner\""), NULL));
        mc_ctx_free(ctx);
}

/* ---- failures forced through the seam ------------------------------------------------------- */

static int fail_errno;

static int failing_shm_open(const char *name, int flags, mode_t mode) {
        (void) name, (void) flags, (void) mode;
        errno = fail_errno;
        return -1;
}

static int failing_memfd_create(const char *name, unsigned flags) {
        (void) name, (void) flags;
        errno = fail_errno;
        return -1;
}

static void *failing_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        (void) addr, (void) len, (void) prot, (void) flags, (void) fd, (void) off;
        errno = fail_errno;
        return MAP_FAILED;
}

static int failing_fstat(int fd, struct stat *st) {
        (void) fd, (void) st;
        errno = fail_errno;
        return -1;
}

static int failing_fallocate(int fd, int mode, off_t off, off_t len) {
        (void) fd, (void) mode, (void) off, (void) len;
        errno = fail_errno;
        return -1;
}

/* Run one request with a failure injected and check kind, descriptors, usage and the name. */
static void check_failure(mc_ctx *ctx, const mc_shared_request *req, bool buffer, int errnum,
                          mc_error_kind kind) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds = count_fds(), r;

        memset(&s, 0x5a, sizeof(s));
        fail_errno = errnum;
        r = buffer ? mc_map_shared_buffer(ctx, req->name, req->size, &s, &err)
                   : mc_shared_open(ctx, req, &s, &err);
        assert_err(r, &err, errnum, kind);
        cr_assert(eq(int, s.fd, 0x5a5a5a5a), "ret must be untouched on failure");
        cr_assert(eq(int, count_fds(), fds), "a descriptor leaked");
        assert_usage(ctx, 0, 0, 0);
}

Test(shm, shm_open_failures) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("fail");
        mc_ctx *ctx = ctx_new();

        req.name = name;
        req.size = page();
        req.create = true;
        mc_sys.shm_open = failing_shm_open;
        check_failure(ctx, &req, false, EMFILE, MC_ERR_OUT_OF_MEMORY);
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        check_failure(ctx, &req, true, ENFILE, MC_ERR_OUT_OF_MEMORY);
        req.create = false;
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        cr_assert(not(shm_exists(name)));
        mc_ctx_free(ctx);
}

Test(shm, memfd_create_failures) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_ctx *ctx = ctx_new();

        req.size = page();
        mc_sys.memfd_create = failing_memfd_create;
        check_failure(ctx, &req, false, EMFILE, MC_ERR_OUT_OF_MEMORY);
        check_failure(ctx, &req, true, ENOSYS, MC_ERR_UNSUPPORTED);
        mc_ctx_free(ctx);
}

Test(shm, mmap_failures_unlink_what_was_created) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("mmapfail");
        mc_ctx *ctx = ctx_new();
        mc_shared s;

        req.name = name;
        req.size = page();
        req.create = true;
        mc_sys.mmap = failing_mmap;
        check_failure(ctx, &req, false, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        cr_assert(not(shm_exists(name)), "the half-created object must be unlinked");
        check_failure(ctx, &req, true, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        cr_assert(not(shm_exists(name)));
        req.name = NULL;
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        mc__sys_reset();

        /* Opening an existing object that cannot be mapped leaves the object alone. */
        req.name = name;
        create_named(ctx, name, page(), &s);
        cr_assert(eq(int, mc_shared_close(ctx, &s, NULL), 0));
        mc_sys.mmap = failing_mmap;
        req.create = false;
        req.size = 0;
        check_failure(ctx, &req, false, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        req.size = page();
        check_failure(ctx, &req, true, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        cr_assert(shm_exists(name), "an object this call did not create must stay");
        mc_ctx_free(ctx);
}

Test(shm, fallocate_enospc_is_out_of_memory_and_unlinks) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("enospc");
        mc_ctx *ctx = ctx_new();

        req.name = name;
        req.size = 16 * page();
        req.create = true;
        mc_sys.fallocate = failing_fallocate;
        check_failure(ctx, &req, false, ENOSPC, MC_ERR_OUT_OF_MEMORY);
        cr_assert(not(shm_exists(name)), "the half-created object must be unlinked");
        check_failure(ctx, &req, true, ENOSPC, MC_ERR_OUT_OF_MEMORY);
        cr_assert(not(shm_exists(name)));
        req.name = NULL;
        check_failure(ctx, &req, false, ENOSPC, MC_ERR_OUT_OF_MEMORY);
        check_failure(ctx, &req, false, EIO, MC_ERR_IO);
        mc_ctx_free(ctx);
}

Test(shm, fstat_failure_on_open) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("fstat");
        mc_ctx *ctx = ctx_new();
        mc_shared s;

        create_named(ctx, name, page(), &s);
        cr_assert(eq(int, mc_shared_close(ctx, &s, NULL), 0));
        req.name = name;
        mc_sys.fstat = failing_fstat;
        check_failure(ctx, &req, false, EIO, MC_ERR_IO);
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        cr_assert(shm_exists(name));
        mc_ctx_free(ctx);
}

Test(shm, empty_existing_object_is_invalid) {
        const char *name = name_new("empty");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int fds, fd, r;

        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        close(fd);
        fds = count_fds();
        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

/* Someone else put something that is not a shared memory object under the name. */
static void check_planted(const char *name, unsigned prot) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int fds = count_fds(), r;

        r = open_named(ctx, name, 0, prot, &s, &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int,
                     err.kind == MC_ERR_INVALID_ARGUMENT || err.kind == MC_ERR_PERMISSION_DENIED,
                     1),
                  "%s", err.message);
        r = mc_map_shared_buffer(ctx, name, page(), &s, &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int,
                     err.kind == MC_ERR_INVALID_ARGUMENT || err.kind == MC_ERR_PERMISSION_DENIED,
                     1),
                  "%s", err.message);
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, 0, 0, 0);
        mc_ctx_free(ctx);
}

Test(shm, planted_fifo_is_refused_not_blocked_on, .timeout = 10.0) {
        const char *name = name_new("fifo");
        char path[MC_SHARED_NAME_MAX + 16];

        snprintf(path, sizeof(path), "/dev/shm%s", name);
        cr_assert(eq(int, mkfifo(path, 0666), 0), "%s", strerror(errno));
        check_planted(name, MC_PROT_READ);
        check_planted(name, MC_PROT_READ_WRITE);
}

Test(shm, planted_symlink_is_not_followed) {
        const char *name = name_new("link");
        char path[MC_SHARED_NAME_MAX + 16], target[MC_SHARED_NAME_MAX + 16];
        struct stat st;

        snprintf(path, sizeof(path), "/dev/shm%s", name);
        snprintf(target, sizeof(target), "/dev/shm/memcap-test-shm-target-%d", (int) getpid());
        track(target + strlen("/dev/shm"));
        cr_assert(eq(int, close(open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0600)), 0));
        cr_assert(eq(int, symlink(target, path), 0), "%s", strerror(errno));
        check_planted(name, MC_PROT_READ_WRITE);
        check_planted(name, MC_PROT_READ);
        cr_assert(eq(int, stat(target, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, 0), "the symlink's target was changed");
}

Test(shm, planted_directory_is_refused) {
        const char *name = name_new("dir");
        char path[MC_SHARED_NAME_MAX + 16];

        snprintf(path, sizeof(path), "/dev/shm%s", name);
        cr_assert(eq(int, mkdir(path, 0700), 0), "%s", strerror(errno));
        check_planted(name, MC_PROT_READ);
        check_planted(name, MC_PROT_READ_WRITE);
        cr_assert(eq(int, rmdir(path), 0));
}

Test(shm, read_only_open_of_a_read_only_object) {
        const char *name = name_new("ro");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        mc_ctx *ctx = ctx_new();
        int fd, r;

        if (geteuid() == 0)
                cr_skip_test("root ignores file modes");
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, (off_t) page()), 0));
        close(fd);
        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EACCES, MC_ERR_PERMISSION_DENIED);
        cr_assert(eq(int, open_named(ctx, name, 0, MC_PROT_READ, &s, &err), 0), "%s", err.message);
        cr_assert(eq(u32, s.region.prot, MC_PROT_READ));
        mc_ctx_free(ctx);
}
