/* SPDX-License-Identifier: MIT */
/*
 * memcapd's audit trail under attack: floods of refused and malformed requests are
 * rate-limited, and the trail is evidence of what clients did.
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

/* ---- audit floods ------------------------------------------------------------------------- */

#define FLOOD_BURST   20
#define FLOOD_ROUNDS  10
#define FLOOD_GARBAGE 500
#define FLOOD_WX      50

/* Send @n copies of @line (no newline) in one go and check every reply starts with @prefix. */
static void flood(cl *c, const char *line, int n, const char *prefix) {
        send_copies(c, line, n);
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
        t0 = mct_now_ms();
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
        elapsed = mct_now_ms() - t0;
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
