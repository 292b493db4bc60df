/* SPDX-License-Identifier: Apache-2.0 */
/* Timing, statistics, matrix filling and the interleaved accel-vs-direct loop shared by the
 * sgemm benchmark programs of bench/gpu. */
#ifndef FUNK_BENCH_GPU_UTIL_H
#define FUNK_BENCH_GPU_UTIL_H

#include <funk/accel.h>

#include <math.h>
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
    /* At least 20 samples: fewer make the median and p99 of the two sides incomparable. */
    *iters = argc > 2 ? atoi(argv[2]) : 20;
    if (*iters < 20) {
        fprintf(stderr, "%s: ITERS must be >= 20\n", argv[0]);
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

/* The plugin funk_accel_sgemm dispatches to under FUNK_ACCEL_PLUGINS, and a session on it.
 * 77: none is available (a silent fallback to another plugin would measure the wrong thing). */
static inline int bench_accel_open(funk_accel_session **s, char name[32])
{
    const char *plugins = getenv("FUNK_ACCEL_PLUGINS");
    if (plugins == NULL || *plugins == '\0') {
        fprintf(stderr, "bench: set FUNK_ACCEL_PLUGINS to the plugin to compare with\n");
        return 2;
    }
    int rc = funk_accel_init(NULL);
    if (rc < 0) {
        fprintf(stderr, "bench: init (%s): %s\n", plugins, funk_accel_strerror(rc));
        return 1;
    }
    funk_accel_plugin_info info[16];
    int np = funk_accel_plugins(info, 16), best = -1;
    for (int i = 0; i < np && i < 16; i++)
        if (info[i].available && (info[i].ops & (1u << FUNK_ACCEL_OP_SGEMM)) &&
            (best < 0 || info[i].priority > info[best].priority))
            best = i;
    if (best < 0) {
        fprintf(stderr, "bench: no available plugin implements sgemm (%s)\n", plugins);
        return 77;
    }
    fprintf(stderr, "bench: accel side dispatches to %s: %s\n", info[best].name,
            info[best].description);
    snprintf(name, 32, "%s", info[best].name);
    return funk_accel_session_new(s) < 0 ? 1 : 0;
}

/* One direct sgemm C = A*B (n x n x n, row-major); 0 or -1 (it printed why). */
typedef int (*bench_direct_fn)(void *ctx, int n, const float *a, const float *b, float *c);

/*
 * Both sides in one process, interleaved: each round runs accel then direct, the next round
 * direct then accel, so both see the same machine state. Two untimed warm-up rounds first, then
 * the two results are compared (same work, or the ratio means nothing). Any failed call ends
 * the run: a failed call is not a fast one. Prints the two RESULT lines; 0, or 1 on failure.
 */
static inline int bench_pair(funk_accel_session *s, const char *accel_name, const char *direct_name,
                             bench_direct_fn direct, void *ctx, int n, int iters)
{
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float));
    float *ca = malloc(nn * sizeof(float)), *cd = malloc(nn * sizeof(float));
    double *ta = calloc((size_t)iters, sizeof(double)), *td = calloc((size_t)iters, sizeof(double));
    int rc = 1;
    if (!a || !b || !ca || !cd || !ta || !td) {
        fprintf(stderr, "bench: out of memory\n");
        goto out;
    }
    bench_fill(a, nn, 1);
    bench_fill(b, nn, 2);
    for (int i = -2; i < iters; i++) {
        for (int side = 0; side < 2; side++) {
            int accel_now = (side == 0) == ((i & 1) == 0);
            double t0 = bench_now_ms();
            int r = accel_now ? funk_accel_sgemm(s, n, n, n, 1.0f, a, n, b, n, 0.0f, ca, n)
                              : direct(ctx, n, a, b, cd);
            double t = bench_now_ms() - t0;
            if (r < 0) {
                if (accel_now)
                    fprintf(stderr, "bench: funk_accel_sgemm: %s\n", funk_accel_strerror(r));
                goto out;
            }
            if (i >= 0)
                (accel_now ? ta : td)[i] = t;
        }
        if (i == -1) { /* after the warm-up: the two sides must have computed the same C */
            double worst = 0, scale = 0;
            for (size_t j = 0; j < nn; j++) {
                double d = fabs((double)ca[j] - cd[j]);
                worst = d > worst ? d : worst;
                scale = fabs(cd[j]) > scale ? fabs(cd[j]) : scale;
            }
            if (!(worst <= 1e-2 * (scale > 1 ? scale : 1))) {
                fprintf(stderr, "bench: accel and direct results differ (max |diff| %g)\n", worst);
                goto out;
            }
        }
    }
    char what[64];
    snprintf(what, sizeof(what), "accel-%s", accel_name);
    bench_report(what, n, ta, iters);
    bench_report(direct_name, n, td, iters);
    rc = 0;
out:
    free(a), free(b), free(ca), free(cd), free(ta), free(td);
    return rc;
}

#endif /* FUNK_BENCH_GPU_UTIL_H */
