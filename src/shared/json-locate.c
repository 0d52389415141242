/* SPDX-License-Identifier: MIT */
/*
 * json_locate(): a scanner that walks JSON text just far enough to find one value, so that an
 * error about that value can name its line and column. It trusts nothing: nesting is bounded,
 * every read is inside the text, and anything it does not understand ends the search.
 */

#include <string.h>

#include "json-locate.h"

#define MAX_DEPTH 64

typedef struct scan {
        const char *s;
        size_t len, pos;
} scan;

static void skip_ws(scan *sc) {
        while (sc->pos < sc->len && strchr(" \t\r\n", sc->s[sc->pos]) && sc->s[sc->pos])
                sc->pos++;
}

/* Past a string starting at pos ('"'); its raw contents in [*ret_start, *ret_end). */
static bool skip_string(scan *sc, size_t *ret_start, size_t *ret_end) {
        if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
                return false;
        *ret_start = ++sc->pos;
        while (sc->pos < sc->len && sc->s[sc->pos] != '"') {
                if (sc->s[sc->pos] == '\\')
                        sc->pos++;
                sc->pos++;
        }
        if (sc->pos >= sc->len)
                return false;
        *ret_end = sc->pos++;
        return true;
}

static bool skip_value(scan *sc, unsigned depth);

/* Past the members (object) or elements (array) up to and including @close. */
static bool skip_container(scan *sc, char close, unsigned depth) {
        size_t a, b;

        sc->pos++;
        skip_ws(sc);
        if (sc->pos < sc->len && sc->s[sc->pos] == close) {
                sc->pos++;
                return true;
        }
        for (;;) {
                if (close == '}') {
                        if (!skip_string(sc, &a, &b))
                                return false;
                        skip_ws(sc);
                        if (sc->pos >= sc->len || sc->s[sc->pos++] != ':')
                                return false;
                }
                if (!skip_value(sc, depth + 1))
                        return false;
                skip_ws(sc);
                if (sc->pos >= sc->len)
                        return false;
                if (sc->s[sc->pos] == close) {
                        sc->pos++;
                        return true;
                }
                if (sc->s[sc->pos++] != ',')
                        return false;
                skip_ws(sc);
        }
}

static bool skip_value(scan *sc, unsigned depth) {
        size_t a, b;

        if (depth > MAX_DEPTH)
                return false;
        skip_ws(sc);
        if (sc->pos >= sc->len)
                return false;
        switch (sc->s[sc->pos]) {
        case '"':
                return skip_string(sc, &a, &b);
        case '{':
                return skip_container(sc, '}', depth);
        case '[':
                return skip_container(sc, ']', depth);
        default:
                /* A number or a literal: up to the next delimiter. */
                a = sc->pos;
                while (sc->pos < sc->len && !strchr(" \t\r\n,]}", sc->s[sc->pos]))
                        sc->pos++;
                return sc->pos > a;
        }
}

/* In the object at pos, move to the value of member @key. */
static bool find_member(scan *sc, const char *key) {
        size_t klen = strlen(key), a, b;

        skip_ws(sc);
        if (sc->pos >= sc->len || sc->s[sc->pos] != '{')
                return false;
        sc->pos++;
        for (;;) {
                skip_ws(sc);
                if (!skip_string(sc, &a, &b))
                        return false;
                skip_ws(sc);
                if (sc->pos >= sc->len || sc->s[sc->pos++] != ':')
                        return false;
                skip_ws(sc);
                if (b - a == klen && memcmp(sc->s + a, key, klen) == 0)
                        return true;
                if (!skip_value(sc, 1))
                        return false;
                skip_ws(sc);
                if (sc->pos >= sc->len || sc->s[sc->pos++] != ',')
                        return false;
        }
}

bool json_locate(const char *text, size_t len, const char *const *keys, size_t n_keys,
                 int *ret_line, int *ret_column) {
        scan sc = {text, len, 0};
        int line = 1, column = 1;

        if (!text)
                return false;
        for (size_t i = 0; i < n_keys; i++)
                if (!find_member(&sc, keys[i]))
                        return false;
        for (size_t i = 0; i < sc.pos; i++) {
                unsigned char c = (unsigned char) text[i];

                if (c == '\n') {
                        line++;
                        column = 1;
                } else if ((c & 0xc0) != 0x80)
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
        return true;
}
