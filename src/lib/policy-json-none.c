/* SPDX-License-Identifier: MIT */
/*
 * The policy's JSON form where the library was built without jansson (Windows: no distribution
 * ships it for mingw). The policy itself works in full through its setters; only reading and
 * printing JSON is missing, and says so.
 */

#include "internal.h"

static int no_json(const char *op, mc_error *err) {
        return mc_error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                            "%s: this build of libmemcap has no JSON support (built without "
                            "jansson); build the policy with the mc_policy_set_*() calls",
                            op);
}

int mc_policy_load_string(const char *text, size_t len, const char *origin, mc_policy **ret,
                          mc_error *err) {
        (void) text, (void) len, (void) origin, (void) ret;
        return no_json("mc_policy_load_string", err);
}

int mc_policy_load_file(const char *path, mc_policy **ret, mc_error *err) {
        (void) path, (void) ret;
        return no_json("mc_policy_load_file", err);
}

int mc_policy_to_json(const mc_policy *policy, char **ret_json, mc_error *err) {
        (void) policy, (void) ret_json;
        return no_json("mc_policy_to_json", err);
}
