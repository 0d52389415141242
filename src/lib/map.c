/* SPDX-License-Identifier: MIT */
/*
 * The core.memory operations that make and remove mappings: mmap, map_file, munmap and unmap.
 * Each public function checks its arguments (so bad input never reaches a system call),
 * describes itself in an mc__call, and hands its steps to the context's choke point, which
 * decides, calls, accounts and audits. Files are opened by file-open.c; the operations on a
 * live mapping are in map-ops.c.
 *
 * Sections: helpers (names, page sizes, custom flags), mmap, munmap, map_file.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <strings.h>
#include <linux/mman.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "config.h"
#include "file-open.h"
#include "map-def.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static const char *const prot_names[8] = {
        "None",        "ReadOnly",    "WriteOnly",    "ReadWrite",
        "ExecuteOnly", "ReadExecute", "WriteExecute", "ReadWriteExecute",
};

const char *mc__prot_name(unsigned prot) {
        return prot < 8 ? prot_names[prot] : "Invalid";
}

int mc__prot_to_sys(unsigned prot) {
        return (prot & MC_PROT_READ ? PROT_READ : 0) | (prot & MC_PROT_WRITE ? PROT_WRITE : 0) |
               (prot & MC_PROT_EXEC ? PROT_EXEC : 0);
}

size_t mc_page_size(void) {
        static size_t cached;
        size_t p = __atomic_load_n(&cached, __ATOMIC_RELAXED);

        if (_unlikely_(p == 0)) {
                long v = sysconf(_SC_PAGESIZE);
                p = v > 0 ? (size_t) v : 4096;
                __atomic_store_n(&cached, p, __ATOMIC_RELAXED);
        }
        return p;
}

/* The default huge page size, from /proc/meminfo; 2 MiB when it cannot be read. */
size_t mc__huge_page_size(void) {
        static size_t cached;
        size_t p = __atomic_load_n(&cached, __ATOMIC_RELAXED);
        char buf[8192];
        const char *line;
        unsigned long kb;

        if (p != 0)
                return p;
        p = 2UL << 20;
        if (mc__proc_read("/proc/meminfo", buf, sizeof(buf)) > 0 &&
            (line = strstr(buf, "\nHugepagesize:")) &&
            sscanf(line + 1, "Hugepagesize: %lu kB", &kb) == 1 && kb > 0 && (kb & (kb - 1)) == 0)
                p = kb << 10;
        __atomic_store_n(&cached, p, __ATOMIC_RELAXED);
        return p;
}

/* Custom flags: the names a caller may give, and what each means. */
enum {
        CF_HUGE = 1 << 0,     /* needs allow_huge_pages */
        CF_LOCKED = 1 << 1,   /* counts against max_locked_memory */
        CF_NEEDADDR = 1 << 2, /* needs an address */
        CF_SHARED = 1 << 3,   /* only with MC_MAP_SHARED */
};

static const struct custom_flag {
        const char *name;
        int sysflags;
        unsigned traits;
        size_t huge_page; /* for MAP_HUGE_* */
} custom_flags[] = {
        {"MAP_POPULATE", MAP_POPULATE, 0, 0},
        {"MAP_NORESERVE", MAP_NORESERVE, 0, 0},
        {"MAP_LOCKED", MAP_LOCKED, CF_LOCKED, 0},
        {"MAP_FIXED_NOREPLACE", MAP_FIXED_NOREPLACE, CF_NEEDADDR, 0},
        {"MAP_STACK", MAP_STACK, 0, 0},
        {"MAP_HUGE_2MB", MAP_HUGETLB | MAP_HUGE_2MB, CF_HUGE, 2UL << 20},
        {"MAP_HUGE_1GB", MAP_HUGETLB | MAP_HUGE_1GB, CF_HUGE, 1UL << 30},
        {"MAP_SHARED_VALIDATE", MAP_SHARED_VALIDATE, CF_SHARED, 0},
        {"MAP_SYNC", MAP_SYNC, CF_SHARED, 0},
};

const char *const *mc_custom_flag_names(void) {
        static const char *const names[] = {
                "MAP_POPULATE", "MAP_NORESERVE",
                "MAP_LOCKED",   "MAP_FIXED_NOREPLACE",
                "MAP_STACK",    "MAP_HUGE_2MB",
                "MAP_HUGE_1GB", "MAP_SHARED_VALIDATE",
                "MAP_SYNC",     NULL,
        };
        return names;
}

static const struct custom_flag *custom_flag_find(const char *name) {
        if (strncasecmp(name, "MAP_", 4) == 0)
                name += 4;
        for (size_t i = 0; i < ELEMENTSOF(custom_flags); i++)
                if (strcasecmp(custom_flags[i].name + 4, name) == 0)
                        return &custom_flags[i];
        return NULL;
}

/* What a set of custom flags adds up to. */
typedef struct custom_set {
        int sysflags;
        unsigned traits;
        size_t huge_page;
} custom_set;

static int custom_parse(const char *op, const char *const *names, size_t n, unsigned flags,
                        custom_set *ret, mc_error *err) {
        custom_set s = {0};

        if (n == 0) {
                *ret = s;
                return 0;
        }
        if (!names)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: n_custom is %zu but custom is NULL", op, n);
        for (size_t i = 0; i < n; i++) {
                const struct custom_flag *f;

                if (!names[i])
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "%s: custom flag %zu is NULL", op, i);
                f = custom_flag_find(names[i]);
                if (!f)
                        return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                             "%s: unknown custom flag '%.64s' (known: "
                                             "MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED, "
                                             "MAP_FIXED_NOREPLACE, MAP_STACK, MAP_HUGE_2MB, "
                                             "MAP_HUGE_1GB, MAP_SHARED_VALIDATE, MAP_SYNC)",
                                             op, names[i]);
                if ((f->traits & CF_SHARED) && !(flags & MC_MAP_SHARED))
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "%s: custom flag %s needs MC_MAP_SHARED", op, f->name);
                if (f->huge_page && s.huge_page && f->huge_page != s.huge_page)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "%s: MAP_HUGE_2MB and MAP_HUGE_1GB exclude each "
                                             "other",
                                             op);
                s.sysflags |= f->sysflags;
                s.traits |= f->traits;
                if (f->huge_page)
                        s.huge_page = f->huge_page;
        }
        if ((s.sysflags & MAP_SYNC) && !(s.sysflags & MAP_SHARED_VALIDATE & ~MAP_SHARED))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: MAP_SYNC needs MAP_SHARED_VALIDATE", op);
        *ret = s;
        return 0;
}

static size_t entry_accounted(const mc__entry *e) {
        return e->kind == MC__KIND_EMPTY ? 0 : e->base_len;
}

int mc__map_not_found(const char *op, const mc_mapping *m, mc_error *err) {
        return mc__error_set(err, MC_ERR_NOT_FOUND, ENOENT,
                             "%s: " MAPPING_FMT " is not a live mapping of this context "
                             "(already unmapped, changed by a remap, or not mapped by memcap)",
                             op, MAPPING_ARGS(m));
}

void mc__call_set_range(mc__call *c, const mc_mapping *m, size_t length) {
        if (!m)
                return;
        c->fields |= MC__F_ADDR | MC__F_LENGTH | MC__F_ID;
        c->req.addr = m->ptr;
        c->req.length = length == MC_LENGTH_ALL ? m->len : length;
        c->req.id = m->id;
}

int mc__mapping_check(const char *op, const mc_mapping *m, mc_error *err) {
        if (!m)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: the mapping must not be NULL", op);
        return 0;
}

/* ---- mmap ------------------------------------------------------------------------------------ */

typedef struct map_args {
        /* The kernel mapping to make. */
        void *addr;
        size_t base_len;
        size_t page;
        off_t file_off;
        int sysprot;
        int sysflags;
        int fd; /* -1 for anonymous */
        bool empty;
        /* The entry to record. */
        size_t ptr_off;
        size_t len;
        unsigned prot;
        unsigned flags;
        uint8_t kind;
        bool anonymous;
        bool locked;
        bool memory_backed;
        bool has_object;
        mc__object_id object;
        int owned_fd;
        /* A file opened by path: opened for I/O after the decision. */
        const mc__file *file;
        int open_flags;
        mc_mapping *ret;
} map_args;

static int map_errno(const mc__call *c, const map_args *a, int e, mc_error *err) {
        const char *hint = "";

        if (e == EACCES)
                hint = " (a shared writable mapping needs a file opened for writing; "
                       "execute needs a file system mounted without noexec)";
        else if (e == EAGAIN)
                hint = " (MAP_LOCKED is over RLIMIT_MEMLOCK)";
        else if (e == ENODEV)
                hint = " (the file system does not support mmap)";
        else if (e == ENOMEM && (a->sysflags & MAP_HUGETLB))
                hint = " (no free huge pages: see /proc/sys/vm/nr_hugepages)";
        if (c->fields & MC__F_FILE)
                return mc__error_errno(err, e, "mmap '%s' (%zu bytes at offset %" PRIu64 ", %s)%s",
                                       c->req.file, c->req.length, c->req.offset,
                                       mc__prot_name(a->prot), hint);
        return mc__error_errno(err, e, "mmap %s (%zu bytes, %s)%s",
                               a->fd >= 0 ? "of a descriptor" : "anonymous", c->req.length,
                               mc__prot_name(a->prot), hint);
}

static int map_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        map_args *a = data;
        _cleanup_close_ int fd = -EBADF;
        mc__entry entry = {0}, *e;
        void *p;
        int r;

        if (a->sysflags & MAP_FIXED) {
                mc__entry *o = mc__registry_find_overlap(ctx, (uintptr_t) a->addr, a->base_len);
                if (o)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "mmap: MC_MAP_FIXED at %p would replace mapping %p "
                                             "(id %" PRIu64 ") of this context; unmap it first",
                                             a->addr, (void *) o->base, o->id);
        }
        r = mc__registry_reserve(ctx);
        if (r < 0)
                return mc__error_errno(err, r, "mmap: recording the mapping");

        if (a->file && !a->empty) {
                fd = mc__file_reopen(a->file, a->open_flags, err);
                if (fd < 0)
                        return fd;
                a->fd = fd;
        }
        if (a->empty)
                p = mc_sys.mmap(NULL, a->page, PROT_NONE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        else
                p = mc_sys.mmap(a->addr, a->base_len, a->sysprot, a->sysflags, a->fd, a->file_off);
        if (p == MAP_FAILED)
                return map_errno(c, a, errno, err);
        if ((a->sysflags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && p != a->addr) {
                /* Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and place it elsewhere. */
                mc_sys.munmap(p, a->base_len);
                return mc__error_set(err, MC_ERR_ALREADY_EXISTS, EEXIST,
                                     "mmap: the range at %p is already in use", a->addr);
        }

        entry.base = (uintptr_t) p;
        entry.base_len = a->empty ? a->page : a->base_len;
        entry.page = a->page;
        entry.ptr_off = a->ptr_off;
        entry.len = a->len;
        entry.prot = a->prot;
        entry.flags = a->flags;
        entry.kind = a->kind;
        entry.anonymous = a->anonymous;
        entry.memory_backed = a->memory_backed;
        entry.was_writable = a->prot & MC_PROT_WRITE;
        entry.has_object = a->has_object && !a->empty;
        entry.object = a->object;
        entry.locked = a->locked && !a->empty ? a->base_len : 0;
        entry.fd = a->owned_fd;
        e = mc__registry_add(ctx, &entry);
        mc__entry_to_mapping(e, a->ret);
        c->add_charged = mc__entry_charge(e);

        c->has_result = true;
        c->res_addr = a->ret->ptr;
        c->res_length = a->ret->len;
        c->res_id = a->ret->id;
        return 0;
}

/* Whether the new view would alias write and execute with a view the context has. */
static int map_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        map_args *a = data;

        (void) err;
        if (a->has_object && !a->empty)
                c->wx_alias = mc__objects_wx(ctx, &a->object, a->prot, a->flags & MC_MAP_SHARED,
                                             /* self= */ NULL);
        return 0;
}

static const mc__steps map_steps = {.prepare = map_prepare, .syscall = map_syscall};

/* What the new mapping will count against max_memory_usage (mc__entry_charge() of it). */
static uint64_t map_charge(const map_args *a) {
        mc__entry e = {
                .kind = a->kind,
                .base_len = a->base_len,
                .flags = a->flags,
                .memory_backed = a->memory_backed,
                .was_writable = a->prot & MC_PROT_WRITE,
                .locked = a->locked && !a->empty ? a->base_len : 0,
        };
        return mc__entry_charge(&e);
}

/* Fill the decision inputs and map_args shared by mc_mmap() and mc_map_file(). */
static int map_plan(const char *op, mc__call *c, map_args *a, void *addr, size_t off_in_page,
                    size_t len, unsigned prot, unsigned flags, const custom_set *cs,
                    mc_error *err) {
        size_t span;

        if (prot & ~(unsigned) MC_PROT_READ_WRITE_EXECUTE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: unknown protection bits 0x%x", op, prot);
        a->page = (flags & MC_MAP_HUGEPAGE) ? mc__huge_page_size() : mc_page_size();
        if (cs->huge_page)
                a->page = cs->huge_page;
        if (MC_ADD_OVERFLOW(off_in_page, len, &span) || !align_up(span, a->page, &a->base_len) ||
            a->base_len > (size_t) PTRDIFF_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "%s: length %zu is too large for the address space", op, len);
        if ((flags & MC_MAP_FIXED) && ((uintptr_t) addr % a->page) != 0)
                return mc__error_set(err, MC_ERR_ALIGNMENT, EINVAL,
                                     "%s: MC_MAP_FIXED address %p is not aligned to the page "
                                     "size (%zu)",
                                     op, addr, a->page);
        if ((cs->traits & CF_NEEDADDR) && !addr)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: MAP_FIXED_NOREPLACE needs an address", op);

        a->addr = addr;
        a->sysprot = mc__prot_to_sys(prot);
        a->sysflags = (flags & MC_MAP_SHARED) ? MAP_SHARED : MAP_PRIVATE;
        if (flags & MC_MAP_ANONYMOUS)
                a->sysflags |= MAP_ANONYMOUS;
        if (flags & MC_MAP_FIXED)
                a->sysflags |= MAP_FIXED;
        if (flags & MC_MAP_HUGEPAGE)
                a->sysflags |= MAP_HUGETLB;
        a->sysflags |= cs->sysflags;
        a->ptr_off = off_in_page;
        a->len = len;
        a->prot = prot;
        a->flags = flags;
        a->kind = a->empty ? MC__KIND_EMPTY : MC__KIND_MAP;
        a->anonymous = flags & MC_MAP_ANONYMOUS;
        a->locked = cs->traits & CF_LOCKED;
        /* Huge pages are reserved when mapped, whatever the protection. */
        if (a->page != mc_page_size())
                a->memory_backed = true;
        a->owned_fd = -1;

        c->write_exec = (prot & MC_PROT_WRITE) && (prot & MC_PROT_EXEC);
        c->fixed = flags & MC_MAP_FIXED;
        c->huge = (flags & MC_MAP_HUGEPAGE) || (cs->traits & CF_HUGE);
        c->add_bytes = a->empty ? 0 : a->base_len;
        c->add_charged = map_charge(a);
        c->add_mappings = 1;
        c->add_locked = a->locked && !a->empty ? a->base_len : 0;
        return 0;
}

/* Set the object the mapping will view, and whether its pages are memory, from its file. */
static void map_set_file(map_args *a, int fd, const struct stat *st) {
        a->memory_backed = a->memory_backed || mc__file_memory_backed(fd, st);
        a->has_object = true;
        a->object = (mc__object_id){.dev = (uint64_t) st->st_dev, .ino = (uint64_t) st->st_ino};
}

static int map_flags_check(const char *op, unsigned flags, mc_error *err) {
        unsigned known =
                MC_MAP_PRIVATE | MC_MAP_SHARED | MC_MAP_ANONYMOUS | MC_MAP_FIXED | MC_MAP_HUGEPAGE;

        if (flags & ~known)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: unknown flag bits 0x%x", op, flags & ~known);
        if ((flags & MC_MAP_ANONYMOUS) && (flags & MC_MAP_SHARED))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: Anonymous and Shared together are not allowed; shared "
                                     "anonymous memory comes from mc_shared_open() with no name",
                                     op);
        if ((flags & MC_MAP_PRIVATE) && (flags & MC_MAP_SHARED))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: Private and Shared exclude each other", op);
        if (!(flags & (MC_MAP_PRIVATE | MC_MAP_SHARED | MC_MAP_ANONYMOUS)))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: say MC_MAP_PRIVATE or MC_MAP_SHARED (or "
                                     "MC_MAP_ANONYMOUS)",
                                     op);
        return 0;
}

/* The request's own rules, before anything is opened. */
static int mmap_check(const mc_map_request *req, const mc_mapping *ret, custom_set *ret_cs,
                      mc_error *err) {
        uint64_t end;
        int r;

        if (!req || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: request and ret must not be NULL");
        r = map_flags_check("mmap", req->flags, err);
        if (r < 0)
                return r;
        if (req->length == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: length is 0 (zero-length mappings come from "
                                     "mc_map_file() of an empty file)");
        if (req->path && req->fd >= 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: give a path or a descriptor, not both");
        if ((req->flags & MC_MAP_ANONYMOUS) && (req->path || req->fd >= 0))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: MC_MAP_ANONYMOUS with a file");
        if (!(req->flags & MC_MAP_ANONYMOUS) && !req->path && req->fd < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: no file (path or fd) and not MC_MAP_ANONYMOUS");
        if ((req->flags & MC_MAP_ANONYMOUS) && req->offset != 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: an anonymous mapping has no offset (got %" PRIu64 ")",
                                     req->offset);
        if (req->offset % mc_page_size() != 0)
                return mc__error_set(err, MC_ERR_ALIGNMENT, EINVAL,
                                     "mmap: offset %" PRIu64 " is not a multiple of the page "
                                     "size (%zu); mc_map_file() accepts any offset",
                                     req->offset, mc_page_size());
        if ((req->path || req->fd >= 0) &&
            (MC_ADD_OVERFLOW(req->offset, (uint64_t) req->length, &end) ||
             end > (uint64_t) INT64_MAX))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "mmap: offset %" PRIu64 " + length %zu overflows the file "
                                     "offset range",
                                     req->offset, req->length);
        if ((req->flags & MC_MAP_FIXED) && !req->addr)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: MC_MAP_FIXED needs an address");
        if ((req->flags & MC_MAP_HUGEPAGE) && !(req->flags & MC_MAP_ANONYMOUS))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mmap: MC_MAP_HUGEPAGE maps anonymous memory only (huge "
                                     "pages of a file need a hugetlbfs descriptor)");
        return custom_parse("mmap", req->custom, req->n_custom, req->flags, ret_cs, err);
}

/* The request's fields of the audit record. */
static void mmap_describe(mc__call *c, const mc_map_request *req) {
        c->fields = MC__F_LENGTH | MC__F_PROT | MC__F_FLAGS;
        c->req.length = req->length;
        c->req.prot = req->prot;
        c->req.flags = req->flags;
        c->req.custom = req->custom;
        c->req.n_custom = req->custom ? req->n_custom : 0;
        if (req->addr) {
                c->fields |= MC__F_ADDR;
                c->req.addr = req->addr;
        }
        if (req->path) {
                c->fields |= MC__F_FILE | MC__F_OFFSET;
                c->req.file = req->path;
                c->req.offset = req->offset;
        } else if (req->fd >= 0) {
                c->fields |= MC__F_FD | MC__F_OFFSET;
                c->req.fd = req->fd;
                c->req.offset = req->offset;
        }
}

/* Open the file (O_PATH; for I/O only after the decision) or look at the descriptor. */
static int mmap_file(mc__call *c, map_args *a, mc__file *file, const mc_map_request *req,
                     mc_error *err) {
        struct stat st;
        int r;

        a->fd = req->path ? -1 : req->fd;
        a->file_off = (off_t) req->offset;
        if (req->path) {
                r = mc__file_open(file, "mmap", req->path, MC__FILE_RESOLVE, err);
                if (r < 0)
                        return r;
                c->req.resolved = file->resolved;
                a->file = file;
                a->open_flags = (req->flags & MC_MAP_SHARED) && (req->prot & MC_PROT_WRITE)
                                        ? O_RDWR
                                        : O_RDONLY;
                map_set_file(a, file->pfd, &file->st);
        } else if (req->fd >= 0) {
                if (mc_sys.fstat(req->fd, &st) < 0)
                        return mc__error_errno(err, errno, "mmap: descriptor %d", req->fd);
                map_set_file(a, req->fd, &st);
        }
        return 0;
}

static int mmap_common(mc_ctx *ctx, const mc_map_request *req, mc__client_call *cl, mc_mapping *ret,
                       mc_error *err) {
        _cleanup_(mc__file_done) mc__file file;
        MC__ERROR_LOCAL(e);
        map_args a = {.fd = -1, .ret = ret};
        custom_set cs = {0};
        mc__call c;
        int r;

        mc__file_init(&file);
        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.client = cl;
        if (req && ret)
                mmap_describe(&c, req);
        r = mmap_check(req, ret, &cs, &e);
        if (r >= 0)
                r = mmap_file(&c, &a, &file, req, &e);
        if (r >= 0)
                r = map_plan("mmap", &c, &a, req->addr, 0, req->length, req->prot, req->flags, &cs,
                             &e);
        return mc__ctx_run(ctx, &c, r, &e, &map_steps, &a, err);
}

int mc_mmap(mc_ctx *ctx, const mc_map_request *req, mc_mapping *ret, mc_error *err) {
        return mmap_common(ctx, req, /* cl= */ NULL, ret, err);
}

int mc__mmap_client(mc_ctx *ctx, const mc_map_request *req, mc__client_call *cl, mc_mapping *ret,
                    mc_error *err) {
        return mmap_common(ctx, req, cl, ret, err);
}

/* ---- munmap ----------------------------------------------------------------------------- */

int mc__unmap_entry(mc_ctx *ctx, mc__call *c, mc__entry *e, mc_error *err) {
        if (mc_sys.munmap((void *) e->base, e->base_len) < 0)
                return mc__error_errno(err, errno, "munmap %p (%zu bytes)", (void *) e->base,
                                       e->base_len);
        c->sub_bytes += entry_accounted(e);
        c->sub_charged += mc__entry_charge(e);
        c->sub_locked += e->locked;
        c->sub_mappings += 1;
        mc__registry_remove(ctx, e);
        return 0;
}

int mc__map_lookup_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;

        a->e = mc__registry_lookup(ctx, a->m);
        if (!a->e)
                return mc__map_not_found(mc_op_name(c->op), a->m, err);
        return 0;
}

static int unmap_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        int r = mc__map_lookup_prepare(ctx, c, data, err);

        if (r < 0)
                return r;
        if (a->e->kind == MC__KIND_SHARED)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "munmap: " MAPPING_FMT " is the region of a shared memory "
                                     "object; use mc_shared_close()",
                                     MAPPING_ARGS(a->m));
        return 0;
}

static int unmap_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        entry_args *a = data;
        return mc__unmap_entry(ctx, c, a->e, err);
}

static const mc__steps unmap_steps = {.prepare = unmap_prepare, .syscall = unmap_syscall};

int mc_munmap(mc_ctx *ctx, mc_mapping *m, mc_error *err) {
        MC__ERROR_LOCAL(e);
        entry_args a = {.m = m};
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_MUNMAP, MC__CAP_MEMORY);
        mc__call_set_range(&c, m, MC_LENGTH_ALL);
        r = mc__mapping_check("munmap", m, &e);
        r = mc__ctx_run(ctx, &c, r, &e, &unmap_steps, &a, err);
        if (r >= 0)
                memset(m, 0, sizeof(*m));
        return r;
}

int mc_unmap(mc_ctx *ctx, mc_mapping *m, mc_error *err) {
        if (m && !m->ptr && !m->base && m->id == 0)
                return 0;
        return mc_munmap(ctx, m, err);
}

/* ---- map_file ------------------------------------------------------------------------------- */

/* The options' own rules, before the file is opened. */
static int map_file_check(const mc_map_file_options *opts, unsigned flags, mc_mapping *ret,
                          custom_set *ret_cs, mc_error *err) {
        int r;

        if (!ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "map_file: ret must not be NULL");
        r = custom_parse("map_file", opts->custom, opts->n_custom, flags, ret_cs, err);
        if (r < 0)
                return r;
        if (ret_cs->traits & (CF_NEEDADDR | CF_HUGE))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "map_file: MAP_FIXED_NOREPLACE and MAP_HUGE_* do not apply "
                                     "to mc_map_file(); use mc_mmap()");
        return 0;
}

/* The bytes of the file to map: the options' range, which must lie inside the file. */
static int map_file_length(const char *path, const mc_map_file_options *opts, uint64_t size,
                           size_t *ret_len, mc_error *err) {
        uint64_t end;

        if (opts->offset > size)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "map_file '%s': offset %" PRIu64 " is past the end of the "
                                     "file (%" PRIu64 " bytes)",
                                     path, opts->offset, size);
        if (opts->length == MC_LENGTH_ALL) {
                /* The audit record says how much was asked for, also when it does not fit. */
                *ret_len = (size_t) (size - opts->offset);
                if (size - opts->offset > (uint64_t) PTRDIFF_MAX)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                             "map_file '%s': %" PRIu64 " bytes do not fit the "
                                             "address space",
                                             path, size - opts->offset);
                return 0;
        }
        if (MC_ADD_OVERFLOW(opts->offset, (uint64_t) opts->length, &end) || end > size)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "map_file '%s': %zu bytes at offset %" PRIu64 " end past "
                                     "the end of the file (%" PRIu64 " bytes); mapping beyond "
                                     "it would only raise SIGBUS",
                                     path, opts->length, opts->offset, size);
        *ret_len = opts->length;
        return 0;
}

int mc_map_file(mc_ctx *ctx, const char *path, unsigned prot, const mc_map_file_options *opts,
                mc_mapping *ret, mc_error *err) {
        static const mc_map_file_options defaults = MC_MAP_FILE_OPTIONS_INIT;
        _cleanup_(mc__file_done) mc__file file;
        MC__ERROR_LOCAL(e);
        map_args a = {.fd = -1, .ret = ret};
        custom_set cs = {0};
        mc__call c;
        uint64_t aligned;
        size_t len = 0;
        unsigned flags;
        int r;

        mc__file_init(&file);
        if (!opts)
                opts = &defaults;
        flags = opts->private_copy ? MC_MAP_PRIVATE : MC_MAP_SHARED;
        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fields = MC__F_FILE | MC__F_OFFSET | MC__F_PROT | MC__F_FLAGS | MC__F_LENGTH;
        c.req.file = path;
        c.req.offset = opts->offset;
        c.req.prot = prot;
        c.req.flags = flags;
        c.req.custom = opts->custom;
        c.req.n_custom = opts->custom ? opts->n_custom : 0;

        r = map_file_check(opts, flags, ret, &cs, &e);
        if (r >= 0)
                r = mc__file_open(&file, "map_file", path, MC__FILE_REGULAR | MC__FILE_RESOLVE, &e);
        if (r >= 0) {
                map_set_file(&a, file.pfd, &file.st);
                r = map_file_length(path, opts, (uint64_t) file.st.st_size, &len, &e);
        }
        c.req.length = len;
        if (r >= 0) {
                aligned = opts->offset - opts->offset % mc_page_size();
                a.empty = len == 0;
                a.file_off = (off_t) aligned;
                a.file = &file;
                a.open_flags =
                        (flags & MC_MAP_SHARED) && (prot & MC_PROT_WRITE) ? O_RDWR : O_RDONLY;
                c.req.resolved = file.resolved;
                r = map_plan("map_file", &c, &a, NULL, (size_t) (opts->offset - aligned), len, prot,
                             flags, &cs, &e);
        }
        return mc__ctx_run(ctx, &c, r, &e, &map_steps, &a, err);
}
