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
 * Reads and writes are guarded copies (mc_map_read/mc_map_write): a file truncated under a
 * mapping gives Io for the lost range and never crashes the process holding the manager.
 *
 * Thread-safety: a manager may be used from many threads at once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/ctx.h>
#include <memcap/error.h>

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
} mc_capability;

#define MC_CAP_ALL (MC_CAP_FILE_READ | MC_CAP_FILE_WRITE | MC_CAP_SYSTEM_INFO | MC_CAP_FD_PASS)

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

typedef struct mc_manager_options {
        const char *root;      /* the directory paths are resolved beneath; required */
        bool allow_symlinks;   /* follow symlinks that stay inside the root (default: none) */
        uint64_t max_mappings; /* per client; 0 = 1024 */
        uint64_t max_bytes;    /* per client, page-rounded; 0 = 1 GiB */
} mc_manager_options;

#define MC_MANAGER_OPTIONS_INIT                                                                    \
        { NULL, false, 0, 0 }

/* Longest path a client may give (bytes, without the NUL). */
#define MC_MANAGER_PATH_MAX 4095

/* The seed's MmapStats reply. */
typedef struct mc_mapping_stats {
        uint64_t id;
        char path[MC_MANAGER_PATH_MAX + 1]; /* as the client gave it; "" when anonymous */
        bool anonymous;
        uint64_t offset; /* into the file, as asked (need not be page-aligned) */
        uint64_t length; /* bytes mapped */
        unsigned prot;   /* mc_prot bits */
        bool shared;     /* "Shared" or "Private" */
        pid_t owner_pid;
        uint64_t owner_key;
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
 * mc_manager_mmap() - Mmap: map @path (beneath the root; "/data/x" means <root>/data/x) or,
 * with @path NULL, anonymous memory (@shared: a memfd that MmapFd can pass; else private).
 * @offset: any byte offset; must be before the end of the file.
 * @length: bytes; 0 means to the end of the file (required > 0 when anonymous). A length past
 *          the end of the file is cut at the end: *@ret_length says what was mapped.
 * @prot: mc_prot bits; PROT_WRITE needs MC_CAP_FILE_WRITE, everything MC_CAP_FILE_READ.
 *
 * Paths are resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, and
 * RESOLVE_NO_SYMLINKS unless allowed): ".." or symlinks out of the root, magic links and
 * absolute symlinks are refused (PermissionDenied), and only regular files are mapped (a FIFO is
 * InvalidArgument, never blocked on). The id is allocated only on success.
 *
 * Return: 0 or -errno. A missing capability is -EACCES with kind PermissionDenied and
 * sys_errno 0 (no system call failed), which tells it apart from the kernel refusing a file.
 * Messages do not repeat the call's name ("Mmap 7 not found"); callers add it.
 */
MC_API int mc_manager_mmap(mc_manager *mgr, const mc_client *client, const char *path,
                           uint64_t offset, uint64_t length, unsigned prot, bool shared,
                           uint64_t *ret_id, uint64_t *ret_length, mc_error *err);

/**
 * mc_manager_read() - MmapRead: copy up to @length bytes at @offset of mapping @id into @buf.
 * The copy is cut at the mapping's end: *@ret_n says how many bytes were copied. An offset past
 * the end is InvalidArgument; a truncated file is Io.
 */
MC_API int mc_manager_read(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                           void *buf, size_t length, size_t *ret_n, mc_error *err);

/**
 * mc_manager_write() - MmapWrite: copy @length bytes into mapping @id at @offset. A write past
 * the end is InvalidArgument and writes nothing; a read-only mapping is PermissionDenied.
 */
MC_API int mc_manager_write(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                            const void *buf, size_t length, mc_error *err);

/**
 * mc_manager_msync() - Msync: returns once the data is in the file (MS_SYNC); success without
 * doing anything for private, read-only or anonymous mappings.
 */
MC_API int mc_manager_msync(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err);

/** mc_manager_munmap() - Munmap: sync a shared writable mapping, then unmap it. */
MC_API int mc_manager_munmap(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err);

/**
 * mc_manager_mprotect() - Mprotect: change the protection; adding write needs
 * MC_CAP_FILE_WRITE (and a file opened for writing: a read-only shared mapping cannot become
 * writable).
 */
MC_API int mc_manager_mprotect(mc_manager *mgr, const mc_client *client, uint64_t id, unsigned prot,
                               mc_error *err);

/**
 * mc_manager_stats() - MmapStats of mapping @id: the caller's own, or any with
 * MC_CAP_SYSTEM_INFO.
 */
MC_API int mc_manager_stats(mc_manager *mgr, const mc_client *client, uint64_t id,
                            mc_mapping_stats *ret, mc_error *err);

/**
 * mc_manager_list() - MmapList: the mappings of the caller (@owner_key 0), or of client
 * @owner_key / of everyone (UINT64_MAX) with MC_CAP_SYSTEM_INFO, in id order.
 * @ret: an array the caller frees with free(); NULL when *@ret_n is 0.
 */
MC_API int mc_manager_list(mc_manager *mgr, const mc_client *client, uint64_t owner_key,
                           mc_mapping_stats **ret, size_t *ret_n, mc_error *err);

/**
 * mc_manager_fd() - MmapFd: a new descriptor (O_CLOEXEC, owned by the caller) for the file or
 * memfd behind mapping @id, read-only unless the mapping is writable, plus the file offset of
 * the mapping's first byte in *@ret_offset. Needs MC_CAP_FD_PASS. Private anonymous memory has
 * no descriptor (InvalidArgument).
 */
MC_API int mc_manager_fd(mc_manager *mgr, const mc_client *client, uint64_t id, int *ret_fd,
                         uint64_t *ret_offset, mc_error *err);

/**
 * mc_manager_cleanup_process() - the client @key has gone: sync its shared writable mappings
 * and unmap all of them. Return: how many mappings were released.
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
