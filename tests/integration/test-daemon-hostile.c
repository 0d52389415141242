/* SPDX-License-Identifier: MIT */
/*
 * Hostile clients of memcapd: the daemon's memory under abuse, slow peers, and two daemons
 * racing for one socket.
 *
 * Each test starts its own memcapd through the harness of tests/support/memcapd.h (a socket and
 * root directory of its own under /tmp, stopped with SIGTERM in the suite's .fini, which checks
 * that it exited 0 and removed its socket) and talks to it the way any client would, with plain
 * sockets, one line each way. Other client processes are the harness's peers. The files
 * test-daemon-*.c make one binary, test-daemon (meson test "daemon").
 */

#include "mctest.h"
#include "daemon-suite.h"
#include "memcapd.h"

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

/* ============================================================================================
 * Hostile clients: the daemon's memory, slow peers, audit floods, racing daemons, and the audit
 * trail as evidence
 * ============================================================================================ */

TestSuite(daemon_hostile, .init = setup_dir, .fini = daemon_suite_fini, .timeout = 180);

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
        int64_t end = mct_now_ms() + 10000, still = mct_now_ms();
        uint64_t peak = daemon_status_kib("VmHWM:");

        while (mct_now_ms() - still < 500 && mct_now_ms() < end) {
                uint64_t p;

                mct_sleep_ms(50);
                p = daemon_status_kib("VmHWM:");
                if (p != peak) {
                        peak = p;
                        still = mct_now_ms();
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
        mct_sleep_ms(100);
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
        mct_sleep_ms(100);
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
        int64_t last = mct_now_ms();
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
                cr_assert(lt(i64, mct_now_ms() - last, 60000),
                          "no progress for 60 s: %d of %d connections got all their replies", done,
                          n);
                for (int i = 0; i < n; i++) {
                        ssize_t w;

                        if (sent[i] < total && (w = send(c[i].fd, batch + sent[i], total - sent[i],
                                                         MSG_NOSIGNAL)) > 0) {
                                sent[i] += (size_t) w;
                                last = mct_now_ms();
                        }
                        while (replies[i] < k && cl_recv_line(&c[i], 1) == 0) {
                                cr_assert(starts_with(c[i].line, prefix), "%s", c[i].line);
                                if (++replies[i] == k)
                                        done++;
                                last = mct_now_ms();
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
        mct_sleep_ms(100);
        base = daemon_fds();
        /* A connection that does not read blocks its uid... */
        connect_to(&hog);
        for (int i = 0; i < 20; i++)
                cr_assert(eq(int, cl_send(&hog, req, sizeof(req) - 1), 0));
        mct_sleep_ms(300);
        /* ...and another one of the uid hangs up while the daemon does not read it. */
        cl_close(&c);
        mct_sleep_ms(300);
        t0 = daemon_cpu_ticks();
        mct_sleep_ms(1000);
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
        t0 = mct_now_ms();
        cr_assert(eq(int, cl_send(&c, start, sizeof(start) - 1), 0));
        r = cl_recv_line(&c, 20000);
        cr_assert(eq(int, r, 0), "no reply to a line left unfinished: %s", strerror(-r));
        cr_assert(ge(i64, mct_now_ms() - t0, 1000), "timed out before its time");
        cr_assert(eq(str, c.line, TIMED_OUT_LINE));
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
        cl_close(&c);

        /* Sending the line a byte at a time does not help: the time runs from its first byte. */
        connect_to(&c);
        t0 = mct_now_ms();
        for (const char *p = start; (r = cl_recv_line(&c, 100)) == -ETIMEDOUT;) {
                cr_assert(lt(i64, mct_now_ms() - t0, 20000),
                          "a trickling client was never cut off");
                if (*p)
                        cr_assert(eq(int, cl_send(&c, p++, 1), 0));
        }
        cr_assert(eq(int, r, 0));
        cr_assert(ge(i64, mct_now_ms() - t0, 1000));
        cr_assert(eq(str, c.line, TIMED_OUT_LINE));
        cl_close(&c);

        /* A line that arrives in pieces within the time is served. */
        connect_to(&c);
        cr_assert(eq(int, cl_send(&c, "{\"Hello\"", 8), 0));
        mct_sleep_ms(100);
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
        int64_t t0, end;
        int got = 0, r;
        cl c, reader;

        cr_assert(not(eq(ptr, bytes, NULL)));
        for (size_t i = 0; i < 65536; i++)
                bytes[i] = pat(i);
        root_write_file("/data/64k", bytes, 65536);
        daemon_start("{\"send_timeout\": \"1s\", \"max_output\": \"256KiB\"}", true);
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":1}}");
        t0 = mct_now_ms();
        for (int i = 0; i < n; i++)
                send_line(&c, req);
        /* Not reading: the daemon gives up on this connection once nothing moved for 1 s. */
        end = mct_now_ms() + 20000;
        while (mct_now_ms() < end) {
                json_decref(log);
                log = audit_load();
                if (disconnects(log, "send_timeout", recs, ELEMENTSOF(recs)) > 0)
                        break;
                mct_sleep_ms(100);
        }
        cr_assert(eq(sz, disconnects(log, "send_timeout", recs, ELEMENTSOF(recs)), 1),
                  "a client that read nothing was not disconnected within 20 s");
        cr_assert(ge(i64, mct_now_ms() - t0, 1000));
        cr_assert(gt(i64, ev_int(recs[0], "unsent_bytes"), 0));
        json_decref(log);
        /* What was sent before can still be read, then the stream ends early. */
        while ((r = cl_recv_line(&c, REPLY_TIMEOUT_MS)) == 0)
                got++;
        cr_assert(lt(int, got, n), "all %d replies came to a connection that was timed out", n);
        cr_assert(r == -EPIPE || r == -ECONNRESET, "the stream ended with %s", strerror(-r));
        cl_close(&c);

        /* A client that reads as it goes is served whatever the backlog. */
        connect_to(&reader);
        read_64k_pipelined(&reader, bytes, 2, n, false);
        cl_close(&reader);
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
        mct_sleep_ms(300);
        /* ...so this request waits, unread, until the hog is cut off; nothing else happens. */
        t0 = mct_now_ms();
        send_line(&c, "{\"Hello\":{}}");
        cr_assert(eq(int, cl_recv_line(&c, 20000), 0), "the uid was never served again");
        cr_assert(eq(str, c.line, (char *) hello_reply(ALL_CAPS, getpid(), 0)));
        cr_log_info("served %lld ms after the hog's last request", (long long) (mct_now_ms() - t0));
        cl_close(&hog);
        cl_close(&c);
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
                end = mct_now_ms() + 20000;
                while (mct_now_ms() < end && (exited == 0 || fd < 0)) {
                        for (int k = 0; k < 2; k++) {
                                int st;

                                if (status[k] == -1 && waitpid(pid[k], &st, WNOHANG) == pid[k]) {
                                        status[k] = st;
                                        exited++;
                                }
                        }
                        if (fd < 0)
                                fd = mct_unix_connect(D.sock);
                        if (exited == 2)
                                break;
                        mct_sleep_ms(10);
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
