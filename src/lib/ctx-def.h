/* SPDX-License-Identifier: MIT */
#pragma once

/* The context's layout, shared by the files that implement it (ctx.c, registry.c, guard.c). */

#include <pthread.h>
#include <stdatomic.h>

#include "idtable.h"
#include "internal.h"

struct mc_ctx {
        /* Guards policy, usage and the registry; held across mapping system calls. */
        pthread_mutex_t lock;
        mc_policy *policy;
        mc_usage usage;

        /* The registry: mc__entry records by id (registry.c). */
        mc__idtable registry;
        /*
         * Bumped under the lock before anything that may change the registry, so a guarded
         * access can trust a per-thread copy of an entry taken at the same value without taking
         * the lock (guard.c). serial tells apart two contexts that lived at the same address.
         */
        _Atomic uint64_t gen;
        uint64_t serial;

        /* The objects the mappings are views of (objects.c): open addressing by inode. */
        struct mc__object *objects;
        size_t n_object_slots; /* a power of two, or 0 */
        size_t n_objects;

        /* Serialises the audit sink's writers and swaps of the sink. */
        pthread_mutex_t audit_lock;
        mc_audit *audit;
        atomic_bool has_audit; /* read without the lock to skip auditing cheaply */

        pid_t pid; /* kept current by the fork handler */

        /* Deliveries waiting for mc_signal_dispatch(); see signal.c. */
        struct mc__sigq *sigq;

        /* All live contexts, so the fork handlers can reach them. */
        struct mc_ctx *prev, *next;
};

/* Call with the lock held, before the registry may change: per-thread copies go stale. */
static inline void mc__ctx_changed(mc_ctx *ctx) {
        /* A full barrier (seq_cst): the bump is seen before the system call that follows. */
        atomic_fetch_add(&ctx->gen, 1);
}
