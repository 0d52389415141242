/* SPDX-License-Identifier: MIT */
/*
 * The policy's JSON form: loading it from a file or a string, strictly, and printing it back.
 *
 * jansson parses (duplicate keys rejected, strict UTF-8, exact 64-bit integers) and reports the
 * line and column of syntax errors. It keeps no positions for values, so errors about what a
 * valid document says (an unknown field, a wrong type, a bad size) are placed by a small
 * locator that re-scans the already valid text for a top-level key, its value, or the Nth
 * element of its array value. Every error is InvalidArgument with the message
 * "<file>:<line>:<column>: <what is wrong>", columns counted in characters as jansson does.
 *
 * Sections: messages, the locator, field parsers, loading, printing.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include "internal.h"
#include "json-escape.h"
#include "policy-def.h"
#include "strv.h"

/* Largest policy file we read; a policy is a few hundred bytes. */
#define POLICY_FILE_MAX (1024 * 1024)

/* ---- messages -------------------------------------------------------------------------------- */

/*
 * Copy a user string into @buf for a message: control characters become '?' so a message
 * stays one line, and a long string is cut (at a character boundary) and marked "...".
 */
static const char *shown(const char *s, char *buf, size_t size) {
        size_t n = strlen(s), max = size - 4, i;

        if (n <= size - 1)
                max = n;
        else
                while (max > 0 && ((unsigned char) s[max] & 0xC0) == 0x80)
                        max--;
        for (i = 0; i < max; i++) {
                unsigned char ch = (unsigned char) s[i];
                buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char) ch;
        }
        if (max < n) {
                memcpy(buf + i, "...", 3);
                i += 3;
        }
        buf[i] = 0;
        return buf;
}

/* A file name for a message: its tail when long, because the tail names the file. */
static const char *origin_shown(const char *origin, char *buf, size_t size) {
        size_t n = strlen(origin);

        if (n < size)
                return origin;
        buf[0] = buf[1] = buf[2] = '.';
        memcpy(buf + 3, origin + n - (size - 4), size - 4);
        buf[size - 1] = 0;
        return buf;
}

static const char *type_name(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return "an object";
        case JSON_ARRAY:
                return "an array";
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a fractional number";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        }
        return "a value of unknown type";
}

/* ---- the locator ----------------------------------------------------------------------------- */

/* What the locator looks for. */
typedef struct where {
        const char *key; /* a top-level key */
        bool at_key;     /* the key itself rather than its value */
        long element;    /* >= 0: this element of the key's array value */
} where;

static size_t skip_ws(const char *t, size_t len, size_t i) {
        while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
                i++;
        return i;
}

/* @i is at the opening quote; returns the offset after the closing quote. */
static size_t skip_string(const char *t, size_t len, size_t i) {
        for (i++; i < len; i++) {
                if (t[i] == '\\')
                        i++;
                else if (t[i] == '"')
                        return i + 1;
        }
        return len;
}

/* Skip one value (string, container or scalar) starting at @i. */
static size_t skip_value(const char *t, size_t len, size_t i) {
        size_t depth = 0;

        if (i >= len)
                return len;
        if (t[i] == '"')
                return skip_string(t, len, i);
        if (t[i] != '{' && t[i] != '[') {
                while (i < len && !strchr(",]} \t\r\n", t[i]))
                        i++;
                return i;
        }
        while (i < len) {
                if (t[i] == '"') {
                        i = skip_string(t, len, i);
                        continue;
                }
                if (t[i] == '{' || t[i] == '[')
                        depth++;
                else if ((t[i] == '}' || t[i] == ']') && --depth == 0)
                        return i + 1;
                i++;
        }
        return len;
}

static unsigned hex4(const char *t, size_t len, size_t i) {
        unsigned v = 0;

        for (size_t k = i; k < i + 4 && k < len; k++) {
                char ch = t[k];
                v <<= 4;
                if (ch >= '0' && ch <= '9')
                        v |= (unsigned) (ch - '0');
                else if (ch >= 'a' && ch <= 'f')
                        v |= (unsigned) (ch - 'a' + 10);
                else if (ch >= 'A' && ch <= 'F')
                        v |= (unsigned) (ch - 'A' + 10);
        }
        return v;
}

/*
 * Whether the JSON string at @i (its opening quote) decodes to @key. Decoding escapes matters:
 * "\u0061llow_fixed" is the key allow_fixed as jansson reports it.
 */
static bool string_equals(const char *t, size_t len, size_t i, const char *key) {
        size_t k = 0, klen = strlen(key);

        for (i++; i < len && t[i] != '"';) {
                char out[4];
                size_t n = 1;

                if (t[i] != '\\') {
                        out[0] = t[i++];
                } else if (i + 1 < len && t[i + 1] != 'u') {
                        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                        const char *e = strchr(from, t[i + 1]);
                        out[0] = e ? to[e - from] : t[i + 1];
                        i += 2;
                } else {
                        unsigned cp = hex4(t, len, i + 2);
                        i += 6;
                        if (cp >= 0xD800 && cp < 0xDC00 && i + 5 < len && t[i] == '\\' &&
                            t[i + 1] == 'u') {
                                unsigned lo = hex4(t, len, i + 2);
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                i += 6;
                        }
                        if (cp > 0x10FFFF) /* a broken pair: no key is spelled so */
                                return false;
                        n = utf8_encode(cp, out);
                }
                if (k + n > klen || memcmp(key + k, out, n) != 0)
                        return false;
                k += n;
        }
        return k == klen;
}

/*
 * The byte offset of what @w names in the valid JSON text; the start of the document's first
 * token when it is not found (a fallback that still points into the right file).
 */
static size_t locate(const char *t, size_t len, const where *w) {
        size_t start = skip_ws(t, len, 0), i = start;

        if (i >= len || t[i] != '{')
                return start;
        for (i++;;) {
                size_t key_at, value_at;
                bool match;

                i = skip_ws(t, len, i);
                if (i >= len || t[i] != '"')
                        return start;
                key_at = i;
                match = w->key && string_equals(t, len, i, w->key);
                i = skip_ws(t, len, skip_string(t, len, i));
                if (i >= len || t[i] != ':')
                        return start;
                value_at = i = skip_ws(t, len, i + 1);
                if (match) {
                        if (w->at_key)
                                return key_at;
                        if (w->element < 0 || t[i] != '[')
                                return value_at;
                        i++;
                        for (long n = 0;; n++) {
                                i = skip_ws(t, len, i);
                                if (i >= len || t[i] == ']')
                                        return value_at;
                                if (n == w->element)
                                        return i;
                                i = skip_ws(t, len, skip_value(t, len, i));
                                if (i < len && t[i] == ',')
                                        i++;
                        }
                }
                i = skip_ws(t, len, skip_value(t, len, i));
                if (i < len && t[i] == ',')
                        i++;
        }
}

/* Line and column (1-based, columns in characters like jansson) of byte @off. */
static void position(const char *t, size_t len, size_t off, unsigned *line, unsigned *column) {
        unsigned l = 1, c = 1;

        for (size_t i = 0; i < off && i < len; i++) {
                if (t[i] == '\n') {
                        l++;
                        c = 1;
                } else if (((unsigned char) t[i] & 0xC0) != 0x80) {
                        c++;
                }
        }
        *line = l;
        *column = c;
}

/* ---- field parsers --------------------------------------------------------------------------- */

typedef struct loader {
        const char *text;
        size_t len;
        const char *origin;
        mc_error *err;
} loader;

static int fail_at_position(loader *l, unsigned line, unsigned column, const char *fmt, ...)
        _printf_(4, 5);
static int fail_at(loader *l, const where *w, const char *fmt, ...) _printf_(3, 4);

_printf_(4, 0) static int vfail(loader *l, unsigned line, unsigned column, const char *fmt,
                                va_list ap) {
        char detail[MC_ERROR_MESSAGE_MAX], obuf[100];

        if (!l->err)
                return -EINVAL;
        if (vsnprintf(detail, sizeof(detail), fmt, ap) < 0)
                detail[0] = 0;
        return mc__error_set(l->err, MC_ERR_INVALID_ARGUMENT, EINVAL, "%s:%u:%u: %s",
                             origin_shown(l->origin, obuf, sizeof(obuf)), line, column, detail);
}

static int fail_at_position(loader *l, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vfail(l, line, column, fmt, ap);
        va_end(ap);
        return r;
}

static int fail_at(loader *l, const where *w, const char *fmt, ...) {
        unsigned line, column;
        va_list ap;
        int r;

        position(l->text, l->len, locate(l->text, l->len, w), &line, &column);
        va_start(ap, fmt);
        r = vfail(l, line, column, fmt, ap);
        va_end(ap);
        return r;
}

#define WHERE_VALUE(k)      (&(where){.key = (k), .at_key = false, .element = -1})
#define WHERE_KEY(k)        (&(where){.key = (k), .at_key = true, .element = -1})
#define WHERE_ELEMENT(k, n) (&(where){.key = (k), .at_key = false, .element = (long) (n)})

/*
 * A field of the policy file and how it is read. The generic readers (a flag, a limit, a list
 * of bits) store into the member of mc_policy at @off, so a field of a known kind is one row of
 * fields[] below; the others read into @p themselves.
 */
typedef struct field {
        const char *name;
        int (*parse)(loader *l, const char *key, json_t *v, mc_policy *p, const struct field *f);
        size_t off;       /* offsetof(mc_policy, <member>) for the generic readers */
        const void *list; /* the bit_list or str_list of a list field */
} field;

#define MEMBER(p, f, type) ((type *) (void *) ((char *) (p) + (f)->off))

static int parse_version(loader *l, const char *key, json_t *v, mc_policy *p, const field *f) {
        (void) p;
        (void) f;
        if (!json_is_integer(v))
                return fail_at(l, WHERE_VALUE(key), "\"%s\" must be the integer 1, not %s", key,
                               type_name(v));
        if (json_integer_value(v) != 1)
                return fail_at(l, WHERE_VALUE(key),
                               "unsupported policy version %" JSON_INTEGER_FORMAT
                               " (this memcap reads version 1)",
                               json_integer_value(v));
        return 0;
}

static int parse_flag(loader *l, const char *key, json_t *v, mc_policy *p, const field *f) {
        if (!json_is_boolean(v))
                return fail_at(l, WHERE_VALUE(key), "\"%s\" must be true or false, not %s", key,
                               type_name(v));
        *MEMBER(p, f, bool) = json_is_true(v);
        return 0;
}

static int parse_limit(loader *l, const char *key, json_t *v, mc_policy *p, const field *f) {
        uint64_t *ret = MEMBER(p, f, uint64_t);
        char buf[64];
        const char *s;
        uint64_t x;
        int r;

        if (json_is_integer(v)) {
                if (json_integer_value(v) < 0)
                        return fail_at(l, WHERE_VALUE(key),
                                       "\"%s\" must not be negative (%" JSON_INTEGER_FORMAT ")",
                                       key, json_integer_value(v));
                *ret = (uint64_t) json_integer_value(v);
                return 0;
        }
        if (json_is_real(v))
                return fail_at(l, WHERE_VALUE(key),
                               "\"%s\" must be a whole number, not %g; or a string such as "
                               "\"4GiB\" or \"unlimited\"",
                               key, json_real_value(v));
        if (!json_is_string(v))
                return fail_at(l, WHERE_VALUE(key),
                               "\"%s\" must be a non-negative integer, a size string such as "
                               "\"4GiB\", or \"unlimited\"; not %s",
                               key, type_name(v));
        s = json_string_value(v);
        if (streq(s, "unlimited")) {
                *ret = MC_UNLIMITED;
                return 0;
        }
        r = mc_parse_size(s, &x);
        if (r == -ERANGE)
                return fail_at(l, WHERE_VALUE(key), "\"%s\": \"%s\" does not fit in 64 bits", key,
                               shown(s, buf, sizeof(buf)));
        if (r < 0)
                return fail_at(l, WHERE_VALUE(key),
                               "\"%s\": bad size \"%s\" (use digits with an optional binary unit "
                               "K, M, G, T, P or E, as in \"512KiB\" or \"4G\", or \"unlimited\")",
                               key, shown(s, buf, sizeof(buf)));
        *ret = x;
        return 0;
}

/*
 * The list fields. Each is an array whose elements are checked one by one and the whole field
 * replaced only when every element is good; they differ in what an element may be and what it
 * becomes, which the tables below say, so the array walk and its messages exist once.
 */

/* A list of bits: each element names one bit; "*" (where allowed) names them all. */
typedef struct bit_list {
        const char *expect; /* the field's whole type, then its punctuation before " not %s" */
        const char *items;  /* what an element must be */
        unsigned types;     /* the JSON types an element may have: TYPE_BIT(JSON_*) */
        bool wildcard;      /* "*" stands for @all */
        uint64_t all;       /* every bit that names something */
        /* The bit an element (of an allowed type) names, or a failure reported through @l. */
        int (*bit)(loader *l, const char *key, size_t i, json_t *e, uint64_t *ret);
        /* What the policy printer writes for bit @i; NULL when out of memory. */
        json_t *(*to_json)(unsigned i);
        /* How many low bits the printer may write on this platform; NULL: all 64. */
        unsigned (*n_bits)(void);
} bit_list;

#define TYPE_BIT(t) (1u << (t))

static int bits_of(loader *l, const char *key, json_t *v, const bit_list *k, uint64_t *ret) {
        uint64_t set = 0;
        size_t i;
        json_t *e;
        int r;

        if (k->wildcard && json_is_string(v) && streq(json_string_value(v), "*")) {
                *ret = k->all;
                return 0;
        }
        if (!json_is_array(v))
                return fail_at(l, WHERE_VALUE(key), "\"%s\" must be %s not %s", key, k->expect,
                               type_name(v));
        json_array_foreach(v, i, e) {
                uint64_t bit;

                if (!(k->types & TYPE_BIT(json_typeof(e))))
                        return fail_at(l, WHERE_ELEMENT(key, i), "\"%s\" must list %s, not %s", key,
                                       k->items, type_name(e));
                r = k->bit(l, key, i, e, &bit);
                if (r < 0)
                        return r;
                set |= bit;
        }
        *ret = set;
        return 0;
}

static int op_bit(loader *l, const char *key, size_t i, json_t *e, uint64_t *ret) {
        char buf[64];
        mc_op op;

        if (mc_op_from_name(json_string_value(e), &op) < 0)
                return fail_at(l, WHERE_ELEMENT(key, i),
                               "unknown operation \"%s\" in \"%s\" (operations are "
                               "named like \"mmap\", \"shm_open\", \"signal_send\")",
                               shown(json_string_value(e), buf, sizeof(buf)), key);
        *ret = MC_OP_BIT(op);
        return 0;
}

static int signal_bit(loader *l, const char *key, size_t i, json_t *e, uint64_t *ret) {
        int max = MC_MIN(SIGRTMAX, MC__POLICY_SIGNAL_MAX);
        char buf[64];
        int signo;

        if (json_is_integer(e)) {
                json_int_t x = json_integer_value(e);
                if (x < 1 || x > max)
                        return fail_at(l, WHERE_ELEMENT(key, i),
                                       "signal number %" JSON_INTEGER_FORMAT
                                       " in \"%s\" is outside 1..%d",
                                       x, key, max);
                signo = (int) x;
        } else if (mc_signal_from_name(json_string_value(e), &signo, NULL) < 0 || signo > max)
                return fail_at(l, WHERE_ELEMENT(key, i),
                               "unknown signal \"%s\" in \"%s\" (use a name such "
                               "as \"SIGUSR1\" or \"RTMIN+1\", or a number)",
                               shown(json_string_value(e), buf, sizeof(buf)), key);
        *ret = MC__SIGNAL_BIT(signo);
        return 0;
}

static int node_bit(loader *l, const char *key, size_t i, json_t *e, uint64_t *ret) {
        json_int_t x = json_integer_value(e);

        if (x < 0 || x > 63)
                return fail_at(l, WHERE_ELEMENT(key, i),
                               "node %" JSON_INTEGER_FORMAT " in \"%s\" is outside 0..63", x, key);
        *ret = UINT64_C(1) << x;
        return 0;
}

static int target_bit(loader *l, const char *key, size_t i, json_t *e, uint64_t *ret) {
        char buf[64];
        unsigned t = mc__policy_target_from_name(json_string_value(e));

        if (t == 0)
                return fail_at(l, WHERE_ELEMENT(key, i),
                               "unknown signal target \"%s\" (use \"self\", \"children\", "
                               "\"process_group\", \"same_uid\", \"any\", "
                               "\"whole_group\", \"broadcast\" or \"init\")",
                               shown(json_string_value(e), buf, sizeof(buf)));
        *ret = t;
        return 0;
}

static json_t *op_json(unsigned i) {
        return json_string(mc_op_name((mc_op) i));
}

static json_t *signal_json(unsigned i) {
        int signo = (int) i + 1;
        char name[16];

        /* Signals without a name (glibc's reserved 32 and 33) go by number. */
        return mc_signal_name(signo, name, sizeof(name)) ? json_string(name) : json_integer(signo);
}

/* Only the platform's signals (Windows: 1..23), which is what the loader accepts back. */
static unsigned signal_bits(void) {
        return (unsigned) MC_MIN(SIGRTMAX, MC__POLICY_SIGNAL_MAX);
}

static json_t *node_json(unsigned i) {
        return json_integer(i);
}

static json_t *target_json(unsigned i) {
        return json_string(mc__policy_target_name(1u << i));
}

static const bit_list op_list = {
        .expect = "an array of operation names or \"*\",",
        .items = "operation names",
        .types = TYPE_BIT(JSON_STRING),
        .wildcard = true,
        .all = MC_OP_ALL,
        .bit = op_bit,
        .to_json = op_json,
};

static const bit_list signal_list = {
        .expect = "an array of signal names or numbers, or \"*\";",
        .items = "signal names or numbers",
        .types = TYPE_BIT(JSON_STRING) | TYPE_BIT(JSON_INTEGER),
        .wildcard = true,
        .all = UINT64_MAX,
        .bit = signal_bit,
        .to_json = signal_json,
        .n_bits = signal_bits,
};

static const bit_list node_list = {
        .expect = "an array of node numbers or \"*\",",
        .items = "node numbers",
        .types = TYPE_BIT(JSON_INTEGER),
        .wildcard = true,
        .all = UINT64_MAX,
        .bit = node_bit,
        .to_json = node_json,
};

static const bit_list target_list = {
        .expect = "an array of targets,",
        .items = "targets",
        .types = TYPE_BIT(JSON_STRING),
        .all = MC__TARGETS_ALL,
        .bit = target_bit,
        .to_json = target_json,
};

static int parse_bits(loader *l, const char *key, json_t *v, mc_policy *p, const field *f) {
        return bits_of(l, key, v, f->list, MEMBER(p, f, uint64_t));
}

/* mc_policy.targets is an unsigned, not a 64-bit set. */
static int parse_targets(loader *l, const char *key, json_t *v, mc_policy *p, const field *f) {
        uint64_t t;
        int r;

        r = bits_of(l, key, v, f->list, &t);
        if (r < 0)
                return r;
        p->targets = (unsigned) t;
        return 0;
}

/* A list of strings, each checked and stored in the form the policy compares. */
typedef struct str_list {
        const char *expect; /* the field's whole type, then its punctuation before " not %s" */
        const char *items;  /* what an element must be */
        const char *noun;   /* "bad <noun> ..." */
        size_t shown_max;   /* how much of a bad element the message quotes */
        /*
         * Why @s is bad, or NULL and in @ret the string to store (@s itself, or its normal form
         * written to @buf of @size).
         */
        const char *(*check)(const char *s, char *buf, size_t size, const char **ret);
} str_list;

static int parse_strs(loader *l, const char *key, json_t *v, const str_list *k, char ***ret,
                      size_t *ret_n) {
        char **nv = NULL;
        size_t nn = 0, i;
        json_t *e;
        int r;

        if (!json_is_array(v))
                return fail_at(l, WHERE_VALUE(key), "\"%s\" must be %s not %s", key, k->expect,
                               type_name(v));
        json_array_foreach(v, i, e) {
                char norm[PATH_MAX], buf[96];
                const char *bad, *s;

                if (!json_is_string(e)) {
                        strv_free(nv, nn);
                        return fail_at(l, WHERE_ELEMENT(key, i), "\"%s\" must list %s, not %s", key,
                                       k->items, type_name(e));
                }
                bad = k->check(json_string_value(e), norm, sizeof(norm), &s);
                if (bad) {
                        strv_free(nv, nn);
                        return fail_at(l, WHERE_ELEMENT(key, i), "bad %s \"%s\" in \"%s\": %s",
                                       k->noun, shown(json_string_value(e), buf, k->shown_max), key,
                                       bad);
                }
                r = strv_contains(nv, nn, s) ? 0 : strv_append(&nv, &nn, s);
                if (r < 0) {
                        strv_free(nv, nn);
                        return mc__error_errno(l->err, r, "policy: loading \"%s\"", key);
                }
        }
        strv_free(*ret, *ret_n);
        *ret = nv;
        *ret_n = nn;
        return 0;
}

static const char *check_pattern(const char *s, char *buf, size_t size, const char **ret) {
        (void) buf;
        (void) size;
        *ret = s;
        return mc__policy_check_pattern(s);
}

static const char *check_root(const char *s, char *buf, size_t size, const char **ret) {
        *ret = buf;
        return mc__policy_normalize_root(s, buf, size);
}

static const str_list pattern_list = {
        .expect = "an array of name patterns,",
        .items = "name patterns",
        .noun = "pattern",
        .shown_max = 64,
        .check = check_pattern,
};

static const str_list path_list = {
        .expect = "null (any path) or an array of absolute paths,",
        .items = "absolute paths",
        .noun = "path",
        .shown_max = 96,
        .check = check_root,
};

static int parse_allowed_shared_memory(loader *l, const char *key, json_t *v, mc_policy *p,
                                       const field *f) {
        return parse_strs(l, key, v, f->list, &p->shm_patterns, &p->n_shm_patterns);
}

static int parse_allowed_paths(loader *l, const char *key, json_t *v, mc_policy *p,
                               const field *f) {
        int r;

        if (json_is_null(v)) {
                strv_clear(&p->paths, &p->n_paths);
                p->any_path = true;
                return 0;
        }
        r = parse_strs(l, key, v, f->list, &p->paths, &p->n_paths);
        if (r < 0)
                return r;
        p->any_path = false;
        return 0;
}

#define AT(member) offsetof(mc_policy, member)

static const field fields[] = {
        {"version", parse_version},
        {"allow_fixed", parse_flag, AT(allow_fixed)},
        {"allow_write_exec", parse_flag, AT(allow_write_exec)},
        {"allow_huge_pages", parse_flag, AT(allow_huge_pages)},
        {"allow_userfaultfd", parse_flag, AT(allow_userfaultfd)},
        {"max_memory_usage", parse_limit, AT(max_memory_usage)},
        {"max_locked_memory", parse_limit, AT(max_locked_memory)},
        {"max_mappings", parse_limit, AT(max_mappings)},
        {"allowed_syscalls", parse_bits, AT(allowed_ops), &op_list},
        {"allowed_shared_memory", parse_allowed_shared_memory, 0, &pattern_list},
        {"allowed_paths", parse_allowed_paths, 0, &path_list},
        {"allowed_signals", parse_bits, AT(signals), &signal_list},
        {"allowed_signal_targets", parse_targets, 0, &target_list},
        {"allowed_numa_nodes", parse_bits, AT(numa_nodes), &node_list},
};

#undef AT

/* Edit distance of two short strings; SIZE_MAX when one is too long to bother. */
static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), row[65];

        if (la > 64 || lb > 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];
                        size_t best = diag + (a[i - 1] != b[j - 1]);
                        best = MC_MIN(best, up + 1);
                        best = MC_MIN(best, row[j - 1] + 1);
                        row[j] = best;
                        diag = up;
                }
        }
        return row[lb];
}

/* The known field a misspelt @key most likely meant, or NULL. */
static const char *closest_field(const char *key) {
        const char *best = NULL;
        size_t best_d = 3; /* at most two edits away */

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                size_t d = edit_distance(key, fields[i].name);
                if (d < best_d) {
                        best_d = d;
                        best = fields[i].name;
                }
        }
        return best;
}

/* ---- loading --------------------------------------------------------------------------------- */

int mc_policy_load_string(const char *text, size_t len, const char *origin, mc_policy **ret,
                          mc_error *err) {
        _cleanup_(mc_policy_freep) mc_policy *p = NULL;
        _cleanup_(json_decrefp) json_t *root = NULL;
        loader l = {text, len, origin ? origin : "<string>", err};
        json_error_t jerr;
        const char *nul, *key;
        json_t *v;
        int r;

        if ((!text && len > 0) || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_policy_load_string: text or ret is NULL");
        if (!text)
                text = l.text = "";

        /* jansson would stop at a NUL with a vaguer message; name the byte instead. */
        nul = memchr(text, 0, len);
        if (nul) {
                unsigned line, column;

                position(text, len, (size_t) (nul - text), &line, &column);
                return fail_at_position(&l, line, column, "NUL byte in the policy text");
        }

        root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (!root)
                /* jansson reports column 0 at the start of a line (end of input). */
                return fail_at_position(&l, jerr.line > 0 ? (unsigned) jerr.line : 1,
                                        jerr.column > 0 ? (unsigned) jerr.column : 1, "%s",
                                        jerr.text);
        if (!json_is_object(root))
                return fail_at(&l, WHERE_VALUE(NULL),
                               "the policy must be a JSON object ({...}), not %s", type_name(root));

        r = mc_policy_new(&p, err);
        if (r < 0)
                return r;

        json_object_foreach(root, key, v) {
                const field *f = NULL;

                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        if (streq(fields[i].name, key)) {
                                f = &fields[i];
                                break;
                        }
                if (!f) {
                        const char *guess = closest_field(key);
                        char buf[64];

                        if (guess)
                                return fail_at(&l, WHERE_KEY(key),
                                               "unknown field \"%s\" (did you mean \"%s\"?)",
                                               shown(key, buf, sizeof(buf)), guess);
                        return fail_at(&l, WHERE_KEY(key),
                                       "unknown field \"%s\" (known: version, allow_*, max_*, "
                                       "allowed_*; see the policy format in memcap/policy.h)",
                                       shown(key, buf, sizeof(buf)));
                }
                r = f->parse(&l, key, v, p, f);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

int mc_policy_load_file(const char *path, mc_policy **ret, mc_error *err) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        char pbuf[100];
        const char *shown_path;
        size_t n = 0, cap;
        struct stat st;

        if (!path || !ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_policy_load_file: path or ret is NULL");
        shown_path = origin_shown(path, pbuf, sizeof(pbuf));

        /* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat() then refuses it. */
        fd = mc_sys.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
        if (fd < 0)
                return mc__error_errno(err, errno, "open policy '%s'", shown_path);
        if (mc_sys.fstat(fd, &st) < 0)
                return mc__error_errno(err, errno, "stat policy '%s'", shown_path);
        if (!S_ISREG(st.st_mode))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "policy '%s' is not a regular file", shown_path);
        if (st.st_size > POLICY_FILE_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EFBIG,
                                     "policy '%s' is larger than 1 MiB (%" PRIdMAX " bytes)",
                                     shown_path, (intmax_t) st.st_size);

        /* One byte more than expected, to notice a file that grew since fstat(). */
        cap = (size_t) st.st_size + 1;
        buf = malloc(cap);
        if (!buf)
                return mc__error_errno(err, ENOMEM, "read policy '%s'", shown_path);
        for (;;) {
                ssize_t k;

                if (n == cap) {
                        size_t ncap = MC_MIN(cap * 2, (size_t) POLICY_FILE_MAX + 1);
                        char *nb;

                        if (n > POLICY_FILE_MAX)
                                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EFBIG,
                                                     "policy '%s' is larger than 1 MiB",
                                                     shown_path);
                        nb = realloc(buf, ncap);
                        if (!nb)
                                return mc__error_errno(err, ENOMEM, "read policy '%s'", shown_path);
                        buf = nb;
                        cap = ncap;
                }
                k = mc_sys.read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return mc__error_errno(err, errno, "read policy '%s'", shown_path);
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }

        return mc_policy_load_string(buf, n, path, ret, err);
}

/* ---- printing -------------------------------------------------------------------------------- */

static json_t *limit_to_json(uint64_t v) {
        char buf[24];

        if (v == MC_UNLIMITED)
                return json_string("unlimited");
        if (v <= INT64_MAX)
                return json_integer((json_int_t) v);
        /* jansson integers are signed; the loader reads a digit string back exactly. */
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return json_string(buf);
}

static json_t *strv_to_json(char *const *v, size_t n) {
        json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(a, json_string(v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

/* A list field as the loader reads it back: "*" for all of a wildcard list, else its bits. */
static json_t *bits_to_json(uint64_t set, const bit_list *k) {
        unsigned n;
        json_t *a;

        if (k->wildcard && set == k->all)
                return json_string("*");
        a = json_array();
        if (!a)
                return NULL;
        n = k->n_bits ? k->n_bits() : 64;
        for (unsigned i = 0; i < n; i++)
                if ((set & k->all & (UINT64_C(1) << i)) &&
                    json_array_append_new(a, k->to_json(i)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

int mc_policy_to_json(const mc_policy *policy, char **ret_json, mc_error *err) {
        _cleanup_(json_decrefp) json_t *o = NULL;
        const mc_policy *p = policy;
        char *s;

        if (!policy || !ret_json)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "mc_policy_to_json: policy or ret_json is NULL");

        o = json_object();
        /* json_object_set_new() takes (and on failure releases) a NULL value too. */
        if (!o || json_object_set_new(o, "version", json_integer(1)) < 0 ||
            json_object_set_new(o, "allow_fixed", json_boolean(p->allow_fixed)) < 0 ||
            json_object_set_new(o, "allow_write_exec", json_boolean(p->allow_write_exec)) < 0 ||
            json_object_set_new(o, "allow_huge_pages", json_boolean(p->allow_huge_pages)) < 0 ||
            json_object_set_new(o, "allow_userfaultfd", json_boolean(p->allow_userfaultfd)) < 0 ||
            json_object_set_new(o, "allowed_numa_nodes", bits_to_json(p->numa_nodes, &node_list)) <
                    0 ||
            json_object_set_new(o, "max_memory_usage", limit_to_json(p->max_memory_usage)) < 0 ||
            json_object_set_new(o, "max_locked_memory", limit_to_json(p->max_locked_memory)) < 0 ||
            json_object_set_new(o, "max_mappings", limit_to_json(p->max_mappings)) < 0 ||
            json_object_set_new(o, "allowed_syscalls", bits_to_json(p->allowed_ops, &op_list)) <
                    0 ||
            json_object_set_new(o, "allowed_shared_memory",
                                strv_to_json(p->shm_patterns, p->n_shm_patterns)) < 0 ||
            json_object_set_new(o, "allowed_paths",
                                p->any_path ? json_null() : strv_to_json(p->paths, p->n_paths)) <
                    0 ||
            json_object_set_new(o, "allowed_signals", bits_to_json(p->signals, &signal_list)) < 0 ||
            json_object_set_new(o, "allowed_signal_targets",
                                bits_to_json(p->targets, &target_list)) < 0)
                return mc__error_errno(err, ENOMEM, "policy: printing JSON");

        s = json_dumps(o, JSON_INDENT(2));
        if (!s)
                return mc__error_errno(err, ENOMEM, "policy: printing JSON");
        *ret_json = s;
        return 0;
}
