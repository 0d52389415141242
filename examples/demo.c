/* SPDX-License-Identifier: MIT */
/*
 * memcap-demo: what `make demo` runs. A short, end-to-end tour of the library through its
 * public API only:
 *   1. two processes map one file shared; one's write is seen by the other at once;
 *   2. the policy refuses write+execute and MAP_FIXED, with messages that say why;
 *   3. the file is truncated under a mapping: a guarded read returns an Io error, no SIGBUS;
 *   4. every operation above left one audit record, printed at the end.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memcap/memcap.h>

#include "demo-util.h"

static void step(const char *title) {
        printf("\n== %s\n", title);
}

static int fail(const char *what, const mc_error *err) {
        fprintf(stderr, "memcap-demo: %s: %s (%s)\n", what, err->message,
                mc_error_kind_name(err->kind));
        return 1;
}

/* The second process: maps the file on its own, waits for the parent's word, reads it. */
static int child(const char *path, int ready_fd, int done_fd) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        mc_ctx *ctx;
        char buf[64] = {0};
        char c;

        if (mc_ctx_new(&ctx, &err) < 0)
                return fail("child: mc_ctx_new", &err);
        if (mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err) < 0)
                return fail("child: mc_map_file", &err);
        if (write(ready_fd, "r", 1) != 1 || read(done_fd, &c, 1) != 1)
                return 1;
        if (mc_map_read(ctx, &m, 0, buf, sizeof(buf) - 1, &err) < 0)
                return fail("child: mc_map_read", &err);
        printf("  [pid %d] reads from its own mapping: \"%s\"\n", (int) getpid(), buf);
        mc_ctx_free(ctx);
        return strcmp(buf, "hello from the other process") == 0 ? 0 : 1;
}

int main(void) {
        char dir[] = "/tmp/memcap-demo-XXXXXX", path[64], log[64], line[4096];
        int to_parent[2], to_child[2], status, fd;
        mc_error err = MC_ERROR_INIT;
        mc_audit *audit;
        mc_mapping m, m2;
        mc_ctx *ctx;
        pid_t pid;
        char c;

        if (!mkdtemp(dir))
                return perror("mkdtemp"), 1;
        snprintf(path, sizeof(path), "%s/shared.dat", dir);
        snprintf(log, sizeof(log), "%s/audit.jsonl", dir);
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, 4096) < 0)
                return perror(path), 1;

        printf("memcap %s demo (working in %s)\n", mc_version(), dir);
        if (mc_ctx_new(&ctx, &err) < 0 || mc_audit_open_file(log, 0, &audit, &err) < 0)
                return fail("setup", &err);
        mc_ctx_set_audit(ctx, audit);

        step("1. one file, two processes, one page cache");
        if (mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &m, &err) < 0)
                return fail("mc_map_file", &err);
        printf("  [pid %d] mapped %s shared, %zu bytes at %p\n", (int) getpid(), path, m.len,
               m.ptr);
        if (pipe2(to_parent, O_CLOEXEC) < 0 || pipe2(to_child, O_CLOEXEC) < 0)
                return perror("pipe2"), 1;
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return perror("fork"), 1;
        if (pid == 0)
                _exit(child(path, to_parent[1], to_child[0]));
        if (read(to_parent[0], &c, 1) != 1)
                return 1;
        if (mc_map_write(ctx, &m, 0, "hello from the other process", 29, &err) < 0)
                return fail("mc_map_write", &err);
        printf("  [pid %d] wrote through its mapping (no msync, no write(2))\n", (int) getpid());
        fflush(stdout);
        if (write(to_child[1], "w", 1) != 1 || waitpid(pid, &status, 0) != pid)
                return 1;
        printf("  child exited with status %d: %s\n", WEXITSTATUS(status),
               WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "it saw the write" : "FAILED");

        step("2. the policy says no, and says why");
        if (mc_mprotect(ctx, &m, MC_PROT_READ_WRITE_EXECUTE, &err) < 0)
                printf("  mprotect to rwx -> %s:\n    %s\n", mc_error_kind_name(err.kind),
                       err.message);
        {
                mc_map_request req = MC_MAP_REQUEST_INIT;
                req.addr = m.base;
                req.length = 4096;
                req.prot = MC_PROT_READ_WRITE;
                req.flags = MC_MAP_ANONYMOUS | MC_MAP_FIXED;
                if (mc_mmap(ctx, &req, &m2, &err) < 0)
                        printf("  mmap MAP_FIXED over it -> %s:\n    %s\n",
                               mc_error_kind_name(err.kind), err.message);
        }

        step("3. the file shrinks under the mapping");
        if (ftruncate(fd, 0) < 0)
                return perror("ftruncate"), 1;
        if (mc_map_read(ctx, &m, 0, line, 16, &err) < 0)
                printf("  guarded read after truncation -> %s, and the process lives:\n    %s\n",
                       mc_error_kind_name(err.kind), err.message);
        if (mc_unmap(ctx, &m, &err) < 0)
                return fail("mc_unmap", &err);
        close(fd);
        mc_ctx_free(ctx);

        step("4. the audit log: one JSON line per operation, allowed or denied");
        demo_print_file(log, /* only= */ NULL);

        unlink(log);
        unlink(path);
        rmdir(dir);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
