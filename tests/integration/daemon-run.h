/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Running the built memcapd for the suites that test it from the outside (test-client-lib.c,
 * test-daemon-service.c): a scratch directory with a root beneath it, the daemon started on a
 * socket there with the options a test gives, a bounded wait until it accepts, and a stop with
 * SIGTERM (SIGKILL after a bounded wait). Every wait has a limit and fails with a message. Include
 * after "common.h".
 */

#include "core.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct test_daemon {
        /* (named, so that pre_exec can take it) */
        char dir[128];  /* scratch directory */
        char sock[160]; /* <dir>/sock */
        char root[160]; /* <dir>/root */
        char log[160];  /* <dir>/memcapd.log: its stdout and stderr */
        pid_t pid;
        /* Run in the child before exec when set; it _exit()s on failure (no assertions there). */
        void (*pre_exec)(const struct test_daemon *d);
} test_daemon;

/* The support core's bounded clock and sleep (tests/support/core.h), under this file's names. */
#define td_now_ms   mct_now_ms
#define td_sleep_ms mct_sleep_ms

/* The built binary @rel under $MEMCAP_BUILD_ROOT, in @buf. */
static inline const char *td_build_path(char *buf, size_t size, const char *rel) {
        const char *root = getenv("MEMCAP_BUILD_ROOT");

        cr_assert(not(eq(ptr, (void *) root, NULL)), "MEMCAP_BUILD_ROOT is not set");
        cr_assert(lt(int, snprintf(buf, size, "%s/%s", root, rel), (int) size));
        return buf;
}

/* Make @d's scratch directory (named after @what and this process) with an empty root. */
static inline void td_setup(test_daemon *d, const char *what) {
        snprintf(d->dir, sizeof(d->dir), "/tmp/memcap-test-%s-%d", what, (int) getpid());
        cr_assert(eq(int, mkdir(d->dir, 0755), 0), "mkdir %s: %s", d->dir, strerror(errno));
        snprintf(d->sock, sizeof(d->sock), "%s/sock", d->dir);
        snprintf(d->root, sizeof(d->root), "%s/root", d->dir);
        snprintf(d->log, sizeof(d->log), "%s/memcapd.log", d->dir);
        cr_assert(eq(int, mkdir(d->root, 0755), 0));
}

/* The contents of @path, NUL-terminated and malloc'd ("" when it cannot be read). */
static inline char *td_slurp(const char *path) {
        char *buf = mct_read_all(path, NULL);

        if (!buf)
                buf = calloc(1, 1);
        cr_assert(not(eq(ptr, buf, NULL)));
        return buf;
}

static inline void td_dump_log(const test_daemon *d) {
        char *log = td_slurp(d->log);

        fprintf(stderr, "---- memcapd log (%s) ----\n%s---- end ----\n", d->log, log);
        free(log);
}

static inline bool td_can_connect(const char *path) {
        int fd = mct_unix_connect(path);

        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/*
 * Start memcapd with "--socket <sock> --root <root>" and @extra (NULL-terminated), its output
 * to the log; @env (NULL-terminated "NAME=value", may be NULL) is added to its environment.
 * Returns once its socket accepts (at most 20 s).
 */
static inline void td_start_env(test_daemon *d, const char *const *extra, const char *const *env) {
        char bin[PATH_MAX];
        const char *argv[32];
        size_t n = 0;
        int64_t end;

        td_build_path(bin, sizeof(bin), "src/daemon/memcapd");
        argv[n++] = bin;
        argv[n++] = "--socket";
        argv[n++] = d->sock;
        argv[n++] = "--root";
        argv[n++] = d->root;
        for (; extra && *extra; extra++) {
                cr_assert(lt(sz, n, ELEMENTSOF(argv) - 1));
                argv[n++] = *extra;
        }
        argv[n] = NULL;
        d->pid = fork();
        cr_assert(ge(int, d->pid, 0));
        if (d->pid == 0) {
                int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

                /* A test that crashes skips .fini: the daemon must not outlive it. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || fd < 0 || dup2(fd, 1) < 0 ||
                    dup2(fd, 2) < 0)
                        _exit(126);
                for (; env && *env; env++)
                        putenv((char *) *env);
                if (d->pre_exec)
                        d->pre_exec(d);
                execv(bin, (char *const *) argv);
                _exit(127);
        }
        end = td_now_ms() + 20000;
        while (!td_can_connect(d->sock)) {
                int status;

                if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
                        d->pid = 0;
                        td_dump_log(d);
                        cr_fatal("memcapd exited at start (status 0x%x)", status);
                }
                if (td_now_ms() > end) {
                        td_dump_log(d);
                        cr_fatal("memcapd did not accept on %s within 20 s", d->sock);
                }
                td_sleep_ms(10);
        }
}

static inline void td_start(test_daemon *d, const char *const *extra) {
        td_start_env(d, extra, NULL);
}

/* Wait up to @ms for @pid; its wait status, or -1 when it did not end in time. */
#define td_wait mct_wait_pid

/* SIGTERM the daemon (SIGKILL after 30 s) and return its wait status (-1: it had to be killed). */
static inline int td_stop(test_daemon *d) {
        int status;

        if (d->pid <= 0)
                return 0;
        kill(d->pid, SIGTERM);
        status = td_wait(d->pid, 30000);
        if (status == -1) {
                kill(d->pid, SIGKILL);
                waitpid(d->pid, NULL, 0);
        }
        d->pid = 0;
        return status;
}

/* td_stop(), which must end in exit status 0; the log is shown when it does not. */
static inline void td_assert_clean_stop(test_daemon *d) {
        int status = td_stop(d);

        if (status != 0)
                td_dump_log(d);
        cr_assert(eq(int, status, 0), "memcapd did not exit 0 on SIGTERM (wait status 0x%x)",
                  status);
}

/* Stop the daemon and remove the scratch directory. */
static inline void td_teardown(test_daemon *d) {
        char cmd[256];

        td_stop(d);
        if (d->dir[0]) {
                /* The directory holds only what the test and the daemon made there. */
                snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", d->dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n", d->dir);
        }
}

/* td_setup() and td_start() over a root holding data/f ("hello, world\n"). */
static inline void td_start_with_data(test_daemon *d, const char *what) {
        char path[300];
        int fd;

        td_setup(d, what);
        snprintf(path, sizeof(path), "%s/data", d->root);
        cr_assert(eq(int, mkdir(path, 0755), 0));
        snprintf(path, sizeof(path), "%s/data/f", d->root);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, (int) write(fd, "hello, world\n", 13), 13));
        close(fd);
        td_start(d, NULL);
}
