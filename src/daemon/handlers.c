/* SPDX-License-Identifier: MIT */
/*
 * memcapd's request handlers: one parsed request in, one reply queued. Each call maps onto the
 * library's mapping manager, which owns ids, ownership, capabilities and quotas; this file only
 * translates. Capability refusals (PermissionDenied without an errno) get the protocol's
 * "permission_denied" reply; every other failure an "error" reply with the library's kind.
 * When an audit log is configured every request is recorded with the client's identity, subject
 * to the client's audit rate limit except for successful calls that change something.
 */

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-escape.h"
#include "log.h"
#include "macro.h"
#include "server-int.h"

/*
 * Library messages are written for the process that made the call and may name addresses in
 * it ("mapping 0x7f4c..."). Sent to a client they would reveal the daemon's memory layout, so
 * every hexadecimal number of 6 digits or more becomes "<address>".
 */
static void scrub_addresses(const char *in, char *out, size_t size) {
        size_t o = 0;

        while (*in && o + 1 < size) {
                size_t n = 0;

                if (in[0] == '0' && in[1] == 'x') {
                        while (isxdigit((unsigned char) in[2 + n]))
                                n++;
                }
                if (n >= 6) {
                        static const char hidden[] = "<address>";
                        size_t k = MC_MIN(sizeof(hidden) - 1, size - 1 - o);
                        memcpy(out + o, hidden, k);
                        o += k;
                        in += 2 + n;
                } else {
                        out[o++] = *in++;
                }
        }
        out[o] = 0;
}

static void reply_failure(conn *c, const mc_error *e, const char *call) {
        mc_error shown = *e;
        int r;

        scrub_addresses(e->message, shown.message, sizeof(shown.message));
        if (e->kind == MC_ERR_PERMISSION_DENIED && e->sys_errno == 0)
                r = mcd_reply_denied(&c->out, shown.message);
        else
                r = mcd_reply_error(&c->out, &shown, call);
        if (r < 0)
                c->closing = true; /* out of memory: nothing sensible can follow */
}

/*
 * Whether a successful @call changed something: a mapping made, written, synced, reprotected
 * or unmapped, a descriptor handed out. Its record is evidence and is always written; the
 * records of calls that only look, and of every failure, count against the client's audit rate
 * limit. A call added later is evidence unless listed here.
 */
static bool changes_state(mcd_call call) {
        switch (call) {
        case MCD_CALL_HELLO:
        case MCD_CALL_MMAP_READ:
        case MCD_CALL_MMAP_STATS:
        case MCD_CALL_MMAP_LIST:
                return false;
        default:
                return true;
        }
}

/*
 * The path a request that could not be decoded asked for, when the line is JSON enough to
 * hold one ({"Mmap": {"path": ..., "prot": 9}}): refused requests are recorded with the path
 * like allowed ones. A new reference, or NULL.
 */
static json_t *unparsed_path(const char *line, size_t len) {
        json_t *root = json_loadb(line, len, 0, NULL), *args, *path = NULL;
        const char *key;

        if (json_is_object(root) && json_object_size(root) == 1)
                json_object_foreach(root, key, args) {
                        path = json_object_get(args, "path");
                }
        path = json_is_string(path) ? json_incref(path) : NULL;
        json_decref(root);
        return path;
}

/*
 * A path as a record's "path": at most PATH_MAX bytes, which is all a path that can be opened
 * has, so that a record stays small whatever line the client sent; a longer one is cut at a
 * character boundary (paths here were decoded by jansson, so they are valid UTF-8) and
 * "path_bytes" says how long it was.
 */
static void audit_path(json_t *o, const char *path, size_t len) {
        size_t n = len;

        if (n > PATH_MAX) {
                n = PATH_MAX - utf8_incomplete_tail(path, PATH_MAX);
                json_object_set_new(o, "path_bytes", json_integer((json_int_t) len));
        }
        json_object_set_new(o, "path", json_stringn(path, n));
}

static void audit_request(mcd_server *s, conn *c, const mcd_request *q, const char *call, int r,
                          const mc_error *e, const char *line, size_t len) {
        bool denied = r < 0 && e->kind == MC_ERR_PERMISSION_DENIED && e->sys_errno == 0;
        char shown[160];
        json_t *o;

        if (!(r >= 0 && q && changes_state(q->call)) &&
            !mcd_audit_admit(s, c->acct,
                             r >= 0   ? AUDIT_CLASS_OK
                             : denied ? AUDIT_CLASS_DENIED
                                      : AUDIT_CLASS_ERROR))
                return;
        o = json_pack("{s:i, s:I, s:s, s:s}", "client_pid", (int) c->client.pid, "client_uid",
                      (json_int_t) c->client.uid, "call", call ? call : "invalid", "outcome",
                      r >= 0   ? "ok"
                      : denied ? "denied"
                               : "error");
        if (!o || mcd_audit_add_client(o, c) < 0) {
                json_decref(o);
                return;
        }
        if (q && q->mmap_id)
                json_object_set_new(o, "mmap_id", json_integer((json_int_t) q->mmap_id));
        if (q && q->path)
                audit_path(o, q->path, strlen(q->path));
        if (!q) {
                json_t *path = unparsed_path(line, len);

                if (path)
                        audit_path(o, json_string_value(path), json_string_length(path));
                json_decref(path);
                json_object_set_new(o, "line",
                                    json_string(mcd_audit_escape(line, len, shown, sizeof(shown))));
                json_object_set_new(o, "line_bytes", json_integer((json_int_t) len));
        }
        if (r < 0) {
                json_object_set_new(o, "kind", json_string(mc_error_kind_name(e->kind)));
                json_object_set_new(o, "code",
                                    json_string(mc_error_code(e->kind, MC_DOMAIN_MEMORY)));
                json_object_set_new(o, "message", json_string(e->message));
        }
        mcd_audit_emit(s, "request", o);
}

static void stats_of(const mc_mapping_stats *m, mcd_stats *s) {
        s->id = m->id;
        s->path = m->anonymous ? NULL : m->path;
        s->offset = m->offset;
        s->length = m->length;
        s->prot = m->prot;
        s->shared = m->shared;
        s->owner_pid = m->owner_pid;
        s->locked = m->locked;
        s->faulted = m->faulted;
        s->ranges = m->ranges;
        s->n_ranges = m->n_ranges;
}

/* The length of a range call: absent means the rest of the mapping. */
static uint64_t range_length(const mcd_request *q) {
        return q->has_length ? q->length : MC_MANAGER_LENGTH_ALL;
}

static int do_read(mcd_server *s, conn *c, const mcd_request *q, mc_error *e) {
        size_t n = 0;
        int r;

        if (q->length > s->cfg.max_read)
                return mc_error_set(e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "length %" PRIu64 " exceeds the largest read, %" PRIu64
                                    " bytes (use MmapFd for bulk data)",
                                    q->length, s->cfg.max_read);
        if (q->length > s->scratch_cap) {
                uint8_t *p = realloc(s->scratch, (size_t) q->length);
                if (!p)
                        return mc_error_set(e, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                                            "allocating the read buffer");
                s->scratch = p;
                s->scratch_cap = (size_t) q->length;
        }
        r = mc_manager_read(s->mgr, &c->client, q->mmap_id, q->offset, s->scratch,
                            (size_t) q->length, &n, e);
        if (r < 0)
                return r;
        return mcd_reply_data(&c->out, s->scratch, n, q->encoding);
}

static int do_list(mcd_server *s, conn *c, const mcd_request *q, mc_error *e) {
        mc_mapping_stats *v = NULL;
        mcd_stats *out = NULL;
        size_t n = 0;
        int r;

        r = mc_manager_list(s->mgr, &c->client, q->all ? UINT64_MAX : 0, &v, &n, e);
        if (r < 0)
                return r;
        if (n > 0 && !(out = calloc(n, sizeof(*out)))) {
                free(v);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                stats_of(&v[i], &out[i]);
        r = mcd_reply_list(&c->out, out, n);
        free(out);
        free(v);
        return r;
}

static int do_fd(mcd_server *s, conn *c, const mcd_request *q, mc_error *e) {
        mc_mapping_stats st;
        uint64_t offset = 0;
        int fd = -1, r;

        r = mc_manager_stats(s->mgr, &c->client, q->mmap_id, &st, e);
        if (r < 0)
                return r;
        free(st.ranges);
        r = mc_manager_fd(s->mgr, &c->client, q->mmap_id, &fd, &offset, e);
        if (r < 0)
                return r;
        r = mcd_conn_attach_fd(c, fd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        r = mcd_reply_fd(&c->out, q->mmap_id, offset, st.length,
                         st.shared && (st.prot & MC_PROT_WRITE));
        if (r < 0)
                mcd_conn_detach_fd(c);
        return r;
}

void mcd_handle_line(mcd_server *s, conn *c, const char *line, size_t len) {
        mcd_request q = MCD_REQUEST_INIT;
        mc_error e = MC_ERROR_INIT;
        const char *call = NULL;
        mc_mapping_stats st;
        uint64_t id, length;
        bool written = false;
        int r;

        r = mcd_request_parse(line, len, &q, &e);
        if (r < 0) {
                if (mcd_reply_error(&c->out, &e, NULL) < 0)
                        c->closing = true;
                goto audit;
        }
        call = mcd_call_name(q.call);
        switch (q.call) {
        case MCD_CALL_MMAP: {
                /* "length": 0 means to the end of the file, as in the original and the
                 * manager: the same as no length. */
                mc_manager_map_request mreq = {.path = q.path,
                                               .offset = q.offset,
                                               .length = q.has_length ? q.length : 0,
                                               .prot = q.prot,
                                               .shared = q.shared};

                r = mc_manager_mmap(s->mgr, &c->client, &mreq, &id, &length, &e);
                if (r >= 0)
                        r = mcd_reply_mmap(&c->out, id, length);
                break;
        }
        case MCD_CALL_MMAP_READ:
                r = do_read(s, c, &q, &e);
                break;
        case MCD_CALL_MMAP_WRITE:
                r = mc_manager_write(s->mgr, &c->client, q.mmap_id, q.offset, q.data, q.data_len,
                                     &e);
                if (r >= 0)
                        r = mcd_reply_success(&c->out);
                break;
        case MCD_CALL_MSYNC:
                r = mc_manager_msync_range(s->mgr, &c->client, q.mmap_id, q.offset,
                                           range_length(&q), &written, &e);
                if (r >= 0)
                        r = mcd_reply_msync(&c->out, written);
                break;
        case MCD_CALL_MUNMAP:
                r = mc_manager_munmap(s->mgr, &c->client, q.mmap_id, &e);
                if (r >= 0)
                        r = mcd_reply_success(&c->out);
                break;
        case MCD_CALL_MPROTECT:
                r = mc_manager_mprotect_range(s->mgr, &c->client, q.mmap_id, q.offset,
                                              range_length(&q), q.prot, &e);
                if (r >= 0)
                        r = mcd_reply_success(&c->out);
                break;
        case MCD_CALL_MADVISE:
                r = mc_manager_madvise(s->mgr, &c->client, q.mmap_id, q.offset, range_length(&q),
                                       q.advice, &e);
                if (r >= 0)
                        r = mcd_reply_success(&c->out);
                break;
        case MCD_CALL_MLOCK:
        case MCD_CALL_MUNLOCK:
                r = (q.call == MCD_CALL_MLOCK ? mc_manager_mlock : mc_manager_munlock)(
                        s->mgr, &c->client, q.mmap_id, q.offset, range_length(&q), &e);
                if (r >= 0)
                        r = mcd_reply_success(&c->out);
                break;
        case MCD_CALL_MMAP_STATS:
                r = mc_manager_stats(s->mgr, &c->client, q.mmap_id, &st, &e);
                if (r >= 0) {
                        mcd_stats out;
                        stats_of(&st, &out);
                        r = mcd_reply_stats(&c->out, &out);
                        free(st.ranges);
                }
                break;
        case MCD_CALL_MMAP_LIST:
                r = do_list(s, c, &q, &e);
                break;
        case MCD_CALL_MMAP_FD:
                r = do_fd(s, c, &q, &e);
                break;
        case MCD_CALL_HELLO:
                r = mcd_reply_hello(&c->out, c->client.caps, c->client.pid, c->client.uid);
                break;
        default:
                r = mc_error_set(&e, MC_ERR_INVALID_ARGUMENT, EINVAL, "unknown call");
                break;
        }
        if (r == -ENOMEM && e.kind == MC_OK) /* the reply itself could not be built */
                r = mc_error_set(&e, MC_ERR_OUT_OF_MEMORY, ENOMEM, "the daemon is out of memory");
        if (r < 0)
                reply_failure(c, &e, call);
audit:
        if (mcd_audit_enabled(s))
                audit_request(s, c, r < 0 && !call ? NULL : &q, call, r, &e, line, len);
        mcd_request_done(&q);
}
