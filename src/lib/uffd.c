/* SPDX-License-Identifier: MIT */
/*
 * userfaultfd (uffd.h): a range of a memcap mapping whose page faults a handler of the
 * application's serves. Registering and unregistering run through the choke point (policy
 * allow_userfaultfd, audit); serving a fault does not: it only fills or releases pages of a
 * range the policy already handed to the handler, and a record per page would flood the log.
 *
 * Nothing may leave a faulting thread waiting forever. A fault the handler refuses, answers
 * with something that does not fit the fault, or that the kernel will not resolve is failed by
 * poisoning its page (UFFDIO_POISON: the thread gets SIGBUS); a page that cannot be poisoned
 * (it is present: a write-protect fault) breaks the registration, which unregisters the whole
 * range and so wakes every waiter. With a timeout a watchdog thread gives up on a handler call
 * that overran it the same way, and then fails every later fault itself, since the handler's
 * thread is still stuck.
 *
 * Sections: the kernel's interface, serving faults, threads, register, protect, unregister.
 */

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "map-def.h"

/* ---- the kernel's interface ---------------------------------------------------------------- */

/* Older headers than the kernel we run on: the values are the kernel's ABI. */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
struct uffdio_poison {
        struct uffdio_range range;
        __u64 mode;
        __s64 updated;
};
#define _UFFDIO_POISON (0x08)
#define UFFDIO_POISON  _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

struct mc_uffd {
        mc_mapping m;    /* the mapping registered in */
        uintptr_t start; /* the registered pages */
        size_t len;
        size_t page;
        unsigned modes;
        unsigned flags;
        mc_uffd_handler handler;
        void *userdata;
        uint32_t timeout_ms;
        mc_ctx *ctx;
        pid_t pid; /* a fork child has none of the threads */
        int fd;    /* the userfaultfd; -1 before registration */
        int stop_fd;
        void *buf; /* the page the handler fills */
        pthread_t server, watchdog;
        bool has_server, has_watchdog;
        pthread_mutex_t serve_lock; /* one reader that calls the handler at a time */
        pthread_mutex_t lock;       /* the fields below */
        pthread_cond_t cond;
        bool stopping;
        uintptr_t inflight; /* the page of the handler call in progress; 0 for none */
        uint64_t seq;       /* handler calls so far: which call the watchdog is timing */
        int64_t deadline_ns;
        bool abandoned; /* the watchdog failed the call in progress */
        mc_uffd_stats stats;
};

/* The registration whose handler this thread is running, so it cannot unregister it. */
static __thread const mc_uffd *tls_serving;

static int uffd_ioctl(const mc_uffd *u, unsigned long req, void *arg) {
        return mc_sys.uffd_ioctl(u->fd, req, arg);
}

/* ---- serving faults -------------------------------------------------------------------------- */

/* Unregister the whole range: every waiter wakes and finds ordinary memory. */
static void break_registration(mc_uffd *u) {
        struct uffdio_range rng = {.start = u->start, .len = u->len};

        pthread_mutex_lock(&u->lock);
        u->stats.broken = true;
        pthread_mutex_unlock(&u->lock);
        (void) uffd_ioctl(u, UFFDIO_UNREGISTER, &rng);
}

/* Fail the fault on @page: poison it (SIGBUS), or break the registration when it cannot be. */
static void fail_page(mc_uffd *u, uintptr_t page) {
        struct uffdio_poison p = {.range = {.start = page, .len = u->page}};

        if (uffd_ioctl(u, UFFDIO_POISON, &p) < 0)
                break_registration(u);
}

static bool action_fits(unsigned mode, mc_uffd_action act) {
        switch (mode) {
        case MC_UFFD_MISSING:
                return act == MC_UFFD_COPY || act == MC_UFFD_ZERO;
        case MC_UFFD_MINOR:
                return act == MC_UFFD_CONTINUE;
        case MC_UFFD_WP:
                return act == MC_UFFD_UNPROTECT;
        default:
                return false;
        }
}

/* Resolve the fault on @page as @act says. Returns 0 or -errno. */
static int resolve(mc_uffd *u, uintptr_t page, mc_uffd_action act) {
        struct uffdio_range rng = {.start = page, .len = u->page};
        int r;

        switch (act) {
        case MC_UFFD_COPY: {
                struct uffdio_copy cp = {.dst = page, .src = (uintptr_t) u->buf, .len = u->page};
                r = uffd_ioctl(u, UFFDIO_COPY, &cp);
                break;
        }
        case MC_UFFD_ZERO: {
                struct uffdio_zeropage z = {.range = rng};
                r = uffd_ioctl(u, UFFDIO_ZEROPAGE, &z);
                break;
        }
        case MC_UFFD_CONTINUE: {
                struct uffdio_continue cn = {.range = rng};
                r = uffd_ioctl(u, UFFDIO_CONTINUE, &cn);
                break;
        }
        default: { /* MC_UFFD_UNPROTECT: action_fits() let nothing else through */
                struct uffdio_writeprotect wp = {.range = rng, .mode = 0};
                r = uffd_ioctl(u, UFFDIO_WRITEPROTECT, &wp);
                break;
        }
        }
        if (r < 0 && errno == EEXIST) {
                /* Another fault on the page won the race: the page is there, only wake. */
                r = uffd_ioctl(u, UFFDIO_WAKE, &rng);
        }
        return r < 0 ? -errno : 0;
}

/* Add @delta to the counter of @act. */
static void count(mc_uffd *u, mc_uffd_action act, int delta) {
        uint64_t *n;

        pthread_mutex_lock(&u->lock);
        switch (act) {
        case MC_UFFD_COPY:
                n = &u->stats.copied;
                break;
        case MC_UFFD_ZERO:
                n = &u->stats.zeroed;
                break;
        case MC_UFFD_CONTINUE:
                n = &u->stats.continued;
                break;
        case MC_UFFD_UNPROTECT:
                n = &u->stats.unprotected;
                break;
        default:
                n = &u->stats.failed;
                break;
        }
        *n += (uint64_t) (int64_t) delta;
        pthread_mutex_unlock(&u->lock);
}

static void serve(mc_uffd *u, const struct uffd_msg *msg) {
        uint64_t fl = msg->arg.pagefault.flags;
        mc_uffd_fault f;
        uintptr_t page;
        mc_uffd_action act;
        int64_t t0, t1;
        bool broken, abandoned;

        if (msg->event != UFFD_EVENT_PAGEFAULT)
                return; /* memcap asks for no other events */
        page = (uintptr_t) msg->arg.pagefault.address & ~(uintptr_t) (u->page - 1);
        f.addr = (void *) page;
        f.offset = page - (uintptr_t) u->m.base;
        f.mode = fl & UFFD_PAGEFAULT_FLAG_WP      ? MC_UFFD_WP
                 : fl & UFFD_PAGEFAULT_FLAG_MINOR ? MC_UFFD_MINOR
                                                  : MC_UFFD_MISSING;
        f.write = fl & UFFD_PAGEFAULT_FLAG_WRITE;

        pthread_mutex_lock(&u->lock);
        u->stats.faults++;
        broken = u->stats.broken;
        if (!broken) {
                u->inflight = page;
                u->seq++;
                u->abandoned = false;
                if (u->timeout_ms)
                        u->deadline_ns =
                                mc__now_ns(CLOCK_MONOTONIC) + (int64_t) u->timeout_ms * 1000000;
                pthread_cond_broadcast(&u->cond);
        }
        pthread_mutex_unlock(&u->lock);
        if (broken) {
                count(u, MC_UFFD_FAIL, 1);
                fail_page(u, page);
                return;
        }

        memset(u->buf, 0, u->page);
        t0 = mc__now_ns(CLOCK_MONOTONIC);
        tls_serving = u;
        act = u->handler(&f, u->buf, u->page, u->userdata);
        tls_serving = NULL;
        t1 = mc__now_ns(CLOCK_MONOTONIC);

        pthread_mutex_lock(&u->lock);
        u->inflight = 0;
        u->stats.handler_ns += (uint64_t) (t1 - t0);
        abandoned = u->abandoned;
        pthread_mutex_unlock(&u->lock);
        if (abandoned)
                return; /* the watchdog failed it already */
        if (!action_fits(f.mode, act)) {
                count(u, MC_UFFD_FAIL, 1);
                fail_page(u, page);
                return;
        }
        /* Counted first: resolving wakes the faulting thread, which may read the counters. */
        count(u, act, 1);
        if (resolve(u, page, act) < 0) {
                count(u, act, -1);
                count(u, MC_UFFD_FAIL, 1);
                fail_page(u, page);
        }
}

/* Serve every fault waiting now. Returns how many, or -errno of the read. */
static int drain(mc_uffd *u) {
        struct uffd_msg msg[16];
        int n = 0;

        for (;;) {
                ssize_t k = mc_sys.read(u->fd, msg, sizeof(msg));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? n : -errno;
                }
                for (size_t i = 0; i < (size_t) k / sizeof(msg[0]); i++, n++)
                        serve(u, &msg[i]);
                if ((size_t) k < sizeof(msg))
                        return n;
        }
}

/* ---- threads --------------------------------------------------------------------------------- */

/* Wait for the descriptor to have a message; false when the registration stops. */
static bool wait_readable(mc_uffd *u) {
        for (;;) {
                struct pollfd p[2] = {{.fd = u->fd, .events = POLLIN},
                                      {.fd = u->stop_fd, .events = POLLIN}};

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                if (p[1].revents)
                        return false;
                if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return false;
                return true;
        }
}

static void *server_main(void *arg) {
        mc_uffd *u = arg;

        while (wait_readable(u)) {
                pthread_mutex_lock(&u->serve_lock);
                (void) drain(u);
                pthread_mutex_unlock(&u->serve_lock);
        }
        return NULL;
}

static void *watchdog_main(void *arg) {
        mc_uffd *u = arg;

        pthread_mutex_lock(&u->lock);
        while (!u->stopping) {
                if (u->stats.broken) {
                        /* The handler's reader may be stuck in it: fail the faults here. */
                        pthread_mutex_unlock(&u->lock);
                        if (!wait_readable(u)) {
                                pthread_mutex_lock(&u->lock);
                                break;
                        }
                        (void) drain(u);
                        pthread_mutex_lock(&u->lock);
                } else if (u->inflight && !u->abandoned) {
                        uint64_t seq = u->seq;
                        struct timespec ts = {.tv_sec = u->deadline_ns / 1000000000,
                                              .tv_nsec = u->deadline_ns % 1000000000};
                        uintptr_t page;

                        (void) pthread_cond_timedwait(&u->cond, &u->lock, &ts);
                        if (u->stopping || !u->inflight || u->seq != seq ||
                            mc__now_ns(CLOCK_MONOTONIC) < u->deadline_ns)
                                continue;
                        u->abandoned = true;
                        u->stats.broken = true;
                        u->stats.timed_out++;
                        page = u->inflight;
                        pthread_mutex_unlock(&u->lock);
                        fail_page(u, page);
                        pthread_mutex_lock(&u->lock);
                } else {
                        pthread_cond_wait(&u->cond, &u->lock);
                }
        }
        pthread_mutex_unlock(&u->lock);
        return NULL;
}

/* Start a thread with every signal blocked: the application's signals are not memcap's. */
static int start_thread(pthread_t *t, void *(*fn)(void *), mc_uffd *u) {
        sigset_t all, old;
        int r;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(t, NULL, fn, u);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -r;
}

static void stop_threads(mc_uffd *u) {
        uint64_t one = 1;

        if (!u->has_server && !u->has_watchdog)
                return;
        pthread_mutex_lock(&u->lock);
        u->stopping = true;
        pthread_cond_broadcast(&u->cond);
        pthread_mutex_unlock(&u->lock);
        /* An eventfd write of 1 fails only on overflow, which a second write cannot reach. */
        (void) !write(u->stop_fd, &one, sizeof(one));
        if (u->has_watchdog)
                pthread_join(u->watchdog, NULL);
        if (u->has_server)
                pthread_join(u->server, NULL);
        u->has_server = u->has_watchdog = false;
}

/* ---- register -------------------------------------------------------------------------------- */

static mc_uffd *uffd_free(mc_uffd *u) {
        if (!u)
                return NULL;
        if (u->pid == getpid()) {
                stop_threads(u);
                pthread_cond_destroy(&u->cond);
                pthread_mutex_destroy(&u->lock);
                pthread_mutex_destroy(&u->serve_lock);
        }
        safe_close(u->fd);
        safe_close(u->stop_fd);
        free(u->buf);
        free(u);
        return NULL;
}

static int uffd_new(mc_ctx *ctx, const mc_mapping *m, const mc_uffd_request *req, mc_uffd **ret,
                    mc_error *err) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        pthread_condattr_t ca;
        mc_uffd *u;

        u = calloc(1, sizeof(*u));
        if (!u)
                return mc__error_errno(err, ENOMEM, "uffd_register: allocating the registration");
        u->fd = u->stop_fd = -EBADF;
        u->pid = getpid();
        pthread_mutex_init(&u->serve_lock, NULL);
        pthread_mutex_init(&u->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&u->cond, &ca);
        pthread_condattr_destroy(&ca);
        if (posix_memalign(&u->buf, page, page) != 0) {
                u->buf = NULL;
                uffd_free(u);
                return mc__error_errno(err, ENOMEM, "uffd_register: allocating the page buffer");
        }
        u->stop_fd = mc_sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (u->stop_fd < 0) {
                int e = errno;
                uffd_free(u);
                return mc__error_errno(err, e, "uffd_register: eventfd");
        }
        u->ctx = ctx;
        u->m = *m;
        u->page = page;
        u->modes = req->modes;
        u->flags = req->flags;
        u->handler = req->handler;
        u->userdata = req->userdata;
        u->timeout_ms = req->timeout_ms;
        *ret = u;
        return 0;
}

static int register_check(const mc_mapping *m, const mc_uffd_request *req, mc_uffd **ret,
                          mc_error *err) {
        int r = mc__mapping_check("uffd_register", m, err);

        if (r < 0)
                return r;
        if (!req || !ret || !req->handler)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_register: the request, its handler and ret must not "
                                     "be NULL");
        if (req->modes == 0 || (req->modes & ~(MC_UFFD_MISSING | MC_UFFD_WP | MC_UFFD_MINOR)))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_register: modes 0x%x: give MC_UFFD_MISSING, MC_UFFD_WP "
                                     "and/or MC_UFFD_MINOR, and nothing else",
                                     req->modes);
        if (req->flags & ~(unsigned) MC_UFFD_THREAD)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_register: unknown flags 0x%x", req->flags);
        return 0;
}

typedef struct reg_args {
        entry_args ea; /* first: mc__map_lookup_prepare() reads it */
        mc_uffd *u;
        size_t offset;
        size_t length;
} reg_args;

static int register_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        reg_args *a = data;
        const mc__entry *e;
        size_t p0, p1, len = a->length;
        bool shmem;
        int r = mc__map_lookup_prepare(ctx, c, data, err);

        if (r < 0)
                return r;
        e = a->ea.e;
        r = mc__range_check("uffd_register", e, a->offset, &len, err);
        if (r < 0)
                return r;
        if (e->kind == MC__KIND_EMPTY || len == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_register: " MAPPING_FMT " has no pages",
                                     MAPPING_ARGS(a->ea.m));
        if (e->page != a->u->page)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_register: " MAPPING_FMT " uses huge pages, which memcap "
                                     "does not serve through userfaultfd",
                                     MAPPING_ARGS(a->ea.m));
        shmem = e->kind == MC__KIND_SHARED || (e->memory_backed && (e->flags & MC_MAP_SHARED));
        if (!e->anonymous && !shmem)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_register: " MAPPING_FMT " is neither private anonymous "
                                     "memory nor a shared mapping of shared memory, the kinds "
                                     "userfaultfd serves",
                                     MAPPING_ARGS(a->ea.m));
        if ((a->u->modes & MC_UFFD_MINOR) && !shmem)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_register: minor faults need a shared mapping of shared "
                                     "memory; " MAPPING_FMT " is anonymous",
                                     MAPPING_ARGS(a->ea.m));
        mc__range_pages(e, a->offset, len, &p0, &p1);
        a->u->start = e->base + p0 * e->page;
        a->u->len = (p1 - p0) * e->page;
        c->req.length = len;
        return 0;
}

/* A userfaultfd as the kernel allows it: full, else user-mode only (see uffd.h). */
static int open_uffd(mc_uffd *u, mc_error *err) {
        int fd = mc_sys.userfaultfd(O_CLOEXEC | O_NONBLOCK), e = errno;

        if (fd < 0 && e == EPERM) {
                fd = mc_sys.userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
                if (fd >= 0)
                        u->stats.user_mode_only = true;
                else if (errno != EINVAL) /* EINVAL: a kernel before 5.11 without the flag */
                        e = errno;
        }
        if (fd >= 0) {
                u->fd = fd;
                return 0;
        }
        if (e == ENOSYS)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                                     "uffd_register: the kernel has no userfaultfd "
                                     "(CONFIG_USERFAULTFD)");
        if (e == EPERM)
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EPERM,
                                     "uffd_register: the kernel refused a userfaultfd "
                                     "(vm.unprivileged_userfaultfd is 0 and the process lacks "
                                     "CAP_SYS_PTRACE; a user-mode-only one was refused too)");
        return mc__error_errno(err, e, "uffd_register: userfaultfd");
}

static int register_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        reg_args *a = data;
        mc_uffd *u = a->u;
        bool shmem = !a->ea.e->anonymous;
        struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_POISON};
        struct uffdio_register reg = {.range = {.start = u->start, .len = u->len}};
        uint64_t need = 0;
        int r;

        (void) ctx;
        (void) c;
        r = open_uffd(u, err);
        if (r < 0)
                return r;
        if (u->modes & MC_UFFD_MISSING) {
                api.features |= shmem ? UFFD_FEATURE_MISSING_SHMEM : 0;
                reg.mode |= UFFDIO_REGISTER_MODE_MISSING;
                need |= UINT64_C(1) << _UFFDIO_COPY;
        }
        if (u->modes & MC_UFFD_WP) {
                api.features |= UFFD_FEATURE_PAGEFAULT_FLAG_WP |
                                (shmem ? UFFD_FEATURE_WP_HUGETLBFS_SHMEM : 0);
                reg.mode |= UFFDIO_REGISTER_MODE_WP;
                need |= UINT64_C(1) << _UFFDIO_WRITEPROTECT;
        }
        if (u->modes & MC_UFFD_MINOR) {
                api.features |= UFFD_FEATURE_MINOR_SHMEM;
                reg.mode |= UFFDIO_REGISTER_MODE_MINOR;
                need |= UINT64_C(1) << _UFFDIO_CONTINUE;
        }
        if (uffd_ioctl(u, UFFDIO_API, &api) < 0) {
                if (errno == EINVAL)
                        return mc__error_set(err, MC_ERR_UNSUPPORTED, EINVAL,
                                             "uffd_register: the kernel lacks a userfaultfd "
                                             "feature this registration needs (UFFDIO_POISON, "
                                             "Linux 6.6, to fail a fault; and the modes asked "
                                             "for on this kind of memory)");
                return mc__error_errno(err, errno, "uffd_register: UFFDIO_API");
        }
        if (uffd_ioctl(u, UFFDIO_REGISTER, &reg) < 0) {
                int e = errno;
                if (e == EINVAL)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "uffd_register: " MAPPING_FMT ": the kernel cannot "
                                             "serve these modes on this mapping",
                                             MAPPING_ARGS(a->ea.m));
                return mc__error_errno(err, e, "uffd_register " MAPPING_FMT, MAPPING_ARGS(a->ea.m));
        }
        if ((reg.ioctls & need) != need) {
                r = mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                  "uffd_register: " MAPPING_FMT ": the kernel cannot resolve the "
                                  "faults asked for on this mapping",
                                  MAPPING_ARGS(a->ea.m));
                goto unregister;
        }
        if (u->timeout_ms) {
                r = start_thread(&u->watchdog, watchdog_main, u);
                if (r < 0)
                        goto thread_failed;
                u->has_watchdog = true;
        }
        if (u->flags & MC_UFFD_THREAD) {
                r = start_thread(&u->server, server_main, u);
                if (r < 0)
                        goto thread_failed;
                u->has_server = true;
        }
        return 0;

thread_failed:
        stop_threads(u);
        r = mc__error_errno(err, -r, "uffd_register: starting memcap's thread");
unregister:
        (void) uffd_ioctl(u, UFFDIO_UNREGISTER, &reg.range);
        return r;
}

static const mc__steps register_steps = {.prepare = register_prepare, .syscall = register_syscall};

int mc_uffd_register(mc_ctx *ctx, const mc_mapping *m, const mc_uffd_request *req, mc_uffd **ret,
                     mc_error *err) {
        MC__ERROR_LOCAL(e);
        reg_args a = {.ea = {.m = m}};
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_UFFD_REGISTER, MC__CAP_MEMORY);
        c.uffd = true;
        mc__call_set_range(&c, m, req ? req->length : MC_LENGTH_ALL);
        if (req) {
                c.fields |= MC__F_OFFSET | MC__F_UFFD;
                c.req.offset = req->offset;
                c.req.uffd_modes = req->modes;
                a.offset = req->offset;
                a.length = req->length;
        }
        r = register_check(m, req, ret, &e);
        if (r >= 0)
                r = uffd_new(ctx, m, req, &a.u, &e);
        r = mc__ctx_run(ctx, &c, r, &e, &register_steps, &a, err);
        if (r < 0) {
                uffd_free(a.u);
                return r;
        }
        *ret = a.u;
        return 0;
}

/* ---- serving in the caller's loop, protect, stats ------------------------------------------- */

int mc_uffd_fd(const mc_uffd *u) {
        return u ? u->fd : -1;
}

int mc_uffd_dispatch(mc_uffd *u, mc_error *err) {
        int n;

        if (!u || (u->flags & MC_UFFD_THREAD))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "uffd_dispatch: %s",
                                     u ? "the registration has memcap's thread (MC_UFFD_THREAD)"
                                       : "the registration must not be NULL");
        if (tls_serving)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EDEADLK,
                                     "uffd_dispatch: called from a handler");
        if (u->pid != getpid())
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_dispatch: the registration is the parent process's "
                                     "(this is a fork child)");
        pthread_mutex_lock(&u->serve_lock);
        n = drain(u);
        pthread_mutex_unlock(&u->serve_lock);
        if (n < 0)
                return mc__error_errno(err, -n, "uffd_dispatch: reading the userfaultfd");
        return n;
}

int mc_uffd_protect(mc_uffd *u, size_t offset, size_t length, bool protect, mc_error *err) {
        struct uffdio_writeprotect wp;
        uintptr_t lo, hi, end;

        if (!u || !(u->modes & MC_UFFD_WP))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "uffd_protect: %s",
                                     u ? "the registration has no MC_UFFD_WP"
                                       : "the registration must not be NULL");
        if (u->pid != getpid())
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_protect: the registration is the parent process's "
                                     "(this is a fork child)");
        if (length == MC_LENGTH_ALL)
                length = u->m.len - MC_MIN(offset, u->m.len);
        if (length == 0 || MC_ADD_OVERFLOW((uintptr_t) u->m.ptr, offset, &lo) ||
            MC_ADD_OVERFLOW(lo, length, &end))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_protect: empty or overflowing range (%zu bytes at "
                                     "offset %zu)",
                                     length, offset);
        lo &= ~(uintptr_t) (u->page - 1);
        hi = (end + u->page - 1) & ~(uintptr_t) (u->page - 1);
        if (lo < u->start || hi > u->start + u->len)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "uffd_protect: %zu bytes at offset %zu are not all in the "
                                     "registered range",
                                     length, offset);
        wp.range.start = lo;
        wp.range.len = hi - lo;
        wp.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
        if (uffd_ioctl(u, UFFDIO_WRITEPROTECT, &wp) < 0)
                return mc__error_errno(err, errno, "uffd_protect: UFFDIO_WRITEPROTECT");
        return 0;
}

void mc_uffd_get_stats(const mc_uffd *u, mc_uffd_stats *ret) {
        mc_uffd *mu = (mc_uffd *) u; /* the lock is not part of the value */

        if (!ret)
                return;
        if (!u) {
                memset(ret, 0, sizeof(*ret));
                return;
        }
        pthread_mutex_lock(&mu->lock);
        *ret = u->stats;
        pthread_mutex_unlock(&mu->lock);
}

/* ---- unregister ------------------------------------------------------------------------------ */

typedef struct unreg_args {
        mc_uffd *u;
        size_t len; /* of the registered range still mapped where it was; 0: none */
} unreg_args;

/*
 * What of the range is still registered: nothing when the mapping is gone or was moved by
 * mc_remap() (the kernel drops the registration with it), its remaining pages when it shrank.
 * Never another mapping's range, which the kernel may have put at the old address since.
 */
static int unregister_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        unreg_args *a = data;
        const mc__entry *e = mc__registry_find(ctx, a->u->m.id);
        uintptr_t end;

        (void) c;
        (void) err;
        a->len = 0;
        if (!e || e->base != (uintptr_t) a->u->m.base)
                return 0;
        end = MC_MIN(e->base + e->base_len, a->u->start + a->u->len);
        if (end > a->u->start)
                a->len = end - a->u->start;
        return 0;
}

static int unregister_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        unreg_args *a = data;
        struct uffdio_range rng = {.start = a->u->start, .len = a->len};

        (void) ctx;
        (void) c;
        /* In a fork child the descriptor still speaks for the parent's memory: unregistering
         * there would end the parent's registration. The child's copy was never registered. */
        if (a->u->pid != getpid())
                return 0;
        if (a->len && mc_sys.uffd_ioctl(a->u->fd, UFFDIO_UNREGISTER, &rng) < 0)
                return mc__error_errno(err, errno, "uffd_unregister " MAPPING_FMT,
                                       MAPPING_ARGS(&a->u->m));
        return 0;
}

static const mc__steps unregister_steps = {.prepare = unregister_prepare,
                                           .syscall = unregister_syscall};

int mc_uffd_unregister(mc_ctx *ctx, mc_uffd *u, mc_error *err) {
        MC__ERROR_LOCAL(e);
        unreg_args a = {.u = u};
        mc__call c;
        int r = 0;

        if (!u)
                return 0;
        if (tls_serving == u)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EDEADLK,
                                     "uffd_unregister: called from the registration's own "
                                     "handler");
        if (u->pid == getpid())
                stop_threads(u);
        mc__call_init(&c, MC_OP_UFFD_UNREGISTER, MC__CAP_MEMORY);
        mc__call_set_range(&c, &u->m, u->len);
        c.req.addr = (void *) u->start;
        c.fields |= MC__F_UFFD;
        c.req.uffd_modes = u->modes;
        if (ctx != u->ctx)
                r = mc__error_set(&e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "uffd_unregister: the registration belongs to another context");
        r = mc__ctx_run(ctx, &c, r, &e, &unregister_steps, &a, err);
        uffd_free(u);
        return r;
}
