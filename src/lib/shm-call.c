/* SPDX-License-Identifier: MIT */
/*
 * Shared memory calls, the part every platform shares (shm-int.h): what a request may ask,
 * how it is described to the policy and the audit log, finding an open object, and the close
 * and unlink calls. The OS layer (shm.c, win/shm-win.c) makes the system calls.
 */

#include "shm-int.h"

/* ---- open ----------------------------------------------------------------------------------- */

/* The request's own rules; @name is the normalised name, @why why req->name is not valid (NULL:
 * it is, or there is none). */
static int open_check(const mc_shared_request *req, const mc_shared *ret, bool or_create,
                      const char *name, const char *why, mc_error *err) {
        int r;

        if (!req || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: request and ret must not be NULL");
        if (req->name && (why || (why = mc__shm_os_name_invalid(name))))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open '%.64s': invalid name: %s", req->name, why);
        if (req->prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: unknown protection bits 0x%x", req->prot);
        if (req->flags & ~(unsigned) MC_MAP_HUGEPAGE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: only MC_MAP_HUGEPAGE may be given as a flag (the "
                                     "region is always a shared mapping of the whole object)");
        r = mc__shm_os_check(req, name, err);
        if (r < 0)
                return r;
        if (req->mode & ~0777u)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: mode 0%o has bits beyond 0777", req->mode);
        if ((req->create || !req->name || or_create) && req->size == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: creating needs a size > 0");
        if (req->size > (size_t) PTRDIFF_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "shm_open: size %zu is too large", req->size);
        return 0;
}

/* The request's fields of the audit record, and the decision inputs. */
static void open_describe(mc__call *c, const mc_shared_request *req, const char *name) {
        c->fields = MC__F_LENGTH | MC__F_PROT;
        c->req.length = req->size;
        c->req.prot = req->prot;
        if (req->seals) {
                c->fields |= MC__F_SEALS;
                c->req.seals = req->seals;
        }
        if (req->flags) {
                c->fields |= MC__F_FLAGS;
                c->req.flags = req->flags;
        }
        if (req->name) {
                c->fields |= MC__F_NAME;
                /* The normalised name once it is valid; as given otherwise. */
                c->req.name = name[0] ? name : req->name;
        }
        c->huge = req->flags & MC_MAP_HUGEPAGE;
        c->write_exec = (req->prot & MC_PROT_WRITE) && (req->prot & MC_PROT_EXEC);
}

int mc__shm_open_begin(mc__call *c, const mc_shared_request *req, const mc_shared *ret,
                       bool or_create, char name[MC_SHARED_NAME_MAX + 2], mc_error *err) {
        const char *why = NULL;

        name[0] = 0;
        if (req && ret) {
                if (req->name && mc_shared_name_valid(req->name, &why))
                        mc__shm_name_normalize(req->name, name);
                open_describe(c, req, name);
        }
        return open_check(req, ret, or_create, name, why, err);
}

void mc__shm_charge_open(mc__call *c, size_t len, size_t page) {
        size_t bytes;

        /* tmpfs, hugetlbfs and paging-file pages are memory: the region counts whole. */
        if (!align_up(len, page, &bytes))
                bytes = SIZE_MAX;
        c->add_bytes = bytes;
        c->add_charged = bytes;
        c->add_mappings = 1;
        c->add_shared = 1;
}

void mc__shm_record(mc_ctx *ctx, mc__call *c, mc__entry *entry, mc_mapping *region) {
        mc__entry *e;

        entry->flags = MC_MAP_SHARED;
        entry->kind = MC__KIND_SHARED;
        entry->memory_backed = true;
        entry->was_writable = entry->prot & MC_PROT_WRITE;
        entry->has_object = true;
        e = mc__registry_add(ctx, entry);
        mc__entry_to_mapping(e, region);
        c->add_charged = mc__entry_charge(e);
        c->has_result = true;
        c->res_addr = region->ptr;
        c->res_length = region->len;
        c->res_id = region->id;
}

int mc_shared_open(mc_ctx *ctx, const mc_shared_request *req, mc_shared *ret, mc_error *err) {
        return mc__shm_os_open(ctx, req, /* or_create= */ false, ret, err);
}

int mc_map_shared_buffer(mc_ctx *ctx, const char *name, size_t size, mc_shared *ret,
                         mc_error *err) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;

        req.name = name;
        req.size = size;
        req.create = false;
        req.prot = MC_PROT_READ_WRITE;
        return mc__shm_os_open(ctx, &req, /* or_create= */ name != NULL, ret, err);
}

/* ---- calls on an open object ---------------------------------------------------------------- */

int mc__shm_lookup(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        mc__shm_args *a = data;

        a->e = mc__registry_lookup(ctx, &a->shm->region);
        if (!a->e || a->e->kind != MC__KIND_SHARED || a->e->fd != a->shm->fd)
                return mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT,
                                     "%s '%s': not a shared memory object open in this context",
                                     mc_op_name(c->op),
                                     a->shm->name[0] ? a->shm->name : "(anonymous)");
        /* From the registry, not from the caller's value: the audit trail must be true. */
        c->has_owner = true;
        c->owner_local = a->e->owner_local;
        c->owner_pid = a->e->owner_pid;
        return 0;
}

static void call_set_shared(mc__call *c, const mc_shared *shm) {
        c->fields |= MC__F_ADDR | MC__F_LENGTH | MC__F_ID | MC__F_FD;
        c->req.addr = shm->region.ptr;
        c->req.length = shm->region.len;
        c->req.id = shm->region.id;
        c->req.fd = shm->fd;
        if (shm->name[0] && memchr(shm->name, 0, sizeof(shm->name))) {
                c->fields |= MC__F_NAME;
                c->req.name = shm->name;
        }
}

static int shared_op_check(mc_op op, const mc_shared *shm, const mc__shm_args *a, mc_error *err) {
        if (!shm)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: the shared memory object must not be NULL",
                                     mc_op_name(op));
        /* memcap always leaves a terminated name: a value without one is forged, and must not
         * be read past its end by the messages below. */
        if (!memchr(shm->name, 0, sizeof(shm->name)))
                return mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT,
                                     "%s: not a shared memory object open in this context (its "
                                     "name is not terminated)",
                                     mc_op_name(op));
        if (op == MC_OP_SHM_RESIZE && a->new_len == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_resize: the new size is 0");
        if (op == MC_OP_SHM_SEAL &&
            (a->seals == 0 ||
             (a->seals & ~(unsigned) (MC_SEAL_SHRINK | MC_SEAL_GROW | MC_SEAL_WRITE |
                                      MC_SEAL_FUTURE_WRITE | MC_SEAL_SEAL))))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_seal: seal bits 0x%x are empty or unknown", a->seals);
        return 0;
}

int mc__shm_op(mc_op op, mc_ctx *ctx, mc_shared *shm, mc__shm_args *a, const mc__steps *steps,
               mc_error *err) {
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r;

        mc__call_init(&c, op, MC__CAP_MEMORY);
        if (shm)
                call_set_shared(&c, shm);
        if (op == MC_OP_SHM_RESIZE) {
                c.fields |= MC__F_NEW_LENGTH;
                c.req.new_length = a->new_len;
        }
        if (op == MC_OP_SHM_SEAL) {
                c.fields |= MC__F_SEALS;
                c.req.seals = a->seals;
        }
        r = shared_op_check(op, shm, a, &e);
        return mc__ctx_run(ctx, &c, r, &e, steps, a, err);
}

/* ---- close ---------------------------------------------------------------------------------- */

static int close_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        mc__shm_args *a = data;
        int fd = a->e->fd;
        int r;

        r = mc__unmap_entry(ctx, c, a->e, err);
        if (r < 0)
                return r;
        c->sub_shared = 1;
        mc__shm_os_release(fd);
        return 0;
}

static const mc__steps close_steps = {.prepare = mc__shm_lookup, .syscall = close_syscall};

int mc_shared_close(mc_ctx *ctx, mc_shared *shm, mc_error *err) {
        mc__shm_args a = {.shm = shm};
        int r = mc__shm_op(MC_OP_SHM_CLOSE, ctx, shm, &a, &close_steps, err);

        if (r >= 0) {
                memset(shm, 0, sizeof(*shm));
                shm->fd = -1;
        }
        return r;
}

/* ---- unlink --------------------------------------------------------------------------------- */

static const mc__steps unlink_steps = {.syscall = mc__shm_os_unlink};

int mc_shared_unlink(mc_ctx *ctx, const char *name, mc_error *err) {
        char norm[MC_SHARED_NAME_MAX + 2];
        mc_error e = MC_ERROR_INIT;
        const char *why = NULL;
        mc__call c;
        int r = 0;

        mc__call_init(&c, MC_OP_SHM_UNLINK, MC__CAP_MEMORY);
        c.fields = MC__F_NAME;
        c.req.name = name ? name : "";
        if (mc_shared_name_valid(name, &why)) {
                mc__shm_name_normalize(name, norm);
                c.req.name = norm;
                why = mc__shm_os_name_invalid(norm);
        }
        if (why)
                r = mc__error_set(&e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "shm_unlink '%.64s': invalid name: %s", c.req.name, why);
        return mc__ctx_run(ctx, &c, r, &e, &unlink_steps, NULL, err);
}
