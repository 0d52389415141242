/* SPDX-License-Identifier: MIT */
/*
 * Guarded access: mc_map_read() and mc_map_write() copy out of / into a mapping and turn the
 * fault a truncated file raises (SIGBUS), or a page that vanished (SIGSEGV), into an Io error
 * instead of a dead process.
 *
 * How: one process-wide SIGBUS and SIGSEGV handler, installed on first use. Each thread keeps
 * its own guard (thread-local): the address range it is copying and a jump buffer. A fault is
 * ours only when it was raised by the kernel (si_code > 0), in a thread that is inside a
 * guarded copy, at an address inside the guarded range; then the handler jumps back out of the
 * copy. Anything else is passed on to the disposition that was there before memcap's (a
 * handler is called, the default action is restored and re-triggered), so a program's own
 * crash handling and its core dumps keep working.
 *
 * The jump uses sigsetjmp(env, 0): saving the signal mask would cost a system call per copy.
 * The handler runs with SA_NODEFER and an empty sa_mask, so jumping out of it leaves the
 * thread's signal mask exactly as it was.
 */

#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>

#include "ctx-def.h"

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
__attribute__((noinline)) static int guarded_copy(void *dst, const void *src, size_t n,
                                                  uintptr_t lo, uintptr_t hi) {
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
static size_t denied_page(const mc__entry *e, size_t off, size_t len, unsigned need) {
        size_t p0 = (e->ptr_off + off) / e->page, p1 = (e->ptr_off + off + len - 1) / e->page;

        for (size_t p = p0; p <= p1; p++)
                if ((e->protmap[p] & need) != need)
                        return p;
        return SIZE_MAX;
}

/* Validate the call and find the bytes it is about; context lock taken and released here. */
static int access_prepare(const char *op, mc_ctx *ctx, const mc_mapping *m, size_t off, size_t len,
                          const void *buf, unsigned need, uintptr_t *ret_addr, mc_error *err) {
        mc__entry *e;
        size_t end, p;
        int r = 0;

        if (!ctx || !m)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: context and mapping must not be NULL", op);
        if (!buf && len > 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "%s: the buffer is NULL",
                                     op);
        pthread_once(&install_once, install);
        if (install_error)
                return mc__error_errno(err, install_error,
                                       "%s: installing the SIGBUS/SIGSEGV guard", op);

        pthread_mutex_lock(&ctx->lock);
        e = mc__registry_lookup(ctx, m);
        if (!e)
                r = mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT,
                                  "%s: mapping %p (%zu bytes) is not a live mapping of this "
                                  "context",
                                  op, m->ptr, m->len);
        else if (MC_ADD_OVERFLOW(off, len, &end) || end > e->len)
                r = mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "%s: %zu bytes at offset %zu end past the mapping (%zu bytes)",
                                  op, len, off, e->len);
        else if ((e->prot & need) != need)
                r = mc__error_set(err, MC_ERR_PERMISSION_DENIED, EACCES,
                                  "%s: mapping %p is %s; it cannot be %s", op, m->ptr,
                                  mc__prot_name(e->prot),
                                  need == MC_PROT_READ ? "read" : "written");
        else if (e->protmap && len > 0 && (p = denied_page(e, off, len, need)) != SIZE_MAX)
                r = mc__error_set(err, MC_ERR_PERMISSION_DENIED, EACCES,
                                  "%s: page %zu of mapping %p is %s; it cannot be %s", op, p,
                                  m->ptr, mc__prot_name(e->protmap[p]),
                                  need == MC_PROT_READ ? "read" : "written");
        else if (e->faulted && (need & MC_PROT_WRITE))
                /* Writing on would look like success while an msync already lost data. */
                r = mc__faulted_error(op, m, err);
        else
                *ret_addr = e->base + e->ptr_off + off;
        pthread_mutex_unlock(&ctx->lock);
        return r;
}

static int fault_error(const char *op, const mc_mapping *m, size_t off, size_t len, uintptr_t start,
                       mc_error *err) {
        const guard *g = &tls_guard;

        return mc__error_set(err, MC_ERR_IO, EIO,
                             "%s: %s at offset %" PRIuPTR " of mapping %p while copying %zu "
                             "bytes at offset %zu: %s",
                             op, g->sig == SIGBUS ? "SIGBUS" : "SIGSEGV", g->addr - start + off,
                             m->ptr, len, off,
                             g->sig == SIGBUS ? "the file under the mapping is shorter than "
                                                "the mapping (truncated?)"
                                              : "the pages are no longer accessible (unmapped "
                                                "or protected by another thread?)");
}

int mc_map_read(mc_ctx *ctx, const mc_mapping *m, size_t offset, void *buf, size_t length,
                mc_error *err) {
        uintptr_t src = 0;
        int r;

        r = access_prepare("map_read", ctx, m, offset, length, buf, MC_PROT_READ, &src, err);
        if (r < 0 || length == 0)
                return r;
        r = guarded_copy(buf, (const void *) src, length, src, src + length);
        if (r < 0)
                return fault_error("map_read", m, offset, length, src, err);
        return 0;
}

int mc_map_write(mc_ctx *ctx, const mc_mapping *m, size_t offset, const void *buf, size_t length,
                 mc_error *err) {
        uintptr_t dst = 0;
        int r;

        r = access_prepare("map_write", ctx, m, offset, length, buf, MC_PROT_WRITE, &dst, err);
        if (r < 0 || length == 0)
                return r;
        r = guarded_copy((void *) dst, buf, length, dst, dst + length);
        if (r < 0)
                return fault_error("map_write", m, offset, length, dst, err);
        return 0;
}

/*
 * Like guarded_copy(), with the caller's function in place of memcpy. Anything @fn leaves half
 * done when a fault jumps out of it is the caller's to accept: mc_map_visit() documents it.
 */
__attribute__((noinline)) static int guarded_visit(mc_map_visitor fn, void *p, size_t n,
                                                   void *userdata, int *ret) {
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

int mc_map_visit(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, unsigned prot,
                 mc_map_visitor fn, void *userdata, mc_error *err) {
        uintptr_t p = 0;
        int r, ret = 0;

        if (!fn || (prot & ~(unsigned) (MC_PROT_READ | MC_PROT_WRITE)) || !(prot & MC_PROT_READ))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "map_visit: needs a function and protection READ or "
                                     "READ|WRITE (got 0x%x)",
                                     prot);
        /* A non-NULL stand-in for the buffer: the bytes are visited in place. */
        r = access_prepare("map_visit", ctx, m, offset, length, m, prot, &p, err);
        if (r < 0 || length == 0)
                return r;
        r = guarded_visit(fn, (void *) p, length, userdata, &ret);
        if (r < 0)
                return fault_error("map_visit", m, offset, length, p, err);
        return ret;
}

bool mc_map_is_faulted(mc_ctx *ctx, const mc_mapping *m) {
        const mc__entry *e;
        bool faulted;

        if (!ctx || !m)
                return false;
        pthread_mutex_lock(&ctx->lock);
        e = mc__registry_lookup(ctx, m);
        faulted = e && e->faulted;
        pthread_mutex_unlock(&ctx->lock);
        return faulted;
}
