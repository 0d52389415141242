/* SPDX-License-Identifier: MIT */
/*
 * memcapd between processes: two clients, ownership of ids across processes, clean-up when a
 * client goes, paths (traversal, symlinks, special files), and a file truncated under a
 * mapping.
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
 * Two client processes
 * ============================================================================================ */

Test(daemon, shared_mappings_see_each_others_writes_at_once) {
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
        expect_root_file("/data/small", 0, "ABClo, memcapd!\n", 16, NULL);
        peer_exit(&b);
        cl_close(&a);
}

Test(daemon, private_mappings_are_isolated) {
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
        expect_root_file("/data/small", 0, "Hello, memcapd!\n", 16,
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

                cr_assert(eq(str, foreign, (char *) not_found(name, 1)));
                cr_assert(eq(str, (char *) missing, (char *) not_found(name, 77)));
                cr_assert(not(b.got_fd));
                free(foreign);
        }
        /* Nothing happened to the mapping. */
        expect(&a, "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1}}",
               "{\"status\":\"success\",\"data\":[72]}");
        expect(&a, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[74]}}", OK);
        /* With SystemInfo (root has it by default) MmapStats of a foreign id works... */
        peer_expect(&b, "{\"MmapStats\":{\"mmap_id\":1}}",
                    stats_reply(1, "/data/small", 0, 16, "rw-", "Shared", (int) getpid()));
        peer_expect(&b, "{\"MmapStats\":{\"mmap_id\":2}}", NOT_FOUND("MmapStats", 2));
        /* ...and MmapList holds the caller's own mappings only... */
        peer_expect(&b, "{\"MmapList\":{}}", "{\"status\":\"success\",\"data\":[]}");
        cr_assert(eq(u64, peer_mmap(&b, "{\"Mmap\":{\"length\":4096,\"prot\":1}}"), 2));
        peer_expect(&b, "{\"MmapList\":{}}",
                    S("{\"status\":\"success\",\"data\":[%s]}",
                      mapping_json(2, NULL, 0, 4096, "r--", "Private", b.pid)));
        /* ...unless it asks for every client's. */
        peer_expect(&b, "{\"MmapList\":{\"all\":true}}",
                    S("{\"status\":\"success\",\"data\":[%s,%s]}",
                      mapping_json(1, "/data/small", 0, 16, "rw-", "Shared", (int) getpid()),
                      mapping_json(2, NULL, 0, 4096, "r--", "Private", b.pid)));
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
        peer b;

        cr_assert(eq(int, daemon_maps(), 0));
        pattern_file("/data/a", 4096);
        pattern_file("/data/b", 4096);
        pattern_file("/data/c", 4096);
        /* Settled: the daemon may still be closing the connection that checked it was up. */
        base_fds = daemon_fds();
        for (int i = 0; i < 50; i++) {
                mct_sleep_ms(20);
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
        expect_root_file("/data/a", 0, "\1\2\3", 3, NULL);
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
        mct_sleep_ms(200);
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
        cr_assert(eq(int, mct_wait_pid(b.child, 5000), 0), "the peer's first process did not exit");
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
        t0 = mct_now_ms();
        expect(&c, "{\"Mmap\":{\"path\":\"/data/fifo\",\"prot\":1}}",
               INVALID "Mmap failed: '/data/fifo': not a regular file\",\"errno\":22}");
        expect(&c, "{\"Mmap\":{\"path\":\"/data/fifo\",\"prot\":3,\"shared\":true}}",
               INVALID "Mmap failed: '/data/fifo': not a regular file\",\"errno\":22}");
        cr_assert(lt(i64, mct_now_ms() - t0, 2000), "a FIFO made the daemon wait");
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
