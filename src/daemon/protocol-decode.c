/* SPDX-License-Identifier: MIT */
/*
 * The full request decoder of the memcapd protocol: the safety net. Every line the fast path
 * (protocol-fast.c) does not take whole comes here, and this alone decides whether a request is
 * valid and what its error says.
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
 * Sections: errors, pre-scan, field checks, requests.
 */

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "macro.h"
#include "protocol-int.h"
#include "strv.h"

/* ---- errors --------------------------------------------------------------------------------- */

/* Client-controlled names are cut to this many bytes in messages. */
#define NAME_MAX_SHOWN 64

/* Every refusal is InvalidArgument (EINVAL), with a message naming the call and the field. */
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
                snprintf(what, sizeof(what), "field '%s'", mcd__field_names[f]);
        else
                snprintf(what, sizeof(what), "field '%s' element %zd", mcd__field_names[f],
                         element);
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
                               mcd__field_names[f], describe(p, v, got, sizeof(got)));
        *ret = json_is_true(v);
        return 0;
}

/* The text of field @f, @v, and its length (it may hold NULs), when @v is a string. */
static int check_string(const parser *p, field f, const json_t *v, const char **ret,
                        size_t *ret_len) {
        char got[64];

        if (!json_is_string(v))
                return invalid(p->err, "%s: field '%s' must be a string (got %s)", p->call,
                               mcd__field_names[f], describe(p, v, got, sizeof(got)));
        *ret = json_string_value(v);
        *ret_len = json_string_length(v);
        return 0;
}

/* Whether the string @v is @name, compared by length: a JSON string may hold NULs. */
static bool string_is(const json_t *v, const char *name) {
        size_t n = json_string_length(v);

        return n == strlen(name) && memcmp(json_string_value(v), name, n) == 0;
}

/* The string @v quoted for "(got ...)", its first 24 bytes; a NUL inside stops the copy early,
 * the text is for humans. */
static const char *quote_string(const json_t *v, char *buf, size_t size) {
        size_t n = json_string_length(v);

        snprintf(buf, size, "\"%.*s\"%s", (int) MC_MIN(n, (size_t) 24), json_string_value(v),
                 n > 24 ? "..." : "");
        return buf;
}

static int check_path(const parser *p, const json_t *v, mcd_request *req) {
        char **ret = &req->path;
        const char *s;
        size_t n;
        int r;

        r = check_string(p, F_PATH, v, &s, &n);
        if (r < 0)
                return r;
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

static int check_encoding(const parser *p, const json_t *v, mcd_request *req) {
        mcd_encoding *ret = &req->encoding;
        static const char *const names[] = {
                [MCD_ENCODING_ARRAY] = "array", [MCD_ENCODING_BASE64] = "base64"};
        char got[64];

        if (json_is_string(v))
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (string_is(v, names[i])) {
                                *ret = (mcd_encoding) i;
                                return 0;
                        }
        return invalid(p->err, "%s: field 'encoding' must be \"array\" or \"base64\" (got %s)",
                       p->call,
                       json_is_string(v) ? quote_string(v, got, sizeof(got))
                                         : describe(p, v, got, sizeof(got)));
}

static int check_advice(const parser *p, const json_t *v, mcd_request *req) {
        mc_advice *ret = &req->advice;
        char got[64];

        if (json_is_string(v))
                for (int i = 0; i < _MC_ADVICE_MAX; i++) {
                        const char *name = mc_advice_name((mc_advice) i);

                        if (name && string_is(v, name)) {
                                *ret = (mc_advice) i;
                                return 0;
                        }
                }
        return invalid(p->err,
                       "%s: field 'advice' must name an advice, such as \"WILLNEED\" (got %s)",
                       p->call,
                       json_is_string(v) ? quote_string(v, got, sizeof(got))
                                         : describe(p, v, got, sizeof(got)));
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

/* After check_encoding(): the encoding decides what data must be. */
static int check_data(const parser *p, const json_t *v, mcd_request *req) {
        mcd_encoding encoding = req->encoding;
        uint8_t **ret = &req->data;
        size_t *ret_len = &req->data_len;
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
/*
 * A channel name: the daemon keeps channels by it and matches it against the policy's
 * allowed_shared_memory, so it is kept to characters that need no escaping anywhere (a log, a
 * shell, a pattern) and stored with its leading '/'.
 */
static int check_name(const parser *p, const json_t *v, mcd_request *req) {
        char **ret = &req->name;
        const char *s, *base;
        size_t n;
        int r;

        r = check_string(p, F_NAME, v, &s, &n);
        if (r < 0)
                return r;
        base = s[0] == '/' ? s + 1 : s;
        if (n == (size_t) (base - s))
                return invalid(p->err, "%s: field 'name' must not be empty", p->call);
        if (n - (size_t) (base - s) > MCD_CHANNEL_NAME_MAX - 1)
                return invalid(p->err, "%s: field 'name' is %zu bytes; the limit is %d", p->call, n,
                               MCD_CHANNEL_NAME_MAX - 1);
        for (const char *c = base; c < s + n; c++)
                if (!(is_digit((unsigned char) *c) || (*c >= 'a' && *c <= 'z') ||
                      (*c >= 'A' && *c <= 'Z') || *c == '.' || *c == '_' || *c == '-'))
                        return invalid(p->err,
                                       "%s: field 'name' may hold only letters, digits, '.', '_' "
                                       "and '-' after an optional leading '/' (byte %zu is 0x%02x)",
                                       p->call, (size_t) (c - s), (unsigned char) *c);
        if (streq(base, ".") || streq(base, ".."))
                return invalid(p->err, "%s: field 'name' must not be '.' or '..'", p->call);
        if (asprintf(ret, "/%s", base) < 0) {
                *ret = NULL;
                return oom(p->err);
        }
        return 0;
}

static int check_role(const parser *p, const json_t *v, mcd_request *req) {
        mc_channel_role *ret = &req->role;
        static const mc_channel_role roles[] = {MC_CHANNEL_PRODUCER, MC_CHANNEL_CONSUMER,
                                                MC_CHANNEL_NONE};
        char got[64];

        if (json_is_string(v))
                for (size_t i = 0; i < ELEMENTSOF(roles); i++)
                        if (string_is(v, mc_channel_role_name(roles[i]))) {
                                *ret = roles[i];
                                return 0;
                        }
        return invalid(
                p->err, "%s: field 'role' must be \"producer\", \"consumer\" or \"none\" (got %s)",
                p->call, json_is_string(v) ? "another string" : describe(p, v, got, sizeof(got)));
}

static int check_prot(const parser *p, const json_t *v, mcd_request *req) {
        uint64_t u = 0; /* GCC -O3 cannot see that check_uint() sets it whenever it returns 0 */
        int r;

        r = check_uint(p, F_PROT, -1, v, 0, MCD_PROT_ALL, &u);
        if (r < 0)
                return r;
        req->prot = (unsigned) u;
        return 0;
}

/*
 * Every field: how it is checked and where its value goes, in the order of the checks, which
 * decides the error a request with several bad fields gets (and puts 'encoding' before 'data',
 * which needs it). Numbers and flags go to the member at @off; the others have a checker.
 */
enum { R_UINT, R_BOOL, R_OWN };

#define AT(member) offsetof(mcd_request, member)

static const struct field_rule {
        field f;
        uint8_t kind;      /* R_* */
        uint64_t min, max; /* R_UINT */
        size_t off;        /* R_UINT (a uint64_t), R_BOOL (a bool) */
        int (*check)(const parser *p, const json_t *v, mcd_request *req); /* R_OWN */
} field_rules[] = {
        {F_MMAP_ID, R_UINT, 1, MCD_MAX_U63, AT(mmap_id)},
        {F_PATH, R_OWN, .check = check_path},
        {F_OFFSET, R_UINT, 0, MCD_MAX_U63, AT(offset)},
        {F_LENGTH, R_UINT, 0, MCD_MAX_U63, AT(length)},
        {F_PROT, R_OWN, .check = check_prot},
        {F_SHARED, R_BOOL, .off = AT(shared)},
        {F_ALL, R_BOOL, .off = AT(all)},
        {F_ENCODING, R_OWN, .check = check_encoding},
        {F_DATA, R_OWN, .check = check_data},
        {F_ADVICE, R_OWN, .check = check_advice},
        {F_NAME, R_OWN, .check = check_name},
        {F_CAPACITY, R_UINT, 0, MCD_MAX_U63, AT(capacity)},
        {F_MAX_MESSAGE, R_UINT, 1, MCD_MAX_U63, AT(max_message)},
        {F_PRODUCERS, R_UINT, 0, MC_CHANNEL_MAX_PRODUCERS, AT(producers)},
        {F_ROLE, R_OWN, .check = check_role},
        {F_EVENTFD, R_BOOL, .off = AT(eventfd)},
};

#undef AT

_Static_assert(ELEMENTSOF(field_rules) == _F_MAX, "every field has a rule");

/* ---- requests ------------------------------------------------------------------------------- */

static int find_call(const char *name, mcd_call *ret) {
        ssize_t i = strv_index(mcd__call_names, _MCD_CALL_MAX, name);

        if (i < 0)
                return -EINVAL;
        *ret = (mcd_call) i;
        return 0;
}

static int parse_fields(const parser *p, mcd_call call, json_t *obj, mcd_request *req) {
        const json_t *fv[_F_MAX] = {};
        const char *key;
        json_t *value;
        int r;

        /* Unknown fields first, in the order the client wrote them. */
        json_object_foreach(obj, key, value) {
                size_t f;

                for (f = 0; f < _F_MAX; f++)
                        if (streq(key, mcd__field_names[f]))
                                break;
                if (f == _F_MAX || !(mcd__call_fields[call].allowed & BIT(f)))
                        return invalid(p->err, "%s: unknown field '%.*s'", p->call, NAME_MAX_SHOWN,
                                       key);
                fv[f] = value;
        }
        for (size_t f = 0; f < _F_MAX; f++)
                if ((mcd__call_fields[call].required & BIT(f)) && !fv[f])
                        return invalid(p->err, "%s: missing field '%s'", p->call,
                                       mcd__field_names[f]);

        for (size_t i = 0; i < ELEMENTSOF(field_rules); i++) {
                const struct field_rule *fr = &field_rules[i];
                const json_t *v = fv[fr->f];
                void *at = (char *) req + fr->off;

                if (!v)
                        continue;
                if (fr->kind == R_UINT)
                        r = check_uint(p, fr->f, -1, v, fr->min, fr->max, at);
                else if (fr->kind == R_BOOL)
                        r = check_bool(p, fr->f, v, at);
                else
                        r = fr->check(p, v, req);
                if (r < 0)
                        return r;
        }
        req->has_length = fv[F_LENGTH] != NULL;

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
                p.call = mcd__call_names[req.call];
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
