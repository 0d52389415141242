/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The private layout of mc_policy and the validators shared by policy.c (the object, its
 * setters and the decision) and policy-json.c (loading and printing), so both apply exactly the
 * same rules to a value whether it comes from a setter or from a file.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memcap/policy.h>

/* Longest shared-memory name pattern, in bytes (NAME_MAX, like a shm name). */
#define MC__POLICY_PATTERN_MAX 255

/* Signals a policy can name: 1..64, one bit each (bit signo - 1). */
#define MC__POLICY_SIGNAL_MAX 64
#define MC__SIGNAL_BIT(signo) (UINT64_C(1) << ((signo) -1))

/* Every mc_signal_target bit. */
#define MC__TARGETS_ALL                                                                            \
        (MC_TARGET_SELF | MC_TARGET_CHILDREN | MC_TARGET_PROCESS_GROUP | MC_TARGET_SAME_UID |      \
         MC_TARGET_ANY | MC_TARGET_WHOLE_GROUP | MC_TARGET_BROADCAST | MC_TARGET_INIT)

/* The classes that say how a process (or a group's leader) is related to the caller. */
#define MC__TARGETS_RELATION                                                                       \
        (MC_TARGET_SELF | MC_TARGET_CHILDREN | MC_TARGET_PROCESS_GROUP | MC_TARGET_SAME_UID)

struct mc_policy {
        bool allow_fixed;
        bool allow_write_exec;
        bool allow_huge_pages;
        bool allow_userfaultfd;
        uint64_t numa_nodes;       /* allowed_numa_nodes: bit n for node n */
        uint64_t max_memory_usage; /* bytes, or MC_UNLIMITED */
        uint64_t max_locked_memory;
        uint64_t max_mappings;
        uint64_t allowed_ops; /* MC_OP_BIT() set */
        uint64_t signals;     /* MC__SIGNAL_BIT() set */
        unsigned targets;     /* mc_signal_target bits */

        /* fnmatch(3) patterns, each validated by mc__policy_check_pattern(); owned. */
        char **shm_patterns;
        size_t n_shm_patterns;

        /* Path roots, lexically normalised; ignored while any_path is set. */
        bool any_path;
        char **paths;
        size_t n_paths;
};

/*
 * Check a shared-memory pattern: 1..MC__POLICY_PATTERN_MAX bytes, no control characters, no
 * '/'. Returns NULL when it is fine, else a static sentence saying what is wrong.
 */
const char *mc__policy_check_pattern(const char *pattern);

/*
 * Normalise an absolute root lexically into @buf ("//a/./b/" -> "/a/b"; on Windows c:/data/
 * -> C:\data). Returns NULL on success, else a static sentence saying what is wrong (relative,
 * "..", too long). Defined by the OS layer (path.h: path-posix.c, win/path-win.c).
 */
const char *mc__policy_normalize_root(const char *root, char *buf, size_t size);

/* "self", "children", ... for one mc_signal_target bit; NULL for anything else. */
const char *mc__policy_target_name(unsigned target);

/* The mc_signal_target bit named @name, or 0 for an unknown name. */
unsigned mc__policy_target_from_name(const char *name);

/* A set of targets for a message, into @buf (returned): "self, children", or "none". */
const char *mc__policy_targets_string(unsigned targets, char *buf, size_t size);

/* The same quoted and joined as a sentence: "\"a\"", "\"a\" and \"b\"", ... */
const char *mc__policy_targets_quoted(unsigned targets, char *buf, size_t size);

static inline void mc_policy_freep(mc_policy **p) {
        mc_policy_free(*p);
}
