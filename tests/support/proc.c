/* SPDX-License-Identifier: MIT */
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "core.h"
#include "mctest.h"

int count_fds(void) {
        int n = mct_count_fds(0, /* skip_proc= */ true);

        cr_assert(ge(int, n, 0), "/proc/self/fd: %s", strerror(-n));
        return n;
}

int child_status(pid_t pid) {
        int status;

        cr_assert(gt(int, pid, 0), "fork: %s", strerror(errno));
        status = mct_wait_pid(pid, 60000);
        if (status == -1) {
                kill(pid, SIGKILL);
                (void) mct_wait_pid(pid, 10000);
        }
        cr_assert(not(eq(int, status, -1)), "child %d did not exit within 60 s", (int) pid);
        cr_assert(eq(int, WIFSIGNALED(status) ? WTERMSIG(status) : 0, 0),
                  "the child died of a signal");
        cr_assert(eq(int, WIFEXITED(status) ? 1 : 0, 1));
        return WEXITSTATUS(status);
}
