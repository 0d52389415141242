/* SPDX-License-Identifier: MIT */
/*
 * The fast path of the memcapd request decoder: speed only. The requests clients send in bulk
 * (MmapRead, MmapWrite, the calls that take only an id, Hello and MmapList) are decoded here by
 * hand when they have the plain shape every client writes: known keys without escapes, each
 * field at most once in any order, integers as plain decimal digits within their field's range,
 * "encoding" spelled "array" or "base64", "data" as base64 text or an array of plain integers
 * 0-255, JSON whitespace between tokens and nothing after the object. That costs a small
 * fraction of building a jansson tree (about 15 times less for an MmapRead).
 *
 * The contract: the fast path never rejects. A line it does not take whole, for whatever reason,
 * goes to the full decoder (protocol-decode.c), which alone decides whether it is valid and what
 * its error says. So it must accept only lines the full decoder accepts, and produce the same
 * mcd_request (the unit tests and the fuzzer compare the two).
 *
 * Strings are taken as the bytes up to the next '"'. That is exact for every string accepted:
 * each is either compared with a name, and no name holds a backslash, a control character or a
 * byte above 0x7f, or decoded as base64, whose alphabet has none of these either; anything
 * else (an escape, a raw control character, invalid UTF-8) makes the line decline.
 *
 * Each step takes the cursor and returns the cursor past what it read, or NULL to decline; the
 * cursor lives in registers, which matters for the one-number-per-byte arrays.
 */

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "macro.h"
#include "protocol-int.h"

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *fast_ws(const char *p, const char *end) {
        while (p < end && is_ws(*p))
                p++;
        return p;
}

/* Whitespace, then @c. */
static const char *fast_char(const char *p, const char *end, char c) {
        p = fast_ws(p, end);
        return p < end && *p == c ? p + 1 : NULL;
}

/* Whitespace, then a string: its bytes up to the next quote, unchecked (see above). */
static const char *fast_string(const char *p, const char *end, const char **ret, size_t *ret_n) {
        const char *q;

        p = fast_char(p, end, '"');
        if (!p)
                return NULL;
        q = memchr(p, '"', (size_t) (end - p));
        if (!q)
                return NULL;
        *ret = p;
        *ret_n = (size_t) (q - p);
        return q + 1;
}

/* An object key: a string as fast_string() takes it, then the ':' after it. */
static const char *fast_key(const char *p, const char *end, const char **ret, size_t *ret_n) {
        p = fast_string(p, end, ret, ret_n);
        return p ? fast_char(p, end, ':') : NULL;
}

/* The index of the name @s[0..@n) in @names, or -1. @s may hold any bytes, NUL included. */
static int fast_lookup(const char *const *names, size_t n_names, const char *s, size_t n) {
        for (size_t i = 0; i < n_names; i++) {
                const char *name = names[i];
                size_t k = 0;

                while (k < n && name[k] != 0 && name[k] == s[k])
                        k++;
                if (k == n && name[k] == 0)
                        return (int) i;
        }
        return -1;
}

/*
 * Whitespace, then an integer in [@min, @max] written as plain digits without a leading zero.
 * At most 19 digits, which cannot overflow a uint64_t; no field takes more. What follows is
 * checked by the caller, which wants ',', '}' or ']': a fraction or an exponent declines there.
 */
static const char *fast_uint(const char *p, const char *end, uint64_t min, uint64_t max,
                             uint64_t *ret) {
        const char *s;
        uint64_t v = 0;

        p = fast_ws(p, end);
        s = p;
        for (; p < end && is_digit((unsigned char) *p); p++) {
                if (p - s >= 19)
                        return NULL;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (p == s || (s[0] == '0' && p - s > 1) || v < min || v > max)
                return NULL;
        *ret = v;
        return p;
}

/* Whitespace, then ',' (returns the cursor past it) or @close (sets *@ret_closed). */
static const char *fast_next(const char *p, const char *end, char close, bool *ret_closed) {
        p = fast_ws(p, end);
        if (p >= end || (*p != ',' && *p != close))
                return NULL;
        *ret_closed = *p == close;
        return p + 1;
}

/*
 * Whitespace, then an array of bytes, "[" up to its "]", into a buffer it mallocs in *@ret (also
 * for no bytes). Each byte takes at least two characters, its digit and the ',' or ']' after
 * it, so half of what is left of the line is room enough, without a counting pass first.
 */
static const char *fast_bytes(const char *p, const char *end, uint8_t **ret, size_t *ret_n) {
        _cleanup_free_ uint8_t *data = NULL;
        bool closed = false;
        size_t n = 0, cap;
        uint64_t v;

        p = fast_char(p, end, '[');
        if (!p)
                return NULL;
        cap = (size_t) (end - p) / 2 + 1;
        data = malloc(cap);
        if (!data)
                return NULL;
        p = fast_ws(p, end);
        if (p < end && *p == ']') {
                closed = true;
                p++;
        }
        while (!closed) {
                p = fast_uint(p, end, 0, 255, &v);
                if (!p || n >= cap)
                        return NULL;
                data[n++] = (uint8_t) v;
                p = fast_next(p, end, ']', &closed);
                if (!p)
                        return NULL;
        }
        if (cap - n > 4096) { /* give back what a long array did not use */
                uint8_t *d = realloc(data, MC_MAX(n, (size_t) 1));
                if (d)
                        data = d;
        }
        *ret = TAKE_PTR(data);
        *ret_n = n;
        return p;
}

/* Whitespace, then the object of fields of @req->call. */
static const char *fast_fields(const char *p, const char *end, mcd_request *req) {
        static const char *const encodings[] = {
                [MCD_ENCODING_ARRAY] = "array", [MCD_ENCODING_BASE64] = "base64"};
        unsigned allowed = mcd__call_fields[req->call].allowed, seen = 0;
        unsigned required = mcd__call_fields[req->call].required;
        const char *b64 = NULL, *s;
        size_t b64_len = 0, n;
        bool closed = false, has_b64 = false;
        uint64_t u;
        int k;

        p = fast_char(p, end, '{');
        if (!p)
                return NULL;
        p = fast_ws(p, end);
        if (p < end && *p == '}')
                return required == 0 ? p + 1 : NULL;
        while (!closed) {
                p = fast_key(p, end, &s, &n);
                if (!p)
                        return NULL;
                k = fast_lookup(mcd__field_names, _F_MAX, s, n);
                if (k < 0 || !(allowed & BIT(k)) || (seen & BIT(k)))
                        return NULL;
                seen |= BIT(k);
                switch ((field) k) {
                case F_MMAP_ID:
                        p = fast_uint(p, end, 1, MCD_MAX_U63, &req->mmap_id);
                        break;
                case F_OFFSET:
                        p = fast_uint(p, end, 0, MCD_MAX_U63, &req->offset);
                        break;
                case F_LENGTH:
                        p = fast_uint(p, end, 0, MCD_MAX_U63, &req->length);
                        req->has_length = true;
                        break;
                case F_PROT:
                        p = fast_uint(p, end, 0, MCD_PROT_ALL, &u);
                        req->prot = (unsigned) u;
                        break;
                case F_ENCODING:
                        p = fast_string(p, end, &s, &n);
                        k = p ? fast_lookup(encodings, ELEMENTSOF(encodings), s, n) : -1;
                        if (k < 0)
                                p = NULL;
                        else
                                req->encoding = (mcd_encoding) k;
                        break;
                case F_DATA:
                        /* Base64 is decoded once the encoding is known, which may come later;
                         * an array is taken now, and dropped if the encoding says base64. */
                        p = fast_ws(p, end);
                        if (p < end && *p == '"') {
                                p = fast_string(p, end, &b64, &b64_len);
                                has_b64 = true;
                        } else
                                p = fast_bytes(p, end, &req->data, &req->data_len);
                        break;
                default: /* path, shared (Mmap), all and advice: rare, left to the full decoder */
                        p = NULL;
                        break;
                }
                if (p)
                        p = fast_next(p, end, '}', &closed);
                if (!p)
                        return NULL;
        }
        if ((seen & required) != required)
                return NULL;
        if (req->data && req->encoding != MCD_ENCODING_ARRAY)
                return NULL;
        if (has_b64) {
                void *bytes;

                if (req->encoding != MCD_ENCODING_BASE64 ||
                    base64_decode(b64, b64_len, &bytes, &req->data_len, NULL) < 0)
                        return NULL;
                req->data = bytes;
        }
        return p;
}

bool mcd_request_parse_fast(const char *line, size_t len, mcd_request *ret) {
        _cleanup_(mcd_request_done) mcd_request req = MCD_REQUEST_INIT;
        const char *p, *end, *s;
        size_t n;
        int k;

        if (!line)
                return false;
        end = line + len;
        p = fast_char(line, end, '{');
        if (p)
                p = fast_key(p, end, &s, &n);
        if (!p)
                return false;
        k = fast_lookup(mcd__call_names, _MCD_CALL_MAX, s, n);
        if (k < 0 || k == MCD_CALL_MMAP) /* paths need UTF-8 checks: left to jansson */
                return false;
        req.call = (mcd_call) k;
        p = fast_fields(p, end, &req);
        if (p)
                p = fast_char(p, end, '}');
        if (!p || fast_ws(p, end) != end)
                return false;
        *ret = req;
        req = (mcd_request) MCD_REQUEST_INIT;
        return true;
}
