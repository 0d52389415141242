/* SPDX-License-Identifier: MIT */
/*
 * The context and its choke point. Every privileged operation of the library is run by
 * mc__ctx_run(): prepare (find what the call is about), decide (policy and quotas), call (the
 * system call), account (usage), audit (one record) — in that order and only here, so no
 * operation can skip a check or an audit line and no check is written twice.
 *
 * A call the mapping manager makes for a client carries the client (mc__call.client): its
 * rules are decided with the others, and the change of its usage is handed back to it.
 *
 * Sections: fork handling, life cycle, policy and audit, the choke point.
 */

#include <stdio.h>

#include <jansson.h>

#include "ctx-def.h"

/* ---- fork handling ---------------------------------------------------------------------- */

/*
 * All live contexts. The fork handlers take every context's locks before fork() so the child
 * never inherits a lock held by a thread that does not exist there, then fix the child's
 * registry: the kernel does not give it DONTFORK mappings or memory locks.
 */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static mc_ctx *all_head;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t next_serial = 1; /* 0 marks an empty per-thread cache slot (guard.c) */

static void fork_prepare(void) {
        pthread_mutex_lock(&all_lock);
        for (mc_ctx *c = all_head; c; c = c->next) {
                pthread_mutex_lock(&c->lock);
                pthread_mutex_lock(&c->audit_lock);
        }
        mc__signal_fork_prepare();
}

static void fork_parent(void) {
        mc__signal_fork_parent();
        for (mc_ctx *c = all_head; c; c = c->next) {
                pthread_mutex_unlock(&c->audit_lock);
                pthread_mutex_unlock(&c->lock);
        }
        pthread_mutex_unlock(&all_lock);
}

/*
 * The child's registry and usage: DONTFORK mappings are gone, memory locks are not inherited
 * (and with them the charge of locked page cache). The usage is counted again from what is
 * left, which is exact by construction.
 */
static void child_fixup(mc_ctx *ctx) {
        mc_usage u = {0};

        ctx->pid = getpid();
        mc__ctx_changed(ctx);
        for (size_t i = 0; i < ctx->registry.n_slots; i++) {
                mc__entry *e = mc__idtable_slot(&ctx->registry, i);

                if (!e)
                        continue;
                e->locked = 0;
                free(e->lockmap);
                e->lockmap = NULL;
                if (e->dontfork) {
                        /* The descriptor was inherited even though the region was not. */
                        if (e->kind == MC__KIND_SHARED)
                                safe_close(e->fd);
                        mc__registry_remove(ctx, e);
                        i--; /* backward shift may have moved an entry into this slot */
                }
        }
        for (size_t i = 0; i < ctx->registry.n_slots; i++) {
                const mc__entry *e = mc__idtable_slot(&ctx->registry, i);

                if (!e)
                        continue;
                u.mapped_bytes += e->kind == MC__KIND_EMPTY ? 0 : e->base_len;
                u.charged_bytes += mc__entry_charge(e);
                u.mappings++;
                u.shared_objects += e->kind == MC__KIND_SHARED;
        }
        ctx->usage = u;
}

static void fork_child(void) {
        mc__signal_fork_child();
        for (mc_ctx *c = all_head; c; c = c->next) {
                child_fixup(c);
                mc__signal_ctx_fork_child(c);
                pthread_mutex_unlock(&c->audit_lock);
                pthread_mutex_unlock(&c->lock);
        }
        pthread_mutex_unlock(&all_lock);
}

static void atfork_register(void) {
#ifdef _WIN32
        /* Windows has no fork(): a new process starts with nothing of this one's. */
        (void) fork_prepare, (void) fork_parent, (void) fork_child;
#else
        pthread_atfork(fork_prepare, fork_parent, fork_child);
#endif
}

void mc__ctx_mark_faulted(mc_ctx *ctx, uint64_t id) {
        mc__entry *e;

        pthread_mutex_lock(&ctx->lock);
        mc__ctx_changed(ctx);
        e = mc__registry_find(ctx, id);
        if (e)
                e->faulted = true;
        pthread_mutex_unlock(&ctx->lock);
}

pid_t mc__ctx_pid(mc_ctx *ctx) {
        return ctx->pid;
}

const mc_policy *mc__ctx_policy(mc_ctx *ctx) {
        return ctx->policy;
}

mc_usage *mc__ctx_usage(mc_ctx *ctx) {
        return &ctx->usage;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int mc_ctx_new(mc_ctx **ret, mc_error *err) {
        mc_ctx *ctx;
        int r;

        if (!ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_ctx_new: ret must not be NULL");
        pthread_once(&atfork_once, atfork_register);

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return mc__error_errno(err, ENOMEM, "mc_ctx_new: allocating the context");
        r = mc_policy_new(&ctx->policy, err);
        if (r < 0) {
                free(ctx);
                return r;
        }
        ctx->registry = (mc__idtable) MC__IDTABLE_INIT(mc__entry);
        pthread_mutex_init(&ctx->lock, NULL);
        pthread_mutex_init(&ctx->audit_lock, NULL);
        atomic_init(&ctx->has_audit, false);
        atomic_init(&ctx->gen, 0);
        ctx->serial = atomic_fetch_add(&next_serial, 1);
        ctx->pid = getpid();

        pthread_mutex_lock(&all_lock);
        ctx->next = all_head;
        if (all_head)
                all_head->prev = ctx;
        all_head = ctx;
        pthread_mutex_unlock(&all_lock);

        *ret = ctx;
        return 0;
}

/* Release what the caller left behind, auditing each as the operation that releases it. */
static void release_all(mc_ctx *ctx) {
        for (;;) {
                mc_mapping m = {0};
                mc_shared shm = {0};
                bool shared = false;

                pthread_mutex_lock(&ctx->lock);
                for (size_t i = 0; i < ctx->registry.n_slots; i++) {
                        mc__entry *e = mc__idtable_slot(&ctx->registry, i);
                        if (!e)
                                continue;
                        mc__entry_to_mapping(e, &m);
                        if (e->kind == MC__KIND_SHARED) {
                                shared = true;
                                shm.region = m;
                                shm.fd = e->fd;
                        }
                        break;
                }
                pthread_mutex_unlock(&ctx->lock);
                if (m.id == 0)
                        return;
                if (shared ? mc_shared_close(ctx, &shm, NULL) < 0 : mc_munmap(ctx, &m, NULL) < 0) {
                        /* The kernel refused (it should not): drop the record so we finish. */
                        pthread_mutex_lock(&ctx->lock);
                        mc__ctx_changed(ctx);
                        mc__entry *e = mc__registry_lookup(ctx, &m);
                        if (e)
                                mc__registry_remove(ctx, e);
                        pthread_mutex_unlock(&ctx->lock);
                }
        }
}

mc_ctx *mc_ctx_free(mc_ctx *ctx) {
        if (!ctx)
                return NULL;
        mc__signal_ctx_release(ctx);
        release_all(ctx);

        pthread_mutex_lock(&all_lock);
        if (ctx->prev)
                ctx->prev->next = ctx->next;
        else
                all_head = ctx->next;
        if (ctx->next)
                ctx->next->prev = ctx->prev;
        pthread_mutex_unlock(&all_lock);

        mc_audit_close(ctx->audit);
        mc_policy_free(ctx->policy);
        mc__idtable_done(&ctx->registry);
        free(ctx->objects);
        pthread_mutex_destroy(&ctx->audit_lock);
        pthread_mutex_destroy(&ctx->lock);
        free(ctx);
        return NULL;
}

/* ---- policy and audit ----------------------------------------------------------------------- */

int mc_ctx_set_policy(mc_ctx *ctx, const mc_policy *policy, mc_error *err) {
        mc_policy *copy, *old;
        int r;

        if (!ctx || !policy)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_ctx_set_policy: context and policy must not be NULL");
        r = mc_policy_dup(policy, &copy, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&ctx->lock);
        old = ctx->policy;
        ctx->policy = copy;
        pthread_mutex_unlock(&ctx->lock);
        mc_policy_free(old);
        return 0;
}

int mc_ctx_get_policy(mc_ctx *ctx, mc_policy **ret, mc_error *err) {
        int r;

        if (!ctx || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_ctx_get_policy: context and ret must not be NULL");
        pthread_mutex_lock(&ctx->lock);
        r = mc_policy_dup(ctx->policy, ret, err);
        pthread_mutex_unlock(&ctx->lock);
        return r;
}

void mc_ctx_set_audit(mc_ctx *ctx, mc_audit *audit) {
        mc_audit *old;

        if (!ctx) {
                mc_audit_close(audit);
                return;
        }
        pthread_mutex_lock(&ctx->audit_lock);
        old = ctx->audit;
        ctx->audit = audit;
        atomic_store(&ctx->has_audit, audit != NULL);
        pthread_mutex_unlock(&ctx->audit_lock);
        mc_audit_close(old);
}

void mc_ctx_get_usage(mc_ctx *ctx, mc_usage *ret) {
        if (!ctx || !ret)
                return;
        pthread_mutex_lock(&ctx->lock);
        *ret = ctx->usage;
        pthread_mutex_unlock(&ctx->lock);
}

static bool audit_name_valid(const char *s) {
        size_t n = 0;

        if (!s || !*s)
                return false;
        for (; *s; s++, n++)
                if (n >= 64 || *s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
                        return false;
        return true;
}

int mc_ctx_audit_event(mc_ctx *ctx, const char *capability, const char *event,
                       const char *fields_json, mc_error *err) {
        const char *outcome = "ok";

        if (!ctx)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "audit event: no context");
        if (!audit_name_valid(capability) || !audit_name_valid(event))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "audit event: capability and event must be 1..64 printable "
                                     "ASCII characters without quotes or backslashes");
        if (fields_json) {
                json_error_t jerr;
                json_t *v = json_loads(fields_json, JSON_REJECT_DUPLICATES, &jerr);
                bool object = v && json_is_object(v);
                const char *o = object ? json_string_value(json_object_get(v, "outcome")) : NULL;

                /* An event that reports how something went says so in the record's outcome. */
                if (o && (streq(o, "denied") || streq(o, "error")))
                        outcome = streq(o, "denied") ? "denied" : "error";
                json_decref(v);
                if (!object)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "audit event '%s': fields are not one JSON object "
                                             "(%s at column %d)",
                                             event, v ? "not an object" : jerr.text,
                                             v ? 1 : jerr.column);
        }
        if (!atomic_load_explicit(&ctx->has_audit, memory_order_relaxed))
                return 0;
        pthread_mutex_lock(&ctx->audit_lock);
        if (ctx->audit)
                mc__audit_event(ctx->audit, ctx->pid, capability, event, fields_json, outcome);
        pthread_mutex_unlock(&ctx->audit_lock);
        return 0;
}

/* ---- the choke point ------------------------------------------------------------------------ */

int mc__ctx_admit(mc_ctx *ctx, mc__call *c, mc_error *err) {
        int r;

        if (!ctx)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: the context must not be NULL", mc__op_name(c->op));
        pthread_mutex_lock(&ctx->lock);
        r = mc__policy_admit(ctx->policy, c, err);
        pthread_mutex_unlock(&ctx->lock);
        c->denied = r < 0;
        return r;
}

static void account(mc_ctx *ctx, const mc__call *c) {
        mc_usage *u = &ctx->usage;

        u->mapped_bytes += c->add_bytes - c->sub_bytes;
        u->charged_bytes += c->add_charged - c->sub_charged;
        u->locked_bytes += c->add_locked - c->sub_locked;
        u->mappings += c->add_mappings - c->sub_mappings;
        u->shared_objects += c->add_shared - c->sub_shared;
}

/* How the call changed a manager client's usage, for the manager to keep (mc__client_call). */
static void client_deltas(mc__call *c) {
        c->client->d_charged = (int64_t) (c->add_charged - c->sub_charged);
        c->client->d_locked = (int64_t) (c->add_locked - c->sub_locked);
}

static bool has_deltas(const mc__call *c) {
        return c->add_bytes | c->sub_bytes | c->add_charged | c->sub_charged | c->add_locked |
               c->sub_locked | c->add_mappings | c->sub_mappings | c->add_shared | c->sub_shared;
}

int mc__ctx_run(mc_ctx *ctx, mc__call *c, int prior, const mc_error *prior_err,
                const mc__steps *steps, void *data, mc_error *err) {
        MC__ERROR_LOCAL(e);
        int r;

        if (!ctx)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: the context must not be NULL", mc__op_name(c->op));
        if (prior < 0) {
                r = prior;
                if (prior_err)
                        e = *prior_err;
                else
                        mc__error_errno(&e, prior, "%s", mc__op_name(c->op));
                goto audit;
        }

        pthread_mutex_lock(&ctx->lock);
        r = 0;
        /* A manager client's capabilities come before anything is looked at for it. */
        if (_unlikely_(c->client)) {
                r = mc__policy_admit(ctx->policy, c, &e);
                c->denied = r < 0;
        }
        if (r >= 0 && steps->prepare)
                r = steps->prepare(ctx, c, data, &e);
        if (r >= 0) {
                r = mc__policy_decide(ctx->policy, c, &ctx->usage, &e);
                c->denied = r < 0;
        }
        if (r < 0) {
                pthread_mutex_unlock(&ctx->lock);
                goto audit;
        }
        if (steps->flags & MC__RUN_UNLOCKED) {
                pthread_mutex_unlock(&ctx->lock);
                r = steps->syscall(ctx, c, data, &e);
                if (r >= 0 && has_deltas(c)) {
                        pthread_mutex_lock(&ctx->lock);
                        account(ctx, c);
                        pthread_mutex_unlock(&ctx->lock);
                }
        } else {
                mc__ctx_changed(ctx);
                r = steps->syscall(ctx, c, data, &e);
                if (r >= 0)
                        account(ctx, c);
                pthread_mutex_unlock(&ctx->lock);
        }
        if (_unlikely_(c->client) && r >= 0)
                client_deltas(c);

audit:
        if (atomic_load_explicit(&ctx->has_audit, memory_order_relaxed) &&
            (r < 0 || !(steps->flags & MC__RUN_AUDIT_FAILURES))) {
                pthread_mutex_lock(&ctx->audit_lock);
                if (ctx->audit)
                        mc__audit_call(ctx->audit, ctx->pid, c, r, r < 0 ? &e : NULL);
                pthread_mutex_unlock(&ctx->audit_lock);
        }
        if (r < 0)
                mc__error_copy(err, &e);
        return r;
}
