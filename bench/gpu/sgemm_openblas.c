/* SPDX-License-Identifier: Apache-2.0 */
/* Baseline: the same sgemm as the cpu plugin does, calling OpenBLAS's cblas_sgemm directly. */
#include <cblas.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int n, iters;
    if (bench_args(argc, argv, &n, &iters) < 0)
        return 2;
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float));
    float *c = malloc(nn * sizeof(float));
    double *ms = calloc((size_t)iters, sizeof(double));
    if (!a || !b || !c || !ms)
        return 1;
    bench_fill(a, nn, 1);
    bench_fill(b, nn, 2);
    for (int i = -2; i < iters; i++) {
        double t0 = bench_now_ms();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        if (i >= 0)
            ms[i] = bench_now_ms() - t0;
    }
    bench_report("direct-openblas", n, ms, iters);
    free(a), free(b), free(c), free(ms);
    return 0;
}
