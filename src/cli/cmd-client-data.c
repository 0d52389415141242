/* SPDX-License-Identifier: MIT */
/*
 * memcap client read and write: bytes through the socket (MmapRead, MmapWrite). Bulk data moves
 * in chunks of CHUNK_SIZE bytes as base64, which keeps every line well under the daemon's line
 * and read limits. A write that needs several chunks checks the mapping's length first, so that
 * one that does not fit fails before anything is written, as a single MmapWrite would. Read
 * output goes through the CLI's dump (dump.c): text, raw or a hexdump.
 *
 * Sections: read, write.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "cmd-client.h"

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

        r = client_call(st, "MmapRead",
                        json_pack("{s:I,s:I,s:I,s:s}", "mmap_id", (json_int_t) id, "offset",
                                  (json_int_t) offset, "length", (json_int_t) n, "encoding",
                                  "base64"),
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
                return client_oom(err);
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

static int read_json(client_state *st, uint64_t id, uint64_t offset, uint64_t length,
                     mc_error *err) {
        _cleanup_free_ unsigned char *all = NULL;
        _cleanup_free_ char *b64 = NULL;
        _cleanup_json_ json_t *out = NULL;
        size_t done = 0;
        int r;

        if (length > SIZE_MAX - 1)
                return client_oom(err);
        all = malloc((size_t) length + 1);
        if (!all)
                return client_oom(err);
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
                return client_oom(err);
        out = json_pack("{s:I,s:I,s:I,s:s}", "mmap_id", (json_int_t) id, "offset",
                        (json_int_t) offset, "length", (json_int_t) done, "data_base64", b64);
        if (!out)
                return client_oom(err);
        return client_print_json(out, err);
}

static int read_stream(client_state *st, uint64_t id, uint64_t offset, uint64_t length,
                       output_mode mode, bool squeeze, mc_error *err) {
        uint64_t done = 0;
        dump d;
        int r;

        dump_init(&d,
                  mode == OUT_RAW   ? DUMP_RAW
                  : mode == OUT_HEX ? DUMP_HEX
                                    : DUMP_TEXT,
                  offset, squeeze);
        while (done < length) {
                _cleanup_free_ void *data = NULL;
                size_t n = (size_t) MC_MIN((uint64_t) CHUNK_SIZE, length - done), got;

                r = read_chunk(st, id, offset + done, n, &data, &got, err);
                if (r < 0) {
                        /* What was printed so far is true; make sure it is out before the error. */
                        fflush(stdout);
                        return r;
                }
                r = dump_feed(&d, data, got);
                if (r < 0)
                        return cli_write_error(err, r);
                done += got;
        }
        r = dump_finish(&d);
        return r < 0 ? cli_write_error(err, r) : 0;
}

/* Set the output mode once; a second, different one is a usage error. */
static int set_mode(const char *cmd, output_mode *mode, output_mode m) {
        if (*mode != OUT_DEFAULT && *mode != m)
                return cli_usage_error(cmd, "--raw, --hex and --json exclude each other");
        *mode = m;
        return 0;
}

int run_read(client_state *st, int argc, char **argv) {
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
        bool json = false, squeeze = true;
        client_range range = {};
        uint64_t id;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:o:l:v", options, NULL)) >= 0) {
                switch (c) {
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
                        r = client_common_option(st, help_read, cmd, c, argv, &json, &range);
                        if (r != OPT_HANDLED)
                                return r;
                        if (json && (r = set_mode(cmd, &mode, OUT_JSON)) != 0)
                                return r;
                }
        }
        r = client_parse_id_operand(st, cmd, argc, argv, &id);
        if (r != 0)
                return r;
        if (mode == OUT_DEFAULT)
                mode = st->json ? OUT_JSON : OUT_TEXT;

        if (!range.have_length) {
                r = client_map_room(st, "MmapRead", id, range.offset, &range.length, &err);
                if (r < 0)
                        return error_report(&err);
        }
        if (range.length > (uint64_t) INT64_MAX - range.offset) {
                mc_error_set(&err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                             "MmapRead failed: offset plus length exceeds 2^63 - 1");
                return error_report(&err);
        }
        if (mode == OUT_JSON)
                r = read_json(st, id, range.offset, range.length, &err);
        else
                r = read_stream(st, id, range.offset, range.length, mode, squeeze, &err);
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
                                return client_oom(err);
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
                        return client_oom(err);
                r = client_call(st, "MmapWrite",
                                json_pack("{s:I,s:I,s:s,s:s}", "mmap_id", (json_int_t) id, "offset",
                                          (json_int_t) (offset + done), "data", b64, "encoding",
                                          "base64"),
                                NULL, NULL, err);
                if (r < 0)
                        return r;
                done += k;
        } while (done < n);
        return 0;
}

int run_write(client_state *st, int argc, char **argv) {
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
        client_range range = {};
        uint64_t id;
        size_t n = 0;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:o:d:f:", options, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        data = optarg;
                        break;
                case 'f':
                        file = optarg;
                        break;
                default:
                        r = client_common_option(st, help_write, cmd, c, argv, &json, &range);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (optind >= argc)
                return cli_usage_error(cmd, "missing ID");
        r = client_parse_id(st, cmd, argv[optind], &id);
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
                uint64_t room;

                /* Several requests: check that all of it fits before the first one. */
                r = client_map_room(st, "MmapWrite", id, range.offset, &room, &err);
                if (r < 0)
                        return error_report(&err);
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
                                     id, range.offset, room);
                        return error_report(&err);
                }
        }

        r = write_chunks(st, id, range.offset, bytes, n, &err);
        if (r < 0)
                return error_report(&err);
        if (json) {
                out = json_pack("{s:I,s:I,s:I}", "mmap_id", (json_int_t) id, "offset",
                                (json_int_t) range.offset, "length", (json_int_t) n);
                if (!out)
                        return cli_oom_exit();
                r = client_print_json(out, &err);
                if (r < 0)
                        return error_report(&err);
        } else
                printf("wrote %zu byte%s to id %" PRIu64 " at offset %" PRIu64 "\n", n,
                       n == 1 ? "" : "s", id, range.offset);
        return 0;
}
