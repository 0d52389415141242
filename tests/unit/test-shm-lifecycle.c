/* SPDX-License-Identifier: MIT */
/*
 * Shared memory's end and its record: close, the audit records, and every failure path forced
 * through the system-call seam.
 */

#include "shm-suite.h"

/* ---- close ---------------------------------------------------------------------------------- */

Test(shm, close_zeroes_and_second_close_is_not_found) {
        const char *name = name_new("close");
        mc_error err = MC_ERROR_INIT;
        mc_shared s, zero;
        int fd, fds = count_fds(), r;

        create_named(ctx, name, page(), &s);
        fd = s.fd;
        cr_assert(eq(int, count_fds(), fds + 1));
        close_ok(ctx, &s);
        memset(&zero, 0, sizeof(zero));
        zero.fd = -1;
        cr_assert(eq(int, memcmp(&s, &zero, sizeof(s)), 0), "close must zero the struct (fd -1)");
        cr_assert(eq(int, fcntl(fd, F_GETFD), -1), "the descriptor must be closed");
        assert_left_nothing(ctx, fds);
        cr_assert(shm_exists(name), "a named object stays until unlinked");

        r = mc_shared_close(ctx, &s, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        r = mc_shared_close(ctx, NULL, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
}

Test(shm, close_refuses_forged_and_stale_values) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, copy, forged;
        mc_mapping m;
        mc_map_request mreq = MC_MAP_REQUEST_INIT;
        mc_ctx *other = ctx_new();
        int r;

        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        copy = s;

        /* The right region with another descriptor. */
        forged = s;
        forged.fd = dup(s.fd);
        cr_assert(ge(int, forged.fd, 0));
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        close(forged.fd);
        /* The right descriptor with a made-up region. */
        forged = s;
        forged.region.ptr = (char *) s.region.ptr + page();
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* Not a region of that context. */
        r = mc_shared_close(other, &s, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* An ordinary mapping dressed up as a shared object. */
        mreq.length = page();
        mreq.prot = MC_PROT_READ_WRITE;
        mreq.flags = MC_MAP_ANONYMOUS;
        cr_assert(eq(int, mc_mmap(ctx, &mreq, &m, &err), 0), "%s", err.message);
        forged = s;
        forged.region = m;
        forged.fd = -1;
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* Garbage. */
        memset(&forged, 0xff, sizeof(forged));
        r = mc_shared_close(ctx, &forged, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        assert_usage(ctx, 2 * page(), 2, 1);

        close_ok(ctx, &s);
        /* The copy taken before the close is stale now. */
        r = mc_shared_close(ctx, &copy, &err);
        assert_err(r, &err, ENOENT, MC_ERR_NOT_FOUND);
        /* The region cannot be unmapped around the object either. */
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &s);
        r = mc_munmap(ctx, &s.region, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        assert_usage(ctx, 2 * page(), 2, 1);
        mc_ctx_free(other);
}

Test(shm, ctx_free_closes_what_is_left) {
        const char *name = name_new("leftover");
        mc_shared a, b;
        int fds = count_fds();

        create_named(ctx, name, page(), &a);
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &b);
        cr_assert(eq(int, count_fds(), fds + 2));
        ctx = mc_ctx_free(ctx);
        cr_assert(eq(int, count_fds(), fds));
        cr_assert(shm_exists(name));
}

Test(shm, region_is_changed_only_through_shm_calls) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s, before;
        int r;

        create_anon(ctx, 2 * page(), MC_PROT_READ_WRITE, 0, &s);
        before = s;
        r = mc_remap(ctx, &s.region, 4 * page(), MC_REMAP_MAYMOVE, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        r = mc_munmap(ctx, &s.region, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        cr_assert(eq(int, memcmp(&s, &before, sizeof(s)), 0));
        assert_usage(ctx, 2 * page(), 1, 1);
        /* Syncing and advising the region are ordinary mapping calls. */
        cr_assert(eq(int, mc_msync(ctx, &s.region, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0), "%s",
                  err.message);
        cr_assert(
                eq(int, mc_madvise(ctx, &s.region, 0, MC_LENGTH_ALL, MC_ADVICE_WILLNEED, &err), 0),
                "%s", err.message);
}

void *open_close_loop(void *arg) {
        mc_ctx *c = arg;

        for (int i = 0; i < 200; i++) {
                mc_shared s;

                if (mc_map_shared_buffer(c, NULL, (size_t) (i % 3 + 1) * mc_page_size(), &s, NULL) <
                    0)
                        return (void *) 1;
                ((char *) s.region.ptr)[0] = 1;
                if (mc_shared_resize(c, &s, 5 * mc_page_size(), NULL) < 0)
                        return (void *) 2;
                if (mc_shared_close(c, &s, NULL) < 0)
                        return (void *) 3;
        }
        return NULL;
}

Test(shm, threads_open_and_close_concurrently, .timeout = 60.0) {
        pthread_t th[4];
        int fds = count_fds();

        for (size_t i = 0; i < ELEMENTSOF(th); i++)
                cr_assert(eq(int, pthread_create(&th[i], NULL, open_close_loop, ctx), 0));
        for (size_t i = 0; i < ELEMENTSOF(th); i++) {
                void *res;
                cr_assert(eq(int, pthread_join(th[i], &res), 0));
                cr_assert(eq(ptr, res, NULL), "thread %zu failed at step %p", i, res);
        }
        assert_left_nothing(ctx, fds);
}

/* ---- audit -------------------------------------------------------------------------------- */

void record_cb(const mc_audit_record *rec, void *userdata) {
        records *r = userdata;

        if (r->n >= MAX_RECORDS)
                return;
        strscpy(r->operation[r->n], sizeof(r->operation[0]), rec->operation);
        r->kind[r->n] = rec->kind;
        strscpy(r->json[r->n], sizeof(r->json[0]), rec->json);
        r->n++;
}

/* Send @c's audit records to @rec. */
static void audit_into(mc_ctx *c, records *rec) {
        mc_error err = MC_ERROR_INIT;
        mc_audit *audit = NULL;

        cr_assert(eq(int, mc_audit_open_callback(record_cb, rec, &audit, &err), 0), "%s",
                  err.message);
        mc_ctx_set_audit(c, audit);
}

Test(shm, every_operation_is_audited_once) {
        static const struct {
                const char *op;
                mc_error_kind kind;
                bool named;
        } want[] = {
                {"shm_open", MC_OK, true},
                {"shm_seal", MC_ERR_UNSUPPORTED, true},
                {"shm_resize", MC_OK, true},
                {"shm_close", MC_OK, true},
                {"shm_close", MC_ERR_NOT_FOUND, false},
                {"shm_unlink", MC_OK, true},
                {"shm_open", MC_ERR_NOT_FOUND, true},
                {"shm_open", MC_OK, false},
                {"shm_seal", MC_OK, false},
                {"shm_open", MC_ERR_INVALID_ARGUMENT, false},
        };
        const char *name = name_new("audit");
        char quoted[MC_SHARED_NAME_MAX + 16];
        mc_error err = MC_ERROR_INIT;
        static records rec; /* static: freeing ctx in the teardown still reports to it */
        mc_shared s, a;

        audit_into(ctx, &rec);
        snprintf(quoted, sizeof(quoted), "\"name\":\"%s\"", name);

        create_named(ctx, name + 1, page(), &s);
        cr_assert(lt(int, mc_shared_seal(ctx, &s, MC_SEAL_SHRINK, NULL), 0));
        cr_assert(eq(int, mc_shared_resize(ctx, &s, 2 * page(), &err), 0), "%s", err.message);
        close_ok(ctx, &s);
        cr_assert(lt(int, mc_shared_close(ctx, &s, NULL), 0));
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0), "%s", err.message);
        cr_assert(lt(int, open_named(ctx, name, 0, MC_PROT_READ, &s, NULL), 0));
        create_anon(ctx, page(), MC_PROT_READ_WRITE, 0, &a);
        cr_assert(eq(int, mc_shared_seal(ctx, &a, MC_SEAL_GROW, &err), 0), "%s", err.message);
        cr_assert(lt(int, mc_map_shared_buffer(ctx, "a/b", page(), &s, NULL), 0));

        cr_assert(eq(int, rec.n, (int) ELEMENTSOF(want)));
        for (int i = 0; i < rec.n; i++) {
                cr_assert(eq(str, rec.operation[i], (char *) want[i].op), "record %d", i);
                cr_assert(eq(int, rec.kind[i], want[i].kind), "record %d: %s", i, rec.json[i]);
                cr_assert(eq(int, strstr(rec.json[i], quoted) != NULL, want[i].named),
                          "record %d names the object as \"/name\" exactly when it has one: %s", i,
                          rec.json[i]);
        }
}

/* The record of @op in @rec (the @nth one, from 0), or NULL. */
const char *record_of(const records *rec, const char *op, int nth) {
        for (int i = 0; i < rec->n; i++)
                if (streq(rec->operation[i], op) && nth-- == 0)
                        return rec->json[i];
        return NULL;
}

bool has_owner(const char *json, bool local, pid_t pid) {
        char want[64];

        snprintf(want, sizeof(want), "\"owner\":\"%s\",\"owner_pid\":%d",
                 local ? "Local" : "Remote", (int) pid);
        return json && strstr(json, want);
}

/*
 * A region's life can be followed in the log: open, close and unlink records say whose object
 * it is, Local (this process created it, also when it opens it again) or Remote(creator pid),
 * and Remote(0) when nobody recorded a creator.
 */
Test(shm, audit_records_trace_the_owner) {
        const char *name = name_new("trace"), *planted = name_new("planted");
        mc_error err = MC_ERROR_INIT;
        static records rec; /* static: freeing ctx in the teardown still reports to it */
        mc_shared s;
        pid_t self = getpid(), pid;

        audit_into(ctx, &rec);

        create_named(ctx, name, page(), &s);
        close_ok(ctx, &s);
        open_named_ok(ctx, name, 0, MC_PROT_READ, &s);
        if (s.owner == MC_OWNER_REMOTE && s.owner_pid == 0)
                cr_skip_test("this kernel's tmpfs keeps no user xattrs; the creator is unknown");
        cr_assert(eq(int, s.owner, MC_OWNER_LOCAL), "the creator opening it again owns it");
        cr_assert(eq(int, s.owner_pid, self));
        close_ok(ctx, &s);
        cr_assert(has_owner(record_of(&rec, "shm_open", 0), true, self), "%s", rec.json[0]);
        cr_assert(has_owner(record_of(&rec, "shm_close", 0), true, self), "%s", rec.json[1]);
        cr_assert(has_owner(record_of(&rec, "shm_open", 1), true, self), "%s", rec.json[2]);
        cr_assert(has_owner(record_of(&rec, "shm_close", 1), true, self), "%s", rec.json[3]);

        /* Another process opening it sees a Remote region, and says so in its own log. */
        pid = fork();
        if (pid == 0) {
                records crec = {0};
                mc_audit *ca = NULL;
                mc_shared t;

                if (mc_audit_open_callback(record_cb, &crec, &ca, NULL) < 0)
                        _exit(10);
                mc_ctx_set_audit(ctx, ca);
                if (open_named(ctx, name, 0, MC_PROT_READ, &t, NULL) < 0)
                        _exit(11);
                if (t.owner != MC_OWNER_REMOTE || t.owner_pid != self)
                        _exit(12);
                if (mc_shared_close(ctx, &t, NULL) < 0)
                        _exit(13);
                if (!has_owner(record_of(&crec, "shm_open", 0), false, self) ||
                    !has_owner(record_of(&crec, "shm_close", 0), false, self))
                        _exit(14);
                _exit(0);
        }
        cr_assert(eq(int, child_status(pid), 0));

        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0), "%s", err.message);
        cr_assert(has_owner(record_of(&rec, "shm_unlink", 0), true, self), "%s",
                  record_of(&rec, "shm_unlink", 0));

        /* Made without memcap: nobody recorded a creator. */
        plant(planted, 0600, page());
        open_named_ok(ctx, planted, 0, MC_PROT_READ, &s);
        cr_assert(has_owner(record_of(&rec, "shm_open", 2), false, 0), "%s",
                  record_of(&rec, "shm_open", 2));
        close_ok(ctx, &s);
        cr_assert(eq(int, mc_shared_unlink(ctx, planted, &err), 0), "%s", err.message);
        cr_assert(has_owner(record_of(&rec, "shm_unlink", 1), false, 0), "%s",
                  record_of(&rec, "shm_unlink", 1));

        /* A failed open has no object and no owner. */
        cr_assert(lt(int, open_named(ctx, planted, 0, MC_PROT_READ, &s, NULL), 0));
        cr_assert(not(eq(ptr, (void *) record_of(&rec, "shm_open", 3), NULL)));
        cr_assert(eq(ptr, strstr(record_of(&rec, "shm_open", 3), "\"owner\""), NULL));
}

/* ---- failures forced through the seam ------------------------------------------------------- */

/* Run one request with a failure injected and check kind, descriptors, usage and the name. */
void check_failure(mc_ctx *c, const mc_shared_request *req, bool buffer, int errnum,
                   mc_error_kind kind) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds = count_fds(), r;

        memset(&s, 0x5a, sizeof(s));
        failing_errno = errnum;
        r = buffer ? mc_map_shared_buffer(c, req->name, req->size, &s, &err)
                   : mc_shared_open(c, req, &s, &err);
        assert_err(r, &err, errnum, kind);
        cr_assert(eq(int, s.fd, 0x5a5a5a5a), "ret must be untouched on failure");
        cr_assert(eq(int, count_fds(), fds), "a descriptor leaked");
        assert_usage(c, 0, 0, 0);
}

/*
 * check_failure() of the creating @req through mc_shared_open() and mc_map_shared_buffer():
 * each time, the object that was half created is unlinked again.
 */
static void check_create_failure(const mc_shared_request *req, int errnum, mc_error_kind kind) {
        check_failure(ctx, req, false, errnum, kind);
        cr_assert(not(shm_exists(req->name)), "the half-created object must be unlinked");
        check_failure(ctx, req, true, errnum, kind);
        cr_assert(not(shm_exists(req->name)), "the half-created buffer must be unlinked");
}

Test(shm, shm_open_failures) {
        const char *name = name_new("fail");
        mc_shared_request req = create_request(name, page());

        mc_sys.shm_open = failing_shm_open;
        check_failure(ctx, &req, false, EMFILE, MC_ERR_OUT_OF_MEMORY);
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        check_failure(ctx, &req, true, ENFILE, MC_ERR_OUT_OF_MEMORY);
        req.create = false;
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        cr_assert(not(shm_exists(name)));
}

Test(shm, memfd_create_failures) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;

        req.size = page();
        mc_sys.memfd_create = failing_memfd_create;
        check_failure(ctx, &req, false, EMFILE, MC_ERR_OUT_OF_MEMORY);
        check_failure(ctx, &req, true, ENOSYS, MC_ERR_UNSUPPORTED);
}

Test(shm, mmap_failures_unlink_what_was_created) {
        const char *name = name_new("mmapfail");
        mc_shared_request req = create_request(name, page());
        mc_shared s;

        mc_sys.mmap = failing_mmap;
        check_create_failure(&req, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        req.name = NULL;
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        mc__sys_reset();

        /* Opening an existing object that cannot be mapped leaves the object alone. */
        req.name = name;
        create_named(ctx, name, page(), &s);
        close_ok(ctx, &s);
        mc_sys.mmap = failing_mmap;
        req.create = false;
        req.size = 0;
        check_failure(ctx, &req, false, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        req.size = page();
        check_failure(ctx, &req, true, ENOMEM, MC_ERR_OUT_OF_MEMORY);
        cr_assert(shm_exists(name), "an object this call did not create must stay");
}

Test(shm, fallocate_enospc_is_out_of_memory_and_unlinks) {
        const char *name = name_new("enospc");
        mc_shared_request req = create_request(name, 16 * page());

        mc_sys.fallocate = failing_fallocate;
        check_create_failure(&req, ENOSPC, MC_ERR_OUT_OF_MEMORY);
        req.name = NULL;
        check_failure(ctx, &req, false, ENOSPC, MC_ERR_OUT_OF_MEMORY);
        check_failure(ctx, &req, false, EIO, MC_ERR_IO);
}

Test(shm, fstat_failure_on_open) {
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        const char *name = name_new("fstat");
        mc_shared s;

        create_named(ctx, name, page(), &s);
        close_ok(ctx, &s);
        req.name = name;
        mc_sys.fstat = failing_fstat;
        check_failure(ctx, &req, false, EIO, MC_ERR_IO);
        check_failure(ctx, &req, false, EACCES, MC_ERR_PERMISSION_DENIED);
        cr_assert(shm_exists(name));
}

Test(shm, empty_existing_object_is_invalid) {
        const char *name = name_new("empty");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds, r;

        plant(name, 0600, 0);
        fds = count_fds();
        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EINVAL, MC_ERR_INVALID_ARGUMENT);
        assert_left_nothing(ctx, fds);
}

/* Someone else put something that is not a shared memory object under the name. */
void check_planted(const char *name, unsigned prot) {
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int fds = count_fds(), r;

        r = open_named(ctx, name, 0, prot, &s, &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int,
                     err.kind == MC_ERR_INVALID_ARGUMENT || err.kind == MC_ERR_PERMISSION_DENIED,
                     1),
                  "%s", err.message);
        r = mc_map_shared_buffer(ctx, name, page(), &s, &err);
        cr_assert(lt(int, r, 0));
        cr_assert(eq(int,
                     err.kind == MC_ERR_INVALID_ARGUMENT || err.kind == MC_ERR_PERMISSION_DENIED,
                     1),
                  "%s", err.message);
        assert_left_nothing(ctx, fds);
}

Test(shm, planted_fifo_is_refused_not_blocked_on, .timeout = 10.0) {
        const char *name = name_new("fifo");
        char path[SHM_PATH_MAX];

        shm_path(path, name);
        cr_assert(eq(int, mkfifo(path, 0666), 0), "%s", strerror(errno));
        check_planted(name, MC_PROT_READ);
        check_planted(name, MC_PROT_READ_WRITE);
}

Test(shm, planted_symlink_is_not_followed) {
        const char *name = name_new("link");
        char path[SHM_PATH_MAX], target[SHM_PATH_MAX];
        struct stat st;

        shm_path(path, name);
        snprintf(target, sizeof(target), "/dev/shm/memcap-test-shm-target-%d", (int) getpid());
        track(target + strlen("/dev/shm"));
        cr_assert(eq(int, close(open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0600)), 0));
        cr_assert(eq(int, symlink(target, path), 0), "%s", strerror(errno));
        check_planted(name, MC_PROT_READ_WRITE);
        check_planted(name, MC_PROT_READ);
        cr_assert(eq(int, stat(target, &st), 0));
        cr_assert(eq(i64, (int64_t) st.st_size, 0), "the symlink's target was changed");
}

Test(shm, planted_directory_is_refused) {
        const char *name = name_new("dir");
        char path[SHM_PATH_MAX];

        shm_path(path, name);
        cr_assert(eq(int, mkdir(path, 0700), 0), "%s", strerror(errno));
        check_planted(name, MC_PROT_READ);
        check_planted(name, MC_PROT_READ_WRITE);
        cr_assert(eq(int, rmdir(path), 0));
}

Test(shm, read_only_open_of_a_read_only_object) {
        const char *name = name_new("ro");
        mc_error err = MC_ERROR_INIT;
        mc_shared s;
        int r;

        if (geteuid() == 0)
                cr_skip_test("root ignores file modes");
        plant(name, 0400, page());
        r = open_named(ctx, name, 0, MC_PROT_READ_WRITE, &s, &err);
        assert_err(r, &err, EACCES, MC_ERR_PERMISSION_DENIED);
        open_named_ok(ctx, name, 0, MC_PROT_READ, &s);
        cr_assert(eq(u32, s.region.prot, MC_PROT_READ));
}
