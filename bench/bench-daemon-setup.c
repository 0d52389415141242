/* SPDX-License-Identifier: MIT */
/* bench-daemon: results, the temporary directory, small helpers, child processes, the echo servers,
 * and the memcapd and redis clients (see bench-daemon.c). */

#include "bench-daemon.h"

/* ---- options and failure reporting ---- */

/* ---- results ---- */

result results[MAX_RESULTS];
size_t n_results;

const char *verdict(const result *res) {
        if (isnan(res->ratio))
                return "-";
        if (res->goal == GOAL_AT_MOST)
                return res->ratio <= res->target ? "ok" : "MISSED";
        if (res->goal == GOAL_AT_LEAST)
                return res->ratio >= res->target ? "ok" : "MISSED";
        return "-";
}

cost costs[MAX_COSTS];
size_t n_costs;

result *add_result(const char *name, const char *key, const char *where, unit u) {
        result *res;

        if (n_results >= MAX_RESULTS)
                return NULL;
        res = &results[n_results++];
        memset(res, 0, sizeof(*res));
        snprintf(res->name, sizeof(res->name), "%s", name);
        res->key = key;
        res->placement = where;
        res->unit = u;
        res->ratio = res->ratio_min = res->ratio_max = NAN;
        res->mc.v = res->mc.p99 = res->mc.aux = NAN;
        res->base.v = res->base.p99 = res->base.aux = NAN;
        return res;
}

/* Ratios per round: @inverse for rows where lower is better but the values are rates. */
void set_ratio(result *res, bool inverse) {
        double r[MAX_ROUNDS];
        unsigned n = MIN(res->mc.n, res->base.n);

        if (n == 0)
                return;
        for (unsigned k = 0; k < n; k++)
                r[k] = inverse ? res->base.rounds[k] / res->mc.rounds[k]
                               : res->mc.rounds[k] / res->base.rounds[k];
        bench_ratio_range(r, n, &res->ratio, &res->ratio_min, &res->ratio_max);
}

/* ---- the temporary directory ---- */

char paths[N_PATHS][160];
volatile sig_atomic_t dir_made;

volatile pid_t children[MAX_CHILDREN];

void remove_dir(void) {
        if (!dir_made)
                return;
        for (int i = N_PATHS - 1; i > P_ROOT; i--)
                (void) unlink(paths[i]);
        (void) rmdir(paths[P_ROOT]);
        (void) rmdir(paths[P_DIR]);
        dir_made = 0;
}

void on_interrupt(int sig) {
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] > 0)
                        (void) kill(children[i], SIGKILL);
        remove_dir();
        _exit(128 + sig);
}

void child_add(pid_t pid) {
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] <= 0) {
                        children[i] = pid;
                        return;
                }
}

void child_forget(pid_t pid) {
        for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] == pid)
                        children[i] = 0;
}

/* The directory, and the scan file's size: 3x free on the file system, half the memory. */
int dir_plan(const options *opts, uint64_t *ret_big) {
        uint64_t want = opts->quick ? 64 * MIB : GIB, best_free, size = 0;
        const char *best = bench_file_place(opts->dir, want, &best_free, &size);
        int n;

        if (!best || best_free < 64 * MIB)
                return bench_fail(-ENOSPC, "no room for the benchmark's files in %s",
                                  opts->dir ? opts->dir : "/var/tmp or /tmp");
        if (size < MIB)
                return bench_fail(-ENOSPC, "no room for a scan file in %s", best);
        /* Socket paths must fit sockaddr_un (108 bytes) with their names. */
        n = snprintf(paths[P_DIR], sizeof(paths[P_DIR]), "%s/memcap-bench-daemon-XXXXXX", best);
        if (n < 0 || (size_t) n + 24 >= sizeof(((struct sockaddr_un *) 0)->sun_path))
                return bench_fail(-ENAMETOOLONG, "directory name too long for a socket: %s", best);
        *ret_big = size;
        return 0;
}

int dir_make(void) {
        static const char *const names[N_PATHS] = {
                [P_ROOT] = "root",
                [P_DATA] = "root/data.bin",
                [P_SMALL] = "root/small.bin",
                [P_BIG] = "root/big.bin",
                [P_CONFIG] = "memcapd.json",
                [P_SOCK] = "memcapd.sock",
                [P_LOG] = "memcapd.log",
                [P_MEM_SOCK] = "memcapd-mem.sock",
                [P_MEM_LOG] = "memcapd-mem.log",
                [P_ECHO_SOCK] = "echo.sock",
                [P_EPOLL_SOCK] = "echo-epoll.sock",
                [P_ECHO_LOG] = "echo.log",
                [P_REDIS_SOCK] = "redis.sock",
                [P_REDIS_LOG] = "redis.log",
                [P_REDIS_BENCH_LOG] = "redis-benchmark.log",
                [P_LOCK] = "memcapd.sock.lock",
                [P_MEM_LOCK] = "memcapd-mem.sock.lock",
        };

        if (!mkdtemp(paths[P_DIR]))
                return bench_fail_errno(errno, paths[P_DIR]);
        dir_made = 1;
        for (int i = P_ROOT; i < N_PATHS; i++)
                if (snprintf(paths[i], sizeof(paths[i]), "%s/%s", paths[P_DIR], names[i]) >=
                    (int) sizeof(paths[i]))
                        return bench_fail(-ENAMETOOLONG, "path too long: %s/%s", paths[P_DIR],
                                          names[i]);
        if (mkdir(paths[P_ROOT], 0700) < 0)
                return bench_fail_errno(errno, paths[P_ROOT]);
        return 0;
}

/* ---- small helpers ---- */

/* xorshift64*: the file's bytes are random so that base64 sees realistic input. */
uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

size_t bench_base64(char *out, const unsigned char *in, size_t n) {
        static const char tab[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0, i = 0;

        for (; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];

                out[o++] = tab[v >> 18];
                out[o++] = tab[(v >> 12) & 63];
                out[o++] = tab[(v >> 6) & 63];
                out[o++] = tab[v & 63];
        }
        if (i < n) {
                uint32_t v = (uint32_t) in[i] << 16 | (i + 1 < n ? (uint32_t) in[i + 1] << 8 : 0);

                out[o++] = tab[v >> 18];
                out[o++] = tab[(v >> 12) & 63];
                out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
                out[o++] = '=';
        }
        return o;
}

/* The unsigned number after "key": in a reply line; false when it is not there. */
bool json_u64(const char *text, const char *key, uint64_t *ret) {
        char pat[64], *end;
        const char *p;

        snprintf(pat, sizeof(pat), "\"%s\":", key);
        p = strstr(text, pat);
        if (!p)
                return false;
        p += strlen(pat);
        if (*p < '0' || *p > '9')
                return false;
        errno = 0;
        *ret = strtoull(p, &end, 10);
        return errno == 0 && end != p;
}

int unix_connect(const char *path, int *ret_fd) {
        int fd = mct_unix_connect(path);

        if (fd < 0)
                return fd;
        *ret_fd = fd;
        return 0;
}

int tcp_connect(uint16_t port, int *ret_fd) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        int fd, one = 1;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int e = errno;

                close(fd);
                return -e;
        }
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        *ret_fd = fd;
        return 0;
}

/* A blocking client socket whose reads give up after IO_TIMEOUT seconds of silence. */
void set_timeout(int fd) {
        struct timeval tv = {.tv_sec = IO_TIMEOUT};

        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int listen_unix(const char *path, bool nonblock, int *ret_fd) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
        if (fd < 0)
                return bench_fail_errno(errno, "socket");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
                int e = errno;

                close(fd);
                return bench_fail_errno(e, path);
        }
        *ret_fd = fd;
        return 0;
}

/* A TCP port on 127.0.0.1 nobody listens on right now (the kernel picks it). */
int free_port(uint16_t *ret) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        int fd;

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
                int e = errno;

                close(fd);
                return -e;
        }
        close(fd);
        *ret = ntohs(sa.sin_port);
        return 0;
}

bool find_in_path(const char *name, char *buf, size_t size) {
        const char *path = getenv("PATH"), *p, *end;

        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (p = path; *p; p = *end ? end + 1 : end) {
                int n;

                end = strchr(p, ':');
                if (!end)
                        end = p + strlen(p);
                n = snprintf(buf, size, "%.*s/%s", (int) (end - p), p, name);
                if (n > 0 && (size_t) n < size && access(buf, X_OK) == 0)
                        return true;
        }
        return false;
}

/* ---- child processes ---- */

/* A child that dies with this process and starts with default signal handling. */
pid_t fork_child(const cpu_set_t *cpus) {
        pid_t parent = getpid(), pid;
        sigset_t none;

        pid = fork();
        if (pid != 0) {
                if (pid > 0)
                        child_add(pid);
                return pid;
        }
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(1);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (cpus)
                (void) sched_setaffinity(0, sizeof(*cpus), cpus);
        return 0;
}

/* Start @argv with stdout to @out_fd (or @log) and stderr to @log. */
int spawn(char *const argv[], const char *log, int out_fd, const cpu_set_t *cpus, pid_t *ret_pid) {
        pid_t pid = 0;
        int fd;

        pid = fork_child(cpus);
        if (pid < 0)
                return bench_fail_errno(errno, "fork");
        if (pid == 0) {
                fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        dup2(fd, 2);
                        dup2(out_fd >= 0 ? out_fd : fd, 1);
                }
                fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd >= 0)
                        dup2(fd, 0);
                execvp(argv[0], argv);
                dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        *ret_pid = pid;
        return 0;
}

/* The end of a log, for a failure message. */
void log_tail(const char *log, char *buf, size_t size) {
        char all[4096];
        ssize_t n = bench_read_small(log, all, sizeof(all));
        char *p;

        buf[0] = '\0';
        if (n <= 0)
                return;
        while (n > 0 && all[n - 1] == '\n')
                all[--n] = '\0';
        p = all + (n > 300 ? n - 300 : 0);
        for (char *q = p; *q; q++)
                if (*q == '\n')
                        *q = '|';
        snprintf(buf, size, "%s", p);
}

/* Wait until @connect_fn reaches the server; fail if it exits first or after 10 s. */
int wait_ready(server *s, int (*probe)(const void *), const void *arg) {
        uint64_t deadline = bench_now_ns() + 10 * NS;
        char tail[320];
        int status, r;

        for (;;) {
                r = probe(arg);
                if (r == 0)
                        return 0;
                if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                        child_forget(s->pid);
                        s->pid = 0;
                        log_tail(s->log, tail, sizeof(tail));
                        return bench_fail(-ECHILD,
                                          "%s exited before it was ready (status 0x%x): %s",
                                          s->name, status, tail);
                }
                if (bench_now_ns() > deadline)
                        return bench_fail(-ETIMEDOUT, "%s did not accept connections within 10 s",
                                          s->name);
                usleep(5000);
        }
}

int probe_unix(const void *arg) {
        int fd = -1, r;

        r = unix_connect(arg, &fd);
        if (r == 0)
                close(fd);
        return r;
}

int probe_tcp(const void *arg) {
        int fd = -1, r;

        r = tcp_connect(*(const uint16_t *) arg, &fd);
        if (r == 0)
                close(fd);
        return r;
}

/* SIGTERM, then SIGKILL after 10 s. Returns the wait status, or -1 if it was not running. */
int server_stop(server *s, uint64_t *ret_ns) {
        uint64_t t0 = bench_now_ns(), deadline = t0 + 10 * NS;
        int status = -1;

        if (s->pid <= 0)
                return -1;
        (void) kill(s->pid, SIGTERM);
        for (;;) {
                pid_t w = waitpid(s->pid, &status, WNOHANG);

                if (w == s->pid || (w < 0 && errno != EINTR))
                        break;
                if (bench_now_ns() > deadline) {
                        (void) kill(s->pid, SIGKILL);
                        (void) waitpid(s->pid, &status, 0);
                        bench_note("%s did not stop within 10 s of SIGTERM: killed", s->name);
                        break;
                }
                usleep(2000);
        }
        if (ret_ns)
                *ret_ns = bench_now_ns() - t0;
        child_forget(s->pid);
        s->pid = 0;
        return status;
}

/* ---- the echo servers ---- */

char echo_reply[ECHO_REPLY];

/* Blocking: one connection at a time, read a line, write the reply. Two system calls. */
_Noreturn void echo_blocking(int lfd) {
        static char buf[64 * 1024];

        for (;;) {
                size_t have = 0;
                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        _exit(1);
                }
                for (;;) {
                        ssize_t n = read(c, buf + have, sizeof(buf) - have);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        have += (size_t) n;
                        if (buf[have - 1] != '\n') {
                                if (have == sizeof(buf))
                                        break;
                                continue;
                        }
                        have = 0;
                        if (bench_write_all(c, echo_reply, sizeof(echo_reply)) < 0)
                                break;
                }
                close(c);
        }
}

/*
 * An event loop as small as one can be: epoll_wait, one read, one write. This is the floor of
 * a server that multiplexes connections (Redis does the same three calls per request), and it
 * sits between the blocking echo and memcapd.
 */
_Noreturn void echo_epoll(int lfd) {
        enum { MAX_FD = 1024 };
        static struct {
                size_t have;
                char buf[8192];
        } st[MAX_FD];
        struct epoll_event ev = {.events = EPOLLIN}, evs[64];
        int ep = epoll_create1(EPOLL_CLOEXEC);

        ev.data.fd = lfd;
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
                _exit(1);
        for (;;) {
                int n = epoll_wait(ep, evs, 64, -1);

                for (int i = 0; i < n; i++) {
                        int fd = evs[i].data.fd;
                        ssize_t k;

                        if (fd == lfd) {
                                int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

                                if (c < 0)
                                        continue;
                                if (c >= MAX_FD) {
                                        close(c);
                                        continue;
                                }
                                st[c].have = 0;
                                ev.events = EPOLLIN;
                                ev.data.fd = c;
                                if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
                                        close(c);
                                continue;
                        }
                        k = read(fd, st[fd].buf + st[fd].have, sizeof(st[fd].buf) - st[fd].have);
                        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (k <= 0) {
                                close(fd); /* also leaves the epoll set */
                                continue;
                        }
                        st[fd].have += (size_t) k;
                        if (st[fd].buf[st[fd].have - 1] != '\n') {
                                if (st[fd].have == sizeof(st[fd].buf))
                                        close(fd);
                                continue;
                        }
                        st[fd].have = 0;
                        k = write(fd, echo_reply, sizeof(echo_reply));
                        if (k >= 0 && (size_t) k < sizeof(echo_reply)) {
                                /* The socket buffer was full: finish blocking, rare. */
                                int fl = fcntl(fd, F_GETFL);

                                fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
                                (void) bench_write_all(fd, echo_reply + k,
                                                       sizeof(echo_reply) - (size_t) k);
                                fcntl(fd, F_SETFL, fl);
                        }
                }
        }
}

int echo_start(server *s, const char *path, bool epoll) {
        int lfd = -1, r;
        pid_t pid;

        r = listen_unix(path, epoll, &lfd);
        if (r < 0)
                return r;
        pid = fork_child(NULL);
        if (pid < 0) {
                close(lfd);
                return bench_fail_errno(errno, "fork");
        }
        if (pid == 0) {
                if (epoll)
                        echo_epoll(lfd);
                echo_blocking(lfd);
        }
        close(lfd);
        s->pid = pid;
        s->log = paths[P_ECHO_LOG];
        return wait_ready(s, probe_unix, path);
}

/* ---- memcapd and redis clients ---- */

/*
 * One request line to memcapd and its reply line, for the set-up and MmapFd calls (not the
 * timed round trips of the latency benchmark, which have their own loop). A descriptor sent
 * with the reply lands in *@ret_fd (when not NULL). Fails unless the status is "success".
 */
int daemon_call(int fd, const char *req, char *reply, size_t size, int *ret_fd) {
        size_t have = 0;
        int r, got_fd = -1;

        r = bench_write_all(fd, req, strlen(req));
        if (r < 0)
                return bench_fail_errno(-r, "writing to memcapd");
        for (;;) {
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov = {reply + have, size - 1 - have};
                struct msghdr msg = {.msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = cbuf,
                                     .msg_controllen = sizeof(cbuf)};
                ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = bench_fail_errno(errno, "reading from memcapd");
                        goto out;
                }
                if (n == 0) {
                        r = bench_fail(-EPIPE, "memcapd closed the connection");
                        goto out;
                }
                for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
                        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
                            got_fd < 0)
                                memcpy(&got_fd, CMSG_DATA(cm), sizeof(int));
                have += (size_t) n;
                if (reply[have - 1] == '\n')
                        break;
                if (have == size - 1) {
                        r = bench_fail(-EMSGSIZE, "memcapd's reply is longer than %zu bytes", size);
                        goto out;
                }
        }
        reply[have] = '\0';
        if (strncmp(reply, "{\"status\":\"success\"", 19) != 0) {
                r = bench_fail(-EPROTO, "memcapd refused %.*s: %.200s", (int) strcspn(req, "\n"),
                               req, reply);
                goto out;
        }
        if (ret_fd) {
                *ret_fd = got_fd;
                got_fd = -1;
        }
        r = 0;
out:
        if (got_fd >= 0)
                close(got_fd);
        return r;
}

int daemon_mmap(int fd, const char *path, uint64_t *ret_id) {
        char req[256], reply[512];
        int r;

        snprintf(req, sizeof(req), "{\"Mmap\":{\"path\":\"%s\",\"prot\":1,\"shared\":true}}\n",
                 path);
        r = daemon_call(fd, req, reply, sizeof(reply), NULL);
        if (r < 0)
                return r;
        if (!json_u64(reply, "mmap_id", ret_id))
                return bench_fail(-EPROTO, "no mmap_id in memcapd's reply: %.200s", reply);
        return 0;
}

/* RESP, as redis-benchmark sends it. */
const char redis_get[] = "*2\r\n$3\r\nGET\r\n$16\r\n" REDIS_KEY "\r\n";

/* Store the 4 KiB value that every GET reads, and check that GET returns it. */
int redis_set(uint16_t port, const unsigned char *value) {
        char head[128], reply[64];
        size_t have = 0;
        int fd = -1, r;

        r = tcp_connect(port, &fd);
        if (r < 0)
                return bench_fail_errno(-r, "connecting to redis-server");
        set_timeout(fd);
        snprintf(head, sizeof(head), "*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%d\r\n", REDIS_KEY,
                 READ_BYTES);
        r = bench_write_all(fd, head, strlen(head));
        if (r >= 0)
                r = bench_write_all(fd, value, READ_BYTES);
        if (r >= 0)
                r = bench_write_all(fd, "\r\n", 2);
        if (r < 0) {
                close(fd);
                return bench_fail_errno(-r, "writing to redis-server");
        }
        while (have < 5) {
                ssize_t n = read(fd, reply + have, sizeof(reply) - 1 - have);

                if (n <= 0) {
                        close(fd);
                        return bench_fail(-EPROTO, "redis-server did not answer SET");
                }
                have += (size_t) n;
        }
        close(fd);
        reply[have] = '\0';
        if (strncmp(reply, "+OK\r\n", 5) != 0)
                return bench_fail(-EPROTO, "redis-server refused SET: %.60s", reply);
        return 0;
}
