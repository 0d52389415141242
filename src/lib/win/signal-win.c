/* SPDX-License-Identifier: MIT */
/*
 * Signals on Windows. Windows has no POSIX signals: the console's control events (CTRL_C,
 * CTRL_BREAK, CLOSE, LOGOFF, SHUTDOWN) are the nearest thing, and the C runtime's raise() of
 * SIGINT, SIGTERM and SIGABRT. This build does not yet deliver them through memcap: every
 * call fails with Unsupported and says so, and a context holds no signal state.
 */

#include "internal.h"

static int unsupported(const char *op, mc_error *err) {
        return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                             "%s: memcap's signal calls are not available on Windows yet "
                             "(console control events are not delivered through memcap)",
                             op);
}

int mc_signal_register_handler(mc_ctx *ctx, int signo, mc_signal_handler handler, void *userdata,
                               unsigned flags, mc_signal_previous *ret_previous, mc_error *err) {
        (void) ctx, (void) signo, (void) handler, (void) userdata, (void) flags,
                (void) ret_previous;
        return unsupported("signal_register_handler", err);
}

int mc_signal_unregister_handler(mc_ctx *ctx, int signo, mc_error *err) {
        (void) ctx, (void) signo;
        return unsupported("signal_unregister_handler", err);
}

int mc_signal_fd(mc_ctx *ctx, int *ret_fd, mc_error *err) {
        (void) ctx, (void) ret_fd;
        return unsupported("signal_fd", err);
}

int mc_signal_dispatch(mc_ctx *ctx, mc_error *err) {
        (void) ctx;
        return unsupported("signal_dispatch", err);
}

int mc_signal_mask(mc_ctx *ctx, const mc_sigset *set, mc_sigset *ret_previous, mc_error *err) {
        (void) ctx, (void) set, (void) ret_previous;
        return unsupported("signal_mask", err);
}

int mc_signal_unmask(mc_ctx *ctx, const mc_sigset *previous, mc_error *err) {
        (void) ctx, (void) previous;
        return unsupported("signal_unmask", err);
}

int mc_signal_send(mc_ctx *ctx, pid_t pid, int signo, const mc_signal_payload *payload,
                   mc_error *err) {
        (void) ctx, (void) pid, (void) signo, (void) payload;
        return unsupported("signal_send", err);
}

int mc_signal_send_pidfd(mc_ctx *ctx, int pidfd, int signo, const mc_signal_payload *payload,
                         mc_error *err) {
        (void) ctx, (void) pidfd, (void) signo, (void) payload;
        return unsupported("signal_send_pidfd", err);
}

int mc_signal_raise(mc_ctx *ctx, int signo, mc_error *err) {
        (void) ctx, (void) signo;
        return unsupported("signal_raise", err);
}

int mc_signal_wait(mc_ctx *ctx, const mc_sigset *set, int64_t timeout_ns, mc_signal_info *ret_info,
                   mc_error *err) {
        (void) ctx, (void) set, (void) timeout_ns, (void) ret_info;
        return unsupported("signal_wait", err);
}

int mc_signal_stats(mc_signal_counts *ret, mc_error *err) {
        (void) ret;
        return unsupported("signal_stats", err);
}

/* ---- the context's hooks: no signal state to keep or release --------------------------------- */

void mc__signal_ctx_release(mc_ctx *ctx) {
        (void) ctx;
}

void mc__signal_fork_prepare(void) {
}

void mc__signal_fork_parent(void) {
}

void mc__signal_fork_child(void) {
}

void mc__signal_ctx_fork_child(mc_ctx *ctx) {
        (void) ctx;
}

bool mc__signal_registered(int signo) {
        (void) signo;
        return false;
}

uint64_t mc__signal_lost(void) {
        return 0;
}
