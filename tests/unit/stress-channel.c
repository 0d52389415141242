/* SPDX-License-Identifier: MIT */
/*
 * A stress run of channels between threads, without Criterion, so that it also runs under
 * ThreadSanitizer (`make tsan`; Criterion's process arena does not start under TSan). Every
 * message is checked byte for byte against what its producer must have sent, per producer in
 * order; every wait is bounded (a stuck run fails with a message, it does not hang).
 *
 * Scenarios: one producer and one consumer on rings from 64 bytes up, spinning and not;
 * many producers on a small ring; zero-copy on both sides with shortened commits and cancels;
 * event loops on both sides (eventfd + try calls); a producer that closes while the consumer
 * waits.
 *
 * It reaches into the handle (channel-def.h) for one thing only, see open_end().
 *
 * Usage: stress-channel [--scale N]   (N percent of the default message counts; default 100)
 * Exit status: 0 when every scenario passed, 1 otherwise.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memcap/memcap.h>

#include "channel-def.h"

#define WAIT_NS (60 * INT64_C(1000000000))

static unsigned scale = 100;

static uint64_t count(uint64_t n) {
        uint64_t r = n * scale / 100;

        return r ? r : 1;
}

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "stress-channel: %s:%d: ", __func__, __LINE__);            \
                        fprintf(stderr, __VA_ARGS__);                                              \
                        fputc('\n', stderr);                                                       \
                        exit(1);                                                                   \
                }                                                                                  \
        } while (0)

static uint64_t mix(uint64_t x) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

/* Message @seq of @producer: 12..max bytes, its first 12 say whose and which. */
static size_t fill(uint8_t *buf, uint32_t producer, uint64_t seq, size_t max) {
        size_t len = 12 + (size_t) (mix((uint64_t) producer << 40 ^ seq) % (max - 11));
        uint64_t x = mix(seq * 31 + producer);

        memcpy(buf, &producer, 4);
        memcpy(buf + 4, &seq, 8);
        for (size_t i = 12; i < len; i++) {
                if ((i & 7) == 4)
                        x = mix(x);
                buf[i] = (uint8_t) (x >> ((i & 7) * 8));
        }
        return len;
}

static void check_msg(const uint8_t *buf, size_t len, uint32_t producers, uint64_t *next,
                      size_t max) {
        uint8_t want[4096];
        uint32_t who;

        CHECK(len >= 12, "a message of %zu bytes", len);
        memcpy(&who, buf, 4);
        CHECK(who < producers, "producer %u", who);
        CHECK(len == fill(want, who, next[who], max) && memcmp(buf, want, len) == 0,
              "producer %u message %" PRIu64 " differs or is out of order", who, next[who]);
        next[who]++;
}

static mc_ctx *ctx;

static void create(mc_channel *ch, size_t capacity, size_t max, unsigned flags,
                   mc_channel_role role) {
        mc_channel_options o = MC_CHANNEL_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;

        o.capacity = capacity;
        o.max_message = max;
        o.flags = flags;
        CHECK(mc_channel_create(ctx, NULL, &o, role, ch, &err) == 0, "%s", err.message);
}

/*
 * Another end of @from's channel. Each handle maps the region itself, at an address of its
 * own; ThreadSanitizer tells memory apart by address, so it would never see the two ends touch
 * the same bytes. This end is pointed at @from's mapping instead (its own stays mapped, unused,
 * until it is closed): the same memory, now at one address, as two processes would share it.
 */
static void open_end(const mc_channel *from, mc_channel_role role, mc_channel *ch) {
        mc_error err = MC_ERROR_INIT;
        mc_channel_fds fds;

        CHECK(mc_channel_get_fds(from, &fds, &err) == 0, "%s", err.message);
        CHECK(mc_channel_open_fd(ctx, &fds, role, ch, &err) == 0, "%s", err.message);
        ch->impl->sh = from->impl->sh;
        ch->impl->ring = from->impl->ring;
}

typedef struct job {
        mc_channel ch;
        uint32_t producer;
        uint64_t n;
        size_t max;
        int mode;   /* 0 send, 1 zero-copy with short commits and cancels, 2 event loop */
        bool paced; /* pause between messages, so the consumer finds the ring empty */
} job;

static void *producer(void *arg) {
        job *j = arg;
        mc_error err = MC_ERROR_INIT;
        uint8_t buf[4096];
        int fd = -1;

        if (j->mode == 2)
                CHECK(mc_channel_fd(&j->ch, &fd, &err) == 0, "%s", err.message);
        for (uint64_t seq = 0; seq < j->n; seq++) {
                size_t len = fill(buf, j->producer, seq, j->max);
                void *p;
                int r;

                /* A consumer that is faster than its producer takes each message as soon as
                 * it is published, without ever sleeping: no wakeup orders the two, only the
                 * publishing store does. */
                if (j->paced)
                        for (volatile unsigned k = 0; k < 2000; k++)
                                ;

                if (j->mode == 1) {
                        /* Reserve the most, commit what it is; now and then cancel one first. */
                        if (mix(seq ^ 77) % 16 == 0) {
                                CHECK(mc_channel_reserve(&j->ch, j->max, &p, WAIT_NS, &err) == 0,
                                      "%s", err.message);
                                CHECK(mc_channel_cancel(&j->ch, &err) == 0, "%s", err.message);
                        }
                        CHECK(mc_channel_reserve(&j->ch, j->max, &p, WAIT_NS, &err) == 0, "%s",
                              err.message);
                        memcpy(p, buf, len);
                        CHECK(mc_channel_commit(&j->ch, len, &err) == 0, "%s", err.message);
                        continue;
                }
                if (j->mode == 2) {
                        while ((r = mc_channel_try_send(&j->ch, buf, len, &err)) == -EAGAIN) {
                                struct pollfd pf = {.fd = fd, .events = POLLIN};

                                CHECK(poll(&pf, 1, (int) (WAIT_NS / 1000000)) == 1,
                                      "the producer's eventfd never became readable");
                        }
                        CHECK(r == 0, "%s", err.message);
                        continue;
                }
                CHECK(mc_channel_send(&j->ch, buf, len, WAIT_NS, &err) == 0, "%s", err.message);
        }
        CHECK(mc_channel_close(&j->ch, &err) == 0, "%s", err.message);
        return NULL;
}

/* Consume @total messages of @producers, in @mode, then expect PeerGone. */
static void consume(mc_channel *cons, uint32_t producers, uint64_t total, size_t max, int mode) {
        uint64_t next[64] = {0};
        mc_error err = MC_ERROR_INIT;
        uint8_t buf[4096];
        int fd = -1, r;

        if (mode == 2)
                CHECK(mc_channel_fd(cons, &fd, &err) == 0, "%s", err.message);
        for (uint64_t i = 0; i < total;) {
                if (mode == 1) {
                        const void *d;
                        size_t len;

                        CHECK(mc_channel_peek(cons, &d, &len, WAIT_NS, &err) == 0, "%s",
                              err.message);
                        check_msg(d, len, producers, next, max);
                        CHECK(mc_channel_release(cons, &err) == 0, "%s", err.message);
                        i++;
                } else if (mode == 2) {
                        struct pollfd pf = {.fd = fd, .events = POLLIN};

                        CHECK(poll(&pf, 1, (int) (WAIT_NS / 1000000)) == 1,
                              "the consumer's eventfd never became readable (%" PRIu64
                              " of %" PRIu64 ")",
                              i, total);
                        while (i < total &&
                               (r = mc_channel_try_recv(cons, buf, sizeof(buf), &err)) >= 0) {
                                check_msg(buf, (size_t) r, producers, next, max);
                                i++;
                        }
                } else {
                        r = mc_channel_recv(cons, buf, sizeof(buf), WAIT_NS, &err);
                        CHECK(r >= 0, "message %" PRIu64 ": %s", i, err.message);
                        check_msg(buf, (size_t) r, producers, next, max);
                        i++;
                }
        }
        r = mc_channel_recv(cons, buf, sizeof(buf), WAIT_NS, &err);
        CHECK(r == -EOWNERDEAD, "after the last message: %d %s", r, err.message);
}

static void run(const char *what, size_t capacity, size_t max, uint32_t producers, uint64_t per,
                int mode, int spin, bool paced) {
        mc_channel cons;
        job jobs[64];
        pthread_t t[64];
        mc_error err = MC_ERROR_INIT;
        unsigned flags = (producers > 1 ? MC_CHANNEL_MULTI_PRODUCER : 0) |
                         (mode == 2 ? MC_CHANNEL_EVENTFD : 0);

        create(&cons, capacity, max, flags, MC_CHANNEL_CONSUMER);
        if (spin >= 0)
                CHECK(mc_channel_set_spin(&cons, (unsigned) spin, &err) == 0, "%s", err.message);
        for (uint32_t i = 0; i < producers; i++) {
                /* Producers of a multi-producer channel have no event descriptor of their own. */
                jobs[i] = (job){.producer = i,
                                .n = count(per),
                                .max = max,
                                .mode = mode == 2 && producers > 1 ? 0 : mode,
                                .paced = paced};
                open_end(&cons, MC_CHANNEL_PRODUCER, &jobs[i].ch);
                if (spin >= 0)
                        CHECK(mc_channel_set_spin(&jobs[i].ch, (unsigned) spin, &err) == 0, "%s",
                              err.message);
        }
        for (uint32_t i = 0; i < producers; i++)
                CHECK(pthread_create(&t[i], NULL, producer, &jobs[i]) == 0, "pthread_create");
        consume(&cons, producers, producers * count(per), max, mode);
        for (uint32_t i = 0; i < producers; i++)
                CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
        CHECK(mc_channel_close(&cons, &err) == 0, "%s", err.message);
        printf("ok %s: %u x %" PRIu64 " messages through %zu bytes\n", what, producers, count(per),
               capacity);
        fflush(stdout);
}

int main(int argc, char **argv) {
        mc_error err = MC_ERROR_INIT;

        if (argc == 3 && strcmp(argv[1], "--scale") == 0)
                scale = (unsigned) strtoul(argv[2], NULL, 10);
        else if (argc != 1) {
                fprintf(stderr, "usage: stress-channel [--scale PERCENT]\n");
                return 2;
        }
        CHECK(mc_ctx_new(&ctx, &err) == 0, "%s", err.message);
        run("spsc tiny ring, sleeping", 64, 24, 1, 200000, 0, 0, false);
        run("spsc tiny ring, spinning", 64, 24, 1, 200000, 0, -1, false);
        run("spsc 4 KiB ring", 4096, 200, 1, 1000000, 0, -1, false);
        run("spsc, a fast consumer spinning", 4096, 200, 1, 50000, 0, 100000, true);
        run("mpsc 8 producers, small ring", 512, 120, 8, 100000, 0, -1, false);
        run("mpsc 8 producers, sleeping", 512, 120, 8, 30000, 0, 0, false);
        run("mpsc, a fast consumer spinning", 4096, 200, 2, 25000, 0, 100000, true);
        run("spsc zero-copy", 256, 100, 1, 200000, 1, -1, false);
        run("mpsc zero-copy", 1024, 100, 4, 100000, 1, -1, false);
        run("spsc event loops", 256, 64, 1, 100000, 2, -1, false);
        run("mpsc, the consumer in an event loop", 1024, 64, 3, 50000, 2, -1, false);
        mc_ctx_free(ctx);
        return 0;
}
