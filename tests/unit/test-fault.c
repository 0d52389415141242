/* SPDX-License-Identifier: MIT */
/*
 * Failure injection through the system-call seam: every system call the memory operations
 * make can fail, and each failure must come back as the right kind with an actionable
 * message, leave the usage and the registry as they were, leak no descriptor, and be audited.
 */

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "common.h"
#include "failing.h"
#include "mapping.h"
#include "proc.h"

static mc_ctx *ctx;
static char path[128];
static int last_outcome_error; /* the last audit record said "error" */

static void audit_cb(const mc_audit_record *r, void *userdata) {
        (void) userdata;
        last_outcome_error = strstr(r->json, "\"outcome\":\"error\"") != NULL;
}

static void setup(void) {
        mc_audit *a;
        int fd;

        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        cr_assert(eq(int, mc_audit_open_callback(audit_cb, NULL, &a, NULL), 0));
        mc_ctx_set_audit(ctx, a);
        snprintf(path, sizeof(path), "/tmp/memcap-test-fault-%d", (int) getpid());
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(eq(int, ftruncate(fd, 8192), 0));
        close(fd);
}

static void teardown(void) {
        mc__sys_reset();
        ctx = mc_ctx_free(ctx);
        unlink(path);
        mc_test_fini();
}

TestSuite(fault, .init = setup, .fini = teardown);

static int opens;
static int fail_second_open(const char *p, int f, mode_t m) {
        if (++opens == 2) {
                errno = failing_errno;
                return -1;
        }
        return open(p, f, m);
}

static void expect(int r, int e, mc_error_kind kind, const mc_error *err, const char *needle) {
        cr_assert(eq(int, r, -e), "%s", err->message);
        cr_assert(
                eq(str, (char *) mc_error_kind_name(err->kind), (char *) mc_error_kind_name(kind)),
                "%s", err->message);
        cr_assert(eq(int, err->sys_errno, e));
        cr_assert(ne(ptr, strstr(err->message, needle), NULL), "'%s' not in: %s", needle,
                  err->message);
        cr_assert(last_outcome_error, "the failure was audited as an error");
}

static void usage_is(uint64_t bytes, uint64_t locked, uint64_t n) {
        mc_usage u;
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, bytes));
        cr_assert(eq(u64, u.locked_bytes, locked));
        cr_assert(eq(u64, u.mappings, n));
}

Test(fault, mmap_failures) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m = {0};
        int fds = count_fds();

        mc_sys.mmap = failing_mmap;
        failing_errno = ENOMEM;
        expect(anon_map(ctx, 8192, MC_PROT_READ_WRITE, &m, &err), ENOMEM, MC_ERR_OUT_OF_MEMORY,
               &err, "mmap anonymous");
        failing_errno = EACCES;
        expect(mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &m, &err), EACCES,
               MC_ERR_PERMISSION_DENIED, &err, path);
        failing_errno = ENODEV;
        expect(mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), ENODEV, MC_ERR_UNSUPPORTED,
               &err, "does not support mmap");
        failing_errno = EAGAIN;
        expect(anon_map(ctx, 8192, MC_PROT_READ_WRITE, &m, &err), EAGAIN, MC_ERR_OUT_OF_MEMORY,
               &err, "RLIMIT_MEMLOCK");
        usage_is(0, 0, 0);
        cr_assert(eq(ptr, m.ptr, NULL));
        cr_assert(eq(int, count_fds(), fds), "no descriptor leaked");
}

Test(fault, open_fstat_and_resolve_failures) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        int fds = count_fds();

        mc_sys.open = failing_open;
        failing_errno = EACCES;
        expect(mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), EACCES,
               MC_ERR_PERMISSION_DENIED, &err, path);
        mc__sys_reset();

        mc_sys.fstat = failing_fstat;
        failing_errno = EIO;
        expect(mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), EIO, MC_ERR_IO, &err, "fstat");
        mc__sys_reset();

        /* The reopen after the decision. */
        mc_sys.open = fail_second_open;
        failing_errno = EMFILE;
        opens = 0;
        expect(mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), EMFILE, MC_ERR_OUT_OF_MEMORY,
               &err, "opening for reading");
        mc__sys_reset();

        /* Without /proc the path is resolved by name instead. */
        mc_sys.readlink = failing_readlink;
        failing_errno = ENOENT;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), 0), "%s",
                  err.message);
        mc_unmap(ctx, &m, NULL);
        /* Without /proc and without a resolvable path the policy cannot judge the file. */
        mc_sys.realpath = failing_realpath;
        failing_errno = EACCES;
        expect(mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), EACCES,
               MC_ERR_PERMISSION_DENIED, &err, "resolving the path");
        usage_is(0, 0, 0);
        cr_assert(eq(int, count_fds(), fds));
}

Test(fault, munmap_failure_keeps_the_mapping) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, copy;

        anon_map_ok(ctx, 8192, MC_PROT_READ_WRITE, &m);
        copy = m;
        mc_sys.munmap = failing_munmap;
        failing_errno = EINVAL;
        expect(mc_munmap(ctx, &m, &err), EINVAL, MC_ERR_INVALID_ARGUMENT, &err, "munmap");
        cr_assert(eq(ptr, m.ptr, copy.ptr), "the value is kept on failure");
        usage_is(8192, 0, 1);
        mc__sys_reset();
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
        usage_is(0, 0, 0);
}

Test(fault, mprotect_msync_madvise_failures) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        anon_map_ok(ctx, 8192, MC_PROT_READ_WRITE, &m);
        mc_sys.mprotect = failing_mprotect;
        failing_errno = EACCES;
        expect(mc_mprotect(ctx, &m, MC_PROT_READ, &err), EACCES, MC_ERR_PERMISSION_DENIED, &err,
               "mprotect");
        cr_assert(eq(u32, m.prot, MC_PROT_READ_WRITE));
        mc_sys.msync = failing_msync;
        failing_errno = ENOMEM;
        expect(mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), ENOMEM, MC_ERR_NOT_FOUND,
               &err, "no longer mapped");
        /* Last: EIO leaves the mapping faulted (msync_eio_faults_the_mapping). */
        failing_errno = EIO;
        expect(mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), EIO, MC_ERR_IO, &err,
               "msync");
        mc_sys.madvise = failing_madvise;
        failing_errno = EINVAL;
        expect(mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, MC_ADVICE_WILLNEED, &err), EINVAL,
               MC_ERR_INVALID_ARGUMENT, &err, "WILLNEED");
        failing_errno = EAGAIN;
        expect(mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, MC_ADVICE_WILLNEED, &err), EAGAIN,
               MC_ERR_OUT_OF_MEMORY, &err, "WILLNEED");
        usage_is(8192, 0, 1);
        mc__sys_reset();
        mc_munmap(ctx, &m, NULL);
}

Test(fault, mremap_failures_leave_the_mapping) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, before;

        anon_map_ok(ctx, 8192, MC_PROT_READ_WRITE, &m);
        before = m;
        mc_sys.mremap = failing_mremap;
        failing_errno = ENOMEM;
        expect(mc_remap(ctx, &m, 3 * 8192, MC_REMAP_MAYMOVE, &err), ENOMEM, MC_ERR_OUT_OF_MEMORY,
               &err, "mremap");
        failing_errno = EFAULT;
        expect(mc_remap(ctx, &m, 3 * 8192, MC_REMAP_MAYMOVE, &err), EFAULT, MC_ERR_INVALID_ARGUMENT,
               &err, "split");
        cr_assert(eq(int, memcmp(&m, &before, sizeof(m)), 0));
        usage_is(8192, 0, 1);
        mc__sys_reset();
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0));
}

Test(fault, mlock_failures) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        anon_map_ok(ctx, 8192, MC_PROT_READ_WRITE, &m);
        mc_sys.mlock2 = failing_mlock2;
        failing_errno = EAGAIN;
        expect(mc_mlock(ctx, &m, 0, 4096, 0, &err), EAGAIN, MC_ERR_OUT_OF_MEMORY, &err,
               "ulimit -l");
        failing_errno = EPERM;
        expect(mc_mlock(ctx, &m, 0, 4096, 0, &err), EPERM, MC_ERR_PERMISSION_DENIED, &err, "mlock");
        usage_is(8192, 0, 1);
        mc__sys_reset();
        cr_assert(eq(int, mc_mlock(ctx, &m, 0, 4096, 0, &err), 0), "%s", err.message);
        mc_sys.munlock = failing_munlock;
        failing_errno = ENOMEM;
        expect(mc_munlock(ctx, &m, 0, 4096, &err), ENOMEM, MC_ERR_OUT_OF_MEMORY, &err, "munlock");
        usage_is(8192, 4096, 1);
        mc__sys_reset();
        mc_munmap(ctx, &m, NULL);
        usage_is(0, 0, 0);
}

/*
 * fsyncgate: an msync that failed with EIO may have lost the dirty pages, and the kernel
 * reports that only once, so the next msync would succeed as if nothing happened. The mapping
 * stays faulted: msync and writes say Io until it is unmapped, reads still work, and a new
 * mapping of the file starts clean.
 */
Test(fault, msync_eio_faults_the_mapping) {
        mc_map_file_options opts = MC_MAP_FILE_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, other, again;
        char buf[5];

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &m, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &other, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_map_write(ctx, &m, 0, "lost?", 5, &err), 0), "%s", err.message);
        cr_assert(not(mc_map_is_faulted(ctx, &m)));

        mc_sys.msync = failing_msync;
        failing_errno = EIO;
        expect(mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), EIO, MC_ERR_IO, &err,
               "until it is unmapped");
        mc__sys_reset(); /* the kernel now says 0: the error was reported once */
        cr_assert(mc_map_is_faulted(ctx, &m));
        expect(mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), EIO, MC_ERR_IO, &err,
               "earlier msync failed");
        expect(mc_msync(ctx, &m, 0, 1, MC_SYNC_ASYNC, &err), EIO, MC_ERR_IO, &err,
               "earlier msync failed");
        cr_assert(eq(int, mc_map_write(ctx, &m, 0, "more", 4, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(ne(ptr, strstr(err.message, "map it again"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 5, &err), 0), "%s", err.message);

        /* A remap is the same mapping, still faulted; other mappings are not. */
        cr_assert(eq(int, mc_remap(ctx, &m, 4096, 0, &err), 0), "%s", err.message);
        cr_assert(mc_map_is_faulted(ctx, &m));
        cr_assert(not(mc_map_is_faulted(ctx, &other)));
        cr_assert(eq(int, mc_msync(ctx, &other, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0), "%s",
                  err.message);

        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0), "%s", err.message);
        cr_assert(not(mc_map_is_faulted(ctx, &m)), "a gone mapping is not faulted");
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, &opts, &again, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_map_write(ctx, &again, 0, "fresh", 5, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_msync(ctx, &again, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0), "%s",
                  err.message);
        cr_assert(not(mc_map_is_faulted(NULL, &again)));
        cr_assert(not(mc_map_is_faulted(ctx, NULL)));
        mc_munmap(ctx, &again, NULL);
        mc_munmap(ctx, &other, NULL);
}

/* Other msync errors are reported as they are and leave the mapping usable. */
Test(fault, msync_other_errors_do_not_fault) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &m, &err), 0), "%s",
                  err.message);
        mc_sys.msync = failing_msync;
        failing_errno = EBUSY;
        cr_assert(eq(int, mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), -EBUSY));
        mc__sys_reset();
        cr_assert(not(mc_map_is_faulted(ctx, &m)));
        cr_assert(eq(int, mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_map_write(ctx, &m, 0, "ok", 2, &err), 0), "%s", err.message);
        mc_munmap(ctx, &m, NULL);
}

/* ---- what the library reads of /proc, and descriptors it duplicates ------------------------- */

static char opened[16][128];
static size_t n_opened;
static const char *fake_path; /* reads of this file return fake_content */
static const char *fake_content;
static int fake_fd = -1;
static int fake_errno; /* opens of fake_path and stats of fake_stat_path fail with it; 0: not */

static int recording_open(const char *p, int f, mode_t m) {
        int fd;

        if (n_opened < ELEMENTSOF(opened))
                snprintf(opened[n_opened++], sizeof(opened[0]), "%s", p);
        if (fake_path && strcmp(p, fake_path) == 0 && fake_errno) {
                errno = fake_errno;
                return -1;
        }
        fd = open(p, f, m);
        if (fake_path && strcmp(p, fake_path) == 0)
                fake_fd = fd;
        return fd;
}
static ssize_t faking_read(int fd, void *buf, size_t n) {
        if (fd == fake_fd && fake_content) {
                size_t k = MC_MIN(strlen(fake_content), n);
                memcpy(buf, fake_content, k);
                return (ssize_t) k;
        }
        return read(fd, buf, n);
}
static const char *fake_stat_path; /* stat() of this path fails with fake_errno */
static int fail_stat(const char *p, struct stat *st) {
        if (fake_stat_path && strcmp(p, fake_stat_path) == 0) {
                errno = fake_errno;
                return -1;
        }
        return stat(p, st);
}
static int readonly_getfl(int fd) {
        (void) fd;
        return O_RDONLY;
}

static bool was_opened(const char *p) {
        for (size_t i = 0; i < n_opened; i++)
                if (strcmp(opened[i], p) == 0)
                        return true;
        return false;
}

static mc_signal_action ignore_it(const mc_signal_info *info, void *userdata) {
        (void) info, (void) userdata;
        return MC_SIGNAL_IGNORE;
}

Test(fault, proc_files_are_read_through_the_seam, .timeout = 30.0) {
        char name[64], stat_path[64], dir_path[64];
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_shared shm;
        int status, gate[2];
        pid_t kid;

        mc_sys.open = recording_open;
        mc_sys.read = faking_read;
        /* The huge page size (read once per process, so this test is its first reader). */
        fake_path = "/proc/meminfo";
        fake_content = "MemTotal:       1 kB\nHugepagesize:    1048576 kB\n";
        cr_assert(eq(sz, mc__huge_page_size(), (size_t) 1 << 30));
        /* The creator record of a named shared memory object names this process's start. */
        MC_TEST_NAME(name, "fault-proc");
        req.name = name;
        req.size = 4096;
        req.create = true;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &shm, &err), 0), "%s", err.message);
        cr_assert(was_opened("/proc/self/stat"));
        cr_assert(eq(int, mc_shared_close(ctx, &shm, &err), 0));
        cr_assert(eq(int, mc_shared_unlink(ctx, name, &err), 0));
        /* The dispatcher's start reads the process's name. */
        cr_assert(eq(int, mc_signal_register_handler(ctx, SIGUSR2, ignore_it, NULL, 0, NULL, &err),
                     0),
                  "%s", err.message);
        cr_assert(was_opened("/proc/self/comm"));
        cr_assert(eq(int, mc_signal_unregister_handler(ctx, SIGUSR2, &err), 0));

        /* How a signal's target is related to this process: a child that /proc does not
         * show is no process at all. */
        cr_assert(eq(int, pipe2(gate, O_CLOEXEC), 0));
        kid = fork();
        cr_assert(ge(int, kid, 0));
        if (kid == 0) {
                char c;

                /* Until this test's process ends, whichever way it ends. */
                close(gate[1]);
                (void) !read(gate[0], &c, 1);
                _exit(0);
        }
        close(gate[0]);
        snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", (int) kid);
        snprintf(dir_path, sizeof(dir_path), "/proc/%d", (int) kid);
        cr_assert(eq(int, mc_signal_send(ctx, kid, 0, NULL, &err), 0), "%s", err.message);
        cr_assert(was_opened(stat_path));
        fake_path = stat_path;
        fake_content = NULL;
        fake_stat_path = dir_path;
        fake_errno = ENOENT;
        mc_sys.stat = fail_stat;
        cr_assert(eq(int, mc_signal_send(ctx, kid, 0, NULL, &err), -ESRCH));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND), "%s", err.message);
        mc__sys_reset();
        close(gate[1]);
        cr_assert(eq(int, waitpid(kid, &status, 0), kid));
}

Test(fault, policy_reads_and_audit_descriptors_go_through_the_seam) {
        mc_error err = MC_ERROR_INIT;
        mc_policy *p = NULL;
        mc_audit *a = NULL;
        char policy[160];
        mc_shared_request req = MC_SHARED_REQUEST_INIT;
        mc_shared shm;
        FILE *f;

        snprintf(policy, sizeof(policy), "/tmp/memcap-test-fault-policy-%d.json", (int) getpid());
        f = fopen(policy, "we");
        cr_assert(not(eq(ptr, f, NULL)));
        fputs("{\"allow_fixed\": false}\n", f);
        fclose(f);
        mc_sys.read = failing_read;
        failing_errno = EIO;
        cr_assert(eq(int, mc_policy_load_file(policy, &p, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(ne(ptr, strstr(err.message, "read policy"), NULL), "%s", err.message);
        cr_assert(eq(ptr, p, NULL));
        mc__sys_reset();
        unlink(policy);

        mc_sys.dupfd = failing_dupfd;
        failing_errno = EMFILE;
        cr_assert(eq(int, mc_audit_open_fd(2, 0, &a, &err), -EMFILE));
        cr_assert(ne(ptr, strstr(err.message, "duplicate audit fd 2"), NULL), "%s", err.message);
        cr_assert(eq(ptr, a, NULL));
        mc__sys_reset();

        /* Whether a shared object was opened read-only is asked of the seam too. */
        req.size = 4096;
        cr_assert(eq(int, mc_shared_open(ctx, &req, &shm, &err), 0), "%s", err.message);
        mc_sys.getfl = readonly_getfl;
        cr_assert(eq(int, mc_shared_resize(ctx, &shm, 8192, &err), -EBADF));
        cr_assert(ne(ptr, strstr(err.message, "opened read-only"), NULL), "%s", err.message);
        mc__sys_reset();
        cr_assert(eq(int, mc_shared_resize(ctx, &shm, 8192, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_shared_close(ctx, &shm, &err), 0));
}
