/* SPDX-License-Identifier: MIT */
/*
 * The core.memory operations on a live mapping: mprotect, msync, mremap, madvise, mlock and
 * munlock. Each finds the mapping in the registry first (a stale or forged value is NotFound
 * before any system call), checks the range it asks for, and keeps what the kernel does per
 * page (protections, locks) where the registry needs it.
 *
 * Sections: ranges and lock maps, mprotect, msync, mremap, madvise, mlock/munlock.
 */

#include <inttypes.h>
#include <sys/mman.h>

#include "map-def.h"

/* ---- ranges and lock maps ---------------------------------------------------------------- */

/*
 * Check that [off, off+*len) lies inside the mapping's caller-visible bytes; MC_LENGTH_ALL
 * means "to the end". An explicit length of 0 is an error (it is almost always a bug); the
 * whole of a zero-length mapping is an empty range, which callers treat as nothing to do.
 */
int mc__range_check(const char *op, const mc__entry *e, size_t off, size_t *len, mc_error *err) {
        size_t end;

        if (off > e->len)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: offset %zu is outside the mapping (%zu bytes)", op, off,
                                     e->len);
        if (*len == MC_LENGTH_ALL) {
                *len = e->len - off;
                return 0;
        }
        if (*len == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: length is 0; give at least one byte or MC_LENGTH_ALL",
                                     op);
        if (MC_ADD_OVERFLOW(off, *len, &end) || end > e->len)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: range of %zu bytes at offset %zu ends past the mapping "
                                     "(%zu bytes)",
                                     op, *len, off, e->len);
        return 0;
}

/* The whole pages under a checked range: [*p0, *p1) as page indexes from base. */
void mc__range_pages(const mc__entry *e, size_t off, size_t len, size_t *p0, size_t *p1) {
        size_t start = e->ptr_off + off;
        *p0 = start / e->page;
        *p1 = (start + len + e->page - 1) / e->page;
}

static bool lock_bit(const mc__entry *e, size_t p) {
        if (!e->lockmap)
                return e->locked == e->base_len;
        return e->lockmap[p / 8] & (1u << (p % 8));
}

/* Bytes in pages [p0, p1) that are (@want true) or are not locked. */
static uint64_t count_locked(const mc__entry *e, size_t p0, size_t p1, bool want) {
        uint64_t n = 0;

        if (!e->lockmap) {
                bool all = e->locked == e->base_len && e->locked > 0;
                return all == want ? (uint64_t) (p1 - p0) * e->page : 0;
        }
        for (size_t p = p0; p < p1; p++)
                if (lock_bit(e, p) == want)
                        n += e->page;
        return n;
}

/* Allocate the lock map before a call that may leave the mapping partly locked. */
static int lockmap_prepare(mc__entry *e) {
        size_t bytes = (mc__entry_pages(e) + 7) / 8;
        bool all = e->locked == e->base_len && e->locked > 0;

        if (e->lockmap)
                return 0;
        e->lockmap = calloc(bytes ? bytes : 1, 1);
        if (!e->lockmap)
                return -ENOMEM;
        if (all)
                memset(e->lockmap, 0xff, bytes);
        return 0;
}

static void lockmap_set(mc__entry *e, size_t p0, size_t p1, bool on) {
        for (size_t p = p0; p < p1; p++) {
                bool was = e->lockmap[p / 8] & (1u << (p % 8));
                if (on && !was) {
                        e->lockmap[p / 8] |= (uint8_t) (1u << (p % 8));
                        e->locked += e->page;
                } else if (!on && was) {
                        e->lockmap[p / 8] &= (uint8_t) ~(1u << (p % 8));
                        e->locked -= e->page;
                }
        }
        /* All or nothing needs no map: keep the common cases cheap and remap-friendly. */
        if (e->locked == 0 || e->locked == e->base_len) {
                free(e->lockmap);
                e->lockmap = NULL;
        }
}

/*
 * Start the record of @op on @length bytes of @m from @offset (@ranged: the offset is part of
 * the request), made for the manager's client @cl or, with NULL, for the application.
 */
static void range_call_init(mc__call *c, mc_op op, mc__client_call *cl, const mc_mapping *m,
                            size_t offset, size_t length, bool ranged) {
        mc__call_init(c, op, MC__CAP_MEMORY);
        c->client = cl;
        if (ranged) {
                c->fields |= MC__F_OFFSET;
                c->req.offset = offset;
        }
        mc__call_set_range(c, m, length);
}

/* ---- mprotect ---------------------------------------------------------------------------- */

static int range_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err);

/*
 * The decision inputs of a protection change: the charge it adds (a private mapping that
 * becomes writable counts whole from then on) and whether it would alias write and execute.
 * Changing part of a mapping needs its page map before the call, since nothing may fail after.
 */
static int protect_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        unsigned prot = (unsigned) a->arg, view;
        mc__entry *e, after;
        uint64_t before;
        bool whole;
        int r = range_prepare(ctx, c, data, err);

        if (r < 0)
                return r;
        e = a->e;
        whole = a->size == 0 || (a->p0 == 0 && a->p1 == mc__entry_pages(e));
        before = mc__entry_charge(e);
        after = *e;
        after.was_writable = after.was_writable || (prot & MC_PROT_WRITE);
        c->add_charged = mc__entry_charge(&after) > before ? mc__entry_charge(&after) - before : 0;
        /* A partial change leaves the other pages as they are: the view is judged by all. */
        view = whole ? prot : e->prot | prot;
        if ((prot & MC_PROT_EXEC) && e->was_writable)
                c->wx_alias = MC__WX_EXEC_AFTER_WRITE;
        else if (e->has_object)
                c->wx_alias = mc__objects_wx(ctx, &e->object, view, e->flags & MC_MAP_SHARED, e);
        if (whole || e->protmap)
                return 0;
        e->protmap = malloc(mc__entry_pages(e));
        if (!e->protmap)
                return mc__error_errno(err, ENOMEM, "mprotect: recording page protections");
        memset(e->protmap, (int) e->prot, mc__entry_pages(e));
        return 0;
}

static int protect_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        mc__entry *e = a->e;
        unsigned prot = (unsigned) a->arg, all = 0;
        size_t np = mc__entry_pages(e);
        uint64_t before = mc__entry_charge(e);
        bool uniform = true;

        if (a->size != 0 && mc_sys.mprotect(a->start, a->size, mc__prot_to_sys(prot)) < 0) {
                int en = errno;
                return mc__error_errno(err, en, "mprotect " MAPPING_FMT " to %s%s",
                                       MAPPING_ARGS(a->m), mc__prot_name(prot),
                                       en == EACCES ? " (the file is not open for writing, or is "
                                                      "on a noexec mount)"
                                                    : "");
        }
        if (a->size == 0 || (a->p0 == 0 && a->p1 == np)) {
                /* The whole mapping (or the nothing of an empty one): one protection again. */
                free(e->protmap);
                e->protmap = NULL;
                e->prot = prot;
        } else {
                memset(e->protmap + a->p0, (int) prot, a->p1 - a->p0);
                for (size_t p = 0; p < np; p++) {
                        all |= e->protmap[p];
                        uniform = uniform && e->protmap[p] == e->protmap[0];
                }
                e->prot = uniform ? e->protmap[0] : all;
                if (uniform) {
                        free(e->protmap);
                        e->protmap = NULL;
                }
        }
        e->was_writable = e->was_writable || (prot & MC_PROT_WRITE);
        mc__objects_update(ctx, e);
        mc__charge_delta(c, before, e);
        a->prot_after = e->prot;
        c->has_result = true;
        c->res_addr = a->m->ptr;
        c->res_length = a->m->len;
        return 0;
}

static const mc__steps protect_steps = {.prepare = protect_prepare, .syscall = protect_syscall};

static int protect_check(const mc_mapping *m, unsigned prot, mc_error *err) {
        int r = mc__mapping_check("mprotect", m, err);

        if (r < 0)
                return r;
        if (prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mprotect: unknown protection bits 0x%x", prot);
        return 0;
}

static int protect_common(mc_ctx *ctx, mc_mapping *m, size_t offset, size_t length, unsigned prot,
                          bool ranged, mc__client_call *cl, mc_error *err) {
        MC__ERROR_LOCAL(e);
        entry_args a = {.m = m, .off = offset, .len = length, .arg = (int) prot};
        mc__call c;
        int r;

        range_call_init(&c, MC_OP_MPROTECT, cl, m, offset, length, ranged);
        c.fields |= MC__F_PROT;
        c.req.prot = prot;
        c.write_exec = (prot & MC_PROT_WRITE) && (prot & MC_PROT_EXEC);
        r = protect_check(m, prot, &e);
        r = mc__ctx_run(ctx, &c, r, &e, &protect_steps, &a, err);
        if (r >= 0)
                m->prot = a.prot_after;
        return r;
}

int mc_mprotect(mc_ctx *ctx, mc_mapping *m, unsigned prot, mc_error *err) {
        return protect_common(ctx, m, 0, MC_LENGTH_ALL, prot, false, /* cl= */ NULL, err);
}

int mc__mprotect_client(mc_ctx *ctx, mc_mapping *m, size_t offset, size_t length, unsigned prot,
                        mc__client_call *cl, mc_error *err) {
        return protect_common(ctx, m, offset, length, prot,
                              /* ranged= */ offset != 0 || length != MC_LENGTH_ALL, cl, err);
}

int mc_mprotect_range(mc_ctx *ctx, mc_mapping *m, size_t offset, size_t length, unsigned prot,
                      mc_error *err) {
        return protect_common(ctx, m, offset, length, prot, true, /* cl= */ NULL, err);
}

/* ---- msync ---------------------------------------------------------------------------------- */

/* Check the range and compute the whole pages under it (context lock held). */
static int range_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        int r = mc__map_lookup_prepare(ctx, c, data, err);

        if (r < 0)
                return r;
        r = mc__range_check(mc_op_name(c->op), a->e, a->off, &a->len, err);
        if (r < 0)
                return r;
        mc__range_pages(a->e, a->off, a->len, &a->p0, &a->p1);
        a->start = (void *) (a->e->base + a->p0 * a->e->page);
        a->size = (a->p1 - a->p0) * a->e->page;
        if (a->len == 0 || a->e->kind == MC__KIND_EMPTY)
                a->size = 0; /* the whole of an empty mapping: nothing to do */
        return 0;
}

/*
 * A mapping whose msync failed with EIO may have lost what was written to it: the kernel may
 * have dropped the dirty pages, and it reports a write-back error only once, so a later msync
 * would succeed as if nothing happened. Such a mapping is faulted until it is unmapped.
 */
int mc__faulted_error(const char *op, const mc_mapping *m, mc_error *err) {
        return mc__error_set(err, MC_ERR_IO, EIO,
                             "%s: " MAPPING_FMT " may have lost written data: an earlier msync "
                             "failed with an I/O error, which the kernel reports only once; "
                             "unmap it and map it again",
                             op, MAPPING_ARGS(m));
}

static int sync_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        int r = range_prepare(ctx, c, data, err);

        if (r < 0)
                return r;
        if (a->e->faulted)
                return mc__faulted_error("msync", a->m, err);
        a->id = a->e->id;
        return 0;
}

static int sync_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        unsigned f = (unsigned) a->arg;
        int flags = (f & MC_SYNC_SYNC ? MS_SYNC : 0) | (f & MC_SYNC_ASYNC ? MS_ASYNC : 0) |
                    (f & MC_SYNC_INVALIDATE ? MS_INVALIDATE : 0);

        (void) c;
        if (a->size == 0)
                return 0;
        if (mc_sys.msync(a->start, a->size, flags) < 0) {
                int e = errno;
                if (e == ENOMEM)
                        return mc__error_set(err, MC_ERR_NOT_FOUND, ENOMEM,
                                             "msync %p (%zu bytes): the range is no longer "
                                             "mapped (unmapped by another thread?)",
                                             a->start, a->size);
                if (e == EIO) {
                        mc__ctx_mark_faulted(ctx, a->id);
                        return mc__error_set(err, MC_ERR_IO, EIO,
                                             "msync %p (%zu bytes): Input/output error; written "
                                             "data may be lost, and the mapping reports Io until "
                                             "it is unmapped and mapped again",
                                             a->start, a->size);
                }
                return mc__error_errno(err, e, "msync %p (%zu bytes)", a->start, a->size);
        }
        return 0;
}

/* msync can wait for the disk: it runs without the context lock and changes no usage. */
static const mc__steps sync_steps = {
        .prepare = sync_prepare, .syscall = sync_syscall, .flags = MC__RUN_UNLOCKED};

static int sync_check(const mc_mapping *m, unsigned flags, mc_error *err) {
        unsigned mode = flags & (MC_SYNC_SYNC | MC_SYNC_ASYNC);
        int r = mc__mapping_check("msync", m, err);

        if (r < 0)
                return r;
        if (flags & ~(unsigned) (MC_SYNC_SYNC | MC_SYNC_ASYNC | MC_SYNC_INVALIDATE))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "msync: unknown flag bits 0x%x", flags);
        if (mode != MC_SYNC_SYNC && mode != MC_SYNC_ASYNC)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "msync: give exactly one of MC_SYNC_SYNC and MC_SYNC_ASYNC");
        return 0;
}

int mc_msync(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, unsigned flags,
             mc_error *err) {
        MC__ERROR_LOCAL(e);
        entry_args a = {.m = m, .off = offset, .len = length, .arg = (int) flags};
        mc__call c;
        int r;

        range_call_init(&c, MC_OP_MSYNC, /* cl= */ NULL, m, offset, length, /* ranged= */ true);
        c.fields |= MC__F_SYNC;
        c.req.sync = flags;
        r = sync_check(m, flags, &e);
        return mc__ctx_run(ctx, &c, r, &e, &sync_steps, &a, err);
}

/* ---- mremap --------------------------------------------------------------------------------- */

typedef struct remap_args {
        entry_args base;
        size_t new_len;
        size_t new_base_len;
        unsigned flags;
} remap_args;

static int remap_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        remap_args *a = data;
        mc__entry *e;
        size_t span;
        int r = mc__map_lookup_prepare(ctx, c, &a->base, err);

        if (r < 0)
                return r;
        e = a->base.e;
        if (e->kind == MC__KIND_EMPTY)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mremap: " MAPPING_FMT " is zero-length (an empty file); "
                                     "map the file again once it has grown",
                                     MAPPING_ARGS(a->base.m));
        if (e->kind == MC__KIND_SHARED)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mremap: " MAPPING_FMT " is the region of a shared memory "
                                     "object; use mc_shared_resize()",
                                     MAPPING_ARGS(a->base.m));
        /* The kernel keeps such a mapping in pieces, and mremap() refuses those. */
        if (e->protmap)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mremap: parts of " MAPPING_FMT " have different "
                                     "protections; mc_mprotect() all of it first",
                                     MAPPING_ARGS(a->base.m));
        if (MC_ADD_OVERFLOW(e->ptr_off, a->new_len, &span) ||
            !align_up(span, e->page, &a->new_base_len) || a->new_base_len > (size_t) PTRDIFF_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "mremap: new length %zu is too large for the address space",
                                     a->new_len);
        if (a->new_base_len > e->base_len && e->lockmap) {
                /* Partly locked mappings span several kernel mappings and mremap refuses
                 * them; should it not, the map must already cover the new pages. */
                size_t bytes = (a->new_base_len / e->page + 7) / 8,
                       old = (mc__entry_pages(e) + 7) / 8;
                uint8_t *map = realloc(e->lockmap, bytes);
                if (!map)
                        return mc__error_errno(err, ENOMEM, "mremap: recording locked pages");
                memset(map + old, 0, bytes - old);
                e->lockmap = map;
        }
        if (a->new_base_len > e->base_len) {
                mc__entry after = *e;

                c->add_bytes = a->new_base_len - e->base_len;
                /* A wholly locked mapping stays wholly locked when it grows. */
                if (e->locked > 0 && e->locked == e->base_len)
                        c->add_locked = c->add_bytes;
                after.base_len = a->new_base_len;
                after.locked += c->add_locked;
                c->add_charged = mc__entry_charge(&after) - mc__entry_charge(e);
        }
        return 0;
}

void mc__entry_remapped(mc__entry *e, mc__call *c, void *p, size_t new_base_len) {
        if (new_base_len < e->base_len) {
                size_t np = new_base_len / e->page, old_np = mc__entry_pages(e);
                c->sub_bytes = e->base_len - new_base_len;
                if (e->lockmap) {
                        c->sub_locked = count_locked(e, np, old_np, true);
                        e->base_len = new_base_len;
                        lockmap_set(e, np, old_np, false);
                } else if (e->locked > 0) {
                        c->sub_locked = c->sub_bytes;
                        e->locked -= c->sub_bytes;
                }
        } else {
                e->locked += c->add_locked;
        }
        e->base = (uintptr_t) p;
        e->base_len = new_base_len;
}

static int remap_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        remap_args *a = data;
        mc__entry *e = a->base.e;
        void *p;

        uint64_t before = mc__entry_charge(e);

        (void) ctx;
        p = mc_sys.mremap((void *) e->base, e->base_len, a->new_base_len,
                          a->flags & MC_REMAP_MAYMOVE ? MREMAP_MAYMOVE : 0, NULL);
        if (p == MAP_FAILED) {
                int en = errno;
                const char *hint = "";
                if (en == ENOMEM && !(a->flags & MC_REMAP_MAYMOVE))
                        hint = " (it cannot grow in place; pass MC_REMAP_MAYMOVE to let it move)";
                else if (en == EFAULT)
                        hint = " (the mapping is split into parts with different settings, e.g. "
                               "partly locked or advised; undo that first)";
                if (en == EFAULT)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EFAULT,
                                             "mremap " MAPPING_FMT " to %zu bytes: Bad address%s",
                                             MAPPING_ARGS(a->base.m), a->new_len, hint);
                return mc__error_errno(err, en, "mremap " MAPPING_FMT " to %zu bytes%s",
                                       MAPPING_ARGS(a->base.m), a->new_len, hint);
        }
        mc__entry_remapped(e, c, p, a->new_base_len);
        e->len = a->new_len;
        mc__charge_delta(c, before, e);
        c->has_result = true;
        c->res_addr = (void *) (e->base + e->ptr_off);
        c->res_length = e->len;
        mc__entry_to_mapping(e, (mc_mapping *) a->base.m);
        return 0;
}

static const mc__steps remap_steps = {.prepare = remap_prepare, .syscall = remap_syscall};

static int remap_check(const mc_mapping *m, size_t new_len, unsigned flags, mc_error *err) {
        int r = mc__mapping_check("mremap", m, err);

        if (r < 0)
                return r;
        if (new_len == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mremap: new length is 0; use mc_munmap() to remove a "
                                     "mapping");
        if (flags & ~(unsigned) MC_REMAP_MAYMOVE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mremap: unknown flag bits 0x%x", flags);
        return 0;
}

int mc_remap(mc_ctx *ctx, mc_mapping *m, size_t new_len, unsigned flags, mc_error *err) {
        MC__ERROR_LOCAL(e);
        remap_args a = {.base = {.m = m}, .new_len = new_len, .flags = flags};
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_MREMAP, MC__CAP_MEMORY);
        c.fields |= MC__F_NEW_LENGTH;
        c.req.new_length = new_len;
        mc__call_set_range(&c, m, MC_LENGTH_ALL);
        r = remap_check(m, new_len, flags, &e);
        return mc__ctx_run(ctx, &c, r, &e, &remap_steps, &a, err);
}

/* ---- madvise ------------------------------------------------------------------------------ */

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ -1
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE -1
#endif
#ifndef MADV_COLD
#define MADV_COLD -1
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT -1
#endif

static const struct advice {
        const char *name;
        int sys;
} advices[_MC_ADVICE_MAX] = {
        [MC_ADVICE_NORMAL] = {"NORMAL", MADV_NORMAL},
        [MC_ADVICE_RANDOM] = {"RANDOM", MADV_RANDOM},
        [MC_ADVICE_SEQUENTIAL] = {"SEQUENTIAL", MADV_SEQUENTIAL},
        [MC_ADVICE_WILLNEED] = {"WILLNEED", MADV_WILLNEED},
        [MC_ADVICE_DONTNEED] = {"DONTNEED", MADV_DONTNEED},
        [MC_ADVICE_FREE] = {"FREE", MADV_FREE},
        [MC_ADVICE_REMOVE] = {"REMOVE", MADV_REMOVE},
        [MC_ADVICE_DONTFORK] = {"DONTFORK", MADV_DONTFORK},
        [MC_ADVICE_DOFORK] = {"DOFORK", MADV_DOFORK},
        [MC_ADVICE_WIPEONFORK] = {"WIPEONFORK", MADV_WIPEONFORK},
        [MC_ADVICE_KEEPONFORK] = {"KEEPONFORK", MADV_KEEPONFORK},
        [MC_ADVICE_HUGEPAGE] = {"HUGEPAGE", MADV_HUGEPAGE},
        [MC_ADVICE_NOHUGEPAGE] = {"NOHUGEPAGE", MADV_NOHUGEPAGE},
        [MC_ADVICE_DONTDUMP] = {"DONTDUMP", MADV_DONTDUMP},
        [MC_ADVICE_DODUMP] = {"DODUMP", MADV_DODUMP},
        [MC_ADVICE_MERGEABLE] = {"MERGEABLE", MADV_MERGEABLE},
        [MC_ADVICE_UNMERGEABLE] = {"UNMERGEABLE", MADV_UNMERGEABLE},
        [MC_ADVICE_COLD] = {"COLD", MADV_COLD},
        [MC_ADVICE_PAGEOUT] = {"PAGEOUT", MADV_PAGEOUT},
        [MC_ADVICE_POPULATE_READ] = {"POPULATE_READ", MADV_POPULATE_READ},
        [MC_ADVICE_POPULATE_WRITE] = {"POPULATE_WRITE", MADV_POPULATE_WRITE},
};

const char *mc_advice_name(mc_advice advice) {
        if ((unsigned) advice >= _MC_ADVICE_MAX)
                return NULL;
        return advices[advice].name;
}

static int advise_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        mc_advice adv = (mc_advice) a->arg;
        int r = range_prepare(ctx, c, data, err);

        if (r < 0)
                return r;
        if ((adv == MC_ADVICE_WIPEONFORK || adv == MC_ADVICE_KEEPONFORK) && !a->e->anonymous)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "madvise %s: " MAPPING_FMT " is not private anonymous "
                                     "memory, the only kind the kernel can wipe on fork",
                                     advices[adv].name, MAPPING_ARGS(a->m));
        if ((adv == MC_ADVICE_DONTFORK || adv == MC_ADVICE_DOFORK) && a->size != 0 &&
            a->size != a->e->base_len)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "madvise %s: applies to whole mappings only (a child with "
                                     "half a mapping could not unmap it through memcap)",
                                     advices[adv].name);
        return 0;
}

static int advise_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        mc_advice adv = (mc_advice) a->arg;

        (void) ctx;
        (void) c;
        if (a->size == 0)
                return 0;
        if (mc_sys.madvise(a->start, a->size, advices[adv].sys) < 0) {
                int e = errno;
                if (e == EFAULT && adv == MC_ADVICE_POPULATE_READ)
                        return mc__error_set(err, MC_ERR_IO, EFAULT,
                                             "madvise POPULATE_READ " MAPPING_FMT ": pages could "
                                             "not be read (the file is shorter than the mapping)",
                                             MAPPING_ARGS(a->m));
                if (e == EINVAL)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "madvise %s " MAPPING_FMT ": Invalid argument (the "
                                             "running kernel does not know it, or this kind of "
                                             "mapping cannot take it, e.g. locked pages)",
                                             advices[adv].name, MAPPING_ARGS(a->m));
                return mc__error_errno(err, e, "madvise %s " MAPPING_FMT, advices[adv].name,
                                       MAPPING_ARGS(a->m));
        }
        if (adv == MC_ADVICE_DONTFORK)
                a->e->dontfork = true;
        else if (adv == MC_ADVICE_DOFORK)
                a->e->dontfork = false;
        return 0;
}

/* madvise stays under the lock: DONTNEED/REMOVE destroy data and must never hit a range that
 * another thread unmapped and reused in the meantime. */
static const mc__steps advise_steps = {.prepare = advise_prepare, .syscall = advise_syscall};

static int advise_check(const mc_mapping *m, mc_advice advice, mc_error *err) {
        int r = mc__mapping_check("madvise", m, err);

        if (r < 0)
                return r;
        if ((unsigned) advice >= _MC_ADVICE_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "madvise: unknown advice %d", (int) advice);
        if (advices[advice].sys < 0)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "madvise: %s is not known to the C library memcap was "
                                     "built with",
                                     advices[advice].name);
        return 0;
}

static int advise_common(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                         mc_advice advice, mc__client_call *cl, mc_error *err) {
        MC__ERROR_LOCAL(e);
        entry_args a = {.m = m, .off = offset, .len = length, .arg = (int) advice};
        mc__call c;
        int r;

        range_call_init(&c, MC_OP_MADVISE, cl, m, offset, length, /* ranged= */ true);
        c.fields |= MC__F_ADVICE;
        c.req.advice = mc_advice_name(advice) ? mc_advice_name(advice) : "Unknown";
        c.huge = advice == MC_ADVICE_HUGEPAGE;
        r = advise_check(m, advice, &e);
        return mc__ctx_run(ctx, &c, r, &e, &advise_steps, &a, err);
}

int mc_madvise(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, mc_advice advice,
               mc_error *err) {
        return advise_common(ctx, m, offset, length, advice, /* cl= */ NULL, err);
}

int mc__madvise_client(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                       mc_advice advice, mc__client_call *cl, mc_error *err) {
        return advise_common(ctx, m, offset, length, advice, cl, err);
}

/* ---- mlock / munlock ---------------------------------------------------------------------- */

static int lock_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        bool lock = c->op == MC_OP_MLOCK;
        uint64_t change;
        int r = range_prepare(ctx, c, data, err);

        if (r < 0 || a->size == 0)
                return r;
        change = count_locked(a->e, a->p0, a->p1, !lock);
        if (lock) {
                mc__entry after = *a->e;

                c->add_locked = change;
                after.locked += change;
                c->add_charged = mc__entry_charge(&after) - mc__entry_charge(a->e);
        }
        /* Allocate now whatever bookkeeping the result needs: after the system call we must
         * not fail. A partial result needs the map. */
        if (change > 0 && !(a->p0 == 0 && a->p1 == mc__entry_pages(a->e)) &&
            lockmap_prepare(a->e) < 0)
                return mc__error_errno(err, ENOMEM, "%s: recording locked pages",
                                       mc_op_name(c->op));
        return 0;
}

static int lock_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        bool lock = c->op == MC_OP_MLOCK;
        uint64_t change, before;

        (void) ctx;
        if (a->size == 0)
                return 0;
        before = mc__entry_charge(a->e);
        if (lock ? mc_sys.mlock2(a->start, a->size, (unsigned) a->arg) < 0
                 : mc_sys.munlock(a->start, a->size) < 0) {
                int e = errno;
                if (lock && (e == EAGAIN || e == ENOMEM))
                        return mc__error_set(err, MC_ERR_OUT_OF_MEMORY, e,
                                             "mlock " MAPPING_FMT " (%zu bytes): over "
                                             "RLIMIT_MEMLOCK; raise it (ulimit -l) or lock less",
                                             MAPPING_ARGS(a->m), a->size);
                return mc__error_errno(err, e, "%s " MAPPING_FMT, mc_op_name(c->op),
                                       MAPPING_ARGS(a->m));
        }
        change = count_locked(a->e, a->p0, a->p1, !lock);
        if (lock)
                c->add_locked = change;
        else
                c->sub_locked = change;
        if (a->e->lockmap) {
                lockmap_set(a->e, a->p0, a->p1, lock);
        } else if (change > 0) {
                /* No map: the range was the whole mapping, or nothing was locked before. */
                a->e->locked = lock ? a->e->locked + change : a->e->locked - change;
        }
        mc__charge_delta(c, before, a->e);
        return 0;
}

static const mc__steps lock_steps = {.prepare = lock_prepare, .syscall = lock_syscall};

static int lock_check(mc_op op, const mc_mapping *m, unsigned flags, mc_error *err) {
        int r = mc__mapping_check(mc_op_name(op), m, err);

        if (r < 0)
                return r;
        if (flags & ~(unsigned) MC_MLOCK_ONFAULT)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mlock: unknown flag bits 0x%x", flags);
        return 0;
}

static int lock_common(mc_op op, mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                       unsigned flags, mc__client_call *cl, mc_error *err) {
        MC__ERROR_LOCAL(e);
        entry_args a = {.m = m,
                        .off = offset,
                        .len = length,
                        .arg = flags & MC_MLOCK_ONFAULT ? MLOCK_ONFAULT : 0};
        mc__call c;
        int r;

        range_call_init(&c, op, cl, m, offset, length, /* ranged= */ true);
        r = lock_check(op, m, flags, &e);
        return mc__ctx_run(ctx, &c, r, &e, &lock_steps, &a, err);
}

int mc_mlock(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, unsigned flags,
             mc_error *err) {
        return lock_common(MC_OP_MLOCK, ctx, m, offset, length, flags, /* cl= */ NULL, err);
}

int mc_munlock(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, mc_error *err) {
        return lock_common(MC_OP_MUNLOCK, ctx, m, offset, length, 0, /* cl= */ NULL, err);
}

int mc__lock_client(mc_op op, mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                    mc__client_call *cl, mc_error *err) {
        return lock_common(op, ctx, m, offset, length, 0, cl, err);
}
