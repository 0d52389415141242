/* SPDX-License-Identifier: MIT */
/*
 * Channels (memcap/channel.h): messages in order and intact (every byte of every message is
 * checked against what its producer must have sent), across wrap-around, tiny rings, maximum
 * sizes, many producers in threads and processes; waiting, timeouts and the event-loop
 * descriptor; peers that close or are killed at any point, also between reserve and commit;
 * hostile regions; bad input; policy, quota and audit; failures forced through the seam.
 *
 * Tests that wait on another process or thread bound the wait themselves and fail with a
 * message; the suite's watchdog bounds each test as a whole. No test depends on speed.
 */

#include "common.h"

#include <fcntl.h>
#include <jansson.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "channel-def.h"

/* ---- fixtures and helpers ----------------------------------------------------------------- */

static char tracked[4][MC_SHARED_NAME_MAX + 2];
static int n_tracked;

static void channel_fini(void) {
        for (int i = 0; i < n_tracked; i++)
                (void) shm_unlink(tracked[i]);
        n_tracked = 0;
        mc_test_fini();
}

TestSuite(channel, .fini = channel_fini, .timeout = 120.0);

/* A shm name unique to this test process, unlinked at teardown. */
static const char *name_new(const char *what) {
        cr_assert(lt(int, n_tracked, (int) ELEMENTSOF(tracked)));
        snprintf(tracked[n_tracked], sizeof(tracked[0]), "/memcap-test-chan-%s-%d", what,
                 (int) getpid());
        return tracked[n_tracked++];
}

static mc_ctx *ctx_new(void) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx = NULL;

        cr_assert(eq(int, mc_ctx_new(&ctx, &err), 0), "%s", err.message);
        return ctx;
}

static mc_channel_options opts_of(size_t capacity, size_t max_message, unsigned flags) {
        mc_channel_options o = MC_CHANNEL_OPTIONS_INIT;

        o.capacity = capacity;
        o.max_message = max_message;
        o.flags = flags;
        return o;
}

/* An anonymous channel; @ch is its @role end. */
static void create_anon(mc_ctx *ctx, size_t capacity, size_t max_message, unsigned flags,
                        mc_channel_role role, mc_channel *ch) {
        mc_channel_options o = opts_of(capacity, max_message, flags);
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, role, ch, &err), 0), "%s", err.message);
}

/* Another end of @from's channel, opened from its descriptors. */
static void open_end(mc_ctx *ctx, const mc_channel *from, mc_channel_role role, mc_channel *ch) {
        mc_error err = MC_ERROR_INIT;
        mc_channel_fds fds;

        cr_assert(eq(int, mc_channel_get_fds(from, &fds, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, role, ch, &err), 0), "%s", err.message);
}

static void close_ok(mc_channel *ch) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_channel_close(ch, &err), 0), "%s", err.message);
}

static void send_ok(mc_channel *ch, const void *data, size_t len) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_channel_send(ch, data, len, MC_WAIT_FOREVER, &err), 0), "%s",
                  err.message);
}

/* A scratch buffer of @n bytes (at most 64 KiB), for calls whose data the test ignores. */
static void *buf_of(size_t n) {
        static uint8_t scratch[1 << 16];

        cr_assert(le(sz, n, sizeof(scratch)));
        return scratch;
}

/* The region of a handle, to play a hostile peer with. */
static struct mc__chan_shared *region_of(const mc_channel *ch) {
        return ch->impl->sh;
}

/*
 * Message contents a receiver can check byte for byte: the length and every byte follow from
 * (producer, sequence number). The first 12 bytes carry both, when the message is that long.
 */
static uint64_t mix(uint64_t x) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

static size_t msg_len(uint32_t producer, uint64_t seq, size_t min, size_t max) {
        return min + (size_t) (mix((uint64_t) producer << 40 ^ seq) % (max - min + 1));
}

static size_t msg_fill(uint8_t *buf, uint32_t producer, uint64_t seq, size_t min, size_t max) {
        size_t len = msg_len(producer, seq, min, max), i = 0;
        uint64_t x = mix(seq * 31 + producer);

        if (len >= 12) {
                memcpy(buf, &producer, 4);
                memcpy(buf + 4, &seq, 8);
                i = 12;
        }
        for (; i < len; i++) {
                if ((i & 7) == 0)
                        x = mix(x);
                buf[i] = (uint8_t) (x >> ((i & 7) * 8));
        }
        return len;
}

/* Whether @buf of @len is message @seq of @producer. */
static bool msg_check(const uint8_t *buf, size_t len, uint32_t producer, uint64_t seq, size_t min,
                      size_t max) {
        uint8_t want[1 << 16];

        if (max > sizeof(want))
                return false;
        return len == msg_fill(want, producer, seq, min, max) && memcmp(buf, want, len) == 0;
}

/* In a child: a failed check exits with @code, which the parent reports. */
#define CHILD_CHECK(cond, code)                                                                    \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        _exit(code);                                                               \
        } while (0)

/* Wait at most @seconds for @pid; kill it and fail the test when it does not end. */
static int wait_child(pid_t pid, double seconds) {
        int64_t deadline = mc__now_ns(CLOCK_MONOTONIC) + (int64_t) (seconds * 1e9);
        int status;

        cr_assert(gt(int, pid, 0), "fork: %s", strerror(errno));
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);

                cr_assert(not(eq(int, r, -1)), "waitpid: %s", strerror(errno));
                if (r == pid)
                        return status;
                if (mc__now_ns(CLOCK_MONOTONIC) > deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        cr_assert(eq(int, 1, 0), "child %d did not finish within %.0f s", (int) pid,
                                  seconds);
                }
                nanosleep(&(struct timespec){0, 2 * 1000 * 1000}, NULL);
        }
}

static void child_ok(pid_t pid, double seconds) {
        int status = wait_child(pid, seconds);

        cr_assert(eq(int, WIFSIGNALED(status) ? WTERMSIG(status) : 0, 0),
                  "the child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        cr_assert(eq(int, WEXITSTATUS(status), 0), "the child failed check %d",
                  WEXITSTATUS(status));
}

/* Read one byte from @fd within @seconds (a child saying it reached a point). */
static void await_byte(int fd, double seconds) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char b;

        cr_assert(eq(int, poll(&p, 1, (int) (seconds * 1000)), 1),
                  "the child did not report within %.0f s", seconds);
        cr_assert(eq(int, (int) read(fd, &b, 1), 1));
}

/* ---- basics ------------------------------------------------------------------------------- */

Test(channel, send_and_recv_in_order) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[64];

        create_anon(ctx, 4096, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        send_ok(&prod, "hello", 5);
        send_ok(&prod, "world!", 6);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 5), "%s", err.message);
        cr_assert(eq(int, memcmp(buf, "hello", 5), 0));
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), 6));
        cr_assert(eq(int, memcmp(buf, "world!", 6), 0));
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), -EAGAIN));
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, zero_length_and_max_size_messages) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        uint8_t big[1001], out[1001];

        create_anon(ctx, 4096, 1000, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (uint8_t) (i * 7);
        send_ok(&prod, NULL, 0);
        send_ok(&prod, big, 1000);
        cr_assert(eq(int, mc_channel_send(&prod, big, 1001, 0, &err), -EMSGSIZE));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_channel_recv(&cons, out, sizeof(out), 0, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_channel_recv(&cons, out, sizeof(out), 0, &err), 1000));
        cr_assert(eq(int, memcmp(out, big, 1000), 0));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, small_buffer_leaves_the_message) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[16];

        create_anon(ctx, 4096, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        send_ok(&prod, "0123456789", 10);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 4, 0, &err), -EMSGSIZE));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(not(eq(ptr, strstr(err.message, "10 bytes"), NULL)), "%s", err.message);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 10));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, reserve_commit_peek_release) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        const void *data;
        size_t len;
        void *p;

        create_anon(ctx, 4096, 100, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_reserve(&prod, 100, &p, 0, &err), 0), "%s", err.message);
        cr_assert(eq(sz, (uintptr_t) p % 8, 0));
        /* Nothing is visible before the commit. */
        cr_assert(eq(int, mc_channel_peek(&cons, &data, &len, 0, &err), -EAGAIN));
        cr_assert(eq(int, mc_channel_reserve(&prod, 1, &p, 0, &err), -EINVAL), "one at a time");
        memcpy(p, "zero-copy", 9);
        cr_assert(eq(int, mc_channel_commit(&prod, 101, &err), -EINVAL));
        cr_assert(eq(int, mc_channel_commit(&prod, 9, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_channel_commit(&prod, 9, &err), -EINVAL), "no reservation");
        /* A cancelled reservation delivers nothing. */
        cr_assert(eq(int, mc_channel_reserve(&prod, 50, &p, 0, &err), 0));
        cr_assert(eq(int, mc_channel_cancel(&prod, &err), 0));
        cr_assert(eq(int, mc_channel_cancel(&prod, &err), -EINVAL));
        send_ok(&prod, "next", 4);

        cr_assert(eq(int, mc_channel_peek(&cons, &data, &len, 0, &err), 0), "%s", err.message);
        cr_assert(eq(sz, len, 9));
        cr_assert(eq(int, memcmp(data, "zero-copy", 9), 0));
        cr_assert(eq(int, mc_channel_peek(&cons, &data, &len, 0, &err), 0), "peek again");
        cr_assert(eq(sz, len, 9));
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[16]){0}, 16, 0, &err), -EINVAL),
                  "recv while a message is peeked");
        cr_assert(eq(int, mc_channel_release(&cons, &err), 0));
        cr_assert(eq(int, mc_channel_release(&cons, &err), -EINVAL));
        cr_assert(eq(int, mc_channel_peek(&cons, &data, &len, 0, &err), 0));
        cr_assert(eq(sz, len, 4));
        cr_assert(eq(int, memcmp(data, "next", 4), 0));
        cr_assert(eq(int, mc_channel_release(&cons, &err), 0));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* Many messages of varied sizes through a ring they wrap around again and again. */
static void wrap_around(size_t capacity, size_t max_message, unsigned flags) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        uint8_t buf[1024], out[1024];

        create_anon(ctx, capacity, max_message, flags, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        for (uint64_t seq = 0, got = 0; got < 20000;) {
                size_t len = msg_fill(buf, 0, seq, 0, max_message);
                int r = mc_channel_try_send(&prod, buf, len, &err);

                if (r == 0) {
                        seq++;
                        continue;
                }
                cr_assert(eq(int, r, -EAGAIN), "%s", err.message);
                /* Full: drain a random number of messages. */
                for (uint64_t k = mix(seq) % 5 + 1; k > 0 && got < seq; k--, got++) {
                        r = mc_channel_try_recv(&cons, out, sizeof(out), &err);
                        cr_assert(ge(int, r, 0), "%s", err.message);
                        cr_assert(msg_check(out, (size_t) r, 0, got, 0, max_message),
                                  "message %" PRIu64 " differs", got);
                }
        }
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, wrap_around_tiny_ring) {
        /* 64 bytes of ring: a 24-byte message and its header take half. */
        wrap_around(64, 24, 0);
}

Test(channel, wrap_around_odd_sizes) {
        wrap_around(1024, 500, 0);
}

Test(channel, wrap_around_multi_producer) {
        wrap_around(256, 100, MC_CHANNEL_MULTI_PRODUCER);
}

Test(channel, max_message_exactly_half_the_ring) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        uint8_t buf[120] = {1}, out[120];

        /* 8 + 120 = 128 = half of 256: the largest a 256-byte ring takes. */
        create_anon(ctx, 256, 120, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        for (int i = 0; i < 100; i++) {
                buf[0] = (uint8_t) i;
                send_ok(&prod, buf, 120 - (size_t) (i % 3) * 8);
                cr_assert(eq(int, mc_channel_recv(&cons, out, sizeof(out), 0, &err),
                             120 - (i % 3) * 8),
                          "%s", err.message);
                cr_assert(eq(u8, out[0], (uint8_t) i));
        }
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, multi_producer_short_commits_and_cancels_keep_order) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, a, b;
        void *pa, *pb;
        char buf[100];

        create_anon(ctx, 1024, 100, MC_CHANNEL_MULTI_PRODUCER, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &a);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &b);
        for (int round = 0; round < 50; round++) {
                /* a reserves first, b second; b commits first: the order is a's then b's. */
                cr_assert(eq(int, mc_channel_reserve(&a, 100, &pa, 0, &err), 0), "%s", err.message);
                cr_assert(eq(int, mc_channel_reserve(&b, 100, &pb, 0, &err), 0), "%s", err.message);
                memcpy(pb, "bee", 3);
                cr_assert(eq(int, mc_channel_commit(&b, 3, &err), 0));
                cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), -EAGAIN),
                          "b's message waits behind a's reservation");
                if (round % 2) {
                        cr_assert(eq(int, mc_channel_cancel(&a, &err), 0));
                } else {
                        memcpy(pa, "a", 1);
                        cr_assert(eq(int, mc_channel_commit(&a, 1, &err), 0));
                        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), 1));
                        cr_assert(eq(int, buf[0], 'a'));
                }
                cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), 3), "%s",
                          err.message);
                cr_assert(eq(int, memcmp(buf, "bee", 3), 0));
        }
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), -EAGAIN));
        close_ok(&a);
        close_ok(&b);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* ---- waiting ------------------------------------------------------------------------------ */

Test(channel, recv_times_out) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        int64_t t0 = mc__now_ns(CLOCK_MONOTONIC);

        create_anon(ctx, 4096, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, 30 * 1000000, &err),
                     -ETIMEDOUT));
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(ge(i64, mc__now_ns(CLOCK_MONOTONIC) - t0, 30 * 1000000), "not before it");
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, -5, &err), -EINVAL));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, send_times_out_when_full) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[24] = "x";
        int n = 0;

        create_anon(ctx, 64, 24, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        while (mc_channel_try_send(&prod, buf, 24, &err) == 0)
                n++;
        cr_assert(eq(int, n, 2), "two 32-byte records fill 64 bytes");
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(eq(int, mc_channel_send(&prod, buf, 24, 20 * 1000000, &err), -ETIMEDOUT));
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 24));
        cr_assert(eq(int, mc_channel_send(&prod, buf, 24, 0, &err), 0), "room again");
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

typedef struct pump {
        mc_channel *ch;
        uint32_t producer;
        uint64_t count;
        size_t min, max;
        int result; /* 0, or the failing call's return */
        mc_error err;
} pump;

/* A producer thread: @count checkable messages, blocking sends. */
static void *produce(void *arg) {
        pump *p = arg;
        uint8_t buf[1 << 16];

        for (uint64_t seq = 0; seq < p->count; seq++) {
                size_t len = msg_fill(buf, p->producer, seq, p->min, p->max);
                int r = mc_channel_send(p->ch, buf, len, 30 * INT64_C(1000000000), &p->err);

                if (r < 0) {
                        p->result = r;
                        break;
                }
        }
        return NULL;
}

Test(channel, blocked_sides_are_woken) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pump p = {.ch = &prod, .count = 200000, .min = 0, .max = 40};
        uint8_t out[64];
        pthread_t t;
        mc_channel_counts s;

        /* A tiny ring: both sides block and wake each other over and over. */
        create_anon(ctx, 128, 40, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_set_spin(&cons, 0, &err), 0), "sleep at once");
        cr_assert(eq(int, mc_channel_set_spin(&prod, 0, &err), 0));
        cr_assert(eq(int, pthread_create(&t, NULL, produce, &p), 0));
        for (uint64_t seq = 0; seq < p.count; seq++) {
                int r = mc_channel_recv(&cons, out, sizeof(out), 30 * INT64_C(1000000000), &err);

                cr_assert(ge(int, r, 0), "message %" PRIu64 ": %s", seq, err.message);
                cr_assert(msg_check(out, (size_t) r, 0, seq, 0, 40), "message %" PRIu64, seq);
        }
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        cr_assert(eq(int, p.result, 0), "%s", p.err.message);
        cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
        cr_assert(eq(u64, s.sent, p.count));
        cr_assert(eq(u64, s.received, p.count));
        cr_assert(eq(u64, s.depth_bytes, 0));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* The consumer in another process, the producer in this one; @n checkable messages. */
Test(channel, two_processes_two_million_messages) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        const uint64_t n = 2000000;
        mc_channel prod, cons;
        pid_t pid;

        create_anon(ctx, 4096, 64, 0, MC_CHANNEL_PRODUCER, &prod);
        pid = fork();
        if (pid == 0) {
                uint8_t out[64];
                mc_channel_fds fds;

                CHILD_CHECK(mc_channel_get_fds(&prod, &fds, NULL) == 0, 10);
                CHILD_CHECK(mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &cons, NULL) == 0,
                            11);
                CHILD_CHECK(mc_channel_close(&prod, NULL) == 0, 12); /* the inherited copy */
                for (uint64_t seq = 0; seq < n; seq++) {
                        int r = mc_channel_recv(&cons, out, sizeof(out), 30 * INT64_C(1000000000),
                                                NULL);
                        CHILD_CHECK(r >= 0, 13);
                        CHILD_CHECK(msg_check(out, (size_t) r, 7, seq, 0, 64), 14);
                }
                /* The producer closed after its last message: empty and gone. */
                CHILD_CHECK(mc_channel_recv(&cons, out, sizeof(out), 30 * INT64_C(1000000000),
                                            NULL) == -EOWNERDEAD,
                            15);
                CHILD_CHECK(mc_channel_close(&cons, NULL) == 0, 16);
                _exit(0);
        }
        cr_assert(gt(int, pid, 0));
        {
                pump p = {.ch = &prod, .producer = 7, .count = n, .min = 0, .max = 64};

                produce(&p);
                cr_assert(eq(int, p.result, 0), "%s", p.err.message);
        }
        close_ok(&prod);
        child_ok(pid, 100);
        (void) err;
        mc_ctx_free(ctx);
}

/* ---- many producers ----------------------------------------------------------------------- */

/* The consumer's side of many producers: per producer, sequence numbers in order. */
static void consume_all(mc_channel *cons, uint32_t producers, uint64_t per, size_t min,
                        size_t max) {
        uint64_t next[MC_CHANNEL_MAX_PRODUCERS] = {0};
        mc_error err = MC_ERROR_INIT;
        static uint8_t out[1 << 16];

        for (uint64_t i = 0; i < producers * per; i++) {
                uint32_t who;
                int r = mc_channel_recv(cons, out, sizeof(out), 30 * INT64_C(1000000000), &err);

                cr_assert(ge(int, r, 12), "message %" PRIu64 ": %d %s", i, r, err.message);
                memcpy(&who, out, 4);
                cr_assert(lt(u32, who, producers));
                cr_assert(msg_check(out, (size_t) r, who, next[who], min, max),
                          "producer %u message %" PRIu64 " differs or is out of order", who,
                          next[who]);
                next[who]++;
        }
}

Test(channel, many_producer_threads) {
        enum { P = 8 };
        mc_ctx *ctx = ctx_new();
        mc_channel cons, prod[P];
        pump pumps[P];
        pthread_t t[P];

        create_anon(ctx, 512, 200, MC_CHANNEL_MULTI_PRODUCER, MC_CHANNEL_CONSUMER, &cons);
        for (int i = 0; i < P; i++) {
                open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod[i]);
                pumps[i] = (pump){.ch = &prod[i],
                                  .producer = (uint32_t) i,
                                  .count = 50000,
                                  .min = 12,
                                  .max = 200};
                cr_assert(eq(int, pthread_create(&t[i], NULL, produce, &pumps[i]), 0));
        }
        consume_all(&cons, P, 50000, 12, 200);
        for (int i = 0; i < P; i++) {
                cr_assert(eq(int, pthread_join(t[i], NULL), 0));
                cr_assert(eq(int, pumps[i].result, 0), "%s", pumps[i].err.message);
                close_ok(&prod[i]);
        }
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, many_producer_processes_named) {
        enum { P = 4 };
        const uint64_t per = 250000;
        mc_ctx *ctx = ctx_new();
        const char *name = name_new("mp");
        mc_channel_options o = opts_of(1024, 100, MC_CHANNEL_MULTI_PRODUCER);
        mc_error err = MC_ERROR_INIT;
        mc_channel cons;
        mc_channel_counts s;
        pid_t pids[P];

        o.max_producers = P;
        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_CONSUMER, &cons, &err), 0),
                  "%s", err.message);
        for (int i = 0; i < P; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        mc_ctx *c2 = NULL;
                        mc_channel prod;
                        pump p = {.ch = &prod,
                                  .producer = (uint32_t) i,
                                  .count = per,
                                  .min = 12,
                                  .max = 100};

                        /* A fresh context, as an unrelated process would have. */
                        CHILD_CHECK(mc_ctx_new(&c2, NULL) == 0, 10);
                        CHILD_CHECK(mc_channel_open(c2, name, MC_CHANNEL_PRODUCER, &prod, NULL) ==
                                            0,
                                    11);
                        produce(&p);
                        CHILD_CHECK(p.result == 0, 12);
                        CHILD_CHECK(mc_channel_close(&prod, NULL) == 0, 13);
                        mc_ctx_free(c2);
                        _exit(0);
                }
                cr_assert(gt(int, pids[i], 0));
        }
        consume_all(&cons, P, per, 12, 100);
        for (int i = 0; i < P; i++)
                child_ok(pids[i], 60);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[100]){0}, 100, MC_WAIT_FOREVER, &err),
                     -EOWNERDEAD),
                  "every producer closed: %s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE));
        cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
        cr_assert(eq(u64, s.sent, P * per));
        cr_assert(eq(u64, s.received, P * per));
        cr_assert(eq(u32, s.producers, 0));
        cr_assert(eq(u64, s.abandoned, 0));
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, producer_slots_are_limited) {
        mc_ctx *ctx = ctx_new();
        mc_channel_options o = opts_of(1024, 64, MC_CHANNEL_MULTI_PRODUCER);
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, a, b, c;

        o.max_producers = 2;
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &cons, &err), 0));
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &a);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &b);
        {
                mc_channel_fds fds;

                cr_assert(eq(int, mc_channel_get_fds(&cons, &fds, &err), 0));
                cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &c, &err),
                             -EEXIST));
                cr_assert(eq(int, err.kind, MC_ERR_ALREADY_EXISTS));
                cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &c, &err),
                             -EEXIST),
                          "one consumer");
                close_ok(&a);
                cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &c, &err), 0),
                          "a closed end's slot is free again: %s", err.message);
        }
        close_ok(&b);
        close_ok(&c);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, single_producer_refuses_a_second) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, a, b;
        mc_channel_fds fds;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &a);
        cr_assert(eq(int, mc_channel_get_fds(&cons, &fds, &err), 0));
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &b, &err), -EEXIST));
        cr_assert(not(eq(ptr, strstr(err.message, "MC_CHANNEL_MULTI_PRODUCER"), NULL)), "%s",
                  err.message);
        close_ok(&a);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* ---- peers that go away ------------------------------------------------------------------- */

Test(channel, closed_producer_is_peer_gone_after_its_messages) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[8];

        create_anon(ctx, 1024, 8, 0, MC_CHANNEL_CONSUMER, &cons);
        /* Before any producer came, an empty channel only times out. */
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 8, 1000000, &err), -ETIMEDOUT));
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        send_ok(&prod, "last", 4);
        close_ok(&prod);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 8, MC_WAIT_FOREVER, &err), 4),
                  "what was sent before the close arrives");
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 8, MC_WAIT_FOREVER, &err), -EOWNERDEAD));
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE));
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, 8, &err), -EOWNERDEAD));
        /* A new producer makes the channel live again. */
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, 8, &err), -EAGAIN));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* A waiting consumer whose producer closes is woken at once, not after a peer check. */
static void *close_later(void *arg) {
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        mc_channel_close(arg, NULL);
        return NULL;
}

Test(channel, waiting_consumer_sees_close) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pthread_t t;

        create_anon(ctx, 1024, 8, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, pthread_create(&t, NULL, close_later, &prod), 0));
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[8]){0}, 8, MC_WAIT_FOREVER, &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, closed_consumer_is_peer_gone_for_a_full_producer) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        int sent = 0;

        create_anon(ctx, 128, 24, 0, MC_CHANNEL_PRODUCER, &prod);
        open_end(ctx, &prod, MC_CHANNEL_CONSUMER, &cons);
        close_ok(&cons);
        /* Room is still used up, then the producer learns. */
        while (mc_channel_send(&prod, "x", 1, MC_WAIT_FOREVER, &err) == 0)
                sent++;
        cr_assert(eq(int, sent, 128 / 16));
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE), "%s", err.message);
        close_ok(&prod);
        mc_ctx_free(ctx);
}

/*
 * A producer process killed between reserve and commit: the consumer gets what was committed,
 * never the half-written message, and PeerGone within a bounded time.
 */
Test(channel, producer_killed_between_reserve_and_commit) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[64];
        int sync[2];
        pid_t pid;
        int64_t t0;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        cr_assert(eq(int, pipe2(sync, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                mc_channel_fds fds;
                void *p;

                CHILD_CHECK(mc_channel_get_fds(&cons, &fds, NULL) == 0, 10);
                CHILD_CHECK(mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &prod, NULL) == 0,
                            11);
                CHILD_CHECK(mc_channel_send(&prod, "committed", 9, 0, NULL) == 0, 12);
                CHILD_CHECK(mc_channel_reserve(&prod, 64, &p, 0, NULL) == 0, 13);
                memcpy(p, "half-wri", 8);
                CHILD_CHECK(write(sync[1], "r", 1) == 1, 14);
                pause();
                _exit(15);
        }
        cr_assert(gt(int, pid, 0));
        await_byte(sync[0], 30);
        kill(pid, SIGKILL);
        /* Not reaped yet on purpose: a zombie is gone too. */
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), MC_WAIT_FOREVER, &err), 9), "%s",
                  err.message);
        cr_assert(eq(int, memcmp(buf, "committed", 9), 0));
        t0 = mc__now_ns(CLOCK_MONOTONIC);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 30 * INT64_C(1000000000), &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE));
        (void) t0;
        {
                mc_channel_counts s;

                cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
                cr_assert(eq(u64, s.peers_gone, 1));
                cr_assert(eq(u32, s.producers, 0));
        }
        cr_assert(eq(int, WTERMSIG(wait_child(pid, 30)), SIGKILL));
        close(sync[0]);
        close(sync[1]);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/*
 * Multi-producer: one producer dies holding a reservation in the middle of the ring; the
 * consumer skips its room (abandoned) and the other producer's messages still come, in order.
 */
Test(channel, killed_producer_leaves_others_running) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        mc_channel_counts s;
        char buf[64];
        int sync[2];
        pid_t pid;

        create_anon(ctx, 1024, 64, MC_CHANNEL_MULTI_PRODUCER, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        send_ok(&prod, "before", 6);
        cr_assert(eq(int, pipe2(sync, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                mc_channel_fds fds;
                mc_channel mine;
                void *p;

                CHILD_CHECK(mc_channel_get_fds(&cons, &fds, NULL) == 0, 10);
                CHILD_CHECK(mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &mine, NULL) == 0,
                            11);
                CHILD_CHECK(mc_channel_reserve(&mine, 40, &p, 0, NULL) == 0, 12);
                memset(p, 'X', 40);
                CHILD_CHECK(write(sync[1], "r", 1) == 1, 13);
                pause();
                _exit(14);
        }
        cr_assert(gt(int, pid, 0));
        await_byte(sync[0], 30);
        send_ok(&prod, "after", 5); /* behind the dying producer's reservation */
        kill(pid, SIGKILL);
        cr_assert(eq(int, WTERMSIG(wait_child(pid, 30)), SIGKILL));
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 6));
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 30 * INT64_C(1000000000), &err),
                     5),
                  "%s", err.message);
        cr_assert(eq(int, memcmp(buf, "after", 5), 0));
        cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
        cr_assert(eq(u64, s.abandoned, 1));
        cr_assert(eq(u32, s.producers, 1));
        send_ok(&prod, "still", 5);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 5));
        close(sync[0]);
        close(sync[1]);
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/*
 * A producer dies holding a reservation and a new producer takes its slot before the consumer
 * looks: the dead one's record carries the old generation and is skipped, the new one's read.
 */
Test(channel, reservation_of_a_replaced_producer_is_skipped) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        mc_channel_counts s;
        mc_channel_options o = opts_of(1024, 64, MC_CHANNEL_MULTI_PRODUCER);
        char buf[64];
        pid_t pid;

        o.max_producers = 1; /* so the new producer must take the dead one's slot */
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &cons, &err), 0));
        pid = fork();
        if (pid == 0) {
                mc_channel_fds fds;
                mc_channel mine;
                void *p;

                CHILD_CHECK(mc_channel_get_fds(&cons, &fds, NULL) == 0, 10);
                CHILD_CHECK(mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &mine, NULL) == 0,
                            11);
                CHILD_CHECK(mc_channel_reserve(&mine, 40, &p, 0, NULL) == 0, 12);
                _exit(0); /* dies with it */
        }
        child_ok(pid, 30);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod); /* reclaims slot 0 */
        cr_assert(eq(int, prod.impl->slot, 0));
        send_ok(&prod, "new", 3);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 3), "%s", err.message);
        cr_assert(eq(int, memcmp(buf, "new", 3), 0));
        cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
        cr_assert(eq(u64, s.abandoned, 1));
        cr_assert(eq(u64, s.peers_gone, 1));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* A peer table entry naming a process that is not the one that attached is not believed. */
Test(channel, forged_peer_entry_is_not_trusted) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        /* "pid 1 since tick 0xdeadbeef": init, but not started then; and a pid of 0. */
        atomic_store(&region_of(&cons)->producers[0], UINT64_C(0xdeadbeef) << 32 | 1);
        atomic_store(&region_of(&cons)->producers_ever, 1);
        cr_assert(eq(int, mc_channel_recv(&cons, buf_of(64), 64, 30 * INT64_C(1000000000), &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        atomic_store(&region_of(&cons)->producers[0], UINT64_C(7) << 32);
        cr_assert(eq(int, mc_channel_recv(&cons, buf_of(64), 64, 30 * INT64_C(1000000000), &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* A producer that died holding the reserve lock does not wedge the others. */
Test(channel, lock_of_a_dead_producer_is_taken_over) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod, victim;
        uint32_t word;
        pid_t pid;

        create_anon(ctx, 1024, 64, MC_CHANNEL_MULTI_PRODUCER, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        pid = fork();
        if (pid == 0) {
                mc_channel_fds fds;

                CHILD_CHECK(mc_channel_get_fds(&cons, &fds, NULL) == 0, 10);
                CHILD_CHECK(mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &victim, NULL) == 0,
                            11);
                /* Take the lock as mc__chan_lock() does, and die with it. */
                word = (uint32_t) (victim.impl->slot + 1) | victim.impl->gen << 8;
                atomic_store(&region_of(&victim)->lock, word);
                _exit(0);
        }
        child_ok(pid, 30);
        cr_assert(not(eq(u32, atomic_load(&region_of(&cons)->lock), 0)), "the child holds it");
        cr_assert(eq(int, mc_channel_send(&prod, "through", 7, 30 * INT64_C(1000000000), &err), 0),
                  "%s", err.message);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, 0, &err), 7));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, killed_consumer_is_peer_gone_and_its_slot_reusable) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        int sync[2];
        pid_t pid;

        create_anon(ctx, 128, 24, 0, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, pipe2(sync, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                mc_channel_fds fds;
                const void *d;
                size_t n;

                CHILD_CHECK(mc_channel_get_fds(&prod, &fds, NULL) == 0, 10);
                CHILD_CHECK(mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &cons, NULL) == 0,
                            11);
                CHILD_CHECK(mc_channel_peek(&cons, &d, &n, MC_WAIT_FOREVER, NULL) == 0, 12);
                CHILD_CHECK(write(sync[1], "p", 1) == 1, 13);
                pause();
                _exit(14);
        }
        cr_assert(gt(int, pid, 0));
        send_ok(&prod, "peeked", 6);
        await_byte(sync[0], 30);
        kill(pid, SIGKILL);
        while (mc_channel_send(&prod, "fill", 4, 30 * INT64_C(1000000000), &err) == 0)
                ;
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE), "%s", err.message);
        cr_assert(eq(int, WTERMSIG(wait_child(pid, 30)), SIGKILL));
        /* A new consumer takes the slot and gets the message the dead one only peeked. */
        open_end(ctx, &prod, MC_CHANNEL_CONSUMER, &cons);
        {
                char buf[24];

                cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 6));
                cr_assert(eq(int, memcmp(buf, "peeked", 6), 0));
        }
        close(sync[0]);
        close(sync[1]);
        close_ok(&cons);
        close_ok(&prod);
        mc_ctx_free(ctx);
}

Test(channel, handle_inherited_through_fork_is_refused) {
        mc_ctx *ctx = ctx_new();
        mc_channel cons, prod;
        pid_t pid;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        pid = fork();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;

                CHILD_CHECK(mc_channel_send(&prod, "x", 1, 0, &e) == -EINVAL, 10);
                CHILD_CHECK(strstr(e.message, "fork()") != NULL, 11);
                CHILD_CHECK(mc_channel_try_recv(&cons, &(char[8]){0}, 8, NULL) == -EINVAL, 12);
                /* Closing the copies leaves the parent's ends attached. */
                CHILD_CHECK(mc_channel_close(&prod, NULL) == 0, 13);
                CHILD_CHECK(mc_channel_close(&cons, NULL) == 0, 14);
                _exit(0);
        }
        child_ok(pid, 30);
        send_ok(&prod, "parent", 6);
        cr_assert(eq(int, mc_channel_try_recv(&cons, &(char[8]){0}, 8, NULL), 6));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

/* ---- event loops -------------------------------------------------------------------------- */

Test(channel, eventfd_wakes_an_event_loop) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pump p = {.ch = &prod, .count = 20000, .min = 0, .max = 32};
        uint64_t seq = 0;
        pthread_t t;
        int fd;

        create_anon(ctx, 256, 32, MC_CHANNEL_EVENTFD, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_fd(&cons, &fd, &err), 0), "%s", err.message);
        cr_assert(eq(int, pthread_create(&t, NULL, produce, &p), 0));
        while (seq < p.count) {
                struct pollfd pf = {.fd = fd, .events = POLLIN};
                uint8_t out[32];
                int r;

                cr_assert(eq(int, poll(&pf, 1, 30000), 1), "the eventfd never became readable");
                while ((r = mc_channel_try_recv(&cons, out, sizeof(out), &err)) >= 0) {
                        cr_assert(msg_check(out, (size_t) r, 0, seq, 0, 32));
                        seq++;
                }
                cr_assert(eq(int, r, -EAGAIN), "%s", err.message);
        }
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        cr_assert(eq(int, p.result, 0), "%s", p.err.message);
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, eventfd_needs_an_anonymous_eventfd_channel) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel_options o = opts_of(1024, 64, MC_CHANNEL_EVENTFD);
        mc_channel cons, prod, obs;
        mc_channel_fds fds;
        int fd, efd;

        cr_assert(eq(int,
                     mc_channel_create(ctx, name_new("evt"), &o, MC_CHANNEL_CONSUMER, &cons, &err),
                     -EOPNOTSUPP));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        cr_assert(eq(int, mc_channel_fd(&cons, &fd, &err), -EOPNOTSUPP));
        close_ok(&cons);

        create_anon(ctx, 1024, 64, MC_CHANNEL_EVENTFD | MC_CHANNEL_MULTI_PRODUCER,
                    MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_fd(&prod, &fd, &err), -EOPNOTSUPP), "producers share it");
        cr_assert(eq(int, mc_channel_fd(&cons, &fd, &err), 0), "%s", err.message);
        close_ok(&prod);
        close_ok(&cons);

        create_anon(ctx, 1024, 64, MC_CHANNEL_EVENTFD, MC_CHANNEL_NONE, &obs);
        cr_assert(eq(int, mc_channel_fd(&obs, &fd, &err), -EINVAL), "neither end");
        cr_assert(eq(int, mc_channel_get_fds(&obs, &fds, &err), 0));
        cr_assert(ge(int, fds.recv_event, 0));
        {
                mc_channel_fds bad = fds;

                bad.recv_event = -1;
                cr_assert(eq(int, mc_channel_open_fd(ctx, &bad, MC_CHANNEL_PRODUCER, &prod, &err),
                             -EINVAL));
                bad.recv_event = fds.region; /* not an eventfd */
                cr_assert(eq(int, mc_channel_open_fd(ctx, &bad, MC_CHANNEL_PRODUCER, &prod, &err),
                             -EINVAL));
                cr_assert(not(eq(ptr, strstr(err.message, "not an eventfd"), NULL)), "%s",
                          err.message);
        }
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &prod, &err), 0), "%s",
                  err.message);
        close_ok(&prod);
        close_ok(&obs);

        /* Event descriptors for a channel that has none are a mistake, not ignored. */
        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_NONE, &obs);
        cr_assert(eq(int, mc_channel_get_fds(&obs, &fds, &err), 0));
        efd = eventfd(0, EFD_CLOEXEC);
        fds.recv_event = efd;
        cr_assert(
                eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &prod, &err), -EINVAL));
        close(efd);
        close_ok(&obs);
        mc_ctx_free(ctx);
}

/* ---- a hostile peer ----------------------------------------------------------------------- */

/* A consumer and producer whose region a test then corrupts. */
static void hostile_pair(mc_ctx *ctx, unsigned flags, mc_channel *cons, mc_channel *prod) {
        create_anon(ctx, 1024, 64, flags, MC_CHANNEL_CONSUMER, cons);
        open_end(ctx, cons, MC_CHANNEL_PRODUCER, prod);
}

static void expect_corrupt(int r, const mc_error *err) {
        cr_assert(eq(int, r, -EBADMSG), "%d: %s", r, err->message);
        cr_assert(eq(int, err->kind, MC_ERR_IO));
        cr_assert(not(eq(ptr, strstr(err->message, "corrupt"), NULL)), "%s", err->message);
}

Test(channel, hostile_tail_is_refused_and_breaks_the_handle) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[64];

        hostile_pair(ctx, 0, &cons, &prod);
        send_ok(&prod, "ok", 2);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 2));
        atomic_store(&region_of(&cons)->tail, UINT64_C(1) << 40); /* far past the ring */
        expect_corrupt(mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), &err);
        atomic_store(&region_of(&cons)->tail, 16);
        expect_corrupt(mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), &err); /* sticky */
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, hostile_record_lengths_are_refused) {
        static const uint64_t bad[] = {
                65,                   /* above max_message */
                UINT64_C(0xffffffff), /* far past the end */
                MC__REC_PAD | 2000,   /* a pad past the end of the ring */
                MC__REC_BUSY | 8,     /* reserved, in a single-producer channel */
                (UINT64_C(9) << MC__REC_SLOT_SHIFT) | 8, /* a producer slot that is not there */
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mc_ctx *ctx = ctx_new();
                mc_error err = MC_ERROR_INIT;
                mc_channel cons, prod;
                char buf[64];

                hostile_pair(ctx, 0, &cons, &prod);
                send_ok(&prod, "0123456789", 10);
                /* Rewrite the committed record's header as a hostile producer would. */
                atomic_store((_Atomic uint64_t *) (void *) ((uint8_t *) region_of(&cons) +
                                                            MC_CHANNEL_HEADER_SIZE),
                             bad[i]);
                expect_corrupt(mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), &err);
                close_ok(&prod);
                close_ok(&cons);
                mc_ctx_free(ctx);
        }
}

Test(channel, hostile_record_crossing_the_tail_is_refused) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        const void *d;
        size_t n;

        hostile_pair(ctx, 0, &cons, &prod);
        send_ok(&prod, "0123456789", 10); /* a 24-byte record */
        atomic_store((_Atomic uint64_t *) (void *) ((uint8_t *) region_of(&cons) +
                                                    MC_CHANNEL_HEADER_SIZE),
                     40); /* says 48 bytes: runs past tail */
        expect_corrupt(mc_channel_peek(&cons, &d, &n, 0, &err), &err);
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, hostile_head_is_refused_by_the_producer) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;

        for (int multi = 0; multi < 2; multi++) {
                hostile_pair(ctx, multi ? MC_CHANNEL_MULTI_PRODUCER : 0, &cons, &prod);
                atomic_store(&region_of(&cons)->head, 3); /* not a record boundary */
                /* The producer looks at head only when its cached view says full. */
                for (int i = 0; i < 100; i++) {
                        int r = mc_channel_send(&prod, "0123456789abcdef", 16, 0, &err);

                        if (r < 0) {
                                expect_corrupt(r, &err);
                                break;
                        }
                        cr_assert(lt(int, i, 99), "never noticed");
                }
                close_ok(&prod);
                close_ok(&cons);
        }
        mc_ctx_free(ctx);
}

/* Open the channel @ch's region after @corrupt changed it; the open must fail with @kind. */
static void open_corrupted(void (*corrupt)(struct mc__chan_shared *, int fd), mc_error_kind kind,
                           const char *needle) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;
        mc_channel_fds fds;
        int r;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_NONE, &owner);
        cr_assert(eq(int, mc_channel_get_fds(&owner, &fds, &err), 0));
        corrupt(region_of(&owner), fds.region);
        r = mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err);
        cr_assert(lt(int, r, 0), "opened a corrupt channel");
        cr_assert(eq(int, err.kind, kind), "%s", err.message);
        cr_assert(not(eq(ptr, strstr(err.message, needle), NULL)), "%s", err.message);
        close_ok(&owner);
        mc_ctx_free(ctx);
}

static void bad_magic(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        atomic_store(&sh->magic, UINT64_C(0x1234));
}

static void no_magic(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        atomic_store(&sh->magic, 0);
}

static void bad_version(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->version = 99;
}

static void bad_capacity(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->capacity = 1000; /* not a power of two */
}

static void bigger_region(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->capacity = 2048; /* the header's sizes agree, the region does not */
        sh->region_size = MC_CHANNEL_HEADER_SIZE + 2048;
}

static void huge_message(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->max_message = 600; /* more than half the ring */
}

static void bad_flags(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->flags = 0x80;
}

static void bad_producers(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->max_producers = 5; /* a single-producer channel */
}

static void bad_positions(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        atomic_store(&sh->tail, 4096);
}

Test(channel, corrupt_headers_are_refused_at_open) {
        open_corrupted(bad_magic, MC_ERR_INVALID_ARGUMENT, "bad magic");
        open_corrupted(no_magic, MC_ERR_INVALID_ARGUMENT, "not a channel");
        open_corrupted(bad_version, MC_ERR_INVALID_ARGUMENT, "version 99");
        open_corrupted(bad_capacity, MC_ERR_INVALID_ARGUMENT, "inconsistent sizes");
        open_corrupted(bigger_region, MC_ERR_INVALID_ARGUMENT, "header says");
        open_corrupted(huge_message, MC_ERR_INVALID_ARGUMENT, "does not fit");
        open_corrupted(bad_flags, MC_ERR_INVALID_ARGUMENT, "unknown flags");
        open_corrupted(bad_producers, MC_ERR_INVALID_ARGUMENT, "producer slots");
        open_corrupted(bad_positions, MC_ERR_IO, "corrupt");
}

static void eventfd_flag(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->flags |= MC_CHANNEL_EVENTFD;
}

Test(channel, named_region_claiming_event_descriptors_is_refused) {
        mc_ctx *ctx = ctx_new();
        const char *name = name_new("evflag");
        mc_channel_options o = opts_of(1024, 64, 0);
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;

        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_NONE, &owner, &err), 0));
        eventfd_flag(region_of(&owner), -1);
        cr_assert(eq(int, mc_channel_open(ctx, name, MC_CHANNEL_CONSUMER, &ch, &err), -EOPNOTSUPP));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        close_ok(&owner);
        mc_ctx_free(ctx);
}

/* A memfd of @size with the first @copy bytes of @src, sealed with @seals. */
static int memfd_like(const void *src, size_t copy, size_t size, int seals) {
        int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, (off_t) size), 0));
        cr_assert(eq(int, (int) pwrite(fd, src, copy, 0), (int) copy));
        if (seals)
                cr_assert(eq(int, fcntl(fd, F_ADD_SEALS, seals), 0));
        return fd;
}

Test(channel, open_fd_refuses_unsafe_descriptors) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;
        mc_channel_fds fds = MC_CHANNEL_FDS_INIT, good;
        const void *hdr;
        int fd, pipefd[2];

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_NONE, &owner);
        cr_assert(eq(int, mc_channel_get_fds(&owner, &good, &err), 0));
        hdr = region_of(&owner);

        /* Not sealed against shrinking: its owner could make us die of SIGBUS. */
        fds.region = memfd_like(hdr, MC_CHANNEL_HEADER_SIZE, MC_CHANNEL_HEADER_SIZE + 1024, 0);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "shrinking"), NULL)), "%s", err.message);
        close(fds.region);

        /* Truncated before it was sealed. */
        fds.region = memfd_like(hdr, MC_CHANNEL_HEADER_SIZE, MC_CHANNEL_HEADER_SIZE + 512,
                                F_SEAL_SHRINK | F_SEAL_GROW);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "truncated"), NULL)), "%s", err.message);
        close(fds.region);

        /* Too small to hold a header: nothing of it is read. */
        fds.region = memfd_like(hdr, 100, 100, F_SEAL_SHRINK);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        close(fds.region);

        /* Sealed against writing: no end can use it; an observer can. */
        fds.region = memfd_like(hdr, MC_CHANNEL_HEADER_SIZE, MC_CHANNEL_HEADER_SIZE + 1024,
                                F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &ch, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_NONE, &ch, &err), 0), "%s",
                  err.message);
        close_ok(&ch);
        close(fds.region);

        /* Not a memfd at all. */
        cr_assert(eq(int, pipe2(pipefd, O_CLOEXEC), 0));
        fds.region = pipefd[0];
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        close(pipefd[0]);
        close(pipefd[1]);
        fd = shm_open(name_new("notmemfd"), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, MC_CHANNEL_HEADER_SIZE + 1024), 0));
        fds.region = fd;
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        close(fd);
        fds.region = -1;
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EBADF));

        /* The real one works, and a failed open left nothing attached. */
        cr_assert(eq(int, mc_channel_open_fd(ctx, &good, MC_CHANNEL_CONSUMER, &ch, &err), 0), "%s",
                  err.message);
        close_ok(&ch);
        close_ok(&owner);
        mc_ctx_free(ctx);
}

Test(channel, named_object_that_is_not_a_channel) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        const char *name = name_new("plain");
        mc_channel ch;
        mc_shared shm;
        mc_usage u;

        cr_assert(eq(int, mc_map_shared_buffer(ctx, name, 8192, &shm, &err), 0));
        cr_assert(eq(int, mc_channel_open(ctx, name, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "not a channel"), NULL)), "%s", err.message);
        cr_assert(eq(int, mc_shared_close(ctx, &shm, &err), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0), "the failed open unmapped its region");
        cr_assert(eq(int,
                     mc_channel_open(ctx, "/memcap-test-chan-none", MC_CHANNEL_CONSUMER, &ch, &err),
                     -ENOENT));
        mc_ctx_free(ctx);
}

/* ---- bad input ---------------------------------------------------------------------------- */

Test(channel, create_refuses_bad_options) {
        static const struct {
                size_t capacity, max_message;
                unsigned flags, max_producers, mode;
                const char *needle;
        } bad[] = {
                {1024, 0, 0, 0, 0, "max_message 0"},
                {1000, 64, 0, 0, 0, "power of two"},
                {32, 8, 0, 0, 0, "power of two"},
                {(size_t) 1 << 31, 64, 0, 0, 0, "power of two"},
                {1024, 600, 0, 0, 0, "more than half"},
                {0, SIZE_MAX, 0, 0, 0, "out of range"},
                {1024, 64, 0x100, 0, 0, "unknown flags"},
                {1024, 64, 0, 2, 0, "MULTI_PRODUCER"},
                {1024, 64, MC_CHANNEL_MULTI_PRODUCER, 65, 0, "above 64"},
                {1024, 64, 0, 0, 01000, "0777"},
        };
        mc_ctx *ctx = ctx_new();
        mc_channel ch = {0};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mc_channel_options o = opts_of(bad[i].capacity, bad[i].max_message, bad[i].flags);
                mc_error err = MC_ERROR_INIT;

                o.max_producers = bad[i].max_producers;
                o.mode = bad[i].mode;
                cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &ch, &err),
                             -EINVAL),
                          "case %zu", i);
                cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
                cr_assert(not(eq(ptr, strstr(err.message, bad[i].needle), NULL)), "case %zu: %s", i,
                          err.message);
                cr_assert(eq(ptr, ch.impl, NULL), "ret untouched");
        }
        {
                mc_channel_options o = opts_of(1024, 64, 0);
                mc_error err = MC_ERROR_INIT;

                cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 7, &ch, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(ctx, NULL, NULL, 0, &ch, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, NULL, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(NULL, NULL, &o, 0, &ch, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(ctx, "a/b", &o, 0, &ch, &err), -EINVAL));
        }
        {
                mc_usage u;

                mc_ctx_get_usage(ctx, &u);
                cr_assert(eq(u64, u.mappings, 0));
        }
        mc_ctx_free(ctx);
}

Test(channel, default_capacity_holds_four_messages) {
        mc_ctx *ctx = ctx_new();
        mc_channel ch;
        mc_channel_counts s;

        create_anon(ctx, 0, 64, 0, MC_CHANNEL_NONE, &ch);
        cr_assert(eq(int, mc_channel_stats(&ch, &s, NULL), 0));
        cr_assert(eq(u64, s.capacity, 65536));
        close_ok(&ch);
        create_anon(ctx, 0, 100000, 0, MC_CHANNEL_NONE, &ch);
        cr_assert(eq(int, mc_channel_stats(&ch, &s, NULL), 0));
        cr_assert(eq(u64, s.capacity, 524288));
        close_ok(&ch);
        mc_ctx_free(ctx);
}

Test(channel, double_close_and_use_after_close) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        mc_channel_counts s;
        mc_channel_fds fds;
        void *p;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_reserve(&prod, 10, &p, 0, &err), 0));
        close_ok(&prod); /* with a reservation pending */
        cr_assert(eq(int, mc_channel_close(&prod, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_channel_send(&prod, "x", 1, 0, &err), -EBADF));
        cr_assert(eq(int, mc_channel_commit(&prod, 1, &err), -EBADF));
        cr_assert(eq(int, mc_channel_stats(&prod, &s, &err), -EBADF));
        cr_assert(eq(int, mc_channel_get_fds(&prod, &fds, &err), -EBADF));
        cr_assert(eq(int, mc_channel_set_spin(&prod, 1, &err), -EBADF));
        cr_assert(eq(int, mc_channel_fd(&prod, &(int){0}, &err), -EBADF));
        cr_assert(eq(int, mc_channel_close(NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_channel_recv(NULL, NULL, 0, 0, &err), -EINVAL));
        /* Roles: each call belongs to one end. */
        cr_assert(eq(int, mc_channel_send(&cons, "x", 1, 0, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "not the producer"), NULL)), "%s", err.message);
        cr_assert(eq(int, mc_channel_try_recv(&cons, &(char[8]){0}, 8, &err), -EOWNERDEAD));
        close_ok(&cons);
        cr_assert(eq(int, mc_channel_try_recv(&cons, &(char[8]){0}, 8, &err), -EBADF));
        mc_ctx_free(ctx);
}

/* ---- policy, quota, audit ------------------------------------------------------------------ */

Test(channel, names_follow_allowed_shared_memory) {
        mc_ctx *ctx = ctx_new();
        mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel_options o = opts_of(1024, 64, 0);
        mc_channel ch;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "app-*", NULL), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
        cr_assert(eq(int, mc_channel_create(ctx, name_new("denied"), &o, 0, &ch, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(
                eq(int, mc_channel_open(ctx, tracked[0], MC_CHANNEL_CONSUMER, &ch, &err), -EPERM));
        /* Anonymous channels have no name to check. */
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, &ch, &err), 0), "%s", err.message);
        close_ok(&ch);
        mc_ctx_free(ctx);
}

Test(channel, region_counts_against_the_quota) {
        mc_ctx *ctx = ctx_new();
        mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel_options o = opts_of(1 << 20, 64, 0);
        mc_channel ch;
        mc_usage u;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 512 * 1024), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, &ch, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        o.capacity = 64 * 1024;
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, &ch, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.charged_bytes, MC_CHANNEL_HEADER_SIZE + 64 * 1024));
        cr_assert(eq(u64, u.shared_objects, 1));
        close_ok(&ch);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.charged_bytes, 0));
        mc_ctx_free(ctx);
}

typedef struct capture {
        char ops[64][32];
        json_t *events[64];
        int n;
} capture;

static void capture_cb(const mc_audit_record *rec, void *userdata) {
        capture *c = userdata;
        json_t *j;

        if (c->n >= 64)
                return;
        strscpy(c->ops[c->n], sizeof(c->ops[0]), rec->operation);
        j = json_loads(rec->json, 0, NULL);
        c->events[c->n] = j ? json_incref(json_object_get(j, "event")) : NULL;
        json_decref(j);
        c->n++;
}

static int find_op(const capture *c, const char *op, int from) {
        for (int i = from; i < c->n; i++)
                if (streq(c->ops[i], op))
                        return i;
        return -1;
}

Test(channel, audit_records_open_close_and_peer_gone_not_messages) {
        mc_ctx *ctx = ctx_new();
        capture cap = {0};
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        json_t *ev;
        pid_t pid;
        int i;

        cr_assert(eq(int, mc_audit_open_callback(capture_cb, &cap, &a, NULL), 0));
        mc_ctx_set_audit(ctx, a);
        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        for (int k = 0; k < 20; k++) {
                send_ok(&prod, "m", 1);
                cr_assert(eq(int, mc_channel_recv(&cons, &(char[8]){0}, 8, 0, &err), 1));
        }
        close_ok(&prod);

        /* shm_open (the region), channel_open; mmap (the second end's view), channel_open;
         * then channel_close and munmap of the producer; nothing for the 40 message calls. */
        cr_assert(eq(int, cap.n, 6), "%d records", cap.n);
        cr_assert(eq(str, (char *) cap.ops[0], (char *) "shm_open"));
        cr_assert(eq(str, (char *) cap.ops[1], (char *) "channel_open"));
        ev = cap.events[1];
        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "role")),
                     (char *) "consumer"));
        cr_assert(eq(int, json_is_true(json_object_get(ev, "created")), 1));
        cr_assert(eq(i64, json_integer_value(json_object_get(ev, "capacity")), 1024));
        cr_assert(eq(int, json_is_null(json_object_get(ev, "channel")), 1));
        cr_assert(eq(str, (char *) cap.ops[2], (char *) "mmap"));
        cr_assert(eq(str, (char *) cap.ops[3], (char *) "channel_open"));
        cr_assert(eq(str, (char *) cap.ops[4], (char *) "channel_close"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(cap.events[4], "role")),
                     (char *) "producer"));
        cr_assert(eq(str, (char *) cap.ops[5], (char *) "munmap"));

        /* A producer that dies: one channel_peer_gone record from whoever notices. */
        pid = fork();
        if (pid == 0) {
                mc_channel_fds fds;

                CHILD_CHECK(mc_channel_get_fds(&cons, &fds, NULL) == 0, 10);
                CHILD_CHECK(mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &prod, NULL) == 0,
                            11);
                _exit(0); /* without closing */
        }
        child_ok(pid, 30);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[8]){0}, 8, MC_WAIT_FOREVER, &err),
                     -EOWNERDEAD));
        i = find_op(&cap, "channel_peer_gone", 6);
        cr_assert(ge(int, i, 0), "no channel_peer_gone record");
        ev = cap.events[i];
        cr_assert(eq(i64, json_integer_value(json_object_get(ev, "peer_pid")), pid));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "peer_role")),
                     (char *) "producer"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "kind")),
                     (char *) "PeerGone"));
        cr_assert(eq(int, find_op(&cap, "channel_peer_gone", i + 1), -1), "only one");
        close_ok(&cons);
        cr_assert(ge(int, find_op(&cap, "channel_close", i), 0));
        mc_ctx_free(ctx);
        for (int k = 0; k < cap.n; k++)
                json_decref(cap.events[k]);
}

Test(channel, named_channel_opened_by_name) {
        mc_ctx *ctx = ctx_new();
        const char *name = name_new("named");
        mc_channel_options o = opts_of(4096, 128, 0);
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod, obs;
        mc_channel_counts s;
        struct stat st;
        char path[300];

        o.mode = 0640;
        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_CONSUMER, &cons, &err), 0),
                  "%s", err.message);
        snprintf(path, sizeof(path), "/dev/shm%s", name);
        cr_assert(eq(int, stat(path, &st), 0));
        cr_assert(eq(int, (int) (st.st_mode & 0777), 0640));
        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_CONSUMER, &obs, &err),
                     -EEXIST));
        cr_assert(eq(int, mc_channel_open(ctx, name + 1, MC_CHANNEL_PRODUCER, &prod, &err), 0),
                  "without the slash too: %s", err.message);
        cr_assert(eq(int, mc_channel_open(ctx, name, MC_CHANNEL_NONE, &obs, &err), 0));
        send_ok(&prod, "by name", 7);
        cr_assert(eq(int, mc_channel_stats(&obs, &s, &err), 0));
        cr_assert(eq(u64, s.sent, 1));
        cr_assert(eq(u64, s.depth_bytes, 16));
        cr_assert(eq(int, s.consumer_pid, getpid()));
        cr_assert(eq(u32, s.producers, 1));
        cr_assert(eq(int, s.producer_pids[0], getpid()));
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[128]){0}, 128, 0, &err), 7));
        close_ok(&obs);
        close_ok(&prod);
        close_ok(&cons);
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0));
        mc_ctx_free(ctx);
}

/* ---- failures through the seam ------------------------------------------------------------ */

static int fail_eventfd(unsigned initval, int flags) {
        (void) initval;
        (void) flags;
        errno = EMFILE;
        return -1;
}

Test(channel, eventfd_failure_leaves_nothing) {
        mc_ctx *ctx = ctx_new();
        mc_channel_options o = opts_of(1024, 64, MC_CHANNEL_EVENTFD);
        mc_error err = MC_ERROR_INIT;
        mc_channel ch;
        mc_usage u;

        mc_sys.eventfd = fail_eventfd;
        cr_assert(
                eq(int, mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &ch, &err), -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0));
        mc_ctx_free(ctx);
}

static long (*real_futex)(uint32_t *, int, uint32_t, const struct timespec *);

static long futex_wake_fails(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts) {
        if (op == FUTEX_WAKE) {
                errno = EFAULT;
                return -1;
        }
        return real_futex(uaddr, op, val, ts);
}

static void *send_later(void *arg) {
        nanosleep(&(struct timespec){0, 30 * 1000 * 1000}, NULL);
        mc_channel_send(arg, "late", 4, MC_WAIT_FOREVER, NULL);
        return NULL;
}

/* A lost wakeup (here: FUTEX_WAKE fails) costs at most one peer-check interval, not a hang. */
Test(channel, failed_wakeup_is_recovered_by_the_next_look) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pthread_t t;

        real_futex = mc_sys.futex;
        mc_sys.futex = futex_wake_fails;
        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_set_spin(&cons, 0, &err), 0));
        cr_assert(eq(int, pthread_create(&t, NULL, send_later, &prod), 0));
        cr_assert(eq(int,
                     mc_channel_recv(&cons, &(char[64]){0}, 64, 30 * INT64_C(1000000000), &err), 4),
                  "%s", err.message);
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

static long futex_wait_unsupported(uint32_t *uaddr, int op, uint32_t val,
                                   const struct timespec *ts) {
        (void) uaddr;
        (void) val;
        (void) ts;
        if (op == FUTEX_WAIT) {
                errno = ENOSYS;
                return -1;
        }
        return 0;
}

Test(channel, futex_wait_failure_is_reported) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;

        mc_sys.futex = futex_wait_unsupported;
        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, MC_WAIT_FOREVER, &err),
                     -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        cr_assert(not(eq(ptr, strstr(err.message, "futex"), NULL)), "%s", err.message);
        close_ok(&prod);
        close_ok(&cons);
        mc_ctx_free(ctx);
}

Test(channel, spin_limits) {
        mc_ctx *ctx = ctx_new();
        mc_error err = MC_ERROR_INIT;
        mc_channel ch;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &ch);
        cr_assert(eq(int, mc_channel_set_spin(&ch, 1000000, &err), 0));
        cr_assert(eq(int, mc_channel_set_spin(&ch, 1000001, &err), -EINVAL), "never clamped");
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        close_ok(&ch);
        mc_ctx_free(ctx);
}

Test(channel, failed_open_is_audited) {
        mc_ctx *ctx = ctx_new();
        capture cap = {0};
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;
        mc_channel_fds fds;
        int i;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_NONE, &owner);
        cr_assert(eq(int, mc_audit_open_callback(capture_cb, &cap, &a, NULL), 0));
        mc_ctx_set_audit(ctx, a);
        cr_assert(eq(int, mc_channel_get_fds(&owner, &fds, &err), 0));
        region_of(&owner)->version = 2;
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        i = find_op(&cap, "channel_open", 0);
        cr_assert(ge(int, i, 0));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(cap.events[i], "outcome")),
                     "error"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(cap.events[i], "kind")),
                     "InvalidArgument"));
        cr_assert(ge(int, find_op(&cap, "munmap", i), 0), "the region was unmapped again");
        close_ok(&owner);
        mc_ctx_free(ctx);
        for (int k = 0; k < cap.n; k++)
                json_decref(cap.events[k]);
}

Test(channel, role_names) {
        cr_assert(eq(str, (char *) mc_channel_role_name(MC_CHANNEL_NONE), (char *) "none"));
        cr_assert(eq(str, (char *) mc_channel_role_name(MC_CHANNEL_PRODUCER), (char *) "producer"));
        cr_assert(eq(str, (char *) mc_channel_role_name(MC_CHANNEL_CONSUMER), (char *) "consumer"));
        cr_assert(eq(ptr, (void *) mc_channel_role_name((mc_channel_role) 3), NULL));
}
