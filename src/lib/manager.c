/* SPDX-License-Identifier: MIT */
/*
 * The mapping manager (the seed's MmapManager): ids for real mappings, owned by client
 * processes, confined to a root directory. Every mapping is made through the manager's context
 * (policy, quotas, audit) and read or written through the guarded copies, so a client that
 * truncates a file under someone else's mapping costs that mapping an Io error, never the
 * process.
 *
 * Locking: a read-write lock. Reads, writes, syncs and stats take it shared (many at once);
 * anything that adds or removes an entry takes it exclusively.
 *
 * Sections: tables, paths, mmap, lookup helpers, read/write/sync, unmap/cleanup, protect, stats
 * and list, descriptors, life cycle.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "internal.h"

/* ---- tables --------------------------------------------------------------------------------- */

typedef struct entry {
        uint64_t id;
        uint64_t owner_key;
        pid_t owner_pid;
        char *path; /* as the client gave it; NULL when anonymous */
        uint64_t offset;
        uint64_t length;
        unsigned prot;
        bool shared;
        bool is_shm; /* shared anonymous: the memory lives in shm */
        mc_mapping m;
        mc_shared shm;
        size_t delta;     /* the first byte asked for is at region->ptr + delta */
        int fd;           /* the file (or -1); shm.fd for shared anonymous memory */
        uint64_t charged; /* bytes counted against the owner's quota */
} entry;

typedef struct owner {
        uint64_t key;
        uint64_t mappings;
        uint64_t bytes;
} owner;

struct mc_manager {
        pthread_rwlock_t lock;
        mc_ctx *ctx;
        int root_fd;
        bool allow_symlinks;
        uint64_t max_mappings;
        uint64_t max_bytes;
        uint64_t next_id;
        entry **entries; /* open addressing by id; NULL = free */
        size_t n_slots, n_entries;
        owner *owners; /* a small array: clients with mappings */
        size_t n_owners, cap_owners;
};

static size_t slot_of(const mc_manager *mgr, uint64_t id) {
        return (size_t) ((id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (mgr->n_slots - 1);
}

static entry *find(const mc_manager *mgr, uint64_t id) {
        if (mgr->n_slots == 0 || id == 0)
                return NULL;
        for (size_t i = slot_of(mgr, id);; i = (i + 1) & (mgr->n_slots - 1)) {
                if (!mgr->entries[i])
                        return NULL;
                if (mgr->entries[i]->id == id)
                        return mgr->entries[i];
        }
}

static void put(entry **slots, size_t n, entry *e) {
        size_t i = (size_t) ((e->id * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (n - 1);
        while (slots[i])
                i = (i + 1) & (n - 1);
        slots[i] = e;
}

/* Make room for one more entry (exclusive lock held). */
static int reserve(mc_manager *mgr) {
        entry **slots;
        size_t n;

        if ((mgr->n_entries + 1) * 2 <= mgr->n_slots)
                return 0;
        n = mgr->n_slots ? mgr->n_slots * 2 : 64;
        slots = calloc(n, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < mgr->n_slots; i++)
                if (mgr->entries[i])
                        put(slots, n, mgr->entries[i]);
        free(mgr->entries);
        mgr->entries = slots;
        mgr->n_slots = n;
        return 0;
}

static void remove_entry(mc_manager *mgr, entry *e) {
        size_t i = slot_of(mgr, e->id), j;

        while (mgr->entries[i] != e)
                i = (i + 1) & (mgr->n_slots - 1);
        mgr->entries[i] = NULL;
        mgr->n_entries--;
        /* Re-insert the rest of the probe run so lookups never stop at the hole. */
        for (j = (i + 1) & (mgr->n_slots - 1); mgr->entries[j]; j = (j + 1) & (mgr->n_slots - 1)) {
                entry *x = mgr->entries[j];
                mgr->entries[j] = NULL;
                put(mgr->entries, mgr->n_slots, x);
        }
}

static owner *owner_find(mc_manager *mgr, uint64_t key, bool create) {
        for (size_t i = 0; i < mgr->n_owners; i++)
                if (mgr->owners[i].key == key)
                        return &mgr->owners[i];
        if (!create)
                return NULL;
        if (mgr->n_owners == mgr->cap_owners) {
                size_t cap = mgr->cap_owners ? mgr->cap_owners * 2 : 16;
                owner *o = realloc(mgr->owners, cap * sizeof(*o));
                if (!o)
                        return NULL;
                mgr->owners = o;
                mgr->cap_owners = cap;
        }
        mgr->owners[mgr->n_owners] = (owner){.key = key};
        return &mgr->owners[mgr->n_owners++];
}

static void owner_release(mc_manager *mgr, uint64_t key, uint64_t bytes) {
        owner *o = owner_find(mgr, key, false);

        if (!o)
                return;
        o->mappings--;
        o->bytes -= bytes;
        if (o->mappings == 0)
                *o = mgr->owners[--mgr->n_owners];
}

static const mc_mapping *region(const entry *e) {
        return e->is_shm ? &e->shm.region : &e->m;
}

static void entry_free(entry *e) {
        if (!e)
                return;
        if (!e->is_shm)
                safe_close(e->fd);
        free(e->path);
        free(e);
}

/* ---- paths ---------------------------------------------------------------------------------- */

static int path_check(const char *path, mc_error *err) {
        size_t n = strlen(path);

        if (n == 0 || path[0] != '/')
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "path '%.200s' must start with '/' (it names a file "
                                     "in the root)",
                                     path);
        if (n > MC_MANAGER_PATH_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, ENAMETOOLONG,
                                     "path is longer than %d bytes", MC_MANAGER_PATH_MAX);
        return 0;
}

/* Open @path beneath the root without side effects (O_PATH). */
static int open_beneath(mc_manager *mgr, const char *path, mc_error *err) {
        struct open_how how = {0};
        const char *rel = path;
        int fd, e;

        while (*rel == '/')
                rel++;
        if (!*rel)
                rel = ".";
        how.flags = O_PATH | O_CLOEXEC;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                      (mgr->allow_symlinks ? 0 : RESOLVE_NO_SYMLINKS);
        fd = (int) syscall(SYS_openat2, mgr->root_fd, rel, &how, sizeof(how));
        if (fd >= 0)
                return fd;
        e = errno;
        if (e == EXDEV)
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EXDEV,
                                     "'%.200s': the path leads out of the root", path);
        if (e == ELOOP)
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, ELOOP,
                                     "'%.200s': the path goes through a symlink%s", path,
                                     mgr->allow_symlinks ? " loop or a magic link"
                                                         : " (symlinks are not allowed)");
        if (e == ENOSYS)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                                     "openat2 is not available (Linux 5.6 or later needed)");
        return mc__error_errno(err, e, "'%.200s'", path);
}

/* ---- mmap ------------------------------------------------------------------------------------ */

/* A capability refusal: PermissionDenied with no errno, since no system call failed. */
static int deny(mc_error *err, const char *what) {
        if (err) {
                err->kind = MC_ERR_PERMISSION_DENIED;
                err->sys_errno = 0;
                strscpy(err->message, sizeof(err->message), what);
        }
        return -EACCES;
}

static int check_client(const mc_client *client, mc_error *err) {
        if (!client)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "the client must not be NULL");
        return 0;
}

/* Map @e's file region (or anonymous memory) through the context. */
static int map_entry(mc_manager *mgr, entry *e, int file_fd, mc_error *err) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        size_t page = mc_page_size();
        uint64_t aligned = e->offset - e->offset % page;

        e->delta = (size_t) (e->offset - aligned);
        req.length = e->delta + (size_t) e->length;
        req.prot = e->prot;
        if (file_fd < 0 && !e->shared) {
                req.flags = MC_MAP_ANONYMOUS;
                return mc_mmap(mgr->ctx, &req, &e->m, err);
        }
        if (file_fd < 0) {
                mc_shared_request sreq = MC_SHARED_REQUEST_INIT;
                sreq.size = (size_t) e->length;
                sreq.prot = e->prot;
                e->is_shm = true;
                return mc_shared_open(mgr->ctx, &sreq, &e->shm, err);
        }
        req.fd = file_fd;
        req.offset = aligned;
        req.flags = e->shared ? MC_MAP_SHARED : MC_MAP_PRIVATE;
        return mc_mmap(mgr->ctx, &req, &e->m, err);
}

int mc_manager_mmap(mc_manager *mgr, const mc_client *client, const char *path, uint64_t offset,
                    uint64_t length, unsigned prot, bool shared, uint64_t *ret_id,
                    uint64_t *ret_length, mc_error *err) {
        _cleanup_close_ int pfd = -EBADF, fd = -EBADF;
        entry *e = NULL;
        uint64_t charge, span;
        owner *o;
        int r;

        if (!mgr || check_client(client, err) < 0 || !ret_id)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "Mmap: manager, client and ret_id must not be NULL");
        if (prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "prot %u has bits beyond 7 (1 read, 2 write, 4 exec)", prot);
        if (!(client->caps & MC_CAP_FILE_READ))
                return deny(err, "Mmap needs the FileRead capability");
        if ((prot & MC_PROT_WRITE) && !(client->caps & MC_CAP_FILE_WRITE))
                return deny(err, "Mmap with the write bit needs the FileWrite capability");

        if (path) {
                struct stat st;
                char proc[64];

                r = path_check(path, err);
                if (r < 0)
                        return r;
                pfd = open_beneath(mgr, path, err);
                if (pfd < 0)
                        return pfd;
                if (fstat(pfd, &st) < 0)
                        return mc__error_errno(err, errno, "'%.200s': fstat", path);
                if (!S_ISREG(st.st_mode))
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "'%.200s': not a regular file", path);
                if (offset >= (uint64_t) st.st_size)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "'%.200s': offset %" PRIu64 " is at or past "
                                             "the end of the file (%" PRIu64 " bytes)",
                                             path, offset, (uint64_t) st.st_size);
                if (length == 0 || length > (uint64_t) st.st_size - offset)
                        length = (uint64_t) st.st_size - offset; /* cut at the end */
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
                fd = open(proc, ((prot & MC_PROT_WRITE) && shared ? O_RDWR : O_RDONLY) | O_CLOEXEC |
                                        O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return mc__error_errno(err, errno, "'%.200s': opening", path);
        } else {
                if (offset != 0)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "anonymous memory has no offset");
                if (length == 0)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "anonymous memory needs a length");
        }
        if (length > (uint64_t) PTRDIFF_MAX / 2)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "length %" PRIu64 " is too large", length);
        span = offset % mc_page_size() + length;
        charge = (span + mc_page_size() - 1) / mc_page_size() * mc_page_size();

        e = calloc(1, sizeof(*e));
        if (!e || (path && !(e->path = strdup(path)))) {
                entry_free(e);
                return mc__error_errno(err, ENOMEM, "allocating a mapping");
        }
        e->fd = -1;
        e->owner_key = client->key;
        e->owner_pid = client->pid;
        e->offset = offset;
        e->length = length;
        e->prot = prot;
        e->shared = shared;
        e->charged = charge;

        pthread_rwlock_wrlock(&mgr->lock);
        o = owner_find(mgr, client->key, true);
        if (!o || reserve(mgr) < 0) {
                r = mc__error_errno(err, ENOMEM, "allocating a mapping");
                goto fail;
        }
        if (o->mappings + 1 > mgr->max_mappings) {
                r = mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                  "the client has %" PRIu64 " mappings, the limit "
                                  "per client is %" PRIu64,
                                  o->mappings, mgr->max_mappings);
                goto fail;
        }
        if (o->bytes + charge > mgr->max_bytes || o->bytes + charge < o->bytes) {
                r = mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                  "%" PRIu64 " bytes mapped + %" PRIu64 " exceed "
                                  "the limit per client of %" PRIu64 " bytes",
                                  o->bytes, charge, mgr->max_bytes);
                goto fail;
        }
        r = map_entry(mgr, e, fd, err);
        if (r < 0)
                goto fail;
        e->fd = e->is_shm ? e->shm.fd : TAKE_FD(fd);
        e->id = ++mgr->next_id;
        put(mgr->entries, mgr->n_slots, e);
        mgr->n_entries++;
        o->mappings++;
        o->bytes += charge;
        pthread_rwlock_unlock(&mgr->lock);
        *ret_id = e->id;
        if (ret_length)
                *ret_length = length;
        return 0;

fail:
        if (o && o->mappings == 0)
                *o = mgr->owners[--mgr->n_owners];
        pthread_rwlock_unlock(&mgr->lock);
        entry_free(e);
        return r;
}

/* ---- lookup helpers -------------------------------------------------------------------------- */

/*
 * The entry @id as @client may see it: its own, or anyone's with SystemInfo when @any_owner.
 * Otherwise NotFound, worded the same whether or not the id exists.
 */
static entry *lookup(mc_manager *mgr, const mc_client *client, const char *call, uint64_t id,
                     bool any_owner, mc_error *err) {
        entry *e = find(mgr, id);

        if (e &&
            (e->owner_key == client->key || (any_owner && (client->caps & MC_CAP_SYSTEM_INFO))))
                return e;
        (void) call;
        mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT, "Mmap %" PRIu64 " not found", id);
        return NULL;
}

/* ---- read / write / sync --------------------------------------------------------------------- */

int mc_manager_read(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                    void *buf, size_t length, size_t *ret_n, mc_error *err) {
        entry *e;
        size_t n;
        int r;

        if (!mgr || check_client(client, err) < 0 || (!buf && length > 0) || !ret_n)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "MmapRead: bad arguments");
        pthread_rwlock_rdlock(&mgr->lock);
        e = lookup(mgr, client, "MmapRead", id, false, err);
        if (!e) {
                r = -ENOENT;
        } else if (offset > e->length) {
                r = mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "offset %" PRIu64 " is past the end of Mmap "
                                  "%" PRIu64 " (%" PRIu64 " bytes)",
                                  offset, id, e->length);
        } else {
                n = (size_t) MC_MIN((uint64_t) length, e->length - offset);
                r = mc_map_read(mgr->ctx, region(e), e->delta + (size_t) offset, buf, n, err);
                if (r >= 0)
                        *ret_n = n;
        }
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

int mc_manager_write(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                     const void *buf, size_t length, mc_error *err) {
        uint64_t end;
        entry *e;
        int r;

        if (!mgr || check_client(client, err) < 0 || (!buf && length > 0))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "MmapWrite: bad arguments");
        pthread_rwlock_rdlock(&mgr->lock);
        e = lookup(mgr, client, "MmapWrite", id, false, err);
        if (!e)
                r = -ENOENT;
        else if (MC_ADD_OVERFLOW(offset, (uint64_t) length, &end) || end > e->length)
                r = mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "%zu bytes at offset %" PRIu64 " end past "
                                  "Mmap %" PRIu64 " (%" PRIu64 " bytes); nothing was written",
                                  length, offset, id, e->length);
        else if (!(e->prot & MC_PROT_WRITE))
                r = mc__error_set(err, MC_ERR_PERMISSION_DENIED, EACCES,
                                  "Mmap %" PRIu64 " is not writable", id);
        else
                r = mc_map_write(mgr->ctx, region(e), e->delta + (size_t) offset, buf, length, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

static bool needs_sync(const entry *e) {
        return e->shared && !e->is_shm && e->path && (e->prot & MC_PROT_WRITE);
}

static int sync_entry(mc_manager *mgr, const entry *e, mc_error *err) {
        if (!needs_sync(e))
                return 0;
        return mc_msync(mgr->ctx, region(e), 0, MC_LENGTH_ALL, MC_SYNC_SYNC, err);
}

int mc_manager_msync(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err) {
        entry *e;
        int r;

        if (!mgr || check_client(client, err) < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "Msync: bad arguments");
        pthread_rwlock_rdlock(&mgr->lock);
        e = lookup(mgr, client, "Msync", id, false, err);
        r = e ? sync_entry(mgr, e, err) : -ENOENT;
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* ---- unmap / cleanup ------------------------------------------------------------------------- */

/* Unmap and forget @e (exclusive lock held). */
static int drop(mc_manager *mgr, entry *e, mc_error *err) {
        int r = e->is_shm ? mc_shared_close(mgr->ctx, &e->shm, err)
                          : mc_munmap(mgr->ctx, &e->m, err);

        if (r < 0)
                return r;
        remove_entry(mgr, e);
        owner_release(mgr, e->owner_key, e->charged);
        entry_free(e);
        return 0;
}

int mc_manager_munmap(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err) {
        entry *e;
        int r;

        if (!mgr || check_client(client, err) < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "Munmap: bad arguments");
        pthread_rwlock_wrlock(&mgr->lock);
        e = lookup(mgr, client, "Munmap", id, false, err);
        if (!e)
                r = -ENOENT;
        else {
                r = sync_entry(mgr, e, err);
                if (r >= 0)
                        r = drop(mgr, e, err);
        }
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

size_t mc_manager_cleanup_process(mc_manager *mgr, uint64_t key) {
        size_t n = 0;

        if (!mgr)
                return 0;
        pthread_rwlock_wrlock(&mgr->lock);
        for (size_t i = 0; i < mgr->n_slots;) {
                entry *e = mgr->entries[i];
                if (e && e->owner_key == key) {
                        (void) sync_entry(mgr, e, NULL);
                        if (drop(mgr, e, NULL) >= 0) {
                                n++;
                                continue; /* the slot was refilled from the probe run */
                        }
                }
                i++;
        }
        pthread_rwlock_unlock(&mgr->lock);
        return n;
}

size_t mc_manager_count(mc_manager *mgr) {
        size_t n;

        if (!mgr)
                return 0;
        pthread_rwlock_rdlock(&mgr->lock);
        n = mgr->n_entries;
        pthread_rwlock_unlock(&mgr->lock);
        return n;
}

/* ---- protect ------------------------------------------------------------------------------- */

int mc_manager_mprotect(mc_manager *mgr, const mc_client *client, uint64_t id, unsigned prot,
                        mc_error *err) {
        entry *e;
        int r;

        if (!mgr || check_client(client, err) < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "Mprotect: bad arguments");
        if (prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "prot %u has bits beyond 7", prot);
        pthread_rwlock_wrlock(&mgr->lock);
        e = lookup(mgr, client, "Mprotect", id, false, err);
        if (!e)
                r = -ENOENT;
        else if ((prot & MC_PROT_WRITE) && !(e->prot & MC_PROT_WRITE) &&
                 !(client->caps & MC_CAP_FILE_WRITE))
                r = deny(err, "Mprotect adding the write bit needs the FileWrite capability");
        else {
                mc_mapping *m = e->is_shm ? &e->shm.region : &e->m;
                r = mc_mprotect(mgr->ctx, m, prot, err);
                if (r >= 0)
                        e->prot = prot;
        }
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* ---- stats and list
 * ------------------------------------------------------------------------------ */

static void fill_stats(const entry *e, mc_mapping_stats *s) {
        s->id = e->id;
        strscpy(s->path, sizeof(s->path), e->path ? e->path : "");
        s->anonymous = !e->path;
        s->offset = e->offset;
        s->length = e->length;
        s->prot = e->prot;
        s->shared = e->shared;
        s->owner_pid = e->owner_pid;
        s->owner_key = e->owner_key;
}

int mc_manager_stats(mc_manager *mgr, const mc_client *client, uint64_t id, mc_mapping_stats *ret,
                     mc_error *err) {
        entry *e;

        if (!mgr || check_client(client, err) < 0 || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "MmapStats: bad arguments");
        pthread_rwlock_rdlock(&mgr->lock);
        e = lookup(mgr, client, "MmapStats", id, true, err);
        if (e)
                fill_stats(e, ret);
        pthread_rwlock_unlock(&mgr->lock);
        return e ? 0 : -ENOENT;
}

static int by_id(const void *a, const void *b) {
        uint64_t x = ((const mc_mapping_stats *) a)->id, y = ((const mc_mapping_stats *) b)->id;
        return x < y ? -1 : x > y;
}

int mc_manager_list(mc_manager *mgr, const mc_client *client, uint64_t owner_key,
                    mc_mapping_stats **ret, size_t *ret_n, mc_error *err) {
        mc_mapping_stats *v = NULL;
        size_t n = 0;

        if (!mgr || check_client(client, err) < 0 || !ret || !ret_n)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "MmapList: bad arguments");
        if (owner_key == 0)
                owner_key = client->key;
        if (owner_key != client->key && !(client->caps & MC_CAP_SYSTEM_INFO))
                return deny(err, "MmapList of other clients needs the SystemInfo capability");
        pthread_rwlock_rdlock(&mgr->lock);
        /* Count first: an entry is 4 KiB, and one client's few must not cost an array as
         * large as every client's together. */
        for (size_t i = 0; i < mgr->n_slots; i++) {
                entry *e = mgr->entries[i];
                if (e && (owner_key == UINT64_MAX || e->owner_key == owner_key))
                        n++;
        }
        if (n > 0) {
                v = malloc(n * sizeof(*v));
                if (!v) {
                        pthread_rwlock_unlock(&mgr->lock);
                        return mc__error_errno(err, ENOMEM, "allocating the list");
                }
        }
        n = 0;
        for (size_t i = 0; i < mgr->n_slots; i++) {
                entry *e = mgr->entries[i];
                if (e && (owner_key == UINT64_MAX || e->owner_key == owner_key))
                        fill_stats(e, &v[n++]);
        }
        pthread_rwlock_unlock(&mgr->lock);
        if (n == 0) {
                free(v);
                v = NULL;
        } else {
                qsort(v, n, sizeof(*v), by_id);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- descriptors ----------------------------------------------------------------------------- */

int mc_manager_fd(mc_manager *mgr, const mc_client *client, uint64_t id, int *ret_fd,
                  uint64_t *ret_offset, mc_error *err) {
        char proc[64];
        entry *e;
        int r = 0, fd;

        if (!mgr || check_client(client, err) < 0 || !ret_fd)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "MmapFd: bad arguments");
        if (!(client->caps & MC_CAP_FD_PASS))
                return deny(err, "MmapFd needs the FdPass capability");
        pthread_rwlock_rdlock(&mgr->lock);
        e = lookup(mgr, client, "MmapFd", id, false, err);
        if (!e) {
                r = -ENOENT;
        } else if (e->fd < 0) {
                r = mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "Mmap %" PRIu64 " is private anonymous memory, "
                                  "which has no descriptor (map it shared to pass it)",
                                  id);
        } else {
                /* A fresh open of the same file: read-only unless the mapping is shared and
                 * writable, whatever the manager's own descriptor allows. */
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", e->fd);
                fd = open(proc, (e->shared && (e->prot & MC_PROT_WRITE) ? O_RDWR : O_RDONLY) |
                                        O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        r = mc__error_errno(err, errno, "reopening Mmap %" PRIu64, id);
                else {
                        *ret_fd = fd;
                        if (ret_offset)
                                *ret_offset = e->offset;
                }
        }
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

int mc_manager_new(mc_ctx *ctx, const mc_manager_options *opts, mc_manager **ret, mc_error *err) {
        mc_manager *mgr;
        struct stat st;
        int fd;

        if (!ctx || !opts || !opts->root || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "manager: context, options, root and ret must be given");
        fd = open(opts->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return mc__error_errno(err, errno, "manager root '%.200s'", opts->root);
        if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
                safe_close(fd);
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, ENOTDIR,
                                     "manager root '%.200s' is not a directory", opts->root);
        }
        mgr = calloc(1, sizeof(*mgr));
        if (!mgr) {
                safe_close(fd);
                return mc__error_errno(err, ENOMEM, "manager: allocating");
        }
        pthread_rwlock_init(&mgr->lock, NULL);
        mgr->ctx = ctx;
        mgr->root_fd = fd;
        mgr->allow_symlinks = opts->allow_symlinks;
        mgr->max_mappings = opts->max_mappings ? opts->max_mappings : 1024;
        mgr->max_bytes = opts->max_bytes ? opts->max_bytes : UINT64_C(1) << 30;
        *ret = mgr;
        return 0;
}

mc_manager *mc_manager_free(mc_manager *mgr) {
        if (!mgr)
                return NULL;
        pthread_rwlock_wrlock(&mgr->lock);
        for (size_t i = 0; i < mgr->n_slots;) {
                entry *e = mgr->entries[i];
                if (e) {
                        (void) sync_entry(mgr, e, NULL);
                        if (drop(mgr, e, NULL) >= 0)
                                continue;
                        /* The kernel refused the unmap: forget it anyway, nothing else can. */
                        remove_entry(mgr, e);
                        entry_free(e);
                        continue;
                }
                i++;
        }
        pthread_rwlock_unlock(&mgr->lock);
        pthread_rwlock_destroy(&mgr->lock);
        safe_close(mgr->root_fd);
        free(mgr->entries);
        free(mgr->owners);
        free(mgr);
        return NULL;
}

/* ---- capability names
 * ---------------------------------------------------------------------------- */

static const char *const cap_names[] = {"FileRead", "FileWrite", "SystemInfo", "FdPass"};

const char *mc_capability_name(unsigned cap) {
        for (unsigned i = 0; i < ELEMENTSOF(cap_names); i++)
                if (cap == 1u << i)
                        return cap_names[i];
        return NULL;
}

int mc_capability_from_name(const char *name, unsigned *ret_cap) {
        if (!name || !ret_cap)
                return -EINVAL;
        for (unsigned i = 0; i < ELEMENTSOF(cap_names); i++)
                if (streq(name, cap_names[i])) {
                        *ret_cap = 1u << i;
                        return 0;
                }
        return -EINVAL;
}
