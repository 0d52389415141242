/* SPDX-License-Identifier: MIT */
/*
 * Signals on Windows. Windows has no POSIX signals; what it has is the C runtime's signal()
 * and raise() (SIGINT, SIGBREAK, SIGTERM, SIGABRT) and the console's control events. memcap
 * takes them as signals:
 * - CTRL_C and CTRL_BREAK arrive through the C runtime as SIGINT and SIGBREAK (the runtime's
 *   own console handler turns them into its signals); CLOSE, LOGOFF and SHUTDOWN through
 *   memcap's SetConsoleCtrlHandler() as SIGTERM, with the event as the info's code.
 * - mc_signal_raise() of SIGINT, SIGBREAK, SIGTERM or SIGABRT is the C runtime's raise().
 * - A registered handler runs on memcap's dispatcher thread, never in the thread that raised
 *   (one at a time, in arrival order); each delivery is audited with the handler's action.
 * - mc_signal_wait() takes an unregistered signal of its set, with a timeout.
 * - mc_signal_send() of SIGINT or SIGBREAK to a process group is GenerateConsoleCtrlEvent()
 *   (pid 0: every process on this console; pid < -1: the group -pid). It reaches other
 *   processes, so the policy's "whole_group" target must allow it.
 * The rest (masks, signal descriptors, payloads, other signals) fails with Unsupported.
 *
 * While a signal has a registration or a waiter, memcap's catcher is its C runtime handler;
 * with neither, the disposition before memcap's is put back. Signals that arrive for a
 * waiter are kept as pending bits and coalesce, as POSIX standard signals may.
 */

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <windows.h>

#include "internal.h"

#define NSIG_WIN 32 /* the C runtime's signals are below */

typedef struct reg {
        struct reg *below;
        mc_ctx *ctx;
        mc_signal_handler fn;
        void *userdata;
        unsigned running; /* deliveries running its handler now */
        bool dead;        /* unregistered while running: the last delivery frees it */
} reg;

typedef struct queued {
        int signo, code;
        int64_t when;
} queued;

#define QUEUE_MAX 64

static struct {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        reg *top[NSIG_WIN];
        unsigned catchers[NSIG_WIN]; /* registrations + waiters that need the catcher */
        void (*before[NSIG_WIN])(int);
        queued queue[QUEUE_MAX];
        unsigned head, count;
        uint64_t pending; /* arrived with no registration, for waiters */
        int pending_code[NSIG_WIN];
        uint64_t lost;
        bool dispatcher, console_hook;
} G = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static bool catchable(int signo) {
        return signo == SIGINT || signo == SIGBREAK || signo == SIGTERM || signo == SIGABRT;
}

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A signal arrived (any thread, the lock not held). */
static void arrived(int signo, int code) {
        pthread_mutex_lock(&G.lock);
        if (G.top[signo]) {
                if (G.count < QUEUE_MAX) {
                        queued *q = &G.queue[(G.head + G.count++) % QUEUE_MAX];
                        *q = (queued){.signo = signo, .code = code, .when = now_ns()};
                } else {
                        G.lost++;
                }
        } else {
                G.pending |= UINT64_C(1) << (signo - 1);
                G.pending_code[signo] = code;
        }
        pthread_cond_broadcast(&G.changed);
        pthread_mutex_unlock(&G.lock);
}

/* The C runtime's handler: it resets the disposition before calling, so set it again. */
static void crt_catcher(int signo) {
        signal(signo, crt_catcher);
        arrived(signo, 0);
}

static BOOL WINAPI console_catcher(DWORD event) {
        bool take;

        if (event != CTRL_CLOSE_EVENT && event != CTRL_LOGOFF_EVENT && event != CTRL_SHUTDOWN_EVENT)
                return FALSE; /* CTRL_C and CTRL_BREAK: the C runtime's, as SIGINT and SIGBREAK */
        pthread_mutex_lock(&G.lock);
        take = G.catchers[SIGTERM] > 0;
        pthread_mutex_unlock(&G.lock);
        if (take)
                arrived(SIGTERM, (int) event);
        return take;
}

int mc__signal_console_event(unsigned long event) {
        return console_catcher((DWORD) event);
}

/* Count one more user of @signo's catcher (lock held). */
static void catch_more(int signo) {
        if (G.catchers[signo]++ == 0)
                G.before[signo] = signal(signo, crt_catcher);
        if (signo == SIGTERM && !G.console_hook)
                G.console_hook = SetConsoleCtrlHandler(console_catcher, TRUE);
}

static void catch_less(int signo) {
        if (--G.catchers[signo] == 0)
                signal(signo, G.before[signo] == SIG_ERR ? SIG_DFL : G.before[signo]);
}

/* ---- the dispatcher ------------------------------------------------------------------------ */

typedef struct run_args {
        reg *r;
        const mc_signal_info *info;
        mc_signal_action action;
} run_args;

static const char *action_name(mc_signal_action a) {
        return a == MC_SIGNAL_TERMINATE ? "terminate"
               : a == MC_SIGNAL_IGNORE  ? "ignore"
                                        : "continue";
}

static int run_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        run_args *a = data;

        (void) ctx, (void) err;
        a->action = a->r->fn(a->info, a->r->userdata);
        if (a->action != MC_SIGNAL_TERMINATE && a->action != MC_SIGNAL_IGNORE)
                a->action = MC_SIGNAL_CONTINUE;
        c->req.action = action_name(a->action);
        return 0;
}

static const mc__steps run_steps = {.syscall = run_syscall, .flags = MC__RUN_UNLOCKED};

static void *dispatcher_main(void *arg) {
        (void) arg;
        pthread_mutex_lock(&G.lock);
        for (;;) {
                queued q;
                reg *r;

                while (G.count == 0)
                        pthread_cond_wait(&G.changed, &G.lock);
                q = G.queue[G.head];
                G.head = (G.head + 1) % QUEUE_MAX;
                G.count--;
                r = G.top[q.signo];
                if (!r)
                        continue; /* unregistered while it waited: dropped, as it arrived */
                {
                        mc_signal_info info = {.signal = q.signo,
                                               .timestamp = q.when,
                                               .code = q.code,
                                               .source_pid = mc__ctx_pid(r->ctx)};
                        run_args a = {.r = r, .info = &info};
                        mc__call c;

                        mc__call_init(&c, MC_OP_SIGNAL_DELIVER, MC__CAP_SIGNAL);
                        c.fields = MC__F_SIGNAL | MC__F_CODE | MC__F_ACTION;
                        c.req.signo = q.signo;
                        c.req.code = q.code;
                        /* The handler runs unlocked: it may register, unregister or raise.
                         * The registration stays allocated while it runs (running, dead). */
                        r->running++;
                        pthread_mutex_unlock(&G.lock);
                        (void) mc__ctx_run(r->ctx, &c, 0, NULL, &run_steps, &a, NULL);
                        if (a.action == MC_SIGNAL_TERMINATE)
                                _exit(128 + q.signo);
                        pthread_mutex_lock(&G.lock);
                        if (--r->running == 0 && r->dead)
                                free(r);
                }
        }
        return NULL;
}

/* ---- registration -------------------------------------------------------------------------- */

static int signal_check(const char *op, int signo, mc_error *err) {
        if (signo < 1 || signo >= NSIG_WIN)
                return mc__error_set(err, MC_ERR_INVALID_SIGNAL, EINVAL, "%s: %d is not a signal",
                                     op, signo);
        if (!catchable(signo))
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "%s: signal %d cannot be caught on Windows (only SIGINT, "
                                     "SIGBREAK, SIGTERM and SIGABRT)",
                                     op, signo);
        return 0;
}

typedef struct reg_args {
        int signo;
        mc_signal_handler fn;
        void *userdata;
        mc_signal_previous *prev;
} reg_args;

static int register_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        reg_args *a = data;
        reg *r = calloc(1, sizeof(*r));
        pthread_t t;

        (void) c;
        if (!r)
                return mc__error_errno(err, ENOMEM, "signal_register_handler");
        pthread_mutex_lock(&G.lock);
        if (!G.dispatcher) {
                if (pthread_create(&t, NULL, dispatcher_main, NULL) != 0) {
                        pthread_mutex_unlock(&G.lock);
                        free(r);
                        return mc__error_errno(err, ENOMEM,
                                               "signal_register_handler: the dispatcher thread");
                }
                pthread_detach(t);
                G.dispatcher = true;
        }
        if (a->prev)
                *a->prev = G.top[a->signo]
                                   ? (mc_signal_previous){MC_PREVIOUS_MEMCAP, G.top[a->signo]->fn,
                                                          G.top[a->signo]->userdata}
                                   : (mc_signal_previous){MC_PREVIOUS_DEFAULT, NULL, NULL};
        r->below = G.top[a->signo];
        r->ctx = ctx;
        r->fn = a->fn;
        r->userdata = a->userdata;
        G.top[a->signo] = r;
        catch_more(a->signo);
        pthread_mutex_unlock(&G.lock);
        return 0;
}

static const mc__steps register_steps = {.syscall = register_syscall, .flags = MC__RUN_UNLOCKED};

int mc_signal_register_handler(mc_ctx *ctx, int signo, mc_signal_handler handler, void *userdata,
                               unsigned flags, mc_signal_previous *ret_previous, mc_error *err) {
        reg_args a = {.signo = signo, .fn = handler, .userdata = userdata, .prev = ret_previous};
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SIGNAL_REGISTER, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_FLAGS_SIG;
        c.req.signo = signo;
        c.req.flags = flags;
        r = signal_check("signal_register_handler", signo, &e);
        if (r >= 0 && (!handler || (flags & ~(unsigned) MC_SIGNAL_BLOCK)))
                r = mc__error_set(&e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "signal_register_handler: needs a handler and flags 0 or "
                                  "MC_SIGNAL_BLOCK");
        return mc__ctx_run(ctx, &c, r, &e, &register_steps, &a, err);
}

/* Remove @ctx's top registration for @signo (lock held); false when it has none. */
static bool unregister_locked(mc_ctx *ctx, int signo) {
        for (reg **p = &G.top[signo]; *p; p = &(*p)->below)
                if ((*p)->ctx == ctx) {
                        reg *r = *p;
                        *p = r->below;
                        if (r->running)
                                r->dead = true;
                        else
                                free(r);
                        catch_less(signo);
                        return true;
                }
        return false;
}

static int unregister_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        bool found;

        (void) data;
        pthread_mutex_lock(&G.lock);
        found = unregister_locked(ctx, c->req.signo);
        pthread_mutex_unlock(&G.lock);
        if (!found)
                return mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT,
                                     "signal_unregister_handler: no registration for signal %d "
                                     "in this context",
                                     c->req.signo);
        return 0;
}

static const mc__steps unregister_steps = {.syscall = unregister_syscall,
                                           .flags = MC__RUN_UNLOCKED};

int mc_signal_unregister_handler(mc_ctx *ctx, int signo, mc_error *err) {
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SIGNAL_UNREGISTER, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL;
        c.req.signo = signo;
        r = signal_check("signal_unregister_handler", signo, &e);
        return mc__ctx_run(ctx, &c, r, &e, &unregister_steps, NULL, err);
}

/* ---- raise, wait, send ----------------------------------------------------------------------- */

static int raise_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        (void) ctx, (void) data;
        if (raise(c->req.signo) != 0)
                return mc__error_errno(err, errno, "signal_raise %d", c->req.signo);
        return 0;
}

static const mc__steps raise_steps = {.syscall = raise_syscall, .flags = MC__RUN_UNLOCKED};

int mc_signal_raise(mc_ctx *ctx, int signo, mc_error *err) {
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SIGNAL_RAISE, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_TARGET;
        c.req.signo = signo;
        c.req.target = ctx ? mc__ctx_pid(ctx) : 0;
        c.target_classes = MC_TARGET_SELF;
        r = signal_check("signal_raise", signo, &e);
        return mc__ctx_run(ctx, &c, r, &e, &raise_steps, NULL, err);
}

typedef struct wait_args {
        uint64_t set;
        int64_t timeout_ns;
        mc_signal_info *ret;
        mc_signal_info info;
} wait_args;

static int wait_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        wait_args *a = data;
        struct timespec deadline;
        int r = 0, signo = 0;

        pthread_mutex_lock(&G.lock);
        for (int s = 1; s < NSIG_WIN; s++)
                if (a->set >> (s - 1) & 1)
                        catch_more(s);
        if (a->timeout_ns >= 0) {
                int64_t t = now_ns() + a->timeout_ns;
                deadline = (struct timespec){.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
        }
        while (!(G.pending & a->set) && r == 0)
                r = a->timeout_ns < 0 ? pthread_cond_wait(&G.changed, &G.lock)
                                      : pthread_cond_timedwait(&G.changed, &G.lock, &deadline);
        if (G.pending & a->set) {
                signo = __builtin_ctzll(G.pending & a->set) + 1;
                G.pending &= ~(UINT64_C(1) << (signo - 1));
                a->info = (mc_signal_info){.signal = signo,
                                           .timestamp = now_ns(),
                                           .code = G.pending_code[signo],
                                           .source_pid = mc__ctx_pid(ctx)};
        }
        for (int s = 1; s < NSIG_WIN; s++)
                if (a->set >> (s - 1) & 1)
                        catch_less(s);
        pthread_mutex_unlock(&G.lock);
        if (!signo)
                return mc__error_set(err, MC_ERR_TIMED_OUT, ETIMEDOUT,
                                     "signal_wait: no signal of the set arrived in %" PRId64 " ms",
                                     a->timeout_ns / 1000000);
        if (a->ret)
                *a->ret = a->info;
        c->res_signal = &a->info;
        return 0;
}

static const mc__steps wait_steps = {.syscall = wait_syscall, .flags = MC__RUN_UNLOCKED};

int mc_signal_wait(mc_ctx *ctx, const mc_sigset *set, int64_t timeout_ns, mc_signal_info *ret_info,
                   mc_error *err) {
        wait_args a = {.timeout_ns = timeout_ns, .ret = ret_info};
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r = 0;

        mc__call_init(&c, MC_OP_SIGNAL_WAIT, MC__CAP_SIGNAL);
        c.fields = MC__F_TIMEOUT;
        c.req.timeout_ms = timeout_ns < 0 ? -1 : timeout_ns / 1000000;
        if (!set || set->bits == 0)
                r = mc__error_set(&e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "signal_wait: the set is empty");
        else {
                c.fields |= MC__F_SIGSET;
                c.req.sigset = set->bits;
                a.set = set->bits;
                for (int s = 1; s <= 64 && r >= 0; s++)
                        if (mc_sigset_has(set, s))
                                r = signal_check("signal_wait", s, &e);
        }
        return mc__ctx_run(ctx, &c, r, &e, &wait_steps, &a, err);
}

static int send_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        DWORD event = c->req.signo == SIGINT ? CTRL_C_EVENT : CTRL_BREAK_EVENT;
        DWORD group = c->req.target == 0 ? 0 : (DWORD) -c->req.target;

        (void) ctx, (void) data;
        if (!GenerateConsoleCtrlEvent(event, group))
                return mc__error_errno(err, mc__win_errno(GetLastError()),
                                       "signal_send %d to process group %lu", c->req.signo,
                                       (unsigned long) group);
        return 0;
}

static const mc__steps send_steps = {.syscall = send_syscall, .flags = MC__RUN_UNLOCKED};

int mc_signal_send(mc_ctx *ctx, pid_t pid, int signo, const mc_signal_payload *payload,
                   mc_error *err) {
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r = 0;

        mc__call_init(&c, MC_OP_SIGNAL_SEND, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_TARGET;
        c.req.signo = signo;
        c.req.target = pid;
        c.target_classes = MC_TARGET_WHOLE_GROUP;
        if (signo != SIGINT && signo != SIGBREAK)
                r = mc__error_set(&e, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                  "signal_send: Windows sends only SIGINT (CTRL_C) and SIGBREAK "
                                  "(CTRL_BREAK) to a console process group, not signal %d",
                                  signo);
        else if (pid != 0 && pid >= -1)
                r = mc__error_set(&e, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                  "signal_send: Windows sends console events to process groups "
                                  "only: pid 0 (this console) or -GROUP, not %d",
                                  (int) pid);
        else if (payload && payload->kind != MC_PAYLOAD_NONE)
                r = mc__error_set(&e, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                  "signal_send: console events carry no payload");
        return mc__ctx_run(ctx, &c, r, &e, &send_steps, NULL, err);
}

/* ---- what Windows does not have ----------------------------------------------------------------
 */

static int unsupported(const char *op, mc_error *err) {
        return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                             "%s: Windows has no signal masks or signal descriptors", op);
}

int mc_signal_fd(mc_ctx *ctx, int *ret_fd, mc_error *err) {
        (void) ctx, (void) ret_fd;
        return unsupported("signal_fd", err);
}

int mc_signal_dispatch(mc_ctx *ctx, mc_error *err) {
        (void) ctx;
        return unsupported("signal_dispatch", err);
}

int mc_signal_mask(mc_ctx *ctx, const mc_sigset *set, mc_sigset *ret_previous, mc_error *err) {
        (void) ctx, (void) set, (void) ret_previous;
        return unsupported("signal_mask", err);
}

int mc_signal_unmask(mc_ctx *ctx, const mc_sigset *previous, mc_error *err) {
        (void) ctx, (void) previous;
        return unsupported("signal_unmask", err);
}

int mc_signal_send_pidfd(mc_ctx *ctx, int pidfd, int signo, const mc_signal_payload *payload,
                         mc_error *err) {
        (void) ctx, (void) pidfd, (void) signo, (void) payload;
        return unsupported("signal_send_pidfd", err);
}

int mc_signal_stats(mc_signal_counts *ret, mc_error *err) {
        (void) ret;
        return unsupported("signal_stats", err);
}

/* ---- the context's hooks ----------------------------------------------------------------------
 */

void mc__signal_ctx_release(mc_ctx *ctx) {
        pthread_mutex_lock(&G.lock);
        for (int s = 1; s < NSIG_WIN; s++)
                while (unregister_locked(ctx, s))
                        ;
        pthread_mutex_unlock(&G.lock);
}

void mc__signal_fork_prepare(void) {
}

void mc__signal_fork_parent(void) {
}

void mc__signal_fork_child(void) {
}

void mc__signal_ctx_fork_child(mc_ctx *ctx) {
        (void) ctx;
}

bool mc__signal_registered(int signo) {
        bool r;

        if (signo < 1 || signo >= NSIG_WIN)
                return false;
        pthread_mutex_lock(&G.lock);
        r = G.top[signo] != NULL;
        pthread_mutex_unlock(&G.lock);
        return r;
}

uint64_t mc__signal_lost(void) {
        uint64_t n;

        pthread_mutex_lock(&G.lock);
        n = G.lost;
        pthread_mutex_unlock(&G.lock);
        return n;
}
