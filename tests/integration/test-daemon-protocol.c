/* SPDX-License-Identifier: MIT */
/*
 * memcapd conformance: every call and its documented reply, compared byte for byte with
 * docs/protocol.md.
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
#include <inttypes.h>
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
 * Conformance: every call and its documented reply
 * ============================================================================================ */

TestSuite(daemon, .init = daemon_suite_init, .fini = daemon_suite_fini, .timeout = 120);

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
               stats_reply(1, "/data/big", 5000, 3000, "r--", "Shared", (int) getpid()));
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
        root_write_file("/data/empty", "", 0);
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
        expect_root_file("/data/small", 0, "Jelly, MEMCAPd!\n", 16, NULL);
        /* A read-only mapping refuses writes: the mapping's protection, status error. */
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[1]}}",
               "{\"status\":\"error\",\"kind\":\"PermissionDenied\",\"code\":\"core.memory."
               "PermissionDenied\",\"message\":\"MmapWrite "
               "failed: Mmap 2 is not writable\",\"errno\":13}");
        cl_close(&c);
}

Test(daemon, msync_puts_shared_writes_in_the_file_and_is_a_noop_for_private) {
        cl c;

        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3,\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":3}}");
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/small\",\"prot\":1,\"shared\":true}}");
        mmap_ok(&c, "{\"Mmap\":{\"length\":100,\"prot\":3}}");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":2,\"offset\":0,\"data\":[80,80]}}", OK);
        expect(&c, "{\"Msync\":{\"mmap_id\":2}}", NOT_WRITTEN);
        expect_root_file("/data/small", 0, "Hello, memcapd!\n", 16, "a private write leaked");
        expect(&c, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[83,83]}}", OK);
        expect(&c, "{\"Msync\":{\"mmap_id\":1}}", SYNCED);
        expect_root_file("/data/small", 0, "SSllo, memcapd!\n", 16, NULL);
        expect(&c, "{\"Msync\":{\"mmap_id\":3}}", NOT_WRITTEN);
        expect(&c, "{\"Msync\":{\"mmap_id\":4}}", NOT_WRITTEN);
        expect(&c, "{\"Msync\":{\"mmap_id\":5}}", NOT_FOUND("Msync", 5));
        cl_close(&c);
}

Test(daemon, munmap_syncs_then_forgets_the_id) {
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
        expect_root_file("/data/small", 0, "Yello, memcapd!\n", 16, NULL);
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
               stats_reply(1, "/data/big", 0, 4096, "rw-", "Shared", pid));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":2}}",
               stats_reply(2, NULL, 0, 65536, "rw-", "Private", pid));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":3}}",
               stats_reply(3, "/data/small", 3, 13, "r-x", "Private", pid));
        expect(&c, "{\"MmapStats\":{\"mmap_id\":4}}",
               stats_reply(4, NULL, 0, 100, "---", "Shared", pid));
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
               stats_reply(1, "/data/small", 0, 16, "r--", "Shared", (int) getpid()));
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
               S("{\"status\":\"success\",\"data\":[%s,%s]}",
                 mapping_json(1, "/data/big", 0, 4096, "rw-", "Shared", pid),
                 mapping_json(2, NULL, 0, 65536, "rw-", "Private", pid)));
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

/*
 * MmapFd of mapping @id: the reply says @offset, @length and @writable, and one close-on-exec
 * descriptor comes with it, which is returned.
 */
static int fetch_fd(cl *c, uint64_t id, uint64_t offset, uint64_t length, bool writable) {
        int fd;

        expect(c, S("{\"MmapFd\":{\"mmap_id\":%" PRIu64 "}}", id),
               S("{\"status\":\"success\",\"mmap_id\":%" PRIu64 ",\"offset\":%" PRIu64
                 ",\"length\":%" PRIu64 ",\"writable\":%s}",
                 id, offset, length, writable ? "true" : "false"));
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
        fd = fetch_fd(&c, 1, 0, 12288, true);
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
        fd = fetch_fd(&c, 1, 0, 12288, false);
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY));
        cr_assert(eq(ptr, mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED));
        cr_assert(eq(int, errno, EACCES));
        cr_assert(lt(int, (int) write(fd, "x", 1), 0));
        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        cr_assert(not(eq(ptr, p, MAP_FAILED)));
        cr_assert(eq(int, p[0], pat(0)), "a private write reached the file");
        munmap(p, 4096);
        close(fd);

        fd = fetch_fd(&c, 2, 0, 12288, false);
        cr_assert(eq(int, fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY));
        close(fd);

        /* An unaligned offset: map from the page below and skip the remainder. */
        fd = fetch_fd(&c, 3, 5000, 3000, false);
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
        fd = fetch_fd(&c, 1, 0, 4096, true);
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
