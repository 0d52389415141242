/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Parsing of command-line values. Every parser takes the whole string: leading or trailing
 * junk, signs where none belong, and values that do not fit are errors, never clamped.
 * Each returns 0, -EINVAL (malformed) or -ERANGE (does not fit), and leaves *ret untouched on
 * failure.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A size as mc_parse_size() reads it ("4096", "4KiB", "2G"). */
int args_parse_size(const char *text, uint64_t *ret);

/* A decimal unsigned integer no larger than @max. */
int args_parse_uint(const char *text, uint64_t max, uint64_t *ret);

/*
 * A process id: decimal, 1..INT32_MAX. "-5" is -ERANGE (it is a number, just not a pid), "x"
 * or "" is -EINVAL.
 */
int args_parse_pid(const char *text, pid_t *ret);

/* Permission bits in octal ("600", "0640"), at most 07777. */
int args_parse_mode(const char *text, unsigned *ret);

/* Whether @text looks like a negative number ("-1"), which getopt would take for an option. */
bool args_is_negative_number(const char *text);
