/* SPDX-License-Identifier: MIT */
/*
 * Shared memory and the rules around it: policy checks, quotas, unlink, and
 * mc_map_shared_buffer().
 */

#include "shm-suite.h"

/* ---- policy ------------------------------------------------------------------------------- */

/* The test's context allows only the names that match @pattern, or none when it is NULL. */
void allow_shm_pattern(const char *pattern) {
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        if (pattern)
                cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, pattern, &err), 0), "%s",
                          err.message);
        use_policy(p);
}

Test(shm, policy_patterns_allow_and_deny) {
        char pattern[64];
        const char *ok = name_new("ok"), *no = name_new("no");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        int fds, r;

        snprintf(pattern, sizeof(pattern), "memcap-test-shm-ok-*");
        allow_shm_pattern(pattern);
        create_named(ctx, ok, page(), &a);
        close_ok(ctx, &a);
        open_named_ok(ctx, ok + 1, 0, MC_PROT_READ, &a);

        fds = count_fds();
        r = try_create(ctx, no, page(), &b, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(eq(ptr, strstr(err.message, "allowed_shared_memory"), NULL)), "%s",
                  err.message);
        cr_assert(not(shm_exists(no)), "a denied create must not create");
        r = mc_map_shared_buffer(ctx, no, page(), &b, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(no)));
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, page(), 1, 1);

        /* Anonymous regions have no name for the patterns to judge. */
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &b);
        cr_assert(eq(int, mc_shared_unlink(ctx, ok, &err), 0), "%s", err.message);
}

Test(shm, denied_name_is_policy_violation_whether_or_not_it_exists) {
        const char *no = name_new("deny");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds = count_fds(), r;

        allow_shm_pattern("nothing-matches-*");

        /* Absent: a denial, not NotFound, so the policy reveals nothing. */
        r = open_named(ctx, no, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        r = mc_shared_unlink(ctx, no, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);

        /* Present (made behind memcap's back): still a denial, and it stays. */
        plant(no, 0600, page());
        r = open_named(ctx, no, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        r = open_named(ctx, no + 1, 2 * page(), MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        r = mc_shared_unlink(ctx, no, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(shm_exists(no));
        cr_assert(eq(int, count_fds(), fds), "the descriptor opened to size the quota leaked");
        assert_usage(ctx, 0, 0, 0);
}

Test(shm, no_patterns_means_no_named_memory) {
        const char *name = name_new("none");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        allow_shm_pattern(NULL);
        r = mc_map_shared_buffer(ctx, name, page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(name)));
        cr_assert(eq(int, mc_map_shared_buffer(ctx, NULL, page(), &s, &err), 0), "%s", err.message);
}

Test(shm, operation_not_allowed_is_policy_violation) {
        mc_policy *p = policy_new();
        const char *name = name_new("ops");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        cr_assert(eq(int, mc_policy_set_allowed_ops(p, MC_OP_ALL & ~MC_OP_BIT(MC_OP_SHM_OPEN)), 0));
        use_policy(p);
        r = mc_map_shared_buffer(ctx, name, page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(name)));
}

/* ---- quotas --------------------------------------------------------------------------------- */

Test(shm, over_quota_creates_nothing) {
        mc_policy *p = policy_new();
        const char *name = name_new("quota");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds, r;

        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 2 * page()), 0));
        use_policy(p);
        fds = count_fds();

        r = try_create(ctx, name, 2 * page() + 1, &s, &err); /* three pages once rounded */
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(eq(ptr, strstr(err.message, "max_memory_usage"), NULL)), "%s", err.message);
        cr_assert(not(shm_exists(name)), "a denied create must leave no object behind");
        r = mc_map_shared_buffer(ctx, name, 3 * page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        cr_assert(not(shm_exists(name)));
        r = mc_map_shared_buffer(ctx, NULL, 3 * page(), &s, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        assert_left_nothing(ctx, fds);

        /* Exactly the quota fits. */
        create_named(ctx, name, 2 * page(), &s);
        assert_usage(ctx, 2 * page(), 1, 1);
}

Test(shm, opening_existing_counts_its_size_against_quota) {
        mc_policy *p = policy_new();
        const char *name = name_new("quota");
        mc_error err = MC_ERROR_INIT;
        mc_shared s, o;
        mc_ctx *big = ctx_new();
        int fds, r;

        create_named(big, name, 4 * page(), &s);
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 2 * page()), 0));
        use_policy(p);
        fds = count_fds();
        r = open_named(ctx, name, 0, MC_PROT_READ, &o, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        assert_left_nothing(ctx, fds);
        /* The part that fits may be opened. */
        open_named_ok(ctx, name, 2 * page(), MC_PROT_READ, &o);
        assert_usage(ctx, 2 * page(), 1, 1);
        mc_ctx_free(big);
}

Test(shm, max_mappings_counts_regions) {
        mc_policy *p = policy_new();
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        int r;

        cr_assert(eq(int, mc_policy_set_max_mappings(p, 1), 0));
        use_policy(p);
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &a);
        r = mc_map_shared_buffer(ctx, NULL, page(), &b, &err);
        assert_err(r, &err, EPERM, MC_ERR_POLICY_VIOLATION);
        assert_usage(ctx, page(), 1, 1);
}

/* ---- unlink ------------------------------------------------------------------------------- */

Test(shm, unlink_keeps_mappings_valid) {
        const char *name = name_new("unlink");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        int r;

        create_named(ctx, name, 2 * page(), &a);
        open_named_ok(ctx, name, 0, MC_PROT_READ_WRITE, &b);
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0), "%s", err.message);
        cr_assert(not(shm_exists(name)));

        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &b, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        r = mc_shared_unlink(ctx, name, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);

        /* Both mappings still reach the same memory. */
        memset(a.region.ptr, 'x', a.region.len);
        cr_assert(eq(int, ((char *) b.region.ptr)[2 * page() - 1], 'x'));
        assert_usage(ctx, 4 * page(), 2, 2);
        close_ok(ctx, &a);
        close_ok(ctx, &b);
        assert_usage(ctx, 0, 0, 0);

        /* The name is free again. */
        create_named(ctx, name, page(), &a);
        cr_assert(eq(int, ((char *) a.region.ptr)[0], 0), "a new object starts zeroed");
}

/* ---- map_shared_buffer -------------------------------------------------------------------- */

Test(shm, map_shared_buffer_creates_or_opens_across_processes) {
        const char *name = name_new("buffer");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int pipe_go[2], pipe_done[2];
        pid_t pid;
        char c;

        cr_assert(eq(int, mc_map_shared_buffer(ctx, name, 2 * page(), &s, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, s.owner, MC_OWNER_LOCAL));
        cr_assert(eq(int, s.owner_pid, getpid()));
        cr_assert(eq(sz, s.region.len, 2 * page()));
        cr_assert(eq(u32, s.region.prot, MC_PROT_READ_WRITE));
        memcpy(s.region.ptr, "parent wrote first", sizeof("parent wrote first"));

        cr_assert(eq(int, pipe2(pipe_go, O_CLOEXEC), 0));
        cr_assert(eq(int, pipe2(pipe_done, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                mc_shared t;
                char *p;

                /* Only the parent writes to us: should it die, our read sees end-of-file. */
                close(pipe_go[0]);
                close(pipe_done[1]);
                /* Same name and size: opened, not created, and owned by the parent. */
                if (mc_map_shared_buffer(ctx, name, 2 * page(), &t, NULL) < 0)
                        _exit(10);
                if (t.owner != MC_OWNER_REMOTE)
                        _exit(11);
                if (t.owner_pid != 0 && t.owner_pid != getppid())
                        _exit(12);
                if (t.region.ptr == s.region.ptr)
                        _exit(13); /* must be a mapping of its own, not the inherited one */
                p = t.region.ptr;
                if (strcmp(p, "parent wrote first") != 0)
                        _exit(14);
                memcpy(p + page(), "child answers", 14);
                if (write(pipe_go[1], "g", 1) != 1)
                        _exit(15);
                /* Wait for the parent's second write and see it in our own mapping. */
                if (read(pipe_done[0], &c, 1) != 1)
                        _exit(16);
                if (strcmp(p, "parent again") != 0)
                        _exit(17);
                if (mc_shared_close(ctx, &t, NULL) < 0)
                        _exit(18);
                _exit(0);
        }
        cr_assert(eq(int, read(pipe_go[0], &c, 1), 1));
        cr_assert(eq(str, (char *) s.region.ptr + page(), "child answers"));
        memcpy(s.region.ptr, "parent again", sizeof("parent again"));
        cr_assert(eq(int, write(pipe_done[1], "d", 1), 1));
        cr_assert(eq(int, child_status(pid), 0));
        close(pipe_go[0]);
        close(pipe_go[1]);
        close(pipe_done[0]);
        close(pipe_done[1]);
}

Test(shm, map_shared_buffer_refuses_a_smaller_existing_object) {
        const char *name = name_new("small");
        mc_error err = MC_ERROR_INIT;
        mc_shared a, b;
        int fds, r;

        create_named(ctx, name, page(), &a);
        fds = count_fds();
        r = mc_map_shared_buffer(ctx, name, 2 * page(), &b, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(i64, (int64_t) shm_stat(name).st_size, (int64_t) page()),
                  "the existing object must not be grown");
        cr_assert(eq(int, count_fds(), fds));
        assert_usage(ctx, page(), 1, 1);
        /* A smaller buffer of a bigger object is fine. */
        cr_assert(eq(int, mc_map_shared_buffer(ctx, name, 10, &b, &err), 0), "%s", err.message);
        cr_assert(eq(sz, b.region.len, 10));
        cr_assert(eq(int, b.owner, MC_OWNER_LOCAL), "this process created it");
}

Test(shm, anonymous_region_is_shared_with_fork_children) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        pid_t pid;

        cr_assert(eq(int, mc_map_shared_buffer(ctx, NULL, 3 * page(), &s, &err), 0), "%s",
                  err.message);
        cr_assert(eq(str, s.name, ""));
        cr_assert(eq(int, s.owner, MC_OWNER_LOCAL));
        cr_assert(eq(int, s.owner_pid, getpid()));
        memcpy(s.region.ptr, "before fork", sizeof("before fork"));

        pid = fork();
        if (pid == 0) {
                char *p = s.region.ptr;
                if (strcmp(p, "before fork") != 0)
                        _exit(10);
                memcpy(p + 2 * page(), "the child wrote this", sizeof("the child wrote this"));
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));
        cr_assert(eq(str, (char *) s.region.ptr + 2 * page(), "the child wrote this"));
}
