/* SPDX-License-Identifier: MIT */
/*
 * The memcapd server: set-up, the epoll loop, connections and client processes, signals,
 * reload and graceful shutdown. Requests are handled in handlers.c, what each uid holds in
 * account.c, the audit trail in audit-log.c.
 *
 * Client identity comes from SO_PEERCRED; the process behind a connection is held by a pidfd
 * (SO_PEERPIDFD, else pidfd_open right after accept) and keyed by the pidfd's inode, which the
 * kernel never reuses, so a recycled pid can never inherit another process's mappings. When a
 * pidfd turns readable the process has exited: its mappings are synced and unmapped, also when
 * it held several connections, and its connections are closed (a child that inherited one must
 * not act for a process that is gone). A connection closing alone releases nothing; a process
 * left with neither connections nor mappings is forgotten.
 *
 * Limits keep one client from starving the others or pinning the daemon's memory:
 *   - a request line is at most max_line bytes, and its buffer never grows past that;
 *   - a connection whose unread replies reach max_output (or that holds MAX_QUEUED_FDS unread
 *     descriptors) is paused: no request of it is handled until half of them are gone;
 *   - the buffers of one uid's connections are capped by max_buffer_per_uid, those of all
 *     connections by max_buffer_total (account.c): at the cap, the connections are not read;
 *   - a line must arrive whole within request_timeout of its first byte, and queued replies
 *     must move within send_timeout, or the connection is closed (slowloris);
 *   - buffers a long line or a large reply grew are given back once they are empty;
 *   - connections are capped in all and per uid, and running out of descriptors pauses
 *     accepting instead of spinning.
 * memcapd(8) states the memory this bounds, as a formula.
 *
 * Sections: helpers, processes, connections (budgets, input, output, timeouts), the listening
 * socket, signals and reload, set-up, the loop, shutdown.
 */

#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
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

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446
#endif

/*
 * A connection's input buffer starts at IN_START bytes, room for nearly every request, doubles
 * whenever less than half of that is free for the next read, up to max_line + 1 bytes, and is
 * given back once empty if a long line grew it past IN_KEEP; the output buffer likewise past
 * OUT_KEEP, and MmapRead's scratch buffer past SCRATCH_KEEP. So an idle connection holds
 * little whatever it sent or read before, and a client's usual requests and replies do not
 * reallocate. A connection of a uid at its buffer limit gives back even those.
 */
#define IN_START     1024
#define IN_KEEP      (16 * 1024)
#define OUT_KEEP     (64 * 1024)
#define SCRATCH_KEEP (256 * 1024)
#define TRIM_LINE    (64 * 1024)

/* Descriptors (MmapFd replies) queued for one connection before it is paused: each is open in
 * the daemon until the client reads its reply. */
#define MAX_QUEUED_FDS 64

/* ---- helpers ------------------------------------------------------------------------------ */

int64_t mcd_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mcd_schedule(mcd_server *s, int64_t deadline) {
        if (s->next_tick == 0 || deadline < s->next_tick)
                s->next_tick = deadline > 0 ? deadline : 1;
}

static int epoll_set(mcd_server *s, int op, int fd, uint32_t events, void *ptr) {
        struct epoll_event ev = {.events = events, .data.ptr = ptr};
        return epoll_ctl(s->epfd, op, fd, &ev);
}

/*
 * Out of descriptors: stop watching the listening socket, which, level-triggered, would wake the
 * loop at once, for ever. Waiting clients stay in the backlog until accept_resume(), called when
 * a connection or a process record frees descriptors and once a second while paused. The
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
static void accept_resume(mcd_server *s) {
        if (!s->accept_paused || s->lfd < 0 || s->stopping)
                return;
        if (s->spare_fd < 0 && (s->spare_fd = fcntl(s->epfd, F_DUPFD_CLOEXEC, 3)) < 0)
                return;
        if (epoll_set(s, EPOLL_CTL_ADD, s->lfd, EPOLLIN, &s->listen_kind) == 0)
                s->accept_paused = false;
}

/* ---- processes ------------------------------------------------------------------------------- */

/* A key no other process will ever have: the pidfd's inode on pidfs (Linux 6.9+), else the
 * process's start time (in clock ticks since boot) with its pid. */
static uint64_t process_key(int pidfd, pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long start = 0;
        struct statfs sfs;
        struct stat st;
        ssize_t n;
        int fd;

        if (fstatfs(pidfd, &sfs) == 0 && sfs.f_type == PID_FS_MAGIC && fstat(pidfd, &st) == 0)
                return (uint64_t) st.st_ino;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                n = read(fd, buf, sizeof(buf) - 1);
                close(fd);
                if (n > 0) {
                        buf[n] = 0;
                        p = strrchr(buf, ')');
                        /* Field 22, starttime: 19 fields after the state. */
                        if (p)
                                sscanf(p + 2,
                                       "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                                       "%*s %*s %*s %*s %*s %*s %*s %llu",
                                       &start);
                }
        }
        return (UINT64_C(1) << 63) | ((uint64_t) start << 22) | (uint64_t) (pid & 0x3fffff);
}

static proc *proc_attach(mcd_server *s, pid_t pid, int pidfd) {
        uint64_t key = process_key(pidfd, pid);
        proc *p;

        for (p = s->procs; p; p = p->next)
                if (p->key == key) {
                        safe_close(pidfd);
                        p->refs++;
                        p->idle = false;
                        return p;
                }
        p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        p->kind = WATCH_PROC;
        p->key = key;
        p->pid = pid;
        p->pidfd = pidfd;
        p->refs = 1;
        if (epoll_set(s, EPOLL_CTL_ADD, pidfd, EPOLLIN, p) < 0) {
                free(p);
                return NULL;
        }
        p->next = s->procs;
        if (s->procs)
                s->procs->prev = p;
        s->procs = p;
        return p;
}

static void proc_free(mcd_server *s, proc *p) {
        if (p->prev)
                p->prev->next = p->next;
        else
                s->procs = p->next;
        if (p->next)
                p->next->prev = p->prev;
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
        safe_close(p->pidfd);
        free(p);
        accept_resume(s);
}

static void conn_free(mcd_server *s, conn *c, const char *reason);
static void conn_update_events(mcd_server *s, conn *c);

/*
 * The process exited: release its mappings and close its connections once their queued replies
 * are out. A connection speaks for the process that connected; a child that inherited the socket
 * must not go on mapping as a process that is gone, since nothing would ever release what it
 * mapped. Frees connections: the caller must not use events of this batch after this one.
 */
static void proc_exited(mcd_server *s, proc *p) {
        size_t n = mc_manager_cleanup_process(s->mgr, p->key);
        conn *next;

        if (n > 0)
                log_info("client %d exited: released %zu mapping(s)", (int) p->pid, n);
        for (conn *c = s->conns; c; c = next) {
                next = c->next;
                if (c->p != p)
                        continue;
                c->p = NULL;
                c->closing = true;
                c->reason = "process_exited";
                if (c->out.len == 0)
                        conn_free(s, c, NULL);
                else
                        conn_update_events(s, c);
        }
        proc_free(s, p);
}

/* A connection of @p closed. Closing a connection alone releases nothing; see sweep_procs(). */
static void proc_detach(mcd_server *s, proc *p) {
        if (p && p->refs > 0 && --p->refs == 0)
                p->idle = s->sweep_procs = true;
}

/*
 * Forget the processes that lost their last connection and have no mappings, so that processes
 * that merely connected once do not pin a pidfd each in the daemon; a process that comes back
 * gets the same key. One with mappings keeps its record until its pidfd reports the exit.
 * Called between batches of events, which may point at these records.
 */
static void sweep_procs(mcd_server *s) {
        proc *next;

        s->sweep_procs = false;
        for (proc *p = s->procs; p; p = next) {
                mc_client who = {.key = p->key, .pid = p->pid};
                mc_mapping_stats *v = NULL;
                size_t n = 1;

                next = p->next;
                if (!p->idle)
                        continue;
                p->idle = false;
                if (p->refs > 0 || mc_manager_list(s->mgr, &who, 0, &v, &n, NULL) < 0)
                        continue; /* out of memory: keep it, to be safe */
                free(v);
                if (n == 0)
                        proc_free(s, p);
        }
}

/* ---- connections --------------------------------------------------------------------------- */

/*
 * Read and drop what a client sent that will never be handled, up to 64 KiB: closing a Unix
 * socket with unread input resets the connection, and a client that sent a little past a limit
 * should read our last reply and then a clean end of stream.
 */
static void drain_input(int fd) {
        char buf[4096];

        for (int i = 0; i < 16; i++)
                if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
                        break;
}

/* Close @c now. @reason, or the one set when it started closing, goes into the audit record. */
static void conn_free(mcd_server *s, conn *c, const char *reason) {
        if (reason)
                c->reason = reason;
        mcd_audit_disconnect(s, c);
        if (c->closing)
                drain_input(c->fd);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        safe_close(c->fd);
        proc_detach(s, c->p);
        mcd_account_detach(s, c);
        for (size_t i = 0; i < c->n_fds; i++)
                safe_close(c->fds[i].fd);
        free(c->fds);
        free(c->in);
        mcd_buf_done(&c->out);
        free(c);
        accept_resume(s);
}

int mcd_conn_attach_fd(conn *c, int fd) {
        out_fd *v = realloc(c->fds, (c->n_fds + 1) * sizeof(*v));

        if (!v)
                return -ENOMEM;
        c->fds = v;
        /* The reply about to be queued starts where the queue ends. */
        c->fds[c->n_fds++] = (out_fd){c->out_sent + c->out.len, fd};
        return 0;
}

void mcd_conn_detach_fd(conn *c) {
        if (c->n_fds > 0)
                safe_close(c->fds[--c->n_fds].fd);
}

/* Pause a client whose unread replies reach max_output or carry MAX_QUEUED_FDS descriptors;
 * resume once half of them are gone. */
static void conn_update_pause(mcd_server *s, conn *c) {
        if (c->out.len >= s->cfg.max_output || c->n_fds >= MAX_QUEUED_FDS)
                c->paused = true;
        else if (c->out.len <= s->cfg.max_output / 2 && c->n_fds <= MAX_QUEUED_FDS / 2)
                c->paused = false;
}

/* Whether a request of @c waiting in its buffer is handled now. */
static bool conn_handling(mcd_server *s, conn *c) {
        conn_update_pause(s, c);
        return !c->paused && !c->closing && mcd_conn_may_handle(s, c);
}

/* Whether @c is read now. */
static bool conn_reading(mcd_server *s, conn *c) {
        conn_update_pause(s, c);
        return !c->paused && !c->closing && !c->eof && mcd_conn_may_read(s, c);
}

static bool conn_has_line(const conn *c) {
        return c->in_len > 0 && memchr(c->in, '\n', c->in_len);
}

static void conn_update_events(mcd_server *s, conn *c) {
        bool reading = conn_reading(s, c);
        uint32_t ev = 0;

        /* Input only while it can be served. EPOLLRDHUP goes with it: level-triggered, it would
         * wake the loop over and over for a half-closed client that is paused. */
        if (reading)
                ev |= EPOLLIN | EPOLLRDHUP;
        /* Output only after a short write: replies are sent as soon as they are queued. */
        if (c->out.len > 0)
                ev |= EPOLLOUT;
        /*
         * The timeouts. A partial line is not waited for while the client is paused for its own
         * unread replies (the send timeout is what runs then), but it is while its uid or all
         * connections are at their buffer limit: lines that never end must not hold the
         * buffers for ever. Queued output is waited for from its last progress (conn_flush()).
         */
        if (!c->partial || c->paused || c->closing || c->eof)
                c->line_since = 0;
        else if (c->line_since == 0)
                c->line_since = mcd_now_ms(); /* not s->now: never a deadline before its time */
        if (c->out.len == 0)
                c->send_since = 0;
        else if (c->send_since == 0)
                c->send_since = mcd_now_ms();
        if (c->line_since)
                mcd_schedule(s, c->line_since + (int64_t) s->cfg.request_timeout_ms);
        if (c->send_since)
                mcd_schedule(s, c->send_since + (int64_t) s->cfg.send_timeout_ms);
        /* Usually nothing changed (a request came, its reply went out whole): a system call
         * saved per request. A failed change is tried again on the next event. */
        if (ev == c->events)
                return;
        if (epoll_set(s, EPOLL_CTL_MOD, c->fd, ev, c) == 0)
                c->events = ev;
}

/* Send what is queued; returns -1 when the connection is gone. */
static int conn_flush(conn *c) {
        while (c->out.len > 0) {
                size_t n = c->out.len;
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov;
                struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
                bool with_fd = false;
                ssize_t k;

                if (c->n_fds > 0) {
                        uint64_t at = c->fds[0].pos;
                        if (at == c->out_sent) {
                                with_fd = true;
                                /* One descriptor a message: stop before the next one's reply. */
                                if (c->n_fds > 1 && c->fds[1].pos - c->out_sent < n)
                                        n = (size_t) (c->fds[1].pos - c->out_sent);
                        } else if (at - c->out_sent < n)
                                n = (size_t) (at - c->out_sent); /* stop before that reply */
                }
                iov.iov_base = c->out.data;
                iov.iov_len = n;
                if (with_fd) {
                        struct cmsghdr *cm;
                        memset(cbuf, 0, sizeof(cbuf));
                        msg.msg_control = cbuf;
                        msg.msg_controllen = sizeof(cbuf);
                        cm = CMSG_FIRSTHDR(&msg);
                        cm->cmsg_level = SOL_SOCKET;
                        cm->cmsg_type = SCM_RIGHTS;
                        cm->cmsg_len = CMSG_LEN(sizeof(int));
                        memcpy(CMSG_DATA(cm), &c->fds[0].fd, sizeof(int));
                }
                k = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -1;
                }
                if (with_fd) {
                        /* The descriptor went with the first byte sent. */
                        safe_close(c->fds[0].fd);
                        memmove(c->fds, c->fds + 1, (c->n_fds - 1) * sizeof(*c->fds));
                        c->n_fds--;
                }
                mcd_buf_consume(&c->out, (size_t) k);
                c->out_sent += (uint64_t) k;
                /* The client reads: the send timeout counts from here. */
                c->send_since = c->out.len > 0 ? mcd_now_ms() : 0;
        }
        return 0;
}

/* Queue a last error reply and close once it is sent. */
static void queue_closing_error(conn *c, mc_error_kind kind, int errnum, const char *reason,
                                const char *msg) {
        mc_error e = MC_ERROR_INIT;

        (void) mc_error_set(&e, kind, errnum, "%s", msg);
        (void) mcd_reply_error(&c->out, &e, NULL);
        c->closing = true;
        c->reason = reason;
}

static void queue_line_error(conn *c, uint64_t max) {
        char msg[128];

        snprintf(msg, sizeof(msg),
                 "the request line exceeds %" PRIu64 " bytes; closing the connection", max);
        queue_closing_error(c, MC_ERR_INVALID_ARGUMENT, E2BIG, "line_too_long", msg);
}

/*
 * Give back buffers that are empty again: those a long line or a large reply grew, or, for a
 * connection whose uid is at its limit (@all), every one. A large output buffer less than half
 * full shrinks to what it holds: it doubled to make room for a reply's upper bound, and what it
 * holds is what the uid is charged for.
 */
static void conn_trim(mcd_server *s, conn *c, bool all) {
        if (c->in_len == 0 && c->in_cap > (all ? 0 : IN_KEEP)) {
                free(c->in);
                c->in = NULL;
                c->in_cap = 0;
        }
        if (c->out.len == 0 && c->out.cap > (all ? 0 : OUT_KEEP))
                mcd_buf_done(&c->out);
        else if (c->out.cap > OUT_KEEP && c->out.len <= c->out.cap / 2) {
                size_t cap = MC_MAX(c->out.len, (size_t) OUT_KEEP);
                char *p = realloc(c->out.data, cap);

                if (p) {
                        c->out.data = p;
                        c->out.cap = cap;
                }
        }
        mcd_conn_charge(s, c);
}

/* Handle the complete lines in the input buffer until there are none or no more may be handled
 * now (the client is paused or closing, its uid at its buffer limit has a reply queued). */
static void conn_process(mcd_server *s, conn *c) {
        bool partial = false;
        size_t start = 0;

        while (start < c->in_len && conn_handling(s, c)) {
                char *nl = memchr(c->in + start, '\n', c->in_len - start);
                size_t len;

                if (!nl) {
                        partial = true;
                        break;
                }
                len = (size_t) (nl - (c->in + start));
                if (len > s->cfg.max_line) {
                        queue_line_error(c, s->cfg.max_line);
                        break;
                }
                if (len > 0 && c->in[start + len - 1] == '\r')
                        len--; /* tolerate CRLF from hand-typed sessions */
                /* An empty line is a malformed request like any other: one reply per line, so
                 * a pipelining client can count. */
                s->current = c;
                mcd_handle_line(s, c, c->in + start, len);
                s->current = NULL;
                c->requests++;
                start = (size_t) (nl - c->in) + 1;
                /* The reply counts against the uid's buffers before the next request. */
                mcd_conn_charge(s, c);
                if (s->scratch_cap > SCRATCH_KEEP) {
                        free(s->scratch);
                        s->scratch = NULL;
                        s->scratch_cap = 0;
                }
                /* Decoding a long line can take many small blocks (a JSON tree), which free()
                 * keeps in the heap: give their pages back, or one request would pin them. */
                if (len > TRIM_LINE)
                        malloc_trim(0);
                if (s->summaries_due)
                        mcd_audit_flush_summaries(s, false);
        }
        if (start > 0) {
                memmove(c->in, c->in + start, c->in_len - start);
                c->in_len -= start;
                /* A reader at a limit read on for one line; the next is someone else's turn. */
                mcd_conn_release_reader(s, c);
        }
        /* Stopped before the end (paused, at a limit): what is left may be a line still
         * arriving all the same, which the timeout and the choice of a reader must know. */
        if (!partial && !c->closing && c->in_len > 0)
                partial = !memchr(c->in, '\n', c->in_len);
        /* A new line started: its time runs from now. */
        if (partial && start > 0)
                c->line_since = 0;
        c->partial = partial;
        /* Only a line still waiting for its end can be too long: complete lines also wait here
         * while the client is paused. */
        if (partial && !c->closing && c->in_len > s->cfg.max_line)
                queue_line_error(c, s->cfg.max_line);
}

/* Read what the client sent and handle it; false when the connection is broken. */
static bool conn_read(mcd_server *s, conn *c) {
        /* A line and its newline fit; the buffer never grows past that. */
        size_t limit = (size_t) MC_MIN(s->cfg.max_line, (uint64_t) (SIZE_MAX / 4)) + 1;

        for (int rounds = 0; rounds < 16 && conn_reading(s, c); rounds++) {
                size_t room;
                ssize_t n;

                if (c->in_cap - c->in_len < IN_START / 2 && c->in_cap < limit) {
                        size_t cap = c->in_cap ? c->in_cap * 2 : IN_START;
                        char *p;

                        while (cap - c->in_len < IN_START / 2)
                                cap *= 2;
                        cap = MC_MIN(cap, limit);
                        p = realloc(c->in, cap);
                        if (!p) {
                                c->reason = "out_of_memory";
                                return false;
                        }
                        c->in = p;
                        c->in_cap = cap;
                        mcd_conn_charge(s, c);
                }
                room = c->in_cap - c->in_len;
                if (room == 0)
                        break; /* complete lines wait for their turn */
                n = read(c->fd, c->in + c->in_len, room);
                if (n == 0) {
                        /* A client may send its requests and shut down its side: it still
                         * gets every reply. */
                        c->eof = true;
                        break;
                }
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return true;
                        c->reason = "reset";
                        return false;
                }
                c->in_len += (size_t) n;
                c->bytes_in += (uint64_t) n;
                conn_process(s, c);
                if ((size_t) n < room) /* else there may be more, with a larger buffer */
                        break;
        }
        return true;
}

/*
 * Send, handle what waits in the buffer, and close once done. Called after an event, and for a
 * connection whose uid may be taken again. Frees @c when it is done.
 */
static void conn_serve(mcd_server *s, conn *c, bool alive) {
        while (alive) {
                if (conn_flush(c) < 0) {
                        alive = false;
                        c->reason = "reset";
                        break;
                }
                /* Requests left in the buffer when the client was paused wait for no new
                 * input: take them as soon as the backlog has drained. */
                mcd_conn_charge(s, c);
                if (!conn_handling(s, c) || !conn_has_line(c))
                        break;
                conn_process(s, c);
        }
        /* Done: everything answered after a shutdown or a fatal error; a partial line left at
         * the end of the stream is not a request. */
        if (alive && c->out.len == 0 && c->closing)
                alive = false;
        if (alive && c->out.len == 0 && c->eof && !conn_has_line(c)) {
                alive = false;
                c->reason = c->in_len > 0 ? "closed_mid_request" : "closed";
        }
        if (!alive) {
                conn_free(s, c, NULL);
                return;
        }
        conn_trim(s, c, c->acct && c->acct->blocked);
        conn_update_events(s, c);
}

static void conn_event(mcd_server *s, conn *c, uint32_t events) {
        bool alive = true;

        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
                alive = conn_read(s, c);
        if (alive && (events & EPOLLERR)) {
                alive = false;
                c->reason = "reset";
        }
        /*
         * Hung up in both directions while not read (at a buffer limit): nothing can reach the
         * client any more, and epoll reports the hang-up whatever the interest, so waiting
         * would spin. What it sent and the daemon did not read is dropped, as for a paused
         * client, whose unsent replies fail below.
         */
        if (alive && (events & EPOLLHUP) && !c->eof && c->out.len == 0 && !conn_reading(s, c)) {
                alive = false;
                c->reason = c->in_len > 0 ? "closed_mid_request" : "closed";
        }
        conn_serve(s, c, alive);
}

/*
 * A uid (@a) or all connections (@a NULL) crossed a buffer limit, or, blocked, sent its last
 * queued reply. Blocked: give back every empty buffer, so that only what waits to be sent or
 * finished holds the limit, stop reading, and handle buffered requests one reply at a time.
 * Not blocked: handle what waits in the buffers and read again.
 */
static void serve_budget(mcd_server *s, account *a) {
        conn *next;

        if (a && a->blocked && !a->reported) {
                a->reported = true;
                mcd_audit_blocked(s, a);
        } else if (a && !a->blocked)
                a->reported = false;
        for (conn *c = a ? a->conns : s->conns; c; c = next) {
                next = a ? c->acct_next : c->next;
                conn_serve(s, c, true);
        }
}

/*
 * At a limit with no reply waiting to be sent, requests already buffered are handled, one reply
 * at a time. When none is left, what holds the buffers is lines still arriving, and reading
 * none of them would wait for ever: one connection (of @a, or of all with @a NULL) is read on
 * until its line is whole.
 */
static void unstick(mcd_server *s, account *a) {
        conn **reader = a ? &a->reader : &s->reader;
        conn *next;

        for (conn *c = a ? a->conns : s->conns; c; c = next) {
                next = a ? c->acct_next : c->next;
                if (conn_handling(s, c) && conn_has_line(c))
                        conn_serve(s, c, true);
        }
        if (*reader ||
            (a ? !a->blocked || a->queued > 0 : !s->total_blocked || s->queued_total > 0))
                return;
        for (conn *c = a ? a->conns : s->conns; c; c = a ? c->acct_next : c->next)
                if (c->partial && !c->paused && !c->closing && !c->eof) {
                        *reader = c;
                        conn_update_events(s, c);
                        return;
                }
}

/* Act on the limits crossed since the last call; serving may cross them again. */
static void service_budgets(mcd_server *s) {
        for (int round = 0; round < 4 && s->budget_changed; round++) {
                s->budget_changed = false;
                if (s->total_changed) {
                        s->total_changed = false;
                        for (account *a = s->accounts; a; a = a->next)
                                a->changed = false;
                        serve_budget(s, NULL);
                } else
                        for (account *a = s->accounts; a; a = a->next)
                                if (a->changed) {
                                        a->changed = false;
                                        serve_budget(s, a);
                                }
        }
        for (account *a = s->accounts; a; a = a->next)
                if (a->blocked && a->queued == 0)
                        unstick(s, a);
        if (s->total_blocked && s->queued_total == 0)
                unstick(s, NULL);
}

/*
 * Close the connections whose time is up: a line not finished within request_timeout of its
 * first byte (told so, if it still reads), queued replies that did not move for send_timeout.
 * Then the accounts' windows. Schedules the next look.
 */
static void sweep_timeouts(mcd_server *s) {
        int64_t line_ms = (int64_t) s->cfg.request_timeout_ms;
        int64_t send_ms = (int64_t) s->cfg.send_timeout_ms;
        conn *next;

        s->next_tick = 0;
        for (conn *c = s->conns; c; c = next) {
                next = c->next;
                if (c->send_since && s->now - c->send_since >= send_ms) {
                        log_debug("client pid %d: replies not read for %" PRId64
                                  " ms; closing the connection",
                                  (int) c->client.pid, s->now - c->send_since);
                        conn_free(s, c, "send_timeout");
                        continue;
                }
                if (c->line_since && s->now - c->line_since >= line_ms) {
                        char msg[160];

                        snprintf(msg, sizeof(msg),
                                 "no complete request line within %" PRIu64
                                 " ms of its first byte; closing the connection",
                                 s->cfg.request_timeout_ms);
                        log_debug("client pid %d: %s", (int) c->client.pid, msg);
                        queue_closing_error(c, MC_ERR_TIMED_OUT, ETIMEDOUT, "request_timeout", msg);
                        (void) conn_flush(c);
                        conn_free(s, c, NULL);
                        continue;
                }
                if (c->line_since)
                        mcd_schedule(s, c->line_since + line_ms);
                if (c->send_since)
                        mcd_schedule(s, c->send_since + send_ms);
        }
        mcd_accounts_sweep(s);
}

/* ---- the listening socket -------------------------------------------------------------------- */

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

static void accept_clients(mcd_server *s) {
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
                c->p = proc_attach(s, cred.pid, pidfd);
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
                if (epoll_set(s, EPOLL_CTL_ADD, fd, c->events, c) < 0) {
                        proc_detach(s, c->p);
                        free(c);
                        close(fd);
                        continue;
                }
                c->id = ++s->next_conn_id;
                c->opened = s->now;
                c->acct = a;
                mcd_account_attach(c);
                c->next = s->conns;
                if (s->conns)
                        s->conns->prev = c;
                s->conns = c;
                s->n_conns++;
                mcd_audit_connect(s, c);
                /* A blocked uid's new connection waits like its others. */
                if (!mcd_conn_may_read(s, c))
                        conn_update_events(s, c);
                log_debug("client pid %d uid %u connected", (int) cred.pid, (unsigned) cred.uid);
        }
}

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

static int listen_on(mcd_server *s, mc_error *err) {
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

/* ---- signals and reload ---------------------------------------------------------------------- */

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

/* Build the context's policy (and audit sink) from the configuration. */
static int apply_policy(mcd_server *s, const mcd_config *cfg, mc_error *err) {
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

static void do_reload(mcd_server *s) {
        mcd_config cfg;
        mc_error err = MC_ERROR_INIT;
        int r;

        s->reload = false;
        if (!s->config_path) {
                r = apply_policy(s, &s->cfg, &err);
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
         * log, and the manager's options. A policy named on the command line still overrides
         * the file's.
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
                if (r >= 0 && cfg.policy_pinned)
                        r = mcd_config_set(&cfg.policy_path, s->cfg.policy_path);
                if (r < 0)
                        mc_error_errno(&err, ENOMEM, "reload: allocating");
        }
        if (r >= 0)
                r = apply_policy(s, &cfg, &err);
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

/* ---- set-up --------------------------------------------------------------------------------- */

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
        s->cfg.caps = malloc((cfg->n_caps ? cfg->n_caps : 1) * sizeof(*cfg->caps));
        s->config_path = config_path ? strdup(config_path) : NULL;
        if (!s->cfg.socket_path || !s->cfg.root || !s->cfg.caps ||
            (cfg->policy_path && !s->cfg.policy_path) || (cfg->audit_path && !s->cfg.audit_path) ||
            (config_path && !s->config_path)) {
                r = mc_error_errno(err, ENOMEM, "allocating the server");
                goto fail;
        }
        memcpy(s->cfg.caps, cfg->caps, cfg->n_caps * sizeof(*cfg->caps));

        r = mc_ctx_new(&s->ctx, err);
        if (r < 0)
                goto fail;
        r = apply_policy(s, &s->cfg, err);
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
        r = mc_signal_register_handler(s->ctx, SIGTERM, on_stop, s, MC_SIGNAL_BLOCK, NULL, err);
        r = r < 0 ? r
                  : mc_signal_register_handler(s->ctx, SIGINT, on_stop, s, MC_SIGNAL_BLOCK, NULL,
                                               err);
        r = r < 0 ? r
                  : mc_signal_register_handler(s->ctx, SIGHUP, on_reload, s, MC_SIGNAL_BLOCK, NULL,
                                               err);
        r = r < 0 ? r : mc_signal_fd(s->ctx, &s->sigfd, err);
        if (r < 0)
                goto fail;
        signal(SIGPIPE, SIG_IGN);
        if (epoll_set(s, EPOLL_CTL_ADD, s->sigfd, EPOLLIN, &s->signal_kind) < 0) {
                r = mc_error_errno(err, errno, "epoll_ctl");
                goto fail;
        }

        if (listen_fd >= 0) {
                s->lfd = listen_fd;
                (void) fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
        } else {
                r = listen_on(s, err);
                if (r < 0)
                        goto fail;
        }
        if (epoll_set(s, EPOLL_CTL_ADD, s->lfd, EPOLLIN, &s->listen_kind) < 0) {
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
                        if (conn_flush(c) < 0)
                                c->out.len = 0;
                        pending = pending || c->out.len > 0;
                }
                if (!pending)
                        break;
                usleep(10000);
        }
        s->now = mcd_now_ms();
        while (s->conns)
                conn_free(s, s->conns, "shutdown");
        mcd_audit_flush_summaries(s, true);
}

/* How long epoll_wait() may sleep: not at all while work between batches is pending (a
 * timeout or a reload may have let a blocked uid go on), until the next deadline, and a second
 * at most while accepting is paused for want of descriptors (accept_resume()). */
static int wait_timeout(const mcd_server *s) {
        int64_t ms = -1;

        if (s->budget_changed || s->summaries_due || s->sweep_procs || s->reload)
                return 0;

        if (s->next_tick)
                ms = MC_MAX(s->next_tick - mcd_now_ms(), (int64_t) 0);
        if (s->accept_paused && (ms < 0 || ms > 1000))
                ms = 1000;
        return (int) MC_MIN(ms, (int64_t) INT32_MAX);
}

int mcd_server_run(mcd_server *s) {
        struct epoll_event ev[64];

#if HAVE_LIBSYSTEMD
        sd_notifyf(0, "READY=1\nSTATUS=serving %s on %s", s->cfg.root, s->cfg.socket_path);
#endif
        log_info("serving '%s' on '%s' (pid %d)", s->cfg.root, s->cfg.socket_path, (int) getpid());
        while (!s->stopping) {
                int n = epoll_wait(s->epfd, ev, (int) ELEMENTSOF(ev), wait_timeout(s));

                s->now = mcd_now_ms();
                if (n == 0)
                        accept_resume(s); /* descriptors may have come free without an event */

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
                                        accept_clients(s);
                                break;
                        case WATCH_SIGNALS:
                                (void) mc_signal_dispatch(s->ctx, NULL);
                                break;
                        case WATCH_PROC:
                                proc_exited(s, ev[i].data.ptr);
                                /* Later events of this batch may point at the freed record. */
                                n = i + 1;
                                break;
                        case WATCH_CONN:
                                conn_event(s, ev[i].data.ptr, ev[i].events);
                                /* A freed connection's later events are gone with it: epoll
                                 * reports each fd once per wait. */
                                break;
                        }
                }
                /* Between batches: nothing of the last one points at what these free. */
                if (s->budget_changed)
                        service_budgets(s);
                if (s->next_tick && s->now >= s->next_tick)
                        sweep_timeouts(s);
                if (s->summaries_due)
                        mcd_audit_flush_summaries(s, false);
                if (s->sweep_procs)
                        sweep_procs(s);
                if (s->reload)
                        do_reload(s);
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
                conn_free(s, s->conns, "shutdown");
        while (s->procs)
                proc_free(s, s->procs);
        if (s->ctx)
                mcd_audit_flush_summaries(s, true);
        mcd_accounts_free(s);
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
