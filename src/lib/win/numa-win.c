/* SPDX-License-Identifier: MIT */
/*
 * NUMA placement on Windows: not offered. Windows places memory by processor group and ideal
 * node (VirtualAllocExNuma) at allocation time, with no mbind-style policy on an existing
 * range and no page migration, so mc_numa_bind(), mc_numa_query() and mc_numa_move() are
 * Unsupported here, and a map request that asks for a placement is refused before anything is
 * mapped. The mode names are the same as on Linux, for audit records and messages.
 */

#include <errno.h>

#include "internal.h"

static const char *const mode_names[_MC_NUMA_MODE_MAX] = {
        [MC_NUMA_DEFAULT] = "Default",     [MC_NUMA_BIND] = "Bind",
        [MC_NUMA_PREFERRED] = "Preferred", [MC_NUMA_INTERLEAVE] = "Interleave",
        [MC_NUMA_LOCAL] = "Local",
};

const char *mc_numa_mode_name(mc_numa_mode mode) {
        if ((unsigned) mode >= _MC_NUMA_MODE_MAX)
                return NULL;
        return mode_names[mode];
}

const char *mc__numa_mode_name(int mode) {
        return mc_numa_mode_name((mc_numa_mode) mode);
}

static int unsupported(const char *op, mc_error *err) {
        return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                             "%s: NUMA placement is Linux-only (Windows has no memory policy "
                             "for an existing range)",
                             op);
}

int mc__numa_check(const char *op, uint64_t nodes, int mode, mc_error *err) {
        (void) nodes;
        (void) mode;
        return unsupported(op, err);
}

int mc__numa_place(void *addr, size_t len, uint64_t nodes, int mode) {
        (void) addr;
        (void) len;
        (void) nodes;
        (void) mode;
        return -EOPNOTSUPP;
}

int mc_numa_bind(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, uint64_t nodes,
                 mc_numa_mode mode, mc_error *err) {
        (void) ctx;
        (void) m;
        (void) offset;
        (void) length;
        (void) nodes;
        (void) mode;
        return unsupported("numa_bind", err);
}

int mc_numa_query(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, int *ret_nodes,
                  size_t n_nodes, mc_numa_info *ret, mc_error *err) {
        (void) ctx;
        (void) m;
        (void) offset;
        (void) length;
        (void) ret_nodes;
        (void) n_nodes;
        (void) ret;
        return unsupported("numa_query", err);
}

int mc_numa_move(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, int node,
                 size_t *ret_moved, mc_error *err) {
        (void) ctx;
        (void) m;
        (void) offset;
        (void) length;
        (void) node;
        (void) ret_moved;
        return unsupported("numa_move", err);
}
