/* SPDX-License-Identifier: MIT */
/*
 * memcap policy check FILE [--json] | memcap policy default: validate a policy file the way a
 * context would load it, and show the policy that would take effect (the file's fields over
 * the embedded default). The library's messages name file, line and column, so they are
 * printed as they are.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(void) {
        fputs("Usage: memcap policy check FILE [--json]\n"
              "       memcap policy default\n"
              "\n"
              "check    load FILE as libmemcap does; print \"FILE: ok\" and the effective\n"
              "         policy (the file over the embedded default), or the error with its\n"
              "         line and column (exit status 12)\n"
              "default  print the embedded default policy\n"
              "\n"
              "Options:\n"
              "  --json       print only the effective policy as JSON (check)\n"
              "  -h, --help   show this help\n",
              stdout);
}

/*
 * Print @policy as JSON in the tools' one output format. The library's text is parsed and
 * printed again rather than copied, so every memcap command indents JSON the same way.
 */
static int print_policy(const mc_policy *policy, mc_error *err) {
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *doc = NULL;
        json_error_t jerr;
        int r;

        r = mc_policy_to_json(policy, &text, err);
        if (r < 0)
                return r;
        doc = json_loads(text, JSON_DECODE_ANY, &jerr);
        if (!doc)
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "the library printed a policy that is not JSON: %s", jerr.text);
        errno = 0;
        r = json_print(doc, stdout);
        if (r == -ENOMEM)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        if (r < 0)
                return mc_error_errno(err, errno ? errno : EIO, "write to standard output");
        return 0;
}

static int policy_check(int argc, char **argv) {
        _cleanup_(mc_policy_freep) mc_policy *policy = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = false;
        const char *path;
        int r;

        r = cli_parse_simple("policy check", argc, argv, help, &json, 1, "FILE");
        if (r != 0)
                return r == CLI_HELP_SHOWN ? 0 : r;
        path = argv[optind];

        r = mc_policy_load_file(path, &policy, &err);
        if (r < 0)
                return error_report(&err);
        if (!json) {
                _cleanup_free_ char *safe = str_escape_cstr(path);
                if (printf("%s: ok\n", safe ? safe : path) < 0) {
                        mc_error_set(&err, MC_ERR_IO, EIO, "write error");
                        return error_report(&err);
                }
        }
        r = print_policy(policy, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

static int policy_default(int argc, char **argv) {
        _cleanup_(mc_policy_freep) mc_policy *policy = NULL;
        mc_error err = MC_ERROR_INIT;
        bool json = false;
        int r;

        r = cli_parse_simple("policy default", argc, argv, help, &json, 0, NULL);
        if (r != 0)
                return r == CLI_HELP_SHOWN ? 0 : r;
        r = mc_policy_new(&policy, &err);
        if (r < 0)
                return error_report(&err);
        r = print_policy(policy, &err);
        if (r < 0)
                return error_report(&err);
        return 0;
}

int cmd_policy(int argc, char **argv) {
        static const cli_subcommand subs[] = {
                {"check", policy_check},
                {"default", policy_default},
        };

        return cli_run_subcommand("policy", subs, ELEMENTSOF(subs), "check or default", help, argc,
                                  argv);
}
