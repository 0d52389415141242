/* SPDX-License-Identifier: MIT */
/*
 * The signal capability for Python: handlers that run on memcap's dispatcher thread (taking
 * the GIL there), or from an event loop through signal_fd()/signal_dispatch(); send with a
 * payload, timed waits, masks. memcap.signal wraps these functions.
 *
 * Every call that may wait (register, unregister, send, raise, wait, dispatch) releases the
 * GIL: the dispatcher thread needs it to run a Python handler, and unregistering waits for a
 * running handler to finish.
 */

#include "binding.h"

#include <signal.h>

static mcp_context *ctx_arg(PyObject *context) {
        return mcp_context_pick(context, NULL, NULL);
}

static int signo_ok(int signo) {
        if (signo < 1 || signo > 64) {
                PyErr_Format(PyExc_ValueError, "signal number %d out of range 1..64", signo);
                return -1;
        }
        return 0;
}

/* (signal, pid, uid, timestamp_ns, value, code, status) */
static PyObject *info_tuple(const mc_signal_info *in) {
        PyObject *value;

        switch (in->payload.kind) {
        case MC_PAYLOAD_REAL_TIME:
                value = PyLong_FromUnsignedLongLong(in->payload.real_time);
                break;
        case MC_PAYLOAD_USER_DATA:
                value = PyLong_FromLong(in->payload.user_data);
                break;
        default:
                Py_INCREF(Py_None);
                value = Py_None;
        }
        if (!value)
                return NULL;
        return Py_BuildValue("(iklLNii)", in->signal, (unsigned long) in->source_pid,
                             (long) in->source_uid, (long long) in->timestamp, value, in->code,
                             in->status);
}

/* Runs in the dispatcher thread (or in signal_dispatch()); userdata is the handler's slot. */
static mc_signal_action trampoline(const mc_signal_info *info, void *userdata) {
        PyObject **slot = userdata, *args, *r;
        mc_signal_action action = MC_SIGNAL_CONTINUE;
        PyGILState_STATE g;

        if (!Py_IsInitialized())
                return MC_SIGNAL_CONTINUE;
        g = PyGILState_Ensure();
        if (*slot) {
                PyObject *fn = *slot;

                Py_INCREF(fn);
                args = info_tuple(info);
                r = args ? PyObject_CallFunctionObjArgs(fn, args, NULL) : NULL;
                if (!r) {
                        PyErr_WriteUnraisable(fn);
                } else if (r != Py_None) {
                        long a = PyLong_AsLong(r);
                        if (a == MC_SIGNAL_TERMINATE || a == MC_SIGNAL_IGNORE)
                                action = (mc_signal_action) a;
                        else if (a == -1 && PyErr_Occurred())
                                PyErr_WriteUnraisable(fn);
                }
                Py_XDECREF(r);
                Py_XDECREF(args);
                Py_DECREF(fn);
        }
        PyGILState_Release(g);
        return action;
}

static int unregister(mcp_context *c, int signo, mc_error *err) {
        int r;

        Py_BEGIN_ALLOW_THREADS r = mc_signal_unregister_handler(c->ctx, signo, err);
        Py_END_ALLOW_THREADS if (r >= 0) Py_CLEAR(c->handlers[signo]);
        return r;
}

void mcp_signal_context_clear(mcp_context *self) {
        /* unregister() fails only with NotFound (e.g. in a fork() child): nothing runs then. */
        for (int s = 1; s <= 64; s++) {
                if (self->handlers[s] && unregister(self, s, NULL) < 0)
                        Py_CLEAR(self->handlers[s]);
        }
}

static PyObject *sig_register(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"signo", "handler", "block", "context", NULL};
        PyObject *handler, *context = Py_None;
        mc_error err = MC_ERROR_INIT;
        int signo, block = 0, r;
        mcp_context *c;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "iO|p$O:signal_register", kwlist, &signo,
                                         &handler, &block, &context))
                return NULL;
        if (!PyCallable_Check(handler))
                return PyErr_Format(PyExc_TypeError, "handler must be callable");
        if (signo_ok(signo) < 0 || !(c = ctx_arg(context)))
                return NULL;
        /* A fork() child has no registrations left (memcap resets them there): NotFound. */
        if (c->handlers[signo] && unregister(c, signo, &err) < 0) {
                if (err.kind != MC_ERR_NOT_FOUND)
                        goto fail;
                Py_CLEAR(c->handlers[signo]);
        }
        Py_INCREF(handler);
        c->handlers[signo] = handler;
        Py_BEGIN_ALLOW_THREADS r =
                mc_signal_register_handler(c->ctx, signo, trampoline, &c->handlers[signo],
                                           block ? MC_SIGNAL_BLOCK : 0, NULL, &err);
        Py_END_ALLOW_THREADS if (r < 0) {
                Py_CLEAR(c->handlers[signo]);
                goto fail;
        }
        Py_DECREF(c);
        Py_RETURN_NONE;
fail:
        Py_DECREF(c);
        return mcp_raise(&err, MC_DOMAIN_SIGNAL);
}

static PyObject *sig_unregister(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"signo", "context", NULL};
        mc_error err = MC_ERROR_INIT;
        PyObject *context = Py_None;
        mcp_context *c;
        int signo, r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|$O:signal_unregister", kwlist, &signo,
                                         &context))
                return NULL;
        if (signo_ok(signo) < 0 || !(c = ctx_arg(context)))
                return NULL;
        r = unregister(c, signo, &err);
        Py_DECREF(c);
        return mcp_none_or_raise(r, &err, MC_DOMAIN_SIGNAL);
}

/* A value: a non-negative int up to 2^64-1 travels as the 64-bit sival_ptr, a negative int32 as
 * sival_int. */
static int payload_from(PyObject *value, mc_signal_payload *p) {
        int overflow = 0;
        long long v;

        if (value == Py_None) {
                p->kind = MC_PAYLOAD_NONE;
                return 0;
        }
        if (!PyLong_Check(value)) {
                PyErr_SetString(PyExc_TypeError, "value must be an int or None");
                return -1;
        }
        v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (v == -1 && PyErr_Occurred())
                return -1;
        if (overflow > 0 || v >= 0) {
                unsigned long long u = PyLong_AsUnsignedLongLong(value);
                if (u == (unsigned long long) -1 && PyErr_Occurred()) {
                        PyErr_SetString(PyExc_OverflowError, "value must fit in 64 bits");
                        return -1;
                }
                p->kind = MC_PAYLOAD_REAL_TIME;
                p->real_time = u;
                return 0;
        }
        if (overflow < 0 || v < INT32_MIN) {
                PyErr_SetString(PyExc_OverflowError,
                                "a negative value must fit in 32 bits (sival_int)");
                return -1;
        }
        p->kind = MC_PAYLOAD_USER_DATA;
        p->user_data = (int32_t) v;
        return 0;
}

static PyObject *sig_send(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"pid", "signo", "value", "context", NULL};
        PyObject *value = Py_None, *context = Py_None;
        mc_error err = MC_ERROR_INIT;
        mc_signal_payload p = {0};
        mcp_context *c;
        int pid, signo, r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "ii|O$O:signal_send", kwlist, &pid, &signo,
                                         &value, &context))
                return NULL;
        if (payload_from(value, &p) < 0 || !(c = ctx_arg(context)))
                return NULL;
        Py_BEGIN_ALLOW_THREADS r = mc_signal_send(c->ctx, (pid_t) pid, signo, &p, &err);
        Py_END_ALLOW_THREADS Py_DECREF(c);
        return mcp_none_or_raise(r, &err, MC_DOMAIN_SIGNAL);
}

static PyObject *sig_raise(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"signo", "context", NULL};
        mc_error err = MC_ERROR_INIT;
        PyObject *context = Py_None;
        mcp_context *c;
        int signo, r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "i|$O:signal_raise", kwlist, &signo, &context))
                return NULL;
        if (!(c = ctx_arg(context)))
                return NULL;
        Py_BEGIN_ALLOW_THREADS r = mc_signal_raise(c->ctx, signo, &err);
        Py_END_ALLOW_THREADS Py_DECREF(c);
        return mcp_none_or_raise(r, &err, MC_DOMAIN_SIGNAL);
}

static int sigset_from(PyObject *sigs, mc_sigset *set) {
        PyObject *it = PyObject_GetIter(sigs), *item;

        if (!it) {
                PyErr_SetString(PyExc_TypeError, "signals must be an iterable of ints");
                return -1;
        }
        set->bits = 0;
        while ((item = PyIter_Next(it))) {
                long s = PyLong_AsLong(item);
                Py_DECREF(item);
                if (s == -1 && PyErr_Occurred())
                        break;
                if (s < 1 || s > 64) {
                        PyErr_Format(PyExc_ValueError, "signal number %ld out of range 1..64", s);
                        break;
                }
                mc_sigset_add(set, (int) s);
        }
        Py_DECREF(it);
        return PyErr_Occurred() ? -1 : 0;
}

static PyObject *sigset_list(const mc_sigset *set) {
        PyObject *l = PyList_New(0);

        for (int s = 1; l && s <= 64; s++) {
                if (!mc_sigset_has(set, s))
                        continue;
                PyObject *v = PyLong_FromLong(s);
                if (!v || PyList_Append(l, v) < 0) {
                        Py_XDECREF(v);
                        Py_CLEAR(l);
                        break;
                }
                Py_DECREF(v);
        }
        return l;
}

static PyObject *sig_wait(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"signals", "timeout", "context", NULL};
        PyObject *sigs, *timeout = Py_None, *context = Py_None;
        int64_t timeout_ns = MC_WAIT_FOREVER;
        mc_error err = MC_ERROR_INIT;
        mc_signal_info info;
        mcp_context *c;
        mc_sigset set;
        int r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O$O:signal_wait", kwlist, &sigs, &timeout,
                                         &context))
                return NULL;
        if (sigset_from(sigs, &set) < 0)
                return NULL;
        if (timeout != Py_None) {
                double t = PyFloat_AsDouble(timeout);
                if (t == -1.0 && PyErr_Occurred())
                        return NULL;
                if (!(t >= 0) || t > 9.2e9)
                        return PyErr_Format(PyExc_ValueError,
                                            "timeout must be None or 0 .. 9.2e9 seconds");
                timeout_ns = (int64_t) (t * 1e9);
        }
        if (!(c = ctx_arg(context)))
                return NULL;
        Py_BEGIN_ALLOW_THREADS r = mc_signal_wait(c->ctx, &set, timeout_ns, &info, &err);
        Py_END_ALLOW_THREADS Py_DECREF(c);
        if (r < 0)
                return mcp_raise(&err, MC_DOMAIN_SIGNAL);
        return info_tuple(&info);
}

static PyObject *sig_mask(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"signals", "context", NULL};
        PyObject *sigs, *context = Py_None;
        mc_error err = MC_ERROR_INIT;
        mc_sigset set, prev;
        mcp_context *c;
        int r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:signal_mask", kwlist, &sigs, &context))
                return NULL;
        if (sigset_from(sigs, &set) < 0 || !(c = ctx_arg(context)))
                return NULL;
        Py_BEGIN_ALLOW_THREADS r = mc_signal_mask(c->ctx, &set, &prev, &err);
        Py_END_ALLOW_THREADS Py_DECREF(c);
        if (r < 0)
                return mcp_raise(&err, MC_DOMAIN_SIGNAL);
        return sigset_list(&prev);
}

static PyObject *sig_unmask(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"previous", "context", NULL};
        PyObject *sigs, *context = Py_None;
        mc_error err = MC_ERROR_INIT;
        mcp_context *c;
        mc_sigset set;
        int r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:signal_unmask", kwlist, &sigs, &context))
                return NULL;
        if (sigset_from(sigs, &set) < 0 || !(c = ctx_arg(context)))
                return NULL;
        Py_BEGIN_ALLOW_THREADS r = mc_signal_unmask(c->ctx, &set, &err);
        Py_END_ALLOW_THREADS Py_DECREF(c);
        return mcp_none_or_raise(r, &err, MC_DOMAIN_SIGNAL);
}

static PyObject *sig_fd(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"context", NULL};
        mc_error err = MC_ERROR_INIT;
        PyObject *context = Py_None;
        mcp_context *c;
        int fd = -1, r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:signal_fd", kwlist, &context))
                return NULL;
        if (!(c = ctx_arg(context)))
                return NULL;
        Py_BEGIN_ALLOW_THREADS r = mc_signal_fd(c->ctx, &fd, &err);
        Py_END_ALLOW_THREADS Py_DECREF(c);
        if (r < 0)
                return mcp_raise(&err, MC_DOMAIN_SIGNAL);
        return PyLong_FromLong(fd);
}

static PyObject *sig_dispatch(PyObject *m, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = {"context", NULL};
        mc_error err = MC_ERROR_INIT;
        PyObject *context = Py_None;
        mcp_context *c;
        int r;

        (void) m;
        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:signal_dispatch", kwlist, &context))
                return NULL;
        if (!(c = ctx_arg(context)))
                return NULL;
        /* The handlers run in this thread and take the GIL back themselves. */
        Py_BEGIN_ALLOW_THREADS r = mc_signal_dispatch(c->ctx, &err);
        Py_END_ALLOW_THREADS Py_DECREF(c);
        if (r < 0)
                return mcp_raise(&err, MC_DOMAIN_SIGNAL);
        return PyLong_FromLong(r);
}

static PyObject *sig_from_name(PyObject *m, PyObject *arg) {
        mc_error err = MC_ERROR_INIT;
        const char *name;
        int signo;

        (void) m;
        if (PyLong_Check(arg)) {
                long s = PyLong_AsLong(arg);
                if (s == -1 && PyErr_Occurred())
                        return NULL;
                if (s < 1 || s > mc_signal_rt_max())
                        return PyErr_Format(mcp_errors[MC_ERR_INVALID_SIGNAL],
                                            "no signal %ld (1..%d)", s, mc_signal_rt_max());
                return PyLong_FromLong(s);
        }
        name = PyUnicode_AsUTF8AndSize(arg, NULL);
        if (!name)
                return NULL;
        if (mc_signal_from_name(name, &signo, &err) < 0)
                return mcp_raise(&err, MC_DOMAIN_SIGNAL);
        return PyLong_FromLong(signo);
}

static PyObject *sig_name(PyObject *m, PyObject *arg) {
        char buf[32];
        long s = PyLong_AsLong(arg);

        (void) m;
        if (s == -1 && PyErr_Occurred())
                return NULL;
        if (s < 1 || s > 64 || !mc_signal_name((int) s, buf, sizeof(buf)))
                return PyErr_Format(mcp_errors[MC_ERR_INVALID_SIGNAL], "no signal %ld", s);
        return PyUnicode_FromString(buf);
}

static PyObject *sig_rt_min(PyObject *m, PyObject *unused) {
        (void) m;
        (void) unused;
        return PyLong_FromLong(mc_signal_rt_min());
}

static PyObject *sig_rt_max(PyObject *m, PyObject *unused) {
        (void) m;
        (void) unused;
        return PyLong_FromLong(mc_signal_rt_max());
}

#define KW(f) (PyCFunction)(void (*)(void)) f, METH_VARARGS | METH_KEYWORDS

static PyMethodDef signal_functions[] = {
        {"signal_register", KW(sig_register),
         "signal_register(signo, handler, block=False, *, context=None)\n\nRun handler((signal, "
         "pid, "
         "uid, timestamp, value, code, status)) on memcap's dispatcher thread for every delivery "
         "of signo; memcap.signal.register() wraps it."},
        {"signal_unregister", KW(sig_unregister),
         "signal_unregister(signo, *, context=None)\n\nRemove the context's handler; waits for "
         "a running call of it."},
        {"signal_send", KW(sig_send),
         "signal_send(pid, signo, value=None, *, context=None)\n\nkill(2), or sigqueue(3) with "
         "value, as the policy allows."},
        {"signal_raise", KW(sig_raise),
         "signal_raise(signo, *, context=None)\n\nraise(3), as the policy allows."},
        {"signal_wait", KW(sig_wait),
         "signal_wait(signals, timeout=None, *, context=None)\n\nWait for one of signals and "
         "take it; TimeoutError (memcap.TimedOut) at the timeout."},
        {"signal_mask", KW(sig_mask),
         "signal_mask(signals, *, context=None) -> previous\n\nBlock signals in the calling "
         "thread; returns the previous mask as a list."},
        {"signal_unmask", KW(sig_unmask),
         "signal_unmask(previous, *, context=None)\n\nSet the calling thread's mask back."},
        {"signal_fd", KW(sig_fd),
         "signal_fd(context=None) -> int\n\nA descriptor readable while deliveries wait; from "
         "then on the context's handlers run in signal_dispatch() only."},
        {"signal_dispatch", KW(sig_dispatch),
         "signal_dispatch(context=None) -> int\n\nRun waiting deliveries' handlers in this "
         "thread; returns how many ran."},
        {"signal_from_name", sig_from_name, METH_O,
         "signal_from_name(name) -> int\n\nThe number of 'SIGUSR1', 'usr1', 'RTMIN+3' or a "
         "number."},
        {"signal_name", sig_name, METH_O,
         "signal_name(signo) -> str\n\nThe canonical name of a signal number."},
        {"signal_rt_min", sig_rt_min, METH_NOARGS,
         "signal_rt_min() -> int\n\nSIGRTMIN of this process."},
        {"signal_rt_max", sig_rt_max, METH_NOARGS,
         "signal_rt_max() -> int\n\nSIGRTMAX of this process."},
        {NULL, NULL, 0, NULL},
};

int mcp_signal_init(PyObject *module) {
        if (PyModule_AddFunctions(module, signal_functions) < 0)
                return -1;
        if (PyModule_AddIntConstant(module, "SIGNAL_CONTINUE", MC_SIGNAL_CONTINUE) < 0 ||
            PyModule_AddIntConstant(module, "SIGNAL_TERMINATE", MC_SIGNAL_TERMINATE) < 0 ||
            PyModule_AddIntConstant(module, "SIGNAL_IGNORE", MC_SIGNAL_IGNORE) < 0)
                return -1;
        return 0;
}
