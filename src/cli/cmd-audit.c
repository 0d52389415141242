/* SPDX-License-Identifier: MIT */
/*
 * memcap audit FILE [filters] [--json] [--follow]: read a JSON-lines audit log (the format at
 * the top of <memcap/audit.h>), keep the records that match every filter (operation, outcome,
 * capability, pid, kind, a time window), and print one line per record for people or a JSON
 * array for programs. --follow keeps reading as the log grows, as tail -F does, also across a
 * rotation that renames the file and starts a new one.
 *
 * A log is evidence and may have been tampered with or cut short, so every line is treated as
 * hostile: lines are bounded in length, anything that is not a JSON object is reported with
 * its line number and skipped (and the exit status says so at the end), fields of the wrong
 * type read as absent, and every string is escaped before it reaches the terminal.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Longest line taken; longer lines are skipped as bad. Real records are a few KiB at most. */
#define AUDIT_LINE_MAX (1024 * 1024)

/* How long --follow sleeps at the end of the log before it looks again. */
#define FOLLOW_INTERVAL_MS 100

typedef struct audit_filter {
        const char *op;
        const char *outcome;
        const char *capability;
        const char *kind;
        pid_t pid;        /* 0: any */
        int64_t since_ns; /* records at or after, CLOCK_REALTIME ns; INT64_MIN: any */
        int64_t until_ns; /* records before; INT64_MAX: any */
} audit_filter;

static void help(void) {
        fputs("Usage: memcap audit FILE [--op NAME] [--outcome ok|denied|error]\n"
              "                         [--capability CAP] [--pid N] [--kind KIND]\n"
              "                         [--since TIME] [--until TIME] [--follow] [--json]\n"
              "\n"
              "Read a JSON-lines audit log written by libmemcap ('-' reads standard input) and\n"
              "print the records matching every filter, one line each: local time, pid,\n"
              "capability, operation, outcome, then the file or name, length, address and, for\n"
              "failures, \"Kind: message\".\n"
              "\n"
              "Options:\n"
              "  --op NAME          operation, e.g. mmap, shm_open, signal_send\n"
              "  --outcome OUTCOME  ok, denied (refused by the policy) or error\n"
              "  --capability CAP   core.memory or core.signal\n"
              "  --pid N            records of process N\n"
              "  --kind KIND        error kind, e.g. PolicyViolation, NotFound (Ok: successes)\n"
              "  --since TIME       records at or after TIME\n"
              "  --until TIME       records before TIME\n"
              "  -f, --follow       at the end of FILE, wait for more records and print them as\n"
              "                     they come, following FILE across a rotation (tail -F);\n"
              "                     stop with Ctrl-C\n"
              "  --json             print the matching records as one JSON array (with\n"
              "                     --follow: one JSON object per line)\n"
              "  -h, --help         show this help\n"
              "\n"
              "TIME is RFC 3339 (2026-11-22T01:46:55Z, or with an offset), local time\n"
              "(\"2026-11-22 02:46\", \"2026-11-22\"), \"now\", or a time ago: \"-10min\",\n"
              "\"2h ago\" (units s, min, h, d). A record whose time cannot be read does not\n"
              "match a time filter.\n"
              "\n"
              "Lines that are not JSON objects are reported on standard error with their line\n"
              "number and skipped; the exit status is then 21 (Io).\n",
              stdout);
}

/*
 * Read one line into *@buf (without the newline, NUL-terminated), after the *@len bytes a
 * previous call left there. Returns 1 for a line, 0 at the end, -errno on a read error. At the
 * end, a last line without its newline is returned as a line unless @partial_wait: then it
 * stays in *@buf, its length in *@len, for the next call to finish (the writer has not yet
 * written all of it). A line longer than AUDIT_LINE_MAX is consumed whole and reported through
 * *@too_long, with only its start kept.
 */
static int read_line(FILE *f, char **buf, size_t *cap, size_t *len_io, bool *too_long,
                     bool partial_wait) {
        size_t len = *len_io;
        bool any = len > 0, newline = false;
        int c;

        if (len == 0)
                *too_long = false;
        errno = 0;
        while ((c = getc_unlocked(f)) != EOF) {
                any = true;
                if (c == '\n') {
                        newline = true;
                        break;
                }
                if (len >= AUDIT_LINE_MAX) {
                        *too_long = true;
                        continue;
                }
                if (len + 1 >= *cap) {
                        size_t ncap = *cap ? *cap * 2 : 4096;
                        char *nb = realloc(*buf, ncap);
                        if (!nb)
                                return -ENOMEM;
                        *buf = nb;
                        *cap = ncap;
                }
                (*buf)[len++] = (char) c;
        }
        if (ferror(f))
                return errno ? -errno : -EIO;
        if (!any)
                return 0;
        if (!newline && partial_wait) {
                *len_io = len;
                return 0;
        }
        if (!*buf) {
                *buf = malloc(1);
                if (!*buf)
                        return -ENOMEM;
                *cap = 1;
        }
        (*buf)[len] = 0;
        *len_io = len;
        return 1;
}

/* A string member of @obj, or NULL when absent or not a string. */
static const char *get_str(const json_t *obj, const char *key) {
        return json_string_value(json_object_get(obj, key));
}

static const json_t *get_obj(const json_t *obj, const char *key) {
        const json_t *v = json_object_get(obj, key);
        return json_is_object(v) ? v : NULL;
}

/* The record's error kind name, "Ok" for a record without an error. */
static const char *record_kind(const json_t *rec) {
        const json_t *e = get_obj(rec, "error");
        const char *k = e ? get_str(e, "kind") : NULL;

        if (k)
                return k;
        return e ? NULL : "Ok";
}

static bool str_matches(const char *want, const char *have) {
        return !want || (have && streq(want, have));
}

static int parse_time_ns(const char *text, int64_t *ret);

static bool record_matches(const json_t *rec, const audit_filter *flt) {
        if (!str_matches(flt->op, get_str(rec, "operation")) ||
            !str_matches(flt->outcome, get_str(rec, "outcome")) ||
            !str_matches(flt->capability, get_str(rec, "capability")) ||
            !str_matches(flt->kind, record_kind(rec)))
                return false;
        if (flt->pid > 0) {
                const json_t *p = json_object_get(rec, "pid");
                if (!json_is_integer(p) || json_integer_value(p) != flt->pid)
                        return false;
        }
        if (flt->since_ns != INT64_MIN || flt->until_ns != INT64_MAX) {
                const char *t = get_str(rec, "time");
                int64_t ns;

                if (!t || parse_time_ns(t, &ns) < 0 || ns < flt->since_ns || ns >= flt->until_ns)
                        return false;
        }
        return true;
}

static int parse_digits(const char **p, size_t n, int *ret) {
        int v = 0;

        for (size_t i = 0; i < n; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return -EINVAL;
                v = v * 10 + (c - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

/*
 * "2026-11-22T01:46:55.123456Z" (or with a numeric offset): the time in *@ret_t and the
 * fraction's digits in @frac (up to 9, NUL-terminated). Returns -EINVAL for anything else.
 */
static int parse_rfc3339(const char *text, time_t *ret_t, char frac[static 10]) {
        const char *p = text;
        int year, mon, day, hour, min, sec, off = 0;
        size_t nfrac = 0;
        struct tm tm = {};
        time_t t;

        if (parse_digits(&p, 4, &year) < 0 || *p++ != '-' || parse_digits(&p, 2, &mon) < 0 ||
            *p++ != '-' || parse_digits(&p, 2, &day) < 0 || (*p != 'T' && *p != 't'))
                return -EINVAL;
        p++;
        if (parse_digits(&p, 2, &hour) < 0 || *p++ != ':' || parse_digits(&p, 2, &min) < 0 ||
            *p++ != ':' || parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (*p == '.') {
                p++;
                while (*p >= '0' && *p <= '9') {
                        if (nfrac >= 9)
                                return -EINVAL;
                        frac[nfrac++] = *p++;
                }
                if (nfrac == 0)
                        return -EINVAL;
        }
        frac[nfrac] = 0;
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p++ == '-' ? -1 : 1, oh, om;
                if (parse_digits(&p, 2, &oh) < 0 || *p++ != ':' || parse_digits(&p, 2, &om) < 0 ||
                    oh > 23 || om > 59)
                        return -EINVAL;
                off = sign * (oh * 3600 + om * 60);
        } else
                return -EINVAL;
        if (*p != 0 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
            sec > 60)
                return -EINVAL;

        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret_t = t - off;
        return 0;
}

/* An RFC 3339 time as nanoseconds since the epoch. */
static int parse_time_ns(const char *text, int64_t *ret) {
        char frac[10];
        int64_t ns = 0;
        size_t nf;
        time_t t;

        if (parse_rfc3339(text, &t, frac) < 0)
                return -EINVAL;
        nf = strlen(frac);
        for (size_t i = 0; i < 9; i++)
                ns = ns * 10 + (i < nf ? frac[i] - '0' : 0);
        if (MC_MUL_OVERFLOW((int64_t) t, (int64_t) 1000000000, ret) ||
            MC_ADD_OVERFLOW(*ret, ns, ret))
                return -ERANGE;
        return 0;
}

/* An RFC 3339 time as local time, "2026-11-22 02:46:55.123456". Returns -EINVAL otherwise. */
static int format_time(const char *text, char *buf, size_t size) {
        char frac[10], base[40];
        struct tm local;
        time_t t;

        if (parse_rfc3339(text, &t, frac) < 0)
                return -EINVAL;
        if (!localtime_r(&t, &local) ||
            strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &local) == 0)
                return -EINVAL;
        if (frac[0])
                snprintf(buf, size, "%s.%s", base, frac);
        else
                snprintf(buf, size, "%s", base);
        return 0;
}

/*
 * A time for --since and --until, as nanoseconds since the epoch: RFC 3339, local
 * "YYYY-MM-DD[ HH:MM[:SS]]", "now", or a time ago, "-10min" or "10min ago". -EINVAL otherwise.
 */
static int parse_time_arg(const char *text, int64_t *ret) {
        static const struct {
                const char *unit;
                int64_t sec;
        } units[] = {{"s", 1}, {"sec", 1}, {"min", 60}, {"h", 3600}, {"d", 86400}};
        struct timespec now;
        struct tm tm = {};
        const char *p = text, *end;
        uint64_t n = 0;
        time_t t;

        clock_gettime(CLOCK_REALTIME, &now);
        if (streq(text, "now")) {
                *ret = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
                return 0;
        }
        if (parse_time_ns(text, ret) == 0)
                return 0;
        /* A time ago: "-N<unit>" or "N<unit> ago". */
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
                bool minus = *p == '-';
                size_t len;

                if (minus)
                        p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++)
                        if (MC_MUL_OVERFLOW(n, 10, &n) ||
                            MC_ADD_OVERFLOW(n, (uint64_t) (*p - '0'), &n))
                                return -ERANGE;
                len = strcspn(p, " ");
                end = p + len;
                if (minus ? *end != 0 : !streq(end, " ago"))
                        goto absolute;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strlen(units[i].unit) == len && strncmp(p, units[i].unit, len) == 0) {
                                if (n > (uint64_t) (INT64_MAX / 1000000000 / units[i].sec))
                                        return -ERANGE;
                                *ret = (int64_t) now.tv_sec * 1000000000 + now.tv_nsec -
                                       (int64_t) n * units[i].sec * 1000000000;
                                return 0;
                        }
                goto absolute;
        }
absolute:
        /* Local time: the date, and optionally the time of day. */
        end = strptime(text, "%Y-%m-%d", &tm);
        if (end && *end == ' ')
                end = strptime(end + 1, "%H:%M", &tm);
        if (end && *end == ':')
                end = strptime(end + 1, "%S", &tm);
        if (!end || *end != 0)
                return -EINVAL;
        tm.tm_isdst = -1;
        t = mktime(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret = (int64_t) t * 1000000000;
        return 0;
}

/* Append " key=value" for a string or integer member; other types are left out. */
static void summary_field(FILE *s, const char *label, const json_t *v) {
        if (json_is_string(v)) {
                _cleanup_free_ char *safe = str_escape(json_string_value(v), json_string_length(v));
                fprintf(s, " %s=%s", label, safe ? safe : "?");
        } else if (json_is_integer(v))
                fprintf(s, " %s=%" JSON_INTEGER_FORMAT, label, json_integer_value(v));
}

static int print_record(const json_t *rec) {
        const json_t *req = get_obj(rec, "request"), *res = get_obj(rec, "result");
        const json_t *error = get_obj(rec, "error");
        const json_t *pid = json_object_get(rec, "pid");
        const char *time = get_str(rec, "time");
        _cleanup_free_ char *time_safe = NULL, *cap = NULL, *op = NULL, *outcome = NULL;
        _cleanup_free_ char *summary = NULL;
        char when[64], pidbuf[24];
        size_t summary_len = 0;
        FILE *s;

        if (!time || format_time(time, when, sizeof(when)) < 0) {
                time_safe = str_escape_cstr(time ? time : "?");
                if (!time_safe)
                        return -ENOMEM;
                snprintf(when, sizeof(when), "%s", time_safe);
        }
        if (json_is_integer(pid))
                snprintf(pidbuf, sizeof(pidbuf), "%" JSON_INTEGER_FORMAT, json_integer_value(pid));
        else
                snprintf(pidbuf, sizeof(pidbuf), "?");
        cap = str_escape_cstr(get_str(rec, "capability") ?: "?");
        op = str_escape_cstr(get_str(rec, "operation") ?: "?");
        outcome = str_escape_cstr(get_str(rec, "outcome") ?: "?");
        if (!cap || !op || !outcome)
                return -ENOMEM;

        s = open_memstream(&summary, &summary_len);
        if (!s)
                return -ENOMEM;
        if (req) {
                summary_field(s, "file", json_object_get(req, "file"));
                summary_field(s, "name", json_object_get(req, "name"));
                summary_field(s, "signal", json_object_get(req, "signal"));
                summary_field(s, "target", json_object_get(req, "target_pid"));
        }
        if (res && json_object_get(res, "length"))
                summary_field(s, "length", json_object_get(res, "length"));
        else if (req)
                summary_field(s, "length", json_object_get(req, "length"));
        if (res)
                summary_field(s, "address", json_object_get(res, "address"));
        if (error) {
                const json_t *msg = json_object_get(error, "message");
                _cleanup_free_ char *kind = str_escape_cstr(get_str(error, "kind") ?: "?");
                _cleanup_free_ char *text =
                        json_is_string(msg)
                                ? str_escape(json_string_value(msg), json_string_length(msg))
                                : strdup("");
                fprintf(s, " %s: %s", kind ? kind : "?", text ? text : "?");
        }
        if (fclose(s) != 0)
                return -ENOMEM;

        /* No padding after the last column: lines without a summary end in the outcome. */
        if (printf("%-26s %7s %-11s %-14s %-*s%s\n", when, pidbuf, cap, op, summary_len > 0 ? 6 : 0,
                   outcome, summary ? summary : "") < 0)
                return -EIO;
        return 0;
}

static int open_input(const char *path, FILE **ret, mc_error *err) {
        FILE *f;
        int fd;

        if (streq(path, "-")) {
                *ret = stdin;
                return 0;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return mc_error_errno(err, errno, "open audit log '%s'", path);
        f = fdopen(fd, "r");
        if (!f) {
                int e = errno;
                close(fd);
                return mc_error_errno(err, e, "open audit log '%s'", path);
        }
        *ret = f;
        return 0;
}

static int parse_options(int argc, char **argv, audit_filter *flt, bool *json, bool *follow,
                         const char **path) {
        enum {
                ARG_OP = 0x100,
                ARG_OUTCOME,
                ARG_CAPABILITY,
                ARG_PID,
                ARG_KIND,
                ARG_JSON,
                ARG_SINCE,
                ARG_UNTIL
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"op", required_argument, NULL, ARG_OP},
                {"outcome", required_argument, NULL, ARG_OUTCOME},
                {"capability", required_argument, NULL, ARG_CAPABILITY},
                {"pid", required_argument, NULL, ARG_PID},
                {"kind", required_argument, NULL, ARG_KIND},
                {"json", no_argument, NULL, ARG_JSON},
                {"since", required_argument, NULL, ARG_SINCE},
                {"until", required_argument, NULL, ARG_UNTIL},
                {"follow", no_argument, NULL, 'f'},
                {}};
        mc_error_kind kind;
        int c;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hf", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case 'f':
                        *follow = true;
                        break;
                case ARG_SINCE:
                case ARG_UNTIL:
                        if (parse_time_arg(optarg,
                                           c == ARG_SINCE ? &flt->since_ns : &flt->until_ns) < 0)
                                return cli_invalid_value("audit", "time", optarg,
                                                         "RFC 3339, \"YYYY-MM-DD[ HH:MM[:SS]]\", "
                                                         "\"now\" or a time ago such as "
                                                         "\"-10min\"");
                        break;
                case ARG_OP:
                        flt->op = optarg;
                        break;
                case ARG_OUTCOME:
                        if (!streq(optarg, "ok") && !streq(optarg, "denied") &&
                            !streq(optarg, "error"))
                                return cli_invalid_value("audit", "outcome", optarg,
                                                         "ok, denied or error");
                        flt->outcome = optarg;
                        break;
                case ARG_CAPABILITY:
                        flt->capability = optarg;
                        break;
                case ARG_PID:
                        if (args_parse_pid(optarg, &flt->pid) < 0)
                                return cli_invalid_value("audit", "pid", optarg,
                                                         "a number from 1 to 2147483647");
                        break;
                case ARG_KIND:
                        if (mc_error_kind_from_name(optarg, &kind) < 0)
                                return cli_invalid_value("audit", "kind", optarg,
                                                         "an error kind such as PolicyViolation");
                        flt->kind = mc_error_kind_name(kind);
                        break;
                case ARG_JSON:
                        *json = true;
                        break;
                default:
                        return cli_option_error("audit", c, argv);
                }
        }
        return cli_one_operand("audit", argc, argv, "FILE ('-' for standard input)", path);
}

/*
 * --follow at the end of the log: whether @path now names another file than @in reads (a
 * rotation renamed it away and a new one took its place); then *@in is that new file.
 */
static bool follow_rotated(const char *path, FILE **in) {
        struct stat now, cur;
        FILE *f;

        if (stat(path, &now) < 0 || fstat(fileno(*in), &cur) < 0)
                return false;
        if (now.st_dev == cur.st_dev && now.st_ino == cur.st_ino)
                return false;
        if (open_input(path, &f, NULL) < 0)
                return false;
        fclose(*in);
        *in = f;
        return true;
}

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
}

int cmd_audit(int argc, char **argv) {
        audit_filter flt = {.since_ns = INT64_MIN, .until_ns = INT64_MAX};
        _cleanup_json_ json_t *matches = NULL;
        _cleanup_free_ char *line = NULL, *path_safe = NULL;
        mc_error err = MC_ERROR_INIT;
        const char *path = NULL;
        size_t cap = 0, len = 0, n, lineno = 0, bad = 0;
        bool json = false, follow = false, too_long = false;
        FILE *in = NULL;
        int r;

        r = parse_options(argc, argv, &flt, &json, &follow, &path);
        if (r != 0)
                return r < 0 ? 0 : r;
        /* Standard input has no file to follow: it ends when its writer does. */
        if (streq(path, "-"))
                follow = false;
        path_safe = str_escape_cstr(streq(path, "-") ? "<stdin>" : path);
        if (!path_safe)
                return cli_oom_exit();
        /* Followed records are printed as they come, one JSON object a line. */
        if (json && !follow) {
                matches = json_array();
                if (!matches)
                        return cli_oom_exit();
        }
        r = open_input(path, &in, &err);
        if (r < 0)
                return error_report(&err);

        for (;;) {
                _cleanup_json_ json_t *rec = NULL;
                json_error_t jerr;

                r = read_line(in, &line, &cap, &len, &too_long, follow);
                if (r == 0 && follow) {
                        /* The end for now: show what came, then wait for more. */
                        if (fflush(stdout) != 0) {
                                r = -EIO;
                                break;
                        }
                        clearerr(in);
                        if (len == 0 && follow_rotated(path, &in))
                                lineno = 0;
                        else
                                sleep_ms(FOLLOW_INTERVAL_MS);
                        continue;
                }
                if (r <= 0)
                        break;
                lineno++;
                n = len;
                len = 0;
                if (too_long) {
                        log_error("%s:%zu: line longer than %d bytes, skipped", path_safe, lineno,
                                  AUDIT_LINE_MAX);
                        bad++;
                        continue;
                }
                if (strspn(line, " \t\r") == n)
                        continue; /* blank lines carry nothing, not even damage */
                rec = json_loadb(line, n, JSON_REJECT_DUPLICATES, &jerr);
                if (!rec || !json_is_object(rec)) {
                        _cleanup_free_ char *why =
                                rec ? strdup("not a JSON object") : str_escape_cstr(jerr.text);
                        log_error("%s:%zu: not a valid audit record (%s), skipped", path_safe,
                                  lineno, why ? why : "?");
                        bad++;
                        continue;
                }
                if (!record_matches(rec, &flt))
                        continue;
                if (matches) {
                        if (json_array_append(matches, rec) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                } else if (json) {
                        if (json_dumpf(rec, stdout, JSON_COMPACT) < 0 || putchar('\n') == EOF) {
                                r = -EIO;
                                break;
                        }
                } else {
                        r = print_record(rec);
                        if (r < 0)
                                break;
                }
        }
        if (in != stdin)
                fclose(in);
        if (r == -ENOMEM)
                return cli_oom_exit();
        if (r == -EIO && ferror(stdout)) {
                mc_error_errno(&err, EIO, "write to standard output");
                return error_report(&err);
        }
        if (r < 0) {
                mc_error_errno(&err, r, "read audit log '%s'", path_safe);
                return error_report(&err);
        }
        if (matches && json_print(matches, stdout) < 0) {
                mc_error_errno(&err, EIO, "write to standard output");
                return error_report(&err);
        }
        if (bad > 0) {
                mc_error_set(&err, MC_ERR_IO, EIO, "%s: %zu malformed line%s skipped", path_safe,
                             bad, bad == 1 ? "" : "s");
                return error_report(&err);
        }
        return 0;
}
