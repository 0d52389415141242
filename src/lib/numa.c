/* SPDX-License-Identifier: MIT */
/*
 * NUMA placement (numa.h): mbind(2), get_mempolicy(2) and move_pages(2) on a range of a memcap
 * mapping, each through the choke point and the seam, with no libnuma: three system calls do
 * not need a library, and the seam is what lets the tests fake a machine with several nodes.
 *
 * Sections: modes and masks, the range, bind, query, move.
 */

#include <inttypes.h>
#include <linux/mempolicy.h>
#include <stdio.h>

#include "map-def.h"

/* ---- modes and masks ------------------------------------------------------------------------ */

/* The kernel takes maxnode - 1 bits: one more than the 64 nodes memcap handles. */
#define MAXNODE 65
/* Pages asked about or moved per move_pages(2) call: bounded stack arrays. */
#define CHUNK 256

static const struct mode_def {
        const char *name;
        int mpol;
} modes[_MC_NUMA_MODE_MAX] = {
        [MC_NUMA_DEFAULT] = {"Default", MPOL_DEFAULT},
        [MC_NUMA_BIND] = {"Bind", MPOL_BIND},
        [MC_NUMA_PREFERRED] = {"Preferred", MPOL_PREFERRED},
        [MC_NUMA_INTERLEAVE] = {"Interleave", MPOL_INTERLEAVE},
        [MC_NUMA_LOCAL] = {"Local", MPOL_LOCAL},
};

const char *mc_numa_mode_name(mc_numa_mode mode) {
        if ((unsigned) mode >= _MC_NUMA_MODE_MAX)
                return NULL;
        return modes[mode].name;
}

/*
 * The kernel's policy as memcap names it. Newer kernels' variants read as their nearest
 * relative: preferred-many as Preferred, weighted interleave as Interleave.
 */
static mc_numa_mode mode_from_mpol(int mpol) {
        switch (mpol & 0xff) { /* the MPOL_F_* mode flags live in the high bits */
        case MPOL_BIND:
                return MC_NUMA_BIND;
        case MPOL_PREFERRED:
        case 5: /* MPOL_PREFERRED_MANY */
                return MC_NUMA_PREFERRED;
        case MPOL_INTERLEAVE:
        case 6: /* MPOL_WEIGHTED_INTERLEAVE */
                return MC_NUMA_INTERLEAVE;
        case MPOL_LOCAL:
                return MC_NUMA_LOCAL;
        default:
                return MC_NUMA_DEFAULT;
        }
}

/* "0,2-3" for messages. */
static const char *mask_string(uint64_t mask, char *buf, size_t size) {
        size_t n = 0;

        buf[0] = 0;
        for (int i = 0; i < 64 && n < size; i++) {
                int j = i;

                if (!(mask & MC_NUMA_NODE(i)))
                        continue;
                while (j < 63 && (mask & MC_NUMA_NODE(j + 1)))
                        j++;
                n += (size_t) snprintf(buf + n, size - n, j > i ? "%s%d-%d" : "%s%d", n ? "," : "",
                                       i, j);
                i = j;
        }
        if (!buf[0])
                snprintf(buf, size, "none");
        return buf;
}

/* The nodes this process may use (its cpuset's mems_allowed). Returns 0 or -errno. */
static int allowed_nodes(const char *op, uint64_t *ret, mc_error *err) {
        unsigned long mask[2] = {0, 0};

        if (mc_sys.get_mempolicy(NULL, mask, MAXNODE, NULL, MPOL_F_MEMS_ALLOWED) < 0) {
                if (errno == ENOSYS)
                        return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                                             "%s: the kernel has no NUMA support", op);
                return mc__error_errno(err, errno, "%s: get_mempolicy(MPOL_F_MEMS_ALLOWED)", op);
        }
        *ret = (uint64_t) mask[0];
        return 0;
}

/* ---- the range ------------------------------------------------------------------------------ */

typedef struct numa_args {
        entry_args ea; /* first: mc__map_lookup_prepare() reads it */
        uint64_t nodes;
        mc_numa_mode mode;
        int node;        /* move: the target */
        uintptr_t start; /* the whole pages of the range */
        size_t pages;
        int *ret_nodes; /* query */
        size_t n_nodes;
        mc_numa_info info; /* query */
        size_t moved;      /* move */
} numa_args;

/* Find the mapping and the whole pages of the range; check @nodes against mems_allowed. */
static int range_prepare(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        numa_args *a = data;
        const char *op = mc_op_name(c->op);
        size_t p0, p1, len = a->ea.len;
        uint64_t allowed = 0;
        int r = mc__map_lookup_prepare(ctx, c, data, err);

        if (r < 0)
                return r;
        r = mc__range_check(op, a->ea.e, a->ea.off, &len, err);
        if (r < 0)
                return r;
        if (a->ea.e->kind == MC__KIND_EMPTY || len == 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: " MAPPING_FMT " has no pages", op, MAPPING_ARGS(a->ea.m));
        mc__range_pages(a->ea.e, a->ea.off, len, &p0, &p1);
        a->start = a->ea.e->base + p0 * a->ea.e->page;
        a->pages = p1 - p0;
        /* move_pages(2) counts in base pages whatever the mapping's page size. */
        a->pages *= a->ea.e->page / (size_t) mc_page_size();
        c->req.length = len;
        if (!a->nodes)
                return 0;
        r = allowed_nodes(op, &allowed, err);
        if (r < 0)
                return r;
        if (a->nodes & ~allowed) {
                char want[96], have[96];
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: node(s) %s are not available to this process (it may "
                                     "use %s)",
                                     op, mask_string(a->nodes & ~allowed, want, sizeof(want)),
                                     mask_string(allowed, have, sizeof(have)));
        }
        return 0;
}

static void numa_call_init(mc__call *c, mc_op op, const mc_mapping *m, size_t offset, size_t length,
                           uint64_t nodes) {
        mc__call_init(c, op, MC__CAP_MEMORY);
        mc__call_set_range(c, m, length);
        c->fields |= MC__F_OFFSET | MC__F_NODES;
        c->req.offset = offset;
        c->req.nodes = nodes;
        c->req.numa_mode = NULL;
}

/* ---- bind ----------------------------------------------------------------------------------- */

static int bind_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        numa_args *a = data;
        unsigned long mask[2] = {(unsigned long) a->nodes, 0};
        bool none = a->mode == MC_NUMA_DEFAULT || a->mode == MC_NUMA_LOCAL;

        (void) ctx;
        (void) c;
        if (mc_sys.mbind((void *) a->start, a->pages * (size_t) mc_page_size(), modes[a->mode].mpol,
                         none ? NULL : mask, none ? 0 : MAXNODE, 0) < 0) {
                if (errno == ENOSYS)
                        return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                                             "numa_bind: the kernel has no NUMA support");
                return mc__error_errno(err, errno, "numa_bind %s " MAPPING_FMT, modes[a->mode].name,
                                       MAPPING_ARGS(a->ea.m));
        }
        return 0;
}

static const mc__steps bind_steps = {.prepare = range_prepare, .syscall = bind_syscall};

/* The shape of a mode's node mask (numa.h). */
static int mode_check(const char *op, uint64_t nodes, mc_numa_mode mode, mc_error *err) {
        if ((unsigned) mode >= _MC_NUMA_MODE_MAX)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: unknown NUMA mode %d", op, (int) mode);
        if ((mode == MC_NUMA_DEFAULT || mode == MC_NUMA_LOCAL) && nodes)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: %s takes no nodes (got mask 0x%" PRIx64 ")", op,
                                     modes[mode].name, nodes);
        if ((mode == MC_NUMA_BIND || mode == MC_NUMA_INTERLEAVE) && !nodes)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: %s needs at least one node", op, modes[mode].name);
        if (mode == MC_NUMA_PREFERRED && (!nodes || (nodes & (nodes - 1))))
                return mc__error_set(
                        err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                        "%s: Preferred takes exactly one node (got mask 0x%" PRIx64 ")", op, nodes);
        return 0;
}

int mc__numa_check(const char *op, uint64_t nodes, int mode, mc_error *err) {
        return mode_check(op, nodes, (mc_numa_mode) mode, err);
}

const char *mc__numa_mode_name(int mode) {
        return mc_numa_mode_name((mc_numa_mode) mode);
}

int mc__numa_place(void *addr, size_t len, uint64_t nodes, int mode) {
        unsigned long mask[2] = {(unsigned long) nodes, 0};
        bool none = mode == MC_NUMA_DEFAULT || mode == MC_NUMA_LOCAL;

        if (mc_sys.mbind(addr, len, modes[mode].mpol, none ? NULL : mask, none ? 0 : MAXNODE, 0) <
            0)
                return -errno;
        return 0;
}

int mc_numa_bind(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, uint64_t nodes,
                 mc_numa_mode mode, mc_error *err) {
        MC__ERROR_LOCAL(e);
        numa_args a = {.ea = {.m = m, .off = offset, .len = length}, .nodes = nodes, .mode = mode};
        mc__call c;
        int r;

        numa_call_init(&c, MC_OP_NUMA_BIND, m, offset, length, nodes);
        c.req.numa_mode = mc_numa_mode_name(mode) ? mc_numa_mode_name(mode) : "Unknown";
        r = mc__mapping_check("numa_bind", m, &e);
        if (r >= 0)
                r = mode_check("numa_bind", nodes, mode, &e);
        return mc__ctx_run(ctx, &c, r, &e, &bind_steps, &a, err);
}

/* ---- query ---------------------------------------------------------------------------------- */

static int query_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        numa_args *a = data;
        unsigned long mask[2] = {0, 0};
        size_t ps = (size_t) mc_page_size();
        int mpol = 0;

        (void) ctx;
        (void) c;
        if (mc_sys.get_mempolicy(&mpol, mask, MAXNODE, (void *) a->start, MPOL_F_ADDR) < 0) {
                if (errno == ENOSYS)
                        return mc__error_set(err, MC_ERR_UNSUPPORTED, ENOSYS,
                                             "numa_query: the kernel has no NUMA support");
                return mc__error_errno(err, errno, "numa_query: get_mempolicy " MAPPING_FMT,
                                       MAPPING_ARGS(a->ea.m));
        }
        a->info.mode = mode_from_mpol(mpol);
        a->info.nodes = (uint64_t) mask[0];
        a->info.pages = a->pages;
        for (size_t i = 0; i < a->pages; i += CHUNK) {
                size_t n = MC_MIN((size_t) CHUNK, a->pages - i);
                void *pages[CHUNK];
                int status[CHUNK];

                for (size_t j = 0; j < n; j++)
                        pages[j] = (void *) (a->start + (i + j) * ps);
                if (mc_sys.move_pages(0, n, pages, NULL, status, 0) < 0)
                        return mc__error_errno(err, errno, "numa_query: move_pages " MAPPING_FMT,
                                               MAPPING_ARGS(a->ea.m));
                for (size_t j = 0; j < n; j++) {
                        if (status[j] >= 0) {
                                a->info.resident++;
                                if (status[j] < 64)
                                        a->info.present |= MC_NUMA_NODE(status[j]);
                        }
                        if (a->ret_nodes && i + j < a->n_nodes)
                                a->ret_nodes[i + j] = status[j];
                }
        }
        return 0;
}

/* A query only looks: audited when it fails, not on every success. */
static const mc__steps query_steps = {
        .prepare = range_prepare, .syscall = query_syscall, .flags = MC__RUN_AUDIT_FAILURES};

int mc_numa_query(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, int *ret_nodes,
                  size_t n_nodes, mc_numa_info *ret, mc_error *err) {
        MC__ERROR_LOCAL(e);
        numa_args a = {.ea = {.m = m, .off = offset, .len = length},
                       .ret_nodes = ret_nodes,
                       .n_nodes = n_nodes};
        mc__call c;
        int r;

        numa_call_init(&c, MC_OP_NUMA_QUERY, m, offset, length, 0);
        c.fields &= ~(unsigned) MC__F_NODES;
        r = mc__mapping_check("numa_query", m, &e);
        if (r >= 0 && (!ret || (n_nodes && !ret_nodes)))
                r = mc__error_set(&e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "numa_query: ret must not be NULL, nor ret_nodes when n_nodes "
                                  "is not 0");
        r = mc__ctx_run(ctx, &c, r, &e, &query_steps, &a, err);
        if (r >= 0)
                *ret = a.info;
        return r;
}

/* ---- move ----------------------------------------------------------------------------------- */

static int move_syscall(mc_ctx *ctx, mc__call *c, void *data, mc_error *err) {
        numa_args *a = data;
        size_t ps = (size_t) mc_page_size();

        (void) ctx;
        (void) c;
        for (size_t i = 0; i < a->pages; i += CHUNK) {
                size_t n = MC_MIN((size_t) CHUNK, a->pages - i);
                void *pages[CHUNK];
                int nodes[CHUNK], status[CHUNK];

                for (size_t j = 0; j < n; j++) {
                        pages[j] = (void *) (a->start + (i + j) * ps);
                        nodes[j] = a->node;
                }
                /* A positive return counts pages not moved; status says which and why. */
                if (mc_sys.move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE) < 0)
                        return mc__error_errno(err, errno, "numa_move to node %d " MAPPING_FMT,
                                               a->node, MAPPING_ARGS(a->ea.m));
                for (size_t j = 0; j < n; j++)
                        a->moved += status[j] == a->node;
        }
        return 0;
}

static const mc__steps move_steps = {.prepare = range_prepare, .syscall = move_syscall};

int mc_numa_move(mc_ctx *ctx, const mc_mapping *m, size_t offset, size_t length, int node,
                 size_t *ret_moved, mc_error *err) {
        MC__ERROR_LOCAL(e);
        numa_args a = {.ea = {.m = m, .off = offset, .len = length}, .node = node};
        mc__call c;
        int r;

        r = mc__mapping_check("numa_move", m, &e);
        if (r >= 0 && (node < 0 || node > 63))
                r = mc__error_set(&e, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                  "numa_move: node %d is outside 0..63", node);
        a.nodes = r >= 0 ? MC_NUMA_NODE(node) : 0;
        numa_call_init(&c, MC_OP_NUMA_MOVE, m, offset, length, a.nodes);
        r = mc__ctx_run(ctx, &c, r, &e, &move_steps, &a, err);
        if (r >= 0 && ret_moved)
                *ret_moved = a.moved;
        return r;
}
