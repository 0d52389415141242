/* SPDX-License-Identifier: MIT */
#include "daemon-suite.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Send @n copies of @req (no newline), each as a line, in one go. */
void send_copies(cl *c, const char *req, int n) {
        size_t len = strlen(req);
        char *batch = malloc((len + 1) * (size_t) n);

        cr_assert(not(eq(ptr, batch, NULL)));
        for (int i = 0; i < n; i++) {
                memcpy(batch + (len + 1) * (size_t) i, req, len);
                batch[(len + 1) * (size_t) i + len] = '\n';
        }
        /* A reader thread is not needed: the requests are small enough for the socket buffer. */
        cr_assert(eq(int, cl_send(c, batch, (len + 1) * (size_t) n), 0));
        free(batch);
}

/* Send @n copies of @req in one go, then read them all back; every reply must equal @want. */
void pipeline_and_drain(cl *c, const char *req, int n, const char *want, bool half_close) {
        send_copies(c, req, n);
        if (half_close)
                cr_assert(eq(int, shutdown(c->fd, SHUT_WR), 0));
        for (int i = 0; i < n; i++) {
                int r = cl_recv_line(c, REPLY_TIMEOUT_MS);
                cr_assert(eq(int, r, 0), "reply %d of %d: %s", i + 1, n, strerror(-r));
                cr_assert(eq(str, c->line, (char *) want), "reply %d", i + 1);
        }
}

void expect_refused(cl *c, const char *path, const char *kind) {
        const char *got = call(c, S("{\"Mmap\":{\"path\":\"%s\",\"prot\":1}}", path));

        cr_assert(starts_with(got, S("{\"status\":\"error\",\"kind\":\"%s\",\"code\":"
                                     "\"core.memory.%s\",\"message\":\"Mmap failed: ",
                                     kind, kind)),
                  "%s: %s", path, got);
        cr_assert(contains(got, "\"errno\":"), "%s: %s", path, got);
}

void make_escapes(void) {
        cr_assert(eq(int, symlink("/etc/passwd", root_path("/data/abs")), 0));
        cr_assert(
                eq(int, symlink("../../../../../../../../etc/passwd", root_path("/data/rel")), 0));
        cr_assert(eq(int, symlink("../..", root_path("/data/up")), 0));
        cr_assert(eq(int, symlink("/proc/self/root", root_path("/data/magic")), 0));
        cr_assert(eq(int, symlink(root_path("/data/small"), root_path("/data/abs_inside")), 0));
        cr_assert(eq(int, symlink("small", root_path("/data/inside")), 0));
        cr_assert(eq(int, symlink("../data/./small", root_path("/data/inside2")), 0));
        cr_assert(eq(int, symlink("loop", root_path("/data/loop")), 0));
}

void expect_escapes_refused(cl *c) {
        expect_refused(c, "/../x", "PermissionDenied");
        expect_refused(c, "/../../etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/../../etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/../..", "PermissionDenied");
        expect_refused(c, "/data/abs", "PermissionDenied");
        expect_refused(c, "/data/rel", "PermissionDenied");
        expect_refused(c, "/data/up/etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/magic/etc/passwd", "PermissionDenied");
        expect_refused(c, "/data/magic", "PermissionDenied");
        expect_refused(c, "/data/abs_inside", "PermissionDenied");
        expect_refused(c, "/data/loop", "PermissionDenied");
}

uint64_t daemon_cpu_ticks(void) {
        char *st = slurp(S("/proc/%d/stat", (int) D.pid));
        char *p = strrchr(st, ')');
        unsigned long long ut = 0, stime = 0;

        cr_assert(not(eq(ptr, p, NULL)));
        cr_assert(eq(
                int,
                sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &stime),
                2));
        free(st);
        return ut + stime;
}

char *base64_read_reply(const uint8_t *bytes, size_t n) {
        char *b64 = base64(bytes, n);
        size_t size = strlen(b64) + 64;
        char *reply = malloc(size);

        cr_assert(not(eq(ptr, reply, NULL)));
        snprintf(reply, size, "{\"status\":\"success\",\"data\":\"%s\"}", b64);
        free(b64);
        return reply;
}

const char *mapping_json(uint64_t id, const char *path, uint64_t offset, uint64_t length,
                         const char *prot, const char *flags, int owner_pid) {
        cr_assert(eq(sz, strlen(prot), 3), "prot is like \"rw-\", not '%s'", prot);
        return S("{\"id\":%" PRIu64 ",\"path\":%s%s%s,\"offset\":%" PRIu64 ",\"length\":%" PRIu64
                 ",\"prot\":{\"read\":%s,\"write\":%s,\"exec\":%s},\"flags\":\"%s\","
                 "\"owner_pid\":%d}",
                 id, path ? "\"" : "", path ? path : "null", path ? "\"" : "", offset, length,
                 prot[0] == 'r' ? "true" : "false", prot[1] == 'w' ? "true" : "false",
                 prot[2] == 'x' ? "true" : "false", flags, owner_pid);
}

const char *stats_reply(uint64_t id, const char *path, uint64_t offset, uint64_t length,
                        const char *prot, const char *flags, int owner_pid) {
        return S("{\"status\":\"success\",\"data\":%s}",
                 mapping_json(id, path, offset, length, prot, flags, owner_pid));
}

void read_64k_pipelined(cl *c, const uint8_t *bytes, int id, int n, bool half_close) {
        char *want = base64_read_reply(bytes, 65536);

        mmap_ok(c, "{\"Mmap\":{\"path\":\"/data/64k\",\"prot\":1}}");
        pipeline_and_drain(c,
                           S("{\"MmapRead\":{\"mmap_id\":%d,\"offset\":0,\"length\":65536,"
                             "\"encoding\":\"base64\"}}",
                             id),
                           n, want, half_close);
        free(want);
}
