/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The system-call seam of the Windows build (see sys.h for the idea). The shared files call
 * the same entries with the same POSIX conventions (-1 or MAP_FAILED with errno set); each is
 * a Windows call here (sys-win.c), with GetLastError() mapped to errno by mc__win_errno():
 *
 * - mmap: VirtualAlloc for private anonymous memory; an unnamed section (CreateFileMapping of
 *   the paging file) and MapViewOfFile for shared anonymous memory; CreateFileMapping of the
 *   descriptor's file and MapViewOfFile for a file (FILE_MAP_COPY when private). MAP_FIXED,
 *   huge pages and the Linux-only flags fail with ENOTSUP; a file offset must be a multiple of
 *   the allocation granularity (64 KiB), EINVAL otherwise.
 * - munmap: VirtualFree or UnmapViewOfFile of a whole mapping; a part of one is ENOTSUP.
 * - mprotect: VirtualProtect (a private file view's write is copy-on-write, PAGE_WRITECOPY).
 * - msync: FlushViewOfFile, and FlushFileBuffers of the view's file for MS_SYNC.
 * - madvise: WILLNEED is PrefetchVirtualMemory; DONTNEED of private memory decommits and
 *   recommits (zero pages, as on Linux); FREE is VirtualAlloc(MEM_RESET) of private memory
 *   (DiscardVirtualMemory's effect, which Wine does not implement); NORMAL, RANDOM and
 *   SEQUENTIAL are hints Windows has no call for (accepted); the rest ENOTSUP.
 * - mlock2 / munlock: VirtualLock / VirtualUnlock. mremap: ENOTSUP.
 * - open, read, write, close, fstat: the C runtime's, binary mode, paths in UTF-8 (_wopen); fstat
 * fills st_dev and st_ino from the volume serial number and the file index, folded into the CRT's
 * 48 bits (what the per-object W^X rule compares). fdatasync: FlushFileBuffers.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <wchar.h>

struct mc_sys {
        void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
        int (*munmap)(void *addr, size_t len);
        int (*mprotect)(void *addr, size_t len, int prot);
        int (*msync)(void *addr, size_t len, int flags);
        void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
        int (*madvise)(void *addr, size_t len, int advice);
        int (*mlock2)(const void *addr, size_t len, unsigned flags);
        int (*munlock)(const void *addr, size_t len);

        int (*open)(const char *path, int flags, mode_t mode);
        ssize_t (*read)(int fd, void *buf, size_t len);
        int (*close)(int fd);
        int (*fstat)(int fd, struct stat *st);
        int (*dupfd)(int fd, int min);
        ssize_t (*write)(int fd, const void *buf, size_t len);
        int (*fdatasync)(int fd);

        /*
         * Sections (shm-win.c). A section is named by its HANDLE value as an int: Windows
         * handles are 32-bit significant. create: a new section of @size bytes backed by the
         * paging file, named @name (UTF-16, NULL: unnamed); EEXIST when the name is taken
         * (the section is not kept then). open: an existing one, for writing too when @write.
         * size: the size of the section's view (page-rounded). map: a shared view of all of
         * it with @prot (PROT_*). All return -1 with errno set on failure.
         */
        int (*section_create)(const wchar_t *name, uint64_t size, int prot);
        int (*section_open)(const wchar_t *name, int write);
        int (*section_size)(int section, uint64_t *ret_size);
        void *(*section_map)(int section, int prot);
        int (*section_close)(int section);
};

/* The table the library calls through. */
extern struct mc_sys mc_sys;

/* Put every entry back to the real call (tests call it in .fini). */
void mc__sys_reset(void);

/* The errno for a Win32 error code (GetLastError()); EIO for one without a counterpart. */
int mc__win_errno(unsigned long code);

/* The UTF-16 form of UTF-8 @s, malloc'ed; NULL with errno set (EINVAL: not UTF-8). */
wchar_t *mc__win_wide(const char *s);

/*
 * The test seam of the console's control events (signal-win.c): what Windows does when the
 * console sends @event (CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT, ...), that is
 * call memcap's control handler; nonzero when memcap took the event. Nothing can make Wine or
 * a test send CLOSE, LOGOFF or SHUTDOWN, so tests/portable/test-console-win.c calls this.
 */
int mc__signal_console_event(unsigned long event);

/* The page size (GetSystemInfo()). */
long mc__win_page_size(void);

/* strerror() that knows the POSIX errno values the Microsoft C runtime has no text for. */
const char *mc__win_strerror(int errnum, char *buf, size_t size);

/*
 * The signals the shared code names that Windows lacks: SIGKILL and SIGSTOP (which the
 * policy's default leaves out, as on Linux) on numbers the C runtime does not use, and an empty
 * realtime range.
 */
#define SIGKILL  9
#define SIGSTOP  19
#define SIGRTMIN 24
#define SIGRTMAX 23

/* Disk quotas: an errno the C runtime does not define, past the last one it does. */
#ifndef EDQUOT
#define EDQUOT 141
#endif

/* O_CLOEXEC and O_NOCTTY mean nothing to the C runtime: handles are not inherited by default. */
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NOCTTY
#define O_NOCTTY 0
#endif
/*
 * O_NONBLOCK keeps an open of a FIFO from waiting for a writer on Linux; Windows has no FIFOs
 * in the file system (an open of a busy pipe fails at once), and the C runtime has no flag.
 */
#ifndef O_NONBLOCK
#define O_NONBLOCK 0
#endif
