/* SPDX-License-Identifier: MIT */
/*
 * The client of memcapd (<memcap/client.h>), its calls: checking a reply, one call from JSON
 * text, and the typed calls built on it. The transport is client.c.
 *
 * A reply is untrusted input: it is parsed strictly, a field of the wrong type or out of range
 * is Io (EPROTO) naming the call and the field, and the daemon's own text is escaped before it
 * goes into an mc_error, whose message a program may well print on a terminal.
 *
 * Sections: text from the daemon, replies, calls, typed calls.
 */

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "client-int.h"
#include "json-escape.h" /* UTF-8 decoding */
#include "macro.h"

#include <memcap/manager.h> /* mc_capability_from_name() */
#include <memcap/memory.h>  /* MC_PROT_* */

/* jansson has json_decrefp() for this. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* ---- text from the daemon -------------------------------------------------------------------- */

/* C0 controls, DEL and the C1 controls: what a terminal may act on. */
static bool is_control(uint32_t cp) {
        return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0);
}

char *mc__daemon_text(const char *s, size_t n, char *out, size_t size) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;

        if (size == 0)
                return out;
        for (size_t i = 0; i < n;) {
                uint32_t cp = 0;
                size_t len = utf8_decode(s + i, n - i, &cp);

                if (len > 0 && !is_control(cp)) {
                        if (o + len >= size)
                                break;
                        memcpy(out + o, s + i, len);
                        o += len;
                        i += len;
                        continue;
                }
                /* A control character or a byte that starts no valid sequence: one at a time. */
                if (len == 0)
                        len = 1;
                if (o + 4 * len >= size)
                        break;
                for (size_t k = 0; k < len; k++) {
                        unsigned char b = (unsigned char) s[i + k];

                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[b >> 4];
                        out[o++] = hex[b & 15];
                }
                i += len;
        }
        out[o] = 0;
        return out;
}

/* ---- replies --------------------------------------------------------------------------------- */

/* An errno for a kind when the reply carries none, so the return value is still -errno. */
static int kind_errno(mc_error_kind kind) {
        switch (kind) {
        case MC_ERR_PERMISSION_DENIED:
                return EACCES;
        case MC_ERR_OUT_OF_MEMORY:
                return ENOMEM;
        case MC_ERR_ALREADY_EXISTS:
                return EEXIST;
        case MC_ERR_NOT_FOUND:
                return ENOENT;
        case MC_ERR_UNSUPPORTED:
                return EOPNOTSUPP;
        case MC_ERR_POLICY_VIOLATION:
                return EPERM;
        case MC_ERR_TIMED_OUT:
                return ETIMEDOUT;
        case MC_ERR_IO:
                return EIO;
        default:
                return EINVAL;
        }
}

static int malformed(mc_error *err, const char *call, const char *what) {
        char safe[200];

        /* jansson's error text quotes the reply, which may hold anything. */
        mc__daemon_text(what, strlen(what), safe, sizeof(safe));
        return mc_error_set(err, MC_ERR_IO, EPROTO, "%s failed: malformed reply from memcapd: %s",
                            call, safe);
}

/* Fill @err with "<call> failed: <text>" unless @text already says so, @text escaped. */
static int fill_failure(mc_error *err, mc_error_kind kind, int errnum, bool have_errno,
                        const char *call, const char *text, size_t text_len) {
        char safe[sizeof(err->message)];
        size_t cl = strlen(call);
        int r;

        mc__daemon_text(text, text_len, safe, sizeof(safe));
        if (strncmp(safe, call, cl) == 0 && strncmp(safe + cl, " failed: ", 9) == 0)
                r = mc_error_set(err, kind, errnum, "%s", safe);
        else
                r = mc_error_set(err, kind, errnum, "%s failed: %s", call, safe);
        /* The return value needs an errno even when the daemon sent none; the error itself
         * says "none" (0), as mc_error documents, so the kind's stand-in is not mistaken for
         * the daemon's. */
        if (err && !have_errno)
                err->sys_errno = 0;
        return r;
}

/* mc_daemon_reply_check() of a parsed reply. */
static int reply_check(const json_t *reply, const char *call, mc_error *err) {
        const char *status, *kind_name;
        mc_error_kind kind;
        json_t *text, *v;

        if (!json_is_object(reply))
                return malformed(err, call, "not a JSON object");
        status = json_string_value(json_object_get(reply, "status"));
        if (!status)
                return malformed(err, call, "no \"status\"");
        if (streq(status, "success"))
                return 0;
        if (streq(status, "permission_denied")) {
                text = json_object_get(reply, "reason");
                if (!json_is_string(text))
                        return fill_failure(err, MC_ERR_PERMISSION_DENIED, EPERM, false, call,
                                            "permission denied (no reason given)",
                                            strlen("permission denied (no reason given)"));
                return fill_failure(err, MC_ERR_PERMISSION_DENIED, EPERM, false, call,
                                    json_string_value(text), json_string_length(text));
        }
        if (!streq(status, "error"))
                return malformed(err, call, "unknown \"status\"");

        kind_name = json_string_value(json_object_get(reply, "kind"));
        text = json_object_get(reply, "message");
        if (!json_is_string(text))
                text = NULL;
        if (!kind_name || mc_error_kind_from_name(kind_name, &kind) < 0 || kind == MC_OK) {
                /* The protocol says to treat kinds we do not know as errors; Io is the catch-all.
                 */
                char k[48], t[160];

                mc__daemon_text(kind_name ? kind_name : "none", kind_name ? strlen(kind_name) : 4,
                                k, sizeof(k));
                if (text)
                        mc__daemon_text(json_string_value(text), json_string_length(text), t,
                                        sizeof(t));
                else
                        strscpy(t, sizeof(t), "no message");
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "%s failed (unknown error kind '%s'): %s", call, k, t);
        }
        v = json_object_get(reply, "errno");
        if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 4096)
                return fill_failure(err, kind, (int) json_integer_value(v), true, call,
                                    text ? json_string_value(text) : "no message",
                                    text ? json_string_length(text) : strlen("no message"));
        return fill_failure(err, kind, kind_errno(kind), false, call,
                            text ? json_string_value(text) : "no message",
                            text ? json_string_length(text) : strlen("no message"));
}

int mc_daemon_reply_check(const char *reply, size_t len, const char *call, mc_error *err) {
        _cleanup_json_ json_t *j = NULL;
        json_error_t jerr;

        if (!reply || !call)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "mc_daemon_reply_check: no reply or no call");
        j = json_loadb(reply, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return malformed(err, call, jerr.text);
        return reply_check(j, call, err);
}

/* ---- calls ----------------------------------------------------------------------------------- */

/* Whether @call is a plain name ("MmapStats"), so the request is what the caller meant. */
static bool call_name_ok(const char *call) {
        if (!call || !*call || strlen(call) > 64)
                return false;
        for (const char *p = call; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                        return false;
        return true;
}

/*
 * The call with @args (taken in every case), the reply parsed and checked in *@ret_reply (may
 * be NULL), its descriptor in *@ret_fd (may be NULL: closed).
 */
static int call_json(mc_daemon *d, const char *call, json_t *args, json_t **ret_reply,
                     char **ret_text, int *ret_fd, mc_error *err) {
        _cleanup_json_ json_t *req = NULL, *reply = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        json_error_t jerr;
        const char *line;
        size_t len;
        int r;

        req = json_object();
        if (!req || !args) {
                json_decref(args);
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        }
        /* json_object_set_new() takes @args also when it fails. */
        if (json_object_set_new(req, call, args) < 0)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        text = json_dumps(req, JSON_COMPACT);
        if (!text)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        r = mc_daemon_send_line(d, text, strlen(text), err);
        if (r < 0)
                return r;
        r = mc_daemon_recv_line(d, &line, &len, &fd, err);
        if (r < 0)
                return r;
        reply = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!reply)
                return malformed(err, call, jerr.text);
        r = reply_check(reply, call, err);
        if (r < 0)
                return r;
        if (ret_text) {
                char *copy = strndup(line, len);

                if (!copy)
                        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
                *ret_text = copy;
        }
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return 0;
}

int mc_daemon_call(mc_daemon *d, const char *call, const char *args, char **ret_reply, int *ret_fd,
                   mc_error *err) {
        json_error_t jerr;
        json_t *a;

        if (!d || !call_name_ok(call))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "mc_daemon_call: no connection, or the call is not a name of "
                                    "letters");
        if (args) {
                a = json_loads(args, JSON_REJECT_DUPLICATES, &jerr);
                if (!a)
                        return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                            "%s: the arguments are not JSON: %s (line %d, column "
                                            "%d)",
                                            call, jerr.text, jerr.line, jerr.column);
                if (!json_is_object(a)) {
                        json_decref(a);
                        return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                            "%s: the arguments must be a JSON object", call);
                }
        } else
                a = json_object();
        return call_json(d, call, a, NULL, ret_reply, ret_fd, err);
}

/* ---- typed calls ----------------------------------------------------------------------------- */

/* Member @key of @obj as an unsigned integer up to @max; Io naming @call and @key otherwise. */
static int reply_uint(const json_t *obj, const char *call, const char *key, uint64_t max,
                      uint64_t *ret, mc_error *err) {
        json_t *v = json_object_get(obj, key);
        char what[96];

        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t) json_integer_value(v) > max) {
                snprintf(what, sizeof(what), "\"%s\" is not an integer from 0 to %" PRIu64, key,
                         max);
                return malformed(err, call, what);
        }
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

/* Member @key of @obj as a string that fits @size bytes, copied; Io otherwise. */
static int reply_name(const json_t *obj, const char *call, const char *key, char *out, size_t size,
                      mc_error *err) {
        json_t *v = json_object_get(obj, key);
        char what[64];

        if (!json_is_string(v) || json_string_length(v) >= size ||
            strlen(json_string_value(v)) != json_string_length(v)) {
                snprintf(what, sizeof(what), "\"%s\" is not a string of at most %zu bytes", key,
                         size - 1);
                return malformed(err, call, what);
        }
        mc__daemon_text(json_string_value(v), json_string_length(v), out, size);
        return 0;
}

int mc_daemon_hello(mc_daemon *d, mc_daemon_info *ret, mc_error *err) {
        _cleanup_json_ json_t *reply = NULL;
        mc_daemon_info info = {0};
        uint64_t protocol, pid, uid;
        json_t *data, *caps, *v;
        size_t i;
        int r;

        if (!d || !ret)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "mc_daemon_hello: no connection or no place for the answer");
        r = call_json(d, "Hello", json_object(), &reply, NULL, NULL, err);
        if (r < 0)
                return r;
        data = json_object_get(reply, "data");
        if (!json_is_object(data))
                return malformed(err, "Hello", "no \"data\" object");
        r = reply_name(data, "Hello", "daemon", info.daemon, sizeof(info.daemon), err);
        if (r == 0)
                r = reply_name(data, "Hello", "version", info.version, sizeof(info.version), err);
        if (r == 0)
                r = reply_uint(data, "Hello", "protocol", UINT32_MAX, &protocol, err);
        if (r == 0)
                r = reply_uint(data, "Hello", "pid", INT32_MAX, &pid, err);
        if (r == 0)
                r = reply_uint(data, "Hello", "uid", UINT32_MAX, &uid, err);
        if (r < 0)
                return r;
        caps = json_object_get(data, "capabilities");
        if (!json_is_array(caps))
                return malformed(err, "Hello", "\"capabilities\" is not an array");
        json_array_foreach(caps, i, v) {
                unsigned cap;

                if (!json_is_string(v) || mc_capability_from_name(json_string_value(v), &cap) < 0)
                        return malformed(err, "Hello", "a capability this client does not know");
                info.capabilities |= cap;
        }
        info.protocol = (unsigned) protocol;
        info.pid = (pid_t) pid;
        info.uid = (uid_t) uid;
        *ret = info;
        return 0;
}

int mc_daemon_mmap(mc_daemon *d, const char *path, uint64_t offset, uint64_t length, unsigned prot,
                   unsigned flags, uint64_t *ret_id, uint64_t *ret_length, mc_error *err) {
        _cleanup_json_ json_t *reply = NULL;
        uint64_t id, len;
        json_t *args;
        int r;

        if (!d || !ret_id || offset > INT64_MAX || length > INT64_MAX || prot > 7 ||
            (flags & ~(unsigned) MC_DAEMON_MAP_SHARED))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "Mmap: no connection, an offset or length above 2^63 - 1, a "
                                    "protection above 7 or an unknown flag");
        args = json_pack("{s:I, s:I, s:i, s:b}", "offset", (json_int_t) offset, "length",
                         (json_int_t) length, "prot", (int) prot, "shared",
                         (flags & MC_DAEMON_MAP_SHARED) != 0);
        if (args && path && json_object_set_new(args, "path", json_string(path)) < 0) {
                json_decref(args);
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "Mmap: the path is not UTF-8 text");
        }
        r = call_json(d, "Mmap", args, &reply, NULL, NULL, err);
        if (r < 0)
                return r;
        r = reply_uint(reply, "Mmap", "mmap_id", INT64_MAX, &id, err);
        if (r == 0)
                r = reply_uint(reply, "Mmap", "length", INT64_MAX, &len, err);
        if (r < 0)
                return r;
        *ret_id = id;
        if (ret_length)
                *ret_length = len;
        return 0;
}

int mc_daemon_read(mc_daemon *d, uint64_t id, uint64_t offset, void *buf, size_t len,
                   mc_error *err) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ void *tmp = NULL;
        const char *text;
        size_t n, got;
        json_t *data;
        int r;

        if (!d || (!buf && len > 0) || id == 0 || id > INT64_MAX || offset > INT64_MAX ||
            len > INT64_MAX)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "MmapRead: no connection or buffer, or an id, offset or "
                                    "length out of range");
        r = call_json(d, "MmapRead",
                      json_pack("{s:I, s:I, s:I, s:s}", "mmap_id", (json_int_t) id, "offset",
                                (json_int_t) offset, "length", (json_int_t) len, "encoding",
                                "base64"),
                      &reply, NULL, NULL, err);
        if (r < 0)
                return r;
        data = json_object_get(reply, "data");
        if (!json_is_string(data))
                return malformed(err, "MmapRead", "\"data\" is not a base64 string");
        text = json_string_value(data);
        n = json_string_length(data);
        /* Decoded into a buffer of its own: @buf stays untouched unless it all fits. */
        tmp = malloc(base64_decoded_max(n) + 1);
        if (!tmp)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        if (base64_decode_to(text, n, tmp, &got, NULL) < 0)
                return malformed(err, "MmapRead", "\"data\" is not valid base64");
        if (got != len)
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "MmapRead failed: malformed reply from memcapd: %zu bytes "
                                    "for a read of %zu",
                                    got, len);
        if (len > 0)
                memcpy(buf, tmp, len);
        return 0;
}

int mc_daemon_write(mc_daemon *d, uint64_t id, uint64_t offset, const void *buf, size_t len,
                    mc_error *err) {
        _cleanup_free_ char *text = NULL;
        json_t *args;

        if (!d || (!buf && len > 0) || id == 0 || id > INT64_MAX || offset > INT64_MAX)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "MmapWrite: no connection or buffer, or an id or offset out "
                                    "of range");
        text = base64_encode(buf, len);
        if (!text)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        args = json_pack("{s:I, s:I, s:s, s:s}", "mmap_id", (json_int_t) id, "offset",
                         (json_int_t) offset, "data", text, "encoding", "base64");
        return call_json(d, "MmapWrite", args, NULL, NULL, NULL, err);
}

static json_t *id_args(uint64_t id) {
        return json_pack("{s:I}", "mmap_id", (json_int_t) id);
}

static int check_id(const mc_daemon *d, uint64_t id, const char *call, mc_error *err) {
        if (!d || id == 0 || id > INT64_MAX)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "%s: no connection, or mapping id %" PRIu64
                                    " is not from 1 to 2^63 - 1",
                                    call, id);
        return 0;
}

int mc_daemon_msync(mc_daemon *d, uint64_t id, bool *ret_written, mc_error *err) {
        _cleanup_json_ json_t *reply = NULL;
        json_t *w;
        int r;

        r = check_id(d, id, "Msync", err);
        if (r < 0)
                return r;
        r = call_json(d, "Msync", id_args(id), &reply, NULL, NULL, err);
        if (r < 0)
                return r;
        w = json_object_get(reply, "written");
        if (!json_is_boolean(w))
                return malformed(err, "Msync", "\"written\" is not true or false");
        if (ret_written)
                *ret_written = json_is_true(w);
        return 0;
}

int mc_daemon_munmap(mc_daemon *d, uint64_t id, mc_error *err) {
        int r = check_id(d, id, "Munmap", err);

        return r < 0 ? r : call_json(d, "Munmap", id_args(id), NULL, NULL, NULL, err);
}

int mc_daemon_mmap_fd(mc_daemon *d, uint64_t id, int *ret_fd, mc_error *err) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = check_id(d, id, "MmapFd", err);
        if (r < 0)
                return r;
        if (!ret_fd)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "MmapFd: no place for the descriptor");
        r = call_json(d, "MmapFd", id_args(id), NULL, NULL, &fd, err);
        if (r < 0)
                return r;
        if (fd < 0)
                return mc_error_set(err, MC_ERR_IO, EPROTO,
                                    "MmapFd failed: malformed reply from memcapd: no file "
                                    "descriptor came with it");
        *ret_fd = TAKE_FD(fd);
        return 0;
}
