/* SPDX-License-Identifier: MIT */
/*
 * Guarded access: a truncated file under a mapping gives Io and the process lives; only faults
 * inside a guarded copy are caught, every other SIGBUS/SIGSEGV reaches the handler that was
 * there before (or the default action); many threads at once.
 */

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <sys/mman.h>

#include "common.h"
#include "failing.h"
#include "mapping.h"
#include "proc.h"

static mc_ctx *ctx;
static char path[128];
static size_t page;

static void make_file(size_t size) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert(fd >= 0);
        for (size_t i = 0; i < size; i++)
                cr_assert(eq(int, (int) write(fd, &(char){(char) i}, 1), 1));
        close(fd);
}

static void setup(void) {
        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        page = mc_page_size();
        snprintf(path, sizeof(path), "/tmp/memcap-test-guard-%d", (int) getpid());
        make_file(4 * page);
}

static void teardown(void) {
        ctx = mc_ctx_free(ctx);
        unlink(path);
        mc_test_fini();
}

TestSuite(guard, .init = setup, .fini = teardown);

Test(guard, read_and_write_copy_bytes) {
        mc_error err = MC_ERROR_INIT;
        unsigned char buf[300];
        mc_mapping m;

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &m, &err), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 10, buf, 300, &err), 0));
        for (int i = 0; i < 300; i++)
                cr_assert(eq(u8, buf[i], (unsigned char) (10 + i)));
        memset(buf, 0xee, sizeof(buf));
        cr_assert(eq(int, mc_map_write(ctx, &m, 4 * page - 300, buf, 300, &err), 0));
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[4 * page - 1], 0xee));
        mc_unmap(ctx, &m, NULL);
}

Test(guard, checks_range_protection_and_liveness) {
        mc_error err = MC_ERROR_INIT;
        char buf[16];
        mc_mapping m, stale;

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 4 * page - 15, buf, 16, &err), -EINVAL));
        cr_assert(eq(int, mc_map_read(ctx, &m, SIZE_MAX, buf, 2, &err), -EINVAL));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, NULL, 2, &err), -EINVAL));
        cr_assert(eq(int, mc_map_write(ctx, &m, 0, "x", 1, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, mc_map_read(NULL, &m, 0, buf, 1, &err), -EINVAL));
        stale = m;
        mc_unmap(ctx, &m, NULL);
        cr_assert(eq(int, mc_map_read(ctx, &stale, 0, buf, 1, &err), -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
}

/* A successful access is remembered per thread; every change to the registry must undo that. */
Test(guard, a_change_after_a_successful_access_is_seen_by_the_next_one) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, stale, fresh;
        char buf[16];

        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_map_write(ctx, &m, 0, "before", 6, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 6, &err), 0), "%s", err.message);

        /* Refused before any byte is touched: PermissionDenied, not a caught fault (Io). */
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_NONE, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 6, &err), -EACCES), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 6, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_map_write(ctx, &m, 0, "x", 1, &err), -EACCES), "%s", err.message);

        /* A part of the mapping made unreadable: the page is named. */
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_map_read(ctx, &m, page, buf, 6, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_mprotect_range(ctx, &m, page, page, MC_PROT_NONE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_map_read(ctx, &m, page, buf, 6, &err), -EACCES), "%s", err.message);
        cr_assert(ne(ptr, strstr(err.message, "page 1"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ_WRITE, &err), 0), "%s", err.message);

        /* Unmapped, and the address very likely given to the next mapping of the same size: the
         * old value must not read the new mapping's bytes. */
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 6, &err), 0), "%s", err.message);
        stale = m;
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0), "%s", err.message);
        anon_map_ok(ctx, 2 * page, MC_PROT_READ_WRITE, &fresh);
        cr_assert(eq(int, mc_map_read(ctx, &stale, 0, buf, 6, &err), -ENOENT), "%s", err.message);
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));

        /* Moved by a remap: the value from before describes nothing now. */
        cr_assert(eq(int, mc_map_read(ctx, &fresh, 0, buf, 6, &err), 0), "%s", err.message);
        stale = fresh;
        cr_assert(eq(int, mc_remap(ctx, &fresh, 64 * page, MC_REMAP_MAYMOVE, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_map_read(ctx, &stale, 0, buf, 6, &err), -ENOENT), "%s", err.message);
        cr_assert(eq(int, mc_map_read(ctx, &fresh, 63 * page, buf, 6, &err), 0), "%s", err.message);
        cr_assert(eq(int, mc_munmap(ctx, &fresh, &err), 0), "%s", err.message);
}

Test(guard, a_mapping_of_a_freed_context_is_unknown_to_the_next_context) {
        mc_error err = MC_ERROR_INIT;
        mc_ctx *other;
        mc_mapping m, old;
        char buf[8];

        /* Ids start again in every context and the new context may get the freed one's address;
         * the first mapping of each has id 1, of another size. */
        cr_assert(eq(int, mc_ctx_new(&other, &err), 0), "%s", err.message);
        anon_map_ok(other, page, MC_PROT_READ_WRITE, &old);
        cr_assert(eq(int, mc_map_read(other, &old, 0, buf, 8, &err), 0), "%s", err.message);
        other = mc_ctx_free(other);
        cr_assert(eq(int, mc_ctx_new(&other, &err), 0), "%s", err.message);
        anon_map_ok(other, 2 * page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_map_read(other, &old, 0, buf, 8, &err), -ENOENT), "%s", err.message);
        cr_assert(eq(int, mc_map_read(other, &m, 0, buf, 8, &err), 0), "%s", err.message);
        other = mc_ctx_free(other);
}

static pid_t fork_reader(const mc_mapping *m) {
        pid_t pid = fork();

        if (pid == 0) {
                mc_error err = MC_ERROR_INIT;
                char buf[8];

                /* DONTFORK: the child has no such mapping, whatever this thread last read. */
                _exit(mc_map_read(ctx, m, 0, buf, 8, &err) == -ENOENT ? 0 : 1);
        }
        return pid;
}

Test(guard, a_child_does_not_read_a_mapping_it_did_not_inherit) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        char buf[8];

        anon_map_ok(ctx, page, MC_PROT_READ_WRITE, &m);
        cr_assert(eq(int, mc_madvise(ctx, &m, 0, MC_LENGTH_ALL, MC_ADVICE_DONTFORK, &err), 0), "%s",
                  err.message);
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, &err), 0), "%s", err.message);
        cr_assert(eq(int, child_status(fork_reader(&m)), 0),
                  "the child read a DONTFORK mapping it does not have");
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), 0), "%s", err.message);
}

Test(guard, truncation_gives_io_not_sigbus) {
        mc_error err = MC_ERROR_INIT;
        char buf[64];
        mc_mapping m;

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &m, &err), 0));
        cr_assert(eq(int, truncate(path, (off_t) page), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 100, buf, 64, &err), 0), "still in the file");
        cr_assert(eq(int, mc_map_read(ctx, &m, 2 * page + 5, buf, 64, &err), -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(ne(ptr, strstr(err.message, "SIGBUS"), NULL), "%s", err.message);
        cr_assert(ne(ptr, strstr(err.message, "truncated"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_map_write(ctx, &m, 3 * page, "data", 4, &err), -EIO));
        /* A copy that starts in the file and runs off its end. */
        cr_assert(eq(int, mc_map_read(ctx, &m, page - 10, buf, 64, &err), -EIO));
        /* The guard stays usable after a fault. */
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 64, &err), 0));
        mc_unmap(ctx, &m, NULL);
}

static int count_byte(void *p, size_t n, void *userdata) {
        const unsigned char *b = p;
        int c = 0;

        for (size_t i = 0; i < n; i++)
                c += b[i] == *(unsigned char *) userdata;
        return c;
}

static int fill_x(void *p, size_t n, void *userdata) {
        (void) userdata;
        memset(p, 'x', n);
        return 7;
}

Test(guard, visit_runs_in_place_and_turns_truncation_into_io) {
        mc_error err = MC_ERROR_INIT;
        unsigned char want = 3;
        mc_mapping m, ro;

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &m, &err), 0));
        /* Byte i of the file is (char) i: 3 occurs once per 256 bytes. */
        cr_assert(eq(int, mc_map_visit(ctx, &m, 0, 4 * page, MC_PROT_READ, count_byte, &want, &err),
                     (int) (4 * page / 256)));
        cr_assert(eq(int, mc_map_visit(ctx, &m, 10, 0, MC_PROT_READ, count_byte, &want, &err), 0));
        cr_assert(eq(int,
                     mc_map_visit(ctx, &m, 0, 16, MC_PROT_READ | MC_PROT_WRITE, fill_x, NULL, &err),
                     7));
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[15], 'x'));
        /* Bad input never reaches the memory. */
        cr_assert(eq(int,
                     mc_map_visit(ctx, &m, 4 * page - 1, 2, MC_PROT_READ, count_byte, &want, &err),
                     -EINVAL));
        cr_assert(eq(int, mc_map_visit(ctx, &m, 0, 1, MC_PROT_WRITE, fill_x, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_map_visit(ctx, &m, 0, 1, MC_PROT_READ, NULL, NULL, &err), -EINVAL));
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &ro, &err), 0));
        cr_assert(eq(int,
                     mc_map_visit(ctx, &ro, 0, 1, MC_PROT_READ | MC_PROT_WRITE, fill_x, NULL, &err),
                     -EACCES));
        mc_unmap(ctx, &ro, NULL);

        cr_assert(eq(int, truncate(path, (off_t) page), 0));
        cr_assert(eq(int, mc_map_visit(ctx, &m, 0, 4 * page, MC_PROT_READ, count_byte, &want, &err),
                     -EIO));
        cr_assert(eq(int, err.kind, MC_ERR_IO));
        cr_assert(ne(ptr, strstr(err.message, "truncated"), NULL), "%s", err.message);
        cr_assert(eq(int, mc_map_visit(ctx, &m, 0, page, MC_PROT_READ, count_byte, &want, &err),
                     (int) (page / 256) - 1),
                  "the guard stays usable after a fault (byte 3 became 'x')");
        mc_unmap(ctx, &m, NULL);
        cr_assert(eq(int, mc_map_visit(ctx, &m, 0, 1, MC_PROT_READ, count_byte, &want, &err),
                     -ENOENT));
}

static mc_mapping shared_m;
static void *reader(void *arg) {
        char buf[256];
        long faults = 0;
        (void) arg;
        for (int i = 0; i < 2000; i++) {
                mc_error err;
                int r = mc_map_read(ctx, &shared_m, (size_t) (i % 4) * page, buf, sizeof(buf),
                                    &err);
                if (r == -EIO)
                        faults++;
                else if (r != 0)
                        return (void *) -1L;
        }
        return (void *) faults;
}

Test(guard, many_threads_at_once, .timeout = 60) {
        pthread_t t[8];
        long total = 0;

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &shared_m, NULL), 0));
        cr_assert(eq(int, truncate(path, (off_t) page), 0));
        for (int i = 0; i < 8; i++)
                cr_assert(eq(int, pthread_create(&t[i], NULL, reader, NULL), 0));
        for (int i = 0; i < 8; i++) {
                void *ret;
                pthread_join(t[i], &ret);
                cr_assert(ne(ptr, ret, (void *) -1L));
                total += (long) ret;
        }
        /* Pages 1..3 are gone: three quarters of the reads fault. */
        cr_assert(eq(i64, total, 8 * 1500));
        mc_unmap(ctx, &shared_m, NULL);
}

/* A fault outside a guarded copy is not memcap's: it reaches the previous handler. */
static volatile sig_atomic_t user_handler_ran;
static sigjmp_buf user_env;
static void user_bus(int sig, siginfo_t *si, void *uctx) {
        (void) si;
        (void) uctx;
        user_handler_ran = sig;
        siglongjmp(user_env, 1);
}

Test(guard, chains_faults_outside_a_copy_to_the_previous_handler) {
        struct sigaction sa = {0};
        mc_mapping m;
        char buf[8];

        sa.sa_sigaction = user_bus;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        cr_assert(eq(int, sigaction(SIGBUS, &sa, NULL), 0));
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, NULL), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, NULL), 0), "installs memcap's guard");
        cr_assert(eq(int, truncate(path, 0), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, NULL), -EIO), "memcap's own fault");
        cr_assert(eq(int, user_handler_ran, 0), "not passed on");
        if (sigsetjmp(user_env, 1) == 0) {
                volatile char c = ((volatile char *) m.ptr)[page];
                (void) c;
                cr_assert(false, "the raw access should have faulted");
        }
        cr_assert(eq(int, user_handler_ran, SIGBUS), "the program's handler got its fault");
        mc_unmap(ctx, &m, NULL);
}

Test(guard, raw_fault_with_default_disposition_still_kills, .signal = SIGBUS) {
        mc_mapping m;
        char buf[8];

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, NULL), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, NULL), 0));
        cr_assert(eq(int, truncate(path, 0), 0));
        /* The test dies before .fini could remove the file. */
        unlink(path);
        (void) ((volatile char *) m.ptr)[0]; /* a raw access: SIGBUS, default action */
}

Test(guard, unrelated_segfault_still_kills, .signal = SIGSEGV) {
        volatile char *bad;
        mc_mapping m;
        char buf[8];

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, NULL), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, NULL), 0));
        /* The test dies before .fini could remove the file. */
        unlink(path);
        bad = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert(ne(ptr, (void *) bad, MAP_FAILED));
        (void) *bad;
}

Test(guard, sent_sigbus_is_not_mistaken_for_a_fault, .signal = SIGBUS) {
        mc_mapping m;
        char buf[8];

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, NULL), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, NULL), 0));
        /* The test dies before .fini could remove the file. */
        unlink(path);
        kill(getpid(), SIGBUS); /* default action: dies with SIGBUS */
        for (int i = 0; i < 100; i++)
                usleep(10000);
}

Test(guard, sent_sigbus_stays_ignored_when_the_program_ignored_it) {
        mc_mapping m;
        char buf[8];

        signal(SIGBUS, SIG_IGN);
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, NULL), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, NULL), 0));
        kill(getpid(), SIGBUS);
        usleep(10000);
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, NULL), 0), "still alive");
        mc_unmap(ctx, &m, NULL);
}

Test(guard, handler_install_failure_is_an_error) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        char buf[8];

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, NULL), 0));
        mc_sys.sigaction = failing_sigaction;
        failing_errno = EINVAL;
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, buf, 8, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "guard"), NULL), "%s", err.message);
        mc_unmap(ctx, &m, NULL);
}
