/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by the unit tests: Criterion with the new assertions, the library internals, and a
 * per-test teardown that restores the system-call seam and fails the test when it leaked.
 * Criterion runs each test in its own process, where LeakSanitizer's end-of-process report does
 * not fail the test; the explicit check below does.
 */

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "internal.h"
#include "watchdog.h"

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

/*
 * Criterion's runner (the one process without BXFI_MAP in its environment: every test runs in a
 * worker started with it) now and then loses a 48-byte timeout record when tests with .timeout
 * end close together: BoxFort's timeout thread frees cancelled records only when it next runs,
 * which may be after exit. LeakSanitizer would fail the whole binary and drop its TAP report.
 * None of our code runs in the runner; the workers keep the full leak check (mc_test_fini()).
 */
#ifdef MC_TEST_HAVE_LSAN
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return getenv("BXFI_MAP") ? "" : "leak:libcriterion.so\n";
}
#endif

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
