/* SPDX-License-Identifier: MIT */
/*
 * The id table's slow paths (idtable.h): growing, which keeps it at most half full, and
 * removing with backward shift.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idtable.h"

void mc__idtable_done(mc__idtable *t) {
        free(t->slots);
        t->slots = NULL;
        t->n_slots = 0;
        t->n_used = 0;
}

int mc__idtable_grow(mc__idtable *t) {
        mc__idtable bigger = *t;

        bigger.n_slots = t->n_slots ? t->n_slots * 2 : 64;
        if (bigger.n_slots > SIZE_MAX / t->slot_size)
                return -ENOMEM;
        bigger.slots = calloc(bigger.n_slots, t->slot_size);
        if (!bigger.slots)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_slots; i++) {
                const uint64_t *rec = mc__idtable_slot(t, i);
                size_t j;

                if (!rec)
                        continue;
                j = mc__idtable_home(*rec, bigger.n_slots);
                while (*mc__idtable_at(&bigger, j) != 0)
                        j = (j + 1) & (bigger.n_slots - 1);
                memcpy(mc__idtable_at(&bigger, j), rec, t->slot_size);
        }
        free(t->slots);
        *t = bigger;
        return 0;
}

void mc__idtable_remove(mc__idtable *t, void *slot) {
        size_t i = (size_t) ((char *) slot - (char *) t->slots) / t->slot_size, j = i;

        *mc__idtable_at(t, i) = 0;
        t->n_used--;
        /* Backward shift: move later records of the probe run into the hole. */
        for (;;) {
                uint64_t *s;
                size_t home;

                j = (j + 1) & (t->n_slots - 1);
                s = mc__idtable_at(t, j);
                if (*s == 0)
                        return;
                home = mc__idtable_home(*s, t->n_slots);
                /* Record j may fill hole i unless its home lies cyclically in (i, j]. */
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        memcpy(mc__idtable_at(t, i), s, t->slot_size);
                        *s = 0;
                        i = j;
                }
        }
}
