/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_BENCH_UTIL_SCAN_H
#define MEMCAP_BENCH_UTIL_SCAN_H

/*
 * The raw side of a file scan, as a program without memcap does it, shared by the benchmarks
 * that scan a big file (bench-memory, bench-daemon). Header-only, like bench-util.h.
 */

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bench-util.h"

/*
 * Create the scan file @path (it must not exist) of @bytes, a multiple of 1 MiB, holding bytes
 * 0..250 only (so a scan for 0xff reads it all), and flush it to disk, so that no write-back runs
 * during the rounds. *@created (when not NULL) is set as soon as the file exists, for a signal
 * handler that removes it. Returns 0, or -errno after bench_fail().
 */
static inline int bench_scan_file_write(const char *path, uint64_t bytes,
                                        volatile sig_atomic_t *created) {
        const size_t chunk = 1024 * 1024;
        unsigned char *buf;
        int fd, r = 0;

        buf = malloc(chunk);
        if (!buf)
                return bench_fail(-ENOMEM, "out of memory");
        for (size_t i = 0; i < chunk; i++)
                buf[i] = (unsigned char) (i % 251);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = bench_fail_errno(errno, path);
                free(buf);
                return r;
        }
        if (created)
                *created = 1;
        for (uint64_t done = 0; done < bytes && r >= 0; done += chunk)
                r = bench_write_all(fd, buf, chunk);
        if (r < 0)
                r = bench_fail_errno(-r, "writing the scan file");
        else if (fdatasync(fd) < 0)
                r = bench_fail_errno(errno, "fdatasync of the scan file");
        close(fd);
        free(buf);
        return r;
}

/*
 * The share (0..100) of the @len bytes mapped at @p that is in the page cache, in *@ret_pct.
 * Returns 0 or -errno.
 */
static inline int bench_resident_pct(const void *p, size_t len, double *ret_pct) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), pages = (len + page - 1) / page, n = 0;
        unsigned char *vec;
        int r = 0;

        vec = malloc(pages ? pages : 1);
        if (!vec)
                return -ENOMEM;
        if (mincore((void *) p, len, vec) < 0)
                r = -errno;
        else {
                for (size_t i = 0; i < pages; i++)
                        n += vec[i] & 1;
                *ret_pct = pages ? 100.0 * (double) n / (double) pages : 100.0;
        }
        free(vec);
        return r;
}

/*
 * Map all of @path, shared and read-only, with its size from fstat(); @size: the size it must
 * still have, 0 for any. Returns 0 with the mapping in *@ret_p and *@ret_len (the caller
 * unmaps it), or -errno after bench_fail().
 */
static inline int bench_map_file(const char *path, uint64_t size, void **ret_p, size_t *ret_len) {
        struct stat st;
        void *p;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return bench_fail_errno(errno, path);
        if (fstat(fd, &st) < 0) {
                r = errno;
                close(fd);
                return bench_fail_errno(r, "fstat");
        }
        if (size && (uint64_t) st.st_size != size) {
                close(fd);
                return bench_fail(-EBADMSG, "%s changed size under the benchmark", path);
        }
        p = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        r = errno;
        close(fd);
        if (p == MAP_FAILED)
                return bench_fail_errno(r, "mmap of the scan file");
        *ret_p = p;
        *ret_len = (size_t) st.st_size;
        return 0;
}

/*
 * One scan of @path as a program without memcap does it: bench_map_file(), @check over the
 * whole mapping (the benchmark's memchr() for a byte the file does not hold), munmap. Returns 0,
 * or -errno after bench_fail().
 */
static inline int bench_scan_file(const char *path, uint64_t size,
                                  int (*check)(const void *p, size_t len)) {
        size_t len = 0; /* set with p on success; GCC cannot tell bench_fail*() is negative */
        void *p = NULL;
        int r;

        r = bench_map_file(path, size, &p, &len);
        if (r < 0)
                return r;
        r = check(p, len);
        munmap(p, len);
        return r;
}

#endif
