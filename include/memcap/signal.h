/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_SIGNAL_H
#define MEMCAP_SIGNAL_H

/*
 * The core.signal capability. This part: signals by name and number, both ways.
 */

#include <stddef.h>

#include <memcap/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * mc_signal_from_name() - parse a signal: "SIGUSR1", "USR1", "usr1", "RTMIN+3", "SIGRTMAX-1",
 * or a number ("10"). Realtime names resolve against this process's SIGRTMIN..SIGRTMAX.
 * @ret_signo: set on success; untouched on failure.
 * Return: 0, or -EINVAL (InvalidSignal) for an unknown name or a number outside 1..SIGRTMAX.
 * Thread-safe.
 */
MC_API int mc_signal_from_name(const char *name, int *ret_signo, mc_error *err);

/**
 * mc_signal_name() - the canonical name of @signo: "SIGUSR1", "SIGRTMIN+3".
 * @buf: receives the name, NUL-terminated; 16 bytes always suffice.
 * Return: @buf, or NULL when @signo is not a signal of this platform or @size is too small.
 * Thread-safe and async-signal-safe.
 */
MC_API const char *mc_signal_name(int signo, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
