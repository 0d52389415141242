/* SPDX-License-Identifier: MIT */
/*
 * Output helpers for the tools.
 *
 * Anything printed for a person may come from an untrusted source: file names from /proc or
 * /dev/shm, strings out of an audit log someone else wrote. Such text goes through
 * str_escape() first so that it can neither forge lines nor send escape sequences to the
 * terminal. JSON output stays valid even for names that are not UTF-8 (json_string_lossy()).
 *
 * Sections: human sizes, terminal-safe strings, tables, JSON, hexdump. Base64 lives in base64.c;
 * UTF-8 decoding in src/lib/util/json-escape.c.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json-escape.h" /* UTF-8 decoding */
#include "output.h"

/* ---- human sizes --------------------------------------------------------------------------- */

char *format_size(uint64_t bytes, char buf[static FORMAT_SIZE_MAX]) {
        static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        unsigned u = 0;

        if (bytes < 1024) {
                snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 " B", bytes);
                return buf;
        }
        while (u + 1 < ELEMENTSOF(units) && (bytes >> (10 * (u + 2))) > 0)
                u++;
        /* Whole units and tenths, both rounded down; the remainder times ten fits 64 bits. */
        unsigned shift = 10 * (u + 1);
        uint64_t whole = bytes >> shift;
        uint64_t rest = bytes - (whole << shift);
        uint64_t tenths = (rest * 10) >> shift;
        snprintf(buf, FORMAT_SIZE_MAX, "%" PRIu64 ".%" PRIu64 " %s", whole, tenths, units[u]);
        return buf;
}

/* ---- terminal-safe strings ------------------------------------------------------------------ */

static bool is_control(uint32_t cp) {
        return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

char *str_escape(const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *p = (const unsigned char *) s;
        size_t cap, o = 0;
        char *out;

        /* Each input byte becomes at most four output bytes ("\xNN"). */
        if (n > (SIZE_MAX - 1) / 4)
                return NULL;
        cap = n * 4 + 1;
        out = malloc(cap);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                uint32_t cp = 0;
                size_t len = utf8_decode(s + i, n - i, &cp);

                if (len > 0 && !is_control(cp)) {
                        memcpy(out + o, p + i, len);
                        o += len;
                        i += len;
                        continue;
                }
                /* A control character or a byte that starts no valid sequence: one at a time. */
                if (len == 0)
                        len = 1;
                for (size_t k = 0; k < len; k++) {
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[p[i + k] >> 4];
                        out[o++] = hex[p[i + k] & 0xf];
                }
                i += len;
        }
        out[o] = 0;
        return out;
}

size_t str_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        w++;
        return w;
}

/* ---- tables ------------------------------------------------------------------------------ */

struct table {
        size_t n_cols;
        size_t n_rows; /* including the header row */
        size_t cap_rows;
        char ***rows;
        bool *right;
};

static void row_free(char **row, size_t n_cols) {
        if (!row)
                return;
        for (size_t i = 0; i < n_cols; i++)
                free(row[i]);
        free(row);
}

table *table_free(table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows; i++)
                row_free(t->rows[i], t->n_cols);
        free(t->rows);
        free(t->right);
        free(t);
        return NULL;
}

table *table_new(size_t n_cols, const char *const *headers) {
        _cleanup_(table_freep) table *t = NULL;

        if (n_cols == 0 || !headers)
                return NULL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return NULL;
        t->n_cols = n_cols;
        t->right = calloc(n_cols, sizeof(bool));
        if (!t->right)
                return NULL;
        if (table_add_row(t, headers) < 0)
                return NULL;
        return TAKE_PTR(t);
}

void table_set_right(table *t, size_t col) {
        if (t && col < t->n_cols)
                t->right[col] = true;
}

int table_add_row(table *t, const char *const *cells) {
        char **row;

        if (!t || !cells)
                return -EINVAL;
        if (t->n_rows == t->cap_rows) {
                size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
                char ***rows;

                if (cap > SIZE_MAX / sizeof(char **))
                        return -ENOMEM;
                rows = realloc(t->rows, cap * sizeof(char **));
                if (!rows)
                        return -ENOMEM;
                t->rows = rows;
                t->cap_rows = cap;
        }
        row = calloc(t->n_cols, sizeof(char *));
        if (!row)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_cols; i++) {
                const char *c = cells[i] ? cells[i] : "-";

                row[i] = str_escape(c, strlen(c));
                if (!row[i]) {
                        row_free(row, t->n_cols);
                        return -ENOMEM;
                }
        }
        t->rows[t->n_rows++] = row;
        return 0;
}

size_t table_rows(const table *t) {
        return t && t->n_rows > 0 ? t->n_rows - 1 : 0;
}

static int put_spaces(size_t n, FILE *f) {
        for (size_t i = 0; i < n; i++)
                if (fputc(' ', f) == EOF)
                        return -EIO;
        return 0;
}

int table_print(const table *t, FILE *f) {
        _cleanup_free_ size_t *width = NULL;

        if (!t)
                return -EINVAL;
        width = calloc(t->n_cols, sizeof(size_t));
        if (!width)
                return -ENOMEM;
        for (size_t r = 0; r < t->n_rows; r++)
                for (size_t c = 0; c < t->n_cols; c++)
                        width[c] = MC_MAX(width[c], str_width(t->rows[r][c]));

        for (size_t r = 0; r < t->n_rows; r++) {
                for (size_t c = 0; c < t->n_cols; c++) {
                        const char *cell = t->rows[r][c];
                        size_t pad = width[c] - str_width(cell);
                        bool last = c + 1 == t->n_cols;

                        if (c > 0 && put_spaces(2, f) < 0)
                                return -EIO;
                        if (t->right[c] && put_spaces(pad, f) < 0)
                                return -EIO;
                        if (fputs(cell, f) == EOF)
                                return -EIO;
                        if (!t->right[c] && !last && put_spaces(pad, f) < 0)
                                return -EIO;
                }
                if (fputc('\n', f) == EOF)
                        return -EIO;
        }
        return 0;
}

int table_print_summary(const table *t, FILE *f, const char *fmt, ...) {
        va_list ap;
        int r;

        r = table_print(t, f);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        r = vfprintf(f, fmt, ap);
        va_end(ap);
        if (r < 0 || fputc('\n', f) == EOF)
                return -EIO;
        return 0;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

int json_print(const json_t *doc, FILE *f) {
        if (!doc)
                return -ENOMEM;
        if (json_dumpf(doc, f, JSON_OUTPUT_FLAGS) < 0)
                return ferror(f) ? -EIO : -ENOMEM;
        if (fputc('\n', f) == EOF)
                return -EIO;
        return 0;
}

json_t *json_string_lossy(const char *s, size_t n) {
        static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
        const unsigned char *p = (const unsigned char *) s;
        _cleanup_free_ char *buf = NULL;
        size_t o = 0;

        if (n > SIZE_MAX / 3)
                return NULL;
        buf = malloc(n * 3 + 1);
        if (!buf)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence_length(s + i, n - i);

                if (len == 0) {
                        memcpy(buf + o, replacement, 3);
                        o += 3;
                        i++;
                } else {
                        memcpy(buf + o, p + i, len);
                        o += len;
                        i += len;
                }
        }
        return json_stringn(buf, o);
}

json_t *json_u64(uint64_t v) {
        char buf[24];

        if (v <= (uint64_t) INT64_MAX)
                return json_integer((json_int_t) v);
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return json_string(buf);
}

int json_add(json_t *obj, const char *key, json_t *value) {
        if (!value)
                return -ENOMEM;
        if (json_object_set_new(obj, key, value) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- hexdump ------------------------------------------------------------------------------ */

void hexdump_init(hexdump *h, uint64_t offset, bool squeeze) {
        *h = (hexdump){.offset = offset, .squeeze = squeeze};
}

static int hexdump_line(hexdump *h, FILE *f) {
        static const char hex[] = "0123456789abcdef";
        char line[128];
        int n;

        if (h->squeeze && h->fill == 16 && h->have_prev && memcmp(h->line, h->prev, 16) == 0) {
                if (!h->starred && fputs("*\n", f) == EOF)
                        return -EIO;
                h->starred = true;
                return 0;
        }
        h->starred = false;

        n = snprintf(line, sizeof(line), "%08" PRIx64 "  ", h->offset);
        if (n < 0 || (size_t) n >= sizeof(line) - 80)
                return -EINVAL;
        size_t o = (size_t) n;
        for (size_t i = 0; i < 16; i++) {
                if (i < h->fill) {
                        line[o++] = hex[h->line[i] >> 4];
                        line[o++] = hex[h->line[i] & 0xf];
                } else {
                        line[o++] = ' ';
                        line[o++] = ' ';
                }
                line[o++] = ' ';
                if (i == 7)
                        line[o++] = ' ';
        }
        line[o++] = ' ';
        line[o++] = '|';
        for (size_t i = 0; i < h->fill; i++)
                line[o++] = h->line[i] >= 0x20 && h->line[i] < 0x7f ? (char) h->line[i] : '.';
        line[o++] = '|';
        line[o++] = '\n';
        if (fwrite(line, 1, o, f) != o)
                return -EIO;
        return 0;
}

int hexdump_feed(hexdump *h, const void *data, size_t len, FILE *f) {
        const unsigned char *p = data;

        while (len > 0) {
                size_t n = MC_MIN(len, 16 - h->fill);
                int r;

                memcpy(h->line + h->fill, p, n);
                h->fill += n;
                h->any = true;
                p += n;
                len -= n;
                if (h->fill < 16)
                        break;
                r = hexdump_line(h, f);
                if (r < 0)
                        return r;
                memcpy(h->prev, h->line, 16);
                h->have_prev = true;
                h->offset += 16;
                h->fill = 0;
        }
        return 0;
}

int hexdump_finish(hexdump *h, FILE *f) {
        if (!h->any)
                return 0;
        if (h->fill > 0) {
                int r = hexdump_line(h, f);
                if (r < 0)
                        return r;
                h->offset += h->fill;
                h->fill = 0;
        }
        if (fprintf(f, "%08" PRIx64 "\n", h->offset) < 0)
                return -EIO;
        return 0;
}
