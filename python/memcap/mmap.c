/* SPDX-License-Identifier: MIT */
/*
 * memcap.mmap.mmap: the standard mmap.mmap, with every mapping made, changed and released
 * through a memcap context (policy, quotas, audit) and every access to the bytes made through
 * the guarded calls, so a file truncated under the mapping raises memcap.IoError instead of
 * killing the interpreter with SIGBUS.
 *
 * Behaviour, messages and exception types follow the standard module (CPython's own
 * test_mmap.py is run against this type); what memcap adds is documented in docs/python.md.
 * Data-path calls (mc_map_read/mc_map_write/mc_map_visit) run with the GIL held: they are not
 * audited and take only the context's lock, which no thread holds while it waits for the GIL.
 * Audited calls release the GIL, because an audit callback or a signal handler in another
 * thread may need it while holding the context's audit lock.
 *
 * Sections: the object, checks and guarded access, construction, methods, sequence and
 * mapping protocol, buffer protocol, type.
 */

#include "binding.h"

#include <fcntl.h>
#include <structmember.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the object ----------------------------------------------------------------------------- */

enum { ACCESS_DEFAULT, ACCESS_READ, ACCESS_WRITE, ACCESS_COPY };

typedef enum { K_FILE, K_ANON_PRIVATE, K_ANON_SHARED } map_kind;

typedef struct {
        PyObject_HEAD mcp_context *ctx;
        mc_mapping m;  /* the mapping; for K_ANON_SHARED a copy of shm.region */
        mc_shared shm; /* K_ANON_SHARED: the memfd region (shared with fork children) */
        map_kind kind;
        int fd; /* K_FILE: our duplicate of the caller's descriptor */
        int access, prot;
        long long offset;
        Py_ssize_t size, pos;
        Py_ssize_t exports;
        bool closed;
        bool busy; /* a resize or close runs without the GIL */
        PyObject *weakreflist;
} mcp_mmap;

static PyObject *mmap_type;

/* ---- checks and guarded access -------------------------------------------------------------- */

static int check_valid(mcp_mmap *self) {
        if (self->closed) {
                PyErr_SetString(PyExc_ValueError, "mmap closed or invalid");
                return -1;
        }
        return 0;
}

static int check_writable(mcp_mmap *self) {
        if (self->access == ACCESS_READ || !(self->prot & PROT_WRITE)) {
                PyErr_SetString(PyExc_TypeError, "mmap can't modify a readonly memory map.");
                return -1;
        }
        return 0;
}

static int check_idle(mcp_mmap *self) {
        if (self->busy) {
                PyErr_SetString(PyExc_ValueError,
                                "mmap is being resized or closed by another thread");
                return -1;
        }
        return 0;
}

/* Ready @err to be filled on failure: zeroing all of it would cost a slice 2-3%. */
static inline void error_clear(mc_error *err) {
        err->kind = MC_OK;
        err->message[0] = '\0';
}

static int guarded_read(mcp_mmap *self, Py_ssize_t off, void *buf, Py_ssize_t n) {
        mc_error err;

        error_clear(&err);
        if (mc_map_read(self->ctx->ctx, &self->m, (size_t) off, buf, (size_t) n, &err) < 0)
                return mcp_raise_int(&err, MC_DOMAIN_MEMORY);
        return 0;
}

static int guarded_write(mcp_mmap *self, Py_ssize_t off, const void *buf, Py_ssize_t n) {
        mc_error err;

        error_clear(&err);
        if (mc_map_write(self->ctx->ctx, &self->m, (size_t) off, buf, (size_t) n, &err) < 0)
                return mcp_raise_int(&err, MC_DOMAIN_MEMORY);
        return 0;
}

/* mc_map_visit() with the error raised; returns what @fn returned or -1 with an exception. */
static int guarded_visit(mcp_mmap *self, Py_ssize_t off, Py_ssize_t n, unsigned prot,
                         mc_map_visitor fn, void *ud) {
        mc_error err;
        int r;

        error_clear(&err);
        r = mc_map_visit(self->ctx->ctx, &self->m, (size_t) off, (size_t) n, prot, fn, ud, &err);
        return r < 0 ? mcp_raise_int(&err, MC_DOMAIN_MEMORY) : r;
}

/* bytes of @n bytes at @off, read through the guard. */
static PyObject *read_bytes(mcp_mmap *self, Py_ssize_t off, Py_ssize_t n) {
        PyObject *b = PyBytes_FromStringAndSize(NULL, n);

        if (!b || n == 0)
                return b;
        if (guarded_read(self, off, PyBytes_AsString(b), n) < 0) {
                Py_DECREF(b);
                return NULL;
        }
        return b;
}

/* ---- construction ------------------------------------------------------------------------- */

/* The mmap(2) flags the standard module lets through, as memcap names them. */
static const struct {
        int flag;
        const char *custom; /* NULL: a flag memcap takes as a bit */
        unsigned mc_flag;
} flag_map[] = {
        {MAP_SHARED, NULL, MC_MAP_SHARED},
        {MAP_PRIVATE, NULL, MC_MAP_PRIVATE},
        {MAP_FIXED, NULL, MC_MAP_FIXED},
        {MAP_HUGETLB, NULL, MC_MAP_HUGEPAGE},
        {MAP_ANONYMOUS, NULL, 0},
        {MAP_POPULATE, "MAP_POPULATE", 0},
        {MAP_NORESERVE, "MAP_NORESERVE", 0},
        {MAP_LOCKED, "MAP_LOCKED", 0},
        {MAP_STACK, "MAP_STACK", 0},
        {MAP_DENYWRITE, NULL, 0},
        {MAP_EXECUTABLE, NULL, 0},
};

#define N_FLAGS (sizeof(flag_map) / sizeof(flag_map[0]))

/* Split @flags into memcap bits and custom names; -1 with an exception for unknown bits. */
static int translate_flags(int flags, unsigned *ret_bits, const char **custom, size_t *ret_n) {
        unsigned bits = 0;
        size_t n = 0;
        int left = flags;

        for (size_t i = 0; i < N_FLAGS; i++) {
                if (!(flags & flag_map[i].flag))
                        continue;
                left &= ~flag_map[i].flag;
                bits |= flag_map[i].mc_flag;
                if (flag_map[i].custom)
                        custom[n++] = flag_map[i].custom;
        }
        if (left) {
                mc_error err = {MC_ERR_UNSUPPORTED, EINVAL, ""};
                snprintf(err.message, sizeof(err.message),
                         "mmap: flags 0x%x are not supported by memcap.mmap (known: MAP_SHARED, "
                         "MAP_PRIVATE, MAP_ANONYMOUS, MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED, "
                         "MAP_STACK, MAP_HUGETLB, MAP_FIXED with address=)",
                         (unsigned) left);
                return mcp_raise_int(&err, MC_DOMAIN_MEMORY);
        }
        *ret_bits = bits;
        *ret_n = n;
        return 0;
}

static int map_anonymous(mcp_mmap *self, Py_ssize_t size, int prot, unsigned bits,
                         const char *const *custom, size_t n_custom, void *addr, mc_error *err) {
        mc_ctx *ctx = self->ctx->ctx;
        int r;

        if (bits & MC_MAP_SHARED) {
                mc_shared_request req = MC_SHARED_REQUEST_INIT;
                mc_shared shm;

                /* Shared anonymous memory is a memfd region: fork() children see its writes. */
                if (n_custom > 0 || addr || (bits & MC_MAP_FIXED)) {
                        mc_error e = {MC_ERR_UNSUPPORTED, EINVAL, ""};
                        snprintf(e.message, sizeof(e.message),
                                 "mmap: %s is not supported for anonymous shared memory (a memfd "
                                 "region)",
                                 n_custom > 0 ? custom[0] : "MAP_FIXED");
                        *err = e;
                        return -EINVAL;
                }
                req.size = (size_t) size;
                req.create = true;
                req.prot = (unsigned) prot;
                req.flags = bits & MC_MAP_HUGEPAGE;
                Py_BEGIN_ALLOW_THREADS r = mc_shared_open(ctx, &req, &shm, err);
                Py_END_ALLOW_THREADS if (r < 0) return r;
                self->shm = shm;
                self->m = shm.region;
                self->kind = K_ANON_SHARED;
                return 0;
        } else {
                mc_map_request req = MC_MAP_REQUEST_INIT;
                mc_mapping m;

                req.addr = addr;
                req.length = (size_t) size;
                req.prot = (unsigned) prot;
                req.flags = (bits & ~MC_MAP_SHARED) | MC_MAP_ANONYMOUS;
                req.custom = custom;
                req.n_custom = n_custom;
                Py_BEGIN_ALLOW_THREADS r = mc_mmap(ctx, &req, &m, err);
                Py_END_ALLOW_THREADS if (r < 0) return r;
                self->m = m;
                self->kind = K_ANON_PRIVATE;
                return 0;
        }
}

static PyObject *mmap_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"fileno",  "length",  "flags",  "prot",  "access", "offset",
                                 "address", "context", "policy", "audit", NULL};
        int fd, flags = MAP_SHARED, prot = PROT_WRITE | PROT_READ, access = ACCESS_DEFAULT;
        PyObject *address = Py_None, *context = Py_None, *policy = Py_None, *audit = Py_None;
        const char *custom[N_FLAGS];
        mc_error err = MC_ERROR_INIT;
        Py_ssize_t size;
        long long offset = 0;
        size_t n_custom = 0;
        void *addr = NULL;
        mcp_mmap *self;
        unsigned bits = 0;
        allocfunc alloc;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "in|iiiL$OOOO:mmap", kwlist, &fd, &size,
                                         &flags, &prot, &access, &offset, &address, &context,
                                         &policy, &audit))
                return NULL;
        if (size < 0)
                return PyErr_Format(PyExc_OverflowError, "memory mapped length must be positive");
        if (offset < 0)
                return PyErr_Format(PyExc_OverflowError, "memory mapped offset must be positive");
        if (access != ACCESS_DEFAULT && (flags != MAP_SHARED || prot != (PROT_WRITE | PROT_READ)))
                return PyErr_Format(PyExc_ValueError,
                                    "mmap can't specify both access and flags, prot.");
        switch (access) {
        case ACCESS_READ:
                flags = MAP_SHARED;
                prot = PROT_READ;
                break;
        case ACCESS_WRITE:
                flags = MAP_SHARED;
                prot = PROT_READ | PROT_WRITE;
                break;
        case ACCESS_COPY:
                flags = MAP_PRIVATE;
                prot = PROT_READ | PROT_WRITE;
                break;
        case ACCESS_DEFAULT:
                /* Without PROT_WRITE the map is read-only, whatever the flags say. */
                if (!((prot & PROT_READ) && (prot & PROT_WRITE)))
                        access = (prot & PROT_WRITE) ? ACCESS_WRITE : ACCESS_READ;
                break;
        default:
                return PyErr_Format(PyExc_ValueError, "mmap invalid access parameter.");
        }
        if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
                return PyErr_Format(PyExc_ValueError, "mmap: unknown prot bits 0x%x",
                                    (unsigned) (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)));
        if (address != Py_None) {
                addr = PyLong_AsVoidPtr(address);
                if (!addr && PyErr_Occurred())
                        return NULL;
        }
        if (translate_flags(flags, &bits, custom, &n_custom) < 0)
                return NULL;
        if (fd != -1) {
                struct stat st;

                if (fstat(fd, &st) < 0)
                        return PyErr_SetFromErrno(PyExc_OSError);
                if (S_ISREG(st.st_mode)) {
                        if (size == 0) {
                                if (st.st_size == 0)
                                        return PyErr_Format(PyExc_ValueError,
                                                            "cannot mmap an empty file");
                                if (offset >= st.st_size)
                                        return PyErr_Format(PyExc_ValueError,
                                                            "mmap offset is greater than file "
                                                            "size");
                                if (st.st_size - offset > PY_SSIZE_T_MAX)
                                        return PyErr_Format(PyExc_ValueError,
                                                            "mmap length is too large");
                                size = (Py_ssize_t) (st.st_size - offset);
                        } else if (offset > st.st_size || st.st_size - offset < size) {
                                return PyErr_Format(PyExc_ValueError,
                                                    "mmap length is greater than file size");
                        }
                }
        }

        alloc = (allocfunc) PyType_GetSlot(type, Py_tp_alloc);
        self = (mcp_mmap *) alloc(type, 0);
        if (!self)
                return NULL;
        self->fd = -1;
        self->shm.fd = -1;
        self->closed = true; /* until mapped: dealloc then has nothing to release */
        self->access = access;
        self->prot = prot;
        self->offset = offset;
        self->ctx = mcp_context_pick(context, policy, audit);
        if (!self->ctx)
                goto fail_py;

        if (fd == -1) {
                r = map_anonymous(self, size, prot, bits, custom, n_custom, addr, &err);
        } else {
                mc_map_request req = MC_MAP_REQUEST_INIT;
                mc_ctx *ctx = self->ctx->ctx;
                mc_mapping m;

                self->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (self->fd < 0) {
                        PyErr_SetFromErrno(PyExc_OSError);
                        goto fail_py;
                }
                req.addr = addr;
                req.length = (size_t) size;
                req.prot = (unsigned) prot;
                req.flags = bits;
                req.custom = custom;
                req.n_custom = n_custom;
                req.fd = self->fd;
                req.offset = (uint64_t) offset;
                Py_BEGIN_ALLOW_THREADS r = mc_mmap(ctx, &req, &m, &err);
                Py_END_ALLOW_THREADS if (r >= 0) {
                        self->m = m;
                        self->kind = K_FILE;
                }
        }
        if (r < 0) {
                mcp_raise(&err, MC_DOMAIN_MEMORY);
                goto fail_py;
        }
        self->size = size;
        self->closed = false;
        return (PyObject *) self;
fail_py:
        Py_DECREF(self);
        return NULL;
}

/* Release the mapping and descriptor; called with the GIL, drops it around the calls. */
static void release(mcp_mmap *self) {
        mc_ctx *ctx = self->ctx ? self->ctx->ctx : NULL;
        mc_mapping m = self->m;
        mc_shared shm = self->shm;
        map_kind kind = self->kind;
        int fd = self->fd;

        self->closed = true;
        self->fd = -1;
        self->shm.fd = -1;
        memset(&self->m, 0, sizeof(self->m));
        if (!ctx)
                return;
        Py_BEGIN_ALLOW_THREADS if (kind == K_ANON_SHARED) mc_shared_close(ctx, &shm, NULL);
        else mc_unmap(ctx, &m, NULL);
        if (fd >= 0)
                close(fd);
        Py_END_ALLOW_THREADS
}

static void mmap_dealloc(mcp_mmap *self) {
        if (self->weakreflist)
                PyObject_ClearWeakRefs((PyObject *) self);
        if (!self->closed)
                release(self);
        else if (self->fd >= 0)
                close(self->fd);
        Py_CLEAR(self->ctx);
        mcp_free_instance((PyObject *) self);
}

/* ---- methods ------------------------------------------------------------------------------ */

static PyObject *mmap_close(mcp_mmap *self, PyObject *unused) {
        (void) unused;
        if (self->exports > 0)
                return PyErr_Format(PyExc_BufferError, "cannot close exported pointers exist");
        if (self->closed)
                Py_RETURN_NONE;
        if (check_idle(self) < 0)
                return NULL;
        self->busy = true;
        release(self);
        self->busy = false;
        Py_RETURN_NONE;
}

/* Arguments "start" and "end" of find/rfind: an int or None. */
static int opt_ssize(PyObject *o, Py_ssize_t *ret) {
        if (!o || o == Py_None)
                return 0;
        *ret = PyNumber_AsSsize_t(o, PyExc_OverflowError);
        return *ret == -1 && PyErr_Occurred() ? -1 : 0;
}

typedef struct {
        const char *needle;
        size_t len;
        Py_ssize_t found;
} find_args;

static int find_forward(void *p, size_t n, void *ud) {
        find_args *a = ud;
        const char *hit = memmem(p, n, a->needle, a->len);

        a->found = hit ? hit - (const char *) p : -1;
        return 0;
}

static int find_backward(void *p, size_t n, void *ud) {
        find_args *a = ud;
        const char *b = p;
        size_t lim = n - a->len + 1; /* candidate starts are [0, lim) */

        a->found = -1;
        while (lim > 0) {
                const char *q = memrchr(b, (unsigned char) a->needle[0], lim);
                if (!q)
                        break;
                if (memcmp(q, a->needle, a->len) == 0) {
                        a->found = q - b;
                        break;
                }
                lim = (size_t) (q - b);
        }
        return 0;
}

static PyObject *gfind(mcp_mmap *self, PyObject *args, bool reverse) {
        Py_ssize_t start = self->pos, end = self->size;
        PyObject *s = NULL, *e = NULL;
        find_args a;
        Py_buffer view;
        int r;

        if (check_valid(self) < 0)
                return NULL;
        if (!PyArg_ParseTuple(args, reverse ? "y*|OO:rfind" : "y*|OO:find", &view, &s, &e))
                return NULL;
        if (opt_ssize(s, &start) < 0 || opt_ssize(e, &end) < 0) {
                PyBuffer_Release(&view);
                return NULL;
        }
        if (start < 0 && (start += self->size) < 0)
                start = 0;
        else if (start > self->size)
                start = self->size;
        if (end < 0 && (end += self->size) < 0)
                end = 0;
        else if (end > self->size)
                end = self->size;

        a.needle = view.buf;
        a.len = (size_t) view.len;
        a.found = -1;
        if (end < start || end - start < view.len) {
                a.found = -1;
        } else if (view.len == 0) {
                a.found = reverse ? end - start : 0;
        } else {
                r = guarded_visit(self, start, end - start, MC_PROT_READ,
                                  reverse ? find_backward : find_forward, &a);
                if (r < 0) {
                        PyBuffer_Release(&view);
                        return NULL;
                }
        }
        PyBuffer_Release(&view);
        return PyLong_FromSsize_t(a.found < 0 ? -1 : start + a.found);
}

static PyObject *mmap_find(mcp_mmap *self, PyObject *args) {
        return gfind(self, args, false);
}

static PyObject *mmap_rfind(mcp_mmap *self, PyObject *args) {
        return gfind(self, args, true);
}

static PyObject *mmap_flush(mcp_mmap *self, PyObject *args) {
        Py_ssize_t offset = 0, size = self->size;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        int r;

        if (check_valid(self) < 0)
                return NULL;
        if (!PyArg_ParseTuple(args, "|nn:flush", &offset, &size))
                return NULL;
        if (size < 0 || offset < 0 || self->size - offset < size)
                return PyErr_Format(PyExc_ValueError, "flush values out of range");
        if (self->access == ACCESS_READ || self->access == ACCESS_COPY || size == 0)
                Py_RETURN_NONE;
        if (offset % (Py_ssize_t) mc_page_size() != 0) {
                errno = EINVAL;
                return PyErr_SetFromErrno(PyExc_OSError); /* msync(2) takes page addresses */
        }
        if (self->kind == K_FILE) {
                struct stat st;

                if (fstat(self->fd, &st) < 0)
                        return PyErr_SetFromErrno(PyExc_OSError);
                if (S_ISREG(st.st_mode) && st.st_size < self->offset + offset + size) {
                        err.kind = MC_ERR_IO;
                        err.sys_errno = EIO;
                        snprintf(err.message, sizeof(err.message),
                                 "flush: the file is now %lld bytes, shorter than the %zd bytes "
                                 "mapped at offset %lld (truncated?): what was written past its "
                                 "end is lost",
                                 (long long) st.st_size, self->size, self->offset);
                        return mcp_raise(&err, MC_DOMAIN_MEMORY);
                }
        }
        m = self->m;
        Py_BEGIN_ALLOW_THREADS r =
                mc_msync(self->ctx->ctx, &m, (size_t) offset, (size_t) size, MC_SYNC_SYNC, &err);
        Py_END_ALLOW_THREADS return mcp_none_or_raise(r, &err, MC_DOMAIN_MEMORY);
}

/*
 * The standard MADV_* values and memcap's advice for each; the module exports the names too
 * (mcp_mmap_init), so the two lists cannot drift apart.
 */
#define ADVICE(n)                                                                                  \
        { "MADV_" #n, MADV_##n, MC_ADVICE_##n }
static const struct {
        const char *name;
        int madv;
        mc_advice advice;
} advice_map[] = {
        ADVICE(NORMAL),         ADVICE(RANDOM),     ADVICE(SEQUENTIAL), ADVICE(WILLNEED),
        ADVICE(DONTNEED),       ADVICE(FREE),       ADVICE(REMOVE),     ADVICE(DONTFORK),
        ADVICE(DOFORK),         ADVICE(WIPEONFORK), ADVICE(KEEPONFORK), ADVICE(HUGEPAGE),
        ADVICE(NOHUGEPAGE),     ADVICE(DONTDUMP),   ADVICE(DODUMP),     ADVICE(MERGEABLE),
        ADVICE(UNMERGEABLE),    ADVICE(COLD),       ADVICE(PAGEOUT),    ADVICE(POPULATE_READ),
        ADVICE(POPULATE_WRITE),
};
#undef ADVICE

static PyObject *mmap_madvise(mcp_mmap *self, PyObject *args) {
        Py_ssize_t start = 0, length = self->size;
        mc_error err = MC_ERROR_INIT;
        int option, found = -1, r;
        mc_mapping m;

        if (check_valid(self) < 0)
                return NULL;
        length = self->size;
        if (!PyArg_ParseTuple(args, "i|nn:madvise", &option, &start, &length))
                return NULL;
        if (start < 0 || start >= self->size)
                return PyErr_Format(PyExc_ValueError, "madvise start out of bounds");
        if (length < 0)
                return PyErr_Format(PyExc_ValueError, "madvise length invalid");
        if (PY_SSIZE_T_MAX - start < length)
                return PyErr_Format(PyExc_OverflowError, "madvise length too large");
        if (start + length > self->size)
                length = self->size - start;
        for (size_t i = 0; i < sizeof(advice_map) / sizeof(advice_map[0]); i++)
                if (advice_map[i].madv == option)
                        found = (int) i;
        if (found < 0)
                return PyErr_Format(PyExc_ValueError,
                                    "madvise: advice %d is not one memcap knows (use the "
                                    "MADV_* constants of memcap.mmap)",
                                    option);
        m = self->m;
        Py_BEGIN_ALLOW_THREADS r = mc_madvise(self->ctx->ctx, &m, (size_t) start, (size_t) length,
                                              advice_map[found].advice, &err);
        Py_END_ALLOW_THREADS return mcp_none_or_raise(r, &err, MC_DOMAIN_MEMORY);
}

typedef struct {
        Py_ssize_t dst, src, n;
} move_args;

static int do_move(void *p, size_t n, void *ud) {
        move_args *a = ud;

        (void) n;
        memmove((char *) p + a->dst, (char *) p + a->src, (size_t) a->n);
        return 0;
}

static PyObject *mmap_move(mcp_mmap *self, PyObject *args) {
        Py_ssize_t dest, src, cnt, lo, hi;
        move_args a;

        if (!PyArg_ParseTuple(args, "nnn:move", &dest, &src, &cnt))
                return NULL;
        if (check_valid(self) < 0 || check_writable(self) < 0)
                return NULL;
        if (dest < 0 || src < 0 || cnt < 0 || self->size - dest < cnt || self->size - src < cnt)
                return PyErr_Format(PyExc_ValueError, "source, destination, or count out of range");
        if (cnt == 0)
                Py_RETURN_NONE;
        lo = dest < src ? dest : src;
        hi = (dest > src ? dest : src) + cnt;
        a.dst = dest - lo;
        a.src = src - lo;
        a.n = cnt;
        if (guarded_visit(self, lo, hi - lo, MC_PROT_READ | MC_PROT_WRITE, do_move, &a) < 0)
                return NULL;
        Py_RETURN_NONE;
}

static PyObject *mmap_read(mcp_mmap *self, PyObject *args) {
        Py_ssize_t n = PY_SSIZE_T_MAX, left;
        PyObject *arg = Py_None, *r;

        if (check_valid(self) < 0)
                return NULL;
        if (!PyArg_ParseTuple(args, "|O:read", &arg))
                return NULL;
        if (arg != Py_None) {
                if (!PyIndex_Check(arg)) {
                        PyObject *name = PyType_GetName(Py_TYPE(arg));
                        if (name)
                                PyErr_Format(PyExc_TypeError,
                                             "read() argument should be integer or None, not "
                                             "'%U'",
                                             name);
                        Py_XDECREF(name);
                        return NULL;
                }
                n = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
                if (n == -1 && PyErr_Occurred())
                        return NULL;
        }
        left = self->pos < self->size ? self->size - self->pos : 0;
        if (n < 0 || n > left)
                n = left;
        r = read_bytes(self, self->pos, n);
        if (r)
                self->pos += n;
        return r;
}

static PyObject *mmap_read_byte(mcp_mmap *self, PyObject *unused) {
        unsigned char c;

        (void) unused;
        if (check_valid(self) < 0)
                return NULL;
        if (self->pos >= self->size)
                return PyErr_Format(PyExc_ValueError, "read byte out of range");
        if (guarded_read(self, self->pos, &c, 1) < 0)
                return NULL;
        self->pos++;
        return PyLong_FromLong(c);
}

static int line_end(void *p, size_t n, void *ud) {
        const char *nl = memchr(p, '\n', n);

        *(Py_ssize_t *) ud = nl ? nl - (const char *) p + 1 : (Py_ssize_t) n;
        return 0;
}

static PyObject *mmap_readline(mcp_mmap *self, PyObject *unused) {
        Py_ssize_t left, n = 0;
        PyObject *r;

        (void) unused;
        if (check_valid(self) < 0)
                return NULL;
        left = self->pos < self->size ? self->size - self->pos : 0;
        if (left > 0 && guarded_visit(self, self->pos, left, MC_PROT_READ, line_end, &n) < 0)
                return NULL;
        r = read_bytes(self, self->pos, n);
        if (r)
                self->pos += n;
        return r;
}

static PyObject *mmap_resize(mcp_mmap *self, PyObject *args) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *ctx;
        mc_mapping m;
        mc_shared shm;
        Py_ssize_t n;
        int r = 0;

        if (!PyArg_ParseTuple(args, "n:resize", &n) || check_valid(self) < 0)
                return NULL;
        if (self->exports > 0)
                return PyErr_Format(PyExc_BufferError,
                                    "mmap can't resize with extant buffers exported.");
        if (self->access != ACCESS_WRITE && self->access != ACCESS_DEFAULT)
                return PyErr_Format(PyExc_TypeError,
                                    "mmap can't resize a readonly or copy-on-write memory map.");
        if (n < 0 || PY_SSIZE_T_MAX - n < self->offset)
                return PyErr_Format(PyExc_ValueError, "new size out of range");
        if (n == 0)
                return PyErr_Format(PyExc_ValueError,
                                    "new size out of range: a mapping cannot be empty");
        if (check_idle(self) < 0)
                return NULL;
        if (self->kind == K_FILE && ftruncate(self->fd, (off_t) (self->offset + n)) < 0)
                return PyErr_SetFromErrno(PyExc_OSError);
        ctx = self->ctx->ctx;
        m = self->m;
        shm = self->shm;
        self->busy = true;
        Py_BEGIN_ALLOW_THREADS if (self->kind == K_ANON_SHARED) r =
                mc_shared_resize(ctx, &shm, (size_t) n, &err);
        else r = mc_remap(ctx, &m, (size_t) n, MC_REMAP_MAYMOVE, &err);
        Py_END_ALLOW_THREADS self->busy = false;
        if (r < 0)
                return mcp_raise(&err, MC_DOMAIN_MEMORY);
        if (self->kind == K_ANON_SHARED) {
                self->shm = shm;
                self->m = shm.region;
        } else {
                self->m = m;
        }
        self->size = n;
        Py_RETURN_NONE;
}

static PyObject *mmap_seek(mcp_mmap *self, PyObject *args) {
        Py_ssize_t dist, where;
        int how = 0;

        if (check_valid(self) < 0 || !PyArg_ParseTuple(args, "n|i:seek", &dist, &how))
                return NULL;
        switch (how) {
        case 0:
                where = dist;
                break;
        case 1:
                if (PY_SSIZE_T_MAX - self->pos < dist)
                        goto onoutofrange;
                where = self->pos + dist;
                break;
        case 2:
                if (PY_SSIZE_T_MAX - self->size < dist)
                        goto onoutofrange;
                where = self->size + dist;
                break;
        default:
                return PyErr_Format(PyExc_ValueError, "unknown seek type");
        }
        if (where > self->size || where < 0)
                goto onoutofrange;
        self->pos = where;
        Py_RETURN_NONE;
onoutofrange:
        return PyErr_Format(PyExc_ValueError, "seek out of range");
}

static PyObject *mmap_size(mcp_mmap *self, PyObject *unused) {
        struct stat st;

        (void) unused;
        if (check_valid(self) < 0)
                return NULL;
        if (self->kind != K_FILE)
                return PyLong_FromSsize_t(self->size);
        if (fstat(self->fd, &st) < 0)
                return PyErr_SetFromErrno(PyExc_OSError);
        return PyLong_FromLongLong((long long) st.st_size);
}

static PyObject *mmap_tell(mcp_mmap *self, PyObject *unused) {
        (void) unused;
        if (check_valid(self) < 0)
                return NULL;
        return PyLong_FromSsize_t(self->pos);
}

static PyObject *mmap_write(mcp_mmap *self, PyObject *args) {
        Py_buffer data;
        PyObject *r;

        if (check_valid(self) < 0 || !PyArg_ParseTuple(args, "y*:write", &data))
                return NULL;
        if (check_writable(self) < 0) {
                PyBuffer_Release(&data);
                return NULL;
        }
        if (self->pos > self->size || self->size - self->pos < data.len) {
                PyBuffer_Release(&data);
                return PyErr_Format(PyExc_ValueError, "data out of range");
        }
        if (guarded_write(self, self->pos, data.buf, data.len) < 0) {
                PyBuffer_Release(&data);
                return NULL;
        }
        self->pos += data.len;
        r = PyLong_FromSsize_t(data.len);
        PyBuffer_Release(&data);
        return r;
}

static PyObject *mmap_write_byte(mcp_mmap *self, PyObject *args) {
        unsigned char c;

        if (check_valid(self) < 0 || !PyArg_ParseTuple(args, "b:write_byte", &c))
                return NULL;
        if (check_writable(self) < 0)
                return NULL;
        if (self->pos >= self->size)
                return PyErr_Format(PyExc_ValueError, "write byte out of range");
        if (guarded_write(self, self->pos, &c, 1) < 0)
                return NULL;
        self->pos++;
        Py_RETURN_NONE;
}

static PyObject *mmap_enter(mcp_mmap *self, PyObject *unused) {
        (void) unused;
        if (check_valid(self) < 0)
                return NULL;
        Py_INCREF((PyObject *) self);
        return (PyObject *) self;
}

static PyObject *mmap_exit(mcp_mmap *self, PyObject *args) {
        (void) args;
        return mmap_close(self, NULL);
}

static PyObject *mmap_reduce(mcp_mmap *self, PyObject *unused) {
        (void) self;
        (void) unused;
        return PyErr_Format(PyExc_TypeError, "cannot pickle 'mmap.mmap' object");
}

static PyObject *mmap_reduce_ex(mcp_mmap *self, PyObject *proto) {
        (void) proto;
        return mmap_reduce(self, NULL);
}

static PyObject *mmap_get_closed(mcp_mmap *self, void *closure) {
        (void) closure;
        return PyBool_FromLong(self->closed);
}

static PyObject *mmap_get_context(mcp_mmap *self, void *closure) {
        (void) closure;
        Py_INCREF((PyObject *) self->ctx);
        return (PyObject *) self->ctx;
}

static PyObject *mmap_get_faulted(mcp_mmap *self, void *closure) {
        (void) closure;
        return PyBool_FromLong(!self->closed && mc_map_is_faulted(self->ctx->ctx, &self->m));
}

static PyObject *mmap_repr(mcp_mmap *self) {
        static const char *names[] = {"ACCESS_DEFAULT", "ACCESS_READ", "ACCESS_WRITE",
                                      "ACCESS_COPY"};

        if (self->closed)
                return PyUnicode_FromString("<mmap.mmap closed=True>");
        return PyUnicode_FromFormat("<mmap.mmap closed=False, access=%s, length=%zd, pos=%zd, "
                                    "offset=%lld>",
                                    names[self->access], self->size, self->pos, self->offset);
}

/* ---- sequence and mapping protocol ---------------------------------------------------------- */

static Py_ssize_t mmap_length(mcp_mmap *self) {
        if (check_valid(self) < 0)
                return -1;
        return self->size;
}

static PyObject *mmap_item(mcp_mmap *self, Py_ssize_t i) {
        if (check_valid(self) < 0)
                return NULL;
        if (i < 0 || i >= self->size)
                return PyErr_Format(PyExc_IndexError, "mmap index out of range");
        return read_bytes(self, i, 1);
}

typedef struct {
        char *buf;
        Py_ssize_t n, first, step; /* element j is at first + j * step in the visited range */
        bool store;
} stride_args;

static int stride(void *p, size_t len, void *ud) {
        stride_args *a = ud;
        char *base = p;

        (void) len;
        for (Py_ssize_t j = 0; j < a->n; j++) {
                if (a->store)
                        base[a->first + j * a->step] = a->buf[j];
                else
                        a->buf[j] = base[a->first + j * a->step];
        }
        return 0;
}

/* Visit the smallest range holding every element of the extended slice. */
static int visit_stride(mcp_mmap *self, Py_ssize_t start, Py_ssize_t step, Py_ssize_t n, char *buf,
                        bool store) {
        Py_ssize_t last = start + (n - 1) * step;
        Py_ssize_t lo = step > 0 ? start : last, hi = step > 0 ? last : start;
        stride_args a = {buf, n, start - lo, step, store};

        return guarded_visit(self, lo, hi - lo + 1,
                             store ? MC_PROT_READ | MC_PROT_WRITE : MC_PROT_READ, stride, &a);
}

static PyObject *mmap_subscript(mcp_mmap *self, PyObject *item) {
        Py_ssize_t start, stop, step, n;
        PyObject *b;

        if (check_valid(self) < 0)
                return NULL;
        /* Slices first: PySlice_Check is a type comparison, PyIndex_Check a call. */
        if (PySlice_Check(item)) {
                if (PySlice_Unpack(item, &start, &stop, &step) < 0)
                        return NULL;
                n = PySlice_AdjustIndices(self->size, &start, &stop, step);
                if (n <= 0)
                        return PyBytes_FromStringAndSize("", 0);
                if (step == 1)
                        return read_bytes(self, start, n);
                b = PyBytes_FromStringAndSize(NULL, n);
                if (b && visit_stride(self, start, step, n, PyBytes_AsString(b), false) < 0)
                        Py_CLEAR(b);
                return b;
        }
        if (PyIndex_Check(item)) {
                unsigned char c;
                Py_ssize_t i = PyNumber_AsSsize_t(item, PyExc_IndexError);

                if (i == -1 && PyErr_Occurred())
                        return NULL;
                if (i < 0)
                        i += self->size;
                if (i < 0 || i >= self->size)
                        return PyErr_Format(PyExc_IndexError, "mmap index out of range");
                if (guarded_read(self, i, &c, 1) < 0)
                        return NULL;
                return PyLong_FromLong(c);
        }
        return PyErr_Format(PyExc_TypeError, "mmap indices must be integers");
}

static int mmap_ass_subscript(mcp_mmap *self, PyObject *item, PyObject *value) {
        Py_ssize_t start, stop, step, n;
        Py_buffer v;
        int r;

        if (check_valid(self) < 0)
                return -1;
        if (!value) {
                PyErr_SetString(PyExc_TypeError, "mmap object doesn't support item deletion");
                return -1;
        }
        if (check_writable(self) < 0)
                return -1;
        if (PyIndex_Check(item)) {
                Py_ssize_t i = PyNumber_AsSsize_t(item, PyExc_IndexError);
                unsigned char c;
                long x;

                if (i == -1 && PyErr_Occurred())
                        return -1;
                if (i < 0)
                        i += self->size;
                if (i < 0 || i >= self->size) {
                        PyErr_SetString(PyExc_IndexError, "mmap index out of range");
                        return -1;
                }
                if (!PyIndex_Check(value)) {
                        PyErr_SetString(PyExc_TypeError, "mmap item value must be an int");
                        return -1;
                }
                x = PyLong_AsLong(value);
                if (x == -1 && PyErr_Occurred())
                        return -1;
                if (x < 0 || x > 255) {
                        PyErr_SetString(PyExc_ValueError,
                                        "mmap item value must be in range(0, 256)");
                        return -1;
                }
                c = (unsigned char) x;
                return guarded_write(self, i, &c, 1);
        }
        if (!PySlice_Check(item)) {
                PyErr_SetString(PyExc_TypeError, "mmap indices must be integer");
                return -1;
        }
        if (PySlice_Unpack(item, &start, &stop, &step) < 0)
                return -1;
        n = PySlice_AdjustIndices(self->size, &start, &stop, step);
        if (PyObject_GetBuffer(value, &v, PyBUF_SIMPLE) < 0)
                return -1;
        if (v.len != n) {
                PyErr_SetString(PyExc_IndexError, "mmap slice assignment is wrong size");
                PyBuffer_Release(&v);
                return -1;
        }
        if (n == 0)
                r = 0;
        else if (step == 1)
                r = guarded_write(self, start, v.buf, n);
        else
                r = visit_stride(self, start, step, n, v.buf, true) < 0 ? -1 : 0;
        PyBuffer_Release(&v);
        return r;
}

/* ---- buffer protocol ------------------------------------------------------------------------ */

/*
 * The buffer protocol hands out the mapping's memory itself (memoryview, re, hashlib, numpy):
 * that is what makes it fast, and it is not guarded. Readers of a file that may shrink under
 * them should use the methods and slicing, which are.
 */
static int mmap_getbuffer(mcp_mmap *self, Py_buffer *view, int flags) {
        bool ro = self->access == ACCESS_READ || !(self->prot & PROT_WRITE);

        if (check_valid(self) < 0 || check_idle(self) < 0)
                return -1;
        if (PyBuffer_FillInfo(view, (PyObject *) self, self->m.ptr, self->size, ro, flags) < 0)
                return -1;
        self->exports++;
        return 0;
}

static void mmap_releasebuffer(mcp_mmap *self, Py_buffer *view) {
        (void) view;
        self->exports--;
}

/* ---- type ---------------------------------------------------------------------------------- */

static PyMethodDef mmap_methods[] = {
        {"close", (PyCFunction) mmap_close, METH_NOARGS,
         "close()\n\nUnmap (audited) and close the duplicated descriptor. BufferError while "
         "buffers are exported; closing twice is harmless."},
        {"find", (PyCFunction) mmap_find, METH_VARARGS,
         "find(sub[, start[, end]]) -> int\n\nThe lowest index of sub in [start, end), or -1. "
         "Searches the mapping in place (no copy); memcap.IoError if the file was truncated "
         "under the range."},
        {"rfind", (PyCFunction) mmap_rfind, METH_VARARGS,
         "rfind(sub[, start[, end]]) -> int\n\nThe highest index of sub in [start, end), or -1; "
         "in place and guarded like find()."},
        {"flush", (PyCFunction) mmap_flush, METH_VARARGS,
         "flush([offset[, size]])\n\nmsync(MS_SYNC) the range back to the file (audited). "
         "memcap.IoError when the file is now shorter than the range (the data written past its "
         "end is lost) or the write-back failed; offset must be a multiple of PAGESIZE."},
        {"madvise", (PyCFunction) mmap_madvise, METH_VARARGS,
         "madvise(option[, start[, length]])\n\nAdvise the kernel about a range (audited; "
         "MADV_HUGEPAGE needs a policy with allow_huge_pages)."},
        {"move", (PyCFunction) mmap_move, METH_VARARGS,
         "move(dest, src, count)\n\nCopy count bytes from src to dest inside the mapping "
         "(guarded)."},
        {"read", (PyCFunction) mmap_read, METH_VARARGS,
         "read([n]) -> bytes\n\nUp to n bytes from the position (all the rest for None or a "
         "negative n), guarded."},
        {"read_byte", (PyCFunction) mmap_read_byte, METH_NOARGS,
         "read_byte() -> int\n\nThe byte at the position, which then advances."},
        {"readline", (PyCFunction) mmap_readline, METH_NOARGS,
         "readline() -> bytes\n\nThe bytes up to and including the next newline, guarded."},
        {"resize", (PyCFunction) mmap_resize, METH_VARARGS,
         "resize(newsize)\n\nResize the file (ftruncate) and the mapping (mremap, audited and "
         "checked against the quota). BufferError while buffers are exported."},
        {"seek", (PyCFunction) mmap_seek, METH_VARARGS,
         "seek(pos[, whence])\n\nSet the position: whence 0 absolute, 1 relative, 2 from the "
         "end."},
        {"size", (PyCFunction) mmap_size, METH_NOARGS,
         "size() -> int\n\nThe size of the file (of the mapping when anonymous)."},
        {"tell", (PyCFunction) mmap_tell, METH_NOARGS, "tell() -> int\n\nThe position."},
        {"write", (PyCFunction) mmap_write, METH_VARARGS,
         "write(bytes) -> int\n\nWrite at the position, guarded; returns the length."},
        {"write_byte", (PyCFunction) mmap_write_byte, METH_VARARGS,
         "write_byte(byte)\n\nWrite one byte (an int) at the position."},
        {"__enter__", (PyCFunction) mmap_enter, METH_NOARGS, "Return self."},
        {"__exit__", (PyCFunction) mmap_exit, METH_VARARGS, "Close the mapping."},
        {"__reduce__", (PyCFunction) mmap_reduce, METH_NOARGS, "mmap objects cannot be pickled."},
        {"__reduce_ex__", (PyCFunction) mmap_reduce_ex, METH_O, "mmap objects cannot be pickled."},
        {NULL, NULL, 0, NULL},
};

static PyGetSetDef mmap_getset[] = {
        {"closed", (getter) mmap_get_closed, NULL, "Whether the mapping was closed.", NULL},
        {"context", (getter) mmap_get_context, NULL,
         "The memcap.Context whose policy and audit sink this mapping uses.", NULL},
        {"faulted", (getter) mmap_get_faulted, NULL,
         "Whether a flush of this mapping failed with EIO: writes then raise memcap.IoError "
         "until it is closed.",
         NULL},
        {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef mmap_members[] = {
        {"__weaklistoffset__", T_PYSSIZET, offsetof(mcp_mmap, weakreflist), READONLY, NULL},
        {NULL, 0, 0, 0, NULL},
};

static PyType_Slot mmap_slots[] = {
        {Py_tp_doc, "mmap(fileno, length, flags=MAP_SHARED, prot=PROT_WRITE|PROT_READ, "
                    "access=ACCESS_DEFAULT, offset=0, *, address=None, context=None, "
                    "policy=None, audit=None)\n\n"
                    "The standard mmap.mmap, made through a memcap context: the policy decides "
                    "(W+X and MAP_FIXED are refused by default), the audit sink records, and "
                    "reads, writes, slicing, find and flush raise memcap.IoError instead of "
                    "killing the process when the file was truncated under the mapping.\n\n"
                    "fileno -1 maps anonymous memory (MAP_SHARED: a memfd region fork() children "
                    "share). context: a memcap.Context; policy/audit: make a new one (see "
                    "memcap.Context); neither: memcap.default_context(). address: with "
                    "MAP_FIXED in flags, where to map (needs a policy with allow_fixed)."},
        {Py_tp_new, mmap_new},
        {Py_tp_dealloc, mmap_dealloc},
        {Py_tp_repr, mmap_repr},
        {Py_tp_methods, mmap_methods},
        {Py_tp_getset, mmap_getset},
        {Py_tp_members, mmap_members},
        {Py_sq_length, mmap_length},
        {Py_sq_item, mmap_item},
        {Py_mp_length, mmap_length},
        {Py_mp_subscript, mmap_subscript},
        {Py_mp_ass_subscript, mmap_ass_subscript},
        {Py_bf_getbuffer, mmap_getbuffer},
        {Py_bf_releasebuffer, mmap_releasebuffer},
        {0, NULL},
};

static PyType_Spec mmap_spec = {
        .name = "memcap.mmap.mmap",
        .basicsize = sizeof(mcp_mmap),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
        .slots = mmap_slots,
};

int mcp_mmap_init(PyObject *module) {
        static const struct {
                const char *name;
                long value;
        } consts[] = {
                {"ACCESS_DEFAULT", ACCESS_DEFAULT}, {"ACCESS_READ", ACCESS_READ},
                {"ACCESS_WRITE", ACCESS_WRITE},     {"ACCESS_COPY", ACCESS_COPY},
                {"PROT_READ", PROT_READ},           {"PROT_WRITE", PROT_WRITE},
                {"PROT_EXEC", PROT_EXEC},           {"MAP_SHARED", MAP_SHARED},
                {"MAP_PRIVATE", MAP_PRIVATE},       {"MAP_ANON", MAP_ANONYMOUS},
                {"MAP_ANONYMOUS", MAP_ANONYMOUS},   {"MAP_DENYWRITE", MAP_DENYWRITE},
                {"MAP_EXECUTABLE", MAP_EXECUTABLE}, {"MAP_POPULATE", MAP_POPULATE},
                {"MAP_STACK", MAP_STACK},           {"MAP_NORESERVE", MAP_NORESERVE},
                {"MAP_LOCKED", MAP_LOCKED},         {"MAP_HUGETLB", MAP_HUGETLB},
                {"MAP_FIXED", MAP_FIXED},
        };

        mmap_type = PyType_FromSpec(&mmap_spec);
        if (!mmap_type || PyModule_AddObjectRef(module, "mmap", mmap_type) < 0)
                return -1;
        for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
                if (PyModule_AddIntConstant(module, consts[i].name, consts[i].value) < 0)
                        return -1;
        for (size_t i = 0; i < sizeof(advice_map) / sizeof(advice_map[0]); i++)
                if (PyModule_AddIntConstant(module, advice_map[i].name, advice_map[i].madv) < 0)
                        return -1;
        return PyModule_AddIntConstant(module, "ALLOCATIONGRANULARITY", (long) mc_page_size());
}
