/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the three parts of the codec share behind protocol.h: the names of the calls and fields,
 * and which fields each call allows and requires. The full decoder (protocol-decode.c) and the
 * fast path (protocol-fast.c) read requests by these tables, so the two can never disagree on
 * what a call takes; the reply encoder (protocol-encode.c) needs only protocol.h.
 */

#include <stdbool.h>

#include "protocol.h"

/* The fields of all calls; each call allows a subset and requires a subset of that. */
typedef enum field {
        F_MMAP_ID,
        F_PATH,
        F_OFFSET,
        F_LENGTH,
        F_PROT,
        F_SHARED,
        F_ENCODING,
        F_DATA,
        F_ALL,
        F_ADVICE,
        F_NAME,
        F_CAPACITY,
        F_MAX_MESSAGE,
        F_PRODUCERS,
        F_ROLE,
        F_EVENTFD,
        _F_MAX,
} field;

#define BIT(f) (1u << (f))

/* The fields of a call on a range of a mapping: offset 0 and the rest of it by default. */
#define RANGE_FIELDS (BIT(F_MMAP_ID) | BIT(F_OFFSET) | BIT(F_LENGTH))

/* The calls' names on the wire, indexed by mcd_call ("MmapRead"). */
extern const char *const mcd__call_names[_MCD_CALL_MAX];

/* The fields' names on the wire, indexed by field ("mmap_id"). */
extern const char *const mcd__field_names[_F_MAX];

/* The fields a call allows, and the subset it requires, as BIT(field) sets. */
typedef struct mcd__call_fields {
        unsigned allowed;
        unsigned required;
} mcd__call_fields_t;

extern const mcd__call_fields_t mcd__call_fields[_MCD_CALL_MAX];

static inline bool is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}
