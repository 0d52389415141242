/* SPDX-License-Identifier: MIT */
/*
 * The audit module: the record format (every field, every outcome, the time stamp), escaping
 * of hostile strings, and the sinks (file, fd, syslog, callback) with their failure paths.
 * Records are built by hand as the choke point would, written through a real sink, and read
 * back with jansson -- the same reader the CLI uses -- field by field.
 */

#include "common.h"
#include "core.h"
#include "failing.h"

#include <fcntl.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>

TestSuite(audit, .fini = mc_test_fini);

/* ---- helpers ------------------------------------------------------------------------------- */

/* json_is_*() are macros, which Criterion's cr_assert() cannot take as its first token. */
static bool is_type(json_type type, const json_t *v) {
        return v && json_typeof(v) == type;
}

/* What a callback sink saw, copied out (the record's pointers die with the call). */
#define MAX_RECS 16
typedef struct capture {
        int n;
        json_t *json[MAX_RECS];
        char raw[MAX_RECS][8192];
        int64_t time_ns[MAX_RECS];
        char capability[MAX_RECS][64];
        char operation[MAX_RECS][64];
        pid_t pid[MAX_RECS];
        mc_error_kind kind[MAX_RECS];
        int sys_errno[MAX_RECS];
        char message[MAX_RECS][MC_ERROR_MESSAGE_MAX];
        char code[MAX_RECS][64]; /* "" when the record had none */
} capture;

static void capture_cb(const mc_audit_record *rec, void *userdata) {
        capture *cap = userdata;
        json_error_t jerr;
        int i = cap->n++;

        cr_assert(lt(int, i, MAX_RECS));
        cr_assert(eq(sz, strlen(rec->json), rec->json_len));
        cr_assert(eq(ptr, memchr(rec->json, '\n', rec->json_len), NULL),
                  "record contains a newline: %s", rec->json);
        cr_assert(lt(sz, rec->json_len, sizeof(cap->raw[i])));
        memcpy(cap->raw[i], rec->json, rec->json_len + 1);
        cap->json[i] = json_loads(rec->json, JSON_REJECT_DUPLICATES, &jerr);
        cr_assert(not(eq(ptr, cap->json[i], NULL)), "record does not parse (%s): %s", jerr.text,
                  rec->json);
        cr_assert(is_type(JSON_OBJECT, cap->json[i]));
        cap->time_ns[i] = rec->time_ns;
        strscpy(cap->capability[i], sizeof(cap->capability[i]), rec->capability);
        strscpy(cap->operation[i], sizeof(cap->operation[i]), rec->operation);
        cap->pid[i] = rec->pid;
        cap->kind[i] = rec->kind;
        cap->sys_errno[i] = rec->sys_errno;
        snprintf(cap->code[i], sizeof(cap->code[i]), "%s", rec->code ? rec->code : "");
        strscpy(cap->message[i], sizeof(cap->message[i]), rec->message);
}

/*
 * The fixture of the record-format tests: a callback sink that copies what it gets into cap.
 * Each test is a process of its own, so these start empty.
 */
static capture cap;
static mc_audit *sink;

static void capture_start(void) {
        mc_error err = MC_ERROR_INIT;

        cr_assert(eq(int, mc_audit_open_callback(capture_cb, &cap, &sink, &err), 0), "%s",
                  err.message);
        cr_assert(not(eq(ptr, sink, NULL)));
}

static void capture_stop(void) {
        mc_audit_close(sink);
        for (int i = 0; i < cap.n; i++)
                json_decref(cap.json[i]);
}

/* Append @s to the @n bytes of @buf, after a ',' unless it is the first; @buf must hold it. */
static void join(char *buf, size_t size, size_t *n, bool first, const char *s) {
        int k = snprintf(buf + *n, size - *n, "%s%s", first ? "" : ",", s);

        cr_assert(gt(int, k, 0));
        *n += (size_t) k;
        cr_assert(lt(sz, *n, size));
}

/* Keys of a JSON object in their order in the text, joined by ','. */
static void keys_of(json_t *obj, char *buf, size_t size) {
        const char *key;
        json_t *v;
        size_t n = 0;

        buf[0] = 0;
        json_object_foreach(obj, key, v) join(buf, size, &n, n == 0, key);
}

static const char *jstr(json_t *obj, const char *key) {
        json_t *v = json_object_get(obj, key);

        cr_assert(is_type(JSON_STRING, v), "\"%s\" is not a string", key);
        return json_string_value(v);
}

static json_int_t jint(json_t *obj, const char *key) {
        json_t *v = json_object_get(obj, key);

        cr_assert(is_type(JSON_INTEGER, v), "\"%s\" is not an integer", key);
        return json_integer_value(v);
}

/* The elements of a JSON array of strings, joined by ','. */
static void jarray_str(json_t *arr, char *buf, size_t size) {
        size_t i, n = 0;
        json_t *v;

        cr_assert(is_type(JSON_ARRAY, arr));
        buf[0] = 0;
        json_array_foreach(arr, i, v) {
                cr_assert(is_type(JSON_STRING, v));
                join(buf, size, &n, i == 0, json_string_value(v));
        }
}

/* What @list (keys_of or jarray_str) joins of @json must be @expected. */
#define assert_joined(list, json, expected)                                                        \
        do {                                                                                       \
                char _joined[512];                                                                 \
                list((json), _joined, sizeof(_joined));                                            \
                cr_assert(eq(str, _joined, (char *) (expected)));                                  \
        } while (0)
#define assert_keys(obj, expected)  assert_joined(keys_of, obj, expected)
#define assert_array(arr, expected) assert_joined(jarray_str, arr, expected)

static void log_path(char *buf, size_t size) {
        snprintf(buf, size, "/tmp/memcap-test-audit-%d.log", (int) getpid());
        unlink(buf);
}

/* A file sink (no flags) on a fresh log_path() in @path, which the test unlinks. */
static mc_audit *open_log(char *path, size_t size) {
        mc_error err = MC_ERROR_INIT;
        mc_audit *a = NULL;

        log_path(path, size);
        cr_assert(eq(int, mc_audit_open_file(path, 0, &a, &err), 0), "%s: %s", path, err.message);
        return a;
}

/* The whole file (the support core's reader), which must be readable. */
static char *read_all(const char *path, size_t *ret_len) {
        char *data = mct_read_all(path, ret_len);

        cr_assert(not(eq(ptr, data, NULL)), "reading %s: %m", path);
        return data;
}

/*
 * Split @data into lines; every line must be a complete JSON object and the data must end with
 * a newline. Returns the parsed records (caller frees with free_lines()).
 */
static json_t **parse_lines(char *data, size_t len, size_t *ret_n) {
        json_t **recs = NULL;
        size_t n = 0;
        char *p = data, *end = data + len;

        if (len > 0)
                cr_assert(eq(chr, data[len - 1], '\n'), "the file does not end with a newline");
        while (p < end) {
                char *nl = memchr(p, '\n', (size_t) (end - p));
                json_error_t jerr;

                cr_assert(not(eq(ptr, nl, NULL)));
                *nl = 0;
                for (char *q = p; q < nl; q++)
                        cr_assert(ge(int, (unsigned char) *q, 0x20),
                                  "raw control byte 0x%02x in a record", (unsigned char) *q);
                recs = realloc(recs, (n + 1) * sizeof(*recs));
                cr_assert(not(eq(ptr, recs, NULL)));
                recs[n] = json_loads(p, JSON_REJECT_DUPLICATES, &jerr);
                cr_assert(not(eq(ptr, recs[n], NULL)), "line %zu does not parse (%s): %.200s",
                          n + 1, jerr.text, p);
                cr_assert(is_type(JSON_OBJECT, recs[n]));
                n++;
                p = nl + 1;
        }
        *ret_n = n;
        return recs;
}

static void free_lines(json_t **recs, size_t n) {
        for (size_t i = 0; i < n; i++)
                json_decref(recs[i]);
        free(recs);
}

static json_t **read_records(const char *path, size_t *ret_n) {
        size_t len;
        char *data = read_all(path, &len);
        json_t **recs = parse_lines(data, len, ret_n);

        free(data);
        return recs;
}

/* A successful anonymous mmap, as mc_mmap() would describe it. */
static void mmap_call(mc__call *c) {
        mc__call_init(c, MC_OP_MMAP, MC__CAP_MEMORY);
        c->fields = MC__F_LENGTH | MC__F_PROT | MC__F_FLAGS;
        c->req.length = 4096;
        c->req.prot = MC_PROT_READ_WRITE;
        c->req.flags = MC_MAP_PRIVATE | MC_MAP_ANONYMOUS;
        c->has_result = true;
        c->res_addr = (const void *) (uintptr_t) 0x7f3a2c000000;
        c->res_length = 4096;
}

/* ---- the record format ---------------------------------------------------------------------- */

Test(audit, ok_record_has_head_request_and_result_in_order, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;
        json_t *rec, *req, *res;

        mmap_call(&c);
        mc__audit_call(sink, 4242, &c, 0, NULL);
        cr_assert(eq(int, cap.n, 1));
        rec = cap.json[0];
        assert_keys(rec, "time,capability,operation,pid,outcome,request,result");
        cr_assert(eq(str, (char *) jstr(rec, "capability"), "core.memory"));
        cr_assert(eq(str, (char *) jstr(rec, "operation"), "mmap"));
        cr_assert(eq(i64, jint(rec, "pid"), 4242));
        cr_assert(eq(str, (char *) jstr(rec, "outcome"), "ok"));

        req = json_object_get(rec, "request");
        assert_keys(req, "length,protection,flags");
        cr_assert(eq(i64, jint(req, "length"), 4096));
        cr_assert(eq(str, (char *) jstr(req, "protection"), "ReadWrite"));
        assert_array(json_object_get(req, "flags"), "Private,Anonymous");

        res = json_object_get(rec, "result");
        assert_keys(res, "address,length");
        cr_assert(eq(str, (char *) jstr(res, "address"), "0x7f3a2c000000"));
        cr_assert(eq(i64, jint(res, "length"), 4096));

        /* The callback's own fields agree with the JSON. */
        cr_assert(eq(str, cap.capability[0], "core.memory"));
        cr_assert(eq(str, cap.operation[0], "mmap"));
        cr_assert(eq(int, cap.pid[0], 4242));
        cr_assert(eq(int, cap.kind[0], MC_OK));
        cr_assert(eq(str, cap.code[0], ""), "a success has no diagnostic code");
        cr_assert(eq(int, cap.sys_errno[0], 0));
        cr_assert(eq(str, cap.message[0], ""));
}

Test(audit, ok_record_without_result_has_neither_result_nor_error, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;

        mc__call_init(&c, MC_OP_MUNMAP, MC__CAP_MEMORY);
        c.fields = MC__F_ADDR | MC__F_LENGTH;
        c.req.addr = (const void *) (uintptr_t) 0x1000;
        c.req.length = 8192;
        mc__audit_call(sink, 1, &c, 0, NULL);
        cr_assert(eq(int, cap.n, 1));
        assert_keys(cap.json[0], "time,capability,operation,pid,outcome,request");
        assert_keys(json_object_get(cap.json[0], "request"), "address,length");
        cr_assert(eq(str, (char *) jstr(json_object_get(cap.json[0], "request"), "address"),
                     "0x1000"));

        /* A positive result counts as success too. */
        mc__audit_call(sink, 1, &c, 3, NULL);
        cr_assert(eq(str, (char *) jstr(cap.json[1], "outcome"), "ok"));
}

Test(audit, empty_field_set_gives_empty_request, .init = capture_start, .fini = capture_stop) {
        mc__call c;

        mc__call_init(&c, MC_OP_SIGNAL_UNMASK, MC__CAP_SIGNAL);
        /* Values without their MC__F_* bit must not be written. */
        c.req.length = 99;
        c.req.file = "/not/written";
        mc__audit_call(sink, 7, &c, 0, NULL);
        cr_assert(eq(int, cap.n, 1));
        cr_assert(eq(str, (char *) jstr(cap.json[0], "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(cap.json[0], "operation"), "signal_unmask"));
        assert_keys(json_object_get(cap.json[0], "request"), "");
        cr_assert(not(eq(ptr, strstr(cap.raw[0], "\"request\":{}"), NULL)));
}

Test(audit, every_request_field_in_order, .init = capture_start, .fini = capture_stop) {
        static const char *const custom[] = {"MAP_POPULATE", "NORESERVE"};
        mc__call c;
        json_t *req;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fields = MC__F_ADDR | MC__F_LENGTH | MC__F_PROT | MC__F_FLAGS | MC__F_FILE |
                   MC__F_OFFSET | MC__F_NAME | MC__F_ID | MC__F_ADVICE | MC__F_SYNC | MC__F_SIGNAL |
                   MC__F_TARGET | MC__F_NEW_LENGTH | MC__F_SEALS | MC__F_PAYLOAD | MC__F_TIMEOUT |
                   MC__F_FD;
        c.req.addr = (const void *) (uintptr_t) 0xdeadbeef000;
        c.req.length = 12288;
        c.req.new_length = 16384;
        c.req.prot = MC_PROT_READ_WRITE;
        c.req.flags =
                MC_MAP_PRIVATE | MC_MAP_SHARED | MC_MAP_ANONYMOUS | MC_MAP_FIXED | MC_MAP_HUGEPAGE;
        c.req.custom = custom;
        c.req.n_custom = 2;
        c.req.file = "data/../x.bin";
        c.req.resolved = "/srv/x.bin";
        c.req.offset = 65536;
        c.req.name = "/memcap-shm";
        c.req.id = 17;
        c.req.advice = "WILLNEED";
        c.req.sync = MC_SYNC_SYNC | MC_SYNC_ASYNC | MC_SYNC_INVALIDATE;
        c.req.seals =
                MC_SEAL_SHRINK | MC_SEAL_GROW | MC_SEAL_WRITE | MC_SEAL_FUTURE_WRITE | MC_SEAL_SEAL;
        c.req.signo = SIGUSR1;
        c.req.target = 31337;
        c.req.payload_kind = MC_PAYLOAD_USER_DATA;
        c.req.payload = (uint64_t) -5;
        c.req.timeout_ms = 250;
        c.req.fd = 9;
        mc__audit_call(sink, 1, &c, 0, NULL);
        cr_assert(eq(int, cap.n, 1));

        req = json_object_get(cap.json[0], "request");
        assert_keys(req, "address,length,new_length,protection,flags,file,resolved,offset,name,"
                         "mapping_id,advice,sync,seals,signal,target_pid,payload,timeout_ms,fd");
        cr_assert(eq(str, (char *) jstr(req, "address"), "0xdeadbeef000"));
        cr_assert(eq(i64, jint(req, "length"), 12288));
        cr_assert(eq(i64, jint(req, "new_length"), 16384));
        cr_assert(eq(str, (char *) jstr(req, "protection"), "ReadWrite"));
        assert_array(json_object_get(req, "flags"), "Private,Shared,Anonymous,Fixed,HugePage,"
                                                    "Custom(MAP_POPULATE),Custom(NORESERVE)");
        cr_assert(eq(str, (char *) jstr(req, "file"), "data/../x.bin"));
        cr_assert(eq(str, (char *) jstr(req, "resolved"), "/srv/x.bin"));
        cr_assert(eq(i64, jint(req, "offset"), 65536));
        cr_assert(eq(str, (char *) jstr(req, "name"), "/memcap-shm"));
        cr_assert(eq(i64, jint(req, "mapping_id"), 17));
        cr_assert(eq(str, (char *) jstr(req, "advice"), "WILLNEED"));
        assert_array(json_object_get(req, "sync"), "SYNC,ASYNC,INVALIDATE");
        assert_array(json_object_get(req, "seals"), "SHRINK,GROW,WRITE,FUTURE_WRITE,SEAL");
        cr_assert(eq(str, (char *) jstr(req, "signal"), "SIGUSR1"));
        cr_assert(eq(i64, jint(req, "target_pid"), 31337));
        cr_assert(eq(str, (char *) jstr(json_object_get(req, "payload"), "kind"), "UserData"));
        cr_assert(eq(i64, jint(json_object_get(req, "payload"), "value"), -5));
        cr_assert(eq(i64, jint(req, "timeout_ms"), 250));
        cr_assert(eq(i64, jint(req, "fd"), 9));
}

Test(audit, resolved_path_only_when_it_differs, .init = capture_start, .fini = capture_stop) {
        mc__call c;

        mc__call_init(&c, MC_OP_MMAP, MC__CAP_MEMORY);
        c.fields = MC__F_FILE;
        c.req.file = "/srv/x.bin";
        mc__audit_call(sink, 1, &c, 0, NULL); /* no resolved path */
        c.req.resolved = "/srv/x.bin";
        mc__audit_call(sink, 1, &c, 0, NULL); /* the same */
        c.req.resolved = "/srv/real.bin";
        mc__audit_call(sink, 1, &c, 0, NULL);
        cr_assert(eq(int, cap.n, 3));
        assert_keys(json_object_get(cap.json[0], "request"), "file");
        assert_keys(json_object_get(cap.json[1], "request"), "file");
        assert_keys(json_object_get(cap.json[2], "request"), "file,resolved");
        cr_assert(eq(str, (char *) jstr(json_object_get(cap.json[2], "request"), "resolved"),
                     "/srv/real.bin"));
}

Test(audit, empty_sets_and_unknown_bits, .init = capture_start, .fini = capture_stop) {
        mc__call c;
        json_t *req;

        mc__call_init(&c, MC_OP_MSYNC, MC__CAP_MEMORY);
        c.fields = MC__F_FLAGS | MC__F_SYNC | MC__F_SEALS;
        /* mc__call_init() leaves the values to the caller: the empty sets are set here. */
        c.req.flags = 0;
        c.req.sync = 0;
        c.req.seals = 0;
        mc__audit_call(sink, 1, &c, 0, NULL);
        req = json_object_get(cap.json[0], "request");
        assert_array(json_object_get(req, "flags"), "");
        assert_array(json_object_get(req, "sync"), "");
        assert_array(json_object_get(req, "seals"), "");

        /* A malformed request is audited as given: bits without a name are not dropped. */
        c.req.flags = MC_MAP_SHARED | (1u << 9);
        c.req.sync = MC_SYNC_ASYNC | (1u << 7);
        c.req.seals = 1u << 30;
        mc__audit_call(sink, 1, &c, -EINVAL, NULL);
        req = json_object_get(cap.json[1], "request");
        assert_array(json_object_get(req, "flags"), "Shared,Unknown(0x200)");
        assert_array(json_object_get(req, "sync"), "ASYNC,Unknown(0x80)");
        assert_array(json_object_get(req, "seals"), "Unknown(0x40000000)");
}

Test(audit, signal_without_a_name_is_written_as_its_number, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;
        json_t *req;

        mc__call_init(&c, MC_OP_SIGNAL_SEND, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL;
        c.req.signo = 4000;
        mc__audit_call(sink, 1, &c, -EINVAL, NULL);
        c.req.signo = SIGRTMIN + 2;
        mc__audit_call(sink, 1, &c, 0, NULL);
        cr_assert(eq(int, cap.n, 2));
        req = json_object_get(cap.json[0], "request");
        cr_assert(eq(i64, jint(req, "signal"), 4000));
        req = json_object_get(cap.json[1], "request");
        cr_assert(eq(str, (char *) jstr(req, "signal"), "SIGRTMIN+2"));
}

Test(audit, extreme_numbers_survive_a_signed_64_bit_reader, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;
        json_t *req;

        mc__call_init(&c, MC_OP_MADVISE, MC__CAP_MEMORY);
        c.fields = MC__F_ADDR | MC__F_LENGTH | MC__F_OFFSET | MC__F_ID | MC__F_PAYLOAD |
                   MC__F_TIMEOUT | MC__F_FD | MC__F_TARGET;
        c.req.addr = (const void *) UINTPTR_MAX;
        c.req.length = MC_LENGTH_ALL;
        c.req.offset = (uint64_t) INT64_MAX;
        c.req.id = UINT64_MAX;
        c.req.payload_kind = MC_PAYLOAD_REAL_TIME;
        c.req.payload = UINT64_MAX;
        c.req.timeout_ms = -1;
        c.req.target = -1;
        c.has_result = true;
        c.res_addr = NULL;
        c.res_length = 0;
        mc__audit_call(sink, 1, &c, 0, NULL);
        cr_assert(eq(int, cap.n, 1));
        req = json_object_get(cap.json[0], "request");
        cr_assert(eq(str, (char *) jstr(req, "address"), "0xffffffffffffffff"));
        /* Above INT64_MAX an unsigned value is a string of digits, still exact. */
        cr_assert(eq(str, (char *) jstr(req, "length"), "18446744073709551615"));
        cr_assert(eq(i64, jint(req, "offset"), INT64_MAX));
        cr_assert(eq(str, (char *) jstr(req, "mapping_id"), "18446744073709551615"));
        cr_assert(eq(str, (char *) jstr(json_object_get(req, "payload"), "value"),
                     "18446744073709551615"));
        cr_assert(eq(i64, jint(req, "timeout_ms"), -1));
        cr_assert(eq(i64, jint(req, "target_pid"), -1));
        cr_assert(eq(i64, jint(req, "fd"), -1));
        cr_assert(eq(str, (char *) jstr(json_object_get(cap.json[0], "result"), "address"), "0x0"));
        cr_assert(eq(i64, jint(json_object_get(cap.json[0], "result"), "length"), 0));
}

/* ---- outcomes ------------------------------------------------------------------------------- */

Test(audit, denied_record_carries_the_policy_error, .init = capture_start, .fini = capture_stop) {
        mc__call c;
        mc_error e = MC_ERROR_INIT;
        json_t *rec, *err;
        int r;

        mc__call_init(&c, MC_OP_MPROTECT, MC__CAP_MEMORY);
        c.fields = MC__F_ADDR | MC__F_LENGTH | MC__F_PROT;
        c.req.addr = (const void *) (uintptr_t) 0x7f3a2c000000;
        c.req.length = 4096;
        c.req.prot = MC_PROT_READ_WRITE_EXECUTE;
        c.denied = true;
        c.has_result = true; /* ignored on failure */
        r = mc__error_set(&e, MC_ERR_POLICY_VIOLATION, EPERM,
                          "mprotect 0x7f3a2c000000 (4096 bytes) denied by rule allow_write_exec");
        mc__audit_call(sink, 99, &c, r, &e);
        cr_assert(eq(int, cap.n, 1));
        rec = cap.json[0];
        assert_keys(rec, "time,capability,operation,pid,outcome,request,error");
        cr_assert(eq(str, (char *) jstr(rec, "operation"), "mprotect"));
        cr_assert(eq(str, (char *) jstr(rec, "outcome"), "denied"));
        err = json_object_get(rec, "error");
        assert_keys(err, "kind,code,errno,message");
        cr_assert(eq(str, (char *) jstr(err, "kind"), "PolicyViolation"));
        cr_assert(eq(str, (char *) jstr(err, "code"), "core.memory.PolicyViolation"));
        cr_assert(eq(i64, jint(err, "errno"), EPERM));
        cr_assert(eq(str, (char *) jstr(err, "message"), e.message));

        cr_assert(eq(int, cap.kind[0], MC_ERR_POLICY_VIOLATION));
        cr_assert(eq(str, cap.code[0], "core.memory.PolicyViolation"));
        cr_assert(eq(int, cap.sys_errno[0], EPERM));
        cr_assert(eq(str, cap.message[0], e.message));
}

Test(audit, error_record_with_and_without_error_detail, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;
        mc_error e = MC_ERROR_INIT;
        json_t *err;
        int r;

        mmap_call(&c);
        r = mc__error_errno(&e, ENOMEM, "mmap %zu bytes", (size_t) 4096);
        mc__audit_call(sink, 1, &c, r, &e);
        mc__audit_call(sink, 1, &c, -ENOENT, NULL);
        /* An mc_error nobody filled must not turn a failure into kind "Ok". */
        mc__audit_call(sink, 1, &c, -EACCES, &(mc_error) MC_ERROR_INIT);
        cr_assert(eq(int, cap.n, 3));

        cr_assert(eq(str, (char *) jstr(cap.json[0], "outcome"), "error"));
        cr_assert(eq(ptr, json_object_get(cap.json[0], "result"), NULL));
        err = json_object_get(cap.json[0], "error");
        cr_assert(eq(str, (char *) jstr(err, "kind"), "OutOfMemory"));
        cr_assert(eq(i64, jint(err, "errno"), ENOMEM));
        cr_assert(
                eq(str, (char *) jstr(err, "message"), "mmap 4096 bytes: Cannot allocate memory"));

        cr_assert(eq(str, (char *) jstr(cap.json[1], "outcome"), "error"));
        err = json_object_get(cap.json[1], "error");
        cr_assert(eq(str, (char *) jstr(err, "kind"), "NotFound"));
        cr_assert(eq(i64, jint(err, "errno"), ENOENT));
        cr_assert(eq(str, (char *) jstr(err, "message"), ""));
        cr_assert(eq(int, cap.kind[1], MC_ERR_NOT_FOUND));
        cr_assert(eq(int, cap.sys_errno[1], ENOENT));
        cr_assert(eq(str, cap.message[1], ""));

        err = json_object_get(cap.json[2], "error");
        cr_assert(eq(str, (char *) jstr(err, "kind"), "PermissionDenied"));
        cr_assert(eq(str, (char *) jstr(err, "code"), "core.memory.PermissionDenied"));
        cr_assert(eq(i64, jint(err, "errno"), EACCES));
}

Test(audit, error_code_names_the_capability_of_the_operation, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;
        mc_error e = MC_ERROR_INIT;
        int r;

        mc__call_init(&c, MC_OP_SIGNAL_SEND, MC__CAP_SIGNAL);
        c.fields = MC__F_SIGNAL | MC__F_TARGET;
        c.req.signo = SIGUSR1;
        c.req.target = 1;
        c.denied = true;
        r = mc__error_set(&e, MC_ERR_POLICY_VIOLATION, EPERM, "signal_send denied");
        mc__audit_call(sink, 7, &c, r, &e);
        mc__call_init(&c, MC_OP_SIGNAL_WAIT, MC__CAP_SIGNAL);
        r = mc__error_set(&e, MC_ERR_TIMED_OUT, ETIMEDOUT, "signal_wait: no signal");
        mc__audit_call(sink, 7, &c, r, &e);
        cr_assert(eq(int, cap.n, 2));
        cr_assert(eq(str, (char *) jstr(json_object_get(cap.json[0], "error"), "code"),
                     "core.signal.PolicyViolation"));
        cr_assert(eq(str, cap.code[0], "core.signal.PolicyViolation"));
        cr_assert(eq(str, (char *) jstr(json_object_get(cap.json[1], "error"), "code"),
                     "core.signal.TimedOut"));
}

Test(audit, unterminated_error_message_is_not_overread, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;
        mc_error e;

        mmap_call(&c);
        e.kind = MC_ERR_IO;
        e.sys_errno = EIO;
        memset(e.message, 'm', sizeof(e.message)); /* no NUL anywhere */
        mc__audit_call(sink, 1, &c, -EIO, &e);
        cr_assert(eq(int, cap.n, 1));
        cr_assert(eq(sz, strlen(jstr(json_object_get(cap.json[0], "error"), "message")),
                     (size_t) MC_ERROR_MESSAGE_MAX));
}

Test(audit, time_is_rfc3339_utc_with_microseconds_and_matches_time_ns, .init = capture_start,
     .fini = capture_stop) {
        mc__call c;
        regex_t re;
        struct timespec before, after;
        struct tm tm;
        char expect[64];
        const char *t;
        time_t sec;

        mmap_call(&c);
        cr_assert(eq(int, clock_gettime(CLOCK_REALTIME, &before), 0));
        mc__audit_call(sink, 1, &c, 0, NULL);
        cr_assert(eq(int, clock_gettime(CLOCK_REALTIME, &after), 0));
        cr_assert(eq(int, cap.n, 1));
        t = jstr(cap.json[0], "time");

        cr_assert(eq(int,
                     regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                             "\\.[0-9]{6}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0));
        cr_assert(eq(int, regexec(&re, t, 0, NULL, 0), 0), "bad time stamp \"%s\"", t);
        regfree(&re);

        /* The stamp is the callback's time_ns, within the call. */
        cr_assert(ge(i64, cap.time_ns[0], (int64_t) before.tv_sec * 1000000000 + before.tv_nsec));
        cr_assert(le(i64, cap.time_ns[0], (int64_t) after.tv_sec * 1000000000 + after.tv_nsec));
        sec = (time_t) (cap.time_ns[0] / 1000000000);
        cr_assert(not(eq(ptr, gmtime_r(&sec, &tm), NULL)));
        strftime(expect, sizeof(expect), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect), ".%06dZ",
                 (int) (cap.time_ns[0] % 1000000000 / 1000));
        cr_assert(eq(str, (char *) t, expect));
}

Test(audit, errno_is_preserved, .init = capture_start, .fini = capture_stop) {
        mc__call c;

        mmap_call(&c);
        errno = EXDEV;
        mc__audit_call(sink, 1, &c, -ENOENT, NULL);
        cr_assert(eq(int, errno, EXDEV));
        errno = EXDEV;
        mc__audit_event(sink, 1, "core.signal", "x", NULL, NULL);
        cr_assert(eq(int, errno, EXDEV));
}

Test(audit, null_sink_and_null_close_are_harmless) {
        mc__call c;

        mmap_call(&c);
        mc__audit_call(NULL, 1, &c, 0, NULL);
        mc__audit_event(NULL, 1, "core.signal", "x", "{}", NULL);
        cr_assert(eq(u64, mc__audit_dropped(NULL), 0));
        mc_audit_close(NULL);
}

/* ---- application events --------------------------------------------------------------------- */

Test(audit, event_with_fields_and_without, .init = capture_start, .fini = capture_stop) {
        json_t *ev;

        mc__audit_event(sink, 555, "core.signal", "signal.shutdown",
                        "{\"signal\":\"SIGTERM\",\"n\":[1,2,{\"x\":null}]}", NULL);
        mc__audit_event(sink, 555, "core.memory", "app.note", NULL, NULL);
        /* Valid JSON may span lines; the record may not. */
        mc__audit_event(sink, 555, "core.memory", "app.multiline",
                        "{\n  \"a\": 1,\r\n\t\"b\": \"c\"\n}", NULL);
        cr_assert(eq(int, cap.n, 3));

        assert_keys(cap.json[0], "time,capability,operation,pid,outcome,event");
        cr_assert(eq(str, (char *) jstr(cap.json[0], "capability"), "core.signal"));
        cr_assert(eq(str, (char *) jstr(cap.json[0], "operation"), "signal.shutdown"));
        cr_assert(eq(i64, jint(cap.json[0], "pid"), 555));
        cr_assert(eq(str, (char *) jstr(cap.json[0], "outcome"), "ok"));
        ev = json_object_get(cap.json[0], "event");
        assert_keys(ev, "signal,n");
        cr_assert(eq(str, (char *) jstr(ev, "signal"), "SIGTERM"));
        cr_assert(eq(sz, json_array_size(json_object_get(ev, "n")), 3));
        cr_assert(not(eq(ptr,
                         strstr(cap.raw[0], "\"event\":{\"signal\":\"SIGTERM\","
                                            "\"n\":[1,2,{\"x\":null}]}}"),
                         NULL)),
                  "fields not inserted verbatim: %s", cap.raw[0]);
        cr_assert(eq(str, cap.operation[0], "signal.shutdown"));
        cr_assert(eq(int, cap.kind[0], MC_OK));

        cr_assert(eq(str, (char *) jstr(cap.json[1], "operation"), "app.note"));
        ev = json_object_get(cap.json[1], "event");
        cr_assert(is_type(JSON_OBJECT, ev));
        cr_assert(eq(sz, json_object_size(ev), 0));

        ev = json_object_get(cap.json[2], "event");
        cr_assert(eq(i64, jint(ev, "a"), 1));
        cr_assert(eq(str, (char *) jstr(ev, "b"), "c"));
}

/* ---- hostile strings ------------------------------------------------------------------------ */

/* An input and what a JSON reader must get back for it. */
static const struct {
        const char *in;
        const char *out;
} hostile[] = {
        {"line\nbreak\r\n", "line\nbreak\r\n"},
        {"quote\"back\\slash\\\"", "quote\"back\\slash\\\""},
        {"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15"
         "\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f",
         "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15"
         "\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"},
        /* Valid UTF-8 stays as it is: 2, 3 and 4 byte sequences, U+2028, U+10FFFF. */
        {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xe2\x80\xa8 \xf4\x8f\xbf\xbf",
         "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xe2\x80\xa8 \xf4\x8f\xbf\xbf"},
        /* Invalid UTF-8: every byte comes back as the code point of its value (U+00XX). */
        {"\xff\xfe", "\xc3\xbf\xc3\xbe"},
        {"overlong \xc0\xaf", "overlong \xc3\x80\xc2\xaf"},
        {"surrogate \xed\xa0\x80", "surrogate \xc3\xad\xc2\xa0\xc2\x80"},
        {"cut \xe2\x82", "cut \xc3\xa2\xc2\x82"},
        {"cut at end \xf0\x9d\x84", "cut at end \xc3\xb0\xc2\x9d\xc2\x84"},
        {"above max \xf4\x90\x80\x80", "above max \xc3\xb4\xc2\x90\xc2\x80\xc2\x80"},
        {"lone continuation \x80x", "lone continuation \xc2\x80x"},
        {"overlong3 \xe0\x80\xaf", "overlong3 \xc3\xa0\xc2\x80\xc2\xaf"},
        {"overlong4 \xf0\x80\x80\xaf", "overlong4 \xc3\xb0\xc2\x80\xc2\x80\xc2\xaf"},
        /* Escapes at every offset of an 8-byte word (the fast path scans words). */
        {"abcdefg\"hijklmn\\opqrstu\x1fvwxyz01\x7f"
         "23456789\xc3\xa9"
         "ABCDEFGHIJ\xffKLMNOPQ\n",
         "abcdefg\"hijklmn\\opqrstu\x1fvwxyz01\x7f"
         "23456789\xc3\xa9"
         "ABCDEFGHIJ\xc3\xbfKLMNOPQ\n"},
        {"}\"],\n{\"outcome\":\"ok\"}", "}\"],\n{\"outcome\":\"ok\"}"},
        {"", ""},
};

static void check_hostile_record(json_t *rec, const char *out) {
        json_t *req = json_object_get(rec, "request"), *flags;
        char custom[4200];

        cr_assert(eq(str, (char *) jstr(req, "file"), (char *) out));
        cr_assert(eq(str, (char *) jstr(req, "name"), (char *) out));
        cr_assert(eq(str, (char *) jstr(req, "advice"), (char *) out));
        cr_assert(eq(str, (char *) jstr(json_object_get(rec, "error"), "message"), (char *) out));
        flags = json_object_get(req, "flags");
        cr_assert(eq(sz, json_array_size(flags), 1));
        snprintf(custom, sizeof(custom), "Custom(%s)", out);
        cr_assert(eq(str, (char *) json_string_value(json_array_get(flags, 0)), custom));
}

static void hostile_call(mc__call *c, const char *const *custom, const char *s, mc_error *e) {
        mc__call_init(c, MC_OP_MMAP, MC__CAP_MEMORY);
        c->fields = MC__F_FILE | MC__F_NAME | MC__F_ADVICE | MC__F_FLAGS;
        c->req.file = s;
        c->req.name = s;
        c->req.advice = s;
        c->req.flags = 0;
        c->req.custom = custom;
        c->req.n_custom = 1;
        e->kind = MC_ERR_INVALID_ARGUMENT;
        e->sys_errno = EINVAL;
        strscpy(e->message, sizeof(e->message), s);
}

Test(audit, hostile_strings_give_one_valid_line_each) {
        char path[256];
        mc_audit *a = NULL;
        json_t **recs;
        size_t n;

        a = open_log(path, sizeof(path));
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                const char *custom[] = {hostile[i].in};
                mc__call c;
                mc_error e;

                hostile_call(&c, custom, hostile[i].in, &e);
                mc__audit_call(a, 1, &c, -EINVAL, &e);
        }
        mc_audit_close(a);

        recs = read_records(path, &n);
        cr_assert(eq(sz, n, ELEMENTSOF(hostile)));
        for (size_t i = 0; i < n; i++)
                check_hostile_record(recs[i], hostile[i].out);
        free_lines(recs, n);
        unlink(path);
}

Test(audit, hostile_names_in_events_and_capabilities, .init = capture_start, .fini = capture_stop) {
        mc__audit_event(sink, 1, "core.\n\"x\xff", "ev\\\x01\xc0", "{\"k\":\"v\\n\"}", NULL);
        cr_assert(eq(int, cap.n, 1));
        cr_assert(eq(str, (char *) jstr(cap.json[0], "capability"), "core.\n\"x\xc3\xbf"));
        cr_assert(eq(str, (char *) jstr(cap.json[0], "operation"), "ev\\\x01\xc3\x80"));
        cr_assert(eq(str, (char *) jstr(json_object_get(cap.json[0], "event"), "k"), "v\n"));
}

Test(audit, a_4000_byte_path_is_written_whole) {
        char path[256], *file;
        const char *custom[1];
        mc_audit *a = NULL;
        mc_error e;
        mc__call c;
        json_t **recs;
        size_t n;

        file = malloc(4001);
        cr_assert(not(eq(ptr, file, NULL)));
        for (size_t i = 0; i < 4000; i++)
                file[i] = (char) (i % 97 == 0   ? '\n'
                                  : i % 89 == 0 ? '"'
                                  : i % 83 == 0 ? '\xff'
                                                : 'a' + (int) (i % 26));
        file[4000] = 0;
        custom[0] = file;

        a = open_log(path, sizeof(path));
        hostile_call(&c, custom, file, &e);
        c.fields = MC__F_FILE | MC__F_FLAGS; /* four copies would be a 16 KiB record */
        mc__audit_call(a, 1, &c, 0, NULL);
        c.fields |= MC__F_NAME | MC__F_ADVICE;
        mc__audit_call(a, 1, &c, -EINVAL, &e);
        mc_audit_close(a);

        recs = read_records(path, &n);
        cr_assert(eq(sz, n, 2));
        for (size_t i = 0; i < n; i++) {
                const char *got = jstr(json_object_get(recs[i], "request"), "file");
                size_t invalid = 0;

                for (size_t k = 0; k < 4000; k++)
                        invalid += file[k] == '\xff';
                cr_assert(gt(sz, invalid, 0));
                /* Each invalid byte comes back as U+00FF, two bytes of UTF-8. */
                cr_assert(eq(sz, strlen(got), 4000 + invalid));
                for (size_t k = 0, j = 0; k < 4000; k++) {
                        if (file[k] == '\xff') {
                                cr_assert(eq(int, memcmp(got + j, "\xc3\xbf", 2), 0));
                                j += 2;
                        } else
                                cr_assert(eq(chr, got[j++], file[k]));
                }
        }
        free_lines(recs, n);
        free(file);
        unlink(path);
}

/* ---- the file sink -------------------------------------------------------------------------- */

Test(audit, file_sink_appends_and_never_truncates) {
        char path[256], *data;
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc__call c;
        size_t len, n;
        json_t **recs;
        FILE *f;

        log_path(path, sizeof(path));
        f = fopen(path, "we");
        cr_assert(not(eq(ptr, f, NULL)));
        fputs("{\"earlier\":1}\n", f);
        fclose(f);

        mmap_call(&c);
        for (int round = 0; round < 2; round++) {
                cr_assert(eq(int, mc_audit_open_file(path, 0, &a, &err), 0), "%s", err.message);
                mc__audit_call(a, 1, &c, 0, NULL);
                mc_audit_close(a);
        }

        data = read_all(path, &len);
        cr_assert(eq(int, strncmp(data, "{\"earlier\":1}\n", 14), 0));
        recs = parse_lines(data, len, &n);
        cr_assert(eq(sz, n, 3));
        cr_assert(eq(str, (char *) jstr(recs[1], "operation"), "mmap"));
        cr_assert(eq(str, (char *) jstr(recs[2], "operation"), "mmap"));
        free_lines(recs, n);
        free(data);
        unlink(path);
}

Test(audit, file_sink_creates_mode_0600_with_cloexec) {
        char path[256];
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        struct stat st;

        log_path(path, sizeof(path));
        umask(022);
        cr_assert(eq(int, mc_audit_open_file(path, 0, &a, &err), 0), "%s", err.message);
        cr_assert(eq(int, stat(path, &st), 0));
        cr_assert(eq(int, st.st_mode &S_IFMT, S_IFREG));
        cr_assert(eq(int, st.st_mode & 07777, 0600));
        cr_assert(eq(int, st.st_size, 0));
        mc_audit_close(a);
        unlink(path);
}

/* The flags of the open() the sink made. */
static int seen_open_flags;
static mode_t seen_open_mode;
static int spy_open(const char *path, int flags, mode_t mode) {
        seen_open_flags = flags;
        seen_open_mode = mode;
        return open(path, flags, mode);
}

Test(audit, file_sink_open_flags) {
        char path[256];
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;

        log_path(path, sizeof(path));
        mc_sys.open = spy_open;
        cr_assert(eq(int, mc_audit_open_file(path, 0, &a, &err), 0), "%s", err.message);
        cr_assert(eq(int, seen_open_flags, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY));
        cr_assert(eq(int, (int) seen_open_mode, 0600));
        mc_audit_close(a);
        unlink(path);
}

static int write_calls;
static ssize_t counting_write(int fd, const void *buf, size_t len) {
        write_calls++;
        return write(fd, buf, len);
}

Test(audit, one_write_per_record_even_when_long) {
        char path[256], *file;
        mc_audit *a = NULL;
        mc__call c;
        json_t **recs;
        size_t n;

        file = malloc(10000);
        cr_assert(not(eq(ptr, file, NULL)));
        memset(file, 'p', 9999);
        file[9999] = 0;

        a = open_log(path, sizeof(path));
        mc_sys.write = counting_write;
        mmap_call(&c);
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(int, write_calls, 1));
        c.fields |= MC__F_FILE;
        c.req.file = file;
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(int, write_calls, 2));
        mc__audit_event(a, 1, "core.memory", "e", NULL, NULL);
        cr_assert(eq(int, write_calls, 3));
        cr_assert(eq(u64, mc__audit_dropped(a), 0));
        mc_audit_close(a);

        recs = read_records(path, &n);
        cr_assert(eq(sz, n, 3));
        cr_assert(eq(str, (char *) jstr(json_object_get(recs[1], "request"), "file"), file));
        free_lines(recs, n);
        free(file);
        unlink(path);
}

static int fdatasync_calls;
static int fdatasync_errno;
static int counting_fdatasync(int fd) {
        fdatasync_calls++;
        if (fdatasync_errno) {
                errno = fdatasync_errno;
                return -1;
        }
        return fdatasync(fd);
}

Test(audit, fsync_flag_syncs_every_record) {
        char path[256];
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc__call c;

        log_path(path, sizeof(path));
        mc_sys.fdatasync = counting_fdatasync;
        mmap_call(&c);

        cr_assert(eq(int, mc_audit_open_file(path, 0, &a, &err), 0), "%s", err.message);
        mc__audit_call(a, 1, &c, 0, NULL);
        mc_audit_close(a);
        cr_assert(eq(int, fdatasync_calls, 0));

        cr_assert(eq(int, mc_audit_open_file(path, MC_AUDIT_FSYNC, &a, &err), 0), "%s",
                  err.message);
        mc__audit_call(a, 1, &c, 0, NULL);
        mc__audit_call(a, 1, &c, -EPERM, NULL);
        mc__audit_event(a, 1, "core.memory", "e", NULL, NULL);
        cr_assert(eq(int, fdatasync_calls, 3));
        cr_assert(eq(u64, mc__audit_dropped(a), 0));

        /* A record that could not be made durable counts as lost. */
        fdatasync_errno = EIO;
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(int, fdatasync_calls, 4));
        cr_assert(eq(u64, mc__audit_dropped(a), 1));
        mc_audit_close(a);
        unlink(path);
}

static int write_errno;
static ssize_t failing_write(int fd, const void *buf, size_t len) {
        (void) fd;
        (void) buf;
        (void) len;
        write_calls++;
        errno = write_errno;
        return -1;
}

Test(audit, failing_write_counts_dropped_records) {
        char path[256];
        mc_audit *a = NULL;
        mc__call c;
        struct stat st;

        a = open_log(path, sizeof(path));
        mmap_call(&c);
        mc_sys.write = failing_write;
        write_errno = EIO;
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(u64, mc__audit_dropped(a), 1));
        write_errno = ENOSPC;
        mc__audit_call(a, 1, &c, -ENOMEM, NULL);
        mc__audit_event(a, 1, "core.memory", "e", "{}", NULL);
        cr_assert(eq(u64, mc__audit_dropped(a), 3));
        cr_assert(eq(int, write_calls, 3)); /* no retry loop on real errors */

        /* The sink keeps working once writes succeed again. */
        mc_sys.write = write;
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(u64, mc__audit_dropped(a), 3));
        cr_assert(eq(int, stat(path, &st), 0));
        cr_assert(gt(i64, (int64_t) st.st_size, 0));
        mc_audit_close(a);
        unlink(path);
}

static int eintr_left;
static ssize_t eintr_write(int fd, const void *buf, size_t len) {
        write_calls++;
        if (eintr_left > 0) {
                eintr_left--;
                errno = EINTR;
                return -1;
        }
        return write(fd, buf, len);
}

Test(audit, write_interrupted_by_a_signal_is_retried) {
        char path[256];
        mc_audit *a = NULL;
        mc__call c;
        json_t **recs;
        size_t n;

        a = open_log(path, sizeof(path));
        mmap_call(&c);
        mc_sys.write = eintr_write;
        eintr_left = 2;
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(int, write_calls, 3));
        cr_assert(eq(u64, mc__audit_dropped(a), 0));
        mc_audit_close(a);

        recs = read_records(path, &n);
        cr_assert(eq(sz, n, 1));
        free_lines(recs, n);
        unlink(path);
}

static ssize_t short_write(int fd, const void *buf, size_t len) {
        write_calls++;
        if (len > 1)
                len /= 2;
        return write(fd, buf, len);
}

Test(audit, short_write_counts_dropped_and_later_records_still_parse) {
        char path[256], *data, *nl;
        mc_audit *a = NULL;
        mc__call c;
        json_t **recs;
        size_t len, n;

        a = open_log(path, sizeof(path));
        mmap_call(&c);
        mc_sys.write = short_write;
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(u64, mc__audit_dropped(a), 1));
        mc_sys.write = write;
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(u64, mc__audit_dropped(a), 1));
        mc_audit_close(a);

        /* The fragment sits on a line of its own; the next record is whole. */
        data = read_all(path, &len);
        nl = memchr(data, '\n', len);
        cr_assert(not(eq(ptr, nl, NULL)));
        recs = parse_lines(nl + 1, len - (size_t) (nl + 1 - data), &n);
        cr_assert(eq(sz, n, 1));
        free_lines(recs, n);
        free(data);
        unlink(path);
}

/*
 * Opening @path as a file sink fails with @errnum, of @kind, with no handle and the message
 * "open audit log '<path>': @reason".
 */
static void open_file_fails(const char *path, int errnum, mc_error_kind kind, const char *reason) {
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        char expect[512];

        cr_assert(eq(int, mc_audit_open_file(path, 0, &a, &err), -errnum));
        cr_assert(eq(ptr, a, NULL));
        cr_assert(eq(int, err.kind, kind));
        cr_assert(eq(int, err.sys_errno, errnum));
        snprintf(expect, sizeof(expect), "open audit log '%s': %s", path, reason);
        cr_assert(eq(str, err.message, expect));
}

Test(audit, open_file_errors_name_the_path) {
        char path[256];
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;

        /* A real missing directory. */
        snprintf(path, sizeof(path), "/tmp/memcap-test-audit-%d-nodir/x.log", (int) getpid());
        open_file_fails(path, ENOENT, MC_ERR_NOT_FOUND, "No such file or directory");

        /* Forced failures through the seam. */
        log_path(path, sizeof(path));
        mc_sys.open = failing_open;
        failing_errno = EACCES;
        open_file_fails(path, EACCES, MC_ERR_PERMISSION_DENIED, "Permission denied");

        failing_errno = ENOENT;
        cr_assert(eq(int, mc_audit_open_file(path, MC_AUDIT_FSYNC, &a, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(not(eq(ptr, strstr(err.message, path), NULL)));

        /* err may be NULL. */
        cr_assert(eq(int, mc_audit_open_file(path, 0, &a, NULL), -ENOENT));
        cr_assert(eq(ptr, a, NULL));
}

/* ---- argument checks ------------------------------------------------------------------------ */

static void expect_invalid(int r, const mc_error *err) {
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int, err->kind, MC_ERR_INVALID_ARGUMENT), "kind %s: %s",
                  mc_error_kind_name(err->kind), err->message);
        cr_assert(gt(sz, strlen(err->message), 0));
}

Test(audit, bad_arguments_are_invalid_argument) {
        mc_audit *a = NULL;
        mc_error err;
        int fds[2];

        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_file(NULL, 0, &a, &err), &err);
        cr_assert(eq(int, err.sys_errno, EINVAL));
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_file("", 0, &a, &err), &err);
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_file("/tmp/x", 1u << 5, &a, &err), &err);
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_file("/tmp/x", 0, NULL, &err), &err);

        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_fd(-1, 0, &a, &err), &err);
        cr_assert(eq(int, pipe2(fds, O_CLOEXEC), 0));
        close(fds[0]);
        close(fds[1]);
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_fd(fds[1], 0, &a, &err), &err); /* closed: EBADF */
        cr_assert(eq(int, err.sys_errno, EBADF));
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_fd(STDERR_FILENO, 0x80, &a, &err), &err);
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_fd(STDERR_FILENO, 0, NULL, &err), &err);

        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_callback(NULL, NULL, &a, &err), &err);
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_callback(capture_cb, NULL, NULL, &err), &err);

        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_syslog("x", 12345, &a, &err), &err);
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_syslog("x", LOG_DAEMON | LOG_ERR, &a, &err), &err);
        err = (mc_error) MC_ERROR_INIT;
        expect_invalid(mc_audit_open_syslog("x", LOG_USER, NULL, &err), &err);

        /* Nothing was opened and nothing leaked; NULL err is fine too. */
        cr_assert(eq(ptr, a, NULL));
        cr_assert(eq(int, mc_audit_open_file(NULL, 0, &a, NULL), -EINVAL));
        cr_assert(eq(int, mc_audit_open_callback(NULL, NULL, &a, NULL), -EINVAL));
        cr_assert(eq(ptr, a, NULL));
}

/* ---- the fd sink ---------------------------------------------------------------------------- */

Test(audit, fd_sink_writes_to_a_pipe_and_owns_a_duplicate) {
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc__call c;
        int fds[2], flags, probe;
        struct stat st, pipe_st;
        char buf[8192];
        ssize_t k;
        json_t **recs;
        size_t n;

        cr_assert(eq(int, pipe2(fds, O_CLOEXEC), 0));
        cr_assert(eq(int, mc_audit_open_fd(fds[1], 0, &a, &err), 0), "%s", err.message);
        /* The caller may close its own descriptor; the sink has its own. */
        close(fds[1]);

        mmap_call(&c);
        mc__audit_call(a, 321, &c, 0, NULL);
        mc__audit_event(a, 321, "core.signal", "note", "{\"a\":1}", NULL);
        cr_assert(eq(u64, mc__audit_dropped(a), 0));
        mc_audit_close(a);

        /* The sink closed its duplicate: the pipe now reads to EOF. */
        k = read(fds[0], buf, sizeof(buf) - 1);
        cr_assert(gt(sz, (size_t) k, 0));
        cr_assert(eq(int, read(fds[0], buf + k, 1), 0));
        buf[k] = 0;
        recs = parse_lines(buf, (size_t) k, &n);
        cr_assert(eq(sz, n, 2));
        cr_assert(eq(i64, jint(recs[0], "pid"), 321));
        cr_assert(eq(str, (char *) jstr(recs[1], "operation"), "note"));
        free_lines(recs, n);
        close(fds[0]);

        /*
         * And its duplicate is close-on-exec. Single-threaded, so the duplicate takes the lowest
         * free descriptor, found by a probe first.
         */
        cr_assert(eq(int, pipe2(fds, 0), 0));
        probe = fcntl(fds[1], F_DUPFD, 3);
        cr_assert(ge(int, probe, 3));
        close(probe);
        cr_assert(eq(int, mc_audit_open_fd(fds[1], 0, &a, &err), 0), "%s", err.message);
        flags = fcntl(probe, F_GETFD);
        cr_assert(ge(int, flags, 0), "the sink's duplicate is not fd %d", probe);
        cr_assert(flags & FD_CLOEXEC);
        cr_assert(eq(int, fstat(probe, &st), 0));
        cr_assert(eq(int, fstat(fds[1], &pipe_st), 0));
        cr_assert(eq(u64, (uint64_t) st.st_ino, (uint64_t) pipe_st.st_ino));
        mc_audit_close(a);
        cr_assert(lt(int, fcntl(probe, F_GETFD), 0)); /* closed with the sink */
        close(fds[0]);
        close(fds[1]);
}

Test(audit, fd_sink_fsync_on_a_pipe_is_not_a_loss) {
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc__call c;
        int fds[2];

        cr_assert(eq(int, pipe2(fds, O_CLOEXEC), 0));
        mc_sys.fdatasync = counting_fdatasync;
        cr_assert(eq(int, mc_audit_open_fd(fds[1], MC_AUDIT_FSYNC, &a, &err), 0), "%s",
                  err.message);
        mmap_call(&c);
        mc__audit_call(a, 1, &c, 0, NULL);
        cr_assert(eq(int, fdatasync_calls, 1));
        cr_assert(eq(u64, mc__audit_dropped(a), 0)); /* EINVAL: nothing to make durable */
        mc_audit_close(a);
        close(fds[0]);
        close(fds[1]);
}

/* ---- the syslog sink ------------------------------------------------------------------------ */

Test(audit, syslog_sink_accepts_records) {
        mc_audit *a = NULL, *b = NULL;
        mc_error err = MC_ERROR_INIT, e;
        mc__call c;
        char ident[64];
        int r;

        snprintf(ident, sizeof(ident), "memcap-test-%d", (int) getpid());
        cr_assert(eq(int, mc_audit_open_syslog(ident, LOG_USER, &a, &err), 0), "%s", err.message);
        /* The identity is copied: the caller's buffer may change. */
        memset(ident, 'X', sizeof(ident) - 1);
        mmap_call(&c);
        mc__audit_call(a, 1, &c, 0, NULL);
        c.denied = true;
        r = mc__error_set(&e, MC_ERR_POLICY_VIOLATION, EPERM, "denied \n\"by\" rule");
        mc__audit_call(a, 1, &c, r, &e);
        mc__audit_event(a, 1, "core.signal", "note", NULL, NULL);
        cr_assert(eq(u64, mc__audit_dropped(a), 0));
        mc_audit_close(a);

        cr_assert(eq(int, mc_audit_open_syslog(NULL, LOG_DAEMON, &b, &err), 0), "%s", err.message);
        mc__audit_call(b, 1, &c, -EIO, NULL);
        mc_audit_close(b);
}

/* ---- processes sharing one log -------------------------------------------------------------- */

#define FORK_RECORDS 2000

static void child_writes(mc_audit *a, const char *longname) {
        mc__call c;

        mmap_call(&c);
        c.fields |= MC__F_NAME;
        for (int i = 0; i < FORK_RECORDS; i++) {
                /* Every third record is long (about 6 KiB): larger than PIPE_BUF and the stack. */
                c.req.name = i % 3 == 0 ? longname : "short";
                c.req.id = (uint64_t) i;
                c.fields |= MC__F_ID;
                mc__audit_call(a, getpid(), &c, 0, NULL);
        }
        _exit(mc__audit_dropped(a) == 0 ? 0 : 3);
}

Test(audit, records_from_forked_processes_never_interleave, .timeout = 120.0) {
        char path[256], *longname;
        mc_audit *a = NULL;
        pid_t pids[2];
        json_t **recs;
        size_t n, per[2] = {0, 0};

        longname = malloc(6001);
        cr_assert(not(eq(ptr, longname, NULL)));
        memset(longname, 'n', 6000);
        longname[6000] = 0;

        a = open_log(path, sizeof(path));
        for (int i = 0; i < 2; i++) {
                pids[i] = fork();
                cr_assert(ge(int, pids[i], 0));
                if (pids[i] == 0)
                        child_writes(a, longname);
        }
        for (int i = 0; i < 2; i++) {
                int status;

                cr_assert(eq(int, waitpid(pids[i], &status, 0), pids[i]));
                cr_assert(eq(int, status, 0), "child %d failed (status 0x%x)", i, status);
        }
        mc_audit_close(a);

        recs = read_records(path, &n);
        cr_assert(eq(sz, n, 2 * FORK_RECORDS));
        for (size_t i = 0; i < n; i++) {
                json_int_t pid = jint(recs[i], "pid");
                json_int_t id = jint(json_object_get(recs[i], "request"), "mapping_id");
                const char *name = jstr(json_object_get(recs[i], "request"), "name");

                cr_assert(pid == pids[0] || pid == pids[1]);
                cr_assert(eq(str, (char *) name, id % 3 == 0 ? longname : "short"));
                per[pid == pids[0] ? 0 : 1]++;
        }
        cr_assert(eq(sz, per[0], FORK_RECORDS));
        cr_assert(eq(sz, per[1], FORK_RECORDS));
        free_lines(recs, n);
        free(longname);
        unlink(path);
}
