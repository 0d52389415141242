/* SPDX-License-Identifier: MIT */
/*
 * Guarded access: mc_map_read() and mc_map_write() copy out of / into a mapping and turn the
 * fault a truncated file raises (SIGBUS), or a page that vanished (SIGSEGV), into an Io error
 * instead of a dead process.
 *
 * This file checks the call against the registry; how a fault is caught is the OS layer's
 * (guard-os.h): signal handlers on Linux (guard-linux.c), a vectored exception handler on
 * Windows (win/guard-win.c).
 */

#include <inttypes.h>

#include "ctx-def.h"
#include "guard-os.h"

static size_t denied_page(const mc__entry *e, size_t off, size_t len, unsigned need) {
        size_t p0 = (e->ptr_off + off) / e->page, p1 = (e->ptr_off + off + len - 1) / e->page;

        for (size_t p = p0; p <= p1; p++)
                if ((e->protmap[p] & need) != need)
                        return p;
        return SIZE_MAX;
}

/*
 * The entries this thread accessed last, copied out of the registry together with the context's
 * generation (ctx-def.h). While the generation is unchanged nothing in the registry has, so a
 * hit is as good as a lookup under the lock, without the lock: bench-python's hot slice cost
 * 26 ns more than the standard mmap module's with them, 6 ns more with the copy (bench/README.md,
 * bench-python). Only entries with one protection throughout and no recorded fault are kept: the
 * rest need the lock's path for their page map and their error. A race with another thread's
 * munmap is the same as before: the copy ran after the lock was released then too, and the guard
 * catches it.
 */
#define ACCESS_CACHE_SLOTS 4 /* direct-mapped by id: a few mappings in turn stay hits */

typedef struct access_cache {
        uint64_t serial; /* the context's, never reused (a freed one's address may be); 0: empty */
        uint64_t gen, id;
        uintptr_t base, ptr; /* the mapping value, as the registry holds it */
        size_t base_len, len;
        unsigned prot;
} access_cache;

static __thread access_cache tls_cache[ACCESS_CACHE_SLOTS];

static bool cache_hit(const mc_ctx *ctx, const mc_mapping *m, size_t off, size_t len, unsigned need,
                      uintptr_t *ret_addr) {
        const access_cache *c = &tls_cache[m->id % ACCESS_CACHE_SLOTS];
        size_t end;

        if (c->serial != ctx->serial || c->id != m->id ||
            c->gen != atomic_load_explicit(&ctx->gen, memory_order_acquire))
                return false;
        if (c->base != (uintptr_t) m->base || c->base_len != m->base_len ||
            c->ptr != (uintptr_t) m->ptr || c->len != m->len)
                return false;
        /* Anything refused is left to the locked path, which says why. */
        if (MC_ADD_OVERFLOW(off, len, &end) || end > c->len || (c->prot & need) != need)
                return false;
        *ret_addr = c->ptr + off;
        return true;
}

/* With the context lock held. */
static void cache_fill(const mc_ctx *ctx, const mc__entry *e) {
        access_cache *c = &tls_cache[e->id % ACCESS_CACHE_SLOTS];

        if (e->protmap || e->faulted) {
                c->serial = 0;
                return;
        }
        *c = (access_cache){
                .serial = ctx->serial,
                .gen = atomic_load_explicit(&ctx->gen, memory_order_relaxed),
                .id = e->id,
                .base = e->base,
                .ptr = e->base + e->ptr_off,
                .base_len = e->base_len,
                .len = e->len,
                .prot = e->prot,
        };
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
        r = mc__guard_install();
        if (r != 0)
                return mc__error_errno(err, r, "%s: installing the fault guard", op);
        if (cache_hit(ctx, m, off, len, need, ret_addr))
                return 0;

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
        else {
                *ret_addr = e->base + e->ptr_off + off;
                cache_fill(ctx, e);
        }
        pthread_mutex_unlock(&ctx->lock);
        return r;
}

static int fault_error(const char *op, const mc_mapping *m, size_t off, size_t len, uintptr_t start,
                       mc_error *err) {
        uintptr_t addr;
        const char *why, *what = mc__guard_fault(&addr, &why);

        return mc__error_set(err, MC_ERR_IO, EIO,
                             "%s: %s at offset %" PRIuPTR " of mapping %p while copying %zu "
                             "bytes at offset %zu: %s",
                             op, what, addr - start + off, m->ptr, len, off, why);
}

int mc_map_read(mc_ctx *ctx, const mc_mapping *m, size_t offset, void *buf, size_t length,
                mc_error *err) {
        uintptr_t src = 0;
        int r;

        r = access_prepare("map_read", ctx, m, offset, length, buf, MC_PROT_READ, &src, err);
        if (r < 0 || length == 0)
                return r;
        r = mc__guard_copy(buf, (const void *) src, length, src, src + length);
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
        r = mc__guard_copy((void *) dst, buf, length, dst, dst + length);
        if (r < 0)
                return fault_error("map_write", m, offset, length, dst, err);
        return 0;
}

/*
 * Like mc__guard_copy(), with the caller's function in place of memcpy. Anything @fn leaves half
 * done when a fault jumps out of it is the caller's to accept: mc_map_visit() documents it.
 */
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
        r = mc__guard_visit(fn, (void *) p, length, userdata, &ret);
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
