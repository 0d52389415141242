/* SPDX-License-Identifier: MIT */
/*
 * Strict parsers for command-line values. strtoul() and friends accept leading blanks, a sign
 * on unsigned numbers and silently stop at junk; a tool that maps and unlinks things must not
 * guess what "12abc" or "-1" meant, so these check every character themselves.
 */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include <memcap/memcap.h>

#include "args.h"
#include "macro.h"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

int args_parse_size(const char *text, uint64_t *ret) {
        uint64_t v;
        int r;

        if (!text || !ret)
                return -EINVAL;
        r = mc_parse_size(text, &v);
        if (r < 0)
                return r == -ERANGE ? -ERANGE : -EINVAL;
        *ret = v;
        return 0;
}

int args_parse_uint(const char *text, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (!text || !ret || !*text)
                return -EINVAL;
        for (const char *p = text; *p; p++) {
                if (!is_digit(*p))
                        return -EINVAL;
                if (MC_MUL_OVERFLOW(v, 10, &v) || MC_ADD_OVERFLOW(v, (uint64_t) (*p - '0'), &v))
                        return -ERANGE;
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

bool args_is_negative_number(const char *text) {
        if (!text || text[0] != '-' || !text[1])
                return false;
        for (const char *p = text + 1; *p; p++)
                if (!is_digit(*p))
                        return false;
        return true;
}

int args_parse_pid(const char *text, pid_t *ret) {
        uint64_t v;
        int r;

        if (!text || !ret)
                return -EINVAL;
        if (args_is_negative_number(text))
                return -ERANGE;
        r = args_parse_uint(text, INT32_MAX, &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -ERANGE;
        *ret = (pid_t) v;
        return 0;
}

int args_parse_mode(const char *text, unsigned *ret) {
        unsigned v = 0;

        if (!text || !ret || !*text)
                return -EINVAL;
        for (const char *p = text; *p; p++) {
                if (*p < '0' || *p > '7')
                        return -EINVAL;
                v = v * 8 + (unsigned) (*p - '0');
                if (v > 07777)
                        return -ERANGE;
        }
        *ret = v;
        return 0;
}
