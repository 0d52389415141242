/* SPDX-License-Identifier: MIT */
/*
 * Channels, the data path: reserve/commit/cancel and send on the producer side, peek/release
 * and recv on the consumer side.
 *
 * Single producer: the producer owns tail (it keeps its own copy and never reads the region's
 * back), writes a record beyond tail and publishes it by storing the new tail. Multiple
 * producers: a short lock (channel-wait.c) orders reservations; under it a producer writes its
 * record header marked BUSY at tail and moves tail on; it fills the payload without the lock
 * and commits by storing the header without BUSY. The consumer owns head, reads records at head
 * up to tail, skips PAD records, waits at a BUSY one, and publishes head when it is done.
 *
 * Nothing read from the region is trusted: tail and head must be multiples of 8 within one
 * capacity of each other, a record's length must be at most max_message (a pad's, up to the
 * end of the ring), and a record must end before tail and before the end of the ring. Anything
 * else breaks the handle (Io, EBADMSG) before a byte outside the region is touched. Sizes are
 * the handle's own copies.
 *
 * Ordering (C11): publishing stores (tail, a committed header, head) are seq_cst and so are the
 * loads of positions and headers the other side makes, so that the doorbell's sleep flag, set
 * with a seq_cst read-modify-write before the sleeper looks again, and the publisher's seq_cst
 * load of it after its store form the store-buffering pattern that seq_cst forbids to miss on
 * both sides (see docs/design.md). On x86 a seq_cst store is one xchg and a seq_cst load a
 * plain load.
 */

#include <inttypes.h>
#include <stdio.h>

#include "channel-def.h"

static inline uint64_t rec_span(uint64_t len) {
        return MC_CHANNEL_MESSAGE_OVERHEAD + ((len + 7) & ~UINT64_C(7));
}

static inline _Atomic uint64_t *rec_at(const struct mc__chan *c, uint64_t pos) {
        return (_Atomic uint64_t *) (void *) (c->ring + (pos & c->mask));
}

static inline bool multi(const struct mc__chan *c) {
        return c->flags & MC_CHANNEL_MULTI_PRODUCER;
}

/*
 * The handle for a call: open, this process's end, not broken. Cheap: it runs on every
 * message.
 */
static inline int chan_get(mc_channel *ch, const char *op, mc_channel_role role,
                           struct mc__chan **ret, mc_error *err) {
        struct mc__chan *c = NULL;

        if (_unlikely_(!ch || !ch->impl))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, ch ? EBADF : EINVAL, "%s: %s",
                                     op,
                                     ch ? "the channel is not open (closed already?)"
                                        : "the channel must not be NULL");
        c = ch->impl;
        if (_unlikely_(c->pid != mc__ctx_pid(c->ctx)))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: channel %s: this handle was inherited through fork(); "
                                     "open the channel again in this process",
                                     op, mc__chan_label(c));
        if (_unlikely_(c->broken)) {
                mc__error_copy(err, &c->broken_err);
                return -c->broken_err.sys_errno;
        }
        if (_unlikely_(c->role != role))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: channel %s: this handle is the %s, not the %s", op,
                                     mc__chan_label(c), mc_channel_role_name(c->role),
                                     mc_channel_role_name(role));
        *ret = c;
        return 0;
}

/* ---- producer ------------------------------------------------------------------------------- */

/* Refresh head_cache; the consumer may be hostile. */
static inline int load_head(struct mc__chan *c, uint64_t tail, mc_error *err) {
        uint64_t h = atomic_load_explicit(&c->sh->head, memory_order_seq_cst);

        if (_unlikely_((h & 7) || tail - h > c->capacity))
                return mc__chan_break(c, err, "head %" PRIu64 " does not fit tail %" PRIu64, h,
                                      tail);
        c->head_cache = h;
        return 0;
}

/* Bytes a record of @span needs at @tail: itself, plus a pad to the end when it would wrap. */
static inline uint64_t need_at(const struct mc__chan *c, uint64_t tail, uint64_t span) {
        uint64_t off = tail & c->mask;

        return off + span > c->capacity ? c->capacity - off + span : span;
}

/* Single producer: room for @arg's bytes at our tail? */
static int sp_room(struct mc__chan *c, void *arg, mc_error *err) {
        uint64_t need = *(const uint64_t *) arg;
        int r = load_head(c, c->tail, err);

        if (r < 0)
                return r;
        return c->tail + need - c->head_cache <= c->capacity;
}

/*
 * Multiple producers: room for a record of @arg's span wherever tail is (at worst it needs a
 * pad of span - 8 first)? Only a hint, read without the lock: another producer may take the
 * room first, and tail moves on while we look, so a view where it ran more than a ring ahead
 * of the head we read first is not a corruption, only no room. mp_reserve() checks the
 * positions properly, under the lock.
 */
static int mp_room(struct mc__chan *c, void *arg, mc_error *err) {
        uint64_t span = *(const uint64_t *) arg;
        uint64_t h = atomic_load_explicit(&c->sh->head, memory_order_seq_cst);
        uint64_t t = atomic_load_explicit(&c->sh->tail, memory_order_seq_cst);

        (void) err;
        return t - h <= c->capacity && c->capacity - (t - h) >= 2 * span - 8;
}

/*
 * Wait for room. A producer asks to be woken when half the ring (or what it needs, if more) is
 * free again, not at the first free byte: a consumer that frees one message at a time would
 * otherwise wake it, and make it sleep again, for every message.
 */
static int wait_room(struct mc__chan *c, uint64_t tail, uint64_t need, mc__wait_ready_fn ready,
                     void *arg, int64_t deadline, const char *op, mc_error *err) {
        uint64_t want = tail + MC_MAX(need, c->capacity / 2) - c->capacity;

        atomic_store_explicit(&c->sh->space.want, want, memory_order_relaxed);
        if (deadline < 0)
                return mc__chan_nothing_to_do(c, &c->sh->space, ready, arg, op, err);
        return mc__chan_wait(c, &c->sh->space, &c->sh->send_waits, ready, arg, deadline, op, err);
}

static int sp_reserve(struct mc__chan *c, uint64_t len, int64_t deadline, const char *op,
                      mc_error *err) {
        uint64_t span = rec_span(len), need;
        int r;

        for (;;) {
                need = need_at(c, c->tail, span);
                if (_likely_(c->tail + need - c->head_cache <= c->capacity))
                        break;
                r = load_head(c, c->tail, err);
                if (r < 0)
                        return r;
                if (c->tail + need - c->head_cache <= c->capacity)
                        break;
                r = wait_room(c, c->tail, need, sp_room, &need, deadline, op, err);
                if (r < 0)
                        return r;
        }
        if (need != span) /* the rest of the ring is a pad; published with the record */
                atomic_store_explicit(rec_at(c, c->tail), MC__REC_PAD | (need - span - 8),
                                      memory_order_relaxed);
        c->resv_pos = c->tail + need - span;
        return 0;
}

static uint64_t rec_owner(const struct mc__chan *c) {
        return (uint64_t) c->slot << MC__REC_SLOT_SHIFT | (uint64_t) c->gen << MC__REC_GEN_SHIFT;
}

static int mp_reserve(struct mc__chan *c, uint64_t len, int64_t deadline, const char *op,
                      mc_error *err) {
        struct mc__chan_shared *sh = c->sh;
        uint64_t span = rec_span(len), t, h, need;
        int r;

        for (;;) {
                r = mc__chan_lock(c, deadline, op, err);
                if (r < 0)
                        return r;
                t = atomic_load_explicit(&sh->tail, memory_order_relaxed);
                h = atomic_load_explicit(&sh->head, memory_order_seq_cst);
                if ((h & 7) || (t & 7) || t - h > c->capacity) {
                        mc__chan_unlock(c);
                        return mc__chan_break(c, err,
                                              "positions head %" PRIu64 " and tail %" PRIu64
                                              " do not fit the ring",
                                              h, t);
                }
                need = need_at(c, t, span);
                if (t + need - h <= c->capacity)
                        break;
                mc__chan_unlock(c);
                r = wait_room(c, t, need, mp_room, &span, deadline, op, err);
                if (r < 0)
                        return r;
        }
        if (need != span)
                atomic_store_explicit(rec_at(c, t), MC__REC_PAD | (need - span - 8),
                                      memory_order_relaxed);
        c->resv_pos = t + need - span;
        /* Visible to the consumer as soon as tail moves, but BUSY until committed. */
        atomic_store_explicit(rec_at(c, c->resv_pos), MC__REC_BUSY | rec_owner(c) | len,
                              memory_order_relaxed);
        atomic_store_explicit(&sh->tail, t + need, memory_order_release);
        mc__chan_unlock(c);
        return 0;
}

/* 0 for no wait (the try calls), INT64_MAX for ever, else a CLOCK_MONOTONIC deadline. */
static int check_timeout(int64_t timeout_ns, const char *op, int64_t *ret_deadline, mc_error *err) {
        if (_unlikely_(timeout_ns < 0 && timeout_ns != MC_WAIT_FOREVER))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: timeout %" PRId64 " ns is negative (MC_WAIT_FOREVER "
                                     "waits for ever)",
                                     op, timeout_ns);
        *ret_deadline = timeout_ns == 0 ? -1 : mc__chan_deadline(timeout_ns);
        return 0;
}

static int reserve(mc_channel *ch, size_t len, int64_t timeout_ns, const char *op,
                   struct mc__chan **ret, mc_error *err) {
        struct mc__chan *c = NULL;
        int64_t deadline = 0;
        int r;

        r = chan_get(ch, op, MC_CHANNEL_PRODUCER, &c, err);
        if (_unlikely_(r < 0))
                return r;
        if (_unlikely_(c->resv))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: channel %s: a reservation is pending; commit or cancel "
                                     "it first",
                                     op, mc__chan_label(c));
        if (_unlikely_(len > c->max_message))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EMSGSIZE,
                                     "%s: channel %s: a message of %zu bytes is larger than its "
                                     "max_message of %" PRIu32,
                                     op, mc__chan_label(c), len, c->max_message);
        r = check_timeout(timeout_ns, op, &deadline, err);
        if (_unlikely_(r < 0))
                return r;
        r = multi(c) ? mp_reserve(c, len, deadline, op, err)
                     : sp_reserve(c, len, deadline, op, err);
        if (r < 0)
                return r;
        c->resv = true;
        c->resv_len = (uint32_t) len;
        *ret = c;
        return 0;
}

static void commit(struct mc__chan *c, uint64_t len) {
        struct mc__chan_shared *sh = c->sh;
        uint64_t span = rec_span(len);

        c->resv = false;
        if (!multi(c)) {
                atomic_store_explicit(rec_at(c, c->resv_pos), len, memory_order_relaxed);
                c->tail = c->resv_pos + span;
                /* One writer: plain increments, no locked instruction. */
                atomic_store_explicit(&sh->sent,
                                      atomic_load_explicit(&sh->sent, memory_order_relaxed) + 1,
                                      memory_order_relaxed);
                atomic_store_explicit(&sh->sent_bytes,
                                      atomic_load_explicit(&sh->sent_bytes, memory_order_relaxed) +
                                              len,
                                      memory_order_relaxed);
                atomic_store_explicit(&sh->tail, c->tail, memory_order_seq_cst);
        } else {
                uint64_t rspan = rec_span(c->resv_len);

                /* A shorter message leaves the rest of its room as a pad, published with it. */
                if (span < rspan)
                        atomic_store_explicit(rec_at(c, c->resv_pos + span),
                                              MC__REC_PAD | (rspan - span - 8),
                                              memory_order_relaxed);
                atomic_fetch_add_explicit(&sh->sent, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&sh->sent_bytes, len, memory_order_relaxed);
                atomic_store_explicit(rec_at(c, c->resv_pos), rec_owner(c) | len,
                                      memory_order_seq_cst);
        }
        mc__doorbell_ring(c, &sh->data, c->recv_event);
}

void mc__chan_cancel_reservation(struct mc__chan *c) {
        c->resv = false;
        if (!multi(c))
                return; /* nothing was published */
        /* The room is taken in the channel's order: hand it to the consumer as a pad. */
        atomic_store_explicit(rec_at(c, c->resv_pos),
                              MC__REC_PAD | (rec_span(c->resv_len) - MC_CHANNEL_MESSAGE_OVERHEAD),
                              memory_order_seq_cst);
        mc__doorbell_ring(c, &c->sh->data, c->recv_event);
}

int mc_channel_reserve(mc_channel *ch, size_t len, void **ret_ptr, int64_t timeout_ns,
                       mc_error *err) {
        struct mc__chan *c = NULL;
        int r;

        if (_unlikely_(!ret_ptr))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_reserve: ret_ptr must not be NULL");
        r = reserve(ch, len, timeout_ns, "channel_reserve", &c, err);
        if (r < 0)
                return r;
        *ret_ptr = (uint8_t *) rec_at(c, c->resv_pos) + MC_CHANNEL_MESSAGE_OVERHEAD;
        return 0;
}

int mc_channel_commit(mc_channel *ch, size_t len, mc_error *err) {
        struct mc__chan *c = NULL;
        int r;

        r = chan_get(ch, "channel_commit", MC_CHANNEL_PRODUCER, &c, err);
        if (_unlikely_(r < 0))
                return r;
        if (_unlikely_(!c->resv || len > c->resv_len))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_commit: channel %s: %s", mc__chan_label(c),
                                     c->resv ? "the length is larger than the reservation"
                                             : "no reservation is pending");
        commit(c, len);
        return 0;
}

int mc_channel_cancel(mc_channel *ch, mc_error *err) {
        struct mc__chan *c = NULL;
        int r;

        r = chan_get(ch, "channel_cancel", MC_CHANNEL_PRODUCER, &c, err);
        if (r < 0)
                return r;
        if (!c->resv)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_cancel: channel %s: no reservation is pending",
                                     mc__chan_label(c));
        mc__chan_cancel_reservation(c);
        return 0;
}

int mc_channel_send(mc_channel *ch, const void *data, size_t len, int64_t timeout_ns,
                    mc_error *err) {
        struct mc__chan *c = NULL;
        int r;

        if (_unlikely_(!data && len))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_send: data must not be NULL");
        r = reserve(ch, len, timeout_ns, "channel_send", &c, err);
        if (_unlikely_(r < 0))
                return r;
        if (len)
                memcpy((uint8_t *) rec_at(c, c->resv_pos) + MC_CHANNEL_MESSAGE_OVERHEAD, data, len);
        commit(c, len);
        return 0;
}

int mc_channel_try_send(mc_channel *ch, const void *data, size_t len, mc_error *err) {
        return mc_channel_send(ch, data, len, 0, err);
}

/* ---- consumer ------------------------------------------------------------------------------- */

/*
 * Publish the consumer's head and wake producers that wait for this much room. The consumer
 * does it after each quarter of the ring, when it has taken every message it knew of, and
 * when it finds nothing to take (so always before it sleeps), not after every message: a
 * producer that has filled the ring reads head until there is room, and a head written after
 * every message would bounce that cache line between the two CPUs once per message.
 */
static inline void publish_head(struct mc__chan *c) {
        struct mc__chan_shared *sh = c->sh;

        c->head_pub = c->head;
        atomic_store_explicit(&sh->head, c->head, memory_order_seq_cst);
        if (_unlikely_(atomic_load_explicit(&sh->space.waiting, memory_order_seq_cst) != 0) &&
            c->head >= atomic_load_explicit(&sh->space.want, memory_order_relaxed))
                mc__doorbell_ring_slow(c, &sh->space, c->send_event);
}

static inline bool should_publish(const struct mc__chan *c) {
        return c->head - c->head_pub >= c->capacity / 4 || c->head == c->tail_cache;
}

/* Whether the BUSY record @h belongs to a producer that is gone: it will never be committed. */
static bool abandoned(struct mc__chan *c, uint64_t h) {
        unsigned slot = (unsigned) (h >> MC__REC_SLOT_SHIFT) & 0xff;
        unsigned gen = (unsigned) (h >> MC__REC_GEN_SHIFT) & 0xffff;

        return atomic_load(&c->sh->producers[slot]) == 0 ||
               (atomic_load(&c->sh->producer_gen[slot]) & 0xffff) != gen;
}

/*
 * The next message at head: 1 with its header in *@ret_hdr, 0 when there is none (yet), or a
 * negative errno for a corrupt region. Pads and abandoned records on the way are consumed.
 */
static int next_message(struct mc__chan *c, uint64_t *ret_hdr, mc_error *err) {
        uint64_t h, len, span, off;
        bool moved = false;

        for (;;) {
                if (c->tail_cache == c->head) {
                        uint64_t t = atomic_load_explicit(&c->sh->tail, memory_order_seq_cst);

                        if (_unlikely_((t & 7) || t - c->head > c->capacity))
                                return mc__chan_break(c, err,
                                                      "tail %" PRIu64 " does not fit head %" PRIu64,
                                                      t, c->head);
                        c->tail_cache = t;
                        if (t == c->head)
                                break;
                }
                off = c->head & c->mask;
                h = atomic_load_explicit(rec_at(c, c->head), memory_order_seq_cst);
                len = h & MC__REC_LEN_MASK;
                span = rec_span(len);
                if (_unlikely_(span > c->tail_cache - c->head || off + span > c->capacity))
                        return mc__chan_break(
                                c, err,
                                "a record of %" PRIu64 " bytes at %" PRIu64 " runs past the %s",
                                len, c->head,
                                off + span > c->capacity ? "end of the ring" : "producers' tail");
                if (_unlikely_(h & MC__REC_BUSY)) {
                        if (!multi(c) || ((h >> MC__REC_SLOT_SHIFT) & 0xff) >= c->max_producers ||
                            len > c->max_message)
                                return mc__chan_break(c, err, "bad reserved record at %" PRIu64,
                                                      c->head);
                        if (!abandoned(c, h))
                                break;
                        /* Its producer died before committing: the room is skipped, never
                         * read. */
                        atomic_fetch_add_explicit(&c->sh->abandoned, 1, memory_order_relaxed);
                        c->head += span;
                        moved = true;
                        continue;
                }
                if (h & MC__REC_PAD) {
                        c->head += span;
                        moved = true;
                        continue;
                }
                if (_unlikely_(len > c->max_message ||
                               ((h >> MC__REC_SLOT_SHIFT) & 0xff) >= c->max_producers))
                        return mc__chan_break(c, err,
                                              "a message of %" PRIu64 " bytes at %" PRIu64
                                              " (max_message %" PRIu32 ")",
                                              len, c->head, c->max_message);
                if (moved && should_publish(c))
                        publish_head(c);
                *ret_hdr = h;
                return 1;
        }
        if (c->head != c->head_pub)
                publish_head(c);
        return 0;
}

static int message_ready(struct mc__chan *c, void *arg, mc_error *err) {
        return next_message(c, arg, err);
}

/* The next message of consumer @c, waiting for it as @timeout_ns allows. */
static int take(struct mc__chan *c, int64_t timeout_ns, const char *op, uint64_t *ret_hdr,
                mc_error *err) {
        int64_t deadline = 0;
        int r;

        r = next_message(c, ret_hdr, err);
        if (_likely_(r > 0))
                return 0;
        if (r < 0)
                return r;
        r = check_timeout(timeout_ns, op, &deadline, err);
        if (r < 0)
                return r;
        if (deadline < 0)
                return mc__chan_nothing_to_do(c, &c->sh->data, message_ready, ret_hdr, op, err);
        return mc__chan_wait(c, &c->sh->data, &c->sh->recv_waits, message_ready, ret_hdr, deadline,
                             op, err);
}

static inline void consume(struct mc__chan *c, uint64_t span, uint64_t len) {
        struct mc__chan_shared *sh = c->sh;

        c->head += span;
        atomic_store_explicit(&sh->received,
                              atomic_load_explicit(&sh->received, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        atomic_store_explicit(&sh->received_bytes,
                              atomic_load_explicit(&sh->received_bytes, memory_order_relaxed) + len,
                              memory_order_relaxed);
        if (should_publish(c))
                publish_head(c);
}

void mc__chan_publish_head(struct mc__chan *c) {
        if (c->head != c->head_pub)
                publish_head(c);
}

int mc_channel_recv(mc_channel *ch, void *buf, size_t size, int64_t timeout_ns, mc_error *err) {
        struct mc__chan *c = NULL;
        uint64_t h, len;
        int r;

        r = chan_get(ch, "channel_recv", MC_CHANNEL_CONSUMER, &c, err);
        if (_unlikely_(r < 0))
                return r;
        if (_unlikely_(!buf && size))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_recv: buf must not be NULL");
        if (_unlikely_(c->peeked))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_recv: channel %s: a peeked message is pending; "
                                     "release it first",
                                     mc__chan_label(c));
        r = take(c, timeout_ns, "channel_recv", &h, err);
        if (r < 0)
                return r;
        len = h & MC__REC_LEN_MASK;
        if (_unlikely_(len > size))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EMSGSIZE,
                                     "channel_recv: channel %s: the next message has %" PRIu64
                                     " bytes, the buffer %zu; it stays in the channel",
                                     mc__chan_label(c), len, size);
        if (len)
                memcpy(buf, (uint8_t *) rec_at(c, c->head) + MC_CHANNEL_MESSAGE_OVERHEAD, len);
        consume(c, rec_span(len), len);
        return (int) len;
}

int mc_channel_try_recv(mc_channel *ch, void *buf, size_t size, mc_error *err) {
        return mc_channel_recv(ch, buf, size, 0, err);
}

int mc_channel_peek(mc_channel *ch, const void **ret_data, size_t *ret_len, int64_t timeout_ns,
                    mc_error *err) {
        struct mc__chan *c = NULL;
        uint64_t h;
        int r;

        r = chan_get(ch, "channel_peek", MC_CHANNEL_CONSUMER, &c, err);
        if (_unlikely_(r < 0))
                return r;
        if (_unlikely_(!ret_data || !ret_len))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_peek: ret_data and ret_len must not be NULL");
        if (c->peeked) {
                /* Again before release: the same message, with the handle's own copy of its
                 * length (the region's may have changed). */
                *ret_data = (const uint8_t *) rec_at(c, c->head) + MC_CHANNEL_MESSAGE_OVERHEAD;
                *ret_len = c->peek_len;
                return 0;
        }
        r = take(c, timeout_ns, "channel_peek", &h, err);
        if (r < 0)
                return r;
        c->peeked = true;
        c->peek_len = (uint32_t) (h & MC__REC_LEN_MASK);
        c->peek_span = rec_span(c->peek_len);
        *ret_data = (const uint8_t *) rec_at(c, c->head) + MC_CHANNEL_MESSAGE_OVERHEAD;
        *ret_len = c->peek_len;
        return 0;
}

int mc_channel_release(mc_channel *ch, mc_error *err) {
        struct mc__chan *c = NULL;
        int r;

        r = chan_get(ch, "channel_release", MC_CHANNEL_CONSUMER, &c, err);
        if (r < 0)
                return r;
        if (!c->peeked)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_release: channel %s: no message is peeked",
                                     mc__chan_label(c));
        c->peeked = false;
        consume(c, c->peek_span, c->peek_len);
        return 0;
}
