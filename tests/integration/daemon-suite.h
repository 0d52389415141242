/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers that more than one file of the daemon suite (test-daemon-*.c) uses. */

#include "memcapd.h"

/* Send @n copies of @req (no newline), each as a line, in one go. */
void send_copies(cl *c, const char *req, int n);

/* Send @n copies of @req in one go, then read them all back; every reply must equal @want. */
void pipeline_and_drain(cl *c, const char *req, int n, const char *want, bool half_close);

void expect_refused(cl *c, const char *path, const char *kind);

void make_escapes(void);

void expect_escapes_refused(cl *c);

uint64_t daemon_cpu_ticks(void);

/* The reply to a base64 MmapRead of the @n bytes at @bytes; the caller frees it. */
char *base64_read_reply(const uint8_t *bytes, size_t n);

/*
 * One mapping as MmapStats and MmapList describe it, in an S() buffer: @path NULL for
 * anonymous memory, @prot like "r-x", @flags "Shared" or "Private".
 */
const char *mapping_json(uint64_t id, const char *path, uint64_t offset, uint64_t length,
                         const char *prot, const char *flags, int owner_pid);

/* MmapStats' reply for that mapping, in an S() buffer. */
const char *stats_reply(uint64_t id, const char *path, uint64_t offset, uint64_t length,
                        const char *prot, const char *flags, int owner_pid);

/*
 * Map /data/64k, which holds the 64 KiB at @bytes, on @c (it becomes mapping @id) and read all
 * of it, base64, @n times with pipeline_and_drain().
 */
void read_64k_pipelined(cl *c, const uint8_t *bytes, int id, int n, bool half_close);
