/* SPDX-License-Identifier: MIT */
/*
 * The small files of /proc the library reads (a process's stat, a descriptor's fdinfo, the
 * huge page size in meminfo, the process's name), read whole through the system-call seam, so
 * tests can make each read fail, in one read(2): the kernel produces them in one go.
 */

#include <fcntl.h>

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
