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

/*
 * Names of set bits, in bit order. Bits without a name (only a malformed request, which is
 * audited as it was given) are not dropped silently: they follow as "Unknown(0x..)".
 */
static void jb_bits(mc__jbuf *b, unsigned v, const char *const *names, size_t n, bool *first) {
        for (size_t i = 0; i < n; i++)
                if (v & (1u << i)) {
                        if (!*first)
                                jb_putc(b, ',');
                        *first = false;
                        mc__jb_name(b, names[i]);
                        v &= ~(1u << i);
                }
        if (v) {
                char buf[48];
                int k = snprintf(buf, sizeof(buf), "Unknown(0x%x)", v);

                if (!*first)
                        jb_putc(b, ',');
                *first = false;
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

                if (!first)
                        jb_putc(b, ',');
                first = false;
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

static void jb_sigset(mc__jbuf *b, uint64_t set) {
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

static void jb_request(mc__jbuf *b, const mc__call *c) {
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
                mc__jb_hex(b, (uintptr_t) c->req.addr);
        }
        if (f & MC__F_LENGTH) {
                KEY("length");
                mc__jb_u64(b, c->req.length);
        }
        if (f & MC__F_NEW_LENGTH) {
                KEY("new_length");
                mc__jb_u64(b, c->req.new_length);
        }
        if (f & MC__F_PROT) {
                KEY("protection");
                mc__jb_str(b, mc__prot_name(c->req.prot));
        }
        if (f & MC__F_FLAGS) {
                KEY("flags");
                jb_flags(b, c);
        }
        if (f & MC__F_FILE) {
                KEY("file");
                mc__jb_str(b, c->req.file);
                if (c->req.resolved && (!c->req.file || !streq(c->req.file, c->req.resolved))) {
                        KEY("resolved");
                        mc__jb_str(b, c->req.resolved);
                }
        }
        if (f & MC__F_OFFSET) {
                KEY("offset");
                mc__jb_u64(b, c->req.offset);
        }
        if (f & MC__F_NAME) {
                KEY("name");
                mc__jb_str(b, c->req.name);
        }
        if (f & MC__F_ID) {
                KEY("mapping_id");
                mc__jb_u64(b, c->req.id);
        }
        if (f & MC__F_ADVICE) {
                KEY("advice");
                mc__jb_str(b, c->req.advice);
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
                mc__jb_i64(b, c->req.target);
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
                mc__jb_i64(b, c->req.source_pid);
                KEY("source_uid");
                mc__jb_u64(b, c->req.source_uid);
                /* Whether the kernel filled them in or the sender claims them (signal.h). */
                KEY("source_verified");
                if (c->req.source_verified)
                        jb_lit(b, "true");
                else
                        jb_lit(b, "false");
        }
        if (f & MC__F_CODE) {
                KEY("code");
                mc__jb_i64(b, c->req.code);
        }
        if (f & MC__F_ACTION) {
                KEY("action");
                mc__jb_str(b, c->req.action ? c->req.action : "unknown");
        }
        if (f & MC__F_TIMEOUT) {
                KEY("timeout_ms");
                mc__jb_i64(b, c->req.timeout_ms);
        }
        if (f & MC__F_FD) {
                KEY("fd");
                mc__jb_i64(b, c->req.fd);
        }
        jb_putc(b, '}');
#undef KEY
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
        m = (mc__rec_meta){
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
        jb_putc(&b, '}');

        if (b.oom)
                mc__audit_count_dropped(audit);
        else
                mc__audit_emit(audit, &b, &m);
        jb_done(&b);
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

        m = (mc__rec_meta){
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
                mc__audit_count_dropped(audit);
        else
                mc__audit_emit(audit, &b, &m);
        jb_done(&b);
        errno = saved_errno;
}
