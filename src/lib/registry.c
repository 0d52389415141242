/* SPDX-License-Identifier: MIT */
/*
 * The registry of a context's mappings: which mappings memcap made, so that a stale, copied or
 * forged mc_mapping is refused before any system call touches memory the caller does not own
 * through memcap. Its records live in the id table (idtable.h), keyed by an id that is never
 * reused, so a stale value can never match a newer mapping at the same address. Adding and
 * removing an entry also counts its view of its object (objects.c), so the W^X inputs follow
 * the registry exactly. Every function here runs with the context lock held; entry pointers
 * stay valid until the next reserve or remove.
 */

#include "ctx-def.h"

mc__entry *mc__registry_find(mc_ctx *ctx, uint64_t id) {
        return mc__idtable_find(&ctx->registry, id);
}

mc__entry *mc__registry_lookup(mc_ctx *ctx, const mc_mapping *m) {
        mc__entry *e;

        if (!m)
                return NULL;
        e = mc__idtable_find(&ctx->registry, m->id);
        if (!e)
                return NULL;
        /* The value must describe the mapping as it is now, not as it was before a remap. */
        if ((uintptr_t) m->base != e->base || m->base_len != e->base_len ||
            (uintptr_t) m->ptr != e->base + e->ptr_off || m->len != e->len)
                return NULL;
        return e;
}

int mc__registry_reserve(mc_ctx *ctx) {
        int r;

        r = mc__objects_reserve(ctx);
        if (r < 0)
                return r;
        return mc__idtable_reserve(&ctx->registry);
}

mc__entry *mc__registry_add(mc_ctx *ctx, const mc__entry *e) {
        mc__entry *slot = mc__idtable_claim(&ctx->registry);
        uint64_t id;

        if (!slot)
                return NULL; /* a caller skipped mc__registry_reserve(): a bug */
        id = slot->id;
        *slot = *e;
        slot->id = id;
        mc__objects_attach(ctx, slot);
        return slot;
}

void mc__registry_remove(mc_ctx *ctx, mc__entry *e) {
        mc__objects_detach(ctx, e);
        free(e->lockmap);
        free(e->protmap);
        mc__idtable_remove(&ctx->registry, e);
}

mc__entry *mc__registry_find_overlap(mc_ctx *ctx, uintptr_t addr, size_t len) {
        for (size_t i = 0; i < ctx->registry.n_slots; i++) {
                mc__entry *e = mc__idtable_slot(&ctx->registry, i);
                if (e && addr < e->base + e->base_len && e->base < addr + len)
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
