/* SPDX-License-Identifier: MIT */
/*
 * The memcap tool's conveniences, run as users run them: signal list translating like kill -l,
 * maps -x with the memory of each mapping as pmap -x shows it, and audit's time window and
 * --follow (also across a rotation).
 *
 * Sections: signal list, maps -x, audit --since/--until, audit --follow.
 */

#include "mctest.h"
#include "spawn.h"

#include <poll.h>
#include <time.h>

static void init(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/memcap-test-cli-extras-%d", (int) getpid());
        cr_assert(eq(int, mkdir(tmpdir, 0755), 0), "mkdir %s: %s", tmpdir, strerror(errno));
}

static void fini(void) {
        remove_tree(tmpdir);
        mc_test_fini();
}

TestSuite(cli_extras, .init = init, .fini = fini, .timeout = 120);

#define RUN(res, ...) run_full((res), NULL, 0, NULL, 0, (const char *const[]){__VA_ARGS__, NULL})

#define ASSERT_HAS(hay, needle)                                                                    \
        cr_assert(not(eq(ptr, strstr((hay), (needle)), NULL)), "no '%s' in:\n%s", (needle), (hay))

/* ---- signal list ------------------------------------------------------------------------------
 */

Test(cli_extras, signal_list_translates_numbers_and_names_like_kill_l) {
        char want[64];
        run_result r;

        RUN(&r, "signal", "list", "15", "TERM", "sigusr1", "143", "RTMIN+2");
        ASSERT_EXIT(&r, 0);
        snprintf(want, sizeof(want), "TERM\n15\n%d\nTERM\n%d\n", SIGUSR1, SIGRTMIN + 2);
        cr_assert(eq(str, r.out, want));
        run_result_done(&r);

        snprintf(want, sizeof(want), "%d", SIGRTMIN + 1);
        RUN(&r, "signal", "list", want);
        EXPECT_RUN(&r, 0, "RTMIN+1\n", NULL);

        /* Every operand gets its answer; the status says one failed (InvalidSignal, 20). */
        RUN(&r, "signal", "list", "9", "bogus", "0", "KILL");
        ASSERT_EXIT(&r, 20);
        cr_assert(eq(str, r.out, "KILL\n9\n"));
        ASSERT_HAS(r.err, "'bogus'");
        ASSERT_HAS(r.err, "0 is not a signal number");
        run_result_done(&r);

        RUN(&r, "signal", "list", "--json", "15");
        EXPECT_RUN(&r, 2, NULL, NULL);
}

/* ---- maps -x ----------------------------------------------------------------------------------
 */

Test(cli_extras, maps_x_shows_resident_proportional_dirty_and_swap) {
        json_t *a, *e;
        uint64_t rss = 0, size = 0;
        size_t i;
        run_result r;

        RUN(&r, "maps", "-x");
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, "START-END");
        ASSERT_HAS(r.out, "RSS");
        ASSERT_HAS(r.out, "PSS");
        ASSERT_HAS(r.out, "DIRTY");
        ASSERT_HAS(r.out, "SWAP");
        ASSERT_HAS(r.out, " resident, ");
        ASSERT_HAS(r.out, " proportional, ");
        run_result_done(&r);

        RUN(&r, "maps", "--extended", "--json");
        ASSERT_EXIT(&r, 0);
        a = parse_json(r.out);
        cr_assert(is_type(JSON_ARRAY, a));
        json_array_foreach(a, i, e) {
                uint64_t s = (uint64_t) json_integer_value(json_object_get(e, "size"));
                uint64_t m = (uint64_t) json_integer_value(json_object_get(e, "rss"));
                uint64_t p = (uint64_t) json_integer_value(json_object_get(e, "pss"));
                uint64_t d = (uint64_t) json_integer_value(json_object_get(e, "dirty"));

                cr_assert(is_type(JSON_INTEGER, json_object_get(e, "swap")));
                cr_assert(le(u64, m, s), "resident beyond the mapping's size");
                cr_assert(le(u64, p, m), "a proportional share beyond the resident bytes");
                cr_assert(le(u64, d, m), "dirty beyond the resident bytes");
                rss += m;
                size += s;
        }
        /* A running memcap has its code and stack in memory. */
        cr_assert(gt(u64, rss, 0));
        cr_assert(gt(u64, size, rss));
        json_decref(a);
        run_result_done(&r);

        /* Without -x, no smaps fields. */
        RUN(&r, "maps", "--json");
        a = parse_json(r.out);
        cr_assert(eq(ptr, json_object_get(json_array_get(a, 0), "rss"), NULL));
        json_decref(a);
        run_result_done(&r);
}

/* ---- audit --since/--until ---------------------------------------------------------------- */

static const char audit_log[] =
        "{\"time\":\"2026-01-01T10:00:00Z\",\"capability\":\"core.memory\",\"operation\":"
        "\"mmap\",\"pid\":1,\"outcome\":\"ok\"}\n"
        "{\"time\":\"2026-01-01T11:00:00.5Z\",\"capability\":\"core.memory\",\"operation\":"
        "\"mprotect\",\"pid\":2,\"outcome\":\"denied\"}\n"
        "{\"time\":\"2026-01-01T13:00:00+01:00\",\"capability\":\"core.memory\",\"operation\":"
        "\"munmap\",\"pid\":3,\"outcome\":\"ok\"}\n"
        "{\"capability\":\"core.memory\",\"operation\":\"msync\",\"pid\":4,\"outcome\":\"ok\"}\n";

/* The pids of the records `memcap audit LOG ARGS... --json` prints, as "1,2,". */
static void audit_pids(char *buf, size_t size, const char *const *extra) {
        const char *args[16] = {"audit", NULL, "--json"};
        char path[400];
        size_t n = 3, len = 0, i;
        json_t *a, *e;
        run_result r;

        tmp_path(path, sizeof(path), "audit.jsonl");
        write_file(path, audit_log, strlen(audit_log));
        args[1] = path;
        for (; *extra; extra++)
                args[n++] = *extra;
        args[n] = NULL;
        run_full(&r, NULL, 0, NULL, 0, args);
        ASSERT_EXIT(&r, 0);
        a = parse_json(r.out);
        buf[0] = 0;
        json_array_foreach(a, i, e) {
                len += (size_t) snprintf(buf + len, size - len, "%d,",
                                         (int) json_integer_value(json_object_get(e, "pid")));
        }
        json_decref(a);
        run_result_done(&r);
}

Test(cli_extras, audit_since_and_until_keep_a_window) {
        char pids[64];

        audit_pids(pids, sizeof(pids), (const char *const[]){NULL});
        cr_assert(eq(str, pids, "1,2,3,4,"));
        /* Since is inclusive, until exclusive; 13:00+01:00 is 12:00Z. */
        audit_pids(pids, sizeof(pids),
                   (const char *const[]){"--since", "2026-01-01T11:00:00.5Z", NULL});
        cr_assert(eq(str, pids, "2,3,"));
        audit_pids(pids, sizeof(pids),
                   (const char *const[]){"--until", "2026-01-01T12:00:00Z", NULL});
        cr_assert(eq(str, pids, "1,2,"));
        audit_pids(pids, sizeof(pids),
                   (const char *const[]){"--since", "2026-01-01T10:30:00Z", "--until",
                                         "2026-01-01T11:30:00Z", NULL});
        cr_assert(eq(str, pids, "2,"));
        /* Relative times: these records are long past. */
        audit_pids(pids, sizeof(pids), (const char *const[]){"--since", "-10min", NULL});
        cr_assert(eq(str, pids, ""));
        audit_pids(pids, sizeof(pids), (const char *const[]){"--until", "1h ago", NULL});
        cr_assert(eq(str, pids, "1,2,3,"));
}

Test(cli_extras, audit_refuses_a_time_it_cannot_read) {
        static const char *const bad[] = {"yesterday-ish", "-10parsecs", "2026-13-01",
                                          "2026-01-01T10:00:00", "10min"};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RUN(&r, "audit", "-", "--since", bad[i]);
                EXPECT_RUN(&r, 2, NULL, "invalid time");
        }
}

/* ---- audit --follow ---------------------------------------------------------------------------
 */

/* Read the child's stdout into @acc until it holds @needle (at most 20 s). */
static void read_until(child *c, char **acc, size_t *len, const char *needle) {
        int64_t end = (int64_t) time(NULL) + 20;

        while (!strstr(*acc, needle)) {
                struct pollfd p = {c->out, POLLIN, 0};
                char buf[4096];
                ssize_t n;

                cr_assert(lt(long, (long) time(NULL), (long) end), "no '%s' within 20 s in:\n%s",
                          needle, *acc);
                if (poll(&p, 1, 1000) <= 0)
                        continue;
                n = read(c->out, buf, sizeof(buf));
                cr_assert(gt(int, (int) n, 0), "memcap audit --follow ended:\n%s", *acc);
                append(acc, len, buf, (size_t) n);
        }
}

static void append_record(const char *path, int pid) {
        char rec[256];
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        int n = snprintf(rec, sizeof(rec),
                         "{\"time\":\"2026-01-01T10:00:00Z\",\"capability\":\"core.memory\","
                         "\"operation\":\"mmap\",\"pid\":%d,\"outcome\":\"ok\"}\n",
                         pid);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, (int) write(fd, rec, (size_t) n), n));
        close(fd);
}

Test(cli_extras, audit_follow_prints_new_records_and_follows_a_rotation) {
        char path[400], rotated[400], *acc = NULL;
        size_t len = 0;
        int status;
        child c;

        tmp_path(path, sizeof(path), "follow.jsonl");
        tmp_path(rotated, sizeof(rotated), "follow.jsonl.1");
        append_record(path, 101);
        spawn_child(&c, (const char *const[]){"audit", path, "--follow", "--json", NULL}, NULL, -1,
                    SPAWN_NO_STDIN);
        append(&acc, &len, "", 0);
        read_until(&c, &acc, &len, "\"pid\":101");
        /* A record written later shows up without memcap being started again. */
        append_record(path, 102);
        read_until(&c, &acc, &len, "\"pid\":102");
        /* logrotate: the file is renamed away, a new one takes its place. */
        cr_assert(eq(int, rename(path, rotated), 0));
        append_record(path, 103);
        read_until(&c, &acc, &len, "\"pid\":103");
        /* One JSON object a line, each printed once. */
        cr_assert(eq(str, strstr(acc, "\"pid\":101") ? "ok" : "", "ok"));
        cr_assert(eq(ptr, strstr(strstr(acc, "\"pid\":101") + 1, "\"pid\":101"), NULL));
        kill(c.pid, SIGTERM);
        cr_assert(eq(int, waitpid(c.pid, &status, 0), c.pid));
        close(c.out);
        close(c.err);
        free(acc);
}
