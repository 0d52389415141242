/* SPDX-License-Identifier: MIT */
/*
 * The memcapd server: set-up, the epoll loop and graceful shutdown. One thread, one loop over the
 * listening socket, client connections, the pidfds of client processes and memcap's signal
 * descriptor; the jobs it dispatches to live in files of their own:
 *
 *   listener.c  the listening socket: binding it, accepting and refusing clients
 *   conn.c      connections: buffers, request lines in, replies out, pausing, buffer limits
 *   procs.c     client processes: pidfds, and releasing what a process held when it exits
 *   timeouts.c  the clock, request and send timeouts, how long the loop may sleep
 *   reload.c    signals (shutdown, reload) and reloading the configuration and policy
 *   handlers.c  requests, one parsed request in and one reply queued
 *   channels.c  ChannelCreate and ChannelOpen: the channels held by name
 *   account.c   what each uid holds, against the buffer limits
 *   audit-log.c the audit trail and its rate limit
 *
 * Limits keep one client from starving the others or pinning the daemon's memory: line and
 * output limits and the buffer caps per uid and in all (conn.c, account.c), request and send
 * timeouts (timeouts.c), connection caps in all and per uid, and accepting paused when out of
 * descriptors (listener.c). memcapd(8) states the memory this bounds, as a formula.
 *
 * Sections: set-up, the loop.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h" /* the build's: HAVE_LIBSYSTEMD */
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "error-util.h"
#include "log.h"
#include "macro.h"
#include "server-int.h"

/* ---- set-up --------------------------------------------------------------------------------- */

int mcd_epoll_set(mcd_server *s, int op, int fd, uint32_t events, void *ptr) {
        struct epoll_event ev = {.events = events, .data.ptr = ptr};
        return epoll_ctl(s->epfd, op, fd, &ev);
}

int mcd_server_new(const mcd_config *cfg, const char *config_path, int listen_fd, mcd_server **ret,
                   mc_error *err) {
        mc_manager_options mo = MC_MANAGER_OPTIONS_INIT;
        mcd_server *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return mc_error_errno(err, ENOMEM, "allocating the server");
        s->epfd = s->lfd = s->sigfd = s->spare_fd = s->lock_fd = s->audit_fd = -1;
        s->now = mcd_now_ms();
        s->listen_kind = WATCH_LISTEN;
        s->signal_kind = WATCH_SIGNALS;
        /* Take ownership of a copy of the configuration. */
        s->cfg = *cfg;
        s->cfg.socket_path = strdup(cfg->socket_path);
        s->cfg.root = strdup(cfg->root);
        s->cfg.policy_path = cfg->policy_path ? strdup(cfg->policy_path) : NULL;
        s->cfg.audit_path = cfg->audit_path ? strdup(cfg->audit_path) : NULL;
        s->cfg.log_path = cfg->log_path ? strdup(cfg->log_path) : NULL;
        s->cfg.caps = malloc((cfg->n_caps ? cfg->n_caps : 1) * sizeof(*cfg->caps));
        s->config_path = config_path ? strdup(config_path) : NULL;
        if (!s->cfg.socket_path || !s->cfg.root || !s->cfg.caps ||
            (cfg->policy_path && !s->cfg.policy_path) || (cfg->audit_path && !s->cfg.audit_path) ||
            (cfg->log_path && !s->cfg.log_path) || (config_path && !s->config_path)) {
                r = mc_error_errno(err, ENOMEM, "allocating the server");
                goto fail;
        }
        memcpy(s->cfg.caps, cfg->caps, cfg->n_caps * sizeof(*cfg->caps));

        r = mc_ctx_new(&s->ctx, err);
        if (r < 0)
                goto fail;
        r = mcd_apply_policy(s, &s->cfg, err);
        if (r < 0)
                goto fail;
        r = mcd_audit_open(s, err);
        if (r < 0)
                goto fail;
        if (mkdir(s->cfg.root, 0755) < 0 && errno != EEXIST) {
                r = mc_error_errno(err, errno, "creating the root '%s'", s->cfg.root);
                goto fail;
        }
        mo.root = s->cfg.root;
        mo.allow_symlinks = s->cfg.allow_symlinks;
        mo.max_mappings = s->cfg.max_mappings;
        mo.max_bytes = s->cfg.max_bytes;
        r = mc_manager_new(s->ctx, &mo, &s->mgr, err);
        if (r < 0)
                goto fail;

        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (s->epfd < 0) {
                r = mc_error_errno(err, errno, "epoll_create1");
                goto fail;
        }
        s->spare_fd = fcntl(s->epfd, F_DUPFD_CLOEXEC, 3);
        if (s->spare_fd < 0) {
                r = mc_error_errno(err, errno, "reserving a spare descriptor");
                goto fail;
        }
        /* Shutdown and reload through memcap's own signal capability, run by this loop. */
        r = mcd_signals_register(s, err);
        if (r < 0)
                goto fail;
        signal(SIGPIPE, SIG_IGN);
        if (mcd_epoll_set(s, EPOLL_CTL_ADD, s->sigfd, EPOLLIN, &s->signal_kind) < 0) {
                r = mc_error_errno(err, errno, "epoll_ctl");
                goto fail;
        }

        if (listen_fd >= 0) {
                s->lfd = listen_fd;
                (void) fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
        } else {
                r = mcd_listen_on(s, err);
                if (r < 0)
                        goto fail;
        }
        if (mcd_epoll_set(s, EPOLL_CTL_ADD, s->lfd, EPOLLIN, &s->listen_kind) < 0) {
                r = mc_error_errno(err, errno, "epoll_ctl");
                goto fail;
        }
        *ret = s;
        return 0;

fail:
        mcd_server_free(s);
        return r;
}

/* ---- the loop -------------------------------------------------------------------------------- */

static void shutdown_gracefully(mcd_server *s) {
        int64_t deadline;

        /* Stop accepting; let queued replies go out (up to 5 s), then close. */
        if (s->lfd >= 0) {
                epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
                s->lfd = safe_close(s->lfd);
        }
        if (s->own_socket) {
                (void) unlink(s->cfg.socket_path);
                s->own_socket = false;
        }
        deadline = (int64_t) time(NULL) + 5;
        while (s->conns && (int64_t) time(NULL) < deadline) {
                bool pending = false;
                for (conn *c = s->conns; c; c = c->next) {
                        if (mcd_conn_flush(c) < 0)
                                c->out.len = 0;
                        pending = pending || c->out.len > 0;
                }
                if (!pending)
                        break;
                usleep(10000);
        }
        s->now = mcd_now_ms();
        while (s->conns)
                mcd_conn_free(s, s->conns, "shutdown");
        mcd_audit_flush_summaries(s, true);
}

int mcd_server_run(mcd_server *s) {
        struct epoll_event ev[64];

#if HAVE_LIBSYSTEMD
        sd_notifyf(0, "READY=1\nSTATUS=serving %s on %s", s->cfg.root, s->cfg.socket_path);
#endif
        log_info("serving '%s' on '%s' (pid %d)", s->cfg.root, s->cfg.socket_path, (int) getpid());
        while (!s->stopping) {
                int n = epoll_wait(s->epfd, ev, (int) ELEMENTSOF(ev), mcd_wait_timeout(s));

                s->now = mcd_now_ms();
                if (n == 0)
                        mcd_accept_resume(s); /* descriptors may have come free without an event */

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        log_error("epoll_wait: %s", strerror(errno));
                        return 1;
                }
                for (int i = 0; i < n; i++) {
                        watch_kind k = *(watch_kind *) ev[i].data.ptr;

                        switch (k) {
                        case WATCH_LISTEN:
                                if (!s->stopping)
                                        mcd_accept_clients(s);
                                break;
                        case WATCH_SIGNALS:
                                (void) mc_signal_dispatch(s->ctx, NULL);
                                break;
                        case WATCH_PROC:
                                mcd_proc_exited(s, ev[i].data.ptr);
                                /* Later events of this batch may point at the freed record. */
                                n = i + 1;
                                break;
                        case WATCH_CONN:
                                mcd_conn_event(s, ev[i].data.ptr, ev[i].events);
                                /* A freed connection's later events are gone with it: epoll
                                 * reports each fd once per wait. */
                                break;
                        }
                }
                /* Between batches: nothing of the last one points at what these free. */
                if (s->budget_changed)
                        mcd_budgets_serve(s);
                if (s->next_tick && s->now >= s->next_tick)
                        mcd_timeouts_sweep(s);
                if (s->summaries_due)
                        mcd_audit_flush_summaries(s, false);
                if (s->sweep_procs)
                        mcd_procs_sweep(s);
                if (s->reload)
                        mcd_reload(s);
        }
#if HAVE_LIBSYSTEMD
        sd_notify(0, "STOPPING=1");
#endif
        shutdown_gracefully(s);
        return 0;
}

void mcd_server_free(mcd_server *s) {
        if (!s)
                return;
        s->now = mcd_now_ms();
        while (s->conns)
                mcd_conn_free(s, s->conns, "shutdown");
        while (s->procs)
                mcd_proc_free(s, s->procs);
        if (s->ctx)
                mcd_audit_flush_summaries(s, true);
        mcd_accounts_free(s);
        mcd_channels_free(s);
        /* Sync and unmap everything before the context goes. */
        s->mgr = mc_manager_free(s->mgr);
        s->ctx = mc_ctx_free(s->ctx);
        /* The context wrote through the audit log's descriptor up to here. */
        mcd_audit_close(s);
        safe_close(s->lfd);
        if (s->own_socket)
                (void) unlink(s->cfg.socket_path);
        /* Released only once the socket is gone, for a daemon waiting to take over. */
        safe_close(s->lock_fd);
        safe_close(s->epfd);
        safe_close(s->spare_fd);
        free(s->scratch);
        free(s->config_path);
        mcd_config_done(&s->cfg);
        free(s);
}
