/* SPDX-License-Identifier: MIT */
/*
 * Dumping bytes on standard output, for the commands that print what a mapping holds (`memcap
 * map`, `memcap client read` and `memcap client fd`): raw, as a hexdump like `hexdump -C`, or as
 * text. The bytes come in chunks, so output starts at once and memory stays small, and a
 * mapping is copied out chunk by chunk through mc_map_read(), never read through its pointer:
 * a file truncated under the dump fails with Io instead of killing the tool with SIGBUS.
 *
 * Text keeps newlines and tabs and escapes the rest with str_escape() (control characters and
 * invalid UTF-8 as \xNN); a character that a chunk's end cuts in two waits for the next chunk,
 * so that the cut does not turn it into escapes.
 *
 * Sections: output, mappings.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json-escape.h"

/* Bytes copied out of a mapping per mc_map_read() call. */
#define DUMP_CHUNK ((size_t) 64 * 1024)

/* ---- output --------------------------------------------------------------------------------- */

void dump_init(dump *d, dump_mode mode, uint64_t offset, bool squeeze) {
        *d = (dump){.mode = mode};
        hexdump_init(&d->hex, offset, squeeze);
}

/* The errno of a stdio call that just failed (errno was 0 before it), as a negative value. */
static int write_failed(void) {
        return errno > 0 ? -errno : -EIO;
}

/* Text without a cut character: runs between newlines and tabs escaped, those two kept. */
static int text_emit(dump *d, const unsigned char *s, size_t n) {
        for (size_t i = 0; i < n;) {
                size_t j = i;

                while (j < n && s[j] != '\n' && s[j] != '\t')
                        j++;
                if (j > i) {
                        _cleanup_free_ char *e = str_escape((const char *) s + i, j - i);

                        if (!e)
                                return -ENOMEM;
                        if (fputs(e, stdout) < 0)
                                return write_failed();
                        d->last = 'x';
                }
                if (j < n) {
                        if (putchar(s[j]) == EOF)
                                return write_failed();
                        d->last = (char) s[j];
                        j++;
                }
                i = j;
        }
        return 0;
}

static int text_feed(dump *d, const unsigned char *data, size_t n, bool final) {
        _cleanup_free_ unsigned char *buf = NULL;
        size_t len, keep;
        int r;

        buf = malloc(d->n_carry + n + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, d->carry, d->n_carry);
        if (n > 0)
                memcpy(buf + d->n_carry, data, n);
        len = d->n_carry + n;
        keep = final ? 0 : utf8_incomplete_tail((const char *) buf, len);
        r = text_emit(d, buf, len - keep);
        if (r < 0)
                return r;
        memcpy(d->carry, buf + len - keep, keep);
        d->n_carry = keep;
        if (final && d->last != 0 && d->last != '\n' && putchar('\n') == EOF)
                return write_failed();
        return 0;
}

int dump_feed(dump *d, const void *data, size_t n) {
        errno = 0;
        switch (d->mode) {
        case DUMP_RAW:
                return fwrite(data, 1, n, stdout) == n ? 0 : write_failed();
        case DUMP_HEX:
                return hexdump_feed(&d->hex, data, n, stdout) < 0 ? write_failed() : 0;
        case DUMP_TEXT:
                return text_feed(d, data, n, /* final= */ false);
        }
        return -EINVAL;
}

int dump_finish(dump *d) {
        errno = 0;
        switch (d->mode) {
        case DUMP_RAW:
                return 0;
        case DUMP_HEX:
                return hexdump_finish(&d->hex, stdout) < 0 ? write_failed() : 0;
        case DUMP_TEXT:
                return text_feed(d, NULL, 0, /* final= */ true);
        }
        return -EINVAL;
}

int cli_write_error(mc_error *err, int r) {
        if (r == -ENOMEM)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        return mc_error_errno(err, r < 0 ? r : -EIO, "write to standard output");
}

/* ---- mappings ------------------------------------------------------------------------------- */

int dump_mapping(mc_ctx *ctx, const mc_mapping *m, size_t start, size_t length, dump *d,
                 mc_error *err) {
        _cleanup_free_ unsigned char *buf = NULL;
        int r = 0;

        buf = malloc(MC_MIN(DUMP_CHUNK, MC_MAX(length, (size_t) 1)));
        if (!buf)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "out of memory");
        for (size_t off = 0; off < length && r >= 0;) {
                size_t n = MC_MIN(DUMP_CHUNK, length - off);

                r = mc_map_read(ctx, m, start + off, buf, n, err);
                if (r >= 0 && (r = dump_feed(d, buf, n)) < 0)
                        r = cli_write_error(err, r);
                off += n;
        }
        if (r >= 0 && (r = dump_finish(d)) < 0)
                r = cli_write_error(err, r);
        if (r < 0)
                /* What was printed so far is true; make sure it is out before the error. */
                fflush(stdout);
        return r;
}
