/* SPDX-License-Identifier: Apache-2.0 */
/* sgemm through funk_accel_sgemm on whatever FUNK_ACCEL_PLUGINS loads (cpu, opencl, cuda). */
#include <funk/accel.h>

#include "bench_util.h"

int main(int argc, char **argv)
{
    int n, iters;
    if (bench_args(argc, argv, &n, &iters) < 0)
        return 2;
    funk_accel_session *s = NULL;
    char name[32];
    int rc = bench_accel_session(&s, name);
    if (rc != 0)
        return rc;
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float));
    float *c = malloc(nn * sizeof(float));
    double *ms = calloc((size_t)iters, sizeof(double));
    if (!a || !b || !c || !ms) {
        fprintf(stderr, "sgemm-accel: out of memory\n");
        return 1;
    }
    bench_fill(a, nn, 1);
    bench_fill(b, nn, 2);
    /* Warm-up: session buffers grow and any lazy kernel build happens here, not timed. */
    for (int w = 0; w < 2; w++)
        if ((rc = funk_accel_sgemm(s, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n)) < 0) {
            fprintf(stderr, "sgemm-accel: %s\n", funk_accel_strerror(rc));
            return 1;
        }
    for (int i = 0; i < iters; i++) {
        double t0 = bench_now_ms();
        rc = funk_accel_sgemm(s, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        ms[i] = bench_now_ms() - t0;
        if (rc < 0) {
            fprintf(stderr, "sgemm-accel: %s\n", funk_accel_strerror(rc));
            return 1;
        }
    }
    char what[64];
    snprintf(what, sizeof(what), "accel-%s", name);
    bench_report(what, n, ms, iters);
    funk_accel_session_delete(s);
    funk_accel_fini();
    free(a), free(b), free(c), free(ms);
    return 0;
}
