/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one table of records keyed by a never-reused id: the context's registry of mappings
 * (registry.c) and the mapping manager's ids (manager.c). Open addressing with linear probing
 * and backward-shift deletion: no tombstones, probe runs stay short. A record is a slot of
 * @slot_size bytes whose first member is its uint64_t id; id 0 marks a free slot. Records are
 * stored by value, so a pointer to one stays valid until the next reserve or remove. Not
 * thread-safe: the owner's lock guards it.
 *
 * Lookups, reserves and claims are on the hot path of every mapping call: they are inline
 * here, and a new record is filled in place by its owner (no copy through memcpy()).
 */

#include <stddef.h>
#include <stdint.h>

typedef struct mc__idtable {
        void *slots;
        size_t slot_size; /* a multiple of 8: the id comes first */
        size_t n_slots;   /* a power of two, or 0 */
        size_t n_used;
        uint64_t last_id; /* ids are handed out in order, from 1, and never reused */
} mc__idtable;

#define MC__IDTABLE_INIT(type)                                                                     \
        { NULL, sizeof(type), 0, 0, 0 }

/* Fibonacci hashing spreads the sequential ids over the table. */
static inline size_t mc__idtable_home(uint64_t id, size_t n_slots) {
        return (size_t) ((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (n_slots - 1);
}

static inline uint64_t *mc__idtable_at(const mc__idtable *t, size_t i) {
        return (uint64_t *) ((char *) t->slots + i * t->slot_size);
}

/* Free the slots; the records in them are the caller's to release first. */
void mc__idtable_done(mc__idtable *t);

/* The record with @id, or NULL (also for id 0). */
static inline void *mc__idtable_find(const mc__idtable *t, uint64_t id) {
        if (t->n_slots == 0 || id == 0)
                return NULL;
        for (size_t i = mc__idtable_home(id, t->n_slots);; i = (i + 1) & (t->n_slots - 1)) {
                uint64_t *s = mc__idtable_at(t, i);

                if (*s == id)
                        return s;
                if (*s == 0)
                        return NULL;
        }
}

/* Double the table (mc__idtable_reserve() when it is half full): 0 or -ENOMEM. */
int mc__idtable_grow(mc__idtable *t);

/* Make room for one more record, so that a later mc__idtable_claim() cannot fail. */
static inline int mc__idtable_reserve(mc__idtable *t) {
        if ((t->n_used + 1) * 2 <= t->n_slots)
                return 0;
        return mc__idtable_grow(t);
}

/*
 * Take a free slot for the next id and return it with the id set: the rest of the record is
 * the caller's to fill, all of it (the slot holds what a removed record left there). Needs a
 * prior reserve; NULL without one (a bug).
 */
static inline void *mc__idtable_claim(mc__idtable *t) {
        uint64_t id, *s;
        size_t i;

        if ((t->n_used + 1) * 2 > t->n_slots)
                return NULL;
        id = ++t->last_id;
        for (i = mc__idtable_home(id, t->n_slots); *(s = mc__idtable_at(t, i)) != 0;
             i = (i + 1) & (t->n_slots - 1))
                ;
        *s = id;
        t->n_used++;
        return s;
}

/*
 * Remove the stored record @slot (from find, claim or mc__idtable_slot()). Later records of
 * its probe run move back, possibly into @slot itself: a walk that removes goes on from the
 * same index.
 */
void mc__idtable_remove(mc__idtable *t, void *slot);

/* The record in slot @i (0 <= @i < n_slots), or NULL when the slot is free: for walks. */
static inline void *mc__idtable_slot(const mc__idtable *t, size_t i) {
        uint64_t *s = mc__idtable_at(t, i);
        return *s != 0 ? s : NULL;
}
