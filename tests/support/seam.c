/* SPDX-License-Identifier: MIT */
#include "seam.h"

#include <sys/mman.h>

int n_mmap, n_munmap, n_mprotect;

/* Atomic: a test may map from several threads. */
void *count_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        __atomic_fetch_add(&n_mmap, 1, __ATOMIC_RELAXED);
        return mmap(addr, len, prot, flags, fd, off);
}

int count_munmap(void *addr, size_t len) {
        __atomic_fetch_add(&n_munmap, 1, __ATOMIC_RELAXED);
        return munmap(addr, len);
}

int count_mprotect(void *addr, size_t len, int prot) {
        __atomic_fetch_add(&n_mprotect, 1, __ATOMIC_RELAXED);
        return mprotect(addr, len, prot);
}
