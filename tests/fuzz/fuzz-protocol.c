/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the memcapd protocol codec. The input is one request line (without its
 * newline). It must parse or fail with InvalidArgument/OutOfMemory and a message; when it
 * parses, replies are encoded from its fields (the path, the data, the numbers), and every reply
 * must be exactly one line of valid JSON that says what was put in. The input's bytes also go
 * through the error reply as a message, which fuzzes the string escaper with arbitrary bytes.
 * Whenever the decoder's fast path takes the line, the full decoder must accept it too and
 * build the same request, since the fast path may only ever be a shortcut.
 * Any broken promise traps, so the fuzzer reports it as a crash.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(x)                                                                                   \
        do {                                                                                       \
                if (!(x))                                                                          \
                        __builtin_trap();                                                          \
        } while (0)

/* Take the one reply at the start of @b: one line, valid JSON. Returns it parsed. */
static json_t *take_reply(mcd_buf *b) {
        const char *nl;
        json_error_t e;
        json_t *j;
        size_t n;

        check(b->len > 0);
        nl = memchr(b->data, '\n', b->len);
        check(nl);
        n = (size_t) (nl - b->data) + 1;
        j = json_loadb(b->data, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
        check(j);
        check(json_is_object(j));
        mcd_buf_consume(b, n);
        return j;
}

static void check_success(mcd_buf *b) {
        json_t *j = take_reply(b);

        check(strcmp(json_string_value(json_object_get(j, "status")), "success") == 0);
        json_decref(j);
}

/* The reply's "data" must decode to exactly @bytes. */
static void check_data_reply(mcd_buf *b, const void *bytes, size_t n, mcd_encoding enc) {
        json_t *j = take_reply(b), *d = json_object_get(j, "data");

        if (enc == MCD_ENCODING_BASE64) {
                void *back;
                size_t len;

                check(json_is_string(d));
                check(base64_decode(json_string_value(d), json_string_length(d), &back, &len,
                                    NULL) == 0);
                check(len == n && memcmp(back, bytes, n) == 0);
                free(back);
        } else {
                check(json_is_array(d) && json_array_size(d) == n);
                for (size_t i = 0; i < n; i++)
                        check(json_integer_value(json_array_get(d, i)) ==
                              ((const uint8_t *) bytes)[i]);
        }
        json_decref(j);
}

/* A path written in a reply reads back as itself (paths are valid UTF-8 after parsing), and
 * "ranges" is there exactly when there are some. */
static void check_stats_reply(mcd_buf *b, const char *path, size_t n_ranges) {
        json_t *j = take_reply(b), *d = json_object_get(j, "data");
        json_t *p = json_object_get(d, "path"), *r = json_object_get(d, "ranges");

        if (path)
                check(json_is_string(p) && strcmp(json_string_value(p), path) == 0);
        else
                check(json_is_null(p));
        if (n_ranges)
                check(json_is_array(r) && json_array_size(r) == n_ranges);
        else
                check(!r);
        json_decref(j);
}

static void on_request(const mcd_request *req, const uint8_t *data, size_t size, mcd_buf *b) {
        const mc_mapping_range range = {req->offset, req->length, req->prot};
        mcd_stats s = {
                .id = req->mmap_id,
                .path = req->path,
                .offset = req->offset,
                .length = req->length,
                .prot = req->prot,
                .shared = req->shared,
                .owner_pid = (pid_t) req->offset,
                .locked = req->length,
                .faulted = req->shared,
                .ranges = &range,
                .n_ranges = req->has_length ? 1 : 0,
        };

        check(mcd_call_name(req->call));
        check(req->prot <= MCD_PROT_ALL);
        check(req->offset <= MCD_MAX_U63 && req->length <= MCD_MAX_U63);
        switch (req->call) {
        case MCD_CALL_MMAP:
                check(!req->path || (req->path[0] == '/'));
                check(req->path || (req->has_length && req->offset == 0));
                check(mcd_reply_mmap(b, req->length + 1, req->length) == 0);
                check_success(b);
                break;
        case MCD_CALL_MMAP_READ:
                check(req->mmap_id >= 1);
                /* The input's own bytes stand in for the mapping. */
                check(mcd_reply_data(b, data, size < req->length ? size : req->length,
                                     req->encoding) == 0);
                check_data_reply(b, data, size < req->length ? size : req->length, req->encoding);
                break;
        case MCD_CALL_MMAP_WRITE:
                check(req->data);
                check(mcd_reply_data(b, req->data, req->data_len, MCD_ENCODING_ARRAY) == 0);
                check_data_reply(b, req->data, req->data_len, MCD_ENCODING_ARRAY);
                check(mcd_reply_data(b, req->data, req->data_len, MCD_ENCODING_BASE64) == 0);
                check_data_reply(b, req->data, req->data_len, MCD_ENCODING_BASE64);
                break;
        case MCD_CALL_MSYNC:
                check(mcd_reply_msync(b, req->has_length) == 0);
                check_success(b);
                break;
        case MCD_CALL_MADVISE:
                check(mc_advice_name(req->advice));
                check(mcd_reply_success(b) == 0);
                check_success(b);
                break;
        case MCD_CALL_MMAP_FD:
                check(mcd_reply_fd(b, req->mmap_id, req->mmap_id, req->mmap_id, true) == 0);
                check_success(b);
                break;
        case MCD_CALL_HELLO:
                check(mcd_reply_hello(b, (unsigned) size, (pid_t) size, (uid_t) size) == 0);
                check_success(b);
                break;
        default:
                check(mcd_reply_success(b) == 0);
                check_success(b);
                break;
        }
        check(mcd_reply_stats(b, &s) == 0);
        check_stats_reply(b, req->path, s.n_ranges);
        check(mcd_reply_list(b, &s, 1) == 0);
        json_decref(take_reply(b));
        check(mcd_reply_mmap(b, req->mmap_id, req->length) == 0);
        json_decref(take_reply(b));
}

/* The input as an error message and as a denial reason: arbitrary bytes through the escaper. */
static void on_bytes(const uint8_t *data, size_t size, mcd_buf *b) {
        mc_error e = {.kind = (mc_error_kind) (size % (_MC_ERROR_KIND_MAX + 2)), .sys_errno = 5};
        size_t n = size < sizeof(e.message) - 1 ? size : sizeof(e.message) - 1;
        json_t *j, *expected;
        char *reason;

        memcpy(e.message, data, n);
        e.message[n] = 0;
        check(mcd_reply_error(b, &e, size % 2 ? "Mmap" : NULL) == 0);
        j = take_reply(b);
        /* Valid UTF-8 without NUL comes back byte for byte. */
        expected = json_stringn(e.message, strlen(e.message));
        if (expected && size % 2 == 0)
                check(json_equal(json_object_get(j, "message"), expected));
        json_decref(expected);
        json_decref(j);

        reason = malloc(size + 1);
        check(reason);
        memcpy(reason, data, size);
        reason[size] = 0;
        check(mcd_reply_denied(b, reason) == 0);
        json_decref(take_reply(b));
        free(reason);
}

static bool same_request(const mcd_request *a, const mcd_request *b) {
        if (a->call != b->call || a->mmap_id != b->mmap_id || a->offset != b->offset ||
            a->length != b->length || a->has_length != b->has_length || a->prot != b->prot ||
            a->shared != b->shared || a->all != b->all || a->encoding != b->encoding ||
            a->advice != b->advice || a->data_len != b->data_len)
                return false;
        if (!a->path != !b->path || (a->path && strcmp(a->path, b->path) != 0))
                return false;
        if (!a->data != !b->data || (a->data_len > 0 && memcmp(a->data, b->data, a->data_len)))
                return false;
        return true;
}

/* The fast path against the full decoder, on the same bytes. */
static void check_fast_path(const uint8_t *data, size_t size) {
        mcd_request fast = MCD_REQUEST_INIT, full = MCD_REQUEST_INIT;

        if (!mcd_request_parse_fast((const char *) data, size, &fast)) {
                check(fast.call == _MCD_CALL_MAX);
                return;
        }
        check(mcd_request_parse_full((const char *) data, size, &full, NULL) == 0);
        check(same_request(&fast, &full));
        mcd_request_done(&fast);
        mcd_request_done(&full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        mcd_request req = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mcd_buf b = MCD_BUF_INIT;
        int r;

        r = mcd_request_parse((const char *) data, size, &req, &err);
        if (r < 0) {
                check(r == -EINVAL || r == -ENOMEM);
                check(err.kind == (r == -EINVAL ? MC_ERR_INVALID_ARGUMENT : MC_ERR_OUT_OF_MEMORY));
                check(err.message[0] != 0);
                check(req.call == _MCD_CALL_MAX && !req.path && !req.data);
                check(mcd_reply_error(&b, &err, NULL) == 0);
                json_decref(take_reply(&b));
        } else {
                on_request(&req, data, size, &b);
                mcd_request_done(&req);
        }
        check_fast_path(data, size);
        on_bytes(data, size, &b);
        check(b.len == 0);
        mcd_buf_done(&b);
        return 0;
}
