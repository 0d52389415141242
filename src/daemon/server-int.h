/* SPDX-License-Identifier: MIT */
#pragma once

/* The server's internals, shared by server.c (I/O, life cycle) and handlers.c (requests). */

#include <stdint.h>
#include <sys/types.h>

#include <memcap/memcap.h>

#include "settings.h"
#include "protocol.h"
#include "server.h"

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
        bool idle;     /* lost its last connection since the last sweep_procs() */
        struct proc *prev, *next;
} proc;

/* A descriptor to send with the reply that starts at byte @pos of the output stream. */
typedef struct out_fd {
        uint64_t pos;
        int fd;
} out_fd;

typedef struct conn {
        watch_kind kind; /* WATCH_CONN */
        int fd;
        mc_client client;
        proc *p;
        char *in;
        size_t in_len, in_cap;
        mcd_buf out;
        uint64_t out_sent; /* bytes ever sent: out.data[0] is at this offset of the stream */
        out_fd *fds;
        size_t n_fds;
        bool paused;     /* input not read until the output drains */
        bool eof;        /* the client sent its last byte: answer what is buffered, then close */
        bool closing;    /* close once the output is sent */
        uint32_t events; /* the interest registered with epoll, to change only when it does */
        struct conn *prev, *next;
} conn;

struct mcd_server {
        mcd_config cfg;
        char *config_path;
        mc_ctx *ctx;
        mc_manager *mgr;
        int epfd;
        int lfd;
        bool own_socket;    /* we bound it, so we unlink it */
        bool accept_paused; /* out of descriptors: lfd is not watched (accept_pause()) */
        bool accept_warned; /* ...and the shortage was logged */
        int spare_fd;       /* given up to take the pidfd of a client already accepted */
        int sigfd;
        watch_kind listen_kind, signal_kind;
        conn *conns;
        size_t n_conns;
        proc *procs;
        bool sweep_procs; /* some process lost its last connection */
        bool stopping;
        bool reload;
        uint8_t *scratch; /* MmapRead bytes on their way into a reply */
        size_t scratch_cap;
};

/* Handle one request line of @c and queue its reply (handlers.c). */
void mcd_handle_line(mcd_server *s, conn *c, const char *line, size_t len);

/* Queue a descriptor to go with the reply about to be written to @c->out (server.c). */
int mcd_conn_attach_fd(conn *c, int fd);

/* Close the descriptor of the last mcd_conn_attach_fd() when its reply could not be queued:
 * it would otherwise go with the next reply. */
void mcd_conn_detach_fd(conn *c);
