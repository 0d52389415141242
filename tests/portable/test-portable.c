/* SPDX-License-Identifier: MIT */
/*
 * The suites that run on every platform from one source: errors, policy, audit and memory
 * through the public API. Criterion on Linux, crit.h's stand-in on Windows (under Wine in
 * `make test-windows`). Nothing here may depend on what only one platform has.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <memcap/memcap.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <sys/mman.h>
#endif

#include "crit.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static mc_ctx *new_ctx(void) {
        mc_ctx *ctx = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_ctx_new(&ctx, &e), 0, "%s", e.message);
        return ctx;
}

static mc_ctx *ctx_with(void (*set)(mc_policy *)) {
        mc_ctx *ctx = new_ctx();
        mc_policy *p = NULL;
        mc_error e = MC_ERROR_INIT;

        cr_assert_eq(mc_policy_new(&p, &e), 0);
        set(p);
        cr_assert_eq(mc_ctx_set_policy(ctx, p, &e), 0, "%s", e.message);
        mc_policy_free(p);
        return ctx;
}

static int map_anon(mc_ctx *ctx, size_t len, unsigned prot, mc_mapping *m, mc_error *e) {
        mc_map_request req = MC_MAP_REQUEST_INIT;

        req.length = len;
        req.prot = prot;
        req.flags = MC_MAP_PRIVATE | MC_MAP_ANONYMOUS;
        return mc_mmap(ctx, &req, m, e);
}

/* A request for one read-only anonymous page at a fixed address. */
static mc_map_request fixed_request(void) {
        mc_map_request req = MC_MAP_REQUEST_INIT;

        req.addr = (void *) (uintptr_t) 0x10000000;
        req.length = 4096;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_PRIVATE | MC_MAP_ANONYMOUS | MC_MAP_FIXED;
        return req;
}

/*
 * @call must fail with the error kind @want in @e; the message names the call, and what the
 * library said.
 */
#define assert_fails(call, e, want)                                                                \
        do {                                                                                       \
                cr_assert_lt((call), 0, "%s succeeded", #call);                                    \
                cr_assert_eq((e).kind, (want), "%s: %s", #call, (e).message);                      \
        } while (0)

/* What most memory tests start from: a context with a private anonymous read-write mapping. */
typedef struct mapped {
        mc_ctx *ctx;
        mc_mapping m;
        mc_error e;
} mapped;

static void map_setup(mapped *f, size_t len) {
        mc_error e = MC_ERROR_INIT;

        f->ctx = new_ctx();
        f->e = e;
        cr_assert_eq(map_anon(f->ctx, len, MC_PROT_READ_WRITE, &f->m, &f->e), 0, "%s",
                     f->e.message);
}

/* A file of @len bytes of @fill in the current directory; its name in @path. */
static void make_file(char *path, size_t size, const char *tag, size_t len, char fill) {
        FILE *f;
        char *buf = malloc(len);

        snprintf(path, size, "portable-%s-%ld.tmp", tag, (long) getpid());
        f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_not_null(buf);
        memset(buf, fill, len);
        cr_assert_eq(fwrite(buf, 1, len, f), len);
        fclose(f);
        free(buf);
}

static char file_byte(const char *path, long off) {
        FILE *f = fopen(path, "rb");
        int c;

        cr_assert_not_null(f);
        fseek(f, off, SEEK_SET);
        c = fgetc(f);
        fclose(f);
        return (char) c;
}

/* What the file-mapping tests start from: a file made by make_file(), mapped with mc_map_file(). */
typedef struct mapped_file {
        mc_ctx *ctx;
        mc_mapping m;
        mc_error e;
        char path[128];
} mapped_file;

static void map_file_setup(mapped_file *f, const char *tag, size_t len, char fill, unsigned prot,
                           const mc_map_file_options *o) {
        mc_error e = MC_ERROR_INIT;

        f->ctx = new_ctx();
        f->e = e;
        make_file(f->path, sizeof(f->path), tag, len, fill);
        cr_assert_eq(mc_map_file(f->ctx, f->path, prot, o, &f->m, &f->e), 0, "%s", f->e.message);
}

/* Frees the context and removes the file; the test unmaps (and looks at the file) first. */
static void map_file_done(mapped_file *f) {
        mc_ctx_free(f->ctx);
        remove(f->path);
}

/* ---- errors -------------------------------------------------------------------------------- */

Test(error, kind_names_round_trip) {
        for (int k = MC_OK + 1; k < _MC_ERROR_KIND_MAX; k++) {
                mc_error_kind back;
                cr_assert_eq(mc_error_kind_from_name(mc_error_kind_name(k), &back), 0);
                cr_assert_eq((int) back, k);
        }
}

Test(error, unknown_kind_name_is_refused) {
        mc_error_kind k;
        cr_assert_lt(mc_error_kind_from_name("NoSuchKind", &k), 0);
}

Test(error, errno_table) {
        cr_assert_eq(mc_error_kind_from_errno(EACCES), MC_ERR_PERMISSION_DENIED);
        cr_assert_eq(mc_error_kind_from_errno(-ENOENT), MC_ERR_NOT_FOUND);
        cr_assert_eq(mc_error_kind_from_errno(ENOMEM), MC_ERR_OUT_OF_MEMORY);
        cr_assert_eq(mc_error_kind_from_errno(EEXIST), MC_ERR_ALREADY_EXISTS);
        cr_assert_eq(mc_error_kind_from_errno(ENOSYS), MC_ERR_UNSUPPORTED);
        cr_assert_eq(mc_error_kind_from_errno(EIO), MC_ERR_IO);
        cr_assert_eq(mc_error_kind_from_errno(0), MC_OK);
}

Test(error, set_fills_and_returns_negative) {
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(mc_error_set(&e, MC_ERR_INVALID_ARGUMENT, 0, "bad %zu", (size_t) 7), -EINVAL);
        cr_assert_eq(e.kind, MC_ERR_INVALID_ARGUMENT);
        cr_assert_str_eq(e.message, "bad 7");
}

Test(error, set_accepts_null_error) {
        cr_assert_eq(mc_error_set(NULL, MC_ERR_IO, EIO, "x"), -EIO);
}

Test(error, errno_appends_reason) {
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(mc_error_errno(&e, ENOENT, "open '%s'", "x"), -ENOENT);
        cr_assert_eq(e.kind, MC_ERR_NOT_FOUND);
        cr_assert(strncmp(e.message, "open 'x': ", 10) == 0, "%s", e.message);
}

Test(error, long_message_is_cut_not_overflowed) {
        mc_error e = MC_ERROR_INIT;
        char big[1000];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        mc_error_set(&e, MC_ERR_IO, EIO, "%s", big);
        cr_assert_eq(strlen(e.message), MC_ERROR_MESSAGE_MAX - 1);
}

Test(error, codes_are_stable) {
        cr_assert_str_eq(mc_error_code(MC_ERR_POLICY_VIOLATION, MC_DOMAIN_MEMORY),
                         "core.memory.PolicyViolation");
        cr_assert_str_eq(mc_error_code(MC_ERR_TIMED_OUT, MC_DOMAIN_SIGNAL), "core.signal.TimedOut");
}

/* ---- policy -------------------------------------------------------------------------------- */

Test(policy, defaults_refuse_fixed_and_write_exec) {
        mc_policy *p = NULL;
        cr_assert_eq(mc_policy_new(&p, NULL), 0);
        cr_assert(!mc_policy_allow_fixed(p));
        cr_assert(!mc_policy_allow_write_exec(p));
        cr_assert(!mc_policy_allow_huge_pages(p));
        mc_policy_free(p);
}

Test(policy, setters_refuse_null) {
        cr_assert_lt(mc_policy_set_allow_fixed(NULL, true), 0);
        cr_assert_lt(mc_policy_set_max_mappings(NULL, 1), 0);
}

Test(policy, ops_beyond_the_set_are_refused) {
        mc_policy *p = NULL;
        cr_assert_eq(mc_policy_new(&p, NULL), 0);
        cr_assert_lt(mc_policy_set_allowed_ops(p, MC_OP_ALL + 1), 0);
        cr_assert_eq(mc_policy_set_allowed_ops(p, MC_OP_BIT(MC_OP_MMAP)), 0);
        mc_policy_free(p);
}

Test(policy, dup_is_deep) {
        mc_policy *p = NULL, *q = NULL;
        cr_assert_eq(mc_policy_new(&p, NULL), 0);
        cr_assert_eq(mc_policy_set_allow_fixed(p, true), 0);
        cr_assert_eq(mc_policy_dup(p, &q, NULL), 0);
        mc_policy_free(p);
        cr_assert(mc_policy_allow_fixed(q));
        mc_policy_free(q);
}

static void no_write_exec(mc_policy *p) {
        mc_policy_set_allow_write_exec(p, false);
}

Test(policy, write_exec_mapping_is_denied) {
        mc_ctx *ctx = ctx_with(no_write_exec);
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        assert_fails(map_anon(ctx, 4096, MC_PROT_READ_WRITE_EXECUTE, &m, &e), e,
                     MC_ERR_POLICY_VIOLATION);
        mc_ctx_free(ctx);
}

Test(policy, exec_after_write_is_denied) {
        mc_ctx *ctx = ctx_with(no_write_exec);
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(map_anon(ctx, 4096, MC_PROT_READ_WRITE, &m, &e), 0, "%s", e.message);
        assert_fails(mc_mprotect(ctx, &m, MC_PROT_READ_EXECUTE, &e), e, MC_ERR_POLICY_VIOLATION);
        mc_ctx_free(ctx);
}

Test(policy, fixed_is_denied_by_default) {
        mc_ctx *ctx = new_ctx();
        mc_map_request req = fixed_request();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_mmap(ctx, &req, &m, &e), e, MC_ERR_POLICY_VIOLATION);
        mc_ctx_free(ctx);
}

static void small_quota(mc_policy *p) {
        mc_policy_set_max_memory_usage(p, 64 * 1024);
}

Test(policy, memory_quota_is_enforced) {
        mc_ctx *ctx = ctx_with(small_quota);
        mc_mapping a, b;
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(map_anon(ctx, 48 * 1024, MC_PROT_READ_WRITE, &a, &e), 0, "%s", e.message);
        assert_fails(map_anon(ctx, 32 * 1024, MC_PROT_READ_WRITE, &b, &e), e,
                     MC_ERR_POLICY_VIOLATION);
        cr_assert_eq(mc_munmap(ctx, &a, &e), 0, "%s", e.message);
        cr_assert_eq(map_anon(ctx, 32 * 1024, MC_PROT_READ_WRITE, &b, &e), 0, "%s", e.message);
        mc_ctx_free(ctx);
}

static void one_mapping(mc_policy *p) {
        mc_policy_set_max_mappings(p, 1);
}

Test(policy, mapping_count_is_enforced) {
        mc_ctx *ctx = ctx_with(one_mapping);
        mc_mapping a, b;
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(map_anon(ctx, 4096, MC_PROT_READ, &a, &e), 0, "%s", e.message);
        assert_fails(map_anon(ctx, 4096, MC_PROT_READ, &b, &e), e, MC_ERR_POLICY_VIOLATION);
        mc_ctx_free(ctx);
}

static void mmap_only(mc_policy *p) {
        mc_policy_set_allowed_ops(p, MC_OP_BIT(MC_OP_MMAP) | MC_OP_BIT(MC_OP_MUNMAP));
}

Test(policy, operation_not_allowed_is_denied) {
        mc_ctx *ctx = ctx_with(mmap_only);
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(map_anon(ctx, 4096, MC_PROT_READ_WRITE, &m, &e), 0, "%s", e.message);
        assert_fails(mc_mprotect(ctx, &m, MC_PROT_READ, &e), e, MC_ERR_POLICY_VIOLATION);
        cr_assert_eq(mc_munmap(ctx, &m, &e), 0, "%s", e.message);
        mc_ctx_free(ctx);
}

/* ---- audit --------------------------------------------------------------------------------- */

typedef struct seen {
        int n, denied, failed;
        char last[512];
} seen;

static void on_record(const mc_audit_record *r, void *userdata) {
        seen *s = userdata;
        s->n++;
        s->denied += r->kind == MC_ERR_POLICY_VIOLATION;
        s->failed += r->kind != MC_OK;
        snprintf(s->last, sizeof(s->last), "%s", r->json);
}

static mc_ctx *audited(seen *s, void (*set)(mc_policy *)) {
        mc_ctx *ctx = set ? ctx_with(set) : new_ctx();
        mc_audit *a = NULL;
        cr_assert_eq(mc_audit_open_callback(on_record, s, &a, NULL), 0);
        mc_ctx_set_audit(ctx, a);
        return ctx;
}

Test(audit, every_call_leaves_one_record) {
        seen s = {0};
        mc_ctx *ctx = audited(&s, NULL);
        mc_mapping m;
        cr_assert_eq(map_anon(ctx, 4096, MC_PROT_READ_WRITE, &m, NULL), 0);
        cr_assert_eq(mc_mprotect(ctx, &m, MC_PROT_READ, NULL), 0);
        cr_assert_eq(mc_munmap(ctx, &m, NULL), 0);
        cr_assert_eq(s.n, 3);
        cr_assert_eq(s.failed, 0);
        mc_ctx_free(ctx);
}

Test(audit, denial_is_recorded_as_denied) {
        seen s = {0};
        mc_ctx *ctx = audited(&s, no_write_exec);
        mc_mapping m;
        cr_assert_lt(map_anon(ctx, 4096, MC_PROT_READ_WRITE_EXECUTE, &m, NULL), 0);
        cr_assert_eq(s.denied, 1);
        cr_assert(strstr(s.last, "\"denied\"") != NULL, "%s", s.last);
        mc_ctx_free(ctx);
}

Test(audit, record_is_one_json_object_line) {
        seen s = {0};
        mc_ctx *ctx = audited(&s, NULL);
        mc_mapping m;
        cr_assert_eq(map_anon(ctx, 8192, MC_PROT_READ, &m, NULL), 0);
        cr_assert_eq(s.last[0], '{');
        cr_assert_eq(s.last[strlen(s.last) - 1], '}');
        cr_assert(strchr(s.last, '\n') == NULL);
        cr_assert(strstr(s.last, "\"mmap\"") != NULL, "%s", s.last);
        mc_ctx_free(ctx);
}

Test(audit, failure_is_recorded_with_its_code) {
        seen s = {0};
        mc_ctx *ctx = audited(&s, small_quota);
        mc_mapping m;
        cr_assert_lt(map_anon(ctx, 1 << 20, MC_PROT_READ_WRITE, &m, NULL), 0);
        cr_assert(strstr(s.last, "core.memory.PolicyViolation") != NULL, "%s", s.last);
        mc_ctx_free(ctx);
}

Test(audit, file_sink_appends_lines) {
        char path[128];
        mc_audit *a = NULL;
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        FILE *f;
        int lines = 0, c;

        snprintf(path, sizeof(path), "portable-audit-%ld.log", (long) getpid());
        remove(path);
        cr_assert_eq(mc_audit_open_file(path, 0, &a, &e), 0, "%s", e.message);
        mc_ctx_set_audit(ctx, a);
        cr_assert_eq(map_anon(ctx, 4096, MC_PROT_READ, &m, NULL), 0);
        cr_assert_eq(mc_munmap(ctx, &m, NULL), 0);
        mc_ctx_free(ctx);
        f = fopen(path, "rb");
        cr_assert_not_null(f);
        while ((c = fgetc(f)) != EOF)
                lines += c == '\n';
        fclose(f);
        remove(path);
        cr_assert_eq(lines, 2);
}

Test(audit, event_names_are_checked) {
        mc_ctx *ctx = new_ctx();
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_ctx_audit_event(ctx, "bad name", "x", NULL, &e), e,
                     MC_ERR_INVALID_ARGUMENT);
        cr_assert_eq(mc_ctx_audit_event(ctx, "app", "started", NULL, &e), 0, "%s", e.message);
        mc_ctx_free(ctx);
}

/* ---- memory -------------------------------------------------------------------------------- */

Test(memory, page_size_is_a_power_of_two) {
        size_t p = mc_page_size();
        cr_assert_geq(p, 4096);
        cr_assert_eq(p & (p - 1), 0);
}

Test(memory, anonymous_mapping_is_zeroed_and_writable) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        unsigned char *p;
        cr_assert_eq(map_anon(ctx, 3 * 4096, MC_PROT_READ_WRITE, &m, &e), 0, "%s", e.message);
        p = m.ptr;
        cr_assert_eq(p[0], 0);
        cr_assert_eq(p[3 * 4096 - 1], 0);
        p[100] = 42;
        cr_assert_eq(p[100], 42);
        cr_assert_eq(mc_munmap(ctx, &m, &e), 0, "%s", e.message);
        mc_ctx_free(ctx);
}

Test(memory, zero_length_is_refused) {
        mc_ctx *ctx = new_ctx();
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_PRIVATE | MC_MAP_ANONYMOUS;
        assert_fails(mc_mmap(ctx, &req, &m, &e), e, MC_ERR_INVALID_ARGUMENT);
        mc_ctx_free(ctx);
}

Test(memory, null_arguments_are_refused) {
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_mmap(NULL, NULL, &m, &e), e, MC_ERR_INVALID_ARGUMENT);
}

Test(memory, usage_counts_mappings) {
        mapped f;
        mc_usage u;
        map_setup(&f, 8192);
        mc_ctx_get_usage(f.ctx, &u);
        cr_assert_eq(u.mappings, 1);
        cr_assert_eq(u.mapped_bytes, 8192);
        cr_assert_eq(mc_munmap(f.ctx, &f.m, NULL), 0);
        mc_ctx_get_usage(f.ctx, &u);
        cr_assert_eq(u.mappings, 0);
        cr_assert_eq(u.mapped_bytes, 0);
        mc_ctx_free(f.ctx);
}

Test(memory, unmap_twice_is_not_found) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m, copy;
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(map_anon(ctx, 4096, MC_PROT_READ, &m, NULL), 0);
        copy = m;
        cr_assert_eq(mc_munmap(ctx, &m, &e), 0, "%s", e.message);
        assert_fails(mc_munmap(ctx, &copy, &e), e, MC_ERR_NOT_FOUND);
        mc_ctx_free(ctx);
}

Test(memory, guarded_write_and_read) {
        mapped f;
        char out[6] = {0};
        map_setup(&f, 4096);
        cr_assert_eq(mc_map_write(f.ctx, &f.m, 10, "hello", 5, &f.e), 0, "%s", f.e.message);
        cr_assert_eq(mc_map_read(f.ctx, &f.m, 10, out, 5, &f.e), 0, "%s", f.e.message);
        cr_assert_str_eq(out, "hello");
        mc_ctx_free(f.ctx);
}

Test(memory, guarded_access_past_the_end_is_refused) {
        mapped f;
        char buf[16];
        map_setup(&f, 4096);
        assert_fails(mc_map_read(f.ctx, &f.m, 4090, buf, 16, &f.e), f.e, MC_ERR_INVALID_ARGUMENT);
        mc_ctx_free(f.ctx);
}

Test(memory, write_to_read_only_is_permission_denied) {
        mapped f;
        map_setup(&f, 4096);
        cr_assert_eq(mc_mprotect(f.ctx, &f.m, MC_PROT_READ, &f.e), 0, "%s", f.e.message);
        assert_fails(mc_map_write(f.ctx, &f.m, 0, "x", 1, &f.e), f.e, MC_ERR_PERMISSION_DENIED);
        mc_ctx_free(f.ctx);
}

/* Take every access to @len bytes at @p away behind memcap's back. */
static void revoke_access(void *p, size_t len) {
#ifdef _WIN32
        DWORD old;
        cr_assert(VirtualProtect(p, len, PAGE_NOACCESS, &old));
#else
        cr_assert_eq(mprotect(p, len, PROT_NONE), 0);
#endif
}

Test(memory, guarded_read_of_revoked_pages_is_io_not_a_crash) {
        mapped f;
        char buf[8];
        map_setup(&f, 4096);
        revoke_access(f.m.ptr, 4096);
        assert_fails(mc_map_read(f.ctx, &f.m, 8, buf, sizeof(buf), &f.e), f.e, MC_ERR_IO);
        assert_fails(mc_map_write(f.ctx, &f.m, 8, "x", 1, &f.e), f.e, MC_ERR_IO);
        mc_ctx_free(f.ctx);
}

static int sum_visitor(void *p, size_t n, void *userdata) {
        unsigned *sum = userdata;
        for (size_t i = 0; i < n; i++)
                *sum += ((unsigned char *) p)[i];
        return 7;
}

Test(memory, visit_sees_the_bytes) {
        mapped f;
        unsigned sum = 0;
        map_setup(&f, 4096);
        ((unsigned char *) f.m.ptr)[1] = 5;
        ((unsigned char *) f.m.ptr)[2] = 6;
        cr_assert_eq(mc_map_visit(f.ctx, &f.m, 0, 16, MC_PROT_READ, sum_visitor, &sum, NULL), 7);
        cr_assert_eq(sum, 11);
        mc_ctx_free(f.ctx);
}

Test(memory, mprotect_range_then_whole) {
        mapped f;
        size_t pg = mc_page_size();
        map_setup(&f, 2 * pg);
        cr_assert_eq(mc_mprotect_range(f.ctx, &f.m, pg, pg, MC_PROT_READ, &f.e), 0, "%s",
                     f.e.message);
        cr_assert_eq(mc_map_write(f.ctx, &f.m, 0, "a", 1, &f.e), 0, "%s", f.e.message);
        cr_assert_lt(mc_map_write(f.ctx, &f.m, pg, "a", 1, &f.e), 0);
        cr_assert_eq(mc_mprotect(f.ctx, &f.m, MC_PROT_READ_WRITE, &f.e), 0, "%s", f.e.message);
        cr_assert_eq(mc_map_write(f.ctx, &f.m, pg, "a", 1, &f.e), 0, "%s", f.e.message);
        mc_ctx_free(f.ctx);
}

Test(memory, dontneed_zeroes_private_pages) {
        mapped f;
        map_setup(&f, 4096);
        ((char *) f.m.ptr)[0] = 9;
        cr_assert_eq(mc_madvise(f.ctx, &f.m, 0, 4096, MC_ADVICE_DONTNEED, &f.e), 0, "%s",
                     f.e.message);
        cr_assert_eq(((char *) f.m.ptr)[0], 0);
        mc_ctx_free(f.ctx);
}

Test(memory, hints_are_accepted) {
        mapped f;
        static const mc_advice hints[] = {MC_ADVICE_SEQUENTIAL, MC_ADVICE_RANDOM, MC_ADVICE_NORMAL,
                                          MC_ADVICE_WILLNEED, MC_ADVICE_FREE};
        map_setup(&f, 4096);
        for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
                cr_assert_eq(mc_madvise(f.ctx, &f.m, 0, 4096, hints[i], &f.e), 0, "advice %d: %s",
                             (int) hints[i], f.e.message);
        mc_ctx_free(f.ctx);
}

Test(memory, lock_and_unlock_are_counted) {
        mapped f;
        mc_usage u;
        map_setup(&f, 4096);
        cr_assert_eq(mc_mlock(f.ctx, &f.m, 0, 4096, 0, &f.e), 0, "%s", f.e.message);
        mc_ctx_get_usage(f.ctx, &u);
        cr_assert_eq(u.locked_bytes, 4096);
        cr_assert_eq(mc_munlock(f.ctx, &f.m, 0, 4096, &f.e), 0, "%s", f.e.message);
        mc_ctx_get_usage(f.ctx, &u);
        cr_assert_eq(u.locked_bytes, 0);
        mc_ctx_free(f.ctx);
}

Test(memory, msync_of_anonymous_memory_succeeds) {
        mapped f;
        map_setup(&f, 4096);
        cr_assert_eq(mc_msync(f.ctx, &f.m, 0, 4096, MC_SYNC_SYNC, &f.e), 0, "%s", f.e.message);
        mc_ctx_free(f.ctx);
}

Test(memory, map_file_reads_the_file) {
        mapped_file f;
        map_file_setup(&f, "read", 10000, 'r', MC_PROT_READ, NULL);
        cr_assert_eq(f.m.len, 10000);
        cr_assert_eq(((char *) f.m.ptr)[9999], 'r');
        cr_assert_eq(mc_unmap(f.ctx, &f.m, &f.e), 0, "%s", f.e.message);
        map_file_done(&f);
}

Test(memory, shared_file_writes_reach_the_file) {
        mapped_file f;
        map_file_setup(&f, "write", 8192, 'a', MC_PROT_READ_WRITE, NULL);
        cr_assert_eq(mc_map_write(f.ctx, &f.m, 5000, "Z", 1, &f.e), 0, "%s", f.e.message);
        cr_assert_eq(mc_msync(f.ctx, &f.m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &f.e), 0, "%s",
                     f.e.message);
        cr_assert_eq(mc_unmap(f.ctx, &f.m, &f.e), 0, "%s", f.e.message);
        cr_assert_eq(file_byte(f.path, 5000), 'Z');
        map_file_done(&f);
}

Test(memory, private_file_writes_stay_private) {
        mapped_file f;
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;
        o.private_copy = true;
        map_file_setup(&f, "priv", 4096, 'p', MC_PROT_READ_WRITE, &o);
        ((char *) f.m.ptr)[0] = 'Q';
        cr_assert_eq(((char *) f.m.ptr)[0], 'Q');
        cr_assert_eq(mc_unmap(f.ctx, &f.m, &f.e), 0, "%s", f.e.message);
        cr_assert_eq(file_byte(f.path, 0), 'p');
        map_file_done(&f);
}

Test(memory, map_file_of_a_missing_file_is_not_found) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_map_file(ctx, "no-such-file.tmp", MC_PROT_READ, NULL, &m, &e), e,
                     MC_ERR_NOT_FOUND);
        mc_ctx_free(ctx);
}

Test(memory, map_file_of_a_directory_is_invalid) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_map_file(ctx, ".", MC_PROT_READ, NULL, &m, &e), e, MC_ERR_INVALID_ARGUMENT);
        mc_ctx_free(ctx);
}

Test(memory, context_free_releases_everything) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        for (int i = 0; i < 16; i++)
                cr_assert_eq(map_anon(ctx, 4096, MC_PROT_READ_WRITE, &m, NULL), 0);
        cr_assert_null(mc_ctx_free(ctx));
}

/* ---- shared memory ------------------------------------------------------------------------- */

static const char *shm_name(char *buf, size_t size, const char *tag) {
        snprintf(buf, size, "/memcap-portable-%ld-%s", (long) getpid(), tag);
        return buf;
}

static int shm_create(mc_ctx *ctx, const char *name, size_t size, mc_shared *ret, mc_error *e) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;

        req.name = name;
        req.size = size;
        req.create = true;
        return mc_shared_open(ctx, &req, ret, e);
}

static int shm_anon(mc_ctx *ctx, size_t size, mc_shared *ret, mc_error *e) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;

        req.size = size;
        return mc_shared_open(ctx, &req, ret, e);
}

Test(shm, created_object_is_seen_by_a_second_open) {
        mc_ctx *ctx = new_ctx();
        mc_shared a, b;
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error e = MC_ERROR_INIT;
        char name[96];
        shm_name(name, sizeof(name), "two");
        cr_assert_eq(shm_create(ctx, name, 8192, &a, &e), 0, "%s", e.message);
        cr_assert_eq(a.owner, MC_OWNER_LOCAL);
        req.name = name;
        cr_assert_eq(mc_shared_open(ctx, &req, &b, &e), 0, "%s", e.message);
        cr_assert_geq(b.region.len, 8192);
        ((char *) a.region.ptr)[100] = 'S';
        cr_assert_eq(((char *) b.region.ptr)[100], 'S');
        cr_assert_eq(mc_shared_unlink(ctx, name, &e), 0, "%s", e.message);
        cr_assert_eq(mc_shared_close(ctx, &b, &e), 0, "%s", e.message);
        cr_assert_eq(mc_shared_close(ctx, &a, &e), 0, "%s", e.message);
        mc_ctx_free(ctx);
}

Test(shm, exclusive_create_of_an_existing_name_is_already_exists) {
        mc_ctx *ctx = new_ctx();
        mc_shared a, b;
        mc_error e = MC_ERROR_INIT;
        char name[96];
        shm_name(name, sizeof(name), "excl");
        cr_assert_eq(shm_create(ctx, name, 4096, &a, &e), 0, "%s", e.message);
        assert_fails(shm_create(ctx, name, 4096, &b, &e), e, MC_ERR_ALREADY_EXISTS);
        cr_assert_eq(mc_shared_unlink(ctx, name, NULL), 0);
        cr_assert_eq(mc_shared_close(ctx, &a, NULL), 0);
        mc_ctx_free(ctx);
}

Test(shm, opening_a_missing_name_is_not_found) {
        mc_ctx *ctx = new_ctx();
        mc_shared s;
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error e = MC_ERROR_INIT;
        char name[96];
        req.name = shm_name(name, sizeof(name), "missing");
        assert_fails(mc_shared_open(ctx, &req, &s, &e), e, MC_ERR_NOT_FOUND);
        mc_ctx_free(ctx);
}

Test(shm, invalid_names_are_refused) {
        mc_ctx *ctx = new_ctx();
        mc_shared s;
        mc_error e = MC_ERROR_INIT;
        const char *why = NULL;
        cr_assert(!mc_shared_name_valid("a/b", &why));
        cr_assert_not_null(why);
        cr_assert(!mc_shared_name_valid("..", NULL));
        cr_assert(mc_shared_name_valid("/fine-name", NULL));
        assert_fails(shm_create(ctx, "/a/b", 4096, &s, &e), e, MC_ERR_INVALID_ARGUMENT);
        mc_ctx_free(ctx);
}

Test(shm, anonymous_region_is_zeroed_and_counted) {
        mc_ctx *ctx = new_ctx();
        mc_shared s;
        mc_error e = MC_ERROR_INIT;
        mc_usage u;
        cr_assert_eq(shm_anon(ctx, 4096, &s, &e), 0, "%s", e.message);
        cr_assert_eq(((char *) s.region.ptr)[4095], 0);
        mc_ctx_get_usage(ctx, &u);
        cr_assert_eq(u.shared_objects, 1);
        cr_assert_eq(mc_shared_close(ctx, &s, &e), 0, "%s", e.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert_eq(u.shared_objects, 0);
        cr_assert_eq(u.mappings, 0);
        mc_ctx_free(ctx);
}

static void only_app_names(mc_policy *p) {
        mc_policy_clear_shared_memory_patterns(p);
        mc_policy_add_shared_memory_pattern(p, "app-*", NULL);
}

Test(shm, name_outside_the_patterns_is_denied) {
        mc_ctx *ctx = ctx_with(only_app_names);
        mc_shared s;
        mc_error e = MC_ERROR_INIT;
        char name[96];
        assert_fails(shm_create(ctx, shm_name(name, sizeof(name), "denied"), 4096, &s, &e), e,
                     MC_ERR_POLICY_VIOLATION);
        mc_ctx_free(ctx);
}

Test(shm, quota_counts_shared_memory) {
        mc_ctx *ctx = ctx_with(small_quota);
        mc_shared s;
        mc_error e = MC_ERROR_INIT;
        assert_fails(shm_anon(ctx, 1 << 20, &s, &e), e, MC_ERR_POLICY_VIOLATION);
        mc_ctx_free(ctx);
}

Test(shm, map_shared_buffer_creates_then_opens) {
        mc_ctx *ctx = new_ctx();
        mc_shared a, b;
        mc_error e = MC_ERROR_INIT;
        char name[96];
        shm_name(name, sizeof(name), "buffer");
        cr_assert_eq(mc_map_shared_buffer(ctx, name, 4096, &a, &e), 0, "%s", e.message);
        cr_assert_eq(mc_map_shared_buffer(ctx, name, 4096, &b, &e), 0, "%s", e.message);
        ((char *) b.region.ptr)[1] = 'B';
        cr_assert_eq(((char *) a.region.ptr)[1], 'B');
        cr_assert_eq(mc_shared_unlink(ctx, name, NULL), 0);
        cr_assert_eq(mc_shared_close(ctx, &a, NULL), 0);
        cr_assert_eq(mc_shared_close(ctx, &b, NULL), 0);
        mc_ctx_free(ctx);
}

Test(shm, close_zeroes_the_object) {
        mc_ctx *ctx = new_ctx();
        mc_shared s;
        mc_error e = MC_ERROR_INIT;
        char name[96];
        cr_assert_eq(shm_create(ctx, shm_name(name, sizeof(name), "zero"), 4096, &s, &e), 0, "%s",
                     e.message);
        cr_assert_eq(mc_shared_close(ctx, &s, &e), 0, "%s", e.message);
        /* mc_shared_close() promises a zeroed object with fd -1 on every platform. */
        cr_assert_eq(s.fd, -1);
        cr_assert_null(s.region.ptr);
        cr_assert_eq(s.region.len, 0);
        cr_assert_eq(s.name[0], 0, "the name is kept: %s", s.name);
        /* Linux keeps the object until unlinked; Windows dropped it with its last handle. */
        (void) mc_shared_unlink(ctx, name, NULL);
        mc_ctx_free(ctx);
}

Test(shm, close_twice_is_not_found) {
        mc_ctx *ctx = new_ctx();
        mc_shared s, copy;
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(shm_anon(ctx, 4096, &s, &e), 0, "%s", e.message);
        copy = s;
        cr_assert_eq(mc_shared_close(ctx, &s, &e), 0, "%s", e.message);
        assert_fails(mc_shared_close(ctx, &copy, &e), e, MC_ERR_NOT_FOUND);
        mc_ctx_free(ctx);
}

Test(shm, context_free_closes_regions) {
        mc_ctx *ctx = new_ctx();
        mc_shared s;
        cr_assert_eq(shm_anon(ctx, 4096, &s, NULL), 0);
        cr_assert_null(mc_ctx_free(ctx));
}

/* ---- what Windows does not have -------------------------------------------------------------- */

#ifdef _WIN32
#include <signal.h>

#include "win-handler.h"

static void allow_fixed(mc_policy *p) {
        mc_policy_set_allow_fixed(p, true);
}

Test(windows, signal_masks_are_unsupported_with_a_reason) {
        mc_ctx *ctx = new_ctx();
        mc_sigset set = MC_SIGSET_EMPTY;
        mc_error e = MC_ERROR_INIT;
        mc_sigset_add(&set, SIGINT);
        assert_fails(mc_signal_mask(ctx, &set, NULL, &e), e, MC_ERR_UNSUPPORTED);
        cr_assert(strstr(e.message, "Windows") != NULL, "%s", e.message);
        mc_ctx_free(ctx);
}

Test(windows, raised_signal_runs_the_handler_on_the_dispatcher) {
        seen s = {0};
        mc_ctx *ctx = audited(&s, NULL);
        got g = {0};
        mc_error e = MC_ERROR_INIT;
        register_recorder(ctx, SIGTERM, &g);
        cr_assert_eq(mc_signal_raise(ctx, SIGTERM, &e), 0, "%s", e.message);
        wait_calls(&g, 1);
        cr_assert_eq(g.signo, SIGTERM);
        cr_assert_neq(g.thread, GetCurrentThreadId());
        unregister_recorder(ctx, SIGTERM);
        /* register, raise, the delivery, unregister */
        WAIT_UNTIL(s.n >= 4);
        cr_assert_eq(s.n, 4);
        mc_ctx_free(ctx);
}

Test(windows, every_raise_is_delivered) {
        mc_ctx *ctx = new_ctx();
        got g = {0};
        register_recorder(ctx, SIGBREAK, &g);
        for (int i = 0; i < 5; i++)
                cr_assert_eq(mc_signal_raise(ctx, SIGBREAK, NULL), 0);
        wait_calls(&g, 5);
        mc_ctx_free(ctx);
}

Test(windows, stacked_registration_reports_the_previous_one) {
        mc_ctx *ctx = new_ctx();
        got a = {0}, b = {0};
        mc_signal_previous prev;
        cr_assert_eq(mc_signal_register_handler(ctx, SIGINT, on_signal, &a, 0, &prev, NULL), 0);
        cr_assert_eq(prev.kind, MC_PREVIOUS_DEFAULT);
        cr_assert_eq(mc_signal_register_handler(ctx, SIGINT, on_signal, &b, 0, &prev, NULL), 0);
        cr_assert_eq(prev.kind, MC_PREVIOUS_MEMCAP);
        cr_assert_eq(prev.userdata, (void *) &a);
        cr_assert_eq(mc_signal_raise(ctx, SIGINT, NULL), 0);
        wait_calls(&b, 1);
        cr_assert_eq(a.calls, 0);
        mc_ctx_free(ctx);
}

Test(windows, wait_ends_at_its_timeout) {
        mc_ctx *ctx = new_ctx();
        mc_sigset set = MC_SIGSET_EMPTY;
        mc_error e = MC_ERROR_INIT;
        mc_sigset_add(&set, SIGBREAK);
        assert_fails(mc_signal_wait(ctx, &set, 20 * 1000000, NULL, &e), e, MC_ERR_TIMED_OUT);
        mc_ctx_free(ctx);
}

Test(windows, uncatchable_and_unknown_signals_are_refused) {
        mc_ctx *ctx = new_ctx();
        got g = {0};
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_signal_register_handler(ctx, SIGSEGV, on_signal, &g, 0, NULL, &e), e,
                     MC_ERR_UNSUPPORTED);
        assert_fails(mc_signal_register_handler(ctx, 99, on_signal, &g, 0, NULL, &e), e,
                     MC_ERR_INVALID_SIGNAL);
        assert_fails(mc_signal_unregister_handler(ctx, SIGINT, &e), e, MC_ERR_NOT_FOUND);
        mc_ctx_free(ctx);
}

static void no_sigterm(mc_policy *p) {
        mc_policy_set_signal_allowed(p, SIGTERM, false);
}

Test(windows, raise_of_a_forbidden_signal_is_denied) {
        mc_ctx *ctx = ctx_with(no_sigterm);
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_signal_raise(ctx, SIGTERM, &e), e, MC_ERR_POLICY_VIOLATION);
        mc_ctx_free(ctx);
}

Test(windows, send_to_the_console_group_needs_the_whole_group_target) {
        mc_ctx *ctx = new_ctx();
        mc_error e = MC_ERROR_INIT;
        mc_signal_payload pl = {MC_PAYLOAD_USER_DATA, 1, 0};
        assert_fails(mc_signal_send(ctx, 0, SIGINT, NULL, &e), e, MC_ERR_POLICY_VIOLATION);
        assert_fails(mc_signal_send(ctx, 1234, SIGINT, NULL, &e), e, MC_ERR_UNSUPPORTED);
        assert_fails(mc_signal_send(ctx, 0, SIGTERM, NULL, &e), e, MC_ERR_UNSUPPORTED);
        assert_fails(mc_signal_send(ctx, 0, SIGINT, &pl, &e), e, MC_ERR_UNSUPPORTED);
        mc_ctx_free(ctx);
}

/*
 * EXCEPTION_IN_PAGE_ERROR is what Windows raises when the file under a view cannot be read.
 * Wine gives no way to make a real one (its views are mmap()s of Unix files a Windows program
 * cannot truncate), so a visitor raises it with RaiseException(), with the parameters Windows
 * gives it (read access, the address, an NTSTATUS). The handler cannot tell the difference.
 */
static int raise_in_page_error(void *p, size_t n, void *userdata) {
        ULONG_PTR info[3] = {0, (ULONG_PTR) userdata, (ULONG_PTR) 0xC000009CL};
        (void) p, (void) n;
        RaiseException(EXCEPTION_IN_PAGE_ERROR, 0, 3, info);
        return 1; /* only when a handler continued execution */
}

Test(windows, in_page_error_in_a_guarded_range_is_io) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        unsigned sum = 0;
        cr_assert_eq(map_anon(ctx, 8192, MC_PROT_READ_WRITE, &m, NULL), 0);
        cr_assert_lt(mc_map_visit(ctx, &m, 4096, 4096, MC_PROT_READ, raise_in_page_error,
                                  (char *) m.ptr + 4100, &e),
                     0);
        cr_assert_eq(e.kind, MC_ERR_IO, "%s", e.message);
        cr_assert(strstr(e.message, "EXCEPTION_IN_PAGE_ERROR at offset 4100") != NULL, "%s",
                  e.message);
        cr_assert(strstr(e.message, "could not be read") != NULL, "%s", e.message);
        /* The guard is ready again: the next visit runs normally. */
        cr_assert_eq(mc_map_visit(ctx, &m, 0, 16, MC_PROT_READ, sum_visitor, &sum, &e), 7, "%s",
                     e.message);
        mc_ctx_free(ctx);
}

static volatile LONG foreign_in_page_errors;

static LONG WINAPI count_and_continue(EXCEPTION_POINTERS *ep) {
        if (ep->ExceptionRecord->ExceptionCode != EXCEPTION_IN_PAGE_ERROR)
                return EXCEPTION_CONTINUE_SEARCH;
        InterlockedIncrement(&foreign_in_page_errors);
        return EXCEPTION_CONTINUE_EXECUTION;
}

Test(windows, in_page_error_outside_the_guarded_range_is_left_to_the_program) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        char elsewhere[16];
        /* Last in the chain: it sees the exception only if memcap's handler passed it on. */
        void *h = AddVectoredExceptionHandler(0, count_and_continue);
        cr_assert_not_null(h);
        cr_assert_eq(map_anon(ctx, 8192, MC_PROT_READ_WRITE, &m, NULL), 0);
        /* The address is in this mapping, but not in the range being visited. */
        cr_assert_eq(mc_map_visit(ctx, &m, 4096, 4096, MC_PROT_READ, raise_in_page_error,
                                  (char *) m.ptr + 100, &e),
                     1, "%s", e.message);
        /* Nor in any mapping. */
        cr_assert_eq(
                mc_map_visit(ctx, &m, 0, 4096, MC_PROT_READ, raise_in_page_error, elsewhere, &e), 1,
                "%s", e.message);
        cr_assert_eq(foreign_in_page_errors, 2);
        RemoveVectoredExceptionHandler(h);
        mc_ctx_free(ctx);
}

Test(windows, syslog_sink_is_unsupported) {
        mc_audit *a = NULL;
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_audit_open_syslog("memcap", 0, &a, &e), e, MC_ERR_UNSUPPORTED);
        cr_assert_null(a);
}

Test(windows, fixed_mapping_is_unsupported_even_when_allowed) {
        mc_ctx *ctx = ctx_with(allow_fixed);
        mc_map_request req = fixed_request();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        assert_fails(mc_mmap(ctx, &req, &m, &e), e, MC_ERR_UNSUPPORTED);
        mc_ctx_free(ctx);
}

Test(windows, file_offset_off_the_allocation_granularity_is_refused) {
        mc_ctx *ctx = new_ctx();
        mc_mapping m;
        mc_error e = MC_ERROR_INIT;
        mc_map_request req = MC_MAP_REQUEST_INIT;
        char path[128];
        make_file(path, sizeof(path), "gran", 3 * 65536, 'g');
        req.path = path;
        req.length = 4096;
        req.prot = MC_PROT_READ;
        req.flags = MC_MAP_SHARED;
        req.offset = 4096;
        assert_fails(mc_mmap(ctx, &req, &m, &e), e, MC_ERR_INVALID_ARGUMENT);
        req.offset = 65536;
        cr_assert_eq(mc_mmap(ctx, &req, &m, &e), 0, "%s", e.message);
        cr_assert_eq(((char *) m.ptr)[0], 'g');
        mc_ctx_free(ctx);
        remove(path);
}

Test(windows, linux_only_advice_is_unsupported) {
        mapped f;
        map_setup(&f, 4096);
        assert_fails(mc_madvise(f.ctx, &f.m, 0, 4096, MC_ADVICE_MERGEABLE, &f.e), f.e,
                     MC_ERR_UNSUPPORTED);
        mc_ctx_free(f.ctx);
}

Test(windows, shared_memory_resize_is_unsupported) {
        mc_ctx *ctx = new_ctx();
        mc_shared s;
        mc_error e = MC_ERROR_INIT;
        cr_assert_eq(shm_anon(ctx, 4096, &s, &e), 0, "%s", e.message);
        assert_fails(mc_shared_resize(ctx, &s, 8192, &e), e, MC_ERR_UNSUPPORTED);
        mc_ctx_free(ctx);
}
#endif
