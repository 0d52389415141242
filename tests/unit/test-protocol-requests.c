/* SPDX-License-Identifier: MIT */
/*
 * memcapd's request decoder: every call with its optional fields present and absent, and every
 * error class, with the call and the field in the message.
 */

#include "protocol-suite.h"

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

/* The request {"@name": @body} is refused with "@name: @why". */
static void call_fails(const char *name, const char *body, const char *why) {
        char line[128], msg[128];

        snprintf(line, sizeof(line), "{\"%s\": %s}", name, body);
        snprintf(msg, sizeof(msg), "%s: %s", name, why);
        parse_fails(line, msg);
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
                char line[128];
                mcd_request r;

                snprintf(line, sizeof(line), "{\"%s\": {\"mmap_id\": 42}}", calls[i].name);
                r = parse_ok(line);
                cr_assert(eq(int, r.call, calls[i].call));
                cr_assert(eq(u64, r.mmap_id, 42));
                cr_assert(eq(str, (char *) mcd_call_name(r.call), (char *) calls[i].name));
                mcd_request_done(&r);
                call_fails(calls[i].name, "{}", "missing field 'mmap_id'");
                call_fails(calls[i].name, "{\"mmap_id\": 1, \"prot\": 1}", "unknown field 'prot'");
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

void base64_fails(const char *b64, const char *message) {
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
