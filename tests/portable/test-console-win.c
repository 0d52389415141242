/* SPDX-License-Identifier: MIT */
/*
 * The console's CLOSE, LOGOFF and SHUTDOWN events on Windows, under Wine in `make
 * test-windows`. Nothing lets a program or Wine send those events, so these cases call the
 * control handler memcap registered with SetConsoleCtrlHandler() the way Windows would,
 * through the test seam mc__signal_console_event() (win/sys-win.h): what is simulated is the
 * sender only; the handler, the queue, the dispatcher thread and the audit are the real ones.
 * Linked with the library's objects (not the DLL) to reach the seam.
 */

#include <signal.h>
#include <windows.h>

#include <memcap/memcap.h>

#include "crit.h"
#include "sys.h"
#include "win-handler.h"

typedef struct seen {
        volatile LONG n;
        volatile LONG deliveries_with_code;
} seen;

static void on_record(const mc_audit_record *r, void *userdata) {
        seen *s = userdata;

        if (strstr(r->json, "\"signal_deliver\"") && strstr(r->json, "\"code\":"))
                InterlockedIncrement(&s->deliveries_with_code);
        InterlockedIncrement(&s->n);
}

Test(console, close_logoff_and_shutdown_reach_a_sigterm_handler) {
        static const DWORD events[] = {CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT};
        mc_ctx *ctx = NULL;
        mc_audit *a = NULL;
        mc_error e = MC_ERROR_INIT;
        seen s = {0};
        got g = {0};

        cr_assert_eq(mc_ctx_new(&ctx, &e), 0, "%s", e.message);
        cr_assert_eq(mc_audit_open_callback(on_record, &s, &a, &e), 0, "%s", e.message);
        mc_ctx_set_audit(ctx, a); /* the context owns it now */
        register_recorder(ctx, SIGTERM, &g);
        for (LONG i = 0; i < 3; i++) {
                cr_assert(mc__signal_console_event(events[i]), "event %lu was not taken",
                          (unsigned long) events[i]);
                wait_calls(&g, i + 1);
                cr_assert_eq(g.signo, SIGTERM);
                cr_assert_eq(g.code, (int) events[i], "the info's code names the event");
                cr_assert_neq(g.thread, GetCurrentThreadId(), "runs on the dispatcher");
        }
        unregister_recorder(ctx, SIGTERM);
        /* Each delivery is audited, with the event as its code. */
        WAIT_UNTIL(s.deliveries_with_code >= 3);
        cr_assert_eq(s.deliveries_with_code, 3);
        mc_ctx_free(ctx);
}

/* A new context with @g's handler registered for SIGTERM. */
static mc_ctx *sigterm_recorded(got *g) {
        mc_ctx *ctx = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_ctx_new(&ctx, &e), 0, "%s", e.message);
        register_recorder(ctx, SIGTERM, g);
        return ctx;
}

Test(console, ctrl_c_and_ctrl_break_are_left_to_the_c_runtime) {
        got g = {0};
        mc_ctx *ctx = sigterm_recorded(&g);

        /* The C runtime's own control handler turns these into SIGINT and SIGBREAK. */
        cr_assert(!mc__signal_console_event(CTRL_C_EVENT));
        cr_assert(!mc__signal_console_event(CTRL_BREAK_EVENT));
        unregister_recorder(ctx, SIGTERM);
        cr_assert_eq(g.calls, 0);
        mc_ctx_free(ctx);
}

Test(console, without_a_sigterm_registration_windows_keeps_its_default) {
        got g = {0};
        mc_ctx *ctx;

        /* Not taken: the next handler, finally Windows' default (the process ends), decides. */
        cr_assert(!mc__signal_console_event(CTRL_CLOSE_EVENT));
        ctx = sigterm_recorded(&g);
        unregister_recorder(ctx, SIGTERM);
        cr_assert(!mc__signal_console_event(CTRL_SHUTDOWN_EVENT), "taken after unregistering");
        cr_assert_eq(g.calls, 0);
        mc_ctx_free(ctx);
}
