/* SPDX-License-Identifier: MIT */
/*
 * memcap client sync, unmap, protect, advise, lock and unlock: the calls on a mapping's id and,
 * for all but unmap, a page-aligned range of it. One function runs them all from a description
 * of what each takes and says (id_command_spec).
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-client.h"

#define RANGE_HELP                                                                                 \
        "  -o, --offset N   from byte N of the mapping (default 0)\n"                              \
        "  -l, --length N   N bytes (default: to the end of the mapping)\n"                        \
        "A range starts and ends on a page boundary of the file, or at the mapping's start\n"      \
        "or end (AlignmentError otherwise).\n"

static const char help_sync[] =
        "Usage: memcap client sync ID [--offset N] [--length N] [--json] [--socket PATH]\n"
        "\n"
        "Write the changes of shared mapping ID, or of a range of it, back to its file and\n"
        "wait for them (Msync). A private, anonymous or read-only mapping writes to no file:\n"
        "that is said instead. A mapping whose file shrank under it, or whose write-back\n"
        "failed once, is Io until it is unmapped and mapped again. --json prints {mmap_id,\n"
        "written}.\n"
        "\n"
        "Options:\n" RANGE_HELP;

static const char help_unmap[] =
        "Usage: memcap client unmap ID [--json] [--socket PATH]\n"
        "\n"
        "Unmap mapping ID (Munmap; a shared writable mapping is synced first). Its id is never\n"
        "used again. --json prints {mmap_id}.\n";

static const char help_protect[] =
        "Usage: memcap client protect ID --prot P [--offset N] [--length N] [--json]\n"
        "                             [--socket PATH]\n"
        "\n"
        "Change the protection of mapping ID, or of a range of it (Mprotect), to P: r, rw, rx,\n"
        "rwx or a number 0-7 (1 read, 2 write, 4 exec). A write to a page of the range then\n"
        "fails (PermissionDenied) while the others stay as they were. --json prints {mmap_id,\n"
        "prot}.\n"
        "\n"
        "Options:\n" RANGE_HELP;

static const char help_advise[] =
        "Usage: memcap client advise ID ADVICE [--offset N] [--length N] [--json]\n"
        "                            [--socket PATH]\n"
        "\n"
        "Advise the kernel about mapping ID or a range of it (Madvise). ADVICE, in any case:\n"
        "normal, random, sequential, willneed, dontneed, free, cold, populate_read or\n"
        "populate_write; memcapd refuses the others (PolicyViolation). --json prints {mmap_id,\n"
        "advice}.\n"
        "\n"
        "Options:\n" RANGE_HELP;

static const char help_lock[] =
        "Usage: memcap client lock ID [--offset N] [--length N] [--json] [--socket PATH]\n"
        "\n"
        "Lock mapping ID, or a range of it, into RAM (Mlock). Needs the MemLock capability and\n"
        "fits the daemon's limits of locked memory, per client and in all (PolicyViolation).\n"
        "--json prints {mmap_id}.\n"
        "\n"
        "Options:\n" RANGE_HELP;

static const char help_unlock[] =
        "Usage: memcap client unlock ID [--offset N] [--length N] [--json] [--socket PATH]\n"
        "\n"
        "Unlock mapping ID, or a range of it (Munlock). --json prints {mmap_id}.\n"
        "\n"
        "Options:\n" RANGE_HELP;

/* What one of the commands on an id takes and says. */
typedef struct id_command_spec {
        const char *cmd, *help, *call;
        const char *done; /* "synced": "synced id 1" */
        bool prot;        /* --prot P, required */
        bool range;       /* --offset N, --length N */
        bool advice;      /* an ADVICE operand after the ID */
} id_command_spec;

/* ADVICE as the protocol names it: upper case. NULL when out of memory. */
static char *advice_name(const char *text) {
        char *s = strdup(text);

        for (char *p = s; p && *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char) (*p - 'a' + 'A');
        return s;
}

static int id_command(client_state *st, int argc, char **argv, const id_command_spec *spec) {
        /* Each command knows only its own options: the others are unknown ones. */
        static const struct option plain[] = {COMMON_OPTIONS, {}};
        static const struct option ranged[] = {COMMON_OPTIONS,
                                               {"offset", required_argument, NULL, 'o'},
                                               {"length", required_argument, NULL, 'l'},
                                               {}};
        static const struct option protect[] = {COMMON_OPTIONS,
                                                {"prot", required_argument, NULL, 'p'},
                                                {"offset", required_argument, NULL, 'o'},
                                                {"length", required_argument, NULL, 'l'},
                                                {}};
        const struct option *options = spec->prot ? protect : spec->range ? ranged : plain;
        const char *shorts = spec->prot ? ":hs:p:o:l:" : spec->range ? ":hs:o:l:" : ":hs:";
        _cleanup_json_ json_t *args = NULL, *out = NULL, *reply = NULL;
        _cleanup_free_ char *advice = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json, have_prot = false, written = true;
        client_range range = {};
        uint64_t id;
        unsigned prot = 0;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, shorts, options, NULL)) >= 0) {
                if (c == 'p')
                        r = client_parse_prot(spec->cmd, optarg, &prot), have_prot = true;
                else if ((r = client_common_option(st, spec->help, spec->cmd, c, argv, &json,
                                                   &range)) == OPT_HANDLED)
                        r = 0;
                else
                        return r;
                if (r != 0)
                        return r;
        }
        if (spec->advice) {
                if (argc - optind < 2)
                        return cli_usage_error(spec->cmd,
                                               optind < argc ? "missing ADVICE" : "missing ID");
                if (argc - optind > 2)
                        return cli_usage_error(spec->cmd, "too many arguments");
                r = client_parse_id(st, spec->cmd, argv[optind], &id);
                if (r != 0)
                        return r;
                advice = advice_name(argv[optind + 1]);
                if (!advice)
                        return cli_oom_exit();
        } else {
                r = client_parse_id_operand(st, spec->cmd, argc, argv, &id);
                if (r != 0)
                        return r;
        }
        if (spec->prot && !have_prot)
                return cli_usage_error(spec->cmd, "missing --prot");

        args = client_id_args(id);
        if (!args || client_add_range(args, &range) < 0 ||
            (spec->prot && json_add(args, "prot", json_integer(prot))) ||
            (advice && json_add(args, "advice", json_string(advice))))
                return cli_oom_exit();
        r = client_call(st, spec->call, TAKE_PTR(args), &reply, NULL, &err);
        if (r < 0)
                return error_report(&err);
        if (streq(spec->call, "Msync")) {
                json_t *w = json_object_get(reply, "written");

                if (!json_is_boolean(w)) {
                        mc_error_set(&err, MC_ERR_IO, EPROTO,
                                     "Msync failed: malformed reply from memcapd: no \"written\"");
                        return error_report(&err);
                }
                written = json_is_true(w);
        }
        if (json) {
                out = client_id_args(id);
                if (!out || client_add_range(out, &range) < 0 ||
                    (spec->prot && json_add(out, "prot", json_integer(prot))) ||
                    (advice && json_add(out, "advice", json_string(advice))) ||
                    (streq(spec->call, "Msync") && json_add(out, "written", json_boolean(written))))
                        return cli_oom_exit();
                r = client_print_json(out, &err);
                if (r < 0)
                        return error_report(&err);
                return 0;
        }
        if (!written) {
                printf("nothing to write for id %" PRIu64 ": it is not a shared mapping of a file "
                       "opened for writing\n",
                       id);
                return 0;
        }
        printf("%s id %" PRIu64, spec->done, id);
        if (range.have_offset || range.have_length) {
                char o[24], l[24];

                snprintf(o, sizeof(o), "%" PRIu64, range.offset);
                snprintf(l, sizeof(l), "%" PRIu64, range.length);
                printf(" from offset %s%s%s", o, range.have_length ? " for " : " to the end",
                       range.have_length ? l : "");
                if (range.have_length)
                        printf(" bytes");
        }
        if (spec->prot) {
                char p[4];

                client_prot_string(prot, p);
                printf(": %s", p);
        } else if (advice)
                printf(": %s", advice);
        putchar('\n');
        return 0;
}

int run_sync(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client sync", help_sync, "Msync", "synced",
                                             .range = true};
        return id_command(st, argc, argv, &spec);
}

int run_unmap(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client unmap", help_unmap, "Munmap", "unmapped"};
        return id_command(st, argc, argv, &spec);
}

int run_protect(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client protect", help_protect, "Mprotect",
                                             "protected",      .prot = true, .range = true};
        return id_command(st, argc, argv, &spec);
}

int run_advise(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client advise", help_advise,   "Madvise",
                                             "advised",       .range = true, .advice = true};
        return id_command(st, argc, argv, &spec);
}

int run_lock(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client lock", help_lock, "Mlock", "locked",
                                             .range = true};
        return id_command(st, argc, argv, &spec);
}

int run_unlock(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client unlock", help_unlock, "Munlock", "unlocked",
                                             .range = true};
        return id_command(st, argc, argv, &spec);
}
