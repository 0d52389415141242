/* SPDX-License-Identifier: MIT */
/*
 * The util module that keeps audit records and memcapd replies one line of valid JSON: UTF-8
 * validation against jansson's own (every 1- and 2-byte string, and 3- and 4-byte ones built
 * from the bytes where the rules change), exact escapes for every class of byte, the word-at-a-
 * time path at every alignment, the incremental use a growing writer makes, and input too large
 * to bound. Every escape is written into an exact-size heap buffer of json_escape_bound() bytes,
 * so AddressSanitizer catches a write past the bound.
 */

#include "common.h"

#include <jansson.h>

#include "json-escape.h"

TestSuite(json_escape, .fini = mc_test_fini);

/* ---- helpers -------------------------------------------------------------------------------- */

/* @s[0..@n) escaped into a heap buffer of exactly the bound, NUL-terminated after the end. */
static char *escape(const char *s, size_t n, unsigned flags, size_t *ret_len) {
        size_t bound;
        char *buf, *end;

        cr_assert(json_escape_bound(n, &bound));
        buf = malloc(bound + 1);
        cr_assert(not(eq(ptr, buf, NULL)));
        end = json_escape(buf, s, n, flags);
        cr_assert(le(sz, (size_t) (end - buf), bound));
        *end = 0;
        if (ret_len)
                *ret_len = (size_t) (end - buf);
        return buf;
}

static void escapes_to(const char *in, size_t n, unsigned flags, const char *want) {
        char *got = escape(in, n, flags, NULL);

        cr_assert(eq(str, got, (char *) want), "input of %zu bytes, first 0x%02x", n,
                  n > 0 ? (unsigned char) in[0] : 0);
        free(got);
}

#define ESCAPES_TO(lit, flags, want) escapes_to((lit), sizeof(lit) - 1, (flags), (want))

/*
 * The escape of @s[0..@n) between quotes is one line that jansson reads back strictly; when @s
 * is valid UTF-8 it reads back as @s itself. Checked for both flag settings.
 */
static void is_one_line_of_json(const char *s, size_t n) {
        for (unsigned flags = 0; flags <= JSON_ESCAPE_DEL; flags += JSON_ESCAPE_DEL) {
                size_t len;
                char *body = escape(s, n, flags, &len);
                char *quoted = malloc(len + 2);
                json_error_t e;
                json_t *j;

                cr_assert(not(eq(ptr, quoted, NULL)));
                quoted[0] = '"';
                memcpy(quoted + 1, body, len);
                quoted[len + 1] = '"';
                for (size_t i = 0; i < len; i++) {
                        cr_assert(ge(u8, (uint8_t) body[i], 0x20), "raw control byte in output");
                        if (flags & JSON_ESCAPE_DEL)
                                cr_assert(ne(u8, (uint8_t) body[i], 0x7f), "raw DEL in output");
                }
                j = json_loadb(quoted, len + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
                cr_assert(not(eq(ptr, j, NULL)), "jansson refused the escape: %s", e.text);
                cr_assert(eq(int, json_typeof(j), JSON_STRING));
                if (utf8_is_valid(s, n)) {
                        cr_assert(eq(sz, json_string_length(j), n));
                        cr_assert(eq(int, memcmp(json_string_value(j), s, n), 0));
                }
                json_decref(j);
                free(quoted);
                free(body);
        }
}

/* Our validation and jansson's agree on @s[0..@n); then its escape is one line of JSON. */
static void check_string(const char *s, size_t n) {
        json_t *j = json_stringn(s, n);
        bool ours = utf8_is_valid(s, n);

        cr_assert(eq(int, ours, j != NULL), "utf8_is_valid() says %d for %02x %02x %02x %02x (%zu)",
                  ours, n > 0 ? (uint8_t) s[0] : 0, n > 1 ? (uint8_t) s[1] : 0,
                  n > 2 ? (uint8_t) s[2] : 0, n > 3 ? (uint8_t) s[3] : 0, n);
        json_decref(j);
        is_one_line_of_json(s, n);
}

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

Test(json_escape, utf8_agrees_with_jansson_on_every_short_string) {
        /* The bytes where the rules of RFC 3629 change, and a few ordinary ones. */
        static const uint8_t edges[] = {0x00, 0x1f, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f,
                                        0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
                                        0xe0, 0xed, 0xee, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
        char s[4];

        for (unsigned a = 0; a < 256; a++) {
                s[0] = (char) a;
                check_string(s, 1);
                for (unsigned b = 0; b < 256; b++) {
                        s[1] = (char) b;
                        check_string(s, 2);
                }
        }
        for (unsigned a = 0xc0; a < 256; a++)
                for (size_t b = 0; b < ELEMENTSOF(edges); b++)
                        for (size_t c = 0; c < ELEMENTSOF(edges); c++) {
                                s[0] = (char) a;
                                s[1] = (char) edges[b];
                                s[2] = (char) edges[c];
                                check_string(s, 3);
                                if (a < 0xf0)
                                        continue;
                                for (size_t d = 0; d < ELEMENTSOF(edges); d++) {
                                        s[3] = (char) edges[d];
                                        check_string(s, 4);
                                }
                        }
}

Test(json_escape, utf8_decode_gives_code_points) {
        static const struct {
                const char *s;
                size_t len;
                uint32_t cp;
        } cases[] = {
                {"\x00", 1, 0x0},
                {"A", 1, 0x41},
                {"\x7f", 1, 0x7f},
                {"\xc2\x80", 2, 0x80},
                {"\xdf\xbf", 2, 0x7ff},
                {"\xe0\xa0\x80", 3, 0x800},
                {"\xed\x9f\xbf", 3, 0xd7ff},
                {"\xee\x80\x80", 3, 0xe000},
                {"\xef\xbf\xbf", 3, 0xffff},
                {"\xf0\x90\x80\x80", 4, 0x10000},
                {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
        };
        static const char *const invalid[] = {
                "\x80",
                "\xbf",
                "\xc0\x80",
                "\xc1\xbf",
                "\xe0\x80\x80",
                "\xe0\x9f\xbf",
                "\xed\xa0\x80",
                "\xed\xbf\xbf",
                "\xf0\x80\x80\x80",
                "\xf0\x8f\xbf\xbf",
                "\xf4\x90\x80\x80",
                "\xf5\x80\x80\x80",
                "\xfe",
                "\xff",
                "\xc3",
                "\xe2\x82",
                "\xf0\x9f\x98",
                "\xc3\x41",
                "\xe2\x28\xa1",
                "\xf0\x9f\x28\x80",
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint32_t cp = 0xdeadbeef;

                cr_assert(eq(sz, utf8_decode(cases[i].s, cases[i].len, &cp), cases[i].len));
                cr_assert(eq(u32, cp, cases[i].cp));
                cr_assert(eq(sz, utf8_sequence_length(cases[i].s, cases[i].len), cases[i].len));
                /* Cut short, it is not a character. */
                cr_assert(eq(sz, utf8_sequence_length(cases[i].s, cases[i].len - 1), 0));
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                uint32_t cp = 0xdeadbeef;

                cr_assert(eq(sz, utf8_decode(invalid[i], strlen(invalid[i]), &cp), 0), "case %zu",
                          i);
                cr_assert(eq(u32, cp, 0xdeadbeef), "untouched on failure");
                cr_assert(not(utf8_is_valid(invalid[i], strlen(invalid[i]))), "case %zu", i);
        }
        cr_assert(utf8_is_valid("", 0));
        cr_assert(utf8_is_valid(NULL, 0));
        cr_assert(utf8_is_valid("a\0b", 3));
        cr_assert(eq(sz, utf8_sequence_length("", 0), 0));
}

/* Every code point encodes to what jansson calls valid UTF-8 and decodes back to itself. */
Test(json_escape, utf8_encode_round_trips_every_code_point) {
        for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
                char buf[4];
                size_t len = utf8_encode(cp, buf);
                uint32_t back = 0;
                bool surrogate = cp >= 0xd800 && cp <= 0xdfff;

                cr_assert(eq(sz, len, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4));
                /* Surrogates are encoded as given, and are then what a validator refuses. */
                cr_assert(eq(sz, utf8_decode(buf, len, &back), surrogate ? 0 : len), "U+%04X", cp);
                if (!surrogate)
                        cr_assert(eq(u32, back, cp));
                if (cp % 0x101 == 0) { /* jansson is slow enough to sample */
                        json_t *j = json_stringn(buf, len);

                        cr_assert(eq(int, j != NULL, !surrogate), "U+%04X", cp);
                        json_decref(j);
                }
        }
}

Test(json_escape, utf8_incomplete_tail_keeps_only_cut_characters) {
        static const struct {
                const char *s;
                size_t tail;
        } cases[] = {
                {"", 0},
                {"a", 0},
                {"\xc3", 1},
                {"a\xc3", 1},
                {"\xe2\x82", 2},
                {"\xf0\x9f\x98", 3},
                {"\xc3\xa9", 0},         /* complete */
                {"\xf0\x9f\x98\x80", 0}, /* complete */
                {"\x80", 0},             /* no lead byte */
                {"\x80\x80\x80", 0},     /* no lead byte among the last three */
                {"\xe0\x80", 0},         /* can only become an overlong form */
                {"\xed\xa0", 0},         /* can only become a surrogate */
                {"\xf4\x90", 0},         /* can only become more than U+10FFFF */
                {"\xc0", 0},             /* never a lead byte */
                {"\xf5", 0},             /* never a lead byte */
                {"\xe2\x41", 0},         /* broken before the end */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                cr_assert(
                        eq(sz, utf8_incomplete_tail(cases[i].s, strlen(cases[i].s)), cases[i].tail),
                        "case %zu", i);

        /* Every proper prefix of a valid character is kept back whole, after any text. */
        for (uint32_t cp = 0x80; cp <= 0x10ffff; cp += 0x3f) {
                char buf[8] = "xy";
                size_t len;

                if (cp >= 0xd800 && cp <= 0xdfff)
                        continue;
                len = utf8_encode(cp, buf + 2);
                cr_assert(eq(sz, utf8_incomplete_tail(buf, 2 + len), 0), "U+%04X", cp);
                for (size_t k = 1; k < len; k++)
                        cr_assert(eq(sz, utf8_incomplete_tail(buf, 2 + k), k), "U+%04X cut at %zu",
                                  cp, k);
        }
}

/* ---- escaping ------------------------------------------------------------------------------- */

Test(json_escape, plain_text_and_utf8_are_copied) {
        ESCAPES_TO("", 0, "");
        ESCAPES_TO("/data/file.bin", 0, "/data/file.bin");
        ESCAPES_TO("~ !#$%&'()*+,-./:;<=>?@[]^_`{|}", 0, "~ !#$%&'()*+,-./:;<=>?@[]^_`{|}");
        ESCAPES_TO("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 0,
                   "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
        /* U+2028 and U+2029 are valid JSON (only JavaScript minds them). */
        ESCAPES_TO("a\xe2\x80\xa8z\xe2\x80\xa9", 0, "a\xe2\x80\xa8z\xe2\x80\xa9");
        ESCAPES_TO("d\xc3\xa9j\xc3\xa0 vu \xe6\x97\xa5\xe6\x9c\xac", 0,
                   "d\xc3\xa9j\xc3\xa0 vu \xe6\x97\xa5\xe6\x9c\xac");
}

Test(json_escape, quotes_backslashes_and_controls_are_escaped) {
        static const char *const controls[32] = {
                "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006",
                "\\u0007", "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",
                "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014",
                "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a", "\\u001b",
                "\\u001c", "\\u001d", "\\u001e", "\\u001f",
        };

        ESCAPES_TO("\"", 0, "\\\"");
        ESCAPES_TO("\\", 0, "\\\\");
        ESCAPES_TO("a\"b\\c", 0, "a\\\"b\\\\c");
        ESCAPES_TO("\"}\n{\"forged\":true", 0, "\\\"}\\n{\\\"forged\\\":true");
        for (unsigned c = 0; c < 32; c++) {
                char in[3] = {'<', (char) c, '>'}, want[16];

                snprintf(want, sizeof(want), "<%s>", controls[c]);
                escapes_to(in, 3, 0, want);
                escapes_to(in, 3, JSON_ESCAPE_DEL, want);
        }
        /* NUL is a byte like any other: what follows it is not lost. */
        ESCAPES_TO("a\0b\0", 0, "a\\u0000b\\u0000");
}

Test(json_escape, del_is_escaped_only_when_asked) {
        ESCAPES_TO("a\x7f"
                   "b",
                   0,
                   "a\x7f"
                   "b");
        ESCAPES_TO("a\x7f"
                   "b",
                   JSON_ESCAPE_DEL, "a\\u007fb");
        ESCAPES_TO("\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f", JSON_ESCAPE_DEL,
                   "\\u007f\\u007f\\u007f\\u007f\\u007f\\u007f\\u007f\\u007f\\u007f");
}

Test(json_escape, bytes_that_are_not_utf8_become_u00xx) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                {"\x80", "\\u0080"},                                  /* lone continuation */
                {"a\xbfz", "a\\u00bfz"},                              /* lone continuation */
                {"\xff\xfe", "\\u00ff\\u00fe"},                       /* never UTF-8 */
                {"\xc0\xaf", "\\u00c0\\u00af"},                       /* overlong '/' */
                {"\xc1\xbf", "\\u00c1\\u00bf"},                       /* overlong */
                {"\xe0\x80\xaf", "\\u00e0\\u0080\\u00af"},            /* overlong '/' */
                {"\xe0\x9f\xbf", "\\u00e0\\u009f\\u00bf"},            /* overlong */
                {"\xf0\x80\x80\xaf", "\\u00f0\\u0080\\u0080\\u00af"}, /* overlong '/' */
                {"\xf0\x8f\xbf\xbf", "\\u00f0\\u008f\\u00bf\\u00bf"}, /* overlong */
                {"\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"},            /* surrogate U+D800 */
                {"\xed\xbf\xbf", "\\u00ed\\u00bf\\u00bf"},            /* surrogate U+DFFF */
                {"\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080"}, /* above U+10FFFF */
                {"\xf5\x80\x80\x80", "\\u00f5\\u0080\\u0080\\u0080"}, /* above U+10FFFF */
                {"x\xc3", "x\\u00c3"},                                /* cut by the end */
                {"x\xe2\x82", "x\\u00e2\\u0082"},                     /* cut by the end */
                {"x\xf0\x9f\x98", "x\\u00f0\\u009f\\u0098"},          /* cut by the end */
                {"\xc3z", "\\u00c3z"},                                /* bad continuation */
                {"\xe2\x28\xa1", "\\u00e2(\\u00a1"},                  /* bad continuation */
                /* A broken sequence costs only its own bytes: the character after it is kept. */
                {"\xe2\x82\xc3\xa9", "\\u00e2\\u0082\xc3\xa9"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                escapes_to(cases[i].in, strlen(cases[i].in), 0, cases[i].out);
                escapes_to(cases[i].in, strlen(cases[i].in), JSON_ESCAPE_DEL, cases[i].out);
        }
}

/* The word-at-a-time path must find a byte to escape wherever it sits in a word. */
Test(json_escape, span_stops_at_the_byte_to_escape_at_every_alignment) {
        static const struct {
                unsigned char c;
                unsigned flags;
                bool stops;
        } bytes[] = {
                {'"', 0, true},   {'\\', 0, true},  {0x00, 0, true},
                {0x1f, 0, true},  {'\n', 0, true},  {0x80, 0, true},
                {0xff, 0, true},  {0x7f, 0, false}, {0x7f, JSON_ESCAPE_DEL, true},
                {0x20, 0, false}, {'~', 0, false},  {0x21, 0, false},
                {0x23, 0, false}, {0x5b, 0, false}, {0x5d, 0, false},
        };
        char s[40];

        for (size_t b = 0; b < ELEMENTSOF(bytes); b++)
                for (size_t at = 0; at < sizeof(s); at++) {
                        memset(s, 'a', sizeof(s));
                        s[at] = (char) bytes[b].c;
                        cr_assert(eq(sz, json_escape_span(s, sizeof(s), bytes[b].flags),
                                     bytes[b].stops ? at : sizeof(s)),
                                  "byte 0x%02x at %zu", bytes[b].c, at);
                        /* A valid character right before it is spanned too. */
                        if (at >= 2) {
                                s[at - 2] = (char) 0xc3;
                                s[at - 1] = (char) 0xa9;
                                cr_assert(eq(sz, json_escape_span(s, sizeof(s), bytes[b].flags),
                                             bytes[b].stops ? at : sizeof(s)),
                                          "byte 0x%02x at %zu after U+00E9", bytes[b].c, at);
                        }
                }
        cr_assert(eq(sz, json_escape_span(NULL, 0, 0), 0));
}

/*
 * What a writer that grows its buffer as it goes does (span, then one escape with room for
 * JSON_ESCAPE_MAX_PER_BYTE) writes exactly what json_escape() writes.
 */
Test(json_escape, span_and_byte_build_the_same_escape) {
        unsigned seed = 12345;

        for (int round = 0; round < 2000; round++) {
                unsigned char in[96];
                size_t n = (size_t) (rand_r(&seed) % sizeof(in)), len;
                unsigned flags = (unsigned) (round & 1) * JSON_ESCAPE_DEL;
                char *whole, *parts, *o;

                for (size_t i = 0; i < n; i++) {
                        /* Mostly text, some UTF-8 lead bytes, some anything. */
                        unsigned r = (unsigned) rand_r(&seed) % 8;
                        in[i] = r < 5   ? (unsigned char) ('a' + r)
                                : r < 6 ? (unsigned char) (0xc2 + rand_r(&seed) % 0x33)
                                        : (unsigned char) rand_r(&seed);
                }
                whole = escape((const char *) in, n, flags, &len);
                parts = malloc(n * JSON_ESCAPE_MAX_PER_BYTE + 1);
                cr_assert(not(eq(ptr, parts, NULL)));
                o = parts;
                for (size_t i = 0; i < n;) {
                        size_t run = json_escape_span((const char *) in + i, n - i, flags);

                        memcpy(o, in + i, run);
                        o += run;
                        i += run;
                        if (i < n) {
                                char *e = json_escape_byte(o, in[i++]);

                                cr_assert(le(sz, (size_t) (e - o), JSON_ESCAPE_MAX_PER_BYTE));
                                o = e;
                        }
                }
                cr_assert(eq(sz, (size_t) (o - parts), len));
                cr_assert(eq(int, memcmp(parts, whole, len), 0));
                is_one_line_of_json((const char *) in, n);
                free(parts);
                free(whole);
        }
}

Test(json_escape, huge_input_stays_within_its_bound) {
        size_t n = 8u << 20, len, bound;
        char *in = malloc(n), *out;

        /* A size whose escape cannot be reserved is refused up front. */
        cr_assert(not(json_escape_bound(SIZE_MAX / JSON_ESCAPE_MAX_PER_BYTE + 1, &bound)));
        cr_assert(json_escape_bound(SIZE_MAX / JSON_ESCAPE_MAX_PER_BYTE, &bound));
        cr_assert(eq(sz, bound, SIZE_MAX / JSON_ESCAPE_MAX_PER_BYTE * JSON_ESCAPE_MAX_PER_BYTE));

        /* The worst case: every byte takes six. */
        cr_assert(not(eq(ptr, in, NULL)));
        for (size_t i = 0; i < n; i++)
                in[i] = (char) (i % 2 ? 0x01 : 0xff);
        out = escape(in, n, JSON_ESCAPE_DEL, &len);
        cr_assert(eq(sz, len, n * JSON_ESCAPE_MAX_PER_BYTE));
        cr_assert(eq(int, memcmp(out, "\\u00ff\\u0001\\u00ff", 18), 0));
        free(out);

        /* Long valid text spans whole; a byte at the very end is still found. */
        memset(in, 'x', n);
        cr_assert(eq(sz, json_escape_span(in, n, 0), n));
        in[n - 1] = '"';
        cr_assert(eq(sz, json_escape_span(in, n, 0), n - 1));
        out = escape(in, n, 0, &len);
        cr_assert(eq(sz, len, n + 1));
        cr_assert(eq(str, out + n - 1, "\\\""));
        free(out);
        free(in);
}
