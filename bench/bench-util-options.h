/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_BENCH_UTIL_OPTIONS_H
#define MEMCAP_BENCH_UTIL_OPTIONS_H

/*
 * The command line every benchmark shares. --quick, --rounds N, --json and -h/--help mean the
 * same in each and are parsed here, with the same messages; a benchmark lists only its own
 * options and takes them in a function of its own. Header-only, like bench-util.h.
 */

#include <getopt.h>

#include "bench-util.h"

/* getopt_long() values of the common options; a benchmark's own options use others. */
enum {
        BENCH_OPT_QUICK = 'q',
        BENCH_OPT_JSON = 'j',
        BENCH_OPT_ROUNDS = 'r',
        BENCH_OPT_HELP = 'h',
};

/* Room for the common options, a benchmark's own and the terminating entry. */
#define BENCH_MAX_OPTIONS 24

/* Rounds of a --quick run when --rounds does not say. */
#define BENCH_QUICK_ROUNDS 3

typedef struct bench_cli {
        const char *prog; /* "bench-memory": the start of every message */
        void (*usage)(FILE *f);
        unsigned max_rounds;
        bool json_stdout; /* --json alone writes JSON to stdout; else --json FILE */
        /* The benchmark's own options, ended by an entry without a name. */
        const struct option *own;
        /* Take one of @own's options (getopt_long()'s value @c and @arg): 0, or -EINVAL after
         * saying what was wrong. */
        int (*take)(int c, const char *arg, void *userdata);
        void *userdata;
} bench_cli;

/*
 * Parse @argv: the common options into *@ret_quick, *@ret_json (NULL without --json; FILE, or
 * "-" for a --json that writes to stdout) and *@ret_rounds (which holds the default;
 * BENCH_QUICK_ROUNDS with --quick and no --rounds), the benchmark's own through @cli. --help prints
 * the usage to stdout and exits 0. An unknown option or an operand prints the usage to stderr;
 * every failure returns -EINVAL, for main() to exit with 2.
 */
static inline int bench_parse_options(int argc, char **argv, const bench_cli *cli, bool *ret_quick,
                                      const char **ret_json, unsigned *ret_rounds) {
        static const struct option common[] = {
                {"quick", no_argument, NULL, BENCH_OPT_QUICK},
                {"json", required_argument, NULL, BENCH_OPT_JSON},
                {"rounds", required_argument, NULL, BENCH_OPT_ROUNDS},
                {"help", no_argument, NULL, BENCH_OPT_HELP},
        };
        const size_t n_common = sizeof(common) / sizeof(common[0]);
        struct option all[BENCH_MAX_OPTIONS];
        bool rounds_set = false;
        size_t n = 0;
        int c;

        for (; n < n_common; n++) {
                all[n] = common[n];
                if (all[n].val == BENCH_OPT_JSON && cli->json_stdout)
                        all[n].has_arg = no_argument;
        }
        for (size_t i = 0; cli->own && cli->own[i].name; i++) {
                if (n + 1 >= BENCH_MAX_OPTIONS) {
                        fprintf(stderr, "%s: too many options for BENCH_MAX_OPTIONS\n", cli->prog);
                        return -EINVAL;
                }
                all[n++] = cli->own[i];
        }
        all[n] = (struct option){0};

        while ((c = getopt_long(argc, argv, "h", all, NULL)) != -1)
                switch (c) {
                case BENCH_OPT_QUICK:
                        *ret_quick = true;
                        break;
                case BENCH_OPT_JSON:
                        *ret_json = cli->json_stdout ? "-" : optarg;
                        break;
                case BENCH_OPT_ROUNDS:
                        if (bench_parse_rounds(cli->prog, optarg, cli->max_rounds, ret_rounds) < 0)
                                return -EINVAL;
                        rounds_set = true;
                        break;
                case BENCH_OPT_HELP:
                        cli->usage(stdout);
                        exit(EXIT_SUCCESS);
                case '?':
                        cli->usage(stderr);
                        return -EINVAL;
                default:
                        if (cli->take(c, optarg, cli->userdata) < 0)
                                return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "%s: unexpected argument '%s'\n", cli->prog, argv[optind]);
                cli->usage(stderr);
                return -EINVAL;
        }
        if (*ret_quick && !rounds_set)
                *ret_rounds = BENCH_QUICK_ROUNDS;
        return 0;
}

/* "@prog: @option wants @wants, not '@arg'" on stderr, as for --rounds; returns -EINVAL. */
static inline int bench_bad_value(const char *prog, const char *option, const char *wants,
                                  const char *arg) {
        fprintf(stderr, "%s: %s wants %s, not '%s'\n", prog, option, wants, arg);
        return -EINVAL;
}

/* A CPU number this machine could have, for --pin and --cpus: 0, or -EINVAL. */
static inline int bench_parse_cpu(const char *s, int *ret) {
        unsigned v;

        if (bench_parse_uint(s, 0, CPU_SETSIZE - 1, &v) < 0)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

/* "A,B", two CPU numbers for --cpus (they may be the same): 0, or -EINVAL. */
static inline int bench_parse_cpu_pair(const char *s, int *ret_a, int *ret_b) {
        char buf[64], *comma;
        int a, b;

        if (strlen(s) >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, strlen(s) + 1);
        comma = strchr(buf, ',');
        if (!comma)
                return -EINVAL;
        *comma = '\0';
        if (bench_parse_cpu(buf, &a) < 0 || bench_parse_cpu(comma + 1, &b) < 0)
                return -EINVAL;
        *ret_a = a;
        *ret_b = b;
        return 0;
}

#endif
