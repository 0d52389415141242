/* SPDX-License-Identifier: MIT */
/*
 * The reply encoder of the memcapd protocol, without jansson: each reply computes an upper bound
 * of its size, reserves it once, and writes straight into the buffer, so a 4 KiB base64 MmapRead
 * reply is one reservation, a memcpy of the header, the base64 encoder and the trailer. Strings
 * go through the project's one JSON escaper, json_escape() (src/lib/util/json-escape.c), into
 * that reserved space: any byte that is not part of valid UTF-8 becomes \u00XX, so paths and
 * messages from clients can neither break the framing nor produce invalid JSON. DEL stays raw
 * in replies.
 *
 * Sections: buffer, JSON writer, replies.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json-escape.h"
#include "macro.h"
#include "protocol.h"

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

/* Bound for put_str() of @n bytes: what json_escape() may write, plus the quotes. */
static bool str_bound(size_t n, size_t *ret) {
        size_t r;

        if (!json_escape_bound(n, &r) || MC_ADD_OVERFLOW(r, (size_t) 2, &r))
                return false;
        *ret = r;
        return true;
}

static bool bound_add(size_t *total, size_t n) {
        return !MC_ADD_OVERFLOW(*total, n, total);
}

/* Add str_bound(@n) to *@total; false when it overflows. */
static bool bound_add_str(size_t *total, size_t n) {
        size_t r;

        return str_bound(n, &r) && bound_add(total, r);
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

/* begin() a reply of at most @n bytes with its opening @head written. */
static char *begin_with(mcd_buf *b, size_t n, const char *head, size_t head_len) {
        char *o = begin(b, n);

        return o ? put_mem(o, head, head_len) : NULL;
}

#define begin_lit(b, n, head) begin_with((b), (n), (head), sizeof(head) - 1)

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

/* A member of an object: its key, as the literal @s with its punctuation, then its value. */
#define put_lit_u64(o, s, v)  put_u64(put_lit((o), (s)), (v))
#define put_lit_i64(o, s, v)  put_i64(put_lit((o), (s)), (v))
#define put_lit_bool(o, s, v) put_bool(put_lit((o), (s)), (v))

/* @s as a JSON string; at most str_bound(@n) bytes. */
static char *put_str(char *o, const char *s, size_t n) {
        *o++ = '"';
        o = json_escape(o, s, n, /* flags= */ 0);
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
        char *o = begin_lit(b, FIXED_MAX, "{\"status\":\"success\",\"written\":");

        if (!o)
                return -ENOMEM;
        o = put_bool(o, written);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_mmap(mcd_buf *b, uint64_t id, uint64_t length) {
        int nbytes = id > UINT32_MAX ? 8 : 4;
        char *o = begin_lit(b, FIXED_MAX, "{\"status\":\"success\",\"data\":[");

        if (!o)
                return -ENOMEM;
        for (int i = nbytes - 1; i >= 0; i--) {
                o = put_u64(o, (id >> (8 * i)) & 0xff);
                if (i > 0)
                        *o++ = ',';
        }
        o = put_lit_u64(o, "],\"mmap_id\":", id);
        o = put_lit_u64(o, ",\"length\":", length);
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
                o = begin_lit(b, bound, head);
                if (!o)
                        return -ENOMEM;
                *o++ = '"';
                o += base64_encode_to(o, p, n);
                o = put_lit(o, "\"}\n");
                return finish(b, o);
        }
        if (encoding != MCD_ENCODING_ARRAY)
                return -EINVAL;
        if (n > (SIZE_MAX - FIXED_MAX) / 4)
                return -ENOMEM;
        o = begin_lit(b, 4 * n + FIXED_MAX, head);
        if (!o)
                return -ENOMEM;
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
        bool path_ok = s->path ? bound_add_str(total, strlen(s->path)) : bound_add(total, 4);
        size_t r;

        return path_ok && bound_add(total, FIXED_MAX) &&
               !MC_MUL_OVERFLOW(s->n_ranges, (size_t) RANGE_MAX, &r) && bound_add(total, r);
}

static char *put_prot(char *o, unsigned prot) {
        o = put_lit_bool(o, "{\"read\":", prot & MCD_PROT_READ);
        o = put_lit_bool(o, ",\"write\":", prot & MCD_PROT_WRITE);
        o = put_lit_bool(o, ",\"exec\":", prot & MCD_PROT_EXEC);
        *o++ = '}';
        return o;
}

static char *put_stats(char *o, const mcd_stats *s) {
        o = put_lit_u64(o, "{\"id\":", s->id);
        o = put_lit(o, ",\"path\":");
        o = s->path ? put_cstr(o, s->path) : put_lit(o, "null");
        o = put_lit_u64(o, ",\"offset\":", s->offset);
        o = put_lit_u64(o, ",\"length\":", s->length);
        o = put_lit(o, ",\"prot\":");
        o = put_prot(o, s->prot);
        o = put_lit(o, ",\"flags\":");
        o = s->shared ? put_lit(o, "\"Shared\"") : put_lit(o, "\"Private\"");
        o = put_lit_i64(o, ",\"owner_pid\":", s->owner_pid);
        /* What memcap adds to the original's reply comes after its fields, only when it says
         * something, so a mapping that uses none of it is described exactly as before. */
        if (s->locked > 0)
                o = put_lit_u64(o, ",\"locked\":", s->locked);
        if (s->faulted)
                o = put_lit(o, ",\"faulted\":true");
        if (s->n_ranges > 0) {
                o = put_lit(o, ",\"ranges\":[");
                for (size_t i = 0; i < s->n_ranges; i++) {
                        if (i > 0)
                                *o++ = ',';
                        o = put_lit_u64(o, "{\"offset\":", s->ranges[i].offset);
                        o = put_lit_u64(o, ",\"length\":", s->ranges[i].length);
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
        o = begin_lit(b, bound, "{\"status\":\"success\",\"data\":");
        if (!o)
                return -ENOMEM;
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
        o = begin_lit(b, bound, "{\"status\":\"success\",\"data\":[");
        if (!o)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        *o++ = ',';
                o = put_stats(o, &items[i]);
        }
        o = put_lit(o, "]}\n");
        return finish(b, o);
}

int mcd_reply_fd(mcd_buf *b, uint64_t id, uint64_t offset, uint64_t length, bool writable) {
        char *o = begin_lit(b, FIXED_MAX, "{\"status\":\"success\",\"mmap_id\":");

        if (!o)
                return -ENOMEM;
        o = put_u64(o, id);
        o = put_lit_u64(o, ",\"offset\":", offset);
        o = put_lit_u64(o, ",\"length\":", length);
        o = put_lit_bool(o, ",\"writable\":", writable);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_hello(mcd_buf *b, unsigned caps, pid_t pid, uid_t uid) {
        char *o = begin_lit(b, 2 * FIXED_MAX,
                            "{\"status\":\"success\",\"data\":{\"daemon\":\"" MCD_DAEMON_NAME
                            "\",\"version\":\"" MCD_DAEMON_VERSION "\",\"protocol\":");
        bool first = true;

        if (!o)
                return -ENOMEM;
        o = put_u64(o, MCD_PROTOCOL_VERSION);
        o = put_lit(o, ",\"capabilities\":[");
        for (unsigned cap = 1; cap & MCD_CAP_ALL; cap <<= 1) {
                const char *name = mcd_capability_name((mcd_capability) cap);

                if (!(caps & cap))
                        continue;
                if (!first)
                        *o++ = ',';
                first = false;
                *o++ = '"';
                o = put_mem(o, name, strlen(name));
                *o++ = '"';
        }
        o = put_lit_i64(o, "],\"pid\":", pid);
        o = put_lit_u64(o, ",\"uid\":", uid);
        o = put_lit(o, "}}\n");
        return finish(b, o);
}

int mcd_reply_error(mcd_buf *b, const mc_error *e, const char *call) {
        size_t msg_len = strnlen(e->message, sizeof(e->message));
        size_t call_len = call ? strlen(call) : 0;
        size_t bound = FIXED_MAX;
        char *o;

        if (!bound_add_str(&bound, msg_len) || !bound_add_str(&bound, call_len))
                return -ENOMEM;
        o = begin_lit(b, bound, "{\"status\":\"error\",\"kind\":");
        if (!o)
                return -ENOMEM;
        o = put_cstr(o, mc_error_kind_name(e->kind));
        o = put_lit(o, ",\"code\":");
        o = put_cstr(o, mc_error_code(e->kind, MC_DOMAIN_MEMORY));
        o = put_lit(o, ",\"message\":");
        *o++ = '"';
        if (call) {
                o = json_escape(o, call, call_len, /* flags= */ 0);
                o = put_lit(o, " failed: ");
        }
        o = json_escape(o, e->message, msg_len, /* flags= */ 0);
        *o++ = '"';
        if (e->sys_errno != 0)
                o = put_lit_i64(o, ",\"errno\":", e->sys_errno);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_denied(mcd_buf *b, const char *reason) {
        size_t bound = FIXED_MAX;
        char *o;

        if (!reason)
                reason = "";
        if (!bound_add_str(&bound, strlen(reason)))
                return -ENOMEM;
        o = begin_lit(b, bound,
                      "{\"status\":\"permission_denied\",\"kind\":\"PermissionDenied\","
                      "\"code\":\"core.memory.PermissionDenied\",\"reason\":");
        if (!o)
                return -ENOMEM;
        o = put_cstr(o, reason);
        o = put_lit(o, "}\n");
        return finish(b, o);
}

int mcd_reply_channel(mcd_buf *b, const mcd_channel_info *ch) {
        size_t bound = FIXED_MAX;
        char *o;

        if (!bound_add_str(&bound, strlen(ch->name)))
                return -ENOMEM;
        o = begin_lit(b, bound, "{\"status\":\"success\",\"name\":");
        if (!o)
                return -ENOMEM;
        o = put_cstr(o, ch->name);
        o = put_lit_u64(o, ",\"capacity\":", ch->capacity);
        o = put_lit_u64(o, ",\"max_message\":", ch->max_message);
        o = put_lit_u64(o, ",\"max_producers\":", ch->max_producers);
        o = put_lit(o, ",\"role\":");
        o = put_cstr(o, mc_channel_role_name(ch->role) ? mc_channel_role_name(ch->role) : "none");
        o = put_lit_bool(o, ",\"eventfd\":", ch->n_fds > 1);
        o = put_lit_u64(o, ",\"fds\":", ch->n_fds);
        o = put_lit(o, "}\n");
        return finish(b, o);
}
