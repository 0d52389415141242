/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the files of `memcap client` share: the state of one invocation or session, the
 * dispatcher's entry (cmd-client.c holds the table), the options and arguments every verb
 * takes, the one call on the session's connection (libmemcap's client, <memcap/client.h>, with
 * the reply as a jansson tree) and the parsing of mapping descriptions (cmd-client-util.c), and
 * the verbs, one file per group:
 *
 *   cmd-client-info.c     hello, stats, list
 *   cmd-client-mmap.c     mmap
 *   cmd-client-data.c     read, write (bytes through the socket, in chunks)
 *   cmd-client-range.c    sync, unmap, protect, advise, lock, unlock (calls on an id)
 *   cmd-client-fd.c       fd (the descriptor, mapped here: zero copy)
 *   cmd-client-session.c  session, raw
 *   cmd-client-repl.c     the interactive session on a terminal
 *
 * Every run_*() gets argv from the verb's name on and returns the exit status.
 */

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <memcap/client.h>

#include "cli.h"

/* Bytes per MmapRead/MmapWrite request: about 350 KB of base64 on the wire. */
#define CHUNK_SIZE ((size_t) 256 * 1024)

/* One `memcap client` invocation, or one session: its connection and what it made. */
typedef struct client_state {
        const char *socket; /* --socket, or NULL for mc_daemon_default_socket() */
        mc_daemon *conn;    /* opened by the first command that needs it */
        bool json;          /* --json given to `client` or `session`: the default of each command */
        bool in_session;
        uint64_t *ids; /* mappings made in this session, for %N */
        size_t n_ids;
} client_state;

/* A verb of the dispatcher's table: run() gets argv from the verb's name on. */
typedef struct subcommand {
        const char *name;
        int (*run)(client_state *st, int argc, char **argv);
} subcommand;

/* Long options without a short form, and client_common_option()'s "go on parsing". */
enum {
        ARG_JSON = 0x100,
        ARG_RAW,
        ARG_HEX,
        ARG_SHARED,
        OPT_HANDLED = -1,
};

/* The long options every verb takes, for the start of its getopt_long() table. */
#define COMMON_OPTIONS                                                                             \
        {"help", no_argument, NULL, 'h'}, {"socket", required_argument, NULL, 's'}, {              \
                "json", no_argument, NULL, ARG_JSON                                                \
        }

/* --offset and --length as given: the part of a file or a mapping a verb acts on. */
typedef struct client_range {
        uint64_t offset, length;
        bool have_offset, have_length;
} client_range;

/* Free what @st holds and reset it. */
void client_state_done(client_state *st);

/* The verb @name, or NULL. */
const subcommand *client_subcommand_find(const char *name);

/* ---- cmd-client-util.c: state and helpers --------------------------------------------------- */

/* Fill @err with OutOfMemory; returns -ENOMEM. */
int client_oom(mc_error *err);

/* The session's connection, opened on first use (--socket, else mc_daemon_default_socket()). */
int client_conn(client_state *st, mc_daemon **ret, mc_error *err);

/*
 * One call on @d: {"@call": @args} (@args is taken in every case; NULL means out of memory),
 * the reply checked by libmemcap (mc_daemon_call()) and parsed into *@ret_reply (may be NULL),
 * its descriptor in *@ret_fd (may be NULL) as mc_daemon_call() gives it.
 */
int client_call_json(mc_daemon *d, const char *call, json_t *args, json_t **ret_reply, int *ret_fd,
                     mc_error *err);

/*
 * Member @key of the reply object @obj as an unsigned integer: 0, or -EPROTO (Io in @err, naming
 * @call and @key) when it is missing, not an integer or negative.
 */
int client_reply_u64(const json_t *obj, const char *call, const char *key, uint64_t *ret,
                     mc_error *err);

/* A member of a reply object for client_reply_u64s(): its key and where its value goes. */
typedef struct client_u64_member {
        const char *key;
        uint64_t *ret;
} client_u64_member;

/* client_reply_u64() for each of the @n @members in order, up to the first failure. */
int client_reply_u64s(const json_t *obj, const char *call, const client_u64_member *members,
                      size_t n, mc_error *err);

/* One call on the session's connection; @args (never NULL: NULL means out of memory) is taken. */
int client_call(client_state *st, const char *name, json_t *args, json_t **ret_reply, int *ret_fd,
                mc_error *err);

/* {"mmap_id": @id}, or NULL when out of memory. */
json_t *client_id_args(uint64_t id);

/* Print @doc on stdout as the tools print JSON; a failed write fills @err. */
int client_print_json(const json_t *doc, mc_error *err);

/* "rwx" with '-' for the bits not in @prot. */
void client_prot_string(unsigned prot, char buf[static 4]);

/*
 * The options every verb takes (--help, --socket, --json), --offset and --length into @range for
 * the verbs that take them (@range NULL for the others), and the report of any other option
 * getopt_long() returned (@c). Returns OPT_HANDLED to go on parsing, or the exit status to
 * return (after --help, a usage error or an unknown option).
 */
int client_common_option(client_state *st, const char *help, const char *cmd, int c, char **argv,
                         bool *json, client_range *range);

/* The option loop of a verb that takes the common options only; OPT_HANDLED when it is done. */
int client_common_options(client_state *st, int argc, char **argv, const char *help,
                          const char *cmd, bool *json);

/* ---- cmd-client-util.c: arguments ----------------------------------------------------------- */

/* r, rw, rx, rwx or 0-7; a usage error otherwise. */
int client_parse_prot(const char *cmd, const char *text, unsigned *ret);

/* A mapping id: 1 .. 2^63 - 1, or in a session % (the last mapping made) and %N (the Nth). */
int client_parse_id(client_state *st, const char *cmd, const char *text, uint64_t *ret);

/* The single ID operand every id command takes. */
int client_parse_id_operand(client_state *st, const char *cmd, int argc, char **argv,
                            uint64_t *ret);

/* ---- cmd-client-util.c: replies ------------------------------------------------------------- */

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
int client_prot_parse(const json_t *prot);

/* A mapping of an MmapStats or MmapList reply, checked; malformed is Io (EPROTO). */
int client_map_info_parse(const json_t *o, const char *call, map_info *ret, mc_error *err);

/* The length of mapping @id, from MmapStats (needs no capability for our own mappings). */
int client_map_length(client_state *st, uint64_t id, uint64_t *ret, mc_error *err);

/*
 * The bytes of mapping @id from @offset to its end, in *@ret; InvalidArgument, as a failure of
 * @call, when @offset is past the end.
 */
int client_map_room(client_state *st, const char *call, uint64_t id, uint64_t offset, uint64_t *ret,
                    mc_error *err);

/* Add "offset" and "length" to the request or output @o, those that were given; 0 or -ENOMEM. */
int client_add_range(json_t *o, const client_range *range);

/* The "data" of a successful @call's reply, an object or an array as @type says; NULL with
 * @err filled (Io, EPROTO) when it is not. */
json_t *client_reply_data(const json_t *reply, const char *call, json_type type, mc_error *err);

/* ---- the verbs ------------------------------------------------------------------------------ */

int run_hello(client_state *st, int argc, char **argv);
int run_stats(client_state *st, int argc, char **argv);
int run_list(client_state *st, int argc, char **argv);
int run_mmap(client_state *st, int argc, char **argv);
int run_read(client_state *st, int argc, char **argv);
int run_write(client_state *st, int argc, char **argv);
int run_sync(client_state *st, int argc, char **argv);
int run_unmap(client_state *st, int argc, char **argv);
int run_protect(client_state *st, int argc, char **argv);
int run_advise(client_state *st, int argc, char **argv);
int run_lock(client_state *st, int argc, char **argv);
int run_unlock(client_state *st, int argc, char **argv);
int run_fd(client_state *st, int argc, char **argv);
int run_session(client_state *st, int argc, char **argv);

/*
 * One line of a session (cmd-client-session.c): split into words as the session's help says,
 * run as a verb; @lineno names it in errors, @echo prints it first. Returns the verb's exit
 * status (0 for a blank line or a comment).
 */
int client_session_line(client_state *st, char *line, size_t len, unsigned lineno, bool echo);

/*
 * The interactive session (cmd-client-repl.c), for a terminal on standard input: a prompt,
 * line editing and history; errors are printed and the session goes on. Returns 0 at the end
 * of input, "quit" or "exit".
 */
int client_repl(client_state *st);
int run_raw(client_state *st, int argc, char **argv);
