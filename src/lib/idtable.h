/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one table of records keyed by a never-reused id: the context's registry of mappings
 * (registry.c) and the mapping manager's ids (manager.c). Open addressing with linear probing
 * and backward-shift deletion: no tombstones, probe runs stay short. A record is a slot of
 * @slot_size bytes whose first member is its uint64_t id; id 0 marks a free slot. Records are
 * stored by value, so a pointer to one stays valid until the next reserve or remove. Not
 * thread-safe: the owner's lock guards it.
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

/* Free the slots; the records in them are the caller's to release first. */
void mc__idtable_done(mc__idtable *t);

/* The record with @id, or NULL (also for id 0). */
void *mc__idtable_find(const mc__idtable *t, uint64_t id);

/* Make room for one more record, so that a later mc__idtable_add() cannot fail: 0 or -ENOMEM. */
int mc__idtable_reserve(mc__idtable *t);

/*
 * Copy @rec into the table under the next id (written into the stored record's first member,
 * whatever @rec held there) and return the stored record. Needs a prior reserve.
 */
void *mc__idtable_add(mc__idtable *t, const void *rec);

/*
 * Remove the stored record @slot (from find, add or mc__idtable_slot()). Later records of its
 * probe run move back, possibly into @slot itself: a walk that removes goes on from the same
 * index.
 */
void mc__idtable_remove(mc__idtable *t, void *slot);

/* The record in slot @i (0 <= @i < n_slots), or NULL when the slot is free: for walks. */
static inline void *mc__idtable_slot(const mc__idtable *t, size_t i) {
        void *s = (char *) t->slots + i * t->slot_size;
        return *(const uint64_t *) s != 0 ? s : NULL;
}
