/* SPDX-License-Identifier: MIT */
/*
 * What the demos share: reaching memcapd's socket once it has started, and printing a file (the
 * audit log). Header only, so each demo still builds from its own .c file (memcap-demo-daemon
 * links nothing but libc).
 */
#ifndef MEMCAP_DEMO_UTIL_H
#define MEMCAP_DEMO_UTIL_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A connection to the Unix socket at @path, or -1. */
static inline int demo_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -1;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        return fd;
}

/*
 * A connection to the memcapd @daemon just started on @path, tried for up to two seconds; -1
 * once that has passed, with the daemon killed and a message from @prog.
 */
static inline int demo_wait_daemon(const char *prog, pid_t daemon, const char *path) {
        int fd = -1;

        for (int i = 0; i < 200 && (fd = demo_connect(path)) < 0; i++)
                nanosleep(&(struct timespec){0, 10000000}, NULL);
        if (fd < 0) {
                fprintf(stderr, "%s: memcapd did not start\n", prog);
                kill(daemon, SIGKILL);
        }
        return fd;
}

/* Print the lines of the text file at @path that contain @only (all of them for NULL); nothing
 * when it cannot be opened. */
static inline void demo_print_file(const char *path, const char *only) {
        char line[4096];
        FILE *f = fopen(path, "re");

        while (f && fgets(line, sizeof(line), f))
                if (!only || strstr(line, only))
                        fputs(line, stdout);
        if (f)
                fclose(f);
}

#endif
