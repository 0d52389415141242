/* SPDX-License-Identifier: MIT */
/*
 * memcap channel stat|send|recv: one end of a channel (include/memcap/channel.h) for scripts.
 *
 * A channel is reached through memcapd by default (ChannelOpen hands the region's descriptor
 * over the socket; docs/protocol.md), or with --shm as a named shared memory object that
 * mc_channel_open() opens through the context (--policy, --audit). Each invocation opens its
 * end, does its work and closes it, so the end is free for the next one; messages wait in the
 * region meanwhile.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memcap/client.h>

#include "cli.h"
#include "cmd-channel.h"

static void help(void) {
        fputs("Usage: memcap channel stat NAME [--json] [--socket PATH | --shm]\n"
              "       memcap channel send NAME [MSG...] [--timeout MS] [--socket PATH | --shm]\n"
              "       memcap channel recv NAME [--timeout MS] [--count N] [--socket PATH | --shm]\n"
              "\n"
              "One end of a channel, a message queue in shared memory. NAME is a channel memcapd\n"
              "brokers (ChannelOpen; the daemon must grant this uid the Channel capability), or\n"
              "with --shm a named shared memory object created with mc_channel_create().\n"
              "Channels with event descriptors are not opened through memcapd (Unsupported).\n"
              "\n"
              "Commands:\n"
              "  stat   the channel's sizes, depth, counters and attached peers\n"
              "  send   send each MSG as one message; without MSG, each line of standard input\n"
              "         (without its newline)\n"
              "  recv   receive messages and print each, followed by a newline\n"
              "\n"
              "Options:\n"
              "  -s, --socket PATH   memcapd's socket (default: $MEMCAPD_SOCKET, or the daemon's\n"
              "                      default)\n"
              "      --shm           open NAME as a named shared memory object, not via memcapd\n"
              "  -t, --timeout MS    how long to wait for room (send) or a message (recv), in\n"
              "                      milliseconds; 0 does not wait (default: forever)\n"
              "  -n, --count N       messages to receive (default 1); 0: until the channel has\n"
              "                      no producer left or --timeout passes with nothing to read\n"
              "      --json          print JSON (stat)\n"
              "  -h, --help          show this help\n"
              "\n"
              "Exit status: 16 when NAME does not exist, 19 (TimedOut) when recv got fewer than\n"
              "N messages or send found no room in time, 22 (PeerGone) when recv waits for\n"
              "messages no producer is left to send; see 'memcap --help'.\n",
              stdout);
}

enum {
        ARG_SHM = 0x100,
        ARG_JSON,
};

typedef struct opts {
        mc_channel_role role; /* the end the command opens */
        const char *socket;
        bool shm, json;
        int64_t timeout_ns; /* MC_WAIT_FOREVER by default */
        uint64_t count;
        const char *name;
        char **rest; /* operands after NAME */
        int n_rest;
} opts;

/*
 * Parse the options of @cmd ("channel send"), which opens the end @role: only a producer takes
 * messages after NAME, only the others --count. 0 to go on, else the exit status.
 */
static int parse_opts(const char *cmd, mc_channel_role role, int argc, char **argv, opts *o) {
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"socket", required_argument, NULL, 's'},
                                                {"shm", no_argument, NULL, ARG_SHM},
                                                {"timeout", required_argument, NULL, 't'},
                                                {"count", required_argument, NULL, 'n'},
                                                {"json", no_argument, NULL, ARG_JSON},
                                                {}};
        uint64_t u;
        int c;

        *o = (opts){.role = role, .timeout_ns = MC_WAIT_FOREVER, .count = 1};
        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:t:n:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return CLI_HELP_SHOWN;
                case 's':
                        o->socket = optarg;
                        break;
                case ARG_SHM:
                        o->shm = true;
                        break;
                case 't':
                        /* At most a day, so that the nanoseconds fit whatever the clock. */
                        if (args_parse_uint(optarg, 86400000, &u) < 0)
                                return cli_usage_error(cmd, "invalid --timeout: expected "
                                                            "milliseconds from 0 to 86400000");
                        o->timeout_ns = (int64_t) u * 1000000;
                        break;
                case 'n':
                        if (args_parse_uint(optarg, UINT32_MAX, &u) < 0)
                                return cli_usage_error(cmd, "invalid --count: expected a number "
                                                            "from 0 to 4294967295");
                        o->count = u;
                        break;
                case ARG_JSON:
                        o->json = true;
                        break;
                default:
                        return cli_option_error(cmd, c, argv);
                }
        }
        if (o->shm && o->socket)
                return cli_usage_error(cmd, "--shm and --socket exclude each other");
        if (optind >= argc)
                return cli_usage_error(cmd, "missing NAME");
        o->name = argv[optind];
        o->rest = argv + optind + 1;
        o->n_rest = argc - optind - 1;
        if (role == MC_CHANNEL_PRODUCER && o->count != 1)
                return cli_usage_error(cmd, "--count is for recv");
        if (role != MC_CHANNEL_PRODUCER && o->n_rest > 0)
                return cli_usage_error(cmd, "too many arguments");
        return 0;
}

/* Open the end @o->role of the channel @o names in @ctx, through memcapd or by name. */
static int open_end(const opts *o, mc_ctx *ctx, mc_channel *ret, mc_error *err) {
        mc_channel_fds fds = MC_CHANNEL_FDS_INIT;
        _cleanup_free_ char *path = NULL, *args = NULL, *reply_text = NULL;
        json_t *reply, *data;
        mc_daemon *d = NULL;
        json_int_t nfds;
        int fd = -1, r;

        if (o->shm)
                return mc_channel_open(ctx, o->name, o->role, ret, err);
        if (!o->socket && mc_daemon_default_socket(&path) < 0)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        r = mc_daemon_connect(o->socket ? o->socket : path, &d, err);
        if (r < 0)
                return r;
        reply = json_pack("{s:s, s:s}", "name", o->name, "role", mc_channel_role_name(o->role));
        args = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        json_decref(reply);
        if (!args) {
                mc_daemon_close(d);
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        }
        r = mc_daemon_call(d, "ChannelOpen", args, &reply_text, &fd, err);
        mc_daemon_close(d);
        if (r < 0)
                return r;
        reply = json_loads(reply_text, 0, NULL);
        data = json_object_get(reply, "data");
        nfds = json_integer_value(json_object_get(data ? data : reply, "fds"));
        json_decref(reply);
        /* The client keeps one descriptor a reply; an eventfd channel needs three. */
        if (nfds != 1) {
                safe_close(fd);
                return mc_error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                    "channel '%s' comes with event descriptors; memcap channel "
                                    "opens channels without them only",
                                    o->name);
        }
        if (fd < 0)
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "ChannelOpen: no descriptor came with the reply");
        fds.region = fd;
        r = mc_channel_open_fd(ctx, &fds, o->role, ret, err);
        close(fd);
        return r;
}

static int print_stats(const char *name, const mc_channel_counts *st, bool json, mc_error *err) {
        if (json) {
                json_t *pids = json_array(), *doc;
                int r;

                for (unsigned i = 0; pids && i < st->producers && i < MC_CHANNEL_MAX_PRODUCERS; i++)
                        json_array_append_new(pids, json_integer(st->producer_pids[i]));
                doc = json_pack(
                        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                        "s:I, s:I, s:I, s:i, s:o}",
                        "name", name, "capacity", (json_int_t) st->capacity, "max_message",
                        (json_int_t) st->max_message, "max_producers",
                        (json_int_t) st->max_producers, "depth_bytes", (json_int_t) st->depth_bytes,
                        "sent", (json_int_t) st->sent, "sent_bytes", (json_int_t) st->sent_bytes,
                        "received", (json_int_t) st->received, "received_bytes",
                        (json_int_t) st->received_bytes, "send_waits", (json_int_t) st->send_waits,
                        "recv_waits", (json_int_t) st->recv_waits, "wakeups",
                        (json_int_t) st->wakeups, "abandoned", (json_int_t) st->abandoned,
                        "peers_gone", (json_int_t) st->peers_gone, "producers",
                        (json_int_t) st->producers, "consumer_pid", (int) st->consumer_pid,
                        "producer_pids", pids);
                if (!doc)
                        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
                r = json_print(doc, stdout);
                json_decref(doc);
                return r < 0 ? mc_error_errno(err, -r, "writing to standard output") : 0;
        }
        printf("channel %s\n", name);
        printf("  capacity %" PRIu64 " bytes, max message %" PRIu64 " bytes, %s\n", st->capacity,
               st->max_message,
               st->flags & MC_CHANNEL_MULTI_PRODUCER ? "multi-producer" : "single producer");
        printf("  depth %" PRIu64 " bytes\n", st->depth_bytes);
        printf("  sent %" PRIu64 " (%" PRIu64 " bytes), received %" PRIu64 " (%" PRIu64
               " bytes), abandoned %" PRIu64 "\n",
               st->sent, st->sent_bytes, st->received, st->received_bytes, st->abandoned);
        printf("  waits: send %" PRIu64 ", recv %" PRIu64 "; wakeups %" PRIu64
               "; peers gone %" PRIu64 "\n",
               st->send_waits, st->recv_waits, st->wakeups, st->peers_gone);
        if (st->consumer_pid)
                printf("  consumer pid %d\n", (int) st->consumer_pid);
        else
                printf("  consumer none\n");
        printf("  producers %u of %u", st->producers, st->max_producers);
        for (unsigned i = 0; i < st->producers && i < MC_CHANNEL_MAX_PRODUCERS; i++)
                printf("%s%d", i ? ", " : ": pid ", (int) st->producer_pids[i]);
        printf("\n");
        return 0;
}

/* What a command does with its end, opened for it and closed after it. */
typedef int (*end_work_fn)(const opts *o, mc_channel *ch, mc_error *err);

/*
 * Run @cmd: parse its options, open the end @role, do @work on it, close it and report. Returns
 * the exit status.
 */
static int run_end(const char *cmd, mc_channel_role role, end_work_fn work, int argc, char **argv) {
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel ch = {0};
        opts o;
        int r;

        r = parse_opts(cmd, role, argc, argv, &o);
        if (r != 0)
                return r == CLI_HELP_SHOWN ? 0 : r;
        r = cli_ctx_new(&ctx, &err);
        if (r >= 0)
                r = open_end(&o, ctx, &ch, &err);
        if (r >= 0)
                r = work(&o, &ch, &err);
        if (ch.impl)
                (void) mc_channel_close(&ch, NULL);
        if (r < 0)
                return error_report(&err);
        return cli_finish_output();
}

static int stat_end(const opts *o, mc_channel *ch, mc_error *err) {
        mc_channel_counts st;
        int r;

        r = mc_channel_stats(ch, &st, err);
        if (r < 0)
                return r;
        return print_stats(o->name, &st, o->json, err);
}

static int send_end(const opts *o, mc_channel *ch, mc_error *err) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        int r = 0;

        for (int i = 0; r >= 0 && i < o->n_rest; i++)
                r = mc_channel_send(ch, o->rest[i], strlen(o->rest[i]), o->timeout_ns, err);
        while (r >= 0 && o->n_rest == 0) {
                ssize_t n = getline(&line, &cap, stdin);

                if (n < 0) {
                        if (ferror(stdin))
                                r = mc_error_errno(err, errno, "reading standard input");
                        break;
                }
                if (n > 0 && line[n - 1] == '\n')
                        n--;
                r = mc_channel_send(ch, line, (size_t) n, o->timeout_ns, err);
        }
        return r;
}

static int recv_end(const opts *o, mc_channel *ch, mc_error *err) {
        _cleanup_free_ char *buf = NULL;
        mc_channel_counts st;
        int r;

        r = mc_channel_stats(ch, &st, err);
        if (r >= 0 && !(buf = malloc(st.max_message ? st.max_message : 1)))
                r = mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        for (uint64_t got = 0; r >= 0 && (o->count == 0 || got < o->count); got++) {
                r = mc_channel_recv(ch, buf, st.max_message, o->timeout_ns, err);
                if (r >= 0 && (fwrite(buf, 1, (size_t) r, stdout) != (size_t) r ||
                               fputc('\n', stdout) == EOF))
                        r = mc_error_errno(err, errno ? errno : EIO, "writing to standard output");
                /* --count 0 reads what there is: its end is a normal end. */
                if (o->count == 0 && (r == -EOWNERDEAD || r == -ETIMEDOUT || r == -EAGAIN)) {
                        r = 0;
                        break;
                }
        }
        return r;
}

static int channel_stat(int argc, char **argv) {
        return run_end("channel stat", MC_CHANNEL_NONE, stat_end, argc, argv);
}

static int channel_send(int argc, char **argv) {
        return run_end("channel send", MC_CHANNEL_PRODUCER, send_end, argc, argv);
}

static int channel_recv(int argc, char **argv) {
        return run_end("channel recv", MC_CHANNEL_CONSUMER, recv_end, argc, argv);
}

static const cli_subcommand subcommands[] = {
        {"stat", channel_stat},
        {"send", channel_send},
        {"recv", channel_recv},
};

int cmd_channel(int argc, char **argv) {
        return cli_run_subcommand("channel", subcommands, ELEMENTSOF(subcommands),
                                  "stat, send or recv", help, argc, argv);
}
