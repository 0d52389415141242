/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_MANAGER_H
#define MEMCAP_MANAGER_H

/*
 * The mapping manager: the seed's MmapManager as an in-process object, what memcapd serves to
 * client processes. Mappings are named by ids (from 1, never reused) and belong to the client
 * process that made them; every other client gets NotFound for them, whether or not the id
 * exists. Mappings are real mmaps of files beneath the manager's root directory (demand-paged;
 * shared mappings of one file see each other's writes at once, private ones are copy-on-write)
 * or anonymous memory; every one goes through the manager's context, so its policy, quotas and
 * audit log apply.
 *
 * Rules. A client's capabilities and its limits (mappings with their pieces, charged bytes,
 * locked bytes) are decided by the context's policy decision together with the context's own
 * rules, and every refusal is an audit record of the context (outcome "denied"), like any
 * other denial: of the library call the manager makes (mmap, shm_open for shared anonymous
 * memory, mprotect, madvise, mlock), or of the manager's own "mmap_fd" and "mmap_list" (a
 * list of other clients' mappings). A missing capability is decided before anything else is
 * looked at, a path included, so a client without FileRead learns nothing about the files in
 * the root.
 *
 * Reads and writes are guarded copies (mc_map_read/mc_map_write): a file truncated under a
 * mapping gives Io for the lost range and never crashes the process holding the manager. Such a
 * mapping is *faulted* from then on (see mc_manager_msync()).
 *
 * Ranges. Mprotect, Msync, Madvise, Mlock and Munlock take a range of the mapping: @offset from
 * the mapping's first byte and @length bytes, MC_MANAGER_LENGTH_ALL for "to the end" (0 is
 * InvalidArgument). Each end must lie on a page boundary (mc_page_size()) of the file, that is
 * the mapping's file offset plus the range's offset is a multiple of the page size (for
 * anonymous memory: the offset is), or be the mapping's start or end; otherwise
 * AlignmentError. A range outside the mapping is InvalidArgument. The kernel keeps each run of
 * pages that differ in protection, lock or readahead advice as a mapping of its own: every
 * such piece beyond a mapping's first counts as one mapping against max_mappings, so a client
 * cannot exhaust the process's kernel mappings (vm.max_map_count) one page at a time.
 *
 * Thread-safety: a manager may be used from many threads at once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/ctx.h>
#include <memcap/error.h>
#include <memcap/memory.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc_manager mc_manager;

/* What a client may do (the seed's Permissions). */
typedef enum mc_capability {
        MC_CAP_FILE_READ = 1 << 0,   /* "FileRead": every Mmap */
        MC_CAP_FILE_WRITE = 1 << 1,  /* "FileWrite": Mmap or Mprotect with the write bit */
        MC_CAP_SYSTEM_INFO = 1 << 2, /* "SystemInfo": stats and lists of other clients' maps */
        MC_CAP_FD_PASS = 1 << 3,     /* "FdPass": the descriptor behind a mapping */
        MC_CAP_MEM_LOCK = 1 << 4,    /* "MemLock": Mlock, which pins RAM of the whole machine */
        /* "Channel": memcapd's ChannelCreate and ChannelOpen. The manager itself has no use for
         * it, so it is not in MC_CAP_ALL: memcapd grants it only when its configuration says so. */
        MC_CAP_CHANNEL = 1 << 5,
} mc_capability;

#define MC_CAP_ALL                                                                                 \
        (MC_CAP_FILE_READ | MC_CAP_FILE_WRITE | MC_CAP_SYSTEM_INFO | MC_CAP_FD_PASS |              \
         MC_CAP_MEM_LOCK)

/*
 * Who is asking. @key identifies the process for ownership and must never be reused for
 * another process (memcapd uses the pidfd's inode, which the kernel never reuses; in-process
 * users may pass the pid). @pid is what stats report as owner_pid.
 */
typedef struct mc_client {
        uint64_t key;
        pid_t pid;
        uid_t uid;
        gid_t gid;
        unsigned caps; /* mc_capability bits */
} mc_client;

/*
 * The manager's options. @max_bytes bounds what the context's max_memory_usage counts
 * (mc_usage.charged_bytes, see policy.h), per client: the page-rounded bytes of mappings that
 * may become memory the kernel cannot simply drop. A private writable mapping (or one made
 * writable by Mprotect), anonymous memory that may be written, shared anonymous memory and
 * any mapping of a file on tmpfs count whole; a read-only or shared mapping of a file on disk
 * counts only its bytes locked by Mlock. So a client may map a file larger than @max_bytes
 * read-only or shared, and refusals report the bytes charged, not mapped.
 */
typedef struct mc_manager_options {
        const char *root;      /* the directory paths are resolved beneath; required */
        bool allow_symlinks;   /* follow symlinks that stay inside the root (default: none) */
        uint64_t max_mappings; /* per client, pieces of split mappings included; 0 = 1024 */
        uint64_t max_bytes;    /* per client, charged bytes (see above); 0 = 1 GiB */
        uint64_t max_locked;   /* per client, bytes locked by Mlock; 0 = 1 MiB */
} mc_manager_options;

#define MC_MANAGER_OPTIONS_INIT                                                                    \
        { NULL, false, 0, 0, 0 }

/* A request for mc_manager_mmap(), the seed's Mmap. Start from MC_MANAGER_MAP_REQUEST_INIT. */
typedef struct mc_manager_map_request {
        const char *path; /* beneath the root ("/data/x" is <root>/data/x); NULL: anonymous */
        uint64_t offset;  /* into the file, any byte, before its end; 0 for anonymous memory */
        uint64_t length;  /* bytes; 0: to the end of the file (anonymous memory needs > 0) */
        unsigned prot;    /* mc_prot bits */
        bool shared;      /* a file: MAP_SHARED; anonymous: a memfd MmapFd can pass */
} mc_manager_map_request;

#define MC_MANAGER_MAP_REQUEST_INIT                                                                \
        { NULL, 0, 0, MC_PROT_READ, false }

/* A range length meaning "from the offset to the end of the mapping". */
#define MC_MANAGER_LENGTH_ALL UINT64_MAX

/* Tries of an open that a rename or mount in the root raced with, before TimedOut. */
#define MC_MANAGER_OPEN_TRIES 8

/* Longest path a client may give (bytes, without the NUL). */
#define MC_MANAGER_PATH_MAX 4095

/* A run of pages of one protection: @offset and @length in bytes from the mapping's start. */
typedef struct mc_mapping_range {
        uint64_t offset;
        uint64_t length;
        unsigned prot; /* mc_prot bits */
} mc_mapping_range;

/* The seed's MmapStats reply, and what memcap adds to it. */
typedef struct mc_mapping_stats {
        uint64_t id;
        char path[MC_MANAGER_PATH_MAX + 1]; /* as the client gave it; "" when anonymous */
        bool anonymous;
        uint64_t offset; /* into the file, as asked (need not be page-aligned) */
        uint64_t length; /* bytes mapped */
        unsigned prot;   /* mc_prot bits; when parts differ, the union of @ranges' */
        bool shared;     /* "Shared" or "Private" */
        pid_t owner_pid;
        uint64_t owner_key;
        uint64_t locked; /* bytes locked by Mlock, in whole pages */
        bool faulted;    /* the file shrank under it or a write-back failed (see Msync) */
        /*
         * When parts of the mapping differ in protection (Mprotect of a range): each run of one
         * protection, in order, together covering the mapping. NULL and 0 otherwise. Storage:
         * see mc_manager_stats() and mc_manager_list().
         */
        mc_mapping_range *ranges;
        size_t n_ranges;
} mc_mapping_stats;

/**
 * mc_manager_new() - a manager over @opts->root using @ctx for every mapping.
 * @ctx: not owned; must outlive the manager.
 * Return: 0, NotFound / PermissionDenied / InvalidArgument (not a directory) for the root,
 * OutOfMemory.
 */
MC_API int mc_manager_new(mc_ctx *ctx, const mc_manager_options *opts, mc_manager **ret,
                          mc_error *err);

/**
 * mc_manager_free() - sync every shared writable mapping, unmap everything, free. Accepts
 * NULL. Return: NULL.
 */
MC_API mc_manager *mc_manager_free(mc_manager *mgr);

/**
 * mc_manager_mmap() - Mmap: map @req->path beneath the root or, with no path, anonymous memory.
 * @req: the request (see mc_manager_map_request); its strings need only live during the call.
 * @ret_id: the new mapping's id; untouched on failure.
 * @ret_length: may be NULL; the bytes mapped. A length past the end of the file is cut at the
 *              end, and length 0 maps to the end.
 *
 * Needs MC_CAP_FILE_READ, and MC_CAP_FILE_WRITE when @req->prot has the write bit; both are
 * decided before the path is looked up. Paths are resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS, and RESOLVE_NO_SYMLINKS unless allowed): ".." or symlinks out of the
 * root, magic links and absolute symlinks are refused (PermissionDenied), and only regular
 * files are mapped (a FIFO is InvalidArgument, never blocked on). An open that a rename or
 * mount inside the root raced with (EAGAIN) or that a signal interrupted (EINTR) is tried
 * again, MC_MANAGER_OPEN_TRIES times in all; then it is TimedOut with that errno, and the
 * request may simply be repeated. The client's mapping count and charged bytes must stay
 * within max_mappings and max_bytes (PolicyViolation). The id is allocated only on success.
 *
 * Return: 0 or -errno. A missing capability is -EACCES with kind PermissionDenied and
 * sys_errno 0 (no system call failed), which tells it apart from the kernel refusing a file.
 * Messages do not repeat the call's name ("Mmap 7 not found"); callers add it.
 */
MC_API int mc_manager_mmap(mc_manager *mgr, const mc_client *client,
                           const mc_manager_map_request *req, uint64_t *ret_id,
                           uint64_t *ret_length, mc_error *err);

/**
 * mc_manager_read() - MmapRead: copy @length bytes at @offset of mapping @id into @buf.
 * The range must lie inside the mapping: one that runs past its end is InvalidArgument and
 * copies nothing (an empty read at the very end is an empty success), as is an offset past the
 * end. Every page read needs read permission (PermissionDenied). Bytes past the end of a file
 * that shrank under the mapping are Io (the mapping is faulted from then on); bytes before it
 * are still read. *@ret_n is @length on success.
 */
MC_API int mc_manager_read(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                           void *buf, size_t length, size_t *ret_n, mc_error *err);

/**
 * mc_manager_write() - MmapWrite: copy @length bytes into mapping @id at @offset. A write past
 * the end is InvalidArgument and writes nothing; a page without write permission (the whole
 * mapping's, or one part's after a range Mprotect) is PermissionDenied and writes nothing; a
 * faulted mapping is Io and writes nothing. A file truncated during the copy is Io after part
 * of the data may have been written, and faults the mapping.
 */
MC_API int mc_manager_write(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                            const void *buf, size_t length, mc_error *err);

/**
 * mc_manager_msync() - Msync of a whole mapping: mc_manager_msync_range() over all of it,
 * without saying whether anything was written.
 */
MC_API int mc_manager_msync(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err);

/**
 * mc_manager_msync_range() - Msync: write a range (see "Ranges" above) of a shared mapping
 * of a file opened for writing back to the file and wait (MS_SYNC). *@ret_written (may be NULL)
 * says whether the mapping writes to a file at all: false for private (copy-on-write),
 * anonymous and read-only mappings, for which the call succeeds and does nothing.
 *
 * Faults. A mapping whose file shrank below the mapping's end (checked with fstat() on every
 * Msync, MmapRead, MmapWrite and MmapStats), or whose write-back failed once (EIO: the kernel
 * reports such an error once and may have dropped the data), is faulted: Msync and MmapWrite
 * fail with Io (errno EIO) and do nothing until the mapping is unmapped and mapped again;
 * MmapRead of bytes that the file still holds goes on working. A truncation undone before the
 * next call is not seen.
 */
MC_API int mc_manager_msync_range(mc_manager *mgr, const mc_client *client, uint64_t id,
                                  uint64_t offset, uint64_t length, bool *ret_written,
                                  mc_error *err);

/**
 * mc_manager_munmap() - Munmap: sync a shared writable mapping, then unmap it and release
 * what it counted against the client (mappings, pieces, bytes, locked bytes). A sync that
 * fails leaves the mapping in place with the error (and faulted, for EIO); a faulted mapping is
 * unmapped without a sync, successfully.
 */
MC_API int mc_manager_munmap(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err);

/**
 * mc_manager_mprotect() - Mprotect of the whole mapping: mc_manager_mprotect_range() over all
 * of it.
 */
MC_API int mc_manager_mprotect(mc_manager *mgr, const mc_client *client, uint64_t id, unsigned prot,
                               mc_error *err);

/**
 * mc_manager_mprotect_range() - Mprotect: change the protection of a range (see "Ranges").
 * Adding write to a page that lacks it needs MC_CAP_FILE_WRITE (and a file opened for
 * writing: a read-only shared mapping cannot become writable, PermissionDenied from the
 * kernel). Reads and writes of the other pages are not affected. Write+execute is the
 * context's policy's to allow (PolicyViolation). Making a private mapping writable charges it
 * whole (see mc_manager_options), so it must fit max_bytes (PolicyViolation).
 */
MC_API int mc_manager_mprotect_range(mc_manager *mgr, const mc_client *client, uint64_t id,
                                     uint64_t offset, uint64_t length, unsigned prot,
                                     mc_error *err);

/**
 * mc_manager_madvise() - Madvise: advise the kernel about a range (see "Ranges"). Offered:
 * NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTNEED, FREE, COLD, POPULATE_READ, POPULATE_WRITE.
 * DONTNEED is safe to offer: on a shared mapping the page cache keeps the data (dirty pages
 * included) and only this mapping's page tables are dropped; on a private one it discards only
 * this client's copy-on-write changes. Refused (PolicyViolation, naming why): REMOVE (frees
 * the file's storage under every reader), PAGEOUT (evicts pages other clients share), the
 * fork and core-dump advices (they concern the manager's process, not the client), HUGEPAGE
 * and NOHUGEPAGE (the context's policy chooses huge pages), MERGEABLE and UNMERGEABLE (page
 * merging across processes is a timing side channel between clients). Whether a mapping can
 * take an offered advice is the kernel's to say (InvalidArgument, e.g. FREE on a file).
 */
MC_API int mc_manager_madvise(mc_manager *mgr, const mc_client *client, uint64_t id,
                              uint64_t offset, uint64_t length, mc_advice advice, mc_error *err);

/**
 * mc_manager_mlock() - Mlock: lock a range (see "Ranges") into RAM. Locked memory is a resource
 * of the whole machine, so three things gate it: the MC_CAP_MEM_LOCK capability
 * (PermissionDenied), the client's max_locked bytes (PolicyViolation), and the context
 * policy's max_locked_memory for all clients together (PolicyViolation). Locked page cache
 * (a read-only or shared mapping of a file on disk) is charged too, against max_bytes. Pages
 * already locked are not counted twice. The process's RLIMIT_MEMLOCK may still refuse
 * (OutOfMemory).
 */
MC_API int mc_manager_mlock(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                            uint64_t length, mc_error *err);

/** mc_manager_munlock() - Munlock: unlock a range (see "Ranges"); needs no capability. */
MC_API int mc_manager_munlock(mc_manager *mgr, const mc_client *client, uint64_t id,
                              uint64_t offset, uint64_t length, mc_error *err);

/**
 * mc_manager_stats() - MmapStats of mapping @id: the caller's own, or any with
 * MC_CAP_SYSTEM_INFO. @ret->ranges is malloc'd when not NULL: the caller frees it with free().
 */
MC_API int mc_manager_stats(mc_manager *mgr, const mc_client *client, uint64_t id,
                            mc_mapping_stats *ret, mc_error *err);

/**
 * mc_manager_list() - MmapList: the mappings of the caller (@owner_key 0), or of client
 * @owner_key / of everyone (UINT64_MAX) with MC_CAP_SYSTEM_INFO, in id order. A list of other
 * clients' mappings is the context's operation "mmap_list", and a refused one is audited (one
 * that was allowed only looked, and writes no record, so repeating it cannot fill the log).
 * @ret: one allocation holding the array and every element's ranges, which the caller frees
 *       with one free(); NULL when *@ret_n is 0.
 */
MC_API int mc_manager_list(mc_manager *mgr, const mc_client *client, uint64_t owner_key,
                           mc_mapping_stats **ret, size_t *ret_n, mc_error *err);

/**
 * mc_manager_fd() - MmapFd: a new descriptor (O_CLOEXEC, owned by the caller) for the file or
 * memfd behind mapping @id, read-only unless the mapping is writable, plus the file offset of
 * the mapping's first byte in *@ret_offset. Needs MC_CAP_FD_PASS. Private anonymous memory has
 * no descriptor (InvalidArgument). It is the context's operation "mmap_fd", audited like any
 * other; another client's id is NotFound, whatever the caller's capabilities.
 */
MC_API int mc_manager_fd(mc_manager *mgr, const mc_client *client, uint64_t id, int *ret_fd,
                         uint64_t *ret_offset, mc_error *err);

/**
 * mc_manager_cleanup_process() - the client @key has gone: sync its shared writable mappings
 * (faulted ones are not synced) and unmap all of them. Return: how many mappings were released.
 */
MC_API size_t mc_manager_cleanup_process(mc_manager *mgr, uint64_t key);

/** mc_manager_count() - live mappings, all clients together. */
MC_API size_t mc_manager_count(mc_manager *mgr);

/** mc_capability_name() - "FileRead" etc. for one bit; NULL otherwise. */
MC_API const char *mc_capability_name(unsigned cap);

/** mc_capability_from_name() - parse "FileRead" etc.; -EINVAL if unknown. */
MC_API int mc_capability_from_name(const char *name, unsigned *ret_cap);

#ifdef __cplusplus
}
#endif

#endif
