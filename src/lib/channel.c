/* SPDX-License-Identifier: MIT */
/*
 * Channels, life cycle: create, open by name or descriptor, close; the peer table (attach,
 * detach, who is alive); the channel's audit records; statistics.
 *
 * The region comes from the public shared memory API (mc_shared_open(), or mc_mmap() of a
 * received descriptor), so policy, quota and the region's own audit records are the context's
 * choke point's; this file adds the records of the channel itself through mc_ctx_audit_event():
 * channel_open, channel_close, channel_peer_gone.
 *
 * Sections: helpers, the header, the peer table, audit, create and open, close, small calls.
 */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "channel-def.h"
#include "ctx-def.h"

/* ---- helpers -------------------------------------------------------------------------------- */

const char *mc__chan_label(const struct mc__chan *c) {
        return c->name[0] ? c->name : "(anonymous)";
}

const char *mc_channel_role_name(mc_channel_role role) {
        switch (role) {
        case MC_CHANNEL_NONE:
                return "none";
        case MC_CHANNEL_PRODUCER:
                return "producer";
        case MC_CHANNEL_CONSUMER:
                return "consumer";
        }
        return NULL;
}

static bool is_pow2(uint64_t x) {
        return x && !(x & (x - 1));
}

static uint64_t rec_span(uint64_t len) {
        return MC_CHANNEL_MESSAGE_OVERHEAD + ((len + 7) & ~UINT64_C(7));
}

int mc__chan_break(struct mc__chan *c, mc_error *err, const char *fmt, ...) {
        va_list ap;
        int n;

        c->broken = true;
        c->broken_err.kind = MC_ERR_IO;
        c->broken_err.sys_errno = EBADMSG;
        n = snprintf(c->broken_err.message, sizeof(c->broken_err.message),
                     "channel %s is corrupt: ", mc__chan_label(c));
        va_start(ap, fmt);
        if (n > 0 && (size_t) n < sizeof(c->broken_err.message))
                vsnprintf(c->broken_err.message + n, sizeof(c->broken_err.message) - (size_t) n,
                          fmt, ap);
        va_end(ap);
        mc__error_copy(err, &c->broken_err);
        return -EBADMSG;
}

/* ---- the header ----------------------------------------------------------------------------- */

/* Check the region's first line against its mapped length @len and keep a copy in @c. */
static int check_header(struct mc__chan *c, size_t len, mc_error *err) {
        const struct mc__chan_shared *sh = c->sh;
        const char *l = mc__chan_label(c);
        uint64_t magic;

        if (len < MC_CHANNEL_HEADER_SIZE + MC_CHANNEL_MIN_CAPACITY)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel %s: the region has %zu bytes, too few for a channel "
                                     "(at least %d)",
                                     l, len, MC_CHANNEL_HEADER_SIZE + MC_CHANNEL_MIN_CAPACITY);
        magic = atomic_load_explicit(&((struct mc__chan_shared *) sh)->magic, memory_order_acquire);
        if (magic != MC__CHAN_MAGIC)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel %s: the region is not a channel (%s)", l,
                                     magic == 0 ? "no channel header; or its creator has not "
                                                  "finished creating it"
                                                : "bad magic");
        if (sh->version != MC__CHAN_VERSION)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel %s: channel version %" PRIu32 "; this library reads "
                                     "version %d",
                                     l, sh->version, MC__CHAN_VERSION);
        /* Read every field once: the peer may change them while we look. */
        uint32_t header_size = sh->header_size, max_message = sh->max_message;
        uint32_t flags = sh->flags, max_producers = sh->max_producers;
        uint64_t region_size = sh->region_size, capacity = sh->capacity;

        if (header_size != MC_CHANNEL_HEADER_SIZE || !is_pow2(capacity) ||
            capacity < MC_CHANNEL_MIN_CAPACITY || capacity > MC_CHANNEL_MAX_CAPACITY ||
            region_size != header_size + capacity)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel %s: inconsistent sizes in the header (header %" PRIu32
                                     ", ring %" PRIu64 ", region %" PRIu64 ")",
                                     l, header_size, capacity, region_size);
        if (region_size != len)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel %s: the region has %zu bytes but its header says "
                                     "%" PRIu64 " (truncated, or not this channel's region)",
                                     l, len, region_size);
        if (max_message == 0 || rec_span(max_message) > capacity / 2)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel %s: maximum message of %" PRIu32 " bytes does not "
                                     "fit its ring of %" PRIu64,
                                     l, max_message, capacity);
        if ((flags & ~(uint32_t) MC__CHAN_FLAGS_KNOWN) ||
            (flags & MC_CHANNEL_MULTI_PRODUCER
                     ? max_producers < 1 || max_producers > MC_CHANNEL_MAX_PRODUCERS
                     : max_producers != 1))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel %s: unknown flags 0x%" PRIx32 " or %" PRIu32
                                     " producer slots",
                                     l, flags, max_producers);
        c->capacity = capacity;
        c->mask = capacity - 1;
        c->max_message = max_message;
        c->flags = flags;
        c->max_producers = max_producers;
        c->ring = (uint8_t *) c->sh + MC_CHANNEL_HEADER_SIZE;
        return 0;
}

/* ---- the peer table ------------------------------------------------------------------------- */

#define WORD_PID_MASK      UINT64_C(0x7fffffff)
#define WORD_START_UNKNOWN (UINT64_C(1) << 31)

/* This process's entry in the peer table: pid and the low half of its start time. */
static uint64_t self_word(pid_t pid) {
        uint64_t start;

        if (mc__proc_stat(/* pid= */ 0, NULL, &start) < 0)
                return WORD_START_UNKNOWN | (uint64_t) pid;
        return (start & UINT64_C(0xffffffff)) << 32 | (uint64_t) pid;
}

static pid_t word_pid(uint64_t w) {
        return (pid_t) (w & WORD_PID_MASK);
}

bool mc__chan_peer_alive(const struct mc__chan *c, uint64_t w) {
        pid_t pid = word_pid(w);
        uint64_t start;
        char state;
        int r;

        /* A hostile peer can write anything here: only a real pid can be judged. */
        if (pid <= 0)
                return false;
        if (pid == mc__ctx_pid(c->ctx))
                return true;
        r = mc__proc_stat(pid, &state, &start);
        if (r == 0) {
                if (state == 'Z' || state == 'X')
                        return false; /* exited; not reaped yet */
                return (w & WORD_START_UNKNOWN) ||
                       (start & UINT64_C(0xffffffff)) == (w >> 32); /* else a recycled pid */
        }
        if (r == -ENOENT || r == -ESRCH) {
                /* /proc mounted with hidepid hides other users' processes: ask the kernel. */
                if (mc_sys.kill(pid, 0) < 0 && errno == ESRCH)
                        return false;
        }
        return true; /* cannot tell: never declare a live peer dead */
}

static void audit_peer_gone(struct mc__chan *c, mc_channel_role role, pid_t pid, int slot);

/* Remove the dead end @w from @word; the one process whose compare-exchange wins audits it. */
static bool reclaim(struct mc__chan *c, _Atomic uint64_t *word, uint64_t w, mc_channel_role role,
                    int slot) {
        if (!atomic_compare_exchange_strong(word, &w, 0))
                return false;

        atomic_fetch_add_explicit(&c->sh->peers_gone, 1, memory_order_relaxed);
        audit_peer_gone(c, role, word_pid(w), slot);
        return true;
}

void mc__chan_check_peers(struct mc__chan *c) {
        struct mc__chan_shared *sh = c->sh;

        if (c->role == MC_CHANNEL_CONSUMER) {
                for (uint32_t s = 0; s < c->max_producers; s++) {
                        uint64_t w = atomic_load(&sh->producers[s]);
                        if (w && !mc__chan_peer_alive(c, w))
                                reclaim(c, &sh->producers[s], w, MC_CHANNEL_PRODUCER, (int) s);
                }
        } else if (c->role == MC_CHANNEL_PRODUCER) {
                uint64_t w = atomic_load(&sh->consumer);
                if (w && !mc__chan_peer_alive(c, w))
                        reclaim(c, &sh->consumer, w, MC_CHANNEL_CONSUMER, -1);
        }
}

bool mc__chan_peer_gone(const struct mc__chan *c) {
        struct mc__chan_shared *sh = c->sh;

        if (c->role == MC_CHANNEL_CONSUMER) {
                if (atomic_load_explicit(&sh->producers_ever, memory_order_relaxed) == 0)
                        return false;
                for (uint32_t s = 0; s < c->max_producers; s++)
                        if (atomic_load(&sh->producers[s]))
                                return false;
                return true;
        }
        if (c->role == MC_CHANNEL_PRODUCER)
                return atomic_load_explicit(&sh->consumers_ever, memory_order_relaxed) > 0 &&
                       atomic_load(&sh->consumer) == 0;
        return false;
}

int mc__chan_peer_gone_error(const struct mc__chan *c, const char *op, mc_error *err) {
        if (c->role == MC_CHANNEL_CONSUMER)
                return mc__error_set(err, MC_ERR_PEER_GONE, EOWNERDEAD,
                                     "%s: channel %s is empty and has no producer any more (they "
                                     "closed it or died)",
                                     op, mc__chan_label(c));
        return mc__error_set(err, MC_ERR_PEER_GONE, EOWNERDEAD,
                             "%s: channel %s is full and its consumer is gone (it closed the "
                             "channel or died)",
                             op, mc__chan_label(c));
}

/* Read and validate the positions a new end starts from; a hostile region fails the open. */
static int load_positions(struct mc__chan *c, uint64_t *ret_head, uint64_t *ret_tail,
                          mc_error *err) {
        uint64_t head = atomic_load(&c->sh->head);
        uint64_t tail = atomic_load(&c->sh->tail);

        if ((head & 7) || (tail & 7) || tail - head > c->capacity)
                return mc__error_set(err, MC_ERR_IO, EBADMSG,
                                     "channel %s is corrupt: positions head %" PRIu64
                                     " and tail %" PRIu64 " do not fit a ring of %" PRIu64,
                                     mc__chan_label(c), head, tail, c->capacity);
        *ret_head = head;
        *ret_tail = tail;
        return 0;
}

static int attach(struct mc__chan *c, mc_channel_role role, mc_error *err) {
        struct mc__chan_shared *sh = c->sh;
        uint64_t me = self_word(c->pid), w, head, tail;
        int r;

        c->role = role;
        if (role == MC_CHANNEL_NONE)
                return 0;
        if (role == MC_CHANNEL_CONSUMER) {
                for (;;) {
                        w = 0;
                        if (atomic_compare_exchange_strong(&sh->consumer, &w, me))
                                break;
                        if (mc__chan_peer_alive(c, w))
                                return mc__error_set(err, MC_ERR_ALREADY_EXISTS, EEXIST,
                                                     "channel %s already has a consumer (pid %d)",
                                                     mc__chan_label(c), (int) word_pid(w));
                        reclaim(c, &sh->consumer, w, MC_CHANNEL_CONSUMER, -1);
                }
                c->self_word = me;
                atomic_fetch_add(&sh->consumers_ever, 1);
                r = load_positions(c, &head, &tail, err);
                if (r < 0)
                        return r;
                c->head = head;
                c->head_pub = head;
                c->tail_cache = head;
                return 0;
        }
        for (uint32_t s = 0; s < c->max_producers; s++) {
                w = atomic_load(&sh->producers[s]);
                if (w && mc__chan_peer_alive(c, w))
                        continue;
                if (w && !reclaim(c, &sh->producers[s], w, MC_CHANNEL_PRODUCER, (int) s))
                        continue;
                w = 0;
                if (!atomic_compare_exchange_strong(&sh->producers[s], &w, me))
                        continue;
                c->slot = (int) s;
                break;
        }
        if (c->slot < 0) {
                w = atomic_load(&sh->producers[0]);
                if (c->max_producers == 1)
                        return mc__error_set(err, MC_ERR_ALREADY_EXISTS, EEXIST,
                                             "channel %s already has its producer (pid %d); "
                                             "create it with MC_CHANNEL_MULTI_PRODUCER for more",
                                             mc__chan_label(c), (int) word_pid(w));
                return mc__error_set(err, MC_ERR_ALREADY_EXISTS, EEXIST,
                                     "channel %s: all %" PRIu32 " producer slots are taken",
                                     mc__chan_label(c), c->max_producers);
        }
        c->self_word = me;
        c->gen = (atomic_fetch_add(&sh->producer_gen[c->slot], 1) + 1) & 0xffff;
        atomic_fetch_add(&sh->producers_ever, 1);
        /* Producers of a multi-producer channel read the positions under the lock, each time. */
        if (c->flags & MC_CHANNEL_MULTI_PRODUCER)
                return 0;
        /* The single producer owns tail from here: it stands still while we read both. */
        r = load_positions(c, &head, &tail, err);
        if (r < 0)
                return r;
        c->tail = tail;
        c->head_cache = head;
        return 0;
}

/* Leave the peer table and wake the other side, so that it sees us gone at once. */
static void detach(struct mc__chan *c) {
        struct mc__chan_shared *sh = c->sh;
        uint64_t w = c->self_word;

        if (!w)
                return;
        c->self_word = 0;
        if (c->role == MC_CHANNEL_CONSUMER) {
                (void) atomic_compare_exchange_strong(&sh->consumer, &w, 0);
                mc__doorbell_ring_slow(c, &sh->space, c->send_event);
        } else {
                (void) atomic_compare_exchange_strong(&sh->producers[c->slot], &w, 0);
                mc__doorbell_ring_slow(c, &sh->data, c->recv_event);
        }
}

/* ---- audit ---------------------------------------------------------------------------------- */

/*
 * One record of the channel's own (the region's open and close have theirs from the choke
 * point). Built only when the context has a sink; a record that cannot be built for lack of
 * memory is still written, without its fields.
 */
static void audit_event(mc_ctx *ctx, const char *event, json_t *fields) {
        char *text = NULL;

        if (fields)
                text = json_dumps(fields, JSON_COMPACT);
        (void) mc_ctx_audit_event(ctx, MC__CAP_MEMORY, event, text, NULL);
        free(text);
        json_decref(fields);
}

static bool audit_on(mc_ctx *ctx) {
        return atomic_load_explicit(&ctx->has_audit, memory_order_relaxed);
}

static json_t *fields_new(const struct mc__chan *c, mc_channel_role role) {
        return json_pack("{s:s?, s:s}", "channel", c->name[0] ? c->name : NULL, "role",
                         mc_channel_role_name(role));
}

static void audit_open(struct mc__chan *c, mc_channel_role role, bool created, int r,
                       const mc_error *e) {
        json_t *f;

        if (!audit_on(c->ctx))
                return;
        f = fields_new(c, role);
        if (f && c->capacity)
                (void) json_object_update_new(
                        f, json_pack("{s:b, s:I, s:I, s:I}", "multi_producer",
                                     (int) !!(c->flags & MC_CHANNEL_MULTI_PRODUCER), "capacity",
                                     (json_int_t) c->capacity, "max_message",
                                     (json_int_t) c->max_message, "max_producers",
                                     (json_int_t) c->max_producers));
        if (f)
                (void) json_object_set_new(f, "created", json_boolean(created));
        if (f && c->slot >= 0)
                (void) json_object_set_new(f, "slot", json_integer(c->slot));
        if (f && r < 0 && e)
                (void) json_object_update_new(
                        f, json_pack("{s:s, s:s, s:s, s:i, s:s}", "outcome", "error", "kind",
                                     mc_error_kind_name(e->kind), "code",
                                     mc_error_code(e->kind, MC_DOMAIN_MEMORY), "errno",
                                     e->sys_errno, "message", e->message));
        audit_event(c->ctx, "channel_open", f);
}

static void audit_close(struct mc__chan *c) {
        json_t *f;

        if (!audit_on(c->ctx))
                return;
        f = fields_new(c, c->role);
        if (f && c->slot >= 0)
                (void) json_object_set_new(f, "slot", json_integer(c->slot));
        audit_event(c->ctx, "channel_close", f);
}

static void audit_peer_gone(struct mc__chan *c, mc_channel_role role, pid_t pid, int slot) {
        json_t *f;

        if (!audit_on(c->ctx))
                return;
        f = json_pack("{s:s?, s:s, s:s, s:i, s:s, s:s, s:s}", "channel",
                      c->name[0] ? c->name : NULL, "role", mc_channel_role_name(c->role),
                      "peer_role", mc_channel_role_name(role), "peer_pid", (int) pid, "outcome",
                      "error", "kind", mc_error_kind_name(MC_ERR_PEER_GONE), "code",
                      mc_error_code(MC_ERR_PEER_GONE, MC_DOMAIN_MEMORY));
        if (f && slot >= 0)
                (void) json_object_set_new(f, "peer_slot", json_integer(slot));
        audit_event(c->ctx, "channel_peer_gone", f);
}

/* ---- create and open ------------------------------------------------------------------------ */

static struct mc__chan *chan_new(mc_ctx *ctx) {
        struct mc__chan *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->ctx = ctx;
        c->pid = mc__ctx_pid(ctx);
        c->slot = -1;
        c->recv_event = -EBADF;
        c->send_event = -EBADF;
        c->region_fd = -EBADF;
        c->shm.fd = -1;
        c->region_kind = -1;
        mc__chan_spin_init(c, mc__chan_default_spin_us());
        return c;
}

/* Unmap the region and free the handle; for a failed open, @unlink removes what it created. */
static void chan_free(struct mc__chan *c, bool unlink) {
        if (!c)
                return;
        if (c->region_kind == MC__REGION_SHARED) {
                if (unlink && c->name[0])
                        (void) mc_shared_unlink(c->ctx, c->name, NULL);
                (void) mc_shared_close(c->ctx, &c->shm, NULL);
        } else if (c->region_kind == MC__REGION_MAPPED) {
                (void) mc_munmap(c->ctx, &c->map, NULL);
        }
        safe_close(c->region_fd);
        safe_close(c->recv_event);
        safe_close(c->send_event);
        free(c);
}

static int name_copy(struct mc__chan *c, const char *name, mc_error *err) {
        const char *why = NULL;

        if (!mc_shared_name_valid(name, &why))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel '%.64s': invalid name: %s", name, why);
        snprintf(c->name, sizeof(c->name), "/%s", name[0] == '/' ? name + 1 : name);
        return 0;
}

/* What every opening call checks first: its pointers (@given; @what names them) and the role. */
static int open_check(const char *op, bool given, const char *what, mc_channel_role role,
                      mc_error *err) {
        if (!given)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: %s must not be NULL", op, what);
        if (!mc_channel_role_name(role))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "%s: unknown role %d",
                                     op, (int) role);
        return 0;
}

/* The checked sizes of a new channel: *@ret_capacity and *@ret_producers. */
static int check_options(const mc_channel_options *o, const char *name, uint64_t *ret_capacity,
                         uint32_t *ret_producers, mc_error *err) {
        uint64_t cap = o->capacity, span;

        if (o->max_message == 0 || o->max_message > MC_CHANNEL_MAX_CAPACITY / 2)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_create: max_message %zu is out of range (1..%zu)",
                                     o->max_message, MC_CHANNEL_MAX_CAPACITY / 2 - 8);
        span = rec_span(o->max_message);
        if (cap == 0) {
                cap = 65536;
                while (cap < 4 * span && cap < MC_CHANNEL_MAX_CAPACITY)
                        cap <<= 1;
        } else if (!is_pow2(cap) || cap < MC_CHANNEL_MIN_CAPACITY ||
                   cap > MC_CHANNEL_MAX_CAPACITY) {
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_create: capacity %zu is not a power of two between "
                                     "%d and %zu",
                                     o->capacity, MC_CHANNEL_MIN_CAPACITY, MC_CHANNEL_MAX_CAPACITY);
        }
        if (span > cap / 2)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_create: a message of max_message %zu bytes takes "
                                     "%" PRIu64 " bytes of ring, more than half the capacity of "
                                     "%" PRIu64 "; raise the capacity or lower max_message",
                                     o->max_message, span, cap);
        if (o->flags & ~(unsigned) MC__CHAN_FLAGS_KNOWN)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_create: unknown flags 0x%x", o->flags);
        if ((o->flags & MC_CHANNEL_EVENTFD) && name)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "channel_create '%.64s': MC_CHANNEL_EVENTFD needs an "
                                     "anonymous channel (event descriptors cannot be opened by "
                                     "name)",
                                     name);
        if (o->flags & MC_CHANNEL_MULTI_PRODUCER) {
                if (o->max_producers > MC_CHANNEL_MAX_PRODUCERS)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "channel_create: max_producers %u is above %d",
                                             o->max_producers, MC_CHANNEL_MAX_PRODUCERS);
                *ret_producers = o->max_producers ? o->max_producers : MC_CHANNEL_MAX_PRODUCERS;
        } else {
                if (o->max_producers > 1)
                        return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                             "channel_create: max_producers %u needs "
                                             "MC_CHANNEL_MULTI_PRODUCER",
                                             o->max_producers);
                *ret_producers = 1;
        }
        if (o->mode & ~0777u)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_create: mode 0%o has bits beyond 0777", o->mode);
        *ret_capacity = cap;
        return 0;
}

static int make_eventfds(struct mc__chan *c, mc_error *err) {
        c->recv_event = mc_sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->recv_event < 0)
                return mc__error_errno(err, errno, "channel_create: eventfd");
        c->send_event = mc_sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (c->send_event < 0)
                return mc__error_errno(err, errno, "channel_create: eventfd");
        return 0;
}

/* Attach, audit the open (also a failed one, once the region exists) and hand the handle out. */
static int finish_open(struct mc__chan *c, mc_channel_role role, bool created, mc_channel *ret,
                       mc_error *err) {
        MC__ERROR_LOCAL(e);
        int r;

        r = attach(c, role, &e);
        audit_open(c, role, created, r, &e);
        if (r < 0) {
                detach(c);
                mc__error_copy(err, &e);
                chan_free(c, created);
                return r;
        }
        ret->impl = c;
        return 0;
}

/*
 * A new channel object on the shared memory @req opens (by @name, or anonymous for NULL): what
 * creating and opening by name both start with. On failure nothing is left behind.
 */
static int chan_new_shared(const char *op, mc_ctx *ctx, const char *name, mc_shared_request *req,
                           struct mc__chan **ret, mc_error *err) {
        struct mc__chan *c = chan_new(ctx);
        int r;

        if (!c)
                return mc__error_errno(err, ENOMEM, "%s", op);
        r = name ? name_copy(c, name, err) : 0;
        if (r < 0) {
                chan_free(c, false);
                return r;
        }
        req->name = name ? c->name : NULL;
        r = mc_shared_open(ctx, req, &c->shm, err);
        if (r < 0) {
                chan_free(c, false);
                return r;
        }
        c->region_kind = MC__REGION_SHARED;
        c->sh = c->shm.region.ptr;
        *ret = c;
        return 0;
}

int mc_channel_create(mc_ctx *ctx, const char *name, const mc_channel_options *opts,
                      mc_channel_role role, mc_channel *ret, mc_error *err) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        struct mc__chan_shared *sh;
        struct mc__chan *c = NULL;
        uint64_t cap = 0;
        uint32_t producers = 0;
        int r;

        r = open_check("channel_create", ctx && opts && ret, "context, options and ret", role, err);
        if (r < 0)
                return r;
        r = check_options(opts, name, &cap, &producers, err);
        if (r < 0)
                return r;
        req.size = MC_CHANNEL_HEADER_SIZE + cap;
        req.create = true;
        req.prot = MC_PROT_READ_WRITE;
        req.mode = opts->mode;
        /* Nobody may shrink the region under a mapping (SIGBUS) nor add seals that would stop
         * the next end from mapping it writable. */
        req.seals = name ? 0 : MC_SEAL_SHRINK | MC_SEAL_GROW | MC_SEAL_SEAL;
        r = chan_new_shared("channel_create", ctx, name, &req, &c, err);
        if (r < 0)
                return r;
        sh = c->sh;
        if (opts->flags & MC_CHANNEL_EVENTFD) {
                r = make_eventfds(c, err);
                if (r < 0) {
                        chan_free(c, true);
                        return r;
                }
        }
        /* A new object reads as zeros: only the first line needs writing, the magic last. */
        sh->version = MC__CHAN_VERSION;
        sh->header_size = MC_CHANNEL_HEADER_SIZE;
        sh->region_size = MC_CHANNEL_HEADER_SIZE + cap;
        sh->capacity = cap;
        sh->max_message = (uint32_t) opts->max_message;
        sh->flags = opts->flags;
        sh->max_producers = producers;
        sh->creator_pid = (uint32_t) c->pid;
        atomic_store_explicit(&sh->magic, MC__CHAN_MAGIC, memory_order_release);
        r = check_header(c, c->shm.region.len, err);
        assert(r == 0);
        return finish_open(c, role, /* created= */ true, ret, err);
}

int mc_channel_open(mc_ctx *ctx, const char *name, mc_channel_role role, mc_channel *ret,
                    mc_error *err) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        struct mc__chan *c = NULL;
        int r;

        r = open_check("channel_open", ctx && name && ret, "context, name and ret", role, err);
        if (r < 0)
                return r;
        req.prot = role == MC_CHANNEL_NONE ? MC_PROT_READ : MC_PROT_READ_WRITE;
        r = chan_new_shared("channel_open", ctx, name, &req, &c, err);
        if (r < 0)
                return r;
        r = check_header(c, c->shm.region.len, err);
        if (r >= 0 && (c->flags & MC_CHANNEL_EVENTFD))
                r = mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                  "channel %s uses event descriptors, which do not travel by "
                                  "name; open it with mc_channel_open_fd()",
                                  c->name);
        if (r < 0) {
                audit_open(c, role, false, r, err);
                chan_free(c, false);
                return r;
        }
        return finish_open(c, role, /* created= */ false, ret, err);
}

/* Whether @fd is an eventfd (its fdinfo has an eventfd-count). */
static bool is_eventfd(int fd) {
        char path[64], buf[512];

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
        return mc__proc_read(path, buf, sizeof(buf)) > 0 && strstr(buf, "eventfd-count:") != NULL;
}

/* A duplicate of the eventfd @fd, non-blocking, so a write never blocks on a full counter. */
static int dup_eventfd(int fd, const char *what, int *ret, mc_error *err) {
        int d, fl;

        if (fd < 0 || !is_eventfd(fd))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_open_fd: the channel uses event descriptors and "
                                     "%s (%d) is not an eventfd",
                                     what, fd);
        d = mc_sys.dupfd(fd, 3);
        if (d < 0)
                return mc__error_errno(err, errno, "channel_open_fd: duplicating %s", what);
        *ret = d;
        fl = mc_sys.getfl(d);
        if (fl < 0 || mc_sys.setfl(d, fl | O_NONBLOCK) < 0)
                return mc__error_errno(err, errno, "channel_open_fd: %s: O_NONBLOCK", what);
        return 0;
}

/* The region descriptor must be a memfd nobody can shrink (SIGBUS) and we can map. */
static int check_region_fd(int fd, mc_channel_role role, struct stat *st, mc_error *err) {
        int seals;

        if (mc_sys.fstat(fd, st) < 0)
                return mc__error_errno(err, errno, "channel_open_fd: fstat of descriptor %d", fd);
        if (!S_ISREG(st->st_mode))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_open_fd: descriptor %d is not a memfd (not even a "
                                     "regular file)",
                                     fd);
        seals = mc_sys.get_seals(fd);
        if (seals < 0 && errno == EINVAL)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_open_fd: descriptor %d is not a memfd (open a named "
                                     "channel by its name)",
                                     fd);
        if (seals < 0)
                return mc__error_errno(err, errno, "channel_open_fd: F_GET_SEALS of %d", fd);
        if (!(seals & F_SEAL_SHRINK))
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_open_fd: the memfd %d is not sealed against "
                                     "shrinking, so its owner could make the region raise SIGBUS",
                                     fd);
        if (role != MC_CHANNEL_NONE && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
                return mc__error_set(err, MC_ERR_PERMISSION_DENIED, EPERM,
                                     "channel_open_fd: the memfd %d is sealed against writing; a "
                                     "%s cannot use it",
                                     fd, mc_channel_role_name(role));
        if ((uint64_t) st->st_size > MC_CHANNEL_HEADER_SIZE + (uint64_t) MC_CHANNEL_MAX_CAPACITY)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_open_fd: the memfd %d has %" PRIu64 " bytes, more "
                                     "than any channel",
                                     fd, (uint64_t) st->st_size);
        return 0;
}

int mc_channel_open_fd(mc_ctx *ctx, const mc_channel_fds *fds, mc_channel_role role,
                       mc_channel *ret, mc_error *err) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        struct mc__chan *c = NULL;
        struct stat st;
        bool events;
        int r;

        r = open_check("channel_open_fd", ctx && fds && ret, "context, descriptors and ret", role,
                       err);
        if (r < 0)
                return r;
        if (fds->region < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "channel_open_fd: no region descriptor (%d)", fds->region);
        r = check_region_fd(fds->region, role, &st, err);
        if (r < 0)
                return r;
        c = chan_new(ctx);
        if (!c)
                return mc__error_errno(err, ENOMEM, "channel_open_fd");
        c->region_fd = mc_sys.dupfd(fds->region, 3);
        if (c->region_fd < 0) {
                r = mc__error_errno(err, errno, "channel_open_fd: duplicating descriptor %d",
                                    fds->region);
                chan_free(c, false);
                return r;
        }
        req.fd = c->region_fd;
        req.length = (size_t) st.st_size;
        req.prot = role == MC_CHANNEL_NONE ? MC_PROT_READ : MC_PROT_READ_WRITE;
        req.flags = MC_MAP_SHARED;
        r = mc_mmap(ctx, &req, &c->map, err);
        if (r < 0) {
                chan_free(c, false);
                return r;
        }
        c->region_kind = MC__REGION_MAPPED;
        c->sh = c->map.ptr;
        r = check_header(c, c->map.len, err);
        events = r >= 0 && (c->flags & MC_CHANNEL_EVENTFD);
        if (events) {
                r = dup_eventfd(fds->recv_event, "recv_event", &c->recv_event, err);
                if (r >= 0)
                        r = dup_eventfd(fds->send_event, "send_event", &c->send_event, err);
        } else if (r >= 0 && (fds->recv_event >= 0 || fds->send_event >= 0)) {
                r = mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "channel_open_fd: event descriptors given for a channel made "
                                  "without MC_CHANNEL_EVENTFD");
        }
        if (r < 0) {
                audit_open(c, role, false, r, err);
                chan_free(c, false);
                return r;
        }
        return finish_open(c, role, /* created= */ false, ret, err);
}

/* ---- close ---------------------------------------------------------------------------------- */

int mc_channel_close(mc_channel *ch, mc_error *err) {
        struct mc__chan *c = NULL;

        if (!ch)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_close: the channel must not be NULL");
        c = ch->impl;
        if (!c)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "channel_close: the channel is not open (closed already?)");
        ch->impl = NULL;
        /* An end inherited through fork() is the parent's: leave its slot alone. */
        if (c->pid == mc__ctx_pid(c->ctx)) {
                if (c->resv)
                        mc__chan_cancel_reservation(c);
                if (c->role == MC_CHANNEL_CONSUMER && !c->broken)
                        mc__chan_publish_head(c);
                detach(c);
                audit_close(c);
        }
        chan_free(c, false);
        return 0;
}

/* ---- small calls ---------------------------------------------------------------------------- */

/* The checks of a call that reads an open channel @c into @ret: @ret given first, then @c open. */
static int query_check(const char *op, const struct mc__chan *c, const void *ret, mc_error *err) {
        if (!ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: ret must not be NULL", op);
        if (!c)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "%s: the channel is not open", op);
        return 0;
}

int mc_channel_get_fds(const mc_channel *ch, mc_channel_fds *ret, mc_error *err) {
        const struct mc__chan *c = ch ? ch->impl : NULL;
        int r;

        r = query_check("channel_fds", c, ret, err);
        if (r < 0)
                return r;
        ret->region = c->region_kind == MC__REGION_SHARED ? c->shm.fd : c->region_fd;
        ret->recv_event = c->recv_event >= 0 ? c->recv_event : -1;
        ret->send_event = c->send_event >= 0 ? c->send_event : -1;
        return 0;
}

int mc_channel_set_spin(mc_channel *ch, unsigned spin_us, mc_error *err) {
        if (!ch || !ch->impl)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "channel_set_spin: the channel is not open");
        if (spin_us > 1000000)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_set_spin: %u us is more than a second", spin_us);
        mc__chan_spin_init(ch->impl, spin_us);
        return 0;
}

int mc_channel_fd(mc_channel *ch, int *ret_fd, mc_error *err) {
        struct mc__chan *c = ch ? ch->impl : NULL;
        int fd;

        if (!c || !ret_fd)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, c ? EINVAL : EBADF,
                                     "channel_fd: %s",
                                     c ? "ret_fd must not be NULL" : "the channel is not open");
        if (c->role == MC_CHANNEL_NONE)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "channel_fd: channel %s: this handle is neither end",
                                     mc__chan_label(c));
        if (c->recv_event < 0)
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "channel_fd: channel %s was created without "
                                     "MC_CHANNEL_EVENTFD",
                                     mc__chan_label(c));
        /* One descriptor for every producer: the one that drains it would take the others'
         * wakeup. */
        if (c->role == MC_CHANNEL_PRODUCER && (c->flags & MC_CHANNEL_MULTI_PRODUCER))
                return mc__error_set(err, MC_ERR_UNSUPPORTED, EOPNOTSUPP,
                                     "channel_fd: channel %s has several producers, which would "
                                     "share one descriptor; producers wait with a timeout instead",
                                     mc__chan_label(c));
        fd = c->role == MC_CHANNEL_CONSUMER ? c->recv_event : c->send_event;
        if (!c->event_mode) {
                uint64_t one = 1;

                /* Readable at first, so the loop's first try call arms it; never a wait for a
                 * wakeup nobody was asked for. */
                c->event_mode = true;
                (void) mc_sys.write(fd, &one, sizeof(one));
        }
        *ret_fd = fd;
        return 0;
}

int mc_channel_stats(const mc_channel *ch, mc_channel_counts *ret, mc_error *err) {
        const struct mc__chan *c = ch ? ch->impl : NULL;
        struct mc__chan_shared *sh;
        mc_channel_counts s = {0};
        uint64_t head, tail;
        int r;

        r = query_check("channel_stats", c, ret, err);
        if (r < 0)
                return r;
        sh = c->sh;
        s.capacity = c->capacity;
        s.max_message = c->max_message;
        s.flags = c->flags;
        s.max_producers = c->max_producers;
        /*
         * Received before sent, head before tail: in an honest channel never more taken than
         * given. Both ends may move while we read: a head that stood still around the read of
         * tail gives a consistent depth; a channel that never holds still for a moment gets
         * the last try.
         */
        s.received = atomic_load_explicit(&sh->received, memory_order_relaxed);
        s.received_bytes = atomic_load_explicit(&sh->received_bytes, memory_order_relaxed);
        for (int i = 0; i < 100; i++) {
                head = atomic_load(&sh->head);
                tail = atomic_load(&sh->tail);
                if (atomic_load(&sh->head) == head)
                        break;
        }
        s.sent = atomic_load_explicit(&sh->sent, memory_order_relaxed);
        s.sent_bytes = atomic_load_explicit(&sh->sent_bytes, memory_order_relaxed);
        if ((head & 7) || (tail & 7) || tail - head > c->capacity)
                return mc__error_set(err, MC_ERR_IO, EBADMSG,
                                     "channel_stats: channel %s is corrupt: positions head "
                                     "%" PRIu64 " and tail %" PRIu64 " do not fit a ring of "
                                     "%" PRIu64,
                                     mc__chan_label(c), head, tail, c->capacity);
        s.depth_bytes = tail - head;
        s.send_waits = atomic_load_explicit(&sh->send_waits, memory_order_relaxed);
        s.recv_waits = atomic_load_explicit(&sh->recv_waits, memory_order_relaxed);
        s.wakeups = atomic_load_explicit(&sh->wakeups, memory_order_relaxed);
        s.abandoned = atomic_load_explicit(&sh->abandoned, memory_order_relaxed);
        s.peers_gone = atomic_load_explicit(&sh->peers_gone, memory_order_relaxed);
        s.consumer_pid = word_pid(atomic_load(&sh->consumer));
        for (uint32_t i = 0; i < c->max_producers; i++) {
                uint64_t w = atomic_load(&sh->producers[i]);
                if (w)
                        s.producer_pids[s.producers++] = word_pid(w);
        }
        *ret = s;
        return 0;
}
