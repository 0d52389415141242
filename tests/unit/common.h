/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What every unit suite includes: the shared test support (tests/support/mctest.h: Criterion,
 * the library internals, mc_test_fini()). The watchdog comes with linking tests/support.
 */

#include "mctest.h"
