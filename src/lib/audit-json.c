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
#include "json-escape.h"

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

/*
 * The body of a JSON string for @str (no quotes), escaped by the one module that keeps a record
 * or reply on one line of valid JSON (util/json-escape.h): runs it copies unchanged go in one
 * piece, every other byte gets its escape, and DEL is escaped too, since logs are read on
 * terminals. Never fails except by running out of memory, which loses the whole record.
 */
void mc__jb_esc(mc__jbuf *b, const char *str, size_t n) {
        size_t i = 0;

        while (i < n) {
                size_t run = json_escape_span(str + i, n - i, JSON_ESCAPE_DEL);

                if (run > 0) {
                        jb_put(b, str + i, run);
                        i += run;
                        if (i == n)
                                break;
                }
                if (!jb_reserve(b, JSON_ESCAPE_MAX_PER_BYTE))
                        return;
                b->len = (size_t) (json_escape_byte(b->p + b->len, (unsigned char) str[i]) - b->p);
                i++;
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
