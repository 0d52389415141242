/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Where a value is in a JSON text: for messages about a value that parsed but means nothing
 * (a size that is negative, a name nobody knows), which the parser cannot place because it saw
 * nothing wrong. jansson's tree keeps no positions, so the text is scanned again.
 */

#include <stdbool.h>
#include <stddef.h>

/*
 * The position of the value reached from the top-level object of @text (@len bytes) through the
 * member names @keys[0..@n_keys) (each an object member of the one before). Lines count from 1,
 * columns from 1 in characters, as jansson counts them. Returns false when the text is not
 * well-formed enough to follow or a member is missing (a duplicate name: the first).
 */
bool json_locate(const char *text, size_t len, const char *const *keys, size_t n_keys,
                 int *ret_line, int *ret_column);
