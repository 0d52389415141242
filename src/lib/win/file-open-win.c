/* SPDX-License-Identifier: MIT */
/*
 * Opening a file for mapping on Windows (file-open.h; file-open.c is Linux's). The same two
 * steps: the file is first opened with no access at all (CreateFileW with access 0, which
 * only lets us look at it, like O_PATH), its type checked and its real path resolved
 * (GetFinalPathNameByHandleW) for the policy; only after the policy allowed the call is the
 * very same file opened for I/O with ReOpenFile, so a rename in between cannot redirect the
 * mapping. Paths are UTF-8 and converted to UTF-16 for Windows; the resolved path is UTF-8
 * again, with Windows' separators, as the policy's allowed_paths and the audit log see it.
 */

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <windows.h>

#include "file-open.h"
#include "internal.h"

static const char *name_of(const mc__file *f, char *buf, size_t size) {
        snprintf(buf, size, "%s '%s'", f->op ? f->op : "open", f->path);
        return buf;
}

void mc__file_done(mc__file *f) {
        if (f->pfd >= 0)
                mc_sys.close(f->pfd);
        f->pfd = -EBADF;
}

static int resolve(mc__file *f, HANDLE h, mc_error *err) {
        wchar_t w[PATH_MAX];
        const wchar_t *p = w;
        char name[MC_ERROR_MESSAGE_MAX];
        DWORD n = GetFinalPathNameByHandleW(h, w, PATH_MAX, FILE_NAME_NORMALIZED);

        if (n == 0 || n >= PATH_MAX)
                return mc__error_errno(err, n ? ENAMETOOLONG : mc__win_errno(GetLastError()),
                                       "%s: resolving the path", name_of(f, name, sizeof(name)));
        /* The verbatim prefix off: "\\?\C:\x" is "C:\x", "\\?\UNC\srv\x" is "\\srv\x". */
        if (wcsncmp(p, L"\\\\?\\UNC\\", 8) == 0) {
                w[6] = L'\\';
                p += 6;
        } else if (wcsncmp(p, L"\\\\?\\", 4) == 0)
                p += 4;
        if (WideCharToMultiByte(CP_UTF8, 0, p, -1, f->resolved, sizeof(f->resolved), NULL, NULL) <=
            0)
                return mc__error_errno(err, ENAMETOOLONG, "%s: resolving the path",
                                       name_of(f, name, sizeof(name)));
        return 0;
}

int mc__file_open(mc__file *f, const char *op, const char *path, unsigned flags, mc_error *err) {
        char name[MC_ERROR_MESSAGE_MAX];
        wchar_t *w;
        HANDLE h;
        int r;

        r = mc__file_start(f, op, path, err);
        if (r < 0)
                return r;
        w = mc__win_wide(path);
        if (!w)
                return mc__error_errno(err, errno, "%s: the path is not UTF-8",
                                       name_of(f, name, sizeof(name)));
        /* Backup semantics: a directory opens too, so that it is refused by its type below. */
        h = CreateFileW(w, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                        OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
        if (h == INVALID_HANDLE_VALUE) {
                free(w);
                return mc__error_errno(err, mc__win_errno(GetLastError()), "%s",
                                       name_of(f, name, sizeof(name)));
        }
        f->pfd = _open_osfhandle((intptr_t) h, O_RDONLY);
        if (f->pfd < 0) {
                free(w);
                CloseHandle(h);
                return mc__error_errno(err, EMFILE, "%s", name_of(f, name, sizeof(name)));
        }
        if (mc_sys.fstat(f->pfd, &f->st) < 0) {
                free(w);
                return mc__error_errno(err, errno, "%s: fstat", name_of(f, name, sizeof(name)));
        }
        bool dir = GetFileAttributesW(w) & FILE_ATTRIBUTE_DIRECTORY;
        free(w);
        if (!S_ISREG(f->st.st_mode) || dir)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: not a regular file (it is a %s)",
                                     name_of(f, name, sizeof(name)),
                                     dir || S_ISDIR(f->st.st_mode) ? "directory" : "device");
        (void) flags;
        return flags & MC__FILE_RESOLVE ? resolve(f, h, err) : 0;
}

int mc__file_reopen(const mc__file *f, int flags, mc_error *err) {
        char name[MC_ERROR_MESSAGE_MAX];
        bool rw = (flags & O_ACCMODE) == O_RDWR;
        HANDLE h =
                ReOpenFile((HANDLE) _get_osfhandle(f->pfd), GENERIC_READ | (rw ? GENERIC_WRITE : 0),
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, 0);
        int fd;

        if (h == INVALID_HANDLE_VALUE)
                return mc__error_errno(err, mc__win_errno(GetLastError()), "%s: opening for %s",
                                       name_of(f, name, sizeof(name)),
                                       rw ? "reading and writing" : "reading");
        fd = _open_osfhandle((intptr_t) h, rw ? O_RDWR : O_RDONLY);
        if (fd < 0) {
                CloseHandle(h);
                return mc__error_errno(err, EMFILE, "%s", name_of(f, name, sizeof(name)));
        }
        return fd;
}

bool mc__file_memory_backed(int fd, const struct stat *st) {
        /* No Windows file system keeps a file's pages in memory only (tmpfs, hugetlbfs). */
        (void) fd, (void) st;
        return false;
}

ssize_t mc__proc_read(const char *path, char *buf, size_t size) {
        /* Windows has no /proc: callers fall back to their defaults. */
        (void) path;
        if (size)
                buf[0] = 0;
        return -ENOENT;
}
