/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The memcapd protocol codec and the shared base64 module under test (test-protocol-*.c, one
 * binary, meson test "protocol"): the helpers the files share, in protocol-suite.c. Every line
 * is parsed from an exact-size heap copy, so AddressSanitizer catches a read past its end.
 * Each helper's comment is at its definition.
 */

#include "common.h"
#include <jansson.h>
#include "base64.h"
#include "protocol.h"

#define parse_fast_ok(line) parse_ok_by((line), true)

#define parse_slow_ok(line) parse_ok_by((line), false)

#define PICK(v) rnd_pick((v), ELEMENTSOF(v))

/* A line being generated; a fault is one choice made wrong, at 1 in @fault_rate (0: never). */

typedef struct gen {
        char buf[4096];
        size_t len;
        size_t fault_rate;
        bool base64; /* the data is base64 text */
} gen;

#define MIB (1024 * 1024)

extern uint64_t rnd_state;
extern int allocs_left;

int parse_n(const char *line, size_t n, mcd_request *ret, mc_error *err);

void request_eq(const mcd_request *a, const mcd_request *b, const char *line, size_t n);

int parse_all(const char *line, size_t n, mcd_request *ret, mc_error *ret_err, bool *ret_fast);

mcd_request parse_ok(const char *line);

mc_error parse_fails_n(const char *line, size_t n);

void parse_fails(const char *line, const char *message);

void parse_fails_with(const char *line, const char *part);

void buf_is(const mcd_buf *b, const char *expected);

json_t *reply_json(const mcd_buf *b);

void base64_fails(const char *b64, const char *message);

void deep(const char *open, const char *close, size_t depth);

mcd_request parse_ok_by(const char *line, bool want_fast);

uint64_t rnd(void);

size_t rnd_below(size_t n);

const char *rnd_pick(const char *const *v, size_t n);

bool fault(const gen *g);

void put_n(gen *g, const char *s, size_t n);

void put(gen *g, const char *s);

void put_ws(gen *g);

void put_number(gen *g, uint64_t min, uint64_t max);

void put_data(gen *g);

void put_value(gen *g, const char *key);

void gen_request(gen *g);

void mutate(gen *t);

unsigned char *pattern(size_t n);

void *failing_malloc(size_t n);

void ref_encode(const unsigned char *p, size_t n, char *out);
