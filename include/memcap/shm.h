/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_SHM_H
#define MEMCAP_SHM_H

/*
 * Shared memory: the seed's shared_open / shared_close / map_shared_buffer.
 *
 * A name gives POSIX shared memory (shm_open(3)) that unrelated processes open by name; it
 * lives until mc_shared_unlink(). No name gives an anonymous region (memfd_create(2)) that
 * fork() children inherit and other processes can receive as a file descriptor; it can be
 * sealed so that nobody can shrink it under a mapping (no SIGBUS) or write to it.
 *
 * Sizes are allocated with fallocate(2), so a full tmpfs is an OutOfMemory error when the
 * object is created or grown, never a SIGBUS on first touch later.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/ctx.h>
#include <memcap/memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Who created the object: the seed's Local or Remote(pid). Local is this very process: it
 * created the object (also when it opens it again later) or the region is anonymous. Remote is
 * any other creator, with owner_pid its pid, or 0 when nobody recorded one (tmpfs without user
 * extended attributes, an object made without memcap). A named object outlives every process
 * that maps it until mc_shared_unlink(); the audit records of shm_open, shm_close and
 * shm_unlink carry "owner" and "owner_pid", so the life of a Remote region can be traced from
 * the log. The creator record is an extended attribute anyone who can write the object can
 * rewrite: it tells who made the object, it does not prove it.
 */
typedef enum mc_shared_owner {
        MC_OWNER_LOCAL = 0, /* created by this process, or anonymous */
        MC_OWNER_REMOTE,    /* created by another process; owner_pid is it, or 0 if unknown */
} mc_shared_owner;

/* memfd seals (fcntl F_ADD_SEALS). */
typedef enum mc_seal {
        MC_SEAL_SHRINK = 1 << 0,       /* the size can no longer decrease */
        MC_SEAL_GROW = 1 << 1,         /* the size can no longer increase */
        MC_SEAL_WRITE = 1 << 2,        /* no writes at all (needs no writable mapping) */
        MC_SEAL_FUTURE_WRITE = 1 << 3, /* no new writable mappings or writes via the fd */
        MC_SEAL_SEAL = 1 << 4,         /* no further seals */
} mc_seal;

/* The seed's SharedMemoryRequest. Start from MC_SHARED_REQUEST_INIT. */
typedef struct mc_shared_request {
        const char *name; /* "/name" or "name" (POSIX shm), or NULL for an anonymous memfd */
        size_t size;      /* create: the size (> 0); open: 0 for the object's size, or a
                             size that must not exceed it */
        bool create;      /* create exclusively (AlreadyExists if the name exists) */
        unsigned prot;    /* mc_prot bits of the mapping; PROT_WRITE opens O_RDWR */
        unsigned flags;   /* MC_MAP_HUGEPAGE (memfd only); other bits are InvalidArgument */
        unsigned seals;   /* memfd only: mc_seal bits applied after sizing and mapping */
        unsigned mode;    /* permission bits when creating a named object; 0 means 0600 */
} mc_shared_request;

#define MC_SHARED_REQUEST_INIT                                                                     \
        { NULL, 0, false, MC_PROT_READ_WRITE, 0, 0, 0 }

/* Longest shared memory name, without the leading '/'. */
#define MC_SHARED_NAME_MAX 255

/* The seed's SharedMemory. Read its members; change none. */
typedef struct mc_shared {
        mc_mapping region; /* the mapping of the whole object (a mapping of the context) */
        int fd; /* the object's descriptor, O_CLOEXEC; owned by the mc_shared (Windows: the
                   section's HANDLE value, not a C runtime descriptor) */
        char name[MC_SHARED_NAME_MAX + 2]; /* "/name", or "" when anonymous */
        mc_shared_owner owner;
        pid_t owner_pid; /* Local: this process; Remote: the creator, or 0 when unknown */
} mc_shared;

/**
 * mc_shared_open() - create or open shared memory and map it whole.
 * @req: the request.
 * @ret: filled on success; untouched on failure.
 *
 * Names are validated as POSIX requires of portable names (one leading '/' at most, no other
 * '/', not "." or "..", 1..255 bytes) and additionally may not hold control characters
 * (InvalidArgument), then checked against the policy's allowed_shared_memory patterns
 * (PolicyViolation). A named object is created with O_EXCL and mode 0600 (or @req->mode); an
 * existing one opened without create is NotFound when absent. The creator's pid and start
 * time are recorded on the object (an extended attribute, where tmpfs supports it) so openers
 * learn owner and owner_pid (mc_shared_owner): Local when this process created it, Remote
 * otherwise. The region is memory (tmpfs pages), so it counts whole against max_memory_usage,
 * and against max_mappings like any other mapping. A region with MC_PROT_EXEC of an object the
 * context maps writable and shared, or a writable region of one it maps executable, is
 * PolicyViolation (allow_write_exec), as in mc_mmap().
 *
 * Return: 0 or -errno.
 */
MC_API int mc_shared_open(mc_ctx *ctx, const mc_shared_request *req, mc_shared *ret, mc_error *err);

/**
 * mc_shared_close() - unmap the region and close the descriptor. A named object stays until
 * unlinked; an anonymous one goes when its last descriptor and mapping go. @shm is zeroed
 * (fd -1) on success; NotFound for an object that is not open in @ctx.
 */
MC_API int mc_shared_close(mc_ctx *ctx, mc_shared *shm, mc_error *err);

/**
 * mc_shared_unlink() - remove a named object (shm_unlink(3)); existing mappings stay valid.
 * On Windows a section lives while any handle to it is open and has no name to remove: the call
 * only checks that the object exists (NotFound otherwise); the name goes with its last handle.
 * Checked against allowed_shared_memory like opening. NotFound when absent. The audit record
 * names the owner of the object removed, read from it just before; Remote with owner_pid 0
 * when it could not be read (no read permission) or the name was replaced meanwhile.
 */
MC_API int mc_shared_unlink(mc_ctx *ctx, const char *name, mc_error *err);

/**
 * mc_map_shared_buffer() - the seed's map_shared_buffer(): a read-write shared buffer of
 * @size bytes. With a @name, the object is created if absent (owner Local) or opened if it
 * exists (InvalidArgument if it is smaller than @size), and then its owner is as its creator
 * record says: Local when this process created it, else Remote. With no name, an anonymous
 * memfd region that fork() children share (Local).
 */
MC_API int mc_map_shared_buffer(mc_ctx *ctx, const char *name, size_t size, mc_shared *ret,
                                mc_error *err);

/**
 * mc_shared_resize() - change the object's size (fallocate, or ftruncate to shrink) and remap
 * the region to match; @shm->region may move. Seals are honoured (PermissionDenied).
 * Unsupported on Windows: a section keeps the size it was created with.
 */
MC_API int mc_shared_resize(mc_ctx *ctx, mc_shared *shm, size_t new_size, mc_error *err);

/**
 * mc_shared_seal() - add seals to an anonymous region (memfd). Unsupported for named objects,
 * and on Windows.
 * MC_SEAL_WRITE while a writable mapping of the object exists is InvalidArgument (the
 * kernel's EBUSY); after MC_SEAL_SEAL any further seal is PermissionDenied.
 */
MC_API int mc_shared_seal(mc_ctx *ctx, mc_shared *shm, unsigned seals, mc_error *err);

/**
 * mc_shared_seals() - the seals now on the object, as mc_seal bits; 0 for named objects.
 */
MC_API int mc_shared_seals(const mc_shared *shm, unsigned *ret_seals, mc_error *err);

/**
 * mc_shared_name_valid() - whether @name is a valid shared memory name (see mc_shared_open()).
 * On false, *@reason (if non-NULL) says why, as a static string.
 */
MC_API bool mc_shared_name_valid(const char *name, const char **reason);

#ifdef __cplusplus
}
#endif

#endif
