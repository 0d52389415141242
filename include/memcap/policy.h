/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_POLICY_H
#define MEMCAP_POLICY_H

/*
 * The security policy a context enforces before every privileged operation. A policy is a
 * plain value: build it from the embedded secure default, load it from JSON, adjust it with the
 * setters, then hand a copy to a context with mc_ctx_set_policy(). A policy object is not
 * shared by contexts and is not thread-safe by itself; contexts copy it.
 *
 * The JSON form (every field optional; absent means the default):
 *
 *   {
 *     "version": 1,
 *     "allow_fixed": false,              MC_MAP_FIXED (replacing whatever is at the address)
 *     "allow_write_exec": false,         memory writable and executable (see below)
 *     "allow_huge_pages": false,         MC_MAP_HUGEPAGE, MAP_HUGE_*, MADV_HUGEPAGE/COLLAPSE
 *     "allow_userfaultfd": false,        mc_uffd_register() (uffd.h): stalls the kernel in faults
 *     "max_memory_usage": "4GiB",        memory charged at once (see below); or "unlimited"
 *     "max_locked_memory": "8MiB",       bytes locked at once (mlock, MAP_LOCKED)
 *     "max_mappings": 65536,             live mappings at once
 *     "allowed_syscalls": ["mmap", ...], the operations the context may use at all
 *     "allowed_shared_memory": ["app-*"], fnmatch(3) patterns for shm names (no leading '/')
 *     "allowed_paths": ["/srv/data"],    roots a file mapping may come from; null = any
 *     "allowed_signals": ["SIGUSR1", "RTMIN+1", 15],   signals that may be sent or raised
 *     "allowed_signal_targets": ["self", "children"],  also "process_group", "same_uid",
 *                                        "any", "whole_group", "broadcast", "init"
 *     "allowed_numa_nodes": [0, 1]       nodes mappings may be bound or moved to; "*" = any
 *   }
 *
 * Signal 0 (kill(2)'s existence check, which delivers nothing) needs no entry in
 * "allowed_signals": it may be sent wherever "allowed_signal_targets" admits the target.
 *
 * Sizes are exact non-negative integers or strings with a binary unit ("512KiB", "4GiB"),
 * or "unlimited". Unknown fields, duplicate keys, wrong types and out-of-range values are
 * errors that name the file, line and column.
 *
 * max_memory_usage bounds memory, not address space: the page-rounded bytes of a context's
 * mappings that may become memory the kernel cannot simply write back and drop
 * (mc_usage.charged_bytes). A mapping counts whole when it is
 *   - private and writable, or ever was (anonymous or file): every page may become a private
 *     copy, and the copies stay after an mprotect back to read-only, so the charge stays
 *     until the mapping is unmapped; MAP_NORESERVE changes nothing (it skips the kernel's
 *     commit accounting, not the memory);
 *   - huge pages (reserved when mapped);
 *   - a file on tmpfs, hugetlbfs or ramfs, a memfd, or a shared memory region of
 *     mc_shared_open(): those pages are memory, and even reading a hole allocates one;
 *   - a character device, or a file whose file system cannot be told (fstatfs fails).
 * Any other mapping (a read-only private or any shared mapping of a file on disk, a block
 * device, anonymous memory that is not writable, e.g. a PROT_NONE reservation) is page cache
 * or nothing, and counts only the bytes locked through the context. Every change that adds
 * to the charge is checked before its system call: mmap, mprotect to writable, remap growth,
 * mlock, shared-memory resize. mapped_bytes, all mapped bytes, is reported but not bounded.
 *
 * allow_write_exec false means no memory memcap maps is ever writable and executable: not
 * through one mapping (write and execute together, by mmap or mprotect), not through two
 * views of one object (a file, shared memory object or memfd; st_dev + st_ino): an
 * executable view of an object with a live writable shared view in the context is refused,
 * and so is the reverse, by mapping or by mprotect; and not in turn: a mapping that was ever
 * writable is never made executable. A private writable view does not count against other
 * views (its writes go to private copies). What memcap cannot see, it cannot refuse: views
 * made outside the context (plain mmap, another context, another process), writes through a
 * descriptor (write(2)), and an executable view made after the writable one was unmapped.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memcap/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc_policy mc_policy;

/*
 * The privileged operations, as named in "allowed_syscalls" and in audit records. Releasing
 * operations (munmap, munlock, shm_close, signal_unregister, signal_unmask, uffd_unregister)
 * are always allowed:
 * denying them could only leak resources; so is signal_deliver, the record of a handler run.
 * ABI: append only.
 */
typedef enum mc_op {
        MC_OP_MMAP = 0,
        MC_OP_MUNMAP,
        MC_OP_MPROTECT,
        MC_OP_MSYNC,
        MC_OP_MREMAP,
        MC_OP_MADVISE,
        MC_OP_MLOCK,
        MC_OP_MUNLOCK,
        MC_OP_SHM_OPEN,
        MC_OP_SHM_CLOSE,
        MC_OP_SHM_UNLINK,
        MC_OP_SHM_RESIZE,
        MC_OP_SHM_SEAL,
        MC_OP_SIGNAL_REGISTER,
        MC_OP_SIGNAL_UNREGISTER,
        MC_OP_SIGNAL_MASK,
        MC_OP_SIGNAL_UNMASK,
        MC_OP_SIGNAL_SEND,
        MC_OP_SIGNAL_RAISE,
        MC_OP_SIGNAL_WAIT,
        MC_OP_SIGNAL_DELIVER,  /* a handler was run; audited, never denied */
        MC_OP_UFFD_REGISTER,   /* needs allow_userfaultfd too (uffd.h) */
        MC_OP_UFFD_UNREGISTER, /* a release: always allowed */
        MC_OP_NUMA_BIND,       /* nodes checked against allowed_numa_nodes (numa.h) */
        MC_OP_NUMA_QUERY,      /* audited only when it fails */
        MC_OP_NUMA_MOVE,       /* the target node checked against allowed_numa_nodes */
        _MC_OP_MAX
} mc_op;

/* Bit for @op in an operation set. */
#define MC_OP_BIT(op) (UINT64_C(1) << (op))
/* Every operation. */
#define MC_OP_ALL ((UINT64_C(1) << _MC_OP_MAX) - 1)

/*
 * Whom mc_signal_send() may target ("allowed_signal_targets"). The default is self and
 * children; every other rule is opt-in because it reaches processes the caller did not start.
 *
 * One process (pid > 1, or a pidfd) is admitted when it belongs to one of the allowed classes
 * (self, children, process_group, same_uid) or "any" is allowed. Three kinds of target need
 * a rule of their own, whatever else the policy allows:
 * - pid 1 (init, also a pid namespace's init) only with "init" ("any" does not reach it); a
 *   caller that is itself pid 1 is "self".
 * - a whole process group (pid 0: the caller's own; pid < -1: the group -pid) only with
 *   "whole_group", and then only a group the other rules admit, judged by its leader (the
 *   process whose pid is the group id): the caller's own group is "process_group" (and
 *   "self" when the caller leads it), another group is its leader's class ("children" for a
 *   child that leads a group of its own, "same_uid", or "any"); a group whose leader has
 *   exited or moved only with "any". Process group 1 also needs "init".
 * - the broadcast (pid -1: every process the caller may signal, init and the caller excepted)
 *   only with "broadcast".
 * A pidfd of a process outside the caller's pid namespace belongs to no class ("any").
 * ABI: append only.
 */
typedef enum mc_signal_target {
        MC_TARGET_SELF = 1 << 0,          /* "self": the calling process */
        MC_TARGET_CHILDREN = 1 << 1,      /* "children": its direct children */
        MC_TARGET_PROCESS_GROUP = 1 << 2, /* "process_group": members of its own process group */
        /* "same_uid": processes whose /proc/PID is owned by the caller's real or effective uid,
         * that is whose effective uid is one of them (a process that is not dumpable, e.g. a
         * setuid program, shows as root) */
        MC_TARGET_SAME_UID = 1 << 3,
        MC_TARGET_ANY = 1 << 4,         /* "any": every process but init, as the kernel permits */
        MC_TARGET_WHOLE_GROUP = 1 << 5, /* "whole_group": pid 0 and pid < -1 (see above) */
        MC_TARGET_BROADCAST = 1 << 6,   /* "broadcast": pid -1 */
        MC_TARGET_INIT = 1 << 7,        /* "init": pid 1 */
} mc_signal_target;

/* A size limit with no bound. */
#define MC_UNLIMITED UINT64_MAX

/**
 * mc_op_name() - the operation's name ("mmap", "shm_open", "signal_send", ...).
 * Return: a static string, or NULL for a value outside the enum. Thread-safe.
 */
MC_API const char *mc_op_name(mc_op op);

/**
 * mc_op_from_name() - parse an operation name as mc_op_name() prints it.
 * Return: 0 and *@ret_op set, or -EINVAL for an unknown name. Thread-safe.
 */
MC_API int mc_op_from_name(const char *name, mc_op *ret_op);

/**
 * mc_policy_new() - a new policy holding the embedded secure default.
 * @ret: the new policy, owned by the caller (mc_policy_free()); untouched on failure.
 *
 * The default: no MC_MAP_FIXED, no write+execute, no huge pages, no userfaultfd,
 * max_memory_usage 4 GiB
 * (of charged memory: a read-only map of a larger file fits),
 * max_locked_memory 8 MiB, max_mappings 65536, every operation allowed, any shared memory
 * name, any path, every signal but SIGKILL and SIGSTOP, and as targets only the caller itself
 * and its children (see mc_signal_target for the opt-in rules).
 *
 * Return: 0, or -ENOMEM (OutOfMemory).
 */
MC_API int mc_policy_new(mc_policy **ret, mc_error *err);

/**
 * mc_policy_load_file() - load a policy from a JSON file (see the top of this header).
 * @path: the file, UTF-8 on every platform (Windows opens it by its UTF-16 name); read whole,
 *        at most 1 MiB.
 * @ret: the new policy, owned by the caller; untouched on failure.
 *
 * Fields not in the file keep their default. Errors name the file, line and column and what is
 * wrong: InvalidArgument for syntax, unknown fields, duplicate keys, wrong types, out-of-range
 * values; NotFound / PermissionDenied / Io when the file cannot be read.
 *
 * Return: 0 or -errno.
 */
MC_API int mc_policy_load_file(const char *path, mc_policy **ret, mc_error *err);

/**
 * mc_policy_load_string() - mc_policy_load_file() for JSON text in memory.
 * @text: the JSON text; need not be NUL-terminated. A NUL byte inside it is an error.
 * @len: its length in bytes.
 * @origin: name used in error messages (a file name, "<string>"); may be NULL.
 */
MC_API int mc_policy_load_string(const char *text, size_t len, const char *origin, mc_policy **ret,
                                 mc_error *err);

/**
 * mc_policy_dup() - a deep copy of @policy, owned by the caller.
 * Return: 0, -EINVAL if @policy is NULL, or -ENOMEM.
 */
MC_API int mc_policy_dup(const mc_policy *policy, mc_policy **ret, mc_error *err);

/**
 * mc_policy_free() - free a policy. Accepts NULL.
 * Return: NULL, so callers can write `p = mc_policy_free(p);`.
 */
MC_API mc_policy *mc_policy_free(mc_policy *policy);

/**
 * mc_policy_to_json() - the effective policy as pretty-printed JSON that
 * mc_policy_load_string() accepts back unchanged.
 * @ret_json: a NUL-terminated string the caller frees with free().
 * Return: 0, -EINVAL or -ENOMEM.
 */
MC_API int mc_policy_to_json(const mc_policy *policy, char **ret_json, mc_error *err);

/* Setters. Each returns 0, or -EINVAL (InvalidArgument) for a NULL policy or a bad value. */
MC_API int mc_policy_set_allow_fixed(mc_policy *policy, bool allow);
MC_API int mc_policy_set_allow_write_exec(mc_policy *policy, bool allow);
MC_API int mc_policy_set_allow_huge_pages(mc_policy *policy, bool allow);
/* userfaultfd (uffd.h); default false: it lets a process stall the kernel in a page fault. */
MC_API int mc_policy_set_allow_userfaultfd(mc_policy *policy, bool allow);
/* NUMA nodes a mapping may be bound or moved to: bit n for node n; default all (numa.h). */
MC_API int mc_policy_set_allowed_numa_nodes(mc_policy *policy, uint64_t nodes);
/* @bytes: the limit, or MC_UNLIMITED. */
MC_API int mc_policy_set_max_memory_usage(mc_policy *policy, uint64_t bytes);
MC_API int mc_policy_set_max_locked_memory(mc_policy *policy, uint64_t bytes);
MC_API int mc_policy_set_max_mappings(mc_policy *policy, uint64_t count);
/* @ops: a set of MC_OP_BIT() values; bits beyond MC_OP_ALL are -EINVAL. */
MC_API int mc_policy_set_allowed_ops(mc_policy *policy, uint64_t ops);
/* @targets: an OR of mc_signal_target; 0 forbids sending to anyone; unknown bits are -EINVAL. */
MC_API int mc_policy_set_signal_targets(mc_policy *policy, unsigned targets);
/* Allow or forbid sending/raising @signo (1..64). SIGKILL and SIGSTOP may be allowed too. */
MC_API int mc_policy_set_signal_allowed(mc_policy *policy, int signo, bool allow);

/*
 * Shared-memory name patterns. The default is one pattern, "*". Clearing leaves none: no named
 * shared memory may be opened. @pattern is an fnmatch(3) pattern matched against the name
 * without its leading '/'; at most 255 bytes. Return 0, -EINVAL or -ENOMEM.
 */
MC_API int mc_policy_clear_shared_memory_patterns(mc_policy *policy);
MC_API int mc_policy_add_shared_memory_pattern(mc_policy *policy, const char *pattern,
                                               mc_error *err);

/*
 * Path roots for file mappings. By default any path may be mapped; once a root is added, only
 * files whose resolved path (symlinks followed, after opening) lies beneath a root may be.
 * @root must be absolute; it is normalised lexically ("//a/./b/" -> "/a/b"), not resolved, and
 * must not contain "..". On Windows it is a drive or UNC path ("C:\\data", "c:/data",
 * "\\\\server\\share"; README.md, Platforms). mc_policy_allow_any_path() returns to the default.
 * Return 0, -EINVAL or -ENOMEM.
 */
MC_API int mc_policy_allow_any_path(mc_policy *policy);
MC_API int mc_policy_add_allowed_path(mc_policy *policy, const char *root, mc_error *err);

/* Getters. A NULL policy reads as the default. */
MC_API bool mc_policy_allow_fixed(const mc_policy *policy);
MC_API bool mc_policy_allow_write_exec(const mc_policy *policy);
MC_API bool mc_policy_allow_huge_pages(const mc_policy *policy);
MC_API bool mc_policy_allow_userfaultfd(const mc_policy *policy);
MC_API uint64_t mc_policy_allowed_numa_nodes(const mc_policy *policy);
MC_API uint64_t mc_policy_max_memory_usage(const mc_policy *policy);
MC_API uint64_t mc_policy_max_locked_memory(const mc_policy *policy);
MC_API uint64_t mc_policy_max_mappings(const mc_policy *policy);
MC_API uint64_t mc_policy_allowed_ops(const mc_policy *policy);
MC_API unsigned mc_policy_signal_targets(const mc_policy *policy);
MC_API bool mc_policy_signal_allowed(const mc_policy *policy, int signo);

/**
 * mc_policy_path_allowed() - whether an absolute, already resolved @path lies beneath one of
 * the allowed roots (component-wise: "/srv/data2" is not beneath "/srv/data"). A path with a
 * ".." component lies beneath no root. On Windows names compare case-insensitively, both
 * separators count, and a path Windows could read as climbing (a name of dots and spaces
 * only) lies beneath no root either.
 */
MC_API bool mc_policy_path_allowed(const mc_policy *policy, const char *path);

/**
 * mc_policy_shared_memory_allowed() - whether a shared memory @name (with or without its
 * leading '/') matches one of the allowed patterns.
 */
MC_API bool mc_policy_shared_memory_allowed(const mc_policy *policy, const char *name);

/**
 * mc_parse_size() - parse a size as the policy and the CLI accept it: digits, optionally
 * followed by K/M/G/T/P/E with or without "iB" ("64KiB", "2G", "4096"); binary multiples.
 * Return: 0, or -EINVAL for a malformed value, -ERANGE when it does not fit 64 bits.
 */
MC_API int mc_parse_size(const char *text, uint64_t *ret_bytes);

#ifdef __cplusplus
}
#endif

#endif
