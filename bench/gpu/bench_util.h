/* SPDX-License-Identifier: Apache-2.0 */
/* Timing, statistics and matrix filling shared by the sgemm benchmark programs of bench/gpu. */
#ifndef FUNK_BENCH_GPU_UTIL_H
#define FUNK_BENCH_GPU_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Deterministic values in [-1, 1): fast enough for 8192^2 matrices. */
static inline void bench_fill(float *p, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
}

/* Parses "N [ITERS]" for a square sgemm; ITERS defaults by size so a run stays short. */
static inline int bench_args(int argc, char **argv, int *n, int *iters)
{
    if (argc < 2 || (*n = atoi(argv[1])) <= 0 || *n > 65536) {
        fprintf(stderr, "usage: %s N [ITERS]   (square sgemm N x N x N)\n", argv[0]);
        return -1;
    }
    *iters = argc > 2 ? atoi(argv[2]) : (*n <= 1024 ? 20 : *n <= 2048 ? 10 : 5);
    if (*iters <= 0) {
        fprintf(stderr, "%s: ITERS must be > 0\n", argv[0]);
        return -1;
    }
    return 0;
}

/* One result line, parsed by run.sh: what, size, N, min/median/p99 in ms, GFLOP/s at median. */
static inline void bench_report(const char *what, int n, double *ms, int iters)
{
    qsort(ms, (size_t)iters, sizeof(double), bench_cmp_double);
    int p99 = (int)((iters - 1) * 0.99 + 0.5);
    double med = iters % 2 ? ms[iters / 2] : (ms[iters / 2 - 1] + ms[iters / 2]) / 2;
    double gflops = 2.0 * n * (double)n * n / (med * 1e6);
    printf("RESULT %s n=%d iters=%d min=%.3f median=%.3f p99=%.3f gflops=%.1f\n", what, n, iters,
           ms[0], med, ms[p99], gflops);
}

#endif /* FUNK_BENCH_GPU_UTIL_H */
