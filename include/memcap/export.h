/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_EXPORT_H
#define MEMCAP_EXPORT_H

/*
 * The library is built with hidden symbol visibility; only declarations marked MC_API are
 * part of its ABI.
 */
#if defined(__GNUC__) && __GNUC__ >= 4
#define MC_API __attribute__((visibility("default")))
#else
#define MC_API
#endif

/* printf-style format checking of a public function's arguments, where the compiler has it. */
#if defined(__GNUC__)
#define MC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MC_PRINTF(fmt, args)
#endif

/* MEMCAP_VERSION_MAJOR, _MINOR, _PATCH and _STRING, generated from the build's version. */
#include <memcap/version.h>

#endif
