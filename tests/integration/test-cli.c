/* SPDX-License-Identifier: MIT */
/*
 * The memcap command-line tool, run as users run it: each test spawns the real binary
 * ($MEMCAP_BUILD_ROOT/src/cli/memcap) with pipes on stdin, stdout and stderr and checks what it
 * printed and its exit status (0, 2 for usage errors, 10 + the error kind otherwise). The
 * binary is built with the same sanitizers, so a leak or an overflow in it fails the test too.
 *
 * Sections: spawning, global options, maps, map, policy, audit, shm.
 */

#include "mctest.h"
#include "spawn.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

/* ---- spawning ------------------------------------------------------------------------------ */

static void cli_init(void) {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/memcap-test-cli-%d", (int) getpid());
        cr_assert(eq(int, mkdir(tmpdir, 0700), 0), "mkdir %s: %s", tmpdir, strerror(errno));
}

static void shm_cleanup(void) {
        char name[128], path[160];

        MC_TEST_NAME(name, "shm");
        shm_unlink(name);
        MC_TEST_NAME(name, "shmdir");
        snprintf(path, sizeof(path), "/dev/shm/%s", name);
        rmdir(path);
}

static void cli_fini(void) {
        remove_tree(tmpdir);
        shm_cleanup();
        mc_test_fini();
}

TestSuite(cli, .init = cli_init, .fini = cli_fini, .timeout = 120);

#define RUN(res, ...) run_full((res), NULL, 0, NULL, 0, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IN(res, in, ...)                                                                       \
        run_full((res), (in), strlen(in), NULL, 0, (const char *const[]){__VA_ARGS__, NULL})

static size_t count_lines(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* ---- global options -------------------------------------------------------------------------- */

Test(cli, version_prints_library_version) {
        run_result r;
        char want[64];

        RUN(&r, "--version");
        ASSERT_EXIT(&r, 0);
        snprintf(want, sizeof(want), "memcap %s\n", mc_version());
        cr_assert(eq(str, r.out, want));
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);
}

Test(cli, help_lists_commands_and_exit_codes) {
        run_result r;

        RUN(&r, "--help");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "Usage: memcap", 13), 0), "%s", r.out);
        for (const char *const *c =
                     (const char *const[]){"maps", "map", "shm", "policy", "audit", "help", NULL};
             *c; c++) {
                char line[32];
                snprintf(line, sizeof(line), "\n  %s ", *c);
                cr_assert(not(eq(ptr, strstr(r.out, line), NULL)), "no %s in help", *c);
        }
        cr_assert(not(eq(ptr, strstr(r.out, "16  NotFound"), NULL)), "%s", r.out);
        cr_assert(not(eq(ptr, strstr(r.out, "21  Io"), NULL)));
        run_result_done(&r);

        RUN(&r, "help");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "Usage: memcap", 13), 0));
        run_result_done(&r);
}

Test(cli, help_of_each_command) {
        static const char *const cmds[] = {"maps", "map", "shm", "policy", "audit"};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                char want[64];

                snprintf(want, sizeof(want), "Usage: memcap %s", cmds[i]);
                RUN(&r, cmds[i], "--help");
                ASSERT_EXIT(&r, 0);
                cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s", r.out);
                run_result_done(&r);

                RUN(&r, "help", cmds[i]);
                ASSERT_EXIT(&r, 0);
                cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s", r.out);
                run_result_done(&r);
        }
}

Test(cli, unknown_command_is_usage_error) {
        run_result r;

        RUN(&r, "frobnicate");
        ASSERT_EXIT(&r, 2);
        cr_assert(eq(str, r.out, ""));
        cr_assert(not(eq(ptr, strstr(r.err, "unknown command 'frobnicate'"), NULL)), "%s", r.err);
        cr_assert(not(eq(ptr, strstr(r.err, "--help"), NULL)), "%s", r.err);
        run_result_done(&r);

        RUN(&r, "help", "frobnicate");
        EXPECT_RUN(&r, 2, NULL, NULL);

        /* No command at all. */
        RUN(&r, "--audit", "/dev/null");
        EXPECT_RUN(&r, 2, NULL, NULL);
}

Test(cli, unknown_option_is_usage_error) {
        run_result r;

        RUN(&r, "--bogus", "maps");
        ASSERT_EXIT(&r, 2);
        cr_assert(not(eq(ptr, strstr(r.err, "'--bogus'"), NULL)), "%s", r.err);
        run_result_done(&r);

        RUN(&r, "map", "--frob", "/etc/hostname");
        ASSERT_EXIT(&r, 2);
        cr_assert(not(eq(ptr, strstr(r.err, "'--frob'"), NULL)), "%s", r.err);
        cr_assert(not(eq(ptr, strstr(r.err, "memcap map --help"), NULL)), "%s", r.err);
        run_result_done(&r);

        RUN(&r, "maps", "-q");
        ASSERT_EXIT(&r, 2);
        cr_assert(not(eq(ptr, strstr(r.err, "'-q'"), NULL)), "%s", r.err);
        run_result_done(&r);

        /* An option missing its value names the option. */
        RUN(&r, "map", "/etc/hostname", "--offset");
        EXPECT_RUN(&r, 2, NULL, "'--offset' requires an argument");

        RUN(&r, "--policy");
        EXPECT_RUN(&r, 2, NULL, NULL);
}

Test(cli, global_policy_is_enforced) {
        char policy[PATH_MAX], file[PATH_MAX];
        run_result r;

        tmp_path(policy, sizeof(policy), "narrow.json");
        tmp_path(file, sizeof(file), "data");
        static const char narrow[] = "{\"allowed_paths\": [\"/nonexistent-root\"]}";
        write_file(policy, narrow, strlen(narrow));
        write_file(file, "abc", 3);

        RUN(&r, "--policy", policy, "map", file);
        ASSERT_EXIT(&r, 18); /* PolicyViolation */
        cr_assert(eq(str, r.out, ""));
        cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0), "%s", r.err);
        cr_assert(not(eq(ptr, strstr(r.err, "allowed_paths"), NULL)), "%s", r.err);
        run_result_done(&r);

        /* A policy file that cannot be loaded stops before the command runs. */
        tmp_path(policy, sizeof(policy), "missing.json");
        RUN(&r, "--policy", policy, "map", file);
        EXPECT_RUN(&r, 16, "", NULL);
}

Test(cli, global_audit_records_the_commands_operations) {
        char log[PATH_MAX], file[PATH_MAX], line[4096];
        const char *ops[2] = {"mmap", "munmap"};
        run_result r;
        pid_t pid;
        FILE *f;
        int n = 0;

        tmp_path(log, sizeof(log), "audit.jsonl");
        tmp_path(file, sizeof(file), "data");
        write_file(file, "0123456789", 10);

        RUN(&r, "--audit", log, "map", "--raw", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(str, r.out, "0123456789"));
        pid = r.pid;
        run_result_done(&r);

        f = fopen(log, "re");
        cr_assert(not(eq(ptr, f, NULL)));
        while (fgets(line, sizeof(line), f)) {
                json_t *rec = parse_json(line);

                cr_assert(lt(int, n, 2), "more records than expected: %s", line);
                cr_assert(eq(str, (char *) json_string_value(json_object_get(rec, "operation")),
                             (char *) ops[n]));
                cr_assert(
                        eq(str, (char *) json_string_value(json_object_get(rec, "outcome")), "ok"));
                cr_assert(eq(int, (int) json_integer_value(json_object_get(rec, "pid")), pid));
                json_decref(rec);
                n++;
        }
        fclose(f);
        cr_assert(eq(int, n, 2));
}

/* ---- maps ------------------------------------------------------------------------------------ */

Test(cli, maps_of_self_lists_stack_and_binary) {
        char self[PATH_MAX];
        run_result r;
        const char *last;

        cr_assert(not(eq(ptr, realpath(memcap_path(), self), NULL)));
        RUN(&r, "maps");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "START-END", 9), 0), "%s", r.out);
        cr_assert(not(eq(ptr, strstr(r.out, "SHARED/PRIVATE"), NULL)));
        cr_assert(not(eq(ptr, strstr(r.out, "FILE/KIND"), NULL)));
        cr_assert(not(eq(ptr, strstr(r.out, "[stack]"), NULL)), "%s", r.out);
        cr_assert(not(eq(ptr, strstr(r.out, self), NULL)), "%s not in %s", self, r.out);
        cr_assert(not(eq(ptr, strstr(r.out, " r-xp "), NULL)));
        cr_assert(not(eq(ptr, strstr(r.out, " private "), NULL)));
        /* The summary counts every mapping line. */
        last = strrchr(r.out, '\n');
        cr_assert(not(eq(ptr, (void *) last, NULL)));
        while (last > r.out && last[-1] != '\n')
                last--;
        cr_assert(eq(sz, strtoul(last, NULL, 10), count_lines(r.out) - 2), "%s", last);
        cr_assert(not(eq(ptr, strstr(last, "mappings, "), NULL)), "%s", last);
        cr_assert(not(eq(ptr, strstr(last, " total"), NULL)), "%s", last);
        run_result_done(&r);

        RUN(&r, "maps", "self");
        ASSERT_EXIT(&r, 0);
        cr_assert(not(eq(ptr, strstr(r.out, "[stack]"), NULL)));
        run_result_done(&r);
}

/* The element of the array @a whose string member @key is @value, or NULL. */
static const json_t *find_by(const json_t *a, const char *key, const char *value) {
        size_t i;
        json_t *e;

        json_array_foreach(a, i, e) {
                const char *v = json_string_value(json_object_get(e, key));
                if (v && streq(v, value))
                        return e;
        }
        return NULL;
}

Test(cli, maps_json_has_every_field) {
        static const char *const fields[] = {"start",  "end",    "size", "read",  "write", "exec",
                                             "shared", "offset", "dev",  "inode", "path",  "kind"};
        char self[PATH_MAX];
        bool stack = false, anon = false;
        run_result r;
        json_t *a, *m;
        size_t i;

        cr_assert(not(eq(ptr, realpath(memcap_path(), self), NULL)));
        RUN(&r, "maps", "--json");
        ASSERT_EXIT(&r, 0);
        a = parse_json(r.out);
        cr_assert(is_type(JSON_ARRAY, a));
        cr_assert(gt(sz, json_array_size(a), 5));
        json_array_foreach(a, i, m) {
                const char *kind = json_string_value(json_object_get(m, "kind"));
                unsigned long long start, end;

                for (size_t k = 0; k < ELEMENTSOF(fields); k++)
                        cr_assert(not(eq(ptr, json_object_get(m, fields[k]), NULL)),
                                  "mapping %zu lacks %s", i, fields[k]);
                cr_assert(is_type(JSON_TRUE, json_object_get(m, "read")) ||
                          is_type(JSON_FALSE, json_object_get(m, "read")));
                start = strtoull(json_string_value(json_object_get(m, "start")), NULL, 16);
                end = strtoull(json_string_value(json_object_get(m, "end")), NULL, 16);
                cr_assert(eq(u64, end - start,
                             (uint64_t) json_integer_value(json_object_get(m, "size"))));
                cr_assert(not(eq(ptr, (void *) kind, NULL)));
                if (streq(kind, "stack")) {
                        stack = true;
                        cr_assert(eq(str, (char *) json_string_value(json_object_get(m, "path")),
                                     "[stack]"));
                        cr_assert(is_type(JSON_TRUE, json_object_get(m, "write")));
                }
                if (streq(kind, "anon")) {
                        anon = true;
                        cr_assert(is_type(JSON_NULL, json_object_get(m, "path")) ||
                                  strncmp(json_string_value(json_object_get(m, "path")), "[anon",
                                          5) == 0);
                }
        }
        cr_assert(stack);
        cr_assert(anon);
        m = (json_t *) find_by(a, "path", self);
        cr_assert(not(eq(ptr, m, NULL)), "no mapping of %s", self);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(m, "kind")), "file"));
        cr_assert(gt(i64, json_integer_value(json_object_get(m, "inode")), 0));
        json_decref(a);
        run_result_done(&r);
}

Test(cli, maps_of_another_process_with_odd_paths) {
        char spaced[PATH_MAX], gone[PATH_MAX], pid[16];
        const json_t *m;
        void *p1, *p2;
        run_result r;
        json_t *a;
        int fd;

        /* Map a file whose name has spaces, and one that is deleted afterwards, into us. */
        tmp_path(spaced, sizeof(spaced), "with  two spaces (x)");
        tmp_path(gone, sizeof(gone), "gone");
        write_file(spaced, "data", 4);
        write_file(gone, "data", 4);
        fd = open(spaced, O_RDONLY | O_CLOEXEC);
        p1 = mmap(NULL, 4, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        fd = open(gone, O_RDWR | O_CLOEXEC);
        p2 = mmap(NULL, 4, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        cr_assert(not(eq(ptr, p1, MAP_FAILED)));
        cr_assert(not(eq(ptr, p2, MAP_FAILED)));
        unlink(gone);

        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        RUN(&r, "maps", pid, "--json");
        ASSERT_EXIT(&r, 0);
        a = parse_json(r.out);
        m = find_by(a, "path", spaced);
        cr_assert(not(eq(ptr, (void *) m, NULL)), "'%s' not found in %s", spaced, r.out);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(m, "kind")), "file"));
        cr_assert(is_type(JSON_TRUE, json_object_get(m, "shared")));
        cr_assert(is_type(JSON_FALSE, json_object_get(m, "write")));
        cr_assert(eq(i64, json_integer_value(json_object_get(m, "size")),
                     (json_int_t) getpagesize()));
        m = find_by(a, "path", gone);
        cr_assert(not(eq(ptr, (void *) m, NULL)), "'%s' not found in %s", gone, r.out);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(m, "kind")), "deleted"));
        cr_assert(is_type(JSON_TRUE, json_object_get(m, "deleted")));
        cr_assert(is_type(JSON_TRUE, json_object_get(m, "write")));
        json_decref(a);
        run_result_done(&r);

        /* The table shows the names whole. */
        RUN(&r, "maps", pid);
        ASSERT_EXIT(&r, 0);
        cr_assert(not(eq(ptr, strstr(r.out, spaced), NULL)));
        {
                char want[PATH_MAX + 16];
                snprintf(want, sizeof(want), "%s (deleted)\n", gone);
                cr_assert(not(eq(ptr, strstr(r.out, want), NULL)), "%s", r.out);
        }
        cr_assert(not(eq(ptr, strstr(r.out, "  shared  "), NULL)));
        run_result_done(&r);
        munmap(p1, 4);
        munmap(p2, 4);
}

Test(cli, maps_rejects_bad_pids) {
        static const char *const bad[] = {"abc", "-5", "0", "99999999999", "12x", "", "+3", " 7"};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RUN(&r, "maps", bad[i]);
                ASSERT_EXIT(&r, 12);
                cr_assert(eq(str, r.out, ""));
                cr_assert(not(eq(ptr, strstr(r.err, "invalid process id"), NULL)), "%s", r.err);
                run_result_done(&r);
        }
        RUN(&r, "maps", "1", "2");
        EXPECT_RUN(&r, 2, NULL, NULL);
}

Test(cli, maps_of_missing_process_is_not_found) {
        char pid[24];
        long max = 32768;
        FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
        run_result r;
        long p;

        if (f) {
                cr_assert(eq(int, fscanf(f, "%ld", &max), 1));
                fclose(f);
        }
        for (p = max - 1; p > 1 && (kill((pid_t) p, 0) == 0 || errno != ESRCH); p--)
                ;
        snprintf(pid, sizeof(pid), "%ld", p);
        RUN(&r, "maps", pid);
        ASSERT_EXIT(&r, 16);
        cr_assert(eq(str, r.out, ""));
        cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0));
        run_result_done(&r);

        RUN(&r, "maps", pid, "--json");
        EXPECT_RUN(&r, 16, "", NULL);
}

/* Run memcap as the unprivileged user "nobody". */
static void run_as_nobody(run_result *res, const char *const *args) {
        run_full(res, NULL, 0, NULL, SPAWN_NOBODY, args);
}

Test(cli, maps_of_unreadable_process_is_permission_denied) {
        char pid[16];
        run_result r;

        if (geteuid() != 0) {
                /* Not root: the init process is someone else's, unless this is a container. */
                RUN(&r, "maps", "1");
                if (r.status == 0) {
                        run_result_done(&r);
                        cr_skip_test("process 1 is readable by this user");
                }
        } else {
                /* Root: our own mappings, read by nobody. */
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                run_as_nobody(&r, (const char *const[]){"maps", pid, NULL});
                if (r.status >= 97 && r.status <= 99) {
                        run_result_done(&r);
                        cr_skip_test("cannot run as nobody");
                }
        }
        ASSERT_EXIT(&r, 11);
        cr_assert(eq(str, r.out, ""));
        cr_assert(not(eq(ptr, strstr(r.err, "Permission denied"), NULL)), "%s", r.err);
        run_result_done(&r);
}

/* ---- map ------------------------------------------------------------------------------------- */

Test(cli, map_hexdump_of_small_file) {
        char file[PATH_MAX];
        run_result r;

        tmp_path(file, sizeof(file), "hello");
        write_file(file, "hello world\n", 12);
        RUN(&r, "map", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(str, r.out,
                     "00000000  68 65 6c 6c 6f 20 77 6f  72 6c 64 0a              |hello world.|\n"
                     "0000000c\n"));
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);
}

Test(cli, map_hexdump_lines_squeeze_and_nonprintables) {
        unsigned char data[16 * 5 + 3];
        char file[PATH_MAX];
        run_result r;

        /* Four identical lines of zeros, then one with control bytes, then three bytes. */
        memset(data, 0, 64);
        for (int i = 0; i < 16; i++)
                data[64 + i] = (unsigned char) (0x7a + i); /* z { | } ~ DEL 0x80.. */
        memcpy(data + 80, "A\tB", 3);
        tmp_path(file, sizeof(file), "lines");
        write_file(file, data, sizeof(data));

        RUN(&r, "map", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(
                str, r.out,
                "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
                "*\n"
                "00000040  7a 7b 7c 7d 7e 7f 80 81  82 83 84 85 86 87 88 89  |z{|}~...........|\n"
                "00000050  41 09 42                                          |A.B|\n"
                "00000053\n"));
        run_result_done(&r);

        /* -v prints every line. */
        RUN(&r, "map", "-v", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, count_lines(r.out), 7));
        cr_assert(eq(ptr, strchr(r.out, '*'), NULL));
        run_result_done(&r);
}

Test(cli, map_offset_and_length_unaligned) {
        char file[PATH_MAX];
        unsigned char *data;
        size_t len = 3 * 4096 + 100;
        run_result r;

        data = malloc(len);
        for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char) (i * 7 + 3);
        tmp_path(file, sizeof(file), "pattern");
        write_file(file, data, len);

        RUN(&r, "map", "--offset", "4099", "--length", "5", file);
        ASSERT_EXIT(&r, 0);
        {
                char want[256], hex[64] = "";
                for (size_t i = 0; i < 5; i++)
                        snprintf(hex + i * 3, sizeof(hex) - i * 3, "%02x ", data[4099 + i]);
                /* The offsets are the file's: 4099 = 0x1003. */
                snprintf(want, sizeof(want), "00001003  %-49s |", hex);
                cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s\nwant %s", r.out,
                          want);
                cr_assert(not(eq(ptr, strstr(r.out, "\n00001008\n"), NULL)), "%s", r.out);
        }
        run_result_done(&r);

        /* Raw, size units, from an unaligned offset to the end. */
        RUN(&r, "map", "--raw", "-o", "1KiB", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, r.out_len, len - 1024));
        cr_assert(eq(int, memcmp(r.out, data + 1024, len - 1024), 0));
        run_result_done(&r);

        RUN(&r, "map", "--raw", "--offset=4097", "--length=3", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, r.out_len, 3));
        cr_assert(eq(int, memcmp(r.out, data + 4097, 3), 0));
        run_result_done(&r);

        /* Past the end is the library's InvalidArgument, with the file size in the message. */
        RUN(&r, "map", "--offset", "100000", file);
        EXPECT_RUN(&r, 12, "", NULL);
        RUN(&r, "map", "--offset", "4096", "--length", "1MiB", file);
        EXPECT_RUN(&r, 12, NULL, NULL);
        free(data);
}

Test(cli, map_raw_is_byte_exact) {
        char file[PATH_MAX];
        size_t len = 3 * 65536 + 17; /* several chunks and a tail */
        unsigned char *data = malloc(len);
        run_result r;

        for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char) ((i * 2654435761u) >> 13);
        tmp_path(file, sizeof(file), "raw");
        write_file(file, data, len);
        RUN(&r, "map", "--raw", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, r.out_len, len));
        cr_assert(eq(int, memcmp(r.out, data, len), 0));
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);
        free(data);
}

/*
 * A dump that cannot be written fails with the write's own errno, whatever the output mode: a
 * full disk is "No space left on device" (ENOSPC, OutOfMemory, exit 13). 64 KiB, more than stdio
 * buffers, so a write inside the dump fails, not the flush at exit.
 */
Test(cli, map_to_a_full_disk_names_the_write_error) {
        static const char *const modes[] = {"--raw", "-v", "--json"};
        size_t len = 65536;
        char file[PATH_MAX];
        unsigned char *data = calloc(1, len);
        run_result r;

        cr_assert(not(eq(ptr, data, NULL)));
        tmp_path(file, sizeof(file), "full");
        write_file(file, data, len);
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                run_full(&r, NULL, 0, NULL, SPAWN_STDOUT_FULL,
                         (const char *const[]){"map", modes[i], file, NULL});
                ASSERT_EXIT(&r, 13);
                cr_assert(eq(str, r.err,
                             "memcap: write to standard output: No space left on device\n"));
                run_result_done(&r);
        }
        free(data);
}

static size_t base64_decode(const char *s, unsigned char *out) {
        static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        uint32_t acc = 0;
        size_t n = 0;
        int bits = 0;

        for (; *s && *s != '='; s++) {
                const char *p = strchr(alphabet, *s);
                cr_assert(not(eq(ptr, (void *) p, NULL)), "bad base64 character %c", *s);
                acc = acc << 6 | (uint32_t) (p - alphabet);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (unsigned char) (acc >> bits);
                }
        }
        return n;
}

Test(cli, map_json_roundtrips_base64) {
        char file[PATH_MAX];
        unsigned char data[1000], back[1000];
        run_result r;
        json_t *o;

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (unsigned char) (255 - i % 256);
        tmp_path(file, sizeof(file), "json");
        write_file(file, data, sizeof(data));
        for (size_t skip = 0; skip < 3; skip++) { /* every padding case */
                char off[16];
                size_t want = sizeof(data) - 10 - skip;

                snprintf(off, sizeof(off), "%zu", 10 + skip);
                RUN(&r, "map", "--json", "--offset", off, file);
                ASSERT_EXIT(&r, 0);
                o = parse_json(r.out);
                cr_assert(eq(str, (char *) json_string_value(json_object_get(o, "path")), file));
                cr_assert(eq(i64, json_integer_value(json_object_get(o, "offset")),
                             (json_int_t) (10 + skip)));
                cr_assert(eq(i64, json_integer_value(json_object_get(o, "length")),
                             (json_int_t) want));
                cr_assert(eq(
                        sz,
                        base64_decode(json_string_value(json_object_get(o, "data_base64")), back),
                        want));
                cr_assert(eq(int, memcmp(back, data + 10 + skip, want), 0));
                json_decref(o);
                run_result_done(&r);
        }
}

Test(cli, map_empty_file_prints_nothing) {
        char file[PATH_MAX];
        run_result r;
        json_t *o;

        tmp_path(file, sizeof(file), "empty");
        write_file(file, "", 0);
        RUN(&r, "map", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, r.out_len, 0));
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);

        RUN(&r, "map", "--raw", file);
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, r.out_len, 0));
        run_result_done(&r);

        RUN(&r, "map", "--json", file);
        ASSERT_EXIT(&r, 0);
        o = parse_json(r.out);
        cr_assert(eq(i64, json_integer_value(json_object_get(o, "length")), 0));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(o, "data_base64")), ""));
        json_decref(o);
        run_result_done(&r);
}

Test(cli, map_directory_and_missing_file_fail) {
        char missing[PATH_MAX];
        run_result r;

        RUN(&r, "map", tmpdir);
        ASSERT_EXIT(&r, 12);
        cr_assert(eq(str, r.out, ""));
        cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0), "%s", r.err);
        run_result_done(&r);

        tmp_path(missing, sizeof(missing), "missing");
        RUN(&r, "map", missing);
        ASSERT_EXIT(&r, 16);
        cr_assert(eq(str, r.out, ""));
        cr_assert(not(eq(ptr, strstr(r.err, missing), NULL)), "%s", r.err);
        run_result_done(&r);

        RUN(&r, "map");
        EXPECT_RUN(&r, 2, NULL, NULL);

        RUN(&r, "map", "--raw", "--json", missing);
        EXPECT_RUN(&r, 2, NULL, NULL);
}

Test(cli, map_rejects_bad_sizes) {
        static const char *const bad[] = {
                "4x", "-1", "", "1.5K", "KiB", "0x10", "99999999999999999999999", "16EiB"};
        char file[PATH_MAX];
        run_result r;

        tmp_path(file, sizeof(file), "f");
        write_file(file, "abc", 3);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RUN(&r, "map", "--offset", bad[i], file);
                ASSERT_EXIT(&r, 2);
                cr_assert(eq(str, r.out, ""));
                cr_assert(not(eq(ptr, strstr(r.err, "offset"), NULL)), "%s", r.err);
                run_result_done(&r);

                RUN(&r, "map", "--length", bad[i], file);
                ASSERT_EXIT(&r, 2);
                cr_assert(not(eq(ptr, strstr(r.err, "length"), NULL)), "%s", r.err);
                run_result_done(&r);
        }
}

Test(cli, map_truncated_while_dumping_is_io_error) {
        char file[PATH_MAX], buf[4096];
        size_t len = 1024 * 1024;
        unsigned char *data = malloc(len);
        run_result r = {};
        child c;
        ssize_t n;

        /* Non-repeating bytes, so the hexdump squeezes nothing and fills the pipe. */
        for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char) ((i * 2654435761u) >> 11);
        tmp_path(file, sizeof(file), "shrinks");
        write_file(file, data, len);

        /*
         * The dump blocks on the full pipe inside its first chunk. Once it has printed
         * something the file is mapped; cut the file to nothing, then let it go on.
         */
        spawn_child(&c, (const char *const[]){"map", file, NULL}, NULL, -1, 0);
        n = read(c.out, buf, sizeof(buf));
        cr_assert(gt(sz, (size_t) n, 0));
        cr_assert(eq(int, truncate(file, 0), 0));
        finish_child(&c, NULL, 0, &r);
        ASSERT_EXIT(&r, 21);
        cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0), "%s", r.err);
        /* It stopped early: far less than the 4+ MiB a whole dump would be. */
        cr_assert(lt(sz, r.out_len + (size_t) n, len));
        run_result_done(&r);
        free(data);
}

/*
 * A read-only map of a 5 GiB file is page cache, not memory the default max_memory_usage
 * (4 GiB) counts. The file is sparse and on a disk-backed file system (on tmpfs it would be
 * memory). memcap dumps it raw into a pipe; once the first bytes are out the file is mapped,
 * and closing the pipe stops the dump, so the test reads 64 KiB, not 5 GiB.
 */
Test(cli, map_of_a_5gib_file_fits_the_default_policy) {
        const char *dirs[] = {tmpdir, getenv("MEMCAP_BUILD_ROOT"), "/var/tmp"};
        char file[PATH_MAX] = "", buf[16];
        run_result r = {};
        struct statfs sfs;
        child c;
        int fd;

        if (sizeof(size_t) < 8)
                cr_skip_test("a 32-bit address space cannot hold 5 GiB");
        for (size_t i = 0; i < ELEMENTSOF(dirs) && !file[0]; i++)
                if (dirs[i] && statfs(dirs[i], &sfs) == 0 && sfs.f_type != TMPFS_MAGIC &&
                    sfs.f_type != RAMFS_MAGIC)
                        snprintf(file, sizeof(file), "%s/memcap-test-cli-5g-%d", dirs[i],
                                 (int) getpid());
        if (!file[0])
                cr_skip_test("no disk-backed directory for a sparse 5 GiB file");
        fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0), "%s: %s", file, strerror(errno));
        if (ftruncate(fd, (off_t) (UINT64_C(5) << 30)) < 0) {
                close(fd);
                unlink(file);
                cr_skip_test("%s cannot hold a sparse 5 GiB file", file);
        }
        cr_assert(eq(int, (int) pwrite(fd, "five gigabytes", 14, 0), 14));
        close(fd);

        spawn_child(&c, (const char *const[]){"map", file, "--raw", NULL}, NULL, -1, 0);
        for (size_t got = 0; got < 14;) {
                struct pollfd p = {c.out, POLLIN, 0};
                ssize_t n;

                cr_assert(eq(int, poll(&p, 1, 60000), 1), "memcap printed nothing in 60 s");
                n = read(c.out, buf + got, 14 - got);
                cr_assert(gt(int, (int) n, 0), "memcap printed nothing (denied?)");
                got += (size_t) n;
        }
        cr_assert(eq(int, memcmp(buf, "five gigabytes", 14), 0));
        close(c.out);
        c.out = -1;
        finish_child(&c, NULL, 0, &r);
        unlink(file);
        /* Stopped by the closed pipe (SIGPIPE, or EPIPE reported as an error), never denied. */
        cr_assert(not(eq(int, r.status, 18)), "%s", r.err);
        cr_assert(eq(ptr, strstr(r.err, "max_memory_usage"), NULL), "%s", r.err);
        run_result_done(&r);
}

/* ---- policy ---------------------------------------------------------------------------------- */

Test(cli, policy_check_good_file) {
        static const char text[] = "{\n  \"allow_fixed\": true,\n  \"max_mappings\": 12\n}\n";
        char file[PATH_MAX], want[PATH_MAX + 8];
        run_result r;
        json_t *o;

        tmp_path(file, sizeof(file), "good.json");
        write_file(file, text, strlen(text));
        RUN(&r, "policy", "check", file);
        ASSERT_EXIT(&r, 0);
        snprintf(want, sizeof(want), "%s: ok\n", file);
        cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s", r.out);
        o = parse_json(r.out + strlen(want));
        cr_assert(is_type(JSON_TRUE, json_object_get(o, "allow_fixed")));
        cr_assert(eq(i64, json_integer_value(json_object_get(o, "max_mappings")), 12));
        /* Fields the file left out show their defaults: it is the effective policy. */
        cr_assert(is_type(JSON_FALSE, json_object_get(o, "allow_write_exec")));
        json_decref(o);
        run_result_done(&r);

        RUN(&r, "policy", "check", "--json", file);
        ASSERT_EXIT(&r, 0);
        o = parse_json(r.out);
        cr_assert(is_type(JSON_TRUE, json_object_get(o, "allow_fixed")));
        json_decref(o);
        run_result_done(&r);
}

Test(cli, policy_check_bad_file_names_line_and_column) {
        static const char text[] =
                "{\n  \"allow_fixed\": false,\n  \"max_mappings\": \"many\"\n}\n";
        char file[PATH_MAX], want[PATH_MAX + 8];
        run_result r;

        tmp_path(file, sizeof(file), "bad.json");
        write_file(file, text, strlen(text));
        RUN(&r, "policy", "check", file);
        ASSERT_EXIT(&r, 12);
        cr_assert(eq(str, r.out, ""));
        cr_assert(lt(int, snprintf(want, sizeof(want), "memcap: %s:3:", file), (int) sizeof(want)));
        cr_assert(eq(int, strncmp(r.err, want, strlen(want)), 0), "%s", r.err);
        cr_assert(ge(int, r.err[strlen(want)], '1'));
        cr_assert(le(int, r.err[strlen(want)], '9'), "no column: %s", r.err);
        run_result_done(&r);

        RUN(&r, "policy", "check", "--json", file);
        EXPECT_RUN(&r, 12, "", NULL);

        write_file(file, "{\"allow_fixed\": true,", 21);
        RUN(&r, "policy", "check", file);
        EXPECT_RUN(&r, 12, NULL, NULL);
}

Test(cli, policy_default_and_usage) {
        run_result r;
        json_t *o;

        RUN(&r, "policy", "default");
        ASSERT_EXIT(&r, 0);
        o = parse_json(r.out);
        cr_assert(is_type(JSON_FALSE, json_object_get(o, "allow_fixed")));
        cr_assert(eq(i64, json_integer_value(json_object_get(o, "max_mappings")), 65536));
        json_decref(o);
        run_result_done(&r);

        RUN(&r, "policy");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "policy", "lint", "x");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "policy", "check");
        EXPECT_RUN(&r, 2, NULL, NULL);
}

/* ---- audit ----------------------------------------------------------------------------------- */

static const char audit_log[] =
        "{\"time\":\"2026-11-22T01:46:55.123456Z\",\"capability\":\"core.memory\","
        "\"operation\":\"mmap\",\"pid\":4242,\"outcome\":\"ok\",\"request\":{\"length\":4096,"
        "\"protection\":\"ReadOnly\",\"file\":\"/data/a b\"},\"result\":{\"address\":"
        "\"0x7f3a2c000000\",\"length\":4096}}\n"
        "{\"time\":\"2026-11-22T01:46:56.000001Z\",\"capability\":\"core.memory\","
        "\"operation\":\"mprotect\",\"pid\":4242,\"outcome\":\"denied\",\"request\":{\"length\":"
        "4096},\"error\":{\"kind\":\"PolicyViolation\",\"errno\":1,\"message\":\"mprotect denied "
        "by rule allow_write_exec\"}}\n"
        "this line is not JSON\n"
        "{\"time\":\"2026-11-22T01:47:00.5Z\",\"capability\":\"core.signal\",\"operation\":"
        "\"signal_send\",\"pid\":77,\"outcome\":\"error\",\"request\":{\"signal\":\"SIGUSR1\","
        "\"target_pid\":999999},\"error\":{\"kind\":\"NotFound\",\"errno\":3,\"message\":\"kill "
        "999999: No such process\"}}\n"
        "\n"
        "{\"time\":\"2026-11-22T01:48:00.000000Z\",\"capability\":\"core.memory\",\"operation\":"
        "\"shm_open\",\"pid\":77,\"outcome\":\"ok\",\"request\":{\"name\":\"/q\",\"length\":8192}}"
        "\n";

/* Write the log, run `memcap audit LOG args...` in UTC and check the garbage line warning. */
static void run_audit(run_result *r, const char *const *args, int want_exit) {
        char log[PATH_MAX];
        const char *argv[16] = {"audit"};
        size_t n = 1;

        tmp_path(log, sizeof(log), "audit.jsonl");
        write_file(log, audit_log, strlen(audit_log));
        argv[n++] = log;
        for (; *args; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        setenv("TZ", "UTC", 1);
        run_full(r, NULL, 0, NULL, 0, argv);
        ASSERT_EXIT(r, want_exit);
        cr_assert(not(eq(ptr, strstr(r->err, "audit.jsonl:3: not a valid audit record"), NULL)),
                  "%s", r->err);
        cr_assert(not(eq(ptr, strstr(r->err, "1 malformed line skipped"), NULL)), "%s", r->err);
}

Test(cli, audit_prints_every_record_and_flags_garbage) {
        run_result r;

        run_audit(&r, (const char *const[]){NULL}, 21);
        cr_assert(eq(sz, count_lines(r.out), 4), "%s", r.out);
        const char *first = "2026-11-22 01:46:55.123456    4242 core.memory mmap           ok     "
                            "file=/data/a b length=4096 address=0x7f3a2c000000\n";
        cr_assert(eq(int, strncmp(r.out, first, strlen(first)), 0), "%s", r.out);
        cr_assert(not(eq(ptr,
                         strstr(r.out, "denied length=4096 PolicyViolation: mprotect denied "
                                       "by rule allow_write_exec\n"),
                         NULL)),
                  "%s", r.out);
        cr_assert(not(eq(ptr, strstr(r.out, "2026-11-22 01:47:00.5 "), NULL)), "%s", r.out);
        cr_assert(not(eq(ptr, strstr(r.out, "signal=SIGUSR1 target=999999 NotFound: kill"), NULL)),
                  "%s", r.out);
        run_result_done(&r);
}

Test(cli, audit_filters) {
        static const struct {
                const char *args[5]; /* NULL-terminated */
                size_t lines;
                const char *has; /* in the output, or NULL */
        } cases[] = {
                {{"--op", "mmap"}, 1, " mmap "},
                {{"--outcome", "denied"}, 1, " mprotect "},
                {{"--capability", "core.signal"}, 1, " signal_send "},
                {{"--pid", "77"}, 2, NULL},
                {{"--kind", "NotFound"}, 1, " signal_send "},
                /* Filters combine. */
                {{"--pid", "4242", "--outcome", "ok"}, 1, " mmap "},
        };
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                run_audit(&r, cases[i].args, 21);
                cr_assert(eq(sz, count_lines(r.out), cases[i].lines), "%s %s: %s", cases[i].args[0],
                          cases[i].args[1], r.out);
                if (cases[i].has)
                        cr_assert(not(eq(ptr, strstr(r.out, cases[i].has), NULL)), "%s %s: %s",
                                  cases[i].args[0], cases[i].args[1], r.out);
                run_result_done(&r);
        }

        run_audit(&r, (const char *const[]){"--pid", "4242", "--op", "shm_open", NULL}, 21);
        cr_assert(eq(str, r.out, ""));
        run_result_done(&r);
}

Test(cli, audit_json_output) {
        run_result r;
        json_t *a;

        run_audit(&r, (const char *const[]){"--pid", "77", "--json", NULL}, 21);
        a = parse_json(r.out);
        cr_assert(is_type(JSON_ARRAY, a));
        cr_assert(eq(sz, json_array_size(a), 2));
        cr_assert(eq(str,
                     (char *) json_string_value(json_object_get(json_array_get(a, 1), "operation")),
                     "shm_open"));
        json_decref(a);
        run_result_done(&r);

        run_audit(&r, (const char *const[]){"--op", "nothing", "--json", NULL}, 21);
        a = parse_json(r.out);
        cr_assert(eq(sz, json_array_size(a), 0));
        json_decref(a);
        run_result_done(&r);
}

Test(cli, audit_clean_log_from_stdin) {
        const char *clean = strstr(audit_log, "{\"time\":\"2026-11-22T01:47");
        run_result r;

        setenv("TZ", "UTC", 1);
        RUN_IN(&r, clean, "audit", "-");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, count_lines(r.out), 2), "%s", r.out);
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);
}

Test(cli, audit_survives_hostile_input) {
        static const char wrong_types[] =
                "{\"time\":12,\"pid\":\"x\",\"capability\":[],\"operation\":{},\"outcome\":null,"
                "\"request\":7,\"result\":\"r\",\"error\":{\"kind\":5,\"message\":[1]}}\n"
                "{\"time\":\"2026-13-45T99:00:00Z\",\"operation\":\"a\\u001b[2Jb\\nc\"}\n"
                "[1,2,3]\n"
                "{\"a\":1,\"a\":2}\n";
        size_t huge = 3 * 1024 * 1024;
        char *input = malloc(huge + sizeof(wrong_types) + 64);
        size_t n = 0;
        run_result r;

        memcpy(input, wrong_types, strlen(wrong_types));
        n += strlen(wrong_types);
        memset(input + n, '{', huge); /* a very long line, deeply nested */
        n += huge;
        input[n++] = '\n';
        for (int i = 0; i < 40; i++)
                input[n++] = (char) (i * 37 + 1); /* binary garbage, with NUL and newlines */
        input[n++] = '\n';
        input[n] = 0;

        run_full(&r, input, n, NULL, 0, (const char *const[]){"audit", "-", NULL});
        ASSERT_EXIT(&r, 21);
        /* Records with the wrong types print, with nothing the terminal would obey. */
        cr_assert(eq(sz, count_lines(r.out), 2), "%s", r.out);
        cr_assert(eq(ptr, strchr(r.out, '\x1b'), NULL));
        cr_assert(not(eq(ptr, strstr(r.out, "a\\x1b[2Jb\\x0ac"), NULL)), "%s", r.out);
        cr_assert(not(eq(ptr, strstr(r.err, "<stdin>:3: not a valid audit record (not a JSON"),
                         NULL)),
                  "%s", r.err);
        cr_assert(not(eq(ptr, strstr(r.err, "<stdin>:4:"), NULL)), "%s", r.err);
        cr_assert(not(eq(ptr, strstr(r.err, "<stdin>:5: line longer than"), NULL)), "%s", r.err);
        cr_assert(eq(ptr, strchr(r.err, '\x1b'), NULL));
        run_result_done(&r);
        free(input);
}

Test(cli, audit_usage_and_missing_file) {
        char missing[PATH_MAX];
        run_result r;

        RUN(&r, "audit", "--outcome", "maybe", "-");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "audit", "--kind", "Nope", "-");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "audit", "--pid", "-1", "-");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "audit");
        EXPECT_RUN(&r, 2, NULL, NULL);

        tmp_path(missing, sizeof(missing), "nolog");
        RUN(&r, "audit", missing);
        EXPECT_RUN(&r, 16, NULL, NULL);
}

/* ---- shm ------------------------------------------------------------------------------------- */

Test(cli, shm_roundtrip) {
        char name[128], slashed[130];
        pid_t creator;
        run_result r;
        json_t *o;
        const json_t *e;

        MC_TEST_NAME(name, "shm");
        snprintf(slashed, sizeof(slashed), "/%s", name);

        RUN(&r, "shm", "create", name, "--size", "8KiB", "--mode", "640");
        ASSERT_EXIT(&r, 0);
        creator = r.pid;
        run_result_done(&r);

        RUN(&r, "shm", "info", name, "--json");
        ASSERT_EXIT(&r, 0);
        o = parse_json(r.out);
        cr_assert(eq(str, (char *) json_string_value(json_object_get(o, "name")), slashed));
        cr_assert(eq(i64, json_integer_value(json_object_get(o, "size")), 8192));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(o, "mode")), "0640"));
        cr_assert(eq(i64, json_integer_value(json_object_get(o, "uid")), (json_int_t) getuid()));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(o, "owner")), "Remote"));
        /* The creator is known where tmpfs keeps extended attributes, else 0. */
        if (json_integer_value(json_object_get(o, "owner_pid")) != 0)
                cr_assert(eq(i64, json_integer_value(json_object_get(o, "owner_pid")),
                             (json_int_t) creator));
        json_decref(o);
        run_result_done(&r);

        RUN(&r, "shm", "info", slashed);
        ASSERT_EXIT(&r, 0);
        cr_assert(not(eq(ptr, strstr(r.out, "8.0 KiB (8192 bytes)"), NULL)), "%s", r.out);
        cr_assert(not(eq(ptr, strstr(r.out, "mode:       0640"), NULL)), "%s", r.out);
        run_result_done(&r);

        RUN(&r, "shm", "ls", "--json");
        ASSERT_EXIT(&r, 0);
        o = parse_json(r.out);
        e = find_by(o, "name", slashed);
        cr_assert(not(eq(ptr, (void *) e, NULL)), "%s not listed: %s", slashed, r.out);
        cr_assert(eq(i64, json_integer_value(json_object_get(e, "size")), 8192));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(e, "mode")), "0640"));
        cr_assert(is_type(JSON_TRUE, json_object_get(e, "regular")));
        json_decref(o);
        run_result_done(&r);

        RUN(&r, "shm", "ls");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(int, strncmp(r.out, "NAME", 4), 0));
        cr_assert(not(eq(ptr, strstr(r.out, slashed), NULL)));
        run_result_done(&r);

        RUN(&r, "shm", "rm", name);
        EXPECT_RUN(&r, 0, NULL, NULL);

        RUN(&r, "shm", "info", name);
        EXPECT_RUN(&r, 16, NULL, NULL);
        RUN(&r, "shm", "rm", name);
        EXPECT_RUN(&r, 16, NULL, NULL);
        RUN(&r, "shm", "ls", "--json");
        ASSERT_EXIT(&r, 0);
        o = parse_json(r.out);
        cr_assert(eq(ptr, (void *) find_by(o, "name", slashed), NULL));
        json_decref(o);
        run_result_done(&r);
}

Test(cli, shm_create_twice_already_exists) {
        char name[128];
        run_result r;

        MC_TEST_NAME(name, "shm");
        RUN(&r, "shm", "create", name, "--size", "4096");
        EXPECT_RUN(&r, 0, NULL, NULL);
        RUN(&r, "shm", "create", name, "--size", "4096");
        ASSERT_EXIT(&r, 15);
        cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0));
        run_result_done(&r);
}

Test(cli, shm_invalid_names) {
        static const char *const bad[] = {"a/b", "..", ".", "//x", "bad\nname", ""};
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                RUN(&r, "shm", "create", bad[i], "--size", "4096");
                ASSERT_EXIT(&r, 12);
                cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0));
                run_result_done(&r);
                RUN(&r, "shm", "info", bad[i]);
                EXPECT_RUN(&r, 12, NULL, NULL);
                RUN(&r, "shm", "rm", bad[i]);
                EXPECT_RUN(&r, 12, NULL, NULL);
        }
}

Test(cli, shm_ls_marks_non_regular_entries) {
        char name[128], path[160], slashed[130];
        const json_t *e;
        run_result r;
        json_t *o;

        MC_TEST_NAME(name, "shmdir");
        snprintf(path, sizeof(path), "/dev/shm/%s", name);
        snprintf(slashed, sizeof(slashed), "/%s", name);
        if (mkdir(path, 0700) < 0)
                cr_skip_test("cannot create a directory in /dev/shm: %s", strerror(errno));

        RUN(&r, "shm", "ls", "--json");
        ASSERT_EXIT(&r, 0);
        o = parse_json(r.out);
        e = find_by(o, "name", slashed);
        cr_assert(not(eq(ptr, (void *) e, NULL)));
        cr_assert(is_type(JSON_FALSE, json_object_get(e, "regular")));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(e, "type")), "directory"));
        json_decref(o);
        run_result_done(&r);

        RUN(&r, "shm", "ls");
        ASSERT_EXIT(&r, 0);
        cr_assert(not(eq(ptr, strstr(r.out, "directory (not a regular file)"), NULL)), "%s", r.out);
        run_result_done(&r);
}

Test(cli, shm_usage_errors) {
        char name[128];
        run_result r;

        MC_TEST_NAME(name, "shm");
        RUN(&r, "shm");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "shm", "grow", name);
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "shm", "create", name); /* no --size */
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "shm", "create", name, "--size", "lots");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "shm", "create", name, "--size", "4096", "--mode", "9");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "shm", "info");
        EXPECT_RUN(&r, 2, NULL, NULL);
        /* None of these created anything. */
        cr_assert(lt(int, shm_open(name, O_RDONLY, 0), 0));
        cr_assert(eq(int, errno, ENOENT));
}
