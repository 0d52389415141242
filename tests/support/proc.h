/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Asserting probes of this process and its children for the suites: open descriptors, and a
 * bounded wait for a child's exit status.
 */

#include <sys/types.h>

/*
 * This process's open descriptors, not counting files under /proc (this count's own directory
 * handle, and what the library's signal thread may hold open for a moment while it reads its
 * own status). Compare two counts; the number itself means nothing.
 */
int count_fds(void);

/*
 * Wait (60 s at most) for the child @pid, which must have exited, not died of a signal; its
 * exit status. A @pid <= 0 is a failed fork().
 */
int child_status(pid_t pid);
