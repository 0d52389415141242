/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * How a guarded copy catches a fault: the OS layer under guard.c (guard-linux.c: SIGBUS and
 * SIGSEGV handlers; win/guard-win.c: a vectored exception handler). A fault is caught only in
 * the thread that is copying and only inside the range it guards; any other is left to the
 * program's own handling.
 */

#include <stdint.h>

#include <memcap/memory.h>

/* Install the process-wide fault handler once. Return: 0, or the errno it failed with. */
int mc__guard_install(void);

/* memcpy() @n bytes, catching a fault in [@lo, @hi). Return: 0, or -EIO after a fault. */
int mc__guard_copy(void *dst, const void *src, size_t n, uintptr_t lo, uintptr_t hi);

/* Call @fn(@p, @n, @userdata) into *@ret, catching a fault in [@p, @p+@n): 0 or -EIO. */
int mc__guard_visit(mc_map_visitor fn, void *p, size_t n, void *userdata, int *ret);

/*
 * The calling thread's last caught fault: its name ("SIGBUS", "EXCEPTION_IN_PAGE_ERROR"), the
 * address into *@ret_addr and what it most likely means into *@ret_why.
 */
const char *mc__guard_fault(uintptr_t *ret_addr, const char **ret_why);
