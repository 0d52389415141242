/* SPDX-License-Identifier: MIT */
/*
 * memcapd's listening socket: binding it safely (a lock beside it, so that of two daemons
 * started at once only one replaces a stale socket), and accepting clients. Client identity
 * comes from SO_PEERCRED and the process's pidfd is taken at once (procs.c). Connections are
 * capped in all and per uid; a refusal is one error line the client reads as its first reply.
 * Running out of descriptors pauses accepting instead of spinning on a listening socket that
 * stays readable.
 *
 * Sections: accepting, binding.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "server-int.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* ---- accepting --------------------------------------------------------------------------------
 */

/*
 * Out of descriptors: stop watching the listening socket, which, level-triggered, would wake the
 * loop at once, for ever. Waiting clients stay in the backlog until mcd_accept_resume(), called
 * when a connection or a process record frees descriptors and once a second while paused. The
 * shortage is logged once.
 */
static void accept_pause(mcd_server *s) {
        if (s->accept_paused || s->lfd < 0)
                return;
        if (!s->accept_warned)
                log_warning("out of file descriptors with %zu connections open: accepting again "
                            "once some are freed",
                            s->n_conns);
        s->accept_warned = true;
        if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL) == 0)
                s->accept_paused = true;
}

/* Accept again, once the spare descriptor (see peer_pidfd()) is back. */
void mcd_accept_resume(mcd_server *s) {
        if (!s->accept_paused || s->lfd < 0 || s->stopping)
                return;
        if (s->spare_fd < 0 && (s->spare_fd = fcntl(s->epfd, F_DUPFD_CLOEXEC, 3)) < 0)
                return;
        if (mcd_epoll_set(s, EPOLL_CTL_ADD, s->lfd, EPOLLIN, &s->listen_kind) == 0)
                s->accept_paused = false;
}

/*
 * The pidfd of the client on @fd. Short of descriptors, the spare one is given up, so that a
 * connection already accepted is never dropped for want of its pidfd; accepting then pauses
 * until the spare is back. Returns the pidfd or -errno.
 */
static int peer_pidfd(mcd_server *s, int fd, pid_t pid) {
        for (;;) {
                socklen_t len = sizeof(int);
                int pidfd = -1, e;

                if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
                        return pidfd;
                pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                if (pidfd >= 0)
                        return pidfd;
                e = errno;
                if ((e != EMFILE && e != ENFILE) || s->spare_fd < 0)
                        return -e;
                s->spare_fd = safe_close(s->spare_fd);
        }
}

/* Refuse a connection with one error line (best effort: it is the first thing the client reads,
 * as if it were the reply to its first request) and close it. */
static void refuse(int fd, const char *why) {
        mc_error e = MC_ERROR_INIT;
        mcd_buf b = MCD_BUF_INIT;

        (void) mc_error_set(&e, MC_ERR_POLICY_VIOLATION, EUSERS, "%s", why);
        if (mcd_reply_error(&b, &e, NULL) >= 0)
                (void) send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        mcd_buf_done(&b);
        close(fd);
}

/* Refuse and audit, against the uid's rate limit (an account is kept for that a while). */
static void refuse_client(mcd_server *s, int fd, const struct ucred *cred, const char *reason,
                          const char *why) {
        account *a = mcd_account_get(s, cred->uid);

        if (why)
                refuse(fd, why);
        else
                close(fd);
        mcd_audit_refused(s, a, cred->pid, cred->uid, reason);
        if (a && a->n_conns == 0)
                mcd_schedule(s, s->now);
}

void mcd_accept_clients(mcd_server *s) {
        while (!s->accept_paused) {
                struct ucred cred;
                socklen_t len = sizeof(cred);
                account *a;
                int fd, pidfd;
                conn *c;

                fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EAGAIN)
                                s->accept_warned = false; /* caught up: any shortage is over */
                        else if (errno == EMFILE || errno == ENFILE)
                                accept_pause(s);
                        else if (errno != EINTR && errno != ECONNABORTED)
                                log_warning("accept: %s", strerror(errno));
                        return;
                }
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
                        log_warning("refusing a connection without peer credentials");
                        close(fd);
                        continue;
                }
                if (s->n_conns >= s->cfg.max_connections) {
                        log_warning("refusing a connection of pid %d: %zu connections open "
                                    "(limit %" PRIu64 ")",
                                    (int) cred.pid, s->n_conns, s->cfg.max_connections);
                        refuse_client(s, fd, &cred, "max_connections",
                                      "memcapd has as many connections as it takes; try again "
                                      "later");
                        continue;
                }
                a = mcd_account_get(s, cred.uid);
                if (!a) {
                        close(fd);
                        continue;
                }
                if (a->n_conns >= s->cfg.max_connections_per_uid) {
                        log_warning("refusing a connection of pid %d: uid %u has %" PRIu64
                                    " connections open (the limit)",
                                    (int) cred.pid, (unsigned) cred.uid,
                                    s->cfg.max_connections_per_uid);
                        refuse_client(s, fd, &cred, "max_connections_per_uid",
                                      "this uid has as many connections open as memcapd allows "
                                      "(max_connections_per_uid)");
                        continue;
                }
                pidfd = peer_pidfd(s, fd, cred.pid);
                if (pidfd < 0) {
                        if (pidfd == -EMFILE || pidfd == -ENFILE) {
                                close(fd);
                                accept_pause(s);
                        } else {
                                log_warning("refusing pid %d: no pidfd (%s)", (int) cred.pid,
                                            strerror(-pidfd));
                                refuse_client(s, fd, &cred, "no_pidfd", NULL);
                        }
                        continue;
                }
                if (s->spare_fd < 0)
                        accept_pause(s); /* after this one */
                c = calloc(1, sizeof(*c));
                if (!c) {
                        close(pidfd);
                        close(fd);
                        continue;
                }
                c->kind = WATCH_CONN;
                c->fd = fd;
                c->p = mcd_proc_attach(s, cred.pid, pidfd);
                if (!c->p) {
                        safe_close(pidfd);
                        free(c);
                        close(fd);
                        continue;
                }
                c->client.key = c->p->key;
                c->client.pid = cred.pid;
                c->client.uid = cred.uid;
                c->client.gid = cred.gid;
                c->client.caps = mcd_config_caps(&s->cfg, cred.uid);
                c->events = EPOLLIN | EPOLLRDHUP;
                if (mcd_epoll_set(s, EPOLL_CTL_ADD, fd, c->events, c) < 0) {
                        mcd_proc_detach(s, c->p);
                        free(c);
                        close(fd);
                        continue;
                }
                c->id = ++s->next_conn_id;
                c->opened = s->now;
                c->acct = a;
                mcd_account_attach(c);
                MC_LIST_PREPEND(prev, next, s->conns, c);
                s->n_conns++;
                mcd_audit_connect(s, c);
                /* A blocked uid's new connection waits like its others. */
                if (!mcd_conn_may_read(s, c))
                        mcd_conn_update_events(s, c);
                log_debug("client pid %d uid %u connected", (int) cred.pid, (unsigned) cred.uid);
        }
}

/* ---- binding ----------------------------------------------------------------------------------
 */

static int socket_parent(const char *path) {
        char dir[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        char *slash;

        strscpy(dir, sizeof(dir), path);
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = 0;
        for (char *p = dir + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        (void) mkdir(dir, 0755);
                        *p = '/';
                }
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Whether a daemon listens on @sa now: 0 no, 1 yes, -errno when it cannot be told. */
static int socket_is_live(const struct sockaddr_un *sa) {
        int probe, e;

        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
                return -errno;
        e = connect(probe, (const struct sockaddr *) sa, sizeof(*sa)) == 0 ? 0 : errno;
        close(probe);
        if (e == 0)
                return 1;
        if (e == ECONNREFUSED || e == ENOENT)
                return 0;
        return -e;
}

/*
 * Take the lock beside the socket ("<socket>.lock", flock(2)) for as long as we run, so that
 * of two daemons started at once on one path only one checks, replaces and binds the socket:
 * without it both could find the same stale socket, each unlink what the other bound, and both
 * keep running. The lock file is never removed: removing it would let a third daemon lock a
 * new file while the second still waits on the old one.
 */
static int lock_socket(mcd_server *s, const struct sockaddr_un *sa, mc_error *err) {
        const char *path = s->cfg.socket_path;
        _cleanup_free_ char *lock = NULL;
        struct stat st;
        int fd, r;

        if (asprintf(&lock, "%s.lock", path) < 0) {
                lock = NULL;
                return mc_error_errno(err, ENOMEM, "allocating");
        }
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0)
                return mc_error_errno(err, errno, "opening the lock file '%s'", lock);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return mc_error_set(err, MC_ERR_ALREADY_EXISTS, EEXIST,
                                    "'%s' is not a regular file; not using it as the lock of '%s'",
                                    lock, path);
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;

                close(fd);
                if (e != EWOULDBLOCK)
                        return mc_error_errno(err, e, "locking '%s'", lock);
                r = socket_is_live(sa);
                if (r > 0)
                        return mc_error_set(err, MC_ERR_ALREADY_EXISTS, EADDRINUSE,
                                            "another memcapd is listening on '%s'", path);
                return mc_error_set(err, MC_ERR_ALREADY_EXISTS, EADDRINUSE,
                                    "another memcapd is starting on '%s' (it holds the lock '%s')",
                                    path, lock);
        }
        s->lock_fd = fd;
        return 0;
}

int mcd_listen_on(mcd_server *s, mc_error *err) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        const char *path = s->cfg.socket_path;
        struct stat st;
        int fd, e, r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return mc_error_set(err, MC_ERR_INVALID_ARGUMENT, ENAMETOOLONG,
                                    "socket path '%s' is longer than %zu bytes", path,
                                    sizeof(sa.sun_path) - 1);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        if (socket_parent(path) < 0)
                return mc_error_errno(err, errno, "creating the directory of '%s'", path);
        r = lock_socket(s, &sa, err);
        if (r < 0)
                return r;
        /*
         * Whatever is in the way must be a socket nobody listens on, which is then replaced. A
         * live daemon answers (one started without the lock, or by socket activation); a
         * refusal other than ECONNREFUSED (a full backlog, say) may be a live one too; and a
         * file of another kind is never ours to remove.
         */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return mc_error_set(err, MC_ERR_ALREADY_EXISTS, EEXIST,
                                            "'%s' exists and is not a socket; not replacing it",
                                            path);
                r = socket_is_live(&sa);
                if (r > 0)
                        return mc_error_set(err, MC_ERR_ALREADY_EXISTS, EADDRINUSE,
                                            "another memcapd is listening on '%s'", path);
                if (r < 0)
                        return mc_error_errno(err, -r, "probing the socket '%s'", path);
                if (unlink(path) < 0 && errno != ENOENT)
                        return mc_error_errno(err, errno, "removing the stale socket '%s'", path);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return mc_error_errno(err, errno, "socket");
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                e = errno;
                close(fd);
                return mc_error_errno(err, e, "bind '%s'", path);
        }
        if (chmod(path, s->cfg.socket_mode) < 0 || listen(fd, 512) < 0) {
                e = errno;
                close(fd);
                unlink(path);
                return mc_error_errno(err, e, "listen on '%s'", path);
        }
        s->lfd = fd;
        s->own_socket = true;
        return 0;
}
