/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The channel suite's fixture and helpers (channel-suite.c), shared by its files
 * test-channel-*.c, which make one binary, test-channel (meson test "channel"). Tests that wait
 * on another process or thread bound the wait themselves and fail with a message; the watchdog
 * bounds each test as a whole. No test depends on speed.
 * Each helper's comment is at its definition.
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
#include "failing.h"

/* In a child: a failed check exits with @code, which the parent reports. */

#define CHILD_CHECK(cond, code)                                                                    \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        _exit(code);                                                               \
        } while (0)

typedef struct pump {
        mc_channel *ch;
        uint32_t producer;
        uint64_t count;
        size_t min, max;
        int result; /* 0, or the failing call's return */
        mc_error err;
} pump;

typedef struct capture {
        char ops[64][32];
        json_t *events[64];
        int n;
} capture;

extern char tracked[4][MC_SHARED_NAME_MAX + 2];
extern int n_tracked;

/* Each test's context, made by the suite's .init and freed by its .fini. */
extern mc_ctx *ctx;

void channel_init(void);

void channel_fini(void);

const char *name_new(const char *what);

mc_ctx *ctx_new(void);

mc_channel_options opts_of(size_t capacity, size_t max_message, unsigned flags);

void create_anon(mc_ctx *in, size_t capacity, size_t max_message, unsigned flags,
                 mc_channel_role role, mc_channel *ch);

void open_end(mc_ctx *in, const mc_channel *from, mc_channel_role role, mc_channel *ch);

void pair_open(mc_ctx *in, size_t capacity, size_t max_message, unsigned flags, mc_channel *cons,
               mc_channel *prod);

void pair_close(mc_channel *cons, mc_channel *prod);

void child_open_end(mc_ctx *in, const mc_channel *from, mc_channel_role role, mc_channel *ch);

void *child_reservation(mc_ctx *in, const mc_channel *from, mc_channel *prod, size_t len);

void child_ready_pause(int fd, int code);

void close_ok(mc_channel *ch);

void send_ok(mc_channel *ch, const void *data, size_t len);

void recv_ok(mc_channel *ch, int64_t timeout_ns, const void *want, size_t len);

void *buf_of(size_t n);

struct mc__chan_shared *region_of(const mc_channel *ch);

uint64_t mix(uint64_t x);

size_t msg_len(uint32_t producer, uint64_t seq, size_t min, size_t max);

size_t msg_fill(uint8_t *buf, uint32_t producer, uint64_t seq, size_t min, size_t max);

bool msg_check(const uint8_t *buf, size_t len, uint32_t producer, uint64_t seq, size_t min,
               size_t max);

int wait_child(pid_t pid, double seconds);

void child_ok(pid_t pid, double seconds);

void await_byte(int fd, double seconds);

void wrap_around(size_t capacity, size_t max_message, unsigned flags);

void *produce(void *arg);

void consume_all(mc_channel *cons, uint32_t producers, uint64_t per, size_t min, size_t max);

void *close_later(void *arg);

void expect_corrupt(int r, const mc_error *err);

void open_corrupted(void (*corrupt)(struct mc__chan_shared *, int fd), mc_error_kind kind,
                    const char *needle);

void bad_magic(struct mc__chan_shared *sh, int fd);

void no_magic(struct mc__chan_shared *sh, int fd);

void bad_version(struct mc__chan_shared *sh, int fd);

void bad_capacity(struct mc__chan_shared *sh, int fd);

void bigger_region(struct mc__chan_shared *sh, int fd);

void huge_message(struct mc__chan_shared *sh, int fd);

void bad_flags(struct mc__chan_shared *sh, int fd);

void bad_producers(struct mc__chan_shared *sh, int fd);

void bad_positions(struct mc__chan_shared *sh, int fd);

void eventfd_flag(struct mc__chan_shared *sh, int fd);

int memfd_like(const void *src, size_t copy, size_t size, int seals);

void capture_cb(const mc_audit_record *rec, void *userdata);

int find_op(const capture *c, const char *op, int from);

long futex_wake_fails(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts);

void *send_later(void *arg);

long futex_wait_unsupported(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts);
