/* SPDX-License-Identifier: MIT */
/*
 * Channels whose peers close or are killed at any point, also between reserve and commit; the
 * event-loop descriptor.
 */

#include "channel-suite.h"

/* ---- peers that go away ------------------------------------------------------------------- */

Test(channel, closed_producer_is_peer_gone_after_its_messages) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[8];

        create_anon(ctx, 1024, 8, 0, MC_CHANNEL_CONSUMER, &cons);
        /* Before any producer came, an empty channel only times out. */
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 8, 1000000, &err), -ETIMEDOUT));
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        send_ok(&prod, "last", 4);
        close_ok(&prod);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 8, MC_WAIT_FOREVER, &err), 4),
                  "what was sent before the close arrives");
        cr_assert(eq(int, mc_channel_recv(&cons, buf, 8, MC_WAIT_FOREVER, &err), -EOWNERDEAD));
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE));
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, 8, &err), -EOWNERDEAD));
        /* A new producer makes the channel live again. */
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_try_recv(&cons, buf, 8, &err), -EAGAIN));
        pair_close(&cons, &prod);
}

/* A waiting consumer whose producer closes is woken at once, not after a peer check. */
void *close_later(void *arg) {
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        mc_channel_close(arg, NULL);
        return NULL;
}

Test(channel, waiting_consumer_sees_close) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pthread_t t;

        pair_open(ctx, 1024, 8, 0, &cons, &prod);
        cr_assert(eq(int, pthread_create(&t, NULL, close_later, &prod), 0));
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[8]){0}, 8, MC_WAIT_FOREVER, &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        close_ok(&cons);
}

Test(channel, closed_consumer_is_peer_gone_for_a_full_producer) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        int sent = 0;

        create_anon(ctx, 128, 24, 0, MC_CHANNEL_PRODUCER, &prod);
        open_end(ctx, &prod, MC_CHANNEL_CONSUMER, &cons);
        close_ok(&cons);
        /* Room is still used up, then the producer learns. */
        while (mc_channel_send(&prod, "x", 1, MC_WAIT_FOREVER, &err) == 0)
                sent++;
        cr_assert(eq(int, sent, 128 / 16));
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE), "%s", err.message);
        close_ok(&prod);
}

/*
 * A producer process killed between reserve and commit: the consumer gets what was committed,
 * never the half-written message, and PeerGone within a bounded time.
 */
Test(channel, producer_killed_between_reserve_and_commit) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        char buf[64];
        int sync[2];
        pid_t pid;
        int64_t t0;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        cr_assert(eq(int, pipe2(sync, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                void *p;

                child_open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
                CHILD_CHECK(mc_channel_send(&prod, "committed", 9, 0, NULL) == 0, 12);
                CHILD_CHECK(mc_channel_reserve(&prod, 64, &p, 0, NULL) == 0, 13);
                memcpy(p, "half-wri", 8);
                child_ready_pause(sync[1], 14);
        }
        cr_assert(gt(int, pid, 0));
        await_byte(sync[0], 30);
        kill(pid, SIGKILL);
        /* Not reaped yet on purpose: a zombie is gone too. */
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), MC_WAIT_FOREVER, &err), 9), "%s",
                  err.message);
        cr_assert(eq(int, memcmp(buf, "committed", 9), 0));
        t0 = mc__now_ns(CLOCK_MONOTONIC);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 30 * INT64_C(1000000000), &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE));
        (void) t0;
        {
                mc_channel_counts s;

                cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
                cr_assert(eq(u64, s.peers_gone, 1));
                cr_assert(eq(u32, s.producers, 0));
        }
        cr_assert(eq(int, WTERMSIG(wait_child(pid, 30)), SIGKILL));
        close(sync[0]);
        close(sync[1]);
        close_ok(&cons);
}

/*
 * Multi-producer: one producer dies holding a reservation in the middle of the ring; the
 * consumer skips its room (abandoned) and the other producer's messages still come, in order.
 */
Test(channel, killed_producer_leaves_others_running) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        mc_channel_counts s;
        char buf[64];
        int sync[2];
        pid_t pid;

        pair_open(ctx, 1024, 64, MC_CHANNEL_MULTI_PRODUCER, &cons, &prod);
        send_ok(&prod, "before", 6);
        cr_assert(eq(int, pipe2(sync, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                mc_channel mine;

                memset(child_reservation(ctx, &cons, &mine, 40), 'X', 40);
                child_ready_pause(sync[1], 13);
        }
        cr_assert(gt(int, pid, 0));
        await_byte(sync[0], 30);
        send_ok(&prod, "after", 5); /* behind the dying producer's reservation */
        kill(pid, SIGKILL);
        cr_assert(eq(int, WTERMSIG(wait_child(pid, 30)), SIGKILL));
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 6));
        recv_ok(&cons, 30 * INT64_C(1000000000), "after", 5);
        cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
        cr_assert(eq(u64, s.abandoned, 1));
        cr_assert(eq(u32, s.producers, 1));
        send_ok(&prod, "still", 5);
        cr_assert(eq(int, mc_channel_recv(&cons, buf, sizeof(buf), 0, &err), 5));
        close(sync[0]);
        close(sync[1]);
        pair_close(&cons, &prod);
}

/*
 * A producer dies holding a reservation and a new producer takes its slot before the consumer
 * looks: the dead one's record carries the old generation and is skipped, the new one's read.
 */
Test(channel, reservation_of_a_replaced_producer_is_skipped) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        mc_channel_counts s;
        mc_channel_options o = opts_of(1024, 64, MC_CHANNEL_MULTI_PRODUCER);
        pid_t pid;

        o.max_producers = 1; /* so the new producer must take the dead one's slot */
        cr_assert(eq(int, mc_channel_create(ctx, NULL, &o, MC_CHANNEL_CONSUMER, &cons, &err), 0));
        pid = fork();
        if (pid == 0) {
                mc_channel mine;

                (void) child_reservation(ctx, &cons, &mine, 40);
                _exit(0); /* dies with it */
        }
        child_ok(pid, 30);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod); /* reclaims slot 0 */
        cr_assert(eq(int, prod.impl->slot, 0));
        send_ok(&prod, "new", 3);
        recv_ok(&cons, 0, "new", 3);
        cr_assert(eq(int, mc_channel_stats(&cons, &s, &err), 0));
        cr_assert(eq(u64, s.abandoned, 1));
        cr_assert(eq(u64, s.peers_gone, 1));
        pair_close(&cons, &prod);
}

/* A peer table entry naming a process that is not the one that attached is not believed. */
Test(channel, forged_peer_entry_is_not_trusted) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons;

        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        /* "pid 1 since tick 0xdeadbeef": init, but not started then; and a pid of 0. */
        atomic_store(&region_of(&cons)->producers[0], UINT64_C(0xdeadbeef) << 32 | 1);
        atomic_store(&region_of(&cons)->producers_ever, 1);
        cr_assert(eq(int, mc_channel_recv(&cons, buf_of(64), 64, 30 * INT64_C(1000000000), &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        atomic_store(&region_of(&cons)->producers[0], UINT64_C(7) << 32);
        cr_assert(eq(int, mc_channel_recv(&cons, buf_of(64), 64, 30 * INT64_C(1000000000), &err),
                     -EOWNERDEAD),
                  "%s", err.message);
        close_ok(&cons);
}

/* A producer that died holding the reserve lock does not wedge the others. */
Test(channel, lock_of_a_dead_producer_is_taken_over) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod, victim;
        uint32_t word;
        pid_t pid;

        pair_open(ctx, 1024, 64, MC_CHANNEL_MULTI_PRODUCER, &cons, &prod);
        pid = fork();
        if (pid == 0) {
                child_open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &victim);
                /* Take the lock as mc__chan_lock() does, and die with it. */
                word = (uint32_t) (victim.impl->slot + 1) | victim.impl->gen << 8;
                atomic_store(&region_of(&victim)->lock, word);
                _exit(0);
        }
        child_ok(pid, 30);
        cr_assert(not(eq(u32, atomic_load(&region_of(&cons)->lock), 0)), "the child holds it");
        cr_assert(eq(int, mc_channel_send(&prod, "through", 7, 30 * INT64_C(1000000000), &err), 0),
                  "%s", err.message);
        cr_assert(eq(int, mc_channel_recv(&cons, &(char[64]){0}, 64, 0, &err), 7));
        pair_close(&cons, &prod);
}

Test(channel, killed_consumer_is_peer_gone_and_its_slot_reusable) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        int sync[2];
        pid_t pid;

        create_anon(ctx, 128, 24, 0, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, pipe2(sync, O_CLOEXEC), 0));
        pid = fork();
        if (pid == 0) {
                const void *d;
                size_t n;

                child_open_end(ctx, &prod, MC_CHANNEL_CONSUMER, &cons);
                CHILD_CHECK(mc_channel_peek(&cons, &d, &n, MC_WAIT_FOREVER, NULL) == 0, 12);
                child_ready_pause(sync[1], 13);
        }
        cr_assert(gt(int, pid, 0));
        send_ok(&prod, "peeked", 6);
        await_byte(sync[0], 30);
        kill(pid, SIGKILL);
        while (mc_channel_send(&prod, "fill", 4, 30 * INT64_C(1000000000), &err) == 0)
                ;
        cr_assert(eq(int, err.kind, MC_ERR_PEER_GONE), "%s", err.message);
        cr_assert(eq(int, WTERMSIG(wait_child(pid, 30)), SIGKILL));
        /* A new consumer takes the slot and gets the message the dead one only peeked. */
        open_end(ctx, &prod, MC_CHANNEL_CONSUMER, &cons);
        recv_ok(&cons, 0, "peeked", 6);
        close(sync[0]);
        close(sync[1]);
        close_ok(&cons);
        close_ok(&prod);
}

Test(channel, handle_inherited_through_fork_is_refused) {
        mc_channel cons, prod;
        pid_t pid;

        pair_open(ctx, 1024, 64, 0, &cons, &prod);
        pid = fork();
        if (pid == 0) {
                mc_error e = MC_ERROR_INIT;

                CHILD_CHECK(mc_channel_send(&prod, "x", 1, 0, &e) == -EINVAL, 10);
                CHILD_CHECK(strstr(e.message, "fork()") != NULL, 11);
                CHILD_CHECK(mc_channel_try_recv(&cons, &(char[8]){0}, 8, NULL) == -EINVAL, 12);
                /* Closing the copies leaves the parent's ends attached. */
                CHILD_CHECK(mc_channel_close(&prod, NULL) == 0, 13);
                CHILD_CHECK(mc_channel_close(&cons, NULL) == 0, 14);
                _exit(0);
        }
        child_ok(pid, 30);
        send_ok(&prod, "parent", 6);
        cr_assert(eq(int, mc_channel_try_recv(&cons, &(char[8]){0}, 8, NULL), 6));
        pair_close(&cons, &prod);
}

/* ---- event loops -------------------------------------------------------------------------- */

Test(channel, eventfd_wakes_an_event_loop) {
        mc_error err = MC_ERROR_INIT;
        mc_channel cons, prod;
        pump p = {.ch = &prod, .count = 20000, .min = 0, .max = 32};
        uint64_t seq = 0;
        pthread_t t;
        int fd;

        pair_open(ctx, 256, 32, MC_CHANNEL_EVENTFD, &cons, &prod);
        cr_assert(eq(int, mc_channel_fd(&cons, &fd, &err), 0), "%s", err.message);
        cr_assert(eq(int, pthread_create(&t, NULL, produce, &p), 0));
        while (seq < p.count) {
                struct pollfd pf = {.fd = fd, .events = POLLIN};
                uint8_t out[32];
                int r;

                cr_assert(eq(int, poll(&pf, 1, 30000), 1), "the eventfd never became readable");
                while ((r = mc_channel_try_recv(&cons, out, sizeof(out), &err)) >= 0) {
                        cr_assert(msg_check(out, (size_t) r, 0, seq, 0, 32));
                        seq++;
                }
                cr_assert(eq(int, r, -EAGAIN), "%s", err.message);
        }
        cr_assert(eq(int, pthread_join(t, NULL), 0));
        cr_assert(eq(int, p.result, 0), "%s", p.err.message);
        pair_close(&cons, &prod);
}

Test(channel, eventfd_needs_an_anonymous_eventfd_channel) {
        mc_error err = MC_ERROR_INIT;
        mc_channel_options o = opts_of(1024, 64, MC_CHANNEL_EVENTFD);
        mc_channel cons, prod, obs;
        mc_channel_fds fds;
        int fd, efd;

        cr_assert(eq(int,
                     mc_channel_create(ctx, name_new("evt"), &o, MC_CHANNEL_CONSUMER, &cons, &err),
                     -EOPNOTSUPP));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED));
        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_CONSUMER, &cons);
        cr_assert(eq(int, mc_channel_fd(&cons, &fd, &err), -EOPNOTSUPP));
        close_ok(&cons);

        create_anon(ctx, 1024, 64, MC_CHANNEL_EVENTFD | MC_CHANNEL_MULTI_PRODUCER,
                    MC_CHANNEL_CONSUMER, &cons);
        open_end(ctx, &cons, MC_CHANNEL_PRODUCER, &prod);
        cr_assert(eq(int, mc_channel_fd(&prod, &fd, &err), -EOPNOTSUPP), "producers share it");
        cr_assert(eq(int, mc_channel_fd(&cons, &fd, &err), 0), "%s", err.message);
        pair_close(&cons, &prod);

        create_anon(ctx, 1024, 64, MC_CHANNEL_EVENTFD, MC_CHANNEL_NONE, &obs);
        cr_assert(eq(int, mc_channel_fd(&obs, &fd, &err), -EINVAL), "neither end");
        cr_assert(eq(int, mc_channel_get_fds(&obs, &fds, &err), 0));
        cr_assert(ge(int, fds.recv_event, 0));
        {
                mc_channel_fds bad = fds;

                bad.recv_event = -1;
                cr_assert(eq(int, mc_channel_open_fd(ctx, &bad, MC_CHANNEL_PRODUCER, &prod, &err),
                             -EINVAL));
                bad.recv_event = fds.region; /* not an eventfd */
                cr_assert(eq(int, mc_channel_open_fd(ctx, &bad, MC_CHANNEL_PRODUCER, &prod, &err),
                             -EINVAL));
                cr_assert(not(eq(ptr, strstr(err.message, "not an eventfd"), NULL)), "%s",
                          err.message);
        }
        cr_assert(eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &prod, &err), 0), "%s",
                  err.message);
        close_ok(&prod);
        close_ok(&obs);

        /* Event descriptors for a channel that has none are a mistake, not ignored. */
        create_anon(ctx, 1024, 64, 0, MC_CHANNEL_NONE, &obs);
        cr_assert(eq(int, mc_channel_get_fds(&obs, &fds, &err), 0));
        efd = eventfd(0, EFD_CLOEXEC);
        fds.recv_event = efd;
        cr_assert(
                eq(int, mc_channel_open_fd(ctx, &fds, MC_CHANNEL_PRODUCER, &prod, &err), -EINVAL));
        close(efd);
        close_ok(&obs);
}
