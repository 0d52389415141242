/* SPDX-License-Identifier: MIT */
/* Error values: the spec's kind names, the errno table, message formatting and its limits. */

#include <stdio.h>

#include "common.h"

TestSuite(error, .fini = mc_test_fini);

Test(error, kind_names_are_the_specs) {
        static const char *const names[] = {
                "Ok",          "PermissionDenied", "InvalidArgument",
                "OutOfMemory", "AlignmentError",   "AlreadyExists",
                "NotFound",    "Unsupported",      "PolicyViolation",
                "TimedOut",    "InvalidSignal",    "Io",
                "PeerGone",
        };
        /* Every kind has its name here: a kind added without one fails this test. */
        cr_assert(eq(sz, ELEMENTSOF(names), (size_t) _MC_ERROR_KIND_MAX));
        for (unsigned i = 0; i < ELEMENTSOF(names); i++) {
                mc_error_kind k;
                cr_assert(
                        eq(str, (char *) mc_error_kind_name((mc_error_kind) i), (char *) names[i]));
                cr_assert(eq(int, mc_error_kind_from_name(names[i], &k), 0));
                cr_assert(eq(int, (int) k, (int) i));
        }
        cr_assert(eq(str, (char *) mc_error_kind_name(_MC_ERROR_KIND_MAX), "Unknown"));
        cr_assert(eq(str, (char *) mc_error_kind_name((mc_error_kind) -1), "Unknown"));
        cr_assert(eq(int, mc_error_kind_from_name("notfound", &(mc_error_kind){0}), -EINVAL));
        cr_assert(eq(int, mc_error_kind_from_name(NULL, &(mc_error_kind){0}), -EINVAL));
        cr_assert(eq(int, mc_error_kind_from_name("Io", NULL), -EINVAL));
}

Test(error, diagnostic_codes_are_capability_dot_kind) {
        for (unsigned i = 0; i < _MC_ERROR_KIND_MAX; i++) {
                char want[64];
                const char *name = mc_error_kind_name((mc_error_kind) i);

                snprintf(want, sizeof(want), "core.memory.%s", name);
                cr_assert(
                        eq(str, (char *) mc_error_code((mc_error_kind) i, MC_DOMAIN_MEMORY), want));
                snprintf(want, sizeof(want), "core.signal.%s", name);
                cr_assert(
                        eq(str, (char *) mc_error_code((mc_error_kind) i, MC_DOMAIN_SIGNAL), want));
        }
        cr_assert(eq(str, (char *) mc_error_code(_MC_ERROR_KIND_MAX, MC_DOMAIN_MEMORY),
                     "core.memory.Unknown"));
        cr_assert(
                eq(str, (char *) mc_error_code(MC_ERR_IO, _MC_DOMAIN_MAX), "core.memory.Unknown"));
}

Test(error, public_setters_fill_the_error_the_library_way) {
        mc_error e = MC_ERROR_INIT;
        char longer[400];

        cr_assert(
                eq(int, mc_error_set(&e, MC_ERR_POLICY_VIOLATION, EPERM, "rule %s", "x"), -EPERM));
        cr_assert(eq(int, e.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(eq(int, e.sys_errno, EPERM));
        cr_assert(eq(str, e.message, "rule x"));
        cr_assert(eq(int, mc_error_set(NULL, MC_ERR_IO, -EIO, "nobody reads this"), -EIO));
        cr_assert(eq(int, mc_error_set(&e, MC_ERR_INVALID_ARGUMENT, 0, "bad"), -EINVAL),
                  "errno 0 is plain bad input");
        cr_assert(eq(int, mc_error_errno(&e, -ENOENT, "open '%s'", "/x"), -ENOENT));
        cr_assert(eq(int, e.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(str, e.message, "open '/x': No such file or directory"));
        memset(longer, 'a', sizeof(longer) - 1);
        longer[sizeof(longer) - 1] = 0;
        mc_error_set(&e, MC_ERR_IO, EIO, "%s", longer);
        cr_assert(eq(sz, strlen(e.message), MC_ERROR_MESSAGE_MAX - 1), "cut to fit, terminated");
}

Test(error, errno_table) {
        cr_assert(eq(int, mc_error_kind_from_errno(EACCES), MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, mc_error_kind_from_errno(-EPERM), MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, mc_error_kind_from_errno(EINVAL), MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_error_kind_from_errno(ENOMEM), MC_ERR_OUT_OF_MEMORY));
        cr_assert(eq(int, mc_error_kind_from_errno(ENOSPC), MC_ERR_OUT_OF_MEMORY));
        cr_assert(eq(int, mc_error_kind_from_errno(EEXIST), MC_ERR_ALREADY_EXISTS));
        cr_assert(eq(int, mc_error_kind_from_errno(ENOENT), MC_ERR_NOT_FOUND));
        cr_assert(eq(int, mc_error_kind_from_errno(ESRCH), MC_ERR_NOT_FOUND));
        cr_assert(eq(int, mc_error_kind_from_errno(ENOSYS), MC_ERR_UNSUPPORTED));
        cr_assert(eq(int, mc_error_kind_from_errno(EOPNOTSUPP), MC_ERR_UNSUPPORTED));
        cr_assert(eq(int, mc_error_kind_from_errno(ETIMEDOUT), MC_ERR_TIMED_OUT));
        cr_assert(eq(int, mc_error_kind_from_errno(EIO), MC_ERR_IO));
        cr_assert(eq(int, mc_error_kind_from_errno(EOWNERDEAD), MC_ERR_PEER_GONE));
        cr_assert(eq(int, mc_error_kind_from_errno(EPIPE), MC_ERR_IO), "unlisted -> Io");
        cr_assert(eq(int, mc_error_kind_from_errno(0), MC_OK));
}

Test(error, helpers_fill_and_return_negative_errno) {
        mc_error err = MC_ERROR_INIT;
        char long_name[1000];

        cr_assert(eq(int, mc__error_errno(&err, ENOENT, "shm_open '%s'", "x"), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(int, err.sys_errno, ENOENT));
        cr_assert(eq(str, err.message, "shm_open 'x': No such file or directory"));
        cr_assert(eq(int, mc__error_errno(&err, -EACCES, "op"), -EACCES), "either sign");
        cr_assert(
                eq(int, mc__error_set(&err, MC_ERR_POLICY_VIOLATION, EPERM, "rule %d", 7), -EPERM));
        cr_assert(eq(str, err.message, "rule 7"));
        cr_assert(eq(int, mc__error_set(NULL, MC_ERR_IO, EIO, "x"), -EIO), "NULL err is fine");
        cr_assert(eq(int, mc__error_set(&err, MC_ERR_INVALID_ARGUMENT, 0, "x"), -EINVAL),
                  "0 is never returned as success");

        memset(long_name, 'n', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = 0;
        mc__error_errno(&err, ENOENT, "open '%s'", long_name);
        cr_assert(eq(sz, strlen(err.message), MC_ERROR_MESSAGE_MAX - 1), "truncated, terminated");
}
