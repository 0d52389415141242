/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A memcap signal handler for the Windows-only cases (test-portable.c, test-console-win.c):
 * it records where and what it ran for, and wait_calls() waits for it with a bound.
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

/* Wait up to 10 s for @n calls; fails the test with a message instead of hanging. */
static void wait_calls(got *g, LONG n) {
        for (int i = 0; i < 1000 && g->calls < n; i++)
                Sleep(10);
        cr_assert_eq(g->calls, n, "the handler ran %ld times, not %ld, within 10 s",
                     (long) g->calls, (long) n);
}
