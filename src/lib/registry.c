/* SPDX-License-Identifier: MIT */
/*
 * The registry of a context's mappings: which mappings memcap made, so that a stale, copied or
 * forged mc_mapping is refused before any system call touches memory the caller does not own
 * through memcap. Keyed by id (ids are never reused, so a stale value can never match a newer
 * mapping at the same address). Open addressing with linear probing and backward-shift
 * deletion: no tombstones, lookups stay short. Adding and removing an entry also counts its
 * view of its object (objects.c), so the W^X inputs follow the registry exactly. Every function
 * here runs with the context lock held; entry pointers stay valid until the next add or
 * reserve.
 */

#include "ctx-def.h"

static size_t slot_of(const mc_ctx *ctx, uint64_t id) {
        /* Fibonacci hashing spreads the sequential ids over the table. */
        return (size_t) ((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (ctx->n_slots - 1);
}

static mc__entry *find_slot(mc_ctx *ctx, uint64_t id) {
        size_t i;

        if (ctx->n_slots == 0 || id == 0)
                return NULL;
        for (i = slot_of(ctx, id);; i = (i + 1) & (ctx->n_slots - 1)) {
                mc__entry *e = &ctx->slots[i];
                if (e->id == id)
                        return e;
                if (e->id == 0)
                        return NULL;
        }
}

mc__entry *mc__registry_find(mc_ctx *ctx, uint64_t id) {
        return find_slot(ctx, id);
}

mc__entry *mc__registry_lookup(mc_ctx *ctx, const mc_mapping *m) {
        mc__entry *e;

        if (!m)
                return NULL;
        e = find_slot(ctx, m->id);
        if (!e)
                return NULL;
        /* The value must describe the mapping as it is now, not as it was before a remap. */
        if ((uintptr_t) m->base != e->base || m->base_len != e->base_len ||
            (uintptr_t) m->ptr != e->base + e->ptr_off || m->len != e->len)
                return NULL;
        return e;
}

static mc__entry *insert_raw(mc__entry *slots, size_t n_slots, const mc__entry *e, uint64_t id) {
        size_t i = (size_t) ((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (n_slots - 1);

        while (slots[i].id != 0)
                i = (i + 1) & (n_slots - 1);
        slots[i] = *e;
        slots[i].id = id;
        return &slots[i];
}

int mc__registry_reserve(mc_ctx *ctx) {
        mc__entry *slots;
        size_t n;
        int r;

        r = mc__objects_reserve(ctx);
        if (r < 0)
                return r;
        /* Keep the load at most one half. */
        if ((ctx->n_entries + 1) * 2 <= ctx->n_slots)
                return 0;
        n = ctx->n_slots ? ctx->n_slots * 2 : 64;
        if (n > SIZE_MAX / sizeof(mc__entry))
                return -ENOMEM;
        slots = calloc(n, sizeof(mc__entry));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < ctx->n_slots; i++)
                if (ctx->slots[i].id != 0)
                        insert_raw(slots, n, &ctx->slots[i], ctx->slots[i].id);
        free(ctx->slots);
        ctx->slots = slots;
        ctx->n_slots = n;
        return 0;
}

mc__entry *mc__registry_add(mc_ctx *ctx, const mc__entry *e) {
        mc__entry *slot;

        if ((ctx->n_entries + 1) * 2 > ctx->n_slots)
                return NULL; /* a caller skipped mc__registry_reserve(): a bug */
        slot = insert_raw(ctx->slots, ctx->n_slots, e, ++ctx->next_id);
        ctx->n_entries++;
        mc__objects_attach(ctx, slot);
        return slot;
}

void mc__registry_remove(mc_ctx *ctx, mc__entry *e) {
        size_t i = (size_t) (e - ctx->slots), j = i;

        mc__objects_detach(ctx, e);
        free(e->lockmap);
        free(e->protmap);
        ctx->slots[i].id = 0;
        ctx->n_entries--;
        /* Backward-shift: move later entries of the probe run into the hole. */
        for (;;) {
                size_t home;

                j = (j + 1) & (ctx->n_slots - 1);
                if (ctx->slots[j].id == 0)
                        return;
                home = slot_of(ctx, ctx->slots[j].id);
                /* Entry j may fill hole i unless its home lies cyclically in (i, j]. */
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        ctx->slots[i] = ctx->slots[j];
                        ctx->slots[j].id = 0;
                        i = j;
                }
        }
}

mc__entry *mc__registry_find_overlap(mc_ctx *ctx, uintptr_t addr, size_t len) {
        for (size_t i = 0; i < ctx->n_slots; i++) {
                mc__entry *e = &ctx->slots[i];
                if (e->id != 0 && addr < e->base + e->base_len && e->base < addr + len)
                        return e;
        }
        return NULL;
}

void mc__entry_to_mapping(const mc__entry *e, mc_mapping *m) {
        m->ptr = (void *) (e->base + e->ptr_off);
        m->len = e->len;
        m->prot = e->prot;
        m->flags = e->flags;
        m->base = (void *) e->base;
        m->base_len = e->base_len;
        m->id = e->id;
}

uint64_t mc__entry_charge(const mc__entry *e) {
        if (e->kind == MC__KIND_EMPTY)
                return 0;
        if (e->memory_backed || (!(e->flags & MC_MAP_SHARED) && e->was_writable))
                return e->base_len;
        return e->locked;
}

void mc__charge_delta(mc__call *c, uint64_t before, const mc__entry *e) {
        uint64_t after = mc__entry_charge(e);

        c->add_charged = after > before ? after - before : 0;
        c->sub_charged = after < before ? before - after : 0;
}
