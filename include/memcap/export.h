/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_EXPORT_H
#define MEMCAP_EXPORT_H

/*
 * The library is built with hidden symbol visibility; only declarations marked MC_API are
 * part of its ABI. A Windows DLL exports what is marked dllexport while it is built; programs
 * call those functions through the import library, which needs no mark.
 */
#if defined(_WIN32) && defined(MC_BUILDING_DLL)
#define MC_API __declspec(dllexport)
#elif defined(_WIN32)
#define MC_API
#elif defined(__GNUC__) && __GNUC__ >= 4
#define MC_API __attribute__((visibility("default")))
#else
#define MC_API
#endif

/*
 * Windows has no user or group ids; the headers name them for a signal's sender and the
 * mapping manager's clients, which the Windows build never fills (they stay 0).
 */
#if defined(_WIN32) && !defined(MC_HAVE_UID_T)
#define MC_HAVE_UID_T 1
typedef unsigned int uid_t;
typedef unsigned int gid_t;
#endif

/* printf-style format checking of a public function's arguments, where the compiler has it. */
#if defined(__GNUC__) && defined(_WIN32)
#define MC_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#elif defined(__GNUC__)
#define MC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MC_PRINTF(fmt, args)
#endif

/* MEMCAP_VERSION_MAJOR, _MINOR, _PATCH and _STRING, generated from the build's version. */
#include <memcap/version.h>

#endif
