/* SPDX-License-Identifier: MIT */
/*
 * memcap maps [PID] [-x] [--json]: the memory mappings of a process, read from /proc/PID/maps,
 * or with -x from /proc/PID/smaps with each mapping's resident, proportional, dirty and swapped
 * memory, as pmap -x shows them.
 *
 * The kernel's format is "start-end perms offset dev inode [path]", the path padded to a column
 * and possibly holding spaces, a " (deleted)" suffix, or a pseudo name such as "[heap]". The
 * parser takes every field strictly and the path as the whole rest of the line, so names with
 * spaces survive, and it classifies each mapping by kind (file, deleted, memfd, anon, heap,
 * stack, vdso, vvar, ...).
 *
 * The NUMA column comes from /proc/PID/numa_maps where the kernel has one (a kernel built with
 * NUMA): each line starts with a mapping's start address and its memory policy ("default",
 * "bind:0-1", "interleave:0,2", "prefer:1", "local"), then "N<node>=<pages>" for the nodes
 * holding its pages. A mapping numa_maps does not list shows "-".
 */

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct maps_entry {
        uint64_t start, end, offset, inode;
        char perms[5]; /* "rw-p" */
        char dev[24];  /* "fd:01" */
        char *path;    /* NULL for anonymous memory; without the " (deleted)" suffix */
        bool deleted;
        char kind[24];
        char numa[96]; /* "bind:0 N0=12": policy and pages per node; "" when unknown */
        /* -x, from smaps, in bytes: resident, proportional share, dirty (shared + private),
         * swapped out. */
        uint64_t rss, pss, dirty, swap;
} maps_entry;

typedef struct maps_list {
        maps_entry *entries;
        size_t n, cap;
} maps_list;

static void maps_list_done(maps_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->entries[i].path);
        free(l->entries);
        *l = (maps_list){};
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static int parse_hex(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;
        int d;

        if (hex_digit(*s) < 0)
                return -EINVAL;
        for (; (d = hex_digit(*s)) >= 0; s++) {
                if (v >> 60)
                        return -ERANGE;
                v = v << 4 | (uint64_t) d;
        }
        *p = s;
        *ret = v;
        return 0;
}

static int parse_dec(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++)
                if (MC_MUL_OVERFLOW(v, 10, &v) || MC_ADD_OVERFLOW(v, (uint64_t) (*s - '0'), &v))
                        return -ERANGE;
        *p = s;
        *ret = v;
        return 0;
}

static int expect(const char **p, char c) {
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

/* Kind of a pseudo path "[name]" or "[name:detail]": the name, if it is a plain word. */
static void bracket_kind(const char *path, char *kind, size_t size) {
        size_t n = strcspn(path + 1, ":]");

        if (n == 0 || n >= size || (path[1 + n] != ':' && path[1 + n] != ']')) {
                strscpy(kind, size, "special");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                char c = path[1 + i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
                        strscpy(kind, size, "special");
                        return;
                }
        }
        memcpy(kind, path + 1, n);
        kind[n] = 0;
        /* Named anonymous memory ("[anon:name]", "[anon_shmem:name]") is still anonymous. */
        if (streq(kind, "anon_shmem"))
                strscpy(kind, size, "anon");
        /* Newer kernels split the vvar area ("[vvar_vclock]"); it is the same kind of page. */
        if (strncmp(kind, "vvar", 4) == 0)
                strscpy(kind, size, "vvar");
}

static void classify(maps_entry *e) {
        if (!e->path)
                strscpy(e->kind, sizeof(e->kind), "anon");
        else if (e->path[0] == '[')
                bracket_kind(e->path, e->kind, sizeof(e->kind));
        else if (strncmp(e->path, "/memfd:", 7) == 0)
                strscpy(e->kind, sizeof(e->kind), "memfd");
        else if (e->path[0] == '/')
                strscpy(e->kind, sizeof(e->kind), e->deleted ? "deleted" : "file");
        else
                strscpy(e->kind, sizeof(e->kind), "special"); /* anon_inode:..., socket:... */
}

/* Parse one line (without its newline). Returns 0, -EINVAL for a malformed line, -ENOMEM. */
static int parse_line(const char *line, maps_entry *ret) {
        static const char suffix[] = " (deleted)";
        maps_entry e = {};
        const char *p = line, *dev;
        uint64_t minor;

        if (parse_hex(&p, &e.start) < 0 || expect(&p, '-') < 0 || parse_hex(&p, &e.end) < 0 ||
            expect(&p, ' ') < 0 || e.end < e.start)
                return -EINVAL;
        for (size_t i = 0; i < 4; i++) {
                static const char allowed[4][3] = {"r-", "w-", "x-", "sp"};
                if (!p[i] || !strchr(allowed[i], p[i]))
                        return -EINVAL;
        }
        memcpy(e.perms, p, 4);
        p += 4;
        if (expect(&p, ' ') < 0 || parse_hex(&p, &e.offset) < 0 || expect(&p, ' ') < 0)
                return -EINVAL;
        dev = p;
        if (parse_hex(&p, &minor) < 0 || expect(&p, ':') < 0 || parse_hex(&p, &minor) < 0 ||
            (size_t) (p - dev) >= sizeof(e.dev))
                return -EINVAL;
        memcpy(e.dev, dev, (size_t) (p - dev));
        if (expect(&p, ' ') < 0 || parse_dec(&p, &e.inode) < 0)
                return -EINVAL;

        if (*p != 0) {
                size_t n;

                if (*p != ' ')
                        return -EINVAL;
                p += strspn(p, " ");
                n = strlen(p);
                if (n >= sizeof(suffix) && streq(p + n - (sizeof(suffix) - 1), suffix)) {
                        e.deleted = true;
                        n -= sizeof(suffix) - 1;
                }
                if (n > 0) {
                        e.path = strndup(p, n);
                        if (!e.path)
                                return -ENOMEM;
                }
        }
        classify(&e);
        *ret = e;
        return 0;
}

/*
 * An smaps line "Name:   N kB" for one of the fields -x shows: adds N KiB to the last entry.
 * Returns 1 when @line is a field line (shown or not), 0 when it is not one (a mapping's first
 * line), -EINVAL for a shown field whose value is malformed.
 */
static int smaps_field(const char *line, maps_entry *e) {
        static const struct {
                const char *name;
                size_t offset;
        } fields[] = {
                {"Rss:", offsetof(maps_entry, rss)},
                {"Pss:", offsetof(maps_entry, pss)},
                {"Shared_Dirty:", offsetof(maps_entry, dirty)},
                {"Private_Dirty:", offsetof(maps_entry, dirty)},
                {"Swap:", offsetof(maps_entry, swap)},
        };
        size_t n = strcspn(line, " ");

        /* Field names end in ':' and hold no '-'; a mapping's line starts "start-end ". */
        if (n == 0 || line[n - 1] != ':' || memchr(line, '-', n))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                const char *p = line + n;
                uint64_t kib, *v;

                if (strlen(fields[i].name) != n || strncmp(line, fields[i].name, n) != 0)
                        continue;
                if (!e)
                        return -EINVAL;
                p += strspn(p, " ");
                if (parse_dec(&p, &kib) < 0 || !streq(p, " kB") || kib > UINT64_MAX / 1024)
                        return -EINVAL;
                v = (uint64_t *) ((char *) e + fields[i].offset);
                if (MC_ADD_OVERFLOW(*v, kib * 1024, v))
                        return -EINVAL;
        }
        return 1;
}

static int maps_read(const char *pid_text, bool extended, maps_list *list, mc_error *err) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        char path[64];
        size_t cap = 0, lineno = 0;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%s/%s", pid_text, extended ? "smaps" : "maps");
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return mc_error_set(err, MC_ERR_NOT_FOUND, ENOENT,
                                            "no process with id %s (%s does not exist)", pid_text,
                                            path);
                return mc_error_errno(err, errno, "read the mappings of process %s (%s)", pid_text,
                                      path);
        }
        f = fdopen(fd, "re");
        if (!f) {
                int e = errno;
                close(fd);
                return mc_error_errno(err, e, "read '%s'", path);
        }

        errno = 0;
        while ((n = getline(&line, &cap, f)) >= 0) {
                maps_entry e;
                int r;

                lineno++;
                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = 0;
                if (n == 0)
                        continue;
                if (strlen(line) != (size_t) n)
                        return mc_error_set(err, MC_ERR_IO, EIO, "'%s' line %zu: NUL byte", path,
                                            lineno);
                if (extended) {
                        r = smaps_field(line, list->n > 0 ? &list->entries[list->n - 1] : NULL);
                        if (r < 0)
                                return mc_error_set(err, MC_ERR_IO, EIO,
                                                    "'%s' line %zu: not in the smaps format", path,
                                                    lineno);
                        if (r > 0)
                                continue;
                }
                r = parse_line(line, &e);
                if (r == -ENOMEM)
                        return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
                if (r < 0)
                        return mc_error_set(err, MC_ERR_IO, EIO,
                                            "'%s' line %zu: not in the maps format", path, lineno);
                if (list->n == list->cap) {
                        size_t ncap = list->cap ? list->cap * 2 : 64;
                        maps_entry *ne = reallocarray(list->entries, ncap, sizeof(*ne));
                        if (!ne) {
                                free(e.path);
                                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                                                    "out of memory");
                        }
                        list->entries = ne;
                        list->cap = ncap;
                }
                list->entries[list->n++] = e;
                errno = 0;
        }
        if (ferror(f))
                return mc_error_errno(err, errno ? errno : EIO, "read '%s'", path);
        return 0;
}

/*
 * Fill each entry's NUMA column from /proc/PID/numa_maps. Nothing when the file is missing or
 * unreadable (a kernel without NUMA, or hidden): the column is best effort, the maps are not.
 * A line that does not parse is skipped.
 */
static void numa_read(const char *pid_text, maps_list *list) {
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char path[64];
        size_t cap = 0, i = 0;

        snprintf(path, sizeof(path), "/proc/%s/numa_maps", pid_text);
        f = fopen(path, "re");
        if (!f)
                return;
        while (getline(&line, &cap, f) >= 0) {
                const char *p = line;
                char *tok, *save = NULL;
                maps_entry *e = NULL;
                uint64_t start;
                size_t n;

                if (parse_hex(&p, &start) < 0 || *p != ' ')
                        continue;
                /* Both files list the mappings in address order: one pass over the list. */
                while (i < list->n && list->entries[i].start < start)
                        i++;
                if (i == list->n || list->entries[i].start != start)
                        continue;
                e = &list->entries[i];
                tok = strtok_r(line + (p - line) + 1, " \n", &save);
                if (!tok)
                        continue;
                n = (size_t) snprintf(e->numa, sizeof(e->numa), "%s", tok);
                while ((tok = strtok_r(NULL, " \n", &save)) && n < sizeof(e->numa)) {
                        if (tok[0] != 'N' || tok[1] < '0' || tok[1] > '9' || !strchr(tok, '='))
                                continue;
                        n += (size_t) snprintf(e->numa + n, sizeof(e->numa) - n, " %s", tok);
                }
                if (n >= sizeof(e->numa)) { /* too many nodes to show: say so, never cut one */
                        snprintf(e->numa, sizeof(e->numa), "%s", "(many nodes; see numa_maps)");
                }
        }
}

static char *entry_path_display(const maps_entry *e) {
        char *s = NULL;

        if (!e->path)
                return strdup("[anon]");
        if (asprintf(&s, "%s%s", e->path, e->deleted ? " (deleted)" : "") < 0)
                return NULL;
        return s;
}

/* -x: like pmap -x, the memory each mapping uses, and the totals. */
static int print_extended(const maps_list *list) {
        static const char *const headers[] = {"START-END", "SIZE", "RSS",  "PSS",
                                              "DIRTY",     "SWAP", "PERM", "FILE/KIND"};
        _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
        char sz[6][FORMAT_SIZE_MAX];
        uint64_t total[5] = {0};
        int r;

        if (!t)
                return -ENOMEM;
        for (size_t col = 1; col <= 5; col++)
                table_set_right(t, col);
        for (size_t i = 0; i < list->n; i++) {
                const maps_entry *e = &list->entries[i];
                _cleanup_free_ char *path = entry_path_display(e);
                const uint64_t v[5] = {e->end - e->start, e->rss, e->pss, e->dirty, e->swap};
                char range[48];

                if (!path)
                        return -ENOMEM;
                snprintf(range, sizeof(range), "%08" PRIx64 "-%08" PRIx64, e->start, e->end);
                for (size_t k = 0; k < 5; k++)
                        total[k] += v[k];
                const char *cells[] = {range,
                                       format_size(v[0], sz[0]),
                                       format_size(v[1], sz[1]),
                                       format_size(v[2], sz[2]),
                                       format_size(v[3], sz[3]),
                                       format_size(v[4], sz[4]),
                                       e->perms,
                                       path};
                r = table_add_row(t, cells);
                if (r < 0)
                        return r;
        }
        return table_print_summary(
                t, stdout,
                "%zu mapping%s, %s total, %s resident, %s proportional, %s dirty, %s swapped",
                list->n, list->n == 1 ? "" : "s", format_size(total[0], sz[0]),
                format_size(total[1], sz[1]), format_size(total[2], sz[2]),
                format_size(total[3], sz[3]), format_size(total[4], sz[4]));
}

static int print_table(const maps_list *list) {
        static const char *const headers[] = {"START-END", "SIZE", "PERM",     "SHARED/PRIVATE",
                                              "OFFSET",    "NUMA", "FILE/KIND"};
        _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
        char size[FORMAT_SIZE_MAX];
        uint64_t total = 0;
        int r;

        if (!t)
                return -ENOMEM;
        table_set_right(t, 1);
        table_set_right(t, 4);
        for (size_t i = 0; i < list->n; i++) {
                const maps_entry *e = &list->entries[i];
                _cleanup_free_ char *path = entry_path_display(e);
                char range[48], offset[24];

                if (!path)
                        return -ENOMEM;
                snprintf(range, sizeof(range), "%08" PRIx64 "-%08" PRIx64, e->start, e->end);
                snprintf(offset, sizeof(offset), "0x%" PRIx64, e->offset);
                const char *cells[] = {range,    format_size(e->end - e->start, size),
                                       e->perms, e->perms[3] == 's' ? "shared" : "private",
                                       offset,   e->numa[0] ? e->numa : "-",
                                       path};
                r = table_add_row(t, cells);
                if (r < 0)
                        return r;
                total += e->end - e->start;
        }
        return table_print_summary(t, stdout, "%zu mapping%s, %s total", list->n,
                                   list->n == 1 ? "" : "s", format_size(total, size));
}

static json_t *entry_json(const maps_entry *e, bool extended) {
        _cleanup_json_ json_t *o = json_object();
        char addr[24];
        int r = 0;

        if (!o)
                return NULL;
        snprintf(addr, sizeof(addr), "0x%" PRIx64, e->start);
        r |= json_add(o, "start", json_string(addr));
        snprintf(addr, sizeof(addr), "0x%" PRIx64, e->end);
        r |= json_add(o, "end", json_string(addr));
        r |= json_add(o, "size", json_u64(e->end - e->start));
        r |= json_add(o, "read", json_boolean(e->perms[0] == 'r'));
        r |= json_add(o, "write", json_boolean(e->perms[1] == 'w'));
        r |= json_add(o, "exec", json_boolean(e->perms[2] == 'x'));
        r |= json_add(o, "shared", json_boolean(e->perms[3] == 's'));
        r |= json_add(o, "offset", json_u64(e->offset));
        r |= json_add(o, "dev", json_string(e->dev));
        r |= json_add(o, "inode", json_u64(e->inode));
        r |= json_add(o, "path",
                      e->path ? json_string_lossy(e->path, strlen(e->path)) : json_null());
        r |= json_add(o, "deleted", json_boolean(e->deleted));
        r |= json_add(o, "kind", json_string(e->kind));
        r |= json_add(o, "numa", e->numa[0] ? json_string(e->numa) : json_null());
        if (extended) {
                r |= json_add(o, "rss", json_u64(e->rss));
                r |= json_add(o, "pss", json_u64(e->pss));
                r |= json_add(o, "dirty", json_u64(e->dirty));
                r |= json_add(o, "swap", json_u64(e->swap));
        }
        if (r != 0)
                return NULL;
        return TAKE_PTR(o);
}

static int print_json(const maps_list *list, bool extended) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < list->n; i++)
                if (json_array_append_new(a, entry_json(&list->entries[i], extended)) < 0)
                        return -ENOMEM;
        return json_print(a, stdout);
}

static void help(void) {
        fputs("Usage: memcap maps [PID] [-x] [--json]\n"
              "\n"
              "List the memory mappings of process PID (default: memcap itself, 'self'),\n"
              "read from /proc/PID/maps: address range, size, permissions, shared or private,\n"
              "file offset and the file or kind ([heap], [stack], [vdso], [vvar], [anon] for\n"
              "memory with no file, \"(deleted)\" for files removed since they were mapped),\n"
              "and the NUMA policy and pages per node from /proc/PID/numa_maps (\"-\": unknown).\n"
              "\n"
              "Options:\n"
              "  -x, --extended  read /proc/PID/smaps and show, as pmap -x does, what each\n"
              "               mapping uses: RSS (resident), PSS (resident, shared pages divided\n"
              "               among their sharers), DIRTY (modified, shared or private) and\n"
              "               SWAP (swapped out), and their totals\n"
              "  --json       print a JSON array of {start, end, size, read, write, exec,\n"
              "               shared, offset, dev, inode, path, deleted, kind, numa} (with -x\n"
              "               also rss, pss, dirty, swap, in bytes)\n"
              "  -h, --help   show this help\n"
              "\n"
              "Exit status: 12 for a malformed PID, 16 when the process does not exist,\n"
              "11 when its mappings may not be read; see 'memcap --help'.\n",
              stdout);
}

int cmd_maps(int argc, char **argv) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"json", no_argument, NULL, ARG_JSON},
                                                {"extended", no_argument, NULL, 'x'},
                                                {}};
        _cleanup_free_ char **args = NULL;
        _cleanup_(maps_list_done) maps_list list = {};
        mc_error err = MC_ERROR_INIT;
        const char *pid_text = NULL;
        char pid_buf[16];
        size_t n_args = 0, n_neg = 0;
        const char *neg = NULL;
        bool json = false, dashdash = false, extended = false;
        pid_t pid;
        int c, r;

        /*
         * "-5" is a (bad) process id, not an option: take negative numbers out before getopt
         * sees them, so they get the InvalidArgument they deserve rather than a usage error.
         */
        args = calloc((size_t) argc + 1, sizeof(char *));
        if (!args)
                return cli_oom_exit();
        for (int i = 0; i < argc; i++) {
                if (i > 0 && !dashdash && args_is_negative_number(argv[i])) {
                        neg = argv[i];
                        n_neg++;
                        continue;
                }
                if (streq(argv[i], "--"))
                        dashdash = true;
                args[n_args++] = argv[i];
        }

        cli_getopt_reset();
        while ((c = getopt_long((int) n_args, args, ":hx", options, NULL)) >= 0) {
                switch (c) {
                case 'x':
                        extended = true;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                default:
                        return cli_other_option("maps", c, args, help);
                }
        }
        if ((n_args - (size_t) optind) + n_neg > 1)
                return cli_usage_error("maps", "too many arguments");
        if (n_neg > 0)
                pid_text = neg;
        else if ((size_t) optind < n_args)
                pid_text = args[optind];

        if (!pid_text || streq(pid_text, "self"))
                pid_text = "self";
        else {
                r = args_parse_pid(pid_text, &pid);
                if (r < 0)
                        return cli_invalid_pid(pid_text, "a number from 1 to 2147483647 or 'self'");
                snprintf(pid_buf, sizeof(pid_buf), "%d", (int) pid);
                pid_text = pid_buf;
        }

        r = maps_read(pid_text, extended, &list, &err);
        if (r < 0)
                return error_report(&err);
        numa_read(pid_text, &list);
        r = json       ? print_json(&list, extended)
            : extended ? print_extended(&list)
                       : print_table(&list);
        return cli_print_status(r, "print the mappings");
}
