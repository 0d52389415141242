/* SPDX-License-Identifier: MIT */
/*
 * The guard's Windows mechanism (see guard.c, guard-os.h): a vectored exception handler,
 * added once, first in the chain. An exception is ours only when the thread is inside a
 * guarded copy and the faulting address lies in the range it guards: EXCEPTION_IN_PAGE_ERROR
 * (the file under a view could not be read: truncated, or an I/O error) or an access
 * violation (the pages went away or lost their access). Then the handler jumps back out of
 * the copy; anything else continues the search, so the program's own handlers and the
 * debugger still see it.
 *
 * The jump is __builtin_setjmp/__builtin_longjmp: it restores the registers and nothing more.
 * The C runtime's longjmp unwinds through SEH frames, which it must not do from inside the
 * exception dispatcher.
 */

#include <errno.h>
#include <pthread.h>
#include <windows.h>

#include "guard-os.h"

typedef struct guard {
        void *env[5];
        volatile LONG active;
        uintptr_t lo, hi;
        volatile DWORD code;
        volatile uintptr_t addr;
} guard;

static __thread guard tls_guard;

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;

static LONG WINAPI on_exception(EXCEPTION_POINTERS *ep) {
        guard *g = &tls_guard;
        const EXCEPTION_RECORD *er = ep->ExceptionRecord;
        uintptr_t a;

        if (!g->active || (er->ExceptionCode != EXCEPTION_IN_PAGE_ERROR &&
                           er->ExceptionCode != EXCEPTION_ACCESS_VIOLATION))
                return EXCEPTION_CONTINUE_SEARCH;
        /* Both codes carry the address that faulted as their second parameter. */
        a = er->NumberParameters >= 2 ? (uintptr_t) er->ExceptionInformation[1] : 0;
        if (a < g->lo || a >= g->hi)
                return EXCEPTION_CONTINUE_SEARCH;
        g->active = 0;
        g->code = er->ExceptionCode;
        g->addr = a;
        __builtin_longjmp(g->env, 1);
}

static void install(void) {
        if (!AddVectoredExceptionHandler(1, on_exception))
                install_error = ENOMEM;
}

int mc__guard_install(void) {
        pthread_once(&install_once, install);
        return install_error;
}

__attribute__((noinline)) int mc__guard_copy(void *dst, const void *src, size_t n, uintptr_t lo,
                                             uintptr_t hi) {
        guard *g = &tls_guard;

        g->lo = lo;
        g->hi = hi;
        if (__builtin_setjmp(g->env) != 0)
                return -EIO;
        g->active = 1;
        __asm__ volatile("" ::: "memory");
        memcpy(dst, src, n);
        __asm__ volatile("" ::: "memory");
        g->active = 0;
        return 0;
}

__attribute__((noinline)) int mc__guard_visit(mc_map_visitor fn, void *p, size_t n, void *userdata,
                                              int *ret) {
        guard *g = &tls_guard;

        g->lo = (uintptr_t) p;
        g->hi = (uintptr_t) p + n;
        if (__builtin_setjmp(g->env) != 0)
                return -EIO;
        g->active = 1;
        __asm__ volatile("" ::: "memory");
        *ret = fn(p, n, userdata);
        __asm__ volatile("" ::: "memory");
        g->active = 0;
        return 0;
}

const char *mc__guard_fault(uintptr_t *ret_addr, const char **ret_why) {
        const guard *g = &tls_guard;

        *ret_addr = g->addr;
        if (g->code == EXCEPTION_IN_PAGE_ERROR) {
                *ret_why = "the file under the mapping could not be read (truncated, or an I/O "
                           "error)";
                return "EXCEPTION_IN_PAGE_ERROR";
        }
        *ret_why = "the pages are no longer accessible (unmapped or protected by another "
                   "thread?)";
        return "EXCEPTION_ACCESS_VIOLATION";
}
