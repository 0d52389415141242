/* SPDX-License-Identifier: MIT */
/*
 * fnmatch(3) with flags 0, which is all the policy asks of it (shared memory name patterns):
 * '*' and '?' match any character, '/' included; '[...]' a set or range, '!' or '^' negating;
 * a backslash quotes the next character.
 */

#include <fnmatch.h>
#include <stdbool.h>
#include <stddef.h>

/* Match the set at @p (after its '[') against @c; *@end is set past its ']'. */
static bool set_match(const char *p, char c, const char **end, bool *ok) {
        bool neg = false, hit = false;

        if (*p == '!' || *p == '^') {
                neg = true;
                p++;
        }
        for (bool first = true; *p && (first || *p != ']'); first = false) {
                char lo = *p == '\\' && p[1] ? *++p : *p;
                char hi = lo;

                p++;
                if (p[0] == '-' && p[1] && p[1] != ']') {
                        hi = p[1] == '\\' && p[2] ? p[2] : p[1];
                        p += p[1] == '\\' && p[2] ? 3 : 2;
                }
                if (lo <= c && c <= hi)
                        hit = true;
        }
        *ok = *p == ']';
        *end = *p ? p + 1 : p;
        return hit != neg;
}

int fnmatch(const char *pattern, const char *string, int flags) {
        const char *p = pattern, *s = string, *star_p = NULL, *star_s = NULL;

        (void) flags;
        while (*s) {
                const char *next;
                bool ok = false;

                if (*p == '*') {
                        star_p = ++p;
                        star_s = s;
                        continue;
                }
                if (*p == '?') {
                        p++, s++;
                        continue;
                }
                if (*p == '[' && set_match(p + 1, *s, &next, &ok) && ok) {
                        p = next, s++;
                        continue;
                }
                if (*p == '[' && ok)
                        goto backtrack;
                if (*p == '\\' && p[1])
                        p++;
                if (*p == *s) {
                        p++, s++;
                        continue;
                }
        backtrack:
                if (!star_p)
                        return FNM_NOMATCH;
                p = star_p;
                s = ++star_s;
        }
        while (*p == '*')
                p++;
        return *p ? FNM_NOMATCH : 0;
}
