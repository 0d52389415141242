/* SPDX-License-Identifier: MIT */
#include "core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t mct_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mct_sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int mct_wait_pid(pid_t pid, int ms) {
        int64_t end = mct_now_ms() + ms;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                if (r == pid)
                        return status;
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 || mct_now_ms() > end)
                        return -1;
                mct_sleep_ms(5);
        }
}

int mct_unix_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;

                close(fd);
                return -e;
        }
        return fd;
}

char *mct_read_all(const char *path, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t len = 0, cap = 4096;
        char *s;
        ssize_t n;

        if (fd < 0)
                return NULL;
        s = malloc(cap);
        if (!s)
                goto fail;
        for (;;) {
                if (cap - len < 2) {
                        char *b = realloc(s, cap * 2);

                        if (!b)
                                goto fail;
                        s = b;
                        cap *= 2;
                }
                n = read(fd, s + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail;
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        s[len] = 0;
        if (ret_len)
                *ret_len = len;
        return s;
fail:
        n = errno;
        free(s);
        close(fd);
        errno = (int) n;
        return NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        (void) remove(path);
        return 0;
}

void mct_remove_tree(const char *dir) {
        if (dir && dir[0])
                (void) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int mct_count_fds(pid_t pid, bool skip_proc) {
        char dir[64];
        struct dirent *e;
        DIR *d;
        int n = 0;

        snprintf(dir, sizeof(dir), "/proc/%d/fd", pid > 0 ? (int) pid : (int) getpid());
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((e = readdir(d))) {
                char path[sizeof(dir) + 256 + 2], target[128] = "";

                if (e->d_name[0] == '.')
                        continue;
                if (skip_proc) {
                        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                        /* Gone already (closed after readdir() saw it), or under /proc. */
                        if (readlink(path, target, sizeof(target) - 1) <= 0 ||
                            strncmp(target, "/proc/", 6) == 0)
                                continue;
                }
                n++;
        }
        closedir(d);
        return n;
}

int mct_proc_status(pid_t pid, const char *field, int base, uint64_t *ret) {
        char path[64], *st, *p, *end;
        uint64_t v;
        int r = 0;

        snprintf(path, sizeof(path), "/proc/%d/status", pid > 0 ? (int) pid : (int) getpid());
        st = mct_read_all(path, NULL);
        if (!st)
                return -errno;
        p = strstr(st, field);
        if (!p || (p != st && p[-1] != '\n')) {
                r = -ENOENT;
                goto out;
        }
        errno = 0;
        v = strtoull(p + strlen(field), &end, base);
        if (errno != 0 || end == p + strlen(field)) {
                r = -EINVAL;
                goto out;
        }
        *ret = v;
out:
        free(st);
        return r;
}
