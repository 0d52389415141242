/* SPDX-License-Identifier: MIT */
/*
 * memcap client hello, stats and list: what the daemon is and grants this client, and what the
 * mappings are (MmapStats, MmapList), as text for people or the reply's data as JSON.
 *
 * Sections: hello, stats and list.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-client.h"

/* ---- hello ----------------------------------------------------------------------------------- */

static const char help_hello[] =
        "Usage: memcap client hello [--json] [--socket PATH]\n"
        "\n"
        "Ask memcapd who it is and what this client may do: the daemon and its version, the\n"
        "protocol version, the socket, the pid and uid the daemon sees for this process, and\n"
        "the capabilities the daemon's policy grants it (FileRead, FileWrite, SystemInfo,\n"
        "FdPass, MemLock). --json prints the reply's data object.\n";

static int print_hello(const mc_daemon *c, const json_t *data, mc_error *err) {
        const char *daemon = json_string_value(json_object_get(data, "daemon"));
        const char *version = json_string_value(json_object_get(data, "version"));
        json_t *caps = json_object_get(data, "capabilities");
        _cleanup_free_ char *sd = NULL, *sv = NULL, *sp = NULL;
        uint64_t protocol, pid, uid;
        const client_u64_member numbers[] = {
                {"protocol", &protocol},
                {"pid", &pid},
                {"uid", &uid},
        };
        json_t *v;
        size_t i;
        int r;

        r = client_reply_u64s(data, "Hello", numbers, ELEMENTSOF(numbers), err);
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
        sp = str_escape_cstr(mc_daemon_path(c));
        if (!sd || !sv || !sp)
                return client_oom(err);
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
                        return client_oom(err);
                printf(" %s", s);
        }
        puts(json_array_size(caps) == 0 ? " (none)" : "");
        return 0;
}

int run_hello(client_state *st, int argc, char **argv) {
        _cleanup_json_ json_t *reply = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json;
        json_t *data;
        int r;

        r = client_common_options(st, argc, argv, help_hello, "client hello", &json);
        if (r != OPT_HANDLED)
                return r;
        if (optind < argc)
                return cli_usage_error("client hello", "too many arguments");

        r = client_call(st, "Hello", json_object(), &reply, NULL, &err);
        if (r < 0)
                return error_report(&err);
        data = client_reply_data(reply, "Hello", JSON_OBJECT, &err);
        if (!data)
                return error_report(&err);
        r = json ? client_print_json(data, &err) : print_hello(st->conn, data, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

/* ---- stats and list ---------------------------------------------------------------------- */

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
                return client_oom(err);
        client_prot_string(m->prot, prot);
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
        /* client_map_info_parse() checked every range. */
        json_array_foreach(m->ranges, i, r) {
                uint64_t off = (uint64_t) json_integer_value(json_object_get(r, "offset"));
                uint64_t len = (uint64_t) json_integer_value(json_object_get(r, "length"));

                client_prot_string((unsigned) client_prot_parse(json_object_get(r, "prot")), prot);
                printf("%s offset %" PRIu64 " length %" PRIu64 " %s\n",
                       i == 0 ? "ranges    " : "          ", off, len, prot);
        }
        return 0;
}

int run_stats(client_state *st, int argc, char **argv) {
        static const char cmd[] = "client stats";
        _cleanup_json_ json_t *reply = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = st->json;
        json_t *data;
        map_info m;
        uint64_t id;
        int r;

        r = client_common_options(st, argc, argv, help_stats, cmd, &json);
        if (r != OPT_HANDLED)
                return r;
        r = client_parse_id_operand(st, cmd, argc, argv, &id);
        if (r != 0)
                return r;

        r = client_call(st, "MmapStats", client_id_args(id), &reply, NULL, &err);
        if (r < 0)
                return error_report(&err);
        data = json_object_get(reply, "data");
        r = client_map_info_parse(data, "MmapStats", &m, &err);
        if (r == 0)
                r = json ? client_print_json(data, &err) : print_stats(&m, &err);
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
                return client_oom(err);
        for (size_t col = 0; col < ELEMENTSOF(headers); col++)
                if (col != 1 && col != 4 && col != 5)
                        table_set_right(t, col);
        json_array_foreach(data, i, o) {
                char id[24], offset[24], length[24], owner[24], prot[5];
                map_info m;

                r = client_map_info_parse(o, "MmapList", &m, err);
                if (r < 0)
                        return r;
                snprintf(id, sizeof(id), "%" PRIu64, m.id);
                snprintf(offset, sizeof(offset), "%" PRIu64, m.offset);
                snprintf(length, sizeof(length), "%" PRIu64, m.length);
                snprintf(owner, sizeof(owner), "%" PRIu64, m.owner_pid);
                client_prot_string(m.prot, prot);
                if (m.ranges) {
                        prot[3] = '*';
                        prot[4] = 0;
                        parts = true;
                }
                /* table_add_row() escapes every cell. */
                const char *cells[] = {
                        id, m.path ? m.path : "[anon]", offset, length, prot, m.flags, owner};
                if (table_add_row(t, cells) < 0)
                        return client_oom(err);
        }
        errno = 0;
        r = table_print(t, stdout);
        if (r < 0)
                return cli_write_error(err, r);
        printf("%zu mapping%s\n", table_rows(t), table_rows(t) == 1 ? "" : "s");
        if (parts)
                printf("* parts differ in protection: 'stats ID' shows them\n");
        return 0;
}

int run_list(client_state *st, int argc, char **argv) {
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
                r = client_common_option(st, help_list, cmd, c, argv, &json, /* range= */ NULL);
                if (r != OPT_HANDLED)
                        return r;
        }
        if (optind < argc)
                return cli_usage_error(cmd, "too many arguments");

        args = all ? json_pack("{s:b}", "all", 1) : json_object();
        r = client_call(st, "MmapList", args, &reply, NULL, &err);
        if (r < 0)
                return error_report(&err);
        data = client_reply_data(reply, "MmapList", JSON_ARRAY, &err);
        if (!data)
                return error_report(&err);
        r = json ? client_print_json(data, &err) : print_list(data, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}
