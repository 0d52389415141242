/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_CTX_H
#define MEMCAP_CTX_H

/*
 * The context: the one choke point of every privileged operation. It holds a policy, an audit
 * sink, the registry of the mappings it created and the usage counters the quotas are checked
 * against. Every operation runs the same four steps in the same place: the policy decides, the
 * system call runs, usage is accounted, one audit record is written.
 *
 * Thread-safety: a context may be used from any number of threads at once.
 *
 * fork(): the child inherits the context with the mappings it inherited. Mappings advised
 * MC_ADVICE_DONTFORK are dropped from the child's registry and memory locks (which the kernel
 * does not inherit) are cleared, and the child's usage is counted again from what it kept, so
 * it stays exact (also the charge of locked page cache, which goes with the locks). Contexts
 * stay usable in the child even when another thread of the parent was inside memcap at the
 * time of fork().
 */

#include <stdint.h>

#include <memcap/audit.h>
#include <memcap/error.h>
#include <memcap/policy.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc_ctx mc_ctx;

/*
 * What a context has in use now. max_memory_usage bounds charged_bytes, max_locked_memory
 * locked_bytes, max_mappings mappings; mapped_bytes is reported only.
 */
typedef struct mc_usage {
        uint64_t mapped_bytes; /* page-rounded bytes of all live mappings (address space) */
        /*
         * Page-rounded bytes that may become memory the kernel cannot simply drop: private
         * mappings that are or were writable (anonymous or file), huge pages, mappings of
         * files on tmpfs, hugetlbfs or ramfs, memfds and shared memory objects, and the locked
         * bytes of any other mapping. Shared file mappings and read-only private ones are page
         * cache and count only when locked. See max_memory_usage in policy.h.
         */
        uint64_t charged_bytes;
        uint64_t locked_bytes;   /* bytes locked by mc_mlock() or MAP_LOCKED */
        uint64_t mappings;       /* live mappings, including shared-memory regions */
        uint64_t shared_objects; /* open mc_shared objects */
} mc_usage;

/**
 * mc_ctx_new() - a new context with the default policy (mc_policy_new()) and no audit sink.
 * @ret: the context, owned by the caller (mc_ctx_free()); untouched on failure.
 * Return: 0 or -ENOMEM.
 */
MC_API int mc_ctx_new(mc_ctx **ret, mc_error *err);

/**
 * mc_ctx_free() - free a context. Mappings and shared objects it still holds are unmapped and
 * closed first (each audited), then the audit sink is closed. Accepts NULL. No other thread may
 * use the context during or after the call.
 * Return: NULL.
 */
MC_API mc_ctx *mc_ctx_free(mc_ctx *ctx);

/**
 * mc_ctx_set_policy() - replace the context's policy with a copy of @policy. Operations already
 * decided finish under the old one; later ones see the new one. Usage above a lowered quota
 * stays, and further growth is denied until usage drops below it.
 * Return: 0, -EINVAL or -ENOMEM.
 */
MC_API int mc_ctx_set_policy(mc_ctx *ctx, const mc_policy *policy, mc_error *err);

/**
 * mc_ctx_get_policy() - a copy of the context's policy, owned by the caller.
 */
MC_API int mc_ctx_get_policy(mc_ctx *ctx, mc_policy **ret, mc_error *err);

/**
 * mc_ctx_set_audit() - give the context an audit sink; it takes ownership of @audit and closes
 * the sink it held before. NULL turns auditing off.
 */
MC_API void mc_ctx_set_audit(mc_ctx *ctx, mc_audit *audit);

/**
 * mc_ctx_get_usage() - a consistent snapshot of the context's usage.
 */
MC_API void mc_ctx_get_usage(mc_ctx *ctx, mc_usage *ret);

/**
 * mc_ctx_audit_event() - write an application event into the context's audit log, in the same
 * record format, e.g. a shutdown handler recording why it stopped. The record's "outcome" is
 * "ok", unless @fields_json holds "outcome": "denied" or "error" (a service recording a request
 * it refused or failed), so that filters on outcome see it.
 * @capability: e.g. "core.signal"; printable ASCII, at most 64 bytes.
 * @event: the "operation" field, e.g. "signal.shutdown"; same limits.
 * @fields_json: NULL, or the text of one JSON object, stored as the record's "event" field.
 * Return: 0 (also when the context has no sink), or -EINVAL (InvalidArgument) when a name is
 * bad or @fields_json is not one JSON object.
 */
MC_API int mc_ctx_audit_event(mc_ctx *ctx, const char *capability, const char *event,
                              const char *fields_json, mc_error *err);

#ifdef __cplusplus
}
#endif

#endif
