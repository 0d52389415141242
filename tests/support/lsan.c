/* SPDX-License-Identifier: MIT */
/*
 * Criterion's runner (the one process without BXFI_MAP in its environment: every test runs in a
 * worker started with it) now and then loses a 48-byte timeout record when tests with .timeout
 * end close together: BoxFort's timeout thread frees cancelled records only when it next runs,
 * which may be after exit. LeakSanitizer would fail the whole binary and drop its TAP report.
 * None of our code runs in the runner; the workers keep the full leak check (mc_test_fini()).
 * Linked whole (as the watchdog is), so that every suite binary has it exactly once.
 */

#include <stdlib.h>

#include "mctest.h"

#ifdef MC_TEST_HAVE_LSAN
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return getenv("BXFI_MAP") ? "" : "leak:libcriterion.so\n";
}
#endif
