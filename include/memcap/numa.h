/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_NUMA_H
#define MEMCAP_NUMA_H

/*
 * NUMA placement of memcap mappings under the core.memory capability: set the memory policy of
 * a range (mbind(2)), ask where its pages are (move_pages(2) without target nodes,
 * get_mempolicy(2)), and migrate them (move_pages(2)). A mapping can also be placed when it is
 * made: mc_map_request.numa_mode and numa_nodes.
 *
 * Nodes are a mask, bit n for node n; memcap handles nodes 0..63. A node must be one the
 * process may use (its cpuset's mems_allowed, which get_mempolicy(2) reports) and one the
 * policy allows ("allowed_numa_nodes", default all). numa_bind, numa_move and numa_query are
 * operations of "allowed_syscalls"; bind and move are audited with the node mask, query only
 * when it fails.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memcap/ctx.h>
#include <memcap/error.h>
#include <memcap/memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The memory policies of mbind(2). ABI: append only. */
typedef enum mc_numa_mode {
        MC_NUMA_DEFAULT = 0, /* the process's policy (no nodes) */
        MC_NUMA_BIND,        /* only these nodes */
        MC_NUMA_PREFERRED,   /* this one node first, others when it is full (exactly one node) */
        MC_NUMA_INTERLEAVE,  /* page by page across these nodes */
        MC_NUMA_LOCAL,       /* the node of the CPU that touches the page first (no nodes) */
        _MC_NUMA_MODE_MAX
} mc_numa_mode;

/* Bit of node @n in a node mask. */
#define MC_NUMA_NODE(n) (UINT64_C(1) << (n))

/** mc_numa_mode_name() - "Default", "Bind", ...; NULL outside the enum. */
MC_API const char *mc_numa_mode_name(mc_numa_mode mode);

/**
 * mc_numa_bind() - set the memory policy of @length bytes of @m from @offset (whole pages).
 * @length: bytes, or MC_LENGTH_ALL.
 * @nodes: node mask; 0 for MC_NUMA_DEFAULT and MC_NUMA_LOCAL, one bit for MC_NUMA_PREFERRED.
 *
 * Pages already present stay where they are (mc_numa_move() migrates them); new ones follow
 * the policy. A child after fork() inherits the policy with the mapping.
 *
 * Errors: InvalidArgument (mode, node mask, range; a node the process may not use),
 * NotFound (@m is not live), PolicyViolation (allowed_numa_nodes, allowed_syscalls),
 * Unsupported (a kernel without NUMA), or the errno of mbind(2).
 * Return: 0 or -errno. Thread-safe.
 */
MC_API int mc_numa_bind(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                        uint64_t nodes, mc_numa_mode mode, mc_error *err);

/* Where a range is, as mc_numa_query() reports it. */
typedef struct mc_numa_info {
        mc_numa_mode mode; /* the policy of the range's first page */
        uint64_t nodes;    /* that policy's nodes */
        uint64_t present;  /* mask of the nodes holding at least one present page */
        size_t pages;      /* pages in the range */
        size_t resident;   /* of them present (the others: not touched yet, or swapped out) */
} mc_numa_info;

/**
 * mc_numa_query() - where the pages of @length bytes of @m from @offset are.
 * @ret_nodes: optional, @n_nodes entries: the node of each page from the first, or -errno
 *             for a page that is not present (-ENOENT) or cannot be asked about.
 * @ret: the summary; untouched on failure.
 * Touches no page. Errors as mc_numa_bind(), without PolicyViolation for nodes.
 * Return: 0 or -errno.
 */
MC_API int mc_numa_query(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                         int *ret_nodes, size_t n_nodes, mc_numa_info *ret, mc_error *err);

/**
 * mc_numa_move() - migrate the present pages of @length bytes of @m from @offset to @node.
 * @ret_moved: optional: how many pages are on @node afterwards.
 * Pages not present are skipped; pages shared with other processes are moved only by a
 * process with CAP_SYS_NICE (the kernel's rule). Errors as mc_numa_bind().
 * Return: 0 or -errno.
 */
MC_API int mc_numa_move(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, int node,
                        size_t *ret_moved, mc_error *err);

#ifdef __cplusplus
}
#endif

#endif
