/* SPDX-License-Identifier: MIT */
/*
 * The security policy: the object with its embedded secure default, its setters and getters,
 * the shared-memory matcher, and mc__policy_decide(), the check the context runs before every
 * privileged operation. Loading and printing JSON live in policy-json.c, the name tables and the
 * size parser in policy-names.c; what a path root is, and what lies beneath one, is the OS
 * layer's (path.h).
 *
 * mc__policy_decide() runs on every mmap, so it allocates nothing and makes no system call; it
 * formats a message only when it denies. The mapping manager's rules (a client's capabilities,
 * its limits per client, the advice offered to clients) are decided here too, for the calls
 * the manager makes on a client's behalf (mc__call.client).
 */

#include <assert.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>

#include "internal.h"
#include "path.h"
#include "policy-def.h"
#include "strv.h"

/* ---- the object ------------------------------------------------------------------------------ */

/* Releasing operations: denying them could only leak resources (see policy.h). */
#define RELEASING_OPS                                                                              \
        (MC_OP_BIT(MC_OP_MUNMAP) | MC_OP_BIT(MC_OP_MUNLOCK) | MC_OP_BIT(MC_OP_SHM_CLOSE) |         \
         MC_OP_BIT(MC_OP_SIGNAL_UNREGISTER) | MC_OP_BIT(MC_OP_SIGNAL_UNMASK) |                     \
         MC_OP_BIT(MC_OP_SIGNAL_DELIVER) | MC_OP_BIT(MC_OP_UFFD_UNREGISTER))

static char default_star[] = "*";
static char *default_shm_patterns[] = {default_star};

/* The secure default of policy.h, field by field. */
static const mc_policy default_policy = {
        .allow_fixed = false,
        .allow_write_exec = false,
        .allow_huge_pages = false,
        /* Stalling the kernel in a page fault is a tool of kernel exploits: opt-in. */
        .allow_userfaultfd = false,
        .numa_nodes = UINT64_MAX,
        .max_memory_usage = UINT64_C(4) << 30,
        .max_locked_memory = UINT64_C(8) << 20,
        .max_mappings = 65536,
        .allowed_ops = MC_OP_ALL,
        .signals = UINT64_MAX & ~(MC__SIGNAL_BIT(SIGKILL) | MC__SIGNAL_BIT(SIGSTOP)),
        /* Reaching processes the caller did not start is opt-in (policy.h). */
        .targets = MC_TARGET_SELF | MC_TARGET_CHILDREN,
        .shm_patterns = default_shm_patterns,
        .n_shm_patterns = 1,
        .any_path = true,
        .paths = NULL,
        .n_paths = 0,
};

static const mc_policy *policy_or_default(const mc_policy *p) {
        return p ? p : &default_policy;
}

static int policy_copy(const mc_policy *src, mc_policy **ret) {
        _cleanup_(mc_policy_freep) mc_policy *p = NULL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = *src;
        p->shm_patterns = NULL;
        p->n_shm_patterns = 0;
        p->paths = NULL;
        p->n_paths = 0;

        if (src->n_shm_patterns > 0) {
                p->shm_patterns = strv_dup(src->shm_patterns, src->n_shm_patterns);
                if (!p->shm_patterns)
                        return -ENOMEM;
                p->n_shm_patterns = src->n_shm_patterns;
        }
        if (src->n_paths > 0) {
                p->paths = strv_dup(src->paths, src->n_paths);
                if (!p->paths)
                        return -ENOMEM;
                p->n_paths = src->n_paths;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int mc_policy_new(mc_policy **ret, mc_error *err) {
        int r;

        if (!ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_policy_new: ret is NULL");
        r = policy_copy(&default_policy, ret);
        if (r < 0)
                return mc__error_errno(err, r, "policy: allocating the default policy");
        return 0;
}

int mc_policy_dup(const mc_policy *policy, mc_policy **ret, mc_error *err) {
        int r;

        if (!policy || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_policy_dup: policy or ret is NULL");
        r = policy_copy(policy, ret);
        if (r < 0)
                return mc__error_errno(err, r, "policy: copying a policy");
        return 0;
}

mc_policy *mc_policy_free(mc_policy *policy) {
        if (!policy)
                return NULL;
        strv_free(policy->shm_patterns, policy->n_shm_patterns);
        strv_free(policy->paths, policy->n_paths);
        free(policy);
        return NULL;
}

/* ---- setters and getters --------------------------------------------------------------------- */

/*
 * The plain members, a setter and a getter each: the setter refuses a NULL policy and a value
 * @ok (an expression in v) rejects, the getter reads the default policy for NULL. One
 * definition serves them all, so they cannot drift apart.
 */
#define POLICY_MEMBER(type, member, set, get, ok)                                                  \
        int set(mc_policy *policy, type v) {                                                       \
                if (!policy || !(ok))                                                              \
                        return -EINVAL;                                                            \
                policy->member = v;                                                                \
                return 0;                                                                          \
        }                                                                                          \
        type get(const mc_policy *policy) {                                                        \
                return policy_or_default(policy)->member;                                          \
        }

POLICY_MEMBER(bool, allow_fixed, mc_policy_set_allow_fixed, mc_policy_allow_fixed, true)
POLICY_MEMBER(bool, allow_write_exec, mc_policy_set_allow_write_exec, mc_policy_allow_write_exec,
              true)
POLICY_MEMBER(bool, allow_huge_pages, mc_policy_set_allow_huge_pages, mc_policy_allow_huge_pages,
              true)
POLICY_MEMBER(bool, allow_userfaultfd, mc_policy_set_allow_userfaultfd, mc_policy_allow_userfaultfd,
              true)
POLICY_MEMBER(uint64_t, numa_nodes, mc_policy_set_allowed_numa_nodes, mc_policy_allowed_numa_nodes,
              true)
POLICY_MEMBER(uint64_t, max_memory_usage, mc_policy_set_max_memory_usage,
              mc_policy_max_memory_usage, true)
POLICY_MEMBER(uint64_t, max_locked_memory, mc_policy_set_max_locked_memory,
              mc_policy_max_locked_memory, true)
POLICY_MEMBER(uint64_t, max_mappings, mc_policy_set_max_mappings, mc_policy_max_mappings, true)
POLICY_MEMBER(uint64_t, allowed_ops, mc_policy_set_allowed_ops, mc_policy_allowed_ops,
              (v & ~MC_OP_ALL) == 0)
POLICY_MEMBER(unsigned, targets, mc_policy_set_signal_targets, mc_policy_signal_targets,
              (v & ~(unsigned) MC__TARGETS_ALL) == 0)

#undef POLICY_MEMBER

int mc_policy_set_signal_allowed(mc_policy *policy, int signo, bool allow) {
        if (!policy || signo < 1 || signo > MC__POLICY_SIGNAL_MAX)
                return -EINVAL;
        if (allow)
                policy->signals |= MC__SIGNAL_BIT(signo);
        else
                policy->signals &= ~MC__SIGNAL_BIT(signo);
        return 0;
}

const char *mc__policy_check_pattern(const char *pattern) {
        size_t n;

        if (!pattern)
                return "the pattern is missing";
        n = strlen(pattern);
        if (n == 0)
                return "a pattern must not be empty";
        if (n > MC__POLICY_PATTERN_MAX)
                return "a pattern must be at most 255 bytes long";
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) pattern[i];
                if (ch < 0x20 || ch == 0x7f)
                        return "a pattern must not contain control characters";
                /*
                 * Names are matched without their leading '/' and may contain no other, so a
                 * pattern with a '/' could never match: refuse it rather than deny silently.
                 */
                if (ch == '/')
                        return "a pattern must not contain '/' (it is matched against the name "
                               "without its leading '/')";
        }
        return NULL;
}

int mc_policy_clear_shared_memory_patterns(mc_policy *policy) {
        if (!policy)
                return -EINVAL;
        strv_clear(&policy->shm_patterns, &policy->n_shm_patterns);
        return 0;
}

int mc_policy_add_shared_memory_pattern(mc_policy *policy, const char *pattern, mc_error *err) {
        const char *bad;

        if (!policy)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "policy: shared memory pattern: the policy is NULL");
        bad = mc__policy_check_pattern(pattern);
        if (bad)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "policy: shared memory pattern '%.64s%s': %s",
                                     pattern ? pattern : "",
                                     pattern && strlen(pattern) > 64 ? "..." : "", bad);
        if (strv_contains(policy->shm_patterns, policy->n_shm_patterns, pattern))
                return 0;
        if (strv_append(&policy->shm_patterns, &policy->n_shm_patterns, pattern) < 0)
                return mc__error_errno(err, ENOMEM, "policy: adding shared memory pattern");
        return 0;
}

int mc_policy_allow_any_path(mc_policy *policy) {
        if (!policy)
                return -EINVAL;
        strv_clear(&policy->paths, &policy->n_paths);
        policy->any_path = true;
        return 0;
}

int mc_policy_add_allowed_path(mc_policy *policy, const char *root, mc_error *err) {
        char buf[PATH_MAX];
        const char *bad;

        if (!policy)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "policy: allowed path: the policy is NULL");
        bad = mc__policy_normalize_root(root, buf, sizeof(buf));
        if (bad)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "policy: allowed path '%.100s%s': %s", root ? root : "",
                                     root && strlen(root) > 100 ? "..." : "", bad);
        if (policy->any_path) {
                /* The first root replaces "any path"; stale roots cannot linger from before. */
                strv_clear(&policy->paths, &policy->n_paths);
        } else if (strv_contains(policy->paths, policy->n_paths, buf))
                return 0;
        if (strv_append(&policy->paths, &policy->n_paths, buf) < 0)
                return mc__error_errno(err, ENOMEM, "policy: adding allowed path");
        policy->any_path = false;
        return 0;
}

bool mc_policy_signal_allowed(const mc_policy *policy, int signo) {
        if (signo < 1 || signo > MC__POLICY_SIGNAL_MAX)
                return false;
        return (policy_or_default(policy)->signals & MC__SIGNAL_BIT(signo)) != 0;
}

/* ---- matchers -------------------------------------------------------------------------------- */

bool mc_policy_path_allowed(const mc_policy *policy, const char *path) {
        const mc_policy *p = policy_or_default(policy);

        if (!mc__path_absolute(path))
                return false;
        if (p->any_path)
                return true;
        if (mc__path_may_climb(path))
                return false;
        for (size_t i = 0; i < p->n_paths; i++)
                if (mc__path_beneath(p->paths[i], path))
                        return true;
        return false;
}

bool mc_policy_shared_memory_allowed(const mc_policy *policy, const char *name) {
        const mc_policy *p = policy_or_default(policy);

        if (!name)
                return false;
        if (name[0] == '/')
                name++;
        for (size_t i = 0; i < p->n_shm_patterns; i++)
                if (fnmatch(p->shm_patterns[i], name, 0) == 0)
                        return true;
        return false;
}

/* ---- denials -------------------------------------------------------------------------------- */

/* A long user string is cut to its tail for a message; the tail names the file. */
#define SHOW_MAX 96
#define SHOW(s)                                                                                    \
        (strlen(s) > SHOW_MAX ? "..." : ""),                                                       \
                (strlen(s) > SHOW_MAX ? (s) + strlen(s) - SHOW_MAX : (s))

static int deny(mc_error *err, const char *op, const char *rule, const char *detail_fmt, ...)
        _printf_(4, 5);

/* Format "<op> denied by policy rule <rule>: <detail>" without allocating. */
static int deny(mc_error *err, const char *op, const char *rule, const char *detail_fmt, ...) {
        char detail[MC_ERROR_MESSAGE_MAX];
        va_list ap;

        if (!err)
                return -EPERM;
        va_start(ap, detail_fmt);
        if (vsnprintf(detail, sizeof(detail), detail_fmt, ap) < 0)
                detail[0] = 0;
        va_end(ap);
        return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM, "%s denied by policy rule %s: %s",
                             op, rule, detail);
}

/*
 * Check one quota: @used already in use plus @add requested against @limit. Usage may already
 * exceed a lowered limit; only growth is refused then. Returns true when it fits.
 */
static bool quota_fits(uint64_t used, uint64_t add, uint64_t limit, bool *overflow) {
        uint64_t sum;

        *overflow = MC_ADD_OVERFLOW(used, add, &sum);
        if (*overflow)
                return false;
        return limit == MC_UNLIMITED || sum <= limit;
}

static int deny_quota(mc_error *err, const char *op, const char *rule, const char *what,
                      const char *unit, uint64_t used, uint64_t add, uint64_t limit,
                      bool overflow) {
        if (overflow)
                return deny(err, op, rule,
                            "%" PRIu64 " %s %s + %" PRIu64 " requested overflow a 64-bit counter",
                            used, unit, what, add);
        return deny(err, op, rule,
                    "%" PRIu64 " %s %s + %" PRIu64 " requested exceed the limit of %" PRIu64 " %s",
                    used, unit, what, add, limit, unit);
}

/*
 * The rules a signal's target still needs beyond @allowed (0 when it is admitted): @cls is its
 * kind and classes as the send found them. The model is policy.h's, at mc_signal_target.
 */
static unsigned targets_missing(unsigned allowed, unsigned cls) {
        static const unsigned narrowest[] = {MC_TARGET_SELF, MC_TARGET_CHILDREN,
                                             MC_TARGET_PROCESS_GROUP, MC_TARGET_SAME_UID};
        unsigned need = 0;

        if (cls & MC_TARGET_BROADCAST)
                return allowed & MC_TARGET_BROADCAST ? 0 : MC_TARGET_BROADCAST;
        if ((cls & MC_TARGET_INIT) && !(allowed & MC_TARGET_INIT))
                need |= MC_TARGET_INIT;
        if (cls & MC_TARGET_WHOLE_GROUP) {
                if (!(allowed & MC_TARGET_WHOLE_GROUP))
                        need |= MC_TARGET_WHOLE_GROUP;
        } else if (cls & MC_TARGET_INIT) {
                return need; /* pid 1 itself: "init" alone decides */
        }
        if ((allowed & MC_TARGET_ANY) || (allowed & cls & MC__TARGETS_RELATION))
                return need;
        /* Suggest the narrowest rule that admits it. */
        for (size_t i = 0; i < ELEMENTSOF(narrowest); i++)
                if (cls & narrowest[i])
                        return need | narrowest[i];
        return need | MC_TARGET_ANY;
}

/* ---- the mapping manager's clients ----------------------------------------------------------- */

/*
 * A capability the client lacks: PermissionDenied without an errno, because no system call
 * failed, which is how the manager's callers tell it from the kernel refusing a file.
 */
static int deny_capability(mc_error *err, const char *why) {
        if (err) {
                err->kind = MC_ERR_PERMISSION_DENIED;
                err->sys_errno = 0;
                strscpy(err->message, sizeof(err->message), why);
        }
        return -EACCES;
}

static bool manager_op(mc_op op) {
        return op == MC__OP_MMAP_FD || op == MC__OP_MMAP_LIST;
}

/* Why the manager does not offer @advice to clients, or NULL when it does. */
static const char *advice_refused(int advice) {
        switch (advice) {
        case MC_ADVICE_NORMAL:
        case MC_ADVICE_RANDOM:
        case MC_ADVICE_SEQUENTIAL:
        case MC_ADVICE_WILLNEED:
        case MC_ADVICE_DONTNEED:
        case MC_ADVICE_FREE:
        case MC_ADVICE_COLD:
        case MC_ADVICE_POPULATE_READ:
        case MC_ADVICE_POPULATE_WRITE:
                return NULL;
        case MC_ADVICE_REMOVE:
                return "frees the file's storage under every reader of the range; write zeros "
                       "instead";
        case MC_ADVICE_PAGEOUT:
                return "evicts pages that other clients share from memory, and they would pay "
                       "for reading them again";
        case MC_ADVICE_DONTFORK:
        case MC_ADVICE_DOFORK:
        case MC_ADVICE_WIPEONFORK:
        case MC_ADVICE_KEEPONFORK:
        case MC_ADVICE_DONTDUMP:
        case MC_ADVICE_DODUMP:
                return "concerns the fork children and core dumps of the process holding the "
                       "mapping, not the client";
        case MC_ADVICE_HUGEPAGE:
        case MC_ADVICE_NOHUGEPAGE:
                return "huge pages are the policy's to choose, not a client's";
        case MC_ADVICE_MERGEABLE:
        case MC_ADVICE_UNMERGEABLE:
                return "merging identical pages across processes lets clients time each other";
        default:
                return "is not an advice";
        }
}

/*
 * The client's limits (manager.h): mappings with the pieces of split ones, charged bytes and
 * locked bytes per client. Usage already above a limit refuses only growth.
 */
static int decide_client(const mc__call *c, mc_error *err) {
        const mc__client_call *cl = c->client;
        uint64_t sum;

        if (c->add_mappings > 0 &&
            (MC_ADD_OVERFLOW(cl->mappings, c->add_mappings, &sum) || sum > cl->max_mappings))
                return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                     "the client has %" PRIu64 " mappings (pieces of split "
                                     "mappings included), the limit per client is %" PRIu64,
                                     cl->mappings, cl->max_mappings);
        if (cl->add_pieces > 0 &&
            (MC_ADD_OVERFLOW(cl->mappings, cl->add_pieces, &sum) || sum > cl->max_mappings))
                return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                     "%s would split Mmap %" PRIu64 " into %" PRIu64 " pieces, "
                                     "and the client would hold %" PRIu64 " mappings and "
                                     "pieces; the limit per client is %" PRIu64 " (the kernel "
                                     "keeps each piece as a mapping of its own)",
                                     cl->call, cl->id, cl->pieces, sum, cl->max_mappings);
        if (c->add_charged > 0 &&
            (MC_ADD_OVERFLOW(cl->charged, c->add_charged, &sum) || sum > cl->max_charged))
                return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                     "%" PRIu64 " bytes charged + %" PRIu64 " exceed the limit "
                                     "per client of %" PRIu64 " bytes",
                                     cl->charged, c->add_charged, cl->max_charged);
        if (c->add_locked > 0 &&
            (MC_ADD_OVERFLOW(cl->locked, c->add_locked, &sum) || sum > cl->max_locked))
                return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                     "Mlock of %" PRIu64 " more bytes: the client has %" PRIu64
                                     " bytes locked, the limit per client is %" PRIu64,
                                     c->add_locked, cl->locked, cl->max_locked);
        return 0;
}

/* ---- the decision ---------------------------------------------------------------------------- */

/*
 * The rules that need nothing but the request: the operation, and a client's capabilities and
 * the advice offered to clients.
 */
static inline __attribute__((always_inline)) int admit(const mc_policy *p, const mc__call *c,
                                                       mc_error *err) {
        const mc__client_call *cl = c->client;

        /* The manager's own operations are its clients' capabilities' alone to decide. */
        if (_likely_(!cl) || !manager_op(c->op)) {
                if ((unsigned) c->op >= _MC_OP_MAX)
                        return deny(err, "operation", "allowed_syscalls",
                                    "operation number %d is not a memcap operation", (int) c->op);
                if (!(MC_OP_BIT(c->op) & (p->allowed_ops | RELEASING_OPS)))
                        return deny(err, mc_op_name(c->op), "allowed_syscalls",
                                    "the operation is not in the policy's allowed_syscalls (add "
                                    "\"%s\" to permit it)",
                                    mc_op_name(c->op));
        }
        if (_likely_(!cl))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(cl->need) && cl->need[i].cap; i++)
                if (!(cl->caps & cl->need[i].cap))
                        return deny_capability(err, cl->need[i].why);
        if (cl->advice >= 0 && advice_refused(cl->advice)) {
                const char *name = mc_advice_name((mc_advice) cl->advice);

                return mc__error_set(err, MC_ERR_POLICY_VIOLATION, EPERM,
                                     "advice %s is not offered to clients: it %s",
                                     name ? name : "(unknown)", advice_refused(cl->advice));
        }
        return 0;
}

int mc__policy_admit(const mc_policy *policy, const mc__call *c, mc_error *err) {
        assert(c);
        return admit(policy_or_default(policy), c, err);
}

int mc__policy_decide(const mc_policy *policy, const mc__call *c, const mc_usage *usage,
                      mc_error *err) {
        static const mc_usage zero_usage;
        const mc_policy *p = policy_or_default(policy);
        const char *op;
        bool overflow;
        int r;

        assert(c);
        if (!usage)
                usage = &zero_usage;

        r = admit(p, c, err);
        if (r < 0)
                return r;
        if (_unlikely_(c->client)) {
                r = decide_client(c, err);
                if (r < 0)
                        return r;
        }
        /* Only the denials need the name; the allowed path stays short. */
        op = mc__op_name(c->op);

        if (c->fixed && !p->allow_fixed)
                return deny(err, op, "allow_fixed",
                            "MC_MAP_FIXED replaces whatever is mapped at the address and is not "
                            "allowed (set \"allow_fixed\": true in the policy to permit it)");

        if (c->write_exec && !p->allow_write_exec)
                return deny(err, op, "allow_write_exec",
                            "write and execute on one mapping are not allowed (set "
                            "\"allow_write_exec\": true in the policy to permit it)");

        if (c->wx_alias != MC__WX_NONE && !p->allow_write_exec)
                return deny(err, op, "allow_write_exec",
                            "%s (set \"allow_write_exec\": true to "
                            "permit it)",
                            c->wx_alias == MC__WX_EXEC_AFTER_WRITE
                                    ? "the mapping was writable, so what was written could run"
                            : c->wx_alias == MC__WX_EXEC_OF_WRITABLE
                                    ? "the object has a writable shared mapping in this context; "
                                      "an executable one would run what that one writes"
                                    : "the object has an executable mapping in this context; a "
                                      "writable shared one would change what that one runs");

        if (c->huge && !p->allow_huge_pages)
                return deny(err, op, "allow_huge_pages",
                            "huge pages are not allowed (set \"allow_huge_pages\": true in the "
                            "policy to permit them)");

        if (c->uffd && !p->allow_userfaultfd)
                return deny(err, op, "allow_userfaultfd",
                            "userfaultfd is not allowed: it lets a process stall the kernel "
                            "inside a page fault (set \"allow_userfaultfd\": true in the policy "
                            "to permit it)");

        if ((c->fields & MC__F_NODES) && (c->req.nodes & ~p->numa_nodes)) {
                uint64_t bad = c->req.nodes & ~p->numa_nodes;
                return deny(err, op, "allowed_numa_nodes",
                            "NUMA node %d is not in the policy's allowed_numa_nodes (add %d to "
                            "permit it)",
                            __builtin_ctzll(bad), __builtin_ctzll(bad));
        }

        if ((c->fields & MC__F_FILE) && c->req.resolved &&
            !mc_policy_path_allowed(p, c->req.resolved))
                return deny(err, op, "allowed_paths",
                            "'%s%s' is not beneath any root in the policy's allowed_paths",
                            SHOW(c->req.resolved));

        if ((c->fields & MC__F_NAME) && (c->op == MC_OP_SHM_OPEN || c->op == MC_OP_SHM_UNLINK) &&
            !mc_policy_shared_memory_allowed(p, c->req.name))
                return deny(err, op, "allowed_shared_memory",
                            "shared memory name '%s%s' matches no pattern in the policy's "
                            "allowed_shared_memory",
                            SHOW(c->req.name ? c->req.name : ""));

        if (c->add_charged > 0 &&
            !quota_fits(usage->charged_bytes, c->add_charged, p->max_memory_usage, &overflow))
                return deny_quota(err, op, "max_memory_usage", "charged", "bytes",
                                  usage->charged_bytes, c->add_charged, p->max_memory_usage,
                                  overflow);

        if (c->add_locked > 0 &&
            !quota_fits(usage->locked_bytes, c->add_locked, p->max_locked_memory, &overflow))
                return deny_quota(err, op, "max_locked_memory", "locked", "bytes",
                                  usage->locked_bytes, c->add_locked, p->max_locked_memory,
                                  overflow);

        if (c->add_mappings > 0 &&
            !quota_fits(usage->mappings, c->add_mappings, p->max_mappings, &overflow))
                return deny_quota(err, op, "max_mappings", "live", "mappings", usage->mappings,
                                  c->add_mappings, p->max_mappings, overflow);

        if ((c->fields & MC__F_SIGNAL) &&
            (c->op == MC_OP_SIGNAL_SEND || c->op == MC_OP_SIGNAL_RAISE)) {
                /* Sending signal 0 delivers nothing: only the target rule applies to it. */
                bool probe = c->op == MC_OP_SIGNAL_SEND && c->req.signo == 0;

                if (!probe && !mc_policy_signal_allowed(p, c->req.signo)) {
                        char name[16];

                        if (!mc_signal_name(c->req.signo, name, sizeof(name)))
                                snprintf(name, sizeof(name), "%d", c->req.signo);
                        return deny(err, op, "allowed_signals",
                                    "%s is not in the policy's allowed_signals (add \"%s\" to "
                                    "permit it)",
                                    name, name);
                }
                if (c->op == MC_OP_SIGNAL_SEND) {
                        unsigned need = targets_missing(p->targets, c->target_classes);
                        char allowed[128], is[128], add[96];

                        if (need)
                                return deny(err, op, "allowed_signal_targets",
                                            "pid %d (%s) is not a target the policy allows; add "
                                            "%s to allowed_signal_targets to permit it (allowed: "
                                            "%s)",
                                            (int) c->req.target,
                                            mc__policy_targets_string(c->target_classes, is,
                                                                      sizeof(is)),
                                            mc__policy_targets_quoted(need, add, sizeof(add)),
                                            mc__policy_targets_string(p->targets, allowed,
                                                                      sizeof(allowed)));
                }
        }

        return 0;
}
