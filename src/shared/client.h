/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A small synchronous client of memcapd (docs/protocol.md): connect to the daemon's socket,
 * send one request line, read one reply line. Replies are read with recvmsg(), so the file
 * descriptor MmapFd sends along with its reply (SCM_RIGHTS) is received and handed to the
 * caller instead of being lost. Errors fill an mc_error like the library's, so the tools print
 * them and pick their exit status in one place (error_report()).
 *
 * One request at a time: mcc_call() sends and then waits for the reply, so a descriptor that
 * arrives while it waits belongs to that reply. Not thread-safe; one connection per thread.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <memcap/memcap.h>

#include "macro.h"

/* The environment variable that names the daemon's socket, overriding the default. */
#define MCC_SOCKET_ENV "MEMCAPD_SOCKET"

/*
 * Longest reply line accepted (bytes, without the '\n'). memcapd's largest reply is a read of
 * max_read bytes as a number array (4 characters a byte; max_read is 1 MiB by default and may be
 * configured higher); a line longer than this is Io, so a broken or hostile peer cannot make the
 * client allocate without bound.
 */
#define MCC_REPLY_MAX ((size_t) 256 << 20)

typedef struct mcc mcc;

/*
 * The socket a client uses when none is given, as memcapd chooses its own default: the value of
 * $MEMCAPD_SOCKET when set and not empty; else $XDG_RUNTIME_DIR/memcap/memcapd.sock for a user
 * other than root whose XDG_RUNTIME_DIR is an absolute path; else /run/memcap/memcapd.sock.
 * Returns 0 with a malloc'd string in *@ret, or -ENOMEM.
 */
int mcc_default_socket(char **ret);

/*
 * Connect to the daemon listening on @path. A missing socket or one nobody listens on is
 * NotFound ("is memcapd running?"), a socket the caller may not open is PermissionDenied, a path
 * too long for a Unix socket address is InvalidArgument. The descriptor is O_CLOEXEC.
 * Returns 0 with the connection in *@ret (untouched on failure), or -errno with @err filled.
 */
int mcc_open(const char *path, mcc **ret, mc_error *err);

/* Close the connection and free it; NULL is fine. */
void mcc_close(mcc *c);

static inline void mcc_closep(mcc **c) {
        mcc_close(*c);
}

/* The socket path the connection was opened with. */
const char *mcc_path(const mcc *c);

/*
 * Send @line (@len bytes, no '\n' inside) followed by '\n'. A line holding '\n' is
 * InvalidArgument, because it would be two requests. A daemon that went away is Io (EPIPE),
 * never SIGPIPE. Returns 0 or -errno with @err filled.
 */
int mcc_send_line(mcc *c, const char *line, size_t len, mc_error *err);

/*
 * Receive the next reply line. *@ret_line points at it, NUL-terminated and without its '\n', in
 * the connection's buffer: valid until the next call on @c. *@ret_len is its length.
 * @ret_fd: when not NULL, receives the descriptor that came with the line (O_CLOEXEC; the
 * caller closes it) or -EBADF when none did. When NULL, a descriptor that came is closed.
 * Extra descriptors beyond the first are always closed. The connection closing before a full
 * line, a line over MCC_REPLY_MAX, or truncated ancillary data are Io.
 * Returns 0 or -errno with @err filled; the outputs are untouched on failure.
 */
int mcc_recv_line(mcc *c, const char **ret_line, size_t *ret_len, int *ret_fd, mc_error *err);

/*
 * Make one call: send {"@call": @args} (@args may be NULL for {}; its reference is taken in
 * every case), read the reply, parse it and check its status with mcc_reply_check().
 * @ret_reply: on success, the reply object (the caller json_decref()s it); may be NULL.
 * @ret_fd: as for mcc_recv_line(), but set only on success; on failure a descriptor is closed.
 * Returns 0 or -errno with @err filled, also for an error reply of the daemon.
 */
int mcc_call(mcc *c, const char *call, json_t *args, json_t **ret_reply, int *ret_fd,
             mc_error *err);

/*
 * Whether @reply, the daemon's reply to @call, says success. An error reply fills @err with
 * its kind and errno and the message "<call> failed: <message>" (the daemon's message already
 * starts that way when the call was carried out; it is not repeated); permission_denied fills
 * PermissionDenied and "<call> failed: <reason>". A reply that is not an object with a known
 * status, or an error with an unknown kind, is Io. Returns 0 or -errno.
 */
int mcc_reply_check(const json_t *reply, const char *call, mc_error *err);

/*
 * Member @key of @obj as an unsigned integer: 0, or -EPROTO (Io in @err, naming @call and @key)
 * when it is missing, not an integer or negative. For reading the daemon's replies.
 */
int mcc_reply_u64(const json_t *obj, const char *call, const char *key, uint64_t *ret,
                  mc_error *err);
