/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The memcapd wire protocol codec: requests in, replies out. docs/protocol.md is the
 * specification; this is its C side.
 *
 * One request is one line of JSON: an object with exactly one key, the call's name, whose value
 * is an object of fields. mcd_request_parse() turns a line into an mcd_request or an
 * InvalidArgument error whose message names the call and the field, ready to be sent back with
 * mcd_reply_error(). Replies are written by a small dedicated JSON writer straight into an
 * append-only buffer (mcd_buf) that the server writes to the socket, without building a tree:
 * bulk data goes through base64 or a byte-to-text table into the buffer in one pass.
 *
 * The codec has no state, no locks and no I/O: every function is thread-safe on distinct
 * arguments. It uses the public memcap API only (mc_error, mc_error_kind_name()).
 *
 * Three mechanisms that change for different reasons implement it, one file each: the full
 * decoder (protocol-decode.c, the safety net), the fast path (protocol-fast.c, speed only: it
 * never rejects) and the reply encoder (protocol-encode.c); protocol.c holds the names and
 * tables they share (protocol-int.h) and mcd_request_parse().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memcap/memcap.h>

/* The protocol version Hello reports; it changes only with an incompatible change. */
#define MCD_PROTOCOL_VERSION 1

/* The daemon's name and version as Hello reports them. */
#define MCD_DAEMON_NAME    "memcapd"
#define MCD_DAEMON_VERSION MEMCAP_VERSION_STRING

/* Nesting deeper than this is refused before the JSON parser sees it (requests need 3). */
#define MCD_MAX_DEPTH 32

/* The largest offset, length and mapping id the protocol carries: 2^63 - 1. */
#define MCD_MAX_U63 ((uint64_t) INT64_MAX)

/* The calls, in the order docs/protocol.md lists them. */
typedef enum mcd_call {
        MCD_CALL_MMAP,
        MCD_CALL_MMAP_READ,
        MCD_CALL_MMAP_WRITE,
        MCD_CALL_MSYNC,
        MCD_CALL_MUNMAP,
        MCD_CALL_MMAP_STATS,
        MCD_CALL_MPROTECT,
        MCD_CALL_MMAP_LIST,
        MCD_CALL_MMAP_FD,
        MCD_CALL_MADVISE,
        MCD_CALL_MLOCK,
        MCD_CALL_MUNLOCK,
        MCD_CALL_HELLO,
        MCD_CALL_CHANNEL_CREATE,
        MCD_CALL_CHANNEL_OPEN,
        _MCD_CALL_MAX,
} mcd_call;

/* The call's name on the wire ("MmapRead"), or NULL for a value outside the enum. */
const char *mcd_call_name(mcd_call call);

/* How MmapRead and MmapWrite carry bytes. */
typedef enum mcd_encoding {
        MCD_ENCODING_ARRAY,  /* "array": a JSON array of numbers 0-255 (the default) */
        MCD_ENCODING_BASE64, /* "base64": one string, RFC 4648 with padding */
} mcd_encoding;

/* Protection bits on the wire; the same values as mc_prot. */
#define MCD_PROT_READ  1u
#define MCD_PROT_WRITE 2u
#define MCD_PROT_EXEC  4u
#define MCD_PROT_ALL   7u

/* Capabilities a client may hold; Hello lists the granted ones in this order. */
typedef enum mcd_capability {
        MCD_CAP_FILE_READ = 1 << 0,   /* "FileRead": every Mmap */
        MCD_CAP_FILE_WRITE = 1 << 1,  /* "FileWrite": Mmap with write, Mprotect adding write */
        MCD_CAP_SYSTEM_INFO = 1 << 2, /* "SystemInfo": MmapStats/MmapList of others' mappings */
        MCD_CAP_FD_PASS = 1 << 3,     /* "FdPass": MmapFd */
        MCD_CAP_MEM_LOCK = 1 << 4,    /* "MemLock": Mlock */
        /* "Channel": ChannelCreate and ChannelOpen (MC_CAP_CHANNEL, outside MC_CAP_ALL):
         * granted only by configuration, never by default. */
        MCD_CAP_CHANNEL = 1 << 5,
        MCD_CAP_ALL = (1 << 6) - 1,
} mcd_capability;

/* The capability's name ("FileRead") for a single bit, or NULL. */
const char *mcd_capability_name(mcd_capability cap);

/* The longest channel name, in bytes, with its leading '/'. */
#define MCD_CHANNEL_NAME_MAX 128

/* Channels the daemon holds at most, per creating process and in all (docs/protocol.md). */
#define MCD_CHANNELS_PER_CLIENT 16
#define MCD_CHANNELS_MAX        256

/*
 * A parsed request. Which members mean anything depends on @call; the others are zero. Owns
 * @path and @data: release with mcd_request_done().
 *
 *   call        fields
 *   Mmap        path (NULL: anonymous), offset, length (has_length), prot, shared
 *   MmapRead    mmap_id, offset (default 0), length, encoding
 *   MmapWrite   mmap_id, offset (default 0), data/data_len, encoding
 *   Munmap, MmapStats, MmapFd   mmap_id
 *   Msync, Mlock, Munlock   mmap_id, offset (default 0), length (has_length: else to the end)
 *   Mprotect    as Msync, and prot
 *   Madvise     as Msync, and advice
 *   MmapList    all
 *   Hello       nothing
 *   ChannelCreate  name, capacity (0: the library's default), max_message, producers (0: one
 *                  producer; 1..64: a multi-producer channel of that many), eventfd
 *   ChannelOpen    name, role
 */
typedef struct mcd_request {
        mcd_call call;
        uint64_t mmap_id;      /* 1 .. MCD_MAX_U63 */
        char *path;            /* NUL-free, non-empty, starts with '/'; valid UTF-8 */
        uint64_t offset;       /* 0 .. MCD_MAX_U63; Mmap: any byte offset, default 0 */
        uint64_t length;       /* 0 .. MCD_MAX_U63 */
        bool has_length;       /* Mmap: false means "to the end of the file" */
        unsigned prot;         /* MCD_PROT_* bits, 0 .. 7 */
        bool shared;           /* Mmap: MAP_SHARED; default false (private) */
        bool all;              /* MmapList: every client's mappings (needs SystemInfo) */
        mc_advice advice;      /* Madvise: by its name, "WILLNEED" etc. (mc_advice_name()) */
        mcd_encoding encoding; /* MmapRead: of the reply; MmapWrite: of data */
        uint8_t *data;         /* MmapWrite: the bytes (non-NULL, also when data_len is 0) */
        size_t data_len;
        /* Channels: "/" and then 1..MCD_CHANNEL_NAME_MAX - 1 of [A-Za-z0-9._-], not "." or
         * ".."; the client may leave out the '/', the decoder adds it. */
        char *name;
        uint64_t capacity;    /* ChannelCreate: ring bytes, 0 (absent) for the default */
        uint64_t max_message; /* ChannelCreate: 1 .. MCD_MAX_U63 */
        uint64_t producers;   /* ChannelCreate: 0 .. MC_CHANNEL_MAX_PRODUCERS */
        mc_channel_role role; /* ChannelOpen: "producer", "consumer" or "none" */
        bool eventfd;         /* ChannelCreate: two eventfds come with the region */
} mcd_request;

#define MCD_REQUEST_INIT                                                                           \
        { .call = _MCD_CALL_MAX }

/**
 * mcd_request_parse() - decode one request line.
 * @line: the bytes of the line; need not be NUL-terminated and may contain anything.
 * @len: its length, without the newline.
 * @ret: filled on success (release with mcd_request_done()); untouched on failure.
 * @err: on failure (may be NULL): InvalidArgument with a message such as
 *       "MmapRead: field 'length' must be a non-negative integer (got -1)" that names the call
 *       and the field when the line got that far, or OutOfMemory.
 *
 * Rejected (InvalidArgument): malformed JSON, invalid UTF-8, nesting deeper than MCD_MAX_DEPTH,
 * a duplicate key at any depth, anything but an object with exactly one key, an unknown call,
 * a call value that is not an object, a missing, mistyped or unknown field, a number that is
 * not an exact integer in its field's range (1.0, 1e3, -0, -1, 2^63 ...), a path that is empty,
 * relative or contains NUL, bad base64, an encoding other than "array" or "base64", an advice
 * that is not an advice's name, an anonymous Mmap without a length or with a non-zero offset.
 * What the values mean (a range outside a mapping, an advice the daemon does not offer) is for
 * the daemon to judge. Never reads outside
 * @line[0..@len), whatever the bytes. Thread-safe.
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
int mcd_request_parse(const char *line, size_t len, mcd_request *ret, mc_error *err);

/*
 * The two halves of mcd_request_parse(), exposed for the tests that hold them against each
 * other; the daemon calls mcd_request_parse() only.
 *
 * mcd_request_parse_fast() takes the plain shapes of the frequent calls without jansson and
 * returns true with *@ret filled, or false, leaving *@ret untouched, for anything else
 * (including every invalid line and running out of memory). When it returns true,
 * mcd_request_parse_full() returns 0 with an equal request.
 *
 * mcd_request_parse_full() is the complete decoder, with the contract of mcd_request_parse().
 */
bool mcd_request_parse_fast(const char *line, size_t len, mcd_request *ret);
int mcd_request_parse_full(const char *line, size_t len, mcd_request *ret, mc_error *err);

/* Free what @req owns and reset it to MCD_REQUEST_INIT. Accepts a zeroed or done request. */
void mcd_request_done(mcd_request *req);

/* ---- replies ------------------------------------------------------------------------------ */

/*
 * An append-only output buffer. Start from MCD_BUF_INIT; release with mcd_buf_done(). Every
 * mcd_reply_*() appends exactly one complete line ending in '\n' and returns 0, or returns
 * -ENOMEM (out of memory, or a reply too large to exist) and leaves the buffer exactly as it
 * was: a half-written reply never reaches a client.
 *
 * Strings in replies (paths, messages, reasons) may hold any bytes: '"', '\\' and control
 * characters are escaped, valid UTF-8 is copied, and every other byte is written as \u00XX.
 * Numbers are exact decimal integers.
 */
typedef struct mcd_buf {
        char *data;
        size_t len; /* bytes of replies held */
        size_t cap; /* bytes allocated */
} mcd_buf;

#define MCD_BUF_INIT                                                                               \
        { NULL, 0, 0 }

/* Free the storage; @b is MCD_BUF_INIT afterwards. */
void mcd_buf_done(mcd_buf *b);

/* Make room for @n more bytes. Returns 0 or -ENOMEM (also when len + @n overflows). */
int mcd_buf_reserve(mcd_buf *b, size_t n);

/* Drop the first @n bytes (already written to the socket); @n <= len. Keeps the storage. */
void mcd_buf_consume(mcd_buf *b, size_t n);

/* {"status":"success"} */
int mcd_reply_success(mcd_buf *b);

/* The reply to Msync: {"status":"success","written":true}, "written" as @written says. */
int mcd_reply_msync(mcd_buf *b, bool written);

/*
 * The reply to Mmap: {"status":"success","data":[0,0,0,1],"mmap_id":1,"length":4096}.
 * "data" is @id big-endian in 4 bytes, or in 8 bytes when it exceeds 2^32 - 1.
 */
int mcd_reply_mmap(mcd_buf *b, uint64_t id, uint64_t length);

/*
 * The reply to MmapRead: {"status":"success","data":[72,105]} or, with MCD_ENCODING_BASE64,
 * {"status":"success","data":"SGk="}. @bytes may be NULL when @n is 0. One reservation, then
 * the bytes are written straight into the buffer. -EINVAL for an encoding outside the enum.
 */
int mcd_reply_data(mcd_buf *b, const void *bytes, size_t n, mcd_encoding encoding);

/* One mapping as MmapStats and MmapList describe it. */
typedef struct mcd_stats {
        uint64_t id;
        const char *path; /* NUL-terminated; NULL for an anonymous mapping (written as null) */
        uint64_t offset;  /* in the file */
        uint64_t length;
        unsigned prot; /* MCD_PROT_* bits */
        bool shared;   /* "Shared", else "Private" */
        pid_t owner_pid;
        uint64_t locked; /* written as "locked" when not 0 */
        bool faulted;    /* written as "faulted": true when set */
        /* Written as "ranges" when @n_ranges is not 0: the runs of one protection. */
        const mc_mapping_range *ranges;
        size_t n_ranges;
} mcd_stats;

/*
 * {"status":"success","data":{"id":1,"path":"/data/myfile.dat",...,"owner_pid":42}}, then
 * "locked", "faulted" and "ranges" ([{"offset":0,"length":4096,"prot":{...}},...]) when they say
 * something.
 */
int mcd_reply_stats(mcd_buf *b, const mcd_stats *s);

/* {"status":"success","data":[<stats>,...]}; @items may be NULL when @n is 0. */
int mcd_reply_list(mcd_buf *b, const mcd_stats *items, size_t n);

/* {"status":"success","mmap_id":1,"offset":0,"length":4096,"writable":true} */
int mcd_reply_fd(mcd_buf *b, uint64_t id, uint64_t offset, uint64_t length, bool writable);

/*
 * {"status":"success","data":{"daemon":"memcapd","version":"0.1.0","protocol":1,
 * "capabilities":[...],"pid":<pid>,"uid":<uid>}}: @caps are the mcd_capability bits granted to
 * the client, @pid and @uid its credentials as the daemon sees them.
 */
int mcd_reply_hello(mcd_buf *b, unsigned caps, pid_t pid, uid_t uid);

/*
 * {"status":"error","kind":"NotFound","message":"Munmap failed: Mmap 7 not found","errno":2}
 * @e: the failure; "errno" is written only when e->sys_errno is not 0.
 * @call: the call's name for the "<call> failed: " prefix, or NULL for none (a request that
 *        did not parse, whose message already names the call).
 */
int mcd_reply_error(mcd_buf *b, const mc_error *e, const char *call);

/* {"status":"permission_denied","kind":"PermissionDenied","reason":"..."} */
int mcd_reply_denied(mcd_buf *b, const char *reason);

/* A channel as ChannelCreate and ChannelOpen describe it. */
typedef struct mcd_channel_info {
        const char *name; /* NUL-terminated, as the decoder checked it */
        uint64_t capacity, max_message;
        unsigned max_producers; /* 1 for a single-producer channel */
        mc_channel_role role;   /* the end the client asked for (ChannelCreate: none) */
        unsigned n_fds;         /* descriptors with the reply: 1, or 3 with eventfds */
} mcd_channel_info;

/*
 * {"status":"success","name":"/jobs","capacity":65536,"max_message":1024,"max_producers":1,
 * "role":"consumer","eventfd":false,"fds":1}: "fds" is the number of descriptors (SCM_RIGHTS) that
 * come with it, in the order of mc_channel_fds (region, recv_event, send_event).
 */
int mcd_reply_channel(mcd_buf *b, const mcd_channel_info *ch);
