/* SPDX-License-Identifier: MIT */
/*
 * Audit sinks and the audit record. Every privileged operation of a context ends here, allowed
 * or denied, so this is on the hot path of every mc_mmap(): the record is formatted by hand into
 * a stack buffer (no jansson, no printf, no locale, no allocation for a typical record) and
 * handed to the sink in one piece. A record must always be exactly one line of valid JSON,
 * whatever bytes a caller put into a path or a name, so every string goes through the escaper
 * below.
 *
 * Sections: the record buffer, JSON scalars and strings, the time stamp, the request fields,
 * the sinks, the record writers (mc__audit_call, mc__audit_event), opening and closing sinks.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "internal.h"

typedef enum sink_type {
        SINK_FD,       /* mc_audit_open_file() and mc_audit_open_fd() */
        SINK_SYSLOG,   /* mc_audit_open_syslog() */
        SINK_CALLBACK, /* mc_audit_open_callback() */
} sink_type;

/*
 * The context holds its lock around every call into a sink, so nothing here needs a lock of its
 * own; only the dropped counter is read from outside that lock (usage reports), hence atomic.
 */
struct mc_audit {
        sink_type type;
        unsigned flags; /* mc_audit_flags */
        int fd;         /* SINK_FD */
        char *ident;    /* SINK_SYSLOG: openlog() keeps this pointer, so it lives with the sink */
        int facility;   /* SINK_SYSLOG */
        mc_audit_callback callback;
        void *userdata;
        uint64_t dropped; /* __atomic_* only */
};

/* ---- the record buffer ------------------------------------------------------------------- */

/*
 * A record is built in the caller's stack buffer and moves to one heap buffer only when it
 * outgrows it (long paths). After an allocation failure every append is a no-op and the record
 * is counted as dropped: a record is never truncated.
 */
typedef struct jbuf {
        char *p;
        size_t len;
        size_t cap;
        bool heap;
        bool oom;
} jbuf;

static void jb_init(jbuf *b, char *stack, size_t size) {
        *b = (jbuf){.p = stack, .cap = size};
}

static void jb_done(jbuf *b) {
        if (b->heap)
                free(b->p);
        b->p = NULL;
}

static bool jb_grow(jbuf *b, size_t n) {
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

/* Room for @n more bytes; false once the record is lost. */
static inline bool jb_reserve(jbuf *b, size_t n) {
        if (_likely_(b->cap - b->len >= n))
                return true;
        return jb_grow(b, n);
}

static inline void jb_put(jbuf *b, const char *s, size_t n) {
        if (!jb_reserve(b, n))
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
}

static inline void jb_putc(jbuf *b, char c) {
        if (!jb_reserve(b, 1))
                return;
        b->p[b->len++] = c;
}

/* A string literal: its length is known at compile time. */
#define jb_lit(b, s) jb_put((b), "" s, sizeof(s) - 1)

/* ---- JSON scalars and strings -------------------------------------------------------------- */

static const char hexdigits[] = "0123456789abcdef";

/* Decimal digits of @v at the end of @end; returns the first digit. */
static char *fmt_u64(char *end, uint64_t v) {
        do {
                *--end = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        return end;
}

static void jb_i64(jbuf *b, int64_t v) {
        char buf[24], *end = buf + sizeof(buf), *s;
        /* The negation is done in unsigned arithmetic so INT64_MIN needs no special case. */
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

        s = fmt_u64(end, u);
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
static void jb_u64(jbuf *b, uint64_t v) {
        char buf[24], *end = buf + sizeof(buf), *s;
        bool quote = v > (uint64_t) INT64_MAX;

        s = fmt_u64(end, v);
        if (quote)
                jb_putc(b, '"');
        jb_put(b, s, (size_t) (end - s));
        if (quote)
                jb_putc(b, '"');
}

/* "0x7f3a2c000000": addresses and bit sets are easier to read in hex. */
static void jb_hex(jbuf *b, uint64_t v) {
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

static void jb_esc_byte(jbuf *b, uint8_t c) {
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
static void jb_esc(jbuf *b, const char *str, size_t n) {
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

static void jb_str_n(jbuf *b, const char *s, size_t n) {
        jb_putc(b, '"');
        jb_esc(b, s, n);
        jb_putc(b, '"');
}

static void jb_str(jbuf *b, const char *s) {
        if (!s) {
                jb_lit(b, "null");
                return;
        }
        jb_str_n(b, s, strlen(s));
}

/*
 * A name from one of the library's own static tables (flag names, kind names, outcomes): known
 * to need no escaping, so it is copied in one piece.
 */
static void jb_name(jbuf *b, const char *s) {
        size_t n = strlen(s);

        if (!jb_reserve(b, n + 2))
                return;
        b->p[b->len++] = '"';
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len++] = '"';
}

/* ---- the time stamp ---------------------------------------------------------------------- */

static char *put_digits(char *p, unsigned v, unsigned width) {
        for (unsigned i = width; i > 0; i--) {
                p[i - 1] = (char) ('0' + v % 10);
                v /= 10;
        }
        return p + width;
}

/*
 * "2026-11-22T01:46:55.123456Z". gmtime_r() takes glibc's time-zone lock on every call, so the
 * civil date is computed directly (H. Hinnant's days-to-civil algorithm, exact for every day
 * of the proleptic Gregorian calendar).
 */
static void jb_time(jbuf *b, const struct timespec *ts) {
        int64_t days = ts->tv_sec / 86400, rem = ts->tv_sec % 86400, era, y;
        unsigned doe, yoe, doy, mp, d, m;
        char buf[48], *p = buf;

        if (rem < 0) {
                rem += 86400;
                days--;
        }
        days += 719468; /* days from 0000-03-01 to 1970-01-01 */
        era = (days >= 0 ? days : days - 146096) / 146097;
        doe = (unsigned) (days - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        y = (int64_t) yoe + era * 400;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        d = doy - (153 * mp + 2) / 5 + 1;
        m = mp < 10 ? mp + 3 : mp - 9;
        y += m <= 2;

        *p++ = '"';
        if (y >= 0 && y <= 9999)
                p = put_digits(p, (unsigned) y, 4);
        else {
                /* Not RFC 3339 any more, but still an honest, parseable string. */
                char yb[24], *end = yb + sizeof(yb), *s = fmt_u64(end, (uint64_t) (y < 0 ? -y : y));
                if (y < 0)
                        *p++ = '-';
                memcpy(p, s, (size_t) (end - s));
                p += end - s;
        }
        *p++ = '-';
        p = put_digits(p, m, 2);
        *p++ = '-';
        p = put_digits(p, d, 2);
        *p++ = 'T';
        p = put_digits(p, (unsigned) (rem / 3600), 2);
        *p++ = ':';
        p = put_digits(p, (unsigned) (rem / 60 % 60), 2);
        *p++ = ':';
        p = put_digits(p, (unsigned) (rem % 60), 2);
        *p++ = '.';
        p = put_digits(p, (unsigned) (ts->tv_nsec / 1000), 6);
        *p++ = 'Z';
        *p++ = '"';
        jb_put(b, buf, (size_t) (p - buf));
}

/* ---- the request fields ------------------------------------------------------------------ */

/*
 * Names of set bits, in bit order. Bits without a name (only a malformed request, which is
 * audited as it was given) are not dropped silently: they follow as "Unknown(0x..)".
 */
static void jb_bits(jbuf *b, unsigned v, const char *const *names, size_t n, bool *first) {
        for (size_t i = 0; i < n; i++)
                if (v & (1u << i)) {
                        if (!*first)
                                jb_putc(b, ',');
                        *first = false;
                        jb_name(b, names[i]);
                        v &= ~(1u << i);
                }
        if (v) {
                char buf[48];
                int k = snprintf(buf, sizeof(buf), "Unknown(0x%x)", v);

                if (!*first)
                        jb_putc(b, ',');
                *first = false;
                jb_str_n(b, buf, (size_t) k);
        }
}

static const char *const map_flag_names[] = {"Private", "Shared", "Anonymous", "Fixed", "HugePage"};
static const char *const sync_names[] = {"SYNC", "ASYNC", "INVALIDATE"};
static const char *const seal_names[] = {"SHRINK", "GROW", "WRITE", "FUTURE_WRITE", "SEAL"};

static void jb_flags(jbuf *b, const mc__call *c) {
        bool first = true;

        jb_putc(b, '[');
        jb_bits(b, c->req.flags, map_flag_names, ELEMENTSOF(map_flag_names), &first);
        for (size_t i = 0; c->req.custom && i < c->req.n_custom; i++) {
                const char *name = c->req.custom[i];

                if (!first)
                        jb_putc(b, ',');
                first = false;
                if (!name) {
                        jb_lit(b, "null");
                        continue;
                }
                jb_lit(b, "\"Custom(");
                jb_esc(b, name, strlen(name));
                jb_lit(b, ")\"");
        }
        jb_putc(b, ']');
}

static void jb_set(jbuf *b, unsigned v, const char *const *names, size_t n) {
        bool first = true;

        jb_putc(b, '[');
        jb_bits(b, v, names, n, &first);
        jb_putc(b, ']');
}

static const char *const sigflag_names[] = {"BLOCK"};
static const char *const payload_names[] = {"None", "UserData", "RealTime"};

/* {"kind":"UserData","value":-3}: user data is a signed 32-bit value, realtime data 64 bits. */
static void jb_payload(jbuf *b, int kind, uint64_t v) {
        jb_lit(b, "{\"kind\":");
        jb_str(b, kind >= 0 && kind < (int) ELEMENTSOF(payload_names) ? payload_names[kind]
                                                                      : "Unknown");
        if (kind == MC_PAYLOAD_USER_DATA) {
                jb_lit(b, ",\"value\":");
                jb_i64(b, (int32_t) v);
        } else if (kind == MC_PAYLOAD_REAL_TIME) {
                jb_lit(b, ",\"value\":");
                jb_u64(b, v);
        }
        jb_putc(b, '}');
}

static void jb_signame(jbuf *b, int signo) {
        char buf[32];
        const char *name = mc_signal_name(signo, buf, sizeof(buf));

        if (name)
                jb_str(b, name);
        else
                jb_i64(b, signo);
}

static void jb_sigset(jbuf *b, uint64_t set) {
        bool first = true;

        jb_putc(b, '[');
        for (int s = 1; s <= 64; s++) {
                if (!(set & (UINT64_C(1) << (s - 1))))
                        continue;
                if (!first)
                        jb_putc(b, ',');
                first = false;
                jb_signame(b, s);
        }
        jb_putc(b, ']');
}

/* The result of a wait: the signal taken and who sent it. */
static void jb_signal_result(jbuf *b, const mc_signal_info *i) {
        jb_lit(b, ",\"result\":{\"signal\":");
        jb_signame(b, i->signal);
        jb_lit(b, ",\"source_pid\":");
        jb_i64(b, i->source_pid);
        jb_lit(b, ",\"source_uid\":");
        jb_u64(b, i->source_uid);
        if (i->source_verified)
                jb_lit(b, ",\"source_verified\":true");
        else
                jb_lit(b, ",\"source_verified\":false");
        jb_lit(b, ",\"code\":");
        jb_i64(b, i->code);
        jb_lit(b, ",\"payload\":");
        jb_payload(b, (int) i->payload.kind,
                   i->payload.kind == MC_PAYLOAD_USER_DATA
                           ? (uint64_t) (int64_t) i->payload.user_data
                           : i->payload.real_time);
        jb_putc(b, '}');
}

static void jb_request(jbuf *b, const mc__call *c) {
        unsigned f = c->fields;
        bool first = true;

/* Each field starts with its key, preceded by a comma unless it is the first. */
#define KEY(k)                                                                                     \
        do {                                                                                       \
                if (first)                                                                         \
                        jb_lit(b, "\"" k "\":");                                                   \
                else                                                                               \
                        jb_lit(b, ",\"" k "\":");                                                  \
                first = false;                                                                     \
        } while (0)

        jb_lit(b, ",\"request\":{");
        if (f & MC__F_ADDR) {
                KEY("address");
                jb_hex(b, (uintptr_t) c->req.addr);
        }
        if (f & MC__F_LENGTH) {
                KEY("length");
                jb_u64(b, c->req.length);
        }
        if (f & MC__F_NEW_LENGTH) {
                KEY("new_length");
                jb_u64(b, c->req.new_length);
        }
        if (f & MC__F_PROT) {
                KEY("protection");
                jb_str(b, mc__prot_name(c->req.prot));
        }
        if (f & MC__F_FLAGS) {
                KEY("flags");
                jb_flags(b, c);
        }
        if (f & MC__F_FILE) {
                KEY("file");
                jb_str(b, c->req.file);
                if (c->req.resolved && (!c->req.file || !streq(c->req.file, c->req.resolved))) {
                        KEY("resolved");
                        jb_str(b, c->req.resolved);
                }
        }
        if (f & MC__F_OFFSET) {
                KEY("offset");
                jb_u64(b, c->req.offset);
        }
        if (f & MC__F_NAME) {
                KEY("name");
                jb_str(b, c->req.name);
        }
        if (f & MC__F_ID) {
                KEY("mapping_id");
                jb_u64(b, c->req.id);
        }
        if (f & MC__F_ADVICE) {
                KEY("advice");
                jb_str(b, c->req.advice);
        }
        if (f & MC__F_SYNC) {
                KEY("sync");
                jb_set(b, c->req.sync, sync_names, ELEMENTSOF(sync_names));
        }
        if (f & MC__F_SEALS) {
                KEY("seals");
                jb_set(b, c->req.seals, seal_names, ELEMENTSOF(seal_names));
        }
        if (f & MC__F_SIGNAL) {
                KEY("signal");
                jb_signame(b, c->req.signo);
        }
        if (f & MC__F_TARGET) {
                KEY("target_pid");
                jb_i64(b, c->req.target);
        }
        if (f & MC__F_PAYLOAD) {
                KEY("payload");
                jb_payload(b, c->req.payload_kind, c->req.payload);
        }
        if (f & MC__F_SIGSET) {
                KEY("signals");
                jb_sigset(b, c->req.sigset);
        }
        if (f & MC__F_FLAGS_SIG) {
                KEY("signal_flags");
                jb_set(b, c->req.flags, sigflag_names, ELEMENTSOF(sigflag_names));
        }
        if (f & MC__F_SOURCE) {
                KEY("source_pid");
                jb_i64(b, c->req.source_pid);
                KEY("source_uid");
                jb_u64(b, c->req.source_uid);
                /* Whether the kernel filled them in or the sender claims them (signal.h). */
                KEY("source_verified");
                if (c->req.source_verified)
                        jb_lit(b, "true");
                else
                        jb_lit(b, "false");
        }
        if (f & MC__F_CODE) {
                KEY("code");
                jb_i64(b, c->req.code);
        }
        if (f & MC__F_ACTION) {
                KEY("action");
                jb_str(b, c->req.action ? c->req.action : "unknown");
        }
        if (f & MC__F_TIMEOUT) {
                KEY("timeout_ms");
                jb_i64(b, c->req.timeout_ms);
        }
        if (f & MC__F_FD) {
                KEY("fd");
                jb_i64(b, c->req.fd);
        }
        jb_putc(b, '}');
#undef KEY
}

/* ---- the sinks ---------------------------------------------------------------------------- */

static void count_dropped(mc_audit *a) {
        __atomic_fetch_add(&a->dropped, 1, __ATOMIC_RELAXED);
}

/*
 * One write(2) per record: with O_APPEND the kernel appends it in one piece, so records of
 * several processes sharing the file never interleave. A retry after a partial write would
 * break exactly that, so a short write loses the record.
 */
static void sink_write(mc_audit *a, const char *line, size_t n) {
        ssize_t k;
        int r;

        do
                k = mc_sys.write(a->fd, line, n);
        while (k < 0 && errno == EINTR);
        if (k < 0 || (size_t) k != n) {
                count_dropped(a);
                /*
                 * Best effort: end the fragment's line so the records after it still parse as
                 * lines of their own.
                 */
                if (k > 0)
                        (void) mc_sys.write(a->fd, "\n", 1);
                return;
        }
        if (!(a->flags & MC_AUDIT_FSYNC))
                return;
        do
                r = mc_sys.fdatasync(a->fd);
        while (r < 0 && errno == EINTR);
        /* EINVAL: a pipe or socket, for which there is nothing to make durable. */
        if (r < 0 && errno != EINVAL)
                count_dropped(a);
}

/* What a sink needs besides the JSON text. */
typedef struct rec_meta {
        int64_t time_ns;
        const char *capability;
        const char *operation;
        pid_t pid;
        mc_error_kind kind;
        int sys_errno;
        const char *message;
        const char *code; /* mc_error_code(); NULL when the operation succeeded */
} rec_meta;

/* Terminate the record and hand it to the sink; @b->len is the JSON text without newline. */
static void emit(mc_audit *a, jbuf *b, const rec_meta *m) {
        size_t n;

        if (!jb_reserve(b, 2)) {
                count_dropped(a);
                return;
        }
        n = b->len;
        b->p[n] = '\n';
        b->p[n + 1] = 0;

        switch (a->type) {
        case SINK_FD:
                sink_write(a, b->p, n + 1);
                break;
        case SINK_SYSLOG:
                b->p[n] = 0;
                /* The facility goes with every record: openlog() state is per process. */
                syslog((m->kind == MC_OK ? LOG_INFO : LOG_WARNING) | a->facility, "%s", b->p);
                break;
        case SINK_CALLBACK: {
                mc_audit_record rec = {
                        .time_ns = m->time_ns,
                        .capability = m->capability,
                        .operation = m->operation,
                        .pid = m->pid,
                        .kind = m->kind,
                        .sys_errno = m->sys_errno,
                        .message = m->message,
                        .code = m->code,
                        .json = b->p,
                        .json_len = n,
                };

                b->p[n] = 0;
                a->callback(&rec, a->userdata);
                break;
        }
        }
}

/* ---- the record writers ------------------------------------------------------------------- */

/* The common head: time, capability, operation, pid, outcome. */
static void jb_head(jbuf *b, const struct timespec *ts, const rec_meta *m, const char *outcome) {
        jb_lit(b, "{\"time\":");
        jb_time(b, ts);
        jb_lit(b, ",\"capability\":");
        jb_str(b, m->capability);
        jb_lit(b, ",\"operation\":");
        jb_str(b, m->operation);
        jb_lit(b, ",\"pid\":");
        jb_i64(b, m->pid);
        jb_lit(b, ",\"outcome\":");
        jb_name(b, outcome);
}

static int64_t now(struct timespec *ts) {
        if (clock_gettime(CLOCK_REALTIME, ts) < 0)
                *ts = (struct timespec){0};
        return (int64_t) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void mc__audit_call(mc_audit *audit, pid_t pid, const mc__call *c, int r, const mc_error *e) {
        char stack[2048];
        struct timespec ts;
        const char *op;
        char message[MC_ERROR_MESSAGE_MAX + 1];
        rec_meta m;
        jbuf b;
        int saved_errno = errno;

        assert(c);
        if (!audit)
                return;

        op = mc_op_name(c->op);
        m = (rec_meta){
                .time_ns = now(&ts),
                .capability = c->capability ? c->capability : "",
                .operation = op ? op : "unknown",
                .pid = pid,
                .kind = MC_OK,
                .message = "",
        };
        if (r < 0) {
                /* An mc_error left at MC_OK would claim success; the return value decides. */
                if (e && e->kind != MC_OK) {
                        /* The message is a fixed array; a callback must get a C string. */
                        size_t n = strnlen(e->message, sizeof(e->message));

                        m.kind = e->kind;
                        m.sys_errno = e->sys_errno;
                        m.message = e->message;
                        if (n == sizeof(e->message)) {
                                memcpy(message, e->message, n);
                                message[n] = 0;
                                m.message = message;
                        }
                } else {
                        m.kind = mc_error_kind_from_errno(r);
                        m.sys_errno = -r;
                }
                m.code = mc_error_code(m.kind, c->capability && streq(c->capability, MC__CAP_SIGNAL)
                                                       ? MC_DOMAIN_SIGNAL
                                                       : MC_DOMAIN_MEMORY);
        }

        jb_init(&b, stack, sizeof(stack));
        jb_head(&b, &ts, &m, r >= 0 ? "ok" : c->denied ? "denied" : "error");
        jb_request(&b, c);
        if (r >= 0) {
                if (c->has_result) {
                        jb_lit(&b, ",\"result\":{\"address\":");
                        jb_hex(&b, (uintptr_t) c->res_addr);
                        jb_lit(&b, ",\"length\":");
                        jb_u64(&b, c->res_length);
                        if (c->res_id) {
                                jb_lit(&b, ",\"mapping_id\":");
                                jb_u64(&b, c->res_id);
                        }
                        jb_putc(&b, '}');
                } else if (c->res_signal) {
                        jb_signal_result(&b, c->res_signal);
                }
        } else {
                jb_lit(&b, ",\"error\":{\"kind\":");
                jb_name(&b, mc_error_kind_name(m.kind));
                jb_lit(&b, ",\"code\":");
                jb_name(&b, m.code);
                jb_lit(&b, ",\"errno\":");
                jb_i64(&b, m.sys_errno);
                jb_lit(&b, ",\"message\":");
                jb_str(&b, m.message);
                jb_putc(&b, '}');
        }
        if (c->has_owner) {
                /* Shared memory: the seed's Local or Remote(pid); 0 when the creator is unknown. */
                if (c->owner_local)
                        jb_lit(&b, ",\"owner\":\"Local\",\"owner_pid\":");
                else
                        jb_lit(&b, ",\"owner\":\"Remote\",\"owner_pid\":");
                jb_i64(&b, c->owner_pid);
        }
        jb_putc(&b, '}');

        if (b.oom)
                count_dropped(audit);
        else
                emit(audit, &b, &m);
        jb_done(&b);
        errno = saved_errno;
}

/*
 * @fields_json was validated as one JSON object, but valid JSON may still spread over several
 * lines: its insignificant whitespace may contain line breaks (raw ones cannot occur inside its
 * strings), so they become spaces and the record stays one line.
 */
static void jb_raw_object(jbuf *b, const char *json) {
        size_t n = strlen(json);

        if (!jb_reserve(b, n))
                return;
        for (size_t i = 0; i < n; i++) {
                char ch = json[i];

                b->p[b->len++] = ch == '\n' || ch == '\r' ? ' ' : ch;
        }
}

void mc__audit_event(mc_audit *audit, pid_t pid, const char *capability, const char *event,
                     const char *fields_json, const char *outcome) {
        char stack[2048];
        struct timespec ts;
        rec_meta m;
        jbuf b;
        int saved_errno = errno;

        if (!audit)
                return;

        m = (rec_meta){
                .time_ns = now(&ts),
                .capability = capability ? capability : "",
                .operation = event ? event : "",
                .pid = pid,
                .kind = MC_OK,
                .message = "",
        };
        jb_init(&b, stack, sizeof(stack));
        jb_head(&b, &ts, &m, outcome ? outcome : "ok");
        jb_lit(&b, ",\"event\":");
        if (fields_json)
                jb_raw_object(&b, fields_json);
        else
                jb_lit(&b, "{}");
        jb_putc(&b, '}');

        if (b.oom)
                count_dropped(audit);
        else
                emit(audit, &b, &m);
        jb_done(&b);
        errno = saved_errno;
}

uint64_t mc__audit_dropped(const mc_audit *audit) {
        if (!audit)
                return 0;
        return __atomic_load_n(&audit->dropped, __ATOMIC_RELAXED);
}

/* ---- opening and closing sinks ------------------------------------------------------------ */

static mc_audit *audit_alloc(sink_type type) {
        mc_audit *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        a->type = type;
        a->fd = -EBADF;
        return a;
}

static void audit_closep(mc_audit **a) {
        mc_audit_close(*a);
}

static int check_common(unsigned flags, mc_audit **ret, const char *what, mc_error *err) {
        if (!ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: no place for the result (ret is NULL)", what);
        if (flags & ~(unsigned) MC_AUDIT_FSYNC)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "%s: unknown flags 0x%x",
                                     what, flags & ~(unsigned) MC_AUDIT_FSYNC);
        return 0;
}

int mc_audit_open_file(const char *path, unsigned flags, mc_audit **ret, mc_error *err) {
        _cleanup_(audit_closep) mc_audit *a = NULL;
        int r;

        r = check_common(flags, ret, "open audit log", err);
        if (r < 0)
                return r;
        if (!path || !*path)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "open audit log: no path given");

        a = audit_alloc(SINK_FD);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open audit log '%s'", path);
        a->flags = flags;
        /* O_APPEND and never O_TRUNC: an audit trail is only ever added to. */
        a->fd = mc_sys.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (a->fd < 0)
                return mc__error_errno(err, errno, "open audit log '%s'", path);
        *ret = TAKE_PTR(a);
        return 0;
}

int mc_audit_open_fd(int fd, unsigned flags, mc_audit **ret, mc_error *err) {
        _cleanup_(audit_closep) mc_audit *a = NULL;
        int r;

        r = check_common(flags, ret, "open audit fd", err);
        if (r < 0)
                return r;
        if (fd < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "open audit fd %d: not a file descriptor", fd);

        a = audit_alloc(SINK_FD);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open audit fd %d", fd);
        a->flags = flags;
        /* Our own descriptor: the caller may close theirs whenever it likes. */
        a->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (a->fd < 0)
                return mc__error_errno(err, errno, "duplicate audit fd %d", fd);
        *ret = TAKE_PTR(a);
        return 0;
}

int mc_audit_open_syslog(const char *ident, int facility, mc_audit **ret, mc_error *err) {
        _cleanup_(audit_closep) mc_audit *a = NULL;
        int r;

        r = check_common(0, ret, "open syslog audit sink", err);
        if (r < 0)
                return r;
        if ((facility & ~LOG_FACMASK) != 0 || LOG_FAC(facility) >= LOG_NFACILITIES)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "open syslog audit sink: invalid facility %d", facility);

        a = audit_alloc(SINK_SYSLOG);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open syslog audit sink");
        a->facility = facility;
        a->ident = strdup(ident ? ident : "memcap");
        if (!a->ident)
                return mc__error_errno(err, ENOMEM, "open syslog audit sink");
        /*
         * openlog() keeps the ident pointer, so the copy lives as long as the sink. The
         * identity is process-wide: with several syslog sinks the last one opened names them
         * all (glibc's closelog() forgets the pointer, so a closed sink leaves none dangling).
         */
        openlog(a->ident, LOG_PID, facility);
        *ret = TAKE_PTR(a);
        return 0;
}

int mc_audit_open_callback(mc_audit_callback callback, void *userdata, mc_audit **ret,
                           mc_error *err) {
        mc_audit *a;
        int r;

        r = check_common(0, ret, "open audit callback", err);
        if (r < 0)
                return r;
        if (!callback)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "open audit callback: no callback given");

        a = audit_alloc(SINK_CALLBACK);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open audit callback");
        a->callback = callback;
        a->userdata = userdata;
        *ret = a;
        return 0;
}

void mc_audit_close(mc_audit *audit) {
        if (!audit)
                return;
        if (audit->fd >= 0)
                mc_sys.close(audit->fd);
        if (audit->type == SINK_SYSLOG && audit->ident)
                closelog();
        free(audit->ident);
        free(audit);
}
