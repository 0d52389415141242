/* SPDX-License-Identifier: MIT */
/*
 * The id table behind the context's registry and the manager's ids: ids in order and never
 * reused, records found after any mix of adds and removes (checked against a plain array),
 * removal inside wrapped probe runs, and walks that remove as they go.
 */

#include "common.h"
#include "idtable.h"

typedef struct rec {
        uint64_t id;
        uint64_t payload;
} rec;

static void check_all(const mc__idtable *t, const bool *live, size_t n) {
        size_t used = 0;

        for (uint64_t id = 1; id <= n; id++) {
                rec *r = mc__idtable_find(t, id);

                if (live[id]) {
                        cr_assert(not(eq(ptr, r, NULL)), "id %" PRIu64 " lost", id);
                        cr_assert(eq(u64, r->payload, id * 7));
                        used++;
                } else {
                        cr_assert(eq(ptr, r, NULL), "id %" PRIu64 " still found", id);
                }
        }
        cr_assert(eq(sz, t->n_used, used));
        cr_assert(eq(ptr, mc__idtable_find(t, 0), NULL));
        cr_assert(eq(ptr, mc__idtable_find(t, n + 1), NULL));
}

Test(idtable, ids_come_in_order_and_records_survive_any_mix_of_adds_and_removes) {
        mc__idtable t = MC__IDTABLE_INIT(rec);
        enum { N = 5000 };
        static bool live[N + 1];
        uint64_t x = 88172645463325252ULL;

        cr_assert(eq(ptr, mc__idtable_find(&t, 1), NULL), "an empty table finds nothing");
        for (uint64_t id = 1; id <= N; id++) {
                rec *r;

                cr_assert(eq(int, mc__idtable_reserve(&t), 0));
                r = mc__idtable_claim(&t);
                cr_assert(eq(u64, r->id, id), "the table hands out the ids, in order");
                r->payload = id * 7;
                live[id] = true;
                /* Remove about a third of what is there, pseudo-randomly (xorshift). */
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                if (x % 3 == 0) {
                        uint64_t victim = 1 + x / 3 % id;

                        if (live[victim]) {
                                mc__idtable_remove(&t, mc__idtable_find(&t, victim));
                                live[victim] = false;
                        }
                }
        }
        check_all(&t, live, N);
        mc__idtable_done(&t);
}

Test(idtable, a_walk_that_removes_goes_on_from_the_same_slot) {
        mc__idtable t = MC__IDTABLE_INIT(rec);
        enum { N = 200 };
        bool live[N + 1] = {false};
        size_t visited = 0;

        for (uint64_t id = 1; id <= N; id++) {
                cr_assert(eq(int, mc__idtable_reserve(&t), 0));
                ((rec *) mc__idtable_claim(&t))->payload = id * 7;
                live[id] = true;
        }
        /* Remove every odd id in one walk, as mc_manager_cleanup_process() does. */
        for (size_t i = 0; i < t.n_slots;) {
                rec *r = mc__idtable_slot(&t, i);

                if (r && r->id % 2 == 1) {
                        live[r->id] = false;
                        mc__idtable_remove(&t, r);
                        visited++;
                        continue;
                }
                i++;
        }
        cr_assert(eq(sz, visited, N / 2));
        check_all(&t, live, N);
        /* The ids of removed records are never handed out again. */
        cr_assert(eq(int, mc__idtable_reserve(&t), 0));
        cr_assert(eq(u64, ((rec *) mc__idtable_claim(&t))->id, N + 1));
        mc__idtable_done(&t);
        cr_assert(eq(sz, t.n_slots, 0));
        cr_assert(eq(ptr, mc__idtable_find(&t, 1), NULL));
}

Test(idtable, a_claim_without_reserve_is_refused) {
        mc__idtable t = MC__IDTABLE_INIT(rec);

        cr_assert(eq(ptr, mc__idtable_claim(&t), NULL));
        cr_assert(eq(sz, t.n_used, 0));
        cr_assert(eq(u64, t.last_id, 0), "no id was spent");
}
