/* SPDX-License-Identifier: MIT */
/*
 * memcapd's configuration: embedded defaults and the strict JSON file that overlays them (see
 * config.h). Every field is checked; an unknown field is an error so a typo never silently
 * falls back to a default.
 */

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "protocol.h"
#include "error-util.h"
#include "json-locate.h"
#include "macro.h"
#include "settings.h"

/* The largest configuration file read: real ones are a few hundred bytes. */
#define CONFIG_MAX (1024 * 1024)

/* The file being read: its name, and its text so that errors can say where. */
typedef struct cfg_file {
        const char *path;
        const char *text;
        size_t len;
} cfg_file;

int mcd_config_set(char **field, const char *value) {
        char *copy = NULL;

        if (value && !(copy = strdup(value)))
                return -ENOMEM;
        free(*field);
        *field = copy;
        return 0;
}

int mcd_config_defaults(mcd_config *c, mc_error *err) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        char buf[4096];
        int r = 0;

        memset(c, 0, sizeof(*c));
        c->socket_mode = 0666;
        c->max_mappings = 1024;
        c->max_bytes = UINT64_C(1) << 30;
        c->max_line = 4 << 20;
        c->max_output = 1 << 20;
        c->max_read = 1 << 20;
        c->max_buffer_per_uid = 32 << 20;
        c->max_buffer_total = 256 << 20;
        c->request_timeout_ms = 30 * 1000;
        c->send_timeout_ms = 30 * 1000;
        c->audit_rate_interval_ms = 10 * 1000;
        c->audit_rate_burst = 200;
        c->max_connections = 1024;
        c->max_connections_per_uid = 128;
        c->caps = calloc(1, sizeof(*c->caps));
        if (!c->caps)
                return mc_error_errno(err, ENOMEM, "config: allocating");
        c->caps[0] = (mcd_uid_caps){getuid(), MC_CAP_ALL};
        c->n_caps = 1;
        if (getuid() != 0 && xdg && *xdg == '/') {
                snprintf(buf, sizeof(buf), "%s/memcap/memcapd.sock", xdg);
                r = mcd_config_set(&c->socket_path, buf);
                snprintf(buf, sizeof(buf), "%s/memcap/root", xdg);
                r = r < 0 ? r : mcd_config_set(&c->root, buf);
        } else {
                r = mcd_config_set(&c->socket_path, "/run/memcap/memcapd.sock");
                r = r < 0 ? r : mcd_config_set(&c->root, "/var/lib/memcap/root");
        }
        if (r < 0)
                return mc_error_errno(err, ENOMEM, "config: allocating");
        return 0;
}

void mcd_config_done(mcd_config *c) {
        free(c->socket_path);
        free(c->root);
        free(c->policy_path);
        free(c->audit_path);
        free(c->log_path);
        free(c->caps);
        memset(c, 0, sizeof(*c));
}

unsigned mcd_config_caps(const mcd_config *c, uid_t uid) {
        for (size_t i = 0; i < c->n_caps; i++)
                if (c->caps[i].uid == uid)
                        return c->caps[i].caps;
        return c->default_caps;
}

/*
 * A value that parsed but is wrong: "config 'FILE':LINE:COLUMN: "key" what", the position that of
 * the value of @key (of member @sub of @key, when not NULL), so that an editor can jump there.
 */
static int bad_in(mc_error *err, const cfg_file *f, const char *key, const char *sub,
                  const char *what) {
        const char *keys[] = {key, sub};
        int line, column;

        if (json_locate(f->text, f->len, keys, sub ? 2 : 1, &line, &column))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "config '%s':%d:%d: \"%s\" %s", f->path, line, column, key,
                                    what);
        return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "config '%s': \"%s\" %s", f->path,
                            key, what);
}

static int bad(mc_error *err, const cfg_file *f, const char *key, const char *what) {
        return bad_in(err, f, key, NULL, what);
}

static int get_size(const cfg_file *f, const char *key, json_t *v, uint64_t *ret, mc_error *err) {
        uint64_t n;

        if (json_is_integer(v) && json_integer_value(v) > 0) {
                *ret = (uint64_t) json_integer_value(v);
                return 0;
        }
        if (json_is_string(v) && mc_parse_size(json_string_value(v), &n) == 0 && n > 0) {
                *ret = n;
                return 0;
        }
        return bad(err, f, key, "must be a positive integer or a size such as \"4MiB\"");
}

static int get_count(const cfg_file *f, const char *key, json_t *v, uint64_t *ret, mc_error *err) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
            json_integer_value(v) > (json_int_t) UINT32_MAX)
                return bad(err, f, key, "must be an integer from 1 to 4294967295");
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

/* The longest timeout or interval: a day, so that every deadline fits in a millisecond clock. */
#define DURATION_MAX_MS (UINT64_C(24) * 3600 * 1000)

/* "500ms", "30s", "5min": digits and a unit; 0, -EINVAL or -ERANGE. */
static int parse_duration(const char *text, uint64_t *ret_ms) {
        static const struct {
                const char *name;
                uint64_t ms;
        } units[] = {{"ms", 1}, {"s", 1000}, {"min", 60 * 1000}};
        uint64_t v = 0;
        const char *p = text;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++)
                if (MC_MUL_OVERFLOW(v, 10, &v) || MC_ADD_OVERFLOW(v, (uint64_t) (*p - '0'), &v))
                        return -ERANGE;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(p, units[i].name)) {
                        if (MC_MUL_OVERFLOW(v, units[i].ms, &v))
                                return -ERANGE;
                        *ret_ms = v;
                        return 0;
                }
        return -EINVAL;
}

static int get_duration(const cfg_file *f, const char *key, json_t *v, uint64_t *ret_ms,
                        mc_error *err) {
        uint64_t ms = 0;

        if (json_is_integer(v) && json_integer_value(v) > 0 &&
            (uint64_t) json_integer_value(v) <= DURATION_MAX_MS / 1000)
                ms = (uint64_t) json_integer_value(v) * 1000;
        else if (json_is_string(v) && parse_duration(json_string_value(v), &ms) < 0)
                ms = 0;
        if (ms == 0 || ms > DURATION_MAX_MS)
                return bad(err, f, key,
                           "must be a duration from 1 ms to a day: seconds as an integer, or a "
                           "string such as \"500ms\", \"30s\" or \"5min\"");
        *ret_ms = ms;
        return 0;
}

static int get_string(const cfg_file *f, const char *key, json_t *v, char **field, mc_error *err) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            strlen(json_string_value(v)) != json_string_length(v))
                return bad(err, f, key, "must be a non-empty string without NUL bytes");
        if (mcd_config_set(field, json_string_value(v)) < 0)
                return mc_error_errno(err, ENOMEM, "config: allocating");
        return 0;
}

static int get_caps(const cfg_file *f, json_t *obj, mcd_config *c, mc_error *err) {
        const char *k;
        json_t *v;

        if (!json_is_object(obj))
                return bad(err, f, "capabilities", "must be an object of uid -> [names]");
        free(c->caps);
        c->caps = NULL;
        c->n_caps = 0;
        c->default_caps = 0;
        json_object_foreach(obj, k, v) {
                mcd_uid_caps *grown;
                unsigned caps = 0;
                size_t i;
                json_t *name;
                uint64_t uid = 0;

                if (!json_is_array(v))
                        return bad_in(err, f, "capabilities", k, "values must be arrays of names");
                json_array_foreach(v, i, name) {
                        unsigned one;
                        if (!json_is_string(name) ||
                            mc_capability_from_name(json_string_value(name), &one) < 0)
                                return bad_in(err, f, "capabilities", k,
                                              "lists FileRead, FileWrite, SystemInfo, FdPass, "
                                              "MemLock and Channel only");
                        caps |= one;
                }
                if (streq(k, "*")) {
                        c->default_caps = caps;
                        continue;
                }
                if (args_parse_uint(k, UINT32_MAX - 1, &uid) < 0)
                        return bad_in(err, f, "capabilities", k, "keys must be uids or \"*\"");
                grown = realloc(c->caps, (c->n_caps + 1) * sizeof(*c->caps));
                if (!grown)
                        return mc_error_errno(err, ENOMEM, "config: allocating");
                c->caps = grown;
                c->caps[c->n_caps++] = (mcd_uid_caps){(uid_t) uid, caps};
        }
        return 0;
}

/* The whole file, NUL-terminated, in a malloc'd buffer; at most CONFIG_MAX bytes. */
static int read_text(const char *path, char **ret, size_t *ret_len, mc_error *err) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        ssize_t n;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return mc_error_errno(err, errno, "config '%s'", path);
        buf = malloc(CONFIG_MAX + 1);
        if (!buf)
                return mc_error_errno(err, ENOMEM, "config: allocating");
        while ((n = read(fd, buf + len, CONFIG_MAX + 1 - len)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return mc_error_errno(err, errno, "config '%s'", path);
                }
                len += (size_t) n;
                if (len > CONFIG_MAX)
                        return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EFBIG,
                                            "config '%s': larger than %d bytes", path, CONFIG_MAX);
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int mcd_config_load(const char *path, mcd_config *c, mc_error *err) {
        _cleanup_free_ char *text = NULL;
        json_error_t jerr;
        json_t *root, *v;
        const char *k;
        size_t len = 0;
        cfg_file f;
        int r = 0;

        r = read_text(path, &text, &len, err);
        if (r < 0)
                return r;
        f = (cfg_file){path, text, len};
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "config '%s':%d:%d: %s",
                                    path, jerr.line, jerr.column, jerr.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "config '%s': the top level must be an object", path);
        }
        json_object_foreach(root, k, v) {
                if (streq(k, "socket"))
                        r = get_string(&f, k, v, &c->socket_path, err);
                else if (streq(k, "root"))
                        r = get_string(&f, k, v, &c->root, err);
                else if (streq(k, "policy"))
                        r = get_string(&f, k, v, &c->policy_path, err);
                else if (streq(k, "audit"))
                        r = get_string(&f, k, v, &c->audit_path, err);
                else if (streq(k, "log"))
                        r = get_string(&f, k, v, &c->log_path, err);
                else if (streq(k, "audit_journal")) {
                        if (!json_is_boolean(v))
                                r = bad(err, &f, k, "must be true or false");
                        else
                                c->audit_journal = json_is_true(v);
                } else if (streq(k, "socket_mode")) {
                        if (!json_is_string(v) ||
                            args_parse_mode(json_string_value(v), &c->socket_mode) < 0)
                                r = bad(err, &f, k, "must be an octal string such as \"0660\"");
                } else if (streq(k, "allow_symlinks")) {
                        if (!json_is_boolean(v))
                                r = bad(err, &f, k, "must be true or false");
                        else
                                c->allow_symlinks = json_is_true(v);
                } else if (streq(k, "max_mappings_per_client"))
                        r = get_size(&f, k, v, &c->max_mappings, err);
                else if (streq(k, "max_bytes_per_client"))
                        r = get_size(&f, k, v, &c->max_bytes, err);
                else if (streq(k, "max_line"))
                        r = get_size(&f, k, v, &c->max_line, err);
                else if (streq(k, "max_output"))
                        r = get_size(&f, k, v, &c->max_output, err);
                else if (streq(k, "max_read"))
                        r = get_size(&f, k, v, &c->max_read, err);
                else if (streq(k, "max_buffer_per_uid"))
                        r = get_size(&f, k, v, &c->max_buffer_per_uid, err);
                else if (streq(k, "max_buffer_total"))
                        r = get_size(&f, k, v, &c->max_buffer_total, err);
                else if (streq(k, "request_timeout"))
                        r = get_duration(&f, k, v, &c->request_timeout_ms, err);
                else if (streq(k, "send_timeout"))
                        r = get_duration(&f, k, v, &c->send_timeout_ms, err);
                else if (streq(k, "audit_rate_interval"))
                        r = get_duration(&f, k, v, &c->audit_rate_interval_ms, err);
                else if (streq(k, "audit_rate_burst"))
                        r = get_count(&f, k, v, &c->audit_rate_burst, err);
                else if (streq(k, "max_connections"))
                        r = get_size(&f, k, v, &c->max_connections, err);
                else if (streq(k, "max_connections_per_uid"))
                        r = get_size(&f, k, v, &c->max_connections_per_uid, err);
                else if (streq(k, "capabilities"))
                        r = get_caps(&f, v, c, err);
                else
                        r = bad(err, &f, k, "is not a configuration field");
                if (r < 0)
                        break;
        }
        json_decref(root);
        return r;
}
