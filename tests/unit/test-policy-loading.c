/* SPDX-License-Identifier: MIT */
/*
 * The policy as JSON: loading, every kind of error with its exact line and column, files, and
 * printing it back.
 */

#include "failing.h"
#include "policy-suite.h"

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

/* Write @len bytes of @data to this test's policy file for @what, whose path goes to @path. */
static void write_policy(char *path, size_t size, const char *what, const char *data, size_t len) {
        snprintf(path, size, "/tmp/memcap-test-policy-%s-%d.json", what, (int) getpid());
        policy_write_file(path, data, len);
}

/* mc_policy_load_file() of @path fails with -@errnum, @kind and exactly @message, no policy. */
static void load_file_fails(const char *path, int errnum, mc_error_kind kind, const char *message) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -errnum));
        cr_assert(eq(int, err.kind, kind));
        cr_assert(eq(int, err.sys_errno, errnum));
        cr_assert(eq(str, err.message, (char *) message));
        cr_assert(zero(ptr, p));
}

Test(policy, load_file) {
        _cleanup_policy_ mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        char path[128];

        write_policy(path, sizeof(path), "full", full_policy, strlen(full_policy));
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), 0), "%s", err.message);
        cr_assert(eq(u64, mc_policy_max_locked_memory(p), 4096));
        unlink(path);
}

Test(policy, load_file_errors_name_the_file) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        char path[128], want[256];

        write_policy(path, sizeof(path), "bad", "{\n  \"max_mappings\": []\n}\n", 25);
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -EINVAL));
        snprintf(want, sizeof(want),
                 "%s:2:19: \"max_mappings\" must be a non-negative integer, a size string such "
                 "as \"4GiB\", or \"unlimited\"; not an array",
                 path);
        cr_assert(eq(str, err.message, want));
        unlink(path);
}

Test(policy, load_missing_file_is_not_found) {
        char path[128], want[256];

        snprintf(path, sizeof(path), "/tmp/memcap-test-policy-missing-%d.json", (int) getpid());
        snprintf(want, sizeof(want), "open policy '%s': No such file or directory", path);
        load_file_fails(path, ENOENT, MC_ERR_NOT_FOUND, want);
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
        write_policy(path, sizeof(path), "big", big, MiB + 1);
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -EFBIG));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(strstr(err.message, "is larger than 1 MiB") != NULL, "%s", err.message);

        /* Exactly 1 MiB is fine. */
        policy_write_file(path, big, MiB);
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

int open_flags_seen = -1;
int open_recording(const char *path, int flags, mode_t mode) {
        open_flags_seen = flags;
        return open(path, flags, mode);
}

Test(policy, load_file_permission_denied) {
        mc_sys.open = failing_open;
        failing_errno = EACCES;
        load_file_fails("/etc/memcap/policy.json", EACCES, MC_ERR_PERMISSION_DENIED,
                        "open policy '/etc/memcap/policy.json': Permission denied");
}

Test(policy, load_file_stat_failure_is_io) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        char path[128];

        write_policy(path, sizeof(path), "stat", "{}", 2);
        mc_sys.fstat = failing_fstat;
        failing_errno = EIO;
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(strstr(err.message, "stat policy") != NULL, "%s", err.message);
        unlink(path);
}

Test(policy, load_file_opens_cloexec_nonblocking) {
        _cleanup_policy_ mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        char path[128];

        write_policy(path, sizeof(path), "flags", "{}", 2);
        mc_sys.open = open_recording;
        cr_assert(eq(int, mc_policy_load_file(path, &p, &err), 0), "%s", err.message);
        unlink(path);
        cr_assert(eq(int, open_flags_seen &O_ACCMODE, O_RDONLY));
        cr_assert(not(zero(int, open_flags_seen &O_CLOEXEC)));
        cr_assert(not(zero(int, open_flags_seen &O_NONBLOCK)));
}

/* ---- printing -------------------------------------------------------------------------------- */

/* Print @p, load it back and print again: the two texts and the values must agree. */
void assert_round_trip(const mc_policy *p) {
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
        cr_assert(eq(int, mc_policy_allow_userfaultfd(p), mc_policy_allow_userfaultfd(q)));
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
                                   "  \"allow_userfaultfd\": false,\n"
                                   "  \"allowed_numa_nodes\": \"*\",\n"
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
