/* SPDX-License-Identifier: MIT */
/*
 * The context: life cycle, policy and audit replacement, usage snapshots, application audit
 * events, many threads at once, and the registry under many mappings.
 */

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>

#include "common.h"
#include "mapping.h"

TestSuite(ctx, .fini = mc_test_fini);

static int n_lines;
static char last_line[2048];
static void count_cb(const mc_audit_record *r, void *userdata) {
        (void) userdata;
        n_lines++;
        strscpy(last_line, sizeof(last_line), r->json);
}

Test(ctx, free_unmaps_what_is_left_and_audits_it) {
        mc_shared_request sreq = MC_SHARED_REQUEST_INIT;
        mc_audit *audit;
        mc_mapping a, b;
        mc_shared s;
        mc_ctx *ctx;

        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        cr_assert(eq(int, mc_audit_open_callback(count_cb, NULL, &audit, NULL), 0));
        mc_ctx_set_audit(ctx, audit);
        cr_assert(eq(int, anon_map(ctx, 4096, MC_PROT_READ_WRITE, &a, NULL), 0));
        cr_assert(eq(int, anon_map(ctx, 8192, MC_PROT_READ_WRITE, &b, NULL), 0));
        sreq.size = 4096;
        cr_assert(eq(int, mc_shared_open(ctx, &sreq, &s, NULL), 0));
        n_lines = 0;
        cr_assert(eq(ptr, mc_ctx_free(ctx), NULL));
        cr_assert(eq(int, n_lines, 3), "one release record per leftover");
        cr_assert(eq(ptr, mc_ctx_free(NULL), NULL));
        cr_assert(eq(int, mc_ctx_new(NULL, NULL), -EINVAL));
}

Test(ctx, policy_is_copied_in_and_out) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p, *got;
        mc_mapping m;
        mc_ctx *ctx;

        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        mc_policy_set_max_memory_usage(p, 8192);
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, &err), 0));
        mc_policy_set_max_memory_usage(p, 4096); /* after the copy: no effect on ctx */
        cr_assert(eq(int, mc_ctx_get_policy(ctx, &got, &err), 0));
        cr_assert(eq(u64, mc_policy_max_memory_usage(got), 8192));
        cr_assert(eq(int, anon_map(ctx, 8192, MC_PROT_READ_WRITE, &m, NULL), 0));
        mc_policy_free(got);
        mc_policy_free(p);
        cr_assert(eq(int, mc_ctx_set_policy(ctx, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_ctx_set_policy(NULL, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_ctx_get_policy(ctx, NULL, &err), -EINVAL));
        mc_ctx_free(ctx);
}

Test(ctx, lowering_a_quota_below_usage_keeps_what_exists) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p;
        mc_mapping a, b;
        mc_ctx *ctx;

        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        cr_assert(eq(int, anon_map(ctx, 4 * 4096, MC_PROT_READ_WRITE, &a, NULL), 0));
        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        mc_policy_set_max_memory_usage(p, 4096);
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, &err), 0));
        mc_policy_free(p);
        memset(a.ptr, 1, a.len);
        cr_assert(eq(int, anon_map(ctx, 4096, MC_PROT_READ_WRITE, &b, NULL), -EPERM));
        cr_assert(eq(int, mc_munmap(ctx, &a, &err), 0));
        cr_assert(eq(int, anon_map(ctx, 4096, MC_PROT_READ_WRITE, &b, NULL), 0));
        mc_ctx_free(ctx);
}

Test(ctx, audit_sink_replacement_and_events) {
        mc_error err = MC_ERROR_INIT;
        mc_audit *audit;
        mc_mapping m;
        mc_ctx *ctx;
        json_t *rec;

        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        n_lines = 0;
        cr_assert(eq(int, mc_audit_open_callback(count_cb, NULL, &audit, NULL), 0));
        mc_ctx_set_audit(ctx, audit);
        cr_assert(eq(int,
                     mc_ctx_audit_event(ctx, "core.signal", "signal.shutdown",
                                        "{\"signal\":\"SIGTERM\",\"n\":1}", &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int, n_lines, 1));
        rec = json_loads(last_line, 0, NULL);
        cr_assert(ne(ptr, rec, NULL));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(rec, "operation")),
                     "signal.shutdown"));
        cr_assert(eq(str,
                     (char *) json_string_value(
                             json_object_get(json_object_get(rec, "event"), "signal")),
                     "SIGTERM"));
        json_decref(rec);

        /* An event may report its own outcome; anything else in that field keeps "ok". */
        cr_assert(
                eq(int,
                   mc_ctx_audit_event(ctx, "memcapd", "request", "{\"outcome\":\"denied\"}", &err),
                   0));
        cr_assert(ne(ptr, strstr(last_line, "\"outcome\":\"denied\",\"event\""), NULL), "%s",
                  last_line);
        cr_assert(eq(int,
                     mc_ctx_audit_event(ctx, "memcapd", "request", "{\"outcome\":\"error\"}", &err),
                     0));
        cr_assert(ne(ptr, strstr(last_line, "\"outcome\":\"error\",\"event\""), NULL), "%s",
                  last_line);
        cr_assert(eq(int,
                     mc_ctx_audit_event(ctx, "memcapd", "request", "{\"outcome\":\"odd\"}", &err),
                     0));
        cr_assert(ne(ptr, strstr(last_line, "\"outcome\":\"ok\",\"event\""), NULL), "%s",
                  last_line);
        n_lines -= 3;
        cr_assert(eq(int, mc_ctx_audit_event(ctx, "core.signal", "x", "[1,2]", &err), -EINVAL));
        cr_assert(eq(int, mc_ctx_audit_event(ctx, "core.signal", "x", "{\"a\":", &err), -EINVAL));
        cr_assert(eq(int, mc_ctx_audit_event(ctx, "core.signal", "x", "{\"a\":1,\"a\":2}", &err),
                     -EINVAL));
        cr_assert(eq(int, mc_ctx_audit_event(ctx, "bad name", "x", NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_ctx_audit_event(ctx, "core.signal", "quo\"te", NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_ctx_audit_event(ctx, "", "x", NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_ctx_audit_event(NULL, "a", "b", NULL, &err), -EINVAL));
        cr_assert(eq(int, n_lines, 1), "refused events write nothing");

        /* Turning the sink off: operations still work and write nothing. */
        mc_ctx_set_audit(ctx, NULL);
        cr_assert(eq(int, anon_map(ctx, 4096, MC_PROT_READ_WRITE, &m, NULL), 0));
        cr_assert(eq(int, mc_ctx_audit_event(ctx, "core.memory", "x", NULL, &err), 0));
        cr_assert(eq(int, n_lines, 1));
        mc_ctx_free(ctx);
        mc_ctx_set_audit(NULL, NULL);
}

static mc_ctx *shared_ctx;
static void *churn(void *arg) {
        (void) arg;
        for (int i = 0; i < 500; i++) {
                mc_mapping m;
                if (anon_map(shared_ctx, 4096 * (size_t) (1 + i % 3), MC_PROT_READ_WRITE, &m,
                             NULL) < 0)
                        return (void *) 1;
                ((char *) m.ptr)[0] = 1;
                if (mc_munmap(shared_ctx, &m, NULL) < 0)
                        return (void *) 2;
        }
        return NULL;
}

Test(ctx, many_threads_keep_usage_exact, .timeout = 60) {
        pthread_t t[6];
        mc_usage u;

        cr_assert(eq(int, mc_ctx_new(&shared_ctx, NULL), 0));
        for (int i = 0; i < 6; i++)
                cr_assert(eq(int, pthread_create(&t[i], NULL, churn, NULL), 0));
        for (int i = 0; i < 6; i++) {
                void *ret;
                pthread_join(t[i], &ret);
                cr_assert(eq(ptr, ret, NULL));
        }
        mc_ctx_get_usage(shared_ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 0));
        cr_assert(eq(u64, u.mappings, 0));
        mc_ctx_free(shared_ctx);
}

Test(ctx, registry_holds_thousands_and_forgets_in_any_order, .timeout = 60) {
        enum { N = 3000 };
        mc_mapping *m = calloc(N, sizeof(*m));
        mc_usage u;
        mc_ctx *ctx;

        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        for (int i = 0; i < N; i++)
                cr_assert(eq(int, anon_map(ctx, 4096, MC_PROT_READ_WRITE, &m[i], NULL), 0));
        /* Unmap in a scrambled order; every other mapping must stay findable. */
        for (int k = 0; k < N; k++) {
                int i = (int) (((long) k * 1237) % N);
                mc_mapping copy = m[i];
                cr_assert(eq(int, mc_munmap(ctx, &m[i], NULL), 0), "mapping %d", i);
                cr_assert(eq(int, mc_munmap(ctx, &copy, NULL), -ENOENT));
                if (k % 97 == 0)
                        for (int j = 0; j < N; j++)
                                if (m[j].ptr)
                                        cr_assert(eq(int,
                                                     mc_msync(ctx, &m[j], 0, MC_LENGTH_ALL,
                                                              MC_SYNC_ASYNC, NULL),
                                                     0),
                                                  "mapping %d lost after removing %d", j, i);
        }
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0));
        mc_ctx_free(ctx);
        free(m);
}
