/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_CLIENT_H
#define MEMCAP_CLIENT_H

/*
 * A client of memcapd, the mapping broker (its protocol: docs/protocol.md, memcapd(8)).
 *
 * A connection (mc_daemon) is synchronous: a call sends one request line and waits for its
 * reply line, so a file descriptor that arrives with a reply (SCM_RIGHTS, MmapFd) belongs to
 * that reply. The typed calls (mc_daemon_hello(), mc_daemon_mmap(), ...) build the request and
 * check the reply for you; mc_daemon_call() makes any call from JSON text, and
 * mc_daemon_send_line()/mc_daemon_recv_line() pass lines through untouched.
 *
 * The daemon gives each mapping to the client *process* that made it, not to the connection:
 * several connections of one process share its ids, and the daemon releases them (syncing
 * shared writable ones) when the process exits.
 *
 * Errors are the library's: an error reply fills @err with the daemon's kind and errno and the
 * message "<Call> failed: <message>"; a daemon that is not there is NotFound, a socket this user
 * may not open PermissionDenied, a reply that breaks the protocol Io (EPROTO). Everything the
 * daemon sends is treated as untrusted: reply lines are bounded (MC_DAEMON_REPLY_MAX), an
 * unexpected descriptor is closed, and the daemon's text is escaped before it reaches
 * err->message (control characters and bytes that are not UTF-8 become "\xNN"), so a message is
 * safe to print on a terminal.
 *
 * Threads: one connection must not be used by two threads at once; separate connections are
 * independent. fork(): a child shares the socket with its parent, and replies would go to
 * whichever process reads first; the child should mc_daemon_close() an inherited connection
 * without using it (the descriptor is O_CLOEXEC, so exec closes it) and open its own. A
 * daemon that closes the connection is Io (ECONNRESET); writing to it never raises SIGPIPE.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/export.h>
#include <memcap/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable that names the daemon's socket, over the default. */
#define MC_DAEMON_SOCKET_ENV "MEMCAPD_SOCKET"

/* The longest reply line accepted, in bytes; a longer one is Io (EMSGSIZE). */
#define MC_DAEMON_REPLY_MAX ((size_t) 256 << 20)

/* A connection to memcapd. */
typedef struct mc_daemon mc_daemon;

/**
 * mc_daemon_default_socket() - the socket a client uses when none is given.
 *
 * As memcapd chooses its own: $MEMCAPD_SOCKET when set and not empty; else
 * $XDG_RUNTIME_DIR/memcap/memcapd.sock for a user other than root whose XDG_RUNTIME_DIR is an
 * absolute path; else /run/memcap/memcapd.sock.
 *
 * @ret_path: a malloc'd string the caller free()s.
 * @return 0, or -ENOMEM.
 */
MC_API int mc_daemon_default_socket(char **ret_path);

/**
 * mc_daemon_connect() - connect to the memcapd listening on @path.
 *
 * @path: the socket; NULL for mc_daemon_default_socket().
 * @ret:  the connection (O_CLOEXEC), closed with mc_daemon_close(); untouched on failure.
 * @return 0, or -errno: a missing socket or one nobody listens on is NotFound ("is memcapd
 *         running?"), a socket the caller may not open PermissionDenied, a path longer than a
 *         Unix socket address takes InvalidArgument (ENAMETOOLONG).
 */
MC_API int mc_daemon_connect(const char *path, mc_daemon **ret, mc_error *err);

/* mc_daemon_close() - close the connection and free it; NULL is fine. */
MC_API void mc_daemon_close(mc_daemon *d);

/* mc_daemon_path() - the socket path the connection was opened with (owned by @d). */
MC_API const char *mc_daemon_path(const mc_daemon *d);

/**
 * mc_daemon_send_line() - send @len bytes of @line and a '\n'.
 *
 * @return 0, or -errno: a line holding '\n' (it would be two requests) is InvalidArgument; a
 *         daemon that went away is Io (EPIPE or ECONNRESET), never SIGPIPE.
 */
MC_API int mc_daemon_send_line(mc_daemon *d, const char *line, size_t len, mc_error *err);

/**
 * mc_daemon_recv_line() - receive the next reply line.
 *
 * @ret_line: the line, NUL-terminated, without its '\n', in the connection's buffer: valid
 *            until the next call on @d.
 * @ret_len:  its length.
 * @ret_fd:   the descriptor that came with the line (O_CLOEXEC; the caller closes it), or
 *            -EBADF when none did. NULL: a descriptor that came is closed. Descriptors beyond
 *            the first of a line are always closed.
 * @return 0, or -errno: the connection closing before a full line, a line longer than
 *         MC_DAEMON_REPLY_MAX or truncated ancillary data are Io. Outputs are untouched on
 *         failure.
 */
MC_API int mc_daemon_recv_line(mc_daemon *d, const char **ret_line, size_t *ret_len, int *ret_fd,
                               mc_error *err);

/**
 * mc_daemon_reply_check() - whether a reply line says success.
 *
 * @reply: the reply line (@len bytes) to the call named @call.
 * @return 0 for "status": "success"; otherwise -errno with @err filled: an error reply gets its
 *         kind and errno (0 in err->sys_errno when the daemon sent none) and
 *         "<call> failed: <message>"; permission_denied is PermissionDenied with the daemon's
 *         reason; anything that is not a JSON object with a known status and kind is Io
 *         (EPROTO).
 */
MC_API int mc_daemon_reply_check(const char *reply, size_t len, const char *call, mc_error *err);

/**
 * mc_daemon_call() - make one call and check its reply.
 *
 * Sends {"<call>": <args>} and waits for the reply.
 *
 * @call:      the call's name, e.g. "MmapStats" (letters only).
 * @args:      the call's fields as a JSON object's text, e.g. "{\"mmap_id\": 1}"; NULL for {}.
 * @ret_reply: when not NULL, the whole reply line, malloc'd and NUL-terminated, on success.
 * @ret_fd:    as for mc_daemon_recv_line(), set only on success (a descriptor that came with
 *             an error reply is closed).
 * @return 0, or -errno with @err filled as mc_daemon_reply_check() does; @args that is not a
 *         JSON object, or a @call that is not a name, is InvalidArgument and sends nothing.
 */
MC_API int mc_daemon_call(mc_daemon *d, const char *call, const char *args, char **ret_reply,
                          int *ret_fd, mc_error *err);

/* What Hello says about the daemon and about this client. */
typedef struct mc_daemon_info {
        char daemon[32];       /* "memcapd" */
        char version[32];      /* the daemon's version, e.g. "0.1.0" */
        unsigned protocol;     /* the protocol's version: 1 */
        unsigned capabilities; /* mc_capability bits the daemon grants this client */
        pid_t pid;             /* this process as the daemon sees it */
        uid_t uid;
} mc_daemon_info;

/**
 * mc_daemon_hello() - ask the daemon who it is and what this client may do.
 * @return 0 with *@ret filled, or -errno (names or a version that do not fit, or a capability
 *         this library does not know, are Io: the reply is not what protocol 1 says).
 */
MC_API int mc_daemon_hello(mc_daemon *d, mc_daemon_info *ret, mc_error *err);

/* Flags of mc_daemon_mmap(). */
typedef enum mc_daemon_map_flags {
        MC_DAEMON_MAP_SHARED = 1 << 0, /* MAP_SHARED: writes reach the file and other mappings */
} mc_daemon_map_flags;

/**
 * mc_daemon_mmap() - have the daemon map a file beneath its root, or anonymous memory.
 *
 * @path:   a path in the daemon's root ("/data/f"), or NULL for anonymous memory.
 * @offset: any byte offset (0 without @path).
 * @length: bytes to map; 0 maps to the end of the file (not for anonymous memory).
 * @prot:   mc_prot bits (MC_PROT_READ 1, MC_PROT_WRITE 2, MC_PROT_EXEC 4).
 * @flags:  mc_daemon_map_flags.
 * @ret_id: the mapping's id, which belongs to this process.
 * @ret_length: the bytes actually mapped (shorter when the file ends first); may be NULL.
 * @return 0, or -errno: the daemon's refusal (PermissionDenied for a missing capability,
 *         PolicyViolation, NotFound, InvalidArgument, ...).
 */
MC_API int mc_daemon_mmap(mc_daemon *d, const char *path, uint64_t offset, uint64_t length,
                          unsigned prot, unsigned flags, uint64_t *ret_id, uint64_t *ret_length,
                          mc_error *err);

/**
 * mc_daemon_read() - copy @len bytes at @offset of mapping @id into @buf.
 *
 * The bytes travel as base64 in one reply, so @len is bounded by the daemon's max_read (1 MiB
 * by default: InvalidArgument beyond it); for bulk data map the descriptor of
 * mc_daemon_mmap_fd(). A read past the end is InvalidArgument, never cut short; a file that
 * shrank under the mapping is Io. @buf is untouched on failure.
 */
MC_API int mc_daemon_read(mc_daemon *d, uint64_t id, uint64_t offset, void *buf, size_t len,
                          mc_error *err);

/**
 * mc_daemon_write() - copy @len bytes of @buf into mapping @id at @offset.
 *
 * As base64 in one request line, bounded by the daemon's max_line (4 MiB of text, about 3 MiB
 * of data, by default). The range must lie inside the mapping (InvalidArgument).
 */
MC_API int mc_daemon_write(mc_daemon *d, uint64_t id, uint64_t offset, const void *buf, size_t len,
                           mc_error *err);

/**
 * mc_daemon_msync() - write mapping @id back to its file and wait (msync(MS_SYNC)).
 * @ret_written: may be NULL; false when the mapping writes to no file (private, anonymous or
 *               read-only): a success that did nothing.
 */
MC_API int mc_daemon_msync(mc_daemon *d, uint64_t id, bool *ret_written, mc_error *err);

/* mc_daemon_munmap() - unmap mapping @id (a shared writable one is synced first). */
MC_API int mc_daemon_munmap(mc_daemon *d, uint64_t id, mc_error *err);

/**
 * mc_daemon_mmap_fd() - receive the descriptor behind mapping @id (needs FdPass), to map the
 * file here without copying through the socket.
 * @ret_fd: O_CLOEXEC; the caller closes it.
 */
MC_API int mc_daemon_mmap_fd(mc_daemon *d, uint64_t id, int *ret_fd, mc_error *err);

#ifdef __cplusplus
}
#endif

#endif
