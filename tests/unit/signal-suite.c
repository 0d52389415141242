/* SPDX-License-Identifier: MIT */
/* The signal suite's fixture (its TestSuite and .fini) and the helpers its files share. */

#include "signal-suite.h"

#include "audit.h"

/* ---- fixtures ------------------------------------------------------------------------------ */

char audit_path[128];
char data_path[128];
pid_t kids[16];
size_t n_kids;

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

int64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mono_ms(void) {
        return mono_ns() / 1000000;
}

void sleep_us(long us) {
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* In a child: print the failed check and exit with a status the parent reports. */

pid_t spawn(void) {
        pid_t pid;

        cr_assert(lt(sz, n_kids, sizeof(kids) / sizeof(kids[0])));
        pid = fork();
        cr_assert(ge(int, pid, 0), "fork: %s", strerror(errno));
        if (pid > 0)
                kids[n_kids++] = pid;
        return pid;
}

int reap(pid_t pid) {
        int st = 0;

        while (waitpid(pid, &st, 0) < 0) {
                cr_assert(eq(int, errno, EINTR), "waitpid %d: %s", (int) pid, strerror(errno));
        }
        for (size_t i = 0; i < n_kids; i++)
                if (kids[i] == pid)
                        kids[i] = 0;
        return st;
}

bool exited_with(int st, int code) {
        return WIFEXITED(st) && WEXITSTATUS(st) == code;
}

bool killed_by(int st, int signo) {
        return WIFSIGNALED(st) && WTERMSIG(st) == signo;
}

bool is_array_of(json_t *v, size_t n) {
        return v && json_is_array(v) && json_array_size(v) == n;
}

const char *describe(int st, char *buf, size_t size) {
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

void pipe_new(int p[2]) {
        cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0), "pipe2: %s", strerror(errno));
}

/* Write all of @buf, also from a child (no assertions). */
bool write_all(int fd, const void *buf, size_t len) {
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
bool read_within(int fd, void *buf, size_t len, int ms) {
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

void ready_wait(int fd) {
        char c;

        cr_assert(read_within(fd, &c, 1, 10000), "the child did not get ready within 10 s");
}

/* ---- helpers: contexts, audit records ----------------------------------------------------- */

mc_ctx *ctx_new(void) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = NULL;

        cr_assert(eq(int, mc_ctx_new(&ctx, &err), 0), "%s", err.message);
        return ctx;
}

/* A context under the policy @json (a JSON object in the policy file format). */
mc_ctx *ctx_policy(const char *json) {
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
int ctx_set_targets(mc_ctx *ctx, unsigned targets) {
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
bool ctx_audit_to_file(mc_ctx *ctx, const char *what) {
        mc_audit *a = NULL;

        if (!audit_path[0])
                snprintf(audit_path, sizeof(audit_path), "/tmp/memcap-test-signal-%s-%d.jsonl",
                         what, (int) getpid());
        if (mc_audit_open_file(audit_path, 0, &a, NULL) < 0)
                return false;
        mc_ctx_set_audit(ctx, a);
        return true;
}

void records_load(records *r, const char *path) {
        json_t *all;

        cr_assert(eq(int, access(path, F_OK), 0), "%s: %s", path, strerror(errno));
        all = audit_file_load(path, JSON_REJECT_DUPLICATES, /* with_bytes= */ false);

        r->n = json_array_size(all);
        r->v = calloc(r->n ? r->n : 1, sizeof(*r->v));
        cr_assert(not(eq(ptr, r->v, NULL)));
        for (size_t i = 0; i < r->n; i++)
                r->v[i] = json_incref(json_array_get(all, i));
        json_decref(all);
}

void records_done(records *r) {
        for (size_t i = 0; i < r->n; i++)
                json_decref(r->v[i]);
        free(r->v);
        r->v = NULL;
        r->n = 0;
}

/* A member by dotted path ("request.payload.kind"), or NULL. */
json_t *jpath(json_t *v, const char *path) {
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

const char *jstr(json_t *v, const char *path) {
        json_t *s = jpath(v, path);

        return s && json_is_string(s) ? json_string_value(s) : "(missing)";
}

json_int_t jint(json_t *v, const char *path) {
        json_t *i = jpath(v, path);

        cr_assert(not(eq(ptr, i, NULL)), "audit field %s is missing", path);
        cr_assert(eq(int, json_is_integer(i), 1), "audit field %s is not an integer", path);
        return json_integer_value(i);
}

/* The @nth (0-based) record of @op with @outcome; its index in *ret_index when found. */
json_t *records_find(const records *r, const char *op, const char *outcome, size_t nth,
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
void records_wait_for(records *r, const char *op, size_t count) {
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

bool thread_blocks(int signo) {
        sigset_t cur;

        cr_assert(eq(int, pthread_sigmask(SIG_SETMASK, NULL, &cur), 0));
        return sigismember(&cur, signo) == 1;
}

uint64_t mask_bits(const sigset_t *s) {
        uint64_t b = 0;

        for (int k = 1; k <= 64; k++)
                if (sigismember(s, k) == 1)
                        b |= UINT64_C(1) << (k - 1);
        return b;
}

uint64_t current_mask(void) {
        sigset_t cur;

        cr_assert(eq(int, pthread_sigmask(SIG_SETMASK, NULL, &cur), 0));
        return mask_bits(&cur);
}

/* The disposition of @signo, reduced to what a restore must reproduce. */

disposition disposition_of(int signo) {
        struct sigaction sa;
        disposition d;

        cr_assert(eq(int, sigaction(signo, NULL, &sa), 0));
        /* The C library adds SA_RESTORER to every sigaction() it makes: not the caller's. */
        d.flags = sa.sa_flags & ~SA_RESTORER_FLAG;
        d.fn = (sa.sa_flags & SA_SIGINFO) ? (void *) sa.sa_sigaction : (void *) sa.sa_handler;
        d.mask = mask_bits(&sa.sa_mask);
        return d;
}

/* Whether memcap's dispatcher thread exists in this process. */
bool dispatcher_running(void) {
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
bool is_eventfd(int fd) {
        char path[64], target[64] = "";

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return readlink(path, target, sizeof(target) - 1) > 0 &&
               strcmp(target, "anon_inode:[eventfd]") == 0;
}

/* The signals memcap's signalfd watches (its fdinfo "sigmask"), or 0 without one. */
uint64_t signalfd_watched(void) {
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

uint64_t bit(int signo) {
        return UINT64_C(1) << (signo - 1);
}

/* ---- helpers: handlers ---------------------------------------------------------------------- */

/* Records what a handler saw, for the main thread to wait on. */

void collector_init(collector *c, mc_signal_action action) {
        memset(c, 0, sizeof(*c));
        pthread_mutex_init(&c->lock, NULL);
        c->action = action;
}

mc_signal_action collect(const mc_signal_info *info, void *userdata) {
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

size_t collected(collector *c) {
        size_t n;

        pthread_mutex_lock(&c->lock);
        n = c->n;
        pthread_mutex_unlock(&c->lock);
        return n;
}

/* Wait until @c holds at least @n deliveries or @ms pass; the count. */
size_t collector_wait(collector *c, size_t n, int ms) {
        int64_t deadline = mono_ms() + ms;
        size_t k;

        while ((k = collected(c)) < n && mono_ms() < deadline)
                sleep_us(1000);
        return k;
}

/* A plain sigaction() handler that counts; installed by install_plain(). */
atomic_int plain_calls;
atomic_int plain_last_signo;
pthread_t plain_thread;

void plain_handler(int signo) {
        atomic_fetch_add(&plain_calls, 1);
        atomic_store(&plain_last_signo, signo);
        plain_thread = pthread_self();
}

atomic_int siginfo_calls;
siginfo_t siginfo_last;

void siginfo_handler(int signo, siginfo_t *si, void *uc) {
        (void) signo;
        (void) uc;
        siginfo_last = *si;
        atomic_fetch_add(&siginfo_calls, 1);
}

void install_plain(int signo, int flags) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = plain_handler;
        sa.sa_flags = flags;
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGWINCH); /* so a restore has a mask to get right */
        cr_assert(eq(int, sigaction(signo, &sa, NULL), 0));
}

void install_siginfo(int signo) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = siginfo_handler;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(signo, &sa, NULL), 0));
}

void set_disposition(int signo, void (*fn)(int)) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fn;
        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(signo, &sa, NULL), 0));
}

void reg(mc_ctx *ctx, int signo, mc_signal_handler fn, void *userdata, unsigned flags,
         mc_signal_previous *prev) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(
                eq(int, mc_signal_register_handler(ctx, signo, fn, userdata, flags, prev, &err), 0),
                "register %d: %s", signo, err.message);
}

void unreg(mc_ctx *ctx, int signo) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_signal_unregister_handler(ctx, signo, &err), 0), "unregister %d: %s",
                  signo, err.message);
}

mc_signal_payload user_data(int32_t v) {
        mc_signal_payload p = {.kind = MC_PAYLOAD_USER_DATA, .user_data = v};
        return p;
}

mc_signal_payload real_time(uint64_t v) {
        mc_signal_payload p = {.kind = MC_PAYLOAD_REAL_TIME, .real_time = v};
        return p;
}

mc_sigset sigset_of(int a, int b) {
        mc_sigset s = MC_SIGSET_EMPTY;

        mc_sigset_add(&s, a);
        if (b > 0)
                mc_sigset_add(&s, b);
        return s;
}

/* tgkill(2)'s si_code: SI_TKILL on most kernels, SI_USER on some (6.18 here). */
bool is_tkill_code(int code) {
        return code == SI_TKILL || code == SI_USER;
}

int sig_pidfd_open(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0);
}

/* sig_pidfd_open(2) is missing before Linux 5.3 and under valgrind 3.19: tests that need it skip.
 */
void require_pidfd(void) {
        int fd = sig_pidfd_open(getpid());

        if (fd < 0 && errno == ENOSYS)
                cr_skip_test("sig_pidfd_open(2) is not available here (Linux < 5.3, or valgrind)");
        cr_assert(ge(int, fd, 0), "pidfd_open: %s", strerror(errno));
        close(fd);
}

/* @c, set up to continue, collecting from @ctx every signal of @signals (a list ending in 0). */
void collect_each(mc_ctx *ctx, collector *c, const int *signals) {
        collector_init(c, MC_SIGNAL_CONTINUE);
        for (; *signals != 0; signals++)
                reg(ctx, *signals, collect, c, 0, NULL);
}

const mc_signal_info *find_signal(collector *c, int signo) {
        for (size_t i = 0; i < c->n && i < COLLECT_MAX; i++)
                if (c->info[i].signal == signo)
                        return &c->info[i];
        return NULL;
}

/*
 * A child that runs @setup(@arg), which _exit()s on failure, then waits to be signalled; after
 * @seconds SIGALRM ends it. @setup has run when this returns.
 */
static pid_t spawn_waiting(void (*setup)(const void *arg), const void *arg, unsigned seconds) {
        int ready[2];
        pid_t pid;

        pipe_new(ready);
        pid = spawn();
        if (pid == 0) {
                alarm(seconds);
                setup(arg);
                CHILD_CHECK(write_all(ready[1], "r", 1));
                for (;;)
                        pause();
        }
        ready_wait(ready[0]);
        close(ready[0]);
        close(ready[1]);
        return pid;
}

static void target_setup(const void *arg) {
        uid_t uid = *(const uid_t *) arg;

        signal(SIGUSR1, SIG_IGN);
        signal(SIGUSR2, SIG_IGN);
        if (uid != (uid_t) -1)
                CHILD_CHECK(setresuid(uid, uid, uid) == 0);
}

/*
 * A child that ignores SIGUSR1/SIGUSR2 and waits to be killed (stop_target()); as @uid unless
 * that is -1.
 */
pid_t spawn_target(uid_t uid) {
        return spawn_waiting(target_setup, &uid, 30);
}

typedef struct handling {
        int signo;
        mc_signal_handler fn;
        const char *audit;
} handling;

static void handling_setup(const void *arg) {
        const handling *h = arg;
        mc_ctx *c = NULL;

        CHILD_CHECK(mc_ctx_new(&c, NULL) == 0);
        if (h->audit)
                CHILD_CHECK(ctx_audit_to_file(c, h->audit));
        CHILD_CHECK(mc_signal_register_handler(c, h->signo, h->fn, c, 0, NULL, NULL) == 0);
}

/*
 * A child in which @fn handles @signo through memcap (its userdata: the child's context),
 * auditing to a file (ctx_audit_to_file(@audit)) unless @audit is NULL; it waits to be
 * signalled.
 */
pid_t spawn_handling(int signo, mc_signal_handler fn, const char *audit) {
        /* Its test reaps it without a deadline of its own: end it well within the test's. */
        return spawn_waiting(handling_setup, &(handling){signo, fn, audit}, 15);
}

void stop_target(pid_t pid) {
        kill(pid, SIGKILL);
        (void) reap(pid);
}

/* Every record of @r with outcome "denied" has a PolicyViolation error; their number. */
size_t count_denied(const records *r) {
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

mc_signal_action noop_handler(const mc_signal_info *info, void *userdata) {
        (void) info;
        (void) userdata;
        return MC_SIGNAL_CONTINUE;
}

int64_t timed_wait_ms(mc_ctx *ctx, int signo, int64_t timeout_ms, int *ret, mc_error *err) {
        mc_sigset set = sigset_of(signo, 0);
        mc_signal_info info;
        int64_t t0 = mono_ns();

        *ret = mc_signal_wait(ctx, &set, timeout_ms * 1000000, &info, err);
        return (mono_ns() - t0) / 1000000;
}
