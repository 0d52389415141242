/* SPDX-License-Identifier: MIT */
/*
 * The policy suite's TestSuite and the helpers its files share (policy-suite.h).
 */

#include "policy-suite.h"

TestSuite(policy, .fini = mc_test_fini);

void policy_freep(mc_policy **p) {
        mc_policy_free(*p);
}

mc_policy *new_policy(void) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_new(&p, &err), 0), "%s", err.message);
        cr_assert(not(zero(ptr, p)));
        return p;
}

mc_policy *load(const char *json) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;

        cr_assert(eq(int, mc_policy_load_string(json, strlen(json), NULL, &p, &err), 0), "%s",
                  err.message);
        cr_assert(not(zero(ptr, p)));
        return p;
}

/* Loading @json fails with InvalidArgument and exactly @message. */
void load_fails(const char *json, size_t len, const char *message) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = (mc_policy *) (uintptr_t) 0x1;
        int r = mc_policy_load_string(json, len, NULL, &p, &err);

        cr_assert(eq(int, r, -EINVAL), "loaded: %s", json);
        cr_assert(eq(ptr, p, (mc_policy *) (uintptr_t) 0x1), "ret is untouched on failure");
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, err.sys_errno, EINVAL));
        cr_assert(eq(str, err.message, (char *) message));
}

void policy_write_file(const char *path, const char *data, size_t len) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(sz, (size_t) write(fd, data, len), len));
        close(fd);
}
