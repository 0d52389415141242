/* SPDX-License-Identifier: MIT */
/*
 * memcapd's wire format as the original had it, page ranges and faulted mappings (issues 9
 * and 16).
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
               stats_reply(1, "/data/big", 0, 4096, "rw-", "Shared", (int) getpid()));
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
               stats_reply(1, "/data/big", 0, 12288, "rw-", "Shared", pid));
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
        expect_root_file("/data/big", 9000, "\4\5\6", 3, NULL);
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
