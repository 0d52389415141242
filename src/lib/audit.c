/* SPDX-License-Identifier: MIT */
/*
 * The audit record. Every privileged operation of a context ends here, allowed or denied, so
 * this is on the hot path of every mc_mmap(): the record is formatted by hand into a stack
 * buffer by the JSON writer of audit-json.c (no jansson, no printf, no locale, no allocation
 * for a typical record) and handed to the sink (audit-sink.c) in one piece.
 *
 * Sections: the time stamp, the request fields, the record writers (mc__audit_call,
 * mc__audit_event).
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "audit-def.h"

/* ---- the time stamp -------------------------------------------------------------------------- */

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
static void jb_time(mc__jbuf *b, const struct timespec *ts) {
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
                char yb[24], *end = yb + sizeof(yb),
                             *s = mc__fmt_u64(end, (uint64_t) (y < 0 ? -y : y));
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

/* ---- the request fields ---------------------------------------------------------------------- */

/* A comma before every element of a list but the first. */
static void jb_sep(mc__jbuf *b, bool *first) {
        if (!*first)
                jb_putc(b, ',');
        *first = false;
}

/*
 * Names of set bits, in bit order. Bits without a name (only a malformed request, which is
 * audited as it was given) are not dropped silently: they follow as "Unknown(0x..)".
 */
static void jb_bits(mc__jbuf *b, unsigned v, const char *const *names, size_t n, bool *first) {
        for (size_t i = 0; i < n; i++)
                if (v & (1u << i)) {
                        jb_sep(b, first);
                        mc__jb_name(b, names[i]);
                        v &= ~(1u << i);
                }
        if (v) {
                char buf[48];
                int k = snprintf(buf, sizeof(buf), "Unknown(0x%x)", v);

                jb_sep(b, first);
                mc__jb_str_n(b, buf, (size_t) k);
        }
}

static const char *const map_flag_names[] = {"Private", "Shared", "Anonymous", "Fixed", "HugePage"};
static const char *const sync_names[] = {"SYNC", "ASYNC", "INVALIDATE"};
static const char *const seal_names[] = {"SHRINK", "GROW", "WRITE", "FUTURE_WRITE", "SEAL"};

static void jb_flags(mc__jbuf *b, const mc__call *c) {
        bool first = true;

        jb_putc(b, '[');
        jb_bits(b, c->req.flags, map_flag_names, ELEMENTSOF(map_flag_names), &first);
        for (size_t i = 0; c->req.custom && i < c->req.n_custom; i++) {
                const char *name = c->req.custom[i];

                jb_sep(b, &first);
                if (!name) {
                        jb_lit(b, "null");
                        continue;
                }
                jb_lit(b, "\"Custom(");
                mc__jb_esc(b, name, strlen(name));
                jb_lit(b, ")\"");
        }
        jb_putc(b, ']');
}

static void jb_set(mc__jbuf *b, unsigned v, const char *const *names, size_t n) {
        bool first = true;

        jb_putc(b, '[');
        jb_bits(b, v, names, n, &first);
        jb_putc(b, ']');
}

static const char *const sigflag_names[] = {"BLOCK"};
/* mc_uffd_modes, bit by bit. */
static const char *const uffd_mode_names[] = {"MISSING", "WP", "MINOR"};
static const char *const payload_names[] = {"None", "UserData", "RealTime"};

/* {"kind":"UserData","value":-3}: user data is a signed 32-bit value, realtime data 64 bits. */
static void jb_payload(mc__jbuf *b, int kind, uint64_t v) {
        jb_lit(b, "{\"kind\":");
        mc__jb_str(b, kind >= 0 && kind < (int) ELEMENTSOF(payload_names) ? payload_names[kind]
                                                                          : "Unknown");
        if (kind == MC_PAYLOAD_USER_DATA) {
                jb_lit(b, ",\"value\":");
                mc__jb_i64(b, (int32_t) v);
        } else if (kind == MC_PAYLOAD_REAL_TIME) {
                jb_lit(b, ",\"value\":");
                mc__jb_u64(b, v);
        }
        jb_putc(b, '}');
}

static void jb_signame(mc__jbuf *b, int signo) {
        char buf[32];
        const char *name = mc_signal_name(signo, buf, sizeof(buf));

        if (name)
                mc__jb_str(b, name);
        else
                mc__jb_i64(b, signo);
}

/* The set bits of @set as a list, each written by @put from its index: [0,2]. */
static void jb_bit_list(mc__jbuf *b, uint64_t set, void (*put)(mc__jbuf *b, int i)) {
        bool first = true;

        jb_putc(b, '[');
        for (int i = 0; i < 64; i++)
                if (set & (UINT64_C(1) << i)) {
                        jb_sep(b, &first);
                        put(b, i);
                }
        jb_putc(b, ']');
}

/* A NUMA node mask: bit i is node i. */
static void put_node(mc__jbuf *b, int i) {
        mc__jb_i64(b, i);
}

/* A signal set: bit i is signal i + 1. */
static void put_set_signal(mc__jbuf *b, int i) {
        jb_signame(b, i + 1);
}

/* The result of a wait: the signal taken and who sent it. */
static void jb_signal_result(mc__jbuf *b, const mc_signal_info *i) {
        jb_lit(b, ",\"result\":{\"signal\":");
        jb_signame(b, i->signal);
        jb_lit(b, ",\"source_pid\":");
        mc__jb_i64(b, i->source_pid);
        jb_lit(b, ",\"source_uid\":");
        mc__jb_u64(b, i->source_uid);
        if (i->source_verified)
                jb_lit(b, ",\"source_verified\":true");
        else
                jb_lit(b, ",\"source_verified\":false");
        jb_lit(b, ",\"code\":");
        mc__jb_i64(b, i->code);
        jb_lit(b, ",\"payload\":");
        jb_payload(b, (int) i->payload.kind,
                   i->payload.kind == MC_PAYLOAD_USER_DATA
                           ? (uint64_t) (int64_t) i->payload.user_data
                           : i->payload.real_time);
        jb_putc(b, '}');
}

/*
 * The request fields, in the order the record writes them. Most are plain values read from
 * mc__call.req by offset; the few that need their own formatting have a writer. One table keeps
 * the order, the keys and the formats in one place, so a new field is one row.
 */
enum { V_HEX, V_U64, V_I64, V_BOOL, V_STR, V_SET, V_PUT };

typedef struct req_field {
        unsigned bit;             /* the MC__F_* that asks for it */
        const char *key;          /* JSON key */
        uint8_t kind;             /* V_* */
        uint8_t size;             /* of the value at @off */
        uint16_t off;             /* offsetof(mc__call, req.<field>) */
        const char *const *names; /* V_SET: the names of the bits */
        uint8_t n_names;
        void (*put)(mc__jbuf *b, const mc__call *c); /* V_PUT */
        bool (*when)(const mc__call *c);             /* written only if true; NULL: always */
} req_field;

static void put_prot(mc__jbuf *b, const mc__call *c) {
        mc__jb_str(b, mc__prot_name(c->req.prot));
}

static void put_signal(mc__jbuf *b, const mc__call *c) {
        jb_signame(b, c->req.signo);
}

static void put_payload(mc__jbuf *b, const mc__call *c) {
        jb_payload(b, c->req.payload_kind, c->req.payload);
}

static void put_sigset(mc__jbuf *b, const mc__call *c) {
        jb_bit_list(b, c->req.sigset, put_set_signal);
}

static void put_action(mc__jbuf *b, const mc__call *c) {
        mc__jb_str(b, c->req.action ? c->req.action : "unknown");
}

static void put_nodes(mc__jbuf *b, const mc__call *c) {
        jb_bit_list(b, c->req.nodes, put_node);
}

/* The resolved path only where it tells more than the path given. */
static bool resolved_differs(const mc__call *c) {
        return c->req.resolved && (!c->req.file || !streq(c->req.file, c->req.resolved));
}

static bool has_numa_mode(const mc__call *c) {
        return c->req.numa_mode != NULL;
}

#define REQ(field) .size = sizeof(((mc__call *) 0)->req.field), .off = offsetof(mc__call, req.field)
#define NAMES(a)   .names = (a), .n_names = ELEMENTSOF(a)

static const req_field req_fields[] = {
        {MC__F_ADDR, "address", V_HEX, REQ(addr)},
        {MC__F_LENGTH, "length", V_U64, REQ(length)},
        {MC__F_NEW_LENGTH, "new_length", V_U64, REQ(new_length)},
        {MC__F_PROT, "protection", V_PUT, .put = put_prot},
        {MC__F_FLAGS, "flags", V_PUT, .put = jb_flags},
        {MC__F_FILE, "file", V_STR, REQ(file)},
        {MC__F_FILE, "resolved", V_STR, REQ(resolved), .when = resolved_differs},
        {MC__F_OFFSET, "offset", V_U64, REQ(offset)},
        {MC__F_NAME, "name", V_STR, REQ(name)},
        {MC__F_ID, "mapping_id", V_U64, REQ(id)},
        {MC__F_ADVICE, "advice", V_STR, REQ(advice)},
        {MC__F_SYNC, "sync", V_SET, REQ(sync), NAMES(sync_names)},
        {MC__F_SEALS, "seals", V_SET, REQ(seals), NAMES(seal_names)},
        {MC__F_SIGNAL, "signal", V_PUT, .put = put_signal},
        {MC__F_TARGET, "target_pid", V_I64, REQ(target)},
        {MC__F_PAYLOAD, "payload", V_PUT, .put = put_payload},
        {MC__F_SIGSET, "signals", V_PUT, .put = put_sigset},
        {MC__F_FLAGS_SIG, "signal_flags", V_SET, REQ(flags), NAMES(sigflag_names)},
        {MC__F_SOURCE, "source_pid", V_I64, REQ(source_pid)},
        {MC__F_SOURCE, "source_uid", V_U64, REQ(source_uid)},
        /* Whether the kernel filled them in or the sender claims them (signal.h). */
        {MC__F_SOURCE, "source_verified", V_BOOL, REQ(source_verified)},
        {MC__F_CODE, "code", V_I64, REQ(code)},
        {MC__F_ACTION, "action", V_PUT, .put = put_action},
        {MC__F_TIMEOUT, "timeout_ms", V_I64, REQ(timeout_ms)},
        {MC__F_FD, "fd", V_I64, REQ(fd)},
        {MC__F_NODES, "numa_nodes", V_PUT, .put = put_nodes},
        {MC__F_NODES, "numa_mode", V_STR, REQ(numa_mode), .when = has_numa_mode},
        {MC__F_UFFD, "uffd_modes", V_SET, REQ(uffd_modes), NAMES(uffd_mode_names)},
};

#undef NAMES
#undef REQ

/*
 * An integer field of any width, as the type it has: unsigned ones zero-extended, signed ones
 * sign-extended. memcpy() because the field's type is only known by its size here.
 */
static uint64_t load_u(const void *p, size_t size) {
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;

        switch (size) {
        case 1:
                memcpy(&u8, p, 1);
                return u8;
        case 2:
                memcpy(&u16, p, 2);
                return u16;
        case 4:
                memcpy(&u32, p, 4);
                return u32;
        default:
                memcpy(&u64, p, 8);
                return u64;
        }
}

static int64_t load_i(const void *p, size_t size) {
        uint64_t v = load_u(p, size);
        unsigned shift = 64 - 8 * (unsigned) size;

        /* Sign-extend from the field's width. */
        return (int64_t) (v << shift) >> shift;
}

static void jb_field(mc__jbuf *b, const mc__call *c, const req_field *f) {
        const void *p = (const char *) c + f->off;

        switch (f->kind) {
        case V_HEX:
                mc__jb_hex(b, (uintptr_t) * (const void *const *) p);
                break;
        case V_U64:
                mc__jb_u64(b, load_u(p, f->size));
                break;
        case V_I64:
                mc__jb_i64(b, load_i(p, f->size));
                break;
        case V_BOOL:
                if (load_u(p, f->size))
                        jb_lit(b, "true");
                else
                        jb_lit(b, "false");
                break;
        case V_STR:
                mc__jb_str(b, *(const char *const *) p);
                break;
        case V_SET:
                jb_set(b, (unsigned) load_u(p, f->size), f->names, f->n_names);
                break;
        default:
                f->put(b, c);
                break;
        }
}

static void jb_request(mc__jbuf *b, const mc__call *c) {
        bool first = true;

        jb_lit(b, ",\"request\":{");
        for (size_t i = 0; i < ELEMENTSOF(req_fields); i++) {
                const req_field *f = &req_fields[i];

                if (!(c->fields & f->bit) || (f->when && !f->when(c)))
                        continue;
                jb_sep(b, &first);
                jb_putc(b, '"');
                jb_put(b, f->key, strlen(f->key));
                jb_lit(b, "\":");
                jb_field(b, c, f);
        }
        jb_putc(b, '}');
}

/* ---- the record writers ---------------------------------------------------------------------- */

/* The common head: time, capability, operation, pid, outcome. */
static void jb_head(mc__jbuf *b, const struct timespec *ts, const mc__rec_meta *m,
                    const char *outcome) {
        jb_lit(b, "{\"time\":");
        jb_time(b, ts);
        jb_lit(b, ",\"capability\":");
        mc__jb_str(b, m->capability);
        jb_lit(b, ",\"operation\":");
        mc__jb_str(b, m->operation);
        jb_lit(b, ",\"pid\":");
        mc__jb_i64(b, m->pid);
        jb_lit(b, ",\"outcome\":");
        mc__jb_name(b, outcome);
}

static int64_t now(struct timespec *ts) {
        if (clock_gettime(CLOCK_REALTIME, ts) < 0)
                *ts = (struct timespec){0};
        return (int64_t) ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* The facts every record starts from: when, what, by whom; no error yet. */
static void rec_meta_init(mc__rec_meta *m, struct timespec *ts, const char *capability,
                          const char *operation, pid_t pid) {
        *m = (mc__rec_meta){
                .time_ns = now(ts),
                .capability = capability ? capability : "",
                .operation = operation,
                .pid = pid,
                .kind = MC_OK,
                .message = "",
        };
}

/* Close the record in @b and hand it to the sink; one that could not be built is dropped. */
static void rec_finish(mc_audit *audit, mc__jbuf *b, const mc__rec_meta *m) {
        jb_putc(b, '}');
        if (b->oom)
                mc__audit_count_dropped(audit);
        else
                mc__audit_emit(audit, b, m);
        jb_done(b);
}

void mc__audit_call(mc_audit *audit, pid_t pid, const mc__call *c, int r, const mc_error *e) {
        char stack[2048];
        struct timespec ts;
        const char *op;
        char message[MC_ERROR_MESSAGE_MAX + 1];
        mc__rec_meta m;
        mc__jbuf b;
        int saved_errno = errno;

        assert(c);
        if (!audit)
                return;

        op = mc__op_name(c->op);
        rec_meta_init(&m, &ts, c->capability, op ? op : "unknown", pid);
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
                        mc__jb_hex(&b, (uintptr_t) c->res_addr);
                        jb_lit(&b, ",\"length\":");
                        mc__jb_u64(&b, c->res_length);
                        if (c->res_id) {
                                jb_lit(&b, ",\"mapping_id\":");
                                mc__jb_u64(&b, c->res_id);
                        }
                        jb_putc(&b, '}');
                } else if (c->res_signal) {
                        jb_signal_result(&b, c->res_signal);
                }
        } else {
                jb_lit(&b, ",\"error\":{\"kind\":");
                mc__jb_name(&b, mc_error_kind_name(m.kind));
                jb_lit(&b, ",\"code\":");
                mc__jb_name(&b, m.code);
                jb_lit(&b, ",\"errno\":");
                mc__jb_i64(&b, m.sys_errno);
                jb_lit(&b, ",\"message\":");
                mc__jb_str(&b, m.message);
                jb_putc(&b, '}');
        }
        if (c->has_owner) {
                /* Shared memory: the seed's Local or Remote(pid); 0 when the creator is unknown. */
                if (c->owner_local)
                        jb_lit(&b, ",\"owner\":\"Local\",\"owner_pid\":");
                else
                        jb_lit(&b, ",\"owner\":\"Remote\",\"owner_pid\":");
                mc__jb_i64(&b, c->owner_pid);
        }
        rec_finish(audit, &b, &m);
        errno = saved_errno;
}

/*
 * @fields_json was validated as one JSON object, but valid JSON may still spread over several
 * lines: its insignificant whitespace may contain line breaks (raw ones cannot occur inside its
 * strings), so they become spaces and the record stays one line.
 */
static void jb_raw_object(mc__jbuf *b, const char *json) {
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
        mc__rec_meta m;
        mc__jbuf b;
        int saved_errno = errno;

        if (!audit)
                return;

        rec_meta_init(&m, &ts, capability, event ? event : "", pid);
        jb_init(&b, stack, sizeof(stack));
        jb_head(&b, &ts, &m, outcome ? outcome : "ok");
        jb_lit(&b, ",\"event\":");
        if (fields_json)
                jb_raw_object(&b, fields_json);
        else
                jb_lit(&b, "{}");
        rec_finish(audit, &b, &m);
        errno = saved_errno;
}
