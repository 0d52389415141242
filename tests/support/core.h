/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The part of the test support that neither asserts nor needs Criterion or libmemcap, so that
 * benchmarks link it as well as the suites, and forked children may call it (a child must never
 * assert: it is not the test's process as Criterion knows it). Every function returns -errno
 * (or -1 where it says so) instead of failing; every wait has a deadline.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t mct_now_ms(void);

/* Sleep @ms milliseconds, whatever signals arrive meanwhile. */
void mct_sleep_ms(int ms);

/*
 * Wait up to @ms for the child @pid to end; returns its wait status, or -1 when it is still
 * running at the deadline (it is left running: the caller kills it) or is not our child.
 */
int mct_wait_pid(pid_t pid, int ms);

/* A connected AF_UNIX stream socket (close-on-exec) to @path, or -errno. */
int mct_unix_connect(const char *path);

/*
 * The whole of @path, NUL-terminated, in a malloc'd buffer the caller frees (its length in
 * *@ret_len when not NULL); NULL with errno set when it cannot be read.
 */
char *mct_read_all(const char *path, size_t *ret_len);

/* Remove @dir and everything under it, best effort (a leftover in /tmp is harmless). */
void mct_remove_tree(const char *dir);

/*
 * The open descriptors of @pid (0: this process), or -errno. With @skip_proc, descriptors on
 * files under /proc do not count: the directory handle this count itself opens, and what a
 * library thread may hold open for a moment while it reads its own status.
 */
int mct_count_fds(pid_t pid, bool skip_proc);

/*
 * A "Name:  value" field of /proc/@pid/status (0: this process), e.g. "VmRSS:" (in KiB) or
 * "SigBlk:" (hexadecimal): its value parsed in @base, or -errno (-ENOENT: no such field).
 */
int mct_proc_status(pid_t pid, const char *field, int base, uint64_t *ret);
