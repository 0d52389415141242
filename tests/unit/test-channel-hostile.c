/* SPDX-License-Identifier: MIT */
/*
 * Channels against hostile regions and bad input; policy, quota and audit; failures forced
 * through the seam.
 */

#include "channel-suite.h"

/* ---- a hostile peer ----------------------------------------------------------------------- */

void expect_corrupt(int r, const mc_error *err) {
        cr_assert(eq(int, r, -EBADMSG), "%d: %s", r, err->message);
        cr_assert(eq(int, err->kind, MC_ERR_IO));
        cr_assert(not(eq(ptr, strstr(err->message, "corrupt"), NULL)), "%s", err->message);
}

Test(channel, hostile_tail_is_refused_and_breaks_the_handle) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[64];

        pair_open(ctx, 1024, 64, 0, &cons, &prod);
        send_ok(&prod, "ok", 2);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 2));
        atomic_store(&region_of(&cons)->tail, UINT64_C(1) << 40); /* far past the ring */
        expect_corrupt(mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), &err);
        atomic_store(&region_of(&cons)->tail, 16);
        expect_corrupt(mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), &err); /* sticky */
        pair_close(&cons, &prod);
}

Test(channel, hostile_record_lengths_are_refused) {
        static const uint64_t bad[] = {
                65,                   /* above max_message */
                UINT64_C(0xffffffff), /* far past the end */
                MC__REC_PAD | 2000,   /* a pad past the end of the ring */
                MC__REC_BUSY | 8,     /* reserved, in a single-producer channel */
                (UINT64_C(9) << MC__REC_SLOT_SHIFT) | 8, /* a producer slot that is not there */
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mc_ctx *own = ctx_new(); /* a context of its own for each case */
                mc_error err = MC_ERROR_INIT;
                mc_channel cons, prod;
                char buf[64];

                pair_open(own, 1024, 64, 0, &cons, &prod);
                send_ok(&prod, "0123456789", 10);
                /* Rewrite the committed record's header as a hostile producer would. */
                atomic_store((_Atomic uint64_t *) (void *) ((uint8_t *) region_of(&cons) +
                                                            MC_CHANNEL_HEADER_SIZE),
                             bad[i]);
                expect_corrupt(mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), &err);
                pair_close(&cons, &prod);
                mc_ctx_free(own);
        }
}

Test(channel, hostile_record_crossing_the_tail_is_refused) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        const void *d;
        size_t n;

        pair_open(ctx, 1024, 64, 0, &cons, &prod);
        send_ok(&prod, "0123456789", 10); /* a 24-byte record */
        atomic_store((_Atomic uint64_t *) (void *) ((uint8_t *) region_of(&cons) +
                                                    MC_CHANNEL_HEADER_SIZE),
                     40); /* says 48 bytes: runs past tail */
        expect_corrupt(mc_channel_peek(&cons, &d, &n, 0, &err), &err);
        pair_close(&cons, &prod);
}

Test(channel, hostile_head_is_refused_by_the_producer) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;

        for (int multi = 0; multi < 2; multi++) {
                pair_open(ctx, 1024, 64, multi ? MC_CHANNEL_MULTI_PRODUCER : 0, &cons, &prod);
                atomic_store(&region_of(&cons)->head, 3); /* not a record boundary */
                /* The producer looks at head only when its cached view says full. */
                for (int i = 0; i < 100; i++) {
                        int r = mc_channel_send(&prod, "0123456789abcdef", 16, 0, &err);

                        if (r < 0) {
                                expect_corrupt(r, &err);
                                break;
                        }
                        cr_assert(lt(int, i, 99), "never noticed");
                }
                pair_close(&cons, &prod);
        }
}

/* Open the channel @ch's region after @corrupt changed it; the open must fail with @kind. */
void open_corrupted(void (*corrupt)(struct mc__chan_shared *, int fd), mc_error_kind kind,
                    const char *needle) {
        mc_ctx *own = ctx_new(); /* a context of its own for each case */
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;
        mc_channel_fds fds;
        int r;

        create_anon(own, 1024, 64, 0, MC_CHANNEL_NONE, &owner);
        cr_assert(eq(int, mc_channel_get_fds(&owner, &fds, &err), 0));
        corrupt(region_of(&owner), fds.region);
        r = mc_channel_open_fd(own, &fds, MC_CHANNEL_CONSUMER, &ch, &err);
        cr_assert(lt(int, r, 0), "opened a corrupt channel");
        cr_assert(eq(int, err.kind, kind), "%s", err.message);
        cr_assert(not(eq(ptr, strstr(err.message, needle), NULL)), "%s", err.message);
        close_ok(&owner);
        mc_ctx_free(own);
}

void bad_magic(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        atomic_store(&sh->magic, UINT64_C(0x1234));
}

void no_magic(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        atomic_store(&sh->magic, 0);
}

void bad_version(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->version = 99;
}

void bad_capacity(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->capacity = 1000; /* not a power of two */
}

void bigger_region(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->capacity = 2048; /* the header's sizes agree, the region does not */
        sh->region_size = MC_CHANNEL_HEADER_SIZE + 2048;
}

void huge_message(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->max_message = 600; /* more than half the ring */
}

void bad_flags(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->flags = 0x80;
}

void bad_producers(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->max_producers = 5; /* a single-producer channel */
}

void bad_positions(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        atomic_store(&sh->tail, 4096);
}

Test(channel, corrupt_headers_are_refused_at_open) {
        open_corrupted(bad_magic, MC_ERR_INVALID_ARGUMENT, "bad magic");
        open_corrupted(no_magic, MC_ERR_INVALID_ARGUMENT, "not a channel");
        open_corrupted(bad_version, MC_ERR_INVALID_ARGUMENT, "version 99");
        open_corrupted(bad_capacity, MC_ERR_INVALID_ARGUMENT, "inconsistent sizes");
        open_corrupted(bigger_region, MC_ERR_INVALID_ARGUMENT, "header says");
        open_corrupted(huge_message, MC_ERR_INVALID_ARGUMENT, "does not fit");
        open_corrupted(bad_flags, MC_ERR_INVALID_ARGUMENT, "unknown flags");
        open_corrupted(bad_producers, MC_ERR_INVALID_ARGUMENT, "producer slots");
        open_corrupted(bad_positions, MC_ERR_IO, "corrupt");
}

void eventfd_flag(struct mc__chan_shared *sh, int fd) {
        (void) fd;
        sh->flags |= MC_CHANNEL_EVENTFD;
}

Test(channel, named_region_claiming_event_descriptors_is_refused) {
        const char *name = name_new("evflag");
        mc_channel_options o = opts_of(1024, 64, 0);
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;

        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_NONE, &owner, &err), 0));
        eventfd_flag(region_of(&owner), -1);
        cr_assert(eq(int, mc_channel_open(ctx, name, MC_CHANNEL_CONSUMER, &ch, &err), -EOPNOTSUPP));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        close_ok(&owner);
}

/* A memfd of @size with the first @copy bytes of @src, sealed with @seals. */
int memfd_like(const void *src, size_t copy, size_t size, int seals) {
        int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, (off_t) size), 0));
        cr_assert(eq(int, (int) pwrite(fd, src, copy, 0), (int) copy));
        if (seals)
                cr_assert(eq(int, fcntl(fd, F_ADD_SEALS, seals), 0));
        return fd;
}

Test(channel, open_fd_refuses_unsafe_descriptors) {
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;
        mc_channel_fds fds = MC_CHANNEL_FDS_INIT, good;
        const void *hdr;
        int fd, pipefd[2];

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_NONE, &owner);
        cr_assert(eq(int, mc_channel_get_fds(&owner, &good, &err), 0));
        hdr = region_of(&owner);

        /* Not sealed against shrinking: its owner could make us die of SIGBUS. */
        fds.region = memfd_like(hdr, MC_CHANNEL_HEADER_SIZE, MC_CHANNEL_HEADER_SIZE + 1024, 0);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "shrinking"), NULL)), "%s", err.message);
        close(fds.region);

        /* Truncated before it was sealed. */
        fds.region = memfd_like(hdr, MC_CHANNEL_HEADER_SIZE, MC_CHANNEL_HEADER_SIZE + 512,
                                F_SEAL_SHRINK | F_SEAL_GROW);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "truncated"), NULL)), "%s", err.message);
        close(fds.region);

        /* Too small to hold a header: nothing of it is read. */
        fds.region = memfd_like(hdr, 100, 100, F_SEAL_SHRINK);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        close(fds.region);

        /* Sealed against writing: no end can use it; an observer can. */
        fds.region = memfd_like(hdr, MC_CHANNEL_HEADER_SIZE, MC_CHANNEL_HEADER_SIZE + 1024,
                                F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &ch, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_NONE, &ch, &err), 0), "%s",
                  err.message);
        close_ok(&ch);
        close(fds.region);

        /* Not a memfd at all. */
        cr_assert(eq(int, pipe2(pipefd, O_CLOEXEC), 0));
        fds.region = pipefd[0];
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        close(pipefd[0]);
        close(pipefd[1]);
        fd = shm_open(name_new("notmemfd"), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        cr_assert(ge(int, fd, 0));
        cr_assert(eq(int, ftruncate(fd, MC_CHANNEL_HEADER_SIZE + 1024), 0));
        fds.region = fd;
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        close(fd);
        fds.region = -1;
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EBADF));

        /* The real one works, and a failed open left nothing attached. */
        cr_assert(eq(int, mc_channel_open_fd(ctx, &good, MC_CHANNEL_CONSUMER, &ch, &err), 0), "%s",
                  err.message);
        close_ok(&ch);
        close_ok(&owner);
}

Test(channel, named_object_that_is_not_a_channel) {
        mc_error err = MC_ERROR_INIT;
        const char *name = name_new("plain");
        mc_channel ch;
        mc_shared shm;
        mc_usage u;

        cr_assert(eq(int, mc_map_shared_buffer(ctx, name, 8192, &shm, &err), 0));
        cr_assert(eq(int, mc_channel_open(ctx, name, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "not a channel"), NULL)), "%s", err.message);
        cr_assert(eq(int, mc_shared_close(ctx, &shm, &err), 0));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0), "the failed open unmapped its region");
        cr_assert(eq(int,
                     mc_channel_open(ctx, "/memcap-test-chan-none", MC_CHANNEL_CONSUMER, &ch, &err),
                     -ENOENT));
}

/* ---- bad input ---------------------------------------------------------------------------- */

Test(channel, create_refuses_bad_options) {
        static const struct {
                size_t capacity, max_message;
                unsigned flags, max_producers, mode;
                const char *needle;
        } bad[] = {
                {1024, 0, 0, 0, 0, "max_message 0"},
                {1000, 64, 0, 0, 0, "power of two"},
                {32, 8, 0, 0, 0, "power of two"},
                {(size_t) 1 << 31, 64, 0, 0, 0, "power of two"},
                {1024, 600, 0, 0, 0, "more than half"},
                {0, SIZE_MAX, 0, 0, 0, "out of range"},
                {1024, 64, 0x100, 0, 0, "unknown flags"},
                {1024, 64, 0, 2, 0, "MULTI_PRODUCER"},
                {1024, 64, MC_CHANNEL_MULTI_PRODUCER, 65, 0, "above 64"},
                {1024, 64, 0, 0, 01000, "0777"},
        };
        mc_channel ch = {0};

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mc_channel_options o = opts_of(bad[i].capacity, bad[i].max_message, bad[i].flags);
                mc_error err = MC_ERROR_INIT;

                o.max_producers = bad[i].max_producers;
                o.mode = bad[i].mode;
                cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &ch, &err),
                             -EINVAL),
                          "case %zu", i);
                cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
                cr_assert(not(eq(ptr, strstr(err.message, bad[i].needle), NULL)), "case %zu: %s", i,
                          err.message);
                cr_assert(eq(ptr, ch.impl, NULL), "ret untouched");
        }
        {
                mc_channel_options o = opts_of(1024, 64, 0);
                mc_error err = MC_ERROR_INIT;

                cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 7, &ch, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(ctx, NULL, NULL, 0, &ch, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, NULL, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(NULL, NULL, &o, 0, &ch, &err), -EINVAL));
                cr_assert(eq(int, mc_channel_create(ctx, "a/b", &o, 0, &ch, &err), -EINVAL));
        }
        {
                mc_usage u;

                mc_ctx_get_usage(ctx, &u);
                cr_assert(eq(u64, u.mappings, 0));
        }
}

Test(channel, default_capacity_holds_four_messages) {
        mc_channel ch;
        mc_channel_counts s;

        create_anon(ctx, 0, 64, 0, MC_CHANNEL_NONE, &ch);
        cr_assert(eq(int, mc_channel_stats(&ch, &s, NULL), 0));
        cr_assert(eq(u64, s.capacity, 65536));
        close_ok(&ch);
        create_anon(ctx, 0, 100000, 0, MC_CHANNEL_NONE, &ch);
        cr_assert(eq(int, mc_channel_stats(&ch, &s, NULL), 0));
        cr_assert(eq(u64, s.capacity, 524288));
        close_ok(&ch);
}

Test(channel, double_close_and_use_after_close) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        mc_channel_counts s;
        mc_channel_fds fds;
        void *p;

        pair_open(ctx, 1024, 64, 0, &cons, &prod);
        cr_assert(eq(int, mc_channel_reserve(&prod, 10, &p, 0, &err), 0));
        close_ok(&prod); /* with a reservation pending */
        cr_assert(eq(int, mc_channel_close(&prod, &err), -EBADF));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(eq(int, mc_channel_send(&prod, "x", 1, 0, &err), -EBADF));
        cr_assert(eq(int, mc_channel_commit(&prod, 1, &err), -EBADF));
        cr_assert(eq(int, mc_channel_stats(&prod, &s, &err), -EBADF));
        cr_assert(eq(int, mc_channel_get_fds(&prod, &fds, &err), -EBADF));
        cr_assert(eq(int, mc_channel_set_spin(&prod, 1, &err), -EBADF));
        cr_assert(eq(int, mc_channel_fd(&prod, &(int){0}, &err), -EBADF));
        cr_assert(eq(int, mc_channel_close(NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_channel_recv(NULL, NULL, 0, 0, &err), -EINVAL));
        /* Roles: each call belongs to one end. */
        cr_assert(eq(int, mc_channel_send(&cons, "x", 1, 0, &err), -EINVAL));
        cr_assert(not(eq(ptr, strstr(err.message, "not the producer"), NULL)), "%s", err.message);
        cr_assert(eq(int, mc_channel_try_recv(&cons, &(char[8]){0}, 8, &err), -EOWNERDEAD));
        close_ok(&cons);
        cr_assert(eq(int, mc_channel_try_recv(&cons, &(char[8]){0}, 8, &err), -EBADF));
}

/* ---- policy, quota, audit ------------------------------------------------------------------ */

Test(channel, names_follow_allowed_shared_memory) {
        mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel_options o = opts_of(1024, 64, 0);
        mc_channel ch;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_policy_clear_shared_memory_patterns(p), 0));
        cr_assert(eq(int, mc_policy_add_shared_memory_pattern(p, "app-*", NULL), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
        cr_assert(eq(int, mc_channel_create(ctx, name_new("denied"), &o, 0, &ch, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(
                eq(int, mc_channel_open(ctx, tracked[0], MC_CHANNEL_CONSUMER, &ch, &err), -EPERM));
        /* Anonymous channels have no name to check. */
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, &ch, &err), 0), "%s", err.message);
        close_ok(&ch);
}

Test(channel, region_counts_against_the_quota) {
        mc_policy *p = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel_options o = opts_of(1 << 20, 64, 0);
        mc_channel ch;
        mc_usage u;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(int, mc_policy_set_max_memory_usage(p, 512 * 1024), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, &ch, &err), -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        o.capacity = 64 * 1024;
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, 0, &ch, &err), 0), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.charged_bytes, MC_CHANNEL_HEADER_SIZE + 64 * 1024));
        cr_assert(eq(u64, u.shared_objects, 1));
        close_ok(&ch);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.charged_bytes, 0));
}

void capture_cb(const mc_audit_record *rec, void *userdata) {
        capture *c = userdata;
        json_t *j;

        if (c->n >= 64)
                return;
        strscpy(c->ops[c->n], sizeof(c->ops[0]), rec->operation);
        j = json_loads(rec->json, 0, NULL);
        c->events[c->n] = j ? json_incref(json_object_get(j, "event")) : NULL;
        json_decref(j);
        c->n++;
}

int find_op(const capture *c, const char *op, int from) {
        for (int i = from; i < c->n; i++)
                if (streq(c->ops[i], op))
                        return i;
        return -1;
}

Test(channel, audit_records_open_close_and_peer_gone_not_messages) {
        capture cap = {0};
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        json_t *ev;
        pid_t pid;
        int i;

        cr_assert(eq(int, mc_audit_open_callback(capture_cb, &cap, &a, NULL), 0));
        mc_ctx_set_audit(ctx, a);
        pair_open(ctx, 1024, 64, 0, &cons, &prod);
        for (int k = 0; k < 20; k++) {
                send_ok(&prod, "m", 1);
                cr_assert(eq(int, mc_channel_recv(&cons, &(char[8]){0}, 8, 0, &err), 1));
        }
        close_ok(&prod);

        /* shm_open (the region), channel_open; mmap (the second end's view), channel_open;
         * then channel_close and munmap of the producer; nothing for the 40 message calls. */
        cr_assert(eq(int, cap.n, 6), "%d records", cap.n);
        cr_assert(eq(str, (char *) cap.ops[0], (char *) "shm_open"));
        cr_assert(eq(str, (char *) cap.ops[1], (char *) "channel_open"));
        ev = cap.events[1];
        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "role")),
                     (char *) "consumer"));
        cr_assert(eq(int, json_is_true(json_object_get(ev, "created")), 1));
        cr_assert(eq(i64, json_integer_value(json_object_get(ev, "capacity")), 1024));
        cr_assert(eq(int, json_is_null(json_object_get(ev, "channel")), 1));
        cr_assert(eq(str, (char *) cap.ops[2], (char *) "mmap"));
        cr_assert(eq(str, (char *) cap.ops[3], (char *) "channel_open"));
        cr_assert(eq(str, (char *) cap.ops[4], (char *) "channel_close"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(cap.events[4], "role")),
                     (char *) "producer"));
        cr_assert(eq(str, (char *) cap.ops[5], (char *) "munmap"));

        /* A producer that dies: one channel_peer_gone record from whoever notices. */
        pid = fork();
        if (pid == 0) {
                child_open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
                _exit(0); /* without closing */
        }
        child_ok(pid, 30);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[8]){0}, 8, MC_WAIT_FOREVER, &err),
                     -EOWNERDEAD));
        i = find_op(&cap, "channel_peer_gone", 6);
        cr_assert(ge(int, i, 0), "no channel_peer_gone record");
        ev = cap.events[i];
        cr_assert(eq(i64, json_integer_value(json_object_get(ev, "peer_pid")), pid));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "peer_role")),
                     (char *) "producer"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(ev, "kind")),
                     (char *) "PeerGone"));
        cr_assert(eq(int, find_op(&cap, "channel_peer_gone", i + 1), -1), "only one");
        close_ok(&cons);
        cr_assert(ge(int, find_op(&cap, "channel_close", i), 0));
        ctx = mc_ctx_free(ctx); /* before cap, which its audit sink writes to, goes */
        for (int k = 0; k < cap.n; k++)
                json_decref(cap.events[k]);
}

Test(channel, named_channel_opened_by_name) {
        const char *name = name_new("named");
        mc_channel_options o = opts_of(4096, 128, 0);
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod, obs;
        mc_channel_counts s;
        struct stat st;
        char path[300];

        o.mode = 0640;
        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_CONSUMER, &cons, &err), 0),
                  "%s", err.message);
        snprintf(path, sizeof(path), "/dev/shm%s", name);
        cr_assert(eq(int, stat(path, &st), 0));
        cr_assert(eq(int, (int) (st.st_mode & 0777), 0640));
        cr_assert(eq(int, mc_channel_create(ctx, name, &o, MC_CHANNEL_CONSUMER, &obs, &err),
                     -EEXIST));
        cr_assert(eq(int, mc_channel_open(ctx, name + 1, MC_CHANNEL_PRODUCER, &prod, &err), 0),
                  "without the slash too: %s", err.message);
        cr_assert(eq(int, mc_channel_open(ctx, name, MC_CHANNEL_NONE, &obs, &err), 0));
        send_ok(&prod, "by name", 7);
        cr_assert(eq(int, mc_channel_stats(&obs, &s, &err), 0));
        cr_assert(eq(u64, s.sent, 1));
        cr_assert(eq(u64, s.depth_bytes, 16));
        cr_assert(eq(int, s.consumer_pid, getpid()));
        cr_assert(eq(u32, s.producers, 1));
        cr_assert(eq(int, s.producer_pids[0], getpid()));
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[128]){0}, 128, 0, &err), 7));
        close_ok(&obs);
        pair_close(&cons, &prod);
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0));
}

/* ---- failures through the seam ------------------------------------------------------------ */

Test(channel, eventfd_failure_leaves_nothing) {
        mc_channel_options o = opts_of(1024, 64, MC_CHANNEL_EVENTFD);
        mc_error err = MC_ERROR_INIT;
        mc_channel ch;
        mc_usage u;

        mc_sys.eventfd = failing_eventfd;
        failing_errno = EMFILE;
        cr_assert(
                eq(int, mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &ch, &err), -EMFILE));
        cr_assert(eq(int, err.kind, MC_ERR_OUT_OF_MEMORY));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0));
}

static long (*real_futex)(uint32_t *, int, uint32_t, const struct timespec *);

long futex_wake_fails(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts) {
        if (op == FUTEX_WAKE) {
                errno = EFAULT;
                return -1;
        }
        return real_futex(uaddr, op, val, ts);
}

void *send_later(void *arg) {
        nanosleep(&(struct timespec){0, 30 * 1000 * 1000}, NULL);
        mc_channel_send(arg, "late", 4, MC_WAIT_FOREVER, NULL);
        return NULL;
}

/* A lost wakeup (here: FUTEX_WAKE fails) costs at most one peer-check interval, not a hang. */
Test(channel, failed_wakeup_is_recovered_by_the_next_look) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pthread_t t;

        real_futex = mc_sys.futex;
        mc_sys.futex = futex_wake_fails;
        pair_open(ctx, 1024, 64, 0, &cons, &prod);
        cr_assert(eq(int, mc_channel_set_spin(&cons, 0, &err), 0));
        cr_assert(eq(int, pthread_create(&t, NULL, send_later, &prod), 0));
        cr_assert(eq(int,
                     mc_channel_recv(&cons, &(char[64]){0}, 64, 30 * INT64_C(1000000000), &err), 4),
                  "%s", err.message);
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        pair_close(&cons, &prod);
}

long futex_wait_unsupported(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts) {
        (void) uaddr;
        (void) val;
        (void) ts;
        if (op == FUTEX_WAIT) {
                errno = ENOSYS;
                return -1;
        }
        return 0;
}

Test(channel, futex_wait_failure_is_reported) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;

        mc_sys.futex = futex_wait_unsupported;
        pair_open(ctx, 1024, 64, 0, &cons, &prod);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, MC_WAIT_FOREVER, &err),
                     -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        cr_assert(not(eq(ptr, strstr(err.message, "futex"), NULL)), "%s", err.message);
        pair_close(&cons, &prod);
}

Test(channel, spin_limits) {
        mc_error err = MC_ERROR_INIT;
        mc_channel ch;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &ch);
        cr_assert(eq(int, mc_channel_set_spin(&ch, 1000000, &err), 0));
        cr_assert(eq(int, mc_channel_set_spin(&ch, 1000001, &err), -EINVAL), "never clamped");
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        close_ok(&ch);
}

Test(channel, failed_open_is_audited) {
        capture cap = {0};
        mc_audit *a = NULL;
        mc_error err = MC_ERROR_INIT;
        mc_channel owner, ch;
        mc_channel_fds fds;
        int i;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_NONE, &owner);
        cr_assert(eq(int, mc_audit_open_callback(capture_cb, &cap, &a, NULL), 0));
        mc_ctx_set_audit(ctx, a);
        cr_assert(eq(int, mc_channel_get_fds(&owner, &fds, &err), 0));
        region_of(&owner)->version = 2;
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_CONSUMER, &ch, &err), -EINVAL));
        i = find_op(&cap, "channel_open", 0);
        cr_assert(ge(int, i, 0));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(cap.events[i], "outcome")),
                     "error"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(cap.events[i], "kind")),
                     "InvalidArgument"));
        cr_assert(ge(int, find_op(&cap, "munmap", i), 0), "the region was unmapped again");
        close_ok(&owner);
        ctx = mc_ctx_free(ctx); /* before cap, which its audit sink writes to, goes */
        for (int k = 0; k < cap.n; k++)
                json_decref(cap.events[k]);
}

Test(channel, role_names) {
        cr_assert(eq(str, (char *) mc_channel_role_name(MC_CHANNEL_NONE), (char *) "none"));
        cr_assert(eq(str, (char *) mc_channel_role_name(MC_CHANNEL_PRODUCER), (char *) "producer"));
        cr_assert(eq(str, (char *) mc_channel_role_name(MC_CHANNEL_CONSUMER), (char *) "consumer"));
        cr_assert(eq(ptr, (void *) mc_channel_role_name((mc_channel_role) 3), NULL));
}
