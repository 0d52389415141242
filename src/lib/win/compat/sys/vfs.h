/* SPDX-License-Identifier: MIT */
#pragma once

/* statfs(2)'s answer for the Windows build: no file system there is memory (tmpfs, hugetlbfs). */

#include <stdint.h>

struct statfs {
        int64_t f_type;
};
