/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Counting the mapping system calls the library makes, to prove that bad input or a denial made
 * none: point mc_sys.mmap, .munmap or .mprotect at these (mc_test_fini() puts the seam back).
 * Each counts, then makes the real call. The counts start at 0 in every test's process.
 */

#include <stddef.h>
#include <sys/types.h>

extern int n_mmap, n_munmap, n_mprotect;

void *count_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int count_munmap(void *addr, size_t len);
int count_mprotect(void *addr, size_t len, int prot);
