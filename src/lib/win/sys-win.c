/* SPDX-License-Identifier: MIT */
/*
 * The system-call seam of the Windows build: POSIX-shaped entries over the Win32 memory and
 * file calls. What each entry means on Windows is in sys-win.h.
 *
 * A file view remembers its file (a duplicated handle) so that msync(MS_SYNC) can flush the
 * file's own buffers too, which FlushViewOfFile alone does not: that is MS_SYNC's meaning.
 */

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <windows.h>

#include "sys.h"

/* ---- errors ------------------------------------------------------------------------------- */

int mc__win_errno(unsigned long code) {
        switch (code) {
        case ERROR_SUCCESS:
                return 0;
        case ERROR_ACCESS_DENIED:
        case ERROR_SHARING_VIOLATION:
        case ERROR_LOCK_VIOLATION:
        case ERROR_PRIVILEGE_NOT_HELD:
                return EACCES;
        case ERROR_FILE_NOT_FOUND:
        case ERROR_PATH_NOT_FOUND:
        case ERROR_INVALID_DRIVE:
                return ENOENT;
        case ERROR_ALREADY_EXISTS:
        case ERROR_FILE_EXISTS:
                return EEXIST;
        case ERROR_NOT_ENOUGH_MEMORY:
        case ERROR_OUTOFMEMORY:
        case ERROR_COMMITMENT_LIMIT:
        case ERROR_NO_SYSTEM_RESOURCES:
        case ERROR_WORKING_SET_QUOTA:
        case ERROR_DISK_FULL:
                return ENOMEM;
        case ERROR_INVALID_ADDRESS:
        case ERROR_INVALID_PARAMETER:
        case ERROR_INVALID_HANDLE:
        case ERROR_MAPPED_ALIGNMENT:
        case ERROR_FILE_INVALID:
        case ERROR_INVALID_NAME:
                return EINVAL;
        case ERROR_NOT_SUPPORTED:
        case ERROR_CALL_NOT_IMPLEMENTED:
                return EOPNOTSUPP;
        case ERROR_NOT_LOCKED:
                return ENOMEM;
        case ERROR_TIMEOUT:
        case WAIT_TIMEOUT:
                return ETIMEDOUT;
        default:
                return EIO;
        }
}

/* Fail with the errno of the last Win32 error. */
static int fail_last(void) {
        errno = mc__win_errno(GetLastError());
        return -1;
}

const char *mc__win_strerror(int errnum, char *buf, size_t size) {
        switch (errnum) {
        case EOPNOTSUPP:
        case ENOTSUP:
                return "Operation not supported on Windows";
        case ETIMEDOUT:
                return "Timed out";
        case EOWNERDEAD:
                return "Owner died";
        case ENODATA:
                return "No data available";
        default:
                if (strerror_s(buf, size, errnum) != 0)
                        snprintf(buf, size, "error %d", errnum);
                return buf;
        }
}

/* ---- views and their files ------------------------------------------------------------------- */

typedef struct view_file {
        struct view_file *next;
        void *base;
        HANDLE file;
} view_file;

static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;
static view_file *views;

static void view_remember(void *base, HANDLE file) {
        view_file *v = malloc(sizeof(*v));
        HANDLE dup;

        /* Without the record MS_SYNC flushes the view only; the mapping itself is fine. */
        if (!v)
                return;
        if (!DuplicateHandle(GetCurrentProcess(), file, GetCurrentProcess(), &dup, 0, FALSE,
                             DUPLICATE_SAME_ACCESS)) {
                free(v);
                return;
        }
        v->base = base;
        v->file = dup;
        pthread_mutex_lock(&views_lock);
        v->next = views;
        views = v;
        pthread_mutex_unlock(&views_lock);
}

/* Forget the view at @base; returns its file handle (the caller closes it) or NULL. */
static HANDLE view_forget(void *base, bool remove) {
        HANDLE h = NULL;

        pthread_mutex_lock(&views_lock);
        for (view_file **p = &views; *p; p = &(*p)->next)
                if ((*p)->base == base) {
                        view_file *v = *p;
                        h = v->file;
                        if (remove) {
                                *p = v->next;
                                free(v);
                        }
                        break;
                }
        pthread_mutex_unlock(&views_lock);
        return h;
}

/* ---- memory ------------------------------------------------------------------------------------
 */

static DWORD page_protect(int prot, bool copy_on_write) {
        bool w = prot & PROT_WRITE, x = prot & PROT_EXEC, r = prot & PROT_READ;

        if (x)
                return w ? (copy_on_write ? PAGE_EXECUTE_WRITECOPY : PAGE_EXECUTE_READWRITE)
                         : (r ? PAGE_EXECUTE_READ : PAGE_EXECUTE);
        if (w)
                return copy_on_write ? PAGE_WRITECOPY : PAGE_READWRITE;
        return r ? PAGE_READONLY : PAGE_NOACCESS;
}

long mc__win_page_size(void) {
        SYSTEM_INFO si;

        GetSystemInfo(&si);
        return (long) si.dwPageSize;
}

static size_t granularity(void) {
        SYSTEM_INFO si;

        GetSystemInfo(&si);
        return si.dwAllocationGranularity;
}

/* Map a view of section @section, then give it exactly @prot (PROT_NONE has no view access). */
static void *map_view(HANDLE section, int prot, bool private_copy, uint64_t off, size_t len) {
        DWORD access =
                private_copy ? FILE_MAP_COPY : (prot & PROT_WRITE ? FILE_MAP_WRITE : FILE_MAP_READ);
        DWORD old;
        void *p;

        if (prot & PROT_EXEC)
                access |= FILE_MAP_EXECUTE;
        p = MapViewOfFile(section, access, (DWORD) (off >> 32), (DWORD) off, len);
        if (!p)
                return NULL;
        if (prot == PROT_NONE && len == 0) {
                MEMORY_BASIC_INFORMATION mbi;
                len = VirtualQuery(p, &mbi, sizeof(mbi)) ? mbi.RegionSize : 0;
        }
        if (prot == PROT_NONE && !VirtualProtect(p, len, PAGE_NOACCESS, &old)) {
                DWORD e = GetLastError();
                UnmapViewOfFile(p);
                SetLastError(e);
                return NULL;
        }
        return p;
}

static void *sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
        bool shared = (flags & MAP_SHARED_VALIDATE) != MAP_PRIVATE;
        HANDLE section, file = INVALID_HANDLE_VALUE;
        DWORD sec_prot;
        void *p;

        (void) addr;
        if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_HUGETLB | MAP_SYNC | MAP_LOCKED)) {
                errno = EOPNOTSUPP;
                return MAP_FAILED;
        }
        if (len == 0 || off < 0 || (size_t) off % granularity() != 0) {
                errno = EINVAL;
                return MAP_FAILED;
        }
        if ((flags & MAP_ANONYMOUS) && !shared) {
                p = VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT, page_protect(prot, false));
                if (!p) {
                        fail_last();
                        return MAP_FAILED;
                }
                return p;
        }
        if (!(flags & MAP_ANONYMOUS)) {
                intptr_t h = _get_osfhandle(fd);
                if (h == -1) {
                        errno = EBADF;
                        return MAP_FAILED;
                }
                file = (HANDLE) h;
        }
        /*
         * The section's protection is the most any view may have: read-write when the file
         * allows it (a later mprotect may ask for write), read-only otherwise. Size 0: the
         * file's size, so a view never grows the file; one past its end fails.
         */
        if (!shared) {
                sec_prot = prot & PROT_EXEC ? PAGE_EXECUTE_WRITECOPY : PAGE_WRITECOPY;
                section = CreateFileMappingW(file, NULL, sec_prot, 0, 0, NULL);
        } else if (file == INVALID_HANDLE_VALUE) {
                uint64_t n = len;
                sec_prot = prot & PROT_EXEC ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE;
                section = CreateFileMappingW(file, NULL, sec_prot, (DWORD) (n >> 32), (DWORD) n,
                                             NULL);
        } else {
                sec_prot = prot & PROT_EXEC ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE;
                section = CreateFileMappingW(file, NULL, sec_prot, 0, 0, NULL);
                if (!section && GetLastError() == ERROR_ACCESS_DENIED && !(prot & PROT_WRITE))
                        section = CreateFileMappingW(
                                file, NULL, prot & PROT_EXEC ? PAGE_EXECUTE_READ : PAGE_READONLY, 0,
                                0, NULL);
        }
        if (!section) {
                fail_last();
                return MAP_FAILED;
        }
        if (file != INVALID_HANDLE_VALUE) {
                /* As on Linux, the last page may reach past the end of the file: Windows maps
                 * no view past the section, so such a view ends where the file does. */
                LARGE_INTEGER size;
                if (GetFileSizeEx(file, &size) && (uint64_t) off + len > (uint64_t) size.QuadPart &&
                    (uint64_t) off + len - (uint64_t) size.QuadPart <
                            (uint64_t) mc__win_page_size())
                        len = 0;
        }
        p = map_view(section, prot, !shared, (uint64_t) off, len);
        if (!p) {
                DWORD e = GetLastError();
                CloseHandle(section);
                /* A view past the end of the file. */
                errno = e == ERROR_ACCESS_DENIED && file != INVALID_HANDLE_VALUE ? ENXIO
                                                                                 : mc__win_errno(e);
                return MAP_FAILED;
        }
        /* The view keeps the section alive; its handle is not needed any more. */
        CloseHandle(section);
        if (file != INVALID_HANDLE_VALUE)
                view_remember(p, file);
        return p;
}

static int sys_munmap(void *addr, size_t len) {
        MEMORY_BASIC_INFORMATION mbi;
        HANDLE file;

        if (!VirtualQuery(addr, &mbi, sizeof(mbi)) || mbi.State == MEM_FREE) {
                errno = EINVAL;
                return -1;
        }
        if (mbi.AllocationBase != addr) {
                errno = EOPNOTSUPP; /* Windows frees whole allocations only */
                return -1;
        }
        (void) len;
        if (mbi.Type == MEM_MAPPED) {
                if (!UnmapViewOfFile(addr))
                        return fail_last();
                file = view_forget(addr, true);
                if (file)
                        CloseHandle(file);
                return 0;
        }
        if (!VirtualFree(addr, 0, MEM_RELEASE))
                return fail_last();
        return 0;
}

/* Whether the pages at @addr are a private view of a file (copy-on-write). */
static bool is_copy_view(const void *addr) {
        MEMORY_BASIC_INFORMATION mbi;

        if (!VirtualQuery(addr, &mbi, sizeof(mbi)) || mbi.Type != MEM_MAPPED)
                return false;
        return mbi.AllocationProtect == PAGE_WRITECOPY ||
               mbi.AllocationProtect == PAGE_EXECUTE_WRITECOPY;
}

static int sys_mprotect(void *addr, size_t len, int prot) {
        DWORD old;

        if (!VirtualProtect(addr, len, page_protect(prot, is_copy_view(addr)), &old))
                return fail_last();
        return 0;
}

static int sys_msync(void *addr, size_t len, int flags) {
        MEMORY_BASIC_INFORMATION mbi;
        HANDLE file;

        if (!VirtualQuery(addr, &mbi, sizeof(mbi)) || mbi.State == MEM_FREE) {
                errno = ENOMEM;
                return -1;
        }
        if (mbi.Type != MEM_MAPPED)
                return 0; /* private memory has no file to write back */
        if (!FlushViewOfFile(addr, len))
                return fail_last();
        if (flags & MS_SYNC) {
                file = view_forget(mbi.AllocationBase, false);
                if (file && !FlushFileBuffers(file))
                        return fail_last();
        }
        return 0;
}

static void *sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr) {
        (void) old, (void) old_len, (void) new_len, (void) flags, (void) new_addr;
        errno = EOPNOTSUPP;
        return MAP_FAILED;
}

/* Zero the private pages of [addr, addr+len) as MADV_DONTNEED does: decommit, commit again. */
static int discard_zero(void *addr, size_t len) {
        MEMORY_BASIC_INFORMATION mbi;

        if (!VirtualQuery(addr, &mbi, sizeof(mbi)))
                return fail_last();
        if (mbi.Type != MEM_PRIVATE) {
                errno = EOPNOTSUPP; /* a view's pages are the section's: nothing to drop */
                return -1;
        }
        if (!VirtualFree(addr, len, MEM_DECOMMIT))
                return fail_last();
        if (!VirtualAlloc(addr, len, MEM_COMMIT, mbi.Protect))
                return fail_last();
        return 0;
}

static int sys_madvise(void *addr, size_t len, int advice) {
        switch (advice) {
        case MADV_NORMAL:
        case MADV_RANDOM:
        case MADV_SEQUENTIAL:
                return 0;
        case MADV_WILLNEED: {
                WIN32_MEMORY_RANGE_ENTRY r = {addr, len};
                if (!PrefetchVirtualMemory(GetCurrentProcess(), 1, &r, 0))
                        return fail_last();
                return 0;
        }
        case MADV_DONTNEED:
                return discard_zero(addr, len);
        case MADV_FREE: {
                /* MEM_RESET: the pages' contents may be dropped instead of paged out, as
                 * DiscardVirtualMemory does (which Windows before 8.1 and Wine lack). */
                MEMORY_BASIC_INFORMATION mbi;
                if (!VirtualQuery(addr, &mbi, sizeof(mbi)))
                        return fail_last();
                if (mbi.Type != MEM_PRIVATE) {
                        errno = EOPNOTSUPP;
                        return -1;
                }
                if (!VirtualAlloc(addr, len, MEM_RESET, mbi.Protect))
                        return fail_last();
                return 0;
        }
        default:
                errno = EOPNOTSUPP;
                return -1;
        }
}

static int sys_mlock2(const void *addr, size_t len, unsigned flags) {
        if (flags & MLOCK_ONFAULT) {
                errno = EOPNOTSUPP;
                return -1;
        }
        if (!VirtualLock((void *) addr, len))
                return fail_last();
        return 0;
}

static int sys_munlock(const void *addr, size_t len) {
        if (!VirtualUnlock((void *) addr, len))
                return fail_last();
        return 0;
}

/* ---- files -------------------------------------------------------------------------------------
 */

wchar_t *mc__win_wide(const char *s) {
        int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
        wchar_t *w;

        if (n <= 0) {
                errno = EINVAL;
                return NULL;
        }
        w = malloc((size_t) n * sizeof(*w));
        if (!w) {
                errno = ENOMEM;
                return NULL;
        }
        MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
        return w;
}

/* Paths are UTF-8 (policy files, audit logs): _wopen, not _open's ANSI code page. */
static int sys_open(const char *path, int flags, mode_t mode) {
        wchar_t *w = mc__win_wide(path);
        int fd, saved;

        if (!w)
                return -1;
        fd = _wopen(w, flags | O_BINARY | O_NOINHERIT, (int) mode);
        saved = errno;
        free(w);
        errno = saved;
        return fd;
}

static ssize_t sys_read(int fd, void *buf, size_t len) {
        return _read(fd, buf, len > INT32_MAX ? INT32_MAX : (unsigned) len);
}

static ssize_t sys_write(int fd, const void *buf, size_t len) {
        return _write(fd, buf, len > INT32_MAX ? INT32_MAX : (unsigned) len);
}

static int sys_close(int fd) {
        return _close(fd);
}

static int sys_fstat(int fd, struct stat *st) {
        BY_HANDLE_FILE_INFORMATION info;
        intptr_t h;
        uint64_t index;

        if (fstat(fd, st) < 0)
                return -1;
        h = _get_osfhandle(fd);
        if (h != -1 && GetFileInformationByHandle((HANDLE) h, &info)) {
                index = (uint64_t) info.nFileIndexHigh << 32 | info.nFileIndexLow;
                st->st_dev = (dev_t) (info.dwVolumeSerialNumber ^ (uint32_t) (index >> 16));
                st->st_ino = (ino_t) index;
        }
        return 0;
}

static int sys_dupfd(int fd, int min) {
        (void) min;
        return _dup(fd);
}

static int sys_fdatasync(int fd) {
        intptr_t h = _get_osfhandle(fd);

        if (h == -1) {
                errno = EBADF;
                return -1;
        }
        if (!FlushFileBuffers((HANDLE) h))
                return fail_last();
        return 0;
}

/* ---- sections ------------------------------------------------------------------------------ */

static HANDLE section_handle(int section) {
        return (HANDLE) (intptr_t) section;
}

static int section_create(const wchar_t *name, uint64_t size, int prot) {
        HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL,
                                      prot & PROT_EXEC ? PAGE_EXECUTE_READWRITE : PAGE_READWRITE,
                                      (DWORD) (size >> 32), (DWORD) size, name);

        if (!h)
                return fail_last();
        if (name && GetLastError() == ERROR_ALREADY_EXISTS) {
                CloseHandle(h);
                errno = EEXIST;
                return -1;
        }
        return (int) (intptr_t) h;
}

static int section_open(const wchar_t *name, int write) {
        HANDLE h = OpenFileMappingW(FILE_MAP_READ | (write ? FILE_MAP_WRITE : 0) | FILE_MAP_EXECUTE,
                                    FALSE, name);

        /* A section made without execute rights refuses FILE_MAP_EXECUTE: ask without it. */
        if (!h && GetLastError() == ERROR_ACCESS_DENIED)
                h = OpenFileMappingW(FILE_MAP_READ | (write ? FILE_MAP_WRITE : 0), FALSE, name);
        if (!h)
                return fail_last();
        return (int) (intptr_t) h;
}

static int section_size(int section, uint64_t *ret_size) {
        MEMORY_BASIC_INFORMATION mbi;
        void *p = MapViewOfFile(section_handle(section), FILE_MAP_READ, 0, 0, 0);

        if (!p)
                return fail_last();
        if (!VirtualQuery(p, &mbi, sizeof(mbi))) {
                DWORD e = GetLastError();
                UnmapViewOfFile(p);
                SetLastError(e);
                return fail_last();
        }
        UnmapViewOfFile(p);
        *ret_size = mbi.RegionSize;
        return 0;
}

static void *section_map(int section, int prot) {
        void *p = map_view(section_handle(section), prot, false, 0, 0);

        if (!p) {
                fail_last();
                return MAP_FAILED;
        }
        return p;
}

static int section_close(int section) {
        if (!CloseHandle(section_handle(section)))
                return fail_last();
        return 0;
}

#define REAL_SYS                                                                                   \
        {                                                                                          \
                .mmap = sys_mmap, .munmap = sys_munmap, .mprotect = sys_mprotect,                  \
                .msync = sys_msync, .mremap = sys_mremap, .madvise = sys_madvise,                  \
                .mlock2 = sys_mlock2, .munlock = sys_munlock, .open = sys_open, .read = sys_read,  \
                .close = sys_close, .fstat = sys_fstat, .dupfd = sys_dupfd, .write = sys_write,    \
                .fdatasync = sys_fdatasync, .section_create = section_create,                      \
                .section_open = section_open, .section_size = section_size,                        \
                .section_map = section_map, .section_close = section_close,                        \
        }

static const struct mc_sys real = REAL_SYS;

struct mc_sys mc_sys = REAL_SYS;

void mc__sys_reset(void) {
        mc_sys = real;
}
