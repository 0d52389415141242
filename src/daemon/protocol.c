/* SPDX-License-Identifier: MIT */
/*
 * The memcapd wire protocol codec, in three parts that change for different reasons, behind the
 * one protocol.h:
 *
 *   protocol-decode.c  the full decoder: the safety net. Every request line can go this way, and
 *                      what a request means and every error message are its alone.
 *   protocol-fast.c    the fast path: speed only. It takes the plain shapes of the calls clients
 *                      send in bulk, never rejects, and leaves every line it does not take whole
 *                      to the full decoder.
 *   protocol-encode.c  the reply encoder: one line of JSON per reply, written into space
 *                      reserved once per reply.
 *
 * This file holds what they share (the names of calls and fields, which fields each call takes)
 * and the entry point that tries the fast path first.
 *
 * Sections: names, requests.
 */

#include <stdlib.h>

#include "macro.h"
#include "protocol-int.h"

/* ---- names ---------------------------------------------------------------------------------- */

const char *const mcd__call_names[_MCD_CALL_MAX] = {
        [MCD_CALL_MMAP] = "Mmap",
        [MCD_CALL_MMAP_READ] = "MmapRead",
        [MCD_CALL_MMAP_WRITE] = "MmapWrite",
        [MCD_CALL_MSYNC] = "Msync",
        [MCD_CALL_MUNMAP] = "Munmap",
        [MCD_CALL_MMAP_STATS] = "MmapStats",
        [MCD_CALL_MPROTECT] = "Mprotect",
        [MCD_CALL_MMAP_LIST] = "MmapList",
        [MCD_CALL_MMAP_FD] = "MmapFd",
        [MCD_CALL_MADVISE] = "Madvise",
        [MCD_CALL_MLOCK] = "Mlock",
        [MCD_CALL_MUNLOCK] = "Munlock",
        [MCD_CALL_HELLO] = "Hello",
        [MCD_CALL_CHANNEL_CREATE] = "ChannelCreate",
        [MCD_CALL_CHANNEL_OPEN] = "ChannelOpen",
};

const char *mcd_call_name(mcd_call call) {
        if ((unsigned) call >= _MCD_CALL_MAX)
                return NULL;
        return mcd__call_names[call];
}

static const char *const capability_names[] = {"FileRead", "FileWrite", "SystemInfo",
                                               "FdPass",   "MemLock",   "Channel"};

const char *mcd_capability_name(mcd_capability cap) {
        for (size_t i = 0; i < ELEMENTSOF(capability_names); i++)
                if ((unsigned) cap == 1u << i)
                        return capability_names[i];
        return NULL;
}

const char *const mcd__field_names[_F_MAX] = {
        [F_MMAP_ID] = "mmap_id",         [F_PATH] = "path",           [F_OFFSET] = "offset",
        [F_LENGTH] = "length",           [F_PROT] = "prot",           [F_SHARED] = "shared",
        [F_ENCODING] = "encoding",       [F_DATA] = "data",           [F_ALL] = "all",
        [F_ADVICE] = "advice",           [F_NAME] = "name",           [F_CAPACITY] = "capacity",
        [F_MAX_MESSAGE] = "max_message", [F_PRODUCERS] = "producers", [F_ROLE] = "role",
        [F_EVENTFD] = "eventfd",
};

const mcd__call_fields_t mcd__call_fields[_MCD_CALL_MAX] = {
        [MCD_CALL_MMAP] = {BIT(F_PATH) | BIT(F_OFFSET) | BIT(F_LENGTH) | BIT(F_PROT) |
                                   BIT(F_SHARED),
                           BIT(F_PROT)},
        /* As in the original protocol, an absent offset of MmapRead and MmapWrite is 0. */
        [MCD_CALL_MMAP_READ] = {BIT(F_MMAP_ID) | BIT(F_OFFSET) | BIT(F_LENGTH) | BIT(F_ENCODING),
                                BIT(F_MMAP_ID) | BIT(F_LENGTH)},
        [MCD_CALL_MMAP_WRITE] = {BIT(F_MMAP_ID) | BIT(F_OFFSET) | BIT(F_DATA) | BIT(F_ENCODING),
                                 BIT(F_MMAP_ID) | BIT(F_DATA)},
        [MCD_CALL_MSYNC] = {RANGE_FIELDS, BIT(F_MMAP_ID)},
        [MCD_CALL_MUNMAP] = {BIT(F_MMAP_ID), BIT(F_MMAP_ID)},
        [MCD_CALL_MMAP_STATS] = {BIT(F_MMAP_ID), BIT(F_MMAP_ID)},
        [MCD_CALL_MPROTECT] = {RANGE_FIELDS | BIT(F_PROT), BIT(F_MMAP_ID) | BIT(F_PROT)},
        [MCD_CALL_MMAP_LIST] = {BIT(F_ALL), 0},
        [MCD_CALL_MMAP_FD] = {BIT(F_MMAP_ID), BIT(F_MMAP_ID)},
        [MCD_CALL_MADVISE] = {RANGE_FIELDS | BIT(F_ADVICE), BIT(F_MMAP_ID) | BIT(F_ADVICE)},
        [MCD_CALL_MLOCK] = {RANGE_FIELDS, BIT(F_MMAP_ID)},
        [MCD_CALL_MUNLOCK] = {RANGE_FIELDS, BIT(F_MMAP_ID)},
        [MCD_CALL_HELLO] = {0, 0},
        [MCD_CALL_CHANNEL_CREATE] = {BIT(F_NAME) | BIT(F_CAPACITY) | BIT(F_MAX_MESSAGE) |
                                             BIT(F_PRODUCERS) | BIT(F_EVENTFD),
                                     BIT(F_NAME) | BIT(F_MAX_MESSAGE)},
        [MCD_CALL_CHANNEL_OPEN] = {BIT(F_NAME) | BIT(F_ROLE), BIT(F_NAME) | BIT(F_ROLE)},
};

/* ---- requests ------------------------------------------------------------------------------- */

void mcd_request_done(mcd_request *req) {
        if (!req)
                return;
        free(req->path);
        free(req->data);
        free(req->name);
        *req = (mcd_request) MCD_REQUEST_INIT;
}

int mcd_request_parse(const char *line, size_t len, mcd_request *ret, mc_error *err) {
        if (line && len > 0 && mcd_request_parse_fast(line, len, ret))
                return 0;
        return mcd_request_parse_full(line, len, ret, err);
}
