/* SPDX-License-Identifier: MIT */
/*
 * Channels (memcap/channel.h): messages in order and intact (every byte of every message is
 * checked against what its producer must have sent), across wrap-around, tiny rings and maximum
 * sizes; waiting and timeouts; many producers in threads and processes.
 */

#include "channel-suite.h"

/* ---- basics ------------------------------------------------------------------------------- */

Test(channel, send_and_recv_in_order) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[64];

        pair_open(ctx, 4096, 64, 0, &cons, &prod);
        send_ok(&prod, "hello", 5);
        send_ok(&prod, "world!", 6);
        recv_ok(&cons, 0, "hello", 5);
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), 6));
        cr_assert(eq(int, memcmp(buf, "world!", 6), 0));
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, sizeof(buf), &err), -EAGAIN));
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        pair_close(&cons, &prod);
}

Test(channel, zero_length_and_max_size_messages) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        uint8_t big[1001], out[1001];

        pair_open(ctx, 4096, 1000, 0, &cons, &prod);
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (uint8_t) (i * 7);
        send_ok(&prod, NULL, 0);
        send_ok(&prod, big, 1000);
        cr_assert(eq(int, mc_channel_send(&prod, big, 1001, 0, &err), -EMSGSIZE));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_channel_recv(&cons, out, sizeof(out), 0, &err), 0), "%s", err.message);
        recv_ok(&cons, 0, big, 1000);
        pair_close(&cons, &prod);
}

Test(channel, small_buffer_leaves_the_message) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[16];

        pair_open(ctx, 4096, 64, 0, &cons, &prod);
        send_ok(&prod, "0123456789", 10);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 4, 0, &err), -EMSGSIZE));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(not(eq(ptr, strstr(err.message, "10 bytes"), NULL)), "%s", err.message);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 10));
        pair_close(&cons, &prod);
}

Test(channel, reserve_commit_peek_release) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        const void *data;
        size_t len;
        void *p;

        pair_open(ctx, 4096, 100, 0, &cons, &prod);
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
        pair_close(&cons, &prod);
}

/* Many messages of varied sizes through a ring they wrap around again and again. */
void wrap_around(size_t capacity, size_t max_message, unsigned flags) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        uint8_t buf[1024], out[1024];

        pair_open(ctx, capacity, max_message, flags, &cons, &prod);
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
        pair_close(&cons, &prod);
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
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        uint8_t buf[120] = {1}, out[120];

        /* 8 + 120 = 128 = half of 256: the largest a 256-byte ring takes. */
        pair_open(ctx, 256, 120, 0, &cons, &prod);
        for (int i = 0; i < 100; i++) {
                buf[0] = (uint8_t) i;
                send_ok(&prod, buf, 120 - (size_t) (i % 3) * 8);
                cr_assert(eq(int, mc_channel_recv(&cons, out, sizeof(out), 0, &err),
                             120 - (i % 3) * 8),
                          "%s", err.message);
                cr_assert(eq(u8, out[0], (uint8_t) i));
        }
        pair_close(&cons, &prod);
}

Test(channel, multi_producer_short_commits_and_cancels_keep_order) {
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
}

/* ---- waiting ------------------------------------------------------------------------------ */

Test(channel, recv_times_out) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        int64_t t0 = mc__now_ns(CLOCK_MONOTONIC);

        pair_open(ctx, 4096, 64, 0, &cons, &prod);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, 30 * 1000000, &err),
                     -ETIMEDOUT));
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(ge(i64, mc__now_ns(CLOCK_MONOTONIC) - t0, 30 * 1000000), "not before it");
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, -5, &err), -EINVAL));
        pair_close(&cons, &prod);
}

Test(channel, send_times_out_when_full) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[24] = "x";
        int n = 0;

        pair_open(ctx, 64, 24, 0, &cons, &prod);
        while (mc_channel_try_send(&prod, buf, 24, &err) == 0)
                n++;
        cr_assert(eq(int, n, 2), "two 32-byte records fill 64 bytes");
        cr_assert(eq(int, err.kind, MC_ERR_TIMED_OUT));
        cr_assert(eq(int, mc_channel_send(&prod, buf, 24, 20 * 1000000, &err), -ETIMEDOUT));
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 24));
        cr_assert(eq(int, mc_channel_send(&prod, buf, 24, 0, &err), 0), "room again");
        pair_close(&cons, &prod);
}

/* A producer thread: @count checkable messages, blocking sends. */
void *produce(void *arg) {
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
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pump p = {.ch = &prod, .count = 200000, .min = 0, .max = 40};
        uint8_t out[64];
        pthread_t t;
        mc_channel_counts s;

        /* A tiny ring: both sides block and wake each other over and over. */
        pair_open(ctx, 128, 40, 0, &cons, &prod);
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
        pair_close(&cons, &prod);
}

/* The consumer in another process, the producer in this one; @n checkable messages. */
Test(channel, two_processes_two_million_messages) {
        mc_error err = MC_ERROR_INIT;
        const uint64_t n = 2000000;
        mc_channel prod, cons;
        pid_t pid;

        create_anon(ctx, 4096, 64, 0, MC_CHANNEL_PRODUCER, &prod);
        pid = fork();
        if (pid == 0) {
                uint8_t out[64];

                child_open_end(ctx, &prod, MC_CHANNEL_CONSUMER, &cons);
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
}

/* ---- many producers ----------------------------------------------------------------------- */

/* The consumer's side of many producers: per producer, sequence numbers in order. */
void consume_all(mc_channel *cons, uint32_t producers, uint64_t per, size_t min, size_t max) {
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
}

Test(channel, many_producer_processes_named) {
        enum { P = 4 };
        const uint64_t per = 250000;
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
}

Test(channel, producer_slots_are_limited) {
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
}

Test(channel, single_producer_refuses_a_second) {
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
}
