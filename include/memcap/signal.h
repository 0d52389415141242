/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_SIGNAL_H
#define MEMCAP_SIGNAL_H

/*
 * The core.signal capability: safe handlers, masks, sending with a payload, timed waits and
 * raise, each checked by the context's policy and audited.
 * Windows: the C runtime's SIGINT, SIGBREAK, SIGTERM and SIGABRT only (others Unsupported).
 * Handlers run on memcap's dispatcher thread; the console's CTRL_C and CTRL_BREAK arrive as
 * SIGINT and SIGBREAK, CLOSE, LOGOFF and SHUTDOWN as SIGTERM (the event in the info's code);
 * mc_signal_raise() is the C runtime's raise(); mc_signal_wait() takes an unregistered signal
 * of its set; mc_signal_send() sends SIGINT or SIGBREAK to a console process group (pid 0 or
 * -GROUP, the "whole_group" target) and nothing else. Masks, mc_signal_fd(), payloads and
 * mc_signal_stats() are Unsupported. The rest of this comment is about Linux.
 *
 * Handlers never run in signal context. memcap installs a tiny signal handler that only hands
 * the signal's siginfo to memcap's dispatcher thread (rt_tgsigqueueinfo: async-signal-safe, and
 * the kernel queues it, so realtime signals are neither lost nor merged); the dispatcher reads
 * them from a signalfd and calls your handler in an ordinary thread, where it may take locks,
 * allocate and log. With mc_signal_fd() an event loop can run a context's handlers itself.
 *
 * Delivery guarantees:
 * - Every realtime signal sent (below RLIMIT_SIGPENDING) reaches the handler once, with its own
 *   payload; a slow handler delays later ones, it never loses them (the kernel queues them).
 * - Standard signals (1..31) may coalesce while one of the same number is pending: POSIX allows
 *   it and the kernel does it. Send realtime signals when every instance counts.
 * - Order: realtime signals reach the handler in the order they were sent when at most one
 *   thread can take them from the kernel at a time - e.g. register before creating threads with
 *   MC_SIGNAL_BLOCK, so every thread inherits the block and the dispatcher reads them directly.
 *   Without it, two threads receiving instances at the same moment (the dispatcher counts: it
 *   reads the process's queue too) may hand them on in either order.
 * - A signal sent to one thread (pthread_kill/tgkill) is handed on like any other once that
 *   thread does not block it. Threads created after an MC_SIGNAL_BLOCK registration inherit the
 *   block: a signal sent to one of them waits in its queue until it unblocks the signal.
 * - One dispatcher thread runs every thread-dispatched handler, one at a time: a slow handler
 *   delays the others. mc_signal_stats() shows how many instances wait and how many standard
 *   ones merged.
 * - The sender's pid and uid are the kernel's only for kill(2)-like and kernel signals;
 *   mc_signal_info.source_verified says which (sigqueue(3) senders may claim any pid).
 *
 * Handlers are shared by the process: one registration per signal is active at a time (a newer
 * one stacks on top of the older; unregistering pops it and the older is active again). All
 * handlers registered for thread dispatch run one at a time in the one dispatcher thread.
 *
 * fork(): the child starts with no memcap handlers - the dispositions that were in place before
 * memcap's registrations are restored there, signals blocked because of MC_SIGNAL_BLOCK are
 * unblocked, and the child may register again. So an exec after fork() starts clean, from any
 * thread: a child forked by a handler running in memcap's dispatcher thread (which blocks
 * nearly every signal) gets the application's mask instead - that of the thread whose
 * registration started the dispatcher, as it was then, without memcap's blocks - and the
 * process's name. Such a child should exec or _exit(); if the handler returns in it, the child
 * ends there with _exit(0), for it has no caller to return to. (Children made by posix_spawn()
 * or vfork() skip fork handlers: give them a clean mask with posix_spawnattr_setsigmask() if
 * you used MC_SIGNAL_BLOCK.)
 *
 * Faults: SIGSEGV, SIGBUS, SIGFPE and SIGILL raised by a faulting instruction cannot be handled
 * from another thread; registering them is refused - use mc_map_read()/mc_map_write() for
 * mapped files that may shrink. memcap's guard for those chains to whatever handler was there.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/ctx.h>
#include <memcap/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A set of signals 1..64 (bit n-1 for signal n). */
typedef struct mc_sigset {
        uint64_t bits;
} mc_sigset;

#define MC_SIGSET_EMPTY                                                                            \
        { 0 }

static inline void mc_sigset_add(mc_sigset *set, int signo) {
        if (signo >= 1 && signo <= 64)
                set->bits |= UINT64_C(1) << (signo - 1);
}
static inline void mc_sigset_del(mc_sigset *set, int signo) {
        if (signo >= 1 && signo <= 64)
                set->bits &= ~(UINT64_C(1) << (signo - 1));
}
static inline bool mc_sigset_has(const mc_sigset *set, int signo) {
        return signo >= 1 && signo <= 64 && (set->bits >> (signo - 1)) & 1;
}

/* The seed's SignalPayload. */
typedef enum mc_payload_kind {
        MC_PAYLOAD_NONE = 0,  /* sent by kill(2) or the kernel */
        MC_PAYLOAD_USER_DATA, /* UserData(i32): sigqueue's sival_int */
        MC_PAYLOAD_REAL_TIME, /* RealTime(u64): sigqueue's sival_ptr, 64 bits */
} mc_payload_kind;

typedef struct mc_signal_payload {
        mc_payload_kind kind;
        int32_t user_data;  /* MC_PAYLOAD_USER_DATA */
        uint64_t real_time; /* MC_PAYLOAD_REAL_TIME */
} mc_signal_payload;

/*
 * The seed's SignalInfo. A received sigqueue() value is reported as REAL_TIME for realtime
 * signals and USER_DATA for standard ones; both members are filled from the same sigval.
 *
 * Who sent it: for si_code SI_USER (kill(2), pidfd_send_signal(2) without a siginfo, raise),
 * SI_TKILL (tgkill(2)) and the codes above 0 (the kernel: SIGCHLD's CLD_*, SI_KERNEL, ...) the
 * kernel fills in source_pid and source_uid itself, and another process cannot queue those
 * codes (rt_sigqueueinfo(2) refuses them except to oneself): source_verified is true. For
 * every code below 0 - SI_QUEUE (sigqueue(3), pidfd_send_signal(2) with a siginfo), SI_MESGQ,
 * SI_ASYNCNL, ... - the sender writes pid and uid itself with rt_sigqueueinfo(2) and may write
 * anything: source_verified is false, and they are only a claim. Never grant anything on a
 * claimed sender; memcap does not. (A thread of the receiving process can forge any code to
 * its own process: it is trusted with its own signals.)
 */
typedef struct mc_signal_info {
        int signal;
        pid_t source_pid;  /* the sender; 0 when the kernel sent it */
        uid_t source_uid;  /* the sender's real uid */
        int64_t timestamp; /* CLOCK_REALTIME nanoseconds when memcap received it */
        mc_signal_payload payload;
        int code;   /* si_code: SI_USER, SI_QUEUE, SI_TKILL, SI_KERNEL, CLD_EXITED, ... */
        int status; /* SIGCHLD: the child's exit status or signal; else 0 */
        /* source_pid and source_uid are the kernel's (true) or the sender's claim (false) */
        bool source_verified;
} mc_signal_info;

/* What a handler asks for after it ran (the seed's SignalAction). */
typedef enum mc_signal_action {
        /* Handled: keep running. If a handler not from memcap was installed before the
         * registration, it is called too (from the dispatcher thread). */
        MC_SIGNAL_CONTINUE = 0,
        /* End the process with the signal's default action, so a parent sees "killed by
         * SIGTERM"; for signals whose default is not to terminate, exit(128 + signal). */
        MC_SIGNAL_TERMINATE,
        /* Handled: keep running, and do not pass it on to an earlier handler. */
        MC_SIGNAL_IGNORE,
} mc_signal_action;

typedef mc_signal_action (*mc_signal_handler)(const mc_signal_info *info, void *userdata);

/* What a registration replaced (the seed's PreviousHandler). */
typedef enum mc_previous_kind {
        MC_PREVIOUS_DEFAULT = 0, /* SIG_DFL */
        MC_PREVIOUS_IGNORE,      /* SIG_IGN */
        MC_PREVIOUS_FOREIGN,     /* a handler installed with sigaction() by someone else */
        MC_PREVIOUS_MEMCAP,      /* another memcap registration (handler, userdata below) */
} mc_previous_kind;

typedef struct mc_signal_previous {
        mc_previous_kind kind;
        mc_signal_handler handler; /* MC_PREVIOUS_MEMCAP only */
        void *userdata;            /* MC_PREVIOUS_MEMCAP only */
} mc_signal_previous;

typedef enum mc_signal_flags {
        /* Also block the signal in the calling thread (threads it creates later inherit the
         * block), so instances go straight to the dispatcher: fastest and strictly ordered.
         * Unregistering from the same thread unblocks it again. */
        MC_SIGNAL_BLOCK = 1 << 0,
} mc_signal_flags;

/**
 * mc_signal_register_handler() - run @handler, in an ordinary thread, whenever @signo arrives.
 * @ctx: the context whose policy ("signal_register") allows it and whose audit log records the
 *       registration and each delivery; the registration belongs to it (mc_ctx_free() removes
 *       it).
 * @signo: 1..SIGRTMAX, not SIGKILL/SIGSTOP (InvalidSignal: they cannot be caught) nor
 *         SIGSEGV/SIGBUS/SIGFPE/SIGILL (InvalidSignal: faults must be handled where they
 *         happen; see mc_map_read()).
 * @handler: called once per delivered instance; never concurrently with another handler of the
 *           same dispatcher.
 * @userdata: passed to @handler; memcap never frees it. It must stay valid until unregistered:
 *            after mc_signal_unregister_handler() returns, @handler is not running and will not
 *            run again (unless it is the caller).
 * @flags: MC_SIGNAL_BLOCK or 0.
 * @ret_previous: optional; what was active for @signo before.
 *
 * Return: 0 or -errno (InvalidSignal, PolicyViolation, OutOfMemory when the dispatcher thread or
 * its descriptors cannot be made).
 */
MC_API int mc_signal_register_handler(mc_ctx *ctx, int signo, mc_signal_handler handler,
                                      void *userdata, unsigned flags,
                                      mc_signal_previous *ret_previous, mc_error *err);

/**
 * mc_signal_unregister_handler() - remove @ctx's registration for @signo. The registration
 * underneath becomes active again; when none is left, the disposition that was there before
 * memcap's first registration is restored and memcap stops taking @signo from the kernel (so
 * mc_signal_wait() may wait for it); instances already on their way to the dispatcher are given
 * to that disposition, as if they arrived then. Waits for a running call of the handler to
 * finish (unless called from that handler). Always allowed by the policy.
 * Return: 0, or -ENOENT (NotFound) when @ctx has no registration for @signo.
 */
MC_API int mc_signal_unregister_handler(mc_ctx *ctx, int signo, mc_error *err);

/**
 * mc_signal_fd() - dispatch @ctx's handlers from an event loop instead of memcap's thread.
 * @ret_fd: a non-blocking descriptor (owned by the context, closed by mc_ctx_free()) that is
 *          readable while deliveries for @ctx's handlers are waiting; put it in poll/epoll and
 *          call mc_signal_dispatch() when it is readable.
 * From this call on, every handler registered through @ctx (before or after) runs only inside
 * mc_signal_dispatch(). Calling it again returns the same descriptor.
 */
MC_API int mc_signal_fd(mc_ctx *ctx, int *ret_fd, mc_error *err);

/**
 * mc_signal_dispatch() - run, in the calling thread, the handlers of deliveries waiting for
 * @ctx (see mc_signal_fd()). Does not block.
 * Return: the number of handlers run (>= 0), or -errno.
 */
MC_API int mc_signal_dispatch(mc_ctx *ctx, mc_error *err);

/**
 * mc_signal_mask() - block @set in the calling thread (the seed's mask()).
 * @ret_previous: the thread's whole mask before the call; give it to mc_signal_unmask().
 * SIGKILL and SIGSTOP in @set are InvalidSignal (the kernel cannot block them), and so are
 * numbers that name no signal (32 and 33, which the C library keeps for itself).
 * Thread-specific by design: other threads keep their masks.
 */
MC_API int mc_signal_mask(mc_ctx *ctx, const mc_sigset *set, mc_sigset *ret_previous,
                          mc_error *err);

/**
 * mc_signal_unmask() - set the calling thread's mask back to @previous (the seed's unmask()).
 * Signals that became pending while blocked are delivered when this returns. A number in
 * @previous that names no signal is InvalidSignal (mc_signal_mask() never returns one).
 */
MC_API int mc_signal_unmask(mc_ctx *ctx, const mc_sigset *previous, mc_error *err);

/**
 * mc_signal_send() - send @signo to @pid: kill(2), or sigqueue(3) when @payload is given.
 * @pid: > 0 a process; 0 the caller's process group; -1 every process the caller may signal;
 *       < -1 the process group -@pid (as kill(2)).
 * @signo: 1..SIGRTMAX, or 0 to check that @pid exists and may be signalled without sending
 *         anything (kill -0): 0 needs no "allowed_signals" entry, only an allowed target.
 * @payload: NULL or kind MC_PAYLOAD_NONE for kill(2); USER_DATA / REAL_TIME for sigqueue(3)
 *           (@pid must then be > 0).
 * The policy decides on "allowed_signals" and "allowed_signal_targets" (the target's relation
 * to the caller is read from /proc). The default admits only the caller and its children;
 * other processes, whole groups (@pid 0 or < -1), the broadcast (-1) and pid 1 need opt-in
 * rules (policy.h, mc_signal_target). A refusal is PolicyViolation whose message names the
 * rule to add.
 * Return: 0, -ESRCH (NotFound), -EPERM (PermissionDenied from the kernel, PolicyViolation from
 * the policy), -EAGAIN (OutOfMemory: the target's queue is full), -EINVAL (InvalidSignal,
 * InvalidArgument), or -errno.
 */
MC_API int mc_signal_send(mc_ctx *ctx, pid_t pid, int signo, const mc_signal_payload *payload,
                          mc_error *err);

/**
 * mc_signal_send_pidfd() - as mc_signal_send() to the process behind @pidfd
 * (pidfd_send_signal(2)): no pid-reuse race. Unsupported on kernels without it.
 */
MC_API int mc_signal_send_pidfd(mc_ctx *ctx, int pidfd, int signo, const mc_signal_payload *payload,
                                mc_error *err);

/**
 * mc_signal_raise() - send @signo to the caller; policy "allowed_signals" (the target rule does
 * not apply). Where it goes depends on who handles @signo when it is called:
 * - @signo has a memcap handler: to the process (kill(getpid(), @signo); the handler sees
 *   SI_USER from getpid()). The handler runs in memcap's dispatcher thread (or in the next
 *   mc_signal_dispatch() of its context), never in the calling thread, and possibly only
 *   after this returns; the calling thread may block @signo (MC_SIGNAL_BLOCK) without
 *   keeping it. A thread of the program waiting for @signo with sigwait(3) could take it.
 * - otherwise: to the calling thread, as raise(3) (tgkill(2), SI_TKILL): an unblocked
 *   signal's handler or default action takes effect in this thread before this returns; a
 *   signal this thread blocks stays pending in this thread until it unblocks it.
 * Return: 0, -EINVAL (InvalidSignal: 0 or a number that names no signal), -EPERM
 * (PolicyViolation), or -errno.
 */
MC_API int mc_signal_raise(mc_ctx *ctx, int signo, mc_error *err);

/* No timeout for mc_signal_wait(). */
#define MC_WAIT_FOREVER INT64_C(-1)

/**
 * mc_signal_wait() - wait in the calling thread until one of @set is pending, and take it
 * (sigtimedwait semantics). The signals of @set are blocked in the calling thread during the
 * wait and the mask is restored afterwards; in a multithreaded program block them in every
 * thread (MC_SIGNAL_BLOCK / mc_signal_mask before creating threads) or another thread may
 * receive them first.
 * @timeout_ns: MC_WAIT_FOREVER, or >= 0 (0 polls). An interrupted wait resumes with the time
 *              that is left.
 * @ret_info: the signal taken.
 * Return: 0, -ETIMEDOUT (TimedOut) at the timeout, -EINVAL (InvalidSignal) for an empty set or
 * one holding SIGKILL/SIGSTOP or a number that names no signal, -EBUSY (InvalidArgument) when one
 * of @set has a memcap handler (the handler and the wait would race for it), or -errno.
 */
MC_API int mc_signal_wait(mc_ctx *ctx, const mc_sigset *set, int64_t timeout_ns,
                          mc_signal_info *ret_info, mc_error *err);

/**
 * mc_signal_from_name() - parse a signal: "SIGUSR1", "USR1", "usr1", "RTMIN+3", "SIGRTMAX-1",
 * or a number ("10"). Realtime names resolve against this process's SIGRTMIN..SIGRTMAX.
 * @ret_signo: set on success; untouched on failure.
 * Return: 0, or -EINVAL (InvalidSignal) for an unknown name or a number outside 1..SIGRTMAX.
 * Thread-safe.
 */
MC_API int mc_signal_from_name(const char *name, int *ret_signo, mc_error *err);

/**
 * mc_signal_name() - the canonical name of @signo: "SIGUSR1", "SIGRTMIN+3".
 * @buf: receives the name, NUL-terminated; 16 bytes always suffice.
 * Return: @buf, or NULL when @signo is not a signal of this platform or @size is too small.
 * Thread-safe and async-signal-safe.
 */
MC_API const char *mc_signal_name(int signo, char *buf, size_t size);

/* The default action of a signal (signal(7)). */
typedef enum mc_signal_default {
        MC_DEFAULT_TERMINATE = 0,
        MC_DEFAULT_CORE, /* terminate and dump core */
        MC_DEFAULT_IGNORE,
        MC_DEFAULT_STOP,
        MC_DEFAULT_CONTINUE,
} mc_signal_default;

/**
 * mc_signal_default_action() - @signo's default action; -EINVAL outside 1..SIGRTMAX.
 */
MC_API int mc_signal_default_action(int signo);

/*
 * What memcap's hand-off of signals to handlers is doing, process-wide (mc_signal_stats()).
 * One dispatcher thread runs every handler registered for thread dispatch, one at a time, so a
 * slow handler delays the others: these counts let a program see it happen.
 */
typedef struct mc_signal_counts {
        /*
         * Instances memcap has taken in whose handler has not started: on their way to the
         * dispatcher, read by it but behind a running handler, or in a context's queue for
         * mc_signal_dispatch(). Not counted until the dispatcher reads them: instances still
         * in the process's own queue because every thread blocks the signal
         * (MC_SIGNAL_BLOCK), of which the dispatcher takes up to 32 at a time.
         */
        uint64_t waiting;
        uint64_t waiting_max; /* the most that ever waited at once */
        uint64_t handled;     /* handler calls started */
        /*
         * Standard-signal instances (1..31) that merged into one of the same number still
         * waiting for the dispatcher (not yet read by it): they never reach a handler of
         * their own, as POSIX allows. Not seen: instances the kernel merged before memcap's
         * handler ran, e.g. while every thread blocks the signal. Realtime signals never
         * merge.
         */
        uint64_t coalesced;
        /* Instances memcap could not hand on: the dispatcher's queue stayed full for about a
         * second, memory ran out, or mc_ctx_free() dropped a context's undispatched queue. */
        uint64_t lost;
} mc_signal_counts;

/**
 * mc_signal_stats() - the counts of memcap's signal hand-off in this process, since it started
 * (a fork() child starts from zero).
 * @ret: filled on success. Each count is read on its own, not as one snapshot.
 * Return: 0, or -EINVAL (InvalidArgument) when @ret is NULL. Thread-safe and
 * async-signal-safe; needs no context and is not audited (it changes nothing).
 */
MC_API int mc_signal_stats(mc_signal_counts *ret, mc_error *err);

/** mc_signal_rt_min() / mc_signal_rt_max() - this process's SIGRTMIN and SIGRTMAX. */
MC_API int mc_signal_rt_min(void);
MC_API int mc_signal_rt_max(void);

#ifdef __cplusplus
}
#endif

#endif
