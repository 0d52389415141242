/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Anonymous memory through the library, the mapping most unit suites start from: one request
 * (MC_MAP_ANONYMOUS, private) instead of a copy of it in every suite.
 */

#include <memcap/memcap.h>

/* mc_mmap() of @len bytes of anonymous memory with @prot in @ctx: its result; @err may be NULL. */
int anon_map(mc_ctx *ctx, size_t len, unsigned prot, mc_mapping *m, mc_error *err);
/* anon_map(), which must succeed: the test fails with the library's message otherwise. */
void anon_map_ok(mc_ctx *ctx, size_t len, unsigned prot, mc_mapping *m);
