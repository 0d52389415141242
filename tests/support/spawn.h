/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Running the built memcap binary as users run it, for the suites that test the command-line
 * tool (test-cli.c, test-cli-signal.c, test-cli-client.c): spawn it with pipes on its stdout and
 * stderr (and stdin, unless told otherwise), feed it input, collect what it printed and its exit
 * status (every wait bounded: a silent child fails the test after 60 s); plus the scratch
 * directory, files and JSON those tests need. Include it after "common.h" (or "mctest.h").
 */

/* What the suites that include this header have always had with it. */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NOBODY
#define NOBODY ((uid_t) 65534)
#endif

/* The suite's scratch directory: its .init makes it, its .fini removes it with remove_tree(). */
extern char tmpdir[256];

/* Remove @dir and everything under it, best effort. */
void remove_tree(const char *dir);
/* tmpdir/@name into @buf (asserting it fits). */
void tmp_path(char *buf, size_t size, const char *name);
/* Create or truncate @path (0644) with @len bytes of @data. */
void write_file(const char *path, const void *data, size_t len);
/* @text parsed (asserting it is JSON); the caller json_decref()s it. */
json_t *parse_json(const char *text);
/* json_is_*() are macros, which Criterion's cr_assert() cannot take as its first token. */
bool is_type(json_type type, const json_t *v);
/* Append @n bytes to a malloc'd buffer, which stays NUL-terminated. */
void append(char **buf, size_t *len, const char *data, size_t n);
/* A built binary, @rel to the build root; the result stays valid for one more call. */
const char *build_path(const char *rel);
const char *memcap_path(void);

typedef struct run_result {
        int status; /* exit status, or 128 + signal */
        pid_t pid;
        char *out;
        size_t out_len;
        char *err;
        size_t err_len;
} run_result;

void run_result_done(run_result *r);

/* Assert the exit status, showing what memcap said when it is wrong. */
#define ASSERT_EXIT(res, code)                                                                     \
        cr_assert(eq(int, (res)->status, (code)), "exit %d, expected %d\nstdout: %s\nstderr: %s",  \
                  (res)->status, (code), (res)->out, (res)->err)

typedef struct child {
        pid_t pid;
        int in, out, err; /* our ends; -1 when closed */
} child;

typedef enum spawn_flags {
        SPAWN_NO_STDIN = 1 << 0,        /* stdin is /dev/null, not a pipe (child.in is -1) */
        SPAWN_DEFAULT_SIGNALS = 1 << 1, /* no signal blocked, every disposition the default */
        SPAWN_NOBODY = 1 << 2,          /* as uid and gid NOBODY, with no supplementary groups */
        SPAWN_STDOUT_FULL = 1 << 3,     /* stdout is /dev/full, every write ENOSPC (child.out -1) */
} spawn_flags;

/*
 * The environment for a child: ours, with each "NAME=value" of @set replacing NAME and each
 * bare "NAME" removing it. MEMCAPD_SOCKET is always removed unless @set has it, so a value in
 * the test's own environment cannot change what is tested. The caller free()s the array only.
 */
char **make_env(const char *const *set);
/* What posix_spawn() does with POSIX_SPAWN_SETSIGMASK and SETSIGDEF; async-signal-safe. */
void reset_signals(void);
/*
 * The memcap that uid nobody runs: the built one, or a copy under /tmp when the build tree is
 * out of nobody's reach; NULL when not even the copy runs.
 */
const char *nobody_memcap(void);
/*
 * Start memcap with @args (NULL-terminated, without argv[0]), its stdout and stderr on pipes;
 * @env as make_env() takes it; when @fd3 >= 0, @fd3 as its descriptor 3; @flags for the rest.
 * The child is collected with finish_child().
 */
void spawn_child(child *c, const char *const *args, const char *const *env, int fd3,
                 spawn_flags flags);
/*
 * Feed @input (may be NULL) to the child's stdin, collect its stdout and stderr into @res until
 * both close, reap the child.
 */
void finish_child(child *c, const char *input, size_t input_len, run_result *res);
/* spawn_child() and finish_child() in one. */
void run_full(run_result *res, const char *input, size_t input_len, const char *const *env,
              spawn_flags flags, const char *const *args);

/*
 * What most runs are checked for, then @res freed: the exit status @code, all of stdout when
 * @all_out is not NULL, and a part of stderr when @err_has is not NULL. A macro, so that a failure
 * names the test's own line.
 */
#define EXPECT_RUN(res, code, all_out, err_has)                                                    \
        do {                                                                                       \
                const char *out_ = (all_out), *err_has_ = (err_has);                               \
                ASSERT_EXIT(res, code);                                                            \
                if (out_)                                                                          \
                        cr_assert(eq(str, (res)->out, (char *) out_));                             \
                if (err_has_)                                                                      \
                        cr_assert(not(eq(ptr, strstr((res)->err, err_has_), NULL)),                \
                                  "no '%s' in:\n%s", err_has_, (res)->err);                        \
                run_result_done(res);                                                              \
        } while (0)
