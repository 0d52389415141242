/* SPDX-License-Identifier: MIT */
/*
 * memcapd's connections: their buffers, reading request lines, sending replies (the descriptors
 * of MmapFd, ChannelCreate and ChannelOpen ride on the first byte of their reply), pausing a client
 * that does not read, and serving connections again when their uid's buffers, or all connections',
 * come under their limits. Requests themselves are handled in handlers.c, the limits counted in
 * account.c.
 *
 *   - a request line is at most max_line bytes, and its buffer never grows past that;
 *   - a connection whose unread replies reach max_output (or that holds MAX_QUEUED_FDS unread
 *     descriptors) is paused: no request of it is handled until half of them are gone;
 *   - at max_buffer_per_uid or max_buffer_total the connections are not read, and buffered
 *     requests are handled one reply at a time;
 *   - buffers a long line or a large reply grew are given back once they are empty.
 *
 * Sections: buffers and state, output, input, serving, at the buffer limits.
 */

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "server-int.h"

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

/* Descriptors (MmapFd, ChannelCreate and ChannelOpen replies) queued for one connection before
 * it is paused: each is open in the daemon until the client reads its reply. */
#define MAX_QUEUED_FDS 64

/* ---- buffers and state ------------------------------------------------------------------------
 */

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
void mcd_conn_free(mcd_server *s, conn *c, const char *reason) {
        if (reason)
                c->reason = reason;
        mcd_audit_disconnect(s, c);
        if (c->closing)
                drain_input(c->fd);
        MC_LIST_REMOVE(prev, next, s->conns, c);
        s->n_conns--;
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        safe_close(c->fd);
        mcd_proc_detach(s, c->p);
        mcd_account_detach(s, c);
        for (size_t i = 0; i < c->n_fds; i++)
                safe_close(c->fds[i].fd);
        free(c->fds);
        free(c->in);
        mcd_buf_done(&c->out);
        free(c);
        mcd_accept_resume(s);
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

void mcd_conn_update_events(mcd_server *s, conn *c) {
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
         * buffers for ever. Queued output is waited for from its last progress (mcd_conn_flush()).
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
        if (mcd_epoll_set(s, EPOLL_CTL_MOD, c->fd, ev, c) == 0)
                c->events = ev;
}

/* ---- output -----------------------------------------------------------------------------------
 */

/* Send what is queued; returns -1 when the connection is gone. */
int mcd_conn_flush(conn *c) {
        while (c->out.len > 0) {
                size_t n = c->out.len;
                char cbuf[CMSG_SPACE(MCD_MAX_FDS_PER_REPLY * sizeof(int))];
                struct iovec iov;
                struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
                size_t with_fd = 0; /* descriptors that go with this message */
                ssize_t k;

                if (c->n_fds > 0) {
                        uint64_t at = c->fds[0].pos;
                        if (at == c->out_sent) {
                                /* The descriptors of one reply (queued at one position) go
                                 * together; stop before the next reply's. */
                                while (with_fd < c->n_fds && with_fd < MCD_MAX_FDS_PER_REPLY &&
                                       c->fds[with_fd].pos == at)
                                        with_fd++;
                                if (c->n_fds > with_fd && c->fds[with_fd].pos != at &&
                                    c->fds[with_fd].pos - c->out_sent < n)
                                        n = (size_t) (c->fds[with_fd].pos - c->out_sent);
                        } else if (at - c->out_sent < n)
                                n = (size_t) (at - c->out_sent); /* stop before that reply */
                }
                iov.iov_base = c->out.data;
                iov.iov_len = n;
                if (with_fd) {
                        struct cmsghdr *cm;
                        memset(cbuf, 0, sizeof(cbuf));
                        msg.msg_control = cbuf;
                        msg.msg_controllen = CMSG_SPACE(with_fd * sizeof(int));
                        cm = CMSG_FIRSTHDR(&msg);
                        cm->cmsg_level = SOL_SOCKET;
                        cm->cmsg_type = SCM_RIGHTS;
                        cm->cmsg_len = CMSG_LEN(with_fd * sizeof(int));
                        for (size_t i = 0; i < with_fd; i++)
                                memcpy(CMSG_DATA(cm) + i * sizeof(int), &c->fds[i].fd, sizeof(int));
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
                        /* The descriptors went with the first byte sent. */
                        for (size_t i = 0; i < with_fd; i++)
                                safe_close(c->fds[i].fd);
                        memmove(c->fds, c->fds + with_fd, (c->n_fds - with_fd) * sizeof(*c->fds));
                        c->n_fds -= with_fd;
                }
                mcd_buf_consume(&c->out, (size_t) k);
                c->out_sent += (uint64_t) k;
                /* The client reads: the send timeout counts from here. */
                c->send_since = c->out.len > 0 ? mcd_now_ms() : 0;
        }
        return 0;
}

/* Queue a last error reply and close once it is sent. */
void mcd_conn_queue_closing_error(conn *c, mc_error_kind kind, int errnum, const char *reason,
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
        mcd_conn_queue_closing_error(c, MC_ERR_INVALID_ARGUMENT, E2BIG, "line_too_long", msg);
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

/* ---- input ------------------------------------------------------------------------------------
 */

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

/* ---- serving ----------------------------------------------------------------------------------
 */

/*
 * Send, handle what waits in the buffer, and close once done. Called after an event, and for a
 * connection whose uid may be taken again. Frees @c when it is done.
 */
static void conn_serve(mcd_server *s, conn *c, bool alive) {
        while (alive) {
                if (mcd_conn_flush(c) < 0) {
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
                mcd_conn_free(s, c, NULL);
                return;
        }
        conn_trim(s, c, c->acct && c->acct->blocked);
        mcd_conn_update_events(s, c);
}

void mcd_conn_event(mcd_server *s, conn *c, uint32_t events) {
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

/* ---- at the buffer limits ---------------------------------------------------------------------
 */

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
                        mcd_conn_update_events(s, c);
                        return;
                }
}

/* Act on the limits crossed since the last call; serving may cross them again. */
void mcd_budgets_serve(mcd_server *s) {
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
