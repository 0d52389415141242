/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The memcapd of the channel suites (test-daemon-channel.c, test-cli-channel.c): started over a
 * fresh directory with a configuration and a policy file of the test's own (the daemon suite's
 * harness in memcapd.h starts it with one configuration and no policy file), waited for until
 * it accepts, stopped and removed with the support core's bounded waits. Include after
 * "mctest.h".
 */

#include "core.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
        pid_t pid;
        char dir[64], sock[128], root[128], log[128], config[160], policy[160], audit[128];
} D;

#define sleep_ms mct_sleep_ms
#define now_ms   mct_now_ms

_unused_ static void put_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        cr_assert(ge(int, fd, 0), "%s: %s", path, strerror(errno));
        cr_assert(eq(sz, (size_t) write(fd, text, strlen(text)), strlen(text)));
        close(fd);
}

_unused_ static void dump_log(void) {
        char *log = mct_read_all(D.log, NULL);

        fprintf(stderr, "---- memcapd log ----\n%s---- end ----\n", log ? log : "");
        free(log);
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
                int status;

                fd = mct_unix_connect(D.sock);
                if (fd >= 0)
                        break;
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

/* Stop the daemon (SIGTERM, 10 s at most; then SIGKILL) and remove its directory. */
_unused_ static void daemon_cleanup(void) {
        if (D.pid > 0) {
                kill(D.pid, SIGTERM);
                if (mct_wait_pid(D.pid, 10000) == -1) {
                        kill(D.pid, SIGKILL);
                        (void) mct_wait_pid(D.pid, 10000);
                }
                D.pid = 0;
        }
        if (D.dir[0])
                mct_remove_tree(D.dir);
        D.dir[0] = 0;
}
