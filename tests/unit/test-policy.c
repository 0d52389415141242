/* SPDX-License-Identifier: MIT */
/*
 * The policy: its secure default, setters and getters, the path and shared-memory matchers,
 * the size parser, loading JSON (every kind of error, with its exact line and column), printing
 * it back, and every rule of mc__policy_decide(), quotas at their exact boundaries included.
 */

#include "common.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

TestSuite(policy, .fini = mc_test_fini);

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)

static void policy_freep(mc_policy **p) {
        mc_policy_free(*p);
}
#define _cleanup_policy_ _cleanup_(policy_freep)

static mc_policy *new_policy(void) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_new(&p, &err), 0), "%s", err.message);
        cr_assert(not(zero(ptr, p)));
        return p;
}

static mc_policy *load(const char *json) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_load_string(json, strlen(json), NULL, &p, &err), 0), "%s",
                  err.message);
        cr_assert(not(zero(ptr, p)));
        return p;
}

/* Loading @json fails with InvalidArgument and exactly @message. */
static void load_fails(const char *json, size_t len, const char *message) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = (mc_policy *) (uintptr_t) 0x1;
        int r = mc_policy_load_string(json, len, NULL, &p, &err);

        cr_assert(eq(int, r, -EINVAL), "loaded: %s", json);
        cr_assert(eq(ptr, p, (mc_policy *) (uintptr_t) 0x1), "ret is untouched on failure");
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, err.sys_errno, EINVAL));
        cr_assert(eq(str, err.message, (char *) message));
}
#define LOAD_FAILS(json, message) load_fails((json), strlen(json), (message))

static void write_file(const char *path, const char *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(sz, (size_t) write(fd, data, len), len));
        close(fd);
}

/* ---- defaults, setters, getters -------------------------------------------------------------- */

static void assert_default(const mc_policy *p) {
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

Test(policy, path_roots_match_whole_components) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/srv/data", &err), 0));
        cr_assert(mc_policy_path_allowed(p, "/srv/data"));
        cr_assert(mc_policy_path_allowed(p, "/srv/data/"));
        cr_assert(mc_policy_path_allowed(p, "/srv/data/x"));
        cr_assert(mc_policy_path_allowed(p, "/srv/data/x/y.bin"));
        cr_assert(mc_policy_path_allowed(p, "//srv//data/./x"));
        cr_assert(not(mc_policy_path_allowed(p, "/srv/data2")));
        cr_assert(not(mc_policy_path_allowed(p, "/srv/data2/x")));
        cr_assert(not(mc_policy_path_allowed(p, "/srv/dat")));
        cr_assert(not(mc_policy_path_allowed(p, "/srv")));
        cr_assert(not(mc_policy_path_allowed(p, "/")));
        cr_assert(not(mc_policy_path_allowed(p, "/etc/passwd")));
        cr_assert(not(mc_policy_path_allowed(p, "/srv/data/../../etc/passwd")), "'..' escapes");
        cr_assert(not(mc_policy_path_allowed(p, "srv/data/x")), "relative");
        cr_assert(not(mc_policy_path_allowed(p, "")));
        cr_assert(not(mc_policy_path_allowed(p, NULL)));

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
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_add_allowed_path(p, "///", &err), 0));
        cr_assert(mc_policy_path_allowed(p, "/"));
        cr_assert(mc_policy_path_allowed(p, "/etc/passwd"));
        cr_assert(not(mc_policy_path_allowed(p, "etc/passwd")));
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
                "mmap",         "munmap",          "mprotect",
                "msync",        "mremap",          "madvise",
                "mlock",        "munlock",         "shm_open",
                "shm_close",    "shm_unlink",      "shm_resize",
                "shm_seal",     "signal_register", "signal_unregister",
                "signal_mask",  "signal_unmask",   "signal_send",
                "signal_raise", "signal_wait",     "signal_deliver",
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

static uint64_t size_of(const char *s) {
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

/* ---- loading --------------------------------------------------------------------------------- */

static const char full_policy[] =
        "{\n"
        "  \"version\": 1,\n"
        "  \"allow_fixed\": true,\n"
        "  \"allow_write_exec\": true,\n"
        "  \"allow_huge_pages\": true,\n"
        "  \"max_memory_usage\": \"512KiB\",\n"
        "  \"max_locked_memory\": 4096,\n"
        "  \"max_mappings\": \"unlimited\",\n"
        "  \"allowed_syscalls\": [\"mmap\", \"munmap\", \"signal_send\"],\n"
        "  \"allowed_shared_memory\": [\"app-*\", \"db\"],\n"
        "  \"allowed_paths\": [\"/srv/data\", \"/var//lib/app/\"],\n"
        "  \"allowed_signals\": [\"SIGUSR1\", \"usr2\", \"RTMIN+1\", 15],\n"
        "  \"allowed_signal_targets\": [\"self\", \"same_uid\"]\n"
        "}\n";

Test(policy, load_full_policy) {
        _cleanup_policy_ mc_policy *p = load(full_policy);

        cr_assert(mc_policy_allow_fixed(p));
        cr_assert(mc_policy_allow_write_exec(p));
        cr_assert(mc_policy_allow_huge_pages(p));
        cr_assert(eq(u64, mc_policy_max_memory_usage(p), 512 * 1024));
        cr_assert(eq(u64, mc_policy_max_locked_memory(p), 4096));
        cr_assert(eq(u64, mc_policy_max_mappings(p), MC_UNLIMITED));
        cr_assert(
                eq(u64, mc_policy_allowed_ops(p),
                   MC_OP_BIT(MC_OP_MMAP) | MC_OP_BIT(MC_OP_MUNMAP) | MC_OP_BIT(MC_OP_SIGNAL_SEND)));
        cr_assert(mc_policy_shared_memory_allowed(p, "/app-x"));
        cr_assert(mc_policy_shared_memory_allowed(p, "/db"));
        cr_assert(not(mc_policy_shared_memory_allowed(p, "/dbx")));
        cr_assert(mc_policy_path_allowed(p, "/srv/data/f"));
        cr_assert(mc_policy_path_allowed(p, "/var/lib/app/f"));
        cr_assert(not(mc_policy_path_allowed(p, "/var/lib/f")));
        for (int s = 1; s <= 64; s++)
                cr_assert(eq(int, mc_policy_signal_allowed(p, s),
                             s == SIGUSR1 || s == SIGUSR2 || s == SIGRTMIN + 1 || s == SIGTERM),
                          "signal %d", s);
        cr_assert(eq(uint, mc_policy_signal_targets(p), MC_TARGET_SELF | MC_TARGET_SAME_UID));
}

Test(policy, load_wildcards_and_nulls) {
        _cleanup_policy_ mc_policy *p =
                load("{\"allowed_syscalls\": \"*\", \"allowed_signals\": \"*\", "
                     "\"allowed_paths\": null, \"allowed_shared_memory\": [], "
                     "\"allowed_signal_targets\": [\"any\"], \"max_memory_usage\": 0}");

        cr_assert(eq(u64, mc_policy_allowed_ops(p), MC_OP_ALL));
        for (int s = 1; s <= 64; s++)
                cr_assert(mc_policy_signal_allowed(p, s), "signal %d", s);
        cr_assert(mc_policy_path_allowed(p, "/anything"));
        cr_assert(not(mc_policy_shared_memory_allowed(p, "/anything")));
        cr_assert(eq(uint, mc_policy_signal_targets(p), MC_TARGET_ANY));
        cr_assert(eq(u64, mc_policy_max_memory_usage(p), 0));
}

Test(policy, load_empty_lists) {
        _cleanup_policy_ mc_policy *p =
                load("{\"allowed_syscalls\": [], \"allowed_signals\": [], "
                     "\"allowed_paths\": [], \"allowed_signal_targets\": []}");

        cr_assert(eq(u64, mc_policy_allowed_ops(p), 0));
        for (int s = 1; s <= 64; s++)
                cr_assert(not(mc_policy_signal_allowed(p, s)), "signal %d", s);
        cr_assert(not(mc_policy_path_allowed(p, "/")), "an empty list allows no path");
        cr_assert(eq(uint, mc_policy_signal_targets(p), 0));
}

Test(policy, load_escaped_keys_and_big_sizes) {
        _cleanup_policy_ mc_policy *p =
                load("{\"\\u0061llow_fixed\": true, \"max_memory_usage\": 9223372036854775807, "
                     "\"max_locked_memory\": \"18446744073709551614\"}");

        cr_assert(mc_policy_allow_fixed(p));
        cr_assert(eq(u64, mc_policy_max_memory_usage(p), (uint64_t) INT64_MAX));
        cr_assert(eq(u64, mc_policy_max_locked_memory(p), UINT64_MAX - 1));
}

Test(policy, load_string_needs_no_nul_terminator) {
        _cleanup_policy_ mc_policy *p = NULL;
        static const char text[] = "{\"max_mappings\": 12}garbage";
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_load_string(text, 20, "t.json", &p, &err), 0), "%s",
                  err.message);
        cr_assert(eq(u64, mc_policy_max_mappings(p), 12));
}

Test(policy, load_string_rejects_null_arguments) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_load_string(NULL, 3, NULL, &p, &err), -EINVAL));
        cr_assert(eq(int, mc_policy_load_string("{}", 2, NULL, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_policy_load_file(NULL, &p, &err), -EINVAL));
        cr_assert(eq(int, mc_policy_load_file("/x", NULL, &err), -EINVAL));
        cr_assert(zero(ptr, p));
        /* An empty text is a syntax error, not a crash. */
        cr_assert(eq(int, mc_policy_load_string(NULL, 0, NULL, &p, &err), -EINVAL));
        cr_assert(eq(str, err.message, "<string>:1:1: unexpected token near end of file"));
}

/* ---- loading errors, each with its exact position -------------------------------------------- */

Test(policy, error_unknown_field) {
        LOAD_FAILS("{\n  \"allow_fixed\": true,\n  \"alow_write_exec\": true\n}",
                   "<string>:3:3: unknown field \"alow_write_exec\" (did you mean "
                   "\"allow_write_exec\"?)");
        LOAD_FAILS("{\"x\": 1}", "<string>:1:2: unknown field \"x\" (known: version, allow_*, "
                                 "max_*, allowed_*; see the policy format in memcap/policy.h)");
        /* Keys are compared decoded, and shown with control characters made visible. */
        LOAD_FAILS("{\"max_mappings\": 1, \"a\\nb\": 1}",
                   "<string>:1:21: unknown field \"a?b\" (known: version, allow_*, max_*, "
                   "allowed_*; see the policy format in memcap/policy.h)");
}

Test(policy, error_wrong_types) {
        LOAD_FAILS("{\"allow_fixed\": \"yes\"}",
                   "<string>:1:17: \"allow_fixed\" must be true or false, not a string");
        LOAD_FAILS("{\"allow_write_exec\": 1}",
                   "<string>:1:22: \"allow_write_exec\" must be true or false, not an integer");
        LOAD_FAILS("{\"allow_huge_pages\": null}",
                   "<string>:1:22: \"allow_huge_pages\" must be true or false, not null");
        LOAD_FAILS("{\"max_mappings\": true}",
                   "<string>:1:18: \"max_mappings\" must be a non-negative integer, a size "
                   "string such as \"4GiB\", or \"unlimited\"; not a boolean");
        LOAD_FAILS("{\"allowed_syscalls\": \"mmap\"}",
                   "<string>:1:22: \"allowed_syscalls\" must be an array of operation names or "
                   "\"*\", not a string");
        LOAD_FAILS("{\"allowed_syscalls\": [\"mmap\", 3]}",
                   "<string>:1:31: \"allowed_syscalls\" must list operation names, not an "
                   "integer");
        LOAD_FAILS("{\"allowed_shared_memory\": \"*\"}",
                   "<string>:1:27: \"allowed_shared_memory\" must be an array of name patterns, "
                   "not a string");
        LOAD_FAILS("{\"allowed_shared_memory\": [{}]}",
                   "<string>:1:28: \"allowed_shared_memory\" must list name patterns, not an "
                   "object");
        LOAD_FAILS("{\"allowed_paths\": \"/srv\"}",
                   "<string>:1:19: \"allowed_paths\" must be null (any path) or an array of "
                   "absolute paths, not a string");
        LOAD_FAILS("{\"allowed_paths\": [null]}",
                   "<string>:1:20: \"allowed_paths\" must list absolute paths, not null");
        LOAD_FAILS("{\"allowed_signals\": {}}",
                   "<string>:1:21: \"allowed_signals\" must be an array of signal names or "
                   "numbers, or \"*\"; not an object");
        LOAD_FAILS("{\"allowed_signals\": [1.5]}",
                   "<string>:1:22: \"allowed_signals\" must list signal names or numbers, not a "
                   "fractional number");
        LOAD_FAILS("{\"allowed_signal_targets\": \"self\"}",
                   "<string>:1:28: \"allowed_signal_targets\" must be an array of targets, not "
                   "a string");
        LOAD_FAILS("{\"allowed_signal_targets\": [[]]}",
                   "<string>:1:29: \"allowed_signal_targets\" must list targets, not an array");
        LOAD_FAILS("{\"version\": \"1\"}",
                   "<string>:1:13: \"version\" must be the integer 1, not a string");
}

Test(policy, error_version) {
        LOAD_FAILS("{\"version\": 2}",
                   "<string>:1:13: unsupported policy version 2 (this memcap reads version 1)");
        LOAD_FAILS("{\"version\": 0}",
                   "<string>:1:13: unsupported policy version 0 (this memcap reads version 1)");
}

Test(policy, error_numbers) {
        LOAD_FAILS("{\n  \"max_mappings\": -1\n}",
                   "<string>:2:19: \"max_mappings\" must not be negative (-1)");
        LOAD_FAILS("{\n\t\"max_memory_usage\": 1.5\n}",
                   "<string>:2:22: \"max_memory_usage\" must be a whole number, not 1.5; or a "
                   "string such as \"4GiB\" or \"unlimited\"");
        LOAD_FAILS("{\"max_memory_usage\": 1e3}",
                   "<string>:1:22: \"max_memory_usage\" must be a whole number, not 1000; or a "
                   "string such as \"4GiB\" or \"unlimited\"");
        /* Too large for jansson's 64-bit integers: its own message, at the token's end. */
        LOAD_FAILS("{\"max_mappings\": 99999999999999999999}",
                   "<string>:1:37: too big integer near '99999999999999999999'");
        LOAD_FAILS("{\"max_mappings\": -99999999999999999999}",
                   "<string>:1:38: too big negative integer");
}

Test(policy, error_size_strings) {
        LOAD_FAILS("{\"max_locked_memory\": \"4GB\"}",
                   "<string>:1:23: \"max_locked_memory\": bad size \"4GB\" (use digits with an "
                   "optional binary unit K, M, G, T, P or E, as in \"512KiB\" or \"4G\", or "
                   "\"unlimited\")");
        LOAD_FAILS("{\"max_locked_memory\": \"\"}",
                   "<string>:1:23: \"max_locked_memory\": bad size \"\" (use digits with an "
                   "optional binary unit K, M, G, T, P or E, as in \"512KiB\" or \"4G\", or "
                   "\"unlimited\")");
        LOAD_FAILS("{\"max_locked_memory\": \"Unlimited\"}",
                   "<string>:1:23: \"max_locked_memory\": bad size \"Unlimited\" (use digits "
                   "with an optional binary unit K, M, G, T, P or E, as in \"512KiB\" or \"4G\", "
                   "or \"unlimited\")");
        LOAD_FAILS("{\"max_memory_usage\": \"16EiB\"}",
                   "<string>:1:22: \"max_memory_usage\": \"16EiB\" does not fit in 64 bits");
}

Test(policy, error_duplicate_key) {
        LOAD_FAILS("{\n  \"allow_fixed\": false,\n  \"allow_fixed\": true\n}",
                   "<string>:3:15: duplicate object key near '\"allow_fixed\"'");
}

Test(policy, error_syntax) {
        LOAD_FAILS("{\n  \"allow_fixed\": tru\n}", "<string>:2:20: invalid token near 'tru'");
        LOAD_FAILS("{\"allow_fixed\": true,}", "<string>:1:22: string or '}' expected near '}'");
        LOAD_FAILS("{\"allow_fixed\": true", "<string>:1:20: '}' expected near end of file");
        LOAD_FAILS("", "<string>:1:1: unexpected token near end of file");
        LOAD_FAILS("{\"a\": \"\\u0000\"}",
                   "<string>:1:14: \\u0000 is not allowed without JSON_ALLOW_NUL near "
                   "'\"\\u0000\"'");
        LOAD_FAILS("{\"a\": \"\xff\"}", "<string>:1:7: unable to decode byte 0xff near '\"'");
}

Test(policy, error_bad_op_name) {
        LOAD_FAILS("{\n  \"allowed_syscalls\": [\n    \"mmap\",\n    \"munmap\",\n    \"mmapp\"\n"
                   "  ]\n}",
                   "<string>:5:5: unknown operation \"mmapp\" in \"allowed_syscalls\" "
                   "(operations are named like \"mmap\", \"shm_open\", \"signal_send\")");
        /* Elements that are containers with commas inside are skipped as a whole. */
        LOAD_FAILS("{\"allowed_syscalls\": [\"mmap\", \"x,]\", \"MMAP\"]}",
                   "<string>:1:31: unknown operation \"x,]\" in \"allowed_syscalls\" (operations "
                   "are named like \"mmap\", \"shm_open\", \"signal_send\")");
}

Test(policy, error_bad_signal) {
        char want[200];

        LOAD_FAILS("{\"allowed_signals\": [\"SIGUSR1\", \"SIGFOO\"]}",
                   "<string>:1:33: unknown signal \"SIGFOO\" in \"allowed_signals\" (use a name "
                   "such as \"SIGUSR1\" or \"RTMIN+1\", or a number)");
        LOAD_FAILS("{\"allowed_signals\": [0]}",
                   "<string>:1:22: signal number 0 in \"allowed_signals\" is outside 1..64");
        snprintf(want, sizeof(want),
                 "<string>:1:22: signal number %d in \"allowed_signals\" "
                 "is outside 1..64",
                 65);
        LOAD_FAILS("{\"allowed_signals\": [65]}", want);
        LOAD_FAILS("{\"allowed_signals\": \"all\"}",
                   "<string>:1:21: \"allowed_signals\" must be an array of signal names or "
                   "numbers, or \"*\"; not a string");
}

Test(policy, error_bad_target) {
        LOAD_FAILS("{\"allowed_signal_targets\": [\"self\", \"others\"]}",
                   "<string>:1:37: unknown signal target \"others\" (use \"self\", \"children\", "
                   "\"process_group\", \"same_uid\", \"any\", \"whole_group\", \"broadcast\" or "
                   "\"init\")");
}

Test(policy, error_bad_paths) {
        LOAD_FAILS("{\"allowed_paths\": [\"/srv\",\n  \"srv/data\"]}",
                   "<string>:2:3: bad path \"srv/data\" in \"allowed_paths\": a root must be an "
                   "absolute path");
        LOAD_FAILS("{\"allowed_paths\": [\"/srv/../etc\"]}",
                   "<string>:1:20: bad path \"/srv/../etc\" in \"allowed_paths\": a root must "
                   "not contain '..'");
}

Test(policy, error_bad_patterns) {
        char json[400], want[400];

        LOAD_FAILS("{\"allowed_shared_memory\": [\"ok\", \"\"]}",
                   "<string>:1:34: bad pattern \"\" in \"allowed_shared_memory\": a pattern must "
                   "not be empty");
        LOAD_FAILS("{\"allowed_shared_memory\": [\"a\\u0001\"]}",
                   "<string>:1:28: bad pattern \"a?\" in \"allowed_shared_memory\": a pattern "
                   "must not contain control characters");
        snprintf(json, sizeof(json), "{\"allowed_shared_memory\": [\"%0256d\"]}", 0);
        snprintf(want, sizeof(want),
                 "<string>:1:28: bad pattern \"%060d...\" in \"allowed_shared_memory\": a "
                 "pattern must be at most 255 bytes long",
                 0);
        LOAD_FAILS(json, want);
}

Test(policy, error_non_object) {
        LOAD_FAILS("[1, 2]",
                   "<string>:1:1: the policy must be a JSON object ({...}), not an array");
        LOAD_FAILS("\n  \"x\"",
                   "<string>:2:3: the policy must be a JSON object ({...}), not a string");
        LOAD_FAILS("null", "<string>:1:1: the policy must be a JSON object ({...}), not null");
        LOAD_FAILS("42", "<string>:1:1: the policy must be a JSON object ({...}), not an integer");
}

Test(policy, error_nul_byte) {
        static const char text[] = "{\n  \"allow_fixed\": \0true}";

        load_fails(text, sizeof(text) - 1, "<string>:2:18: NUL byte in the policy text");
        load_fails("\0", 1, "<string>:1:1: NUL byte in the policy text");
}

Test(policy, error_trailing_garbage) {
        LOAD_FAILS("{\"allow_fixed\": true} x", "<string>:1:23: end of file expected near 'x'");
        LOAD_FAILS("{}\n{}", "<string>:2:1: end of file expected near '{'");
}

Test(policy, error_columns_count_characters) {
        /* "é" is two bytes and one column, as jansson counts. */
        LOAD_FAILS("{\"allowed_shared_memory\": [\"é\", \"\"]}",
                   "<string>:1:33: bad pattern \"\" in \"allowed_shared_memory\": a pattern must "
                   "not be empty");
}

Test(policy, error_names_the_origin) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        char origin[400];

        cr_assert(eq(int,
                     mc_policy_load_string("{\"x\":1}", 7, "/etc/memcap/policy.json", &p, &err),
                     -EINVAL));
        cr_assert(
                eq(int, strncmp(err.message, "/etc/memcap/policy.json:1:2: unknown field", 42), 0),
                "%s", err.message);

        /* A very long origin is shown by its tail and the detail still fits. */
        memset(origin, 'd', sizeof(origin));
        memcpy(origin + sizeof(origin) - 12, "policy.json", 12);
        cr_assert(
                eq(int, mc_policy_load_string("{\"version\": 3}", 14, origin, &p, &err), -EINVAL));
        cr_assert(eq(int, strncmp(err.message, "...ddd", 6), 0), "%s", err.message);
        cr_assert(strstr(err.message, "policy.json:1:13: unsupported policy version 3 (this "
                                      "memcap reads version 1)") != NULL,
                  "%s", err.message);
        cr_assert(zero(ptr, p));
}

/* ---- files ----------------------------------------------------------------------------------- */

Test(policy, load_file) {
        _cleanup_policy_ mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        char path[128];

        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-%d.json", (int) getpid());
        write_file(path, full_policy, strlen(full_policy));
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), 0), "%s", err.message);
        cr_assert(eq(u64, mc_policy_max_locked_memory(p), 4096));
        unlink(path);
}

Test(policy, load_file_errors_name_the_file) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        char path[128], want[256];

        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-bad-%d.json", (int) getpid());
        write_file(path, "{\n  \"max_mappings\": []\n}\n", 25);
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -EINVAL));
        snprintf(want, sizeof(want),
                 "%s:2:19: \"max_mappings\" must be a non-negative integer, a size string such "
                 "as \"4GiB\", or \"unlimited\"; not an array",
                 path);
        cr_assert(eq(str, err.message, want));
        unlink(path);
}

Test(policy, load_missing_file_is_not_found) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        char path[128], want[256];

        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-missing-%d.json", (int) getpid());
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(int, err.sys_errno, ENOENT));
        snprintf(want, sizeof(want), "open policy '%s': No such file or directory", path);
        cr_assert(eq(str, err.message, want));
        cr_assert(zero(ptr, p));
}

Test(policy, load_oversize_file) {
        _cleanup_free_ char *big = malloc(MiB + 1);
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        char path[128];

        cr_assert(not(zero(ptr, big)));
        /* Valid JSON padded with whitespace: only the size can be wrong with it. */
        memset(big, ' ', MiB + 1);
        memcpy(big, "{}", 2);
        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-big-%d.json", (int) getpid());
        write_file(path, big, MiB + 1);
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -EFBIG));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(strstr(err.message, "is larger than 1 MiB") != NULL, "%s", err.message);

        /* Exactly 1 MiB is fine. */
        write_file(path, big, MiB);
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), 0), "%s", err.message);
        mc_policy_free(p);
        unlink(path);
}

Test(policy, load_fifo_returns_promptly, .timeout = 10.0) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        struct timespec a, b;
        char path[128];

        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-fifo-%d", (int) getpid());
        unlink(path);
        cr_assert(eq(int, mkfifo(path, 0600), 0));
        clock_gettime(CLOCK_MONOTONIC, &a);
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -EINVAL));
        clock_gettime(CLOCK_MONOTONIC, &b);
        unlink(path);
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(strstr(err.message, "is not a regular file") != NULL, "%s", err.message);
        cr_assert(lt(dbl, (double) (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, 2.0));
}

Test(policy, load_directory_is_invalid) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_load_file("/tmp", &p, &err), -EINVAL));
        cr_assert(eq(str, err.message, "policy '/tmp' is not a regular file"));
}

static int open_eacces(const char *path, int flags, mode_t mode) {
        (void) path;
        (void) flags;
        (void) mode;
        errno = EACCES;
        return -1;
}

static int open_flags_seen = -1;
static int open_recording(const char *path, int flags, mode_t mode) {
        open_flags_seen = flags;
        return open(path, flags, mode);
}

static int fstat_eio(int fd, struct stat *st) {
        (void) fd;
        (void) st;
        errno = EIO;
        return -1;
}

Test(policy, load_file_permission_denied) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        mc_sys.open = open_eacces;
        cr_assert(eq(int, mc_policy_load_file("/etc/memcap/policy.json", &p, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, err.sys_errno, EACCES));
        cr_assert(eq(str, err.message, "open policy '/etc/memcap/policy.json': Permission denied"));
        cr_assert(zero(ptr, p));
}

Test(policy, load_file_stat_failure_is_io) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        char path[128];

        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-stat-%d.json", (int) getpid());
        write_file(path, "{}", 2);
        mc_sys.fstat = fstat_eio;
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(strstr(err.message, "stat policy") != NULL, "%s", err.message);
        unlink(path);
}

Test(policy, load_file_opens_cloexec_nonblocking) {
        _cleanup_policy_ mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        char path[128];

        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-flags-%d.json", (int) getpid());
        write_file(path, "{}", 2);
        mc_sys.open = open_recording;
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), 0), "%s", err.message);
        unlink(path);
        cr_assert(eq(int, open_flags_seen &O_ACCMODE, O_RDONLY));
        cr_assert(not(zero(int, open_flags_seen &O_CLOEXEC)));
        cr_assert(not(zero(int, open_flags_seen &O_NONBLOCK)));
}

/* ---- printing -------------------------------------------------------------------------------- */

/* Print @p, load it back and print again: the two texts and the values must agree. */
static void assert_round_trip(const mc_policy *p) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        _cleanup_policy_ mc_policy *q = NULL;
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_to_json(p, &a, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_policy_load_string(a, strlen(a), "printed", &q, &err), 0), "%s\n%s",
                  err.message, a);
        cr_assert(eq(int, mc_policy_to_json(q, &b, &err), 0));
        cr_assert(eq(str, a, b));

        cr_assert(eq(int, mc_policy_allow_fixed(p), mc_policy_allow_fixed(q)));
        cr_assert(eq(int, mc_policy_allow_write_exec(p), mc_policy_allow_write_exec(q)));
        cr_assert(eq(int, mc_policy_allow_huge_pages(p), mc_policy_allow_huge_pages(q)));
        cr_assert(eq(u64, mc_policy_max_memory_usage(p), mc_policy_max_memory_usage(q)));
        cr_assert(eq(u64, mc_policy_max_locked_memory(p), mc_policy_max_locked_memory(q)));
        cr_assert(eq(u64, mc_policy_max_mappings(p), mc_policy_max_mappings(q)));
        cr_assert(eq(u64, mc_policy_allowed_ops(p), mc_policy_allowed_ops(q)));
        cr_assert(eq(uint, mc_policy_signal_targets(p), mc_policy_signal_targets(q)));
        for (int s = 1; s <= 64; s++)
                cr_assert(eq(int, mc_policy_signal_allowed(p, s), mc_policy_signal_allowed(q, s)),
                          "signal %d", s);
}

Test(policy, to_json_default) {
        static const char head[] = "{\n"
                                   "  \"version\": 1,\n"
                                   "  \"allow_fixed\": false,\n"
                                   "  \"allow_write_exec\": false,\n"
                                   "  \"allow_huge_pages\": false,\n"
                                   "  \"max_memory_usage\": 4294967296,\n"
                                   "  \"max_locked_memory\": 8388608,\n"
                                   "  \"max_mappings\": 65536,\n"
                                   "  \"allowed_syscalls\": \"*\",\n"
                                   "  \"allowed_shared_memory\": [\n"
                                   "    \"*\"\n"
                                   "  ],\n"
                                   "  \"allowed_paths\": null,\n"
                                   "  \"allowed_signals\": [\n"
                                   "    \"SIGHUP\",\n";
        _cleanup_policy_ mc_policy *p = new_policy();
        _cleanup_free_ char *json = NULL;
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_to_json(p, &json, &err), 0));
        cr_assert(eq(int, strncmp(json, head, strlen(head)), 0), "%s", json);
        cr_assert(strstr(json, "\"SIGKILL\"") == NULL);
        cr_assert(strstr(json, "\"SIGSTOP\"") == NULL);
        cr_assert(strstr(json, "\"SIGRTMAX\"") != NULL);
        cr_assert(strstr(json, "\"allowed_signal_targets\": [\n    \"self\",\n    \"children\"\n"
                               "  ]\n}") != NULL,
                  "%s", json);
        assert_round_trip(p);
}

Test(policy, to_json_round_trip_of_everything) {
        _cleanup_policy_ mc_policy *p = new_policy();
        _cleanup_free_ char *json = NULL;
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_policy_set_allow_fixed(p, true), 0));
        cr_assert(eq(int, mc_policy_set_allow_huge_pages(p, true), 0));
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, MC_UNLIMITED), 0));
        /* Above jansson's signed integers: printed as a digit string. */
        cr_assert(eq(int, mc_policy_set_max_locked_memory(p, UINT64_MAX - 1), 0));
        cr_assert(eq(int, mc_policy_set_max_mappings(p, 0), 0));
        cr_assert(eq(
                int,
                mc_policy_set_allowed_ops(p, MC_OP_BIT(MC_OP_MMAP) | MC_OP_BIT(MC_OP_SIGNAL_WAIT)),
                0));
        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "app-[a-z]*", &err), 0));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "q\"uote\\d", &err), 0));
        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/srv/da ta", &err), 0));
        cr_assert(eq(int, mc_policy_add_allowed_path(p, "/", &err), 0));
        for (int s = 1; s <= 64; s++)
                cr_assert(eq(int, mc_policy_set_signal_allowed(p, s, s % 3 == 0 || s == 32), 0));
        cr_assert(eq(int, mc_policy_set_signal_targets(p, MC_TARGET_ANY | MC_TARGET_CHILDREN), 0));

        cr_assert(eq(int, mc_policy_to_json(p, &json, &err), 0));
        cr_assert(strstr(json, "\"max_memory_usage\": \"unlimited\"") != NULL, "%s", json);
        cr_assert(strstr(json, "\"max_locked_memory\": \"18446744073709551614\"") != NULL);
        cr_assert(strstr(json, "\"allowed_syscalls\": [\n    \"mmap\",\n    \"signal_wait\"\n"
                               "  ]") != NULL,
                  "%s", json);
        cr_assert(strstr(json, "    32,\n") != NULL, "unnamed signals go by number: %s", json);
        assert_round_trip(p);

        /* The same for an empty path list, every signal and no targets. */
        cr_assert(eq(int, mc_policy_set_signal_targets(p, 0), 0));
        for (int s = 1; s <= 64; s++)
                cr_assert(eq(int, mc_policy_set_signal_allowed(p, s, true), 0));
        assert_round_trip(p);
        {
                _cleanup_policy_ mc_policy *q =
                        load("{\"allowed_paths\": [], \"allowed_signals\": []}");
                assert_round_trip(q);
        }
}

Test(policy, load_and_print_the_opt_in_targets) {
        _cleanup_policy_ mc_policy *p =
                load("{\"allowed_signal_targets\": [\"init\", \"broadcast\", \"whole_group\", "
                     "\"same_uid\"]}");
        _cleanup_free_ char *json = NULL;
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(uint, mc_policy_signal_targets(p),
                     MC_TARGET_INIT | MC_TARGET_BROADCAST | MC_TARGET_WHOLE_GROUP |
                             MC_TARGET_SAME_UID));
        cr_assert(eq(int, mc_policy_to_json(p, &json, &err), 0));
        cr_assert(strstr(json,
                         "\"allowed_signal_targets\": [\n    \"same_uid\",\n"
                         "    \"whole_group\",\n    \"broadcast\",\n    \"init\"\n  ]") != NULL,
                  "%s", json);
        assert_round_trip(p);
}

Test(policy, to_json_rejects_null) {
        mc_error err = MC_ERROR_INIT;
        char *json = NULL;
        _cleanup_policy_ mc_policy *p = new_policy();

        cr_assert(eq(int, mc_policy_to_json(NULL, &json, &err), -EINVAL));
        cr_assert(eq(int, mc_policy_to_json(p, NULL, &err), -EINVAL));
        cr_assert(zero(ptr, json));
}

/* ---- decide ---------------------------------------------------------------------------------- */

static int decide(const mc_policy *p, const mc__call *c, const mc_usage *u, mc_error *err) {
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

static void assert_denied(const mc_policy *p, const mc__call *c, const mc_usage *u,
                          const char *rule) {
        mc_error err = MC_ERROR_INIT;
        char want[128];

        cr_assert(eq(int, decide(p, c, u, &err), -EPERM), "expected a denial by %s", rule);
        snprintf(want, sizeof(want), "%s denied by policy rule %s: ", mc_op_name(c->op), rule);
        cr_assert(eq(int, strncmp(err.message, want, strlen(want)), 0), "%s", err.message);
}

static void assert_allowed(const mc_policy *p, const mc__call *c, const mc_usage *u) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, decide(p, c, u, &err), 0), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_OK));
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
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "shm_open denied by policy rule allowed_syscalls: the operation is not in "
                     "the policy's allowed_syscalls (add \"shm_open\" to permit it)"));

        /* Every operation but the releasing ones is denied by an empty set. */
        cr_assert(eq(int, mc_policy_set_allowed_ops(p, 0), 0));
        for (unsigned op = 0; op < _MC_OP_MAX; op++) {
                mc__call_init(&c, (mc_op) op, MC__CAP_MEMORY);
                if (op == MC_OP_MUNMAP || op == MC_OP_MUNLOCK || op == MC_OP_SHM_CLOSE ||
                    op == MC_OP_SIGNAL_UNREGISTER || op == MC_OP_SIGNAL_UNMASK ||
                    op == MC_OP_SIGNAL_DELIVER)
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
static mc__client_call client_of(unsigned caps) {
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
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "the client has 2 mappings (pieces of split mappings included), the limit "
                     "per client is 2"));
        cl.mappings = 1;
        assert_allowed(p, &c, NULL);
        c.add_mappings = 0;
        cl.pieces = 3;
        cl.add_pieces = 2;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "Mprotect would split Mmap 7 into 3 pieces, and the client would hold 3 "
                     "mappings and pieces; the limit per client is 2 (the kernel keeps each "
                     "piece as a mapping of its own)"));
        cl.add_pieces = 1;
        assert_allowed(p, &c, NULL);
        cl.add_pieces = 0;

        /* Charged bytes: what max_memory_usage counts, per client. */
        cl.charged = 4096;
        c.add_charged = 8192;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "4096 bytes charged + 8192 exceed the limit per client of 8192 bytes"));
        c.add_charged = 4096;
        assert_allowed(p, &c, NULL);
        cl.charged = UINT64_MAX;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM), "an overflow is refused");
        cl.charged = 0;
        c.add_charged = 0;

        /* Locked bytes. */
        cl.locked = 4096;
        c.add_locked = 1;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "Mlock of 1 more bytes: the client has 4096 bytes locked, the limit per "
                     "client is 4096"));
        cl.locked = 0;
        assert_allowed(p, &c, NULL);
        c.add_locked = 0;

        /* Advice: what harms other clients is not offered. */
        mc__call_init(&c, MC_OP_MADVISE, MC__CAP_MEMORY);
        c.client = &cl;
        cl.advice = MC_ADVICE_REMOVE;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "advice REMOVE is not offered to clients: it frees the file's storage "
                     "under every reader of the range; write zeros instead"));
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
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(strstr(err.message, "is not a memcap operation") != NULL, "%s", err.message);
}

Test(policy, decide_flag_rules) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fixed = true;
        assert_denied(p, &c, NULL, "allow_fixed");
        assert_denied(NULL, &c, NULL, "allow_fixed");
        cr_assert(eq(int, mc_policy_set_allow_fixed(p, true), 0));
        assert_allowed(p, &c, NULL);

        mc__call_init(&c, MC_OP_MPROTECT, MC__CAP_MEMORY);
        c.write_exec = true;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "mprotect denied by policy rule allow_write_exec: write and execute on one "
                     "mapping are not allowed (set \"allow_write_exec\": true in the policy to "
                     "permit it)"));
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
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "mmap denied by policy rule allowed_paths: '/etc/passwd' is not beneath any "
                     "root in the policy's allowed_paths"));
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
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "shm_open denied by policy rule allowed_shared_memory: shared memory name "
                     "'/other' matches no pattern in the policy's allowed_shared_memory"));
        c.req.name = NULL;
        assert_denied(p, &c, NULL, "allowed_shared_memory");

        c.req.name = "/other";
        c.op = MC_OP_SHM_UNLINK;
        assert_denied(p, &c, NULL, "allowed_shared_memory");
        /* Closing or resizing an object already open is not a naming decision. */
        c.op = MC_OP_SHM_CLOSE;
        assert_allowed(p, &c, NULL);
        c.op = MC_OP_SHM_RESIZE;
        assert_allowed(p, &c, NULL);
        c.op = MC_OP_SHM_OPEN;
        c.fields = 0;
        assert_allowed(p, &c, NULL);
}

Test(policy, decide_max_memory_usage_boundaries) {
        _cleanup_policy_ mc_policy *p = new_policy();
        mc_error err = MC_ERROR_INIT;
        mc_usage u = {.charged_bytes = 4 * GiB - 4096};
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.add_charged = 4096; /* exactly the limit */
        assert_allowed(p, &c, &u);
        c.add_charged = 4097;
        assert_denied(p, &c, &u, "max_memory_usage");
        c.add_charged = 8192;
        cr_assert(eq(int, decide(p, &c, &u, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "mmap denied by policy rule max_memory_usage: 4294963200 bytes charged + "
                     "8192 requested exceed the limit of 4294967296 bytes"));

        /* A request larger than the limit on its own. */
        u.charged_bytes = 0;
        c.add_charged = 4 * GiB + 1;
        assert_denied(p, &c, &u, "max_memory_usage");

        /* Overflow of the sum is denied, not wrapped. */
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, UINT64_MAX - 1), 0));
        u.charged_bytes = UINT64_MAX - 10;
        c.add_charged = 100;
        cr_assert(eq(int, decide(p, &c, &u, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "mmap denied by policy rule max_memory_usage: 18446744073709551605 bytes "
                     "charged + 100 requested overflow a 64-bit counter"));
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
        mc_error err = MC_ERROR_INIT;
        mc_usage u = {.locked_bytes = 8 * MiB - 4096};
        mc__call c;

        mc__call_init(&c, MC_OP_MLOCK, MC__CAP_MEMORY);
        c.add_locked = 4096;
        assert_allowed(p, &c, &u);
        c.add_locked = 4097;
        cr_assert(eq(int, decide(p, &c, &u, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "mlock denied by policy rule max_locked_memory: 8384512 bytes locked + "
                     "4097 requested exceed the limit of 8388608 bytes"));
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
        mc_error err = MC_ERROR_INIT;
        mc_usage u = {.mappings = 65535};
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.add_mappings = 1;
        assert_allowed(p, &c, &u);
        u.mappings = 65536;
        cr_assert(eq(int, decide(p, &c, &u, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "mmap denied by policy rule max_mappings: 65536 mappings live + 1 requested "
                     "exceed the limit of 65536 mappings"));
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
        mc_error err = MC_ERROR_INIT;
        mc__call c;

        mc__call_init(&c, MC_OP_SIGNAL_RAISE, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL;
        c.req.signo = SIGUSR1;
        assert_allowed(p, &c, NULL);
        c.req.signo = SIGKILL;
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "signal_raise denied by policy rule allowed_signals: SIGKILL is not in the "
                     "policy's allowed_signals (add \"SIGKILL\" to permit it)"));

        c.op = MC_OP_SIGNAL_SEND;
        c.target_classes = MC_TARGET_SELF;
        assert_denied(p, &c, NULL, "allowed_signals");
        c.req.signo = SIGRTMIN + 1;
        cr_assert(eq(int, mc_policy_set_signal_allowed(p, SIGRTMIN + 1, false), 0));
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(strstr(err.message, "SIGRTMIN+1 is not in") != NULL, "%s", err.message);
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
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(strstr(err.message, ": 0 is not in") != NULL, "%s", err.message);
        c.op = MC_OP_SIGNAL_SEND;

        /* Registering a handler, masking or waiting is not sending. */
        c.req.signo = SIGKILL;
        c.op = MC_OP_SIGNAL_REGISTER;
        assert_allowed(p, &c, NULL);
        c.op = MC_OP_SIGNAL_WAIT;
        assert_allowed(p, &c, NULL);
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
        cr_assert(eq(int, decide(p, &c, NULL, &err), -EPERM));
        cr_assert(eq(str, err.message,
                     "signal_send denied by policy rule allowed_signal_targets: pid 4242 "
                     "(process_group, same_uid) is not a target the policy allows; add "
                     "\"process_group\" to allowed_signal_targets to permit it (allowed: self, "
                     "children)"));
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
static const char *decide_target(unsigned targets, pid_t target, unsigned classes) {
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

#define ADMITS(targets, target, classes)                                                           \
        cr_assert(eq(str, (char *) decide_target((targets), (target), (classes)), ""))
#define REFUSES(targets, target, classes, add)                                                     \
        do {                                                                                       \
                const char *m_ = decide_target((targets), (target), (classes));                    \
                cr_assert(strstr(m_, "allowed_signal_targets") != NULL, "allowed: %s", m_);        \
                cr_assert(strstr(m_, "add " add " to allowed_signal_targets") != NULL, "%s", m_);  \
        } while (0)

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
