/* SPDX-License-Identifier: MIT */
/*
 * Integration and conformance tests of memcapd, the mapping broker. Each test starts its own
 * daemon (the built binary, found through $MEMCAP_BUILD_ROOT) on a socket and root directory of
 * its own under /tmp, talks to it the way any client would, with plain sockets, one line each
 * way, and stops it with SIGTERM in the suite's .fini, which checks that it exited 0 and
 * removed its socket. Replies are compared byte for byte wherever docs/protocol.md documents
 * them.
 *
 * Other client processes ("peers") are forked children that relay requests from the test over a
 * control socket to their own connections, so a test can drive several processes step by step,
 * including processes that dropped to uid nobody. Peers never assert: they report, the test
 * asserts.
 */

#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOBODY   ((uid_t) 65534)
#define ALL_CAPS "[\"FileRead\",\"FileWrite\",\"SystemInfo\",\"FdPass\",\"MemLock\"]"
/* How long a reply may take before the test calls the daemon stuck. */
#define REPLY_TIMEOUT_MS 10000

/* ---- small helpers --------------------------------------------------------------------------- */

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* printf into one of a ring of static buffers: request lines and expected replies. */
__attribute__((format(printf, 1, 2))) static char *S(const char *fmt, ...) {
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
static uint8_t pat(uint64_t i) {
        return (uint8_t) (i * 31 + 7);
}

/* "[b0,b1,...]" of @n bytes, into a heap string the caller frees. */
static char *json_bytes(const uint8_t *b, size_t n) {
        char *s = malloc(n * 4 + 3), *p = s;

        cr_assert(not(eq(ptr, s, NULL)));
        *p++ = '[';
        for (size_t i = 0; i < n; i++)
                p += snprintf(p, 5, i ? ",%u" : "%u", b[i]); /* sized above: <= 4 bytes each */
        *p++ = ']';
        *p = 0;
        return s;
}

static char *base64(const uint8_t *b, size_t n) {
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

static bool contains(const char *s, const char *part) {
        return s && strstr(s, part) != NULL;
}

static bool starts_with(const char *s, const char *prefix) {
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- the daemon under test ------------------------------------------------------------------- */

typedef struct daemon_state {
        pid_t pid; /* 0 when not running */
        char dir[64];
        char sock[128], root[128], log[128], audit[128], config[128];
} daemon_state;

static daemon_state D;

static const char *memcapd_binary(void) {
        static char path[4096];
        const char *b = getenv("MEMCAP_BUILD_ROOT");

        cr_assert(not(eq(ptr, (void *) b, NULL)), "MEMCAP_BUILD_ROOT is not set (run via meson)");
        snprintf(path, sizeof(path), "%s/src/daemon/memcapd", b);
        return path;
}

static char *root_path(const char *rel) {
        return S("%s%s", D.root, rel);
}

static void write_file(const char *rel, const void *data, size_t n) {
        int fd = open(root_path(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        cr_assert(ge(int, fd, 0), "creating %s: %s", rel, strerror(errno));
        cr_assert(eq(sz, (size_t) write(fd, data, n), n));
        close(fd);
}

/* A file of @n pattern bytes. */
static void pattern_file(const char *rel, size_t n) {
        uint8_t *b = malloc(n ? n : 1);

        cr_assert(not(eq(ptr, b, NULL)));
        for (size_t i = 0; i < n; i++)
                b[i] = pat(i);
        write_file(rel, b, n);
        free(b);
}

/* Read @n bytes at @off of a root file with pread(2). */
static void read_file(const char *rel, off_t off, void *buf, size_t n) {
        int fd = open(root_path(rel), O_RDONLY | O_CLOEXEC);

        cr_assert(ge(int, fd, 0), "opening %s: %s", rel, strerror(errno));
        cr_assert(eq(sz, (size_t) pread(fd, buf, n, off), n));
        close(fd);
}

static char *slurp(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t len = 0, cap = 4096;
        char *s = malloc(cap);
        ssize_t n;

        cr_assert(not(eq(ptr, s, NULL)));
        if (fd >= 0) {
                while ((n = read(fd, s + len, cap - len - 1)) > 0) {
                        len += (size_t) n;
                        if (cap - len < 2) {
                                cap *= 2;
                                s = realloc(s, cap);
                                cr_assert(not(eq(ptr, s, NULL)));
                        }
                }
                close(fd);
        }
        s[len] = 0;
        return s;
}

static void write_config(const char *json) {
        int fd = open(D.config, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(sz, (size_t) write(fd, json, strlen(json)), strlen(json)));
        close(fd);
}

/* A fresh directory with root/data/small (16 bytes) and root/data/big (3 pages of pattern). */
static void setup_dir(void) {
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
        cr_assert(eq(int, mkdir(D.root, 0755), 0));
        cr_assert(eq(int, mkdir(root_path("/data"), 0755), 0));
        write_file("/data/small", "Hello, memcapd!\n", 16);
        pattern_file("/data/big", 3 * 4096);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path) < 0 ? 0 : 0; /* best effort: a leftover is harmless */
}

static int try_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        strscpy(sa.sun_path, sizeof(sa.sun_path), path);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

/* exec memcapd with @argv (argv[0] is replaced); stdout and stderr to @out_path. */
static pid_t spawn_memcapd(char **argv, const char *out_path, void (*pre_exec)(void)) {
        pid_t pid = fork();

        cr_assert(ge(int, pid, 0));
        if (pid == 0) {
                int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                        _exit(126);
                if (pre_exec)
                        pre_exec();
                argv[0] = (char *) memcapd_binary();
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

/* Wait up to @ms for @pid; returns its wait status, or -1 on timeout. */
static int wait_for(pid_t pid, int ms) {
        int64_t end = now_ms() + ms;
        int status;

        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        return status;
                if (r < 0 || now_ms() > end)
                        return -1;
                sleep_ms(5);
        }
}

static void daemon_dump_log(void) {
        char *log = slurp(D.log);

        fprintf(stderr, "---- memcapd log (%s) ----\n%s---- end of log ----\n", D.log, log);
        free(log);
}

static void (*daemon_pre_exec)(void);
static char *daemon_policy; /* -p this file, when set */

/*
 * Start memcapd with @config (JSON text, or NULL for none) and the audit log when @audit, and
 * wait until its socket accepts.
 */
static void daemon_start(const char *config, bool audit) {
        char *argv[16] = {NULL};
        int n = 1, fd = -1;
        int64_t end;

        cr_assert(eq(int, D.pid, 0), "a daemon is already running");
        argv[n++] = "-s";
        argv[n++] = D.sock;
        argv[n++] = "-r";
        argv[n++] = D.root;
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
        D.pid = spawn_memcapd(argv, D.log, daemon_pre_exec);
        end = now_ms() + 20000;
        while (now_ms() < end) {
                int status;
                fd = try_connect(D.sock);
                if (fd >= 0)
                        break;
                if (waitpid(D.pid, &status, WNOHANG) == D.pid) {
                        D.pid = 0;
                        daemon_dump_log();
                        cr_fatal("memcapd exited at start (status 0x%x)", status);
                }
                sleep_ms(10);
        }
        if (fd < 0)
                daemon_dump_log();
        cr_assert(ge(int, fd, 0), "memcapd did not accept connections within 20 s");
        close(fd);
}

/* SIGTERM, then expect exit status 0 and the socket gone. */
static void daemon_stop(void) {
        pid_t pid = D.pid;
        int status;

        if (pid == 0)
                return;
        D.pid = 0;
        cr_assert(eq(int, kill(pid, SIGTERM), 0));
        status = wait_for(pid, 30000);
        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
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
static void fini(void) {
        pid_t pid = D.pid;
        int status = 0;
        bool clean = true, sock_gone = true;

        /* Collect everything before asserting, so a failure still cleans up. */
        if (pid > 0) {
                D.pid = 0;
                kill(pid, SIGTERM);
                status = wait_for(pid, 30000);
                if (status == -1) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                }
                clean = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
                sock_gone = access(D.sock, F_OK) < 0 && errno == ENOENT;
                if (!clean || !sock_gone)
                        daemon_dump_log();
        }
        daemon_pre_exec = NULL;
        daemon_policy = NULL;
        if (D.dir[0])
                nftw(D.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        mc_test_fini();
        cr_assert(clean, "memcapd did not exit 0 on SIGTERM (status 0x%x)", status);
        cr_assert(sock_gone, "memcapd left its socket behind");
}

static void init_start(void) {
        setup_dir();
        daemon_start(NULL, false);
}

/* The daemon's mappings of files in its root and of memfds: what it maps for clients. */
static int daemon_maps(void) {
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

static int daemon_fds(void) {
        DIR *d = opendir(S("/proc/%d/fd", (int) D.pid));
        struct dirent *de;
        int n = 0;

        cr_assert(not(eq(ptr, d, NULL)));
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* Poll @what until it returns @want (up to @ms); returns the last value. */
static int poll_until(int (*what)(void), int want, int ms) {
        int64_t end = now_ms() + ms;
        int v;

        while ((v = what()) != want && now_ms() < end)
                sleep_ms(10);
        return v;
}

/* A field of the daemon's /proc/PID/status in KiB: "VmRSS:", "VmHWM:", "RssAnon:". */
static uint64_t daemon_status_kib(const char *field) {
        char *st = slurp(S("/proc/%d/status", (int) D.pid));
        char *p = strstr(st, field);
        uint64_t kib = 0;

        cr_assert(not(eq(ptr, p, NULL)), "no %s in the daemon's status", field);
        kib = strtoull(p + strlen(field), NULL, 10);
        free(st);
        return kib;
}

static uint64_t daemon_rss_kib(void) {
        return daemon_status_kib("VmRSS:");
}

/* ---- a client connection: lines out, lines (and descriptors) in ------------------------------ */

typedef struct cl {
        int fd;
        char *buf; /* received, not yet returned */
        size_t len, cap;
        char *line; /* the last line, without its '\n' */
        int fds[16];
        size_t n_fds; /* descriptors received, oldest first */
} cl;

#define CL_INIT                                                                                    \
        { .fd = -1 }

static int cl_open(cl *c, const char *path) {
        *c = (cl) CL_INIT;
        c->fd = try_connect(path);
        return c->fd < 0 ? c->fd : 0;
}

static void cl_close(cl *c) {
        if (c->fd >= 0)
                close(c->fd);
        for (size_t i = 0; i < c->n_fds; i++)
                close(c->fds[i]);
        free(c->buf);
        free(c->line);
        *c = (cl) CL_INIT;
}

static int cl_send(cl *c, const void *data, size_t n) {
        const char *p = data;

        while (n > 0) {
                ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* The next line into c->line: 0, -EPIPE at end of stream, -ETIMEDOUT, -errno. */
static int cl_recv_line(cl *c, int timeout_ms) {
        int64_t end = now_ms() + timeout_ms;

        for (;;) {
                char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
                char cbuf[CMSG_SPACE(4 * sizeof(int))];
                struct iovec iov;
                struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
                struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
                ssize_t k;
                int left;

                if (nl) {
                        size_t n = (size_t) (nl - c->buf);
                        free(c->line);
                        c->line = malloc(n + 1);
                        if (!c->line)
                                return -ENOMEM;
                        memcpy(c->line, c->buf, n);
                        c->line[n] = 0;
                        memmove(c->buf, nl + 1, c->len - n - 1);
                        c->len -= n + 1;
                        return 0;
                }
                if (c->cap - c->len < 65536) {
                        char *b = realloc(c->buf, c->cap + 262144);
                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->cap += 262144;
                }
                left = (int) (end - now_ms());
                if (left <= 0 || poll(&pfd, 1, left) == 0)
                        return -ETIMEDOUT;
                iov.iov_base = c->buf + c->len;
                iov.iov_len = c->cap - c->len;
                msg.msg_control = cbuf;
                msg.msg_controllen = sizeof(cbuf);
                k = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                                size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                for (size_t i = 0; i < nfd; i++) {
                                        int fd;
                                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                                        if (c->n_fds < ELEMENTSOF(c->fds))
                                                c->fds[c->n_fds++] = fd;
                                        else
                                                close(fd);
                                }
                        }
                if (k == 0)
                        return -EPIPE;
                c->len += (size_t) k;
        }
}

/* Take the oldest received descriptor, or -1. */
static int cl_take_fd(cl *c) {
        int fd;

        if (c->n_fds == 0)
                return -1;
        fd = c->fds[0];
        memmove(c->fds, c->fds + 1, (c->n_fds - 1) * sizeof(int));
        c->n_fds--;
        return fd;
}

/* The asserting layer for the test process itself. */
static void connect_to(cl *c) {
        int r = cl_open(c, D.sock);

        cr_assert(eq(int, r, 0), "connecting to %s: %s", D.sock, strerror(-r));
}

static void send_line(cl *c, const char *req) {
        cr_assert(eq(int, cl_send(c, req, strlen(req)), 0));
        cr_assert(eq(int, cl_send(c, "\n", 1), 0));
}

static const char *recv_line(cl *c) {
        int r = cl_recv_line(c, REPLY_TIMEOUT_MS);

        cr_assert(eq(int, r, 0), "no reply: %s", strerror(-r));
        return c->line;
}

static const char *call(cl *c, const char *req) {
        send_line(c, req);
        return recv_line(c);
}

static void expect(cl *c, const char *req, const char *want) {
        const char *got = call(c, req);

        cr_assert(eq(str, (char *) got, (char *) want), "request: %s", req);
}

/* The reply must start with @prefix; returns it. */
static const char *expect_prefix(cl *c, const char *req, const char *prefix) {
        const char *got = call(c, req);

        cr_assert(starts_with(got, prefix), "request: %s\n  got: %s\n want: %s...", req, got,
                  prefix);
        return got;
}

/* Mmap and return the new id, which the reply must carry both ways. */
static uint64_t mmap_ok(cl *c, const char *req) {
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

#define OK          "{\"status\":\"success\"}"
#define SYNCED      "{\"status\":\"success\",\"written\":true}"
#define NOT_WRITTEN "{\"status\":\"success\",\"written\":false}"
#define NOT_FOUND(call, id)                                                                        \
        S("{\"status\":\"error\",\"kind\":\"NotFound\",\"code\":\"core.memory.NotFound\","         \
          "\"message\":\"" call " failed: Mmap %llu not found\",\"errno\":2}",                     \
          (unsigned long long) (id))
#define INVALID                                                                                    \
        "{\"status\":\"error\",\"kind\":\"InvalidArgument\",\"code\":\"core.memory."               \
        "InvalidArgument\",\"message\":\""
#define DENIED                                                                                     \
        "{\"status\":\"permission_denied\",\"kind\":\"PermissionDenied\",\"code\":"                \
        "\"core.memory.PermissionDenied\",\"reason\":\""

static const char *hello_reply(const char *caps, pid_t pid, uid_t uid) {
        return S("{\"status\":\"success\",\"data\":{\"daemon\":\"memcapd\",\"version\":\"%s\","
                 "\"protocol\":1,\"capabilities\":%s,\"pid\":%d,\"uid\":%u}}",
                 mc_version(), caps, (int) pid, (unsigned) uid);
}

/* ---- peers: other client processes, driven over a control socket -------------------------------
 *
 * Commands, one line each; the peer answers one line whose first byte says what happened:
 *   <request>   relayed on the current connection: 'F' + reply when a descriptor came with it
 *               (closed at once), '-' + reply otherwise, 'C' when the daemon closed the stream
 *   !connect    open another connection and make it current          -> "-ok"
 *   !close      close the current connection (the previous one is current again) -> "-ok"
 *   !pid        -> "-<pid>"
 *   !eof        does the daemon close the current connection within 2 s?  -> "-eof" / "-open"
 *   !forkexit   fork; the child carries on as the peer (connections inherited) and answers
 *               "-<its pid>" once the parent has exited
 *   !exit       _exit(0)
 */

typedef struct peer {
        pid_t pid;   /* the process serving the commands now */
        pid_t child; /* our direct child, to reap; 0 once reaped */
        cl ctl;
        bool got_fd;
} peer;

static void peer_answer(cl *ctl, char kind, const char *text) {
        char k[1] = {kind};

        if (cl_send(ctl, k, 1) < 0 || cl_send(ctl, text, strlen(text)) < 0 ||
            cl_send(ctl, "\n", 1) < 0)
                _exit(3);
}

static void peer_main(int ctl_fd, uid_t uid) {
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

static void peer_spawn(peer *p, uid_t uid) {
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
static const char *peer_cmd(peer *p, const char *cmd, char want_kind) {
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

static const char *peer_call(peer *p, const char *req) {
        return peer_cmd(p, req, '-');
}

static void peer_expect(peer *p, const char *req, const char *want) {
        cr_assert(eq(str, (char *) peer_call(p, req), (char *) want), "peer request: %s", req);
}

static uint64_t peer_mmap(peer *p, const char *req) {
        const char *got = peer_call(p, req);
        unsigned long long id = 0;
        const char *m = strstr(got, "\"mmap_id\":");

        cr_assert(starts_with(got, "{\"status\":\"success\""), "peer: %s -> %s", req, got);
        cr_assert(not(eq(ptr, (char *) m, NULL)));
        id = strtoull(m + 10, NULL, 10);
        return id;
}

/* Tell the peer to exit and reap it. */
static void peer_exit(peer *p) {
        if (p->ctl.fd >= 0) {
                (void) cl_send(&p->ctl, "!exit\n", 6);
                /* The control socket closes when the serving process is gone. */
                (void) cl_recv_line(&p->ctl, REPLY_TIMEOUT_MS);
        }
        if (p->child > 0) {
                int status = wait_for(p->child, REPLY_TIMEOUT_MS);
                cr_assert(not(eq(int, status, -1)), "the peer did not exit");
                cr_assert(eq(int, status & 0xffff, 0), "the peer failed (status 0x%x)", status);
                p->child = 0;
        }
        cl_close(&p->ctl);
}

/* ============================================================================================
 * Conformance: every call and its documented reply
 * ============================================================================================ */

TestSuite(daemon, .init = init_start, .fini = fini, .timeout = 120);

Test(daemon, hello_names_the_daemon_the_caps_and_the_client) {
        cl c;

        connect_to(&c);
        expect(&c, "{\"Hello\": {}}", hello_reply(ALL_CAPS, getpid(), getuid()));
        /* CRLF and whitespace around tokens are fine. */
        expect(&c, " { \"Hello\" : { } } \r", hello_reply(ALL_CAPS, getpid(), getuid()));
        cl_close(&c);
}

Test(daemon, mmap_whole_file_and_the_id_in_data) {
        cl c;

        connect_to(&c);
        expect(&c, "{\"Mmap\": {\"path\": \"/data/small\", \"prot\": 1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":16}");
        expect(&c, "{\"Mmap\": {\"path\": \"/data/big\", \"prot\": 3, \"shared\": true}}",
               "{\"status\":\"success\",\"data\":[0,0,0,2],\"mmap_id\":2,\"length\":12288}");
        expect(&c,
               "{\"Mmap\": {\"path\": \"/data/big\", \"offset\": 0, \"length\": 4096, \"prot\": 3, "
               "\"shared\": false}}",
               "{\"status\":\"success\",\"data\":[0,0,0,3],\"mmap_id\":3,\"length\":4096}");
        expect(&c, "{\"MmapRead\": {\"mmap_id\": 1, \"offset\": 0, \"length\": 5}}",
               "{\"status\":\"success\",\"data\":[72,101,108,108,111]}");
        cl_close(&c);
}

Test(daemon, mmap_with_offset_and_length_maps_that_range) {
        uint8_t want[100];
        char *arr;
        cl c;

        connect_to(&c);
        /* An offset that is not page-aligned: the daemon aligns internally. */
        expect(&c,
               "{\"Mmap\":{\"path\":\"/data/big\",\"offset\":5000,\"length\":3000,\"prot\":1,"
               "\"shared\":true}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":3000}");
        for (int i = 0; i < 100; i++)
                want[i] = pat(5000 + (uint64_t) i);
        arr = json_bytes(want, 100);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":100}}",
               S("{\"status\":\"success\",\"data\":%s}", arr));
        free(arr);
        /* The last byte is file byte 7999. */
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":2999,\"length\":1}}",
               S("{\"status\":\"success\",\"data\":[%u]}", pat(7999)));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":1}}",
               S("{\"status\":\"success\",\"data\":{\"id\":1,\"path\":\"/data/"
                 "big\",\"offset\":5000,"
                 "\"length\":3000,\"prot\":{\"read\":true,\"write\":false,\"exec\":false},"
                 "\"flags\":\"Shared\",\"owner_pid\":%d}}",
                 (int) getpid()));
        cl_close(&c);
}

Test(daemon, a_length_past_eof_is_cut_and_the_reply_says_so) {
        cl c;

        connect_to(&c);
        expect(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"offset\":10,\"length\":4096,\"prot\":1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":6}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":6}}",
               "{\"status\":\"success\",\"data\":[99,97,112,100,33,10]}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"offset\":12287,\"prot\":1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,2],\"mmap_id\":2,\"length\":1}");
        cl_close(&c);
}

Test(daemon, an_offset_at_or_past_eof_is_an_error_and_uses_no_id) {
        cl c;

        connect_to(&c);
        expect(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"offset\":16,\"prot\":1}}",
               INVALID "Mmap failed: '/data/small': offset 16 is at or past the end of the file "
                       "(16 bytes)\",\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"offset\":17,\"length\":1,\"prot\":1}}",
               INVALID "Mmap failed: '/data/small': offset 17 is at or past the end of the file "
                       "(16 bytes)\",\"errno\":22}");
        expect(&c,
               "{\"Mmap\":{\"path\":\"/data/small\",\"offset\":9223372036854775807,\"prot\":1}}",
               INVALID "Mmap failed: '/data/small': offset 9223372036854775807 is at or past the "
                       "end of the file (16 bytes)\",\"errno\":22}");
        /* An empty file has no byte to map at offset 0 either. */
        write_file("/data/empty", "", 0);
        expect_prefix(&c, "{\"Mmap\":{\"path\":\"/data/empty\",\"prot\":1}}",
                      INVALID "Mmap failed:");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":16}");
        cl_close(&c);
}

Test(daemon, ids_start_at_1_are_never_reused_and_failures_use_none) {
        cl c;

        connect_to(&c);
        cr_assert(eq(u64, mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}"), 1));
        expect_prefix(&c, "{\"Mmap\":{\"path\":\"/data/missing\",\"prot\":1}}",
                      "{\"status\":\"error\",\"kind\":\"NotFound\"");
        expect_prefix(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":9}}", INVALID);
        cr_assert(eq(u64, mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}"), 2));
        expect(&c, "{\"Munmap\":{\"mmap_id\":2}}", OK);
        expect(&c, "{\"Munmap\":{\"mmap_id\":1}}", OK);
        /* Unmapped ids stay dead. */
        cr_assert(eq(u64, mmap_ok(&c, "{\"Mmap\":{\"length\":4096,\"prot\":3}}"), 3));
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1}}",
               NOT_FOUND("MmapRead", 1));
        expect(&c, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":1}}",
               NOT_FOUND("MmapRead", 2));
        cl_close(&c);
}

Test(daemon, mmap_read_as_array_and_base64) {
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":16}}",
               "{\"status\":\"success\",\"data\":[72,101,108,108,111,44,32,109,101,109,99,97,112,"
               "100,33,10]}");
        expect(&c,
               "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":5,\"encoding\":\"base64\"}}",
               "{\"status\":\"success\",\"data\":\"SGVsbG8=\"}");
        expect(&c,
               "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":16,\"encoding\":\"base64\"}}",
               "{\"status\":\"success\",\"data\":\"SGVsbG8sIG1lbWNhcGQhCg==\"}");
        expect(&c,
               "{\"MmapRead\":{\"mmap_id\":1,\"offset\":7,\"length\":1,\"encoding\":\"array\"}}",
               "{\"status\":\"success\",\"data\":[109]}");
        /* Empty reads, reads up to the end; a read past the end is an error (never cut). */
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":0}}",
               "{\"status\":\"success\",\"data\":[]}");
        expect(&c,
               "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":0,\"encoding\":\"base64\"}}",
               "{\"status\":\"success\",\"data\":\"\"}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":14,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[33,10]}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":16,\"length\":0}}",
               "{\"status\":\"success\",\"data\":[]}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":14,\"length\":100}}",
               INVALID "MmapRead failed: 100 bytes at offset 14 end past Mmap 1 (16 bytes); "
                       "nothing was read\",\"errno\":22}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":16,\"length\":1}}",
               INVALID "MmapRead failed: 1 byte at offset 16 ends past Mmap 1 (16 bytes); "
                       "nothing was read\",\"errno\":22}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":17,\"length\":0}}",
               INVALID "MmapRead failed: 0 bytes at offset 17 end past Mmap 1 (16 bytes); "
                       "nothing was read\",\"errno\":22}");
        /* A large read in both encodings. */
        {
                uint8_t want[12288];
                char *arr, *b64;

                mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1}}");
                for (size_t i = 0; i < sizeof(want); i++)
                        want[i] = pat(i);
                arr = json_bytes(want, sizeof(want));
                b64 = base64(want, sizeof(want));
                call(&c, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":12288}}");
                cr_assert(starts_with(c.line, "{\"status\":\"success\",\"data\":["));
                cr_assert(eq(sz, strlen(c.line), strlen(arr) + 28));
                cr_assert(eq(int, memcmp(c.line + 27, arr, strlen(arr)), 0));
                call(&c, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":12288,"
                         "\"encoding\":\"base64\"}}");
                cr_assert(starts_with(c.line, "{\"status\":\"success\",\"data\":\""));
                cr_assert(eq(sz, strlen(c.line), strlen(b64) + 30));
                cr_assert(eq(int, memcmp(c.line + 28, b64, strlen(b64)), 0));
                cr_assert(eq(str, c.line + 28 + strlen(b64), "\"}"));
                free(arr);
                free(b64);
        }
        cl_close(&c);
}

Test(daemon, mmap_write_array_and_base64) {
        char got[16];
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[74,101,108,108,121]}}",
               OK);
        expect(&c,
               "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":7,\"data\":\"TUVNQ0FQ\",\"encoding\":"
               "\"base64\"}}",
               OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":16,\"data\":[]}}", OK);
        expect(&c,
               "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":3,\"data\":\"\",\"encoding\":\"base64\"}}",
               OK);
        expect(&c,
               "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":16,\"encoding\":\"base64\"}}",
               "{\"status\":\"success\",\"data\":\"SmVsbHksIE1FTUNBUGQhCg==\"}");
        /* Past the end: an error, and nothing is written, not even the part that fits. */
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":14,\"data\":[1,2,3]}}",
               INVALID "MmapWrite failed: 3 bytes at offset 14 end past Mmap 1 (16 bytes); "
                       "nothing was written\",\"errno\":22}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":9223372036854775807,\"data\":[1,2]}}",
               INVALID "MmapWrite failed: 2 bytes at offset 9223372036854775807 end past Mmap 1 "
                       "(16 bytes); nothing was written\",\"errno\":22}");
        expect(&c, "{\"Msync\":{\"mmap_id\":1}}", SYNCED);
        read_file("/data/small", 0, got, 16);
        cr_assert(eq(int, memcmp(got, "Jelly, MEMCAPd!\n", 16), 0), "file: %.16s", got);
        /* A read-only mapping refuses writes: the mapping's protection, status error. */
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[1]}}",
               "{\"status\":\"error\",\"kind\":\"PermissionDenied\",\"code\":\"core.memory."
               "PermissionDenied\",\"message\":\"MmapWrite "
               "failed: Mmap 2 is not writable\",\"errno\":13}");
        cl_close(&c);
}

Test(daemon, msync_puts_shared_writes_in_the_file_and_is_a_noop_for_private) {
        char got[16];
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":100,\"prot\":3}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[80,80]}}", OK);
        expect(&c, "{\"Msync\":{\"mmap_id\":2}}", NOT_WRITTEN);
        read_file("/data/small", 0, got, 16);
        cr_assert(eq(int, memcmp(got, "Hello, memcapd!\n", 16), 0), "a private write leaked");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[83,83]}}", OK);
        expect(&c, "{\"Msync\":{\"mmap_id\":1}}", SYNCED);
        read_file("/data/small", 0, got, 16);
        cr_assert(eq(int, memcmp(got, "SSllo, memcapd!\n", 16), 0));
        expect(&c, "{\"Msync\":{\"mmap_id\":3}}", NOT_WRITTEN);
        expect(&c, "{\"Msync\":{\"mmap_id\":4}}", NOT_WRITTEN);
        expect(&c, "{\"Msync\":{\"mmap_id\":5}}", NOT_FOUND("Msync", 5));
        cl_close(&c);
}

Test(daemon, munmap_syncs_then_forgets_the_id) {
        char got[16];
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        expect(&c,
               "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"WQ==\","
               "\"encoding\":\"base64\"}}",
               OK);
        cr_assert(eq(int, daemon_maps(), 1));
        expect(&c, "{\"Munmap\":{\"mmap_id\":1}}", OK);
        cr_assert(eq(int, daemon_maps(), 0), "the mapping is still in the daemon");
        read_file("/data/small", 0, got, 16);
        cr_assert(eq(int, memcmp(got, "Yello, memcapd!\n", 16), 0));
        expect(&c, "{\"Munmap\":{\"mmap_id\":1}}", NOT_FOUND("Munmap", 1));
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1}}",
               NOT_FOUND("MmapRead", 1));
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1]}}",
               NOT_FOUND("MmapWrite", 1));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":1}}", NOT_FOUND("MmapStats", 1));
        expect(&c, "{\"Mprotect\":{\"mmap_id\":1,\"prot\":1}}", NOT_FOUND("Mprotect", 1));
        expect(&c, "{\"MmapFd\":{\"mmap_id\":1}}", NOT_FOUND("MmapFd", 1));
        expect(&c, "{\"Munmap\":{\"mmap_id\":9223372036854775807}}",
               NOT_FOUND("Munmap", 9223372036854775807ull));
        cl_close(&c);
}

Test(daemon, mmap_stats_exact_json) {
        int pid = (int) getpid();
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"offset\":0,\"length\":4096,\"prot\":3,"
                    "\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":65536,\"prot\":3}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"offset\":3,\"prot\":5}}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":100,\"prot\":0,\"shared\":true}}");
        expect(&c, "{\"MmapStats\":{\"mmap_id\":1}}",
               S("{\"status\":\"success\",\"data\":{\"id\":1,\"path\":\"/data/big\",\"offset\":0,"
                 "\"length\":4096,\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                 "\"flags\":\"Shared\",\"owner_pid\":%d}}",
                 pid));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":2}}",
               S("{\"status\":\"success\",\"data\":{\"id\":2,\"path\":null,\"offset\":0,"
                 "\"length\":65536,\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                 "\"flags\":\"Private\",\"owner_pid\":%d}}",
                 pid));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":3}}",
               S("{\"status\":\"success\",\"data\":{\"id\":3,\"path\":\"/data/small\",\"offset\":3,"
                 "\"length\":13,\"prot\":{\"read\":true,\"write\":false,\"exec\":true},"
                 "\"flags\":\"Private\",\"owner_pid\":%d}}",
                 pid));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":4}}",
               S("{\"status\":\"success\",\"data\":{\"id\":4,\"path\":null,\"offset\":0,"
                 "\"length\":100,\"prot\":{\"read\":false,\"write\":false,\"exec\":false},"
                 "\"flags\":\"Shared\",\"owner_pid\":%d}}",
                 pid));
        cl_close(&c);
}

Test(daemon, mprotect_changes_what_reads_and_writes_may_do) {
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        expect(&c, "{\"Mprotect\":{\"mmap_id\":1,\"prot\":1}}", OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1]}}",
               "{\"status\":\"error\",\"kind\":\"PermissionDenied\",\"code\":\"core.memory."
               "PermissionDenied\",\"message\":\"MmapWrite "
               "failed: Mmap 1 is not writable\",\"errno\":13}");
        expect(&c, "{\"MmapStats\":{\"mmap_id\":1}}",
               S("{\"status\":\"success\",\"data\":{\"id\":1,\"path\":\"/data/small\","
                 "\"offset\":0,\"length\":16,\"prot\":{\"read\":true,\"write\":false,"
                 "\"exec\":false},\"flags\":\"Shared\",\"owner_pid\":%d}}",
                 (int) getpid()));
        expect(&c, "{\"Mprotect\":{\"mmap_id\":1,\"prot\":0}}", OK);
        expect_prefix(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1}}",
                      "{\"status\":\"error\",\"kind\":\"PermissionDenied\"");
        expect(&c, "{\"Mprotect\":{\"mmap_id\":1,\"prot\":3}}", OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[74]}}", OK);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[74,101]}");
        /* A shared mapping of a file opened read-only cannot become writable. The library's
         * message names addresses; a client must never see the daemon's memory layout. */
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":true}}");
        {
                const char *reply =
                        expect_prefix(&c, "{\"Mprotect\":{\"mmap_id\":2,\"prot\":3}}",
                                      "{\"status\":\"error\",\"kind\":\"PermissionDenied\","
                                      "\"code\":\"core.memory.PermissionDenied\",\"message\":"
                                      "\"Mprotect failed: ");
                cr_assert(eq(ptr, (void *) strstr(reply, "0x"), NULL), "%s", reply);
                cr_assert(ne(ptr, (void *) strstr(reply, "<address>"), NULL), "%s", reply);
        }
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[1]}}",
               "{\"status\":\"error\",\"kind\":\"PermissionDenied\",\"code\":\"core.memory."
               "PermissionDenied\",\"message\":\"MmapWrite "
               "failed: Mmap 2 is not writable\",\"errno\":13}");
        /* A private one can: copy-on-write. */
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        expect(&c, "{\"Mprotect\":{\"mmap_id\":3,\"prot\":3}}", OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":3,\"offset\":0,\"data\":[1]}}", OK);
        expect_prefix(&c, "{\"Mprotect\":{\"mmap_id\":3,\"prot\":8}}", INVALID "Mprotect: field");
        cl_close(&c);
}

Test(daemon, mmap_list_holds_the_callers_mappings_in_id_order) {
        int pid = (int) getpid();
        cl c;

        connect_to(&c);
        expect(&c, "{\"MmapList\":{}}", "{\"status\":\"success\",\"data\":[]}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"offset\":0,\"length\":4096,\"prot\":3,"
                    "\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":65536,\"prot\":3}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        expect(&c, "{\"Munmap\":{\"mmap_id\":3}}", OK);
        expect(&c, "{\"MmapList\":{}}",
               S("{\"status\":\"success\",\"data\":[{\"id\":1,\"path\":\"/data/big\",\"offset\":0,"
                 "\"length\":4096,\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                 "\"flags\":\"Shared\",\"owner_pid\":%d},{\"id\":2,\"path\":null,\"offset\":0,"
                 "\"length\":65536,\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                 "\"flags\":\"Private\",\"owner_pid\":%d}]}",
                 pid, pid));
        cl_close(&c);
}

Test(daemon, anonymous_memory_reads_back_what_was_written) {
        cl c;

        connect_to(&c);
        expect(&c, "{\"Mmap\":{\"length\":10000,\"prot\":3}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":10000}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":9998,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[0,0]}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":9998,\"data\":[7,8]}}", OK);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":9997,\"length\":3}}",
               "{\"status\":\"success\",\"data\":[0,7,8]}");
        expect(&c, "{\"Mmap\":{\"length\":4096,\"prot\":3,\"shared\":true}}",
               "{\"status\":\"success\",\"data\":[0,0,0,2],\"mmap_id\":2,\"length\":4096}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[1,2,3]}}", OK);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":4}}",
               "{\"status\":\"success\",\"data\":[1,2,3,0]}");
        expect_prefix(&c, "{\"Mmap\":{\"length\":0,\"prot\":3}}", INVALID);
        cl_close(&c);
}

/* The MmapFd reply, its descriptor, and what the descriptor allows. */
static int fetch_fd(cl *c, uint64_t id, const char *want_reply) {
        int fd;

        expect(c, S("{\"MmapFd\":{\"mmap_id\":%llu}}", (unsigned long long) id), want_reply);
        fd = cl_take_fd(c);
        cr_assert(ge(int, fd, 0), "no descriptor came with the MmapFd reply");
        cr_assert(eq(sz, c->n_fds, 0), "more than one descriptor came");
        cr_assert(eq(int, fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC));
        return fd;
}

Test(daemon, mmap_fd_passes_a_descriptor_that_shares_the_daemons_data) {
        uint8_t *p;
        int fd;
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        fd = fetch_fd(&c, 1,
                      "{\"status\":\"success\",\"mmap_id\":1,\"offset\":0,\"length\":12288,"
                      "\"writable\":true}");
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR));
        p = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        cr_assert(not(eq(ptr, p, MAP_FAILED)));
        /* The daemon's write is visible through our mapping, and ours through the daemon's. */
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":8000,\"data\":[1,2,3]}}", OK);
        cr_assert(eq(int, p[8000], 1));
        cr_assert(eq(int, p[8002], 3));
        cr_assert(eq(int, p[100], pat(100)));
        p[12287] = 0xAB;
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":12287,\"length\":1}}",
               "{\"status\":\"success\",\"data\":[171]}");
        munmap(p, 12288);
        close(fd);
        cl_close(&c);
}

Test(daemon, mmap_fd_is_read_only_unless_the_mapping_is_shared_and_writable) {
        uint8_t *p;
        int fd;
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1,\"shared\":true}}");
        mmap_ok(&c,
                "{\"Mmap\":{\"path\":\"/data/big\",\"offset\":5000,\"length\":3000,\"prot\":1}}");

        /* Private and writable: the copy-on-write data stays in the daemon. */
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[9]}}", OK);
        fd = fetch_fd(&c, 1,
                      "{\"status\":\"success\",\"mmap_id\":1,\"offset\":0,\"length\":12288,"
                      "\"writable\":false}");
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY));
        cr_assert(eq(ptr, mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED));
        cr_assert(eq(int, errno, EACCES));
        cr_assert(lt(int, (int) write(fd, "x", 1), 0));
        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        cr_assert(not(eq(ptr, p, MAP_FAILED)));
        cr_assert(eq(int, p[0], pat(0)), "a private write reached the file");
        munmap(p, 4096);
        close(fd);

        fd = fetch_fd(&c, 2,
                      "{\"status\":\"success\",\"mmap_id\":2,\"offset\":0,\"length\":12288,"
                      "\"writable\":false}");
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY));
        close(fd);

        /* An unaligned offset: map from the page below and skip the remainder. */
        fd = fetch_fd(&c, 3,
                      "{\"status\":\"success\",\"mmap_id\":3,\"offset\":5000,\"length\":3000,"
                      "\"writable\":false}");
        p = mmap(NULL, 3000 + 904, PROT_READ, MAP_SHARED, fd, 4096);
        cr_assert(not(eq(ptr, p, MAP_FAILED)));
        cr_assert(eq(int, p[904], pat(5000)));
        cr_assert(eq(int, p[904 + 2999], pat(7999)));
        munmap(p, 3000 + 904);
        close(fd);
        cl_close(&c);
}

Test(daemon, mmap_fd_of_anonymous_memory) {
        uint8_t *p;
        int fd;
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"length\":4096,\"prot\":3,\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":4096,\"prot\":3}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":10,\"data\":[42]}}", OK);
        fd = fetch_fd(&c, 1,
                      "{\"status\":\"success\",\"mmap_id\":1,\"offset\":0,\"length\":4096,"
                      "\"writable\":true}");
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        cr_assert(not(eq(ptr, p, MAP_FAILED)));
        cr_assert(eq(int, p[10], 42));
        p[11] = 43;
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":10,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[42,43]}");
        munmap(p, 4096);
        close(fd);
        expect(&c, "{\"MmapFd\":{\"mmap_id\":2}}",
               INVALID "MmapFd failed: Mmap 2 is private anonymous memory, which has no "
                       "descriptor (map it shared to pass it)\",\"errno\":22}");
        cr_assert(eq(sz, c.n_fds, 0));
        cl_close(&c);
}

Test(daemon, pipelined_requests_get_their_replies_in_order) {
        char *batch = malloc(100 * 128), *p = batch;
        cl c;

        cr_assert(not(eq(ptr, batch, NULL)));
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1}}");
        for (int i = 0; i < 100; i++) {
                if (i % 10 == 9)
                        p += snprintf(
                                p, 128,
                                "{\"MmapRead\":{\"mmap_id\":1,\"offset\":-%d,\"length\":1}}\n", i);
                else
                        p += snprintf(p, 128,
                                      "{\"MmapRead\":{\"mmap_id\":1,\"offset\":%d,\"length\":1}}\n",
                                      i * 97);
        }
        /* One write(2) for all 100. */
        cr_assert(eq(sz, (size_t) write(c.fd, batch, (size_t) (p - batch)), (size_t) (p - batch)));
        for (int i = 0; i < 100; i++) {
                recv_line(&c);
                if (i % 10 == 9)
                        cr_assert(eq(str, c.line,
                                     S(INVALID "MmapRead: field 'offset' must be a non-negative "
                                               "integer (got -%d)\",\"errno\":22}",
                                       i)));
                else
                        cr_assert(eq(str, c.line,
                                     S("{\"status\":\"success\",\"data\":[%u]}", pat(i * 97))),
                                  "reply %d", i);
        }
        free(batch);
        cl_close(&c);
}

Test(daemon, mmap_limits_of_the_manager) {
        char *path = malloc(5002);
        cl c;

        cr_assert(not(eq(ptr, path, NULL)));
        path[0] = '/';
        memset(path + 1, 'a', 5000);
        path[5001] = 0;
        connect_to(&c);
        expect(&c, S("{\"Mmap\":{\"path\":\"%s\",\"prot\":1}}", path),
               INVALID "Mmap failed: path is longer than 4095 bytes\",\"errno\":36}");
        expect(&c, "{\"Mmap\":{\"length\":4611686018427387904,\"prot\":3}}",
               INVALID "Mmap failed: length 4611686018427387904 is too large\",\"errno\":75}");
        expect(&c, "{\"Mmap\":{\"length\":2147483648,\"prot\":3}}",
               "{\"status\":\"error\",\"kind\":\"PolicyViolation\",\"code\":\"core.memory."
               "PolicyViolation\",\"message\":\"Mmap failed: 0 "
               "bytes charged + 2147483648 exceed the limit per client of 1073741824 bytes\","
               "\"errno\":1}");
        expect_prefix(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":7}}",
                      "{\"status\":\"error\",\"kind\":\"PolicyViolation\",\"code\":\"core.memory."
                      "PolicyViolation\",\"message\":\"Mmap "
                      "failed: ");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":5}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":16}");
        free(path);
        cl_close(&c);
}

/* ============================================================================================
 * Two client processes
 * ============================================================================================ */

Test(daemon, shared_mappings_see_each_others_writes_at_once) {
        char got[16];
        peer b;
        cl a;

        connect_to(&a);
        peer_spawn(&b, 0);
        mmap_ok(&a, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        cr_assert(eq(
                u64,
                peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}"),
                2));
        /* Before any Msync. */
        expect(&a, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[65,66]}}", OK);
        peer_expect(&b, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":3}}",
                    "{\"status\":\"success\",\"data\":[65,66,108]}");
        peer_expect(&b, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":2,\"data\":[67]}}", OK);
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":3}}",
               "{\"status\":\"success\",\"data\":[65,66,67]}");
        expect(&a, "{\"Msync\":{\"mmap_id\":1}}", SYNCED);
        peer_expect(&b, "{\"Msync\":{\"mmap_id\":2}}", SYNCED);
        read_file("/data/small", 0, got, 16);
        cr_assert(eq(int, memcmp(got, "ABClo, memcapd!\n", 16), 0));
        peer_exit(&b);
        cl_close(&a);
}

Test(daemon, private_mappings_are_isolated) {
        char got[16];
        peer b;
        cl a;

        connect_to(&a);
        peer_spawn(&b, 0);
        mmap_ok(&a, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3}}");
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3}}");
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":true}}");
        expect(&a, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[33,33]}}", OK);
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[33,33]}");
        peer_expect(&b, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":2}}",
                    "{\"status\":\"success\",\"data\":[72,101]}");
        peer_expect(&b, "{\"MmapRead\":{\"mmap_id\":3,\"offset\":0,\"length\":2}}",
                    "{\"status\":\"success\",\"data\":[72,101]}");
        peer_expect(&b, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":1,\"data\":[63]}}", OK);
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[33,33]}");
        expect(&a, "{\"Msync\":{\"mmap_id\":1}}", NOT_WRITTEN);
        expect(&a, "{\"Munmap\":{\"mmap_id\":1}}", OK);
        peer_exit(&b);
        read_file("/data/small", 0, got, 16);
        cr_assert(eq(int, memcmp(got, "Hello, memcapd!\n", 16), 0),
                  "a private write reached the file");
        cl_close(&a);
}

/* ============================================================================================
 * Ownership of ids across processes
 * ============================================================================================ */

Test(daemon, a_foreign_id_is_not_found_exactly_like_a_missing_one) {
        static const char *const calls[][2] = {
                {"MmapRead", ",\"offset\":0,\"length\":1"},
                {"MmapWrite", ",\"offset\":0,\"data\":[1]"},
                {"Msync", ""},
                {"Mprotect", ",\"prot\":1"},
                {"MmapFd", ""},
                {"Munmap", ""},
        };
        peer b;
        cl a;

        connect_to(&a);
        peer_spawn(&b, 0);
        mmap_ok(&a, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
                const char *name = calls[i][0], *rest = calls[i][1];
                char *foreign = strdup(peer_call(&b, S("{\"%s\":{\"mmap_id\":1%s}}", name, rest)));
                const char *missing = peer_call(&b, S("{\"%s\":{\"mmap_id\":77%s}}", name, rest));

                cr_assert(eq(str, foreign,
                             S("{\"status\":\"error\",\"kind\":\"NotFound\",\"code\":\"core.memory."
                               "NotFound\",\"message\":\"%s failed: "
                               "Mmap 1 not found\",\"errno\":2}",
                               name)));
                cr_assert(eq(str, (char *) missing,
                             S("{\"status\":\"error\",\"kind\":\"NotFound\",\"code\":\"core.memory."
                               "NotFound\",\"message\":\"%s failed: "
                               "Mmap 77 not found\",\"errno\":2}",
                               name)));
                cr_assert(not(b.got_fd));
                free(foreign);
        }
        /* Nothing happened to the mapping. */
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1}}",
               "{\"status\":\"success\",\"data\":[72]}");
        expect(&a, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[74]}}", OK);
        /* With SystemInfo (root has it by default) MmapStats of a foreign id works... */
        peer_expect(&b, "{\"MmapStats\":{\"mmap_id\":1}}",
                    S("{\"status\":\"success\",\"data\":{\"id\":1,\"path\":\"/data/small\","
                      "\"offset\":0,\"length\":16,\"prot\":{\"read\":true,\"write\":true,"
                      "\"exec\":false},\"flags\":\"Shared\",\"owner_pid\":%d}}",
                      (int) getpid()));
        peer_expect(&b, "{\"MmapStats\":{\"mmap_id\":2}}", NOT_FOUND("MmapStats", 2));
        /* ...and MmapList holds the caller's own mappings only... */
        peer_expect(&b, "{\"MmapList\":{}}", "{\"status\":\"success\",\"data\":[]}");
        cr_assert(eq(u64, peer_mmap(&b, "{\"Mmap\":{\"length\":4096,\"prot\":1}}"), 2));
        peer_expect(&b, "{\"MmapList\":{}}",
                    S("{\"status\":\"success\",\"data\":[{\"id\":2,\"path\":null,\"offset\":0,"
                      "\"length\":4096,\"prot\":{\"read\":true,\"write\":false,\"exec\":false},"
                      "\"flags\":\"Private\",\"owner_pid\":%d}]}",
                      b.pid));
        /* ...unless it asks for every client's. */
        peer_expect(&b, "{\"MmapList\":{\"all\":true}}",
                    S("{\"status\":\"success\",\"data\":[{\"id\":1,\"path\":\"/data/small\","
                      "\"offset\":0,\"length\":16,\"prot\":{\"read\":true,\"write\":true,"
                      "\"exec\":false},\"flags\":\"Shared\",\"owner_pid\":%d},{\"id\":2,"
                      "\"path\":null,\"offset\":0,\"length\":4096,\"prot\":{\"read\":true,"
                      "\"write\":false,\"exec\":false},\"flags\":\"Private\",\"owner_pid\":%d}]}",
                      (int) getpid(), b.pid));
        expect(&a, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":1}}",
               NOT_FOUND("MmapRead", 2));
        peer_exit(&b);
        cl_close(&a);
}

Test(daemon, connections_of_one_process_share_its_ids) {
        peer b;

        peer_spawn(&b, 0);
        cr_assert(eq(u64, peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}"), 1));
        peer_cmd(&b, "!connect", '-');
        peer_expect(&b, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
                    "{\"status\":\"success\",\"data\":[72,101]}");
        peer_expect(&b, "{\"Munmap\":{\"mmap_id\":1}}", OK);
        peer_cmd(&b, "!close", '-');
        peer_expect(&b, "{\"Munmap\":{\"mmap_id\":1}}", NOT_FOUND("Munmap", 1));
        peer_exit(&b);
}

/* ============================================================================================
 * Clean-up when a client goes
 * ============================================================================================ */

Test(daemon, a_client_that_exits_loses_its_mappings_also_with_several_connections) {
        int base_fds;
        char got[3];
        peer b;

        cr_assert(eq(int, daemon_maps(), 0));
        pattern_file("/data/a", 4096);
        pattern_file("/data/b", 4096);
        pattern_file("/data/c", 4096);
        /* Settled: the daemon may still be closing the connection that checked it was up. */
        base_fds = daemon_fds();
        for (int i = 0; i < 50; i++) {
                sleep_ms(20);
                if (daemon_fds() == base_fds)
                        break;
                base_fds = daemon_fds();
        }
        peer_spawn(&b, 0);
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/a\",\"prot\":3,\"shared\":true}}");
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/b\",\"prot\":3}}");
        peer_cmd(&b, "!connect", '-');
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/c\",\"prot\":1,\"shared\":true}}");
        peer_mmap(&b, "{\"Mmap\":{\"length\":8192,\"prot\":3,\"shared\":true}}");
        peer_cmd(&b, "!connect", '-');
        peer_mmap(&b, "{\"Mmap\":{\"length\":8192,\"prot\":3}}");
        peer_expect(&b, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1,2,3]}}", OK);
        cr_assert(eq(int, daemon_maps(), 4));
        peer_exit(&b);
        cr_assert(eq(int, poll_until(daemon_maps, 0, 2000), 0),
                  "the exited client's mappings are still in the daemon");
        cr_assert(eq(int, poll_until(daemon_fds, base_fds, 2000), base_fds),
                  "the daemon holds descriptors of the exited client");
        read_file("/data/a", 0, got, 3);
        cr_assert(eq(int, memcmp(got, "\1\2\3", 3), 0));
}

Test(daemon, a_killed_client_loses_its_mappings) {
        peer b;

        peer_spawn(&b, 0);
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1,\"shared\":true}}");
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        cr_assert(eq(int, daemon_maps(), 2));
        kill(b.pid, SIGKILL);
        waitpid(b.pid, NULL, 0);
        b.child = 0;
        cl_close(&b.ctl);
        cr_assert(eq(int, poll_until(daemon_maps, 0, 2000), 0));
}

Test(daemon, a_closed_connection_alone_keeps_the_mappings) {
        int maps;
        cl a;

        connect_to(&a);
        mmap_ok(&a, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":true}}");
        mmap_ok(&a, "{\"Mmap\":{\"length\":4096,\"prot\":3,\"shared\":true}}");
        maps = daemon_maps();
        cr_assert(eq(int, maps, 2));
        cl_close(&a);
        sleep_ms(200);
        cr_assert(eq(int, daemon_maps(), maps));
        connect_to(&a);
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[72,101]}");
        expect(&a, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[5]}}", OK);
        cl_close(&a);
}

Test(daemon, a_new_process_never_sees_an_exited_processs_ids) {
        peer b, c;
        int pid_b;

        peer_spawn(&b, 0);
        cr_assert(eq(u64, peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}"), 1));
        pid_b = b.pid;
        peer_exit(&b);
        cr_assert(eq(int, poll_until(daemon_maps, 0, 2000), 0));
        peer_spawn(&c, 0);
        cr_assert(not(eq(int, c.pid, pid_b)));
        peer_expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1}}",
                    NOT_FOUND("MmapRead", 1));
        peer_expect(&c, "{\"MmapList\":{}}", "{\"status\":\"success\",\"data\":[]}");
        cr_assert(eq(u64, peer_mmap(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}"), 2));
        peer_exit(&c);
}

Test(daemon, a_connection_outliving_its_process_is_closed) {
        const char *pid_text;
        peer b;

        /*
         * The connection's identity is the process that connected. A child that inherited the
         * socket must not go on mapping under the identity of a process that is gone: those
         * mappings would never be released.
         */
        peer_spawn(&b, 0);
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        pid_text = peer_cmd(&b, "!forkexit", '-');
        cr_assert(eq(int, wait_for(b.child, 5000), 0), "the peer's first process did not exit");
        b.child = 0;
        b.pid = (pid_t) strtol(pid_text, NULL, 10);
        cr_assert(eq(int, poll_until(daemon_maps, 0, 2000), 0));
        peer_expect(&b, "!eof", "eof");
        cr_assert(eq(int, daemon_maps(), 0));
        /* Its own new connection is its own identity. */
        peer_cmd(&b, "!close", '-');
        peer_cmd(&b, "!connect", '-');
        peer_expect(&b, "{\"Hello\":{}}", hello_reply(ALL_CAPS, b.pid, 0));
        peer_exit(&b);
}

/* ============================================================================================
 * Paths: traversal, symlinks and special files
 * ============================================================================================ */

static void expect_refused(cl *c, const char *path, const char *kind) {
        const char *got = call(c, S("{\"Mmap\":{\"path\":\"%s\",\"prot\":1}}", path));

        cr_assert(starts_with(got, S("{\"status\":\"error\",\"kind\":\"%s\",\"code\":"
                                     "\"core.memory.%s\",\"message\":\"Mmap failed: ",
                                     kind, kind)),
                  "%s: %s", path, got);
        cr_assert(contains(got, "\"errno\":"), "%s: %s", path, got);
}

static void make_escapes(void) {
        cr_assert(eq(int, symlink("/etc/passwd", root_path("/data/abs")), 0));
        cr_assert(
                eq(int, symlink("../../../../../../../../etc/passwd", root_path("/data/rel")), 0));
        cr_assert(eq(int, symlink("../..", root_path("/data/up")), 0));
        cr_assert(eq(int, symlink("/proc/self/root", root_path("/data/magic")), 0));
        cr_assert(eq(int, symlink(root_path("/data/small"), root_path("/data/abs_inside")), 0));
        cr_assert(eq(int, symlink("small", root_path("/data/inside")), 0));
        cr_assert(eq(int, symlink("../data/./small", root_path("/data/inside2")), 0));
        cr_assert(eq(int, symlink("loop", root_path("/data/loop")), 0));
}

static void expect_escapes_refused(cl *c) {
        expect_refused(c, "/../x", "PermissionDenied");
        expect_refused(c, "/../../etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/../../etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/../..", "PermissionDenied");
        expect_refused(c, "/data/abs", "PermissionDenied");
        expect_refused(c, "/data/rel", "PermissionDenied");
        expect_refused(c, "/data/up/etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/magic/etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/magic", "PermissionDenied");
        expect_refused(c, "/data/abs_inside", "PermissionDenied");
        expect_refused(c, "/data/loop", "PermissionDenied");
}

Test(daemon, traversal_and_symlinks_cannot_escape_the_root) {
        cl c;

        make_escapes();
        connect_to(&c);
        expect_escapes_refused(&c);
        /* Without allow_symlinks no symlink is followed, even one that stays inside. */
        expect_refused(&c, "/data/inside", "PermissionDenied");
        expect_refused(&c, "/data/inside2", "PermissionDenied");
        /* ".." that stays inside, doubled and "." components are fine. */
        expect(&c, "{\"Mmap\":{\"path\":\"/data/../data/./small\",\"prot\":1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":16}");
        expect(&c, "{\"Mmap\":{\"path\":\"//data//small\",\"prot\":1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,2],\"mmap_id\":2,\"length\":16}");
        cr_assert(eq(int, daemon_maps(), 2));
        cl_close(&c);
}

Test(daemon, special_files_are_refused_without_blocking) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int64_t t0;
        int s;
        cl c;

        cr_assert(eq(int, mkfifo(root_path("/data/fifo"), 0666), 0));
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strscpy(sa.sun_path, sizeof(sa.sun_path), root_path("/data/sock"));
        cr_assert(eq(int, bind(s, (struct sockaddr *) &sa, sizeof(sa)), 0));
        cr_assert(eq(int, mknod(root_path("/data/null"), S_IFCHR | 0666, makedev(1, 3)), 0));
        connect_to(&c);
        t0 = now_ms();
        expect(&c, "{\"Mmap\":{\"path\":\"/data/fifo\",\"prot\":1}}",
               INVALID "Mmap failed: '/data/fifo': not a regular file\",\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/fifo\",\"prot\":3,\"shared\":true}}",
               INVALID "Mmap failed: '/data/fifo': not a regular file\",\"errno\":22}");
        cr_assert(lt(i64, now_ms() - t0, 2000), "a FIFO made the daemon wait");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/sock\",\"prot\":1}}",
               INVALID "Mmap failed: '/data/sock': not a regular file\",\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/null\",\"prot\":1}}",
               INVALID "Mmap failed: '/data/null': not a regular file\",\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data\",\"prot\":1}}",
               INVALID "Mmap failed: '/data': not a regular file\",\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"path\":\"/\",\"prot\":1}}",
               INVALID "Mmap failed: '/': not a regular file\",\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/nothing\",\"prot\":1}}",
               "{\"status\":\"error\",\"kind\":\"NotFound\",\"code\":\"core.memory.NotFound\","
               "\"message\":\"Mmap failed: "
               "'/data/nothing': No such file or directory\",\"errno\":2}");
        expect_prefix(&c, "{\"Mmap\":{\"path\":\"/data/small/x\",\"prot\":1}}",
                      "{\"status\":\"error\",\"kind\":\"");
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        close(s);
        cl_close(&c);
}

/* ============================================================================================
 * A file truncated under a mapping
 * ============================================================================================ */

Test(daemon, truncation_under_a_mapping_gives_io_and_hurts_nobody_else) {
        peer b;
        cl a;

        connect_to(&a);
        peer_spawn(&b, 0);
        mmap_ok(&a, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        cr_assert(eq(int, truncate(root_path("/data/big"), 4096), 0));
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":8192,\"length\":16}}",
               "{\"status\":\"error\",\"kind\":\"Io\",\"code\":\"core.memory.Io\",\"message\":"
               "\"MmapRead failed: 16 bytes "
               "at offset 8192 of Mmap 1 lie past the end of its file, which shrank under it to "
               "4096 bytes\",\"errno\":5}");
        expect_prefix(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":4000,\"length\":200}}",
                      "{\"status\":\"error\",\"kind\":\"Io\",\"code\":\"core.memory.Io\","
                      "\"message\":\"MmapRead failed: ");
        expect_prefix(&a, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":8192,\"data\":[1,2]}}",
                      "{\"status\":\"error\",\"kind\":\"Io\",\"code\":\"core.memory.Io\","
                      "\"message\":\"MmapWrite failed: ");
        expect_prefix(&a,
                      "{\"MmapRead\":{\"mmap_id\":1,\"offset\":5000,\"length\":1,"
                      "\"encoding\":\"base64\"}}",
                      "{\"status\":\"error\",\"kind\":\"Io\"");
        /* What the file still holds can be read; writes wait for a new mapping (the Msync
         * section below has the rest of the faulted state). Others are not affected. */
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
               S("{\"status\":\"success\",\"data\":[%u,%u]}", pat(0), pat(1)));
        expect_prefix(&a, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1,2]}}",
                      "{\"status\":\"error\",\"kind\":\"Io\",\"code\":\"core.memory.Io\","
                      "\"message\":\"MmapWrite failed: "
                      "Mmap 1 is faulted: its file shrank under it");
        peer_expect(&b, "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":2}}",
                    "{\"status\":\"success\",\"data\":[72,101]}");
        peer_expect(&b, "{\"Hello\":{}}", hello_reply(ALL_CAPS, b.pid, 0));
        /* Unmapping a truncated mapping is fine too. */
        expect(&a, "{\"Munmap\":{\"mmap_id\":1}}", OK);
        peer_exit(&b);
        cl_close(&a);
}

/* ============================================================================================
 * The original's wire format, page ranges and faulted mappings (issues 9 and 16)
 * ============================================================================================ */

#define ERROR_REPLY(kind, msg, errno_)                                                             \
        "{\"status\":\"error\",\"kind\":\"" kind "\",\"code\":\"core.memory." kind                 \
        "\",\"message\":\"" msg "\",\"errno\":" errno_ "}"

/* A client of the original manager, request for request as its documentation writes them. */
Test(daemon, a_client_of_the_original_works_unchanged) {
        cl c;

        connect_to(&c);
        expect(&c,
               "{\"Mmap\": {\"path\": \"/data/big\", \"offset\": 0, \"length\": 4096, \"prot\": 3, "
               "\"shared\": true}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":4096}");
        expect(&c,
               "{\"MmapWrite\": {\"mmap_id\": 1, \"offset\": 0, \"data\": [72, 101, 108, 108, "
               "111]}}",
               OK);
        expect(&c, "{\"MmapRead\": {\"mmap_id\": 1, \"offset\": 0, \"length\": 5}}",
               "{\"status\":\"success\",\"data\":[72,101,108,108,111]}");
        expect(&c, "{\"Msync\": {\"mmap_id\": 1}}", SYNCED);
        expect(&c, "{\"MmapStats\": {\"mmap_id\": 1}}",
               S("{\"status\":\"success\",\"data\":{\"id\":1,\"path\":\"/data/big\",\"offset\":0,"
                 "\"length\":4096,\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                 "\"flags\":\"Shared\",\"owner_pid\":%d}}",
                 (int) getpid()));
        expect(&c, "{\"Munmap\": {\"mmap_id\": 1}}", OK);
        /* "length": 0 maps the whole file, like no length at all. */
        expect(&c,
               "{\"Mmap\": {\"path\": \"/data/small\", \"offset\": 0, \"length\": 0, \"prot\": 1, "
               "\"shared\": false}}",
               "{\"status\":\"success\",\"data\":[0,0,0,2],\"mmap_id\":2,\"length\":16}");
        expect(&c,
               "{\"Mmap\": {\"path\": \"/data/big\", \"offset\": 5000, \"length\": 0, "
               "\"prot\": 1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,3],\"mmap_id\":3,\"length\":7288}");
        /* No offset in MmapRead and MmapWrite means offset 0. */
        expect(&c, "{\"MmapRead\": {\"mmap_id\": 2, \"length\": 5}}",
               "{\"status\":\"success\",\"data\":[72,101,108,108,111]}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":8,\"prot\":3}}");
        expect(&c, "{\"MmapWrite\": {\"mmap_id\": 4, \"data\": [9, 8]}}", OK);
        expect(&c, "{\"MmapRead\": {\"mmap_id\": 4, \"offset\": 0, \"length\": 3}}",
               "{\"status\":\"success\",\"data\":[9,8,0]}");
        /* Anonymous memory still needs a length other than 0. */
        expect_prefix(&c, "{\"Mmap\":{\"length\":0,\"prot\":3}}", INVALID);
        cl_close(&c);
}

Test(daemon, mprotect_of_one_page_refuses_writes_there_and_nowhere_else) {
        int pid = (int) getpid();
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        expect(&c, "{\"Mprotect\":{\"mmap_id\":1,\"offset\":4096,\"length\":4096,\"prot\":1}}", OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":4100,\"data\":[1]}}",
               ERROR_REPLY("PermissionDenied",
                           "MmapWrite failed: Mmap 1: the page at offset 4100 is not writable "
                           "(Mprotect); nothing was written",
                           "13"));
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":4094,\"data\":[1,2,3]}}",
               ERROR_REPLY("PermissionDenied",
                           "MmapWrite failed: Mmap 1: the page at offset 4096 is not writable "
                           "(Mprotect); nothing was written",
                           "13"));
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":4094,\"data\":[1,2]}}", OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":8192,\"data\":[3]}}", OK);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":4094,\"length\":3}}",
               S("{\"status\":\"success\",\"data\":[1,2,%u]}", pat(4096)));
        /* Stats keep the original's fields and say which part has which protection. */
        expect(&c, "{\"MmapStats\":{\"mmap_id\":1}}",
               S("{\"status\":\"success\",\"data\":{\"id\":1,\"path\":\"/data/big\",\"offset\":0,"
                 "\"length\":12288,\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                 "\"flags\":\"Shared\",\"owner_pid\":%d,\"ranges\":["
                 "{\"offset\":0,\"length\":4096,\"prot\":{\"read\":true,\"write\":true,"
                 "\"exec\":false}},"
                 "{\"offset\":4096,\"length\":4096,\"prot\":{\"read\":true,\"write\":false,"
                 "\"exec\":false}},"
                 "{\"offset\":8192,\"length\":4096,\"prot\":{\"read\":true,\"write\":true,"
                 "\"exec\":false}}]}}",
                 pid));
        expect_prefix(&c, "{\"MmapList\":{}}",
                      "{\"status\":\"success\",\"data\":[{\"id\":1,\"path\":\"/data/big\","
                      "\"offset\":0,\"length\":12288,\"prot\":{\"read\":true,\"write\":true,"
                      "\"exec\":false},\"flags\":\"Shared\"");
        cr_assert(contains(c.line, "\"ranges\":[{\"offset\":0,\"length\":4096"), "%s", c.line);
        /* The whole mapping again: one protection, no ranges. */
        expect(&c, "{\"Mprotect\":{\"mmap_id\":1,\"prot\":3}}", OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":4100,\"data\":[1]}}", OK);
        expect(&c, "{\"MmapStats\":{\"mmap_id\":1}}",
               S("{\"status\":\"success\",\"data\":{\"id\":1,\"path\":\"/data/big\",\"offset\":0,"
                 "\"length\":12288,\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                 "\"flags\":\"Shared\",\"owner_pid\":%d}}",
                 pid));
        cl_close(&c);
}

Test(daemon, ranges_are_page_aligned_and_inside_the_mapping) {
        static const char *const calls[] = {
                "\"Msync\":{\"mmap_id\":1,",
                "\"Mprotect\":{\"mmap_id\":1,\"prot\":1,",
                "\"Madvise\":{\"mmap_id\":1,\"advice\":\"WILLNEED\",",
                "\"Mlock\":{\"mmap_id\":1,",
                "\"Munlock\":{\"mmap_id\":1,",
        };
        cl c;

        MC_SKIP_UNDER_VALGRIND("mlock2 is not implemented");
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
                const char *name = strchr(calls[i], '"') + 1;
                int n = (int) (strchr(name, '"') - name);

                expect(&c, S("{%s\"offset\":100}}", calls[i]),
                       S(ERROR_REPLY("AlignmentError",
                                     "%.*s failed: offset 100 is not on a page boundary: a range "
                                     "starts and ends where the file offset (0 + the offset) is a "
                                     "multiple of the page size, 4096, or at the mapping's start "
                                     "or end",
                                     "22"),
                         n, name));
                expect(&c, S("{%s\"length\":5000}}", calls[i]),
                       S(ERROR_REPLY("AlignmentError",
                                     "%.*s failed: end 5000 is not on a page boundary: a range "
                                     "starts and ends where the file offset (0 + the offset) is a "
                                     "multiple of the page size, 4096, or at the mapping's start "
                                     "or end",
                                     "22"),
                         n, name));
                expect(&c, S("{%s\"offset\":8192,\"length\":8192}}", calls[i]),
                       S(ERROR_REPLY("InvalidArgument",
                                     "%.*s failed: 8192 bytes at offset 8192 end past Mmap 1 "
                                     "(12288 bytes)",
                                     "22"),
                         n, name));
                expect(&c, S("{%s\"offset\":12288}}", calls[i]),
                       S(ERROR_REPLY("InvalidArgument",
                                     "%.*s failed: offset 12288 is not inside Mmap 1 (12288 "
                                     "bytes)",
                                     "22"),
                         n, name));
                expect(&c, S("{%s\"length\":0}}", calls[i]),
                       S(ERROR_REPLY("InvalidArgument",
                                     "%.*s failed: length 0 is an empty range (omit 'length' for "
                                     "the rest of the mapping)",
                                     "22"),
                         n, name));
                /* A good range, and one to the end. */
                expect_prefix(&c, S("{%s\"offset\":4096,\"length\":4096}}", calls[i]),
                              "{\"status\":\"success\"");
                expect_prefix(&c, S("{%s\"offset\":8192}}", calls[i]), "{\"status\":\"success\"");
        }
        /* A mapping that starts inside a page: its ranges follow the file's pages. */
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"offset\":100,\"prot\":3}}");
        expect(&c, "{\"Mprotect\":{\"mmap_id\":2,\"offset\":3996,\"length\":4096,\"prot\":1}}", OK);
        expect_prefix(&c, "{\"Mprotect\":{\"mmap_id\":2,\"offset\":4096,\"prot\":1}}",
                      "{\"status\":\"error\",\"kind\":\"AlignmentError\"");
        cl_close(&c);
}

Test(daemon, msync_of_a_truncated_file_is_io_until_the_mapping_is_made_again) {
        char got[4];
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":9000,\"data\":[1,2,3]}}", OK);
        cr_assert(eq(int, truncate(root_path("/data/big"), 4096), 0));
        /* The bytes at 9000 are gone: Msync must not say success. */
        expect(&c, "{\"Msync\":{\"mmap_id\":1}}",
               ERROR_REPLY("Io",
                           "Msync failed: Mmap 1 is faulted: its file shrank under it to 4096 "
                           "bytes (the mapping ends at byte 12288 of the file), so data written "
                           "past the end is lost; Munmap it and Mmap it again",
                           "5"));
        expect_prefix(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[7]}}",
                      "{\"status\":\"error\",\"kind\":\"Io\",\"code\":\"core.memory.Io\","
                      "\"message\":\"MmapWrite failed: Mmap "
                      "1 is faulted");
        expect_prefix(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":4000,\"length\":200}}",
                      "{\"status\":\"error\",\"kind\":\"Io\"");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
               S("{\"status\":\"success\",\"data\":[%u,%u]}", pat(0), pat(1)));
        /* Stats say so; a file grown back does not undo it. */
        cr_assert(eq(int, truncate(root_path("/data/big"), 3 * 4096), 0));
        expect_prefix(&c, "{\"Msync\":{\"mmap_id\":1}}", "{\"status\":\"error\",\"kind\":\"Io\"");
        call(&c, "{\"MmapStats\":{\"mmap_id\":1}}");
        cr_assert(contains(c.line, ",\"faulted\":true}}"), "%s", c.line);
        /* Unmap it and map it again: healthy. */
        expect(&c, "{\"Munmap\":{\"mmap_id\":1}}", OK);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":9000,\"data\":[4,5,6]}}", OK);
        expect(&c, "{\"Msync\":{\"mmap_id\":2}}", SYNCED);
        read_file("/data/big", 9000, got, 3);
        cr_assert(eq(int, memcmp(got, "\4\5\6", 3), 0));
        cl_close(&c);
}

Test(daemon, madvise_offers_only_advice_that_harms_no_one_else) {
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[90]}}", OK);
        expect(&c, "{\"Madvise\":{\"mmap_id\":1,\"advice\":\"DONTNEED\"}}", OK);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"length\":1}}",
               "{\"status\":\"success\",\"data\":[90]}");
        expect(&c, "{\"Madvise\":{\"mmap_id\":1,\"advice\":\"SEQUENTIAL\",\"offset\":4096}}", OK);
        expect(&c, "{\"Madvise\":{\"mmap_id\":1,\"advice\":\"REMOVE\"}}",
               ERROR_REPLY("PolicyViolation",
                           "Madvise failed: advice REMOVE is not offered to clients: it frees the "
                           "file's storage under every reader of the range; write zeros instead",
                           "1"));
        expect_prefix(&c, "{\"Madvise\":{\"mmap_id\":1,\"advice\":\"MERGEABLE\"}}",
                      "{\"status\":\"error\",\"kind\":\"PolicyViolation\"");
        expect(&c, "{\"Madvise\":{\"mmap_id\":1,\"advice\":\"SOON\"}}",
               INVALID "Madvise: field 'advice' must name an advice, such as \\\"WILLNEED\\\" "
                       "(got \\\"SOON\\\")\",\"errno\":22}");
        expect(&c, "{\"Madvise\":{\"mmap_id\":2,\"advice\":\"WILLNEED\"}}",
               NOT_FOUND("Madvise", 2));
        cl_close(&c);
}

Test(daemon, mlock_counts_against_the_clients_locked_quota) {
        cl c;

        MC_SKIP_UNDER_VALGRIND("mlock2 is not implemented");
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"length\":2097152,\"prot\":3}}");
        expect(&c, "{\"Mlock\":{\"mmap_id\":1,\"length\":1048576}}", OK);
        expect(&c, "{\"Mlock\":{\"mmap_id\":1,\"length\":4096}}", OK);
        expect(&c, "{\"Mlock\":{\"mmap_id\":1,\"offset\":1048576,\"length\":4096}}",
               ERROR_REPLY("PolicyViolation",
                           "Mlock failed: Mlock of 4096 more bytes: the client has 1048576 bytes "
                           "locked, the limit per client is 1048576",
                           "1"));
        call(&c, "{\"MmapStats\":{\"mmap_id\":1}}");
        cr_assert(contains(c.line, ",\"locked\":1048576}}"), "%s", c.line);
        expect(&c, "{\"Munlock\":{\"mmap_id\":1,\"length\":4096}}", OK);
        expect(&c, "{\"Mlock\":{\"mmap_id\":1,\"offset\":1048576,\"length\":4096}}", OK);
        expect(&c, "{\"Munlock\":{\"mmap_id\":1}}", OK);
        call(&c, "{\"MmapStats\":{\"mmap_id\":1}}");
        cr_assert(not(contains(c.line, "locked")), "%s", c.line);
        cl_close(&c);
}

/* ============================================================================================
 * Malformed input
 * ============================================================================================ */

typedef struct bad_line {
        const char *line;
        const char *says; /* part of the message: the field or the problem */
} bad_line;

static const bad_line bad_lines[] = {
        {"{\"Hello\":", "invalid JSON"},
        {"{\"Hello\":{}} x", "invalid JSON"},
        {"not json", "invalid JSON"},
        {"[1]", "request must be a JSON object"},
        {"\"Hello\"", "request must be a JSON object"},
        {"42", "request must be a JSON object"},
        {"null", "request must be a JSON object"},
        {"{}", "exactly one call"},
        {"{\"Hello\":{},\"MmapList\":{}}", "exactly one call"},
        {"{\"Nope\":{}}", "unknown call 'Nope'"},
        {"{\"hello\":{}}", "unknown call 'hello'"},
        {"{\"Hello\":[]}", "Hello: the call's value must be an object"},
        {"{\"Hello\":null}", "Hello: the call's value must be an object"},
        {"{\"Hello\":{\"x\":1}}", "Hello: unknown field 'x'"},
        {"{\"Msync\":{\"mmap_id\":1,\"flags\":0}}", "Msync: unknown field 'flags'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":0}}", "MmapRead: missing field 'length'"},
        {"{\"Mmap\":{\"path\":\"/data/small\"}}", "Mmap: missing field 'prot'"},
        {"{\"Munmap\":{}}", "Munmap: missing field 'mmap_id'"},
        {"{\"MmapRead\":{\"mmap_id\":\"1\",\"offset\":0,\"length\":1}}", "field 'mmap_id'"},
        {"{\"Mmap\":{\"path\":5,\"prot\":1}}", "field 'path'"},
        {"{\"Mmap\":{\"path\":\"/data/small\",\"prot\":true}}", "field 'prot'"},
        {"{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":1}}", "field 'shared'"},
        {"{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":\"true\"}}", "field 'shared'"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"AQ==\"}}", "field 'data'"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1],\"encoding\":\"base64\"}}",
         "field 'data'"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1,\"2\"]}}", "field 'data'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1,\"encoding\":5}}",
         "field 'encoding'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1,\"encoding\":\"hex\"}}",
         "field 'encoding'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":-1,\"length\":1}}", "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":-1,\"offset\":0,\"length\":1}}", "field 'mmap_id'"},
        {"{\"MmapRead\":{\"mmap_id\":0,\"offset\":0,\"length\":1}}", "field 'mmap_id'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":-5}}", "field 'length'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":1.5,\"length\":1}}", "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":1.0,\"length\":1}}", "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":1e3,\"length\":1}}", "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":-0,\"length\":1}}", "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":9223372036854775808,\"length\":1}}",
         "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":99999999999999999999999,\"length\":1}}",
         "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":1,\"offset\":1e400,\"length\":1}}", "field 'offset'"},
        {"{\"MmapRead\":{\"mmap_id\":18446744073709551617,\"offset\":0,\"length\":1}}",
         "field 'mmap_id'"},
        {"{\"Mmap\":{\"path\":\"/data/small\\u0000x\",\"prot\":1}}", "field 'path'"},
        {"{\"Mmap\":{\"path\":\"\\u0000\",\"prot\":1}}", "field 'path'"},
        {"{\"Mmap\":{\"path\":\"\",\"prot\":1}}", "field 'path'"},
        {"{\"Mmap\":{\"path\":\"data/small\",\"prot\":1}}", "field 'path'"},
        {"{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"prot\":1}}", "duplicate"},
        {"{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"pr\\u006ft\":1}}", "duplicate"},
        {"{\"Hello\":{},\"Hello\":{}}", "duplicate"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"SGVsbG8\",\"encoding\":\"base64\"}"
         "}",
         "field 'data' is not valid base64"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"SGVsbG8-\",\"encoding\":\"base64\"}"
         "}",
         "field 'data' is not valid base64"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"SGVs bG8=\",\"encoding\":"
         "\"base64\"}}",
         "field 'data' is not valid base64"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"SGVsbG9=\",\"encoding\":\"base64\"}"
         "}",
         "field 'data' is not valid base64"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[256]}}", "field 'data' element 0"},
        {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1,-1]}}", "field 'data' element 1"},
        {"{\"Mmap\":{\"path\":\"/data/small\",\"prot\":8}}", "field 'prot'"},
        {"{\"Mprotect\":{\"mmap_id\":1,\"prot\":8}}", "field 'prot'"},
        {"{\"Mmap\":{\"prot\":1}}", "field 'length'"},
        {"{\"Mmap\":{\"length\":10,\"offset\":4096,\"prot\":1}}", "field 'offset'"},
        {"\xff\xfe", "invalid JSON"},
        {"{\"Mmap\":{\"path\":\"/data/\xc3\",\"prot\":1}}", "invalid JSON"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
         "]]]]]]"
         "]]]]]]]",
         ""},
        {"   ", ""},
};

Test(daemon, malformed_requests_get_invalid_argument_and_the_connection_stays_usable) {
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        for (size_t i = 0; i < ELEMENTSOF(bad_lines); i++) {
                const char *got = call(&c, bad_lines[i].line);

                cr_assert(starts_with(got, INVALID), "%s\n  -> %s", bad_lines[i].line, got);
                cr_assert(contains(got, bad_lines[i].says), "%s\n  -> %s\n  lacks %s",
                          bad_lines[i].line, got, bad_lines[i].says);
                cr_assert(contains(got, "\",\"errno\":22}"), "%s -> %s", bad_lines[i].line, got);
                cr_assert(eq(sz, strlen(got), strcspn(got, "\n\r")));
                expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        }
        /* A raw NUL byte inside the line. */
        cr_assert(eq(int, cl_send(&c, "{\"Hello\":\0{}}\n", 14), 0));
        cr_assert(starts_with(recv_line(&c), INVALID), "got %s", c.line);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        /* None of it touched the mapping. */
        expect(&c,
               "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":16,\"encoding\":\"base64\"}}",
               "{\"status\":\"success\",\"data\":\"SGVsbG8sIG1lbWNhcGQhCg==\"}");
        expect(&c, "{\"MmapList\":{}}",
               S("{\"status\":\"success\",\"data\":[{\"id\":1,\"path\":\"/data/small\","
                 "\"offset\":0,\"length\":16,\"prot\":{\"read\":true,\"write\":true,"
                 "\"exec\":false},\"flags\":\"Shared\",\"owner_pid\":%d}]}",
                 (int) getpid()));
        cl_close(&c);
}

Test(daemon, documented_decoder_messages_are_exact) {
        cl c;

        connect_to(&c);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":-1}}",
               INVALID "MmapRead: field 'length' must be a non-negative integer (got -1)\","
                       "\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"length\":10,\"offset\":4096,\"prot\":3}}",
               INVALID "Mmap: field 'offset' must be 0 for an anonymous mapping (got 4096)\","
                       "\"errno\":22}");
        expect(&c, "{\"Msync\":{\"mmap_id\":1,\"flags\":1}}",
               INVALID "Msync: unknown field 'flags'\",\"errno\":22}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[0,1,2,256]}}",
               INVALID "MmapWrite: field 'data' element 3 must be an integer from 0 to 255 (got "
                       "256)\",\"errno\":22}");
        cl_close(&c);
}

Test(daemon, an_empty_line_gets_a_reply_too) {
        cl c;

        /* One reply per request line, so pipelining clients can count: an empty line is a
         * malformed request like any other. */
        connect_to(&c);
        expect_prefix(&c, "", INVALID "empty request");
        expect_prefix(&c, "\r", INVALID "empty request");
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&c);
}

/* ============================================================================================
 * Floods, slow readers and half-closed connections
 * ============================================================================================ */

Test(daemon, a_flooder_that_does_not_read_is_paused_and_the_others_are_served) {
        static const char req[] = "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":8192,"
                                  "\"encoding\":\"base64\"}}\n";
        char *chunk = malloc(sizeof(req) * 256);
        uint64_t sent = 0;
        int64_t t0, idle_since;
        int flags;
        cl flood, other;

        cr_assert(not(eq(ptr, chunk, NULL)));
        for (int i = 0; i < 256; i++)
                memcpy(chunk + i * (sizeof(req) - 1), req, sizeof(req) - 1);
        connect_to(&flood);
        connect_to(&other);
        mmap_ok(&flood, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1}}");
        flags = fcntl(flood.fd, F_GETFL);
        cr_assert(eq(int, fcntl(flood.fd, F_SETFL, flags | O_NONBLOCK), 0));
        /* Write until the daemon stops taking requests for half a second. */
        idle_since = now_ms();
        t0 = now_ms();
        while (now_ms() - idle_since < 500 && now_ms() - t0 < 60000) {
                ssize_t k = send(flood.fd, chunk, 256 * (sizeof(req) - 1), MSG_NOSIGNAL);
                if (k > 0) {
                        sent += (uint64_t) k;
                        idle_since = now_ms();
                } else {
                        struct pollfd p = {.fd = flood.fd, .events = POLLOUT};
                        cr_assert(lt(int, (int) k, 0));
                        cr_assert(eq(int, errno, EAGAIN), "send: %s", strerror(errno));
                        poll(&p, 1, 50);
                }
        }
        cr_assert(lt(i64, now_ms() - t0, 60000), "the daemon took requests for a minute");
        /* The flooder is stuck; the other client is served promptly. */
        for (int i = 0; i < 5; i++) {
                t0 = now_ms();
                expect(&other, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
                cr_assert(lt(i64, now_ms() - t0, 1000), "a Hello took %lld ms",
                          (long long) (now_ms() - t0));
        }
        cr_assert(lt(u64, daemon_rss_kib(), 200 * 1024), "the daemon's RSS grew to %llu KiB",
                  (unsigned long long) daemon_rss_kib());
        cr_log_info("flood: %llu bytes of requests taken before the daemon paused",
                    (unsigned long long) sent);
        free(chunk);
        cl_close(&flood);
        /* The daemon drops the flooder's backlog and goes on. */
        expect(&other, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&other);
}

/* Send @n copies of @req in one go, then read them all back; every reply must equal @want. */
static void pipeline_and_drain(cl *c, const char *req, int n, const char *want, bool half_close) {
        size_t len = strlen(req);
        char *batch = malloc((len + 1) * (size_t) n);

        cr_assert(not(eq(ptr, batch, NULL)));
        for (int i = 0; i < n; i++) {
                memcpy(batch + (len + 1) * (size_t) i, req, len);
                batch[(len + 1) * (size_t) i + len] = '\n';
        }
        /* A reader thread is not needed: the requests are small enough for the socket buffer. */
        cr_assert(eq(int, cl_send(c, batch, (len + 1) * (size_t) n), 0));
        free(batch);
        if (half_close)
                cr_assert(eq(int, shutdown(c->fd, SHUT_WR), 0));
        for (int i = 0; i < n; i++) {
                int r = cl_recv_line(c, REPLY_TIMEOUT_MS);
                cr_assert(eq(int, r, 0), "reply %d of %d: %s", i + 1, n, strerror(-r));
                cr_assert(eq(str, c->line, (char *) want), "reply %d", i + 1);
        }
}

Test(daemon, a_client_that_half_closes_still_gets_every_reply) {
        char *want, *b64;
        uint8_t *bytes = malloc(65536);
        cl c;

        cr_assert(not(eq(ptr, bytes, NULL)));
        for (size_t i = 0; i < 65536; i++)
                bytes[i] = pat(i);
        write_file("/data/64k", bytes, 65536);
        b64 = base64(bytes, 65536);
        want = malloc(strlen(b64) + 64);
        cr_assert(not(eq(ptr, want, NULL)));
        snprintf(want, strlen(b64) + 64, "{\"status\":\"success\",\"data\":\"%s\"}", b64);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":1}}");
        /* 100 replies of 87 KiB each: far more than the socket holds. */
        pipeline_and_drain(&c,
                           "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":65536,"
                           "\"encoding\":\"base64\"}}",
                           100, want, true);
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        free(want);
        free(b64);
        free(bytes);
        cl_close(&c);
}

Test(daemon, bytes_after_the_last_newline_at_the_end_of_the_stream_are_no_request) {
        static const char two[] = "{\"Hello\":{}}\n{\"Hello\":{}}";
        cl c;

        connect_to(&c);
        cr_assert(eq(int, cl_send(&c, two, sizeof(two) - 1), 0));
        cr_assert(eq(int, shutdown(c.fd, SHUT_WR), 0));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), 0));
        cr_assert(eq(str, c.line, (char *) hello_reply(ALL_CAPS, getpid(), 0)));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        cl_close(&c);
}

Test(daemon, unread_descriptors_pause_the_client_before_they_exhaust_the_daemon) {
        static const char req[] = "{\"MmapFd\":{\"mmap_id\":1}}\n";
        const int n = 1000;
        char *batch = malloc((sizeof(req) - 1) * (size_t) n);
        int base, held;
        cl c;

        cr_assert(not(eq(ptr, batch, NULL)));
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":true}}");
        sleep_ms(100);
        base = daemon_fds();
        for (int i = 0; i < n; i++)
                memcpy(batch + (sizeof(req) - 1) * (size_t) i, req, sizeof(req) - 1);
        cr_assert(eq(int, cl_send(&c, batch, (sizeof(req) - 1) * (size_t) n), 0));
        free(batch);
        sleep_ms(500);
        held = daemon_fds() - base;
        cr_assert(le(int, held, 70), "the daemon holds %d descriptors for unread replies", held);
        /* Every reply still comes, each with its descriptor, in order. */
        for (int i = 0; i < n; i++) {
                int fd;

                cr_assert(eq(str, (char *) recv_line(&c),
                             "{\"status\":\"success\",\"mmap_id\":1,\"offset\":0,\"length\":16,"
                             "\"writable\":false}"),
                          "reply %d", i);
                fd = cl_take_fd(&c);
                cr_assert(ge(int, fd, 0), "reply %d came without its descriptor", i);
                close(fd);
        }
        cr_assert(eq(sz, c.n_fds, 0));
        cl_close(&c);
}

Test(daemon, processes_that_only_connected_leave_nothing_behind) {
        peer peers[5], m;
        int base;

        sleep_ms(100);
        base = daemon_fds();
        for (size_t i = 0; i < ELEMENTSOF(peers); i++) {
                peer_spawn(&peers[i], 0);
                peer_expect(&peers[i], "{\"Hello\":{}}", hello_reply(ALL_CAPS, peers[i].pid, 0));
                peer_cmd(&peers[i], "!close", '-');
        }
        cr_assert(eq(int, poll_until(daemon_fds, base, 2000), base),
                  "live processes without connections or mappings pin descriptors in the daemon");
        /* One with mappings keeps them, and loses them when it exits. */
        peer_spawn(&m, 0);
        peer_mmap(&m, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        peer_cmd(&m, "!close", '-');
        sleep_ms(200);
        cr_assert(eq(int, daemon_maps(), 1));
        peer_cmd(&m, "!connect", '-');
        peer_expect(&m, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
                    "{\"status\":\"success\",\"data\":[72,101]}");
        peer_cmd(&m, "!close", '-');
        peer_exit(&m);
        cr_assert(eq(int, poll_until(daemon_maps, 0, 2000), 0));
        for (size_t i = 0; i < ELEMENTSOF(peers); i++)
                peer_exit(&peers[i]);
        cr_assert(eq(int, poll_until(daemon_fds, base, 2000), base));
}

/* ============================================================================================
 * SIGTERM and the audit log
 * ============================================================================================ */

Test(daemon, sigterm_syncs_unmaps_and_removes_the_socket) {
        char got[16];
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3}}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":4096,\"prot\":3,\"shared\":true}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[84,69,82,77]}}", OK);
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[1]}}", OK);
        /* The client stays connected while the daemon stops. */
        daemon_stop();
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        read_file("/data/small", 0, got, 16);
        cr_assert(eq(int, memcmp(got, "TERMo, memcapd!\n", 16), 0));
        read_file("/data/big", 0, got, 1);
        cr_assert(eq(int, (uint8_t) got[0], pat(0)));
        cl_close(&c);
}

/* ============================================================================================
 * Configurations: capabilities, limits, symlinks, reload
 * ============================================================================================ */

static void init_dir(void) {
        setup_dir();
}

TestSuite(daemon_config, .init = init_dir, .fini = fini, .timeout = 120);

#define CAPS_CONFIG(nobody_caps)                                                                   \
        "{\"capabilities\": {\"0\": " ALL_CAPS ", \"65534\": " nobody_caps "}}"

Test(daemon_config, audit_log_records_every_request) {
        char *log;
        int requests = 0, seen_hello = 0, seen_denied = 0, seen_invalid = 0, seen_mmap = 0;
        peer b;
        cl c;

        daemon_start(NULL, true);
        connect_to(&c);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        expect_prefix(&c, "{\"Munmap\":{\"mmap_id\":5}}", "{\"status\":\"error\"");
        expect_prefix(&c, "not json", INVALID);
        peer_spawn(&b, NOBODY);
        peer_expect(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}",
                    DENIED "Mmap needs the FileRead capability\"}");
        peer_exit(&b);
        cl_close(&c);
        daemon_stop();
        /* Parse with jansson: each line is one record. */
        log = slurp(D.audit);
        for (char *p = log, *nl; *p; p = nl + 1) {
                json_error_t jerr;
                json_t *rec, *ev;
                const char *call_name, *outcome;
                json_int_t pid, uid;

                nl = strchr(p, '\n');
                cr_assert(not(eq(ptr, nl, NULL)), "the audit log's last line is incomplete");
                *nl = 0;
                rec = json_loads(p, 0, &jerr);
                cr_assert(not(eq(ptr, rec, NULL)), "audit line is not JSON: %s", p);
                if (!streq(json_string_value(json_object_get(rec, "operation")) ?: "", "request")) {
                        json_decref(rec);
                        continue;
                }
                requests++;
                ev = json_object_get(rec, "event");
                cr_assert(eq(int, !!json_is_object(ev), 1), "%s", p);
                call_name = json_string_value(json_object_get(ev, "call"));
                outcome = json_string_value(json_object_get(ev, "outcome"));
                pid = json_integer_value(json_object_get(ev, "client_pid"));
                uid = json_integer_value(json_object_get(ev, "client_uid"));
                cr_assert(not(eq(ptr, (void *) call_name, NULL)), "%s", p);
                cr_assert(not(eq(ptr, (void *) outcome, NULL)), "%s", p);
                cr_assert(eq(int, !!json_is_integer(json_object_get(ev, "client_pid")), 1), "%s",
                          p);
                cr_assert(eq(int, !!json_is_integer(json_object_get(ev, "client_uid")), 1), "%s",
                          p);
                if (uid == 0)
                        cr_assert(eq(i64, pid, getpid()), "%s", p);
                else
                        cr_assert(eq(i64, uid, NOBODY), "%s", p);
                if (streq(call_name, "Hello") && streq(outcome, "ok"))
                        seen_hello++;
                if (streq(call_name, "Mmap") && streq(outcome, "ok")) {
                        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "path")),
                                     "/data/small"));
                        seen_mmap++;
                }
                if (streq(call_name, "Mmap") && streq(outcome, "denied"))
                        seen_denied++;
                if (streq(call_name, "invalid") && streq(outcome, "error")) {
                        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "code")),
                                     "core.memory.InvalidArgument"),
                                  "%s", p);
                        seen_invalid++;
                }
                json_decref(rec);
        }
        free(log);
        cr_assert(eq(int, requests, 5));
        cr_assert(eq(int, seen_hello, 1));
        cr_assert(eq(int, seen_mmap, 1));
        cr_assert(eq(int, seen_denied, 1));
        cr_assert(eq(int, seen_invalid, 1));
}

Test(daemon_config, a_client_without_capabilities_is_refused_and_told_so) {
        peer b;
        cl a;

        daemon_start(NULL, false);
        connect_to(&a);
        mmap_ok(&a, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        peer_spawn(&b, NOBODY);
        peer_expect(&b, "{\"Hello\":{}}", hello_reply("[]", b.pid, NOBODY));
        peer_expect(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}",
                    DENIED "Mmap needs the FileRead capability\"}");
        peer_expect(&b, "{\"Mmap\":{\"length\":4096,\"prot\":3}}",
                    DENIED "Mmap needs the FileRead capability\"}");
        /* Without SystemInfo a foreign id does not exist, for every call. */
        peer_expect(&b, "{\"MmapStats\":{\"mmap_id\":1}}", NOT_FOUND("MmapStats", 1));
        peer_expect(&b, "{\"MmapStats\":{\"mmap_id\":2}}", NOT_FOUND("MmapStats", 2));
        peer_expect(&b, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1}}",
                    NOT_FOUND("MmapRead", 1));
        peer_expect(&b, "{\"MmapList\":{}}", "{\"status\":\"success\",\"data\":[]}");
        peer_expect(&b, "{\"MmapList\":{\"all\":true}}",
                    DENIED "MmapList of other clients needs the SystemInfo capability\"}");
        peer_expect(&b, "{\"MmapList\":{\"all\":false}}", "{\"status\":\"success\",\"data\":[]}");
        /* Whatever else a request lacks, a foreign id reads exactly like a missing one. */
        peer_expect(&b, "{\"MmapFd\":{\"mmap_id\":1}}", NOT_FOUND("MmapFd", 1));
        peer_expect(&b, "{\"MmapFd\":{\"mmap_id\":2}}", NOT_FOUND("MmapFd", 2));
        peer_expect(&b, "{\"Mprotect\":{\"mmap_id\":1,\"prot\":3}}", NOT_FOUND("Mprotect", 1));
        peer_expect(&b, "{\"Mprotect\":{\"mmap_id\":2,\"prot\":3}}", NOT_FOUND("Mprotect", 2));
        cr_assert(not(b.got_fd));
        peer_exit(&b);
        cl_close(&a);
}

Test(daemon_config, file_read_alone_maps_read_only) {
        peer b;
        cl a;

        daemon_start(CAPS_CONFIG("[\"FileRead\"]"), false);
        connect_to(&a);
        expect(&a, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        mmap_ok(&a, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":3,\"shared\":true}}");
        peer_spawn(&b, NOBODY);
        peer_expect(&b, "{\"Hello\":{}}", hello_reply("[\"FileRead\"]", b.pid, NOBODY));
        cr_assert(eq(u64, peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}"), 2));
        peer_expect(&b,
                    "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":5,"
                    "\"encoding\":\"base64\"}}",
                    "{\"status\":\"success\",\"data\":\"SGVsbG8=\"}");
        peer_expect(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3}}",
                    DENIED "Mmap with the write bit needs the FileWrite capability\"}");
        peer_expect(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":2,\"shared\":true}}",
                    DENIED "Mmap with the write bit needs the FileWrite capability\"}");
        peer_expect(&b, "{\"Mprotect\":{\"mmap_id\":2,\"prot\":3}}",
                    DENIED "Mprotect adding the write bit needs the FileWrite capability\"}");
        peer_expect(&b, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[1]}}",
                    "{\"status\":\"error\",\"kind\":\"PermissionDenied\",\"code\":\"core.memory."
                    "PermissionDenied\",\"message\":\"MmapWrite "
                    "failed: Mmap 2 is not writable\",\"errno\":13}");
        peer_expect(&b, "{\"MmapFd\":{\"mmap_id\":2}}",
                    DENIED "MmapFd needs the FdPass capability\"}");
        cr_assert(not(b.got_fd));
        /* A refused request used no id. */
        cr_assert(eq(u64, peer_mmap(&b, "{\"Mmap\":{\"length\":4096,\"prot\":1}}"), 3));
        peer_expect(&b, "{\"MmapStats\":{\"mmap_id\":1}}", NOT_FOUND("MmapStats", 1));
        peer_expect(&b, "{\"MmapList\":{}}",
                    S("{\"status\":\"success\",\"data\":[{\"id\":2,\"path\":\"/data/small\","
                      "\"offset\":0,\"length\":16,\"prot\":{\"read\":true,\"write\":false,"
                      "\"exec\":false},\"flags\":\"Private\",\"owner_pid\":%d},{\"id\":3,"
                      "\"path\":null,\"offset\":0,\"length\":4096,\"prot\":{\"read\":true,"
                      "\"write\":false,\"exec\":false},\"flags\":\"Private\",\"owner_pid\":%d}]}",
                      b.pid, b.pid));
        /* Root sees the foreign mapping with SystemInfo. */
        expect_prefix(&a, "{\"MmapStats\":{\"mmap_id\":2}}",
                      "{\"status\":\"success\",\"data\":{\"id\":2,\"path\":\"/data/small\"");
        peer_exit(&b);
        cl_close(&a);
}

Test(daemon_config, mlock_needs_the_memlock_capability) {
        peer b;

        MC_SKIP_UNDER_VALGRIND("mlock2 is not implemented");
        daemon_start(CAPS_CONFIG("[\"FileRead\",\"FileWrite\"]"), false);
        peer_spawn(&b, NOBODY);
        peer_mmap(&b, "{\"Mmap\":{\"length\":4096,\"prot\":3}}");
        peer_expect(&b, "{\"Mlock\":{\"mmap_id\":1}}",
                    DENIED "Mlock needs the MemLock capability (locked memory is taken from the "
                           "whole machine)\"}");
        peer_expect(&b, "{\"Munlock\":{\"mmap_id\":1}}", OK);
        peer_exit(&b);
        daemon_stop();
        daemon_start(CAPS_CONFIG("[\"FileRead\",\"MemLock\"]"), false);
        peer_spawn(&b, NOBODY);
        peer_mmap(&b, "{\"Mmap\":{\"length\":4096,\"prot\":1}}");
        peer_expect(&b, "{\"Mlock\":{\"mmap_id\":1}}", OK);
        peer_exit(&b);
}

Test(daemon_config, fd_pass_lets_a_client_have_the_descriptor) {
        peer b;

        daemon_start(CAPS_CONFIG("[\"FileRead\",\"FdPass\"]"), false);
        peer_spawn(&b, NOBODY);
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":true}}");
        peer_expect(&b, "{\"MmapFd\":{\"mmap_id\":1}}",
                    "{\"status\":\"success\",\"mmap_id\":1,\"offset\":0,\"length\":16,"
                    "\"writable\":false}");
        cr_assert(b.got_fd, "no descriptor came with the reply");
        peer_exit(&b);
}

Test(daemon_config, allow_symlinks_follows_only_symlinks_that_stay_inside) {
        cl c;

        make_escapes();
        daemon_start("{\"allow_symlinks\": true}", false);
        connect_to(&c);
        expect(&c, "{\"Mmap\":{\"path\":\"/data/inside\",\"prot\":1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":16}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/inside2\",\"prot\":1}}",
               "{\"status\":\"success\",\"data\":[0,0,0,2],\"mmap_id\":2,\"length\":16}");
        expect_escapes_refused(&c);
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":2}}",
               "{\"status\":\"success\",\"data\":[72,101]}");
        cr_assert(eq(int, daemon_maps(), 2));
        cl_close(&c);
}

Test(daemon_config, a_line_over_the_limit_gets_an_error_then_the_connection_closes) {
        char *line = malloc(8192);
        cl c;

        cr_assert(not(eq(ptr, line, NULL)));
        daemon_start("{\"max_line\": 4096}", false);
        /* Exactly at the limit is fine (padding with JSON whitespace). */
        connect_to(&c);
        memset(line, ' ', 4096);
        memcpy(line, "{\"Hello\":{}}", 12);
        line[4096] = 0;
        expect(&c, line, hello_reply(ALL_CAPS, getpid(), 0));
        /* One byte more, in one line. */
        memset(line, ' ', 4097);
        memcpy(line, "{\"Hello\":{}}", 12);
        line[4097] = '\n';
        /* One send(2): the daemon may close the connection as soon as it has 4097 bytes. */
        cr_assert(eq(int, cl_send(&c, line, 4098), 0));
        cr_assert(eq(str, (char *) recv_line(&c),
                     "{\"status\":\"error\",\"kind\":\"InvalidArgument\",\"code\":\"core.memory."
                     "InvalidArgument\",\"message\":\"the request "
                     "line exceeds 4096 bytes; closing the connection\",\"errno\":7}"));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        cl_close(&c);
        /* A long line with no end in sight gets the same. */
        connect_to(&c);
        memset(line, ' ', 8192);
        cr_assert(eq(int, cl_send(&c, line, 8192), 0));
        recv_line(&c);
        cr_assert(starts_with(c.line, INVALID "the request line exceeds 4096 bytes"));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        cl_close(&c);
        /* Many short requests in one write are not one long line. */
        connect_to(&c);
        pipeline_and_drain(&c, "{\"Hello\":{}}", 2000, hello_reply(ALL_CAPS, getpid(), 0), false);
        cl_close(&c);
        free(line);
}

Test(daemon_config, a_paused_connection_resumes_with_its_buffered_requests) {
        char *want;
        uint8_t bytes[4096];
        char *b64;
        cl c;

        /* Replies of 5.5 KiB against a queue of 64 KiB: the daemon pauses this client many
         * times, with requests still in its buffer and nothing more coming. */
        daemon_start("{\"max_output\": 65536, \"max_line\": 4096}", false);
        for (size_t i = 0; i < sizeof(bytes); i++)
                bytes[i] = pat(i);
        b64 = base64(bytes, sizeof(bytes));
        want = strdup(S("{\"status\":\"success\",\"data\":\"%s\"}", b64));
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1}}");
        pipeline_and_drain(&c,
                           "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":4096,"
                           "\"encoding\":\"base64\"}}",
                           500, want, false);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        free(want);
        free(b64);
        cl_close(&c);
}

Test(daemon_config, sighup_reloads_the_capabilities) {
        peer b;

        daemon_start(CAPS_CONFIG("[]"), false);
        peer_spawn(&b, NOBODY);
        peer_expect(&b, "{\"Hello\":{}}", hello_reply("[]", b.pid, NOBODY));
        peer_expect(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}",
                    DENIED "Mmap needs the FileRead capability\"}");
        write_config(CAPS_CONFIG("[\"FileRead\",\"FdPass\"]"));
        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        /* The reload is asynchronous: poll a new connection until it shows. */
        {
                int64_t end = now_ms() + 5000;
                const char *want = hello_reply("[\"FileRead\",\"FdPass\"]", b.pid, NOBODY);
                char *w = strdup(want);
                const char *got = NULL;

                do {
                        peer_cmd(&b, "!connect", '-');
                        got = peer_call(&b, "{\"Hello\":{}}");
                        if (streq(got, w))
                                break;
                        peer_cmd(&b, "!close", '-');
                        sleep_ms(20);
                } while (now_ms() < end);
                cr_assert(eq(str, (char *) got, w));
                free(w);
        }
        cr_assert(eq(u64, peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}"), 1));
        peer_expect(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3}}",
                    DENIED "Mmap with the write bit needs the FileWrite capability\"}");
        peer_exit(&b);
}

Test(daemon_config, a_broken_config_on_sighup_is_reported_and_the_old_one_kept) {
        char *log;
        int64_t end;
        peer b;

        daemon_start(CAPS_CONFIG("[\"FileRead\"]"), false);
        write_config("{\"capabilities\": {\"65534\": [\"FileRead\", \"Everything\"]}");
        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        end = now_ms() + 5000;
        do {
                log = slurp(D.log);
                if (contains(log, "keeping the old configuration"))
                        break;
                free(log);
                log = NULL;
                sleep_ms(20);
        } while (now_ms() < end);
        cr_assert(not(eq(ptr, log, NULL)), "no report of the broken config in the daemon's log");
        cr_assert(contains(log, D.config), "the report does not name the file:\n%s", log);
        free(log);
        /* Unknown fields are refused the same way. */
        write_config("{\"capabilites\": {}}");
        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        sleep_ms(200);
        peer_spawn(&b, NOBODY);
        peer_expect(&b, "{\"Hello\":{}}", hello_reply("[\"FileRead\"]", b.pid, NOBODY));
        peer_mmap(&b, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        peer_exit(&b);
}

Test(daemon_config, sighup_keeps_the_audit_log_of_the_command_line) {
        char *log;
        cl c;

        daemon_start(CAPS_CONFIG("[]"), true);
        connect_to(&c);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        sleep_ms(300);
        expect(&c, "{\"MmapList\":{}}", "{\"status\":\"success\",\"data\":[]}");
        cl_close(&c);
        daemon_stop();
        log = slurp(D.audit);
        cr_assert(contains(log, "\"call\":\"Hello\""));
        cr_assert(contains(log, "\"call\":\"MmapList\""), "requests after SIGHUP are not audited");
        free(log);
}

Test(daemon_config, sighup_keeps_the_policy_of_the_command_line) {
        char policy[160];
        cl c;

        snprintf(policy, sizeof(policy), "%s/policy.json", D.dir);
        {
                int fd = open(policy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                static const char text[] = "{\"allow_write_exec\": true}";
                cr_assert(ge(int, fd, 0));
                cr_assert(eq(sz, (size_t) write(fd, text, sizeof(text) - 1), sizeof(text) - 1));
                close(fd);
        }
        daemon_policy = policy;
        daemon_start(CAPS_CONFIG("[]"), false);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"length\":4096,\"prot\":7}}");
        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        sleep_ms(300);
        mmap_ok(&c, "{\"Mmap\":{\"length\":4096,\"prot\":7}}");
        cl_close(&c);
}

Test(daemon_config, quotas_per_client) {
        cl c;

        daemon_start("{\"max_mappings_per_client\": 3, \"max_bytes_per_client\": 16384}", false);
        connect_to(&c);
        /* Writable anonymous memory is charged whole; the read-only file only where it is
         * memory (tmpfs), so the refused 16384 bytes exceed the limit either way. */
        mmap_ok(&c, "{\"Mmap\":{\"length\":4096,\"prot\":3}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        expect_prefix(&c, "{\"Mmap\":{\"length\":16384,\"prot\":3}}",
                      "{\"status\":\"error\",\"kind\":\"PolicyViolation\"");
        mmap_ok(&c, "{\"Mmap\":{\"length\":8192,\"prot\":3}}");
        expect_prefix(&c, "{\"Mmap\":{\"length\":1,\"prot\":3}}",
                      "{\"status\":\"error\",\"kind\":\"PolicyViolation\"");
        expect(&c, "{\"Munmap\":{\"mmap_id\":1}}", OK);
        cr_assert(eq(u64, mmap_ok(&c, "{\"Mmap\":{\"length\":1,\"prot\":3}}"), 4));
        cl_close(&c);
}

/* A connection that was let in: retried while the daemon still counts closed ones. */
static void connect_admitted(cl *c) {
        int64_t end = now_ms() + 5000;
        int r;

        do {
                connect_to(c);
                /* A refused connection may be closed before the request is sent. */
                (void) cl_send(c, "{\"Hello\":{}}\n", 13);
                r = cl_recv_line(c, REPLY_TIMEOUT_MS);
                if (r == 0 && !starts_with(c->line, "{\"status\":\"error\""))
                        break;
                cl_close(c);
                sleep_ms(20);
        } while (now_ms() < end);
        cr_assert(eq(int, r, 0));
        cr_assert(eq(str, c->line, (char *) hello_reply(ALL_CAPS, getpid(), 0)));
}

Test(daemon_config, connections_are_limited_per_uid_and_in_all) {
        cl a, b, c;
        peer p, q;

        daemon_start("{\"max_connections_per_uid\": 2, \"max_connections\": 3}", false);
        connect_admitted(&a);
        connect_admitted(&b);
        /* A third connection of uid 0 is told why, then closed. */
        connect_to(&c);
        cr_assert(eq(str, (char *) recv_line(&c),
                     "{\"status\":\"error\",\"kind\":\"PolicyViolation\",\"code\":\"core.memory."
                     "PolicyViolation\",\"message\":\"this uid "
                     "has as many connections open as memcapd allows (max_connections_per_uid)\","
                     "\"errno\":87}"));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        cl_close(&c);
        /* Another uid still gets in, up to the limit of all connections. */
        peer_spawn(&p, NOBODY);
        peer_expect(&p, "{\"Hello\":{}}", hello_reply("[]", p.pid, NOBODY));
        peer_spawn(&q, NOBODY);
        cr_assert(eq(str, (char *) peer_cmd(&q, "{\"Hello\":{}}", '-'),
                     "{\"status\":\"error\",\"kind\":\"PolicyViolation\",\"code\":\"core.memory."
                     "PolicyViolation\",\"message\":\"memcapd "
                     "has as many connections as it takes; try again later\",\"errno\":87}"));
        peer_exit(&q);
        peer_exit(&p);
        /* A closed connection makes room. */
        cl_close(&b);
        connect_admitted(&c);
        cl_close(&c);
        cl_close(&a);
}

Test(daemon_config, reads_larger_than_max_read_are_refused_not_cut) {
        cl c;

        daemon_start("{\"max_read\": 4096}", false);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1}}");
        expect(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":4097}}",
               INVALID "MmapRead failed: length 4097 exceeds the largest read, 4096 bytes (use "
                       "MmapFd for bulk data)\",\"errno\":22}");
        call(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":4096}}");
        cr_assert(starts_with(c.line, "{\"status\":\"success\",\"data\":["));
        cl_close(&c);
}

Test(daemon_config, socket_mode_keeps_other_users_out) {
        struct stat st;
        peer p;

        daemon_start("{\"socket_mode\": \"0600\"}", false);
        cr_assert(eq(int, stat(D.sock, &st), 0));
        cr_assert(eq(int, (int) (st.st_mode & 07777), 0600));
        /* The peer reports the failed connect as an 'E' answer before "ready". */
        {
                int sv[2];
                pid_t pid;

                cr_assert(eq(int, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0));
                pid = fork();
                cr_assert(ge(int, pid, 0));
                if (pid == 0) {
                        close(sv[0]);
                        peer_main(sv[1], NOBODY);
                        _exit(0);
                }
                close(sv[1]);
                p = (peer){.pid = pid, .child = pid, .ctl = CL_INIT};
                p.ctl.fd = sv[0];
                cr_assert(eq(int, cl_recv_line(&p.ctl, REPLY_TIMEOUT_MS), 0));
                cr_assert(eq(str, p.ctl.line, "Econnect failed"));
                cr_assert(eq(int, wait_for(pid, REPLY_TIMEOUT_MS) >> 8, 2));
                cl_close(&p.ctl);
        }
}

static void low_fd_limit(void) {
        struct rlimit rl = {64, 64};

        (void) setrlimit(RLIMIT_NOFILE, &rl);
}

static uint64_t daemon_cpu_ticks(void) {
        char *st = slurp(S("/proc/%d/stat", (int) D.pid));
        char *p = strrchr(st, ')');
        unsigned long long ut = 0, stime = 0;

        cr_assert(not(eq(ptr, p, NULL)));
        cr_assert(eq(
                int,
                sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &stime),
                2));
        free(st);
        return ut + stime;
}

Test(daemon_config, out_of_descriptors_the_daemon_neither_spins_nor_dies) {
        peer peers[40];
        uint64_t t0;
        char *log;
        cl c;

        /* 64 descriptors; each client process costs the daemon two (its socket, its pidfd). */
        daemon_pre_exec = low_fd_limit;
        daemon_start(NULL, false);
        for (size_t i = 0; i < ELEMENTSOF(peers); i++)
                peer_spawn(&peers[i], 0);
        sleep_ms(300);
        t0 = daemon_cpu_ticks();
        sleep_ms(1000);
        /* 100 ticks a second: a loop woken by the listening socket for ever would use them all. */
        cr_assert(lt(u64, daemon_cpu_ticks() - t0, 30), "the daemon spins at its descriptor limit");
        log = slurp(D.log);
        cr_assert(contains(log, "out of file descriptors"), "%s", log);
        cr_assert(eq(ptr,
                     strstr(strstr(log, "out of file descriptors") + 1, "out of file descriptors"),
                     NULL),
                  "the shortage was reported more than once");
        free(log);
        /* The clients that got in are served; once some leave, the waiting ones are too. */
        peer_expect(&peers[0], "{\"Hello\":{}}", hello_reply(ALL_CAPS, peers[0].pid, 0));
        for (size_t i = 0; i < ELEMENTSOF(peers) / 2; i++)
                peer_exit(&peers[i]);
        for (size_t i = ELEMENTSOF(peers) / 2; i < ELEMENTSOF(peers); i++) {
                peer_expect(&peers[i], "{\"Hello\":{}}", hello_reply(ALL_CAPS, peers[i].pid, 0));
                peer_exit(&peers[i]);
        }
        connect_to(&c);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&c);
}

/* ============================================================================================
 * The command line
 * ============================================================================================ */

TestSuite(daemon_cli, .init = init_dir, .fini = fini, .timeout = 120);

/* Run memcapd to completion; returns its exit status, output in *@out (caller frees). */
static int run_memcapd(char **argv, char **out) {
        char path[160];
        pid_t pid;
        int status;

        snprintf(path, sizeof(path), "%s/run.out", D.dir);
        unlink(path);
        pid = spawn_memcapd(argv, path, NULL);
        status = wait_for(pid, 20000);
        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                cr_fatal("memcapd did not finish");
        }
        cr_assert(eq(int, !!WIFEXITED(status), 1), "memcapd died of signal %d", WTERMSIG(status));
        *out = slurp(path);
        return WEXITSTATUS(status);
}

Test(daemon_cli, help_and_version) {
        char *out;

        cr_assert(eq(int, run_memcapd((char *[]){"", "--help", NULL}, &out), 0));
        cr_assert(starts_with(out, "Usage: memcapd [options]\n"), "%s", out);
        cr_assert(contains(out, "--socket"));
        free(out);
        cr_assert(eq(int, run_memcapd((char *[]){"", "-h", NULL}, &out), 0));
        free(out);
        cr_assert(eq(int, run_memcapd((char *[]){"", "--version", NULL}, &out), 0));
        cr_assert(eq(str, out, S("memcapd %s\n", mc_version())));
        free(out);
}

Test(daemon_cli, bad_options_exit_2) {
        char *out;

        cr_assert(eq(int, run_memcapd((char *[]){"", "--frobnicate", NULL}, &out), 2));
        cr_assert(contains(out, "Usage: memcapd"), "%s", out);
        free(out);
        cr_assert(eq(int, run_memcapd((char *[]){"", "-s", NULL}, &out), 2));
        free(out);
        cr_assert(eq(int, run_memcapd((char *[]){"", "extra", NULL}, &out), 2));
        cr_assert(contains(out, "unexpected argument 'extra'"), "%s", out);
        free(out);
        cr_assert(eq(int, run_memcapd((char *[]){"", "--log-level", "loud", NULL}, &out), 2));
        free(out);
}

Test(daemon_cli, a_bad_config_file_is_refused_at_start) {
        char *out;

        write_config("{\"max_line\": \"lots\"}");
        cr_assert(eq(
                int,
                run_memcapd((char *[]){"", "-s", D.sock, "-r", D.root, "-c", D.config, NULL}, &out),
                12));
        cr_assert(contains(out, "max_line"), "%s", out);
        free(out);
        /* A file that is not there is NotFound, as for a policy file. */
        cr_assert(eq(int,
                     run_memcapd((char *[]){"", "-s", D.sock, "-r", D.root, "-c",
                                            S("%s/none.json", D.dir), NULL},
                                 &out),
                     16));
        free(out);
        cr_assert(lt(int, access(D.sock, F_OK), 0));
}

Test(daemon_cli, a_second_daemon_on_the_same_socket_refuses_to_start) {
        char *out;
        cl c;

        daemon_start(NULL, false);
        cr_assert(eq(int, run_memcapd((char *[]){"", "-s", D.sock, "-r", D.root, NULL}, &out), 15));
        cr_assert(contains(out, "another memcapd is listening"), "%s", out);
        free(out);
        /* The first one is unharmed and still owns its socket. */
        connect_to(&c);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&c);
}

Test(daemon_cli, a_stale_socket_file_is_replaced) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cl c;

        strscpy(sa.sun_path, sizeof(sa.sun_path), D.sock);
        cr_assert(eq(int, bind(s, (struct sockaddr *) &sa, sizeof(sa)), 0));
        close(s); /* the file stays, nobody listens */
        daemon_start(NULL, false);
        connect_to(&c);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&c);
}

Test(daemon_cli, a_socket_path_that_is_not_a_socket_is_left_alone) {
        char *out, *kept;

        write_file("/../precious", "data", 4);
        cr_assert(
                eq(int,
                   run_memcapd((char *[]){"", "-s", root_path("/../precious"), "-r", D.root, NULL},
                               &out),
                   15));
        cr_assert(contains(out, "exists and is not a socket"), "%s", out);
        free(out);
        kept = slurp(root_path("/../precious"));
        cr_assert(eq(str, kept, "data"), "memcapd removed a file that was not its socket");
        free(kept);
}

/* ============================================================================================
 * Hostile clients: the daemon's memory, slow peers, audit floods, racing daemons, and the audit
 * trail as evidence
 * ============================================================================================ */

TestSuite(daemon_hostile, .init = init_dir, .fini = fini, .timeout = 180);

/*
 * The sanitizer keeps freed memory in a quarantine on purpose, which is not memory the daemon
 * holds: the daemons of the memory tests run without it. Set before the daemon starts; this
 * process's own sanitizer read its options long ago.
 */
static void daemon_without_quarantine(void) {
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
static json_t *audit_load(void) {
        char *log = slurp(D.audit);
        json_t *all = json_array();

        cr_assert(not(eq(ptr, all, NULL)));
        for (char *p = log, *nl; *p; p = nl + 1) {
                json_error_t jerr;
                json_t *rec;

                nl = strchr(p, '\n');
                cr_assert(not(eq(ptr, nl, NULL)), "the audit log's last line is incomplete");
                *nl = 0;
                rec = json_loads(p, 0, &jerr);
                cr_assert(not(eq(ptr, rec, NULL)), "audit line is not JSON: %s", p);
                json_object_set_new(rec, "_bytes", json_integer(nl - p + 1));
                json_array_append_new(all, rec);
        }
        free(log);
        return all;
}

/* Whether @rec is memcapd's record of @event. */
static bool rec_is(json_t *rec, const char *event) {
        return streq(json_string_value(json_object_get(rec, "capability")) ?: "", "memcapd") &&
               streq(json_string_value(json_object_get(rec, "operation")) ?: "", event);
}

static const char *ev_str(json_t *rec, const char *key) {
        return json_string_value(json_object_get(json_object_get(rec, "event"), key));
}

static json_int_t ev_int(json_t *rec, const char *key) {
        json_t *v = json_object_get(json_object_get(rec, "event"), key);

        cr_assert(eq(int, !!json_is_integer(v), 1), "record without integer '%s'", key);
        return json_integer_value(v);
}

/* ---- memory ------------------------------------------------------------------------------- */

/* The configuration of the memory test, and memcapd(8)'s worst case for it. */
#define MEM_LINE   (64 * 1024)
#define MEM_OUTPUT (256 * 1024)
#define MEM_READ   (256 * 1024)
#define MEM_UID    (4 * 1024 * 1024)

/*
 * memcapd(8): with R = 4 x max_read + 256 and S = max(max_line + 1, 2 x (max_output + R)), one
 * uid's connections hold at most max_buffer_per_uid + S + (max_line + 1) + 2 x R bytes of
 * buffers, plus 1 KiB per connection.
 */
static uint64_t stated_uid_bound(uint64_t conns) {
        uint64_t reply = 4 * (uint64_t) MEM_READ + 256;
        uint64_t step = MC_MAX((uint64_t) MEM_LINE + 1, 2 * ((uint64_t) MEM_OUTPUT + reply));

        return MEM_UID + step + (MEM_LINE + 1) + 2 * reply + conns * 1024;
}

/* VmHWM until it has not moved for half a second (at most 10 s): the daemon's peak once it
 * took all it would take. A slow daemon shows a lower peak, never a higher one. */
static uint64_t settled_peak_kib(void) {
        int64_t end = now_ms() + 10000, still = now_ms();
        uint64_t peak = daemon_status_kib("VmHWM:");

        while (now_ms() - still < 500 && now_ms() < end) {
                uint64_t p;

                sleep_ms(50);
                p = daemon_status_kib("VmHWM:");
                if (p != peak) {
                        peak = p;
                        still = now_ms();
                }
        }
        return peak;
}

Test(daemon_hostile, non_reading_connections_of_one_uid_stay_within_the_stated_memory) {
        static const char req[] = "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":262144}}\n";
        enum { N = 64, K = 8 };
        uint64_t base, peak, bound, slack;
        cl conns[N], c;
        peer other;

        daemon_without_quarantine();
        pattern_file("/data/256k", MEM_READ);
        daemon_start(S("{\"max_line\": %d, \"max_output\": %d, \"max_read\": %d, "
                       "\"max_buffer_per_uid\": %d}",
                       MEM_LINE, MEM_OUTPUT, MEM_READ, MEM_UID),
                     false);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/256k\",\"prot\":1}}");
        /* One read first, so that the file's pages and the read buffer count in the base. */
        call(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":262144}}");
        cr_assert(starts_with(c.line, "{\"status\":\"success\",\"data\":["));
        sleep_ms(100);
        base = daemon_rss_kib();
        /* Each asks for 8 replies of about 900 KiB (number arrays) and reads none. */
        for (int i = 0; i < N; i++) {
                connect_to(&conns[i]);
                for (int k = 0; k < K; k++)
                        cr_assert(eq(int, cl_send(&conns[i], req, sizeof(req) - 1), 0));
        }
        peak = settled_peak_kib();
        bound = stated_uid_bound(N + 1);
        /* The sanitizer's shadow (an eighth of what is touched) and the allocator's rounding. */
        slack = bound / 8 + (2 << 20);
        cr_log_info("%d connections not reading: the daemon's peak grew by %llu KiB; stated "
                    "bound %llu KiB",
                    N, (unsigned long long) (peak - base), (unsigned long long) bound / 1024);
        cr_assert(le(u64, (peak - base) * 1024, bound + slack),
                  "%d non-reading connections of one uid made the daemon grow by %llu KiB, "
                  "more than memcapd(8)'s bound of %llu KiB",
                  N, (unsigned long long) (peak - base), (unsigned long long) bound / 1024);
        /* Another uid is served meanwhile, and this one once it stops hogging. */
        peer_spawn(&other, NOBODY);
        peer_expect(&other, "{\"Hello\":{}}", hello_reply("[]", other.pid, NOBODY));
        peer_exit(&other);
        for (int i = 0; i < N; i++)
                cl_close(&conns[i]);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&c);
}

Test(daemon_hostile, a_large_read_leaves_no_buffer_behind) {
        const size_t n = 8 << 20;
        uint64_t base, after;
        cl c;

        daemon_without_quarantine();
        pattern_file("/data/8m", n);
        daemon_start("{\"max_read\": \"8MiB\"}", false);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/8m\",\"prot\":1}}");
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        sleep_ms(100);
        base = daemon_status_kib("RssAnon:");
        call(&c, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":8388608,"
                 "\"encoding\":\"base64\"}}");
        cr_assert(starts_with(c.line, "{\"status\":\"success\",\"data\":\""));
        cr_assert(eq(sz, strlen(c.line), (n + 2) / 3 * 4 + 30));
        /* Answered once the 11 MiB reply is all sent: its buffers are given back by then. */
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        after = daemon_status_kib("RssAnon:");
        cr_log_info("anonymous memory after an 8 MiB read: %+lld KiB",
                    (long long) after - (long long) base);
        cr_assert(lt(u64, after, base + 2048),
                  "the daemon kept %llu KiB after an 8 MiB read was answered",
                  (unsigned long long) (after - base));
        cl_close(&c);
}

/*
 * @n connections of this process each pipeline @k copies of @line and read every reply, all at
 * once from non-blocking sockets: their input buffers fill together. Each reply must start
 * with @prefix. Fails after 60 s without progress.
 */
static void pipeline_many(int n, int k, const char *line, const char *prefix) {
        size_t len = strlen(line) + 1, total = len * (size_t) k;
        char *batch = malloc(total);
        size_t sent[16] = {0};
        int replies[16] = {0}, done = 0;
        int64_t last = now_ms();
        cl c[16];

        cr_assert(le(int, n, 16));
        cr_assert(not(eq(ptr, batch, NULL)));
        for (int j = 0; j < k; j++) {
                memcpy(batch + len * (size_t) j, line, len - 1);
                batch[len * (size_t) j + len - 1] = '\n';
        }
        for (int i = 0; i < n; i++) {
                connect_to(&c[i]);
                cr_assert(
                        eq(int, fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK), 0));
        }
        while (done < n) {
                cr_assert(lt(i64, now_ms() - last, 60000),
                          "no progress for 60 s: %d of %d connections got all their replies", done,
                          n);
                for (int i = 0; i < n; i++) {
                        ssize_t w;

                        if (sent[i] < total && (w = send(c[i].fd, batch + sent[i], total - sent[i],
                                                         MSG_NOSIGNAL)) > 0) {
                                sent[i] += (size_t) w;
                                last = now_ms();
                        }
                        while (replies[i] < k && cl_recv_line(&c[i], 1) == 0) {
                                cr_assert(starts_with(c[i].line, prefix), "%s", c[i].line);
                                if (++replies[i] == k)
                                        done++;
                                last = now_ms();
                        }
                }
        }
        for (int i = 0; i < n; i++)
                cl_close(&c[i]);
        free(batch);
}

Test(daemon_hostile, a_uid_at_its_limit_with_buffers_full_of_requests_makes_progress) {
        char *line = malloc(60 * 1024);
        uint8_t data[40 * 1024];
        char *b64;
        cl c;

        cr_assert(not(eq(ptr, line, NULL)));
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = pat(i);
        b64 = base64(data, sizeof(data));
        pattern_file("/data/64k", 64 * 1024);
        /* 8 connections reading lines of 54 KiB hold more input than the uid may: it is
         * blocked with nothing but requests in its buffers, and must still get through them. */
        for (int round = 0; round < 2; round++) {
                daemon_start(round == 0 ? "{\"max_line\": \"64KiB\", \"max_buffer_per_uid\": "
                                          "\"256KiB\"}"
                                        : "{\"max_line\": \"64KiB\", \"max_buffer_total\": "
                                          "\"256KiB\"}",
                             false);
                connect_to(&c);
                mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":3,\"shared\":true}}");
                snprintf(line, 60 * 1024,
                         "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"%s\","
                         "\"encoding\":\"base64\"}}",
                         b64);
                pipeline_many(8, 20, line, OK);
                cl_close(&c);
                daemon_stop();
        }
        free(b64);
        free(line);
}

Test(daemon_hostile, a_client_that_hangs_up_while_its_uid_is_blocked_costs_no_cpu) {
        static const char req[] = "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":65536}}\n";
        uint64_t t0;
        int base;
        cl hog, c;

        pattern_file("/data/64k", 64 * 1024);
        daemon_start("{\"max_output\": \"64KiB\", \"max_buffer_per_uid\": \"256KiB\"}", false);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":1}}");
        sleep_ms(100);
        base = daemon_fds();
        /* A connection that does not read blocks its uid... */
        connect_to(&hog);
        for (int i = 0; i < 20; i++)
                cr_assert(eq(int, cl_send(&hog, req, sizeof(req) - 1), 0));
        sleep_ms(300);
        /* ...and another one of the uid hangs up while the daemon does not read it. */
        cl_close(&c);
        sleep_ms(300);
        t0 = daemon_cpu_ticks();
        sleep_ms(1000);
        cr_assert(lt(u64, daemon_cpu_ticks() - t0, 30), "the daemon spins on a hang-up");
        cl_close(&hog);
        cr_assert(eq(int, poll_until(daemon_fds, base - 1, 5000), base - 1),
                  "the connections are not released");
}

/* ---- slow peers ----------------------------------------------------------------------------- */

#define TIMED_OUT_LINE                                                                             \
        "{\"status\":\"error\",\"kind\":\"TimedOut\",\"code\":\"core.memory.TimedOut\","           \
        "\"message\":\"no complete request line "                                                  \
        "within 1000 ms of its first byte; closing the connection\",\"errno\":110}"

/* The disconnect records of @reason, in order. */
static size_t disconnects(json_t *log, const char *reason, json_t **ret, size_t max) {
        size_t i, n = 0;
        json_t *rec;

        json_array_foreach(log, i, rec) {
                if (rec_is(rec, "disconnect") && streq(ev_str(rec, "reason") ?: "", reason)) {
                        if (n < max)
                                ret[n] = rec;
                        n++;
                }
        }
        return n;
}

Test(daemon_hostile, a_line_never_finished_is_timed_out) {
        static const char start[] = "{\"Mmap\":{\"path\":\"/data/sm";
        json_t *log, *recs[4];
        int64_t t0;
        int r;
        cl c;

        daemon_start("{\"request_timeout\": \"1s\"}", true);
        connect_to(&c);
        t0 = now_ms();
        cr_assert(eq(int, cl_send(&c, start, sizeof(start) - 1), 0));
        r = cl_recv_line(&c, 20000);
        cr_assert(eq(int, r, 0), "no reply to a line left unfinished: %s", strerror(-r));
        cr_assert(ge(i64, now_ms() - t0, 1000), "timed out before its time");
        cr_assert(eq(str, c.line, TIMED_OUT_LINE));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        cl_close(&c);

        /* Sending the line a byte at a time does not help: the time runs from its first byte. */
        connect_to(&c);
        t0 = now_ms();
        for (const char *p = start; (r = cl_recv_line(&c, 100)) == -ETIMEDOUT;) {
                cr_assert(lt(i64, now_ms() - t0, 20000), "a trickling client was never cut off");
                if (*p)
                        cr_assert(eq(int, cl_send(&c, p++, 1), 0));
        }
        cr_assert(eq(int, r, 0));
        cr_assert(ge(i64, now_ms() - t0, 1000));
        cr_assert(eq(str, c.line, TIMED_OUT_LINE));
        cl_close(&c);

        /* A line that arrives in pieces within the time is served. */
        connect_to(&c);
        cr_assert(eq(int, cl_send(&c, "{\"Hello\"", 8), 0));
        sleep_ms(100);
        expect(&c, ":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&c);

        daemon_stop();
        log = audit_load();
        cr_assert(eq(sz, disconnects(log, "request_timeout", recs, ELEMENTSOF(recs)), 2));
        cr_assert(eq(str, (char *) ev_str(recs[0], "unhandled"), "{\"Mmap\":{\"path\":\"/data/sm"));
        cr_assert(eq(i64, ev_int(recs[0], "unhandled_bytes"), (json_int_t) sizeof(start) - 1));
        cr_assert(
                eq(str, (char *) json_string_value(json_object_get(recs[0], "outcome")), "error"));
        json_decref(log);
}

Test(daemon_hostile, a_client_that_does_not_read_its_replies_is_timed_out) {
        static const char req[] = "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":65536,"
                                  "\"encoding\":\"base64\"}}";
        const int n = 50;
        json_t *log = NULL, *recs[2];
        uint8_t *bytes = malloc(65536);
        char *want, *b64;
        int64_t t0, end;
        int got = 0, r;
        cl c, reader;

        cr_assert(not(eq(ptr, bytes, NULL)));
        for (size_t i = 0; i < 65536; i++)
                bytes[i] = pat(i);
        write_file("/data/64k", bytes, 65536);
        daemon_start("{\"send_timeout\": \"1s\", \"max_output\": \"256KiB\"}", true);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":1}}");
        t0 = now_ms();
        for (int i = 0; i < n; i++)
                send_line(&c, req);
        /* Not reading: the daemon gives up on this connection once nothing moved for 1 s. */
        end = now_ms() + 20000;
        while (now_ms() < end) {
                json_decref(log);
                log = audit_load();
                if (disconnects(log, "send_timeout", recs, ELEMENTSOF(recs)) > 0)
                        break;
                sleep_ms(100);
        }
        cr_assert(eq(sz, disconnects(log, "send_timeout", recs, ELEMENTSOF(recs)), 1),
                  "a client that read nothing was not disconnected within 20 s");
        cr_assert(ge(i64, now_ms() - t0, 1000));
        cr_assert(gt(i64, ev_int(recs[0], "unsent_bytes"), 0));
        json_decref(log);
        /* What was sent before can still be read, then the stream ends early. */
        while ((r = cl_recv_line(&c, REPLY_TIMEOUT_MS)) == 0)
                got++;
        cr_assert(lt(int, got, n), "all %d replies came to a connection that was timed out", n);
        cr_assert(r == -EPIPE || r == -ECONNRESET, "the stream ended with %s", strerror(-r));
        cl_close(&c);

        /* A client that reads as it goes is served whatever the backlog. */
        b64 = base64(bytes, 65536);
        want = malloc(strlen(b64) + 64);
        cr_assert(not(eq(ptr, want, NULL)));
        snprintf(want, strlen(b64) + 64, "{\"status\":\"success\",\"data\":\"%s\"}", b64);
        connect_to(&reader);
        mmap_ok(&reader, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":1}}");
        pipeline_and_drain(&reader,
                           "{\"MmapRead\":{\"mmap_id\":2,\"offset\":0,\"length\":65536,"
                           "\"encoding\":\"base64\"}}",
                           n, want, false);
        cl_close(&reader);
        free(want);
        free(b64);
        free(bytes);
}

Test(daemon_hostile, a_uid_blocked_by_a_client_that_does_not_read_goes_on_once_it_is_cut_off) {
        static const char req[] = "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":65536}}\n";
        int64_t t0;
        cl hog, c;

        pattern_file("/data/64k", 64 * 1024);
        daemon_start("{\"max_output\": \"64KiB\", \"max_buffer_per_uid\": \"256KiB\", "
                     "\"send_timeout\": \"1s\"}",
                     false);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":1}}");
        /* The hog fills the uid's buffers with replies it never reads... */
        connect_to(&hog);
        for (int i = 0; i < 20; i++)
                cr_assert(eq(int, cl_send(&hog, req, sizeof(req) - 1), 0));
        sleep_ms(300);
        /* ...so this request waits, unread, until the hog is cut off; nothing else happens. */
        t0 = now_ms();
        send_line(&c, "{\"Hello\":{}}");
        cr_assert(eq(int, cl_recv_line(&c, 20000), 0), "the uid was never served again");
        cr_assert(eq(str, c.line, (char *) hello_reply(ALL_CAPS, getpid(), 0)));
        cr_log_info("served %lld ms after the hog's last request", (long long) (now_ms() - t0));
        cl_close(&hog);
        cl_close(&c);
}

/* ---- audit floods ------------------------------------------------------------------------- */

#define FLOOD_BURST   20
#define FLOOD_ROUNDS  10
#define FLOOD_GARBAGE 500
#define FLOOD_WX      50

/* Send @n copies of @line (no newline) in one go and check every reply starts with @prefix. */
static void flood(cl *c, const char *line, int n, const char *prefix) {
        size_t len = strlen(line);
        char *batch = malloc((len + 1) * (size_t) n);

        cr_assert(not(eq(ptr, batch, NULL)));
        for (int i = 0; i < n; i++) {
                memcpy(batch + (len + 1) * (size_t) i, line, len);
                batch[(len + 1) * (size_t) i + len] = '\n';
        }
        cr_assert(eq(int, cl_send(c, batch, (len + 1) * (size_t) n), 0));
        free(batch);
        for (int i = 0; i < n; i++)
                cr_assert(starts_with(recv_line(c), prefix), "reply %d: %s", i, c->line);
}

/* Missing capabilities are denials, not errors, in the rate limit's summaries too. */
Test(daemon_hostile, refused_capabilities_are_summarised_as_denials) {
        json_int_t denied = 0, errors = 0;
        json_t *log, *rec;
        size_t i;
        cl c;

        daemon_start("{\"capabilities\": {\"0\": []}, \"audit_rate_burst\": 5, "
                     "\"audit_rate_interval\": \"1s\"}",
                     true);
        connect_to(&c);
        flood(&c, "{\"Mmap\":{\"length\":4096,\"prot\":3}}", 40,
              "{\"status\":\"permission_denied\"");
        cl_close(&c);
        daemon_stop();

        log = audit_load();
        json_array_foreach(log, i, rec) {
                if (!rec_is(rec, "audit_suppressed"))
                        continue;
                denied += ev_int(rec, "denied");
                errors += ev_int(rec, "error");
        }
        json_decref(log);
        cr_assert(gt(i64, denied, 0), "the refusals past the burst are summarised as denials");
        cr_assert(eq(i64, errors, 0), "none of them is an error");
}

Test(daemon_hostile, an_audit_flood_is_summarised_and_every_operation_still_recorded) {
        int64_t t0, elapsed;
        uint64_t limited = 0, limited_bytes = 0, suppressed_failures = 0, failures = 0;
        int ops[5] = {0}, summaries = 0;
        static const char *const op_calls[] = {"Mmap", "MmapWrite", "Msync", "Mprotect", "Munmap"};
        json_t *log, *rec;
        uint64_t windows;
        size_t i;
        cl c;

        daemon_start(S("{\"audit_rate_burst\": %d, \"audit_rate_interval\": \"1s\"}", FLOOD_BURST),
                     true);
        connect_to(&c);
        t0 = now_ms();
        for (int round = 0; round < FLOOD_ROUNDS; round++) {
                uint64_t id;

                flood(&c, "x", FLOOD_GARBAGE, INVALID);
                /* Refused by the policy: a record of the library and one of the request each. */
                flood(&c, "{\"Mmap\":{\"length\":4096,\"prot\":7}}", FLOOD_WX,
                      "{\"status\":\"error\",\"kind\":\"PolicyViolation\"");
                /* Successful operations among them are all recorded. */
                id = mmap_ok(&c,
                             "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
                expect(&c,
                       S("{\"MmapWrite\":{\"mmap_id\":%llu,\"offset\":0,\"data\":[72]}}",
                         (unsigned long long) id),
                       OK);
                expect(&c, S("{\"Msync\":{\"mmap_id\":%llu}}", (unsigned long long) id), SYNCED);
                expect(&c,
                       S("{\"Mprotect\":{\"mmap_id\":%llu,\"prot\":1}}", (unsigned long long) id),
                       OK);
                expect(&c, S("{\"Munmap\":{\"mmap_id\":%llu}}", (unsigned long long) id), OK);
        }
        elapsed = now_ms() - t0;
        cl_close(&c);
        daemon_stop();

        log = audit_load();
        json_array_foreach(log, i, rec) {
                const char *outcome = json_string_value(json_object_get(rec, "outcome"));
                json_t *ev = json_object_get(rec, "event");
                bool kept = false;

                if (rec_is(rec, "audit_suppressed")) {
                        summaries++;
                        suppressed_failures +=
                                (uint64_t) (ev_int(rec, "error") + ev_int(rec, "denied"));
                        cr_assert(contains(ev_str(rec, "message"), "audit records caused by uid 0 "
                                                                   "were suppressed"));
                        continue;
                }
                if (rec_is(rec, "request") && streq(outcome, "ok"))
                        for (size_t k = 0; k < ELEMENTSOF(op_calls); k++)
                                if (streq(ev_str(rec, "call") ?: "", op_calls[k])) {
                                        ops[k]++;
                                        kept = true;
                                }
                /* The library's successful operations are never limited either. */
                if (json_object_get(rec, "client") && streq(outcome, "ok"))
                        kept = true;
                if (!json_object_get(rec, "client") && !json_is_object(ev))
                        continue; /* the daemon's own, such as its signal handlers */
                if (!streq(outcome, "ok"))
                        failures++;
                if (!kept) {
                        limited++;
                        limited_bytes +=
                                (uint64_t) json_integer_value(json_object_get(rec, "_bytes"));
                }
        }
        windows = (uint64_t) elapsed / 1000 + 2;
        cr_log_info("%d lines of garbage and %d refused mappings in %lld ms: %llu records "
                    "(%llu bytes) under the rate limit, %d summaries",
                    FLOOD_ROUNDS * FLOOD_GARBAGE, FLOOD_ROUNDS * FLOOD_WX, (long long) elapsed,
                    (unsigned long long) limited, (unsigned long long) limited_bytes, summaries);
        /* Every failure is either written or counted in a summary. */
        cr_assert(eq(u64, failures + suppressed_failures,
                     (uint64_t) FLOOD_ROUNDS * (FLOOD_GARBAGE + 2 * FLOOD_WX)));
        cr_assert(ge(int, summaries, 1));
        /* At most a burst a window, whatever was sent; and a summary a window. */
        cr_assert(le(u64, limited, FLOOD_BURST * windows), "%llu records in %llu windows",
                  (unsigned long long) limited, (unsigned long long) windows);
        cr_assert(le(u64, (uint64_t) summaries, windows));
        cr_assert(le(u64, limited_bytes, (uint64_t) FLOOD_BURST * windows * 1024));
        for (size_t k = 0; k < ELEMENTSOF(op_calls); k++)
                cr_assert(eq(int, ops[k], FLOOD_ROUNDS), "%d of %d %s records", ops[k],
                          FLOOD_ROUNDS, op_calls[k]);
        json_decref(log);
}

/* ---- two daemons on one socket --------------------------------------------------------------- */

/* A socket file nobody listens on, as a daemon that was killed leaves it. */
static void stale_socket(void) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert(ge(int, fd, 0));
        strscpy(sa.sun_path, sizeof(sa.sun_path), D.sock);
        cr_assert(eq(int, bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0));
        close(fd);
}

Test(daemon_hostile, a_daemon_that_finds_the_lock_taken_leaves_the_socket_alone) {
        struct stat before, after;
        char *out;
        int lock;
        cl c;

        stale_socket();
        cr_assert(eq(int, stat(D.sock, &before), 0));
        lock = open(S("%s.lock", D.sock), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        cr_assert(ge(int, lock, 0));
        cr_assert(eq(int, flock(lock, LOCK_EX), 0));
        /* Another daemon is between its check and its bind: this one must not touch a thing. */
        cr_assert(eq(int, run_memcapd((char *[]){"", "-s", D.sock, "-r", D.root, NULL}, &out), 15));
        cr_assert(contains(out, S("another memcapd is starting on '%s' (it holds the lock "
                                  "'%s.lock')",
                                  D.sock, D.sock)),
                  "%s", out);
        free(out);
        cr_assert(eq(int, stat(D.sock, &after), 0));
        cr_assert(eq(u64, (uint64_t) after.st_ino, (uint64_t) before.st_ino),
                  "the socket was replaced while another daemon held the lock");
        close(lock);
        daemon_start(NULL, false);
        connect_to(&c);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        cl_close(&c);
}

static int race_gate[2] = {-1, -1};

/* Both daemons of a race wait here until the test lets them go at once. */
static void wait_at_gate(void) {
        char x;

        close(race_gate[1]);
        if (read(race_gate[0], &x, 1) < 0) /* EOF when the test opens the gate */
                _exit(4);
}

Test(daemon_hostile, two_daemons_started_at_once_on_a_stale_socket_leave_one_running) {
        for (int round = 0; round < 8; round++) {
                char *argv[2][6] = {{"", "-s", D.sock, "-r", D.root, NULL},
                                    {"", "-s", D.sock, "-r", D.root, NULL}};
                pid_t pid[2];
                int status[2] = {-1, -1}, fd = -1, exited = 0;
                int64_t end;

                stale_socket();
                cr_assert(eq(int, pipe2(race_gate, O_CLOEXEC), 0));
                for (int k = 0; k < 2; k++)
                        pid[k] = spawn_memcapd(argv[k], D.log, wait_at_gate);
                close(race_gate[0]);
                close(race_gate[1]); /* go */
                /* One of them must give up, the other serve. */
                end = now_ms() + 20000;
                while (now_ms() < end && (exited == 0 || fd < 0)) {
                        for (int k = 0; k < 2; k++) {
                                int st;

                                if (status[k] == -1 && waitpid(pid[k], &st, WNOHANG) == pid[k]) {
                                        status[k] = st;
                                        exited++;
                                }
                        }
                        if (fd < 0)
                                fd = try_connect(D.sock);
                        if (exited == 2)
                                break;
                        sleep_ms(10);
                }
                if (fd >= 0)
                        close(fd);
                for (int k = 0; k < 2; k++)
                        if (status[k] == -1)
                                D.pid = pid[k]; /* the survivor, stopped below or by .fini */
                if (exited != 1) {
                        if (exited == 0)
                                for (int k = 0; k < 2; k++)
                                        kill(pid[k], SIGKILL), waitpid(pid[k], NULL, 0);
                        D.pid = 0;
                        daemon_dump_log();
                        cr_fatal("round %d: %d of 2 daemons exited (socket %s)", round, exited,
                                 fd >= 0 ? "served" : "not served");
                }
                for (int k = 0; k < 2; k++)
                        if (status[k] != -1)
                                cr_assert(eq(int,
                                             WIFEXITED(status[k]) ? WEXITSTATUS(status[k]) : -1,
                                             15),
                                          "round %d: the daemon that gave up exited 0x%x", round,
                                          status[k]);
                cr_assert(ge(int, fd, 0), "round %d: nobody serves the socket", round);
                daemon_stop();
        }
}

/* ---- the audit trail as evidence ----------------------------------------------------------- */

Test(daemon_hostile, the_audit_trail_names_clients_connections_and_refused_paths) {
        static const char half[] = "{\"Mmap\":{\"path\":\"/data/half";
        const char *key_a = NULL, *key_b = NULL;
        json_int_t conn_a = -1;
        bool refused_path = false, lib_named = false, mid = false, opened = false, closed = false;
        bool long_path = false;
        char longname[8000];
        json_t *log, *rec;
        size_t i;
        peer a, b;
        cl c;

        daemon_start(NULL, true);
        peer_spawn(&a, 0);
        peer_spawn(&b, 0);
        peer_mmap(&a, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        cr_assert(starts_with(peer_call(&a, "{\"Mmap\":{\"path\":\"/data/se\\u0001cret\","
                                            "\"prot\":9}}"),
                              INVALID));
        /* A path no file can have is recorded up to PATH_MAX bytes, and how long it was. */
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        cr_assert(
                starts_with(peer_call(&a, S("{\"Mmap\":{\"path\":\"/%s\",\"prot\":1}}", longname)),
                            "{\"status\":\"error\""));
        peer_expect(&b, "{\"Hello\":{}}", hello_reply(ALL_CAPS, b.pid, 0));
        /* A client that hangs up in the middle of a request. */
        connect_to(&c);
        cr_assert(eq(int, cl_send(&c, half, sizeof(half) - 1), 0));
        cr_assert(eq(int, shutdown(c.fd, SHUT_WR), 0));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        cl_close(&c);
        peer_exit(&a);
        peer_exit(&b);
        daemon_stop();

        log = audit_load();
        json_array_foreach(log, i, rec) {
                json_t *client = json_object_get(rec, "client");

                if (rec_is(rec, "connect") && ev_int(rec, "client_pid") == a.pid) {
                        opened = true;
                        conn_a = ev_int(rec, "conn");
                        key_a = ev_str(rec, "client_key");
                        cr_assert(not(eq(ptr, (char *) key_a, NULL)));
                }
                if (rec_is(rec, "connect") && ev_int(rec, "client_pid") == b.pid)
                        key_b = ev_str(rec, "client_key");
                if (rec_is(rec, "request") && streq(ev_str(rec, "call") ?: "", "invalid") &&
                    ev_int(rec, "client_pid") == a.pid) {
                        /* The refused request names the path it asked for, and the line. */
                        cr_assert(not(eq(ptr, (char *) ev_str(rec, "path"), NULL)),
                                  "the refused request's record has no path");
                        cr_assert(eq(str, (char *) ev_str(rec, "path"), "/data/se\001cret"));
                        cr_assert(contains(ev_str(rec, "line"), "\"prot\":9"));
                        cr_assert(eq(i64, ev_int(rec, "conn"), conn_a));
                        cr_assert(eq(str, (char *) ev_str(rec, "client_key"), (char *) key_a));
                        refused_path = true;
                }
                if (rec_is(rec, "request") &&
                    json_object_get(json_object_get(rec, "event"), "path_bytes")) {
                        cr_assert(
                                eq(i64, ev_int(rec, "path_bytes"), (json_int_t) sizeof(longname)));
                        cr_assert(eq(sz, strlen(ev_str(rec, "path")), (size_t) PATH_MAX));
                        long_path = true;
                }
                if (client &&
                    streq(json_string_value(json_object_get(rec, "operation")) ?: "", "mmap")) {
                        /* The library's record of the mapping names the client too. */
                        cr_assert(eq(i64, json_integer_value(json_object_get(client, "conn")),
                                     conn_a));
                        cr_assert(
                                eq(i64, json_integer_value(json_object_get(client, "pid")), a.pid));
                        cr_assert(eq(str,
                                     (char *) json_string_value(json_object_get(client, "key")),
                                     (char *) key_a));
                        lib_named = true;
                }
                /* (The test's other connections, such as daemon_start()'s, closed cleanly.) */
                if (rec_is(rec, "disconnect") && ev_int(rec, "client_pid") == getpid() &&
                    !streq(ev_str(rec, "reason"), "closed")) {
                        cr_assert(eq(str, (char *) ev_str(rec, "reason"), "closed_mid_request"));
                        cr_assert(eq(str, (char *) ev_str(rec, "unhandled"), (char *) half));
                        cr_assert(eq(i64, ev_int(rec, "unhandled_bytes"),
                                     (json_int_t) sizeof(half) - 1));
                        mid = true;
                }
                if (rec_is(rec, "disconnect") && ev_int(rec, "conn") == conn_a) {
                        const char *why = ev_str(rec, "reason");
                        cr_assert(streq(why, "closed") || streq(why, "process_exited"), "%s", why);
                        closed = true;
                }
        }
        cr_assert(opened && closed, "the connection's open and close are recorded");
        cr_assert(refused_path, "the refused request's record");
        cr_assert(lib_named, "the library's record names the client");
        cr_assert(mid, "the disconnect in the middle of a request");
        cr_assert(long_path, "the request with a path longer than PATH_MAX");
        /* Two processes, two identities, even were the kernel to give one the other's pid. */
        cr_assert(not(eq(ptr, (char *) key_b, NULL)));
        cr_assert(not(eq(str, (char *) key_a, (char *) key_b)));
        json_decref(log);
}

/* ---- configuration ----------------------------------------------------------------------------
 */

Test(daemon_hostile, bad_limits_and_timeouts_are_refused_at_start) {
        static const char *const bad[] = {
                "{\"request_timeout\": 0}",     "{\"request_timeout\": \"0s\"}",
                "{\"send_timeout\": \"25h\"}",  "{\"send_timeout\": \"5 s\"}",
                "{\"send_timeout\": \"1.5s\"}", "{\"audit_rate_interval\": -1}",
                "{\"audit_rate_burst\": 0}",    "{\"audit_rate_burst\": \"10\"}",
                "{\"max_buffer_per_uid\": 0}",  "{\"max_buffer_total\": \"lots\"}",
        };
        char *out;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                write_config(bad[i]);
                cr_assert(eq(int,
                             run_memcapd((char *[]){"", "-s", D.sock, "-r", D.root, "-c", D.config,
                                                    NULL},
                                         &out),
                             12),
                          "%s", bad[i]);
                cr_assert(contains(out, "config '"), "%s: %s", bad[i], out);
                free(out);
        }
        /* The units that are documented work. */
        daemon_start("{\"request_timeout\": \"500ms\", \"send_timeout\": 30, "
                     "\"audit_rate_interval\": \"2min\", \"audit_rate_burst\": 1, "
                     "\"max_buffer_per_uid\": \"8MiB\", \"max_buffer_total\": 67108864}",
                     false);
}
