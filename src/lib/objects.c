/* SPDX-License-Identifier: MIT */
/*
 * The objects a context's mappings are views of (a file, a shared memory object, a memfd: one
 * inode, st_dev + st_ino) and how many of those views are writable and shared, or executable.
 * Two views of one object alias the same pages, so "never writable and executable" has to
 * hold per object, not per mapping: a writable shared view and an executable view of one
 * inode would give memory that is written through the first and run through the second. The
 * counts here are the inputs mc__policy_decide() needs for that rule (MC__WX_*); the rule
 * itself lives there.
 *
 * A private writable view does not count as writable: its writes go to private copies that no
 * other view sees. Open addressing by inode, linear probing, backward-shift deletion; every
 * function runs with the context lock held.
 */

#include "ctx-def.h"

struct mc__object {
        mc__object_id id;
        uint32_t views; /* live views; 0 marks a free slot */
        uint32_t writable_shared;
        uint32_t executable;
};

static size_t home_of(const mc__object_id *id, size_t n_slots) {
        uint64_t h =
                (id->ino ^ (id->dev * UINT64_C(0xC2B2AE3D27D4EB4F))) * UINT64_C(0x9E3779B97F4A7C15);
        return (size_t) (h >> 17) & (n_slots - 1);
}

static bool same(const mc__object_id *a, const mc__object_id *b) {
        return a->dev == b->dev && a->ino == b->ino;
}

static struct mc__object *find(mc_ctx *ctx, const mc__object_id *id) {
        if (ctx->n_object_slots == 0)
                return NULL;
        for (size_t i = home_of(id, ctx->n_object_slots);;
             i = (i + 1) & (ctx->n_object_slots - 1)) {
                struct mc__object *o = &ctx->objects[i];
                if (o->views == 0)
                        return NULL;
                if (same(&o->id, id))
                        return o;
        }
}

static struct mc__object *insert_raw(struct mc__object *slots, size_t n_slots,
                                     const struct mc__object *o) {
        size_t i = home_of(&o->id, n_slots);

        while (slots[i].views != 0)
                i = (i + 1) & (n_slots - 1);
        slots[i] = *o;
        return &slots[i];
}

int mc__objects_reserve(mc_ctx *ctx) {
        struct mc__object *slots;
        size_t n;

        if ((ctx->n_objects + 1) * 2 <= ctx->n_object_slots)
                return 0;
        n = ctx->n_object_slots ? ctx->n_object_slots * 2 : 16;
        if (n > SIZE_MAX / sizeof(struct mc__object))
                return -ENOMEM;
        slots = calloc(n, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < ctx->n_object_slots; i++)
                if (ctx->objects[i].views != 0)
                        insert_raw(slots, n, &ctx->objects[i]);
        free(ctx->objects);
        ctx->objects = slots;
        ctx->n_object_slots = n;
        return 0;
}

static void view_bits(const mc__entry *e, bool *w, bool *x) {
        *w = (e->flags & MC_MAP_SHARED) && (e->prot & MC_PROT_WRITE);
        *x = e->prot & MC_PROT_EXEC;
}

void mc__objects_attach(mc_ctx *ctx, mc__entry *e) {
        struct mc__object *o;

        if (!e->has_object)
                return;
        o = find(ctx, &e->object);
        if (!o) {
                /* A caller that skipped mc__objects_reserve() is a bug; keep the table sane. */
                if ((ctx->n_objects + 1) * 2 > ctx->n_object_slots) {
                        e->has_object = false;
                        return;
                }
                /* Counted from 0 below; nothing looks the slot up in between. */
                o = insert_raw(ctx->objects, ctx->n_object_slots,
                               &(struct mc__object){.id = e->object});
                ctx->n_objects++;
        }
        view_bits(e, &e->view_w, &e->view_x);
        o->views++;
        o->writable_shared += e->view_w;
        o->executable += e->view_x;
}

static void remove_slot(mc_ctx *ctx, struct mc__object *o) {
        size_t i = (size_t) (o - ctx->objects), j = i;

        ctx->objects[i].views = 0;
        ctx->n_objects--;
        for (;;) {
                size_t home;

                j = (j + 1) & (ctx->n_object_slots - 1);
                if (ctx->objects[j].views == 0)
                        return;
                home = home_of(&ctx->objects[j].id, ctx->n_object_slots);
                /* Object j may fill hole i unless its home lies cyclically in (i, j]. */
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        ctx->objects[i] = ctx->objects[j];
                        ctx->objects[j].views = 0;
                        i = j;
                }
        }
}

/* Take @e's view out of its object's counts: the object, or NULL when @e views none. */
static struct mc__object *uncount(mc_ctx *ctx, const mc__entry *e) {
        struct mc__object *o;

        if (!e->has_object)
                return NULL;
        o = find(ctx, &e->object);
        if (!o)
                return NULL;
        o->writable_shared -= e->view_w;
        o->executable -= e->view_x;
        return o;
}

void mc__objects_detach(mc_ctx *ctx, mc__entry *e) {
        struct mc__object *o = uncount(ctx, e);

        if (!o)
                return;
        e->view_w = e->view_x = false;
        if (--o->views == 0)
                remove_slot(ctx, o);
}

void mc__objects_update(mc_ctx *ctx, mc__entry *e) {
        struct mc__object *o = uncount(ctx, e);

        if (!o)
                return;
        view_bits(e, &e->view_w, &e->view_x);
        o->writable_shared += e->view_w;
        o->executable += e->view_x;
}

uint8_t mc__objects_wx(mc_ctx *ctx, const mc__object_id *id, unsigned prot, bool shared,
                       const mc__entry *self) {
        const struct mc__object *o = find(ctx, id);
        uint32_t w, x;

        if (!o)
                return MC__WX_NONE;
        w = o->writable_shared - (self && self->view_w);
        x = o->executable - (self && self->view_x);
        if ((prot & MC_PROT_EXEC) && w > 0)
                return MC__WX_EXEC_OF_WRITABLE;
        if (shared && (prot & MC_PROT_WRITE) && x > 0)
                return MC__WX_WRITE_OF_EXECUTABLE;
        return MC__WX_NONE;
}
