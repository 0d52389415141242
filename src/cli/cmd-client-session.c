/* SPDX-License-Identifier: MIT */
/*
 * memcap client session and raw: several calls in one process over one connection. The daemon
 * releases a process's mappings when it exits, so a session is how a shell script maps something
 * and then uses it; `%` and `%N` name the mappings the session made, because ids are global to
 * the daemon and a script cannot know them in advance. raw passes JSON lines through, for
 * debugging.
 *
 * Sections: session, raw.
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd-client.h"

/* ---- session --------------------------------------------------------------------------------- */

static const char help_session[] =
        "Usage: memcap client session [--json] [--echo] [--keep-going] [--socket PATH]\n"
        "\n"
        "Run client commands read from standard input, one a line, in this one process over\n"
        "one connection, and print the result of each. The daemon releases a process's\n"
        "mappings when the process exits, so this is how a shell script maps something and\n"
        "then uses it:\n"
        "\n"
        "  memcap client session <<'EOF'\n"
        "  mmap /data/f --shared --prot rw\n"
        "  write % --data 'hello world'\n"
        "  read % --length 5\n"
        "  stats %\n"
        "  unmap %\n"
        "  EOF\n"
        "\n"
        "A line is a command with its options as on the command line, without 'memcap\n"
        "client'. Words are separated by blanks; '...' quotes literally, \"...\" quotes with\n"
        "\\\" and \\\\ as escapes, and outside quotes \\ escapes the next character. Empty lines\n"
        "and lines starting with # are skipped. As an ID, % names the last mapping this\n"
        "session made and %N the Nth (ids are the daemon's, so a script cannot know them in\n"
        "advance). 'write -', 'session' and 'raw' are not available inside a session.\n"
        "\n"
        "The session stops at the first command that fails, with that command's exit status\n"
        "and its line number on standard error; standard output is flushed after every\n"
        "command, so a program driving the session through pipes sees each result at once.\n"
        "\n"
        "When standard input is a terminal the session is interactive instead ('memcap\n"
        "client' without a command is the same): a \"memcap> \" prompt, line editing and a\n"
        "history kept in $MEMCAP_HISTORY (default ~/.memcap_history); a command that fails\n"
        "prints its error and the session goes on. 'quit', 'exit' or Ctrl-D end it.\n"
        "\n"
        "Options:\n"
        "  -x, --echo        print each command, after \"> \", before its output\n"
        "  -k, --keep-going  go on after a failure; exit with the status of the last one\n"
        "      --json        make --json the default of every command\n";

static void strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static void strv_freep(char ***v) {
        strv_free(*v);
}

/* Append a copy of @word (@n bytes) to the NULL-terminated vector *@v of *@n_v words. */
static int strv_push(char ***v, size_t *n_v, const char *word, size_t n) {
        char **nv = reallocarray(*v, *n_v + 2, sizeof(char *));
        char *w;

        if (!nv)
                return -ENOMEM;
        *v = nv;
        w = strndup(word, n);
        if (!w)
                return -ENOMEM;
        nv[(*n_v)++] = w;
        nv[*n_v] = NULL;
        return 0;
}

/*
 * Split @line into words, with quotes as the shell has them (but no expansion of any kind).
 * Returns 0 with a NULL-terminated vector in *@ret (NULL for a blank line or a comment) and the
 * count in *@ret_n, -EINVAL with *@ret_why saying what is wrong, or -ENOMEM.
 */
static int split_words(const char *line, char ***ret, size_t *ret_n, const char **ret_why) {
        _cleanup_(strv_freep) char **v = NULL;
        _cleanup_free_ char *cur = malloc(strlen(line) + 1);
        bool in_word = false;
        size_t n_v = 0, len = 0;

        if (!cur)
                return -ENOMEM;
        for (const char *p = line;; p++) {
                char ch = *p;

                if (ch == 0 || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
                        if (in_word && strv_push(&v, &n_v, cur, len) < 0)
                                return -ENOMEM;
                        in_word = false;
                        len = 0;
                        if (ch == 0)
                                break;
                        continue;
                }
                if (!in_word && ch == '#')
                        break;
                in_word = true;
                if (ch == '\'') {
                        for (p++; *p && *p != '\''; p++)
                                cur[len++] = *p;
                        if (!*p) {
                                *ret_why = "unterminated ' quote";
                                return -EINVAL;
                        }
                } else if (ch == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                                        p++;
                                cur[len++] = *p;
                        }
                        if (!*p) {
                                *ret_why = "unterminated \" quote";
                                return -EINVAL;
                        }
                } else if (ch == '\\') {
                        if (!p[1]) {
                                *ret_why = "a backslash at the end of the line";
                                return -EINVAL;
                        }
                        cur[len++] = *++p;
                } else
                        cur[len++] = ch;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n_v;
        return 0;
}

int client_session_line(client_state *st, char *line, size_t len, unsigned lineno, bool echo) {
        _cleanup_(strv_freep) char **words = NULL;
        const subcommand *sc;
        const char *why = NULL;
        size_t n = 0;
        int r;

        if (len > 0 && line[len - 1] == '\n')
                line[--len] = 0;
        if (strlen(line) != len)
                return cli_usage_error("client session", "line %u holds a NUL byte", lineno);
        r = split_words(line, &words, &n, &why);
        if (r == -ENOMEM) {
                log_error("out of memory");
                return exit_code_from_kind(MC_ERR_OUT_OF_MEMORY);
        }
        if (r < 0)
                return cli_usage_error("client session", "line %u: %s", lineno, why);
        if (n == 0)
                return 0;
        if (echo) {
                _cleanup_free_ char *safe = str_escape_cstr(line);

                printf("> %s\n", safe ? safe : "?");
        }
        if (n > INT_MAX)
                return cli_usage_error("client session", "line %u has too many words", lineno);
        sc = client_subcommand_find(words[0]);
        if (!sc) {
                _cleanup_free_ char *safe = str_escape_cstr(words[0]);
                return cli_usage_error("client session", "line %u: unknown command '%s'", lineno,
                                       safe ? safe : "?");
        }
        if (streq(sc->name, "session") || streq(sc->name, "raw"))
                return cli_usage_error("client session",
                                       "line %u: '%s' cannot be used inside a "
                                       "session",
                                       lineno, sc->name);
        return sc->run(st, (int) n, words);
}

int run_session(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS,
                                                {"echo", no_argument, NULL, 'x'},
                                                {"keep-going", no_argument, NULL, 'k'},
                                                {}};
        static const char cmd[] = "client session";
        _cleanup_free_ char *line = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json, echo = false, keep_going = false;
        unsigned lineno = 0;
        size_t cap = 0;
        ssize_t len;
        int c, r, status = 0;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:xk", options, NULL)) >= 0) {
                switch (c) {
                case 'x':
                        echo = true;
                        break;
                case 'k':
                        keep_going = true;
                        break;
                default:
                        r = client_common_option(st, help_session, cmd, c, argv, &json,
                                                 /* range= */ NULL);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (optind < argc)
                return cli_usage_error(cmd, "too many arguments (the commands come on standard "
                                            "input)");
        st->json = json;
        st->in_session = true;
        /* A person at a terminal gets the interactive session; pipes and files keep the
         * script behaviour below. */
        if (isatty(STDIN_FILENO))
                return client_repl(st);

        while ((len = getline(&line, &cap, stdin)) >= 0) {
                lineno++;
                r = client_session_line(st, line, (size_t) len, lineno, echo);
                /* Results must reach a program reading them through a pipe one by one. */
                if (cli_finish_output() != 0)
                        return exit_code_from_kind(MC_ERR_IO);
                if (r != 0) {
                        status = r;
                        if (!keep_going) {
                                log_error("session stopped at line %u", lineno);
                                return status;
                        }
                }
        }
        if (ferror(stdin)) {
                mc_error_errno(&err, errno, "read standard input");
                return error_report(&err);
        }
        return status;
}

/* ---- raw ------------------------------------------------------------------------------------- */

static const char help_raw[] =
        "Usage: memcap client raw [--socket PATH]\n"
        "\n"
        "Send each line of standard input to memcapd as it is (a JSON request, see\n"
        "docs/protocol.md), wait for its reply and print the reply line as it came. A file\n"
        "descriptor that comes with a reply (MmapFd) is closed and noted on standard error.\n"
        "Every line gets exactly one reply, also an empty or malformed one. For debugging; the\n"
        "exit status is 0 once every line got its reply, whatever the replies say.\n";

int run_raw(client_state *st, int argc, char **argv) {
        static const char cmd[] = "client raw";
        _cleanup_free_ char *line = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = false;
        unsigned lineno = 0;
        size_t cap = 0;
        ssize_t len;
        mc_daemon *conn = NULL;
        int r;

        r = client_common_options(st, argc, argv, help_raw, cmd, &json);
        if (r != OPT_HANDLED)
                return r;
        if (json)
                return cli_usage_error(cmd, "--json does not apply: the replies are JSON already");
        if (optind < argc)
                return cli_usage_error(cmd, "too many arguments (the requests come on standard "
                                            "input)");
        r = client_conn(st, &conn, &err);
        if (r < 0)
                return error_report(&err);

        while ((len = getline(&line, &cap, stdin)) >= 0) {
                _cleanup_close_ int fd = -EBADF;
                const char *reply;
                size_t n;

                lineno++;
                if (len > 0 && line[len - 1] == '\n')
                        len--;
                r = mc_daemon_send_line(conn, line, (size_t) len, &err);
                if (r == 0)
                        r = mc_daemon_recv_line(conn, &reply, &n, &fd, &err);
                if (r < 0) {
                        fflush(stdout);
                        log_error("line %u:", lineno);
                        return error_report(&err);
                }
                fwrite(reply, 1, n, stdout);
                putchar('\n');
                if (fd >= 0)
                        log_error("note: the reply to line %u came with a file descriptor, "
                                  "closed",
                                  lineno);
                if (cli_finish_output() != 0)
                        return exit_code_from_kind(MC_ERR_IO);
        }
        if (ferror(stdin)) {
                mc_error_errno(&err, errno, "read standard input");
                return error_report(&err);
        }
        return 0;
}
