/* SPDX-License-Identifier: MIT */
/*
 * memcap-demo-uffd: three uses of userfaultfd through memcap (uffd.h), each under a policy that
 * allows it, with the audit log on stderr.
 *
 * 1. Snapshot restore: a memory image saved to a file is restored lazily; a page is read from
 *    the file only when the program first touches it.
 * 2. First-touch guard: count which pages of a buffer a piece of code touches at all.
 * 3. Dirty tracking: after a checkpoint, learn which pages were written since (write-protect).
 *
 * Needs a kernel with userfaultfd and UFFDIO_POISON (Linux 6.6) and the right to use it; prints
 * the reason and exits 1 otherwise.
 */

#include <fcntl.h>
#include <memcap/memcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGES 8

static mc_ctx *ctx;
static size_t page;

static int fail(const char *what, const mc_error *err) {
        fprintf(stderr, "memcap-demo-uffd: %s: %s (%s)\n", what, err->message,
                mc_error_kind_name(err->kind));
        return 1;
}

static int map_anon(mc_mapping *m, mc_error *err) {
        mc_map_request req = MC_MAP_REQUEST_INIT;

        req.length = PAGES * page;
        req.prot = MC_PROT_READ_WRITE;
        req.flags = MC_MAP_ANONYMOUS;
        return mc_mmap(ctx, &req, m, err);
}

/* ---- 1. snapshot restore -------------------------------------------------------------------- */

static mc_uffd_action restore_page(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        int fd = *(int *) ud;

        if (pread(fd, buf, size, (off_t) f->offset) != (ssize_t) size)
                return MC_UFFD_FAIL; /* the thread gets SIGBUS, not a page of garbage */
        return MC_UFFD_COPY;
}

static int snapshot_restore(mc_error *err) {
        char path[] = "/tmp/memcap-demo-uffd-XXXXXX";
        mc_uffd_request r = MC_UFFD_REQUEST_INIT;
        mc_uffd_stats st;
        mc_mapping m;
        mc_uffd *u;
        char *buf;
        int fd = mkstemp(path), rc = 1;

        if (fd < 0)
                return perror("mkstemp"), 1;
        unlink(path);
        buf = malloc(page);
        for (int i = 0; buf && i < PAGES; i++) { /* the "snapshot": page i holds "page i" */
                memset(buf, 0, page);
                snprintf(buf, page, "page %d of the snapshot", i);
                if (write(fd, buf, page) != (ssize_t) page)
                        break;
        }
        free(buf);
        if (map_anon(&m, err) < 0)
                goto out;
        r.length = MC_LENGTH_ALL;
        r.modes = MC_UFFD_MISSING;
        r.flags = MC_UFFD_THREAD;
        r.handler = restore_page;
        r.userdata = &fd;
        r.timeout_ms = 5000;
        if (mc_uffd_register(ctx, &m, &r, &u, err) < 0)
                goto out;
        printf("restored lazily: \"%s\", \"%s\"\n", (char *) m.ptr + 5 * page, (char *) m.ptr);
        mc_uffd_get_stats(u, &st);
        printf("  %llu of %d pages read from the snapshot, %llu us in the handler\n",
               (unsigned long long) st.copied, PAGES, (unsigned long long) st.handler_ns / 1000);
        rc = mc_uffd_unregister(ctx, u, err) < 0;
out:
        close(fd);
        return rc ? fail("snapshot restore", err) : 0;
}

/* ---- 2. first-touch guard ------------------------------------------------------------------- */

static mc_uffd_action count_touch(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        unsigned char *touched = ud;

        (void) buf;
        touched[f->offset / size] = 1;
        return MC_UFFD_ZERO;
}

static int first_touch(mc_error *err) {
        mc_uffd_request r = MC_UFFD_REQUEST_INIT;
        unsigned char touched[PAGES] = {0};
        mc_mapping m;
        mc_uffd *u;
        char *p;

        if (map_anon(&m, err) < 0)
                return fail("first touch", err);
        r.length = MC_LENGTH_ALL;
        r.modes = MC_UFFD_MISSING;
        r.flags = MC_UFFD_THREAD;
        r.handler = count_touch;
        r.userdata = touched;
        if (mc_uffd_register(ctx, &m, &r, &u, err) < 0)
                return fail("first touch", err);
        p = m.ptr;
        p[1 * page] = 1; /* the code under observation */
        p[6 * page + 100] = p[1 * page] + 1;
        printf("pages touched:");
        for (int i = 0; i < PAGES; i++)
                if (touched[i])
                        printf(" %d", i);
        printf("\n");
        return mc_uffd_unregister(ctx, u, err) < 0 ? fail("first touch", err) : 0;
}

/* ---- 3. dirty tracking ---------------------------------------------------------------------- */

static mc_uffd_action mark_dirty(const mc_uffd_fault *f, void *buf, size_t size, void *ud) {
        unsigned char *dirty = ud;

        (void) buf;
        dirty[f->offset / size] = 1;
        return MC_UFFD_UNPROTECT; /* let this write and the next ones to the page through */
}

static int dirty_tracking(mc_error *err) {
        mc_uffd_request r = MC_UFFD_REQUEST_INIT;
        unsigned char dirty[PAGES] = {0};
        mc_mapping m;
        mc_uffd *u;
        char *p;

        if (map_anon(&m, err) < 0)
                return fail("dirty tracking", err);
        p = m.ptr;
        memset(p, 'x', PAGES * page); /* the state at the checkpoint */
        r.length = MC_LENGTH_ALL;
        r.modes = MC_UFFD_WP;
        r.flags = MC_UFFD_THREAD;
        r.handler = mark_dirty;
        r.userdata = dirty;
        if (mc_uffd_register(ctx, &m, &r, &u, err) < 0 ||
            mc_uffd_protect(u, 0, MC_LENGTH_ALL, true, err) < 0)
                return fail("dirty tracking", err);
        p[2 * page] = 'y';
        p[7 * page + 1] = 'z';
        printf("pages written since the checkpoint:");
        for (int i = 0; i < PAGES; i++)
                if (dirty[i])
                        printf(" %d", i);
        printf(" (of %d; %c is still there)\n", PAGES, p[3 * page]);
        return mc_uffd_unregister(ctx, u, err) < 0 ? fail("dirty tracking", err) : 0;
}

int main(void) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *policy;
        mc_audit *audit;
        int rc;

        page = mc_page_size();
        if (mc_ctx_new(&ctx, &err) < 0 || mc_policy_new(&policy, &err) < 0)
                return fail("setup", &err);
        mc_policy_set_allow_userfaultfd(policy, true); /* off by default */
        if (mc_ctx_set_policy(ctx, policy, &err) < 0 ||
            mc_audit_open_fd(STDERR_FILENO, 0, &audit, &err) < 0)
                return fail("setup", &err);
        mc_policy_free(policy);
        mc_ctx_set_audit(ctx, audit);
        rc = snapshot_restore(&err) || first_touch(&err) || dirty_tracking(&err);
        mc_ctx_free(ctx);
        return rc;
}
