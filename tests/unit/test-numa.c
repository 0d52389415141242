/* SPDX-License-Identifier: MIT */
/*
 * NUMA placement (numa.h). This machine has one node: the real kernel covers binding, asking
 * and moving on node 0 and refusing other nodes; a fake topology through the seam (four nodes,
 * mbind and move_pages recorded) covers the decisions that need several: the policy's
 * allowed_numa_nodes, interleaving, migration counts. What the kernel does with pages on a
 * real multi-node machine (where they land, what migration costs) is not exercised here.
 */

#include <inttypes.h>
#include <jansson.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "common.h"
#include "audit.h"
#include "failing.h"
#include "mapping.h"
#include "spawn.h"

static mc_ctx *ctx;
static size_t page;

static void setup(void) {
        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        page = mc_page_size();
}

static void teardown(void) {
        ctx = mc_ctx_free(ctx);
        mc_test_fini();
}

TestSuite(numa, .init = setup, .fini = teardown);

static void set_nodes_policy(uint64_t nodes) {
        mc_policy *p;

        cr_assert(eq(int, mc_policy_new(&p, NULL), 0));
        cr_assert(eq(u64, mc_policy_allowed_numa_nodes(p), UINT64_MAX));
        cr_assert(eq(int, mc_policy_set_allowed_numa_nodes(p, nodes), 0));
        cr_assert(eq(int, mc_ctx_set_policy(ctx, p, NULL), 0));
        mc_policy_free(p);
}

/* ---- a fake machine with nodes 0..3 ------------------------------------------------------- */

static int n_mbind, mbind_mode;
static unsigned long mbind_mask, mbind_maxnode, mbind_len;
static void *mbind_addr;
static long fake_mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
                       unsigned long maxnode, unsigned flags) {
        (void) flags;
        n_mbind++;
        mbind_addr = addr;
        mbind_len = len;
        mbind_mode = mode;
        mbind_mask = nodemask ? nodemask[0] : 0;
        mbind_maxnode = maxnode;
        return 0;
}

static long fake_get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode,
                               void *addr, unsigned long flags) {
        (void) maxnode;
        (void) addr;
        if (flags & MPOL_F_MEMS_ALLOWED) {
                nodemask[0] = 0xf;
                return 0;
        }
        *mode = MPOL_INTERLEAVE;
        nodemask[0] = 0xa;
        return 0;
}

/* Odd pages are not present; even ones are on node 3, or go where they are sent. */
static int move_flags;
static long fake_move_pages(int pid, unsigned long count, void **pages, const int *nodes,
                            int *status, int flags) {
        (void) pid;
        (void) pages;
        move_flags = flags;
        for (unsigned long i = 0; i < count; i++)
                status[i] = i % 2 ? -ENOENT : nodes ? nodes[i] : 3;
        return 0;
}

static void fake_topology(void) {
        mc_sys.mbind = fake_mbind;
        mc_sys.get_mempolicy = fake_get_mempolicy;
        mc_sys.move_pages = fake_move_pages;
}

/* ---- the real single node ------------------------------------------------------------------- */

Test(numa, bind_query_move_on_the_one_node) {
        mc_error err = MC_ERROR_INIT;
        mc_numa_info info;
        int nodes[4] = {9, 9, 9, 9};
        size_t moved = 99;
        mc_mapping m;

        anon_map_ok(ctx, 4 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int,
                     mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, MC_NUMA_NODE(0), MC_NUMA_BIND, &err),
                     0),
                  "%s", err.message);
        memset(m.ptr, 1, 2 * page); /* two of four pages present */
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, nodes, 4, &info, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, info.mode, MC_NUMA_BIND));
        cr_assert(eq(u64, info.nodes, 1));
        cr_assert(eq(u64, info.present, 1));
        cr_assert(eq(sz, info.pages, 4));
        cr_assert(eq(sz, info.resident, 2));
        cr_assert(eq(int, nodes[0], 0));
        cr_assert(eq(int, nodes[1], 0));
        cr_assert(eq(int, nodes[2], -ENOENT));
        cr_assert(eq(int, mc_numa_move(ctx, &m, 0, MC_LENGTH_ALL, 0, &moved, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, moved, 2));

        cr_assert(eq(int, mc_numa_bind(ctx, &m, page, page, 0, MC_NUMA_LOCAL, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_numa_query(ctx, &m, page, 1, NULL, 0, &info, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, info.mode, MC_NUMA_LOCAL));
        cr_assert(eq(sz, info.pages, 1));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 0, MC_NUMA_DEFAULT, &err), 0),
                  "%s", err.message);
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, NULL, 0, &info, &err), 0));
        cr_assert(eq(int, info.mode, MC_NUMA_DEFAULT));
}

Test(numa, a_node_the_process_cannot_use_is_refused_before_mbind) {
        mc_error err = MC_ERROR_INIT;
        uint64_t allowed = 0;
        mc_mapping m;

        cr_assert(eq(long,
                     syscall(SYS_get_mempolicy, NULL, &allowed, 65, NULL, MPOL_F_MEMS_ALLOWED), 0));
        if (allowed & MC_NUMA_NODE(63))
                cr_skip_test("this machine has node 63");
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        mc_sys.mbind = fake_mbind;
        cr_assert(eq(int,
                     mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, MC_NUMA_NODE(63), MC_NUMA_BIND, &err),
                     -EINVAL));
        cr_assert(eq(int, err.kind, MC_ERR_INVALID_ARGUMENT));
        cr_assert(ne(ptr, strstr(err.message, "node(s) 63 are not available"), NULL), "%s",
                  err.message);
        cr_assert(eq(int, n_mbind, 0));
        cr_assert(eq(int, mc_numa_move(ctx, &m, 0, MC_LENGTH_ALL, 63, NULL, &err), -EINVAL));
}

/* ---- the fake topology ---------------------------------------------------------------------- */

Test(numa, interleave_reaches_mbind_as_asked) {
        mc_error err = MC_ERROR_INIT;
        mc_numa_info info;
        mc_mapping m;

        fake_topology();
        anon_map_ok(ctx, 4 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int,
                     mc_numa_bind(ctx, &m, page + 1, page, MC_NUMA_NODE(1) | MC_NUMA_NODE(3),
                                  MC_NUMA_INTERLEAVE, &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int, n_mbind, 1));
        cr_assert(eq(int, mbind_mode, MPOL_INTERLEAVE));
        cr_assert(eq(ulong, mbind_mask, 0xa));
        cr_assert(eq(ulong, mbind_maxnode, 65));
        /* A byte range covers whole pages: 1 byte into page 1 up to 1 byte into page 2. */
        cr_assert(eq(ptr, mbind_addr, (char *) m.ptr + page));
        cr_assert(eq(ulong, mbind_len, 2 * page));
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, NULL, 0, &info, &err), 0));
        cr_assert(eq(int, info.mode, MC_NUMA_INTERLEAVE));
        cr_assert(eq(u64, info.nodes, 0xa));
        cr_assert(eq(u64, info.present, MC_NUMA_NODE(3)));
        cr_assert(eq(sz, info.resident, 2));
}

Test(numa, move_counts_the_pages_that_arrived) {
        mc_error err = MC_ERROR_INIT;
        size_t moved = 0;
        mc_mapping m;

        fake_topology();
        /* More than one batch of move_pages. */
        anon_map_ok(ctx, 600 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_numa_move(ctx, &m, 0, MC_LENGTH_ALL, 2, &moved, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, move_flags, MPOL_MF_MOVE));
        cr_assert(eq(sz, moved, 300)); /* the even pages of each batch: 128 + 128 + 44 */
}

Test(numa, policy_allowed_numa_nodes) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        fake_topology();
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        set_nodes_policy(MC_NUMA_NODE(0) | MC_NUMA_NODE(1));
        cr_assert(eq(int,
                     mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, MC_NUMA_NODE(1) | MC_NUMA_NODE(2),
                                  MC_NUMA_INTERLEAVE, &err),
                     -EPERM));
        cr_assert(eq(int, err.kind, MC_ERR_POLICY_VIOLATION));
        cr_assert(ne(ptr, strstr(err.message, "allowed_numa_nodes"), NULL), "%s", err.message);
        cr_assert(ne(ptr, strstr(err.message, "node 2"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_numa_move(ctx, &m, 0, MC_LENGTH_ALL, 3, NULL, &err), -EPERM));
        cr_assert(eq(int, n_mbind, 0));
        cr_assert(eq(int,
                     mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, MC_NUMA_NODE(1), MC_NUMA_PREFERRED,
                                  &err),
                     0),
                  "%s", err.message);
        cr_assert(eq(int, mbind_mode, MPOL_PREFERRED));
        /* Local and default name no node: no node rule applies. */
        set_nodes_policy(0);
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 0, MC_NUMA_LOCAL, &err), 0), "%s",
                  err.message);
}

Test(numa, kernel_without_numa_is_unsupported) {
        mc_error err = MC_ERROR_INIT;
        mc_numa_info info;
        mc_mapping m;

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        mc_sys.get_mempolicy = failing_get_mempolicy;
        failing_errno = ENOSYS;
        mc_sys.mbind = failing_mbind;
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 1, MC_NUMA_BIND, &err), -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED), "%s", err.message);
        cr_assert(
                eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 0, MC_NUMA_LOCAL, &err), -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED), "%s", err.message);
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, NULL, 0, &info, &err), -ENOSYS));
        cr_assert(eq(int, err.kind, MC_ERR_UNSUPPORTED), "%s", err.message);
}

/* ---- arguments ------------------------------------------------------------------------------ */

Test(numa, bad_arguments) {
        mc_error err = MC_ERROR_INIT;
        mc_numa_info info;
        mc_mapping m, gone;

        fake_topology();
        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(
                eq(int, mc_numa_bind(ctx, NULL, 0, MC_LENGTH_ALL, 1, MC_NUMA_BIND, &err), -EINVAL));
        cr_assert(
                eq(int, mc_numa_bind(NULL, &m, 0, MC_LENGTH_ALL, 1, MC_NUMA_BIND, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 1, (mc_numa_mode) 99, &err),
                     -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 1, (mc_numa_mode) -1, &err),
                     -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 0, MC_NUMA_BIND, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 0, MC_NUMA_INTERLEAVE, &err),
                     -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 3, MC_NUMA_PREFERRED, &err),
                     -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "exactly one"), NULL), "%s", err.message);
        cr_assert(
                eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 1, MC_NUMA_LOCAL, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 1, MC_NUMA_DEFAULT, &err),
                     -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, page, 2 * page, 1, MC_NUMA_BIND, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, SIZE_MAX, 2, 1, MC_NUMA_BIND, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_bind(ctx, &m, 0, 0, 1, MC_NUMA_BIND, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_move(ctx, &m, 0, MC_LENGTH_ALL, -1, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_move(ctx, &m, 0, MC_LENGTH_ALL, 64, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, NULL, 0, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, NULL, 3, &info, &err), -EINVAL));
        cr_assert(eq(int, n_mbind, 0));
        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &gone);
        cr_assert(eq(int, mc_munmap(ctx, &gone, &err), 0));
        cr_assert(eq(int, mc_numa_bind(ctx, &gone, 0, MC_LENGTH_ALL, 1, MC_NUMA_BIND, &err),
                     -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(eq(str, (char *) mc_numa_mode_name(MC_NUMA_INTERLEAVE), "Interleave"));
        cr_assert(eq(ptr, (void *) mc_numa_mode_name(_MC_NUMA_MODE_MAX), NULL));
}

/* ---- audit and policy files ----------------------------------------------------------------- */

static audit_kept kept;

Test(numa, bind_and_move_are_audited_with_the_node_mask) {
        mc_error err = MC_ERROR_INIT;
        mc_numa_info info;
        mc_audit *audit;
        mc_mapping m;
        json_t *rq;

        fake_topology();
        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_audit_open_callback(audit_keep, &kept, &audit, NULL), 0));
        mc_ctx_set_audit(ctx, audit);
        cr_assert(
                eq(int, mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, 0xa, MC_NUMA_INTERLEAVE, &err), 0));
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, NULL, 0, &info, &err), 0));
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, 0, NULL, 0, &info, &err), -EINVAL));
        cr_assert(eq(int, mc_numa_move(ctx, &m, 0, MC_LENGTH_ALL, 2, NULL, &err), 0));
        cr_assert(eq(int, kept.n, 3)); /* the successful query is not recorded */

        cr_assert(eq(str, (char *) json_string_value(json_object_get(kept.rec[0], "operation")),
                     "numa_bind"));
        rq = json_object_get(kept.rec[0], "request");
        cr_assert(eq(str, (char *) json_string_value(json_object_get(rq, "numa_mode")),
                     "Interleave"));
        cr_assert(eq(sz, json_array_size(json_object_get(rq, "numa_nodes")), 2));
        cr_assert(eq(i64, json_integer_value(json_array_get(json_object_get(rq, "numa_nodes"), 0)),
                     1));
        cr_assert(eq(i64, json_integer_value(json_array_get(json_object_get(rq, "numa_nodes"), 1)),
                     3));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(kept.rec[1], "operation")),
                     "numa_query"));
        cr_assert(eq(str, (char *) json_string_value(json_object_get(kept.rec[1], "outcome")),
                     "error"));
        rq = json_object_get(kept.rec[2], "request");
        cr_assert(eq(i64, json_integer_value(json_array_get(json_object_get(rq, "numa_nodes"), 0)),
                     2));
        audit_kept_free(&kept);
}

Test(numa, policy_file_field) {
        static const char two[] = "{\"allowed_numa_nodes\": [0, 2]}";
        static const char *const bad[] = {
                "{\"allowed_numa_nodes\": [64]}", "{\"allowed_numa_nodes\": [-1]}",
                "{\"allowed_numa_nodes\": [\"0\"]}", "{\"allowed_numa_nodes\": 1}"};
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL, *q = NULL;
        char *json = NULL;

        cr_assert(eq(int, mc_policy_load_string(two, strlen(two), NULL, &p, &err), 0), "%s",
                  err.message);
        cr_assert(eq(u64, mc_policy_allowed_numa_nodes(p), 5));
        cr_assert(eq(int, mc_policy_to_json(p, &json, &err), 0));
        cr_assert(eq(int, mc_policy_load_string(json, strlen(json), NULL, &q, &err), 0), "%s",
                  err.message);
        cr_assert(eq(u64, mc_policy_allowed_numa_nodes(q), 5));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                mc_policy *r = NULL;
                cr_assert(eq(int, mc_policy_load_string(bad[i], strlen(bad[i]), NULL, &r, &err),
                             -EINVAL),
                          "%s", bad[i]);
                cr_assert(ne(ptr, strstr(err.message, "allowed_numa_nodes"), NULL), "%s",
                          err.message);
        }
        cr_assert(eq(int, mc_policy_set_allowed_numa_nodes(NULL, 1), -EINVAL));
        cr_assert(eq(u64, mc_policy_allowed_numa_nodes(NULL), UINT64_MAX));
        free(json);
        mc_policy_free(p);
        mc_policy_free(q);
}

/* ---- placement at map time ------------------------------------------------------------------ */

static int n_munmap;
static int count_munmap(void *addr, size_t len) {
        n_munmap++;
        return munmap(addr, len);
}

Test(numa, placed_at_map_time) {
        mc_map_request req = MC_MAP_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_numa_info info;
        mc_usage u;
        mc_mapping m;

        req.length = 2 * page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS;
        req.numa_mode = MC_NUMA_BIND;
        req.numa_nodes = MC_NUMA_NODE(0);
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_numa_query(ctx, &m, 0, MC_LENGTH_ALL, NULL, 0, &info, &err), 0));
        cr_assert(eq(int, info.mode, MC_NUMA_BIND));
        cr_assert(eq(u64, info.nodes, 1));
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));

        /* The shape of the mask is checked first, the policy's nodes next. */
        req.numa_nodes = 0;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EINVAL));
        req.numa_mode = MC_NUMA_DEFAULT;
        req.numa_nodes = 1;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EINVAL));
        set_nodes_policy(MC_NUMA_NODE(1));
        req.numa_mode = MC_NUMA_BIND;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EPERM));
        cr_assert(ne(ptr, strstr(err.message, "allowed_numa_nodes"), NULL), "%s", err.message);

        /* A kernel that refuses the placement leaves no mapping behind. */
        set_nodes_policy(UINT64_MAX);
        failing_errno = EINVAL;
        mc_sys.mbind = failing_mbind;
        mc_sys.munmap = count_munmap;
        cr_assert(eq(int, mc_mmap(ctx, &req, &m, &err), -EINVAL));
        cr_assert(eq(int, n_munmap, 1));
        cr_assert(ne(ptr, strstr(err.message, "NUMA placement"), NULL), "%s", err.message);
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mappings, 0));
        cr_assert(eq(u64, u.mapped_bytes, 0));
}

/* ---- memcap maps ------------------------------------------------------------------------------
 */

Test(numa, memcap_maps_shows_the_policy_and_the_nodes) {
        mc_error err = MC_ERROR_INIT;
        run_result r = {0};
        json_t *a, *found = NULL;
        const char *numa;
        char pid[16], start[32];
        mc_mapping m;
        size_t i;
        json_t *v;

        anon_map_ok(ctx, 3 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int,
                     mc_numa_bind(ctx, &m, 0, MC_LENGTH_ALL, MC_NUMA_NODE(0), MC_NUMA_BIND, &err),
                     0),
                  "%s", err.message);
        memset(m.ptr, 1, 2 * page);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        snprintf(start, sizeof(start), "0x%" PRIxPTR, (uintptr_t) m.base);
        run_full(&r, NULL, 0, NULL, 0, (const char *const[]){"maps", pid, "--json", NULL});
        cr_assert(eq(int, r.status, 0), "%s", r.err);
        a = json_loads(r.out, 0, NULL);
        cr_assert(ne(ptr, a, NULL), "%s", r.out);
        json_array_foreach(a, i, v) {
                const char *s = json_string_value(json_object_get(v, "start"));
                if (s && streq(s, start))
                        found = v;
        }
        cr_assert(ne(ptr, found, NULL), "no mapping at %s in %s", start, r.out);
        numa = json_string_value(json_object_get(found, "numa"));
        cr_assert(ne(ptr, (void *) numa, NULL), "no NUMA column in %s", r.out);
        cr_assert(eq(str, (char *) numa, "bind:0 N0=2"));
        json_decref(a);
        run_result_done(&r);

        /* The table has the column too. */
        run_full(&r, NULL, 0, NULL, 0, (const char *const[]){"maps", pid, NULL});
        cr_assert(eq(int, r.status, 0), "%s", r.err);
        cr_assert(ne(ptr, strstr(r.out, "NUMA"), NULL), "%s", r.out);
        cr_assert(ne(ptr, strstr(r.out, "bind:0 N0=2"), NULL), "%s", r.out);
        run_result_done(&r);
}
