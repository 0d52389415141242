/* SPDX-License-Identifier: MIT */
/*
 * Shared memory: named POSIX objects (shm_open) and anonymous memfd regions, each mapped whole
 * through the context. Sizes are allocated with fallocate() so a full tmpfs fails the open or
 * the resize instead of raising SIGBUS at first touch (ftruncate only makes a sparse file).
 * The creator's pid is written to an extended attribute of the object where tmpfs supports it,
 * so an opener can say who owns what it opened.
 *
 * What every platform shares (the request's checks, close, unlink) is in shm-call.c.
 *
 * Sections: the mapped region, open, close, unlink, resize, seals.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "shm-int.h"

#define CREATOR_XATTR "user.memcap.creator_pid"

/* ---- the mapped region ----------------------------------------------------------------------- */

static int seals_to_sys(unsigned seals) {
        return (seals & MC_SEAL_SHRINK ? F_SEAL_SHRINK : 0) |
               (seals & MC_SEAL_GROW ? F_SEAL_GROW : 0) |
               (seals & MC_SEAL_WRITE ? F_SEAL_WRITE : 0) |
               (seals & MC_SEAL_FUTURE_WRITE ? F_SEAL_FUTURE_WRITE : 0) |
               (seals & MC_SEAL_SEAL ? F_SEAL_SEAL : 0);
}

/* Add @seals to @fd; the kernel's refusals become the kinds mc_shared_seal() documents. */
static int add_seals(int fd, unsigned seals, mc_error *err) {
        int en;

        if (mc_sys.add_seals(fd, seals_to_sys(seals)) == 0)
                return 0;
        en = errno;
        if (en == EBUSY)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBUSY,
                                     "shm_seal: a writable shared mapping of the region exists; "
                                     "MC_SEAL_WRITE needs none (map it read-only, or use "
                                     "MC_SEAL_FUTURE_WRITE)");
        if (en == EPERM)
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EPERM,
                                     "shm_seal: the region is sealed with MC_SEAL_SEAL (or cannot "
                                     "be sealed at all); no further seals can be added");
        return mc__error_errno(err, en, "shm_seal");
}

/* Give @fd @size bytes of real storage; grows only. */
static int allocate(int fd, size_t size) {
        if (mc_sys.fallocate(fd, 0, 0, (off_t) size) == 0)
                return 0;
        if (errno != EOPNOTSUPP && errno != ENOSYS)
                return -errno;
        /* hugetlbfs and some file systems cannot fallocate: a sparse size is all there is. */
        return mc_sys.ftruncate(fd, (off_t) size) < 0 ? -errno : 0;
}

/* ---- open ----------------------------------------------------------------------------------- */

typedef struct open_args {
        const mc_shared_request *req;
        char name[MC_SHARED_NAME_MAX + 2]; /* normalised; "" for memfd */
        bool or_create;                    /* map_shared_buffer: create, else open */
        size_t page;
        /* From prepare: an existing object opened before the decision. */
        int fd;
        size_t map_len;
        mc_error open_err;
        bool open_failed;
        mc__object_id object; /* the object's inode, once it is open */
        bool owner_local;     /* who created it, once it is open */
        pid_t owner_pid;
        mc_shared *ret;
} open_args;

static void open_args_done(open_args *a) {
        a->fd = safe_close(a->fd);
}

static int open_existing(open_args *a, mc_error *err) {
        const mc_shared_request *req = a->req;
        struct stat st;
        /* /dev/shm is world-writable: whatever sits under the name may have been planted by
         * someone else. O_NONBLOCK keeps a FIFO from blocking the open forever; only a regular
         * file is a shared memory object. */
        int flags = (req->prot & MC_PROT_WRITE ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW |
                    O_NONBLOCK;

        a->fd = mc_sys.shm_open(a->name, flags, 0);
        if (a->fd < 0)
                return mc__error_errno(err, errno, "shm_open '%s'", a->name);
        if (mc_sys.fstat(a->fd, &st) < 0)
                return mc__error_errno(err, errno, "shm_open '%s': fstat", a->name);
        if (!S_ISREG(st.st_mode))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open '%s': not a shared memory object (a %s is in its "
                                     "place)",
                                     a->name,
                                     S_ISDIR(st.st_mode)    ? "directory"
                                     : S_ISFIFO(st.st_mode) ? "FIFO"
                                     : S_ISSOCK(st.st_mode) ? "socket"
                                                            : "device");
        if (st.st_size == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open '%s': the object is empty; nothing to map", a->name);
        if ((uint64_t) st.st_size > (uint64_t) PTRDIFF_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "shm_open '%s': %" PRIu64 " bytes do not fit the address "
                                     "space",
                                     a->name, (uint64_t) st.st_size);
        if (req->size > (uint64_t) st.st_size)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open '%s': asked for %zu bytes but the object has only "
                                     "%" PRIu64,
                                     a->name, req->size, (uint64_t) st.st_size);
        a->map_len = req->size ? req->size : (size_t) st.st_size;
        a->object = (mc__object_id){.dev = (uint64_t) st.st_dev, .ino = (uint64_t) st.st_ino};
        return 0;
}

/*
 * Opening an existing object happens before the decision because its size decides the quota.
 * The result is kept rather than returned, so that a name the policy forbids is refused as a
 * PolicyViolation whether or not it exists: a denial never reveals existence.
 */
static int open_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        open_args *a = data;

        (void) err;
        if (a->name[0] && !a->req->create) {
                if (open_existing(a, &a->open_err) < 0) {
                        a->fd = safe_close(a->fd);
                        /* mc_map_shared_buffer() creates what is not there. */
                        if (!a->or_create || a->open_err.sys_errno != ENOENT) {
                                a->open_failed = true;
                                return 0;
                        }
                } else {
                        /* A view of an object the context already maps. */
                        c->wx_alias = mc__objects_wx(ctx, &a->object, a->req->prot,
                                                     /* shared= */ true, /* self= */ NULL);
                }
        }
        mc__shm_charge_open(c, a->map_len, a->page);
        return 0;
}

/*
 * Map the object whole as MAP_SHARED and record it as the region of a shared object owning
 * a->fd. Seals go on between the mmap and the record: MC_SEAL_FUTURE_WRITE would forbid the
 * writable mapping itself if it came first, and a refused seal must leave nothing mapped.
 */
static int map_region(mc_ctx *ctx, mc__call *c, open_args *a, unsigned seals, mc_error *err) {
        unsigned prot = a->req->prot;
        mc__entry entry = {0};
        size_t len = a->map_len, base_len;
        void *p;
        int r;

        r = mc__registry_reserve(ctx);
        if (r < 0)
                return mc__error_errno(err, r, "shm_open: recording the mapping");
        if (!align_up(len, a->page, &base_len))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "shm_open: size %zu is too large", len);
        p = mc_sys.mmap(NULL, base_len, mc__prot_to_sys(prot), MAP_SHARED, a->fd, 0);
        if (p == MAP_FAILED) {
                int en = errno;
                return mc__error_errno(err, en, "shm_open: mapping %zu bytes %s%s", len,
                                       mc__prot_name(prot),
                                       en == EPERM    ? " (the object is sealed against writing; "
                                                        "map it read-only)"
                                       : en == EACCES ? " (opened read-only)"
                                                      : "");
        }
        if (seals) {
                r = add_seals(a->fd, seals, err);
                if (r < 0) {
                        (void) mc_sys.munmap(p, base_len);
                        return r;
                }
        }
        entry.base = (uintptr_t) p;
        entry.base_len = base_len;
        entry.page = a->page;
        entry.len = len;
        entry.prot = prot;
        entry.object = a->object;
        entry.owner_local = a->owner_local;
        entry.owner_pid = a->owner_pid;
        entry.fd = a->fd;
        mc__shm_record(ctx, c, &entry, &a->ret->region);
        return 0;
}

/*
 * The start time of this process (field 22 of /proc/self/stat, clock ticks since boot), so a
 * creator record names one process and not whichever later process got the same pid; 0 when
 * it cannot be read.
 */
static uint64_t self_start_time(void) {
        uint64_t t;

        return mc__proc_stat(/* pid= */ 0, NULL, &t) < 0 ? 0 : t;
}

/* The creator record: "PID START", both decimal. */
static void format_creator(char *buf, size_t size, pid_t pid) {
        snprintf(buf, size, "%d %" PRIu64, (int) pid, self_start_time());
}

/* Parse a decimal without sign, leading zeros or overflow; advance *@s past it. */
static bool parse_decimal(const char **s, uint64_t max, uint64_t *ret) {
        const char *p = *s;
        uint64_t v = 0;

        if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
                return false;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (max - (uint64_t) (*p - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *s = p;
        *ret = v;
        return true;
}

/*
 * Who created the object @fd, from its creator record: Local when it names this very process
 * (pid and start time), else Remote with the creator's pid, or Remote(0) when there is no
 * record (tmpfs without user xattrs, an object made by something other than memcap) or it is
 * malformed. Anyone who can write the object can write the record: believe digits only.
 */
static void read_owner(int fd, pid_t self, bool *ret_local, pid_t *ret_pid) {
        char buf[64];
        const char *p = buf;
        uint64_t pid, start;
        ssize_t n;

        *ret_local = false;
        *ret_pid = 0;
        n = mc_sys.fgetxattr(fd, CREATOR_XATTR, buf, sizeof(buf) - 1);
        if (n <= 0)
                return;
        buf[n] = 0;
        if (!parse_decimal(&p, INT32_MAX, &pid) || pid == 0 || *p++ != ' ' ||
            !parse_decimal(&p, UINT64_MAX, &start) || *p != 0)
                return;
        *ret_pid = (pid_t) pid;
        *ret_local = (pid_t) pid == self && start == self_start_time();
}

static int create_object(mc_ctx *ctx, open_args *a, bool *ret_created, mc_error *err) {
        const mc_shared_request *req = a->req;
        unsigned mode = req->mode ? req->mode : 0600;
        char creator[64];
        struct stat st;
        int r, tries = 0;

        *ret_created = false;
        if (!a->name[0]) {
                unsigned fl = MFD_CLOEXEC | MFD_ALLOW_SEALING;
                if (req->flags & MC_MAP_HUGEPAGE)
                        fl = MFD_CLOEXEC | MFD_HUGETLB; /* hugetlbfs memfds cannot be sealed */
                a->fd = mc_sys.memfd_create("memcap", fl);
                if (a->fd < 0)
                        return mc__error_errno(err, errno, "shm_open: memfd_create");
                *ret_created = true;
        } else {
                for (;;) {
                        a->fd = mc_sys.shm_open(
                                a->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
                        if (a->fd >= 0) {
                                *ret_created = true;
                                break;
                        }
                        if (errno != EEXIST || !a->or_create || ++tries > 3)
                                return mc__error_errno(err, errno, "shm_open '%s' (create)",
                                                       a->name);
                        /* Created by someone else since the prepare step looked. */
                        r = open_existing(a, err);
                        if (r >= 0)
                                return 0;
                        a->fd = safe_close(a->fd);
                        if (err && err->sys_errno != ENOENT)
                                return r;
                        /* Unlinked between the two opens: try creating again. */
                }
                /* Best effort: tmpfs keeps user xattrs since Linux 6.6. */
                format_creator(creator, sizeof(creator), ctx->pid);
                (void) mc_sys.fsetxattr(a->fd, CREATOR_XATTR, creator, strlen(creator), 0);
        }
        if (mc_sys.fstat(a->fd, &st) < 0)
                r = mc__error_errno(err, errno, "shm_open '%s': fstat",
                                    a->name[0] ? a->name : "(anonymous)");
        else if ((r = allocate(a->fd, a->map_len)) < 0)
                r = mc__error_errno(err, r, "shm_open '%s': allocating %zu bytes%s",
                                    a->name[0] ? a->name : "(anonymous)", a->map_len,
                                    r == -ENOSPC ? " (the tmpfs is full)" : "");
        if (r < 0) {
                if (a->name[0])
                        (void) mc_sys.shm_unlink(a->name);
                *ret_created = false;
                return r;
        }
        a->object = (mc__object_id){.dev = (uint64_t) st.st_dev, .ino = (uint64_t) st.st_ino};
        return 0;
}

static int open_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        open_args *a = data;
        bool created = false;
        unsigned seals_after;
        int r;

        if (a->open_failed) {
                mc__error_copy(err, &a->open_err);
                return -a->open_err.sys_errno;
        }
        if (a->fd < 0) {
                r = create_object(ctx, a, &created, err);
                if (r < 0)
                        goto fail;
                if (!created && a->name[0]) {
                        /*
                         * mc_map_shared_buffer() lost a race and opened an object that was not
                         * there when the policy decided. It could be one this context maps
                         * already (renamed into place), so the decision is made again for it.
                         */
                        c->wx_alias = mc__objects_wx(ctx, &a->object, a->req->prot,
                                                     /* shared= */ true, /* self= */ NULL);
                        r = mc__policy_decide(mc__ctx_policy(ctx), c, mc__ctx_usage(ctx), err);
                        if (r < 0) {
                                c->denied = true;
                                goto fail;
                        }
                }
        }
        if (created || !a->name[0]) {
                a->owner_local = true;
                a->owner_pid = ctx->pid;
        } else {
                read_owner(a->fd, ctx->pid, &a->owner_local, &a->owner_pid);
        }

        /* A read-only region can only take MC_SEAL_WRITE before it is mapped: the kernel counts
         * a shared mapping of a read-write descriptor as writable. A writable region takes its
         * seals once mapped (open_common() refused MC_SEAL_WRITE for it). */
        seals_after = a->req->prot & MC_PROT_WRITE ? a->req->seals : 0;
        if (a->req->seals && !seals_after) {
                r = add_seals(a->fd, a->req->seals, err);
                if (r < 0)
                        goto fail;
        }
        r = map_region(ctx, c, a, seals_after, err);
        if (r < 0)
                goto fail;

        a->ret->fd = TAKE_FD(a->fd);
        strscpy(a->ret->name, sizeof(a->ret->name), a->name);
        a->ret->owner = a->owner_local ? MC_OWNER_LOCAL : MC_OWNER_REMOTE;
        a->ret->owner_pid = a->owner_pid;
        c->has_owner = true;
        c->owner_local = a->owner_local;
        c->owner_pid = a->owner_pid;
        return 0;

fail:
        if (created && a->name[0])
                (void) mc_sys.shm_unlink(a->name);
        return r;
}

static const mc__steps open_steps = {.prepare = open_prepare, .syscall = open_syscall};

const char *mc__shm_os_name_invalid(const char *name) {
        (void) name;
        return NULL;
}

int mc__shm_os_check(const mc_shared_request *req, const char *name, mc_error *err) {
        if (req->name && (req->flags & MC_MAP_HUGEPAGE))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open '%s': huge pages are for anonymous regions only",
                                     name);
        if (req->name && req->seals)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "shm_open '%s': named objects cannot be sealed; use an "
                                     "anonymous region (no name)",
                                     name);
        if (req->seals & ~(unsigned) (MC_SEAL_SHRINK | MC_SEAL_GROW | MC_SEAL_WRITE |
                                      MC_SEAL_FUTURE_WRITE | MC_SEAL_SEAL))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: unknown seal bits 0x%x", req->seals);
        if ((req->seals & MC_SEAL_WRITE) && (req->prot & MC_PROT_WRITE))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: MC_SEAL_WRITE forbids the writable mapping asked "
                                     "for; map it read-only or use MC_SEAL_FUTURE_WRITE");
        if ((req->flags & MC_MAP_HUGEPAGE) && req->seals)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_open: huge page regions cannot be sealed");
        return 0;
}

static int open_common(mc_ctx *ctx, const mc_shared_request *req, bool or_create,
                       mc__client_call *cl, mc_shared *ret, mc_error *err) {
        _cleanup_(open_args_done)
                open_args a = {.req = req, .or_create = or_create, .fd = -EBADF, .ret = ret};
        mc_error e = MC_ERROR_INIT;
        mc__call c;
        int r;

        mc__call_init(&c, MC_OP_SHM_OPEN, MC__CAP_MEMORY);
        c.client = cl;
        r = mc__shm_open_begin(&c, req, ret, or_create, a.name, &e);
        if (r >= 0) {
                a.page = c.huge ? mc__huge_page_size() : mc_page_size();
                a.map_len = req->size;
        }
        return mc__ctx_run(ctx, &c, r, &e, &open_steps, &a, err);
}

int mc__shm_os_open(mc_ctx *ctx, const mc_shared_request *req, bool or_create, mc_shared *ret,
                    mc_error *err) {
        return open_common(ctx, req, or_create, /* cl= */ NULL, ret, err);
}

int mc__shared_open_client(mc_ctx *ctx, const mc_shared_request *req, mc__client_call *cl,
                           mc_shared *ret, mc_error *err) {
        return open_common(ctx, req, /* or_create= */ false, cl, ret, err);
}

/* ---- close -------------------------------------------------------------------------------- */

void mc__shm_os_release(int fd) {
        /* close() errors mean nothing for a memory object, and the fd is gone either way. */
        (void) mc_sys.close(fd);
}

/* ---- unlink --------------------------------------------------------------------------------- */

/*
 * The owner of the object an unlink removes goes into its audit record, so a region's life can
 * be followed to its end. It is read from the object itself, opened just before; when that
 * fails (no read permission, not a regular file) or the name turns out to have pointed at
 * another object by the time it was removed, the owner is unknown: Remote(0).
 */
int mc__shm_os_unlink(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        (void) data;
        fd = mc_sys.shm_open(c->req.name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
        if (fd >= 0 && mc_sys.fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                read_owner(fd, ctx->pid, &c->owner_local, &c->owner_pid);
        if (mc_sys.shm_unlink(c->req.name) < 0)
                return mc__error_errno(err, errno, "shm_unlink '%s'", c->req.name);
        if (fd >= 0 && (mc_sys.fstat(fd, &st) < 0 || st.st_nlink != 0)) {
                c->owner_local = false;
                c->owner_pid = 0;
        }
        c->has_owner = true;
        return 0;
}

/* ---- resize --------------------------------------------------------------------------------- */

static int resize_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        mc__shm_args *a = data;
        int r = mc__shm_lookup(ctx, c, data, err);

        if (r < 0)
                return r;
        if (!align_up(a->new_len, a->e->page, &a->new_base_len) ||
            a->new_base_len > (size_t) PTRDIFF_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EOVERFLOW,
                                     "shm_resize: size %zu is too large", a->new_len);
        /* The kernel keeps a partly locked region in pieces, and mremap() refuses those. */
        if (a->e->lockmap)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_resize: the region is partly locked; unlock it (or lock "
                                     "all of it) first");
        if (a->e->protmap)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_resize: parts of the region have different "
                                     "protections; mc_mprotect() all of it first");
        if (a->new_base_len > a->e->base_len) {
                c->add_bytes = a->new_base_len - a->e->base_len;
                c->add_charged = c->add_bytes; /* a region is memory: it counts whole */
                /* A wholly locked region stays wholly locked as it grows (mremap keeps
                 * VM_LOCKED), so the growth counts against max_locked_memory too. */
                if (a->e->locked > 0)
                        c->add_locked = c->add_bytes;
        }
        return 0;
}

/* Set the object's size: fallocate() to grow (real storage, no SIGBUS later), ftruncate() to
 * shrink. Returns 0 or -errno. */
static int set_size(int fd, size_t old_size, size_t new_size) {
        if (new_size > old_size)
                return allocate(fd, new_size);
        if (new_size < old_size && mc_sys.ftruncate(fd, (off_t) new_size) < 0)
                return -errno;
        return 0;
}

static int resize_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        mc__shm_args *a = data;
        mc__entry *e = a->e;
        const char *what = a->shm->name[0] ? a->shm->name : "(anonymous)";
        uint64_t before = mc__entry_charge(e);
        struct stat st;
        size_t old_size;
        void *p;
        int r;

        (void) ctx;
        /* The object may be larger than the region (opened with a smaller size): grow or shrink
         * from what it really is, and know what to restore if the remap fails. */
        if (mc_sys.fstat(e->fd, &st) < 0)
                return mc__error_errno(err, errno, "shm_resize '%s': fstat", what);
        old_size = (size_t) st.st_size;
        /* ftruncate() says EINVAL and fallocate() EBADF for this; say what it means. */
        if ((mc_sys.getfl(e->fd) & O_ACCMODE) == O_RDONLY)
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EBADF,
                                     "shm_resize '%s' to %zu bytes: the object was opened "
                                     "read-only",
                                     what, a->new_len);
        r = set_size(e->fd, old_size, a->new_len);
        if (r < 0)
                return mc__error_errno(err, r, "shm_resize '%s' to %zu bytes%s", what, a->new_len,
                                       r == -EPERM    ? " (sealed against this change)"
                                       : r == -ENOSPC ? " (the tmpfs is full)"
                                                      : "");
        if (a->new_base_len != e->base_len) {
                p = mc_sys.mremap((void *) e->base, e->base_len, a->new_base_len, MREMAP_MAYMOVE,
                                  NULL);
                if (p == MAP_FAILED) {
                        int en = errno;
                        bool restored = set_size(e->fd, a->new_len, old_size) >= 0;
                        return mc__error_errno(err, en,
                                               "shm_resize '%s': remapping to %zu bytes (%s)", what,
                                               a->new_len,
                                               restored ? "the object keeps its old size"
                                                        : "the object has the new size; the "
                                                          "region kept the old one");
                }
                /* resize_prepare() refused a partly locked region: no lockmap here. */
                mc__entry_remapped(e, c, p, a->new_base_len);
        }
        mc__charge_delta(c, before, e);
        e->len = a->new_len;
        mc__entry_to_mapping(e, &a->shm->region);
        c->has_result = true;
        c->res_addr = a->shm->region.ptr;
        c->res_length = e->len;
        return 0;
}

static const mc__steps resize_steps = {.prepare = resize_prepare, .syscall = resize_syscall};

int mc_shared_resize(mc_ctx *ctx, mc_shared *shm, size_t new_size, mc_error *err) {
        mc__shm_args a = {.shm = shm, .new_len = new_size};
        return mc__shm_op(MC_OP_SHM_RESIZE, ctx, shm, &a, &resize_steps, err);
}

/* ---- seals ---------------------------------------------------------------------------------- */

static int seal_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        mc__shm_args *a = data;
        int r = mc__shm_lookup(ctx, c, data, err);

        if (r < 0)
                return r;
        if (a->shm->name[0])
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "shm_seal '%s': named objects cannot be sealed; use an "
                                     "anonymous region (no name)",
                                     a->shm->name);
        return 0;
}

static int seal_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        mc__shm_args *a = data;

        (void) ctx;
        (void) c;
        return add_seals(a->e->fd, a->seals, err);
}

static const mc__steps seal_steps = {.prepare = seal_prepare, .syscall = seal_syscall};

int mc_shared_seal(mc_ctx *ctx, mc_shared *shm, unsigned seals, mc_error *err) {
        mc__shm_args a = {.shm = shm, .seals = seals};
        return mc__shm_op(MC_OP_SHM_SEAL, ctx, shm, &a, &seal_steps, err);
}

int mc_shared_seals(const mc_shared *shm, unsigned *ret_seals, mc_error *err) {
        int s;

        if (!shm || !ret_seals)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "shm_seals: arguments must not be NULL");
        if (shm->name[0]) {
                *ret_seals = 0;
                return 0;
        }
        s = mc_sys.get_seals(shm->fd);
        if (s < 0)
                return mc__error_errno(err, errno, "shm_seals: F_GET_SEALS");
        *ret_seals = (s & F_SEAL_SHRINK ? MC_SEAL_SHRINK : 0) |
                     (s & F_SEAL_GROW ? MC_SEAL_GROW : 0) | (s & F_SEAL_WRITE ? MC_SEAL_WRITE : 0) |
                     (s & F_SEAL_FUTURE_WRITE ? MC_SEAL_FUTURE_WRITE : 0) |
                     (s & F_SEAL_SEAL ? MC_SEAL_SEAL : 0);
        return 0;
}
