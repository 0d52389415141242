/* SPDX-License-Identifier: MIT */
/*
 * The id table (idtable.h): open addressing by id, linear probing, backward-shift deletion,
 * kept at most half full. Ids are sequential, so Fibonacci hashing spreads them over the table.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idtable.h"

static size_t home_of(uint64_t id, size_t n_slots) {
        return (size_t) ((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (n_slots - 1);
}

static inline uint64_t *slot_at(const mc__idtable *t, void *slots, size_t i) {
        return (uint64_t *) ((char *) slots + i * t->slot_size);
}

void mc__idtable_done(mc__idtable *t) {
        free(t->slots);
        t->slots = NULL;
        t->n_slots = 0;
        t->n_used = 0;
}

void *mc__idtable_find(const mc__idtable *t, uint64_t id) {
        if (t->n_slots == 0 || id == 0)
                return NULL;
        for (size_t i = home_of(id, t->n_slots);; i = (i + 1) & (t->n_slots - 1)) {
                uint64_t *s = slot_at(t, t->slots, i);

                if (*s == id)
                        return s;
                if (*s == 0)
                        return NULL;
        }
}

/* Copy @rec into a free slot of @slots under @id. */
static void *insert(const mc__idtable *t, void *slots, size_t n_slots, const void *rec,
                    uint64_t id) {
        size_t i = home_of(id, n_slots);
        uint64_t *s;

        while (*(s = slot_at(t, slots, i)) != 0)
                i = (i + 1) & (n_slots - 1);
        memcpy(s, rec, t->slot_size);
        *s = id;
        return s;
}

int mc__idtable_reserve(mc__idtable *t) {
        void *slots;
        size_t n;

        if ((t->n_used + 1) * 2 <= t->n_slots)
                return 0;
        n = t->n_slots ? t->n_slots * 2 : 64;
        if (n > SIZE_MAX / t->slot_size)
                return -ENOMEM;
        slots = calloc(n, t->slot_size);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_slots; i++) {
                const void *rec = mc__idtable_slot(t, i);
                if (rec)
                        insert(t, slots, n, rec, *(const uint64_t *) rec);
        }
        free(t->slots);
        t->slots = slots;
        t->n_slots = n;
        return 0;
}

void *mc__idtable_add(mc__idtable *t, const void *rec) {
        if ((t->n_used + 1) * 2 > t->n_slots)
                return NULL; /* a caller skipped mc__idtable_reserve(): a bug */
        t->n_used++;
        return insert(t, t->slots, t->n_slots, rec, ++t->last_id);
}

void mc__idtable_remove(mc__idtable *t, void *slot) {
        size_t i = (size_t) ((char *) slot - (char *) t->slots) / t->slot_size, j = i;

        *slot_at(t, t->slots, i) = 0;
        t->n_used--;
        /* Backward shift: move later records of the probe run into the hole. */
        for (;;) {
                uint64_t *s;
                size_t home;

                j = (j + 1) & (t->n_slots - 1);
                s = slot_at(t, t->slots, j);
                if (*s == 0)
                        return;
                home = home_of(*s, t->n_slots);
                /* Record j may fill hole i unless its home lies cyclically in (i, j]. */
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        memcpy(slot_at(t, t->slots, i), s, t->slot_size);
                        *s = 0;
                        i = j;
                }
        }
}
