/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The channel's layout in shared memory and its handle, shared by the files that implement it:
 * channel.c (life cycle, peers, audit, stats), channel-ring.c (messages), channel-wait.c
 * (sleeping, waking, peer liveness).
 *
 * The region: MC_CHANNEL_HEADER_SIZE bytes of header (struct mc__chan_shared), then the ring of
 * `capacity` bytes. Positions (head, tail) are byte counts since creation that only grow; a
 * position's place in the ring is pos & (capacity - 1). Every message is a record: an 8-byte
 * header word (below) and the payload padded to 8 bytes; a record never wraps, so a record that
 * would cross the end of the ring is preceded by a PAD record that fills the rest.
 *
 * Who writes what: the creator writes the first line before it publishes the magic, and nobody
 * writes it again (every end reads it once, checks it and keeps its own copy); producers write
 * tail, the records and the producer counters; the consumer writes head and its counters; a
 * side going to sleep writes the doorbell it sleeps on, the other side clears it when ringing.
 * Since a peer may be hostile, none of this is trusted: see channel-ring.c.
 */

#include <stdalign.h>
#include <stdatomic.h>

#include <memcap/channel.h>

#include "internal.h"

#define MC__CHAN_MAGIC   UINT64_C(0x314c4e4843434d6d) /* "mMCCHNL1" in memory order */
#define MC__CHAN_VERSION 1

/*
 * Lines written by different sides are this far apart: x86 prefetches 64-byte lines in pairs,
 * so 64 would still let the producer's writes slow down the consumer's reads next door.
 */
#define MC__CHAN_LINE 128

/* The record header word: payload length, the producer's slot and attach generation, flags. */
#define MC__REC_LEN_MASK   UINT64_C(0xffffffff)
#define MC__REC_SLOT_SHIFT 32                  /* 8 bits: producer slot */
#define MC__REC_GEN_SHIFT  40                  /* 16 bits: the slot's attach generation */
#define MC__REC_PAD        (UINT64_C(1) << 62) /* filler: skip it */
#define MC__REC_BUSY       (UINT64_C(1) << 63) /* reserved, not committed yet (multi-producer) */

/* Doorbell waiting bits. */
#define MC__WAIT_FUTEX 1u /* someone sleeps on the futex: ring it */
#define MC__WAIT_EVENT 2u /* an event loop armed the eventfd: write it */

/* The reserve lock of multi-producer channels: the owner's slot + 1 and generation, waiters. */
#define MC__LOCK_WAITERS (UINT32_C(1) << 31)

/* Header flags (mc_channel_flags, as stored). */
#define MC__CHAN_FLAGS_KNOWN (MC_CHANNEL_MULTI_PRODUCER | MC_CHANNEL_EVENTFD)

/*
 * A sleeping side's futex word and the flags that say someone sleeps on it. @want is for the
 * space doorbell: the head position at which sleeping producers want to be woken.
 */
typedef struct mc__doorbell {
        _Atomic uint64_t want;
        _Atomic uint32_t seq;     /* the futex word: changes on every ring */
        _Atomic uint32_t waiting; /* MC__WAIT_* */
} mc__doorbell;

struct mc__chan_shared {
        /* Written once by the creator; magic last (release). */
        _Atomic uint64_t magic;
        uint32_t version;
        uint32_t header_size;
        uint64_t region_size;
        uint64_t capacity;
        uint32_t max_message;
        uint32_t flags;
        uint32_t max_producers;
        uint32_t creator_pid;

        /* Producers. */
        alignas(MC__CHAN_LINE) _Atomic uint64_t tail;
        _Atomic uint64_t sent;
        _Atomic uint64_t sent_bytes;
        _Atomic uint32_t lock; /* multi-producer reserve lock */

        /* The consumer. */
        alignas(MC__CHAN_LINE) _Atomic uint64_t head;
        _Atomic uint64_t received;
        _Atomic uint64_t received_bytes;

        /* The consumer sleeps on data, producers on space. */
        alignas(MC__CHAN_LINE) mc__doorbell data;
        alignas(MC__CHAN_LINE) mc__doorbell space;

        /* Rare events. */
        alignas(MC__CHAN_LINE) _Atomic uint64_t recv_waits;
        _Atomic uint64_t send_waits;
        _Atomic uint64_t wakeups;
        _Atomic uint64_t abandoned;
        _Atomic uint64_t peers_gone;
        _Atomic uint32_t n_producers;    /* attached producers */
        _Atomic uint32_t producers_ever; /* attaches of producers since creation */
        _Atomic uint32_t consumers_ever;

        /*
         * The peer table: one word per end, 0 when free, else the end's identity (peer_word()):
         * pid in the low half, the low 32 bits of its start time in the high half.
         */
        alignas(MC__CHAN_LINE) _Atomic uint64_t consumer;
        _Atomic uint64_t producers[MC_CHANNEL_MAX_PRODUCERS];
        _Atomic uint32_t producer_gen[MC_CHANNEL_MAX_PRODUCERS]; /* attaches of each slot */
};

_Static_assert(sizeof(struct mc__chan_shared) <= MC_CHANNEL_HEADER_SIZE,
               "the channel header must fit MC_CHANNEL_HEADER_SIZE");

/* How the handle holds its region. */
enum {
        MC__REGION_SHARED, /* created, or opened by name: an mc_shared of the context */
        MC__REGION_MAPPED, /* opened from a descriptor: an mc_mmap() of a duplicate */
};

struct mc__chan {
        mc_ctx *ctx;
        struct mc__chan_shared *sh;
        uint8_t *ring;

        /* The checked copy of the first line: never read from the region again. */
        uint64_t capacity;
        uint64_t mask;
        uint32_t max_message;
        uint32_t flags;
        uint32_t max_producers;

        mc_channel_role role;
        pid_t pid;          /* the process the end belongs to (fork: a child's copy is not) */
        int slot;           /* producer slot, -1 otherwise */
        uint64_t self_word; /* this end's word in the peer table; 0 for MC_CHANNEL_NONE */
        uint32_t gen;       /* this producer slot's generation, as put into records */

        /* Producer. */
        uint64_t tail;       /* single producer: the tail, owned here */
        uint64_t head_cache; /* the consumer's head as last read */
        bool resv;           /* a reservation is pending */
        uint64_t resv_pos;   /* its record's position */
        uint32_t resv_len;   /* its payload length */

        /* Consumer. */
        uint64_t head;       /* owned here */
        uint64_t head_pub;   /* head as last published in the region */
        uint64_t tail_cache; /* the producers' tail as last read */
        bool peeked;         /* a message is peeked */
        uint64_t peek_span;  /* its record's bytes */
        uint32_t peek_len;

        /* Waiting: spin for spin_ns (adapting, at most spin_max_ns), see channel-wait.c. */
        int64_t spin_max_ns;
        int64_t spin_ns;
        bool spin_yield; /* the thread may run on one CPU only: spin with sched_yield() */
        bool event_mode; /* mc_channel_fd() was called */
        int recv_event;  /* eventfds, owned; -1 when none */
        int send_event;
        int64_t next_check; /* CLOCK_MONOTONIC ns of the next peer check of a try call */

        /* A corrupt region breaks the handle for good: every call then says why. */
        bool broken;
        mc_error broken_err;

        /* The region. */
        int region_kind;
        mc_shared shm;                     /* MC__REGION_SHARED */
        mc_mapping map;                    /* MC__REGION_MAPPED */
        int region_fd;                     /* MC__REGION_MAPPED: owned duplicate */
        char name[MC_SHARED_NAME_MAX + 2]; /* "/name", or "" when anonymous */
};

/* ---- channel.c ------------------------------------------------------------------------------ */

/* "'/name'" or "(anonymous)", for messages. */
const char *mc__chan_label(const struct mc__chan *c);

/*
 * Whether the end with @word is alive: this process, or a process with that pid whose start
 * time matches and that is not a zombie. Unknown (no /proc access) counts as alive.
 */
bool mc__chan_peer_alive(const struct mc__chan *c, uint64_t word);

/*
 * Look at the peers this end depends on and remove the dead ones from the table (auditing each
 * removal). For the consumer: every producer; for a producer: the consumer.
 */
void mc__chan_check_peers(struct mc__chan *c);

/* Whether the other side is gone: attached once, none attached now. */
bool mc__chan_peer_gone(const struct mc__chan *c);

/* Fill @err with PeerGone for this end and return -EOWNERDEAD. */
int mc__chan_peer_gone_error(const struct mc__chan *c, const char *op, mc_error *err);

/* Mark the handle broken with @err's contents (a corrupt region) and return its -errno. */
int mc__chan_break(struct mc__chan *c, mc_error *err, const char *fmt, ...) _printf_(3, 4);

/* ---- channel-wait.c ------------------------------------------------------------------------- */

/*
 * Ring @db after the caller published a change with a seq_cst store: wake a futex sleeper and
 * write @event_fd for an armed event loop, if any waits. Cheap when nobody waits (one load).
 */
static inline void mc__doorbell_ring(struct mc__chan *c, mc__doorbell *db, int event_fd);

void mc__doorbell_ring_slow(struct mc__chan *c, mc__doorbell *db, int event_fd);

static inline void mc__doorbell_ring(struct mc__chan *c, mc__doorbell *db, int event_fd) {
        if (_unlikely_(atomic_load_explicit(&db->waiting, memory_order_seq_cst) != 0))
                mc__doorbell_ring_slow(c, db, event_fd);
}

/* Whether the condition a waiter waits for holds: > 0 yes, 0 no, < 0 an error (err filled). */
typedef int (*mc__wait_ready_fn)(struct mc__chan *c, void *arg, mc_error *err);

/*
 * Wait on @db until @ready says yes (0), the CLOCK_MONOTONIC @deadline passes (-ETIMEDOUT), or
 * the other side is gone (-EOWNERDEAD). Spins first, then sleeps in slices of at most
 * MC_CHANNEL_PEER_CHECK_MS, checking the peers after each. @op names the call for messages;
 * @waits is the counter of sleeps to bump.
 */
int mc__chan_wait(struct mc__chan *c, mc__doorbell *db, _Atomic uint64_t *waits,
                  mc__wait_ready_fn ready, void *arg, int64_t deadline, const char *op,
                  mc_error *err);

/*
 * The try calls' path when there is nothing to do: arm the event descriptor in event mode,
 * check the peers once per interval. Returns 0 when @ready became true meanwhile, else a
 * negative errno (-EAGAIN, -EOWNERDEAD, ...) with @err filled.
 */
int mc__chan_nothing_to_do(struct mc__chan *c, mc__doorbell *db, mc__wait_ready_fn ready, void *arg,
                           const char *op, mc_error *err);

/* Set @c's spinning: at most @max_us microseconds per wait. */
void mc__chan_spin_init(struct mc__chan *c, unsigned max_us);

/* The default most microseconds of spinning: 0 on a machine with one CPU. */
unsigned mc__chan_default_spin_us(void);

/*
 * The multi-producer reserve lock, taken by the deadline (< 0: wait at most one peer-check
 * interval, for the try calls). A holder found dead loses it to the waiter.
 */
int mc__chan_lock(struct mc__chan *c, int64_t deadline, const char *op, mc_error *err);
void mc__chan_unlock(struct mc__chan *c);

/* CLOCK_MONOTONIC deadline for @timeout_ns > 0 (MC_WAIT_FOREVER: INT64_MAX). */
int64_t mc__chan_deadline(int64_t timeout_ns);

/* ---- channel-ring.c ------------------------------------------------------------------------- */

/* Publish what the consumer took and has not published yet (close). */
void mc__chan_publish_head(struct mc__chan *c);

/* Cancel a pending reservation (close and mc_channel_cancel()). */
void mc__chan_cancel_reservation(struct mc__chan *c);
