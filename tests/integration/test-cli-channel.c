/* SPDX-License-Identifier: MIT */
/*
 * memcap channel stat|send|recv, run as users run it: against a channel memcapd brokers (the
 * test process creates it and lives as its owner), and against a named shm channel (--shm).
 */

#include "mctest.h"

#include <jansson.h>

#include "spawn.h"
#include "mcc-shim.h"
#include "memcapd.h"
#include "error-util.h"

static void fini(void) {
        daemon_cleanup();
        mc_test_fini();
}

TestSuite(cli_channel, .init = setup_dir, .fini = fini, .timeout = 120);

/* Run memcap with @args (NULL-terminated) and @input on stdin. */
static void run(run_result *res, const char *input, const char *const *args) {
        run_full(res, input, input ? strlen(input) : 0, NULL, /* flags= */ 0, args);
}

/* A daemon that grants Channel to our uid, and channel @name made by this process. */
static mcc *daemon_with_channel(const char *name, unsigned max_message, bool eventfd) {
        mc_error e = MC_ERROR_INIT;
        json_t *args;
        mcc *c = NULL;
        int fd = -1;
        char caps[128];

        snprintf(caps, sizeof(caps), "\"capabilities\": {\"%u\": [\"Channel\"]}",
                 (unsigned) getuid());
        daemon_start_with_policy(caps, NULL);
        cr_assert(eq(int, mcc_open(D.sock, &c, &e), 0), "%s", e.message);
        args = json_pack("{s:s, s:i, s:b}", "name", name, "max_message", (int) max_message,
                         "eventfd", eventfd);
        cr_assert(eq(int, mcc_call(c, "ChannelCreate", args, NULL, &fd, &e), 0), "%s", e.message);
        cr_assert(ge(int, fd, 0));
        close(fd);
        return c;
}

Test(cli_channel, send_stat_recv_through_memcapd) {
        run_result res;
        json_t *st;
        mcc *c = daemon_with_channel("cli", 16, false);

        run(&res, NULL,
            (const char *[]){"channel", "send", "cli", "one", "two", "three", "--socket", D.sock,
                             NULL});
        EXPECT_RUN(&res, 0, NULL, NULL);

        run(&res, NULL,
            (const char *[]){"channel", "stat", "cli", "--json", "--socket", D.sock, NULL});
        ASSERT_EXIT(&res, 0);
        st = parse_json(res.out);
        cr_assert(eq(int, (int) json_integer_value(json_object_get(st, "sent")), 3));
        cr_assert(eq(int, (int) json_integer_value(json_object_get(st, "sent_bytes")), 11));
        cr_assert(eq(int, (int) json_integer_value(json_object_get(st, "received")), 0));
        cr_assert(eq(int, (int) json_integer_value(json_object_get(st, "max_message")), 16));
        cr_assert(gt(int, (int) json_integer_value(json_object_get(st, "depth_bytes")), 0));
        cr_assert(eq(int, (int) json_integer_value(json_object_get(st, "consumer_pid")), 0));
        json_decref(st);
        run_result_done(&res);

        run(&res, NULL, (const char *[]){"channel", "stat", "cli", "--socket", D.sock, NULL});
        ASSERT_EXIT(&res, 0);
        cr_assert(not(eq(ptr, strstr(res.out, "sent 3 (11 bytes), received 0"), NULL)), "%s",
                  res.out);
        run_result_done(&res);

        run(&res, NULL,
            (const char *[]){"channel", "recv", "cli", "--count", "2", "--socket", D.sock, NULL});
        EXPECT_RUN(&res, 0, "one\ntwo\n", NULL);

        /* --count 0 takes what is there and ends normally when nothing more comes. */
        run(&res, NULL,
            (const char *[]){"channel", "recv", "cli", "--count", "0", "--timeout", "0", "--socket",
                             D.sock, NULL});
        EXPECT_RUN(&res, 0, "three\n", NULL);

        /* Nothing left and the producers that sent it gone: PeerGone, at once. */
        run(&res, NULL, (const char *[]){"channel", "recv", "cli", "--socket", D.sock, NULL});
        EXPECT_RUN(&res, EXIT_KIND_BASE + MC_ERR_PEER_GONE, NULL, NULL);

        /* With a producer attached (ours), one message wanted and none in time: TimedOut. */
        {
                mc_channel_fds fds = MC_CHANNEL_FDS_INIT;
                mc_error e = MC_ERROR_INIT;
                mc_channel prod = {0};
                mc_ctx *ctx = NULL;

                cr_assert(eq(int,
                             mcc_call(c, "ChannelOpen",
                                      json_pack("{s:s, s:s}", "name", "cli", "role", "producer"),
                                      NULL, &fds.region, &e),
                             0),
                          "%s", e.message);
                cr_assert(eq(int, mc_ctx_new(&ctx, &e), 0));
                cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &prod, &e), 0),
                          "%s", e.message);
                close(fds.region);
                run(&res, NULL,
                    (const char *[]){"channel", "recv", "cli", "--timeout", "50", "--socket",
                                     D.sock, NULL});
                EXPECT_RUN(&res, EXIT_KIND_BASE + MC_ERR_TIMED_OUT, NULL, NULL);
                cr_assert(eq(int, mc_channel_close(&prod, &e), 0));
                mc_ctx_free(ctx);
        }
        mcc_close(c);
}

Test(cli_channel, send_reads_lines_of_stdin) {
        run_result res;
        mcc *c = daemon_with_channel("/lines", 16, false);

        run(&res, "alpha\n\nbeta",
            (const char *[]){"channel", "send", "lines", "--socket", D.sock, NULL});
        EXPECT_RUN(&res, 0, NULL, NULL);
        run(&res, NULL,
            (const char *[]){"channel", "recv", "lines", "-n", "3", "-t", "1000", "--socket",
                             D.sock, NULL});
        EXPECT_RUN(&res, 0, "alpha\n\nbeta\n", NULL);
        mcc_close(c);
}

Test(cli_channel, errors) {
        run_result res;
        mcc *c = daemon_with_channel("err", 4, false);

        run(&res, NULL,
            (const char *[]){"channel", "send", "err", "toolong", "--socket", D.sock, NULL});
        EXPECT_RUN(&res, EXIT_KIND_BASE + MC_ERR_INVALID_ARGUMENT, NULL, NULL);
        run(&res, NULL, (const char *[]){"channel", "stat", "nothere", "--socket", D.sock, NULL});
        ASSERT_EXIT(&res, EXIT_KIND_BASE + MC_ERR_NOT_FOUND);
        cr_assert(not(eq(ptr, strstr(res.err, "no channel '/nothere'"), NULL)), "%s", res.err);
        run_result_done(&res);

        static const char *const usage[][8] = {
                {"channel", "recv", NULL},
                {"channel", "recv", "err", "extra", NULL},
                {"channel", "recv", "err", "--timeout", "-1", NULL},
                {"channel", "recv", "err", "--timeout", "86400001", NULL},
                {"channel", "recv", "err", "--count", "x", NULL},
                {"channel", "send", "err", "--count", "2", NULL},
                {"channel", "stat", "err", "--shm", "--socket", "/x", NULL},
                {"channel", "nope", NULL},
        };
        for (size_t i = 0; i < ELEMENTSOF(usage); i++) {
                const char *args[10] = {NULL};

                for (size_t k = 0; usage[i][k]; k++)
                        args[k] = usage[i][k];
                run(&res, NULL, args);
                EXPECT_RUN(&res, EXIT_USAGE, NULL, NULL);
        }
        mcc_close(c);
}

/* --shm: a named channel, opened by name through the context, no daemon involved. */
Test(cli_channel, named_shm_channel) {
        mc_channel_options o = MC_CHANNEL_OPTIONS_INIT;
        mc_error e = MC_ERROR_INIT;
        mc_channel ch = {0};
        mc_ctx *ctx = NULL;
        run_result res;
        char name[64];

        snprintf(name, sizeof(name), "/memcap-test-cli-chan-%d", (int) getpid());
        o.max_message = 32;
        cr_assert(eq(int, mc_ctx_new(&ctx, &e), 0));
        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_NONE, &ch, &e), 0), "%s",
                  e.message);
        run(&res, NULL, (const char *[]){"channel", "send", name, "--shm", "hello", NULL});
        EXPECT_RUN(&res, 0, NULL, NULL);
        run(&res, NULL, (const char *[]){"channel", "recv", name, "--shm", "-t", "1000", NULL});
        EXPECT_RUN(&res, 0, "hello\n", NULL);
        cr_assert(eq(int, mc_channel_close(&ch, &e), 0));
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &e), 0), "%s", e.message);
        mc_ctx_free(ctx);
}

/* The tool's client receives one descriptor a reply: an eventfd channel is refused plainly. */
Test(cli_channel, eventfd_channel_is_unsupported) {
        run_result res;
        mcc *c = daemon_with_channel("ev", 8, true);

        run(&res, NULL, (const char *[]){"channel", "stat", "ev", "--socket", D.sock, NULL});
        ASSERT_EXIT(&res, EXIT_KIND_BASE + MC_ERR_UNSUPPORTED);
        cr_assert(not(eq(ptr, strstr(res.err, "event descriptors"), NULL)), "%s", res.err);
        run_result_done(&res);
        mcc_close(c);
}
