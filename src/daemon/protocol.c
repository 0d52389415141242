/* SPDX-License-Identifier: MIT */
/*
 * The memcapd wire protocol: decoding request lines and encoding reply lines.
 *
 * Requests come from other, possibly hostile, processes. They are decoded by jansson, which
 * checks UTF-8, rejects duplicate keys and keeps 64-bit integers exact, and then every field is
 * checked by hand so that each mistake gets a message naming the call and the field. Two things
 * jansson cannot do for us are done by a pre-scan of the raw line: it refuses deep nesting
 * before the (recursive) parser sees it, and it finds the number tokens that are not exact
 * 64-bit integers (reals, -0, integers beyond int64, which jansson either accepts as something
 * else or refuses with an error that cannot name the field). Such a token is replaced, in a
 * copy of the line, by a real whose value indexes a record of the original text; every real in
 * the parsed tree is therefore one of ours, and the field check reports "(got 1e400)" for the
 * field it is in. Ordinary lines never need the copy.
 *
 * The calls clients send in bulk, in the plain shape clients write, take a hand-written fast path
 * first that builds the same request without a tree, about 15 times faster for an MmapRead; it
 * never rejects, and every line it does not take whole goes the full way above, so what a
 * request means and every error message are the full decoder's alone.
 *
 * Replies are written without jansson: each reply computes an upper bound of its size, reserves
 * it once, and writes straight into the buffer, so a 4 KiB base64 MmapRead reply is one
 * reservation, a memcpy of the header, the base64 encoder and the trailer. Strings are escaped
 * for JSON and any byte that is not part of valid UTF-8 becomes \u00XX, so paths and messages
 * from clients can neither break the framing nor produce invalid JSON.
 *
 * Sections: names, errors, pre-scan, field checks, requests, fast path, buffer, JSON writer,
 * replies.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "macro.h"
#include "protocol.h"

/* ---- names ---------------------------------------------------------------------------------- */

static const char *const call_names[_MCD_CALL_MAX] = {
        [MCD_CALL_MMAP] = "Mmap",
        [MCD_CALL_MMAP_READ] = "MmapRead",
        [MCD_CALL_MMAP_WRITE] = "MmapWrite",
        [MCD_CALL_MSYNC] = "Msync",
        [MCD_CALL_MUNMAP] = "Munmap",
        [MCD_CALL_MMAP_STATS] = "MmapStats",
        [MCD_CALL_MPROTECT] = "Mprotect",
        [MCD_CALL_MMAP_LIST] = "MmapList",
        [MCD_CALL_MMAP_FD] = "MmapFd",
        [MCD_CALL_MADVISE] = "Madvise",
        [MCD_CALL_MLOCK] = "Mlock",
        [MCD_CALL_MUNLOCK] = "Munlock",
        [MCD_CALL_HELLO] = "Hello",
};

const char *mcd_call_name(mcd_call call) {
        if ((unsigned) call >= _MCD_CALL_MAX)
                return NULL;
        return call_names[call];
}

static const char *const capability_names[] = {"FileRead", "FileWrite", "SystemInfo", "FdPass",
                                               "MemLock"};

const char *mcd_capability_name(mcd_capability cap) {
        for (size_t i = 0; i < ELEMENTSOF(capability_names); i++)
                if ((unsigned) cap == 1u << i)
                        return capability_names[i];
        return NULL;
}

/* The fields of all calls; each call allows a subset and requires a subset of that. */
typedef enum field {
        F_MMAP_ID,
        F_PATH,
        F_OFFSET,
        F_LENGTH,
        F_PROT,
        F_SHARED,
        F_ENCODING,
        F_DATA,
        F_ALL,
        F_ADVICE,
        _F_MAX,
} field;

#define BIT(f) (1u << (f))

static const char *const field_names[_F_MAX] = {
        [F_MMAP_ID] = "mmap_id",   [F_PATH] = "path", [F_OFFSET] = "offset",
        [F_LENGTH] = "length",     [F_PROT] = "prot", [F_SHARED] = "shared",
        [F_ENCODING] = "encoding", [F_DATA] = "data", [F_ALL] = "all",
        [F_ADVICE] = "advice",
};

/* The fields of a call on a range of a mapping: offset 0 and the rest of it by default. */
#define RANGE_FIELDS (BIT(F_MMAP_ID) | BIT(F_OFFSET) | BIT(F_LENGTH))

static const struct {
        unsigned allowed;
        unsigned required;
} call_fields[_MCD_CALL_MAX] = {
        [MCD_CALL_MMAP] = {BIT(F_PATH) | BIT(F_OFFSET) | BIT(F_LENGTH) | BIT(F_PROT) |
                                   BIT(F_SHARED),
                           BIT(F_PROT)},
        /* As in the original protocol, an absent offset of MmapRead and MmapWrite is 0. */
        [MCD_CALL_MMAP_READ] = {BIT(F_MMAP_ID) | BIT(F_OFFSET) | BIT(F_LENGTH) | BIT(F_ENCODING),
                                BIT(F_MMAP_ID) | BIT(F_LENGTH)},
        [MCD_CALL_MMAP_WRITE] = {BIT(F_MMAP_ID) | BIT(F_OFFSET) | BIT(F_DATA) | BIT(F_ENCODING),
                                 BIT(F_MMAP_ID) | BIT(F_DATA)},
        [MCD_CALL_MSYNC] = {RANGE_FIELDS, BIT(F_MMAP_ID)},
        [MCD_CALL_MUNMAP] = {BIT(F_MMAP_ID), BIT(F_MMAP_ID)},
        [MCD_CALL_MMAP_STATS] = {BIT(F_MMAP_ID), BIT(F_MMAP_ID)},
        [MCD_CALL_MPROTECT] = {RANGE_FIELDS | BIT(F_PROT), BIT(F_MMAP_ID) | BIT(F_PROT)},
        [MCD_CALL_MMAP_LIST] = {BIT(F_ALL), 0},
        [MCD_CALL_MMAP_FD] = {BIT(F_MMAP_ID), BIT(F_MMAP_ID)},
        [MCD_CALL_MADVISE] = {RANGE_FIELDS | BIT(F_ADVICE), BIT(F_MMAP_ID) | BIT(F_ADVICE)},
        [MCD_CALL_MLOCK] = {RANGE_FIELDS, BIT(F_MMAP_ID)},
        [MCD_CALL_MUNLOCK] = {RANGE_FIELDS, BIT(F_MMAP_ID)},
        [MCD_CALL_HELLO] = {0, 0},
};

/* ---- errors --------------------------------------------------------------------------------- */

/* Client-controlled names are cut to this many bytes in messages. */
#define NAME_MAX_SHOWN 64

/* Every refusal of a request is InvalidArgument (EINVAL) with a message naming the call and field.
 */
#define invalid(err, ...) mc_error_set((err), MC_ERR_INVALID_ARGUMENT, EINVAL, __VA_ARGS__)

static int oom(mc_error *err) {
        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                            "out of memory decoding the request");
}

/* ---- pre-scan ------------------------------------------------------------------------------- */

/* Number tokens the parser must not see as they are. */
typedef enum special_kind {
        SPECIAL_REAL,      /* a fraction or an exponent: never an exact integer here */
        SPECIAL_NEG_ZERO,  /* "-0", which jansson reads as 0 */
        SPECIAL_TOO_BIG,   /* above INT64_MAX, which jansson refuses */
        SPECIAL_TOO_SMALL, /* below INT64_MIN */
} special_kind;

typedef struct special {
        size_t start, len; /* in the original line */
        special_kind kind;
} special;

/* The first specials are remembered for messages; any further one is still rejected. */
#define SPECIALS_MAX 16

typedef struct scan {
        size_t n_specials;
        special specials[SPECIALS_MAX];
} scan;

static bool is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

/*
 * The index just past the string whose opening quote is before @i: memchr finds each quote, and
 * a quote preceded by an odd run of backslashes is escaped. @len when it is unterminated.
 */
static size_t string_end(const char *line, size_t len, size_t i) {
        while (i < len) {
                const char *q = memchr(line + i, '"', len - i);
                size_t k, bs = 0;

                if (!q)
                        return len;
                k = (size_t) (q - line);
                while (k - bs > i && line[k - bs - 1] == '\\')
                        bs++;
                if (bs % 2 == 0)
                        return k + 1;
                i = k + 1;
        }
        return len;
}

/*
 * Read the JSON number starting at @i. Returns true for a well-formed number token and sets
 * *@ret_end past it and *@ret_special to whether it is special (*@ret_kind then says how). A
 * malformed one (left for jansson to report) returns false.
 */
static bool number_token(const char *line, size_t len, size_t i, size_t *ret_end, bool *ret_special,
                         special_kind *ret_kind) {
        static const char int64_max[] = "9223372036854775807";
        static const char int64_min[] = "9223372036854775808"; /* without the '-' */
        size_t p = i, digits_start, n_digits;
        bool negative = false, real = false;

        if (line[p] == '-') {
                negative = true;
                p++;
        }
        digits_start = p;
        if (p < len && line[p] == '0') {
                p++;
                if (p < len && is_digit(line[p]))
                        return false; /* leading zero */
        } else if (p < len && is_digit(line[p])) {
                while (p < len && is_digit(line[p]))
                        p++;
        } else
                return false;
        n_digits = p - digits_start;
        if (p < len && line[p] == '.') {
                real = true;
                p++;
                if (p >= len || !is_digit(line[p]))
                        return false;
                while (p < len && is_digit(line[p]))
                        p++;
        }
        if (p < len && (line[p] == 'e' || line[p] == 'E')) {
                real = true;
                p++;
                if (p < len && (line[p] == '+' || line[p] == '-'))
                        p++;
                if (p >= len || !is_digit(line[p]))
                        return false;
                while (p < len && is_digit(line[p]))
                        p++;
        }

        *ret_end = p;
        *ret_special = true;
        if (real)
                *ret_kind = SPECIAL_REAL;
        else if (negative && n_digits == 1 && line[digits_start] == '0')
                *ret_kind = SPECIAL_NEG_ZERO;
        else if (n_digits > 19 ||
                 (n_digits == 19 &&
                  memcmp(line + digits_start, negative ? int64_min : int64_max, 19) > 0))
                *ret_kind = negative ? SPECIAL_TOO_SMALL : SPECIAL_TOO_BIG;
        else
                *ret_special = false;
        return true;
}

/*
 * Check nesting and raw NULs, and find the special numbers. With @out, also write the line
 * into it with each special number replaced by " <index>.5 " (padded with spaces so that it can
 * never merge with a neighbouring token into something valid).
 */
static int scan_line(const char *line, size_t len, scan *s, mcd_buf *out, mc_error *err) {
        size_t depth = 0, copied = 0, i = 0, n = 0;
        int r;

        while (i < len) {
                unsigned char c = (unsigned char) line[i];

                if (c == '"') {
                        i = string_end(line, len, i + 1);
                        continue;
                }
                if (c == '{' || c == '[') {
                        if (++depth > MCD_MAX_DEPTH)
                                return invalid(err,
                                               "invalid JSON at byte %zu: nested deeper than %d "
                                               "levels",
                                               i, MCD_MAX_DEPTH);
                } else if (c == '}' || c == ']') {
                        if (depth > 0)
                                depth--;
                } else if (c == 0) {
                        return invalid(err, "invalid JSON at byte %zu: NUL byte", i);
                } else if (c == '-' || is_digit(c)) {
                        special_kind kind;
                        bool is_special;
                        size_t end;

                        if (!number_token(line, len, i, &end, &is_special, &kind)) {
                                i++;
                                continue;
                        }
                        if (is_special) {
                                if (!out && n < SPECIALS_MAX)
                                        s->specials[n] = (special){i, end - i, kind};
                                if (out) {
                                        char rep[32];
                                        int k = snprintf(rep, sizeof(rep), " %zu.5 ",
                                                         MC_MIN(n, (size_t) SPECIALS_MAX));

                                        r = mcd_buf_reserve(out, (i - copied) + (size_t) k);
                                        if (r < 0)
                                                return oom(err);
                                        memcpy(out->data + out->len, line + copied, i - copied);
                                        out->len += i - copied;
                                        memcpy(out->data + out->len, rep, (size_t) k);
                                        out->len += (size_t) k;
                                        copied = end;
                                }
                                n++;
                        }
                        i = end;
                        continue;
                }
                i++;
        }
        if (out) {
                r = mcd_buf_reserve(out, len - copied);
                if (r < 0)
                        return oom(err);
                memcpy(out->data + out->len, line + copied, len - copied);
                out->len += len - copied;
        } else
                s->n_specials = n;
        return 0;
}

/* ---- field checks --------------------------------------------------------------------------- */

typedef struct parser {
        const char *line; /* the original line, for the text of special numbers */
        const scan *scan;
        const char *call; /* the call's name, for messages */
        mc_error *err;
} parser;

/* The special a real in the tree stands for, or NULL when it was not recorded. */
static const special *special_of(const parser *p, const json_t *v) {
        double d = json_real_value(v);
        size_t idx;

        if (!(d >= 0 && d < SPECIALS_MAX))
                return NULL;
        idx = (size_t) d;
        if (idx >= MC_MIN(p->scan->n_specials, (size_t) SPECIALS_MAX))
                return NULL;
        return &p->scan->specials[idx];
}

/* What the client sent, for "(got ...)": a value, or the kind of value. */
static const char *describe(const parser *p, const json_t *v, char *buf, size_t size) {
        const special *sp;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_TRUE:
                return "true";
        case JSON_FALSE:
                return "false";
        case JSON_NULL:
                return "null";
        case JSON_INTEGER:
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return buf;
        case JSON_REAL:
                sp = special_of(p, v);
                if (!sp)
                        return "a number that is not an exact integer";
                if (sp->len > 40)
                        snprintf(buf, size, "%.40s...", p->line + sp->start);
                else
                        snprintf(buf, size, "%.*s", (int) sp->len, p->line + sp->start);
                return buf;
        }
        return "an unknown value";
}

/*
 * An integer in [@min, @max] for field @f, or for its element @element when that is not -1.
 * The message is built only on failure: this runs for every number of every request.
 */
static int check_uint(const parser *p, field f, ssize_t element, const json_t *v, uint64_t min,
                      uint64_t max, uint64_t *ret) {
        char got[64], expected[96], what[64];

        if (json_is_integer(v)) {
                json_int_t x = json_integer_value(v);

                if (x >= 0 && (uint64_t) x >= min && (uint64_t) x <= max) {
                        *ret = (uint64_t) x;
                        return 0;
                }
        }
        if (element < 0)
                snprintf(what, sizeof(what), "field '%s'", field_names[f]);
        else
                snprintf(what, sizeof(what), "field '%s' element %zd", field_names[f], element);
        if (max == MCD_MAX_U63) {
                const special *sp = json_is_real(v) ? special_of(p, v) : NULL;

                snprintf(expected, sizeof(expected), "%s%s",
                         min == 0 ? "a non-negative integer" : "a positive integer",
                         sp && sp->kind == SPECIAL_TOO_BIG ? " no larger than 9223372036854775807"
                                                           : "");
        } else
                snprintf(expected, sizeof(expected), "an integer from %" PRIu64 " to %" PRIu64, min,
                         max);
        return invalid(p->err, "%s: %s must be %s (got %s)", p->call, what, expected,
                       describe(p, v, got, sizeof(got)));
}

static int check_bool(const parser *p, field f, const json_t *v, bool *ret) {
        char got[64];

        if (!json_is_boolean(v))
                return invalid(p->err, "%s: field '%s' must be true or false (got %s)", p->call,
                               field_names[f], describe(p, v, got, sizeof(got)));
        *ret = json_is_true(v);
        return 0;
}

static int check_path(const parser *p, const json_t *v, char **ret) {
        const char *s;
        size_t n;
        char got[64];

        if (!json_is_string(v))
                return invalid(p->err, "%s: field 'path' must be a string (got %s)", p->call,
                               describe(p, v, got, sizeof(got)));
        s = json_string_value(v);
        n = json_string_length(v);
        if (n == 0)
                return invalid(p->err, "%s: field 'path' must not be empty", p->call);
        /* The parser admits \u0000 so that this message can name the field. */
        if (memchr(s, 0, n))
                return invalid(p->err, "%s: field 'path' must not contain a NUL character",
                               p->call);
        if (s[0] != '/')
                return invalid(p->err, "%s: field 'path' must be absolute, starting with '/'",
                               p->call);
        *ret = strndup(s, n);
        if (!*ret)
                return oom(p->err);
        return 0;
}

static int check_encoding(const parser *p, const json_t *v, mcd_encoding *ret) {
        static const char *const names[] = {
                [MCD_ENCODING_ARRAY] = "array", [MCD_ENCODING_BASE64] = "base64"};
        char got[64];

        if (json_is_string(v)) {
                const char *s = json_string_value(v);
                size_t n = json_string_length(v);

                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (n == strlen(names[i]) && memcmp(s, names[i], n) == 0) {
                                *ret = (mcd_encoding) i;
                                return 0;
                        }
                /* A NUL inside stops the copy early; the text is for humans. */
                snprintf(got, sizeof(got), "\"%.*s\"%s", (int) MC_MIN(n, (size_t) 24), s,
                         n > 24 ? "..." : "");
                return invalid(p->err,
                               "%s: field 'encoding' must be \"array\" or \"base64\" (got %s)",
                               p->call, got);
        }
        return invalid(p->err, "%s: field 'encoding' must be \"array\" or \"base64\" (got %s)",
                       p->call, describe(p, v, got, sizeof(got)));
}

static int check_advice(const parser *p, const json_t *v, mc_advice *ret) {
        const char *shown;
        char got[64];

        if (!json_is_string(v))
                shown = describe(p, v, got, sizeof(got));
        else {
                const char *s = json_string_value(v);
                size_t n = json_string_length(v);

                for (int i = 0; i < _MC_ADVICE_MAX; i++) {
                        const char *name = mc_advice_name((mc_advice) i);

                        if (name && n == strlen(name) && memcmp(s, name, n) == 0) {
                                *ret = (mc_advice) i;
                                return 0;
                        }
                }
                /* A NUL inside stops the copy early; the text is for humans. */
                snprintf(got, sizeof(got), "\"%.*s\"%s", (int) MC_MIN(n, (size_t) 24), s,
                         n > 24 ? "..." : "");
                shown = got;
        }
        return invalid(p->err,
                       "%s: field 'advice' must name an advice, such as \"WILLNEED\" (got %s)",
                       p->call, shown);
}

static int check_data_array(const parser *p, const json_t *v, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t n = json_array_size(v);
        int r;

        data = malloc(MC_MAX(n, (size_t) 1));
        if (!data)
                return oom(p->err);
        for (size_t i = 0; i < n; i++) {
                const json_t *e = json_array_get(v, i);
                json_int_t x;
                uint64_t u;

                /* The common case inline; check_uint() then only reports. */
                if (json_is_integer(e) && (x = json_integer_value(e)) >= 0 && x <= 255) {
                        data[i] = (uint8_t) x;
                        continue;
                }
                r = check_uint(p, F_DATA, (ssize_t) i, e, 0, 255, &u);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(data);
        *ret_len = n;
        return 0;
}

/* A byte of base64 text as a message shows it. */
static void describe_char(unsigned char c, char *buf, size_t size) {
        if (c > 0x20 && c < 0x7f && c != '\'')
                snprintf(buf, size, "'%c'", c);
        else
                snprintf(buf, size, "byte 0x%02x", c);
}

static bool is_base64_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
}

static int check_data_base64(const parser *p, const json_t *v, uint8_t **ret, size_t *ret_len) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v), bad = 0, len;
        void *data;
        char ch[16];
        int r;

        r = base64_decode(s, n, &data, &len, &bad);
        if (r == -ENOMEM)
                return oom(p->err);
        if (r < 0) {
                if (bad >= n)
                        return invalid(p->err,
                                       "%s: field 'data' is not valid base64: its length %zu is "
                                       "not a multiple of 4",
                                       p->call, n);
                describe_char((unsigned char) s[bad], ch, sizeof(ch));
                if (is_base64_char(s[bad]))
                        return invalid(p->err,
                                       "%s: field 'data' is not valid base64: %s at offset %zu "
                                       "has bits set that the padding drops",
                                       p->call, ch, bad);
                return invalid(p->err,
                               "%s: field 'data' is not valid base64: unexpected %s at offset "
                               "%zu (standard alphabet, '=' padding, no whitespace)",
                               p->call, ch, bad);
        }
        *ret = data;
        *ret_len = len;
        return 0;
}

static int check_data(const parser *p, const json_t *v, mcd_encoding encoding, uint8_t **ret,
                      size_t *ret_len) {
        char got[64];

        if (encoding == MCD_ENCODING_BASE64) {
                if (!json_is_string(v))
                        return invalid(p->err,
                                       "%s: field 'data' must be a base64 string when "
                                       "'encoding' is \"base64\" (got %s)",
                                       p->call, describe(p, v, got, sizeof(got)));
                return check_data_base64(p, v, ret, ret_len);
        }
        if (json_is_string(v))
                return invalid(p->err,
                               "%s: field 'data' must be an array of integers 0-255 (got a "
                               "string; base64 text needs \"encoding\": \"base64\")",
                               p->call);
        if (!json_is_array(v))
                return invalid(p->err,
                               "%s: field 'data' must be an array of integers 0-255 (got %s)",
                               p->call, describe(p, v, got, sizeof(got)));
        return check_data_array(p, v, ret, ret_len);
}

/* ---- requests ------------------------------------------------------------------------------- */

void mcd_request_done(mcd_request *req) {
        if (!req)
                return;
        free(req->path);
        free(req->data);
        *req = (mcd_request) MCD_REQUEST_INIT;
}

static int find_call(const char *name, mcd_call *ret) {
        for (size_t i = 0; i < _MCD_CALL_MAX; i++)
                if (streq(name, call_names[i])) {
                        *ret = (mcd_call) i;
                        return 0;
                }
        return -EINVAL;
}

static int parse_fields(const parser *p, mcd_call call, json_t *obj, mcd_request *req) {
        const json_t *fv[_F_MAX] = {};
        const char *key;
        json_t *value;
        uint64_t u;
        int r;

        /* Unknown fields first, in the order the client wrote them. */
        json_object_foreach(obj, key, value) {
                size_t f;

                for (f = 0; f < _F_MAX; f++)
                        if (streq(key, field_names[f]))
                                break;
                if (f == _F_MAX || !(call_fields[call].allowed & BIT(f)))
                        return invalid(p->err, "%s: unknown field '%.*s'", p->call, NAME_MAX_SHOWN,
                                       key);
                fv[f] = value;
        }
        for (size_t f = 0; f < _F_MAX; f++)
                if ((call_fields[call].required & BIT(f)) && !fv[f])
                        return invalid(p->err, "%s: missing field '%s'", p->call, field_names[f]);

        if (fv[F_MMAP_ID]) {
                r = check_uint(p, F_MMAP_ID, -1, fv[F_MMAP_ID], 1, MCD_MAX_U63, &req->mmap_id);
                if (r < 0)
                        return r;
        }
        if (fv[F_PATH]) {
                r = check_path(p, fv[F_PATH], &req->path);
                if (r < 0)
                        return r;
        }
        if (fv[F_OFFSET]) {
                r = check_uint(p, F_OFFSET, -1, fv[F_OFFSET], 0, MCD_MAX_U63, &req->offset);
                if (r < 0)
                        return r;
        }
        if (fv[F_LENGTH]) {
                r = check_uint(p, F_LENGTH, -1, fv[F_LENGTH], 0, MCD_MAX_U63, &req->length);
                if (r < 0)
                        return r;
                req->has_length = true;
        }
        if (fv[F_PROT]) {
                r = check_uint(p, F_PROT, -1, fv[F_PROT], 0, MCD_PROT_ALL, &u);
                if (r < 0)
                        return r;
                req->prot = (unsigned) u;
        }
        if (fv[F_SHARED]) {
                r = check_bool(p, F_SHARED, fv[F_SHARED], &req->shared);
                if (r < 0)
                        return r;
        }
        if (fv[F_ALL]) {
                r = check_bool(p, F_ALL, fv[F_ALL], &req->all);
                if (r < 0)
                        return r;
        }
        if (fv[F_ENCODING]) {
                r = check_encoding(p, fv[F_ENCODING], &req->encoding);
                if (r < 0)
                        return r;
        }
        if (fv[F_DATA]) {
                r = check_data(p, fv[F_DATA], req->encoding, &req->data, &req->data_len);
                if (r < 0)
                        return r;
        }
        if (fv[F_ADVICE]) {
                r = check_advice(p, fv[F_ADVICE], &req->advice);
                if (r < 0)
                        return r;
        }

        if (call == MCD_CALL_MMAP && !req->path) {
                if (!req->has_length)
                        return invalid(p->err,
                                       "%s: field 'length' is required for an anonymous mapping "
                                       "(no 'path')",
                                       p->call);
                if (req->offset != 0)
                        return invalid(p->err,
                                       "%s: field 'offset' must be 0 for an anonymous mapping "
                                       "(got %" PRIu64 ")",
                                       p->call, req->offset);
        }
        return 0;
}

static int load(const char *text, size_t len, json_t **ret, mc_error *err) {
        /*
         * JSON_ALLOW_NUL lets "\u0000" into strings so that the field check can name the field;
         * every string is used with its length. Keys with NUL are still refused by jansson.
         */
        const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL;
        json_error_t e;
        json_t *j;

        j = json_loadb(text, len, flags, &e);
        if (!j) {
                /* jansson fails silently, with no text, only when its first allocation fails. */
                if (json_error_code(&e) == json_error_out_of_memory || e.text[0] == 0)
                        return oom(err);
                return invalid(err, "invalid JSON at byte %d: %s", e.position, e.text);
        }
        *ret = j;
        return 0;
}

int mcd_request_parse_full(const char *line, size_t len, mcd_request *ret, mc_error *err) {
        _cleanup_(mcd_request_done) mcd_request req = MCD_REQUEST_INIT;
        _cleanup_(json_decrefp) json_t *root = NULL;
        _cleanup_(mcd_buf_done) mcd_buf copy = MCD_BUF_INIT;
        scan s = {};
        parser p = {.line = line, .scan = &s, .err = err};
        const char *key;
        json_t *value;
        char got[64];
        int r;

        if (!line || len == 0)
                return invalid(err, "empty request: send one JSON object per line, like "
                                    "{\"Hello\": {}}");
        r = scan_line(line, len, &s, NULL, err);
        if (r < 0)
                return r;
        if (s.n_specials == 0)
                r = load(line, len, &root, err);
        else {
                r = scan_line(line, len, &s, &copy, err);
                if (r < 0)
                        return r;
                r = load(copy.data, copy.len, &root, err);
                /* The copy is broken only where the original is: report the original's error. */
                if (r == -EINVAL) {
                        json_t *j = NULL;

                        r = load(line, len, &j, err);
                        json_decref(j);
                        if (r == 0) /* cannot happen; fail safe all the same */
                                r = invalid(err, "invalid JSON");
                }
        }
        if (r < 0)
                return r;

        if (!json_is_object(root))
                return invalid(err,
                               "request must be a JSON object with one key, the call, like "
                               "{\"Hello\": {}} (got %s)",
                               describe(&p, root, got, sizeof(got)));
        if (json_object_size(root) != 1)
                return invalid(err,
                               "request must name exactly one call, the object's only key "
                               "(got %zu keys)",
                               json_object_size(root));
        json_object_foreach(root, key, value) {
                if (find_call(key, &req.call) < 0)
                        return invalid(err, "unknown call '%.*s'", NAME_MAX_SHOWN, key);
                p.call = call_names[req.call];
                if (!json_is_object(value))
                        return invalid(err,
                                       "%s: the call's value must be an object of fields (got %s)",
                                       p.call, describe(&p, value, got, sizeof(got)));
                r = parse_fields(&p, req.call, value, &req);
                if (r < 0)
                        return r;
        }
        *ret = req;
        req = (mcd_request) MCD_REQUEST_INIT;
        return 0;
}

/* ---- fast path ------------------------------------------------------------------------------ */

/*
 * The requests clients send in bulk (MmapRead, MmapWrite, the calls that take only an id, Hello
 * and MmapList) are decoded here by hand when they have the plain shape every client writes:
 * known keys without escapes, each field at most once in any order, integers as plain decimal
 * digits within their field's range, "encoding" spelled "array" or "base64", "data" as base64
 * text or an array of plain integers 0-255, JSON whitespace between tokens and nothing after
 * the object. That costs a small fraction of building a jansson tree. The fast path never
 * rejects: a line it does not take whole, for whatever reason, goes to the full decoder, which
 * alone decides whether it is valid and what its error says. So it must accept only lines the
 * full decoder accepts, and produce the same mcd_request (the unit tests compare the two).
 *
 * Strings are taken as the bytes up to the next '"'. That is exact for every string accepted:
 * each is either compared with a name, and no name holds a backslash, a control character or a
 * byte above 0x7f, or decoded as base64, whose alphabet has none of these either; anything
 * else (an escape, a raw control character, invalid UTF-8) makes the line decline.
 *
 * Each step takes the cursor and returns the cursor past what it read, or NULL to decline; the
 * cursor lives in registers, which matters for the one-number-per-byte arrays.
 */

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
        unsigned allowed = call_fields[req->call].allowed, seen = 0;
        unsigned required = call_fields[req->call].required;
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
                k = fast_lookup(field_names, _F_MAX, s, n);
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
        k = fast_lookup(call_names, _MCD_CALL_MAX, s, n);
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

int mcd_request_parse(const char *line, size_t len, mcd_request *ret, mc_error *err) {
        if (line && len > 0 && mcd_request_parse_fast(line, len, ret))
                return 0;
        return mcd_request_parse_full(line, len, ret, err);
}

/* ---- buffer --------------------------------------------------------------------------------- */

void mcd_buf_done(mcd_buf *b) {
        if (!b)
                return;
        free(b->data);
        *b = (mcd_buf) MCD_BUF_INIT;
}

int mcd_buf_reserve(mcd_buf *b, size_t n) {
        size_t need, cap;
        char *d;

        /* No object can be larger than PTRDIFF_MAX; asking the allocator would be pointless. */
        if (MC_ADD_OVERFLOW(b->len, n, &need) || need > PTRDIFF_MAX)
                return -ENOMEM;
        if (need <= b->cap)
                return 0;
        cap = MC_MAX(b->cap, (size_t) 256);
        while (cap < need) {
                if (cap > PTRDIFF_MAX / 2) {
                        cap = need;
                        break;
                }
                cap *= 2;
        }
        d = realloc(b->data, cap);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->cap = cap;
        return 0;
}

/*
 * Not inlined: gcc 12's LTO, inlining it into a caller that consumes more than it ever reserved,
 * warns of a read past the buffer on a path (len > n > cap) that len <= cap rules out.
 */
__attribute__((noinline)) void mcd_buf_consume(mcd_buf *b, size_t n) {
        if (n >= b->len) {
                b->len = 0;
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
}

/* ---- JSON writer ---------------------------------------------------------------------------- */

/*
 * The writer works on a cursor into space reserved beforehand for an upper bound of the reply,
 * so the individual puts need no checks and a failed reservation leaves the buffer untouched.
 */

/* Room for one number: 20 digits and a sign. */
#define NUMBER_MAX 21

/* Bound for put_str() of @n bytes: every byte may become \u00XX, plus the quotes. */
static bool str_bound(size_t n, size_t *ret) {
        size_t r;

        if (MC_MUL_OVERFLOW(n, (size_t) 6, &r) || MC_ADD_OVERFLOW(r, (size_t) 2, &r))
                return false;
        *ret = r;
        return true;
}

static bool bound_add(size_t *total, size_t n) {
        return !MC_ADD_OVERFLOW(*total, n, total);
}

/* Reserve @n bytes and return the cursor, or NULL when out of memory. */
static char *begin(mcd_buf *b, size_t n) {
        if (mcd_buf_reserve(b, n) < 0)
                return NULL;
        return b->data + b->len;
}

static int finish(mcd_buf *b, char *o) {
        b->len = (size_t) (o - b->data);
        return 0;
}

static char *put_mem(char *o, const void *s, size_t n) {
        memcpy(o, s, n);
        return o + n;
}

#define put_lit(o, s) put_mem((o), (s), sizeof(s) - 1)

static char *put_u64(char *o, uint64_t v) {
        static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930"
                                    "31323334353637383940414243444546474849505152535455565758596061"
                                    "62636465666768697071727374757677787980818283848586878889909192"
                                    "939495969798"
                                    "99";
        char tmp[20];
        size_t i = sizeof(tmp);

        while (v >= 100) {
                unsigned d = (unsigned) (v % 100);

                v /= 100;
                i -= 2;
                memcpy(tmp + i, pairs + 2 * d, 2);
        }
        if (v >= 10) {
                i -= 2;
                memcpy(tmp + i, pairs + 2 * v, 2);
        } else
                tmp[--i] = (char) ('0' + v);
        return put_mem(o, tmp + i, sizeof(tmp) - i);
}

static char *put_i64(char *o, int64_t v) {
        if (v >= 0)
                return put_u64(o, (uint64_t) v);
        *o++ = '-';
        return put_u64(o, -(uint64_t) v);
}

static char *put_bool(char *o, bool v) {
        return v ? put_lit(o, "true") : put_lit(o, "false");
}

/* The length of the valid UTF-8 sequence at @s (at most @n bytes), or 0 when it is not one. */
static size_t utf8_valid(const unsigned char *s, size_t n) {
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t len;

        if (c >= 0xc2 && c <= 0xdf)
                len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* overlong */
                else if (c == 0xed)
                        hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90; /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f; /* above U+10FFFF */
        } else
                return 0;
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

/* 0: copy as is; 1: escape; 2: start of a multi-byte sequence, to validate. */
static const uint8_t char_class[256] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static char *put_escape(char *o, unsigned char c) {
        static const char hex[] = "0123456789abcdef";

        switch (c) {
        case '"':
                return put_lit(o, "\\\"");
        case '\\':
                return put_lit(o, "\\\\");
        case '\b':
                return put_lit(o, "\\b");
        case '\f':
                return put_lit(o, "\\f");
        case '\n':
                return put_lit(o, "\\n");
        case '\r':
                return put_lit(o, "\\r");
        case '\t':
                return put_lit(o, "\\t");
        }
        o = put_lit(o, "\\u00");
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
        return o;
}

/* The inside of a JSON string for @s: at most 6 * @n bytes. */
static char *put_str_body(char *o, const char *s, size_t n) {
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0;

        while (i < n) {
                size_t run = i, k;

                while (run < n && char_class[u[run]] == 0)
                        run++;
                o = put_mem(o, u + i, run - i);
                i = run;
                if (i >= n)
                        break;
                if (char_class[u[i]] == 1) {
                        o = put_escape(o, u[i]);
                        i++;
                } else if ((k = utf8_valid(u + i, n - i)) > 0) {
                        o = put_mem(o, u + i, k);
                        i += k;
                } else {
                        o = put_escape(o, u[i]);
                        i++;
                }
        }
        return o;
}

/* @s as a JSON string; at most str_bound(@n) bytes. */
static char *put_str(char *o, const char *s, size_t n) {
        *o++ = '"';
        o = put_str_body(o, s, n);
        *o++ = '"';
        return o;
}

static char *put_cstr(char *o, const char *s) {
        return put_str(o, s, strlen(s));
}

/* ---- replies -------------------------------------------------------------------------------- */

/* Bytes of a reply's fixed text (keys, punctuation, the numbers around the data). */
#define FIXED_MAX 256

int mcd_reply_success(mcd_buf *b) {
        static const char text[] = "{\"status\":\"success\"}\n";
        char *o = begin(b, sizeof(text) - 1);

        if (!o)
                return -ENOMEM;
        return finish(b, put_lit(o, text));
}

int mcd_reply_msync(mcd_buf *b, bool written) {
        char *o = begin(b, FIXED_MAX);

        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"success\",\"written\":");
        o = put_bool(o, written);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_mmap(mcd_buf *b, uint64_t id, uint64_t length) {
        int nbytes = id > UINT32_MAX ? 8 : 4;
        char *o = begin(b, FIXED_MAX);

        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"success\",\"data\":[");
        for (int i = nbytes - 1; i >= 0; i--) {
                o = put_u64(o, (id >> (8 * i)) & 0xff);
                if (i > 0)
                        *o++ = ',';
        }
        o = put_lit(o, "],\"mmap_id\":");
        o = put_u64(o, id);
        o = put_lit(o, ",\"length\":");
        o = put_u64(o, length);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

/* Each byte and its comma; the entry is copied whole, so the reservation has 3 bytes of slack. */
static const char byte_text[256][4] = {
        "0,",   "1,",   "2,",   "3,",   "4,",   "5,",   "6,",   "7,",   "8,",   "9,",   "10,",
        "11,",  "12,",  "13,",  "14,",  "15,",  "16,",  "17,",  "18,",  "19,",  "20,",  "21,",
        "22,",  "23,",  "24,",  "25,",  "26,",  "27,",  "28,",  "29,",  "30,",  "31,",  "32,",
        "33,",  "34,",  "35,",  "36,",  "37,",  "38,",  "39,",  "40,",  "41,",  "42,",  "43,",
        "44,",  "45,",  "46,",  "47,",  "48,",  "49,",  "50,",  "51,",  "52,",  "53,",  "54,",
        "55,",  "56,",  "57,",  "58,",  "59,",  "60,",  "61,",  "62,",  "63,",  "64,",  "65,",
        "66,",  "67,",  "68,",  "69,",  "70,",  "71,",  "72,",  "73,",  "74,",  "75,",  "76,",
        "77,",  "78,",  "79,",  "80,",  "81,",  "82,",  "83,",  "84,",  "85,",  "86,",  "87,",
        "88,",  "89,",  "90,",  "91,",  "92,",  "93,",  "94,",  "95,",  "96,",  "97,",  "98,",
        "99,",  "100,", "101,", "102,", "103,", "104,", "105,", "106,", "107,", "108,", "109,",
        "110,", "111,", "112,", "113,", "114,", "115,", "116,", "117,", "118,", "119,", "120,",
        "121,", "122,", "123,", "124,", "125,", "126,", "127,", "128,", "129,", "130,", "131,",
        "132,", "133,", "134,", "135,", "136,", "137,", "138,", "139,", "140,", "141,", "142,",
        "143,", "144,", "145,", "146,", "147,", "148,", "149,", "150,", "151,", "152,", "153,",
        "154,", "155,", "156,", "157,", "158,", "159,", "160,", "161,", "162,", "163,", "164,",
        "165,", "166,", "167,", "168,", "169,", "170,", "171,", "172,", "173,", "174,", "175,",
        "176,", "177,", "178,", "179,", "180,", "181,", "182,", "183,", "184,", "185,", "186,",
        "187,", "188,", "189,", "190,", "191,", "192,", "193,", "194,", "195,", "196,", "197,",
        "198,", "199,", "200,", "201,", "202,", "203,", "204,", "205,", "206,", "207,", "208,",
        "209,", "210,", "211,", "212,", "213,", "214,", "215,", "216,", "217,", "218,", "219,",
        "220,", "221,", "222,", "223,", "224,", "225,", "226,", "227,", "228,", "229,", "230,",
        "231,", "232,", "233,", "234,", "235,", "236,", "237,", "238,", "239,", "240,", "241,",
        "242,", "243,", "244,", "245,", "246,", "247,", "248,", "249,", "250,", "251,", "252,",
        "253,", "254,", "255,",
};

int mcd_reply_data(mcd_buf *b, const void *bytes, size_t n, mcd_encoding encoding) {
        static const char head[] = "{\"status\":\"success\",\"data\":";
        const unsigned char *p = bytes;
        size_t bound;
        char *o;

        if (encoding == MCD_ENCODING_BASE64) {
                if (!base64_encoded_size(n, &bound) || !bound_add(&bound, FIXED_MAX))
                        return -ENOMEM;
                o = begin(b, bound);
                if (!o)
                        return -ENOMEM;
                o = put_lit(o, head);
                *o++ = '"';
                o += base64_encode_to(o, p, n);
                o = put_lit(o, "\"}\n");
                return finish(b, o);
        }
        if (encoding != MCD_ENCODING_ARRAY)
                return -EINVAL;
        if (n > (SIZE_MAX - FIXED_MAX) / 4)
                return -ENOMEM;
        o = begin(b, 4 * n + FIXED_MAX);
        if (!o)
                return -ENOMEM;
        o = put_lit(o, head);
        *o++ = '[';
        for (size_t i = 0; i < n; i++) {
                unsigned v = p[i];

                memcpy(o, byte_text[v], 4);
                o += 2 + (v >= 10) + (v >= 100); /* branch-free: the bytes are random */
        }
        if (n > 0)
                o--; /* the last comma */
        o = put_lit(o, "]}\n");
        return finish(b, o);
}

/* Bytes of one element of "ranges": three numbers, three booleans and the keys. */
#define RANGE_MAX 128

static bool stats_bound(const mcd_stats *s, size_t *total) {
        size_t n, r;

        if (s->path) {
                if (!str_bound(strlen(s->path), &n))
                        return false;
        } else
                n = 4;
        return bound_add(total, n) && bound_add(total, FIXED_MAX) &&
               !MC_MUL_OVERFLOW(s->n_ranges, (size_t) RANGE_MAX, &r) && bound_add(total, r);
}

static char *put_prot(char *o, unsigned prot) {
        o = put_lit(o, "{\"read\":");
        o = put_bool(o, prot & MCD_PROT_READ);
        o = put_lit(o, ",\"write\":");
        o = put_bool(o, prot & MCD_PROT_WRITE);
        o = put_lit(o, ",\"exec\":");
        o = put_bool(o, prot & MCD_PROT_EXEC);
        *o++ = '}';
        return o;
}

static char *put_stats(char *o, const mcd_stats *s) {
        o = put_lit(o, "{\"id\":");
        o = put_u64(o, s->id);
        o = put_lit(o, ",\"path\":");
        o = s->path ? put_cstr(o, s->path) : put_lit(o, "null");
        o = put_lit(o, ",\"offset\":");
        o = put_u64(o, s->offset);
        o = put_lit(o, ",\"length\":");
        o = put_u64(o, s->length);
        o = put_lit(o, ",\"prot\":");
        o = put_prot(o, s->prot);
        o = put_lit(o, ",\"flags\":");
        o = s->shared ? put_lit(o, "\"Shared\"") : put_lit(o, "\"Private\"");
        o = put_lit(o, ",\"owner_pid\":");
        o = put_i64(o, s->owner_pid);
        /* What memcap adds to the original's reply comes after its fields, only when it says
         * something, so a mapping that uses none of it is described exactly as before. */
        if (s->locked > 0) {
                o = put_lit(o, ",\"locked\":");
                o = put_u64(o, s->locked);
        }
        if (s->faulted)
                o = put_lit(o, ",\"faulted\":true");
        if (s->n_ranges > 0) {
                o = put_lit(o, ",\"ranges\":[");
                for (size_t i = 0; i < s->n_ranges; i++) {
                        if (i > 0)
                                *o++ = ',';
                        o = put_lit(o, "{\"offset\":");
                        o = put_u64(o, s->ranges[i].offset);
                        o = put_lit(o, ",\"length\":");
                        o = put_u64(o, s->ranges[i].length);
                        o = put_lit(o, ",\"prot\":");
                        o = put_prot(o, s->ranges[i].prot);
                        *o++ = '}';
                }
                *o++ = ']';
        }
        *o++ = '}';
        return o;
}

int mcd_reply_stats(mcd_buf *b, const mcd_stats *s) {
        size_t bound = FIXED_MAX;
        char *o;

        if (!stats_bound(s, &bound))
                return -ENOMEM;
        o = begin(b, bound);
        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"success\",\"data\":");
        o = put_stats(o, s);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_list(mcd_buf *b, const mcd_stats *items, size_t n) {
        size_t bound = FIXED_MAX;
        char *o;

        for (size_t i = 0; i < n; i++)
                if (!stats_bound(&items[i], &bound))
                        return -ENOMEM;
        o = begin(b, bound);
        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"success\",\"data\":[");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        *o++ = ',';
                o = put_stats(o, &items[i]);
        }
        o = put_lit(o, "]}\n");
        return finish(b, o);
}

int mcd_reply_fd(mcd_buf *b, uint64_t id, uint64_t offset, uint64_t length, bool writable) {
        char *o = begin(b, FIXED_MAX);

        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"success\",\"mmap_id\":");
        o = put_u64(o, id);
        o = put_lit(o, ",\"offset\":");
        o = put_u64(o, offset);
        o = put_lit(o, ",\"length\":");
        o = put_u64(o, length);
        o = put_lit(o, ",\"writable\":");
        o = put_bool(o, writable);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_hello(mcd_buf *b, unsigned caps, pid_t pid, uid_t uid) {
        char *o = begin(b, 2 * FIXED_MAX);
        bool first = true;

        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"success\",\"data\":{\"daemon\":\"" MCD_DAEMON_NAME
                       "\",\"version\":\"" MCD_DAEMON_VERSION "\",\"protocol\":");
        o = put_u64(o, MCD_PROTOCOL_VERSION);
        o = put_lit(o, ",\"capabilities\":[");
        for (size_t i = 0; i < ELEMENTSOF(capability_names); i++) {
                if (!(caps & (1u << i)))
                        continue;
                if (!first)
                        *o++ = ',';
                first = false;
                *o++ = '"';
                o = put_mem(o, capability_names[i], strlen(capability_names[i]));
                *o++ = '"';
        }
        o = put_lit(o, "],\"pid\":");
        o = put_i64(o, pid);
        o = put_lit(o, ",\"uid\":");
        o = put_u64(o, uid);
        o = put_lit(o, "}}\n");
        return finish(b, o);
}

int mcd_reply_error(mcd_buf *b, const mc_error *e, const char *call) {
        size_t msg_len = strnlen(e->message, sizeof(e->message));
        size_t call_len = call ? strlen(call) : 0;
        size_t bound = FIXED_MAX, n;
        char *o;

        if (!str_bound(msg_len, &n) || !bound_add(&bound, n) || !str_bound(call_len, &n) ||
            !bound_add(&bound, n))
                return -ENOMEM;
        o = begin(b, bound);
        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"error\",\"kind\":");
        o = put_cstr(o, mc_error_kind_name(e->kind));
        o = put_lit(o, ",\"code\":");
        o = put_cstr(o, mc_error_code(e->kind, MC_DOMAIN_MEMORY));
        o = put_lit(o, ",\"message\":");
        *o++ = '"';
        if (call) {
                o = put_str_body(o, call, call_len);
                o = put_lit(o, " failed: ");
        }
        o = put_str_body(o, e->message, msg_len);
        *o++ = '"';
        if (e->sys_errno != 0) {
                o = put_lit(o, ",\"errno\":");
                o = put_i64(o, e->sys_errno);
        }
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_denied(mcd_buf *b, const char *reason) {
        size_t bound = FIXED_MAX, n;
        char *o;

        if (!reason)
                reason = "";
        if (!str_bound(strlen(reason), &n) || !bound_add(&bound, n))
                return -ENOMEM;
        o = begin(b, bound);
        if (!o)
                return -ENOMEM;
        o = put_lit(o, "{\"status\":\"permission_denied\",\"kind\":\"PermissionDenied\","
                       "\"code\":\"core.memory.PermissionDenied\",\"reason\":");
        o = put_cstr(o, reason);
        o = put_lit(o, "}\n");
        return finish(b, o);
}
