/* SPDX-License-Identifier: MIT */
/*
 * memcapd's clock and timeouts: a line must arrive whole within request_timeout of its first
 * byte, and queued replies must move within send_timeout, or the connection is closed
 * (slowloris). They cost no timer per connection: the loop sleeps until the earliest deadline
 * any part of the server asked for (mcd_schedule()) and sweeps the connections then.
 */

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "server-int.h"

int64_t mcd_now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mcd_schedule(mcd_server *s, int64_t deadline) {
        if (s->next_tick == 0 || deadline < s->next_tick)
                s->next_tick = deadline > 0 ? deadline : 1;
}

/*
 * Close the connections whose time is up: a line not finished within request_timeout of its
 * first byte (told so, if it still reads), queued replies that did not move for send_timeout.
 * Then the accounts' windows. Schedules the next look.
 */
void mcd_timeouts_sweep(mcd_server *s) {
        int64_t line_ms = (int64_t) s->cfg.request_timeout_ms;
        int64_t send_ms = (int64_t) s->cfg.send_timeout_ms;
        conn *next;

        s->next_tick = 0;
        for (conn *c = s->conns; c; c = next) {
                next = c->next;
                if (c->send_since && s->now - c->send_since >= send_ms) {
                        log_debug("client pid %d: replies not read for %" PRId64
                                  " ms; closing the connection",
                                  (int) c->client.pid, s->now - c->send_since);
                        mcd_conn_free(s, c, "send_timeout");
                        continue;
                }
                if (c->line_since && s->now - c->line_since >= line_ms) {
                        char msg[160];

                        snprintf(msg, sizeof(msg),
                                 "no complete request line within %" PRIu64
                                 " ms of its first byte; closing the connection",
                                 s->cfg.request_timeout_ms);
                        log_debug("client pid %d: %s", (int) c->client.pid, msg);
                        mcd_conn_queue_closing_error(c, MC_ERR_TIMED_OUT, ETIMEDOUT,
                                                     "request_timeout", msg);
                        (void) mcd_conn_flush(c);
                        mcd_conn_free(s, c, NULL);
                        continue;
                }
                if (c->line_since)
                        mcd_schedule(s, c->line_since + line_ms);
                if (c->send_since)
                        mcd_schedule(s, c->send_since + send_ms);
        }
        mcd_accounts_sweep(s);
}

/* How long epoll_wait() may sleep: not at all while work between batches is pending (a
 * timeout or a reload may have let a blocked uid go on), until the next deadline, and a second
 * at most while accepting is paused for want of descriptors (mcd_accept_resume()). */
int mcd_wait_timeout(const mcd_server *s) {
        int64_t ms = -1;

        if (s->budget_changed || s->summaries_due || s->sweep_procs || s->reload)
                return 0;

        if (s->next_tick)
                ms = MC_MAX(s->next_tick - mcd_now_ms(), (int64_t) 0);
        if (s->accept_paused && (ms < 0 || ms > 1000))
                ms = 1000;
        return (int) MC_MIN(ms, (int64_t) INT32_MAX);
}
