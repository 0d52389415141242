/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The policy's allowed_paths in the platform's own path syntax (the OS layer, docs/design.md):
 * path-posix.c for Linux, win/path-win.c for Windows. mc__policy_normalize_root()
 * (policy-def.h) is defined there too. policy.c decides with these; it never parses a path.
 */

#include <stdbool.h>

/* Whether @path (may be NULL) is absolute: "/x" on Linux; "C:\x" or "\\server\share" on Windows. */
bool mc__path_absolute(const char *path);

/*
 * Whether absolute @path may name something outside a directory it seems to be beneath: it has
 * a ".." component (or, on Windows, a component Windows could read as one). Such a path is
 * beneath no root.
 */
bool mc__path_may_climb(const char *path);

/*
 * Whether absolute @path lies beneath the normalised @root (mc__policy_normalize_root()),
 * comparing whole components: "/srv/data2" is not beneath "/srv/data". @root itself counts.
 */
bool mc__path_beneath(const char *root, const char *path);
