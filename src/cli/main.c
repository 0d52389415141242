/* SPDX-License-Identifier: MIT */
/*
 * memcap: the command-line tool. This file holds what every command shares: the global options
 * (--policy, --audit, --help, --version), the dispatch table, `memcap help`, and the context
 * constructor that applies the global options. Each command lives in its own cmd-*.c file and
 * is added to the table below; it uses only the public libmemcap API.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-channel.h"

static const cli_command commands[] = {
        {"maps", cmd_maps, "List the memory mappings of a process"},
        {"map", cmd_map, "Map a file read-only and dump it (hexdump, raw or JSON)"},
        {"shm", cmd_shm, "Create, list, inspect and remove POSIX shared memory"},
        {"policy", cmd_policy, "Check a policy file or print the default policy"},
        {"audit", cmd_audit, "Filter and pretty-print a JSON-lines audit log"},
        {"signal", cmd_signal, "Send, wait for and list signals"},
        {"client", cmd_client, "Talk to memcapd, the mapping broker"},
        {"channel", cmd_channel, "Send, receive and inspect messages of a channel"},
        {"help", cmd_help, "Show help for memcap or for one command"},
};

/* Set by the global options; a command's context takes them in cli_ctx_new(). */
static mc_policy *global_policy;
static mc_audit *global_audit;

static const cli_command *command_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, name))
                        return &commands[i];
        return NULL;
}

static void usage(FILE *f) {
        fputs("Usage: memcap [--policy FILE] [--audit FILE] <command> [options] [args]\n"
              "       memcap --help | --version | help [command]\n"
              "\n"
              "Inspect memory mappings and shared memory, dump files through guarded\n"
              "mappings, send and wait for signals, talk to the memcapd broker, check\n"
              "policies and read audit logs, all through libmemcap.\n"
              "\n"
              "Commands:\n",
              f);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-8s  %s\n", commands[i].name, commands[i].summary);
        fputs("\n"
              "Global options (before the command):\n"
              "  --policy FILE   enforce the JSON policy in FILE on the command's operations\n"
              "  --audit FILE    append one audit record per operation to FILE (JSON lines)\n"
              "  -h, --help      show this help\n"
              "  -V, --version   show the version of memcap (the library's)\n"
              "\n"
              "Exit status:\n",
              f);
        exit_codes_print(f);
        fputs("\nRun 'memcap <command> --help' for the options of a command.\n", f);
}

int cli_run_subcommand(const char *cmd, const cli_subcommand *subs, size_t n_subs,
                       const char *names, void (*help)(void), int argc, char **argv) {
        _cleanup_free_ char *safe = NULL;

        if (argc < 2)
                return cli_usage_error(cmd, "missing command (%s)", names);
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                help();
                return 0;
        }
        for (size_t i = 0; i < n_subs; i++)
                if (streq(argv[1], subs[i].name))
                        return subs[i].run(argc - 1, argv + 1);
        safe = str_escape_cstr(argv[1]);
        if (argv[1][0] == '-')
                return cli_usage_error(cmd, "unknown option '%s'", safe ? safe : "?");
        return cli_usage_error(cmd, "unknown command '%s'", safe ? safe : "?");
}

/* That exactly @n operands follow the options, @operand naming them in "missing <operand>". */
static int check_operands(const char *cmd, int argc, int n, const char *operand) {
        if (argc - optind < n)
                return cli_usage_error(cmd, "missing %s", operand);
        if (argc - optind > n)
                return cli_usage_error(cmd, "too many arguments");
        return 0;
}

int cli_parse_simple(const char *cmd, int argc, char **argv, void (*help)(void), bool *json,
                     int n_operands, const char *operand) {
        enum { ARG_JSON = 0x100 };
        static const struct option with_json[] = {
                {"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, ARG_JSON}, {}};
        static const struct option without_json[] = {{"help", no_argument, NULL, 'h'}, {}};
        int c;

        cli_getopt_reset();
        while ((c = getopt_long(argc, argv, ":h", json ? with_json : without_json, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return CLI_HELP_SHOWN;
                case ARG_JSON:
                        *json = true;
                        break;
                default:
                        return cli_option_error(cmd, c, argv);
                }
        }
        return check_operands(cmd, argc, n_operands, operand);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "memcap%s%s: ", cmd ? " " : "", cmd ? cmd : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'memcap%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
        return EXIT_USAGE;
}

int cli_invalid_value(const char *cmd, const char *what, const char *value, const char *expected) {
        _cleanup_free_ char *safe = str_escape_cstr(value);

        return cli_usage_error(cmd, "invalid %s '%s': expected %s", what, safe ? safe : "?",
                               expected);
}

int cli_value_error(const char *cmd, int r, const char *what, const char *value,
                    const char *expected) {
        _cleanup_free_ char *safe = NULL;

        if (r != -ERANGE)
                return cli_invalid_value(cmd, what, value, expected);
        safe = str_escape_cstr(value);
        return cli_usage_error(cmd, "%s '%s' is too large", what, safe ? safe : "?");
}

int cli_invalid_pid(const char *value, const char *expected) {
        _cleanup_free_ char *safe = str_escape_cstr(value);
        mc_error err = MC_ERROR_INIT;

        mc_error_set(&err, MC_ERR_INVALID_ARGUMENT, EINVAL, "invalid process id '%s': expected %s",
                     safe ? safe : "?", expected);
        return error_report(&err);
}

int cli_parse_size(const char *cmd, const char *what, const char *text, uint64_t max,
                   uint64_t *ret) {
        uint64_t v;
        int r;

        r = args_parse_size(text, &v);
        if (r == 0 && v > max)
                r = -ERANGE;
        if (r < 0)
                return cli_value_error(cmd, r, what, text, "a size such as 4096 or 4KiB");
        *ret = v;
        return 0;
}

int cli_one_operand(const char *cmd, int argc, char **argv, const char *operand, const char **ret) {
        int r = check_operands(cmd, argc, 1, operand);

        if (r != 0)
                return r;
        *ret = argv[optind];
        return 0;
}

int cli_option_error(const char *cmd, int c, char **argv) {
        const char *arg = optind > 0 ? argv[optind - 1] : NULL;
        _cleanup_free_ char *safe = NULL;

        /*
         * A short option is named by optopt; a long one only by the argument getopt just
         * consumed (inside a cluster like "-xq" that argument is not the culprit).
         */
        if (c == ':') {
                if (arg && strncmp(arg, "--", 2) == 0) {
                        safe = str_escape_cstr(arg);
                        return cli_usage_error(cmd, "option '%s' requires an argument",
                                               safe ? safe : "?");
                }
                return cli_usage_error(cmd, "option '-%c' requires an argument", optopt);
        }
        if (optopt > 0 && optopt < 128 && optopt != '?')
                return cli_usage_error(cmd, "unknown option '-%c'", optopt);
        safe = str_escape_cstr(arg ? arg : "?");
        return cli_usage_error(cmd, "unknown option '%s'", safe ? safe : "?");
}

int cli_other_option(const char *cmd, int c, char **argv, void (*help)(void)) {
        if (c == 'h') {
                help();
                return 0;
        }
        return cli_option_error(cmd, c, argv);
}

int cli_ctx_new(mc_ctx **ret, mc_error *err) {
        _cleanup_(mc_ctx_freep) mc_ctx *ctx = NULL;
        int r;

        r = mc_ctx_new(&ctx, err);
        if (r < 0)
                return r;
        if (global_policy) {
                r = mc_ctx_set_policy(ctx, global_policy, err);
                if (r < 0)
                        return r;
        }
        if (global_audit)
                mc_ctx_set_audit(ctx, TAKE_PTR(global_audit));
        *ret = TAKE_PTR(ctx);
        return 0;
}

int cli_oom_exit(void) {
        mc_error err = MC_ERROR_INIT;

        mc_error_set(&err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        return error_report(&err);
}

int cli_print_status(int r, const char *doing) {
        mc_error err = MC_ERROR_INIT;

        if (r >= 0)
                return 0;
        mc_error_errno(&err, r, "%s", doing);
        return error_report(&err);
}

int cli_finish_output(void) {
        mc_error err = MC_ERROR_INIT;
        bool failed;

        errno = 0;
        failed = fflush(stdout) != 0;
        if (failed || ferror(stdout)) {
                mc_error_errno(&err, failed && errno != 0 ? errno : EIO,
                               "write to standard output");
                return error_report(&err);
        }
        return 0;
}

int cmd_help(int argc, char **argv) {
        const cli_command *c;

        if (argc > 2)
                return cli_usage_error("help", "too many arguments");
        if (argc < 2 || streq(argv[1], "help") || streq(argv[1], "--help") ||
            streq(argv[1], "-h")) {
                usage(stdout);
                return cli_finish_output();
        }
        c = command_find(argv[1]);
        if (!c) {
                _cleanup_free_ char *safe = str_escape_cstr(argv[1]);
                return cli_usage_error(NULL, "unknown command '%s'", safe ? safe : "?");
        }
        char *sub[] = {(char *) c->name, (char *) "--help", NULL};
        return c->run(2, sub);
}

int main(int argc, char **argv) {
        static const struct option options[] = {{"help", no_argument, NULL, 'h'},
                                                {"version", no_argument, NULL, 'V'},
                                                {"policy", required_argument, NULL, 'p'},
                                                {"audit", required_argument, NULL, 'a'},
                                                {}};
        const char *policy_path = NULL, *audit_path = NULL;
        mc_error err = MC_ERROR_INIT;
        const cli_command *cmd;
        int c, r;

        log_set_program_name("memcap");
        cli_getopt_reset();
        /* '+': stop at the command name, so the command's own options stay its own. */
        while ((c = getopt_long(argc, argv, "+:hV", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return cli_finish_output();
                case 'V':
                        printf("memcap %s\n", mc_version());
                        return cli_finish_output();
                case 'p':
                        policy_path = optarg;
                        break;
                case 'a':
                        audit_path = optarg;
                        break;
                default:
                        return cli_option_error(NULL, c, argv);
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        cmd = command_find(argv[optind]);
        if (!cmd) {
                _cleanup_free_ char *safe = str_escape_cstr(argv[optind]);
                return cli_usage_error(NULL, "unknown command '%s'", safe ? safe : "?");
        }

        if (policy_path) {
                r = mc_policy_load_file(policy_path, &global_policy, &err);
                if (r < 0)
                        return error_report(&err);
        }
        if (audit_path) {
                r = mc_audit_open_file(audit_path, /* flags= */ 0, &global_audit, &err);
                if (r < 0) {
                        global_policy = mc_policy_free(global_policy);
                        return error_report(&err);
                }
        }

        r = cmd->run(argc - optind, argv + optind);
        if (r == 0)
                r = cli_finish_output();

        global_policy = mc_policy_free(global_policy);
        mc_audit_close(TAKE_PTR(global_audit));
        return r;
}
