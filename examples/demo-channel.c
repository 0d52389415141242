/* SPDX-License-Identifier: MIT */
/*
 * memcap-demo-channel: the third part of `make demo`. Starts memcapd, creates a channel through
 * it (ChannelCreate), and lets two processes open its ends (ChannelOpen, the region's descriptor
 * over SCM_RIGHTS) and talk through shared memory. Run as root, the two are of different uids
 * (65534 and 65533) and share no path; otherwise both run as the caller. Each child reports
 * through a pipe and the parent prints the reports in a fixed order, so the output does not
 * depend on scheduling.
 *
 * Usage: memcap-demo-channel PATH-TO-MEMCAPD
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <memcap/memcap.h>

#include "demo-util.h"

#define MESSAGES 3
#define WAIT_NS  ((int64_t) 5 * 1000 * 1000 * 1000)

static char dir[] = "/tmp/memcap-demo-channel-XXXXXX";
static char sock_path[128], root_dir[128], audit[128], config[128];

/* Send @request, read the reply line into @reply and the descriptor that came with it. */
static int call(int fd, const char *request, char *reply, size_t size) {
        char cbuf[CMSG_SPACE(sizeof(int))];
        size_t n = 0;
        int got = -1;

        if (write(fd, request, strlen(request)) < 0 || write(fd, "\n", 1) < 0)
                return -1;
        while (n + 1 < size) {
                struct iovec iov = {reply + n, 1};
                struct msghdr m = {.msg_iov = &iov,
                                   .msg_iovlen = 1,
                                   .msg_control = cbuf,
                                   .msg_controllen = sizeof(cbuf)};
                struct cmsghdr *cm;

                if (recvmsg(fd, &m, MSG_CMSG_CLOEXEC) <= 0)
                        break;
                cm = CMSG_FIRSTHDR(&m);
                if (cm && cm->cmsg_type == SCM_RIGHTS)
                        memcpy(&got, CMSG_DATA(cm), sizeof(int));
                if (reply[n] == '\n')
                        break;
                n++;
        }
        reply[n] = 0;
        return got;
}

/* Connect, ChannelOpen @role, open the end: 0, or -1 with a report written. */
static int open_end(mc_ctx *ctx, mc_channel_role role, mc_channel *ch, FILE *out) {
        mc_channel_fds fds = MC_CHANNEL_FDS_INIT;
        mc_error e = MC_ERROR_INIT;
        char req[128], reply[512];
        int s = demo_connect(sock_path), r;

        snprintf(req, sizeof(req), "{\"ChannelOpen\": {\"name\": \"demo\", \"role\": \"%s\"}}",
                 mc_channel_role_name(role));
        fds.region = s < 0 ? -1 : call(s, req, reply, sizeof(reply));
        fprintf(out, "  -> %s\n  <- %s%s\n", req, s < 0 ? "(no daemon)" : reply,
                fds.region >= 0 ? "  + 1 descriptor (SCM_RIGHTS)" : "");
        if (s >= 0)
                close(s);
        if (fds.region < 0)
                return -1;
        r = mc_channel_open_fd(ctx, &fds, role, ch, &e);
        close(fds.region);
        if (r < 0)
                fprintf(out, "  mc_channel_open_fd: %s\n", e.message);
        return r < 0 ? -1 : 0;
}

/* Open the end of @role in a context of its own and let @talk use it: 0, or 1 with a report. */
static int run_end(mc_channel_role role, int (*talk)(mc_channel *ch, FILE *out), FILE *out) {
        mc_error e = MC_ERROR_INIT;
        mc_channel ch = {0};
        mc_ctx *ctx = NULL;
        int r = -1;

        if (mc_ctx_new(&ctx, &e) == 0 && open_end(ctx, role, &ch, out) == 0) {
                r = talk(&ch, out);
                mc_channel_close(&ch, NULL);
        }
        mc_ctx_free(ctx);
        return r < 0 ? 1 : 0;
}

static int send_all(mc_channel *ch, FILE *out) {
        static const char *const msgs[MESSAGES] = {"hello", "from another uid",
                                                   "through shared memory"};
        mc_error e = MC_ERROR_INIT;

        for (int i = 0; i < MESSAGES; i++) {
                if (mc_channel_send(ch, msgs[i], strlen(msgs[i]), WAIT_NS, &e) < 0) {
                        fprintf(out, "  send: %s\n", e.message);
                        return -1;
                }
                fprintf(out, "  sent \"%s\"\n", msgs[i]);
        }
        return 0;
}

static int recv_all(mc_channel *ch, FILE *out) {
        mc_error e = MC_ERROR_INIT;
        char buf[64];

        for (int i = 0; i < MESSAGES; i++) {
                int r = mc_channel_recv(ch, buf, sizeof(buf), WAIT_NS, &e);
                if (r < 0) {
                        fprintf(out, "  recv: %s\n", e.message);
                        return -1;
                }
                fprintf(out, "  received \"%.*s\"\n", r, buf);
        }
        return 0;
}

static int producer(FILE *out) {
        return run_end(MC_CHANNEL_PRODUCER, send_all, out);
}

static int consumer(FILE *out) {
        return run_end(MC_CHANNEL_CONSUMER, recv_all, out);
}

/* Fork a child that becomes @uid (when root) and runs @fn, reporting into a pipe. */
static pid_t spawn(uid_t uid, int (*fn)(FILE *out), int *ret_report) {
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                FILE *out = fdopen(p[1], "w");
                int r;

                close(p[0]);
                if (!out || (geteuid() == 0 &&
                             (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)))
                        _exit(1);
                r = fn(out);
                fclose(out);
                _exit(r);
        }
        close(p[1]);
        *ret_report = p[0];
        return pid;
}

/* Print what a child reported, once it is done. */
static int finish(const char *who, pid_t pid, int report) {
        char buf[4096];
        ssize_t n;
        int st;

        printf("%s:\n", who);
        while ((n = read(report, buf, sizeof(buf))) > 0)
                fwrite(buf, 1, (size_t) n, stdout);
        close(report);
        waitpid(pid, &st, 0);
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
        bool root = geteuid() == 0;
        uid_t pu = root ? 65534 : getuid(), cu = root ? 65533 : getuid();
        int fd = -1, region, rep_c, rep_p, bad = 0, st;
        mc_channel_counts counts;
        mc_channel obs = {0};
        mc_error e = MC_ERROR_INIT;
        mc_ctx *ctx = NULL;
        char reply[512];
        pid_t daemon, cons, prod;
        FILE *f;

        if (argc != 2) {
                fprintf(stderr, "usage: %s PATH-TO-MEMCAPD\n", argv[0]);
                return 2;
        }
        if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
                return perror("mkdtemp"), 1;
        snprintf(sock_path, sizeof(sock_path), "%s/memcapd.sock", dir);
        snprintf(root_dir, sizeof(root_dir), "%s/root", dir);
        snprintf(audit, sizeof(audit), "%s/audit.jsonl", dir);
        snprintf(config, sizeof(config), "%s/memcapd.json", dir);
        f = fopen(config, "we");
        if (mkdir(root_dir, 0755) < 0 || !f)
                return perror("set-up"), 1;
        /* Channel is granted by configuration only: to us and to the two uids of the ends. */
        fprintf(f,
                "{\"capabilities\": {\"%u\": [\"Channel\"], \"%u\": [\"Channel\"], "
                "\"%u\": [\"Channel\"]}}\n",
                (unsigned) getuid(), (unsigned) pu, (unsigned) cu);
        fclose(f);

        printf("\n== memcapd brokers a channel: two processes%s, one region, no shared path\n",
               root ? " of different uids" : "");
        fflush(stdout);
        daemon = fork();
        if (daemon == 0) {
                execl(argv[1], "memcapd", "--socket", sock_path, "--root", root_dir, "--audit",
                      audit, "--config", config, (char *) NULL);
                _exit(127);
        }
        fd = demo_wait_daemon("memcap-demo-channel", daemon, sock_path);
        if (fd < 0)
                return 1;
        /* We create it and keep this connection's process alive: the channel lives as long. */
        region = call(fd, "{\"ChannelCreate\": {\"name\": \"demo\", \"max_message\": 64}}", reply,
                      sizeof(reply));
        printf("creator (uid %u):\n  -> {\"ChannelCreate\": {\"name\": \"demo\", "
               "\"max_message\": 64}}\n  <- %s%s\n",
               (unsigned) getuid(), reply, region >= 0 ? "  + 1 descriptor (SCM_RIGHTS)" : "");
        if (region < 0)
                bad = 1;
        else
                close(region);

        cons = spawn(cu, consumer, &rep_c);
        prod = spawn(pu, producer, &rep_p);
        if (cons < 0 || prod < 0)
                return perror("fork"), 1;
        {
                char who[64];
                snprintf(who, sizeof(who), "producer (uid %u)", (unsigned) pu);
                bad |= finish(who, prod, rep_p);
                snprintf(who, sizeof(who), "consumer (uid %u)", (unsigned) cu);
                bad |= finish(who, cons, rep_c);
        }

        /* An observer reads the counters the ends keep in the region. */
        if (mc_ctx_new(&ctx, &e) == 0) {
                FILE *out = stdout;
                printf("observer (uid %u):\n", (unsigned) getuid());
                if (open_end(ctx, MC_CHANNEL_NONE, &obs, out) == 0 &&
                    mc_channel_stats(&obs, &counts, &e) == 0)
                        printf("  sent %llu, received %llu, %llu bytes of messages\n",
                               (unsigned long long) counts.sent,
                               (unsigned long long) counts.received,
                               (unsigned long long) counts.received_bytes);
                else
                        bad = 1;
                mc_channel_close(&obs, NULL);
                mc_ctx_free(ctx);
        }
        close(fd);

        kill(daemon, SIGTERM);
        waitpid(daemon, &st, 0);
        printf("\n== memcapd's audit records of the channel\n");
        demo_print_file(audit, "Channel");
        unlink(audit);
        unlink(config);
        rmdir(root_dir);
        rmdir(dir);
        return bad || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}
