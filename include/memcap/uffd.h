/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_UFFD_H
#define MEMCAP_UFFD_H

/*
 * userfaultfd under the core.memory capability: a handler of the application's supplies the
 * pages of a range of a memcap mapping when they are first touched (missing faults), is told
 * when a write-protected page is written (write-protect faults), or decides when a page of a
 * shared memory mapping that is already in the page cache may be mapped (minor faults).
 *
 * Policy: registering needs "allow_userfaultfd": true (default false: userfaultfd lets a
 * process stall the kernel inside a page fault for as long as it likes, a well-known tool for
 * widening race windows in kernel exploits, so it is opt-in) and "uffd_register" in
 * allowed_syscalls; uffd_unregister is a release and always allowed. Both are audited.
 *
 * Privilege: memcap asks the kernel for a userfaultfd that also handles faults the kernel
 * takes on the process's behalf (a read(2) into a registered range); when the kernel refuses
 * that (vm.unprivileged_userfaultfd = 0 and no CAP_SYS_PTRACE), it asks for one that handles
 * user-mode faults only (UFFD_USER_MODE_ONLY), where a system call that touches a missing page
 * fails with EFAULT instead of waiting. memcap never widens what the kernel allows: when both
 * are refused the call is PermissionDenied, on a kernel without userfaultfd Unsupported.
 *
 * A handler that fails or is too slow never wedges the faulting threads: memcap answers the
 * fault by poisoning the page (UFFDIO_POISON), so the thread that touched it gets SIGBUS, which
 * mc_map_read() and mc_map_write() turn into an Io error. A poisoned page stays so until it is
 * discarded (MC_ADVICE_DONTNEED) or unmapped. See mc_uffd_request.timeout_ms. Without
 * MC_UFFD_THREAD the caller's loop is the one reader: a fault waits until the loop calls
 * mc_uffd_dispatch() or the registration ends (mc_uffd_unregister() wakes it); the timeout
 * times handler calls, not a loop that stopped dispatching.
 *
 * fork(): a child does not inherit the registration (its copy of the range is ordinary memory
 * with whatever pages were present), nor memcap's thread. In the child, mc_uffd_dispatch() and
 * mc_uffd_protect() are InvalidArgument (the descriptor still speaks for the parent's memory),
 * and mc_uffd_unregister() only frees the child's copy of the object, leaving the parent's
 * registration alone. exec drops it all.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memcap/ctx.h>
#include <memcap/error.h>
#include <memcap/memory.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mc_uffd mc_uffd;

/* The faults to be told about. ABI: append only. */
typedef enum mc_uffd_modes {
        MC_UFFD_MISSING = 1 << 0, /* first touch of a page that is not there */
        MC_UFFD_WP = 1 << 1,      /* a write to a page write-protected by mc_uffd_protect() */
        MC_UFFD_MINOR = 1 << 2,   /* shared memory only: the page is in the page cache */
} mc_uffd_modes;

/* How memcap serves the faults. ABI: append only. */
typedef enum mc_uffd_flags {
        /*
         * Run the handler on a thread of memcap's, started by mc_uffd_register(). Without it
         * the caller's event loop polls mc_uffd_fd() for POLLIN and calls mc_uffd_dispatch().
         */
        MC_UFFD_THREAD = 1 << 0,
} mc_uffd_flags;

/* What the handler answers. ABI: append only. */
typedef enum mc_uffd_action {
        MC_UFFD_COPY = 0,  /* install the page the handler filled (UFFDIO_COPY) */
        MC_UFFD_ZERO,      /* install a zero page (UFFDIO_ZEROPAGE) */
        MC_UFFD_CONTINUE,  /* minor fault: map the page-cache page as it is (UFFDIO_CONTINUE) */
        MC_UFFD_UNPROTECT, /* write-protect fault: lift the protection, the write proceeds */
        MC_UFFD_FAIL,      /* refuse: the page is poisoned, the faulting thread gets SIGBUS */
} mc_uffd_action;

/* One fault, as the handler sees it. */
typedef struct mc_uffd_fault {
        void *addr;    /* the page, aligned to the page size */
        size_t offset; /* of the page from the mapping's base (mc_mapping.base) */
        unsigned mode; /* MC_UFFD_MISSING, MC_UFFD_WP or MC_UFFD_MINOR */
        bool write;    /* the access was a write */
} mc_uffd_fault;

/*
 * The handler. For MC_UFFD_COPY it fills @page (@page_size bytes, zeroed before each call)
 * with the page's content. It runs on memcap's thread (MC_UFFD_THREAD) or in
 * mc_uffd_dispatch(), one fault at a time, without any memcap lock held; it must not touch the
 * registered range itself (that fault would wait for this very handler) nor call
 * mc_uffd_unregister() on its own registration. Any value outside mc_uffd_action fails the
 * fault like MC_UFFD_FAIL.
 */
typedef mc_uffd_action (*mc_uffd_handler)(const mc_uffd_fault *fault, void *page, size_t page_size,
                                          void *userdata);

typedef struct mc_uffd_request {
        size_t offset;  /* from mapping.ptr; rounded down to the page */
        size_t length;  /* bytes, or MC_LENGTH_ALL; rounded up to whole pages */
        unsigned modes; /* mc_uffd_modes; at least one */
        unsigned flags; /* mc_uffd_flags */
        mc_uffd_handler handler;
        void *userdata;
        /*
         * 0: no limit. Otherwise a handler call that has not returned after this many
         * milliseconds is given up on (a thread of memcap's watches): its page is poisoned
         * (SIGBUS for the faulting thread), the registration is broken, and every later fault
         * in the range is failed the same way without calling the handler. Unregister it.
         */
        uint32_t timeout_ms;
} mc_uffd_request;

#define MC_UFFD_REQUEST_INIT                                                                       \
        { 0, 0, 0, 0, NULL, NULL, 0 }

/* Counters of one registration; mc_uffd_get_stats(). */
typedef struct mc_uffd_stats {
        uint64_t faults;      /* faults read from the kernel */
        uint64_t copied;      /* served with MC_UFFD_COPY */
        uint64_t zeroed;      /* with MC_UFFD_ZERO */
        uint64_t continued;   /* with MC_UFFD_CONTINUE */
        uint64_t unprotected; /* with MC_UFFD_UNPROTECT */
        uint64_t failed;      /* poisoned: refused, an unknown answer, or the kernel refused it */
        uint64_t timed_out;   /* handler calls given up on after timeout_ms */
        uint64_t handler_ns;  /* time spent in the handler, CLOCK_MONOTONIC */
        bool user_mode_only;  /* the kernel gave only a UFFD_USER_MODE_ONLY descriptor */
        bool broken;          /* a handler overran timeout_ms; every fault now fails */
} mc_uffd_stats;

/**
 * mc_uffd_register() - hand the faults of a range of @m to a handler.
 * @ctx: the context that made @m.
 * @m: a live mapping of private anonymous memory, or a shared mapping of shared memory (an
 *     mc_shared region, a memfd or a tmpfs file). Huge pages and files on disk are
 *     InvalidArgument. MC_UFFD_MINOR needs shared memory.
 * @req: the range, the modes, the handler.
 * @ret: the registration, owned by the caller until mc_uffd_unregister(); untouched on failure.
 *
 * Pages already present in the range are not faulted again: register before first touch.
 * Unmapping @m ends the registration in the kernel; the object still needs unregistering.
 *
 * Errors: InvalidArgument (NULL or unknown values, range outside @m, a kind of mapping
 * userfaultfd cannot serve, no handler), NotFound (@m is not live), PolicyViolation
 * (allow_userfaultfd, allowed_syscalls), PermissionDenied / Unsupported (see the top of this
 * header; also a mode this kernel lacks), OutOfMemory, or the errno of a failed system call.
 * Return: 0 or -errno. Thread-safe.
 */
MC_API int mc_uffd_register(mc_ctx *ctx, const mc_mapping *m, const mc_uffd_request *req,
                            mc_uffd **ret, mc_error *err);

/**
 * mc_uffd_fd() - the descriptor to poll for POLLIN when the handler runs in the caller's loop.
 * Owned by @u; -1 for NULL. Without MC_UFFD_THREAD only.
 */
MC_API int mc_uffd_fd(const mc_uffd *u);

/**
 * mc_uffd_dispatch() - serve every fault waiting now, calling the handler for each; does not
 * block when none waits. Not with MC_UFFD_THREAD (InvalidArgument). Calls from several
 * threads are served one at a time.
 * Return: the number of faults served, or -errno (a failed read of the descriptor).
 */
MC_API int mc_uffd_dispatch(mc_uffd *u, mc_error *err);

/**
 * mc_uffd_protect() - write-protect (@protect true) or unprotect pages of the range, for
 * dirty-page tracking: a write to a protected page is an MC_UFFD_WP fault. Needs MC_UFFD_WP.
 * @offset, @length: as in mc_uffd_request, within the registered range.
 * Only pages that are present can be protected; missing ones fault as MC_UFFD_MISSING.
 * Return: 0 or -errno (InvalidArgument, or the errno of UFFDIO_WRITEPROTECT).
 */
MC_API int mc_uffd_protect(mc_uffd *u, size_t offset, size_t length, bool protect, mc_error *err);

/** mc_uffd_get_stats() - a snapshot of @u's counters; zeros for NULL. Thread-safe. */
MC_API void mc_uffd_get_stats(const mc_uffd *u, mc_uffd_stats *ret);

/**
 * mc_uffd_unregister() - end a registration and free @u (accepts NULL).
 *
 * Stops memcap's threads, waiting for a handler call in progress to return (so never call it
 * from the handler: InvalidArgument, nothing freed), unregisters the range, which wakes the
 * threads still waiting on a fault there: they then find ordinary memory (a zero page for
 * anonymous memory, the page cache for shared memory), and closes the descriptor. @u is freed
 * whatever the outcome, except for the call from the handler.
 * Return: 0, or -errno when the kernel refused to unregister (the descriptor is closed
 * anyway, which unregisters the range too).
 */
MC_API int mc_uffd_unregister(mc_ctx *ctx, mc_uffd *u, mc_error *err);

#ifdef __cplusplus
}
#endif

#endif
