/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by the Criterion suites: Criterion with the new assertions, the library internals, and a
 * per-test teardown that restores the system-call seam and fails the test when it leaked.
 * Criterion runs each test in its own process, where LeakSanitizer's end-of-process report does
 * not fail the test; the explicit check below does. Linking tests/support (support_dep) also
 * links the test watchdog (watchdog.c), which bounds every test, and the runner's LeakSanitizer
 * suppression (lsan.c).
 */

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#define MC_TEST_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MC_TEST_HAVE_LSAN 1
#endif
#endif

#ifdef MC_TEST_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Seconds a test without a .timeout of its own (or its suite's) may run (watchdog.c). */
#define MC_TEST_DEFAULT_BOUND 60.0

static inline void mc_test_fini(void) {
        mc__sys_reset();
#ifdef MC_TEST_HAVE_LSAN
        cr_assert(eq(int, __lsan_do_recoverable_leak_check(), 0),
                  "LeakSanitizer found leaks (see the report above)");
#endif
}

/*
 * valgrind cannot run a few things the tests need (mlock2 is not implemented; it keeps SIGRTMAX
 * for itself). `make valgrind` sets MEMCAP_UNDER_VALGRIND, and leaves out by name the tests
 * that expect to die by a signal valgrind mangles, since those cannot skip.
 */
#define MC_SKIP_UNDER_VALGRIND(why)                                                                \
        do {                                                                                       \
                if (getenv("MEMCAP_UNDER_VALGRIND"))                                               \
                        cr_skip_test("not under valgrind: %s", why);                               \
        } while (0)

/* A unique name for files and shm objects of this test process. */
#define MC_TEST_NAME(buf, what)                                                                    \
        snprintf((buf), sizeof(buf), "memcap-test-%s-%d", (what), (int) getpid())
