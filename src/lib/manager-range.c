/* SPDX-License-Identifier: MIT */
/*
 * The mapping manager's calls on page ranges: Mprotect, Madvise, Mlock and Munlock, and the
 * per-page state behind them. Each call checks the range (page boundaries of the file, inside
 * the mapping) and counts what the call would change (pieces, the write bit), then makes the
 * library call for the client through the context, which decides the policy and the client's
 * capabilities and limits with it, and audits; only when that succeeded does the page state
 * change.
 *
 * Why the manager keeps page state besides the library: the kernel keeps each run of pages
 * that differ in protection, lock or readahead advice as a separate mapping, and a process may
 * hold only vm.max_map_count (65530) of them. One client splitting its mappings page by page
 * would leave none for the others, so every piece counts against the client's max_mappings;
 * counting needs the state. It also gives clients messages about their own offsets, never the
 * daemon's addresses, and the per-client count of locked bytes.
 *
 * Sections: ranges, page state, mprotect, madvise, mlock/munlock.
 */

#include <inttypes.h>

#include "manager-def.h"

/* ---- ranges ---------------------------------------------------------------------------------- */

/* Whether the mapping offset @x of @e may start or end a range. */
static bool at_boundary(const entry *e, uint64_t x, size_t page) {
        return x == 0 || x == e->length || (e->delta + x) % page == 0;
}

int mc__mgr_range_resolve(const entry *e, uint64_t offset, uint64_t length, mc__mgr_range *ret,
                          mc_error *err) {
        size_t page = mc_page_size();
        uint64_t end;

        if (offset >= e->length)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "offset %" PRIu64 " is not inside Mmap %" PRIu64 " (%" PRIu64
                                     " bytes)",
                                     offset, e->id, e->length);
        if (length == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "length 0 is an empty range (omit 'length' for the rest of "
                                     "the mapping)");
        if (length == MC_MANAGER_LENGTH_ALL)
                end = e->length;
        else if (MC_ADD_OVERFLOW(offset, length, &end) || end > e->length)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%" PRIu64 " bytes at offset %" PRIu64 " end past Mmap "
                                     "%" PRIu64 " (%" PRIu64 " bytes)",
                                     length, offset, e->id, e->length);
        if (!at_boundary(e, offset, page) || !at_boundary(e, end, page))
                return mc__error_set(err, MC_ERR_ALIGNMENT, EINVAL,
                                     "%s %" PRIu64 " is not on a page boundary: a range starts "
                                     "and ends where the file offset (%" PRIu64 " + the "
                                     "offset) is a multiple of the page size, %zu, or at the "
                                     "mapping's start or end",
                                     at_boundary(e, offset, page) ? "end" : "offset",
                                     at_boundary(e, offset, page) ? end : offset, e->offset, page);
        ret->p0 = (e->delta + (size_t) offset) / page;
        ret->p1 = (e->delta + (size_t) end + page - 1) / page;
        ret->whole = offset == 0 && end == e->length;
        /* Widened to the first page's start: the bytes before delta are this mapping's too. */
        ret->lib_off = ret->p0 * page;
        ret->lib_len = end == e->length ? MC_LENGTH_ALL : (ret->p1 - ret->p0) * page;
        return 0;
}

/* ---- page state ------------------------------------------------------------------------------ */

static uint8_t state_of(const entry *e, size_t p) {
        return e->pages ? e->pages[p] : (uint8_t) e->prot;
}

/* Runs of equal state if pages [p0, p1) had (state & ~@mask) | @value. */
static uint64_t runs_if(const entry *e, size_t p0, size_t p1, uint8_t mask, uint8_t value) {
        uint64_t n = 0;
        int last = -1;

        for (size_t p = 0; p < e->n_pages; p++) {
                uint8_t s = state_of(e, p);

                if (p >= p0 && p < p1)
                        s = (uint8_t) ((s & ~mask) | value);
                if (s != last)
                        n++;
                last = s;
        }
        return n;
}

/* The page state must exist before a library call whose result it records: afterwards nothing
 * may fail. */
static int pages_prepare(entry *e, const char *call, mc_error *err) {
        if (e->pages)
                return 0;
        e->pages = malloc(e->n_pages);
        if (!e->pages)
                return mc__error_errno(err, ENOMEM, "%s: recording the state of %zu pages", call,
                                       e->n_pages);
        memset(e->pages, (int) e->prot, e->n_pages);
        return 0;
}

/* Record a successful change of pages [rg->p0, rg->p1) and the pieces it left. */
static void pages_apply(mc_manager *mgr, entry *e, const mc__mgr_range *rg, uint8_t mask,
                        uint8_t value, uint64_t pieces) {
        owner *o = mc__mgr_owner(mgr, e->owner_key);
        unsigned all = 0;

        for (size_t p = rg->p0; p < rg->p1; p++)
                e->pages[p] = (uint8_t) ((e->pages[p] & ~mask) | value);
        for (size_t p = 0; p < e->n_pages; p++)
                all |= e->pages[p] & PAGE_PROT;
        e->prot = all;
        if (o)
                o->pieces = o->pieces - (e->pieces - 1) + (pieces - 1);
        e->pieces = pieces;
}

size_t mc__mgr_prot_runs(const entry *e, mc_mapping_range *out) {
        size_t page = mc_page_size(), n = 0, start = 0;

        if (!e->pages)
                return 1;
        for (size_t p = 1; p <= e->n_pages; p++) {
                uint64_t a, b;

                if (p < e->n_pages && (e->pages[p] & PAGE_PROT) == (e->pages[start] & PAGE_PROT))
                        continue;
                if (out) {
                        /* Pages to the client's offsets: the first page starts at delta, the
                         * last ends at the mapping's end. */
                        a = start == 0 ? 0 : start * page - e->delta;
                        b = p == e->n_pages ? e->length : p * page - e->delta;
                        out[n] = (mc_mapping_range){a, b - a, e->pages[start] & PAGE_PROT};
                }
                n++;
                start = p;
        }
        return n;
}

/*
 * The steps every range call shares: find the client's entry, check the range, describe the
 * client to the library call (@cl), and with @mask/@value (the change the call makes to the
 * pages' state) count the pieces the mapping would be left in, for the policy to decide, and
 * prepare the state. The exclusive lock is held.
 */
static int range_begin(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       uint64_t length, uint8_t mask, uint8_t value, const char *call,
                       mc__mgr_range *rg, mc__client_call *cl, entry **ret_e, mc_error *err) {
        entry *e = mc__mgr_lookup(mgr, client, id, false, err);
        int r;

        if (!e)
                return -ENOENT;
        r = mc__mgr_range_resolve(e, offset, length, rg, err);
        if (r < 0)
                return r;
        mc__mgr_client_call(mgr, client, call, e, cl);
        if (!mask) {
                *ret_e = e;
                return 0;
        }
        cl->pieces = runs_if(e, rg->p0, rg->p1, mask, value);
        cl->add_pieces = cl->pieces > e->pieces ? cl->pieces - e->pieces : 0;
        /* Without page state every page is e->prot, unlocked, normal: a change of all of
         * them to that still needs none. */
        if (e->pages || !(rg->whole && (mask == PAGE_PROT || value == 0))) {
                r = pages_prepare(e, call, err);
                if (r < 0)
                        return r;
        }
        *ret_e = e;
        return 0;
}

/* ---- mprotect -------------------------------------------------------------------------------- */

int mc_manager_mprotect(mc_manager *mgr, const mc_client *client, uint64_t id, unsigned prot,
                        mc_error *err) {
        return mc_manager_mprotect_range(mgr, client, id, 0, MC_MANAGER_LENGTH_ALL, prot, err);
}

static int mprotect_check(const mc_manager *mgr, const mc_client *client, unsigned prot,
                          mc_error *err) {
        int r = mc__mgr_check(mgr, client, "Mprotect", true, NULL, err);

        if (r < 0)
                return r;
        if (prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "prot %u has bits beyond 7", prot);
        return 0;
}

/* Whether @prot adds the write bit to a page of [rg->p0, rg->p1) of @e that lacks it. */
static bool adds_write(const entry *e, const mc__mgr_range *rg, unsigned prot) {
        if (!(prot & MC_PROT_WRITE))
                return false;
        for (size_t p = rg->p0; p < rg->p1; p++)
                if (!(state_of(e, p) & MC_PROT_WRITE))
                        return true;
        return false;
}

/* The change itself (exclusive lock held). */
static int mprotect_locked(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                           uint64_t length, unsigned prot, mc_error *err) {
        mc__client_call cl;
        mc__mgr_range rg;
        entry *e;
        int r;

        r = range_begin(mgr, client, id, offset, length, PAGE_PROT, (uint8_t) prot, "Mprotect", &rg,
                        &cl, &e, err);
        if (r < 0)
                return r;
        if (adds_write(e, &rg, prot))
                cl.need[0] = (mc__need){MC_CAP_FILE_WRITE, "Mprotect adding the write bit needs "
                                                           "the FileWrite capability"};
        r = mc__mprotect_client(mgr->ctx, mc__mgr_region(e), rg.lib_off, rg.lib_len, prot, &cl,
                                err);
        if (r < 0)
                return r;
        mc__mgr_account(mgr, e, &cl);
        if (e->pages)
                pages_apply(mgr, e, &rg, PAGE_PROT, (uint8_t) prot, cl.pieces);
        else
                e->prot = prot;
        return 0;
}

int mc_manager_mprotect_range(mc_manager *mgr, const mc_client *client, uint64_t id,
                              uint64_t offset, uint64_t length, unsigned prot, mc_error *err) {
        int r;

        r = mprotect_check(mgr, client, prot, err);
        if (r < 0)
                return r;
        pthread_rwlock_wrlock(&mgr->lock);
        r = mprotect_locked(mgr, client, id, offset, length, prot, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* ---- madvise --------------------------------------------------------------------------------- */

/*
 * The readahead advices are kept per kernel mapping: they split a mapping like protections do,
 * so they are page state (@ret_mask, @ret_value); the others are not.
 */
static void advice_state(mc_advice advice, uint8_t *ret_mask, uint8_t *ret_value) {
        *ret_mask = 0;
        *ret_value = 0;
        if (advice != MC_ADVICE_NORMAL && advice != MC_ADVICE_RANDOM &&
            advice != MC_ADVICE_SEQUENTIAL)
                return;
        *ret_mask = PAGE_ADVICE;
        *ret_value = (uint8_t) ((advice == MC_ADVICE_RANDOM       ? READAHEAD_RANDOM
                                 : advice == MC_ADVICE_SEQUENTIAL ? READAHEAD_SEQUENTIAL
                                                                  : READAHEAD_NORMAL)
                                << 4);
}

/* The advice itself (exclusive lock held); which advice clients may give is the policy's. */
static int madvise_locked(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                          uint64_t length, mc_advice advice, mc_error *err) {
        mc__client_call cl;
        mc__mgr_range rg;
        uint8_t mask, value;
        entry *e;
        int r;

        advice_state(advice, &mask, &value);
        r = range_begin(mgr, client, id, offset, length, mask, value, "Madvise", &rg, &cl, &e, err);
        if (r < 0)
                return r;
        cl.advice = (int) advice;
        r = mc__madvise_client(mgr->ctx, mc__mgr_region(e), rg.lib_off, rg.lib_len, advice, &cl,
                               err);
        if (r < 0)
                return r;
        if (mask && e->pages)
                pages_apply(mgr, e, &rg, mask, value, cl.pieces);
        return 0;
}

int mc_manager_madvise(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       uint64_t length, mc_advice advice, mc_error *err) {
        int r;

        r = mc__mgr_check(mgr, client, "Madvise", true, NULL, err);
        if (r < 0)
                return r;
        pthread_rwlock_wrlock(&mgr->lock);
        r = madvise_locked(mgr, client, id, offset, length, advice, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* ---- mlock / munlock ------------------------------------------------------------------------- */

/* The lock itself (exclusive lock held); the client's locked bytes are the policy's. */
static int lock_locked(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       uint64_t length, bool lock, mc_error *err) {
        const char *call = lock ? "Mlock" : "Munlock";
        mc__client_call cl;
        mc__mgr_range rg;
        entry *e;
        int r;

        r = range_begin(mgr, client, id, offset, length, PAGE_LOCKED, lock ? PAGE_LOCKED : 0, call,
                        &rg, &cl, &e, err);
        if (r < 0)
                return r;
        if (lock)
                cl.need[0] = (mc__need){MC_CAP_MEM_LOCK,
                                        "Mlock needs the MemLock capability (locked memory is "
                                        "taken from the whole machine)"};
        r = mc__lock_client(lock ? MC_OP_MLOCK : MC_OP_MUNLOCK, mgr->ctx, mc__mgr_region(e),
                            rg.lib_off, rg.lib_len, &cl, err);
        if (r < 0)
                return r;
        mc__mgr_account(mgr, e, &cl);
        if (e->pages)
                pages_apply(mgr, e, &rg, PAGE_LOCKED, lock ? PAGE_LOCKED : 0, cl.pieces);
        return 0;
}

static int lock_common(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       uint64_t length, bool lock, mc_error *err) {
        int r;

        r = mc__mgr_check(mgr, client, lock ? "Mlock" : "Munlock", true, NULL, err);
        if (r < 0)
                return r;
        pthread_rwlock_wrlock(&mgr->lock);
        r = lock_locked(mgr, client, id, offset, length, lock, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

int mc_manager_mlock(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                     uint64_t length, mc_error *err) {
        return lock_common(mgr, client, id, offset, length, true, err);
}

int mc_manager_munlock(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       uint64_t length, mc_error *err) {
        return lock_common(mgr, client, id, offset, length, false, err);
}
