/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The shm suite's fixture and helpers (shm-suite.c), shared by its files test-shm-*.c, which make
 * one binary, test-shm (meson test "shm"). Every test starts with a fresh context, ctx, which
 * the suite's teardown frees; every name is unique to the test process and is unlinked by the
 * teardown, also when an assertion ends the test early.
 * Each helper's comment is at its definition.
 */

#include "common.h"
#include "failing.h"
#include "proc.h"
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#define MAX_RECORDS 16

typedef struct records {
        int n;
        char operation[MAX_RECORDS][32];
        mc_error_kind kind[MAX_RECORDS];
        char json[MAX_RECORDS][1024];
} records;

extern mc_ctx *ctx;

extern char tracked[8][MC_SHARED_NAME_MAX + 2];
extern int n_tracked;

void shm_fini(void);

void track(const char *name);

const char *name_new(const char *what);

mc_ctx *ctx_new(void);

mc_ctx *ctx_with_policy(mc_policy *policy);

void use_policy(mc_policy *policy);

mc_policy *policy_new(void);

mc_shared_request create_request(const char *name, size_t size);

int try_create(mc_ctx *c, const char *name, size_t size, mc_shared *ret, mc_error *err);

void create_named(mc_ctx *c, const char *name, size_t size, mc_shared *ret);

int open_anon(mc_ctx *c, size_t size, unsigned prot, unsigned seals, mc_shared *ret, mc_error *err);

void create_anon(mc_ctx *c, size_t size, unsigned prot, unsigned seals, mc_shared *ret);

int open_named(mc_ctx *c, const char *name, size_t size, unsigned prot, mc_shared *ret,
               mc_error *err);

void open_named_ok(mc_ctx *c, const char *name, size_t size, unsigned prot, mc_shared *ret);

void close_ok(mc_ctx *c, mc_shared *s);

void plant(const char *name, mode_t mode, size_t size);

/* Room for the path of any object name under /dev/shm. */
#define SHM_PATH_MAX (MC_SHARED_NAME_MAX + 16)

void shm_path(char path[SHM_PATH_MAX], const char *name);

bool shm_exists(const char *name);

struct stat shm_stat(const char *name);

void assert_usage(mc_ctx *c, uint64_t bytes, uint64_t mappings, uint64_t shared);

void assert_err(int r, const mc_error *err, int errnum, mc_error_kind kind);

void assert_kind(int r, const mc_error *err, mc_error_kind kind);

void assert_left_nothing(mc_ctx *c, int fds);

void assert_fd_size(int fd, size_t size);

size_t page(void);

unsigned long long start_time(void);

int fail_fsetxattr(int fd, const char *n, const void *v, size_t size, int flags);

ssize_t fail_fgetxattr(int fd, const char *n, void *v, size_t size);

void allow_shm_pattern(const char *pattern);

void *open_close_loop(void *arg);

void record_cb(const mc_audit_record *rec, void *userdata);

const char *record_of(const records *rec, const char *op, int nth);

bool has_owner(const char *json, bool local, pid_t pid);

void check_failure(mc_ctx *c, const mc_shared_request *req, bool buffer, int errnum,
                   mc_error_kind kind);

void check_planted(const char *name, unsigned prot);
