/* SPDX-License-Identifier: MIT */
/*
 * The test watchdog, linked whole into every Criterion binary (see tests/support/meson.build).
 *
 * Every test is bounded, and a test that outlives its bound fails with a message instead of
 * hanging the suite.
 *
 * Why not Criterion's own .timeout: the Criterion of Debian 12 (2.4.1) deadlocks its runner for
 * good when a test's timeout fires before the test's worker process has reported that it
 * started, which a loaded machine is enough to cause; the suite then sits until meson kills it
 * 300 s later, with no word of which test was stuck. So the runner never arms a timeout: in the
 * runner a constructor clears every test's and suite's .timeout, and every worker enforces its
 * test's bound itself from a watchdog thread, counted from when the test is known. The bound is
 * the test's .timeout, else its suite's, else MC_TEST_DEFAULT_BOUND seconds; ten times that
 * under valgrind. A test past its bound fails with a message naming it and its bound, and its
 * worker exits at once, whatever signal masks and threads the test has set up.
 *
 * The watchdog thread blocks every signal, so it never takes a process-directed signal meant
 * for the test, and it is not inherited by fork() children.
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mctest.h"

/* The linker's bounds of the sections Criterion registers tests and suites in. */
extern struct criterion_test *__start_cr_tst[] __attribute__((weak));
extern struct criterion_test *__stop_cr_tst[] __attribute__((weak));
extern struct criterion_suite *__start_cr_sts[] __attribute__((weak));
extern struct criterion_suite *__stop_cr_sts[] __attribute__((weak));

/*
 * Criterion's description of the running test lives in memory the worker unmaps when the test
 * is over, and a quick test can be over before this thread (polling every 2 ms) has read it:
 * a plain read then faults, and the runner reports the finished test as "crashed during its
 * setup or teardown" (a build without ASan, a fifth of the channel suite's runs). So the thread
 * reads it through process_vm_readv(), which fails instead of faulting; a read that fails with
 * EFAULT means the test is over and there is nothing left to watch. Any other failure sets errno.
 */
static size_t safe_read(void *dst, const void *src, size_t n) {
        struct iovec local = {dst, n}, remote = {(void *) src, n};
        ssize_t k = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

        if (k >= 0 && (size_t) k < n)
                errno = EFAULT; /* it met the end of the mapping */
        return k > 0 ? (size_t) k : 0;
}

/*
 * A NUL-terminated copy of the string at @src into @buf; false when it is gone (errno EFAULT),
 * longer than @buf holds (ENAMETOOLONG) or cannot be read (the errno of the read).
 */
static bool safe_string(char *buf, size_t size, const char *src) {
        size_t k;

        if (!src) {
                errno = EFAULT;
                return false;
        }
        /* A read that meets the end of the mapping returns what came before it: the string
         * is whole only when its NUL is among those bytes. */
        k = safe_read(buf, src, size - 1);
        buf[k] = 0;
        if (memchr(buf, 0, k))
                return true;
        if (k == size - 1)
                errno = ENAMETOOLONG;
        return false;
}

static void *mc_test_watchdog(void *arg) {
        const struct timespec poll = {0, 2 * 1000 * 1000};
        const struct criterion_test *t;
        const struct criterion_suite *s;
        struct criterion_test tc;
        struct criterion_suite sc;
        char name[128], category[128], suite[128] = "";
        struct timespec deadline;
        double bound = MC_TEST_DEFAULT_BOUND;

        (void) arg;
        /* Set by the worker just before the test's .init runs. */
        while (!(t = *(const struct criterion_test *const volatile *) &criterion_current_test))
                nanosleep(&poll, NULL);
        s = *(const struct criterion_suite *const volatile *) &criterion_current_suite;
        if (safe_read(&tc, t, sizeof(tc)) != sizeof(tc) ||
            !safe_string(name, sizeof(name), tc.name) ||
            !safe_string(category, sizeof(category), tc.category)) {
                /* EFAULT: the test is over already. Anything else (a seccomp filter without
                 * process_vm_readv(), a name too long) leaves the test without its bound,
                 * which must not go unsaid. */
                if (errno != EFAULT)
                        fprintf(stderr, "test watchdog: cannot read the running test (%m); it "
                                        "runs without a bound\n");
                return NULL;
        }
        if (s && safe_read(&sc, s, sizeof(sc)) == sizeof(sc))
                (void) safe_string(suite, sizeof(suite), sc.name);
        /*
         * The runner cleared the timeouts before it described the test to this worker, so read
         * them from this process's own tables, which nothing cleared.
         */
        for (struct criterion_test **p = __start_cr_tst; p && p < __stop_cr_tst; p++)
                if (*p && (*p)->data && (*p)->data->timeout > 0 && strcmp((*p)->name, name) == 0 &&
                    strcmp((*p)->category, category) == 0)
                        bound = (*p)->data->timeout;
        if (bound == MC_TEST_DEFAULT_BOUND && suite[0])
                for (struct criterion_suite **p = __start_cr_sts; p && p < __stop_cr_sts; p++)
                        if (*p && (*p)->data && (*p)->data->timeout > 0 &&
                            strcmp((*p)->name, suite) == 0)
                                bound = (*p)->data->timeout;
        if (getenv("MEMCAP_UNDER_VALGRIND"))
                bound *= 10;

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t) bound;
        deadline.tv_nsec += (long) ((bound - (double) (time_t) bound) * 1e9);
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) != 0)
                ;
        /* A failed expectation carries the message into the report; _exit() ends the test
         * whatever its threads and signal masks are doing. */
        cr_expect(0,
                  "%s::%s is still running after its bound of %.1f s: a hang (a deadlock or an "
                  "unbounded wait); the watchdog ended it",
                  category, name, bound);
        _exit(1);
        return NULL;
}

__attribute__((constructor)) static void mc_test_watchdog_setup(void) {
        sigset_t all, old;
        pthread_t th;

        if (!getenv("BXFI_MAP")) {
                /* The runner: it must never arm a timeout of its own (see above). */
                for (struct criterion_test **t = __start_cr_tst; t && t < __stop_cr_tst; t++)
                        if (*t && (*t)->data)
                                (*t)->data->timeout = 0;
                for (struct criterion_suite **s = __start_cr_sts; s && s < __stop_cr_sts; s++)
                        if (*s && (*s)->data)
                                (*s)->data->timeout = 0;
                return;
        }
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&th, NULL, mc_test_watchdog, NULL) == 0) {
                pthread_setname_np(th, "test-watchdog");
                pthread_detach(th);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
}
