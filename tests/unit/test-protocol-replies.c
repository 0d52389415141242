/* SPDX-License-Identifier: MIT */
/*
 * memcapd's codec on large data, its replies byte for byte, allocation failures inside the
 * parser, and base64.
 */

#include "protocol-suite.h"

/* ---- large data ------------------------------------------------------------------------------ */

unsigned char *pattern(size_t n) {
        unsigned char *p = malloc(n);

        cr_assert(not(eq(ptr, p, NULL)));
        for (size_t i = 0; i < n; i++)
                p[i] = (unsigned char) (i * 131 + (i >> 8));
        return p;
}

/* @line, a write of the MIB bytes @p, is taken by the fast path (@why) with every byte. */
static void write_is_fast(const char *line, size_t len, const unsigned char *p, const char *why) {
        mcd_request r = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        bool fast = false;

        cr_assert(eq(int, parse_all(line, len, &r, &err, &fast), 0), "%s", err.message);
        cr_assert(fast, "%s", why);
        cr_assert(eq(sz, r.data_len, (size_t) MIB));
        cr_assert(eq(int, memcmp(r.data, p, MIB), 0));
        mcd_request_done(&r);
}

Test(protocol, megabyte_write_as_array, .timeout = 60) {
        unsigned char *p = pattern(MIB);
        size_t cap = 4 * (size_t) MIB + 128, len;
        char *line = malloc(cap);

        cr_assert(not(eq(ptr, line, NULL)));
        len = (size_t) snprintf(line, cap, "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"data\":[");
        for (size_t i = 0; i < MIB; i++)
                len += (size_t) snprintf(line + len, cap - len, i ? ",%u" : "%u", p[i]);
        len += (size_t) snprintf(line + len, cap - len, "]}}");

        write_is_fast(line, len, p, "a plain array of bytes goes by the fast path");
        free(line);
        free(p);
}

Test(protocol, megabyte_write_as_base64, .timeout = 60) {
        unsigned char *p = pattern(MIB);
        char *b64 = base64_encode(p, MIB);
        size_t len = strlen(b64) + 128;
        char *line = malloc(len);
        int n;

        cr_assert(not(eq(ptr, b64, NULL)));
        cr_assert(not(eq(ptr, line, NULL)));
        n = snprintf(line, len,
                     "{\"MmapWrite\":{\"mmap_id\":1,\"offset\":0,\"encoding\":\"base64\",\"data\":"
                     "\"%s\"}}",
                     b64);
        write_is_fast(line, (size_t) n, p, "base64 data goes by the fast path");
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

/* mcd_reply_stats() of @s writes exactly the success reply whose data is @data. */
static void stats_reply_is(mcd_buf *b, const mcd_stats *s, const char *data) {
        char expected[1024];

        cr_assert(eq(int, mcd_reply_stats(b, s), 0));
        snprintf(expected, sizeof(expected), "{\"status\":\"success\",\"data\":%s}\n", data);
        buf_is(b, expected);
}

/* mcd_reply_list() of @s and @t writes exactly the success reply listing @s_data, @t_data. */
static void list_reply_is(mcd_buf *b, const mcd_stats *s, const char *s_data, const mcd_stats *t,
                          const char *t_data) {
        const mcd_stats items[] = {*s, *t};
        char expected[1024];

        cr_assert(eq(int, mcd_reply_list(b, items, 2), 0));
        snprintf(expected, sizeof(expected), "{\"status\":\"success\",\"data\":[%s,%s]}\n", s_data,
                 t_data);
        buf_is(b, expected);
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

        stats_reply_is(&b, &s, one);
        mcd_buf_consume(&b, b.len);
        stats_reply_is(&b, &anon, two);
        mcd_buf_consume(&b, b.len);
        list_reply_is(&b, &s, one, &anon, two);
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

        stats_reply_is(&b, &s, one);
        json_decref(reply_json(&b));
        mcd_buf_consume(&b, b.len);
        list_reply_is(&b, &s, one, &s, one);
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
                   "\"FdPass\",\"MemLock\",\"Channel\"],\"pid\":42,\"uid\":1000}}\n");
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

int allocs_left;

void *failing_malloc(size_t n) {
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
void ref_encode(const unsigned char *p, size_t n, char *out) {
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
