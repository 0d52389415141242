/* SPDX-License-Identifier: MIT */
/*
 * The test watchdog (tests/support/watchdog.c): a hanging test is a failure with a message, in
 * bounded time, and never a runner that waits forever.
 */

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "mctest.h"

/* Run the probe with its TAP report on a pipe; fail if it is not done within @bound_s. */
static void run_probe(int bound_s, char *out, size_t size, int *ret_status) {
        const char *root = getenv("MEMCAP_BUILD_ROOT");
        char probe[512];
        size_t n = 0;
        int p[2], status = 0;
        pid_t pid;
        struct timespec start, now;

        cr_assert(not(eq(ptr, (void *) root, NULL)),
                  "MEMCAP_BUILD_ROOT is not set (run via meson)");
        snprintf(probe, sizeof(probe), "%s/tests/integration/watchdog-probe", root);
        cr_assert(eq(int, pipe2(p, O_CLOEXEC), 0));
        pid = fork();
        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                /* The probe must start as a runner, not as one of this runner's workers. */
                unsetenv("BXFI_MAP");
                dup2(p[1], STDOUT_FILENO);
                execl(probe, probe, "--tap=-", "--jobs=2", (char *) NULL);
                _exit(127);
        }
        close(p[1]);
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct pollfd pfd = {.fd = p[0], .events = POLLIN};
                ssize_t k;

                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > bound_s) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        close(p[0]);
                        cr_fail("the probe's runner was still running after %d s: it hangs",
                                bound_s);
                }
                if (poll(&pfd, 1, 200) <= 0)
                        continue;
                k = read(p[0], out + n, size - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (n == size - 1)
                        break;
        }
        out[n] = 0;
        close(p[0]);
        cr_assert(eq(int, waitpid(pid, &status, 0), pid));
        *ret_status = status;
}

Test(watchdog, hangs_end_with_a_message_and_the_runner_finishes) {
        static char out[16384];
        int status;

        run_probe(60, out, sizeof(out), &status);
        bool exited = WIFEXITED(status);

        cr_assert(exited, "the probe's runner exits by itself: %s", out);
        cr_assert(ne(int, WEXITSTATUS(status), 0), "its hanging tests fail: %s", out);
        cr_assert(ne(ptr, strstr(out, "ok - probe::finishes_in_time"), NULL), "%s", out);
        cr_assert(ne(ptr, strstr(out, "not ok - probe::hangs_past_its_bound"), NULL), "%s", out);
        cr_assert(ne(ptr,
                     strstr(out, "probe::hangs_past_its_bound is still running after its bound "
                                 "of 0.3 s"),
                     NULL),
                  "%s", out);
        cr_assert(ne(ptr,
                     strstr(out, "probe::hangs_with_every_signal_blocked is still running after "
                                 "its bound of 0.3 s"),
                     NULL),
                  "%s", out);
        /* A bound that expired before the worker was up ends that test, never the runner. */
        cr_assert(ne(ptr, strstr(out, "probe::bound_shorter_than_startup"), NULL), "%s", out);
}
