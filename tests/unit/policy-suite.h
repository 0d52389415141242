/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The policy suite's helpers (policy-suite.c), shared by its files test-policy-*.c, which make
 * one binary, test-policy (meson test "policy").
 * Each helper's comment is at its definition.
 */

#include "common.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#define GiB (UINT64_C(1) << 30)

#define MiB (UINT64_C(1) << 20)

#define _cleanup_policy_ _cleanup_(policy_freep)

#define LOAD_FAILS(json, message) load_fails((json), strlen(json), (message))

#define ADMITS(targets, target, classes)                                                           \
        cr_assert(eq(str, (char *) decide_target((targets), (target), (classes)), ""))

#define REFUSES(targets, target, classes, add)                                                     \
        do {                                                                                       \
                const char *m_ = decide_target((targets), (target), (classes));                    \
                cr_assert(strstr(m_, "allowed_signal_targets") != NULL, "allowed: %s", m_);        \
                cr_assert(strstr(m_, "add " add " to allowed_signal_targets") != NULL, "%s", m_);  \
        } while (0)

extern int open_flags_seen;

void policy_freep(mc_policy **p);

mc_policy *new_policy(void);

mc_policy *load(const char *json);

void load_fails(const char *json, size_t len, const char *message);

void policy_write_file(const char *path, const char *data, size_t len);

void assert_default(const mc_policy *p);

uint64_t size_of(const char *s);

int open_recording(const char *path, int flags, mode_t mode);

void assert_round_trip(const mc_policy *p);

int decide(const mc_policy *p, const mc__call *c, const mc_usage *u, mc_error *err);

void assert_denied(const mc_policy *p, const mc__call *c, const mc_usage *u, const char *rule);

void assert_denied_with(const mc_policy *p, const mc__call *c, const mc_usage *u,
                        const char *message);

void assert_denied_saying(const mc_policy *p, const mc__call *c, const mc_usage *u,
                          const char *part);

void assert_allowed(const mc_policy *p, const mc__call *c, const mc_usage *u);

mc__client_call client_of(unsigned caps);

const char *decide_target(unsigned targets, pid_t target, unsigned classes);
