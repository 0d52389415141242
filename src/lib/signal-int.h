/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What signal.c (registrations, the dispatcher, running handlers) and signal-forward.c (the
 * forwarding handler, reading an instance back as the kernel first described it, and the
 * counts behind mc_signal_stats()) share.
 *
 * An instance's life: forward() hands it to the dispatcher thread (or, when every thread blocks
 * the signal, the dispatcher reads it from the process's queue itself); the dispatcher reads it
 * back (mc__sigfwd_take()), and it waits until its handler starts, it is passed on to the
 * disposition in force, or it is lost (mc__sigfwd_done()).
 */

#include <signal.h>
#include <sys/signalfd.h>

#include "internal.h"

/* The handler memcap installs for every registered signal. Async-signal-safe. */
void mc__sigfwd_handler(int signo, siginfo_t *si, void *uctx);

/* The si_code forward() hands an instance of si_code @code on under (tests forge it). */
int mc__sigfwd_mark_code(int code);

/*
 * A dispatcher is starting in this process: instances are marked with a new random token from
 * now on. @tid 0 means none runs yet (forward() counts what it gets as lost); set the
 * dispatcher's thread id with mc__sigfwd_set_tid() once it runs.
 */
void mc__sigfwd_start(void);
void mc__sigfwd_set_tid(pid_t tid);
pid_t mc__sigfwd_tid(void);

/* In a fork() child: no dispatcher, nothing on its way, every count back to zero. */
void mc__sigfwd_fork_child(void);

/*
 * Read back an instance the dispatcher took from its signalfd (or its own queue): @info as the
 * kernel described it when it first arrived, with the sender marked verified or claimed. An
 * instance forward() did not mark (read from the process's queue, or queued by someone else)
 * starts waiting now.
 */
void mc__sigfwd_take(const struct signalfd_siginfo *ssi, mc_signal_info *info);

/* How an instance stopped waiting. */
typedef enum mc__sig_outcome {
        MC__SIG_HANDLED, /* its handler starts */
        MC__SIG_PASSED,  /* no registration wanted it any more: passed to the disposition */
        MC__SIG_LOST,    /* memcap could not keep it (out of memory, the context went away) */
} mc__sig_outcome;

void mc__sigfwd_done(mc__sig_outcome outcome, uint64_t n);
