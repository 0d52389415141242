/* SPDX-License-Identifier: MIT */
/*
 * userfaultfd (uffd.h): serving missing, write-protect and minor faults on memcap's thread and
 * in the caller's loop, the policy and the kernel's refusals (through the seam), the audit
 * records, and the ways a handler can fail without leaving a faulting thread waiting forever.
 * Every wait on another thread is bounded and fails with a message.
 */

#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "audit.h"
#include "mapping.h"
#include "core.h"
#include "proc.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* Bound of every wait on another thread: far beyond any loaded machine's delay. */
#define WAIT_MS 30000

static mc_ctx *ctx;
static size_t page;

static void set_policy(bool allow_uffd, uint64_t ops) {
        mc_policy *p;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_policy_set_allow_userfaultfd(p, allow_uffd), 0));
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, ops), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
}

static void setup(void) {
        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        page = mc_page_size();
        set_policy(true, MC_OP_ALL);
}

static void teardown(void) {
        ctx = mc_ctx_free(ctx);
        mc_test_fini();
}

TestSuite(uffd, .init = setup, .fini = teardown, .timeout = 120);

/* A shared mapping of a memfd of @pages pages; @fill writes 'a'+i into page i first. */
static int map_memfd(size_t pages, bool fill, mc_mapping *m) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        int fd = memfd_create("memcap-test-uffd", MFD_CLOEXEC);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, (off_t) (pages * page)), 0));
        for (size_t i = 0; fill && i < pages; i++) {
                char *buf = malloc(page);
                memset(buf, 'a' + (int) i, page);
                cr_assert(eq(sz, (size_t) pwrite(fd, buf, page, (off_t) (i * page)), page));
                free(buf);
        }
        req.length = pages * page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_SHARED;
        req.fd = fd;
        cr_assert(eq(int, mc_mmap(ctx, &req, m, &err), 0), "%s", err.message);
        return fd;
}

static mc_uffd_request request(unsigned modes, unsigned flags, mc_uffd_handler h, void *ud) {
        mc_uffd_request r = MC_UFFD_REQUEST_INIT;

        r.length = MC_LENGTH_ALL;
        r.modes = modes;
        r.flags = flags;
        r.handler = h;
        r.userdata = ud;
        return r;
}

/* Register @m for @req, which must succeed; the registration. */
static mc_uffd *register_ok(const mc_mapping *m, const mc_uffd_request *req) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd *u = NULL;

        cr_assert(eq(int, mc_uffd_register(ctx, m, req, &u, &err), 0), "%s", err.message);
        return u;
}

/* register_ok() of a fresh private anonymous mapping of @pages pages, in @m. */
static mc_uffd *register_anon(size_t pages, const mc_uffd_request *req, mc_mapping *m) {
        anon_map_ok(ctx, pages * page, MC_PROT_READ_WRITE, m);
        return register_ok(m, req);
}

/* End the registration @u, which must succeed. */
static void unregister_ok(mc_uffd *u) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_uffd_unregister(ctx, u, &err), 0), "%s", err.message);
}

/* ---- handlers ------------------------------------------------------------------------------ */

static atomic_int calls;

/* The "image": page i holds 'A' + i. */
static mc_uffd_action fill_image(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        (void) ud;
        atomic_fetch_add(&calls, 1);
        memset(buf, 'A' + (int) (f->offset / size), size);
        return MC_UFFD_COPY;
}

static mc_uffd_action answer(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        (void) f;
        (void) buf;
        (void) size;
        atomic_fetch_add(&calls, 1);
        return (mc_uffd_action) (intptr_t) ud;
}

/* ---- serving ------------------------------------------------------------------------------- */

Test(uffd, lazy_load_on_memcaps_thread) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, fill_image, NULL);
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = NULL;
        const char *p;

        u = register_anon(4, &req, &m);
        p = m.ptr;
        /* Touch pages 2 and 0 only: each is served once, in the order touched. */
        cr_assert(eq(chr, p[2 * page + 7], 'C'));
        cr_assert(eq(chr, p[0], 'A'));
        cr_assert(eq(chr, p[page - 1], 'A'));
        mc_uffd_get_stats(u, &st);
        cr_assert(eq(u64, st.faults, 2));
        cr_assert(eq(u64, st.copied, 2));
        cr_assert(eq(u64, st.failed, 0));
        cr_assert(not(st.broken));
        cr_assert(eq(int, atomic_load(&calls), 2));
        unregister_ok(u);
        /* After unregistering, untouched pages are ordinary zero-filled memory. */
        cr_assert(eq(chr, p[3 * page], 0));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

typedef struct toucher {
        const volatile char *addr;
        char seen;
} toucher;

static void *touch_main(void *arg) {
        toucher *t = arg;
        t->seen = *t->addr;
        return NULL;
}

/* Join @t within WAIT_MS or fail the test. */
static void join_bounded(pthread_t t, const char *what) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += WAIT_MS / 1000;
        cr_assert(eq(int, pthread_timedjoin_np(t, NULL, &ts), 0),
                  "%s: the faulting thread still waits after %d ms", what, WAIT_MS);
}

/* Wait for the registration's descriptor to be readable, within WAIT_MS or fail. */
static void poll_bounded(mc_uffd *u) {
        struct pollfd p = {.fd = mc_uffd_fd(u), .events = POLLIN};

        cr_assert(ge(int, p.fd, 0));
        cr_assert(eq(int, poll(&p, 1, WAIT_MS), 1), "no fault reached the descriptor in %d ms",
                  WAIT_MS);
}

Test(uffd, zero_fill_in_the_callers_loop) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, 0, answer, (void *) (intptr_t) MC_UFFD_ZERO);
        toucher t = {.seen = 1};
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = NULL;
        pthread_t th;

        u = register_anon(2, &req, &m);
        /* Nothing waits yet: dispatching serves nothing and does not block. */
        cr_assert(eq(int, mc_uffd_dispatch(u, &err), 0), "%s", err.message);
        t.addr = (char *) m.ptr + page + 5;
        cr_assert(eq(int, pthread_create(&th, NULL, touch_main, &t), 0));
        poll_bounded(u);
        cr_assert(eq(int, mc_uffd_dispatch(u, &err), 1), "%s", err.message);
        join_bounded(th, "zero fill");
        cr_assert(eq(chr, t.seen, 0));
        mc_uffd_get_stats(u, &st);
        cr_assert(eq(u64, st.zeroed, 1));
        unregister_ok(u);
}

Test(uffd, dispatch_refused_with_memcaps_thread) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, fill_image, NULL);
        mc_mapping m;
        mc_uffd *u = NULL;

        u = register_anon(1, &req, &m);
        cr_assert(eq(int, mc_uffd_dispatch(u, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_uffd_dispatch(NULL, NULL), -EINVAL));
        unregister_ok(u);
        cr_assert(eq(int, mc_uffd_unregister(ctx, NULL, &err), 0));
}

/* Write-protect tracking: which pages were written since the protection was set. */
static uint8_t dirty[8];
static mc_uffd_action track_dirty(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        (void) buf;
        (void) ud;
        dirty[f->offset / size] = 1;
        return MC_UFFD_UNPROTECT;
}

Test(uffd, write_protect_tracks_dirty_pages) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_WP, MC_UFFD_THREAD, track_dirty, NULL);
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = NULL;
        char *p;

        anon_map_ok(ctx, 4 * page, MC_PROT_READ_WRITE, &m);
        p = m.ptr;
        memset(p, 1, 4 * page); /* present pages: only those can be protected */
        u = register_ok(&m, &req);
        cr_assert(eq(int, mc_uffd_protect(u, 0, MC_LENGTH_ALL, true, &err), 0), "%s", err.message);
        p[page] = 7;
        p[3 * page + 9] = 8;
        p[3 * page + 10] = 9;               /* unprotected by the first write: no second fault */
        cr_assert(eq(chr, p[2 * page], 1)); /* reads do not fault */
        cr_assert(eq(int, dirty[0] + dirty[1] * 2 + dirty[2] * 4 + dirty[3] * 8, 2 + 8));
        cr_assert(eq(chr, p[page], 7));
        cr_assert(eq(chr, p[3 * page + 10], 9));
        mc_uffd_get_stats(u, &st);
        cr_assert(eq(u64, st.unprotected, 2));
        cr_assert(eq(u64, st.faults, 2));
        /* Protecting outside the registered range, or without MC_UFFD_WP, is refused. */
        cr_assert(eq(int, mc_uffd_protect(u, 3 * page, 2 * page, true, &err), -EINVAL));
        unregister_ok(u);

        req = request(MC_UFFD_MISSING, 0, fill_image, NULL);
        u = register_ok(&m, &req);
        cr_assert(eq(int, mc_uffd_protect(u, 0, page, true, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "MC_UFFD_WP"), NULL), "%s", err.message);
        unregister_ok(u);
}

Test(uffd, shared_memory_missing_and_minor) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, fill_image, NULL);
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = NULL;
        int fd;

        /* Missing faults on an empty memfd: the handler supplies the pages. */
        fd = map_memfd(2, false, &m);
        u = register_ok(&m, &req);
        cr_assert(eq(chr, ((char *) m.ptr)[page], 'B'));
        unregister_ok(u);
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        close(fd);

        /* Minor faults: the page cache holds the pages, the handler lets them be mapped. */
        fd = map_memfd(2, true, &m);
        req = request(MC_UFFD_MINOR, MC_UFFD_THREAD, answer, (void *) (intptr_t) MC_UFFD_CONTINUE);
        u = register_ok(&m, &req);
        cr_assert(eq(chr, ((char *) m.ptr)[page + 3], 'b'));
        mc_uffd_get_stats(u, &st);
        cr_assert(eq(u64, st.continued, 1));
        unregister_ok(u);
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        close(fd);
}

/* ---- a handler that fails, answers wrongly or is too slow ---------------------------------- */

/* register_anon() of two pages whose every fault the handler answers MC_UFFD_FAIL, in @m. */
static mc_uffd *register_refusing(mc_mapping *m) {
        mc_uffd_request req =
                request(MC_UFFD_MISSING, MC_UFFD_THREAD, answer, (void *) (intptr_t) MC_UFFD_FAIL);

        return register_anon(2, &req, m);
}

static void assert_read_io(const mc_mapping *m, size_t off) {
        mc_error err = MC_ERROR_INIT;
        char c;

        cr_assert(eq(int, mc_map_read(ctx, m, off, &c, 1, &err), -EIO), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_IO), "%s", err.message);
}

Test(uffd, refused_fault_is_sigbus_not_a_hang) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = register_refusing(&m);

        assert_read_io(&m, page + 1);
        mc_uffd_get_stats(u, &st);
        cr_assert(eq(u64, st.failed, 1));
        cr_assert(not(st.broken));
        unregister_ok(u);
        /* The poisoned page stays poisoned until discarded; the other one is fine. */
        assert_read_io(&m, page + 1);
        cr_assert(eq(chr, ((char *) m.ptr)[0], 0));
        cr_assert(eq(int, mc_madvise(ctx, &m, page, page, MC_ADVICE_DONTNEED, &err), 0), "%s",
                  err.message);
        cr_assert(eq(chr, ((char *) m.ptr)[page + 1], 0));
}

Test(uffd, answers_that_do_not_fit_fail_the_fault) {
        static const int wrong[] = {MC_UFFD_CONTINUE, MC_UFFD_UNPROTECT, 42, -1};
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = NULL;

        anon_map_ok(ctx, ELEMENTSOF(wrong) * page, MC_PROT_READ_WRITE, &m);
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, answer,
                                              (void *) (intptr_t) wrong[i]);

                req.offset = i * page;
                req.length = page;
                u = register_ok(&m, &req);
                assert_read_io(&m, i * page);
                mc_uffd_get_stats(u, &st);
                cr_assert(eq(u64, st.failed, 1), "answer %d", wrong[i]);
                unregister_ok(u);
        }
}

/* A handler that blocks until the test lets it go (bounded, so a failure cannot hang). */
static int gate[2];
static mc_uffd_action stuck(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        struct pollfd p = {.fd = gate[0], .events = POLLIN};

        (void) ud;
        atomic_fetch_add(&calls, 1);
        (void) poll(&p, 1, WAIT_MS);
        memset(buf, 'S', size);
        (void) f;
        return MC_UFFD_COPY;
}

Test(uffd, slow_handler_is_given_up_on) {
        mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, stuck, NULL);
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = NULL;

        cr_assert(eq(int, pipe2(gate, O_CLOEXEC), 0));
        req.timeout_ms = 50;
        u = register_anon(3, &req, &m);
        /* The handler never returns in time: the faulting thread gets SIGBUS (Io). */
        assert_read_io(&m, 0);
        /* The registration is broken: later faults fail at once, the handler is not called. */
        assert_read_io(&m, 2 * page);
        mc_uffd_get_stats(u, &st);
        cr_assert(eq(u64, st.timed_out, 1));
        cr_assert(st.broken);
        cr_assert(eq(int, atomic_load(&calls), 1));
        cr_assert(eq(sz, (size_t) write(gate[1], "x", 1), 1));
        unregister_ok(u);
        close(gate[0]);
        close(gate[1]);
}

Test(uffd, unregister_wakes_a_waiting_thread) {
        mc_uffd_request req = request(MC_UFFD_MISSING, 0, fill_image, NULL);
        toucher t = {.seen = 1};
        mc_mapping m;
        mc_uffd *u = NULL;
        pthread_t th;

        u = register_anon(1, &req, &m);
        t.addr = m.ptr;
        cr_assert(eq(int, pthread_create(&th, NULL, touch_main, &t), 0));
        poll_bounded(u); /* the thread waits on its fault; the loop never dispatches */
        unregister_ok(u);
        join_bounded(th, "unregister");
        cr_assert(eq(chr, t.seen, 0));
        cr_assert(eq(int, atomic_load(&calls), 0));
}

static mc_uffd *self_reg;
static int self_r, self_errno;
static mc_uffd_action unregister_self(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        mc_error err = MC_ERROR_INIT;

        (void) f;
        (void) size;
        (void) ud;
        self_r = mc_uffd_unregister(ctx, self_reg, &err);
        self_errno = err.sys_errno;
        memset(buf, 'Z', size);
        return MC_UFFD_COPY;
}

Test(uffd, handler_cannot_unregister_itself) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, unregister_self, NULL);
        mc_mapping m;

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        self_reg = register_ok(&m, &req);
        cr_assert(eq(chr, ((char *) m.ptr)[0], 'Z'));
        cr_assert(eq(int, self_r, -EDEADLK));
        cr_assert(eq(int, self_errno, EDEADLK));
        cr_assert(eq(int, mc_uffd_unregister(ctx, self_reg, &err), 0), "%s", err.message);
}

/* ---- policy, arguments and the kernel's refusals ------------------------------------------- */

static int n_uffd;
static int uffd_flags[4];
static int uffd_errno[4];
static int fake_userfaultfd(int flags) {
        int i = n_uffd++;

        cr_assert(lt(int, i, 4));
        uffd_flags[i] = flags;
        if (uffd_errno[i]) {
                errno = uffd_errno[i];
                return -1;
        }
        return (int) syscall(SYS_userfaultfd, flags);
}

static int try_register(mc_uffd **u, mc_error *err) {
        mc_uffd_request req = request(MC_UFFD_MISSING, 0, fill_image, NULL);
        mc_mapping m;

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        return mc_uffd_register(ctx, &m, &req, u, err);
}

Test(uffd, denied_by_default_before_any_system_call) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p;
        mc_uffd *u = NULL;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(not(mc_policy_allow_userfaultfd(p)));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
        mc_sys.userfaultfd = fake_userfaultfd;
        cr_assert(eq(int, try_register(&u, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(ne(ptr, strstr(err.message, "allow_userfaultfd"), NULL), "%s", err.message);
        cr_assert(eq(int, n_uffd, 0));
        cr_assert(eq(ptr, u, NULL));
}

Test(uffd, denied_by_allowed_syscalls) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd *u = NULL;

        set_policy(true, MC_OP_ALL & ~MC_OP_BIT(MC_OP_UFFD_REGISTER));
        cr_assert(eq(int, try_register(&u, &err), -EPERM));
        cr_assert(ne(ptr, strstr(err.message, "allowed_syscalls"), NULL), "%s", err.message);
        /* Unregistering is a release: a policy cannot forbid it. */
        set_policy(true, MC_OP_ALL);
        cr_assert(eq(int, try_register(&u, &err), 0), "%s", err.message);
        set_policy(true, 0);
        unregister_ok(u);
}

Test(uffd, kernel_without_userfaultfd_is_unsupported) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd *u = NULL;

        mc_sys.userfaultfd = fake_userfaultfd;
        uffd_errno[0] = ENOSYS;
        cr_assert(eq(int, try_register(&u, &err), -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED), "%s", err.message);
        cr_assert(eq(int, n_uffd, 1));
}

Test(uffd, kernel_refusal_is_permission_denied) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd *u = NULL;

        mc_sys.userfaultfd = fake_userfaultfd;
        uffd_errno[0] = uffd_errno[1] = EPERM;
        cr_assert(eq(int, try_register(&u, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED), "%s", err.message);
        cr_assert(ne(ptr, strstr(err.message, "vm.unprivileged_userfaultfd"), NULL), "%s",
                  err.message);
        cr_assert(eq(int, n_uffd, 2));
        cr_assert(not(uffd_flags[0] & UFFD_USER_MODE_ONLY));
        cr_assert(uffd_flags[1] & UFFD_USER_MODE_ONLY);
}

Test(uffd, unprivileged_falls_back_to_user_mode_only) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_stats st;
        mc_uffd *u = NULL;

        mc_sys.userfaultfd = fake_userfaultfd;
        uffd_errno[0] = EPERM;
        cr_assert(eq(int, try_register(&u, &err), 0), "%s", err.message);
        mc_uffd_get_stats(u, &st);
        cr_assert(st.user_mode_only);
        cr_assert(eq(int, n_uffd, 2));
        unregister_ok(u);
}

static int fail_api(int fd, unsigned long req, void *arg) {
        if (req == UFFDIO_API) {
                errno = EINVAL;
                return -1;
        }
        return ioctl(fd, req, arg);
}

Test(uffd, kernel_without_a_feature_is_unsupported) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd *u = NULL;

        mc_sys.uffd_ioctl = fail_api;
        cr_assert(eq(int, try_register(&u, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED), "%s", err.message);
}

Test(uffd, bad_arguments) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, 0, fill_image, NULL);
        mc_mapping m, gone;
        mc_uffd *u = NULL;

        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_uffd_register(ctx, NULL, &req, &u, &err), -EINVAL));
        cr_assert(eq(int, mc_uffd_register(ctx, &m, NULL, &u, &err), -EINVAL));
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_uffd_register(NULL, &m, &req, &u, &err), -EINVAL));
        req.handler = NULL;
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        req = request(0, 0, fill_image, NULL);
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        req = request(1 << 7, 0, fill_image, NULL);
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        req = request(MC_UFFD_MISSING, 1 << 5, fill_image, NULL);
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        /* Ranges outside the mapping, an empty one. */
        req = request(MC_UFFD_MISSING, 0, fill_image, NULL);
        req.offset = page;
        req.length = 2 * page;
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        req.offset = SIZE_MAX - 1;
        req.length = 4;
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        req.offset = 0;
        req.length = 0;
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        /* Minor faults need shared memory. */
        req = request(MC_UFFD_MINOR, 0, fill_image, NULL);
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "minor"), NULL), "%s", err.message);
        /* A mapping that is gone. */
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &gone);
        cr_assert(eq(int, mc_munmap(ctx, &gone, &err), 0));
        req = request(MC_UFFD_MISSING, 0, fill_image, NULL);
        cr_assert(eq(int, mc_uffd_register(ctx, &gone, &req, &u, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(ptr, u, NULL));
}

Test(uffd, file_on_disk_is_refused) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, 0, fill_image, NULL);
        const char *root = getenv("MEMCAP_BUILD_ROOT");
        char path[4096];
        mc_mapping m;
        mc_uffd *u = NULL;
        int fd;

        cr_assert(ne(ptr, (void *) root, NULL));
        snprintf(path, sizeof(path), "%s/uffd-test-%d", root, (int) getpid());
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, (off_t) page), 0));
        close(fd);
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), 0), "%s",
                  err.message);
        unlink(path);
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "anonymous"), NULL), "%s", err.message);
}

/* ---- audit and policy files ------------------------------------------------------------------ */

static audit_kept kept;

static const char *rec_str(int i, const char *key) {
        return json_string_value(json_object_get(kept.rec[i], key));
}

Test(uffd, register_and_unregister_are_audited) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING | MC_UFFD_WP, 0, fill_image, NULL);
        mc_audit *audit;
        mc_mapping m;
        mc_uffd *u = NULL;
        json_t *rq;

        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_audit_open_callback(audit_keep, &kept, &audit, NULL), 0));
        mc_ctx_set_audit(ctx, audit);
        req.offset = page;
        req.length = page;
        u = register_ok(&m, &req);
        unregister_ok(u);
        set_policy(false, MC_OP_ALL);
        cr_assert(eq(int, mc_uffd_register(ctx, &m, &req, &u, &err), -EPERM));
        cr_assert(eq(int, kept.n, 3));

        cr_assert(eq(str, (char *) rec_str(0, "operation"), "uffd_register"));
        cr_assert(eq(str, (char *) rec_str(0, "outcome"), "ok"));
        rq = json_object_get(kept.rec[0], "request");
        cr_assert(eq(i64, json_integer_value(json_object_get(rq, "offset")), (long long) page));
        cr_assert(eq(i64, json_integer_value(json_object_get(rq, "length")), (long long) page));
        cr_assert(eq(i64, json_integer_value(json_object_get(rq, "mapping_id")), (long long) m.id));
        cr_assert(
                eq(str,
                   (char *) json_string_value(json_array_get(json_object_get(rq, "uffd_modes"), 0)),
                   "MISSING"));
        cr_assert(
                eq(str,
                   (char *) json_string_value(json_array_get(json_object_get(rq, "uffd_modes"), 1)),
                   "WP"));
        cr_assert(eq(str, (char *) rec_str(1, "operation"), "uffd_unregister"));
        cr_assert(eq(str, (char *) rec_str(1, "outcome"), "ok"));
        cr_assert(eq(str, (char *) rec_str(2, "outcome"), "denied"));
        audit_kept_free(&kept);
}

Test(uffd, policy_file_field) {
        static const char on[] = "{\"allow_userfaultfd\": true}";
        static const char bad[] = "{\"allow_userfaultfd\": 1}";
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL, *q = NULL;
        char *json = NULL;

        cr_assert(eq(int, mc_policy_load_string(on, strlen(on), NULL, &p, &err), 0), "%s",
                  err.message);
        cr_assert(mc_policy_allow_userfaultfd(p));
        cr_assert(eq(int, mc_policy_to_json(p, &json, &err), 0));
        cr_assert(ne(ptr, strstr(json, "\"allow_userfaultfd\": true"), NULL), "%s", json);
        cr_assert(eq(int, mc_policy_load_string(json, strlen(json), NULL, &q, &err), 0), "%s",
                  err.message);
        cr_assert(mc_policy_allow_userfaultfd(q));
        cr_assert(eq(int, mc_policy_load_string(bad, strlen(bad), NULL, &q, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "allow_userfaultfd"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_policy_set_allow_userfaultfd(NULL, true), -EINVAL));
        cr_assert(not(mc_policy_allow_userfaultfd(NULL)));
        free(json);
        mc_policy_free(p);
        mc_policy_free(q);
}

/* ---- the last resort, and fork() ------------------------------------------------------------- */

/* UFFDIO_POISON as the kernel defines it (older headers lack it). */
struct test_uffdio_poison {
        struct uffdio_range range;
        __u64 mode;
        __s64 updated;
};

static int refuse_poison(int fd, unsigned long req, void *arg) {
        if (req == _IOWR(UFFDIO, 0x08, struct test_uffdio_poison)) {
                errno = ENOMEM;
                return -1;
        }
        return ioctl(fd, req, arg);
}

Test(uffd, a_page_that_cannot_be_poisoned_breaks_the_registration) {
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u = register_refusing(&m);

        mc_sys.uffd_ioctl = refuse_poison;
        /* The range is unregistered instead: the thread wakes and finds ordinary memory. */
        cr_assert(eq(chr, ((char *) m.ptr)[page], 0));
        cr_assert(eq(chr, ((char *) m.ptr)[0], 0));
        mc_uffd_get_stats(u, &st);
        cr_assert(st.broken);
        cr_assert(eq(u64, st.failed, 1));
        cr_assert(eq(int, atomic_load(&calls), 1));
        unregister_ok(u);
}

/*
 * Two pages served by fill_image() on memcap's thread, in @m, of which the parent touched page 0
 * only; then fork(). The registration in @u; fork()'s result.
 */
static pid_t fork_after_page_0(mc_uffd **u, mc_mapping *m) {
        mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, fill_image, NULL);
        pid_t pid;

        *u = register_anon(2, &req, m);
        cr_assert(eq(chr, ((char *) m->ptr)[0], 'A'));
        pid = fork();
        cr_assert(ge(int, pid, 0));
        return pid;
}

Test(uffd, a_fork_child_has_ordinary_memory) {
        mc_mapping m;
        mc_uffd *u = NULL;
        pid_t pid = fork_after_page_0(&u, &m);

        if (pid == 0) /* page 0 was copied; page 1 was never there: a zero page, no wait */
                _exit(((char *) m.ptr)[0] == 'A' && ((char *) m.ptr)[page] == 0 ? 0 : 1);
        cr_assert(eq(int, child_status(pid), 0), "the child's checks failed");
        cr_assert(eq(int, atomic_load(&calls), 1));
        unregister_ok(u);
}

/*
 * The inherited descriptor speaks for the parent's memory: a child that ends or drives "its"
 * registration must not end or drive the parent's. Page 1 is still served by the parent's
 * handler afterwards.
 */
Test(uffd, a_fork_child_cannot_end_the_parents_registration) {
        mc_mapping m;
        mc_uffd *u = NULL;
        pid_t pid = fork_after_page_0(&u, &m);

        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;
                int bad = mc_uffd_dispatch(u, &e) != -EINVAL;

                bad |= mc_uffd_unregister(ctx, u, &e) != 0;
                _exit(bad);
        }
        cr_assert(eq(int, child_status(pid), 0), "the child's checks failed");
        /* Still registered here: the first touch of page 1 goes to the handler. */
        cr_assert(eq(chr, ((char *) m.ptr)[page], 'B'));
        cr_assert(eq(int, atomic_load(&calls), 2));
        unregister_ok(u);
}

static int n_unregister;
static int count_unregister(int fd, unsigned long req, void *arg) {
        n_unregister += req == UFFDIO_UNREGISTER;
        return ioctl(fd, req, arg);
}

Test(uffd, unregister_after_the_mapping_moved_or_went) {
        mc_error err = MC_ERROR_INIT;
        mc_uffd_request req = request(MC_UFFD_MISSING, MC_UFFD_THREAD, fill_image, NULL);
        mc_mapping m, other;
        mc_uffd *u = NULL;

        void *old;

        /*
         * Moved by mc_remap(): the kernel dropped the registration, and the old address may
         * hold another mapping by now; nothing to unregister. Grown in place: the range is.
         */
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        old = m.base;
        u = register_ok(&m, &req);
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &other);
        cr_assert(eq(int, mc_remap(ctx, &m, 64 * page, MC_REMAP_MAYMOVE, &err), 0), "%s",
                  err.message);
        mc_sys.uffd_ioctl = count_unregister;
        unregister_ok(u);
        cr_assert(eq(int, n_unregister, m.base == old ? 1 : 0));

        /* Unmapped: the same. */
        mc__sys_reset();
        u = register_ok(&other, &req);
        cr_assert(eq(int, mc_munmap(ctx, &other, &err), 0));
        mc_sys.uffd_ioctl = count_unregister;
        unregister_ok(u);
        cr_assert(eq(int, n_unregister, 0));
}
