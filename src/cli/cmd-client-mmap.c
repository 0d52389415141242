/* SPDX-License-Identifier: MIT */
/*
 * memcap client mmap: ask memcapd to map a file beneath its root, or anonymous memory. The
 * mapping belongs to this process and the daemon releases it when the process exits, so outside
 * a session it is gone at once; in a session its id is remembered for % and %N.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd-client.h"

static const char help_mmap[] =
        "Usage: memcap client mmap [PATH] [--offset N] [--length N] [--prot P] [--shared]\n"
        "                          [--json] [--socket PATH]\n"
        "\n"
        "Ask memcapd to map PATH (a path beneath the daemon's root directory, e.g. /data/f) or,\n"
        "without PATH, anonymous memory, and print the new mapping's id and the length mapped\n"
        "(shorter than asked when the file ends first).\n"
        "\n"
        "The mapping belongs to this memcap process and the daemon releases it when the\n"
        "process exits, that is at once: use 'memcap client session' to map and then use the\n"
        "mapping.\n"
        "\n"
        "Options:\n"
        "  -o, --offset N   start at byte N of the file (any offset; default 0)\n"
        "  -l, --length N   map N bytes (default: to the end of the file; required without\n"
        "                   PATH)\n"
        "  -p, --prot P     r, rw, rx, rwx or a number 0-7 (1 read, 2 write, 4 exec);\n"
        "                   default r\n"
        "      --shared     MAP_SHARED: writes reach the file and every other shared mapping\n"
        "                   of it (default: private, copy-on-write)\n"
        "      --json       print {mmap_id, length}\n";

int run_mmap(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS,
                                                {"offset", required_argument, NULL, 'o'},
                                                {"length", required_argument, NULL, 'l'},
                                                {"prot", required_argument, NULL, 'p'},
                                                {"shared", no_argument, NULL, ARG_SHARED},
                                                {}};
        static const char cmd[] = "client mmap";
        _cleanup_json_ json_t *args = NULL, *reply = NULL, *out = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json, shared = false;
        client_range range = {};
        uint64_t id, got;
        const client_u64_member numbers[] = {{"mmap_id", &id}, {"length", &got}};
        unsigned prot = MC_PROT_READ;
        const char *path = NULL;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:o:l:p:", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        r = client_parse_prot(cmd, optarg, &prot);
                        if (r != 0)
                                return r;
                        break;
                case ARG_SHARED:
                        shared = true;
                        break;
                default:
                        r = client_common_option(st, help_mmap, cmd, c, argv, &json, &range);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (argc - optind > 1)
                return cli_usage_error(cmd, "too many arguments");
        if (optind < argc)
                path = argv[optind];
        if (!path && !range.have_length)
                return cli_usage_error(cmd, "an anonymous mapping (no PATH) needs --length");

        args = json_object();
        if (!args)
                return cli_oom_exit();
        r = 0;
        if (path) {
                json_t *p = json_string(path);

                /* JSON strings are UTF-8; the protocol has no other way to carry a path. */
                if (!p) {
                        _cleanup_free_ char *safe = str_escape_cstr(path);
                        return cli_usage_error(cmd, "path '%s' is not valid UTF-8",
                                               safe ? safe : "?");
                }
                r |= json_add(args, "path", p);
        }
        r |= client_add_range(args, &range);
        r |= json_add(args, "prot", json_integer(prot));
        if (shared)
                r |= json_add(args, "shared", json_true());
        if (r != 0)
                return cli_oom_exit();

        r = client_call(st, "Mmap", TAKE_PTR(args), &reply, NULL, &err);
        if (r == 0)
                r = client_reply_u64s(reply, "Mmap", numbers, ELEMENTSOF(numbers), &err);
        if (r < 0)
                return error_report(&err);

        if (st->in_session) {
                uint64_t *ids = reallocarray(st->ids, st->n_ids + 1, sizeof(*ids));

                if (!ids)
                        return cli_oom_exit();
                ids[st->n_ids++] = id;
                st->ids = ids;
        }
        if (json) {
                out = json_pack("{s:I,s:I}", "mmap_id", (json_int_t) id, "length",
                                (json_int_t) got);
                if (!out)
                        return cli_oom_exit();
                r = client_print_json(out, &err);
                if (r < 0)
                        return error_report(&err);
        } else {
                char size[FORMAT_SIZE_MAX];

                printf("id %" PRIu64 ", length %" PRIu64 " (%s)%s\n", id, got,
                       format_size(got, size),
                       range.have_length && got < range.length ? ", cut at the end of the file"
                                                               : "");
        }
        if (!st->in_session && isatty(STDERR_FILENO))
                log_error("note: the mapping belongs to this process and is released as it "
                          "exits; use 'memcap client session' to go on using it");
        return 0;
}
