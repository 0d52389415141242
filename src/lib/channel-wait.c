/* SPDX-License-Identifier: MIT */
/*
 * Channels, waiting: doorbells (a futex word and a sleep flag per direction), the wait loop
 * with its peer checks, the try calls' event-loop path, and the multi-producer reserve lock.
 *
 * A side that finds nothing to do spins a little, then sets the doorbell's MC__WAIT_FUTEX bit,
 * reads the futex word, looks at the ring once more and sleeps on the word if still nothing. The
 * other side publishes its change with a seq_cst store and then reads the flags (seq_cst): set
 * means exchange them to 0, bump the word and FUTEX_WAKE. So a wakeup is one system call only when
 * someone sleeps, and never lost: either the sleeper's second look sees the change, or the
 * publisher sees the flag, and then the word the sleeper waits on has changed (FUTEX_WAIT returns
 * at once) or the sleeper is already asleep and woken. Sleeps last at most
 * MC_CHANNEL_PEER_CHECK_MS, after which the peers are looked at, so a dead peer (or a lost wakeup
 * from a hostile one, or a failed FUTEX_WAKE) costs at most that long.
 *
 * The futex words are in shared memory, so the futex calls are the shared (not PRIVATE) ones.
 */

#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "channel-def.h"

#define CHECK_NS ((int64_t) MC_CHANNEL_PEER_CHECK_MS * 1000000)

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield" ::: "memory");
#else
        atomic_signal_fence(memory_order_seq_cst);
#endif
}

int64_t mc__chan_deadline(int64_t timeout_ns) {
        int64_t now;

        if (timeout_ns == MC_WAIT_FOREVER)
                return INT64_MAX;
        now = mc__now_ns(CLOCK_MONOTONIC);
        return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/*
 * Spinning pays when the peer answers within the spin; it costs a CPU's time otherwise. How
 * long to spin changes with the scheduler, so the budget adapts, as an adaptive mutex's does: a
 * spin that found work doubles it (up to the most), one that ended in a sleep halves it (down to
 * SPIN_FLOOR_NS, enough to find out when spinning starts to pay again). A thread that may run on
 * one CPU only spins with sched_yield(): a peer on the same CPU can only answer if we let it
 * run, and a yield with nobody else to run returns at once, a slow spin.
 */
#define SPIN_DEFAULT_US 20
#define SPIN_FLOOR_NS   1000

unsigned mc__chan_default_spin_us(void) {
        return sysconf(_SC_NPROCESSORS_ONLN) > 1 ? SPIN_DEFAULT_US : 0;
}

void mc__chan_spin_init(struct mc__chan *c, unsigned max_us) {
        cpu_set_t set;

        c->spin_max_ns = (int64_t) max_us * 1000;
        c->spin_ns = c->spin_max_ns;
        c->spin_yield = sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1;
}

/* Spin until @ready says yes or the budget is spent: > 0 found, 0 not, < 0 an error. */
static int spin(struct mc__chan *c, mc__wait_ready_fn ready, void *arg, mc_error *err) {
        int64_t end;
        int r;

        if (c->spin_ns == 0)
                return 0;
        end = mc__now_ns(CLOCK_MONOTONIC) + c->spin_ns;
        for (unsigned i = 1;; i++) {
                if (c->spin_yield)
                        sched_yield();
                else
                        cpu_relax();
                r = ready(c, arg, err);
                if (r != 0) {
                        if (r > 0)
                                c->spin_ns = MC_MIN(c->spin_max_ns, c->spin_ns * 2);
                        return r;
                }
                /* The clock (vDSO) costs about as much as a few pauses. */
                if ((c->spin_yield || (i & 15) == 0) && mc__now_ns(CLOCK_MONOTONIC) >= end)
                        break;
        }
        c->spin_ns = MC_MIN(c->spin_max_ns, MC_MAX(c->spin_ns / 2, (int64_t) SPIN_FLOOR_NS));
        return 0;
}

/* ---- doorbells ------------------------------------------------------------------------------ */

/*
 * Wake whoever waits on @db. A failed FUTEX_WAKE or eventfd write is not reported: the message
 * (or room) is already published, and the sleeper looks again within a peer-check interval.
 */
void mc__doorbell_ring_slow(struct mc__chan *c, mc__doorbell *db, int event_fd) {
        uint32_t w = atomic_exchange_explicit(&db->waiting, 0, memory_order_seq_cst);

        if (!w)
                return;
        atomic_fetch_add_explicit(&c->sh->wakeups, 1, memory_order_relaxed);
        if (w & MC__WAIT_FUTEX) {
                atomic_fetch_add_explicit(&db->seq, 1, memory_order_seq_cst);
                (void) mc_sys.futex((uint32_t *) &db->seq, FUTEX_WAKE, INT_MAX, NULL);
        }
        if ((w & MC__WAIT_EVENT) && event_fd >= 0) {
                uint64_t one = 1;
                (void) mc_sys.write(event_fd, &one, sizeof(one));
        }
}

/* Look at the peers when the interval since the last look has passed. */
static void maybe_check_peers(struct mc__chan *c, int64_t now) {
        if (now < c->next_check)
                return;
        mc__chan_check_peers(c);
        c->next_check = now + CHECK_NS;
}

/*
 * The other side is gone: PeerGone, unless it published something before it went (its
 * publish precedes its leaving the peer table, so a second look sees it).
 */
static int gone(struct mc__chan *c, mc__wait_ready_fn ready, void *arg, const char *op,
                mc_error *err) {
        int r = ready(c, arg, err);

        if (r != 0)
                return r > 0 ? 0 : r;
        return mc__chan_peer_gone_error(c, op, err);
}

static int timed_out(const struct mc__chan *c, int en, const char *op, mc_error *err) {
        return mc__error_set(err, MC_ERR_TIMED_OUT, en, "%s: channel %s: %s", op, mc__chan_label(c),
                             c->role == MC_CHANNEL_CONSUMER
                                     ? (en == EAGAIN ? "empty" : "no message within the timeout")
                                     : (en == EAGAIN ? "full" : "no room within the timeout"));
}

int mc__chan_wait(struct mc__chan *c, mc__doorbell *db, _Atomic uint64_t *waits,
                  mc__wait_ready_fn ready, void *arg, int64_t deadline, const char *op,
                  mc_error *err) {
        bool counted = false;
        int r;

        r = spin(c, ready, arg, err);
        if (r != 0)
                return r > 0 ? 0 : r;
        for (;;) {
                int64_t now = mc__now_ns(CLOCK_MONOTONIC), slice;
                struct timespec ts;
                uint32_t seq;
                long fr;

                maybe_check_peers(c, now);
                if (mc__chan_peer_gone(c))
                        return gone(c, ready, arg, op, err);
                if (now >= deadline)
                        return timed_out(c, ETIMEDOUT, op, err);
                slice = MC_MIN(deadline - now, c->next_check - now);
                slice = MC_MAX(slice, (int64_t) 1);

                atomic_fetch_or_explicit(&db->waiting, MC__WAIT_FUTEX, memory_order_seq_cst);
                seq = atomic_load_explicit(&db->seq, memory_order_seq_cst);
                r = ready(c, arg, err);
                if (r != 0)
                        return r > 0 ? 0 : r;
                if (!counted) {
                        atomic_fetch_add_explicit(waits, 1, memory_order_relaxed);
                        counted = true;
                }
                ts.tv_sec = (time_t) (slice / 1000000000);
                ts.tv_nsec = (long) (slice % 1000000000);
                fr = mc_sys.futex((uint32_t *) &db->seq, FUTEX_WAIT, seq, &ts);
                if (fr < 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
                        return mc__error_errno(err, errno, "%s: channel %s: futex wait", op,
                                               mc__chan_label(c));
                r = ready(c, arg, err);
                if (r != 0)
                        return r > 0 ? 0 : r;
        }
}

int mc__chan_nothing_to_do(struct mc__chan *c, mc__doorbell *db, mc__wait_ready_fn ready, void *arg,
                           const char *op, mc_error *err) {
        int r;

        if (c->event_mode) {
                int fd = c->role == MC_CHANNEL_CONSUMER ? c->recv_event : c->send_event;
                uint64_t v;

                /* Drain, then arm, then look again: a ring after the look finds the flag. */
                (void) mc_sys.read(fd, &v, sizeof(v));
                atomic_fetch_or_explicit(&db->waiting, MC__WAIT_EVENT, memory_order_seq_cst);
                r = ready(c, arg, err);
                if (r != 0)
                        return r > 0 ? 0 : r;
        }
        maybe_check_peers(c, mc__now_ns(CLOCK_MONOTONIC));
        if (mc__chan_peer_gone(c))
                return gone(c, ready, arg, op, err);
        return timed_out(c, EAGAIN, op, err);
}

/* ---- the multi-producer reserve lock -------------------------------------------------------- */

/* Whether the lock word @v names a holder that can no longer release it. */
static bool holder_gone(struct mc__chan *c, uint32_t v) {
        unsigned slot = (v & 0xff) - 1u, gen = (v >> 8) & 0xffff;
        uint64_t w;

        if (slot >= c->max_producers)
                return true; /* not a lock word we write: a hostile peer's */
        w = atomic_load(&c->sh->producers[slot]);
        return w == 0 || (atomic_load(&c->sh->producer_gen[slot]) & 0xffff) != gen ||
               !mc__chan_peer_alive(c, w);
}

int mc__chan_lock(struct mc__chan *c, int64_t deadline, const char *op, mc_error *err) {
        _Atomic uint32_t *l = &c->sh->lock;
        uint32_t me = (uint32_t) (c->slot + 1) | c->gen << 8, v;
        bool try = deadline < 0;

        for (unsigned i = 0;; i++) {
                v = 0;
                if (atomic_compare_exchange_weak_explicit(l, &v, me, memory_order_acquire,
                                                          memory_order_relaxed))
                        return 0;
                if (i >= 64 || !c->spin_max_ns)
                        break;
                cpu_relax();
        }
        if (try)
                deadline = mc__now_ns(CLOCK_MONOTONIC) + CHECK_NS;
        for (;;) {
                int64_t now, slice;
                struct timespec ts;
                long fr;

                v = atomic_load_explicit(l, memory_order_relaxed);
                if (v == 0) {
                        /* Others may still wait: keep the flag so the release wakes one. */
                        if (atomic_compare_exchange_weak_explicit(l, &v, me | MC__LOCK_WAITERS,
                                                                  memory_order_acquire,
                                                                  memory_order_relaxed))
                                return 0;
                        continue;
                }
                if (!(v & MC__LOCK_WAITERS)) {
                        if (!atomic_compare_exchange_weak_explicit(l, &v, v | MC__LOCK_WAITERS,
                                                                   memory_order_relaxed,
                                                                   memory_order_relaxed))
                                continue;
                        v |= MC__LOCK_WAITERS;
                }
                now = mc__now_ns(CLOCK_MONOTONIC);
                if (now >= deadline)
                        return timed_out(c, try ? EAGAIN : ETIMEDOUT, op, err);
                slice = MC_MIN(deadline - now, CHECK_NS);
                ts.tv_sec = (time_t) (slice / 1000000000);
                ts.tv_nsec = (long) (slice % 1000000000);
                fr = mc_sys.futex((uint32_t *) l, FUTEX_WAIT, v, &ts);
                if (fr < 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT)
                        return mc__error_errno(err, errno, "%s: channel %s: futex wait", op,
                                               mc__chan_label(c));
                /* Held a whole interval: take it over if its holder died inside. */
                if (fr < 0 && errno == ETIMEDOUT && holder_gone(c, v) &&
                    atomic_compare_exchange_strong_explicit(l, &v, me | MC__LOCK_WAITERS,
                                                            memory_order_acquire,
                                                            memory_order_relaxed))
                        return 0;
        }
}

void mc__chan_unlock(struct mc__chan *c) {
        uint32_t v = atomic_exchange_explicit(&c->sh->lock, 0, memory_order_release);

        if (v & MC__LOCK_WAITERS)
                (void) mc_sys.futex((uint32_t *) &c->sh->lock, FUTEX_WAKE, 1, NULL);
}
