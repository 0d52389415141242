/* SPDX-License-Identifier: MIT */
/*
 * The mapping manager (the seed's MmapManager): ids for real mappings, owned by client
 * processes, confined to a root directory. Every mapping is made through the manager's context
 * (policy, quotas, audit) and read or written through the guarded copies, so a client that
 * truncates a file under someone else's mapping costs that mapping an Io error, never the
 * process.
 *
 * Locking: a read-write lock. Reads, writes, syncs and stats take it shared (many at once);
 * anything that adds or removes an entry, or changes its page state, takes it exclusively. The
 * fault state of an entry is atomic, since calls under the shared lock set it.
 *
 * The manager's rules are the context's: each call it makes for a client carries the client
 * (mc__client_call), so mc__policy_decide() decides its capabilities and its limits with the
 * others and the choke point audits a refusal like any other; the manager keeps the client's
 * usage from what the choke point reports back. Files are opened beneath the root by
 * file-open.c. The calls on page ranges live in manager-range.c; the layout both share in
 * manager-def.h.
 *
 * Sections: tables, clients, paths, mmap, lookup helpers, faults, read/write/sync,
 * unmap/cleanup, life cycle, capability names. What a client learns about its mappings and
 * gets of them (MmapStats, MmapList, MmapFd) is in manager-info.c.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "file-open.h"
#include "manager-def.h"
#include "strv.h"

/* ---- tables --------------------------------------------------------------------------------- */

static entry *find(const mc_manager *mgr, uint64_t id) {
        id_slot *s = mc__idtable_find(&mgr->ids, id);

        return s ? s->e : NULL;
}

/* Forget @e's id (exclusive lock held). */
static void remove_entry(mc_manager *mgr, entry *e) {
        id_slot *s = mc__idtable_find(&mgr->ids, e->id);

        if (s)
                mc__idtable_remove(&mgr->ids, s);
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

owner *mc__mgr_owner(mc_manager *mgr, uint64_t key) {
        return owner_find(mgr, key, false);
}

/* What @e counted against its owner goes back. */
static void owner_release(mc_manager *mgr, const entry *e) {
        owner *o = owner_find(mgr, e->owner_key, false);

        if (!o)
                return;
        o->mappings--;
        o->pieces -= e->pieces - 1;
        o->charged -= e->charged;
        o->locked -= e->locked;
        if (o->mappings == 0)
                *o = mgr->owners[--mgr->n_owners];
}

static void entry_free(entry *e) {
        if (!e)
                return;
        if (!e->is_shm)
                safe_close(e->fd);
        free(e->pages);
        free(e->path);
        free(e);
}

/* ---- clients -------------------------------------------------------------------------------- */

int mc__mgr_check(const mc_manager *mgr, const mc_client *client, const char *call, bool given,
                  const char *what, mc_error *err) {
        if (!mgr || !client)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: the manager and the client must not be NULL", call);
        if (!given)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: %s must not be NULL", call, what);
        return 0;
}

void mc__mgr_client_call(mc_manager *mgr, const mc_client *client, const char *call, const entry *e,
                         mc__client_call *ret) {
        const owner *o = owner_find(mgr, client->key, false);

        *ret = (mc__client_call) MC__CLIENT_CALL_INIT;
        ret->call = call;
        ret->id = e ? e->id : 0;
        ret->caps = client->caps;
        ret->mappings = o ? o->mappings + o->pieces : 0;
        ret->max_mappings = mgr->max_mappings;
        ret->charged = o ? o->charged : 0;
        ret->max_charged = mgr->max_bytes;
        ret->locked = o ? o->locked : 0;
        ret->max_locked = mgr->max_locked;
}

void mc__mgr_account(mc_manager *mgr, entry *e, const mc__client_call *cl) {
        owner *o = owner_find(mgr, e->owner_key, false);

        e->charged += (uint64_t) cl->d_charged;
        e->locked += (uint64_t) cl->d_locked;
        if (o) {
                o->charged += (uint64_t) cl->d_charged;
                o->locked += (uint64_t) cl->d_locked;
        }
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

/* ---- mmap ------------------------------------------------------------------------------------ */

/* A refusal decided before anything ran is audited like any other, through the choke point. */
static const mc__steps no_steps = {0};

static int mmap_check(const mc_manager *mgr, const mc_client *client,
                      const mc_manager_map_request *req, const uint64_t *ret_id, mc_error *err) {
        int r = mc__mgr_check(mgr, client, "Mmap", req && ret_id, "the request and ret_id", err);

        if (r < 0)
                return r;
        if (req->prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "prot %u has bits beyond 7 (1 read, 2 write, 4 exec)",
                                     req->prot);
        return 0;
}

/* The capabilities Mmap needs: FileRead, and FileWrite for the write bit. */
static void mmap_needs(const mc_manager_map_request *req, mc__client_call *cl) {
        cl->need[0] = (mc__need){MC_CAP_FILE_READ, "Mmap needs the FileRead capability"};
        if (req->prot & MC_PROT_WRITE)
                cl->need[1] = (mc__need){MC_CAP_FILE_WRITE,
                                         "Mmap with the write bit needs the FileWrite capability"};
}

/*
 * Decide the client's capabilities before the path is looked up (mc__ctx_admit()), so that a
 * client without FileRead learns nothing about the files in the root; a refusal is audited as
 * the call the manager would have made.
 */
static int mmap_admit(mc_manager *mgr, const mc_manager_map_request *req, mc__client_call *cl,
                      mc_error *err) {
        MC__ERROR_LOCAL(e);
        mc__call c;
        int r;

        mc__call_init(&c, !req->path && req->shared ? MC_OP_SHM_OPEN : MC_OP_MMAP, MC__CAP_MEMORY);
        c.client = cl;
        c.fields = MC__F_LENGTH | MC__F_PROT | MC__F_FLAGS;
        c.req.length = (size_t) req->length;
        c.req.prot = req->prot;
        c.req.flags = req->shared ? MC_MAP_SHARED : req->path ? MC_MAP_PRIVATE : MC_MAP_ANONYMOUS;
        if (req->path) {
                c.fields |= MC__F_FILE | MC__F_OFFSET;
                c.req.file = req->path;
                c.req.offset = req->offset;
        }
        r = mc__ctx_admit(mgr->ctx, &c, &e);
        if (r >= 0)
                return 0;
        return mc__ctx_run(mgr->ctx, &c, r, &e, &no_steps, NULL, err);
}

/* Open @path beneath the root for the mapping; its length cut at the end of the file. */
static int mmap_open(mc_manager *mgr, const mc_manager_map_request *req, uint64_t *length,
                     mc_error *err) {
        _cleanup_(mc__file_done) mc__file file;
        uint64_t size;
        int r;

        mc__file_init(&file);
        r = path_check(req->path, err);
        if (r < 0)
                return r;
        r = mc__file_open_beneath(&file, mgr->root_fd, req->path, mgr->allow_symlinks, err);
        if (r < 0)
                return r;
        size = (uint64_t) file.st.st_size;
        if (req->offset >= size)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "'%.200s': offset %" PRIu64 " is at or past the end of the "
                                     "file (%" PRIu64 " bytes)",
                                     req->path, req->offset, size);
        if (*length == 0 || *length > size - req->offset)
                *length = size - req->offset; /* cut at the end */
        return mc__file_reopen(&file,
                               (req->prot & MC_PROT_WRITE) && req->shared ? O_RDWR : O_RDONLY, err);
}

static int anonymous_check(const mc_manager_map_request *req, mc_error *err) {
        if (req->offset != 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "anonymous memory has no offset");
        if (req->length == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "anonymous memory needs a length");
        return 0;
}

/* A new entry for the client's mapping of @length bytes, before it is mapped. */
static entry *entry_new(const mc_client *client, const mc_manager_map_request *req,
                        uint64_t length) {
        entry *e = calloc(1, sizeof(*e));

        if (!e)
                return NULL;
        e->fd = -1;
        if (req->path && !(e->path = strdup(req->path))) {
                free(e);
                return NULL;
        }
        e->owner_key = client->key;
        e->owner_pid = client->pid;
        e->offset = req->offset;
        e->length = length;
        e->prot = req->prot;
        e->shared = req->shared;
        e->file_writable = req->path && req->shared && (req->prot & MC_PROT_WRITE);
        e->pieces = 1;
        return e;
}

/* Map @e's file region (or anonymous memory) through the context, for the client @cl. */
static int map_entry(mc_manager *mgr, entry *e, int file_fd, mc__client_call *cl, mc_error *err) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        size_t page = mc_page_size();
        uint64_t aligned = e->offset - e->offset % page;

        e->delta = (size_t) (e->offset - aligned);
        req.length = e->delta + (size_t) e->length;
        req.prot = e->prot;
        if (file_fd < 0 && !e->shared) {
                req.flags = MC_MAP_ANONYMOUS;
                return mc__mmap_client(mgr->ctx, &req, cl, &e->m, err);
        }
        if (file_fd < 0) {
                mc_shared_request sreq = MC_SHARED_REQUEST_INIT;
                sreq.size = (size_t) e->length;
                sreq.prot = e->prot;
                e->is_shm = true;
                return mc__shared_open_client(mgr->ctx, &sreq, cl, &e->shm, err);
        }
        req.fd = file_fd;
        req.offset = aligned;
        req.flags = e->shared ? MC_MAP_SHARED : MC_MAP_PRIVATE;
        return mc__mmap_client(mgr->ctx, &req, cl, &e->m, err);
}

/* Map @e for @client, taking over @fd, and give it its id (exclusive lock held). */
static int mmap_locked(mc_manager *mgr, const mc_client *client, const mc_manager_map_request *req,
                       entry *e, int *fd, uint64_t *ret_id, mc_error *err) {
        mc__client_call cl;
        id_slot *slot;
        owner *o;
        int r;

        o = owner_find(mgr, client->key, true);
        if (!o || mc__idtable_reserve(&mgr->ids) < 0) {
                r = mc__error_errno(err, ENOMEM, "allocating a mapping");
                goto fail;
        }
        mc__mgr_client_call(mgr, client, "Mmap", NULL, &cl);
        mmap_needs(req, &cl);
        r = map_entry(mgr, e, *fd, &cl, err);
        if (r < 0)
                goto fail;
        e->fd = e->is_shm ? e->shm.fd : TAKE_FD(*fd);
        e->n_pages = (e->delta + (size_t) e->length + mc_page_size() - 1) / mc_page_size();
        slot = mc__idtable_claim(&mgr->ids);
        slot->e = e;
        e->id = slot->id;
        o->mappings++;
        mc__mgr_account(mgr, e, &cl);
        *ret_id = e->id;
        return 0;

fail:
        if (o && o->mappings == 0)
                *o = mgr->owners[--mgr->n_owners];
        return r;
}

int mc_manager_mmap(mc_manager *mgr, const mc_client *client, const mc_manager_map_request *req,
                    uint64_t *ret_id, uint64_t *ret_length, mc_error *err) {
        _cleanup_close_ int fd = -EBADF;
        mc__client_call cl;
        uint64_t length;
        entry *e;
        int r;

        r = mmap_check(mgr, client, req, ret_id, err);
        if (r < 0)
                return r;
        /* Capabilities only: the usage is read under the lock, later. */
        cl = (mc__client_call) MC__CLIENT_CALL_INIT;
        cl.call = "Mmap";
        cl.caps = client->caps;
        mmap_needs(req, &cl);
        r = mmap_admit(mgr, req, &cl, err);
        if (r < 0)
                return r;
        length = req->length;
        r = req->path ? (fd = mmap_open(mgr, req, &length, err)) : anonymous_check(req, err);
        if (r < 0)
                return r;
        if (length > (uint64_t) PTRDIFF_MAX / 2)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "length %" PRIu64 " is too large", length);
        e = entry_new(client, req, length);
        if (!e)
                return mc__error_errno(err, ENOMEM, "allocating a mapping");
        pthread_rwlock_wrlock(&mgr->lock);
        r = mmap_locked(mgr, client, req, e, &fd, ret_id, err);
        pthread_rwlock_unlock(&mgr->lock);
        if (r < 0) {
                entry_free(e);
                return r;
        }
        if (ret_length)
                *ret_length = length;
        return 0;
}

/* ---- lookup helpers -------------------------------------------------------------------------- */

entry *mc__mgr_lookup(mc_manager *mgr, const mc_client *client, uint64_t id, bool any_owner,
                      mc_error *err) {
        entry *e = find(mgr, id);

        if (e &&
            (e->owner_key == client->key || (any_owner && (client->caps & MC_CAP_SYSTEM_INFO))))
                return e;
        mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT, "Mmap %" PRIu64 " not found", id);
        return NULL;
}

/* ---- faults ---------------------------------------------------------------------------------- */

bool mc__mgr_shrunk(entry *e, uint64_t *ret_size) {
        struct stat st;
        uint64_t end;

        if (e->fd < 0 || mc_sys.fstat(e->fd, &st) < 0)
                return false;
        if (ret_size)
                *ret_size = (uint64_t) st.st_size;
        end = e->offset + e->length;
        if ((uint64_t) st.st_size >= end)
                return false;
        /* The first sighting wins: its size is the one the message reports. */
        if (atomic_load(&e->fault) == FAULT_NONE) {
                atomic_store(&e->fault_size, (uint64_t) st.st_size);
                atomic_store(&e->fault, FAULT_SHRANK);
        }
        return true;
}

int mc__mgr_fault_error(const entry *e, mc_error *err) {
        if (atomic_load(&e->fault) == FAULT_EIO)
                return mc__error_set(err, MC_ERR_IO, EIO,
                                     "Mmap %" PRIu64 " is faulted: writing it back to its file "
                                     "failed with an I/O error, so data written to it may be "
                                     "lost; Munmap it and Mmap it again",
                                     e->id);
        return mc__error_set(err, MC_ERR_IO, EIO,
                             "Mmap %" PRIu64 " is faulted: its file shrank under it to %" PRIu64
                             " bytes (the mapping ends at byte %" PRIu64 " of the file), so "
                             "data written past the end is lost; Munmap it and Mmap it again",
                             e->id, (uint64_t) atomic_load(&e->fault_size), e->offset + e->length);
}

bool mc__mgr_faulted(entry *e) {
        return mc__mgr_shrunk(e, NULL) || atomic_load(&e->fault) != FAULT_NONE;
}

/*
 * Whether every page under [@offset, @offset + @len) of @e allows @need; otherwise
 * PermissionDenied naming the mapping, or the first page that refuses when parts differ.
 */
static int access_check(const entry *e, uint64_t offset, size_t len, unsigned need,
                        const char *what, mc_error *err) {
        size_t page = mc_page_size(), p0, p1;

        if ((e->prot & need) != need)
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EACCES,
                                     "Mmap %" PRIu64 " is not %s", e->id,
                                     need == MC_PROT_READ ? "readable" : "writable");
        if (!e->pages || len == 0)
                return 0;
        p0 = (e->delta + (size_t) offset) / page;
        p1 = (e->delta + (size_t) offset + len - 1) / page;
        for (size_t p = p0; p <= p1; p++)
                if ((e->pages[p] & need) != need)
                        return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EACCES,
                                             "Mmap %" PRIu64 ": the page at offset %" PRIu64
                                             " is not %s (Mprotect); nothing was %s",
                                             e->id,
                                             p == p0 ? offset : (uint64_t) (p * page - e->delta),
                                             need == MC_PROT_READ ? "readable" : "writable", what);
        return 0;
}

/* ---- read / write / sync --------------------------------------------------------------------- */

/* [@offset, @offset + @length) inside the mapping, or InvalidArgument. */
static int range_inside(const entry *e, uint64_t offset, size_t length, const char *what,
                        mc_error *err) {
        uint64_t end;

        if (MC_ADD_OVERFLOW(offset, (uint64_t) length, &end) || end > e->length)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%zu byte%s at offset %" PRIu64 " end%s past Mmap "
                                     "%" PRIu64 " (%" PRIu64 " bytes); nothing was %s",
                                     length, length == 1 ? "" : "s", offset, length == 1 ? "s" : "",
                                     e->id, e->length, what);
        return 0;
}

/* The read itself (shared lock held). */
static int read_locked(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                       void *buf, size_t length, size_t *ret_n, mc_error *err) {
        uint64_t size;
        entry *e;
        int r;

        e = mc__mgr_lookup(mgr, client, id, false, err);
        if (!e)
                return -ENOENT;
        r = range_inside(e, offset, length, "read", err);
        if (r < 0)
                return r;
        if (length > 0 && mc__mgr_shrunk(e, &size) && e->offset + offset + length > size)
                return mc__error_set(err, MC_ERR_IO, EIO,
                                     "%zu bytes at offset %" PRIu64 " of Mmap %" PRIu64
                                     " lie past the end of its file, which shrank under it to "
                                     "%" PRIu64 " bytes",
                                     length, offset, id, size);
        r = access_check(e, offset, length, MC_PROT_READ, "read", err);
        if (r < 0)
                return r;
        r = mc_map_read(mgr->ctx, mc__mgr_region(e), e->delta + (size_t) offset, buf, length, err);
        if (r < 0)
                return r;
        *ret_n = length;
        return 0;
}

int mc_manager_read(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                    void *buf, size_t length, size_t *ret_n, mc_error *err) {
        int r;

        r = mc__mgr_check(mgr, client, "MmapRead", (buf || length == 0) && ret_n,
                          "the buffer and ret_n", err);
        if (r < 0)
                return r;
        pthread_rwlock_rdlock(&mgr->lock);
        r = read_locked(mgr, client, id, offset, buf, length, ret_n, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* The write itself (shared lock held). */
static int write_locked(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                        const void *buf, size_t length, mc_error *err) {
        entry *e;
        int r;

        e = mc__mgr_lookup(mgr, client, id, false, err);
        if (!e)
                return -ENOENT;
        r = range_inside(e, offset, length, "written", err);
        if (r < 0)
                return r;
        if (mc__mgr_faulted(e))
                return mc__mgr_fault_error(e, err);
        r = access_check(e, offset, length, MC_PROT_WRITE, "written", err);
        if (r < 0)
                return r;
        r = mc_map_write(mgr->ctx, mc__mgr_region(e), e->delta + (size_t) offset, buf, length, err);
        /* The file was cut between the check and the copy. */
        if (r == -EIO)
                (void) mc__mgr_shrunk(e, NULL);
        return r;
}

int mc_manager_write(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                     const void *buf, size_t length, mc_error *err) {
        int r;

        r = mc__mgr_check(mgr, client, "MmapWrite", buf || length == 0, "the buffer", err);
        if (r < 0)
                return r;
        pthread_rwlock_rdlock(&mgr->lock);
        r = write_locked(mgr, client, id, offset, buf, length, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

/* Only a shared mapping of a file opened for writing has anything to write back, also after
 * an Mprotect made it read-only: what was written before is still to be synced. */
static bool needs_sync(const entry *e) {
        return e->shared && !e->is_shm && e->path && e->file_writable;
}

static int sync_range(mc_manager *mgr, entry *e, size_t offset, size_t length, mc_error *err) {
        int r;

        if (!needs_sync(e))
                return 0;
        r = mc_msync(mgr->ctx, mc__mgr_region(e), offset, length, MC_SYNC_SYNC, err);
        if (r == -EIO) {
                int none = FAULT_NONE;
                (void) atomic_compare_exchange_strong(&e->fault, &none, FAULT_EIO);
        }
        return r;
}

int mc_manager_msync(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err) {
        return mc_manager_msync_range(mgr, client, id, 0, MC_MANAGER_LENGTH_ALL, NULL, err);
}

/* The sync itself (shared lock held). */
static int msync_locked(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                        uint64_t length, bool *ret_written, mc_error *err) {
        mc__mgr_range rg;
        entry *e;
        int r;

        e = mc__mgr_lookup(mgr, client, id, false, err);
        if (!e)
                return -ENOENT;
        r = mc__mgr_range_resolve(e, offset, length, &rg, err);
        if (r < 0)
                return r;
        if (mc__mgr_faulted(e))
                return mc__mgr_fault_error(e, err);
        r = sync_range(mgr, e, rg.lib_off, rg.lib_len, err);
        if (r < 0)
                return r;
        if (ret_written)
                *ret_written = needs_sync(e);
        return 0;
}

int mc_manager_msync_range(mc_manager *mgr, const mc_client *client, uint64_t id, uint64_t offset,
                           uint64_t length, bool *ret_written, mc_error *err) {
        int r;

        r = mc__mgr_check(mgr, client, "Msync", true, NULL, err);
        if (r < 0)
                return r;
        pthread_rwlock_rdlock(&mgr->lock);
        r = msync_locked(mgr, client, id, offset, length, ret_written, err);
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
        owner_release(mgr, e);
        entry_free(e);
        return 0;
}

/* Sync @e unless it is faulted: nothing safe can be written back then. */
static int sync_before_drop(mc_manager *mgr, entry *e, mc_error *err) {
        if (mc__mgr_faulted(e))
                return 0;
        return sync_range(mgr, e, 0, MC_LENGTH_ALL, err);
}

/* Sync and unmap the client's @id (exclusive lock held). */
static int munmap_locked(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err) {
        entry *e = mc__mgr_lookup(mgr, client, id, false, err);
        int r;

        if (!e)
                return -ENOENT;
        r = sync_before_drop(mgr, e, err);
        if (r < 0)
                return r;
        return drop(mgr, e, err);
}

int mc_manager_munmap(mc_manager *mgr, const mc_client *client, uint64_t id, mc_error *err) {
        int r;

        r = mc__mgr_check(mgr, client, "Munmap", true, NULL, err);
        if (r < 0)
                return r;
        pthread_rwlock_wrlock(&mgr->lock);
        r = munmap_locked(mgr, client, id, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

size_t mc_manager_cleanup_process(mc_manager *mgr, uint64_t key) {
        size_t n = 0;

        if (!mgr)
                return 0;
        pthread_rwlock_wrlock(&mgr->lock);
        for (size_t i = 0; i < mgr->ids.n_slots;) {
                id_slot *s = mc__idtable_slot(&mgr->ids, i);
                if (s && s->e->owner_key == key) {
                        (void) sync_before_drop(mgr, s->e, NULL);
                        if (drop(mgr, s->e, NULL) >= 0) {
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
        n = mgr->ids.n_used;
        pthread_rwlock_unlock(&mgr->lock);
        return n;
}

/* ---- life cycle ------------------------------------------------------------------------------ */

static int new_check(const mc_ctx *ctx, const mc_manager_options *opts, mc_manager **ret,
                     mc_error *err) {
        if (!ctx || !opts || !opts->root || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "manager: context, options, root and ret must be given");
        return 0;
}

/* The root directory, opened with O_PATH: every path is resolved beneath it. */
static int root_open(const char *root, mc_error *err) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = mc_sys.open(root, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
                return mc__error_errno(err, errno, "manager root '%.200s'", root);
        if (mc_sys.fstat(fd, &st) < 0)
                return mc__error_errno(err, errno, "manager root '%.200s': fstat", root);
        if (!S_ISDIR(st.st_mode))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, ENOTDIR,
                                     "manager root '%.200s' is not a directory", root);
        return TAKE_FD(fd);
}

int mc_manager_new(mc_ctx *ctx, const mc_manager_options *opts, mc_manager **ret, mc_error *err) {
        _cleanup_close_ int fd = -EBADF;
        mc_manager *mgr;
        int r;

        r = new_check(ctx, opts, ret, err);
        if (r < 0)
                return r;
        fd = root_open(opts->root, err);
        if (fd < 0)
                return fd;
        mgr = calloc(1, sizeof(*mgr));
        if (!mgr)
                return mc__error_errno(err, ENOMEM, "manager: allocating");
        pthread_rwlock_init(&mgr->lock, NULL);
        mgr->ids = (mc__idtable) MC__IDTABLE_INIT(id_slot);
        mgr->ctx = ctx;
        mgr->root_fd = TAKE_FD(fd);
        mgr->allow_symlinks = opts->allow_symlinks;
        mgr->max_mappings = opts->max_mappings ? opts->max_mappings : 1024;
        mgr->max_bytes = opts->max_bytes ? opts->max_bytes : UINT64_C(1) << 30;
        mgr->max_locked = opts->max_locked ? opts->max_locked : UINT64_C(1) << 20;
        *ret = mgr;
        return 0;
}

mc_manager *mc_manager_free(mc_manager *mgr) {
        if (!mgr)
                return NULL;
        pthread_rwlock_wrlock(&mgr->lock);
        for (size_t i = 0; i < mgr->ids.n_slots;) {
                id_slot *s = mc__idtable_slot(&mgr->ids, i);
                if (s) {
                        entry *e = s->e;
                        (void) sync_before_drop(mgr, e, NULL);
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
        mc__idtable_done(&mgr->ids);
        free(mgr->owners);
        free(mgr);
        return NULL;
}

/* ---- capability names ------------------------------------------------------------------------ */

static const char *const cap_names[] = {"FileRead", "FileWrite", "SystemInfo",
                                        "FdPass",   "MemLock",   "Channel"};

const char *mc_capability_name(unsigned cap) {
        for (unsigned i = 0; i < ELEMENTSOF(cap_names); i++)
                if (cap == 1u << i)
                        return cap_names[i];
        return NULL;
}

int mc_capability_from_name(const char *name, unsigned *ret_cap) {
        ssize_t i = strv_index(cap_names, ELEMENTSOF(cap_names), name);

        if (i < 0 || !ret_cap)
                return -EINVAL;
        *ret_cap = 1u << i;
        return 0;
}
