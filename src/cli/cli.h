/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the memcap subcommands share: the dispatch table entry, the context every command that
 * touches memory creates (with the global --policy and --audit applied), and the usage-error
 * and option-error conventions (exit status 2, a hint to --help).
 */

#include <getopt.h>
#include <stdio.h>

#include <memcap/memcap.h>

#include "args.h"
#include "error-util.h"
#include "output.h"
#include "macro.h"

/*
 * A subcommand. @argv[0] is the command's name; options follow in any order (getopt_long).
 * Returns the process exit status.
 */
typedef int (*cli_run_fn)(int argc, char **argv);

typedef struct cli_command {
        const char *name;
        cli_run_fn run;
        const char *summary; /* one line for `memcap --help` */
} cli_command;

int cmd_help(int argc, char **argv);
int cmd_maps(int argc, char **argv);
int cmd_map(int argc, char **argv);
int cmd_shm(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_client(int argc, char **argv);
int cmd_signal(int argc, char **argv);

/*
 * A new context for this command, with the policy of --policy and the audit sink of --audit
 * (which it takes: call once per process). Returns 0 or -errno with @err filled.
 */
int cli_ctx_new(mc_ctx **ret, mc_error *err);

/*
 * Print "memcap: <message>" and "Try 'memcap <cmd> --help'." on stderr; returns EXIT_USAGE.
 * @cmd may be NULL for the global level.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);

/*
 * A usage error for the value @value the user gave to @what (an option or an operand): "invalid
 * <what> '<value>': expected <expected>", @value escaped for the terminal. Returns EXIT_USAGE.
 */
int cli_invalid_value(const char *cmd, const char *what, const char *value, const char *expected);

/*
 * The same for a parser's failure @r: "<what> '<value>' is too large" when @r is -ERANGE, else
 * cli_invalid_value()'s message. Returns EXIT_USAGE.
 */
int cli_value_error(const char *cmd, int r, const char *what, const char *value,
                    const char *expected);

/*
 * Report @value as an invalid process id, @expected naming what is valid: InvalidArgument, not a
 * usage error. Returns the exit status.
 */
int cli_invalid_pid(const char *value, const char *expected);

/*
 * A size with a binary unit (args_parse_size()) of at most @max for @what, in *@ret; 0, or
 * EXIT_USAGE after saying why.
 */
int cli_parse_size(const char *cmd, const char *what, const char *text, uint64_t max,
                   uint64_t *ret);

/*
 * The one operand a command takes after its options, argv[optind], in *@ret; 0, or EXIT_USAGE
 * after saying "missing <operand>" (@operand "FILE") or "too many arguments", as
 * cli_parse_simple() does.
 */
int cli_one_operand(const char *cmd, int argc, char **argv, const char *operand, const char **ret);

/*
 * Report what getopt_long() returned for a bad option (@c is '?' or ':'), with the offending
 * argument named; returns EXIT_USAGE.
 */
int cli_option_error(const char *cmd, int c, char **argv);

/*
 * The default of a command's option loop, for what getopt_long() returned that is not the
 * command's own: --help (@c 'h') prints @help and returns 0, the command's exit status; anything
 * else is a bad option, reported as cli_option_error() does (EXIT_USAGE).
 */
int cli_other_option(const char *cmd, int c, char **argv, void (*help)(void));

/*
 * Reset getopt for a new argument vector: glibc needs optind = 0 to forget the state of a
 * previous scan (a half-consumed cluster of short options).
 */
static inline void cli_getopt_reset(void) {
        optind = 0;
        opterr = 0;
}

/* A subcommand of a command ("shm create"). */
typedef struct cli_subcommand {
        const char *name;
        cli_run_fn run;
} cli_subcommand;

/*
 * Run the subcommand @argv[1] of command @cmd: its function gets argv from the subcommand's
 * name on. "--help", "-h" and "help" call @help. A missing or unknown subcommand is a usage
 * error that lists @names (e.g. "create, ls, info or rm").
 */
int cli_run_subcommand(const char *cmd, const cli_subcommand *subs, size_t n_subs,
                       const char *names, void (*help)(void), int argc, char **argv);

/*
 * The options of a command that takes only --help and, when @json is not NULL, --json (which sets
 * *@json), then exactly @n_operands operands, @operand naming them in "missing <operand>".
 * Returns 0 to go on (operands from argv[optind]), CLI_HELP_SHOWN after printing @help, or
 * EXIT_USAGE after a usage error.
 */
int cli_parse_simple(const char *cmd, int argc, char **argv, void (*help)(void), bool *json,
                     int n_operands, const char *operand);

#define CLI_HELP_SHOWN (-1)

/* Print "memcap: out of memory" and return the exit status of OutOfMemory. */
int cli_oom_exit(void);

/*
 * The exit status of a command whose last step was printing, @r as the printer returned it: 0, or
 * the failure (-errno) reported as "<doing>: <strerror>" with the kind of its errno.
 */
int cli_print_status(int r, const char *doing);

/* Flush stdout and turn a failed write into Io (a full disk or a closed pipe). 0 or exit. */
int cli_finish_output(void);

/* ---- dump.c: bytes on standard output ------------------------------------------------------ */

typedef enum dump_mode {
        DUMP_HEX,  /* like `hexdump -C`, offsets counted from dump_init()'s */
        DUMP_RAW,  /* the bytes themselves */
        DUMP_TEXT, /* newlines and tabs kept, the rest through str_escape(), a final newline added
                    */
} dump_mode;

/* A dump in progress: feed it chunks in order, then finish it. */
typedef struct dump {
        dump_mode mode;
        hexdump hex;
        unsigned char carry[4]; /* DUMP_TEXT: the start of a character the last chunk cut */
        size_t n_carry;
        char last; /* DUMP_TEXT: the last character written, 0 before any */
} dump;

void dump_init(dump *d, dump_mode mode, uint64_t offset, bool squeeze);

/* Print @n bytes. 0, -ENOMEM, or the -errno of the failed write (-EIO when it gave none). */
int dump_feed(dump *d, const void *data, size_t n);

/* Print what is pending (a hexdump's last line and end offset, a text's final newline). */
int dump_finish(dump *d);

/*
 * Fill @err for a failed write to standard output, @r as dump_feed() returns it: OutOfMemory for
 * -ENOMEM, else the kind of the errno. Returns a negative errno.
 */
int cli_write_error(mc_error *err, int r);

/*
 * Dump @length bytes of mapping @m from byte @start into @d, then finish it. The bytes are
 * copied out chunk by chunk with mc_map_read(): a file truncated under the dump is Io, not
 * SIGBUS. On failure what was printed is flushed first. Returns 0 or -errno with @err filled.
 */
int dump_mapping(mc_ctx *ctx, const mc_mapping *m, size_t start, size_t length, dump *d,
                 mc_error *err);

/* ---- cleanup ----------------------------------------------------------------------------------
 */

static inline void mc_ctx_freep(mc_ctx **ctx) {
        mc_ctx_free(*ctx);
}
static inline void mc_policy_freep(mc_policy **p) {
        mc_policy_free(*p);
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)
