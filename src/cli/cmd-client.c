/* SPDX-License-Identifier: MIT */
/*
 * memcap client COMMAND: talk to memcapd, the mapping broker (docs/protocol.md), through the
 * synchronous client of src/shared/client.c.
 *
 * The daemon gives each mapping to the client *process* that made it and releases it when that
 * process exits. A one-shot `memcap client mmap` therefore maps and, by exiting, unmaps; the
 * commands that name an id (read, write, sync, ...) are only useful inside one process. That
 * process is `memcap client session`, which reads commands from standard input and runs them
 * over one connection, so the shell can drive the daemon; `%` and `%N` name the mappings the
 * session made, because ids are global to the daemon and a script cannot know them in advance.
 * `memcap client raw` passes JSON lines through for debugging.
 *
 * This file is the dispatcher: the table of verbs, `memcap client --help` and the options
 * before the verb. The verbs live one group a file, listed in cmd-client.h.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd-client.h"

/* ---- dispatch -------------------------------------------------------------------------------- */

static int run_help(client_state *st, int argc, char **argv);

static const subcommand subcommands[] = {
        {"hello", run_hello},     {"mmap", run_mmap},       {"read", run_read},
        {"write", run_write},     {"sync", run_sync},       {"unmap", run_unmap},
        {"protect", run_protect}, {"advise", run_advise},   {"lock", run_lock},
        {"unlock", run_unlock},   {"stats", run_stats},     {"list", run_list},
        {"fd", run_fd},           {"session", run_session}, {"raw", run_raw},
        {"help", run_help},
};

const subcommand *client_subcommand_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(subcommands); i++)
                if (streq(subcommands[i].name, name))
                        return &subcommands[i];
        return NULL;
}

static void help(void) {
        fputs("Usage: memcap client [--socket PATH] [--json] COMMAND [ARGS]\n"
              "\n"
              "Talk to memcapd, the mapping broker, over its Unix socket.\n"
              "\n"
              "Mappings belong to the client PROCESS and the daemon releases them when it exits.\n"
              "Each 'memcap client ...' is a process of its own, so a mapping made by one is gone\n"
              "before the next one starts: run the commands that use a mapping in\n"
              "'memcap client session', which reads them from standard input.\n"
              "\n"
              "Commands:\n"
              "  hello                  the daemon, its protocol, this client and its "
              "capabilities\n"
              "  mmap [PATH] [--offset N] [--length N] [--prot P] [--shared]\n"
              "                         map a file beneath the daemon's root, or anonymous memory\n"
              "  read ID [--offset N] [--length N] [--raw | --hex | --json]\n"
              "                         copy bytes out of a mapping\n"
              "  write ID [--offset N] (--data STRING | --file FILE | -)\n"
              "                         copy bytes into a mapping\n"
              "  sync ID [RANGE]        write a shared mapping back to its file\n"
              "  unmap ID               unmap a mapping\n"
              "  protect ID --prot P [RANGE]\n"
              "                         change the protection of a mapping or of part of it\n"
              "  advise ID ADVICE [RANGE]\n"
              "                         advise the kernel (willneed, dontneed, sequential, ...)\n"
              "  lock ID [RANGE]        lock a mapping into RAM (MemLock capability)\n"
              "  unlock ID [RANGE]      unlock it\n"
              "  stats ID               describe a mapping\n"
              "  list                   list this client's mappings (--all: every client's)\n"
              "  fd ID [--raw | --json] receive the mapping's file descriptor and dump it\n"
              "  session [--echo] [--keep-going]\n"
              "                         run commands from standard input in one process; at a\n"
              "                         terminal, an interactive session with a prompt and\n"
              "                         history (also 'memcap client' without a command)\n"
              "  raw                    send JSON request lines, print the replies (debugging)\n"
              "  help [COMMAND]         show this help or a command's\n"
              "\n"
              "Options (before or after COMMAND):\n"
              "  -s, --socket PATH  the daemon's socket; default $" MC_DAEMON_SOCKET_ENV ", else\n"
              "                     $XDG_RUNTIME_DIR/memcap/memcapd.sock for users other than\n"
              "                     root, else /run/memcap/memcapd.sock\n"
              "      --json         print the reply's data as JSON\n"
              "  -h, --help         show this help\n"
              "\n"
              "P is r, rw, rx, rwx or a number 0-7 (1 read, 2 write, 4 exec). Sizes and offsets\n"
              "take a unit: 4096, 4KiB, 2MiB. RANGE is [--offset N] [--length N]: page-aligned,\n"
              "the whole mapping by default. In a session, % is the id of the last mapping the\n"
              "session made and %N that of its Nth.\n"
              "\n"
              "Errors print \"memcap: <Call> failed: <message>\" and exit with 10 + the error\n"
              "kind the daemon reports (16 NotFound for an unknown id). A capability the daemon\n"
              "refuses, or a socket this user may not open, is 11 (PermissionDenied); no daemon\n"
              "at the socket is 16 (NotFound).\n",
              stdout);
}

static int run_help(client_state *st, int argc, char **argv) {
        const subcommand *sc;

        (void) st;
        if (argc > 2)
                return cli_usage_error("client help", "too many arguments");
        if (argc < 2 || streq(argv[1], "help")) {
                help();
                return 0;
        }
        sc = client_subcommand_find(argv[1]);
        if (!sc) {
                _cleanup_free_ char *safe = str_escape_cstr(argv[1]);
                return cli_usage_error("client", "unknown command '%s'", safe ? safe : "?");
        }
        /* Run it with --help in a state of its own, so that nothing connects. */
        client_state tmp = {.in_session = st->in_session};
        char *sub[] = {(char *) sc->name, (char *) "--help", NULL};
        int r = sc->run(&tmp, 2, sub);
        client_state_done(&tmp);
        return r;
}

int cmd_client(int argc, char **argv) {
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"socket", required_argument, NULL, 's'},
                                                {"json", no_argument, NULL, ARG_JSON},
                                                {}};
        client_state st = {};
        const subcommand *sc;
        int c, r;

        cli_getopt_reset();
        /* '+': stop at the command, whose options are its own. */
        while ((c = getopt_long(argc, argv, "+:hs:", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        st.socket = optarg;
                        break;
                case ARG_JSON:
                        st.json = true;
                        break;
                default:
                        return cli_other_option("client", c, argv, help);
                }
        }
        if (optind >= argc) {
                /* At a terminal, no command means the interactive session. */
                if (isatty(STDIN_FILENO)) {
                        char *sub[] = {(char *) "session", NULL};

                        r = run_session(&st, 1, sub);
                        client_state_done(&st);
                        return r;
                }
                return cli_usage_error("client", "missing command");
        }
        sc = client_subcommand_find(argv[optind]);
        if (!sc) {
                _cleanup_free_ char *safe = str_escape_cstr(argv[optind]);
                return cli_usage_error("client", "unknown command '%s'", safe ? safe : "?");
        }
        r = sc->run(&st, argc - optind, argv + optind);
        client_state_done(&st);
        return r;
}
