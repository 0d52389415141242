/* SPDX-License-Identifier: MIT */
#include "mapping.h"

#include "mctest.h"

int anon_map(mc_ctx *ctx, size_t len, unsigned prot, mc_mapping *m, mc_error *err) {
        mc_map_request req = MC_MAP_REQUEST_INIT;

        req.length = len;
        req.prot = prot;
        req.flags = MC_MAP_ANONYMOUS;
        return mc_mmap(ctx, &req, m, err);
}

void anon_map_ok(mc_ctx *ctx, size_t len, unsigned prot, mc_mapping *m) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, anon_map(ctx, len, prot, m, &err), 0), "%s", err.message);
}
