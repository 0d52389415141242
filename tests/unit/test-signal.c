/* SPDX-License-Identifier: MIT */
/*
 * The core.signal capability as programs rely on it: the seed's two examples (graceful shutdown,
 * waiting for a child), payloads and senders across processes, bursts of realtime signals that
 * lose nothing, storms of standard signals that break nothing, threads, timed waits, masks,
 * refusals, the policy, chaining to and restoring earlier handlers, fork and exec, event-loop
 * dispatch, raise, send errors, forced system-call failures and the audit records.
 *
 * Criterion's worker process has threads of its own that do not block our signals, so a test
 * that depends on which thread takes a process-directed signal (order, waits, default actions)
 * runs in a forked child, which has one thread. Children never use Criterion's assertions: a
 * failed check prints its line to stderr and exits with a status the parent asserts on.
 */

#include "common.h"
#include "proc.h"
#include "signal-int.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- fixtures ------------------------------------------------------------------------------ */

static char audit_path[128];
static char data_path[128];
static pid_t kids[16];
static size_t n_kids;

static void signal_fini(void) {
        /* A test that failed half-way may leave children; they must not outlive it. */
        for (size_t i = 0; i < n_kids; i++) {
                if (kids[i] <= 0)
                        continue;
                kill(kids[i], SIGKILL);
                while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        n_kids = 0;
        if (audit_path[0])
                (void) unlink(audit_path);
        if (data_path[0])
                (void) unlink(data_path);
        audit_path[0] = data_path[0] = 0;
        mc_test_fini();
}

TestSuite(signal, .fini = signal_fini);

/* ---- helpers: time, children, pipes --------------------------------------------------------- */

static int64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ms(void) {
        return mono_ns() / 1000000;
}

static void sleep_us(long us) {
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* In a child: print the failed check and exit with a status the parent reports. */
#define CHILD_CHECK(cond)                                                                          \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        char m_[256];                                                              \
                        int k_ = snprintf(m_, sizeof(m_),                                          \
                                          "child %d: check failed at line %d: %s\n",               \
                                          (int) getpid(), __LINE__, #cond);                        \
                        (void) !write(STDERR_FILENO, m_, (size_t) k_);                             \
                        _exit(1 + __LINE__ % 250);                                                 \
                }                                                                                  \
        } while (0)

static pid_t spawn(void) {
        pid_t pid;

        cr_assert(lt(sz, n_kids, sizeof(kids) / sizeof(kids[0])));
        pid = fork();
        cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
        if (pid > 0)
                kids[n_kids++] = pid;
        return pid;
}

static int reap(pid_t pid) {
        int st = 0;

        while (waitpid(pid, &st, 0) < 0) {
                cr_assert(eq(int, errno, EINTR), "waitpid %d: %s", (int) pid, strerror(errno));
        }
        for (size_t i = 0; i < n_kids; i++)
                if (kids[i] == pid)
                        kids[i] = 0;
        return st;
}

static bool exited_with(int st, int code) {
        return WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static bool killed_by(int st, int signo) {
        return WIFSIGNALED(st) && WTERMSIG(st) == signo;
}

static bool is_array_of(json_t *v, size_t n) {
        return v && json_is_array(v) && json_array_size(v) == n;
}

static const char *describe(int st, char *buf, size_t size) {
        if (WIFEXITED(st))
                snprintf(buf, size, "exited with %d (see its stderr for the failed line)",
                         WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
                snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
        else
                snprintf(buf, size, "status 0x%x", st);
        return buf;
}

#define assert_child_ok(pid)                                                                       \
        do {                                                                                       \
                char d_[96];                                                                       \
                int st_ = reap(pid);                                                               \
                cr_assert(exited_with(st_, 0), "child %s", describe(st_, d_, sizeof(d_)));         \
        } while (0)

static void pipe_new(int p[2]) {
        cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0), "pipe2: %s", strerror(errno));
}

/* Write all of @buf, also from a child (no assertions). */
static bool write_all(int fd, const void *buf, size_t len) {
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t) n;
        }
        return true;
}

/* Read exactly @len bytes within @ms; false on timeout, EOF or error. Usable in children. */
static bool read_within(int fd, void *buf, size_t len, int ms) {
        int64_t deadline = mono_ms() + ms;
        char *p = buf;

        while (len > 0) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                int64_t left = deadline - mono_ms();
                ssize_t n;

                if (left <= 0)
                        return false;
                if (poll(&pfd, 1, (int) left) <= 0)
                        continue;
                n = read(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t) n;
        }
        return true;
}

static void ready_wait(int fd) {
        char c;

        cr_assert(read_within(fd, &c, 1, 10000), "the child did not get ready within 10 s");
}

/* ---- helpers: contexts, audit records ----------------------------------------------------- */

static mc_ctx *ctx_new(void) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = NULL;

        cr_assert(eq(int, mc_ctx_new(&ctx, &err), 0), "%s", err.message);
        return ctx;
}

/* A context under the policy @json (a JSON object in the policy file format). */
static mc_ctx *ctx_policy(const char *json) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        mc_ctx *ctx = ctx_new();

        cr_assert(eq(int, mc_policy_load_string(json, strlen(json), "<test>", &p, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, &err), 0), "%s", err.message);
        mc_policy_free(p);
        return ctx;
}

/*
 * Give @ctx the default policy with @targets as its allowed_signal_targets, for a test that
 * sends beyond the default (self and children). Usable in children (returns -errno).
 */
static int ctx_set_targets(mc_ctx *ctx, unsigned targets) {
        mc_policy *p = NULL;
        int r;

        r = mc_policy_new(&p, NULL);
        if (r >= 0)
                r = mc_policy_set_signal_targets(p, targets);
        if (r >= 0)
                r = mc_ctx_set_policy(ctx, p, NULL);
        mc_policy_free(p);
        return r;
}

/* Give @ctx a file sink at this test's audit path. Usable in children (returns false). */
static bool ctx_audit_to_file(mc_ctx *ctx, const char *what) {
        mc_audit *a = NULL;

        if (!audit_path[0])
                snprintf(audit_path, sizeof(audit_path), "/tmp/memcap-test-signal-%s-%d.jsonl",
                         what, (int) getpid());
        if (mc_audit_open_file(audit_path, 0, &a, NULL) < 0)
                return false;
        mc_ctx_set_audit(ctx, a);
        return true;
}

typedef struct records {
        json_t **v;
        size_t n;
} records;

static void records_load(records *r, const char *path) {
        char *line = NULL;
        size_t cap = 0;
        FILE *f = fopen(path, "re");

        r->v = NULL;
        r->n = 0;
        cr_assert(not(eq(ptr, f, NULL)), "%s: %s", path, strerror(errno));
        while (getline(&line, &cap, f) > 0) {
                json_error_t jerr;
                json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
                json_t **v;

                cr_assert(not(eq(ptr, j, NULL)), "audit line %zu is not JSON (%s): %s", r->n + 1,
                          jerr.text, line);
                v = realloc(r->v, (r->n + 1) * sizeof(*v));
                cr_assert(not(eq(ptr, v, NULL)));
                r->v = v;
                r->v[r->n++] = j;
        }
        free(line);
        fclose(f);
}

static void records_done(records *r) {
        for (size_t i = 0; i < r->n; i++)
                json_decref(r->v[i]);
        free(r->v);
        r->v = NULL;
        r->n = 0;
}

/* A member by dotted path ("request.payload.kind"), or NULL. */
static json_t *jpath(json_t *v, const char *path) {
        char key[64];

        while (v && *path) {
                size_t n = strcspn(path, ".");

                cr_assert(lt(sz, n, sizeof(key)));
                memcpy(key, path, n);
                key[n] = 0;
                v = json_is_object(v) ? json_object_get(v, key) : NULL;
                path += n + (path[n] == '.');
        }
        return v;
}

static const char *jstr(json_t *v, const char *path) {
        json_t *s = jpath(v, path);

        return s && json_is_string(s) ? json_string_value(s) : "(missing)";
}

static json_int_t jint(json_t *v, const char *path) {
        json_t *i = jpath(v, path);

        cr_assert(not(eq(ptr, i, NULL)), "audit field %s is missing", path);
        cr_assert(eq(int, json_is_integer(i), 1), "audit field %s is not an integer", path);
        return json_integer_value(i);
}

/* The @nth (0-based) record of @op with @outcome; its index in *ret_index when found. */
static json_t *records_find(const records *r, const char *op, const char *outcome, size_t nth,
                            size_t *ret_index) {
        for (size_t i = 0; i < r->n; i++) {
                if (strcmp(jstr(r->v[i], "operation"), op) != 0)
                        continue;
                if (outcome && strcmp(jstr(r->v[i], "outcome"), outcome) != 0)
                        continue;
                if (nth-- > 0)
                        continue;
                if (ret_index)
                        *ret_index = i;
                return r->v[i];
        }
        return NULL;
}

/* Poll the audit file until a record of @op appears (the dispatcher writes asynchronously). */
static void records_wait_for(records *r, const char *op, size_t count) {
        int64_t deadline = mono_ms() + 5000;

        for (;;) {
                records_load(r, audit_path);
                if (records_find(r, op, NULL, count - 1, NULL) || mono_ms() > deadline)
                        return;
                records_done(r);
                sleep_us(2000);
        }
}

/* ---- helpers: the process's signal state -------------------------------------------------- */

static bool thread_blocks(int signo) {
        sigset_t cur;

        cr_assert(eq(int, pthread_sigmask(SIG_SETMASK, NULL, &cur), 0));
        return sigismember(&cur, signo) == 1;
}

static uint64_t mask_bits(const sigset_t *s) {
        uint64_t b = 0;

        for (int k = 1; k <= 64; k++)
                if (sigismember(s, k) == 1)
                        b |= UINT64_C(1) << (k - 1);
        return b;
}

static uint64_t current_mask(void) {
        sigset_t cur;

        cr_assert(eq(int, pthread_sigmask(SIG_SETMASK, NULL, &cur), 0));
        return mask_bits(&cur);
}

#define SA_RESTORER_FLAG 0x04000000

/* The disposition of @signo, reduced to what a restore must reproduce. */
typedef struct disposition {
        void *fn;
        int flags;
        uint64_t mask;
} disposition;

static disposition disposition_of(int signo) {
        struct sigaction sa;
        disposition d;

        cr_assert(eq(int, sigaction(signo, NULL, &sa), 0));
        /* The C library adds SA_RESTORER to every sigaction() it makes: not the caller's. */
        d.flags = sa.sa_flags & ~SA_RESTORER_FLAG;
        d.fn = (sa.sa_flags & SA_SIGINFO) ? (void *) sa.sa_sigaction : (void *) sa.sa_handler;
        d.mask = mask_bits(&sa.sa_mask);
        return d;
}

#define assert_same_disposition(signo, want)                                                       \
        do {                                                                                       \
                disposition now_ = disposition_of(signo);                                          \
                cr_assert(eq(ptr, now_.fn, (want).fn), "handler of signal %d", (signo));           \
                cr_assert(eq(int, now_.flags, (want).flags), "sa_flags of signal %d", (signo));    \
                cr_assert(eq(u64, now_.mask, (want).mask), "sa_mask of signal %d", (signo));       \
        } while (0)

/* Whether memcap's dispatcher thread exists in this process. */
static bool dispatcher_running(void) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        bool found = false;

        cr_assert(not(eq(ptr, d, NULL)));
        while (!found && (e = readdir(d))) {
                char path[300], comm[32] = "";
                FILE *f;

                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fgets(comm, sizeof(comm), f) && strncmp(comm, "memcap-signal", 13) == 0)
                        found = true;
                fclose(f);
        }
        closedir(d);
        return found;
}

/* Whether @fd is open on an eventfd (its number may be taken again once closed). */
static bool is_eventfd(int fd) {
        char path[64], target[64] = "";

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return readlink(path, target, sizeof(target) - 1) > 0 &&
               strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* The signals memcap's signalfd watches (its fdinfo "sigmask"), or 0 without one. */
static uint64_t signalfd_watched(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        uint64_t bits = 0;

        cr_assert(not(eq(ptr, d, NULL)));
        while ((e = readdir(d))) {
                char path[300], target[64] = "", line[128];
                FILE *f;

                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
                if (readlink(path, target, sizeof(target) - 1) < 0 ||
                    strcmp(target, "anon_inode:[signalfd]") != 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", e->d_name);
                f = fopen(path, "re");
                while (f && fgets(line, sizeof(line), f))
                        if (sscanf(line, "sigmask: %" SCNx64, &bits) == 1)
                                break;
                if (f)
                        fclose(f);
        }
        closedir(d);
        return bits;
}

static uint64_t bit(int signo) {
        return UINT64_C(1) << (signo - 1);
}

/* ---- helpers: handlers ---------------------------------------------------------------------- */

#define COLLECT_MAX 64

/* Records what a handler saw, for the main thread to wait on. */
typedef struct collector {
        pthread_mutex_t lock;
        size_t n;
        mc_signal_info info[COLLECT_MAX];
        pthread_t thread[COLLECT_MAX];
        mc_signal_action action; /* what the handler returns */
        int sleep_ms;            /* how long each call takes */
        atomic_int entered, finished;
} collector;

static void collector_init(collector *c, mc_signal_action action) {
        memset(c, 0, sizeof(*c));
        pthread_mutex_init(&c->lock, NULL);
        c->action = action;
}

static mc_signal_action collect(const mc_signal_info *info, void *userdata) {
        collector *c = userdata;

        atomic_fetch_add(&c->entered, 1);
        pthread_mutex_lock(&c->lock);
        if (c->n < COLLECT_MAX) {
                c->info[c->n] = *info;
                c->thread[c->n] = pthread_self();
        }
        c->n++;
        pthread_mutex_unlock(&c->lock);
        if (c->sleep_ms > 0)
                sleep_us(c->sleep_ms * 1000L);
        atomic_fetch_add(&c->finished, 1);
        return c->action;
}

static size_t collected(collector *c) {
        size_t n;

        pthread_mutex_lock(&c->lock);
        n = c->n;
        pthread_mutex_unlock(&c->lock);
        return n;
}

/* Wait until @c holds at least @n deliveries or @ms pass; the count. */
static size_t collector_wait(collector *c, size_t n, int ms) {
        int64_t deadline = mono_ms() + ms;
        size_t k;

        while ((k = collected(c)) < n && mono_ms() < deadline)
                sleep_us(1000);
        return k;
}

/* A plain sigaction() handler that counts; installed by install_plain(). */
static atomic_int plain_calls;
static atomic_int plain_last_signo;
static pthread_t plain_thread;

static void plain_handler(int signo) {
        atomic_fetch_add(&plain_calls, 1);
        atomic_store(&plain_last_signo, signo);
        plain_thread = pthread_self();
}

static atomic_int siginfo_calls;
static siginfo_t siginfo_last;

static void siginfo_handler(int signo, siginfo_t *si, void *uc) {
        (void) signo;
        (void) uc;
        siginfo_last = *si;
        atomic_fetch_add(&siginfo_calls, 1);
}

static void install_plain(int signo, int flags) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = plain_handler;
        sa.sa_flags = flags;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGWINCH); /* so a restore has a mask to get right */
        cr_assert(eq(int, sigaction(signo, &sa, NULL), 0));
}

static void install_siginfo(int signo) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = siginfo_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(signo, &sa, NULL), 0));
}

static void set_disposition(int signo, void (*fn)(int)) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fn;
        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(signo, &sa, NULL), 0));
}

static void reg(mc_ctx *ctx, int signo, mc_signal_handler fn, void *userdata, unsigned flags,
                mc_signal_previous *prev) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(
                eq(int, mc_signal_register_handler(ctx, signo, fn, userdata, flags, prev, &err), 0),
                "register %d: %s", signo, err.message);
}

static void unreg(mc_ctx *ctx, int signo) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_signal_unregister_handler(ctx, signo, &err), 0), "unregister %d: %s",
                  signo, err.message);
}

static mc_signal_payload user_data(int32_t v) {
        mc_signal_payload p = {.kind = MC_PAYLOAD_USER_DATA, .user_data = v};
        return p;
}

static mc_signal_payload real_time(uint64_t v) {
        mc_signal_payload p = {.kind = MC_PAYLOAD_REAL_TIME, .real_time = v};
        return p;
}

static mc_sigset sigset_of(int a, int b) {
        mc_sigset s = MC_SIGSET_EMPTY;

        mc_sigset_add(&s, a);
        if (b > 0)
                mc_sigset_add(&s, b);
        return s;
}

/* tgkill(2)'s si_code: SI_TKILL on most kernels, SI_USER on some (6.18 here). */
static bool is_tkill_code(int code) {
        return code == SI_TKILL || code == SI_USER;
}

static int pidfd_open(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

/* pidfd_open(2) is missing before Linux 5.3 and under valgrind 3.19: tests that need it skip. */
static void require_pidfd(void) {
        int fd = pidfd_open(getpid());

        if (fd < 0 && errno == ENOSYS)
                cr_skip_test("pidfd_open(2) is not available here (Linux < 5.3, or valgrind)");
        cr_assert(ge(int, fd, 0), "pidfd_open: %s", strerror(errno));
        close(fd);
}

/* ---- the seed's examples ------------------------------------------------------------------ */

/* Seed 4.1: record why we stop, then end the process the way the signal would. */
static mc_signal_action shutdown_handler(const mc_signal_info *info, void *userdata) {
        mc_ctx *ctx = userdata;
        char name[16], fields[64];

        if (!mc_signal_name(info->signal, name, sizeof(name)))
                snprintf(name, sizeof(name), "%d", info->signal);
        snprintf(fields, sizeof(fields), "{\"signal\":\"%s\"}", name);
        (void) mc_ctx_audit_event(ctx, "core.signal", "signal.shutdown", fields, NULL);
        return MC_SIGNAL_TERMINATE;
}

Test(signal, seed_graceful_shutdown, .timeout = 30) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        size_t i_reg = 0, i_event = 0, i_deliver = 0;
        json_t *rec;
        records r;
        int ready[2], st;
        pid_t pid;
        char d[96];

        snprintf(audit_path, sizeof(audit_path), "/tmp/memcap-test-signal-shutdown-%d.jsonl",
                 (int) getpid());
        pipe_new(ready);
        pid = spawn();
        if (pid == 0) {
                mc_ctx *c = NULL;

                alarm(15);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(ctx_audit_to_file(c, "shutdown"));
                CHILD_CHECK(mc_signal_register_handler(c, SIGTERM, shutdown_handler, c, 0, NULL,
                                                       NULL) == 0);
                CHILD_CHECK(write_all(ready[1], "r", 1));
                for (;;)
                        pause();
        }
        ready_wait(ready[0]);
        cr_assert(eq(int, mc_signal_send(ctx, pid, SIGTERM, NULL, &err), 0), "%s", err.message);
        st = reap(pid);
        cr_assert(killed_by(st, SIGTERM), "the parent must see \"killed by SIGTERM\"; the child %s",
                  describe(st, d, sizeof(d)));

        records_load(&r, audit_path);
        rec = records_find(&r, "signal_register", "ok", 0, &i_reg);
        cr_assert(not(eq(ptr, rec, NULL)), "no register record");
        cr_assert(eq(str, (char *) jstr(rec, "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGTERM"));
        cr_assert(eq(i64, jint(rec, "pid"), pid));

        rec = records_find(&r, "signal.shutdown", "ok", 0, &i_event);
        cr_assert(not(eq(ptr, rec, NULL)), "no shutdown event record");
        cr_assert(eq(str, (char *) jstr(rec, "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(rec, "event.signal"), "SIGTERM"));

        rec = records_find(&r, "signal_deliver", "ok", 0, &i_deliver);
        cr_assert(not(eq(ptr, rec, NULL)), "no deliver record");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGTERM"));
        cr_assert(eq(i64, jint(rec, "request.source_pid"), getpid()));
        cr_assert(eq(i64, jint(rec, "request.source_uid"), getuid()));
        cr_assert(eq(i64, jint(rec, "request.code"), SI_USER));
        cr_assert(eq(str, (char *) jstr(rec, "request.action"), "Terminate"));
        /* The handler writes its event while it runs; the delivery is recorded when it returns. */
        cr_assert(lt(sz, i_reg, i_event));
        cr_assert(lt(sz, i_event, i_deliver));
        records_done(&r);
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

/* Seed 4.2: a SIGCHLD blocked beforehand is taken by the wait, with who and how it ended. */
Test(signal, seed_wait_for_child, .timeout = 30) {
        pid_t pid = spawn();

        if (pid == 0) {
                mc_sigset set = sigset_of(SIGCHLD, 0), prev;
                mc_signal_info info;
                mc_error err = MC_ERROR_INIT;
                mc_ctx *c = NULL;
                pid_t kid;
                int st;

                alarm(20);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_signal_mask(c, &set, &prev, NULL) == 0);
                kid = fork();
                CHILD_CHECK(kid >= 0);
                if (kid == 0)
                        _exit(7);
                CHILD_CHECK(mc_signal_wait(c, &set, INT64_C(5000000000), &info, &err) == 0);
                CHILD_CHECK(info.signal == SIGCHLD);
                CHILD_CHECK(info.source_pid == kid);
                CHILD_CHECK(info.source_uid == getuid());
                CHILD_CHECK(info.code == CLD_EXITED);
                CHILD_CHECK(info.status == 7);
                CHILD_CHECK(info.payload.kind == MC_PAYLOAD_NONE);
                CHILD_CHECK(info.timestamp > 0);
                CHILD_CHECK(waitpid(kid, &st, 0) == kid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
                CHILD_CHECK(mc_signal_unmask(c, &prev, NULL) == 0);
                mc_ctx_free(c);
                _exit(0);
        }
        assert_child_ok(pid);
}

/* Seed 4.2 without a child: TimedOut at the timeout, with the seed's kind. */
Test(signal, seed_wait_without_child_times_out, .timeout = 30) {
        mc_sigset set = sigset_of(SIGCHLD, 0);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        int64_t t0, ms;
        int r;

        t0 = mono_ns();
        r = mc_signal_wait(ctx, &set, INT64_C(5000000000), &info, &err);
        ms = (mono_ns() - t0) / 1000000;
        cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(eq(int, err.sys_errno, ETIMEDOUT));
        cr_assert(eq(str, (char *) mc_error_kind_name(err.kind), "TimedOut"));
        cr_assert(ge(i64, ms, 5000), "returned after %" PRId64 " ms", ms);
        cr_assert(lt(i64, ms, 5500), "returned after %" PRId64 " ms", ms);
        cr_assert(not(thread_blocks(SIGCHLD)), "the wait must restore the mask");
        cr_log_info("5 s wait for SIGCHLD timed out after %" PRId64 " ms", ms);
        mc_ctx_free(ctx);
}

/* ---- payloads and senders across processes ------------------------------------------------ */

static const mc_signal_info *find_signal(collector *c, int signo) {
        for (size_t i = 0; i < c->n && i < COLLECT_MAX; i++)
                if (c->info[i].signal == signo)
                        return &c->info[i];
        return NULL;
}

Test(signal, payload_and_sender_across_processes, .timeout = 30) {
        const uint64_t rt_value = UINT64_C(0xfedcba9876543210),
                       pidfd_value = UINT64_C(0x0123456789abcdef);
        int rt3 = SIGRTMIN + 3, rt4 = SIGRTMIN + 4;
        uid_t want_uid = geteuid() == 0 ? 65534 : getuid();
        const mc_signal_info *i;
        static collector c;
        mc_ctx *ctx = ctx_new();
        pid_t parent = getpid(), pid;

        require_pidfd();
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        reg(ctx, SIGHUP, collect, &c, 0, NULL);
        reg(ctx, rt3, collect, &c, 0, NULL);
        reg(ctx, rt4, collect, &c, 0, NULL);

        pid = spawn();
        if (pid == 0) {
                mc_signal_payload p;
                mc_error err = MC_ERROR_INIT;
                mc_ctx *s = NULL;
                int pfd;

                alarm(20);
                /* A real uid of its own makes the reported uid mean something. */
                if (geteuid() == 0)
                        CHILD_CHECK(setresuid(65534, 0, 0) == 0);
                CHILD_CHECK(getuid() == want_uid);
                CHILD_CHECK(mc_ctx_new(&s, NULL) == 0);
                /* The parent is no child of ours: an opt-in target. */
                CHILD_CHECK(ctx_set_targets(s, MC_TARGET_SAME_UID) == 0);
                p = user_data(-123456789);
                CHILD_CHECK(mc_signal_send(s, parent, SIGUSR1, &p, &err) == 0);
                p = real_time(rt_value);
                CHILD_CHECK(mc_signal_send(s, parent, rt3, &p, &err) == 0);
                CHILD_CHECK(mc_signal_send(s, parent, SIGUSR2, NULL, &err) == 0);
                pfd = pidfd_open(parent);
                CHILD_CHECK(pfd >= 0);
                p = real_time(pidfd_value);
                CHILD_CHECK(mc_signal_send_pidfd(s, pfd, rt4, &p, &err) == 0);
                CHILD_CHECK(mc_signal_send_pidfd(s, pfd, SIGHUP, NULL, &err) == 0);
                close(pfd);
                mc_ctx_free(s);
                _exit(0);
        }
        assert_child_ok(pid);
        cr_assert(eq(sz, collector_wait(&c, 5, 5000), 5), "deliveries");
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c), 5), "each signal exactly once");

        i = find_signal(&c, SIGUSR1);
        cr_assert(not(eq(ptr, (void *) i, NULL)));
        cr_assert(eq(int, i->source_pid, pid));
        cr_assert(eq(u32, i->source_uid, want_uid));
        cr_assert(eq(int, i->code, SI_QUEUE));
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_USER_DATA));
        cr_assert(eq(i32, i->payload.user_data, -123456789));
        cr_assert(not(i->source_verified), "sigqueue(3) fills in its sender itself");

        i = find_signal(&c, rt3);
        cr_assert(not(eq(ptr, (void *) i, NULL)));
        cr_assert(eq(int, i->source_pid, pid));
        cr_assert(eq(u32, i->source_uid, want_uid));
        cr_assert(eq(int, i->code, SI_QUEUE));
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_REAL_TIME));
        cr_assert(eq(u64, i->payload.real_time, rt_value), "all 64 bits of the value");
        cr_assert(not(i->source_verified));

        i = find_signal(&c, SIGUSR2);
        cr_assert(not(eq(ptr, (void *) i, NULL)), "a kill(2)-sent signal must arrive");
        cr_assert(eq(int, i->source_pid, pid));
        cr_assert(eq(u32, i->source_uid, want_uid));
        cr_assert(eq(int, i->code, SI_USER));
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_NONE));
        cr_assert(i->source_verified, "the kernel fills in kill(2)'s sender");

        i = find_signal(&c, rt4);
        cr_assert(not(eq(ptr, (void *) i, NULL)));
        cr_assert(eq(int, i->source_pid, pid));
        cr_assert(eq(u32, i->source_uid, want_uid));
        cr_assert(eq(int, i->code, SI_QUEUE));
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_REAL_TIME));
        cr_assert(eq(u64, i->payload.real_time, pidfd_value));
        cr_assert(not(i->source_verified), "a pidfd signal with a siginfo is the sender's word");

        i = find_signal(&c, SIGHUP);
        cr_assert(not(eq(ptr, (void *) i, NULL)), "a pidfd signal without payload must arrive");
        cr_assert(eq(int, i->source_pid, pid));
        cr_assert(eq(u32, i->source_uid, want_uid));
        cr_assert(eq(int, i->code, SI_USER));
        cr_assert(eq(int, i->payload.kind, MC_PAYLOAD_NONE));
        cr_assert(i->source_verified);
        cr_assert(gt(i64, i->timestamp, 0));
        mc_ctx_free(ctx);
}

/* ---- bursts and storms --------------------------------------------------------------------- */

#define BURST_TAG UINT64_C(0xa5a5000000000000)

typedef struct burst {
        size_t n;
        uint64_t *seen; /* payloads in the order the handler got them */
        atomic_size_t count;
        int mode; /* 0: every 100th call sleeps 5 ms; 1: every call sleeps 50 us */
} burst;

typedef struct burst_result {
        uint64_t received, missing, duplicates, foreign, out_of_order, lost;
        int64_t first_bad, elapsed_ms;
} burst_result;

static mc_signal_action burst_handler(const mc_signal_info *info, void *userdata) {
        burst *b = userdata;
        size_t k = atomic_load(&b->count);

        if (k < b->n)
                b->seen[k] = info->payload.kind == MC_PAYLOAD_REAL_TIME ? info->payload.real_time
                                                                        : UINT64_MAX;
        atomic_store(&b->count, k + 1);
        if (b->mode == 1)
                sleep_us(50);
        else if (k % 100 == 99)
                sleep_us(5000);
        return MC_SIGNAL_CONTINUE;
}

/* How many realtime signals may queue: 10,000, or less when RLIMIT_SIGPENDING is lower. */
static size_t burst_size(void) {
        struct rlimit rl;
        size_t n = 10000;

        cr_assert(eq(int, getrlimit(RLIMIT_SIGPENDING, &rl), 0));
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 1000) {
                n = rl.rlim_cur > 2000 ? (size_t) rl.rlim_cur - 1000 : (size_t) rl.rlim_cur / 2;
                cr_log_warn("RLIMIT_SIGPENDING is %llu: scaled the burst down to %zu signals",
                            (unsigned long long) rl.rlim_cur, n);
        }
        return n;
}

/*
 * The receiver: a one-thread child that registers @signo (@flags), says it is ready, counts
 * what its slow handler gets and writes a burst_result to @out.
 */
static void burst_receiver(int signo, unsigned flags, int mode, size_t n, int ready, int out) {
        burst b = {.n = n, .mode = mode};
        burst_result res = {.first_bad = -1};
        uint8_t *hits;
        mc_ctx *c = NULL;
        int64_t t0, deadline;

        alarm(110);
        b.seen = calloc(n, sizeof(*b.seen));
        hits = calloc(n, 1);
        CHILD_CHECK(b.seen && hits);
        atomic_init(&b.count, 0);
        CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
        CHILD_CHECK(mc_signal_register_handler(c, signo, burst_handler, &b, flags, NULL, NULL) ==
                    0);
        CHILD_CHECK(write_all(ready, "r", 1));
        t0 = mono_ms();
        deadline = t0 + 90000;
        while (atomic_load(&b.count) < n && mono_ms() < deadline)
                sleep_us(2000);
        res.elapsed_ms = mono_ms() - t0;
        sleep_us(300000); /* anything beyond n would arrive now */
        res.received = atomic_load(&b.count);
        for (size_t k = 0; k < n && k < res.received; k++) {
                uint64_t v = b.seen[k], idx = v & 0xffffffff;

                if ((v & ~UINT64_C(0xffffffff)) != BURST_TAG || idx >= n) {
                        res.foreign++;
                        continue;
                }
                if (hits[idx]++)
                        res.duplicates++;
                if (idx != k) {
                        res.out_of_order++;
                        if (res.first_bad < 0)
                                res.first_bad = (int64_t) k;
                }
        }
        for (size_t k = 0; k < n; k++)
                res.missing += hits[k] == 0;
        res.lost = mc__signal_lost();
        CHILD_CHECK(write_all(out, &res, sizeof(res)));
        _exit(0);
}

/* Send @n tagged realtime signals to @pid as fast as the queue takes them; the EAGAIN retries. */
static uint64_t burst_send(mc_ctx *ctx, pid_t pid, int signo, size_t n) {
        mc_error err = MC_ERROR_INIT;
        uint64_t retries = 0;

        for (size_t i = 0; i < n; i++) {
                mc_signal_payload p = real_time(BURST_TAG | i);
                int r;

                while ((r = mc_signal_send(ctx, pid, signo, &p, &err)) == -EAGAIN) {
                        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
                        retries++;
                        sleep_us(200);
                }
                cr_assert(eq(int, r, 0), "signal %zu: %s", i, err.message);
        }
        return retries;
}

static void burst_run(unsigned flags, int mode, bool want_order) {
        int signo = SIGRTMIN + 1, ready[2], out[2];
        size_t n = burst_size();
        mc_ctx *ctx = ctx_new();
        burst_result res;
        uint64_t retries;
        int64_t t0;
        pid_t pid;

        pipe_new(ready);
        pipe_new(out);
        pid = spawn();
        if (pid == 0)
                burst_receiver(signo, flags, mode, n, ready[1], out[1]);
        ready_wait(ready[0]);
        t0 = mono_ms();
        retries = burst_send(ctx, pid, signo, n);
        cr_log_info("sent %zu realtime signals in %" PRId64 " ms (%" PRIu64 " EAGAIN retries)", n,
                    mono_ms() - t0, retries);
        cr_assert(read_within(out[0], &res, sizeof(res), 100000), "no result from the receiver");
        assert_child_ok(pid);
        cr_log_info("%s, %s handler: %" PRIu64 " received in %" PRId64 " ms, %" PRIu64
                    " out of order",
                    flags & MC_SIGNAL_BLOCK ? "MC_SIGNAL_BLOCK" : "no block",
                    mode ? "50 us" : "5 ms every 100th", res.received, res.elapsed_ms,
                    res.out_of_order);
        cr_assert(eq(u64, res.received, n), "every signal exactly once");
        cr_assert(eq(u64, res.missing, 0));
        cr_assert(eq(u64, res.duplicates, 0));
        cr_assert(eq(u64, res.foreign, 0), "each with its own payload");
        cr_assert(eq(u64, res.lost, 0), "memcap counted lost signals");
        if (want_order)
                cr_assert(eq(u64, res.out_of_order, 0),
                          "in order (first out of place: #%" PRId64 ")", res.first_bad);
        close(ready[0]);
        close(ready[1]);
        close(out[0]);
        close(out[1]);
        mc_ctx_free(ctx);
}

Test(signal, realtime_burst_blocked_loses_none_in_order, .timeout = 150) {
        burst_run(MC_SIGNAL_BLOCK, 0, true);
}

Test(signal, realtime_burst_blocked_slow_handler_in_order, .timeout = 150) {
        burst_run(MC_SIGNAL_BLOCK, 1, true);
}

/*
 * Without MC_SIGNAL_BLOCK the thread a signal interrupts and memcap's thread (reading the
 * process queue) both take instances, so the header promises no order here: nothing is lost and
 * each keeps its payload; how many came out of order is logged.
 */
Test(signal, realtime_burst_unblocked_single_thread_loses_none, .timeout = 150) {
        burst_run(0, 0, false);
}

typedef struct storm_reply {
        uint64_t count;
        int64_t probe;
} storm_reply;

static atomic_uint_fast64_t storm_count;
static atomic_int_fast64_t storm_probe;

static mc_signal_action storm_handler(const mc_signal_info *info, void *userdata) {
        (void) userdata;
        if (info->signal == SIGUSR1)
                atomic_fetch_add(&storm_count, 1);
        else
                atomic_store(&storm_probe, info->payload.real_time);
        return MC_SIGNAL_CONTINUE;
}

/* The receiver answers every 'p' on @cmd with a storm_reply on @out from its main thread. */
static void storm_receiver(int cmd, int out, int ready) {
        mc_ctx *c = NULL;

        alarm(110);
        CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
        CHILD_CHECK(mc_signal_register_handler(c, SIGUSR1, storm_handler, NULL, 0, NULL, NULL) ==
                    0);
        CHILD_CHECK(mc_signal_register_handler(c, SIGRTMIN + 1, storm_handler, NULL, 0, NULL,
                                               NULL) == 0);
        CHILD_CHECK(write_all(ready, "r", 1));
        for (;;) {
                storm_reply rep;
                char k;
                ssize_t n = read(cmd, &k, 1);

                if (n < 0 && errno == EINTR)
                        continue;
                CHILD_CHECK(n == 1);
                if (k == 'q')
                        _exit(0);
                rep.count = atomic_load(&storm_count);
                rep.probe = atomic_load(&storm_probe);
                CHILD_CHECK(write_all(out, &rep, sizeof(rep)));
        }
}

static storm_reply storm_ping(int cmd, int out, int64_t *max_ms) {
        int64_t t0 = mono_ms(), ms;
        storm_reply rep;

        cr_assert(write_all(cmd, "p", 1));
        cr_assert(read_within(out, &rep, sizeof(rep), 5000),
                  "the receiver did not answer within 5 s");
        ms = mono_ms() - t0;
        if (ms > *max_ms)
                *max_ms = ms;
        return rep;
}

Test(signal, standard_signal_storm_never_deadlocks, .timeout = 150) {
        int cmd[2], out[2], ready[2], st;
        int64_t t0, max_ms = 0, storm_ms;
        storm_reply rep;
        pid_t recv, snd[2];
        size_t pings = 0;
        char d[96];

        pipe_new(cmd);
        pipe_new(out);
        pipe_new(ready);
        recv = spawn();
        if (recv == 0)
                storm_receiver(cmd[0], out[1], ready[1]);
        ready_wait(ready[0]);
        t0 = mono_ms();
        for (int k = 0; k < 2; k++) {
                snd[k] = spawn();
                if (snd[k] == 0) {
                        alarm(100);
                        for (int i = 0; i < 100000; i++)
                                CHILD_CHECK(kill(recv, SIGUSR1) == 0);
                        _exit(0);
                }
        }
        /* Stays responsive during the storm. */
        for (;;) {
                pid_t w = waitpid(-1, &st, WNOHANG);

                if (w == snd[0] || w == snd[1]) {
                        for (int k = 0; k < 2; k++)
                                if (w == snd[k])
                                        snd[k] = 0;
                        cr_assert(exited_with(st, 0), "sender %s", describe(st, d, sizeof(d)));
                        if (!snd[0] && !snd[1])
                                break;
                        continue;
                }
                cr_assert(not(eq(int, w, recv)), "the receiver died during the storm");
                (void) storm_ping(cmd[1], out[0], &max_ms);
                pings++;
                sleep_us(20000);
        }
        storm_ms = mono_ms() - t0;
        for (size_t i = 0; i < n_kids; i++)
                if (kids[i] != recv)
                        kids[i] = 0;

        rep = storm_ping(cmd[1], out[0], &max_ms);
        cr_assert(ge(u64, rep.count, 1), "the handler never ran");
        /* The dispatcher still works after the storm. */
        cr_assert(eq(int, sigqueue(recv, SIGRTMIN + 1, (union sigval){.sival_ptr = (void *) 4242}),
                     0));
        for (int64_t end = mono_ms() + 5000; rep.probe != 4242 && mono_ms() < end;) {
                sleep_us(5000);
                rep = storm_ping(cmd[1], out[0], &max_ms);
        }
        cr_assert(eq(i64, rep.probe, 4242), "a signal after the storm did not arrive");
        cr_assert(write_all(cmd[1], "q", 1));
        assert_child_ok(recv);
        cr_log_info("200,000 SIGUSR1 in %" PRId64 " ms: handler ran %" PRIu64
                    " times; %zu pings, slowest answer %" PRId64 " ms",
                    storm_ms, rep.count, pings, max_ms);
        close(cmd[0]);
        close(cmd[1]);
        close(out[0]);
        close(out[1]);
        close(ready[0]);
        close(ready[1]);
}

/*
 * SIGCHLD to a handler: who ended and how, whether memcap's thread read it straight from the
 * process queue or another thread handed it on (while memcap's thread was busy).
 */
Test(signal, sigchld_handler_gets_child_and_status, .timeout = 20) {
        mc_ctx *ctx = ctx_new();
        collector c, slow;
        siginfo_t si;
        pid_t kid;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        collector_init(&slow, MC_SIGNAL_CONTINUE);
        slow.sleep_ms = 300;
        reg(ctx, SIGCHLD, collect, &c, 0, NULL);
        reg(ctx, SIGRTMIN + 5, collect, &slow, 0, NULL);

        kid = spawn();
        if (kid == 0)
                _exit(7);
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        cr_assert(eq(int, c.info[0].source_pid, kid));
        cr_assert(eq(u32, c.info[0].source_uid, getuid()));
        cr_assert(eq(int, c.info[0].code, CLD_EXITED));
        cr_assert(eq(int, c.info[0].status, 7));
        (void) reap(kid);

        /* memcap's thread is busy: the SIGCHLD goes through the forwarding handler. */
        cr_assert(eq(int, sigqueue(getpid(), SIGRTMIN + 5, (union sigval){.sival_int = 0}), 0));
        while (atomic_load(&slow.entered) == 0)
                sleep_us(200);
        kid = spawn();
        if (kid == 0)
                _exit(9);
        cr_assert(eq(int, waitid(P_PID, (id_t) kid, &si, WEXITED | WNOWAIT), 0));
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));
        cr_assert(eq(int, c.info[1].source_pid, kid));
        cr_assert(eq(u32, c.info[1].source_uid, getuid()));
        cr_assert(eq(int, c.info[1].code, CLD_EXITED));
        cr_assert(eq(int, c.info[1].status, 9));
        (void) reap(kid);

        kid = spawn();
        if (kid == 0) {
                for (;;)
                        pause();
        }
        cr_assert(eq(int, kill(kid, SIGKILL), 0));
        cr_assert(eq(sz, collector_wait(&c, 3, 5000), 3));
        cr_assert(eq(int, c.info[2].source_pid, kid));
        cr_assert(eq(int, c.info[2].code, CLD_KILLED));
        cr_assert(eq(int, c.info[2].status, SIGKILL));
        (void) reap(kid);
        unreg(ctx, SIGCHLD);
        unreg(ctx, SIGRTMIN + 5);
        mc_ctx_free(ctx);
}

/* ---- threads ------------------------------------------------------------------------------- */

#define THREAD_PAYLOADS 600
#define THREAD_TKILLS   20

static atomic_int payload_hits[THREAD_PAYLOADS];
static atomic_int tkill_hits, other_hits;

static mc_signal_action count_payload(const mc_signal_info *info, void *userdata) {
        (void) userdata;
        if (info->payload.kind == MC_PAYLOAD_NONE && is_tkill_code(info->code) &&
            info->source_pid == getpid())
                atomic_fetch_add(&tkill_hits, 1);
        else if (info->payload.kind == MC_PAYLOAD_REAL_TIME &&
                 info->payload.real_time < THREAD_PAYLOADS)
                atomic_fetch_add(&payload_hits[info->payload.real_time], 1);
        else
                atomic_fetch_add(&other_hits, 1);
        return MC_SIGNAL_CONTINUE;
}

typedef struct idler {
        pthread_t thread;
        atomic_int tid;
        atomic_bool stop, unblock;
        int signo;
} idler;

static void *idle_main(void *arg) {
        idler *t = arg;

        atomic_store(&t->tid, (int) gettid());
        while (!atomic_load(&t->stop)) {
                if (atomic_exchange(&t->unblock, false)) {
                        sigset_t one;

                        sigemptyset(&one);
                        sigaddset(&one, t->signo);
                        pthread_sigmask(SIG_UNBLOCK, &one, NULL);
                }
                sleep_us(1000);
        }
        return NULL;
}

static void idler_start(idler *t, int signo) {
        memset(t, 0, sizeof(*t));
        t->signo = signo;
        cr_assert(eq(int, pthread_create(&t->thread, NULL, idle_main, t), 0));
        while (atomic_load(&t->tid) == 0)
                sleep_us(100);
}

static void idler_stop(idler *t) {
        atomic_store(&t->stop, true);
        pthread_join(t->thread, NULL);
}

static int sum_payload_hits(void) {
        int sum = 0;

        for (int i = 0; i < THREAD_PAYLOADS; i++)
                sum += atomic_load(&payload_hits[i]);
        return sum;
}

Test(signal, threads_before_and_after_registration_each_once, .timeout = 30) {
        int signo = SIGRTMIN + 2;
        mc_ctx *ctx = ctx_new();
        idler before, after;
        pid_t me = getpid(), pid;
        int64_t end;

        idler_start(&before, signo);
        reg(ctx, signo, count_payload, NULL, 0, NULL);
        idler_start(&after, signo);

        for (int i = 0; i < 100; i++) {
                union sigval v;

                v.sival_ptr = (void *) (uintptr_t) i;
                cr_assert(eq(int, sigqueue(me, signo, v), 0)); /* the process */
                v.sival_ptr = (void *) (uintptr_t) (100 + i);
                cr_assert(eq(int, pthread_sigqueue(before.thread, signo, v), 0));
                v.sival_ptr = (void *) (uintptr_t) (200 + i);
                cr_assert(eq(int, pthread_sigqueue(after.thread, signo, v), 0));
                v.sival_ptr = (void *) (uintptr_t) (300 + i);
                cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, v), 0));
        }
        for (int i = 0; i < THREAD_TKILLS / 2; i++) {
                cr_assert(eq(int, pthread_kill(before.thread, signo), 0));
                cr_assert(
                        eq(int, (int) syscall(SYS_tgkill, me, atomic_load(&after.tid), signo), 0));
        }
        /* From another process: to the process, and to one thread of it. */
        pid = spawn();
        if (pid == 0) {
                for (int i = 0; i < 100; i++) {
                        siginfo_t si;

                        CHILD_CHECK(sigqueue(me, signo,
                                             (union sigval){
                                                     .sival_ptr =
                                                             (void *) (uintptr_t) (400 + i)}) == 0);
                        memset(&si, 0, sizeof(si));
                        si.si_signo = signo;
                        si.si_code = SI_QUEUE;
                        si.si_pid = getpid();
                        si.si_uid = getuid();
                        si.si_value.sival_ptr = (void *) (uintptr_t) (500 + i);
                        CHILD_CHECK(syscall(SYS_rt_tgsigqueueinfo, me, atomic_load(&after.tid),
                                            signo, &si) == 0);
                }
                _exit(0);
        }
        assert_child_ok(pid);

        end = mono_ms() + 10000;
        while ((sum_payload_hits() < THREAD_PAYLOADS || atomic_load(&tkill_hits) < THREAD_TKILLS) &&
               mono_ms() < end)
                sleep_us(1000);
        sleep_us(100000);
        for (int i = 0; i < THREAD_PAYLOADS; i++)
                cr_assert(eq(int, atomic_load(&payload_hits[i]), 1), "payload %d arrived %d times",
                          i, atomic_load(&payload_hits[i]));
        cr_assert(eq(int, atomic_load(&tkill_hits), THREAD_TKILLS),
                  "pthread_kill/tgkill instances");
        cr_assert(eq(int, atomic_load(&other_hits), 0));
        idler_stop(&before);
        idler_stop(&after);
        unreg(ctx, signo);
        mc_ctx_free(ctx);
}

/*
 * With MC_SIGNAL_BLOCK, a thread created afterwards inherits the block: a signal sent to that
 * one thread waits in its queue until it unblocks the signal, and then arrives once. Threads
 * from before the registration and the process as a whole are served at once.
 */
Test(signal, blocked_thread_signal_arrives_when_it_unblocks, .timeout = 30) {
        int signo = SIGRTMIN + 2;
        mc_ctx *ctx = ctx_new();
        idler before, after;
        union sigval v;
        int64_t end;

        idler_start(&before, signo);
        reg(ctx, signo, count_payload, NULL, MC_SIGNAL_BLOCK, NULL);
        idler_start(&after, signo);
        cr_assert(thread_blocks(signo), "MC_SIGNAL_BLOCK blocks it in the calling thread");

        v.sival_ptr = (void *) 1;
        cr_assert(eq(int, sigqueue(getpid(), signo, v), 0));
        v.sival_ptr = (void *) 2;
        cr_assert(eq(int, pthread_sigqueue(before.thread, signo, v), 0));
        v.sival_ptr = (void *) 3;
        cr_assert(eq(int, pthread_sigqueue(after.thread, signo, v), 0));
        end = mono_ms() + 5000;
        while ((atomic_load(&payload_hits[1]) == 0 || atomic_load(&payload_hits[2]) == 0) &&
               mono_ms() < end)
                sleep_us(1000);
        sleep_us(100000);
        cr_assert(eq(int, atomic_load(&payload_hits[1]), 1));
        cr_assert(eq(int, atomic_load(&payload_hits[2]), 1));
        cr_assert(eq(int, atomic_load(&payload_hits[3]), 0),
                  "still pending in the blocking thread");

        atomic_store(&after.unblock, true);
        end = mono_ms() + 5000;
        while (atomic_load(&payload_hits[3]) == 0 && mono_ms() < end)
                sleep_us(1000);
        sleep_us(50000);
        cr_assert(eq(int, atomic_load(&payload_hits[3]), 1));
        cr_assert(eq(int, atomic_load(&other_hits), 0));
        idler_stop(&before);
        idler_stop(&after);
        unreg(ctx, signo);
        cr_assert(not(thread_blocks(signo)), "unregistering from the same thread unblocks it");
        mc_ctx_free(ctx);
}

/* ---- waits --------------------------------------------------------------------------------- */

static int64_t timed_wait_ms(mc_ctx *ctx, int signo, int64_t timeout_ms, int *ret, mc_error *err) {
        mc_sigset set = sigset_of(signo, 0);
        mc_signal_info info;
        int64_t t0 = mono_ns();

        *ret = mc_signal_wait(ctx, &set, timeout_ms * 1000000, &info, err);
        return (mono_ns() - t0) / 1000000;
}

Test(signal, wait_timeouts_are_accurate, .timeout = 30) {
        static const int64_t timeouts[] = {100, 300};
        mc_ctx *ctx = ctx_new();

        for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
                mc_error err = MC_ERROR_INIT;
                int64_t ms;
                int r;

                ms = timed_wait_ms(ctx, SIGUSR2, timeouts[i], &r, &err);
                cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
                cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
                cr_assert(ge(i64, ms, timeouts[i]), "%" PRId64 " ms wait returned after %" PRId64,
                          timeouts[i], ms);
                cr_assert(lt(i64, ms, timeouts[i] + 100),
                          "%" PRId64 " ms wait returned after %" PRId64, timeouts[i], ms);
                cr_log_info("%" PRId64 " ms wait timed out after %" PRId64 " ms", timeouts[i], ms);
        }
        cr_assert(not(thread_blocks(SIGUSR2)));
        mc_ctx_free(ctx);
}

Test(signal, wait_zero_polls, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, 0), prev;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        int64_t ms;
        int r;

        ms = timed_wait_ms(ctx, SIGUSR2, 0, &r, &err);
        cr_assert(eq(int, r, -ETIMEDOUT));
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(lt(i64, ms, 50), "a poll took %" PRId64 " ms", ms);

        /* A pending signal is taken at once. */
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), 0), "%s", err.message);
        cr_assert(eq(int, info.signal, SIGUSR2));
        cr_assert(is_tkill_code(info.code), "code %d", info.code);
        cr_assert(eq(int, info.source_pid, getpid()));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -ETIMEDOUT), "taken once");
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        mc_ctx_free(ctx);
}

typedef struct kicker {
        pthread_t target;
        int signo;
        int delay_ms;
        int times;
} kicker;

static void *kick_main(void *arg) {
        kicker *k = arg;

        for (int i = 0; i < k->times; i++) {
                sleep_us(k->delay_ms * 1000L);
                pthread_kill(k->target, k->signo);
        }
        return NULL;
}

static pthread_t kick_later(kicker *k, int signo, int delay_ms, int times) {
        pthread_t t;

        k->target = pthread_self();
        k->signo = signo;
        k->delay_ms = delay_ms;
        k->times = times;
        cr_assert(eq(int, pthread_create(&t, NULL, kick_main, k), 0));
        return t;
}

Test(signal, wait_interrupted_resumes_to_the_deadline, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        pthread_t t;
        kicker k;
        int64_t ms;
        int r;

        install_plain(SIGALRM, 0); /* no SA_RESTART: sigtimedwait fails with EINTR */
        t = kick_later(&k, SIGALRM, 60, 3);
        ms = timed_wait_ms(ctx, SIGUSR2, 300, &r, &err);
        pthread_join(t, NULL);
        cr_assert(eq(int, atomic_load(&plain_calls), 3), "the other signal's handler ran");
        cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
        cr_assert(ge(i64, ms, 300), "returned after %" PRId64 " ms", ms);
        cr_assert(lt(i64, ms, 400), "returned after %" PRId64 " ms", ms);
        cr_log_info("300 ms wait interrupted 3 times timed out after %" PRId64 " ms", ms);
        mc_ctx_free(ctx);
}

Test(signal, wait_forever_returns_when_the_signal_comes, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, SIGRTMIN);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        pthread_t t;
        kicker k;
        int64_t t0 = mono_ms(), ms;

        t = kick_later(&k, SIGUSR2, 150, 1);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, MC_WAIT_FOREVER, &info, &err), 0), "%s",
                  err.message);
        ms = mono_ms() - t0;
        pthread_join(t, NULL);
        cr_assert(eq(int, info.signal, SIGUSR2));
        cr_assert(eq(int, info.source_pid, getpid()));
        cr_assert(eq(u32, info.source_uid, getuid()));
        cr_assert(ge(i64, ms, 140), "returned after %" PRId64 " ms, before the signal", ms);
        cr_assert(not(thread_blocks(SIGUSR2)), "the mask is restored");
        mc_ctx_free(ctx);
}

Test(signal, wait_rejects_bad_sets_and_timeouts) {
        mc_sigset set = MC_SIGSET_EMPTY;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_signal_info info;
        uint64_t mask = current_mask();
        collector c;

        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "an empty set");
        set = sigset_of(SIGUSR2, SIGKILL);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "SIGKILL");
        set = sigset_of(SIGSTOP, 0);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "SIGSTOP");
        /* glibc keeps 32 and 33 for itself: a wait for them alone would wait for nothing. */
        set = sigset_of(32, 0);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, MC_WAIT_FOREVER, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "signal 32");
        set = sigset_of(SIGUSR2, 0);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, -2, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "a negative timeout");
        cr_assert(eq(int, mc_signal_wait(ctx, NULL, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_wait(NULL, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));

        /* A registered signal belongs to its handler. */
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EBUSY));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(not(eq(ptr, strstr(err.message, "handler"), NULL)), "%s", err.message);
        unreg(ctx, SIGUSR2);
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -ETIMEDOUT),
                  "after unregistering it may be waited for");
        cr_assert(eq(u64, current_mask(), mask), "no failed wait changed the mask");
        mc_ctx_free(ctx);
}

/*
 * After the last handler of a signal is gone, memcap's thread must not take that signal any
 * more: a wait for it (or the restored disposition) gets every instance.
 */
Test(signal, unregistered_signal_goes_to_the_waiter, .timeout = 60) {
        pid_t pid = spawn();

        if (pid == 0) {
                mc_sigset set = sigset_of(SIGUSR1, 0), prev;
                mc_signal_info info;
                collector c;
                mc_ctx *ctx = NULL;

                alarm(50);
                collector_init(&c, MC_SIGNAL_CONTINUE);
                CHILD_CHECK(mc_ctx_new(&ctx, NULL) == 0);
                CHILD_CHECK(mc_signal_register_handler(ctx, SIGUSR1, collect, &c, 0, NULL, NULL) ==
                            0);
                CHILD_CHECK(mc_signal_unregister_handler(ctx, SIGUSR1, NULL) == 0);
                CHILD_CHECK(mc_signal_mask(ctx, &set, &prev, NULL) == 0);
                for (int i = 0; i < 300; i++) {
                        CHILD_CHECK(kill(getpid(), SIGUSR1) == 0);
                        CHILD_CHECK(mc_signal_wait(ctx, &set, INT64_C(2000000000), &info, NULL) ==
                                    0);
                        CHILD_CHECK(info.signal == SIGUSR1);
                }
                CHILD_CHECK(collected(&c) == 0);
                mc_ctx_free(ctx);
                _exit(0);
        }
        assert_child_ok(pid);
}

/* ---- masks --------------------------------------------------------------------------------- */

Test(signal, mask_unmask_round_trip) {
        mc_sigset set = sigset_of(SIGUSR1, SIGRTMIN + 5), prev = {UINT64_MAX}, prev2;
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        sigset_t hup;
        uint64_t orig;

        /* Something blocked before, so the previous mask is not just empty. */
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        cr_assert(eq(int, pthread_sigmask(SIG_BLOCK, &hup, NULL), 0));
        orig = current_mask();

        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(u64, prev.bits, orig), "mask returns the whole previous mask");
        cr_assert(eq(u64, current_mask(), orig | set.bits));
        cr_assert(thread_blocks(SIGUSR1) && thread_blocks(SIGRTMIN + 5) && thread_blocks(SIGHUP));

        /* Masking again adds; its previous is the first call's result. */
        set = sigset_of(SIGTERM, 0);
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev2, &err), 0), "%s", err.message);
        cr_assert(eq(u64, prev2.bits, orig | sigset_of(SIGUSR1, SIGRTMIN + 5).bits));
        cr_assert(eq(u64, current_mask(), prev2.bits | bit(SIGTERM)));

        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(u64, current_mask(), orig), "unmask restores the mask exactly");
        cr_assert(thread_blocks(SIGHUP), "what was blocked before stays blocked");

        /* The previous mask is optional. */
        set = sigset_of(SIGUSR2, 0);
        cr_assert(eq(int, mc_signal_mask(ctx, &set, NULL, &err), 0), "%s", err.message);
        cr_assert(thread_blocks(SIGUSR2));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        cr_assert(eq(u64, current_mask(), orig));
        mc_ctx_free(ctx);
}

Test(signal, mask_is_per_thread, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR1, 0), prev;
        mc_ctx *ctx = ctx_new();
        idler t;
        char path[96], line[128];
        uint64_t blk = UINT64_MAX;
        FILE *f;

        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, NULL), 0));
        idler_start(&t, SIGUSR1); /* inherits the block: created after */
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, NULL), 0));
        cr_assert(not(thread_blocks(SIGUSR1)));
        snprintf(path, sizeof(path), "/proc/self/task/%d/status", atomic_load(&t.tid));
        f = fopen(path, "re");
        cr_assert(not(eq(ptr, f, NULL)));
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "SigBlk: %" SCNx64, &blk) == 1)
                        break;
        fclose(f);
        cr_assert(ne(u64, blk & bit(SIGUSR1), 0), "the other thread keeps its own mask");
        idler_stop(&t);
        mc_ctx_free(ctx);
}

Test(signal, mask_refuses_kill_stop_and_unknown_signals) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        uint64_t orig = current_mask();
        mc_sigset set, prev = {42};
        static const int bad[] = {SIGKILL, SIGSTOP, 32, 33};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                set = sigset_of(SIGUSR1, bad[i]);
                cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), -EINVAL), "signal %d",
                          bad[i]);
                cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL), "signal %d", bad[i]);
                cr_assert(eq(u64, prev.bits, 42), "ret_previous untouched on failure");
                cr_assert(eq(u64, current_mask(), orig), "nothing blocked on failure");
        }
        cr_assert(eq(int, mc_signal_mask(ctx, NULL, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        prev.bits = orig | bit(32);
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_unmask(ctx, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        set = sigset_of(SIGUSR1, 0);
        cr_assert(eq(int, mc_signal_mask(NULL, &set, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(u64, current_mask(), orig));
        mc_ctx_free(ctx);
}

/* ---- registration refusals ------------------------------------------------------------------- */

static mc_signal_action noop_handler(const mc_signal_info *info, void *userdata) {
        (void) info;
        (void) userdata;
        return MC_SIGNAL_CONTINUE;
}

#define assert_register_fails(ctx, signo, fn, flags, want_kind)                                    \
        do {                                                                                       \
                mc_error e_ = MC_ERROR_INIT;                                                       \
                disposition d_ =                                                                   \
                        (signo) >= 1 && (signo) <= SIGRTMAX && (signo) != 32 && (signo) != 33      \
                                ? disposition_of(signo)                                            \
                                : (disposition){0};                                                \
                cr_assert(eq(int,                                                                  \
                             mc_signal_register_handler(ctx, signo, fn, NULL, flags, NULL, &e_),   \
                             -EINVAL),                                                             \
                          "register %d", (signo));                                                 \
                cr_assert(eq(int, e_.kind, want_kind), "register %d: %s", (signo), e_.message);    \
                if ((signo) >= 1 && (signo) <= SIGRTMAX && (signo) != 32 && (signo) != 33)         \
                        assert_same_disposition(signo, d_);                                        \
        } while (0)

Test(signal, register_refuses_uncatchable_signals) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();

        assert_register_fails(ctx, SIGKILL, noop_handler, 0, MC_ERR_INVALID_SIGNAL);
        assert_register_fails(ctx, SIGSTOP, noop_handler, 0, MC_ERR_INVALID_SIGNAL);
        cr_assert(eq(int,
                     mc_signal_register_handler(ctx, SIGKILL, noop_handler, NULL, 0, NULL, &err),
                     -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "SIGKILL"), NULL)), "%s", err.message);
        cr_assert(not(dispatcher_running()), "a refusal starts nothing");
        mc_ctx_free(ctx);
}

Test(signal, register_refuses_fault_signals) {
        static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
        mc_ctx *ctx = ctx_new();

        for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
                mc_error err = MC_ERROR_INIT;

                assert_register_fails(ctx, faults[i], noop_handler, 0, MC_ERR_INVALID_SIGNAL);
                cr_assert(eq(int,
                             mc_signal_register_handler(ctx, faults[i], noop_handler, NULL, 0, NULL,
                                                        &err),
                             -EINVAL));
                cr_assert(not(eq(ptr, strstr(err.message, "mc_map_read"), NULL)), "%s",
                          err.message);
        }
        cr_assert(not(dispatcher_running()));
        mc_ctx_free(ctx);
}

Test(signal, register_refuses_bad_numbers_null_handler_and_flags) {
        static const int bad[] = {0, -1, -15, 32, 33, 65, 1000, INT32_MIN};
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_register_fails(ctx, bad[i], noop_handler, 0, MC_ERR_INVALID_SIGNAL);
        assert_register_fails(ctx, SIGUSR1, NULL, 0, MC_ERR_INVALID_ARGUMENT);
        assert_register_fails(ctx, SIGUSR1, noop_handler, 0x10, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int,
                     mc_signal_register_handler(NULL, SIGUSR1, noop_handler, NULL, 0, NULL, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_unregister_handler(ctx, 0, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_unregister_handler(ctx, 65, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(not(dispatcher_running()));
        cr_assert(eq(u64, signalfd_watched(), 0));
        mc_ctx_free(ctx);
}

Test(signal, register_accepts_the_realtime_range_bounds, .timeout = 10) {
        int lo = mc_signal_rt_min(), hi = mc_signal_rt_max();
        collector c;
        mc_ctx *ctx;

        MC_SKIP_UNDER_VALGRIND("valgrind keeps SIGRTMAX for itself");
        ctx = ctx_new();
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, lo, collect, &c, 0, NULL);
        reg(ctx, hi, collect, &c, 0, NULL);
        cr_assert(eq(int, sigqueue(getpid(), lo, (union sigval){.sival_int = 1}), 0));
        cr_assert(eq(int, sigqueue(getpid(), hi, (union sigval){.sival_int = 2}), 0));
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));
        unreg(ctx, lo);
        unreg(ctx, hi);
        mc_ctx_free(ctx);
}

/* ---- the policy ---------------------------------------------------------------------------- */

/* A child that ignores SIGUSR1/SIGUSR2 and waits to be killed; optionally with another uid. */
static pid_t spawn_target(uid_t uid, int ready[2]) {
        pid_t pid = spawn();

        if (pid == 0) {
                alarm(30);
                signal(SIGUSR1, SIG_IGN);
                signal(SIGUSR2, SIG_IGN);
                if (uid != (uid_t) -1)
                        CHILD_CHECK(setresuid(uid, uid, uid) == 0);
                CHILD_CHECK(write_all(ready[1], "r", 1));
                for (;;)
                        pause();
        }
        ready_wait(ready[0]);
        return pid;
}

static void stop_target(pid_t pid) {
        kill(pid, SIGKILL);
        (void) reap(pid);
}

#define assert_denied(r, err, rule)                                                                \
        do {                                                                                       \
                cr_assert(eq(int, (r), -EPERM), "%s", (err).message);                              \
                cr_assert(eq(int, (err).kind, MC_ERR_POLICY_VIOLATION), "%s", (err).message);      \
                cr_assert(not(eq(ptr, strstr((err).message, rule), NULL)),                         \
                          "the message names the rule " rule ": %s", (err).message);               \
        } while (0)

/* Every record of @r with outcome "denied" has a PolicyViolation error; their number. */
static size_t count_denied(const records *r) {
        size_t n = 0;

        for (size_t i = 0; i < r->n; i++) {
                if (strcmp(jstr(r->v[i], "outcome"), "denied") != 0)
                        continue;
                cr_assert(eq(str, (char *) jstr(r->v[i], "error.kind"), "PolicyViolation"));
                cr_assert(eq(i64, jint(r->v[i], "error.errno"), EPERM));
                n++;
        }
        return n;
}

Test(signal, policy_allowed_signals_denies_send_and_raise) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signals\": [\"SIGUSR1\", \"SIGTERM\", \"RTMIN+1\"]}");
        mc_signal_payload p = user_data(5);
        mc_error err = MC_ERROR_INIT;
        records r;
        json_t *rec;

        cr_assert(ctx_audit_to_file(ctx, "allowed-signals"));
        set_disposition(SIGUSR1, SIG_IGN);
        set_disposition(SIGUSR2, SIG_IGN);
        assert_denied(mc_signal_send(ctx, getpid(), SIGUSR2, NULL, &err), err, "allowed_signals");
        cr_assert(not(eq(ptr, strstr(err.message, "SIGUSR2"), NULL)), "%s", err.message);
        assert_denied(mc_signal_send(ctx, getpid(), SIGUSR2, &p, &err), err, "allowed_signals");
        assert_denied(mc_signal_raise(ctx, SIGUSR2, &err), err, "allowed_signals");
        assert_denied(mc_signal_send(ctx, getpid(), SIGRTMIN + 2, NULL, &err), err,
                      "allowed_signals");
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);

        records_load(&r, audit_path);
        cr_assert(eq(sz, count_denied(&r), 4), "every denial is audited as denied");
        rec = records_find(&r, "signal_raise", "denied", 0, NULL);
        cr_assert(not(eq(ptr, rec, NULL)));
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR2"));
        cr_assert(not(eq(ptr, strstr(jstr(rec, "error.message"), "allowed_signals"), NULL)));
        cr_assert(not(eq(ptr, records_find(&r, "signal_send", "ok", 0, NULL), NULL)));
        cr_assert(not(eq(ptr, records_find(&r, "signal_raise", "ok", 0, NULL), NULL)));
        records_done(&r);
        mc_ctx_free(ctx);
}

Test(signal, policy_targets_self_only, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signal_targets\": [\"self\"]}");
        mc_error err = MC_ERROR_INIT;
        int ready[2], pfd;
        pid_t kid;
        records r;

        require_pidfd();
        cr_assert(ctx_audit_to_file(ctx, "targets-self"));
        pipe_new(ready);
        kid = spawn_target((uid_t) -1, ready);
        set_disposition(SIGUSR1, SIG_IGN);
        assert_denied(mc_signal_send(ctx, kid, SIGUSR1, NULL, &err), err, "allowed_signal_targets");
        pfd = pidfd_open(kid);
        cr_assert(ge(int, pfd, 0));
        assert_denied(mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), err,
                      "allowed_signal_targets");
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        close(pfd);
        pfd = pidfd_open(getpid());
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        close(pfd);
        stop_target(kid);
        records_load(&r, audit_path);
        cr_assert(eq(sz, count_denied(&r), 2));
        records_done(&r);
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

Test(signal, policy_targets_children, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signal_targets\": [\"children\"]}");
        mc_error err = MC_ERROR_INIT;
        int ready[2];
        pid_t kid, parent = getpid(), pid;

        pipe_new(ready);
        kid = spawn_target((uid_t) -1, ready);
        cr_assert(eq(int, mc_signal_send(ctx, kid, SIGUSR1, NULL, &err), 0), "%s", err.message);
        set_disposition(SIGUSR1, SIG_IGN);
        assert_denied(mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), err,
                      "allowed_signal_targets");
        /* From a child: its parent is not its child. */
        pid = spawn();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;

                CHILD_CHECK(mc_signal_send(ctx, parent, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_POLICY_VIOLATION);
                CHILD_CHECK(strstr(e.message, "allowed_signal_targets") != NULL);
                _exit(0);
        }
        assert_child_ok(pid);
        stop_target(kid);
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

Test(signal, policy_targets_same_uid, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signal_targets\": [\"same_uid\"]}");
        mc_error err = MC_ERROR_INIT;
        int ready[2];
        pid_t same, other;

        pipe_new(ready);
        same = spawn_target((uid_t) -1, ready);
        cr_assert(eq(int, mc_signal_send(ctx, same, SIGUSR1, NULL, &err), 0), "%s", err.message);
        stop_target(same);
        if (geteuid() != 0) {
                cr_log_warn("not root: the other-uid half of policy_targets_same_uid is skipped");
        } else {
                other = spawn_target(65534, ready);
                assert_denied(mc_signal_send(ctx, other, SIGUSR1, NULL, &err), err,
                              "allowed_signal_targets");
                stop_target(other);
        }
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

/*
 * A process of the same user that is neither the caller nor its child: a grandchild, through
 * a child that waits for it. Returns the child; *@ret_grandchild is the target.
 */
static pid_t spawn_grandchild(int ready[2], pid_t *ret_grandchild) {
        pid_t pid = spawn(), g;

        if (pid == 0) {
                alarm(30);
                g = fork();
                CHILD_CHECK(g >= 0);
                if (g == 0) {
                        alarm(30); /* alarms are not inherited */
                        signal(SIGUSR1, SIG_IGN);
                        g = getpid();
                        CHILD_CHECK(write_all(ready[1], &g, sizeof(g)));
                        for (;;)
                                pause();
                }
                (void) waitpid(g, NULL, 0);
                _exit(0);
        }
        for (size_t got = 0; got < sizeof(*ret_grandchild);) {
                struct pollfd p = {ready[0], POLLIN, 0};
                ssize_t n;

                cr_assert(eq(int, poll(&p, 1, 10000), 1), "no grandchild within 10 s");
                n = read(ready[0], (char *) ret_grandchild + got, sizeof(*ret_grandchild) - got);
                cr_assert(gt(sz, (size_t) n, 0), "the child died without a grandchild");
                got += (size_t) n;
        }
        return pid;
}

Test(signal, default_policy_refuses_other_processes_and_names_the_rule, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        int ready[2], r;
        pid_t kid, grandchild;

        pipe_new(ready);
        kid = spawn_grandchild(ready, &grandchild);
        /* Same user and process group, not a child: the narrowest rule is named. */
        assert_denied(mc_signal_send(ctx, grandchild, SIGUSR1, NULL, &err), err,
                      "add \"process_group\" to allowed_signal_targets");
        assert_denied(mc_signal_send(ctx, grandchild, 0, NULL, &err), err,
                      "add \"process_group\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_SELF | MC_TARGET_SAME_UID), 0));
        cr_assert(eq(int, mc_signal_send(ctx, grandchild, SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_ANY), 0));
        cr_assert(eq(int, mc_signal_send(ctx, grandchild, SIGUSR1, NULL, &err), 0), "%s",
                  err.message);
        /* "any" still does not reach init, and a pid of another user is refused by the rule,
         * not by the kernel (signal 0 delivers nothing either way). */
        assert_denied(mc_signal_send(ctx, 1, 0, NULL, &err), err,
                      "add \"init\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_INIT), 0));
        r = mc_signal_send(ctx, 1, 0, NULL, &err);
        cr_assert(r == 0 || (r == -EPERM && err.kind == MC_ERR_PERMISSION_DENIED),
                  "only the kernel may refuse it now: %s", err.message);
        /* The broadcast needs its own rule, whatever else is allowed. */
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_ANY | MC_TARGET_WHOLE_GROUP), 0));
        assert_denied(mc_signal_send(ctx, -1, 0, NULL, &err), err,
                      "add \"broadcast\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_BROADCAST), 0));
        cr_assert(eq(int, mc_signal_send(ctx, -1, 0, NULL, &err), 0), "%s", err.message);

        cr_assert(eq(int, kill(grandchild, SIGKILL), 0));
        cr_assert(eq(int, reap(kid), 0));
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

Test(signal, signal_zero_probes_where_sending_is_allowed, .timeout = 30) {
        mc_ctx *ctx = ctx_policy("{\"allowed_signals\": [], \"allowed_signal_targets\": "
                                 "[\"self\", \"children\"]}");
        mc_signal_payload p = user_data(1);
        mc_error err = MC_ERROR_INIT;
        int ready[2], pfd;
        pid_t kid, gone;

        require_pidfd();
        pipe_new(ready);
        kid = spawn_target((uid_t) -1, ready);
        /* No signal is allowed, yet the existence check is, for each way of sending. */
        assert_denied(mc_signal_send(ctx, kid, SIGUSR1, NULL, &err), err, "allowed_signals");
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), 0, NULL, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, kid, 0, NULL, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, kid, 0, &p, &err), 0), "%s", err.message);
        pfd = pidfd_open(kid);
        cr_assert(ge(int, pfd, 0));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, 0, NULL, &err), 0), "%s", err.message);
        stop_target(kid);
        /* A process that is gone is NotFound, as kill -0 says. */
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, 0, NULL, &err), -ESRCH), "%s",
                  err.message);
        close(pfd);
        gone = kid;
        cr_assert(eq(int, mc_signal_send(ctx, gone, 0, NULL, &err), -ESRCH), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        /* Raising signal 0 means nothing: still InvalidSignal. */
        cr_assert(eq(int, mc_signal_raise(ctx, 0, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

Test(signal, whole_group_of_a_child_needs_whole_group_and_children, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        int ready[2], st;
        pid_t kid;

        pipe_new(ready);
        kid = spawn();
        if (kid == 0) {
                alarm(30);
                CHILD_CHECK(setpgid(0, 0) == 0);
                CHILD_CHECK(write_all(ready[1], "r", 1));
                for (;;)
                        pause();
        }
        ready_wait(ready[0]);
        /* A child of ours that leads a group of its own: the group is judged by its leader. */
        assert_denied(mc_signal_send(ctx, -kid, SIGTERM, NULL, &err), err,
                      "add \"whole_group\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_WHOLE_GROUP | MC_TARGET_SELF), 0));
        assert_denied(mc_signal_send(ctx, -kid, SIGTERM, NULL, &err), err,
                      "add \"children\" to allowed_signal_targets");
        cr_assert(eq(int, ctx_set_targets(ctx, MC_TARGET_WHOLE_GROUP | MC_TARGET_CHILDREN), 0));
        cr_assert(eq(int, mc_signal_send(ctx, -kid, SIGTERM, NULL, &err), 0), "%s", err.message);
        st = reap(kid);
        cr_assert(killed_by(st, SIGTERM));
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

Test(signal, policy_allowed_syscalls_denies_register) {
        mc_ctx *ctx = ctx_policy("{\"allowed_syscalls\": [\"signal_send\", \"signal_wait\"]}");
        mc_error err = MC_ERROR_INIT;
        disposition before = disposition_of(SIGUSR1);
        mc_sigset set = sigset_of(SIGUSR1, 0), prev;
        records r;
        json_t *rec;

        cr_assert(ctx_audit_to_file(ctx, "allowed-syscalls"));
        assert_denied(mc_signal_register_handler(ctx, SIGUSR1, noop_handler, NULL, 0, NULL, &err),
                      err, "allowed_syscalls");
        assert_same_disposition(SIGUSR1, before);
        cr_assert(not(dispatcher_running()));
        assert_denied(mc_signal_mask(ctx, &set, &prev, &err), err, "allowed_syscalls");
        assert_denied(mc_signal_raise(ctx, SIGUSR1, &err), err, "allowed_syscalls");
        cr_assert(not(thread_blocks(SIGUSR1)));
        /* Releasing operations are always allowed. */
        prev.bits = current_mask();
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_signal_unregister_handler(ctx, SIGUSR1, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));

        records_load(&r, audit_path);
        cr_assert(eq(sz, count_denied(&r), 3));
        rec = records_find(&r, "signal_register", "denied", 0, NULL);
        cr_assert(not(eq(ptr, rec, NULL)));
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        records_done(&r);
        mc_ctx_free(ctx);
}

/* ---- chaining, stacking, unregistering ----------------------------------------------------- */

Test(signal, chain_continue_runs_the_earlier_handler_ignore_does_not, .timeout = 10) {
        mc_signal_previous prev = {.kind = MC_PREVIOUS_MEMCAP};
        mc_ctx *ctx = ctx_new();
        disposition before;
        collector c;
        int64_t end;

        install_plain(SIGUSR1, SA_RESTART);
        before = disposition_of(SIGUSR1);
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_FOREIGN));
        cr_assert(eq(ptr, (void *) prev.handler, NULL));

        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        end = mono_ms() + 5000;
        while (atomic_load(&plain_calls) == 0 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&plain_calls), 1), "Continue runs the earlier handler");
        cr_assert(eq(int, atomic_load(&plain_last_signo), SIGUSR1));
        cr_assert(ne(int, pthread_equal(plain_thread, c.thread[0]), 0),
                  "the earlier handler runs where memcap's ran, after it");
        cr_assert(eq(int, pthread_equal(c.thread[0], pthread_self()), 0),
                  "handlers run in memcap's thread");

        c.action = MC_SIGNAL_IGNORE;
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));
        sleep_us(100000);
        cr_assert(eq(int, atomic_load(&plain_calls), 1), "Ignore does not pass it on");

        unreg(ctx, SIGUSR1);
        assert_same_disposition(SIGUSR1, before);
        mc_ctx_free(ctx);
}

Test(signal, chain_passes_siginfo_to_an_sa_siginfo_handler, .timeout = 10) {
        int signo = SIGRTMIN + 6;
        mc_signal_previous prev;
        mc_ctx *ctx = ctx_new();
        disposition before;
        collector c;
        int64_t end;

        install_siginfo(signo);
        before = disposition_of(signo);
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, signo, collect, &c, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_FOREIGN));
        cr_assert(eq(int, sigqueue(getpid(), signo, (union sigval){.sival_int = 77}), 0));
        end = mono_ms() + 5000;
        while (atomic_load(&siginfo_calls) == 0 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&siginfo_calls), 1));
        cr_assert(eq(int, siginfo_last.si_signo, signo));
        cr_assert(eq(int, siginfo_last.si_code, SI_QUEUE));
        cr_assert(eq(int, siginfo_last.si_pid, getpid()));
        cr_assert(eq(int, siginfo_last.si_value.sival_int, 77));
        unreg(ctx, signo);
        assert_same_disposition(signo, before);
        mc_ctx_free(ctx);
}

Test(signal, previous_kinds_default_and_ignore) {
        mc_signal_previous prev;
        mc_ctx *ctx = ctx_new();
        disposition before;

        set_disposition(SIGUSR1, SIG_DFL);
        reg(ctx, SIGUSR1, noop_handler, NULL, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_DEFAULT));
        unreg(ctx, SIGUSR1);
        cr_assert(eq(ptr, disposition_of(SIGUSR1).fn, (void *) SIG_DFL));

        set_disposition(SIGUSR2, SIG_IGN);
        before = disposition_of(SIGUSR2);
        reg(ctx, SIGUSR2, noop_handler, NULL, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_IGNORE));
        unreg(ctx, SIGUSR2);
        assert_same_disposition(SIGUSR2, before);
        mc_ctx_free(ctx);
}

Test(signal, stacked_registrations, .timeout = 10) {
        mc_ctx *a = ctx_new(), *b = ctx_new();
        disposition before = disposition_of(SIGUSR2);
        mc_signal_previous prev;
        collector c1, c2, c3;
        mc_error err = MC_ERROR_INIT;

        collector_init(&c1, MC_SIGNAL_CONTINUE);
        collector_init(&c2, MC_SIGNAL_CONTINUE);
        collector_init(&c3, MC_SIGNAL_CONTINUE);
        reg(a, SIGUSR2, collect, &c1, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_DEFAULT));
        reg(b, SIGUSR2, collect, &c2, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_MEMCAP));
        cr_assert(eq(ptr, (void *) prev.handler, (void *) collect));
        cr_assert(eq(ptr, prev.userdata, &c1));

        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c2, 1, 5000), 1), "the newest registration is active");
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c1), 0));

        unreg(b, SIGUSR2);
        cr_assert(not(eq(ptr, disposition_of(SIGUSR2).fn, before.fn)), "still memcap's");
        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c1, 1, 5000), 1), "unregistering the top reactivates "
                                                           "the one below");
        cr_assert(eq(sz, collected(&c2), 1));
        cr_assert(eq(int, mc_signal_unregister_handler(b, SIGUSR2, &err), -ENOENT));

        /* One context twice: unregistering pops its newest. */
        reg(a, SIGUSR2, collect, &c3, 0, &prev);
        cr_assert(eq(int, prev.kind, MC_PREVIOUS_MEMCAP));
        cr_assert(eq(ptr, prev.userdata, &c1));
        unreg(a, SIGUSR2);
        cr_assert(eq(int, kill(getpid(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c1, 2, 5000), 2));
        cr_assert(eq(sz, collected(&c3), 0));

        /* A lower registration can go first; the top stays active. */
        reg(b, SIGUSR2, collect, &c2, 0, NULL);
        unreg(a, SIGUSR2);
        cr_assert(eq(int, kill(getpid(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c2, 2, 5000), 2));
        unreg(b, SIGUSR2);
        assert_same_disposition(SIGUSR2, before);
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c1), 2));
        mc_ctx_free(a);
        mc_ctx_free(b);
}

/* The block MC_SIGNAL_BLOCK made stays while a registration that asked for it remains. */
Test(signal, block_outlives_the_first_of_two_blocking_registrations) {
        mc_ctx *a = ctx_new(), *b = ctx_new();

        cr_assert(not(thread_blocks(SIGUSR1)));
        reg(a, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        reg(b, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        unreg(a, SIGUSR1);
        cr_assert(thread_blocks(SIGUSR1), "b still asked for the block");
        unreg(b, SIGUSR1);
        cr_assert(not(thread_blocks(SIGUSR1)), "the last one unblocks it");

        /* A registration without the flag does not keep it. */
        reg(a, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        reg(b, SIGUSR1, noop_handler, NULL, 0, NULL);
        unreg(a, SIGUSR1);
        cr_assert(not(thread_blocks(SIGUSR1)));
        unreg(b, SIGUSR1);
        mc_ctx_free(a);
        mc_ctx_free(b);
}

Test(signal, unregister_unknown_is_not_found) {
        mc_ctx *a = ctx_new(), *b = ctx_new();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_signal_unregister_handler(a, SIGUSR1, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        reg(b, SIGUSR1, noop_handler, NULL, 0, NULL);
        cr_assert(eq(int, mc_signal_unregister_handler(a, SIGUSR1, &err), -ENOENT),
                  "another context's registration is not ours");
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(mc__signal_registered(SIGUSR1));
        unreg(b, SIGUSR1);
        cr_assert(eq(int, mc_signal_unregister_handler(b, SIGUSR1, &err), -ENOENT), "only once");
        cr_assert(eq(int, mc_signal_unregister_handler(NULL, SIGUSR1, &err), -EINVAL));
        mc_ctx_free(a);
        mc_ctx_free(b);
}

typedef struct self_unreg {
        mc_ctx *ctx;
        int signo;
        atomic_int calls;
        atomic_int result;
} self_unreg;

static mc_signal_action unregister_myself(const mc_signal_info *info, void *userdata) {
        self_unreg *s = userdata;

        (void) info;
        atomic_store(&s->result, mc_signal_unregister_handler(s->ctx, s->signo, NULL));
        atomic_fetch_add(&s->calls, 1);
        return MC_SIGNAL_CONTINUE;
}

Test(signal, unregister_from_inside_the_handler, .timeout = 10) {
        self_unreg s = {.ctx = ctx_new(), .signo = SIGUSR1, .result = 1};
        disposition before;
        int64_t end;

        set_disposition(SIGUSR1, SIG_IGN);
        before = disposition_of(SIGUSR1);
        reg(s.ctx, SIGUSR1, unregister_myself, &s, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        end = mono_ms() + 5000;
        while (atomic_load(&s.calls) == 0 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&s.calls), 1));
        cr_assert(eq(int, atomic_load(&s.result), 0));
        assert_same_disposition(SIGUSR1, before);
        cr_assert(not(mc__signal_registered(SIGUSR1)));
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        sleep_us(100000);
        cr_assert(eq(int, atomic_load(&s.calls), 1), "not called after it unregistered");
        mc_ctx_free(s.ctx);
}

Test(signal, unregister_waits_for_the_running_handler, .timeout = 10) {
        mc_ctx *ctx = ctx_new();
        collector c;
        int64_t end, t0, ms;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        c.sleep_ms = 200;
        set_disposition(SIGUSR1, SIG_IGN);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        end = mono_ms() + 5000;
        while (atomic_load(&c.entered) == 0 && mono_ms() < end)
                sleep_us(200);
        cr_assert(eq(int, atomic_load(&c.entered), 1));
        t0 = mono_ms();
        unreg(ctx, SIGUSR1);
        ms = mono_ms() - t0;
        cr_assert(eq(int, atomic_load(&c.finished), 1), "unregister returned while it ran");
        cr_assert(ge(i64, ms, 150), "unregister returned after %" PRId64 " ms", ms);
        mc_ctx_free(ctx);
}

/*
 * Instances already handed to memcap's thread when the last handler goes are passed on to the
 * disposition restored, as if they arrived then: they are neither lost nor kept for a later
 * registration.
 */
Test(signal, unregister_passes_on_instances_in_flight, .timeout = 10) {
        int signo = SIGRTMIN + 4;
        mc_ctx *ctx = ctx_new();
        collector c;
        int64_t end;

        install_siginfo(signo);
        collector_init(&c, MC_SIGNAL_IGNORE);
        c.sleep_ms = 300;
        reg(ctx, signo, collect, &c, 0, NULL);
        cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, (union sigval){.sival_int = 1}),
                     0));
        end = mono_ms() + 5000;
        while (atomic_load(&c.entered) == 0 && mono_ms() < end)
                sleep_us(200);
        cr_assert(eq(int, atomic_load(&c.entered), 1));
        /* Forwarded by this thread while the handler is busy: queued for memcap's thread. */
        cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, (union sigval){.sival_int = 2}),
                     0));
        cr_assert(eq(int, pthread_sigqueue(pthread_self(), signo, (union sigval){.sival_int = 3}),
                     0));
        unreg(ctx, signo);
        end = mono_ms() + 5000;
        while (atomic_load(&siginfo_calls) < 2 && mono_ms() < end)
                sleep_us(1000);
        cr_assert(eq(int, atomic_load(&siginfo_calls), 2), "the restored handler got them");
        cr_assert(eq(int, siginfo_last.si_value.sival_int, 3));
        cr_assert(eq(sz, collected(&c), 1), "the unregistered handler did not");
        mc_ctx_free(ctx);
}

/* ---- guarded access in the same process ---------------------------------------------------- */

Test(signal, handler_coexists_with_guarded_read, .timeout = 10) {
        size_t pg = mc_page_size();
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        mc_mapping m;
        collector c;
        char *buf = calloc(1, pg), *fill = malloc(2 * pg);
        int fd;

        cr_assert(not(eq(ptr, buf, NULL)));
        cr_assert(not(eq(ptr, fill, NULL)));
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);

        snprintf(data_path, sizeof(data_path), "/tmp/memcap-test-signal-guard-%d", (int) getpid());
        fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        memset(fill, 'x', 2 * pg);
        cr_assert(eq(sz, (size_t) write(fd, fill, 2 * pg), 2 * pg));
        cr_assert(eq(int, mc_map_file(ctx, data_path, MC_PROT_READ, NULL, &m, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, ftruncate(fd, (off_t) pg), 0));

        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, pg, &err), 0), "%s", err.message);
        cr_assert(eq(int, buf[pg - 1], 'x'));
        cr_assert(eq(int, mc_map_read(ctx, &m, pg, buf, pg, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));

        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1), "the handler still works");
        cr_assert(eq(int, mc_map_read(ctx, &m, pg, buf, 1, &err), -EIO), "and so does the guard");
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));

        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0));
        close(fd);
        free(buf);
        free(fill);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

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

Test(signal, fork_from_a_handler_on_the_dispatcher_gets_the_application_mask, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        uint64_t app = app_blocks_sighup(), blk;
        forker f = {.argv = PROBE_SIGBLK};
        int p[2];

        cr_assert(ne(u64, app & bit(SIGHUP), 0));
        pipe_new(p);
        f.out_fd = p[1];
        reg(ctx, SIGUSR1, forking_handler, &f, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        blk = probe_sigblk(p[0], forker_wait(&f));
        cr_assert(eq(u64, blk, app), "SigBlk %016" PRIx64 ", the application's %016" PRIx64, blk,
                  app);
        unreg(ctx, SIGUSR1);
        close(p[0]);
        close(p[1]);
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
        uint64_t app = app_blocks_sighup(), blk;
        forker f = {.argv = PROBE_SIGBLK};
        mc_error err = MC_ERROR_INIT;
        struct pollfd pfd;
        int p[2], fd;

        pipe_new(p);
        f.out_fd = p[1];
        reg(ctx, SIGUSR1, forking_handler, &f, MC_SIGNAL_BLOCK, NULL);
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), 0), "%s", err.message);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        pfd = (struct pollfd){fd, POLLIN, 0};
        cr_assert(eq(int, poll(&pfd, 1, 10000), 1), "nothing to dispatch within 10 s");
        cr_assert(eq(int, mc_signal_dispatch(ctx, &err), 1), "%s", err.message);
        blk = probe_sigblk(p[0], forker_wait(&f));
        cr_assert(eq(u64, blk, app), "SigBlk %016" PRIx64 ", the application's %016" PRIx64, blk,
                  app);
        unreg(ctx, SIGUSR1);
        close(p[0]);
        close(p[1]);
        mc_ctx_free(ctx);
}

static void *forking_thread(void *arg) {
        forker *f = arg;

        atomic_store(&f->pid, (int) fork_probe(f->out_fd, f->argv));
        return NULL;
}

Test(signal, fork_from_an_ordinary_thread_gets_the_application_mask, .timeout = 30) {
        mc_ctx *ctx = ctx_new();
        uint64_t app = app_blocks_sighup(), blk;
        forker f = {.argv = PROBE_SIGBLK};
        pthread_t t;
        int p[2];

        pipe_new(p);
        f.out_fd = p[1];
        /* The thread inherits memcap's block of SIGUSR1 too; the child must not. */
        reg(ctx, SIGUSR1, noop_handler, NULL, MC_SIGNAL_BLOCK, NULL);
        cr_assert(eq(int, pthread_create(&t, NULL, forking_thread, &f), 0));
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        blk = probe_sigblk(p[0], forker_wait(&f));
        cr_assert(eq(u64, blk, app), "SigBlk %016" PRIx64 ", the application's %016" PRIx64, blk,
                  app);
        unreg(ctx, SIGUSR1);
        close(p[0]);
        close(p[1]);
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
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        reg(ctx, rt_queue, collect, &c, 0, NULL);
        reg(ctx, rt_thread, collect, &c, 0, NULL);
        reg(ctx, rt_mark, collect, &c, 0, NULL);
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

/* ---- raise and termination ------------------------------------------------------------------- */

Test(signal, raise_reaches_the_registered_handler, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        collector c;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        cr_assert(eq(int, c.info[0].signal, SIGUSR1));
        cr_assert(eq(int, c.info[0].source_pid, getpid()));
        cr_assert(eq(u32, c.info[0].source_uid, getuid()));
        unreg(ctx, SIGUSR1);

        reg(ctx, SIGUSR1, collect, &c, MC_SIGNAL_BLOCK, NULL);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2), "also with MC_SIGNAL_BLOCK");
        sleep_us(50000);
        cr_assert(eq(sz, collected(&c), 2));
        unreg(ctx, SIGUSR1);
        cr_assert(not(thread_blocks(SIGUSR1)));
        mc_ctx_free(ctx);
}

Test(signal, raise_with_block_in_a_single_thread_process, .timeout = 30) {
        pid_t pid = spawn();

        if (pid == 0) {
                mc_ctx *c = NULL;
                collector col;

                alarm(20);
                collector_init(&col, MC_SIGNAL_CONTINUE);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_signal_register_handler(c, SIGUSR1, collect, &col, MC_SIGNAL_BLOCK,
                                                       NULL, NULL) == 0);
                for (int i = 1; i <= 20; i++) {
                        CHILD_CHECK(mc_signal_raise(c, SIGUSR1, NULL) == 0);
                        CHILD_CHECK(collector_wait(&col, (size_t) i, 5000) == (size_t) i);
                }
                CHILD_CHECK(mc_signal_unregister_handler(c, SIGUSR1, NULL) == 0);
                CHILD_CHECK(!thread_blocks(SIGUSR1));
                _exit(0);
        }
        assert_child_ok(pid);
}

/* For raise_targets_...: what a plain SA_SIGINFO handler saw, and in which thread. */
static atomic_int raised_calls;
static int raised_code;
static pthread_t raised_thread;

static void raised_handler(int signo, siginfo_t *si, void *uc) {
        (void) signo;
        (void) uc;
        raised_code = si->si_code;
        raised_thread = pthread_self();
        atomic_fetch_add(&raised_calls, 1);
}

typedef struct raiser {
        mc_ctx *ctx;
        int signo;
        bool block;     /* block @signo in the raising thread first */
        int r;          /* what mc_signal_raise() returned */
        int calls_then; /* raised_calls when it returned */
        bool pending;   /* @signo pending in the raising thread afterwards */
        int calls_after_unblock;
        pthread_t self;
} raiser;

static void *raiser_main(void *arg) {
        raiser *a = arg;
        sigset_t one, pend;

        a->self = pthread_self();
        sigemptyset(&one);
        sigaddset(&one, a->signo);
        if (a->block)
                pthread_sigmask(SIG_BLOCK, &one, NULL);
        a->r = mc_signal_raise(a->ctx, a->signo, NULL);
        a->calls_then = atomic_load(&raised_calls);
        sigpending(&pend);
        a->pending = sigismember(&pend, a->signo) == 1;
        if (a->block) {
                pthread_sigmask(SIG_UNBLOCK, &one, NULL);
                a->calls_after_unblock = atomic_load(&raised_calls);
        }
        return NULL;
}

static void raise_from_thread(raiser *a) {
        pthread_t t;

        cr_assert(eq(int, pthread_create(&t, NULL, raiser_main, a), 0));
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        cr_assert(eq(int, a->r, 0));
}

Test(signal, raise_targets_the_process_with_a_memcap_handler_and_the_thread_without,
     .timeout = 20) {
        mc_ctx *ctx = ctx_new();
        struct sigaction sa;
        collector c;
        raiser a;

        /* A memcap handler: sent to the process, so a raising thread that blocks the signal
         * does not keep it (sent to that thread it would die with the thread, which ends
         * here); the handler runs in the dispatcher, with kill(2)'s si_code. */
        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        a = (raiser){.ctx = ctx, .signo = SIGUSR1, .block = true};
        raise_from_thread(&a);
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        cr_assert(eq(int, c.info[0].code, SI_USER));
        cr_assert(eq(int, c.info[0].source_pid, getpid()));
        cr_assert(eq(int, pthread_equal(c.thread[0], a.self), 0));
        unreg(ctx, SIGUSR1);

        /* No memcap handler: the calling thread, as raise(3). The handler has run in that
         * thread when the call returns. */
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = raised_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(SIGUSR2, &sa, NULL), 0));
        a = (raiser){.ctx = ctx, .signo = SIGUSR2};
        raise_from_thread(&a);
        cr_assert(eq(int, a.calls_then, 1), "the handler ran before the call returned");
        cr_assert(ne(int, pthread_equal(raised_thread, a.self), 0), "in the calling thread");
        cr_assert(eq(int, raised_code, SI_TKILL));
        /* Blocked in the calling thread: it waits there, not in another thread. */
        a = (raiser){.ctx = ctx, .signo = SIGUSR2, .block = true};
        raise_from_thread(&a);
        cr_assert(a.pending, "pending in the raising thread");
        cr_assert(eq(int, a.calls_then, 1), "no other thread took it");
        cr_assert(eq(int, a.calls_after_unblock, 2), "delivered there once it unblocked");
        cr_assert(ne(int, pthread_equal(raised_thread, a.self), 0));
        mc_ctx_free(ctx);
}

Test(signal, raise_calls_a_plain_handler_synchronously) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();

        install_plain(SIGUSR2, SA_RESTART);
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR2, &err), 0), "%s", err.message);
        cr_assert(eq(int, atomic_load(&plain_calls), 1), "ran before raise returned");
        cr_assert(ne(int, pthread_equal(plain_thread, pthread_self()), 0), "in the calling thread");
        cr_assert(eq(int, mc_signal_raise(ctx, 0, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_raise(ctx, 65, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        mc_ctx_free(ctx);
}

static mc_signal_action terminate_handler(const mc_signal_info *info, void *userdata) {
        (void) info;
        (void) userdata;
        return MC_SIGNAL_TERMINATE;
}

/* Terminate ends the process as the signal would, or with 128+signal when it would not. */
static void terminate_case(int signo, bool by_signal) {
        int ready[2], st;
        char d[96];
        pid_t pid;

        pipe_new(ready);
        pid = spawn();
        if (pid == 0) {
                mc_ctx *c = NULL;

                alarm(20);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_signal_register_handler(c, signo, terminate_handler, NULL, 0, NULL,
                                                       NULL) == 0);
                CHILD_CHECK(write_all(ready[1], "r", 1));
                for (;;)
                        pause();
        }
        ready_wait(ready[0]);
        cr_assert(eq(int, kill(pid, signo), 0));
        st = reap(pid);
        if (by_signal)
                cr_assert(killed_by(st, signo), "signal %d: child %s", signo,
                          describe(st, d, sizeof(d)));
        else
                cr_assert(exited_with(st, 128 + signo), "signal %d: child %s", signo,
                          describe(st, d, sizeof(d)));
        close(ready[0]);
        close(ready[1]);
}

Test(signal, terminate_ends_the_process_like_the_signal, .timeout = 60) {
        terminate_case(SIGINT, true);
        terminate_case(SIGHUP, true);
        terminate_case(SIGRTMIN + 1, true);
        terminate_case(SIGWINCH, false); /* default: ignore */
        terminate_case(SIGTSTP, false);  /* default: stop */
        terminate_case(SIGCHLD, false);
}

/* ---- send errors ----------------------------------------------------------------------------- */

/* A pid that belonged to a child that is gone now. */
static pid_t gone_pid(int *ret_pidfd) {
        pid_t pid;

        if (ret_pidfd)
                require_pidfd();
        pid = spawn();
        if (pid == 0)
                _exit(0);
        if (ret_pidfd) {
                *ret_pidfd = pidfd_open(pid);
                cr_assert(ge(int, *ret_pidfd, 0));
        }
        (void) reap(pid);
        return pid;
}

Test(signal, send_to_a_process_that_does_not_exist_is_not_found, .timeout = 10) {
        mc_signal_payload p = user_data(1);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        records r;
        json_t *rec;
        int pfd;
        pid_t pid = gone_pid(&pfd);

        cr_assert(ctx_audit_to_file(ctx, "gone"));
        cr_assert(eq(int, mc_signal_send(ctx, pid, SIGUSR1, NULL, &err), -ESRCH), "%s",
                  err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, pid, SIGUSR1, &p, &err), -ESRCH), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), -ESRCH), "%s",
                  err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        records_load(&r, audit_path);
        rec = records_find(&r, "signal_send", "error", 0, NULL);
        cr_assert(not(eq(ptr, rec, NULL)));
        cr_assert(eq(str, (char *) jstr(rec, "error.kind"), "NotFound"));
        cr_assert(eq(i64, jint(rec, "request.target_pid"), pid));
        cr_assert(eq(sz, count_denied(&r), 0), "not a policy matter");
        records_done(&r);
        close(pfd);
        mc_ctx_free(ctx);
}

/* The kernel refuses: another uid. */
Test(signal, send_without_permission_is_permission_denied, .timeout = 30) {
        int ready[2];
        pid_t target, pid;

        pipe_new(ready);
        if (geteuid() == 0) {
                /* Root's own child as the target, sent to by an unprivileged grandchild. */
                target = spawn_target((uid_t) -1, ready);
        } else {
                target = 1;
        }
        pid = spawn();
        if (pid == 0) {
                mc_ctx *c = NULL;
                mc_policy *p = NULL;
                mc_error e = MC_ERROR_INIT;

                if (geteuid() == 0)
                        CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
                CHILD_CHECK(getuid() != 0 && geteuid() != 0);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_policy_new(&p, NULL) == 0);
                /* A policy that refuses on its own: that is a PolicyViolation... */
                CHILD_CHECK(mc_policy_set_signal_targets(p, MC_TARGET_CHILDREN) == 0);
                CHILD_CHECK(mc_ctx_set_policy(c, p, NULL) == 0);
                CHILD_CHECK(mc_signal_send(c, target, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_POLICY_VIOLATION);
                /* ... and one that lets the kernel decide: PermissionDenied. */
                CHILD_CHECK(mc_policy_set_signal_targets(p, MC_TARGET_ANY) == 0);
                CHILD_CHECK(mc_ctx_set_policy(c, p, NULL) == 0);
                CHILD_CHECK(mc_signal_send(c, target, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_PERMISSION_DENIED);
                CHILD_CHECK(e.sys_errno == EPERM);
                mc_policy_free(p);
                mc_ctx_free(c);
                _exit(0);
        }
        assert_child_ok(pid);
        if (target != 1)
                stop_target(target);
        close(ready[0]);
        close(ready[1]);
}

Test(signal, send_argument_errors, .timeout = 30) {
        mc_signal_payload bad = {.kind = (mc_payload_kind) 7, .user_data = 1};
        mc_signal_payload p = user_data(3);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        int fd, ready[2];
        pid_t kid, pid;

        pipe_new(ready);
        kid = spawn_target((uid_t) -1, ready);
        cr_assert(eq(int, mc_signal_send(ctx, kid, SIGUSR1, &bad, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        cr_assert(eq(int, mc_signal_send(ctx, kid, 65, &p, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));
        cr_assert(eq(int, mc_signal_send(ctx, kid, -3, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_SIGNAL));

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, fd, SIGUSR1, NULL, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
        close(fd);
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, -1, SIGUSR1, NULL, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, 100000, SIGUSR1, NULL, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        stop_target(kid);

        /* Groups take no payload. In a process group of its own, in case it got through. */
        pid = spawn();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;
                mc_ctx *c = NULL;

                signal(SIGUSR1, SIG_IGN);
                CHILD_CHECK(setpgid(0, 0) == 0);
                CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
                CHILD_CHECK(mc_signal_send(c, 0, SIGUSR1, &p, &e) == -EINVAL);
                CHILD_CHECK(e.kind == MC_ERR_INVALID_ARGUMENT);
                CHILD_CHECK(mc_signal_send(c, -getpid(), SIGUSR1, &p, &e) == -EINVAL);
                CHILD_CHECK(e.kind == MC_ERR_INVALID_ARGUMENT);
                CHILD_CHECK(mc_signal_send(c, -1, SIGUSR1, &p, &e) == -EINVAL);
                CHILD_CHECK(e.kind == MC_ERR_INVALID_ARGUMENT);
                /* Without a payload its own group is a target, but only when the policy
                 * allows whole groups: the default does not. */
                CHILD_CHECK(mc_signal_send(c, 0, SIGUSR1, NULL, &e) == -EPERM);
                CHILD_CHECK(e.kind == MC_ERR_POLICY_VIOLATION);
                CHILD_CHECK(strstr(e.message, "add \"whole_group\" to allowed_signal_targets"));
                CHILD_CHECK(ctx_set_targets(c, MC_TARGET_SELF | MC_TARGET_WHOLE_GROUP) == 0);
                CHILD_CHECK(mc_signal_send(c, 0, SIGUSR1, NULL, &e) == 0);
                CHILD_CHECK(mc_signal_send(c, -getpid(), SIGUSR1, NULL, &e) == 0);
                mc_ctx_free(c);
                _exit(0);
        }
        assert_child_ok(pid);
        close(ready[0]);
        close(ready[1]);
        mc_ctx_free(ctx);
}

/* ---- forced system-call failures ------------------------------------------------------------- */

static int fail_errno = EPERM;

static int failing_kill(pid_t pid, int signo) {
        (void) pid;
        (void) signo;
        errno = fail_errno;
        return -1;
}

static int failing_sigqueue(pid_t pid, int signo, const union sigval v) {
        (void) pid;
        (void) signo;
        (void) v;
        errno = fail_errno;
        return -1;
}

static int failing_pidfd_send(int pidfd, int signo, siginfo_t *info, unsigned flags) {
        (void) pidfd;
        (void) signo;
        (void) info;
        (void) flags;
        errno = fail_errno;
        return -1;
}

static int failing_tgkill(pid_t tgid, pid_t tid, int signo) {
        (void) tgid;
        (void) tid;
        (void) signo;
        errno = fail_errno;
        return -1;
}

static int failing_sigmask(int how, const sigset_t *set, sigset_t *old) {
        (void) how;
        (void) set;
        (void) old;
        errno = fail_errno;
        return -1;
}

static int failing_sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *ts) {
        (void) set;
        (void) info;
        (void) ts;
        errno = fail_errno;
        return -1;
}

static atomic_int eintr_left;

/* Interrupted a few times, 20 ms into each wait; then the real call. */
static int interrupted_sigtimedwait(const sigset_t *set, siginfo_t *info,
                                    const struct timespec *ts) {
        if (atomic_fetch_sub(&eintr_left, 1) > 0) {
                sleep_us(20000);
                errno = EINTR;
                return -1;
        }
        return sigtimedwait(set, info, ts);
}

static int failing_signalfd(int fd, const sigset_t *mask, int flags) {
        (void) fd;
        (void) mask;
        (void) flags;
        errno = fail_errno;
        return -1;
}

static int failing_eventfd(unsigned initval, int flags) {
        (void) initval;
        (void) flags;
        errno = fail_errno;
        return -1;
}

static int failing_sigaction(int signo, const struct sigaction *act, struct sigaction *old) {
        (void) signo;
        (void) act;
        (void) old;
        errno = fail_errno;
        return -1;
}

Test(signal, inject_send_failures) {
        mc_signal_payload p = user_data(9);
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        records r;
        json_t *rec;

        cr_assert(ctx_audit_to_file(ctx, "inject-send"));
        set_disposition(SIGUSR1, SIG_IGN);
        mc_sys.kill = failing_kill;
        fail_errno = EPERM;
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, NULL, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, EPERM));

        mc_sys.sigqueue = failing_sigqueue;
        fail_errno = EAGAIN;
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, &p, &err), -EAGAIN));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(not(eq(ptr, strstr(err.message, "queue"), NULL)), "%s", err.message);

        mc_sys.tgkill = failing_tgkill;
        fail_errno = EINVAL;
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));

        records_load(&r, audit_path);
        cr_assert(eq(sz, r.n, 3));
        for (size_t i = 0; i < r.n; i++)
                cr_assert(eq(str, (char *) jstr(r.v[i], "outcome"), "error"),
                          "a failed system call is an error, not a denial");
        rec = records_find(&r, "signal_send", "error", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "error.kind"), "OutOfMemory"));
        cr_assert(eq(i64, jint(rec, "error.errno"), EAGAIN));
        records_done(&r);
        mc_ctx_free(ctx);
}

Test(signal, inject_pidfd_send_failure) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        int pfd;

        require_pidfd();
        set_disposition(SIGUSR1, SIG_IGN);
        mc_sys.pidfd_send_signal = failing_pidfd_send;
        fail_errno = ENOSYS;
        pfd = pidfd_open(getpid());
        cr_assert(ge(int, pfd, 0));
        cr_assert(eq(int, mc_signal_send_pidfd(ctx, pfd, SIGUSR1, NULL, &err), -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        close(pfd);
        mc_ctx_free(ctx);
}

Test(signal, inject_mask_failure_changes_nothing) {
        mc_sigset set = sigset_of(SIGUSR1, 0), prev = {7};
        mc_error err = MC_ERROR_INIT;
        mc_signal_info info;
        mc_ctx *ctx = ctx_new();
        uint64_t orig = current_mask();

        mc_sys.thread_sigmask = failing_sigmask;
        fail_errno = EINVAL;
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(u64, prev.bits, 7));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), -EINVAL));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, 0, &info, &err), -EINVAL));
        cr_assert(eq(u64, current_mask(), orig));
        mc__sys_reset();
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        cr_assert(eq(u64, current_mask(), orig));
        mc_ctx_free(ctx);
}

Test(signal, inject_sigtimedwait_interrupted_and_failing, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, 0);
        mc_error err = MC_ERROR_INIT;
        mc_signal_info info;
        mc_ctx *ctx = ctx_new();
        uint64_t orig = current_mask();
        int64_t ms;
        int r;

        mc_sys.sigtimedwait = interrupted_sigtimedwait;
        atomic_store(&eintr_left, 3);
        ms = timed_wait_ms(ctx, SIGUSR2, 200, &r, &err);
        cr_assert(eq(int, r, -ETIMEDOUT), "%s", err.message);
        cr_assert(ge(i64, ms, 200), "after %" PRId64 " ms", ms);
        cr_assert(lt(i64, ms, 300), "after %" PRId64 " ms", ms);
        cr_assert(le(int, atomic_load(&eintr_left), 0), "it was interrupted");

        mc_sys.sigtimedwait = failing_sigtimedwait;
        fail_errno = EFAULT;
        cr_assert(eq(int, mc_signal_wait(ctx, &set, MC_WAIT_FOREVER, &info, &err), -EFAULT));
        cr_assert(eq(int, err.sys_errno, EFAULT));
        cr_assert(eq(u64, current_mask(), orig), "the mask is restored after a failed wait");
        mc_ctx_free(ctx);
}

/* What a failed registration must not leave behind. */
typedef struct sig_state {
        int fds;
        bool dispatcher;
        uint64_t watched;
        disposition d;
        uint64_t mask;
} sig_state;

static sig_state sig_state_of(int signo) {
        sig_state s = {count_fds(), dispatcher_running(), signalfd_watched(), disposition_of(signo),
                       current_mask()};
        return s;
}

#define assert_same_state(signo, a)                                                                \
        do {                                                                                       \
                sig_state b_ = sig_state_of(signo);                                                \
                cr_assert(eq(int, b_.fds, (a).fds), "descriptors left behind");                    \
                cr_assert(eq(int, b_.dispatcher, (a).dispatcher), "dispatcher thread");            \
                cr_assert(eq(u64, b_.watched, (a).watched), "signals the signalfd watches");       \
                cr_assert(eq(u64, b_.mask, (a).mask), "the thread's mask");                        \
                assert_same_disposition(signo, (a).d);                                             \
                cr_assert(not(mc__signal_registered(signo)));                                      \
        } while (0)

Test(signal, inject_signalfd_failure_on_first_registration, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        sig_state before = sig_state_of(SIGUSR1);
        collector c;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        mc_sys.signalfd = failing_signalfd;
        fail_errno = EMFILE;
        cr_assert(eq(
                int,
                mc_signal_register_handler(ctx, SIGUSR1, collect, &c, MC_SIGNAL_BLOCK, NULL, &err),
                -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY), "%s", err.message);
        assert_same_state(SIGUSR1, before);
        mc__sys_reset();
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

Test(signal, inject_signalfd_failure_on_another_signal, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        sig_state before;
        collector c;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        before = sig_state_of(SIGUSR2);
        cr_assert(before.dispatcher);
        cr_assert(eq(u64, before.watched, bit(SIGUSR1)));
        mc_sys.signalfd = failing_signalfd;
        fail_errno = ENOMEM;
        cr_assert(eq(
                int,
                mc_signal_register_handler(ctx, SIGUSR2, collect, &c, MC_SIGNAL_BLOCK, NULL, &err),
                -ENOMEM));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        assert_same_state(SIGUSR2, before);
        mc__sys_reset();
        cr_assert(eq(int, kill(getpid(), SIGUSR1), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1), "the first registration still works");
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
}

Test(signal, inject_sigaction_failure, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        sig_state before;
        collector c;

        collector_init(&c, MC_SIGNAL_CONTINUE);
        reg(ctx, SIGUSR1, collect, &c, 0, NULL);
        before = sig_state_of(SIGUSR2);
        mc_sys.sigaction = failing_sigaction;
        fail_errno = EINVAL;
        cr_assert(eq(
                int,
                mc_signal_register_handler(ctx, SIGUSR2, collect, &c, MC_SIGNAL_BLOCK, NULL, &err),
                -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        assert_same_state(SIGUSR2, before);
        mc__sys_reset();
        reg(ctx, SIGUSR2, collect, &c, 0, NULL);
        cr_assert(eq(int, pthread_kill(pthread_self(), SIGUSR2), 0));
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        unreg(ctx, SIGUSR1);
        unreg(ctx, SIGUSR2);
        mc_ctx_free(ctx);
}

Test(signal, inject_eventfd_failures, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        sig_state before = sig_state_of(SIGUSR1);
        int fd = -1;

        mc_sys.eventfd = failing_eventfd;
        fail_errno = EMFILE;
        cr_assert(eq(int,
                     mc_signal_register_handler(ctx, SIGUSR1, noop_handler, NULL, 0, NULL, &err),
                     -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        assert_same_state(SIGUSR1, before);
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        cr_assert(eq(int, fd, -1), "ret_fd untouched on failure");
        cr_assert(eq(int, count_fds(), before.fds));
        mc__sys_reset();
        cr_assert(eq(int, mc_signal_fd(ctx, &fd, &err), 0), "%s", err.message);
        cr_assert(is_eventfd(fd));
        reg(ctx, SIGUSR1, noop_handler, NULL, 0, NULL);
        unreg(ctx, SIGUSR1);
        mc_ctx_free(ctx);
        cr_assert(not(is_eventfd(fd)), "mc_ctx_free closes the descriptor");
}

/* ---- audit records --------------------------------------------------------------------------- */

static void assert_record_head(json_t *rec, const char *op, const char *outcome) {
        const char *t;

        cr_assert(not(eq(ptr, rec, NULL)), "no %s record with outcome %s", op, outcome);
        cr_assert(eq(str, (char *) jstr(rec, "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(rec, "operation"), (char *) op));
        cr_assert(eq(str, (char *) jstr(rec, "outcome"), (char *) outcome));
        cr_assert(eq(i64, jint(rec, "pid"), getpid()));
        t = jstr(rec, "time");
        cr_assert(eq(sz, strlen(t), 27), "RFC 3339 with microseconds: %s", t);
        cr_assert(eq(chr, t[26], 'Z'));
}

Test(signal, audit_register_send_raise_deliver_unregister, .timeout = 10) {
        mc_signal_payload p = user_data(-5), q = real_time(UINT64_C(0xfedcba9876543210));
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = ctx_new();
        json_t *rec, *flags;
        collector c;
        records r;

        cr_assert(ctx_audit_to_file(ctx, "records"));
        collector_init(&c, MC_SIGNAL_IGNORE);
        reg(ctx, SIGUSR1, collect, &c, MC_SIGNAL_BLOCK, NULL);
        reg(ctx, SIGRTMIN + 1, collect, &c, 0, NULL);
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGUSR1, &p, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 1, 5000), 1));
        cr_assert(eq(int, mc_signal_send(ctx, getpid(), SIGRTMIN + 1, &q, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, collector_wait(&c, 2, 5000), 2));
        cr_assert(eq(int, mc_signal_raise(ctx, SIGUSR1, &err), 0), "%s", err.message);
        cr_assert(eq(sz, collector_wait(&c, 3, 5000), 3));
        records_wait_for(&r, "signal_deliver", 3);
        records_done(&r);
        unreg(ctx, SIGUSR1);
        unreg(ctx, SIGRTMIN + 1);
        records_load(&r, audit_path);

        rec = records_find(&r, "signal_register", "ok", 0, NULL);
        assert_record_head(rec, "signal_register", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        flags = jpath(rec, "request.signal_flags");
        cr_assert(is_array_of(flags, 1), "signal_flags");
        cr_assert(eq(str, (char *) json_string_value(json_array_get(flags, 0)), "BLOCK"));
        rec = records_find(&r, "signal_register", "ok", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGRTMIN+1"));
        cr_assert(eq(sz, json_array_size(jpath(rec, "request.signal_flags")), 0));

        rec = records_find(&r, "signal_send", "ok", 0, NULL);
        assert_record_head(rec, "signal_send", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.target_pid"), getpid()));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "UserData"));
        cr_assert(eq(i64, jint(rec, "request.payload.value"), -5));
        rec = records_find(&r, "signal_send", "ok", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "RealTime"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.value"), "18364758544493064720"),
                  "a value above INT64_MAX is written as a decimal string");

        rec = records_find(&r, "signal_raise", "ok", 0, NULL);
        assert_record_head(rec, "signal_raise", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.target_pid"), getpid()));

        rec = records_find(&r, "signal_deliver", "ok", 0, NULL);
        assert_record_head(rec, "signal_deliver", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.source_pid"), getpid()));
        cr_assert(eq(i64, jint(rec, "request.source_uid"), getuid()));
        cr_assert(eq(i64, jint(rec, "request.code"), SI_QUEUE));
        cr_assert(eq(str, (char *) jstr(rec, "request.action"), "Ignore"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "UserData"));
        cr_assert(eq(i64, jint(rec, "request.payload.value"), -5));
        rec = records_find(&r, "signal_deliver", "ok", 1, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGRTMIN+1"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.kind"), "RealTime"));
        cr_assert(eq(str, (char *) jstr(rec, "request.payload.value"), "18364758544493064720"));
        rec = records_find(&r, "signal_deliver", "ok", 2, NULL);
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(rec, "request.code"), SI_USER), "raise with a handler: kill(2)");
        cr_assert(eq(ptr, jpath(rec, "request.payload"), NULL), "no payload, no field");

        rec = records_find(&r, "signal_unregister", "ok", 0, NULL);
        assert_record_head(rec, "signal_unregister", "ok");
        cr_assert(eq(str, (char *) jstr(rec, "request.signal"), "SIGUSR1"));
        records_done(&r);
        mc_ctx_free(ctx);
}

Test(signal, audit_wait_and_mask_records, .timeout = 10) {
        mc_sigset set = sigset_of(SIGUSR2, SIGRTMIN + 2), prev;
        mc_error err = MC_ERROR_INIT;
        mc_signal_info info;
        mc_ctx *ctx = ctx_new();
        json_t *rec, *sigs;
        records r;

        cr_assert(ctx_audit_to_file(ctx, "wait"));
        cr_assert(eq(int, mc_signal_mask(ctx, &set, &prev, &err), 0));
        cr_assert(eq(int,
                     pthread_sigqueue(pthread_self(), SIGRTMIN + 2,
                                      (union sigval){.sival_ptr = (void *) 99}),
                     0));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, INT64_C(1000000000), &info, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, info.signal, SIGRTMIN + 2));
        cr_assert(eq(int, info.payload.kind, MC_PAYLOAD_REAL_TIME));
        cr_assert(eq(u64, info.payload.real_time, 99));
        cr_assert(eq(int, mc_signal_wait(ctx, &set, INT64_C(20000000), &info, &err), -ETIMEDOUT));
        cr_assert(eq(int, mc_signal_unmask(ctx, &prev, &err), 0));
        records_load(&r, audit_path);

        rec = records_find(&r, "signal_mask", "ok", 0, NULL);
        assert_record_head(rec, "signal_mask", "ok");
        sigs = jpath(rec, "request.signals");
        cr_assert(is_array_of(sigs, 2));
        cr_assert(eq(str, (char *) json_string_value(json_array_get(sigs, 0)), "SIGUSR2"));
        cr_assert(eq(str, (char *) json_string_value(json_array_get(sigs, 1)), "SIGRTMIN+2"));

        rec = records_find(&r, "signal_wait", "ok", 0, NULL);
        assert_record_head(rec, "signal_wait", "ok");
        cr_assert(eq(i64, jint(rec, "request.timeout_ms"), 1000));
        cr_assert(eq(sz, json_array_size(jpath(rec, "request.signals")), 2));
        cr_assert(eq(str, (char *) jstr(rec, "result.signal"), "SIGRTMIN+2"));
        cr_assert(eq(i64, jint(rec, "result.source_pid"), getpid()));
        cr_assert(eq(i64, jint(rec, "result.source_uid"), getuid()));
        cr_assert(eq(i64, jint(rec, "result.code"), SI_QUEUE));
        cr_assert(eq(str, (char *) jstr(rec, "result.payload.kind"), "RealTime"));
        cr_assert(eq(i64, jint(rec, "result.payload.value"), 99));

        rec = records_find(&r, "signal_wait", "error", 0, NULL);
        assert_record_head(rec, "signal_wait", "error");
        cr_assert(eq(str, (char *) jstr(rec, "error.kind"), "TimedOut"));
        cr_assert(eq(i64, jint(rec, "error.errno"), ETIMEDOUT));
        cr_assert(eq(i64, jint(rec, "request.timeout_ms"), 20));
        cr_assert(eq(ptr, jpath(rec, "result"), NULL));

        rec = records_find(&r, "signal_unmask", "ok", 0, NULL);
        assert_record_head(rec, "signal_unmask", "ok");
        records_done(&r);
        mc_ctx_free(ctx);
}

/* ---- names, defaults, ranges --------------------------------------------------------------- */

Test(signal, default_actions) {
        static const struct {
                int signo;
                int action;
        } table[] = {
                {SIGHUP, MC_DEFAULT_TERMINATE},  {SIGINT, MC_DEFAULT_TERMINATE},
                {SIGQUIT, MC_DEFAULT_CORE},      {SIGILL, MC_DEFAULT_CORE},
                {SIGTRAP, MC_DEFAULT_CORE},      {SIGABRT, MC_DEFAULT_CORE},
                {SIGBUS, MC_DEFAULT_CORE},       {SIGFPE, MC_DEFAULT_CORE},
                {SIGKILL, MC_DEFAULT_TERMINATE}, {SIGUSR1, MC_DEFAULT_TERMINATE},
                {SIGSEGV, MC_DEFAULT_CORE},      {SIGUSR2, MC_DEFAULT_TERMINATE},
                {SIGPIPE, MC_DEFAULT_TERMINATE}, {SIGALRM, MC_DEFAULT_TERMINATE},
                {SIGTERM, MC_DEFAULT_TERMINATE}, {16, MC_DEFAULT_TERMINATE},
                {SIGCHLD, MC_DEFAULT_IGNORE},    {SIGCONT, MC_DEFAULT_CONTINUE},
                {SIGSTOP, MC_DEFAULT_STOP},      {SIGTSTP, MC_DEFAULT_STOP},
                {SIGTTIN, MC_DEFAULT_STOP},      {SIGTTOU, MC_DEFAULT_STOP},
                {SIGURG, MC_DEFAULT_IGNORE},     {SIGXCPU, MC_DEFAULT_CORE},
                {SIGXFSZ, MC_DEFAULT_CORE},      {SIGVTALRM, MC_DEFAULT_TERMINATE},
                {SIGPROF, MC_DEFAULT_TERMINATE}, {SIGWINCH, MC_DEFAULT_IGNORE},
                {SIGIO, MC_DEFAULT_TERMINATE},   {SIGPWR, MC_DEFAULT_TERMINATE},
                {SIGSYS, MC_DEFAULT_CORE},
        };

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
                cr_assert(eq(int, mc_signal_default_action(table[i].signo), table[i].action),
                          "signal %d", table[i].signo);
        for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
                cr_assert(eq(int, mc_signal_default_action(s), MC_DEFAULT_TERMINATE), "signal %d",
                          s);
        cr_assert(eq(int, mc_signal_default_action(0), -EINVAL));
        cr_assert(eq(int, mc_signal_default_action(-1), -EINVAL));
        cr_assert(eq(int, mc_signal_default_action(SIGRTMAX + 1), -EINVAL));
        cr_assert(eq(int, mc_signal_default_action(INT32_MIN), -EINVAL));
}

Test(signal, realtime_range) {
        char name[16];

        cr_assert(eq(int, mc_signal_rt_min(), SIGRTMIN));
        cr_assert(eq(int, mc_signal_rt_max(), SIGRTMAX));
        cr_assert(gt(int, mc_signal_rt_min(), 31), "above the standard signals");
        cr_assert(lt(int, mc_signal_rt_min(), mc_signal_rt_max()));
        cr_assert(le(int, mc_signal_rt_max(), 64), "fits mc_sigset");
        cr_assert(ge(int, mc_signal_rt_max() - mc_signal_rt_min(), 8), "POSIX: at least 8");
        cr_assert(eq(str, (char *) mc_signal_name(mc_signal_rt_min() + 3, name, sizeof(name)),
                     "SIGRTMIN+3"));
}
