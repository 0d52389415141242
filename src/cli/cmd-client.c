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
 * Bulk data moves in chunks of CHUNK_SIZE bytes as base64, which keeps every line well under
 * the daemon's line and read limits. A write that needs several chunks checks the mapping's
 * length first, so that one that does not fit fails before anything is written, as a single
 * MmapWrite would.
 *
 * Sections: state and helpers, argument parsing, replies, hello, mmap, read, write, calls on an
 * id (sync, unmap, protect, advise, lock, unlock), stats/list, fd, session, raw, dispatch.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "cli.h"
#include "client.h"
#include "json-escape.h"

/* Bytes per MmapRead/MmapWrite request: about 350 KB of base64 on the wire. */
#define CHUNK_SIZE ((size_t) 256 * 1024)

/* ---- state and helpers ---------------------------------------------------------------------- */

typedef struct client_state {
        const char *socket; /* --socket, or NULL for mcc_default_socket() */
        mcc *conn;          /* opened by the first command that needs it */
        bool json;          /* --json given to `client` or `session`: the default of each command */
        bool in_session;
        uint64_t *ids; /* mappings made in this session, for %N */
        size_t n_ids;
} client_state;

typedef struct subcommand {
        const char *name;
        int (*run)(client_state *st, int argc, char **argv);
} subcommand;

static void state_done(client_state *st) {
        mcc_close(st->conn);
        free(st->ids);
        *st = (client_state){};
}

static int oom(mc_error *err) {
        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
}

/* Report running out of memory and return its exit status. */
static int oom_exit(void) {
        mc_error err = MC_ERROR_INIT;

        oom(&err);
        return error_report(&err);
}

static int write_error(mc_error *err, int r) {
        if (r == -ENOMEM)
                return oom(err);
        return mc_error_errno(err, r < 0 ? -r : (errno ? errno : EIO), "write to standard output");
}

static int state_conn(client_state *st, mcc **ret, mc_error *err) {
        _cleanup_free_ char *def = NULL;
        int r;

        if (!st->conn) {
                const char *path = st->socket;

                if (!path) {
                        if (mcc_default_socket(&def) < 0)
                                return oom(err);
                        path = def;
                }
                r = mcc_open(path, &st->conn, err);
                if (r < 0)
                        return r;
        }
        *ret = st->conn;
        return 0;
}

/* One call on the session's connection; @args (never NULL: NULL means out of memory) is taken. */
static int call(client_state *st, const char *name, json_t *args, json_t **ret_reply, int *ret_fd,
                mc_error *err) {
        mcc *c = NULL;
        int r;

        if (!args)
                return oom(err);
        r = state_conn(st, &c, err);
        if (r < 0) {
                json_decref(args);
                return r;
        }
        return mcc_call(c, name, args, ret_reply, ret_fd, err);
}

/* {"mmap_id": @id}, or NULL when out of memory. */
static json_t *id_args(uint64_t id) {
        return json_pack("{s:I}", "mmap_id", (json_int_t) id);
}

static int print_json(const json_t *doc, mc_error *err) {
        int r;

        errno = 0;
        r = json_print(doc, stdout);
        return r < 0 ? write_error(err, r) : 0;
}

static void prot_string(unsigned prot, char buf[static 4]) {
        buf[0] = prot & MC_PROT_READ ? 'r' : '-';
        buf[1] = prot & MC_PROT_WRITE ? 'w' : '-';
        buf[2] = prot & MC_PROT_EXEC ? 'x' : '-';
        buf[3] = 0;
}

/*
 * The options every subcommand takes, and the report of any other option getopt_long() returned
 * (@c). Returns OPT_HANDLED to go on parsing, or the exit status to return (after --help, a
 * usage error or an unknown option).
 */
enum {
        ARG_JSON = 0x100,
        ARG_RAW,
        ARG_HEX,
        ARG_SHARED,
        OPT_HANDLED = -1,
};

#define COMMON_OPTIONS                                                                             \
        {"help", no_argument, NULL, 'h'}, {"socket", required_argument, NULL, 's'}, {              \
                "json", no_argument, NULL, ARG_JSON                                                \
        }

static int common_option(client_state *st, const char *help, const char *cmd, int c, char **argv,
                         bool *json) {
        switch (c) {
        case 'h':
                fputs(help, stdout);
                return 0;
        case 's':
                /* One session, one connection: the daemon keeps its mappings per process anyway. */
                if (st->in_session)
                        return cli_usage_error(cmd, "--socket cannot be used inside a session");
                st->socket = optarg;
                return OPT_HANDLED;
        case ARG_JSON:
                *json = true;
                return OPT_HANDLED;
        default:
                return cli_option_error(cmd, c, argv);
        }
}

/* ---- argument parsing ---------------------------------------------------------------------- */

/* A size or offset for the protocol, which carries 0 .. 2^63 - 1. */
static int parse_size_arg(const char *cmd, const char *name, const char *text, uint64_t *ret) {
        _cleanup_free_ char *safe = str_escape_cstr(text);
        uint64_t v;
        int r;

        r = args_parse_size(text, &v);
        if (r == -ERANGE || (r == 0 && v > (uint64_t) INT64_MAX))
                return cli_usage_error(cmd, "%s '%s' is too large", name, safe ? safe : "?");
        if (r < 0)
                return cli_usage_error(cmd, "invalid %s '%s': expected a size such as 4096 or 4KiB",
                                       name, safe ? safe : "?");
        *ret = v;
        return 0;
}

static int parse_prot(const char *cmd, const char *text, unsigned *ret) {
        static const struct {
                const char *name;
                unsigned prot;
        } names[] = {
                {"r", MC_PROT_READ_ONLY},
                {"rw", MC_PROT_READ_WRITE},
                {"rx", MC_PROT_READ_EXECUTE},
                {"rwx", MC_PROT_READ_WRITE_EXECUTE},
        };
        _cleanup_free_ char *safe = NULL;
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(text, names[i].name)) {
                        *ret = names[i].prot;
                        return 0;
                }
        if (args_parse_uint(text, 7, &v) == 0) {
                *ret = (unsigned) v;
                return 0;
        }
        safe = str_escape_cstr(text);
        return cli_usage_error(cmd,
                               "invalid protection '%s': expected r, rw, rx, rwx or a number "
                               "from 0 to 7 (1 read, 2 write, 4 exec)",
                               safe ? safe : "?");
}

/* A mapping id: 1 .. 2^63 - 1, or in a session % (the last mapping made) and %N (the Nth). */
static int parse_id(client_state *st, const char *cmd, const char *text, uint64_t *ret) {
        _cleanup_free_ char *safe = str_escape_cstr(text);
        uint64_t v;

        if (text[0] == '%') {
                if (!st->in_session)
                        return cli_usage_error(cmd,
                                               "'%s' names a mapping of a session; it works only "
                                               "in 'memcap client session'",
                                               safe ? safe : "?");
                if (text[1] == 0) {
                        if (st->n_ids == 0)
                                return cli_usage_error(cmd, "'%%': this session has made no "
                                                            "mapping yet");
                        *ret = st->ids[st->n_ids - 1];
                        return 0;
                }
                if (args_parse_uint(text + 1, SIZE_MAX, &v) < 0 || v == 0)
                        return cli_usage_error(cmd,
                                               "invalid mapping reference '%s': expected %% "
                                               "or %%N with N from 1",
                                               safe ? safe : "?");
                if (v > st->n_ids)
                        return cli_usage_error(
                                cmd, "'%s': this session has made only %zu mapping%s",
                                safe ? safe : "?", st->n_ids, st->n_ids == 1 ? "" : "s");
                *ret = st->ids[v - 1];
                return 0;
        }
        if (args_parse_uint(text, INT64_MAX, &v) < 0 || v == 0)
                return cli_usage_error(cmd,
                                       "invalid mapping id '%s': expected a number from 1 to "
                                       "9223372036854775807%s",
                                       safe ? safe : "?", st->in_session ? ", % or %N" : "");
        *ret = v;
        return 0;
}

/* The single ID operand every id command takes. */
static int parse_id_operand(client_state *st, const char *cmd, int argc, char **argv,
                            uint64_t *ret) {
        if (optind >= argc)
                return cli_usage_error(cmd, "missing ID");
        if (argc - optind > 1)
                return cli_usage_error(cmd, "too many arguments");
        return parse_id(st, cmd, argv[optind], ret);
}

/* ---- replies --------------------------------------------------------------------------------- */

/* One mapping as MmapStats and MmapList describe it; strings point into the reply. */
typedef struct map_info {
        uint64_t id, offset, length, owner_pid;
        const char *path; /* NULL for anonymous memory */
        const char *flags;
        unsigned prot;
        uint64_t locked;
        bool faulted;
        const json_t *ranges; /* NULL when the whole mapping has prot; else checked by parse */
} map_info;

/* {"read":..,"write":..,"exec":..} into mc_prot bits; -1 when malformed. */
static int prot_parse(const json_t *prot) {
        static const struct {
                const char *key;
                unsigned bit;
        } bits[] = {{"read", MC_PROT_READ}, {"write", MC_PROT_WRITE}, {"exec", MC_PROT_EXEC}};
        int v = 0;

        if (!json_is_object(prot))
                return -1;
        for (size_t i = 0; i < ELEMENTSOF(bits); i++) {
                json_t *b = json_object_get(prot, bits[i].key);

                if (!json_is_boolean(b))
                        return -1;
                if (json_is_true(b))
                        v |= (int) bits[i].bit;
        }
        return v;
}

/* The optional fields memcapd adds to the original's: "locked", "faulted" and "ranges". */
static int map_info_extras(const json_t *o, const char *call, map_info *m, mc_error *err) {
        json_t *faulted = json_object_get(o, "faulted"), *ranges = json_object_get(o, "ranges");
        json_t *r;
        size_t i;

        if (json_object_get(o, "locked") && mcc_reply_u64(o, call, "locked", &m->locked, err) < 0)
                return -EPROTO;
        if (faulted && !json_is_boolean(faulted))
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed: malformed reply from memcapd: bad \"faulted\"",
                                    call);
        m->faulted = json_is_true(faulted);
        if (!ranges)
                return 0;
        if (!json_is_array(ranges))
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed: malformed reply from memcapd: bad \"ranges\"",
                                    call);
        json_array_foreach(ranges, i, r) {
                uint64_t v;

                if (!json_is_object(r) || mcc_reply_u64(r, call, "offset", &v, err) < 0 ||
                    mcc_reply_u64(r, call, "length", &v, err) < 0 ||
                    prot_parse(json_object_get(r, "prot")) < 0)
                        return mc_error_set(
                                err, MC_ERR_IO, EPROTO,
                                "%s failed: malformed reply from memcapd: bad range %zu", call, i);
        }
        m->ranges = ranges;
        return 0;
}

static int map_info_parse(const json_t *o, const char *call, map_info *ret, mc_error *err) {
        map_info m = {};
        json_t *path, *prot;
        int r, bits;

        if (!json_is_object(o))
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed: malformed reply from memcapd: a mapping is not an "
                                    "object",
                                    call);
        r = mcc_reply_u64(o, call, "id", &m.id, err);
        if (r == 0)
                r = mcc_reply_u64(o, call, "offset", &m.offset, err);
        if (r == 0)
                r = mcc_reply_u64(o, call, "length", &m.length, err);
        if (r == 0)
                r = mcc_reply_u64(o, call, "owner_pid", &m.owner_pid, err);
        if (r < 0)
                return r;
        path = json_object_get(o, "path");
        prot = json_object_get(o, "prot");
        m.flags = json_string_value(json_object_get(o, "flags"));
        if (!(json_is_null(path) || json_is_string(path)) || !json_is_object(prot) || !m.flags)
                return mc_error_set(
                        err, MC_ERR_IO, EPROTO,
                        "%s failed: malformed reply from memcapd: bad \"path\", \"prot\" "
                        "or \"flags\"",
                        call);
        m.path = json_string_value(path);
        bits = prot_parse(prot);
        if (bits < 0)
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed: malformed reply from memcapd: bad \"prot\"", call);
        m.prot = (unsigned) bits;
        r = map_info_extras(o, call, &m, err);
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

/* The length of mapping @id, from MmapStats (needs no capability for our own mappings). */
static int map_length(client_state *st, uint64_t id, uint64_t *ret, mc_error *err) {
        _cleanup_json_ json_t *reply = NULL;
        map_info m;
        int r;

        r = call(st, "MmapStats", id_args(id), &reply, NULL, err);
        if (r < 0)
                return r;
        r = map_info_parse(json_object_get(reply, "data"), "MmapStats", &m, err);
        if (r < 0)
                return r;
        *ret = m.length;
        return 0;
}

/* ---- hello ----------------------------------------------------------------------------------- */

static const char help_hello[] =
        "Usage: memcap client hello [--json] [--socket PATH]\n"
        "\n"
        "Ask memcapd who it is and what this client may do: the daemon and its version, the\n"
        "protocol version, the socket, the pid and uid the daemon sees for this process, and\n"
        "the capabilities the daemon's policy grants it (FileRead, FileWrite, SystemInfo,\n"
        "FdPass, MemLock). --json prints the reply's data object.\n";

static int print_hello(const mcc *c, const json_t *data, mc_error *err) {
        const char *daemon = json_string_value(json_object_get(data, "daemon"));
        const char *version = json_string_value(json_object_get(data, "version"));
        json_t *caps = json_object_get(data, "capabilities");
        _cleanup_free_ char *sd = NULL, *sv = NULL, *sp = NULL;
        uint64_t protocol, pid, uid;
        json_t *v;
        size_t i;
        int r;

        r = mcc_reply_u64(data, "Hello", "protocol", &protocol, err);
        if (r == 0)
                r = mcc_reply_u64(data, "Hello", "pid", &pid, err);
        if (r == 0)
                r = mcc_reply_u64(data, "Hello", "uid", &uid, err);
        if (r < 0)
                return r;
        if (!daemon || !version || !json_is_array(caps))
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "Hello failed: malformed reply from memcapd: bad \"daemon\", "
                                    "\"version\" or \"capabilities\"");
        json_array_foreach(caps, i, v) if (!json_is_string(v)) return mc_error_set(
                err, MC_ERR_IO, EPROTO,
                "Hello failed: malformed reply from memcapd: a "
                "capability is not a string");
        sd = str_escape_cstr(daemon);
        sv = str_escape_cstr(version);
        sp = str_escape_cstr(mcc_path(c));
        if (!sd || !sv || !sp)
                return oom(err);
        printf("daemon        %s %s\n"
               "socket        %s\n"
               "protocol      %" PRIu64 "\n"
               "client pid    %" PRIu64 "\n"
               "client uid    %" PRIu64 "\n"
               "capabilities ",
               sd, sv, sp, protocol, pid, uid);
        json_array_foreach(caps, i, v) {
                _cleanup_free_ char *s = str_escape_cstr(json_string_value(v));

                if (!s)
                        return oom(err);
                printf(" %s", s);
        }
        puts(json_array_size(caps) == 0 ? " (none)" : "");
        return 0;
}

static int run_hello(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS, {}};
        _cleanup_json_ json_t *reply = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json;
        json_t *data;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:", options, NULL)) >= 0) {
                r = common_option(st, help_hello, "client hello", c, argv, &json);
                if (r != OPT_HANDLED)
                        return r;
        }
        if (optind < argc)
                return cli_usage_error("client hello", "too many arguments");

        r = call(st, "Hello", json_object(), &reply, NULL, &err);
        if (r < 0)
                return error_report(&err);
        data = json_object_get(reply, "data");
        if (!json_is_object(data)) {
                mc_error_set(&err, MC_ERR_IO, EPROTO,
                             "Hello failed: malformed reply from memcapd: no \"data\" object");
                return error_report(&err);
        }
        r = json ? print_json(data, &err) : print_hello(st->conn, data, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

/* ---- mmap ------------------------------------------------------------------------------------ */

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

static int run_mmap(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS,
                                                {"offset", required_argument, NULL, 'o'},
                                                {"length", required_argument, NULL, 'l'},
                                                {"prot", required_argument, NULL, 'p'},
                                                {"shared", no_argument, NULL, ARG_SHARED},
                                                {}};
        static const char cmd[] = "client mmap";
        _cleanup_json_ json_t *args = NULL, *reply = NULL, *out = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json, have_offset = false, have_length = false, shared = false;
        uint64_t offset = 0, length = 0, id, got;
        unsigned prot = MC_PROT_READ;
        const char *path = NULL;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:o:l:p:", options, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        r = parse_size_arg(cmd, "offset", optarg, &offset);
                        if (r != 0)
                                return r;
                        have_offset = true;
                        break;
                case 'l':
                        r = parse_size_arg(cmd, "length", optarg, &length);
                        if (r != 0)
                                return r;
                        have_length = true;
                        break;
                case 'p':
                        r = parse_prot(cmd, optarg, &prot);
                        if (r != 0)
                                return r;
                        break;
                case ARG_SHARED:
                        shared = true;
                        break;
                default:
                        r = common_option(st, help_mmap, cmd, c, argv, &json);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (argc - optind > 1)
                return cli_usage_error(cmd, "too many arguments");
        if (optind < argc)
                path = argv[optind];
        if (!path && !have_length)
                return cli_usage_error(cmd, "an anonymous mapping (no PATH) needs --length");

        args = json_object();
        if (!args)
                return oom_exit();
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
        if (have_offset)
                r |= json_add(args, "offset", json_integer((json_int_t) offset));
        if (have_length)
                r |= json_add(args, "length", json_integer((json_int_t) length));
        r |= json_add(args, "prot", json_integer(prot));
        if (shared)
                r |= json_add(args, "shared", json_true());
        if (r != 0)
                return oom_exit();

        r = call(st, "Mmap", TAKE_PTR(args), &reply, NULL, &err);
        if (r == 0)
                r = mcc_reply_u64(reply, "Mmap", "mmap_id", &id, &err);
        if (r == 0)
                r = mcc_reply_u64(reply, "Mmap", "length", &got, &err);
        if (r < 0)
                return error_report(&err);

        if (st->in_session) {
                uint64_t *ids = reallocarray(st->ids, st->n_ids + 1, sizeof(*ids));

                if (!ids)
                        return oom_exit();
                ids[st->n_ids++] = id;
                st->ids = ids;
        }
        if (json) {
                out = json_pack("{s:I,s:I}", "mmap_id", (json_int_t) id, "length",
                                (json_int_t) got);
                if (!out)
                        return oom_exit();
                r = print_json(out, &err);
                if (r < 0)
                        return error_report(&err);
        } else {
                char size[FORMAT_SIZE_MAX];

                printf("id %" PRIu64 ", length %" PRIu64 " (%s)%s\n", id, got,
                       format_size(got, size),
                       have_length && got < length ? ", cut at the end of the file" : "");
        }
        if (!st->in_session && isatty(STDERR_FILENO))
                log_error("note: the mapping belongs to this process and is released as it "
                          "exits; use 'memcap client session' to go on using it");
        return 0;
}

/* ---- read ------------------------------------------------------------------------------------ */

static const char help_read[] =
        "Usage: memcap client read ID [--offset N] [--length N] [--raw | --hex | --json] [-v]\n"
        "                          [--socket PATH]\n"
        "\n"
        "Copy bytes out of mapping ID (MmapRead) and print them: as text (newlines and tabs\n"
        "kept, other control characters and invalid UTF-8 as \\xNN, a final newline added),\n"
        "raw, as a hexdump like 'hexdump -C' (offsets within the mapping), or as JSON. Only\n"
        "the process that made the mapping can read it: use it in 'memcap client session'.\n"
        "\n"
        "Options:\n"
        "  -o, --offset N    start at byte N of the mapping (default 0)\n"
        "  -l, --length N    read N bytes (default: to the end of the mapping; past it is\n"
        "                    InvalidArgument)\n"
        "      --raw         write the bytes themselves\n"
        "      --hex         hexdump\n"
        "  -v, --no-squeeze  print identical lines of the hexdump instead of '*'\n"
        "      --json        print {mmap_id, offset, length, data_base64}\n";

typedef enum output_mode {
        OUT_DEFAULT, /* text, or JSON under --json */
        OUT_TEXT,
        OUT_RAW,
        OUT_HEX,
        OUT_JSON,
} output_mode;

/* One MmapRead of @n bytes as base64; *@ret (malloc'd) and *@ret_len are the bytes received. */
static int read_chunk(client_state *st, uint64_t id, uint64_t offset, size_t n, void **ret,
                      size_t *ret_len, mc_error *err) {
        _cleanup_json_ json_t *reply = NULL;
        const char *b64;
        size_t bad;
        int r;

        r = call(st, "MmapRead",
                 json_pack("{s:I,s:I,s:I,s:s}", "mmap_id", (json_int_t) id, "offset",
                           (json_int_t) offset, "length", (json_int_t) n, "encoding", "base64"),
                 &reply, NULL, err);
        if (r < 0)
                return r;
        b64 = json_string_value(json_object_get(reply, "data"));
        if (!b64)
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "MmapRead failed: malformed reply from memcapd: \"data\" is "
                                    "not a base64 string");
        r = base64_decode(b64, json_string_length(json_object_get(reply, "data")), ret, ret_len,
                          &bad);
        if (r == -ENOMEM)
                return oom(err);
        if (r < 0)
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "MmapRead failed: malformed reply from memcapd: invalid base64 "
                                    "at offset %zu",
                                    bad);
        if (*ret_len != n) {
                free(*ret);
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "MmapRead failed: memcapd sent %zu bytes for a read of %zu",
                                    *ret_len, n);
        }
        return 0;
}

/*
 * Text output: runs between newlines and tabs are escaped with str_escape(), and a UTF-8
 * sequence cut by the end of a chunk waits for the next chunk, so that the cut does not turn a
 * valid character into \xNN escapes.
 */
typedef struct text_out {
        unsigned char carry[4];
        size_t n_carry;
        char last; /* the last character written, 0 before any */
} text_out;

static int text_emit(text_out *t, const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                size_t j = i;

                while (j < n && s[j] != '\n' && s[j] != '\t')
                        j++;
                if (j > i) {
                        _cleanup_free_ char *e = str_escape((const char *) s + i, j - i);

                        if (!e)
                                return -ENOMEM;
                        if (fputs(e, stdout) < 0)
                                return -EIO;
                        t->last = 'x';
                }
                if (j < n) {
                        if (putchar(s[j]) == EOF)
                                return -EIO;
                        t->last = (char) s[j];
                        j++;
                }
                i = j;
        }
        return 0;
}

static int text_feed(text_out *t, const unsigned char *data, size_t n, bool final) {
        _cleanup_free_ unsigned char *buf = NULL;
        size_t len, keep;
        int r;

        buf = malloc(t->n_carry + n + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, t->carry, t->n_carry);
        if (n > 0)
                memcpy(buf + t->n_carry, data, n);
        len = t->n_carry + n;
        keep = final ? 0 : utf8_incomplete_tail((const char *) buf, len);
        r = text_emit(t, buf, len - keep);
        if (r < 0)
                return r;
        memcpy(t->carry, buf + len - keep, keep);
        t->n_carry = keep;
        if (final && t->last != 0 && t->last != '\n' && putchar('\n') == EOF)
                return -EIO;
        return 0;
}

static int read_json(client_state *st, uint64_t id, uint64_t offset, uint64_t length,
                     mc_error *err) {
        _cleanup_free_ unsigned char *all = NULL;
        _cleanup_free_ char *b64 = NULL;
        _cleanup_json_ json_t *out = NULL;
        size_t done = 0;
        int r;

        if (length > SIZE_MAX - 1)
                return oom(err);
        all = malloc((size_t) length + 1);
        if (!all)
                return oom(err);
        while (done < length) {
                _cleanup_free_ void *data = NULL;
                size_t n = MC_MIN(CHUNK_SIZE, (size_t) length - done), got;

                r = read_chunk(st, id, offset + done, n, &data, &got, err);
                if (r < 0)
                        return r;
                memcpy(all + done, data, got);
                done += got;
        }
        b64 = base64_encode(all, done);
        if (!b64)
                return oom(err);
        out = json_pack("{s:I,s:I,s:I,s:s}", "mmap_id", (json_int_t) id, "offset",
                        (json_int_t) offset, "length", (json_int_t) done, "data_base64", b64);
        if (!out)
                return oom(err);
        return print_json(out, err);
}

static int read_stream(client_state *st, uint64_t id, uint64_t offset, uint64_t length,
                       output_mode mode, bool squeeze, mc_error *err) {
        text_out text = {};
        hexdump h;
        uint64_t done = 0;
        int r;

        hexdump_init(&h, offset, squeeze);
        while (done < length) {
                _cleanup_free_ void *data = NULL;
                size_t n = (size_t) MC_MIN((uint64_t) CHUNK_SIZE, length - done), got;

                r = read_chunk(st, id, offset + done, n, &data, &got, err);
                if (r < 0) {
                        /* What was printed so far is true; make sure it is out before the error. */
                        fflush(stdout);
                        return r;
                }
                errno = 0;
                if (mode == OUT_RAW)
                        r = fwrite(data, 1, got, stdout) == got ? 0 : -EIO;
                else if (mode == OUT_HEX)
                        r = hexdump_feed(&h, data, got, stdout);
                else
                        r = text_feed(&text, data, got, /* final= */ false);
                if (r < 0)
                        return write_error(err, r);
                done += got;
        }
        errno = 0;
        if (mode == OUT_HEX)
                r = hexdump_finish(&h, stdout);
        else if (mode == OUT_TEXT)
                r = text_feed(&text, NULL, 0, /* final= */ true);
        else
                r = 0;
        return r < 0 ? write_error(err, r) : 0;
}

/* Set the output mode once; a second, different one is a usage error. */
static int set_mode(const char *cmd, output_mode *mode, output_mode m) {
        if (*mode != OUT_DEFAULT && *mode != m)
                return cli_usage_error(cmd, "--raw, --hex and --json exclude each other");
        *mode = m;
        return 0;
}

static int run_read(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS,
                                                {"offset", required_argument, NULL, 'o'},
                                                {"length", required_argument, NULL, 'l'},
                                                {"raw", no_argument, NULL, ARG_RAW},
                                                {"hex", no_argument, NULL, ARG_HEX},
                                                {"no-squeeze", no_argument, NULL, 'v'},
                                                {}};
        static const char cmd[] = "client read";
        mc_error err = MC_ERROR_INIT;
        output_mode mode = OUT_DEFAULT;
        bool json = false, have_length = false, squeeze = true;
        uint64_t id, offset = 0, length = 0;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:o:l:v", options, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        r = parse_size_arg(cmd, "offset", optarg, &offset);
                        if (r != 0)
                                return r;
                        break;
                case 'l':
                        r = parse_size_arg(cmd, "length", optarg, &length);
                        if (r != 0)
                                return r;
                        have_length = true;
                        break;
                case ARG_RAW:
                case ARG_HEX:
                        r = set_mode(cmd, &mode, c == ARG_RAW ? OUT_RAW : OUT_HEX);
                        if (r != 0)
                                return r;
                        break;
                case 'v':
                        squeeze = false;
                        break;
                default:
                        r = common_option(st, help_read, cmd, c, argv, &json);
                        if (r != OPT_HANDLED)
                                return r;
                        if (json && (r = set_mode(cmd, &mode, OUT_JSON)) != 0)
                                return r;
                }
        }
        r = parse_id_operand(st, cmd, argc, argv, &id);
        if (r != 0)
                return r;
        if (mode == OUT_DEFAULT)
                mode = st->json ? OUT_JSON : OUT_TEXT;

        if (!have_length) {
                uint64_t total;

                r = map_length(st, id, &total, &err);
                if (r < 0)
                        return error_report(&err);
                if (offset > total) {
                        mc_error_set(&err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "MmapRead failed: offset %" PRIu64 " is past the end of "
                                     "mapping %" PRIu64 " (length %" PRIu64 ")",
                                     offset, id, total);
                        return error_report(&err);
                }
                length = total - offset;
        }
        if (length > (uint64_t) INT64_MAX - offset) {
                mc_error_set(&err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                             "MmapRead failed: offset plus length exceeds 2^63 - 1");
                return error_report(&err);
        }
        if (mode == OUT_JSON)
                r = read_json(st, id, offset, length, &err);
        else
                r = read_stream(st, id, offset, length, mode, squeeze, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

/* ---- write ----------------------------------------------------------------------------------- */

static const char help_write[] =
        "Usage: memcap client write ID [--offset N] (--data STRING | --file FILE | -)\n"
        "                           [--json] [--socket PATH]\n"
        "\n"
        "Copy bytes into mapping ID (MmapWrite): the bytes of STRING (no newline added), of\n"
        "FILE, or of standard input ('-'; not in a session, whose standard input holds the\n"
        "commands). Data that does not fit in the mapping is refused before anything is\n"
        "written. Large data goes in several requests of 256 KiB; a failure part way (a\n"
        "truncated file) can leave a prefix written. Only the process that made the mapping\n"
        "can write it: use it in 'memcap client session'.\n"
        "\n"
        "Options:\n"
        "  -o, --offset N      start at byte N of the mapping (default 0)\n"
        "  -d, --data STRING   write STRING\n"
        "  -f, --file FILE     write the contents of FILE\n"
        "      --json          print {mmap_id, offset, length}\n";

/* Read all of @fd, refusing more than @limit bytes: *@ret_len is then @limit + 1. */
static int slurp(int fd, const char *name, size_t limit, unsigned char **ret, size_t *ret_len,
                 mc_error *err) {
        _cleanup_free_ unsigned char *buf = NULL;
        _cleanup_free_ char *safe = NULL;
        size_t len = 0, cap = 0, want = limit < SIZE_MAX ? limit + 1 : limit;

        for (;;) {
                ssize_t n;

                if (len == cap) {
                        size_t ncap = cap ? cap * 2 : 64 * 1024;
                        unsigned char *nb;

                        if (ncap > want)
                                ncap = want;
                        if (ncap <= len)
                                break; /* read the most we accept */
                        nb = realloc(buf, ncap);
                        if (!nb)
                                return oom(err);
                        buf = nb;
                        cap = ncap;
                }
                n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        safe = str_escape_cstr(name);
                        return mc_error_errno(err, errno, "read '%s'", safe ? safe : "?");
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* MmapWrite of @n bytes at @offset, in chunks; at least one request, so an empty write checks
 * the id too. */
static int write_chunks(client_state *st, uint64_t id, uint64_t offset, const unsigned char *data,
                        size_t n, mc_error *err) {
        size_t done = 0;
        int r;

        do {
                size_t k = MC_MIN(CHUNK_SIZE, n - done);
                _cleanup_free_ char *b64 = base64_encode(data + done, k);

                if (!b64)
                        return oom(err);
                r = call(st, "MmapWrite",
                         json_pack("{s:I,s:I,s:s,s:s}", "mmap_id", (json_int_t) id, "offset",
                                   (json_int_t) (offset + done), "data", b64, "encoding", "base64"),
                         NULL, NULL, err);
                if (r < 0)
                        return r;
                done += k;
        } while (done < n);
        return 0;
}

static int run_write(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS,
                                                {"offset", required_argument, NULL, 'o'},
                                                {"data", required_argument, NULL, 'd'},
                                                {"file", required_argument, NULL, 'f'},
                                                {}};
        static const char cmd[] = "client write";
        _cleanup_free_ unsigned char *buf = NULL;
        _cleanup_json_ json_t *out = NULL;
        _cleanup_close_ int fd = -EBADF;
        mc_error err = MC_ERROR_INIT;
        const char *data = NULL, *file = NULL;
        bool json = st->json, from_stdin = false;
        const unsigned char *bytes;
        uint64_t id, offset = 0;
        size_t n = 0;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:o:d:f:", options, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        r = parse_size_arg(cmd, "offset", optarg, &offset);
                        if (r != 0)
                                return r;
                        break;
                case 'd':
                        data = optarg;
                        break;
                case 'f':
                        file = optarg;
                        break;
                default:
                        r = common_option(st, help_write, cmd, c, argv, &json);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (optind >= argc)
                return cli_usage_error(cmd, "missing ID");
        r = parse_id(st, cmd, argv[optind], &id);
        if (r != 0)
                return r;
        if (argc - optind > 2 || (argc - optind == 2 && !streq(argv[optind + 1], "-")))
                return cli_usage_error(cmd, "too many arguments");
        from_stdin = argc - optind == 2;
        if (!!data + !!file + from_stdin != 1)
                return cli_usage_error(cmd, "give exactly one of --data, --file and '-'");
        if (from_stdin && st->in_session)
                return cli_usage_error(cmd, "'-' cannot be used in a session: its standard "
                                            "input holds the commands; use --file");

        if (data && strlen(data) <= CHUNK_SIZE) {
                /* One request: the daemon refuses it whole if it does not fit. */
                bytes = (const unsigned char *) data;
                n = strlen(data);
        } else {
                uint64_t total, room;

                /* Several requests: check that all of it fits before the first one. */
                r = map_length(st, id, &total, &err);
                if (r < 0)
                        return error_report(&err);
                if (offset > total) {
                        mc_error_set(&err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "MmapWrite failed: offset %" PRIu64 " is past the end of "
                                     "mapping %" PRIu64 " (length %" PRIu64 ")",
                                     offset, id, total);
                        return error_report(&err);
                }
                room = total - offset;
                if (data) {
                        bytes = (const unsigned char *) data;
                        n = strlen(data);
                } else {
                        if (file) {
                                fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                                if (fd < 0) {
                                        _cleanup_free_ char *safe = str_escape_cstr(file);

                                        mc_error_errno(&err, errno, "open '%s'", safe ? safe : "?");
                                        return error_report(&err);
                                }
                        }
                        r = slurp(file ? fd : STDIN_FILENO, file ? file : "standard input",
                                  (size_t) MC_MIN(room, (uint64_t) SIZE_MAX - 1), &buf, &n, &err);
                        if (r < 0)
                                return error_report(&err);
                        bytes = buf;
                }
                if (n > room) {
                        mc_error_set(&err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "MmapWrite failed: the data does not fit in mapping %" PRIu64
                                     " at offset %" PRIu64 " (%" PRIu64
                                     " bytes left); nothing was written",
                                     id, offset, room);
                        return error_report(&err);
                }
        }

        r = write_chunks(st, id, offset, bytes, n, &err);
        if (r < 0)
                return error_report(&err);
        if (json) {
                out = json_pack("{s:I,s:I,s:I}", "mmap_id", (json_int_t) id, "offset",
                                (json_int_t) offset, "length", (json_int_t) n);
                if (!out)
                        return oom_exit();
                r = print_json(out, &err);
                if (r < 0)
                        return error_report(&err);
        } else
                printf("wrote %zu byte%s to id %" PRIu64 " at offset %" PRIu64 "\n", n,
                       n == 1 ? "" : "s", id, offset);
        return 0;
}

/* ---- calls on an id: sync, unmap, protect, advise, lock, unlock ----------------------------- */

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

/* Add {"offset", "length"} to @o when they were given; 0 or -ENOMEM. */
static int add_range(json_t *o, bool have_offset, uint64_t offset, bool have_length,
                     uint64_t length) {
        int r = 0;

        if (have_offset)
                r |= json_add(o, "offset", json_integer((json_int_t) offset));
        if (have_length)
                r |= json_add(o, "length", json_integer((json_int_t) length));
        return r ? -ENOMEM : 0;
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
        bool json = st->json, have_prot = false, have_offset = false, have_length = false;
        bool written = true;
        uint64_t id, offset = 0, length = 0;
        unsigned prot = 0;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, shorts, options, NULL)) >= 0) {
                if (c == 'p')
                        r = parse_prot(spec->cmd, optarg, &prot), have_prot = true;
                else if (c == 'o')
                        r = parse_size_arg(spec->cmd, "offset", optarg, &offset),
                        have_offset = true;
                else if (c == 'l')
                        r = parse_size_arg(spec->cmd, "length", optarg, &length),
                        have_length = true;
                else if ((r = common_option(st, spec->help, spec->cmd, c, argv, &json)) ==
                         OPT_HANDLED)
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
                r = parse_id(st, spec->cmd, argv[optind], &id);
                if (r != 0)
                        return r;
                advice = advice_name(argv[optind + 1]);
                if (!advice)
                        return oom_exit();
        } else {
                r = parse_id_operand(st, spec->cmd, argc, argv, &id);
                if (r != 0)
                        return r;
        }
        if (spec->prot && !have_prot)
                return cli_usage_error(spec->cmd, "missing --prot");

        args = id_args(id);
        if (!args || add_range(args, have_offset, offset, have_length, length) < 0 ||
            (spec->prot && json_add(args, "prot", json_integer(prot))) ||
            (advice && json_add(args, "advice", json_string(advice))))
                return oom_exit();
        r = call(st, spec->call, TAKE_PTR(args), &reply, NULL, &err);
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
                out = id_args(id);
                if (!out || add_range(out, have_offset, offset, have_length, length) < 0 ||
                    (spec->prot && json_add(out, "prot", json_integer(prot))) ||
                    (advice && json_add(out, "advice", json_string(advice))) ||
                    (streq(spec->call, "Msync") && json_add(out, "written", json_boolean(written))))
                        return oom_exit();
                r = print_json(out, &err);
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
        if (have_offset || have_length) {
                char o[24], l[24];

                snprintf(o, sizeof(o), "%" PRIu64, offset);
                snprintf(l, sizeof(l), "%" PRIu64, length);
                printf(" from offset %s%s%s", o, have_length ? " for " : " to the end",
                       have_length ? l : "");
                if (have_length)
                        printf(" bytes");
        }
        if (spec->prot) {
                char p[4];

                prot_string(prot, p);
                printf(": %s", p);
        } else if (advice)
                printf(": %s", advice);
        putchar('\n');
        return 0;
}

static int run_sync(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client sync", help_sync, "Msync", "synced",
                                             .range = true};
        return id_command(st, argc, argv, &spec);
}

static int run_unmap(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client unmap", help_unmap, "Munmap", "unmapped"};
        return id_command(st, argc, argv, &spec);
}

static int run_protect(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client protect", help_protect, "Mprotect",
                                             "protected",      .prot = true, .range = true};
        return id_command(st, argc, argv, &spec);
}

static int run_advise(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client advise", help_advise,   "Madvise",
                                             "advised",       .range = true, .advice = true};
        return id_command(st, argc, argv, &spec);
}

static int run_lock(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client lock", help_lock, "Mlock", "locked",
                                             .range = true};
        return id_command(st, argc, argv, &spec);
}

static int run_unlock(client_state *st, int argc, char **argv) {
        static const id_command_spec spec = {"client unlock", help_unlock, "Munlock", "unlocked",
                                             .range = true};
        return id_command(st, argc, argv, &spec);
}

/* ---- stats, list
 * ---------------------------------------------------------------------------------- */

static const char help_stats[] =
        "Usage: memcap client stats ID [--json] [--socket PATH]\n"
        "\n"
        "Describe mapping ID (MmapStats): path (or [anon]), offset, length, protection, Shared\n"
        "or Private, and the pid of the process that owns it. Mappings of other processes\n"
        "need the SystemInfo capability. --json prints the reply's data object.\n";

static const char help_list[] =
        "Usage: memcap client list [--all] [--json] [--socket PATH]\n"
        "\n"
        "List this process's mappings (MmapList) as a table, or with --all every client's,\n"
        "which needs the SystemInfo capability. --json prints the reply's data array.\n";

static int print_stats(const map_info *m, mc_error *err) {
        _cleanup_free_ char *path = m->path ? str_escape_cstr(m->path) : strdup("[anon]");
        _cleanup_free_ char *flags = str_escape_cstr(m->flags);
        char size[FORMAT_SIZE_MAX], prot[4];
        const json_t *r;
        size_t i;

        if (!path || !flags)
                return oom(err);
        prot_string(m->prot, prot);
        printf("id         %" PRIu64 "\n"
               "path       %s\n"
               "offset     %" PRIu64 "\n"
               "length     %" PRIu64 " (%s)\n"
               "prot       %s%s\n"
               "flags      %s\n"
               "owner pid  %" PRIu64 "\n",
               m->id, path, m->offset, m->length, format_size(m->length, size), prot,
               m->ranges ? " (parts differ: see ranges)" : "", flags, m->owner_pid);
        if (m->locked > 0)
                printf("locked     %" PRIu64 " (%s)\n", m->locked, format_size(m->locked, size));
        if (m->faulted)
                printf("faulted    yes: the file shrank or a write-back failed; sync and write "
                       "fail until it is mapped again\n");
        /* map_info_parse() checked every range. */
        json_array_foreach(m->ranges, i, r) {
                uint64_t off = (uint64_t) json_integer_value(json_object_get(r, "offset"));
                uint64_t len = (uint64_t) json_integer_value(json_object_get(r, "length"));

                prot_string((unsigned) prot_parse(json_object_get(r, "prot")), prot);
                printf("%s offset %" PRIu64 " length %" PRIu64 " %s\n",
                       i == 0 ? "ranges    " : "          ", off, len, prot);
        }
        return 0;
}

static int run_stats(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS, {}};
        static const char cmd[] = "client stats";
        _cleanup_json_ json_t *reply = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json;
        json_t *data;
        map_info m;
        uint64_t id;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:", options, NULL)) >= 0) {
                r = common_option(st, help_stats, cmd, c, argv, &json);
                if (r != OPT_HANDLED)
                        return r;
        }
        r = parse_id_operand(st, cmd, argc, argv, &id);
        if (r != 0)
                return r;

        r = call(st, "MmapStats", id_args(id), &reply, NULL, &err);
        if (r < 0)
                return error_report(&err);
        data = json_object_get(reply, "data");
        r = map_info_parse(data, "MmapStats", &m, &err);
        if (r == 0)
                r = json ? print_json(data, &err) : print_stats(&m, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

static int print_list(const json_t *data, mc_error *err) {
        static const char *const headers[] = {"ID",   "PATH",  "OFFSET",   "LENGTH",
                                              "PROT", "FLAGS", "OWNER PID"};
        _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
        bool parts = false;
        json_t *o;
        size_t i;
        int r;

        if (!t)
                return oom(err);
        for (size_t col = 0; col < ELEMENTSOF(headers); col++)
                if (col != 1 && col != 4 && col != 5)
                        table_set_right(t, col);
        json_array_foreach(data, i, o) {
                char id[24], offset[24], length[24], owner[24], prot[5];
                map_info m;

                r = map_info_parse(o, "MmapList", &m, err);
                if (r < 0)
                        return r;
                snprintf(id, sizeof(id), "%" PRIu64, m.id);
                snprintf(offset, sizeof(offset), "%" PRIu64, m.offset);
                snprintf(length, sizeof(length), "%" PRIu64, m.length);
                snprintf(owner, sizeof(owner), "%" PRIu64, m.owner_pid);
                prot_string(m.prot, prot);
                if (m.ranges) {
                        prot[3] = '*';
                        prot[4] = 0;
                        parts = true;
                }
                /* table_add_row() escapes every cell. */
                const char *cells[] = {
                        id, m.path ? m.path : "[anon]", offset, length, prot, m.flags, owner};
                if (table_add_row(t, cells) < 0)
                        return oom(err);
        }
        errno = 0;
        r = table_print(t, stdout);
        if (r < 0)
                return write_error(err, r);
        printf("%zu mapping%s\n", table_rows(t), table_rows(t) == 1 ? "" : "s");
        if (parts)
                printf("* parts differ in protection: 'stats ID' shows them\n");
        return 0;
}

static int run_list(client_state *st, int argc, char **argv) {
        static const struct option options[] = {
                COMMON_OPTIONS, {"all", no_argument, NULL, 'a'}, {}};
        static const char cmd[] = "client list";
        _cleanup_json_ json_t *reply = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json, all = false;
        json_t *args, *data;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:a", options, NULL)) >= 0) {
                if (c == 'a') {
                        all = true;
                        continue;
                }
                r = common_option(st, help_list, cmd, c, argv, &json);
                if (r != OPT_HANDLED)
                        return r;
        }
        if (optind < argc)
                return cli_usage_error(cmd, "too many arguments");

        args = all ? json_pack("{s:b}", "all", 1) : json_object();
        r = call(st, "MmapList", args, &reply, NULL, &err);
        if (r < 0)
                return error_report(&err);
        data = json_object_get(reply, "data");
        if (!json_is_array(data)) {
                mc_error_set(&err, MC_ERR_IO, EPROTO,
                             "MmapList failed: malformed reply from memcapd: no \"data\" array");
                return error_report(&err);
        }
        r = json ? print_json(data, &err) : print_list(data, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

/* ---- fd -------------------------------------------------------------------------------------- */

static const char help_fd[] =
        "Usage: memcap client fd ID [--raw | --json] [-v] [--socket PATH]\n"
        "\n"
        "Receive the file descriptor behind mapping ID (MmapFd, passed with SCM_RIGHTS; needs\n"
        "the FdPass capability), map it read-only here through libmemcap and dump the\n"
        "mapping's bytes like 'memcap map': as a hexdump with file offsets, or raw. This is\n"
        "the zero-copy path: the bytes do not travel through the socket.\n"
        "\n"
        "Options:\n"
        "      --raw         write the bytes themselves\n"
        "  -v, --no-squeeze  print identical lines of the hexdump instead of '*'\n"
        "      --json        print {mmap_id, offset, length, writable} and map nothing\n";

static int fd_dump(int fd, uint64_t offset, uint64_t length, bool raw, bool squeeze,
                   mc_error *err) {
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        mc_map_request req = MC_MAP_REQUEST_INIT;
        size_t page = mc_page_size(), skip;
        mc_mapping m = {};
        hexdump h;
        int r;

        /* An empty range maps nothing (a zero-length mmap is invalid) and prints nothing. */
        if (length == 0)
                return 0;
        skip = (size_t) (offset % page);
        if (length > SIZE_MAX - skip)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                                    "a mapping of %" PRIu64 " bytes does not fit the address space",
                                    length);
        req.fd = fd;
        req.offset = offset - skip;
        req.length = (size_t) length + skip;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_SHARED;

        r = cli_ctx_new(&ctx, err);
        if (r < 0)
                return r;
        r = mc_mmap(ctx, &req, &m, err);
        if (r < 0)
                return r;
        buf = malloc(CHUNK_SIZE);
        if (!buf) {
                (void) mc_unmap(ctx, &m, NULL);
                return oom(err);
        }
        hexdump_init(&h, offset, squeeze);
        /* Copies through mc_map_read(): a file truncated under us is Io, not SIGBUS. */
        for (size_t off = 0; off < (size_t) length && r >= 0;) {
                size_t n = MC_MIN(CHUNK_SIZE, (size_t) length - off);

                r = mc_map_read(ctx, &m, skip + off, buf, n, err);
                if (r < 0)
                        break;
                errno = 0;
                r = raw ? (fwrite(buf, 1, n, stdout) == n ? 0 : -EIO)
                        : hexdump_feed(&h, buf, n, stdout);
                if (r < 0)
                        r = write_error(err, r);
                off += n;
        }
        if (r >= 0 && !raw) {
                errno = 0;
                r = hexdump_finish(&h, stdout);
                if (r < 0)
                        r = write_error(err, r);
        }
        if (r < 0) {
                fflush(stdout);
                (void) mc_unmap(ctx, &m, NULL);
                return r;
        }
        return mc_unmap(ctx, &m, err);
}

static int run_fd(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS,
                                                {"raw", no_argument, NULL, ARG_RAW},
                                                {"no-squeeze", no_argument, NULL, 'v'},
                                                {}};
        static const char cmd[] = "client fd";
        _cleanup_json_ json_t *reply = NULL, *out = NULL;
        _cleanup_close_ int fd = -EBADF;
        mc_error err = MC_ERROR_INIT;
        bool json = false, raw = false, squeeze = true;
        uint64_t id, rid, offset, length;
        json_t *writable;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:v", options, NULL)) >= 0) {
                switch (c) {
                case ARG_RAW:
                        raw = true;
                        break;
                case 'v':
                        squeeze = false;
                        break;
                default:
                        r = common_option(st, help_fd, cmd, c, argv, &json);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (raw && json)
                return cli_usage_error(cmd, "--raw and --json exclude each other");
        r = parse_id_operand(st, cmd, argc, argv, &id);
        if (r != 0)
                return r;
        json = json || (st->json && !raw);

        r = call(st, "MmapFd", id_args(id), &reply, &fd, &err);
        if (r == 0)
                r = mcc_reply_u64(reply, "MmapFd", "mmap_id", &rid, &err);
        if (r == 0)
                r = mcc_reply_u64(reply, "MmapFd", "offset", &offset, &err);
        if (r == 0)
                r = mcc_reply_u64(reply, "MmapFd", "length", &length, &err);
        if (r < 0)
                return error_report(&err);
        writable = json_object_get(reply, "writable");
        if (fd < 0 || !json_is_boolean(writable) || rid != id) {
                mc_error_set(&err, MC_ERR_IO, EPROTO,
                             "MmapFd failed: malformed reply from memcapd: %s",
                             fd < 0 ? "no file descriptor came with it"
                                    : "bad \"writable\" or \"mmap_id\"");
                return error_report(&err);
        }
        if (json) {
                out = json_pack("{s:I,s:I,s:I,s:O}", "mmap_id", (json_int_t) id, "offset",
                                (json_int_t) offset, "length", (json_int_t) length, "writable",
                                writable);
                r = out ? print_json(out, &err) : oom(&err);
        } else
                r = fd_dump(fd, offset, length, raw, squeeze, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

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

static const subcommand *subcommand_find(const char *name);

static int session_line(client_state *st, char *line, size_t len, unsigned lineno, bool echo) {
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
        sc = subcommand_find(words[0]);
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

static int run_session(client_state *st, int argc, char **argv) {
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
                        r = common_option(st, help_session, cmd, c, argv, &json);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (optind < argc)
                return cli_usage_error(cmd, "too many arguments (the commands come on standard "
                                            "input)");
        st->json = json;
        st->in_session = true;

        while ((len = getline(&line, &cap, stdin)) >= 0) {
                lineno++;
                r = session_line(st, line, (size_t) len, lineno, echo);
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

static int run_raw(client_state *st, int argc, char **argv) {
        static const struct option options[] = {COMMON_OPTIONS, {}};
        static const char cmd[] = "client raw";
        _cleanup_free_ char *line = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = false;
        unsigned lineno = 0;
        size_t cap = 0;
        ssize_t len;
        mcc *conn = NULL;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:", options, NULL)) >= 0) {
                r = common_option(st, help_raw, cmd, c, argv, &json);
                if (r != OPT_HANDLED)
                        return r;
        }
        if (json)
                return cli_usage_error(cmd, "--json does not apply: the replies are JSON already");
        if (optind < argc)
                return cli_usage_error(cmd, "too many arguments (the requests come on standard "
                                            "input)");
        r = state_conn(st, &conn, &err);
        if (r < 0)
                return error_report(&err);

        while ((len = getline(&line, &cap, stdin)) >= 0) {
                _cleanup_close_ int fd = -EBADF;
                const char *reply;
                size_t n;

                lineno++;
                if (len > 0 && line[len - 1] == '\n')
                        len--;
                r = mcc_send_line(conn, line, (size_t) len, &err);
                if (r == 0)
                        r = mcc_recv_line(conn, &reply, &n, &fd, &err);
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

static const subcommand *subcommand_find(const char *name) {
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
              "                         run commands from standard input in one process\n"
              "  raw                    send JSON request lines, print the replies (debugging)\n"
              "  help [COMMAND]         show this help or a command's\n"
              "\n"
              "Options (before or after COMMAND):\n"
              "  -s, --socket PATH  the daemon's socket; default $" MCC_SOCKET_ENV ", else\n"
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
        sc = subcommand_find(argv[1]);
        if (!sc) {
                _cleanup_free_ char *safe = str_escape_cstr(argv[1]);
                return cli_usage_error("client", "unknown command '%s'", safe ? safe : "?");
        }
        /* Run it with --help in a state of its own, so that nothing connects. */
        client_state tmp = {.in_session = st->in_session};
        char *sub[] = {(char *) sc->name, (char *) "--help", NULL};
        int r = sc->run(&tmp, 2, sub);
        state_done(&tmp);
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
                case 'h':
                        help();
                        return 0;
                case 's':
                        st.socket = optarg;
                        break;
                case ARG_JSON:
                        st.json = true;
                        break;
                default:
                        return cli_option_error("client", c, argv);
                }
        }
        if (optind >= argc)
                return cli_usage_error("client", "missing command");
        sc = subcommand_find(argv[optind]);
        if (!sc) {
                _cleanup_free_ char *safe = str_escape_cstr(argv[optind]);
                return cli_usage_error("client", "unknown command '%s'", safe ? safe : "?");
        }
        r = sc->run(&st, argc - optind, argv + optind);
        state_done(&st);
        return r;
}
