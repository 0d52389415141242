/* SPDX-License-Identifier: MIT */
/*
 * memcapd and bad input: malformed lines, floods, slow readers, half-closed connections, and
 * SIGTERM with the audit log open.
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
               S("{\"status\":\"success\",\"data\":[%s]}",
                 mapping_json(1, "/data/small", 0, 16, "rw-", "Shared", (int) getpid())));
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
        idle_since = mct_now_ms();
        t0 = mct_now_ms();
        while (mct_now_ms() - idle_since < 500 && mct_now_ms() - t0 < 60000) {
                ssize_t k = send(flood.fd, chunk, 256 * (sizeof(req) - 1), MSG_NOSIGNAL);
                if (k > 0) {
                        sent += (uint64_t) k;
                        idle_since = mct_now_ms();
                } else {
                        struct pollfd p = {.fd = flood.fd, .events = POLLOUT};
                        cr_assert(lt(int, (int) k, 0));
                        cr_assert(eq(int, errno, EAGAIN), "send: %s", strerror(errno));
                        poll(&p, 1, 50);
                }
        }
        cr_assert(lt(i64, mct_now_ms() - t0, 60000), "the daemon took requests for a minute");
        /* The flooder is stuck; the other client is served promptly. */
        for (int i = 0; i < 5; i++) {
                t0 = mct_now_ms();
                expect(&other, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
                cr_assert(lt(i64, mct_now_ms() - t0, 1000), "a Hello took %lld ms",
                          (long long) (mct_now_ms() - t0));
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

Test(daemon, a_client_that_half_closes_still_gets_every_reply) {
        uint8_t *bytes = malloc(65536);
        cl c;

        cr_assert(not(eq(ptr, bytes, NULL)));
        for (size_t i = 0; i < 65536; i++)
                bytes[i] = pat(i);
        root_write_file("/data/64k", bytes, 65536);
        connect_to(&c);
        /* 100 replies of 87 KiB each: far more than the socket holds. */
        read_64k_pipelined(&c, bytes, 1, 100, true);
        cr_assert(eq(int, cl_recv_line(&c, REPLY_TIMEOUT_MS), -EPIPE));
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
        mct_sleep_ms(100);
        base = daemon_fds();
        for (int i = 0; i < n; i++)
                memcpy(batch + (sizeof(req) - 1) * (size_t) i, req, sizeof(req) - 1);
        cr_assert(eq(int, cl_send(&c, batch, (sizeof(req) - 1) * (size_t) n), 0));
        free(batch);
        mct_sleep_ms(500);
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

        mct_sleep_ms(100);
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
        mct_sleep_ms(200);
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
        expect_root_file("/data/small", 0, "TERMo, memcapd!\n", 16, NULL);
        root_read_file("/data/big", 0, got, 1);
        cr_assert(eq(int, (uint8_t) got[0], pat(0)));
        cl_close(&c);
}
