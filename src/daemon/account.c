/* SPDX-License-Identifier: MIT */
/*
 * Accounts: what each client uid holds in memcapd. A process can fork and connect without
 * limit, so the uid is what the daemon can hold to account: its connections are counted
 * (max_connections_per_uid), the memory of their buffers is charged to it and capped
 * (max_buffer_per_uid), and its audit records are rate-limited together (audit-log.c).
 *
 * A uid at its buffer limit is blocked: none of its connections is read until its buffers fall
 * below three quarters of the limit, so the memory it holds stops growing while other uids are
 * served. Requests it already sent are still handled, but only while none of its replies waits
 * to be sent: one reply at a time, so that a uid whose buffers are full of requests makes
 * progress without growing; and when nothing is left but lines still arriving, one connection
 * (the reader, chosen in conn.c) is read on until its line is whole, so the limit is passed
 * by one line at most. The same holds for all connections together at max_buffer_total.
 * What blocked connections wait for ends in bounded time: replies a client does not read, or a
 * line it does not finish, end in a timeout (timeouts.c).
 */

#include <inttypes.h>
#include <stdlib.h>

#include "log.h"
#include "server-int.h"

account *mcd_account_get(mcd_server *s, uid_t uid) {
        account *a;

        for (a = s->accounts; a; a = a->next)
                if (a->uid == uid)
                        return a;
        a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        a->uid = uid;
        MC_LIST_PREPEND(prev, next, s->accounts, a);
        return a;
}

void mcd_account_attach(conn *c) {
        account *a = c->acct;

        MC_LIST_PREPEND(acct_prev, acct_next, a->conns, c);
        a->n_conns++;
}

static void check_limit(bool *blocked, bool *changed, uint64_t held, uint64_t limit) {
        if (!*blocked && held >= limit) {
                *blocked = true;
                *changed = true;
        } else if (*blocked && held < limit - limit / 4) {
                *blocked = false;
                *changed = true;
        }
}

/* Move @c's charge to @held bytes of buffers, @queued of them replies waiting to be sent. */
static void charge(mcd_server *s, conn *c, size_t held, size_t queued) {
        account *a = c->acct;
        bool was_blocked = s->total_blocked;

        a->held = a->held - c->held + held;
        a->queued = a->queued - c->queued + queued;
        s->held_total = s->held_total - c->held + held;
        s->queued_total = s->queued_total - c->queued + queued;
        c->held = held;
        c->queued = queued;
        check_limit(&a->blocked, &a->changed, a->held, s->cfg.max_buffer_per_uid);
        check_limit(&s->total_blocked, &s->total_changed, s->held_total, s->cfg.max_buffer_total);
        /* A blocked uid whose replies are all sent may have its next request handled, or a
         * reader chosen: look again. */
        if (a->blocked && a->queued == 0)
                a->changed = true;
        if (s->total_blocked && s->queued_total == 0)
                s->total_changed = true;
        if (a->changed || s->total_changed)
                s->budget_changed = true;
        if (!was_blocked && s->total_blocked &&
            (s->total_warned == 0 || s->now - s->total_warned >= 60 * 1000)) {
                s->total_warned = s->now;
                log_warning("connections hold %" PRIu64 " bytes of buffers (max_buffer_total): "
                            "no connection is read until replies drain",
                            s->held_total);
        }
}

void mcd_conn_charge(mcd_server *s, conn *c) {
        size_t held = c->in_cap + c->out.cap;

        if (c->acct && (held != c->held || c->out.len != c->queued))
                charge(s, c, held, c->out.len);
}

void mcd_conn_release_reader(mcd_server *s, conn *c) {
        if (s->reader == c) {
                s->reader = NULL;
                s->total_changed = s->budget_changed = true;
        }
        if (c->acct && c->acct->reader == c) {
                c->acct->reader = NULL;
                c->acct->changed = s->budget_changed = true;
        }
}

void mcd_account_detach(mcd_server *s, conn *c) {
        account *a = c->acct;

        if (!a)
                return;
        mcd_conn_release_reader(s, c);
        /* The buffers go with the connection. */
        charge(s, c, 0, 0);
        MC_LIST_REMOVE(acct_prev, acct_next, a->conns, c);
        a->n_conns--;
        c->acct = NULL;
        /* Freed by the next sweep once its window is over; see mcd_accounts_sweep(). */
        if (a->n_conns == 0)
                mcd_schedule(s, s->now);
}

void mcd_budgets_recheck(mcd_server *s) {
        for (account *a = s->accounts; a; a = a->next)
                check_limit(&a->blocked, &a->changed, a->held, s->cfg.max_buffer_per_uid);
        check_limit(&s->total_blocked, &s->total_changed, s->held_total, s->cfg.max_buffer_total);
        s->budget_changed = true;
}

bool mcd_conn_may_read(const mcd_server *s, const conn *c) {
        const account *a = c->acct;

        if (s->total_blocked && s->reader != c)
                return false;
        return !(a && a->blocked && a->reader != c && s->reader != c);
}

bool mcd_conn_may_handle(const mcd_server *s, const conn *c) {
        const account *a = c->acct;

        return (!s->total_blocked || s->queued_total == 0) && !(a && a->blocked && a->queued > 0);
}

static void account_free(mcd_server *s, account *a) {
        MC_LIST_REMOVE(prev, next, s->accounts, a);
        free(a);
}

void mcd_accounts_sweep(mcd_server *s) {
        int64_t interval = (int64_t) s->cfg.audit_rate_interval_ms;
        account *next;

        mcd_audit_flush_summaries(s, false);
        for (account *a = s->accounts; a; a = next) {
                int64_t end = a->window_start + interval;

                next = a->next;
                if (a->n_conns > 0)
                        continue;
                if (a->window_start == 0 || s->now >= end)
                        account_free(s, a); /* summarised by the flush above */
                else
                        mcd_schedule(s, end);
        }
}

void mcd_accounts_free(mcd_server *s) {
        while (s->accounts)
                account_free(s, s->accounts);
}
