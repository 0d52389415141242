/* SPDX-License-Identifier: MIT */
/*
 * What /proc says about a process: its state and its start time. The start time (clock ticks
 * since boot) tells one process from a later one that got the same pid, which is how shared
 * memory records its creator and how a channel recognises a peer that died.
 */

#include <fcntl.h>
#include <stdio.h>

#include "internal.h"

int mc__proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start) {
        char path[64], buf[1024], *p;
        unsigned long long t;
        char state;
        ssize_t n;
        int fd;

        if (pid < 0)
                return -EINVAL;
        if (pid == 0)
                snprintf(path, sizeof(path), "/proc/self/stat");
        else
                snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0) {
                int en = errno;
                close(fd);
                /* A process that exits while it is read: its file says ESRCH. */
                return -en;
        }
        close(fd);
        buf[n] = 0;
        /* The name before the fields may hold anything, also ')': skip to its last one. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1,
                         " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                         "%*d %*d %*d %*d %llu",
                         &state, &t) != 2)
                return -EIO;
        if (ret_state)
                *ret_state = state;
        if (ret_start)
                *ret_start = t;
        return 0;
}
