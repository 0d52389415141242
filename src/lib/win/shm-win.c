/* SPDX-License-Identifier: MIT */
/*
 * Shared memory on Windows. Named file mappings in the Local\ namespace are the counterpart of
 * POSIX shared memory objects; this build does not provide them yet: every call fails with
 * Unsupported and says so. Anonymous shared memory is available through mc_mmap() with
 * MC_MAP_SHARED | MC_MAP_ANONYMOUS (an unnamed section).
 */

#include "internal.h"

static int unsupported(const char *op, mc_error *err) {
        return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                             "%s: named shared memory is not available on Windows yet; map "
                             "anonymous shared memory with mc_mmap(MC_MAP_SHARED | "
                             "MC_MAP_ANONYMOUS)",
                             op);
}

int mc_shared_open(mc_ctx *ctx, const mc_shared_request *req, mc_shared *ret, mc_error *err) {
        (void) ctx, (void) req, (void) ret;
        return unsupported("shared_open", err);
}

int mc_shared_close(mc_ctx *ctx, mc_shared *shm, mc_error *err) {
        (void) ctx, (void) shm;
        return unsupported("shared_close", err);
}

int mc_shared_unlink(mc_ctx *ctx, const char *name, mc_error *err) {
        (void) ctx, (void) name;
        return unsupported("shared_unlink", err);
}

int mc_map_shared_buffer(mc_ctx *ctx, const char *name, size_t size, mc_shared *ret,
                         mc_error *err) {
        (void) ctx, (void) name, (void) size, (void) ret;
        return unsupported("map_shared_buffer", err);
}

int mc_shared_resize(mc_ctx *ctx, mc_shared *shm, size_t new_size, mc_error *err) {
        (void) ctx, (void) shm, (void) new_size;
        return unsupported("shared_resize", err);
}

int mc_shared_seal(mc_ctx *ctx, mc_shared *shm, unsigned seals, mc_error *err) {
        (void) ctx, (void) shm, (void) seals;
        return unsupported("shared_seal", err);
}

int mc_shared_seals(const mc_shared *shm, unsigned *ret_seals, mc_error *err) {
        (void) shm, (void) ret_seals;
        return unsupported("shared_seals", err);
}

bool mc_shared_name_valid(const char *name, const char **reason) {
        (void) name;
        if (reason)
                *reason = "named shared memory is not available on Windows yet";
        return false;
}
