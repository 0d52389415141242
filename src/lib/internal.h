/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Library internals shared between the library's files and its unit tests. The daemon and the
 * CLI never include this header.
 *
 * Sections: errors, the call record, the choke point, the mapping registry, policy and audit
 * hooks of the choke point.
 */

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <memcap/memcap.h>

#include "sys.h"
#include "util/macro.h"

/* ---- errors ------------------------------------------------------------------------------ */

/* The library's own names for mc_error_set() and mc_error_errno() (error.h). */
#define mc__error_set   mc_error_set
#define mc__error_errno mc_error_errno

/*
 * A local error that says "no error" without zero-filling its 256-byte message: the hot paths
 * declare one per call and only write it on failure.
 */
#define MC__ERROR_LOCAL(e)                                                                         \
        mc_error e;                                                                                \
        e.kind = MC_OK;                                                                            \
        e.sys_errno = 0;                                                                           \
        e.message[0] = 0

/* Copy @src into @dst when @dst is non-NULL. */
void mc__error_copy(mc_error *dst, const mc_error *src);

/* ---- the call record ----------------------------------------------------------------------- */

#define MC__CAP_MEMORY "core.memory"
#define MC__CAP_SIGNAL "core.signal"

/* Which request fields of an mc__call are set; the audit record writes exactly these. */
enum {
        MC__F_ADDR = 1 << 0,
        MC__F_LENGTH = 1 << 1,
        MC__F_PROT = 1 << 2,
        MC__F_FLAGS = 1 << 3,
        MC__F_FILE = 1 << 4,
        MC__F_OFFSET = 1 << 5,
        MC__F_NAME = 1 << 6,
        MC__F_ID = 1 << 7,
        MC__F_ADVICE = 1 << 8,
        MC__F_SYNC = 1 << 9,
        MC__F_SIGNAL = 1 << 10,
        MC__F_TARGET = 1 << 11,
        MC__F_NEW_LENGTH = 1 << 12,
        MC__F_SEALS = 1 << 13,
        MC__F_PAYLOAD = 1 << 14,
        MC__F_TIMEOUT = 1 << 15,
        MC__F_FD = 1 << 16,
        MC__F_SIGSET = 1 << 17,    /* req.sigset: "signals" */
        MC__F_SOURCE = 1 << 18,    /* req.source_*: who sent a delivered signal */
        MC__F_ACTION = 1 << 19,    /* req.action: what a handler returned */
        MC__F_CODE = 1 << 20,      /* req.code: si_code */
        MC__F_FLAGS_SIG = 1 << 21, /* req.flags as mc_signal_flags: "signal_flags" */
        MC__F_UFFD = 1 << 22,      /* req.uffd_modes: "uffd_modes" */
        MC__F_NODES = 1 << 23,     /* req.nodes, req.numa_mode: "numa_nodes", "numa_mode" */
};

/*
 * Why a call would make memory writable through one view and executable through another, or
 * executable after it was writable (mc__call.wx_alias); refused unless allow_write_exec.
 */
enum {
        MC__WX_NONE = 0,
        MC__WX_EXEC_OF_WRITABLE,    /* an executable view of an object with a writable shared one */
        MC__WX_WRITE_OF_EXECUTABLE, /* a writable shared view of an object with an executable one */
        MC__WX_EXEC_AFTER_WRITE,    /* mprotect to execute of a mapping that was writable */
};

/*
 * The mapping manager's calls that make no library call (manager.c): they go through the choke
 * point for their capability and their audit record, under the manager's names ("mmap_fd",
 * "mmap_list"). They lie outside mc_op's range for good, since MC_OP_BIT() stops at 63, and no
 * policy's allowed_syscalls names them: the client's capabilities decide them.
 */
#define MC__OP_MMAP_FD   ((mc_op) 64)
#define MC__OP_MMAP_LIST ((mc_op) 65)

/* mc_op_name(), and the names of the two operations above; NULL for anything else. */
const char *mc__op_name(mc_op op);

/* A capability a manager call needs (mc_capability bit), and the refusal that names it. */
typedef struct mc__need {
        unsigned cap;
        const char *why; /* the whole message: "Mmap needs the FileRead capability" */
} mc__need;

/*
 * What the mapping manager adds to a call it makes for a client (manager.h): the client's
 * capabilities and what the call needs, the client's usage against its limits, and the
 * decision inputs only the manager knows. mc__policy_decide() checks it next to the context's
 * own rules, and the choke point reports back how the call changed the client's usage.
 */
typedef struct mc__client_call {
        const char *call; /* the manager's name of the call ("Mprotect"), for messages */
        uint64_t id;      /* the manager's id of the mapping; 0 for a new one */
        unsigned caps;    /* what the client holds */
        mc__need need[2]; /* what the call needs, checked in order; cap 0 ends the list */
        int advice;       /* Madvise: the mc_advice asked for; -1 for other calls */
        /* The client's usage and its limits. Mappings count the extra pieces of split ones. */
        uint64_t mappings, max_mappings;
        uint64_t charged, max_charged; /* what max_memory_usage counts, for this client */
        uint64_t locked, max_locked;
        /* A call on a range: the pieces the mapping is left in, when it adds @add_pieces. */
        uint64_t pieces, add_pieces;
        /* Set by the choke point when the call succeeded: the change of the client's usage. */
        int64_t d_charged, d_locked;
} mc__client_call;

/* A client call with nothing needed, counted or changed yet. */
#define MC__CLIENT_CALL_INIT                                                                       \
        { .advice = -1 }

/*
 * One privileged operation as the choke point sees it: what was asked (for the policy and the
 * audit record), what it adds to the usage (for the quotas), and what came of it.
 */
typedef struct mc__call {
        mc_op op;
        const char *capability; /* MC__CAP_MEMORY or MC__CAP_SIGNAL */
        unsigned fields;        /* MC__F_* set below */

        struct {
                const void *addr;
                size_t length;
                size_t new_length;
                unsigned prot;
                unsigned flags;            /* mc_map_flags */
                const char *const *custom; /* custom flag names, as given */
                size_t n_custom;
                const char *file;     /* as given */
                const char *resolved; /* resolved path; what allowed_paths sees */
                uint64_t offset;
                const char *name;   /* shared memory name */
                uint64_t id;        /* mapping id */
                const char *advice; /* mc_advice_name() */
                unsigned sync;      /* mc_sync_flags */
                unsigned seals;
                int signo;
                pid_t target;
                int fd;
                int payload_kind; /* mc_payload_kind; MC__F_PAYLOAD */
                uint64_t payload; /* the user data (sign-extended) or the 64-bit value */
                int64_t timeout_ms;
                uint64_t sigset;
                pid_t source_pid;
                uid_t source_uid;
                bool source_verified;
                const char *action;
                int code;
                unsigned uffd_modes;   /* mc_uffd_modes */
                uint64_t nodes;        /* NUMA node mask */
                const char *numa_mode; /* mc_numa_mode_name(); NULL: none */
        } req;

        /* Decision inputs, set by the operation before the choke point runs. */
        bool huge;               /* uses huge pages (MAP_HUGETLB, MAP_HUGE_*, MADV_HUGEPAGE) */
        bool uffd;               /* hands page faults to userfaultfd (allow_userfaultfd) */
        mc__client_call *client; /* the mapping manager's client, or NULL */
        bool write_exec;         /* asks for write and execute on one mapping */
        bool fixed;              /* MAP_FIXED (replacing) */
        uint8_t wx_alias;        /* MC__WX_*: write and execute through two views, or in turn */
        uint64_t add_bytes;      /* mapped bytes this call adds (accounted; reported only) */
        uint64_t add_charged;    /* bytes it adds to what max_memory_usage counts (checked) */
        uint64_t add_locked;
        uint64_t add_mappings;
        uint64_t add_shared;
        unsigned target_classes; /* mc_signal_target bits the signal's target belongs to */
        /* Releases, accounted only when the call succeeds. */
        uint64_t sub_bytes;
        uint64_t sub_charged;
        uint64_t sub_locked;
        uint64_t sub_mappings;
        uint64_t sub_shared;

        /* Result, for the audit record. */
        bool has_result;
        const void *res_addr;
        size_t res_length;
        uint64_t res_id;                  /* the mapping made, 0 if none */
        const mc_signal_info *res_signal; /* the signal a wait took, or NULL */
        /* Shared memory: whose object the call was about ("owner", "owner_pid"). */
        bool has_owner;
        bool owner_local;
        pid_t owner_pid; /* 0 when unknown */

        /* Set by the choke point. */
        bool denied; /* the policy refused it */
} mc__call;

/*
 * Start a call record. The request block is not cleared (it is large and on every hot path):
 * a request field is only ever read when its MC__F_* bit is set, and whoever sets the bit
 * sets the field. The few fields read without a bit of their own are set here.
 */
static inline void mc__call_init(mc__call *c, mc_op op, const char *capability) {
        memset(&c->huge, 0, sizeof(*c) - offsetof(mc__call, huge));
        c->op = op;
        c->capability = capability;
        c->fields = 0;
        c->req.custom = NULL;
        c->req.n_custom = 0;
        c->req.resolved = NULL;
        c->req.fd = -1;
}

/*
 * Set the request fields that name the mapping @m, when there is one: its address, its id, and
 * @length, or its length for MC_LENGTH_ALL.
 */
void mc__call_set_range(mc__call *c, const mc_mapping *m, size_t length);

/* ---- the choke point ----------------------------------------------------------------------- */

/*
 * The steps of one operation that mc__ctx_run() drives. @prepare (optional) runs with the
 * context lock held before the policy decides: it finds the mapping the call is about and sets
 * the decision inputs that depend on it (c->add_*). @syscall runs after the policy allowed the
 * call: it makes the system call(s) and, on success, updates the registry and sets c->add_* /
 * c->sub_* to what actually changed. It holds the context lock too unless MC__RUN_UNLOCKED is
 * set; then it must not touch the registry and must carry what it needs in @data from
 * @prepare. Both return 0 or -errno with @err filled.
 */
typedef int (*mc__step_fn)(mc_ctx *ctx, mc__call *c, void *data, mc_error *err);

enum {
        /* Run the system call without the context lock (msync: slow and non-destructive). */
        MC__RUN_UNLOCKED = 1 << 0,
        /*
         * Audit only a failure or a denial: for a call that only looks (a list of other
         * clients' mappings), whose successes a client could repeat to fill the log.
         */
        MC__RUN_AUDIT_FAILURES = 1 << 1,
};

typedef struct mc__steps {
        mc__step_fn prepare;
        mc__step_fn syscall;
        unsigned flags;
} mc__steps;

/*
 * The one choke point: prepare, decide (policy, quotas), call, account (usage), audit (one
 * record), in that order; for a manager client's call its request-only rules
 * (mc__policy_admit()) come first, before prepare looks anything up, and its usage change is
 * handed back in c->client. @prior is the result of the operation's own argument checks: when
 * it is negative (@prior_err says why) nothing runs and the failure is audited as it is.
 * Returns 0 or -errno, with the caller's @err filled on failure.
 */
int mc__ctx_run(mc_ctx *ctx, mc__call *c, int prior, const mc_error *prior_err,
                const mc__steps *steps, void *data, mc_error *err);

/*
 * Decide the rules that depend on nothing but the request (mc__policy_admit()) before an
 * operation touches anything: the manager's Mmap asks before it looks a path up, so that a
 * client without FileRead cannot learn which files exist. A denial sets c->denied; pass it to
 * mc__ctx_run() as @prior, which audits it. mc__ctx_run() decides these rules again.
 */
int mc__ctx_admit(mc_ctx *ctx, mc__call *c, mc_error *err);

/*
 * Mark the live mapping @id of @ctx faulted (an msync failed with EIO); takes the context lock,
 * so an MC__RUN_UNLOCKED step can call it. Nothing happens when @id is gone.
 */
void mc__ctx_mark_faulted(mc_ctx *ctx, uint64_t id);

/* The process id as the context last saw it (kept current across fork()). */
pid_t mc__ctx_pid(mc_ctx *ctx);

/* ---- the mapping registry (context lock held) --------------------------------------------- */

enum {
        MC__KIND_MAP = 0, /* mc_mmap() / mc_map_file() */
        MC__KIND_EMPTY,   /* a zero-length mapping: a PROT_NONE page reserving a pointer */
        MC__KIND_SHARED,  /* the region of an mc_shared */
};

/* The object (inode) a mapping is a view of: what the per-object W^X rule is about. */
typedef struct mc__object_id {
        uint64_t dev;
        uint64_t ino;
} mc__object_id;

typedef struct mc__entry {
        uint64_t id; /* 0 marks a free slot */
        uintptr_t base;
        size_t base_len;
        size_t page;    /* page size of this mapping (huge page size for MAP_HUGETLB) */
        size_t ptr_off; /* ptr = base + ptr_off */
        size_t len;
        unsigned prot;
        unsigned flags;
        uint8_t kind;
        bool dontfork;
        bool anonymous; /* private anonymous memory (DONTNEED zeroes, WIPEONFORK allowed) */
        /* Every page may become memory that is not reclaimable page cache: huge pages, files
         * on tmpfs/hugetlbfs/ramfs, memfds and shared memory objects (mc__entry_charge()). */
        bool memory_backed;
        bool was_writable; /* mapped or ever made writable: private copies may exist */
        bool faulted;      /* an msync failed with EIO: the data written may be lost */
        bool has_object;   /* a view of @object (a file, shm object or memfd) */
        bool view_w;       /* counted in the object table as a writable shared view */
        bool view_x;       /* counted in the object table as an executable view */
        bool owner_local;  /* MC__KIND_SHARED: created by this process */
        pid_t owner_pid;   /* MC__KIND_SHARED: the creator, 0 when unknown */
        mc__object_id object;
        uint64_t locked;  /* bytes of this mapping locked through the context */
        uint8_t *lockmap; /* one bit per page, allocated on first partial lock; NULL otherwise */
        uint8_t *protmap; /* one byte per page (its mc_prot bits) while parts differ; NULL when
                             every page has @prot, which is otherwise the union of them */
        int fd;           /* MC__KIND_SHARED: the object's descriptor; else -1 */
} mc__entry;

/*
 * What the entry counts against max_memory_usage: all of it when its pages may become memory
 * the kernel cannot simply drop (memory_backed, or private and ever writable: copy-on-write
 * copies are anonymous memory and stay after an mprotect back to read-only), otherwise only
 * the bytes locked through the context (locked page cache is memory too). Zero-length
 * mappings count nothing.
 */
uint64_t mc__entry_charge(const mc__entry *e);

/* Set @c's charge deltas to the change of @e's charge from @before to what it is now. */
void mc__charge_delta(mc__call *c, uint64_t before, const mc__entry *e);

/*
 * After mremap() put @e's mapping at @p with @new_base_len bytes (map-ops.c, for mc_mremap()
 * and mc_shared_resize()): when it shrank, @c releases the bytes cut off and what of them was
 * locked (their lock goes with them); when it grew, the growth of a locked mapping, which @c
 * already counted in add_locked, is locked too. Then @e is where and as long as it now is.
 */
void mc__entry_remapped(mc__entry *e, mc__call *c, void *p, size_t new_base_len);

/* Entry of a caller's mapping value, or NULL when it is not a live mapping of @ctx. */
mc__entry *mc__registry_lookup(mc_ctx *ctx, const mc_mapping *m);

/* The live entry with @id (whatever a caller's value says), or NULL. */
mc__entry *mc__registry_find(mc_ctx *ctx, uint64_t id);

/*
 * Make room for one more entry, and for its object in the object table, so that a later
 * mc__registry_add() cannot fail.
 */
int mc__registry_reserve(mc_ctx *ctx);

/*
 * Add @e (its id is assigned here), count its view of its object, and return the stored
 * entry. Needs a prior reserve.
 */
mc__entry *mc__registry_add(mc_ctx *ctx, const mc__entry *e);

/*
 * Remove @e (a pointer returned by lookup or add): frees its lock and protection maps,
 * uncounts its view.
 */
void mc__registry_remove(mc_ctx *ctx, mc__entry *e);

/* The first entry overlapping [addr, addr+len), or NULL. Linear: for MAP_FIXED checks only. */
mc__entry *mc__registry_find_overlap(mc_ctx *ctx, uintptr_t addr, size_t len);

/* Fill the caller's value from an entry. */
void mc__entry_to_mapping(const mc__entry *e, mc_mapping *m);

/* ---- the object table (objects.c, context lock held) ---------------------------------------- */

/* Make room for one more object so that a later mc__objects_attach() cannot fail. */
int mc__objects_reserve(mc_ctx *ctx);

/* Count @e's view of its object (writable shared, executable) from its prot and flags. */
void mc__objects_attach(mc_ctx *ctx, mc__entry *e);

/* Uncount @e's view; the object is forgotten with its last view. */
void mc__objects_detach(mc_ctx *ctx, mc__entry *e);

/* Recount @e's view after its protection changed (cannot fail: its object is known). */
void mc__objects_update(mc_ctx *ctx, mc__entry *e);

/*
 * The W^X input (MC__WX_*) of a view with @prot of object @id, shared or not: whether it would
 * be executable while the object has a writable shared view, or a writable shared view while
 * it has an executable one. The view @self (NULL for a new one) does not count against itself.
 */
uint8_t mc__objects_wx(mc_ctx *ctx, const mc__object_id *id, unsigned prot, bool shared,
                       const mc__entry *self);

/* The policy in force (context lock held). */
const mc_policy *mc__ctx_policy(mc_ctx *ctx);

/* Current usage (context lock held). */
mc_usage *mc__ctx_usage(mc_ctx *ctx);

/* ---- map internals shared with shm.c -------------------------------------------------------- */

/* Unmap an entry and account its release into @c (context lock held). */
int mc__unmap_entry(mc_ctx *ctx, mc__call *c, mc__entry *e, mc_error *err);

/* The default huge page size (from /proc/meminfo; 2 MiB when unknown). */
size_t mc__huge_page_size(void);

/*
 * Io for a call on a faulted mapping (mc__entry.faulted): its msync failed with EIO once, so
 * what was written may be lost and the kernel will not say so again.
 */
int mc__faulted_error(const char *op, const mc_mapping *m, mc_error *err);

/* "/name" for any valid spelling of a shared memory name (shm-name.c). */
void mc__shm_name_normalize(const char *name, char out[MC_SHARED_NAME_MAX + 2]);

/* Convert mc_prot bits to PROT_*. */
int mc__prot_to_sys(unsigned prot);

/* "ReadWrite" etc. for audit records and the CLI; "None" for 0. */
const char *mc__prot_name(unsigned prot);

/* ---- the library's calls for a manager client ------------------------------------------------ */

/*
 * mc_mmap(), mc_shared_open(), mc_mprotect_range() (the whole mapping for offset 0 and
 * MC_LENGTH_ALL), mc_madvise() and mc_mlock()/mc_munlock() (@op, no flags) made by the mapping
 * manager for a client: the same operation, with @cl's rules decided with the others and its
 * usage change handed back in @cl.
 */
int mc__mmap_client(mc_ctx *ctx, const mc_map_request *req, mc__client_call *cl, mc_mapping *ret,
                    mc_error *err);
int mc__shared_open_client(mc_ctx *ctx, const mc_shared_request *req, mc__client_call *cl,
                           mc_shared *ret, mc_error *err);
int mc__mprotect_client(mc_ctx *ctx, mc_mapping *m, size_t offset, size_t length, unsigned prot,
                        mc__client_call *cl, mc_error *err);
int mc__madvise_client(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                       mc_advice advice, mc__client_call *cl, mc_error *err);
int mc__lock_client(mc_op op, mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length,
                    mc__client_call *cl, mc_error *err);

/* ---- NUMA (numa.c) ------------------------------------------------------------------------- */

/* InvalidArgument unless @nodes fits @mode (an mc_numa_mode) as mc_numa_bind() wants it. */
int mc__numa_check(const char *op, uint64_t nodes, int mode, mc_error *err);

/* mc_numa_mode_name() of an int; NULL outside the enum. */
const char *mc__numa_mode_name(int mode);

/* mbind(2) @len bytes at @addr with a checked @mode and @nodes. Returns 0 or -errno. */
int mc__numa_place(void *addr, size_t len, uint64_t nodes, int mode);

/* ---- /proc (procfs.c) ----------------------------------------------------------------------- */

/*
 * Read the /proc file @path into @buf, at most @size - 1 bytes, NUL-terminated, through the
 * seam. Return: the bytes read, or -errno.
 */
ssize_t mc__proc_read(const char *path, char *buf, size_t size);

/* ---- policy (policy.c) ----------------------------------------------------------------------- */

/*
 * Decide whether @c may run under @policy given @usage: returns 0, or -EPERM with @err set to
 * a PolicyViolation that names the rule and, for quotas, the usage and the limit. A manager
 * client's missing capability is -EACCES, PermissionDenied with sys_errno 0 (no system call
 * failed), and its limits and refused advice PolicyViolation with the manager's messages.
 */
int mc__policy_decide(const mc_policy *policy, const mc__call *c, const mc_usage *usage,
                      mc_error *err);

/*
 * The part of mc__policy_decide() that needs nothing but the request: the operation itself
 * (allowed_syscalls) and a manager client's capabilities.
 */
int mc__policy_admit(const mc_policy *policy, const mc__call *c, mc_error *err);

/* ---- audit (audit.c) ------------------------------------------------------------------------ */

/*
 * Format the record of @c with outcome @r / @e and hand it to @audit. Never fails visibly:
 * a sink that cannot write counts the loss (mc__audit_dropped()).
 */
void mc__audit_call(mc_audit *audit, pid_t pid, const mc__call *c, int r, const mc_error *e);

/*
 * Write an application event (mc_ctx_audit_event()); @fields_json already validated. @outcome
 * is "ok", "denied" or "error" for the record's "outcome" (NULL: "ok").
 */
void mc__audit_event(mc_audit *audit, pid_t pid, const char *capability, const char *event,
                     const char *fields_json, const char *outcome);

/* Records a sink failed to write since it was opened. */
uint64_t mc__audit_dropped(const mc_audit *audit);

/* ---- processes (procfs.c) ------------------------------------------------------------------- */

/*
 * The state letter ('R', 'S', 'Z', ...) and start time (clock ticks since boot) of process
 * @pid (0: the caller) from /proc/PID/stat; either output may be NULL. Return: 0, -ENOENT or
 * -ESRCH when there is no such process, -EIO when the file cannot be parsed, or -errno.
 */
int mc__proc_stat(pid_t pid, char *ret_state, uint64_t *ret_start);

/* ---- signals (signal.c) ---------------------------------------------------------------------- */

/* Unregister @ctx's handlers and free its delivery queue (mc_ctx_free(); no lock held). */
void mc__signal_ctx_release(mc_ctx *ctx);

/* fork() handlers: called by the context's, after its locks (prepare) and before (parent). */
void mc__signal_fork_prepare(void);
void mc__signal_fork_parent(void);
void mc__signal_fork_child(void);
void mc__signal_ctx_fork_child(mc_ctx *ctx);

/* InvalidSignal unless 1 <= @signo <= SIGRTMAX (and <= 64) names a signal. */
int mc__signal_check(const char *op, int signo, mc_error *err);

/* Whether @signo has a memcap handler now. */
bool mc__signal_registered(int signo);

/* Now on @clk in nanoseconds. */
int64_t mc__now_ns(clockid_t clk);

/* Signals memcap received but could not hand on (queue overflow, no dispatcher). */
uint64_t mc__signal_lost(void);

/* Whether the kernel filled in the sender of a signal with si_code @code (see signal.h). */
bool mc__signal_sender_verified(int code);
