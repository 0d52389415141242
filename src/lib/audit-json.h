/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The audit record's JSON writer (audit-json.c): a buffer that starts on the caller's stack,
 * the scalars, and the strings, escaped so that a record is always exactly one line of valid
 * JSON whatever bytes a caller put into a path or a name. Shared by the record writers
 * (audit.c); no jansson, no printf, no locale, no allocation for a typical record.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/macro.h"

/*
 * A record is built in the caller's stack buffer and moves to one heap buffer only when it
 * outgrows it (long paths). After an allocation failure every append is a no-op and the record
 * is counted as dropped: a record is never truncated.
 */
typedef struct mc__jbuf {
        char *p;
        size_t len;
        size_t cap;
        bool heap;
        bool oom;
} mc__jbuf;

/* Grow @b for @n more bytes; false, and the record lost, when memory runs out. */
bool mc__jb_grow(mc__jbuf *b, size_t n);

static inline void jb_init(mc__jbuf *b, char *stack, size_t size) {
        *b = (mc__jbuf){.p = stack, .cap = size};
}

static inline void jb_done(mc__jbuf *b) {
        if (b->heap)
                free(b->p);
        b->p = NULL;
}

/* Room for @n more bytes; false once the record is lost. */
static inline bool jb_reserve(mc__jbuf *b, size_t n) {
        if (_likely_(b->cap - b->len >= n))
                return true;
        return mc__jb_grow(b, n);
}

static inline void jb_put(mc__jbuf *b, const char *s, size_t n) {
        if (!jb_reserve(b, n))
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
}

static inline void jb_putc(mc__jbuf *b, char c) {
        if (!jb_reserve(b, 1))
                return;
        b->p[b->len++] = c;
}

/* A string literal: its length is known at compile time. */
#define jb_lit(b, s) jb_put((b), "" s, sizeof(s) - 1)

/* Decimal digits of @v written backwards, ending at @end; returns the first digit. */
char *mc__fmt_u64(char *end, uint64_t v);

/* A signed integer. */
void mc__jb_i64(mc__jbuf *b, int64_t v);

/* An unsigned quantity; above INT64_MAX as a string of digits (see audit-json.c). */
void mc__jb_u64(mc__jbuf *b, uint64_t v);

/* "0x7f3a2c000000": addresses and bit sets. */
void mc__jb_hex(mc__jbuf *b, uint64_t v);

/* The escaped body of a JSON string for @n bytes at @str (no quotes). */
void mc__jb_esc(mc__jbuf *b, const char *str, size_t n);

/* A JSON string of @n bytes at @s, or of the C string @s (null for NULL). */
void mc__jb_str_n(mc__jbuf *b, const char *s, size_t n);
void mc__jb_str(mc__jbuf *b, const char *s);

/* A name from the library's own tables, known to need no escaping. */
void mc__jb_name(mc__jbuf *b, const char *s);
