/* SPDX-License-Identifier: MIT */
/*
 * memcap._memcap.Shared: one mc_shared (a POSIX shared memory object or an anonymous memfd
 * region) mapped whole, as a buffer. memcap.shared_memory builds SharedMemory on it; this file
 * holds only what needs C: opening, closing, sealing and resizing through the context, and the
 * buffer protocol.
 */

#include "binding.h"

#include <structmember.h>

typedef struct {
        PyObject_HEAD mcp_context *ctx;
        mc_shared shm;
        bool open;
        Py_ssize_t exports;
} mcp_shared;

static int check_open(mcp_shared *self) {
        if (!self->open) {
                PyErr_SetString(PyExc_ValueError, "shared memory is closed");
                return -1;
        }
        return 0;
}

static PyObject *shared_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"name",     "create",  "size",   "prot",  "mode", "seals",
                                 "hugepage", "context", "policy", "audit", NULL};
        PyObject *name_obj = Py_None, *context = Py_None, *policy = Py_None, *audit = Py_None;
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        unsigned prot = MC_PROT_READ_WRITE, mode = 0600, seals = 0;
        int create = 0, hugepage = 0, r;
        mc_error err = MC_ERROR_INIT;
        Py_ssize_t size = 0;
        mcp_shared *self;
        allocfunc alloc;
        mc_shared shm;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OpnIIIp$OOO:Shared", kwlist, &name_obj,
                                         &create, &size, &prot, &mode, &seals, &hugepage, &context,
                                         &policy, &audit))
                return NULL;
        if (size < 0)
                return PyErr_Format(PyExc_ValueError, "size must be >= 0, not %zd", size);
        if (name_obj != Py_None) {
                Py_ssize_t n;

                req.name = PyUnicode_AsUTF8AndSize(name_obj, &n);
                if (!req.name)
                        return NULL;
                if (strlen(req.name) != (size_t) n)
                        return PyErr_Format(PyExc_ValueError, "name contains a NUL character");
        }
        req.size = (size_t) size;
        req.create = create;
        req.prot = prot;
        req.mode = mode;
        req.seals = seals;
        req.flags = hugepage ? MC_MAP_HUGEPAGE : 0;

        alloc = (allocfunc) PyType_GetSlot(type, Py_tp_alloc);
        self = (mcp_shared *) alloc(type, 0);
        if (!self)
                return NULL;
        self->shm.fd = -1;
        self->ctx = mcp_context_pick(context, policy, audit);
        if (!self->ctx) {
                Py_DECREF(self);
                return NULL;
        }
        Py_BEGIN_ALLOW_THREADS r = mc_shared_open(self->ctx->ctx, &req, &shm, &err);
        Py_END_ALLOW_THREADS if (r < 0) {
                Py_DECREF(self);
                return mcp_raise(&err, MC_DOMAIN_MEMORY);
        }
        self->shm = shm;
        self->open = true;
        return (PyObject *) self;
}

static void shared_release(mcp_shared *self) {
        mc_ctx *ctx = self->ctx->ctx;
        mc_shared shm = self->shm;

        self->open = false;
        self->shm.fd = -1;
        Py_BEGIN_ALLOW_THREADS mc_shared_close(ctx, &shm, NULL);
        Py_END_ALLOW_THREADS
}

static void shared_dealloc(mcp_shared *self) {
        if (self->open)
                shared_release(self);
        Py_CLEAR(self->ctx);
        mcp_free_instance((PyObject *) self);
}

static PyObject *shared_close(mcp_shared *self, PyObject *unused) {
        (void) unused;
        if (self->exports > 0)
                return PyErr_Format(PyExc_BufferError,
                                    "cannot close shared memory: %zd buffers (memoryviews) of it "
                                    "are still exported; release them first",
                                    self->exports);
        if (self->open)
                shared_release(self);
        Py_RETURN_NONE;
}

static PyObject *shared_seal(mcp_shared *self, PyObject *args) {
        mc_error err = MC_ERROR_INIT;
        unsigned seals;
        mc_shared shm;
        int r;

        if (!PyArg_ParseTuple(args, "I:seal", &seals) || check_open(self) < 0)
                return NULL;
        shm = self->shm;
        Py_BEGIN_ALLOW_THREADS r = mc_shared_seal(self->ctx->ctx, &shm, seals, &err);
        Py_END_ALLOW_THREADS return mcp_none_or_raise(r, &err, MC_DOMAIN_MEMORY);
}

static PyObject *shared_resize(mcp_shared *self, PyObject *args) {
        mc_error err = MC_ERROR_INIT;
        mc_shared shm;
        Py_ssize_t n;
        int r;

        if (!PyArg_ParseTuple(args, "n:resize", &n) || check_open(self) < 0)
                return NULL;
        if (n <= 0)
                return PyErr_Format(PyExc_ValueError, "resize: size must be > 0, not %zd", n);
        if (self->exports > 0)
                return PyErr_Format(PyExc_BufferError,
                                    "cannot resize shared memory while %zd buffers of it are "
                                    "exported",
                                    self->exports);
        shm = self->shm;
        Py_BEGIN_ALLOW_THREADS r = mc_shared_resize(self->ctx->ctx, &shm, (size_t) n, &err);
        Py_END_ALLOW_THREADS if (r < 0) return mcp_raise(&err, MC_DOMAIN_MEMORY);
        self->shm = shm;
        Py_RETURN_NONE;
}

static PyObject *shared_get_name(mcp_shared *self, void *closure) {
        (void) closure;
        return PyUnicode_FromString(self->shm.name);
}

static PyObject *shared_get_size(mcp_shared *self, void *closure) {
        (void) closure;
        return PyLong_FromSize_t(self->open ? self->shm.region.len : 0);
}

static PyObject *shared_get_fd(mcp_shared *self, void *closure) {
        (void) closure;
        return PyLong_FromLong(self->open ? self->shm.fd : -1);
}

static PyObject *shared_get_owner(mcp_shared *self, void *closure) {
        (void) closure;
        return PyUnicode_FromString(self->shm.owner == MC_OWNER_LOCAL ? "Local" : "Remote");
}

static PyObject *shared_get_owner_pid(mcp_shared *self, void *closure) {
        (void) closure;
        return PyLong_FromLong((long) self->shm.owner_pid);
}

static PyObject *shared_get_seals(mcp_shared *self, void *closure) {
        mc_error err = MC_ERROR_INIT;
        unsigned seals = 0;

        (void) closure;
        if (check_open(self) < 0)
                return NULL;
        if (mc_shared_seals(&self->shm, &seals, &err) < 0)
                return mcp_raise(&err, MC_DOMAIN_MEMORY);
        return PyLong_FromUnsignedLong(seals);
}

static PyObject *shared_get_context(mcp_shared *self, void *closure) {
        (void) closure;
        Py_INCREF((PyObject *) self->ctx);
        return (PyObject *) self->ctx;
}

static PyObject *shared_get_closed(mcp_shared *self, void *closure) {
        (void) closure;
        return PyBool_FromLong(!self->open);
}

static int shared_getbuffer(mcp_shared *self, Py_buffer *view, int flags) {
        if (check_open(self) < 0)
                return -1;
        if (PyBuffer_FillInfo(view, (PyObject *) self, self->shm.region.ptr,
                              (Py_ssize_t) self->shm.region.len,
                              !(self->shm.region.prot & MC_PROT_WRITE), flags) < 0)
                return -1;
        self->exports++;
        return 0;
}

static void shared_releasebuffer(mcp_shared *self, Py_buffer *view) {
        (void) view;
        self->exports--;
}

static PyObject *shared_reduce(PyObject *self, PyObject *unused) {
        (void) self;
        (void) unused;
        return PyErr_Format(PyExc_TypeError, "cannot pickle a memcap._memcap.Shared; pickle the "
                                             "memcap.shared_memory.SharedMemory instead");
}

static PyObject *mod_shared_unlink(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"name", "context", NULL};
        PyObject *context = Py_None;
        mc_error err = MC_ERROR_INIT;
        mcp_context *ctx;
        const char *name;
        int r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|$O:shared_unlink", kwlist, &name, &context))
                return NULL;
        ctx = mcp_context_pick(context, NULL, NULL);
        if (!ctx)
                return NULL;
        Py_BEGIN_ALLOW_THREADS r = mc_shared_unlink(ctx->ctx, name, &err);
        Py_END_ALLOW_THREADS Py_DECREF(ctx);
        return mcp_none_or_raise(r, &err, MC_DOMAIN_MEMORY);
}

static PyMethodDef shared_methods[] = {
        {"close", (PyCFunction) shared_close, METH_NOARGS,
         "close()\n\nUnmap and close (audited). BufferError while buffers are exported."},
        {"seal", (PyCFunction) shared_seal, METH_VARARGS,
         "seal(bits)\n\nAdd SEAL_* seals to an anonymous region (memfd)."},
        {"resize", (PyCFunction) shared_resize, METH_VARARGS,
         "resize(size)\n\nResize the object and remap it (audited, checked against the quota)."},
        {"__reduce__", shared_reduce, METH_NOARGS, "Not picklable."},
        {NULL, NULL, 0, NULL},
};

static PyGetSetDef shared_getset[] = {
        {"name", (getter) shared_get_name, NULL, "'/name', or '' when anonymous.", NULL},
        {"size", (getter) shared_get_size, NULL, "Bytes mapped.", NULL},
        {"fd", (getter) shared_get_fd, NULL, "The object's descriptor (owned by this object).",
         NULL},
        {"owner", (getter) shared_get_owner, NULL, "'Local' or 'Remote'.", NULL},
        {"owner_pid", (getter) shared_get_owner_pid, NULL, "The creator's pid, 0 if unknown.",
         NULL},
        {"seals", (getter) shared_get_seals, NULL, "The seals on the object (SEAL_* bits).", NULL},
        {"closed", (getter) shared_get_closed, NULL, "Whether it was closed.", NULL},
        {"context", (getter) shared_get_context, NULL, "The memcap.Context it was opened in.",
         NULL},
        {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot shared_slots[] = {
        {Py_tp_doc, "Shared(name=None, create=False, size=0, prot=3, mode=0o600, seals=0, "
                    "hugepage=False, *, context=None, policy=None, audit=None)\n\n"
                    "Shared memory opened through a memcap context (mc_shared_open): a POSIX "
                    "object by name, or an anonymous memfd region when name is None. Use "
                    "memcap.shared_memory.SharedMemory rather than this."},
        {Py_tp_new, shared_new},
        {Py_tp_dealloc, shared_dealloc},
        {Py_tp_methods, shared_methods},
        {Py_tp_getset, shared_getset},
        {Py_bf_getbuffer, shared_getbuffer},
        {Py_bf_releasebuffer, shared_releasebuffer},
        {0, NULL},
};

static PyType_Spec shared_spec = {
        .name = "memcap._memcap.Shared",
        .basicsize = sizeof(mcp_shared),
        .flags = Py_TPFLAGS_DEFAULT,
        .slots = shared_slots,
};

static PyMethodDef shared_functions[] = {
        {"shared_unlink", (PyCFunction) (void (*)(void)) mod_shared_unlink,
         METH_VARARGS | METH_KEYWORDS,
         "shared_unlink(name, *, context=None)\n\nRemove a named shared memory object "
         "(audited, checked against allowed_shared_memory)."},
        {NULL, NULL, 0, NULL},
};

int mcp_shared_init(PyObject *module) {
        PyObject *t = PyType_FromSpec(&shared_spec);

        if (!t || PyModule_AddObjectRef(module, "Shared", t) < 0)
                return -1;
        Py_DECREF(t);
        if (PyModule_AddFunctions(module, shared_functions) < 0)
                return -1;
        if (PyModule_AddIntConstant(module, "SEAL_SHRINK", MC_SEAL_SHRINK) < 0 ||
            PyModule_AddIntConstant(module, "SEAL_GROW", MC_SEAL_GROW) < 0 ||
            PyModule_AddIntConstant(module, "SEAL_WRITE", MC_SEAL_WRITE) < 0 ||
            PyModule_AddIntConstant(module, "SEAL_FUTURE_WRITE", MC_SEAL_FUTURE_WRITE) < 0 ||
            PyModule_AddIntConstant(module, "SEAL_SEAL", MC_SEAL_SEAL) < 0)
                return -1;
        return 0;
}
