/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The server's internals, shared by its files (server.c lists them and their jobs): server.c
 * (set-up, the loop), listener.c, conn.c, procs.c, timeouts.c, reload.c, handlers.c, channels.c,
 * account.c and audit-log.c. All of it runs on the loop's one thread.
 */

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/memcap.h>

#include "list.h"
#include "protocol.h"
#include "server.h"
#include "settings.h"

/* What an epoll event is about. */
typedef enum watch_kind {
        WATCH_LISTEN,
        WATCH_SIGNALS,
        WATCH_CONN,
        WATCH_PROC,
} watch_kind;

/* A client process: its mappings are released when its pidfd says it exited. */
typedef struct proc {
        watch_kind kind; /* WATCH_PROC; first, so an epoll pointer can be read as a kind */
        uint64_t key;    /* pidfs inode, or start time and pid: never reused */
        pid_t pid;
        int pidfd;
        unsigned refs; /* open connections */
        bool idle;     /* lost its last connection since the last mcd_procs_sweep() */
        struct proc *prev, *next;
} proc;

/* A descriptor to send with the reply that starts at byte @pos of the output stream. */
typedef struct out_fd {
        uint64_t pos;
        int fd;
} out_fd;

typedef struct account account;
typedef struct mcd_chan mcd_chan;

/* How an audit record counts for the rate limit's summary. */
typedef enum audit_class {
        AUDIT_CLASS_OK,
        AUDIT_CLASS_DENIED,
        AUDIT_CLASS_ERROR,
        _AUDIT_CLASS_MAX,
} audit_class;

typedef struct conn {
        watch_kind kind; /* WATCH_CONN */
        int fd;
        uint64_t id; /* the connection's number in audit records; never reused by a daemon */
        mc_client client;
        proc *p;
        account *acct; /* the account of client.uid */
        char *in;
        size_t in_len, in_cap;
        mcd_buf out;
        uint64_t out_sent; /* bytes ever sent: out.data[0] is at this offset of the stream */
        out_fd *fds;
        size_t n_fds;
        size_t held;        /* in_cap + out.cap as last charged to the account */
        size_t queued;      /* out.len as last charged to the account */
        int64_t line_since; /* ms: the partial line in @in is waited for since; 0: not */
        int64_t send_since; /* ms: the queued output last moved; 0: nothing queued */
        int64_t opened;     /* ms */
        uint64_t requests;  /* lines handled */
        uint64_t bytes_in;  /* bytes read */
        const char *reason; /* why it closes, for the audit record; NULL: not decided yet */
        bool partial;       /* @in ends in a line still waiting for its newline */
        bool paused;        /* input not read until the output drains */
        bool eof;           /* the client sent its last byte: answer what is buffered, then close */
        bool closing;       /* close once the output is sent */
        uint32_t events;    /* the interest registered with epoll, to change only when it does */
        struct conn *prev, *next;
        struct conn *acct_prev, *acct_next; /* the connections of the same uid */
} conn;

/*
 * What one uid holds in the daemon: its connections, the bytes of their buffers, and the state
 * of its audit rate limit. Kept while the uid has connections, and afterwards until its rate
 * limit's window is over, so that reconnecting does not open a fresh window.
 */
struct account {
        uid_t uid;
        size_t n_conns;
        conn *conns;
        uint64_t held;   /* sum of the connections' held bytes */
        uint64_t queued; /* sum of the connections' queued bytes */
        bool blocked;    /* held reached max_buffer_per_uid: its connections are not read */
        bool changed;    /* its connections are to be looked at again (mcd_budgets_serve()) */
        bool reported;   /* the audit log has a record of this blocked episode */
        conn *reader;    /* blocked, the one connection read on to finish its line */
        /* The audit rate limit: a window of audit_rate_interval that admits audit_rate_burst
         * records; the rest are counted and summarised when the window is over. */
        int64_t window_start; /* ms; 0: no window open */
        uint64_t window_records;
        uint64_t suppressed[_AUDIT_CLASS_MAX];
        int64_t first_suppressed, last_suppressed; /* CLOCK_REALTIME, ns */
        struct account *prev, *next;
};

struct mcd_server {
        mcd_config cfg;
        char *config_path;
        mc_ctx *ctx;
        mc_manager *mgr;
        int epfd;
        int lfd;
        int lock_fd;        /* the lock beside the socket, held while we run */
        bool own_socket;    /* we bound it, so we unlink it */
        bool accept_paused; /* out of descriptors: lfd is not watched (accept_pause()) */
        bool accept_warned; /* ...and the shortage was logged */
        int spare_fd;       /* given up to take the pidfd of a client already accepted */
        int sigfd;
        watch_kind listen_kind, signal_kind;
        conn *conns;
        size_t n_conns;
        uint64_t next_conn_id;
        proc *procs;
        account *accounts;
        uint64_t held_total;   /* buffers of all connections */
        uint64_t queued_total; /* replies of all connections waiting to be sent */
        bool total_blocked;    /* held_total reached max_buffer_total: no connection is read */
        bool total_changed;    /* total_blocked changed since the last mcd_budgets_serve() */
        conn *reader;          /* total_blocked, the one connection read on to finish its line */
        bool budget_changed;   /* some account or the total changed */
        int64_t total_warned;  /* ms: when reaching max_buffer_total was last logged */
        int64_t now;           /* ms, CLOCK_MONOTONIC, as of the last wake-up */
        int64_t next_tick;     /* ms: the earliest deadline of a timeout or window; 0: none */
        bool sweep_procs;      /* some process lost its last connection */
        bool stopping;
        bool reload;
        mcd_chan *channels; /* channels.c */
        size_t n_channels;
        uint8_t *scratch; /* MmapRead bytes on their way into a reply */
        size_t scratch_cap;
        /* The audit log (audit-log.c). */
        int audit_fd;        /* -1: no audit log file */
        bool audit_sink;     /* the context's records come to sink() (a file or the journal) */
        bool audit_warned;   /* a failed write was logged */
        bool journal_warned; /* a failed send to the journal was logged */
        const mc_audit_record *journal_rec; /* the record sink() is writing, for the journal */
        bool summaries_due;  /* some account's window ended with records suppressed */
        const conn *current; /* the client whose request is being handled */
};

/* ---- server.c ------------------------------------------------------------------------------ */

/* epoll_ctl() of @fd with @events, the event's data pointing at @ptr (which starts with a
 * watch_kind). Returns epoll_ctl()'s result. */
int mcd_epoll_set(mcd_server *s, int op, int fd, uint32_t events, void *ptr);

/* ---- timeouts.c ---------------------------------------------------------------------------- */

/* The monotonic clock in milliseconds. */
int64_t mcd_now_ms(void);

/* Make sure the loop wakes up by @deadline (ms) to look at timeouts and windows. */
void mcd_schedule(mcd_server *s, int64_t deadline);

/*
 * Close the connections whose time is up: a line not finished within request_timeout of its
 * first byte (told so, if it still reads), queued replies that did not move for send_timeout.
 * Then the accounts' windows. Schedules the next look.
 */
void mcd_timeouts_sweep(mcd_server *s);

/* How long epoll_wait() may sleep (ms, -1 for as long as it takes). */
int mcd_wait_timeout(const mcd_server *s);

/* ---- listener.c ---------------------------------------------------------------------------- */

/* Bind and listen on the configured socket path, holding the lock beside it. */
int mcd_listen_on(mcd_server *s, mc_error *err);

/* Accept every waiting client, refusing those over a limit. */
void mcd_accept_clients(mcd_server *s);

/* Accept again after a shortage of descriptors, once the spare one is back. */
void mcd_accept_resume(mcd_server *s);

/* ---- procs.c ------------------------------------------------------------------------------- */

/* The record of the process @pid (taking @pidfd, which is closed when the process is known
 * already), counting one more connection; NULL when out of memory or epoll refuses it. */
proc *mcd_proc_attach(mcd_server *s, pid_t pid, int pidfd);

/* A connection of @p (may be NULL) closed. */
void mcd_proc_detach(mcd_server *s, proc *p);

/* The process exited: release its mappings and close its connections. Frees @p. */
void mcd_proc_exited(mcd_server *s, proc *p);

/* Forget @p and close its pidfd. */
void mcd_proc_free(mcd_server *s, proc *p);

/* Forget the processes without connections or mappings (between batches of events). */
void mcd_procs_sweep(mcd_server *s);

/* ---- conn.c -------------------------------------------------------------------------------- */

/* Close @c now; @reason, or the one set when it started closing, goes into the audit record. */
void mcd_conn_free(mcd_server *s, conn *c, const char *reason);

/* Register with epoll the events @c waits for now, and schedule its timeouts. */
void mcd_conn_update_events(mcd_server *s, conn *c);

/* Send what is queued; returns -1 when the connection is gone. */
int mcd_conn_flush(conn *c);

/* An epoll event of @c: read, handle, send; frees @c when it is done. */
void mcd_conn_event(mcd_server *s, conn *c, uint32_t events);

/* Queue a last error reply and close once it is sent. */
void mcd_conn_queue_closing_error(conn *c, mc_error_kind kind, int errnum, const char *reason,
                                  const char *msg);

/* Most descriptors one reply carries (a channel's region and its two eventfds). */
#define MCD_MAX_FDS_PER_REPLY 3

/* Queue a descriptor to go with the reply about to be written to @c->out; up to
 * MCD_MAX_FDS_PER_REPLY of them go with one reply, in one message. */
int mcd_conn_attach_fd(conn *c, int fd);

/* Close the descriptor of the last mcd_conn_attach_fd() when its reply could not be queued:
 * it would otherwise go with the next reply. */
void mcd_conn_detach_fd(conn *c);

/* Act on the buffer limits crossed since the last call (between batches of events). */
void mcd_budgets_serve(mcd_server *s);

/* ---- reload.c ------------------------------------------------------------------------------ */

/* Register the handlers of SIGTERM, SIGINT (stop) and SIGHUP (reload) and get the descriptor
 * of memcap's signal queue in s->sigfd. */
int mcd_signals_register(mcd_server *s, mc_error *err);

/* Build the context's policy from @cfg. */
int mcd_apply_policy(mcd_server *s, const mcd_config *cfg, mc_error *err);

/* Reload the configuration file (or the policy alone) after SIGHUP; keep the old on error. */
void mcd_reload(mcd_server *s);

/* ---- handlers.c ---------------------------------------------------------------------------- */

/* Handle one request line of @c and queue its reply. */
void mcd_handle_line(mcd_server *s, conn *c, const char *line, size_t len);

/* ---- channels.c ---------------------------------------------------------------------------- */

/* ChannelCreate and ChannelOpen: queue the reply and the region's descriptor, or fill @e. */
int mcd_channel_create(mcd_server *s, conn *c, const mcd_request *q, mc_error *e);
int mcd_channel_open(mcd_server *s, conn *c, const mcd_request *q, mc_error *e);

/* Whether the process @key created a channel the daemon still holds. */
bool mcd_channels_owned(const mcd_server *s, uint64_t key);

/* The process @key exited: forget its channels (ends already open keep them). */
void mcd_channels_drop_owner(mcd_server *s, uint64_t key);

void mcd_channels_free(mcd_server *s);

/* ---- account.c ----------------------------------------------------------------------------- */

/* The account of @uid, created when missing; NULL when out of memory. */
account *mcd_account_get(mcd_server *s, uid_t uid);

/* Count @c (whose acct is set) among its account's connections, and stop counting it. */
void mcd_account_attach(conn *c);
void mcd_account_detach(mcd_server *s, conn *c);

/*
 * Charge @c's buffers (in_cap + out.cap, out.len of them queued) to its account and to the
 * total, and block or unblock them at their limits: blocked at the limit, unblocked below three
 * quarters of it, so that a uid at its limit does not flip on every reply. A change that lets
 * connections do more sets budget_changed for the loop to act on (mcd_budgets_serve()).
 */
void mcd_conn_charge(mcd_server *s, conn *c);

/* @c finished the line it was chosen to read on (or closes): it is the reader no more. */
void mcd_conn_release_reader(mcd_server *s, conn *c);

/* Apply changed limits (a reload) to every account and the total. */
void mcd_budgets_recheck(mcd_server *s);

/* Whether @c may be read: neither its uid nor the total is blocked, or it is their reader. */
bool mcd_conn_may_read(const mcd_server *s, const conn *c);

/* Whether a request of @c that is already buffered may be handled: its uid (and the total) is
 * either not blocked or has no reply waiting to be sent. */
bool mcd_conn_may_handle(const mcd_server *s, const conn *c);

/* Forget accounts without connections whose rate-limit window is over and summarised;
 * schedules the next look for the others. */
void mcd_accounts_sweep(mcd_server *s);

void mcd_accounts_free(mcd_server *s);

/* ---- audit-log.c --------------------------------------------------------------------------- */

/* Open the audit log of the configuration (if any) and make it the context's sink. */
int mcd_audit_open(mcd_server *s, mc_error *err);

/* Close the log's descriptor; after the context, which calls into the sink, is gone. */
void mcd_audit_close(mcd_server *s);

/*
 * Open the audit log file again (SIGHUP, after logrotate renamed it): records go to the new file
 * from now on. When it cannot be opened they keep going to the old descriptor; -errno then.
 */
int mcd_audit_reopen(mcd_server *s);

/* Whether there is an audit trail at all: callers skip building records otherwise. */
static inline bool mcd_audit_enabled(const mcd_server *s) {
        return s->audit_sink;
}

/*
 * The rate limit: whether one more record caused by @a's uid may be written now; if not, it is
 * counted under @cls for the summary. Records of successful operations that change something
 * never ask: they are always written.
 */
bool mcd_audit_admit(mcd_server *s, account *a, audit_class cls);

/* Write the summary records ("N records suppressed") of windows that are over, or of every
 * window with suppressed records when @all (shutdown). */
void mcd_audit_flush_summaries(mcd_server *s, bool all);

/* Add the client's identity to a record's fields: client_pid, client_uid, client_key, conn. */
int mcd_audit_add_client(json_t *o, const conn *c);

/*
 * @n bytes of client input as printable ASCII for a record: at most @size - 1 characters, bytes
 * outside ' '..'~' and the backslash written as \xNN; "..." marks a cut. Returns @out.
 */
char *mcd_audit_escape(const char *in, size_t n, char *out, size_t size);

/* Write the event @o (consumed) as a "memcapd" record named @event. */
void mcd_audit_emit(mcd_server *s, const char *event, json_t *o);

/* Connection records: accepted, refused (@reason), closed (c->reason). Rate-limited. */
void mcd_audit_connect(mcd_server *s, conn *c);
void mcd_audit_refused(mcd_server *s, account *a, pid_t pid, uid_t uid, const char *reason);
void mcd_audit_disconnect(mcd_server *s, conn *c);

/* A uid reached max_buffer_per_uid. Rate-limited. */
void mcd_audit_blocked(mcd_server *s, account *a);
