/* SPDX-License-Identifier: MIT */
/*
 * memcap client, run as users run it: each test starts its own memcapd (the built binary, from
 * $MEMCAP_BUILD_ROOT, on a socket and root directory of its own under /tmp, stopped with
 * SIGTERM in .fini) and spawns the real memcap binary with pipes on stdin, stdout and stderr,
 * checking what it printed and its exit status. Because every test has a fresh daemon, mapping
 * ids start at 1 and the output can be compared exactly.
 *
 * A few tests talk to a fake daemon instead: a forked child that answers each request line with
 * a scripted reply, to show that the client survives malformed and hostile replies.
 *
 * Sections: spawning, the daemon, hello, session, sharing between processes, fd, raw, errors,
 * socket selection, fake daemon.
 */

#include "mctest.h"
#include "spawn.h"
#include "memcapd.h"
#include "fake-daemon.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

/* ---- spawning ------------------------------------------------------------------------------ */

static char sock_path[300];
static char root_dir[300];
static pid_t daemon_pid;

/* memcap client --socket <our daemon> ARGS... */
#define RUN(res, ...)                                                                              \
        run_full((res), NULL, 0, NULL, 0,                                                          \
                 (const char *const[]){"client", "--socket", sock_path, __VA_ARGS__, NULL})
#define RUN_IN(res, in, ...)                                                                       \
        run_full((res), (in), strlen(in), NULL, 0,                                                 \
                 (const char *const[]){"client", "--socket", sock_path, __VA_ARGS__, NULL})
/* memcap ARGS... exactly, with @env. */
#define RUN_ENV(res, env, ...)                                                                     \
        run_full((res), NULL, 0, (env), 0, (const char *const[]){__VA_ARGS__, NULL})

#define ASSERT_HAS(hay, needle)                                                                    \
        cr_assert(not(eq(ptr, strstr((hay), (needle)), NULL)), "no '%s' in:\n%s", (needle), (hay))

/* The contents of @path, NUL-terminated, in a malloc'd buffer. */
static char *read_file(const char *path, size_t *ret_len) {
        char *buf = mct_read_all(path, ret_len);

        cr_assert(not(eq(ptr, buf, NULL)), "%s: %s", path, strerror(errno));
        return buf;
}

/* ---- the daemon ------------------------------------------------------------------------------ */

static void set_sun_path(struct sockaddr_un *sa, const char *path) {
        cr_assert(lt(sz, strlen(path), sizeof(sa->sun_path)), "socket path too long: %s", path);
        memcpy(sa->sun_path, path, strlen(path) + 1);
}

static void client_init(void) {
        char path[400], audit[400], config[400];

        /* 0755, so that a client running as nobody can reach the socket. */
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/memcap-test-cli-client-%d", (int) getpid());
        cr_assert(eq(int, mkdir(tmpdir, 0755), 0), "mkdir %s: %s", tmpdir, strerror(errno));
        cr_assert(eq(int, chmod(tmpdir, 0755), 0));
        snprintf(sock_path, sizeof(sock_path), "%s/sock", tmpdir);
        snprintf(root_dir, sizeof(root_dir), "%s/root", tmpdir);
        snprintf(audit, sizeof(audit), "%s/audit.jsonl", tmpdir);
        /* Nobody may read but not write or pass descriptors: each refusal gets its test. */
        snprintf(config, sizeof(config), "%s/memcapd.json", tmpdir);
        snprintf(path, sizeof(path),
                 "{\"capabilities\": {\"%d\": [\"FileRead\", \"FileWrite\", \"SystemInfo\", "
                 "\"FdPass\", \"MemLock\"], \"%d\": [\"FileRead\"]}}",
                 (int) getuid(), (int) NOBODY);
        write_file(config, path, strlen(path));
        cr_assert(eq(int, mkdir(root_dir, 0755), 0));
        snprintf(path, sizeof(path), "%s/data", root_dir);
        cr_assert(eq(int, mkdir(path, 0755), 0));
        snprintf(path, sizeof(path), "%s/data/f", root_dir);
        write_file(path, "hello, world\n", 13);

        {
                char *argv[] = {NULL,      "--socket", sock_path,  "--root", root_dir,
                                "--audit", audit,      "--config", config,   NULL};

                /* Sanitizers make the start slow on a busy machine. */
                snprintf(path, sizeof(path), "%s/memcapd.log", tmpdir);
                daemon_pid = memcapd_start(argv, sock_path, path, NULL, 30000);
        }
}

static void client_fini(void) {
        if (daemon_pid > 0)
                (void) memcapd_terminate(daemon_pid, 10000);
        daemon_pid = 0;
        remove_tree(tmpdir);
        mc_test_fini();
}

TestSuite(cli_client, .init = client_init, .fini = client_fini, .timeout = 120);

static void client_root_path(char *buf, size_t size, const char *rel) {
        int n = snprintf(buf, size, "%s%s", root_dir, rel);

        cr_assert(lt(sz, (size_t) n, size));
}

/* ---- hello ----------------------------------------------------------------------------------- */

Test(cli_client, hello_human) {
        run_result r;
        char want[1024];

        RUN(&r, "hello");
        ASSERT_EXIT(&r, 0);
        snprintf(want, sizeof(want),
                 "daemon        memcapd %s\n"
                 "socket        %s\n"
                 "protocol      1\n"
                 "client pid    %d\n"
                 "client uid    %d\n"
                 "capabilities  FileRead FileWrite SystemInfo FdPass MemLock\n",
                 mc_version(), sock_path, (int) r.pid, (int) getuid());
        cr_assert(eq(str, r.out, want));
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);
}

Test(cli_client, hello_json_is_the_reply_data) {
        run_result r;
        json_t *j, *caps;

        /* --json after the command as well as before it. */
        for (int before = 0; before < 2; before++) {
                if (before)
                        RUN_ENV(&r, NULL, "client", "--json", "--socket", sock_path, "hello");
                else
                        RUN(&r, "hello", "--json");
                ASSERT_EXIT(&r, 0);
                j = parse_json(r.out);
                cr_assert(eq(str, (char *) json_string_value(json_object_get(j, "daemon")),
                             "memcapd"));
                cr_assert(eq(i64, json_integer_value(json_object_get(j, "protocol")), 1));
                cr_assert(eq(i64, json_integer_value(json_object_get(j, "pid")), r.pid));
                cr_assert(eq(i64, json_integer_value(json_object_get(j, "uid")), getuid()));
                caps = json_object_get(j, "capabilities");
                cr_assert(is_type(JSON_ARRAY, caps));
                cr_assert(eq(sz, json_array_size(caps), 5));
                cr_assert(eq(str, (char *) json_string_value(json_array_get(caps, 3)), "FdPass"));
                cr_assert(eq(str, (char *) json_string_value(json_array_get(caps, 4)), "MemLock"));
                json_decref(j);
                run_result_done(&r);
        }
}

Test(cli_client, hello_as_nobody_shows_its_capabilities) {
        run_result r;

        run_full(&r, NULL, 0, NULL, SPAWN_NOBODY,
                 (const char *const[]){"client", "--socket", sock_path, "hello", NULL});
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, "client uid    65534\n");
        ASSERT_HAS(r.out, "capabilities  FileRead\n");
        run_result_done(&r);
}

/* ---- session --------------------------------------------------------------------------------- */

Test(cli_client, session_runs_every_command_in_one_process) {
        static const char input[] = "# a comment, then a blank line\n"
                                    "\n"
                                    "mmap /data/f --shared --prot rw\n"
                                    "write % --data HELLO\n"
                                    "read % --length 5\n"
                                    "read % --hex\n"
                                    "stats %\n"
                                    "list\n"
                                    "sync %\n"
                                    "protect % --prot r\n"
                                    "unmap %\n"
                                    "list\n";
        char want[4096], path[400];
        run_result r;
        char *file;

        RUN_IN(&r, input, "session");
        ASSERT_EXIT(&r, 0);
        snprintf(want, sizeof(want),
                 "id 1, length 13 (13 B)\n"
                 "wrote 5 bytes to id 1 at offset 0\n"
                 "HELLO\n"
                 "00000000  48 45 4c 4c 4f 2c 20 77  6f 72 6c 64 0a           |HELLO, world.|\n"
                 "0000000d\n"
                 "id         1\n"
                 "path       /data/f\n"
                 "offset     0\n"
                 "length     13 (13 B)\n"
                 "prot       rw-\n"
                 "flags      Shared\n"
                 "owner pid  %d\n"
                 "ID  PATH     OFFSET  LENGTH  PROT  FLAGS   OWNER PID\n"
                 " 1  /data/f       0      13  rw-   Shared  %9d\n"
                 "1 mapping\n"
                 "synced id 1\n"
                 "protected id 1: r--\n"
                 "unmapped id 1\n"
                 "ID  PATH  OFFSET  LENGTH  PROT  FLAGS  OWNER PID\n"
                 "0 mappings\n",
                 (int) r.pid, (int) r.pid);
        cr_assert(eq(str, r.out, want));
        cr_assert(eq(str, r.err, ""));
        run_result_done(&r);

        /* The shared write reached the file. */
        client_root_path(path, sizeof(path), "/data/f");
        file = read_file(path, NULL);
        cr_assert(eq(str, file, "HELLO, world\n"));
        free(file);
}

Test(cli_client, session_json_and_echo) {
        static const char input[] = "mmap --length 4KiB --prot rw\n"
                                    "write % --offset 4094 --data 'a b'\n";
        static const char input2[] = "mmap --length 4KiB --prot rw\n"
                                     "write % --offset 10 --data \"x\\\"y\"\n"
                                     "read % --offset 10 --length 3\n";
        run_result r;
        json_t *j;

        /* The anonymous mapping is 4 KiB; 'a b' at 4094 does not fit: InvalidArgument. */
        RUN_IN(&r, input, "session", "--echo");
        ASSERT_EXIT(&r, 12);
        cr_assert(eq(str, r.out,
                     "> mmap --length 4KiB --prot rw\n"
                     "id 1, length 4096 (4.0 KiB)\n"
                     "> write % --offset 4094 --data 'a b'\n"));
        ASSERT_HAS(r.err, "memcap: MmapWrite failed: ");
        ASSERT_HAS(r.err, "memcap: session stopped at line 2\n");
        run_result_done(&r);

        RUN_IN(&r, input2, "session", "--json");
        ASSERT_EXIT(&r, 0);
        /* Three JSON documents, one after another. */
        {
                json_error_t jerr;
                const char *p = r.out;
                size_t n = 0;

                while (*p) {
                        j = json_loads(p, JSON_DISABLE_EOF_CHECK, &jerr);
                        cr_assert(not(eq(ptr, j, NULL)), "%s: %s", jerr.text, p);
                        if (n == 0) {
                                /* The first session made id 1. */
                                cr_assert(eq(i64, json_integer_value(json_object_get(j, "mmap_id")),
                                             2));
                                cr_assert(eq(i64, json_integer_value(json_object_get(j, "length")),
                                             4096));
                        } else if (n == 1) {
                                cr_assert(eq(i64, json_integer_value(json_object_get(j, "offset")),
                                             10));
                                cr_assert(eq(i64, json_integer_value(json_object_get(j, "length")),
                                             3));
                        } else {
                                /* x"y */
                                cr_assert(eq(str,
                                             (char *) json_string_value(
                                                     json_object_get(j, "data_base64")),
                                             "eCJ5"));
                        }
                        json_decref(j);
                        n++;
                        p += jerr.position;
                        while (*p == '\n')
                                p++;
                }
                cr_assert(eq(sz, n, 3));
        }
        run_result_done(&r);
}

Test(cli_client, session_keep_going_and_references) {
        static const char input[] = "mmap /data/f\n"
                                    "mmap /data/f --offset 7 --length 100\n"
                                    "read %3\n"
                                    "read %1 --length 5\n"
                                    "read %2\n"
                                    "stats 999\n"
                                    "read % --offset 2\n";
        run_result r;

        RUN_IN(&r, input, "session", "--keep-going");
        /* The last failure decides: stats 999 is NotFound. */
        ASSERT_EXIT(&r, 16);
        cr_assert(eq(str, r.out,
                     "id 1, length 13 (13 B)\n"
                     "id 2, length 6 (6 B), cut at the end of the file\n"
                     "hello\n"
                     "world\n"
                     "rld\n"));
        ASSERT_HAS(r.err, "'%3': this session has made only 2 mappings");
        ASSERT_HAS(r.err, "memcap: MmapStats failed: ");
        cr_assert(eq(ptr, strstr(r.err, "session stopped"), NULL), "%s", r.err);
        run_result_done(&r);
}

Test(cli_client, session_rejects_bad_lines) {
        static const struct {
                const char *line;
                const char *why;
        } cases[] = {
                {"write 1 --data 'open\n", "line 1: unterminated ' quote"},
                {"write 1 --data \"open\n", "line 1: unterminated \" quote"},
                {"hello \\\n", "line 1: a backslash at the end of the line"},
                {"frobnicate\n", "line 1: unknown command 'frobnicate'"},
                {"session\n", "'session' cannot be used inside a session"},
                {"raw\n", "'raw' cannot be used inside a session"},
                {"read %\n", "'%': this session has made no mapping yet"},
                {"read %0\n", "invalid mapping reference '%0'"},
                {"hello --socket /x\n", "--socket cannot be used inside a session"},
                {"mmap --length 1 --prot rw\nwrite % -\n", "'-' cannot be used in a session"},
                {"read 0\n", "invalid mapping id '0'"},
                {"read 9223372036854775808\n", "invalid mapping id"},
                {"read 1 --offset 9EiB\n", "offset '9EiB' is too large"},
        };
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RUN_IN(&r, cases[i].line, "session");
                ASSERT_EXIT(&r, 2);
                ASSERT_HAS(r.err, cases[i].why);
                ASSERT_HAS(r.err, "session stopped at line");
                run_result_done(&r);
        }

        /* A NUL byte in a line is refused, not cut off. */
        run_full(&r, "hello\0junk\n", 11, NULL, 0,
                 (const char *const[]){"client", "--socket", sock_path, "session", NULL});
        EXPECT_RUN(&r, 2, NULL, "line 1 holds a NUL byte");
}

Test(cli_client, ranges_protect_advise_lock_and_sync) {
        static const char input[] = "mmap --length 12KiB --prot rw\n"
                                    "protect % --prot r --offset 4KiB --length 4KiB\n"
                                    "write % --offset 4KiB --data x\n"
                                    "write % --offset 8KiB --data y\n"
                                    "stats %\n"
                                    "list\n"
                                    "advise % WillNeed --offset 8KiB\n"
                                    "advise % remove\n"
                                    "lock % --length 4KiB\n"
                                    "unlock %\n"
                                    "sync %\n"
                                    "protect % --prot r --offset 100\n"
                                    "sync % --json\n";
        char want[4096];
        run_result r;

        RUN_IN(&r, input, "session", "--keep-going");
        /* The last failure decides: the unaligned offset, AlignmentError. */
        ASSERT_EXIT(&r, 14);
        snprintf(want, sizeof(want),
                 "id 1, length 12288 (12.0 KiB)\n"
                 "protected id 1 from offset 4096 for 4096 bytes: r--\n"
                 "wrote 1 byte to id 1 at offset 8192\n"
                 "id         1\n"
                 "path       [anon]\n"
                 "offset     0\n"
                 "length     12288 (12.0 KiB)\n"
                 "prot       rw- (parts differ: see ranges)\n"
                 "flags      Private\n"
                 "owner pid  %d\n"
                 "ranges     offset 0 length 4096 rw-\n"
                 "           offset 4096 length 4096 r--\n"
                 "           offset 8192 length 4096 rw-\n"
                 "ID  PATH    OFFSET  LENGTH  PROT  FLAGS    OWNER PID\n"
                 " 1  [anon]       0   12288  rw-*  Private  %9d\n"
                 "1 mapping\n"
                 "* parts differ in protection: 'stats ID' shows them\n"
                 "advised id 1 from offset 8192 to the end: WILLNEED\n"
                 "locked id 1 from offset 0 for 4096 bytes\n"
                 "unlocked id 1\n"
                 "nothing to write for id 1: it is not a shared mapping of a file opened for "
                 "writing\n"
                 "{\n  \"mmap_id\": 1,\n  \"written\": false\n}\n",
                 (int) r.pid, (int) r.pid);
        cr_assert(eq(str, r.out, want));
        ASSERT_HAS(r.err, "memcap: MmapWrite failed: Mmap 1: the page at offset 4096 is not "
                          "writable (Mprotect); nothing was written\n");
        ASSERT_HAS(r.err, "memcap: Madvise failed: advice REMOVE is not offered to clients");
        ASSERT_HAS(r.err, "memcap: Mprotect failed: offset 100 is not on a page boundary");
        run_result_done(&r);

        /* A shared file mapping says what it wrote; a read past the end is refused. */
        RUN_IN(&r, "mmap /data/f --shared --prot rw\nsync %\nsync % --json\nread % --length 14\n",
               "session");
        ASSERT_EXIT(&r, 12);
        /* Ids are the daemon's: this session's first mapping is the test's second. */
        cr_assert(eq(str, r.out,
                     "id 2, length 13 (13 B)\n"
                     "synced id 2\n"
                     "{\n  \"mmap_id\": 2,\n  \"written\": true\n}\n"));
        ASSERT_HAS(r.err, "memcap: MmapRead failed: 14 bytes at offset 0 end past Mmap 2 (13 "
                          "bytes); nothing was read\n");
        run_result_done(&r);

        /* Options a command does not take, and missing operands, are usage errors. */
        RUN(&r, "unmap", "1", "--offset", "4096");
        EXPECT_RUN(&r, 2, NULL, NULL);
        RUN(&r, "advise", "1");
        EXPECT_RUN(&r, 2, NULL, "missing ADVICE");
        RUN(&r, "lock", "1", "--prot", "r");
        EXPECT_RUN(&r, 2, NULL, NULL);
}

Test(cli_client, read_text_escapes_control_characters) {
        char path[400];
        run_result r;

        /* A tab and a newline stay; ESC, a lone continuation byte and NUL are escaped. */
        client_root_path(path, sizeof(path), "/data/t");
        write_file(path, "a\tb\nc\x1b[31m\x80\0d \xc3\xa9", 16);
        RUN_IN(&r, "mmap /data/t\nread %\nread % --raw\n", "session");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(sz, r.out_len, 23 + 26 + 16), "%s", r.out);
        cr_assert(eq(int,
                     memcmp(r.out,
                            "id 1, length 16 (16 B)\n"
                            "a\tb\nc\\x1b[31m\\x80\\x00d \xc3\xa9\n"
                            "a\tb\nc\x1b[31m\x80\0d \xc3\xa9",
                            r.out_len),
                     0),
                  "%s", r.out);
        run_result_done(&r);
}

Test(cli_client, large_write_and_read_go_in_chunks) {
        size_t len = 700 * 1024 + 3, got;
        char path[400], cmds[1024];
        unsigned char *data = malloc(len);
        run_result r;
        char *out;

        cr_assert(not(eq(ptr, data, NULL)));
        for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char) (i * 7 + i / 251);
        snprintf(path, sizeof(path), "%s/big.bin", tmpdir);
        write_file(path, data, len);

        snprintf(cmds, sizeof(cmds),
                 "mmap --length 1MiB --prot rw\n"
                 "write %% --offset 5 --file %s\n"
                 "read %% --offset 5 --length %zu --raw\n",
                 path, len);
        RUN_IN(&r, cmds, "session");
        ASSERT_EXIT(&r, 0);
        out = strstr(r.out, "at offset 5\n");
        cr_assert(not(eq(ptr, out, NULL)), "%.200s", r.out);
        out += strlen("at offset 5\n");
        got = r.out_len - (size_t) (out - r.out);
        cr_assert(eq(sz, got, len));
        cr_assert(eq(int, memcmp(out, data, len), 0));
        run_result_done(&r);

        /* Data that does not fit is refused before anything is written. */
        snprintf(cmds, sizeof(cmds),
                 "mmap --length 512KiB --prot rw\n"
                 "write %% --file %s\n",
                 path);
        RUN_IN(&r, cmds, "session");
        ASSERT_EXIT(&r, 12);
        ASSERT_HAS(r.err, "MmapWrite failed: the data does not fit in mapping 2 at offset 0 "
                          "(524288 bytes left); nothing was written");
        run_result_done(&r);
        RUN_IN(&r, "mmap --length 512KiB --prot rw\nwrite %1 --file /dev/null\n", "session");
        EXPECT_RUN(&r, 0, NULL, NULL);
        free(data);
}

/*
 * Text output reads in chunks of 256 KiB too, and a character that a chunk's end cuts in two is
 * printed whole, not as the \xNN escapes of two broken halves.
 */
Test(cli_client, text_read_keeps_a_character_a_chunk_cuts) {
        const size_t chunk = 256 * 1024, len = chunk + 3;
        char path[400], cmds[1024];
        char *data = malloc(len);
        run_result r;

        cr_assert(not(eq(ptr, data, NULL)));
        memset(data, 'a', len);
        data[chunk - 1] = (char) 0xc3; /* U+00E9, its second byte in the next chunk */
        data[chunk] = (char) 0xa9;
        data[len - 1] = '\n';
        snprintf(path, sizeof(path), "%s/utf8.txt", tmpdir);
        write_file(path, data, len);

        snprintf(cmds, sizeof(cmds),
                 "mmap --length 1MiB --prot rw\n"
                 "write %% --file %s\n"
                 "read %% --length %zu\n",
                 path, len);
        RUN_IN(&r, cmds, "session");
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, "aaa\xc3\xa9"
                          "a\n");
        cr_assert(eq(ptr, strstr(r.out, "\\x"), NULL), "escapes in the text:\n%.300s", r.out);
        run_result_done(&r);
        free(data);
}

/* ---- sharing between processes --------------------------------------------------------------- */

/* Read @c's stdout until it holds @needle; return what was read (malloc'd). */
static char *expect_output(child *c, const char *needle) {
        char *buf = NULL;
        size_t len = 0;

        append(&buf, &len, "", 0);
        while (!strstr(buf, needle)) {
                struct pollfd p = {c->out, POLLIN, 0};
                char chunk[4096];
                ssize_t n;

                cr_assert(eq(int, poll(&p, 1, 30000), 1), "no '%s' from memcap; got: %s", needle,
                          buf);
                n = read(c->out, chunk, sizeof(chunk));
                cr_assert(gt(sz, (size_t) n, 0), "memcap closed stdout; got: %s", buf);
                append(&buf, &len, chunk, (size_t) n);
        }
        return buf;
}

static void send_input(child *c, const char *s) {
        cr_assert(eq(sz, (size_t) write(c->in, s, strlen(s)), strlen(s)));
}

Test(cli_client, two_sessions_share_a_file) {
        run_result r, ra;
        char path[400], *out, *file;
        child a;

        /* A stays alive, with its shared mapping, while B maps the same file. */
        spawn_child(&a, (const char *const[]){"client", "--socket", sock_path, "session", NULL},
                    NULL, -1, 0);
        send_input(&a, "mmap /data/f --shared --prot rw\nwrite % --data HOWDY\n");
        out = expect_output(&a, "wrote 5 bytes to id 1 at offset 0\n");
        free(out);

        /* Another process lists only its own mappings, unless it asks for every client's. */
        RUN(&r, "list");
        EXPECT_RUN(&r, 0, "ID  PATH  OFFSET  LENGTH  PROT  FLAGS  OWNER PID\n0 mappings\n", NULL);
        RUN(&r, "list", "--all");
        ASSERT_EXIT(&r, 0);
        snprintf(path, sizeof(path), " 1  /data/f       0      13  rw-   Shared  %9d\n1 mapping\n",
                 (int) a.pid);
        ASSERT_HAS(r.out, path);
        run_result_done(&r);

        /* B sees A's write before any Msync, and writes back. */
        RUN_IN(&r, "mmap /data/f --shared --prot rw\nread % --length 5\nwrite % --data WORLD\n",
               "session");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(str, r.out,
                     "id 2, length 13 (13 B)\n"
                     "HOWDY\n"
                     "wrote 5 bytes to id 2 at offset 0\n"));
        run_result_done(&r);

        /* A sees B's write; a private mapping of a third process does not reach either. */
        RUN_IN(&r, "mmap /data/f --prot rw\nwrite % --data XXXXX\nread % --length 5\n", "session");
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, "XXXXX\n");
        run_result_done(&r);
        send_input(&a, "read % --length 5\n");
        out = expect_output(&a, "WORLD\n");
        free(out);

        /* B's mapping (id 2) belongs to B, which has exited: A gets NotFound for it. */
        send_input(&a, "stats 2\n");
        close(a.in);
        a.in = -1;
        finish_child(&a, NULL, 0, &ra);
        EXPECT_RUN(&ra, 16, NULL, "MmapStats failed: ");

        client_root_path(path, sizeof(path), "/data/f");
        file = read_file(path, NULL);
        cr_assert(eq(str, file, "WORLD, world\n"));
        free(file);
}

Test(cli_client, one_shot_mappings_die_with_the_process) {
        run_result r;

        RUN(&r, "mmap", "/data/f", "--prot", "rw", "--shared");
        EXPECT_RUN(&r, 0, "id 1, length 13 (13 B)\n", NULL);

        /* Another process sees only its own mappings... */
        RUN(&r, "list");
        EXPECT_RUN(&r, 0, "ID  PATH  OFFSET  LENGTH  PROT  FLAGS  OWNER PID\n0 mappings\n", NULL);

        /*
         * ...but with SystemInfo may list every client's, and so watch the daemon drop the
         * mapping when it sees its process exit (a pidfd).
         */
        for (int i = 0;; i++) {
                struct timespec ts = {0, 50 * 1000 * 1000};

                RUN(&r, "list", "--all");
                ASSERT_EXIT(&r, 0);
                if (streq(r.out, "ID  PATH  OFFSET  LENGTH  PROT  FLAGS  OWNER PID\n0 mappings\n"))
                        break;
                cr_assert(lt(int, i, 100), "the mapping outlived its process:\n%s", r.out);
                run_result_done(&r);
                nanosleep(&ts, NULL);
        }
        run_result_done(&r);

        /* The next process does not own id 1, and the mapping is gone anyway. */
        RUN(&r, "read", "1");
        EXPECT_RUN(&r, 16, "", "memcap: MmapStats failed: ");

        /* '%' needs a session. */
        RUN(&r, "read", "%");
        EXPECT_RUN(&r, 2, NULL, "only in 'memcap client session'");
}

Test(cli_client, truncated_file_is_io_and_missing_input_not_found) {
        char path[400], *out;
        static char page[8192];
        run_result r;
        child a;

        client_root_path(path, sizeof(path), "/data/big");
        memset(page, 'z', sizeof(page));
        write_file(path, page, sizeof(page));
        spawn_child(&a, (const char *const[]){"client", "--socket", sock_path, "session", NULL},
                    NULL, -1, 0);
        send_input(&a, "mmap /data/big --shared\nread % --offset 8190\n");
        out = expect_output(&a, "zz\n");
        free(out);

        /* Another process cuts the file under the mapping: the daemon survives, we get Io. */
        cr_assert(eq(int, truncate(path, 100), 0));
        send_input(&a, "read % --offset 5000 --length 10\n");
        close(a.in);
        a.in = -1;
        finish_child(&a, NULL, 0, &r);
        ASSERT_EXIT(&r, 21);
        ASSERT_HAS(r.err, "memcap: MmapRead failed: ");
        ASSERT_HAS(r.err, "session stopped at line 3");
        run_result_done(&r);

        RUN_IN(&r, "mmap --length 4KiB --prot rw\nwrite % --file /nonexistent/input\n", "session");
        EXPECT_RUN(&r, 16, NULL, "memcap: open '/nonexistent/input': No such file or directory\n");

        RUN(&r, "hello");
        EXPECT_RUN(&r, 0, NULL, NULL);
}

/* ---- fd -------------------------------------------------------------------------------------- */

Test(cli_client, fd_maps_the_descriptor_and_dumps_it) {
        run_result r;
        json_t *j;
        char *nl;

        RUN_IN(&r, "mmap /data/f --offset 7 --length 5\nfd %\n", "session");
        ASSERT_EXIT(&r, 0);
        cr_assert(eq(str, r.out,
                     "id 1, length 5 (5 B)\n"
                     "00000007  77 6f 72 6c 64                                    |world|\n"
                     "0000000c\n"));
        run_result_done(&r);

        RUN_IN(&r, "mmap /data/f --offset 7 --length 5\nfd % --raw\n", "session");
        EXPECT_RUN(&r, 0, "id 2, length 5 (5 B)\nworld", NULL);

        RUN_IN(&r, "mmap /data/f --shared --prot rw\nfd % --json\n", "session");
        ASSERT_EXIT(&r, 0);
        nl = strchr(r.out, '\n');
        cr_assert(not(eq(ptr, nl, NULL)));
        j = parse_json(nl + 1);
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "mmap_id")), 3));
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "offset")), 0));
        cr_assert(eq(i64, json_integer_value(json_object_get(j, "length")), 13));
        cr_assert(is_type(JSON_TRUE, json_object_get(j, "writable")));
        json_decref(j);
        run_result_done(&r);

        /* Without FdPass the daemon refuses: exit 11 with its reason. */
        run_full(&r, "mmap /data/f\nfd %\n", 17, NULL, SPAWN_NOBODY,
                 (const char *const[]){"client", "--socket", sock_path, "session", NULL});
        EXPECT_RUN(&r, 11, NULL, "memcap: MmapFd failed: ");
}

/* ---- raw ------------------------------------------------------------------------------------- */

Test(cli_client, raw_prints_each_reply_line) {
        static const char input[] = "{\"Hello\": {}}\n"
                                    "\n"
                                    "{\"Munmap\": {\"mmap_id\": 7}}\n"
                                    "not json\n"
                                    "{\"Mmap\": {\"path\": \"/data/f\", \"prot\": 1}}\n"
                                    "{\"MmapFd\": {\"mmap_id\": 1}}\n"
                                    "{\"MmapList\": {}}";
        /* The empty line is a malformed request too, with its own reply. */
        static const char *const statuses[] = {"success", "error",   "error",  "error",
                                               "success", "success", "success"};
        run_result r;
        char *line, *next;
        size_t n = 0;

        RUN_IN(&r, input, "raw");
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, "{\"status\":\"error\",\"kind\":\"NotFound\",\"code\":\"core.memory."
                          "NotFound\",\"message\":\"Munmap "
                          "failed: Mmap 7 not found\",\"errno\":2}\n");
        ASSERT_HAS(r.out, "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":13}"
                          "\n");
        ASSERT_HAS(r.err, "the reply to line 6 came with a file descriptor, closed");
        for (line = r.out; *line; line = next) {
                char *nl = strchr(line, '\n');
                json_t *j;

                cr_assert(not(eq(ptr, nl, NULL)), "reply without a newline: %s", line);
                *nl = 0;
                next = nl + 1;
                j = parse_json(line);

                cr_assert(lt(sz, n, ELEMENTSOF(statuses)));
                cr_assert(eq(str, (char *) json_string_value(json_object_get(j, "status")),
                             (char *) statuses[n]));
                json_decref(j);
                n++;
        }
        cr_assert(eq(sz, n, ELEMENTSOF(statuses)));
        run_result_done(&r);
}

/* ---- errors ---------------------------------------------------------------------------------- */

Test(cli_client, unknown_id_is_not_found) {
        static const char *const cmds[][4] = {
                {"unmap", "999", NULL}, {"sync", "999", NULL},
                {"stats", "999", NULL}, {"read", "999", "--length", "1"},
                {"fd", "999", NULL},    {"protect", "999", "--prot", "r"},
        };
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(cmds); i++) {
                run_full(&r, NULL, 0, NULL, 0,
                         (const char *const[]){"client", "--socket", sock_path, cmds[i][0],
                                               cmds[i][1], cmds[i][2], cmds[i][3], NULL});
                ASSERT_EXIT(&r, 16);
                cr_assert(eq(str, r.out, ""));
                ASSERT_HAS(r.err, " failed: Mmap 999 not found\n");
                cr_assert(eq(int, strncmp(r.err, "memcap: ", 8), 0), "%s", r.err);
                run_result_done(&r);
        }

        RUN(&r, "write", "999", "--data", "x");
        ASSERT_EXIT(&r, 16);
        cr_assert(eq(str, r.err, "memcap: MmapWrite failed: Mmap 999 not found\n"));
        run_result_done(&r);
}

Test(cli_client, usage_errors_exit_2) {
        static const char *const cases[][6] = {
                {"mmap", "/data/f", "--prot", "wx", NULL},
                {"mmap", "/data/f", "--prot", "8", NULL},
                {"mmap", "/data/f", "--prot", "", NULL},
                {"protect", "1", "--prot", "rwxx", NULL},
                {"protect", "1", NULL},
                {"mmap", NULL},
                {"mmap", "--length", "4x", NULL},
                {"mmap", "a", "b", NULL},
                {"write", "1", NULL},
                {"write", "1", "--data", "x", "--file", "/dev/null"},
                {"write", "1", "--data", "x", "-", NULL},
                {"read", NULL},
                {"read", "1", "--raw", "--hex", NULL},
                {"read", "1", "--json", "--raw", NULL},
                {"fd", "1", "--raw", "--json", NULL},
                {"read", "x1", NULL},
                {"read", "1", "2", NULL},
                {"hello", "extra", NULL},
                {"list", "--bogus", NULL},
                {"frobnicate", NULL},
                {"raw", "--json", NULL},
        };
        run_result r;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *args[10] = {"client", "--socket", sock_path};

                for (size_t k = 0; k < 6 && cases[i][k]; k++)
                        args[3 + k] = cases[i][k];
                run_full(&r, NULL, 0, NULL, 0, args);
                EXPECT_RUN(&r, 2, "", "Try 'memcap client");
        }

        RUN(&r, "mmap", "/data/f", "--prot", "wx");
        ASSERT_HAS(r.err, "invalid protection 'wx': expected r, rw, rx, rwx or a number from 0 "
                          "to 7");
        run_result_done(&r);
        RUN_ENV(&r, NULL, "client");
        EXPECT_RUN(&r, 2, NULL, "missing command");
}

Test(cli_client, daemon_errors_map_to_exit_codes) {
        run_result r;

        RUN(&r, "mmap", "/data/missing");
        EXPECT_RUN(&r, 16, NULL, "memcap: Mmap failed: ");

        RUN(&r, "mmap", "/data");
        EXPECT_RUN(&r, 12, NULL, NULL);

        /* Offsets past the end of the file are InvalidArgument; relative paths too. */
        RUN(&r, "mmap", "/data/f", "--offset", "1KiB");
        EXPECT_RUN(&r, 12, NULL, NULL);
        RUN(&r, "mmap", "data/f");
        EXPECT_RUN(&r, 12, NULL, NULL);

        /* An anonymous mapping needs a length, checked before connecting. */
        RUN_ENV(&r, NULL, "client", "--socket", "/nonexistent/sock", "mmap");
        EXPECT_RUN(&r, 2, NULL, "needs --length");
}

Test(cli_client, missing_capability_exits_11_with_the_reason) {
        run_result r;

        /* Nobody holds FileRead only: a writable mapping needs FileWrite. */
        run_full(&r, NULL, 0, NULL, SPAWN_NOBODY,
                 (const char *const[]){"client", "--socket", sock_path, "mmap", "/data/f", "--prot",
                                       "rw", NULL});
        ASSERT_EXIT(&r, 11);
        cr_assert(eq(str, r.out, ""));
        ASSERT_HAS(r.err, "memcap: Mmap failed: ");
        ASSERT_HAS(r.err, "FileWrite");
        run_result_done(&r);

        run_full(&r, NULL, 0, NULL, SPAWN_NOBODY,
                 (const char *const[]){"client", "--socket", sock_path, "mmap", "/data/f", NULL});
        EXPECT_RUN(&r, 0, NULL, NULL);
}

/* ---- socket selection
 * ---------------------------------------------------------------------------- */

Test(cli_client, missing_daemon_is_not_found) {
        char path[400], want[600];
        run_result r;
        int fd;

        snprintf(path, sizeof(path), "%s/nothing-here.sock", tmpdir);
        RUN_ENV(&r, NULL, "client", "--socket", path, "hello");
        ASSERT_EXIT(&r, 16);
        snprintf(want, sizeof(want),
                 "memcap: connect to memcapd at '%s': No such file or directory (is memcapd "
                 "running? choose it with --socket or $MEMCAPD_SOCKET)\n",
                 path);
        cr_assert(eq(str, r.err, want));
        cr_assert(eq(str, r.out, ""));
        run_result_done(&r);

        /* A socket file nobody listens on (a daemon that died): also NotFound. */
        snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
        {
                struct sockaddr_un sa = {.sun_family = AF_UNIX};

                fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                set_sun_path(&sa, path);
                cr_assert(eq(int, bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0));
                close(fd);
        }
        RUN_ENV(&r, NULL, "client", "--socket", path, "hello");
        EXPECT_RUN(&r, 16, NULL, "Connection refused (is memcapd running?");

        /* A path too long for a socket address. */
        memset(path, 'a', 200);
        path[0] = '/';
        path[200] = 0;
        RUN_ENV(&r, NULL, "client", "--socket", path, "hello");
        EXPECT_RUN(&r, 12, NULL, "is too long (at most 107 bytes)");
}

Test(cli_client, socket_the_user_may_not_open_is_permission_denied) {
        char dir[400], path[450];
        run_result r;

        /* The daemon's socket behind a directory only root may enter. */
        snprintf(dir, sizeof(dir), "%s/private", tmpdir);
        cr_assert(eq(int, mkdir(dir, 0700), 0));
        snprintf(path, sizeof(path), "%s/sock", dir);
        cr_assert(eq(int, link(sock_path, path), 0), "link: %s", strerror(errno));
        RUN_ENV(&r, NULL, "client", "--socket", path, "hello");
        EXPECT_RUN(&r, 0, NULL, NULL);
        run_full(&r, NULL, 0, NULL, SPAWN_NOBODY,
                 (const char *const[]){"client", "--socket", path, "hello", NULL});
        EXPECT_RUN(&r, 11, NULL, "Permission denied");
}

Test(cli_client, memcapd_socket_environment_and_socket_option) {
        char env_set[400];
        run_result r;

        snprintf(env_set, sizeof(env_set), "MEMCAPD_SOCKET=%s", sock_path);
        RUN_ENV(&r, ((const char *const[]){env_set, NULL}), "client", "hello");
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, sock_path);
        run_result_done(&r);

        /* --socket wins over the environment, before or after the command. */
        RUN_ENV(&r, ((const char *const[]){"MEMCAPD_SOCKET=/nonexistent/sock", NULL}), "client",
                "--socket", sock_path, "hello");
        EXPECT_RUN(&r, 0, NULL, NULL);
        RUN_ENV(&r, ((const char *const[]){"MEMCAPD_SOCKET=/nonexistent/sock", NULL}), "client",
                "hello", "-s", sock_path);
        EXPECT_RUN(&r, 0, NULL, NULL);
        RUN_ENV(&r, ((const char *const[]){env_set, NULL}), "client", "hello", "--socket",
                "/nonexistent/sock");
        EXPECT_RUN(&r, 16, NULL, "'/nonexistent/sock'");

        /* An empty MEMCAPD_SOCKET is as if unset. */
        if (access("/run/memcap/memcapd.sock", F_OK) == 0)
                return; /* a memcapd runs on this machine's default socket */
        RUN_ENV(&r, ((const char *const[]){"MEMCAPD_SOCKET=", "XDG_RUNTIME_DIR", NULL}), "client",
                "hello");
        ASSERT_HAS(r.err, "/run/memcap/memcapd.sock");
        run_result_done(&r);
}

Test(cli_client, default_socket_follows_memcapd) {
        run_result r;

        if (geteuid() != 0)
                cr_skip_test("needs root to compare the root and the user defaults");
        if (access("/run/memcap/memcapd.sock", F_OK) == 0)
                cr_skip_test("a memcapd runs on this machine's default socket");

        /* root: /run/memcap, whatever XDG_RUNTIME_DIR says. */
        RUN_ENV(&r, ((const char *const[]){"XDG_RUNTIME_DIR=/tmp/xdg-memcap-test", NULL}), "client",
                "hello");
        EXPECT_RUN(&r, 16, NULL, "'/run/memcap/memcapd.sock'");

        /* Other users: under XDG_RUNTIME_DIR when it is absolute, else /run/memcap. */
        run_full(&r, NULL, 0, (const char *const[]){"XDG_RUNTIME_DIR=/tmp/xdg-memcap-test", NULL},
                 SPAWN_NOBODY, (const char *const[]){"client", "hello", NULL});
        EXPECT_RUN(&r, 16, NULL, "'/tmp/xdg-memcap-test/memcap/memcapd.sock'");
        run_full(&r, NULL, 0, (const char *const[]){"XDG_RUNTIME_DIR=relative", NULL}, SPAWN_NOBODY,
                 (const char *const[]){"client", "hello", NULL});
        EXPECT_RUN(&r, 16, NULL, "'/run/memcap/memcapd.sock'");
}

Test(cli_client, help_says_mappings_die_with_the_process) {
        static const char *const subs[] = {"hello",   "mmap",  "read", "write", "sync",    "unmap",
                                           "protect", "stats", "list", "fd",    "session", "raw"};
        run_result r;

        RUN_ENV(&r, NULL, "client", "--help");
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, "Usage: memcap client");
        ASSERT_HAS(r.out, "Mappings belong to the client PROCESS");
        run_result_done(&r);

        RUN_ENV(&r, NULL, "help", "client");
        ASSERT_EXIT(&r, 0);
        ASSERT_HAS(r.out, "Usage: memcap client");
        run_result_done(&r);

        RUN_ENV(&r, NULL, "--help");
        ASSERT_HAS(r.out, "\n  client ");
        run_result_done(&r);

        for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                char want[64];

                snprintf(want, sizeof(want), "Usage: memcap client %s", subs[i]);
                RUN_ENV(&r, NULL, "client", subs[i], "--help");
                ASSERT_EXIT(&r, 0);
                cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s", r.out);
                run_result_done(&r);
                RUN_ENV(&r, NULL, "client", "help", subs[i]);
                ASSERT_EXIT(&r, 0);
                cr_assert(eq(int, strncmp(r.out, want, strlen(want)), 0), "%s", r.out);
                run_result_done(&r);
        }
        RUN_ENV(&r, NULL, "client", "mmap", "--help");
        ASSERT_HAS(r.out, "releases it when the\nprocess exits");
        run_result_done(&r);
}

/* ---- fake daemon ----------------------------------------------------------------------------- */

static void fake_run_flags(run_result *r, const char *const *replies, bool pass_fd,
                           const char *input, spawn_flags flags, const char *const *args) {
        char path[400];
        const char *argv[16] = {"client", "--socket", path};
        /* With @pass_fd, two descriptors with the first reply, where one is the most expected. */
        static const unsigned fds[8] = {2};
        size_t n = 0;
        pid_t pid;
        int status;

        while (replies[n])
                n++;
        cr_assert(le(sz, n, ELEMENTSOF(fds)));
        snprintf(path, sizeof(path), "%s/fake.sock", tmpdir);
        pid = fake_daemon_start(path, replies, pass_fd ? fds : NULL);
        for (size_t i = 0; args[i]; i++) {
                cr_assert(lt(sz, i + 3, ELEMENTSOF(argv) - 1));
                argv[3 + i] = args[i];
        }
        run_full(r, input, input ? strlen(input) : 0, NULL, flags, argv);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
}

static void fake_run(run_result *r, const char *const *replies, bool pass_fd, const char *input,
                     const char *const *args) {
        fake_run_flags(r, replies, pass_fd, input, /* flags= */ 0, args);
}

/* One command against a fake daemon that sends @reply, and what memcap must do with it. */
typedef struct fake_case {
        const char *reply;
        bool pass_fd;        /* the reply carries two descriptors */
        const char *args[3]; /* the command, NULL-terminated */
        int exit;            /* memcap's exit status */
        const char *out;     /* all of stdout, or NULL */
        const char *err;     /* all of stderr, or NULL */
        const char *err_has; /* a part of stderr, or NULL */
} fake_case;

static void fake_expect(const fake_case *c) {
        run_result r;

        fake_run(&r, (const char *const[]){c->reply, NULL}, c->pass_fd, NULL, c->args);
        ASSERT_EXIT(&r, c->exit);
        if (c->out)
                cr_assert(eq(str, r.out, (char *) c->out), "reply %s", c->reply);
        if (c->err)
                cr_assert(eq(str, r.err, (char *) c->err), "reply %s", c->reply);
        if (c->err_has)
                ASSERT_HAS(r.err, c->err_has);
        run_result_done(&r);
}

Test(cli_client, malformed_replies_are_io_errors) {
        static const struct {
                const char *reply;
                const char *message;
        } cases[] = {
                {"garbage\n", "Hello failed: malformed reply from memcapd: "},
                {"[1,2]\n", "Hello failed: malformed reply from memcapd: not a JSON object"},
                {"{}\n", "Hello failed: malformed reply from memcapd: no \"status\""},
                {"{\"status\":\"maybe\"}\n", "malformed reply from memcapd: unknown \"status\""},
                {"{\"status\":\"error\",\"kind\":\"Bogus\",\"message\":\"m\"}\n",
                 "Hello failed (unknown error kind 'Bogus'): m"},
                {"{\"status\":\"success\"}\n", "no \"data\" object"},
                {"{\"status\":\"success\",\"data\":{\"daemon\":\"memcapd\"}}\n",
                 "\"protocol\" is not a non-negative integer"},
                {"", "memcapd closed the connection\n"},
                {"{\"status\":\"succ", "memcapd closed the connection in the middle of a reply"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                fake_expect(&(const fake_case){.reply = cases[i].reply,
                                               .args = {"hello"},
                                               .exit = 21,
                                               .out = "",
                                               .err_has = cases[i].message});
}

Test(cli_client, daemon_messages_are_escaped_and_kinds_kept) {
        static const fake_case cases[] = {
                /* An escape sequence in the daemon's message must not reach the terminal. */
                {.reply = "{\"status\":\"error\",\"kind\":\"PolicyViolation\","
                          "\"message\":\"Munmap failed: \\u001b[2Jno\\nway\"}\n",
                 .args = {"unmap", "3"},
                 .exit = 18,
                 .err = "memcap: Munmap failed: \\x1b[2Jno\\x0away\n"},
                /* A message that does not name the call gets it. */
                {.reply = "{\"status\":\"error\",\"kind\":\"InvalidArgument\","
                          "\"message\":\"Msync: unknown field 'x'\",\"errno\":22}\n",
                 .args = {"sync", "3"},
                 .exit = 12,
                 .err = "memcap: Msync failed: Msync: unknown field 'x'\n"},
                /* permission_denied prints the reason. */
                {.reply = "{\"status\":\"permission_denied\",\"kind\":"
                          "\"PermissionDenied\",\"reason\":\"uid 7 lacks FdPass\"}\n",
                 .args = {"fd", "3"},
                 .exit = 11,
                 .err = "memcap: MmapFd failed: uid 7 lacks FdPass\n"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                fake_expect(&cases[i]);
}

Test(cli_client, descriptors_are_checked) {
        static const fake_case cases[] = {
                /* MmapFd's success without a descriptor is a broken daemon, not a crash. */
                {.reply = "{\"status\":\"success\",\"mmap_id\":3,\"offset\":0,"
                          "\"length\":5,\"writable\":false}\n",
                 .args = {"fd", "3"},
                 .exit = 21,
                 .err_has = "no file descriptor came with it"},
                /* Two descriptors where one is expected: the extra one is closed, /dev/null is
                 * empty. */
                {.reply = "{\"status\":\"success\",\"mmap_id\":3,\"offset\":0,"
                          "\"length\":0,\"writable\":false}\n",
                 .pass_fd = true,
                 .args = {"fd", "3"},
                 .exit = 0,
                 .out = ""},
                /* A descriptor with a reply that expects none is closed, and the reply still
                 * counts. */
                {.reply = "{\"status\":\"success\"}\n",
                 .pass_fd = true,
                 .args = {"unmap", "3"},
                 .exit = 0,
                 .out = "unmapped id 3\n"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                fake_expect(&cases[i]);
}

/*
 * Bytes that cannot be written to standard output fail with the write's own errno, as `memcap
 * map` reports it: a full disk is "No space left on device" (ENOSPC, OutOfMemory, exit 13) in
 * raw, hexdump and text output alike. 8 KiB of zeros, more than stdio buffers, so the dump's
 * own write fails, not the flush at exit.
 */
Test(cli_client, failed_output_names_the_write_error) {
        static const char *const modes[][2] = {{"--raw", NULL}, {"--hex", "-v"}, {"-v", NULL}};
        char reply[16384];
        size_t n;
        run_result r;

        /* Base64 of 8192 zero bytes: 2730 groups of three, then two bytes. */
        n = (size_t) snprintf(reply, sizeof(reply), "{\"status\":\"success\",\"data\":\"");
        memset(reply + n, 'A', 4 * 2730);
        n += 4 * 2730;
        snprintf(reply + n, sizeof(reply) - n, "AAA=\"}\n");
        for (size_t i = 0; i < ELEMENTSOF(modes); i++) {
                const char *args[] = {"read",      "3",         "--length", "8KiB",
                                      modes[i][0], modes[i][1], NULL};

                /* Text mode has no flag of its own; -v only matters to a hexdump. */
                if (i == 2)
                        args[4] = NULL;
                fake_run_flags(&r, (const char *const[]){reply, NULL}, false, NULL,
                               SPAWN_STDOUT_FULL, args);
                EXPECT_RUN(&r, 13, NULL,
                           "memcap: write to standard output: No space left on device\n");
        }
}

Test(cli_client, raw_reports_a_closed_connection) {
        run_result r;

        fake_run(&r, (const char *const[]){"{\"status\":\"success\"}\n", NULL}, false,
                 "{\"Msync\": {\"mmap_id\": 1}}\n{\"Msync\": {\"mmap_id\": 1}}\n",
                 (const char *const[]){"raw", NULL});
        ASSERT_EXIT(&r, 21);
        cr_assert(eq(str, r.out, "{\"status\":\"success\"}\n"));
        /* Closed before or after the second request went out: EPIPE or end of stream. */
        ASSERT_HAS(r.err, "line 2:");
        run_result_done(&r);
}
