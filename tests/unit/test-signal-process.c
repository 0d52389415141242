/* SPDX-License-Identifier: MIT */
/*
 * The core.signal capability as programs rely on it: fork and exec, event-loop dispatch through the
 * pollable descriptor, who sent a signal (verified or claimed), and the visibility of delay
 * (mc_signal_stats()).
 *
 * Criterion's worker process has threads of its own that do not block our signals, so a test
 * that depends on which thread takes a process-directed signal (order, waits, default actions)
 * runs in a forked child, which has one thread (see signal-suite.h).
 */

#include "signal-suite.h"

/* ---- fork and exec ---------------------------------------------------------------------- */

Test(signal, fork_child_starts_clean_and_can_register_again, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        disposition usr1, usr2;
        collector c;
        sigset_t hup;
        pid_t pid;

        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        cr_assert(eq(int, pthread_sigmask(SIG_BLOCK, &hup, NULL), 0));
        set_disposition(SIGUSR1, SIG_DFL);
        install_plain(SIGUSR2, SA_RESTART);
        usr1 = disposition_of(SIGUSR1);
        usr2 = disposition_of(SIGUSR2);
        collector_init(&c, MC_SIGNAL_IGNORE);
        reg(ctx, SIGUSR1, collect, &c, MC_SIGNAL_BLOCK, NULL);
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        cr_assert(thread_blocks(SIGUSR1));

        pid = spawn();
        if (pid == 0) {
                disposition d;
                collector cc;

                alarm(20);
                d = disposition_of(SIGUSR1);
                CHILD_CHECK(d.fn == usr1.fn && d.flags == usr1.flags && d.mask == usr1.mask);
                d = disposition_of(SIGUSR2);
                CHILD_CHECK(d.fn == usr2.fn && d.flags == usr2.flags && d.mask == usr2.mask);
                CHILD_CHECK(!thread_blocks(SIGUSR1));
                CHILD_CHECK(thread_blocks(SIGHUP));
                CHILD_CHECK(!mc__signal_registered(SIGUSR1) && !mc__signal_registered(SIGUSR2));
                CHILD_CHECK(!dispatcher_running());
                CHILD_CHECK(signalfd_watched() == 0);
                /* The inherited context works, and registering again works. */
                collector_init(&cc, MC_SIGNAL_CONTINUE);
                CHILD_CHECK(mc_signal_register_handler(ctx, SIGUSR1, collect, &cc, 0, NULL, NULL) ==
                            0);
                CHILD_CHECK(kill(getpid(), SIGUSR1) == 0);
                CHILD_CHECK(collector_wait(&cc, 1, 5000) == 1);
                CHILD_CHECK(cc.info[0].source_pid == getpid());
                CHILD_CHECK(collected(&c) == 0);
                CHILD_CHECK(mc_signal_unregister_handler(ctx, SIGUSR1, NULL) == 0);
                _exit(0);
        }
        assert_child_ok(pid);
        /* The parent is unaffected. */
        cr_assert(thread_blocks(SIGUSR1));
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        unreg(ctx, SIGUSR1);
        unreg(ctx, SIGUSR2);
        cr_assert(not(thread_blocks(SIGUSR1)));
        assert_same_disposition(SIGUSR1, usr1);
        assert_same_disposition(SIGUSR2, usr2);
        mc_ctx_free(ctx);
}

/* The SigBlk bits of a shell exec'd by a child. */
static uint64_t exec_child_sigblk(void) {
        char out[256] = "";
        uint64_t blk = UINT64_MAX;
        size_t len = 0;
        int p[2];
        pid_t pid;

        pipe_new(p);
        pid = spawn();
        if (pid == 0) {
                /* Not through sh, which clears its mask when it starts. */
                CHILD_CHECK(dup2(p[1], STDOUT_FILENO) == STDOUT_FILENO);
                execlp("grep", "grep", "SigBlk", "/proc/self/status", (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], out + len, sizeof(out) - 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(p[0]);
        assert_child_ok(pid);
        cr_assert(eq(int, sscanf(out, "SigBlk: %" SCNx64, &blk), 1), "output: %s", out);
        return blk;
}

Test(signal, exec_after_fork_has_no_blocked_bits, .timeout = 30) {
        int rt = SIGRTMIN + 3;
        mc_ctx *ctx = ctx_new();
        uint64_t blk;

        reg(ctx, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        reg(ctx, rt, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        cr_assert(thread_blocks(SIGUSR1) && thread_blocks(rt));
        blk = exec_child_sigblk();
        cr_assert(eq(u64, blk & (bit(SIGUSR1) | bit(rt)), 0), "SigBlk %016" PRIx64, blk);
        unreg(ctx, SIGUSR1);
        unreg(ctx, rt);
        mc_ctx_free(ctx);
}

/*
 * Children forked (and exec'd) from a handler or from a thread: each must start with the
 * application's mask, as if memcap's dispatcher thread did not exist. A probe is a program
 * exec'd directly (not through sh, which clears its mask when it starts) that prints its
 * SigBlk line to a pipe; fork_probe() is safe in a handler on any thread (no Criterion
 * assertion there).
 */
static pid_t fork_probe(int out_fd, const char *const *argv) {
        pid_t pid = fork();

        if (pid == 0) {
                if (dup2(out_fd, STDOUT_FILENO) != STDOUT_FILENO)
                        _exit(126);
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        return pid;
}

static const char *const PROBE_SIGBLK[] = {"grep", "SigBlk", "/proc/self/status", NULL};
static const char *const PROBE_SLEEP[] = {"sleep", "30", NULL};

/* Wait at most @ms for @pid to end; false (and it is killed and reaped) when it did not. */
static bool wait_bounded(pid_t pid, int ms, int *ret_status) {
        int64_t end = mono_ms() + ms;

        for (;;) {
                pid_t r = waitpid(pid, ret_status, WNOHANG);

                if (r == pid)
                        return true;
                cr_assert(eq(int, r, 0), "waitpid %d: %s", (int) pid, strerror(errno));
                if (mono_ms() >= end) {
                        kill(pid, SIGKILL);
                        (void) waitpid(pid, ret_status, 0);
                        return false;
                }
                sleep_us(5000);
        }
}

/* The SigBlk bits a probe printed on @fd (read end); it is reaped. */
static uint64_t probe_sigblk(int fd, pid_t pid) {
        char out[256] = "";
        uint64_t blk = UINT64_MAX;
        size_t len = 0;
        int st;

        while (len < sizeof(out) - 1) {
                struct pollfd p = {fd, POLLIN, 0};
                ssize_t n;

                cr_assert(eq(int, poll(&p, 1, 10000), 1), "the probe printed nothing in 10 s");
                n = read(fd, out + len, sizeof(out) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t) n;
                if (memchr(out, '\n', len))
                        break;
        }
        cr_assert(wait_bounded(pid, 10000, &st), "the probe did not end within 10 s");
        cr_assert(exited_with(st, 0), "the probe failed: status 0x%x", (unsigned) st);
        cr_assert(eq(int, sscanf(out, "SigBlk: %" SCNx64, &blk), 1), "output: %s", out);
        return blk;
}

/* The calling thread's mask as SigBlk bits. */
static uint64_t own_mask(void) {
        sigset_t cur;

        cr_assert(eq(int, pthread_sigmask(SIG_SETMASK, NULL, &cur), 0));
        return mask_bits(&cur);
}

/* What a forking handler or thread needs, and what it did. */
typedef struct forker {
        int out_fd;
        const char *const *argv;
        atomic_int pid; /* the probe, once forked; -1 when fork failed */
} forker;

static mc_signal_action forking_handler(const mc_signal_info *info, void *userdata) {
        forker *f = userdata;

        (void) info;
        atomic_store(&f->pid, (int) fork_probe(f->out_fd, f->argv));
        return MC_SIGNAL_IGNORE;
}

static pid_t forker_wait(forker *f) {
        int64_t end = mono_ms() + 10000;

        while (atomic_load(&f->pid) == 0 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(gt(int, atomic_load(&f->pid), 0), "the handler never forked");
        return (pid_t) atomic_load(&f->pid);
}

/* The application blocks SIGHUP in its own thread; that and only that a probe must inherit. */
static uint64_t app_blocks_sighup(void) {
        sigset_t hup;

        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        cr_assert(eq(int, pthread_sigmask(SIG_BLOCK, &hup, NULL), 0));
        return own_mask();
}

/*
 * The start of a mask probe: the application blocks SIGHUP (its mask is returned), and @f will
 * run PROBE_SIGBLK with its output on the pipe @p.
 */
static uint64_t sigblk_probe_open(forker *f, int p[2]) {
        uint64_t app = app_blocks_sighup();

        pipe_new(p);
        f->argv = PROBE_SIGBLK;
        f->out_fd = p[1];
        return app;
}

/* The end of one: the probe @f forked printed exactly the application's mask @app. */
static void sigblk_probe_check(forker *f, int p[2], uint64_t app) {
        uint64_t blk = probe_sigblk(p[0], forker_wait(f));

        cr_assert(eq(u64, blk, app), "SigBlk %016" PRIx64 ", the application's %016" PRIx64, blk,
                  app);
        close(p[0]);
        close(p[1]);
}

Test(signal, fork_from_a_handler_on_the_dispatcher_gets_the_application_mask, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        forker f = {0};
        int p[2];
        uint64_t app = sigblk_probe_open(&f, p);

        cr_assert(ne(u64, app & bit(SIGHUP), 0));
        reg(ctx, SIGUSR1, forking_handler, &f, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        sigblk_probe_check(&f, p, app);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

Test(signal, fork_from_a_handler_on_the_dispatcher_can_be_stopped_with_sigterm, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        forker f = {.out_fd = STDOUT_FILENO, .argv = PROBE_SLEEP};
        pid_t pid;
        int st;

        reg(ctx, SIGUSR1, forking_handler, &f, MC_SIGNAL_BLOCK, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        pid = forker_wait(&f);
        /* The probe may not have exec'd yet; SIGTERM ends it either way. */
        cr_assert(eq(int, kill(pid, SIGTERM), 0));
        cr_assert(wait_bounded(pid, 10000, &st), "SIGTERM did not end the child within 10 s");
        cr_assert(killed_by(st, SIGTERM), "status 0x%x", (unsigned) st);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

Test(signal, fork_from_event_loop_dispatch_gets_the_application_mask, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        forker f = {0};
        mc_error err = MC_ERROR_INIT;
        struct pollfd pfd;
        int p[2], fd;
        uint64_t app = sigblk_probe_open(&f, p);

        reg(ctx, SIGUSR1, forking_handler, &f, MC_SIGNAL_BLOCK, NULL);
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), 0), "%s", err.message);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        pfd = (struct pollfd){fd, POLLIN, 0};
        cr_assert(eq(int, poll(&pfd, 1, 10000), 1), "nothing to dispatch within 10 s");
        cr_assert(eq(int, mc_signal_dispatch(ctx, &err), 1), "%s", err.message);
        sigblk_probe_check(&f, p, app);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

static void *forking_thread(void *arg) {
        forker *f = arg;

        atomic_store(&f->pid, (int) fork_probe(f->out_fd, f->argv));
        return NULL;
}

Test(signal, fork_from_an_ordinary_thread_gets_the_application_mask, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        forker f = {0};
        pthread_t t;
        int p[2];
        uint64_t app = sigblk_probe_open(&f, p);

        /* The thread inherits memcap's block of SIGUSR1 too; the child must not. */
        reg(ctx, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        cr_assert(eq(int, pthread_create(&t, NULL, forking_thread, &f), 0));
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        sigblk_probe_check(&f, p, app);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

/* A child forked by a handler that returns (no exec) ends instead of becoming a dispatcher. */
static mc_signal_action fork_and_return(const mc_signal_info *info, void *userdata) {
        forker *f = userdata;
        pid_t pid = fork();

        (void) info;
        if (pid == 0) {
                char name[32] = "";

                (void) prctl(PR_GET_NAME, name);
                /* The child carries the process's name, not the dispatcher thread's. */
                if (strcmp(name, "memcap-signal") == 0)
                        _exit(3);
                return MC_SIGNAL_IGNORE;
        }
        atomic_store(&f->pid, (int) pid);
        return MC_SIGNAL_IGNORE;
}

Test(signal, fork_child_of_the_dispatcher_that_returns_from_the_handler_ends, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        forker f = {0};
        int st;

        reg(ctx, SIGUSR1, fork_and_return, &f, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(wait_bounded(forker_wait(&f), 10000, &st), "the child went on for 10 s");
        cr_assert(exited_with(st, 0), "status 0x%x", (unsigned) st);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

/* ---- the pollable descriptor ------------------------------------------------------------- */

#define FD_SIGNALS 1000

static pthread_t fd_loop_thread;
static atomic_int fd_hits[FD_SIGNALS], fd_wrong_thread, fd_total;

static mc_signal_action fd_handler(const mc_signal_info *info, void *userdata) {
        (void) userdata;
        if (!pthread_equal(pthread_self(), fd_loop_thread))
                atomic_fetch_add(&fd_wrong_thread, 1);
        if (info->payload.kind == MC_PAYLOAD_REAL_TIME && info->payload.real_time < FD_SIGNALS)
                atomic_fetch_add(&fd_hits[info->payload.real_time], 1);
        atomic_fetch_add(&fd_total, 1);
        return MC_SIGNAL_CONTINUE;
}

Test(signal, signal_fd_runs_handlers_in_the_polling_thread, .timeout = 60) {
        int signo = SIGRTMIN + 8, fd = -1, fd2 = -1, dispatched = 0;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new(), *other = ctx_new();
        collector oc;
        pid_t me = getpid(), pid;
        int64_t end;

        fd_loop_thread = pthread_self();
        reg(ctx, signo, fd_handler, NULL, 0, NULL);
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_signal_fd(ctx, &fd2, &err), 0));
        cr_assert(eq(int, fd, fd2), "the same descriptor each time");
        cr_assert(ne(int, fcntl(fd, F_GETFL) & O_NONBLOCK, 0));
        cr_assert(ne(int, fcntl(fd, F_GETFD) & FD_CLOEXEC, 0));
        cr_assert(eq(int, mc_signal_dispatch(ctx, &err), 0), "nothing waiting");
        /* Another context without a descriptor keeps using memcap's thread. */
        collector_init(&oc, MC_SIGNAL_CONTINUE);
        reg(other, SIGUSR2, collect, &oc, 0, NULL);

        pid = spawn();
        if (pid == 0) {
                for (int i = 0; i < FD_SIGNALS; i++) {
                        int r;

                        while ((r = sigqueue(me, signo,
                                             (union sigval){.sival_ptr = (void *) (uintptr_t) i})) <
                                       0 &&
                               errno == EAGAIN)
                                sleep_us(200);
                        CHILD_CHECK(r == 0);
                }
                CHILD_CHECK(kill(me, SIGUSR2) == 0);
                _exit(0);
        }
        end = mono_ms() + 30000;
        while (dispatched < FD_SIGNALS && mono_ms() < end) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int n;

                if (poll(&p, 1, 1000) <= 0)
                        continue;
                n = mc_signal_dispatch(ctx, &err);
                cr_assert(ge(int, n, 0), "%s", err.message);
                dispatched += n;
        }
        assert_child_ok(pid);
        cr_assert(eq(int, dispatched, FD_SIGNALS), "dispatch returned %d in all", dispatched);
        cr_assert(eq(int, atomic_load(&fd_total), FD_SIGNALS));
        cr_assert(eq(int, atomic_load(&fd_wrong_thread), 0), "handlers ran outside the loop");
        for (int i = 0; i < FD_SIGNALS; i++)
                cr_assert(eq(int, atomic_load(&fd_hits[i]), 1), "payload %d", i);
        cr_assert(eq(sz, collector_wait(&oc, 1, 5000), 1));
        cr_assert(eq(int, pthread_equal(oc.thread[0], pthread_self()), 0));
        cr_assert(eq(int, mc_signal_dispatch(ctx, &err), 0));
        unreg(ctx, signo);
        unreg(other, SIGUSR2);
        mc_ctx_free(ctx);
        mc_ctx_free(other);
}

Test(signal, signal_fd_rejects_null_and_dispatch_without_fd_is_empty) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        int fd;

        cr_assert(eq(int, mc_signal_fd(NULL, &fd, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_fd(ctx, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_signal_dispatch(NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_signal_dispatch(ctx, &err), 0));
        mc_ctx_free(ctx);
}

/* ---- who sent it: verified or claimed ------------------------------------------------------- */

/*
 * Queue a siginfo written by the caller, as a forger would: rt_tgsigqueueinfo(2) to thread @tid
 * when it is > 0, else rt_sigqueueinfo(2) to the process. Returns 0 or -errno.
 */
static int queue_forged(pid_t pid, pid_t tid, int signo, int code, int err_field, pid_t claim_pid,
                        uid_t claim_uid) {
        siginfo_t si;
        long r;

        memset(&si, 0, sizeof(si));
        si.si_signo = signo;
        si.si_code = code;
        si.si_errno = err_field;
        si.si_pid = claim_pid;
        si.si_uid = claim_uid;
        si.si_value.sival_int = 7;
        r = tid > 0 ? syscall(SYS_rt_tgsigqueueinfo, pid, tid, signo, &si)
                    : syscall(SYS_rt_sigqueueinfo, pid, signo, &si);
        return r < 0 ? -errno : 0;
}

/* The signal_deliver record of @signo in @r. */
static json_t *delivery_of(const records *r, const char *signame) {
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(jstr(r->v[i], "operation"), "signal_deliver") == 0 &&
                    strcmp(jstr(r->v[i], "request.signal"), signame) == 0)
                        return r->v[i];
        cr_assert(false, "no signal_deliver record of %s", signame);
        return NULL;
}

static bool jbool(json_t *v, const char *path) {
        json_t *b = jpath(v, path);

        cr_assert(b && json_is_boolean(b), "audit field %s is missing or not a boolean", path);
        return json_is_true(b);
}

Test(signal, sender_is_verified_only_when_the_kernel_filled_it_in, .timeout = 30) {
        int rt_queue = SIGRTMIN + 3, rt_thread = SIGRTMIN + 4, rt_mark = SIGRTMIN + 5;
        pid_t parent = getpid(), main_tid = (pid_t) syscall(SYS_gettid), pid;
        char n_queue[16], n_thread[16], n_mark[16];
        const mc_signal_info *i;
        mc_ctx *ctx = ctx_new();
        static collector c;
        records r;

        cr_assert(ctx_audit_to_file(ctx, "sender"));
        collect_each(ctx, &c, (const int[]){SIGUSR1, SIGUSR2, rt_queue, rt_thread, rt_mark, 0});
        /* tgkill to this thread, which does not block it: forward() hands it on, and the flag
         * must say what the kernel said (SI_TKILL), not what forward() re-queued it as. */
        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR1), 0));

        pid = spawn();
        if (pid == 0) {
                alarm(20);
                CHILD_CHECK(kill(parent, SIGUSR2) == 0);
                /* The kernel keeps kill(2)'s code for itself... */
                CHILD_CHECK(queue_forged(parent, 0, rt_queue, SI_USER, 0, 1, 0) == -EPERM);
                /* ...but takes any pid and uid with SI_QUEUE, to the process or one thread. */
                CHILD_CHECK(queue_forged(parent, 0, rt_queue, SI_QUEUE, 0, 1, 0) == 0);
                CHILD_CHECK(queue_forged(parent, main_tid, rt_thread, SI_QUEUE, 0, 1, 0) == 0);
                /* And memcap's own marks: without its token it is no kill(2). */
                CHILD_CHECK(queue_forged(parent, main_tid, rt_mark, mc__sigfwd_mark_code(SI_USER),
                                         12345, 1, 0) == 0);
                _exit(0);
        }
        assert_child_ok(pid);
        cr_assert(eq(sz, collector_wait(&c, 5, 5000), 5), "deliveries");

        i = find_signal(&c, SIGUSR1);
        cr_assert(i && i->code == SI_TKILL && i->source_pid == parent && i->source_verified);
        i = find_signal(&c, SIGUSR2);
        cr_assert(i && i->code == SI_USER && i->source_pid == pid && i->source_verified);
        i = find_signal(&c, rt_queue);
        cr_assert(i && i->code == SI_QUEUE && i->source_pid == 1 && !i->source_verified,
                  "a forged SI_QUEUE is a claim");
        cr_assert(eq(int, i->payload.user_data, 7));
        i = find_signal(&c, rt_thread);
        cr_assert(i && i->code == SI_QUEUE && i->source_pid == 1 && !i->source_verified);
        i = find_signal(&c, rt_mark);
        cr_assert(i && i->code == mc__sigfwd_mark_code(SI_USER) && !i->source_verified,
                  "a forged mark reads back as what it is");

        /* The audit record of each delivery says the same. */
        records_load(&r, audit_path);
        cr_assert(jbool(delivery_of(&r, "SIGUSR1"), "request.source_verified"));
        cr_assert(jbool(delivery_of(&r, "SIGUSR2"), "request.source_verified"));
        cr_assert(not(jbool(delivery_of(&r, mc_signal_name(rt_queue, n_queue, 16)),
                            "request.source_verified")));
        cr_assert(not(jbool(delivery_of(&r, mc_signal_name(rt_thread, n_thread, 16)),
                            "request.source_verified")));
        cr_assert(not(jbool(delivery_of(&r, mc_signal_name(rt_mark, n_mark, 16)),
                            "request.source_verified")));
        records_done(&r);
        unreg(ctx, SIGUSR1);
        unreg(ctx, SIGUSR2);
        unreg(ctx, rt_queue);
        unreg(ctx, rt_thread);
        unreg(ctx, rt_mark);
        mc_ctx_free(ctx);
}

Test(signal, sender_of_a_waited_signal_is_verified_or_claimed, .timeout = 30) {
        pid_t pid = spawn();

        if (pid == 0) {
                int rt = SIGRTMIN + 6;
                mc_sigset set = MC_SIGSET_EMPTY;
                mc_signal_info info;
                mc_ctx *c = NULL;
                sigset_t block;
                pid_t me = getpid(), g;
                char log[4096] = "";
                int fd;

                alarm(20);
                sigemptyset(&block);
                sigaddset(&block, rt);
                sigaddset(&block, SIGUSR1);
                CHILD_CHECK(sigprocmask(SIG_BLOCK, &block, NULL) == 0);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(ctx_audit_to_file(c, "wait-sender"));
                g = fork();
                CHILD_CHECK(g >= 0);
                if (g == 0) {
                        if (queue_forged(me, 0, rt, SI_QUEUE, 0, 1, 0) < 0 || kill(me, SIGUSR1) < 0)
                                _exit(1);
                        _exit(0);
                }
                CHILD_CHECK(waitpid(g, NULL, 0) == g);
                mc_sigset_add(&set, rt);
                CHILD_CHECK(mc_signal_wait(c, &set, 5000000000, &info, NULL) == 0);
                CHILD_CHECK(info.code == SI_QUEUE && info.source_pid == 1);
                CHILD_CHECK(!info.source_verified);
                set = (mc_sigset) MC_SIGSET_EMPTY;
                mc_sigset_add(&set, SIGUSR1);
                CHILD_CHECK(mc_signal_wait(c, &set, 5000000000, &info, NULL) == 0);
                CHILD_CHECK(info.code == SI_USER && info.source_pid == g);
                CHILD_CHECK(info.source_verified);
                /* The wait's audit result says so too, in order. */
                fd = open(audit_path, O_RDONLY | O_CLOEXEC);
                CHILD_CHECK(fd >= 0);
                CHILD_CHECK(read(fd, log, sizeof(log) - 1) > 0);
                close(fd);
                {
                        const char *claimed = strstr(log, "\"source_verified\":false");
                        const char *verified = strstr(log, "\"source_verified\":true");

                        CHILD_CHECK(claimed && verified && claimed < verified);
                }
                (void) unlink(audit_path);
                mc_ctx_free(c);
                _exit(0);
        }
        assert_child_ok(pid);
}

/* ---- visibility of delay: mc_signal_stats() ------------------------------------------------- */

/* A handler that holds the dispatcher until the test opens the gate (at most 20 s). */
typedef struct gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool open;
        atomic_int entered;
} gate;

static void gate_init(gate *g) {
        memset(g, 0, sizeof(*g));
        pthread_mutex_init(&g->lock, NULL);
        pthread_cond_init(&g->cond, NULL);
}

static void gate_open(gate *g) {
        pthread_mutex_lock(&g->lock);
        g->open = true;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

static mc_signal_action gated(const mc_signal_info *info, void *userdata) {
        gate *g = userdata;
        struct timespec until;

        (void) info;
        atomic_fetch_add(&g->entered, 1);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 20;
        pthread_mutex_lock(&g->lock);
        while (!g->open && pthread_cond_timedwait(&g->cond, &g->lock, &until) == 0)
                ;
        pthread_mutex_unlock(&g->lock);
        return MC_SIGNAL_IGNORE;
}

static mc_signal_counts counts(void) {
        mc_signal_counts k;

        cr_assert(eq(int, mc_signal_stats(&k, NULL), 0));
        return k;
}

/* Wait at most 10 s until the counts satisfy @cond (an expression over k). */
#define COUNTS_WAIT(cond, what)                                                                    \
        do {                                                                                       \
                int64_t end_ = mono_ms() + 10000;                                                  \
                mc_signal_counts k;                                                                \
                bool ok_;                                                                          \
                                                                                                   \
                while (k = counts(), ok_ = (cond), !ok_ && mono_ms() < end_)                       \
                        sleep_us(1000);                                                            \
                cr_assert(ok_,                                                                     \
                          "%s: waiting %" PRIu64 " (max %" PRIu64 "), handled %" PRIu64            \
                          ", coalesced %" PRIu64 ", lost %" PRIu64,                                \
                          what, k.waiting, k.waiting_max, k.handled, k.coalesced, k.lost);         \
        } while (0)

/* Send @signo to this thread: forward() runs before this returns. */
static void send_here(int signo, int value) {
        cr_assert(eq(int,
                     pthread_sigqueue(pthread_self(), signo, (union sigval){.sival_int = value}),
                     0));
}

Test(signal, stats_count_instances_waiting_behind_a_slow_handler, .timeout = 60) {
        int rt = SIGRTMIN + 2;
        mc_ctx *ctx = ctx_new();
        gate g;

        gate_init(&g);
        reg(ctx, rt, gated, &g, 0, NULL);
        COUNTS_WAIT(k.waiting == 0 && k.handled == 0, "nothing yet");
        send_here(rt, 0);
        /* Counted as its handler starts: from then on the dispatcher reads nothing more. */
        COUNTS_WAIT(k.handled == 1, "the first handler started");
        /* The handler holds the dispatcher: each instance sent now waits. */
        for (int i = 1; i <= 10; i++) {
                send_here(rt, i);
                COUNTS_WAIT(k.waiting == (uint64_t) i, "one more waiting");
        }
        COUNTS_WAIT(k.waiting_max == 10 && k.handled == 1, "ten behind the slow one");
        gate_open(&g);
        COUNTS_WAIT(k.waiting == 0 && k.handled == 11, "all handled");
        COUNTS_WAIT(k.coalesced == 0 && k.lost == 0 && k.waiting_max == 10,
                    "realtime signals never merge");
        unreg(ctx, rt);
        mc_ctx_free(ctx);
}

Test(signal, stats_count_coalesced_standard_signals, .timeout = 60) {
        mc_ctx *ctx = ctx_new();
        gate g;

        gate_init(&g);
        reg(ctx, SIGUSR1, gated, &g, 0, NULL);
        send_here(SIGUSR1, 0);
        COUNTS_WAIT(k.handled == 1, "the first handler started");
        /* One more waits for the dispatcher; the next ones merge into it, as POSIX allows. */
        for (int i = 1; i <= 5; i++)
                send_here(SIGUSR1, i);
        COUNTS_WAIT(k.waiting == 1 && k.coalesced == 4, "one waiting, four merged into it");
        gate_open(&g);
        COUNTS_WAIT(k.waiting == 0 && k.handled == 2 && k.coalesced == 4, "the waiting one ran");
        cr_assert(eq(int, atomic_load(&g.entered), 2));
        /* Once it has run, the next one is not merged. */
        send_here(SIGUSR1, 9);
        COUNTS_WAIT(k.waiting == 0 && k.handled == 3 && k.coalesced == 4 && k.lost == 0,
                    "a later one runs");
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

Test(signal, stats_count_deliveries_waiting_for_the_event_loop, .timeout = 60) {
        int rt = SIGRTMIN + 2;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        gate g;
        int fd;

        gate_init(&g);
        gate_open(&g);
        reg(ctx, rt, gated, &g, 0, NULL);
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), 0), "%s", err.message);
        for (int i = 0; i < 5; i++)
                send_here(rt, i);
        /* On their way to the context's queue or in it, not yet dispatched: waiting. */
        COUNTS_WAIT(k.waiting == 5 && k.handled == 0, "queued for the loop");
        for (int n = 0, end = (int) mono_ms() + 10000; n < 5 && mono_ms() < end;) {
                struct pollfd p = {fd, POLLIN, 0};

                if (poll(&p, 1, 1000) == 1)
                        n += mc_signal_dispatch(ctx, &err);
        }
        COUNTS_WAIT(k.waiting == 0 && k.handled == 5, "dispatched");
        /* A context freed with deliveries queued drops them: they are lost, not waiting. */
        for (int i = 0; i < 3; i++)
                send_here(rt, i);
        {
                struct pollfd p = {fd, POLLIN, 0};
                uint64_t v;

                /* Until the dispatcher has queued all three on the context (it counts the
                 * eventfd up once per delivery; reading it here does not dequeue them). */
                for (v = 0; v < 3;) {
                        uint64_t add = 0;

                        cr_assert(eq(int, poll(&p, 1, 10000), 1), "not queued within 10 s");
                        cr_assert(eq(sz, (size_t) read(fd, &add, sizeof(add)), sizeof(add)));
                        v += add;
                }
        }
        COUNTS_WAIT(k.waiting == 3, "queued again");
        mc_ctx_free(ctx);
        COUNTS_WAIT(k.waiting == 0 && k.lost == 3 && k.handled == 5, "dropped with the context");
}

Test(signal, stats_rejects_null_and_start_at_zero_in_a_fork_child, .timeout = 30) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        collector c;
        pid_t pid;

        cr_assert(eq(int, mc_signal_stats(NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        send_here(SIGUSR2, 1);
        COUNTS_WAIT(k.handled == 1, "handled in the parent");
        pid = spawn();
        if (pid == 0) {
                mc_signal_counts k;

                CHILD_CHECK(mc_signal_stats(&k, NULL) == 0);
                CHILD_CHECK(k.handled == 0 && k.waiting == 0 && k.waiting_max == 0);
                _exit(0);
        }
        assert_child_ok(pid);
        unreg(ctx, SIGUSR2);
        mc_ctx_free(ctx);
}
