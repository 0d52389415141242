/* SPDX-License-Identifier: MIT */
/*
 * The protocol suite's TestSuite and the helpers its files share (protocol-suite.h).
 */

#include "protocol-suite.h"

TestSuite(protocol, .fini = mc_test_fini);

/* ---- helpers -------------------------------------------------------------------------------- */

/* Parse @n bytes of @line from a heap copy of exactly that size. */
int parse_n(const char *line, size_t n, mcd_request *ret, mc_error *err) {
        char *copy = malloc(MC_MAX(n, (size_t) 1));
        int r;

        cr_assert(not(eq(ptr, copy, NULL)));
        memcpy(copy, line, n);
        r = mcd_request_parse(copy, n, ret, err);
        free(copy);
        return r;
}

/* Field by field: the two requests say the same thing. */
void request_eq(const mcd_request *a, const mcd_request *b, const char *line, size_t n) {
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
int parse_all(const char *line, size_t n, mcd_request *ret, mc_error *ret_err, bool *ret_fast) {
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

mcd_request parse_ok(const char *line) {
        mcd_request req = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        int r = parse_all(line, strlen(line), &req, &err, NULL);

        cr_assert(eq(int, r, 0), "parsing %s failed: %s", line, err.message);
        return req;
}

/* Parsing must fail with InvalidArgument; returns the message for further checks. */
mc_error parse_fails_n(const char *line, size_t n) {
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

void parse_fails(const char *line, const char *message) {
        mc_error err = parse_fails_n(line, strlen(line));

        cr_assert(eq(str, err.message, (char *) message), "for %s", line);
}

/* The message must contain @part. */
void parse_fails_with(const char *line, const char *part) {
        mc_error err = parse_fails_n(line, strlen(line));

        cr_assert(not(eq(ptr, strstr(err.message, part), NULL)), "for %s: message '%s' lacks '%s'",
                  line, err.message, part);
}

/* The buffer holds exactly @expected. */
void buf_is(const mcd_buf *b, const char *expected) {
        cr_assert(eq(sz, b->len, strlen(expected)), "got %.*s", (int) b->len, b->data);
        cr_assert(eq(int, memcmp(b->data, expected, b->len), 0), "got %.*s", (int) b->len, b->data);
}

/* Every reply is one line of valid JSON (jansson agrees) ending in '\n'; returns it parsed. */
json_t *reply_json(const mcd_buf *b) {
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
