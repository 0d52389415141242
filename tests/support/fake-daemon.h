/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A fake memcapd for the client suites (test-cli-client.c, test-client-lib.c): a forked child
 * that answers each request line with a scripted reply, to show that a client survives
 * malformed and hostile replies.
 */

#include <sys/types.h>

/*
 * Listen on @path (removing what is there) and fork a child that accepts one connection and
 * answers each request line with the next of @replies (raw bytes, sent as they are; an empty
 * one sends nothing), with @fds[i] descriptors of /dev/null (at most 2) going with reply i when
 * @fds is not NULL. It closes the connection and exits after the last reply, when the client
 * closes, or after 20 s. Returns its pid; the caller reaps it.
 */
pid_t fake_daemon_start(const char *path, const char *const *replies, const unsigned *fds);
