/* SPDX-License-Identifier: MIT */
/*
 * The mapping manager's calls on page ranges: Mprotect, Madvise, Mlock and Munlock, and the
 * per-page state behind them. Each call checks the range (page boundaries of the file, inside
 * the mapping), the client's capabilities and quotas, then makes the library call through the
 * context, which decides the policy and audits; only when that succeeded does the page state
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

/*
 * Refuse a change that would leave the client holding more mappings and pieces than it may;
 * otherwise the pieces @e would have afterwards go to *@ret_pieces.
 */
static int pieces_check(mc_manager *mgr, const entry *e, const mc__mgr_range *rg, uint8_t mask,
                        uint8_t value, const char *call, uint64_t *ret_pieces, mc_error *err) {
        owner *o = mc__mgr_owner(mgr, e->owner_key);
        uint64_t pieces = runs_if(e, rg->p0, rg->p1, mask, value);

        if (o && pieces > e->pieces &&
            o->mappings + o->pieces + (pieces - e->pieces) > mgr->max_mappings)
                return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                     "%s would split Mmap %" PRIu64 " into %" PRIu64 " pieces, "
                                     "and the client would hold %" PRIu64 " mappings and pieces; "
                                     "the limit per client is %" PRIu64 " (the kernel keeps each "
                                     "piece as a mapping of its own)",
                                     call, e->id, pieces,
                                     o->mappings + o->pieces + (pieces - e->pieces),
                                     mgr->max_mappings);
        *ret_pieces = pieces;
        return 0;
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
 * The steps every range call shares: find the client's entry, check the range, and with
 * @mask/@value (the change the call makes to the pages' state) check the pieces and prepare
 * the state. The exclusive lock is held.
 */
static entry *range_begin(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                          uint64_t length, uint8_t mask, uint8_t value, const char *call,
                          mc__mgr_range *rg, uint64_t *ret_pieces, int *ret_r, mc_error *err) {
        entry *e = mc__mgr_lookup(mgr, client, id, false, err);
        int r;

        if (!e) {
                *ret_r = -ENOENT;
                return NULL;
        }
        r = mc__mgr_range_resolve(e, offset, length, rg, err);
        if (r >= 0 && mask)
                r = pieces_check(mgr, e, rg, mask, value, call, ret_pieces, err);
        /* Without page state every page is e->prot, unlocked, normal: a change of all of
         * them to that still needs none. */
        if (r >= 0 && mask && (e->pages || !(rg->whole && (mask == PAGE_PROT || value == 0))))
                r = pages_prepare(e, call, err);
        *ret_r = r;
        return r < 0 ? NULL : e;
}

/* ---- mprotect -------------------------------------------------------------------------------- */

int mc_manager_mprotect(mc_manager *mgr, const mc_client *client, uint64_t id, unsigned prot,
                        mc_error *err) {
        return mc_manager_mprotect_range(mgr, client, id, 0, MC_MANAGER_LENGTH_ALL, prot, err);
}

int mc_manager_mprotect_range(mc_manager *mgr, const mc_client *client, uint64_t id,
                              uint64_t offset, uint64_t length, unsigned prot, mc_error *err) {
        mc__mgr_range rg;
        uint64_t pieces = 1;
        bool adds_write = false;
        entry *e;
        int r;

        if (mc__mgr_check(mgr, client, "Mprotect", err) < 0)
                return -EINVAL;
        if (prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "prot %u has bits beyond 7", prot);
        pthread_rwlock_wrlock(&mgr->lock);
        e = range_begin(mgr, client, id, offset, length, PAGE_PROT, (uint8_t) prot, "Mprotect", &rg,
                        &pieces, &r, err);
        if (!e)
                goto out;
        for (size_t p = rg.p0; p < rg.p1 && (prot & MC_PROT_WRITE); p++)
                adds_write = adds_write ||
                             !(e->pages ? e->pages[p] & MC_PROT_WRITE : e->prot & MC_PROT_WRITE);
        if (adds_write && !(client->caps & MC_CAP_FILE_WRITE)) {
                r = mc__mgr_deny(err, "Mprotect adding the write bit needs the FileWrite "
                                      "capability");
                goto out;
        }
        if (rg.whole)
                r = mc_mprotect(mgr->ctx, mc__mgr_region(e), prot, err);
        else
                r = mc_mprotect_range(mgr->ctx, mc__mgr_region(e), rg.lib_off, rg.lib_len, prot,
                                      err);
        if (r < 0)
                goto out;
        if (e->pages)
                pages_apply(mgr, e, &rg, PAGE_PROT, (uint8_t) prot, pieces);
        else
                e->prot = prot;
out:
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* ---- madvise --------------------------------------------------------------------------------- */

/* Why the manager does not offer @advice to clients, or NULL when it does. */
static const char *advice_refused(mc_advice advice) {
        switch (advice) {
        case MC_ADVICE_NORMAL:
        case MC_ADVICE_RANDOM:
        case MC_ADVICE_SEQUENTIAL:
        case MC_ADVICE_WILLNEED:
        case MC_ADVICE_DONTNEED:
        case MC_ADVICE_FREE:
        case MC_ADVICE_COLD:
        case MC_ADVICE_POPULATE_READ:
        case MC_ADVICE_POPULATE_WRITE:
                return NULL;
        case MC_ADVICE_REMOVE:
                return "frees the file's storage under every reader of the range; write zeros "
                       "instead";
        case MC_ADVICE_PAGEOUT:
                return "evicts pages that other clients share from memory, and they would pay "
                       "for reading them again";
        case MC_ADVICE_DONTFORK:
        case MC_ADVICE_DOFORK:
        case MC_ADVICE_WIPEONFORK:
        case MC_ADVICE_KEEPONFORK:
        case MC_ADVICE_DONTDUMP:
        case MC_ADVICE_DODUMP:
                return "concerns the fork children and core dumps of the process holding the "
                       "mapping, not the client";
        case MC_ADVICE_HUGEPAGE:
        case MC_ADVICE_NOHUGEPAGE:
                return "huge pages are the policy's to choose, not a client's";
        case MC_ADVICE_MERGEABLE:
        case MC_ADVICE_UNMERGEABLE:
                return "merging identical pages across processes lets clients time each other";
        default:
                return "is not an advice";
        }
}

int mc_manager_madvise(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       uint64_t length, mc_advice advice, mc_error *err) {
        const char *why, *name;
        mc__mgr_range rg;
        uint64_t pieces = 1;
        uint8_t mask = 0, value = 0;
        entry *e;
        int r;

        if (mc__mgr_check(mgr, client, "Madvise", err) < 0)
                return -EINVAL;
        why = advice_refused(advice);
        name = mc_advice_name(advice);
        if (why)
                return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                     "advice %s is not offered to clients: it %s",
                                     name ? name : "(unknown)", why);
        /* The readahead advices are kept per kernel mapping: they split like protections. */
        if (advice == MC_ADVICE_NORMAL || advice == MC_ADVICE_RANDOM ||
            advice == MC_ADVICE_SEQUENTIAL) {
                mask = PAGE_ADVICE;
                value = (uint8_t) ((advice == MC_ADVICE_RANDOM       ? READAHEAD_RANDOM
                                    : advice == MC_ADVICE_SEQUENTIAL ? READAHEAD_SEQUENTIAL
                                                                     : READAHEAD_NORMAL)
                                   << 4);
        }
        pthread_rwlock_wrlock(&mgr->lock);
        e = range_begin(mgr, client, id, offset, length, mask, value, "Madvise", &rg, &pieces, &r,
                        err);
        if (e)
                r = mc_madvise(mgr->ctx, mc__mgr_region(e), rg.lib_off, rg.lib_len, advice, err);
        if (e && r >= 0 && mask && e->pages)
                pages_apply(mgr, e, &rg, mask, value, pieces);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* ---- mlock / munlock ------------------------------------------------------------------------- */

/* Bytes of pages [rg->p0, rg->p1) of @e that are (@want) or are not locked. */
static uint64_t locked_bytes(const entry *e, const mc__mgr_range *rg, bool want) {
        size_t page = mc_page_size();
        uint64_t n = 0;

        for (size_t p = rg->p0; p < rg->p1; p++)
                if (!!(state_of(e, p) & PAGE_LOCKED) == want)
                        n += page;
        return n;
}

static int lock_common(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       uint64_t length, bool lock, mc_error *err) {
        const char *call = lock ? "Mlock" : "Munlock";
        mc__mgr_range rg;
        uint64_t pieces = 1, change = 0;
        owner *o;
        entry *e;
        int r;

        if (mc__mgr_check(mgr, client, call, err) < 0)
                return -EINVAL;
        if (lock && !(client->caps & MC_CAP_MEM_LOCK))
                return mc__mgr_deny(err, "Mlock needs the MemLock capability (locked memory is "
                                         "taken from the whole machine)");
        pthread_rwlock_wrlock(&mgr->lock);
        e = range_begin(mgr, client, id, offset, length, PAGE_LOCKED, lock ? PAGE_LOCKED : 0, call,
                        &rg, &pieces, &r, err);
        if (!e)
                goto out;
        o = mc__mgr_owner(mgr, e->owner_key);
        change = locked_bytes(e, &rg, !lock);
        if (lock && o && o->locked + change > mgr->max_locked) {
                r = mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                  "Mlock of %" PRIu64 " more bytes: the client has %" PRIu64
                                  " bytes locked, the limit per client is %" PRIu64,
                                  change, o->locked, mgr->max_locked);
                goto out;
        }
        r = lock ? mc_mlock(mgr->ctx, mc__mgr_region(e), rg.lib_off, rg.lib_len, 0, err)
                 : mc_munlock(mgr->ctx, mc__mgr_region(e), rg.lib_off, rg.lib_len, err);
        if (r < 0 || !e->pages)
                goto out;
        pages_apply(mgr, e, &rg, PAGE_LOCKED, lock ? PAGE_LOCKED : 0, pieces);
        e->locked = lock ? e->locked + change : e->locked - change;
        if (o)
                o->locked = lock ? o->locked + change : o->locked - change;
out:
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
