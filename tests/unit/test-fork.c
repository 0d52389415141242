/* SPDX-License-Identifier: MIT */
/*
 * Mappings across fork() and exec, as the seed's table describes them: private anonymous and
 * private file mappings are copy-on-write (neither side sees the other's writes, and private
 * writes never reach the file), shared file mappings and anonymous shared regions are one
 * memory for parent and child (and shared writes reach the file), DONTFORK mappings are absent
 * in the child and gone from its registry, WIPEONFORK mappings read as zeroes there, memory
 * locks are not inherited, exec drops every mapping, and a context stays usable in a child
 * even when another thread of the parent was inside memcap at the time of fork().
 *
 * Children never use Criterion's assertions: each check that fails exits with its own status,
 * and the parent asserts the status it waited for.
 */

#include "common.h"
#include "mapping.h"
#include "proc.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---- fixtures and helpers ----------------------------------------------------------------- */

static char tmp_path[128];
static mc_ctx *ctx; /* the test's context, made fresh for each */

static mc_ctx *ctx_new(void) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *c = NULL;

        cr_assert(eq(int, mc_ctx_new(&c, &err), 0), "%s", err.message);
        return c;
}

static void fork_init(void) {
        ctx = ctx_new();
}

static void fork_fini(void) {
        ctx = mc_ctx_free(ctx);
        if (tmp_path[0])
                (void) unlink(tmp_path);
        tmp_path[0] = 0;
        mc_test_fini();
}

TestSuite(fork, .init = fork_init, .fini = fork_fini);

/* In a child: a failed check exits with @code, which the parent reports. */
#define CHILD_CHECK(cond, code)                                                                    \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        _exit(code);                                                               \
        } while (0)

static size_t page(void) {
        return mc_page_size();
}

/* A file of @size bytes holding @fill, unique to this process, removed at teardown. */
static const char *file_new(const char *what, size_t size, char fill) {
        char *buf = malloc(size);
        int fd;

        cr_assert(not(eq(ptr, buf, NULL)));
        snprintf(tmp_path, sizeof(tmp_path), "/tmp/memcap-test-fork-%s-%d", what, (int) getpid());
        fd = open(tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0), "%s: %s", tmp_path, strerror(errno));
        memset(buf, fill, size);
        cr_assert(eq(sz, (size_t) write(fd, buf, size), size));
        close(fd);
        free(buf);
        return tmp_path;
}

/* The file's bytes at @off, read with read(2), not through any mapping. */
static void file_read(const char *path, off_t off, void *buf, size_t len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(sz, (size_t) pread(fd, buf, len, off), len));
        close(fd);
}

/* mc_map_file() of @path with @prot, shared or a private copy, which must succeed. */
static void map_file(mc_ctx *c, const char *path, unsigned prot, bool private_copy,
                     mc_mapping *ret) {
        mc_map_file_options opts = MC_MAP_FILE_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;

        opts.private_copy = private_copy;
        cr_assert(eq(int, mc_map_file(c, path, prot, &opts, ret, &err), 0), "%s", err.message);
}

/* mc_map_shared_buffer() of an anonymous region of @len bytes, which must succeed. */
static void shared_buffer_ok(mc_ctx *c, size_t len, mc_shared *ret) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_map_shared_buffer(c, NULL, len, ret, &err), 0), "%s", err.message);
}

/* @advice on the whole of @m, which must take it. */
static void advise_all(mc_ctx *c, const mc_mapping *m, mc_advice advice) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_madvise(c, m, 0, MC_LENGTH_ALL, advice, &err), 0), "%s: %s",
                  mc_advice_name(advice), err.message);
}

/* @advice on @off, @len of @m, which must refuse it as an invalid argument. */
static void advise_refused(mc_ctx *c, const mc_mapping *m, size_t off, size_t len,
                           mc_advice advice) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_madvise(c, m, off, len, advice, &err), -EINVAL),
                  "%s of mapping %" PRIu64 " (flags 0x%x) was not refused", mc_advice_name(advice),
                  m->id, m->flags);
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s: %s", mc_advice_name(advice),
                  err.message);
}

/* mc_mlock() of @off, @len of @m in @c; skips the test where RLIMIT_MEMLOCK is too small for it. */
static void mlock_or_skip(mc_ctx *c, const mc_mapping *m, size_t off, size_t len) {
        mc_error err = MC_ERROR_INIT;
        int r = mc_mlock(c, m, off, len, 0, &err);

        if (r < 0 && err.kind == MC_ERR_OUT_OF_MEMORY)
                cr_skip_test("RLIMIT_MEMLOCK is too small here: %s", err.message);
        cr_assert(eq(int, r, 0), "%s", err.message);
}

/* Two pipes so parent and child can take turns. */
typedef struct turns {
        int to_child[2];
        int to_parent[2];
} turns;

static void turns_init(turns *t) {
        cr_assert(eq(int, pipe2(t->to_child, O_CLOEXEC), 0));
        cr_assert(eq(int, pipe2(t->to_parent, O_CLOEXEC), 0));
}

static void turns_done(turns *t) {
        close(t->to_child[0]);
        close(t->to_child[1]);
        close(t->to_parent[0]);
        close(t->to_parent[1]);
}

static bool pass_to(int fd) {
        return write(fd, "t", 1) == 1;
}

static bool wait_turn(int fd) {
        char c;
        return read(fd, &c, 1) == 1;
}

/* Whether [lo, lo+len) overlaps any mapping listed in /proc/self/maps. */
static bool maps_overlap(uintptr_t lo, size_t len) {
        FILE *f = fopen("/proc/self/maps", "re");
        unsigned long a, b;
        char line[512];
        bool found = false;

        if (!f)
                return true; /* make the caller fail rather than pass blindly */
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < lo + len && lo < b)
                        found = true;
        fclose(f);
        return found;
}

/* The child's view of a private or shared mapping, in the seed's table. */
static void exchange(char *p, bool shared) {
        turns t;
        pid_t pid;

        turns_init(&t);
        memcpy(p, "parent 1", sizeof("parent 1"));
        pid = fork();
        if (pid == 0) {
                /* Only the parent writes to us: should it die, our read sees end-of-file. */
                close(t.to_child[1]);
                close(t.to_parent[0]);
                CHILD_CHECK(strcmp(p, "parent 1") == 0, 10); /* inherited either way */
                memcpy(p, "child 1", sizeof("child 1"));
                CHILD_CHECK(pass_to(t.to_parent[1]), 11);
                CHILD_CHECK(wait_turn(t.to_child[0]), 12);
                /* The parent wrote "parent 2" meanwhile. */
                CHILD_CHECK(strcmp(p, shared ? "parent 2" : "child 1") == 0, 13);
                _exit(0);
        }
        cr_assert(gt(int, pid, 0));
        cr_assert(wait_turn(t.to_parent[0]));
        cr_assert(eq(str, p, (char *) (shared ? "child 1" : "parent 1")),
                  "the child's write is %s the parent", shared ? "invisible to" : "visible in");
        memcpy(p, "parent 2", sizeof("parent 2"));
        cr_assert(pass_to(t.to_child[1]));
        cr_assert(eq(int, child_status(pid), 0));
        turns_done(&t);
}

/* A child writes "child's page" at page 1 of @m and syncs all of @m; the parent waits for it. */
static void child_writes_page_1(const mc_mapping *m) {
        pid_t pid = fork();

        if (pid == 0) {
                memcpy((char *) m->ptr + page(), "child's page", 12);
                CHILD_CHECK(mc_msync(ctx, m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, NULL) == 0, 10);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
}

/* mc_msync() of all of @m, which must succeed. */
static void sync_ok(const mc_mapping *m) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_msync(ctx, m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0), "%s",
                  err.message);
}

/* ---- the four kinds of mapping ------------------------------------------------------------ */

Test(fork, private_anonymous_is_copy_on_write) {
        mc_mapping m;

        anon_map_ok(ctx, 2 * page(), MC_PROT_READ_WRITE, &m);
        exchange(m.ptr, false);
        cr_assert(eq(str, (char *) m.ptr, "parent 2"));
}

Test(fork, shared_file_is_one_memory_and_reaches_the_file) {
        const char *path = file_new("shared", 2 * page(), '.');
        char buf[16];
        mc_mapping m;

        map_file(ctx, path, MC_PROT_READ_WRITE, false, &m);
        exchange(m.ptr, true);

        /* A child's write through the shared mapping reaches the file too. */
        child_writes_page_1(&m);
        sync_ok(&m);
        file_read(path, 0, buf, 9);
        cr_assert(eq(int, memcmp(buf, "parent 2", 9), 0), "the parent's write is not in the file");
        file_read(path, (off_t) page(), buf, 12);
        cr_assert(eq(int, memcmp(buf, "child's page", 12), 0),
                  "the child's write is not in the file");
}

Test(fork, private_file_is_copy_on_write_and_never_reaches_the_file) {
        const char *path = file_new("private", 2 * page(), '.');
        char buf[16], dots[16];
        mc_mapping m;

        map_file(ctx, path, MC_PROT_READ_WRITE, true, &m);
        cr_assert(eq(u32, m.flags, MC_MAP_PRIVATE));
        exchange(m.ptr, false);

        child_writes_page_1(&m);
        cr_assert(eq(int, ((char *) m.ptr)[page()], '.'), "the child's write leaked to the parent");
        sync_ok(&m);
        memset(dots, '.', sizeof(dots));
        file_read(path, 0, buf, sizeof(buf));
        cr_assert(eq(int, memcmp(buf, dots, sizeof(buf)), 0), "a private write reached the file");
        file_read(path, (off_t) page(), buf, sizeof(buf));
        cr_assert(eq(int, memcmp(buf, dots, sizeof(buf)), 0),
                  "the child's private write reached the file");
}

Test(fork, shared_anonymous_region_is_one_memory) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_shared s;

        req.size = page();
        cr_assert(eq(int, mc_shared_open(ctx, &req, &s, &err), 0), "%s", err.message);
        exchange(s.region.ptr, true);
        cr_assert(eq(str, (char *) s.region.ptr, "parent 2"));
}

Test(fork, children_inherit_the_registry) {
        mc_mapping m;
        mc_shared s;
        mc_usage before, u;
        pid_t pid;

        anon_map_ok(ctx, 3 * page(), MC_PROT_READ_WRITE, &m);
        shared_buffer_ok(ctx, page(), &s);
        mc_ctx_get_usage(ctx, &before);
        pid = fork();
        if (pid == 0) {
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(memcmp(&u, &before, sizeof(u)) == 0, 10);
                /* The child owns its copies: it can unmap and close them through memcap. */
                CHILD_CHECK(mc_munmap(ctx, &m, NULL) == 0, 11);
                CHILD_CHECK(mc_shared_close(ctx, &s, NULL) == 0, 12);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.mapped_bytes == 0 && u.mappings == 0 && u.shared_objects == 0, 13);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        /* ...which leaves the parent's untouched. */
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(int, memcmp(&u, &before, sizeof(u)), 0));
        memset(m.ptr, 1, m.len);
        memset(s.region.ptr, 1, s.region.len);
}

/* ---- DONTFORK and WIPEONFORK -------------------------------------------------------------- */

Test(fork, dontfork_mapping_is_absent_in_the_child) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping gone, kept;
        mc_usage u;
        pid_t pid;

        anon_map_ok(ctx, 4 * page(), MC_PROT_READ_WRITE, &gone);
        anon_map_ok(ctx, page(), MC_PROT_READ_WRITE, &kept);
        memset(gone.ptr, 'g', gone.len);
        advise_all(ctx, &gone, MC_ADVICE_DONTFORK);
        pid = fork();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;
                pid_t g;
                int status;

                CHILD_CHECK(!maps_overlap((uintptr_t) gone.base, gone.base_len), 10);
                CHILD_CHECK(maps_overlap((uintptr_t) kept.base, kept.base_len), 11);
                /* Touching it kills: shown by a grandchild, so we can report it. */
                g = fork();
                if (g == 0) {
                        signal(SIGSEGV, SIG_DFL);
                        _exit(*(volatile char *) gone.ptr);
                }
                CHILD_CHECK(g > 0 && waitpid(g, &status, 0) == g, 12);
                CHILD_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, 13);
                /* The registry no longer holds it, and the usage leaves it out. */
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.mapped_bytes == page() && u.mappings == 1, 14);
                CHILD_CHECK(mc_munmap(ctx, &gone, &e) == -ENOENT, 15);
                CHILD_CHECK(e.kind == MC_ERR_NOT_FOUND, 16);
                CHILD_CHECK(mc_munmap(ctx, &kept, NULL) == 0, 17);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.mapped_bytes == 0 && u.mappings == 0, 18);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        cr_assert(eq(int, ((char *) gone.ptr)[gone.len - 1], 'g'), "the parent keeps it");
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 5 * page()));
        cr_assert(eq(u64, u.mappings, 2));
        cr_assert(eq(int, mc_munmap(ctx, &gone, &err), 0), "%s", err.message);
}

Test(fork, dontfork_shared_region_is_closed_in_the_child) {
        mc_shared s;
        mc_usage u;
        pid_t pid;

        shared_buffer_ok(ctx, 2 * page(), &s);
        advise_all(ctx, &s.region, MC_ADVICE_DONTFORK);
        pid = fork();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;

                CHILD_CHECK(!maps_overlap((uintptr_t) s.region.base, s.region.base_len), 10);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.mapped_bytes == 0 && u.mappings == 0 && u.shared_objects == 0, 11);
                /* Its descriptor went with it: nothing of the object is left to leak. */
                CHILD_CHECK(fcntl(s.fd, F_GETFD) == -1 && errno == EBADF, 12);
                CHILD_CHECK(mc_shared_close(ctx, &s, &e) == -ENOENT, 13);
                CHILD_CHECK(e.kind == MC_ERR_NOT_FOUND, 14);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        cr_assert(ge(int, fcntl(s.fd, F_GETFD), 0), "the parent keeps its descriptor");
        memset(s.region.ptr, 1, s.region.len);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.shared_objects, 1));
}

/*
 * @advice and then @undo on a page holding @text: a child must see @text as the parent wrote
 * it. With @unmap_in_child, the child also unmaps it through memcap, which needs the mapping
 * still in its registry (DONTFORK would have taken it out).
 */
static void undone_advice_is_inherited(mc_advice advice, mc_advice undo, const char *text,
                                       bool unmap_in_child) {
        mc_mapping m;
        pid_t pid;

        anon_map_ok(ctx, page(), MC_PROT_READ_WRITE, &m);
        memcpy(m.ptr, text, strlen(text) + 1);
        advise_all(ctx, &m, advice);
        advise_all(ctx, &m, undo);
        pid = fork();
        if (pid == 0) {
                CHILD_CHECK(strcmp(m.ptr, text) == 0, 10);
                CHILD_CHECK(!unmap_in_child || mc_munmap(ctx, &m, NULL) == 0, 11);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0), "%s undone by %s", mc_advice_name(advice),
                  mc_advice_name(undo));
}

Test(fork, dofork_undoes_dontfork) {
        undone_advice_is_inherited(MC_ADVICE_DONTFORK, MC_ADVICE_DOFORK, "inherited", true);
}

Test(fork, dontfork_applies_to_whole_mappings_only) {
        mc_mapping m;

        anon_map_ok(ctx, 4 * page(), MC_PROT_READ_WRITE, &m);
        advise_refused(ctx, &m, page(), page(), MC_ADVICE_DONTFORK);
}

Test(fork, wipeonfork_child_reads_zeroes) {
        mc_mapping m;
        pid_t pid;

        anon_map_ok(ctx, 2 * page(), MC_PROT_READ_WRITE, &m);
        memset(m.ptr, 's', m.len);
        advise_all(ctx, &m, MC_ADVICE_WIPEONFORK);
        pid = fork();
        if (pid == 0) {
                const char *p = m.ptr;
                for (size_t i = 0; i < m.len; i++)
                        CHILD_CHECK(p[i] == 0, 10);
                /* Still a mapping of the child, usable and unmappable. */
                memset(m.ptr, 'c', m.len);
                CHILD_CHECK(mc_munmap(ctx, &m, NULL) == 0, 11);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        for (size_t i = 0; i < m.len; i++)
                cr_assert(eq(int, ((char *) m.ptr)[i], 's'), "the parent lost byte %zu", i);
}

Test(fork, keeponfork_undoes_wipeonfork) {
        undone_advice_is_inherited(MC_ADVICE_WIPEONFORK, MC_ADVICE_KEEPONFORK, "kept", false);
}

Test(fork, wipeonfork_needs_private_anonymous_memory) {
        const char *path = file_new("wipe", page(), 'w');
        mc_mapping shared_file, private_file;
        mc_shared s;

        map_file(ctx, path, MC_PROT_READ_WRITE, false, &shared_file);
        map_file(ctx, path, MC_PROT_READ_WRITE, true, &private_file);
        shared_buffer_ok(ctx, page(), &s);
        advise_refused(ctx, &shared_file, 0, MC_LENGTH_ALL, MC_ADVICE_WIPEONFORK);
        advise_refused(ctx, &private_file, 0, MC_LENGTH_ALL, MC_ADVICE_WIPEONFORK);
        advise_refused(ctx, &s.region, 0, MC_LENGTH_ALL, MC_ADVICE_WIPEONFORK);
}

/* ---- memory locks ------------------------------------------------------------------------- */

Test(fork, memory_locks_are_not_inherited) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, partly;
        mc_usage u;
        pid_t pid;

        anon_map_ok(ctx, 4 * page(), MC_PROT_READ_WRITE, &m);
        anon_map_ok(ctx, 4 * page(), MC_PROT_READ_WRITE, &partly);
        mlock_or_skip(ctx, &m, 0, MC_LENGTH_ALL);
        cr_assert(eq(int, mc_mlock(ctx, &partly, page(), page(), 0, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 5 * page()));

        pid = fork();
        if (pid == 0) {
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.locked_bytes == 0, 10);
                CHILD_CHECK(u.mapped_bytes == 8 * page() && u.mappings == 2, 11);
                /* Nothing to unlock, nothing to release: the accounting stays at zero. */
                CHILD_CHECK(mc_munlock(ctx, &m, 0, MC_LENGTH_ALL, NULL) == 0, 12);
                CHILD_CHECK(mc_munmap(ctx, &partly, NULL) == 0, 13);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.locked_bytes == 0, 14);
                /* Locking again in the child counts afresh. */
                CHILD_CHECK(mc_mlock(ctx, &m, 0, page(), 0, NULL) == 0, 15);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.locked_bytes == page(), 16);
                CHILD_CHECK(mc_munmap(ctx, &m, NULL) == 0, 17);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.locked_bytes == 0 && u.mapped_bytes == 0, 18);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.locked_bytes, 5 * page()), "the parent keeps its locks");
}

Test(fork, charge_is_exact_in_the_child) {
        mc_mapping anon, file, gone;
        const char *path = file_new("charge", 4 * page(), 'c');
        mc_usage u;
        pid_t pid;

        anon_map_ok(ctx, 2 * page(), MC_PROT_READ_WRITE, &anon);
        anon_map_ok(ctx, 3 * page(), MC_PROT_READ_WRITE, &gone);
        advise_all(ctx, &gone, MC_ADVICE_DONTFORK);
        map_file(ctx, path, MC_PROT_READ, false, &file);
        mlock_or_skip(ctx, &file, 0, page());
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.charged_bytes, 6 * page()), "2 + 3 anonymous, 1 locked page cache");

        pid = fork();
        if (pid == 0) {
                /* No DONTFORK mapping, no lock: the private anonymous memory is what is left. */
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.charged_bytes == 2 * page(), 10);
                CHILD_CHECK(u.mapped_bytes == 6 * page() && u.locked_bytes == 0, 11);
                CHILD_CHECK(mc_mprotect(ctx, &anon, MC_PROT_READ, NULL) == 0, 12);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.charged_bytes == 2 * page(), 13);
                CHILD_CHECK(mc_mlock(ctx, &file, 0, MC_LENGTH_ALL, 0, NULL) == 0, 14);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.charged_bytes == 6 * page(), 15);
                CHILD_CHECK(mc_munmap(ctx, &anon, NULL) == 0, 16);
                CHILD_CHECK(mc_munmap(ctx, &file, NULL) == 0, 17);
                mc_ctx_get_usage(ctx, &u);
                CHILD_CHECK(u.charged_bytes == 0 && u.mapped_bytes == 0 && u.mappings == 0, 18);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.charged_bytes, 6 * page()), "the parent's charge is its own");
}

/* ---- exec ----------------------------------------------------------------------------------- */

Test(fork, exec_drops_every_mapping) {
        const char *path = file_new("exec-marker", page(), 'x');
        char script[512];
        mc_mapping m;
        mc_shared s;
        pid_t pid;

        map_file(ctx, path, MC_PROT_READ_WRITE, false, &m);
        shared_buffer_ok(ctx, page(), &s);
        /* A child that does not exec still has both. */
        pid = fork();
        if (pid == 0) {
                CHILD_CHECK(maps_overlap((uintptr_t) m.base, m.base_len), 10);
                CHILD_CHECK(maps_overlap((uintptr_t) s.region.base, s.region.base_len), 11);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));

        /* After exec, the new program's maps name neither the file nor the memfd, and the
         * memfd's descriptor (O_CLOEXEC) is gone too. */
        snprintf(script, sizeof(script),
                 "if grep -q -F '%s' /proc/self/maps; then exit 20; fi; "
                 "if grep -q 'memfd:memcap' /proc/self/maps; then exit 21; fi; "
                 "if [ -e /proc/self/fd/%d ]; then exit 22; fi; "
                 "if ! grep -q -F '/bin/' /proc/self/maps; then exit 23; fi; exit 0",
                 path, s.fd);
        pid = fork();
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", script, (char *) NULL);
                _exit(127);
        }
        cr_assert(eq(int, child_status(pid), 0));
}

/* ---- protection ----------------------------------------------------------------------------- */

Test(fork, write_to_read_only_mapping_raises_sigsegv, .signal = SIGSEGV) {
        mc_mapping m;

        anon_map_ok(ctx, page(), MC_PROT_READ, &m);
        *(volatile char *) m.ptr = 1;
        cr_fatal("the write to a read-only mapping went through");
}

Test(fork, write_to_read_only_file_mapping_raises_sigsegv, .signal = SIGSEGV) {
        const char *path = file_new("ro", page(), 'r');
        mc_mapping m;

        map_file(ctx, path, MC_PROT_READ, false, &m);
        /* The crash skips the teardown: remove the file now; the mapping keeps it alive. */
        cr_assert(eq(int, unlink(path), 0));
        tmp_path[0] = 0;
        cr_assert(eq(int, *(volatile char *) m.ptr, 'r'));
        *(volatile char *) m.ptr = 1;
        cr_fatal("the write to a read-only file mapping went through");
}

Test(fork, read_only_stays_read_only_in_the_child) {
        mc_mapping m;
        pid_t pid;
        int status;

        anon_map_ok(ctx, page(), MC_PROT_READ, &m);
        pid = fork();
        if (pid == 0) {
                signal(SIGSEGV, SIG_DFL);
                *(volatile char *) m.ptr = 1;
                _exit(0);
        }
        cr_assert(gt(int, pid, 0));
        cr_assert(eq(int, waitpid(pid, &status, 0), pid));
        cr_assert(eq(int, WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGSEGV));
}

/* ---- fork while another thread is inside memcap ------------------------------------------- */

typedef struct churn {
        mc_ctx *ctx;
        atomic_bool stop;
        atomic_int failures;
        atomic_long rounds;
} churn;

/* An audit sink, so that the fork can also catch the thread inside the audit lock. */
static void count_record(const mc_audit_record *rec, void *userdata) {
        atomic_long *n = userdata;

        /* Records name the process that made the call, also in a child: a wrong pid counts
         * a million, which no check below can mistake for a right count. */
        atomic_fetch_add(n, rec->pid == getpid() ? 1 : 1000000);
}

static void *churn_thread(void *arg) {
        churn *ch = arg;

        while (!atomic_load(&ch->stop)) {
                mc_map_request req = MC_MAP_REQUEST_INIT;
                mc_mapping m;

                req.length = 3 * page();
                req.prot = MC_PROT_READ_WRITE;
                req.flags = MC_MAP_ANONYMOUS;
                if (mc_mmap(ch->ctx, &req, &m, NULL) < 0 || mc_munmap(ch->ctx, &m, NULL) < 0)
                        atomic_fetch_add(&ch->failures, 1);
                atomic_fetch_add(&ch->rounds, 1);
        }
        return NULL;
}

Test(fork, fork_while_another_thread_is_inside_memcap, .timeout = 120.0) {
        churn ch = {.ctx = ctx_new()};
        mc_error err = MC_ERROR_INIT;
        atomic_long records;
        mc_audit *audit = NULL;
        pthread_t th;
        mc_usage u;

        atomic_init(&ch.stop, false);
        atomic_init(&ch.failures, 0);
        atomic_init(&ch.rounds, 0);
        atomic_init(&records, 0);
        cr_assert(eq(int, mc_audit_open_callback(count_record, &records, &audit, &err), 0), "%s",
                  err.message);
        mc_ctx_set_audit(ch.ctx, audit);
        cr_assert(eq(int, pthread_create(&th, NULL, churn_thread, &ch), 0));
        while (atomic_load(&ch.rounds) == 0)
                sched_yield();

        for (int i = 0; i < 50; i++) {
                pid_t pid = fork();
                if (pid == 0) {
                        mc_map_request req = MC_MAP_REQUEST_INIT;
                        mc_mapping m;
                        mc_usage cu;

                        /* A deadlock kills the child (SIGALRM), which the parent reports. */
                        alarm(20);
                        req.length = page();
                        req.prot = MC_PROT_READ_WRITE;
                        req.flags = MC_MAP_ANONYMOUS;
                        CHILD_CHECK(mc_mmap(ch.ctx, &req, &m, NULL) == 0, 10);
                        memset(m.ptr, 1, m.len);
                        CHILD_CHECK(mc_munmap(ch.ctx, &m, NULL) == 0, 11);
                        /* The churning thread's mapping may have been caught half-way in the
                         * registry, but never half-recorded: the usage is whole pages. */
                        mc_ctx_get_usage(ch.ctx, &cu);
                        CHILD_CHECK(cu.mapped_bytes == cu.mappings * 3 * page(), 12);
                        CHILD_CHECK(cu.mappings <= 1, 13);
                        /* The audit sink works in the child too: two records more. */
                        long before = atomic_load(&records);
                        CHILD_CHECK(mc_mmap(ch.ctx, &req, &m, NULL) == 0, 14);
                        CHILD_CHECK(mc_munmap(ch.ctx, &m, NULL) == 0, 15);
                        CHILD_CHECK(atomic_load(&records) == before + 2, 16);
                        _exit(0);
                }
                cr_assert(eq(int, child_status(pid), 0), "child %d failed", i);
        }
        atomic_store(&ch.stop, true);
        cr_assert(eq(int, pthread_join(th, NULL), 0));
        cr_assert(eq(int, atomic_load(&ch.failures), 0));
        mc_ctx_get_usage(ch.ctx, &u);
        cr_assert(eq(u64, u.mappings, 0));
        cr_assert(eq(u64, u.mapped_bytes, 0));
        cr_assert(eq(long, atomic_load(&records), 2 * atomic_load(&ch.rounds)));
        mc_ctx_free(ch.ctx);
}
