/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared memory between its two halves: shm-call.c, what every platform shares (the request's
 * checks, its audit description, the calls on an open object, close, unlink), and the OS layer,
 * shm.c (Linux: POSIX objects and memfds) or win/shm-win.c (Windows: sections), which makes
 * the system calls. The OS layer defines the mc__shm_os_*() functions below.
 */

#include "ctx-def.h"

/* A call on an open object: close, and on Linux resize and seal. */
typedef struct mc__shm_args {
        mc_shared *shm;
        mc__entry *e;        /* the region's registry entry, found by mc__shm_lookup() */
        size_t new_len;      /* resize */
        size_t new_base_len; /* resize: new_len in whole pages */
        unsigned seals;      /* seal */
} mc__shm_args;

/* ---- shm-call.c ---- */

/*
 * The start of every open: normalise the name into @name (left "" while it is invalid or
 * absent), describe the request in @c for the decision and the audit record, and check it.
 * Returns 0, or -errno with @err filled for a request the call must refuse.
 */
int mc__shm_open_begin(mc__call *c, const mc_shared_request *req, const mc_shared *ret,
                       bool or_create, char name[MC_SHARED_NAME_MAX + 2], mc_error *err);

/* What opening a region of @len bytes in pages of @page adds: it counts whole (it is memory). */
void mc__shm_charge_open(mc__call *c, size_t len, size_t page);

/* A prepare step: find @data's (mc__shm_args) region in the registry; NotFound if it is not. */
int mc__shm_lookup(mc_ctx *ctx, mc__call *c, void *data, mc_error *err);

/*
 * Record the region the OS layer mapped as the shared object's: @entry holds where it is
 * (base, base_len, page, len), its prot, the object, its owner and the descriptor; the rest of a
 * shared region's entry is set here. Fills @region and @c's result. mc__registry_reserve() must
 * have succeeded before the mapping, so the registry cannot refuse it.
 */
void mc__shm_record(mc_ctx *ctx, mc__call *c, mc__entry *entry, mc_mapping *region);

/* Run @op on the open object @shm through the choke point with @steps (and @a as their data). */
int mc__shm_op(mc_op op, mc_ctx *ctx, mc_shared *shm, mc__shm_args *a, const mc__steps *steps,
               mc_error *err);

/* ---- the OS layer ---- */

/* Why the normalised, otherwise valid @name cannot name an object here; NULL when it can. */
const char *mc__shm_os_name_invalid(const char *name);

/* The platform's own rules for @req (seals, huge pages), @name normalised; 0 or -errno. */
int mc__shm_os_check(const mc_shared_request *req, const char *name, mc_error *err);

/* mc_shared_open() (@or_create false) and mc_map_shared_buffer() (true for a name). */
int mc__shm_os_open(mc_ctx *ctx, const mc_shared_request *req, bool or_create, mc_shared *ret,
                    mc_error *err);

/* Release the object handle a closed region kept (mc_shared.fd); its errors mean nothing. */
void mc__shm_os_release(int fd);

/* The system-call step of mc_shared_unlink(); the normalised name is @c->req.name. */
int mc__shm_os_unlink(mc_ctx *ctx, mc__call *c, void *data, mc_error *err);
