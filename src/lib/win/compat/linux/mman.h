/* SPDX-License-Identifier: MIT */
#pragma once

/* Huge page sizes of mmap(2) for the Windows build (see sys/mman.h here): Linux's values. */

#define MAP_HUGE_SHIFT 26
#define MAP_HUGE_2MB   (21 << MAP_HUGE_SHIFT)
#define MAP_HUGE_1GB   (30 << MAP_HUGE_SHIFT)
