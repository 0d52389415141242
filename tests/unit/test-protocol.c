/* SPDX-License-Identifier: MIT */
/*
 * The memcapd protocol codec and the shared base64 module: every request parsed with its
 * optional fields present and absent, every class of bad request with the exact message a
 * client sees, byte-exact replies for the examples of docs/protocol.md, hostile lines, and
 * allocation failures. Every line is parsed from an exact-size heap copy, so AddressSanitizer
 * catches a read past its end.
 */

#include "common.h"

#include <jansson.h>

#include "base64.h"
#include "protocol.h"

TestSuite(protocol, .fini = mc_test_fini);

/* ---- helpers -------------------------------------------------------------------------------- */

/* Parse @n bytes of @line from a heap copy of exactly that size. */
static int parse_n(const char *line, size_t n, mcd_request *ret, mc_error *err) {
        char *copy = malloc(MC_MAX(n, (size_t) 1));
        int r;

        cr_assert(not(eq(ptr, copy, NULL)));
        memcpy(copy, line, n);
        r = mcd_request_parse(copy, n, ret, err);
        free(copy);
        return r;
}

/* Field by field: the two requests say the same thing. */
static void request_eq(const mcd_request *a, const mcd_request *b, const char *line, size_t n) {
        int shown = (int) MC_MIN(n, (size_t) 200);

        cr_assert(eq(int, a->call, b->call), "%.*s", shown, line);
        cr_assert(eq(u64, a->mmap_id, b->mmap_id), "%.*s", shown, line);
        cr_assert(eq(u64, a->offset, b->offset), "%.*s", shown, line);
        cr_assert(eq(u64, a->length, b->length), "%.*s", shown, line);
        cr_assert(eq(int, a->has_length, b->has_length), "%.*s", shown, line);
        cr_assert(eq(uint, a->prot, b->prot), "%.*s", shown, line);
        cr_assert(eq(int, a->shared, b->shared), "%.*s", shown, line);
        cr_assert(eq(int, a->all, b->all), "%.*s", shown, line);
        cr_assert(eq(int, a->encoding, b->encoding), "%.*s", shown, line);
        cr_assert(eq(int, a->advice, b->advice), "%.*s", shown, line);
        cr_assert(eq(int, !a->path, !b->path), "%.*s", shown, line);
        if (a->path)
                cr_assert(eq(str, a->path, b->path), "%.*s", shown, line);
        cr_assert(eq(int, !a->data, !b->data), "%.*s", shown, line);
        cr_assert(eq(sz, a->data_len, b->data_len), "%.*s", shown, line);
        if (a->data_len > 0)
                cr_assert(eq(int, memcmp(a->data, b->data, a->data_len), 0), "%.*s", shown, line);
}

/*
 * Parse @n bytes of @line (each from its own exact-size heap copy) with mcd_request_parse(), the
 * full decoder and the fast path. The first two must agree exactly, in the request or in the
 * error; the fast path, when it takes the line, must produce the same request. Returns the
 * result of mcd_request_parse(), its request in *@ret (to release) and its error in *@ret_err;
 * *@ret_fast says whether the fast path took the line.
 */
static int parse_all(const char *line, size_t n, mcd_request *ret, mc_error *ret_err,
                     bool *ret_fast) {
        mcd_request full = MCD_REQUEST_INIT, fast = MCD_REQUEST_INIT;
        mc_error full_err = MC_ERROR_INIT;
        char *copy = malloc(MC_MAX(n, (size_t) 1));
        int shown = (int) MC_MIN(n, (size_t) 200);
        bool took;
        int r, rf;

        cr_assert(not(eq(ptr, copy, NULL)));
        r = parse_n(line, n, ret, ret_err);
        memcpy(copy, line, n);
        rf = mcd_request_parse_full(copy, n, &full, &full_err);
        cr_assert(eq(int, r, rf), "%.*s", shown, line);
        if (r == 0)
                request_eq(ret, &full, line, n);
        else {
                cr_assert(eq(int, ret_err->kind, full_err.kind), "%.*s", shown, line);
                cr_assert(eq(int, ret_err->sys_errno, full_err.sys_errno), "%.*s", shown, line);
                cr_assert(eq(str, ret_err->message, full_err.message), "%.*s", shown, line);
        }
        took = mcd_request_parse_fast(copy, n, &fast);
        if (took) {
                cr_assert(eq(int, rf, 0), "the fast path took a line the decoder refuses: %.*s",
                          shown, line);
                request_eq(&fast, &full, line, n);
        } else
                cr_assert(eq(int, fast.call, _MCD_CALL_MAX), "untouched when declining");
        mcd_request_done(&fast);
        mcd_request_done(&full);
        free(copy);
        if (ret_fast)
                *ret_fast = took;
        return r;
}

static mcd_request parse_ok(const char *line) {
        mcd_request req = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        int r = parse_all(line, strlen(line), &req, &err, NULL);

        cr_assert(eq(int, r, 0), "parsing %s failed: %s", line, err.message);
        return req;
}

/* Parsing must fail with InvalidArgument; returns the message for further checks. */
static mc_error parse_fails_n(const char *line, size_t n) {
        mcd_request req = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        bool fast = true;
        int r = parse_all(line, n, &req, &err, &fast);

        cr_assert(eq(int, r, -EINVAL), "parsing %.*s: got %d", (int) MC_MIN(n, (size_t) 200), line,
                  r);
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, err.sys_errno, EINVAL));
        cr_assert(gt(sz, strlen(err.message), 0));
        cr_assert(not(fast), "the fast path took a bad line");
        /* Untouched on failure. */
        cr_assert(eq(int, req.call, _MCD_CALL_MAX));
        cr_assert(eq(ptr, req.path, NULL));
        cr_assert(eq(ptr, req.data, NULL));
        return err;
}

static void parse_fails(const char *line, const char *message) {
        mc_error err = parse_fails_n(line, strlen(line));

        cr_assert(eq(str, err.message, (char *) message), "for %s", line);
}

/* The message must contain @part. */
static void parse_fails_with(const char *line, const char *part) {
        mc_error err = parse_fails_n(line, strlen(line));

        cr_assert(not(eq(ptr, strstr(err.message, part), NULL)), "for %s: message '%s' lacks '%s'",
                  line, err.message, part);
}

/* The buffer holds exactly @expected. */
static void buf_is(const mcd_buf *b, const char *expected) {
        cr_assert(eq(sz, b->len, strlen(expected)), "got %.*s", (int) b->len, b->data);
        cr_assert(eq(int, memcmp(b->data, expected, b->len), 0), "got %.*s", (int) b->len, b->data);
}

/* Every reply is one line of valid JSON (jansson agrees) ending in '\n'; returns it parsed. */
static json_t *reply_json(const mcd_buf *b) {
        json_error_t e;
        json_t *j;

        cr_assert(gt(sz, b->len, 0));
        cr_assert(eq(chr, b->data[b->len - 1], '\n'));
        cr_assert(eq(ptr, memchr(b->data, '\n', b->len - 1), NULL), "a reply is one line");
        j = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &e);
        cr_assert(not(eq(ptr, j, NULL)), "reply is not JSON (%s): %.*s", e.text,
                  (int) MC_MIN(b->len, (size_t) 300), b->data);
        return j;
}

/* ---- requests: every call, optional fields present and absent -------------------------------- */

Test(protocol, mmap_with_every_field) {
        mcd_request r = parse_ok("{\"Mmap\": {\"path\": \"/data/myfile.dat\", \"offset\": 0, "
                                 "\"length\": 4096, \"prot\": 3, \"shared\": true}}");

        cr_assert(eq(int, r.call, MCD_CALL_MMAP));
        cr_assert(eq(str, r.path, "/data/myfile.dat"));
        cr_assert(eq(u64, r.offset, 0));
        cr_assert(eq(u64, r.length, 4096));
        cr_assert(r.has_length);
        cr_assert(eq(uint, r.prot, 3));
        cr_assert(r.shared);
        mcd_request_done(&r);
        cr_assert(eq(ptr, r.path, NULL));
        cr_assert(eq(int, r.call, _MCD_CALL_MAX));
}

Test(protocol, mmap_optional_fields_default) {
        mcd_request r = parse_ok("{\"Mmap\":{\"path\":\"/x\",\"prot\":1}}");

        cr_assert(eq(str, r.path, "/x"));
        cr_assert(eq(u64, r.offset, 0));
        cr_assert(not(r.has_length), "no length means to the end of the file");
        cr_assert(eq(u64, r.length, 0));
        cr_assert(not(r.shared), "private by default");
        cr_assert(eq(uint, r.prot, 1));
        mcd_request_done(&r);

        r = parse_ok("{\"Mmap\":{\"shared\":false,\"prot\":0,\"path\":\"/x\",\"offset\":12345}}");
        cr_assert(eq(u64, r.offset, 12345), "any offset, not only page-aligned");
        cr_assert(not(r.shared));
        cr_assert(eq(uint, r.prot, 0));
        mcd_request_done(&r);

        r = parse_ok("{\"Mmap\":{\"path\":\"/x\",\"prot\":7,\"length\":0,"
                     "\"offset\":9223372036854775807}}");
        cr_assert(eq(u64, r.offset, (uint64_t) INT64_MAX));
        cr_assert(r.has_length);
        cr_assert(eq(u64, r.length, 0));
        mcd_request_done(&r);
}

Test(protocol, mmap_anonymous) {
        mcd_request r = parse_ok("{\"Mmap\":{\"length\":4096,\"prot\":3}}");

        cr_assert(eq(ptr, r.path, NULL));
        cr_assert(eq(u64, r.length, 4096));
        cr_assert(r.has_length);
        mcd_request_done(&r);

        r = parse_ok("{\"Mmap\":{\"length\":1,\"prot\":3,\"offset\":0,\"shared\":true}}");
        cr_assert(eq(ptr, r.path, NULL));
        cr_assert(r.shared, "the codec leaves shared anonymous to the daemon's rules");
        mcd_request_done(&r);
}

Test(protocol, mmap_anonymous_needs_length_and_no_offset) {
        parse_fails("{\"Mmap\":{\"prot\":3}}",
                    "Mmap: field 'length' is required for an anonymous mapping (no 'path')");
        parse_fails("{\"Mmap\":{\"prot\":3,\"length\":4096,\"offset\":4096}}",
                    "Mmap: field 'offset' must be 0 for an anonymous mapping (got 4096)");
        parse_fails("{\"Mmap\":{\"path\":\"/x\"}}", "Mmap: missing field 'prot'");
}

Test(protocol, mmap_read) {
        mcd_request r =
                parse_ok("{\"MmapRead\": {\"mmap_id\": 1, \"offset\": 0, \"length\": 1024}}");

        cr_assert(eq(int, r.call, MCD_CALL_MMAP_READ));
        cr_assert(eq(u64, r.mmap_id, 1));
        cr_assert(eq(u64, r.offset, 0));
        cr_assert(eq(u64, r.length, 1024));
        cr_assert(eq(int, r.encoding, MCD_ENCODING_ARRAY));
        mcd_request_done(&r);

        r = parse_ok("{\"MmapRead\":{\"encoding\":\"base64\",\"mmap_id\":9223372036854775807,"
                     "\"offset\":7,\"length\":0}}");
        cr_assert(eq(int, r.encoding, MCD_ENCODING_BASE64));
        cr_assert(eq(u64, r.mmap_id, (uint64_t) INT64_MAX));
        cr_assert(eq(u64, r.offset, 7));
        cr_assert(eq(u64, r.length, 0));
        mcd_request_done(&r);

        r = parse_ok(
                "{\"MmapRead\":{\"encoding\":\"array\",\"mmap_id\":2,\"offset\":0,\"length\":1}}");
        cr_assert(eq(int, r.encoding, MCD_ENCODING_ARRAY));
        mcd_request_done(&r);

        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":1}}",
                    "MmapRead: missing field 'length'");
        parse_fails("{\"MmapRead\":{\"offset\":1,\"length\":1}}",
                    "MmapRead: missing field 'mmap_id'");
}

Test(protocol, mmap_write_array_and_base64) {
        mcd_request r = parse_ok(
                "{\"MmapWrite\": {\"mmap_id\": 1, \"offset\": 0, \"data\": [72,101,108,108,111]}}");

        cr_assert(eq(int, r.call, MCD_CALL_MMAP_WRITE));
        cr_assert(eq(u64, r.mmap_id, 1));
        cr_assert(eq(sz, r.data_len, 5));
        cr_assert(eq(int, memcmp(r.data, "Hello", 5), 0));
        cr_assert(eq(int, r.encoding, MCD_ENCODING_ARRAY));
        mcd_request_done(&r);
        cr_assert(eq(ptr, r.data, NULL));

        r = parse_ok("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":3,\"data\":\"SGVsbG8=\","
                     "\"encoding\":\"base64\"}}");
        cr_assert(eq(int, r.encoding, MCD_ENCODING_BASE64));
        cr_assert(eq(u64, r.offset, 3));
        cr_assert(eq(sz, r.data_len, 5));
        cr_assert(eq(int, memcmp(r.data, "Hello", 5), 0));
        mcd_request_done(&r);

        /* Empty data in both forms: a valid pointer and no bytes. */
        r = parse_ok("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[]}}");
        cr_assert(eq(sz, r.data_len, 0));
        cr_assert(not(eq(ptr, r.data, NULL)));
        mcd_request_done(&r);
        r = parse_ok("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"\",\"encoding\":"
                     "\"base64\"}}");
        cr_assert(eq(sz, r.data_len, 0));
        cr_assert(not(eq(ptr, r.data, NULL)));
        mcd_request_done(&r);
        r = parse_ok("{\"MmapWrite\":{\"encoding\":\"array\",\"data\":[0,255],\"offset\":0,\"mmap_"
                     "id\":1}}");
        cr_assert(eq(sz, r.data_len, 2));
        cr_assert(eq(u8, r.data[0], 0));
        cr_assert(eq(u8, r.data[1], 255));
        mcd_request_done(&r);

        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0}}",
                    "MmapWrite: missing field 'data'");
        parse_fails("{\"MmapWrite\":{\"offset\":0,\"data\":[]}}",
                    "MmapWrite: missing field 'mmap_id'");
}

Test(protocol, calls_with_an_id) {
        static const struct {
                const char *name;
                mcd_call call;
        } calls[] = {
                {"Msync", MCD_CALL_MSYNC},          {"Mlock", MCD_CALL_MLOCK},
                {"Munlock", MCD_CALL_MUNLOCK},      {"Munmap", MCD_CALL_MUNMAP},
                {"MmapStats", MCD_CALL_MMAP_STATS}, {"MmapFd", MCD_CALL_MMAP_FD},
        };

        for (size_t i = 0; i < ELEMENTSOF(calls); i++) {
                char line[128], msg[128];
                mcd_request r;

                snprintf(line, sizeof(line), "{\"%s\": {\"mmap_id\": 42}}", calls[i].name);
                r = parse_ok(line);
                cr_assert(eq(int, r.call, calls[i].call));
                cr_assert(eq(u64, r.mmap_id, 42));
                cr_assert(eq(str, (char *) mcd_call_name(r.call), (char *) calls[i].name));
                mcd_request_done(&r);

                snprintf(line, sizeof(line), "{\"%s\": {}}", calls[i].name);
                snprintf(msg, sizeof(msg), "%s: missing field 'mmap_id'", calls[i].name);
                parse_fails(line, msg);

                snprintf(line, sizeof(line), "{\"%s\": {\"mmap_id\": 1, \"prot\": 1}}",
                         calls[i].name);
                snprintf(msg, sizeof(msg), "%s: unknown field 'prot'", calls[i].name);
                parse_fails(line, msg);
        }
}

Test(protocol, mprotect) {
        mcd_request r = parse_ok("{\"Mprotect\": {\"mmap_id\": 1, \"prot\": 1}}");

        cr_assert(eq(int, r.call, MCD_CALL_MPROTECT));
        cr_assert(eq(u64, r.mmap_id, 1));
        cr_assert(eq(uint, r.prot, 1));
        mcd_request_done(&r);
        parse_fails("{\"Mprotect\":{\"mmap_id\":1}}", "Mprotect: missing field 'prot'");
        parse_fails("{\"Mprotect\":{\"prot\":1}}", "Mprotect: missing field 'mmap_id'");
}

/* The original protocol's clients leave out what they mean as 0. */
Test(protocol, read_and_write_without_an_offset_mean_offset_0) {
        mcd_request r = parse_ok("{\"MmapRead\": {\"mmap_id\": 1, \"length\": 1024}}");

        cr_assert(eq(int, r.call, MCD_CALL_MMAP_READ));
        cr_assert(eq(u64, r.offset, 0));
        cr_assert(eq(u64, r.length, 1024));
        mcd_request_done(&r);
        r = parse_ok("{\"MmapWrite\": {\"mmap_id\": 1, \"data\": [72,105]}}");
        cr_assert(eq(int, r.call, MCD_CALL_MMAP_WRITE));
        cr_assert(eq(u64, r.offset, 0));
        cr_assert(eq(sz, r.data_len, 2));
        mcd_request_done(&r);
        r = parse_ok("{\"MmapWrite\":{\"data\":\"SGk=\",\"encoding\":\"base64\",\"mmap_id\":2}}");
        cr_assert(eq(u64, r.offset, 0));
        cr_assert(eq(sz, r.data_len, 2));
        mcd_request_done(&r);
}

/* Msync, Mprotect, Madvise, Mlock and Munlock: the whole mapping, or a range of it. */
Test(protocol, range_calls_take_an_optional_offset_and_length) {
        static const char *const names[] = {"Msync", "Mlock", "Munlock"};
        mcd_request r;

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char line[160];

                snprintf(line, sizeof(line), "{\"%s\":{\"mmap_id\":3}}", names[i]);
                r = parse_ok(line);
                cr_assert(eq(u64, r.offset, 0));
                cr_assert(not(r.has_length), "no length: to the end of the mapping");
                mcd_request_done(&r);
                snprintf(line, sizeof(line),
                         "{\"%s\":{\"mmap_id\":3,\"offset\":8192,\"length\":4096}}", names[i]);
                r = parse_ok(line);
                cr_assert(eq(u64, r.offset, 8192));
                cr_assert(r.has_length);
                cr_assert(eq(u64, r.length, 4096));
                mcd_request_done(&r);
                /* 0 is a length like any other here; what it means is the daemon's to say. */
                snprintf(line, sizeof(line), "{\"%s\":{\"mmap_id\":3,\"length\":0}}", names[i]);
                r = parse_ok(line);
                cr_assert(r.has_length);
                mcd_request_done(&r);
        }
        r = parse_ok("{\"Mprotect\":{\"mmap_id\":1,\"offset\":4096,\"length\":4096,\"prot\":1}}");
        cr_assert(eq(u64, r.offset, 4096));
        cr_assert(eq(u64, r.length, 4096));
        cr_assert(eq(uint, r.prot, 1));
        mcd_request_done(&r);
        parse_fails("{\"Mprotect\":{\"mmap_id\":1,\"offset\":-4096,\"prot\":1}}",
                    "Mprotect: field 'offset' must be a non-negative integer (got -4096)");
        parse_fails("{\"Mlock\":{\"mmap_id\":1,\"prot\":1}}", "Mlock: unknown field 'prot'");
        parse_fails("{\"Munmap\":{\"mmap_id\":1,\"offset\":0}}", "Munmap: unknown field 'offset'");
}

Test(protocol, madvise_names_its_advice) {
        mcd_request r = parse_ok("{\"Madvise\": {\"mmap_id\": 1, \"advice\": \"WILLNEED\"}}");

        cr_assert(eq(int, r.call, MCD_CALL_MADVISE));
        cr_assert(eq(int, r.advice, MC_ADVICE_WILLNEED));
        cr_assert(not(r.has_length));
        mcd_request_done(&r);
        r = parse_ok("{\"Madvise\":{\"advice\":\"DONTNEED\",\"offset\":4096,\"length\":8192,"
                     "\"mmap_id\":9}}");
        cr_assert(eq(int, r.advice, MC_ADVICE_DONTNEED));
        cr_assert(eq(u64, r.offset, 4096));
        mcd_request_done(&r);
        /* Every advice the library knows decodes; whether the daemon offers it is its call. */
        for (int a = 0; a < _MC_ADVICE_MAX; a++) {
                char line[128];

                snprintf(line, sizeof(line), "{\"Madvise\":{\"mmap_id\":1,\"advice\":\"%s\"}}",
                         mc_advice_name((mc_advice) a));
                r = parse_ok(line);
                cr_assert(eq(int, r.advice, a));
                mcd_request_done(&r);
        }
        parse_fails("{\"Madvise\":{\"mmap_id\":1}}", "Madvise: missing field 'advice'");
        parse_fails("{\"Madvise\":{\"mmap_id\":1,\"advice\":\"willneed\"}}",
                    "Madvise: field 'advice' must name an advice, such as \"WILLNEED\" (got "
                    "\"willneed\")");
        parse_fails("{\"Madvise\":{\"mmap_id\":1,\"advice\":3}}",
                    "Madvise: field 'advice' must name an advice, such as \"WILLNEED\" (got 3)");
        parse_fails("{\"Madvise\":{\"mmap_id\":1,\"advice\":\"WILLNEED\\u0000\"}}",
                    "Madvise: field 'advice' must name an advice, such as \"WILLNEED\" (got "
                    "\"WILLNEED\")");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"length\":1,\"advice\":\"WILLNEED\"}}",
                    "MmapRead: unknown field 'advice'");
}

Test(protocol, list_and_hello) {
        mcd_request r = parse_ok("{\"MmapList\": {}}");

        cr_assert(eq(int, r.call, MCD_CALL_MMAP_LIST));
        cr_assert(not(r.all));
        mcd_request_done(&r);
        r = parse_ok("{\"MmapList\":{\"all\":true}}");
        cr_assert(eq(int, r.call, MCD_CALL_MMAP_LIST));
        cr_assert(r.all);
        mcd_request_done(&r);
        r = parse_ok("{\"MmapList\":{\"all\":false}}");
        cr_assert(not(r.all));
        mcd_request_done(&r);
        parse_fails("{\"MmapList\":{\"all\":1}}",
                    "MmapList: field 'all' must be true or false (got 1)");
        parse_fails("{\"MmapStats\":{\"mmap_id\":1,\"all\":true}}",
                    "MmapStats: unknown field 'all'");
        r = parse_ok(" {\"Hello\" : { } }\r");
        cr_assert(eq(int, r.call, MCD_CALL_HELLO));
        mcd_request_done(&r);
        parse_fails("{\"Hello\":{\"version\":1}}", "Hello: unknown field 'version'");
        parse_fails("{\"MmapList\":{\"mmap_id\":1}}", "MmapList: unknown field 'mmap_id'");
}

Test(protocol, names) {
        cr_assert(eq(str, (char *) mcd_call_name(MCD_CALL_MMAP_WRITE), "MmapWrite"));
        cr_assert(eq(str, (char *) mcd_call_name(MCD_CALL_HELLO), "Hello"));
        cr_assert(eq(ptr, (void *) mcd_call_name(_MCD_CALL_MAX), NULL));
        cr_assert(eq(ptr, (void *) mcd_call_name((mcd_call) -1), NULL));
        cr_assert(eq(str, (char *) mcd_capability_name(MCD_CAP_FILE_READ), "FileRead"));
        cr_assert(eq(str, (char *) mcd_capability_name(MCD_CAP_FD_PASS), "FdPass"));
        cr_assert(eq(ptr, (void *) mcd_capability_name(MCD_CAP_FILE_READ | MCD_CAP_FD_PASS), NULL));
        cr_assert(eq(ptr, (void *) mcd_capability_name(0), NULL));
}

Test(protocol, done_accepts_fresh_and_null) {
        mcd_request r = MCD_REQUEST_INIT;

        mcd_request_done(&r);
        mcd_request_done(&r);
        mcd_request_done(NULL);
        mcd_buf_done(NULL);
}

/* ---- requests: every error class, with the call and the field in the message ----------------- */

Test(protocol, malformed_json) {
        parse_fails_with("{", "invalid JSON at byte");
        parse_fails_with("not json", "invalid JSON at byte");
        parse_fails_with("{\"Hello\":{}", "invalid JSON at byte");
        parse_fails_with("{\"Hello\":{}} {}", "invalid JSON at byte");
        parse_fails_with("{\"Hello\":{},}", "invalid JSON at byte");
        parse_fails_with("{'Hello':{}}", "invalid JSON at byte");
        parse_fails_with("  ", "invalid JSON at byte");
        parse_fails("", "empty request: send one JSON object per line, like {\"Hello\": {}}");
}

Test(protocol, not_one_call) {
        parse_fails("[1]", "request must be a JSON object with one key, the call, like "
                           "{\"Hello\": {}} (got an array)");
        parse_fails("5", "request must be a JSON object with one key, the call, like "
                         "{\"Hello\": {}} (got 5)");
        parse_fails_with("\"Hello\"", "(got a string)");
        parse_fails_with("null", "(got null)");
        parse_fails("{}", "request must name exactly one call, the object's only key (got 0 keys)");
        parse_fails("{\"Hello\":{},\"MmapList\":{}}",
                    "request must name exactly one call, the object's only key (got 2 keys)");
        parse_fails("{\"Frobnicate\":{}}", "unknown call 'Frobnicate'");
        parse_fails("{\"hello\":{}}", "unknown call 'hello'");
        parse_fails("{\"\":{}}", "unknown call ''");
        parse_fails("{\"Hello\":[]}",
                    "Hello: the call's value must be an object of fields (got an array)");
        parse_fails("{\"Msync\":1}", "Msync: the call's value must be an object of fields (got 1)");
        parse_fails("{\"Msync\":null}",
                    "Msync: the call's value must be an object of fields (got null)");
}

Test(protocol, unknown_fields) {
        parse_fails("{\"Msync\":{\"mmap_id\":1,\"flags\":1}}", "Msync: unknown field 'flags'");
        parse_fails("{\"Mmap\":{\"path\":\"/x\",\"prot\":1,\"Path\":\"/y\"}}",
                    "Mmap: unknown field 'Path'");
        /* The first unknown field, in the client's order, even before a bad value. */
        parse_fails("{\"Msync\":{\"mmap_id\":-1,\"zz\":1,\"aa\":1}}", "Msync: unknown field 'zz'");
        /* A long name is cut, not overrun. */
        char line[1024];
        char name[600];

        memset(name, 'x', sizeof(name) - 1);
        name[sizeof(name) - 1] = 0;
        snprintf(line, sizeof(line), "{\"Hello\":{\"%s\":1}}", name);
        parse_fails_with(line, "Hello: unknown field 'xxxx");
}

Test(protocol, duplicate_keys_anywhere) {
        parse_fails_with("{\"Hello\":{},\"Hello\":{}}", "duplicate object key");
        parse_fails_with("{\"Mmap\":{\"path\":\"/a\",\"prot\":1,\"prot\":1}}",
                         "duplicate object key");
        parse_fails_with("{\"Mmap\":{\"path\":\"/a\",\"prot\":1,\"x\":{\"a\":1,\"a\":2}}}",
                         "duplicate object key");
        /* Equal after unescaping is equal. */
        parse_fails_with("{\"Msync\":{\"mmap_id\":1,\"mmap\\u005fid\":1}}", "duplicate object key");
}

Test(protocol, mistyped_fields) {
        parse_fails("{\"Msync\":{\"mmap_id\":\"1\"}}",
                    "Msync: field 'mmap_id' must be a positive integer (got a string)");
        parse_fails("{\"Mmap\":{\"path\":5,\"prot\":1}}",
                    "Mmap: field 'path' must be a string (got 5)");
        parse_fails("{\"Mmap\":{\"path\":\"/x\",\"prot\":true}}",
                    "Mmap: field 'prot' must be an integer from 0 to 7 (got true)");
        parse_fails("{\"Mmap\":{\"path\":\"/x\",\"prot\":1,\"shared\":\"yes\"}}",
                    "Mmap: field 'shared' must be true or false (got a string)");
        parse_fails("{\"Mmap\":{\"path\":\"/x\",\"prot\":1,\"shared\":1}}",
                    "Mmap: field 'shared' must be true or false (got 1)");
        parse_fails("{\"Mmap\":{\"path\":\"/x\",\"prot\":1,\"length\":null}}",
                    "Mmap: field 'length' must be a non-negative integer (got null)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":{},\"length\":1}}",
                    "MmapRead: field 'offset' must be a non-negative integer (got an object)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1,\"encoding\":1}}",
                    "MmapRead: field 'encoding' must be \"array\" or \"base64\" (got 1)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1,\"encoding\":\"hex\"}}",
                    "MmapRead: field 'encoding' must be \"array\" or \"base64\" (got \"hex\")");
        parse_fails(
                "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1,\"encoding\":\"Base64\"}}",
                "MmapRead: field 'encoding' must be \"array\" or \"base64\" (got \"Base64\")");
        parse_fails_with("{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1,"
                         "\"encoding\":\"base64\\u0000\"}}",
                         "MmapRead: field 'encoding' must be \"array\" or \"base64\"");
}

Test(protocol, numbers_must_be_exact_integers_in_range) {
        /* The example of docs/protocol.md, word for word. */
        parse_fails("{\"MmapRead\": {\"mmap_id\": 1, \"offset\": 0, \"length\": -1}}",
                    "MmapRead: field 'length' must be a non-negative integer (got -1)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1.0}}",
                    "MmapRead: field 'length' must be a non-negative integer (got 1.0)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1e3}}",
                    "MmapRead: field 'length' must be a non-negative integer (got 1e3)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":-0}}",
                    "MmapRead: field 'length' must be a non-negative integer (got -0)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1E+400}}",
                    "MmapRead: field 'length' must be a non-negative integer (got 1E+400)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":9223372036854775808,\"length\":1}}",
                    "MmapRead: field 'offset' must be a non-negative integer no larger than "
                    "9223372036854775807 (got 9223372036854775808)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":18446744073709551616,\"length\":1}}",
                    "MmapRead: field 'offset' must be a non-negative integer no larger than "
                    "9223372036854775807 (got 18446744073709551616)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":-9223372036854775809,\"length\":1}}",
                    "MmapRead: field 'offset' must be a non-negative integer "
                    "(got -9223372036854775809)");
        parse_fails("{\"MmapRead\":{\"mmap_id\":1,\"offset\":-9223372036854775808,\"length\":1}}",
                    "MmapRead: field 'offset' must be a non-negative integer "
                    "(got -9223372036854775808)");
        parse_fails("{\"Msync\":{\"mmap_id\":0}}",
                    "Msync: field 'mmap_id' must be a positive integer (got 0)");
        parse_fails("{\"Msync\":{\"mmap_id\":9223372036854775808}}",
                    "Msync: field 'mmap_id' must be a positive integer no larger than "
                    "9223372036854775807 (got 9223372036854775808)");
        parse_fails("{\"Mprotect\":{\"mmap_id\":1,\"prot\":8}}",
                    "Mprotect: field 'prot' must be an integer from 0 to 7 (got 8)");
        parse_fails("{\"Mprotect\":{\"mmap_id\":1,\"prot\":-1}}",
                    "Mprotect: field 'prot' must be an integer from 0 to 7 (got -1)");
        parse_fails("{\"Mprotect\":{\"mmap_id\":1,\"prot\":3.0}}",
                    "Mprotect: field 'prot' must be an integer from 0 to 7 (got 3.0)");
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1,256]}}",
                    "MmapWrite: field 'data' element 1 must be an integer from 0 to 255 (got 256)");
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[-1]}}",
                    "MmapWrite: field 'data' element 0 must be an integer from 0 to 255 (got -1)");
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1,2,-0]}}",
                    "MmapWrite: field 'data' element 2 must be an integer from 0 to 255 (got -0)");
        parse_fails(
                "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[0.5e1]}}",
                "MmapWrite: field 'data' element 0 must be an integer from 0 to 255 (got 0.5e1)");
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[\"a\"]}}",
                    "MmapWrite: field 'data' element 0 must be an integer from 0 to 255 (got a "
                    "string)");
        /* A long number is shown cut. */
        parse_fails_with(
                "{\"Msync\":{\"mmap_id\":1234567890123456789012345678901234567890123456789}}",
                "(got 1234567890123456789012345678901234567890...)");
}

Test(protocol, special_numbers_beyond_the_recorded_ones_are_still_rejected) {
        /* 20 reals come first in the line but are checked after mmap_id, the 21st special. */
        const char *line = "{\"MmapWrite\":{\"offset\":0,\"data\":[1.5,1.5,1.5,1.5,1.5,1.5,1.5,"
                           "1.5,1.5,1.5,1.5,1.5,1.5,1.5,1.5,1.5,1.5,1.5,1.5,1.5],\"mmap_id\":-0}}";
        parse_fails(line,
                    "MmapWrite: field 'mmap_id' must be a positive integer (got a number that "
                    "is not an exact integer)");

        /* Tens of thousands of specials: still one clean error. */
        size_t n = 40000, len = 0, cap = n * 4 + 128;
        char *big = malloc(cap);

        cr_assert(not(eq(ptr, big, NULL)));
        len += (size_t) snprintf(big, cap, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[");
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(big + len, cap - len, i ? ",-0" : "-0");
        len += (size_t) snprintf(big + len, cap - len, "]}}");
        mc_error err = parse_fails_n(big, len);
        cr_assert(
                eq(str, err.message,
                   "MmapWrite: field 'data' element 0 must be an integer from 0 to 255 (got -0)"));
        free(big);
}

Test(protocol, number_rewriting_never_makes_bad_json_good) {
        /* Tokens the pre-scan rewrites must stay separate tokens. */
        parse_fails_with("{\"Msync\":{\"mmap_id\":1-0}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":--1.5}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":1.5.5}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":-01.5}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":1e}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":1.}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":.5}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":01}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":1.5true}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":99999999999999999999x}}", "invalid JSON");
        parse_fails_with("{\"Msync\":{\"mmap_id\":[-0 1]}}", "invalid JSON");
        /* A number inside a string is just text. */
        parse_fails("{\"Msync\":{\"mmap_id\":\"-0 1e400\"}}",
                    "Msync: field 'mmap_id' must be a positive integer (got a string)");
        /* Brackets and quotes inside strings do not count as nesting or as the string's end. */
        mcd_request r = parse_ok("{\"Mmap\":{\"path\":\"/[[[[\\\"{{{{\\\\\",\"prot\":1}}");
        cr_assert(eq(str, r.path, "/[[[[\"{{{{\\"));
        mcd_request_done(&r);
}

Test(protocol, paths) {
        mcd_request r =
                parse_ok("{\"Mmap\":{\"path\":\"/d\\u00e9j\\u00e0/\\ud83d\\ude00\",\"prot\":1}}");

        cr_assert(eq(str, r.path, "/d\xc3\xa9j\xc3\xa0/\xf0\x9f\x98\x80"));
        mcd_request_done(&r);
        parse_fails("{\"Mmap\":{\"path\":\"\",\"prot\":1}}",
                    "Mmap: field 'path' must not be empty");
        parse_fails("{\"Mmap\":{\"path\":\"data/x\",\"prot\":1}}",
                    "Mmap: field 'path' must be absolute, starting with '/'");
        parse_fails("{\"Mmap\":{\"path\":\"/a\\u0000b\",\"prot\":1}}",
                    "Mmap: field 'path' must not contain a NUL character");
        parse_fails("{\"Mmap\":{\"path\":\"\\u0000/a\",\"prot\":1}}",
                    "Mmap: field 'path' must not contain a NUL character");
        parse_fails("{\"Mmap\":{\"path\":[\"/a\"],\"prot\":1}}",
                    "Mmap: field 'path' must be a string (got an array)");
        /* Raw control characters and invalid UTF-8 are not JSON. */
        parse_fails_with("{\"Mmap\":{\"path\":\"/a\nb\",\"prot\":1}}", "invalid JSON");
        parse_fails_with("{\"Mmap\":{\"path\":\"/\xff\",\"prot\":1}}", "invalid JSON");
        parse_fails_with("{\"Mmap\":{\"path\":\"/\xc0\xaf\",\"prot\":1}}", "invalid JSON");
        parse_fails_with("{\"Mmap\":{\"path\":\"/\xed\xa0\x80\",\"prot\":1}}", "invalid JSON");
        parse_fails_with("{\"Mmap\":{\"path\":\"/\\ud800\",\"prot\":1}}", "invalid JSON");
}

Test(protocol, bad_data) {
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"SGVsbG8=\"}}",
                    "MmapWrite: field 'data' must be an array of integers 0-255 (got a string; "
                    "base64 text needs \"encoding\": \"base64\")");
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":{}}}",
                    "MmapWrite: field 'data' must be an array of integers 0-255 (got an object)");
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[72],\"encoding\":"
                    "\"base64\"}}",
                    "MmapWrite: field 'data' must be a base64 string when 'encoding' is "
                    "\"base64\" (got an array)");
        parse_fails("{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[[1]]}}",
                    "MmapWrite: field 'data' element 0 must be an integer from 0 to 255 (got an "
                    "array)");
}

static void base64_fails(const char *b64, const char *message) {
        char line[512], msg[512];

        snprintf(line, sizeof(line),
                 "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"encoding\":\"base64\",\"data\":\"%"
                 "s\"}}",
                 b64);
        snprintf(msg, sizeof(msg), "MmapWrite: field 'data' is not valid base64: %s", message);
        parse_fails(line, msg);
}

Test(protocol, bad_base64) {
        base64_fails("SGVsbG8", "its length 7 is not a multiple of 4");
        base64_fails("SGVsbG8==", "its length 9 is not a multiple of 4");
        base64_fails("SGVs bG8", "unexpected byte 0x20 at offset 4 (standard alphabet, '=' "
                                 "padding, no whitespace)");
        base64_fails("SGVs\\nbG8", "unexpected byte 0x0a at offset 4 (standard alphabet, '=' "
                                   "padding, no whitespace)");
        base64_fails("SG=sbG8=", "unexpected '=' at offset 2 (standard alphabet, '=' padding, no "
                                 "whitespace)");
        base64_fails("SGVsbG8-", "unexpected '-' at offset 7 (standard alphabet, '=' padding, no "
                                 "whitespace)");
        base64_fails("SGVsbG_=", "unexpected '_' at offset 6 (standard alphabet, '=' padding, no "
                                 "whitespace)");
        base64_fails("S===", "unexpected '=' at offset 1 (standard alphabet, '=' padding, no "
                             "whitespace)");
        base64_fails("====", "unexpected '=' at offset 0 (standard alphabet, '=' padding, no "
                             "whitespace)");
        base64_fails("SGVsbG9=", "'9' at offset 6 has bits set that the padding drops");
        base64_fails("SGVsbB==", "'B' at offset 5 has bits set that the padding drops");
        base64_fails("SGV\\u0000bG8=", "unexpected byte 0x00 at offset 3 (standard alphabet, '=' "
                                       "padding, no whitespace)");
        base64_fails("SGVs\\u00e9G8=", "its length 9 is not a multiple of 4");
        base64_fails("SGVs\\u00e9G8", "unexpected byte 0xc3 at offset 4 (standard alphabet, '=' "
                                      "padding, no whitespace)");
}

/* ---- hostile lines --------------------------------------------------------------------------- */

Test(protocol, nul_bytes_in_the_line) {
        static const char a[] = "{\"Hello\":{}}\0";
        static const char b[] = "{\"Hel\0lo\":{}}";
        static const char c[] = "\0{\"Hello\":{}}";
        static const char d[] = "{\"Mmap\":{\"path\":\"/a\0b\",\"prot\":1}}";

        parse_fails_n(a, sizeof(a) - 1);
        parse_fails_n(b, sizeof(b) - 1);
        parse_fails_n(c, sizeof(c) - 1);
        parse_fails_n(d, sizeof(d) - 1);
        parse_fails_n("\0", 1);
        cr_assert(eq(str, parse_fails_n(a, sizeof(a) - 1).message,
                     "invalid JSON at byte 12: NUL byte"));
}

Test(protocol, invalid_utf8) {
        static const char *const lines[] = {
                "{\"Hel\xfflo\":{}}",
                "{\"\xc3\":{}}",
                "\xef\xbb\xbf{\"Hello\":{}}", /* a byte-order mark is not JSON either */
                "{\"Hello\":{\"\xf4\x90\x80\x80\":1}}",
                "\xff\xfe\xfd",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++)
                parse_fails_n(lines[i], strlen(lines[i]));
}

static void deep(const char *open, const char *close, size_t depth) {
        size_t lo = strlen(open), lc = strlen(close), len = depth * (lo + lc);
        char *s = malloc(len);

        cr_assert(not(eq(ptr, s, NULL)));
        for (size_t i = 0; i < depth; i++) {
                memcpy(s + i * lo, open, lo);
                memcpy(s + depth * lo + i * lc, close, lc);
        }
        mc_error err = parse_fails_n(s, len);
        cr_assert(not(eq(ptr, strstr(err.message, "nested deeper than 32 levels"), NULL)), "%s",
                  err.message);
        free(s);
}

Test(protocol, deep_nesting) {
        deep("[", "]", 10000);
        deep("{\"a\":", "}", 10000);
        deep("{\"Hello\":", "}", 33);
        deep("[", "", 1 << 20); /* never closed */

        /* 32 levels are still parsed (and then refused for what they are). */
        char s[2 * MCD_MAX_DEPTH + 1];

        memset(s, '[', MCD_MAX_DEPTH);
        memset(s + MCD_MAX_DEPTH, ']', MCD_MAX_DEPTH);
        s[2 * MCD_MAX_DEPTH] = 0;
        parse_fails(s, "request must be a JSON object with one key, the call, like "
                       "{\"Hello\": {}} (got an array)");
}

Test(protocol, megabyte_of_garbage, .timeout = 60) {
        size_t n = 1 << 20;
        unsigned char *s = malloc(n);
        uint64_t x = 0x9e3779b97f4a7c15u;

        cr_assert(not(eq(ptr, s, NULL)));
        for (int round = 0; round < 4; round++) {
                for (size_t i = 0; i < n; i++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        s[i] = (unsigned char) x;
                        /* Round 1: JSON punctuation only; round 2: digits and signs. */
                        if (round == 1)
                                s[i] = "{}[]\":,\\"[x % 8];
                        else if (round == 2)
                                s[i] = "0123456789-+.eE,["[x % 17];
                }
                if (round == 3) { /* a valid prefix, then garbage */
                        static const char prefix[] =
                                "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"";
                        memcpy(s, prefix, sizeof(prefix) - 1);
                }
                parse_fails_n((char *) s, n);
        }
        memset(s, '[', n);
        parse_fails_n((char *) s, n);
        memset(s, '"', n);
        parse_fails_n((char *) s, n);
        memset(s, '\\', n);
        parse_fails_n((char *) s, n);
        memset(s, '9', n);
        parse_fails_n((char *) s, n);
        free(s);
}

Test(protocol, hostile_numbers_in_every_number_field) {
        static const char *const numbers[] = {
                "1e400", "-0", "18446744073709551616", "-1e-400", "1.7976931348623157e309",
                "0.0",   "-1"};
        /* Each line is prefix, number, suffix. */
        static const char *const templates[][2] = {
                {"{\"Mmap\":{\"path\":\"/x\",\"prot\":", "}}"},
                {"{\"Mmap\":{\"path\":\"/x\",\"prot\":1,\"offset\":", "}}"},
                {"{\"Mmap\":{\"path\":\"/x\",\"prot\":1,\"length\":", "}}"},
                {"{\"MmapRead\":{\"mmap_id\":", ",\"offset\":0,\"length\":1}}"},
                {"{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[", "]}}"},
        };
        static const char *const fields[] = {"'prot'", "'offset'", "'length'", "'mmap_id'",
                                             "'data' element 0"};

        for (size_t t = 0; t < ELEMENTSOF(templates); t++)
                for (size_t i = 0; i < ELEMENTSOF(numbers); i++) {
                        char line[256], part[64];
                        mc_error err;

                        snprintf(line, sizeof(line), "%s%s%s", templates[t][0], numbers[i],
                                 templates[t][1]);
                        err = parse_fails_n(line, strlen(line));
                        snprintf(part, sizeof(part), "field %s must be", fields[t]);
                        cr_assert(not(eq(ptr, strstr(err.message, part), NULL)), "%s: %s", line,
                                  err.message);
                        snprintf(part, sizeof(part), "(got %s)", numbers[i]);
                        cr_assert(not(eq(ptr, strstr(err.message, part), NULL)), "%s: %s", line,
                                  err.message);
                }
}

/* ---- the fast path and the full decoder agree ------------------------------------------------ */

/* A valid @line that the fast path takes (@want_fast) or leaves to the full decoder. */
static mcd_request parse_ok_by(const char *line, bool want_fast) {
        mcd_request req = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        bool fast = !want_fast;
        int r = parse_all(line, strlen(line), &req, &err, &fast);

        cr_assert(eq(int, r, 0), "parsing %s failed: %s", line, err.message);
        cr_assert(eq(int, fast, want_fast), "the fast path %s %s", fast ? "took" : "declined",
                  line);
        return req;
}

#define parse_fast_ok(line) parse_ok_by((line), true)
#define parse_slow_ok(line) parse_ok_by((line), false)

Test(protocol, fast_path_takes_the_plain_shapes) {
        static const char *const lines[] = {
                /* What bench-daemon and the client library send. */
                "{\"MmapRead\":{\"mmap_id\":1,\"offset\":1044480,\"length\":4096,"
                "\"encoding\":\"base64\"}}",
                "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":4096}}",
                "{\"Msync\":{\"mmap_id\":1}}",
                "{\"Munmap\":{\"mmap_id\":9223372036854775807}}",
                "{\"MmapStats\":{\"mmap_id\":3}}",
                "{\"MmapFd\":{\"mmap_id\":3}}",
                "{\"Mprotect\":{\"mmap_id\":3,\"prot\":7}}",
                "{\"Mprotect\":{\"prot\":0,\"mmap_id\":3}}",
                "{\"Hello\":{}}",
                "{\"MmapList\":{}}",
                "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"SGVsbG8=\","
                "\"encoding\":\"base64\"}}",
                "{\"MmapWrite\":{\"data\":\"\",\"encoding\":\"base64\",\"offset\":0,\"mmap_id\":1}"
                "}",
                "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[72,101,108,108,111]}}",
                "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[],\"encoding\":\"array\"}}",
                "{\"MmapWrite\":{\"encoding\":\"array\",\"data\":[0,255,10,9],\"offset\":7,"
                "\"mmap_id\":2}}",
                /* The original's shapes without an offset, and the calls on ranges. */
                "{\"MmapRead\":{\"mmap_id\":1,\"length\":4096}}",
                "{\"MmapWrite\":{\"mmap_id\":1,\"data\":[1,2]}}",
                "{\"Msync\":{\"mmap_id\":1,\"offset\":4096,\"length\":8192}}",
                "{\"Mprotect\":{\"mmap_id\":1,\"prot\":1,\"offset\":4096}}",
                "{\"Mlock\":{\"mmap_id\":1,\"length\":4096}}",
                "{\"Munlock\":{\"mmap_id\":1}}",
                /* Whitespace wherever JSON allows it, fields in any order. */
                " \t{ \"MmapRead\" :\n{ \"length\" : 0 ,\"encoding\": \"array\" , \"offset\"\r:"
                "9223372036854775807,\"mmap_id\":\t12 } }\r\n ",
                "{\"MmapWrite\": {\"data\": [ 1 , 2 ,3 ] , \"mmap_id\": 1, \"offset\": 0}}",
                " {\"Hello\" : { } }\r",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                mcd_request r = parse_fast_ok(lines[i]);
                mcd_request_done(&r);
        }

        mcd_request r = parse_fast_ok(lines[0]);
        cr_assert(eq(int, r.call, MCD_CALL_MMAP_READ));
        cr_assert(eq(u64, r.mmap_id, 1));
        cr_assert(eq(u64, r.offset, 1044480));
        cr_assert(eq(u64, r.length, 4096));
        cr_assert(r.has_length, "as the full decoder sets it");
        cr_assert(eq(int, r.encoding, MCD_ENCODING_BASE64));
        mcd_request_done(&r);
        r = parse_fast_ok(lines[12]);
        cr_assert(eq(sz, r.data_len, 5));
        cr_assert(eq(int, memcmp(r.data, "Hello", 5), 0));
        mcd_request_done(&r);
        r = parse_fast_ok(lines[13]);
        cr_assert(not(eq(ptr, r.data, NULL)), "no bytes, and still a valid pointer");
        cr_assert(eq(sz, r.data_len, 0));
        mcd_request_done(&r);
}

Test(protocol, fast_path_leaves_other_spellings_to_the_decoder) {
        static const char *const lines[] = {
                /* Escapes that spell the plain text. */
                "{\"Msync\":{\"mmap\\u005fid\":1}}",
                "{\"\\u0048ello\":{}}",
                "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1,"
                "\"encoding\":\"\\u0062ase64\"}}",
                "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":\"AB\\/C\","
                "\"encoding\":\"base64\"}}",
                /* An array taken before an escaped encoding declines: nothing may leak. */
                "{\"MmapWrite\":{\"data\":[1,2],\"mmap_id\":1,\"offset\":0,"
                "\"encoding\":\"\\u0061rray\"}}",
                /* Mmap and Madvise are always the full decoder's. */
                "{\"Mmap\":{\"path\":\"/x\",\"prot\":1}}",
                "{\"Mmap\":{\"length\":4096,\"prot\":3}}",
                "{\"Madvise\":{\"mmap_id\":1,\"advice\":\"WILLNEED\"}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                mcd_request r = parse_slow_ok(lines[i]);
                mcd_request_done(&r);
        }

        mcd_request r = parse_slow_ok(lines[3]);
        cr_assert(eq(sz, r.data_len, 3));
        cr_assert(eq(int, memcmp(r.data, "\x00\x1f\xc2", 3), 0));
        mcd_request_done(&r);

        /* A duplicate, even spelled differently, is still an error, and the same one, also
         * after the fast path took an array. */
        const char *dup = "{\"MmapWrite\":{\"data\":[1,2],\"mmap_id\":1,\"offset\":0,"
                          "\"encoding\":\"array\",\"mmap\\u005fid\":1}}";
        mc_error err = parse_fails_n(dup, strlen(dup));
        cr_assert(not(eq(ptr, strstr(err.message, "duplicate object key"), NULL)), "%s",
                  err.message);
}

/* xorshift64: the generated lines are the same on every run. */
static uint64_t rnd_state;

static uint64_t rnd(void) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return rnd_state;
}

static size_t rnd_below(size_t n) {
        return (size_t) (rnd() % n);
}

static const char *rnd_pick(const char *const *v, size_t n) {
        return v[rnd_below(n)];
}

#define PICK(v) rnd_pick((v), ELEMENTSOF(v))

/* A line being generated; a fault is one choice made wrong, at 1 in @fault_rate (0: never). */
typedef struct gen {
        char buf[4096];
        size_t len;
        size_t fault_rate;
        bool base64; /* the data is base64 text */
} gen;

static bool fault(const gen *g) {
        return g->fault_rate > 0 && rnd_below(g->fault_rate) == 0;
}

static void put_n(gen *g, const char *s, size_t n) {
        if (g->len + n < sizeof(g->buf)) {
                memcpy(g->buf + g->len, s, n);
                g->len += n;
        }
}

static void put(gen *g, const char *s) {
        put_n(g, s, strlen(s));
}

/* Nothing or JSON whitespace; as a fault, something that is not. */
static void put_ws(gen *g) {
        static const char *const ws[] = {"",  "",   "",   "",   "",   "",
                                         " ", "  ", "\t", "\n", "\r", " \r\n\t"};
        static const char *const bad[] = {"\f", "\v", "\xc2\xa0", "\x1c", "/**/"};

        if (fault(g)) {
                if (rnd_below(5) == 0)
                        put_n(g, "", 1); /* a raw NUL */
                else
                        put(g, PICK(bad));
        } else
                put(g, PICK(ws));
}

/* An integer in [@min, @max], often one at the edges; as a fault, a number that is not one. */
static void put_number(gen *g, uint64_t min, uint64_t max) {
        static const char *const bad[] = {
                "00",
                "01",
                "-0",
                "-1",
                "1.0",
                "1e3",
                "1E3",
                "0.5",
                "1.",
                "+1",
                "0x1",
                "1-",
                "-",
                "",
                "true",
                "null",
                "\"1\"",
                "[1]",
                "{}",
                "1 2",
                "256",
                "8",
                "0",
                "9223372036854775808",
                "18446744073709551615",
                "18446744073709551616",
                "99999999999999999999",
                "0000000000000000001",
                "-9223372036854775808",
                "1\\u0030",
        };
        uint64_t v;
        char buf[32];

        if (fault(g)) {
                put(g, PICK(bad));
                return;
        }
        switch (rnd_below(4)) {
        case 0:
                v = min;
                break;
        case 1:
                v = max;
                break;
        default:
                v = rnd() >> rnd_below(64);
                v = min + v % (max - min + (max - min < UINT64_MAX));
                break;
        }
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        put(g, buf);
}

static void put_data(gen *g) {
        static const char *const bad[] = {
                "null",  "[[1]]",  "[1,]",           "[,1]",     "[256]",        "[-1]",
                "[01]",  "[1.0]",  "[\"a\"]",        "{}",       "[1 2]",        "[1",
                "\"A\"", "\"A=\"", "\"AB=C\"",       "\"A B=\"", "\"SGVsbG9=\"", "\"S\\u0047Vs\"",
                "5",     "true",   "\"\\u0000AAA\"", "[1e0]",
        };
        unsigned char bytes[48];
        size_t n = rnd_below(sizeof(bytes));
        bool base64 = g->base64;
        char buf[128];

        if (fault(g)) {
                if (rnd_below(2)) {
                        put(g, PICK(bad));
                        return;
                }
                base64 = !base64;
        }
        for (size_t i = 0; i < n; i++)
                bytes[i] = (unsigned char) rnd();
        if (base64) {
                size_t k = base64_encode_to(buf + 1, bytes, n);

                buf[0] = '"';
                buf[1 + k] = '"';
                put_n(g, buf, k + 2);
                return;
        }
        put(g, "[");
        for (size_t i = 0; i < n; i++) {
                if (i > 0) {
                        put_ws(g);
                        put(g, ",");
                }
                put_ws(g);
                snprintf(buf, sizeof(buf), "%u", bytes[i]);
                put(g, buf);
        }
        put_ws(g);
        put(g, "]");
}

static void put_value(gen *g, const char *key) {
        static const char *const bad_encodings[] = {
                "\"Base64\"", "\"base64 \"", "\"\\u0062ase64\"", "\"\"",    "1",
                "null",       "\"arr\"",     "\"base6\"",        "\"array", "\"a\\\"\"",
        };
        static const char *const paths[] = {"\"/x\"", "\"/d\\u00e9\"", "\"/a b\""};
        static const char *const bad_paths[] = {"\"\"", "\"x\"", "1", "\"/\\u0000\""};
        static const char *const bools[] = {"true", "false"};
        static const char *const bad_bools[] = {"1", "\"true\"", "null", "tru"};
        static const char *const advice[] = {"\"NORMAL\"", "\"WILLNEED\"", "\"REMOVE\"",
                                             "\"POPULATE_WRITE\""};
        static const char *const bad_advice[] = {"\"willneed\"",       "\"\"",          "4",
                                                 "\"WILL\\u004eEED\"", "\"WILLNEED \"", "null"};

        if (streq(key, "encoding")) {
                if (fault(g))
                        put(g, PICK(bad_encodings));
                else
                        put(g, g->base64 ? "\"base64\"" : "\"array\"");
        } else if (streq(key, "data"))
                put_data(g);
        else if (streq(key, "advice"))
                put(g, fault(g) ? PICK(bad_advice) : PICK(advice));
        else if (streq(key, "path"))
                put(g, fault(g) ? PICK(bad_paths) : PICK(paths));
        else if (streq(key, "shared") || streq(key, "all"))
                put(g, fault(g) ? PICK(bad_bools) : PICK(bools));
        else if (streq(key, "prot"))
                put_number(g, 0, 7);
        else if (streq(key, "mmap_id"))
                put_number(g, 1, INT64_MAX);
        else
                put_number(g, 0, INT64_MAX);
}

/* A request in the shape clients write; a faulty one has a field, value or byte out of place. */
static void gen_request(gen *g) {
        static const struct {
                const char *name;
                const char *fields[5];
                unsigned required; /* bits of fields[] */
        } calls[] = {
                {"Mmap", {"path", "offset", "length", "prot", "shared"}, 1u << 3},
                {"MmapRead", {"mmap_id", "offset", "length", "encoding"}, 5},
                {"MmapWrite", {"mmap_id", "offset", "data", "encoding"}, 5},
                {"Msync", {"mmap_id", "offset", "length"}, 1},
                {"Munmap", {"mmap_id"}, 1},
                {"MmapStats", {"mmap_id"}, 1},
                {"Mprotect", {"mmap_id", "prot", "offset", "length"}, 3},
                {"MmapList", {"all"}, 0},
                {"MmapFd", {"mmap_id"}, 1},
                {"Madvise", {"mmap_id", "advice", "offset", "length"}, 3},
                {"Mlock", {"mmap_id", "offset", "length"}, 1},
                {"Munlock", {"mmap_id", "offset", "length"}, 1},
                {"Hello", {NULL}, 0},
        };
        static const char *const bad_calls[] = {"hello",        "MmapReadX", "Mmap\\u0052ead", "",
                                                "Msync\\u0000", "Msync\"",   "MMAPREAD"};
        static const char *const bad_keys[] = {
                "mmap_id", "offset", "length",  "prot",          "encoding", "data", "path",
                "shared",  "flags",  "Mmap_id", "mmap\\u005fid", "",         "all",  "advice",
        };
        static const char *const tails[] = {"x", "}", ",", "{}", "\"", "0"};
        size_t c = rnd_below(ELEMENTSOF(calls));
        const char *fields[8];
        size_t n = 0;

        g->len = 0;
        g->base64 = rnd_below(2);
        for (size_t i = 0; i < 5 && calls[c].fields[i]; i++) {
                bool required = calls[c].required & (1u << i);

                /* The encoding must be there for base64 data, may be there for an array. */
                if (streq(calls[c].fields[i], "encoding") && streq(calls[c].name, "MmapWrite"))
                        required = g->base64;
                if (required ? !fault(g) : rnd_below(2))
                        fields[n++] = calls[c].fields[i];
        }
        if (fault(g)) { /* an unknown, unexpected or escaped key, or a duplicate */
                const char *extra = rnd_below(2) && n > 0 ? fields[rnd_below(n)] : PICK(bad_keys);

                fields[n++] = extra;
        }
        for (size_t i = n; i > 1; i--) { /* any order */
                size_t j = rnd_below(i);
                const char *f = fields[i - 1];

                fields[i - 1] = fields[j];
                fields[j] = f;
        }

        put_ws(g);
        put(g, "{");
        put_ws(g);
        put(g, "\"");
        put(g, fault(g) ? PICK(bad_calls) : calls[c].name);
        put(g, "\"");
        put_ws(g);
        put(g, ":");
        put_ws(g);
        put(g, "{");
        for (size_t i = 0; i < n; i++) {
                if (i > 0) {
                        put_ws(g);
                        put(g, ",");
                }
                put_ws(g);
                put(g, "\"");
                put(g, fields[i]);
                put(g, "\"");
                put_ws(g);
                put(g, ":");
                put_ws(g);
                put_value(g, fields[i]);
        }
        put_ws(g);
        put(g, "}");
        put_ws(g);
        put(g, "}");
        put_ws(g);
        if (fault(g))
                put(g, PICK(tails));
}

/* Change, insert, delete or cut a byte or two, mostly with bytes that mean something in JSON. */
static void mutate(gen *t) {
        static const char interesting[] = "{}[]\":,\\ \t\r\n0123456789-+.eEu=/";
        size_t rounds = 1 + rnd_below(3);

        for (size_t k = 0; k < rounds && t->len > 0; k++) {
                size_t at = rnd_below(t->len);
                char c = rnd_below(4) ? interesting[rnd_below(sizeof(interesting) - 1)]
                                      : (char) rnd();

                switch (rnd_below(4)) {
                case 0:
                        t->buf[at] = c;
                        break;
                case 1:
                        if (t->len + 1 < sizeof(t->buf)) {
                                memmove(t->buf + at + 1, t->buf + at, t->len - at);
                                t->buf[at] = c;
                                t->len++;
                        }
                        break;
                case 2:
                        memmove(t->buf + at, t->buf + at + 1, t->len - at - 1);
                        t->len--;
                        break;
                default:
                        t->len = at;
                        break;
                }
        }
}

Test(protocol, fast_path_agrees_with_the_decoder_on_generated_lines, .timeout = 120) {
        size_t n_fast = 0, n_valid = 0, n_lines = 40000;
        gen g;

        rnd_state = 0x2545f4914f6cdd1du;
        for (size_t i = 0; i < n_lines; i++) {
                mcd_request r = MCD_REQUEST_INIT;
                mc_error err = MC_ERROR_INIT;
                bool fast = false;

                /* A third clean, a third with faults, a third with bytes mutated. */
                g.fault_rate = i % 3 == 0 ? 0 : 8 + rnd_below(24);
                gen_request(&g);
                if (i % 3 == 2)
                        mutate(&g);
                if (parse_all(g.buf, g.len, &r, &err, &fast) == 0)
                        n_valid++;
                else
                        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT), "%s", err.message);
                n_fast += fast;
                mcd_request_done(&r);
        }
        /* The generator must reach both sides of every decision for this test to mean anything. */
        cr_assert(gt(sz, n_fast, n_lines / 4), "the fast path took only %zu lines", n_fast);
        cr_assert(gt(sz, n_valid - n_fast, n_lines / 50), "only %zu valid lines were not taken",
                  n_valid - n_fast);
        cr_assert(gt(sz, n_lines - n_valid, n_lines / 4), "only %zu invalid lines",
                  n_lines - n_valid);
}

/* ---- large data ------------------------------------------------------------------------------ */

#define MIB (1024 * 1024)

static unsigned char *pattern(size_t n) {
        unsigned char *p = malloc(n);

        cr_assert(not(eq(ptr, p, NULL)));
        for (size_t i = 0; i < n; i++)
                p[i] = (unsigned char) (i * 131 + (i >> 8));
        return p;
}

Test(protocol, megabyte_write_as_array, .timeout = 60) {
        unsigned char *p = pattern(MIB);
        size_t cap = 4 * (size_t) MIB + 128, len;
        char *line = malloc(cap);
        mcd_request r = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;

        cr_assert(not(eq(ptr, line, NULL)));
        len = (size_t) snprintf(line, cap, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[");
        for (size_t i = 0; i < MIB; i++)
                len += (size_t) snprintf(line + len, cap - len, i ? ",%u" : "%u", p[i]);
        len += (size_t) snprintf(line + len, cap - len, "]}}");

        bool fast = false;
        cr_assert(eq(int, parse_all(line, len, &r, &err, &fast), 0), "%s", err.message);
        cr_assert(fast, "a plain array of bytes goes by the fast path");
        cr_assert(eq(sz, r.data_len, (size_t) MIB));
        cr_assert(eq(int, memcmp(r.data, p, MIB), 0));
        mcd_request_done(&r);
        free(line);
        free(p);
}

Test(protocol, megabyte_write_as_base64, .timeout = 60) {
        unsigned char *p = pattern(MIB);
        char *b64 = base64_encode(p, MIB);
        size_t len = strlen(b64) + 128;
        char *line = malloc(len);
        mcd_request r = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        int n;

        cr_assert(not(eq(ptr, b64, NULL)));
        cr_assert(not(eq(ptr, line, NULL)));
        n = snprintf(line, len,
                     "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"encoding\":\"base64\",\"data\":"
                     "\"%s\"}}",
                     b64);
        bool fast = false;
        cr_assert(eq(int, parse_all(line, (size_t) n, &r, &err, &fast), 0), "%s", err.message);
        cr_assert(fast, "base64 data goes by the fast path");
        cr_assert(eq(sz, r.data_len, (size_t) MIB));
        cr_assert(eq(int, memcmp(r.data, p, MIB), 0));
        mcd_request_done(&r);
        free(line);
        free(b64);
        free(p);
}

Test(protocol, megabyte_read_replies, .timeout = 60) {
        unsigned char *p = pattern(MIB);
        mcd_buf b = MCD_BUF_INIT;
        json_t *j, *data;

        cr_assert(eq(int, mcd_reply_data(&b, p, MIB, MCD_ENCODING_ARRAY), 0));
        j = reply_json(&b);
        data = json_object_get(j, "data");
        cr_assert(eq(sz, json_array_size(data), (size_t) MIB));
        for (size_t i = 0; i < MIB; i++)
                if (json_integer_value(json_array_get(data, i)) != p[i])
                        cr_fatal("byte %zu differs", i);
        json_decref(j);

        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_data(&b, p, MIB, MCD_ENCODING_BASE64), 0));
        j = reply_json(&b);
        data = json_object_get(j, "data");
        void *back = NULL;
        size_t n = 0;
        cr_assert(eq(
                int,
                base64_decode(json_string_value(data), json_string_length(data), &back, &n, NULL),
                0));
        cr_assert(eq(sz, n, (size_t) MIB));
        cr_assert(eq(int, memcmp(back, p, MIB), 0));
        free(back);
        json_decref(j);
        mcd_buf_done(&b);
        free(p);
}

/* ---- replies, byte for byte ------------------------------------------------------------------ */

Test(protocol, reply_success_and_mmap) {
        mcd_buf b = MCD_BUF_INIT;

        cr_assert(eq(int, mcd_reply_success(&b), 0));
        buf_is(&b, "{\"status\":\"success\"}\n");
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_mmap(&b, 1, 4096), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[0,0,0,1],\"mmap_id\":1,\"length\":4096}\n");
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_mmap(&b, 0x01020304, 0), 0));
        buf_is(&b,
               "{\"status\":\"success\",\"data\":[1,2,3,4],\"mmap_id\":16909060,\"length\":0}\n");
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_mmap(&b, UINT32_MAX, 1), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[255,255,255,255],\"mmap_id\":4294967295,"
                   "\"length\":1}\n");
        mcd_buf_consume(&b, b.len);

        /* Beyond 32 bits: eight bytes, big-endian. */
        cr_assert(eq(int, mcd_reply_mmap(&b, (uint64_t) UINT32_MAX + 1, 1), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[0,0,0,1,0,0,0,0],\"mmap_id\":4294967296,"
                   "\"length\":1}\n");
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_mmap(&b, (uint64_t) INT64_MAX, UINT64_MAX), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[127,255,255,255,255,255,255,255],"
                   "\"mmap_id\":9223372036854775807,\"length\":18446744073709551615}\n");
        mcd_buf_done(&b);
}

Test(protocol, reply_data) {
        mcd_buf b = MCD_BUF_INIT;

        cr_assert(eq(int, mcd_reply_data(&b, "Hello", 5, MCD_ENCODING_ARRAY), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[72,101,108,108,111]}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_data(&b, "Hello", 5, MCD_ENCODING_BASE64), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":\"SGVsbG8=\"}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_data(&b, NULL, 0, MCD_ENCODING_ARRAY), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[]}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_data(&b, NULL, 0, MCD_ENCODING_BASE64), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":\"\"}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_data(&b, "\x00\x09\x0a\x63\x64\xc7\xff", 7, MCD_ENCODING_ARRAY),
                     0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[0,9,10,99,100,199,255]}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_data(&b, "x", 1, (mcd_encoding) 7), -EINVAL));
        cr_assert(eq(sz, b.len, 0));

        /* Every byte value, in the array form, against jansson's reading of it. */
        unsigned char all[256];
        for (int i = 0; i < 256; i++)
                all[i] = (unsigned char) (255 - i);
        cr_assert(eq(int, mcd_reply_data(&b, all, 256, MCD_ENCODING_ARRAY), 0));
        json_t *j = reply_json(&b), *data = json_object_get(j, "data");
        cr_assert(eq(sz, json_array_size(data), 256));
        for (int i = 0; i < 256; i++)
                cr_assert(eq(i64, json_integer_value(json_array_get(data, (size_t) i)), 255 - i));
        json_decref(j);
        mcd_buf_done(&b);
}

Test(protocol, reply_stats_and_list) {
        mcd_buf b = MCD_BUF_INIT;
        const mcd_stats s = {
                .id = 1,
                .path = "/data/myfile.dat",
                .offset = 0,
                .length = 4096,
                .prot = 3,
                .shared = true,
                .owner_pid = 42,
        };
        const mcd_stats anon = {.id = 7, .length = 8192, .prot = 5, .owner_pid = 1234567};
        const char *one = "{\"id\":1,\"path\":\"/data/myfile.dat\",\"offset\":0,\"length\":4096,"
                          "\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                          "\"flags\":\"Shared\",\"owner_pid\":42}";
        const char *two = "{\"id\":7,\"path\":null,\"offset\":0,\"length\":8192,"
                          "\"prot\":{\"read\":true,\"write\":false,\"exec\":true},"
                          "\"flags\":\"Private\",\"owner_pid\":1234567}";
        char expected[1024];

        cr_assert(eq(int, mcd_reply_stats(&b, &s), 0));
        snprintf(expected, sizeof(expected), "{\"status\":\"success\",\"data\":%s}\n", one);
        buf_is(&b, expected);
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_stats(&b, &anon), 0));
        snprintf(expected, sizeof(expected), "{\"status\":\"success\",\"data\":%s}\n", two);
        buf_is(&b, expected);
        mcd_buf_consume(&b, b.len);

        const mcd_stats items[] = {s, anon};
        cr_assert(eq(int, mcd_reply_list(&b, items, 2), 0));
        snprintf(expected, sizeof(expected), "{\"status\":\"success\",\"data\":[%s,%s]}\n", one,
                 two);
        buf_is(&b, expected);
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_list(&b, NULL, 0), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":[]}\n");
        mcd_buf_done(&b);
}

Test(protocol, reply_msync_says_whether_it_wrote) {
        mcd_buf b = MCD_BUF_INIT;

        cr_assert(eq(int, mcd_reply_msync(&b, true), 0));
        buf_is(&b, "{\"status\":\"success\",\"written\":true}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_msync(&b, false), 0));
        buf_is(&b, "{\"status\":\"success\",\"written\":false}\n");
        mcd_buf_done(&b);
}

Test(protocol, reply_stats_with_ranges_locked_and_faulted) {
        static const mc_mapping_range ranges[] = {
                {0, 4096, 3}, {4096, 4096, 1}, {8192, UINT64_C(9223372036854767615), 0}};
        mcd_buf b = MCD_BUF_INIT;
        mcd_stats s = {
                .id = 2,
                .path = "/f",
                .length = UINT64_C(9223372036854775807),
                .prot = 3,
                .owner_pid = 42,
                .locked = 8192,
                .faulted = true,
                .ranges = ranges,
                .n_ranges = ELEMENTSOF(ranges),
        };
        const char *one =
                "{\"id\":2,\"path\":\"/f\",\"offset\":0,\"length\":9223372036854775807,"
                "\"prot\":{\"read\":true,\"write\":true,\"exec\":false},"
                "\"flags\":\"Private\",\"owner_pid\":42,\"locked\":8192,\"faulted\":true,"
                "\"ranges\":[{\"offset\":0,\"length\":4096,\"prot\":{\"read\":true,"
                "\"write\":true,\"exec\":false}},{\"offset\":4096,\"length\":4096,"
                "\"prot\":{\"read\":true,\"write\":false,\"exec\":false}},{\"offset\":8192,"
                "\"length\":9223372036854767615,\"prot\":{\"read\":false,\"write\":false,"
                "\"exec\":false}}]}";
        char expected[1024];

        cr_assert(eq(int, mcd_reply_stats(&b, &s), 0));
        snprintf(expected, sizeof(expected), "{\"status\":\"success\",\"data\":%s}\n", one);
        buf_is(&b, expected);
        json_decref(reply_json(&b));
        mcd_buf_consume(&b, b.len);
        const mcd_stats items[] = {s, s};
        cr_assert(eq(int, mcd_reply_list(&b, items, 2), 0));
        snprintf(expected, sizeof(expected), "{\"status\":\"success\",\"data\":[%s,%s]}\n", one,
                 one);
        buf_is(&b, expected);
        mcd_buf_done(&b);
}

/* The largest ranges list fits its reservation (ASan checks the writes). */
Test(protocol, reply_stats_with_many_ranges) {
        size_t n = 100000;
        mc_mapping_range *r = calloc(n, sizeof(*r));
        mcd_buf b = MCD_BUF_INIT;
        mcd_stats s = {.id = INT64_MAX, .owner_pid = INT32_MIN, .locked = INT64_MAX};
        json_t *j;

        cr_assert(not(eq(ptr, r, NULL)));
        for (size_t i = 0; i < n; i++)
                r[i] = (mc_mapping_range){INT64_MAX - i, INT64_MAX, 7};
        s.ranges = r;
        s.n_ranges = n;
        cr_assert(eq(int, mcd_reply_stats(&b, &s), 0));
        j = reply_json(&b);
        cr_assert(
                eq(sz, json_array_size(json_object_get(json_object_get(j, "data"), "ranges")), n));
        json_decref(j);
        mcd_buf_done(&b);
        free(r);
}

Test(protocol, reply_fd_and_hello) {
        mcd_buf b = MCD_BUF_INIT;

        cr_assert(eq(int, mcd_reply_fd(&b, 1, 8192, 4096, true), 0));
        buf_is(&b, "{\"status\":\"success\",\"mmap_id\":1,\"offset\":8192,\"length\":4096,"
                   "\"writable\":true}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_fd(&b, 2, 0, 0, false), 0));
        buf_is(&b, "{\"status\":\"success\",\"mmap_id\":2,\"offset\":0,\"length\":0,"
                   "\"writable\":false}\n");
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_hello(&b, MCD_CAP_ALL, 42, 1000), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":{\"daemon\":\"memcapd\",\"version\":"
                   "\"" MEMCAP_VERSION_STRING "\","
                   "\"protocol\":1,\"capabilities\":[\"FileRead\",\"FileWrite\",\"SystemInfo\","
                   "\"FdPass\",\"MemLock\"],\"pid\":42,\"uid\":1000}}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_hello(&b, MCD_CAP_FILE_READ | MCD_CAP_FD_PASS, 1, 0), 0));
        buf_is(&b,
               "{\"status\":\"success\",\"data\":{\"daemon\":\"memcapd\",\"version\":"
               "\"" MEMCAP_VERSION_STRING "\","
               "\"protocol\":1,\"capabilities\":[\"FileRead\",\"FdPass\"],\"pid\":1,\"uid\":0}}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_hello(&b, 0, 7, 4294967294u), 0));
        buf_is(&b, "{\"status\":\"success\",\"data\":{\"daemon\":\"memcapd\",\"version\":"
                   "\"" MEMCAP_VERSION_STRING "\","
                   "\"protocol\":1,\"capabilities\":[],\"pid\":7,\"uid\":4294967294}}\n");
        mcd_buf_done(&b);
}

Test(protocol, reply_errors) {
        mcd_buf b = MCD_BUF_INIT;
        mc_error e = {.kind = MC_ERR_NOT_FOUND, .sys_errno = ENOENT};

        snprintf(e.message, sizeof(e.message), "Mmap 7 not found");
        cr_assert(eq(int, mcd_reply_error(&b, &e, "Munmap"), 0));
        buf_is(&b, "{\"status\":\"error\",\"kind\":\"NotFound\",\"code\":\"core.memory.NotFound\","
                   "\"message\":\"Munmap failed: Mmap 7 "
                   "not found\",\"errno\":2}\n");
        mcd_buf_consume(&b, b.len);

        e.sys_errno = 0;
        e.kind = MC_ERR_POLICY_VIOLATION;
        cr_assert(eq(int, mcd_reply_error(&b, &e, "Mmap"), 0));
        buf_is(&b, "{\"status\":\"error\",\"kind\":\"PolicyViolation\",\"code\":\"core.memory."
                   "PolicyViolation\",\"message\":\"Mmap failed: Mmap "
                   "7 not found\"}\n");
        mcd_buf_consume(&b, b.len);

        /* A request that did not parse: its message already names the call. */
        mcd_request r = MCD_REQUEST_INIT;
        cr_assert(eq(int, parse_n("{\"Msync\":{}}", 12, &r, &e), -EINVAL));
        cr_assert(eq(int, mcd_reply_error(&b, &e, NULL), 0));
        buf_is(&b, "{\"status\":\"error\",\"kind\":\"InvalidArgument\",\"code\":\"core.memory."
                   "InvalidArgument\",\"message\":\"Msync: missing "
                   "field 'mmap_id'\",\"errno\":22}\n");
        mcd_buf_consume(&b, b.len);

        cr_assert(eq(int, mcd_reply_denied(&b, "uid 1000 lacks FileWrite"), 0));
        buf_is(&b, "{\"status\":\"permission_denied\",\"kind\":\"PermissionDenied\","
                   "\"code\":\"core.memory.PermissionDenied\",\"reason\":\"uid 1000 lacks "
                   "FileWrite\"}\n");
        mcd_buf_consume(&b, b.len);
        cr_assert(eq(int, mcd_reply_denied(&b, NULL), 0));
        buf_is(&b, "{\"status\":\"permission_denied\",\"kind\":\"PermissionDenied\","
                   "\"code\":\"core.memory.PermissionDenied\",\"reason\":\"\"}\n");

        /* A message that fills the whole buffer, unterminated: bounded by its size. */
        mcd_buf_consume(&b, b.len);
        memset(e.message, 'm', sizeof(e.message));
        cr_assert(eq(int, mcd_reply_error(&b, &e, NULL), 0));
        json_t *j = reply_json(&b);
        cr_assert(eq(sz, json_string_length(json_object_get(j, "message")), sizeof(e.message)));
        json_decref(j);
        mcd_buf_done(&b);
}

Test(protocol, strings_are_escaped) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"/plain", "\"/plain\""},
                {"/q\"b\\s/", "\"/q\\\"b\\\\s/\""},
                {"/\b\f\n\r\t", "\"/\\b\\f\\n\\r\\t\""},
                {"/\x01\x1f\x7f", "\"/\\u0001\\u001f\x7f\""},
                {"/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                 "\"/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
                {"/\xff", "\"/\\u00ff\""},
                {"/\xc3", "\"/\\u00c3\""},                                  /* truncated */
                {"/\xc3z", "\"/\\u00c3z\""},                                /* bad continuation */
                {"/\xc0\xaf", "\"/\\u00c0\\u00af\""},                       /* overlong */
                {"/\xe0\x80\xaf", "\"/\\u00e0\\u0080\\u00af\""},            /* overlong */
                {"/\xed\xa0\x80", "\"/\\u00ed\\u00a0\\u0080\""},            /* surrogate */
                {"/\xf4\x90\x80\x80", "\"/\\u00f4\\u0090\\u0080\\u0080\""}, /* > U+10FFFF */
                {"/\xf4\x8f\xbf\xbf", "\"/\xf4\x8f\xbf\xbf\""},             /* U+10FFFF */
                {"/\xe2\x80\xa8", "\"/\xe2\x80\xa8\""}, /* U+2028 is valid JSON */
                {"/\x80", "\"/\\u0080\""},
        };
        mcd_buf b = MCD_BUF_INIT;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                mcd_stats s = {.id = 1, .path = cases[i].in};
                char expected[512];

                snprintf(expected, sizeof(expected),
                         "{\"status\":\"success\",\"data\":{\"id\":1,\"path\":%s,\"offset\":0,"
                         "\"length\":0,\"prot\":{\"read\":false,\"write\":false,\"exec\":false},"
                         "\"flags\":\"Private\",\"owner_pid\":0}}\n",
                         cases[i].out);
                cr_assert(eq(int, mcd_reply_stats(&b, &s), 0));
                buf_is(&b, expected);
                json_decref(reply_json(&b));
                mcd_buf_consume(&b, b.len);
        }

        /* Every byte value in a message: valid JSON, one line. */
        mc_error e = {.kind = MC_ERR_IO, .sys_errno = EIO};
        for (int i = 0; i < 255; i++)
                e.message[i] = (char) (i + 1);
        e.message[255] = 0;
        cr_assert(eq(int, mcd_reply_error(&b, &e, "Ms\"ync\n"), 0));
        json_t *j = reply_json(&b);
        const char *m = json_string_value(json_object_get(j, "message"));
        cr_assert(eq(int, strncmp(m, "Ms\"ync\n failed: \x01\x02", 18), 0));
        json_decref(j);
        mcd_buf_done(&b);
}

Test(protocol, replies_append_in_order) {
        mcd_buf b = MCD_BUF_INIT;

        cr_assert(eq(int, mcd_reply_success(&b), 0));
        cr_assert(eq(int, mcd_reply_mmap(&b, 3, 10), 0));
        cr_assert(eq(int, mcd_reply_success(&b), 0));
        buf_is(&b, "{\"status\":\"success\"}\n"
                   "{\"status\":\"success\",\"data\":[0,0,0,3],\"mmap_id\":3,\"length\":10}\n"
                   "{\"status\":\"success\"}\n");
        mcd_buf_consume(&b, 21);
        buf_is(&b, "{\"status\":\"success\",\"data\":[0,0,0,3],\"mmap_id\":3,\"length\":10}\n"
                   "{\"status\":\"success\"}\n");
        mcd_buf_consume(&b, 1000);
        cr_assert(eq(sz, b.len, 0));
        cr_assert(not(eq(ptr, b.data, NULL)), "consume keeps the storage");
        mcd_buf_done(&b);
        cr_assert(eq(ptr, b.data, NULL));
        cr_assert(eq(sz, b.cap, 0));
}

Test(protocol, replies_that_cannot_fit_fail_cleanly) {
        mcd_buf b = MCD_BUF_INIT;
        /* Never read: the size check comes first. */
        const void *fake = (const void *) 1;

        cr_assert(eq(int, mcd_reply_success(&b), 0));
        size_t len = b.len;
        cr_assert(eq(int, mcd_reply_data(&b, fake, SIZE_MAX / 2, MCD_ENCODING_ARRAY), -ENOMEM));
        cr_assert(eq(int, mcd_reply_data(&b, fake, SIZE_MAX, MCD_ENCODING_BASE64), -ENOMEM));
        cr_assert(
                eq(int, mcd_reply_data(&b, fake, SIZE_MAX / 4 * 3, MCD_ENCODING_BASE64), -ENOMEM));
        cr_assert(eq(int, mcd_buf_reserve(&b, SIZE_MAX), -ENOMEM));
        cr_assert(eq(int, mcd_buf_reserve(&b, SIZE_MAX / 2), -ENOMEM));
        /* The buffer is exactly as before each failure. */
        cr_assert(eq(sz, b.len, len));
        buf_is(&b, "{\"status\":\"success\"}\n");
        mcd_buf_done(&b);
}

/* ---- allocation failures inside the parser --------------------------------------------------- */

static int allocs_left;

static void *failing_malloc(size_t n) {
        if (allocs_left-- <= 0)
                return NULL;
        return malloc(n);
}

Test(protocol, parser_out_of_memory_is_reported) {
        static const char *const lines[] = {
                "{\"Mmap\":{\"path\":\"/data/x\",\"length\":4096,\"prot\":3,\"shared\":true}}",
                "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[1,2,3,4,5,6,7,8,9]}}",
                "{\"MmapRead\":{\"mmap_id\":1,\"offset\":0,\"length\":1e400}}",
        };
        int n_enomem = 0;

        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                bool succeeded = false;

                for (int n = 0; n < 200 && !succeeded; n++) {
                        mcd_request r = MCD_REQUEST_INIT;
                        mc_error err = MC_ERROR_INIT;
                        int res;

                        allocs_left = n;
                        json_set_alloc_funcs(failing_malloc, free);
                        res = parse_n(lines[i], strlen(lines[i]), &r, &err);
                        json_set_alloc_funcs(malloc, free);
                        if (res == 0) {
                                succeeded = true;
                                mcd_request_done(&r);
                                continue;
                        }
                        /*
                         * jansson reports some of its allocation failures as syntax errors
                         * ("string or '}' expected"), so InvalidArgument is possible too; what
                         * matters is a clean failure: no crash, no leak, a filled error.
                         */
                        if (res == -ENOMEM)
                                cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
                        else
                                cr_assert(eq(int, res, -EINVAL), "line %zu, %d allocations: %d", i,
                                          n, res);
                        cr_assert(gt(sz, strlen(err.message), 0));
                        n_enomem += res == -ENOMEM;
                }
                cr_assert(i == 2 || succeeded, "line %zu never parsed", i);
        }
        cr_assert(gt(int, n_enomem, 0), "no allocation failure was reported as OutOfMemory");
}

/* ---- base64 ---------------------------------------------------------------------------------- */

/* A plain reference encoder to check the fast one against. */
static void ref_encode(const unsigned char *p, size_t n, char *out) {
        static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;

        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t) p[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t) p[i + 1] << 8;
                if (i + 2 < n)
                        v |= p[i + 2];
                out[o++] = a[v >> 18];
                out[o++] = a[(v >> 12) & 63];
                out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < n ? a[v & 63] : '=';
        }
        out[o] = 0;
}

Test(protocol, base64_round_trips) {
        unsigned char in[256], out[256];

        for (unsigned seed = 0; seed < 8; seed++)
                for (size_t n = 0; n <= 70; n++) {
                        char ref[400], *enc;
                        size_t len, sz;

                        for (size_t i = 0; i < n; i++)
                                in[i] = (unsigned char) (seed * 97 + i * 37 + (i >> 2));
                        ref_encode(in, n, ref);
                        enc = base64_encode(in, n);
                        cr_assert(not(eq(ptr, enc, NULL)));
                        cr_assert(eq(str, enc, ref), "n=%zu", n);
                        cr_assert(base64_encoded_size(n, &sz));
                        cr_assert(eq(sz, sz, strlen(enc)));
                        cr_assert(eq(int, base64_decode_to(enc, strlen(enc), out, &len, NULL), 0));
                        cr_assert(eq(sz, len, n));
                        cr_assert(eq(int, memcmp(in, out, n), 0), "n=%zu", n);
                        free(enc);
                }

        /* All byte values, at each of the three alignments. */
        for (int i = 0; i < 256; i++)
                in[i] = (unsigned char) i;
        for (size_t skip = 0; skip < 3; skip++) {
                char enc[400];
                void *back;
                size_t len;

                enc[base64_encode_to(enc, in + skip, 256 - skip)] = 0;
                char ref[400];
                ref_encode(in + skip, 256 - skip, ref);
                cr_assert(eq(str, enc, ref));
                cr_assert(eq(int, base64_decode(enc, strlen(enc), &back, &len, NULL), 0));
                cr_assert(eq(sz, len, 256 - skip));
                cr_assert(eq(int, memcmp(back, in + skip, len), 0));
                free(back);
        }
}

Test(protocol, base64_known_vectors) {
        /* RFC 4648 section 10. */
        static const char *const v[][2] = {{"", ""},
                                           {"f", "Zg=="},
                                           {"fo", "Zm8="},
                                           {"foo", "Zm9v"},
                                           {"foob", "Zm9vYg=="},
                                           {"fooba", "Zm9vYmE="},
                                           {"foobar", "Zm9vYmFy"}};

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                char *e = base64_encode(v[i][0], strlen(v[i][0]));
                unsigned char out[16];
                size_t len;

                cr_assert(eq(str, e, (char *) v[i][1]));
                free(e);
                cr_assert(eq(int, base64_decode_to(v[i][1], strlen(v[i][1]), out, &len, NULL), 0));
                cr_assert(eq(sz, len, strlen(v[i][0])));
                cr_assert(eq(int, memcmp(out, v[i][0], len), 0));
        }
}

Test(protocol, base64_decoding_is_strict_and_canonical) {
        /*
         * Change any one character of valid text to any byte: the result either fails to decode,
         * or it decodes to bytes whose encoding is exactly that text (no second spelling).
         */
        unsigned char in[12], out[16];

        for (size_t n = 1; n <= sizeof(in); n++) {
                char enc[32], t[32];
                size_t elen;

                for (size_t i = 0; i < n; i++)
                        in[i] = (unsigned char) (i * 53 + n);
                elen = base64_encode_to(enc, in, n);
                for (size_t pos = 0; pos < elen; pos++)
                        for (int c = 0; c < 256; c++) {
                                size_t len, bad = 999;
                                char again[32];

                                memcpy(t, enc, elen);
                                t[pos] = (char) c;
                                if (base64_decode_to(t, elen, out, &len, &bad) < 0) {
                                        cr_assert(lt(sz, bad, elen));
                                        continue;
                                }
                                cr_assert(eq(sz, base64_encode_to(again, out, len), elen));
                                cr_assert(eq(int, memcmp(again, t, elen), 0),
                                          "'%.*s' decoded but is not canonical", (int) elen, t);
                        }
        }
        size_t bad = 0, len;
        cr_assert(eq(int, base64_decode_to("Zm9", 3, in, &len, &bad), -EINVAL));
        cr_assert(eq(sz, bad, 3));
        void *p = NULL;
        cr_assert(eq(int, base64_decode("Zm9v\n", 5, &p, &len, NULL), -EINVAL));
        cr_assert(eq(int, base64_decode("Zm9v Zm9v", 9, &p, &len, NULL), -EINVAL));
        cr_assert(eq(int, base64_decode("Zm9vZm9v\r\n", 10, &p, &len, NULL), -EINVAL));
        cr_assert(eq(int, base64_decode("Zm9-", 4, &p, &len, NULL), -EINVAL));
        cr_assert(eq(ptr, p, NULL));
        cr_assert(eq(int, base64_decode("", 0, &p, &len, NULL), 0));
        cr_assert(not(eq(ptr, p, NULL)));
        cr_assert(eq(sz, len, 0));
        free(p);
        cr_assert(not(base64_encoded_size(SIZE_MAX, &len)));
        cr_assert(eq(ptr, base64_encode("", SIZE_MAX), NULL));
}

Test(protocol, base64_decoding_writes_only_its_room) {
        /* Each group is stored four bytes at a time: into an exact-size heap buffer,
         * AddressSanitizer sees any byte written past base64_decoded_max(). */
        unsigned char in[200];

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (unsigned char) (i * 151 + 7);
        for (size_t n = 0; n <= sizeof(in); n++) {
                char enc[300];
                size_t elen = base64_encode_to(enc, in, n), len = 0;
                unsigned char *out = malloc(MC_MAX(base64_decoded_max(elen), (size_t) 1));

                cr_assert(not(eq(ptr, out, NULL)));
                cr_assert(eq(int, base64_decode_to(enc, elen, out, &len, NULL), 0), "n=%zu", n);
                cr_assert(eq(sz, len, n));
                cr_assert(eq(int, memcmp(out, in, n), 0), "n=%zu", n);
                free(out);
        }
}

Test(protocol, base64_reports_the_first_bad_character_anywhere) {
        static const unsigned char bad[] = {'=', '-', '_', ' ', '\n', 0, 0x80, 0xff, '"', '\\'};
        unsigned char in[120], out[160];
        char enc[160];
        size_t elen;

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (unsigned char) (i * 29 + 3);
        elen = base64_encode_to(enc, in, sizeof(in));
        cr_assert(eq(sz, elen, 160));
        for (size_t pos = 0; pos < elen; pos++)
                for (size_t k = 0; k < sizeof(bad); k++) {
                        char t[160];
                        size_t len = 12345, at = 999;

                        memcpy(t, enc, elen);
                        t[pos] = (char) bad[k];
                        /* '=' is padding in the last two places: a valid text there, or not. */
                        if (bad[k] == '=' && pos >= elen - 2)
                                continue;
                        cr_assert(eq(int, base64_decode_to(t, elen, out, &len, &at), -EINVAL),
                                  "byte 0x%02x at %zu", bad[k], pos);
                        cr_assert(eq(sz, at, pos), "byte 0x%02x at %zu", bad[k], pos);
                        cr_assert(eq(sz, len, 12345), "untouched on failure");
                }
}
