/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A memcap signal handler for the Windows-only cases (test-portable.c, test-console-win.c):
 * it records where and what it ran for, register_recorder() and unregister_recorder() put it in
 * place and take it away, and wait_calls() waits for it with a bound (WAIT_UNTIL(), for any
 * condition another thread makes true).
 */

#include <windows.h>

#include <memcap/memcap.h>

#include "crit.h"

typedef struct got {
        volatile LONG calls;
        volatile DWORD thread;
        volatile int signo, code;
} got;

static mc_signal_action on_signal(const mc_signal_info *info, void *userdata) {
        got *g = userdata;

        g->thread = GetCurrentThreadId();
        g->signo = info->signal;
        g->code = info->code;
        InterlockedIncrement(&g->calls);
        return MC_SIGNAL_CONTINUE;
}

/* @g's handler registered for @signo in @ctx, with nothing before it to report. */
static void register_recorder(mc_ctx *ctx, int signo, got *g) {
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_signal_register_handler(ctx, signo, on_signal, g, 0, NULL, &e), 0, "%s",
                     e.message);
}

static void unregister_recorder(mc_ctx *ctx, int signo) {
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_signal_unregister_handler(ctx, signo, &e), 0, "%s", e.message);
}

/* Wait up to 10 s for @cond, which another thread (the dispatcher) makes true. */
#define WAIT_UNTIL(cond)                                                                           \
        for (int wait_ = 0; wait_ < 1000 && !(cond); wait_++)                                      \
        Sleep(10)

/* Wait up to 10 s for @n calls; fails the test with a message instead of hanging. */
static void wait_calls(got *g, LONG n) {
        WAIT_UNTIL(g->calls >= n);
        cr_assert_eq(g->calls, n, "the handler ran %ld times, not %ld, within 10 s",
                     (long) g->calls, (long) n);
}
