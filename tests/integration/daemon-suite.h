/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers that more than one file of the daemon suite (test-daemon-*.c) uses. */

#include "memcapd.h"

/* Send @n copies of @req in one go, then read them all back; every reply must equal @want. */
void pipeline_and_drain(cl *c, const char *req, int n, const char *want, bool half_close);

void expect_refused(cl *c, const char *path, const char *kind);

void make_escapes(void);

void expect_escapes_refused(cl *c);

uint64_t daemon_cpu_ticks(void);
