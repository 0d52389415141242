/* SPDX-License-Identifier: MIT */
/*
 * The policy: its secure default, setters and getters, the shared-memory and path matchers,
 * and the size parser.
 */

#include "policy-suite.h"

/* ---- defaults, setters, getters -------------------------------------------------------------- */

void assert_default(const mc_policy *p) {
        cr_assert(not(mc_policy_allow_fixed(p)));
        cr_assert(not(mc_policy_allow_write_exec(p)));
        cr_assert(not(mc_policy_allow_huge_pages(p)));
        cr_assert(eq(u64, mc_policy_max_memory_usage(p), 4 * GiB));
        cr_assert(eq(u64, mc_policy_max_locked_memory(p), 8 * MiB));
        cr_assert(eq(u64, mc_policy_max_mappings(p), 65536));
        cr_assert(eq(u64, mc_policy_allowed_ops(p), MC_OP_ALL));
        /* Reaching processes the caller did not start is opt-in. */
        cr_assert(eq(uint, mc_policy_signal_targets(p), MC_TARGET_SELF | MC_TARGET_CHILDREN));
        for (int s = 1; s <= 64; s++)
                cr_assert(eq(int, mc_policy_signal_allowed(p, s), s != SIGKILL && s != SIGSTOP),
                          "signal %d", s);
        cr_assert(mc_policy_shared_memory_allowed(p, "/anything"));
        cr_assert(mc_policy_shared_memory_allowed(p, "x"));
        cr_assert(mc_policy_path_allowed(p, "/etc/passwd"));
        cr_assert(mc_policy_path_allowed(p, "/"));
        cr_assert(not(mc_policy_path_allowed(p, "etc/passwd")));
}

Test(policy, default_is_the_documented_secure_default) {
        _cleanup_policy_ mc_policy *p = new_policy();

        assert_default(p);
}

Test(policy, null_policy_reads_as_the_default) {
        assert_default(NULL);
}

Test(policy, empty_json_is_the_default) {
        _cleanup_policy_ mc_policy *p = load("{}");

        assert_default(p);
}

Test(policy, new_and_dup_reject_null) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *q = NULL;

        cr_assert(eq(int, mc_policy_new(NULL, &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_policy_dup(NULL, &q, &err), -EINVAL));
        cr_assert(zero(ptr, q));
        cr_assert(zero(ptr, mc_policy_free(NULL)));
}

Test(policy, boolean_setters) {
        _cleanup_policy_ mc_policy *p = new_policy();

        cr_assert(eq(int, mc_policy_set_allow_fixed(p, true), 0));
        cr_assert(mc_policy_allow_fixed(p));
        cr_assert(eq(int, mc_policy_set_allow_write_exec(p, true), 0));
        cr_assert(mc_policy_allow_write_exec(p));
        cr_assert(eq(int, mc_policy_set_allow_huge_pages(p, true), 0));
        cr_assert(mc_policy_allow_huge_pages(p));
        cr_assert(eq(int, mc_policy_set_allow_fixed(p, false), 0));
        cr_assert(not(mc_policy_allow_fixed(p)));

        cr_assert(eq(int, mc_policy_set_allow_fixed(NULL, true), -EINVAL));
        cr_assert(eq(int, mc_policy_set_allow_write_exec(NULL, true), -EINVAL));
        cr_assert(eq(int, mc_policy_set_allow_huge_pages(NULL, true), -EINVAL));
}

Test(policy, limit_setters) {
        _cleanup_policy_ mc_policy *p = new_policy();

        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 12345), 0));
        cr_assert(eq(u64, mc_policy_max_memory_usage(p), 12345));
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, MC_UNLIMITED), 0));
        cr_assert(eq(u64, mc_policy_max_memory_usage(p), MC_UNLIMITED));
        cr_assert(eq(int, mc_policy_set_max_locked_memory(p, 0), 0));
        cr_assert(eq(u64, mc_policy_max_locked_memory(p), 0));
        cr_assert(eq(int, mc_policy_set_max_mappings(p, 7), 0));
        cr_assert(eq(u64, mc_policy_max_mappings(p), 7));

        cr_assert(eq(int, mc_policy_set_max_memory_usage(NULL, 1), -EINVAL));
        cr_assert(eq(int, mc_policy_set_max_locked_memory(NULL, 1), -EINVAL));
        cr_assert(eq(int, mc_policy_set_max_mappings(NULL, 1), -EINVAL));
}

Test(policy, ops_setter) {
        _cleanup_policy_ mc_policy *p = new_policy();
        uint64_t ops = MC_OP_BIT(MC_OP_MMAP) | MC_OP_BIT(MC_OP_SIGNAL_WAIT);

        cr_assert(eq(int, mc_policy_set_allowed_ops(p, ops), 0));
        cr_assert(eq(u64, mc_policy_allowed_ops(p), ops));
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, 0), 0));
        cr_assert(eq(u64, mc_policy_allowed_ops(p), 0));

        /* A bit past the last operation is refused and changes nothing. */
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, MC_OP_BIT(_MC_OP_MAX)), -EINVAL));
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, UINT64_MAX), -EINVAL));
        cr_assert(eq(u64, mc_policy_allowed_ops(p), 0));
        cr_assert(eq(int, mc_policy_set_allowed_ops(NULL, 0), -EINVAL));
}

Test(policy, signal_setters) {
        _cleanup_policy_ mc_policy *p = new_policy();

        cr_assert(eq(int, mc_policy_set_signal_allowed(p, SIGKILL, true), 0));
        cr_assert(mc_policy_signal_allowed(p, SIGKILL));
        cr_assert(eq(int, mc_policy_set_signal_allowed(p, SIGUSR1, false), 0));
        cr_assert(not(mc_policy_signal_allowed(p, SIGUSR1)));
        cr_assert(eq(int, mc_policy_set_signal_allowed(p, 64, false), 0));
        cr_assert(not(mc_policy_signal_allowed(p, 64)));
        cr_assert(mc_policy_signal_allowed(p, 63));

        cr_assert(eq(int, mc_policy_set_signal_allowed(p, 0, true), -EINVAL));
        cr_assert(eq(int, mc_policy_set_signal_allowed(p, 65, true), -EINVAL));
        cr_assert(eq(int, mc_policy_set_signal_allowed(p, -1, true), -EINVAL));
        cr_assert(eq(int, mc_policy_set_signal_allowed(NULL, 1, true), -EINVAL));
        cr_assert(not(mc_policy_signal_allowed(p, 0)));
        cr_assert(not(mc_policy_signal_allowed(p, 65)));
        cr_assert(not(mc_policy_signal_allowed(p, INT32_MIN)));

        cr_assert(eq(int, mc_policy_set_signal_targets(p, MC_TARGET_SELF | MC_TARGET_ANY), 0));
        cr_assert(eq(uint, mc_policy_signal_targets(p), MC_TARGET_SELF | MC_TARGET_ANY));
        cr_assert(eq(int, mc_policy_set_signal_targets(p, 0), 0));
        cr_assert(eq(uint, mc_policy_signal_targets(p), 0));
        cr_assert(eq(int,
                     mc_policy_set_signal_targets(p, MC_TARGET_WHOLE_GROUP | MC_TARGET_BROADCAST |
                                                             MC_TARGET_INIT),
                     0));
        cr_assert(eq(uint, mc_policy_signal_targets(p),
                     MC_TARGET_WHOLE_GROUP | MC_TARGET_BROADCAST | MC_TARGET_INIT));
        cr_assert(eq(int, mc_policy_set_signal_targets(p, 0), 0));
        cr_assert(eq(int, mc_policy_set_signal_targets(p, MC_TARGET_INIT << 1), -EINVAL));
        cr_assert(eq(uint, mc_policy_signal_targets(p), 0));
        cr_assert(eq(int, mc_policy_set_signal_targets(NULL, 0), -EINVAL));
}

Test(policy, dup_is_deep_and_independent) {
        _cleanup_policy_ mc_policy *p = new_policy(), *q = NULL;
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/srv", &err), 0));
        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "app-*", &err), 0));
        cr_assert(eq(int, mc_policy_set_max_mappings(p, 3), 0));
        cr_assert(eq(int, mc_policy_dup(p, &q, &err), 0));

        mc_policy_free(TAKE_PTR(p));
        cr_assert(eq(u64, mc_policy_max_mappings(q), 3));
        cr_assert(mc_policy_path_allowed(q, "/srv/x"));
        cr_assert(not(mc_policy_path_allowed(q, "/etc/x")));
        cr_assert(mc_policy_shared_memory_allowed(q, "/app-1"));
        cr_assert(not(mc_policy_shared_memory_allowed(q, "/other")));
}

/* ---- shared memory patterns ------------------------------------------------------------------ */

Test(policy, shm_patterns) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        cr_assert(not(mc_policy_shared_memory_allowed(p, "/anything")), "cleared: none");

        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "app-*", &err), 0));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "cache-[0-9]", &err), 0));
        cr_assert(mc_policy_shared_memory_allowed(p, "/app-1"));
        cr_assert(mc_policy_shared_memory_allowed(p, "app-1"), "leading '/' is optional");
        cr_assert(mc_policy_shared_memory_allowed(p, "/app-"));
        cr_assert(mc_policy_shared_memory_allowed(p, "/cache-7"));
        cr_assert(not(mc_policy_shared_memory_allowed(p, "/cache-77")));
        cr_assert(not(mc_policy_shared_memory_allowed(p, "/xapp-1")));
        cr_assert(not(mc_policy_shared_memory_allowed(p, "/ap")));
        cr_assert(not(mc_policy_shared_memory_allowed(p, "//app-1")), "only one '/' is dropped");
        cr_assert(not(mc_policy_shared_memory_allowed(p, NULL)));
        cr_assert(not(mc_policy_shared_memory_allowed(NULL, NULL)));

        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(NULL), -EINVAL));
}

Test(policy, shm_pattern_validation) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        char big[300];

        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "", &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(str, err.message,
                     "policy: shared memory pattern '': a pattern must not be empty"));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "a\nb", &err), -EINVAL));
        cr_assert(strstr(err.message, "control characters") != NULL, "%s", err.message);
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "a\x7f", &err), -EINVAL));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "/app-*", &err), -EINVAL));
        cr_assert(strstr(err.message, "'/'") != NULL, "%s", err.message);
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(NULL, "x", &err), -EINVAL));

        memset(big, 'a', sizeof(big));
        big[255] = 0;
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, big, &err), 0), "255 bytes");
        big[255] = 'a';
        big[256] = 0;
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, big, &err), -EINVAL), "256");
        cr_assert(strstr(err.message, "at most 255 bytes") != NULL, "%s", err.message);
        cr_assert(lt(sz, strlen(err.message), sizeof(err.message)));
}

/* ---- paths ----------------------------------------------------------------------------------- */

/* A path and whether the policy of the test allows it. */
typedef struct path_row {
        const char *path;
        bool allowed;
} path_row;

/* @p allows exactly the paths of @rows that say so. */
static void assert_paths(const mc_policy *p, const path_row *rows, size_t n) {
        for (size_t i = 0; i < n; i++)
                cr_assert(eq(int, mc_policy_path_allowed(p, rows[i].path), rows[i].allowed),
                          "path '%s' must be %s", rows[i].path ? rows[i].path : "(NULL)",
                          rows[i].allowed ? "allowed" : "refused");
}

Test(policy, path_roots_match_whole_components) {
        static const path_row rows[] = {
                {"/srv/data", true},
                {"/srv/data/", true},
                {"/srv/data/x", true},
                {"/srv/data/x/y.bin", true},
                {"//srv//data/./x", true},
                {"/srv/data2", false},
                {"/srv/data2/x", false},
                {"/srv/dat", false},
                {"/srv", false},
                {"/", false},
                {"/etc/passwd", false},
                {"/srv/data/../../etc/passwd", false}, /* '..' escapes */
                {"srv/data/x", false},                 /* relative */
                {"", false},
                {NULL, false},
        };
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/srv/data", &err), 0));
        assert_paths(p, rows, ELEMENTSOF(rows));

        /* A second root adds to the first. */
        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/tmp", &err), 0));
        cr_assert(mc_policy_path_allowed(p, "/tmp/x"));
        cr_assert(mc_policy_path_allowed(p, "/srv/data/x"));

        /* And "any path" comes back. */
        cr_assert(eq(int, mc_policy_allow_any_path(p), 0));
        cr_assert(mc_policy_path_allowed(p, "/etc/passwd"));
        cr_assert(not(mc_policy_path_allowed(p, "etc/passwd")), "relative never");
        cr_assert(eq(int, mc_policy_allow_any_path(NULL), -EINVAL));
}

Test(policy, root_slash_allows_every_absolute_path) {
        static const path_row rows[] = {{"/", true}, {"/etc/passwd", true}, {"etc/passwd", false}};
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "///", &err), 0));
        assert_paths(p, rows, ELEMENTSOF(rows));
}

Test(policy, roots_are_normalised_and_validated) {
        _cleanup_policy_ mc_policy *p = new_policy();
        _cleanup_free_ char *json = NULL;
        mc_error err = MC_ERROR_INIT;
        char big[PATH_MAX + 10];

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "//srv/./data/", &err), 0));
        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/srv/data", &err), 0), "a duplicate");
        cr_assert(mc_policy_path_allowed(p, "/srv/data/x"));
        cr_assert(not(mc_policy_path_allowed(p, "/srv/x")));
        cr_assert(eq(int, mc_policy_to_json(p, &json, &err), 0));
        cr_assert(strstr(json, "\"allowed_paths\": [\n    \"/srv/data\"\n  ]") != NULL, "%s", json);

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "srv", &err), -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(str, err.message,
                     "policy: allowed path 'srv': a root must be an absolute path"));
        cr_assert(eq(int, mc_policy_add_allowed_path(p, "", &err), -EINVAL));
        cr_assert(eq(int, mc_policy_add_allowed_path(p, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/srv/../etc", &err), -EINVAL));
        cr_assert(strstr(err.message, "'..'") != NULL, "%s", err.message);
        cr_assert(eq(int, mc_policy_add_allowed_path(NULL, "/x", &err), -EINVAL));

        memset(big, 'a', sizeof(big));
        big[0] = '/';
        big[sizeof(big) - 1] = 0;
        cr_assert(eq(int, mc_policy_add_allowed_path(p, big, &err), -EINVAL));
        cr_assert(strstr(err.message, "PATH_MAX") != NULL, "%s", err.message);
        /* Failed adds left the roots alone. */
        cr_assert(mc_policy_path_allowed(p, "/srv/data/x"));
        cr_assert(not(mc_policy_path_allowed(p, "/etc")));
}

/* ---- names and sizes ------------------------------------------------------------------------- */

Test(policy, op_names_both_ways) {
        static const char *const names[] = {
                "mmap",          "munmap",          "mprotect",
                "msync",         "mremap",          "madvise",
                "mlock",         "munlock",         "shm_open",
                "shm_close",     "shm_unlink",      "shm_resize",
                "shm_seal",      "signal_register", "signal_unregister",
                "signal_mask",   "signal_unmask",   "signal_send",
                "signal_raise",  "signal_wait",     "signal_deliver",
                "uffd_register", "uffd_unregister", "numa_bind",
                "numa_query",    "numa_move",
        };
        mc_op op;

        cr_assert(eq(sz, ELEMENTSOF(names), (size_t) _MC_OP_MAX));
        for (unsigned i = 0; i < _MC_OP_MAX; i++) {
                cr_assert(eq(str, (char *) mc_op_name((mc_op) i), (char *) names[i]));
                cr_assert(eq(int, mc_op_from_name(names[i], &op), 0));
                cr_assert(eq(int, op, (int) i));
        }
        cr_assert(zero(ptr, (void *) mc_op_name(_MC_OP_MAX)));
        cr_assert(zero(ptr, (void *) mc_op_name((mc_op) -1)));
        op = MC_OP_MSYNC;
        cr_assert(eq(int, mc_op_from_name("MMAP", &op), -EINVAL));
        cr_assert(eq(int, mc_op_from_name("mmap ", &op), -EINVAL));
        cr_assert(eq(int, mc_op_from_name("", &op), -EINVAL));
        cr_assert(eq(int, mc_op_from_name(NULL, &op), -EINVAL));
        cr_assert(eq(int, op, MC_OP_MSYNC), "untouched on failure");
        cr_assert(eq(int, mc_op_from_name("mmap", NULL), -EINVAL));
}

uint64_t size_of(const char *s) {
        uint64_t v = 0;
        cr_assert(eq(int, mc_parse_size(s, &v), 0), "%s", s);
        return v;
}

Test(policy, parse_size_units) {
        cr_assert(eq(u64, size_of("0"), 0));
        cr_assert(eq(u64, size_of("4096"), 4096));
        cr_assert(eq(u64, size_of("64K"), 64 * 1024));
        cr_assert(eq(u64, size_of("64KiB"), 64 * 1024));
        cr_assert(eq(u64, size_of("2G"), 2 * GiB));
        cr_assert(eq(u64, size_of("4GiB"), 4 * GiB));
        cr_assert(eq(u64, size_of("8MiB"), 8 * MiB));
        cr_assert(eq(u64, size_of("3T"), UINT64_C(3) << 40));
        cr_assert(eq(u64, size_of("5PiB"), UINT64_C(5) << 50));
        cr_assert(eq(u64, size_of("15E"), UINT64_C(15) << 60));
        cr_assert(eq(u64, size_of("0K"), 0));
        cr_assert(eq(u64, size_of("18446744073709551615"), UINT64_MAX));
        cr_assert(eq(u64, size_of("00012"), 12));
}

Test(policy, parse_size_overflow_is_erange) {
        uint64_t v = 42;

        cr_assert(eq(int, mc_parse_size("16E", &v), -ERANGE));
        cr_assert(eq(int, mc_parse_size("16EiB", &v), -ERANGE));
        cr_assert(eq(int, mc_parse_size("18446744073709551616", &v), -ERANGE));
        cr_assert(eq(int, mc_parse_size("99999999999999999999999", &v), -ERANGE));
        cr_assert(eq(int, mc_parse_size("16777216T", &v), -ERANGE));
        cr_assert(eq(u64, size_of("16777215T"), UINT64_C(16777215) << 40));
        cr_assert(eq(u64, v, 42), "untouched on failure");
}

Test(policy, parse_size_garbage) {
        static const char *const bad[] = {
                "",   "K",  "KiB", "4 K",  "4KB",   "4k",   "4kib", "4Ki",    "4iB",       "-1",
                "+1", " 4", "4 ",  "4.5K", "4KiBB", "0x10", "1e3",  "4GiB\n", "unlimited", "4Gi B",
        };
        uint64_t v = 42;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert(eq(int, mc_parse_size(bad[i], &v), -EINVAL), "'%s'", bad[i]);
        cr_assert(eq(int, mc_parse_size(NULL, &v), -EINVAL));
        cr_assert(eq(int, mc_parse_size("1", NULL), -EINVAL));
        cr_assert(eq(u64, v, 42));
}
