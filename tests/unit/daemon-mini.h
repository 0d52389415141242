/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A minimal memcapd for the channel suites (test-daemon-channel.c, test-cli-channel.c): start
 * it over a fresh directory with a configuration and a policy, wait until it accepts, stop it
 * and remove the directory. Include after "common.h". The integration tests' support library
 * replaces this at merge.
 */

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
        pid_t pid;
        char dir[64], sock[128], root[128], log[128], config[160], policy[160], audit[128];
} D;

_unused_ static void sleep_ms(int ms) {
        nanosleep(&(struct timespec){ms / 1000, (long) (ms % 1000) * 1000000L}, NULL);
}

_unused_ static int64_t now_ms(void) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

_unused_ static void put_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        cr_assert(ge(int, fd, 0), "%s: %s", path, strerror(errno));
        cr_assert(eq(sz, (size_t) write(fd, text, strlen(text)), strlen(text)));
        close(fd);
}

_unused_ static void dump_log(void) {
        char buf[8192];
        int fd = open(D.log, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

        buf[n > 0 ? n : 0] = 0;
        fprintf(stderr, "---- memcapd log ----\n%s---- end ----\n", buf);
        if (fd >= 0)
                close(fd);
}

/*
 * Start memcapd over a fresh directory with @config_fields (JSON members to add to the socket,
 * root and policy, e.g. "\"capabilities\": {...}") and @policy (the policy file's text).
 */
_unused_ static void daemon_start(const char *config_fields, const char *policy) {
        char config[2048];
        int64_t end;
        int fd = -1;

        memset(&D, 0, sizeof(D));
        snprintf(D.dir, sizeof(D.dir), "/tmp/memcapd-chan-%d-XXXXXX", (int) getpid());
        cr_assert(not(eq(ptr, mkdtemp(D.dir), NULL)));
        cr_assert(eq(int, chmod(D.dir, 0755), 0)); /* other uids reach the socket */
        snprintf(D.sock, sizeof(D.sock), "%s/sock", D.dir);
        snprintf(D.root, sizeof(D.root), "%s/root", D.dir);
        snprintf(D.log, sizeof(D.log), "%s/log", D.dir);
        snprintf(D.config, sizeof(D.config), "%s/config.json", D.dir);
        snprintf(D.policy, sizeof(D.policy), "%s/policy.json", D.dir);
        snprintf(D.audit, sizeof(D.audit), "%s/audit.jsonl", D.dir);
        cr_assert(eq(int, mkdir(D.root, 0755), 0));
        put_file(D.policy, policy ? policy : "{}");
        snprintf(config, sizeof(config), "{\"policy\": \"%s\", \"audit\": \"%s\"%s%s}", D.policy,
                 D.audit, config_fields ? ", " : "", config_fields ? config_fields : "");
        put_file(D.config, config);

        D.pid = fork();
        cr_assert(ge(int, D.pid, 0));
        if (D.pid == 0) {
                const char *b = getenv("MEMCAP_BUILD_ROOT");
                char bin[4096];
                int out = open(D.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                if (!b || out < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                        _exit(126);
                snprintf(bin, sizeof(bin), "%s/src/daemon/memcapd", b);
                execl(bin, "memcapd", "-s", D.sock, "-r", D.root, "-c", D.config, (char *) NULL);
                _exit(127);
        }
        end = now_ms() + 20000;
        while (now_ms() < end) {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};
                int status;

                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                strscpy(sa.sun_path, sizeof(sa.sun_path), D.sock);
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                        break;
                close(fd);
                fd = -1;
                if (waitpid(D.pid, &status, WNOHANG) == D.pid) {
                        D.pid = 0;
                        dump_log();
                        cr_fatal("memcapd exited at start (status 0x%x)", status);
                }
                sleep_ms(10);
        }
        if (fd < 0)
                dump_log();
        cr_assert(ge(int, fd, 0), "memcapd did not accept connections within 20 s");
        close(fd);
}

_unused_ static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        (void) remove(path);
        return 0;
}

/* Stop the daemon (SIGTERM, bounded; then SIGKILL) and remove its directory. */
_unused_ static void daemon_cleanup(void) {
        if (D.pid > 0) {
                int status;

                kill(D.pid, SIGTERM);
                for (int i = 0; i < 1000 && waitpid(D.pid, &status, WNOHANG) == 0; i++)
                        sleep_ms(10);
                kill(D.pid, SIGKILL);
                waitpid(D.pid, &status, WNOHANG);
                D.pid = 0;
        }
        if (D.dir[0])
                nftw(D.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
        D.dir[0] = 0;
}
