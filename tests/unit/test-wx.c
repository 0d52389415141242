/* SPDX-License-Identifier: MIT */
/*
 * "Never writable and executable" per object, not per mapping: two views of one file, shared
 * memory object or memfd alias the same pages, so an executable view of an object with a live
 * writable shared view in the context is refused, and so is the reverse, whether the view is
 * mapped or made so by mprotect; and a mapping that was ever writable never becomes
 * executable. All of it is PolicyViolation by allow_write_exec, decided before any system
 * call, and allowed when the policy sets allow_write_exec.
 */

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "common.h"
#include "seam.h"

static mc_ctx *ctx;
static size_t page;
static char path[PATH_MAX];
static char shm_name[64];

static bool noexec(const char *dir) {
        struct statvfs s;

        return dir && (statvfs(dir, &s) < 0 || (s.f_flag & ST_NOEXEC));
}

/* The test file lives where executable mappings are possible (not on a noexec mount). */
static void setup(void) {
        const char *dirs[] = {"/tmp", getenv("MEMCAP_BUILD_ROOT"), "/var/tmp"};
        int fd;

        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        page = mc_page_size();
        MC_TEST_NAME(shm_name, "wx");
        path[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(dirs) && !path[0]; i++)
                if (dirs[i] && !noexec(dirs[i]))
                        snprintf(path, sizeof(path), "%s/memcap-test-wx-%d", dirs[i],
                                 (int) getpid());
        if (!path[0])
                return; /* need_exec() skips */
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
        cr_assert(ge(int, fd, 0), "%s: %s", path, strerror(errno));
        cr_assert(eq(int, ftruncate(fd, (off_t) (2 * page)), 0));
        close(fd);
        mc_sys.mmap = count_mmap;
        mc_sys.mprotect = count_mprotect;
}

static void need_exec(void) {
        if (!path[0])
                cr_skip_test("every candidate directory is on a noexec mount");
}

static void teardown(void) {
        ctx = mc_ctx_free(ctx);
        if (path[0])
                unlink(path);
        shm_unlink(shm_name);
        mc_test_fini();
}

TestSuite(wx, .init = setup, .fini = teardown);

static int map_file(const char *file, unsigned prot, bool shared, mc_mapping *m, mc_error *err) {
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;

        o.private_copy = !shared;
        return mc_map_file(ctx, file, prot, &o, m, err);
}

static int map_fd(int fd, size_t len, unsigned prot, bool shared, mc_mapping *m, mc_error *err) {
        mc_map_request req = MC_MAP_REQUEST_INIT;

        req.fd = fd;
        req.length = len;
        req.prot = prot;
        req.flags = shared ? MC_MAP_SHARED : MC_MAP_PRIVATE;
        return mc_mmap(ctx, &req, m, err);
}

static void allow_write_exec(void) {
        mc_policy *p;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_policy_set_allow_write_exec(p, true), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
}

/* Refused by allow_write_exec with a message that says why, and no system call made. */
static void assert_wx_denied(int r, const mc_error *err, const char *why, int mmaps,
                             int mprotects) {
        cr_assert(eq(int, r, -EPERM), "%s", err->message);
        cr_assert(eq(int, err->kind, MC_ERR_POLICY_VIOLATION), "%s", err->message);
        cr_assert(ne(ptr, strstr(err->message, "allow_write_exec"), NULL), "%s", err->message);
        cr_assert(ne(ptr, strstr(err->message, why), NULL), "'%s' not in: %s", why, err->message);
        cr_assert(eq(int, n_mmap, mmaps), "no mmap for a denial");
        cr_assert(eq(int, n_mprotect, mprotects), "no mprotect for a denial");
}

#define WRITABLE_SHARED "has a writable shared mapping"
#define EXECUTABLE      "has an executable mapping"
#define WAS_WRITABLE    "the mapping was writable"

/* ---- files ----------------------------------------------------------------------------------- */

Test(wx, file_writable_shared_then_executable) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping w, x, r;

        need_exec();

        cr_assert(eq(int, map_file(path, MC_PROT_READ_WRITE, true, &w, &err), 0), "%s",
                  err.message);
        n_mmap = 0;
        assert_wx_denied(map_file(path, MC_PROT_READ_EXECUTE, false, &x, &err), &err,
                         WRITABLE_SHARED, 0, 0);
        assert_wx_denied(map_file(path, MC_PROT_READ_EXECUTE, true, &x, &err), &err,
                         WRITABLE_SHARED, 0, 0);
        /* Read-only views are fine, and cannot be made executable while w lives. */
        cr_assert(eq(int, map_file(path, MC_PROT_READ, true, &r, &err), 0), "%s", err.message);
        n_mmap = n_mprotect = 0;
        assert_wx_denied(mc_mprotect(ctx, &r, MC_PROT_READ_EXECUTE, &err), &err, WRITABLE_SHARED, 0,
                         0);
        cr_assert(eq(u32, r.prot, MC_PROT_READ));

        /* Once the writable view is gone, nothing aliases any more. */
        cr_assert(eq(int, mc_munmap(ctx, &w, &err), 0));
        cr_assert(eq(int, mc_mprotect(ctx, &r, MC_PROT_READ_EXECUTE, &err), 0), "%s", err.message);
        cr_assert(eq(int, map_file(path, MC_PROT_READ_EXECUTE, false, &x, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_munmap(ctx, &x, &err), 0));
        cr_assert(eq(int, mc_munmap(ctx, &r, &err), 0));
}

Test(wx, file_executable_then_writable_shared) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping x, w, r;
        int fd;

        need_exec();

        cr_assert(eq(int, map_file(path, MC_PROT_READ_EXECUTE, false, &x, &err), 0), "%s",
                  err.message);
        n_mmap = 0;
        assert_wx_denied(map_file(path, MC_PROT_READ_WRITE, true, &w, &err), &err, EXECUTABLE, 0,
                         0);
        /* A private writable view writes to copies nobody else sees: no alias. */
        cr_assert(eq(int, map_file(path, MC_PROT_READ_WRITE, false, &w, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_munmap(ctx, &w, &err), 0));
        /* A shared read-only view (of a descriptor open for writing) cannot become writable
         * while x lives. */
        fd = open(path, O_RDWR | O_CLOEXEC);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, map_fd(fd, page, MC_PROT_READ, true, &r, &err), 0), "%s", err.message);
        n_mmap = n_mprotect = 0;
        assert_wx_denied(mc_mprotect(ctx, &r, MC_PROT_READ_WRITE, &err), &err, EXECUTABLE, 0, 0);

        cr_assert(eq(int, mc_munmap(ctx, &x, &err), 0));
        cr_assert(eq(int, mc_mprotect(ctx, &r, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_munmap(ctx, &r, &err), 0));
        close(fd);
}

Test(wx, a_descriptor_and_another_path_are_the_same_object) {
        mc_error err = MC_ERROR_INIT;
        char link[PATH_MAX + 8];
        mc_mapping w, x;
        int fd;

        need_exec();

        fd = open(path, O_RDWR | O_CLOEXEC);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, map_fd(fd, page, MC_PROT_READ_WRITE, true, &w, &err), 0), "%s",
                  err.message);
        snprintf(link, sizeof(link), "%s.link", path);
        cr_assert(eq(int, symlink(path, link), 0));
        n_mmap = 0;
        assert_wx_denied(map_file(link, MC_PROT_READ_EXECUTE, false, &x, &err), &err,
                         WRITABLE_SHARED, 0, 0);
        unlink(link);
        cr_assert(eq(int, mc_munmap(ctx, &w, &err), 0));
        close(fd);
}

/* ---- mprotect of a mapping that was writable ----------------------------------------------- */

Test(wx, once_writable_never_executable) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping anon, priv;

        need_exec();

        req.length = page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS;
        cr_assert(eq(int, mc_mmap(ctx, &req, &anon, &err), 0), "%s", err.message);
        memcpy(anon.ptr, "\xc3", 1); /* ret: what was written could run */
        n_mprotect = 0;
        n_mmap = 0;
        assert_wx_denied(mc_mprotect(ctx, &anon, MC_PROT_READ_EXECUTE, &err), &err, WAS_WRITABLE, 0,
                         0);
        /* Through read-only first makes no difference. */
        cr_assert(eq(int, mc_mprotect(ctx, &anon, MC_PROT_READ, &err), 0), "%s", err.message);
        n_mprotect = 0;
        assert_wx_denied(mc_mprotect(ctx, &anon, MC_PROT_EXEC, &err), &err, WAS_WRITABLE, 0, 0);
        cr_assert(eq(u32, anon.prot, MC_PROT_READ));

        /* A private file mapping made writable, alone: the same. */
        cr_assert(eq(int, map_file(path, MC_PROT_READ, false, &priv, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mprotect(ctx, &priv, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mprotect(ctx, &priv, MC_PROT_READ, &err), 0), "%s", err.message);
        n_mmap = n_mprotect = 0;
        assert_wx_denied(mc_mprotect(ctx, &priv, MC_PROT_READ_EXECUTE, &err), &err, WAS_WRITABLE, 0,
                         0);

        /* Executable, then writable, is not the order W^X forbids; back to executable is. */
        cr_assert(eq(int, mc_munmap(ctx, &anon, &err), 0));
        req.prot = MC_PROT_READ_EXECUTE;
        cr_assert(eq(int, mc_mmap(ctx, &req, &anon, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mprotect(ctx, &anon, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);
        n_mmap = n_mprotect = 0;
        assert_wx_denied(mc_mprotect(ctx, &anon, MC_PROT_READ_EXECUTE, &err), &err, WAS_WRITABLE, 0,
                         0);
        cr_assert(eq(int, mc_munmap(ctx, &anon, &err), 0));
        cr_assert(eq(int, mc_munmap(ctx, &priv, &err), 0));
}

/* ---- shared memory -------------------------------------------------------------------------- */

Test(wx, named_shared_memory) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        char dev_path[128];
        mc_shared w, x;
        mc_mapping viaf;

        req.name = shm_name;
        req.size = page;
        req.create = true;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &w, &err), 0), "%s", err.message);
        /* The same object by name, read and execute: refused. */
        req.create = false;
        req.size = 0;
        req.prot = MC_PROT_READ_EXECUTE;
        n_mmap = 0;
        assert_wx_denied(mc_shared_open(ctx, &req, &x, &err), &err, WRITABLE_SHARED, 0, 0);
        /* And through its path in /dev/shm. */
        snprintf(dev_path, sizeof(dev_path), "/dev/shm/%s", shm_name);
        if (access(dev_path, F_OK) == 0)
                assert_wx_denied(map_file(dev_path, MC_PROT_READ_EXECUTE, false, &viaf, &err), &err,
                                 WRITABLE_SHARED, 0, 0);
        cr_assert(eq(int, mc_shared_close(ctx, &w, &err), 0));

        /* The other way round: executable first, then the writable buffer. */
        if (noexec("/dev/shm"))
                cr_skip_test("/dev/shm is mounted noexec: no executable view to test against");
        cr_assert(eq(int, mc_shared_open(ctx, &req, &x, &err), 0), "%s", err.message);
        n_mmap = 0;
        assert_wx_denied(mc_map_shared_buffer(ctx, shm_name, page, &w, &err), &err, EXECUTABLE, 0,
                         0);
        req.prot = MC_PROT_READ_WRITE;
        assert_wx_denied(mc_shared_open(ctx, &req, &w, &err), &err, EXECUTABLE, 0, 0);
        cr_assert(eq(int, mc_shared_close(ctx, &x, &err), 0));
        cr_assert(eq(int, mc_map_shared_buffer(ctx, shm_name, page, &w, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_shared_close(ctx, &w, &err), 0));
}

Test(wx, memfd) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        char fd_path[64];
        mc_shared region;
        mc_mapping x;

        req.size = page;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &region, &err), 0), "%s", err.message);
        n_mmap = 0;
        assert_wx_denied(map_fd(region.fd, page, MC_PROT_READ_EXECUTE, false, &x, &err), &err,
                         WRITABLE_SHARED, 0, 0);
        snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", region.fd);
        assert_wx_denied(map_file(fd_path, MC_PROT_READ_EXECUTE, true, &x, &err), &err,
                         WRITABLE_SHARED, 0, 0);
        /* The region itself may not become executable either. */
        n_mprotect = 0;
        assert_wx_denied(mc_mprotect(ctx, &region.region, MC_PROT_READ_EXECUTE, &err), &err,
                         WAS_WRITABLE, 0, 0);

        /* A read-only region gives way to an executable view, which then blocks writing. */
        cr_assert(eq(int, mc_shared_close(ctx, &region, &err), 0));
        req.prot = MC_PROT_READ;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &region, &err), 0), "%s", err.message);
        cr_assert(eq(int, map_fd(region.fd, page, MC_PROT_READ_EXECUTE, true, &x, &err), 0), "%s",
                  err.message);
        n_mmap = n_mprotect = 0;
        assert_wx_denied(mc_mprotect(ctx, &region.region, MC_PROT_READ_WRITE, &err), &err,
                         EXECUTABLE, 0, 0);
        cr_assert(eq(int, mc_munmap(ctx, &x, &err), 0));
        cr_assert(eq(int, mc_shared_close(ctx, &region, &err), 0));
}

/* ---- the policy's permission ------------------------------------------------------------------
 */

Test(wx, allow_write_exec_permits_every_path) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping w, x, r;
        mc_shared region;
        mc_policy *p;
        int fd;

        need_exec();
        allow_write_exec();
        cr_assert(eq(int, map_file(path, MC_PROT_READ_WRITE, true, &w, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, map_file(path, MC_PROT_READ_EXECUTE, false, &x, &err), 0), "%s",
                  err.message);
        fd = open(path, O_RDWR | O_CLOEXEC);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, map_fd(fd, page, MC_PROT_READ, true, &r, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mprotect(ctx, &r, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mprotect(ctx, &w, MC_PROT_READ_EXECUTE, &err), 0), "%s", err.message);
        req.size = page;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &region, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mprotect(ctx, &region.region, MC_PROT_READ_EXECUTE, &err), 0), "%s",
                  err.message);

        /* The counts stay exact while allowed: taking the permission back bites at once. */
        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
        n_mmap = n_mprotect = 0;
        assert_wx_denied(map_file(path, MC_PROT_READ_EXECUTE, false, &w, &err), &err,
                         WRITABLE_SHARED, 0, 0);
        cr_assert(eq(int, mc_munmap(ctx, &r, &err), 0));
        cr_assert(eq(int, mc_munmap(ctx, &x, &err), 0));
        cr_assert(eq(int, mc_shared_close(ctx, &region, &err), 0));
        close(fd);
}

/* ---- two threads at once --------------------------------------------------------------------- */

/*
 * In each round both threads try to map their view of the file at the same moment (a barrier
 * starts them), one writable and shared, the other executable: at most one may succeed.
 */
#define ROUNDS 200
static pthread_barrier_t barrier;
static bool mapped[2];
static int both;

static void *racer(void *arg) {
        int me = (int) (intptr_t) arg;
        mc_mapping m;

        for (int i = 0; i < ROUNDS; i++) {
                pthread_barrier_wait(&barrier);
                mapped[me] = map_file(path, me == 0 ? MC_PROT_READ_WRITE : MC_PROT_READ_EXECUTE,
                                      me == 0, &m, NULL) == 0;
                pthread_barrier_wait(&barrier);
                if (me == 0 && mapped[0] && mapped[1])
                        both++;
                pthread_barrier_wait(&barrier);
                if (mapped[me])
                        (void) mc_munmap(ctx, &m, NULL);
        }
        return NULL;
}

Test(wx, simultaneous_views_never_alias, .timeout = 60) {
        pthread_t t[2];

        need_exec();
        cr_assert(eq(int, pthread_barrier_init(&barrier, NULL, 2), 0));
        for (intptr_t i = 0; i < 2; i++)
                cr_assert(eq(int, pthread_create(&t[i], NULL, racer, (void *) i), 0));
        for (int i = 0; i < 2; i++)
                cr_assert(eq(int, pthread_join(t[i], NULL), 0));
        pthread_barrier_destroy(&barrier);
        cr_assert(eq(int, both, 0), "%d of %d rounds mapped both views", both, ROUNDS);
}
