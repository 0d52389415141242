/* SPDX-License-Identifier: MIT */
/*
 * memcap shm create|ls|info|rm: POSIX shared memory objects.
 *
 * create, info and rm go through the context (mc_shared_open(), mc_shared_close(),
 * mc_shared_unlink()), so they are checked against the policy, validated the library's way and
 * audited. ls reads /dev/shm directly: listing is not a privileged operation, and it must show
 * whatever is there, including entries that are not shared memory at all.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define SHM_DIR "/dev/shm"

static void help(void) {
        fputs("Usage: memcap shm create NAME --size N [--mode OCTAL]\n"
              "       memcap shm ls [--json]\n"
              "       memcap shm info NAME [--json]\n"
              "       memcap shm rm NAME\n"
              "\n"
              "Manage POSIX shared memory objects (shm_open(3)) through libmemcap. NAME is\n"
              "\"name\" or \"/name\": no other '/', not \".\" or \"..\", at most 255 bytes.\n"
              "\n"
              "Commands:\n"
              "  create   create NAME exclusively with N bytes (e.g. 4KiB) and mode OCTAL\n"
              "           (default 600); the object stays until removed\n"
              "  ls       list " SHM_DIR ": name, size, mode, owner uid, type (entries that\n"
              "           are not regular files are marked)\n"
              "  info     open NAME read-only and show its size, mode, uid, owner (Local or\n"
              "           Remote) and the pid of its creator when known\n"
              "  rm       remove NAME (mappings that exist stay valid)\n"
              "\n"
              "Options:\n"
              "  -s, --size N       size of the new object (create)\n"
              "  -m, --mode OCTAL   permissions of the new object (create)\n"
              "      --json         print JSON (ls, info)\n"
              "  -h, --help         show this help\n"
              "\n"
              "Exit status: 12 for an invalid name, 15 when create finds NAME already there,\n"
              "16 when NAME does not exist; see 'memcap --help'.\n",
              stdout);
}

/* A context for the command (--policy, --audit) and the object @req names, opened through it. */
static int shared_open(const mc_shared_request *req, mc_ctx **ret_ctx, mc_shared *ret,
                       mc_error *err) {
        int r;

        r = cli_ctx_new(ret_ctx, err);
        if (r < 0)
                return r;
        return mc_shared_open(*ret_ctx, req, ret, err);
}

static void format_mode(unsigned mode, char buf[static 8]) {
        snprintf(buf, 8, "%04o", mode & 07777);
}

static int shm_create(int argc, char **argv) {
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"size", required_argument, NULL, 's'},
                                                {"mode", required_argument, NULL, 'm'},
                                                {}};
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        mc_error err = MC_ERROR_INIT;
        bool have_size = false;
        mc_shared shm;
        uint64_t size = 0;
        unsigned mode = 0600;
        int c, r;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":hs:m:", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        r = cli_parse_size("shm create", "size", optarg, SIZE_MAX, &size);
                        if (r != 0)
                                return r;
                        have_size = true;
                        break;
                case 'm':
                        r = args_parse_mode(optarg, &mode);
                        if (r < 0 || mode == 0 || mode > 0777)
                                return cli_invalid_value("shm create", "mode", optarg,
                                                         "octal permissions from 1 to 777");
                        break;
                default:
                        return cli_other_option("shm create", c, argv, help);
                }
        }
        r = cli_one_operand("shm create", argc, argv, "NAME", &req.name);
        if (r != 0)
                return r;
        if (!have_size)
                return cli_usage_error("shm create", "missing --size");

        req.size = (size_t) size;
        req.create = true;
        req.prot = MC_PROT_READ_WRITE;
        req.mode = mode;

        r = shared_open(&req, &ctx, &shm, &err);
        if (r < 0)
                return error_report(&err);
        r = mc_shared_close(ctx, &shm, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

typedef struct shm_entry {
        char *name; /* with the leading '/' */
        struct stat st;
        bool have_stat;
} shm_entry;

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const shm_entry *) a)->name, ((const shm_entry *) b)->name);
}

static const char *entry_type(const shm_entry *e) {
        if (!e->have_stat)
                return "unknown";
        switch (e->st.st_mode & S_IFMT) {
        case S_IFREG:
                /* glibc keeps POSIX named semaphores here too, as "sem.NAME". */
                return strncmp(e->name, "/sem.", 5) == 0 ? "semaphore" : "shm";
        case S_IFDIR:
                return "directory";
        case S_IFLNK:
                return "symlink";
        case S_IFIFO:
                return "fifo";
        case S_IFSOCK:
                return "socket";
        case S_IFCHR:
                return "char-device";
        case S_IFBLK:
                return "block-device";
        default:
                return "unknown";
        }
}

static bool entry_regular(const shm_entry *e) {
        return e->have_stat && S_ISREG(e->st.st_mode);
}

static void entries_free(shm_entry *entries, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(entries[i].name);
        free(entries);
}

static int shm_list_read(shm_entry **ret, size_t *ret_n, mc_error *err) {
        DIR *d;
        shm_entry *entries = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        int r = 0;

        d = opendir(SHM_DIR);
        if (!d)
                return mc_error_errno(err, errno, "list '%s'", SHM_DIR);
        for (;;) {
                shm_entry e = {};

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = mc_error_errno(err, errno, "list '%s'", SHM_DIR);
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &e.st, AT_SYMLINK_NOFOLLOW) == 0)
                        e.have_stat = true;
                else if (errno == ENOENT)
                        continue; /* removed while we looked */
                if (asprintf(&e.name, "/%s", de->d_name) < 0) {
                        r = mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
                        break;
                }
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 32;
                        shm_entry *ne = reallocarray(entries, ncap, sizeof(*ne));
                        if (!ne) {
                                free(e.name);
                                r = mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM,
                                                 "out of memory");
                                break;
                        }
                        entries = ne;
                        cap = ncap;
                }
                entries[n++] = e;
        }
        closedir(d);
        if (r < 0) {
                entries_free(entries, n);
                return r;
        }
        if (n > 0)
                qsort(entries, n, sizeof(*entries), entry_cmp);
        *ret = entries;
        *ret_n = n;
        return 0;
}

static int shm_ls_json(const shm_entry *entries, size_t n) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const shm_entry *e = &entries[i];
                json_t *o = json_object();
                char mode[8];
                int r = 0;

                if (!o || json_array_append_new(a, o) < 0)
                        return -ENOMEM;
                format_mode(e->have_stat ? e->st.st_mode : 0, mode);
                r |= json_add(o, "name", json_string_lossy(e->name, strlen(e->name)));
                r |= json_add(o, "size",
                              e->have_stat ? json_u64((uint64_t) e->st.st_size) : json_null());
                r |= json_add(o, "mode", e->have_stat ? json_string(mode) : json_null());
                r |= json_add(o, "uid", e->have_stat ? json_integer(e->st.st_uid) : json_null());
                r |= json_add(o, "type", json_string(entry_type(e)));
                r |= json_add(o, "regular", json_boolean(entry_regular(e)));
                if (r != 0)
                        return -ENOMEM;
        }
        return json_print(a, stdout);
}

static int shm_ls_table(const shm_entry *entries, size_t n) {
        static const char *const headers[] = {"NAME", "SIZE", "MODE", "UID", "TYPE"};
        _cleanup_(table_freep) table *t = table_new(ELEMENTSOF(headers), headers);
        uint64_t total = 0;
        size_t odd = 0;
        char size[FORMAT_SIZE_MAX], more[64] = "";
        int r;

        if (!t)
                return -ENOMEM;
        table_set_right(t, 1);
        table_set_right(t, 3);
        for (size_t i = 0; i < n; i++) {
                const shm_entry *e = &entries[i];
                char mode[8], uid[16], type[48];

                format_mode(e->have_stat ? e->st.st_mode : 0, mode);
                snprintf(uid, sizeof(uid), "%u", e->have_stat ? (unsigned) e->st.st_uid : 0u);
                snprintf(type, sizeof(type), "%s%s", entry_type(e),
                         entry_regular(e) ? "" : " (not a regular file)");
                const char *cells[] = {
                        e->name,
                        entry_regular(e) ? format_size((uint64_t) e->st.st_size, size) : NULL,
                        e->have_stat ? mode : NULL,
                        e->have_stat ? uid : NULL,
                        type,
                };
                r = table_add_row(t, cells);
                if (r < 0)
                        return r;
                if (entry_regular(e))
                        total += (uint64_t) e->st.st_size;
                else
                        odd++;
        }
        if (odd > 0)
                snprintf(more, sizeof(more), ", %zu not regular file%s", odd, odd == 1 ? "" : "s");
        return table_print_summary(t, stdout, "%zu entr%s, %s total%s", n, n == 1 ? "y" : "ies",
                                   format_size(total, size), more);
}

static int shm_ls(int argc, char **argv) {
        mc_error err = MC_ERROR_INIT;
        shm_entry *entries = NULL;
        bool json = false;
        size_t n = 0;
        int r;

        r = cli_parse_simple("shm ls", argc, argv, help, &json, 0, NULL);
        if (r != 0)
                return r == CLI_HELP_SHOWN ? 0 : r;
        r = shm_list_read(&entries, &n, &err);
        if (r < 0)
                return error_report(&err);
        r = json ? shm_ls_json(entries, n) : shm_ls_table(entries, n);
        entries_free(entries, n);
        return cli_print_status(r, "print the list");
}

static int shm_info_print(const mc_shared *shm, const struct stat *st, bool json) {
        char mode[8], size[FORMAT_SIZE_MAX];
        const char *owner = shm->owner == MC_OWNER_LOCAL ? "Local" : "Remote";
        _cleanup_free_ char *name = NULL;

        format_mode(st->st_mode, mode);
        if (json) {
                _cleanup_json_ json_t *o = json_object();
                int r = 0;

                if (!o)
                        return -ENOMEM;
                r |= json_add(o, "name", json_string_lossy(shm->name, strlen(shm->name)));
                r |= json_add(o, "size", json_u64(shm->region.len));
                r |= json_add(o, "mode", json_string(mode));
                r |= json_add(o, "uid", json_integer(st->st_uid));
                r |= json_add(o, "owner", json_string(owner));
                r |= json_add(o, "owner_pid", json_integer(shm->owner_pid));
                if (r != 0)
                        return -ENOMEM;
                return json_print(o, stdout);
        }
        name = str_escape_cstr(shm->name);
        if (!name)
                return -ENOMEM;
        if (printf("name:       %s\n"
                   "size:       %s (%zu bytes)\n"
                   "mode:       %s\n"
                   "uid:        %u\n"
                   "owner:      %s\n",
                   name, format_size(shm->region.len, size), shm->region.len, mode,
                   (unsigned) st->st_uid, owner) < 0)
                return -EIO;
        if (shm->owner_pid > 0 ? printf("owner_pid:  %d\n", (int) shm->owner_pid) < 0
                               : printf("owner_pid:  unknown\n") < 0)
                return -EIO;
        return 0;
}

static int shm_info(int argc, char **argv) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = false;
        mc_shared shm;
        struct stat st;
        int r, q;

        r = cli_parse_simple("shm info", argc, argv, help, &json, 1, "NAME");
        if (r != 0)
                return r == CLI_HELP_SHOWN ? 0 : r;

        req.name = argv[optind];
        req.size = 0; /* whatever size the object has */
        req.create = false;
        req.prot = MC_PROT_READ;

        r = shared_open(&req, &ctx, &shm, &err);
        if (r < 0)
                return error_report(&err);
        if (fstat(shm.fd, &st) < 0)
                r = mc_error_errno(&err, errno, "stat shared memory '%s'", shm.name);
        else {
                r = shm_info_print(&shm, &st, json);
                if (r < 0)
                        mc_error_errno(&err, r, "print the shared memory object");
        }
        /* Close it even when printing failed; report the first failure. */
        q = mc_shared_close(ctx, &shm, r < 0 ? NULL : &err);
        if (r < 0 || q < 0)
                return error_report(&err);
        return 0;
}

static int shm_rm(int argc, char **argv) {
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        mc_error err = MC_ERROR_INIT;
        int r;

        r = cli_parse_simple("shm rm", argc, argv, help, /* json= */ NULL, 1, "NAME");
        if (r != 0)
                return r == CLI_HELP_SHOWN ? 0 : r;
        r = cli_ctx_new(&ctx, &err);
        if (r < 0)
                return error_report(&err);
        r = mc_shared_unlink(ctx, argv[optind], &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

int cmd_shm(int argc, char **argv) {
        static const cli_subcommand subs[] = {
                {"create", shm_create},
                {"ls", shm_ls},
                {"info", shm_info},
                {"rm", shm_rm},
        };

        return cli_run_subcommand("shm", subs, ELEMENTSOF(subs), "create, ls, info or rm", help,
                                  argc, argv);
}
