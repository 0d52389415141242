/* SPDX-License-Identifier: MIT */
/*
 * The small files of /proc the library reads (a process's stat, a descriptor's fdinfo, the
 * huge page size in meminfo, the process's name), read whole through the system-call seam, so
 * tests can make each read fail, in one read(2): the kernel produces them in one go. And what a
 * process's stat says of it: its state and its start time (clock ticks since boot), which tells
 * one process from a later one that got the same pid -- how shared memory records its creator
 * and how a channel recognises a peer that died.
 */

#include <fcntl.h>
#include <stdio.h>

#include "internal.h"

ssize_t mc__proc_read(const char *path, char *buf, size_t size) {
        ssize_t n;
        int fd, e;

        if (size == 0)
                return -EINVAL;
        fd = mc_sys.open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        do
                n = mc_sys.read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        e = errno;
        (void) mc_sys.close(fd);
        if (n < 0)
                return -e;
        buf[n] = 0;
        return n;
}

int mc__proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start) {
        char path[64], buf[1024], *p;
        unsigned long long t;
        char state;
        ssize_t n;

        if (pid < 0)
                return -EINVAL;
        if (pid == 0)
                snprintf(path, sizeof(path), "/proc/self/stat");
        else
                snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        /* A process that exits while it is read: its file says ESRCH. */
        n = mc__proc_read(path, buf, sizeof(buf));
        if (n < 0)
                return (int) n;
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
