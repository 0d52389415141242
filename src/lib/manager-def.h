/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The mapping manager's layout, shared by manager.c (ids, mmap, read/write/sync, unmap),
 * manager-info.c (stats, list, descriptors) and manager-range.c (the calls on page ranges:
 * Mprotect, Madvise, Mlock, Munlock).
 */

#include <pthread.h>
#include <stdatomic.h>

#include "idtable.h"
#include "internal.h"

/* Why a mapping stopped taking writes and syncs (see mc_manager_msync()). */
enum {
        FAULT_NONE = 0,
        FAULT_SHRANK, /* the file under it is shorter than the mapping */
        FAULT_EIO,    /* a write-back failed: the data may never reach the file */
};

/*
 * The state of one page of a mapping, once a call on part of it made the pages differ: the
 * kernel keeps each run of pages with one state as a mapping of its own.
 */
enum {
        PAGE_PROT = 0x07,   /* mc_prot bits */
        PAGE_LOCKED = 0x08, /* locked by Mlock */
        PAGE_ADVICE = 0x30, /* READAHEAD_* << 4: the advice the kernel keeps per mapping */
};

enum {
        READAHEAD_NORMAL = 0,
        READAHEAD_RANDOM = 1,
        READAHEAD_SEQUENTIAL = 2,
};

typedef struct entry {
        uint64_t id;
        uint64_t owner_key;
        pid_t owner_pid;
        char *path; /* as the client gave it; NULL when anonymous */
        uint64_t offset;
        uint64_t length;
        unsigned prot; /* of every page, or the union of the pages' when @pages says more */
        bool shared;
        bool is_shm;        /* shared anonymous: the memory lives in shm */
        bool file_writable; /* the file was opened for writing: syncs have something to do */
        mc_mapping m;
        mc_shared shm;
        size_t delta;     /* the first byte asked for is at region->ptr + delta */
        int fd;           /* the file (or -1); shm.fd for shared anonymous memory */
        uint64_t charged; /* what the context charges for it, counted against the owner's quota */
        uint8_t *pages;   /* PAGE_* per page of the region; NULL while all are prot, unlocked */
        size_t n_pages;
        uint64_t pieces; /* runs of pages with one state (1 without @pages) */
        uint64_t locked; /* bytes locked through Mlock */
        atomic_int fault;
        _Atomic uint64_t fault_size; /* FAULT_SHRANK: the file's size when it was seen */
} entry;

/* A record of the manager's id table: the id and its entry. */
typedef struct id_slot {
        uint64_t id;
        entry *e;
} id_slot;

typedef struct owner {
        uint64_t key;
        uint64_t mappings;
        uint64_t pieces;  /* pieces beyond the first of each mapping: they count as mappings */
        uint64_t charged; /* the sum of its entries' charged */
        uint64_t locked;
} owner;

struct mc_manager {
        pthread_rwlock_t lock;
        mc_ctx *ctx;
        int root_fd;
        bool allow_symlinks;
        uint64_t max_mappings;
        uint64_t max_bytes;
        uint64_t max_locked;
        mc__idtable ids; /* id_slot records: the entries by id */
        owner *owners;   /* a small array: clients with mappings */
        size_t n_owners, cap_owners;
};

static inline mc_mapping *mc__mgr_region(entry *e) {
        return e->is_shm ? &e->shm.region : &e->m;
}

/*
 * The entry @id as @client may see it: its own, or anyone's with SystemInfo when @any_owner.
 * Otherwise NULL and NotFound in @err, worded the same whether or not the id exists.
 */
entry *mc__mgr_lookup(mc_manager *mgr, const mc_client *client, uint64_t id, bool any_owner,
                      mc_error *err);

/* The client's record; NULL when it has no mapping (it always has one while it holds any). */
owner *mc__mgr_owner(mc_manager *mgr, uint64_t key);

/*
 * The arguments every manager call checks first: InvalidArgument for a NULL manager or client,
 * or, when @given is false, for the missing arguments @what ("@call: @what must not be NULL").
 */
int mc__mgr_check(const mc_manager *mgr, const mc_client *client, const char *call, bool given,
                  const char *what, mc_error *err);

/*
 * Describe @client to the library call @call makes for it (mc__client_call): what it holds,
 * what it uses of its limits (nothing yet when it has no mapping), and the mapping @e it is
 * about (NULL for a new one). What the call needs is the caller's to add. Lock held.
 */
void mc__mgr_client_call(mc_manager *mgr, const mc_client *client, const char *call, const entry *e,
                         mc__client_call *ret);

/*
 * Keep what a successful call changed of @e's and its owner's charged and locked bytes
 * (exclusive lock held).
 */
void mc__mgr_account(mc_manager *mgr, entry *e, const mc__client_call *cl);

/* A checked range of a mapping (see "Ranges" in manager.h). */
typedef struct mc__mgr_range {
        size_t p0, p1;  /* the region's pages under it */
        size_t lib_off; /* for the library's calls: from the region's ptr */
        size_t lib_len; /* or MC_LENGTH_ALL */
        bool whole;     /* all of the mapping */
} mc__mgr_range;

/*
 * Check @offset and @length (MC_MANAGER_LENGTH_ALL: to the end) against @e: InvalidArgument
 * outside the mapping or for length 0, AlignmentError off a page boundary.
 */
int mc__mgr_range_resolve(const entry *e, uint64_t offset, uint64_t length, mc__mgr_range *ret,
                          mc_error *err);

/*
 * Whether the file under @e shrank below the mapping's end (the mapping then becomes faulted
 * for good), with the size seen in *@ret_size (may be NULL). Anonymous private memory never
 * shrinks. An fstat() failure counts as not shrunk: the copy itself still reports Io.
 */
bool mc__mgr_shrunk(entry *e, uint64_t *ret_size);

/*
 * Whether @e is faulted: its file shrank under it (checked now) or a write-back failed; it
 * then takes no writes and no syncs until it is mapped again.
 */
bool mc__mgr_faulted(entry *e);

/* Io for a faulted mapping: what happened and what to do. */
int mc__mgr_fault_error(const entry *e, mc_error *err);

/* The page-state runs of @e split at @e's protections, as client ranges (manager-range.c). */
size_t mc__mgr_prot_runs(const entry *e, mc_mapping_range *out);
