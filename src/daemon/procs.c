/* SPDX-License-Identifier: MIT */
/*
 * memcapd's client processes. The process behind a connection is held by a pidfd (SO_PEERPIDFD,
 * else pidfd_open right after accept) and keyed by the pidfd's inode, which the kernel never
 * reuses, so a recycled pid can never inherit another process's mappings. When a pidfd turns
 * readable the process has exited: its mappings are synced and unmapped, also when it held
 * several connections, and its connections are closed (a child that inherited one must not act
 * for a process that is gone). A connection closing alone releases nothing; a process left with
 * neither connections nor mappings is forgotten.
 */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "server-int.h"

#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC 0x50494446
#endif

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

proc *mcd_proc_attach(mcd_server *s, pid_t pid, int pidfd) {
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
        if (mcd_epoll_set(s, EPOLL_CTL_ADD, pidfd, EPOLLIN, p) < 0) {
                free(p);
                return NULL;
        }
        MC_LIST_PREPEND(prev, next, s->procs, p);
        return p;
}

void mcd_proc_free(mcd_server *s, proc *p) {
        MC_LIST_REMOVE(prev, next, s->procs, p);
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
        safe_close(p->pidfd);
        free(p);
        mcd_accept_resume(s);
}

/*
 * The process exited: release its mappings and close its connections once their queued replies
 * are out. A connection speaks for the process that connected; a child that inherited the socket
 * must not go on mapping as a process that is gone, since nothing would ever release what it
 * mapped. Frees connections: the caller must not use events of this batch after this one.
 */
void mcd_proc_exited(mcd_server *s, proc *p) {
        size_t n = mc_manager_cleanup_process(s->mgr, p->key);
        conn *next;

        if (n > 0)
                log_info("client %d exited: released %zu mapping(s)", (int) p->pid, n);
        mcd_channels_drop_owner(s, p->key);
        for (conn *c = s->conns; c; c = next) {
                next = c->next;
                if (c->p != p)
                        continue;
                c->p = NULL;
                c->closing = true;
                c->reason = "process_exited";
                if (c->out.len == 0)
                        mcd_conn_free(s, c, NULL);
                else
                        mcd_conn_update_events(s, c);
        }
        mcd_proc_free(s, p);
}

/* A connection of @p closed. Closing a connection alone releases nothing; see mcd_procs_sweep(). */
void mcd_proc_detach(mcd_server *s, proc *p) {
        if (p && p->refs > 0 && --p->refs == 0)
                p->idle = s->sweep_procs = true;
}

/*
 * Forget the processes that lost their last connection and have no mappings or channels, so that
 * processes that merely connected once do not pin a pidfd each in the daemon; a process that comes
 * back gets the same key. One with mappings keeps its record until its pidfd reports the exit.
 * Called between batches of events, which may point at these records.
 */
void mcd_procs_sweep(mcd_server *s) {
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
                /* A channel's creator is watched until it exits, connected or not. */
                if (p->refs > 0 || mcd_channels_owned(s, p->key) ||
                    mc_manager_list(s->mgr, &who, 0, &v, &n, NULL) < 0)
                        continue; /* out of memory: keep it, to be safe */
                free(v);
                if (n == 0)
                        mcd_proc_free(s, p);
        }
}
