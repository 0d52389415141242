/* SPDX-License-Identifier: MIT */
/*
 * allowed_paths on Windows (path.h). A root or a path is a drive path ("C:\data", "c:/data")
 * or a UNC path ("\\server\share\dir"), either also in its verbatim form ("\\?\C:\data",
 * "\\?\UNC\server\share"), which GetFinalPathNameByHandleW returns. Both separators count,
 * except in a verbatim path, where Windows passes '/' on as part of a name.
 *
 * Components compare as NTFS compares names: case-insensitively, by the system's uppercase
 * table (CompareStringOrdinal), so "C:\DATA\f" is beneath "c:\data" and "C:\data2" is not.
 *
 * What Windows would read differently from how it looks is refused rather than interpreted:
 * a path with a ".." component, or one of dots and spaces only (Win32 drops trailing dots and
 * spaces, so ".. " is ".."), lies beneath no root; a root may not contain them, nor end a
 * component with a dot or a space, nor hold a character no Windows name may hold. Device
 * paths ("\\.\", "\\?\GLOBALROOT"), drive-relative ("C:x") and rooted ("\x") paths are not
 * absolute. Roots are compared as written: an 8.3 short name ("PROGRA~1") matches nothing
 * that is resolved, which is always the long form.
 */

#include <string.h>
#include <windows.h>

#include "path.h"
#include "policy-def.h"

#define BAD_ROOT                                                                                   \
        "a root must be an absolute path: a drive path (C:\\data) or a UNC path "                  \
        "(\\\\server\\share)"

typedef struct winpath {
        bool unc;
        bool verbatim;      /* "\\?\": only '\' separates */
        char drive;         /* unc false: the drive letter, upper case */
        const char *server; /* unc true: server and share, not NUL-terminated */
        size_t server_len;
        const char *share;
        size_t share_len;
        const char *rest; /* the components after the prefix */
} winpath;

static bool is_sep(char c, bool verbatim) {
        return c == '\\' || (!verbatim && c == '/');
}

static bool is_letter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t component_len(const char *s, bool verbatim) {
        size_t n = 0;

        while (s[n] && !is_sep(s[n], verbatim))
                n++;
        return n;
}

/* "server\share[\rest]" after the leading two separators (or "\\?\UNC\"). */
static bool parse_unc(const char *s, winpath *w) {
        w->unc = true;
        w->server = s;
        w->server_len = component_len(s, w->verbatim);
        s += w->server_len;
        if (w->server_len == 0 || !is_sep(*s, w->verbatim))
                return false;
        s++;
        w->share = s;
        w->share_len = component_len(s, w->verbatim);
        w->rest = s + w->share_len;
        return w->share_len > 0;
}

static bool parse(const char *s, winpath *w) {
        memset(w, 0, sizeof(*w));
        if (!s)
                return false;
        if (strncmp(s, "\\\\?\\", 4) == 0) {
                w->verbatim = true;
                s += 4;
                if (strncmp(s, "UNC\\", 4) == 0 || strncmp(s, "unc\\", 4) == 0)
                        return parse_unc(s + 4, w);
                if (!is_letter(s[0]) || s[1] != ':' || (s[2] != '\\' && s[2] != 0))
                        return false; /* \\?\Volume{...}, \\?\GLOBALROOT: not a drive or share */
        } else if (is_sep(s[0], false) && is_sep(s[1], false)) {
                /* "\\.\" and "//?/": the device namespace, no file system path. */
                if ((s[2] == '.' || s[2] == '?') && (is_sep(s[3], false) || s[3] == 0))
                        return false;
                return parse_unc(s + 2, w);
        } else if (!is_letter(s[0]) || s[1] != ':' || !is_sep(s[2], false))
                return false;
        w->drive = (char) (s[0] & ~0x20);
        w->rest = s + 2;
        return true;
}

/* The next component of @w->rest (skipping separators and, outside verbatim paths, "."). */
static bool next_component(winpath *w, const char **ret, size_t *ret_len) {
        for (;;) {
                size_t len;

                while (is_sep(*w->rest, w->verbatim))
                        w->rest++;
                if (*w->rest == 0)
                        return false;
                len = component_len(w->rest, w->verbatim);
                *ret = w->rest;
                *ret_len = len;
                w->rest += len;
                if (!w->verbatim && len == 1 && (*ret)[0] == '.')
                        continue;
                return true;
        }
}

/* Whether Windows could take component @s as a step up: "..", or dots and spaces only. */
static bool climbs(const char *s, size_t len, bool verbatim) {
        size_t dots = 0;

        if (verbatim && memchr(s, '/', len))
                return true; /* no name holds '/': what would Windows make of it? */
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '.')
                        dots++;
                else if (s[i] != ' ')
                        return false;
        }
        /*
         * A lone "." outside a verbatim path is the caller's to skip. Any other run of dots and
         * spaces (". ", " ", "...") is what Win32 trims into ".", ".." or nothing.
         */
        return verbatim || !(len == 1 && dots == 1);
}

/* Whether two UTF-8 names are the same name to NTFS (case-insensitive, its uppercase table). */
static bool same_name(const char *a, size_t alen, const char *b, size_t blen) {
        wchar_t wa[256], wb[256];
        int na, nb;

        if (alen == blen && memcmp(a, b, alen) == 0)
                return true;
        if (alen > 1024 || blen > 1024)
                return false;
        na = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, a, (int) alen, wa, 256);
        nb = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, b, (int) blen, wb, 256);
        return na > 0 && nb > 0 && CompareStringOrdinal(wa, na, wb, nb, TRUE) == CSTR_EQUAL;
}

bool mc__path_absolute(const char *path) {
        winpath w;

        return parse(path, &w);
}

bool mc__path_may_climb(const char *path) {
        winpath w;
        const char *c;
        size_t len;

        if (!parse(path, &w))
                return true;
        if (w.unc && (climbs(w.server, w.server_len, w.verbatim) ||
                      climbs(w.share, w.share_len, w.verbatim)))
                return true;
        while (next_component(&w, &c, &len))
                if (climbs(c, len, w.verbatim))
                        return true;
        return false;
}

bool mc__path_beneath(const char *root, const char *path) {
        winpath r, p;
        const char *rc, *pc;
        size_t rl, pl;

        if (!parse(root, &r) || !parse(path, &p) || r.unc != p.unc)
                return false;
        if (r.unc ? !same_name(r.server, r.server_len, p.server, p.server_len) ||
                            !same_name(r.share, r.share_len, p.share, p.share_len)
                  : r.drive != p.drive)
                return false;
        while (next_component(&r, &rc, &rl)) {
                if (!next_component(&p, &pc, &pl) || !same_name(rc, rl, pc, pl))
                        return false;
        }
        return true;
}

/* Why @s (a root's component, server or share) cannot be in a root; NULL if it can. */
static const char *bad_component(const char *s, size_t len, bool verbatim) {
        if (climbs(s, len, verbatim))
                return "a root must not contain '..' (nor a name of dots and spaces only)";
        if (s[len - 1] == '.' || s[len - 1] == ' ')
                return "a root's names must not end with a dot or a space (Windows drops them)";
        for (size_t i = 0; i < len; i++)
                if ((unsigned char) s[i] < 0x20 || strchr("<>:\"|?*", s[i]))
                        return "a root must not contain control characters or any of < > : \" | "
                               "? *";
        return NULL;
}

/* Append @sep (if not 0) and @len bytes of @s to @buf of @size at *@n. */
static bool append(char *buf, size_t size, size_t *n, char sep, const char *s, size_t len) {
        if (*n + 1 + len >= size)
                return false;
        if (sep)
                buf[(*n)++] = sep;
        memcpy(buf + *n, s, len);
        *n += len;
        return true;
}

const char *mc__policy_normalize_root(const char *root, char *buf, size_t size) {
        static const char too_long[] = "a root must be shorter than PATH_MAX";
        winpath w;
        const char *c, *bad;
        size_t len, n = 0;

        if (!parse(root, &w))
                return BAD_ROOT;
        if (w.unc) {
                if ((bad = bad_component(w.server, w.server_len, w.verbatim)) ||
                    (bad = bad_component(w.share, w.share_len, w.verbatim)))
                        return bad;
                if (!append(buf, size, &n, 0, "\\", 1) ||
                    !append(buf, size, &n, '\\', w.server, w.server_len) ||
                    !append(buf, size, &n, '\\', w.share, w.share_len))
                        return too_long;
        } else if (!append(buf, size, &n, 0, (char[]){w.drive, ':'}, 2))
                return too_long;
        while (next_component(&w, &c, &len)) {
                if ((bad = bad_component(c, len, w.verbatim)))
                        return bad;
                if (!append(buf, size, &n, '\\', c, len))
                        return too_long;
        }
        if (!w.unc && n == 2 && !append(buf, size, &n, 0, "\\", 1))
                return too_long;
        buf[n] = 0;
        return NULL;
}
