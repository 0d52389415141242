/* SPDX-License-Identifier: MIT */
/*
 * The audit record's JSON writer: the record buffer's growth, the scalars, and the string
 * escaper with its UTF-8 check. A record must always be exactly one line of valid JSON,
 * whatever bytes a caller put into a path or a name, so every string goes through the escaper
 * below.
 *
 * Sections: the record buffer, JSON scalars, JSON strings.
 */

#include <stdlib.h>

#include "audit-json.h"

/* ---- the record buffer ----------------------------------------------------------------------- */

bool mc__jb_grow(mc__jbuf *b, size_t n) {
        size_t need, cap;
        char *p;

        if (b->oom)
                return false;
        if (MC_ADD_OVERFLOW(b->len, n, &need) || MC_MUL_OVERFLOW(b->cap, (size_t) 2, &cap))
                goto fail;
        cap = MC_MAX(cap, need);
        if (b->heap) {
                p = realloc(b->p, cap);
                if (!p)
                        goto fail;
        } else {
                p = malloc(cap);
                if (!p)
                        goto fail;
                memcpy(p, b->p, b->len);
        }
        b->p = p;
        b->cap = cap;
        b->heap = true;
        return true;
fail:
        b->oom = true;
        return false;
}

/* ---- JSON scalars ---------------------------------------------------------------------------- */

static const char hexdigits[] = "0123456789abcdef";

/* Decimal digits of @v at the end of @end; returns the first digit. */
char *mc__fmt_u64(char *end, uint64_t v) {
        do {
                *--end = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        return end;
}

void mc__jb_i64(mc__jbuf *b, int64_t v) {
        char buf[24], *end = buf + sizeof(buf), *s;
        /* The negation is done in unsigned arithmetic so INT64_MIN needs no special case. */
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

        s = mc__fmt_u64(end, u);
        if (v < 0)
                *--s = '-';
        jb_put(b, s, (size_t) (end - s));
}

/*
 * An unsigned quantity (a length, an offset, an id). Values above INT64_MAX are written as a
 * string of decimal digits: MC_LENGTH_ALL (SIZE_MAX) is a legal request length, and jansson --
 * with which the CLI and the tests read the log -- like many JSON readers refuses integers that
 * do not fit a signed 64-bit value. A record that its own tools cannot parse would be lost.
 */
void mc__jb_u64(mc__jbuf *b, uint64_t v) {
        char buf[24], *end = buf + sizeof(buf), *s;
        bool quote = v > (uint64_t) INT64_MAX;

        s = mc__fmt_u64(end, v);
        if (quote)
                jb_putc(b, '"');
        jb_put(b, s, (size_t) (end - s));
        if (quote)
                jb_putc(b, '"');
}

/* "0x7f3a2c000000": addresses and bit sets are easier to read in hex. */
void mc__jb_hex(mc__jbuf *b, uint64_t v) {
        char buf[24], *end = buf + sizeof(buf), *s = end;

        *--s = '"';
        do {
                *--s = hexdigits[v & 0xf];
                v >>= 4;
        } while (v);
        *--s = 'x';
        *--s = '0';
        *--s = '"';
        jb_put(b, s, (size_t) (end - s));
}

/* ---- JSON strings ---------------------------------------------------------------------------- */

/* 0: copy as is; 1: needs an escape; 2: start of a multi-byte sequence (or not UTF-8 at all). */
static const uint8_t esc_class[256] = {
        [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1, [0x80 ... 0xff] = 2,
};

/*
 * Length of the well-formed UTF-8 sequence at @s (of @n bytes, @n >= 1), or 0 when it is not
 * one. Follows RFC 3629 table 3-7 exactly -- no overlong forms, no surrogates, nothing above
 * U+10FFFF -- which is also what strict readers such as jansson accept.
 */
static size_t utf8_seq_len(const uint8_t *s, size_t n) {
        uint8_t c = s[0];
        uint8_t lo = 0x80, hi = 0xbf;
        size_t len;

        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else
                return 0;

        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

static void jb_esc_byte(mc__jbuf *b, uint8_t c) {
        char *p;

        if (!jb_reserve(b, 6))
                return;
        p = b->p + b->len;
        p[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
                p[1] = (char) c;
                b->len += 2;
                return;
        case '\b':
                p[1] = 'b';
                b->len += 2;
                return;
        case '\f':
                p[1] = 'f';
                b->len += 2;
                return;
        case '\n':
                p[1] = 'n';
                b->len += 2;
                return;
        case '\r':
                p[1] = 'r';
                b->len += 2;
                return;
        case '\t':
                p[1] = 't';
                b->len += 2;
                return;
        default:
                p[1] = 'u';
                p[2] = '0';
                p[3] = '0';
                p[4] = hexdigits[c >> 4];
                p[5] = hexdigits[c & 0xf];
                b->len += 6;
                return;
        }
}

/*
 * Whether any of the 8 bytes in @x needs more than a plain copy: below 0x20, '"', '\\', or
 * 0x7f and above. Bit tricks after S. E. Anderson's "Bit Twiddling Hacks" (haszero, hasless,
 * hasmore); they can report a false positive only in a byte above a true one, which is all a
 * yes/no answer for the whole word needs. Lets the common case -- plain ASCII paths and
 * names -- go eight bytes per step.
 */
static inline bool word_needs_escape(uint64_t x) {
        const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
        uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
        uint64_t t = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) |
                     ((x + ones * (127 - 0x7e)) | x);

        return (t & high) != 0;
}

/*
 * The body of a JSON string for @str (no quotes). Runs of plain bytes are copied in one piece;
 * valid UTF-8 is kept as it is. A byte that is not part of valid UTF-8 is written as \u00XX
 * with the byte's value: JSON cannot carry raw bytes, and this keeps every byte visible and
 * recoverable in the log (a reader gets U+0080..U+00FF for them, while a genuine U+0080..U+00FF
 * in the input stays raw UTF-8 in the file and so can still be told apart there). Never fails
 * except by running out of memory, which loses the whole record.
 */
void mc__jb_esc(mc__jbuf *b, const char *str, size_t n) {
        const uint8_t *s = (const uint8_t *) str;
        size_t i = 0;

        while (i < n) {
                size_t run = i, k;

                while (n - run >= 8) {
                        uint64_t x;

                        memcpy(&x, s + run, 8);
                        if (word_needs_escape(x))
                                break;
                        run += 8;
                }
                while (run < n && esc_class[s[run]] == 0)
                        run++;
                if (run > i) {
                        jb_put(b, (const char *) s + i, run - i);
                        i = run;
                        if (i == n)
                                break;
                }
                if (esc_class[s[i]] == 2 && (k = utf8_seq_len(s + i, n - i)) > 0) {
                        jb_put(b, (const char *) s + i, k);
                        i += k;
                } else {
                        jb_esc_byte(b, s[i]);
                        i++;
                }
        }
}

void mc__jb_str_n(mc__jbuf *b, const char *s, size_t n) {
        jb_putc(b, '"');
        mc__jb_esc(b, s, n);
        jb_putc(b, '"');
}

void mc__jb_str(mc__jbuf *b, const char *s) {
        if (!s) {
                jb_lit(b, "null");
                return;
        }
        mc__jb_str_n(b, s, strlen(s));
}

/*
 * A name from one of the library's own static tables (flag names, kind names, outcomes): known
 * to need no escaping, so it is copied in one piece.
 */
void mc__jb_name(mc__jbuf *b, const char *s) {
        size_t n = strlen(s);

        if (!jb_reserve(b, n + 2))
                return;
        b->p[b->len++] = '"';
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len++] = '"';
}
