/* SPDX-License-Identifier: MIT */
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "mctest.h"

extern char **environ;

char tmpdir[256];

void remove_tree(const char *dir) {
        mct_remove_tree(dir);
}

void tmp_path(char *buf, size_t size, const char *name) {
        int n = snprintf(buf, size, "%s/%s", tmpdir, name);

        cr_assert(lt(sz, (size_t) n, size));
}

void write_file(const char *path, const void *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        cr_assert(ge(int, fd, 0), "%s: %s", path, strerror(errno));
        cr_assert(eq(sz, (size_t) write(fd, data, len), len));
        close(fd);
}

json_t *parse_json(const char *text) {
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);

        cr_assert(not(eq(ptr, j, NULL)), "not JSON (%s): %s", jerr.text, text);
        return j;
}

/* json_is_*() are macros, which Criterion's cr_assert() cannot take as its first token. */
bool is_type(json_type type, const json_t *v) {
        return v && json_typeof(v) == type;
}

/* Append @n bytes to a malloc'd buffer, which stays NUL-terminated. */
void append(char **buf, size_t *len, const char *data, size_t n) {
        char *nb = realloc(*buf, *len + n + 1);

        cr_assert(not(eq(ptr, nb, NULL)));
        memcpy(nb + *len, data, n);
        *len += n;
        nb[*len] = 0;
        *buf = nb;
}

/* A built binary, @rel to the build root; the result stays valid for one more call. */
const char *build_path(const char *rel) {
        static char path[2][PATH_MAX];
        static int which;
        const char *root = getenv("MEMCAP_BUILD_ROOT");
        char *p = path[which++ % 2];

        cr_assert(not(eq(ptr, (void *) root, NULL)),
                  "MEMCAP_BUILD_ROOT is not set (run the tests through meson test)");
        snprintf(p, PATH_MAX, "%s/%s", root, rel);
        cr_assert(eq(int, access(p, X_OK), 0), "%s: %s", p, strerror(errno));
        return p;
}

const char *memcap_path(void) {
        return build_path("src/cli/memcap");
}

void run_result_done(run_result *r) {
        free(r->out);
        free(r->err);
        *r = (run_result){};
}

/*
 * The environment for a child: ours, with each "NAME=value" of @set replacing NAME and each
 * bare "NAME" removing it. MEMCAPD_SOCKET is always removed unless @set has it, so a value in
 * the test's own environment cannot change what is tested.
 */
char **make_env(const char *const *set) {
        size_t n = 0, k = 0;
        char **env;

        while (environ[n])
                n++;
        for (const char *const *s = set; s && *s; s++)
                k++;
        env = calloc(n + k + 1, sizeof(char *));
        cr_assert(not(eq(ptr, env, NULL)));
        k = 0;
        for (size_t i = 0; i < n; i++) {
                size_t nl = strcspn(environ[i], "=");
                bool drop = strncmp(environ[i], "MEMCAPD_SOCKET=", 15) == 0;

                for (const char *const *s = set; s && *s; s++)
                        if (strncmp(*s, environ[i], nl) == 0 && ((*s)[nl] == '=' || !(*s)[nl]))
                                drop = true;
                if (!drop)
                        env[k++] = environ[i];
        }
        for (const char *const *s = set; s && *s; s++)
                if (strchr(*s, '='))
                        env[k++] = (char *) *s;
        env[k] = NULL;
        return env;
}

/* What posix_spawn() does with POSIX_SPAWN_SETSIGMASK and SETSIGDEF; async-signal-safe. */
void reset_signals(void) {
        struct sigaction sa = {.sa_handler = SIG_DFL};
        sigset_t none;

        /* SIGKILL, SIGSTOP and glibc's internal signals refuse; none of them can be ignored. */
        for (int sig = 1; sig < NSIG; sig++)
                sigaction(sig, &sa, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Whether uid nobody can run the memcap at @path (--version exits 0). */
static bool nobody_runs(const char *path) {
        int status;
        pid_t pid;

        pid = fork();
        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(126);
                if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
                        _exit(125);
                execl(path, "memcap", "--version", (char *) NULL);
                _exit(127);
        }
        cr_assert(eq(int, waitpid(pid, &status, 0), pid));
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void copy_file(const char *from, const char *to) {
        int in = open(from, O_RDONLY | O_CLOEXEC), out;
        char buf[65536];
        ssize_t n;

        cr_assert(ge(int, in, 0), "%s: %s", from, strerror(errno));
        out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
        cr_assert(ge(int, out, 0), "%s: %s", to, strerror(errno));
        while ((n = read(in, buf, sizeof(buf))) > 0)
                cr_assert(eq(sz, (size_t) write(out, buf, (size_t) n), (size_t) n));
        cr_assert(eq(int, (int) n, 0));
        close(in);
        close(out);
}

static char nobody_dir[64];

static void nobody_dir_remove(void) {
        if (nobody_dir[0])
                remove_tree(nobody_dir);
}

/*
 * The memcap that uid nobody runs: the built one, or when the build tree is out of nobody's
 * reach (a clone inside a private directory, mode 0700, as mkdtemp makes them) a copy of it and
 * of libmemcap in a fresh directory under /tmp, laid out as the binary's $ORIGIN/../lib runpath
 * expects and removed when the test's process exits. NULL when not even the copy runs (no user
 * nobody), and the tests that need it skip rather than fail for a reason that is not memcap's.
 * Paths are resolved before any fork: no assertion may run in a child, which is not the test's
 * process as Criterion knows it.
 */
const char *nobody_memcap(void) {
        static int known = -1;
        static char path[PATH_MAX];
        char sub[128];

        if (known >= 0)
                return known ? path : NULL;
        known = 0;
        cr_assert(lt(sz, strlen(memcap_path()), sizeof(path)));
        strcpy(path, memcap_path());
        if (nobody_runs(path)) {
                known = 1;
                return path;
        }
        snprintf(nobody_dir, sizeof(nobody_dir), "/tmp/memcap-test-nobody-%d", (int) getpid());
        remove_tree(nobody_dir);
        cr_assert(eq(int, mkdir(nobody_dir, 0755), 0), "%s: %s", nobody_dir, strerror(errno));
        cr_assert(eq(int, chmod(nobody_dir, 0755), 0));
        atexit(nobody_dir_remove);
        for (size_t i = 0; i < 2; i++) {
                snprintf(sub, sizeof(sub), "%s/%s", nobody_dir, i == 0 ? "cli" : "lib");
                cr_assert(eq(int, mkdir(sub, 0755), 0));
                cr_assert(eq(int, chmod(sub, 0755), 0));
        }
        snprintf(sub, sizeof(sub), "%s/lib/libmemcap.so.0", nobody_dir);
        copy_file(build_path("src/lib/libmemcap.so.0"), sub);
        snprintf(sub, sizeof(sub), "%s/cli/memcap", nobody_dir);
        copy_file(path, sub);
        strcpy(path, sub);
        if (nobody_runs(path))
                known = 1;
        return known ? path : NULL;
}

void spawn_child(child *c, const char *const *args, const char *const *env, int fd3,
                 spawn_flags flags) {
        int in[2] = {-1, -1}, out[2], err[2];
        const char *argv[64];
        char **envp;
        size_t n = 0;

        if (flags & SPAWN_NOBODY) {
                argv[n++] = nobody_memcap();
                if (!argv[0])
                        cr_skip_test("uid nobody cannot run memcap, not even a copy in /tmp");
        } else
                argv[n++] = memcap_path();
        for (; args[n - 1]; n++) {
                cr_assert(lt(sz, n, ELEMENTSOF(argv) - 1));
                argv[n] = args[n - 1];
        }
        argv[n] = NULL;
        /* dup2() onto itself would keep O_CLOEXEC: memcap would find 3 closed. */
        cr_assert(not(eq(int, fd3, 3)));

        if (flags & SPAWN_NO_STDIN) {
                in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
                cr_assert(ge(int, in[0], 0), "/dev/null: %s", strerror(errno));
        } else
                cr_assert(eq(int, pipe2(in, O_CLOEXEC), 0));
        if (flags & SPAWN_STDOUT_FULL) {
                out[0] = -1;
                out[1] = open("/dev/full", O_WRONLY | O_CLOEXEC);
                cr_assert(ge(int, out[1], 0), "/dev/full: %s", strerror(errno));
        } else
                cr_assert(eq(int, pipe2(out, O_CLOEXEC), 0));
        cr_assert(eq(int, pipe2(err, O_CLOEXEC), 0));
        envp = make_env(env);
        c->pid = fork();
        cr_assert(ge(int, c->pid, 0));
        if (c->pid == 0) {
                if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0 ||
                    (fd3 >= 0 && dup2(fd3, 3) < 0))
                        _exit(126);
                if (flags & SPAWN_DEFAULT_SIGNALS)
                        reset_signals();
                if ((flags & SPAWN_NOBODY) &&
                    (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0))
                        _exit(125);
                execve(argv[0], (char *const *) argv, envp);
                _exit(127);
        }
        free(envp);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        c->in = in[1];
        c->out = out[0];
        c->err = err[0];
}

/*
 * Feed @input (may be NULL) to the child's stdin, collect its stdout and stderr into @res until
 * both close, reap the child.
 */
void finish_child(child *c, const char *input, size_t input_len, run_result *res) {
        size_t written = 0;
        int status;

        *res = (run_result){.pid = c->pid};
        append(&res->out, &res->out_len, "", 0);
        append(&res->err, &res->err_len, "", 0);
        signal(SIGPIPE, SIG_IGN);
        if (!input || input_len == 0) {
                if (c->in >= 0)
                        close(c->in);
                c->in = -1;
        } else
                fcntl(c->in, F_SETFL, O_NONBLOCK);

        while (c->out >= 0 || c->err >= 0) {
                struct pollfd p[3] = {
                        {c->out, POLLIN, 0}, {c->err, POLLIN, 0}, {c->in, POLLOUT, 0}};
                char buf[65536];

                cr_assert(ge(int, poll(p, 3, 60000), 1), "memcap hangs");
                for (int i = 0; i < 2; i++) {
                        int *fd = i == 0 ? &c->out : &c->err;
                        ssize_t n;

                        if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        n = read(*fd, buf, sizeof(buf));
                        if (n <= 0) {
                                close(*fd);
                                *fd = -1;
                        } else if (i == 0)
                                append(&res->out, &res->out_len, buf, (size_t) n);
                        else
                                append(&res->err, &res->err_len, buf, (size_t) n);
                }
                if (c->in >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
                        ssize_t n = write(c->in, input + written, input_len - written);
                        if (n > 0)
                                written += (size_t) n;
                        if (n < 0 || written == input_len) {
                                close(c->in);
                                c->in = -1;
                        }
                }
        }
        if (c->in >= 0)
                close(c->in);
        cr_assert(eq(int, waitpid(c->pid, &status, 0), c->pid));
        res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* spawn_child() and finish_child() in one. */
void run_full(run_result *res, const char *input, size_t input_len, const char *const *env,
              spawn_flags flags, const char *const *args) {
        child c;

        *res = (run_result){};
        spawn_child(&c, args, env, /* fd3= */ -1, flags);
        finish_child(&c, input, input_len, res);
}
