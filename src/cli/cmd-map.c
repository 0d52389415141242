/* SPDX-License-Identifier: MIT */
/*
 * memcap map FILE [--offset N] [--length N] [--raw] [--json]: map (part of) a file read-only
 * through the context and dump it.
 *
 * The bytes are copied out with mc_map_read(), never read through the pointer, so a file that
 * another process truncates while we dump it gives an Io error (exit 21), not a SIGBUS. The
 * copy goes in chunks (dump_mapping(), which `memcap client fd` shares) so that the output
 * starts at once and memory stays small, except for --json, which builds the whole document
 * first: a half-written JSON document would be worse than none.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cli.h"

/* Bytes copied out of the mapping per mc_map_read() call. */
#define CHUNK_SIZE (64 * 1024)

typedef enum output_mode {
        OUTPUT_HEXDUMP,
        OUTPUT_RAW,
        OUTPUT_JSON,
} output_mode;

static void help(void) {
        fputs("Usage: memcap map FILE [--offset N] [--length N] [--raw | --json] [-v]\n"
              "\n"
              "Map FILE read-only through libmemcap and dump its bytes: as a hexdump like\n"
              "'hexdump -C' (offsets are file offsets), raw, or as JSON. Reads go through the\n"
              "guarded copy, so a file truncated while it is dumped fails with exit status 21\n"
              "instead of crashing.\n"
              "\n"
              "Options:\n"
              "  -o, --offset N   start at byte N of the file (any offset; default 0)\n"
              "  -l, --length N   dump N bytes (default: to the end of the file)\n"
              "      --raw        write the bytes themselves to standard output\n"
              "      --json       print {path, offset, length, data_base64}\n"
              "  -v, --no-squeeze print identical lines of the hexdump instead of '*'\n"
              "  -h, --help       show this help\n"
              "\n"
              "Sizes take a binary unit: 4096, 4KiB, 4K, 2MiB, 1G.\n",
              stdout);
}

static int dump_json(mc_ctx *ctx, const mc_mapping *m, const char *path, uint64_t file_offset,
                     mc_error *err) {
        _cleanup_free_ unsigned char *data = NULL;
        _cleanup_free_ char *b64 = NULL;
        _cleanup_json_ json_t *o = NULL;
        int r = 0;

        data = malloc(MC_MAX(m->len, (size_t) 1));
        if (!data)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                                    "out of memory for %zu bytes of JSON data", m->len);
        for (size_t off = 0; off < m->len;) {
                size_t n = MC_MIN((size_t) CHUNK_SIZE, m->len - off);

                r = mc_map_read(ctx, m, off, data + off, n, err);
                if (r < 0)
                        return r;
                off += n;
        }
        b64 = base64_encode(data, m->len);
        o = json_object();
        if (!b64 || !o)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        r |= json_add(o, "path", json_string_lossy(path, strlen(path)));
        r |= json_add(o, "offset", json_u64(file_offset));
        r |= json_add(o, "length", json_u64(m->len));
        r |= json_add(o, "data_base64", json_string(b64));
        if (r != 0)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        errno = 0;
        r = json_print(o, stdout);
        if (r == -ENOMEM)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        if (r < 0) /* json_print() says -EIO; the write's own errno says more */
                return cli_write_error(err, errno > 0 ? -errno : -EIO);
        return 0;
}

int cmd_map(int argc, char **argv) {
        enum { ARG_RAW = 0x100, ARG_JSON };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"offset", required_argument, NULL, 'o'},
                                                {"length", required_argument, NULL, 'l'},
                                                {"raw", no_argument, NULL, ARG_RAW},
                                                {"json", no_argument, NULL, ARG_JSON},
                                                {"no-squeeze", no_argument, NULL, 'v'},
                                                {}};
        mc_map_file_options opts = MC_MAP_FILE_OPTIONS_INIT;
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        mc_mapping m = {};
        mc_error err = MC_ERROR_INIT;
        output_mode mode = OUTPUT_HEXDUMP;
        bool raw = false, json = false, squeeze = true;
        const char *path;
        uint64_t v;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":ho:l:v", options, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        r = cli_parse_size("map", "offset", optarg, UINT64_MAX, &opts.offset);
                        if (r != 0)
                                return r;
                        break;
                case 'l':
                        r = cli_parse_size("map", "length", optarg, SIZE_MAX, &v);
                        if (r != 0)
                                return r;
                        opts.length = (size_t) v;
                        break;
                case ARG_RAW:
                        raw = true;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case 'v':
                        squeeze = false;
                        break;
                default:
                        return cli_other_option("map", c, argv, help);
                }
        }
        if (raw && json)
                return cli_usage_error("map", "--raw and --json exclude each other");
        r = cli_one_operand("map", argc, argv, "FILE", &path);
        if (r != 0)
                return r;
        mode = raw ? OUTPUT_RAW : json ? OUTPUT_JSON : OUTPUT_HEXDUMP;

        r = cli_ctx_new(&ctx, &err);
        if (r < 0)
                return error_report(&err);
        r = mc_map_file(ctx, path, MC_PROT_READ, &opts, &m, &err);
        if (r < 0)
                return error_report(&err);

        if (mode == OUTPUT_JSON)
                r = dump_json(ctx, &m, path, opts.offset, &err);
        else {
                dump d;

                dump_init(&d, mode == OUTPUT_RAW ? DUMP_RAW : DUMP_HEX, opts.offset, squeeze);
                r = dump_mapping(ctx, &m, 0, m.len, &d, &err);
        }
        if (r < 0) {
                (void) mc_unmap(ctx, &m, NULL);
                return error_report(&err);
        }
        r = mc_unmap(ctx, &m, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}
