/* SPDX-License-Identifier: MIT */
/*
 * The policy's JSON form on every platform from one source: loading, errors placed at their
 * file:line:column, files with UTF-8 names, printing back, and audit-event fields. Windows
 * builds jansson from its release (subprojects/jansson.wrap); these cases are what proves that
 * build reads and writes policies exactly as Linux does.
 */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memcap/memcap.h>

#ifdef _WIN32
#include <windows.h>
#endif

#include "crit.h"

/* @text loaded as a policy named "p.json"; fails the test with the message otherwise. */
static mc_policy *load(const char *text) {
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_policy_load_string(text, strlen(text), "p.json", &p, &e), 0, "%s",
                     e.message);
        cr_assert_not_null(p);
        return p;
}

/* @text must be refused as InvalidArgument with exactly @message, and leave no policy. */
static void refused(const char *text, const char *message) {
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_policy_load_string(text, strlen(text), "p.json", &p, &e), -EINVAL, "%s",
                     text);
        cr_assert_eq(e.kind, MC_ERR_INVALID_ARGUMENT, "%s", e.message);
        cr_assert_str_eq(e.message, message, "got: %s", e.message);
        cr_assert_null(p);
}

/* A file named @utf8_name (UTF-8) holding @text, created without going through memcap. */
static void write_file(const char *utf8_name, const char *text) {
        FILE *f;
#ifdef _WIN32
        wchar_t w[256];

        cr_assert(MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8_name, -1, w, 256) > 0);
        f = _wfopen(w, L"wb");
#else
        f = fopen(utf8_name, "wb");
#endif
        cr_assert_not_null(f, "creating %s", utf8_name);
        cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
        cr_assert_eq(fclose(f), 0);
}

static void remove_file(const char *utf8_name) {
#ifdef _WIN32
        wchar_t w[256];

        if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8_name, -1, w, 256) > 0)
                _wremove(w);
#else
        remove(utf8_name);
#endif
}

/* ---- loading ------------------------------------------------------------------------------- */

static const char full_policy[] = "{\n"
                                  "  \"version\": 1,\n"
                                  "  \"allow_fixed\": true,\n"
                                  "  \"allow_write_exec\": true,\n"
                                  "  \"max_memory_usage\": \"512KiB\",\n"
                                  "  \"max_locked_memory\": 4096,\n"
                                  "  \"max_mappings\": \"unlimited\",\n"
                                  "  \"allowed_syscalls\": [\"mmap\", \"munmap\"],\n"
                                  "  \"allowed_shared_memory\": [\"app-*\", \"db\"],\n"
                                  "  \"allowed_signals\": [\"SIGINT\", \"term\"]\n"
                                  "}\n";

Test(policy_json, load_sets_every_field) {
        mc_policy *p = load(full_policy);

        cr_assert(mc_policy_allow_fixed(p));
        cr_assert(mc_policy_allow_write_exec(p));
        cr_assert(!mc_policy_allow_huge_pages(p));
        cr_assert_eq(mc_policy_max_memory_usage(p), 512 * 1024);
        cr_assert_eq(mc_policy_max_locked_memory(p), 4096);
        cr_assert_eq(mc_policy_max_mappings(p), MC_UNLIMITED);
        cr_assert_eq(mc_policy_allowed_ops(p), MC_OP_BIT(MC_OP_MMAP) | MC_OP_BIT(MC_OP_MUNMAP));
        cr_assert(mc_policy_signal_allowed(p, SIGINT));
        cr_assert(mc_policy_signal_allowed(p, SIGTERM));
        cr_assert(!mc_policy_signal_allowed(p, SIGSEGV));
        mc_policy_free(p);
}

Test(policy_json, allowed_shared_memory_patterns_decide_names) {
        mc_policy *p = load(full_policy);

        cr_assert(mc_policy_shared_memory_allowed(p, "/app-x"));
        cr_assert(mc_policy_shared_memory_allowed(p, "app-cache"));
        cr_assert(mc_policy_shared_memory_allowed(p, "/db"));
        cr_assert(!mc_policy_shared_memory_allowed(p, "/db2"));
        cr_assert(!mc_policy_shared_memory_allowed(p, "/other"));
        mc_policy_free(p);

        p = load("{\"allowed_shared_memory\": []}");
        cr_assert(!mc_policy_shared_memory_allowed(p, "/app-x"), "an empty list allows none");
        mc_policy_free(p);
}

Test(policy_json, loaded_policy_denies_shared_memory_outside_its_patterns) {
        mc_policy *p = load("{\"allowed_shared_memory\": [\"app-*\"]}");
        mc_ctx *ctx = NULL;
        mc_shared s;
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_ctx_new(&ctx, &e), 0, "%s", e.message);
        cr_assert_eq(mc_ctx_set_policy(ctx, p, &e), 0, "%s", e.message);
        mc_policy_free(p);
        req.name = "/other-memcap-portable";
        req.size = 4096;
        req.create = true;
        cr_assert_lt(mc_shared_open(ctx, &req, &s, &e), 0);
        cr_assert_eq(e.kind, MC_ERR_POLICY_VIOLATION, "%s", e.message);
        cr_assert(strstr(e.message, "allowed_shared_memory") != NULL, "%s", e.message);
        mc_ctx_free(ctx);
}

/* ---- errors at file:line:column ------------------------------------------------------------ */

Test(policy_json, syntax_errors_name_line_and_column) {
        refused("{\n  \"allow_fixed\": tru\n}", "p.json:2:20: invalid token near 'tru'");
        refused("{\"allow_fixed\": true,}", "p.json:1:22: string or '}' expected near '}'");
        refused("{\n  \"allow_fixed\": false,\n  \"allow_fixed\": true\n}",
                "p.json:3:15: duplicate object key near '\"allow_fixed\"'");
        refused("", "p.json:1:1: unexpected token near end of file");
        refused("{\"a\": \"\xff\"}", "p.json:1:7: unable to decode byte 0xff near '\"'");
}

Test(policy_json, content_errors_are_placed_at_the_value) {
        refused("{\n  \"allow_fixed\": true,\n  \"alow_write_exec\": true\n}",
                "p.json:3:3: unknown field \"alow_write_exec\" (did you mean "
                "\"allow_write_exec\"?)");
        refused("{\"allow_fixed\": \"yes\"}",
                "p.json:1:17: \"allow_fixed\" must be true or false, not a string");
        refused("{\n  \"max_mappings\": []\n}",
                "p.json:2:19: \"max_mappings\" must be a non-negative integer, a size string "
                "such as \"4GiB\", or \"unlimited\"; not an array");
        refused("{\"version\": 3}",
                "p.json:1:13: unsupported policy version 3 (this memcap reads version 1)");
        /* Columns count characters, not bytes: "é" is one. */
        refused("{\"allowed_shared_memory\": [\"\xc3\xa9\", \"\"]}",
                "p.json:1:33: bad pattern \"\" in \"allowed_shared_memory\": a pattern must not "
                "be empty");
}

/* ---- files --------------------------------------------------------------------------------- */

Test(policy_json, load_file_with_a_utf8_name) {
        /* "pólicy-日本.json": the name reaches the file system as UTF-8 on both platforms. */
        const char *name = "p\xc3\xb3licy-\xe6\x97\xa5\xe6\x9c\xac.json";
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        write_file(name, full_policy);
        cr_assert_eq(mc_policy_load_file(name, &p, &e), 0, "%s", e.message);
        cr_assert_eq(mc_policy_max_locked_memory(p), 4096);
        mc_policy_free(p);
        remove_file(name);
}

Test(policy_json, load_file_errors_name_the_file) {
        char name[64], want[256];
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        snprintf(name, sizeof(name), "policy-bad-%ld.json", (long) getpid());
        write_file(name, "{\n  \"max_mappings\": -1\n}\n");
        cr_assert_eq(mc_policy_load_file(name, &p, &e), -EINVAL, "%s", e.message);
        snprintf(want, sizeof(want), "%s:2:19: \"max_mappings\" must not be negative (-1)", name);
        cr_assert_str_eq(e.message, want, "got: %s", e.message);
        cr_assert_null(p);
        remove_file(name);
}

Test(policy_json, load_of_a_missing_file_or_a_directory_fails) {
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_lt(mc_policy_load_file("no-such-policy.json", &p, &e), 0);
        cr_assert_eq(e.kind, MC_ERR_NOT_FOUND, "%s", e.message);
        cr_assert_lt(mc_policy_load_file(".", &p, &e), 0);
        cr_assert(e.kind == MC_ERR_INVALID_ARGUMENT || e.kind == MC_ERR_PERMISSION_DENIED, "%s",
                  e.message);
        cr_assert_null(p);
}

/* ---- printing ------------------------------------------------------------------------------ */

Test(policy_json, printed_policy_loads_back_with_64_bit_limits) {
        mc_policy *p = NULL, *q = NULL;
        mc_error e = MC_ERROR_INIT;
        char *json = NULL;

        cr_assert_eq(mc_policy_new(&p, &e), 0, "%s", e.message);
        cr_assert_eq(mc_policy_set_max_memory_usage(p, INT64_MAX), 0);
        cr_assert_eq(mc_policy_set_max_locked_memory(p, (uint64_t) INT64_MAX + 1), 0);
        cr_assert_eq(mc_policy_to_json(p, &json, &e), 0, "%s", e.message);
        /* Integers print in full (jansson's integer format must match the C runtime's). */
        cr_assert(strstr(json, "\"max_memory_usage\": 9223372036854775807") != NULL, "%s", json);
        cr_assert(strstr(json, "\"max_locked_memory\": \"9223372036854775808\"") != NULL, "%s",
                  json);
        cr_assert_eq(mc_policy_load_string(json, strlen(json), NULL, &q, &e), 0, "%s", e.message);
        cr_assert_eq(mc_policy_max_memory_usage(q), (uint64_t) INT64_MAX);
        cr_assert_eq(mc_policy_max_locked_memory(q), (uint64_t) INT64_MAX + 1);
        free(json);
        mc_policy_free(p);
        mc_policy_free(q);
}

/* ---- audit-event fields (parsed by the same JSON reader) ----------------------------------- */

Test(policy_json, audit_event_fields_must_be_one_object) {
        mc_ctx *ctx = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_ctx_new(&ctx, &e), 0, "%s", e.message);
        cr_assert_eq(mc_ctx_audit_event(ctx, "app", "started", "{\"n\": 1}", &e), 0, "%s",
                     e.message);
        cr_assert_lt(mc_ctx_audit_event(ctx, "app", "started", "[1]", &e), 0);
        cr_assert_eq(e.kind, MC_ERR_INVALID_ARGUMENT, "%s", e.message);
        cr_assert_lt(mc_ctx_audit_event(ctx, "app", "started", "{\"n\": ", &e), 0);
        cr_assert_eq(e.kind, MC_ERR_INVALID_ARGUMENT, "%s", e.message);
        mc_ctx_free(ctx);
}
