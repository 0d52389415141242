/* SPDX-License-Identifier: MIT */
/*
 * The shm suite's fixture (its TestSuite; .init makes each test's context, .fini frees it and
 * unlinks every name the test made) and the helpers its files share (shm-suite.h).
 */

#include "shm-suite.h"

/* ---- fixtures and helpers ----------------------------------------------------------------- */

/* Names this test created, unlinked in the teardown whatever happened. */
char tracked[8][MC_SHARED_NAME_MAX + 2];
int n_tracked;

/* The context of the test, made fresh for each. */
mc_ctx *ctx;

static void shm_init(void) {
        ctx = ctx_new();
}

void shm_fini(void) {
        ctx = mc_ctx_free(ctx);
        for (int i = 0; i < n_tracked; i++) {
                char path[SHM_PATH_MAX];

                shm_path(path, tracked[i]);
                if (shm_unlink(tracked[i]) < 0 && errno == EISDIR)
                        (void) rmdir(path); /* planted by a test */
        }
        n_tracked = 0;
        mc_test_fini();
}

TestSuite(shm, .init = shm_init, .fini = shm_fini);

/* Unlink @name ("/name") at teardown. */
void track(const char *name) {
        cr_assert(lt(int, n_tracked, (int) ELEMENTSOF(tracked)));
        strscpy(tracked[n_tracked++], sizeof(tracked[0]), name);
}

/* A name unique to this process ("memcap-test-shm-<what>-<pid>"), unlinked at teardown. */
const char *name_new(const char *what) {
        char buf[MC_SHARED_NAME_MAX + 2];

        snprintf(buf, sizeof(buf), "/memcap-test-shm-%s-%d", what, (int) getpid());
        track(buf);
        return tracked[n_tracked - 1];
}

mc_ctx *ctx_new(void) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *c = NULL;

        cr_assert(eq(int, mc_ctx_new(&c, &err), 0), "%s", err.message);
        return c;
}

/* Give the test's context @policy, which is freed. */
void use_policy(mc_policy *policy) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_ctx_set_policy(ctx, policy, &err), 0), "%s", err.message);
        mc_policy_free(policy);
}

/* A second context with @policy, which is freed; the test frees the context. */
mc_ctx *ctx_with_policy(mc_policy *policy) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *c = ctx_new();

        cr_assert(eq(int, mc_ctx_set_policy(c, policy, &err), 0), "%s", err.message);
        mc_policy_free(policy);
        return c;
}

mc_policy *policy_new(void) {
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        return p;
}

/* A request that creates the named object @name of @size bytes, read-write. */
mc_shared_request create_request(const char *name, size_t size) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;

        req.name = name;
        req.size = size;
        req.create = true;
        return req;
}

/* mc_shared_open() of create_request(@name, @size): its result. */
int try_create(mc_ctx *c, const char *name, size_t size, mc_shared *ret, mc_error *err) {
        mc_shared_request req = create_request(name, size);

        return mc_shared_open(c, &req, ret, err);
}

/* Create a named object of @size bytes, read-write. */
void create_named(mc_ctx *c, const char *name, size_t size, mc_shared *ret) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, try_create(c, name, size, ret, &err), 0), "%s", err.message);
}

/*
 * mc_shared_open() without creating: the existing object @name, or an anonymous region when
 * @name is NULL, @size bytes of it with @prot and @seals. Its result.
 */
static int open_existing(mc_ctx *c, const char *name, size_t size, unsigned prot, unsigned seals,
                         mc_shared *ret, mc_error *err) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;

        req.name = name;
        req.size = size;
        req.prot = prot;
        req.seals = seals;
        return mc_shared_open(c, &req, ret, err);
}

/* mc_shared_open() of an anonymous region of @size bytes with @prot and @seals: its result. */
int open_anon(mc_ctx *c, size_t size, unsigned prot, unsigned seals, mc_shared *ret,
              mc_error *err) {
        return open_existing(c, NULL, size, prot, seals, ret, err);
}

/* Create an anonymous region of @size bytes with @seals. */
void create_anon(mc_ctx *c, size_t size, unsigned prot, unsigned seals, mc_shared *ret) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, open_anon(c, size, prot, seals, ret, &err), 0), "%s", err.message);
}

/* Open an existing named object without creating it. */
int open_named(mc_ctx *c, const char *name, size_t size, unsigned prot, mc_shared *ret,
               mc_error *err) {
        return open_existing(c, name, size, prot, /* seals= */ 0, ret, err);
}

/* open_named(), which must succeed. */
void open_named_ok(mc_ctx *c, const char *name, size_t size, unsigned prot, mc_shared *ret) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, open_named(c, name, size, prot, ret, &err), 0), "%s", err.message);
}

/* mc_shared_close() of @s, which must succeed. */
void close_ok(mc_ctx *c, mc_shared *s) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_shared_close(c, s, &err), 0), "%s", err.message);
}

/*
 * Make @name as another program would, behind memcap's back: a shared memory object of @size
 * bytes with @mode, and no creator recorded.
 */
void plant(const char *name, mode_t mode, size_t size) {
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);

        cr_assert(ge(int, fd, 0), "shm_open %s: %s", name, strerror(errno));
        if (size > 0)
                cr_assert(eq(int, ftruncate(fd, (off_t) size), 0));
        close(fd);
}

/* Where the object @name (with or without its leading '/') lives: its path under /dev/shm. */
void shm_path(char path[SHM_PATH_MAX], const char *name) {
        int n = snprintf(path, SHM_PATH_MAX, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);

        cr_assert(lt(int, n, SHM_PATH_MAX), "a name too long for a path: %s", name);
}

bool shm_exists(const char *name) {
        char path[SHM_PATH_MAX];
        struct stat st;

        shm_path(path, name);
        return stat(path, &st) == 0;
}

struct stat shm_stat(const char *name) {
        char path[SHM_PATH_MAX];
        struct stat st;

        shm_path(path, name);
        cr_assert(eq(int, stat(path, &st), 0), "stat %s: %s", path, strerror(errno));
        return st;
}

void assert_usage(mc_ctx *c, uint64_t bytes, uint64_t mappings, uint64_t shared) {
        mc_usage u;

        mc_ctx_get_usage(c, &u);
        cr_assert(eq(u64, u.mapped_bytes, bytes));
        cr_assert(eq(u64, u.mappings, mappings));
        cr_assert(eq(u64, u.shared_objects, shared));
        cr_assert(eq(u64, u.locked_bytes, 0));
}

void assert_err(int r, const mc_error *err, int errnum, mc_error_kind kind) {
        cr_assert(eq(int, r, -errnum), "r=%d (%s): %s", r, strerror(-r), err->message);
        cr_assert(eq(int, err->sys_errno, errnum), "%s", err->message);
        cr_assert(
                eq(str, (char *) mc_error_kind_name(err->kind), (char *) mc_error_kind_name(kind)),
                "%s", err->message);
        cr_assert(gt(sz, strlen(err->message), 0));
}

/* A call that failed (@r < 0) with @kind, whatever its errno. */
void assert_kind(int r, const mc_error *err, mc_error_kind kind) {
        cr_assert(lt(int, r, 0), "the call succeeded");
        cr_assert(eq(int, err->kind, kind), "%s", err->message);
}

/* What a failed call must leave: the descriptors of before (@fds) and no usage in @c. */
void assert_left_nothing(mc_ctx *c, int fds) {
        cr_assert(eq(int, count_fds(), fds), "a descriptor leaked");
        assert_usage(c, 0, 0, 0);
}

/* The object behind @fd is @size bytes long. */
void assert_fd_size(int fd, size_t size) {
        struct stat st;

        cr_assert(eq(int, fstat(fd, &st), 0), "%s", strerror(errno));
        cr_assert(eq(i64, (int64_t) st.st_size, (int64_t) size));
}

size_t page(void) {
        return mc_page_size();
}
