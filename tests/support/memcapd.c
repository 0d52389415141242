/* SPDX-License-Identifier: MIT */
#include "memcapd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "core.h"
#include "spawn.h"
#include "util/macro.h"

/* printf into one of a ring of static buffers: request lines and expected replies. */
char *S(const char *fmt, ...) {
        static char ring[8][16384];
        static unsigned next;
        char *b = ring[next++ % ELEMENTSOF(ring)];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(b, sizeof(ring[0]), fmt, ap);
        va_end(ap);
        cr_assert(lt(int, n, (int) sizeof(ring[0])), "S(): line too long");
        return b;
}

/* The byte at offset @i of the test pattern files. */
uint8_t pat(uint64_t i) {
        return (uint8_t) (i * 31 + 7);
}

/* "[b0,b1,...]" of @n bytes, into a heap string the caller frees. */
char *json_bytes(const uint8_t *b, size_t n) {
        char *s = malloc(n * 4 + 3), *p = s;

        cr_assert(not(eq(ptr, s, NULL)));
        *p++ = '[';
        for (size_t i = 0; i < n; i++)
                p += snprintf(p, 5, i ? ",%u" : "%u", b[i]); /* sized above: <= 4 bytes each */
        *p++ = ']';
        *p = 0;
        return s;
}

char *base64(const uint8_t *b, size_t n) {
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *s = malloc((n + 2) / 3 * 4 + 1), *p = s;
        size_t i;

        cr_assert(not(eq(ptr, s, NULL)));
        for (i = 0; i + 2 < n; i += 3) {
                uint32_t v = (uint32_t) b[i] << 16 | (uint32_t) b[i + 1] << 8 | b[i + 2];
                *p++ = tab[v >> 18];
                *p++ = tab[(v >> 12) & 63];
                *p++ = tab[(v >> 6) & 63];
                *p++ = tab[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t) b[i] << 16 | (i + 1 < n ? (uint32_t) b[i + 1] << 8 : 0);
                *p++ = tab[v >> 18];
                *p++ = tab[(v >> 12) & 63];
                *p++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                *p++ = '=';
        }
        *p = 0;
        return s;
}

bool contains(const char *s, const char *part) {
        return s && strstr(s, part) != NULL;
}

bool starts_with(const char *s, const char *prefix) {
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- the daemon under test ------------------------------------------------------------------- */

daemon_state D;

const char *memcapd_binary(void) {
        static char path[4096];
        const char *b = getenv("MEMCAP_BUILD_ROOT");

        cr_assert(not(eq(ptr, (void *) b, NULL)), "MEMCAP_BUILD_ROOT is not set (run via meson)");
        snprintf(path, sizeof(path), "%s/src/daemon/memcapd", b);
        return path;
}

char *root_path(const char *rel) {
        return S("%s%s", D.root, rel);
}

void root_write_file(const char *rel, const void *data, size_t n) {
        int fd = open(root_path(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        cr_assert(ge(int, fd, 0), "creating %s: %s", rel, strerror(errno));
        cr_assert(eq(sz, (size_t) write(fd, data, n), n));
        close(fd);
}

/* A file of @n pattern bytes. */
void pattern_file(const char *rel, size_t n) {
        uint8_t *b = malloc(n ? n : 1);

        cr_assert(not(eq(ptr, b, NULL)));
        for (size_t i = 0; i < n; i++)
                b[i] = pat(i);
        root_write_file(rel, b, n);
        free(b);
}

/* Read @n bytes at @off of a root file with pread(2). */
void root_read_file(const char *rel, off_t off, void *buf, size_t n) {
        int fd = open(root_path(rel), O_RDONLY | O_CLOEXEC);

        cr_assert(ge(int, fd, 0), "opening %s: %s", rel, strerror(errno));
        cr_assert(eq(sz, (size_t) pread(fd, buf, n, off), n));
        close(fd);
}

char *slurp(const char *path) {
        char *s = mct_read_all(path, NULL);

        if (!s && errno != ENOMEM)
                s = strdup("");
        cr_assert(not(eq(ptr, s, NULL)), "reading %s: %s", path, strerror(errno));
        return s;
}

void write_config(const char *json) {
        write_file(D.config, json, strlen(json));
}

/* A fresh directory with root/data/small (16 bytes) and root/data/big (3 pages of pattern). */
void setup_dir(void) {
        static unsigned seq;

        memset(&D, 0, sizeof(D));
        snprintf(D.dir, sizeof(D.dir), "/tmp/memcapd-test-%d-%u-XXXXXX", (int) getpid(), seq++);
        cr_assert(not(eq(ptr, mkdtemp(D.dir), NULL)), "mkdtemp: %s", strerror(errno));
        /* uid nobody must reach the socket. */
        cr_assert(eq(int, chmod(D.dir, 0755), 0));
        snprintf(D.sock, sizeof(D.sock), "%s/sock", D.dir);
        snprintf(D.root, sizeof(D.root), "%s/root", D.dir);
        snprintf(D.log, sizeof(D.log), "%s/daemon.log", D.dir);
        snprintf(D.audit, sizeof(D.audit), "%s/audit.jsonl", D.dir);
        snprintf(D.config, sizeof(D.config), "%s/config.json", D.dir);
        snprintf(D.policy, sizeof(D.policy), "%s/policy.json", D.dir);
        cr_assert(eq(int, mkdir(D.root, 0755), 0));
        cr_assert(eq(int, mkdir(root_path("/data"), 0755), 0));
        root_write_file("/data/small", "Hello, memcapd!\n", 16);
        pattern_file("/data/big", 3 * 4096);
}

/* spawn_memcapd(), with @env ("NAME=value", NULL-terminated; may be NULL) added. */
static pid_t spawn_env(char **argv, const char *out_path, void (*pre_exec)(void),
                       const char *const *env) {
        const char *bin = memcapd_binary();
        pid_t parent = getpid(), pid = fork();

        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                /* A test that crashes skips its .fini: the daemon must not outlive it. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || fd < 0 ||
                    dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(126);
                for (; env && *env; env++)
                        putenv((char *) *env);
                if (pre_exec)
                        pre_exec();
                argv[0] = (char *) bin;
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

pid_t spawn_memcapd(char **argv, const char *out_path, void (*pre_exec)(void)) {
        return spawn_env(argv, out_path, pre_exec, NULL);
}

int run_memcapd(char **argv, char **out) {
        char path[160];
        pid_t pid;
        int status;

        snprintf(path, sizeof(path), "%s/run.out", D.dir);
        unlink(path);
        pid = spawn_memcapd(argv, path, NULL);
        status = mct_wait_pid(pid, 30000);
        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                cr_fatal("memcapd %s did not end within 30 s", argv[1] ? argv[1] : "");
        }
        *out = slurp(path);
        cr_assert(eq(int, !!WIFEXITED(status), 1), "memcapd died of signal %d", WTERMSIG(status));
        return WEXITSTATUS(status);
}

void memcapd_dump_log(const char *path) {
        char *log = slurp(path);

        fprintf(stderr, "---- memcapd log (%s) ----\n%s---- end of log ----\n", path, log);
        free(log);
}

void daemon_dump_log(void) {
        memcapd_dump_log(D.log);
}

/* Wait up to @ms until @sock accepts; the test fails when memcapd @pid exits first. */
static pid_t wait_accepting(pid_t pid, const char *sock, const char *out_path, int ms) {
        int64_t end = mct_now_ms() + ms;
        int fd = -1, status;

        for (;;) {
                fd = mct_unix_connect(sock);
                if (fd >= 0)
                        break;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        memcapd_dump_log(out_path);
                        cr_fatal("memcapd exited at start (status 0x%x)", status);
                }
                if (mct_now_ms() > end) {
                        kill(pid, SIGKILL);
                        (void) mct_wait_pid(pid, 10000);
                        memcapd_dump_log(out_path);
                        cr_fatal("memcapd did not accept connections on %s within %d s", sock,
                                 ms / 1000);
                }
                mct_sleep_ms(10);
        }
        close(fd);
        return pid;
}

pid_t memcapd_start(char **argv, const char *sock, const char *out_path, void (*pre_exec)(void),
                    int ms) {
        return wait_accepting(spawn_memcapd(argv, out_path, pre_exec), sock, out_path, ms);
}

void (*daemon_pre_exec)(void);
char *daemon_policy; /* -p this file, when set */

/*
 * Start memcapd with @config (JSON text, or NULL for none) and the audit log when @audit, and
 * wait until its socket accepts.
 */
void daemon_start(const char *config, bool audit) {
        const char *argv[8] = {NULL};
        int n = 0;

        if (config) {
                write_config(config);
                argv[n++] = "-c";
                argv[n++] = D.config;
        }
        if (audit) {
                argv[n++] = "-a";
                argv[n++] = D.audit;
        }
        if (daemon_policy) {
                argv[n++] = "-p";
                argv[n++] = daemon_policy;
        }
        daemon_start_args(argv, NULL);
}

void daemon_start_args(const char *const *extra, const char *const *env) {
        char *argv[32] = {NULL, "-s", D.sock, "-r", D.root};
        size_t n = 5;

        cr_assert(eq(int, D.pid, 0), "a daemon is already running");
        for (; extra && *extra; extra++) {
                cr_assert(lt(sz, n, ELEMENTSOF(argv) - 1), "too many memcapd arguments");
                argv[n++] = (char *) *extra;
        }
        D.pid = wait_accepting(spawn_env(argv, D.log, daemon_pre_exec, env), D.sock, D.log, 20000);
}

void daemon_start_with_policy(const char *config_fields, const char *policy) {
        const char *argv[] = {"-c", D.config, NULL};

        write_file(D.policy, policy ? policy : "{}", strlen(policy ? policy : "{}"));
        write_config(S("{\"policy\": \"%s\", \"audit\": \"%s\"%s%s}", D.policy, D.audit,
                       config_fields ? ", " : "", config_fields ? config_fields : ""));
        daemon_start_args(argv, NULL);
}

int memcapd_terminate(pid_t pid, int ms) {
        int status;

        kill(pid, SIGTERM);
        status = mct_wait_pid(pid, ms);
        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        return status;
}

/* SIGTERM, then expect exit status 0 and the socket gone. */
void daemon_stop(void) {
        pid_t pid = D.pid;
        int status;

        if (pid == 0)
                return;
        D.pid = 0;
        cr_assert(eq(int, kill(pid, 0), 0), "memcapd %d is gone", (int) pid);
        status = memcapd_terminate(pid, 30000);
        if (status == -1) {
                daemon_dump_log();
                cr_fatal("memcapd did not stop within 30 s of SIGTERM");
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                daemon_dump_log();
        cr_assert(eq(int, !!WIFEXITED(status), 1), "memcapd died of signal %d", WTERMSIG(status));
        cr_assert(eq(int, WEXITSTATUS(status), 0), "memcapd exited %d", WEXITSTATUS(status));
        cr_assert(lt(int, access(D.sock, F_OK), 0), "memcapd left its socket behind");
        cr_assert(eq(int, errno, ENOENT));
}

/* .fini: stop the daemon (asserting a clean exit), remove the directory, check for leaks. */
void daemon_suite_fini(void) {
        pid_t pid = D.pid;
        int status = 0;
        bool clean = true, sock_gone = true;

        /* Collect everything before asserting, so a failure still cleans up. */
        if (pid > 0) {
                D.pid = 0;
                status = memcapd_terminate(pid, 30000);
                clean = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
                sock_gone = access(D.sock, F_OK) < 0 && errno == ENOENT;
                if (!clean || !sock_gone)
                        daemon_dump_log();
        }
        daemon_cleanup();
        mc_test_fini();
        cr_assert(clean, "memcapd did not exit 0 on SIGTERM (status 0x%x)", status);
        cr_assert(sock_gone, "memcapd left its socket behind");
}

void daemon_cleanup(void) {
        if (D.pid > 0)
                (void) memcapd_terminate(D.pid, 30000);
        D.pid = 0;
        daemon_pre_exec = NULL;
        daemon_policy = NULL;
        if (D.dir[0])
                mct_remove_tree(D.dir);
        D.dir[0] = 0;
}

void daemon_suite_init(void) {
        setup_dir();
        daemon_start(NULL, false);
}

void daemon_start_with_data(void) {
        setup_dir();
        root_write_file("/data/f", "hello, world\n", 13);
        daemon_start(NULL, false);
}

/* The daemon's mappings of files in its root and of memfds: what it maps for clients. */
int daemon_maps(void) {
        char *maps = slurp(S("/proc/%d/maps", (int) D.pid));
        int n = 0;

        for (char *line = maps; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                if (strstr(line, D.root) || strstr(line, "/memfd:memcap"))
                        n++;
                line = nl ? nl + 1 : NULL;
        }
        free(maps);
        return n;
}

int daemon_fds(void) {
        int n = mct_count_fds(D.pid, /* skip_proc= */ false);

        cr_assert(ge(int, n, 0), "/proc/%d/fd: %s", (int) D.pid, strerror(-n));
        return n;
}

/* Poll @what until it returns @want (up to @ms); returns the last value. */
int poll_until(int (*what)(void), int want, int ms) {
        int64_t end = mct_now_ms() + ms;
        int v;

        while ((v = what()) != want && mct_now_ms() < end)
                mct_sleep_ms(10);
        return v;
}

/* A field of the daemon's /proc/PID/status in KiB: "VmRSS:", "VmHWM:", "RssAnon:". */
uint64_t daemon_status_kib(const char *field) {
        uint64_t kib = 0;
        int r = mct_proc_status(D.pid, field, 10, &kib);

        cr_assert(eq(int, r, 0), "no %s in the daemon's status: %s", field, strerror(-r));
        return kib;
}

uint64_t daemon_rss_kib(void) {
        return daemon_status_kib("VmRSS:");
}

/* The asserting layer for the test process itself. */
void connect_to(cl *c) {
        int r = cl_open(c, D.sock);

        cr_assert(eq(int, r, 0), "connecting to %s: %s", D.sock, strerror(-r));
}

void send_line(cl *c, const char *req) {
        cr_assert(eq(int, cl_send(c, req, strlen(req)), 0));
        cr_assert(eq(int, cl_send(c, "\n", 1), 0));
}

const char *recv_line(cl *c) {
        int r = cl_recv_line(c, REPLY_TIMEOUT_MS);

        cr_assert(eq(int, r, 0), "no reply: %s", strerror(-r));
        return c->line;
}

const char *call(cl *c, const char *req) {
        send_line(c, req);
        return recv_line(c);
}

void expect(cl *c, const char *req, const char *want) {
        const char *got = call(c, req);

        cr_assert(eq(str, (char *) got, (char *) want), "request: %s", req);
}

/* The reply must start with @prefix; returns it. */
const char *expect_prefix(cl *c, const char *req, const char *prefix) {
        const char *got = call(c, req);

        cr_assert(starts_with(got, prefix), "request: %s\n  got: %s\n want: %s...", req, got,
                  prefix);
        return got;
}

const char *not_found(const char *call, uint64_t id) {
        return S("{\"status\":\"error\",\"kind\":\"NotFound\",\"code\":\"core.memory.NotFound\","
                 "\"message\":\"%s failed: Mmap %llu not found\",\"errno\":2}",
                 call, (unsigned long long) id);
}

/* Mmap and return the new id, which the reply must carry both ways. */
uint64_t mmap_ok(cl *c, const char *req) {
        const char *got = call(c, req);
        unsigned long long id = 0, len = 0;
        unsigned b[4];

        cr_assert(eq(int,
                     sscanf(got,
                            "{\"status\":\"success\",\"data\":[%u,%u,%u,%u],\"mmap_id\":%llu,"
                            "\"length\":%llu}",
                            &b[0], &b[1], &b[2], &b[3], &id, &len),
                     6),
                  "request: %s\n  got: %s", req, got);
        cr_assert(eq(str, (char *) got,
                     S("{\"status\":\"success\",\"data\":[%u,%u,%u,%u],\"mmap_id\":%llu,"
                       "\"length\":%llu}",
                       (unsigned) (id >> 24) & 255, (unsigned) (id >> 16) & 255,
                       (unsigned) (id >> 8) & 255, (unsigned) id & 255, id, len)));
        return id;
}

const char *hello_reply(const char *caps, pid_t pid, uid_t uid) {
        return S("{\"status\":\"success\",\"data\":{\"daemon\":\"memcapd\",\"version\":\"%s\","
                 "\"protocol\":1,\"capabilities\":%s,\"pid\":%d,\"uid\":%u}}",
                 mc_version(), caps, (int) pid, (unsigned) uid);
}

static void peer_answer(cl *ctl, char kind, const char *text) {
        char k[1] = {kind};

        if (cl_send(ctl, k, 1) < 0 || cl_send(ctl, text, strlen(text)) < 0 ||
            cl_send(ctl, "\n", 1) < 0)
                _exit(3);
}

void peer_main(int ctl_fd, uid_t uid) {
        cl ctl = CL_INIT, conns[8];
        char num[32];
        int n = 0;

        ctl.fd = ctl_fd;
        if (uid != 0 && (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)) {
                peer_answer(&ctl, 'E', "setuid failed");
                _exit(2);
        }
        if (cl_open(&conns[n], D.sock) < 0) {
                peer_answer(&ctl, 'E', "connect failed");
                _exit(2);
        }
        n++;
        peer_answer(&ctl, '-', "ready");
        for (;;) {
                cl *c = n > 0 ? &conns[n - 1] : NULL;
                int r;

                if (cl_recv_line(&ctl, 120000) < 0)
                        _exit(0);
                if (streq(ctl.line, "!exit"))
                        _exit(0);
                if (streq(ctl.line, "!connect")) {
                        if (n == (int) ELEMENTSOF(conns) || cl_open(&conns[n], D.sock) < 0)
                                peer_answer(&ctl, 'E', "connect failed");
                        else {
                                n++;
                                peer_answer(&ctl, '-', "ok");
                        }
                } else if (streq(ctl.line, "!close")) {
                        if (c) {
                                cl_close(c);
                                n--;
                        }
                        peer_answer(&ctl, '-', "ok");
                } else if (streq(ctl.line, "!pid")) {
                        snprintf(num, sizeof(num), "%d", (int) getpid());
                        peer_answer(&ctl, '-', num);
                } else if (streq(ctl.line, "!eof")) {
                        r = c ? cl_recv_line(c, 2000) : -EPIPE;
                        peer_answer(&ctl, '-', r == -EPIPE || r == -ECONNRESET ? "eof" : "open");
                } else if (streq(ctl.line, "!forkexit")) {
                        int p[2];
                        char x;
                        pid_t pid;

                        if (pipe2(p, O_CLOEXEC) < 0)
                                _exit(4);
                        pid = fork();
                        if (pid < 0)
                                _exit(4);
                        if (pid > 0)
                                _exit(0); /* the pipe's write end closes with us */
                        close(p[1]);
                        if (read(p[0], &x, 1) < 0) /* EOF: the parent is gone */
                                _exit(4);
                        close(p[0]);
                        snprintf(num, sizeof(num), "%d", (int) getpid());
                        peer_answer(&ctl, '-', num);
                } else if (!c) {
                        peer_answer(&ctl, 'E', "no connection");
                } else {
                        /* A failed send is no answer: what the daemon said before it closed the
                         * connection may still be there to read. */
                        if (cl_send(c, ctl.line, strlen(ctl.line)) == 0)
                                (void) cl_send(c, "\n", 1);
                        r = cl_recv_line(c, REPLY_TIMEOUT_MS);
                        if (r < 0)
                                peer_answer(&ctl, 'C', strerror(-r));
                        else {
                                int fd = cl_take_fd(c);
                                if (fd >= 0)
                                        close(fd);
                                peer_answer(&ctl, fd >= 0 ? 'F' : '-', c->line);
                        }
                }
        }
}

void peer_spawn(peer *p, uid_t uid) {
        int sv[2];
        int r;

        *p = (peer){.ctl = CL_INIT};
        cr_assert(eq(int, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0));
        p->pid = fork();
        cr_assert(ge(int, p->pid, 0));
        if (p->pid == 0) {
                close(sv[0]);
                peer_main(sv[1], uid);
                _exit(0);
        }
        close(sv[1]);
        p->child = p->pid;
        p->ctl.fd = sv[0];
        r = cl_recv_line(&p->ctl, REPLY_TIMEOUT_MS);
        cr_assert(eq(int, r, 0), "the peer did not start");
        cr_assert(eq(str, p->ctl.line, "-ready"));
}

/* Send one command; returns the answer without its kind byte (which is checked). */
const char *peer_cmd(peer *p, const char *cmd, char want_kind) {
        int r;

        cr_assert(eq(int, cl_send(&p->ctl, cmd, strlen(cmd)), 0));
        cr_assert(eq(int, cl_send(&p->ctl, "\n", 1), 0));
        r = cl_recv_line(&p->ctl, REPLY_TIMEOUT_MS + 5000);
        cr_assert(eq(int, r, 0), "the peer did not answer '%s'", cmd);
        p->got_fd = p->ctl.line[0] == 'F';
        if (want_kind == '-' && p->got_fd)
                return p->ctl.line + 1;
        cr_assert(eq(chr, p->ctl.line[0], want_kind), "peer: '%s' -> '%s'", cmd, p->ctl.line);
        return p->ctl.line + 1;
}

const char *peer_call(peer *p, const char *req) {
        return peer_cmd(p, req, '-');
}

void peer_expect(peer *p, const char *req, const char *want) {
        cr_assert(eq(str, (char *) peer_call(p, req), (char *) want), "peer request: %s", req);
}

uint64_t peer_mmap(peer *p, const char *req) {
        const char *got = peer_call(p, req);
        unsigned long long id = 0;
        const char *m = strstr(got, "\"mmap_id\":");

        cr_assert(starts_with(got, "{\"status\":\"success\""), "peer: %s -> %s", req, got);
        cr_assert(not(eq(ptr, (char *) m, NULL)));
        id = strtoull(m + 10, NULL, 10);
        return id;
}

/* Tell the peer to exit and reap it. */
void peer_exit(peer *p) {
        if (p->ctl.fd >= 0) {
                (void) cl_send(&p->ctl, "!exit\n", 6);
                /* The control socket closes when the serving process is gone. */
                (void) cl_recv_line(&p->ctl, REPLY_TIMEOUT_MS);
        }
        if (p->child > 0) {
                int status = mct_wait_pid(p->child, REPLY_TIMEOUT_MS);
                cr_assert(not(eq(int, status, -1)), "the peer did not exit");
                cr_assert(eq(int, status & 0xffff, 0), "the peer failed (status 0x%x)", status);
                p->child = 0;
        }
        cl_close(&p->ctl);
}

/* ---- the audit log ---------------------------------------------------------------------- */

/*
 * The sanitizer keeps freed memory in a quarantine on purpose, which is not memory the daemon
 * holds: the daemons of the memory tests run without it. Set before the daemon starts; this
 * process's own sanitizer read its options long ago.
 */
void daemon_without_quarantine(void) {
        const char *o = getenv("ASAN_OPTIONS");

        cr_assert(eq(
                int,
                setenv("ASAN_OPTIONS",
                       S("%s:quarantine_size_mb=0:thread_local_quarantine_size_kb=0", o ? o : ""),
                       1),
                0));
}

/* The audit log's records as a JSON array (the caller decrefs); each record gets "_bytes", the
 * length of its line. */
json_t *audit_load(void) {
        return audit_file_load(D.audit, /* json_flags= */ 0, /* with_bytes= */ true);
}

/* Whether @rec is memcapd's record of @event. */
bool rec_is(json_t *rec, const char *event) {
        return streq(json_string_value(json_object_get(rec, "capability")) ?: "", "memcapd") &&
               streq(json_string_value(json_object_get(rec, "operation")) ?: "", event);
}

const char *ev_str(json_t *rec, const char *key) {
        return json_string_value(json_object_get(json_object_get(rec, "event"), key));
}

json_int_t ev_int(json_t *rec, const char *key) {
        json_t *v = json_object_get(json_object_get(rec, "event"), key);

        cr_assert(eq(int, !!json_is_integer(v), 1), "record without integer '%s'", key);
        return json_integer_value(v);
}

void expect_root_file(const char *rel, off_t off, const void *want, size_t n, const char *why) {
        char got[64];

        cr_assert(le(sz, n, sizeof(got)));
        root_read_file(rel, off, got, n);
        cr_assert(eq(int, memcmp(got, want, n), 0), "%s at %lld holds \"%.*s\": %s", rel,
                  (long long) off, (int) n, got, why ? why : "not the bytes expected");
}
