/* SPDX-License-Identifier: MIT */
/*
 * What the verbs of `memcap client` share (cmd-client.h): the connection, opened by the first
 * verb that needs it and kept for a session; one call on it; the options and arguments every
 * verb takes; and the checked parsing of the mappings that MmapStats and MmapList describe.
 *
 * Sections: state and helpers, argument parsing, replies.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-client.h"

/* ---- state and helpers ---------------------------------------------------------------------- */

void client_state_done(client_state *st) {
        mc_daemon_close(st->conn);
        free(st->ids);
        *st = (client_state){};
}

int client_oom(mc_error *err) {
        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
}

int client_conn(client_state *st, mc_daemon **ret, mc_error *err) {
        _cleanup_free_ char *def = NULL;
        int r;

        if (!st->conn) {
                const char *path = st->socket;

                if (!path) {
                        if (mc_daemon_default_socket(&def) < 0)
                                return client_oom(err);
                        path = def;
                }
                r = mc_daemon_connect(path, &st->conn, err);
                if (r < 0)
                        return r;
        }
        *ret = st->conn;
        return 0;
}

int client_call(client_state *st, const char *name, json_t *args, json_t **ret_reply, int *ret_fd,
                mc_error *err) {
        mc_daemon *c = NULL;
        int r;

        if (!args)
                return client_oom(err);
        r = client_conn(st, &c, err);
        if (r < 0) {
                json_decref(args);
                return r;
        }
        return client_call_json(c, name, args, ret_reply, ret_fd, err);
}

int client_call_json(mc_daemon *d, const char *call, json_t *args, json_t **ret_reply, int *ret_fd,
                     mc_error *err) {
        _cleanup_free_ char *text = NULL, *reply = NULL;
        _cleanup_close_ int fd = -EBADF;
        json_error_t jerr;
        json_t *j;
        int r;

        if (!args)
                return client_oom(err);
        text = json_dumps(args, JSON_COMPACT);
        json_decref(args);
        if (!text)
                return client_oom(err);
        r = mc_daemon_call(d, call, text, ret_reply ? &reply : NULL, &fd, err);
        if (r < 0)
                return r;
        if (ret_reply) {
                /* libmemcap parsed and checked it already: only memory can fail here. */
                j = json_loads(reply, 0, &jerr);
                if (!j)
                        return mc_error_set(err, MC_ERR_IO, EPROTO,
                                            "%s failed: malformed reply from memcapd", call);
                *ret_reply = j;
        }
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

int client_reply_u64(const json_t *obj, const char *call, const char *key, uint64_t *ret,
                     mc_error *err) {
        json_t *v = json_object_get(obj, key);

        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed: malformed reply from memcapd: \"%s\" is not a "
                                    "non-negative integer",
                                    call, key);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

int client_reply_u64s(const json_t *obj, const char *call, const client_u64_member *members,
                      size_t n, mc_error *err) {
        int r;

        for (size_t i = 0; i < n; i++) {
                r = client_reply_u64(obj, call, members[i].key, members[i].ret, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

json_t *client_id_args(uint64_t id) {
        return json_pack("{s:I}", "mmap_id", (json_int_t) id);
}

int client_print_json(const json_t *doc, mc_error *err) {
        int r;

        errno = 0;
        r = json_print(doc, stdout);
        return r < 0 ? cli_write_error(err, r) : 0;
}

void client_prot_string(unsigned prot, char buf[static 4]) {
        buf[0] = prot & MC_PROT_READ ? 'r' : '-';
        buf[1] = prot & MC_PROT_WRITE ? 'w' : '-';
        buf[2] = prot & MC_PROT_EXEC ? 'x' : '-';
        buf[3] = 0;
}

int client_common_option(client_state *st, const char *help, const char *cmd, int c, char **argv,
                         bool *json, client_range *range) {
        int r;

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
        case 'o':
        case 'l':
                if (!range)
                        break;
                /* The protocol carries sizes and offsets of 0 .. 2^63 - 1. */
                r = cli_parse_size(cmd, c == 'o' ? "offset" : "length", optarg, INT64_MAX,
                                   c == 'o' ? &range->offset : &range->length);
                if (r != 0)
                        return r;
                *(c == 'o' ? &range->have_offset : &range->have_length) = true;
                return OPT_HANDLED;
        }
        return cli_option_error(cmd, c, argv);
}

int client_common_options(client_state *st, int argc, char **argv, const char *help,
                          const char *cmd, bool *json) {
        static const struct option options[] = {COMMON_OPTIONS, {}};
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:", options, NULL)) >= 0) {
                r = client_common_option(st, help, cmd, c, argv, json, /* range= */ NULL);
                if (r != OPT_HANDLED)
                        return r;
        }
        return OPT_HANDLED;
}

/* ---- argument parsing ---------------------------------------------------------------------- */

int client_parse_prot(const char *cmd, const char *text, unsigned *ret) {
        static const struct {
                const char *name;
                unsigned prot;
        } names[] = {
                {"r", MC_PROT_READ_ONLY},
                {"rw", MC_PROT_READ_WRITE},
                {"rx", MC_PROT_READ_EXECUTE},
                {"rwx", MC_PROT_READ_WRITE_EXECUTE},
        };
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
        return cli_invalid_value(cmd, "protection", text,
                                 "r, rw, rx, rwx or a number from 0 to 7 (1 read, 2 write, 4 "
                                 "exec)");
}

/* A mapping id: 1 .. 2^63 - 1, or in a session % (the last mapping made) and %N (the Nth). */
int client_parse_id(client_state *st, const char *cmd, const char *text, uint64_t *ret) {
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
                        return cli_invalid_value(cmd, "mapping reference", text,
                                                 "% or %N with N from 1");
                if (v > st->n_ids)
                        return cli_usage_error(
                                cmd, "'%s': this session has made only %zu mapping%s",
                                safe ? safe : "?", st->n_ids, st->n_ids == 1 ? "" : "s");
                *ret = st->ids[v - 1];
                return 0;
        }
        if (args_parse_uint(text, INT64_MAX, &v) < 0 || v == 0)
                return cli_invalid_value(cmd, "mapping id", text,
                                         st->in_session
                                                 ? "a number from 1 to 9223372036854775807, % or %N"
                                                 : "a number from 1 to 9223372036854775807");
        *ret = v;
        return 0;
}

/* The single ID operand every id command takes. */
int client_parse_id_operand(client_state *st, const char *cmd, int argc, char **argv,
                            uint64_t *ret) {
        const char *id;
        int r;

        r = cli_one_operand(cmd, argc, argv, "ID", &id);
        if (r != 0)
                return r;
        return client_parse_id(st, cmd, id, ret);
}

/* ---- replies --------------------------------------------------------------------------------- */

/* {"read":..,"write":..,"exec":..} into mc_prot bits; -1 when malformed. */
int client_prot_parse(const json_t *prot) {
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

        if (json_object_get(o, "locked") &&
            client_reply_u64(o, call, "locked", &m->locked, err) < 0)
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

                if (!json_is_object(r) || client_reply_u64(r, call, "offset", &v, err) < 0 ||
                    client_reply_u64(r, call, "length", &v, err) < 0 ||
                    client_prot_parse(json_object_get(r, "prot")) < 0)
                        return mc_error_set(
                                err, MC_ERR_IO, EPROTO,
                                "%s failed: malformed reply from memcapd: bad range %zu", call, i);
        }
        m->ranges = ranges;
        return 0;
}

int client_map_info_parse(const json_t *o, const char *call, map_info *ret, mc_error *err) {
        map_info m = {};
        const client_u64_member numbers[] = {
                {"id", &m.id},
                {"offset", &m.offset},
                {"length", &m.length},
                {"owner_pid", &m.owner_pid},
        };
        json_t *path, *prot;
        int r, bits;

        if (!json_is_object(o))
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed: malformed reply from memcapd: a mapping is not an "
                                    "object",
                                    call);
        r = client_reply_u64s(o, call, numbers, ELEMENTSOF(numbers), err);
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
        bits = client_prot_parse(prot);
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
int client_map_length(client_state *st, uint64_t id, uint64_t *ret, mc_error *err) {
        _cleanup_json_ json_t *reply = NULL;
        map_info m;
        int r;

        r = client_call(st, "MmapStats", client_id_args(id), &reply, NULL, err);
        if (r < 0)
                return r;
        r = client_map_info_parse(json_object_get(reply, "data"), "MmapStats", &m, err);
        if (r < 0)
                return r;
        *ret = m.length;
        return 0;
}

int client_map_room(client_state *st, const char *call, uint64_t id, uint64_t offset, uint64_t *ret,
                    mc_error *err) {
        uint64_t total;
        int r;

        r = client_map_length(st, id, &total, err);
        if (r < 0)
                return r;
        if (offset > total)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "%s failed: offset %" PRIu64
                                    " is past the end of mapping %" PRIu64 " (length %" PRIu64 ")",
                                    call, offset, id, total);
        *ret = total - offset;
        return 0;
}

int client_add_range(json_t *o, const client_range *range) {
        int r = 0;

        if (range->have_offset)
                r |= json_add(o, "offset", json_integer((json_int_t) range->offset));
        if (range->have_length)
                r |= json_add(o, "length", json_integer((json_int_t) range->length));
        return r ? -ENOMEM : 0;
}

json_t *client_reply_data(const json_t *reply, const char *call, json_type type, mc_error *err) {
        json_t *data = json_object_get(reply, "data");

        if (!data || json_typeof(data) != type) {
                mc_error_set(err, MC_ERR_IO, EPROTO,
                             "%s failed: malformed reply from memcapd: no \"data\" %s", call,
                             type == JSON_ARRAY ? "array" : "object");
                return NULL;
        }
        return data;
}
