/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The signal suite's fixture and helpers (signal-suite.c), shared by its files test-signal-*.c,
 * which make one binary, test-signal (meson test "signal"). Children never use Criterion's
 * assertions: CHILD_CHECK() prints the failed line and exits with a status the parent asserts.
 * Each helper's comment is at its definition in signal-suite.c.
 */

#include "common.h"
#include "proc.h"
#include "signal-int.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char audit_path[128];

extern char data_path[128];

extern pid_t kids[16];

extern size_t n_kids;

int64_t mono_ns(void);

int64_t mono_ms(void);

void sleep_us(long us);

#define CHILD_CHECK(cond)                                                                          \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        char m_[256];                                                              \
                        int k_ = snprintf(m_, sizeof(m_),                                          \
                                          "child %d: check failed at line %d: %s\n",               \
                                          (int) getpid(), __LINE__, #cond);                        \
                        (void) !write(STDERR_FILENO, m_, (size_t) k_);                             \
                        _exit(1 + __LINE__ % 250);                                                 \
                }                                                                                  \
        } while (0)

pid_t spawn(void);

int reap(pid_t pid);

bool exited_with(int st, int code);

bool killed_by(int st, int signo);

bool is_array_of(json_t *v, size_t n);

const char *describe(int st, char *buf, size_t size);

#define assert_child_ok(pid)                                                                       \
        do {                                                                                       \
                char d_[96];                                                                       \
                int st_ = reap(pid);                                                               \
                cr_assert(exited_with(st_, 0), "child %s", describe(st_, d_, sizeof(d_)));         \
        } while (0)

void pipe_new(int p[2]);

bool write_all(int fd, const void *buf, size_t len);

bool read_within(int fd, void *buf, size_t len, int ms);

void ready_wait(int fd);

mc_ctx *ctx_new(void);

mc_ctx *ctx_policy(const char *json);

int ctx_set_targets(mc_ctx *ctx, unsigned targets);

bool ctx_audit_to_file(mc_ctx *ctx, const char *what);

typedef struct records {
        json_t **v;
        size_t n;
} records;

void records_load(records *r, const char *path);

void records_done(records *r);

json_t *jpath(json_t *v, const char *path);

const char *jstr(json_t *v, const char *path);

json_int_t jint(json_t *v, const char *path);

json_t *records_find(const records *r, const char *op, const char *outcome, size_t nth,
                     size_t *ret_index);

void records_wait_for(records *r, const char *op, size_t count);

bool thread_blocks(int signo);

uint64_t mask_bits(const sigset_t *s);

uint64_t current_mask(void);

#define SA_RESTORER_FLAG 0x04000000

typedef struct disposition {
        void *fn;
        int flags;
        uint64_t mask;
} disposition;

disposition disposition_of(int signo);

#define assert_same_disposition(signo, want)                                                       \
        do {                                                                                       \
                disposition now_ = disposition_of(signo);                                          \
                cr_assert(eq(ptr, now_.fn, (want).fn), "handler of signal %d", (signo));           \
                cr_assert(eq(int, now_.flags, (want).flags), "sa_flags of signal %d", (signo));    \
                cr_assert(eq(u64, now_.mask, (want).mask), "sa_mask of signal %d", (signo));       \
        } while (0)

bool dispatcher_running(void);

bool is_eventfd(int fd);

uint64_t signalfd_watched(void);

uint64_t bit(int signo);

#define COLLECT_MAX 64

typedef struct collector {
        pthread_mutex_t lock;
        size_t n;
        mc_signal_info info[COLLECT_MAX];
        pthread_t thread[COLLECT_MAX];
        mc_signal_action action; /* what the handler returns */
        int sleep_ms;            /* how long each call takes */
        atomic_int entered, finished;
} collector;

void collector_init(collector *c, mc_signal_action action);

mc_signal_action collect(const mc_signal_info *info, void *userdata);

size_t collected(collector *c);

size_t collector_wait(collector *c, size_t n, int ms);

extern atomic_int plain_calls;

extern atomic_int plain_last_signo;

extern pthread_t plain_thread;

void plain_handler(int signo);

extern atomic_int siginfo_calls;

extern siginfo_t siginfo_last;

void siginfo_handler(int signo, siginfo_t *si, void *uc);

void install_plain(int signo, int flags);

void install_siginfo(int signo);

void set_disposition(int signo, void (*fn)(int));

void reg(mc_ctx *ctx, int signo, mc_signal_handler fn, void *userdata, unsigned flags,
         mc_signal_previous *prev);

void unreg(mc_ctx *ctx, int signo);

mc_signal_payload user_data(int32_t v);

mc_signal_payload real_time(uint64_t v);

mc_sigset sigset_of(int a, int b);

bool is_tkill_code(int code);

int sig_pidfd_open(pid_t pid);

void require_pidfd(void);

void collect_each(mc_ctx *ctx, collector *c, const int *signals);

const mc_signal_info *find_signal(collector *c, int signo);

pid_t spawn_target(uid_t uid);

pid_t spawn_handling(int signo, mc_signal_handler fn, const char *audit);

void stop_target(pid_t pid);

size_t count_denied(const records *r);

mc_signal_action noop_handler(const mc_signal_info *info, void *userdata);

int64_t timed_wait_ms(mc_ctx *ctx, int signo, int64_t timeout_ms, int *ret, mc_error *err);
