/* SPDX-License-Identifier: MIT */
/*
 * The guard's Linux mechanism (see guard.c for what a guarded copy is): one process-wide
 * SIGBUS and SIGSEGV handler, installed on first use. Each thread keeps its own guard
 * (thread-local): the address range it is copying and a jump buffer. A fault is ours only when
 * it was raised by the kernel (si_code > 0), in a thread that is inside a guarded copy, at an
 * address inside the guarded range; then the handler jumps back out of the copy. Anything else
 * is passed on to the disposition that was there before memcap's (a handler is called, the
 * default action is restored and re-triggered), so a program's own crash handling and its core
 * dumps keep working.
 *
 * The jump uses sigsetjmp(env, 0): saving the signal mask would cost a system call per copy.
 * The handler runs with SA_NODEFER and an empty sa_mask, so jumping out of it leaves the
 * thread's signal mask exactly as it was.
 */

#include <setjmp.h>
#include <signal.h>

#include "guard-os.h"
#include "internal.h"

typedef struct guard {
        sigjmp_buf env;
        volatile sig_atomic_t active;
        uintptr_t lo, hi;
        volatile int sig;
        volatile uintptr_t addr;
} guard;

static __thread guard tls_guard;

static struct sigaction old_bus, old_segv;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;

static void pass_on(int sig, siginfo_t *si, void *uctx) {
        const struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;

        if (old->sa_flags & SA_SIGINFO) {
                old->sa_sigaction(sig, si, uctx);
                return;
        }
        if (old->sa_handler == SIG_IGN && si->si_code <= 0)
                return; /* sent by kill(): ignoring it was the program's choice */
        if (old->sa_handler == SIG_DFL || old->sa_handler == SIG_IGN) {
                /* A real fault re-executes the instruction on return and now meets the default
                 * action (the kernel does the same for ignored faults); a sent signal is
                 * raised again and delivered when this handler returns. */
                struct sigaction dfl;
                memset(&dfl, 0, sizeof(dfl));
                dfl.sa_handler = SIG_DFL;
                sigemptyset(&dfl.sa_mask);
                sigaction(sig, &dfl, NULL);
                if (si->si_code <= 0)
                        raise(sig);
                return;
        }
        old->sa_handler(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uctx) {
        guard *g = &tls_guard;
        uintptr_t a = (uintptr_t) si->si_addr;

        if (g->active && si->si_code > 0 && a >= g->lo && a < g->hi) {
                g->active = 0;
                g->sig = sig;
                g->addr = a;
                siglongjmp(g->env, 1);
        }
        pass_on(sig, si, uctx);
}

static void install(void) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (mc_sys.sigaction(SIGBUS, &sa, &old_bus) < 0 ||
            mc_sys.sigaction(SIGSEGV, &sa, &old_segv) < 0)
                install_error = errno ? errno : EINVAL;
}

/*
 * Copy with the fault range [lo, hi) guarded. noinline keeps the sigsetjmp frame simple: the
 * only state that crosses the jump lives in the thread's guard.
 */
__attribute__((noinline)) int mc__guard_copy(void *dst, const void *src, size_t n, uintptr_t lo,
                                             uintptr_t hi) {
        guard *g = &tls_guard;

        g->lo = lo;
        g->hi = hi;
        if (sigsetjmp(g->env, 0) != 0)
                return -EIO;
        g->active = 1;
        /* Keep the copy between the two stores: volatile alone does not order plain memory
         * accesses around it. */
        __asm__ volatile("" ::: "memory");
        memcpy(dst, src, n);
        __asm__ volatile("" ::: "memory");
        g->active = 0;
        return 0;
}

/*
 * The first page under [@off, @off + @len) of a mapping with parts of different protections
 * that lacks @need, or SIZE_MAX. Checked before the copy so that a refused access changes
 * nothing, rather than faulting part way.
 */
__attribute__((noinline)) int mc__guard_visit(mc_map_visitor fn, void *p, size_t n, void *userdata,
                                              int *ret) {
        guard *g = &tls_guard;

        g->lo = (uintptr_t) p;
        g->hi = (uintptr_t) p + n;
        if (sigsetjmp(g->env, 0) != 0)
                return -EIO;
        g->active = 1;
        __asm__ volatile("" ::: "memory");
        *ret = fn(p, n, userdata);
        __asm__ volatile("" ::: "memory");
        g->active = 0;
        return 0;
}

int mc__guard_install(void) {
        pthread_once(&install_once, install);
        return install_error;
}

const char *mc__guard_fault(uintptr_t *ret_addr, const char **ret_why) {
        const guard *g = &tls_guard;

        *ret_addr = g->addr;
        *ret_why = g->sig == SIGBUS ? "the file under the mapping is shorter than the mapping "
                                      "(truncated?)"
                                    : "the pages are no longer accessible (unmapped or "
                                      "protected by another thread?)";
        return g->sig == SIGBUS ? "SIGBUS" : "SIGSEGV";
}
