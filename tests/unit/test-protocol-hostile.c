/* SPDX-License-Identifier: MIT */
/*
 * memcapd's request decoder against hostile lines, and the fast path and the full decoder
 * agreeing on every line.
 */

#include "protocol-suite.h"

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

void deep(const char *open, const char *close, size_t depth) {
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
mcd_request parse_ok_by(const char *line, bool want_fast) {
        mcd_request req = MCD_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        bool fast = !want_fast;
        int r = parse_all(line, strlen(line), &req, &err, &fast);

        cr_assert(eq(int, r, 0), "parsing %s failed: %s", line, err.message);
        cr_assert(eq(int, fast, want_fast), "the fast path %s %s", fast ? "took" : "declined",
                  line);
        return req;
}

/* Each of the @n @lines parses, taken by the fast path (@want_fast) or left to the decoder. */
static void all_parse_by(const char *const *lines, size_t n, bool want_fast) {
        for (size_t i = 0; i < n; i++) {
                mcd_request r = parse_ok_by(lines[i], want_fast);
                mcd_request_done(&r);
        }
}

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

        all_parse_by(lines, ELEMENTSOF(lines), true);

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

        all_parse_by(lines, ELEMENTSOF(lines), false);

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
uint64_t rnd_state;

uint64_t rnd(void) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return rnd_state;
}

size_t rnd_below(size_t n) {
        return (size_t) (rnd() % n);
}

const char *rnd_pick(const char *const *v, size_t n) {
        return v[rnd_below(n)];
}

bool fault(const gen *g) {
        return g->fault_rate > 0 && rnd_below(g->fault_rate) == 0;
}

void put_n(gen *g, const char *s, size_t n) {
        if (g->len + n < sizeof(g->buf)) {
                memcpy(g->buf + g->len, s, n);
                g->len += n;
        }
}

void put(gen *g, const char *s) {
        put_n(g, s, strlen(s));
}

/* Nothing or JSON whitespace; as a fault, something that is not. */
void put_ws(gen *g) {
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

/* Before element @i of an array or object: a comma unless it is the first, and whitespace. */
static void put_separator(gen *g, size_t i) {
        if (i > 0) {
                put_ws(g);
                put(g, ",");
        }
        put_ws(g);
}

/* An object's key @name and its colon, with whitespace before the value. */
static void put_key(gen *g, const char *name) {
        put(g, "\"");
        put(g, name);
        put(g, "\"");
        put_ws(g);
        put(g, ":");
        put_ws(g);
}

/* An integer in [@min, @max], often one at the edges; as a fault, a number that is not one. */
void put_number(gen *g, uint64_t min, uint64_t max) {
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

void put_data(gen *g) {
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
                put_separator(g, i);
                snprintf(buf, sizeof(buf), "%u", bytes[i]);
                put(g, buf);
        }
        put_ws(g);
        put(g, "]");
}

void put_value(gen *g, const char *key) {
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
void gen_request(gen *g) {
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
        put_key(g, fault(g) ? PICK(bad_calls) : calls[c].name);
        put(g, "{");
        for (size_t i = 0; i < n; i++) {
                put_separator(g, i);
                put_key(g, fields[i]);
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
void mutate(gen *t) {
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
