/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_MEMORY_H
#define MEMCAP_MEMORY_H

/*
 * The core.memory capability: memory mappings through a context.
 *
 * A mapping is a value, mc_mapping: ptr and len are the bytes the caller asked for; the rest
 * identifies the kernel mapping behind it. Every call that takes a mapping first checks that it
 * is a live mapping of this context, made by memcap and not changed since; a stale copy, a
 * forged value or a pointer memcap did not map is NotFound and no system call touches it.
 *
 * Mappings across fork() and exec follow Linux: a child inherits every mapping (shared ones
 * stay shared, private ones become copy-on-write) unless advised MC_ADVICE_DONTFORK (absent in
 * the child) or MC_ADVICE_WIPEONFORK (zero-filled in the child); exec drops them all.
 *
 * Quotas: max_memory_usage counts charged memory, not mapped bytes (policy.h says exactly
 * what): a read-only or shared mapping of a file on disk costs page cache and counts nothing
 * unless locked, so mapping a file larger than the quota read-only works, while a private
 * writable mapping, writable anonymous memory and anything on tmpfs count whole. A change that
 * adds to the charge (mmap, mc_mprotect() of a private mapping to writable, mc_remap() growth,
 * mc_mlock()) is checked before its system call; the usage (mc_ctx_get_usage()) stays exact
 * through every operation and in fork() children.
 *
 * W^X: under a policy without allow_write_exec no memory mapped through the context is ever
 * writable and executable, also through two views of one file, shared memory object or memfd,
 * and never executable after it was writable (policy.h: allow_write_exec).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memcap/ctx.h>
#include <memcap/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protection bits; the seed's ReadOnly, ReadWrite, ReadExecute, ReadWriteExecute below. */
typedef enum mc_prot {
        MC_PROT_NONE = 0,
        MC_PROT_READ = 1 << 0,
        MC_PROT_WRITE = 1 << 1,
        MC_PROT_EXEC = 1 << 2,
} mc_prot;

#define MC_PROT_READ_ONLY          MC_PROT_READ
#define MC_PROT_READ_WRITE         (MC_PROT_READ | MC_PROT_WRITE)
#define MC_PROT_READ_EXECUTE       (MC_PROT_READ | MC_PROT_EXEC)
#define MC_PROT_READ_WRITE_EXECUTE (MC_PROT_READ | MC_PROT_WRITE | MC_PROT_EXEC)

/* The seed's MmapFlags; Custom(...) flags travel by name in mc_map_request.custom. */
typedef enum mc_map_flags {
        MC_MAP_PRIVATE = 1 << 0,   /* copy-on-write; writes never reach the file */
        MC_MAP_SHARED = 1 << 1,    /* writes reach the file and every other mapping of it */
        MC_MAP_ANONYMOUS = 1 << 2, /* zero-filled memory with no file (private only) */
        MC_MAP_FIXED = 1 << 3,     /* exactly at addr; needs policy allow_fixed */
        MC_MAP_HUGEPAGE = 1 << 4,  /* MAP_HUGETLB; needs policy allow_huge_pages */
} mc_map_flags;

/* Length meaning "from the offset to the end of the mapping" or "to the end of the file". */
#define MC_LENGTH_ALL SIZE_MAX

/* A request for mc_mmap(), the seed's MmapRequest. Start from MC_MAP_REQUEST_INIT. */
typedef struct mc_map_request {
        void *addr;     /* NULL, a hint, or with MC_MAP_FIXED the page-aligned address */
        size_t length;  /* bytes; > 0 */
        unsigned prot;  /* mc_prot bits */
        unsigned flags; /* mc_map_flags; exactly one of PRIVATE/SHARED, or ANONYMOUS (private) */
        /*
         * Custom flags by name, with or without "MAP_": MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED,
         * MAP_FIXED_NOREPLACE, MAP_STACK, MAP_HUGE_2MB, MAP_HUGE_1GB, MAP_SHARED_VALIDATE,
         * MAP_SYNC. An unknown name is Unsupported, never ignored.
         */
        const char *const *custom;
        size_t n_custom;
        const char *path; /* map this file; or */
        int fd;           /* map this descriptor (not closed by memcap); -1 for none */
        uint64_t offset;  /* into the file; a multiple of the page size */
        /*
         * NUMA placement from the start (numa.h): an mc_numa_mode and its node mask, as
         * mc_numa_bind() takes them, applied before the mapping is returned; 0 and 0 (the
         * default) leave the process's policy.
         */
        int numa_mode;
        uint64_t numa_nodes;
} mc_map_request;

#define MC_MAP_REQUEST_INIT                                                                        \
        { NULL, 0, 0, 0, NULL, 0, NULL, -1, 0, 0, 0 }

/*
 * A mapping made by memcap. Callers read ptr, len, prot and flags; the other members identify
 * the mapping to the context and must not be changed.
 */
typedef struct mc_mapping {
        void *ptr;       /* the first byte asked for; never NULL, also when len is 0 */
        size_t len;      /* the bytes asked for, from ptr */
        unsigned prot;   /* mc_prot bits; the union of its parts' after mc_mprotect_range() */
        unsigned flags;  /* mc_map_flags */
        void *base;      /* the page-aligned start of the kernel mapping */
        size_t base_len; /* its length, rounded to its page size */
        uint64_t id;     /* unique within the context, never reused */
} mc_mapping;

/**
 * mc_mmap() - map memory (mmap(2)) through the context.
 * @ctx: the context.
 * @req: the request; its strings need only live during the call.
 * @ret: filled on success; untouched on failure.
 *
 * Checked before any system call: length > 0 and no overflow of offset + length
 * (InvalidArgument); offset page-aligned (AlignmentError); MC_MAP_FIXED needs a page-aligned
 * addr (InvalidArgument / AlignmentError), may not overlap a mapping of this context, and needs
 * allow_fixed; ANONYMOUS with SHARED is InvalidArgument (shared anonymous memory comes from
 * mc_shared_open() with no name); write+execute needs allow_write_exec, and so does an
 * executable view of a file or descriptor that the context maps writable and shared, or a
 * writable shared view of one it maps executable; HUGEPAGE and MAP_HUGE_* need
 * allow_huge_pages; MAP_LOCKED counts against max_locked_memory; a path must lie beneath the
 * allowed paths; the charge (see above) and the count must fit max_memory_usage and
 * max_mappings. A denial is PolicyViolation naming the rule. A path is opened with O_NONBLOCK
 * (a FIFO is refused, never blocked on) and must be a regular file or a block device; a
 * descriptor that fstat(2) refuses is refused with its errno.
 *
 * Return: 0 or -errno.
 */
MC_API int mc_mmap(mc_ctx *ctx, const mc_map_request *req, mc_mapping *ret, mc_error *err);

/**
 * mc_munmap() - unmap a mapping of this context and release its quota.
 * @m: on success it is zeroed, so a second call on it is NotFound rather than harm.
 * Return: 0, -ENOENT (NotFound) for a mapping that is not a live mapping of @ctx, or -errno.
 */
MC_API int mc_munmap(mc_ctx *ctx, mc_mapping *m, mc_error *err);

/**
 * mc_mprotect() - change the protection of the whole mapping; @m->prot follows on success.
 * Unless the policy sets allow_write_exec, PolicyViolation (allow_write_exec) for write and
 * execute together, for execute on a mapping that was ever writable, for execute while the
 * context maps the same object writable and shared, and for writable on a shared mapping of
 * an object the context maps executable. Making a private mapping writable charges it whole
 * against max_memory_usage (checked first; it stays charged until unmapped, since its private
 * copies do). A zero-length mapping only records @prot.
 */
MC_API int mc_mprotect(mc_ctx *ctx, mc_mapping *m, unsigned prot, mc_error *err);

/**
 * mc_mprotect_range() - change the protection of part of a mapping (mprotect(2)).
 * @offset, @length: the range within the mapping, relative to ptr; @length may be
 * MC_LENGTH_ALL (to the end); 0 is InvalidArgument. Widened to whole pages internally, so
 * pass page boundaries unless the neighbouring bytes of the first and last page should change
 * too.
 *
 * Afterwards @m->prot is the union of the parts' protections; mc_map_read() and mc_map_write()
 * check every page they touch and refuse (PermissionDenied, nothing copied) when one lacks the
 * access. The kernel keeps such a mapping in pieces: mc_remap() and mc_shared_resize() refuse
 * it (InvalidArgument) until one mc_mprotect() of the whole mapping makes it one piece again.
 * Policy as mc_mprotect(): write+execute in one call is PolicyViolation unless allowed.
 *
 * Return: 0, -EINVAL for a range outside the mapping or unknown bits, -ENOENT, -ENOMEM (the
 * per-page record), or -errno of mprotect(2).
 */
MC_API int mc_mprotect_range(mc_ctx *ctx, mc_mapping *m, size_t offset, size_t length,
                             unsigned prot, mc_error *err);

typedef enum mc_sync_flags {
        MC_SYNC_SYNC = 1 << 0,       /* MS_SYNC: return once the data is written */
        MC_SYNC_ASYNC = 1 << 1,      /* MS_ASYNC: schedule the write-back */
        MC_SYNC_INVALIDATE = 1 << 2, /* MS_INVALIDATE: drop other cached copies */
} mc_sync_flags;

/**
 * mc_msync() - write a range of a file mapping back to its file (msync(2)).
 * @offset, @length: the range within the mapping, relative to ptr; @length may be
 * MC_LENGTH_ALL. The range is widened to whole pages internally.
 * @flags: MC_SYNC_SYNC or MC_SYNC_ASYNC (not both), optionally | MC_SYNC_INVALIDATE.
 * An msync that fails with EIO may have lost the data written (the kernel may drop the dirty
 * pages, and reports the error only once: a later msync would succeed). The mapping is then
 * faulted (mc_map_is_faulted()): every further mc_msync() and mc_map_write() of it fails
 * with Io until it is unmapped; mc_map_read() still works, mc_remap() keeps the state, and
 * mapping the file again gives a fresh mapping. Another thread's msync of the same range that
 * raced with the failing one may still have returned success.
 *
 * Return: 0, -EINVAL for a range outside the mapping or bad flags, -ENOENT, -EIO (Io) for an
 * I/O error writing back or a faulted mapping, or -errno.
 */
MC_API int mc_msync(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, unsigned flags,
                    mc_error *err);

typedef enum mc_remap_flags {
        MC_REMAP_MAYMOVE = 1 << 0, /* the kernel may move the mapping (ptr changes) */
} mc_remap_flags;

/**
 * mc_remap() - grow or shrink a mapping (mremap(2)); @m is updated on success. Without
 * MC_REMAP_MAYMOVE the mapping stays where it is or the call fails with OutOfMemory.
 * @new_len: the new length from ptr, > 0. Growth of a charged mapping is checked against
 * max_memory_usage (and max_locked_memory when the mapping is locked) before the call.
 * Growing a file mapping past the end of its file is allowed, as with mremap; touching those
 * pages raises SIGBUS, which mc_map_read()/mc_map_write() turn into Io. Zero-length mappings
 * cannot be remapped. A faulted mapping (mc_msync()) stays faulted.
 * Return: 0 or -errno; Unsupported where the platform has no mremap.
 */
MC_API int mc_remap(mc_ctx *ctx, mc_mapping *m, size_t new_len, unsigned flags, mc_error *err);

typedef enum mc_advice {
        MC_ADVICE_NORMAL = 0,
        MC_ADVICE_RANDOM,
        MC_ADVICE_SEQUENTIAL,
        MC_ADVICE_WILLNEED,
        MC_ADVICE_DONTNEED,   /* private anonymous pages read back as zero */
        MC_ADVICE_FREE,       /* pages may be freed lazily (private anonymous) */
        MC_ADVICE_REMOVE,     /* punch a hole in the backing shared memory / file */
        MC_ADVICE_DONTFORK,   /* absent in fork() children */
        MC_ADVICE_DOFORK,     /* undo DONTFORK */
        MC_ADVICE_WIPEONFORK, /* zero-filled in fork() children (private anonymous only) */
        MC_ADVICE_KEEPONFORK, /* undo WIPEONFORK */
        MC_ADVICE_HUGEPAGE,   /* transparent huge pages; needs allow_huge_pages */
        MC_ADVICE_NOHUGEPAGE,
        MC_ADVICE_DONTDUMP, /* left out of core dumps */
        MC_ADVICE_DODUMP,
        MC_ADVICE_MERGEABLE, /* KSM */
        MC_ADVICE_UNMERGEABLE,
        MC_ADVICE_COLD,
        MC_ADVICE_PAGEOUT,
        MC_ADVICE_POPULATE_READ,  /* prefault readable; Io-free check that pages exist */
        MC_ADVICE_POPULATE_WRITE, /* prefault writable */
        _MC_ADVICE_MAX
} mc_advice;

/**
 * mc_madvise() - advise the kernel about a range of a mapping (madvise(2)).
 * @offset, @length: relative to ptr; MC_LENGTH_ALL allowed; widened to whole pages.
 * Return: 0, -EINVAL for a bad range or an advice the mapping cannot take (the message says
 * why, e.g. WIPEONFORK on a file mapping), PolicyViolation for HUGEPAGE when not allowed,
 * Unsupported when the running kernel lacks the advice, or -errno.
 */
MC_API int mc_madvise(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                      mc_advice advice, mc_error *err);

/* The advice's name as the CLI and the audit log print it ("WILLNEED"). NULL if unknown. */
MC_API const char *mc_advice_name(mc_advice advice);

typedef enum mc_mlock_flags {
        MC_MLOCK_ONFAULT = 1 << 0, /* lock pages as they are faulted in (mlock2 MLOCK_ONFAULT) */
} mc_mlock_flags;

/**
 * mc_mlock() - lock a range of a mapping into RAM (mlock2(2)). Pages already locked through
 * this context are not counted twice against max_locked_memory. Locked pages of a mapping that
 * is not charged whole (page cache) count against max_memory_usage too, until unlocked.
 * Return: 0, PolicyViolation over max_locked_memory or max_memory_usage, OutOfMemory over
 * RLIMIT_MEMLOCK, -errno.
 */
MC_API int mc_mlock(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, unsigned flags,
                    mc_error *err);

/** mc_munlock() - unlock a range of a mapping (munlock(2)); always allowed by the policy. */
MC_API int mc_munlock(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                      mc_error *err);

/* Options of mc_map_file(); NULL means the whole file, shared. */
typedef struct mc_map_file_options {
        uint64_t offset;   /* any byte offset; need not be aligned */
        size_t length;     /* bytes from offset, or MC_LENGTH_ALL for the rest of the file */
        bool private_copy; /* MC_MAP_PRIVATE (copy-on-write) instead of MC_MAP_SHARED */
        const char *const *custom; /* as in mc_map_request */
        size_t n_custom;
} mc_map_file_options;

#define MC_MAP_FILE_OPTIONS_INIT                                                                   \
        { 0, MC_LENGTH_ALL, false, NULL, 0 }

/**
 * mc_map_file() - map (part of) a file: the seed's map_file().
 * @path: the file; opened read-only or read-write as @prot needs.
 * @prot: mc_prot bits.
 * @opts: NULL for the whole file, shared.
 * @ret: on success ptr is exactly the byte at @opts->offset (alignment is handled inside).
 *
 * An empty file, or an offset at the end of the file with MC_LENGTH_ALL, gives a valid
 * zero-length mapping whose ptr is non-NULL but must not be dereferenced. An offset past the
 * end, or a range past the end, is InvalidArgument with the file size in the message (mapping
 * beyond the end of a file would only give SIGBUS). Directories, FIFOs and sockets are
 * InvalidArgument. Other checks as mc_mmap().
 */
MC_API int mc_map_file(mc_ctx *ctx, const char *path, unsigned prot,
                       const mc_map_file_options *opts, mc_mapping *ret, mc_error *err);

/**
 * mc_unmap() - the seed's unmap(): mc_munmap(), except that a zeroed mc_mapping (ptr NULL, as
 * mc_munmap() leaves it) is accepted and does nothing, which keeps cleanup paths simple.
 */
MC_API int mc_unmap(mc_ctx *ctx, mc_mapping *m, mc_error *err);

/**
 * mc_map_read() - copy bytes out of a mapping, safely.
 * @offset, @length: the range within the mapping (relative to ptr); must lie inside it.
 * @buf: destination of @length bytes.
 *
 * If the file under the mapping was truncated (SIGBUS) or the pages are otherwise unreachable,
 * the copy stops and the call returns -EIO (Io) instead of killing the process; @buf then holds
 * an unspecified prefix. Only faults inside this copy are caught: every other SIGBUS/SIGSEGV
 * reaches the handler that was installed before memcap's (chained) or the default action.
 * Safe to call from many threads at once. Not audited (a data-path call).
 *
 * Return: 0, -ENOENT, -EINVAL for a range outside the mapping, -EACCES (PermissionDenied) for a
 * mapping without MC_PROT_READ, -EIO.
 */
MC_API int mc_map_read(mc_ctx *ctx, const mc_mapping *m, size_t offset, void *buf, size_t length,
                       mc_error *err);

/**
 * mc_map_write() - copy bytes into a mapping, safely; as mc_map_read() the other way round.
 * Needs MC_PROT_WRITE (else -EACCES). On -EIO a prefix of @buf may have been written. A
 * faulted mapping (see mc_msync()) refuses every write with -EIO (Io) and writes nothing.
 */
MC_API int mc_map_write(mc_ctx *ctx, const mc_mapping *m, size_t offset, const void *buf,
                        size_t length, mc_error *err);

/*
 * A function mc_map_visit() runs over the bytes of a mapping. Return >= 0 (passed back as the
 * result) or a negative errno of your own.
 */
typedef int (*mc_map_visitor)(void *ptr, size_t len, void *userdata);

/**
 * mc_map_visit() - run @fn over a range of a mapping in place, guarded as mc_map_read() is:
 * for searching, comparing or transforming the bytes without copying them out first.
 * @offset, @length: the range within the mapping (relative to ptr); must lie inside it.
 * @prot: MC_PROT_READ to look at the bytes, or MC_PROT_READ | MC_PROT_WRITE to change them
 *        (the mapping must allow it, as for mc_map_write(); a faulted mapping refuses writes).
 * @fn: called once with the range's first byte and @length (not called when @length is 0).
 *      A fault inside the range (the file was truncated) jumps out of @fn at once, so @fn must
 *      not take locks, allocate or leave other state that a jump would leave half done; it
 *      must touch only the range and its own memory. Faults elsewhere are not caught.
 *
 * Return: what @fn returned (0 when @length is 0), -ENOENT, -EINVAL for a range outside the
 * mapping or bad arguments, -EACCES (PermissionDenied) when the mapping lacks @prot, -EIO (Io)
 * when a fault ended the visit. Not audited (a data-path call). Thread-safe.
 */
MC_API int mc_map_visit(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                        unsigned prot, mc_map_visitor fn, void *userdata, mc_error *err);

/**
 * mc_map_is_faulted() - whether @m is a live mapping of @ctx in the faulted state: an
 * mc_msync() of it failed with EIO, so data written to it may be lost. mc_msync() and
 * mc_map_write() on it then fail with Io until it is unmapped; mapping the file again gives a
 * fresh mapping. A fork() child inherits the state with the mapping. Thread-safe; false for
 * NULL or a value that is not a live mapping.
 */
MC_API bool mc_map_is_faulted(mc_ctx *ctx, const mc_mapping *m);

/**
 * mc_custom_flag_names() - the custom flag names mc_mmap() accepts, NULL-terminated; static.
 */
MC_API const char *const *mc_custom_flag_names(void);

/**
 * mc_page_size() - the system page size in bytes. Thread-safe.
 */
MC_API size_t mc_page_size(void);

#ifdef __cplusplus
}
#endif

#endif
