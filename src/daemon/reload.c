/* SPDX-License-Identifier: MIT */
/*
 * memcapd's signals and reload, through memcap's own signal capability: SIGTERM and SIGINT shut
 * down gracefully, SIGHUP reloads the configuration and the policy and reopens the log files.
 * The handlers run from the loop (the signal queue's descriptor is one of its events), so they
 * only set flags; the loop acts on them between batches of events.
 *
 * A reload tells systemd it is under way (RELOADING=1 with the MONOTONIC_USEC it began, the
 * protocol of Type=notify-reload) and READY=1 when it is over, whether the new configuration
 * was taken or refused: the old one goes on serving in both cases.
 */

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h" /* the build's: HAVE_LIBSYSTEMD */
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "error-util.h"
#include "log.h"
#include "macro.h"
#include "server-int.h"

static mc_signal_action on_stop(const mc_signal_info *info, void *userdata) {
        mcd_server *s = userdata;
        char name[16];

        log_info("%s from pid %d: shutting down",
                 mc_signal_name(info->signal, name, sizeof(name)) ? name : "signal",
                 (int) info->source_pid);
        s->stopping = true;
        return MC_SIGNAL_IGNORE;
}

static mc_signal_action on_reload(const mc_signal_info *info, void *userdata) {
        mcd_server *s = userdata;

        (void) info;
        s->reload = true;
        return MC_SIGNAL_IGNORE;
}

int mcd_signals_register(mcd_server *s, mc_error *err) {
        int r;

        r = mc_signal_register_handler(s->ctx, SIGTERM, on_stop, s, MC_SIGNAL_BLOCK, NULL, err);
        r = r < 0 ? r
                  : mc_signal_register_handler(s->ctx, SIGINT, on_stop, s, MC_SIGNAL_BLOCK, NULL,
                                               err);
        r = r < 0 ? r
                  : mc_signal_register_handler(s->ctx, SIGHUP, on_reload, s, MC_SIGNAL_BLOCK, NULL,
                                               err);
        return r < 0 ? r : mc_signal_fd(s->ctx, &s->sigfd, err);
}

/* Build the context's policy (and audit sink) from the configuration. */
int mcd_apply_policy(mcd_server *s, const mcd_config *cfg, mc_error *err) {
        mc_policy *p = NULL;
        int r;

        if (cfg->policy_path)
                r = mc_policy_load_file(cfg->policy_path, &p, err);
        else
                r = mc_policy_new(&p, err);
        if (r < 0)
                return r;
        r = mc_ctx_set_policy(s->ctx, p, err);
        mc_policy_free(p);
        return r;
}

static void notify_reloading(void) {
#if HAVE_LIBSYSTEMD
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%" PRIu64,
                   (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000);
#endif
}

static void notify_ready(const mcd_server *s) {
#if HAVE_LIBSYSTEMD
        sd_notifyf(0, "READY=1\nSTATUS=serving %s on %s", s->cfg.root, s->cfg.socket_path);
#else
        (void) s;
#endif
}

/* logrotate renamed the files (or copied them): write to the ones at the configured paths. */
static void reopen_logs(mcd_server *s) {
        int r = log_reopen();

        if (r < 0)
                log_error("reopening the log '%s': %s; still writing to the file it was",
                          s->cfg.log_path ? s->cfg.log_path : "?", strerror(-r));
        (void) mcd_audit_reopen(s);
}

static void reload_config(mcd_server *s);

void mcd_reload(mcd_server *s) {
        s->reload = false;
        notify_reloading();
        reopen_logs(s);
        reload_config(s);
        notify_ready(s);
}

static void reload_config(mcd_server *s) {
        mcd_config cfg;
        mc_error err = MC_ERROR_INIT;
        int r;

        if (!s->config_path) {
                r = mcd_apply_policy(s, &s->cfg, &err);
                if (r < 0)
                        log_error("reload: %s; keeping the old policy", err.message);
                else
                        log_info("reloaded the policy");
                return;
        }
        r = mcd_config_defaults(&cfg, &err);
        if (r >= 0)
                r = mcd_config_load(s->config_path, &cfg, &err);
        /*
         * What was set up once stays what it is until a restart: the socket, the root, the audit
         * log's and the log's paths, and the manager's options. A policy named on the command
         * line still overrides the file's; audit_journal takes effect at once, for records that
         * already go through the daemon's sink (an audit log or audit_journal at the start).
         */
        if (r >= 0) {
                if (cfg.allow_symlinks != s->cfg.allow_symlinks ||
                    cfg.max_mappings != s->cfg.max_mappings || cfg.max_bytes != s->cfg.max_bytes)
                        log_warning("reload: allow_symlinks, max_mappings_per_client and "
                                    "max_bytes_per_client change only on a restart");
                cfg.allow_symlinks = s->cfg.allow_symlinks;
                cfg.max_mappings = s->cfg.max_mappings;
                cfg.max_bytes = s->cfg.max_bytes;
                cfg.policy_pinned = s->cfg.policy_pinned;
                r = mcd_config_set(&cfg.socket_path, s->cfg.socket_path);
                r = r < 0 ? r : mcd_config_set(&cfg.root, s->cfg.root);
                r = r < 0 ? r : mcd_config_set(&cfg.audit_path, s->cfg.audit_path);
                r = r < 0 ? r : mcd_config_set(&cfg.log_path, s->cfg.log_path);
                if (r >= 0 && cfg.policy_pinned)
                        r = mcd_config_set(&cfg.policy_path, s->cfg.policy_path);
                if (r < 0)
                        mc_error_errno(&err, ENOMEM, "reload: allocating");
        }
        if (r >= 0)
                r = mcd_apply_policy(s, &cfg, &err);
        if (r < 0) {
                log_error("reload: %s; keeping the old configuration", err.message);
                mcd_config_done(&cfg);
                return;
        }
        mcd_config_done(&s->cfg);
        s->cfg = cfg;
        for (conn *c = s->conns; c; c = c->next)
                c->client.caps = mcd_config_caps(&s->cfg, c->client.uid);
        /* New limits and timeouts hold from now on: look at every connection again. */
        mcd_budgets_recheck(s);
        mcd_schedule(s, s->now);
        log_info("reloaded '%s'", s->config_path);
}
