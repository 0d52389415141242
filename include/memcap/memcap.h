/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_MEMCAP_H
#define MEMCAP_MEMCAP_H

/*
 * memcap: capability-checked, audited access to memory mappings, shared memory and POSIX
 * signals. Include this umbrella header, link with -lmemcap (pkg-config memcap).
 *
 * Windows (libmemcap-0.dll, built with mingw-w64): every header compiles. The memory, shared
 * memory, policy, audit, error and signal calls work (what Windows cannot do fails with
 * Unsupported, as each header says); the channel (channel.h) and mapping manager (manager.h)
 * calls are absent from the DLL. README.md has the table.
 */

#include <memcap/export.h>
#include <memcap/error.h>
#include <memcap/policy.h>
#include <memcap/audit.h>
#include <memcap/ctx.h>
#include <memcap/memory.h>
#include <memcap/shm.h>
#include <memcap/signal.h>
#include <memcap/manager.h>
#include <memcap/channel.h>
#include <memcap/uffd.h>
#include <memcap/numa.h>
#include <memcap/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/** mc_version() - the library's version string, e.g. "0.1.0" (may differ from the header's). */
MC_API const char *mc_version(void);

#ifdef __cplusplus
}
#endif

#endif
