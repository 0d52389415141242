/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * UTF-8 validation and JSON string escaping: what makes any bytes safe to put between the quotes
 * of a JSON string. The audit log and memcapd's replies promise one line of valid JSON per record
 * or reply whatever a client or caller put into a path or a message; this is the one place that
 * promise is kept.
 *
 * Valid UTF-8 is strict RFC 3629 (no overlong forms, no surrogates, nothing above U+10FFFF),
 * which is what strict readers such as jansson accept. json_escape() copies valid UTF-8 as it
 * is; writes '"' and '\\' as \" and \\, the C0 controls as \b \f \n \r \t or \u00XX; and every
 * byte that is not part of valid UTF-8 as \u00XX with the byte's value, so that it stays visible
 * and recoverable (a genuine U+0080..U+00FF in the input stays raw UTF-8 and can still be told
 * apart). The output is therefore valid UTF-8 without a raw control character, and so never
 * breaks a line. DEL (0x7f) is valid JSON and copied, unless JSON_ESCAPE_DEL asks for \u007f.
 *
 * Depends on libc only. No state and no allocation: every function is thread-safe and
 * async-signal-safe, and none reads outside @s[0..@n), whatever the bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/*
 * The length (1-4) of the valid UTF-8 sequence at the start of @s[0..@n), 1 for any ASCII byte
 * (NUL included); 0 when @n is 0 or the bytes there are not valid UTF-8, which includes a
 * sequence that @n cuts short.
 */
size_t utf8_sequence_length(const char *s, size_t n);

/* As utf8_sequence_length(), and on success (not 0) the code point in *@ret_cp. */
size_t utf8_decode(const char *s, size_t n, uint32_t *ret_cp);

/*
 * Write the code point @cp to @buf as UTF-8 (1-4 bytes) and return the length. It encodes what
 * it is given, surrogates included, so that a decoder of \u escapes can pass on what it read
 * and leave the judging to a validator; @cp must not exceed U+10FFFF.
 */
size_t utf8_encode(uint32_t cp, char buf[static 4]);

/* Whether all of @s[0..@n) is valid UTF-8 (an empty string is). */
bool utf8_is_valid(const char *s, size_t n);

/*
 * How many bytes (0-3) at the end of @s[0..@n) are the start of a valid sequence that the end
 * cuts short: what a reader of a stream in chunks keeps back until the next chunk, so that the
 * cut does not turn one character into invalid bytes.
 */
size_t utf8_incomplete_tail(const char *s, size_t n);

/* ---- JSON string escaping ------------------------------------------------------------------- */

typedef enum json_escape_flags {
        JSON_ESCAPE_DEL = 1 << 0, /* write DEL (0x7f) as \u007f: logs are read on terminals */
} json_escape_flags;

/* json_escape() writes at most this many bytes per byte of input (\u00XX). */
#define JSON_ESCAPE_MAX_PER_BYTE 6

/*
 * The most bytes json_escape() writes for @n bytes of input, in *@ret; false when that does not
 * fit a size_t (the caller cannot reserve it, so the input is too large to write).
 */
static inline bool json_escape_bound(size_t n, size_t *ret) {
        return !MC_MUL_OVERFLOW(n, (size_t) JSON_ESCAPE_MAX_PER_BYTE, ret);
}

/*
 * The length of the longest prefix of @s[0..@n) that json_escape() copies unchanged: plain
 * ASCII and complete valid UTF-8 sequences. The byte it stops at (if it stops before @n) is one
 * for json_escape_byte(). Plain ASCII goes eight bytes per step.
 */
size_t json_escape_span(const char *s, size_t n, unsigned flags);

/*
 * Write the escape of the single byte @c to @dst: two bytes (\" \\ \b \f \n \r \t) or six
 * (\u00XX, lower-case hex). Returns the end of what was written.
 */
char *json_escape_byte(char *dst, unsigned char c);

/*
 * Write the body of a JSON string (no quotes) for @s[0..@n) to @dst, which must have room for
 * json_escape_bound(@n) bytes: no check is made per byte, so writers can reserve once for a
 * whole reply. Returns the end of what was written. @s may be NULL when @n is 0.
 *
 * Writers that grow their buffer as they go (a record on the stack that moves to the heap only
 * when it must) can do the same with json_escape_span() and json_escape_byte() and reserve only
 * JSON_ESCAPE_MAX_PER_BYTE bytes per escape.
 */
char *json_escape(char *dst, const char *s, size_t n, unsigned flags);
