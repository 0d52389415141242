/* SPDX-License-Identifier: MIT */
/*
 * memcapd --check-config FILE: read the configuration as a start or a reload would, and the
 * policy it names, and say whether memcapd would start with them, as `nginx -t` does, without
 * binding a socket or touching the root. Errors name FILE:LINE:COLUMN, for a value that parses
 * but is wrong as much as for a syntax error, so an operator can check a change before SIGHUP.
 */

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check-config.h"
#include "error-util.h"
#include "log.h"
#include "macro.h"
#include "settings.h"

/* That the directory a file of @what is made in exists: the daemon creates files, not trees. */
static int check_parent(const char *what, const char *path, mc_error *err) {
        _cleanup_free_ char *copy = strdup(path);
        struct stat st;
        const char *dir;

        if (!copy)
                return mc_error_errno(err, ENOMEM, "allocating");
        dir = dirname(copy);
        if (stat(dir, &st) < 0)
                return mc_error_errno(err, errno, "%s '%s': its directory '%s'", what, path, dir);
        if (!S_ISDIR(st.st_mode))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, ENOTDIR,
                                    "%s '%s': '%s' is not a directory", what, path, dir);
        return 0;
}

static int check(const char *path, const char *policy, mcd_config *cfg, mc_error *err) {
        mc_policy *p = NULL;
        int r;

        r = mcd_config_defaults(cfg, err);
        if (r >= 0)
                r = mcd_config_load(path, cfg, err);
        if (r >= 0 && policy)
                r = mcd_config_set(&cfg->policy_path, policy) < 0
                            ? mc_error_errno(err, ENOMEM, "allocating")
                            : 0;
        if (r < 0)
                return r;
        if (cfg->policy_path) {
                r = mc_policy_load_file(cfg->policy_path, &p, err);
                mc_policy_free(p);
                if (r < 0)
                        return r;
        }
        r = check_parent("root", cfg->root, err);
        if (r >= 0 && cfg->audit_path)
                r = check_parent("audit", cfg->audit_path, err);
        if (r >= 0 && cfg->log_path)
                r = check_parent("log", cfg->log_path, err);
        return r;
}

int mcd_check_config(const char *path, const char *policy) {
        mc_error err = MC_ERROR_INIT;
        mcd_config cfg;
        int r;

        r = check(path, policy, &cfg, &err);
        if (r < 0) {
                r = error_report(&err);
                log_error("configuration file %s test failed", path);
        } else {
                log_info("configuration file %s syntax is ok", path);
                if (cfg.policy_path)
                        log_info("policy file %s is ok", cfg.policy_path);
                log_info("configuration file %s test is successful", path);
                r = 0;
        }
        mcd_config_done(&cfg);
        return r;
}
