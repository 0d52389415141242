/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for a channel whose peer is hostile. The input is a program for a small
 * machine: it creates a channel (consumer and producer ends in this process, one of four
 * shapes), then alternates calls of both ends with writes of arbitrary bytes anywhere into the
 * shared region, the way a hostile peer would write them, between any two calls. All calls
 * use zero timeouts, so nothing waits.
 *
 * The region is mapped between two PROT_NONE pages (through the mc_sys seam) and its size is
 * a multiple of the page size, so any read or write outside it faults and the fuzzer reports
 * it. Promises checked on every call (a broken one traps): a message is at most max_message
 * and fits the caller's buffer; a peeked message and a reservation lie inside the ring; every
 * failure has a known kind, an errno and a message; a handle found corrupt stays so; opening
 * another end of a corrupted region fails cleanly or works.
 *
 * The reserve lock of multi-producer channels is not written: a lock held by no one alive is
 * taken over only after a peer-check interval (100 ms), which would make the fuzzer crawl
 * without testing anything the unit tests do not.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel-def.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define check(x)                                                                                   \
        do {                                                                                       \
                if (!(x))                                                                          \
                        __builtin_trap();                                                          \
        } while (0)

/* ---- guarded mappings ----------------------------------------------------------------------- */

static size_t page;

static void *guarded_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        uint8_t *base, *p;

        if (fd < 0 || addr || (len & (page - 1)))
                return mmap(addr, len, prot, flags, fd, off);
        base = mmap(NULL, len + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
                return MAP_FAILED;
        p = mmap(base + page, len, prot, flags | MAP_FIXED, fd, off);
        if (p == MAP_FAILED) {
                munmap(base, len + 2 * page);
                return MAP_FAILED;
        }
        return p;
}

static int guarded_munmap(void *addr, size_t len) {
        if (len & (page - 1))
                return munmap(addr, len);
        /* Whether or not guard pages surround it, unmapping them too is harmless: nothing
         * else of ours is ever placed in a guard page. */
        munmap((uint8_t *) addr - page, page);
        munmap((uint8_t *) addr + len, page);
        return munmap(addr, len);
}

/* ---- the machine ---------------------------------------------------------------------------- */

typedef struct input {
        const uint8_t *p;
        size_t n;
} input;

static bool take(input *in, void *out, size_t len) {
        if (in->n < len)
                return false;
        memcpy(out, in->p, len);
        in->p += len;
        in->n -= len;
        return true;
}

static void check_error(int r, const mc_error *e) {
        check(r < 0);
        check(e->kind > MC_OK && e->kind < _MC_ERROR_KIND_MAX);
        check(e->sys_errno > 0 && -r == e->sys_errno);
        check(e->message[0] != 0);
        check(memchr(e->message, 0, sizeof(e->message)) != NULL);
}

typedef struct world {
        mc_ctx *ctx;
        mc_channel cons, prod;
        uint8_t *region; /* the hostile peer's mapping */
        size_t region_size;
        uint64_t capacity;
        uint32_t max_message;
        bool cons_broken, prod_broken;
} world;

/* After any call: a corrupt handle stays corrupt. */
static void note(world *w, bool prod, int r, const mc_error *e) {
        bool *broken = prod ? &w->prod_broken : &w->cons_broken;

        if (r >= 0) {
                check(!*broken);
                return;
        }
        check_error(r, e);
        if (*broken)
                check(r == -EBADMSG);
        if (r == -EBADMSG) {
                check(e->kind == MC_ERR_IO);
                *broken = true;
        }
}

/* Whether [@p, @p + @len) lies in the ring as the end @ch maps it. */
static bool in_ring(const world *w, const mc_channel *ch, const void *p, size_t len) {
        const uint8_t *ring = ch->impl->ring;
        const uint8_t *q = p;

        return q >= ring && q <= ring + w->capacity && len <= (size_t) (ring + w->capacity - q);
}

/*
 * The hostile peer's write: 8 bytes anywhere in the region, or near where the ends are now
 * (a peer knows the positions: they are in the region), which is where a write hurts.
 */
static void poke(world *w, input *in, uint8_t how) {
        uint16_t off;
        uint64_t v, pos;

        if (!take(in, &off, 2) || !take(in, &v, 8))
                return;
        if (how == 0) {
                off = (uint16_t) ((off % w->region_size) & ~7u);
        } else {
                pos = how == 1 ? atomic_load(&((struct mc__chan_shared *) w->region)->head)
                               : atomic_load(&((struct mc__chan_shared *) w->region)->tail);
                pos += (uint64_t) (off & 0xff) * 8;
                off = (uint16_t) (MC_CHANNEL_HEADER_SIZE + (pos & (w->capacity - 1) & ~7u));
        }
        if (off == offsetof(struct mc__chan_shared, lock))
                return; /* see the top of the file */
        memcpy(w->region + off, &v, 8);
}

static void step(world *w, input *in, uint8_t op) {
        static uint8_t buf[1 << 16];
        mc_error e = MC_ERROR_INIT;
        uint16_t a = 0, b = 0;
        const void *d;
        size_t len;
        void *p;
        int r;

        (void) take(in, &a, 2);
        switch (op % 14) {
        case 0:
        case 1:
        case 12:
                poke(w, in, op % 14 == 12 ? 2 : op % 14);
                break;
        case 2:
                for (size_t i = 0; i < a % 512; i++)
                        buf[i] = (uint8_t) i;
                r = mc_channel_try_send(&w->prod, buf, a % (w->max_message + 2), &e);
                note(w, true, r, &e);
                break;
        case 3:
                r = mc_channel_try_recv(&w->cons, buf, a, &e);
                note(w, false, r, &e);
                if (r >= 0)
                        check((uint32_t) r <= w->max_message && (size_t) r <= a);
                break;
        case 4:
                r = mc_channel_peek(&w->cons, &d, &len, 0, &e);
                note(w, false, r, &e);
                if (r >= 0) {
                        check(len <= w->max_message && in_ring(w, &w->cons, d, len));
                        memcpy(buf, d, len); /* touch every byte: a guard page would fault */
                }
                break;
        case 5:
                r = mc_channel_release(&w->cons, &e);
                if (r < 0 && r != -EINVAL)
                        note(w, false, r, &e);
                break;
        case 6:
        case 7:
                r = mc_channel_reserve(&w->prod, a % (w->max_message + 1), &p, 0, &e);
                note(w, true, r, &e);
                if (r < 0)
                        break;
                check(in_ring(w, &w->prod, p, a % (w->max_message + 1)));
                memset(p, 0x5a, a % (w->max_message + 1));
                (void) take(in, &b, 2);
                if (op % 14 == 6)
                        r = mc_channel_commit(&w->prod, b % (a % (w->max_message + 1) + 1), &e);
                else
                        r = mc_channel_cancel(&w->prod, &e);
                check(r == 0);
                break;
        case 8: {
                mc_channel_counts s;

                r = mc_channel_stats(&w->cons, &s, &e);
                if (r < 0)
                        check_error(r, &e);
                else
                        check(s.producers <= MC_CHANNEL_MAX_PRODUCERS);
                break;
        }
        case 9:
        case 10: {
                /* Another end of the region as it is now: refused cleanly, or it works. */
                mc_channel other;
                mc_channel_fds fds;

                check(mc_channel_get_fds(&w->cons, &fds, NULL) == 0);
                r = mc_channel_open_fd(w->ctx, &fds, (mc_channel_role) (a % 3), &other, &e);
                if (r < 0) {
                        check_error(r, &e);
                        break;
                }
                if (a % 3 == MC_CHANNEL_CONSUMER) {
                        r = mc_channel_try_recv(&other, buf, sizeof(buf), &e);
                        if (r < 0)
                                check_error(r, &e);
                }
                check(mc_channel_close(&other, NULL) == 0);
                break;
        }
        case 13:
        case 11:
                /* A fresh consumer end: the old one leaves, a new one attaches. */
                check(mc_channel_close(&w->cons, NULL) == 0);
                w->cons_broken = false;
                r = mc_channel_open_fd(w->ctx, &(mc_channel_fds){w->prod.impl->region_fd, -1, -1},
                                       MC_CHANNEL_CONSUMER, &w->cons, &e);
                if (r < 0) {
                        check_error(r, &e);
                        /* Make a clean one again so the program can go on. */
                        r = mc_channel_open_fd(w->ctx,
                                               &(mc_channel_fds){w->prod.impl->region_fd, -1, -1},
                                               MC_CHANNEL_NONE, &w->cons, &e);
                        if (r < 0)
                                check_error(r, &e);
                        check(r == 0 || w->cons.impl == NULL);
                }
                break;
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        page = (size_t) sysconf(_SC_PAGESIZE);
        mc_sys.mmap = guarded_mmap;
        mc_sys.munmap = guarded_munmap;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        mc_channel_options o = MC_CHANNEL_OPTIONS_INIT;
        input in = {data, size};
        world w = {0};
        uint8_t shape = 0, op;
        mc_channel_fds fds;

        (void) take(&in, &shape, 1);
        /* Four shapes; every region is a whole number of pages. */
        o.capacity = shape & 1 ? 4096 : 8192;
        o.max_message = shape & 2 ? 64 : 1000;
        o.flags = shape & 4 ? MC_CHANNEL_MULTI_PRODUCER : 0;
        check(mc_ctx_new(&w.ctx, NULL) == 0);
        check(mc_channel_create(w.ctx, NULL, &o, MC_CHANNEL_CONSUMER, &w.cons, NULL) == 0);
        check(mc_channel_get_fds(&w.cons, &fds, NULL) == 0);
        check(mc_channel_open_fd(w.ctx, &fds, MC_CHANNEL_PRODUCER, &w.prod, NULL) == 0);
        mc_channel_set_spin(&w.cons, 0, NULL);
        mc_channel_set_spin(&w.prod, 0, NULL);
        /* The hostile peer's own mapping of the region. */
        w.region_size = MC_CHANNEL_HEADER_SIZE + o.capacity;
        w.region = mmap(NULL, w.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds.region, 0);
        check(w.region != MAP_FAILED);
        w.capacity = o.capacity;
        w.max_message = (uint32_t) o.max_message;
        for (int steps = 0; steps < 256 && take(&in, &op, 1); steps++) {
                step(&w, &in, op);
                if (!w.cons.impl)
                        break;
        }
        munmap(w.region, w.region_size);
        if (w.cons.impl)
                check(mc_channel_close(&w.cons, NULL) == 0);
        check(mc_channel_close(&w.prod, NULL) == 0);
        mc_ctx_free(w.ctx);
        return 0;
}
