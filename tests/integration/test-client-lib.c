/* SPDX-License-Identifier: MIT */
/*
 * libmemcap's client of memcapd (<memcap/client.h>) against a real memcapd, the built one started
 * per test on a socket of its own, and against a fake daemon (a forked child answering with
 * scripted lines) for the replies a real daemon never sends.
 *
 * Sections: the daemon, calls on a real daemon, errors, a fake daemon.
 */

#include "mctest.h"
#include "memcapd.h"
#include "fake-daemon.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void fini(void) {
        daemon_cleanup();
        mc_test_fini();
}

TestSuite(client_lib, .init = daemon_start_with_data, .fini = fini, .timeout = 60);

static mc_daemon *connect_or_die(void) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;

        cr_assert(eq(int, mc_daemon_connect(D.sock, &d, &err), 0), "%s", err.message);
        cr_assert(eq(str, (char *) mc_daemon_path(d), D.sock));
        return d;
}

/* ---- calls on a real daemon ------------------------------------------------------------------ */

Test(client_lib, hello_names_the_daemon_and_this_client) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = connect_or_die();
        mc_daemon_info info;

        cr_assert(eq(int, mc_daemon_hello(d, &info, &err), 0), "%s", err.message);
        cr_assert(eq(str, info.daemon, "memcapd"));
        cr_assert(eq(str, info.version, (char *) mc_version()));
        cr_assert(eq(u32, info.protocol, 1));
        cr_assert(eq(int, (int) info.pid, (int) getpid()));
        cr_assert(eq(u32, (unsigned) info.uid, (unsigned) getuid()));
        /* The default configuration grants the daemon's own uid everything. */
        cr_assert(eq(u32, info.capabilities, MC_CAP_ALL));
        mc_daemon_close(d);
}

Test(client_lib, map_write_read_sync_and_unmap_reach_the_file) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = connect_or_die();
        char buf[13] = {0}, path[300], *disk;
        uint64_t id = 0, len = 0;
        bool written = false;

        cr_assert(eq(int,
                     mc_daemon_mmap(d, "/data/f", 0, 0, MC_PROT_READ | MC_PROT_WRITE,
                                    MC_DAEMON_MAP_SHARED, &id, &len, &err),
                     0),
                  "%s", err.message);
        cr_assert(gt(u64, id, 0));
        cr_assert(eq(u64, len, 13));
        cr_assert(eq(int, mc_daemon_read(d, id, 0, buf, 5, &err), 0), "%s", err.message);
        cr_assert(eq(int, memcmp(buf, "hello", 5), 0));
        cr_assert(eq(int, mc_daemon_write(d, id, 7, "WORLD", 5, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_daemon_read(d, id, 0, buf, 13, &err), 0));
        cr_assert(eq(int, memcmp(buf, "hello, WORLD\n", 13), 0));
        cr_assert(eq(int, mc_daemon_msync(d, id, &written, &err), 0), "%s", err.message);
        cr_assert(written);
        snprintf(path, sizeof(path), "%s/data/f", D.root);
        disk = slurp(path);
        cr_assert(eq(str, disk, "hello, WORLD\n"));
        free(disk);
        cr_assert(eq(int, mc_daemon_munmap(d, id, &err), 0), "%s", err.message);
        /* The id is gone for good. */
        cr_assert(eq(int, mc_daemon_read(d, id, 0, buf, 1, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        mc_daemon_close(d);
}

Test(client_lib, anonymous_memory_and_an_empty_read) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = connect_or_die();
        char buf[4] = "xyz";
        uint64_t id = 0;
        bool written = true;

        cr_assert(eq(int,
                     mc_daemon_mmap(d, NULL, 0, 4096, MC_PROT_READ | MC_PROT_WRITE, 0, &id, NULL,
                                    &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int, mc_daemon_read(d, id, 4096, buf, 0, &err), 0), "%s", err.message);
        cr_assert(eq(str, buf, "xyz"));
        cr_assert(eq(int, mc_daemon_msync(d, id, &written, &err), 0));
        cr_assert(not(written), "anonymous memory writes to no file");
        mc_daemon_close(d);
}

Test(client_lib, descriptor_maps_the_same_pages) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = connect_or_die();
        uint64_t id = 0;
        int fd = -1;
        char *p;

        cr_assert(eq(int,
                     mc_daemon_mmap(d, "/data/f", 0, 0, MC_PROT_READ | MC_PROT_WRITE,
                                    MC_DAEMON_MAP_SHARED, &id, NULL, &err),
                     0));
        cr_assert(eq(int, mc_daemon_mmap_fd(d, id, &fd, &err), 0), "%s", err.message);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC));
        p = mmap(NULL, 13, PROT_READ, MAP_SHARED, fd, 0);
        cr_assert(not(eq(ptr, p, MAP_FAILED)));
        cr_assert(eq(int, mc_daemon_write(d, id, 0, "J", 1, &err), 0));
        cr_assert(eq(chr, p[0], 'J'), "one page cache: the daemon's write shows here at once");
        munmap(p, 13);
        close(fd);
        mc_daemon_close(d);
}

/* MmapList through mc_daemon_call() on @d, which has no mapping: the reply, exactly. */
static void expect_no_mappings(mc_daemon *d) {
        mc_error err = MC_ERROR_INIT;
        char *reply = NULL;

        cr_assert(eq(int, mc_daemon_call(d, "MmapList", NULL, &reply, NULL, &err), 0), "%s",
                  err.message);
        cr_assert(eq(str, reply, "{\"status\":\"success\",\"data\":[]}"));
        free(reply);
}

Test(client_lib, call_passes_any_call_and_returns_the_reply) {
        mc_daemon *d = connect_or_die();

        expect_no_mappings(d);
        mc_daemon_close(d);
}

/* ---- errors ------------------------------------------------------------------------------------
 */

Test(client_lib, daemon_errors_keep_their_kind_and_errno) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = connect_or_die();
        char buf[64];
        uint64_t id = 0;

        cr_assert(eq(int,
                     mc_daemon_mmap(d, "/data/missing", 0, 0, MC_PROT_READ, 0, &id, NULL, &err),
                     -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(int, err.sys_errno, ENOENT));
        cr_assert(eq(int, strncmp(err.message, "Mmap failed: ", 13), 0), "%s", err.message);
        cr_assert(eq(u64, id, 0), "outputs stay untouched on failure");

        cr_assert(eq(int, mc_daemon_mmap(d, "/data/f", 0, 0, MC_PROT_READ, 0, &id, NULL, &err), 0));
        memset(buf, 'q', sizeof(buf));
        /* Past the end: refused, never cut short, and the buffer is not touched. */
        cr_assert(eq(int, mc_daemon_read(d, id, 0, buf, sizeof(buf), &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(chr, buf[0], 'q'));
        /* Writing a read-only mapping: the mapping's protection says no. */
        cr_assert(lt(int, mc_daemon_write(d, id, 0, "x", 1, &err), 0));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED), "%s", err.message);
        mc_daemon_close(d);
}

/* The connection's system calls, failed through the seam: each an error with its errno. */
static int fail_socket(int domain, int type, int protocol) {
        (void) domain, (void) type, (void) protocol;
        errno = EMFILE;
        return -1;
}

static int fail_connect(int fd, const struct sockaddr *addr, unsigned addrlen) {
        (void) fd, (void) addr, (void) addrlen;
        errno = EACCES;
        return -1;
}

static int n_interrupted;

static ssize_t interrupt_then_fail_sendmsg(int fd, const struct msghdr *msg, int flags) {
        (void) fd, (void) msg, (void) flags;
        errno = n_interrupted++ == 0 ? EINTR : EPIPE;
        return -1;
}

static ssize_t interrupt_then_fail_recvmsg(int fd, struct msghdr *msg, int flags) {
        (void) fd, (void) msg, (void) flags;
        errno = n_interrupted++ == 0 ? EINTR : ECONNRESET;
        return -1;
}

Test(client_lib, failed_socket_calls_are_errors_with_their_errno) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;
        char *reply = NULL;

        mc_sys.socket = fail_socket;
        cr_assert(eq(int, mc_daemon_connect(D.sock, &d, &err), -EMFILE), "%s", err.message);
        cr_assert(eq(int, err.sys_errno, EMFILE));
        cr_assert(eq(ptr, d, NULL));
        mc__sys_reset();

        mc_sys.connect = fail_connect;
        cr_assert(eq(int, mc_daemon_connect(D.sock, &d, &err), -EACCES), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(ne(ptr, strstr(err.message, D.sock), NULL), "%s", err.message);
        cr_assert(eq(ptr, d, NULL));
        mc__sys_reset();

        /* EINTR is retried; the next failure is the caller's. */
        d = connect_or_die();
        n_interrupted = 0;
        mc_sys.sendmsg = interrupt_then_fail_sendmsg;
        cr_assert(eq(int, mc_daemon_call(d, "MmapList", NULL, &reply, NULL, &err), -EPIPE), "%s",
                  err.message);
        cr_assert(eq(int, n_interrupted, 2), "EINTR was not retried");
        cr_assert(eq(ptr, reply, NULL));
        mc__sys_reset();
        mc_daemon_close(d);

        d = connect_or_die();
        n_interrupted = 0;
        mc_sys.recvmsg = interrupt_then_fail_recvmsg;
        cr_assert(eq(int, mc_daemon_call(d, "MmapList", NULL, &reply, NULL, &err), -ECONNRESET),
                  "%s", err.message);
        cr_assert(eq(int, n_interrupted, 2), "EINTR was not retried");
        cr_assert(eq(ptr, reply, NULL));
        mc__sys_reset();
        mc_daemon_close(d);
}

Test(client_lib, bad_arguments_send_nothing) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = connect_or_die();
        char *reply = NULL;
        uint64_t id;
        char b;

        cr_assert(eq(int, mc_daemon_call(d, "Hello", "{\"a\":", &reply, NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_daemon_call(d, "Hello", "[1]", &reply, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_daemon_call(d, "Hel lo", NULL, &reply, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_daemon_call(d, "Hello\"}", NULL, &reply, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_daemon_send_line(d, "{}\n{}", 5, &err), -EINVAL));
        cr_assert(eq(int, mc_daemon_mmap(d, "/data/f", 0, 0, 8, 0, &id, NULL, &err), -EINVAL));
        cr_assert(
                eq(int, mc_daemon_mmap(d, "/data/f", 0, 0, 1, 1u << 5, &id, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_daemon_read(d, 0, 0, &b, 1, &err), -EINVAL));
        cr_assert(eq(int, mc_daemon_munmap(d, UINT64_MAX, &err), -EINVAL));
        cr_assert(eq(ptr, reply, NULL));
        /* Nothing went out: the next reply is the answer to the next call. */
        expect_no_mappings(d);
        mc_daemon_close(d);
}

Test(client_lib, missing_daemon_is_not_found_and_long_paths_invalid) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;
        char path[300], longp[200];

        snprintf(path, sizeof(path), "%s/nobody-here", D.dir);
        cr_assert(eq(int, mc_daemon_connect(path, &d, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(not(eq(ptr, strstr(err.message, "is memcapd running?"), NULL)), "%s",
                  err.message);
        cr_assert(eq(ptr, d, NULL));
        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = 0;
        cr_assert(eq(int, mc_daemon_connect(longp, &d, &err), -ENAMETOOLONG));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_daemon_connect("", &d, &err), -EINVAL));
        mc_daemon_close(NULL);
}

Test(client_lib, default_socket_is_the_environment_first) {
        char *p = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;

        cr_assert(eq(int, setenv(MC_DAEMON_SOCKET_ENV, D.sock, 1), 0));
        cr_assert(eq(int, mc_daemon_default_socket(&p), 0));
        cr_assert(eq(str, p, D.sock));
        free(p);
        cr_assert(eq(int, mc_daemon_connect(NULL, &d, &err), 0), "%s", err.message);
        mc_daemon_close(d);
        cr_assert(eq(int, setenv(MC_DAEMON_SOCKET_ENV, "", 1), 0));
        cr_assert(eq(int, setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0));
        cr_assert(eq(int, mc_daemon_default_socket(&p), 0));
        cr_assert(eq(str, p,
                     getuid() == 0 ? "/run/memcap/memcapd.sock"
                                   : "/run/user/4242/memcap/memcapd.sock"));
        free(p);
}

/* ---- a fake daemon ------------------------------------------------------------------------------
 */

/* A fake daemon (fake_daemon_start()) on <dir>/fake, its path in @path. */
static pid_t fake_daemon(char *path, size_t size, const char *const *replies, const unsigned *fds) {
        snprintf(path, size, "%s/fake", D.dir);
        return fake_daemon_start(path, replies, fds);
}

static void fake_reap(pid_t pid) {
        int status = mct_wait_pid(pid, 20000);

        if (status == -1) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        cr_assert(not(eq(int, status, -1)), "the fake daemon did not end");
}

Test(client_lib, daemon_text_is_escaped_and_unknown_kinds_are_io) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;
        char path[300];
        pid_t pid;

        pid = fake_daemon(path, sizeof(path),
                          (const char *const[]){
                                  "{\"status\":\"error\",\"kind\":\"PolicyViolation\","
                                  "\"message\":\"Munmap failed: \\u001b[2Jno\\nway\"}\n",
                                  "{\"status\":\"error\",\"kind\":\"Bogus\",\"message\":\"m\"}\n",
                                  "{\"status\":\"success\",\"mmap_id\":\"one\"}\n",
                                  "{\"status\":\"success\",\"data\":\"AAAA\"}\n", NULL},
                          NULL);
        cr_assert(eq(int, mc_daemon_connect(path, &d, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_daemon_munmap(d, 3, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(eq(str, err.message, "Munmap failed: \\x1b[2Jno\\x0away"));
        cr_assert(eq(int, err.sys_errno, 0), "the daemon sent no errno");
        cr_assert(eq(int, mc_daemon_munmap(d, 3, &err), -EPROTO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(eq(str, err.message, "Munmap failed (unknown error kind 'Bogus'): m"));
        {
                uint64_t id = 77;

                cr_assert(
                        eq(int, mc_daemon_mmap(d, NULL, 0, 4096, 3, 0, &id, NULL, &err), -EPROTO));
                cr_assert(eq(u64, id, 77));
        }
        {
                char buf[8] = "unset";

                /* Three bytes for a read of five: Io, and the buffer keeps what it had. */
                cr_assert(eq(int, mc_daemon_read(d, 1, 0, buf, 5, &err), -EPROTO));
                cr_assert(eq(str, buf, "unset"));
                cr_assert(not(eq(ptr, strstr(err.message, "3 bytes for a read of 5"), NULL)), "%s",
                          err.message);
        }
        mc_daemon_close(d);
        fake_reap(pid);
}

Test(client_lib, descriptors_go_with_their_reply_only) {
        mc_error err = MC_ERROR_INIT;
        mc_daemon *d = NULL;
        char path[300];
        int fd = 5;
        pid_t pid;

        pid = fake_daemon(
                path, sizeof(path),
                (const char *const[]){
                        "{\"status\":\"success\",\"mmap_id\":3}\n",
                        "{\"status\":\"error\",\"kind\":\"NotFound\",\"message\":\"x\"}\n",
                        "{\"status\":\"succ", NULL},
                (const unsigned[]){1, 1, 1});
        cr_assert(eq(int, mc_daemon_connect(path, &d, &err), 0));
        cr_assert(eq(int, mc_daemon_mmap_fd(d, 3, &fd, &err), 0), "%s", err.message);
        cr_assert(ge(int, fd, 0));
        close(fd);
        fd = 5;
        /* An error reply's descriptor is closed, not handed out. */
        cr_assert(eq(int, mc_daemon_mmap_fd(d, 3, &fd, &err), -ENOENT));
        cr_assert(eq(int, fd, 5));
        /* A connection that ends in the middle of a reply. */
        cr_assert(eq(int, mc_daemon_munmap(d, 3, &err), -ECONNRESET));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(eq(str, err.message, "memcapd closed the connection in the middle of a reply"));
        mc_daemon_close(d);
        fake_reap(pid);
}
