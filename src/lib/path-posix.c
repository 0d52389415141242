/* SPDX-License-Identifier: MIT */
/*
 * allowed_paths on Linux (path.h): '/'-separated, case-sensitive paths. Roots are normalised
 * lexically, never resolved; the paths they are compared with are resolved by file-open.c.
 */

#include <assert.h>
#include <string.h>

#include "path.h"
#include "policy-def.h"

const char *mc__policy_normalize_root(const char *root, char *buf, size_t size) {
        const char *s = root;
        size_t n = 0;

        assert(size >= 2);
        if (!root || root[0] != '/')
                return "a root must be an absolute path";
        for (;;) {
                size_t len;

                while (*s == '/')
                        s++;
                if (*s == 0)
                        break;
                len = strcspn(s, "/");
                if (len == 1 && s[0] == '.') {
                        s += len;
                        continue;
                }
                /*
                 * ".." cannot be removed lexically without possibly changing which directory
                 * is meant (a symlinked parent), so a root must not contain it.
                 */
                if (len == 2 && s[0] == '.' && s[1] == '.')
                        return "a root must not contain '..'";
                if (n + 1 + len >= size)
                        return "a root must be shorter than PATH_MAX";
                buf[n++] = '/';
                memcpy(buf + n, s, len);
                n += len;
                s += len;
        }
        if (n == 0)
                buf[n++] = '/';
        buf[n] = 0;
        return NULL;
}

bool mc__path_absolute(const char *path) {
        return path && path[0] == '/';
}

bool mc__path_may_climb(const char *path) {
        for (const char *s = path; *s;) {
                size_t len;

                while (*s == '/')
                        s++;
                len = strcspn(s, "/");
                if (len == 2 && s[0] == '.' && s[1] == '.')
                        return true;
                s += len;
        }
        return false;
}

/* Skip slashes and "." components. */
static const char *skip_separators(const char *s) {
        for (;;) {
                while (*s == '/')
                        s++;
                if (s[0] == '.' && (s[1] == '/' || s[1] == 0))
                        s++;
                else
                        return s;
        }
}

bool mc__path_beneath(const char *root, const char *path) {
        const char *r = root, *p = path;

        for (;;) {
                size_t rl, pl;

                while (*r == '/')
                        r++;
                p = skip_separators(p);
                if (*r == 0)
                        return true;
                if (*p == 0)
                        return false;
                rl = strcspn(r, "/");
                pl = strcspn(p, "/");
                if (rl != pl || memcmp(r, p, rl) != 0)
                        return false;
                r += rl;
                p += pl;
        }
}
