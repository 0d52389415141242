/* SPDX-License-Identifier: MIT */
/*
 * The Python binding's shared declarations. The extension module memcap._memcap is written
 * against CPython's limited API (3.11, the stable ABI) and memcap's public headers only.
 */
#ifndef MEMCAP_PY_BINDING_H
#define MEMCAP_PY_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memcap/memcap.h>

/* A memcap.Context: one mc_ctx, the Python objects its audit sink and signal handlers call. */
typedef struct mcp_context {
        PyObject_HEAD mc_ctx *ctx;
        PyObject *audit_cb;     /* callable audit sink, or NULL */
        PyObject *handlers[65]; /* signal handler callables by signal number */
        PyObject *weakreflist;
} mcp_context;

extern PyObject *mcp_context_type;

/* The exception classes, indexed by mc_error_kind; [MC_OK] is memcap.Error. */
extern PyObject *mcp_errors[_MC_ERROR_KIND_MAX];

/* Raise the exception of @err's kind with its errno, message and code; returns NULL. */
PyObject *mcp_raise(const mc_error *err, mc_error_domain domain);
/* The same, returning -1, for int-returning slots. */
int mcp_raise_int(const mc_error *err, mc_error_domain domain);
/* None when @r >= 0, else mcp_raise(): the result of a call that returns nothing. */
PyObject *mcp_none_or_raise(int r, const mc_error *err, mc_error_domain domain);

/* Free an instance of one of the binding's heap types and drop its reference to the type: the
 * last step of every tp_dealloc. */
void mcp_free_instance(PyObject *self);

/*
 * The context an object should use: @context when it is a memcap.Context; else a new one made
 * of @policy and @audit when either is given; else the module's default context. Returns a new
 * reference, or NULL with an exception set.
 */
mcp_context *mcp_context_pick(PyObject *context, PyObject *policy, PyObject *audit);

/* Add the types and functions of each part to the module; 0 or -1 with an exception set. */
int mcp_mmap_init(PyObject *module);
int mcp_shared_init(PyObject *module);
int mcp_signal_init(PyObject *module);

/* The context's signal registrations, dropped before its mc_ctx goes (signal.c). */
void mcp_signal_context_clear(mcp_context *self);

#endif
