/* SPDX-License-Identifier: MIT */
/*
 * The forwarding handler, reading a forwarded instance back as the kernel first described it,
 * and the counts of mc_signal_stats().
 *
 * forward() runs in signal context, in whichever thread the kernel picked, and re-queues the
 * siginfo it was given to memcap's dispatcher thread with rt_tgsigqueueinfo(2). It marks each
 * instance, so that the dispatcher can tell the ones it handed on (and counted) from the ones
 * it reads from the process's queue itself, put back the si_code the kernel gave, and say
 * whether the sender's pid and uid were filled in by the kernel or by the sender:
 *
 * - rt_tgsigqueueinfo() accepts si_code >= 0 (kill(2), the kernel) and SI_TKILL only from a
 *   thread to itself, so that nobody can forge them; any negative code, with any pid and uid,
 *   it accepts from anyone (sigqueue(3) is one). forward() sends every instance under a
 *   negative code of its own, mc__sigfwd_mark_code(), so the kernel keeps pid, uid and value in
 * place.
 * - The mark is a random token made when the dispatcher starts: its low half in si_errno, and
 *   for the codes the kernel vouches for, whose layouts leave the value's high half unused,
 *   its high half there. Another process can send our codes but not our token: its instance
 *   reads back as what it is, one whose sender is claimed.
 *
 * Counting. waiting goes up when forward() re-queues an instance (before the call, so the
 * dispatcher cannot count it down first) or when the dispatcher reads one forward() did not
 * mark, and down when the instance's handler starts, it is passed on or it is lost.
 * Standard signals (1..31) merge in the kernel when one of the same number is pending there.
 * forward() keeps, per standard signal, the number of its instances in the dispatcher's queue
 * (0 or 1) and does not re-queue another while one is there: the kernel would merge it
 * without a word, and the waiting count would never come down. It counts it as coalesced.
 * What nobody can see: instances merged in the process's or a thread's own queue before
 * memcap's handler ran, e.g. while every thread blocks the signal (MC_SIGNAL_BLOCK).
 *
 * Sections: marks, state, the forwarding handler, reading back, counts.
 */

#include <signal.h>
#include <stdatomic.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>

#include "signal-int.h"

/* ---- marks ---------------------------------------------------------------------------------- */

/* The codes forward() can carry: every code the kernel or the C library sends (SI_ASYNCNL is
 * -60). Others, which only a forger sends, are handed on unmarked. */
#define CODE_MIN (-64)
#define CODE_MAX SI_KERNEL
/* Far below every code in use. */
#define MARK_BASE (-0x4d430000)

/* The kernel merges standard signals; its realtime range starts at 32 (the C library's later). */
#define KERNEL_SIGRTMIN 32

static bool markable(int code) {
        return code >= CODE_MIN && code <= CODE_MAX;
}

int mc__sigfwd_mark_code(int code) {
        return MARK_BASE - (code - CODE_MIN);
}

static bool is_mark(int code) {
        return code <= MARK_BASE && code >= MARK_BASE - (CODE_MAX - CODE_MIN);
}

static int unmark_code(int code) {
        return MARK_BASE - code + CODE_MIN;
}

bool mc__signal_sender_verified(int code) {
        return code >= 0 || code == SI_TKILL;
}

/* ---- state ---------------------------------------------------------------------------------- */

static struct {
        /* Where forward() sends; tid 0 while no dispatcher runs. */
        _Atomic pid_t tid;
        _Atomic pid_t pid;
        atomic_uint_fast64_t token;
        atomic_uint queued[KERNEL_SIGRTMIN]; /* marked standard instances in the queue */
        atomic_uint_fast64_t waiting, waiting_max, handled, coalesced, lost;
} F;

/* A token nobody else can guess; the kernel's random bytes of this exec if getrandom fails. */
static uint64_t new_token(void) {
        uint64_t t = 0;

        if (getrandom(&t, sizeof(t), GRND_NONBLOCK) != (ssize_t) sizeof(t)) {
                const unsigned char *r = (const unsigned char *) getauxval(AT_RANDOM);

                if (r)
                        memcpy(&t, r + 8, sizeof(t));
                t ^= (uint64_t) mc__now_ns(CLOCK_MONOTONIC);
        }
        /* si_errno is 0 in what everyone else sends: never let that be a token. */
        return t | 1;
}

void mc__sigfwd_start(void) {
        atomic_store(&F.token, new_token());
        atomic_store(&F.pid, getpid());
}

void mc__sigfwd_set_tid(pid_t tid) {
        atomic_store_explicit(&F.tid, tid, memory_order_release);
}

pid_t mc__sigfwd_tid(void) {
        return atomic_load(&F.tid);
}

void mc__sigfwd_fork_child(void) {
        atomic_store(&F.tid, 0);
        atomic_store(&F.pid, getpid());
        for (int s = 0; s < KERNEL_SIGRTMIN; s++)
                atomic_store(&F.queued[s], 0);
        atomic_store(&F.waiting, 0);
        atomic_store(&F.waiting_max, 0);
        atomic_store(&F.handled, 0);
        atomic_store(&F.coalesced, 0);
        atomic_store(&F.lost, 0);
}

/* ---- the forwarding handler ----------------------------------------------------------------- */

/* One more instance waiting; async-signal-safe. */
static void waiting_up(void) {
        uint_fast64_t w = atomic_fetch_add(&F.waiting, 1) + 1;
        uint_fast64_t m = atomic_load(&F.waiting_max);

        while (w > m && !atomic_compare_exchange_weak(&F.waiting_max, &m, w))
                ;
}

/* The value's high half, where a verified instance carries the token's (64-bit layouts). */
static uint64_t value_of(const siginfo_t *si) {
        return (uint64_t) (uintptr_t) si->si_value.sival_ptr;
}

void mc__sigfwd_handler(int signo, siginfo_t *si, void *uctx) {
        int saved = errno, r = -1;
        pid_t tid = atomic_load_explicit(&F.tid, memory_order_acquire);
        pid_t pid = atomic_load_explicit(&F.pid, memory_order_relaxed);
        uint64_t token = atomic_load_explicit(&F.token, memory_order_relaxed);
        bool marked = markable(si->si_code), standard = signo < KERNEL_SIGRTMIN;
        siginfo_t copy = *si;

        (void) uctx;
        if (tid <= 0) {
                atomic_fetch_add(&F.lost, 1);
                errno = saved;
                return;
        }
        if (marked) {
                copy.si_errno = (int) (uint32_t) token;
                if (mc__signal_sender_verified(si->si_code) && sizeof(void *) == 8)
                        copy.si_value.sival_ptr =
                                (void *) (uintptr_t) ((value_of(si) & UINT32_MAX) |
                                                      (token & ~(uint64_t) UINT32_MAX));
                copy.si_code = mc__sigfwd_mark_code(si->si_code);
                if (standard && atomic_fetch_add(&F.queued[signo], 1) > 0) {
                        /* One is waiting in the dispatcher's queue: this one merges into it. */
                        atomic_fetch_sub(&F.queued[signo], 1);
                        atomic_fetch_add(&F.coalesced, 1);
                        errno = saved;
                        return;
                }
                waiting_up();
        }
        /* A full queue is a burst in flight: wait for the dispatcher to drain it rather than
         * drop the signal (bounded: about a second). */
        for (int i = 0; i < 10000; i++) {
                r = (int) syscall(SYS_rt_tgsigqueueinfo, pid, tid, signo, &copy);
                if (r == 0 || errno != EAGAIN)
                        break;
                nanosleep(&(struct timespec){0, 100000}, NULL);
        }
        if (r < 0) {
                atomic_fetch_add(&F.lost, 1);
                if (marked) {
                        atomic_fetch_sub(&F.waiting, 1);
                        if (standard)
                                atomic_fetch_sub(&F.queued[signo], 1);
                }
        }
        errno = saved;
}

/* ---- reading back --------------------------------------------------------------------------- */

void mc__sigfwd_take(const struct signalfd_siginfo *s, mc_signal_info *i) {
        uint64_t token = atomic_load(&F.token), value = s->ssi_ptr;
        int code = s->ssi_code;
        bool marked = false;

        memset(i, 0, sizeof(*i));
        i->signal = (int) s->ssi_signo;
        i->source_pid = (pid_t) s->ssi_pid;
        i->source_uid = (uid_t) s->ssi_uid;
        i->timestamp = mc__now_ns(CLOCK_REALTIME);
        if (is_mark(code) && s->ssi_errno == (int32_t) (uint32_t) token) {
                int orig = unmark_code(code);

                if (!mc__signal_sender_verified(orig))
                        marked = true;
                else if (sizeof(void *) < 8 ||
                         (value & ~(uint64_t) UINT32_MAX) == (token & ~(uint64_t) UINT32_MAX)) {
                        marked = true;
                        value &= UINT32_MAX;
                }
                if (marked)
                        code = orig;
        }
        if (!marked)
                waiting_up();
        else if (i->signal < KERNEL_SIGRTMIN)
                atomic_fetch_sub(&F.queued[i->signal], 1);

        i->code = code;
        i->source_verified = mc__signal_sender_verified(code);
        if (code > 0) {
                /*
                 * Sent by the kernel. Only SIGCHLD's layout has a sender (the child) and a
                 * status; a forwarded one was copied as a queued signal, whose value sits where
                 * si_status was.
                 */
                if (i->signal == SIGCHLD && code != SI_KERNEL)
                        i->status = marked ? (int) (int32_t) value : s->ssi_status;
                else
                        i->source_pid = 0, i->source_uid = 0;
                return;
        }
        /* A timer's or SIGIO's layout holds no sender where a forwarded copy shows one. */
        if (code == SI_TIMER || code == SI_SIGIO) {
                i->source_pid = 0;
                i->source_uid = 0;
        }
        if (code == SI_QUEUE || code == SI_MESGQ || code == SI_TIMER) {
                i->payload.kind =
                        i->signal >= SIGRTMIN ? MC_PAYLOAD_REAL_TIME : MC_PAYLOAD_USER_DATA;
                i->payload.user_data = (int32_t) value;
                i->payload.real_time = value;
        }
}

/* ---- counts --------------------------------------------------------------------------------- */

void mc__sigfwd_done(mc__sig_outcome outcome, uint64_t n) {
        if (n == 0)
                return;
        atomic_fetch_sub(&F.waiting, n);
        if (outcome == MC__SIG_HANDLED)
                atomic_fetch_add(&F.handled, n);
        else if (outcome == MC__SIG_LOST)
                atomic_fetch_add(&F.lost, n);
}

uint64_t mc__signal_lost(void) {
        return atomic_load(&F.lost);
}

int mc_signal_stats(mc_signal_counts *ret, mc_error *err) {
        if (!ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "signal_stats: ret must not be NULL");
        memset(ret, 0, sizeof(*ret));
        ret->waiting = atomic_load(&F.waiting);
        ret->waiting_max = atomic_load(&F.waiting_max);
        ret->handled = atomic_load(&F.handled);
        ret->coalesced = atomic_load(&F.coalesced);
        ret->lost = atomic_load(&F.lost);
        return 0;
}
