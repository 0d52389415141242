/* SPDX-License-Identifier: MIT */
/* The version the library was built as, which can differ from the header a program used. */

#include "config.h"
#include "internal.h"

const char *mc_version(void) {
        return MEMCAP_VERSION;
}
