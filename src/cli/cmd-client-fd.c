/* SPDX-License-Identifier: MIT */
/*
 * memcap client fd: the zero-copy path. The mapping's file descriptor comes with the MmapFd
 * reply (SCM_RIGHTS); it is mapped read-only here through libmemcap and dumped like `memcap
 * map` does (dump.c), so the bytes never travel through the socket.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-client.h"

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
        mc_map_request req = MC_MAP_REQUEST_INIT;
        size_t page = mc_page_size(), skip;
        mc_mapping m = {};
        dump d;
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
        dump_init(&d, raw ? DUMP_RAW : DUMP_HEX, offset, squeeze);
        r = dump_mapping(ctx, &m, skip, (size_t) length, &d, err);
        if (r < 0) {
                (void) mc_unmap(ctx, &m, NULL);
                return r;
        }
        return mc_unmap(ctx, &m, err);
}

int run_fd(client_state *st, int argc, char **argv) {
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
        const client_u64_member numbers[] = {
                {"mmap_id", &rid},
                {"offset", &offset},
                {"length", &length},
        };
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
                        r = client_common_option(st, help_fd, cmd, c, argv, &json,
                                                 /* range= */ NULL);
                        if (r != OPT_HANDLED)
                                return r;
                }
        }
        if (raw && json)
                return cli_usage_error(cmd, "--raw and --json exclude each other");
        r = client_parse_id_operand(st, cmd, argc, argv, &id);
        if (r != 0)
                return r;
        json = json || (st->json && !raw);

        r = client_call(st, "MmapFd", client_id_args(id), &reply, &fd, &err);
        if (r == 0)
                r = client_reply_u64s(reply, "MmapFd", numbers, ELEMENTSOF(numbers), &err);
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
                r = out ? client_print_json(out, &err) : client_oom(&err);
        } else
                r = fd_dump(fd, offset, length, raw, squeeze, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}
