/* SPDX-License-Identifier: MIT */
/*
 * Shared memory on Windows: sections (file mappings backed by the paging file). A named
 * object is a section named "Local\memcap.<name>" in the session's namespace; an anonymous
 * region is an unnamed section. Each is mapped whole, shared, through the context, by the same
 * choke point and policy (shared memory name patterns, quotas, W^X) as on Linux.
 *
 * Where Windows differs, and what memcap does about it:
 * - A section lives while any handle or view of it is open, in any process, and has no name
 *   of its own to remove. mc_shared_unlink() therefore removes nothing: it checks that the
 *   object exists (NotFound otherwise) and is audited; the name disappears when the last
 *   handle closes. Creating a name that is still open somewhere is AlreadyExists.
 * - A section's size is fixed at its creation: mc_shared_resize() is Unsupported, and the size
 *   an opener sees is the creator's rounded up to whole pages.
 * - There are no seals (Unsupported) and no record of the creator: an opened object's owner
 *   is Remote with pid 0 (unknown), a created one Local.
 * - mc_shared.fd holds the section's HANDLE value (handles are 32-bit significant), not a C
 *   runtime descriptor; it is closed by mc_shared_close().
 */

#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <windows.h>

#include "shm-int.h"

/* "Local\memcap.<name>" in UTF-16 for the normalised "/name"; NULL with EINVAL if not UTF-8. */
static wchar_t *section_name(const char *norm, wchar_t *buf, size_t size) {
        static const wchar_t prefix[] = L"Local\\memcap.";
        size_t n = ARRAYSIZE(prefix) - 1;

        wcscpy(buf, prefix);
        if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, norm + 1, -1, buf + n,
                                (int) (size - n)) <= 0)
                return NULL;
        return buf;
}

/* The object id of a section for the per-object W^X rule: its name, or a fresh one. */
static mc__object_id section_object(const char *norm) {
        static uint64_t anon_counter;
        uint64_t h = UINT64_C(1469598103934665603);

        if (!norm[0])
                return (mc__object_id){
                        .dev = UINT64_MAX,
                        .ino = __atomic_add_fetch(&anon_counter, 1, __ATOMIC_RELAXED)};
        for (const char *p = norm; *p; p++)
                h = (h ^ (unsigned char) *p) * UINT64_C(1099511628211);
        return (mc__object_id){.dev = UINT64_MAX - 1, .ino = h};
}

/* ---- open ----------------------------------------------------------------------------------- */

typedef struct open_args {
        const mc_shared_request *req;
        char name[MC_SHARED_NAME_MAX + 2]; /* normalised; "" for anonymous */
        wchar_t wname[MC_SHARED_NAME_MAX + 32];
        bool or_create; /* map_shared_buffer: create, else open */
        int section;    /* -1 until opened or created */
        size_t map_len;
        mc_error open_err;
        bool open_failed;
        mc_shared *ret;
} open_args;

static int open_existing(open_args *a, mc_error *err) {
        uint64_t size;

        a->section = mc_sys.section_open(a->wname, a->req->prot & MC_PROT_WRITE);
        if (a->section < 0)
                return mc__error_errno(err, errno, "shm_open '%s'", a->name);
        if (mc_sys.section_size(a->section, &size) < 0)
                return mc__error_errno(err, errno, "shm_open '%s': its size", a->name);
        if (a->req->size > size)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open '%s': asked for %zu bytes but the object has only "
                                     "%" PRIu64,
                                     a->name, a->req->size, size);
        a->map_len = a->req->size ? a->req->size : (size_t) size;
        return 0;
}

static void close_section(open_args *a) {
        if (a->section >= 0)
                (void) mc_sys.section_close(a->section);
        a->section = -1;
}

/* As on Linux, an existing object is opened before the decision: its size decides the quota. */
static int open_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        open_args *a = data;

        (void) err;
        if (a->name[0] && !a->req->create && open_existing(a, &a->open_err) < 0) {
                close_section(a);
                if (!a->or_create || a->open_err.sys_errno != ENOENT) {
                        a->open_failed = true;
                        return 0;
                }
        }
        if (a->section >= 0) {
                mc__object_id id = section_object(a->name);
                c->wx_alias = mc__objects_wx(ctx, &id, a->req->prot, /* shared= */ true, NULL);
        }
        mc__shm_charge_open(c, a->map_len, mc_page_size());
        return 0;
}

static int open_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        open_args *a = data;
        unsigned prot = a->req->prot;
        bool created = false;
        mc__entry entry = {0};
        void *p;
        int r;

        if (a->open_failed) {
                mc__error_copy(err, &a->open_err);
                return -a->open_err.sys_errno;
        }
        r = mc__registry_reserve(ctx);
        if (r < 0)
                return mc__error_errno(err, r, "shm_open: recording the mapping");
        if (a->section < 0) {
                a->section = mc_sys.section_create(a->name[0] ? a->wname : NULL, a->map_len,
                                                   mc__prot_to_sys(prot));
                if (a->section < 0)
                        return mc__error_errno(err, errno, "shm_open '%s' (create)",
                                               a->name[0] ? a->name : "(anonymous)");
                created = true;
        }
        p = mc_sys.section_map(a->section, mc__prot_to_sys(prot));
        if (p == MAP_FAILED)
                return mc__error_errno(err, errno, "shm_open: mapping %zu bytes %s", a->map_len,
                                       mc__prot_name(prot));
        entry.base = (uintptr_t) p;
        (void) align_up(a->map_len, mc_page_size(), &entry.base_len);
        entry.page = mc_page_size();
        entry.len = a->map_len;
        entry.prot = prot;
        entry.object = section_object(a->name);
        entry.owner_local = created;
        entry.owner_pid = created ? ctx->pid : 0;
        entry.fd = a->section;
        mc__shm_record(ctx, c, &entry, &a->ret->region);
        a->ret->fd = a->section;
        a->section = -1;
        strscpy(a->ret->name, sizeof(a->ret->name), a->name);
        a->ret->owner = created ? MC_OWNER_LOCAL : MC_OWNER_REMOTE;
        a->ret->owner_pid = entry.owner_pid;
        c->has_owner = true;
        c->owner_local = created;
        c->owner_pid = entry.owner_pid;
        return 0;
}

static const mc__steps open_steps = {.prepare = open_prepare, .syscall = open_syscall};

const char *mc__shm_os_name_invalid(const char *name) {
        wchar_t w[MC_SHARED_NAME_MAX + 32];

        if (strchr(name + 1, '\\'))
                return "a name holds no '\\' on Windows (it separates object namespaces)";
        if (!section_name(name, w, ARRAYSIZE(w)))
                return "not UTF-8";
        return NULL;
}

int mc__shm_os_check(const mc_shared_request *req, const char *name, mc_error *err) {
        (void) name;
        if (req->flags & MC_MAP_HUGEPAGE)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "shm_open: huge page regions are not available on Windows");
        if (req->seals)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "shm_open: Windows sections cannot be sealed");
        return 0;
}

int mc__shm_os_open(mc_ctx *ctx, const mc_shared_request *req, bool or_create, mc_shared *ret,
                    mc_error *err) {
        open_args a = {.req = req, .or_create = or_create, .section = -1, .ret = ret};
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SHM_OPEN, MC__CAP_MEMORY);
        r = mc__shm_open_begin(&c, req, ret, or_create, a.name, &e);
        if (r >= 0) {
                /* Valid: mc__shm_os_name_invalid() converted it already. */
                if (a.name[0])
                        section_name(a.name, a.wname, ARRAYSIZE(a.wname));
                a.map_len = req->size;
        }
        r = mc__ctx_run(ctx, &c, r, &e, &open_steps, &a, err);
        close_section(&a);
        return r;
}

/* ---- close ---------------------------------------------------------------------------------- */

void mc__shm_os_release(int fd) {
        (void) mc_sys.section_close(fd);
}

/* ---- unlink --------------------------------------------------------------------------------- */

/* Windows removes a section with its last handle: unlinking only checks that it exists. */
int mc__shm_os_unlink(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        wchar_t wname[MC_SHARED_NAME_MAX + 32];
        int section;

        (void) ctx, (void) data;
        /* Valid: mc__shm_os_name_invalid() converted it already. */
        section_name(c->req.name, wname, ARRAYSIZE(wname));
        section = mc_sys.section_open(wname, 0);
        if (section < 0)
                return mc__error_errno(err, errno, "shm_unlink '%s'", c->req.name);
        (void) mc_sys.section_close(section);
        return 0;
}

/* ---- what Windows sections cannot do -------------------------------------------------------- */

int mc_shared_resize(mc_ctx *ctx, mc_shared *shm, size_t new_size, mc_error *err) {
        (void) ctx, (void) shm, (void) new_size;
        return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                             "shm_resize: a Windows section keeps the size it was created with; "
                             "create a new object of the size wanted");
}

int mc_shared_seal(mc_ctx *ctx, mc_shared *shm, unsigned seals, mc_error *err) {
        (void) ctx, (void) shm, (void) seals;
        return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                             "shm_seal: Windows sections cannot be sealed");
}

int mc_shared_seals(const mc_shared *shm, unsigned *ret_seals, mc_error *err) {
        if (!shm || !ret_seals)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_seals: arguments must not be NULL");
        *ret_seals = 0;
        return 0;
}
