/* SPDX-License-Identifier: MIT */
/*
 * Shared memory names, the same on every platform: what mc_shared_open() accepts and the one
 * spelling ("/name") the policy and the audit log see.
 */

#include <stdio.h>

#include "internal.h"

bool mc_shared_name_valid(const char *name, const char **reason) {
        const char *why = NULL;
        size_t n;

        if (!name)
                why = "the name is NULL";
        else {
                if (*name == '/')
                        name++;
                n = strlen(name);
                if (n == 0)
                        why = "the name is empty";
                else if (n > MC_SHARED_NAME_MAX)
                        why = "the name is longer than 255 bytes";
                else if (streq(name, ".") || streq(name, ".."))
                        why = "\".\" and \"..\" are not names";
                else if (strchr(name, '/'))
                        why = "a name holds no '/' after the leading one";
                else
                        for (const char *p = name; *p; p++)
                                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                                        why = "a name holds no control characters";
                                        break;
                                }
        }
        if (why && reason)
                *reason = why;
        return !why;
}

/* "/name" for any valid spelling. */
void mc__shm_name_normalize(const char *name, char out[MC_SHARED_NAME_MAX + 2]) {
        snprintf(out, MC_SHARED_NAME_MAX + 2, "/%s", name[0] == '/' ? name + 1 : name);
}
