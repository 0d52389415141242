/* SPDX-License-Identifier: MIT */
/*
 * What a client of the mapping manager learns about its mappings and gets of them: MmapStats,
 * MmapList and MmapFd. A list of other clients' mappings and a descriptor handed out are
 * operations of the context ("mmap_list", "mmap_fd"): their capabilities are decided and they
 * are audited at the choke point like the library's own (a list only when it was refused).
 *
 * Sections: stats and list, descriptors.
 */

#include <fcntl.h>
#include <inttypes.h>

#include "file-open.h"
#include "manager-def.h"

/* ---- stats and list -------------------------------------------------------------------------- */

/* Fill @s from @e; @ranges receives the protection runs when there are several. */
static void fill_stats(entry *e, mc_mapping_stats *s, mc_mapping_range *ranges) {
        size_t n = mc__mgr_prot_runs(e, NULL);

        s->id = e->id;
        strscpy(s->path, sizeof(s->path), e->path ? e->path : "");
        s->anonymous = !e->path;
        s->offset = e->offset;
        s->length = e->length;
        s->prot = e->prot;
        s->shared = e->shared;
        s->owner_pid = e->owner_pid;
        s->owner_key = e->owner_key;
        s->locked = e->locked;
        s->faulted = mc__mgr_faulted(e);
        s->ranges = NULL;
        s->n_ranges = 0;
        if (n > 1 && ranges) {
                s->n_ranges = mc__mgr_prot_runs(e, ranges);
                s->ranges = ranges;
        }
}

/* The stats themselves (shared lock held). */
static int stats_locked(mc_manager *mgr, const mc_client *client, uint64_t id,
                        mc_mapping_stats *ret, mc_error *err) {
        mc_mapping_range *ranges = NULL;
        entry *e;
        size_t n;

        e = mc__mgr_lookup(mgr, client, id, true, err);
        if (!e)
                return -ENOENT;
        n = mc__mgr_prot_runs(e, NULL);
        if (n > 1 && !(ranges = calloc(n, sizeof(*ranges))))
                return mc__error_errno(err, ENOMEM, "allocating the ranges");
        fill_stats(e, ret, ranges);
        return 0;
}

int mc_manager_stats(mc_manager *mgr, const mc_client *client, uint64_t id, mc_mapping_stats *ret,
                     mc_error *err) {
        int r;

        r = mc__mgr_check(mgr, client, "MmapStats", ret != NULL, "ret", err);
        if (r < 0)
                return r;
        pthread_rwlock_rdlock(&mgr->lock);
        r = stats_locked(mgr, client, id, ret, err);
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}

static int by_id(const void *a, const void *b) {
        uint64_t x = ((const mc_mapping_stats *) a)->id, y = ((const mc_mapping_stats *) b)->id;
        return x < y ? -1 : x > y;
}

static int nothing(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        (void) ctx, (void) c, (void) data, (void) err;
        return 0;
}

/*
 * Looking at other clients' mappings is "mmap_list" of the context, which needs SystemInfo. A
 * refusal is audited; a list that was allowed only looked, and writes no record.
 */
static int list_others(mc_manager *mgr, const mc_client *client, mc_error *err) {
        static const mc__steps steps = {.syscall = nothing,
                                        .flags = MC__RUN_UNLOCKED | MC__RUN_AUDIT_FAILURES};
        mc__client_call cl = MC__CLIENT_CALL_INIT;
        mc__call c;

        cl.call = "MmapList";
        cl.caps = client->caps;
        cl.need[0] = (mc__need){MC_CAP_SYSTEM_INFO,
                                "MmapList of other clients needs the SystemInfo capability"};
        mc__call_init(&c, MC__OP_MMAP_LIST, MC__CAP_MEMORY);
        c.client = &cl;
        return mc__ctx_run(mgr->ctx, &c, 0, NULL, &steps, NULL, err);
}

int mc_manager_list(mc_manager *mgr, const mc_client *client, uint64_t owner_key,
                    mc_mapping_stats **ret, size_t *ret_n, mc_error *err) {
        mc_mapping_stats *v = NULL;
        mc_mapping_range *ranges;
        size_t n = 0, n_ranges = 0, runs;
        int r;

        r = mc__mgr_check(mgr, client, "MmapList", ret && ret_n, "ret and ret_n", err);
        if (r < 0)
                return r;
        if (owner_key == 0)
                owner_key = client->key;
        if (owner_key != client->key) {
                r = list_others(mgr, client, err);
                if (r < 0)
                        return r;
        }
        pthread_rwlock_rdlock(&mgr->lock);
        /* Count first: an entry is 4 KiB, and one client's few must not cost an array as
         * large as every client's together. The ranges go in the same block, after it, so
         * one free() releases everything. */
        for (size_t i = 0; i < mgr->ids.n_slots; i++) {
                id_slot *s = mc__idtable_slot(&mgr->ids, i);
                if (s && (owner_key == UINT64_MAX || s->e->owner_key == owner_key)) {
                        entry *e = s->e;
                        n++;
                        runs = mc__mgr_prot_runs(e, NULL);
                        n_ranges += runs > 1 ? runs : 0;
                }
        }
        if (n > 0) {
                v = malloc(n * sizeof(*v) + n_ranges * sizeof(*ranges));
                if (!v) {
                        pthread_rwlock_unlock(&mgr->lock);
                        return mc__error_errno(err, ENOMEM, "allocating the list");
                }
        }
        ranges = (mc_mapping_range *) (v + n);
        n = 0;
        for (size_t i = 0; i < mgr->ids.n_slots; i++) {
                id_slot *s = mc__idtable_slot(&mgr->ids, i);
                if (s && (owner_key == UINT64_MAX || s->e->owner_key == owner_key)) {
                        fill_stats(s->e, &v[n], ranges);
                        ranges += v[n++].n_ranges;
                }
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

typedef struct fd_args {
        entry *e;
        int flags;
        int ret_fd;
} fd_args;

/* A fresh open of the same file, with the access the mapping has, not the manager's own. */
static int fd_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        fd_args *a = data;

        (void) ctx, (void) c;
        a->ret_fd = mc__fd_reopen(a->e->fd, a->flags);
        if (a->ret_fd < 0)
                return mc__error_errno(err, -a->ret_fd, "reopening Mmap %" PRIu64, a->e->id);
        return 0;
}

/* MmapFd of @e as "mmap_fd" of the context: FdPass first, then whether there is a file. */
static int fd_run(mc_manager *mgr, const mc_client *client, entry *e, int *ret_fd, mc_error *err) {
        static const mc__steps steps = {.syscall = fd_syscall, .flags = MC__RUN_UNLOCKED};
        fd_args a = {.e = e,
                     .flags = (e->shared && (e->prot & MC_PROT_WRITE) ? O_RDWR : O_RDONLY) |
                              O_NOCTTY,
                     .ret_fd = -EBADF};
        mc__client_call cl = MC__CLIENT_CALL_INIT;
        MC__ERROR_LOCAL(x);
        mc__call c;
        int r;

        cl.call = "MmapFd";
        cl.id = e->id;
        cl.caps = client->caps;
        cl.need[0] = (mc__need){MC_CAP_FD_PASS, "MmapFd needs the FdPass capability"};
        mc__call_init(&c, MC__OP_MMAP_FD, MC__CAP_MEMORY);
        c.client = &cl;
        mc__call_set_range(&c, mc__mgr_region(e), MC_LENGTH_ALL);
        r = mc__ctx_admit(mgr->ctx, &c, &x);
        if (r >= 0 && e->fd < 0)
                r = mc__error_set(&x, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "Mmap %" PRIu64 " is private anonymous memory, which has no "
                                  "descriptor (map it shared to pass it)",
                                  e->id);
        r = mc__ctx_run(mgr->ctx, &c, r, &x, &steps, &a, err);
        if (r >= 0)
                *ret_fd = a.ret_fd;
        return r;
}

int mc_manager_fd(mc_manager *mgr, const mc_client *client, uint64_t id, int *ret_fd,
                  uint64_t *ret_offset, mc_error *err) {
        entry *e;
        int r;

        r = mc__mgr_check(mgr, client, "MmapFd", ret_fd != NULL, "ret_fd", err);
        if (r < 0)
                return r;
        pthread_rwlock_rdlock(&mgr->lock);
        e = mc__mgr_lookup(mgr, client, id, false, err);
        r = e ? fd_run(mgr, client, e, ret_fd, err) : -ENOENT;
        if (r >= 0 && ret_offset)
                *ret_offset = e->offset;
        pthread_rwlock_unlock(&mgr->lock);
        return r;
}
