/* SPDX-License-Identifier: MIT */
/*
 * The channel suite's fixture (its TestSuite, .init and .fini: each test's context) and the
 * helpers its files share (channel-suite.h).
 */

#include "channel-suite.h"

/* ---- fixtures and helpers ----------------------------------------------------------------- */

char tracked[4][MC_SHARED_NAME_MAX + 2];
int n_tracked;
mc_ctx *ctx;

void channel_init(void) {
        ctx = ctx_new();
}

void channel_fini(void) {
        ctx = mc_ctx_free(ctx);
        for (int i = 0; i < n_tracked; i++)
                (void) shm_unlink(tracked[i]);
        n_tracked = 0;
        mc_test_fini();
}

TestSuite(channel, .init = channel_init, .fini = channel_fini, .timeout = 120.0);

/* A shm name unique to this test process, unlinked at teardown. */
const char *name_new(const char *what) {
        cr_assert(lt(int, n_tracked, (int) ELEMENTSOF(tracked)));
        snprintf(tracked[n_tracked], sizeof(tracked[0]), "/memcap-test-chan-%s-%d", what,
                 (int) getpid());
        return tracked[n_tracked++];
}

mc_ctx *ctx_new(void) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *c = NULL;

        cr_assert(eq(int, mc_ctx_new(&c, &err), 0), "%s", err.message);
        return c;
}

mc_channel_options opts_of(size_t capacity, size_t max_message, unsigned flags) {
        mc_channel_options o = MC_CHANNEL_OPTIONS_INIT;

        o.capacity = capacity;
        o.max_message = max_message;
        o.flags = flags;
        return o;
}

/* An anonymous channel in @in; @ch is its @role end. */
void create_anon(mc_ctx *in, size_t capacity, size_t max_message, unsigned flags,
                 mc_channel_role role, mc_channel *ch) {
        mc_channel_options o = opts_of(capacity, max_message, flags);
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_channel_create(in, NULL, &o, role, ch, &err), 0), "%s", err.message);
}

/* Another end of @from's channel, opened in @in from its descriptors. */
void open_end(mc_ctx *in, const mc_channel *from, mc_channel_role role, mc_channel *ch) {
        mc_error err = MC_ERROR_INIT;
        mc_channel_fds fds;

        cr_assert(eq(int, mc_channel_get_fds(from, &fds, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_channel_open_fd(in, &fds, role, ch, &err), 0), "%s", err.message);
}

/* What most tests start from: an anonymous channel in @in, its consumer and one producer. */
void pair_open(mc_ctx *in, size_t capacity, size_t max_message, unsigned flags, mc_channel *cons,
               mc_channel *prod) {
        create_anon(in, capacity, max_message, flags, MC_CHANNEL_CONSUMER, cons);
        open_end(in, cons, MC_CHANNEL_PRODUCER, prod);
}

/* Closes both ends of a pair, the producer first. */
void pair_close(mc_channel *cons, mc_channel *prod) {
        close_ok(prod);
        close_ok(cons);
}

/*
 * In a child: @prod, a new producer of @from's channel opened in @in, holding a reservation of
 * @len bytes, which this returns. A failed reserve exits with 12.
 */
void *child_reservation(mc_ctx *in, const mc_channel *from, mc_channel *prod, size_t len) {
        void *p;

        child_open_end(in, from, MC_CHANNEL_PRODUCER, prod);
        CHILD_CHECK(mc_channel_reserve(prod, len, &p, 0, NULL) == 0, 12);
        return p;
}

/*
 * In a child: tell the parent it is ready (a byte on @fd, for await_byte()), then wait to be
 * killed. A failed write exits with @code; a child that is not killed, with @code + 1.
 */
void child_ready_pause(int fd, int code) {
        CHILD_CHECK(write(fd, "r", 1) == 1, code);
        pause();
        _exit(code + 1);
}

/*
 * In a child: another end of @from's channel, opened in @in. A failure exits with 10 (the
 * descriptors) or 11 (the open), which the parent reports.
 */
void child_open_end(mc_ctx *in, const mc_channel *from, mc_channel_role role, mc_channel *ch) {
        mc_channel_fds fds;

        CHILD_CHECK(mc_channel_get_fds(from, &fds, NULL) == 0, 10);
        CHILD_CHECK(mc_channel_open_fd(in, &fds, role, ch, NULL) == 0, 11);
}

void close_ok(mc_channel *ch) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_channel_close(ch, &err), 0), "%s", err.message);
}

void send_ok(mc_channel *ch, const void *data, size_t len) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_channel_send(ch, data, len, MC_WAIT_FOREVER, &err), 0), "%s",
                  err.message);
}

/*
 * The next message on @ch, waiting up to @timeout_ns, must be the @len bytes of @want (a
 * longer one fails too: the buffer has room for more).
 */
void recv_ok(mc_channel *ch, int64_t timeout_ns, const void *want, size_t len) {
        mc_error err = MC_ERROR_INIT;
        uint8_t *buf = buf_of(len + 64);

        cr_assert(eq(int, mc_channel_recv(ch, buf, len + 64, timeout_ns, &err), (int) len),
                  "expected %zu bytes: %s", len, err.message);
        cr_assert(eq(int, memcmp(buf, want, len), 0), "the %zu bytes received differ", len);
}

/* A scratch buffer of @n bytes (at most 64 KiB), for calls whose data the test ignores. */
void *buf_of(size_t n) {
        static uint8_t scratch[1 << 16];

        cr_assert(le(sz, n, sizeof(scratch)));
        return scratch;
}

/* The region of a handle, to play a hostile peer with. */
struct mc__chan_shared *region_of(const mc_channel *ch) {
        return ch->impl->sh;
}

/*
 * Message contents a receiver can check byte for byte: the length and every byte follow from
 * (producer, sequence number). The first 12 bytes carry both, when the message is that long.
 */
uint64_t mix(uint64_t x) {
        x += UINT64_C(0x9e3779b97f4a7c15);
        x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
        return x ^ (x >> 31);
}

size_t msg_len(uint32_t producer, uint64_t seq, size_t min, size_t max) {
        return min + (size_t) (mix((uint64_t) producer << 40 ^ seq) % (max - min + 1));
}

size_t msg_fill(uint8_t *buf, uint32_t producer, uint64_t seq, size_t min, size_t max) {
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
bool msg_check(const uint8_t *buf, size_t len, uint32_t producer, uint64_t seq, size_t min,
               size_t max) {
        uint8_t want[1 << 16];

        if (max > sizeof(want))
                return false;
        return len == msg_fill(want, producer, seq, min, max) && memcmp(buf, want, len) == 0;
}

/* Wait at most @seconds for @pid; kill it and fail the test when it does not end. */
int wait_child(pid_t pid, double seconds) {
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

void child_ok(pid_t pid, double seconds) {
        int status = wait_child(pid, seconds);

        cr_assert(eq(int, WIFSIGNALED(status) ? WTERMSIG(status) : 0, 0),
                  "the child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        cr_assert(eq(int, WEXITSTATUS(status), 0), "the child failed check %d",
                  WEXITSTATUS(status));
}

/* Read one byte from @fd within @seconds (a child saying it reached a point). */
void await_byte(int fd, double seconds) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        char b;

        cr_assert(eq(int, poll(&p, 1, (int) (seconds * 1000)), 1),
                  "the child did not report within %.0f s", seconds);
        cr_assert(eq(int, (int) read(fd, &b, 1), 1));
}
