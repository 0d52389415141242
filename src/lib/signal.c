/* SPDX-License-Identifier: MIT */
/*
 * The core.signal capability: handlers that run in an ordinary thread, masks, send with a
 * payload, timed waits, raise.
 *
 * How a signal reaches a handler. For a registered signal memcap installs forward()
 * (signal-forward.c), a signal handler that does one thing: it re-queues the siginfo it was
 * given to memcap's dispatcher thread with rt_tgsigqueueinfo(2), marked so that the dispatcher
 * can read back the original si_code, pid, uid and value and tell whether the kernel vouches
 * for the sender. The dispatcher blocks every registrable signal and
 * reads them from a signalfd, so the kernel queues them there: realtime instances are neither
 * merged nor lost, and a slow handler only makes them wait. When every thread blocks the signal
 * (MC_SIGNAL_BLOCK), process-directed instances skip forward() and wait in the process's queue,
 * which the same signalfd reads. Memcap never changes the mask of a thread it does not own
 * unless asked to (MC_SIGNAL_BLOCK), so unregistering restores everything.
 *
 * The dispatcher runs a thread-dispatched handler itself; for a context that asked for
 * mc_signal_fd() it queues the delivery on the context and wakes its eventfd instead, and
 * mc_signal_dispatch() runs the handler in the caller's thread.
 *
 * Masks, sending and waiting live in signal-ops.c; the forwarding handler, reading an instance
 * back and the counts of mc_signal_stats() in signal-forward.c.
 *
 * Sections: state, names and defaults, the dispatcher, running a handler, register/unregister,
 * event-loop dispatch, fork and context release.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>

#include "ctx-def.h"
#include "signal-int.h"

#define MAXSIG 64

/* ---- state ---------------------------------------------------------------------------------- */

/* One registration; they stack per signal (the top one is active). */
typedef struct reg {
        struct reg *below;
        mc_ctx *ctx;
        mc_signal_handler fn;
        void *userdata;
        unsigned flags;
        bool blocked_here; /* MC_SIGNAL_BLOCK blocked it in blocker */
        pthread_t blocker;
        unsigned running; /* calls of fn in progress */
        bool dead;        /* unregistered while running: the last call frees it */
} reg;

/* A delivery waiting in a context's queue for mc_signal_dispatch(). */
struct mc__sigq {
        pthread_mutex_t lock;
        int efd;
        mc_signal_info *items;
        size_t head, len, cap;
};

/* Deliveries a context may have waiting; beyond it the dispatcher waits for the loop. */
#define SIGQ_MAX 65536

static struct {
        pthread_mutex_t lock;   /* everything below except the atomics */
        pthread_cond_t changed; /* a handler finished, a queue drained, the thread started */
        reg *top[MAXSIG + 1];
        struct sigaction before[MAXSIG + 1]; /* the disposition memcap replaced */
        bool installed[MAXSIG + 1];
        uint64_t blocked_by_memcap; /* MC_SIGNAL_BLOCK: to unblock in fork() children */
        bool started;
        pthread_t thread;
        /* The mask of the thread that started the dispatcher, before it blocked everything for
         * the new thread, and the process's name: what a child forked from the dispatcher
         * thread gets back, so that it starts as one forked from the application would. */
        sigset_t app_mask;
        char app_name[16];
        int sfd; /* the dispatcher's signalfd */
        int efd; /* wakes the dispatcher after a change */
        sigset_t watched;
        uint64_t flush; /* unwatched signals whose instances may wait in the dispatcher's queue */
} G = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .changed = PTHREAD_COND_INITIALIZER,
        .sfd = -1,
        .efd = -1,
};

/* The registration whose handler this thread is running: unregistering it must not wait. */
static __thread reg *tls_running;

/* Set in the dispatcher thread; a fork() child of it is told apart by this. */
static __thread bool tls_dispatcher;

static bool is_fault(int signo) {
        return signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL ||
               signo == SIGTRAP || signo == SIGSYS;
}

int mc__signal_check(const char *op, int signo, mc_error *err) {
        char name[16];

        if (signo < 1 || signo > SIGRTMAX || signo > MAXSIG || !mc_signal_name(signo, name, 16))
                return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL,
                                     "%s: %d is not a signal of this system (1..%d)", op, signo,
                                     SIGRTMAX);
        return 0;
}

int64_t mc__now_ns(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- names and defaults ---------------------------------------------------------------------- */

int mc_signal_rt_min(void) {
        return SIGRTMIN;
}

int mc_signal_rt_max(void) {
        return SIGRTMAX;
}

int mc_signal_default_action(int signo) {
        if (signo < 1 || signo > SIGRTMAX)
                return -EINVAL;
        switch (signo) {
        case SIGCHLD:
        case SIGURG:
        case SIGWINCH:
                return MC_DEFAULT_IGNORE;
        case SIGCONT:
                return MC_DEFAULT_CONTINUE;
        case SIGSTOP:
        case SIGTSTP:
        case SIGTTIN:
        case SIGTTOU:
                return MC_DEFAULT_STOP;
        case SIGQUIT:
        case SIGILL:
        case SIGTRAP:
        case SIGABRT:
        case SIGBUS:
        case SIGFPE:
        case SIGSEGV:
        case SIGXCPU:
        case SIGXFSZ:
        case SIGSYS:
                return MC_DEFAULT_CORE;
        default:
                return MC_DEFAULT_TERMINATE;
        }
}

/* ---- the dispatcher -------------------------------------------------------------------------- */

static void deliver(const mc_signal_info *info);
static void flush_unwatched(void);

/*
 * In a fork() child of the dispatcher thread, after a handler returned: the thread has no
 * caller to return to and the child no dispatcher to be, so the child ends here.
 */
static void end_if_forked(void) {
        if (!tls_dispatcher)
                _exit(0);
}

static void *dispatcher_main(void *arg) {
        (void) arg;
        tls_dispatcher = true;
        pthread_setname_np(pthread_self(), "memcap-signal");
        pthread_mutex_lock(&G.lock);
        mc__sigfwd_set_tid((pid_t) syscall(SYS_gettid));
        pthread_cond_broadcast(&G.changed);
        pthread_mutex_unlock(&G.lock);

        for (;;) {
                struct pollfd p[2] = {{.fd = G.sfd, .events = POLLIN},
                                      {.fd = G.efd, .events = POLLIN}};
                struct signalfd_siginfo ssi[32];
                ssize_t n;

                if (poll(p, 2, -1) < 0)
                        continue; /* EINTR: nothing to do */
                if (p[1].revents & POLLIN) {
                        uint64_t v;
                        if (read(G.efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                                break;
                        flush_unwatched();
                        end_if_forked();
                }
                if (!(p[0].revents & POLLIN))
                        continue;
                n = read(G.sfd, ssi, sizeof(ssi));
                for (ssize_t k = 0; n > 0 && k < n / (ssize_t) sizeof(ssi[0]); k++) {
                        mc_signal_info info;
                        mc__sigfwd_take(&ssi[k], &info);
                        deliver(&info);
                        end_if_forked();
                }
        }
        return NULL;
}

static void wake_dispatcher(void) {
        uint64_t one = 1;
        if (G.efd >= 0)
                (void) !write(G.efd, &one, sizeof(one));
}

/*
 * Stop reading @s from the signalfd (G.lock held). Instances forward() handed on just before
 * wait in the dispatcher's own queue, where nothing reads them any more: the dispatcher takes
 * them out and gives them to the disposition now in force (flush_unwatched()).
 */
static void unwatch(int s) {
        sigdelset(&G.watched, s);
        /* Cannot fail: the descriptor and the mask are valid. */
        if (G.sfd >= 0)
                (void) signalfd(G.sfd, &G.watched, SFD_CLOEXEC | SFD_NONBLOCK);
        G.flush |= UINT64_C(1) << (s - 1);
        wake_dispatcher();
}

/* The signals pending in the calling thread's own queue (SigPnd), not the process's. */
static uint64_t own_pending(void) {
        char buf[2048], *p;
        uint64_t bits = 0;
        ssize_t n;
        int fd;

        fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = 0;
        p = strstr(buf, "\nSigPnd:");
        if (p && sscanf(p + 8, "%" SCNx64, &bits) != 1)
                bits = 0;
        return bits;
}

/*
 * In the dispatcher: take the instances of unwatched signals out of its own queue and pass
 * them on as if they arrived now. sigtimedwait() takes from the thread's own queue before the
 * process's, and only own_pending() bits are asked for, so nothing is taken from the process
 * queue, where a thread waiting for the signal (or the restored disposition) must get it.
 */
static void flush_unwatched(void) {
        uint64_t bits, watched = 0;

        pthread_mutex_lock(&G.lock);
        bits = G.flush;
        G.flush = 0;
        for (int s = 1; s <= MAXSIG; s++)
                if (sigismember(&G.watched, s) == 1)
                        watched |= UINT64_C(1) << (s - 1);
        pthread_mutex_unlock(&G.lock);
        bits &= ~watched;

        for (uint64_t pend; bits && (pend = own_pending() & bits);) {
                struct timespec zero = {0, 0};
                struct signalfd_siginfo ssi;
                mc_signal_info info;
                sigset_t one;
                siginfo_t si;

                sigemptyset(&one);
                sigaddset(&one, __builtin_ctzll(pend) + 1);
                if (sigtimedwait(&one, &si, &zero) <= 0)
                        break;
                memset(&ssi, 0, sizeof(ssi));
                ssi.ssi_signo = (uint32_t) si.si_signo;
                ssi.ssi_errno = si.si_errno;
                ssi.ssi_code = si.si_code;
                ssi.ssi_pid = (uint32_t) si.si_pid;
                ssi.ssi_uid = (uint32_t) si.si_uid;
                ssi.ssi_int = si.si_value.sival_int;
                ssi.ssi_ptr = (uint64_t) (uintptr_t) si.si_value.sival_ptr;
                if (si.si_signo == SIGCHLD)
                        ssi.ssi_status = si.si_status;
                mc__sigfwd_take(&ssi, &info);
                deliver(&info);
        }
}

/*
 * The signals the dispatcher must not block: faults in a handler it runs must reach memcap's
 * guard (or kill the process as usual), not be forced to the default action by the kernel.
 */
static void dispatcher_mask(sigset_t *m) {
        sigfillset(m);
        sigdelset(m, SIGSEGV);
        sigdelset(m, SIGBUS);
        sigdelset(m, SIGFPE);
        sigdelset(m, SIGILL);
        sigdelset(m, SIGTRAP);
        sigdelset(m, SIGSYS);
}

/* The process's name (its main thread's), or "" when it cannot be read. */
static void app_name_read(char *buf, size_t size) {
        if (mc__proc_read("/proc/self/comm", buf, size) < 0)
                buf[0] = 0;
        buf[strcspn(buf, "\n")] = 0;
}

/* Start the dispatcher (G.lock held). */
static int dispatcher_start(mc_error *err) {
        sigset_t all, old;
        int r;

        if (G.started)
                return 0;
        sigemptyset(&G.watched);
        G.sfd = mc_sys.signalfd(-1, &G.watched, SFD_CLOEXEC | SFD_NONBLOCK);
        if (G.sfd < 0)
                return mc__error_errno(err, errno, "signal_register: creating the signalfd");
        G.efd = mc_sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (G.efd < 0) {
                r = mc__error_errno(err, errno, "signal_register: creating the eventfd");
                G.sfd = safe_close(G.sfd);
                return r;
        }
        mc__sigfwd_start();
        app_name_read(G.app_name, sizeof(G.app_name));
        /* The thread inherits this mask: it is never interrupted by a registrable signal. */
        dispatcher_mask(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        G.app_mask = old;
        r = pthread_create(&G.thread, NULL, dispatcher_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                G.sfd = safe_close(G.sfd);
                G.efd = safe_close(G.efd);
                return mc__error_errno(err, r, "signal_register: starting the dispatcher thread");
        }
        pthread_detach(G.thread);
        G.started = true;
        while (mc__sigfwd_tid() == 0)
                pthread_cond_wait(&G.changed, &G.lock);
        return 0;
}

/* ---- running a handler ----------------------------------------------------------------------- */

static const char *action_name(mc_signal_action a) {
        switch (a) {
        case MC_SIGNAL_CONTINUE:
                return "Continue";
        case MC_SIGNAL_TERMINATE:
                return "Terminate";
        case MC_SIGNAL_IGNORE:
                return "Ignore";
        }
        return "Invalid";
}

typedef struct run_args {
        reg *r;
        const mc_signal_info *info;
        mc_signal_action action;
} run_args;

static int run_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        run_args *a = data;

        (void) ctx;
        (void) err;
        a->action = a->r->fn(a->info, a->r->userdata);
        if (a->action != MC_SIGNAL_CONTINUE && a->action != MC_SIGNAL_TERMINATE &&
            a->action != MC_SIGNAL_IGNORE)
                a->action = MC_SIGNAL_CONTINUE; /* an out-of-range return: take it as handled */
        c->req.action = action_name(a->action);
        return 0;
}

static const mc__steps run_steps = {.syscall = run_syscall, .flags = MC__RUN_UNLOCKED};

/* End the process as the signal's default action would; never returns. */
static _Noreturn void terminate_by(int signo) {
        int d = mc_signal_default_action(signo);

        if (d == MC_DEFAULT_TERMINATE || d == MC_DEFAULT_CORE) {
                struct sigaction dfl;
                sigset_t one;

                memset(&dfl, 0, sizeof(dfl));
                dfl.sa_handler = SIG_DFL;
                sigemptyset(&dfl.sa_mask);
                sigaction(signo, &dfl, NULL);
                sigemptyset(&one);
                sigaddset(&one, signo);
                pthread_sigmask(SIG_UNBLOCK, &one, NULL);
                syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), signo);
        }
        _exit(128 + signo);
}

/* Hand a delivery to the handler memcap replaced (Continue chains to it). */
static void chain(const struct sigaction *before, const mc_signal_info *i) {
        if (before->sa_flags & SA_SIGINFO) {
                siginfo_t si;
                memset(&si, 0, sizeof(si));
                si.si_signo = i->signal;
                si.si_code = i->code;
                si.si_pid = i->source_pid;
                si.si_uid = i->source_uid;
                si.si_value.sival_ptr = (void *) (uintptr_t) i->payload.real_time;
                before->sa_sigaction(i->signal, &si, NULL);
        } else if (before->sa_handler != SIG_DFL && before->sa_handler != SIG_IGN) {
                before->sa_handler(i->signal);
        }
}

/*
 * Run r's handler for @info in this thread (r->running was raised under G.lock by the caller),
 * audit the delivery, then do what the handler asked.
 */
static void run_handler(reg *r, const mc_signal_info *info) {
        run_args a = {.r = r, .info = info};
        struct sigaction before;
        reg *outer = tls_running;
        mc__call c;

        mc__sigfwd_done(MC__SIG_HANDLED, 1);
        mc__call_init(&c, MC_OP_SIGNAL_DELIVER, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_SOURCE | MC__F_CODE | MC__F_ACTION;
        c.req.signo = info->signal;
        c.req.source_pid = info->source_pid;
        c.req.source_uid = info->source_uid;
        c.req.source_verified = info->source_verified;
        c.req.code = info->code;
        if (info->payload.kind != MC_PAYLOAD_NONE) {
                c.fields |= MC__F_PAYLOAD;
                c.req.payload_kind = (int) info->payload.kind;
                c.req.payload = info->payload.kind == MC_PAYLOAD_USER_DATA
                                        ? (uint64_t) (int64_t) info->payload.user_data
                                        : info->payload.real_time;
        }
        tls_running = r;
        (void) mc__ctx_run(r->ctx, &c, 0, NULL, &run_steps, &a, NULL);
        tls_running = outer;

        pthread_mutex_lock(&G.lock);
        before = G.before[info->signal];
        if (--r->running == 0 && r->dead)
                free(r);
        pthread_cond_broadcast(&G.changed);
        pthread_mutex_unlock(&G.lock);

        if (a.action == MC_SIGNAL_TERMINATE)
                terminate_by(info->signal);
        if (a.action == MC_SIGNAL_CONTINUE)
                chain(&before, info);
}

/*
 * A signal memcap received but no registration wants any more (it was unregistered while the
 * instance was on its way): give it to the disposition in force now, as if it arrived now.
 */
static void pass_on(const mc_signal_info *info) {
        struct sigaction now;

        mc__sigfwd_done(MC__SIG_PASSED, 1);
        if (sigaction(info->signal, NULL, &now) < 0)
                return;
        if ((now.sa_flags & SA_SIGINFO) || (now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN))
                chain(&now, info);
        else if (now.sa_handler == SIG_DFL)
                switch (mc_signal_default_action(info->signal)) {
                case MC_DEFAULT_TERMINATE:
                case MC_DEFAULT_CORE:
                        terminate_by(info->signal);
                case MC_DEFAULT_STOP:
                        kill(getpid(), SIGSTOP);
                        break;
                default:
                        break;
                }
}

static int sigq_push(struct mc__sigq *q, const mc_signal_info *info) {
        if (q->len == q->cap) {
                size_t cap = q->cap ? q->cap * 2 : 64;
                mc_signal_info *items = malloc(cap * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                for (size_t k = 0; k < q->len; k++)
                        items[k] = q->items[(q->head + k) % q->cap];
                free(q->items);
                q->items = items;
                q->head = 0;
                q->cap = cap;
        }
        q->items[(q->head + q->len) % q->cap] = *info;
        q->len++;
        return 0;
}

/* One signal read by the dispatcher. */
static void deliver(const mc_signal_info *info) {
        struct mc__sigq *q;
        reg *r;

        pthread_mutex_lock(&G.lock);
        r = G.top[info->signal];
        if (!r) {
                pthread_mutex_unlock(&G.lock);
                pass_on(info);
                return;
        }
        q = r->ctx->sigq;
        if (q && q->efd >= 0) {
                uint64_t one = 1;
                /* The loop owns this delivery now. Wait while its queue is full: the kernel
                 * keeps the rest queued meanwhile. */
                for (;;) {
                        pthread_mutex_lock(&q->lock);
                        if (q->len < SIGQ_MAX)
                                break;
                        pthread_mutex_unlock(&q->lock);
                        pthread_cond_wait(&G.changed, &G.lock);
                        if (G.top[info->signal] != r) {
                                pthread_mutex_unlock(&G.lock);
                                deliver(info);
                                return;
                        }
                }
                if (sigq_push(q, info) < 0)
                        mc__sigfwd_done(MC__SIG_LOST, 1);
                pthread_mutex_unlock(&q->lock);
                /* Under G.lock: once it is released, mc_ctx_free() may close the descriptor
                 * and free the queue. An eventfd write does not block. */
                (void) !write(q->efd, &one, sizeof(one));
                pthread_mutex_unlock(&G.lock);
                return;
        }
        r->running++;
        pthread_mutex_unlock(&G.lock);
        run_handler(r, info);
}

/* ---- register / unregister ------------------------------------------------------------------ */

typedef struct reg_args {
        int signo;
        mc_signal_handler fn;
        void *userdata;
        unsigned flags;
        mc_signal_previous *ret_previous;
} reg_args;

static void previous_of(int signo, mc_signal_previous *p) {
        const struct sigaction *b = &G.before[signo];

        memset(p, 0, sizeof(*p));
        if (G.top[signo]) {
                p->kind = MC_PREVIOUS_MEMCAP;
                p->handler = G.top[signo]->fn;
                p->userdata = G.top[signo]->userdata;
        } else if (b->sa_flags & SA_SIGINFO) {
                p->kind = MC_PREVIOUS_FOREIGN;
        } else if (b->sa_handler == SIG_IGN) {
                p->kind = MC_PREVIOUS_IGNORE;
        } else if (b->sa_handler == SIG_DFL) {
                p->kind = MC_PREVIOUS_DEFAULT;
        } else {
                p->kind = MC_PREVIOUS_FOREIGN;
        }
}

static int register_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        reg_args *a = data;
        int s = a->signo;
        mc_signal_previous prev;
        reg *r;
        int k;

        (void) c;
        r = calloc(1, sizeof(*r));
        if (!r)
                return mc__error_errno(err, ENOMEM, "signal_register: allocating");
        r->ctx = ctx;
        r->fn = a->fn;
        r->userdata = a->userdata;
        r->flags = a->flags;

        pthread_mutex_lock(&G.lock);
        k = dispatcher_start(err);
        if (k < 0)
                goto fail;
        if (!G.installed[s]) {
                struct sigaction sa;

                /* Watch first, install second: nothing can be forwarded before the
                 * dispatcher's signalfd takes it. */
                sigaddset(&G.watched, s);
                if (mc_sys.signalfd(G.sfd, &G.watched, SFD_CLOEXEC | SFD_NONBLOCK) < 0) {
                        k = mc__error_errno(err, errno, "signal_register: watching signal %d", s);
                        sigdelset(&G.watched, s);
                        goto fail;
                }
                memset(&sa, 0, sizeof(sa));
                sa.sa_sigaction = mc__sigfwd_handler;
                sa.sa_flags = SA_SIGINFO | SA_RESTART;
                sigemptyset(&sa.sa_mask);
                if (mc_sys.sigaction(s, &sa, &G.before[s]) < 0) {
                        k = mc__error_errno(err, errno, "signal_register: sigaction(%d)", s);
                        unwatch(s);
                        goto fail;
                }
                G.installed[s] = true;
        }
        previous_of(s, &prev);
        if (a->flags & MC_SIGNAL_BLOCK) {
                sigset_t one, cur;

                sigemptyset(&one);
                sigaddset(&one, s);
                pthread_sigmask(SIG_BLOCK, &one, &cur);
                if (!sigismember(&cur, s)) {
                        r->blocked_here = true;
                        r->blocker = pthread_self();
                        G.blocked_by_memcap |= UINT64_C(1) << (s - 1);
                }
        }
        r->below = G.top[s];
        G.top[s] = r;
        pthread_mutex_unlock(&G.lock);
        wake_dispatcher();
        if (a->ret_previous)
                *a->ret_previous = prev;
        return 0;

fail:
        pthread_mutex_unlock(&G.lock);
        free(r);
        return k;
}

static const mc__steps register_steps = {.syscall = register_syscall, .flags = MC__RUN_UNLOCKED};

static int signal_arg_check(const char *op, int signo, mc_error *err) {
        int r = mc__signal_check(op, signo, err);

        if (r < 0)
                return r;
        if (signo == SIGKILL || signo == SIGSTOP)
                return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL,
                                     "%s: %s cannot be caught, blocked or ignored", op,
                                     signo == SIGKILL ? "SIGKILL" : "SIGSTOP");
        return 0;
}

static int register_check(int signo, mc_signal_handler handler, unsigned flags, mc_error *err) {
        int r = signal_arg_check("signal_register", signo, err);

        if (r < 0)
                return r;
        if (is_fault(signo))
                return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL,
                                     "signal_register: %s is raised by a faulting instruction "
                                     "and must be handled in the faulting thread; for mapped "
                                     "files that may shrink use mc_map_read()/mc_map_write(), "
                                     "which turn SIGBUS into an Io error",
                                     signo == SIGSEGV   ? "SIGSEGV"
                                     : signo == SIGBUS  ? "SIGBUS"
                                     : signo == SIGFPE  ? "SIGFPE"
                                     : signo == SIGILL  ? "SIGILL"
                                     : signo == SIGTRAP ? "SIGTRAP"
                                                        : "SIGSYS");
        if (!handler)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "signal_register: the handler must not be NULL");
        if (flags & ~(unsigned) MC_SIGNAL_BLOCK)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "signal_register: unknown flag bits 0x%x", flags);
        return 0;
}

int mc_signal_register_handler(mc_ctx *ctx, int signo, mc_signal_handler handler, void *userdata,
                               unsigned flags, mc_signal_previous *ret_previous, mc_error *err) {
        reg_args a = {signo, handler, userdata, flags, ret_previous};
        MC__ERROR_LOCAL(e);
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SIGNAL_REGISTER, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_FLAGS_SIG;
        c.req.signo = signo;
        c.req.flags = flags;
        r = register_check(signo, handler, flags, &e);
        return mc__ctx_run(ctx, &c, r, &e, &register_steps, &a, err);
}

/*
 * Remove @r from @s's stack (G.lock held). When it empties, restore the disposition and stop
 * reading @s, so that a wait for it or the restored disposition gets every instance.
 */
static void unlink_reg(int s, reg *r) {
        reg **pp = &G.top[s];

        while (*pp && *pp != r)
                pp = &(*pp)->below;
        if (*pp)
                *pp = r->below;
        if (!G.top[s] && G.installed[s]) {
                sigaction(s, &G.before[s], NULL);
                G.installed[s] = false;
                unwatch(s);
        }
}

static int unregister_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        int s = *(int *) data;
        reg *r;

        (void) c;
        pthread_mutex_lock(&G.lock);
        for (r = G.top[s]; r && r->ctx != ctx; r = r->below)
                ;
        if (!r) {
                pthread_mutex_unlock(&G.lock);
                return mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT,
                                     "signal_unregister: this context has no handler for signal "
                                     "%d",
                                     s);
        }
        unlink_reg(s, r);
        /* The handler may be running; its userdata must stay valid until it returns. */
        while (r->running > 0 && tls_running != r)
                pthread_cond_wait(&G.changed, &G.lock);
        if (r->blocked_here) {
                reg *heir = G.top[s];

                /* A registration still there that asked for the block too keeps it. */
                while (heir && !(heir->flags & MC_SIGNAL_BLOCK))
                        heir = heir->below;
                if (heir && !heir->blocked_here) {
                        heir->blocked_here = true;
                        heir->blocker = r->blocker;
                } else if (pthread_equal(r->blocker, pthread_self())) {
                        sigset_t one;
                        sigemptyset(&one);
                        sigaddset(&one, s);
                        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
                        G.blocked_by_memcap &= ~(UINT64_C(1) << (s - 1));
                }
        }
        if (r->running == 0)
                free(r);
        else
                r->dead = true; /* the handler unregistered itself: run_handler() frees it */
        pthread_cond_broadcast(&G.changed);
        pthread_mutex_unlock(&G.lock);
        return 0;
}

static const mc__steps unregister_steps = {.syscall = unregister_syscall,
                                           .flags = MC__RUN_UNLOCKED};

int mc_signal_unregister_handler(mc_ctx *ctx, int signo, mc_error *err) {
        MC__ERROR_LOCAL(e);
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SIGNAL_UNREGISTER, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL;
        c.req.signo = signo;
        r = mc__signal_check("signal_unregister", signo, &e);
        return mc__ctx_run(ctx, &c, r, &e, &unregister_steps, &signo, err);
}

/* ---- event-loop dispatch --------------------------------------------------------------------- */

int mc_signal_fd(mc_ctx *ctx, int *ret_fd, mc_error *err) {
        struct mc__sigq *q;
        int r = 0;

        if (!ctx || !ret_fd)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "signal_fd: context and ret_fd must not be NULL");
        pthread_mutex_lock(&G.lock);
        q = ctx->sigq;
        if (!q) {
                q = calloc(1, sizeof(*q));
                if (!q) {
                        r = mc__error_errno(err, ENOMEM, "signal_fd: allocating");
                        goto out;
                }
                pthread_mutex_init(&q->lock, NULL);
                q->efd = -1;
                ctx->sigq = q;
        }
        if (q->efd < 0) {
                q->efd = mc_sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (q->efd < 0) {
                        r = mc__error_errno(err, errno, "signal_fd: creating the eventfd");
                        goto out;
                }
        }
        *ret_fd = q->efd;
out:
        pthread_mutex_unlock(&G.lock);
        return r;
}

int mc_signal_dispatch(mc_ctx *ctx, mc_error *err) {
        struct mc__sigq *q;
        uint64_t v;
        int n = 0;

        if (!ctx)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "signal_dispatch: the context must not be NULL");
        q = ctx->sigq;
        if (!q || q->efd < 0)
                return 0;
        /* Reset the counter first: a delivery queued from here on makes the fd readable again. */
        (void) !read(q->efd, &v, sizeof(v));
        for (;;) {
                mc_signal_info info;
                reg *r;

                pthread_mutex_lock(&G.lock);
                pthread_mutex_lock(&q->lock);
                if (q->len == 0) {
                        pthread_mutex_unlock(&q->lock);
                        pthread_mutex_unlock(&G.lock);
                        break;
                }
                info = q->items[q->head];
                q->head = (q->head + 1) % q->cap;
                q->len--;
                pthread_mutex_unlock(&q->lock);
                pthread_cond_broadcast(&G.changed); /* room in the queue */
                r = G.top[info.signal];
                if (!r || r->ctx != ctx) {
                        /* Unregistered or overtaken meanwhile: route it anew. */
                        pthread_mutex_unlock(&G.lock);
                        deliver(&info);
                        continue;
                }
                r->running++;
                pthread_mutex_unlock(&G.lock);
                run_handler(r, &info);
                n++;
        }
        return n;
}

bool mc__signal_registered(int signo) {
        bool r;

        if (signo < 1 || signo > MAXSIG)
                return false;
        pthread_mutex_lock(&G.lock);
        r = G.top[signo] != NULL;
        pthread_mutex_unlock(&G.lock);
        return r;
}

/* ---- fork and context release ---------------------------------------------------------------- */

void mc__signal_fork_prepare(void) {
        pthread_mutex_lock(&G.lock);
}

void mc__signal_fork_parent(void) {
        pthread_mutex_unlock(&G.lock);
}

/*
 * The child has no dispatcher (threads do not survive fork): give it back the dispositions
 * memcap replaced and the mask memcap changed, so it starts clean and an exec inherits
 * nothing of memcap's. A child of the dispatcher thread itself (forked by a handler) would
 * inherit that thread's mask, nearly every signal blocked, and its name: it gets the
 * application's mask and name instead.
 */
void mc__signal_fork_child(void) {
        sigset_t unblock;

        sigemptyset(&unblock);
        for (int s = 1; s <= MAXSIG; s++) {
                if (G.installed[s])
                        sigaction(s, &G.before[s], NULL);
                G.installed[s] = false;
                while (G.top[s]) {
                        reg *r = G.top[s];
                        G.top[s] = r->below;
                        /* A handler this thread is in returns into run_handler(), which
                         * frees it then. */
                        if (r->running > 0)
                                r->dead = true;
                        else
                                free(r);
                }
                if (G.blocked_by_memcap & (UINT64_C(1) << (s - 1)))
                        sigaddset(&unblock, s);
        }
        if (tls_dispatcher) {
                sigset_t app = G.app_mask;

                for (int s = 1; s <= MAXSIG; s++)
                        if (sigismember(&unblock, s) == 1)
                                sigdelset(&app, s);
                pthread_sigmask(SIG_SETMASK, &app, NULL);
                if (G.app_name[0])
                        (void) prctl(PR_SET_NAME, G.app_name);
                tls_dispatcher = false;
        } else {
                pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
        }
        G.blocked_by_memcap = 0;
        G.sfd = safe_close(G.sfd);
        G.efd = safe_close(G.efd);
        sigemptyset(&G.watched);
        G.flush = 0;
        G.started = false;
        mc__sigfwd_fork_child();
        pthread_cond_init(&G.changed, NULL);
        pthread_mutex_unlock(&G.lock);
}

/* A context's queue in a child: its deliveries belonged to the parent. */
void mc__signal_ctx_fork_child(mc_ctx *ctx) {
        struct mc__sigq *q = ctx->sigq;

        if (!q)
                return;
        pthread_mutex_init(&q->lock, NULL);
        q->efd = safe_close(q->efd);
        q->len = 0;
        q->head = 0;
}

void mc__signal_ctx_release(mc_ctx *ctx) {
        struct mc__sigq *q;

        for (int s = 1; s <= MAXSIG; s++) {
                bool mine;
                do {
                        mine = false;
                        pthread_mutex_lock(&G.lock);
                        for (reg *r = G.top[s]; r; r = r->below)
                                mine = mine || r->ctx == ctx;
                        pthread_mutex_unlock(&G.lock);
                        if (mine && mc_signal_unregister_handler(ctx, s, NULL) < 0)
                                break;
                } while (mine);
        }
        pthread_mutex_lock(&G.lock);
        q = ctx->sigq;
        ctx->sigq = NULL;
        pthread_cond_broadcast(&G.changed);
        pthread_mutex_unlock(&G.lock);
        if (q) {
                /* Deliveries nobody will dispatch now. */
                mc__sigfwd_done(MC__SIG_LOST, q->len);
                safe_close(q->efd);
                free(q->items);
                pthread_mutex_destroy(&q->lock);
                free(q);
        }
}
