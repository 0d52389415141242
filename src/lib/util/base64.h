/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Standard base64 (RFC 4648 section 4: alphabet A-Z a-z 0-9 + /, '=' padding), both directions.
 *
 * Decoding is strict, because the text comes from other processes and one byte string must
 * have exactly one encoding: the length must be a multiple of four, only the alphabet is
 * accepted, '=' only as the padding of the last group, no whitespace or line breaks, and the
 * unused low bits before the padding must be zero (RFC 4648 section 3.5). Everything else is
 * -EINVAL, never skipped.
 *
 * All functions are thread-safe and allocate nothing unless their name says so.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The characters base64_encode_to() writes for @n bytes, 4 * ceil(@n / 3), in *@ret. Returns
 * false, leaving *@ret untouched, when that does not fit in a size_t.
 */
static inline bool base64_encoded_size(size_t n, size_t *ret) {
        size_t groups = n / 3 + (n % 3 != 0);

        if (groups > SIZE_MAX / 4)
                return false;
        *ret = groups * 4;
        return true;
}

/* The most bytes base64_decode_to() can write for @n characters of text. */
static inline size_t base64_decoded_max(size_t n) {
        return n / 4 * 3;
}

/*
 * Encode @n bytes of @src into @dst, which must have room for base64_encoded_size(@n)
 * characters. No NUL is written. Returns the number of characters written.
 */
size_t base64_encode_to(char *dst, const void *src, size_t n);

/*
 * The encoding of @n bytes as a malloc'd NUL-terminated string; NULL when out of memory or when
 * the result would not fit in memory.
 */
char *base64_encode(const void *data, size_t len);

/*
 * Decode @n characters of @src (need not be NUL-terminated; a NUL is just a bad character) into
 * @dst, which must have room for base64_decoded_max(@n) bytes.
 * @ret_len: on success, the bytes written.
 * @ret_bad: on -EINVAL (may be NULL), the offset in @src of the first character that makes the
 *           text invalid, or @n when its length is not a multiple of four.
 * Returns 0 or -EINVAL; on failure @dst holds garbage and *@ret_len is untouched.
 */
int base64_decode_to(const char *src, size_t n, void *dst, size_t *ret_len, size_t *ret_bad);

/*
 * As base64_decode_to() into a buffer it mallocs (at least one byte, so an empty result is a
 * valid pointer too), returned in *@ret, which the caller frees. Returns 0, -EINVAL or -ENOMEM;
 * *@ret and *@ret_len are untouched on failure.
 */
int base64_decode(const char *src, size_t n, void **ret, size_t *ret_len, size_t *ret_bad);
