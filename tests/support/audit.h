/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading back an audit log that the library or memcapd wrote: JSON, one record a line. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <memcap/memcap.h>

/*
 * The records of the audit log at @path as a JSON array the caller decrefs (empty when the file
 * is missing or empty), each line parsed with jansson's @json_flags (e.g. JSON_REJECT_DUPLICATES).
 * The test fails on a line that is not JSON or a last line without its newline. With
 * @with_bytes, each record also gets "_bytes": the length of its line, newline included.
 */
json_t *audit_file_load(const char *path, size_t json_flags, bool with_bytes);

/*
 * A callback sink that keeps the records it receives, parsed: open it with
 * mc_audit_open_callback(audit_keep, &kept, ...). The first AUDIT_KEPT_MAX are kept (n counts
 * those); a record that is not JSON is kept as NULL. audit_kept_free() drops them.
 */
#define AUDIT_KEPT_MAX 16
typedef struct audit_kept {
        json_t *rec[AUDIT_KEPT_MAX];
        int n;
} audit_kept;

void audit_keep(const mc_audit_record *r, void *userdata);
void audit_kept_free(audit_kept *k);
