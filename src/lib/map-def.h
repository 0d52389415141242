/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the two files of the core.memory operations on mappings share: map.c (making and
 * removing mappings: mmap, map_file, munmap) and map-ops.c (changing a live one: mprotect,
 * msync, mremap, madvise, mlock, munlock).
 */

#include "internal.h"

/* Describe a mapping for messages: "mapping 0x7f.. (4096 bytes)". */
#define MAPPING_FMT      "mapping %p (%zu bytes)"
#define MAPPING_ARGS(m_) (m_)->ptr, (m_)->len

/* The steps' data of an operation on a live mapping. */
typedef struct entry_args {
        const mc_mapping *m;
        mc__entry *e;
        /* range operations */
        size_t off;
        size_t len;
        void *start; /* page-aligned */
        size_t size;
        size_t p0, p1;
        uint64_t id; /* for steps that run without the lock and must not touch @e */
        int arg;
        unsigned prot_after; /* mprotect: the mapping's protection afterwards */
} entry_args;

/* Pages of the kernel mapping behind @e. */
static inline size_t mc__entry_pages(const mc__entry *e) {
        return e->base_len / e->page;
}

/* NotFound: @m is not a live mapping of the context (unmapped, remapped, forged). */
int mc__map_not_found(const char *op, const mc_mapping *m, mc_error *err);

/* InvalidArgument for a NULL mapping: the first check of every call on one. */
int mc__mapping_check(const char *op, const mc_mapping *m, mc_error *err);

/* The prepare step of every call on a live mapping: find its entry (entry_args.m -> .e). */
int mc__map_lookup_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err);
