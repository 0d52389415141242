/* SPDX-License-Identifier: MIT */
/*
 * memcapd's configuration (capabilities, limits, symlinks, reload) and its command line.
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
 * Configurations: capabilities, limits, symlinks, reload
 * ============================================================================================ */

TestSuite(daemon_config, .init = setup_dir, .fini = daemon_suite_fini, .timeout = 120);

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
                    S("{\"status\":\"success\",\"data\":[%s,%s]}",
                      mapping_json(2, "/data/small", 0, 16, "r--", "Private", b.pid),
                      mapping_json(3, NULL, 0, 4096, "r--", "Private", b.pid)));
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
        cl c;

        /* Replies of 5.5 KiB against a queue of 64 KiB: the daemon pauses this client many
         * times, with requests still in its buffer and nothing more coming. */
        daemon_start("{\"max_output\": 65536, \"max_line\": 4096}", false);
        for (size_t i = 0; i < sizeof(bytes); i++)
                bytes[i] = pat(i);
        want = base64_read_reply(bytes, sizeof(bytes));
        connect_to(&c);
        mmap_ok(&c, "{\"Mmap\":{\"path\":\"/data/big\",\"prot\":1}}");
        pipeline_and_drain(&c,
                           "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":4096,"
                           "\"encoding\":\"base64\"}}",
                           500, want, false);
        expect(&c, "{\"Hello\":{}}", hello_reply(ALL_CAPS, getpid(), 0));
        free(want);
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
                int64_t end = mct_now_ms() + 5000;
                const char *want = hello_reply("[\"FileRead\",\"FdPass\"]", b.pid, NOBODY);
                char *w = strdup(want);
                const char *got = NULL;

                do {
                        peer_cmd(&b, "!connect", '-');
                        got = peer_call(&b, "{\"Hello\":{}}");
                        if (streq(got, w))
                                break;
                        peer_cmd(&b, "!close", '-');
                        mct_sleep_ms(20);
                } while (mct_now_ms() < end);
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
        end = mct_now_ms() + 5000;
        do {
                log = slurp(D.log);
                if (contains(log, "keeping the old configuration"))
                        break;
                free(log);
                log = NULL;
                mct_sleep_ms(20);
        } while (mct_now_ms() < end);
        cr_assert(not(eq(ptr, log, NULL)), "no report of the broken config in the daemon's log");
        cr_assert(contains(log, D.config), "the report does not name the file:\n%s", log);
        free(log);
        /* Unknown fields are refused the same way. */
        write_config("{\"capabilites\": {}}");
        cr_assert(eq(int, kill(D.pid, SIGHUP), 0));
        mct_sleep_ms(200);
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
        mct_sleep_ms(300);
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
        mct_sleep_ms(300);
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
        int64_t end = mct_now_ms() + 5000;
        int r;

        do {
                connect_to(c);
                /* A refused connection may be closed before the request is sent. */
                (void) cl_send(c, "{\"Hello\":{}}\n", 13);
                r = cl_recv_line(c, REPLY_TIMEOUT_MS);
                if (r == 0 && !starts_with(c->line, "{\"status\":\"error\""))
                        break;
                cl_close(c);
                mct_sleep_ms(20);
        } while (mct_now_ms() < end);
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
                cr_assert(eq(int, mct_wait_pid(pid, REPLY_TIMEOUT_MS) >> 8, 2));
                cl_close(&p.ctl);
        }
}

static void low_fd_limit(void) {
        struct rlimit rl = {64, 64};

        (void) setrlimit(RLIMIT_NOFILE, &rl);
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
        mct_sleep_ms(300);
        t0 = daemon_cpu_ticks();
        mct_sleep_ms(1000);
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

TestSuite(daemon_cli, .init = setup_dir, .fini = daemon_suite_fini, .timeout = 120);

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

        root_write_file("/../precious", "data", 4);
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
