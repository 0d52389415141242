/* SPDX-License-Identifier: MIT */
/*
 * memcapd's audit trail: the log file, who each record is about, and the rate limit that keeps
 * a hostile client from filling the disk with it.
 *
 * The daemon's context writes its records through a callback sink (sink()) rather than the
 * library's file sink, for two reasons. Records the library writes while the daemon serves a
 * request get the client's identity added ("client": connection, pid, uid and the process key
 * that survives pid reuse), so every record about a client names it. And records that the
 * client causes pass the rate limit of its uid (mcd_audit_admit()): a window of
 * audit_rate_interval admits audit_rate_burst records; the others are counted, by outcome, and
 * summarised in one "audit_suppressed" record once the window is over. Records of successful
 * operations that change something (a mapping made, written, synced, reprotected or unmapped, a
 * descriptor handed out) never pass through the limit: they are always written.
 *
 * Summaries are written from the loop, never from inside the sink, which runs under the
 * context's audit lock and must not call back into it.
 *
 * Next to the file, records can go to the journal (audit_journal): each one a journal entry with
 * its fields as MEMCAP_* (MEMCAP_OPERATION=mmap, MEMCAP_OUTCOME=denied, ...) for `journalctl
 * MEMCAP_OUTCOME=denied`, the whole record in MEMCAP_RECORD, and a PRIORITY by outcome. The file
 * is reopened on SIGHUP (mcd_audit_reopen()), so that logrotate can rename it away.
 */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "config.h" /* the build's: HAVE_LIBSYSTEMD */
#if HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

#include "error-util.h"
#include "log.h"
#include "macro.h"
#include "server-int.h"
#include "strv.h"

/* ---- the sink ------------------------------------------------------------------------------ */

static audit_class class_of_record(const mc_audit_record *rec);

#if HAVE_LIBSYSTEMD
/* "MEMCAP_<NAME>=<value>" for sd_journal_send(); empty when it does not fit. */
#define JOURNAL_FIELD_MAX 512

static void journal_send(mcd_server *s, const mc_audit_record *rec, const struct iovec *iov,
                         int n) {
        static const char *const outcomes[] = {"ok", "denied", "error"};
        static const int priorities[] = {6 /* info */, 5 /* notice */, 4 /* warning */};
        char f[12][JOURNAL_FIELD_MAX];
        struct iovec jv[13];
        _cleanup_free_ char *record = NULL;
        json_t *j, *ev;
        const char *kind, *call;
        audit_class cls = class_of_record(rec);
        size_t len = 0, m = 0;
        ssize_t found;
        int r;

        /* The record as written to the file, client identity included, without its newline. */
        for (int i = 0; i < n; i++)
                len += iov[i].iov_len;
        record = malloc(len + sizeof("MEMCAP_RECORD="));
        if (!record)
                return;
        len = sizeof("MEMCAP_RECORD=") - 1;
        memcpy(record, "MEMCAP_RECORD=", len);
        for (int i = 0; i < n; i++) {
                memcpy(record + len, iov[i].iov_base, iov[i].iov_len);
                len += iov[i].iov_len;
        }
        if (len > 0 && record[len - 1] == '\n')
                len--;
        record[len] = 0;
        /*
         * The daemon's own events ("request", "connect", ...) carry their outcome, error kind and
         * call in the record rather than in @rec, whose kind is the event's (Ok): read them there.
         */
        j = json_loads(record + sizeof("MEMCAP_RECORD=") - 1, 0, NULL);
        ev = json_object_get(j, "event");
        found = strv_index(outcomes, ELEMENTSOF(outcomes),
                           json_string_value(json_object_get(j, "outcome")));
        if (found >= 0)
                cls = (audit_class) found;
        kind = rec->kind != MC_OK ? mc_error_kind_name(rec->kind)
                                  : json_string_value(json_object_get(ev, "kind"));
        call = json_string_value(json_object_get(ev, "call"));

        snprintf(f[m++], JOURNAL_FIELD_MAX, "MESSAGE=memcap audit: %s %s%s%s %s%s%s",
                 rec->capability, rec->operation, call ? " " : "", call ? call : "", outcomes[cls],
                 rec->message[0] ? ": " : "", rec->message);
        snprintf(f[m++], JOURNAL_FIELD_MAX, "PRIORITY=%d", priorities[cls]);
        snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_CAPABILITY=%s", rec->capability);
        snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_OPERATION=%s", rec->operation);
        snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_OUTCOME=%s", outcomes[cls]);
        snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_PID=%d", (int) rec->pid);
        if (call)
                snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_CALL=%s", call);
        if (kind)
                snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_ERROR_KIND=%s", kind);
        if (rec->kind != MC_OK)
                snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_ERRNO=%d", rec->sys_errno);
        if (s->current) {
                snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_CLIENT_PID=%d",
                         (int) s->current->client.pid);
                snprintf(f[m++], JOURNAL_FIELD_MAX, "MEMCAP_CLIENT_UID=%u",
                         (unsigned) s->current->client.uid);
        }
        /* The strings read from @j are copied into @f by now. */
        json_decref(j);
        for (size_t i = 0; i < m; i++)
                jv[i] = (struct iovec){f[i], strlen(f[i])};
        jv[m++] = (struct iovec){record, len};
        r = sd_journal_sendv(jv, (int) m);
        if (r < 0 && !s->journal_warned) {
                log_warning("sending audit records to the journal: %s", strerror(-r));
                s->journal_warned = true;
        }
}
#endif

/* One record, one writev(2) on an O_APPEND descriptor: records never interleave. */
static void write_record(mcd_server *s, struct iovec *iov, int n) {
        size_t total = 0;
        ssize_t k;

#if HAVE_LIBSYSTEMD
        if (s->cfg.audit_journal && s->journal_rec)
                journal_send(s, s->journal_rec, iov, n);
#endif
        if (s->audit_fd < 0)
                return;

        for (int i = 0; i < n; i++)
                total += iov[i].iov_len;
        do
                k = writev(s->audit_fd, iov, n);
        while (k < 0 && errno == EINTR);
        if (k >= 0 && (size_t) k == total)
                return;
        /* End a fragment's line, so that the records after it still parse as lines. */
        if (k > 0 && write(s->audit_fd, "\n", 1) != 1)
                k = -1; /* report why the newline could not be written either */
        if (!s->audit_warned)
                log_warning("writing the audit log '%s': %s", s->cfg.audit_path,
                            k < 0 ? strerror(errno) : "short write");
        s->audit_warned = true;
}

/* A policy denial, or a missing capability (PermissionDenied with no errno: see manager.h). */
static audit_class class_of_record(const mc_audit_record *rec) {
        if (rec->kind == MC_OK)
                return AUDIT_CLASS_OK;
        if (rec->kind == MC_ERR_POLICY_VIOLATION ||
            (rec->kind == MC_ERR_PERMISSION_DENIED && rec->sys_errno == 0))
                return AUDIT_CLASS_DENIED;
        return AUDIT_CLASS_ERROR;
}

static void sink(const mc_audit_record *rec, void *userdata) {
        mcd_server *s = userdata;
        const conn *c = s->current;
        char client[160];
        struct iovec iov[2];
        int n;

        /*
         * The daemon's own records ("memcapd") passed the rate limit before they were made.
         * The library's records made while a client is served are that client's doing; only a
         * failure can be left out.
         */
        s->journal_rec = rec;
        if (!c || streq(rec->capability, "memcapd") || rec->json_len < 2 ||
            rec->json[rec->json_len - 1] != '}') {
                iov[0] = (struct iovec){(void *) rec->json, rec->json_len};
                iov[1] = (struct iovec){"\n", 1};
                write_record(s, iov, 2);
                s->journal_rec = NULL;
                return;
        }
        if (rec->kind != MC_OK && !mcd_audit_admit(s, c->acct, class_of_record(rec))) {
                s->journal_rec = NULL;
                return;
        }
        n = snprintf(client, sizeof(client),
                     ",\"client\":{\"conn\":%" PRIu64 ",\"pid\":%d,\"uid\":%u,\"key\":\"%" PRIu64
                     "\"}}\n",
                     c->id, (int) c->client.pid, (unsigned) c->client.uid, c->client.key);
        iov[0] = (struct iovec){(void *) rec->json, rec->json_len - 1};
        iov[1] = (struct iovec){client, (size_t) n};
        write_record(s, iov, 2);
        s->journal_rec = NULL;
}

/* As the library's file sink: O_APPEND and never O_TRUNC, created private. */
static int open_log(const char *path) {
        return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
}

int mcd_audit_open(mcd_server *s, mc_error *err) {
        mc_audit *a = NULL;
        int fd = -1, r;

        if (!s->cfg.audit_path && !s->cfg.audit_journal)
                return 0;
#if !HAVE_LIBSYSTEMD
        if (s->cfg.audit_journal)
                return mc_error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                    "audit_journal: this memcapd was built without libsystemd");
#endif
        if (s->cfg.audit_path) {
                fd = open_log(s->cfg.audit_path);
                if (fd < 0)
                        return mc_error_errno(err, errno, "open audit log '%s'", s->cfg.audit_path);
        }
        r = mc_audit_open_callback(sink, s, &a, err);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        s->audit_fd = fd;
        s->audit_sink = true;
        mc_ctx_set_audit(s->ctx, a);
        return 0;
}

int mcd_audit_reopen(mcd_server *s) {
        int fd;

        if (s->audit_fd < 0 || !s->cfg.audit_path)
                return 0;
        /* The new file first: when it cannot be opened, records keep going to the old one. */
        fd = open_log(s->cfg.audit_path);
        if (fd < 0) {
                int e = errno;

                log_error("reopening the audit log '%s': %s; still writing to the file it was",
                          s->cfg.audit_path, strerror(e));
                return -e;
        }
        safe_close(s->audit_fd);
        s->audit_fd = fd;
        s->audit_warned = false;
        return 0;
}

void mcd_audit_close(mcd_server *s) {
        s->audit_fd = safe_close(s->audit_fd);
}

/* ---- the rate limit ------------------------------------------------------------------------ */

static uint64_t suppressed_total(const account *a) {
        uint64_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(a->suppressed); i++)
                n += a->suppressed[i];
        return n;
}

static int64_t realtime_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool mcd_audit_admit(mcd_server *s, account *a, audit_class cls) {
        int64_t interval = (int64_t) s->cfg.audit_rate_interval_ms, t;

        if (!a)
                return true;
        /* A window with suppressed records stays open until its summary is written. */
        if (a->window_start != 0 && s->now - a->window_start >= interval &&
            suppressed_total(a) == 0)
                a->window_start = 0;
        if (a->window_start == 0) {
                a->window_start = s->now > 0 ? s->now : 1;
                a->window_records = 0;
        }
        if (a->window_records < s->cfg.audit_rate_burst) {
                a->window_records++;
                return true;
        }
        t = realtime_ns();
        if (suppressed_total(a) == 0)
                a->first_suppressed = t;
        a->last_suppressed = t;
        a->suppressed[cls]++;
        mcd_schedule(s, a->window_start + interval);
        return false;
}

/* "2026-11-22T01:46:55.123456Z", as the library writes "time". */
static const char *rfc3339(int64_t ns, char buf[static 32]) {
        time_t sec = (time_t) (ns / 1000000000);
        struct tm tm;

        if (!gmtime_r(&sec, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
                return "";
        snprintf(buf + 19, 13, ".%06dZ", (int) (ns % 1000000000 / 1000));
        return buf;
}

static void write_summary(mcd_server *s, account *a) {
        uint64_t n = suppressed_total(a);
        char first[32], last[32], msg[256];
        json_t *o;

        snprintf(msg, sizeof(msg),
                 "%" PRIu64 " audit records caused by uid %u were suppressed: more than %" PRIu64
                 " in %" PRIu64 " ms (audit_rate_burst, audit_rate_interval)",
                 n, (unsigned) a->uid, s->cfg.audit_rate_burst, s->cfg.audit_rate_interval_ms);
        o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:s}", "client_uid",
                      (json_int_t) a->uid, "suppressed", (json_int_t) n, "ok",
                      (json_int_t) a->suppressed[AUDIT_CLASS_OK], "denied",
                      (json_int_t) a->suppressed[AUDIT_CLASS_DENIED], "error",
                      (json_int_t) a->suppressed[AUDIT_CLASS_ERROR], "first",
                      rfc3339(a->first_suppressed, first), "last",
                      rfc3339(a->last_suppressed, last), "burst",
                      (json_int_t) s->cfg.audit_rate_burst, "interval_ms",
                      (json_int_t) s->cfg.audit_rate_interval_ms, "message", msg);
        /* Filters on the record's outcome should see that failures were left out. */
        if (o && (a->suppressed[AUDIT_CLASS_ERROR] || a->suppressed[AUDIT_CLASS_DENIED]))
                json_object_set_new(
                        o, "outcome",
                        json_string(a->suppressed[AUDIT_CLASS_ERROR] ? "error" : "denied"));
        memset(a->suppressed, 0, sizeof(a->suppressed));
        a->window_start = 0;
        mcd_audit_emit(s, "audit_suppressed", o);
}

void mcd_audit_flush_summaries(mcd_server *s, bool all) {
        int64_t interval = (int64_t) s->cfg.audit_rate_interval_ms;

        s->summaries_due = false;
        for (account *a = s->accounts; a; a = a->next) {
                if (suppressed_total(a) == 0)
                        continue;
                if (all || s->now - a->window_start >= interval)
                        write_summary(s, a);
                else
                        mcd_schedule(s, a->window_start + interval);
        }
}

/* ---- records --------------------------------------------------------------------------------- */

int mcd_audit_add_client(json_t *o, const conn *c) {
        char key[24];

        /* The key is an unsigned 64-bit number, more than a JSON integer carries exactly. */
        snprintf(key, sizeof(key), "%" PRIu64, c->client.key);
        if (json_object_set_new(o, "client_pid", json_integer((json_int_t) c->client.pid)) < 0 ||
            json_object_set_new(o, "client_uid", json_integer((json_int_t) c->client.uid)) < 0 ||
            json_object_set_new(o, "client_key", json_string(key)) < 0 ||
            json_object_set_new(o, "conn", json_integer((json_int_t) c->id)) < 0)
                return -ENOMEM;
        return 0;
}

char *mcd_audit_escape(const char *in, size_t n, char *out, size_t size) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0, i;

        assert(size >= 8);
        for (i = 0; i < n; i++) {
                unsigned char b = (unsigned char) in[i];
                bool plain = b >= ' ' && b <= '~' && b != '\\';

                if (o + (plain ? 1 : 4) + 3 >= size)
                        break;
                if (plain)
                        out[o++] = (char) b;
                else {
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[b >> 4];
                        out[o++] = hex[b & 15];
                }
        }
        if (i < n) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o] = 0;
        return out;
}

void mcd_audit_emit(mcd_server *s, const char *event, json_t *o) {
        char *text;

        if (!o)
                return;
        text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(o);
        if (!text || mc_ctx_audit_event(s->ctx, "memcapd", event, text, NULL) < 0)
                log_debug("writing the audit record '%s' failed", event);
        free(text);
}

void mcd_audit_connect(mcd_server *s, conn *c) {
        json_t *o;

        if (!mcd_audit_enabled(s) || !mcd_audit_admit(s, c->acct, AUDIT_CLASS_OK))
                return;
        o = json_object();
        if (o &&
            (mcd_audit_add_client(o, c) < 0 ||
             json_object_set_new(o, "client_gid", json_integer((json_int_t) c->client.gid)) < 0)) {
                json_decref(o);
                return;
        }
        mcd_audit_emit(s, "connect", o);
}

void mcd_audit_refused(mcd_server *s, account *a, pid_t pid, uid_t uid, const char *reason) {
        if (!mcd_audit_enabled(s) || !mcd_audit_admit(s, a, AUDIT_CLASS_DENIED))
                return;
        mcd_audit_emit(s, "connect",
                       json_pack("{s:i, s:I, s:s, s:s}", "client_pid", (int) pid, "client_uid",
                                 (json_int_t) uid, "outcome", "denied", "reason", reason));
}

/* Closing for these reasons is the client's or the daemon's failure, not an orderly end. */
static bool reason_is_error(const char *reason) {
        static const char *const orderly[] = {"closed", "shutdown", "process_exited"};

        return strv_index(orderly, ELEMENTSOF(orderly), reason) < 0;
}

void mcd_audit_disconnect(mcd_server *s, conn *c) {
        const char *reason = c->reason ? c->reason : "error";
        bool error = reason_is_error(reason);
        char line[160];
        json_t *o;

        if (!mcd_audit_enabled(s) ||
            !mcd_audit_admit(s, c->acct, error ? AUDIT_CLASS_ERROR : AUDIT_CLASS_OK))
                return;
        o = json_pack("{s:s, s:I, s:I, s:I, s:I}", "reason", reason, "requests",
                      (json_int_t) c->requests, "bytes_in", (json_int_t) c->bytes_in, "bytes_out",
                      (json_int_t) c->out_sent, "duration_ms", (json_int_t) (s->now - c->opened));
        if (!o || mcd_audit_add_client(o, c) < 0) {
                json_decref(o);
                return;
        }
        if (error)
                json_object_set_new(o, "outcome", json_string("error"));
        /* What the client sent that was never handled, such as the start of a request it did
         * not finish: evidence of what it was about to ask. */
        if (c->in_len > 0) {
                json_object_set_new(o, "unhandled_bytes", json_integer((json_int_t) c->in_len));
                json_object_set_new(
                        o, "unhandled",
                        json_string(mcd_audit_escape(c->in, c->in_len, line, sizeof(line))));
        }
        if (c->out.len > 0)
                json_object_set_new(o, "unsent_bytes", json_integer((json_int_t) c->out.len));
        mcd_audit_emit(s, "disconnect", o);
}

void mcd_audit_blocked(mcd_server *s, account *a) {
        char msg[256];

        if (!mcd_audit_enabled(s) || !mcd_audit_admit(s, a, AUDIT_CLASS_DENIED))
                return;
        snprintf(msg, sizeof(msg),
                 "uid %u holds %" PRIu64 " bytes of buffers in %zu connection(s), "
                 "max_buffer_per_uid is %" PRIu64
                 ": its connections are not read until their replies drain",
                 (unsigned) a->uid, a->held, a->n_conns, s->cfg.max_buffer_per_uid);
        mcd_audit_emit(s, "buffer_limit",
                       json_pack("{s:I, s:s, s:I, s:I, s:s, s:s}", "client_uid",
                                 (json_int_t) a->uid, "limit", "max_buffer_per_uid", "held",
                                 (json_int_t) a->held, "connections", (json_int_t) a->n_conns,
                                 "outcome", "denied", "message", msg));
}
