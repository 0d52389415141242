/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Output for people and for programs: human sizes, terminal-safe strings, aligned tables,
 * JSON documents and hexdumps (base64 is in base64.h).
 *
 * Every function that writes to a FILE returns 0 or a negative errno; callers check the final
 * fflush() too, because a full disk or a closed pipe must not look like success.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "macro.h"

/* ---- human sizes --------------------------------------------------------------------------- */

/* Enough for "1023.9 EiB" and, with room for what the compiler cannot prove, any value. */
#define FORMAT_SIZE_MAX 64

/*
 * @bytes as people read it: "512 B", "4.0 KiB", "1.5 MiB", ... "16.0 EiB" (binary units, one
 * decimal, rounded down so that a size never looks bigger than it is). Returns @buf.
 */
char *format_size(uint64_t bytes, char buf[static FORMAT_SIZE_MAX]);

/* ---- terminal-safe strings ------------------------------------------------------------------ */

/*
 * A copy of @s (@n bytes) safe to print on a terminal: control characters (C0, DEL, C1) and
 * bytes that are not valid UTF-8 become "\xNN"; valid UTF-8 text is kept. Returns a malloc'd
 * string, or NULL when out of memory.
 */
char *str_escape(const char *s, size_t n);

/* str_escape() of a NUL-terminated string. */
static inline char *str_escape_cstr(const char *s) {
        return str_escape(s, strlen(s));
}

/* Columns @s takes on a terminal, counting one per UTF-8 character (no wide-glyph tables). */
size_t str_width(const char *s);

/* ---- aligned tables -------------------------------------------------------------------------- */

typedef struct table table;

/* A table with @n_cols columns named by @headers (copied). NULL when out of memory. */
table *table_new(size_t n_cols, const char *const *headers);
table *table_free(table *t);

/* Right-align column @col (numbers, sizes). */
void table_set_right(table *t, size_t col);

/*
 * Append a row of exactly the table's column count; each cell is escaped (str_escape()) and
 * copied; a NULL cell prints as "-". Returns 0 or -ENOMEM.
 */
int table_add_row(table *t, const char *const *cells);

size_t table_rows(const table *t);

/* Print header and rows with columns two spaces apart, no trailing blanks. 0 or -errno. */
int table_print(const table *t, FILE *f);

/*
 * table_print(), then the summary line @fmt makes ("3 mappings, 12K total"; the newline is
 * added). 0 or -errno.
 */
int table_print_summary(const table *t, FILE *f, const char *fmt, ...) _printf_(3, 4);

static inline void table_freep(table **t) {
        table_free(*t);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

/* Every JSON document the tools print is indented by two spaces, keys in insertion order. */
#define JSON_OUTPUT_FLAGS (JSON_INDENT(2) | JSON_ENCODE_ANY)

/* Print @doc followed by a newline. Returns 0, -ENOMEM or -errno of the write. */
int json_print(const json_t *doc, FILE *f);

/*
 * A JSON string of @s (@n bytes) even when @s is not valid UTF-8 (a file name, say): invalid
 * bytes become U+FFFD. NULL only when out of memory.
 */
json_t *json_string_lossy(const char *s, size_t n);

/* A JSON integer for @v, or its decimal string when it exceeds JSON's exact int64 range. */
json_t *json_u64(uint64_t v);

/* Add to @obj, taking the reference of @value; -ENOMEM when @value is NULL or adding fails. */
int json_add(json_t *obj, const char *key, json_t *value);

/* json_decrefp() comes with jansson (>= 2.9) for GCC and Clang. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* ---- hexdump ------------------------------------------------------------------------------ */

/*
 * A streaming `hexdump -C`: 16 bytes a line, offset first, hex in two groups of eight, then the
 * printable characters between bars, and the end offset on a line of its own. With @squeeze,
 * runs of identical full lines print as one "*" line, as hexdump does. Lines start at @offset
 * (the absolute offset of the first byte), so a dump of part of a file shows file offsets.
 */
typedef struct hexdump {
        uint64_t offset; /* of line[0] */
        unsigned char line[16];
        size_t fill;
        unsigned char prev[16];
        bool have_prev;
        bool starred;
        bool squeeze;
        bool any; /* anything was fed: an empty input prints nothing at all */
} hexdump;

void hexdump_init(hexdump *h, uint64_t offset, bool squeeze);
int hexdump_feed(hexdump *h, const void *data, size_t len, FILE *f);
int hexdump_finish(hexdump *h, FILE *f);
