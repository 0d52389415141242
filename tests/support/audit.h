/* SPDX-License-Identifier: MIT */
#pragma once

/* Reading back an audit log that the library or memcapd wrote: JSON, one record a line. */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The records of the audit log at @path as a JSON array the caller decrefs (empty when the file
 * is missing or empty), each line parsed with jansson's @json_flags (e.g. JSON_REJECT_DUPLICATES).
 * The test fails on a line that is not JSON or a last line without its newline. With
 * @with_bytes, each record also gets "_bytes": the length of its line, newline included.
 */
json_t *audit_file_load(const char *path, size_t json_flags, bool with_bytes);
