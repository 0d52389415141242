/* SPDX-License-Identifier: MIT */
#ifndef MEMCAP_BENCH_UTIL_REPORT_H
#define MEMCAP_BENCH_UTIL_REPORT_H

/*
 * What the benchmarks report the same way: the summary of per-round ratios, and the members of
 * the spaced JSON of bench-memory and bench-signal (`, "key": value`; bench-util.h's
 * bench_json_field_*() write the compact form). Header-only, like bench-util.h.
 */

#include "bench-util.h"

/* The median, least and greatest of @n per-round ratios: the three a result row reports. */
static inline void bench_ratio_range(const double *ratios, size_t n, double *ret_median,
                                     double *ret_min, double *ret_max) {
        *ret_median = bench_median(ratios, n);
        *ret_min = bench_min(ratios, n);
        *ret_max = bench_max(ratios, n);
}

/* , "@key": @v, as bench_json_number() writes it. */
static inline void bench_json_member_number(FILE *f, const char *key, double v) {
        fprintf(f, ", \"%s\": ", key);
        bench_json_number(f, v);
}

/* , "@key": [@n values of @v]. */
static inline void bench_json_member_rounds(FILE *f, const char *key, const double *v, unsigned n) {
        fprintf(f, ", \"%s\": ", key);
        bench_json_rounds(f, v, n);
}

/* , "@key": [0, 2]: the CPUs (below 64) of the bit mask @cpus. */
static inline void bench_json_member_cpus(FILE *f, const char *key, uint64_t cpus) {
        fprintf(f, ", \"%s\": [", key);
        for (int c = 0, first = 1; c < 64; c++)
                if (cpus & (UINT64_C(1) << c)) {
                        fprintf(f, "%s%d", first ? "" : ", ", c);
                        first = 0;
                }
        fputc(']', f);
}

/* , "ratio": .., "ratio_min": .., "ratio_max": .. */
static inline void bench_json_member_ratios(FILE *f, double ratio, double min, double max) {
        bench_json_member_number(f, "ratio", ratio);
        bench_json_member_number(f, "ratio_min", min);
        bench_json_member_number(f, "ratio_max", max);
}

/* ,"ratio":..,"ratio_min":..,"ratio_max":.. in compact JSON (bench_json_field_number()). */
static inline void bench_json_field_ratios(FILE *f, double ratio, double min, double max) {
        bench_json_field_number(f, "ratio", ratio);
        bench_json_field_number(f, "ratio_min", min);
        bench_json_field_number(f, "ratio_max", max);
}

#endif
