/* SPDX-License-Identifier: MIT */
/*
 * Not a suite of its own: test-watchdog runs this binary to check that a hanging test ends
 * with a message, and that a bound that expires before the test's worker is up does not stall
 * the runner (Criterion 2.4.1's own timeouts deadlock there). Every test here fails on purpose
 * or passes trivially; only test-watchdog's reading of the report counts.
 */

#include "mctest.h"

/* Expires long before the worker can have started. */
Test(probe, bound_shorter_than_startup, .timeout = 0.000001) {
}

Test(probe, hangs_past_its_bound, .timeout = 0.3) {
        pause();
}

Test(probe, hangs_with_every_signal_blocked, .timeout = 0.3) {
        sigset_t all;

        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        pause();
}

Test(probe, finishes_in_time, .timeout = 30) {
}
