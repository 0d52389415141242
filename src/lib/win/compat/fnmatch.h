/* SPDX-License-Identifier: MIT */
#pragma once

/* fnmatch(3) for the Windows build, which has none (win/fnmatch-win.c): '*', '?', '[...]'. */

#define FNM_NOMATCH 1

int fnmatch(const char *pattern, const char *string, int flags);
