/* SPDX-License-Identifier: MIT */
/*
 * The policy's vocabulary: the names of operations and signal targets as policy files, audit
 * records and the CLI spell them, and the size parser ("64M", "1GiB") the policy and the CLI
 * share.
 */

#include <stdio.h>

#include "internal.h"
#include "policy-def.h"
#include "strv.h"

/* ---- names ----------------------------------------------------------------------------------- */

static const char *const op_names[_MC_OP_MAX] = {
        [MC_OP_MMAP] = "mmap",
        [MC_OP_MUNMAP] = "munmap",
        [MC_OP_MPROTECT] = "mprotect",
        [MC_OP_MSYNC] = "msync",
        [MC_OP_MREMAP] = "mremap",
        [MC_OP_MADVISE] = "madvise",
        [MC_OP_MLOCK] = "mlock",
        [MC_OP_MUNLOCK] = "munlock",
        [MC_OP_SHM_OPEN] = "shm_open",
        [MC_OP_SHM_CLOSE] = "shm_close",
        [MC_OP_SHM_UNLINK] = "shm_unlink",
        [MC_OP_SHM_RESIZE] = "shm_resize",
        [MC_OP_SHM_SEAL] = "shm_seal",
        [MC_OP_SIGNAL_REGISTER] = "signal_register",
        [MC_OP_SIGNAL_UNREGISTER] = "signal_unregister",
        [MC_OP_SIGNAL_MASK] = "signal_mask",
        [MC_OP_SIGNAL_UNMASK] = "signal_unmask",
        [MC_OP_SIGNAL_SEND] = "signal_send",
        [MC_OP_SIGNAL_RAISE] = "signal_raise",
        [MC_OP_SIGNAL_WAIT] = "signal_wait",
        [MC_OP_SIGNAL_DELIVER] = "signal_deliver",
        [MC_OP_UFFD_REGISTER] = "uffd_register",
        [MC_OP_UFFD_UNREGISTER] = "uffd_unregister",
        [MC_OP_NUMA_BIND] = "numa_bind",
        [MC_OP_NUMA_QUERY] = "numa_query",
        [MC_OP_NUMA_MOVE] = "numa_move",
};

const char *mc_op_name(mc_op op) {
        if ((unsigned) op >= _MC_OP_MAX)
                return NULL;
        return op_names[op];
}

const char *mc__op_name(mc_op op) {
        if (op == MC__OP_MMAP_FD)
                return "mmap_fd";
        if (op == MC__OP_MMAP_LIST)
                return "mmap_list";
        return mc_op_name(op);
}

int mc_op_from_name(const char *name, mc_op *ret_op) {
        ssize_t i = strv_index(op_names, _MC_OP_MAX, name);

        if (i < 0 || !ret_op)
                return -EINVAL;
        *ret_op = (mc_op) i;
        return 0;
}

static const struct {
        unsigned bit;
        const char *name;
} target_names[] = {
        {MC_TARGET_SELF, "self"},
        {MC_TARGET_CHILDREN, "children"},
        {MC_TARGET_PROCESS_GROUP, "process_group"},
        {MC_TARGET_SAME_UID, "same_uid"},
        {MC_TARGET_ANY, "any"},
        {MC_TARGET_WHOLE_GROUP, "whole_group"},
        {MC_TARGET_BROADCAST, "broadcast"},
        {MC_TARGET_INIT, "init"},
};

const char *mc__policy_target_name(unsigned target) {
        for (size_t i = 0; i < ELEMENTSOF(target_names); i++)
                if (target_names[i].bit == target)
                        return target_names[i].name;
        return NULL;
}

unsigned mc__policy_target_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(target_names); i++)
                if (streq(target_names[i].name, name))
                        return target_names[i].bit;
        return 0;
}

/* "self, children" for a set of targets, into @buf; "none" for the empty set. */
const char *mc__policy_targets_string(unsigned targets, char *buf, size_t size) {
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(target_names); i++) {
                int k;

                if (!(targets & target_names[i].bit))
                        continue;
                k = snprintf(buf + n, size - n, "%s%s", n > 0 ? ", " : "", target_names[i].name);
                if (k < 0 || (size_t) k >= size - n)
                        break;
                n += (size_t) k;
        }
        if (n == 0)
                strscpy(buf, size, "none");
        return buf;
}

/* "\"a\"", "\"a\" and \"b\"", "\"a\", \"b\" and \"c\"" for a set of targets, into @buf. */
const char *mc__policy_targets_quoted(unsigned targets, char *buf, size_t size) {
        unsigned left = targets;
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(target_names) && left; i++) {
                const char *sep;
                int k;

                if (!(left & target_names[i].bit))
                        continue;
                left &= ~target_names[i].bit;
                sep = n == 0 ? "" : left ? ", " : " and ";
                k = snprintf(buf + n, size - n, "%s\"%s\"", sep, target_names[i].name);
                if (k < 0 || (size_t) k >= size - n)
                        break;
                n += (size_t) k;
        }
        return buf;
}

/* ---- sizes ----------------------------------------------------------------------------------- */

int mc_parse_size(const char *text, uint64_t *ret_bytes) {
        static const char units[] = "KMGTPE";
        const char *s = text, *u;
        uint64_t v = 0;
        unsigned shift = 0;

        if (!text || !ret_bytes)
                return -EINVAL;
        if (*s < '0' || *s > '9')
                return -EINVAL;
        for (; *s >= '0' && *s <= '9'; s++)
                if (MC_MUL_OVERFLOW(v, 10, &v) || MC_ADD_OVERFLOW(v, (uint64_t) (*s - '0'), &v))
                        return -ERANGE;
        if (*s != 0) {
                u = strchr(units, *s);
                if (!u)
                        return -EINVAL;
                shift = 10 * (unsigned) (u - units + 1);
                s++;
                if (s[0] == 'i' && s[1] == 'B')
                        s += 2;
                if (*s != 0)
                        return -EINVAL;
        }
        if (shift > 0 && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret_bytes = v << shift;
        return 0;
}
