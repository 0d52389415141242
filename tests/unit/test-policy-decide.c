/* SPDX-License-Identifier: MIT */
/*
 * Every rule of mc__policy_decide(), quotas at their exact boundaries included.
 */

#include "policy-suite.h"

/* ---- decide ---------------------------------------------------------------------------------- */

int decide(const mc_policy *p, const mc__call *c, const mc_usage *u, mc_error *err) {
        int r = mc__policy_decide(p, c, u, err);

        if (r < 0) {
                cr_assert(eq(int, r, -EPERM));
                cr_assert(eq(int, err->kind, MC_ERR_POLICY_VIOLATION));
                cr_assert(eq(int, err->sys_errno, EPERM));
                cr_assert(lt(sz, strlen(err->message), sizeof(err->message)));
                /* Without an error object the answer is the same. */
                cr_assert(eq(int, mc__policy_decide(p, c, u, NULL), -EPERM));
        }
        return r;
}

void assert_denied(const mc_policy *p, const mc__call *c, const mc_usage *u, const char *rule) {
        mc_error err = MC_ERROR_INIT;
        char want[128];

        cr_assert(eq(int, decide(p, c, u, &err), -EPERM), "expected a denial by %s", rule);
        snprintf(want, sizeof(want), "%s denied by policy rule %s: ", mc_op_name(c->op), rule);
        cr_assert(eq(int, strncmp(err.message, want, strlen(want)), 0), "%s", err.message);
}

/* @c must be denied with exactly @message. */
void assert_denied_with(const mc_policy *p, const mc__call *c, const mc_usage *u,
                        const char *message) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, decide(p, c, u, &err), -EPERM), "expected the denial: %s", message);
        cr_assert(eq(str, err.message, (char *) message));
}

/* @c must be denied with a message that holds @part. */
void assert_denied_saying(const mc_policy *p, const mc__call *c, const mc_usage *u,
                          const char *part) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, decide(p, c, u, &err), -EPERM), "expected a denial saying: %s", part);
        cr_assert(strstr(err.message, part) != NULL, "%s", err.message);
}

void assert_allowed(const mc_policy *p, const mc__call *c, const mc_usage *u) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, decide(p, c, u, &err), 0), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_OK));
}

/* The same call as @c (its request unchanged) but as operation @op must be allowed. */
static void assert_allowed_as(const mc_policy *p, const mc__call *c, mc_op op) {
        mc__call as = *c;

        as.op = op;
        assert_allowed(p, &as, NULL);
}

Test(policy, decide_allowed_syscalls) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        mc__call c;

        cr_assert(eq(int, mc_policy_set_allowed_ops(p, MC_OP_BIT(MC_OP_MMAP)), 0));
        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        assert_allowed(p, &c, NULL);
        mc__call_init(&c, MC_OP_SHM_OPEN, MC__CAP_MEMORY);
        assert_denied(p, &c, NULL, "allowed_syscalls");
        assert_denied_with(
                p, &c, NULL,
                "shm_open denied by policy rule allowed_syscalls: the operation is not in "
                "the policy's allowed_syscalls (add \"shm_open\" to permit it)");

        /* Every operation but the releasing ones is denied by an empty set. */
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, 0), 0));
        for (unsigned op = 0; op < _MC_OP_MAX; op++) {
                mc__call_init(&c, (mc_op) op, MC__CAP_MEMORY);
                if (op == MC_OP_MUNMAP || op == MC_OP_MUNLOCK || op == MC_OP_SHM_CLOSE ||
                    op == MC_OP_SIGNAL_UNREGISTER || op == MC_OP_SIGNAL_UNMASK ||
                    op == MC_OP_SIGNAL_DELIVER || op == MC_OP_UFFD_UNREGISTER)
                        assert_allowed(p, &c, NULL);
                else
                        assert_denied(p, &c, NULL, "allowed_syscalls");
        }

        /* Not an operation at all. */
        mc__call_init(&c, _MC_OP_MAX, MC__CAP_MEMORY);
        cr_assert(eq(int, decide(NULL, &c, NULL, &err), -EPERM));
        cr_assert(strstr(err.message, "denied by policy rule allowed_syscalls") != NULL);
        mc__call_init(&c, (mc_op) 200, MC__CAP_MEMORY);
        cr_assert(eq(int, decide(NULL, &c, NULL, &err), -EPERM));
}

/* A manager client holding @caps, with room for 2 mappings, 8192 charged and 4096 locked bytes. */
mc__client_call client_of(unsigned caps) {
        mc__client_call cl = MC__CLIENT_CALL_INIT;

        cl.call = "Mprotect";
        cl.id = 7;
        cl.caps = caps;
        cl.max_mappings = 2;
        cl.max_charged = 8192;
        cl.max_locked = 4096;
        return cl;
}

Test(policy, decide_manager_client_rules) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        mc__client_call cl = client_of(MC_CAP_FILE_READ);
        mc__call c;

        /* A capability the call needs and the client lacks: PermissionDenied, no errno. */
        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.client = &cl;
        cl.need[0] = (mc__need){MC_CAP_FILE_READ, "needs FileRead"};
        cl.need[1] = (mc__need){MC_CAP_FILE_WRITE, "needs FileWrite"};
        cr_assert(eq(int, mc__policy_decide(p, &c, NULL, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, 0));
        cr_assert(eq(str, err.message, "needs FileWrite"));
        cr_assert(eq(int, mc__policy_admit(p, &c, &err), -EACCES), "admission decides it too");
        cl.caps |= MC_CAP_FILE_WRITE;
        assert_allowed(p, &c, NULL);
        /* The context's own rules still apply to a client's call. */
        c.write_exec = true;
        assert_denied(p, &c, NULL, "allow_write_exec");
        c.write_exec = false;

        /* Mappings, pieces included. */
        cl.mappings = 2;
        c.add_mappings = 1;
        assert_denied_with(
                p, &c, NULL,
                "the client has 2 mappings (pieces of split mappings included), the limit "
                "per client is 2");
        cl.mappings = 1;
        assert_allowed(p, &c, NULL);
        c.add_mappings = 0;
        cl.pieces = 3;
        cl.add_pieces = 2;
        assert_denied_with(p, &c, NULL,
                           "Mprotect would split Mmap 7 into 3 pieces, and the client would hold 3 "
                           "mappings and pieces; the limit per client is 2 (the kernel keeps each "
                           "piece as a mapping of its own)");
        cl.add_pieces = 1;
        assert_allowed(p, &c, NULL);
        cl.add_pieces = 0;

        /* Charged bytes: what max_memory_usage counts, per client. */
        cl.charged = 4096;
        c.add_charged = 8192;
        assert_denied_with(p, &c, NULL,
                           "4096 bytes charged + 8192 exceed the limit per client of 8192 bytes");
        c.add_charged = 4096;
        assert_allowed(p, &c, NULL);
        cl.charged = UINT64_MAX;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM), "an overflow is refused");
        cl.charged = 0;
        c.add_charged = 0;

        /* Locked bytes. */
        cl.locked = 4096;
        c.add_locked = 1;
        assert_denied_with(p, &c, NULL,
                           "Mlock of 1 more bytes: the client has 4096 bytes locked, the limit per "
                           "client is 4096");
        cl.locked = 0;
        assert_allowed(p, &c, NULL);
        c.add_locked = 0;

        /* Advice: what harms other clients is not offered. */
        mc__call_init(&c, MC_OP_MADVISE, MC__CAP_MEMORY);
        c.client = &cl;
        cl.advice = MC_ADVICE_REMOVE;
        assert_denied_with(p, &c, NULL,
                           "advice REMOVE is not offered to clients: it frees the file's storage "
                           "under every reader of the range; write zeros instead");
        cr_assert(eq(int, mc__policy_admit(p, &c, &err), -EPERM));
        cl.advice = MC_ADVICE_WILLNEED;
        assert_allowed(p, &c, NULL);
        cl.advice = -1;

        /* The manager's own operations: no allowed_syscalls entry, only capabilities. */
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, 0), 0));
        mc__call_init(&c, MC__OP_MMAP_FD, MC__CAP_MEMORY);
        c.client = &cl;
        cl.need[0] = (mc__need){MC_CAP_FD_PASS, "needs FdPass"};
        cl.need[1] = (mc__need){0, NULL};
        cr_assert(eq(int, mc__policy_decide(p, &c, NULL, &err), -EACCES));
        cr_assert(eq(str, err.message, "needs FdPass"));
        cl.caps |= MC_CAP_FD_PASS;
        assert_allowed(p, &c, NULL);
        cr_assert(eq(str, (char *) mc__op_name(MC__OP_MMAP_FD), "mmap_fd"));
        cr_assert(eq(str, (char *) mc__op_name(MC__OP_MMAP_LIST), "mmap_list"));
        cr_assert(eq(ptr, (void *) mc_op_name(MC__OP_MMAP_FD), NULL), "not public operations");
        /* Without a client they are no operation at all. */
        c.client = NULL;
        assert_denied_saying(p, &c, NULL, "is not a memcap operation");
}

Test(policy, decide_flag_rules) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fixed = true;
        assert_denied(p, &c, NULL, "allow_fixed");
        assert_denied(NULL, &c, NULL, "allow_fixed");
        cr_assert(eq(int, mc_policy_set_allow_fixed(p, true), 0));
        assert_allowed(p, &c, NULL);

        mc__call_init(&c, MC_OP_MPROTECT, MC__CAP_MEMORY);
        c.write_exec = true;
        assert_denied_with(
                p, &c, NULL,
                "mprotect denied by policy rule allow_write_exec: write and execute on one "
                "mapping are not allowed (set \"allow_write_exec\": true in the policy to "
                "permit it)");
        cr_assert(eq(int, mc_policy_set_allow_write_exec(p, true), 0));
        assert_allowed(p, &c, NULL);

        mc__call_init(&c, MC_OP_MADVISE, MC__CAP_MEMORY);
        c.huge = true;
        assert_denied(p, &c, NULL, "allow_huge_pages");
        cr_assert(eq(int, mc_policy_set_allow_huge_pages(p, true), 0));
        assert_allowed(p, &c, NULL);
}

Test(policy, decide_rules_run_in_order) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_usage u = {.charged_bytes = 5 * GiB};
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fixed = c.write_exec = c.huge = true;
        c.add_charged = 4096;
        assert_denied(p, &c, &u, "allow_fixed");
        c.fixed = false;
        assert_denied(p, &c, &u, "allow_write_exec");
        c.write_exec = false;
        assert_denied(p, &c, &u, "allow_huge_pages");
        c.huge = false;
        assert_denied(p, &c, &u, "max_memory_usage");
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, 0), 0));
        c.fixed = true;
        assert_denied(p, &c, &u, "allowed_syscalls");
}

Test(policy, decide_write_exec_through_aliases) {
        static const struct {
                uint8_t why;
                const char *says;
        } cases[] = {
                {MC__WX_EXEC_OF_WRITABLE, "has a writable shared mapping in this context"},
                {MC__WX_WRITE_OF_EXECUTABLE, "has an executable mapping in this context"},
                {MC__WX_EXEC_AFTER_WRITE, "the mapping was writable"},
        };
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        mc__call c;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cr_assert(eq(int, mc_policy_set_allow_write_exec(p, false), 0));
                mc__call_init(&c, MC_OP_MPROTECT, MC__CAP_MEMORY);
                c.wx_alias = cases[i].why;
                assert_denied(p, &c, NULL, "allow_write_exec");
                cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
                cr_assert(ne(ptr, strstr(err.message, cases[i].says), NULL), "%s", err.message);
                cr_assert(ne(ptr, strstr(err.message, "\"allow_write_exec\": true"), NULL), "%s",
                          err.message);
                cr_assert(eq(int, mc_policy_set_allow_write_exec(p, true), 0));
                assert_allowed(p, &c, NULL);
        }
        /* No alias, no rule. */
        cr_assert(eq(int, mc_policy_set_allow_write_exec(p, false), 0));
        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        assert_allowed(p, &c, NULL);
}

Test(policy, decide_allowed_paths) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        char longpath[600];
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fields = MC__F_FILE;
        c.req.file = "data/x";
        c.req.resolved = "/etc/passwd";
        assert_allowed(p, &c, NULL);

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/srv/data", &err), 0));
        assert_denied(p, &c, NULL, "allowed_paths");
        assert_denied_with(
                p, &c, NULL,
                "mmap denied by policy rule allowed_paths: '/etc/passwd' is not beneath any "
                "root in the policy's allowed_paths");
        c.req.resolved = "/srv/data2/x";
        assert_denied(p, &c, NULL, "allowed_paths");
        c.req.resolved = "/srv/data/x";
        assert_allowed(p, &c, NULL);

        /* Only the resolved path counts, and only for calls that name a file. */
        c.req.resolved = NULL;
        c.req.file = "/etc/passwd";
        assert_allowed(p, &c, NULL);
        c.req.resolved = "/etc/passwd";
        c.fields = 0;
        assert_allowed(p, &c, NULL);

        /* A long path is cut to its tail and the message keeps its shape. */
        memset(longpath, 'p', sizeof(longpath));
        longpath[0] = '/';
        memcpy(longpath + sizeof(longpath) - 9, "/tail.db", 9);
        c.fields = MC__F_FILE;
        c.req.resolved = longpath;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(strstr(err.message, "'...ppp") != NULL, "%s", err.message);
        cr_assert(strstr(err.message, "/tail.db' is not beneath any root in the policy's "
                                      "allowed_paths") != NULL,
                  "%s", err.message);
}

Test(policy, decide_allowed_shared_memory) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        mc__call c;

        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "app-*", &err), 0));

        mc__call_init(&c, MC_OP_SHM_OPEN, MC__CAP_MEMORY);
        c.fields = MC__F_NAME;
        c.req.name = "/app-1";
        assert_allowed(p, &c, NULL);
        c.req.name = "/other";
        assert_denied(p, &c, NULL, "allowed_shared_memory");
        assert_denied_with(
                p, &c, NULL,
                "shm_open denied by policy rule allowed_shared_memory: shared memory name "
                "'/other' matches no pattern in the policy's allowed_shared_memory");
        c.req.name = NULL;
        assert_denied(p, &c, NULL, "allowed_shared_memory");

        c.req.name = "/other";
        c.op = MC_OP_SHM_UNLINK;
        assert_denied(p, &c, NULL, "allowed_shared_memory");
        /* Closing or resizing an object already open is not a naming decision. */
        assert_allowed_as(p, &c, MC_OP_SHM_CLOSE);
        assert_allowed_as(p, &c, MC_OP_SHM_RESIZE);
        c.op = MC_OP_SHM_OPEN;
        c.fields = 0;
        assert_allowed(p, &c, NULL);
}

Test(policy, decide_max_memory_usage_boundaries) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_usage u = {.charged_bytes = 4 * GiB - 4096};
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.add_charged = 4096; /* exactly the limit */
        assert_allowed(p, &c, &u);
        c.add_charged = 4097;
        assert_denied(p, &c, &u, "max_memory_usage");
        c.add_charged = 8192;
        assert_denied_with(
                p, &c, &u,
                "mmap denied by policy rule max_memory_usage: 4294963200 bytes charged + "
                "8192 requested exceed the limit of 4294967296 bytes");

        /* A request larger than the limit on its own. */
        u.charged_bytes = 0;
        c.add_charged = 4 * GiB + 1;
        assert_denied(p, &c, &u, "max_memory_usage");

        /* Overflow of the sum is denied, not wrapped. */
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, UINT64_MAX - 1), 0));
        u.charged_bytes = UINT64_MAX - 10;
        c.add_charged = 100;
        assert_denied_with(
                p, &c, &u,
                "mmap denied by policy rule max_memory_usage: 18446744073709551605 bytes "
                "charged + 100 requested overflow a 64-bit counter");
        c.add_charged = 9; /* UINT64_MAX - 1: exactly the limit */
        assert_allowed(p, &c, &u);

        /* Unlimited admits any sum that does not overflow; overflow stays denied. */
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, MC_UNLIMITED), 0));
        c.add_charged = 10;
        assert_allowed(p, &c, &u);
        c.add_charged = 11;
        assert_denied(p, &c, &u, "max_memory_usage");

        /* A zero limit denies any growth; zero growth is never checked. */
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 0), 0));
        u.charged_bytes = 0;
        c.add_charged = 1;
        assert_denied(p, &c, &u, "max_memory_usage");
        c.add_charged = 0;
        assert_allowed(p, &c, &u);
}

Test(policy, decide_usage_above_a_lowered_limit) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_usage u = {.charged_bytes = 10 * GiB, .locked_bytes = 100 * MiB, .mappings = 100000};
        mc__call c;

        mc__call_init(&c, MC_OP_MPROTECT, MC__CAP_MEMORY);
        assert_allowed(p, &c, &u); /* no growth */
        c.add_charged = 1;
        assert_denied(p, &c, &u, "max_memory_usage");
        mc__call_init(&c, MC_OP_MUNMAP, MC__CAP_MEMORY);
        c.sub_charged = 4096;
        assert_allowed(p, &c, &u); /* releasing is always fine */
}

Test(policy, decide_max_locked_memory_boundaries) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_usage u = {.locked_bytes = 8 * MiB - 4096};
        mc__call c;

        mc__call_init(&c, MC_OP_MLOCK, MC__CAP_MEMORY);
        c.add_locked = 4096;
        assert_allowed(p, &c, &u);
        c.add_locked = 4097;
        assert_denied_with(p, &c, &u,
                           "mlock denied by policy rule max_locked_memory: 8384512 bytes locked + "
                           "4097 requested exceed the limit of 8388608 bytes");
        u.locked_bytes = UINT64_MAX;
        c.add_locked = 1;
        assert_denied(p, &c, &u, "max_locked_memory");
        cr_assert(eq(int, mc_policy_set_max_locked_memory(p, MC_UNLIMITED), 0));
        assert_denied(p, &c, &u, "max_locked_memory");
        u.locked_bytes = UINT64_MAX - 1;
        assert_allowed(p, &c, &u);
}

Test(policy, decide_max_mappings_boundaries) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_usage u = {.mappings = 65535};
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.add_mappings = 1;
        assert_allowed(p, &c, &u);
        u.mappings = 65536;
        assert_denied_with(
                p, &c, &u,
                "mmap denied by policy rule max_mappings: 65536 mappings live + 1 requested "
                "exceed the limit of 65536 mappings");
        u.mappings = UINT64_MAX;
        assert_denied(p, &c, &u, "max_mappings");
        cr_assert(eq(int, mc_policy_set_max_mappings(p, MC_UNLIMITED), 0));
        u.mappings = 1000000;
        assert_allowed(p, &c, &u);
}

Test(policy, decide_quotas_checked_in_order) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_usage u = {.charged_bytes = 4 * GiB, .locked_bytes = 8 * MiB, .mappings = 65536};
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.add_charged = c.add_locked = c.add_mappings = 1;
        assert_denied(p, &c, &u, "max_memory_usage");
        c.add_charged = 0;
        assert_denied(p, &c, &u, "max_locked_memory");
        c.add_locked = 0;
        assert_denied(p, &c, &u, "max_mappings");
        c.add_mappings = 0;
        assert_allowed(p, &c, &u);
}

Test(policy, decide_allowed_signals) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc__call c;

        mc__call_init(&c, MC_OP_SIGNAL_RAISE, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL;
        c.req.signo = SIGUSR1;
        assert_allowed(p, &c, NULL);
        c.req.signo = SIGKILL;
        assert_denied_with(
                p, &c, NULL,
                "signal_raise denied by policy rule allowed_signals: SIGKILL is not in the "
                "policy's allowed_signals (add \"SIGKILL\" to permit it)");

        c.op = MC_OP_SIGNAL_SEND;
        c.target_classes = MC_TARGET_SELF;
        assert_denied(p, &c, NULL, "allowed_signals");
        c.req.signo = SIGRTMIN + 1;
        cr_assert(eq(int, mc_policy_set_signal_allowed(p, SIGRTMIN + 1, false), 0));
        assert_denied_saying(p, &c, NULL, "SIGRTMIN+1 is not in");
        /* Sending signal 0 (kill -0) is allowed wherever sending is: only the target counts. */
        c.req.signo = 0;
        assert_allowed(p, &c, NULL);
        c.target_classes = MC_TARGET_SAME_UID;
        assert_denied(p, &c, NULL, "allowed_signal_targets");
        for (int s = 1; s <= 64; s++)
                cr_assert(eq(int, mc_policy_set_signal_allowed(p, s, false), 0));
        c.target_classes = MC_TARGET_SELF;
        assert_allowed(p, &c, NULL);
        /* Raising it is not a probe: 0 is no signal there. */
        c.op = MC_OP_SIGNAL_RAISE;
        assert_denied_saying(p, &c, NULL, ": 0 is not in");
        c.op = MC_OP_SIGNAL_SEND;

        /* Registering a handler, masking or waiting is not sending. */
        c.req.signo = SIGKILL;
        assert_allowed_as(p, &c, MC_OP_SIGNAL_REGISTER);
        assert_allowed_as(p, &c, MC_OP_SIGNAL_WAIT);
        /* Without the signal field nothing is checked. */
        c.op = MC_OP_SIGNAL_RAISE;
        c.fields = 0;
        assert_allowed(p, &c, NULL);
}

Test(policy, decide_allowed_signal_targets) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        mc__call c;

        cr_assert(eq(int, mc_policy_set_signal_targets(p, MC_TARGET_SELF | MC_TARGET_CHILDREN), 0));
        mc__call_init(&c, MC_OP_SIGNAL_SEND, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_TARGET;
        c.req.signo = SIGUSR1;
        c.req.target = 4242;
        c.target_classes = MC_TARGET_CHILDREN | MC_TARGET_SAME_UID | MC_TARGET_ANY;
        assert_allowed(p, &c, NULL);
        c.target_classes = MC_TARGET_SAME_UID | MC_TARGET_PROCESS_GROUP;
        assert_denied_with(
                p, &c, NULL,
                "signal_send denied by policy rule allowed_signal_targets: pid 4242 "
                "(process_group, same_uid) is not a target the policy allows; add "
                "\"process_group\" to allowed_signal_targets to permit it (allowed: self, "
                "children)");
        c.target_classes = 0;
        assert_denied(p, &c, NULL, "allowed_signal_targets");

        /* No targets at all: nobody may be signalled, not even the caller. */
        cr_assert(eq(int, mc_policy_set_signal_targets(p, 0), 0));
        c.target_classes = MC_TARGET_SELF;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(strstr(err.message, "(self) is not a target the policy allows; add \"self\"") !=
                          NULL,
                  "%s", err.message);
        cr_assert(strstr(err.message, "(allowed: none)") != NULL, "%s", err.message);

        /* "any" admits every target. */
        cr_assert(eq(int, mc_policy_set_signal_targets(p, MC_TARGET_ANY), 0));
        c.target_classes = 0;
        assert_allowed(p, &c, NULL);

        /* Raising targets the caller by definition; the target rule is for sending. */
        cr_assert(eq(int, mc_policy_set_signal_targets(p, 0), 0));
        c.op = MC_OP_SIGNAL_RAISE;
        assert_allowed(p, &c, NULL);
}

/* Decide a send to @target of @classes under @targets; "" when allowed, else the message. */
const char *decide_target(unsigned targets, pid_t target, unsigned classes) {
        static mc_error err;
        _cleanup_policy_ mc_policy *p = new_policy();
        mc__call c;

        cr_assert(eq(int, mc_policy_set_signal_targets(p, targets), 0));
        mc__call_init(&c, MC_OP_SIGNAL_SEND, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_TARGET;
        c.req.signo = SIGTERM;
        c.req.target = target;
        c.target_classes = classes;
        err = (mc_error) MC_ERROR_INIT;
        if (decide(p, &c, NULL, &err) == 0)
                return "";
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        return err.message;
}

Test(policy, decide_default_targets_are_self_and_children) {
        unsigned def = mc_policy_signal_targets(NULL);

        ADMITS(def, 4242, MC_TARGET_SELF | MC_TARGET_PROCESS_GROUP | MC_TARGET_SAME_UID);
        ADMITS(def, 4242, MC_TARGET_CHILDREN | MC_TARGET_SAME_UID);
        /* Anything else names the narrowest rule that would admit it. */
        REFUSES(def, 4242, MC_TARGET_SAME_UID, "\"same_uid\"");
        REFUSES(def, 4242, MC_TARGET_PROCESS_GROUP | MC_TARGET_SAME_UID, "\"process_group\"");
        REFUSES(def, 4242, 0, "\"any\"");
}

Test(policy, decide_init_needs_its_own_rule) {
        unsigned most = MC_TARGET_SELF | MC_TARGET_CHILDREN | MC_TARGET_PROCESS_GROUP |
                        MC_TARGET_SAME_UID | MC_TARGET_ANY | MC_TARGET_WHOLE_GROUP |
                        MC_TARGET_BROADCAST;

        REFUSES(most, 1, MC_TARGET_INIT, "\"init\"");
        REFUSES(MC_TARGET_ANY, 1, MC_TARGET_INIT, "\"init\"");
        ADMITS(MC_TARGET_INIT, 1, MC_TARGET_INIT);
        /* "init" is about pid 1 only. */
        REFUSES(MC_TARGET_INIT, 4242, MC_TARGET_SAME_UID, "\"same_uid\"");
}

Test(policy, decide_whole_groups_need_their_own_rule_and_a_leader_the_policy_admits) {
        unsigned own = MC_TARGET_WHOLE_GROUP | MC_TARGET_PROCESS_GROUP;
        unsigned childs = MC_TARGET_WHOLE_GROUP | MC_TARGET_CHILDREN | MC_TARGET_SAME_UID;

        /* The caller's own group (pid 0 or -getpgrp()). */
        REFUSES(MC_TARGET_SELF | MC_TARGET_PROCESS_GROUP | MC_TARGET_ANY, 0, own,
                "\"whole_group\"");
        REFUSES(MC_TARGET_WHOLE_GROUP, 0, own, "\"process_group\"");
        REFUSES(MC_TARGET_SELF, 0, own, "\"process_group\" and \"whole_group\"");
        ADMITS(MC_TARGET_WHOLE_GROUP | MC_TARGET_PROCESS_GROUP, 0, own);
        ADMITS(MC_TARGET_WHOLE_GROUP | MC_TARGET_SELF, 0, own | MC_TARGET_SELF);
        /* A group led by a child, by another process of the user, or by nobody any more. */
        ADMITS(MC_TARGET_WHOLE_GROUP | MC_TARGET_CHILDREN, -4242, childs);
        REFUSES(MC_TARGET_CHILDREN, -4242, childs, "\"whole_group\"");
        REFUSES(MC_TARGET_WHOLE_GROUP | MC_TARGET_SELF, -4242,
                MC_TARGET_WHOLE_GROUP | MC_TARGET_SAME_UID, "\"same_uid\"");
        REFUSES(MC_TARGET_WHOLE_GROUP | MC_TARGET_SAME_UID, -4242, MC_TARGET_WHOLE_GROUP,
                "\"any\"");
        ADMITS(MC_TARGET_WHOLE_GROUP | MC_TARGET_ANY, -4242, MC_TARGET_WHOLE_GROUP);
        /* Process group 1 is init's. */
        REFUSES(MC_TARGET_WHOLE_GROUP | MC_TARGET_ANY, 0,
                MC_TARGET_WHOLE_GROUP | MC_TARGET_PROCESS_GROUP | MC_TARGET_INIT, "\"init\"");
        ADMITS(MC_TARGET_WHOLE_GROUP | MC_TARGET_ANY | MC_TARGET_INIT, 0,
               MC_TARGET_WHOLE_GROUP | MC_TARGET_PROCESS_GROUP | MC_TARGET_INIT);
}

Test(policy, decide_broadcast_needs_its_own_rule) {
        unsigned most = MC_TARGET_SELF | MC_TARGET_CHILDREN | MC_TARGET_PROCESS_GROUP |
                        MC_TARGET_SAME_UID | MC_TARGET_ANY | MC_TARGET_WHOLE_GROUP | MC_TARGET_INIT;

        REFUSES(most, -1, MC_TARGET_BROADCAST, "\"broadcast\"");
        ADMITS(MC_TARGET_BROADCAST, -1, MC_TARGET_BROADCAST);
        /* And it admits nothing but the broadcast. */
        REFUSES(MC_TARGET_BROADCAST, 0, MC_TARGET_WHOLE_GROUP | MC_TARGET_PROCESS_GROUP,
                "\"process_group\" and \"whole_group\"");
        REFUSES(MC_TARGET_BROADCAST, 4242, 0, "\"any\"");
}

Test(policy, decide_default_allows_ordinary_calls) {
        mc_usage u = {.charged_bytes = GiB, .locked_bytes = MiB, .mappings = 10};
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fields = MC__F_FILE | MC__F_LENGTH;
        c.req.resolved = "/var/lib/x";
        c.add_charged = 1 << 20;
        c.add_mappings = 1;
        assert_allowed(NULL, &c, &u);
        assert_allowed(NULL, &c, NULL);
}
