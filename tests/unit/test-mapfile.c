/* SPDX-License-Identifier: MIT */
/*
 * mc_map_file and mc_unmap: any offset and length, the exact byte asked for, zero-length
 * mappings, ranges past the end, files that are not regular, private versus shared writes.
 */

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"

static mc_ctx *ctx;
static char path[128];
static size_t page;

static void setup(void) {
        cr_assert(eq(int, mc_ctx_new(&ctx, NULL), 0));
        page = mc_page_size();
        snprintf(path, sizeof(path), "/tmp/memcap-test-mapfile-%d", (int) getpid());
}

static void teardown(void) {
        ctx = mc_ctx_free(ctx);
        unlink(path);
        mc_test_fini();
}

TestSuite(mapfile, .init = setup, .fini = teardown);

/* A file whose byte i is i * 7 mod 251: every offset is recognisable. */
static void make_file(size_t size) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        unsigned char *buf = malloc(size ? size : 1);

        cr_assert(fd >= 0);
        for (size_t i = 0; i < size; i++)
                buf[i] = (unsigned char) (i * 7 % 251);
        cr_assert(eq(sz, (size_t) write(fd, buf, size), size));
        free(buf);
        close(fd);
}

static unsigned char byte_at(size_t i) {
        return (unsigned char) (i * 7 % 251);
}

Test(mapfile, whole_file_by_default_shared) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        make_file(3 * page + 17);
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, m.len, 3 * page + 17));
        cr_assert(eq(u32, m.flags, MC_MAP_SHARED));
        for (size_t i = 0; i < m.len; i += 97)
                cr_assert(eq(u8, ((unsigned char *) m.ptr)[i], byte_at(i)));
        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0));
        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0), "a zeroed mapping is a no-op for unmap");
        cr_assert(eq(int, mc_munmap(ctx, &m, &err), -ENOENT), "but not for munmap");
}

Test(mapfile, unaligned_offset_points_at_the_exact_byte) {
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;
        mc_usage u;

        make_file(5 * page);
        o.offset = page + 1234;
        o.length = 2 * page + 3;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), 0), "%s",
                  err.message);
        cr_assert(eq(sz, m.len, 2 * page + 3));
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[0], byte_at(page + 1234)));
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[m.len - 1], byte_at(page + 1234 + m.len - 1)));
        cr_assert(eq(ptr, (char *) m.base + 1234, m.ptr));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 3 * page), "1234 + 2 pages + 3 bytes span 3 pages");

        o.length = MC_LENGTH_ALL;
        o.offset = 4 * page + 5;
        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0));
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), 0));
        cr_assert(eq(sz, m.len, page - 5), "to the end of the file");
        cr_assert(eq(u8, ((unsigned char *) m.ptr)[0], byte_at(4 * page + 5)));
        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0));
}

Test(mapfile, empty_file_gives_zero_length_mapping_with_pointer) {
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m, at_end;
        char b;
        mc_usage u;

        make_file(0);
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), 0), "%s",
                  err.message);
        cr_assert(ne(ptr, m.ptr, NULL));
        cr_assert(eq(sz, m.len, 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, &b, 0, &err), 0));
        cr_assert(eq(int, mc_map_read(ctx, &m, 0, &b, 1, &err), -EINVAL));
        cr_assert(eq(int, mc_msync(ctx, &m, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0));
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_NONE, &err), 0));
        cr_assert(eq(int, mc_remap(ctx, &m, page, MC_REMAP_MAYMOVE, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "zero-length"), NULL));
        mc_ctx_get_usage(ctx, &u);
        cr_assert(eq(u64, u.mapped_bytes, 0), "a zero-length mapping uses no quota");
        cr_assert(eq(u64, u.mappings, 1));

        make_file(100);
        o.offset = 100;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &at_end, &err), 0));
        cr_assert(eq(sz, at_end.len, 0));
        cr_assert(ne(ptr, at_end.ptr, m.ptr), "each zero-length mapping has its own pointer");
        cr_assert(eq(int, mc_unmap(ctx, &at_end, &err), 0));
        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0));
}

Test(mapfile, ranges_past_the_end_are_refused_with_the_size) {
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        make_file(1000);
        o.offset = 1001;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "past the end"), NULL), "%s", err.message);
        cr_assert(ne(ptr, strstr(err.message, "1000 bytes"), NULL), "%s", err.message);
        o.offset = 10;
        o.length = 991;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "SIGBUS"), NULL), "%s", err.message);
        o.length = 990;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), 0));
        cr_assert(eq(int, mc_unmap(ctx, &m, &err), 0));
        o.offset = UINT64_MAX;
        o.length = 2;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), -EINVAL));
        o.offset = 5;
        o.length = SIZE_MAX;
        o.length--; /* not MC_LENGTH_ALL, but overflowing */
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), -EINVAL));
}

Test(mapfile, only_regular_files, .timeout = 10) {
        mc_error err = MC_ERROR_INIT;
        char fifo[160];
        mc_mapping m;

        cr_assert(eq(int, mc_map_file(ctx, "/tmp", MC_PROT_READ, NULL, &m, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "directory"), NULL), "%s", err.message);
        snprintf(fifo, sizeof(fifo), "%s.fifo", path);
        cr_assert(eq(int, mkfifo(fifo, 0600), 0));
        /* Must not block waiting for a writer. */
        cr_assert(eq(int, mc_map_file(ctx, fifo, MC_PROT_READ, NULL, &m, &err), -EINVAL));
        cr_assert(ne(ptr, strstr(err.message, "FIFO"), NULL), "%s", err.message);
        unlink(fifo);
        cr_assert(eq(int, mc_map_file(ctx, "/dev/null", MC_PROT_READ, NULL, &m, &err), -EINVAL));
        cr_assert(eq(int, mc_map_file(ctx, "/nonexistent/memcap", MC_PROT_READ, NULL, &m, &err),
                     -ENOENT));
        cr_assert(eq(int, err.kind, MC_ERR_NOT_FOUND));
        cr_assert(ne(ptr, strstr(err.message, "/nonexistent/memcap"), NULL));
        cr_assert(eq(int, mc_map_file(ctx, "", MC_PROT_READ, NULL, &m, &err), -EINVAL));
        cr_assert(eq(int, mc_map_file(ctx, NULL, MC_PROT_READ, NULL, &m, &err), -EINVAL));
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, NULL, &err), -EINVAL));
}

static void read_file(char *buf, size_t len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        cr_assert(eq(sz, (size_t) read(fd, buf, len), len));
        close(fd);
}

Test(mapfile, shared_writes_reach_the_file_private_writes_never) {
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping shared, priv;
        char buf[8] = {0};

        make_file(page);
        o.private_copy = true;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, &o, &priv, &err), 0));
        cr_assert(eq(u32, priv.flags, MC_MAP_PRIVATE));
        memcpy(priv.ptr, "PRIVATE", 7);
        cr_assert(eq(int, mc_msync(ctx, &priv, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0));
        read_file(buf, 7);
        cr_assert(ne(str, buf, "PRIVATE"), "a private write never reaches the file");

        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ_WRITE, NULL, &shared, &err), 0));
        memcpy(shared.ptr, "SHARED!", 7);
        cr_assert(eq(int, mc_msync(ctx, &shared, 0, MC_LENGTH_ALL, MC_SYNC_SYNC, &err), 0));
        read_file(buf, 7);
        cr_assert(eq(str, buf, "SHARED!"));
        cr_assert(eq(int, memcmp(priv.ptr, "PRIVATE", 7), 0), "the private copy keeps its own");
        mc_unmap(ctx, &shared, NULL);
        mc_unmap(ctx, &priv, NULL);
}

Test(mapfile, read_only_file_cannot_be_mapped_shared_writable) {
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        make_file(page);
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, NULL, &m, &err), 0));
        /* Opened read-only for a read-only shared mapping: write is refused by the kernel. */
        cr_assert(eq(int, mc_mprotect(ctx, &m, MC_PROT_READ_WRITE, &err), -EACCES));
        cr_assert(eq(int, err.kind, MC_ERR_PERMISSION_DENIED));
        cr_assert(ne(ptr, strstr(err.message, "not open for writing"), NULL), "%s", err.message);
        mc_unmap(ctx, &m, NULL);
}

Test(mapfile, custom_flags_apply_and_fixed_ones_do_not) {
        const char *populate[] = {"MAP_POPULATE"};
        const char *noreplace[] = {"MAP_FIXED_NOREPLACE"};
        mc_map_file_options o = MC_MAP_FILE_OPTIONS_INIT;
        mc_error err = MC_ERROR_INIT;
        mc_mapping m;

        make_file(page);
        o.custom = populate;
        o.n_custom = 1;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), 0), "%s",
                  err.message);
        mc_unmap(ctx, &m, NULL);
        o.custom = noreplace;
        cr_assert(eq(int, mc_map_file(ctx, path, MC_PROT_READ, &o, &m, &err), -EINVAL));
}
