/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 validation and JSON string escaping (see json-escape.h for the rules). Both run on every
 * audit record and on every memcapd reply that carries a string, so the common case, plain ASCII,
 * is tested eight bytes at a time, and runs of plain bytes are copied in one piece.
 *
 * Sections: UTF-8, JSON string escaping.
 */

#include <string.h>

#include "json-escape.h"

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/*
 * What a lead byte allows (RFC 3629, table 3-7): the sequence's length and the range of its
 * second byte, narrower than 0x80..0xbf after E0 and F0 (overlong forms), ED (surrogates) and F4
 * (above U+10FFFF). False for a byte that cannot start a multi-byte sequence: ASCII, a
 * continuation byte, C0, C1 (always overlong) and F5..FF.
 */
static bool lead_byte(uint8_t c, size_t *ret_len, uint8_t *ret_lo, uint8_t *ret_hi) {
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
                return false;
        *ret_len = len;
        *ret_lo = lo;
        *ret_hi = hi;
        return true;
}

static bool is_continuation(uint8_t c) {
        return (c & 0xc0) == 0x80;
}

/* Whether the @n bytes at @s (1 <= @n <= the sequence's length) start a valid sequence. */
static bool valid_prefix(const uint8_t *s, size_t n, uint8_t lo, uint8_t hi) {
        if (n >= 2 && (s[1] < lo || s[1] > hi))
                return false;
        for (size_t i = 2; i < n; i++)
                if (!is_continuation(s[i]))
                        return false;
        return true;
}

size_t utf8_sequence_length(const char *str, size_t n) {
        const uint8_t *s = (const uint8_t *) str;
        uint8_t lo, hi;
        size_t len;

        if (n == 0)
                return 0;
        if (s[0] < 0x80)
                return 1;
        if (!lead_byte(s[0], &len, &lo, &hi) || n < len || !valid_prefix(s, len, lo, hi))
                return 0;
        return len;
}

size_t utf8_decode(const char *str, size_t n, uint32_t *ret_cp) {
        static const uint8_t lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
        const uint8_t *s = (const uint8_t *) str;
        size_t len = utf8_sequence_length(str, n);
        uint32_t cp;

        if (len == 0)
                return 0;
        cp = s[0] & lead_mask[len];
        for (size_t i = 1; i < len; i++)
                cp = (cp << 6) | (s[i] & 0x3f);
        *ret_cp = cp;
        return len;
}

size_t utf8_encode(uint32_t cp, char buf[static 4]) {
        if (cp < 0x80) {
                buf[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                buf[0] = (char) (0xc0 | (cp >> 6));
                buf[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                buf[0] = (char) (0xe0 | (cp >> 12));
                buf[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                buf[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        buf[0] = (char) (0xf0 | (cp >> 18));
        buf[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        buf[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        buf[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

bool utf8_is_valid(const char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                size_t len;

                if ((uint8_t) s[i] < 0x80) {
                        i++;
                        continue;
                }
                len = utf8_sequence_length(s + i, n - i);
                if (len == 0)
                        return false;
                i += len;
        }
        return true;
}

size_t utf8_incomplete_tail(const char *str, size_t n) {
        const uint8_t *s = (const uint8_t *) str;

        /* A cut sequence has its lead byte among the last three, continuation bytes after it. */
        for (size_t k = 1; k <= 3 && k <= n; k++) {
                const uint8_t *start = s + n - k;
                uint8_t lo, hi;
                size_t len;

                if (is_continuation(*start))
                        continue;
                if (!lead_byte(*start, &len, &lo, &hi) || len <= k)
                        return 0;
                return valid_prefix(start, k, lo, hi) ? k : 0;
        }
        return 0;
}

/* ---- JSON string escaping ------------------------------------------------------------------- */

/* How json_escape_span() treats a byte. */
enum {
        PLAIN = 0,  /* copied as it is */
        ESCAPE = 1, /* written by json_escape_byte() */
        MULTI = 2,  /* starts a multi-byte sequence, or is not UTF-8 at all: validated */
};

/* Without JSON_ESCAPE_DEL, and with it. */
static const uint8_t byte_class[2][256] = {
        {[0x00 ... 0x1f] = ESCAPE, ['"'] = ESCAPE, ['\\'] = ESCAPE, [0x80 ... 0xff] = MULTI},
        {[0x00 ... 0x1f] = ESCAPE,
         ['"'] = ESCAPE,
         ['\\'] = ESCAPE,
         [0x7f] = ESCAPE,
         [0x80 ... 0xff] = MULTI},
};

/*
 * Whether any of the 8 bytes in @x may need more than a plain copy: below 0x20, '"', '\\', or
 * 0x7f and above. Bit tricks after S. E. Anderson's "Bit Twiddling Hacks" (haszero, hasless,
 * hasmore); they can report a false positive only in a byte above a true one, which is all a
 * yes/no answer for the whole word needs. DEL is always reported: the byte loop then decides.
 */
static inline bool word_needs_look(uint64_t x) {
        const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
        uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
        uint64_t t = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) |
                     ((x + ones * (127 - 0x7e)) | x);

        return (t & high) != 0;
}

/*
 * The index of the first byte at or after @i that json_escape() does not copy as it is (or @n).
 * Inlined into json_escape(), whose hostile inputs (a byte to escape every few bytes) would
 * otherwise pay a call per escape.
 */
static inline size_t span_from(const uint8_t *s, size_t n, size_t i, const uint8_t *cls) {
        while (i < n) {
                uint8_t c = cls[s[i]];
                size_t len;

                if (c == PLAIN) {
                        /* Only a plain byte starts a run worth testing a word at a time. */
                        while (n - i >= 8) {
                                uint64_t x;

                                memcpy(&x, s + i, 8);
                                if (word_needs_look(x))
                                        break;
                                i += 8;
                        }
                        while (i < n && cls[s[i]] == PLAIN)
                                i++;
                        continue;
                }
                if (c == ESCAPE)
                        return i;
                len = utf8_sequence_length((const char *) s + i, n - i);
                if (len == 0)
                        return i;
                i += len;
        }
        return i;
}

/* The character after the backslash of a two-byte escape, or 0 for \u00XX. */
static const char short_escape[256] = {
        ['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
        ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't',
};

static inline char *escape_byte(char *dst, uint8_t c) {
        static const char hex[] = "0123456789abcdef";

        if (short_escape[c]) {
                dst[0] = '\\';
                dst[1] = short_escape[c];
                return dst + 2;
        }
        memcpy(dst, "\\u00", 4);
        dst[4] = hex[c >> 4];
        dst[5] = hex[c & 0xf];
        return dst + 6;
}

size_t json_escape_span(const char *s, size_t n, unsigned flags) {
        return span_from((const uint8_t *) s, n, 0, byte_class[(flags & JSON_ESCAPE_DEL) ? 1 : 0]);
}

char *json_escape_byte(char *dst, unsigned char c) {
        return escape_byte(dst, c);
}

char *json_escape(char *dst, const char *str, size_t n, unsigned flags) {
        const uint8_t *s = (const uint8_t *) str;
        const uint8_t *cls = byte_class[(flags & JSON_ESCAPE_DEL) ? 1 : 0];
        size_t i = 0;

        while (i < n) {
                size_t run = span_from(s, n, i, cls);

                memcpy(dst, s + i, run - i);
                dst += run - i;
                i = run;
                if (i < n)
                        dst = escape_byte(dst, s[i++]);
        }
        return dst;
}
