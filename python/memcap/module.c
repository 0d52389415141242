/* SPDX-License-Identifier: MIT */
/*
 * memcap._memcap: the module, its exceptions and memcap.Context.
 *
 * Errors become exceptions named after memcap's error kinds, each a subclass of memcap.Error
 * (an OSError) and of the builtin a Python program would catch for it, so code written for the
 * standard modules keeps working. A Context wraps one mc_ctx: its policy decides and its audit
 * sink records every mapping, shared memory object and signal operation made through it.
 *
 * Sections: exceptions, audit callback, Context, the default context, module init.
 */

#include "binding.h"

#include <structmember.h>

PyObject *mcp_errors[_MC_ERROR_KIND_MAX];
PyObject *mcp_context_type;

static PyObject *json_dumps, *json_loads;
static mcp_context *default_ctx;

/* ---- exceptions ------------------------------------------------------------------------- */

static const struct {
        mc_error_kind kind;
        const char *name;
        PyObject **builtin;
        const char *doc;
} kinds[] = {
        {MC_ERR_PERMISSION_DENIED, "PermissionDenied", &PyExc_PermissionError,
         "The operating system refused (EACCES, EPERM)."},
        {MC_ERR_INVALID_ARGUMENT, "InvalidArgument", &PyExc_ValueError,
         "The request itself is malformed."},
        {MC_ERR_OUT_OF_MEMORY, "OutOfMemory", &PyExc_MemoryError,
         "No memory, address space or tmpfs space."},
        {MC_ERR_ALIGNMENT, "AlignmentError", &PyExc_ValueError,
         "An offset or address is not aligned to the page size."},
        {MC_ERR_ALREADY_EXISTS, "AlreadyExists", &PyExc_FileExistsError,
         "Exclusive creation of an object that exists."},
        {MC_ERR_NOT_FOUND, "NotFound", &PyExc_FileNotFoundError,
         "No such object, or not a mapping of this context."},
        {MC_ERR_UNSUPPORTED, "Unsupported", NULL, "The platform or kernel lacks the feature."},
        {MC_ERR_POLICY_VIOLATION, "PolicyViolation", &PyExc_PermissionError,
         "The context's policy denied the operation; the message names the rule."},
        {MC_ERR_TIMED_OUT, "TimedOut", &PyExc_TimeoutError, "A wait ended at its timeout."},
        {MC_ERR_INVALID_SIGNAL, "InvalidSignal", &PyExc_ValueError,
         "No such signal, or it cannot be handled."},
        {MC_ERR_IO, "IoError", NULL,
         "A mapped file was truncated under the mapping, or an I/O error."},
        {MC_ERR_PEER_GONE, "PeerGone", &PyExc_ConnectionError,
         "The process at the other end of a channel has gone."},
};

static int errors_init(PyObject *module) {
        PyObject *base = PyErr_NewExceptionWithDoc(
                "memcap.Error",
                "Base of memcap's errors: an OSError with .kind (the error kind's name), .code "
                "(the stable diagnostic code, e.g. 'core.memory.NotFound'), .errno and .message.",
                PyExc_OSError, NULL);

        if (!base || PyModule_AddObjectRef(module, "Error", base) < 0)
                return -1;
        mcp_errors[MC_OK] = base;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                char qual[64];
                PyObject *bases, *cls;

                snprintf(qual, sizeof(qual), "memcap.%s", kinds[i].name);
                bases = kinds[i].builtin ? PyTuple_Pack(2, base, *kinds[i].builtin)
                                         : PyTuple_Pack(1, base);
                if (!bases)
                        return -1;
                cls = PyErr_NewExceptionWithDoc(qual, kinds[i].doc, bases, NULL);
                Py_DECREF(bases);
                if (!cls || PyModule_AddObjectRef(module, kinds[i].name, cls) < 0)
                        return -1;
                mcp_errors[kinds[i].kind] = cls;
        }
        return 0;
}

static int set_str(PyObject *obj, const char *attr, const char *value, size_t max) {
        PyObject *v =
                PyUnicode_DecodeUTF8(value, (Py_ssize_t) strnlen(value, max), "backslashreplace");
        int r;

        if (!v)
                return -1;
        r = PyObject_SetAttrString(obj, attr, v);
        Py_DECREF(v);
        return r;
}

PyObject *mcp_raise(const mc_error *err, mc_error_domain domain) {
        mc_error_kind kind =
                err->kind > MC_OK && err->kind < _MC_ERROR_KIND_MAX ? err->kind : MC_OK;
        PyObject *cls = mcp_errors[kind] ? mcp_errors[kind] : mcp_errors[MC_OK];
        PyObject *exc;

        /* The message may hold bytes of a path that are not UTF-8. */
        exc = PyObject_CallFunction(
                cls, "iN", err->sys_errno,
                PyUnicode_DecodeUTF8(err->message,
                                     (Py_ssize_t) strnlen(err->message, MC_ERROR_MESSAGE_MAX),
                                     "backslashreplace"));
        if (!exc)
                return NULL;
        if (set_str(exc, "kind", mc_error_kind_name(err->kind), 64) < 0 ||
            set_str(exc, "code", mc_error_code(err->kind, domain), 64) < 0 ||
            set_str(exc, "message", err->message, MC_ERROR_MESSAGE_MAX) < 0) {
                Py_DECREF(exc);
                return NULL;
        }
        PyErr_SetObject(cls, exc);
        Py_DECREF(exc);
        return NULL;
}

int mcp_raise_int(const mc_error *err, mc_error_domain domain) {
        mcp_raise(err, domain);
        return -1;
}

PyObject *mcp_none_or_raise(int r, const mc_error *err, mc_error_domain domain) {
        if (r < 0)
                return mcp_raise(err, domain);
        Py_RETURN_NONE;
}

void mcp_free_instance(PyObject *self) {
        PyTypeObject *tp = Py_TYPE(self);
        freefunc tp_free = (freefunc) PyType_GetSlot(tp, Py_tp_free);

        tp_free(self);
        Py_DECREF(tp);
}

/* ---- audit callback ---------------------------------------------------------------------- */

/*
 * Runs in the thread that made the operation (memcap's dispatcher thread for signal
 * deliveries), with or without the GIL: the binding releases the GIL around every audited call,
 * so taking it here cannot deadlock against a thread waiting for the context's audit lock.
 */
static void audit_trampoline(const mc_audit_record *rec, void *userdata) {
        mcp_context *self = userdata;
        PyObject *type, *value, *tb, *cb, *rec_obj, *r;
        PyGILState_STATE g;

        if (!Py_IsInitialized())
                return;
        g = PyGILState_Ensure();
        PyErr_Fetch(&type, &value, &tb);
        cb = self->audit_cb;
        if (cb) {
                Py_INCREF(cb);
                rec_obj = PyObject_CallFunction(json_loads, "s#", rec->json,
                                                (Py_ssize_t) rec->json_len);
                r = rec_obj ? PyObject_CallFunctionObjArgs(cb, rec_obj, NULL) : NULL;
                if (!r)
                        PyErr_WriteUnraisable(cb);
                Py_XDECREF(r);
                Py_XDECREF(rec_obj);
                Py_DECREF(cb);
        }
        PyErr_Restore(type, value, tb);
        PyGILState_Release(g);
}

/* ---- Context ------------------------------------------------------------------------------ */

/* Returned by the helpers below when a Python exception is set (mc errors are -errno). */
#define PY_ERROR (-100000)

/*
 * The file-system path @o names (str, bytes or os.PathLike) as a bytes object, or NULL with an
 * exception set: TypeError saying @type_error when @o is no path at all.
 */
static PyObject *path_bytes(PyObject *o, const char *type_error) {
        PyObject *path = PyOS_FSPath(o), *bytes = NULL;

        if (!path) {
                PyErr_SetString(PyExc_TypeError, type_error);
                return NULL;
        }
        if (!PyUnicode_FSConverter(path, &bytes))
                bytes = NULL;
        Py_DECREF(path);
        return bytes;
}

static int load_policy(PyObject *policy, mc_policy **ret, mc_error *err) {
        PyObject *text = NULL, *bytes;
        const char *s;
        Py_ssize_t n;
        int r;

        if (PyDict_Check(policy)) {
                text = PyObject_CallFunctionObjArgs(json_dumps, policy, NULL);
                if (!text)
                        return PY_ERROR;
                policy = text;
        }
        if (PyUnicode_Check(policy) || PyBytes_Check(policy)) {
                if (PyUnicode_Check(policy)) {
                        s = PyUnicode_AsUTF8AndSize(policy, &n);
                } else {
                        n = PyBytes_Size(policy);
                        s = PyBytes_AsString(policy);
                }
                if (!s) {
                        Py_XDECREF(text);
                        return PY_ERROR;
                }
                r = mc_policy_load_string(s, (size_t) n, "<policy>", ret, err);
                Py_XDECREF(text);
                return r;
        }
        bytes = path_bytes(policy, "policy must be a dict, JSON text (str or bytes) or a "
                                   "path-like object naming a JSON file");
        if (!bytes)
                return PY_ERROR;
        r = mc_policy_load_file(PyBytes_AsString(bytes), ret, err);
        Py_DECREF(bytes);
        return r;
}

static int open_audit(mcp_context *self, PyObject *audit, mc_audit **ret, mc_error *err) {
        PyObject *bytes;
        int r;

        if (PyCallable_Check(audit)) {
                Py_INCREF(audit);
                self->audit_cb = audit;
                return mc_audit_open_callback(audit_trampoline, self, ret, err);
        }
        if (PyLong_Check(audit) && !PyBool_Check(audit)) {
                int fd = PyLong_AsLong(audit) < 0 || PyLong_AsLong(audit) > INT32_MAX
                                 ? -1
                                 : (int) PyLong_AsLong(audit);
                if (PyErr_Occurred())
                        return PY_ERROR;
                if (fd < 0) {
                        PyErr_SetString(PyExc_ValueError, "audit: a file descriptor must be >= 0");
                        return PY_ERROR;
                }
                return mc_audit_open_fd(fd, 0, ret, err);
        }
        bytes = path_bytes(audit, "audit must be a callable (called with each record as a "
                                  "dict), a file descriptor or a path-like object");
        if (!bytes)
                return PY_ERROR;
        r = mc_audit_open_file(PyBytes_AsString(bytes), 0, ret, err);
        Py_DECREF(bytes);
        return r;
}

static PyObject *context_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"policy", "audit", NULL};
        PyObject *policy = Py_None, *audit = Py_None;
        mc_error err = MC_ERROR_INIT;
        mc_policy *pol = NULL;
        mc_audit *sink = NULL;
        mcp_context *self;
        allocfunc alloc;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:Context", kwlist, &policy, &audit))
                return NULL;
        alloc = (allocfunc) PyType_GetSlot(type, Py_tp_alloc);
        self = (mcp_context *) alloc(type, 0);
        if (!self)
                return NULL;
        if (mc_ctx_new(&self->ctx, &err) < 0)
                goto fail;
        if (policy != Py_None) {
                r = load_policy(policy, &pol, &err);
                if (r == PY_ERROR)
                        goto fail_py;
                if (r < 0 || mc_ctx_set_policy(self->ctx, pol, &err) < 0)
                        goto fail;
                pol = mc_policy_free(pol);
        }
        if (audit != Py_None) {
                r = open_audit(self, audit, &sink, &err);
                if (r == PY_ERROR)
                        goto fail_py;
                if (r < 0)
                        goto fail;
                mc_ctx_set_audit(self->ctx, sink);
        }
        return (PyObject *) self;
fail:
        mcp_raise(&err, MC_DOMAIN_MEMORY);
fail_py:
        mc_policy_free(pol);
        Py_DECREF(self);
        return NULL;
}

static int context_traverse(mcp_context *self, visitproc visit, void *arg) {
        Py_VISIT(Py_TYPE((PyObject *) self)); /* a heap type's instances keep it alive */
        Py_VISIT(self->audit_cb);
        for (int i = 0; i < 65; i++)
                Py_VISIT(self->handlers[i]);
        return 0;
}

/* Only the audit callback: handlers stay until their registrations are gone (dealloc). */
static int context_clear(mcp_context *self) {
        Py_CLEAR(self->audit_cb);
        return 0;
}

static void context_dealloc(mcp_context *self) {
        PyObject_GC_UnTrack(self);
        if (self->weakreflist)
                PyObject_ClearWeakRefs((PyObject *) self);
        mcp_signal_context_clear(self);
        if (self->ctx) {
                mc_ctx *ctx = self->ctx;
                /* Freeing writes audit records, which a callback sink runs with the GIL. */
                Py_BEGIN_ALLOW_THREADS mc_ctx_free(ctx);
                Py_END_ALLOW_THREADS self->ctx = NULL;
        }
        context_clear(self);
        mcp_free_instance((PyObject *) self);
}

static PyObject *context_usage(mcp_context *self, PyObject *unused) {
        mc_usage u;

        (void) unused;
        mc_ctx_get_usage(self->ctx, &u);
        return Py_BuildValue(
                "{s:K,s:K,s:K,s:K,s:K}", "mapped_bytes", (unsigned long long) u.mapped_bytes,
                "charged_bytes", (unsigned long long) u.charged_bytes, "locked_bytes",
                (unsigned long long) u.locked_bytes, "mappings", (unsigned long long) u.mappings,
                "shared_objects", (unsigned long long) u.shared_objects);
}

static PyObject *context_policy(mcp_context *self, PyObject *unused) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *pol = NULL;
        char *json = NULL;
        PyObject *r;

        (void) unused;
        if (mc_ctx_get_policy(self->ctx, &pol, &err) < 0 ||
            mc_policy_to_json(pol, &json, &err) < 0) {
                mc_policy_free(pol);
                return mcp_raise(&err, MC_DOMAIN_MEMORY);
        }
        mc_policy_free(pol);
        r = PyObject_CallFunction(json_loads, "s", json);
        free(json);
        return r;
}

static PyObject *context_audit_event(mcp_context *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"capability", "event", "fields", NULL};
        const char *cap, *event, *fields = NULL;
        PyObject *fields_obj = Py_None, *text = NULL;
        mc_error err = MC_ERROR_INIT;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "ss|O:audit_event", kwlist, &cap, &event,
                                         &fields_obj))
                return NULL;
        if (fields_obj != Py_None) {
                text = PyObject_CallFunctionObjArgs(json_dumps, fields_obj, NULL);
                if (!text || !(fields = PyUnicode_AsUTF8AndSize(text, NULL))) {
                        Py_XDECREF(text);
                        return NULL;
                }
        }
        Py_BEGIN_ALLOW_THREADS r = mc_ctx_audit_event(self->ctx, cap, event, fields, &err);
        Py_END_ALLOW_THREADS Py_XDECREF(text);
        return mcp_none_or_raise(r, &err, MC_DOMAIN_MEMORY);
}

static PyObject *context_reduce(PyObject *self, PyObject *unused) {
        (void) self;
        (void) unused;
        return PyErr_Format(PyExc_TypeError, "cannot pickle a memcap.Context: it holds this "
                                             "process's mappings and audit sink");
}

static PyMethodDef context_methods[] = {
        {"usage", (PyCFunction) context_usage, METH_NOARGS,
         "usage() -> dict\n\nWhat the context has in use now: mapped_bytes, charged_bytes (what "
         "max_memory_usage bounds), locked_bytes, mappings, shared_objects."},
        {"policy", (PyCFunction) context_policy, METH_NOARGS,
         "policy() -> dict\n\nThe effective policy, as the JSON form memcap policy files use."},
        {"audit_event", (PyCFunction) (void (*)(void)) context_audit_event,
         METH_VARARGS | METH_KEYWORDS,
         "audit_event(capability, event, fields=None)\n\nWrite an application event into the "
         "context's audit log; fields is a JSON-serialisable dict stored as the record's "
         "'event'."},
        {"__reduce__", context_reduce, METH_NOARGS, "Contexts cannot be pickled."},
        {NULL, NULL, 0, NULL},
};

static PyMemberDef context_members[] = {
        {"__weaklistoffset__", T_PYSSIZET, offsetof(mcp_context, weakreflist), READONLY, NULL},
        {NULL, 0, 0, 0, NULL},
};

static PyType_Slot context_slots[] = {
        {Py_tp_doc, "Context(policy=None, audit=None)\n\n"
                    "A memcap context: every mapping, shared memory object and signal operation "
                    "made through it is decided by its policy and recorded by its audit sink.\n\n"
                    "policy: None for the secure default, a dict in the JSON form of memcap "
                    "policy files, that JSON as str or bytes, or a path-like object naming a "
                    "policy file.\n"
                    "audit: None, a path-like object (a JSON-lines file, appended to), a file "
                    "descriptor (duplicated), or a callable called with each record as a dict "
                    "(in the thread that made the operation; exceptions it raises are reported "
                    "with sys.unraisablehook)."},
        {Py_tp_new, context_new},
        {Py_tp_dealloc, context_dealloc},
        {Py_tp_traverse, context_traverse},
        {Py_tp_clear, context_clear},
        {Py_tp_methods, context_methods},
        {Py_tp_members, context_members},
        {0, NULL},
};

static PyType_Spec context_spec = {
        .name = "memcap.Context",
        .basicsize = sizeof(mcp_context),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
        .slots = context_slots,
};

/* ---- the default context ------------------------------------------------------------------ */

static mcp_context *default_context_get(void) {
        if (!default_ctx) {
                PyObject *c = PyObject_CallNoArgs(mcp_context_type);
                if (!c)
                        return NULL;
                default_ctx = (mcp_context *) c;
        }
        Py_INCREF((PyObject *) default_ctx);
        return default_ctx;
}

mcp_context *mcp_context_pick(PyObject *context, PyObject *policy, PyObject *audit) {
        if (context && context != Py_None) {
                if (!PyObject_TypeCheck(context, (PyTypeObject *) mcp_context_type)) {
                        PyErr_SetString(PyExc_TypeError, "context must be a memcap.Context");
                        return NULL;
                }
                if ((policy && policy != Py_None) || (audit && audit != Py_None)) {
                        PyErr_SetString(PyExc_ValueError,
                                        "give either context= or policy=/audit=, not both");
                        return NULL;
                }
                Py_INCREF(context);
                return (mcp_context *) context;
        }
        if ((policy && policy != Py_None) || (audit && audit != Py_None))
                return (mcp_context *) PyObject_CallFunctionObjArgs(
                        mcp_context_type, policy ? policy : Py_None, audit ? audit : Py_None, NULL);
        return default_context_get();
}

static PyObject *mod_default_context(PyObject *m, PyObject *unused) {
        (void) m;
        (void) unused;
        return (PyObject *) default_context_get();
}

static PyObject *mod_set_default_context(PyObject *m, PyObject *arg) {
        (void) m;
        if (!PyObject_TypeCheck(arg, (PyTypeObject *) mcp_context_type))
                return PyErr_Format(PyExc_TypeError, "set_default_context() needs a "
                                                     "memcap.Context");
        mcp_context *old = default_ctx;

        Py_INCREF(arg);
        default_ctx = (mcp_context *) arg;
        Py_XDECREF((PyObject *) old);
        Py_RETURN_NONE;
}

static PyObject *mod_error_code(PyObject *m, PyObject *args) {
        const char *name, *domain = "core.memory";
        mc_error_kind kind;

        (void) m;
        if (!PyArg_ParseTuple(args, "s|s:error_code", &name, &domain))
                return NULL;
        if (mc_error_kind_from_name(name, &kind) < 0)
                return PyErr_Format(PyExc_ValueError, "unknown error kind '%s'", name);
        return PyUnicode_FromString(mc_error_code(
                kind, strcmp(domain, "core.signal") == 0 ? MC_DOMAIN_SIGNAL : MC_DOMAIN_MEMORY));
}

/* ---- module init --------------------------------------------------------------------------- */

static PyMethodDef module_methods[] = {
        {"default_context", mod_default_context, METH_NOARGS,
         "default_context() -> Context\n\nThe context objects use when given none: the secure "
         "default policy and no audit sink until set_default_context() replaces it."},
        {"set_default_context", mod_set_default_context, METH_O,
         "set_default_context(context)\n\nMake @context the one later objects use by default. "
         "Objects made before keep theirs."},
        {"error_code", mod_error_code, METH_VARARGS,
         "error_code(kind, domain='core.memory') -> str\n\nThe stable diagnostic code of an "
         "error kind, e.g. error_code('NotFound') == 'core.memory.NotFound'."},
        {NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *m) {
        PyObject *json = PyImport_ImportModule("json");

        if (!json)
                return -1;
        json_dumps = PyObject_GetAttrString(json, "dumps");
        json_loads = PyObject_GetAttrString(json, "loads");
        Py_DECREF(json);
        if (!json_dumps || !json_loads)
                return -1;
        if (errors_init(m) < 0)
                return -1;
        mcp_context_type = PyType_FromSpec(&context_spec);
        if (!mcp_context_type || PyModule_AddObjectRef(m, "Context", mcp_context_type) < 0)
                return -1;
        if (PyModule_AddIntConstant(m, "PAGESIZE", (long) mc_page_size()) < 0)
                return -1;
        /* The library's own version, so the package never states one of its own. */
        if (PyModule_AddStringConstant(m, "__version__", mc_version()) < 0)
                return -1;
        if (mcp_mmap_init(m) < 0 || mcp_shared_init(m) < 0 || mcp_signal_init(m) < 0)
                return -1;
        return 0;
}

static struct PyModuleDef module_def = {
        PyModuleDef_HEAD_INIT,
        .m_name = "memcap._memcap",
        .m_doc = "The C part of memcap's Python binding; import memcap and its submodules.",
        .m_size = -1,
        .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__memcap(void);
PyMODINIT_FUNC PyInit__memcap(void) {
        PyObject *m = PyModule_Create(&module_def);

        if (m && module_exec(m) < 0) {
                Py_DECREF(m);
                return NULL;
        }
        return m;
}
