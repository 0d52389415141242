/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small helpers every file of the project may use; they depend on libc only. The cleanup
 * attribute is GCC/Clang-specific, which is why it never appears in public headers.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x)    __builtin_expect(!!(x), 1)
#define _unlikely_(x)  __builtin_expect(!!(x), 0)

#ifdef _WIN32
/* mingw's printf is the C99 one (__USE_MINGW_ANSI_STDIO), which knows %zu. */
#undef _printf_
#define _printf_(a, b) __attribute__((format(gnu_printf, a, b)))
#endif

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#define MC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Take ownership out of a variable that a _cleanup_ would otherwise release. */
#define TAKE_GENERIC(var, type, nullvalue)                                                         \
        ({                                                                                         \
                type *_pvar_ = &(var);                                                             \
                type _var_ = *_pvar_;                                                              \
                *_pvar_ = (nullvalue);                                                             \
                _var_;                                                                             \
        })
#define TAKE_PTR(p) TAKE_GENERIC(p, __typeof__(p), NULL)
#define TAKE_FD(fd) TAKE_GENERIC(fd, int, -EBADF)

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes a descriptor and keeps errno, so it can sit on error paths. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Overflow-checked arithmetic: true when the result does not fit. */
#define MC_ADD_OVERFLOW(a, b, res) __builtin_add_overflow(a, b, res)
#define MC_MUL_OVERFLOW(a, b, res) __builtin_mul_overflow(a, b, res)

/* Round @x up to a multiple of the power of two @a; false when that overflows. */
static inline bool align_up(size_t x, size_t a, size_t *ret) {
        size_t r;
        if (MC_ADD_OVERFLOW(x, a - 1, &r))
                return false;
        *ret = r & ~(a - 1);
        return true;
}

static inline size_t align_down(size_t x, size_t a) {
        return x & ~(a - 1);
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* Copy @src into @dst of @size bytes; returns false (and a truncated copy) when it did not fit. */
static inline bool strscpy(char *dst, size_t size, const char *src) {
        size_t n = strlen(src);
        if (size == 0)
                return false;
        if (n >= size) {
                memcpy(dst, src, size - 1);
                dst[size - 1] = 0;
                return false;
        }
        memcpy(dst, src, n + 1);
        return true;
}
