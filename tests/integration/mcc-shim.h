/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The channel suites speak to memcapd with JSON objects (jansson) in and out; the public client
 * (<memcap/client.h>) takes and gives text. These three adapt one to the other, nothing more:
 * errors, descriptors and the reply check are the client's own.
 */

#include <jansson.h>
#include <memcap/client.h>

typedef mc_daemon mcc;

_unused_ static int mcc_open(const char *path, mcc **ret, mc_error *err) {
        return mc_daemon_connect(path, ret, err);
}

_unused_ static void mcc_close(mcc *c) {
        mc_daemon_close(c);
}

/* mc_daemon_call() with @args taken (decref'd) and the reply, when asked for, parsed. */
_unused_ static int mcc_call(mcc *c, const char *call, json_t *args, json_t **ret_reply,
                             int *ret_fd, mc_error *err) {
        char *text = args ? json_dumps(args, JSON_COMPACT) : NULL, *reply = NULL;
        int r;

        json_decref(args);
        if (args && !text)
                return mc_error_set(err, MC_ERR_OUT_OF_MEMORY, ENOMEM, "%s: out of memory", call);
        r = mc_daemon_call(c, call, text, ret_reply ? &reply : NULL, ret_fd, err);
        free(text);
        if (r == 0 && ret_reply) {
                *ret_reply = json_loads(reply, 0, NULL);
                if (!*ret_reply)
                        r = mc_error_set(err, MC_ERR_IO, EPROTO, "%s: a reply that is not JSON",
                                         call);
        }
        free(reply);
        return r;
}
