/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_CHANNEL_H
#define MEMCAP_CHANNEL_H

/*
 * Channels: a bounded queue of variable-size messages between processes, in one shared memory
 * region, with futex wakeups, peer-death detection and a header that never trusts the peer.
 *
 * The region is a shared memory object of the context (shm.h): a sealed memfd when the channel
 * has no name (it travels by descriptor: fork(), SCM_RIGHTS, memcapd), or a named POSIX object
 * (mc_shared_open()) that unrelated processes open by name. So names follow the policy's
 * allowed_shared_memory, the region counts against max_memory_usage, and its open and close
 * are audited as any shared memory is; the channel adds one audit record of its own for
 * open ("channel_open"), close ("channel_close") and a peer found dead ("channel_peer_gone"),
 * never one per message (mc_channel_stats() has per-channel counters instead).
 *
 * Ends. A channel has one consumer and either one producer (single-producer, the default) or
 * up to max_producers of them (MC_CHANNEL_MULTI_PRODUCER, messages of all producers in one
 * FIFO order of reservation). Each mc_channel handle is one end: opened as producer or
 * consumer it takes a slot in the region's peer table (pid and process start time), which is
 * how the other end learns that it closed or died. MC_CHANNEL_NONE opens a handle that is
 * neither (a broker that creates channels for others, or an observer reading statistics).
 *
 * Messages. Each message is 0..max_message bytes and costs 8 bytes of header plus padding to a
 * multiple of 8 in the ring; a message never wraps around the end of the ring (the rest of the
 * ring is skipped), so the zero-copy calls hand out one contiguous buffer. max_message is at
 * most half the ring minus its header, so a message always fits once the ring is empty.
 *
 * Waiting. A side sleeps (futex) only when the ring is empty (consumer) or full (producer), after
 * spinning briefly (mc_channel_set_spin()); the other side makes a system call to wake it only when
 * it sleeps: sending into a ring whose consumer is awake and receiving from one whose producers are
 * awake is system-call free. Each side publishes its position with a sequentially consistent store
 * and then reads the other's sleep flag, and a sleeper sets its flag before looking at the position
 * again (C11 seq_cst atomics: one of the two always sees the other), so no wakeup is lost;
 * docs/design.md gives the argument. Room the consumer frees becomes visible to producers in steps
 * (a quarter of the ring, all it knew of, or before it sleeps), so that a full ring does not bounce
 * a cache line between the CPUs per message. An event loop that cannot wait on a futex uses
 * mc_channel_fd() (an eventfd).
 *
 * Peers that go away. A sleeping side looks at its peers every MC_CHANNEL_PEER_CHECK_MS
 * (reading /proc/PID/stat: a zombie or a recycled pid counts as dead), so a peer killed at any
 * point, also between mc_channel_reserve() and mc_channel_commit(), is noticed within that time:
 * the consumer gets every message committed before, then PeerGone once no producer is left; a
 * producer's half-written message is never delivered (in a multi-producer channel it is
 * skipped and counted as abandoned, and the other producers go on). A producer whose consumer
 * is gone gets PeerGone when it would have to wait for room. A peer that closes its handle
 * counts as gone at once.
 *
 * A hostile peer. Everything the peer can write (positions, message headers, the peer table,
 * the counters) is read once and checked before use: a position or length outside the ring, a
 * header of a message larger than max_message, a bad magic or version, or sizes that do not
 * match the region are refused with Io (EBADMSG; the handle stays broken) or, when opening,
 * InvalidArgument; memcap never reads or writes outside the region because of them. The
 * sizes are read once when opening and kept in the handle. What the peer can still do is
 * what any peer with write access to the region can: send wrong data, change a message while
 * it is being read (copy it out of a mc_channel_peek() view before checking it), or keep a
 * channel full. A named object can also be truncated by anyone who may open it for writing,
 * which makes access raise SIGBUS: use the anonymous (memfd) form, sealed against shrinking,
 * for peers you do not trust; mc_channel_open_fd() refuses a memfd that is not sealed so.
 *
 * Errors. Besides the kinds of shm.h: TimedOut (-ETIMEDOUT when a wait reached its timeout,
 * -EAGAIN from the try variants and a zero timeout), PeerGone (-EOWNERDEAD, see above), Io
 * (-EBADMSG, a corrupt region), InvalidArgument (-EBADF for a closed handle; -EMSGSIZE for a
 * message larger than max_message or a buffer too small; -EINVAL for bad arguments or a call
 * out of turn, e.g. mc_channel_commit() without a reservation, or a handle used in a fork()
 * child), Unsupported.
 *
 * Threads. A handle is used by one thread at a time; calls on different handles (of the same
 * channel or not) may run concurrently. Threads that produce into one multi-producer channel
 * each open their own handle.
 *
 * fork(). A child inherits the handles but not the ends: their slots belong to the parent, and the
 * calls that send, receive or wait fail with InvalidArgument on an inherited handle, which can only
 * be closed, read (mc_channel_stats()) or asked for its descriptors. The child opens its own end
 * from the inherited descriptors (mc_channel_get_fds() + mc_channel_open_fd()); closing the
 * inherited handle in the child releases the child's copies only. The context must outlive its
 * channels: close them before mc_ctx_free().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/ctx.h>
#include <memcap/error.h>
#include <memcap/signal.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which end a handle is. */
typedef enum mc_channel_role {
        MC_CHANNEL_NONE = 0,     /* neither: a broker or an observer (stats, descriptors) */
        MC_CHANNEL_PRODUCER = 1, /* sends */
        MC_CHANNEL_CONSUMER = 2, /* receives */
} mc_channel_role;

typedef enum mc_channel_flags {
        /* Up to max_producers producers (one consumer). Without it: one producer, one consumer,
         * and no lock on either side. */
        MC_CHANNEL_MULTI_PRODUCER = 1 << 0,
        /* Two eventfds come with the region (mc_channel_fd()); anonymous channels only, since
         * descriptors cannot travel by name. */
        MC_CHANNEL_EVENTFD = 1 << 1,
} mc_channel_flags;

/* Bytes of the region before the ring. */
#define MC_CHANNEL_HEADER_SIZE 4096
/* Bytes of header of each message in the ring (its payload is padded to a multiple of 8). */
#define MC_CHANNEL_MESSAGE_OVERHEAD 8
/* Smallest and largest ring (capacity). */
#define MC_CHANNEL_MIN_CAPACITY 64
#define MC_CHANNEL_MAX_CAPACITY ((size_t) 1 << 30)
/* Most producers of a multi-producer channel. */
#define MC_CHANNEL_MAX_PRODUCERS 64
/* How often a waiting side looks at its peers, in milliseconds. */
#define MC_CHANNEL_PEER_CHECK_MS 100

/* How to create a channel. Start from MC_CHANNEL_OPTIONS_INIT. */
typedef struct mc_channel_options {
        /* Bytes of the ring: a power of two, MC_CHANNEL_MIN_CAPACITY..MC_CHANNEL_MAX_CAPACITY;
         * 0 for the smallest power of two >= 64 KiB that holds four messages of max_message.
         * The region is MC_CHANNEL_HEADER_SIZE + capacity bytes. */
        size_t capacity;
        /* The largest message, >= 1; 8 + max_message rounded up to 8 must be at most half the
         * capacity. */
        size_t max_message;
        unsigned flags;         /* mc_channel_flags */
        unsigned max_producers; /* MULTI_PRODUCER: 1..64, 0 for 64; else 0 or 1 */
        unsigned mode;          /* named channels: permission bits, 0 for 0600 */
} mc_channel_options;

#define MC_CHANNEL_OPTIONS_INIT                                                                    \
        { 0, 0, 0, 0, 0 }

/*
 * A channel handle: a value the caller owns (usually on its stack or in a struct), filled by
 * mc_channel_create() / mc_channel_open() / mc_channel_open_fd() and emptied by
 * mc_channel_close(). Do not copy it: a copy outlives the close of the original.
 */
typedef struct mc_channel {
        struct mc__chan *impl; /* private; NULL when closed */
} mc_channel;

/*
 * The descriptors of a channel, for passing it to another process (fork(), SCM_RIGHTS).
 * region: the memfd or shm object; recv_event, send_event: the eventfds of an
 * MC_CHANNEL_EVENTFD channel, else -1.
 */
typedef struct mc_channel_fds {
        int region;
        int recv_event;
        int send_event;
} mc_channel_fds;

#define MC_CHANNEL_FDS_INIT                                                                        \
        { -1, -1, -1 }

/*
 * Counters of a channel, as its ends keep them in the region (so another process, e.g. an
 * observer, reads the same numbers). A hostile peer can write these; they are reported as read.
 */
typedef struct mc_channel_counts {
        uint64_t capacity;      /* ring bytes */
        uint64_t max_message;   /* largest message */
        unsigned flags;         /* mc_channel_flags of the channel */
        unsigned max_producers; /* producer slots */
        uint64_t sent;          /* messages committed by producers */
        uint64_t sent_bytes;    /* their payload bytes */
        uint64_t received;      /* messages the consumer took (recv, or peek + release) */
        uint64_t received_bytes;
        /* Ring bytes in use (messages, headers, padding) as of the head the consumer last
         * published: it does after each quarter of the ring, when it has taken all it knew
         * of, and before it sleeps, so this may count up to a quarter of the ring it took. */
        uint64_t depth_bytes;
        uint64_t send_waits; /* times a producer went to sleep on a full ring */
        uint64_t recv_waits; /* times the consumer went to sleep on an empty ring */
        uint64_t wakeups;    /* wakeups sent to a sleeping side (futex or eventfd) */
        uint64_t abandoned;  /* messages of producers that died before committing them */
        uint64_t peers_gone; /* ends found dead and removed from the peer table */
        unsigned producers;  /* producers attached now */
        pid_t consumer_pid;  /* the consumer's pid, 0 when none is attached */
        pid_t producer_pids[MC_CHANNEL_MAX_PRODUCERS]; /* the first @producers are valid */
} mc_channel_counts;

/**
 * mc_channel_create() - create a channel and open one end of it.
 * @ctx: the context; its policy decides and its audit log records the region (shm_open) and
 *       the channel; it must outlive the channel.
 * @name: NULL for an anonymous channel (a memfd sealed against shrinking and growing, passed on
 *        by descriptor), or a shared memory name ("/name" or "name") for a named one, created
 *        exclusively with @opts->mode (AlreadyExists if it exists) and left in place until
 *        mc_shared_unlink().
 * @opts: the sizes and flags; not NULL.
 * @role: the end this handle is (MC_CHANNEL_NONE for a broker that only hands the channel on).
 * @ret: filled on success; untouched on failure.
 *
 * Return: 0, or -errno: InvalidArgument for sizes out of range (the message says which limit)
 * or unknown flags, Unsupported for MC_CHANNEL_EVENTFD with a name, PolicyViolation for a name
 * allowed_shared_memory does not admit or a region over max_memory_usage, AlreadyExists,
 * OutOfMemory, or what mc_shared_open() returns.
 */
MC_API int mc_channel_create(mc_ctx *ctx, const char *name, const mc_channel_options *opts,
                             mc_channel_role role, mc_channel *ret, mc_error *err);

/**
 * mc_channel_open() - open one end of a named channel.
 * @role: MC_CHANNEL_PRODUCER or MC_CHANNEL_CONSUMER map the region read-write; MC_CHANNEL_NONE
 *        maps it read-only (an observer: mc_channel_stats() only).
 *
 * Return: 0, or -errno: NotFound, PolicyViolation (allowed_shared_memory, quota),
 * InvalidArgument when the object is not a channel of this version or its header does not
 * match its size (the message says what), AlreadyExists when the end is taken (the consumer,
 * the single producer, or every producer slot) by a live process, Unsupported for an
 * MC_CHANNEL_EVENTFD channel, or what mc_shared_open() returns.
 */
MC_API int mc_channel_open(mc_ctx *ctx, const char *name, mc_channel_role role, mc_channel *ret,
                           mc_error *err);

/**
 * mc_channel_open_fd() - open one end of a channel from its descriptors (mc_channel_get_fds() of
 * another handle, inherited through fork() or received over SCM_RIGHTS).
 * @fds: the region must be a memfd sealed against shrinking (so nobody can make the region
 *       raise SIGBUS) and not against writing; recv_event and send_event must be eventfds when
 *       the channel was created with MC_CHANNEL_EVENTFD, and -1 otherwise. Every descriptor is
 *       duplicated: the caller keeps (and closes) its own. The eventfds are made non-blocking
 *       (a flag their duplicates share), so that a wakeup never blocks the waker.
 * @role: as in mc_channel_open(); MC_CHANNEL_NONE maps the region read-only.
 *
 * The region is mapped through mc_mmap() (audited as "mmap" with its descriptor; it counts
 * against max_memory_usage). Return: 0, or -errno: InvalidArgument for a descriptor that is
 * not a sealed memfd or an eventfd where one is needed, or a region that is not a channel;
 * PermissionDenied for a region sealed against writing (and a producer or consumer role);
 * AlreadyExists as in mc_channel_open(); or what mc_mmap() returns.
 */
MC_API int mc_channel_open_fd(mc_ctx *ctx, const mc_channel_fds *fds, mc_channel_role role,
                              mc_channel *ret, mc_error *err);

/**
 * mc_channel_close() - leave the channel and release the handle: a pending reservation is
 * cancelled, a peeked message stays in the ring for the next consumer, the end's slot is freed
 * (so the other side sees it gone at once), and the region is unmapped and its descriptors
 * closed. A named channel stays until mc_shared_unlink(); an anonymous one goes when the last
 * process closes it. In a fork() child, releases the child's copies only.
 * Return: 0, or -EBADF (InvalidArgument) for a handle that is closed already (a second close)
 * or was never opened; -EINVAL for NULL.
 */
MC_API int mc_channel_close(mc_channel *ch, mc_error *err);

/**
 * mc_channel_get_fds() - the handle's descriptors, to pass the channel on. They stay owned by the
 * handle (closed by mc_channel_close()): duplicate them to keep them longer.
 * Return: 0, -EBADF for a closed handle.
 */
MC_API int mc_channel_get_fds(const mc_channel *ch, mc_channel_fds *ret, mc_error *err);

/**
 * mc_channel_send() - copy @len bytes into the channel as one message (producer).
 * @timeout_ns: how long to wait for room: MC_WAIT_FOREVER, 0 to not wait, or > 0.
 * Return: 0, -EMSGSIZE (InvalidArgument) when @len > max_message, -ETIMEDOUT / -EAGAIN
 * (TimedOut) when there was no room in time, -EOWNERDEAD (PeerGone) when the consumer is gone
 * and the ring is full, -EBADMSG (Io) for a corrupt region, -EINVAL for a handle that is not a
 * producer or has a reservation pending.
 */
MC_API int mc_channel_send(mc_channel *ch, const void *data, size_t len, int64_t timeout_ns,
                           mc_error *err);

/** mc_channel_try_send() - mc_channel_send() that does not wait: -EAGAIN when full. */
MC_API int mc_channel_try_send(mc_channel *ch, const void *data, size_t len, mc_error *err);

/**
 * mc_channel_reserve() - zero-copy send, first half: room for a message of up to @len bytes.
 * @ret_ptr: where to write the message: @len contiguous bytes in the region, 8-byte aligned,
 *           valid until mc_channel_commit() or mc_channel_cancel().
 * Nothing is visible to the consumer until mc_channel_commit(); a producer that dies before
 * (even killed) never makes the consumer read a half-written message. One reservation at a
 * time per handle; in a multi-producer channel the reserved room is taken in the channel's
 * order at once, so commit promptly: the consumer waits for it.
 * Return: as mc_channel_send().
 */
MC_API int mc_channel_reserve(mc_channel *ch, size_t len, void **ret_ptr, int64_t timeout_ns,
                              mc_error *err);

/**
 * mc_channel_commit() - zero-copy send, second half: publish the reserved message with its
 * final length @len (at most the reserved length) and wake the consumer if it sleeps.
 * Return: 0, -EINVAL without a reservation or for @len above it.
 */
MC_API int mc_channel_commit(mc_channel *ch, size_t len, mc_error *err);

/**
 * mc_channel_cancel() - drop the pending reservation: nothing is delivered. Return: 0, -EINVAL
 * without a reservation.
 */
MC_API int mc_channel_cancel(mc_channel *ch, mc_error *err);

/**
 * mc_channel_recv() - take the next message, copying it into @buf (consumer).
 * @size: bytes @buf holds; a longer message stays in the channel (-EMSGSIZE; mc_channel_peek()
 *        tells its length).
 * @timeout_ns: MC_WAIT_FOREVER, 0 to not wait, or > 0.
 * Return: the message's length (>= 0; zero-length messages exist), or -ETIMEDOUT / -EAGAIN
 * (TimedOut), -EOWNERDEAD (PeerGone) when the ring is empty and no producer is left (after one
 * was attached), -EMSGSIZE (InvalidArgument), -EBADMSG (Io), -EINVAL for a handle that is not
 * the consumer or holds a peeked message.
 */
MC_API int mc_channel_recv(mc_channel *ch, void *buf, size_t size, int64_t timeout_ns,
                           mc_error *err);

/** mc_channel_try_recv() - mc_channel_recv() that does not wait: -EAGAIN when empty. */
MC_API int mc_channel_try_recv(mc_channel *ch, void *buf, size_t size, mc_error *err);

/**
 * mc_channel_peek() - zero-copy receive, first half: the next message, in place.
 * @ret_data: the message in the region; valid until mc_channel_release() or close. The
 *            producer cannot reuse that room before, but a hostile producer can still write
 *            to it: copy before you validate.
 * Peeking again before releasing returns the same message. Return: as mc_channel_recv()
 * (the length is in *@ret_len, the return value is 0).
 */
MC_API int mc_channel_peek(mc_channel *ch, const void **ret_data, size_t *ret_len,
                           int64_t timeout_ns, mc_error *err);

/**
 * mc_channel_release() - zero-copy receive, second half: consume the peeked message and wake a
 * producer that sleeps for room. Return: 0, -EINVAL when nothing is peeked.
 */
MC_API int mc_channel_release(mc_channel *ch, mc_error *err);

/**
 * mc_channel_fd() - an eventfd for event loops (MC_CHANNEL_EVENTFD channels): for the consumer
 * readable when messages may have arrived, for a producer when room may have been made.
 * @ret_fd: owned by the handle (closed by mc_channel_close()); non-blocking.
 * The descriptor is readable right after the first call; from then on, a try call that finds
 * nothing to do (-EAGAIN) drains and arms it: poll it, and when it is readable call the try
 * variant until -EAGAIN. A spurious wakeup is possible, a lost one is not. The
 * descriptor does not report a peer's death: poll with a timeout of at most
 * MC_CHANNEL_PEER_CHECK_MS and call the try variant when it expires, which then checks the
 * peers (at most once per interval) and reports PeerGone.
 * Return: 0, -EOPNOTSUPP (Unsupported) for a channel without event descriptors or a producer of
 * a multi-producer channel (its producers would share one descriptor, and the one that drains
 * it would take the others' wakeup), -EINVAL for an MC_CHANNEL_NONE handle.
 */
MC_API int mc_channel_fd(mc_channel *ch, int *ret_fd, mc_error *err);

/**
 * mc_channel_stats() - the channel's counters and peers, read from the region (any role).
 * Return: 0, -EBADF, -EBADMSG (Io) when the positions in the region are inconsistent.
 */
MC_API int mc_channel_stats(const mc_channel *ch, mc_channel_counts *ret, mc_error *err);

/**
 * mc_channel_set_spin() - how long, at most, a side of this handle keeps looking at the ring
 * before it goes to sleep, in microseconds (at most a second); 0 never spins. Within that the
 * handle adapts: a spin that found work lets the next one spin twice as long, one that ended in
 * a sleep halves it (down to 1 us). A thread that may run on one CPU only spins by yielding
 * the CPU (sched_yield()), so a peer on the same CPU can answer meanwhile. The default is 20 us
 * on machines with more than one CPU, 0 on others. Return: 0, -EBADF, -EINVAL above a second.
 */
MC_API int mc_channel_set_spin(mc_channel *ch, unsigned spin_us, mc_error *err);

/** mc_channel_role_name() - "none", "producer" or "consumer"; NULL for other values. */
MC_API const char *mc_channel_role_name(mc_channel_role role);

#ifdef __cplusplus
}
#endif

#endif
