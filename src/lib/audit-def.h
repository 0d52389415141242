/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the audit record writers (audit.c) hand the sinks (audit-sink.c): the JSON text in its
 * buffer and the record's facts a callback sink gets besides it.
 */

#include "audit-json.h"
#include "internal.h"

/* What a sink needs besides the JSON text. */
typedef struct mc__rec_meta {
        int64_t time_ns;
        const char *capability;
        const char *operation;
        pid_t pid;
        mc_error_kind kind;
        int sys_errno;
        const char *message;
        const char *code; /* mc_error_code(); NULL when the operation succeeded */
} mc__rec_meta;

/*
 * Terminate the record in @b and hand it to the sink @a; a record that cannot be written (out
 * of memory, a short write) is counted as dropped, never cut.
 */
void mc__audit_emit(mc_audit *a, mc__jbuf *b, const mc__rec_meta *m);

/* Count a record the sink lost. */
void mc__audit_count_dropped(mc_audit *a);
