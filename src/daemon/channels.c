/* SPDX-License-Identifier: MIT */
/*
 * memcapd's channels: ChannelCreate makes an anonymous channel (a sealed memfd, through the public
 * mc_channel API) and keeps it under a name; ChannelOpen hands its region's descriptor (and an
 * eventfd channel's eventfds) to another client over SCM_RIGHTS, which opens its end with
 * mc_channel_open_fd(). So two processes that
 * share neither a uid nor a path get one channel, and the daemon decides who may: the Channel
 * capability, the policy's allowed_shared_memory for the name, and a quota per creating process.
 *
 * The daemon holds each channel as an MC_CHANNEL_NONE handle: it never sends or receives, it
 * only keeps the region alive and reads the peer table to refuse an end that is taken. A channel
 * lives while the process that created it lives (the daemon watches it through its pidfd, like
 * the owner of mappings); then the name is forgotten, and the region goes when the last end
 * closes it. Everything here runs on the loop's thread.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "macro.h"
#include "server-int.h"

struct mcd_chan {
        char *name; /* "/name", as the decoder checked it */
        mc_channel ch;
        uint64_t owner_key; /* the creating process */
        pid_t owner_pid;
        uid_t owner_uid;
        uint64_t bytes; /* the region: MC_CHANNEL_HEADER_SIZE + capacity */
        mc_channel_counts info;
        struct mcd_chan *prev, *next;
};

static mcd_chan *find(mcd_server *s, const char *name) {
        for (mcd_chan *k = s->channels; k; k = k->next)
                if (streq(k->name, name))
                        return k;
        return NULL;
}

static void chan_free(mcd_server *s, mcd_chan *k) {
        MC_LIST_REMOVE(prev, next, s->channels, k);
        s->n_channels--;
        (void) mc_channel_close(&k->ch, NULL);
        free(k->name);
        free(k);
}

/* Capability and name: what both calls check first, in this order. */
static int admit(mcd_server *s, const conn *c, const char *name, mc_error *e) {
        mc_policy *pol = NULL;
        bool ok;
        int r;

        if (!(c->client.caps & MCD_CAP_CHANNEL))
                return mc_error_set(e, MC_ERR_PERMISSION_DENIED, 0, "uid %u lacks Channel",
                                    (unsigned) c->client.uid);
        r = mc_ctx_get_policy(s->ctx, &pol, e);
        if (r < 0)
                return r;
        ok = mc_policy_shared_memory_allowed(pol, name);
        mc_policy_free(pol);
        if (!ok)
                return mc_error_set(e, MC_ERR_POLICY_VIOLATION, EPERM,
                                    "channel '%s' is not admitted by allowed_shared_memory", name);
        return 0;
}

/*
 * Queue the reply with the region's descriptor, and an eventfd channel's two eventfds after it:
 * the region read-write for an end, read-only (a new open of the memfd through /proc) for an
 * observer, so that it cannot write what it only reads.
 */
static int reply_with_fd(conn *c, mcd_chan *k, mc_channel_role role, mc_error *e) {
        mcd_channel_info info = {.name = k->name,
                                 .capacity = k->info.capacity,
                                 .max_message = k->info.max_message,
                                 .max_producers = k->info.max_producers,
                                 .role = role,
                                 .n_fds = 1};
        mc_channel_fds fds = MC_CHANNEL_FDS_INIT;
        int src[MCD_MAX_FDS_PER_REPLY];
        unsigned attached = 0;
        char path[64];
        int r;

        r = mc_channel_get_fds(&k->ch, &fds, e);
        if (r < 0)
                return r;
        /* In mc_channel_fds' order: the region, then the eventfds of an eventfd channel. */
        src[0] = fds.region;
        if (fds.recv_event >= 0 && fds.send_event >= 0) {
                src[1] = fds.recv_event;
                src[2] = fds.send_event;
                info.n_fds = 3;
        }
        for (r = 0; attached < info.n_fds; attached++) {
                int fd;

                if (attached == 0 && role == MC_CHANNEL_NONE) {
                        snprintf(path, sizeof(path), "/proc/self/fd/%d", src[0]);
                        fd = open(path, O_RDONLY | O_CLOEXEC);
                } else
                        fd = fcntl(src[attached], F_DUPFD_CLOEXEC, 3);
                if (fd < 0) {
                        r = mc_error_errno(e, errno, "duplicating the descriptors of channel '%s'",
                                           k->name);
                        break;
                }
                r = mcd_conn_attach_fd(c, fd);
                if (r < 0) {
                        safe_close(fd);
                        r = mc_error_errno(e, -r, "queueing the descriptors");
                        break;
                }
        }
        if (r >= 0)
                r = mcd_reply_channel(&c->out, &info);
        if (r < 0) /* no reply carries them: they would go with the next one */
                for (; attached > 0; attached--)
                        mcd_conn_detach_fd(c);
        return r;
}

int mcd_channel_create(mcd_server *s, conn *c, const mcd_request *q, mc_error *e) {
        mc_channel_options o = MC_CHANNEL_OPTIONS_INIT;
        uint64_t held = 0;
        size_t mine = 0;
        mcd_chan *k;
        int r;

        r = admit(s, c, q->name, e);
        if (r < 0)
                return r;
        if (find(s, q->name))
                return mc_error_set(e, MC_ERR_ALREADY_EXISTS, EEXIST, "channel '%s' exists",
                                    q->name);
        for (k = s->channels; k; k = k->next)
                if (k->owner_key == c->client.key) {
                        mine++;
                        held += k->bytes;
                }
        if (mine >= MCD_CHANNELS_PER_CLIENT)
                return mc_error_set(e, MC_ERR_POLICY_VIOLATION, EPERM,
                                    "this process holds %zu channels, the limit per client", mine);
        if (s->n_channels >= MCD_CHANNELS_MAX)
                return mc_error_set(e, MC_ERR_POLICY_VIOLATION, EPERM,
                                    "the daemon holds %d channels, its limit", MCD_CHANNELS_MAX);
        if (q->capacity > MC_CHANNEL_MAX_CAPACITY)
                return mc_error_set(e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "capacity %" PRIu64 " exceeds the largest ring, %zu bytes",
                                    q->capacity, MC_CHANNEL_MAX_CAPACITY);
        if (q->max_message > MC_CHANNEL_MAX_CAPACITY)
                return mc_error_set(e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                    "max_message %" PRIu64 " exceeds the largest ring, %zu bytes",
                                    q->max_message, MC_CHANNEL_MAX_CAPACITY);
        o.capacity = (size_t) q->capacity;
        o.max_message = (size_t) q->max_message;
        if (q->producers > 0) {
                o.flags = MC_CHANNEL_MULTI_PRODUCER;
                o.max_producers = (unsigned) q->producers;
        }
        if (q->eventfd)
                o.flags |= MC_CHANNEL_EVENTFD;

        k = calloc(1, sizeof(*k));
        if (!k || !(k->name = strdup(q->name))) {
                free(k);
                return mc_error_set(e, MC_ERR_OUT_OF_MEMORY, ENOMEM, "allocating a channel");
        }
        r = mc_channel_create(s->ctx, /* name= */ NULL, &o, MC_CHANNEL_NONE, &k->ch, e);
        if (r >= 0)
                r = mc_channel_stats(&k->ch, &k->info, e);
        if (r < 0) {
                (void) mc_channel_close(&k->ch, NULL);
                free(k->name);
                free(k);
                return r;
        }
        k->bytes = MC_CHANNEL_HEADER_SIZE + k->info.capacity;
        k->owner_key = c->client.key;
        k->owner_pid = c->client.pid;
        k->owner_uid = c->client.uid;
        MC_LIST_PREPEND(prev, next, s->channels, k);
        s->n_channels++;
        if (held + k->bytes > s->cfg.max_bytes) {
                r = mc_error_set(e, MC_ERR_POLICY_VIOLATION, EPERM,
                                 "%" PRIu64 " bytes of channels + %" PRIu64
                                 " exceed the limit per client of %" PRIu64 " bytes",
                                 held, k->bytes, s->cfg.max_bytes);
                chan_free(s, k);
                return r;
        }
        r = reply_with_fd(c, k, MC_CHANNEL_NONE, e);
        if (r < 0)
                chan_free(s, k);
        return r;
}

/* Whether @pid, read from the region's peer table, is a process that exists. */
static bool alive(pid_t pid) {
        return pid > 0 && !(kill(pid, 0) < 0 && errno == ESRCH);
}

int mcd_channel_open(mcd_server *s, conn *c, const mcd_request *q, mc_error *e) {
        mc_channel_counts now;
        unsigned live = 0;
        mcd_chan *k;
        int r;

        r = admit(s, c, q->name, e);
        if (r < 0)
                return r;
        k = find(s, q->name);
        if (!k)
                return mc_error_set(e, MC_ERR_NOT_FOUND, ENOENT, "no channel '%s'", q->name);
        /* The region is written by the ends, which may be hostile: the library checks it. */
        r = mc_channel_stats(&k->ch, &now, e);
        if (r < 0)
                return r;
        /*
         * An end that is taken is refused here, so that a second consumer learns it from the
         * daemon; a dead end's slot is free (the library reclaims it when the new end opens).
         * Two clients that ask at once both get the descriptor, and mc_channel_open_fd() lets
         * only one of them in.
         */
        if (q->role == MC_CHANNEL_CONSUMER && alive(now.consumer_pid))
                return mc_error_set(e, MC_ERR_ALREADY_EXISTS, EEXIST,
                                    "the consumer of channel '%s' is attached (pid %d)", q->name,
                                    (int) now.consumer_pid);
        if (q->role == MC_CHANNEL_PRODUCER) {
                for (unsigned i = 0; i < MC_MIN(now.producers, (unsigned) MC_CHANNEL_MAX_PRODUCERS);
                     i++)
                        live += alive(now.producer_pids[i]);
                if (live >= k->info.max_producers)
                        return mc_error_set(e, MC_ERR_ALREADY_EXISTS, EEXIST,
                                            "channel '%s' has all its %u producer(s) attached",
                                            q->name, k->info.max_producers);
        }
        return reply_with_fd(c, k, q->role, e);
}

bool mcd_channels_owned(const mcd_server *s, uint64_t key) {
        for (const mcd_chan *k = s->channels; k; k = k->next)
                if (k->owner_key == key)
                        return true;
        return false;
}

void mcd_channels_drop_owner(mcd_server *s, uint64_t key) {
        mcd_chan *next;

        for (mcd_chan *k = s->channels; k; k = next) {
                next = k->next;
                if (k->owner_key != key)
                        continue;
                log_info("client %d exited: channel '%s' forgotten", (int) k->owner_pid, k->name);
                if (mcd_audit_enabled(s)) {
                        json_t *o = json_pack("{s:s, s:i, s:I}", "channel", k->name, "owner_pid",
                                              (int) k->owner_pid, "owner_uid",
                                              (json_int_t) k->owner_uid);
                        if (o)
                                mcd_audit_emit(s, "channel_dropped", o);
                }
                chan_free(s, k);
        }
}

void mcd_channels_free(mcd_server *s) {
        while (s->channels)
                chan_free(s, s->channels);
}
