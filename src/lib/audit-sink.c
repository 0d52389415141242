/* SPDX-License-Identifier: MIT */
/*
 * Audit sinks: a descriptor (a file opened O_APPEND, or the caller's descriptor), syslog, or a
 * user callback. Each takes a finished record (audit.c) in one piece.
 *
 * Sections: the sink, writing a record, opening and closing sinks.
 */

#include <fcntl.h>
#include <syslog.h>

#include "audit-def.h"

/* ---- the sink -------------------------------------------------------------------------------- */

typedef enum sink_type {
        SINK_FD,       /* mc_audit_open_file() and mc_audit_open_fd() */
        SINK_SYSLOG,   /* mc_audit_open_syslog() */
        SINK_CALLBACK, /* mc_audit_open_callback() */
} sink_type;

/*
 * The context holds its lock around every call into a sink, so nothing here needs a lock of its
 * own; only the dropped counter is read from outside that lock (usage reports), hence atomic.
 */
struct mc_audit {
        sink_type type;
        unsigned flags; /* mc_audit_flags */
        int fd;         /* SINK_FD */
        char *ident;    /* SINK_SYSLOG: openlog() keeps this pointer, so it lives with the sink */
        int facility;   /* SINK_SYSLOG */
        mc_audit_callback callback;
        void *userdata;
        uint64_t dropped; /* __atomic_* only */
};

/* ---- writing a record ------------------------------------------------------------------------ */

void mc__audit_count_dropped(mc_audit *a) {
        __atomic_fetch_add(&a->dropped, 1, __ATOMIC_RELAXED);
}

/*
 * One write(2) per record: with O_APPEND the kernel appends it in one piece, so records of
 * several processes sharing the file never interleave. A retry after a partial write would
 * break exactly that, so a short write loses the record.
 */
static void sink_write(mc_audit *a, const char *line, size_t n) {
        ssize_t k;
        int r;

        do
                k = mc_sys.write(a->fd, line, n);
        while (k < 0 && errno == EINTR);
        if (k < 0 || (size_t) k != n) {
                mc__audit_count_dropped(a);
                /*
                 * Best effort: end the fragment's line so the records after it still parse as
                 * lines of their own.
                 */
                if (k > 0)
                        (void) mc_sys.write(a->fd, "\n", 1);
                return;
        }
        if (!(a->flags & MC_AUDIT_FSYNC))
                return;
        do
                r = mc_sys.fdatasync(a->fd);
        while (r < 0 && errno == EINTR);
        /* EINVAL: a pipe or socket, for which there is nothing to make durable. */
        if (r < 0 && errno != EINVAL)
                mc__audit_count_dropped(a);
}

/* Terminate the record and hand it to the sink; @b->len is the JSON text without newline. */
void mc__audit_emit(mc_audit *a, mc__jbuf *b, const mc__rec_meta *m) {
        size_t n;

        if (!jb_reserve(b, 2)) {
                mc__audit_count_dropped(a);
                return;
        }
        n = b->len;
        b->p[n] = '\n';
        b->p[n + 1] = 0;

        switch (a->type) {
        case SINK_FD:
                sink_write(a, b->p, n + 1);
                break;
        case SINK_SYSLOG:
                b->p[n] = 0;
                /* The facility goes with every record: openlog() state is per process. */
                syslog((m->kind == MC_OK ? LOG_INFO : LOG_WARNING) | a->facility, "%s", b->p);
                break;
        case SINK_CALLBACK: {
                mc_audit_record rec = {
                        .time_ns = m->time_ns,
                        .capability = m->capability,
                        .operation = m->operation,
                        .pid = m->pid,
                        .kind = m->kind,
                        .sys_errno = m->sys_errno,
                        .message = m->message,
                        .code = m->code,
                        .json = b->p,
                        .json_len = n,
                };

                b->p[n] = 0;
                a->callback(&rec, a->userdata);
                break;
        }
        }
}

uint64_t mc__audit_dropped(const mc_audit *audit) {
        if (!audit)
                return 0;
        return __atomic_load_n(&audit->dropped, __ATOMIC_RELAXED);
}

/* ---- opening and closing sinks --------------------------------------------------------------- */

static mc_audit *audit_alloc(sink_type type) {
        mc_audit *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        a->type = type;
        a->fd = -EBADF;
        return a;
}

static void audit_closep(mc_audit **a) {
        mc_audit_close(*a);
}

static int check_common(unsigned flags, mc_audit **ret, const char *what, mc_error *err) {
        if (!ret)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "%s: no place for the result (ret is NULL)", what);
        if (flags & ~(unsigned) MC_AUDIT_FSYNC)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL, "%s: unknown flags 0x%x",
                                     what, flags & ~(unsigned) MC_AUDIT_FSYNC);
        return 0;
}

int mc_audit_open_file(const char *path, unsigned flags, mc_audit **ret, mc_error *err) {
        _cleanup_(audit_closep) mc_audit *a = NULL;
        int r;

        r = check_common(flags, ret, "open audit log", err);
        if (r < 0)
                return r;
        if (!path || !*path)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "open audit log: no path given");

        a = audit_alloc(SINK_FD);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open audit log '%s'", path);
        a->flags = flags;
        /* O_APPEND and never O_TRUNC: an audit trail is only ever added to. */
        a->fd = mc_sys.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (a->fd < 0)
                return mc__error_errno(err, errno, "open audit log '%s'", path);
        *ret = TAKE_PTR(a);
        return 0;
}

int mc_audit_open_fd(int fd, unsigned flags, mc_audit **ret, mc_error *err) {
        _cleanup_(audit_closep) mc_audit *a = NULL;
        int r;

        r = check_common(flags, ret, "open audit fd", err);
        if (r < 0)
                return r;
        if (fd < 0)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EBADF,
                                     "open audit fd %d: not a file descriptor", fd);

        a = audit_alloc(SINK_FD);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open audit fd %d", fd);
        a->flags = flags;
        /* Our own descriptor: the caller may close theirs whenever it likes. */
        a->fd = mc_sys.dupfd(fd, 3);
        if (a->fd < 0)
                return mc__error_errno(err, errno, "duplicate audit fd %d", fd);
        *ret = TAKE_PTR(a);
        return 0;
}

int mc_audit_open_syslog(const char *ident, int facility, mc_audit **ret, mc_error *err) {
        _cleanup_(audit_closep) mc_audit *a = NULL;
        int r;

        r = check_common(0, ret, "open syslog audit sink", err);
        if (r < 0)
                return r;
        if ((facility & ~LOG_FACMASK) != 0 || LOG_FAC(facility) >= LOG_NFACILITIES)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "open syslog audit sink: invalid facility %d", facility);

        a = audit_alloc(SINK_SYSLOG);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open syslog audit sink");
        a->facility = facility;
        a->ident = strdup(ident ? ident : "memcap");
        if (!a->ident)
                return mc__error_errno(err, ENOMEM, "open syslog audit sink");
        /*
         * openlog() keeps the ident pointer, so the copy lives as long as the sink. The
         * identity is process-wide: with several syslog sinks the last one opened names them
         * all (glibc's closelog() forgets the pointer, so a closed sink leaves none dangling).
         */
        openlog(a->ident, LOG_PID, facility);
        *ret = TAKE_PTR(a);
        return 0;
}

int mc_audit_open_callback(mc_audit_callback callback, void *userdata, mc_audit **ret,
                           mc_error *err) {
        mc_audit *a;
        int r;

        r = check_common(0, ret, "open audit callback", err);
        if (r < 0)
                return r;
        if (!callback)
                return mc__error_set(err, MC_ERR_INVALID_ARGUMENT, EINVAL,
                                     "open audit callback: no callback given");

        a = audit_alloc(SINK_CALLBACK);
        if (!a)
                return mc__error_errno(err, ENOMEM, "open audit callback");
        a->callback = callback;
        a->userdata = userdata;
        *ret = a;
        return 0;
}

void mc_audit_close(mc_audit *audit) {
        if (!audit)
                return;
        if (audit->fd >= 0)
                mc_sys.close(audit->fd);
        if (audit->type == SINK_SYSLOG && audit->ident)
                closelog();
        free(audit->ident);
        free(audit);
}
